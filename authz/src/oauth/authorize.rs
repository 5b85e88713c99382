//! The authorization endpoint's request validation and response building.
//!
//! **Invariant:** nothing is ever redirected to a URI that is not registered
//! for the client, byte for byte; an unknown client or redirect URI gets an
//! error page instead (RFC 6749 §4.1.2.1).

use super::grant::{AuthContext, CodeData};
use crate::login::{AuthRequest, Level, ProvenFactor, amr_of};
use crate::state::AppState;
use crate::store::ClientRow;
use std::collections::HashMap;

/// Why an authorization request failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never redirected (unknown client, bad redirect URI).
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// Validates query (or form) parameters against the client.
pub fn validate(
    params: &HashMap<String, String>,
    client: Option<&ClientRow>,
) -> Result<AuthRequest, AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::Page("The request has no client_id.".into()))?;
    let client =
        client.ok_or_else(|| AuthorizeError::Page(format!("Unknown client {client_id:?}.")))?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(u) if client.settings.has_redirect_uri(u) => u.clone(),
        Some(_) => {
            return Err(AuthorizeError::Page(
                "The redirect_uri is not registered for this client.".into(),
            ));
        }
        None => {
            return Err(AuthorizeError::Page(
                "The request has no redirect_uri.".into(),
            ));
        }
    };
    let state = params.get("state").cloned();
    let fail = |error: &'static str, description: &str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description: description.to_string(),
    };
    if params.contains_key("request") {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.contains_key("request_uri") {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        None => return Err(fail("invalid_request", "response_type is required")),
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if !client.settings.allows_grant("authorization_code") {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let scope: Vec<String> = params
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = scope.iter().find(|s| !client.settings.scopes.contains(s)) {
        return Err(fail(
            "invalid_scope",
            &format!("scope {bad:?} is not available to this client"),
        ));
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) if super::pkce::valid_challenge(c) => Some(c.clone()),
        (Some(_), Some("S256")) => {
            return Err(fail("invalid_request", "code_challenge is malformed"));
        }
        (Some(_), _) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.settings.require_pkce => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => None,
    };
    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    for p in &prompts {
        if !matches!(*p, "none" | "login" | "consent" | "select_account") {
            return Err(fail(
                "invalid_request",
                &format!("unknown prompt value {p:?}"),
            ));
        }
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age =
        match params.get("max_age") {
            Some(m) => Some(m.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                fail("invalid_request", "max_age must be a non-negative integer")
            })?),
            None => None,
        };
    let acr_values = params
        .get("acr_values")
        .map(|a| {
            a.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(AuthRequest {
        client_id: client_id.clone(),
        redirect_uri,
        scope,
        state,
        nonce: params.get("nonce").cloned(),
        code_challenge,
        prompt_login: prompts.contains(&"login") || max_age == Some(0),
        prompt_none,
        max_age,
        acr_values,
        login_hint: params.get("login_hint").cloned(),
        ui_locales: params.get("ui_locales").filter(|u| u.len() <= 256).cloned(),
        client_name: Some(client.settings.name.clone()).filter(|n| !n.is_empty() && n != client_id),
    })
}

/// The redirect carrying an error, with `state` and `iss` (RFC 9207).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
    issuer: &str,
) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", issuer);
    }
    url.into()
}

/// The authentication context for tokens, from the factors that count for
/// this request (the caller passes only those within its `max_age`): `acr`
/// is the level they reach and `auth_time` when they reached it.
pub fn auth_context(factors: &[ProvenFactor], sid: &str) -> AuthContext {
    let (level, at) = Level::reached_at(factors).unwrap_or((Level::Aal1, 0));
    AuthContext {
        acr: level.acr().to_string(),
        amr: amr_of(factors).into_iter().map(str::to_string).collect(),
        auth_time: at,
        sid: Some(sid.to_string()),
    }
}

/// What issuing a code needs: the store, the issuer (the `iss` of the
/// response, RFC 9207), the code lifetime and the time. Not the app state,
/// so `login::flow` issues codes without knowing it.
#[derive(Clone, Copy)]
pub struct CodeIssuer<'a> {
    pub store: &'a crate::store::Store,
    pub issuer: &'a str,
    pub code_ttl: i64,
    pub now: i64,
}

