//! What a directory says about its groups (`directory_groups`, migration
//! 0018): the DN and description that vCenter's `ws1b` Group extension
//! carries. Groups are names on users; a local group has no row, so it
//! has no DN and no description. The `directory` column is the name's
//! owner: migration 0018's comment says "the last sync wins", which was
//! true before `directory::groups`; now a row changes owner only when its
//! owner is no longer configured (a claim), guarded in
//! [`Store::directory_groups_apply`].

use super::{Result, Store};
use sqlx::Row;

/// One group as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The name users carry (what SCIM and policy rules know it by).
    pub name: String,
    /// The distinguished name (AD: `distinguishedName`; else the entry DN).
    pub dn: String,
    /// The directory's `description`, when it has one.
    pub description: Option<String>,
}

impl Store {
    /// The directory's facts about group `name`; `None` for a local group.
    pub async fn directory_group(&self, name: &str) -> Result<Option<DirectoryGroup>> {
        let row = sqlx::query("SELECT name, dn, description FROM directory_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(DirectoryGroup {
                name: r.try_get(0)?,
                dn: r.try_get(1)?,
                description: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// The directory that owns group name `name`, if a directory does.
    pub async fn directory_group_owner(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT directory FROM directory_groups WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every `directory_groups` row with the directory that owns it, for
    /// a sync to plan from (`directory::groups::plan`).
    pub async fn directory_groups_owned(&self) -> Result<Vec<(String, DirectoryGroup)>> {
        let rows = sqlx::query(
            "SELECT directory, name, dn, description FROM directory_groups ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    DirectoryGroup {
                        name: r.try_get(1)?,
                        dn: r.try_get(2)?,
                        description: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }

    /// Writes a sync's group changes for `directory` in one transaction:
    /// each of `writes` is a group with the directory expected to own its
    /// row now (`directory` itself, or a directory no longer configured
    /// whose group it claims); each of `removes` a group it no longer
    /// lists. Every changed group is queued for the SCIM targets (so a
    /// changed description reaches vCenter at this sync even when no
    /// membership changed). A row another directory took in the meantime
    /// is never overwritten: the whole write is rolled back as
    /// [`StoreError::Conflict`](super::StoreError::Conflict), and the
    /// next sync plans again.
    pub async fn directory_groups_apply(
        &self,
        directory: &str,
        writes: &[(DirectoryGroup, String)],
        removes: &[String],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for (g, owner) in writes {
            let done = sqlx::query(
                "INSERT INTO directory_groups (name, directory, dn, description, synced_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE \
                 SET directory = $2, dn = $3, description = $4, synced_at = $5 \
                 WHERE directory_groups.directory = $6",
            )
            .bind(&g.name)
            .bind(directory)
            .bind(&g.dn)
            .bind(&g.description)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(super::StoreError::Conflict(format!(
                    "group {:?} was taken by another directory during this sync",
                    g.name
                )));
            }
        }
        for gone in removes {
            sqlx::query("DELETE FROM directory_groups WHERE name = $1 AND directory = $2")
                .bind(gone)
                .bind(directory)
                .execute(&mut *tx)
                .await?;
        }
        let mut changed: Vec<&String> =
            writes.iter().map(|(g, _)| &g.name).chain(removes).collect();
        changed.sort();
        changed.dedup();
        for name in changed {
            super::scim::enqueue(
                &mut tx,
                &self.scim_targets,
                super::ScimKind::Group,
                name,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, dn: &str) -> DirectoryGroup {
        DirectoryGroup {
            name: name.into(),
            dn: dn.into(),
            description: None,
        }
    }

    /// A write expecting an owner the row no longer has (another
    /// directory took the name since the plan) writes nothing at all.
    #[tokio::test]
    async fn a_group_taken_meanwhile_rolls_the_whole_write_back() {
        let (store, dir) = Store::scratch("dgroups").await;
        let corp = group("vc", "cn=vc,dc=corp");
        store
            .directory_groups_apply("corp", &[(corp.clone(), "corp".into())], &[], 1)
            .await
            .unwrap();
        let owned = || async { store.directory_groups_owned().await.unwrap() };
        let before = owned().await;
        assert_eq!(before, vec![("corp".to_string(), corp.clone())]);
        // "lab" planned to claim "vc" from a removed "old", and to create "ops".
        let err = store
            .directory_groups_apply(
                "lab",
                &[
                    (group("ops", "cn=ops,dc=lab"), "lab".into()),
                    (group("vc", "cn=vc,dc=lab"), "old".into()),
                ],
                &[],
                2,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, crate::store::StoreError::Conflict(_)),
            "{err}"
        );
        assert_eq!(owned().await, before, "nothing written");
        // Its own group, and a claim from the owner the row really has.
        store
            .directory_groups_apply(
                "lab",
                &[(group("vc", "cn=vc,dc=lab"), "corp".into())],
                &[],
                3,
            )
            .await
            .unwrap();
        assert_eq!(
            store.directory_group_owner("vc").await.unwrap().as_deref(),
            Some("lab")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
