//! Login approval with number matching.
//!
//! A login that needs a step-up creates one challenge per active device of
//! the user, all with the same two-digit number (shown on the login page)
//! and each with its own server nonce, bound to the login interaction
//! (`transaction_id`). The agent fetches them, the user types the number
//! they see, the agent signs the answer. The answer is checked with
//! `signed::check_approval` and recorded with a conditional `UPDATE`, so
//! each challenge is answered at most once: a replay is refused and a wrong
//! number burns the challenge (no guessing). An answer whose signature does
//! not verify burns nothing: a stranger cannot cancel a user's login.

use super::{AgentError, device_key, key_storage};
use crate::state::App;
use crate::store::{ChallengeRow, DeviceRow};
use tollgate_agent::signed::{self, ApprovalOutcome, IssuedChallenge, ProtocolError};
use tollgate_agent::wire::{
    ApprovalRequest, ApprovalResponse, KeyStorage, LoginOrigin, PendingChallenge, PendingChallenges,
};

/// What the login page shows and learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginApproval {
    /// Waiting for the user: show this number until `expires_at`.
    Pending { number: String, expires_at: i64 },
    /// Approved on a device; the proof was consumed for this login.
    Approved { device_id: String, hardware: bool },
    /// Denied, wrong number, or expired: the page offers a new number.
    Refused { outcome: String },
    /// The user has no active device.
    NoDevice,
}

/// The login's current approval state; creates challenges when none is
/// live (first visit, or after a refusal when `renew`).
pub async fn for_login(
    app: &App,
    transaction_id: &str,
    user_id: &str,
    origin: &LoginOrigin,
    renew: bool,
    now: i64,
) -> Result<LoginApproval, AgentError> {
    let existing = app.store.challenges_of(transaction_id).await?;
    if let Some(state) = current(&existing, now)
        && !(renew && matches!(state, LoginApproval::Refused { .. }))
    {
        return Ok(state);
    }
    let devices: Vec<DeviceRow> = app
        .store
        .devices(Some(user_id))
        .await?
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .collect();
    if devices.is_empty() {
        return Ok(LoginApproval::NoDevice);
    }
    let number = signed::random_number().map_err(|e| AgentError::internal("random", e))?;
    let origin = serde_json::to_string(origin).map_err(|e| AgentError::internal("origin", e))?;
    let mut rows = Vec::with_capacity(devices.len());
    for d in &devices {
        rows.push(ChallengeRow {
            id: format!("c-{}", crate::secret::random_id(12)),
            transaction_id: transaction_id.to_string(),
            device_id: d.id.clone(),
            nonce: tollgate_agent::b64::random(16)
                .map_err(|e| AgentError::internal("random", e))?,
            number: number.clone(),
            origin: origin.clone(),
            created_at: now,
            expires_at: now + signed::CHALLENGE_TTL,
            answered_at: None,
            outcome: None,
        });
    }
    app.store.insert_challenges(&rows).await?;
    app.audit(
        "step_up.device_challenge",
        user_id,
        transaction_id,
        serde_json::json!({"devices": devices.iter().map(|d| &d.id).collect::<Vec<_>>(),
                           "expires_at": now + signed::CHALLENGE_TTL}),
    )
    .await;
    Ok(LoginApproval::Pending {
        number,
        expires_at: now + signed::CHALLENGE_TTL,
    })
}

/// The login's state from its challenges: approved if any device
/// approved; else pending while any challenge is unanswered and live (a
/// renewal adds one after a refusal); else refused with the newest
/// outcome. Pure: unit-tested below.
fn current(rows: &[ChallengeRow], now: i64) -> Option<LoginApproval> {
    if let Some(c) = rows
        .iter()
        .find(|c| c.outcome.as_deref() == Some("approved"))
    {
        return Some(LoginApproval::Approved {
            device_id: c.device_id.clone(),
            hardware: false,
        });
    }
    if let Some(c) = rows
        .iter()
        .filter(|c| c.answered_at.is_none() && now < c.expires_at)
        .max_by_key(|c| c.created_at)
    {
        return Some(LoginApproval::Pending {
            number: c.number.clone(),
            expires_at: c.expires_at,
        });
    }
    let newest = rows
        .iter()
        .max_by_key(|c| (c.answered_at.unwrap_or(c.expires_at), c.created_at))?;
    Some(LoginApproval::Refused {
        outcome: match (&newest.answered_at, &newest.outcome) {
            (Some(_), Some(o)) => o.clone(),
            _ => "expired".into(),
        },
    })
}

/// Turns the login's approval into a proof, once: returns the device and
/// whether its key is hardware-bound, or `None` when not (or no longer)
/// approved. A device revoked after approving does not count.
pub async fn consume(
    store: &crate::store::Store,
    transaction_id: &str,
    user_id: &str,
) -> Result<Option<(DeviceRow, bool)>, AgentError> {
    for c in store.challenges_of(transaction_id).await? {
        if c.outcome.as_deref() != Some("approved") {
            continue;
        }
        let Some(d) = store.device(&c.device_id).await? else {
            continue;
        };
        if d.revoked_at.is_some() || d.user_id != user_id {
            continue;
        }
        if store.consume_approval(&c.id).await? {
            let hardware = key_storage(&d.key_storage) == Some(KeyStorage::Tpm);
            return Ok(Some((d, hardware)));
        }
    }
    Ok(None)
}

