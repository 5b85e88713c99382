//! SCIM 2.0 provisioning against a real, independent SCIM server:
//! `scim2-server` 0.8.3 from PyPI (installed into `target/scim2-venv` by
//! `.ci/run`), started on a free loopback port with a bearer token. Every
//! check reads the SCIM server over HTTP, never Tollgate's own tables.
//!
//! Outside CI a missing `scim2-server` skips loudly; under `CI=true` it fails.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tollgate::{Db, SCIM_TOKEN, SCIM_TOKEN_ENV, TestServer, temp_dir};
use tollgate_authz::config::{ScimProfile, ScimTargetConfig};
use tollgate_authz::scim::mapping::{WS1B_GROUP, WS1B_USER};
use tollgate_authz::store::{NewUser, ScimKind, UserUpdate};

const TARGET: &str = "scim2";

/// The `scim2-server` executable: `TOLLGATE_SCIM2_SERVER`, else the venv
/// `.ci/run` makes under the target directory.
fn scim2_server() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("TOLLGATE_SCIM2_SERVER")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/e2e-HASH
        if let Some(target) = exe.ancestors().nth(3) {
            candidates.push(target.join("scim2-venv/bin/scim2-server"));
        }
    }
    candidates
        .push(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scim2-venv/bin/scim2-server"));
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(p);
    }
    let msg = "scim2-server not found: run .ci/run, or `python3 -m venv target/scim2-venv && \
               target/scim2-venv/bin/pip install scim2-server==0.8.3`, or set TOLLGATE_SCIM2_SERVER";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("\n*** SKIPPED SCIM end-to-end test: {msg} ***\n");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running scim2-server with in-memory storage.
struct Scim2 {
    child: Child,
    base: String,
    dump: PathBuf,
    http: reqwest::Client,
}

impl Scim2 {
    async fn start(bin: &Path, port: u16, dir: &Path, name: &str) -> Scim2 {
        Self::start_with(bin, port, dir, name, &[]).await
    }

    /// `name.log` in `dir` gets its request log (`"PATCH /v2/Groups/…" 204`).
    async fn start_with(bin: &Path, port: u16, dir: &Path, name: &str, extra: &[&str]) -> Scim2 {
        let dump = dir.join(format!("{name}.json"));
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
        let child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", SCIM_TOKEN, "--dump-resources"])
            .arg(&dump)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start scim2-server");
        let s = Scim2 {
            child,
            base: format!("http://127.0.0.1:{port}/v2"),
            dump,
            http: reqwest::Client::new(),
        };
        for _ in 0..200 {
            let r = s
                .http
                .get(format!("{}/ServiceProviderConfig", s.base))
                .bearer_auth(SCIM_TOKEN)
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("scim2-server did not answer on {}", s.base);
    }

    async fn list(&self, endpoint: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/{endpoint}?count=1000", self.base))
            .bearer_auth(SCIM_TOKEN)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        v["Resources"].as_array().cloned().unwrap_or_default()
    }

    async fn user(&self, external_id: &str) -> Option<Value> {
        by_external_id(&self.list("Users").await, external_id)
    }

    async fn group(&self, name: &str) -> Option<Value> {
        self.list("Groups")
            .await
            .into_iter()
            .find(|g| g["displayName"] == name)
    }

    /// Stops it with SIGINT, as at Ctrl-C; returns the resources it held
    /// (its `--dump-resources` file).
    fn stop(mut self) -> Vec<Value> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                let text = std::fs::read_to_string(&self.dump).expect("dump written at stop");
                return serde_json::from_str(&text).expect("dump json");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("scim2-server did not stop on SIGINT");
    }
}

impl Drop for Scim2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn by_external_id(resources: &[Value], external_id: &str) -> Option<Value> {
    resources
        .iter()
        .find(|r| r["externalId"] == external_id)
        .cloned()
}

fn members(group: &Value) -> Vec<String> {
    let mut m: Vec<String> = group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    m.sort();
    m
}

