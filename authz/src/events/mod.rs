//! Security events that must reach relying parties within seconds:
//! CAEP `session-revoked` and `credential-change` as Security Event Tokens
//! pushed to Shared Signals receivers (RFC 8417, RFC 8935, the CAEP
//! interoperability profile), and OIDC Back-Channel Logout 1.0.
//!
//! The flow has three steps, each restartable:
//! 1. an *intent* is written in the same transaction as the change (a
//!    session ended, a user's access revoked; `store/events.rs`);
//! 2. [`expand`] turns each intent into one *delivery* per target (every
//!    subscribed receiver; every client of the ended session with a
//!    `backchannel_logout_uri`), in one transaction per intent;
//! 3. [`deliver`] signs and POSTs due deliveries, retrying with
//!    [`backoff`] until the target answers 2xx.
//!
//! A restart loses nothing: all three live in the database. A delivery may
//! arrive twice (a crash after the POST, before recording it); receivers
//! deduplicate by `jti`, which stays the same across retries.

pub mod claims;

use crate::state::AppState;
use crate::store::NewDelivery;
use std::time::Duration;

/// Attempts before a delivery is given up (the last about a day later).
pub const MAX_ATTEMPTS: i64 = 30;

/// Seconds until the next attempt after `attempts` failures: 1, 2, 4 … capped
/// at 1 h; `None` after [`MAX_ATTEMPTS`].
pub fn backoff(attempts: i64) -> Option<i64> {
    (attempts < MAX_ATTEMPTS)
        .then(|| 1i64 << attempts.clamp(0, 12).min(12))
        .map(|s| s.min(3600))
}

/// Records a `credential-change` event (a passkey, TOTP or device added
/// or removed). `credential_type` is CAEP's (`fido2-platform`,
/// `fido2-roaming`, `app`, …), `change_type` `create`, `update`, `revoke`
/// or `delete`. A failure is logged: the change itself already happened.
pub async fn credential_changed(
    app: &AppState,
    user_id: &str,
    credential_type: &str,
    change_type: &str,
    initiator: &str,
) {
    let data = serde_json::json!({
        "credential_type": credential_type,
        "change_type": change_type,
        "initiator": initiator,
    });
    if let Err(e) = app
        .store
        .add_event_intent("credential-change", user_id, &data, app.now())
        .await
    {
        tracing::error!(error = %e, "cannot record a credential-change event");
    }
}

/// The `channel` of a delivery row.
const SSF: &str = "ssf";
const BACKCHANNEL_LOGOUT: &str = "backchannel-logout";

/// Expands pending intents into deliveries.
pub async fn expand(app: &AppState) -> Result<usize, crate::store::StoreError> {
    let now = app.now();
    let mut n = 0;
    for intent in app.store.pending_intents(100).await? {
        let mut out = Vec::new();
        for r in &app.config.ssf.receivers {
            if r.events.contains(&intent.kind) {
                let aud = r.audience.as_deref().unwrap_or(&r.endpoint);
                out.push(NewDelivery {
                    channel: SSF,
                    target: r.name.clone(),
                    url: r.endpoint.clone(),
                    claims: claims::set(&app.urls.issuer, aud, &intent),
                });
            }
        }
        if let (Some(sid), "session-revoked") = (&intent.session_id, intent.kind.as_str()) {
            for client_id in app.store.session_clients(sid).await? {
                let Some(client) = app.clients.get(&app.store, &client_id, now).await? else {
                    continue;
                };
                if let Some(uri) = &client.settings.backchannel_logout_uri {
                    out.push(NewDelivery {
                        channel: BACKCHANNEL_LOGOUT,
                        target: client_id.clone(),
                        url: uri.clone(),
                        claims: claims::logout(&app.urls.issuer, &client_id, &intent, now),
                    });
                }
            }
        }
        if app.store.expand_intent(&intent.id, &out, now).await? {
            n += out.len();
        }
    }
    Ok(n)
}

/// The HTTP clients deliveries go out with: one per receiver or client
/// that has its own `ca_file`, the shared one for every other target.
pub struct Senders {
    shared: reqwest::Client,
    /// By (`channel`, target), as in a delivery row.
    own: std::collections::HashMap<(String, String), reqwest::Client>,
}

impl Senders {
    /// Clients for `config`'s receivers and clients. A `ca_file` that
    /// cannot be read is an error naming it (preflight reports it first).
    pub fn from_config(config: &crate::config::Config) -> Result<Senders, String> {
        let build = |ca: Option<&std::path::Path>| {
            let b = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none());
            crate::tls::with_ca_file(b, ca)?
                .build()
                .map_err(|e| e.to_string())
        };
        let mut own = std::collections::HashMap::new();
        for r in &config.ssf.receivers {
            if let Some(ca) = &r.ca_file {
                let c = build(Some(ca))
                    .map_err(|e| format!("ssf receiver {:?}: ca_file: {e}", r.name))?;
                own.insert((SSF.to_owned(), r.name.clone()), c);
            }
        }
        for c in &config.clients {
            if let Some(ca) = &c.backchannel_logout_ca_file {
                let h = build(Some(ca))
                    .map_err(|e| format!("client {:?}: backchannel_logout_ca_file: {e}", c.id))?;
                own.insert((BACKCHANNEL_LOGOUT.to_owned(), c.id.clone()), h);
            }
        }
        Ok(Senders {
            shared: build(None)?,
            own,
        })
    }

    fn for_delivery(&self, d: &crate::store::DeliveryRow) -> &reqwest::Client {
        self.own
            .get(&(d.channel.clone(), d.target.clone()))
            .unwrap_or(&self.shared)
    }
}

