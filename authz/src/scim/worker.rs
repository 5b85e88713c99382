//! The delivery loop: once a second, per target, take the target's lease,
//! deliver due outbox rows (users before groups), and back off with
//! [`super::backoff`] when the target or a resource fails.
//!
//! Time comes from `app.clock` and is passed down as `now`; the schedule is
//! data in the database (`next_attempt_at`), so tests move a manual clock
//! instead of sleeping, and a restart resumes exactly where it stopped.

use super::Target;
use super::client::{Failure, ScimClient};
use super::deliver::{Deliverer, Error};
use crate::config::ScimConfig;
use crate::metrics::Metrics;
use crate::state::App;
use crate::store::{RowEnd, Store, StoreError};
use std::time::Duration;

/// Seconds a lease on a target lasts; renewed for every batch, released at
/// the end of a pass, so a restarted server waits at most this long.
const LEASE_SECS: i64 = 60;
/// Rows per batch.
const BATCH: i64 = 50;
/// Batches per pass, so rows that keep changing cannot hold the loop.
const MAX_BATCHES: usize = 20;

/// One target's worker state.
pub struct TargetWorker {
    pub target: Target,
    pub client: ScimClient,
    /// PATCH support, read once from `/ServiceProviderConfig`.
    patch: Option<bool>,
}

impl TargetWorker {
    pub fn new(target: Target, timeout: Duration) -> Result<TargetWorker, String> {
        let client = ScimClient::new(&target, timeout)?;
        Ok(TargetWorker {
            target,
            client,
            patch: None,
        })
    }
}

/// What one pass over a target did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub failed: usize,
    /// The target was down (or refused the token): the error.
    pub target_error: Option<String>,
    /// Another replica holds the lease, or the target is backing off.
    pub skipped: bool,
}

/// What a pass needs from the service (the server's, or the CLI's own).
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub store: &'a Store,
    pub metrics: &'a Metrics,
    pub config: &'a ScimConfig,
}

/// Runs until `stop` is raised; a pass in progress finishes first.
pub async fn run(app: App, mut stop: crate::shutdown::Stop) {
    let timeout = Duration::from_secs(app.config.scim.timeout);
    let mut workers = Vec::new();
    for t in app.scim.iter().cloned() {
        match TargetWorker::new(t, timeout) {
            Ok(w) => workers.push(w),
            Err(e) => tracing::error!(error = %e, "scim target disabled"),
        }
    }
    if workers.is_empty() {
        return;
    }
    let owner = crate::secret::random_id(12);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.raised() => return,
        }
        for w in &mut workers {
            let env = Env {
                store: &app.store,
                metrics: &app.metrics,
                config: &app.config.scim,
            };
            if let Err(e) = pass(env, w, &owner, app.now()).await {
                tracing::warn!(target_name = %w.target.name, error = %e, "scim delivery pass failed");
            }
        }
    }
}

/// One pass over one target at `now`.
pub async fn pass(
    app: Env<'_>,
    w: &mut TargetWorker,
    owner: &str,
    now: i64,
) -> Result<Pass, StoreError> {
    let store = app.store;
    let name = w.target.name.clone();
    let mut out = Pass::default();
    if store.scim_target_next_attempt(&name).await? > now
        || !store
            .scim_take_lease(&name, owner, now, now + LEASE_SECS)
            .await?
    {
        out.skipped = true;
    } else {
        let r = drain(app, w, owner, now, &mut out).await;
        store.scim_release_lease(&name, owner).await?;
        r?;
    }
    app.metrics
        .set_scim_pending(&name, store.scim_pending_count(&name).await?);
    Ok(out)
}

