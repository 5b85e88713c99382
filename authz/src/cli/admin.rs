//! Administrative commands: keys, clients, users, audit.

use super::CliError;
use crate::config::{ClientConfig, Config};
use crate::keys::{Alg, generate_key, retired_key_lifetime};
use crate::oauth::client::{ClientSettings, hash_secret};
use crate::secret::Secret;
use crate::store::{ClientRow, NewUser, Store};
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
    List,
}

pub async fn keys(cmd: KeysCmd, cfg: &Config) -> Result<(), CliError> {
    let store = store(cfg).await?;
    match cmd {
        KeysCmd::Rotate { alg, activate_in } => {
            let alg = Alg::parse(&alg)
                .ok_or_else(|| CliError(format!("--alg {alg:?}: expected ES256 or RS256")))?;
            let master = crate::server::master_key(cfg, &super::env)?;
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
        KeysCmd::List => {
            for k in store.published_keys(now()).await? {
                out!(
                    "{}\t{}\tactivates_at={}\tretires_at={}\texpires_at={}",
                    k.kid,
                    k.alg,
                    k.activates_at,
                    opt(k.retires_at),
                    opt(k.expires_at)
                );
            }
        }
    }
    Ok(())
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
    },
    List,
    Remove {
        id: String,
    },
}

