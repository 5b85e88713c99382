//! A per-subject budget for decisions asked by callers (`/v1/decide`).
//!
//! A caller that may ask about any subject could otherwise probe one
//! user's decisions as fast as it can, or flood the risk counters with
//! contexts it chose. Fixed one-minute windows per (caller, subject) in
//! memory: losing them on restart forgives at most a minute.

use std::collections::HashMap;
use std::sync::Mutex;

/// Windows held before stale ones are dropped (bounds memory under a
/// spray of made-up subjects).
const MAX_KEYS: usize = 65_536;

/// Decisions per subject per minute; `0` is unlimited.
pub struct SubjectLimiter {
    per_minute: u32,
    /// (window start, count) per key; a std `Mutex` held for one map
    /// operation, never across an await.
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl SubjectLimiter {
    pub fn new(per_minute: u32) -> SubjectLimiter {
        SubjectLimiter {
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// Counts one decision for `key` at `now` (seconds); whether it is
    /// within the budget. A refused attempt is not counted.
    pub fn allow(&self, key: &str, now: i64) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let window = now - now.rem_euclid(60);
        let mut m = super::lock(&self.windows);
        if m.len() >= MAX_KEYS && !m.contains_key(key) {
            m.retain(|_, (start, _)| *start == window);
            if m.len() >= MAX_KEYS {
                return false;
            }
        }
        let e = m.entry(key.to_owned()).or_insert((window, 0));
        if e.0 != window {
            *e = (window, 0);
        }
        if e.1 >= self.per_minute {
            return false;
        }
        e.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_gets_its_budget_per_minute() {
        let l = SubjectLimiter::new(3);
        // (key, now, allowed)
        let steps = [
            ("svc/alice", 120, true),
            ("svc/alice", 121, true),
            ("svc/alice", 150, true),
            ("svc/alice", 179, false),
            ("svc/bob", 179, true),
            ("svc/alice", 180, true),
            ("svc/alice", 181, true),
            ("svc/alice", 182, true),
            ("svc/alice", 183, false),
        ];
        for (key, now, want) in steps {
            assert_eq!(l.allow(key, now), want, "{key} at {now}");
        }
        let unlimited = SubjectLimiter::new(0);
        assert!((0..1000).all(|_| unlimited.allow("k", 0)));
    }
}
