//! Client authentication at the token, introspection and revocation
//! endpoints: `client_secret_basic`, `client_secret_post`, `private_key_jwt`,
//! or none for public clients.

use super::OAuthError;
use super::client::AuthMethod;
use crate::state::AppState;
use crate::store::ClientRow;
use std::sync::Arc;

pub use tollgate_wire::form::Form;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Parses a form body (`tollgate_wire::form`). Repeated parameters and
/// invalid UTF-8 are `invalid_request` (RFC 6749 §3.1).
pub fn parse_form(body: &[u8]) -> Result<Form, OAuthError> {
    tollgate_wire::form::parse(body).map_err(|e| OAuthError::invalid_request(e.to_string()))
}

/// What the client presented.
#[derive(Debug)]
enum Presented {
    Secret {
        id: String,
        secret: crate::secret::Secret,
        method: AuthMethod,
    },
    Assertion {
        id: Option<String>,
        jwt: String,
    },
    Public {
        id: String,
    },
}

fn presented(authorization: Option<&str>, form: &Form) -> Result<Presented, OAuthError> {
    let body_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    // A `client_assertion_type` names the assertion method even without
    // the assertion: next to another method it is a second method, alone
    // a half-made assertion (refused, not ignored; found by schemathesis).
    let assertion_type = form.get("client_assertion_type");
    if assertion_type.is_some() && assertion.is_none() {
        return Err(OAuthError::invalid_request(
            "client_assertion_type given without client_assertion",
        ));
    }
    if let Some(h) = authorization {
        if body_secret.is_some() || assertion.is_some() {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        let (id, secret) = tollgate_wire::form::basic_credentials(h)
            .map_err(|e| OAuthError::invalid_client(e.to_string()))?;
        if let Some(body_id) = form.get("client_id")
            && *body_id != id
        {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ));
        }
        return Ok(Presented::Secret {
            id,
            secret: crate::secret::Secret::new(secret),
            method: AuthMethod::ClientSecretBasic,
        });
    }
    if let Some(jwt) = assertion {
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        if assertion_type.map(String::as_str) != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        return Ok(Presented::Assertion {
            id: form.get("client_id").cloned(),
            jwt: jwt.clone(),
        });
    }
    let id = form
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?
        .clone();
    Ok(match body_secret {
        Some(s) => Presented::Secret {
            id,
            secret: crate::secret::Secret::new(s.clone()),
            method: AuthMethod::ClientSecretPost,
        },
        None => Presented::Public { id },
    })
}

/// Authenticates the client making a request. Every failure is
/// `invalid_client` (401) without saying which part was wrong.
pub async fn authenticate(
    app: &AppState,
    authorization: Option<&str>,
    form: &Form,
) -> Result<Arc<ClientRow>, OAuthError> {
    let now = app.now();
    let p = presented(authorization, form)?;
    let id = match &p {
        Presented::Secret { id, .. } | Presented::Public { id } => id.clone(),
        Presented::Assertion { id: Some(id), .. } => id.clone(),
        Presented::Assertion { id: None, jwt } => unverified_issuer(jwt)?,
    };
    let failed = || OAuthError::invalid_client("client authentication failed");
    let client = app
        .clients
        .get(&app.store, &id, now)
        .await?
        .ok_or_else(failed)?;
    match p {
        Presented::Secret { secret, method, .. } => {
            let Some(stored) = &client.secret_hash else {
                return Err(failed());
            };
            if !client.settings.auth_methods.contains(&method) {
                return Err(failed());
            }
            let presented = super::client::hash_secret(secret.expose());
            if !crate::secret::ct_eq(presented.as_bytes(), stored.as_bytes()) {
                return Err(failed());
            }
        }
        Presented::Public { .. } => {
            if !client.settings.is_public() {
                return Err(failed());
            }
        }
        Presented::Assertion { jwt, .. } => {
            if !client
                .settings
                .auth_methods
                .contains(&AuthMethod::PrivateKeyJwt)
            {
                return Err(failed());
            }
            verify_assertion(app, &client, &jwt, now).await?;
        }
    }
    Ok(client)
}

