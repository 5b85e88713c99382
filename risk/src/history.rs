//! Bounded per-user history: decayed counts over recent successful logins.
//!
//! Each hierarchy level keeps the top few values as `(hash, count)` pairs in
//! fixed arrays, so a [`UserHistory`] has a fixed size (measured by a test
//! and the bench, well under 2 KiB) and cloning it is a plain memcpy. Before
//! each admitted login all counts are multiplied by the model's decay `γ`,
//! so old habits fade over roughly `1/(1-γ)` logins. When a level is full,
//! the least-counted value is replaced; its mass stays in the total, which
//! is what "seen before but forgotten" should mean.

use std::collections::HashMap;

/// Top-`N` decayed counts for one level, plus a decayed count of distinct
/// values seen (the Witten–Bell novelty rate uses it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopK<const N: usize> {
    keys: [u64; N],
    counts: [f32; N],
    distinct: f32,
}

impl<const N: usize> TopK<N> {
    /// Keys, counts and the distinct count (for encoding).
    pub fn parts(&self) -> (&[u64; N], &[f32; N], f32) {
        (&self.keys, &self.counts, self.distinct)
    }

    /// Rebuilds from [`TopK::parts`].
    pub fn from_parts(keys: [u64; N], counts: [f32; N], distinct: f32) -> Self {
        TopK {
            keys,
            counts,
            distinct,
        }
    }
}

impl<const N: usize> Default for TopK<N> {
    fn default() -> Self {
        TopK {
            keys: [0; N],
            counts: [0.0; N],
            distinct: 0.0,
        }
    }
}

impl<const N: usize> TopK<N> {
    /// Decayed count of `key` (0 when unseen or forgotten).
    pub fn count(&self, key: u64) -> f32 {
        for i in 0..N {
            if self.keys[i] == key && self.counts[i] > 0.0 {
                return self.counts[i];
            }
        }
        0.0
    }

    /// Decayed number of distinct values seen.
    pub fn distinct(&self) -> f32 {
        self.distinct
    }

    /// Iterates over `(hash, count)` pairs currently held.
    pub fn entries(&self) -> impl Iterator<Item = (u64, f32)> + '_ {
        self.keys
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
            .filter(|(_, c)| *c > 0.0)
    }

    fn decay(&mut self, gamma: f32) {
        for c in &mut self.counts {
            *c *= gamma;
        }
        self.distinct *= gamma;
    }

    /// Counts `key`; returns its slot and whether the slot was (re)taken
    /// for it, so per-slot data kept beside the counts can be reset.
    fn add(&mut self, key: u64) -> (usize, bool) {
        let mut min_i = 0;
        for i in 0..N {
            if self.keys[i] == key && self.counts[i] > 0.0 {
                self.counts[i] += 1.0;
                return (i, false);
            }
            if self.counts[i] < self.counts[min_i] {
                min_i = i;
            }
        }
        self.distinct += 1.0;
        self.keys[min_i] = key;
        self.counts[min_i] = 1.0;
        (min_i, true)
    }

    /// The slot holding `key`, if it is held.
    pub fn slot(&self, key: u64) -> Option<usize> {
        (0..N).find(|&i| self.keys[i] == key && self.counts[i] > 0.0)
    }
}

/// Fingerprints remembered per device slot.
pub const DEVICE_FPS: usize = 3;

/// Browser-signal fingerprints remembered per device slot.
pub const DEVICE_SIGS: usize = 2;

/// The 32-bit fingerprint of what a device reports: browser family, OS
/// family and device type (the coarse levels of the user-agent hierarchy).
/// 0 means "empty slot", so a real fingerprint is never 0.
pub fn device_fingerprint(ua_keys: &[u64; 5]) -> u32 {
    let x = ua_keys[2] ^ ua_keys[3].rotate_left(21) ^ ua_keys[4].rotate_left(42);
    ((x ^ (x >> 32)) as u32).max(1)
}

/// Adds a fingerprint to a device's set, newest first; the oldest falls
/// off when all are taken. 0 (nothing reported) is never added.
fn remember<T: Copy + Default + PartialEq, const N: usize>(set: &mut [T; N], fp: T) {
    if fp != T::default() && !set.contains(&fp) {
        set.rotate_right(1);
        set[0] = fp;
    }
}

/// Where and when the last admitted login happened (for impossible travel).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LastLogin {
    /// Unix seconds.
    pub at: i64,
    /// Latitude, degrees (NaN when the location was unknown).
    pub lat: f32,
    /// Longitude, degrees.
    pub lon: f32,
    /// Accuracy radius, km.
    pub accuracy_km: u16,
    /// The address, kept so a reason can name the previous place.
    pub ip: [u8; 16],
}

