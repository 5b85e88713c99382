//! Time as a parameter: every piece of logic that depends on "now" takes a
//! [`Clock`] or an explicit `now`, so TOTP windows, token expiry and lockouts
//! are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch. Tokens, codes and lockouts all work in whole
/// seconds (JWT `iat`/`exp` are seconds), so one integer type is enough.
pub type UnixTime = i64;

/// Where the service reads the current time from.
#[derive(Clone)]
pub enum Clock {
    /// The operating system's wall clock.
    System,
    /// A clock that tests move by hand; shared so a running server sees changes.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: UnixTime) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// The current time in seconds since the epoch.
    pub fn now(&self) -> UnixTime {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            Clock::Manual(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, secs: i64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(secs, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Manual(t) => write!(f, "Clock::Manual({})", t.load(Ordering::Relaxed)),
        }
    }
}
