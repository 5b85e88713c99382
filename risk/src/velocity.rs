//! Sliding-window velocity counters with time passed in.
//!
//! Each window of length `W` is split into [`BUCKETS`] buckets of `W/6`; a
//! count "in the last W" sums the buckets that overlap `(now − W, now]`, so
//! it is exact to within one bucket (10 s for the 1-minute window). Counts
//! per key are 16-bit saturating. Keys not touched for longer than the
//! longest window are dropped when the store exceeds its capacity, so the
//! memory held is bounded by the number of keys active in the last hour.

use std::collections::HashMap;

/// Buckets per window.
pub const BUCKETS: usize = 6;

/// The three windows, in seconds.
pub const WINDOWS: [i64; 3] = [60, 600, 3600];

/// One sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowCounter {
    /// Index (time / bucket length) of the newest bucket.
    head: i64,
    buckets: [u16; BUCKETS],
}

impl WindowCounter {
    /// Adds `n` at time `now` for a window of `window` seconds. Events older
    /// than the window relative to the newest seen are ignored.
    pub fn add(&mut self, now: i64, window: i64, n: u16) {
        let idx = now.div_euclid(window / BUCKETS as i64);
        if idx > self.head {
            let gap = (idx - self.head).min(BUCKETS as i64);
            for k in 1..=gap {
                self.buckets[(self.head + k).rem_euclid(BUCKETS as i64) as usize] = 0;
            }
            self.head = idx;
        } else if self.head - idx >= BUCKETS as i64 {
            return;
        }
        let slot = &mut self.buckets[idx.rem_euclid(BUCKETS as i64) as usize];
        *slot = slot.saturating_add(n);
    }

    /// Events in `(now − window, now]`, to bucket granularity.
    pub fn count(&self, now: i64, window: i64) -> u32 {
        let idx = now.div_euclid(window / BUCKETS as i64);
        let lo = (idx - BUCKETS as i64 + 1).max(self.head - BUCKETS as i64 + 1);
        let hi = idx.min(self.head);
        (lo..=hi)
            .map(|b| u32::from(self.buckets[b.rem_euclid(BUCKETS as i64) as usize]))
            .sum()
    }
}

/// Small set of recently seen 32-bit hashes with last-seen times, for
/// "distinct users per IP" and "distinct IPs per user". Saturates at its
/// size: "at least 16" is all a score needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RecentSet {
    items: [(u32, u32); 16],
}

impl RecentSet {
    /// Records `item` seen at `now`.
    pub fn insert(&mut self, item: u32, now: i64) {
        let t = now.clamp(1, i64::from(u32::MAX)) as u32;
        let mut oldest = 0;
        for i in 0..self.items.len() {
            if self.items[i].0 == item && self.items[i].1 != 0 {
                self.items[i].1 = self.items[i].1.max(t);
                return;
            }
            if self.items[i].1 < self.items[oldest].1 {
                oldest = i;
            }
        }
        self.items[oldest] = (item, t);
    }

    /// Distinct items seen in `(now − window, now]`.
    pub fn distinct(&self, now: i64, window: i64) -> u32 {
        self.recent(now, window).count() as u32
    }

    /// Distinct items other than `me` seen in `(now − window, now]`.
    pub fn distinct_except(&self, me: u32, now: i64, window: i64) -> u32 {
        self.recent(now, window).filter(|(i, _)| *i != me).count() as u32
    }

    fn recent(&self, now: i64, window: i64) -> impl Iterator<Item = &(u32, u32)> {
        let from = now - window;
        self.items
            .iter()
            .filter(move |(_, t)| *t != 0 && i64::from(*t) > from && i64::from(*t) <= now)
    }
}

/// Counters for one key (a user, IP, prefix or ASN).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeyCounters {
    /// Attempts per window (1 min, 10 min, 1 h).
    pub attempts: [WindowCounter; 3],
    /// Failed primary factors per window.
    pub failures: [WindowCounter; 3],
    /// Distinct partners: users for an IP key, IPs for a user key.
    pub partners: RecentSet,
    /// Last update, Unix seconds.
    pub last: i64,
}

