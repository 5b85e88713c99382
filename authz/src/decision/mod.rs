//! The decision point inside the issuer: the loaded policy and risk
//! scorer, the state scoring needs between requests, and hot reload.
//!
//! Decisions themselves are `tollgate_risk::policy::decide`, a pure
//! function; this module only gathers its inputs. `login.rs` drives the
//! login interaction with it, `gateway.rs` answers `/v1/decide` and
//! ext_authz, `reload.rs` watches the files.
//!
//! State, and where it lives:
//! - per-user histories: the database (`risk_history`), read before each
//!   login decision and written after an admitted login; gateway decisions
//!   read them through a small cache (histories change only at login);
//! - per-session context (the login's hashed device id, address, time):
//!   the database (`sessions.risk_context`), written when a login completes,
//!   read (cached) by gateway decisions to score a request against the
//!   session its token came from;
//! - velocity counters: this process's memory (one replica) or Redis
//!   shared by all replicas (`[state] redis`, `velocity.rs`), read and
//!   written in one round trip per decision; when Redis is away the
//!   policy's `risk.state_unavailable` decides;
//! - global frequencies: memory, saved to the database (`risk_globals`)
//!   every minute and at shutdown and loaded at start, so a restart does
//!   not change decisions; each replica adds what it counted since its
//!   last save and takes back everyone's sum;
//! - per-user counters of requests to sensitive routes (`sensitive_burst`):
//!   beside the velocity counters (`bursts.rs`): memory for one replica
//!   (after a restart a user's usual rate re-forms over a few active hours,
//!   and until then only the policy's `per_hour` limit applies), or Redis
//!   shared by all replicas, one round trip per sensitive request.

pub mod bursts;
pub mod effects;
pub mod gateway;
pub mod limit;
pub mod login;
pub mod path;
mod reload;
pub mod velocity;

pub use reload::{reload_and_report, sighup_reloads};

use crate::config::PolicyConfig;
use crate::store::SessionContext;
use bursts::Bursts;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;
use tollgate_risk::features::count_globally;
use tollgate_risk::global::GlobalFrequencies;
use tollgate_risk::policy::{Action, Decision, DecisionInput, Policy, SessionState, decide};
use tollgate_risk::{Assessment, Geo, LoginEvent, Model, Reason, Scorer, UserHistory};
use velocity::Velocity;

/// A policy with the scorer built from its `risk:` section: swapped as one
/// `Arc`, so a decision never mixes two versions.
pub struct Loaded {
    pub policy: Policy,
    pub scorer: Scorer,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The files give the policy in force (or there are no files).
    Unchanged,
    /// Something changed; waiting for the next poll to see it again.
    Settling,
    /// A new policy is in force.
    Swapped(Arc<str>),
    /// The files do not load (`file:line:col: …`); the old policy serves.
    Failed(String),
}

/// Seconds a gateway decision may use a cached history.
const HISTORY_TTL: i64 = 30;
/// Histories held for gateway decisions (~1.9 KiB each).
const HISTORY_CACHE: usize = 4096;

/// What the issuer decides with. One per process, in `AppState`.
pub struct DecisionPoint {
    files: Vec<PathBuf>,
    current: RwLock<Arc<Loaded>>,
    velocity: Velocity,
    globals: Mutex<GlobalFrequencies>,
    /// What `globals` counted since the last save (the next save adds it
    /// to the stored sketch). Locked after `globals` when both are held.
    unsaved: Mutex<GlobalFrequencies>,
    /// Sensitive-route request counters per user, where `velocity` keeps
    /// its counters (snapshot, then count, in one step).
    bursts: Bursts,
    histories: Mutex<HashMap<String, (Option<UserHistory>, i64)>>,
    /// Session contexts for gateway decisions, by session id.
    contexts: Mutex<HashMap<String, (Option<SessionContext>, i64)>>,
    /// The last reload error, so a broken file is reported once, not at
    /// every poll.
    last_error: Mutex<Option<String>>,
    /// What the previous poll saw (a version or an error), not yet acted on.
    pending: Mutex<Option<String>>,
    /// Users for gateway decisions.
    pub directory: gateway::Directory,
}

/// Everything about one request that the scorer and the policy look at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Login name (what histories and events are keyed by).
    pub login: &'a str,
    pub groups: &'a [String],
    pub attributes: &'a [(String, String)],
}

