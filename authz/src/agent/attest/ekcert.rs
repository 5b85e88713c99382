//! The TPM manufacturers' EK CAs (`[agent] tpm_ca_files`) and the check of
//! an EK certificate against them.
//!
//! Every configured certificate is a trust anchor: an operator lists the
//! CA certificates that *issue* EK certificates (a vendor's intermediate
//! "EK CA" together with its root, or swtpm's local CA `issuercert.pem`),
//! and an EK certificate is verified when one of them signed it and both
//! are within their validity at `now`. RSA PKCS#1 v1.5 and ECDSA with
//! SHA-256/384 are the signatures vendors use.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::*;

/// The loaded EK CAs. Empty (the default): no TPM key can be attested,
/// every device is recorded as software.
#[derive(Debug, Clone, Default)]
pub struct TpmTrust {
    /// DER of each CA certificate (parsed again when used: they borrow).
    cas: Vec<Vec<u8>>,
}

/// A verified EK certificate: the key to encrypt to, and who vouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEk {
    /// SubjectPublicKeyInfo DER of the EK.
    pub spki: Vec<u8>,
    /// The RSA modulus, when the EK is RSA (to compare with the TPM's).
    pub rsa_modulus: Option<Vec<u8>>,
    /// The issuing CA's subject, for the device record.
    pub issuer: String,
}

impl TpmTrust {
    /// Reads the PEM files (one or more certificates each); errors name the file.
    pub fn load(files: &[std::path::PathBuf]) -> Result<TpmTrust, String> {
        let mut cas = Vec::new();
        for path in files {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("[agent] tpm_ca_files: {}: {e}", path.display()))?;
            let before = cas.len();
            for pem in Pem::iter_from_buffer(&bytes) {
                let pem = pem.map_err(|e| {
                    format!("[agent] tpm_ca_files: {}: bad PEM: {e}", path.display())
                })?;
                X509Certificate::from_der(&pem.contents).map_err(|e| {
                    format!(
                        "[agent] tpm_ca_files: {}: not a certificate: {e}",
                        path.display()
                    )
                })?;
                cas.push(pem.contents);
            }
            if cas.len() == before {
                return Err(format!(
                    "[agent] tpm_ca_files: {}: no PEM certificate in the file",
                    path.display()
                ));
            }
        }
        Ok(TpmTrust { cas })
    }

    /// Whether any TPM can be attested at all.
    pub fn enabled(&self) -> bool {
        !self.cas.is_empty()
    }

    /// Verifies `ek_der` against the configured CAs at `now` (Unix seconds).
    pub fn verify(&self, ek_der: &[u8], now: i64) -> Result<VerifiedEk, String> {
        let (rest, ek) = X509Certificate::from_der(ek_der)
            .map_err(|e| format!("the EK certificate does not parse: {e}"))?;
        if !rest.is_empty() {
            return Err("trailing bytes after the EK certificate".into());
        }
        let at = ASN1Time::from_timestamp(now).map_err(|e| e.to_string())?;
        if !ek.validity().is_valid_at(at) {
            return Err("the EK certificate is expired or not yet valid".into());
        }
        if self.cas.is_empty() {
            return Err("no TPM manufacturer CA is configured ([agent] tpm_ca_files)".into());
        }
        for der in &self.cas {
            let Ok((_, ca)) = X509Certificate::from_der(der) else {
                continue;
            };
            if ca.subject().as_raw() != ek.issuer().as_raw()
                || !ca.is_ca()
                || !ca.validity().is_valid_at(at)
            {
                continue;
            }
            if signed_by(&ek, &ca) {
                let rsa_modulus = match ek.public_key().parsed() {
                    Ok(x509_parser::public_key::PublicKey::RSA(k)) => Some(k.modulus.to_vec()),
                    _ => None,
                };
                return Ok(VerifiedEk {
                    spki: ek.public_key().raw.to_vec(),
                    rsa_modulus,
                    issuer: ca.subject().to_string(),
                });
            }
        }
        Err(format!(
            "the EK certificate (issuer {}) is not signed by a configured TPM manufacturer CA",
            ek.issuer()
        ))
    }
}

fn signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let ca_key = ca.public_key();
    let p256 = matches!(
        ca_key.parsed(),
        Ok(x509_parser::public_key::PublicKey::EC(ref p)) if p.key_size() == 256
    );
    let alg: &'static dyn VerificationAlgorithm = match oid.as_str() {
        "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "1.2.840.10045.4.3.2" if p256 => &signature::ECDSA_P256_SHA256_ASN1,
        "1.2.840.10045.4.3.3" if p256 => &signature::ECDSA_P256_SHA384_ASN1,
        "1.2.840.10045.4.3.3" => &signature::ECDSA_P384_SHA384_ASN1,
        _ => return false,
    };
    UnparsedPublicKey::new(alg, &ca_key.subject_public_key.data)
        .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
        .is_ok()
}
