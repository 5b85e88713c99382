//! Training the calibrator: the logic of `tollgate risk train`.
//!
//! The labelled trace is replayed in time order with [`HistoryRule::Labels`]
//! (exactly the legitimate successful logins build history), so the
//! features seen in training are those of a deployment where attackers
//! fail their step-up. A logistic regression (linfa-logistic, L2
//! regularised) is fitted on the feature vectors; the likelihood-ratio
//! part (smoothing, decay) is taken unchanged from the base model.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use crate::error::{Result, RiskError};
use crate::event::{Label, LoginEvent};
use crate::model::Model;
use crate::model::ScoreMap;
use crate::replay::{HistoryRule, replay};
use crate::schema::NUM_FEATURES;
use crate::scorer::Scorer;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// L2 penalty (linfa's `alpha`).
    pub l2: f64,
    /// Iteration cap for the solver.
    pub max_iterations: u64,
    /// Share of the attacks of every kind that must score above the
    /// default allow band; places the score map (see
    /// [`set_operating_point`]). 0.995 is issue 11's target and Wiefling
    /// et al.'s first operating point; 0.999 would let the one hardest
    /// attack of a few hundred (e.g. a stolen cookie replayed after a
    /// plausible flight) place the anchor for everyone.
    pub target_tpr: f64,
    /// Largest share of training legitimate logins in the deny band.
    pub max_legit_denied: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            l2: 1.0,
            max_iterations: 100,
            target_tpr: 0.995,
            max_legit_denied: 0.001,
        }
    }
}

/// A labelled training set: features, attack flags, attack kinds.
#[derive(Debug, Default)]
pub struct TrainingSet {
    /// Feature vectors.
    pub x: Vec<[f64; NUM_FEATURES]>,
    /// True for attacks.
    pub y: Vec<bool>,
    /// Attack kind (empty for legit or unknown).
    pub kinds: Vec<String>,
    /// Whether the named detections alone put the login above the
    /// default allow band (their floor): such an attack is stepped up
    /// whatever the calibrator says, so it does not constrain where the
    /// step-up anchor goes.
    pub caught_by_detections: Vec<bool>,
}

impl TrainingSet {
    /// Appends another trace's rows (traces of different worlds, each
    /// replayed with its own geo databases, train one model together).
    pub fn append(&mut self, other: TrainingSet) {
        self.x.extend(other.x);
        self.y.extend(other.y);
        self.kinds.extend(other.kinds);
        self.caught_by_detections.extend(other.caught_by_detections);
    }
}

/// Feature vectors and labels of a labelled trace.
pub fn training_set(scorer: Scorer, events: &[(usize, LoginEvent)]) -> TrainingSet {
    let scored = replay(scorer, events, HistoryRule::Labels);
    let mut set = TrainingSet::default();
    for ((_, ev), s) in events.iter().zip(&scored) {
        // What the issuer scores: first factor succeeded (failures only
        // feed the counters the features read).
        if let Some(label) = ev.label.filter(|_| ev.success) {
            set.x.push(s.assessment.features.values);
            set.y.push(label == Label::Attack);
            set.kinds.push(ev.attack_kind.clone().unwrap_or_default());
            set.caught_by_detections
                .push(s.assessment.floor > crate::Thresholds::default().allow_max);
        }
    }
    set
}

/// Fits the calibrator on `(x, y)` and returns `base` with new weights.
///
/// Every feature is designed so that a larger value is more typical of an
/// attacker, so a negative weight can only come from collinearity or a
/// quirk of the training trace. The fit therefore keeps weights
/// non-negative (active set: refit without the most negative feature until
/// none is negative); a dropped feature keeps weight 0 and is reported by
/// nothing, which is what should generalise to traffic we never saw.
pub fn fit(
    base: &Model,
    x: &[[f64; NUM_FEATURES]],
    y: &[bool],
    opts: TrainOptions,
) -> Result<Model> {
    if !(y.contains(&true) && y.contains(&false)) {
        return Err(RiskError::Training(
            "need events labelled both legit and attack".into(),
        ));
    }
    let mut active: Vec<usize> = (0..NUM_FEATURES)
        .filter(|&j| x.iter().any(|r| r[j] != 0.0))
        .collect();
    loop {
        let (w, b) = fit_columns(x, y, &active, opts)?;
        let worst = w
            .iter()
            .enumerate()
            .filter(|(_, v)| **v < 0.0)
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        match worst {
            Some(i) if active.len() > 1 => {
                active.remove(i);
            }
            _ => {
                let mut model = base.clone();
                model.weights = vec![0.0; NUM_FEATURES];
                for (k, &j) in active.iter().enumerate() {
                    model.weights[j] = w[k].max(0.0);
                }
                model.bias = b;
                model.validate()?;
                return Ok(model);
            }
        }
    }
}