/// The request side of a decision.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub client: Option<&'a str>,
    pub action: tollgate_risk::policy::Action,
    pub host: Option<&'a str>,
    pub path: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub user_agent: &'a str,
    /// Already hashed: raw device cookies never reach the risk state.
    pub device_id: Option<&'a str>,
    pub acr_values: &'a [String],
    pub max_age: Option<u64>,
    pub session: Option<SessionState<'a>>,
    /// The user has a factor besides the password (known at sign-in).
    pub second_factor: Option<bool>,
    /// No device cookie can arrive here (a gateway request without a bound
    /// session): a missing `device_id` is then no evidence.
    pub device_unobservable: bool,
    /// The browser's signals (sign-in only; `None` elsewhere).
    pub signals: Option<&'a tollgate_risk::signals::BrowserSignals>,
}

/// A decision with the event it was made for (for the audit log and for
/// learning after the login).
pub struct Made {
    pub decision: Decision,
    pub event: LoginEvent,
    /// The scorer's unrounded logit behind `decision.score`: two decisions
    /// from the same state agree on it exactly (the restart tests compare it).
    pub logit: f64,
}

fn unix(now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The rules in force, in evaluation order, each with the file it comes
/// from (`first-login (policies/default.yaml (built in))`): what start-up
/// and every reload log, so an operator sees whether the shipped rules are
/// still active.
pub fn active_rules(policy: &Policy) -> String {
    let rules: Vec<String> = policy
        .rules
        .iter()
        .map(|r| {
            let file = policy
                .sources
                .get(r.origin.file)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("{} ({file})", r.name)
        })
        .collect();
    if rules.is_empty() {
        "none".into()
    } else {
        rules.join(", ")
    }
}

impl DecisionPoint {
    /// Loads the policy files (or the built-in default), the model and the
    /// geo databases. Any problem is fatal at start: a service must not
    /// come up deciding with something other than what was configured.
    pub fn load(cfg: &PolicyConfig) -> Result<DecisionPoint, String> {
        let model = match &cfg.model {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Model::from_json(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => Model::builtin(),
        };
        let geo = match (&cfg.geo_city, &cfg.geo_asn) {
            (Some(c), Some(a)) => Geo::open(c, a).map_err(|e| e.to_string())?,
            _ => Geo::empty().map_err(|e| e.to_string())?,
        };
        let policy = if cfg.files.is_empty() {
            Policy::builtin()
        } else {
            Policy::load(&cfg.files).map_err(|e| e.to_string())?
        };
        tracing::info!(version = %policy.version, rules = %active_rules(&policy), "policy loaded");
        let scorer = Scorer::new(
            model,
            policy.thresholds().clone(),
            policy.network_lists().clone(),
            geo,
        )
        .map_err(|e| e.to_string())?;
        Ok(DecisionPoint {
            files: cfg.files.clone(),
            current: RwLock::new(Arc::new(Loaded { policy, scorer })),
            velocity: Velocity::memory(),
            globals: Mutex::new(GlobalFrequencies::default()),
            unsaved: Mutex::new(GlobalFrequencies::default()),
            bursts: Bursts::Memory(Mutex::new(Default::default())),
            histories: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            last_error: Mutex::new(None),
            pending: Mutex::new(None),
            directory: gateway::Directory::default(),
        })
    }

    /// Keeps the velocity counters in `velocity` (Redis for replicas).
    pub fn with_velocity(mut self, velocity: Velocity) -> DecisionPoint {
        self.bursts = Bursts::beside(&velocity);
        self.velocity = velocity;
        self
    }

    /// Has the Redis round trips observed into `histogram` (the metrics'
    /// `state_round_trip_seconds`); nothing with counters in memory.
    pub fn share_round_trips(
        &mut self,
        histogram: prometheus_client::metrics::histogram::Histogram,
    ) {
        if let Velocity::Redis(r) = &mut self.velocity {
            r.round_trips = histogram;
        }
    }

    /// Where the velocity counters live.
    pub fn velocity(&self) -> &Velocity {
        &self.velocity
    }

    /// The policy and scorer in force.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The version (`sha256:…`) of the policy in force.
    pub fn version(&self) -> Arc<str> {
        self.current().policy.version.clone()
    }

    /// Loads the files again and swaps them in when they are valid. On an
    /// error the policy in force stays. With the built-in policy there is
    /// nothing to reload.
    ///
    /// `settle`: polling passes true, and then a new version (or a new
    /// error) counts only when two consecutive polls see the same one, so
    /// a file caught half-written by an editor is never swapped in nor
    /// reported. SIGHUP passes false: the operator says the files are ready.
    pub fn reload(&self, settle: bool) -> Reload {
        if self.files.is_empty() {
            return Reload::Unchanged;
        }
        let loaded = Policy::load(&self.files).map_err(|e| e.to_string());
        let old = self.current();
        let seen = match &loaded {
            Ok(p) if p.version == old.policy.version => {
                *lock(&self.pending) = None;
                return Reload::Unchanged;
            }
            Ok(p) => p.version.to_string(),
            Err(e) => e.clone(),
        };
        if settle {
            let mut pending = lock(&self.pending);
            if pending.as_deref() != Some(seen.as_str()) {
                *pending = Some(seen);
                return Reload::Settling;
            }
        }
        *lock(&self.pending) = None;
        let policy = match loaded {
            Ok(p) => p,
            Err(e) => return Reload::Failed(e),
        };
        let scorer = old
            .scorer
            .with_policy(policy.thresholds().clone(), policy.network_lists().clone());
        let version = policy.version.clone();
        tracing::info!(version = %version, rules = %active_rules(&policy), "policy reloaded");
        let new = Arc::new(Loaded { policy, scorer });
        match self.current.write() {
            Ok(mut g) => *g = new,
            Err(p) => *p.into_inner() = new,
        }
        Reload::Swapped(version)
    }

    /// Remembers the outcome of a reload; true when it differs from the
    /// previous one (a new error, or the first success after one).
    fn note_outcome(&self, error: Option<&str>) -> bool {
        let mut last = lock(&self.last_error);
        let changed = last.as_deref() != error;
        *last = error.map(str::to_owned);
        changed
    }

    /// Scores the request and decides. `record` counts the attempt in the
    /// velocity counters and global frequencies (logins do, gateway
    /// requests do not: velocity is about sign-in attempts). A gateway
    /// request to a route the policy marks sensitive is always counted in
    /// the user's burst counter.
    pub async fn decide(
        &self,
        who: Subject<'_>,
        req: &Request<'_>,
        history: Option<&UserHistory>,
        device_flagged: bool,
        record: bool,
        now: i64,
    ) -> Made {
        let loaded = self.current();
        let at = unix(now);
        let event = LoginEvent {
            ts: at,
            user: who.login.to_owned(),
            ip: req
                .ip
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            user_agent: req.user_agent.to_owned(),
            device_id: req.device_id.map(str::to_owned),
            success: true,
            label: None,
            attack_kind: None,
            client: req.client.map(str::to_owned),
            rtt_ms: None,
            signals: req.signals.cloned().unwrap_or_default(),
        };
        let mut p = loaded.scorer.prepare(&event);
        p.device_observable = !req.device_unobservable;
        // Every request to a sensitive route counts, whatever its decision.
        let mut burst_unavailable = None;
        if req.action == Action::Request
            && req
                .path
                .is_some_and(|path| loaded.scorer.thresholds().sensitive.covers(path))
        {
            match self.bursts.observe(&self.velocity, p.vkeys.user, now).await {
                Ok(b) => p.burst = Some(b),
                Err(e) => {
                    tracing::warn!(error = %e.0, "burst counters unavailable; risk.state_unavailable decides");
                    burst_unavailable = Some(e.0);
                }
            }
        }
        let (snap, unavailable) = match self
            .velocity
            .observe(&p.vkeys, record.then_some(true), now)
            .await
        {
            Ok(s) => (s, None),
            Err(e) => {
                tracing::warn!(error = %e.0, "velocity state unavailable; risk.state_unavailable decides");
                (Default::default(), Some(e.0))
            }
        };
        let mut a: Assessment = {
            let mut g = lock(&self.globals);
            let a = loaded.scorer.assess(&p, history, &snap, &g, at);
            if record {
                count_globally(&p, &mut g);
                count_globally(&p, &mut lock(&self.unsaved));
            }
            a
        };
        if let Some(why) = unavailable.or(burst_unavailable) {
            state_unavailable(&mut a, loaded.policy.thresholds(), &why);
        }
        let input = DecisionInput {
            subject: who.login,
            client: req.client,
            groups: who.groups,
            attributes: who.attributes,
            action: req.action,
            host: req.host,
            path: req.path,
            ip: req.ip,
            country: p.geo.country,
            asn: p.geo.asn,
            device_known: a.features.device_known && !device_flagged,
            second_factor: req.second_factor,
            score: a.score,
            reasons: &a.reasons,
            acr_values: req.acr_values,
            max_age: req.max_age,
            session: req.session,
        };
        Made {
            decision: decide(&loaded.policy, &input, at),
            event,
            logit: a.logit,
        }
    }

    /// Takes the stored global sketch (at start): what every replica
    /// counted before. A sketch that does not decode is logged and the
    /// scorer starts empty, as it did before sketches were saved.
    pub async fn load_globals(
        &self,
        store: &crate::store::Store,
    ) -> Result<(), crate::store::StoreError> {
        if let Some((stored, _)) = store.risk_globals().await? {
            let mut g = lock(&self.globals);
            let mut sum = stored;
            // Counted before the load (normally nothing): kept.
            if sum.merge(&lock(&self.unsaved)).is_ok() {
                *g = sum;
            }
        }
        Ok(())
    }

    /// Adds what this replica counted since its last save to the stored
    /// sketch and takes back the sum (periodically and at shutdown). On a
    /// failure the counts stay for the next save.
    pub async fn save_globals(
        &self,
        store: &crate::store::Store,
        now: i64,
    ) -> Result<(), crate::store::StoreError> {
        let delta = std::mem::take(&mut *lock(&self.unsaved));
        if delta.is_empty() {
            return Ok(());
        }
        match store.add_risk_globals(&delta, now).await {
            Ok(mut sum) => {
                let mut g = lock(&self.globals);
                let u = lock(&self.unsaved);
                // Counted while the save ran: in memory, and unsaved still.
                if sum.merge(&u).is_ok() {
                    *g = sum;
                }
                Ok(())
            }
            Err(e) => {
                let _ = lock(&self.unsaved).merge(&delta);
                Err(e)
            }
        }
    }

    /// Counts a failed sign-in attempt (wrong password) in the velocity
    /// counters, so repeated failures raise the next score.
    pub async fn record_failure(&self, login: &str, ip: IpAddr, user_agent: &str, now: i64) {
        let loaded = self.current();
        let event = LoginEvent {
            ts: unix(now),
            user: login.to_owned(),
            ip,
            user_agent: user_agent.to_owned(),
            device_id: None,
            success: false,
            label: None,
            attack_kind: None,
            client: None,
            rtt_ms: None,
            signals: Default::default(),
        };
        let p = loaded.scorer.prepare(&event);
        if let Err(e) = self.velocity.observe(&p.vkeys, Some(false), now).await {
            tracing::warn!(error = %e.0, "velocity state unavailable; a failed sign-in was not counted");
        }
    }

    /// What an admitted login knew (hashed device id, address, time), to
    /// be bound to its session so gateway requests with the session's
    /// tokens are scored against it. The session's own write stores it
    /// (`store::session_insert`, `store::session_step_up`): one statement.
    pub fn context_of(event: &LoginEvent) -> SessionContext {
        SessionContext {
            device: event.device_id.clone(),
            ip: event.ip,
            at: event.unix(),
        }
    }

    /// Caches the context just stored with session `session_id`.
    pub fn bound(&self, session_id: &str, c: SessionContext) {
        let at = c.at;
        let mut m = lock(&self.contexts);
        if m.len() >= HISTORY_CACHE {
            m.clear();
        }
        m.insert(session_id.to_owned(), (Some(c), at));
    }

    /// The context bound to `user_id`'s live session `session_id`: cached
    /// for a few seconds like histories (it changes only at login).
    pub async fn session_context(
        &self,
        store: &crate::store::Store,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> Option<SessionContext> {
        if let Some((c, at)) = lock(&self.contexts).get(session_id)
            && now - at < HISTORY_TTL
        {
            return c.clone();
        }
        let c = match store.session_context(session_id, user_id, now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "session context unreadable; scoring without it");
                None
            }
        };
        let mut m = lock(&self.contexts);
        if m.len() >= HISTORY_CACHE {
            m.clear();
        }
        m.insert(session_id.to_owned(), (c.clone(), now));
        c
    }

    /// `history` measured from the session's own login (see
    /// [`tollgate_risk::Scorer::anchored`]).
    pub fn anchored(
        &self,
        history: Option<UserHistory>,
        c: &SessionContext,
    ) -> Option<UserHistory> {
        self.current().scorer.anchored(history, c.ip, c.at)
    }

    /// The history for a gateway decision: cached for a few seconds.
    pub async fn cached_history(
        &self,
        store: &crate::store::Store,
        login: &str,
        now: i64,
    ) -> Option<UserHistory> {
        if let Some((h, at)) = lock(&self.histories).get(login)
            && now - at < HISTORY_TTL
        {
            return *h;
        }
        let h = self.history(store, login).await;
        let mut c = lock(&self.histories);
        if c.len() >= HISTORY_CACHE {
            c.clear();
        }
        c.insert(login.to_owned(), (h, now));
        h
    }

    /// The history from the database. A row that does not decode is
    /// logged and the user scored as new (never a failed login).
    pub async fn history(&self, store: &crate::store::Store, login: &str) -> Option<UserHistory> {
        match store.risk_history(login).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "risk history unreadable; scoring as a new user");
                None
            }
        }
    }

    /// Adds an admitted login to the user's history (after the login
    /// completed: allowed, or passed its step-up). `risk.scored_against`,
    /// when the login was scored in this request, saves reading the
    /// history again.
    pub async fn learn(
        &self,
        store: &crate::store::Store,
        risk: &login::LoginRisk,
        now: i64,
    ) -> Result<(), crate::store::StoreError> {
        let (learning, stmt) = self.learning(store, risk, now).await;
        store.write(stmt).await?;
        self.learned(learning);
        Ok(())
    }

    /// [`DecisionPoint::learn`] in two halves, for a write that commits the
    /// history with others (the end of a sign-in): the statement that
    /// stores the new history, and what to remember once it committed.
    pub(crate) async fn learning(
        &self,
        store: &crate::store::Store,
        risk: &login::LoginRisk,
        now: i64,
    ) -> (Learning, crate::store::Stmt) {
        let event = &risk.event;
        let loaded = self.current();
        let p = loaded.scorer.prepare(event);
        let known = match risk.scored_against {
            Some(login::ScoredAgainst(h)) => h,
            None => self.history(store, &event.user).await,
        };
        let mut h = known.unwrap_or_default();
        loaded.scorer.learn(&p, &mut h);
        let stmt = crate::store::risk_history_put(&event.user, &h, now);
        (
            Learning {
                user: event.user.clone(),
                history: h,
                now,
            },
            stmt,
        )
    }

    /// The second half: the committed history is the cached one.
    pub(crate) fn learned(&self, l: Learning) {
        lock(&self.histories).insert(l.user, (Some(l.history), l.now));
    }
}

