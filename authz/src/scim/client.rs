//! The HTTP side of SCIM (RFC 7644): one client per target, its bearer
//! token attached to each request and never printed, every answer sorted
//! into success or one [`Failure`] the worker knows how to retry.

use super::Target;
use crate::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Why a request did not succeed, by what the worker does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The target as a whole failed (unreachable, 5xx, 429, the token
    /// refused): back off the target, keep every change pending.
    Target(String),
    /// The target refused this resource (another 4xx): retry it later and
    /// park it after `scim.max_attempts`.
    Resource(String),
    /// 404 for a resource id: the target lost it; create it again.
    Gone,
    /// 409: the target already has a resource with this `userName` or
    /// `displayName`; adopt it.
    Conflict(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Target(m) | Failure::Resource(m) | Failure::Conflict(m) => f.write_str(m),
            Failure::Gone => f.write_str("404 resource not found at the target"),
        }
    }
}

/// A SCIM client for one target.
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

const SCIM_JSON: &str = "application/scim+json";

impl ScimClient {
    /// A client with `timeout` per request. Redirects are not followed:
    /// the bearer token must not travel to another host.
    pub fn new(target: &Target, timeout: Duration) -> Result<ScimClient, String> {
        let builder =
            crate::tls::with_ca_file(reqwest::Client::builder(), target.ca_file.as_deref())
                .map_err(|e| format!("scim target {:?}: ca_file: {e}", target.name))?;
        let http = builder
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION"), " scim"))
            .build()
            .map_err(|e| format!("scim target {:?}: HTTP client: {e}", target.name))?;
        Ok(ScimClient {
            http,
            base: target.base_url.trim_end_matches('/').to_string(),
            token: target.token.clone(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let what = format!("{method} {path}");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(self.token.expose())
            .header(
                reqwest::header::ACCEPT,
                "application/scim+json, application/json",
            );
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Target(format!("{what}: {}", transport_error(&e))))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Failure::Target(format!("{what}: reading the answer: {e}")))?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        if status.is_success() {
            return Ok((status, json));
        }
        Err(classify(status, &json, &text, &what))
    }

    /// POST to `/Users` or `/Groups`; the created resource.
    pub async fn create(&self, endpoint: &str, body: &Value) -> Result<Value, Failure> {
        let (_, v) = self.send(Method::POST, endpoint, &[], Some(body)).await?;
        if v.get("id").and_then(Value::as_str).is_none() {
            return Err(Failure::Resource(format!(
                "POST {endpoint}: the answer has no `id`"
            )));
        }
        Ok(v)
    }

    /// PUT the whole resource.
    pub async fn replace(&self, endpoint: &str, id: &str, body: &Value) -> Result<(), Failure> {
        let mut body = body.clone();
        body["id"] = Value::from(id);
        self.send(Method::PUT, &resource_path(endpoint, id), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// PATCH with a PatchOp message.
    pub async fn patch(&self, endpoint: &str, id: &str, body: &Value) -> Result<(), Failure> {
        self.send(Method::PATCH, &resource_path(endpoint, id), &[], Some(body))
            .await
            .map(|_| ())
    }

    /// GET one resource.
    pub async fn get(&self, endpoint: &str, id: &str) -> Result<Value, Failure> {
        self.send(Method::GET, &resource_path(endpoint, id), &[], None)
            .await
            .map(|(_, v)| v)
    }

    /// The first resource matching `attr eq "value"`, if any.
    pub async fn find(
        &self,
        endpoint: &str,
        attr: &str,
        value: &str,
    ) -> Result<Option<Value>, Failure> {
        let filter = format!("{attr} eq {}", Value::from(value));
        let (_, v) = self
            .send(Method::GET, endpoint, &[("filter", filter.as_str())], None)
            .await?;
        Ok(v.get("Resources")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned())
    }

    /// Whether the target announces PATCH support in `/ServiceProviderConfig`.
    pub async fn patch_supported(&self) -> Result<bool, Failure> {
        let (_, v) = self
            .send(Method::GET, "/ServiceProviderConfig", &[], None)
            .await
            .map_err(|f| match f {
                Failure::Gone => Failure::Target(format!(
                    "GET {}/ServiceProviderConfig: 404: base_url must be the SCIM base URL (the one ending in /scim/v2 for vCenter)",
                    self.base
                )),
                f => f,
            })?;
        Ok(v.get("patch")
            .and_then(|p| p.get("supported"))
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }
}

fn resource_path(endpoint: &str, id: &str) -> String {
    format!(
        "{endpoint}/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

/// A transport error without anything the URL might carry beyond host and path.
fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The whole chain: hyper's outer errors ("client error (SendRequest)")
    // only say where, the innermost says what ("connection refused").
    let mut out = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    if let Some(hint) = crate::tls::unknown_issuer_hint(&out) {
        out.push_str(" (");
        out.push_str(hint);
        out.push(')');
    }
    out
}

/// Sorts a non-2xx answer; the message carries the SCIM error's `detail`
/// and `scimType` (RFC 7644 §3.12) when the target sent them.
pub fn classify(status: StatusCode, json: &Value, text: &str, what: &str) -> Failure {
    let detail = json
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    let scim_type = json
        .get("scimType")
        .and_then(Value::as_str)
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let msg = format!("{what}: {status}{scim_type}: {}", detail.trim());
    match status.as_u16() {
        404 => Failure::Gone,
        409 => Failure::Conflict(msg),
        401 | 403 => Failure::Target(format!("{msg} (check the target's token)")),
        408 | 429 => Failure::Target(msg),
        s if !(400..500).contains(&s) => Failure::Target(msg),
        _ => Failure::Resource(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_sorted_by_what_the_worker_does() {
        let check = |status: u16, want: &str| {
            let f = classify(
                StatusCode::from_u16(status).unwrap(),
                &json!({"detail": "nope", "scimType": "uniqueness"}),
                "",
                "POST /Users",
            );
            let got = match f {
                Failure::Target(_) => "target",
                Failure::Resource(_) => "resource",
                Failure::Gone => "gone",
                Failure::Conflict(_) => "conflict",
            };
            assert_eq!(got, want, "status {status}");
        };
        for (s, w) in [
            (400, "resource"),
            (401, "target"),
            (403, "target"),
            (404, "gone"),
            (409, "conflict"),
            (429, "target"),
            (500, "target"),
            (503, "target"),
            (302, "target"),
        ] {
            check(s, w);
        }
        let f = classify(
            StatusCode::BAD_REQUEST,
            &json!({"detail": "bad userName", "scimType": "invalidValue"}),
            "",
            "POST /Users",
        );
        assert_eq!(
            f.to_string(),
            "POST /Users: 400 Bad Request (invalidValue): bad userName"
        );
    }
}
