//! Compact JWS as `/userinfo`, `/introspect`, ext_authz, `id_token_hint`
//! and `private_key_jwt` receive it (`tollgate_wire::jws`).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tollgate_wire::jws;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = jws::parse(token) else {
        return;
    };
    // One spelling per token: the signature the verifier checks is exactly
    // the text received, and the signed input is the token's prefix.
    assert_eq!(
        format!(
            "{}.{}",
            c.signing_input,
            URL_SAFE_NO_PAD.encode(&c.signature)
        ),
        token
    );
    assert_eq!(c.signing_input.matches('.').count(), 1);
    assert!(c.signing_input.ends_with(c.payload));
    let (h, _) = c.signing_input.split_once('.').unwrap_or_default();
    let header = jws::decode_json(h).expect("a parsed header decodes again");
    assert_eq!(header["alg"].as_str(), Some(c.header.alg.as_str()));
    // Claims survive a round trip through their own encoding. Not for
    // claims holding a non-integer number: serde_json (without its
    // `float_roundtrip` feature) may parse a float one ulp off its
    // shortest spelling (found here: `"auth_time":176723E42`); the numeric
    // claims Tollgate reads (`exp`, `iat`, `nbf`, `auth_time`) are integers.
    if let Ok(claims) = c.claims()
        && !has_float(&claims)
    {
        let again = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("serialises"));
        assert_eq!(jws::decode_json(&again), Ok(claims));
    }
});

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_float),
        serde_json::Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}
