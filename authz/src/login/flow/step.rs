//! The data a sign-in step takes and answers: where the request comes
//! from, the proof presented, the step that follows, and why a factor
//! check refused or the flow failed.

#[cfg(test)]
use crate::login::factor::Proven;
use crate::login::factor::{DeviceApproval, OtpProof, PasskeyProof, PasswordProof};
use crate::login::interaction::FactorKind;
use crate::login::unmet::HowToFix;
use crate::login::{Interaction, Next};
use crate::secret::Secret;
use crate::store::StoreError;

/// Where the request comes from, as the HTTP layer read it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
    /// SHA-256 (hex) of the `tg_device` cookie, never the cookie.
    pub device_hash: Option<String>,
    /// SHA-256 of the browser's session cookie, if it sent one: a step-up
    /// of that session replaces its secret instead of starting another.
    pub session_hash: Option<String>,
    /// What the browser sent besides its user agent (client hints,
    /// `Accept-Language`, the page's time zone), for the risk score; empty
    /// for a caller that is not a browser.
    pub signals: tollgate_risk::signals::BrowserSignals,
}

/// What the user presented for this step: one variant per factor, each
/// wrapping that factor's own proof type (`login/factor/<name>.rs`, which
/// also verifies it).
pub enum Proof {
    Password(PasswordProof),
    Otp(OtpProof),
    Passkey(PasskeyProof),
    Device(DeviceApproval),
    /// A factor taken as proven without its ceremony, for the table tests
    /// of what levels factors reach; it still goes through the same gate,
    /// next and finish. Not in a build: every real proof is verified.
    #[cfg(test)]
    Verified(Proven),
}

impl Proof {
    /// The factor this is a proof of (exhaustive: a new `Proof` variant
    /// names its kind).
    pub fn kind(&self) -> FactorKind {
        match self {
            Proof::Password(_) => FactorKind::Password,
            Proof::Otp(_) => FactorKind::Totp,
            Proof::Passkey(_) => FactorKind::Passkey,
            Proof::Device(_) => FactorKind::Device,
            #[cfg(test)]
            Proof::Verified(p) => crate::login::interaction::kind_of(p.method),
        }
    }
}

/// Why a factor check refused a proof. The interaction is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong secret (or another user's): counted by the attempts guard.
    Wrong,
    /// A one-time code that was right once and is used again.
    Replayed,
    /// The key or the IP used up its attempts: 429.
    Locked,
    /// The verifier is saturated; the attempt was given back: 503.
    Busy,
    /// The directory could not judge; the attempt was given back: 503.
    Unavailable,
    /// The passkey assertion was refused (its `PasskeyError::code`): 401.
    Passkey(&'static str),
    /// The device has not approved (yet), or the approval was used.
    Pending,
    /// The form is not usable (an empty or overlong username): 400.
    Malformed,
}

/// The next step of a sign-in, as data.
#[derive(Debug)]
pub enum Step {
    /// The interaction was saved: show its page (identify, or `next`).
    Show {
        id: String,
        next: Next,
        enrolled: Vec<FactorKind>,
    },
    /// The user cannot reach the level: saved until it expires, so a factor
    /// added on `/account` lets the same sign-in go on.
    Unmet { id: String, how_to_fix: HowToFix },
    /// Signed in: the session is recorded with this new cookie secret and
    /// the browser goes to `redirect` (the client with a code, or the
    /// account page).
    Complete {
        redirect: String,
        session_token: Secret,
    },
    /// The policy refused the login; the interaction is gone, and with
    /// `revoke` everything the user held.
    Denied { revoke: bool },
    /// The factor check refused the proof; the interaction comes back
    /// unchanged for its page.
    Refused { why: Refusal, ix: Box<Interaction> },
}

/// A fault of the sign-in, or a state the browser cannot go on from.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The step needs a known user and the interaction has none.
    #[error("the sign-in has no user")]
    NoUser,
    /// The user was removed while signing in.
    #[error("the account does not exist any more")]
    UserGone,
    /// A fault outside the store (a sealed secret that does not open).
    #[error("{0}")]
    Internal(String),
    /// Another request completed this interaction first.
    #[error("the sign-in was already completed")]
    AlreadyCompleted,
    /// A fault after the interaction was taken: the client is waiting, so
    /// it gets `server_error` at `redirect`.
    #[error("cannot finish the sign-in: {why}")]
    Finish { redirect: String, why: String },
}
