//! Delivering one outbox row: push the *current* state of a user or group
//! to one target. Idempotent, so a row delivered twice (a crash between the
//! request and the row's removal) does no harm: a repeated POST answers 409
//! and the existing resource is adopted.

use super::Target;
use super::client::{Failure, ScimClient};
use super::mapping::{
    DirectoryFacts, WS1B_GROUP, add_extension, add_ws1b_user, group_pushed, group_resource,
    membership_patch, parse_group_pushed, user_name, user_resource, ws1b_group,
};
use crate::config::ScimProfile;
use crate::secret::sha256;
use crate::store::{OutboxRow, ScimKind, ScimResourceRow, Store, StoreError, hex};
use serde_json::Value;

/// Why a row was not delivered.
#[derive(Debug)]
pub enum Error {
    Scim(Failure),
    Store(StoreError),
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::Scim(f)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

/// What a delivery did; the `outcome` label of `tollgate_scim_deliveries`.
pub type Done = &'static str;

/// One target's delivery context.
pub struct Deliverer<'a> {
    pub store: &'a Store,
    pub target: &'a Target,
    pub client: &'a ScimClient,
    /// The target announced PATCH support (`/ServiceProviderConfig`).
    pub patch: bool,
    pub now: i64,
}

/// The User resource `target` gets for `user`: the core attributes, and
/// for a vCenter target the `ws1b` extension with what the user's
/// directory says (its DN and objectGUID).
pub async fn user_body(
    store: &Store,
    target: &Target,
    user: &crate::store::UserRow,
    active: bool,
) -> Result<Value, StoreError> {
    let mut body = user_resource(user, active);
    if target.profile == ScimProfile::Vcenter {
        let account = store.directory_account(&user.id).await?;
        let facts = account.as_ref().map(|a| DirectoryFacts {
            dn: &a.dn,
            external_id: &a.external_id,
        });
        add_ws1b_user(&mut body, user, facts);
    }
    Ok(body)
}

fn remote_id(v: &Value) -> Result<String, Failure> {
    tollgate_wire::scim::resource_id(v)
        .map(str::to_string)
        .ok_or_else(|| Failure::Resource("the target's resource has no `id`".into()))
}

