//! Scoring one login: the public entry points.
//!
//! [`Scorer`] holds the immutable parts (model, thresholds, network lists,
//! geo databases) and is cheap to share behind an `Arc`; swapping the
//! `Arc` is the hot reload. A score is a pure function of (event, history,
//! counters, global frequencies, model, time):
//!
//! ```text
//! let p = scorer.prepare(&event);                     // geo, UA, hashes
//! let snap = velocity.snapshot(&p.vkeys, now);         // VelocityStore
//! let a = scorer.assess(&p, history.as_ref(), &snap, &globals, now);
//! // ... decide, run the step-up ...
//! scorer.learn(&p, &mut history, admitted);            // then store it
//! velocity.record(&p.vkeys, event.success, now);
//! ```
//!
//! [`Engine`] does exactly that over any [`HistoryStore`] and
//! [`VelocityStore`], for replays and for callers that keep state in memory.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::detections::{Inputs, Verdict, detect, is_detection};
use crate::event::LoginEvent;
use crate::features::{Features, Prepared, count_globally, extract, last_login, prepare};
use crate::geo::{Geo, NetworkLists};
use crate::global::GlobalFrequencies;
use crate::history::{HistoryStore, UserHistory};
use crate::model::Model;
use crate::reasons::{Reason, explain};
use crate::thresholds::{Decision, Thresholds};
use crate::velocity::{VelocitySnapshot, VelocityStore};

/// The result of scoring one login.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// 0–100: `round(100 · P(attack))`.
    pub score: u8,
    /// The calibrator's logit `b + Σ w_i f_i` with bounded familiarity
    /// credit, raised to the detections' floor (unrounded, for ranking).
    pub logit: f64,
    /// The lowest score the named detections allow (0 when none moves
    /// it): what the login scores whatever the calibrator says.
    pub floor: u8,
    /// The decision under the scorer's thresholds.
    pub decision: Decision,
    /// Why: the detections that hold (strongest first), then the
    /// calibrator's reasons, largest contribution first.
    pub reasons: Vec<Reason>,
    /// The features behind the score (for training and audits).
    pub features: Features,
}

/// Model + thresholds + lists + geo: everything immutable about scoring.
/// Cloning shares the geo databases.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: Model,
    thresholds: Thresholds,
    lists: NetworkLists,
    geo: Arc<Geo>,
}

impl Scorer {
    /// Builds a scorer; the model is validated.
    pub fn new(
        model: Model,
        thresholds: Thresholds,
        lists: NetworkLists,
        geo: impl Into<Arc<Geo>>,
    ) -> crate::Result<Self> {
        model.validate()?;
        Ok(Scorer {
            model,
            thresholds,
            lists,
            geo: geo.into(),
        })
    }

    /// The same model and geo databases under a new policy's thresholds
    /// and lists: what a policy reload swaps in (the databases are shared,
    /// not re-read).
    pub fn with_policy(&self, thresholds: Thresholds, lists: NetworkLists) -> Scorer {
        Scorer {
            model: self.model.clone(),
            thresholds,
            lists,
            geo: self.geo.clone(),
        }
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The thresholds in use.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The geo databases.
    pub fn geo(&self) -> &Geo {
        &self.geo
    }

    /// Stateless per-event work (geo lookup, UA parse, hashing).
    pub fn prepare<'s>(&'s self, event: &LoginEvent) -> Prepared<'s> {
        prepare(event, &self.geo, &self.lists)
    }

    /// Scores a prepared event against the user's history (`None` for a new
    /// user) and the counters at `now`.
    pub fn assess(
        &self,
        p: &Prepared<'_>,
        history: Option<&UserHistory>,
        velocity: &VelocitySnapshot,
        globals: &GlobalFrequencies,
        now: OffsetDateTime,
    ) -> Assessment {
        let features = extract(
            p,
            history,
            velocity,
            globals,
            &self.model,
            &self.thresholds,
            now.unix_timestamp(),
        );
        let raw = self.model.logit(&features.values);
        let found = detect(&Inputs {
            p,
            f: &features,
            history,
            thresholds: &self.thresholds,
            geo: &self.geo,
        });
        let verdict = Verdict::of(&found);
        let score = verdict.apply(self.model.score_map.score(raw), &self.thresholds);
        // For ranking: the calibrator's logit, raised to the floor's.
        let floor = verdict.floor(&self.thresholds);
        let logit = if floor > 0 {
            raw.max(self.model.score_map.logit_at(f64::from(floor)))
        } else {
            raw
        };
        let mut reasons: Vec<Reason> = found.into_iter().map(|(_, r)| r).collect();
        reasons.extend(
            explain(p, &features, &self.model, &self.thresholds, &self.geo)
                .into_iter()
                .filter(|r| !is_detection(r.code)),
        );
        Assessment {
            score,
            logit,
            floor,
            decision: self.thresholds.decide(score),
            reasons,
            features,
        }
    }

    /// `history` with a login from `ip` at `at` (a session's own login) as
    /// the place and time travel is measured from: what a gateway request
    /// carrying that session's token is scored against.
    pub fn anchored(
        &self,
        history: Option<UserHistory>,
        ip: std::net::IpAddr,
        at: i64,
    ) -> Option<UserHistory> {
        let last = crate::features::located(&self.geo.lookup(ip), ip, at);
        if last.is_none() {
            return history;
        }
        let mut h = history.unwrap_or_default();
        h.last = last;
        Some(h)
    }

    /// Adds an admitted login to the user's history.
    pub fn learn(&self, p: &Prepared<'_>, history: &mut UserHistory) {
        history.admit(&p.keys, last_login(p), self.model.decay);
    }
}

