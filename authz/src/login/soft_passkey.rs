//! A software authenticator (ES256; attestation `none`, or `packed` under a
//! [`TestAttestationCa`]) for tests and benches: it answers the options JSON
//! the server sends with the JSON a browser would return. Fields are public so tests can misbehave on
//! purpose (replay an old counter, sign for another RP id or origin).
//!
//! It is not used by the service itself; it lives here rather than in a
//! test crate so the unit tests, the end-to-end tests and the criterion
//! bench share one implementation.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

pub use super::soft_attestation::TestAttestationCa;

/// A software passkey: one credential for one RP.
pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub cred_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    /// The next assertion uses `counter + 1` (and stores it).
    pub counter: u32,
    /// Backup-eligible and backed-up flags (a synced passkey).
    pub backup_eligible: bool,
    /// Sent as the UV flag.
    pub user_verified: bool,
    /// When set, signs for this RP id instead of the one in the options.
    pub rp_id_override: Option<String>,
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, String> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .ok_or_else(|| format!("options lack {}", path.join(".")))
}

fn text(v: &Value, path: &[&str]) -> Result<String, String> {
    field(v, path)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} is not a string", path.join(".")))
}

/// A CBOR byte string (major type 2) of any length below 64 KiB.
fn cbor_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = match data.len() {
        n if n < 24 => vec![0x40 | n as u8],
        n if n < 256 => vec![0x58, n as u8],
        n => {
            let mut h = vec![0x59];
            h.extend_from_slice(&(n as u16).to_be_bytes());
            h
        }
    };
    out.extend_from_slice(data);
    out
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

impl SoftPasskey {
    fn flags(&self, attested: bool) -> u8 {
        let mut f = 0x01; // UP
        if self.user_verified {
            f |= 0x04;
        }
        if self.backup_eligible {
            f |= 0x08 | 0x10;
        }
        if attested {
            f |= 0x40;
        }
        f
    }

    fn rp_hash(&self, rp_id: &str) -> Vec<u8> {
        let id = self.rp_id_override.as_deref().unwrap_or(rp_id);
        crate::secret::sha256(id.as_bytes()).to_vec()
    }

    /// Answers `navigator.credentials.create` options (the server's
    /// `CreationChallengeResponse` JSON) from `origin`, attestation `none`.
    pub fn register(
        options: &str,
        origin: &str,
        backup_eligible: bool,
    ) -> Result<(SoftPasskey, String), String> {
        SoftPasskey::register_attested(options, origin, backup_eligible, None)
    }

