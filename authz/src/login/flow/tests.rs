//! `LoginFlow` without HTTP: a real SQLite store, the shipped default
//! policy plus two test rules, a manual clock (every step names its time).
//! One table of sign-ins: who is enrolled in what, how the sign-in starts,
//! and each proof with its time and the step it must lead to.

use super::*;
use crate::cache::RevocationCache;
use crate::config::PolicyConfig;
use crate::login::factor::{DeviceApproval, OtpProof, PasskeyProof, PasswordProof, Proven};
use crate::login::{AuthRequest, Level, Method, ProvenFactor, Requirement};
use crate::secret::Secret;
use crate::store::{NewUser, PasskeyRow};

const PASSWORD: &str = "correct horse battery staple";
const SYNCED: Method = Method::Passkey {
    user_verified: true,
    backup_eligible: true,
    attested: false,
};
const BOUND_ATTESTED: Method = Method::Passkey {
    user_verified: true,
    backup_eligible: false,
    attested: true,
};
const DEVICE_HW: Method = Method::DeviceKey { hardware: true };
/// The TOTP secret every TOTP user of these tests holds (RFC 6238's).
const TOTP_SECRET: &[u8] = b"12345678901234567890";
/// The recovery code of a TOTP user (recovery hashes are unique).
fn recovery(login: &str) -> String {
    format!("rc-{login}")
}
/// `[authenticators] reauth_window` of these tests.
const WINDOW: i64 = 300;
/// Failed attempts a user key allows before it locks.
const MAX_FAILURES: i64 = 3;

/// The shipped ladder, every score allowed, and for two test clients:
/// `blocked` is denied with revocation; `admin-app` needs `phr` within
/// ten minutes. (The default's first-login exemption is final and would
/// hide `admin-app`'s rule for these first sign-ins.)
const TEST_POLICY: &str = "extends: none
levels:
  - name: aal1
    factors: [[pwd], [otp], [passkey_synced], [passkey_bound], [device_sw], [device_hw]]
    max_age: 30d
  - name: aal2
    factors: [[pwd, otp], [passkey_synced], [passkey_bound], [device_sw], [device_hw]]
    max_age: 24h
  - name: phr
    factors: [[passkey_synced], [passkey_bound], [device_sw], [device_hw]]
    max_age: 12h
  - name: phrh
    factors: [[passkey_bound], [device_hw]]
    max_age: 12h
bands:
  - up_to: 100
    allow: true
rules_before:
  - name: refuse-blocked
    when: {client: [blocked]}
    deny: true
    revoke: true
rules_after:
  - name: admins-need-phr
    when: {client: [admin-app]}
    require: phr
    max_age: 10m
";

#[derive(Clone, Copy)]
enum Enroll {
    Password,
    Totp,
    Passkey { synced: bool, attested: bool },
    Device { tpm: bool },
}

/// How the sign-in starts.
enum Entry {
    /// A client's `/authorize`: its `acr_values` and `max_age`, and the
    /// factors of a carried browser session (with the user).
    Client {
        client: &'static str,
        acr: &'static [&'static str],
        max_age: Option<i64>,
        carried: &'static [(Method, i64)],
    },
    /// `/account/reauth` at this time for a session holding these factors.
    Account {
        at: i64,
        session: &'static [(Method, i64)],
    },
}

/// One step of the sign-in, at a time.
enum Act {
    /// The password form with this password (the user's login as username).
    Password(&'static str),
    /// The one-time-code form: `<totp>` is the user's app's code for the
    /// step's time, `<recovery>` the user's recovery code, anything else
    /// is sent as written.
    Code(&'static str),
    /// "I approved it, continue" — after the user's device approved the
    /// interaction's challenge (`true`) or before it did (`false`).
    Device(bool),
    /// A factor verified by its own ceremony.
    Verified(Method),
}

struct Case {
    name: &'static str,
    enroll: &'static [Enroll],
    entry: Entry,
    /// Each act, its time, and the step it must lead to: `show:<kinds>`,
    /// `unmet`, `complete:<acr>@<auth_time>`, `denied`, `refused:<why>`.
    steps: &'static [(i64, Act, &'static str)],
    /// Whether a `policy.decision` record names the interaction.
    decided: bool,
}

