//! Attempt limits on guessable secrets: counters per key within a window,
//! a lock when the limit is reached. Pure; time is a parameter.

use crate::store::FailureState;

/// Limits for one kind of key (per user, per IP).
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub window: i64,
    pub lockout: i64,
}

/// Whether the key is locked at `now`.
pub fn is_locked(s: &FailureState, now: i64) -> bool {
    s.locked_until > now
}

/// The state after one more failure at `now`.
pub fn after_failure(s: FailureState, now: i64, p: LockoutPolicy) -> FailureState {
    let mut s = if now - s.window_start >= p.window {
        FailureState {
            count: 0,
            window_start: now,
            ..s
        }
    } else {
        s
    };
    s.count += 1;
    if s.count >= p.max_failures {
        s.locked_until = now + p.lockout;
        s.count = 0;
        s.window_start = now;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_in_window_and_unlocks_later() {
        let p = LockoutPolicy {
            max_failures: 3,
            window: 100,
            lockout: 50,
        };
        let mut s = FailureState::default();
        // (time of failure, locked right after?)
        for (t, locked) in [(1000, false), (1010, false), (1020, true)] {
            s = after_failure(s, t, p);
            assert_eq!(is_locked(&s, t), locked, "at {t}");
        }
        assert!(is_locked(&s, 1069));
        assert!(!is_locked(&s, 1070));
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let p = LockoutPolicy {
            max_failures: 3,
            window: 100,
            lockout: 50,
        };
        let mut s = FailureState::default();
        for t in [1000, 1050, 1150, 1200] {
            s = after_failure(s, t, p);
        }
        assert!(!is_locked(&s, 1200), "{s:?}");
        assert_eq!(s.count, 2);
    }
}
