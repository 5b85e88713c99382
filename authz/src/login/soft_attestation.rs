//! A test attestation CA for [`super::soft_passkey::SoftPasskey`]: a
//! self-signed P-256 root and, per registration, a `packed` attestation
//! certificate it issues (WebAuthn §8.2.1: v3, subject C/O/OU="Authenticator
//! Attestation"/CN, basic constraints CA:FALSE). Hand-written DER, because
//! the certificates are tiny and fixed in shape; signatures by aws-lc-rs.
//!
//! Like the software passkey, it exists for tests and benches only.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;

/// A test CA: its key and its self-signed certificate.
pub struct TestAttestationCa {
    key: EcdsaKeyPair,
    name: Vec<u8>,
    /// The DER certificate.
    pub cert_der: Vec<u8>,
}

/// An attestation key with its certificate (issued by a [`TestAttestationCa`]).
pub struct AttestationKey {
    pub key: EcdsaKeyPair,
    pub cert_der: Vec<u8>,
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

const OID_ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_C: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x06];
const OID_O: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];
const OID_OU: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0b];
const OID_CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
const OID_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0f];

/// A Name: C (PrintableString) then UTF8String attributes, one per RDN.
fn name(country: &str, attrs: &[(&[u8], &str)]) -> Vec<u8> {
    let mut rdns = vec![tlv(0x31, &seq(&[OID_C, &tlv(0x13, country.as_bytes())]))];
    for (oid, value) in attrs {
        rdns.push(tlv(0x31, &seq(&[oid, &tlv(0x0c, value.as_bytes())])));
    }
    let refs: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

fn spki(key: &EcdsaKeyPair) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(key.public_key().as_ref());
    seq(&[&seq(&[OID_EC_PUBLIC_KEY, OID_P256]), &tlv(0x03, &bits)])
}

/// One critical extension.
fn extension(oid: &[u8], value: &[u8]) -> Vec<u8> {
    seq(&[oid, &[0x01, 0x01, 0xff], &tlv(0x04, value)])
}

fn sign_cert(
    signer: &EcdsaKeyPair,
    issuer: &[u8],
    subject: &[u8],
    subject_key: &EcdsaKeyPair,
    extensions: &[Vec<u8>],
) -> Result<Vec<u8>, String> {
    let serial = crate::secret::random_bytes(8);
    let mut serial_int = vec![0x01]; // positive, no leading zero
    serial_int.extend_from_slice(&serial);
    // 2020-01-01 to 2049-12-31: UTCTime covers the whole range.
    let validity = seq(&[&tlv(0x17, b"200101000000Z"), &tlv(0x17, b"491231235959Z")]);
    let ext_refs: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let tbs = seq(&[
        &[0xa0, 0x03, 0x02, 0x01, 0x02], // version v3
        &tlv(0x02, &serial_int),
        &seq(&[OID_ECDSA_SHA256]),
        issuer,
        &validity,
        subject,
        &spki(subject_key),
        &tlv(0xa3, &seq(&ext_refs)),
    ]);
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = signer.sign(&rng, &tbs).map_err(|e| e.to_string())?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.as_ref());
    Ok(seq(&[&tbs, &seq(&[OID_ECDSA_SHA256]), &tlv(0x03, &bits)]))
}

fn new_key() -> Result<EcdsaKeyPair, String> {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|e| e.to_string())
}

impl TestAttestationCa {
    /// A fresh self-signed root named `CN={cn}`.
    pub fn generate(cn: &str) -> Result<TestAttestationCa, String> {
        let key = new_key()?;
        let name = name("DE", &[(OID_O, "Tollgate Test Vendor"), (OID_CN, cn)]);
        let extensions = [
            extension(OID_BASIC_CONSTRAINTS, &seq(&[&[0x01, 0x01, 0xff]])),
            // keyCertSign | cRLSign
            extension(OID_KEY_USAGE, &[0x03, 0x02, 0x01, 0x06]),
        ];
        let cert_der = sign_cert(&key, &name, &name, &key, &extensions)?;
        Ok(TestAttestationCa {
            key,
            name,
            cert_der,
        })
    }

    /// The certificate as PEM (what `attestation_ca_files` holds).
    pub fn pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.cert_der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    /// Issues a new attestation key and its `packed` attestation certificate.
    pub fn issue(&self) -> Result<AttestationKey, String> {
        let key = new_key()?;
        let subject = name(
            "DE",
            &[
                (OID_O, "Tollgate Test Vendor"),
                (OID_OU, "Authenticator Attestation"),
                (OID_CN, "Tollgate Soft Passkey"),
            ],
        );
        let extensions = [extension(OID_BASIC_CONSTRAINTS, &seq(&[]))];
        let cert_der = sign_cert(&self.key, &self.name, &subject, &key, &extensions)?;
        Ok(AttestationKey { key, cert_der })
    }
}