async fn drain(
    app: Env<'_>,
    w: &mut TargetWorker,
    owner: &str,
    now: i64,
    out: &mut Pass,
) -> Result<(), StoreError> {
    let store = app.store;
    let cfg = app.config;
    let name = w.target.name.clone();
    let delay = |n: i64| super::backoff(n, cfg.retry_base, cfg.retry_max);
    let name = name.as_str();
    let target_down = |msg: String| async move {
        let n = store.scim_target_failed(name, &msg, now, delay).await?;
        tracing::warn!(target_name = %name, failures = n, error = %msg, "scim target unavailable; backing off");
        app.metrics.scim_delivery(name, "target_down");
        Ok::<String, StoreError>(msg)
    };
    let patch = match w.patch {
        Some(p) => p,
        None => match w.client.patch_supported().await {
            Ok(p) => *w.patch.insert(p),
            Err(f) => {
                out.target_error = Some(target_down(f.to_string()).await?);
                return Ok(());
            }
        },
    };
    for _ in 0..MAX_BATCHES {
        let rows = store.scim_due(&w.target.name, now, BATCH).await?;
        if rows.is_empty() {
            break;
        }
        store
            .scim_take_lease(&w.target.name, owner, now, now + LEASE_SECS)
            .await?;
        let d = Deliverer {
            store,
            target: &w.target,
            client: &w.client,
            patch,
            now,
        };
        for row in &rows {
            match d.deliver(row).await {
                Ok(done) => {
                    store.scim_row_done(row, RowEnd::Delivered, now).await?;
                    app.metrics.scim_delivery(&w.target.name, done);
                    tracing::info!(target_name = %w.target.name, kind = row.kind.as_str(), subject = %row.subject, outcome = done, "scim delivered");
                    out.delivered += 1;
                }
                Err(Error::Scim(Failure::Target(msg))) => {
                    out.target_error = Some(target_down(msg).await?);
                    return Ok(());
                }
                Err(Error::Scim(f)) => {
                    let attempts = row.attempts + 1;
                    let retry_at = (attempts < cfg.max_attempts).then(|| now + delay(attempts));
                    let msg = format!("{} {}: {f}", row.kind.as_str(), row.subject);
                    let end = RowEnd::Refused {
                        error: &msg,
                        retry_at,
                    };
                    store.scim_row_done(row, end, now).await?;
                    let outcome = if retry_at.is_some() {
                        "retry"
                    } else {
                        "failed"
                    };
                    app.metrics.scim_delivery(&w.target.name, outcome);
                    tracing::warn!(target_name = %w.target.name, error = %msg, attempts, outcome, "scim target refused a resource");
                    out.failed += 1;
                }
                Err(Error::Store(e)) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewUser;

    /// The schedule is data and `now` a parameter: a target that refuses
    /// connections (a real closed loopback port) is retried on the backoff
    /// schedule, moved through by hand, with no sleeping.
    #[tokio::test]
    async fn an_unreachable_target_is_retried_on_the_backoff_schedule() {
        let dir = std::env::temp_dir().join(format!(
            "tg-scim-w-{}",
            crate::secret::random_id(6).replace(['-', '_'], "x")
        ));
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.display()), 2)
            .await
            .unwrap()
            .with_scim_targets(vec!["down".into()]);
        store.migrate().await.unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = Target {
            name: "down".into(),
            base_url: format!("http://127.0.0.1:{closed}/v2"),
            token: crate::secret::Secret::new("t"),
            groups: vec![],
            ca_file: None,
            profile: Default::default(),
        };
        let config = ScimConfig {
            retry_base: 2,
            retry_max: 8,
            ..ScimConfig::default()
        };
        let metrics = Metrics::default();
        let env = Env {
            store: &store,
            metrics: &metrics,
            config: &config,
        };
        let t0 = 10_000;
        let user = NewUser {
            login: "alice".into(),
            ..NewUser::default()
        };
        store.insert_users(&[user], t0).await.unwrap();
        let mut w = TargetWorker::new(target, Duration::from_secs(2)).unwrap();

        // (now, tried?, consecutive failures after the pass)
        for (now, tried, failures) in [
            (t0, true, 1),      // next at t0+2
            (t0 + 1, false, 1), // backing off
            (t0 + 2, true, 2),  // next at t0+2+4
            (t0 + 5, false, 2),
            (t0 + 6, true, 3),  // next at t0+6+8
            (t0 + 14, true, 4), // capped at 8: next at t0+22
            (t0 + 21, false, 4),
        ] {
            let p = pass(env, &mut w, "me", now).await.unwrap();
            assert_eq!(p.skipped, !tried, "at +{}", now - t0);
            if tried {
                let e = p.target_error.unwrap();
                assert!(e.contains("cannot connect"), "{e}");
            }
            let st = store.scim_status("down").await.unwrap();
            assert_eq!(st.failures, failures, "at +{}", now - t0);
            assert_eq!(st.pending, 1, "the change stays queued");
        }
        let m = metrics.render();
        assert!(
            m.contains("tollgate_scim_pending{target=\"down\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("tollgate_scim_deliveries_total{target=\"down\",outcome=\"target_down\"} 4"),
            "{m}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