struct World {
    _dir: std::path::PathBuf,
    store: Store,
    decisions: DecisionPoint,
    metrics: Metrics,
    revocations: RevocationCache,
    login: LoginConfig,
    directories: crate::directory::Directories,
    master: crate::master_key::MasterKey,
}

impl World {
    async fn new() -> World {
        let (store, dir) = Store::scratch("flow").await;
        let policy = dir.join("test.yaml");
        std::fs::write(&policy, TEST_POLICY).unwrap();
        let decisions = DecisionPoint::load(&PolicyConfig {
            files: vec![policy],
            ..PolicyConfig::default()
        })
        .unwrap();
        World {
            _dir: dir,
            store,
            decisions,
            metrics: Metrics::default(),
            revocations: RevocationCache::default(),
            login: LoginConfig::default(),
            directories: Default::default(),
            master: crate::master_key::MasterKey::from_material(&[7; 32], "test").unwrap(),
        }
    }

    fn flow(&self, now: i64) -> LoginFlow<'_> {
        let per = LockoutPolicy {
            max_failures: MAX_FAILURES,
            window: 900,
            lockout: 900,
        };
        LoginFlow {
            store: &self.store,
            decisions: &self.decisions,
            audit: Audit {
                store: &self.store,
                now,
            },
            metrics: &self.metrics,
            revoker: Revoker {
                store: &self.store,
                revocations: &self.revocations,
                access_ttl: 600,
            },
            codes: CodeIssuer {
                store: &self.store,
                issuer: "https://issuer.example",
                code_ttl: 60,
                now,
            },
            login: &self.login,
            lockout: (
                per,
                LockoutPolicy {
                    max_failures: 50,
                    ..per
                },
            ),
            directories: &self.directories,
            rp_name: "Tollgate",
            master: &self.master,
            totp: totp_params(),
            attested_passkeys: true,
            reauth_window: WINDOW,
            now,
        }
    }

    /// A user `login` enrolled in `enroll`; its id.
    async fn user(&self, login: &str, enroll: &[Enroll]) -> String {
        let password_hash = enroll
            .iter()
            .any(|e| matches!(e, Enroll::Password))
            .then(|| crate::login::password::hash(&Secret::new(PASSWORD)).unwrap());
        let id = self
            .store
            .insert_users(
                &[NewUser {
                    login: login.into(),
                    display_name: login.into(),
                    email: None,
                    upn: None,
                    groups: vec![],
                    password_hash,
                }],
                0,
            )
            .await
            .unwrap()
            .remove(0);
        for (i, e) in enroll.iter().enumerate() {
            match *e {
                Enroll::Password => {}
                Enroll::Totp => {
                    use base64::Engine;
                    let sealed = self.master.seal(&format!("totp:{id}"), TOTP_SECRET);
                    let b64 = base64::engine::general_purpose::STANDARD.encode(sealed);
                    self.store.put_pending_totp(&id, &b64, 0).await.unwrap();
                    // The activating code's step.
                    assert!(self.store.use_totp_step(&id, 1).await.unwrap());
                    let hash = crate::login::totp::recovery_hash(&recovery(login));
                    self.store
                        .replace_recovery_codes(&id, &[hash], 0)
                        .await
                        .unwrap();
                }
                Enroll::Passkey { synced, attested } => self
                    .store
                    .insert_passkey(&PasskeyRow {
                        cred_id: format!("{login}-cred-{i}"),
                        user_id: id.clone(),
                        passkey: "{}".into(),
                        counter: 0,
                        aaguid: "00".repeat(16),
                        backup_eligible: synced,
                        backup_state: synced,
                        attested,
                        transports: vec![],
                        name: "key".into(),
                        suspicious: false,
                        created_at: 0,
                        last_used_at: None,
                    })
                    .await
                    .unwrap(),
                Enroll::Device { tpm } => {
                    sqlx::query(
                        "INSERT INTO devices (id, user_id, public_key, dist_id, key_storage, created_at) \
                         VALUES ($1, $2, 'pk', 'dist', $3, 0)",
                    )
                    .bind(format!("d-{login}-{i}"))
                    .bind(&id)
                    .bind(if tpm { "tpm" } else { "software" })
                    .execute(&self.store.pool)
                    .await
                    .unwrap();
                }
            }
        }
        id
    }

    /// The user's (first) device approved interaction `ix` at `now`.
    async fn approve(&self, ix: &str, uid: &str, now: i64) {
        let device = self.store.devices(Some(uid)).await.unwrap().remove(0);
        let c = crate::store::ChallengeRow {
            id: format!("c-{ix}-{now}"),
            transaction_id: ix.into(),
            device_id: device.id,
            nonce: "n".into(),
            number: "42".into(),
            origin: "{}".into(),
            created_at: now,
            expires_at: now + 120,
            answered_at: None,
            outcome: None,
        };
        self.store
            .insert_challenges(std::slice::from_ref(&c))
            .await
            .unwrap();
        assert!(
            self.store
                .answer_challenge(&c.id, "approved", now)
                .await
                .unwrap()
        );
    }
}

