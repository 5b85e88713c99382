//! Decisions for gateways and services: `POST /v1/decide` (the BRIEF's
//! JSON) and the ext_authz check (Envoy HTTP service, nginx
//! `auth_request`, APISIX forward-auth).
//!
//! Both score the request context against the user's history and ask the
//! policy with `action: request`. A request carrying a session (the
//! token's `sid`) is scored against what that session's login knew: its
//! hashed device id stands in for the cookie a gateway never sees, and
//! travel is measured from its place and time. Without one, a missing
//! device id is no evidence (never `no_device_id`); ext_authz first validates the bearer
//! access token and takes the session's `acr`/`auth_time` from it, and
//! answers in HTTP: 200 with `x-tollgate-*` headers, 401 with an RFC 9470
//! challenge, 403 on deny. The HTTP mapping is here as data
//! ([`Check`]); `http/gateway.rs` only copies it into a response.

use super::{DecisionPoint, Made, Request, Subject};
use crate::store::{Store, UserRow};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tollgate_risk::policy::{
    Action, Decision, DecisionReason, Outcome, ReasonSource, SessionState,
};

/// `POST /v1/decide` body (BRIEF.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The user's login name.
    pub subject: String,
    /// The client the request is for; defaults to the calling client.
    #[serde(default)]
    pub client: Option<String>,
    /// `login` or `request` (default).
    #[serde(default)]
    pub action: Option<Action>,
    /// The URL being accessed; its host and path feed host/path rules.
    #[serde(default)]
    pub resource: Option<String>,
    /// The relying party's `acr_values`, if it asks for a level itself.
    #[serde(default)]
    pub acr_values: Vec<String>,
    #[serde(default)]
    pub max_age: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub context: DecideContext,
}

impl DecideRequest {
    /// Parses a request body: a JSON object, as the OpenAPI description
    /// says. serde alone would also read each struct from an array of its
    /// fields in order (`["alice", null, …]`, found by schemathesis): a
    /// positional form no client means to send, refused instead of guessed.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        let m: Map<String, Value> = serde_json::from_slice(body)?;
        Self::deserialize(Value::Object(m))
    }
}

/// Deserialises `T` from a JSON object only (see [`DecideRequest::from_json`]).
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let m = Map::<String, Value>::deserialize(d)?;
    T::deserialize(Value::Object(m)).map_err(D::Error::custom)
}

/// [`object`] for an optional field: `null` or absent is `None`.
fn optional_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<Map<String, Value>>::deserialize(d)?
        .map(|m| T::deserialize(Value::Object(m)).map_err(D::Error::custom))
        .transpose()
}

/// `context` of a decision request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideContext {
    #[serde(default)]
    pub ip: Option<IpAddr>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    pub session: Option<DecideSession>,
}

/// What the caller's session has proven.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideSession {
    pub acr: String,
    pub auth_time: i64,
    /// The token's `sid`: the request is then scored against what that
    /// session's login knew (device, place, time).
    #[serde(default)]
    pub sid: Option<String>,
}

/// The history to score a request with and the context of the session it
/// claims (`sid`): travel is measured from the session's own login, and
/// the session's device stands in for the cookie a gateway never sees.
async fn bind(
    dp: &DecisionPoint,
    store: &Store,
    sid: Option<&str>,
    user_id: &str,
    history: Option<tollgate_risk::UserHistory>,
    now: i64,
) -> (
    Option<tollgate_risk::UserHistory>,
    Option<crate::store::SessionContext>,
) {
    let Some(sid) = sid else {
        return (history, None);
    };
    match dp.session_context(store, sid, user_id, now).await {
        Some(c) => (dp.anchored(history, &c), Some(c)),
        None => (history, None),
    }
}

/// Users by login or id for gateway decisions: a few seconds of caching
/// keeps the database off the per-request path.
#[derive(Default)]
pub struct Directory {
    entries: Mutex<HashMap<String, Cached>>,
}

/// A user (or the knowledge that there is none) and when it was read.
type Cached = (Option<Arc<UserRow>>, i64);

const DIRECTORY_TTL: i64 = 5;
const DIRECTORY_MAX: usize = 8192;

