//! Form bodies of `/token`, `/introspect`, `/revoke`, `POST /authorize`
//! (and the query of `GET /authorize`), and HTTP Basic client credentials
//! (`tollgate_wire::form`).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tollgate_wire::form;

fn component(s: &str) -> String {
    let v = serde_urlencoded::to_string([("v", s)]).expect("serialises");
    v["v=".len()..].to_string()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = form::parse(data) {
        #[cfg(feature = "planted-crash")]
        if f.contains_key("planted") {
            panic!("planted crash: the self-test of .ci/fuzz");
        }
        for (k, v) in &f {
            assert!(!k.contains('\u{FFFD}') && !v.contains('\u{FFFD}'));
        }
        // What we parse, we can write, and it reads back the same.
        assert_eq!(form::parse(form::encode(&f).as_bytes()), Ok(f));
    }
    if let Ok(header) = std::str::from_utf8(data)
        && let Ok((id, secret)) = form::basic_credentials(header)
    {
        assert!(!id.contains('\u{FFFD}') && !secret.contains('\u{FFFD}'));
        // A client that encodes per RFC 6749 §2.3.1 is read back exactly.
        let again = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", component(&id), component(&secret)))
        );
        assert_eq!(form::basic_credentials(&again), Ok((id, secret)));
    }
});
