//! The model file: calibrator weights, smoothing parameters, version.
//!
//! # Formula
//!
//! For a hierarchical feature with levels `x_0` (finest) … `x_k`
//! (coarsest), the user's smoothed probability backs off level by level
//! (Freeman et al., NDSS 2016, with Witten–Bell-style back-off weights):
//!
//! ```text
//! p_u(x_j) = (c_u(x_j) + λ_j · p_u(x_{j+1}) · p(x_j | x_{j+1})) / (n_u + λ_j)
//! λ_j      = μ + κ · d_u(j)            (d_u(j): distinct values the user has at level j)
//! ```
//!
//! and the likelihood ratio attacker/user uses the global frequency `p(x)`
//! as the attacker's distribution. Writing `r_j = p_u(x_j) / p(x_j)`, the
//! global conditionals cancel and only values the user has seen need a
//! global frequency:
//!
//! ```text
//! r_{k+1} = 1,   r_j = (c_u(x_j) / p(x_j) + λ_j · r_{j+1}) / (n_u + λ_j)
//! LLR     = −ln r_0                      (clipped to ±llr_clip)
//! ```
//!
//! A new user (`n_u = 0`) gets `LLR = 0`: no evidence either way. The LLRs
//! of the network, user-agent, device and (optional) hour-of-week
//! hierarchies, the travel and velocity features are combined by a
//! logistic calibrator `P(attack) = σ(b + Σ w_i f_i)`, and the score is
//! `round(100 · P)`.

use serde::{Deserialize, Serialize};

use crate::error::{Result, RiskError};
use crate::schema::{FEATURES, NUM_FEATURES};

/// Back-off parameters of one hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSmoothing {
    /// Base back-off mass μ (> 0).
    pub mu: f64,
    /// Extra back-off mass per distinct value the user has (κ ≥ 0).
    pub kappa: f64,
}

/// Smoothing per hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoothing {
    /// IP → prefix → ASN → country.
    pub network: LevelSmoothing,
    /// UA → browser version → browser → OS → device type.
    pub user_agent: LevelSmoothing,
    /// Device id.
    pub device: LevelSmoothing,
    /// Hour of week.
    pub hour: LevelSmoothing,
}

/// Where the default score bands sit on the calibrator's logit.
///
/// The score is a monotone, piecewise-linear map of the logit through
/// three anchors: `step_up_logit` ↦ 30.5 (the edge of the default allow
/// band), `deny_logit` ↦ 70.5 (the edge of the default deny band), and 6
/// logit units (a factor of 400 in odds) beyond each anchor ↦ 0 or 100.
/// Training places the anchors by the operating point (see
/// `train::set_operating_point`); the ranking is unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreMap {
    /// Logit that maps to score 30.5.
    pub step_up_logit: f64,
    /// Logit that maps to score 70.5.
    pub deny_logit: f64,
}

impl Default for ScoreMap {
    /// Anchors at P = 0.305 and P = 0.705: the score is close to 100·P.
    fn default() -> Self {
        ScoreMap {
            step_up_logit: (0.305f64 / 0.695).ln(),
            deny_logit: (0.705f64 / 0.295).ln(),
        }
    }
}

impl ScoreMap {
    /// The logit that maps to `score` (the inverse of [`ScoreMap::score`]
    /// before rounding).
    pub fn logit_at(&self, score: f64) -> f64 {
        let (a, b) = (self.step_up_logit, self.deny_logit);
        if score < 30.5 {
            a + (score - 30.5) * 6.0 / 30.5
        } else if score < 70.5 {
            a + (score - 30.5) / 40.0 * (b - a)
        } else {
            b + (score - 70.5) * 6.0 / 29.5
        }
    }

    /// The 0–100 score of a logit.
    pub fn score(&self, logit: f64) -> u8 {
        let (a, b) = (self.step_up_logit, self.deny_logit);
        let s = if logit < a {
            30.5 + (logit - a) * 30.5 / 6.0
        } else if logit < b {
            30.5 + (logit - a) / (b - a) * 40.0
        } else {
            70.5 + (logit - b) * 29.5 / 6.0
        };
        s.round().clamp(0.0, 100.0) as u8
    }
}

