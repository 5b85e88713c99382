//! Registered clients and their settings.

use crate::config::ClientConfig;
use crate::keys::Alg;
use crate::login::Level;
use serde::{Deserialize, Serialize};

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// Public client: no secret, PKCE mandatory.
    None,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<AuthMethod> {
        Some(match s {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "private_key_jwt" => AuthMethod::PrivateKeyJwt,
            "none" => AuthMethod::None,
            _ => return None,
        })
    }
}

/// Everything about a client except its id and secret hash (stored as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientSettings {
    pub name: String,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Token endpoint authentication methods this client may use. A client
    /// with a secret may use both secret methods (vCenter sends either).
    pub auth_methods: Vec<AuthMethod>,
    /// The client's public JWK Set, for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    pub id_token_alg: Alg,
    pub scopes: Vec<String>,
    pub require_pkce: bool,
    #[serde(default)]
    pub access_token_audience: Option<String>,
    /// The level every login for this client must reach at least.
    #[serde(default = "default_level")]
    pub default_level: Level,
}

fn default_level() -> Level {
    Level::Aal1
}

/// Scopes a client gets unless configured otherwise.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];
/// Grant types this issuer implements.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

impl ClientSettings {
    /// Whether `uri` is registered (exact string match, RFC 9700 §4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn is_public(&self) -> bool {
        self.auth_methods == [AuthMethod::None]
    }

    /// The `aud` of access tokens for this client.
    pub fn audience<'a>(&'a self, client_id: &'a str) -> &'a str {
        self.access_token_audience.as_deref().unwrap_or(client_id)
    }

    /// Builds and validates settings from a `[[clients]]` entry or CLI flags.
    pub fn from_config(
        c: &ClientConfig,
        default_alg: Alg,
        has_secret: bool,
    ) -> Result<ClientSettings, String> {
        let who = format!("client {:?}", c.id);
        if c.id.is_empty() || c.id.len() > 128 || !c.id.chars().all(|ch| ch.is_ascii_graphic()) {
            return Err(format!(
                "{who}: id must be 1-128 printable ASCII characters"
            ));
        }
        let grant_types = c
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        for g in &grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                return Err(format!(
                    "{who}: unknown grant type {g:?} (expected one of {GRANT_TYPES:?})"
                ));
            }
        }
        let method = match &c.token_endpoint_auth_method {
            Some(m) => AuthMethod::parse(m)
                .ok_or_else(|| format!("{who}: unknown token_endpoint_auth_method {m:?}"))?,
            None if c.jwks.is_some() => AuthMethod::PrivateKeyJwt,
            None if has_secret => AuthMethod::ClientSecretBasic,
            None => AuthMethod::None,
        };
        let auth_methods = match method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                if !has_secret {
                    return Err(format!("{who}: {method:?} needs secret_hash or secret_env"));
                }
                vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost]
            }
            AuthMethod::PrivateKeyJwt => {
                if c.jwks.is_none() {
                    return Err(format!("{who}: private_key_jwt needs jwks"));
                }
                vec![AuthMethod::PrivateKeyJwt]
            }
            AuthMethod::None => {
                if has_secret {
                    return Err(format!(
                        "{who}: a public client (auth method none) must not have a secret"
                    ));
                }
                if grant_types.iter().any(|g| g == "client_credentials") {
                    return Err(format!(
                        "{who}: a public client cannot use client_credentials"
                    ));
                }
                vec![AuthMethod::None]
            }
        };
        let jwks = match &c.jwks {
            Some(text) => {
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| format!("{who}: jwks is not JSON: {e}"))?;
                if !v["keys"].is_array() {
                    return Err(format!(
                        "{who}: jwks must be a JWK Set ({{\"keys\": [...]}})"
                    ));
                }
                Some(v)
            }
            None => None,
        };
        for u in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
            let parsed =
                url::Url::parse(u).map_err(|e| format!("{who}: redirect URI {u:?}: {e}"))?;
            if parsed.fragment().is_some() {
                return Err(format!(
                    "{who}: redirect URI {u:?} must not have a fragment"
                ));
            }
        }
        if grant_types.iter().any(|g| g == "authorization_code") && c.redirect_uris.is_empty() {
            return Err(format!(
                "{who}: authorization_code needs at least one redirect URI"
            ));
        }
        let id_token_alg = match &c.id_token_signed_response_alg {
            Some(a) => Alg::parse(a).ok_or_else(|| {
                format!("{who}: id_token_signed_response_alg {a:?}: expected ES256 or RS256")
            })?,
            None => default_alg,
        };
        let require_pkce = c.require_pkce.unwrap_or(true);
        if !require_pkce && method == AuthMethod::None {
            return Err(format!("{who}: a public client cannot opt out of PKCE"));
        }
        Ok(ClientSettings {
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types,
            auth_methods,
            jwks,
            id_token_alg,
            scopes: c
                .scopes
                .clone()
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
            require_pkce,
            access_token_audience: c.access_token_audience.clone(),
            default_level: Level::Aal1,
        })
    }
}

/// Parses `sha256:<64 hex>` into the stored form (the hex).
pub fn parse_secret_hash(s: &str) -> Option<String> {
    let hex = s.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The stored form of a secret: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    crate::store::hex(&crate::secret::sha256(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(f: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
        let mut c: ClientConfig =
            toml::from_str("id = \"rp\"\nredirect_uris = [\"https://rp.example/cb\"]").unwrap();
        f(&mut c);
        c
    }

    #[test]
    fn client_settings_are_validated() {
        let cases: Vec<(ClientConfig, bool, Result<(), &str>)> = vec![
            (cfg(|_| {}), true, Ok(())),
            (cfg(|_| {}), false, Ok(())),
            (
                cfg(|c| c.grant_types = Some(vec!["password".into()])),
                true,
                Err("unknown grant type"),
            ),
            (
                cfg(|c| c.token_endpoint_auth_method = Some("client_secret_jwt".into())),
                true,
                Err("unknown token_endpoint_auth_method"),
            ),
            (
                cfg(|c| c.token_endpoint_auth_method = Some("none".into())),
                true,
                Err("must not have a secret"),
            ),
            (
                cfg(|c| c.redirect_uris = vec!["https://rp/cb#x".into()]),
                true,
                Err("fragment"),
            ),
            (
                cfg(|c| c.redirect_uris = vec![]),
                true,
                Err("needs at least one redirect URI"),
            ),
            (
                cfg(|c| c.id_token_signed_response_alg = Some("HS256".into())),
                true,
                Err("expected ES256 or RS256"),
            ),
            (
                cfg(|c| c.require_pkce = Some(false)),
                false,
                Err("cannot opt out of PKCE"),
            ),
            (
                cfg(|c| c.grant_types = Some(vec!["client_credentials".into()])),
                false,
                Err("cannot use client_credentials"),
            ),
            (cfg(|c| c.jwks = Some("{}".into())), false, Err("JWK Set")),
        ];
        for (c, secret, want) in cases {
            let got = ClientSettings::from_config(&c, Alg::ES256, secret).map(|_| ());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{e} should mention {w}"),
                (g, w) => panic!("{c:?}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn secret_hashes_parse() {
        let h = hash_secret("s3cret");
        assert_eq!(parse_secret_hash(&format!("sha256:{h}")), Some(h.clone()));
        assert_eq!(parse_secret_hash(&h), None);
        assert_eq!(parse_secret_hash("sha256:abc"), None);
    }
}
