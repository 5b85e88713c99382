//! What to tell a user whose factors cannot reach the level a sign-in
//! needs (`Next::Unmet`): in words, what is missing, and whether adding it
//! on `/account` would help. The page replaces a bare OIDC
//! `unmet_authentication_requirements` error; the relying party still
//! gets that error when the user goes back. The sentences are the
//! catalogs' `unmet-*` messages.

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
    // In the request's language (`i18n`); English outside a request.
    let client = crate::i18n::tr(client);
    let say = |id: &str| crate::i18n::t_args(id, &[("client", &client)]);
    let (missing, addable) = match level {
        Level::Aal1 => (say("unmet-aal1"), true),
        Level::Aal2 if has(FactorKind::Password) => (say("unmet-aal2-password"), true),
        Level::Aal2 => (say("unmet-aal2-none"), true),
        Level::Phr => (say("unmet-phr"), true),
        Level::Phrh if has(FactorKind::Passkey) => (say("unmet-phrh-synced"), attested_passkeys),
        Level::Phrh => (say("unmet-phrh"), attested_passkeys),
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
