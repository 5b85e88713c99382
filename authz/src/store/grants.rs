//! Grants: an authorization code and the refresh-token family it starts.
//!
//! A grant row is the unit of revocation. Access tokens carry their grant id
//! in `jti` (`<grant>.<random>`), so revoking a grant also stops its access
//! tokens at introspection and userinfo.

use super::{CodeData, RefreshData};
use super::{Result, Store, from_json, to_json};
use sqlx::Row;

/// A code found at the token endpoint.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub data: CodeData,
    pub expires_at: i64,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum ConsumeCode {
    /// First use: the code is now consumed.
    Fresh(Box<CodeRow>),
    /// The code was used before; its grant has now been revoked.
    Replayed {
        grant_id: String,
    },
    /// The grant was revoked (sign-out, policy deny, reuse) before the code
    /// was presented: the code is consumed and redeems nothing.
    Revoked,
    Unknown,
}

/// A refresh token found at the token endpoint.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub data: RefreshData,
    pub expires_at: i64,
    pub grant_revoked: bool,
    pub used: bool,
}

/// The outcome of rotating a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum UseRefresh {
    Rotated,
    /// The token had already been rotated: the family has been revoked.
    Reused,
}

impl Store {
    /// Creates a grant with no code (the password grant without refresh).
    pub async fn insert_grant(
        &self,
        grant_id: &str,
        client_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        grant_row(&mut conn, grant_id, client_id, user_id, None, now).await
    }

