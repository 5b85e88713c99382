//! The checks `serve` runs before it creates anything, and the only checks
//! `check-config` runs: one list, so that a config `check-config` calls
//! "ok" is one `serve` starts with, and `serve` never makes keys or a
//! database for a config it then refuses.
//!
//! Every problem is collected (not only the first), each naming what is
//! wrong in the operator's words; `locate` finds the line of the file it is
//! about where the message names a client, a target or a section.

use crate::config::Config;
use crate::oauth::client::{ClientSettings, hash_secret, parse_secret_hash};

/// Shortest client secret accepted from the environment.
pub const MIN_SECRET_LEN: usize = 32;

/// A configured client's secret hash (hex): from `secret_hash`, or the SHA-256 of
/// the secret in `secret_env`; `None` for a public client.
pub fn client_secret_hash(
    c: &crate::config::ClientConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    match (&c.secret_hash, &c.secret_env) {
        (Some(h), _) => parse_secret_hash(h).map(Some).ok_or_else(|| {
            format!(
                "client {:?}: secret_hash must be sha256:<64 hex digits>",
                c.id
            )
        }),
        (None, Some(var)) => {
            let v = env(var).ok_or_else(|| {
                format!(
                    "client {:?}: environment variable {var} (secret_env) is not set",
                    c.id
                )
            })?;
            if v.len() < MIN_SECRET_LEN {
                return Err(format!(
                    "client {:?}: the secret in {var} is shorter than {MIN_SECRET_LEN} characters",
                    c.id
                ));
            }
            Ok(Some(hash_secret(&v)))
        }
        (None, None) => Ok(None),
    }
}

/// Every problem that would stop `serve` with this config and environment,
/// found without touching the database or writing a file.
pub fn problems(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = config.problems();
    let url = &config.database.url;
    if !["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        out.push(format!(
            "database.url {:?}: expected sqlite://PATH or postgres://…",
            crate::cli::redact_url(url)
        ));
    }
    if !config.demo {
        let key = match env("TOLLGATE_MASTER_KEY") {
            Some(v) => crate::master_key::MasterKey::from_material(v.as_bytes(), "TOLLGATE_MASTER_KEY")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            None => match &config.keys.master_key_file {
                Some(p) => crate::master_key::MasterKey::from_file(p)
                    .map(|_| ())
                    .map_err(|e| format!("keys.master_key_file: {e}")),
                None => Err("no master key: set keys.master_key_file or TOLLGATE_MASTER_KEY (32 bytes, base64); generate one with `head -c32 /dev/urandom | base64`".into()),
            },
        };
        if let Err(e) = key {
            out.push(e);
        }
    }
    if let Err(mut p) = crate::i18n::branding::Branding::load(&config.branding) {
        out.append(&mut p);
    }
    if let Err(e) = crate::login::password_policy::PasswordPolicy::load(&config.passwords) {
        out.push(format!("[passwords]: {e}"));
    }
    if let Err(e) = crate::login::attestation::AttestationPolicy::load(&config.authenticators) {
        out.push(format!("[authenticators]: {e}"));
    }
    let alg = crate::keys::Alg::parse(&config.keys.default_alg).unwrap_or(crate::keys::Alg::ES256);
    for c in &config.clients {
        match client_secret_hash(c, env) {
            Ok(hash) => {
                if let Err(e) = ClientSettings::from_config(c, alg, hash.is_some()) {
                    out.push(e);
                }
            }
            Err(e) => out.push(e),
        }
    }
    if let Err(e) = crate::decision::velocity::Velocity::from_config(&config.state, env) {
        out.push(e);
    }
    if config.agent.require_attestation && config.agent.tpm_ca_files.is_empty() {
        out.push(
            "agent.require_attestation: no tpm_ca_files are configured, so no device could enroll"
                .into(),
        );
    }
    if let Err(e) = crate::agent::attest::TpmTrust::load(&config.agent.tpm_ca_files) {
        out.push(format!("[agent] tpm_ca_files: {e}"));
    }
    if let Some(var) = &config.metrics.token_env
        && env(var).filter(|t| !t.is_empty()).is_none()
    {
        out.push(format!(
            "[metrics] token_env: environment variable {var} is not set"
        ));
    }
    if let Err(e) = crate::decision::DecisionPoint::load(&config.policy) {
        // A policy set's problems come one per line (`file:line:col: …`):
        // each is a problem of its own, counted and printed as one.
        out.extend(e.lines().map(|l| format!("[policy]: {l}")));
    }
    out.extend(ca_file_problems(config));
    for t in &config.scim.targets {
        if let Err(e) = crate::scim::target(t, env) {
            out.extend(e);
        }
    }
    if let Err(e) = crate::directory::Directories::from_config(&config.directories, env) {
        out.extend(e);
    }
    out
}

