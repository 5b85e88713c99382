//! The agent ↔ issuer protocol (`tollgate_agent`): the JSON bodies of
//! `wire.rs`, the `Tollgate-SM2` Authorization header, and the offline
//! grant / receipt envelopes (`token.rs`). The first byte picks what the
//! rest is read as, so one corpus covers every message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_agent::grant::{GRANT_KIND, GrantClaims};
use tollgate_agent::receipt::peek_receipt;
use tollgate_agent::signed::DeviceAuth;
use tollgate_agent::{token, wire};

/// A message that parses serialises, and reads back as the same message.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(m) = serde_json::from_slice::<T>(bytes) {
        let again = serde_json::to_vec(&m).expect("a parsed message serialises");
        assert_eq!(serde_json::from_slice::<T>(&again).expect("reparses"), m);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 16 {
        0 => round_trip::<wire::EnrollBeginRequest>(rest),
        1 => round_trip::<wire::EnrollBeginResponse>(rest),
        2 => round_trip::<wire::EnrollFinishRequest>(rest),
        3 => round_trip::<wire::EnrollAttestRequest>(rest),
        4 => round_trip::<wire::EnrollAttestResponse>(rest),
        5 => round_trip::<wire::EnrollFinishResponse>(rest),
        6 => round_trip::<wire::PendingChallenges>(rest),
        7 => round_trip::<wire::ApprovalRequest>(rest),
        8 => round_trip::<wire::ApprovalResponse>(rest),
        9 => round_trip::<wire::GrantResponse>(rest),
        10 => round_trip::<wire::ReceiptUpload>(rest),
        11 => round_trip::<wire::ReceiptUploadResponse>(rest),
        12 => round_trip::<wire::ErrorBody>(rest),
        13 => {
            let Ok(h) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(auth) = DeviceAuth::parse_header(h) {
                // The header the agent writes is the header the issuer read.
                assert_eq!(DeviceAuth::parse_header(&auth.to_header()), Ok(auth));
            }
        }
        14 => {
            let Ok(t) = std::str::from_utf8(rest) else {
                return;
            };
            let _ = token::peek::<GrantClaims>(GRANT_KIND, t);
        }
        _ => {
            let Ok(t) = std::str::from_utf8(rest) else {
                return;
            };
            // A receipt never reads as a grant, nor a grant as a receipt.
            if peek_receipt(t).is_ok() {
                assert!(token::peek::<GrantClaims>(GRANT_KIND, t).is_err());
            }
        }
    }
});
