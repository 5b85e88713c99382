//! Sync: what the directory says, made true here.
//!
//! [`plan`] is pure: a complete listing and the accounts the directory
//! owns in, the changes out (create, update, disable, enable). [`run_once`]
//! lists, plans and applies, one transaction per user, so a sync stopped
//! half-way leaves every user either as it was or as the directory says,
//! and the next run finishes the rest. A listing that is not complete is
//! never planned from (see `ldap.rs`), so a directory going down mid-sync
//! disables nobody. [`run`] is the scheduled worker.
//!
//! The directory's groups are planned first (`groups.rs`): a group name
//! another configured directory owns is a conflict, and is taken off this
//! directory's users before their changes are planned. The group changes
//! are written in one transaction before any user; a dry run plans the
//! same and writes nothing.

use super::groups::{self, Conflict, GroupChange, GroupChangeKind, without_conflicts};
use super::mapping::DirectoryRecord;
use super::{Directories, Directory};
use crate::store::{AccountRow, AccountWrite, Store, StoreError, UserRow};
use std::collections::HashMap;

/// A user the directory owns, as sync sees it.
#[derive(Debug, Clone)]
pub struct Linked {
    pub user: UserRow,
    pub account: AccountRow,
}

/// What a change does, for the report and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Disable,
    Enable,
}

