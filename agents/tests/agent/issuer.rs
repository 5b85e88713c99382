//! A reference issuer for the agent protocol, built only from the
//! library's server-side functions — the calls authz must make — on a tiny
//! blocking HTTP/1.1 server bound to 127.0.0.1:0.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use tollgate_agent::b64;
use tollgate_agent::grant::{self, GRANT_DIST_ID, GrantClaims};
use tollgate_agent::otp::OtpAlgorithm;
use tollgate_agent::receipt;
use tollgate_agent::signed::{self, ApprovalOutcome, DeviceAuth, IssuedChallenge};
use tollgate_agent::signer::SoftwareSigner;
use tollgate_agent::sm2::{Sm2PublicKey, Sm2SecretKey};
use tollgate_agent::wire::*;

pub struct Device {
    pub user: String,
    pub key: Sm2PublicKey,
    pub dist_id: String,
    pub storage: KeyStorage,
    pub revoked_at: Option<i64>,
    /// DER EK certificate or EK public key, as sent at enrollment.
    pub ek: Option<Vec<u8>>,
}

/// What the issuer knows; tests read and change it directly.
pub struct State {
    pub grant_key: SoftwareSigner,
    pub codes: HashMap<String, String>,
    pub enrollments: HashMap<String, (String, String)>,
    pub devices: HashMap<String, Device>,
    pub challenges: HashMap<String, IssuedChallenge>,
    pub seen_nonces: HashSet<(String, String)>,
    pub grants: HashMap<String, GrantClaims>,
    pub stored_receipts: HashSet<String>,
    /// One line per audited event, as authz's audit log would have it.
    pub audit: Vec<String>,
    pub otp_seed: Vec<u8>,
    pub grant_ttl: i64,
    pub max_offline_logins: u32,
    /// Raw body of the last answer, to replay it.
    pub last_answer: Option<Vec<u8>>,
    /// (path, Authorization, body) of the last device-signed request.
    pub last_signed: Option<(String, String, Vec<u8>)>,
}

pub struct Issuer {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    /// HTTPS in front of `url` (nginx, private CA), for the system
    /// enrollments PAM mode accepts; `None` when nginx is not installed.
    pub front: Option<super::harness::TlsFront>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Issuer {
    pub fn start() -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            grant_key: SoftwareSigner::new(Sm2SecretKey::generate().unwrap(), GRANT_DIST_ID),
            codes: HashMap::from([("ENROLL-CODE-1".to_owned(), "alice".to_owned())]),
            enrollments: HashMap::new(),
            devices: HashMap::new(),
            challenges: HashMap::new(),
            seen_nonces: HashSet::new(),
            grants: HashMap::new(),
            stored_receipts: HashSet::new(),
            audit: Vec::new(),
            otp_seed: b"12345678901234567890".to_vec(),
            grant_ttl: 72 * 3600,
            max_offline_logins: 5,
            last_answer: None,
            last_signed: None,
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &shared);
            }
        });
        let front = super::harness::TlsFront::available("the reference issuer's HTTPS front")
            .then(|| super::harness::TlsFront::start(url.trim_start_matches("http://")));
        Issuer { url, state, front }
    }

    /// A login asks this device for approval; returns the challenge id.
    pub fn push_challenge(&self, device_id: &str, number: &str) -> String {
        let mut st = self.state.lock().unwrap();
        let id = format!("c-{}", st.challenges.len() + 1);
        st.challenges.insert(
            id.clone(),
            IssuedChallenge {
                challenge_id: id.clone(),
                transaction_id: format!("tx-{id}"),
                device_id: device_id.to_owned(),
                nonce: b64::random(16).unwrap(),
                number: number.to_owned(),
                expires_at: now() + signed::CHALLENGE_TTL,
                used: false,
            },
        );
        id
    }

    pub fn post_raw(&self, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, String) {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (
            status,
            out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned(),
        )
    }
}

type Reply = (u16, serde_json::Value);

fn error(status: u16, code: &str, desc: impl ToString) -> Reply {
    (
        status,
        serde_json::json!({"error": code, "error_description": desc.to_string()}),
    )
}

fn serve(stream: TcpStream, state: &Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let (status, json) = {
        let mut st = state.lock().unwrap();
        route(
            &mut st,
            &path,
            headers.get("authorization").map(String::as_str),
            &body,
        )
    };
    let text = json.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
}

