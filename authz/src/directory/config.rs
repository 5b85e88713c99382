//! `[[directories]]`: an LDAP server or Active Directory that users come
//! from. Parsed with the rest of `tollgate.toml` (unknown keys rejected at
//! their line); the semantic checks are [`DirectoryConfig::problems`],
//! which `preflight` runs so `check-config` reports every one of them.

use serde::Deserialize;
use std::path::PathBuf;

/// One `[[directories]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// A short name for the CLI, the audit log and the database
    /// (`[A-Za-z0-9_-]`). Users keep it: renaming a directory orphans them.
    pub name: String,
    /// `ldaps://host[:port]`, or `ldap://host[:port]` with `start_tls =
    /// true`. Plain `ldap://` without TLS only with `allow_plain = true`:
    /// every user's password crosses this connection.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub start_tls: bool,
    /// Allow `ldap://` without TLS (a lab, or loopback tests). Off by default.
    #[serde(default)]
    pub allow_plain: bool,
    /// A PEM bundle of CA certificates trusted for this directory, added to
    /// the system roots (an enterprise CA, AD Certificate Services).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The service account that searches the directory.
    pub bind_dn: String,
    /// Name of the environment variable holding the service account's
    /// password. The password is never stored or logged.
    pub bind_password_env: String,
    /// Attribute names and filters to start from: `active_directory` or
    /// `openldap`. Every field below overrides the preset.
    pub preset: Preset,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// Which entries under `user_base` are users; default from the preset.
    #[serde(default)]
    pub user_filter: Option<String>,
    /// Where groups are searched (subtree). Unset: a user's groups are the
    /// first RDN values of its `memberOf` DNs.
    #[serde(default)]
    pub group_base: Option<String>,
    /// Which entries under `group_base` are groups; default from the preset.
    #[serde(default)]
    pub group_filter: Option<String>,
    /// Put in front of every group name this directory provides
    /// (`"corp-"`: the directory's "vcenter-admins" is "corp-vcenter-admins"
    /// here), so two directories with groups of one name can both be used:
    /// a group name belongs to the directory that first provided it, and
    /// another directory's group of that name is skipped with a warning.
    #[serde(default)]
    pub group_prefix: Option<String>,
    /// Attribute names overriding the preset's.
    #[serde(default)]
    pub attributes: AttributeOverrides,
    /// Seconds between scheduled syncs; 0: only `tollgate directories sync`
    /// and sign-in update users.
    #[serde(default = "default_sync_interval")]
    pub sync_interval: u64,
    /// Seconds one connection or operation may take before the directory
    /// counts as unavailable.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

fn default_sync_interval() -> u64 {
    900
}

fn default_timeout() -> u64 {
    10
}

/// The directory's flavour: which attributes and filters it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// `sAMAccountName`, `userPrincipalName`, `memberOf`,
    /// `userAccountControl` (disabled bit 0x2), `objectGUID`.
    ActiveDirectory,
    /// `uid`, `mail`, `memberOf` / `groupOfNames`, `entryUUID`.
    Openldap,
}

/// `[directories.attributes]`: attribute names; unset ones come from the
/// preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeOverrides {
    /// The login name users type.
    pub login: Option<String>,
    /// The stable id (never reused, survives renames).
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// The user principal name (vCenter's `upn` claim).
    pub upn: Option<String>,
    /// The user's group DNs.
    pub member_of: Option<String>,
    /// An integer whose bit 0x2 means disabled (AD's `userAccountControl`).
    pub disabled_flag: Option<String>,
    /// An attribute whose presence means disabled (e.g.
    /// `pwdAccountLockedTime` of the ppolicy overlay).
    pub disabled_when_present: Option<String>,
    /// A group entry's name.
    pub group_name: Option<String>,
    /// A group entry's member DNs.
    pub group_member: Option<String>,
}