    /// Like [`SoftPasskey::register`]; with `ca`, a `packed` attestation by
    /// a fresh attestation certificate that `ca` issued (basic attestation).
    pub fn register_attested(
        options: &str,
        origin: &str,
        backup_eligible: bool,
        ca: Option<&TestAttestationCa>,
    ) -> Result<(SoftPasskey, String), String> {
        let v: Value = serde_json::from_str(options).map_err(|e| e.to_string())?;
        let challenge = text(&v, &["publicKey", "challenge"])?;
        let rp_id = text(&v, &["publicKey", "rp", "id"])?;
        let user_handle = B64
            .decode(text(&v, &["publicKey", "user", "id"])?)
            .map_err(|e| e.to_string())?;
        let key =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|e| e.to_string())?;
        let pk = SoftPasskey {
            key,
            cred_id: crate::secret::random_bytes(16),
            user_handle,
            counter: 0,
            backup_eligible,
            user_verified: true,
            rp_id_override: None,
        };
        let point = pk.key.public_key().as_ref().to_vec();
        if point.len() != 65 {
            return Err("unexpected public key encoding".into());
        }
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&point[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&point[33..65]);
        let mut auth_data = pk.rp_hash(&rp_id);
        auth_data.push(pk.flags(true));
        auth_data.extend_from_slice(&pk.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0x7a; 16]); // a recognisable test AAGUID
        auth_data.extend_from_slice(&(pk.cred_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&pk.cred_id);
        auth_data.extend_from_slice(&cose);
        let cd = client_data("webauthn.create", &challenge, origin);
        let mut att = b"\xa3\x63fmt".to_vec();
        match ca {
            None => att.extend_from_slice(b"\x64none\x67attStmt\xa0"),
            Some(ca) => {
                // packed, basic: {"alg": -7, "sig": sig(authData ‖ H(cd)), "x5c": [cert]}
                let ak = ca.issue()?;
                let mut signed = auth_data.clone();
                signed.extend_from_slice(&crate::secret::sha256(&cd));
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let sig = ak.key.sign(&rng, &signed).map_err(|e| e.to_string())?;
                att.extend_from_slice(b"\x66packed\x67attStmt\xa3\x63alg\x26\x63sig");
                att.extend_from_slice(&cbor_bytes(sig.as_ref()));
                att.extend_from_slice(b"\x63x5c\x81");
                att.extend_from_slice(&cbor_bytes(&ak.cert_der));
            }
        }
        att.extend_from_slice(b"\x68authData");
        att.extend_from_slice(&cbor_bytes(&auth_data));
        let id = B64.encode(&pk.cred_id);
        let response = json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "attestationObject": B64.encode(&att),
                "clientDataJSON": B64.encode(&cd),
                "transports": ["internal"],
            },
            "extensions": {},
        });
        Ok((pk, response.to_string()))
    }

    /// Answers `navigator.credentials.get` options (`RequestChallengeResponse`
    /// JSON) from `origin`, incrementing the counter.
    pub fn assert(&mut self, options: &str, origin: &str) -> Result<String, String> {
        let v: Value = serde_json::from_str(options).map_err(|e| e.to_string())?;
        let challenge = text(&v, &["publicKey", "challenge"])?;
        let rp_id = text(&v, &["publicKey", "rpId"])?;
        self.counter += 1;
        let mut auth_data = self.rp_hash(&rp_id);
        auth_data.push(self.flags(false));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let cd = client_data("webauthn.get", &challenge, origin);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&crate::secret::sha256(&cd));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.key.sign(&rng, &signed).map_err(|e| e.to_string())?;
        let id = B64.encode(&self.cred_id);
        Ok(json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&cd),
                "signature": B64.encode(sig.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::Method;
    use crate::login::passkey::*;

    const ISSUER: &str = "http://localhost:8080";

    fn registered(
        synced: bool,
    ) -> (
        webauthn_rs::prelude::Webauthn,
        SoftPasskey,
        crate::store::PasskeyRow,
    ) {
        let rp = relying_party(ISSUER, "Tollgate").unwrap();
        let (opts, state) = start_registration(&rp, "u1", "alice", "Alice", &[], false).unwrap();
        assert!(opts.contains("\"residentKey\":\"required\""), "{opts}");
        let (pk, resp) = SoftPasskey::register(&opts, ISSUER, synced).unwrap();
        let policy = crate::login::attestation::AttestationPolicy::default();
        let row = finish_registration(&rp, &state, &resp, "u1", " Laptop ", &policy, 5).unwrap();
        assert!(!row.attested);
        assert_eq!(row.name, "Laptop");
        assert_eq!(row.aaguid, "7a".repeat(16));
        assert_eq!(row.backup_eligible, synced);
        assert_eq!(row.transports, vec!["internal".to_string()]);
        (rp, pk, row)
    }

    #[test]
    fn register_then_authenticate_both_ways() {
        for synced in [false, true] {
            let (rp, mut pk, row) = registered(synced);
            for discoverable in [false, true] {
                let rows = [row.clone()];
                let (opts, state) =
                    start_authentication(&rp, (!discoverable).then_some(&rows[..])).unwrap();
                let resp = pk.assert(&opts, ISSUER).unwrap();
                assert_eq!(response_cred_id(&resp).unwrap(), row.cred_id);
                let ok = finish_authentication(&rp, &state, &resp, &row).unwrap();
                assert_eq!(
                    ok.method,
                    Method::Passkey {
                        user_verified: true,
                        backup_eligible: synced,
                        attested: false,
                    }
                );
                assert_eq!(ok.row.counter, pk.counter as i64);
            }
        }
    }

    #[test]
    fn failures_are_classified() {
        let (rp, mut pk, row) = registered(false);
        let rows = [row.clone()];
        // (how to break the response, expected error code)
        type Breaker = fn(&mut SoftPasskey) -> String;
        let cases: Vec<(&str, Breaker, &str)> = vec![
            (
                "wrong origin",
                |_| "https://evil.example".into(),
                "rejected",
            ),
            (
                "wrong rp id",
                |p| {
                    p.rp_id_override = Some("evil.example".into());
                    ISSUER.into()
                },
                "rejected",
            ),
        ];
        for (what, brk, want) in cases {
            let (opts, state) = start_authentication(&rp, Some(&rows)).unwrap();
            let origin = brk(&mut pk);
            let resp = pk.assert(&opts, &origin).unwrap();
            pk.rp_id_override = None;
            let err = finish_authentication(&rp, &state, &resp, &row).unwrap_err();
            assert_eq!(err.code(), want, "{what}: {err}");
        }
        let (opts, state) = start_authentication(&rp, Some(&rows)).unwrap();
        let resp = pk.assert(&opts, ISSUER).unwrap();
        let used = finish_authentication(&rp, &state, &resp, &row).unwrap().row;
        pk.counter = 0; // a clone that lags behind
        let (opts, state) = start_authentication(&rp, Some(std::slice::from_ref(&used))).unwrap();
        let resp = pk.assert(&opts, ISSUER).unwrap();
        assert_eq!(
            finish_authentication(&rp, &state, &resp, &used).unwrap_err(),
            PasskeyError::CounterRegression
        );
        assert_eq!(
            finish_authentication(&rp, &state, "{not json", &used).unwrap_err(),
            PasskeyError::Malformed
        );
    }
}