fn totp_params() -> crate::login::totp::Params {
    crate::login::totp::Params::from_config(&crate::config::AuthenticatorConfig::default())
}

fn factors(list: &[(Method, i64)]) -> Vec<ProvenFactor> {
    list.iter()
        .map(|&(method, at)| ProvenFactor { method, at })
        .collect()
}

/// The interaction `/authorize` (or `/account`) would have started.
async fn start(w: &World, entry: &Entry, uid: &str, login: &str) -> Interaction {
    let (client, acr, max_age, carried) = match entry {
        Entry::Account { at, session } => {
            let s = crate::store::SessionRow {
                id: "s-carried".into(),
                user_id: uid.into(),
                factors: factors(session),
                auth_time: 0,
                expires_at: i64::MAX,
            };
            return w.flow(*at).start_account(Some(s)).await.unwrap().0;
        }
        Entry::Client {
            client,
            acr,
            max_age,
            carried,
        } => (*client, *acr, *max_age, *carried),
    };
    let acr_values: Vec<String> = acr.iter().map(|s| s.to_string()).collect();
    let ix = Interaction {
        id: format!("ix-{login}"),
        csrf: "csrf".into(),
        browser: "browser".into(),
        request: AuthRequest {
            client_id: client.into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: vec!["openid".into()],
            state: Some("st".into()),
            nonce: None,
            code_challenge: None,
            prompt_login: false,
            prompt_none: false,
            max_age,
            acr_values: acr_values.clone(),
            login_hint: None,
            ui_locales: None,
            client_name: None,
        },
        requirement: Requirement::from_request(Level::Aal1, &acr_values, max_age),
        user_id: (!carried.is_empty()).then(|| uid.to_string()),
        login: None,
        session_id: None,
        proven: factors(carried),
        expires_at: i64::MAX,
        risk: None,
    };
    // Saved, as `/authorize` does before the first form is posted.
    w.flow(0).save(&ix).await.unwrap();
    ix
}

fn kinds(ks: &[FactorKind]) -> String {
    let names: Vec<&str> = ks
        .iter()
        .map(|k| match k {
            FactorKind::Password => "password",
            FactorKind::Totp => "totp",
            FactorKind::Passkey => "passkey",
            FactorKind::Device => "device",
        })
        .collect();
    names.join("+")
}

/// The step in words; for `Complete`, what the stored session says.
async fn said(w: &World, step: &Step, now: i64) -> String {
    match step {
        Step::Show { next, .. } => match next {
            Next::Identify => "show:identify".into(),
            Next::Factor(ks) => format!("show:{}", kinds(ks)),
            other => format!("show:{other:?}"),
        },
        Step::Unmet { .. } => "unmet".into(),
        Step::Denied { revoke } => format!("denied:revoke={revoke}"),
        Step::Refused { why, .. } => format!("refused:{why:?}").to_lowercase(),
        Step::Complete { session_token, .. } => {
            let hash = crate::oauth::client::hash_secret(session_token.expose());
            let s = w
                .store
                .session_by_token(&hash, now)
                .await
                .unwrap()
                .expect("the session is stored");
            let acr = Level::reached(&s.factors).map_or("none", |l| l.acr());
            format!("complete:{acr}@{}", s.auth_time)
        }
    }
}