/// A complete model. Loaded from JSON at start and on hot reload; the
/// built-in [`Model::builtin`] is used when none is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Free-form version string, reported with every score.
    pub version: String,
    /// How the model was produced (command, trace, date).
    #[serde(default)]
    pub description: String,
    /// Feature names, in the order of `weights`; must equal [`FEATURES`].
    pub features: Vec<String>,
    /// Calibrator weights, one per feature.
    pub weights: Vec<f64>,
    /// Calibrator intercept.
    pub bias: f64,
    /// Back-off parameters.
    pub smoothing: Smoothing,
    /// Per-login decay γ of history counts (0 < γ ≤ 1).
    pub decay: f32,
    /// LLRs are clipped to `[-llr_clip, llr_clip]`.
    pub llr_clip: f64,
    /// Whether the hour-of-week feature is computed (off by default).
    #[serde(default)]
    pub hour_of_week: bool,
    /// Logit → score anchors.
    #[serde(default)]
    pub score_map: ScoreMap,
    /// Most that familiarity (negative contributions: a known device, a
    /// usual network) may lower the logit, so habit can never cancel the
    /// evidence against a login.
    #[serde(default = "default_max_credit")]
    pub max_credit: f64,
    /// Global frequencies are clamped to `[floor, ceiling]` before they
    /// enter a likelihood ratio, so the ratios do not depend on how many
    /// users the deployment has: with ten users every device is
    /// "globally common" (no credit for the user's own), with ten million
    /// every one is rare (unbounded credit).
    #[serde(default = "default_global_clamp")]
    pub global_frequency: [f64; 2],
}

/// The default clamp of global frequencies: as if at least 50 users and
/// at most 10,000 shared each value.
pub const DEFAULT_GLOBAL_CLAMP: [f64; 2] = [1e-4, 0.02];

fn default_global_clamp() -> [f64; 2] {
    DEFAULT_GLOBAL_CLAMP
}

/// The default bound on familiarity credit, in logit units (a factor of
/// about 400 in odds).
pub const DEFAULT_MAX_CREDIT: f64 = 6.0;

fn default_max_credit() -> f64 {
    DEFAULT_MAX_CREDIT
}

const BUILTIN: &str = include_str!("default_model.json");

