//! The languages pages are shown in: which one a request gets
//! ([`negotiate`]) from the user's own choice, the relying party's OIDC
//! `ui_locales` and the browser's `Accept-Language` (issue 15).
//!
//! - [`negotiate`]: the choice (this file, pure).
//! - `scope.rs`: the request's locale as a task-local, set by the HTTP
//!   layer's middleware, raised by an interaction's `ui_locales`.
//! - `catalog.rs`: the Fluent catalogs (`authz/locales/*/main.ftl`,
//!   embedded), [`t`], [`t_args`], and [`tr`] for English sentences.
//! - `filters.rs`: the filters the templates call; `words.rs`:
//!   levels and risk reasons in plain words.
//! - `branding.rs`: `[branding]` — product name, default language,
//!   message overrides, stylesheet, logo and templates (the engine is
//!   `http/templates.rs`), without a rebuild.
//!
//! See docs/operations.md, "Languages".

pub mod branding;
mod catalog;
pub mod filters;
mod scope;
pub mod words;

pub use catalog::{t, t_args, tr};
pub use scope::{branding, current, prefer_ui_locales, scope};

/// The locales the shipped catalogs cover, the first the fallback.
pub const SUPPORTED: [&str; 2] = ["en", "zh-CN"];

/// The supported locale a BCP 47 tag asks for, if any: `zh`, `zh-CN`,
/// `zh-Hans`, `zh-SG` (any Chinese) give `zh-CN`; `en`, `en-GB` give `en`.
/// Case-insensitive, `_` accepted for `-` (`zh_CN` from a Unix locale).
pub fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "en" => Some("en"),
        "zh" => Some("zh-CN"),
        _ => None,
    }
}

/// Where a request's locale comes from, strongest first.
#[derive(Debug, Default, Clone, Copy)]
pub struct Preferences<'a> {
    /// The language the user picked with the page's switch (a cookie).
    pub chosen: Option<&'a str>,
    /// OIDC `ui_locales` of the current interaction (space-separated).
    pub ui_locales: Option<&'a str>,
    /// The browser's `Accept-Language` header.
    pub accept_language: Option<&'a str>,
}

/// The locale for a page: the user's own choice, then the relying party's
/// `ui_locales` (OIDC Core 3.1.2.1), then `Accept-Language` by quality,
/// then `default`. Unsupported tags are skipped, never an error: a hint
/// must not break a sign-in.
pub fn negotiate(p: Preferences<'_>, default: &'static str) -> &'static str {
    if let Some(l) = p.chosen.and_then(supported) {
        return l;
    }
    if let Some(l) = p
        .ui_locales
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(supported)
    {
        return l;
    }
    if let Some(l) = p.accept_language.and_then(accept_language) {
        return l;
    }
    default
}

/// The best supported locale of an `Accept-Language` value (RFC 9110
/// 12.5.4): highest `q` first, ties in the order given, `q=0` never.
fn accept_language(header: &str) -> Option<&'static str> {
    let mut ranked: Vec<(u16, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
            (q > 0).then_some((q, i, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().find_map(|(_, _, tag)| supported(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_choice_beats_ui_locales_which_beats_accept_language() {
        let all = Preferences {
            chosen: Some("en"),
            ui_locales: Some("zh-CN"),
            accept_language: Some("zh"),
        };
        assert_eq!(negotiate(all, "zh-CN"), "en");
        let no_choice = Preferences {
            chosen: None,
            ..all
        };
        assert_eq!(negotiate(no_choice, "en"), "zh-CN");
        let header_only = Preferences {
            accept_language: Some("fr-FR, zh-TW;q=0.8, en;q=0.5"),
            ..Preferences::default()
        };
        assert_eq!(negotiate(header_only, "en"), "zh-CN");
    }

    #[test]
    fn unsupported_or_refused_tags_fall_through_to_the_default() {
        let p = |ui, al| Preferences {
            chosen: Some("xx"),
            ui_locales: ui,
            accept_language: al,
        };
        assert_eq!(negotiate(p(Some("fr de"), Some("zh;q=0, ja")), "en"), "en");
        assert_eq!(negotiate(p(Some("fr zh-Hans"), None), "en"), "zh-CN");
        assert_eq!(
            negotiate(p(None, Some("en;q=0.2, zh-CN;q=0.9")), "en"),
            "zh-CN"
        );
        assert_eq!(negotiate(p(None, Some(";;;,q=abc")), "zh-CN"), "zh-CN");
        assert_eq!(supported("zh_CN"), Some("zh-CN"));
        assert_eq!(supported(""), None);
    }
}