async fn check(w: &World, case: &Case) {
    let login = case.name.replace(' ', "-");
    let uid = w.user(&login, case.enroll).await;
    let mut ix = start(w, &case.entry, &uid, &login).await;
    let id = ix.id.clone();
    let origin = Origin {
        ip: "203.0.113.9".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into(),
        device_hash: None,
        session_hash: None,
        signals: Default::default(),
    };
    for (i, (now, act, want)) in case.steps.iter().enumerate() {
        let proof = match act {
            Act::Password(p) => Proof::Password(PasswordProof {
                username: login.clone(),
                password: Secret::new(*p),
            }),
            Act::Code("<totp>") => {
                let p = totp_params();
                let step = *now / i64::try_from(p.period).unwrap();
                Proof::Otp(OtpProof {
                    code: crate::login::totp::code_at_step(p, TOTP_SECRET, step),
                })
            }
            Act::Code("<recovery>") => Proof::Otp(OtpProof {
                code: recovery(&login),
            }),
            Act::Code(c) => Proof::Otp(OtpProof {
                code: c.to_string(),
            }),
            Act::Device(approved) => {
                if *approved {
                    w.approve(&id, &uid, *now).await;
                }
                Proof::Device(DeviceApproval)
            }
            Act::Verified(m) => Proof::Verified(Proven {
                method: *m,
                user: w.store.user(&uid).await.unwrap(),
                followup: None,
            }),
        };
        let step = w.flow(*now).submit(ix, proof, &origin).await.unwrap();
        let got = said(w, &step, *now).await;
        assert_eq!(got, *want, "{}: step {i}", case.name);
        ix = match step {
            Step::Refused { ix, .. } => *ix,
            // The next request loads what this one saved.
            Step::Show { .. } | Step::Unmet { .. } => {
                let data = w.store.interaction(&id, *now).await.unwrap().unwrap();
                serde_json::from_str(&data).unwrap()
            }
            Step::Complete { .. } | Step::Denied { .. } => {
                assert!(w.store.interaction(&id, *now).await.unwrap().is_none());
                assert_eq!(
                    i + 1,
                    case.steps.len(),
                    "{}: steps after the end",
                    case.name
                );
                break;
            }
        };
    }
    let decided = w
        .store
        .audit_records(0, 10_000)
        .await
        .unwrap()
        .iter()
        .any(|r| r.kind == "policy.decision" && r.data["interaction"] == id.as_str());
    assert_eq!(decided, case.decided, "{}: policy.decision", case.name);
}

const fn client(acr: &'static [&'static str], max_age: Option<i64>) -> Entry {
    Entry::Client {
        client: "rp",
        acr,
        max_age,
        carried: &[],
    }
}

const PW: Enroll = Enroll::Password;
const TOTP: Enroll = Enroll::Totp;
const PK_SYNCED: Enroll = Enroll::Passkey {
    synced: true,
    attested: false,
};
const PK_BOUND: Enroll = Enroll::Passkey {
    synced: false,
    attested: true,
};