/// `POST /v1/agent/challenges/pending` for an authenticated device.
pub async fn pending(
    app: &App,
    device: &DeviceRow,
    now: i64,
) -> Result<PendingChallenges, AgentError> {
    let rows = app.store.pending_challenges(&device.id, now).await?;
    Ok(PendingChallenges {
        challenges: rows
            .into_iter()
            .map(|c| PendingChallenge {
                origin: serde_json::from_str(&c.origin).unwrap_or_default(),
                challenge_id: c.id,
                transaction_id: c.transaction_id,
                nonce: c.nonce,
                created_at: c.created_at,
                expires_at: c.expires_at,
            })
            .collect(),
    })
}

/// `POST /v1/agent/challenges/{id}/answer`.
pub async fn answer(
    app: &App,
    path_id: &str,
    req: &ApprovalRequest,
    now: i64,
) -> Result<ApprovalResponse, AgentError> {
    if path_id != req.challenge_id {
        return Err(AgentError::bad_request(
            "invalid_request",
            "challenge id in path and body differ",
        ));
    }
    let device = app
        .store
        .device(&req.device_id)
        .await?
        .ok_or_else(|| AgentError::new(401, "unknown_device", "unknown device"))?;
    if device.revoked_at.is_some() {
        app.audit(
            "step_up.device_revoked_answer",
            &device.user_id,
            &device.id,
            serde_json::json!({"challenge_id": req.challenge_id}),
        )
        .await;
        return Err(AgentError::new(
            403,
            "device_revoked",
            "this device was revoked",
        ));
    }
    let c = app
        .store
        .challenge(&req.challenge_id)
        .await?
        .ok_or_else(|| AgentError::new(404, "unknown_challenge", "unknown challenge"))?;
    let issued = IssuedChallenge {
        challenge_id: c.id.clone(),
        transaction_id: c.transaction_id.clone(),
        device_id: c.device_id.clone(),
        nonce: c.nonce.clone(),
        number: c.number.clone(),
        expires_at: c.expires_at,
        used: c.answered_at.is_some(),
    };
    let key = device_key(&device)?;
    let outcome = match signed::check_approval(&issued, req, &key, &device.dist_id, now) {
        Ok(o) => o,
        Err(e) => {
            app.audit(
                "step_up.device_answer_refused",
                &device.user_id,
                &c.transaction_id,
                serde_json::json!({"challenge_id": c.id, "device_id": device.id, "reason": e.to_string()}),
            )
            .await;
            let status = if e == ProtocolError::BadSignature {
                401
            } else {
                400
            };
            return Err(AgentError::new(status, "invalid_answer", e.to_string()));
        }
    };
    let (status, kind) = match outcome {
        ApprovalOutcome::Approved => ("approved", "step_up.device_approved"),
        ApprovalOutcome::Denied => ("denied", "step_up.device_denied"),
        ApprovalOutcome::WrongNumber => ("rejected", "step_up.device_wrong_number"),
    };
    if !app.store.answer_challenge(&c.id, status, now).await? {
        return Err(AgentError::bad_request(
            "invalid_answer",
            ProtocolError::ChallengeUsed.to_string(),
        ));
    }
    let amr = key_storage(&device.key_storage).map(|k| k.amr());
    app.audit(
        kind,
        &device.user_id,
        &c.transaction_id,
        serde_json::json!({"challenge_id": c.id, "device_id": device.id, "amr": amr}),
    )
    .await;
    Ok(ApprovalResponse {
        status: status.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created: i64, answered: Option<i64>, outcome: Option<&str>) -> ChallengeRow {
        ChallengeRow {
            id: format!("c-{created}"),
            transaction_id: "tx".into(),
            device_id: "d-1".into(),
            nonce: "n".into(),
            number: "42".into(),
            origin: "{}".into(),
            created_at: created,
            expires_at: created + 120,
            answered_at: answered,
            outcome: outcome.map(str::to_string),
        }
    }

    #[test]
    fn login_state_of_the_newest_batch() {
        let pending = |n: &str, e: i64| {
            Some(LoginApproval::Pending {
                number: n.into(),
                expires_at: e,
            })
        };
        let refused = |o: &str| Some(LoginApproval::Refused { outcome: o.into() });
        let cases: Vec<(Vec<ChallengeRow>, i64, Option<LoginApproval>)> = vec![
            (vec![], 0, None),
            (vec![row(100, None, None)], 150, pending("42", 220)),
            (vec![row(100, None, None)], 220, refused("expired")),
            (
                vec![row(100, Some(110), Some("rejected"))],
                150,
                refused("rejected"),
            ),
            (
                vec![row(100, Some(110), Some("denied"))],
                150,
                refused("denied"),
            ),
            (
                vec![row(100, Some(110), Some("approved"))],
                150,
                Some(LoginApproval::Approved {
                    device_id: "d-1".into(),
                    hardware: false,
                }),
            ),
            // consumed approvals are spent: the batch reads as answered
            (
                vec![row(100, Some(110), Some("consumed"))],
                150,
                refused("consumed"),
            ),
            // a renewal after a refusal is pending, even within the same second
            (
                vec![row(100, Some(110), Some("rejected")), row(100, None, None)],
                150,
                pending("42", 220),
            ),
            (
                vec![row(100, Some(110), Some("rejected")), row(200, None, None)],
                330,
                refused("expired"),
            ),
        ];
        for (rows, now, want) in cases {
            assert_eq!(current(&rows, now), want, "{rows:?} at {now}");
        }
    }
}
