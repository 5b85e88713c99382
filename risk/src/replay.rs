//! Replaying a trace in time order: the logic of `tollgate risk score`.
//!
//! Events are scored in timestamp order (ties keep input order) against
//! state built only from earlier events, then reported in input order.
//! Which successful events enter a user's history is a [`HistoryRule`].

use std::collections::HashMap;

use serde::Serialize;

use crate::event::{Label, LoginEvent};
use crate::history::MemoryHistory;
use crate::scorer::{Assessment, Engine, Scorer};
use crate::thresholds::Decision;
use crate::velocity::MemoryVelocity;

/// Which successful logins enter the user's history during a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRule {
    /// The rule: allowed logins enter; stepped-up logins enter when
    /// labelled legit (an attacker is assumed to fail the step-up); without
    /// a label, every login that was not denied enters.
    Decisions,
    /// Training: exactly the logins labelled legit (or unlabelled) enter.
    Labels,
}

impl HistoryRule {
    /// Whether a successful event with this assessment is admitted.
    pub fn admits(self, event: &LoginEvent, a: &Assessment) -> bool {
        match (self, event.label) {
            (HistoryRule::Labels, label) => label != Some(Label::Attack),
            (HistoryRule::Decisions, None) => a.decision != Decision::Deny,
            (HistoryRule::Decisions, Some(label)) => {
                a.decision == Decision::Allow
                    || (a.decision == Decision::StepUp && label == Label::Legit)
            }
        }
    }
}

/// One scored event, with what eval needs besides the output line.
#[derive(Debug, Clone)]
pub struct Scored {
    /// 1-based input line.
    pub line: usize,
    /// The assessment.
    pub assessment: Assessment,
    /// Freeman's baseline: the country is new for this user (users with no
    /// admitted login yet are not flagged).
    pub baseline_new_country: bool,
}

/// Replays `events` (with their line numbers) and returns one [`Scored`]
/// per event, in input order.
pub fn replay(scorer: Scorer, events: &[(usize, LoginEvent)], rule: HistoryRule) -> Vec<Scored> {
    let mut engine = Engine::new(scorer, MemoryHistory::default(), MemoryVelocity::default());
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].1.ts);
    let mut out: Vec<Option<Scored>> = vec![None; events.len()];
    // Baseline state: countries of each user's logins admitted under the
    // baseline's own decisions.
    let mut countries: HashMap<&str, Vec<String>> = HashMap::new();
    for i in order {
        let (line, ev) = &events[i];
        let country = engine
            .scorer
            .geo()
            .lookup(ev.ip)
            .country
            .unwrap_or("??")
            .to_owned();
        let seen = countries.get(ev.user.as_str());
        let baseline = seen.is_some_and(|c| !c.contains(&country));
        let a = engine.step(ev, ev.ts, |a| rule.admits(ev, a));
        // A flagged attacker fails the baseline's step-up too.
        if ev.success && !(baseline && ev.label == Some(Label::Attack)) {
            let list = countries.entry(ev.user.as_str()).or_default();
            if !list.contains(&country) {
                list.push(country);
            }
        }
        out[i] = Some(Scored {
            line: *line,
            assessment: a,
            baseline_new_country: baseline,
        });
    }
    out.into_iter().flatten().collect()
}

/// A reason as printed by `tollgate risk score`.
#[derive(Debug, Serialize)]
pub struct OutputReason<'a> {
    /// Machine code.
    pub code: &'a str,
    /// Human detail.
    pub detail: &'a str,
}

/// One output line of `tollgate risk score`.
#[derive(Debug, Serialize)]
pub struct OutputLine<'a> {
    /// 1-based input line.
    pub line: usize,
    /// The user.
    pub user: &'a str,
    /// 0–100.
    pub score: u8,
    /// `allow`, `step_up` or `deny`.
    pub decision: &'static str,
    /// Reasons, largest contribution first.
    pub reasons: Vec<OutputReason<'a>>,
}

/// Renders the output line of one scored event (JSON, no newline).
pub fn output_line(event: &LoginEvent, s: &Scored) -> String {
    let line = OutputLine {
        line: s.line,
        user: &event.user,
        score: s.assessment.score,
        decision: s.assessment.decision.as_str(),
        reasons: s
            .assessment
            .reasons
            .iter()
            .map(|r| OutputReason {
                code: r.code,
                detail: &r.detail,
            })
            .collect(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// The whole of `tollgate risk score` after parsing: one JSON line per
/// event, in input order, each ending in `\n`.
pub fn score_lines(scorer: Scorer, events: &[(usize, LoginEvent)]) -> String {
    let scored = replay(scorer, events, HistoryRule::Decisions);
    let mut out = String::with_capacity(scored.len() * 160);
    for (s, (_, ev)) in scored.iter().zip(events) {
        out.push_str(&output_line(ev, s));
        out.push('\n');
    }
    out
}