fn ids(users: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

/// Polls `check` (real time: the worker runs once a second) until it
/// yields a value.
async fn eventually<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn update_alice(srv: &TestServer, change: UserUpdate) {
    srv.app
        .store
        .update_user("alice", &change, srv.app.now())
        .await
        .expect("update alice");
}

fn target(base: &str) -> ScimTargetConfig {
    ScimTargetConfig {
        name: TARGET.into(),
        base_url: base.into(),
        token_env: SCIM_TOKEN_ENV.into(),
        groups: vec![],
        ca_file: None,
        profile: Default::default(),
    }
}

/// vCenter's identity broker reads VMware's `ws1b` extension: AD users
/// and groups from slapd (AD-shaped) reach a scim2-server that serves the
/// ws1b schemas (tests/support/ws1b-*.json) with it; the group carries
/// its `distinguishedName` and `description`; a membership and a
/// description changed in the directory reach the SCIM group after the
/// next sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_and_groups_reach_vcenter_with_the_ws1b_extension() {
    ws1b_from_the_directory(Db::Sqlite).await;
}

/// The same on PostgreSQL (the group facts and the outbox are one SQL
/// text for both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_and_groups_reach_vcenter_with_the_ws1b_extension_on_postgres() {
    ws1b_from_the_directory(Db::Postgres).await;
}

