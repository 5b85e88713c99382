//! `tollgate serve`.

use super::{CliError, env, load_config};
use crate::clock::Clock;
use std::path::PathBuf;

pub async fn run(config: Option<&PathBuf>, listen: Option<&str>) -> Result<(), CliError> {
    init_logging();
    let cfg = load_config(config, listen, true)?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let demo = cfg.demo;
    let app = crate::server::start(cfg, Clock::System, &env).await?;
    tracing::info!(issuer = %app.urls.issuer, listen = %app.config.listen, database = %super::redact_url(&app.config.database.url), "tollgate serving");
    if demo {
        let info = crate::server::ensure_demo(&app).await?;
        let base = app.urls.issuer.trim_end_matches('/');
        // Written, not `println!`: a closed stdout (`tollgate serve | head`)
        // must not bring the server down.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "\nTollgate demo is running at {base}\n\n  1. Open {base}/demo in a browser.\n  2. Sign in as `{}` with password `{}`.\n  3. You land on a page showing the ID token's claims.\n\n  Discovery: {base}/.well-known/openid-configuration\n  The demo client is `demo`; its secret is in {}.\n  Data lives in ./data/ (delete it to start over). Ctrl-C stops.\n",
            info.user,
            info.password,
            info.client_secret_path
        );
    }
    crate::server::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
