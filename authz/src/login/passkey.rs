//! Passkeys: the WebAuthn ceremonies (webauthn-rs) as pure functions over
//! JSON in and rows out. The HTTP layer stores the ceremony state between
//! the two requests (`Store::put_ceremony`/`take_ceremony`, single use, with
//! an expiry and an owner) and feeds the browser's JSON back here.
//!
//! The relying-party id is the issuer's host and the only accepted origin
//! is the issuer's origin, so a response made for another site (phishing)
//! fails: that is what makes passkeys `phr`.

use super::Method;
use super::attestation::AttestationPolicy;
use crate::store::PasskeyRow;
use webauthn_rs::prelude::*;

/// Why a ceremony failed. Each maps to a 4xx and an audit record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasskeyError {
    /// The browser sent JSON that is not a WebAuthn response.
    #[error("malformed WebAuthn response")]
    Malformed,
    /// The credential is not registered (or not to this user).
    #[error("unknown credential")]
    UnknownCredential,
    /// The signature counter did not increase: a possible clone.
    #[error("signature counter went backwards")]
    CounterRegression,
    /// The credential was marked suspicious earlier.
    #[error("credential is suspended")]
    Suspended,
    /// Origin, RP id, challenge, signature or user verification is wrong.
    #[error("WebAuthn verification failed: {0}")]
    Rejected(String),
    /// Stored state could not be read (a server-side fault).
    #[error("internal: {0}")]
    Internal(String),
}

impl PasskeyError {
    /// A short code for audit records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PasskeyError::Malformed => "malformed",
            PasskeyError::UnknownCredential => "unknown_credential",
            PasskeyError::CounterRegression => "counter_regression",
            PasskeyError::Suspended => "suspended",
            PasskeyError::Rejected(_) => "rejected",
            PasskeyError::Internal(_) => "internal",
        }
    }
}

/// Builds the relying party for `issuer` (RP id = host, origin = issuer origin).
pub fn relying_party(issuer: &str, rp_name: &str) -> Result<Webauthn, PasskeyError> {
    let url = Url::parse(issuer).map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| PasskeyError::Internal("issuer has no host".into()))?
        .to_string();
    WebauthnBuilder::new(&host, &url)
        .and_then(|b| b.rp_name(rp_name).build())
        .map_err(|e| PasskeyError::Internal(e.to_string()))
}