fn fit_columns(
    x: &[[f64; NUM_FEATURES]],
    y: &[bool],
    cols: &[usize],
    opts: TrainOptions,
) -> Result<(Vec<f64>, f64)> {
    let flat: Vec<f64> = x.iter().flat_map(|r| cols.iter().map(|&j| r[j])).collect();
    let records = Array2::from_shape_vec((x.len(), cols.len()), flat)
        .map_err(|e| RiskError::Training(e.to_string()))?;
    let data = Dataset::new(records, Array1::from_vec(y.to_vec()));
    let fitted = LogisticRegression::default()
        .alpha(opts.l2)
        .max_iterations(opts.max_iterations)
        .fit(&data)
        .map_err(|e| RiskError::Training(e.to_string()))?;
    // linfa's positive class is whichever label it met first.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    Ok((
        fitted.params().iter().map(|w| sign * w).collect(),
        sign * fitted.intercept(),
    ))
}

/// Places the score anchors: `target_tpr` of the training attacks *of
/// every kind* score above the default allow band, and at most `max_legit_denied` of the training
/// legitimate logins score in the deny band.
///
/// Logistic regression ranks well but its probabilities reflect the attack
/// share of the training trace, which says nothing about a deployment.
/// Following Wiefling et al., the step-up point is chosen by the share of
/// attacks that must be stepped up; the deny point so that legitimate
/// users (who are denied, not challenged, and so never teach their
/// history) are almost never denied. Only the score map moves; ranking and
/// ROC AUC are unchanged.
pub fn set_operating_point(
    model: &mut Model,
    set: &TrainingSet,
    target_tpr: f64,
    max_legit_denied: f64,
) {
    let sorted = |keep: &dyn Fn(usize) -> bool| {
        let mut v: Vec<f64> = (0..set.x.len())
            .filter(|&i| keep(i))
            .map(|i| model.logit(&set.x[i]))
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    };
    let legit = sorted(&|i| !set.y[i]);
    let mut kinds: Vec<&str> = (0..set.x.len())
        .filter(|&i| set.y[i])
        .map(|i| set.kinds[i].as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut step_up = f64::INFINITY;
    for kind in kinds {
        let of_kind = |i: usize| set.y[i] && set.kinds[i] == kind;
        let total = (0..set.x.len()).filter(|&i| of_kind(i)).count();
        // Only the attacks the detections leave to the calibrator need the
        // anchor below them; the others are stepped up by their floor.
        let left =
            sorted(&|i| of_kind(i) && !set.caught_by_detections.get(i).copied().unwrap_or(false));
        let k = ((1.0 - target_tpr) * total as f64).floor() as usize;
        if let Some(q) = left.get(k) {
            step_up = step_up.min(q - 1e-6);
        }
    }
    // A login with no evidence either way (a first login, nothing
    // unusual) sits at the bias: the calibrator alone never steps it up,
    // so the anchor goes no lower. An attack below it is one whose
    // familiarity outweighs its novelty, which no threshold can separate
    // from the user without stepping up everyone.
    step_up = step_up.max(model.bias + 1e-6);
    if legit.is_empty() || !step_up.is_finite() {
        return;
    }
    let d = (((1.0 - max_legit_denied) * legit.len() as f64).ceil() as usize).min(legit.len() - 1);
    let deny = legit[d].max(step_up + 2.0);
    model.score_map = ScoreMap {
        step_up_logit: step_up,
        deny_logit: deny,
    };
}

/// One labelled trace and the scorer (its world's geo databases, the
/// base model) it is replayed with.
pub type Trace<'a> = (Scorer, &'a [(usize, LoginEvent)]);

