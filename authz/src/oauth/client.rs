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
    /// The preset this client was made from (`vcenter`), if any.
    #[serde(default)]
    pub profile: Option<String>,
    /// Put the UPN and groups in every ID token under these claim names,
    /// whatever the scope (vCenter reads them there); `None`: only as the
    /// `profile`/`groups` scopes release them, as `upn`/`groups`.
    #[serde(default)]
    pub identity_claims: Option<IdentityClaims>,
    /// The resource-owner password grant is allowed (explicit opt-in).
    #[serde(default)]
    pub password_grant: bool,
    /// OIDC Back-Channel Logout endpoint.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// What the client may do beyond its grants; none unless configured.
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

/// A capability a client holds beyond its grant types. Each is an explicit
/// opt-in: a client that may obtain tokens is not thereby trusted to ask
/// about other users or to end their sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Ask `POST /v1/decide` about any subject.
    Decide,
    /// A `deny` with `revoke: true` that this client asked for at
    /// `/v1/decide` (or, for ext_authz, that a token of this client met)
    /// ends the subject's sessions. Without it the deny is answered and
    /// audited, and nothing is revoked.
    DecideRevokes,
    /// Introspect tokens whatever their audience.
    Introspect,
}

impl Permission {
    pub const ALL: [(&'static str, Permission); 3] = [
        ("decide", Permission::Decide),
        ("decide_revokes", Permission::DecideRevokes),
        ("introspect", Permission::Introspect),
    ];

    pub fn parse(s: &str) -> Option<Permission> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, p)| *p)
    }
}

/// Where a relying party wants the user's UPN and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub upn_claim: String,
    pub groups_claim: String,
    /// For users without a UPN: `login@upn_domain`.
    pub upn_domain: Option<String>,
}

impl IdentityClaims {
    /// The UPN as the relying party expects it (`user@domain`), if any.
    pub fn upn(&self, login: &str, upn: Option<&str>) -> Option<String> {
        match (upn, &self.upn_domain) {
            (Some(u), _) => Some(u.to_owned()),
            (None, Some(d)) => Some(format!("{login}@{d}")),
            (None, None) => None,
        }
    }
}

fn default_level() -> Level {
    Level::Aal1
}

/// vCenter's fixed redirect path (vSphere 8 identity federation).
pub const VCENTER_REDIRECT_PATH: &str = "/ui/login/oauth2/authcode";

/// Fills in what the `vcenter` profile implies, before validation: the
/// redirect URI from the host, code + refresh grants (+ password when
/// opted in), RS256 ID tokens, both secret methods, no PKCE (vCenter does
/// not send it; it is a confidential client), `upn`/`groups` in the ID token.
fn apply_profile(c: &ClientConfig) -> Result<ClientConfig, String> {
    let who = format!("client {:?}", c.id);
    let mut c = c.clone();
    match c.profile.as_deref() {
        None => {
            if c.vcenter_host.is_some() {
                return Err(format!("{who}: vcenter_host needs profile = \"vcenter\""));
            }
        }
        Some("vcenter") => {
            let host = c
                .vcenter_host
                .clone()
                .ok_or_else(|| format!("{who}: profile vcenter needs vcenter_host"))?;
            let valid = !host.is_empty()
                && host.len() <= 253
                && host
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | ':'));
            if !valid {
                return Err(format!(
                    "{who}: vcenter_host {host:?} must be a host name (like vc.example.com), without scheme or path"
                ));
            }
            let redirect = format!("https://{host}{VCENTER_REDIRECT_PATH}");
            if !c.redirect_uris.contains(&redirect) {
                c.redirect_uris.insert(0, redirect);
            }
            if c.grant_types.is_none() {
                let mut g = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
                if c.password_grant {
                    g.push("password".to_owned());
                }
                c.grant_types = Some(g);
            }
            c.id_token_signed_response_alg
                .get_or_insert_with(|| "RS256".to_owned());
            c.require_pkce.get_or_insert(false);
            c.upn_claim.get_or_insert_with(|| "upn".to_owned());
            c.groups_claim.get_or_insert_with(|| "groups".to_owned());
        }
        Some(other) => {
            return Err(format!("{who}: profile {other:?}: expected vcenter"));
        }
    }
    Ok(c)
}

/// Scopes a client gets unless configured otherwise.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];
/// Grant types this issuer implements.
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];