/// The hashes of one login at every level; computed once per event.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LevelKeys {
    /// IP → /24 or /48 → ASN → country.
    pub net: [u64; 4],
    /// UA string → browser+version → browser → OS → device type.
    pub ua: [u64; 5],
    /// Device id or "none".
    pub device: u64,
    /// Hour of week, 0..168.
    pub hour: u8,
    /// A device id was presented (absent ids are never recorded).
    pub has_device: bool,
    /// [`crate::signals::BrowserSignals::fingerprint`]; 0 when the event
    /// carried no browser signals.
    pub signals: u16,
}

/// One user's bounded history. Fixed size; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserHistory {
    /// Decayed number of admitted logins (the `n` of the smoothing formula).
    pub n: f32,
    /// Admitted logins ever (not decayed).
    pub logins: u32,
    /// Decayed number of admitted logins that presented a device id.
    pub device_ids: f32,
    /// IP, prefix, ASN, country.
    pub ip: TopK<8>,
    /// /24 or /48 prefix.
    pub prefix: TopK<8>,
    /// ASN.
    pub asn: TopK<6>,
    /// Country.
    pub country: TopK<4>,
    /// User-agent strings.
    pub ua: TopK<6>,
    /// Browser + major version.
    pub browser_version: TopK<6>,
    /// Browser family.
    pub browser: TopK<4>,
    /// OS family.
    pub os: TopK<4>,
    /// Device type.
    pub device_type: TopK<3>,
    /// Device ids.
    pub device: TopK<8>,
    /// Per device slot (beside [`UserHistory::device`]): the fingerprints
    /// ([`device_fingerprint`]) that device has reported, so drift is
    /// judged per device, not per user.
    pub device_fps: [[u32; DEVICE_FPS]; 8],
    /// Per device slot: the browser-signal fingerprints
    /// ([`crate::signals::BrowserSignals::fingerprint`]) that device has
    /// sent, all 0 while it never sent any (histories from before signals
    /// were recorded, browsers scored from traces without them).
    pub device_sigs: [[u16; DEVICE_SIGS]; 8],
    /// Hour-of-week counts (saturating, halved when one saturates).
    pub hours: [u8; 168],
    /// Last admitted login with a known location.
    pub last: Option<LastLogin>,
}

impl Default for UserHistory {
    fn default() -> Self {
        UserHistory {
            n: 0.0,
            logins: 0,
            device_ids: 0.0,
            ip: TopK::default(),
            prefix: TopK::default(),
            asn: TopK::default(),
            country: TopK::default(),
            ua: TopK::default(),
            browser_version: TopK::default(),
            browser: TopK::default(),
            os: TopK::default(),
            device_type: TopK::default(),
            device: TopK::default(),
            device_fps: [[0; DEVICE_FPS]; 8],
            device_sigs: [[0; DEVICE_SIGS]; 8],
            hours: [0; 168],
            last: None,
        }
    }
}

impl UserHistory {
    /// The network levels as arrays, finest first.
    pub fn net_count(&self, level: usize, key: u64) -> (f32, f32) {
        match level {
            0 => (self.ip.count(key), self.ip.distinct()),
            1 => (self.prefix.count(key), self.prefix.distinct()),
            2 => (self.asn.count(key), self.asn.distinct()),
            _ => (self.country.count(key), self.country.distinct()),
        }
    }

    /// The user-agent levels, finest first.
    pub fn ua_count(&self, level: usize, key: u64) -> (f32, f32) {
        match level {
            0 => (self.ua.count(key), self.ua.distinct()),
            1 => (
                self.browser_version.count(key),
                self.browser_version.distinct(),
            ),
            2 => (self.browser.count(key), self.browser.distinct()),
            3 => (self.os.count(key), self.os.distinct()),
            _ => (self.device_type.count(key), self.device_type.distinct()),
        }
    }

