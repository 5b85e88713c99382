//! `TPM2_MakeCredential` in software (TPM 2.0 Library Part 1 §24, Part 3
//! §12.6), for an RSA endorsement key: a secret only the TPM that holds the
//! EK's private key can recover, and only for the named key (the AK), with
//! `TPM2_ActivateCredential`.
//!
//! 1. `seed` = 32 random bytes (the size of the EK's nameAlg, SHA-256);
//!    `encrypted_secret` = RSA-OAEP-SHA256(EK, seed, label "IDENTITY\0").
//! 2. `symKey` = KDFa(SHA-256, seed, "STORAGE", name(AK), ∅, 128);
//!    `encIdentity` = AES-128-CFB(symKey, IV 0, TPM2B_DIGEST(secret)).
//! 3. `hmacKey` = KDFa(SHA-256, seed, "INTEGRITY", ∅, ∅, 256);
//!    `outerHMAC` = HMAC-SHA256(hmacKey, encIdentity ‖ name(AK)).
//! 4. `credential_blob` (TPM2B_ID_OBJECT contents) =
//!    TPM2B_DIGEST(outerHMAC) ‖ encIdentity.
//!
//! The tests in `tests/e2e/agent_attest.rs` have a real TPM (swtpm)
//! activate what this makes, and a second TPM fail to.

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};

/// What `TPM2_MakeCredential` returns, as the buffers of its two TPM2Bs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeCredential {
    pub credential_blob: Vec<u8>,
    pub encrypted_secret: Vec<u8>,
}

/// KDFa with HMAC-SHA256 (Part 1 §11.4.10.2): `bits` of output from
/// `HMAC(key, i ‖ label ‖ 0 ‖ context_u ‖ context_v ‖ bits)` for i = 1, 2, ….
pub fn kdfa_sha256(
    key: &[u8],
    label: &str,
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let bytes = bits.div_ceil(8) as usize;
    let mut out = Vec::with_capacity(bytes + 32);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        let mut ctx = hmac::Context::with_key(&k);
        ctx.update(&counter.to_be_bytes());
        ctx.update(label.as_bytes());
        ctx.update(&[0]);
        ctx.update(context_u);
        ctx.update(context_v);
        ctx.update(&bits.to_be_bytes());
        out.extend_from_slice(ctx.sign().as_ref());
        counter += 1;
    }
    out.truncate(bytes);
    out
}

/// MakeCredential for an RSA-2048 EK with SHA-256 nameAlg and AES-128-CFB
/// symmetric (the TCG default EK template). `ek_spki` is the EK's
/// SubjectPublicKeyInfo DER (from its verified certificate); `ak_name` the
/// TPM name of the key the credential is for; `secret` ≤ 32 bytes.
pub fn make_credential_rsa(
    ek_spki: &[u8],
    ak_name: &[u8],
    secret: &[u8],
    seed: &[u8; 32],
) -> Result<MadeCredential, &'static str> {
    if secret.len() > 32 {
        return Err("credential longer than a SHA-256 digest");
    }
    let public = PublicEncryptingKey::from_der(ek_spki).map_err(|_| "EK is not an RSA key")?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| "EK is not an RSA key")?;
    let mut encrypted = vec![0u8; oaep.ciphertext_size()];
    let encrypted_secret = oaep
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            seed,
            &mut encrypted,
            Some(b"IDENTITY\0"),
        )
        .map_err(|_| "RSA-OAEP encryption failed")?
        .to_vec();
    let sym_key = kdfa_sha256(seed, "STORAGE", ak_name, &[], 128);
    let mut enc_identity = (secret.len() as u16).to_be_bytes().to_vec();
    enc_identity.extend_from_slice(secret);
    let key = UnboundCipherKey::new(&AES_128, &sym_key).map_err(|_| "AES key")?;
    EncryptingKey::cfb128(key)
        .and_then(|k| {
            k.less_safe_encrypt(
                &mut enc_identity,
                EncryptionContext::Iv128(FixedLength::from([0u8; 16])),
            )
        })
        .map_err(|_| "AES-CFB encryption failed")?;
    let hmac_key = kdfa_sha256(seed, "INTEGRITY", &[], &[], 256);
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &hmac_key));
    ctx.update(&enc_identity);
    ctx.update(ak_name);
    let outer = ctx.sign();
    let mut credential_blob = (outer.as_ref().len() as u16).to_be_bytes().to_vec();
    credential_blob.extend_from_slice(outer.as_ref());
    credential_blob.extend_from_slice(&enc_identity);
    Ok(MadeCredential {
        credential_blob,
        encrypted_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdfa_is_hmac_counter_mode_and_truncates() {
        // One block: exactly HMAC(key, 1 ‖ "L\0" ‖ u ‖ v ‖ 256), computed
        // independently here.
        let key = [7u8; 32];
        let mut msg = 1u32.to_be_bytes().to_vec();
        msg.extend(b"L\0uv");
        msg.extend(256u32.to_be_bytes());
        let want = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &msg);
        assert_eq!(kdfa_sha256(&key, "L", b"u", b"v", 256), want.as_ref());
        let long = kdfa_sha256(&key, "L", b"u", b"v", 512);
        assert_eq!(long.len(), 64);
        assert_eq!(kdfa_sha256(&key, "L", b"u", b"v", 128).len(), 16);
        assert_ne!(&long[..32], want.as_ref(), "the bit count is in the input");
    }
}