/// The `iss` of an assertion not yet verified: only to find the client
/// whose keys verify it.
fn unverified_issuer(jwt: &str) -> Result<String, OAuthError> {
    let v = tollgate_wire::jws::parse(jwt)
        .and_then(|j| j.claims())
        .map_err(|_| OAuthError::invalid_client("malformed client assertion"))?;
    v["iss"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_client("client assertion has no iss"))
}

/// Checks a `private_key_jwt` assertion (RFC 7523 §3, OIDC Core §9):
/// signed by a key in the client's JWKS, `iss` = `sub` = client id, `aud`
/// naming our token endpoint or issuer, unexpired, and its `jti` unseen.
async fn verify_assertion(
    app: &AppState,
    client: &ClientRow,
    jwt: &str,
    now: i64,
) -> Result<(), OAuthError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let failed = || OAuthError::invalid_client("client authentication failed");
    let header = decode_header(jwt).map_err(|_| failed())?;
    if !matches!(
        header.alg,
        Algorithm::ES256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES384
    ) {
        return Err(failed());
    }
    let jwks: JwkSet = client
        .settings
        .jwks
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(failed)?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(failed)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| failed())?;
    let mut v = Validation::new(header.alg);
    v.set_audience(&[app.urls.token.as_str(), app.urls.issuer.as_str()]);
    v.set_issuer(&[client.id.as_str()]);
    v.sub = Some(client.id.clone());
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.leeway = 30;
    v.validate_exp = false;
    let data = decode::<serde_json::Value>(jwt, &key, &v).map_err(|_| failed())?;
    let exp = data.claims["exp"].as_i64().ok_or_else(failed)?;
    if exp + 30 < now || exp > now + 3600 {
        return Err(failed());
    }
    let jti = data.claims["jti"].as_str().ok_or_else(failed)?;
    if !app
        .store
        .remember_assertion(&format!("{}:{jti}", client.id), exp + 60)
        .await?
    {
        return Err(OAuthError::invalid_client(
            "client assertion was already used",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn forms_reject_repeats_and_garbage() {
        assert_eq!(parse_form(b"a=1&b=2").unwrap().len(), 2);
        assert_eq!(parse_form(b"a=1&a=2").unwrap_err().error, "invalid_request");
        assert_eq!(
            parse_form(b"a=%ff%fe").unwrap_err().error,
            "invalid_request"
        );
    }

    #[test]
    fn presented_credentials() {
        let basic = format!("Basic {}", STANDARD.encode("my%20client:p%40ss"));
        match presented(Some(&basic), &Form::new()).unwrap() {
            Presented::Secret { id, secret, method } => {
                assert_eq!(
                    (id.as_str(), secret.expose(), method),
                    ("my client", "p@ss", AuthMethod::ClientSecretBasic)
                );
            }
            other => panic!("{other:?}"),
        }
        let mut both = Form::new();
        both.insert("client_secret".into(), "x".into());
        assert_eq!(
            presented(Some(&basic), &both).unwrap_err().error,
            "invalid_request"
        );
        assert_eq!(
            presented(Some("Bearer x"), &Form::new()).unwrap_err().error,
            "invalid_client"
        );
        assert_eq!(presented(None, &Form::new()).unwrap_err().status, 401);
        let mut wrong_type = Form::new();
        wrong_type.insert("client_assertion".into(), "a.b.c".into());
        wrong_type.insert("client_assertion_type".into(), "bogus".into());
        assert_eq!(
            presented(None, &wrong_type).unwrap_err().error,
            "invalid_request"
        );
        let mut type_alone = Form::new();
        type_alone.insert("client_assertion_type".into(), JWT_BEARER.into());
        for header in [Some(basic.as_str()), None] {
            assert_eq!(
                presented(header, &type_alone).unwrap_err().error,
                "invalid_request",
                "{header:?}"
            );
        }
    }
}
