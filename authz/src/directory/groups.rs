//! A directory's groups in a sync: who owns a group name, and what
//! changes (pure, table-tested).
//!
//! A group name belongs to the directory that first provided it (the
//! `directory` column of `directory_groups`). Another directory that lists
//! a group of that name does not take it over: [`plan`] reports a
//! [`Conflict`], the group is left out for that directory, and its members
//! do not get the name from it (`without_conflicts`) — so a "vcenter-admins"
//! in a second, less trusted directory never grants the first one's group.
//! The way out is `group_prefix` on one of them. A name whose owner is no
//! longer configured is free: the next directory listing it claims it.

use super::mapping::{DirectoryGroup, DirectoryRecord};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a group change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChangeKind {
    Create,
    Update,
    /// A group whose owner is no longer configured, taken by this directory.
    Claim,
    Remove,
}

/// One directory group to write or drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    pub kind: GroupChangeKind,
    /// The group as the directory lists it (as stored, for a removal).
    pub group: DirectoryGroup,
    /// The directory owning the row before: this one, or the unconfigured
    /// one a claim takes it from (the write is refused if that changed).
    pub owner: String,
    /// What changes, as shown: `dn "old" → "new"`, `description …`.
    pub what: Vec<String>,
}

fn shown(v: Option<&str>) -> String {
    v.map_or_else(|| "(none)".into(), |s| format!("{s:?}"))
}

/// A group's DN and description changes, old → new.
fn differences(had: &DirectoryGroup, now: &DirectoryGroup) -> Vec<String> {
    let mut what = Vec::new();
    if had.dn != now.dn {
        what.push(format!("dn {:?} → {:?}", had.dn, now.dn));
    }
    if had.description != now.description {
        what.push(format!(
            "description {} → {}",
            shown(had.description.as_deref()),
            shown(now.description.as_deref())
        ));
    }
    what
}

impl std::fmt::Display for GroupChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = &self.group.name;
        match self.kind {
            GroupChangeKind::Create => write!(f, "create group {name:?}")?,
            GroupChangeKind::Update => write!(f, "update group {name:?}")?,
            GroupChangeKind::Claim => write!(
                f,
                "claim group {name:?} from directory {:?} (no longer configured)",
                self.owner
            )?,
            GroupChangeKind::Remove => {
                return write!(f, "remove group {name:?}: no longer in the directory");
            }
        }
        if !self.what.is_empty() {
            write!(f, ": {}", self.what.join(", "))?;
        }
        Ok(())
    }
}

/// A group this directory lists that another configured directory owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub group: String,
    /// The directory that owns the name.
    pub owner: String,
    /// The directory whose group was skipped.
    pub directory: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "group {:?} belongs to directory {:?}; skipped for directory {:?} (its members do not get it from {:?}; set group_prefix on one of the two)",
            self.group, self.owner, self.directory, self.directory
        )
    }
}

/// The group side of one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPlan {
    /// Sorted by group name.
    pub changes: Vec<GroupChange>,
    /// Sorted by group name.
    pub conflicts: Vec<Conflict>,
}

impl GroupPlan {
    /// The names another directory owns, which this directory's users
    /// must not get from it.
    pub fn refused(&self) -> HashSet<&str> {
        self.conflicts.iter().map(|c| c.group.as_str()).collect()
    }
}

/// The changes that make `directory`'s groups what its `listed` groups
/// say, given every stored row `(owner, group)` and the directories
/// `configured` now. A listed name owned by another configured directory
/// is a conflict, not a change.
pub fn plan(
    directory: &str,
    listed: &[DirectoryGroup],
    rows: &[(String, DirectoryGroup)],
    configured: &[&str],
) -> GroupPlan {
    let stored: HashMap<&str, &(String, DirectoryGroup)> =
        rows.iter().map(|r| (r.1.name.as_str(), r)).collect();
    // First listing of a name wins (two group entries with one cn).
    let mut wanted: BTreeMap<&str, &DirectoryGroup> = BTreeMap::new();
    for g in listed {
        wanted.entry(g.name.as_str()).or_insert(g);
    }
    let mut out = GroupPlan::default();
    for (name, g) in &wanted {
        let change = |kind, owner: &str, what| GroupChange {
            kind,
            group: (*g).clone(),
            owner: owner.to_owned(),
            what,
        };
        match stored.get(name) {
            None => {
                let mut what = vec![format!("dn {:?}", g.dn)];
                if let Some(d) = &g.description {
                    what.push(format!("description {d:?}"));
                }
                out.changes
                    .push(change(GroupChangeKind::Create, directory, what));
            }
            Some((owner, had)) if owner == directory => {
                let what = differences(had, g);
                if !what.is_empty() {
                    out.changes
                        .push(change(GroupChangeKind::Update, directory, what));
                }
            }
            Some((owner, _)) if configured.contains(&owner.as_str()) => {
                out.conflicts.push(Conflict {
                    group: (*name).to_owned(),
                    owner: owner.clone(),
                    directory: directory.to_owned(),
                });
            }
            Some((owner, had)) => {
                let what = differences(had, g);
                out.changes
                    .push(change(GroupChangeKind::Claim, owner, what));
            }
        }
    }
    for (owner, had) in rows {
        if owner == directory && !wanted.contains_key(had.name.as_str()) {
            out.changes.push(GroupChange {
                kind: GroupChangeKind::Remove,
                group: had.clone(),
                owner: owner.clone(),
                what: vec![],
            });
        }
    }
    out.changes.sort_by(|a, b| a.group.name.cmp(&b.group.name));
    out
}