/// Signs and sends due deliveries; records each outcome.
pub async fn deliver(app: &AppState, senders: &Senders) -> Result<usize, crate::store::StoreError> {
    let now = app.now();
    let due = app.store.due_deliveries(now, 50).await?;
    let mut sent = 0;
    for d in &due {
        // Another replica may have read the same row: only the claimant sends.
        if !app.store.claim_delivery(d, now + DELIVERY_LEASE).await? {
            continue;
        }
        sent += 1;
        let outcome = send(app, senders.for_delivery(d), d, now).await;
        let result = match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err((e.as_str(), backoff(d.attempts + 1).map(|s| now + s))),
        };
        if let Err(e) = &outcome {
            tracing::warn!(channel = %d.channel, target = %d.target, attempts = d.attempts + 1, error = %e, "event delivery failed");
        }
        app.store.delivery_attempted(&d.id, result, now).await?;
        app.metrics.event_delivery(
            if d.channel == "ssf" {
                "ssf"
            } else {
                "backchannel_logout"
            },
            outcome.is_ok(),
        );
    }
    Ok(sent)
}

/// Seconds a replica owns a delivery it claimed (well above the 5 s
/// request timeout): after a crash mid-send, another replica retries then.
const DELIVERY_LEASE: i64 = 30;

async fn send(
    app: &AppState,
    http: &reqwest::Client,
    d: &crate::store::DeliveryRow,
    now: i64,
) -> Result<(), String> {
    let Some(claims) = d.claims.as_object() else {
        return Err("stored claims are not an object".into());
    };
    let request = if d.channel == "ssf" {
        // CAEP interoperability profile: RS256, typ secevent+jwt.
        let jwt = app
            .keyring()
            .sign(crate::keys::Alg::RS256, Some("secevent+jwt"), claims, now)
            .map_err(|e| e.to_string())?;
        let mut r = http
            .post(&d.url)
            .header("content-type", "application/secevent+jwt")
            .header("accept", "application/json")
            .body(jwt);
        let token = app
            .config
            .ssf
            .receivers
            .iter()
            .find(|r| r.name == d.target)
            .and_then(|r| r.authorization_env.as_deref())
            .and_then(|var| std::env::var(var).ok());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    } else {
        let alg = match app.clients.get(&app.store, &d.target, now).await {
            Ok(Some(c)) => c.settings.id_token_alg,
            _ => crate::keys::Alg::RS256,
        };
        let jwt = app
            .keyring()
            .sign(alg, Some("logout+jwt"), claims, now)
            .map_err(|e| e.to_string())?;
        http.post(&d.url).form(&[("logout_token", jwt)])
    };
    let resp = request.send().await.map_err(|e| {
        let chain = error_chain(&e);
        match crate::tls::unknown_issuer_hint(&chain) {
            Some(hint) => format!("{chain} ({hint})"),
            None => chain,
        }
    })?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status().as_u16()))
    }
}

/// `e` and its sources: reqwest's own text says only where it failed
/// ("error sending request"), the innermost says why.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// The delivery loop: twice a second, expand and deliver. Runs until
/// `stop` is raised; a round in progress (a send in flight) finishes and
/// is recorded first.
pub async fn run(app: std::sync::Arc<AppState>, mut stop: crate::shutdown::Stop) {
    let senders = match Senders::from_config(&app.config) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP clients; security events are not delivered");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.raised() => return,
        }
        if let Err(e) = expand(&app).await {
            tracing::warn!(error = %e, "expanding security events failed");
        }
        if let Err(e) = deliver(&app, &senders).await {
            tracing::warn!(error = %e, "delivering security events failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_gives_its_own_target_its_own_client() {
        let text = "version = 1\nissuer = \"https://id.example\"\n\
            [[ssf.receivers]]\nname = \"siem\"\nendpoint = \"https://siem.example/ssf\"\n\
            ca_file = \"/nonexistent/siem-ca.pem\"\n";
        let cfg = crate::config::Config::parse(text, "t.toml").unwrap();
        let err = Senders::from_config(&cfg).err().unwrap();
        assert!(
            err.starts_with("ssf receiver \"siem\": ca_file: /nonexistent/siem-ca.pem: "),
            "{err}"
        );
        let mut cfg = crate::config::Config::demo("127.0.0.1:1");
        let ca = crate::login::soft_passkey::TestAttestationCa::generate("events test CA").unwrap();
        let path = std::env::temp_dir().join(format!("tg-ev-{}.pem", crate::secret::random_id(6)));
        std::fs::write(&path, ca.pem()).unwrap();
        cfg.clients.push(crate::config::ClientConfig {
            id: "app".into(),
            backchannel_logout_ca_file: Some(path.clone()),
            ..Default::default()
        });
        let senders = Senders::from_config(&cfg);
        let _ = std::fs::remove_file(&path);
        let senders = senders.unwrap();
        let keys: Vec<_> = senders.own.keys().cloned().collect();
        assert_eq!(
            keys,
            vec![(BACKCHANNEL_LOGOUT.to_owned(), "app".to_owned())]
        );
    }

    #[test]
    fn backoff_doubles_then_caps_then_gives_up() {
        let cases = [
            (0, Some(1)),
            (1, Some(2)),
            (3, Some(8)),
            (11, Some(2048)),
            (12, Some(3600)),
            (29, Some(3600)),
            (30, None),
            (100, None),
        ];
        for (attempts, want) in cases {
            assert_eq!(backoff(attempts), want, "{attempts}");
        }
    }
}