async fn ws1b_from_the_directory(db: Db) {
    use crate::slapd::{Shape, Slapd, ad_group, ad_user, have_slapd};
    if !have_slapd() {
        return;
    }
    let Some(bin) = scim2_server() else {
        return;
    };
    // objectGUID as AD stores it; the LDIF carries its base64, which is
    // exactly what adSourceAnchor must be.
    const GUID: [u8; 16] = [
        0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
        0x78,
    ];
    // The group's distinguishedName differs from its entry DN here (an OU
    // the entry is not under), so what vCenter gets can only come from the
    // attribute; slapd returns DN values in its pretty form (attribute
    // types lower case), hence GROUP_DN as stored.
    const GROUP_DN_SET: &str = "CN=VC Admins,OU=Security Groups,DC=corp,DC=example";
    const GROUP_DN: &str = "cn=VC Admins,ou=Security Groups,dc=corp,dc=example";
    let ldap = Slapd::start(Shape::ActiveDirectory, false);
    ldap.add(&format!(
        "{}{}{}",
        ad_user("dave", "dave-pw", GUID),
        ad_user("erin", "erin-pw", [2; 16]),
        ad_group("VC Admins", &["dave"])
    ));
    ldap.modify(&format!(
        "dn: cn=VC Admins,ou=groups,dc=corp,dc=example\nchangetype: modify\n\
         add: description\ndescription: vSphere administrators\n-\n\
         add: distinguishedName\ndistinguishedName: {GROUP_DN_SET}\n"
    ));
    let dir = temp_dir();
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    let schemas = support.join("ws1b-schemas.json").display().to_string();
    let types = support
        .join("ws1b-resource-types.json")
        .display()
        .to_string();
    let scim = Scim2::start_with(
        &bin,
        free_port(),
        &dir.0,
        "ws1b",
        &["--schema", &schemas, "--resource-type", &types],
    )
    .await;
    let base = scim.base.clone();
    let entry = crate::directory::entry(
        &ldap,
        &ldap.url(),
        serde_json::json!({ "group_base": "ou=groups,dc=corp,dc=example" }),
    );
    let Some(srv) = TestServer::start(db, move |c| {
        c.directories = vec![entry];
        c.scim.targets = vec![ScimTargetConfig {
            profile: ScimProfile::Vcenter,
            ..target(&base)
        }];
    })
    .await
    else {
        return;
    };
    crate::directory::sync(&srv, false).await.expect("sync");
    let id = async |login: &str| {
        srv.app
            .store
            .user_by_login(login)
            .await
            .unwrap()
            .expect("synced")
            .id
    };
    let (dave_id, erin_id) = (id("dave").await, id("erin").await);
    let d = eventually("dave provisioned", 20, async || scim.user(&dave_id).await).await;
    assert_eq!(d["userName"], "dave@corp.example");
    assert!(
        d["schemas"].as_array().unwrap().contains(&WS1B_USER.into()),
        "{d}"
    );
    use base64::Engine;
    assert_eq!(
        d[WS1B_USER],
        serde_json::json!({
            "domain": "corp.example",
            "userPrincipalName": "dave@corp.example",
            "distinguishedName": "cn=dave,ou=people,dc=corp,dc=example",
            "adSourceAnchor": base64::engine::general_purpose::STANDARD.encode(GUID),
        })
    );
    let g = eventually("VC Admins with dave", 20, async || {
        let g = scim.group("VC Admins").await?;
        (members(&g) == ids(&[&d])).then_some(g)
    })
    .await;
    // What the SCIM server stored for the group.
    assert_eq!(
        g[WS1B_GROUP],
        serde_json::json!({
            "domain": "corp.example",
            "distinguishedName": GROUP_DN,
            "description": "vSphere administrators",
        }),
        "{g}"
    );

    // Erin joins VC Admins in the directory: after the next sync the SCIM
    // group has her too.
    ldap.modify(
        "dn: cn=VC Admins,ou=groups,dc=corp,dc=example\nchangetype: modify\nadd: member\n\
         member: cn=erin,ou=people,dc=corp,dc=example\n",
    );
    crate::directory::sync(&srv, false)
        .await
        .expect("second sync");
    let e = eventually("erin provisioned", 20, async || scim.user(&erin_id).await).await;
    eventually("VC Admins with dave and erin", 20, async || {
        let g = scim.group("VC Admins").await?;
        (members(&g) == ids(&[&d, &e])).then_some(())
    })
    .await;

    // Only the description changes in the directory: the next sync sends
    // it (no membership changed, so only the extension can carry it).
    ldap.modify(
        "dn: cn=VC Admins,ou=groups,dc=corp,dc=example\nchangetype: modify\n\
         replace: description\ndescription: vCenter operators\n",
    );
    let report = crate::directory::sync(&srv, false)
        .await
        .expect("third sync");
    assert_eq!(report.groups_changed, vec!["VC Admins"]);
    let g = eventually("the new description", 20, async || {
        let g = scim.group("VC Admins").await?;
        (g[WS1B_GROUP]["description"] == "vCenter operators").then_some(g)
    })
    .await;
    assert_eq!(g[WS1B_GROUP]["distinguishedName"], GROUP_DN, "{g}");
    assert_eq!(members(&g), ids(&[&d, &e]), "{g}");

    // Behind Tollgate's back the target's group gets another description
    // (its members stay): `scim sync --dry-run`'s plan lists exactly that,
    // old → new, and changes nothing; the real sync puts it back.
    let mut stale = g.clone();
    stale[WS1B_GROUP]["description"] = "stale text".into();
    let put = reqwest::Client::new()
        .put(format!(
            "{}/Groups/{}",
            scim.base,
            g["id"].as_str().unwrap()
        ))
        .bearer_auth(SCIM_TOKEN)
        .json(&stale)
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let t = tollgate_authz::scim::target(&srv.app.config.scim.targets[0], &|k| {
        (k == SCIM_TOKEN_ENV).then(|| SCIM_TOKEN.to_string())
    })
    .expect("target");
    let w = tollgate_authz::scim::worker::TargetWorker::new(t, Duration::from_secs(5)).unwrap();
    let plan = tollgate_authz::scim::plan::plan(&srv.app.store, &w.target, &w.client)
        .await
        .expect("plan");
    let shown: Vec<String> = plan.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        shown,
        vec!["update group VC Admins: ws1b description \"stale text\" → \"vCenter operators\""]
    );
    assert_eq!(
        scim.group("VC Admins").await.unwrap()[WS1B_GROUP]["description"],
        "stale text",
        "the dry run changed nothing"
    );
    assert_eq!(srv.app.store.scim_status(TARGET).await.unwrap().pending, 0);
    tollgate_authz::scim::plan::apply(&srv.app.store, TARGET, &plan, srv.app.now())
        .await
        .expect("apply");
    eventually("the description put back", 20, async || {
        let g = scim.group("VC Admins").await?;
        (g[WS1B_GROUP]["description"] == "vCenter operators").then_some(())
    })
    .await;
    let again = tollgate_authz::scim::plan::plan(&srv.app.store, &w.target, &w.client)
        .await
        .expect("plan");
    assert!(again.is_empty(), "{again:?}");
}