pub async fn clients(cmd: ClientsCmd, cfg: &Config) -> Result<(), CliError> {
    let store = store(cfg).await?;
    match cmd {
        ClientsCmd::Add {
            id,
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
            let settings =
                ClientSettings::from_config(&c, default_alg, secret.is_some()).map_err(CliError)?;
            let row = ClientRow {
                id: id.clone(),
                secret_hash: secret.as_ref().map(|s| hash_secret(s.expose())),
                settings,
                source: "cli".into(),
            };
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
        ClientsCmd::List => {
            for c in store.clients().await? {
                out!(
                    "{}\t{}\t{}\t{}",
                    c.id,
                    c.source,
                    c.settings.grant_types.join(","),
                    c.settings.redirect_uris.join(" ")
                );
            }
        }
        ClientsCmd::Remove { id } => {
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

/// A user's profile on the command line. With `users update`, an empty
/// `--email`/`--upn` removes it and `--group` replaces the groups.
#[derive(clap::Args)]
pub struct ProfileArgs {
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// `user@domain`: what vCenter matches (the `upn` claim and SCIM `userName`).
    #[arg(long)]
    upn: Option<String>,
    /// A group (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
}

#[derive(Subcommand)]
pub enum UsersCmd {
    /// Add a user. The password is read from standard input (one line) with --password-stdin.
    Add {
        login: String,
        #[command(flatten)]
        profile: ProfileArgs,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Import users from CSV (header: login,display_name,email,upn,groups,password;
    /// groups separated by `;`). All rows or none.
    Import {
        file: PathBuf,
    },
    List,
    /// Change a user's name, email, upn or groups (pushed to SCIM targets).
    Update {
        login: String,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Remove every group.
        #[arg(long)]
        no_groups: bool,
        /// Enable a disabled user.
        #[arg(long)]
        enable: bool,
    },
    /// Disable a user: ends their sessions and revokes their tokens.
    Disable {
        login: String,
    },
}

pub async fn users(cmd: UsersCmd, cfg: &Config) -> Result<(), CliError> {
    let store = store(cfg).await?;
    match cmd {
        UsersCmd::Add {
            login,
            profile,
            password_stdin,
        } => {
            let password_hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let pw = Secret::new(line.trim_end_matches(['\r', '\n']));
                check_password(pw.expose()).map_err(CliError)?;
                Some(
                    crate::login::password::hash_async(pw)
                        .await
                        .map_err(CliError)?,
                )
            } else {
                None
            };
            let u = NewUser {
                display_name: profile.name.unwrap_or_else(|| login.clone()),
                login: login.clone(),
                email: profile.email,
                upn: profile.upn,
                groups: profile.groups,
                password_hash,
            };
            check_login(&u.login).map_err(CliError)?;
            let t = now();
            store.insert_users(&[u], t).await?;
            store
                .append_audit(t, "user.added", "cli", &login, &serde_json::json!({}))
                .await?;
            out!("user {login} added");
        }
        UsersCmd::Import { file } => {
            let users = parse_csv(&file).await?;
            let t = now();
            let n = users.len();
            store
                .insert_users(&users, t)
                .await
                .map_err(|e| CliError(format!("{}: {e}; nothing was imported", file.display())))?;
            store
                .append_audit(
                    t,
                    "user.imported",
                    "cli",
                    &file.display().to_string(),
                    &serde_json::json!({"count": n}),
                )
                .await?;
            out!("{n} users imported");
        }
        UsersCmd::List => {
            for u in store.users().await? {
                out!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.login,
                    u.display_name,
                    u.upn.unwrap_or_default(),
                    u.groups.join(";"),
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UsersCmd::Update {
            login,
            profile:
                ProfileArgs {
                    name,
                    email,
                    upn,
                    groups,
                },
            no_groups,
            enable,
        } => {
            if no_groups && !groups.is_empty() {
                return Err(CliError("give --group or --no-groups, not both".into()));
            }
            if let Some(e) = email
                .as_deref()
                .filter(|e| !e.is_empty() && !e.contains('@'))
            {
                return Err(CliError(format!("--email {e:?} is not an address")));
            }
            let change = crate::store::UserUpdate {
                display_name: name,
                email,
                upn,
                groups: (no_groups || !groups.is_empty()).then_some(groups),
                enabled: enable.then_some(true),
            };
            let t = now();
            let u = store.update_user(&login, &change, t).await?;
            store
                .append_audit(
                    t,
                    "user.updated",
                    "cli",
                    &u.id,
                    &serde_json::json!({"login": login, "groups": u.groups, "enabled": !u.disabled}),
                )
                .await?;
            out!("user {login} updated");
        }
        UsersCmd::Disable { login } => {
            let u = store.disable_user(&login, now()).await?;
            store
                .append_audit(
                    now(),
                    "user.disabled",
                    "cli",
                    &u.id,
                    &serde_json::json!({"login": login}),
                )
                .await?;
            out!("user {login} disabled; sessions ended and tokens revoked");
        }
    }
    Ok(())
}

fn check_login(login: &str) -> Result<(), String> {
    if login.is_empty()
        || login.len() > 256
        || login.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "login {login:?} must be 1-256 characters without spaces or control characters"
        ));
    }
    Ok(())
}

fn check_password(pw: &str) -> Result<(), String> {
    // NIST SP 800-63B-4: at least 15 characters for single-factor passwords.
    if pw.chars().count() < 15 {
        return Err("the password must have at least 15 characters".into());
    }
    Ok(())
}

/// Parses the whole file, reporting every bad line; hashes passwords only
/// when every line is valid.
async fn parse_csv(file: &PathBuf) -> Result<Vec<NewUser>, CliError> {
    let shown = file.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| CliError(format!("{shown}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| CliError(format!("{shown}:1: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let Some(login_col) = col("login") else {
        return Err(CliError(format!(
            "{shown}:1: the header must have a `login` column (login,display_name,email,upn,groups,password)"
        )));
    };
    for h in headers.iter() {
        if ![
            "login",
            "display_name",
            "email",
            "upn",
            "groups",
            "password",
        ]
        .contains(&h)
        {
            return Err(CliError(format!("{shown}:1: unknown column {h:?}")));
        }
    }
    let mut errors = Vec::new();
    let mut rows: Vec<(NewUser, Option<Secret>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{shown}:{line}: {e}"));
                continue;
            }
        };
        let get = |name: &str| {
            col(name)
                .and_then(|c| rec.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let login = rec.get(login_col).unwrap_or("").to_string();
        if let Err(e) = check_login(&login) {
            errors.push(format!("{shown}:{line}: {e}"));
            continue;
        }
        if !seen.insert(login.clone()) {
            errors.push(format!(
                "{shown}:{line}: login {login:?} appears twice in the file"
            ));
            continue;
        }
        if let Some(email) = get("email")
            && !email.contains('@')
        {
            errors.push(format!("{shown}:{line}: email {email:?} is not an address"));
            continue;
        }
        let pw = get("password").map(Secret::new);
        if let Some(p) = &pw
            && let Err(e) = check_password(p.expose())
        {
            errors.push(format!("{shown}:{line}: {e}"));
            continue;
        }
        let groups = get("groups")
            .map(|g| {
                g.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        rows.push((
            NewUser {
                display_name: get("display_name").unwrap_or_else(|| login.clone()),
                login,
                email: get("email"),
                upn: get("upn"),
                groups,
                password_hash: None,
            },
            pw,
        ));
    }
    if !errors.is_empty() {
        errors.push(format!(
            "{shown}: {} bad line(s); nothing was imported",
            errors.len()
        ));
        return Err(CliError(errors.join("\n")));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (mut u, pw) in rows {
        if let Some(p) = pw {
            u.password_hash = Some(
                crate::login::password::hash_async(p)
                    .await
                    .map_err(CliError)?,
            );
        }
        out.push(u);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_csv_reports_every_bad_line() {
        let dir = std::env::temp_dir().join(format!("tg-csv-{}", crate::secret::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("people.csv");
        let text = "login,display_name,email,groups\n\
                    alice,Alice,alice@example.com,ops;admins\n\
                    bob smith,Bob,bob@example.com,\n\
                    carol,Carol,not-an-email,\n\
                    alice,Again,a@example.com,\n\
                    dave,Dave,dave@example.com,ops\n";
        std::fs::write(&file, text).unwrap();
        let err = parse_csv(&file).await.unwrap_err().0;
        let shown = file.display().to_string();
        for line in [3, 4, 5] {
            assert!(
                err.contains(&format!("{shown}:{line}:")),
                "line {line} missing in:\n{err}"
            );
        }
        assert!(
            !err.contains(&format!("{shown}:2:")) && !err.contains(&format!("{shown}:6:")),
            "{err}"
        );
        assert!(
            err.ends_with("3 bad line(s); nothing was imported"),
            "{err}"
        );

        std::fs::write(&file, "login,display_name,groups\nalice,Alice,ops;admins\n").unwrap();
        let users = parse_csv(&file).await.unwrap();
        assert_eq!(users[0].groups, vec!["ops", "admins"]);
        std::fs::write(&file, "name,email\nx,y\n").unwrap();
        assert!(
            parse_csv(&file)
                .await
                .unwrap_err()
                .0
                .contains(":1: the header must have a `login` column")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
