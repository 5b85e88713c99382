//! What-if: replay login events through a baseline and a candidate policy
//! and count what changes (`tollgate policy simulate`).
//!
//! Events are scored once, in time order, by the risk replay
//! ([`crate::replay::replay`], history admitted by the scorer's decisions
//! under the thresholds it was built with; build it with the candidate's
//! [`Policy::thresholds`]). Each successful login is then decided by both
//! policies with a session at the ladder's lowest level authenticated at
//! the event's time (the primary factor just succeeded), so `step_up` means
//! "this login would have been asked for more". Failed logins never reach
//! the policy and are only counted. Events carry no groups or attributes;
//! a [`Directory`] (a JSON file `{"alice": {"groups": [...], "attributes":
//! {"k": "v"}}}`) supplies them, else rules on them do not fire.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Policy;
use super::decide::{Decision, DecisionInput, Outcome, SessionState, decide};
use super::file::Action;
use super::model::Verdict;
use crate::event::LoginEvent;
use crate::replay::{HistoryRule, replay};
use crate::scorer::Scorer;

/// What the replay knows about a user besides the events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInfo {
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Attributes (one value per key).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// A user's groups and `(key, value)` attributes, as [`DecisionInput`] takes them.
type Memberships = (Vec<String>, Vec<(String, String)>);

/// Users' groups and attributes for a replay, by login name.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: HashMap<String, Memberships>,
}

impl Directory {
    /// Parses `{"alice": {"groups": ["vcenter-admins"], "attributes": {"employment": "staff"}}}`.
    pub fn from_json(text: &str) -> Result<Directory, serde_json::Error> {
        let raw: HashMap<String, UserInfo> = serde_json::from_str(text)?;
        Ok(Directory {
            users: raw
                .into_iter()
                .map(|(u, i)| (u, (i.groups, i.attributes.into_iter().collect())))
                .collect(),
        })
    }

    fn get(&self, user: &str) -> (&[String], &[(String, String)]) {
        self.users
            .get(user)
            .map_or((&[], &[]), |(g, a)| (g.as_slice(), a.as_slice()))
    }
}

/// Totals for one policy.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// The policy's version.
    pub version: String,
    /// Decisions by label (`allow`, `step_up:<acr>`, `deny`).
    pub decisions: BTreeMap<String, usize>,
    /// How often each rule fired.
    pub rules_fired: BTreeMap<String, usize>,
    /// The bands: (`up_to`, what it does), for drawing the histogram.
    pub bands: Vec<(u8, String)>,
}

/// One transition `from → to` and how often it happened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Transition {
    /// Baseline label.
    pub from: String,
    /// Candidate label.
    pub to: String,
    /// Events.
    pub count: usize,
}

/// A user whose decisions changed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserChange {
    /// The user.
    pub user: String,
    /// Their decided events.
    pub events: usize,
    /// Of which changed.
    pub changed: usize,
    /// Changes that are stricter under the candidate.
    pub stricter: usize,
    /// The most frequent change, `from → to`.
    pub typical: String,
}

/// The what-if report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WhatIfReport {
    /// Events read.
    pub events: usize,
    /// Successful logins decided by both policies.
    pub decided: usize,
    /// Failed logins (never reach the policy).
    pub failed: usize,
    /// The current policy.
    pub baseline: Side,
    /// The proposed policy.
    pub candidate: Side,
    /// Decided events whose label changed.
    pub changed: usize,
    /// Of which the candidate is stricter.
    pub stricter: usize,
    /// Of which the candidate is looser.
    pub looser: usize,
    /// Every transition with its count, most frequent first.
    pub transitions: Vec<Transition>,
    /// Distinct users with at least one changed decision.
    pub users_affected: usize,
    /// Distinct users decided.
    pub users: usize,
    /// Clients with changed decisions: (client, changed events), most first.
    pub clients_affected: Vec<(String, usize)>,
    /// Up to 20 users with the most changes.
    pub top_users: Vec<UserChange>,
    /// Decided events per score 0..=100.
    pub histogram: Vec<usize>,
}

/// The union of two count maps' keys with both counts, sorted by key.
fn side_by_side(
    a: &BTreeMap<String, usize>,
    b: &BTreeMap<String, usize>,
) -> Vec<(String, usize, usize)> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            (
                k.clone(),
                a.get(k).copied().unwrap_or(0),
                b.get(k).copied().unwrap_or(0),
            )
        })
        .collect()
}

impl WhatIfReport {
    /// Every decision label with (baseline, candidate) counts, by label.
    pub fn decision_rows(&self) -> Vec<(String, usize, usize)> {
        side_by_side(&self.baseline.decisions, &self.candidate.decisions)
    }

    /// Every rule that fired with (baseline, candidate) counts, by name.
    pub fn rule_rows(&self) -> Vec<(String, usize, usize)> {
        side_by_side(&self.baseline.rules_fired, &self.candidate.rules_fired)
    }
}

/// Per user: decided events, changed, stricter, and the changes by kind.
type PerUser = (usize, usize, usize, HashMap<String, usize>);

