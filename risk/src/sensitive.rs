//! Sensitive routes and the per-user burst counters behind the
//! `sensitive_burst` detection (the white paper's "high-frequency export +
//! low-activity account + off-hours" pattern).
//!
//! The policy's `risk: sensitive:` section names the routes (bulk export,
//! administration) and the limits; a gateway request to one of them is
//! counted per user in a [`BurstCounter`]: a one-hour sliding window and
//! the user's *usual* number of such requests in an hour they use them (an
//! exponentially weighted mean over their active hours). What the counter
//! says before the request is a [`Burst`], which the caller puts into
//! [`crate::features::Prepared::burst`]; the detection itself is a pure
//! function in [`crate::detections`].
//!
//! ```yaml
//! risk:
//!   sensitive:
//!     paths: [/api/export*, /admin/*]   # `*` at the end: a prefix
//!     per_hour: 100        # more in an hour is a burst, whatever the user's habit
//!     over_usual: 5        # or this many times the user's usual hourly rate,
//!     min_burst: 20        # once there are at least this many
//!     rare_logins: 10      # fewer admitted logins: a rarely active account
//!     office_hours: {from: 8, to: 19, utc_offset_minutes: 480}  # Mon–Fri, local
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::velocity::WindowCounter;

/// One hour, the window a burst is counted over.
pub const HOUR: i64 = 3600;
/// Weight of the newest active hour in the usual rate. `f64` so that the
/// Redis script (Lua numbers are doubles) folds bit for bit the same.
pub const ALPHA: f64 = 0.2;
/// Active hours before the usual rate is trusted; before that only the
/// policy's `per_hour` limit applies.
pub const MIN_HOURS: u16 = 3;

/// The `risk: sensitive:` section of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensitiveRoutes {
    /// Path patterns of the sensitive routes (exact, or a prefix ending in
    /// `*`, as in rule conditions). Empty: nothing is sensitive.
    pub paths: Vec<String>,
    /// Requests to sensitive routes within an hour above which it is a
    /// burst for anyone (0: no absolute limit).
    pub per_hour: u32,
    /// How many times the user's usual hourly rate is a burst.
    pub over_usual: f32,
    /// Fewest requests within the hour for `over_usual` to count.
    pub min_burst: u32,
    /// An account with fewer admitted logins than this is rarely active.
    pub rare_logins: u32,
    /// Working hours; outside them (and at weekends) a burst is stronger.
    /// Absent: no hour is off-hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_hours: Option<OfficeHours>,
}

impl Default for SensitiveRoutes {
    fn default() -> Self {
        SensitiveRoutes {
            paths: Vec::new(),
            per_hour: 100,
            over_usual: 5.0,
            min_burst: 20,
            rare_logins: 10,
            office_hours: None,
        }
    }
}

/// Working hours, Monday to Friday, in one local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHours {
    /// First working hour, 0–23 (local).
    pub from: u8,
    /// First hour after work, 1–24 (local).
    pub to: u8,
    /// Local time minus UTC, minutes.
    #[serde(default)]
    pub utc_offset_minutes: i16,
}

impl OfficeHours {
    /// Whether Unix second `at` falls within working hours.
    pub fn contains(&self, at: i64) -> bool {
        let local = at + i64::from(self.utc_offset_minutes) * 60;
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday: day 0 → 3 (Monday = 0).
        let weekday = (day + 3).rem_euclid(7);
        let hour = local.rem_euclid(86_400) / HOUR;
        weekday < 5 && hour >= i64::from(self.from) && hour < i64::from(self.to)
    }
}

impl SensitiveRoutes {
    /// Whether a request to `path` counts as sensitive.
    pub fn covers(&self, path: &str) -> bool {
        self.paths.iter().any(|p| path_matches(p, path))
    }

