//! The password factor's check, through its backend seam
//! (`factor::password::Backend`): argon2 for local users, an LDAP bind
//! for the users a directory owns. The sign-in page and the password grant
//! both call [`check`] after reserving the attempt, and map its
//! [`Outcome`]: only `Rejected` counts as a failed attempt; `Busy` and
//! `Unavailable` give the attempt back and answer 503 /
//! `temporarily_unavailable`, never "wrong password".
//!
//! A login no local user has is looked up in each directory in turn; a
//! successful bind creates the user here (just in time), and every
//! directory sign-in updates the user from its entry first, so a user
//! disabled or removed there is refused and disabled here at once.

use super::factor::password::Backend;
use super::password;
use crate::directory::Directories;
use crate::directory::ldap::SignIn;
use crate::directory::sync::{Linked, apply, decide};
use crate::secret::Secret;
use crate::store::{Store, UserRow};

/// How a password check ended.
#[derive(Debug)]
pub enum Outcome {
    /// The password is right for this enabled user.
    Verified(UserRow),
    /// Wrong password, unknown or disabled user: a failed attempt.
    Rejected,
    /// The argon2 bound is saturated: not checked.
    Busy,
    /// The user's directory (or the store) could not answer: not checked.
    Unavailable,
}

/// Checks `password` for `login` (see the module comment).
pub async fn check(
    store: &Store,
    directories: &Directories,
    login: &str,
    password: Secret,
    now: i64,
) -> Outcome {
    let backend = match super::factor::password::backend(store, login).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return Outcome::Unavailable;
        }
    };
    match backend {
        Backend::Directory { user, account } => {
            let Some(dir) = directories.get(&account.directory) else {
                tracing::warn!(
                    directory = %account.directory,
                    user = %user.login,
                    "the user's directory is no longer configured"
                );
                return Outcome::Unavailable;
            };
            let linked = Linked { user, account };
            directory_sign_in(store, directories, dir, Some(linked), login, &password, now)
                .await
                .unwrap_or(Outcome::Rejected)
        }
        Backend::Local(user) => local(user, password).await,
        Backend::Unknown => {
            for dir in directories.iter() {
                if let Some(outcome) =
                    directory_sign_in(store, directories, dir, None, login, &password, now).await
                {
                    return outcome;
                }
            }
            // Nobody has this login: as slow as a real check, and under
            // the same bound (a flood of unknown logins is answered Busy).
            match password::verify(password, None).await {
                Ok(_) => Outcome::Rejected,
                Err(password::Busy) => Outcome::Busy,
            }
        }
    }
}

async fn local(user: UserRow, password: Secret) -> Outcome {
    let stored = (!user.disabled)
        .then(|| user.password_hash.clone())
        .flatten();
    match password::verify(password, stored).await {
        Ok(true) => Outcome::Verified(user),
        Ok(false) => Outcome::Rejected,
        Err(password::Busy) => Outcome::Busy,
    }
}

/// A sign-in through `dir`: find, bind, update the user from its entry.
/// `None`: the directory has no such login and Tollgate no such account
/// of it (the next directory may have it).
async fn directory_sign_in(
    store: &Store,
    directories: &Directories,
    dir: &crate::directory::Directory,
    linked: Option<Linked>,
    login: &str,
    password: &Secret,
    now: i64,
) -> Option<Outcome> {
    // An empty simple bind is an unauthenticated bind, which servers
    // answer with success: it must never reach the directory.
    if password.expose().is_empty() {
        return Some(Outcome::Rejected);
    }
    let found = match dir.sign_in(login, password).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "directory sign-in unavailable");
            return Some(Outcome::Unavailable);
        }
    };
    let (record, password_ok) = match found {
        SignIn::NotFound => (None, false),
        SignIn::Found {
            record,
            password_ok,
        } => (Some(record), password_ok),
    };
    if record.is_none() && linked.is_none() {
        return None;
    }
    // A group name another configured directory owns is not this one's
    // to give (as at sync, `directory::groups`).
    let record = match record {
        Some(mut r) => {
            let mut kept = Vec::with_capacity(r.groups.len());
            for g in std::mem::take(&mut r.groups) {
                match store.directory_group_owner(&g).await {
                    Ok(Some(owner)) if owner != dir.name() && directories.get(&owner).is_some() => {
                    }
                    Ok(_) => kept.push(g),
                    Err(e) => {
                        tracing::error!(error = %e, "directory group lookup failed");
                        return Some(Outcome::Unavailable);
                    }
                }
            }
            r.groups = kept;
            Some(r)
        }
        None => None,
    };
    // A login typed here that the directory renamed: the account is found
    // by its stable id, not created twice.
    let linked = match (&record, linked) {
        (Some(r), None) => match store.directory_linked(dir.name(), &r.external_id).await {
            Ok(found) => found.map(|(user, account)| Linked { user, account }),
            Err(e) => {
                tracing::error!(error = %e, "directory account lookup failed");
                return Some(Outcome::Unavailable);
            }
        },
        (_, l) => l,
    };
    // Not found by login is no proof of removal (a rename is not): only a
    // complete sync disables a user that went away. Creating a user is
    // worth it only for a right password; an update (disabled, new groups)
    // applies whatever the password was.
    let change = match (&record, &linked) {
        (None, _) => None,
        (Some(_), None) if !password_ok => None,
        _ => decide(record.as_ref(), linked.as_ref()),
    };
    let user = match change {
        Some(c) => match apply(store, dir.name(), &c, now).await {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::error!(error = %e, directory = dir.name(), "cannot update the user from the directory");
                return Some(Outcome::Unavailable);
            }
        },
        None => linked.map(|l| l.user),
    };
    Some(match user {
        Some(u) if password_ok && record.is_some() && !u.disabled => Outcome::Verified(u),
        _ => Outcome::Rejected,
    })
}
