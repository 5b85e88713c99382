//! TPM tests against a fresh swtpm per test (the DA lockout is TPM-wide).

use std::process::Command;

use tollgate_agent::agent::tpm::{Tpm, TpmError};
use tollgate_agent::secret::Pin;
use tollgate_agent::sm2::{self, DEFAULT_DIST_ID};

use super::harness::{Swtpm, require_tool, run};
use super::openssl::openssl_verifies;

fn pin(s: &str) -> Pin {
    Pin::new(s.to_owned())
}

#[test]
fn tpm_sm2_key_signs_and_openssl_verifies() {
    let Some(swtpm) = Swtpm::start("tpm_sm2_key_signs_and_openssl_verifies") else {
        return;
    };
    let mut tpm = Tpm::open(&swtpm.tcti()).unwrap();
    let (blob, public) = tpm.create_sm2_key(&pin("135790")).unwrap();
    assert_eq!(Tpm::public_of(&blob).unwrap(), public);
    let msg = b"tollgate-approve-v1\nd-1\nc-1\ntx-1\nbm9uY2U\n42\napprove";
    let e = sm2::message_digest(DEFAULT_DIST_ID, &public, msg).unwrap();
    let sig = tpm.sign_sm2(&blob, &pin("135790"), &e).unwrap();
    sm2::verify(&public, DEFAULT_DIST_ID, msg, &sig).unwrap();
    // OpenSSL recomputes Z and e from the message itself
    assert!(openssl_verifies(
        &public.to_spki_pem(),
        DEFAULT_DIST_ID,
        msg,
        &sig.to_der()
    ));
    assert!(!openssl_verifies(
        &public.to_spki_pem(),
        DEFAULT_DIST_ID,
        b"other",
        &sig.to_der()
    ));
}

#[test]
fn tpm_refuses_wrong_pin_and_seals() {
    let Some(swtpm) = Swtpm::start("tpm_refuses_wrong_pin_and_seals") else {
        return;
    };
    let mut tpm = Tpm::open(&swtpm.tcti()).unwrap();
    let (blob, _) = tpm.create_sm2_key(&pin("1111")).unwrap();
    assert_eq!(
        tpm.sign_sm2(&blob, &pin("1112"), &[7u8; 32]),
        Err(TpmError::WrongPin)
    );
    let sealed = tpm.seal(b"otp seed bytes", &pin("2222")).unwrap();
    assert_eq!(
        tpm.unseal(&sealed, &pin("2222")).unwrap().as_slice(),
        b"otp seed bytes"
    );
    assert_eq!(tpm.unseal(&sealed, &pin("2223")), Err(TpmError::WrongPin));
}

#[test]
fn tpm_lockout_engages_after_configured_failures() {
    let test = "tpm_lockout_engages_after_configured_failures";
    if !require_tool("tpm2_dictionarylockout", "tpm2-tools", test) {
        return;
    }
    let Some(swtpm) = Swtpm::start(test) else {
        return;
    };
    run(Command::new("tpm2_dictionarylockout")
        .args([
            "--setup-parameters",
            "--max-tries=4",
            "--recovery-time=3600",
            "--lockout-recovery-time=3600",
        ])
        .env("TPM2TOOLS_TCTI", swtpm.tcti()));
    let mut tpm = Tpm::open(&swtpm.tcti()).unwrap();
    let da = tpm.da_status().unwrap();
    assert_eq!(
        (da.max_tries, da.failed_tries, da.recovery_seconds),
        (4, 0, 3600)
    );
    let (blob, _) = tpm.create_sm2_key(&pin("8642")).unwrap();
    let e = [9u8; 32];
    tpm.sign_sm2(&blob, &pin("8642"), &e).unwrap();
    for i in 1..=4 {
        assert_eq!(
            tpm.sign_sm2(&blob, &pin("0000"), &e),
            Err(TpmError::WrongPin),
            "try {i}"
        );
    }
    assert_eq!(tpm.da_status().unwrap().failed_tries, 4);
    // now even the right PIN is refused: the TPM is in lockout
    assert_eq!(tpm.sign_sm2(&blob, &pin("8642"), &e), Err(TpmError::Locked));
}