/// `[A-Za-z0-9_-]{1,64}`: names that go into the database and the CLI.
fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl DirectoryConfig {
    /// Every problem of this entry (not the environment, not files), each
    /// as `directory "NAME": key …` so `preflight::locate` finds its line.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = &self.name;
        let mut bad = |msg: String| out.push(format!("directory {name:?}: {msg}"));
        if !good_name(name) {
            bad("name: use 1-64 letters, digits, '-' or '_'".into());
        }
        match url::Url::parse(&self.url) {
            Ok(u)
                if matches!(u.scheme(), "ldap" | "ldaps")
                    && u.host().is_some()
                    && u.username().is_empty()
                    && u.password().is_none()
                    && matches!(u.path(), "" | "/")
                    && u.query().is_none() =>
            {
                match (u.scheme(), self.start_tls, self.allow_plain) {
                    ("ldaps", true, _) => bad(format!(
                        "start_tls = true: for ldap:// URLs only; {:?} is TLS already (drop start_tls, or use ldap:// with it)",
                        self.url
                    )),
                    ("ldap", false, false) => bad(format!(
                        "url {:?}: plain ldap:// sends every password in clear; use ldaps://, start_tls = true, or allow_plain = true",
                        self.url
                    )),
                    _ => {}
                }
            }
            _ => bad(format!(
                "url {:?}: expected ldaps://HOST[:PORT] or ldap://HOST[:PORT], without credentials, path or query",
                self.url
            )),
        }
        if self.ca_file.is_some() && self.url.starts_with("ldap://") && !self.start_tls {
            bad("ca_file: set, but the connection uses no TLS (ldap:// without start_tls)".into());
        }
        if self.bind_dn.trim().is_empty() {
            bad("bind_dn: the service account's DN is required".into());
        }
        if self.bind_password_env.is_empty() || self.bind_password_env.contains(['=', '\0']) {
            bad("bind_password_env: must name an environment variable".into());
        }
        if self.user_base.trim().is_empty() {
            bad("user_base: the DN users are searched under is required".into());
        }
        if matches!(&self.group_base, Some(b) if b.trim().is_empty()) {
            bad("group_base: empty; leave it out to take groups from memberOf".into());
        }
        if let Some(p) = &self.group_prefix
            && (p.is_empty()
                || p.len() > 32
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            bad(format!(
                "group_prefix {p:?}: use 1-32 letters, digits, '-', '_', '.' or ':'"
            ));
        }
        for (key, filter) in [
            ("user_filter", &self.user_filter),
            ("group_filter", &self.group_filter),
        ] {
            if let Some(f) = filter
                && ldap3::parse_filter(f).is_err()
            {
                bad(format!("{key} {f:?}: not an LDAP filter (RFC 4515)"));
            }
        }
        let a = &self.attributes;
        if a.disabled_flag.is_some() && a.disabled_when_present.is_some() {
            bad("attributes: give disabled_flag or disabled_when_present, not both".into());
        }
        for (key, v) in [
            ("login", &a.login),
            ("id", &a.id),
            ("display_name", &a.display_name),
            ("email", &a.email),
            ("upn", &a.upn),
            ("member_of", &a.member_of),
            ("disabled_flag", &a.disabled_flag),
            ("disabled_when_present", &a.disabled_when_present),
            ("group_name", &a.group_name),
            ("group_member", &a.group_member),
        ] {
            if let Some(v) = v
                && (v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                bad(format!(
                    "attributes.{key} {v:?}: an attribute name (letters, digits, '-')"
                ));
            }
        }
        if self.timeout == 0 || self.timeout > 300 {
            bad(format!("timeout = {}: use 1-300 seconds", self.timeout));
        }
        out
    }
}

