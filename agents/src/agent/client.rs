//! Blocking HTTP(S) client for the issuer's agent endpoints (ureq + rustls,
//! certificate verification always on). Plain `http://` is allowed only to
//! a loopback address and only when asked for explicitly (`--insecure-http`,
//! for development and tests); a store enrolled that way is refused by PAM
//! mode.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::b64;
use crate::signed::{DeviceAuth, request_bytes};
use crate::signer::{SignError, Sm2Signer, sign_message};
use crate::wire::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "server URL {0:?} must be https:// (http:// only for a loopback address with --insecure-http)"
    )]
    Insecure(String),
    #[error("cannot reach {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url} answered {status}: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Server {
        url: String,
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("{url} answered something that is not the expected JSON: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("signing the request: {0}")]
    Sign(#[from] SignError),
}

impl ClientError {
    /// Whether the failure is the network's (retry later, work offline).
    pub fn is_transport(&self) -> bool {
        matches!(self, ClientError::Transport { .. })
    }
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The system roots plus the certificates of the PEM bundle at `path`;
/// an error names the file.
fn roots_with(path: &Path) -> Result<Vec<Certificate<'static>>, ClientError> {
    let ca_err = |reason: String| ClientError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(ca_err("no certificate in file".into()));
    }
    let system = rustls_native_certs::load_native_certs().certs;
    Ok(system
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .chain(certs)
        .collect())
}

impl Client {
    /// `base` is the issuer URL (`https://idp.example`); `ca_file` an
    /// optional PEM bundle for a private CA, trusted in addition to the
    /// system roots (an issuer moved to a public certificate keeps
    /// working, as for the issuer's own `ca_file`s).
    pub fn new(
        base: &str,
        ca_file: Option<&Path>,
        insecure_http: bool,
    ) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || insecure_http && is_loopback_http(&base)) {
            return Err(ClientError::Insecure(base));
        }
        let mut tls = TlsConfig::builder();
        if let Some(path) = ca_file {
            tls = tls.root_certs(RootCerts::Specific(Arc::new(roots_with(path)?)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Self { base, agent })
    }

    /// POST without device authentication (enrollment).
    pub fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::BadResponse {
            url: path.into(),
            reason: e.to_string(),
        })?;
        self.send(path, bytes, None)
    }

    /// POST signed by the device key (`Authorization: Tollgate-SM2 …`).
    pub fn post_signed<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        device_id: &str,
        signer: &mut dyn Sm2Signer,
        now: i64,
    ) -> Result<R, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::BadResponse {
            url: path.into(),
            reason: e.to_string(),
        })?;
        let nonce = b64::random(16).map_err(|e| ClientError::Transport {
            url: path.into(),
            reason: e.to_string(),
        })?;
        let msg = request_bytes("POST", path, device_id, now, &nonce, &bytes).map_err(|e| {
            ClientError::BadResponse {
                url: path.into(),
                reason: e.to_string(),
            }
        })?;
        let sig = sign_message(signer, &msg)?;
        let auth = DeviceAuth {
            device_id: device_id.to_owned(),
            ts: now,
            nonce,
            signature: b64::encode(&sig.to_der()),
        };
        self.send(path, bytes, Some(auth.to_header()))
    }

    fn send<R: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        auth: Option<String>,
    ) -> Result<R, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(a) = auth {
            req = req.header("Authorization", &a);
        }
        let mut resp = req.send(&body[..]).map_err(|e| ClientError::Transport {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !(200..300).contains(&status) {
            let err: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            return Err(ClientError::Server {
                url,
                status,
                error: err
                    .as_ref()
                    .map(|e| e.error.clone())
                    .unwrap_or_else(|| "error".into()),
                description: err.and_then(|e| e.error_description),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
            url,
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback_and_only_when_asked() {
        let insecure = |url: &str, flag: bool| {
            matches!(Client::new(url, None, flag), Err(ClientError::Insecure(_)))
        };
        let cases = [
            ("https://idp.example", false, false),
            ("https://idp.example", true, false),
            ("http://127.0.0.1:8080", true, false),
            ("http://localhost/", true, false),
            ("http://127.0.0.1:8080", false, true),
            ("http://idp.example", true, true),
            ("http://127.0.0.1.evil.example", true, true),
            ("ftp://x", true, true),
        ];
        for (url, flag, refused) in cases {
            assert_eq!(insecure(url, flag), refused, "{url} --insecure-http={flag}");
        }
    }

    /// A self-signed CA made once with `openssl req -x509` (P-256).
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\n\
MIIBkjCCATegAwIBAgIUDcyi2K2Nv2S66e2NozinZbg0EWMwCgYIKoZIzj0EAwIw\n\
HTEbMBkGA1UEAwwSYWdlbnQgdW5pdCB0ZXN0IENBMCAXDTI2MTIwMjE3MDgwOVoY\n\
DzIxMjYxMTA4MTcwODA5WjAdMRswGQYDVQQDDBJhZ2VudCB1bml0IHRlc3QgQ0Ew\n\
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQt+2b4eBYg0o9ij0v5bEqGRE8pSihp\n\
eb1H9Ukb/cSQDuhXcIrMK2mkZAnFJAb5PiY2GhagDH6lBx0MeCAwG3j6o1MwUTAd\n\
BgNVHQ4EFgQUNfbWnLUWnZNf80rqx5SWgea40IgwHwYDVR0jBBgwFoAUNfbWnLUW\n\
nZNf80rqx5SWgea40IgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG\n\
AiEA+/1+O88Cz8he2mAOuBKdxjwUBYWPja19HgouSmj4pi4CIQCKVmAKo2swgb77\n\
+clm76luZQdTti09FjU0xLvuN/MLiw==\n\
-----END CERTIFICATE-----\n\
";

    #[test]
    fn a_ca_file_is_added_to_the_system_roots() {
        let dir = std::env::temp_dir().join(format!("tg-agent-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (good, empty) = (dir.join("ca.pem"), dir.join("empty.pem"));
        std::fs::write(&good, CA_PEM).unwrap();
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let roots = roots_with(&good);
        let refused = roots_with(&empty);
        let missing = roots_with(&dir.join("missing.pem"));
        let _ = std::fs::remove_dir_all(&dir);
        let roots = roots.unwrap();
        let system = rustls_native_certs::load_native_certs().certs;
        assert!(
            !system.is_empty(),
            "this test needs the system roots (ca-certificates)"
        );
        assert_eq!(roots.len(), system.len() + 1);
        let ca = ureq::tls::parse_pem(CA_PEM.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let PemItem::Certificate(ca) = ca else {
            panic!("a certificate")
        };
        assert!(
            roots.iter().any(|r| r.der() == ca.der()),
            "the CA is among the roots"
        );
        assert!(
            matches!(&refused, Err(ClientError::CaFile { path, .. }) if path.ends_with("empty.pem")),
            "{:?}",
            refused.err()
        );
        assert!(matches!(missing, Err(ClientError::CaFile { .. })));
    }
}
