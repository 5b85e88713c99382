//! The claims of Security Event Tokens (RFC 8417, CAEP 1.0) and of
//! back-channel logout tokens (OIDC Back-Channel Logout 1.0). Pure: the
//! worker signs them at each attempt.

use crate::store::IntentRow;
use serde_json::{Value, json};

/// CAEP event type URIs.
pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
pub const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
/// The back-channel logout event.
pub const BACKCHANNEL_LOGOUT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A SET for one intent: one event, `sub_id` in the `iss_sub` format, no
/// `exp` (RFC 8417 §2.2), `jti` fixed so retries can be deduplicated.
pub fn set(issuer: &str, audience: &str, intent: &IntentRow) -> Value {
    let initiator = intent.data["initiator"].as_str().unwrap_or("system");
    let mut event = json!({
        "event_timestamp": intent.created_at,
        "initiating_entity": match initiator {
            "admin" | "user" | "policy" | "system" => initiator,
            _ => "system",
        },
    });
    if let Some(reason) = intent.data["reason"].as_str() {
        event["reason_admin"] = json!({"en": reason});
    }
    let uri = if intent.kind == "credential-change" {
        for k in ["credential_type", "change_type", "friendly_name"] {
            if let Some(v) = intent.data.get(k) {
                event[k] = v.clone();
            }
        }
        CREDENTIAL_CHANGE
    } else {
        SESSION_REVOKED
    };
    let mut sub_id = json!({"format": "iss_sub", "iss": issuer, "sub": intent.user_id});
    if let Some(sid) = &intent.session_id {
        // A session-scoped subject: the user and the session (SSF "complex").
        sub_id = json!({"format": "complex", "user": sub_id, "session": {"format": "opaque", "id": sid}});
    }
    json!({
        "iss": issuer,
        "aud": audience,
        "iat": intent.created_at,
        // One intent, one SET per receiver: the jti names both.
        "jti": format!("{}.{}", intent.id, &crate::store::hex(&crate::secret::sha256(audience.as_bytes()))[..8]),
        "sub_id": sub_id,
        "events": { uri: event },
    })
}

/// A logout token for `client_id` (OIDC Back-Channel Logout 1.0 §2.4):
/// `sub` and `sid`, the logout event, a short `exp`, never a `nonce`.
pub fn logout(issuer: &str, client_id: &str, intent: &IntentRow, now: i64) -> Value {
    json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": crate::secret::random_id(16),
        "sub": intent.user_id,
        "sid": intent.session_id,
        "events": { BACKCHANNEL_LOGOUT: {} },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(kind: &str, session: Option<&str>, data: Value) -> IntentRow {
        IntentRow {
            id: "i1".into(),
            kind: kind.into(),
            user_id: "u1".into(),
            session_id: session.map(str::to_owned),
            data,
            created_at: 1_767_225_600,
        }
    }

    #[test]
    fn sets_follow_rfc_8417_and_caep() {
        let s = set(
            "https://id.example",
            "https://rx.example",
            &intent(
                "session-revoked",
                Some("s1"),
                json!({"reason": "policy deny", "initiator": "policy"}),
            ),
        );
        assert!(s.get("exp").is_none(), "a SET has no exp");
        assert_eq!(
            s["events"].as_object().unwrap().len(),
            1,
            "one event per SET"
        );
        let e = &s["events"][SESSION_REVOKED];
        assert_eq!(e["initiating_entity"], "policy");
        assert_eq!(e["reason_admin"]["en"], "policy deny");
        assert_eq!(e["event_timestamp"], 1_767_225_600);
        assert_eq!(s["sub_id"]["user"]["sub"], "u1");
        assert_eq!(s["sub_id"]["session"]["id"], "s1");
        let c = set(
            "https://id.example",
            "rx",
            &intent(
                "credential-change",
                None,
                json!({"credential_type": "fido2-roaming", "change_type": "create", "initiator": "user"}),
            ),
        );
        let e = &c["events"][CREDENTIAL_CHANGE];
        assert_eq!(
            (e["credential_type"].as_str(), e["change_type"].as_str()),
            (Some("fido2-roaming"), Some("create"))
        );
        assert_eq!(
            c["sub_id"],
            json!({"format": "iss_sub", "iss": "https://id.example", "sub": "u1"})
        );
    }

    #[test]
    fn logout_tokens_follow_backchannel_logout() {
        let t = logout(
            "https://id.example",
            "rp",
            &intent("session-revoked", Some("s1"), json!({})),
            100,
        );
        assert_eq!(
            (t["aud"].as_str(), t["sub"].as_str(), t["sid"].as_str()),
            (Some("rp"), Some("u1"), Some("s1"))
        );
        assert!(t.get("nonce").is_none());
        assert_eq!(t["events"][BACKCHANNEL_LOGOUT], json!({}));
        assert!(t["exp"].as_i64().unwrap() > 100);
    }
}
