//! Attack corpus, audit truncation (issue 13), through the real `tollgate`
//! binary: a hash chain alone says "intact" after its newest records are
//! deleted; the signed checkpoint the server writes at shutdown makes
//! `tollgate audit verify` fail naming the missing records, and the
//! exported checkpoint file (`[audit] checkpoint_file`) still does when
//! the checkpoints table was emptied as well.

use crate::agent::tollgate_bin;
use std::process::{Command, Output};
use tollgate::{Db, TestServer, temp_dir};

/// The master key `TestServer` starts with (the CLI must unseal the same
/// signing keys to check the checkpoint's signature).
const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn verify(config: &std::path::Path, checkpoints: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(tollgate_bin());
    cmd.args(["audit", "verify", "--config"]).arg(config);
    if let Some(f) = checkpoints {
        cmd.arg("--checkpoints").arg(f);
    }
    cmd.env("TOLLGATE_MASTER_KEY", MASTER)
        .env_remove("TOLLGATE_DATABASE_URL")
        .output()
        .expect("run tollgate audit verify")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn sql(url: &str, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn truncation_is_named(db: Db) {
    let dir = temp_dir();
    let file = dir.0.join("checkpoints.jsonl");
    let exported = file.clone();
    let Some(srv) = TestServer::start(db, move |c| {
        c.audit.checkpoint_file = Some(exported);
        c.audit.checkpoint_interval = 0;
    })
    .await
    else {
        return;
    };
    for i in 0..5 {
        srv.app
            .audit(
                "test.record",
                "e2e",
                &format!("r{i}"),
                serde_json::json!({}),
            )
            .await;
    }
    let url = srv.config_database_url();
    let config = dir.0.join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\nissuer = \"{}\"\nlisten = \"127.0.0.1:1\"\n[database]\nurl = \"{url}\"\n",
            srv.app.urls.issuer
        ),
    )
    .unwrap();
    // Shutdown writes the checkpoint (table and file); the database stays.
    let _stopped = srv.stop_keeping_data().await;
    let ok = verify(&config, None);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("intact") && text(&ok).contains("matches"),
        "{}",
        text(&ok)
    );

    // The two newest records go; the chain that is left is consistent.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    sql(
        &url,
        &format!("DELETE FROM audit_log WHERE id > {}", last - 2),
    )
    .await;
    let missing = format!("records {}..={last} are missing", last - 1);
    let cut = verify(&config, None);
    assert!(!cut.status.success(), "truncation passed: {}", text(&cut));
    assert!(text(&cut).contains(&missing), "{}", text(&cut));

    // The attacker empties the checkpoints table too: the database alone
    // now looks like a log that never had a checkpoint, but the exported
    // file still names what is gone.
    sql(&url, "DELETE FROM audit_checkpoints").await;
    let fooled = verify(&config, None);
    assert!(
        fooled.status.success() && text(&fooled).contains("no checkpoint"),
        "{}",
        text(&fooled)
    );
    let caught = verify(&config, Some(&file));
    assert!(
        !caught.status.success(),
        "truncation passed with the file: {}",
        text(&caught)
    );
    assert!(text(&caught).contains(&missing), "{}", text(&caught));
}

#[tokio::test]
async fn audit_verify_names_deleted_newest_records_sqlite() {
    truncation_is_named(Db::Sqlite).await;
}

#[tokio::test]
async fn audit_verify_names_deleted_newest_records_postgres() {
    truncation_is_named(Db::Postgres).await;
}