impl Directory {
    async fn get(&self, store: &Store, key: Lookup<'_>, now: i64) -> Option<Arc<UserRow>> {
        let k = match key {
            Lookup::Login(l) => format!("l:{l}"),
            Lookup::Id(i) => format!("i:{i}"),
        };
        if let Some((u, at)) = super::lock(&self.entries).get(&k)
            && now - at < DIRECTORY_TTL
        {
            return u.clone();
        }
        let found = match key {
            Lookup::Login(l) => store.user_by_login(l).await,
            Lookup::Id(i) => store.user(i).await,
        };
        let u = match found {
            Ok(u) => u.map(Arc::new),
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                return None;
            }
        };
        let mut m = super::lock(&self.entries);
        if m.len() >= DIRECTORY_MAX {
            m.clear();
        }
        m.insert(k, (u.clone(), now));
        u
    }
}

enum Lookup<'a> {
    Login(&'a str),
    Id(&'a str),
}

/// The decision for a user the directory does not know or has disabled:
/// deny, without consulting the policy.
fn refused(dp: &DecisionPoint, code: &str, detail: &str) -> Decision {
    Decision {
        outcome: Outcome::Deny {
            revoke: false,
            alert: false,
        },
        score: 100,
        reasons: vec![DecisionReason {
            source: ReasonSource::Session,
            code: code.to_owned(),
            detail: detail.to_owned(),
        }],
        rules_fired: vec![],
        notify: vec![],
        policy_version: dp.version(),
        required_level: None,
    }
}

/// Answers a `/v1/decide` request for `caller` (the authenticated client).
/// A subject the directory does not know is scored as a new user with no
/// groups (services may ask about accounts from elsewhere); a disabled
/// one is denied.
pub async fn decide_request(
    dp: &DecisionPoint,
    store: &Store,
    caller: &str,
    req: &DecideRequest,
    now: i64,
) -> (Decision, Option<Arc<UserRow>>) {
    let user = dp
        .directory
        .get(store, Lookup::Login(&req.subject), now)
        .await;
    if user.as_ref().is_some_and(|u| u.disabled) {
        return (
            refused(dp, "user_disabled", "the account is disabled"),
            user,
        );
    }
    // The handler refused a resource whose path does not normalise.
    let (host, path) = split_resource(req.resource.as_deref()).unwrap_or_default();
    let groups: &[String] = user.as_ref().map_or(&[], |u| u.groups.as_slice());
    let attributes = user
        .as_deref()
        .map(super::login::user_attributes)
        .unwrap_or_default();
    let history = dp.cached_history(store, &req.subject, now).await;
    let sid = req.context.session.as_ref().and_then(|s| s.sid.as_deref());
    let (history, bound) = match (&user, sid) {
        (Some(u), Some(sid)) => bind(dp, store, Some(sid), &u.id, history, now).await,
        _ => (history, None),
    };
    let device_id = req
        .context
        .device_id
        .as_deref()
        .or(bound.as_ref().and_then(|c| c.device.as_deref()));
    let r = Request {
        client: Some(req.client.as_deref().unwrap_or(caller)),
        action: req.action.unwrap_or(Action::Request),
        host: host.as_deref(),
        path: path.as_deref(),
        ip: req.context.ip,
        user_agent: req.context.user_agent.as_deref().unwrap_or(""),
        device_id,
        // Services relay no device cookie unless they say so.
        device_unobservable: device_id.is_none(),
        acr_values: &req.acr_values,
        max_age: req.max_age,
        session: req.context.session.as_ref().map(|s| SessionState {
            acr: &s.acr,
            auth_time: s.auth_time,
        }),
        second_factor: None,
        // The gateway relays no browser signals: nothing to compare.
        signals: None,
    };
    let who = Subject {
        login: &req.subject,
        groups,
        attributes: &attributes,
    };
    let made = dp
        .decide(who, &r, history.as_ref(), false, false, now)
        .await;
    (made.decision, user)
}

/// The host and normalised path of a `/v1/decide` resource (an absolute
/// URL or an absolute path); a path [`super::path`] refuses is an error,
/// and so is anything else (a rule could not see its path).
pub fn split_resource(
    resource: Option<&str>,
) -> Result<(Option<String>, Option<String>), super::path::Refusal> {
    let Some(r) = resource else {
        return Ok((None, None));
    };
    let path = super::path::path_of(r)?;
    let host = if r.starts_with('/') {
        None
    } else {
        let u = url::Url::parse(r).map_err(|_| super::path::Refusal::NotAbsolute)?;
        u.host_str().map(str::to_owned)
    };
    Ok((host, Some(path)))
}

/// The original request an ext_authz check is about.
pub struct Original<'a> {
    pub method: &'a str,
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub ip: IpAddr,
    pub user_agent: &'a str,
    pub bearer: Option<&'a str>,
}