impl ClientSettings {
    /// Whether `uri` is registered (exact string match, RFC 9700 §4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// Whether the client holds `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
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
        let c = &apply_profile(c)?;
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
                    "{who}: grant_types {g:?}: expected one of {}",
                    GRANT_TYPES.join(", ")
                ));
            }
        }
        if grant_types.iter().any(|g| g == "password") != c.password_grant {
            return Err(format!(
                "{who}: the password grant is an explicit opt-in: list \"password\" in grant_types and set password_grant = true, or neither"
            ));
        }
        if c.password_grant && !has_secret {
            return Err(format!(
                "{who}: only a confidential client may use the password grant"
            ));
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
        let uris = c.redirect_uris.iter().map(|u| ("redirect_uris", u));
        let logout = c.post_logout_redirect_uris.iter();
        for (key, u) in uris.chain(logout.map(|u| ("post_logout_redirect_uris", u))) {
            let parsed = url::Url::parse(u).map_err(|e| format!("{who}: {key} {u:?}: {e}"))?;
            if parsed.fragment().is_some() {
                return Err(format!("{who}: {key} {u:?}: must not have a fragment"));
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
        let claims = [
            ("upn_claim", &c.upn_claim),
            ("groups_claim", &c.groups_claim),
        ];
        for (key, name) in claims.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))) {
            const RESERVED: &[&str] = &[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "azp",
                "sid",
                "at_hash",
                "c_hash",
            ];
            if name.is_empty() || RESERVED.contains(&name.as_str()) {
                return Err(format!(
                    "{who}: {key} {name:?}: a claim name, not empty and not a registered ID-token claim"
                ));
            }
        }
        if let Some(u) = &c.backchannel_logout_uri
            && (!crate::config::https_or_loopback(u)
                || url::Url::parse(u).is_ok_and(|p| p.fragment().is_some()))
        {
            return Err(format!(
                "{who}: backchannel_logout_uri {u:?} must be an https URL without fragment (http only on loopback)"
            ));
        }
        let mut permissions = Vec::new();
        for p in &c.permissions {
            let known: Vec<&str> = Permission::ALL.iter().map(|(n, _)| *n).collect();
            let parsed = Permission::parse(p).ok_or_else(|| {
                format!(
                    "{who}: permissions {p:?}: expected one of {}",
                    known.join(", ")
                )
            })?;
            if !permissions.contains(&parsed) {
                permissions.push(parsed);
            }
        }
        if permissions.contains(&Permission::DecideRevokes)
            && !permissions.contains(&Permission::Decide)
        {
            return Err(format!("{who}: permission decide_revokes needs decide"));
        }
        if !permissions.is_empty() && method == AuthMethod::None {
            return Err(format!("{who}: a public client cannot hold permissions"));
        }
        if let Some(a) = &c.access_token_audience
            && (a.trim().is_empty() || a.chars().any(char::is_control))
        {
            return Err(format!(
                "{who}: access_token_audience {a:?}: the API's identifier, not empty"
            ));
        }
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
            profile: c.profile.clone(),
            identity_claims: (c.upn_claim.is_some() || c.groups_claim.is_some()).then(|| {
                IdentityClaims {
                    upn_claim: c.upn_claim.clone().unwrap_or_else(|| "upn".into()),
                    groups_claim: c.groups_claim.clone().unwrap_or_else(|| "groups".into()),
                    upn_domain: c.upn_domain.clone(),
                }
            }),
            password_grant: c.password_grant,
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            permissions,
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
                cfg(|c| c.grant_types = Some(vec!["implicit".into()])),
                true,
                Err(
                    "grant_types \"implicit\": expected one of authorization_code, refresh_token, client_credentials, password",
                ),
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
            (
                cfg(|c| c.grant_types = Some(vec!["password".into()])),
                true,
                Err("explicit opt-in"),
            ),
            (
                cfg(|c| c.password_grant = true),
                true,
                Err("explicit opt-in"),
            ),
            (
                cfg(|c| c.profile = Some("vcenter".into())),
                true,
                Err("needs vcenter_host"),
            ),
            (
                cfg(|c| {
                    c.profile = Some("vcenter".into());
                    c.vcenter_host = Some("https://vc.example/ui".into());
                }),
                true,
                Err("without scheme or path"),
            ),
            (
                cfg(|c| c.vcenter_host = Some("vc.example".into())),
                true,
                Err("needs profile"),
            ),
            (
                cfg(|c| c.upn_claim = Some("sub".into())),
                true,
                Err("registered ID-token claim"),
            ),
            (
                cfg(|c| c.profile = Some("okta".into())),
                true,
                Err("profile \"okta\": expected vcenter"),
            ),
            (
                cfg(|c| {
                    c.profile = Some("vcenter".into());
                    c.vcenter_host = Some("vc.example".into());
                    c.password_grant = true;
                }),
                false,
                Err("only a confidential client"),
            ),
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
    fn the_vcenter_profile_sets_what_vcenter_expects() {
        let c = cfg(|c| {
            c.redirect_uris = vec![];
            c.profile = Some("vcenter".into());
            c.vcenter_host = Some("vc01.corp.example".into());
            c.groups_claim = Some("vc_groups".into());
            c.upn_domain = Some("corp.example".into());
            c.password_grant = true;
        });
        let s = ClientSettings::from_config(&c, Alg::ES256, true).unwrap();
        assert_eq!(
            s.redirect_uris,
            ["https://vc01.corp.example/ui/login/oauth2/authcode"]
        );
        assert_eq!(
            s.grant_types,
            ["authorization_code", "refresh_token", "password"]
        );
        assert_eq!(s.id_token_alg, Alg::RS256);
        assert_eq!(
            s.auth_methods,
            [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost]
        );
        assert!(!s.require_pkce && s.password_grant);
        let claims = s.identity_claims.unwrap();
        assert_eq!(
            (claims.upn_claim.as_str(), claims.groups_claim.as_str()),
            ("upn", "vc_groups")
        );
        assert_eq!(claims.upn("bob", None).as_deref(), Some("bob@corp.example"));
        assert_eq!(
            claims.upn("bob", Some("robert@corp.example")).as_deref(),
            Some("robert@corp.example")
        );
        // Without the profile nothing of this applies.
        let plain = ClientSettings::from_config(&cfg(|_| {}), Alg::ES256, true).unwrap();
        assert!(plain.identity_claims.is_none() && !plain.password_grant);
        assert_eq!(plain.id_token_alg, Alg::ES256);
    }

    #[test]
    fn secret_hashes_parse() {
        let h = hash_secret("s3cret");
        assert_eq!(parse_secret_hash(&format!("sha256:{h}")), Some(h.clone()));
        assert_eq!(parse_secret_hash(&h), None);
        assert_eq!(parse_secret_hash("sha256:abc"), None);
    }
}
