//! The login interaction as a small state machine.
//!
//! It knows the validated authorization request, who is signing in, the
//! factors proven so far (carried over from the session for a step-up) and
//! the requirement. `next` says what to ask for; the handlers only render
//! that and feed proofs back with `prove`.

use super::{Level, Method, ProvenFactor, Requirement};
use serde::{Deserialize, Serialize};

/// A validated authorization request, kept for the whole interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 challenge; `None` only for clients that opted out of PKCE.
    pub code_challenge: Option<String>,
    pub prompt_login: bool,
    pub prompt_none: bool,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    /// OIDC `ui_locales` as sent (space-separated BCP 47 tags): the pages
    /// of this sign-in prefer them to `Accept-Language` (`i18n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
    /// The client's display name (`name` in its config) when it has one,
    /// for "Sign in to vCenter" instead of the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
}

/// Kinds of factor a page can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    Password,
    Totp,
    Passkey,
    /// Approval on an enrolled agent device (number matching).
    Device,
}

impl FactorKind {
    /// Every kind, in the order pages offer them (`factor::REGISTRY` has
    /// one spec per entry, in this order).
    pub const ALL: [FactorKind; 4] = [
        FactorKind::Password,
        FactorKind::Totp,
        FactorKind::Passkey,
        FactorKind::Device,
    ];

    /// Its place in [`FactorKind::ALL`]. An exhaustive match, so a new
    /// kind does not compile until it is given one (the next), which is
    /// where it goes in `ALL`; the check below keeps the two in step.
    pub const fn position(self) -> usize {
        match self {
            FactorKind::Password => 0,
            FactorKind::Totp => 1,
            FactorKind::Passkey => 2,
            FactorKind::Device => 3,
        }
    }
}

// `ALL` lists each kind once, each at its `position`.
const _: () = {
    let mut i = 0;
    while i < FactorKind::ALL.len() {
        assert!(FactorKind::ALL[i].position() == i);
        i += 1;
    }
};

/// What the interaction needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask who is signing in (and their first factor).
    Identify,
    /// Ask for one of these factors.
    Factor(Vec<FactorKind>),
    /// The requirement is met.
    Complete,
    /// The user has no factor that could reach the requirement.
    Unmet,
}

/// The state of one login interaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    /// Anti-CSRF token embedded in the forms.
    pub csrf: String,
    /// Hex SHA-256 of the `tg_login` cookie: the browser that started it.
    pub browser: String,
    pub request: AuthRequest,
    pub requirement: Requirement,
    /// Set once the user is identified.
    pub user_id: Option<String>,
    pub login: Option<String>,
    /// The session being stepped up, if any.
    pub session_id: Option<String>,
    /// Factors proven (including those carried from the session).
    pub proven: Vec<ProvenFactor>,
    pub expires_at: i64,
    /// The policy decision, made once the user is known.
    #[serde(default)]
    pub risk: Option<crate::decision::login::LoginRisk>,
}

impl Interaction {
    /// What to ask for next, given the factor kinds the user has enrolled.
    pub fn next(&self, enrolled: &[FactorKind], now: i64) -> Next {
        if self.user_id.is_none() {
            return Next::Identify;
        }
        if self.requirement.met_by(&self.proven, now) {
            return Next::Complete;
        }
        let fresh = self.requirement.fresh(&self.proven, now);
        // A kind is worth asking for if it is not proven yet and, together
        // with the user's other enrolled factors, could reach the level.
        let useful: Vec<FactorKind> = enrolled
            .iter()
            .copied()
            .filter(|k| !fresh.iter().any(|f| kind_of(f.method) == *k))
            .filter(|k| could_help(*k, &fresh, enrolled, self.requirement.level, now))
            .collect();
        if useful.is_empty() {
            Next::Unmet
        } else {
            Next::Factor(useful)
        }
    }

    /// Records a proven factor.
    pub fn prove(&mut self, method: Method, now: i64) {
        self.proven.push(ProvenFactor { method, at: now });
    }

    /// The level reached so far (what `acr` will say), if any.
    pub fn level(&self, now: i64) -> Option<Level> {
        Level::reached(&self.requirement.fresh(&self.proven, now))
    }
}

/// The kind of factor a proven method is a proof of.
pub(crate) fn kind_of(m: Method) -> FactorKind {
    match m {
        Method::Password => FactorKind::Password,
        Method::Totp => FactorKind::Totp,
        Method::Passkey { .. } => FactorKind::Passkey,
        Method::DeviceKey { .. } => FactorKind::Device,
    }
}

