//! Attack corpus, the audit log (issue 13): deleting the newest records
//! leaves a perfectly linked, shorter chain; the signed checkpoint written
//! at shutdown makes `tollgate audit verify` fail and say which records
//! are gone, from the database's own table or from the exported file when
//! the table was emptied too.

use tollgate::{Db, TestServer, temp_dir};

const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test]
async fn audit_verify_finds_the_newest_records_deleted() {
    let dir = temp_dir();
    let file = dir.0.join("checkpoints.jsonl");
    let export = file.clone();
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.audit.checkpoint_file = Some(export);
        c.audit.checkpoint_interval = 0;
    })
    .await
    else {
        return;
    };
    for n in 0..6 {
        srv.app
            .audit("test.record", "t", "s", serde_json::json!({ "n": n }))
            .await;
    }
    let url = srv.config_database_url();
    let issuer = srv.app.urls.issuer.clone();
    let stopped = srv.stop_keeping_data().await;
    let cfg = dir.0.join("tollgate.toml");
    std::fs::write(
        &cfg,
        format!("version = 1\nissuer = \"{issuer}\"\n[database]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let verify = |extra: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(tollgate::tollgate_bin())
            .args(["audit", "verify", "--config"])
            .arg(&cfg)
            .args(extra)
            .env("TOLLGATE_MASTER_KEY", MASTER)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = verify(&[]);
    assert!(ok, "{text}");
    assert!(text.contains("matches"), "{text}");
    assert!(std::fs::read_to_string(&file).unwrap().lines().count() >= 1);

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id > ?")
        .bind(last - 2)
        .execute(&pool)
        .await
        .unwrap();
    let (ok, text) = verify(&[]);
    assert!(!ok, "{text}");
    let missing = format!("records {}..={} are missing", last - 1, last);
    assert!(text.contains(&missing), "{text}");

    // The intruder empties the checkpoint table too: the exported file
    // still knows.
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (ok, text) = verify(&[]);
    assert!(ok, "without a checkpoint only the chain is checked: {text}");
    let (ok, text) = verify(&["--checkpoints".as_ref(), file.as_os_str()]);
    assert!(!ok, "{text}");
    assert!(text.contains(&missing), "{text}");
    drop(stopped);
}