/// vCenter's SCIM endpoint has a certificate from its own CA (VMCA): the
/// scim2-server behind nginx with a certificate from a CA made here.
/// Without `ca_file` nothing is provisioned and the target's error says
/// why and what to set; with it, provisioning works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_to_a_target_behind_a_private_ca_needs_its_ca_file() {
    if !crate::tls_front::TlsFront::available() {
        return;
    }
    let Some(bin) = scim2_server() else {
        return;
    };
    let dir = temp_dir();
    let port = free_port();
    let scim = Scim2::start(&bin, port, &dir.0, "tls").await;
    let front = crate::tls_front::TlsFront::start(&format!("127.0.0.1:{port}"));
    let tls_base = format!("{}/v2", front.url);
    let base = tls_base.clone();
    let srv = TestServer::start(Db::Sqlite, move |c| {
        c.scim.targets = vec![target(&base)];
        c.scim.retry_base = 1;
        c.scim.retry_max = 1;
    })
    .await
    .expect("sqlite server");
    let alice = srv.add_user("alice", &["vc-admins"]).await;
    let err = eventually("the TLS failure recorded", 20, async || {
        srv.app.store.scim_status(TARGET).await.ok()?.last_error
    })
    .await;
    assert!(
        err.contains("UnknownIssuer")
            && err.contains("not signed by a CA Tollgate trusts; set ca_file"),
        "{err}"
    );
    assert!(scim.user(&alice).await.is_none(), "nothing without the CA");

    let ca = front.ca.clone();
    let srv = srv
        .stop_keeping_data()
        .await
        .restart_with(move |c| {
            c.scim.targets = vec![ScimTargetConfig {
                ca_file: Some(ca),
                ..target(&tls_base)
            }];
        })
        .await;
    let a = eventually("alice provisioned over TLS", 20, async || {
        scim.user(&alice).await
    })
    .await;
    assert_eq!(a["userName"], "alice@corp.example");
    eventually("the target recovered", 20, async || {
        let st = srv.app.store.scim_status(TARGET).await.ok()?;
        (st.failures == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_provisioning_reaches_scim2_server_and_survives_an_outage_and_restart() {
    let Some(bin) = scim2_server() else {
        return;
    };
    let dir = temp_dir();
    let port = free_port();
    let scim = Scim2::start(&bin, port, &dir.0, "first").await;

    // A user that exists before the target is configured: the initial full
    // sync carries it.
    let srv = TestServer::start(Db::Sqlite, |_| {})
        .await
        .expect("sqlite server");
    let early = srv.add_user("early", &["vc-admins"]).await;
    let base = scim.base.clone();
    let srv = srv
        .stop_keeping_data()
        .await
        .restart_with(move |c| {
            c.scim.targets = vec![target(&base)];
            c.scim.retry_base = 1;
            c.scim.retry_max = 2;
        })
        .await;
    let e = eventually("initial sync of early", 20, async || {
        scim.user(&early).await
    })
    .await;
    assert_eq!(e["userName"], "early@corp.example");
    assert_eq!(e["active"], true);
    assert_eq!(e["displayName"], "early Example");
    assert_eq!(e["name"]["givenName"], "early");
    assert_eq!(e["name"]["familyName"], "Example");
    assert_eq!(e["emails"][0]["value"], "early@example.com");
    eventually("vc-admins with early", 20, async || {
        let g = scim.group("vc-admins").await?;
        (members(&g) == ids(&[&e])).then_some(())
    })
    .await;

    // Create.
    let alice = srv.add_user("alice", &["vc-admins"]).await;
    let a = eventually("alice created", 20, async || scim.user(&alice).await).await;
    assert_eq!(a["userName"], "alice@corp.example");
    eventually("vc-admins with early and alice", 20, async || {
        let g = scim.group("vc-admins").await?;
        (members(&g) == ids(&[&e, &a])).then_some(())
    })
    .await;

    // Update: name, email and groups; the same resource is updated in place.
    update_alice(
        &srv,
        UserUpdate {
            display_name: Some("Alice Liddell".into()),
            email: Some("alice@wonder.example".into()),
            groups: Some(vec!["vc-ops".into()]),
            ..UserUpdate::default()
        },
    )
    .await;
    let a2 = eventually("alice updated", 20, async || {
        let u = scim.user(&alice).await?;
        (u["displayName"] == "Alice Liddell").then_some(u)
    })
    .await;
    assert_eq!(a2["id"], a["id"], "updated, not recreated");
    assert_eq!(a2["emails"][0]["value"], "alice@wonder.example");
    assert_eq!(a2["name"]["familyName"], "Liddell");
    eventually("alice moved from vc-admins to vc-ops", 20, async || {
        let admins = scim.group("vc-admins").await?;
        let ops = scim.group("vc-ops").await?;
        (members(&admins) == ids(&[&e]) && members(&ops) == ids(&[&a])).then_some(())
    })
    .await;

    // Deactivate: never deleted.
    srv.app
        .store
        .disable_user("early", srv.app.now())
        .await
        .unwrap();
    let e2 = eventually("early deactivated", 20, async || {
        let u = scim.user(&early).await?;
        (u["active"] == false).then_some(u)
    })
    .await;
    assert_eq!(e2["id"], e["id"]);

    let metrics = eventually("pending gauge at 0", 10, async || {
        let m = reqwest::get(format!("{}/metrics", srv.base))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        // The delivery counters are bumped after the target answered, so
        // wait for them too, not only for the queue to drain.
        let counted = ["created", "updated", "deactivated"].iter().all(|o| {
            m.contains(&format!(
                "tollgate_scim_deliveries_total{{target=\"scim2\",outcome=\"{o}\"}}"
            ))
        });
        (m.contains("tollgate_scim_pending{target=\"scim2\"} 0") && counted).then_some(m)
    })
    .await;
    for outcome in ["created", "updated", "deactivated"] {
        assert!(
            metrics.contains(&format!(
                "tollgate_scim_deliveries_total{{target=\"scim2\",outcome=\"{outcome}\"}}"
            )),
            "{outcome} missing in:\n{metrics}"
        );
    }

    // The SCIM server stops in the middle of a bulk sync.
    let bulk: Vec<NewUser> = (0..40)
        .map(|i| NewUser {
            login: format!("bulk{i:02}"),
            display_name: format!("Bulk {i:02}"),
            upn: Some(format!("bulk{i:02}@corp.example")),
            groups: vec!["bulk".into()],
            ..NewUser::default()
        })
        .collect();
    let bulk_ids = srv
        .app
        .store
        .insert_users(&bulk, srv.app.now())
        .await
        .unwrap();
    let bulk_ids2 = bulk_ids.clone();
    eventually("the bulk sync under way", 20, async || {
        let users = scim.list("Users").await;
        bulk_ids2
            .iter()
            .any(|id| by_external_id(&users, id).is_some())
            .then_some(())
    })
    .await;
    let before = scim.stop();
    let log = std::fs::read_to_string(dir.0.join("first.log")).unwrap();
    assert!(
        log.contains("\"PATCH /v2/Groups/"),
        "memberships are PATCHed where the target supports it"
    );
    let stopped_at = srv.app.now();

    // Changes while it is down.
    let bob = srv.add_user("bob", &["vc-ops"]).await;
    update_alice(
        &srv,
        UserUpdate {
            display_name: Some("Alice Pleasance Liddell".into()),
            groups: Some(vec!["vc-ops".into(), "vc-admins".into()]),
            ..UserUpdate::default()
        },
    )
    .await;
    let down = eventually("the worker notices the outage", 20, async || {
        let s = srv.app.store.scim_status(TARGET).await.ok()?;
        (s.last_error_at.unwrap_or(0) >= stopped_at && s.failures > 0).then_some(s)
    })
    .await;
    // "cannot connect: …", or a request cut off by the stop
    let error = down.last_error.unwrap_or_default();
    assert!(
        error.contains("cannot connect") || error.contains("request failed"),
        "{error}"
    );

    // Tollgate restarts while the target is still down: the queue is in the database.
    let pending = srv.app.store.scim_status(TARGET).await.unwrap().pending;
    assert!(
        pending >= 3,
        "bob, alice and her groups are pending: {pending}"
    );
    let srv = srv.stop_keeping_data().await.restart().await;
    let after_restart = srv.app.store.scim_status(TARGET).await.unwrap();
    assert_eq!(after_restart.pending, pending, "a restart loses nothing");

    // The SCIM server comes back (empty: its storage is in memory).
    let scim = Scim2::start(&bin, port, &dir.0, "second").await;
    eventually("every pending change delivered", 60, async || {
        let s = srv.app.store.scim_status(TARGET).await.ok()?;
        (s.pending == 0 && s.failed == 0).then_some(())
    })
    .await;
    let live = scim.list("Users").await;
    for id in &bulk_ids {
        if by_external_id(&before, id).is_some() || by_external_id(&live, id).is_some() {
            continue;
        }
        // scim2-server writes its dump when it stops listening, while a
        // request already taken may still be answered: a user it created
        // (and answered 201 for, so Tollgate holds its id) after the dump
        // is in neither listing. Only such a user may be missing; the sync
        // below restores it with the rest of what the target lost.
        let held = srv
            .app
            .store
            .scim_resource(TARGET, ScimKind::User, id)
            .await
            .unwrap();
        assert!(
            held.is_some(),
            "bulk user {id} lost: never in a target, and not delivered"
        );
    }
    let b = by_external_id(&live, &bob).expect("bob created after the outage");
    assert_eq!(b["active"], true);
    // Her pending change was a PUT to an id the restarted target no longer
    // has (404): she is created again, with the change.
    let a3 = by_external_id(&live, &alice).expect("alice re-created where the target lost her");
    assert_eq!(a3["displayName"], "Alice Pleasance Liddell");
    assert!(
        a3["name"].get("givenName").is_none(),
        "three words: formatted only"
    );
    let ops = scim.group("vc-ops").await.expect("vc-ops");
    let admins = scim.group("vc-admins").await.expect("vc-admins");
    for m in ids(&[&a3, &b]) {
        assert!(members(&ops).contains(&m), "vc-ops lacks {m}: {ops}");
    }
    assert!(members(&admins).contains(&ids(&[&a3])[0]), "{admins}");

    // The CLI: status, a dry run that shows what the restarted (empty)
    // target lost and changes nothing, then the real sync, and a change
    // made by `tollgate users update` in another process.
    let lost: Vec<&String> = bulk_ids
        .iter()
        .filter(|id| by_external_id(&live, id).is_none())
        .collect();
    assert!(
        !lost.is_empty(),
        "some bulk users were delivered before the stop"
    );
    let cfg = dir.0.join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"{}\"\n\
             [[scim.targets]]\nname = \"{TARGET}\"\nbase_url = \"{}\"\ntoken_env = \"{SCIM_TOKEN_ENV}\"\n",
            srv.config_database_url(),
            scim.base
        ),
    )
    .unwrap();
    let tollgate = tollgate::tollgate_bin();
    let run = |args: &[&str]| {
        let out = Command::new(&tollgate)
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .env(SCIM_TOKEN_ENV, SCIM_TOKEN)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "tollgate {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let status = run(&["scim", "status"]);
    assert!(
        status.contains("scim2\t") && status.contains("pending=0"),
        "{status}"
    );
    assert!(status.contains("last success: 20"), "{status}");
    let dry = run(&["scim", "sync", "--target", TARGET, "--dry-run"]);
    let lost_user = srv.app.store.user(lost[0]).await.unwrap().unwrap();
    assert!(
        dry.contains(&format!(
            "would create user {}",
            lost_user.upn.as_deref().unwrap()
        )),
        "{dry}"
    );
    // (create, when every bulk user had arrived before the stop)
    assert!(
        dry.contains("would update group bulk: members") || dry.contains("would create group bulk"),
        "{dry}"
    );
    assert!(dry.contains("nothing was changed"), "{dry}");
    assert!(by_external_id(&scim.list("Users").await, lost[0]).is_none());
    assert_eq!(srv.app.store.scim_status(TARGET).await.unwrap().pending, 0);

    run(&["scim", "sync", "--target", TARGET]);
    eventually("the sync restores what the target lost", 30, async || {
        let users = scim.list("Users").await;
        let all: Option<Vec<Value>> = bulk_ids
            .iter()
            .map(|id| by_external_id(&users, id))
            .collect();
        let all = all?;
        let g = scim.group("bulk").await?;
        (members(&g) == ids(&all.iter().collect::<Vec<_>>())).then_some(())
    })
    .await;
    let again = run(&["scim", "sync", "--target", TARGET, "--dry-run"]);
    assert!(again.contains("dry run: 0 change(s)"), "{again}");

    run(&["users", "update", "alice", "--group", "vc-ops"]);
    eventually(
        "alice left vc-admins (changed by the CLI)",
        20,
        async || {
            let g = scim.group("vc-admins").await?;
            (!members(&g).contains(&ids(&[&a3])[0])).then_some(())
        },
    )
    .await;
}

/// A target without PATCH support gets whole groups by PUT; a `groups`
/// filter keeps users and groups outside it away, and a user who leaves the
/// filtered groups is deactivated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_without_patch_support_and_with_a_group_filter() {
    without_patch_with_filter(Db::Sqlite).await;
}

/// The same on PostgreSQL: the outbox queries are one text for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_without_patch_support_and_with_a_group_filter_on_postgres() {
    without_patch_with_filter(Db::Postgres).await;
}