/// The WebAuthn user handle for a user: derived from the subject id, so no
/// column is needed and a discoverable login can be mapped back.
pub fn user_handle(user_id: &str) -> Uuid {
    let h = crate::secret::sha256(format!("tollgate-webauthn-user:{user_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    Uuid::from_bytes(b)
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn internal<E: std::fmt::Display>(e: E) -> PasskeyError {
    PasskeyError::Internal(e.to_string())
}

/// Starts registration: the options JSON for `navigator.credentials.create`
/// and the state to keep. The credential must be discoverable (resident),
/// so "Sign in with a passkey" works without a username. With
/// `want_attestation` (an attestation policy is configured) the
/// authenticator is asked for `direct` attestation; a `none` answer is
/// still accepted (it just does not reach `phrh`).
pub fn start_registration(
    rp: &Webauthn,
    user_id: &str,
    login: &str,
    display_name: &str,
    existing: &[PasskeyRow],
    want_attestation: bool,
) -> Result<(String, String), PasskeyError> {
    let exclude: Vec<CredentialID> = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let (ccr, state) = rp
        .start_passkey_registration(
            user_handle(user_id),
            login,
            if display_name.is_empty() {
                login
            } else {
                display_name
            },
            Some(exclude),
        )
        .map_err(internal)?;
    // webauthn-rs asks for a non-resident key; we need a discoverable one.
    let mut options = serde_json::to_value(&ccr).map_err(internal)?;
    if let Some(sel) = options
        .get_mut("publicKey")
        .and_then(|p| p.get_mut("authenticatorSelection"))
        .and_then(|s| s.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    if want_attestation
        && let Some(pk) = options.get_mut("publicKey").and_then(|p| p.as_object_mut())
    {
        pk.insert("attestation".into(), "direct".into());
    }
    Ok((
        options.to_string(),
        serde_json::to_string(&state).map_err(internal)?,
    ))
}

/// Finishes registration, returning the row to store. The attestation
/// statement is verified by webauthn-rs whatever its format; `policy`
/// decides whether it makes the credential `attested` (see
/// [`AttestationPolicy::attests`]).
pub fn finish_registration(
    rp: &Webauthn,
    state: &str,
    response: &str,
    user_id: &str,
    name: &str,
    policy: &AttestationPolicy,
    now: i64,
) -> Result<PasskeyRow, PasskeyError> {
    let state: PasskeyRegistration = serde_json::from_str(state).map_err(internal)?;
    let reg: RegisterPublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    let passkey = rp
        .finish_passkey_registration(&reg, &state)
        .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    let cred: Credential = passkey.clone().into();
    // Only an AAGUID the attestation signature covered may satisfy the
    // allow-list; zeros (never listed) when the format carries none.
    let verified = verified_aaguid(&cred.attestation.metadata);
    let attested = policy.attests(&cred, verified.unwrap_or([0; 16]), now);
    let aaguid = verified
        .or_else(|| aaguid_of(&reg.response.attestation_object))
        .unwrap_or([0; 16]);
    let transports = reg
        .response
        .transports
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    Ok(PasskeyRow {
        cred_id: b64url(passkey.cred_id()),
        user_id: user_id.to_string(),
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        counter: cred.counter as i64,
        aaguid: crate::store::hex(&aaguid),
        backup_eligible: cred.backup_eligible,
        backup_state: cred.backup_state,
        attested,
        transports,
        name: clean_name(name),
        suspicious: false,
        created_at: now,
        last_used_at: None,
    })
}

/// A friendly name: trimmed, at most 64 characters, never empty.
pub fn clean_name(name: &str) -> String {
    let n: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if n.is_empty() { "Passkey".into() } else { n }
}

/// The AAGUID webauthn-rs took from the authenticator data it verified
/// the attestation signature over (`packed`, `tpm`); `None` for formats
/// that do not bind it.
fn verified_aaguid(metadata: &AttestationMetadata) -> Option<[u8; 16]> {
    match metadata {
        AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => {
            Some(*aaguid.as_bytes())
        }
        _ => None,
    }
}

/// The AAGUID of an unattested credential, for display only (nothing
/// vouches for it): the attestation object decoded as CBOR, its top-level
/// `authData` parsed (WebAuthn §6.1: RP id hash, flags with AT set,
/// counter, then the AAGUID). Never a byte-pattern scan, which would find
/// an `authData` nested anywhere.
fn aaguid_of(attestation_object: &[u8]) -> Option<[u8; 16]> {
    use serde_cbor_2::Value;
    let Value::Map(map) = serde_cbor_2::from_slice::<Value>(attestation_object).ok()? else {
        return None;
    };
    let Value::Bytes(auth_data) = map.get(&Value::Text("authData".into()))? else {
        return None;
    };
    const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
    if auth_data.get(32)? & ATTESTED_CREDENTIAL_DATA == 0 {
        return None;
    }
    auth_data.get(37..53)?.try_into().ok()
}

/// Starts authentication. With `user_passkeys` (username-first) the browser
/// is told which credentials to use; without (discoverable) it offers any
/// passkey it holds for this RP.
pub fn start_authentication(
    rp: &Webauthn,
    user_passkeys: Option<&[PasskeyRow]>,
) -> Result<(String, String), PasskeyError> {
    match user_passkeys {
        Some(rows) => {
            let keys: Vec<Passkey> = rows
                .iter()
                .filter(|r| !r.suspicious)
                .filter_map(|r| serde_json::from_str(&r.passkey).ok())
                .collect();
            if keys.is_empty() {
                return Err(PasskeyError::UnknownCredential);
            }
            let (rcr, state) = rp.start_passkey_authentication(&keys).map_err(internal)?;
            let state = AuthState::Known(state);
            Ok((
                serde_json::to_string(&rcr).map_err(internal)?,
                serde_json::to_string(&state).map_err(internal)?,
            ))
        }
        None => {
            let (mut rcr, state) = rp.start_discoverable_authentication().map_err(internal)?;
            // A button press, not autofill: no conditional mediation.
            rcr.mediation = None;
            let state = AuthState::Discoverable(state);
            Ok((
                serde_json::to_string(&rcr).map_err(internal)?,
                serde_json::to_string(&state).map_err(internal)?,
            ))
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
enum AuthState {
    Known(PasskeyAuthentication),
    Discoverable(DiscoverableAuthentication),
}

/// The credential id a response names (to look its row up), or `Malformed`.
pub fn response_cred_id(response: &str) -> Result<String, PasskeyError> {
    let cred: PublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    Ok(b64url(cred.get_credential_id()))
}

/// A successful authentication: the updated row and the method proven.
#[derive(Debug)]
pub struct Authenticated {
    pub row: PasskeyRow,
    pub method: Method,
}

/// Finishes authentication against `row` (looked up by
/// [`response_cred_id`]). Checks the user handle of discoverable responses,
/// the counter (via webauthn-rs: a non-increasing nonzero counter is
/// [`PasskeyError::CounterRegression`]) and user verification.
pub fn finish_authentication(
    rp: &Webauthn,
    state: &str,
    response: &str,
    row: &PasskeyRow,
) -> Result<Authenticated, PasskeyError> {
    if row.suspicious {
        return Err(PasskeyError::Suspended);
    }
    let cred: PublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    let state: AuthState = serde_json::from_str(state).map_err(internal)?;
    let mut passkey: Passkey = serde_json::from_str(&row.passkey).map_err(internal)?;
    let result = match state {
        AuthState::Known(s) => rp.finish_passkey_authentication(&cred, &s),
        AuthState::Discoverable(s) => {
            let (uuid, _) = rp
                .identify_discoverable_authentication(&cred)
                .map_err(|_| PasskeyError::Malformed)?;
            if uuid != user_handle(&row.user_id) {
                return Err(PasskeyError::UnknownCredential);
            }
            let key = DiscoverableKey::from(&passkey);
            rp.finish_discoverable_authentication_v2(&cred, s, &key)
        }
    }
    .map_err(|e| match e {
        WebauthnError::CredentialPossibleCompromise => PasskeyError::CounterRegression,
        other => PasskeyError::Rejected(other.to_string()),
    })?;
    passkey.update_credential(&result);
    let mut row = row.clone();
    row.counter = result.counter() as i64;
    row.backup_state = result.backup_state();
    row.passkey = serde_json::to_string(&passkey).map_err(internal)?;
    Ok(Authenticated {
        method: Method::Passkey {
            user_verified: result.user_verified(),
            // The flag stored at registration is authoritative: a credential
            // that was ever backup-eligible stays capped at phr.
            backup_eligible: row.backup_eligible || result.backup_eligible(),
            attested: row.attested && !row.backup_eligible && !result.backup_eligible(),
        },
        row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::soft_passkey::{SoftPasskey, TestAttestationCa};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    const ISSUER: &str = "http://localhost:8080";
    const ALLOWED: &str = "00000000-0000-0000-0000-000000000001";
    /// Inside the test attestation certificates' validity.
    const NOW: i64 = 1_767_225_600;

    /// The registration response with an extra first entry in the
    /// attestation object, `{"aaa": {"authData": <53 bytes ending in the
    /// allowed AAGUID>}}`: no signature covers it, and webauthn-rs ignores
    /// it, but a scan for the first `authData` bytes finds it.
    fn smuggle_allowed_aaguid(response: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(response).unwrap();
        let att = B64
            .decode(v["response"]["attestationObject"].as_str().unwrap())
            .unwrap();
        assert_eq!(att[0], 0xa3, "a map of three");
        let mut fake = vec![0u8; 37];
        fake[32] = 0x45;
        fake.extend_from_slice(Uuid::parse_str(ALLOWED).unwrap().as_bytes());
        let mut out = vec![0xa4, 0x63, b'a', b'a', b'a', 0xa1, 0x68];
        out.extend_from_slice(b"authData");
        out.push(0x58);
        out.push(fake.len() as u8);
        out.extend_from_slice(&fake);
        out.extend_from_slice(&att[1..]);
        v["response"]["attestationObject"] = B64.encode(&out).into();
        v.to_string()
    }

    #[test]
    fn the_allow_list_sees_only_the_aaguid_the_signature_covers() {
        let ca = TestAttestationCa::generate("Trusted Root").unwrap();
        let only_allowed =
            AttestationPolicy::from_pems(&[("ca.pem", &ca.pem())], &[ALLOWED.into()]).unwrap();
        let only_soft = AttestationPolicy::from_pems(
            &[("ca.pem", &ca.pem())],
            &["7a7a7a7a-7a7a-7a7a-7a7a-7a7a7a7a7a7a".into()],
        )
        .unwrap();
        let rp = relying_party(ISSUER, "Tollgate").unwrap();
        let untouched: fn(&str) -> String = |r| r.to_owned();
        // (what, policy, tampering, attested?)
        let cases = [
            ("unallowed model", &only_allowed, untouched, false),
            (
                "unallowed model, allowed AAGUID smuggled",
                &only_allowed,
                smuggle_allowed_aaguid as fn(&str) -> String,
                false,
            ),
            ("allowed model", &only_soft, untouched, true),
            (
                "allowed model, extra entry",
                &only_soft,
                smuggle_allowed_aaguid,
                true,
            ),
        ];
        for (what, policy, tamper, want) in cases {
            let (opts, state) = start_registration(&rp, "u1", "alice", "Alice", &[], true).unwrap();
            let (_pk, resp) =
                SoftPasskey::register_attested(&opts, ISSUER, false, Some(&ca)).unwrap();
            let row = finish_registration(&rp, &state, &tamper(&resp), "u1", "Key", policy, NOW)
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            assert_eq!(row.attested, want, "{what}");
            assert_eq!(
                row.aaguid,
                "7a".repeat(16),
                "{what}: the signed AAGUID is stored"
            );
        }
        // The smuggled bytes are what the old raw scan would have read.
        let (opts, _) = start_registration(&rp, "u1", "alice", "Alice", &[], true).unwrap();
        let (_pk, resp) = SoftPasskey::register_attested(&opts, ISSUER, false, Some(&ca)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&smuggle_allowed_aaguid(&resp)).unwrap();
        let att = B64
            .decode(v["response"]["attestationObject"].as_str().unwrap())
            .unwrap();
        let key = b"\x68authData";
        let at = att.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 2;
        assert_eq!(
            &att[at + 37..at + 53],
            Uuid::parse_str(ALLOWED).unwrap().as_bytes()
        );
        assert_eq!(aaguid_of(&att), Some([0x7a; 16]));
    }
}
