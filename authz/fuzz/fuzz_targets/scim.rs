//! A SCIM target's answers (`tollgate_wire::scim`): the first two bytes are
//! the status code, the rest the body, as `scim/client.rs` receives them.
#![no_main]

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use tollgate_wire::scim::{self, Failure};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let code = 100 + u16::from_be_bytes([data[0], data[1]]) % 900;
    let status = StatusCode::from_u16(code).expect("100..=999 is a status");
    let text = String::from_utf8_lossy(&data[2..]);
    let json = scim::body(&text);
    let _ = scim::resource_id(&json);
    let _ = scim::first_resource(&json).and_then(scim::resource_id);
    let _ = scim::patch_supported(&json);
    if status.is_success() {
        return;
    }
    let what = "POST /Users";
    let f = scim::classify(status, &json, &text, what);
    // What the worker does depends on the status alone, never the body
    // (RFC 7644 §3.12 and the retry rules of `scim/worker.rs`).
    let want = match code {
        404 => "gone",
        409 => "conflict",
        401 | 403 | 408 | 429 => "target",
        400..=499 => "resource",
        _ => "target",
    };
    let got = match &f {
        Failure::Gone => "gone",
        Failure::Conflict(_) => "conflict",
        Failure::Target(_) => "target",
        Failure::Resource(_) => "resource",
    };
    assert_eq!(got, want, "status {code}");
    let msg = f.to_string();
    if code != 404 {
        assert!(msg.starts_with(what), "{msg}");
        assert!(msg.contains(&code.to_string()), "{msg}");
    }
    // The body is quoted, never all of it unless it is short.
    let quoted = |k: &str| json.get(k).and_then(serde_json::Value::as_str).is_some();
    if !quoted("detail") && !quoted("scimType") {
        assert!(
            msg.chars().count() <= what.len() + 80 + scim::QUOTED_CHARS,
            "{msg}"
        );
    }
});