    /// Records an admitted login: decays everything by `gamma`, then counts
    /// this login at every level.
    pub fn admit(&mut self, keys: &LevelKeys, last: Option<LastLogin>, gamma: f32) {
        self.n = self.n * gamma + 1.0;
        self.logins = self.logins.saturating_add(1);
        self.ip.decay(gamma);
        self.prefix.decay(gamma);
        self.asn.decay(gamma);
        self.country.decay(gamma);
        self.ua.decay(gamma);
        self.browser_version.decay(gamma);
        self.browser.decay(gamma);
        self.os.decay(gamma);
        self.device_type.decay(gamma);
        self.device.decay(gamma);
        self.ip.add(keys.net[0]);
        self.prefix.add(keys.net[1]);
        self.asn.add(keys.net[2]);
        self.country.add(keys.net[3]);
        self.ua.add(keys.ua[0]);
        self.browser_version.add(keys.ua[1]);
        self.browser.add(keys.ua[2]);
        self.os.add(keys.ua[3]);
        self.device_type.add(keys.ua[4]);
        self.device_ids *= gamma;
        if keys.has_device {
            let (slot, fresh) = self.device.add(keys.device);
            if fresh {
                self.device_fps[slot] = [0; DEVICE_FPS];
                self.device_sigs[slot] = [0; DEVICE_SIGS];
            }
            remember(&mut self.device_fps[slot], device_fingerprint(&keys.ua));
            remember(&mut self.device_sigs[slot], keys.signals);
            self.device_ids += 1.0;
        }
        let h = usize::from(keys.hour) % 168;
        if self.hours[h] == u8::MAX {
            for c in &mut self.hours {
                *c /= 2;
            }
        }
        self.hours[h] += 1;
        if last.is_some() {
            self.last = last;
        }
    }

    /// The fingerprints a known device has reported (`None` when the
    /// device is not held).
    pub fn device_fingerprints(&self, device: u64) -> Option<&[u32; DEVICE_FPS]> {
        self.device.slot(device).map(|i| &self.device_fps[i])
    }

    /// The browser-signal fingerprints a known device has sent (`None` when
    /// the device is not held).
    pub fn device_signals(&self, device: u64) -> Option<&[u16; DEVICE_SIGS]> {
        self.device.slot(device).map(|i| &self.device_sigs[i])
    }

    /// Bytes one history occupies in memory (fixed).
    pub const SIZE: usize = std::mem::size_of::<UserHistory>();
}

/// Where histories live. The crate ships [`MemoryHistory`]; the service
/// implements this over its database (load before scoring, store after the
/// decision). Implementations must return exactly what was last stored.
pub trait HistoryStore {
    /// The user's history, or `None` for a user never admitted.
    fn load(&self, user: &str) -> Option<UserHistory>;
    /// Replaces the user's history.
    fn store(&mut self, user: &str, history: UserHistory);
}

/// In-memory [`HistoryStore`]: one fixed-size history per user, boxed.
/// The box keeps the table's buckets small: a hash map sized for a
/// million users has about two million buckets, and with the history
/// inline every one of them (occupied or not) would cost its 1.1 KiB.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    users: HashMap<String, Box<UserHistory>>,
}

impl MemoryHistory {
    /// Number of users held.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether no user is held.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// A reference without copying, for the in-memory fast path.
    pub fn get(&self, user: &str) -> Option<&UserHistory> {
        self.users.get(user).map(|h| &**h)
    }
}

impl HistoryStore for MemoryHistory {
    fn load(&self, user: &str) -> Option<UserHistory> {
        self.users.get(user).map(|h| **h)
    }

    fn store(&mut self, user: &str, history: UserHistory) {
        if let Some(slot) = self.users.get_mut(user) {
            **slot = history;
        } else {
            self.users.insert(user.to_owned(), Box::new(history));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_history_fits_in_two_kib() {
        const { assert!(UserHistory::SIZE <= 2048) };
        println!("UserHistory: {} bytes", UserHistory::SIZE);
    }

    fn check(adds: &[u64], gamma: f32, expected: &[(u64, f32)], distinct: f32) {
        let mut t = TopK::<3>::default();
        for &k in adds {
            t.decay(gamma);
            t.add(k);
        }
        for &(k, want) in expected {
            assert!(
                (t.count(k) - want).abs() < 1e-4,
                "{adds:?}: count({k}) = {}, want {want}",
                t.count(k)
            );
        }
        assert!(
            (t.distinct() - distinct).abs() < 1e-4,
            "{adds:?}: distinct {}",
            t.distinct()
        );
    }

    #[test]
    fn topk_counts_decay_and_evict_the_smallest() {
        check(&[1, 1, 1], 1.0, &[(1, 3.0), (2, 0.0)], 1.0);
        check(&[1, 2], 0.5, &[(1, 0.5), (2, 1.0)], 1.5);
        // 4 evicts 1 (smallest after decay), keeps 2 and 3.
        check(
            &[1, 2, 3, 4],
            0.9,
            &[(1, 0.0), (2, 0.81), (3, 0.9), (4, 1.0)],
            0.9 * 0.9 * 0.9 + 0.9 * 0.9 + 0.9 + 1.0,
        );
    }
}
