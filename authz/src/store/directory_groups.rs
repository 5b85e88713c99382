//! What a directory says about its groups (`directory_groups`, migration
//! 0018): the DN and description that vCenter's `ws1b` Group extension
//! carries. Groups are names on users; a local group has no row, so it
//! has no DN and no description.

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

    /// Makes the groups `directory` owns here what a complete listing says,
    /// in one transaction: new and changed groups are written, groups it no
    /// longer lists are dropped, and each of those is queued for the SCIM
    /// targets (so a changed description reaches vCenter at this sync even
    /// when no membership changed). Returns the names that changed, sorted.
    pub async fn directory_groups_write(
        &self,
        directory: &str,
        groups: &[DirectoryGroup],
        now: i64,
    ) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let rows =
            sqlx::query("SELECT name, dn, description FROM directory_groups WHERE directory = $1")
                .bind(directory)
                .fetch_all(&mut *tx)
                .await?;
        let mut had = std::collections::HashMap::new();
        for r in rows {
            let name: String = r.try_get(0)?;
            let facts: (String, Option<String>) = (r.try_get(1)?, r.try_get(2)?);
            had.insert(name, facts);
        }
        let mut changed = Vec::new();
        for g in groups {
            let facts = (g.dn.clone(), g.description.clone());
            if had.remove(&g.name).as_ref() == Some(&facts) {
                continue;
            }
            sqlx::query(
                "INSERT INTO directory_groups (name, directory, dn, description, synced_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE \
                 SET directory = $2, dn = $3, description = $4, synced_at = $5",
            )
            .bind(&g.name)
            .bind(directory)
            .bind(&g.dn)
            .bind(&g.description)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            changed.push(g.name.clone());
        }
        for gone in had.into_keys() {
            sqlx::query("DELETE FROM directory_groups WHERE name = $1 AND directory = $2")
                .bind(&gone)
                .bind(directory)
                .execute(&mut *tx)
                .await?;
            changed.push(gone);
        }
        changed.sort();
        changed.dedup();
        for name in &changed {
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
        Ok(changed)
    }
}
