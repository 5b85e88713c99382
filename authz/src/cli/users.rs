//! `tollgate users`: accounts and their passwords. Every password set
//! here meets `[passwords]` (`login::password_policy`); an account is never
//! created without a way to sign in.

use super::CliError;
use crate::config::Config;
use crate::secret::Secret;
use crate::store::{NewUser, Store};
use clap::Subcommand;
use std::path::PathBuf;

fn now() -> i64 {
    crate::clock::Clock::System.now()
}

async fn store(cfg: &Config) -> Result<Store, CliError> {
    Ok(crate::server::open_store(cfg).await?)
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
    /// Add a user. It needs a way to sign in: a password read from standard
    /// input (one line) with --password-stdin, or --reset-link to print a
    /// one-time link where the user chooses it.
    Add {
        login: String,
        #[command(flatten)]
        profile: ProfileArgs,
        #[arg(long)]
        password_stdin: bool,
        /// Print a one-time link where the user sets the password.
        #[arg(long, conflicts_with = "password_stdin")]
        reset_link: bool,
    },
    /// Import users from CSV (header: login,display_name,email,upn,groups,password;
    /// groups separated by `;`). All rows or none.
    Import {
        file: PathBuf,
        /// Accept rows with an empty password (give each such user a link
        /// with `tollgate users reset`); without it they are refused.
        #[arg(long)]
        without_passwords: bool,
    },
    List {
        /// One JSON array of objects instead of the table.
        #[arg(long)]
        json: bool,
    },
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
    Disable { login: String },
    /// Set a local user's password, read from standard input (one line).
    /// Ends the user's sessions and revokes their tokens.
    SetPassword {
        login: String,
        /// Keep the user's sessions and tokens (default: end them, as
        /// whoever knew the old password is no longer trusted).
        #[arg(long)]
        keep_sessions: bool,
    },
    /// Print a one-time link where a local user sets a new password
    /// (valid for `[passwords] reset_link_ttl`; a newer link retires it).
    Reset { login: String },
}

