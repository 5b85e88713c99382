//! Evaluation: ROC AUC and the metric of Wiefling et al. (ACM TOPS 2022):
//! at a fixed share of attacks stepped up or denied (true-positive rate
//! 99.5 % and 99.9 %), how many legitimate logins are stepped up.
//!
//! Rankings use the calibrator's unrounded logit. Ties are handled by
//! interpolating along the ROC curve (stepping up a random part of a tied
//! group), which is also how the two-valued baseline "step up when the
//! country is new for this user" (Freeman et al.) reaches a target rate it
//! cannot reach by itself.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Result, RiskError};
use crate::event::{Label, LoginEvent};
use crate::replay::Scored;
use crate::thresholds::Decision;

/// Target true-positive rates of the report.
pub const TARGET_TPRS: [f64; 2] = [0.995, 0.999];

/// Area under the ROC curve (Mann–Whitney, ties count ½). `None` unless
/// both classes are present.
pub fn roc_auc(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    Some((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

/// Share of negatives flagged when the threshold is lowered until at least
/// `target` of positives are flagged, interpolating within tied groups.
pub fn fpr_at_tpr(positives: &[f64], negatives: &[f64], target: f64) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    let need = target * np;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let gp = all[i..j].iter().filter(|x| x.1).count() as f64;
        let gn = (j - i) as f64 - gp;
        if tp + gp >= need - 1e-9 {
            let frac = if gp > 0.0 {
                ((need - tp) / gp).clamp(0.0, 1.0)
            } else {
                0.0
            };
            return Some((fp + frac * gn) / nn);
        }
        tp += gp;
        fp += gn;
        i = j;
    }
    Some(fp / nn)
}

/// One row of the report: one attack kind (or `all`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindRow {
    /// Attack kind, or `all`.
    pub kind: String,
    /// Attack events of this kind.
    pub attacks: usize,
    /// ROC AUC of the model against all legitimate events.
    pub auc: f64,
    /// Legit share stepped up at 99.5 % / 99.9 % TPR: the model.
    pub model_fpr: [f64; 2],
    /// Same for the new-country baseline.
    pub baseline_fpr: [f64; 2],
    /// Share of these attacks stepped up or denied at the policy thresholds.
    pub caught_at_thresholds: f64,
    /// Share of these attacks the baseline flags (new country).
    pub baseline_caught: f64,
}

/// The evaluation report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Labelled events whose first factor failed: counted, not scored (the
    /// issuer never scores them either).
    pub failed_attempts: usize,
    /// Legitimate successful logins.
    pub legit: usize,
    /// Attack events.
    pub attacks: usize,
    /// Overall ROC AUC of the model.
    pub auc: f64,
    /// Overall ROC AUC of the baseline.
    pub baseline_auc: f64,
    /// Legit share stepped up or denied at the policy thresholds.
    pub legit_stepped_up: f64,
    /// Legit share denied at the policy thresholds.
    pub legit_denied: f64,
    /// Legit share the baseline steps up.
    pub baseline_legit_stepped_up: f64,
    /// Per attack kind, then `all`.
    pub kinds: Vec<KindRow>,
}

fn share(flags: impl Iterator<Item = bool>) -> f64 {
    let (mut yes, mut n) = (0usize, 0usize);
    for f in flags {
        n += 1;
        yes += usize::from(f);
    }
    if n == 0 { 0.0 } else { yes as f64 / n as f64 }
}

