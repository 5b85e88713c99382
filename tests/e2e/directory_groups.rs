//! A directory's groups against real slapds (tests/e2e/slapd.rs): the dry
//! run lists the group changes a sync would write (DN, description, new
//! and removed groups) and changes nothing, also through `tollgate
//! directories sync --dry-run`; two directories with one group name — the
//! second's members do not get the first's group, the warning and the
//! audit log name both, `group_prefix` lets both groups exist, and a
//! directory removed from the config frees its names. On SQLite and
//! PostgreSQL.

use crate::directory::{entry, server, sign_in, signed_in, sync, sync_dir, user};
use crate::slapd::{Shape, Slapd, have_slapd, openldap_group, openldap_user};
use serde_json::json;
use std::process::Command;
use tollgate::{DIRECTORY_PASSWORD, DIRECTORY_PASSWORD_ENV, Db, TestServer};
use tollgate_authz::directory::sync::Report;

const GROUPS: &str = "ou=groups,dc=example,dc=org";
const OPS_DN: &str = "cn=ops,ou=groups,dc=example,dc=org";

fn groups_shown(r: &Report) -> Vec<String> {
    r.groups.iter().map(|c| c.to_string()).collect()
}

fn users_shown(r: &Report) -> Vec<String> {
    r.changes.iter().map(|c| c.to_string()).collect()
}

fn conflicts_shown(r: &Report) -> Vec<String> {
    r.conflicts.iter().map(|c| c.to_string()).collect()
}

/// The rows of `sql` (one text column) on the server's database.
async fn texts(srv: &TestServer, sql: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut c = sqlx::AnyConnection::connect(&srv.config_database_url())
        .await
        .expect("connect");
    sqlx::query_scalar(sql)
        .fetch_all(&mut c)
        .await
        .expect("query")
}

/// Everything a sync could write, as text: the directory groups, the
/// users, the audit log and the SCIM outbox.
async fn stored(srv: &TestServer) -> String {
    let s = &srv.app.store;
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        s.directory_groups_owned().await.unwrap(),
        s.users().await.unwrap(),
        texts(
            srv,
            "SELECT kind || ' ' || subject FROM audit_log ORDER BY id"
        )
        .await,
        texts(srv, "SELECT subject FROM scim_outbox ORDER BY subject").await,
    )
}

fn set_description(ldap: &Slapd, group: &str, text: &str) {
    ldap.modify(&format!(
        "dn: cn={group},{GROUPS}\nchangetype: modify\nreplace: description\ndescription: {text}\n"
    ));
}

/// `tollgate directories sync --dry-run` in another process, on the
/// server's database; its output.
fn cli_dry_run(srv: &TestServer, ldap: &Slapd) -> String {
    let dir = tollgate::temp_dir();
    let cfg = dir.0.join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"{}\"\n\
             [[directories]]\nname = \"corp\"\nurl = \"{}\"\nallow_plain = true\n\
             bind_dn = \"cn=svc,dc=example,dc=org\"\nbind_password_env = \"{DIRECTORY_PASSWORD_ENV}\"\n\
             preset = \"openldap\"\nuser_base = \"ou=people,dc=example,dc=org\"\n\
             group_base = \"{GROUPS}\"\nsync_interval = 0\n",
            srv.config_database_url(),
            ldap.url()
        ),
    )
    .unwrap();
    tollgate::succeeded(
        Command::new(tollgate::tollgate_bin())
            .args(["directories", "sync", "--dry-run", "--config"])
            .arg(&cfg)
            .env(DIRECTORY_PASSWORD_ENV, DIRECTORY_PASSWORD)
            .output()
            .unwrap(),
    )
}