#[tokio::test]
async fn sign_ins_reach_what_their_factors_prove() {
    use Act::*;
    let cases = [
        // Each factor proves what its spec says.
        Case {
            name: "password alone is aal1",
            enroll: &[PW],
            entry: client(&[], None),
            steps: &[(100, Password(PASSWORD), "complete:aal1@100")],
            decided: true,
        },
        Case {
            name: "synced passkey is phr",
            enroll: &[PK_SYNCED],
            entry: client(&[], None),
            steps: &[(100, Verified(SYNCED), "complete:phr@100")],
            decided: true,
        },
        Case {
            name: "attested bound passkey is phrh",
            enroll: &[PK_BOUND],
            entry: client(&["phrh"], None),
            steps: &[(100, Verified(BOUND_ATTESTED), "complete:phrh@100")],
            decided: true,
        },
        Case {
            name: "software device is phr",
            enroll: &[PW, Enroll::Device { tpm: false }],
            entry: client(&["phr"], None),
            steps: &[
                (100, Password(PASSWORD), "show:device"),
                (105, Device(false), "refused:pending"),
                (110, Device(true), "complete:phr@110"),
            ],
            decided: true,
        },
        // Password then TOTP reaches aal2, as old as the oldest factor it
        // needs (`Level::reached_at`: the latest t whose factors since t
        // still reach the level).
        Case {
            name: "password then totp is aal2",
            enroll: &[PW, TOTP],
            entry: client(&["aal2"], None),
            steps: &[
                (100, Password(PASSWORD), "show:totp"),
                (130, Code("<totp>"), "complete:aal2@100"),
            ],
            decided: true,
        },
        // max_age: carried factors older than it do not count.
        Case {
            name: "max age asks again for stale factors",
            enroll: &[PW, TOTP],
            entry: Entry::Client {
                client: "rp",
                acr: &["aal2"],
                max_age: Some(300),
                carried: &[(Method::Password, 0), (Method::Totp, 0)],
            },
            steps: &[
                (1000, Password(PASSWORD), "show:totp"),
                (1010, Code("<totp>"), "complete:aal2@1000"),
            ],
            decided: true,
        },
        // A level is as old as the factors that reach it, not the latest
        // weaker factor: phr by the passkey at 100, not the password at 800.
        Case {
            name: "level as old as its factors",
            enroll: &[PW, PK_SYNCED],
            entry: Entry::Client {
                client: "rp",
                acr: &["phr"],
                max_age: None,
                carried: &[(SYNCED, 100)],
            },
            steps: &[(800, Password(PASSWORD), "complete:phr@100")],
            decided: true,
        },
        // The policy's `require: phr, max_age: 10m`: a stale passkey and a
        // fresh password do not meet it; the passkey is asked for again.
        Case {
            name: "stale passkey fresh password",
            enroll: &[PW, PK_SYNCED],
            entry: Entry::Client {
                client: "admin-app",
                acr: &[],
                max_age: None,
                carried: &[(SYNCED, 0)],
            },
            steps: &[
                (5000, Password(PASSWORD), "show:passkey"),
                (5010, Verified(SYNCED), "complete:phr@5010"),
            ],
            decided: true,
        },
        // Each one-time code: a wrong one and a replayed step are refused
        // (the interaction stays), a recovery code proves otp once.
        Case {
            name: "wrong then replayed then right code",
            enroll: &[PW, TOTP],
            entry: client(&["aal2"], None),
            steps: &[
                (100, Password(PASSWORD), "show:totp"),
                (110, Code("1234567"), "refused:wrong"),
                // Step 1 was used by the activation: the code of t=30..59.
                (45, Code("<totp>"), "refused:replayed"),
                (120, Code("<totp>"), "complete:aal2@100"),
            ],
            decided: true,
        },
        Case {
            name: "recovery code is otp",
            enroll: &[PW, TOTP],
            entry: client(&["aal2"], None),
            steps: &[
                (100, Password(PASSWORD), "show:totp"),
                (110, Code("<recovery>"), "complete:aal2@100"),
            ],
            decided: true,
        },
        Case {
            name: "wrong codes lock the otp key",
            enroll: &[PW, TOTP],
            entry: client(&["aal2"], None),
            steps: &[
                (100, Password(PASSWORD), "show:totp"),
                (101, Code("1234567"), "refused:wrong"),
                (102, Code("7654321"), "refused:wrong"),
                (103, Code("no-such-code"), "refused:wrong"),
                (104, Code("<totp>"), "refused:locked"),
            ],
            decided: true,
        },
        Case {
            name: "unreachable level is unmet",
            enroll: &[PW],
            entry: client(&["phr"], None),
            steps: &[(100, Password(PASSWORD), "unmet")],
            decided: true,
        },
        Case {
            name: "policy deny ends the sign-in",
            enroll: &[PW, TOTP],
            entry: Entry::Client {
                client: "blocked",
                acr: &[],
                max_age: None,
                carried: &[],
            },
            steps: &[(100, Password(PASSWORD), "denied:revoke=true")],
            decided: true,
        },
        // Binding at the right level: a change needs the level of what the
        // user holds (phr for a synced passkey) within the window.
        Case {
            name: "reauth with a passkey held needs the passkey",
            enroll: &[PW, PK_SYNCED],
            entry: Entry::Account {
                at: 1000,
                session: &[(Method::Password, 0), (SYNCED, 0)],
            },
            steps: &[
                (1000, Password(PASSWORD), "show:passkey"),
                (1010, Verified(SYNCED), "complete:phr@1010"),
            ],
            decided: true,
        },
        Case {
            name: "reauth with password only",
            enroll: &[PW],
            entry: Entry::Account {
                at: 1000,
                session: &[(Method::Password, 0)],
            },
            steps: &[(1000, Password(PASSWORD), "complete:aal1@1000")],
            decided: true,
        },
        // Device approval goes through the gate like every factor: an
        // account re-authentication (user known, not yet decided) is
        // decided and audited when the device proves.
        Case {
            name: "device approval through the gate",
            enroll: &[PW, Enroll::Device { tpm: true }],
            entry: Entry::Account {
                at: 1000,
                session: &[(Method::Password, 0), (DEVICE_HW, 0)],
            },
            steps: &[(1000, Device(true), "complete:phrh@1000")],
            decided: true,
        },
        // The attempts guard: the limit, then locked even for the right one.
        Case {
            name: "wrong password locks",
            enroll: &[PW],
            entry: client(&[], None),
            steps: &[
                (100, Password("guess 1"), "refused:wrong"),
                (101, Password("guess 2"), "refused:wrong"),
                (102, Password("guess 3"), "refused:wrong"),
                (103, Password(PASSWORD), "refused:locked"),
            ],
            decided: false,
        },
    ];
    let w = World::new().await;
    for case in &cases {
        check(&w, case).await;
    }
}