/// One user to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// The login as Tollgate knows it now (the new one for a create).
    pub login: String,
    /// Which fields change, or why the user is disabled.
    pub what: Vec<&'static str>,
    pub write: AccountWrite,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.kind {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Disable => "disable",
            ChangeKind::Enable => "enable",
        };
        write!(f, "{verb} user {:?}", self.login)?;
        if self.kind == ChangeKind::Create && !self.write.record.groups.is_empty() {
            write!(f, " (groups: {})", self.write.record.groups.join(", "))?;
        }
        if !self.what.is_empty() {
            write!(f, ": {}", self.what.join(", "))?;
        }
        Ok(())
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The change one user needs, given what the directory says (`None`: not
/// in the listing) and what Tollgate has (`None`: not yet here).
pub fn decide(record: Option<&DirectoryRecord>, linked: Option<&Linked>) -> Option<Change> {
    match (record, linked) {
        // A user disabled in the directory is not worth creating.
        (Some(r), None) if r.disabled => None,
        (Some(r), None) => Some(Change {
            kind: ChangeKind::Create,
            login: r.login.clone(),
            what: vec![],
            write: AccountWrite {
                user_id: None,
                record: DirectoryRecord {
                    groups: sorted(&r.groups),
                    ..r.clone()
                },
                disabled_by_directory: false,
            },
        }),
        (Some(r), Some(l)) => {
            let (u, a) = (&l.user, &l.account);
            // Disabled by the directory: disabled. Enabled there: enabled
            // again only if it was the directory that disabled it (a local
            // `users disable` stands).
            let (disabled, by_directory) = if r.disabled {
                (true, a.disabled_by_directory || !u.disabled)
            } else if u.disabled && a.disabled_by_directory {
                (false, false)
            } else {
                (u.disabled, a.disabled_by_directory)
            };
            let groups = sorted(&r.groups);
            let mut what = Vec::new();
            for (changed, name) in [
                (u.login != r.login, "login"),
                (u.display_name != r.display_name, "display name"),
                (u.email != r.email, "email"),
                (u.upn != r.upn, "upn"),
                (sorted(&u.groups) != groups, "groups"),
                (a.dn != r.dn, "dn"),
            ] {
                if changed {
                    what.push(name);
                }
            }
            let kind = match (u.disabled, disabled) {
                (false, true) => {
                    what.insert(0, "disabled in the directory");
                    ChangeKind::Disable
                }
                (true, false) => {
                    what.insert(0, "enabled in the directory again");
                    ChangeKind::Enable
                }
                _ if what.is_empty() && by_directory == a.disabled_by_directory => return None,
                _ => ChangeKind::Update,
            };
            Some(Change {
                kind,
                login: u.login.clone(),
                what,
                write: AccountWrite {
                    user_id: Some(u.id.clone()),
                    record: DirectoryRecord {
                        external_id: a.external_id.clone(),
                        groups,
                        disabled,
                        ..r.clone()
                    },
                    disabled_by_directory: by_directory,
                },
            })
        }
        (None, Some(l)) if !l.user.disabled => Some(Change {
            kind: ChangeKind::Disable,
            login: l.user.login.clone(),
            what: vec!["removed from the directory"],
            write: AccountWrite {
                user_id: Some(l.user.id.clone()),
                record: DirectoryRecord {
                    external_id: l.account.external_id.clone(),
                    dn: l.account.dn.clone(),
                    login: l.user.login.clone(),
                    display_name: l.user.display_name.clone(),
                    email: l.user.email.clone(),
                    upn: l.user.upn.clone(),
                    groups: l.user.groups.clone(),
                    disabled: true,
                },
                disabled_by_directory: true,
            },
        }),
        (None, _) => None,
    }
}

/// Every change that makes Tollgate's accounts of this directory match a
/// complete listing. Refuses (`Err`) a listing with no users while active
/// accounts exist: that is a wrong base or filter far more often than a
/// directory that lost everyone, and it would disable them all.
pub fn plan(listing: &[DirectoryRecord], linked: &[Linked]) -> Result<Vec<Change>, String> {
    let active = linked.iter().filter(|l| !l.user.disabled).count();
    if listing.is_empty() && active > 0 {
        return Err(format!(
            "the directory listed no users; refusing to disable {active} active account(s) (check user_base and user_filter)"
        ));
    }
    let by_id: HashMap<&str, &Linked> = linked
        .iter()
        .map(|l| (l.account.external_id.as_str(), l))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in listing {
        if !seen.insert(r.external_id.as_str()) {
            continue;
        }
        out.extend(decide(Some(r), by_id.get(r.external_id.as_str()).copied()));
    }
    for l in linked {
        if !seen.contains(l.account.external_id.as_str()) {
            out.extend(decide(None, Some(l)));
        }
    }
    Ok(out)
}

/// The accounts `directory` owns.
pub async fn linked(store: &Store, directory: &str) -> Result<Vec<Linked>, StoreError> {
    Ok(store
        .directory_accounts(directory)
        .await?
        .into_iter()
        .map(|(user, account)| Linked { user, account })
        .collect())
}

/// Applies one change and writes its audit record; returns the user as
/// stored.
pub async fn apply(
    store: &Store,
    directory: &str,
    change: &Change,
    now: i64,
) -> Result<UserRow, StoreError> {
    let user = store.directory_write(directory, &change.write, now).await?;
    let kind = match change.kind {
        ChangeKind::Create => "directory.user_created",
        ChangeKind::Update => "directory.user_updated",
        ChangeKind::Disable => "directory.user_disabled",
        ChangeKind::Enable => "directory.user_enabled",
    };
    store
        .append_audit(
            now,
            kind,
            &format!("directory:{directory}"),
            &user.login,
            &serde_json::json!({"user": user.id, "changes": change.what, "groups": user.groups}),
        )
        .await?;
    Ok(user)
}

/// What one sync did.
#[derive(Debug, Default)]
pub struct Report {
    /// The changes (planned, for a dry run; applied otherwise).
    pub changes: Vec<Change>,
    /// Changes that could not be applied (a login a local user holds), each
    /// with why; the rest were applied.
    pub failed: Vec<String>,
    /// Directory entries that are not usable users, each with why.
    pub skipped: Vec<String>,
    /// Directory groups created, changed, claimed or removed (planned,
    /// for a dry run; written otherwise).
    pub groups: Vec<GroupChange>,
    /// The names of `groups` once written (queued for SCIM targets);
    /// empty for a dry run.
    pub groups_changed: Vec<String>,
    /// Groups this directory lists that another configured directory
    /// owns: skipped, so their members do not get them from this one.
    pub conflicts: Vec<Conflict>,
}

/// Why a sync did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Unavailable(#[from] super::Unavailable),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lists, plans and (unless `dry_run`) applies; records the outcome in
/// `directory_state` (a dry run records nothing). `dirs` is every
/// configured directory: a group name owned by one of the others is not
/// this directory's (see `groups.rs`).
pub async fn run_once(
    store: &Store,
    dirs: &Directories,
    dir: &Directory,
    dry_run: bool,
    now: i64,
    retry: impl Fn(i64) -> i64,
) -> Result<Report, SyncError> {
    let result = sync(store, dirs, dir, dry_run, now).await;
    if !dry_run {
        match &result {
            Ok(_) => store.directory_sync_succeeded(dir.name(), now).await?,
            Err(e) => {
                store
                    .directory_sync_failed(dir.name(), &e.to_string(), now, retry)
                    .await?;
            }
        }
    }
    result
}

async fn sync(
    store: &Store,
    dirs: &Directories,
    dir: &Directory,
    dry_run: bool,
    now: i64,
) -> Result<Report, SyncError> {
    let listing = dir.list().await?;
    let linked = linked(store, dir.name()).await?;
    let rows = store.directory_groups_owned().await?;
    let configured: Vec<&str> = dirs.iter().map(|d| d.name()).collect();
    let group_plan = groups::plan(dir.name(), &listing.groups, &rows, &configured);
    let refused = group_plan.refused();
    let users: Vec<DirectoryRecord> = listing
        .users
        .into_iter()
        .map(|r| without_conflicts(r, &refused))
        .collect();
    let changes = plan(&users, &linked).map_err(SyncError::Refused)?;
    let mut report = Report {
        skipped: listing.skipped,
        groups: group_plan.changes,
        conflicts: group_plan.conflicts,
        ..Report::default()
    };
    if dry_run {
        report.changes = changes;
        return Ok(report);
    }
    // Groups first, so a group created at this sync reaches a SCIM
    // target with its DN and description in its first request.
    let (removes, writes): (Vec<&GroupChange>, Vec<&GroupChange>) = report
        .groups
        .iter()
        .partition(|c| c.kind == GroupChangeKind::Remove);
    let writes: Vec<_> = writes
        .iter()
        .map(|c| (c.group.clone(), c.owner.clone()))
        .collect();
    let removes: Vec<String> = removes.iter().map(|c| c.group.name.clone()).collect();
    store
        .directory_groups_apply(dir.name(), &writes, &removes, now)
        .await?;
    report.groups_changed = report.groups.iter().map(|c| c.group.name.clone()).collect();
    let actor = format!("directory:{}", dir.name());
    for c in report
        .groups
        .iter()
        .filter(|c| c.kind == GroupChangeKind::Claim)
    {
        store
            .append_audit(
                now,
                "directory.group_claimed",
                &actor,
                &c.group.name,
                &serde_json::json!({"from": c.owner, "directory": dir.name()}),
            )
            .await?;
    }
    for c in &report.conflicts {
        tracing::warn!(directory = dir.name(), group = %c.group, owner = %c.owner, "{c}");
        store
            .append_audit(
                now,
                "directory.group_conflict",
                &actor,
                &c.group,
                &serde_json::json!({"owner": c.owner, "directory": c.directory}),
            )
            .await?;
    }
    for c in changes {
        match apply(store, dir.name(), &c, now).await {
            Ok(_) => report.changes.push(c),
            Err(StoreError::Conflict(why)) => report.failed.push(format!("{c}: {why}")),
            Err(e) => return Err(e.into()),
        }
    }
    if report.changes.iter().any(|c| c.kind != ChangeKind::Update) || !report.failed.is_empty() {
        store
            .append_audit(
                now,
                "directory.sync",
                &format!("directory:{}", dir.name()),
                dir.name(),
                &serde_json::json!({
                    "changes": report.changes.len(),
                    "failed": report.failed,
                    "skipped": report.skipped.len(),
                }),
            )
            .await?;
    }
    Ok(report)
}

/// Seconds until the retry after the `failures`-th failed sync: the SCIM
/// backoff from 5 s, never longer than the interval itself.
pub fn retry_after(failures: i64, interval: u64) -> i64 {
    let cap = i64::try_from(interval).unwrap_or(i64::MAX).max(5);
    crate::scim::backoff(failures, 5, cap)
}

/// The scheduled sync: every directory with `sync_interval > 0`, first at
/// start, then every interval; after a failure again after
/// [`retry_after`]. One replica at a time per directory (a lease for the
/// interval). Stops when `stop` turns true, between syncs: a sync in
/// progress finishes the user it holds (each user is one transaction).
pub async fn run(app: crate::state::App, mut stop: tokio::sync::watch::Receiver<bool>) {
    let owner = format!("sync-{}", crate::secret::random_id(8));
    let mut due: HashMap<String, i64> = HashMap::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        for dir in app.directories.iter() {
            let every = dir.config.sync_interval;
            let now = app.now();
            if every == 0 || due.get(dir.name()).is_some_and(|d| now < *d) {
                continue;
            }
            let hold = now + i64::try_from(every).unwrap_or(i64::MAX / 2);
            match app
                .store
                .directory_take_lease(dir.name(), &owner, now, hold)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    due.insert(dir.name().to_owned(), now + 5);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(directory = dir.name(), error = %e, "directory lease failed");
                    continue;
                }
            }
            let result = run_once(&app.store, &app.directories, dir, false, now, |n| {
                now + retry_after(n, every)
            })
            .await;
            let next = match &result {
                Ok(report) => {
                    if !report.changes.is_empty() || !report.failed.is_empty() {
                        tracing::info!(
                            directory = dir.name(),
                            changes = report.changes.len(),
                            failed = report.failed.len(),
                            "directory synced"
                        );
                    }
                    hold
                }
                Err(e) => {
                    tracing::warn!(directory = dir.name(), error = %e, "directory sync failed; will retry");
                    let failures = app
                        .store
                        .directory_status(dir.name())
                        .await
                        .map_or(1, |s| s.failures);
                    let next = now + retry_after(failures, every);
                    let _ = app
                        .store
                        .directory_take_lease(dir.name(), &owner, now, next)
                        .await;
                    next
                }
            };
            due.insert(dir.name().to_owned(), next);
            // Disabled users' tokens stop at once on this replica.
            if result
                .as_ref()
                .is_ok_and(|r| r.changes.iter().any(|c| c.kind == ChangeKind::Disable))
                && let Err(e) = app
                    .revocations
                    .reload(&app.store, now, app.config.tokens.access_token_ttl)
                    .await
            {
                tracing::warn!(error = %e, "revocation reload failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, login: &str, groups: &[&str], disabled: bool) -> DirectoryRecord {
        DirectoryRecord {
            external_id: id.into(),
            dn: format!("uid={login},dc=x"),
            login: login.into(),
            display_name: login.to_uppercase(),
            email: None,
            upn: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            disabled,
        }
    }

    fn linked(id: &str, login: &str, groups: &[&str], disabled: bool, by_dir: bool) -> Linked {
        Linked {
            user: UserRow {
                id: format!("u-{id}"),
                login: login.into(),
                display_name: login.to_uppercase(),
                email: None,
                upn: None,
                groups: groups.iter().map(|g| g.to_string()).collect(),
                disabled,
                password_hash: None,
            },
            account: AccountRow {
                user_id: format!("u-{id}"),
                directory: "corp".into(),
                external_id: id.into(),
                dn: format!("uid={login},dc=x"),
                disabled_by_directory: by_dir,
                synced_at: 0,
            },
        }
    }

    /// (what the directory says, what Tollgate has, the change wanted as
    /// (kind, login, what, disabled afterwards)).
    type Case = (
        Option<DirectoryRecord>,
        Option<Linked>,
        Option<(ChangeKind, &'static str, Vec<&'static str>, bool)>,
    );

    #[test]
    fn each_user_gets_the_change_it_needs() {
        let cases: Vec<Case> = vec![
            (
                Some(record("1", "ann", &["a"], false)),
                None,
                Some((ChangeKind::Create, "ann", vec![], false)),
            ),
            (Some(record("1", "ann", &[], true)), None, None),
            (
                Some(record("1", "ann", &["b", "a"], false)),
                Some(linked("1", "ann", &["a", "b"], false, false)),
                None,
            ),
            (
                Some(record("1", "ann", &["a"], false)),
                Some(linked("1", "ann", &["a", "b"], false, false)),
                Some((ChangeKind::Update, "ann", vec!["groups"], false)),
            ),
            (
                Some(record("1", "anna", &[], false)),
                Some(linked("1", "ann", &[], false, false)),
                Some((
                    ChangeKind::Update,
                    "ann",
                    vec!["login", "display name", "dn"],
                    false,
                )),
            ),
            (
                Some(record("1", "ann", &[], true)),
                Some(linked("1", "ann", &[], false, false)),
                Some((
                    ChangeKind::Disable,
                    "ann",
                    vec!["disabled in the directory"],
                    true,
                )),
            ),
            (
                Some(record("1", "ann", &[], false)),
                Some(linked("1", "ann", &[], true, true)),
                Some((
                    ChangeKind::Enable,
                    "ann",
                    vec!["enabled in the directory again"],
                    false,
                )),
            ),
            // Disabled here by an administrator: the directory does not undo it.
            (
                Some(record("1", "ann", &[], false)),
                Some(linked("1", "ann", &[], true, false)),
                None,
            ),
            (
                None,
                Some(linked("1", "ann", &["a"], false, false)),
                Some((
                    ChangeKind::Disable,
                    "ann",
                    vec!["removed from the directory"],
                    true,
                )),
            ),
            (None, Some(linked("1", "ann", &[], true, true)), None),
            (None, None, None),
        ];
        for (r, l, want) in cases {
            let got = decide(r.as_ref(), l.as_ref()).map(|c| {
                (
                    c.kind,
                    c.login.as_str().to_owned(),
                    c.what.clone(),
                    c.write.record.disabled,
                )
            });
            let want = want.map(|(k, login, what, d)| (k, login.to_owned(), what, d));
            assert_eq!(got, want, "{r:?} / {l:?}");
        }
    }

    #[test]
    fn a_plan_covers_the_listing_and_the_accounts() {
        let listing = [
            record("1", "ann", &[], false),
            record("3", "cy", &[], false),
        ];
        let have = [
            linked("1", "ann", &[], false, false),
            linked("2", "bo", &[], false, false),
        ];
        let changes = plan(&listing, &have).unwrap();
        let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "create user \"cy\"",
                "disable user \"bo\": removed from the directory"
            ]
        );
        let err = plan(&[], &have).unwrap_err();
        assert!(
            err.contains("refusing to disable 2 active account(s)"),
            "{err}"
        );
        assert!(
            plan(&[], &[linked("1", "ann", &[], true, true)])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn retries_back_off_within_the_interval() {
        let got: Vec<i64> = (1..=6).map(|n| retry_after(n, 60)).collect();
        assert_eq!(got, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(retry_after(1, 0), 5);
    }
}
