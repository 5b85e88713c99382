//! The `tollgate-agent` binary driven the way a user and pam_exec drive it,
//! against the reference issuer.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tollgate_agent::grant::{self, GRANT_DIST_ID, GrantClaims};
use tollgate_agent::otp::{self, OtpAlgorithm, OtpParams};
use tollgate_agent::secret::OtpSeed;
use tollgate_agent::signer::SoftwareSigner;
use tollgate_agent::sm2::Sm2SecretKey;

use super::harness::TempDir;
use super::issuer::Issuer;

const PIN: &str = "246810";

pub fn agent(state: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate-agent"));
    cmd.arg("--state-dir").arg(state).args(args);
    cmd.env_remove("TOLLGATE_AGENT_STATE_DIR")
        .env_remove("PAM_TYPE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe early.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// pam_exec `expose_authtok` writes the token followed by a NUL.
fn pam(state: &Path, user: &str, pin: &str) -> Output {
    let mut authtok = pin.as_bytes().to_vec();
    authtok.push(0);
    agent(
        state,
        &["pam"],
        &authtok,
        &[
            ("PAM_USER", user),
            ("PAM_TYPE", "auth"),
            ("PAM_SERVICE", "lightdm"),
        ],
    )
}

fn pin_line(pin: &str) -> Vec<u8> {
    format!("{pin}\n").into_bytes()
}

/// A system enrollment of alice (root, https through the issuer's TLS
/// front): what PAM mode accepts.
pub fn enroll(issuer: &Issuer, state: &Path, storage: &str, env: &[(&str, &str)]) -> Output {
    let front = issuer
        .front
        .as_ref()
        .expect("the HTTPS front (nginx, openssl) for a system enrollment");
    let ca = front.ca.display().to_string();
    let args = [
        "--pin-stdin",
        "enroll",
        "--system",
        "alice",
        "--server",
        &front.url,
        "--ca-file",
        &ca,
        "--code",
        "ENROLL-CODE-1",
        "--storage",
        storage,
    ];
    agent(state, &args, &pin_line(PIN), env)
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            out.insert(
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
    out
}

#[test]
fn enroll_approve_grant_offline_login_upload_revoke() {
    let issuer = Issuer::start();
    let dir = TempDir::new("e2e");
    let state = dir.path();
    let out = enroll(&issuer, state, "software", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("enrolled device d-1 for alice"),
        "{}",
        text(&out)
    );
    // enrollment codes are single use, and a second enrollment is refused
    let again = enroll(&issuer, state, "software", &[]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already enrolled"),
        "{}",
        text(&again)
    );

    let status = agent(state, &["status"], b"", &[]);
    assert!(status.status.success(), "{}", text(&status));
    let s = text(&status);
    assert!(s.contains("key storage:  software (amr swk+pin)"), "{s}");
    assert!(s.contains("no grant"), "{s}");

    // number matching: the wrong number is refused and burns the challenge
    issuer.push_challenge("d-1", "42");
    let wrong = agent(
        state,
        &["--pin-stdin", "approve", "--number", "24"],
        &pin_line(PIN),
        &[],
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("did not accept the answer: rejected"),
        "{}",
        text(&wrong)
    );
    assert!(
        text(&wrong).contains("vcenter from 203.0.113.7 (Beijing, CN)"),
        "{}",
        text(&wrong)
    );
    let none = agent(
        state,
        &["--pin-stdin", "approve", "--number", "42"],
        &pin_line(PIN),
        &[],
    );
    assert!(
        text(&none).contains("no login is waiting"),
        "{}",
        text(&none)
    );
    issuer.push_challenge("d-1", "57");
    let ok = agent(
        state,
        &["--pin-stdin", "approve", "--number", "57"],
        &pin_line(PIN),
        &[],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("approved"));
    // replaying the signed answer is refused
    let body = issuer.state.lock().unwrap().last_answer.clone().unwrap();
    let (code, reply) = issuer.post_raw("/v1/agent/challenges/c-2/answer", None, &body);
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("already answered"), "{reply}");
    {
        let st = issuer.state.lock().unwrap();
        assert!(
            st.audit.contains(&"step_up_wrong_number tx-c-1".to_owned()),
            "{:?}",
            st.audit
        );
        assert!(
            st.audit
                .contains(&"step_up_approved tx-c-2 amr=swk+pin".to_owned()),
            "{:?}",
            st.audit
        );
    }

    // offline grant, then offline login through PAM, then upload
    let g = agent(state, &["--pin-stdin", "grant"], &pin_line(PIN), &[]);
    assert!(g.status.success(), "{}", text(&g));
    let login = pam(state, "alice", PIN);
    assert_eq!(login.status.code(), Some(0), "{}", text(&login));
    let bad_pin = pam(state, "alice", "999999");
    assert_eq!(bad_pin.status.code(), Some(1), "{}", text(&bad_pin));
    assert!(text(&bad_pin).contains("wrong PIN"));
    let other_user = pam(state, "bob", PIN);
    assert_eq!(other_user.status.code(), Some(2), "{}", text(&other_user));
    let s = text(&agent(state, &["status"], b"", &[]));
    assert!(s.contains("1 of 5 offline logins used"), "{s}");
    assert!(s.contains("1 waiting for upload"), "{s}");
    // the wrong PIN above counted against the local limit
    assert!(s.contains("PIN attempts: 9 of 10 left"), "{s}");

    let up = agent(state, &["--pin-stdin", "upload"], &pin_line(PIN), &[]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains(": accepted"), "{}", text(&up));
    assert!(text(&agent(state, &["status"], b"", &[])).contains("0 waiting for upload"));
    // a replayed device-signed request (same nonce) is refused, and so is
    // the same receipt sent twice under a fresh signature
    let (path, auth, body) = issuer.state.lock().unwrap().last_signed.clone().unwrap();
    let (code, reply) = issuer.post_raw(&path, Some(&auth), &body);
    assert_eq!(code, 401, "{reply}");
    assert!(reply.contains("replayed_request"), "{reply}");
    let receipts: tollgate_agent::wire::ReceiptUpload = serde_json::from_slice(&body).unwrap();
    let id = tollgate_agent::receipt::peek_receipt(&receipts.receipts[0])
        .unwrap()
        .receipt_id;
    let receipt_file = state.join("receipts").join(format!("{id}.tgr"));
    std::fs::create_dir_all(state.join("receipts")).unwrap();
    std::fs::write(&receipt_file, &receipts.receipts[0]).unwrap();
    let again = agent(state, &["--pin-stdin", "upload"], &pin_line(PIN), &[]);
    assert!(
        text(&again).contains(": rejected (duplicate)"),
        "{}",
        text(&again)
    );
    assert!(!receipt_file.exists(), "a decided receipt stays queued");
    {
        let st = issuer.state.lock().unwrap();
        assert!(
            st.audit
                .iter()
                .any(|l| l.starts_with("offline_login alice d-1 r-")
                    && l.ends_with("seq=1 flags=[]")),
            "{:?}",
            st.audit
        );
    }

    // OTP from the software store matches what the issuer verifies
    let o = agent(state, &["--pin-stdin", "otp"], &pin_line(PIN), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let code = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let seed = OtpSeed::new(issuer.state.lock().unwrap().otp_seed.clone());
    let params = OtpParams {
        algorithm: OtpAlgorithm::TotpSha1,
        digits: 6,
        period: 30,
    };
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        otp::verify(&seed, params, &code, t, 1).unwrap().is_some(),
        "otp {code}"
    );

    // revocation takes effect at once
    issuer
        .state
        .lock()
        .unwrap()
        .devices
        .get_mut("d-1")
        .unwrap()
        .revoked_at = Some(t);
    issuer.push_challenge("d-1", "11");
    let refused = agent(
        state,
        &["--pin-stdin", "approve", "--number", "11"],
        &pin_line(PIN),
        &[],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("device_revoked"),
        "{}",
        text(&refused)
    );
}

#[test]
fn bad_grants_refuse_offline_login_and_change_nothing() {
    let issuer = Issuer::start();
    let dir = TempDir::new("badgrant");
    let state = dir.path();
    assert!(enroll(&issuer, state, "software", &[]).status.success());
    assert!(
        agent(state, &["--pin-stdin", "grant"], &pin_line(PIN), &[])
            .status
            .success()
    );
    let good = std::fs::read_to_string(state.join("grant.tgg")).unwrap();
    let claims: GrantClaims = {
        let st = issuer.state.lock().unwrap();
        st.grants["g-1"].clone()
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let resign = |c: &GrantClaims| {
        let mut st = issuer.state.lock().unwrap();
        grant::sign_grant(c, &mut st.grant_key).unwrap()
    };
    let expired = resign(&GrantClaims {
        issued_at: now - 7200,
        not_after: now - 60,
        ..claims.clone()
    });
    let other_device = resign(&GrantClaims {
        device_id: "d-9".into(),
        ..claims.clone()
    });
    let mut stranger = SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), GRANT_DIST_ID);
    let foreign = grant::sign_grant(&claims, &mut stranger).unwrap();
    let truncated = good[..good.len() - 7].to_owned();
    let used_up = resign(&GrantClaims {
        max_offline_logins: 0,
        ..claims.clone()
    });
    for (name, token, expect) in [
        ("expired", expired, "expired at"),
        ("wrong device", other_device, "is for device d-9"),
        ("foreign key", foreign, "signed by another key"),
        ("truncated", truncated, "truncated or malformed"),
        ("used up", used_up, "used up"),
        ("garbage", "not a grant".to_owned(), "not a tgg1 token"),
    ] {
        std::fs::write(state.join("grant.tgg"), &token).unwrap();
        let before = snapshot(state);
        let out = pam(state, "alice", PIN);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(expect), "{name}: {}", text(&out));
        assert_eq!(snapshot(state), before, "{name}: files changed");
        assert!(
            !state.join("receipts").exists(),
            "{name}: a receipt was written"
        );
    }
    // and the status command explains it without failing
    let s = text(&agent(state, &["status"], b"", &[]));
    assert!(s.contains("unusable grant"), "{s}");
}