/// The `ca_file`s of the security-event channels that cannot be read
/// (SCIM targets and directories check theirs when they are built).
fn ca_file_problems(config: &Config) -> Vec<String> {
    let receivers = config.ssf.receivers.iter().filter_map(|r| {
        Some((
            format!("ssf receiver {:?}: ca_file", r.name),
            r.ca_file.as_ref()?,
        ))
    });
    let clients = config.clients.iter().filter_map(|c| {
        Some((
            format!("client {:?}: backchannel_logout_ca_file", c.id),
            c.backchannel_logout_ca_file.as_ref()?,
        ))
    });
    receivers
        .chain(clients)
        .filter_map(|(what, path)| {
            crate::tls::read_ca_file(path)
                .err()
                .map(|e| format!("{what}: {e}"))
        })
        .collect()
}

/// The 1-based line and column in `text` that `problem` is about, when its
/// message names something the file declares: `client "x"` (its `id`),
/// `scim target "x"` (its `name`), `directory "x": key` (the key inside
/// that `[[directories]]` entry, else its `name`), or a `section.key` /
/// `[section]`.
pub fn locate(text: &str, problem: &str) -> Option<(usize, usize)> {
    let quoted = |after: &str| {
        let rest = problem.split(after).nth(1)?;
        let rest = rest.strip_prefix('"')?;
        Some(rest.split('"').next()?.to_owned())
    };
    for (prefix, header, name_key) in [
        ("directory ", "[[directories]]", "name"),
        ("scim target ", "[[scim.targets]]", "name"),
        ("ssf receiver ", "[[ssf.receivers]]", "name"),
        ("client ", "[[clients]]", "id"),
    ] {
        if let Some(name) = problem.strip_prefix(prefix).and_then(|_| quoted(prefix)) {
            return locate_in_entry(text, header, &format!("{name_key} = \"{name}\""), problem);
        }
    }
    let needle = if let Some(id) = quoted("client ") {
        format!("id = \"{id}\"")
    } else {
        let word = problem
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .trim_matches(['[', ']']);
        let (section, key) = word.split_once('.').unwrap_or((word, ""));
        if section.is_empty() || !section.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return None;
        }
        let header = format!("[{section}]");
        let Some(start) = text.find(&header) else {
            // A top-level key (`issuer`, `version`): its own line.
            return key
                .is_empty()
                .then(|| top_level_key(text, section))
                .flatten();
        };
        if !key.is_empty()
            && let Some(i) = text[start..].find(&format!("{key} ="))
        {
            return Some(crate::config::line_col(text, start + i));
        }
        return Some(crate::config::line_col(text, start));
    };
    text.find(&needle).map(|i| crate::config::line_col(text, i))
}

/// Where `key = …` is written before the first table header.
fn top_level_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            return None;
        }
        if t.strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('='))
        {
            return Some(crate::config::line_col(
                text,
                offset + (line.len() - t.len()),
            ));
        }
        offset += line.len();
    }
    None
}