impl Model {
    /// The model shipped with the crate (trained on simulated traffic, see
    /// docs/risk.md). Falls back to [`Model::prior`] if the embedded file is
    /// ever invalid (a unit test guarantees it is not).
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN).unwrap_or_else(|_| Self::prior())
    }

    /// An untrained naive-Bayes model: each LLR with weight 1, travel and
    /// velocity with hand-set weights. Used to bootstrap training.
    pub fn prior() -> Self {
        let mut weights = vec![0.0; NUM_FEATURES];
        let set = |w: &mut Vec<f64>, name: &str, v: f64| {
            if let Some(i) = FEATURES.iter().position(|f| *f == name) {
                w[i] = v;
            }
        };
        for (name, v) in [
            ("net_llr", 1.0),
            ("ua_llr", 1.0),
            ("device_llr", 1.0),
            ("device_llr_known_ip", 1.0),
            ("net_llr_unknown_device", 1.0),
            ("impossible_travel", 3.0),
            ("travel_excess", 1.0),
            ("hosting_network", 1.0),
            ("ip_distinct_users_1h", 1.5),
            ("ip_failures_1h", 1.0),
            ("user_failures_1h", 0.5),
            ("prefix_failures_1h", 0.5),
        ] {
            set(&mut weights, name, v);
        }
        Model {
            version: "prior-1".into(),
            description: "untrained naive-Bayes prior".into(),
            features: FEATURES.iter().map(|s| (*s).to_owned()).collect(),
            weights,
            bias: -6.0,
            smoothing: Smoothing {
                network: LevelSmoothing {
                    mu: 1.0,
                    kappa: 1.0,
                },
                user_agent: LevelSmoothing {
                    mu: 1.0,
                    kappa: 1.0,
                },
                device: LevelSmoothing {
                    mu: 1.0,
                    kappa: 0.0,
                },
                hour: LevelSmoothing {
                    mu: 4.0,
                    kappa: 0.0,
                },
            },
            decay: 0.97,
            llr_clip: 12.0,
            hour_of_week: false,
            score_map: ScoreMap::default(),
            max_credit: DEFAULT_MAX_CREDIT,
            global_frequency: DEFAULT_GLOBAL_CLAMP,
        }
    }

    /// Parses and validates a model file's text.
    pub fn from_json(text: &str) -> Result<Self> {
        let m: Model = serde_json::from_str(text).map_err(|e| RiskError::Model(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| RiskError::Model(e.to_string()))
    }

    /// Checks the feature list, weights and parameters.
    pub fn validate(&self) -> Result<()> {
        if self.features.len() != NUM_FEATURES
            || self.features.iter().zip(FEATURES).any(|(a, b)| a != b)
        {
            return Err(RiskError::Model(format!(
                "features must be exactly {FEATURES:?}"
            )));
        }
        if self.weights.len() != NUM_FEATURES {
            return Err(RiskError::Model(format!(
                "expected {NUM_FEATURES} weights, got {}",
                self.weights.len()
            )));
        }
        if !self
            .weights
            .iter()
            .chain([&self.bias, &self.llr_clip])
            .all(|w| w.is_finite())
        {
            return Err(RiskError::Model("weights must be finite".into()));
        }
        let s = &self.smoothing;
        for (name, l) in [
            ("network", s.network),
            ("user_agent", s.user_agent),
            ("device", s.device),
            ("hour", s.hour),
        ] {
            if !(l.mu > 0.0 && l.kappa >= 0.0 && l.mu.is_finite() && l.kappa.is_finite()) {
                return Err(RiskError::Model(format!(
                    "smoothing.{name}: need mu > 0 and kappa ≥ 0"
                )));
            }
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return Err(RiskError::Model("decay must be in (0, 1]".into()));
        }
        let m = self.score_map;
        if !(m.step_up_logit.is_finite()
            && m.deny_logit.is_finite()
            && m.step_up_logit < m.deny_logit)
        {
            return Err(RiskError::Model(
                "score_map: need finite step_up_logit < deny_logit".into(),
            ));
        }
        let [lo, hi] = self.global_frequency;
        if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
            return Err(RiskError::Model(
                "global_frequency: need 0 < floor ≤ ceiling ≤ 1".into(),
            ));
        }
        if !(self.max_credit >= 0.0 && self.max_credit.is_finite()) {
            return Err(RiskError::Model("max_credit must be finite and ≥ 0".into()));
        }
        if self.llr_clip <= 0.0 {
            return Err(RiskError::Model("llr_clip must be positive".into()));
        }
        Ok(())
    }

    /// `b + Σ w_i f_i`, where the negative terms together count for at
    /// most `max_credit`.
    pub fn logit(&self, features: &[f64; NUM_FEATURES]) -> f64 {
        let (mut up, mut down) = (0.0, 0.0);
        for (w, f) in self.weights.iter().zip(features) {
            let c = w * f;
            if c >= 0.0 { up += c } else { down += c }
        }
        self.bias + up + down.max(-self.max_credit)
    }

    /// The 0–100 score for a feature vector.
    pub fn score(&self, features: &[f64; NUM_FEATURES]) -> u8 {
        self.score_map.score(self.logit(features))
    }

    /// A global frequency clamped to [`Model::global_frequency`].
    pub fn global(&self, p: f64) -> f64 {
        let [lo, hi] = self.global_frequency;
        p.clamp(lo, hi)
    }

    /// `P(attack)` at the training trace's attack share.
    pub fn probability(&self, features: &[f64; NUM_FEATURES]) -> f64 {
        1.0 / (1.0 + (-self.logit(features)).exp())
    }
}