/// A login's new risk history, written and not yet cached
/// ([`DecisionPoint::learning`]).
pub(crate) struct Learning {
    user: String,
    history: tollgate_risk::UserHistory,
    now: i64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Raises the score into the band `risk.state_unavailable` names and says
/// why: without the shared counters a stuffing run would look calm.
fn state_unavailable(a: &mut Assessment, t: &tollgate_risk::Thresholds, why: &str) {
    use tollgate_risk::Decision as Band;
    let floor = match t.state_unavailable {
        Band::Allow => 0,
        // The middle of the step-up band: above rules that allow low
        // scores (a first login), within ones that let password-only users
        // through at medium risk.
        Band::StepUp => t
            .allow_max
            .saturating_add(1)
            .saturating_add(t.step_up_max.saturating_sub(t.allow_max) / 2),
        Band::Deny => t.step_up_max.saturating_add(1),
    };
    a.score = a.score.max(floor.min(100));
    a.reasons.insert(
        0,
        Reason {
            code: "state_unavailable",
            detail: format!(
                "the shared risk state is unavailable ({why}); the policy says {}",
                t.state_unavailable.as_str()
            ),
            value: 1.0,
            weight: 0.0,
            severity: None,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The surprise: `files = ["mine.yaml"]` dropped the shipped
    /// `first-login` and `no-second-factor` rules. Now they stay (and are
    /// logged as active) unless the file says `extends: none`.
    #[test]
    fn a_file_of_ones_own_keeps_the_shipped_rules_unless_it_says_none() {
        let dir = std::env::temp_dir().join(format!("tg-ext-{}", crate::secret::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let rule = "rules_after:\n  - name: admins-need-phr\n    description: admins\n    when:\n      group: [admins]\n    require: phr\n";
        let mine = dir.join("mine.yaml");
        std::fs::write(&mine, rule).unwrap();
        let alone = dir.join("alone.yaml");
        std::fs::write(&alone, format!("extends: none\n{rule}")).unwrap();
        let kept = Policy::load(std::slice::from_ref(&mine));
        let dropped = Policy::load(std::slice::from_ref(&alone));
        let _ = std::fs::remove_dir_all(&dir);
        let kept = active_rules(&kept.unwrap());
        for want in [
            "first-login (policies/default.yaml (built in))",
            "no-second-factor (policies/default.yaml (built in))",
        ] {
            assert!(kept.contains(want), "{kept}");
        }
        assert!(
            kept.ends_with(&format!("admins-need-phr ({})", mine.display())),
            "{kept}"
        );
        assert_eq!(
            active_rules(&dropped.unwrap()),
            format!("admins-need-phr ({})", alone.display())
        );
    }
}
