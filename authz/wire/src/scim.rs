//! A SCIM target's answers (RFC 7644), which the issuer reads but does not
//! control: the body as JSON, non-2xx answers sorted into a [`Failure`] the
//! delivery worker knows how to retry, and the few fields it reads.

use http::StatusCode;
use serde_json::Value;

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

/// How much of a non-JSON error body a message quotes.
pub const QUOTED_CHARS: usize = 200;

/// An answer's body as JSON: `Null` when it is empty or not JSON (a proxy's
/// HTML error page), so the callers' field reads simply find nothing.
pub fn body(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Sorts a non-2xx answer; the message carries the SCIM error's `detail`
/// and `scimType` (RFC 7644 §3.12) when the target sent them, else the
/// first [`QUOTED_CHARS`] characters of the body.
pub fn classify(status: StatusCode, json: &Value, text: &str, what: &str) -> Failure {
    let detail = json
        .get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(QUOTED_CHARS).collect());
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

/// A resource's `id` (RFC 7643 §3.1), when it is a string.
pub fn resource_id(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

/// The first resource of a ListResponse (RFC 7644 §3.4.2), if any.
pub fn first_resource(v: &Value) -> Option<&Value> {
    v.get("Resources")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
}

/// Whether a `/ServiceProviderConfig` answer announces PATCH (RFC 7643 §5);
/// anything but `"patch": {"supported": true}` is no.
pub fn patch_supported(v: &Value) -> bool {
    v.get("patch")
        .and_then(|p| p.get("supported"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
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
        let html = format!("<html>{}</html>", "x".repeat(500));
        let f = classify(StatusCode::BAD_GATEWAY, &body(&html), &html, "GET /Users");
        assert_eq!(
            f.to_string(),
            format!("GET /Users: 502 Bad Gateway: <html>{}", "x".repeat(194))
        );
    }

    #[test]
    fn fields() {
        assert_eq!(body("  "), Value::Null);
        assert_eq!(body("<html>"), Value::Null);
        let list = body(r#"{"Resources":[{"id":"u1"},{"id":"u2"}],"totalResults":2}"#);
        assert_eq!(first_resource(&list).and_then(resource_id), Some("u1"));
        assert_eq!(first_resource(&json!({"Resources": []})), None);
        assert_eq!(resource_id(&json!({"id": 7})), None);
        assert!(patch_supported(&json!({"patch": {"supported": true}})));
        for no in [
            json!({"patch": {"supported": "true"}}),
            json!({}),
            Value::Null,
        ] {
            assert!(!patch_supported(&no), "{no}");
        }
    }
}