async fn dry_run_shows_group_changes(db: Db) {
    if !have_slapd() {
        return;
    }
    let ldap = Slapd::start(Shape::OpenLdap, false);
    ldap.add(&format!(
        "{}{}",
        openldap_user("alice", "alice-pw"),
        openldap_group("ops", &["alice"])
    ));
    set_description(&ldap, "ops", "Operators");
    let dir = entry(&ldap, &ldap.url(), json!({ "group_base": GROUPS }));
    let Some(srv) = server(db, vec![dir], |_| {}).await else {
        return;
    };

    // A new group: listed with its DN and description, nothing written.
    let before = stored(&srv).await;
    let plan = sync(&srv, true).await.expect("dry run");
    assert_eq!(
        groups_shown(&plan),
        vec![format!(
            "create group \"ops\": dn \"{OPS_DN}\", description \"Operators\""
        )]
    );
    assert_eq!(stored(&srv).await, before, "the dry run changed nothing");
    let done = sync(&srv, false).await.expect("sync");
    assert_eq!(groups_shown(&done), groups_shown(&plan));
    assert_eq!(done.groups_changed, vec!["ops"]);

    // Only the description changes in the directory.
    set_description(&ldap, "ops", "Ops team");
    let before = stored(&srv).await;
    let plan = sync(&srv, true).await.expect("dry run");
    assert_eq!(
        groups_shown(&plan),
        vec!["update group \"ops\": description \"Operators\" → \"Ops team\""]
    );
    assert!(plan.changes.is_empty(), "{plan:?}");
    let cli = cli_dry_run(&srv, &ldap);
    assert!(
        cli.contains(
            "corp: would update group \"ops\": description \"Operators\" → \"Ops team\"\n"
        ) && cli.contains("corp: 1 change(s), dry run: nothing was changed"),
        "{cli}"
    );
    assert_eq!(stored(&srv).await, before, "the dry runs changed nothing");
    let ops = srv.app.store.directory_group("ops").await.unwrap().unwrap();
    assert_eq!(ops.description.as_deref(), Some("Operators"));
    let done = sync(&srv, false).await.expect("sync");
    assert_eq!(groups_shown(&done), groups_shown(&plan));
    let ops = srv.app.store.directory_group("ops").await.unwrap().unwrap();
    assert_eq!(ops.description.as_deref(), Some("Ops team"));
    assert!(sync(&srv, true).await.unwrap().groups.is_empty(), "in sync");

    // The group is deleted in the directory: its removal and alice's
    // groups are listed, then written.
    ldap.modify(&format!("dn: {OPS_DN}\nchangetype: delete\n"));
    let before = stored(&srv).await;
    let plan = sync(&srv, true).await.expect("dry run");
    assert_eq!(
        groups_shown(&plan),
        vec!["remove group \"ops\": no longer in the directory"]
    );
    assert_eq!(users_shown(&plan), vec!["update user \"alice\": groups"]);
    assert_eq!(stored(&srv).await, before, "the dry run changed nothing");
    sync(&srv, false).await.expect("sync");
    assert!(
        srv.app
            .store
            .directory_group("ops")
            .await
            .unwrap()
            .is_none()
    );
    assert!(user(&srv, "alice").await.groups.is_empty());
}

#[tokio::test]
async fn directory_dry_run_lists_group_changes_and_changes_nothing_sqlite() {
    dry_run_shows_group_changes(Db::Sqlite).await
}

#[tokio::test]
async fn directory_dry_run_lists_group_changes_and_changes_nothing_postgres() {
    dry_run_shows_group_changes(Db::Postgres).await
}