/// Device authentication: signature, clock window, nonce replay, revocation.
fn authenticate(
    st: &mut State,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Result<String, Reply> {
    st.last_signed = Some((
        path.to_owned(),
        auth.unwrap_or_default().to_owned(),
        body.to_vec(),
    ));
    let auth = DeviceAuth::parse_header(auth.unwrap_or_default())
        .map_err(|e| error(401, "invalid_request", e))?;
    let device = st
        .devices
        .get(&auth.device_id)
        .ok_or_else(|| error(401, "unknown_device", &auth.device_id))?;
    if device.revoked_at.is_some() {
        return Err(error(403, "device_revoked", "this device was revoked"));
    }
    auth.verify("POST", path, body, &device.key, &device.dist_id, now())
        .map_err(|e| error(401, "invalid_signature", e))?;
    if !st
        .seen_nonces
        .insert((auth.device_id.clone(), auth.nonce.clone()))
    {
        return Err(error(401, "replayed_request", "nonce already used"));
    }
    Ok(auth.device_id)
}

fn route(st: &mut State, path: &str, auth: Option<&str>, body: &[u8]) -> Reply {
    match path {
        "/v1/agent/enroll/begin" => {
            let Ok(req) = serde_json::from_slice::<EnrollBeginRequest>(body) else {
                return error(400, "invalid_request", "body");
            };
            let Some(user) = st.codes.remove(&req.code) else {
                return error(400, "invalid_code", "unknown or used enrollment code");
            };
            let id = format!("e-{}", st.enrollments.len() + 1);
            let challenge = b64::random(32).unwrap();
            st.enrollments.insert(id.clone(), (user, challenge.clone()));
            let resp = EnrollBeginResponse {
                enrollment_id: id,
                challenge,
                expires_at: now() + 300,
                dist_id: None,
            };
            (200, serde_json::to_value(resp).unwrap())
        }
        "/v1/agent/enroll/finish" => {
            let Ok(req) = serde_json::from_slice::<EnrollFinishRequest>(body) else {
                return error(400, "invalid_request", "body");
            };
            let Some((user, challenge)) = st.enrollments.remove(&req.enrollment_id) else {
                return error(400, "invalid_enrollment", "unknown enrollment");
            };
            let Some(key) =
                b64::decode(&req.public_key).and_then(|d| Sm2PublicKey::from_spki_der(&d).ok())
            else {
                return error(400, "invalid_key", "public_key");
            };
            let msg = signed::enroll_bytes(
                &req.enrollment_id,
                &challenge,
                &req.public_key,
                &req.dist_id,
                req.key_storage,
            )
            .unwrap();
            if let Err(e) = signed::verify_b64(&key, &req.dist_id, &msg, &req.signature) {
                return error(400, "invalid_proof", e);
            }
            let device_id = format!("d-{}", st.devices.len() + 1);
            st.audit.push(format!(
                "device_enrolled {device_id} {user} {}",
                req.key_storage.as_str()
            ));
            st.devices.insert(
                device_id.clone(),
                Device {
                    user: user.clone(),
                    key,
                    dist_id: req.dist_id,
                    storage: req.key_storage,
                    revoked_at: None,
                    ek: req.ek.as_deref().and_then(b64::decode),
                },
            );
            let resp = EnrollFinishResponse {
                key_storage: Some(req.key_storage),
                attestation: Some("fake issuer: the claim as sent".into()),
                device_id,
                user,
                grant_public_key: b64::encode(
                    &st.grant_key.secret_key().public_key().to_spki_der(),
                ),
                otp: Some(OtpProvision {
                    algorithm: OtpAlgorithm::TotpSha1,
                    digits: 6,
                    period: 30,
                    seed: b64::encode(&st.otp_seed),
                }),
            };
            (200, serde_json::to_value(resp).unwrap())
        }
        "/v1/agent/challenges/pending" => match authenticate(st, path, auth, body) {
            Err(r) => r,
            Ok(device_id) => {
                let t = now();
                let list: Vec<PendingChallenge> = st
                    .challenges
                    .values()
                    .filter(|c| c.device_id == device_id && !c.used && c.expires_at > t)
                    .map(|c| PendingChallenge {
                        challenge_id: c.challenge_id.clone(),
                        transaction_id: c.transaction_id.clone(),
                        nonce: c.nonce.clone(),
                        origin: LoginOrigin {
                            ip: Some("203.0.113.7".into()),
                            location: Some("Beijing, CN".into()),
                            user_agent: Some("Firefox 128 on Kylin".into()),
                            client: Some("vcenter".into()),
                        },
                        created_at: c.expires_at - signed::CHALLENGE_TTL,
                        expires_at: c.expires_at,
                    })
                    .collect();
                (
                    200,
                    serde_json::to_value(PendingChallenges { challenges: list }).unwrap(),
                )
            }
        },
        "/v1/agent/grant" => match authenticate(st, path, auth, body) {
            Err(r) => r,
            Ok(device_id) => {
                let d = &st.devices[&device_id];
                let t = now();
                let claims = GrantClaims {
                    v: 1,
                    grant_id: format!("g-{}", st.grants.len() + 1),
                    iss: "http://issuer.test".into(),
                    user: d.user.clone(),
                    device_id: device_id.clone(),
                    device_public_key: b64::encode(&d.key.to_spki_der()),
                    device_dist_id: d.dist_id.clone(),
                    key_storage: d.storage,
                    issued_at: t,
                    not_after: t + st.grant_ttl,
                    max_offline_logins: st.max_offline_logins,
                };
                let token = grant::sign_grant(&claims, &mut st.grant_key).unwrap();
                st.grants.insert(claims.grant_id.clone(), claims);
                (200, serde_json::json!({ "grant": token }))
            }
        },
        "/v1/agent/receipts" => match authenticate(st, path, auth, body) {
            Err(r) => r,
            Ok(device_id) => {
                let Ok(up) = serde_json::from_slice::<ReceiptUpload>(body) else {
                    return error(400, "invalid_request", "body");
                };
                let results = up
                    .receipts
                    .iter()
                    .map(|r| audit_receipt(st, &device_id, r))
                    .collect();
                (
                    200,
                    serde_json::to_value(ReceiptUploadResponse { results }).unwrap(),
                )
            }
        },
        p if p.starts_with("/v1/agent/challenges/") && p.ends_with("/answer") => answer(st, body),
        _ => error(404, "not_found", path),
    }
}

fn answer(st: &mut State, body: &[u8]) -> Reply {
    st.last_answer = Some(body.to_vec());
    let Ok(req) = serde_json::from_slice::<ApprovalRequest>(body) else {
        return error(400, "invalid_request", "body");
    };
    let Some(device) = st.devices.get(&req.device_id) else {
        return error(401, "unknown_device", "device");
    };
    if device.revoked_at.is_some() {
        return error(403, "device_revoked", "this device was revoked");
    }
    let (key, dist_id, storage) = (device.key.clone(), device.dist_id.clone(), device.storage);
    let Some(ch) = st.challenges.get_mut(&req.challenge_id) else {
        return error(404, "unknown_challenge", "challenge");
    };
    let outcome = signed::check_approval(ch, &req, &key, &dist_id, now());
    match outcome {
        Err(e) => error(400, "invalid_answer", e),
        Ok(o) => {
            ch.used = true;
            let (status, line) = match o {
                ApprovalOutcome::Approved => (
                    "approved",
                    format!(
                        "step_up_approved {} amr={}",
                        ch.transaction_id,
                        storage.amr().join("+")
                    ),
                ),
                ApprovalOutcome::Denied => {
                    ("denied", format!("step_up_denied {}", ch.transaction_id))
                }
                ApprovalOutcome::WrongNumber => (
                    "rejected",
                    format!("step_up_wrong_number {}", ch.transaction_id),
                ),
            };
            st.audit.push(line);
            (200, serde_json::json!({ "status": status }))
        }
    }
}

fn audit_receipt(st: &mut State, device_id: &str, token: &str) -> ReceiptResult {
    let reject = |id: String, why: String| ReceiptResult {
        receipt_id: id,
        status: "rejected".into(),
        reasons: vec![why],
    };
    let Ok(peek) = receipt::peek_receipt(token) else {
        return reject(String::new(), "malformed".into());
    };
    let d = &st.devices[device_id];
    if peek.device_id != device_id {
        return reject(peek.receipt_id, "receipt of another device".into());
    }
    let claims = match receipt::verify_receipt(token, &d.key, &d.dist_id) {
        Ok(c) => c,
        Err(e) => return reject(peek.receipt_id, e.to_string()),
    };
    let Some(g) = st.grants.get(&claims.grant_id) else {
        return reject(claims.receipt_id, "unknown grant".into());
    };
    if !st.stored_receipts.insert(claims.receipt_id.clone()) {
        return reject(claims.receipt_id, "duplicate".into());
    }
    let flags: Vec<String> = receipt::audit_receipt(&claims, g, d.revoked_at)
        .iter()
        .map(|f| f.code().to_owned())
        .collect();
    st.audit.push(format!(
        "offline_login {} {} {} seq={} flags={:?}",
        claims.user, device_id, claims.receipt_id, claims.sequence, flags
    ));
    ReceiptResult {
        receipt_id: claims.receipt_id,
        status: if flags.is_empty() {
            "accepted".into()
        } else {
            "flagged".into()
        },
        reasons: flags,
    }
}
