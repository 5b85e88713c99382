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
    // Binding more passkeys next to an attested one needs that passkey
    // (the strongest factor held), not the password.
    let csrf = crate::authenticators::reauth_with_passkey(&http, &base, &mut attested).await;
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

/// `tollgate check-config` (the real binary) loads the attestation policy:
/// a CA file that is missing or holds no certificate, or AAGUIDs without
/// CAs, are reported with the file and a non-zero exit.
#[tokio::test]
async fn check_config_reports_a_bad_attestation_policy() {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "tollgate-att-cfg-{}",
        tollgate_authz::secret::random_id(8).replace(['-', '_'], "x")
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let not_pem = dir.0.join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let good = dir.0.join("ca.pem");
    std::fs::write(&good, TestAttestationCa::generate("Root").unwrap().pem()).unwrap();
    let cases = [
        (
            format!("attestation_ca_files = [{:?}]", "/nonexistent/ca.pem"),
            Some("/nonexistent/ca.pem"),
        ),
        (
            format!("attestation_ca_files = [{not_pem:?}]"),
            Some("no PEM certificate"),
        ),
        (
            r#"attestation_aaguids = ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]"#.to_string(),
            Some("needs attestation_ca_files"),
        ),
        (format!("attestation_ca_files = [{good:?}]"), None),
    ];
    for (i, (line, want)) in cases.into_iter().enumerate() {
        let file = dir.0.join(format!("tollgate-{i}.toml"));
        std::fs::write(
            &file,
            format!("version = 1\nissuer = \"https://login.example\"\n[authenticators]\n{line}\n"),
        )
        .unwrap();
        let bin = crate::agent::tollgate_bin();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .arg("check-config")
                .arg(&file)
                .env(
                    "TOLLGATE_MASTER_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                )
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = crate::agent::text(&out);
        match want {
            Some(w) => {
                assert!(!out.status.success(), "{line}: {text}");
                assert!(
                    text.contains(w) && !text.contains("panicked"),
                    "{line}: {text}"
                );
            }
            None => assert!(out.status.success(), "{line}: {text}"),
        }
    }
}
