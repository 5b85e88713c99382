//! The request path as the upstream will see it, computed once before any
//! policy rule matches.
//!
//! A gateway rule like `path: ["/admin/*"]` is only as good as the path it
//! is matched against. Upstreams decode percent escapes, merge slashes and
//! resolve dot segments before they route, so `/%61dmin/users`,
//! `//admin/users` and `/x/../admin/users` all reach `/admin/users`. This
//! module gives the RFC 3986 §6.2.2 normal form (the one Envoy's
//! `normalize_path` + `merge_slashes` produce): unreserved characters
//! decoded, remaining escapes in upper case, dot segments removed (§5.2.4),
//! repeated slashes merged. Spellings whose meaning depends on the upstream
//! are refused instead of guessed: an encoded `/` or `\`, a raw `\`, path
//! parameters (`;`), encoded dot segments, an encoded `%` (double
//! decoding), NUL and other control characters, bytes that do not decode
//! to UTF-8, characters a path cannot hold, and over-long paths.

use std::fmt;

/// The longest path (raw, before normalisation) Tollgate decides about.
pub const MAX_PATH: usize = 4096;

/// Why a path was refused. Shown to the caller and written to the audit
/// log; never contains the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Empty or not starting with `/`.
    NotAbsolute,
    TooLong,
    /// `%2F` or `%5C`: one upstream splits there, another does not.
    EncodedSlash,
    /// A raw `\`: some upstreams treat it as `/`.
    Backslash,
    /// `;`: path parameters are stripped by some upstreams (Tomcat, Spring).
    PathParameter,
    /// A segment that is `.` or `..` only after decoding.
    EncodedDotSegment,
    /// `%25`: an upstream that decodes twice sees another path.
    EncodedPercent,
    /// NUL, other C0 controls or DEL, raw or encoded.
    Control,
    /// Percent escapes that do not decode to UTF-8.
    InvalidUtf8,
    /// A malformed escape (`%4`, `%zz`) or a character a path cannot hold.
    Malformed,
}

impl Refusal {
    /// A stable machine-readable code (audit and error descriptions).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotAbsolute => "not_absolute",
            Refusal::TooLong => "too_long",
            Refusal::EncodedSlash => "encoded_slash",
            Refusal::Backslash => "backslash",
            Refusal::PathParameter => "path_parameter",
            Refusal::EncodedDotSegment => "encoded_dot_segment",
            Refusal::EncodedPercent => "encoded_percent",
            Refusal::Control => "control_character",
            Refusal::InvalidUtf8 => "invalid_utf8",
            Refusal::Malformed => "malformed",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Refusal::NotAbsolute => "the path must start with /",
            Refusal::TooLong => "the path is too long",
            Refusal::EncodedSlash => "the path has an encoded / or \\",
            Refusal::Backslash => "the path has a \\",
            Refusal::PathParameter => "the path has a path parameter (;)",
            Refusal::EncodedDotSegment => "the path has an encoded dot segment",
            Refusal::EncodedPercent => "the path has an encoded %",
            Refusal::Control => "the path has a control character",
            Refusal::InvalidUtf8 => "the path does not decode to UTF-8",
            Refusal::Malformed => "the path is malformed",
        };
        f.write_str(what)
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Raw characters a path segment may hold (RFC 3986 `pchar` minus `%`,
/// which is handled as an escape, and minus `;`, refused above).
fn raw_allowed(b: u8) -> bool {
    unreserved(b)
        || matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@'
        )
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One segment: unreserved escapes decoded, others upper-cased; whether it
/// contained an escape at all (for the encoded-dot-segment check).
fn segment(raw: &[u8], out: &mut Vec<u8>) -> Result<bool, Refusal> {
    let mut escaped = false;
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    raw.get(i + 1).copied().and_then(hex),
                    raw.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(Refusal::Malformed);
                };
                let v = h << 4 | l;
                match v {
                    b'/' | b'\\' => return Err(Refusal::EncodedSlash),
                    b'%' => return Err(Refusal::EncodedPercent),
                    0..=0x1f | 0x7f => return Err(Refusal::Control),
                    _ => {}
                }
                escaped = true;
                decoded.push(v);
                if unreserved(v) {
                    out.push(v);
                } else {
                    out.extend_from_slice(format!("%{v:02X}").as_bytes());
                }
                i += 3;
            }
            b'\\' => return Err(Refusal::Backslash),
            b';' => return Err(Refusal::PathParameter),
            0..=0x1f | 0x7f => return Err(Refusal::Control),
            _ if raw_allowed(b) => {
                decoded.push(b);
                out.push(b);
                i += 1;
            }
            _ => return Err(Refusal::Malformed),
        }
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(Refusal::InvalidUtf8);
    }
    Ok(escaped)
}