/// The whole of `tollgate risk train` after parsing.
///
/// The weights are fitted on `traces` together (several worlds, each
/// replayed with its own geo databases, so no single simulator's quirks
/// decide the weights); the score map (the operating point) is placed on
/// `validation` when given — other labelled traces of the same worlds —
/// so the thresholds are not chosen on the very logins the weights were
/// fitted to. Without it the training traces place them too. The base
/// model (smoothing, decay) is the first trace's scorer's.
pub fn train(
    traces: &[Trace<'_>],
    validation: &[Trace<'_>],
    opts: TrainOptions,
    description: &str,
) -> Result<Model> {
    let Some((first, _)) = traces.first() else {
        return Err(RiskError::Training("no training events".into()));
    };
    let base = first.model().clone();
    let gather = |list: &[Trace<'_>]| {
        let mut set = TrainingSet::default();
        for (scorer, events) in list {
            set.append(training_set(scorer.clone(), events));
        }
        set
    };
    let set = gather(traces);
    let held = (!validation.is_empty()).then(|| gather(validation));
    let (x, y) = (&set.x, &set.y);
    let mut model = fit(&base, x, y, opts)?;
    let placing = held.as_ref().unwrap_or(&set);
    if !(placing.y.contains(&true) && placing.y.contains(&false)) {
        return Err(RiskError::Training(
            "the validation trace needs events labelled both legit and attack".into(),
        ));
    }
    set_operating_point(&mut model, placing, opts.target_tpr, opts.max_legit_denied);
    let attacks = y.iter().filter(|a| **a).count();
    model.version = format!("lr-{}-{}", x.len(), attacks);
    model.description = format!(
        "{description} ({} labelled events, {attacks} attacks)",
        x.len()
    );
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of a one-feature training set: `(value, attack, caught by
    /// detections)`.
    type Row = (f64, bool, bool);

    fn one_feature(rows: &[Row]) -> TrainingSet {
        let mut set = TrainingSet::default();
        for &(v, attack, caught) in rows {
            let mut x = [0.0; NUM_FEATURES];
            x[0] = v;
            set.x.push(x);
            set.y.push(attack);
            set.kinds
                .push(if attack { "k".into() } else { String::new() });
            set.caught_by_detections.push(caught);
        }
        set
    }

    #[test]
    fn the_step_up_anchor_follows_what_only_the_calibrator_can_catch() {
        let mut model = Model::prior();
        model.weights = vec![0.0; NUM_FEATURES];
        model.weights[0] = 1.0;
        model.bias = -3.0;
        // (rows, where the anchor must land)
        let cases: [(&[Row], f64); 3] = [
            // An attack far below the rest that a detection steps up anyway
            // (a stolen cookie with impossible travel) places nothing.
            (
                &[
                    (-9.0, true, true),
                    (2.0, true, false),
                    (3.0, true, false),
                    (-5.0, false, false),
                ],
                -1.0,
            ),
            // The same attack left to the calibrator places the anchor.
            (
                &[
                    (0.5, true, false),
                    (2.0, true, false),
                    (3.0, true, false),
                    (-5.0, false, false),
                ],
                -2.5,
            ),
            // Never below a login with no evidence at all (logit = bias).
            (
                &[
                    (-9.0, true, false),
                    (2.0, true, false),
                    (-5.0, false, false),
                ],
                -3.0,
            ),
        ];
        for (rows, want) in cases {
            let set = one_feature(rows);
            let mut m = model.clone();
            set_operating_point(&mut m, &set, 0.995, 0.001);
            assert!(
                (m.score_map.step_up_logit - want).abs() < 1e-3,
                "{rows:?}: {:?}",
                m.score_map
            );
        }
    }

    #[test]
    fn fit_recovers_the_sign_of_a_separating_feature() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let attack = i % 4 == 0;
            let mut row = [0.0; NUM_FEATURES];
            row[0] = if attack { 3.0 } else { -1.0 } + (i % 7) as f64 * 0.1;
            // Anti-correlated with attacks: must be dropped, not given a negative weight.
            row[1] = if attack { 0.0 } else { 1.0 } + (i % 5) as f64 * 0.1;
            x.push(row);
            y.push(attack);
        }
        let m = fit(&Model::prior(), &x, &y, TrainOptions::default()).unwrap();
        assert!(m.weights[0] > 0.5, "{:?}", m.weights);
        assert_eq!(m.weights[1], 0.0, "{:?}", m.weights);
        let mut attack_row = [0.0; NUM_FEATURES];
        attack_row[0] = 3.0;
        let mut legit_row = [0.0; NUM_FEATURES];
        legit_row[0] = -1.0;
        assert!(m.probability(&attack_row) > 0.9 && m.probability(&legit_row) < 0.1);
        assert!(
            fit(
                &Model::prior(),
                &x,
                &vec![false; x.len()],
                TrainOptions::default()
            )
            .is_err()
        );
    }
}
