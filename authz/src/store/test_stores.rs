//! Stores for the store's own tests: a migrated SQLite file, and a
//! PostgreSQL database when the server is up (required under CI=true, as
//! in the end-to-end harness), so every query is proven on both backends.

use super::Store;

/// A migrated SQLite store ([`Store::scratch`]), and a PostgreSQL one when
/// the server is up (required under CI=true, as in the end-to-end
/// harness); user changes are enqueued for the SCIM `targets`.
pub async fn stores(targets: &[&str]) -> Vec<(Store, std::path::PathBuf)> {
    let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    let (s, dir) = Store::scratch("store").await;
    let mut out = vec![(s.with_scim_targets(names.clone()), dir)];
    use sqlx::Connection;
    // The same PostgreSQL the e2e tests use (`.ci/test` may point it elsewhere).
    let admin = std::env::var("TOLLGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut c) => {
            let db = format!(
                "tg_store_{}",
                crate::secret::random_id(6)
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut c)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            let s = Store::connect(&format!("{base}/{db}"), 2).await.unwrap();
            s.migrate().await.unwrap();
            out.push((s.with_scim_targets(names), std::path::PathBuf::new()));
        }
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required under CI=true: {e}")
        }
        Err(e) => eprintln!("\n*** SKIPPED PostgreSQL variant: {e} ***\n"),
    }
    out
}
