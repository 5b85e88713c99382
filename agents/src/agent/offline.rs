//! Offline state in the state directory: the current grant (`grant.tgg`),
//! how many offline logins it has been used for (`grant-usage.json`), and
//! receipts waiting for upload (`receipts/<id>.tgr`). Every write is
//! atomic (see [`super::fsutil`]).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::fsutil;
use crate::grant::GrantClaims;

pub const GRANT_FILE: &str = "grant.tgg";
pub const USAGE_FILE: &str = "grant-usage.json";
pub const RECEIPTS_DIR: &str = "receipts";

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("no offline grant stored (run `tollgate-agent grant` while online)")]
    NoGrant,
    #[error(
        "offline grant {grant_id} is used up ({used} of {max} offline logins); reconnect and run `tollgate-agent grant`"
    )]
    UsedUp {
        grant_id: String,
        used: u32,
        max: u32,
    },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Usage {
    grant_id: String,
    used: u32,
}

fn io(path: &Path, e: impl ToString) -> OfflineError {
    OfflineError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

pub fn save_grant(state_dir: &Path, token: &str) -> Result<(), OfflineError> {
    let p = state_dir.join(GRANT_FILE);
    fsutil::write_atomic(&p, token.as_bytes()).map_err(|e| io(&p, e))
}

pub fn load_grant(state_dir: &Path) -> Result<String, OfflineError> {
    let p = state_dir.join(GRANT_FILE);
    let bytes = fsutil::read_optional(&p)
        .map_err(|e| io(&p, e))?
        .ok_or(OfflineError::NoGrant)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

fn read_usage(state_dir: &Path) -> Result<Usage, OfflineError> {
    let p = state_dir.join(USAGE_FILE);
    match fsutil::read_optional(&p).map_err(|e| io(&p, e))? {
        None => Ok(Usage::default()),
        Some(b) => serde_json::from_slice(&b).map_err(|e| io(&p, format!("corrupted ({e})"))),
    }
}

/// Offline logins already made under `grant`.
pub fn used(state_dir: &Path, grant: &GrantClaims) -> Result<u32, OfflineError> {
    let usage = read_usage(state_dir)?;
    Ok(if usage.grant_id == grant.grant_id {
        usage.used
    } else {
        0
    })
}

/// Sequence number for the next offline login, refusing past the limit.
pub fn next_sequence(state_dir: &Path, grant: &GrantClaims) -> Result<u32, OfflineError> {
    let used = used(state_dir, grant)?;
    if used >= grant.max_offline_logins {
        return Err(OfflineError::UsedUp {
            grant_id: grant.grant_id.clone(),
            used,
            max: grant.max_offline_logins,
        });
    }
    Ok(used + 1)
}

pub fn record_use(state_dir: &Path, grant_id: &str, sequence: u32) -> Result<(), OfflineError> {
    let p = state_dir.join(USAGE_FILE);
    let json = serde_json::to_vec(&Usage {
        grant_id: grant_id.to_owned(),
        used: sequence,
    })
    .map_err(|e| io(&p, e))?;
    fsutil::write_atomic(&p, &json).map_err(|e| io(&p, e))
}

pub fn write_receipt(
    state_dir: &Path,
    receipt_id: &str,
    token: &str,
) -> Result<PathBuf, OfflineError> {
    let dir = state_dir.join(RECEIPTS_DIR);
    fsutil::create_private_dir(&dir).map_err(|e| io(&dir, e))?;
    let p = dir.join(format!("{receipt_id}.tgr"));
    fsutil::write_atomic(&p, token.as_bytes()).map_err(|e| io(&p, e))?;
    Ok(p)
}

/// Receipts waiting for upload, oldest name first.
pub fn pending_receipts(state_dir: &Path) -> Result<Vec<(PathBuf, String)>, OfflineError> {
    let dir = state_dir.join(RECEIPTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io(&dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("tgr") {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            out.push((path, text.trim().to_owned()));
        }
    }
    out.sort();
    Ok(out)
}
