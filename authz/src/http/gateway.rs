//! `POST /v1/decide` and the ext_authz check (`/ext_authz/...`): thin
//! adapters over `decision::gateway`.

use super::gateway_answer::{audit_refusal, original_path, refused, respond};
use crate::decision::gateway::{DecideRequest, Original, check, decide_request, split_resource};
use crate::oauth::OAuthError;
use crate::oauth::client::Permission;
use crate::oauth::client_auth::{Form, authenticate};
use crate::oauth::tokens::validate_access_token;
use crate::state::App;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tollgate_risk::policy::{Decision, Outcome};

/// `POST /v1/decide`: a client-authenticated (HTTP Basic, the client's id
/// and secret) JSON decision request, answered with the decision.
pub async fn decide(State(app): State<App>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body): (_, Body) = req.into_parts();
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.is_none() {
        return Err(OAuthError::invalid_client(
            "authenticate with HTTP Basic (client id and secret)",
        ));
    }
    let client = authenticate(&app, auth, &Form::new()).await?;
    if client.settings.is_public() {
        return Err(OAuthError::invalid_client(
            "public clients may not ask for decisions",
        ));
    }
    if !client.settings.may(Permission::Decide) {
        app.audit(
            "gateway.caller_refused",
            &client.id,
            "unknown",
            serde_json::json!({"point": "decide", "reason": "no decide permission"}),
        )
        .await;
        return Err(OAuthError::access_denied(
            "this client does not hold the decide permission",
        ));
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/json",
        ));
    }
    let bytes = to_bytes(body, app.config.http.max_body_bytes)
        .await
        .map_err(|_| OAuthError::too_large())?;
    let request = DecideRequest::from_json(&bytes)
        .map_err(|e| OAuthError::invalid_request(format!("decision request: {e}")))?;
    if request.subject.is_empty() || request.subject.len() > 256 {
        return Err(OAuthError::invalid_request(
            "subject must be 1-256 characters",
        ));
    }
    if let Err(why) = split_resource(request.resource.as_deref()) {
        audit_refusal(&app, "decide", &client.id, "resource", why).await;
        return Err(OAuthError::invalid_request(format!("resource: {why}")));
    }
    let now = app.now();
    if !app
        .decide_limits
        .allow(&format!("{}\n{}", client.id, request.subject), now)
    {
        app.metrics.decision("decide", "rate_limited");
        return Err(OAuthError::rate_limited(
            "too many decisions for this subject; try again in a minute",
        ));
    }
    let (decision, user) =
        decide_request(&app.decisions, &app.store, &client.id, &request, now).await;
    let may_revoke = client.settings.may(Permission::DecideRevokes);
    let caller = Caller {
        client: &client.id,
        may_revoke,
    };
    enforce(&app, "decide", &decision, user.as_deref(), caller, now).await;
    let mut resp = (StatusCode::OK, axum::Json(&decision)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Who a decision was asked for, and whether it may end sessions.
#[derive(Clone, Copy)]
struct Caller<'a> {
    client: &'a str,
    /// The client holds `decide_revokes`: a deny's `revoke` is carried out.
    may_revoke: bool,
}

/// Counts the decision, audits denies, and carries out a deny's
/// revocation when the caller is trusted to cause one. Allows and step-ups (the normal RFC 9470 flow, possibly
/// thousands a second) are counted in `tollgate_policy_decisions_total`,
/// not written one by one: an audit write per gateway request would make
/// the audit log the bottleneck and a cheap way to flood it.
async fn enforce(
    app: &App,
    point: &'static str,
    d: &Decision,
    user: Option<&crate::store::UserRow>,
    caller: Caller<'_>,
    now: i64,
) {
    app.metrics.decision(point, d.outcome.kind());
    let subject = user.map_or("unknown", |u| u.login.as_str());
    crate::decision::effects::announce(app.audit_sink(), point, subject, d).await;
    if !matches!(d.outcome, Outcome::Deny { .. }) {
        return;
    }
    let revoke = matches!(d.outcome, Outcome::Deny { revoke: true, .. });
    app.audit(
        "policy.decision",
        caller.client,
        subject,
        serde_json::json!({"point": point, "decision": d,
            "revocation": if !revoke { "none" } else if caller.may_revoke { "carried_out" } else { "not_permitted" }}),
    )
    .await;
    if let (true, true, Some(u)) = (revoke, caller.may_revoke, user) {
        crate::decision::effects::revoke_everything(
            app.revoker(),
            app.audit_sink(),
            u,
            None,
            &d.policy_version,
            now,
        )
        .await;
    }
}

/// The ext_authz check. The original request comes as Envoy's HTTP
/// ext_authz service sends it (same method, path after `/ext_authz`,
/// original headers), as nginx `auth_request` does (`X-Original-URI`,
/// `X-Original-Method`), or as APISIX forward-auth does
/// (`X-Forwarded-Uri`, `X-Forwarded-Method`).
pub async fn ext_authz(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if app.config.gateway.audiences.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            "ext_authz is not configured ([gateway] audiences)\n",
        )
            .into_response();
    }
    let headers = req.headers().clone();
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = match original_path(&req) {
        Ok(p) => p,
        Err((source, why)) => {
            audit_refusal(&app, "ext_authz", "gateway", source, why).await;
            return refused(why);
        }
    };
    let method = h("x-original-method")
        .or(h("x-forwarded-method"))
        .unwrap_or(req.method().as_str())
        .to_owned();
    let host = h("x-forwarded-host")
        .or(h("host"))
        .map(|v| v.split(':').next().unwrap_or(v));
    let ip = super::observe::client_ip(&app, peer, &headers)
        .parse()
        .unwrap_or(peer.ip());
    let bearer = h("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
    });
    let now = app.now();
    let claims = bearer
        .map(|t| validate_access_token(&app, t, now).map_err(|e| e.description))
        .unwrap_or_else(|| Err("no token".into()));
    let original = Original {
        method: &method,
        host,
        path: &path,
        ip,
        user_agent: h("user-agent").unwrap_or(""),
        bearer,
    };
    let (answer, made, user) = check(
        &app.decisions,
        &app.store,
        &app.config.gateway.audiences,
        claims,
        &original,
        now,
    )
    .await;
    if let Some(m) = &made {
        let client = m.event.client.as_deref().unwrap_or("gateway");
        // The gateway does not authenticate; the token's client is the
        // one whose trust a revocation would use.
        let may_revoke = matches!(m.decision.outcome, Outcome::Deny { revoke: true, .. })
            && app
                .clients
                .get(&app.store, client, now)
                .await
                .ok()
                .flatten()
                .is_some_and(|c| c.settings.may(Permission::DecideRevokes));
        let caller = Caller { client, may_revoke };
        enforce(&app, "ext_authz", &m.decision, user.as_deref(), caller, now).await;
    } else {
        app.metrics.decision("ext_authz", "unauthenticated");
    }
    respond(&answer)
}