/// The answer to an ext_authz check, as data.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// 200: forward, with these headers for the upstream.
    Allow { sub: String, acr: String, score: u8 },
    /// 401: no usable token (`WWW-Authenticate: Bearer …`).
    Unauthenticated {
        error: Option<&'static str>,
        description: String,
    },
    /// 401 with the RFC 9470 challenge.
    StepUp {
        acr_values: String,
        max_age: Option<u64>,
    },
    /// 403.
    Deny { description: String },
}

impl Check {
    /// The `WWW-Authenticate` value for a 401, if any.
    pub fn challenge(&self) -> Option<String> {
        match self {
            Check::Unauthenticated { error: None, .. } => Some("Bearer realm=\"tollgate\"".into()),
            Check::Unauthenticated {
                error: Some(e),
                description,
            } => Some(format!(
                "Bearer realm=\"tollgate\", error=\"{e}\", error_description=\"{}\"",
                quoted(description)
            )),
            Check::StepUp {
                acr_values,
                max_age,
            } => {
                let mut v = format!(
                    "Bearer realm=\"tollgate\", error=\"insufficient_user_authentication\", \
                     error_description=\"A different authentication level is required\", acr_values=\"{}\"",
                    quoted(acr_values)
                );
                if let Some(m) = max_age {
                    v.push_str(&format!(", max_age=\"{m}\""));
                }
                Some(v)
            }
            _ => None,
        }
    }
}

