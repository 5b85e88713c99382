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
use crate::features::NUM_FEATURES;
use crate::model::Model;
use crate::replay::{HistoryRule, replay};
use crate::scorer::Scorer;

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// L2 penalty (linfa's `alpha`).
    pub l2: f64,
    /// Iteration cap for the solver.
    pub max_iterations: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            l2: 1.0,
            max_iterations: 300,
        }
    }
}

/// Feature vectors and labels (true = attack) of a labelled trace.
pub fn training_set(
    scorer: Scorer,
    events: &[(usize, LoginEvent)],
) -> (Vec<[f64; NUM_FEATURES]>, Vec<bool>) {
    let scored = replay(scorer, events, HistoryRule::Labels);
    let mut x = Vec::with_capacity(scored.len());
    let mut y = Vec::with_capacity(scored.len());
    for ((_, ev), s) in events.iter().zip(&scored) {
        if let Some(label) = ev.label {
            x.push(s.assessment.features.values);
            y.push(label == Label::Attack);
        }
    }
    (x, y)
}

/// Fits the calibrator on `(x, y)` and returns `base` with new weights.
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
    let flat: Vec<f64> = x.iter().flat_map(|r| r.iter().copied()).collect();
    let records = Array2::from_shape_vec((x.len(), NUM_FEATURES), flat)
        .map_err(|e| RiskError::Training(e.to_string()))?;
    let targets = Array1::from_vec(y.to_vec());
    let data = Dataset::new(records, targets);
    let fitted = LogisticRegression::default()
        .alpha(opts.l2)
        .max_iterations(opts.max_iterations)
        .fit(&data)
        .map_err(|e| RiskError::Training(e.to_string()))?;
    // linfa's positive class is whichever label it met first.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut model = base.clone();
    model.weights = fitted.params().iter().map(|w| sign * w).collect();
    model.bias = sign * fitted.intercept();
    model.validate()?;
    Ok(model)
}

/// The whole of `tollgate risk train` after parsing.
pub fn train(
    scorer: Scorer,
    events: &[(usize, LoginEvent)],
    opts: TrainOptions,
    description: &str,
) -> Result<Model> {
    let base = scorer.model().clone();
    let (x, y) = training_set(scorer, events);
    let mut model = fit(&base, &x, &y, opts)?;
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

    #[test]
    fn fit_recovers_the_sign_of_a_separating_feature() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let attack = i % 4 == 0;
            let mut row = [0.0; NUM_FEATURES];
            row[0] = if attack { 3.0 } else { -1.0 } + (i % 7) as f64 * 0.1;
            x.push(row);
            y.push(attack);
        }
        let m = fit(&Model::prior(), &x, &y, TrainOptions::default()).unwrap();
        assert!(m.weights[0] > 0.5, "{:?}", m.weights);
        let mut attack_row = [0.0; NUM_FEATURES];
        attack_row[0] = 3.0;
        let mut legit_row = [0.0; NUM_FEATURES];
        legit_row[0] = -1.0;
        assert!(m.score(&attack_row) > 90 && m.score(&legit_row) < 10);
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
