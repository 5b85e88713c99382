//! Cookie reading and writing with the security attributes we always want.

use axum::http::HeaderMap;

/// The browser session cookie (a secret; the store keeps its hash).
pub const SESSION: &str = "tg_session";
/// Binds a login interaction to the browser that started it.
pub const LOGIN: &str = "tg_login";
/// A long-lived random id for this browser: the risk scorer's device id
/// (only its SHA-256 is ever stored or scored).
pub const DEVICE: &str = "tg_device";

/// The value of cookie `name`, if present.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, and `Secure`
/// unless the issuer is plain-http loopback (the demo).
pub fn set(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}