/// The normal form of `raw` (a path, without query or fragment), or why
/// it is refused. Idempotent: `normalize(normalize(p)) == normalize(p)`.
pub fn normalize(raw: &str) -> Result<String, Refusal> {
    if raw.len() > MAX_PATH {
        return Err(Refusal::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(Refusal::NotAbsolute);
    }
    let trailing = raw.ends_with('/');
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut last_was_dot = false;
    // Splitting on `/` and dropping empty segments merges repeated slashes.
    for raw_seg in raw.as_bytes().split(|b| *b == b'/') {
        if raw_seg.is_empty() {
            continue;
        }
        let mut seg = Vec::with_capacity(raw_seg.len());
        let escaped = segment(raw_seg, &mut seg)?;
        let dots = seg == b"." || seg == b"..";
        if dots && escaped {
            return Err(Refusal::EncodedDotSegment);
        }
        last_was_dot = dots;
        match seg.as_slice() {
            b"." => {}
            b".." => {
                kept.pop();
            }
            _ => kept.push(seg),
        }
    }
    let mut out = String::with_capacity(raw.len());
    for s in &kept {
        out.push('/');
        // Only ASCII was pushed: escapes stay escaped.
        out.push_str(std::str::from_utf8(s).map_err(|_| Refusal::Malformed)?);
    }
    // `/a/` and `/a/.` name a directory: keep the slash the upstream sees.
    if (trailing || last_was_dot) && !kept.is_empty() || out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// The path of a request target or URI (`/p?q`, `https://h/p?q#f`):
/// everything before `?`, and `#` refused (a fragment is never sent).
/// Absolute URIs are split by hand rather than with a URL parser, because
/// WHATWG parsers already resolve `%2e%2e` and `\`, which would hide
/// exactly what must be refused.
pub fn path_of(target: &str) -> Result<String, Refusal> {
    let rest = match target.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            match rest.find(['/', '?', '#']) {
                Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                _ => "/",
            }
        }
        _ => target,
    };
    let path = rest.split('?').next().unwrap_or("");
    if path.contains('#') {
        return Err(Refusal::Malformed);
    }
    normalize(if path.is_empty() { "/" } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, want: Result<&str, Refusal>) {
        let got = normalize(raw);
        assert_eq!(got.as_deref().map_err(|e| *e), want, "{raw:?}");
        if let Ok(p) = &got {
            assert_eq!(
                normalize(p).as_deref(),
                Ok(p.as_str()),
                "idempotent: {raw:?}"
            );
        }
    }

    #[test]
    fn paths_normalise_the_way_upstreams_route() {
        let ok = [
            ("/", "/"),
            ("/admin/users", "/admin/users"),
            ("/%61dmin/users", "/admin/users"),
            ("/%61%64%6D%69%6E/users", "/admin/users"),
            ("/%61%64%6d%69%6e/%75%73%65%72%73", "/admin/users"),
            ("/admin/%7eusers", "/admin/~users"),
            ("//admin/users", "/admin/users"),
            ("///admin//users", "/admin/users"),
            ("/./admin/users", "/admin/users"),
            ("/admin/./users", "/admin/users"),
            ("/x/../admin/users", "/admin/users"),
            ("/../admin/users", "/admin/users"),
            ("/../../admin/x/y/../../users", "/admin/users"),
            ("/admin/users/", "/admin/users/"),
            ("/admin/users/.", "/admin/users/"),
            ("/admin/users/..", "/admin/"),
            ("/admin/..", "/"),
            ("/..", "/"),
            ("//", "/"),
            ("/admin/a%20b", "/admin/a%20b"),
            ("/admin/%3f", "/admin/%3F"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
            ("/.../x", "/.../x"),
            ("/.hidden/x", "/.hidden/x"),
        ];
        for (raw, want) in ok {
            check(raw, Ok(want));
        }
        let refused = [
            ("", Refusal::NotAbsolute),
            ("admin/users", Refusal::NotAbsolute),
            ("/admin%2Fusers", Refusal::EncodedSlash),
            ("/admin%2fusers", Refusal::EncodedSlash),
            ("/%2Fadmin/users", Refusal::EncodedSlash),
            ("/admin%5Cusers", Refusal::EncodedSlash),
            ("/admin%5cusers", Refusal::EncodedSlash),
            ("/admin\\users", Refusal::Backslash),
            ("/\\admin/users", Refusal::Backslash),
            ("/admin;x=1/users", Refusal::PathParameter),
            ("/admin/users;jsessionid=1", Refusal::PathParameter),
            ("/%2e/admin/users", Refusal::EncodedDotSegment),
            ("/%2e%2e/admin/users", Refusal::EncodedDotSegment),
            ("/x/%2E%2E/admin/users", Refusal::EncodedDotSegment),
            ("/x/.%2e/admin/users", Refusal::EncodedDotSegment),
            ("/admin/users/%2e", Refusal::EncodedDotSegment),
            ("/%2561dmin/users", Refusal::EncodedPercent),
            ("/admin/users%00", Refusal::Control),
            ("/admin/%0ausers", Refusal::Control),
            ("/admin/%7Fusers", Refusal::Control),
            ("/admin/\tusers", Refusal::Control),
            ("/admin/users%ff", Refusal::InvalidUtf8),
            ("/admin/%C0%AFusers", Refusal::InvalidUtf8),
            ("/admin/%c3", Refusal::InvalidUtf8),
            ("/admin/%4", Refusal::Malformed),
            ("/admin/%zzusers", Refusal::Malformed),
            ("/admin/us ers", Refusal::Malformed),
            ("/admin/\"users", Refusal::Malformed),
            ("/admin/caf\u{e9}", Refusal::Malformed),
        ];
        for (raw, why) in refused {
            check(raw, Err(why));
        }
        check(
            &format!("/admin/{}", "x".repeat(MAX_PATH)),
            Err(Refusal::TooLong),
        );
    }

    #[test]
    fn targets_and_uris_give_their_path() {
        let cases = [
            ("/admin/users?page=2", Ok("/admin/users")),
            ("/admin/users?x=/../y", Ok("/admin/users")),
            ("https://api.example/%61dmin/users?x=1", Ok("/admin/users")),
            ("https://api.example", Ok("/")),
            ("https://api.example?x", Ok("/")),
            (
                "https://api.example/x/%2e%2e/admin",
                Err(Refusal::EncodedDotSegment),
            ),
            ("https://api.example/admin\\users", Err(Refusal::Backslash)),
            ("/admin/users#x", Err(Refusal::Malformed)),
            ("", Ok("/")),
        ];
        for (target, want) in cases {
            assert_eq!(
                path_of(target).as_deref().map_err(|e| *e),
                want,
                "{target:?}"
            );
        }
    }
}
