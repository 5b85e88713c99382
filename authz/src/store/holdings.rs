//! A user and what they hold, in one statement. Each step of a sign-in
//! needs the user row and, per factor, whether the user can use it now
//! (`login::factor::<name>::enrolled`); asked one table at a time that was
//! six round trips to the database per step, the largest share of a
//! passkey sign-in's store work (docs/operations.md, "Store round trips
//! per sign-in"). The facts are counted here; what they mean for each
//! factor stays in the factor's file.

use super::user_row::{COLUMNS, UserRow, columns_as, user_from_row};
use super::{Result, Store};
use sqlx::Row;

/// What the store holds of one user's factors, read with the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    /// A directory owns the user: its password is a bind there.
    pub directory_account: bool,
    /// An active TOTP secret (one valid code was entered).
    pub totp_active: bool,
    /// A device not revoked that shows OTPs (an agent).
    pub otp_devices: bool,
    /// A passkey that is not suspended.
    pub passkeys: bool,
    /// A device not revoked (it can approve sign-ins).
    pub devices: bool,
}

impl Store {
    /// The user `id` and what they hold, or `None` when there is no such
    /// user. One statement: the counts are subqueries of the user's row.
    pub async fn user_holdings(&self, id: &str) -> Result<Option<(UserRow, Holdings)>> {
        let cols = columns_as("u");
        let row = sqlx::query(&format!(
            "SELECT {cols}, \
             (SELECT COUNT(*) FROM directory_accounts a WHERE a.user_id = u.id), \
             (SELECT COUNT(*) FROM totp_factors t WHERE t.user_id = u.id AND t.active <> 0), \
             (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id \
                AND d.revoked_at IS NULL AND d.otp_sealed IS NOT NULL), \
             (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id AND p.suspicious = 0), \
             (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) \
             FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        // After the user's columns, in the order above.
        let n = COLUMNS.split(", ").count();
        let has = |i: usize| -> Result<bool> { Ok(r.try_get::<i64, _>(n + i)? > 0) };
        let h = Holdings {
            directory_account: has(0)?,
            totp_active: has(1)?,
            otp_devices: has(2)?,
            passkeys: has(3)?,
            devices: has(4)?,
        };
        Ok(Some((user_from_row(&r)?, h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_stores::stores;
    use crate::store::{NewUser, PasskeyRow};

    /// One user per row, set up through the same tables the sign-in reads;
    /// the one-statement answers (holdings, and the password's backend by
    /// login) must be what the per-table reads say.
    #[tokio::test]
    async fn holdings_agree_with_the_per_table_reads_on_both_backends() {
        // (login, totp: None | Some(active), passkey: None | Some(suspicious),
        //  device: None | Some((revoked, with_otp)), directory account)
        type Row = (
            &'static str,
            Option<bool>,
            Option<bool>,
            Option<(bool, bool)>,
            bool,
        );
        let table: &[Row] = &[
            ("nothing", None, None, None, false),
            ("totp-pending", Some(false), None, None, false),
            ("totp-active", Some(true), None, None, false),
            ("passkey", None, Some(false), None, false),
            ("passkey-suspended", None, Some(true), None, false),
            ("agent-with-otp", None, None, Some((false, true)), false),
            ("agent-no-otp", None, None, Some((false, false)), false),
            ("agent-revoked", None, None, Some((true, true)), false),
            ("from-directory", None, None, None, true),
            (
                "everything",
                Some(true),
                Some(false),
                Some((false, true)),
                true,
            ),
        ];
        for (s, _dir) in stores(&[]).await {
            let logins: Vec<NewUser> = table
                .iter()
                .map(|r| NewUser {
                    login: r.0.into(),
                    display_name: r.0.into(),
                    ..NewUser::default()
                })
                .collect();
            let ids = s.insert_users(&logins, 100).await.unwrap();
            for (row, id) in table.iter().zip(&ids) {
                let &(login, totp, passkey, device, directory) = row;
                if let Some(active) = totp {
                    s.put_pending_totp(id, "sealed", 100).await.unwrap();
                    if active {
                        assert!(s.use_totp_step(id, 7).await.unwrap());
                    }
                }
                if let Some(suspicious) = passkey {
                    s.insert_passkey(&PasskeyRow {
                        cred_id: format!("cred-{login}"),
                        user_id: id.clone(),
                        passkey: "{}".into(),
                        counter: 0,
                        aaguid: String::new(),
                        backup_eligible: false,
                        backup_state: false,
                        transports: vec![],
                        name: login.into(),
                        suspicious: false,
                        created_at: 100,
                        last_used_at: None,
                        attested: false,
                    })
                    .await
                    .unwrap();
                    if suspicious {
                        s.mark_passkey_suspicious(&format!("cred-{login}"))
                            .await
                            .unwrap();
                    }
                }
                if let Some((revoked, otp)) = device {
                    sqlx::query(
                        "INSERT INTO devices (id, user_id, public_key, dist_id, key_storage, \
                         otp_sealed, created_at, revoked_at) VALUES ($1, $2, 'k', 'd', 'software', $3, 100, $4)",
                    )
                    .bind(format!("d-{login}"))
                    .bind(id)
                    .bind(otp.then_some("seed"))
                    .bind(revoked.then_some(200i64))
                    .execute(&s.pool)
                    .await
                    .unwrap();
                }
                if directory {
                    sqlx::query(
                        "INSERT INTO directory_accounts (user_id, directory, external_id, dn, synced_at) \
                         VALUES ($1, 'corp', $2, 'cn=x', 100)",
                    )
                    .bind(id)
                    .bind(format!("guid-{login}"))
                    .execute(&s.pool)
                    .await
                    .unwrap();
                }
                let (user, got) = s.user_holdings(id).await.unwrap().unwrap();
                assert_eq!(user.login, login);
                let want = Holdings {
                    directory_account: s.directory_account(id).await.unwrap().is_some(),
                    totp_active: s.totp(id).await.unwrap().is_some_and(|t| t.active),
                    otp_devices: !s.otp_devices(id).await.unwrap().is_empty(),
                    passkeys: s.passkeys(id).await.unwrap().iter().any(|p| !p.suspicious),
                    devices: s
                        .devices(Some(id))
                        .await
                        .unwrap()
                        .iter()
                        .any(|d| d.revoked_at.is_none()),
                };
                assert_eq!(got, want, "{login}");
                // And the table's own intent, so both sides cannot agree on nothing.
                assert_eq!(got.totp_active, totp == Some(true), "{login}");
                assert_eq!(got.passkeys, passkey == Some(false), "{login}");
                assert_eq!(got.devices, device.is_some_and(|d| !d.0), "{login}");
                assert_eq!(got.otp_devices, device == Some((false, true)), "{login}");
                assert_eq!(got.directory_account, directory, "{login}");
                // Where the password is checked, read with the user by login.
                let (by_login, account) =
                    s.user_by_login_with_account(login).await.unwrap().unwrap();
                assert_eq!(by_login.id, *id);
                assert_eq!(
                    account.map(|a| (a.directory, a.external_id)),
                    directory.then(|| ("corp".to_owned(), format!("guid-{login}"))),
                    "{login}"
                );
            }
            assert!(s.user_holdings("no-such-user").await.unwrap().is_none());
            assert!(
                s.user_by_login_with_account("no-such-login")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}