impl Deliverer<'_> {
    pub async fn deliver(&self, row: &OutboxRow) -> Result<Done, Error> {
        match row.kind {
            ScimKind::User => self.user(&row.subject).await,
            ScimKind::Group => self.group(&row.subject).await,
        }
    }

    async fn set(
        &self,
        kind: ScimKind,
        subject: &str,
        remote_id: String,
        pushed: String,
    ) -> Result<(), Error> {
        let row = ScimResourceRow { remote_id, pushed };
        Ok(self
            .store
            .scim_set_resource(&self.target.name, kind, subject, &row, self.now)
            .await?)
    }

    /// Finds an existing resource after a 409, by `externalId` then by `alt`.
    async fn adopt(
        &self,
        endpoint: &str,
        external_id: &str,
        alt: (&str, &str),
        conflict: String,
    ) -> Result<Value, Error> {
        if let Some(v) = self
            .client
            .find(endpoint, "externalId", external_id)
            .await?
        {
            return Ok(v);
        }
        match self.client.find(endpoint, alt.0, alt.1).await? {
            Some(v) => Ok(v),
            None => Err(Failure::Resource(conflict).into()),
        }
    }

    async fn user(&self, id: &str) -> Result<Done, Error> {
        let t = &self.target.name;
        let Some(user) = self.store.user(id).await? else {
            return Ok("skipped");
        };
        let in_scope = self.target.user_in_scope(&user.groups);
        let active = in_scope && !user.disabled;
        let have = self.store.scim_resource(t, ScimKind::User, id).await?;
        if have.is_none() && !active {
            // Never provisioned and not to be: nothing to deactivate.
            return Ok("skipped");
        }
        let body = user_body(self.store, self.target, &user, active).await?;
        let hash = hex(&sha256(body.to_string().as_bytes()));
        if let Some(h) = have {
            if h.pushed == hash {
                return Ok("unchanged");
            }
            match self.client.replace("/Users", &h.remote_id, &body).await {
                Ok(()) => {
                    self.set(ScimKind::User, id, h.remote_id, hash).await?;
                    return Ok(if active { "updated" } else { "deactivated" });
                }
                Err(Failure::Gone) => {
                    self.store
                        .scim_forget_resource(t, ScimKind::User, id)
                        .await?;
                    if !active {
                        return Ok("skipped");
                    }
                }
                Err(f) => return Err(f.into()),
            }
        }
        let rid = match self.client.create("/Users", &body).await {
            Ok(v) => remote_id(&v)?,
            Err(Failure::Conflict(msg)) => {
                let found = self
                    .adopt("/Users", id, ("userName", user_name(&user)), msg)
                    .await?;
                let rid = remote_id(&found)?;
                self.client.replace("/Users", &rid, &body).await?;
                rid
            }
            Err(f) => return Err(f.into()),
        };
        self.set(ScimKind::User, id, rid, hash).await?;
        // Its groups can list it as a member now.
        for g in user.groups.iter().filter(|g| self.target.group_in_scope(g)) {
            self.store
                .scim_enqueue(t, ScimKind::Group, g, self.now)
                .await?;
        }
        Ok("created")
    }

    async fn group(&self, name: &str) -> Result<Done, Error> {
        let t = &self.target.name;
        if !self.target.group_in_scope(name) {
            return Ok("skipped");
        }
        let mut want = Vec::new();
        let mut upns = Vec::new();
        for u in self.store.users_in_group(name).await? {
            if let Some(r) = self.store.scim_resource(t, ScimKind::User, &u.id).await? {
                want.push(r.remote_id);
                upns.push(user_name(&u).to_owned());
            }
        }
        let ws1b = if self.target.profile == ScimProfile::Vcenter {
            let facts = self.store.directory_group(name).await?;
            let upns: Vec<&str> = upns.iter().map(String::as_str).collect();
            Some(ws1b_group(&upns, facts.as_ref()))
        } else {
            None
        };
        let group_body = |want: &[String]| {
            let mut body = group_resource(name, want);
            if let Some(ext) = &ws1b {
                add_extension(&mut body, WS1B_GROUP, ext.clone());
            }
            body
        };
        want.sort();
        want.dedup();
        let pushed = group_pushed(&want, ws1b.as_ref());
        if let Some(h) = self.store.scim_resource(t, ScimKind::Group, name).await? {
            let (had, had_ws1b) = parse_group_pushed(&h.pushed);
            let result = if had_ws1b != ws1b {
                // The extension changed (a new description): the whole group.
                self.client
                    .replace("/Groups", &h.remote_id, &group_body(&want))
                    .await
            } else {
                match membership_patch(&had, &want) {
                    None => return Ok("unchanged"),
                    Some(p) if self.patch => self.client.patch("/Groups", &h.remote_id, &p).await,
                    Some(_) => {
                        let body = group_body(&want);
                        self.client.replace("/Groups", &h.remote_id, &body).await
                    }
                }
            };
            match result {
                Ok(()) => {
                    self.set(ScimKind::Group, name, h.remote_id, pushed).await?;
                    return Ok("updated");
                }
                Err(Failure::Gone) => {
                    self.store
                        .scim_forget_resource(t, ScimKind::Group, name)
                        .await?;
                }
                Err(f) => return Err(f.into()),
            }
        }
        if want.is_empty() {
            // No provisioned member: an empty group helps nobody.
            return Ok("skipped");
        }
        let body = group_body(&want);
        let rid = match self.client.create("/Groups", &body).await {
            Ok(v) => remote_id(&v)?,
            Err(Failure::Conflict(msg)) => {
                let found = self
                    .adopt("/Groups", name, ("displayName", name), msg)
                    .await?;
                let rid = remote_id(&found)?;
                // Their member list is not ours to diff against: replace it whole.
                self.client.replace("/Groups", &rid, &body).await?;
                rid
            }
            Err(f) => return Err(f.into()),
        };
        self.set(ScimKind::Group, name, rid, pushed).await?;
        Ok("created")
    }
}
