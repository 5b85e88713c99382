//! Administrative commands: keys, clients, users, audit.

use super::CliError;
use crate::config::{ClientConfig, Config};
use crate::keys::{Alg, generate_key, retired_key_lifetime};
use crate::oauth::client::{ClientSettings, hash_secret};
use crate::store::{ClientRow, Store};
use clap::Subcommand;
use std::path::PathBuf;

fn now() -> i64 {
    crate::clock::Clock::System.now()
}

async fn store(cfg: &Config) -> Result<Store, CliError> {
    Ok(crate::server::open_store(cfg).await?)
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Add a new key; it is published now and signs after keys.activation_delay.
    Rotate {
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Seconds until the new key signs (default: keys.activation_delay).
        #[arg(long)]
        activate_in: Option<i64>,
    },
    /// List published keys.
    List {
        /// One JSON array of objects instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Each command checks its arguments before it opens the store: opening
/// creates the database and runs migrations, which a mistyped flag must
/// not do.
pub async fn keys(cmd: KeysCmd, cfg: &Config) -> Result<(), CliError> {
    match cmd {
        KeysCmd::Rotate { alg, activate_in } => {
            let alg = Alg::parse(&alg)
                .ok_or_else(|| CliError(format!("--alg {alg:?}: expected ES256 or RS256")))?;
            let master = crate::server::master_key(cfg, &super::env)?;
            let store = store(cfg).await?;
            let t = now();
            let activates = t + activate_in.unwrap_or(cfg.keys.activation_delay).max(0);
            let row = generate_key(alg, &master, t, activates).map_err(CliError)?;
            store
                .add_key_retiring_others(&row, activates + retired_key_lifetime(&cfg.tokens))
                .await?;
            store
                .append_audit(
                    t,
                    "key.rotated",
                    "cli",
                    &row.kid,
                    &serde_json::json!({"alg": alg.name(), "activates_at": activates}),
                )
                .await?;
            out!(
                "new {} key {} published; signs from {} (unix time)",
                alg.name(),
                row.kid,
                activates
            );
        }
        KeysCmd::List { json } => {
            let rows: Vec<Vec<String>> = store(cfg)
                .await?
                .published_keys(now())
                .await?
                .into_iter()
                .map(|k| {
                    vec![
                        k.kid.clone(),
                        k.alg.clone(),
                        k.activates_at.to_string(),
                        opt(k.retires_at),
                        opt(k.expires_at),
                    ]
                })
                .collect();
            super::table::print(
                &["kid", "alg", "activates_at", "retires_at", "expires_at"],
                &rows,
                json,
            );
        }
    }
    Ok(())
}

/// A client-settings error in the words the user typed: the checks are
/// shared with `[[clients]]` in the config file and name its keys
/// (`vcenter_host`); on the command line they are flags (`--vcenter-host`).
fn flag_names(message: &str) -> String {
    const FLAGS: [(&str, &str); 15] = [
        ("vcenter_host", "--vcenter-host"),
        ("upn_claim", "--upn-claim"),
        ("groups_claim", "--groups-claim"),
        ("upn_domain", "--upn-domain"),
        ("password_grant = true", "--password-grant"),
        ("password_grant", "--password-grant"),
        ("profile = \"vcenter\"", "--profile vcenter"),
        ("profile", "--profile"),
        ("permissions", "--permission"),
        ("id_token_signed_response_alg", "--alg"),
        ("redirect_uris", "--redirect-uri"),
        ("post_logout_redirect_uris", "--post-logout-redirect-uri"),
        ("grant_types", "--grant"),
        ("access_token_audience", "--access-token-audience"),
        ("require_pkce = false", "--no-pkce"),
    ];
    let mut out = message.to_owned();
    for (key, flag) in FLAGS {
        // Whole words only: `redirect_uris` inside `post_logout_redirect_uris`
        // is not a key of its own.
        let mut at = 0;
        while let Some(i) = out[at..].find(key).map(|i| i + at) {
            let before = out[..i].chars().next_back();
            let after = out[i + key.len()..].chars().next();
            // `-` too: a flag already put in (`--profile`) is not a key.
            let word =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if word(before) || word(after) {
                at = i + key.len();
                continue;
            }
            out.replace_range(i..i + key.len(), flag);
            at = i + flag.len();
        }
    }
    out
}

fn opt(v: Option<i64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing buys nothing
pub enum ClientsCmd {
    /// Register a client; prints its secret once.
    Add {
        id: String,
        /// The name users see on the sign-in page ("Sign in to vCenter").
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Grant types (repeatable); default authorization_code + refresh_token.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// ID token (and client_credentials access token) algorithm: ES256 or RS256.
        #[arg(long)]
        alg: Option<String>,
        /// Opt out of PKCE (confidential clients that cannot send it).
        #[arg(long)]
        no_pkce: bool,
        /// A JWK Set file for private_key_jwt.
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// A preset: `vcenter` (needs --vcenter-host; docs/federation/vcenter.md).
        #[arg(long)]
        profile: Option<String>,
        /// The vCenter's host name (with --profile vcenter).
        #[arg(long)]
        vcenter_host: Option<String>,
        /// ID-token claim names for the UPN and the groups (vCenter's
        /// `upn_claim` / `groups_claim`).
        #[arg(long)]
        upn_claim: Option<String>,
        #[arg(long)]
        groups_claim: Option<String>,
        /// For users without a UPN: `login@DOMAIN`.
        #[arg(long)]
        upn_domain: Option<String>,
        /// Allow the resource-owner password grant (explicit opt-in).
        #[arg(long)]
        password_grant: bool,
        /// A permission beyond the grants, repeatable: `decide`,
        /// `decide_revokes`, `introspect` (docs/operations.md).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// The `aud` of this client's access tokens when not its id (a
        /// gateway client: the API the gateway checks for).
        #[arg(long)]
        access_token_audience: Option<String>,
    },
    List {
        /// One JSON array of objects instead of the table.
        #[arg(long)]
        json: bool,
    },
    Remove {
        id: String,
    },
}

/// Like [`keys`]: arguments first, then the store.
pub async fn clients(cmd: ClientsCmd, cfg: &Config) -> Result<(), CliError> {
    match cmd {
        ClientsCmd::Add {
            id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            public,
            alg,
            no_pkce,
            jwks,
            profile,
            vcenter_host,
            upn_claim,
            groups_claim,
            upn_domain,
            password_grant,
            permissions,
            access_token_audience,
        } => {
            let jwks = match jwks {
                Some(p) => Some(
                    std::fs::read_to_string(&p)
                        .map_err(|e| CliError(format!("{}: {e}", p.display())))?,
                ),
                None => None,
            };
            let secret = (!public && jwks.is_none()).then(|| crate::secret::random_token(32));
            let c = ClientConfig {
                id: id.clone(),
                name,
                access_token_audience,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: (!grants.is_empty()).then_some(grants),
                token_endpoint_auth_method: if public { Some("none".into()) } else { None },
                jwks,
                id_token_signed_response_alg: alg,
                require_pkce: no_pkce.then_some(false),
                profile,
                vcenter_host,
                upn_claim,
                groups_claim,
                upn_domain,
                password_grant,
                permissions,
                ..ClientConfig::default()
            };
            let default_alg = Alg::parse(&cfg.keys.default_alg).unwrap_or(Alg::ES256);
            let settings = ClientSettings::from_config(&c, default_alg, secret.is_some())
                .map_err(|e| CliError(flag_names(&e)))?;
            let row = ClientRow {
                id: id.clone(),
                secret_hash: secret.as_ref().map(|s| hash_secret(s.expose())),
                settings,
                source: "cli".into(),
            };
            let store = store(cfg).await?;
            let t = now();
            store.insert_client(&row, t).await?;
            store
                .append_audit(t, "client.added", "cli", &id, &serde_json::json!({}))
                .await?;
            out!("client {id} added");
            if let Some(s) = secret {
                out!("client secret (shown once, store it now): {}", s.expose());
            }
        }
        ClientsCmd::List { json } => {
            let rows: Vec<Vec<String>> = store(cfg)
                .await?
                .clients()
                .await?
                .into_iter()
                .map(|c| {
                    vec![
                        c.id.clone(),
                        c.source.clone(),
                        c.settings.grant_types.join(","),
                        c.settings.redirect_uris.join(" "),
                    ]
                })
                .collect();
            super::table::print(&["id", "source", "grants", "redirect_uris"], &rows, json);
        }
        ClientsCmd::Remove { id } => {
            let store = store(cfg).await?;
            if !store.remove_client(&id).await? {
                return Err(CliError(format!("client {id:?} does not exist")));
            }
            store
                .append_audit(now(), "client.removed", "cli", &id, &serde_json::json!({}))
                .await?;
            out!("client {id} removed");
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the hash chain and the newest signed checkpoint; non-zero
    /// exit if any record was altered or removed, the newest ones included.
    Verify {
        /// Also read checkpoints from this exported file (`[audit]
        /// checkpoint_file`): they survive deletion from the database.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Print records as JSON Lines.
    Export {
        /// `records`: every audit record; `events`: the login events of
        /// policy decisions and failed sign-ins, in the format
        /// `tollgate policy simulate --events` and `tollgate risk` read.
        #[arg(long, value_enum, default_value_t = ExportFormat::Records)]
        format: ExportFormat,
    },
}

/// What `tollgate audit export` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Records,
    Events,
}

pub async fn audit(cmd: AuditCmd, cfg: &Config) -> Result<(), CliError> {
    let store = store(cfg).await?;
    match cmd {
        AuditCmd::Verify { checkpoints } => {
            let n = match store.verify_audit().await? {
                Ok(n) => n,
                Err(e) => return Err(CliError(format!("audit log broken: {e}"))),
            };
            let mut newest = store.latest_checkpoint().await?;
            if let Some(f) = &checkpoints
                && let Some(c) = crate::checkpoint::newest_in_file(f).map_err(CliError)?
                && newest.as_ref().is_none_or(|n| c.last_id > n.last_id)
            {
                newest = Some(c);
            }
            let Some(c) = newest else {
                out!("audit log intact: {n} records (no checkpoint yet)");
                return Ok(());
            };
            let master = crate::server::master_key(cfg, &super::env)?;
            let rows = store.published_keys(now()).await?;
            let ring =
                crate::keys::Keyring::load(&rows, &master).map_err(|e| CliError(e.to_string()))?;
            crate::checkpoint::authentic(&ring, &cfg.issuer, &c)
                .map_err(|e| CliError(format!("audit log broken: {e}")))?;
            let (count, max_id, hash_at_last) = store.audit_upto(c.last_id).await?;
            let upto = crate::checkpoint::Upto {
                count,
                max_id,
                hash_at_last,
            };
            crate::checkpoint::compare(&c, &upto)
                .map_err(|e| CliError(format!("audit log broken: {e}")))?;
            out!(
                "audit log intact: {n} records; the checkpoint of {} ({} records, up to record {}) matches",
                c.ts,
                c.record_count,
                c.last_id
            );
        }
        AuditCmd::Export { format } => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let batch = store.audit_records(after, 1000).await?;
                let Some(last) = batch.last() else { break };
                after = last.id;
                for r in &batch {
                    let line = match format {
                        ExportFormat::Records => serde_json::to_string(r)?,
                        ExportFormat::Events => match crate::decision::login::event_of_record(r) {
                            Some(e) => serde_json::to_string(&e)?,
                            None => continue,
                        },
                    };
                    if let Err(e) = writeln!(out, "{line}") {
                        super::exit_on_closed_pipe(&e);
                        return Err(e.into());
                    }
                }
            }
            if let Err(e) = out.flush() {
                super::exit_on_closed_pipe(&e);
                return Err(e.into());
            }
        }
    }
    Ok(())
}