async fn without_patch_with_filter(db: Db) {
    let Some(bin) = scim2_server() else {
        return;
    };
    let dir = temp_dir();
    let spc = dir.0.join("spc.json");
    std::fs::write(
        &spc,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": false}, "bulk": {"supported": false},
            "filter": {"supported": true, "maxResults": 1000},
            "changePassword": {"supported": false}, "sort": {"supported": true},
            "etag": {"supported": true}}"#,
    )
    .unwrap();
    let port = free_port();
    let spc_arg = spc.display().to_string();
    let scim = Scim2::start_with(
        &bin,
        port,
        &dir.0,
        "nopatch",
        &["--service-provider-config", &spc_arg],
    )
    .await;
    let base = scim.base.clone();
    let Some(srv) = TestServer::start(db, move |c| {
        c.scim.targets = vec![ScimTargetConfig {
            groups: vec!["vc-admins".into()],
            ..target(&base)
        }];
    })
    .await
    else {
        return;
    };
    let alice = srv.add_user("alice", &["vc-admins"]).await;
    let bob = srv.add_user("bob", &["vc-admins", "other"]).await;
    let carol = srv.add_user("carol", &["other"]).await;
    let (a, b) = eventually("alice and bob in vc-admins", 20, async || {
        let (a, b) = (scim.user(&alice).await?, scim.user(&bob).await?);
        let g = scim.group("vc-admins").await?;
        (members(&g) == ids(&[&a, &b])).then_some((a, b))
    })
    .await;

    let change = UserUpdate {
        groups: Some(vec!["other".into()]),
        ..UserUpdate::default()
    };
    srv.app
        .store
        .update_user("bob", &change, srv.app.now())
        .await
        .unwrap();
    eventually("bob out of vc-admins and deactivated", 20, async || {
        let g = scim.group("vc-admins").await?;
        let b2 = scim.user(&bob).await?;
        (members(&g) == ids(&[&a]) && b2["active"] == false && b2["id"] == b["id"]).then_some(())
    })
    .await;
    assert!(
        scim.user(&carol).await.is_none(),
        "carol is outside the filter"
    );
    assert!(scim.group("other").await.is_none(), "so is the group other");
    let log = std::fs::read_to_string(dir.0.join("nopatch.log")).unwrap();
    assert!(log.contains("\"PUT /v2/Groups/"), "{log}");
    assert!(
        !log.contains("\"PATCH "),
        "no PATCH when unsupported:\n{log}"
    );
}