/// Each command checks its arguments before it opens the store: opening
/// creates the database and runs migrations, which a mistyped flag must
/// not do.
pub async fn users(cmd: UsersCmd, cfg: &Config) -> Result<(), CliError> {
    let policy =
        crate::login::password_policy::PasswordPolicy::load(&cfg.passwords).map_err(CliError)?;
    match cmd {
        UsersCmd::Add {
            login,
            profile,
            password_stdin,
            reset_link,
        } => {
            check_login(&login).map_err(CliError)?;
            if !password_stdin && !reset_link {
                return Err(CliError(format!(
                    "user {login:?} would have no way to sign in: give --password-stdin (the password on standard input) or --reset-link (a one-time link where the user chooses one)"
                )));
            }
            check_profile(&profile)?;
            let password_hash = if password_stdin {
                Some(read_new_password(&policy, &login).await?)
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
            let store = store(cfg).await?;
            let t = now();
            let ids = store.insert_users(&[u], t).await?;
            store
                .append_audit(t, "user.added", "cli", &login, &serde_json::json!({}))
                .await?;
            out!("user {login} added");
            if reset_link && let Some(id) = ids.first() {
                let link = issue_reset(&store, cfg, id, &login).await?;
                out!("the user sets a password at (once, until it expires): {link}");
            }
        }
        UsersCmd::Import {
            file,
            without_passwords,
        } => {
            let users = parse_csv(&file, &policy, without_passwords).await?;
            let store = store(cfg).await?;
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
        UsersCmd::List { json } => {
            let rows: Vec<Vec<String>> = store(cfg)
                .await?
                .users()
                .await?
                .into_iter()
                .map(|u| {
                    vec![
                        u.login,
                        u.display_name,
                        u.upn.unwrap_or_default(),
                        u.groups.join(";"),
                        if u.disabled { "disabled" } else { "active" }.to_string(),
                    ]
                })
                .collect();
            super::table::print(&["login", "name", "upn", "groups", "status"], &rows, json);
        }
        UsersCmd::Update {
            login,
            profile,
            no_groups,
            enable,
        } => {
            check_profile(&profile)?;
            let ProfileArgs {
                name,
                email,
                upn,
                groups,
            } = profile;
            if no_groups && !groups.is_empty() {
                return Err(CliError("give --group or --no-groups, not both".into()));
            }
            let change = crate::store::UserUpdate {
                display_name: name,
                email,
                upn,
                groups: (no_groups || !groups.is_empty()).then_some(groups),
                enabled: enable.then_some(true),
            };
            let store = store(cfg).await?;
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
            let store = store(cfg).await?;
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
        UsersCmd::SetPassword {
            login,
            keep_sessions,
        } => {
            let store = store(cfg).await?;
            let u = local_user(&store, &login).await?;
            let hash = read_new_password(&policy, &login).await?;
            let t = now();
            store
                .set_password(&u.id, &hash, !keep_sessions, "admin", t)
                .await?;
            store
                .append_audit(
                    t,
                    "user.password_set",
                    "cli",
                    &u.id,
                    &serde_json::json!({"login": login, "sessions_ended": !keep_sessions}),
                )
                .await?;
            if keep_sessions {
                out!("password of {login} set");
            } else {
                out!("password of {login} set; sessions ended and tokens revoked");
            }
        }
        UsersCmd::Reset { login } => {
            let store = store(cfg).await?;
            let u = local_user(&store, &login).await?;
            let link = issue_reset(&store, cfg, &u.id, &login).await?;
            out!("{link}");
        }
    }
    Ok(())
}

/// The profile flags, each error naming the flag as typed. `--email` and
/// `--upn`, when given and not empty (which `users update` reads as
/// "remove it"), must be `user@domain`; a name and a group are never empty.
fn check_profile(p: &ProfileArgs) -> Result<(), CliError> {
    let bad = |v: &str| v.chars().any(char::is_control);
    if let Some(n) = &p.name
        && (n.trim().is_empty() || bad(n))
    {
        return Err(CliError(format!(
            "--name {n:?}: expected the user's display name, not empty"
        )));
    }
    if let Some(e) = p.email.as_deref().filter(|e| !e.is_empty())
        && (!e.contains('@') || bad(e))
    {
        return Err(CliError(format!(
            "--email {e:?} is not an address: expected user@domain"
        )));
    }
    if let Some(u) = p.upn.as_deref().filter(|u| !u.is_empty()) {
        let shaped = u
            .rsplit_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && !domain.is_empty());
        if !shaped || bad(u) || u.contains(char::is_whitespace) {
            return Err(CliError(format!(
                "--upn {u:?}: expected user@domain (what vCenter matches)"
            )));
        }
    }
    if let Some(g) = p.groups.iter().find(|g| g.trim().is_empty() || bad(g)) {
        return Err(CliError(format!(
            "--group {g:?}: expected a group name, not empty"
        )));
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

/// The user `login`, if it may get a password here: a directory user's
/// password lives in the directory.
async fn local_user(store: &Store, login: &str) -> Result<crate::store::UserRow, CliError> {
    let u = store
        .user_by_login(login)
        .await?
        .ok_or_else(|| CliError(format!("user {login:?} does not exist")))?;
    if let Some(a) = store.directory_account(&u.id).await? {
        return Err(CliError(format!(
            "user {login:?} comes from the directory {:?}: change the password there",
            a.directory
        )));
    }
    if u.disabled {
        return Err(CliError(format!(
            "user {login:?} is disabled: enable it first (tollgate users update {login} --enable)"
        )));
    }
    Ok(u)
}

/// Reads one line from standard input, checks it against the policy and
/// hashes it.
async fn read_new_password(
    policy: &crate::login::password_policy::PasswordPolicy,
    login: &str,
) -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = Secret::new(line.trim_end_matches(['\r', '\n']));
    policy
        .check(pw.expose(), login)
        .map_err(|e| CliError(format!("standard input: {e}")))?;
    crate::login::password::hash_async(pw)
        .await
        .map_err(CliError)
}

/// Stores a new reset link for a user, audits it, and returns the URL.
async fn issue_reset(
    store: &Store,
    cfg: &Config,
    user_id: &str,
    login: &str,
) -> Result<String, CliError> {
    let token = crate::secret::random_id(32);
    let t = now();
    let expires = t + cfg.passwords.reset_link_ttl.max(60);
    store
        .issue_password_reset(
            user_id,
            &crate::oauth::client::hash_secret(&token),
            expires,
            "cli",
            t,
        )
        .await?;
    store
        .append_audit(
            t,
            "user.password_reset_issued",
            "cli",
            user_id,
            &serde_json::json!({"login": login, "expires_at": expires}),
        )
        .await?;
    Ok(format!(
        "{}/password/reset/{token}",
        cfg.issuer.trim_end_matches('/')
    ))
}

/// Parses the whole file, reporting every bad line; hashes passwords only
/// when every line is valid.
async fn parse_csv(
    file: &PathBuf,
    policy: &crate::login::password_policy::PasswordPolicy,
    without_passwords: bool,
) -> Result<Vec<NewUser>, CliError> {
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
        match &pw {
            Some(p) => {
                if let Err(e) = policy.check(p.expose(), &login) {
                    errors.push(format!("{shown}:{line}: {e}"));
                    continue;
                }
            }
            None if !without_passwords => {
                errors.push(format!(
                    "{shown}:{line}: {login:?} has no password and could never sign in; fill it in, or import with --without-passwords and give the user a link (tollgate users reset {login})"
                ));
                continue;
            }
            None => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::password_policy::PasswordPolicy;

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
        let err = parse_csv(&file, &PasswordPolicy::default(), true)
            .await
            .unwrap_err()
            .0;
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
        let users = parse_csv(&file, &PasswordPolicy::default(), true)
            .await
            .unwrap();
        assert_eq!(users[0].groups, vec!["ops", "admins"]);
        std::fs::write(&file, "name,email\nx,y\n").unwrap();
        assert!(
            parse_csv(&file, &PasswordPolicy::default(), true)
                .await
                .unwrap_err()
                .0
                .contains(":1: the header must have a `login` column")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
