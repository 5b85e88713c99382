//! Assurance levels (the default ladder) and what a request requires.
//!
//! Follows NIST SP 800-63B-4 as BRIEF.md states it: TOTP is never
//! phishing-resistant; a synced (backup-eligible) passkey reaches at most
//! `phr`; a level is reached only by factors actually proven — a risk score
//! may demand a level but never raises one.

use super::{Method, ProvenFactor};
use serde::{Deserialize, Serialize};

/// A level of the default ladder, lowest first. The order is the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One factor.
    Aal1,
    /// Two factors, or a passkey with user verification.
    Aal2,
    /// Phishing-resistant: a passkey with user verification, or an agent
    /// device key with its PIN.
    Phr,
    /// Phishing-resistant and hardware-bound: a device-bound passkey whose
    /// attestation the policy trusts, or a TPM-held agent device key.
    Phrh,
}

impl Level {
    /// The `acr` value.
    pub fn acr(self) -> &'static str {
        match self {
            Level::Aal1 => "aal1",
            Level::Aal2 => "aal2",
            Level::Phr => "phr",
            Level::Phrh => "phrh",
        }
    }

    /// Parses an `acr` value; unknown values are `None` (and ignored by
    /// `acr_values`, which OIDC Core treats as voluntary).
    pub fn from_acr(s: &str) -> Option<Level> {
        match s {
            "aal1" => Some(Level::Aal1),
            "aal2" => Some(Level::Aal2),
            "phr" => Some(Level::Phr),
            "phrh" => Some(Level::Phrh),
            _ => None,
        }
    }

    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::Aal1, Level::Aal2, Level::Phr, Level::Phrh];

    /// The highest level `factors` reach, if any.
    pub fn reached(factors: &[ProvenFactor]) -> Option<Level> {
        if factors.is_empty() {
            return None;
        }
        let mut best = Level::Aal1;
        let (mut know, mut have) = (false, false);
        for f in factors {
            match f.method {
                Method::Password => know = true,
                Method::Totp => have = true,
                // Synced, or device-bound without an attestation the
                // policy trusts: phishing-resistant but not hardware-bound.
                Method::Passkey {
                    user_verified,
                    backup_eligible,
                    attested,
                } => {
                    have = true;
                    if user_verified {
                        know = true;
                        best = best.max(if attested && !backup_eligible {
                            Level::Phrh
                        } else {
                            Level::Phr
                        });
                    }
                }
                // PIN + device key over a number-matched approval: two
                // factors, phishing-resistant; hardware-bound only in a TPM.
                Method::DeviceKey { hardware } => {
                    know = true;
                    have = true;
                    best = best.max(if hardware { Level::Phrh } else { Level::Phr });
                }
            }
        }
        if know && have {
            best = best.max(Level::Aal2);
        }
        Some(best)
    }
}

impl Level {
    /// The highest level `factors` reach and *when* it was reached: the
    /// latest time `t` such that the factors proven at or after `t` still
    /// reach it. A passkey at t0 and a password at t1 reach `phr` at t0,
    /// not at t1: a later, weaker factor never makes an old strong one
    /// look fresh (`auth_time` says when the level was proven).
    pub fn reached_at(factors: &[ProvenFactor]) -> Option<(Level, i64)> {
        let best = Level::reached(factors)?;
        let mut times: Vec<i64> = factors.iter().map(|f| f.at).collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.dedup();
        let oldest = times.last().copied().unwrap_or(0);
        let at = times
            .into_iter()
            .find(|t| {
                let since: Vec<ProvenFactor> =
                    factors.iter().copied().filter(|f| f.at >= *t).collect();
                Level::reached(&since) >= Some(best)
            })
            .unwrap_or(oldest);
        Some((best, at))
    }
}

/// What a change to a user's factors (binding, removing or regenerating a
/// passkey, TOTP, recovery codes, a device) needs: a fresh sign-in at the
/// level the factors the user already holds reach together (NIST SP
/// 800-63B-4 §6.1.2.1), proven within `window` seconds. A factor being
/// bound cannot raise it further: the user has no way yet to prove it.
pub fn to_change_factors(held: &[Method], window: i64) -> Requirement {
    let factors: Vec<ProvenFactor> = held
        .iter()
        .map(|m| ProvenFactor { method: *m, at: 0 })
        .collect();
    Requirement {
        level: Level::reached(&factors).unwrap_or(Level::Aal1),
        max_age: Some(window),
    }
}

