//! OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS.

use crate::state::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::LazyLock;

/// Everything the issuer supports, advertised.
pub fn metadata(app: &crate::state::AppState) -> serde_json::Value {
    let u = &app.urls;
    json!({
        "issuer": u.issuer,
        "authorization_endpoint": u.authorize,
        "token_endpoint": u.token,
        "userinfo_endpoint": u.userinfo,
        "jwks_uri": u.jwks,
        "end_session_endpoint": u.end_session,
        "introspection_endpoint": u.introspect,
        "revocation_endpoint": u.revoke,
        "scopes_supported": crate::oauth::client::DEFAULT_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": crate::oauth::client::GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256", "ES384"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": crate::login::Level::ALL.iter().map(|l| l.acr()).collect::<Vec<_>>(),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                             "name", "preferred_username", "email", "upn", "groups"],
        // Only what `/authorize` acts on: `consent` and `select_account`
        // are accepted but change nothing (every client is first-party, a
        // browser holds one session), so they are not advertised.
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

/// `/.well-known/ssf-configuration`: Shared Signals transmitter metadata
/// with the fields the CAEP interoperability profile requires of a
/// transmitter. Receivers are registered in `[ssf]` (push, RFC 8935); the
/// stream management API is not offered, so there is no
/// `configuration_endpoint`.
pub async fn ssf_configuration(State(app): State<App>) -> impl IntoResponse {
    let u = &app.urls;
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(json!({
            "spec_version": "1_0",
            "issuer": u.issuer,
            "jwks_uri": u.jwks,
            "delivery_methods_supported": ["urn:ietf:rfc:8935"],
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
            "default_subjects": "ALL",
        })),
    )
}

pub async fn openid_configuration(State(app): State<App>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(metadata(&app)),
    )
}

/// The JWKS: cacheable, and changes only when keys rotate.
pub async fn jwks(State(app): State<App>) -> impl IntoResponse {
    let max_age = format!("public, max-age={}", app.config.keys.jwks_max_age);
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_string()),
            (header::CACHE_CONTROL, max_age),
        ],
        app.keyring().jwks(),
    )
}

/// The hand-written OpenAPI 3.1 description of the machine-facing APIs.
/// Kept true by `tests/e2e/openapi.rs` (every route exists, schemathesis
/// finds no 5xx and no response the description does not allow).
const OPENAPI: &str = include_str!("../../static/openapi.json");

/// Parsed once: the file is part of the binary, so a parse error is a
/// build mistake the unit test below catches, never a client's doing.
static OPENAPI_DOC: LazyLock<Result<serde_json::Value, String>> =
    LazyLock::new(|| serde_json::from_str(OPENAPI).map_err(|e| e.to_string()));

/// The description with `servers` naming this issuer, so that a tool
/// pointed at `/.well-known/openapi.json` needs no separate base URL (and
/// a deployment behind a path prefix gets the prefix).
pub fn openapi_document(issuer: &str) -> Result<serde_json::Value, String> {
    let mut doc = OPENAPI_DOC.clone()?;
    doc["servers"] = json!([{ "url": issuer.trim_end_matches('/') }]);
    Ok(doc)
}

/// `/.well-known/openapi.json`, as `application/vnd.oai.openapi+json`
/// (the IANA media type of OpenAPI documents).
pub async fn openapi(State(app): State<App>) -> Response {
    match openapi_document(&app.urls.issuer) {
        Ok(doc) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.oai.openapi+json;version=3.1",
                ),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            axum::Json(doc),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the built-in OpenAPI description does not parse");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_description_parses_and_names_the_issuer() {
        let doc = super::openapi_document("https://id.example/").unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], "https://id.example");
    }
}