    /// Why these values cannot work, if they cannot.
    pub fn problem(&self) -> Option<&'static str> {
        // NaN is refused too.
        if self.over_usual.is_nan() || self.over_usual < 1.0 {
            return Some("sensitive: over_usual must be at least 1");
        }
        if self.paths.iter().any(|p| !p.starts_with('/')) {
            return Some("sensitive: paths must start with /");
        }
        match self.office_hours {
            Some(o) if o.from >= o.to || o.to > 24 => {
                Some("sensitive: office_hours need 0 ≤ from < to ≤ 24")
            }
            Some(o) if o.utc_offset_minutes.abs() > 14 * 60 => {
                Some("sensitive: utc_offset_minutes must be within ±840")
            }
            _ => None,
        }
    }
}

/// A path pattern: exact, or a prefix when it ends in `*`; the query is
/// ignored. Shared with the policy's `path` condition.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// What a user's counter says before a sensitive request.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Burst {
    /// Sensitive requests of this user in the last hour, this one excluded.
    pub recent: u32,
    /// The user's usual number in an active hour, once [`MIN_HOURS`] hours
    /// are known.
    pub usual: Option<f32>,
}

/// One user's sensitive-request counter (fixed size, under 64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BurstCounter {
    window: WindowCounter,
    /// The clock hour being counted (Unix seconds / 3600) and its count.
    hour: i64,
    in_hour: u32,
    /// Weighted mean count of the active hours before `hour`.
    usual: f64,
    /// Active hours folded into `usual` (saturating).
    hours: u16,
    /// Last request, Unix seconds.
    last: i64,
}

impl BurstCounter {
    /// Folds a finished hour into the usual rate.
    fn roll(&mut self, now: i64) {
        let h = now.div_euclid(HOUR);
        if h <= self.hour {
            return;
        }
        if self.in_hour > 0 {
            let c = f64::from(self.in_hour);
            self.usual = if self.hours == 0 {
                c
            } else {
                (1.0 - ALPHA) * self.usual + ALPHA * c
            };
            self.hours = self.hours.saturating_add(1);
        }
        self.hour = h;
        self.in_hour = 0;
    }

    /// What the counter says at `now`, before the request is recorded.
    pub fn snapshot(&self, now: i64) -> Burst {
        let mut c = *self;
        c.roll(now);
        Burst {
            recent: c.window.count(now, HOUR),
            usual: (c.hours >= MIN_HOURS).then_some(c.usual as f32),
        }
    }

    /// Counts one sensitive request at `now`.
    pub fn record(&mut self, now: i64) {
        self.roll(now);
        self.in_hour = self.in_hour.saturating_add(1);
        self.window.add(now, HOUR, 1);
        self.last = self.last.max(now);
    }
}

/// Burst counters by user key, in memory, with a soft capacity: past it
/// the counters idle longest are dropped (their users start over with
/// only the policy's limit until [`MIN_HOURS`] active hours are seen).
#[derive(Debug)]
pub struct MemoryBursts {
    map: HashMap<u64, BurstCounter>,
    capacity: usize,
}

impl MemoryBursts {
    /// A store holding about `capacity` users.
    pub fn new(capacity: usize) -> Self {
        MemoryBursts {
            map: HashMap::new(),
            capacity: capacity.max(16),
        }
    }

    /// The user's counter before a request at `now`.
    pub fn snapshot(&self, user: u64, now: i64) -> Burst {
        self.map
            .get(&user)
            .map(|c| c.snapshot(now))
            .unwrap_or_default()
    }

    /// Counts a sensitive request of `user` at `now`.
    pub fn record(&mut self, user: u64, now: i64) {
        if self.map.len() >= self.capacity && !self.map.contains_key(&user) {
            let mut lasts: Vec<i64> = self.map.values().map(|c| c.last).collect();
            let half = lasts.len() / 2;
            let (_, cut, _) = lasts.select_nth_unstable(half);
            let cut = *cut;
            self.map.retain(|_, c| c.last > cut);
        }
        self.map.entry(user).or_default().record(now);
    }

