//! The wire side of a directory (ldap3 over tokio and rustls).
//!
//! Every failure to get a complete, successful answer is [`Unavailable`]:
//! a listing cut short is never taken for users that went away, and a
//! sign-in the directory could not judge is never a wrong password. Only
//! a bind answered `invalidCredentials` (49) is a wrong password.

use super::mapping::{
    DirectoryGroup, DirectoryRecord, Entry, GroupIndex, group_index, member_of_groups, to_record,
    with_memberships,
};
use super::{Directory, Unavailable};
use crate::secret::Secret;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use std::time::Duration;

/// Entries per page of a listing (AD's default MaxPageSize is 1000).
const PAGE_SIZE: i32 = 500;

/// `invalidCredentials` (RFC 4511): the only answer that means "wrong password".
const INVALID_CREDENTIALS: u32 = 49;

/// What a sign-in against the directory found.
#[derive(Debug)]
pub enum SignIn {
    /// No user with this login under `user_base` and `user_filter`.
    NotFound,
    /// The user's entry, and whether the bind as the user succeeded.
    Found {
        record: DirectoryRecord,
        password_ok: bool,
    },
}

/// A full listing: the usable users, and the entries that are not usable
/// (no login, no stable id), each with why.
#[derive(Debug, Default)]
pub struct Listing {
    pub users: Vec<DirectoryRecord>,
    pub skipped: Vec<String>,
    /// Every group with its DN and description (from the group search, or
    /// the users' `memberOf` DNs without one).
    pub groups: Vec<DirectoryGroup>,
}

impl Directory {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout)
    }

    /// A connection (TLS as configured), not yet bound.
    async fn connect(&self) -> Result<Ldap, Unavailable> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.config.start_tls)
            .set_config(self.tls.clone());
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| self.unavailable(format!("cannot connect to {}: {e}", self.config.url)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "ldap connection ended");
            }
        });
        Ok(ldap)
    }

    /// A connection bound as the service account. A refused service
    /// account is the directory's problem, not the user's.
    async fn service(&self) -> Result<Ldap, Unavailable> {
        let mut ldap = self.connect().await?;
        let r = ldap
            .with_timeout(self.timeout())
            .simple_bind(&self.config.bind_dn, self.bind_password.expose())
            .await
            .map_err(|e| self.unavailable(format!("service bind: {e}")))?;
        if r.rc != 0 {
            return Err(self.unavailable(format!(
                "the service account {:?} was refused (rc {}: {})",
                self.config.bind_dn, r.rc, r.text
            )));
        }
        Ok(ldap)
    }

    /// Every entry of a paged subtree search, or `Unavailable` unless the
    /// search ended with success: a partial answer is never returned.
    async fn search(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<Entry>, Unavailable> {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(PAGE_SIZE)),
        ];
        let mut stream = ldap
            .with_timeout(self.timeout())
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| self.unavailable(format!("search under {base:?}: {e}")))?;
        let mut out = Vec::new();
        loop {
            // Bounded per entry, whatever page the adapter is on.
            let next = tokio::time::timeout(self.timeout(), stream.next())
                .await
                .map_err(|_| self.unavailable(format!("search under {base:?} timed out")))?;
            match next {
                Ok(Some(raw)) => {
                    // ldap3 panics on a malformed entry; a server's bytes
                    // must not take the process down.
                    let entry = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        SearchEntry::construct(raw)
                    }))
                    .map_err(|_| self.unavailable("a malformed search entry"))?;
                    out.push(Entry {
                        dn: entry.dn,
                        text: entry.attrs,
                        binary: entry.bin_attrs,
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(self.unavailable(format!("search under {base:?} cut short: {e}")));
                }
            }
        }
        let done = tokio::time::timeout(self.timeout(), stream.finish())
            .await
            .map_err(|_| self.unavailable(format!("search under {base:?} timed out")))?;
        if done.rc != 0 {
            return Err(self.unavailable(format!(
                "search under {base:?} ended with rc {} ({}); nothing from it is used",
                done.rc, done.text
            )));
        }
        Ok(out)
    }

    /// The groups under `group_base`, when it is set.
    async fn groups(
        &self,
        ldap: &mut Ldap,
        filter: &str,
    ) -> Result<Option<GroupIndex>, Unavailable> {
        let Some(base) = &self.config.group_base else {
            return Ok(None);
        };
        let m = &self.mapping;
        let attrs = m.group_attributes();
        let entries = self.search(ldap, base, filter, attrs).await?;
        Ok(Some(group_index(&entries, m)))
    }

    /// Every user under `user_base` (for sync). All or nothing.
    pub async fn list(&self) -> Result<Listing, Unavailable> {
        let mut ldap = self.service().await?;
        let m = &self.mapping;
        let groups = self.groups(&mut ldap, &m.group_filter).await?;
        let entries = self
            .search(
                &mut ldap,
                &self.config.user_base,
                &m.user_filter,
                m.user_attributes(),
            )
            .await?;
        let _ = ldap.unbind().await;
        let mut listing = Listing::default();
        if groups.is_none() {
            listing.groups = member_of_groups(&entries, m);
        }
        for e in entries {
            let e = match &groups {
                Some(g) => with_memberships(e, m, &g.members),
                None => e,
            };
            match to_record(&e, m, groups.as_ref().map(|g| &g.names)) {
                Ok(r) => listing.users.push(r),
                Err(why) => listing.skipped.push(why),
            }
        }
        if let Some(g) = groups {
            listing.groups = g.groups;
        }
        Ok(listing)
    }

    /// Finds `login` and binds as it with `password`. The caller refuses
    /// an empty password before this (an empty simple bind is an
    /// *unauthenticated* bind that many servers answer with success).
    pub async fn sign_in(&self, login: &str, password: &Secret) -> Result<SignIn, Unavailable> {
        if password.expose().is_empty() {
            return Err(self.unavailable("empty password reached the directory"));
        }
        let mut ldap = self.service().await?;
        let m = &self.mapping;
        let found = self
            .search(
                &mut ldap,
                &self.config.user_base,
                &m.login_filter(login),
                m.user_attributes(),
            )
            .await?;
        let entry = match found.as_slice() {
            [] => {
                let _ = ldap.unbind().await;
                return Ok(SignIn::NotFound);
            }
            [one] => one.clone(),
            many => {
                let _ = ldap.unbind().await;
                return Err(self.unavailable(format!(
                    "login {login:?} matches {} entries; narrow user_filter",
                    many.len()
                )));
            }
        };
        let member_filter = format!(
            "(&{}({}={}))",
            m.group_filter,
            m.group_member,
            ldap3::ldap_escape(entry.dn.as_str())
        );
        let groups = self.groups(&mut ldap, &member_filter).await?;
        let entry = match &groups {
            Some(g) => with_memberships(entry, m, &g.members),
            None => entry,
        };
        let record = to_record(&entry, m, groups.as_ref().map(|g| &g.names))
            .map_err(|why| self.unavailable(format!("unusable entry: {why}")))?;
        let bound = ldap
            .with_timeout(self.timeout())
            .simple_bind(&record.dn, password.expose())
            .await
            .map_err(|e| self.unavailable(format!("bind: {e}")))?;
        let _ = ldap.unbind().await;
        let password_ok = match bound.rc {
            0 => true,
            INVALID_CREDENTIALS => false,
            rc => {
                return Err(self.unavailable(format!(
                    "the bind as the user was answered rc {rc} ({})",
                    bound.text
                )));
            }
        };
        Ok(SignIn::Found {
            record,
            password_ok,
        })
    }
}