/// Strictness of an outcome: allow 0, step-up 1 + level, deny above all.
fn rank(d: &Decision) -> usize {
    match d.outcome {
        Outcome::Allow => 0,
        Outcome::StepUp { .. } => 1 + d.required_level.unwrap_or(0),
        Outcome::Deny { .. } => usize::MAX,
    }
}

fn bands(p: &Policy) -> Vec<(u8, String)> {
    p.bands
        .iter()
        .map(|b| {
            let what = match b.effect.verdict {
                Verdict::Allow => "allow".to_owned(),
                Verdict::Require { level, .. } => p
                    .ladder
                    .levels
                    .get(level)
                    .map_or("step up".to_owned(), |l| format!("step up: {}", l.acr)),
                Verdict::Deny { .. } => "deny".to_owned(),
            };
            (b.up_to, what)
        })
        .collect()
}

fn decide_event(
    p: &Policy,
    dir: &Directory,
    ev: &LoginEvent,
    a: &crate::Assessment,
    country: Option<&str>,
    asn: Option<u32>,
) -> Decision {
    let acr = p.ladder.levels.first().map_or("", |l| l.acr.as_str());
    let (groups, attributes) = dir.get(&ev.user);
    let input = DecisionInput {
        subject: &ev.user,
        groups,
        attributes,
        client: ev.client.as_deref(),
        action: Action::Login,
        ip: Some(ev.ip),
        country,
        asn,
        device_known: a.features.device_known,
        // Events do not say; a replay assumes users have one.
        second_factor: Some(true),
        score: a.score,
        reasons: &a.reasons,
        session: Some(SessionState {
            acr,
            auth_time: ev.ts.unix_timestamp(),
        }),
        ..DecisionInput::default()
    };
    decide(p, &input, ev.ts)
}

/// Replays `events` (with line numbers) and compares the two policies;
/// `directory` supplies groups and attributes.
pub fn simulate(
    candidate: &Policy,
    baseline: &Policy,
    scorer: Scorer,
    events: &[(usize, LoginEvent)],
    directory: &Directory,
) -> WhatIfReport {
    let geo_of: Vec<(Option<String>, Option<u32>)> = events
        .iter()
        .map(|(_, e)| {
            let g = scorer.geo().lookup(e.ip);
            (g.country.map(str::to_owned), g.asn)
        })
        .collect();
    let scored = replay(scorer, events, HistoryRule::Decisions);
    let mut r = WhatIfReport {
        events: events.len(),
        histogram: vec![0; 101],
        ..WhatIfReport::default()
    };
    r.baseline.version = baseline.version.to_string();
    r.candidate.version = candidate.version.to_string();
    r.baseline.bands = bands(baseline);
    r.candidate.bands = bands(candidate);
    let mut transitions: HashMap<(String, String), usize> = HashMap::new();
    let mut per_user: HashMap<&str, PerUser> = HashMap::new();
    let mut clients: HashMap<String, usize> = HashMap::new();
    for ((s, (_, ev)), (country, asn)) in scored.iter().zip(events).zip(&geo_of) {
        if !ev.success {
            r.failed += 1;
            continue;
        }
        r.decided += 1;
        let a = &s.assessment;
        r.histogram[usize::from(a.score.min(100))] += 1;
        let before = decide_event(baseline, directory, ev, a, country.as_deref(), *asn);
        let after = decide_event(candidate, directory, ev, a, country.as_deref(), *asn);
        for (side, d) in [(&mut r.baseline, &before), (&mut r.candidate, &after)] {
            *side.decisions.entry(d.outcome.label()).or_default() += 1;
            for rule in &d.rules_fired {
                *side.rules_fired.entry(rule.clone()).or_default() += 1;
            }
        }
        let (from, to) = (before.outcome.label(), after.outcome.label());
        let u = per_user.entry(ev.user.as_str()).or_default();
        u.0 += 1;
        if from != to {
            r.changed += 1;
            let stricter = rank(&after) > rank(&before);
            if stricter {
                r.stricter += 1;
                u.2 += 1;
            } else {
                r.looser += 1;
            }
            u.1 += 1;
            *u.3.entry(format!("{from} → {to}")).or_default() += 1;
            *clients
                .entry(ev.client.clone().unwrap_or_else(|| "(none)".into()))
                .or_default() += 1;
            *transitions.entry((from, to)).or_default() += 1;
        }
    }
    r.users = per_user.len();
    r.users_affected = per_user.values().filter(|u| u.1 > 0).count();
    let mut t: Vec<Transition> = transitions
        .into_iter()
        .map(|((from, to), count)| Transition { from, to, count })
        .collect();
    t.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
    });
    r.transitions = t;
    let mut c: Vec<(String, usize)> = clients.into_iter().collect();
    c.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    r.clients_affected = c;
    let mut users: Vec<UserChange> = per_user
        .into_iter()
        .filter(|(_, u)| u.1 > 0)
        .map(|(name, (events, changed, stricter, kinds))| UserChange {
            user: name.to_owned(),
            events,
            changed,
            stricter,
            typical: kinds
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|k| k.0)
                .unwrap_or_default(),
        })
        .collect();
    users.sort_by(|a, b| b.changed.cmp(&a.changed).then_with(|| a.user.cmp(&b.user)));
    users.truncate(20);
    r.top_users = users;
    r
}