async fn one_group_name_two_directories(db: Db) {
    if !have_slapd() {
        return;
    }
    // Two directories, each with a "vcenter-admins".
    let corp = Slapd::start(Shape::OpenLdap, false);
    corp.add(&format!(
        "{}{}",
        openldap_user("alice", "alice-pw"),
        openldap_group("vcenter-admins", &["alice"])
    ));
    set_description(&corp, "vcenter-admins", "corp vSphere admins");
    let lab = Slapd::start(Shape::OpenLdap, false);
    lab.add(&format!(
        "{}{}{}",
        openldap_user("mallory", "mallory-pw"),
        openldap_group("vcenter-admins", &["mallory"]),
        openldap_group("testers", &["mallory"])
    ));
    let corp_entry = entry(&corp, &corp.url(), json!({ "group_base": GROUPS }));
    let lab_entry = |extra: serde_json::Value| {
        let mut v = json!({ "name": "lab", "group_base": GROUPS });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        entry(&lab, &lab.url(), v)
    };
    let dirs = vec![corp_entry.clone(), lab_entry(json!({}))];
    let Some(srv) = server(db, dirs, |_| {}).await else {
        return;
    };
    let owner = async |srv: &TestServer, name: &str| {
        srv.app.store.directory_group_owner(name).await.unwrap()
    };
    sync_dir(&srv, "corp", false).await.expect("corp sync");
    assert_eq!(user(&srv, "alice").await.groups, vec!["vcenter-admins"]);

    // The second directory does not get the name: its dry run and its
    // sync warn, naming both directories and the group.
    let warning = "group \"vcenter-admins\" belongs to directory \"corp\"; skipped for directory \"lab\" (its members do not get it from \"lab\"; set group_prefix on one of the two)";
    let plan = sync_dir(&srv, "lab", true).await.expect("lab dry run");
    assert_eq!(conflicts_shown(&plan), vec![warning]);
    assert_eq!(
        users_shown(&plan),
        vec!["create user \"mallory\" (groups: testers)"]
    );
    assert_eq!(
        groups_shown(&plan),
        vec!["create group \"testers\": dn \"cn=testers,ou=groups,dc=example,dc=org\""]
    );
    let done = sync_dir(&srv, "lab", false).await.expect("lab sync");
    assert_eq!(conflicts_shown(&done), vec![warning]);
    assert_eq!(user(&srv, "mallory").await.groups, vec!["testers"]);
    let audit = texts(
        &srv,
        "SELECT subject || ' ' || data FROM audit_log WHERE kind = 'directory.group_conflict'",
    )
    .await;
    assert_eq!(
        audit,
        vec![r#"vcenter-admins {"directory":"lab","owner":"corp"}"#]
    );
    // The group keeps corp's facts; corp's next sync has nothing to flip back.
    assert_eq!(owner(&srv, "vcenter-admins").await.as_deref(), Some("corp"));
    let g = srv
        .app
        .store
        .directory_group("vcenter-admins")
        .await
        .unwrap();
    assert_eq!(
        g.unwrap().description.as_deref(),
        Some("corp vSphere admins")
    );
    let again = sync_dir(&srv, "corp", false).await.unwrap();
    assert!(
        again.groups.is_empty() && again.changes.is_empty(),
        "{again:?}"
    );
    // Nor at sign-in (the entry is read again then).
    assert!(signed_in(&sign_in(&srv, "mallory", "mallory-pw").await));
    assert_eq!(user(&srv, "mallory").await.groups, vec!["testers"]);

    // The way out: a prefix on the second directory; both groups exist.
    let srv = srv
        .stop_keeping_data()
        .await
        .restart_with({
            let dirs = vec![corp_entry, lab_entry(json!({ "group_prefix": "lab-" }))];
            move |c| c.directories = dirs
        })
        .await;
    let done = sync_dir(&srv, "lab", false).await.expect("lab sync");
    assert!(done.conflicts.is_empty(), "{done:?}");
    assert_eq!(
        user(&srv, "mallory").await.groups,
        vec!["lab-testers", "lab-vcenter-admins"]
    );
    assert_eq!(user(&srv, "alice").await.groups, vec!["vcenter-admins"]);
    assert_eq!(
        owner(&srv, "lab-vcenter-admins").await.as_deref(),
        Some("lab")
    );
    assert_eq!(owner(&srv, "vcenter-admins").await.as_deref(), Some("corp"));
    assert_eq!(
        owner(&srv, "testers").await,
        None,
        "the unprefixed name is gone"
    );

    // corp leaves the config: its names are free, and lab (no prefix
    // now) claims "vcenter-admins", which the audit log records.
    let srv = srv
        .stop_keeping_data()
        .await
        .restart_with({
            let dirs = vec![lab_entry(json!({}))];
            move |c| c.directories = dirs
        })
        .await;
    let plan = sync_dir(&srv, "lab", true).await.expect("lab dry run");
    assert!(
        groups_shown(&plan).contains(
            &"claim group \"vcenter-admins\" from directory \"corp\" (no longer configured): description \"corp vSphere admins\" → (none)"
                .to_string()
        ),
        "{plan:?}"
    );
    sync_dir(&srv, "lab", false).await.expect("lab sync");
    assert_eq!(owner(&srv, "vcenter-admins").await.as_deref(), Some("lab"));
    assert_eq!(
        user(&srv, "mallory").await.groups,
        vec!["testers", "vcenter-admins"]
    );
    let claimed = texts(
        &srv,
        "SELECT subject || ' ' || data FROM audit_log WHERE kind = 'directory.group_claimed'",
    )
    .await;
    assert_eq!(
        claimed,
        vec![r#"vcenter-admins {"directory":"lab","from":"corp"}"#]
    );
}

#[tokio::test]
async fn directory_group_name_stays_with_its_first_directory_sqlite() {
    one_group_name_two_directories(Db::Sqlite).await
}

#[tokio::test]
async fn directory_group_name_stays_with_its_first_directory_postgres() {
    one_group_name_two_directories(Db::Postgres).await
}
