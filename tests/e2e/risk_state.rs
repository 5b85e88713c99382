//! Risk state across requests and restarts (issue 11): the global
//! frequency sketch survives a restart on SQLite and PostgreSQL, and a
//! burst of requests to sensitive routes is answered by the policy through
//! `/v1/decide`.

use crate::policy::{API, DE, reason_codes as codes, server_with};
use serde_json::{Value, json};
use std::net::IpAddr;
use tollgate::{Db, SECRET, TestServer};
use tollgate_authz::decision::login::{LoginRisk, ScoredAgainst};
use tollgate_authz::decision::{DecisionPoint, Request, Subject};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const CHROME_NEXT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0 Safari/537.36";

/// A sign-in as the login hook makes it at `now`: scored against the
/// user's stored history, counted (velocity, global frequencies) when
/// `record`, and then learned; the device cookie is the user's own, or none
/// for a probe (a known device's credit alone would reach the model's
/// bound and hide the rest). Returns the decision's logit.
async fn sign_in(srv: &TestServer, login: &str, ip: &str, ua: &str, record: bool, now: i64) -> f64 {
    sign_in_at(&srv.app.decisions, srv, login, ip, ua, record, now).await
}

/// [`sign_in`] decided by `dp` (another replica on the same database).
async fn sign_in_at(
    dp: &DecisionPoint,
    srv: &TestServer,
    login: &str,
    ip: &str,
    ua: &str,
    record: bool,
    now: i64,
) -> f64 {
    let ip: IpAddr = ip.parse().unwrap();
    let device = format!("dev-{login}");
    let r = Request {
        client: Some("rp"),
        ip: Some(ip),
        user_agent: ua,
        device_id: record.then_some(device.as_str()),
        second_factor: Some(true),
        ..Request::default()
    };
    let who = Subject {
        login,
        groups: &[],
        attributes: &[],
    };
    let history = dp.history(&srv.app.store, login).await;
    let made = dp
        .decide(who, &r, history.as_ref(), false, record, now)
        .await;
    if record {
        // As a sign-in completes: learning from the history it was scored against.
        let risk = LoginRisk::of(&made, ScoredAgainst(history));
        dp.learn(&srv.app.store, &risk, now).await.unwrap();
    }
    made.logit
}

/// `n` sign-ins by `users` users (`u0`, `u1`, …; or only user `only`'s)
/// from three /24s and two user agents, one a second from `t0`, decided
/// by the replicas in turn.
async fn crowd(
    srv: &TestServer,
    replicas: &[&DecisionPoint],
    n: u32,
    users: u32,
    only: Option<u32>,
    t0: i64,
) {
    for k in 0..n {
        if only.is_some_and(|u| k % users != u) {
            continue;
        }
        let ip = format!("198.51.{}.{}", 100 + k % 3, 1 + k % 200);
        let ua = if k % 2 == 0 { CHROME } else { "curl/8.0" };
        let dp = replicas[k as usize % replicas.len()];
        let user = format!("u{}", k % users);
        sign_in_at(dp, srv, &user, &ip, ua, true, t0 + i64::from(k)).await;
    }
}

/// Traffic from many users and networks, then one probe two hours later
/// (the velocity windows are empty again, on any replica): a user's usual
/// network with a browser version nobody used yet. Its score depends on
/// how common the user's values are globally, so it differs on a fresh
/// sketch; after a restart on the same database it must not.
async fn globals_survive_a_restart(db: Db) {
    let Some((srv, dir)) = server_with(db, vec![], "").await else {
        return;
    };
    let t0 = srv.app.now();
    crowd(&srv, &[&srv.app.decisions], 300, 60, None, t0).await;
    let later = t0 + 7200;
    let warm = sign_in(&srv, "u7", "198.51.101.8", CHROME_NEXT, false, later).await;
    let fresh = {
        let (other, _dir) = server_with(db, vec![], "").await.unwrap();
        crowd(&other, &[&other.app.decisions], 300, 60, Some(7), t0).await;
        sign_in(&other, "u7", "198.51.101.8", CHROME_NEXT, false, later).await
    };
    assert_ne!(warm, fresh, "the probe must depend on the global sketch");
    let restarted = srv.stop_keeping_data().await.restart().await;
    let again = sign_in(&restarted, "u7", "198.51.101.8", CHROME_NEXT, false, later).await;
    assert_eq!(again, warm, "a restart must not change the score");
    drop(dir);
}

