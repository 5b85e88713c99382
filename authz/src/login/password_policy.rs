//! What a new password must be (NIST SP 800-63B-4 §3.1.1.2): long enough,
//! not on the list of breached or common passwords, not the account's own
//! name. Deliberately *no* composition rules and *no* periodic expiry (the
//! guideline forbids both: they make passwords weaker and predictable).
//!
//! One policy for every way a password is set: `users add`, `users import`,
//! `users set-password`, the reset link and the change on /account.

use std::collections::HashSet;
use std::path::Path;

/// The guideline's floor for a password that is the only factor is 15
/// characters; 8 only where it is always used with a second factor. The
/// configured minimum may not go below this.
pub const FLOOR: usize = 8;
/// Longest password accepted: long enough for any passphrase (the
/// guideline asks for at least 64), short enough that one request cannot
/// make argon2 hash megabytes.
pub const MAX_LENGTH: usize = 256;

/// Why a new password was refused; the text is shown to the person who
/// chose it, so it says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    #[error("the password must have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("this password is on the list of breached or common passwords; choose another")]
    Breached,
    #[error("the password must not contain the account's login name")]
    ContainsLogin,
}

/// The loaded `[passwords]` policy.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_length: usize,
    /// Lower-cased entries of the blocklist file: the comparison ignores
    /// case, so `Password123` is as refused as `password123`.
    blocked: HashSet<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            blocked: HashSet::new(),
        }
    }
}

impl PasswordPolicy {
    /// A policy from `[passwords]`; the blocklist is read once, here.
    pub fn load(cfg: &crate::config::PasswordsConfig) -> Result<PasswordPolicy, String> {
        if cfg.min_length < FLOOR || cfg.min_length > MAX_LENGTH {
            return Err(format!(
                "passwords.min_length = {}: expected {FLOOR} to {MAX_LENGTH} (NIST SP 800-63B-4: 15 when the password is the only factor)",
                cfg.min_length
            ));
        }
        let blocked = match &cfg.blocklist_file {
            Some(p) => read_blocklist(p)?,
            None => HashSet::new(),
        };
        Ok(PasswordPolicy {
            min_length: cfg.min_length,
            blocked,
        })
    }

    /// Entries on the blocklist (for the start-up log).
    pub fn blocklist_len(&self) -> usize {
        self.blocked.len()
    }

    /// Checks a new password for the account `login`.
    pub fn check(&self, password: &str, login: &str) -> Result<(), Refused> {
        let n = password.chars().count();
        if n < self.min_length {
            return Err(Refused::TooShort(self.min_length));
        }
        if n > MAX_LENGTH {
            return Err(Refused::TooLong);
        }
        let lower = password.to_lowercase();
        if self.blocked.contains(&lower) {
            return Err(Refused::Breached);
        }
        // A login of two or three letters would refuse half the
        // dictionary; from four on it is a context-specific word.
        let login = login.to_lowercase();
        let name = login.split('@').next().unwrap_or(&login);
        if name.chars().count() >= 4 && lower.contains(name) {
            return Err(Refused::ContainsLogin);
        }
        Ok(())
    }
}

/// One password per line; blank lines and lines starting with `#` are
/// skipped. Lists such as the SecLists "10-million-password-list" files or
/// a Have I Been Pwned export (plain passwords) fit.
fn read_blocklist(path: &Path) -> Result<HashSet<String>, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("passwords.blocklist_file {}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordsConfig;

    fn policy(min: usize, list: &str) -> PasswordPolicy {
        let dir = std::env::temp_dir().join(format!("tg-pwpolicy-{}", crate::secret::random_id(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("breached.txt");
        std::fs::write(&file, list).unwrap();
        let p = PasswordPolicy::load(&PasswordsConfig {
            min_length: min,
            blocklist_file: Some(file),
            ..PasswordsConfig::default()
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        p
    }

    #[test]
    fn each_rule_refuses_what_it_names_and_nothing_else() {
        let p = policy(
            15,
            "# common\ncorrect horse battery staple\r\n\nTr0ub4dor&3 is fine\n",
        );
        let long = "x".repeat(MAX_LENGTH + 1);
        let cases: &[(&str, &str, Result<(), Refused>)] = &[
            ("a long enough passphrase", "ann", Ok(())),
            // No composition rules: all lower case, no digit, is fine.
            ("lowercase words only here", "ann", Ok(())),
            ("short one", "ann", Err(Refused::TooShort(15))),
            // Characters, not bytes: 15 CJK characters are 45 bytes.
            ("密码密码密码密码密码密码密码密", "ann", Ok(())),
            (
                "密码密码密码密码密码密码密",
                "ann",
                Err(Refused::TooShort(15)),
            ),
            (&long, "ann", Err(Refused::TooLong)),
            (
                "correct horse battery staple",
                "ann",
                Err(Refused::Breached),
            ),
            (
                "Correct Horse Battery Staple",
                "ann",
                Err(Refused::Breached),
            ),
            ("tr0ub4dor&3 IS FINE", "ann", Err(Refused::Breached)),
            (
                "my name is alice.wong, ok?",
                "alice.wong",
                Err(Refused::ContainsLogin),
            ),
            (
                "my name is ALICE.WONG, ok?",
                "alice.wong@corp.example",
                Err(Refused::ContainsLogin),
            ),
            // Short logins are not words to forbid.
            ("the annual report for bob", "ann", Ok(())),
        ];
        for (pw, login, want) in cases {
            assert_eq!(&p.check(pw, login), want, "{pw:?} for {login:?}");
        }
    }

    #[test]
    fn the_minimum_cannot_go_below_the_guideline() {
        for min in [0, 7, MAX_LENGTH + 1] {
            let e = PasswordPolicy::load(&PasswordsConfig {
                min_length: min,
                ..PasswordsConfig::default()
            })
            .unwrap_err();
            assert!(e.contains("passwords.min_length"), "{e}");
        }
        let eight = policy(8, "");
        assert_eq!(eight.check("eight ch", "ann"), Ok(()));
        assert!(
            PasswordPolicy::load(&PasswordsConfig {
                blocklist_file: Some("/nonexistent/list.txt".into()),
                ..PasswordsConfig::default()
            })
            .unwrap_err()
            .contains("/nonexistent/list.txt")
        );
    }
}