/// A malformed username never reaches the guard or the check.
#[tokio::test]
async fn an_empty_username_is_refused_before_the_guard() {
    let w = World::new().await;
    let ix = start(&w, &client(&[], None), "", "nobody").await;
    let proof = Proof::Password(PasswordProof {
        username: String::new(),
        password: Secret::new(PASSWORD),
    });
    let step = w
        .flow(100)
        .submit(ix, proof, &Origin::default())
        .await
        .unwrap();
    assert!(matches!(
        step,
        Step::Refused {
            why: Refusal::Malformed,
            ..
        }
    ));
}

/// A real WebAuthn assertion (a software authenticator) through `submit`:
/// a discoverable sign-in identifies the user and proves `phr` (synced);
/// the same user's credential offered to another user's interaction is
/// refused and audited, and the interaction stays; once its owner is
/// disabled it is refused too.
/// The relying party of the passkey tests' issuer.
const PK_ISSUER: &str = "https://issuer.example";

/// A user `login` with a password and a registered software passkey.
async fn with_passkey(
    w: &World,
    login: &str,
) -> (
    String,
    crate::login::soft_passkey::SoftPasskey,
    crate::store::PasskeyRow,
) {
    use crate::login::passkey;
    let uid = w.user(login, &[PW]).await;
    let rp = passkey::relying_party(PK_ISSUER, "Tollgate").unwrap();
    let (opts, state) = passkey::start_registration(&rp, &uid, login, login, &[], false).unwrap();
    let (key, resp) =
        crate::login::soft_passkey::SoftPasskey::register(&opts, PK_ISSUER, true).unwrap();
    let row = passkey::finish_registration(&rp, &state, &resp, &uid, "Key", &Default::default(), 0)
        .unwrap();
    w.store.insert_passkey(&row).await.unwrap();
    (uid, key, row)
}

/// A fresh assertion by `key` for a discoverable sign-in.
fn assert_once(key: &mut crate::login::soft_passkey::SoftPasskey) -> Proof {
    use crate::login::passkey;
    let rp = passkey::relying_party(PK_ISSUER, "Tollgate").unwrap();
    let (options, state) = passkey::start_authentication(&rp, None).unwrap();
    let response = key.assert(&options, PK_ISSUER).unwrap();
    Proof::Passkey(PasskeyProof { state, response })
}