/// Builds the report from a labelled replay. Events without a label are
/// ignored, failed first factors are only counted; both classes must be
/// present among the successful logins.
pub fn evaluate(events: &[(usize, LoginEvent)], scored: &[Scored]) -> Result<Report> {
    let mut legit: Vec<&Scored> = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<&Scored>> = BTreeMap::new();
    let mut failed_attempts = 0;
    for ((_, ev), s) in events.iter().zip(scored) {
        // The issuer scores only logins whose first factor succeeded;
        // failures only feed the counters, so they are not scored here.
        if !ev.success {
            failed_attempts += usize::from(ev.label.is_some());
            continue;
        }
        match ev.label {
            Some(Label::Legit) => legit.push(s),
            Some(Label::Attack) => by_kind
                .entry(ev.attack_kind.clone().unwrap_or_else(|| "unknown".into()))
                .or_default()
                .push(s),
            None => {}
        }
    }
    let all_attacks: Vec<&Scored> = by_kind.values().flatten().copied().collect();
    if legit.is_empty() || all_attacks.is_empty() {
        return Err(RiskError::Evaluation(
            "need events labelled both legit and attack".into(),
        ));
    }
    let model = |v: &[&Scored]| v.iter().map(|s| s.assessment.logit).collect::<Vec<_>>();
    let base = |v: &[&Scored]| {
        v.iter()
            .map(|s| f64::from(u8::from(s.baseline_new_country)))
            .collect::<Vec<_>>()
    };
    let flagged = |s: &&Scored| s.assessment.decision != Decision::Allow;
    let (lm, lb) = (model(&legit), base(&legit));
    let row = |kind: &str, v: &[&Scored]| {
        let (am, ab) = (model(v), base(v));
        KindRow {
            kind: kind.to_owned(),
            attacks: v.len(),
            auc: roc_auc(&am, &lm).unwrap_or(0.0),
            model_fpr: TARGET_TPRS.map(|t| fpr_at_tpr(&am, &lm, t).unwrap_or(1.0)),
            baseline_fpr: TARGET_TPRS.map(|t| fpr_at_tpr(&ab, &lb, t).unwrap_or(1.0)),
            caught_at_thresholds: share(v.iter().map(flagged)),
            baseline_caught: share(v.iter().map(|s| s.baseline_new_country)),
        }
    };
    let mut kinds: Vec<KindRow> = by_kind.iter().map(|(k, v)| row(k, v)).collect();
    kinds.push(row("all", &all_attacks));
    Ok(Report {
        failed_attempts,
        legit: legit.len(),
        attacks: all_attacks.len(),
        auc: roc_auc(&model(&all_attacks), &lm).unwrap_or(0.0),
        baseline_auc: roc_auc(&base(&all_attacks), &lb).unwrap_or(0.0),
        legit_stepped_up: share(legit.iter().map(flagged)),
        legit_denied: share(
            legit
                .iter()
                .map(|s| s.assessment.decision == Decision::Deny),
        ),
        baseline_legit_stepped_up: share(legit.iter().map(|s| s.baseline_new_country)),
        kinds,
    })
}

impl Report {
    /// The report as a Markdown table (what `tollgate risk eval` prints).
    pub fn table(&self) -> String {
        let pct = |x: f64| format!("{:.2} %", 100.0 * x);
        let mut s = format!(
            "successful logins: {} legit, {} attack ({} failed attempts counted, not scored); ROC AUC {:.4} (baseline {:.4}); at the policy thresholds {} of legit logins stepped up or denied ({} denied; baseline {})\n\n",
            self.legit,
            self.attacks,
            self.failed_attempts,
            self.auc,
            self.baseline_auc,
            pct(self.legit_stepped_up),
            pct(self.legit_denied),
            pct(self.baseline_legit_stepped_up)
        );
        s.push_str("| attack kind | attacks | AUC | caught at thresholds | legit stepped up @99.5 % TPR | @99.9 % TPR | baseline caught | baseline legit @99.5 % | baseline @99.9 % |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for k in &self.kinds {
            s.push_str(&format!(
                "| {} | {} | {:.4} | {} | {} | {} | {} | {} | {} |\n",
                k.kind,
                k.attacks,
                k.auc,
                pct(k.caught_at_thresholds),
                pct(k.model_fpr[0]),
                pct(k.model_fpr[1]),
                pct(k.baseline_caught),
                pct(k.baseline_fpr[0]),
                pct(k.baseline_fpr[1])
            ));
        }
        s
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pos: &[f64], neg: &[f64], auc: f64, fpr_995: f64) {
        let got = roc_auc(pos, neg).unwrap();
        assert!(
            (got - auc).abs() < 1e-12,
            "auc {pos:?} {neg:?}: {got}, want {auc}"
        );
        let got = fpr_at_tpr(pos, neg, 0.995).unwrap();
        assert!(
            (got - fpr_995).abs() < 1e-9,
            "fpr {pos:?} {neg:?}: {got}, want {fpr_995}"
        );
    }

    #[test]
    fn auc_and_fpr_at_fixed_tpr() {
        // Perfect separation.
        check(&[3.0, 4.0], &[1.0, 2.0], 1.0, 0.0);
        // Reversed.
        check(&[1.0, 2.0], &[3.0, 4.0], 0.0, 1.0);
        // All tied: AUC ½; reaching 99.5 % of positives means flagging 99.5 % of the tie.
        check(&[1.0, 1.0], &[1.0, 1.0], 0.5, 0.995);
        // Binary baseline: 1 of 2 attacks flagged, 1 of 4 legit flagged.
        // Flag group 1 → TPR ½, FPR ¼; then 0.99 of the 0-group's remaining
        // attack requires (0.995·2 − 1)/1 = 0.99 of its 3 legit: ¼ + 0.99·¾.
        // AUC by pairs: (1 vs 1) ½ + (1 vs 0s) 3 + (0 vs 0s) 3·½ = 5 of 8.
        check(
            &[1.0, 0.0],
            &[1.0, 0.0, 0.0, 0.0],
            0.625,
            0.25 + 0.99 * 0.75,
        );
        assert_eq!(roc_auc(&[], &[1.0]), None);
    }
}
