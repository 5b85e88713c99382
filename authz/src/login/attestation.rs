//! The attestation policy: which device-bound passkeys count as
//! hardware-bound (`phrh`).
//!
//! A passkey registered with attestation `none` (or self attestation, or a
//! chain no configured CA vouches for) proves possession of *some* key, so it
//! reaches `aal2`/`phr`. Only a device-bound passkey (backup-eligible flag
//! clear) whose attestation statement verified at registration *and* chains
//! to a CA in `[authenticators] attestation_ca_files` — with an AAGUID in
//! `attestation_aaguids` when that list is not empty — is stored as
//! `attested` and reaches `phrh`. With no CA configured nothing is attested:
//! an AAGUID alone is self-asserted by the authenticator and proves nothing.

use crate::config::AuthenticatorConfig;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};
use webauthn_rs::prelude::{AttestationCaList, Credential, Uuid};

/// The loaded policy: trusted attestation roots and the AAGUID allow-list.
#[derive(Debug, Clone, Default)]
pub struct AttestationPolicy {
    cas: AttestationCaList,
    aaguids: BTreeSet<Uuid>,
}

impl AttestationPolicy {
    /// Reads the CA files (PEM, one or more certificates each) and parses
    /// the AAGUIDs. Errors name the file or value at fault.
    pub fn load(cfg: &AuthenticatorConfig) -> Result<AttestationPolicy, String> {
        let mut pems = Vec::new();
        for path in &cfg.attestation_ca_files {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "[authenticators] attestation_ca_files: {}: {e}",
                    path.display()
                )
            })?;
            pems.push((path.display().to_string(), text));
        }
        let named: Vec<(&str, &str)> = pems.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        AttestationPolicy::from_pems(&named, &cfg.attestation_aaguids)
    }

    /// Builds the policy from PEM texts (`(name for errors, text)`) and
    /// AAGUID strings.
    pub fn from_pems(pems: &[(&str, &str)], aaguids: &[String]) -> Result<Self, String> {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        let mut cas = AttestationCaList::default();
        for (name, text) in pems {
            let blocks: Vec<&str> = text.split(BEGIN).skip(1).collect();
            if blocks.is_empty() {
                return Err(format!(
                    "[authenticators] attestation_ca_files: {name}: no PEM certificate in the file"
                ));
            }
            for block in blocks {
                let pem = format!("{BEGIN}{block}");
                let one = AttestationCaList::try_from(pem.as_bytes()).map_err(|e| {
                    format!("[authenticators] attestation_ca_files: {name}: not a certificate: {e}")
                })?;
                cas.union(&one);
            }
        }
        let aaguids = aaguids
            .iter()
            .map(|a| {
                Uuid::parse_str(a.trim()).map_err(|_| {
                    format!("[authenticators] attestation_aaguids: {a:?} is not a UUID")
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        if !aaguids.is_empty() && cas.is_empty() {
            return Err(
                "[authenticators] attestation_aaguids needs attestation_ca_files: \
                 an AAGUID is only trustworthy inside a verified attestation"
                    .into(),
            );
        }
        Ok(AttestationPolicy { cas, aaguids })
    }

    /// Whether any passkey can be attested (registration then asks the
    /// authenticator for `direct` attestation).
    pub fn enabled(&self) -> bool {
        !self.cas.is_empty()
    }

    /// Whether a freshly registered credential is attested under this
    /// policy at `now` (Unix seconds). A synced (backup-eligible) credential
    /// never is: it can reach `phr`, never `phrh`.
    pub fn attests(&self, cred: &Credential, aaguid: [u8; 16], now: i64) -> bool {
        if !self.enabled() || cred.backup_eligible {
            return false;
        }
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(now.max(0) as u64);
        let chained = matches!(
            webauthn_rs_core::attestation::verify_attestation_ca_chain(
                &cred.attestation.data,
                &self.cas,
                at,
            ),
            Ok(Some(_))
        );
        chained && (self.aaguids.is_empty() || self.aaguids.contains(&Uuid::from_bytes(aaguid)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::Method;
    use crate::login::passkey::*;
    use crate::login::soft_passkey::{SoftPasskey, TestAttestationCa};

    const ISSUER: &str = "http://localhost:8080";
    const NOW: i64 = 1_767_225_600;
    const SOFT_AAGUID: &str = "7a7a7a7a-7a7a-7a7a-7a7a-7a7a7a7a7a7a";

    /// Registers a soft passkey (attested by `signer` if any) under `policy`
    /// and signs in with it once: (row.attested, method proven).
    fn register(
        policy: &AttestationPolicy,
        signer: Option<&TestAttestationCa>,
        synced: bool,
    ) -> (bool, Method) {
        let rp = relying_party(ISSUER, "Tollgate").unwrap();
        let (opts, state) =
            start_registration(&rp, "u1", "alice", "Alice", &[], policy.enabled()).unwrap();
        assert_eq!(
            opts.contains("\"attestation\":\"direct\""),
            policy.enabled(),
            "{opts}"
        );
        let (mut pk, resp) = SoftPasskey::register_attested(&opts, ISSUER, synced, signer).unwrap();
        let row = finish_registration(&rp, &state, &resp, "u1", "Key", policy, NOW).unwrap();
        let rows = [row.clone()];
        let (opts, state) = start_authentication(&rp, Some(&rows)).unwrap();
        let resp = pk.assert(&opts, ISSUER).unwrap();
        let ok = finish_authentication(&rp, &state, &resp, &row).unwrap();
        (row.attested, ok.method)
    }

    #[test]
    fn only_device_bound_passkeys_chaining_to_a_trusted_ca_are_attested() {
        let trusted = TestAttestationCa::generate("Trusted Root").unwrap();
        let other = TestAttestationCa::generate("Other Root").unwrap();
        let policy = AttestationPolicy::from_pems(&[("ca.pem", &trusted.pem())], &[]).unwrap();
        let allow_soft =
            AttestationPolicy::from_pems(&[("ca.pem", &trusted.pem())], &[SOFT_AAGUID.into()])
                .unwrap();
        let allow_other = AttestationPolicy::from_pems(
            &[("ca.pem", &trusted.pem())],
            &["00000000-0000-0000-0000-000000000001".into()],
        )
        .unwrap();
        let none = AttestationPolicy::default();
        // (what, policy, attestation signer, synced, attested?)
        let cases: Vec<(
            &str,
            &AttestationPolicy,
            Option<&TestAttestationCa>,
            bool,
            bool,
        )> = vec![
            (
                "trusted CA, device-bound",
                &policy,
                Some(&trusted),
                false,
                true,
            ),
            ("trusted CA, synced", &policy, Some(&trusted), true, false),
            ("untrusted CA", &policy, Some(&other), false, false),
            ("attestation none", &policy, None, false, false),
            ("no policy", &none, Some(&trusted), false, false),
            ("AAGUID allowed", &allow_soft, Some(&trusted), false, true),
            (
                "AAGUID not allowed",
                &allow_other,
                Some(&trusted),
                false,
                false,
            ),
        ];
        for (what, policy, signer, synced, want) in cases {
            let (attested, method) = register(policy, signer, synced);
            assert_eq!(attested, want, "{what}");
            assert_eq!(
                method,
                Method::Passkey {
                    user_verified: true,
                    backup_eligible: synced,
                    attested: want,
                },
                "{what}"
            );
        }
    }

    /// (PEM files as (name, text), AAGUIDs, expected part of the error)
    type BadPolicy<'a> = (Vec<(&'a str, String)>, Vec<String>, &'a str);

    #[test]
    fn bad_policies_are_clear_errors() {
        let ca = TestAttestationCa::generate("Root").unwrap();
        let cases: Vec<BadPolicy> = vec![
            (
                vec![("a.pem", "hello".into())],
                vec![],
                "a.pem: no PEM certificate",
            ),
            (
                vec![(
                    "b.pem",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
                )],
                vec![],
                "b.pem: not a certificate",
            ),
            (
                vec![("c.pem", ca.pem())],
                vec!["nope".into()],
                "\"nope\" is not a UUID",
            ),
            (
                vec![],
                vec![SOFT_AAGUID.into()],
                "needs attestation_ca_files",
            ),
        ];
        for (pems, aaguids, want) in cases {
            let pems: Vec<(&str, &str)> = pems.iter().map(|(n, t)| (*n, t.as_str())).collect();
            let err = AttestationPolicy::from_pems(&pems, &aaguids).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        let two = format!(
            "{}{}",
            ca.pem(),
            TestAttestationCa::generate("R2").unwrap().pem()
        );
        assert!(
            AttestationPolicy::from_pems(&[("two.pem", &two)], &[])
                .unwrap()
                .enabled()
        );
        let missing = AuthenticatorConfig {
            attestation_ca_files: vec!["/nonexistent/ca.pem".into()],
            ..AuthenticatorConfig::default()
        };
        let err = AttestationPolicy::load(&missing).unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
