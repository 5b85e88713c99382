//! `tollgate scim sync`: compare what Tollgate wants with what the target
//! holds, list the differences, and (unless it is a dry run) queue them.
//!
//! The comparison reads the target (GET by the remembered id, else a filter
//! on `externalId`, then `userName`/`displayName`), so it also repairs a
//! target that lost or changed resources behind Tollgate's back. Applying
//! re-aligns the remembered ids with what was found and enqueues the
//! resources: the worker then delivers them like any other change.

use super::Target;
use super::client::{Failure, ScimClient};
use super::mapping::{
    WS1B_GROUP, member_ids, user_differences, user_name, ws1b_group, ws1b_group_differences,
};
use crate::store::{ScimKind, ScimResourceRow, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;

/// What the sync would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Update(Vec<String>),
    Deactivate,
    /// The target lost a user that is inactive here: forget its id, so no
    /// group lists it any more.
    Forget,
}

/// One planned change.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ScimKind,
    /// User id or group name (the outbox subject).
    pub subject: String,
    /// `userName` or group name, for people.
    pub label: String,
    pub action: Action,
    /// What the target holds now, found by id or filter.
    found: Option<(String, String)>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.as_str();
        match &self.action {
            Action::Create => write!(f, "create {kind} {}", self.label),
            Action::Deactivate => write!(f, "deactivate {kind} {}", self.label),
            Action::Forget => write!(
                f,
                "forget {kind} {} (inactive, and the target no longer has it)",
                self.label
            ),
            Action::Update(what) => write!(f, "update {kind} {}: {}", self.label, what.join(", ")),
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Target(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Failure> for PlanError {
    fn from(f: Failure) -> Self {
        PlanError::Target(f.to_string())
    }
}

async fn remote(
    client: &ScimClient,
    endpoint: &str,
    known: Option<&ScimResourceRow>,
    lookups: &[(&str, &str)],
) -> Result<Option<Value>, PlanError> {
    if let Some(k) = known {
        match client.get(endpoint, &k.remote_id).await {
            Ok(v) => return Ok(Some(v)),
            Err(Failure::Gone) => {}
            Err(f) => return Err(f.into()),
        }
    }
    for (attr, value) in lookups {
        if let Some(v) = client.find(endpoint, attr, value).await? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn id_of(v: &Value) -> String {
    tollgate_wire::scim::resource_id(v)
        .unwrap_or("")
        .to_string()
}

/// The differences between Tollgate and the target.
pub async fn plan(
    store: &Store,
    target: &Target,
    client: &ScimClient,
) -> Result<Vec<Change>, PlanError> {
    let t = &target.name;
    // Reachable, and the token accepted, before anything is compared.
    client.patch_supported().await?;
    let mut out = Vec::new();
    // remote user id -> user id, for the group comparison
    let mut remote_users: HashMap<String, String> = HashMap::new();
    let mut will_exist: Vec<String> = Vec::new();
    for u in store.users().await? {
        let active = target.user_in_scope(&u.groups) && !u.disabled;
        let known = store.scim_resource(t, ScimKind::User, &u.id).await?;
        let have = remote(
            client,
            "/Users",
            known.as_ref(),
            &[("externalId", &u.id), ("userName", user_name(&u))],
        )
        .await?;
        let want = super::deliver::user_body(store, target, &u, active).await?;
        let action = match &have {
            None if active => Some(Action::Create),
            None if known.is_some() => Some(Action::Forget),
            None => None,
            Some(h) => {
                remote_users.insert(id_of(h), u.id.clone());
                let diff = user_differences(&want, h);
                if diff.is_empty() {
                    None
                } else if diff == ["active"] && !active {
                    Some(Action::Deactivate)
                } else {
                    Some(Action::Update(diff.iter().map(|s| s.to_string()).collect()))
                }
            }
        };
        if have.is_some() || active {
            will_exist.push(u.id.clone());
        }
        if let Some(action) = action {
            out.push(Change {
                kind: ScimKind::User,
                subject: u.id.clone(),
                label: user_name(&u).to_string(),
                action,
                found: have.map(|h| (id_of(&h), String::new())),
            });
        }
    }
    for g in store.group_names().await? {
        if !target.group_in_scope(&g) {
            continue;
        }
        let members: Vec<crate::store::UserRow> = store
            .users_in_group(&g)
            .await?
            .into_iter()
            .filter(|u| will_exist.contains(&u.id))
            .collect();
        // For vCenter the extension is compared too (what delivery PUTs).
        let ws1b = if target.profile == crate::config::ScimProfile::Vcenter {
            let upns: Vec<&str> = members.iter().map(user_name).collect();
            Some(ws1b_group(&upns, store.directory_group(&g).await?.as_ref()))
        } else {
            None
        };
        let mut want: Vec<String> = members.into_iter().map(|u| u.id).collect();
        want.sort();
        let known = store.scim_resource(t, ScimKind::Group, &g).await?;
        let have = remote(
            client,
            "/Groups",
            known.as_ref(),
            &[("externalId", &g), ("displayName", &g)],
        )
        .await?;
        let action = match &have {
            None if want.is_empty() => None,
            None => Some(Action::Create),
            Some(h) => {
                let mut has: Vec<String> = member_ids(h)
                    .iter()
                    .map(|r| {
                        remote_users
                            .get(r)
                            .cloned()
                            .unwrap_or_else(|| format!("?{r}"))
                    })
                    .collect();
                has.sort();
                let mut what = Vec::new();
                if has != want {
                    what.push("members".to_string());
                }
                if let Some(ext) = &ws1b {
                    what.extend(ws1b_group_differences(ext, h.get(WS1B_GROUP)));
                }
                (!what.is_empty()).then_some(Action::Update(what))
            }
        };
        if let Some(action) = action {
            out.push(Change {
                kind: ScimKind::Group,
                found: have.map(|h| {
                    let members = serde_json::to_string(&member_ids(&h)).unwrap_or_default();
                    (id_of(&h), members)
                }),
                subject: g.clone(),
                label: g,
                action,
            });
        }
    }
    Ok(out)
}

/// Aligns the remembered ids with what the plan found and queues every
/// change (users before groups, as the worker delivers them).
pub async fn apply(
    store: &Store,
    target: &str,
    changes: &[Change],
    now: i64,
) -> Result<(), StoreError> {
    // A sync someone asked for is tried now, whatever the backoff says.
    store.scim_target_retry_now(target).await?;
    for c in changes {
        match &c.found {
            // pushed = "" (user) or the target's real member list (group):
            // the next delivery sends the whole state or the exact diff.
            Some((remote_id, pushed)) => {
                let row = ScimResourceRow {
                    remote_id: remote_id.clone(),
                    pushed: if c.kind == ScimKind::Group {
                        pushed.clone()
                    } else {
                        String::new()
                    },
                };
                store
                    .scim_set_resource(target, c.kind, &c.subject, &row, now)
                    .await?;
            }
            None => {
                store
                    .scim_forget_resource(target, c.kind, &c.subject)
                    .await?
            }
        }
        store.scim_enqueue(target, c.kind, &c.subject, now).await?;
    }
    Ok(())
}
