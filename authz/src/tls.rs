//! Trust for outbound TLS: the roots every client starts from, plus the
//! operator's private CA (`ca_file`, a PEM bundle) for SCIM targets, SSF
//! receivers, back-channel logout URIs and directories.
//!
//! A private CA is *added* to the roots, never a replacement: a target
//! moved to a public certificate keeps working. One function reads the
//! bundle, so every `ca_file` fails the same way, naming the file.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The certificates of a PEM bundle; an error names the file and says
/// whether it is missing, unreadable, or holds no certificate.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    // Read first: a missing file is "No such file", not a PEM error.
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    // Parsed as a trust anchor here, so a damaged certificate is this
    // file's error and not a TLS failure later.
    let mut probe = rustls::RootCertStore::empty();
    for c in &certs {
        probe.add(c.clone()).map_err(|e| {
            format!(
                "{}: a certificate in it cannot be parsed: {e}",
                path.display()
            )
        })?;
    }
    Ok(certs)
}

/// A rustls client config (ring, the provider the rest of the process
/// uses) trusting the system roots plus `ca_file`.
pub fn rustls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `builder` trusting `ca_file` in addition to reqwest's bundled roots.
pub fn with_ca_file(
    mut builder: reqwest::ClientBuilder,
    ca_file: Option<&Path>,
) -> Result<reqwest::ClientBuilder, String> {
    if let Some(path) = ca_file {
        for der in read_ca_file(path)? {
            let cert = reqwest::Certificate::from_der(der.as_ref())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// A hint for a TLS failure whose cause is an issuer Tollgate does not
/// know (`error` is the whole error chain as text), else `None`.
pub fn unknown_issuer_hint(error: &str) -> Option<&'static str> {
    (error.contains("UnknownIssuer") || error.contains("unknown issuer")).then_some(
        "the server's certificate is not signed by a CA Tollgate trusts; \
         set ca_file to the PEM file of its CA",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tg-tls-{}", crate::secret::random_id(6)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_bad_ca_file_is_named_with_what_is_wrong() {
        let d = dir();
        let text = d.join("text.pem");
        std::fs::write(&text, "not a certificate\n").unwrap();
        let junk = d.join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let missing = d.join("missing.pem");
        let err = |p: &Path| read_ca_file(p).unwrap_err();
        let (e_missing, e_text, e_junk) = (err(&missing), err(&text), err(&junk));
        let _ = std::fs::remove_dir_all(&d);
        assert!(
            e_missing.starts_with(&missing.display().to_string())
                && e_missing.contains("No such file"),
            "{e_missing}"
        );
        assert_eq!(
            e_text,
            format!("{}: no PEM certificate in it", text.display())
        );
        assert!(
            e_junk.starts_with(&format!(
                "{}: a certificate in it cannot be parsed",
                junk.display()
            )),
            "{e_junk}"
        );
        assert!(with_ca_file(reqwest::Client::builder(), Some(&missing)).is_err());
        assert!(rustls_config(Some(&missing)).is_err());
    }

    #[test]
    fn only_an_unknown_issuer_gets_the_ca_file_hint() {
        assert!(unknown_issuer_hint("invalid peer certificate: UnknownIssuer").is_some());
        assert!(unknown_issuer_hint("connection refused").is_none());
    }
}