#[test]
fn corrupted_key_store_is_reported_and_kept() {
    let issuer = Issuer::start();
    let dir = TempDir::new("corrupt");
    let state = dir.path();
    assert!(enroll(&issuer, state, "software", &[]).status.success());
    let path = state.join("keystore.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).unwrap();
    for args in [vec!["status"], vec!["--pin-stdin", "otp"]] {
        let out = agent(state, &args, &pin_line(PIN), &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out).contains("is corrupted"), "{}", text(&out));
    }
    let out = pam(state, "alice", PIN);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    issuer
        .state
        .lock()
        .unwrap()
        .codes
        .insert("ENROLL-CODE-1".into(), "alice".into());
    let args = [
        "--pin-stdin",
        "enroll",
        "--insecure-http",
        "--server",
        &issuer.url,
        "--code",
        "ENROLL-CODE-1",
        "--storage",
        "software",
        "--force",
    ];
    let out = agent(state, &args, &pin_line(PIN), &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is corrupted"), "{}", text(&out));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the corrupted store was overwritten"
    );
}

#[test]
fn software_pin_attempts_are_limited() {
    let issuer = Issuer::start();
    let dir = TempDir::new("attempts");
    let state = dir.path();
    assert!(enroll(&issuer, state, "software", &[]).status.success());
    assert!(
        agent(state, &["--pin-stdin", "grant"], &pin_line(PIN), &[])
            .status
            .success()
    );
    for i in 0..10 {
        let out = pam(state, "alice", "000000");
        assert_eq!(out.status.code(), Some(1), "try {i}: {}", text(&out));
    }
    let out = pam(state, "alice", PIN);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("PIN locked after 10 failed attempts"),
        "{}",
        text(&out)
    );
}

