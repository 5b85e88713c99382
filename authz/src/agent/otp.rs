//! Agent OTPs at sign-in: a code shown by `tollgate-agent otp` proves the
//! `otp` factor (`Method::Totp`), exactly like an authenticator app's code.
//!
//! Rules (the same as for the user's own TOTP): RFC 6238 or GM/T 0021 SM3
//! (what the device enrolled with), ±1 time step, each step accepted at most
//! once per device (`Store::use_device_otp_step`, a conditional `UPDATE`),
//! only for devices that are not revoked. Lockout is the caller's: the TOTP
//! step of the login counts failures for both kinds of code together.

use base64::Engine;
use tollgate_agent::otp::{self, OtpAlgorithm, OtpParams};
use tollgate_agent::secret::OtpSeed;

/// Digits of every provisioned agent OTP.
pub const DIGITS: u32 = 6;
/// Seconds per time step of every provisioned agent OTP.
pub const PERIOD: u64 = 30;

/// What a code was, checked against the user's active devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentOtp {
    /// The code of a device at a step not used before; that step is now used.
    Accepted { device_id: String },
    /// The code of a device at a step already accepted.
    Replayed,
    /// No active device shows this code now (±1 step).
    NoMatch,
}

/// The parameters a device's codes are verified with.
pub fn params(algorithm: &str) -> Option<OtpParams> {
    Some(OtpParams {
        algorithm: OtpAlgorithm::parse(algorithm)?,
        digits: DIGITS,
        period: PERIOD,
    })
}

/// Checks `code` at `now` against every active device of `user_id` that
/// holds an OTP seed. Errors are internal (store, unsealing).
pub async fn check(
    store: &crate::store::Store,
    master: &crate::master_key::MasterKey,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<AgentOtp, String> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(AgentOtp::NoMatch);
    }
    let devices = store
        .otp_devices(user_id)
        .await
        .map_err(|e| e.to_string())?;
    for (device_id, sealed, algorithm) in devices {
        let Some(p) = params(&algorithm) else {
            tracing::error!(device = %device_id, algorithm, "unknown OTP algorithm stored");
            continue;
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .map_err(|e| format!("device {device_id} OTP seed: {e}"))?;
        let seed = master
            .open(&format!("device-otp:{device_id}"), &sealed)
            .map_err(|e| format!("device {device_id} OTP seed: {e}"))?;
        let step = otp::verify(&OtpSeed::new(seed.to_vec()), p, code, now, 1)
            .map_err(|e| e.to_string())?;
        if let Some(step) = step {
            let step = i64::try_from(step).map_err(|e| e.to_string())?;
            return Ok(
                if store
                    .use_device_otp_step(&device_id, step)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    AgentOtp::Accepted { device_id }
                } else {
                    AgentOtp::Replayed
                },
            );
        }
    }
    Ok(AgentOtp::NoMatch)
}