    /// Creates a grant and its first refresh token in one transaction (the
    /// password grant: no code, no browser session).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_grant_with_refresh(
        &self,
        grant_id: &str,
        client_id: &str,
        user_id: &str,
        token_hash: &str,
        data: &RefreshData,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        grant_row(&mut tx, grant_id, client_id, user_id, None, now).await?;
        refresh_row(&mut tx, grant_id, token_hash, data, now, expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a code consumed. A second presentation revokes its grant (and
    /// with it every token issued from the code), as RFC 6749 §4.1.2 advises.
    ///
    /// The first presentation is one statement: the conditional `UPDATE`
    /// that wins the code returns what it redeems (its grant's columns by
    /// subquery), so a sign-in's token request does not pay a transaction's
    /// four round trips. Anything else (an unknown code, a replay) takes
    /// the transaction below, which tells them apart.
    pub async fn consume_code(&self, code_hash: &str, now: i64) -> Result<ConsumeCode> {
        let won = self
            .write_returning(
                sqlx::query(
                    "UPDATE auth_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL \
                     RETURNING grant_id, client_id, \
                     (SELECT g.user_id FROM grants g WHERE g.id = auth_codes.grant_id), \
                     (SELECT g.session_id FROM grants g WHERE g.id = auth_codes.grant_id), \
                     data, expires_at, \
                     (SELECT g.revoked_at FROM grants g WHERE g.id = auth_codes.grant_id)",
                )
                .bind(now)
                .bind(code_hash.to_owned()),
            )
            .await?;
        if let Some(r) = won {
            let revoked_at: Option<i64> = r.try_get(6)?;
            if revoked_at.is_some() {
                return Ok(ConsumeCode::Revoked);
            }
            let data: String = r.try_get(4)?;
            return Ok(ConsumeCode::Fresh(Box::new(CodeRow {
                grant_id: r.try_get(0)?,
                client_id: r.try_get(1)?,
                user_id: r.try_get(2)?,
                session_id: r.try_get(3)?,
                data: from_json(&data, "code data")?,
                expires_at: r.try_get(5)?,
            })));
        }
        self.code_not_won(code_hash, now).await
    }

    /// The code was not there to win: unknown, or presented before (a
    /// consumed code never becomes unconsumed), and then its grant is
    /// revoked now.
    async fn code_not_won(&self, code_hash: &str, now: i64) -> Result<ConsumeCode> {
        let mut tx = self.begin().await?;
        let grant: Option<String> =
            sqlx::query_scalar("SELECT grant_id FROM auth_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(grant_id) = grant else {
            return Ok(ConsumeCode::Unknown);
        };
        revoke_grant_in(&mut tx, &grant_id, "authorization code replayed", now).await?;
        tx.commit().await?;
        Ok(ConsumeCode::Replayed { grant_id })
    }

    /// Stores a new refresh token in a grant's family.
    pub async fn insert_refresh(
        &self,
        grant_id: &str,
        token_hash: &str,
        data: &RefreshData,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.write(refresh_insert(grant_id, token_hash, data, now, expires_at))
            .await?;
        Ok(())
    }

    /// Looks a refresh token up without changing anything.
    pub async fn refresh(&self, token_hash: &str) -> Result<Option<RefreshRow>> {
        let row = sqlx::query(
            "SELECT r.grant_id, g.client_id, g.user_id, g.session_id, r.data, r.expires_at, g.revoked_at, r.used_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let data: String = r.try_get(4)?;
        let revoked: Option<i64> = r.try_get(6)?;
        let used: Option<i64> = r.try_get(7)?;
        Ok(Some(RefreshRow {
            grant_id: r.try_get(0)?,
            client_id: r.try_get(1)?,
            user_id: r.try_get(2)?,
            session_id: r.try_get(3)?,
            data: from_json(&data, "refresh data")?,
            expires_at: r.try_get(5)?,
            grant_revoked: revoked.is_some(),
            used: used.is_some(),
        }))
    }

    /// Rotates a refresh token: marks the old one used and stores the new one,
    /// in one transaction. If the old one was already used (a stolen copy
    /// racing the owner), the whole family is revoked instead.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh(
        &self,
        grant_id: &str,
        old_hash: &str,
        new_hash: &str,
        data: &RefreshData,
        now: i64,
        expires_at: i64,
    ) -> Result<UseRefresh> {
        let mut tx = self.begin().await?;
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            revoke_grant_in(&mut tx, grant_id, "refresh token reused", now).await?;
            tx.commit().await?;
            return Ok(UseRefresh::Reused);
        }
        refresh_row(&mut tx, grant_id, new_hash, data, now, expires_at).await?;
        tx.commit().await?;
        Ok(UseRefresh::Rotated)
    }

    /// Revokes a grant (its refresh family and access tokens).
    pub async fn revoke_grant(&self, grant_id: &str, reason: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        revoke_grant_in(&mut tx, grant_id, reason, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants revoked at or after `since`: what the revocation cache needs,
    /// since access tokens of a grant revoked earlier have all expired.
    pub async fn grants_revoked_since(&self, since: i64) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT id FROM grants WHERE revoked_at IS NOT NULL AND revoked_at >= $1")
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Records a revoked access token until it would have expired anyway.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revoked access tokens that have not expired yet.
    pub async fn revoked_jtis(&self, now: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT jti FROM revoked_tokens WHERE expires_at > $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Records a client assertion's `jti`; false if it was seen before (replay).
    pub async fn remember_assertion(&self, jti: &str, expires_at: i64) -> Result<bool> {
        let r = sqlx::query("INSERT INTO assertion_jtis (jti, expires_at) VALUES ($1, $2)")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

async fn revoke_grant_in(
    tx: &mut sqlx::AnyConnection,
    grant_id: &str,
    reason: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(grant_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn grant_row(
    conn: &mut sqlx::AnyConnection,
    grant_id: &str,
    client_id: &str,
    user_id: &str,
    session_id: Option<&str>,
    now: i64,
) -> Result<()> {
    grant_insert(grant_id, client_id, user_id, session_id, now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The statement that creates a grant, with owned binds.
fn grant_insert(
    grant_id: &str,
    client_id: &str,
    user_id: &str,
    session_id: Option<&str>,
    now: i64,
) -> super::writer::Stmt {
    sqlx::query("INSERT INTO grants (id, client_id, user_id, session_id, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(grant_id.to_owned())
        .bind(client_id.to_owned())
        .bind(user_id.to_owned())
        .bind(session_id.map(str::to_owned))
        .bind(now)
}

async fn refresh_row(
    conn: &mut sqlx::AnyConnection,
    grant_id: &str,
    token_hash: &str,
    data: &RefreshData,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    refresh_insert(grant_id, token_hash, data, now, expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The statement that stores a refresh token, with owned binds.
fn refresh_insert(
    grant_id: &str,
    token_hash: &str,
    data: &RefreshData,
    now: i64,
    expires_at: i64,
) -> super::writer::Stmt {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, data, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash.to_owned())
        .bind(grant_id.to_owned())
        .bind(to_json(data))
        .bind(now)
        .bind(expires_at)
}

/// A grant and its code: two statements to commit together
/// ([`Store::write_atomic`]), at the end of a sign-in with the rest of its
/// writes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn code_insert(
    grant_id: &str,
    client_id: &str,
    user_id: &str,
    session_id: Option<&str>,
    code_hash: &str,
    data: &CodeData,
    now: i64,
    expires_at: i64,
) -> Vec<super::writer::Stmt> {
    vec![
        grant_insert(grant_id, client_id, user_id, session_id, now),
        sqlx::query("INSERT INTO auth_codes (code_hash, grant_id, client_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(code_hash.to_owned())
            .bind(grant_id.to_owned())
            .bind(client_id.to_owned())
            .bind(to_json(data))
            .bind(expires_at),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_stores::stores;
    use crate::store::{AuthContext, NewUser};

    fn data() -> CodeData {
        CodeData {
            redirect_uri: "https://rp.example/cb".into(),
            scope: vec!["openid".into()],
            nonce: Some("n".into()),
            code_challenge: Some("c".into()),
            auth: AuthContext {
                acr: "aal1".into(),
                amr: vec!["pwd".into()],
                auth_time: 90,
                sid: Some("s-1".into()),
            },
        }
    }

    /// A code is redeemed once, whatever the race: of 40 parallel
    /// presentations one gets the code's data and the others see a replay
    /// (which revokes the grant); a code whose grant was revoked first
    /// redeems nothing; an unknown code is unknown. On both backends.
    #[tokio::test]
    async fn a_code_is_redeemed_once_under_parallel_presentations() {
        for (s, _dir) in stores(&[]).await {
            let users = [NewUser {
                login: "alice".into(),
                display_name: "Alice".into(),
                ..NewUser::default()
            }];
            let uid = s.insert_users(&users, 10).await.unwrap().remove(0);
            s.write_atomic(super::code_insert(
                "g-1",
                "rp",
                &uid,
                None,
                "h-1",
                &data(),
                100,
                160,
            ))
            .await
            .unwrap();
            let races: Vec<_> = (0..40)
                .map(|_| {
                    let s = s.clone();
                    tokio::spawn(async move { s.consume_code("h-1", 101).await.unwrap() })
                })
                .collect();
            let (mut fresh, mut replayed) = (vec![], 0);
            for r in races {
                match r.await.unwrap() {
                    ConsumeCode::Fresh(c) => fresh.push(c),
                    ConsumeCode::Replayed { grant_id } => {
                        assert_eq!(grant_id, "g-1");
                        replayed += 1;
                    }
                    ConsumeCode::Revoked => panic!("revoked by its own replay before winning"),
                    ConsumeCode::Unknown => panic!("the code is known"),
                }
            }
            assert_eq!((fresh.len(), replayed), (1, 39));
            let c = &fresh[0];
            assert_eq!(
                (
                    c.grant_id.as_str(),
                    c.client_id.as_str(),
                    c.user_id.as_str()
                ),
                ("g-1", "rp", uid.as_str())
            );
            assert_eq!((c.session_id.as_deref(), c.expires_at), (None, 160));
            assert_eq!(c.data.auth, data().auth);
            assert_eq!(s.grants_revoked_since(0).await.unwrap(), vec!["g-1"]);

            // A grant revoked before its code is presented.
            s.write_atomic(super::code_insert(
                "g-2",
                "rp",
                &uid,
                None,
                "h-2",
                &data(),
                100,
                160,
            ))
            .await
            .unwrap();
            s.revoke_grant("g-2", "signed out", 102).await.unwrap();
            assert!(matches!(
                s.consume_code("h-2", 103).await.unwrap(),
                ConsumeCode::Revoked
            ));
            assert!(matches!(
                s.consume_code("h-2", 104).await.unwrap(),
                ConsumeCode::Replayed { .. }
            ));
            assert!(matches!(
                s.consume_code("no-such-code", 105).await.unwrap(),
                ConsumeCode::Unknown
            ));
        }
    }
}