#[cfg(feature = "tpm")]
#[test]
fn tpm_enrollment_offline_login_and_sealed_otp() {
    let Some(swtpm) = super::harness::Swtpm::start("tpm_enrollment_offline_login_and_sealed_otp")
    else {
        return;
    };
    let issuer = Issuer::start();
    let dir = TempDir::new("tpm-e2e");
    let state = dir.path();
    let tcti = swtpm.tcti();
    let env = [("TOLLGATE_AGENT_TCTI", tcti.as_str())];
    let out = enroll(&issuer, state, "tpm", &env);
    assert!(out.status.success(), "{}", text(&out));
    let s = text(&agent(state, &["status"], b"", &[]));
    assert!(s.contains("key storage:  tpm (amr hwk+pin)"), "{s}");
    assert!(s.contains("TPM lockout:  0 failed"), "{s}");
    // swtpm has no EK certificate: the EK public key (SPKI, P-256) was sent
    let ek = issuer.state.lock().unwrap().devices["d-1"]
        .ek
        .clone()
        .expect("EK sent");
    assert_eq!(&ek[..4], &[0x30, 0x59, 0x30, 0x13]);
    assert_eq!(
        issuer.state.lock().unwrap().devices["d-1"].storage,
        tollgate_agent::wire::KeyStorage::Tpm
    );
    issuer.push_challenge("d-1", "73");
    let ok = agent(
        state,
        &["--pin-stdin", "approve", "--number", "73"],
        &pin_line(PIN),
        &[],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        issuer
            .state
            .lock()
            .unwrap()
            .audit
            .contains(&"step_up_approved tx-c-1 amr=hwk+pin".to_owned())
    );
    assert!(
        agent(state, &["--pin-stdin", "grant"], &pin_line(PIN), &[])
            .status
            .success()
    );
    assert_eq!(pam(state, "alice", PIN).status.code(), Some(0));
    let wrong = pam(state, "alice", "1357911");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(text(&agent(state, &["status"], b"", &[])).contains("TPM lockout:  1 failed"));
    let o = agent(state, &["--pin-stdin", "otp"], &pin_line(PIN), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let code = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let seed = OtpSeed::new(issuer.state.lock().unwrap().otp_seed.clone());
    let params = OtpParams {
        algorithm: OtpAlgorithm::TotpSha1,
        digits: 6,
        period: 30,
    };
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(otp::verify(&seed, params, &code, t, 1).unwrap().is_some());
}