impl KeyCounters {
    fn record(&mut self, now: i64, success: bool, partner: Option<u32>) {
        for (w, window) in WINDOWS.iter().enumerate() {
            self.attempts[w].add(now, *window, 1);
            if !success {
                self.failures[w].add(now, *window, 1);
            }
        }
        if let Some(p) = partner {
            self.partners.insert(p, now);
        }
        self.last = self.last.max(now);
    }
}

/// The velocity keys of one event (hashes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VelocityKeys {
    /// The user name.
    pub user: u64,
    /// The exact IP.
    pub ip: u64,
    /// The /24 or /48.
    pub prefix: u64,
    /// The ASN, if known.
    pub asn: Option<u64>,
}

/// What the counters say about one event, *before* it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VelocitySnapshot {
    /// Failures for this user in the last hour.
    pub user_failures_1h: u32,
    /// Attempts for this user in the last 10 minutes.
    pub user_attempts_10m: u32,
    /// Distinct IPs this user came from in the last hour (session growth).
    pub user_distinct_ips_1h: u32,
    /// Attempts from this IP in the last 10 minutes.
    pub ip_attempts_10m: u32,
    /// Failures from this IP in the last hour.
    pub ip_failures_1h: u32,
    /// Distinct users that *failed* from this IP in the last hour
    /// (credential stuffing), the event's own user left out: a user who
    /// mistyped a password from here is not another account tried from
    /// here.
    pub ip_distinct_users_1h: u32,
    /// Attempts from this IP in the last hour.
    pub ip_attempts_1h: u32,
    /// Attempts from this /24 or /48 in the last hour.
    pub prefix_attempts_1h: u32,
    /// Failures from this /24 or /48 in the last hour.
    pub prefix_failures_1h: u32,
    /// Failures from this ASN in the last minute (exposed, not in the model:
    /// it scales with deployment size).
    pub asn_failures_1m: u32,
}

/// Where velocity counters live. The crate ships [`MemoryVelocity`].
pub trait VelocityStore {
    /// Counts for the event's keys at `now`, excluding the event itself.
    fn snapshot(&self, keys: &VelocityKeys, now: i64) -> VelocitySnapshot;
    /// Counts the event (every attempt, whatever the decision).
    fn record(&mut self, keys: &VelocityKeys, success: bool, now: i64);
}

/// In-memory [`VelocityStore`] with a soft capacity in keys.
#[derive(Debug)]
pub struct MemoryVelocity {
    map: HashMap<u64, KeyCounters>,
    capacity: usize,
}

impl MemoryVelocity {
    /// A store that prunes idle keys once it holds more than `capacity`.
    pub fn new(capacity: usize) -> Self {
        MemoryVelocity {
            map: HashMap::new(),
            capacity: capacity.max(16),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&self, key: u64) -> KeyCounters {
        self.map.get(&key).copied().unwrap_or_default()
    }
}

impl Default for MemoryVelocity {
    fn default() -> Self {
        MemoryVelocity::new(1 << 20)
    }
}

impl VelocityStore for MemoryVelocity {
    fn snapshot(&self, keys: &VelocityKeys, now: i64) -> VelocitySnapshot {
        let u = self.get(keys.user);
        let ip = self.get(keys.ip);
        let p = self.get(keys.prefix);
        let asn = keys.asn.map(|a| self.get(a)).unwrap_or_default();
        VelocitySnapshot {
            user_failures_1h: u.failures[2].count(now, WINDOWS[2]),
            user_attempts_10m: u.attempts[1].count(now, WINDOWS[1]),
            user_distinct_ips_1h: u.partners.distinct(now, WINDOWS[2]),
            ip_attempts_10m: ip.attempts[1].count(now, WINDOWS[1]),
            ip_failures_1h: ip.failures[2].count(now, WINDOWS[2]),
            ip_distinct_users_1h: ip
                .partners
                .distinct_except(keys.user as u32, now, WINDOWS[2]),
            prefix_failures_1h: p.failures[2].count(now, WINDOWS[2]),
            ip_attempts_1h: ip.attempts[2].count(now, WINDOWS[2]),
            prefix_attempts_1h: p.attempts[2].count(now, WINDOWS[2]),
            asn_failures_1m: asn.failures[0].count(now, WINDOWS[0]),
        }
    }

