//! A compact, versioned byte encoding of [`GlobalFrequencies`], so the
//! issuer can keep the sketch in its database and a restart does not
//! change decisions.
//!
//! Layout: `TGGF`, a version byte, `log2(width)`, the 16 per-level totals
//! as little-endian `f64`, then the non-zero cells in index order as
//! LEB128 pairs (gap since the previous non-zero cell, count). A small
//! deployment's sketch is mostly zeros and takes a few KiB; a full one
//! stays under 3 bytes a cell.

use crate::error::{Result, RiskError};
use crate::global::GlobalFrequencies;

const MAGIC: &[u8; 4] = b"TGGF";
const VERSION: u8 = 1;

fn corrupt(what: &str) -> RiskError {
    RiskError::Model(format!("stored global sketch: {what}"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or_else(|| corrupt("truncated"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corrupt("a number is too long"))
}

impl GlobalFrequencies {
    /// The sketch as bytes ([`GlobalFrequencies::decode`] reads them).
    pub fn encode(&self) -> Vec<u8> {
        let width = self.mask + 1;
        let mut out = Vec::with_capacity(6 + 8 * self.totals.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(width.trailing_zeros() as u8);
        for t in &self.totals {
            out.extend_from_slice(&t.to_le_bytes());
        }
        let mut previous = 0usize;
        for (i, &c) in self.cells.iter().enumerate() {
            if c != 0 {
                put_varint(&mut out, (i - previous) as u64);
                put_varint(&mut out, u64::from(c));
                previous = i;
            }
        }
        out
    }

    /// Reads [`GlobalFrequencies::encode`]'s bytes; anything else is an
    /// error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<GlobalFrequencies> {
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(corrupt("not a global sketch"));
        }
        if bytes[4] != VERSION {
            return Err(corrupt(&format!(
                "encoding version {}; this build reads {VERSION}",
                bytes[4]
            )));
        }
        let log2 = u32::from(bytes[5]);
        if !(4..=26).contains(&log2) {
            return Err(corrupt(&format!("width 2^{log2} out of range")));
        }
        let mut g = GlobalFrequencies::new(log2);
        let mut at = 6;
        for t in g.totals.iter_mut() {
            let b: [u8; 8] = bytes
                .get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| corrupt("truncated totals"))?;
            *t = f64::from_le_bytes(b);
            if !(t.is_finite() && *t >= 0.0) {
                return Err(corrupt("a total is not a count"));
            }
            at += 8;
        }
        let mut index = 0usize;
        let mut first = true;
        while at < bytes.len() {
            let gap = varint(bytes, &mut at)? as usize;
            if !first && gap == 0 {
                return Err(corrupt("cells out of order"));
            }
            first = false;
            index = index
                .checked_add(gap)
                .filter(|&i| i < g.cells.len())
                .ok_or_else(|| corrupt("a cell beyond the width"))?;
            let count = u32::try_from(varint(bytes, &mut at)?)
                .map_err(|_| corrupt("a count beyond 32 bits"))?;
            g.cells[index] = count;
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use crate::global::GlobalFrequencies;
    use crate::hashing::Level;

    fn counted(keys: &[(Level, u64, u32)]) -> GlobalFrequencies {
        let mut g = GlobalFrequencies::new(10);
        for &(level, key, times) in keys {
            for _ in 0..times {
                g.add(level, key);
            }
        }
        g
    }

    #[test]
    fn round_trips_and_merges() {
        let cases = [
            vec![],
            vec![(Level::Ip, 7, 1)],
            vec![
                (Level::Ip, 7, 300),
                (Level::Country, 1 << 40, 2),
                (Level::Asn, 3, 70_000),
            ],
        ];
        for keys in cases {
            let g = counted(&keys);
            let back = GlobalFrequencies::decode(&g.encode()).unwrap();
            assert_eq!(back, g, "{keys:?}");
            let mut twice = back.clone();
            twice.merge(&g).unwrap();
            for &(level, key, times) in &keys {
                assert_eq!(twice.count(key), 2 * g.count(key), "{keys:?}");
                assert!(twice.count(key) >= 2 * times);
                let (p1, p2) = (g.probability(level, key), twice.probability(level, key));
                assert!(p2 >= p1 && p2 < 2.0 * p1, "totals add up too: {p1} {p2}");
            }
        }
        let mut narrow = GlobalFrequencies::new(8);
        assert!(narrow.merge(&GlobalFrequencies::new(9)).is_err());
    }

    #[test]
    fn bad_bytes_are_errors() {
        let good = counted(&[(Level::Ip, 7, 3), (Level::Ip, 9, 1)]).encode();
        let mut wrong_version = good.clone();
        wrong_version[4] = 9;
        let mut too_wide = good.clone();
        too_wide[5] = 40;
        let mut negative_total = good.clone();
        negative_total[6..14].copy_from_slice(&(-1.0f64).to_le_bytes());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("not ours", b"hello world".to_vec()),
            ("wrong version", wrong_version),
            ("too wide", too_wide),
            ("negative total", negative_total),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("truncated totals", good[..20].to_vec()),
            (
                "a cell beyond the width",
                [&good[..134], &[0xff, 0xff, 0x7f, 1][..]].concat(),
            ),
            (
                "an endless number",
                [&good[..134], &[0xff; 11][..]].concat(),
            ),
        ];
        for (name, bytes) in cases {
            assert!(GlobalFrequencies::decode(&bytes).is_err(), "{name}");
        }
    }
}
