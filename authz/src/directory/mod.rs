//! LDAP and Active Directory as user sources (`[[directories]]`).
//!
//! - [`config`] — the `[[directories]]` entry and its checks.
//! - [`mapping`] — LDAP entry → user record, presets `active_directory` and
//!   `openldap` (pure, table-tested).
//! - [`ldap`] — the wire: connect (ldaps, StartTLS, or plain when allowed),
//!   service bind, paged searches, the password bind as the user.
//! - [`groups`] — which directory owns a group name, and the group
//!   changes of a sync (pure, table-tested).
//! - [`sync`] — compare a listing with the accounts a directory owns and
//!   apply the difference (`plan` is pure); the scheduled worker; the
//!   just-in-time update at sign-in.
//!
//! A directory owns only the users it created (`directory_accounts`):
//! local users are never touched, so a break-glass administrator stays
//! possible. A user removed or disabled in the directory is disabled here
//! (sessions ended, grants revoked, SCIM deactivation queued), never
//! deleted. A directory that cannot answer makes sign-in *unavailable*;
//! it is never read as a wrong password or as users that went away.

pub mod config;
pub mod groups;
pub mod ldap;
pub mod mapping;
pub mod sync;

use crate::secret::Secret;
use config::DirectoryConfig;
use mapping::Mapping;
use std::sync::Arc;

/// The directory could not answer: down, TLS refused, timed out, the
/// service account refused, or an incomplete answer. Never a verdict
/// about the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("directory {directory:?} unavailable: {reason}")]
pub struct Unavailable {
    pub directory: String,
    pub reason: String,
}

/// A configured directory, ready to connect.
#[derive(Clone)]
pub struct Directory {
    pub config: DirectoryConfig,
    pub mapping: Mapping,
    /// The service account's password, read from `bind_password_env` at
    /// start; never stored or printed.
    bind_password: Secret,
    /// rustls client config: the system roots plus `ca_file`.
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("name", &self.config.name)
            .field("url", &self.config.url)
            .field("bind_password", &self.bind_password)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// The entry, its password from `env` and its TLS roots; every problem
    /// named `directory "NAME": …` (see `preflight`).
    pub fn from_config(
        c: &DirectoryConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Directory, Vec<String>> {
        let mut problems = c.problems();
        let name = &c.name;
        let password = env(&c.bind_password_env).filter(|v| !v.is_empty());
        if password.is_none() && !c.bind_password_env.is_empty() {
            problems.push(format!(
                "directory {name:?}: bind_password_env: environment variable {} is not set",
                c.bind_password_env
            ));
        }
        let tls = crate::tls::rustls_config(c.ca_file.as_deref())
            .map_err(|e| format!("directory {name:?}: ca_file: {e}"));
        match (password, tls) {
            (Some(p), Ok(tls)) if problems.is_empty() => Ok(Directory {
                mapping: Mapping::of(c),
                config: c.clone(),
                bind_password: Secret::new(p),
                tls,
            }),
            (_, tls) => {
                problems.extend(tls.err());
                Err(problems)
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn unavailable(&self, reason: impl std::fmt::Display) -> Unavailable {
        Unavailable {
            directory: self.config.name.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Every configured directory, in config order (a login no local user
/// has is looked up in each, first match wins). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Directories(Arc<[Directory]>);

impl Directories {
    /// All `[[directories]]` with their passwords from `env`; every
    /// problem of every entry, or none.
    pub fn from_config(
        dirs: &[DirectoryConfig],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Directories, Vec<String>> {
        let mut problems = config::duplicate_names(dirs);
        let mut out = Vec::with_capacity(dirs.len());
        for d in dirs {
            match Directory::from_config(d, env) {
                Ok(d) => out.push(d),
                Err(p) => problems.extend(p),
            }
        }
        if problems.is_empty() {
            Ok(Directories(out.into()))
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Directory> {
        self.0.iter().find(|d| d.config.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Directory> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, extra: &str) -> DirectoryConfig {
        toml::from_str(&format!(
            "name = \"{name}\"\nurl = \"ldaps://dc1.corp.example\"\nbind_dn = \"cn=svc\"\n\
             bind_password_env = \"CORP_PW\"\npreset = \"active_directory\"\nuser_base = \"dc=corp\"\n{extra}"
        ))
        .expect("config")
    }

    #[test]
    fn passwords_come_from_the_environment_and_never_print() {
        let env = |k: &str| (k == "CORP_PW").then(|| "s3cret-bind".to_owned());
        let dirs = Directories::from_config(&[entry("corp", "")], &env).unwrap();
        let printed = format!("{:?}", dirs);
        assert!(!printed.contains("s3cret-bind") && printed.contains("[redacted]"));
        let err = Directories::from_config(&[entry("corp", "")], &|_| None).unwrap_err();
        assert_eq!(
            err,
            vec!["directory \"corp\": bind_password_env: environment variable CORP_PW is not set"]
        );
    }

    #[test]
    fn every_problem_of_every_entry_is_reported() {
        let dir = std::env::temp_dir().join(format!("tg-dir-{}", crate::secret::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Directories::from_config(
            &[
                entry("corp", "timeout = 0"),
                entry(
                    "corp",
                    &format!("ca_file = {:?}", empty.display().to_string()),
                ),
                entry("lab", "ca_file = \"/nonexistent/ca.pem\""),
            ],
            &|_| Some("pw".into()),
        )
        .unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let want = [
            "directory \"corp\": name is declared twice",
            "directory \"corp\": timeout = 0",
            "directory \"corp\": ca_file: ",
            "directory \"lab\": ca_file: /nonexistent/ca.pem",
        ];
        assert_eq!(err.len(), want.len(), "{err:?}");
        for (e, w) in err.iter().zip(want) {
            assert!(e.starts_with(w), "{e} / {w}");
        }
    }
}