/// The line of a problem with an array-of-tables entry (`[[header]]`):
/// the key it names (the first word after `… "NAME": `, `attributes.x` as
/// `x`) inside the entry that declares `name_line`, else that line.
fn locate_in_entry(
    text: &str,
    header: &str,
    name_line: &str,
    problem: &str,
) -> Option<(usize, usize)> {
    let at = text.find(name_line)?;
    let block_start = text[..at].rfind(header).unwrap_or(0);
    let block_end = text[at..].find("\n[[").map_or(text.len(), |i| at + i);
    let key = problem
        .split_once("\": ")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split([' ', ':']).next())
        .map(|k| k.rsplit('.').next().unwrap_or(k))
        .unwrap_or("");
    let block = &text[block_start..block_end];
    let found = (!key.is_empty())
        .then(|| {
            block
                .lines()
                .scan(0usize, |off, line| {
                    let here = *off;
                    *off += line.len() + 1;
                    Some((here, line))
                })
                .find(|(_, line)| {
                    let t = line.trim_start();
                    t.strip_prefix(key)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map(|(off, line)| block_start + off + (line.len() - line.trim_start().len()))
        })
        .flatten();
    Some(crate::config::line_col(text, found.unwrap_or(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "version = 1\nissuer = \"https://id.example\"\n\n[database]\nurl = \"mysql://db/x\"\n\n[keys]\nmaster_key_file = \"/nonexistent/master.key\"\n\n[[clients]]\nid = \"gw\"\nsecret_env = \"GW_SECRET\"\ngrant_types = [\"client_credentials\"]\n\n[[clients]]\nid = \"short\"\nsecret_env = \"SHORT_SECRET\"\ngrant_types = [\"client_credentials\"]\n";

    #[test]
    fn every_problem_is_reported_at_its_line() {
        let cfg = Config::parse(FILE, "t.toml").unwrap();
        let env = |k: &str| (k == "SHORT_SECRET").then(|| "too-short".to_owned());
        let found = problems(&cfg, &env);
        let located: Vec<(Option<(usize, usize)>, &str)> = found
            .iter()
            .map(|p| (locate(FILE, p), p.as_str()))
            .collect();
        for (line, words) in [
            (5, "mysql://db/x"),
            (8, "/nonexistent/master.key"),
            (11, "GW_SECRET (secret_env) is not set"),
            (16, "shorter than 32 characters"),
        ] {
            assert!(
                located
                    .iter()
                    .any(|(at, p)| at.map(|a| a.0) == Some(line) && p.contains(words)),
                "line {line} {words:?} in {located:?}"
            );
        }
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn directory_problems_name_their_line() {
        let text = "version = 1\nissuer = \"https://id.example\"\n\n[[directories]]\nname = \"corp\"\nurl = \"ldap://dc1.corp.example\"\nbind_dn = \"cn=svc\"\nbind_password_env = \"CORP_PW\"\npreset = \"active_directory\"\nuser_base = \"dc=corp\"\n\n[[directories]]\nname = \"lab\"\nurl = \"ldaps://lab\"\nbind_dn = \"cn=svc\"\nbind_password_env = \"LAB_PW\"\npreset = \"openldap\"\nuser_base = \"dc=lab\"\nuser_filter = \"(uid=\"\nstart_tls = true\ngroup_prefix = \"lab admins\"\n";
        let cfg = Config::parse(text, "t.toml").unwrap();
        let env = |k: &str| match k {
            "TOLLGATE_MASTER_KEY" => {
                Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned())
            }
            "CORP_PW" => Some("pw".to_owned()),
            _ => None,
        };
        let found = problems(&cfg, &env);
        let located: Vec<(Option<(usize, usize)>, &str)> = found
            .iter()
            .map(|p| (locate(text, p), p.as_str()))
            .collect();
        for (line, words) in [
            (6, "url \"ldap://dc1.corp.example\": plain ldap://"),
            (16, "LAB_PW is not set"),
            (19, "user_filter \"(uid=\": not an LDAP filter"),
            // StartTLS on an ldaps:// URL: at the start_tls line, not the url's.
            (20, "start_tls = true: for ldap:// URLs only"),
            (21, "group_prefix \"lab admins\": use 1-32 letters"),
        ] {
            assert!(
                located
                    .iter()
                    .any(|(at, p)| *at == Some((line, 1)) && p.contains(words)),
                "line {line} {words:?} in {located:?}"
            );
        }
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn every_bad_ca_file_is_reported_at_its_line() {
        let dir = std::env::temp_dir().join(format!("tg-pf-{}", crate::secret::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(&bad, "not a certificate\n").unwrap();
        let bad = bad.display().to_string();
        let text = format!(
            "version = 1\nissuer = \"https://id.example\"\n\n\
             [[scim.targets]]\nname = \"vc\"\nbase_url = \"https://vc.example/scim/v2\"\n\
             token_env = \"VC_TOKEN\"\nca_file = \"/nonexistent/vmca.pem\"\n\n\
             [[ssf.receivers]]\nname = \"siem\"\nendpoint = \"https://siem.example/ssf\"\n\
             ca_file = {bad:?}\n\n\
             [[clients]]\nid = \"app\"\nredirect_uris = [\"https://app.example/cb\"]\n\
             token_endpoint_auth_method = \"none\"\n\
             backchannel_logout_uri = \"https://app.example/logout\"\n\
             backchannel_logout_ca_file = \"/nonexistent/app-ca.pem\"\n"
        );
        let cfg = Config::parse(&text, "t.toml").unwrap();
        let env = |k: &str| match k {
            "TOLLGATE_MASTER_KEY" => {
                Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned())
            }
            "VC_TOKEN" => Some("tok".to_owned()),
            _ => None,
        };
        let found = problems(&cfg, &env);
        let _ = std::fs::remove_dir_all(&dir);
        let located: Vec<(Option<(usize, usize)>, &str)> = found
            .iter()
            .map(|p| (locate(&text, p), p.as_str()))
            .collect();
        for (line, words) in [
            (8, "scim target \"vc\": ca_file: /nonexistent/vmca.pem: "),
            (13, "ssf receiver \"siem\": ca_file: "),
            (
                20,
                "client \"app\": backchannel_logout_ca_file: /nonexistent/app-ca.pem",
            ),
        ] {
            assert!(
                located
                    .iter()
                    .any(|(at, p)| *at == Some((line, 1)) && p.contains(words)),
                "line {line} {words:?} in {located:?}"
            );
        }
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("ssf receiver") && p.ends_with("no PEM certificate in it")),
            "{found:?}"
        );
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn a_good_config_has_no_problems() {
        let text = "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"sqlite:///tmp/x.db\"\n";
        let cfg = Config::parse(text, "t.toml").unwrap();
        let env = |k: &str| {
            (k == "TOLLGATE_MASTER_KEY")
                .then(|| "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned())
        };
        assert_eq!(problems(&cfg, &env), Vec::<String>::new());
        let none = |_: &str| None;
        assert_eq!(problems(&cfg, &none).len(), 1, "no master key anywhere");
    }

    #[test]
    fn required_attestation_needs_a_manufacturer_ca() {
        let text = "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"sqlite:///tmp/x.db\"\n[agent]\nrequire_attestation = true\n";
        let cfg = Config::parse(text, "t.toml").unwrap();
        let env = |k: &str| {
            (k == "TOLLGATE_MASTER_KEY")
                .then(|| "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned())
        };
        let found = problems(&cfg, &env);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("no tpm_ca_files"), "{found:?}");
        assert_eq!(locate(text, &found[0]).map(|a| a.0), Some(6), "{found:?}");
    }
}
