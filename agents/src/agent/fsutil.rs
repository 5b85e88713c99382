//! File access for the agent's state, safe in a directory someone else
//! could plant things in: nothing here follows a symlink.
//!
//! Writes never leave a half-written file and never open an existing path:
//! a fresh temporary file with a random name is created exclusively
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) beside the target, written,
//! fsynced and renamed over the target (`rename` replaces a symlink there
//! instead of following it), then the directory is fsynced. Directories
//! are created 0700 and their mode set through a descriptor opened with
//! `O_NOFOLLOW|O_DIRECTORY` (`fchmod`), never `chmod` by path. Reads use
//! `O_NOFOLLOW` too.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| std::io::Error::other(e.to_string()))?;
    let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o600)
        .open(&tmp)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        open_dir(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Opens a directory without following a symlink at its last component.
fn open_dir(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// Creates a directory readable only by its owner (state dir, receipts).
/// A symlink in its place is an error, not followed.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // fchmod through the descriptor: no path a user controls is followed.
    open_dir(path)?.set_permissions(fs::Permissions::from_mode(0o700))
}

/// Reads a file without following a symlink; `Ok(None)` when it does not
/// exist.
pub fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tg-fsutil-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = temp("atomic");
        create_private_dir(&dir).unwrap();
        let p = dir.join("a.json");
        write_atomic(&p, b"first version, long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
        assert_eq!(read_optional(&dir.join("missing")).unwrap(), None);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A symlink planted where the agent writes, reads or makes a
    /// directory is never followed: the victim file is untouched.
    #[test]
    fn planted_symlinks_are_not_followed() {
        let dir = temp("symlink");
        create_private_dir(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.join("grant.tgg");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        // reading through it fails (ELOOP) instead of reading the victim
        assert!(read_optional(&link).is_err());
        // writing replaces the link itself; the victim keeps its bytes
        write_atomic(&link, b"new grant").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            !fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // a symlink in place of a directory: refused, target's mode untouched
        let sub = dir.join("receipts");
        std::os::unix::fs::symlink(&victim, &sub).unwrap();
        assert!(create_private_dir(&sub).is_err());
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o644
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