/// Problems across entries: names declared twice.
pub fn duplicate_names(dirs: &[DirectoryConfig]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    dirs.iter()
        .filter(|d| !seen.insert(d.name.as_str()))
        .map(|d| format!("directory {:?}: name is declared twice", d.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> DirectoryConfig {
        let text = format!(
            "name = \"corp\"\nbind_dn = \"cn=svc,dc=corp\"\nbind_password_env = \"CORP_PW\"\n\
             preset = \"active_directory\"\nuser_base = \"dc=corp\"\n{extra}"
        );
        toml::from_str(&text).expect("parses")
    }

    fn check(extra: &str, want: &[&str]) {
        let got = parse(extra).problems();
        assert_eq!(got.len(), want.len(), "{extra}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                g.starts_with(&format!("directory \"corp\": {w}")),
                "{g} / {w}"
            );
        }
    }

    #[test]
    fn entries_are_checked_each_problem_named() {
        check("url = \"ldaps://dc1.corp.example\"", &[]);
        check("url = \"ldap://dc1.corp.example\"\nstart_tls = true", &[]);
        check("url = \"ldap://127.0.0.1:3890\"\nallow_plain = true", &[]);
        check(
            "url = \"ldap://dc1.corp.example\"",
            &["url \"ldap://dc1.corp.example\": plain"],
        );
        check(
            "url = \"ldaps://dc1.corp.example\"\nstart_tls = true",
            &[
                "start_tls = true: for ldap:// URLs only; \"ldaps://dc1.corp.example\" is TLS already",
            ],
        );
        check(
            "url = \"https://dc1.corp.example\"",
            &["url \"https://dc1.corp.example\": expected"],
        );
        check(
            "url = \"ldaps://u:p@dc1\"",
            &["url \"ldaps://u:p@dc1\": expected"],
        );
        check(
            "url = \"ldap://dc1\"\nallow_plain = true\nca_file = \"/x.pem\"",
            &["ca_file: set, but"],
        );
        check(
            "url = \"ldaps://dc1\"\nuser_filter = \"(objectClass=user\"",
            &["user_filter \"(objectClass=user\": not an LDAP filter"],
        );
        check(
            "url = \"ldaps://dc1\"\n[attributes]\ndisabled_flag = \"a\"\ndisabled_when_present = \"b\"",
            &["attributes: give disabled_flag"],
        );
        check(
            "url = \"ldaps://dc1\"\n[attributes]\nlogin = \"uid)(x=*\"",
            &["attributes.login \"uid)(x=*\""],
        );
        check("url = \"ldaps://dc1\"\ntimeout = 0", &["timeout = 0"]);
        check("url = \"ldaps://dc1\"\ngroup_prefix = \"corp-\"", &[]);
        check(
            "url = \"ldaps://dc1\"\ngroup_prefix = \"\"",
            &["group_prefix \"\": use 1-32 letters"],
        );
        check(
            "url = \"ldaps://dc1\"\ngroup_prefix = \"corp admins \"",
            &["group_prefix \"corp admins \": use 1-32 letters"],
        );
        check(
            "url = \"ldap://dc1\"\ngroup_base = \"\"\ntimeout = 0",
            &["url", "group_base: empty", "timeout = 0"],
        );
    }

    #[test]
    fn unknown_keys_and_presets_are_refused() {
        let base = "name = \"c\"\nurl = \"ldaps://d\"\nbind_dn = \"x\"\nbind_password_env = \"P\"\nuser_base = \"dc=x\"\n";
        let e =
            toml::from_str::<DirectoryConfig>(&format!("{base}preset = \"novell\"\n")).unwrap_err();
        assert!(e.to_string().contains("unknown variant `novell`"), "{e}");
        let e = toml::from_str::<DirectoryConfig>(&format!(
            "{base}preset = \"openldap\"\nbind_password = \"x\"\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("unknown field `bind_password`"),
            "{e}"
        );
    }

    #[test]
    fn names_are_unique() {
        let d = parse("url = \"ldaps://dc1\"");
        assert_eq!(
            duplicate_names(&[d.clone(), d]),
            vec!["directory \"corp\": name is declared twice"]
        );
    }
}