/// Scorer plus state: the convenience API for replays and in-memory use.
#[derive(Debug)]
pub struct Engine<H, V> {
    /// The immutable part.
    pub scorer: Scorer,
    /// Per-user histories.
    pub history: H,
    /// Velocity counters.
    pub velocity: V,
    /// Global frequency sketch.
    pub globals: GlobalFrequencies,
}

impl<H: HistoryStore, V: VelocityStore> Engine<H, V> {
    /// An engine over the given stores with an empty global sketch.
    pub fn new(scorer: Scorer, history: H, velocity: V) -> Self {
        Engine {
            scorer,
            history,
            velocity,
            globals: GlobalFrequencies::default(),
        }
    }

    /// Scores `event` at `now` without changing any state.
    pub fn score(&self, event: &LoginEvent, now: OffsetDateTime) -> Assessment {
        let p = self.scorer.prepare(event);
        let snap = self.velocity.snapshot(&p.vkeys, now.unix_timestamp());
        let hist = self.history.load(&event.user);
        self.scorer
            .assess(&p, hist.as_ref(), &snap, &self.globals, now)
    }

    /// Scores `event` at `now` and records it in one pass (one geo lookup):
    /// `admit` sees the assessment and says whether a successful login
    /// enters the user's history.
    pub fn step(
        &mut self,
        event: &LoginEvent,
        now: OffsetDateTime,
        admit: impl FnOnce(&Assessment) -> bool,
    ) -> Assessment {
        let t = now.unix_timestamp();
        let p = prepare(event, &self.scorer.geo, &self.scorer.lists);
        let snap = self.velocity.snapshot(&p.vkeys, t);
        let mut hist = self.history.load(&event.user);
        let a = self
            .scorer
            .assess(&p, hist.as_ref(), &snap, &self.globals, now);
        self.velocity.record(&p.vkeys, event.success, t);
        count_globally(&p, &mut self.globals);
        if event.success && admit(&a) {
            let h = hist.get_or_insert_with(UserHistory::default);
            h.admit(&p.keys, last_login(&p), self.scorer.model.decay);
            self.history.store(&event.user, *h);
        }
        a
    }

    /// Records the event after its decision: counters and global
    /// frequencies always; the user's history only when `admit` (the login
    /// succeeded and was allowed, or passed step-up).
    pub fn observe(&mut self, event: &LoginEvent, now: OffsetDateTime, admit: bool) {
        let p = prepare(event, &self.scorer.geo, &self.scorer.lists);
        self.velocity
            .record(&p.vkeys, event.success, now.unix_timestamp());
        count_globally(&p, &mut self.globals);
        if admit && event.success {
            let mut h = self.history.load(&event.user).unwrap_or_default();
            h.admit(&p.keys, last_login(&p), self.scorer.model.decay);
            self.history.store(&event.user, h);
        }
    }
}
