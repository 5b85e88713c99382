//! The browser signals of a sign-in (issue 11, `tollgate_risk::signals`):
//! every HTML page asks for the User-Agent Client Hints with `Accept-CH`
//! (Chromium sends the low-entropy ones anyway; the platform version only
//! once asked), and the request that proves a factor is read for them,
//! with the time-zone offset the sign-in page's script put in the form.
//! A leaf: it imports no other `http` module.

use axum::http::HeaderMap;
use std::collections::BTreeMap;
use tollgate_risk::signals::BrowserSignals;

/// The `Accept-CH` value of every HTML page.
pub const ACCEPT_CH: &str =
    "Sec-CH-UA, Sec-CH-UA-Platform, Sec-CH-UA-Platform-Version, Sec-CH-UA-Mobile";

/// The hints read, under the names the event format uses.
const HINTS: [&str; 4] = [
    "Sec-CH-UA",
    "Sec-CH-UA-Platform",
    "Sec-CH-UA-Platform-Version",
    "Sec-CH-UA-Mobile",
];

/// The signals `headers` carry, plus the page's `tz_offset_min` (the event's `client_hints`, `accept_language`, `tz_offset_min`). A browser
/// always sends `Accept-Language`: one that does not is recorded as
/// sending an empty one (a replayed cookie from a script is then not the
/// "no signals recorded" case, which the scorer does not judge).
pub fn read(headers: &HeaderMap, tz_offset_min: Option<i16>) -> BrowserSignals {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            // Bounded: these end up in the audit record of the decision.
            .map(|v| v.chars().take(256).collect::<String>())
    };
    let hints: BTreeMap<String, serde_json::Value> = HINTS
        .iter()
        .filter_map(|&name| Some((name.to_owned(), get(name)?.into())))
        .collect();
    BrowserSignals {
        client_hints: (!hints.is_empty()).then_some(hints),
        accept_language: Some(get("accept-language").unwrap_or_default()),
        tz_offset_min: tz_offset_min.filter(|m| (-14 * 60..=14 * 60).contains(m)),
    }
}

/// The page script's `tz` form field: minutes east of UTC, or `None` when
/// absent or not a plausible offset.
pub fn tz_field(v: Option<&str>) -> Option<i16> {
    v?.trim()
        .parse::<i16>()
        .ok()
        .filter(|m| (-14 * 60..=14 * 60).contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_browser_sent_and_bounds_it() {
        let mut h = HeaderMap::new();
        h.insert("sec-ch-ua", r#""Chromium";v="131""#.parse().unwrap());
        h.insert("sec-ch-ua-platform", "\"Linux\"".parse().unwrap());
        h.insert("accept-language", "x".repeat(1000).parse().unwrap());
        let s = read(&h, Some(480));
        assert_eq!(
            s.hint("Sec-CH-UA").as_deref(),
            Some(r#""Chromium";v="131""#)
        );
        assert_eq!(s.hint("Sec-CH-UA-Platform").as_deref(), Some("\"Linux\""));
        assert_eq!(s.hint("Sec-CH-UA-Mobile"), None);
        assert_eq!(s.accept_language.map(|l| l.len()), Some(256));
        assert_eq!(s.tz_offset_min, Some(480));
        // No Accept-Language at all is recorded, as an empty one.
        let bare = read(&HeaderMap::new(), Some(20_000));
        assert_eq!(bare.accept_language.as_deref(), Some(""));
        assert_eq!(bare.tz_offset_min, None);
        assert!(bare.present() && bare.client_hints.is_none());
        let cases = [
            (Some("480"), Some(480)),
            (Some(" -300 "), Some(-300)),
            (Some("900"), None),
            (Some("eight"), None),
            (None, None),
        ];
        for (field, want) in cases {
            assert_eq!(tz_field(field), want, "{field:?}");
        }
    }
}