/// `r` without the groups another directory owns.
pub fn without_conflicts(mut r: DirectoryRecord, refused: &HashSet<&str>) -> DirectoryRecord {
    r.groups.retain(|g| !refused.contains(g.as_str()));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, dn: &str, description: Option<&str>) -> DirectoryGroup {
        DirectoryGroup {
            name: name.into(),
            dn: dn.into(),
            description: description.map(str::to_owned),
        }
    }

    fn row(
        owner: &str,
        name: &str,
        dn: &str,
        description: Option<&str>,
    ) -> (String, DirectoryGroup) {
        (owner.into(), group(name, dn, description))
    }

    /// Plans for directory "lab" (configured: "corp" and "lab") and
    /// compares what is shown.
    fn check(
        listed: &[DirectoryGroup],
        rows: &[(String, DirectoryGroup)],
        changes: &[&str],
        conflicts: &[&str],
    ) {
        let got = plan("lab", listed, rows, &["corp", "lab"]);
        let shown: Vec<String> = got.changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown, changes, "{listed:?} / {rows:?}");
        let shown: Vec<String> = got.conflicts.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown, conflicts, "{listed:?} / {rows:?}");
    }

    #[test]
    fn each_group_gets_the_change_it_needs() {
        let ops = group("ops", "cn=ops,dc=lab", Some("Operators"));
        // New, unchanged, removed.
        check(
            std::slice::from_ref(&ops),
            &[],
            &["create group \"ops\": dn \"cn=ops,dc=lab\", description \"Operators\""],
            &[],
        );
        check(
            &[group("ops", "cn=ops,dc=lab", None)],
            &[],
            &["create group \"ops\": dn \"cn=ops,dc=lab\""],
            &[],
        );
        check(
            std::slice::from_ref(&ops),
            &[row("lab", "ops", "cn=ops,dc=lab", Some("Operators"))],
            &[],
            &[],
        );
        check(
            &[],
            &[row("lab", "ops", "cn=ops,dc=lab", None)],
            &["remove group \"ops\": no longer in the directory"],
            &[],
        );
        // Another directory's group is not this one's to remove.
        check(&[], &[row("corp", "ops", "cn=ops,dc=corp", None)], &[], &[]);
        // DN and description, old → new; a description that went away.
        check(
            std::slice::from_ref(&ops),
            &[row("lab", "ops", "cn=ops,ou=old,dc=lab", Some("Ops"))],
            &[
                "update group \"ops\": dn \"cn=ops,ou=old,dc=lab\" → \"cn=ops,dc=lab\", description \"Ops\" → \"Operators\"",
            ],
            &[],
        );
        check(
            &[group("ops", "cn=ops,dc=lab", None)],
            &[row("lab", "ops", "cn=ops,dc=lab", Some("Ops"))],
            &["update group \"ops\": description \"Ops\" → (none)"],
            &[],
        );
        check(
            std::slice::from_ref(&ops),
            &[row("lab", "ops", "cn=ops,dc=lab", None)],
            &["update group \"ops\": description (none) → \"Operators\""],
            &[],
        );
        // Owned by another configured directory: a conflict, no change.
        check(
            std::slice::from_ref(&ops),
            &[row("corp", "ops", "cn=ops,dc=corp", None)],
            &[],
            &[
                "group \"ops\" belongs to directory \"corp\"; skipped for directory \"lab\" (its members do not get it from \"lab\"; set group_prefix on one of the two)",
            ],
        );
        // Owned by a directory no longer configured: claimed.
        check(
            std::slice::from_ref(&ops),
            &[row("gone", "ops", "cn=ops,dc=gone", Some("Operators"))],
            &[
                "claim group \"ops\" from directory \"gone\" (no longer configured): dn \"cn=ops,dc=gone\" → \"cn=ops,dc=lab\"",
            ],
            &[],
        );
        // Two entries with one name: the first wins; output sorted.
        check(
            &[
                group("b", "cn=b,dc=lab", None),
                group("a", "cn=a,dc=lab", None),
                group("a", "cn=a,ou=x,dc=lab", None),
            ],
            &[row("lab", "0", "cn=0,dc=lab", None)],
            &[
                "remove group \"0\": no longer in the directory",
                "create group \"a\": dn \"cn=a,dc=lab\"",
                "create group \"b\": dn \"cn=b,dc=lab\"",
            ],
            &[],
        );
    }

    #[test]
    fn a_claim_and_a_conflict_carry_the_owner_the_write_expects() {
        let got = plan(
            "lab",
            &[
                group("ops", "cn=ops,dc=lab", None),
                group("vc", "cn=vc,dc=lab", None),
            ],
            &[
                row("gone", "ops", "cn=ops,dc=gone", None),
                row("corp", "vc", "cn=vc,dc=corp", None),
            ],
            &["corp", "lab"],
        );
        assert_eq!(got.changes.len(), 1);
        assert_eq!(got.changes[0].kind, GroupChangeKind::Claim);
        assert_eq!(got.changes[0].owner, "gone");
        assert_eq!(got.refused(), HashSet::from(["vc"]));
        let r = DirectoryRecord {
            external_id: "1".into(),
            dn: "uid=ann,dc=lab".into(),
            login: "ann".into(),
            display_name: "Ann".into(),
            email: None,
            upn: None,
            groups: vec!["ops".into(), "vc".into()],
            disabled: false,
        };
        assert_eq!(without_conflicts(r, &got.refused()).groups, vec!["ops"]);
    }
}
