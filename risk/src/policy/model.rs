//! The compiled policy: levels by index, rules with parsed conditions.
//!
//! Everything here is immutable after [`super::Policy::load`]; a decision
//! reads it without allocating except for the reasons it returns.

use super::conditions::Cond;
use super::file::FactorKind;
use super::locate::Pos;

/// A set of proven factor kinds, one bit per [`FactorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FactorSet(pub u8);

impl FactorSet {
    /// The set of the given kinds.
    pub fn of(kinds: &[FactorKind]) -> FactorSet {
        FactorSet(kinds.iter().fold(0, |acc, k| acc | k.bit()))
    }

    /// Whether every kind of `other` is in `self`.
    pub fn contains_all(self, other: FactorSet) -> bool {
        self.0 & other.0 == other.0
    }
}

/// One compiled rung of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Name rules use.
    pub name: String,
    /// `acr` value in tokens and `acr_values`.
    pub acr: String,
    /// Any one of these combinations reaches the level.
    pub combos: Vec<FactorSet>,
    /// Seconds after `auth_time` a session still counts at this level.
    pub max_age: u64,
}

/// The ladder, weakest first; a level is identified by its index.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The levels, weakest first.
    pub levels: Vec<Level>,
}

impl Ladder {
    /// The index of the level with this `acr` value.
    pub fn by_acr(&self, acr: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.acr == acr)
    }

    /// The index of the level with this name.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.name == name)
    }

    /// The strongest level that `proven` reaches, if any. A level is reached
    /// when one of its combinations is fully proven; since the ladder is an
    /// order of strength, the issuer should also require the levels below
    /// to be reached (this returns the highest index whose level and every
    /// weaker level is reached), so a misconfigured ladder cannot skip a rung.
    pub fn reached(&self, proven: FactorSet) -> Option<usize> {
        let mut best = None;
        for (i, l) in self.levels.iter().enumerate() {
            if l.combos.iter().any(|c| proven.contains_all(*c)) {
                best = Some(i);
            } else {
                break;
            }
        }
        best
    }

    /// The `acr` of [`Ladder::reached`].
    pub fn acr_for(&self, proven: &[FactorKind]) -> Option<&str> {
        self.reached(FactorSet::of(proven))
            .map(|i| self.levels[i].acr.as_str())
    }
}

/// What a band or a rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No extra requirement.
    Allow,
    /// At least `level`, authenticated at most `max_age` seconds ago.
    Require {
        /// Index into the ladder.
        level: usize,
        /// Explicit freshness, seconds.
        max_age: Option<u64>,
    },
    /// Refuse.
    Deny {
        /// Revoke the user's sessions and refresh-token families.
        revoke: bool,
        /// Raise a security alert.
        alert: bool,
    },
}

impl Verdict {
    /// The stronger of two verdicts: deny beats require beats allow; two
    /// requirements take the higher level and the shorter max age.
    pub fn stronger(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (
                Deny { revoke, alert },
                Deny {
                    revoke: r,
                    alert: a,
                },
            ) => Deny {
                revoke: revoke || r,
                alert: alert || a,
            },
            (d @ Deny { .. }, _) | (_, d @ Deny { .. }) => d,
            (
                Require { level, max_age },
                Require {
                    level: l,
                    max_age: m,
                },
            ) => Require {
                level: level.max(l),
                max_age: match (max_age, m) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            },
            (r @ Require { .. }, Allow) | (Allow, r @ Require { .. }) => r,
            (Allow, Allow) => Allow,
        }
    }
}

/// A verdict with its notifications.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// What to do.
    pub verdict: Verdict,
    /// Notification channels.
    pub notify: Vec<String>,
}

/// One compiled band: scores `..=up_to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Highest score in the band.
    pub up_to: u8,
    /// Its effect.
    pub effect: Effect,
}

/// Where a rule sits relative to the bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `rules_before`: first match is final.
    Before,
    /// `rules_after`: first match is combined with the band, stronger wins.
    After,
}

/// Where something came from: file index in the policy set and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// Index into [`super::Policy::sources`].
    pub file: usize,
    /// Line and column.
    pub pos: Pos,
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Human text for the decision's reason.
    pub description: String,
    /// Before or after the bands.
    pub stage: Stage,
    /// Parsed conditions.
    pub cond: Cond,
    /// What it does.
    pub effect: Effect,
    /// Where it is written.
    pub origin: Origin,
}

/// The default ladder of BRIEF.md with NIST SP 800-63B-4 reauthentication
/// limits: AAL1 30 days, AAL2 24 hours, AAL3 12 hours (applied to `phr`
/// and `phrh`). The agent's device key is PIN- or presence-activated, so it
/// counts as a multi-factor cryptographic authenticator. TOTP is never
/// phishing-resistant; a synced passkey is at most `phr`.
pub fn default_ladder() -> Ladder {
    use FactorKind::*;
    let level = |name: &str, combos: &[&[FactorKind]], max_age: u64| Level {
        name: name.to_owned(),
        acr: name.to_owned(),
        combos: combos.iter().map(|c| FactorSet::of(c)).collect(),
        max_age,
    };
    const DAY: u64 = 86_400;
    Ladder {
        levels: vec![
            level(
                "aal1",
                &[
                    &[Pwd],
                    &[Otp],
                    &[PasskeySynced],
                    &[PasskeyBound],
                    &[DeviceSw],
                    &[DeviceHw],
                ],
                30 * DAY,
            ),
            level(
                "aal2",
                &[
                    &[Pwd, Otp],
                    &[PasskeySynced],
                    &[PasskeyBound],
                    &[DeviceSw],
                    &[DeviceHw],
                ],
                DAY,
            ),
            level(
                "phr",
                &[&[PasskeySynced], &[PasskeyBound], &[DeviceSw], &[DeviceHw]],
                DAY / 2,
            ),
            level("phrh", &[&[PasskeyBound], &[DeviceHw]], DAY / 2),
        ],
    }
}