impl CodeIssuer<'_> {
    /// The issuer of this app at this moment.
    pub fn of(app: &AppState) -> CodeIssuer<'_> {
        CodeIssuer {
            store: &app.store,
            issuer: &app.urls.issuer,
            code_ttl: app.config.tokens.code_ttl,
            now: app.now(),
        }
    }

    /// Issues a code for a completed login and returns the redirect URL.
    /// `factors` are those within the request's and the policy's `max_age`
    /// (`Requirement::fresh`), so the ID token claims nothing older.
    pub async fn issue(
        &self,
        req: &AuthRequest,
        user_id: &str,
        session_id: &str,
        factors: &[ProvenFactor],
    ) -> Result<String, crate::store::StoreError> {
        let (stmts, redirect) = self.prepare(req, user_id, session_id, factors)?;
        self.store.write_atomic(stmts).await?;
        Ok(redirect)
    }

    /// What [`CodeIssuer::issue`] writes (the grant and its code, to commit
    /// together, here with the rest of a sign-in's end) and the redirect URL
    /// that is the client's once they are written.
    pub(crate) fn prepare(
        &self,
        req: &AuthRequest,
        user_id: &str,
        session_id: &str,
        factors: &[ProvenFactor],
    ) -> Result<(Vec<crate::store::Stmt>, String), crate::store::StoreError> {
        let now = self.now;
        let code = crate::secret::random_token(32);
        let grant_id = crate::secret::random_id(16);
        let data = CodeData {
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scope.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth: auth_context(factors, session_id),
        };
        let stmts = crate::store::code_insert(
            &grant_id,
            &req.client_id,
            user_id,
            Some(session_id),
            &super::client::hash_secret(code.expose()),
            &data,
            now,
            now + self.code_ttl,
        );
        let mut url = url::Url::parse(&req.redirect_uri)
            .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("code", code.expose());
            if let Some(s) = &req.state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", self.issuer);
        }
        Ok((stmts, url.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::ClientSettings;

    fn client(require_pkce: bool) -> ClientRow {
        let mut c: crate::config::ClientConfig =
            toml::from_str("id = \"rp\"\nredirect_uris = [\"https://rp.example/cb\"]").unwrap();
        c.require_pkce = Some(require_pkce);
        ClientRow {
            id: "rp".into(),
            secret_hash: Some("00".into()),
            settings: ClientSettings::from_config(&c, crate::keys::Alg::ES256, true).unwrap(),
            source: "cli".into(),
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(extra: &[(&str, &str)], drop: &[&str]) -> HashMap<String, String> {
        let mut p: HashMap<String, String> = [
            ("client_id", "rp"),
            ("redirect_uri", "https://rp.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for d in drop {
            p.remove(*d);
        }
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    enum Want {
        Ok,
        Page(&'static str),
        Redirect(&'static str),
    }

    #[test]
    fn authorization_requests_table() {
        let c = client(true);
        let cases: Vec<(HashMap<String, String>, Want)> = vec![
            (params(&[], &[]), Want::Ok),
            (
                params(&[("client_id", "nope")], &[]),
                Want::Page("Unknown client"),
            ),
            (
                params(&[("redirect_uri", "https://rp.example/cb/")], &[]),
                Want::Page("not registered"),
            ),
            (
                params(&[("redirect_uri", "https://RP.example/cb")], &[]),
                Want::Page("not registered"),
            ),
            (
                params(&[], &["redirect_uri"]),
                Want::Page("no redirect_uri"),
            ),
            (
                params(&[("response_type", "token")], &[]),
                Want::Redirect("unsupported_response_type"),
            ),
            (
                params(&[("code_challenge_method", "plain")], &[]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[], &["code_challenge_method"]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[], &["code_challenge", "code_challenge_method"]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[("code_challenge", "short")], &[]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[("scope", "openid admin")], &[]),
                Want::Redirect("invalid_scope"),
            ),
            (
                params(&[("prompt", "none login")], &[]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[("max_age", "-1")], &[]),
                Want::Redirect("invalid_request"),
            ),
            (
                params(&[("request", "eyJ")], &[]),
                Want::Redirect("request_not_supported"),
            ),
            (
                params(&[("response_mode", "fragment")], &[]),
                Want::Redirect("invalid_request"),
            ),
        ];
        for (p, want) in cases {
            let client = if p["client_id"] == "rp" {
                Some(&c)
            } else {
                None
            };
            match (validate(&p, client), want) {
                (Ok(_), Want::Ok) => {}
                (Err(AuthorizeError::Page(m)), Want::Page(w)) => assert!(m.contains(w), "{m}"),
                (Err(AuthorizeError::Redirect { error, state, .. }), Want::Redirect(w)) => {
                    assert_eq!(error, w, "{p:?}");
                    assert_eq!(state.as_deref(), Some("xyz"));
                }
                (got, _) => panic!("{p:?}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn pkce_opt_out_and_prompt_parsing() {
        let c = client(false);
        let r = validate(
            &params(
                &[("prompt", "login"), ("acr_values", "phr aal2")],
                &["code_challenge", "code_challenge_method"],
            ),
            Some(&c),
        )
        .unwrap();
        assert_eq!(r.code_challenge, None);
        assert!(r.prompt_login);
        assert_eq!(r.acr_values, vec!["phr", "aal2"]);
        let r = validate(&params(&[("max_age", "0")], &[]), Some(&c)).unwrap();
        assert!(r.prompt_login, "max_age=0 forces a fresh login");
    }

    #[test]
    fn error_redirects_carry_state_and_issuer() {
        let u = error_redirect(
            "https://rp.example/cb?x=1",
            Some("s t"),
            "access_denied",
            "no",
            "https://id.example",
        );
        assert_eq!(
            u,
            "https://rp.example/cb?x=1&error=access_denied&error_description=no&state=s+t&iss=https%3A%2F%2Fid.example"
        );
    }
}