/// An auth-param value cannot carry `"` or `\` unescaped (RFC 9110 §5.6.4);
/// ours never need them, so they are dropped rather than escaped.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Checks one gateway request. `claims` is the result of validating the
/// bearer token (signature, type, issuer, expiry, revocation); the audience
/// is checked here against `[gateway] audiences`.
pub async fn check(
    dp: &DecisionPoint,
    store: &Store,
    audiences: &[String],
    claims: Result<Arc<serde_json::Value>, String>,
    original: &Original<'_>,
    now: i64,
) -> (Check, Option<Made>, Option<Arc<UserRow>>) {
    let unauthenticated = |d: &str| Check::Unauthenticated {
        error: Some("invalid_token"),
        description: d.to_owned(),
    };
    if original.bearer.is_none() {
        return (
            Check::Unauthenticated {
                error: None,
                description: "a bearer token is required".into(),
            },
            None,
            None,
        );
    }
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return (unauthenticated(&e), None, None),
    };
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => audiences.iter().any(|x| x == a),
        serde_json::Value::Array(v) => v
            .iter()
            .filter_map(|a| a.as_str())
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return (
            unauthenticated("the token is not for this audience"),
            None,
            None,
        );
    }
    let sub = claims["sub"].as_str().unwrap_or("");
    let user = match dp.directory.get(store, Lookup::Id(sub), now).await {
        Some(u) if !u.disabled => u,
        // A client-credentials token has no user: nothing to step up.
        _ => {
            return (
                unauthenticated("the token's subject is not an active user"),
                None,
                None,
            );
        }
    };
    let (Some(acr), Some(auth_time)) = (claims["acr"].as_str(), claims["auth_time"].as_i64())
    else {
        return (
            unauthenticated("the token carries no user authentication"),
            None,
            Some(user),
        );
    };
    let attributes = super::login::user_attributes(&user);
    let history = dp.cached_history(store, &user.login, now).await;
    let (history, bound) = bind(dp, store, claims["sid"].as_str(), &user.id, history, now).await;
    let r = Request {
        client: claims["client_id"].as_str(),
        action: Action::Request,
        host: original.host,
        path: Some(original.path),
        ip: Some(original.ip),
        user_agent: original.user_agent,
        device_id: bound.as_ref().and_then(|c| c.device.as_deref()),
        device_unobservable: bound.as_ref().is_none_or(|c| c.device.is_none()),
        acr_values: &[],
        max_age: None,
        session: Some(SessionState { acr, auth_time }),
        second_factor: None,
        signals: None,
    };
    let who = Subject {
        login: &user.login,
        groups: &user.groups,
        attributes: &attributes,
    };
    let made = dp
        .decide(who, &r, history.as_ref(), false, false, now)
        .await;
    let answer = match &made.decision.outcome {
        Outcome::Allow => Check::Allow {
            sub: sub.to_owned(),
            acr: acr.to_owned(),
            score: made.decision.score,
        },
        Outcome::StepUp {
            required_acr,
            max_age,
        } => Check::StepUp {
            acr_values: required_acr.clone(),
            max_age: *max_age,
        },
        Outcome::Deny { .. } => Check::Deny {
            description: "the policy refuses this request".into(),
        },
    };
    (answer, Some(made), Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750_and_9470() {
        let cases = [
            (
                Check::StepUp {
                    acr_values: "phr".into(),
                    max_age: Some(300),
                },
                Some(
                    "Bearer realm=\"tollgate\", error=\"insufficient_user_authentication\", error_description=\"A different authentication level is required\", acr_values=\"phr\", max_age=\"300\"",
                ),
            ),
            (
                Check::StepUp {
                    acr_values: "aal2".into(),
                    max_age: None,
                },
                Some(
                    "Bearer realm=\"tollgate\", error=\"insufficient_user_authentication\", error_description=\"A different authentication level is required\", acr_values=\"aal2\"",
                ),
            ),
            (
                Check::Unauthenticated {
                    error: None,
                    description: String::new(),
                },
                Some("Bearer realm=\"tollgate\""),
            ),
            (
                Check::Unauthenticated {
                    error: Some("invalid_token"),
                    description: "bad \"sig\"".into(),
                },
                Some(
                    "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"bad sig\"",
                ),
            ),
            (
                Check::Deny {
                    description: "no".into(),
                },
                None,
            ),
        ];
        for (check, want) in cases {
            assert_eq!(check.challenge().as_deref(), want, "{check:?}");
        }
    }

    #[test]
    fn decision_requests_are_objects_not_positional_arrays() {
        let cases: [(&str, bool); 8] = [
            (r#"{"subject":"alice"}"#, true),
            (r#"{"subject":"alice","context":{"ip":"192.0.2.1"}}"#, true),
            (
                r#"{"subject":"alice","context":{"session":{"acr":"aal1","auth_time":1}}}"#,
                true,
            ),
            (r#"{"subject":"alice","context":{"session":null}}"#, true),
            (r#"["alice"]"#, false),
            (r#"{"subject":"alice","context":[null,null]}"#, false),
            (
                r#"{"subject":"alice","context":{"session":["aal1",1]}}"#,
                false,
            ),
            (r#"{"subject":"alice","context":{"bogus":1}}"#, false),
        ];
        for (body, ok) in cases {
            assert_eq!(
                DecideRequest::from_json(body.as_bytes()).is_ok(),
                ok,
                "{body}"
            );
        }
    }

    #[test]
    fn resources_split_into_host_and_normalised_path() {
        use crate::decision::path::Refusal;
        let cases = [
            (
                Some("https://vc.example/ui/admin?x=1"),
                Ok((Some("vc.example"), Some("/ui/admin"))),
            ),
            (
                Some("https://VC.example//ui/%61dmin"),
                Ok((Some("vc.example"), Some("/ui/admin"))),
            ),
            (Some("/api/v1"), Ok((None, Some("/api/v1")))),
            (Some("/api/%2e%2e/v1"), Err(Refusal::EncodedDotSegment)),
            (Some("not a url"), Err(Refusal::NotAbsolute)),
            (None, Ok((None, None))),
        ];
        for (input, want) in cases {
            let got = split_resource(input);
            let got = got
                .as_ref()
                .map(|(h, p)| (h.as_deref(), p.as_deref()))
                .map_err(|e| *e);
            assert_eq!(got, want, "{input:?}");
        }
    }
}
