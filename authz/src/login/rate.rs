//! Rate limits on unauthenticated sign-in POSTs, per client IP and per
//! interaction: a fixed window of `per_minute` requests per key, kept in
//! memory (a flood is a per-replica cost; the attempts guard, which must
//! hold across replicas, is in the database). Time is a parameter.

use std::collections::HashMap;
use std::sync::Mutex;

/// Keys remembered at most; beyond that the oldest windows are dropped
/// first, so a flood of spoofed keys cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// Counters per key within the current minute.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// A std mutex: held only to bump one counter, never across `.await`.
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one request for `key` at `now`; `false` when it is over
    /// `per_minute` (0: no limit).
    pub fn allow(&self, key: &str, per_minute: u32, now: i64) -> bool {
        if per_minute == 0 {
            return true;
        }
        let minute = now.div_euclid(60);
        let mut w = match self.windows.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if w.len() >= MAX_KEYS && !w.contains_key(key) {
            w.retain(|_, (m, _)| *m == minute);
            if w.len() >= MAX_KEYS {
                return false;
            }
        }
        let e = w.entry(key.to_string()).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_per_key_and_minute() {
        let r = RateLimiter::default();
        // (key, time, allowed?) with 2 per minute
        for (key, t, want) in [
            ("ip:a", 60, true),
            ("ip:a", 61, true),
            ("ip:a", 119, false),
            ("ip:b", 119, true),
            ("ip:a", 120, true),
        ] {
            assert_eq!(r.allow(key, 2, t), want, "{key} at {t}");
        }
        assert!((0..1000).all(|i| r.allow("ip:c", 0, i)), "0 is no limit");
    }
}
