//! A stable byte encoding of [`UserHistory`], for services that keep
//! histories in a database (`tollgate` stores one row per user).
//!
//! Little-endian, fields in declaration order, behind a version byte, so a
//! history written by one build is read by the next; an unknown version or
//! a wrong length is an error (the caller treats the user as new rather
//! than scoring against garbage).

use crate::error::{Result, RiskError};
use crate::history::{DEVICE_FPS, DEVICE_SIGS, LastLogin, TopK, UserHistory};

/// The encoding version this build writes. Version 1 (before per-device
/// fingerprints) and 2 (before per-device browser signals) are still read,
/// with what they lack empty.
const VERSION: u8 = 3;

struct Writer(Vec<u8>);

impl Writer {
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn topk<const N: usize>(&mut self, t: &TopK<N>) {
        let (keys, counts, distinct) = t.parts();
        for k in keys {
            self.0.extend_from_slice(&k.to_le_bytes());
        }
        for c in counts {
            self.f32(*c);
        }
        self.f32(distinct);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        if self.0.len() < N {
            return Err(RiskError::Model("stored history is truncated".into()));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take()?))
    }
    fn topk<const N: usize>(&mut self) -> Result<TopK<N>> {
        let mut keys = [0u64; N];
        let mut counts = [0f32; N];
        for k in &mut keys {
            *k = u64::from_le_bytes(self.take()?);
        }
        for c in &mut counts {
            *c = self.f32()?;
        }
        Ok(TopK::from_parts(keys, counts, self.f32()?))
    }
}

impl UserHistory {
    /// The history as bytes (about 1.2 KiB).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(1280));
        w.0.push(VERSION);
        w.f32(self.n);
        w.0.extend_from_slice(&self.logins.to_le_bytes());
        w.f32(self.device_ids);
        w.topk(&self.ip);
        w.topk(&self.prefix);
        w.topk(&self.asn);
        w.topk(&self.country);
        w.topk(&self.ua);
        w.topk(&self.browser_version);
        w.topk(&self.browser);
        w.topk(&self.os);
        w.topk(&self.device_type);
        w.topk(&self.device);
        for fp in self.device_fps.iter().flatten() {
            w.0.extend_from_slice(&fp.to_le_bytes());
        }
        for fp in self.device_sigs.iter().flatten() {
            w.0.extend_from_slice(&fp.to_le_bytes());
        }
        w.0.extend_from_slice(&self.hours);
        match &self.last {
            None => w.0.push(0),
            Some(l) => {
                w.0.push(1);
                w.0.extend_from_slice(&l.at.to_le_bytes());
                w.f32(l.lat);
                w.f32(l.lon);
                w.0.extend_from_slice(&l.accuracy_km.to_le_bytes());
                w.0.extend_from_slice(&l.ip);
            }
        }
        w.0
    }

    /// Reads what [`UserHistory::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<UserHistory> {
        let mut r = Reader(bytes);
        let [version] = r.take::<1>()?;
        if !(1..=VERSION).contains(&version) {
            return Err(RiskError::Model(format!(
                "stored history has encoding version {version}; this build reads {VERSION}"
            )));
        }
        let mut h = UserHistory {
            n: r.f32()?,
            logins: u32::from_le_bytes(r.take()?),
            device_ids: r.f32()?,
            ip: r.topk()?,
            prefix: r.topk()?,
            asn: r.topk()?,
            country: r.topk()?,
            ua: r.topk()?,
            browser_version: r.topk()?,
            browser: r.topk()?,
            os: r.topk()?,
            device_type: r.topk()?,
            device: r.topk()?,
            device_fps: [[0; DEVICE_FPS]; 8],
            device_sigs: [[0; DEVICE_SIGS]; 8],
            hours: [0; 168],
            last: None,
        };
        if version >= 2 {
            for fp in h.device_fps.iter_mut().flatten() {
                *fp = u32::from_le_bytes(r.take()?);
            }
        }
        if version >= 3 {
            for fp in h.device_sigs.iter_mut().flatten() {
                *fp = u16::from_le_bytes(r.take()?);
            }
        }
        h.hours = r.take()?;
        let [has_last] = r.take::<1>()?;
        if has_last == 1 {
            h.last = Some(LastLogin {
                at: i64::from_le_bytes(r.take()?),
                lat: r.f32()?,
                lon: r.f32()?,
                accuracy_km: u16::from_le_bytes(r.take()?),
                ip: r.take()?,
            });
        }
        if !r.0.is_empty() {
            return Err(RiskError::Model("stored history has trailing bytes".into()));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::LevelKeys;

    #[test]
    fn round_trips_and_rejects_damage() {
        let mut h = UserHistory::default();
        assert_eq!(UserHistory::decode(&h.encode()).unwrap(), h);
        for i in 0..20u64 {
            let keys = LevelKeys {
                net: [i, i / 2, 7, 49],
                ua: [i % 3, 11, 12, 13, 14],
                device: 99 + i % 2,
                hour: (i * 7 % 168) as u8,
                has_device: i % 4 != 0,
                signals: (i % 3) as u16,
            };
            let last = LastLogin {
                at: 1_767_225_600 + i as i64,
                lat: 48.1,
                lon: 11.6,
                accuracy_km: 20,
                ip: [i as u8; 16],
            };
            h.admit(&keys, Some(last), 0.97);
        }
        let bytes = h.encode();
        assert_eq!(UserHistory::decode(&bytes).unwrap(), h);
        assert!(UserHistory::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(UserHistory::decode(&longer).is_err());
        let mut other = bytes.clone();
        assert_ne!(h.device_sigs, [[0; DEVICE_SIGS]; 8]);
        // A version-2 row is the same without the browser signals, and a
        // version-1 row also without the fingerprints; both follow the
        // header (13 bytes) and the ten TopKs (12 N + 4 each).
        let topks: usize = [8, 8, 6, 4, 6, 6, 4, 4, 3, 8]
            .iter()
            .map(|n| 12 * n + 4)
            .sum();
        let at = 13 + topks;
        let block = 8 * DEVICE_FPS * 4;
        let mut v2 = bytes.clone();
        v2[0] = 2;
        v2.drain(at + block..at + block + 8 * DEVICE_SIGS * 2);
        let old = UserHistory::decode(&v2).unwrap();
        assert_eq!(old.device_sigs, [[0; DEVICE_SIGS]; 8]);
        assert_eq!(old.device_fps, h.device_fps);
        assert_eq!((old.n, old.device, old.hours), (h.n, h.device, h.hours));
        let mut v1 = v2.clone();
        v1[0] = 1;
        v1.drain(at..at + block);
        let old = UserHistory::decode(&v1).unwrap();
        assert_eq!(old.device_fps, [[0; DEVICE_FPS]; 8]);
        assert_eq!((old.n, old.device, old.hours), (h.n, h.device, h.hours));
        other[0] = 9;
        let err = UserHistory::decode(&other).unwrap_err().to_string();
        assert!(err.contains("version 9"), "{err}");
        assert!(UserHistory::decode(&[]).is_err());
    }
}
