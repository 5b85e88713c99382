//! Cookie reading and writing with the security attributes we always want.
//!
//! On an https issuer every cookie is a `__Host-` cookie: the browser then
//! accepts it only with `Secure`, `Path=/` and no `Domain`, so a sibling
//! subdomain (or a plain-http page on the same host) can neither set nor
//! overwrite it (session fixation). The plain-http loopback demo keeps the
//! bare names: browsers refuse `__Host-` cookies without `Secure`.

use axum::http::HeaderMap;

/// The browser session cookie (a secret; the store keeps its hash).
pub const SESSION: &str = "tg_session";
/// Binds a login interaction to the browser that started it.
pub const LOGIN: &str = "tg_login";
/// A long-lived random id for this browser: the risk scorer's device id
/// (only its SHA-256 is ever stored or scored).
pub const DEVICE: &str = "tg_device";

/// How this issuer names and marks its cookies: `secure` on every issuer
/// but plain-http loopback.
#[derive(Clone, Copy, Debug)]
pub struct Jar {
    secure: bool,
}

impl Jar {
    /// The jar of the issuer `app` runs as.
    pub fn of(app: &crate::state::App) -> Jar {
        Jar {
            secure: !app.config.insecure_cookies(),
        }
    }

    /// The name cookie `base` has on the wire: `__Host-<base>` when secure.
    pub fn name(self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    /// The value of cookie `base` under this jar's name, if present. A bare
    /// name on a secure issuer is ignored: anyone on a sibling host could
    /// have set it.
    pub fn get(self, headers: &HeaderMap, base: &str) -> Option<String> {
        let name = self.name(base);
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, never a
    /// `Domain`, and `Secure` unless the issuer is plain-http loopback.
    pub fn set(self, base: &str, value: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let name = self.name(base);
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub fn clear(self, base: &str) -> String {
        self.set(base, "", 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_are_host_prefixed_and_bare_names_are_ignored() {
        let jar = Jar { secure: true };
        let set = jar.set(SESSION, "v", 60);
        assert_eq!(
            set,
            "__Host-tg_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert!(!set.contains("Domain"));
        let mut h = HeaderMap::new();
        h.insert("cookie", "tg_session=planted".parse().unwrap());
        assert_eq!(jar.get(&h, SESSION), None, "a bare name is not ours");
        h.insert(
            "cookie",
            "tg_session=planted; __Host-tg_session=real"
                .parse()
                .unwrap(),
        );
        assert_eq!(jar.get(&h, SESSION).as_deref(), Some("real"));
        let demo = Jar { secure: false };
        assert_eq!(
            demo.set(LOGIN, "x", 5),
            "tg_login=x; Path=/; HttpOnly; SameSite=Lax; Max-Age=5"
        );
        assert_eq!(demo.get(&h, SESSION).as_deref(), Some("planted"));
    }
}
