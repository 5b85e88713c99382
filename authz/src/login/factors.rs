//! Authentication factors and the `amr` values (RFC 8176) they produce.

pub use crate::store::{Method, ProvenFactor};

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
