//! TPM key attestation against the real issuer (issue 14): a device key is
//! hardware (`tpm`, `hwk`, `phrh`) only after the issuer verified the
//! TPM's EK certificate, activated a credential for the AK and checked the
//! AK's certification of the SM2 key. Everything the agent merely claims
//! stays software (at most `phr`), and each forged piece of evidence is
//! refused with its own error code and an audit record.
//!
//! TPMs are swtpm instances; "attestable" ones are manufactured with an
//! EK certificate by swtpm's local CA, which the issuer is configured to
//! trust (`[agent] tpm_ca_files`).

use tollgate::{Db, PASSWORD, SECRET, TestServer, browser, csrf_of, login, param};
use tollgate_agent::agent::store::{DeviceKey, TpmBlob};
use tollgate_agent::agent::tpm::Tpm;
use tollgate_agent::b64;
use tollgate_agent::secret::Pin;
use tollgate_agent::signed;
use tollgate_agent::signer::{SoftwareSigner, sign_message};
use tollgate_agent::sm2::{DEFAULT_DIST_ID, Sm2SecretKey};
use tollgate_agent::wire::{
    ApprovalRequest, Decision, EnrollAttestRequest, EnrollAttestResponse, EnrollBeginResponse,
    EnrollFinishRequest, KeyAttestation, KeyStorage, PendingChallenges,
};

use crate::agent::{
    VERIFIER, agent, agent_bin, approve, audit_kinds, authorize_url, device_auth, device_form,
    enroll_code, number_of, pin_line, temp_state, text,
};
use crate::oidc_flow::jwt_payload;
use crate::swtpm::{EkCa, Swtpm, have_swtpm};

/// A server that trusts `ca` (if any) for EK certificates.
async fn server(db: Db, ca: Option<&EkCa>) -> Option<TestServer> {
    server_with(db, ca, false).await
}

/// [`server`], with `[agent] require_attestation` set to `required`.
async fn server_with(db: Db, ca: Option<&EkCa>, required: bool) -> Option<TestServer> {
    let files = ca.map(|c| vec![c.issuer_cert()]).unwrap_or_default();
    let srv = TestServer::start(db, |c| {
        c.policy.files = vec![tollgate::allow_all_policy()];
        c.agent.tpm_ca_files = files;
        c.agent.require_attestation = required;
    })
    .await?;
    srv.add_client("rp", |_| {}).await;
    srv.add_user("alice", &[]).await;
    Some(srv)
}

