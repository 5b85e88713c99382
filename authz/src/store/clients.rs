//! Clients (relying parties).

use super::{Result, Store, StoreError, from_json, to_json};
use crate::oauth::client::ClientSettings;
use sqlx::Row;

/// A stored client.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: String,
    /// Hex SHA-256 of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub settings: ClientSettings,
    /// `config` (synced from tollgate.toml) or `cli`.
    pub source: String,
}

impl Store {
    /// Inserts a client; a duplicate id is a conflict.
    pub async fn insert_client(&self, c: &ClientRow, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO clients (id, secret_hash, settings, source, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&c.id)
            .bind(&c.secret_hash)
            .bind(to_json(&c.settings))
            .bind(&c.source)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::on_unique(e, format!("client {:?} already exists", c.id)))?;
        Ok(())
    }

    /// Inserts or replaces the clients declared in the config file, and removes
    /// config-sourced clients no longer declared. One transaction.
    pub async fn sync_config_clients(&self, clients: &[ClientRow], now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        let existing: Vec<String> = sqlx::query("SELECT id FROM clients WHERE source = 'config'")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        for id in existing {
            if !clients.iter().any(|c| c.id == id) {
                sqlx::query("DELETE FROM clients WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for c in clients {
            let taken: Option<String> = sqlx::query("SELECT source FROM clients WHERE id = $1")
                .bind(&c.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
            match taken.as_deref() {
                Some("config") => {
                    sqlx::query("UPDATE clients SET secret_hash = $1, settings = $2 WHERE id = $3")
                        .bind(&c.secret_hash)
                        .bind(to_json(&c.settings))
                        .bind(&c.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(_) => {
                    return Err(StoreError::Conflict(format!(
                        "client {:?} in the config file was already added with the CLI",
                        c.id
                    )));
                }
                None => {
                    sqlx::query("INSERT INTO clients (id, secret_hash, settings, source, created_at) VALUES ($1, $2, $3, 'config', $4)")
                        .bind(&c.id)
                        .bind(&c.secret_hash)
                        .bind(to_json(&c.settings))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// One client by id.
    pub async fn client(&self, id: &str) -> Result<Option<ClientRow>> {
        let row =
            sqlx::query("SELECT id, secret_hash, settings, source FROM clients WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    /// All clients, by id.
    pub async fn clients(&self) -> Result<Vec<ClientRow>> {
        let rows = sqlx::query("SELECT id, secret_hash, settings, source FROM clients ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Removes a client; returns whether it existed.
    pub async fn remove_client(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

fn client_from_row(r: &sqlx::any::AnyRow) -> Result<ClientRow> {
    let id: String = r.try_get(0)?;
    let settings: String = r.try_get(2)?;
    Ok(ClientRow {
        settings: from_json(&settings, &format!("client {id} settings"))?,
        secret_hash: r.try_get(1)?,
        source: r.try_get(3)?,
        id,
    })
}