/// What a login must reach: a level, and how recent the factors must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub level: Level,
    /// Factors older than this many seconds do not count (OIDC `max_age`).
    pub max_age: Option<i64>,
}

impl Requirement {
    /// Combines the client's default level with the request's `acr_values`
    /// and `max_age`. `acr_values` lists acceptable levels; the lowest known
    /// one is the floor (any of them satisfies the request). The stronger of
    /// client default and request wins.
    pub fn from_request(
        client_default: Level,
        acr_values: &[String],
        max_age: Option<i64>,
    ) -> Requirement {
        let requested = acr_values.iter().filter_map(|v| Level::from_acr(v)).min();
        Requirement {
            level: requested.map_or(client_default, |r| r.max(client_default)),
            max_age,
        }
    }

    /// The factors that still count at `now` under `max_age`.
    pub fn fresh(&self, factors: &[ProvenFactor], now: i64) -> Vec<ProvenFactor> {
        factors
            .iter()
            .copied()
            .filter(|f| self.max_age.is_none_or(|m| now - f.at <= m))
            .collect()
    }

    /// Whether `factors` meet this requirement at `now`.
    pub fn met_by(&self, factors: &[ProvenFactor], now: i64) -> bool {
        Level::reached(&self.fresh(factors, now)).is_some_and(|l| l >= self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(method: Method, at: i64) -> ProvenFactor {
        ProvenFactor { method, at }
    }
    const PK_SYNCED: Method = Method::Passkey {
        user_verified: true,
        backup_eligible: true,
        attested: false,
    };
    const PK_BOUND: Method = Method::Passkey {
        user_verified: true,
        backup_eligible: false,
        attested: false,
    };
    const PK_ATTESTED: Method = Method::Passkey {
        user_verified: true,
        backup_eligible: false,
        attested: true,
    };
    /// Inconsistent on purpose: a synced credential never reaches phrh,
    /// whatever else is claimed.
    const PK_SYNCED_ATTESTED: Method = Method::Passkey {
        user_verified: true,
        backup_eligible: true,
        attested: true,
    };

    #[test]
    fn ladder() {
        let cases: Vec<(Vec<Method>, Option<Level>)> = vec![
            (vec![], None),
            (vec![Method::Password], Some(Level::Aal1)),
            (vec![Method::Totp], Some(Level::Aal1)),
            (vec![Method::Password, Method::Totp], Some(Level::Aal2)),
            (vec![PK_SYNCED], Some(Level::Phr)),
            (vec![PK_BOUND], Some(Level::Phr)),
            (vec![PK_ATTESTED], Some(Level::Phrh)),
            (vec![PK_SYNCED_ATTESTED], Some(Level::Phr)),
            (vec![Method::Password, PK_BOUND], Some(Level::Phr)),
            (vec![PK_SYNCED, PK_ATTESTED], Some(Level::Phrh)),
            (
                vec![Method::Password, Method::Totp, PK_SYNCED],
                Some(Level::Phr),
            ),
            (
                vec![Method::Passkey {
                    user_verified: false,
                    backup_eligible: false,
                    attested: true,
                }],
                Some(Level::Aal1),
            ),
            (
                vec![Method::DeviceKey { hardware: false }],
                Some(Level::Phr),
            ),
            (
                vec![Method::DeviceKey { hardware: true }],
                Some(Level::Phrh),
            ),
            (
                vec![Method::Password, Method::DeviceKey { hardware: false }],
                Some(Level::Phr),
            ),
        ];
        for (methods, want) in cases {
            let factors: Vec<_> = methods.iter().map(|m| f(*m, 0)).collect();
            assert_eq!(Level::reached(&factors), want, "{methods:?}");
        }
    }

    /// A session serialised before `attested` existed still reads, and its
    /// device-bound passkey is not assumed attested (it stays at phr).
    #[test]
    fn passkey_factors_serialised_before_attestation_read_as_unattested() {
        let old =
            r#"{"method":{"kind":"passkey","user_verified":true,"backup_eligible":false},"at":7}"#;
        let f: ProvenFactor = serde_json::from_str(old).unwrap();
        assert_eq!(f.method, PK_BOUND);
        assert_eq!(Level::reached(&[f]), Some(Level::Phr));
        let new = serde_json::to_string(&ProvenFactor {
            method: PK_ATTESTED,
            at: 7,
        })
        .unwrap();
        assert!(new.contains("\"attested\":true"), "{new}");
    }

    /// Factors as (method, proven at), and the level with when it was reached.
    type Case = (Vec<(Method, i64)>, Option<(Level, i64)>);

    #[test]
    fn a_level_is_reached_when_its_factors_were_proven() {
        let cases: Vec<Case> = vec![
            (vec![], None),
            (vec![(Method::Password, 5)], Some((Level::Aal1, 5))),
            (
                vec![(Method::Password, 5), (Method::Password, 9)],
                Some((Level::Aal1, 9)),
            ),
            // Passkey at t0, password re-auth later: phr is as old as the passkey.
            (
                vec![(PK_SYNCED, 100), (Method::Password, 1300)],
                Some((Level::Phr, 100)),
            ),
            // Password + TOTP at t0, password again 96 s later: aal2 is from t0.
            (
                vec![(Method::Password, 1096), (Method::Totp, 1000)],
                Some((Level::Aal2, 1000)),
            ),
            (
                vec![
                    (Method::Totp, 1000),
                    (Method::Password, 1010),
                    (PK_BOUND, 1020),
                ],
                Some((Level::Phr, 1020)),
            ),
        ];
        for (proven, want) in cases {
            let factors: Vec<_> = proven.iter().map(|(m, at)| f(*m, *at)).collect();
            assert_eq!(Level::reached_at(&factors), want, "{proven:?}");
        }
    }

    /// (factors held, level a change needs)
    #[test]
    fn changing_factors_needs_the_strongest_held_level() {
        let cases: Vec<(Vec<Method>, Level)> = vec![
            (vec![], Level::Aal1),
            (vec![Method::Password], Level::Aal1),
            (vec![Method::Password, Method::Totp], Level::Aal2),
            (vec![Method::Password, PK_SYNCED], Level::Phr),
            (
                vec![Method::Password, Method::Totp, PK_ATTESTED],
                Level::Phrh,
            ),
            (
                vec![Method::Password, Method::DeviceKey { hardware: false }],
                Level::Phr,
            ),
        ];
        for (held, want) in cases {
            let r = to_change_factors(&held, 300);
            assert_eq!((r.level, r.max_age), (want, Some(300)), "{held:?}");
        }
        // A passkey user who re-authenticated with the password only (the
        // passkey is from before the window) may not change factors.
        let r = to_change_factors(&[Method::Password, PK_SYNCED], 300);
        assert!(!r.met_by(&[f(PK_SYNCED, 0), f(Method::Password, 1000)], 1100));
        assert!(r.met_by(&[f(PK_SYNCED, 900), f(Method::Password, 1000)], 1100));
    }

    #[test]
    fn requirements_combine_client_request_and_age() {
        let r = Requirement::from_request(
            Level::Aal1,
            &["phr".into(), "aal2".into(), "bogus".into()],
            Some(60),
        );
        assert_eq!(
            r,
            Requirement {
                level: Level::Aal2,
                max_age: Some(60)
            }
        );
        let r = Requirement::from_request(Level::Phr, &["aal1".into()], None);
        assert_eq!(r.level, Level::Phr);
        let pwd_totp = [f(Method::Password, 100), f(Method::Totp, 150)];
        let need = Requirement {
            level: Level::Aal2,
            max_age: Some(60),
        };
        assert!(need.met_by(&pwd_totp, 160));
        assert!(!need.met_by(&pwd_totp, 161), "password older than max_age");
        assert!(
            Requirement {
                level: Level::Aal1,
                max_age: Some(60)
            }
            .met_by(&pwd_totp, 161)
        );
    }
}