#[tokio::test]
async fn a_passkey_assertion_goes_through_the_same_gate() {
    let w = World::new().await;
    let (uid, mut key, row) = with_passkey(&w, "pk-user").await;
    let other = w.user("pk-other", &[PW]).await;
    let origin = Origin {
        ip: "203.0.113.10".into(),
        ..Origin::default()
    };

    // Another user's interaction: refused, the credential id audited.
    let mut foreign = start(&w, &client(&[], None), &other, "pk-foreign").await;
    foreign.user_id = Some(other.clone());
    let step = w
        .flow(90)
        .submit(foreign, assert_once(&mut key), &origin)
        .await
        .unwrap();
    assert_eq!(
        said(&w, &step, 90).await,
        "refused:passkey(\"unknown_credential\")"
    );
    let audited = w.store.audit_records(0, 10_000).await.unwrap();
    assert!(
        audited.iter().any(|r| r.kind == "passkey.failure"
            && r.data["detail"]["credential"] == row.cred_id.as_str())
    );

    // Discoverable: the assertion names the user.
    let ix = start(&w, &client(&["phr"], None), &uid, "pk-user").await;
    let id = ix.id.clone();
    let step = w
        .flow(100)
        .submit(ix, assert_once(&mut key), &origin)
        .await
        .unwrap();
    assert_eq!(said(&w, &step, 100).await, "complete:phr@100");
    let audited = w.store.audit_records(0, 10_000).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|r| r.kind == "policy.decision" && r.data["interaction"] == id.as_str())
    );

    // Its owner disabled: the same passkey proves nothing.
    w.store.disable_user("pk-user", 110).await.unwrap();
    let ix = start(&w, &client(&["phr"], None), &uid, "pk-user").await;
    let step = w
        .flow(110)
        .submit(ix, assert_once(&mut key), &origin)
        .await
        .unwrap();
    assert_eq!(
        said(&w, &step, 110).await,
        "refused:passkey(\"unknown_credential\")"
    );
}

/// A passkey's new signature counter is recorded whichever way its step
/// ends: with the sign-in's end when the sign-in finishes there (one
/// transaction), and on its own when it does not (the level is beyond
/// what the passkey proves). Either way, the next assertion with a counter
/// not above it is a regression.
#[tokio::test]
async fn a_passkeys_counter_is_recorded_whether_or_not_the_sign_in_finishes() {
    let w = World::new().await;
    let (uid, mut key, row) = with_passkey(&w, "pk-count").await;
    let origin = Origin {
        ip: "203.0.113.11".into(),
        ..Origin::default()
    };
    let stored = async || {
        let (row, _) = w.store.passkey(&row.cred_id).await.unwrap().unwrap();
        (row.counter, row.last_used_at)
    };
    // (the level asked, the step, what the passkey row holds after it)
    let levels: [&'static [&'static str]; 2] = [&["phr"], &["phrh"]];
    for (at, level, step_said) in [
        (100, levels[0], "complete:phr@100"),
        (200, levels[1], "unmet"),
    ] {
        let ix = start(&w, &client(level, None), &uid, "pk-count").await;
        let step = w
            .flow(at)
            .submit(ix, assert_once(&mut key), &origin)
            .await
            .unwrap();
        let answer = said(&w, &step, at).await;
        assert!(answer.starts_with(step_said), "{level:?}: {answer}");
        assert_eq!(
            stored().await,
            (i64::from(key.counter), Some(at)),
            "{level:?}: the counter and the use are recorded"
        );
        // The same counter again: refused as a possible clone.
        let ix = start(&w, &client(&["phr"], None), &uid, "pk-count").await;
        key.counter -= 1;
        let step = w
            .flow(at + 1)
            .submit(ix, assert_once(&mut key), &origin)
            .await
            .unwrap();
        assert_eq!(
            said(&w, &step, at + 1).await,
            "refused:passkey(\"counter_regression\")",
            "{level:?}"
        );
        // (the regression marks the passkey suspicious: start afresh)
        sqlx::query("UPDATE passkeys SET suspicious = 0")
            .execute(&w.store.pool)
            .await
            .unwrap();
    }
}