#[tokio::test]
async fn risk_globals_survive_a_restart_sqlite() {
    globals_survive_a_restart(Db::Sqlite).await;
}

#[tokio::test]
async fn risk_globals_survive_a_restart_postgres() {
    globals_survive_a_restart(Db::Postgres).await;
}

/// Two replicas on one database count different logins; each save adds
/// only what that replica counted since its last one, so a third replica
/// starting later scores exactly as the replica that saved last (which
/// took back everyone's sum), and saving again without new counts changes
/// nothing.
async fn replicas_add_up(db: Db) {
    let Some((srv, _dir)) = server_with(db, vec![], "").await else {
        return;
    };
    let replica = || DecisionPoint::load(&srv.app.config.policy).unwrap();
    let (a, b) = (&srv.app.decisions, replica());
    let t0 = srv.app.now();
    crowd(&srv, &[a, &b], 120, 30, None, t0).await;
    let store = &srv.app.store;
    let later = t0 + 7200;
    let probe = |dp| sign_in_at(dp, &srv, "u3", "198.51.100.4", CHROME_NEXT, false, later);
    let a_alone = probe(a).await;
    a.save_globals(store, later).await.unwrap();
    b.save_globals(store, later).await.unwrap();
    b.save_globals(store, later).await.unwrap();
    let everyone = probe(&b).await;
    assert_ne!(everyone, a_alone, "b took back a's counts too");
    let c = replica();
    c.load_globals(store).await.unwrap();
    assert_eq!(probe(&c).await, everyone);
    a.save_globals(store, later).await.unwrap();
    let d = replica();
    d.load_globals(store).await.unwrap();
    assert_eq!(probe(&d).await, everyone, "nothing counted twice");
}

#[tokio::test]
async fn replicas_add_their_risk_globals_sqlite() {
    replicas_add_up(Db::Sqlite).await;
}

#[tokio::test]
async fn replicas_add_their_risk_globals_postgres() {
    replicas_add_up(Db::Postgres).await;
}

/// `POST /v1/decide` for `erin` at `path` from the usual address.
async fn decide(http: &reqwest::Client, base: &str, path: &str) -> Value {
    let r = http
        .post(format!("{base}/v1/decide"))
        .basic_auth("rp", Some(SECRET))
        .json(&json!({"subject": "erin", "action": "request",
            "resource": format!("{API}{path}"), "context": {"ip": DE, "user_agent": CHROME}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Twenty exports within the hour are the policy's limit; the 21st is a
/// burst, and the rule naming `sensitive_burst` denies it with revocation.
/// Ordinary routes are never counted.
#[tokio::test]
async fn a_burst_of_exports_is_denied_by_name() {
    let policy = r#"
risk:
  sensitive:
    paths: [/api/export*]
    per_hour: 20
rules_before:
  - name: export-burst
    when: {action: request, reasons: [sensitive_burst]}
    deny: true
    revoke: true
"#;
    let Some((srv, _dir)) = server_with(Db::Sqlite, vec![], policy).await else {
        return;
    };
    srv.add_user("erin", &[]).await;
    let http = reqwest::Client::new();
    for k in 0..40 {
        let d = decide(&http, &srv.base, "/api/users").await;
        assert!(
            !codes(&d).contains(&"sensitive_burst".to_owned()),
            "{k}: {d}"
        );
    }
    for k in 1..=20 {
        let d = decide(&http, &srv.base, "/api/export/users.csv").await;
        assert!(
            !codes(&d).contains(&"sensitive_burst".to_owned()),
            "{k}: {d}"
        );
        assert_ne!(d["decision"], "deny", "{k}: {d}");
    }
    let d = decide(&http, &srv.base, "/api/export/users.csv?page=2").await;
    assert!(codes(&d).contains(&"sensitive_burst".to_owned()), "{d}");
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(d["revoke"], true, "{d}");
    assert_eq!(d["rules_fired"], json!(["export-burst"]), "{d}");
    let d = decide(&http, &srv.base, "/api/users").await;
    assert!(!codes(&d).contains(&"sensitive_burst".to_owned()), "{d}");
}