/// Starts a step-up to `acr` in `http`: (login path, page).
async fn step_up_to(http: &reqwest::Client, base: &str, acr: &str) -> (String, String) {
    let r = http
        .get(authorize_url(base, &format!("&acr_values={acr}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    let page = http
        .get(format!("{base}{loc}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    (loc, page)
}

/// Finishes the approved step-up and returns the ID token's claims.
async fn id_token_after(
    http: &reqwest::Client,
    base: &str,
    loc: &str,
    csrf: &str,
) -> serde_json::Value {
    let r = device_form(http, base, loc, csrf, "continue").await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let back = r.headers()["location"].to_str().expect("loc").to_string();
    let code = param(&back, "code").expect("code after step-up");
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    jwt_payload(tokens["id_token"].as_str().expect("id_token"))
}

/// The real agent enrolls a TPM key on `tpm`; then a step-up asking for
/// `acr` is approved with it. Returns (device row, ID token claims).
async fn enroll_and_approve(
    srv: &TestServer,
    tpm: &Swtpm,
    acr: &str,
) -> (tollgate_authz::store::DeviceRow, serde_json::Value) {
    let _ = agent_bin();
    let base = srv.base.clone();
    let http = browser();
    let dir = temp_state();
    let state = dir.0.as_path();
    let code = enroll_code(&http, &base).await;
    let tcti = tpm.tcti();
    let args = [
        "--pin-stdin",
        "enroll",
        "--insecure-http",
        "--server",
        &base,
        "--code",
        &code,
        "--storage",
        "tpm",
    ];
    let started = std::time::Instant::now();
    let out = agent(state, &args, &pin_line(), &[("TOLLGATE_AGENT_TCTI", &tcti)]).await;
    // docs/agent.md quotes this (a measurement, not a bound).
    eprintln!(
        "enrollment on swtpm (agent process, TPM key, attestation round trips): {} ms",
        started.elapsed().as_millis()
    );
    assert!(out.status.success(), "{}", text(&out));
    let devices = srv.app.store.devices(None).await.expect("devices");
    let device = devices.last().expect("a device").clone();
    assert!(text(&out).contains(&device.attestation), "{}", text(&out));
    let (loc, page) = step_up_to(&http, &base, acr).await;
    let csrf = csrf_of(&page);
    let n = number_of(&page).expect("number on the page");
    let out = approve(state, &n).await;
    assert!(out.status.success(), "{}", text(&out));
    (
        device.clone(),
        id_token_after(&http, &base, &loc, &csrf).await,
    )
}

/// The measured attack of issue 14: the real agent with a key in a bare
/// swtpm (no EK certificate: nothing about it can be verified) was recorded
/// as `tpm` and its approval gave `acr: phrh` with `hwk`. Now it is
/// software, and the device list says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unattested_tpm_key_is_recorded_as_software() {
    if !have_swtpm() {
        return;
    }
    let ca = EkCa::new();
    let _attestable = Swtpm::start(Some(&ca)); // makes the CA the server trusts
    let bare = Swtpm::start(None);
    let Some(srv) = server(Db::Sqlite, Some(&ca)).await else {
        return;
    };
    let (device, id) = enroll_and_approve(&srv, &bare, "phr").await;
    assert_eq!(device.key_storage, "software");
    assert_eq!(device.claimed_storage.as_deref(), Some("tpm"));
    assert!(
        device.attestation.contains("not attested"),
        "{}",
        device.attestation
    );
    assert_eq!(id["acr"], "phr", "{id}");
    assert_eq!(
        id["amr"],
        serde_json::json!(["pwd", "swk", "pin", "mfa"]),
        "{id}"
    );
}

/// A real TPM key, attested: recorded as `tpm`, and an approval reaches
/// `phrh` with `hwk`. SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attested_tpm_key_reaches_phrh() {
    attested_scenario(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attested_tpm_key_reaches_phrh_on_postgres() {
    attested_scenario(Db::Postgres).await;
}

async fn attested_scenario(db: Db) {
    if !have_swtpm() {
        return;
    }
    let ca = EkCa::new();
    let tpm = Swtpm::start(Some(&ca));
    let Some(srv) = server(db, Some(&ca)).await else {
        return;
    };
    let (device, id) = enroll_and_approve(&srv, &tpm, "phrh").await;
    assert_eq!(device.key_storage, "tpm", "{}", device.attestation);
    assert!(
        device.attestation.starts_with("attested: "),
        "{}",
        device.attestation
    );
    assert_eq!(id["acr"], "phrh", "{id}");
    assert_eq!(
        id["amr"],
        serde_json::json!(["pwd", "hwk", "pin", "mfa"]),
        "{id}"
    );
    let audit = audit_kinds(&srv).await;
    assert!(
        audit.iter().any(|(k, _)| k == "device.attestation_started"),
        "{audit:?}"
    );
}

async fn post<B: serde::Serialize + ?Sized>(
    base: &str,
    path: &str,
    body: &B,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A software SM2 key whose agent claims `tpm` (no TPM at all): recorded
/// as software, its approval gives `swk` and `phr`, never `hwk`/`phrh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_key_claiming_tpm_stays_software() {
    let Some(srv) = server(Db::Sqlite, None).await else {
        return;
    };
    let base = srv.base.clone();
    let http = browser();
    let back = login(&http, &base, &authorize_url(&base, ""), "alice", PASSWORD).await;
    assert!(param(&back, "code").is_some(), "{back}");
    let code: serde_json::Value =
        tollgate::account_post(&http, &base, "/account/devices/enroll-code")
            .await
            .json()
            .await
            .expect("json");
    let (_, b) = post(
        &base,
        "/v1/agent/enroll/begin",
        &serde_json::json!({"code": code["code"]}),
    )
    .await;
    let b: EnrollBeginResponse = serde_json::from_value(b).expect("begin");
    let secret = Sm2SecretKey::generate().expect("key");
    let public = secret.public_key().clone();
    let mut signer = SoftwareSigner::new(secret, DEFAULT_DIST_ID);
    let public_key = b64::encode(&public.to_spki_der());
    let msg = signed::enroll_bytes(
        &b.enrollment_id,
        &b.challenge,
        &public_key,
        DEFAULT_DIST_ID,
        KeyStorage::Tpm,
    )
    .expect("proof");
    let req = EnrollFinishRequest {
        enrollment_id: b.enrollment_id.clone(),
        public_key,
        dist_id: DEFAULT_DIST_ID.into(),
        key_storage: KeyStorage::Tpm,
        ek: Some(b64::encode(b"an EK, trust me")),
        hostname: "liar".into(),
        signature: b64::encode(&sign_message(&mut signer, &msg).expect("sig").to_der()),
        otp_algorithm: None,
        attestation: None,
    };
    let (status, body) = post(&base, "/v1/agent/enroll/finish", &req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key_storage"], "software", "{body}");
    let device_id = body["device_id"].as_str().expect("device").to_string();
    let listed: serde_json::Value = http
        .get(format!("{base}/account/devices"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let text = listed.to_string();
    assert!(
        text.contains("not attested: the agent claimed tpm"),
        "{text}"
    );

    // Approve a step-up with it, by hand (the agent's own requests).
    let (loc, page) = step_up_to(&http, &base, "phr").await;
    let csrf = csrf_of(&page);
    let n = number_of(&page).expect("number");
    let path = "/v1/agent/challenges/pending";
    let auth = device_auth(&mut signer, &device_id, path, b"{}");
    let pending: PendingChallenges = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("authorization", auth)
        .body("{}")
        .send()
        .await
        .expect("pending")
        .json()
        .await
        .expect("json");
    let ch = &pending.challenges[0];
    let mut answer = ApprovalRequest {
        device_id: device_id.clone(),
        challenge_id: ch.challenge_id.clone(),
        transaction_id: ch.transaction_id.clone(),
        nonce: ch.nonce.clone(),
        number: n,
        decision: Decision::Approve,
        signature: String::new(),
    };
    let sig = sign_message(
        &mut signer,
        &signed::approval_bytes(&answer).expect("bytes"),
    )
    .expect("sig");
    answer.signature = b64::encode(&sig.to_der());
    let (status, body) = post(
        &base,
        &format!("/v1/agent/challenges/{}/answer", ch.challenge_id),
        &answer,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = id_token_after(&http, &base, &loc, &csrf).await;
    assert_eq!(id["acr"], "phr", "{id}");
    assert_eq!(
        id["amr"],
        serde_json::json!(["pwd", "swk", "pin", "mfa"]),
        "{id}"
    );
}

/// How a refusal row forges the evidence of one enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forgery {
    /// The EK certificate of a TPM made by a CA the issuer does not trust.
    UntrustedEk,
    /// TPM A's EK certificate and EK, but an AK created in TPM B: the
    /// credential is sealed to A's EK, so B cannot activate it (and A
    /// holds no AK of that name); the agent can only guess the secret.
    AkOfAnotherTpm,
    /// The activated AK is swapped for a second AK of the same TPM when
    /// certifying the SM2 key.
    SwappedAk,
    /// The AK certifies another SM2 key of the TPM; the submitted key
    /// public is the enrolled one.
    OtherKeyCertified,
    /// The certification carries a qualifying data other than this
    /// enrollment's challenge.
    StaleChallenge,
    /// The attest round trip is run a second time for the enrollment.
    SecondActivation,
    /// The evidence of an earlier, successful enrollment of the same key
    /// is replayed in a new enrollment.
    ReplayedEvidence,
}

/// The TPMs of the refusal table: A and B manufactured by the trusted CA,
/// `foreign` by another one.
struct Tpms {
    a: Swtpm,
    b: Swtpm,
    foreign: Swtpm,
}

/// Starts an enrollment for alice. The code comes from the issuer's own
/// code path: alice holds a TPM device after the first enrollment, and a
/// further code through `/account/devices/enroll-code` would need a
/// sign-in with it (that rule is `hygiene::a_device_enrollment_code_needs_
/// the_strongest_factor_held`); these tests are about what follows.
async fn begin_enrollment(srv: &TestServer) -> EnrollBeginResponse {
    let base = srv.base.as_str();
    let code = crate::agent::issued_code(srv, "alice").await;
    let (status, b) = post(
        base,
        "/v1/agent/enroll/begin",
        &serde_json::json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    serde_json::from_value(b).expect("begin")
}

fn open(tpm: &Swtpm) -> Tpm {
    Tpm::open(&tpm.tcti()).expect("open swtpm")
}

/// The attest request for `ek` (its certificate and EK public) and `ak`.
fn attest_request(
    begin: &EnrollBeginResponse,
    ek: &mut Tpm,
    ak_public: &[u8],
) -> EnrollAttestRequest {
    EnrollAttestRequest {
        enrollment_id: begin.enrollment_id.clone(),
        ek_certificate: b64::encode(&ek.ek_certificate().expect("EK certificate")),
        ek_public: b64::encode(&ek.ek_public().expect("EK public")),
        ak_public: b64::encode(ak_public),
    }
}

/// Finishes `begin` with the SM2 key `key` of TPM A and `attestation`.
async fn finish_with(
    base: &str,
    tpms: &Tpms,
    begin: &EnrollBeginResponse,
    key: &(TpmBlob, tollgate_agent::sm2::Sm2PublicKey),
    attestation: KeyAttestation,
) -> (u16, serde_json::Value) {
    let public_key = b64::encode(&key.1.to_spki_der());
    let msg = signed::enroll_bytes(
        &begin.enrollment_id,
        &begin.challenge,
        &public_key,
        DEFAULT_DIST_ID,
        KeyStorage::Tpm,
    )
    .expect("proof");
    let mut signer = DeviceKey::Tpm {
        tpm: open(&tpms.a),
        blob: key.0.clone(),
        pin: Pin::new(crate::agent::PIN.into()),
        public: key.1.clone(),
        dist_id: DEFAULT_DIST_ID.into(),
    };
    let signature = b64::encode(&sign_message(&mut signer, &msg).expect("sig").to_der());
    let req = EnrollFinishRequest {
        enrollment_id: begin.enrollment_id.clone(),
        public_key,
        dist_id: DEFAULT_DIST_ID.into(),
        key_storage: KeyStorage::Tpm,
        ek: None,
        hostname: "forger".into(),
        signature,
        otp_algorithm: None,
        attestation: Some(attestation),
    };
    post(base, "/v1/agent/enroll/finish", &req).await
}

/// Runs one enrollment of an SM2 key in TPM A with `forgery` applied and
/// returns the issuer's first refusal (or the finish answer). `earlier`:
/// the evidence of a previous enrollment of the same key, for replays.
async fn forged_enrollment(
    srv: &TestServer,
    tpms: &Tpms,
    key: &(TpmBlob, tollgate_agent::sm2::Sm2PublicKey),
    forgery: Option<Forgery>,
    earlier: Option<&KeyAttestation>,
) -> ((u16, serde_json::Value), Option<KeyAttestation>) {
    let pin = Pin::new(crate::agent::PIN.into());
    let base = srv.base.as_str();
    let begin = begin_enrollment(srv).await;
    let mut a = open(&tpms.a);
    let (ak, ak_public) = match forgery {
        Some(Forgery::AkOfAnotherTpm) => open(&tpms.b).create_ak().expect("AK in B"),
        _ => a.create_ak().expect("AK"),
    };
    let req = match forgery {
        Some(Forgery::UntrustedEk) => attest_request(&begin, &mut open(&tpms.foreign), &ak_public),
        _ => attest_request(&begin, &mut a, &ak_public),
    };
    let (status, body) = post(base, "/v1/agent/enroll/attest", &req).await;
    if status != 200 {
        return ((status, body), None);
    }
    if forgery == Some(Forgery::SecondActivation) {
        return (post(base, "/v1/agent/enroll/attest", &req).await, None);
    }
    let made: EnrollAttestResponse = serde_json::from_value(body).expect("attest response");
    let blob = b64::decode(&made.credential_blob).expect("blob");
    let sealed = b64::decode(&made.encrypted_secret).expect("secret");
    let activated = if forgery == Some(Forgery::AkOfAnotherTpm) {
        // The credential is TPM A's: B holds the AK but not the EK.
        let in_b = open(&tpms.b).activate_credential(&ak, &blob, &sealed);
        assert!(in_b.is_err(), "TPM B activated a credential made for A");
        tollgate_authz::secret::random_bytes(32)
    } else {
        a.activate_credential(&ak, &blob, &sealed)
            .expect("activate")
            .to_vec()
    };
    let nonce = match forgery {
        Some(Forgery::StaleChallenge) => b"an older enrollment's challenge".to_vec(),
        _ => b64::decode(&begin.challenge).expect("challenge"),
    };
    let certifier = match forgery {
        Some(Forgery::SwappedAk) => a.create_ak().expect("second AK").0,
        _ => ak.clone(),
    };
    let certified = match forgery {
        Some(Forgery::OtherKeyCertified) => a.create_sm2_key(&pin).expect("other key").0,
        _ => key.0.clone(),
    };
    let (info, sig) = match forgery {
        // AkOfAnotherTpm: A cannot certify with B's AK; any certification
        // of A would do, the secret is already wrong.
        Some(Forgery::AkOfAnotherTpm) => {
            let (own, _) = a.create_ak().expect("AK in A");
            a.certify(&certified, &pin, &own, &nonce).expect("certify")
        }
        _ => a
            .certify(&certified, &pin, &certifier, &nonce)
            .expect("certify"),
    };
    let evidence = KeyAttestation {
        activated_secret: b64::encode(&activated),
        key_public: key.0.public.clone(),
        certify_info: b64::encode(&info),
        certify_signature: b64::encode(&sig),
    };
    let sent = match (forgery, earlier) {
        (Some(Forgery::ReplayedEvidence), Some(old)) => old.clone(),
        _ => evidence.clone(),
    };
    drop(a);
    (
        finish_with(base, tpms, &begin, key, sent).await,
        Some(evidence),
    )
}

/// Each forged piece of evidence is refused with its own error code and
/// an audit record, and no device is stored; a genuine enrollment of the
/// same key on the same issuer succeeds (the table is not refusing
/// everything). SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_attestations_are_refused() {
    forged_attestations_scenario(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_attestations_are_refused_on_postgres() {
    forged_attestations_scenario(Db::Postgres).await;
}

async fn forged_attestations_scenario(db: Db) {
    if !have_swtpm() {
        return;
    }
    let ca = EkCa::new();
    let other_ca = EkCa::new();
    let tpms = Tpms {
        a: Swtpm::start(Some(&ca)),
        b: Swtpm::start(Some(&ca)),
        foreign: Swtpm::start(Some(&other_ca)),
    };
    let Some(srv) = server(db, Some(&ca)).await else {
        return;
    };
    let key = open(&tpms.a)
        .create_sm2_key(&Pin::new(crate::agent::PIN.into()))
        .expect("SM2 key in A");

    // The genuine enrollment first: its evidence is replayed below.
    let ((status, body), genuine) = forged_enrollment(&srv, &tpms, &key, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key_storage"], "tpm", "{body}");
    let genuine = genuine.expect("evidence");
    let devices = srv.app.store.devices(None).await.expect("devices").len();

    for (forgery, code) in [
        (Forgery::UntrustedEk, "untrusted_ek"),
        (Forgery::AkOfAnotherTpm, "activation_failed"),
        (Forgery::SwappedAk, "bad_certification_signature"),
        (Forgery::OtherKeyCertified, "name_mismatch"),
        (Forgery::StaleChallenge, "stale_certification"),
        (Forgery::SecondActivation, "attestation_replayed"),
        (Forgery::ReplayedEvidence, "activation_failed"),
    ] {
        let ((status, body), _) =
            forged_enrollment(&srv, &tpms, &key, Some(forgery), Some(&genuine)).await;
        assert_eq!(status, 400, "{forgery:?}: {body}");
        assert_eq!(body["error"], code, "{forgery:?}: {body}");
        let audit = audit_kinds(&srv).await;
        assert!(
            audit
                .iter()
                .any(|(k, d)| k == "device.attestation_refused" && d["error"] == code),
            "{forgery:?}: {audit:?}"
        );
    }
    assert_eq!(
        srv.app.store.devices(None).await.expect("devices").len(),
        devices,
        "a forged attestation stored a device"
    );
}

/// The real agent on a TPM whose EK certificate comes from a CA the
/// operator did not configure: enrollment fails with the issuer's reason,
/// nothing is stored on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reports_an_untrusted_ek_certificate() {
    if !have_swtpm() {
        return;
    }
    let trusted = EkCa::new();
    let _made = Swtpm::start(Some(&trusted));
    let other = EkCa::new();
    let tpm = Swtpm::start(Some(&other));
    let Some(srv) = server(Db::Sqlite, Some(&trusted)).await else {
        return;
    };
    let _ = agent_bin();
    let http = browser();
    let code = enroll_code(&http, &srv.base).await;
    let dir = temp_state();
    let args = [
        "--pin-stdin",
        "enroll",
        "--insecure-http",
        "--server",
        &srv.base,
        "--code",
        &code,
        "--storage",
        "tpm",
    ];
    let out = agent(
        dir.0.as_path(),
        &args,
        &pin_line(),
        &[("TOLLGATE_AGENT_TCTI", &tpm.tcti())],
    )
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("untrusted_ek"), "{}", text(&out));
    assert!(
        srv.app
            .store
            .devices(None)
            .await
            .expect("devices")
            .is_empty()
    );
    assert!(!dir.0.join("keystore.json").exists());
}

/// `[agent] require_attestation`: the operator's policy that only attested
/// TPM keys become devices. A software key (here one claiming `tpm`) is
/// refused with `attestation_required`, audited, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_attestation_refuses_unattested_keys() {
    if !have_swtpm() {
        return;
    }
    let ca = EkCa::new();
    let _made = Swtpm::start(Some(&ca));
    let Some(srv) = server_with(Db::Sqlite, Some(&ca), true).await else {
        return;
    };
    let base = srv.base.clone();
    for claimed in [KeyStorage::Software, KeyStorage::Tpm] {
        let b = begin_enrollment(&srv).await;
        let secret = Sm2SecretKey::generate().expect("key");
        let public_key = b64::encode(&secret.public_key().to_spki_der());
        let mut signer = SoftwareSigner::new(secret, DEFAULT_DIST_ID);
        let msg = signed::enroll_bytes(
            &b.enrollment_id,
            &b.challenge,
            &public_key,
            DEFAULT_DIST_ID,
            claimed,
        )
        .expect("proof");
        let req = EnrollFinishRequest {
            enrollment_id: b.enrollment_id.clone(),
            public_key,
            dist_id: DEFAULT_DIST_ID.into(),
            key_storage: claimed,
            ek: None,
            hostname: "laptop".into(),
            signature: b64::encode(&sign_message(&mut signer, &msg).expect("sig").to_der()),
            otp_algorithm: None,
            attestation: None,
        };
        let (status, body) = post(&base, "/v1/agent/enroll/finish", &req).await;
        assert_eq!(status, 400, "{claimed:?}: {body}");
        assert_eq!(body["error"], "attestation_required", "{body}");
    }
    assert!(
        srv.app
            .store
            .devices(None)
            .await
            .expect("devices")
            .is_empty()
    );
    let audit = audit_kinds(&srv).await;
    assert_eq!(
        audit
            .iter()
            .filter(
                |(k, d)| k == "device.attestation_refused" && d["error"] == "attestation_required"
            )
            .count(),
        2,
        "{audit:?}"
    );
}