/// The password grant is decided by the same gate as a sign-in: the
/// policy's deny (with revocation) and its step-up reach the grant as
/// `Denied` and `Interactive`, each with a `policy.decision` record of the
/// same shape as an interactive login's, and the client's own default
/// above `aal1` also stops it; only an `aal1` login is granted.
#[tokio::test]
async fn the_password_grant_is_decided_by_the_same_gate() {
    let w = World::new().await;
    let login = "grant-user";
    let uid = w.user(login, &[PW]).await;
    let origin = Origin {
        ip: "203.0.113.20".into(),
        user_agent: "vcenter-sso/8.0".into(),
        ..Origin::default()
    };
    let proof = |password: &str| PasswordProof {
        username: login.into(),
        password: Secret::new(password),
    };
    let grant = async |client: &str, level: Level, password: &str, now: i64| -> String {
        let flow = w.flow(now);
        let step = flow.password_grant(client, level, proof(password), &origin);
        match step.await.unwrap() {
            GrantStep::Granted { user, risk } => {
                format!("granted:{}:{}", user.id == uid, risk.outcome)
            }
            GrantStep::Refused(why) => format!("refused:{why:?}"),
            GrantStep::Denied => "denied".into(),
            GrantStep::Interactive { required } => format!("interactive:{}", required.acr()),
        }
    };

    // The interactive login the grant's records are compared with.
    let ix = start(
        &w,
        &Entry::Client {
            client: "blocked",
            acr: &[],
            max_age: None,
            carried: &[],
        },
        &uid,
        login,
    )
    .await;
    let step = w
        .flow(100)
        .submit(ix, Proof::Password(proof(PASSWORD)), &origin)
        .await
        .unwrap();
    assert_eq!(said(&w, &step, 100).await, "denied:revoke=true");
    let interactive = decisions(&w.store).await.remove(0);

    // A wrong password never reaches the gate.
    assert_eq!(
        grant("rp", Level::Aal1, "guess", 200).await,
        "refused:Wrong"
    );
    assert_eq!(decisions(&w.store).await.len(), 1);

    // The policy's deny, with its revocation.
    assert_eq!(grant("blocked", Level::Aal1, PASSWORD, 300).await, "denied");
    let records = w.store.audit_records(0, 10_000).await.unwrap();
    let revoked = records.iter().filter(|r| r.kind == "policy.revoked");
    assert_eq!(
        revoked.count(),
        2,
        "the sign-in's and the grant's deny revoke"
    );
    let denied = decisions(&w.store).await.remove(1);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&denied.data), keys(&interactive.data));
    assert_eq!(
        keys(&denied.data["decision"]),
        keys(&interactive.data["decision"])
    );
    assert_eq!(denied.data["point"], "login");
    assert_eq!(denied.data["interaction"], "password-grant");
    assert_eq!(
        (denied.actor.as_str(), denied.subject.as_str()),
        (login, "blocked")
    );
    assert_eq!(
        denied.data["decision"]["outcome"],
        interactive.data["decision"]["outcome"]
    );
    assert_eq!(denied.data["event"]["ip"], "203.0.113.20");

    // The policy's step-up (`admins-need-phr`) is more than a password.
    assert_eq!(
        grant("admin-app", Level::Aal1, PASSWORD, 400).await,
        "interactive:phr"
    );
    let stepped = decisions(&w.store).await.remove(2);
    assert_eq!(keys(&stepped.data), keys(&interactive.data));
    let records = w.store.audit_records(0, 10_000).await.unwrap();
    let asked = records
        .iter()
        .find(|r| r.kind == "login.interactive_required")
        .expect("the step-up is audited");
    assert_eq!(asked.data["required"], "phr");
    assert_eq!(asked.data["grant"], "password");

    // The client's default above aal1, and an aal1 login that is granted.
    assert_eq!(
        grant("rp", Level::Aal2, PASSWORD, 500).await,
        "interactive:aal2"
    );
    assert_eq!(
        grant("rp", Level::Aal1, PASSWORD, 600).await,
        "granted:true:allow"
    );
    assert_eq!(decisions(&w.store).await.len(), 5);
}

/// The `policy.decision` records, oldest first.
async fn decisions(store: &Store) -> Vec<crate::store::AuditRecord> {
    let all = store.audit_records(0, 10_000).await.unwrap();
    all.into_iter()
        .filter(|r| r.kind == "policy.decision")
        .collect()
}
