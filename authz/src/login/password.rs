//! Password hashing (argon2id, OWASP parameters) on a blocking thread, so a
//! burst of logins never stalls the async runtime.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1: OWASP's recommended argon2id minimum.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash(password: &Secret) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::secret::random_bytes(16)).map_err(|e| e.to_string())?;
    hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A valid hash of a random password, verified against when the user does
/// not exist so that timing does not reveal which logins exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::secret::random_token(16)).unwrap_or_default())
}

/// Verifies `password` against `stored` (or against a dummy hash when there is
/// no stored hash), on a blocking thread.
pub async fn verify(password: Secret, stored: Option<Secret>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (phc, real) = match &stored {
            Some(s) => (s.expose().to_string(), true),
            None => (dummy_hash().to_string(), false),
        };
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        hasher()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok()
            && real
    })
    .await
    .unwrap_or(false)
}

/// Hashes on a blocking thread.
pub async fn hash_async(password: Secret) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let h = hash(&Secret::new("correct horse")).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Secret::new("correct horse"), Some(Secret::new(h.clone()))).await);
        assert!(!verify(Secret::new("wrong"), Some(Secret::new(h))).await);
        assert!(!verify(Secret::new("anything"), None).await);
        assert!(!verify(Secret::new("x"), Some(Secret::new("not a phc string"))).await);
    }
}
