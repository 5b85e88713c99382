//! A user's TOTP secret, sealed at rest with the master key under
//! `totp:<user_id>`.

use super::error::PageError;
use crate::state::App;

/// Opens a sealed TOTP secret (context `totp:<user_id>`).
pub(super) fn open_secret(
    app: &App,
    user_id: &str,
    sealed_b64: &str,
) -> Result<Vec<u8>, PageError> {
    use base64::Engine;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed_b64)
        .map_err(PageError::internal)?;
    app.master
        .open(&format!("totp:{user_id}"), &sealed)
        .map_err(PageError::internal)
}