    fn record(&mut self, keys: &VelocityKeys, success: bool, now: i64) {
        if self.map.len() >= self.capacity {
            let horizon = now - WINDOWS[2];
            self.map.retain(|_, c| c.last > horizon);
            if self.map.len() >= self.capacity {
                // Everything is recent: drop half rather than grow without bound.
                let mut n = 0usize;
                self.map.retain(|_, _| {
                    n += 1;
                    n.is_multiple_of(2)
                });
            }
        }
        // Per user: every IP (session growth). Per network: only users
        // that *failed* (credential stuffing), so a busy office NAT where
        // everyone logs in successfully is not a stuffing source.
        let ip32 = Some(keys.ip as u32);
        let failed_user = (!success).then_some(keys.user as u32);
        self.map
            .entry(keys.user)
            .or_default()
            .record(now, success, ip32);
        self.map
            .entry(keys.ip)
            .or_default()
            .record(now, success, failed_user);
        self.map
            .entry(keys.prefix)
            .or_default()
            .record(now, success, failed_user);
        if let Some(a) = keys.asn {
            self.map
                .entry(a)
                .or_default()
                .record(now, success, failed_user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(events: &[i64], window: i64, at: i64, expected: u32) {
        let mut c = WindowCounter::default();
        for &t in events {
            c.add(t, window, 1);
        }
        assert_eq!(
            c.count(at, window),
            expected,
            "{events:?} in {window}s at {at}"
        );
    }

    #[test]
    fn window_expiry_with_time_as_a_parameter() {
        check(&[1000, 1005, 1010], 60, 1010, 3);
        check(&[1000, 1005, 1010], 60, 1059, 3);
        // 1000 is in bucket [1000, 1010): it expires once now ≥ 1060.
        check(&[1000, 1005, 1010], 60, 1060, 1);
        check(&[1000, 1005, 1010], 60, 1080, 0);
        // 1000 sits in the 10-minute bucket [600, 1200): counted until 4200.
        check(&[1000], 3600, 4100, 1);
        check(&[1000], 3600, 4200, 0);
        // Out-of-order but inside the window still counts; far older is ignored.
        check(&[2000, 1990, 1000], 60, 2000, 2);
        check(&[1000, 5000], 600, 5000, 1);
    }

    #[test]
    fn per_key_state_is_small_and_fixed() {
        // docs/risk.md quotes this size.
        assert_eq!(std::mem::size_of::<KeyCounters>(), 280);
    }

    #[test]
    fn distinct_partners_and_snapshot_exclude_expired() {
        let mut v = MemoryVelocity::new(1000);
        let ip = VelocityKeys {
            user: 0,
            ip: 7,
            prefix: 8,
            asn: Some(9),
        };
        for u in 0..20u64 {
            let keys = VelocityKeys {
                user: 100 + u,
                ..ip
            };
            v.record(&keys, false, 10_000 + u as i64);
        }
        let s = v.snapshot(&ip, 10_030);
        assert_eq!(s.ip_distinct_users_1h, 16, "saturates at the set size");
        assert_eq!(s.ip_failures_1h, 20);
        assert_eq!(s.prefix_failures_1h, 20);
        assert_eq!(s.asn_failures_1m, 20);
        // Successful logins from a shared NAT are not stuffing partners.
        let nat = VelocityKeys {
            user: 0,
            ip: 70,
            prefix: 80,
            asn: None,
        };
        for u in 0..20u64 {
            v.record(
                &VelocityKeys {
                    user: 300 + u,
                    ..nat
                },
                true,
                10_000 + u as i64,
            );
        }
        let s = v.snapshot(&nat, 10_030);
        assert_eq!(
            (s.ip_distinct_users_1h, s.ip_attempts_1h, s.ip_failures_1h),
            (0, 20, 0)
        );
        // The user's own earlier failure from here is not another user.
        let own = VelocityKeys { user: 105, ..ip };
        assert_eq!(v.snapshot(&own, 10_030).ip_distinct_users_1h, 15);
        let later = v.snapshot(&ip, 10_000 + 3600 + 60);
        assert_eq!((later.ip_distinct_users_1h, later.ip_failures_1h), (0, 0));
    }
}
