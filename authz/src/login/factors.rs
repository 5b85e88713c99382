//! Authentication factors and the `amr` values (RFC 8176) they produce.

use serde::{Deserialize, Serialize};

/// A way of proving identity. Later issues add variants (TOTP, passkey,
/// agent device key); the level ladder and `amr` mapping are the only places
/// that need to learn about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Something you know.
    Password,
    /// A time-based one-time password (never phishing-resistant).
    Totp,
    /// A WebAuthn credential. `backup_eligible` (synced) caps it at `phr`;
    /// a device-bound one reaches `phrh` only when `attested` (its
    /// attestation satisfied the policy at registration). `attested`
    /// defaults to false so sessions serialised before it existed still read.
    Passkey {
        user_verified: bool,
        backup_eligible: bool,
        #[serde(default)]
        attested: bool,
    },
    /// An enrolled agent's SM2 device key, unlocked by the user's PIN, over a
    /// number-matched approval. `hardware`: the key lives in the TPM.
    DeviceKey { hardware: bool },
}

/// A factor proven at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenFactor {
    pub method: Method,
    /// Unix seconds.
    pub at: i64,
}

/// The `amr` values for a set of factors: exactly the methods performed,
/// plus `mfa` when more than one kind of factor was used.
pub fn amr_of(factors: &[ProvenFactor]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut push = |v: &'static str| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    let mut kinds = 0;
    let (mut know, mut have) = (false, false);
    for f in factors {
        match f.method {
            Method::Password => {
                push("pwd");
                know = true;
            }
            Method::Totp => {
                push("otp");
                have = true;
            }
            Method::Passkey {
                user_verified,
                backup_eligible,
                ..
            } => {
                push(if backup_eligible { "swk" } else { "hwk" });
                if user_verified {
                    push("user");
                    know = true;
                }
                have = true;
            }
            Method::DeviceKey { hardware } => {
                push(if hardware { "hwk" } else { "swk" });
                push("pin");
                know = true;
                have = true;
            }
        }
    }
    kinds += know as u8 + have as u8;
    if kinds > 1 {
        push("mfa");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(method: Method) -> ProvenFactor {
        ProvenFactor { method, at: 0 }
    }

    #[test]
    fn amr_lists_exactly_what_was_performed() {
        let cases: Vec<(Vec<ProvenFactor>, Vec<&str>)> = vec![
            (vec![f(Method::Password)], vec!["pwd"]),
            (vec![f(Method::Password), f(Method::Password)], vec!["pwd"]),
            (
                vec![f(Method::Password), f(Method::Totp)],
                vec!["pwd", "otp", "mfa"],
            ),
            (
                vec![f(Method::Passkey {
                    user_verified: true,
                    backup_eligible: false,
                    attested: false,
                })],
                vec!["hwk", "user", "mfa"],
            ),
            (
                vec![f(Method::Passkey {
                    user_verified: false,
                    backup_eligible: true,
                    attested: false,
                })],
                vec!["swk"],
            ),
            (
                vec![f(Method::DeviceKey { hardware: true })],
                vec!["hwk", "pin", "mfa"],
            ),
            (
                vec![
                    f(Method::Password),
                    f(Method::DeviceKey { hardware: false }),
                ],
                vec!["pwd", "swk", "pin", "mfa"],
            ),
        ];
        for (factors, want) in cases {
            assert_eq!(amr_of(&factors), want, "{factors:?}");
        }
    }
}
