//! What to tell a user whose factors cannot reach the level a sign-in
//! needs (`Next::Unmet`): in words, what is missing, and whether adding it
//! on `/account` would help. The page replaces a bare OIDC
//! `unmet_authentication_requirements` error; the relying party still
//! gets that error when the user goes back.

use super::Level;
use super::interaction::FactorKind;

/// The explanation of an unmet level: data the HTTP layer renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HowToFix {
    /// One sentence naming what the level needs and what the user lacks.
    pub missing: String,
    /// Whether the user can add the missing factor on `/account` (a
    /// passkey or an authenticator app), so the page links there.
    pub add_on_account: bool,
}

/// Why `enrolled` cannot reach `level`, for a sign-in to `client`.
/// `attested_passkeys`: whether the issuer trusts passkey attestations
/// (only then can a passkey added on `/account` reach `phrh`).
/// `account_client`: the sign-in is the account page's own, so sending the
/// user to `/account` would go in a circle.
pub fn how_to_fix(
    level: Level,
    enrolled: &[FactorKind],
    client: &str,
    attested_passkeys: bool,
    account_client: bool,
) -> HowToFix {
    let has = |k| enrolled.contains(&k);
    let (missing, addable) = match level {
        Level::Aal1 => (
            format!("{client} needs a way to sign in; your account has none."),
            true,
        ),
        Level::Aal2 => (
            format!(
                "{client} needs a second step after your password: an authenticator app or \
                 a passkey. You have {}.",
                if has(FactorKind::Password) {
                    "only a password"
                } else {
                    "neither"
                }
            ),
            true,
        ),
        Level::Phr => (
            format!(
                "{client} needs a passkey (or an enrolled device); you have none. A password \
                 or a one-time code is not enough for it."
            ),
            true,
        ),
        Level::Phrh => (
            format!(
                "{client} needs a hardware-bound key: a device-bound passkey from a maker \
                 your organisation trusts, or a device with a TPM. You have none{}.",
                if has(FactorKind::Passkey) {
                    " (your passkeys are synced or their maker is not trusted)"
                } else {
                    ""
                }
            ),
            attested_passkeys,
        ),
    };
    HowToFix {
        missing,
        add_on_account: addable && !account_client,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FactorKind::*;

    #[test]
    fn each_level_says_what_is_missing_and_whether_the_account_page_helps() {
        let check = |level, enrolled: &[FactorKind], attested, account, text: &str, link| {
            let h = how_to_fix(level, enrolled, "vcenter", attested, account);
            assert!(h.missing.contains(text), "{level:?}: {}", h.missing);
            assert_eq!(h.add_on_account, link, "{level:?} {enrolled:?}");
        };
        check(
            Level::Aal2,
            &[Password],
            false,
            false,
            "vcenter needs a second step after your password",
            true,
        );
        check(
            Level::Aal2,
            &[Password],
            false,
            false,
            "only a password",
            true,
        );
        check(
            Level::Phr,
            &[Password, Totp],
            false,
            false,
            "needs a passkey (or an enrolled device); you have none",
            true,
        );
        check(
            Level::Phrh,
            &[Password, Passkey],
            false,
            false,
            "your passkeys are synced",
            false,
        );
        check(
            Level::Phrh,
            &[Password],
            true,
            false,
            "hardware-bound",
            true,
        );
        // The account page's own sign-in never links to itself.
        check(
            Level::Phr,
            &[Password],
            false,
            true,
            "needs a passkey",
            false,
        );
    }
}