/// The back-off recursion of the module docs. `levels` holds, finest
/// first, `(c_u(x_j), d_u(j), p(x_j))`; `p(x_j)` is only read when the
/// count is positive. Returns the clipped log likelihood ratio
/// attacker/user: positive means "more typical of attackers than of this
/// user".
pub fn backoff_llr(levels: &[(f64, f64, f64)], n: f64, s: LevelSmoothing, clip: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let mut r = 1.0;
    for &(c, d, p) in levels.iter().rev() {
        let lambda = s.mu + s.kappa * d;
        let seen = if c > 0.0 { c / p.max(1e-12) } else { 0.0 };
        r = (seen + lambda * r) / (n + lambda);
    }
    (-r.ln()).clamp(-clip, clip)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: LevelSmoothing = LevelSmoothing {
        mu: 1.0,
        kappa: 0.0,
    };

    fn check(levels: &[(f64, f64, f64)], n: f64, expected: f64) {
        let got = backoff_llr(levels, n, S, 50.0);
        assert!(
            (got - expected).abs() < 1e-9,
            "{levels:?} n={n}: {got}, want {expected}"
        );
    }

    #[test]
    fn smoothing_backs_off_in_hierarchy_order() {
        // Hand-computed with μ=1, κ=0, n=9 (so n+λ = 10).
        // Nothing known at any of 3 levels: r = (1/10)^3 → LLR = 3 ln 10.
        check(
            &[(0.0, 0.0, 0.1), (0.0, 0.0, 0.1), (0.0, 0.0, 0.1)],
            9.0,
            3.0 * 10f64.ln(),
        );
        // Unseen IP in a familiar ASN (all 9 logins, global share 0.1):
        // r_asn = (90 + 1)/10 = 9.1, r_ip = 9.1/10 = 0.91 → LLR = −ln 0.91.
        check(&[(0.0, 0.0, 0.1), (9.0, 0.0, 0.1)], 9.0, -(0.91f64).ln());
        // Unseen ASN in a familiar country: r_c = 9.1, r_asn = 0.91, r_ip = 0.091.
        check(
            &[(0.0, 0.0, 0.1), (0.0, 0.0, 0.1), (9.0, 0.0, 0.1)],
            9.0,
            -(0.091f64).ln(),
        );
        // New user: no evidence.
        check(&[(0.0, 0.0, 0.1)], 0.0, 0.0);
    }

    #[test]
    fn unseen_ip_in_familiar_asn_scores_lower_than_unseen_country() {
        let familiar_asn = backoff_llr(
            &[
                (0.0, 2.0, 0.1),
                (0.0, 2.0, 0.1),
                (10.0, 1.0, 0.05),
                (10.0, 1.0, 0.3),
            ],
            10.0,
            S,
            12.0,
        );
        let new_asn = backoff_llr(
            &[
                (0.0, 2.0, 0.1),
                (0.0, 2.0, 0.1),
                (0.0, 1.0, 0.05),
                (10.0, 1.0, 0.3),
            ],
            10.0,
            S,
            12.0,
        );
        let new_country = backoff_llr(
            &[
                (0.0, 2.0, 0.1),
                (0.0, 2.0, 0.1),
                (0.0, 1.0, 0.05),
                (0.0, 1.0, 0.3),
            ],
            10.0,
            S,
            12.0,
        );
        assert!(
            familiar_asn < new_asn && new_asn < new_country,
            "{familiar_asn} {new_asn} {new_country}"
        );
    }

    #[test]
    fn score_map_is_monotone_through_its_anchors() {
        let m = ScoreMap {
            step_up_logit: -2.0,
            deny_logit: 2.0,
        };
        let cases = [
            (-100.0, 0),
            (-8.0, 0),
            (-5.0, 15),
            (-2.0, 31),
            (0.0, 51),
            (2.0, 71),
            (5.0, 85),
            (8.0, 100),
            (100.0, 100),
        ];
        for (logit, want) in cases {
            assert_eq!(m.score(logit), want, "{logit}");
        }
    }

    #[test]
    fn builtin_model_is_valid() {
        let text = BUILTIN;
        Model::from_json(text).unwrap();
        assert!(Model::from_json("{}").is_err());
        let mut bad = Model::prior();
        bad.weights.pop();
        assert!(bad.validate().is_err());
    }
}
