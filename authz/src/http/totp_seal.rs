//! A user's TOTP secret, sealed at rest with the master key under
//! `totp:<user_id>`.

use super::error::PageError;
use crate::state::App;

/// Opens a sealed TOTP secret (context `totp:<user_id>`,
/// `login::flow::open_totp`).
pub(super) fn open_secret(
    app: &App,
    user_id: &str,
    sealed_b64: &str,
) -> Result<Vec<u8>, PageError> {
    Ok(crate::login::flow::open_totp(
        &app.master,
        user_id,
        sealed_b64,
    )?)
}
