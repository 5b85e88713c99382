//! Bounded global frequencies: how common a value is across all users.
//!
//! The likelihood-ratio model needs `p(x)` — the frequency of a value over
//! everyone, a proxy for the attacker's distribution — but only for values
//! the user has already used. A count-min sketch (4 rows, conservative
//! update) holds them in a fixed amount of memory whatever the number of
//! distinct IPs, user agents or devices: counts can only be over-estimated,
//! which makes a familiar value look slightly *less* distinctive, the safe
//! direction for a risk score.

use crate::hashing::{Level, mix};

const DEPTH: usize = 4;
const LEVELS: usize = 16;

/// Count-min sketch over all levels plus per-level totals.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalFrequencies {
    pub(crate) mask: usize,
    pub(crate) cells: Vec<u32>,
    pub(crate) totals: [f64; LEVELS],
}

impl Default for GlobalFrequencies {
    /// 2^18 columns × 4 rows × 4 bytes = 4 MiB.
    fn default() -> Self {
        GlobalFrequencies::new(18)
    }
}

impl GlobalFrequencies {
    /// A sketch with `2^log2_width` columns (memory: `16 · 2^log2_width` bytes).
    pub fn new(log2_width: u32) -> Self {
        let width = 1usize << log2_width.clamp(4, 26);
        GlobalFrequencies {
            mask: width - 1,
            cells: vec![0; width * DEPTH],
            totals: [0.0; LEVELS],
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.totals.iter().all(|&t| t == 0.0)
    }

    /// Adds everything `other` counted (a sketch of another stream of the
    /// same width: another replica's, or the counts since the last save).
    /// Cell-wise sums keep the count-min guarantee: never an
    /// under-estimate.
    pub fn merge(&mut self, other: &GlobalFrequencies) -> crate::Result<()> {
        if other.mask != self.mask {
            return Err(crate::RiskError::Model(format!(
                "global sketches of widths {} and {} cannot be merged",
                self.mask + 1,
                other.mask + 1
            )));
        }
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            *a = a.saturating_add(*b);
        }
        for (a, b) in self.totals.iter_mut().zip(&other.totals) {
            *a += b;
        }
        Ok(())
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.cells.len() * 4
    }

    fn slots(&self, key: u64) -> [usize; DEPTH] {
        let h2 = mix(key) | 1;
        let width = self.mask + 1;
        let mut out = [0; DEPTH];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot =
                i * width + (key.wrapping_add((i as u64).wrapping_mul(h2)) as usize & self.mask);
        }
        out
    }

    /// Estimated count of `key` (an upper bound of the true count).
    pub fn count(&self, key: u64) -> u32 {
        self.slots(key)
            .iter()
            .map(|&s| self.cells[s])
            .min()
            .unwrap_or(0)
    }

    /// Smoothed global probability of `key` at `level`; never zero.
    pub fn probability(&self, level: Level, key: u64) -> f64 {
        let total = self.totals[level as usize % LEVELS];
        (f64::from(self.count(key)) + 0.5) / (total + 1.0)
    }

    /// Counts one occurrence of `key` at `level` (conservative update: only
    /// the minimal cells grow, which keeps over-estimates small).
    pub fn add(&mut self, level: Level, key: u64) {
        self.totals[level as usize % LEVELS] += 1.0;
        let slots = self.slots(key);
        let min = slots.iter().map(|&s| self.cells[s]).min().unwrap_or(0);
        for s in slots {
            if self.cells[s] == min {
                self.cells[s] = min.saturating_add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(adds: &[(u64, u32)], key: u64, expected: u32) {
        let mut g = GlobalFrequencies::new(8);
        for &(k, times) in adds {
            for _ in 0..times {
                g.add(Level::Ip, k);
            }
        }
        assert!(g.count(key) >= expected, "never under-estimates");
        assert_eq!(
            g.count(key),
            expected,
            "small sets are exact with high probability"
        );
    }

    #[test]
    fn counts_and_probabilities() {
        check(&[(1, 3), (2, 5)], 1, 3);
        check(&[(1, 3), (2, 5)], 2, 5);
        check(&[(1, 3)], 99, 0);
        let mut g = GlobalFrequencies::new(8);
        for _ in 0..9 {
            g.add(Level::Country, 42);
        }
        assert!((g.probability(Level::Country, 42) - 9.5 / 10.0).abs() < 1e-12);
        assert!((g.probability(Level::Country, 7) - 0.5 / 10.0).abs() < 1e-12);
    }
}