    /// Users held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no user is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Default for MemoryBursts {
    fn default() -> Self {
        MemoryBursts::new(1 << 18)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-03-02 00:00 UTC.
    const MON: i64 = 1_772_409_600;

    /// Requests at `times` (seconds after MON), then a snapshot at `at`.
    fn check(name: &str, times: &[i64], at: i64, want: Burst) {
        let mut c = BurstCounter::default();
        for &t in times {
            c.record(MON + t);
        }
        assert_eq!(c.snapshot(MON + at), want, "{name}");
    }

    fn every(n: i64, from: i64, step: i64) -> Vec<i64> {
        (0..n).map(|k| from + k * step).collect()
    }

    #[test]
    fn counters_know_the_last_hour_and_the_usual_rate() {
        let day = 86_400;
        // Four active days of 4 requests in the 10:00 hour.
        let habit: Vec<i64> = (0..4)
            .flat_map(|d| every(4, d * day + 10 * HOUR, 60))
            .collect();
        let mut burst = habit.clone();
        burst.extend(every(30, 4 * day + 3 * HOUR, 30));
        let cases: Vec<(&str, Vec<i64>, i64, Burst)> = vec![
            ("nothing yet", vec![], 0, Burst::default()),
            (
                "a few just now, no usual rate yet",
                every(5, 0, 60),
                600,
                Burst {
                    recent: 5,
                    usual: None,
                },
            ),
            (
                "two active hours are not a habit",
                habit[..8].to_vec(),
                2 * day,
                Burst {
                    recent: 0,
                    usual: None,
                },
            ),
            (
                "the last of four active hours is folded at the next request",
                habit.clone(),
                4 * day,
                Burst {
                    recent: 0,
                    usual: Some(4.0),
                },
            ),
            (
                "30 requests within the hour after the habit",
                burst,
                4 * day + 3 * HOUR + 30 * 30,
                Burst {
                    recent: 30,
                    usual: Some(4.0),
                },
            ),
            (
                "requests older than an hour have left the window",
                every(10, 0, 60),
                2 * HOUR,
                Burst {
                    recent: 0,
                    usual: None,
                },
            ),
        ];
        for (name, times, at, want) in cases {
            check(name, &times, at, want);
        }
    }

    #[test]
    fn office_hours_are_local_weekdays() {
        let beijing = OfficeHours {
            from: 8,
            to: 19,
            utc_offset_minutes: 480,
        };
        let cases = [
            ("Monday 09:00 Beijing", MON + HOUR, true),
            ("Monday 07:59 Beijing", MON - 60, false),
            ("Monday 19:00 Beijing", MON + 11 * HOUR, false),
            ("Monday 03:00 Beijing", MON + 19 * HOUR, false),
            ("Saturday 10:00 Beijing", MON + 5 * 86_400 + 2 * HOUR, false),
            (
                "Friday 18:30 Beijing",
                MON + 4 * 86_400 + 10 * HOUR + 1800,
                true,
            ),
        ];
        for (name, at, want) in cases {
            assert_eq!(beijing.contains(at), want, "{name}");
        }
    }

    #[test]
    fn routes_and_settings() {
        let s = SensitiveRoutes {
            paths: vec!["/api/export*".into(), "/admin".into()],
            ..SensitiveRoutes::default()
        };
        let cases = [
            ("/api/export/users.csv", true),
            ("/api/export?all=1", true),
            ("/admin", true),
            ("/admin/x", false),
            ("/api/users", false),
        ];
        for (path, want) in cases {
            assert_eq!(s.covers(path), want, "{path}");
        }
        let bad = [
            SensitiveRoutes {
                over_usual: 0.5,
                ..SensitiveRoutes::default()
            },
            SensitiveRoutes {
                paths: vec!["api".into()],
                ..SensitiveRoutes::default()
            },
            SensitiveRoutes {
                office_hours: Some(OfficeHours {
                    from: 19,
                    to: 8,
                    utc_offset_minutes: 0,
                }),
                ..SensitiveRoutes::default()
            },
        ];
        for s in bad {
            assert!(s.problem().is_some(), "{s:?}");
        }
        assert_eq!(SensitiveRoutes::default().problem(), None);
    }

    #[test]
    fn the_store_stays_bounded() {
        let mut m = MemoryBursts::new(16);
        for u in 0..100u64 {
            m.record(u, MON + u as i64);
        }
        assert!(m.len() <= 16, "{}", m.len());
        assert_eq!(m.snapshot(99, MON + 100).recent, 1);
        assert_eq!(m.snapshot(0, MON + 100).recent, 0, "the oldest went");
    }
}
