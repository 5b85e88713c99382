//! The attestation policy over HTTP: only a device-bound passkey whose
//! `packed` attestation chains to a CA in `[authenticators]
//! attestation_ca_files` reaches `phrh`; attestation `none` and an untrusted
//! CA reach `phr`.

use crate::authenticators::{account_session, passkey_sign_in, register_attested, server};
use serde_json::json;
use tollgate::{Db, TempDir, browser, get_text};
use tollgate_authz::login::soft_passkey::{SoftPasskey, TestAttestationCa};

/// Signs in with `pk` alone asking for `acr`: the `acr` reached, or the error.
async fn sign_in(base: &str, pk: &mut SoftPasskey, acr: &str) -> String {
    match passkey_sign_in(base, pk, &format!("&acr_values={acr}")).await {
        Ok(claims) => {
            assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
            claims["acr"].as_str().unwrap_or_default().to_string()
        }
        Err(e) => e,
    }
}

#[tokio::test]
async fn only_attested_device_bound_passkeys_reach_phrh() {
    let trusted = TestAttestationCa::generate("Tollgate Test Attestation Root").unwrap();
    let untrusted = TestAttestationCa::generate("Somebody Else's Root").unwrap();
    let dir = TempDir(std::env::temp_dir().join(format!(
        "tollgate-att-{}",
        tollgate_authz::secret::random_id(8).replace(['-', '_'], "x")
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let ca_file = dir.0.join("attestation-ca.pem");
    std::fs::write(&ca_file, trusted.pem()).unwrap();
    let Some(srv) = server(Db::Sqlite, |c| {
        c.authenticators.attestation_ca_files = vec![ca_file.clone()];
    })
    .await
    else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let csrf = account_session(&http, &base).await;
    let mut attested = register_attested(&http, &base, &csrf, false, Some(&trusted)).await;
    let mut plain = register_attested(&http, &base, &csrf, false, None).await;
    let mut foreign = register_attested(&http, &base, &csrf, false, Some(&untrusted)).await;
    let uid = srv.user_id("alice").await;
    let flags: Vec<bool> = srv
        .app
        .store
        .passkeys(&uid)
        .await
        .unwrap()
        .iter()
        .map(|p| p.attested)
        .collect();
    assert_eq!(flags.iter().filter(|a| **a).count(), 1, "{flags:?}");
    let page = get_text(&http, &format!("{base}/account")).await;
    assert!(page.contains("device-bound, attested"), "{page}");

    assert_eq!(sign_in(&base, &mut attested, "phrh").await, "phrh");
    // Attestation `none`: fine for phr, never phrh.
    assert_eq!(
        sign_in(&base, &mut plain, "phrh").await,
        "unmet_authentication_requirements"
    );
    assert_eq!(sign_in(&base, &mut plain, "phr").await, "phr");
    // A valid packed attestation from a CA the policy does not trust.
    assert_eq!(
        sign_in(&base, &mut foreign, "phrh").await,
        "unmet_authentication_requirements"
    );
    assert_eq!(sign_in(&base, &mut foreign, "phr").await, "phr");
}