/// The strongest proof a kind of factor can give (its spec's).
fn best_case(k: FactorKind) -> Method {
    crate::login::factor::spec(k).best_case
}

/// Whether proving `k` now, followed by the user's other enrolled factors,
/// could reach `level` (a first step of a multi-factor login).
fn could_help(
    k: FactorKind,
    fresh: &[ProvenFactor],
    enrolled: &[FactorKind],
    level: Level,
    now: i64,
) -> bool {
    let mut all: Vec<ProvenFactor> = fresh.to_vec();
    all.push(ProvenFactor {
        method: best_case(k),
        at: now,
    });
    // A kind already proven counts as what it proved (in `fresh`), not as
    // its best case: an unattested passkey must not make the password look
    // useful for phrh.
    for e in enrolled {
        if *e != k && !fresh.iter().any(|f| kind_of(f.method) == *e) {
            all.push(ProvenFactor {
                method: best_case(*e),
                at: now,
            });
        }
    }
    Level::reached(&all).is_some_and(|l| l >= level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ix(level: Level, proven: Vec<Method>) -> Interaction {
        Interaction {
            id: "i".into(),
            csrf: "c".into(),
            browser: "b".into(),
            request: AuthRequest {
                client_id: "c".into(),
                redirect_uri: "https://rp/cb".into(),
                scope: vec!["openid".into()],
                state: None,
                nonce: None,
                code_challenge: None,
                prompt_login: false,
                prompt_none: false,
                max_age: None,
                acr_values: vec![],
                login_hint: None,
                ui_locales: None,
                client_name: None,
            },
            requirement: Requirement {
                level,
                max_age: None,
            },
            user_id: Some("u".into()),
            login: Some("alice".into()),
            session_id: None,
            proven: proven
                .into_iter()
                .map(|method| ProvenFactor { method, at: 0 })
                .collect(),
            expires_at: 100,
            risk: None,
        }
    }

    use FactorKind::*;

    #[test]
    fn next_step_table() {
        let cases: Vec<(Level, Vec<Method>, Vec<FactorKind>, Next)> = vec![
            (
                Level::Aal1,
                vec![Method::Password],
                vec![Password],
                Next::Complete,
            ),
            (
                Level::Aal2,
                vec![Method::Password],
                vec![Password],
                Next::Unmet,
            ),
            (
                Level::Aal2,
                vec![Method::Password],
                vec![Password, Totp],
                Next::Factor(vec![Totp]),
            ),
            (
                Level::Aal2,
                vec![Method::Password],
                vec![Password, Totp, Passkey],
                Next::Factor(vec![Totp, Passkey]),
            ),
            (
                Level::Phr,
                vec![Method::Password, Method::Totp],
                vec![Password, Totp, Passkey],
                Next::Factor(vec![Passkey]),
            ),
            (
                Level::Phr,
                vec![Method::Password, Method::Totp],
                vec![Password, Totp],
                Next::Unmet,
            ),
            (
                Level::Aal2,
                vec![],
                vec![Password, Totp],
                Next::Factor(vec![Password, Totp]),
            ),
            (
                Level::Phr,
                vec![Method::Password],
                vec![Password, Device],
                Next::Factor(vec![Device]),
            ),
            (
                Level::Phrh,
                vec![Method::Password, Method::DeviceKey { hardware: false }],
                vec![Password, Device],
                Next::Unmet,
            ),
            // A device-bound passkey without trusted attestation proved phr:
            // nothing the user has left can lift it to phrh.
            (
                Level::Phrh,
                vec![Method::Passkey {
                    user_verified: true,
                    backup_eligible: false,
                    attested: false,
                }],
                vec![Password, Totp, Passkey],
                Next::Unmet,
            ),
            // Not tried yet: a passkey might be an attested one.
            (
                Level::Phrh,
                vec![Method::Password],
                vec![Password, Passkey],
                Next::Factor(vec![Passkey]),
            ),
        ];
        for (level, proven, enrolled, want) in cases {
            assert_eq!(
                ix(level, proven.clone()).next(&enrolled, 10),
                want,
                "{level:?} {proven:?} {enrolled:?}"
            );
        }
        let mut anon = ix(Level::Aal1, vec![]);
        anon.user_id = None;
        assert_eq!(anon.next(&[Password], 0), Next::Identify);
    }
}
