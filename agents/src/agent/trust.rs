//! What PAM mode may trust: only a state directory root alone can write.
//!
//! `pam_exec` runs the agent as root for `sudo` and the login screens, so
//! everything that decides an offline login — the pinned grant key, the
//! device key handle, the sealed secrets, the grant, the counters — must
//! be out of the user's reach: otherwise malware running as the user
//! re-enrolls against an issuer of its own and grants itself `sudo`. The
//! layout is `/var/lib/tollgate-agent/system/<user>/` (0700 root), written
//! only by `tollgate-agent enroll --system` run as root. Before it reads
//! anything, PAM mode checks that the directory and every file and
//! directory in it are owned by root, writable by no one else, and not
//! symlinks, and that every directory above it is root's too (a sticky
//! world-writable one such as `/tmp` is allowed: nobody else can rename
//! root's entries in it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where root-owned (system) enrollments live, one directory per user.
pub const SYSTEM_STATE_ROOT: &str = "/var/lib/tollgate-agent/system";

const STICKY: u32 = 0o1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("{0}: is a symlink; PAM mode follows none in its state")]
    Symlink(PathBuf),
    #[error(
        "{0}: owned by uid {1}, not root; only `enroll --system` run as root may write PAM state"
    )]
    NotRoot(PathBuf, u32),
    #[error("{0}: writable by group or others (mode {1:o})")]
    Writable(PathBuf, u32),
    #[error("{0}: the state directory must be 0700 (mode {1:o})")]
    NotPrivate(PathBuf, u32),
    #[error("{0}: not a directory")]
    NotDir(PathBuf),
    #[error("{0}: the state directory must be an absolute path")]
    Relative(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, String),
    #[error("must run as root (effective uid {0})")]
    NotRunAsRoot(u32),
}

/// The system state directory of `user` (a PAM user name, checked: no
/// path separators, not hidden).
pub fn system_dir(user: &str) -> Option<PathBuf> {
    if user.is_empty() || user.contains('/') || user.starts_with('.') || user.contains('\0') {
        return None;
    }
    Some(Path::new(SYSTEM_STATE_ROOT).join(user))
}

/// The effective uid, from `/proc/self/status` (the crate forbids
/// `unsafe`, so no `geteuid` call); `u32::MAX` when unreadable.
fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).and_then(|e| e.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

/// The effective uid must be root's (PAM mode, `enroll --system`).
pub fn require_root() -> Result<(), TrustError> {
    match effective_uid() {
        0 => Ok(()),
        euid => Err(TrustError::NotRunAsRoot(euid)),
    }
}

fn lstat(p: &Path) -> Result<std::fs::Metadata, TrustError> {
    std::fs::symlink_metadata(p).map_err(|e| TrustError::Io(p.to_owned(), e.to_string()))
}

/// Root's, and writable by no one else.
fn check_entry(p: &Path, m: &std::fs::Metadata) -> Result<(), TrustError> {
    if m.file_type().is_symlink() {
        return Err(TrustError::Symlink(p.to_owned()));
    }
    if m.uid() != 0 {
        return Err(TrustError::NotRoot(p.to_owned(), m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return Err(TrustError::Writable(p.to_owned(), m.mode() & 0o7777));
    }
    Ok(())
}

/// Checks `dir` for PAM mode (see the module docs).
pub fn check_state_dir(dir: &Path) -> Result<(), TrustError> {
    if !dir.is_absolute() {
        return Err(TrustError::Relative(dir.to_owned()));
    }
    for a in dir.ancestors().skip(1) {
        // Ancestors may be root's symlinks (/var → /usr/var): follow them,
        // but the directory reached must be root's and closed to others.
        let m = std::fs::metadata(a).map_err(|e| TrustError::Io(a.to_owned(), e.to_string()))?;
        if m.uid() != 0 {
            return Err(TrustError::NotRoot(a.to_owned(), m.uid()));
        }
        if m.mode() & 0o022 != 0 && m.mode() & STICKY == 0 {
            return Err(TrustError::Writable(a.to_owned(), m.mode() & 0o7777));
        }
    }
    let m = lstat(dir)?;
    check_entry(dir, &m)?;
    if !m.is_dir() {
        return Err(TrustError::NotDir(dir.to_owned()));
    }
    if m.mode() & 0o077 != 0 {
        return Err(TrustError::NotPrivate(dir.to_owned(), m.mode() & 0o7777));
    }
    check_tree(dir, 0)
}

fn check_tree(dir: &Path, depth: usize) -> Result<(), TrustError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| TrustError::Io(dir.to_owned(), e.to_string()))?;
    for e in entries {
        let e = e.map_err(|e| TrustError::Io(dir.to_owned(), e.to_string()))?;
        let p = e.path();
        let m = lstat(&p)?;
        check_entry(&p, &m)?;
        if m.is_dir() {
            if depth >= 2 {
                return Err(TrustError::NotDir(p));
            }
            check_tree(&p, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn user_names_cannot_escape_the_system_root() {
        assert_eq!(
            system_dir("alice"),
            Some(PathBuf::from("/var/lib/tollgate-agent/system/alice"))
        );
        for bad in ["", "../root", "a/b", ".hidden", "a\0b"] {
            assert_eq!(system_dir(bad), None, "{bad:?}");
        }
    }

    /// Run as root (the test suite is): a private root directory passes;
    /// each way a user could have planted or opened something is refused.
    #[test]
    fn only_a_closed_root_tree_is_trusted() {
        if require_root().is_err() {
            return; // ownership checks need root's files; CI runs as root
        }
        let base = std::env::temp_dir().join(format!("tg-trust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("alice");
        super::super::fsutil::create_private_dir(&dir).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("keystore.json"), b"{}").unwrap();
        std::fs::set_permissions(
            dir.join("keystore.json"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert_eq!(check_state_dir(&dir), Ok(()));
        let check = |what: &str, setup: &dyn Fn(), undo: &dyn Fn()| {
            setup();
            assert!(check_state_dir(&dir).is_err(), "{what} was trusted");
            undo();
            assert_eq!(check_state_dir(&dir), Ok(()), "{what}: undo");
        };
        let p = dir.join("keystore.json");
        check(
            "a group-writable file",
            &|| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o620)).unwrap(),
            &|| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap(),
        );
        check(
            "an open directory",
            &|| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap(),
            &|| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap(),
        );
        let link = dir.join("grant.tgg");
        check(
            "a planted symlink",
            &|| std::os::unix::fs::symlink("/etc/passwd", &link).unwrap(),
            &|| std::fs::remove_file(&link).unwrap(),
        );
        check(
            "a file of another user",
            &|| std::os::unix::fs::chown(&p, Some(65534), None).unwrap(),
            &|| std::os::unix::fs::chown(&p, Some(0), None).unwrap(),
        );
        check(
            "a parent writable by others",
            &|| std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap(),
            &|| std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap(),
        );
        assert!(check_state_dir(Path::new("relative/dir")).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
