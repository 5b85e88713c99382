//! Local PIN attempt limit for software-protected secrets: a counter file
//! (`pin-attempts.json`) incremented, atomically, *before* the result of a
//! try is known to the caller, and reset on success. It stops guessing
//! through the agent (PAM, lock screen); it cannot stop an attacker who
//! copies the key store, which is why software storage is only `swk`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::fsutil;

pub const FILE_NAME: &str = "pin-attempts.json";

#[derive(Debug, thiserror::Error)]
pub enum AttemptsError {
    #[error(
        "PIN locked after {0} failed attempts; re-enroll the device or ask an administrator to reset {1}"
    )]
    Locked(u32, PathBuf),
    #[error("attempt counter {path}: {reason}")]
    Counter { path: PathBuf, reason: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    failures: u32,
}

pub struct Attempts {
    path: PathBuf,
    max: u32,
}

impl Attempts {
    pub fn new(state_dir: &Path, max: u32) -> Self {
        Self {
            path: state_dir.join(FILE_NAME),
            max,
        }
    }

    fn read(&self) -> Result<u32, AttemptsError> {
        let err = |reason: String| AttemptsError::Counter {
            path: self.path.clone(),
            reason,
        };
        match fsutil::read_optional(&self.path).map_err(|e| err(e.to_string()))? {
            // Missing is the normal state after enrollment.
            None => Ok(0),
            // A garbled counter is an error, so that damaging the file
            // does not silently reset the limit.
            Some(b) => serde_json::from_slice::<Counter>(&b)
                .map(|c| c.failures)
                .map_err(|e| err(format!("corrupted ({e})"))),
        }
    }

    fn write(&self, failures: u32) -> Result<(), AttemptsError> {
        let json = serde_json::to_vec(&Counter { failures }).unwrap_or_default();
        fsutil::write_atomic(&self.path, &json).map_err(|e| AttemptsError::Counter {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Refuses when the limit is reached.
    pub fn check(&self) -> Result<(), AttemptsError> {
        let failures = self.read()?;
        if failures >= self.max {
            return Err(AttemptsError::Locked(failures, self.path.clone()));
        }
        Ok(())
    }

    pub fn fail(&self) -> Result<(), AttemptsError> {
        let failures = self.read()?.saturating_add(1);
        self.write(failures)
    }

    pub fn reset(&self) -> Result<(), AttemptsError> {
        if self.read()? != 0 {
            self.write(0)?;
        }
        Ok(())
    }

    /// Attempts left, for `status`.
    pub fn remaining(&self) -> Result<u32, AttemptsError> {
        Ok(self.max.saturating_sub(self.read()?))
    }
}
