//! The message catalogs: Fluent files `authz/locales/<locale>/main.ftl`,
//! embedded in the binary and parsed once.
//!
//! Templates and code ask by message id ([`t`], [`t_args`]). Messages that
//! handlers still pass as English sentences (page titles, form errors) are
//! translated by [`tr`], which finds the English catalog entry with that
//! exact text (or that text with one number in it) and renders the same
//! id in the request's locale; a text with no entry is shown as it is.

use super::SUPPORTED;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The catalog files, in the order of [`SUPPORTED`].
pub const SOURCES: [(&str, &str); 2] = [
    ("en", include_str!("../../locales/en/main.ftl")),
    ("zh-CN", include_str!("../../locales/zh-CN/main.ftl")),
];

struct Catalogs {
    bundles: Vec<(&'static str, FluentBundle<FluentResource>)>,
    /// English text of a message without variables → its id.
    by_text: HashMap<String, String>,
    /// English text of a message whose only variable is `$n` (a number)
    /// or `$q` (a quoted value), rendered with `n = "{n}"`, `q = "{q}"` →
    /// its id.
    by_shape: HashMap<String, String>,
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(load);

fn load() -> Catalogs {
    let mut bundles = Vec::new();
    for (locale, source) in SOURCES {
        let lang = locale.parse().unwrap_or_default();
        let mut b = FluentBundle::new_concurrent(vec![lang]);
        // No Unicode isolation marks: the pages are HTML, escaped by the
        // template engine (`http/templates.rs`).
        b.set_use_isolating(false);
        let res = FluentResource::try_new(source.to_string()).unwrap_or_else(|(res, errors)| {
            tracing::error!(locale, ?errors, "catalog has syntax errors");
            res
        });
        if let Err(errors) = b.add_resource(res) {
            tracing::error!(locale, ?errors, "catalog has duplicate messages");
        }
        bundles.push((locale, b));
    }
    let mut by_text = HashMap::new();
    let mut by_shape = HashMap::new();
    if let Some((_, en)) = bundles.first() {
        for id in ids(SOURCES[0].1) {
            if let Some(text) = render(en, &id, None) {
                by_text.entry(text).or_insert_with(|| id.clone());
            }
            let mut args = FluentArgs::new();
            args.set("n", "{n}");
            args.set("q", "{q}");
            if let Some(text) = render(en, &id, Some(&args))
                && (text.contains("{n}") || text.contains("{q}"))
            {
                by_shape.entry(text).or_insert(id);
            }
        }
    }
    Catalogs {
        bundles,
        by_text,
        by_shape,
    }
}

/// The message ids a catalog file defines (terms and attributes aside).
pub fn ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let (id, _) = l.split_once('=')?;
            let id = id.trim_end();
            let ok = id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            ok.then(|| id.to_string())
        })
        .collect()
}

/// A message formatted without errors (a missing variable is an error).
fn render(b: &FluentBundle<FluentResource>, id: &str, args: Option<&FluentArgs>) -> Option<String> {
    let pattern = b.get_message(id)?.value()?;
    let mut errors = vec![];
    let text = b.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

fn format(id: &str, args: Option<&FluentArgs>) -> String {
    let c = &*CATALOGS;
    let locale = super::current();
    let pick = |l: &str| c.bundles.iter().find(|(x, _)| *x == l).map(|(_, b)| b);
    for l in [locale, SUPPORTED[0]] {
        // The operator's own text (`[branding]`) first.
        if let Some(text) = super::scope::with_branding(|b| b.message(l, id, args)) {
            return text;
        }
        if let Some(b) = pick(l)
            && let Some(pattern) = b.get_message(id).and_then(|m| m.value())
        {
            let mut errors = vec![];
            return b.format_pattern(pattern, args, &mut errors).into_owned();
        }
    }
    tracing::warn!(id, "message missing from the catalogs");
    id.to_string()
}

/// Message `id` in the request's locale (English if that catalog lacks
/// it, the id itself if both do).
pub fn t(id: &str) -> String {
    format(id, None)
}

/// Message `id` with variables. A value that is an integer is passed as a
/// number, so plural selectors (`{ $n -> [one] … }`) work.
pub fn t_args(id: &str, args: &[(&str, &str)]) -> String {
    let mut a = FluentArgs::new();
    for (k, v) in args {
        match v.parse::<i64>() {
            Ok(n) => a.set(*k, FluentValue::from(n)),
            Err(_) => a.set(*k, FluentValue::from(v.to_string())),
        }
    }
    format(id, Some(&a))
}

/// An English sentence in the request's locale: the catalog entry whose
/// English text it is (exactly, with its first number as `$n`, or with
/// its quoted value as `$q`); unchanged when there is none.
pub fn tr(english: &str) -> String {
    let c = &*CATALOGS;
    if let Some(id) = c.by_text.get(english) {
        return t(id);
    }
    if let Some((start, len)) = first_number(english) {
        let n = &english[start..start + len];
        let shape = format!("{}{{n}}{}", &english[..start], &english[start + len..]);
        if let Some(id) = c.by_shape.get(&shape) {
            return t_args(id, &[("n", n)]);
        }
    }
    if let (Some(a), Some(b)) = (english.find('"'), english.rfind('"'))
        && a < b
    {
        let shape = format!("{}{{q}}{}", &english[..a], &english[b + 1..]);
        if let Some(id) = c.by_shape.get(&shape) {
            return t_args(id, &[("q", &english[a..=b])]);
        }
    }
    english.to_string()
}

fn first_number(s: &str) -> Option<(usize, usize)> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let len = s[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(s.len() - start);
    Some((start, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogs_parse_and_define_the_same_messages() {
        for (locale, source) in SOURCES {
            assert!(
                FluentResource::try_new(source.to_string()).is_ok(),
                "{locale}: syntax error"
            );
        }
        let en: BTreeSet<String> = ids(SOURCES[0].1).into_iter().collect();
        let zh: BTreeSet<String> = ids(SOURCES[1].1).into_iter().collect();
        assert!(en.len() > 50, "{} messages", en.len());
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in zh-CN: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en: {only_zh:?}");
    }

    /// Every `"id"|t…` a template uses is in the catalogs.
    #[test]
    fn every_message_a_template_uses_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let en: BTreeSet<String> = ids(SOURCES[0].1).into_iter().collect();
        let mut used = 0;
        let mut missing = vec![];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for id in template_ids(&text) {
                used += 1;
                if !en.contains(&id) {
                    missing.push(format!("{}: {id}", path.display()));
                }
            }
        }
        assert!(used > 50, "only {used} t-calls found");
        assert!(missing.is_empty(), "{missing:#?}");
    }

    /// `"some-id"|t` and `"some-id"|t1(…)` in a template's text.
    fn template_ids(text: &str) -> Vec<String> {
        let mut out = vec![];
        let mut rest = text;
        while let Some(i) = rest.find("\"|t") {
            let before = &rest[..i];
            if let Some(q) = before.rfind('"') {
                out.push(before[q + 1..].to_string());
            }
            rest = &rest[i + 3..];
        }
        out
    }

    #[tokio::test]
    async fn english_sentences_are_translated_by_their_catalog_entry() {
        super::super::scope("zh-CN", false, Default::default(), async {
            assert_eq!(t("lang"), "zh-CN");
            assert_eq!(
                tr("The username or password is incorrect."),
                "用户名或密码不正确。"
            );
            assert_eq!(
                tr("the password must have at least 15 characters"),
                "密码至少需要 15 个字符"
            );
            assert_eq!(tr("no such sentence 42"), "no such sentence 42");
            assert_eq!(tr("Unknown client \"x<\"."), "未知的客户端 \"x<\"。");
        })
        .await;
        assert_eq!(t("lang"), "en");
        assert_eq!(
            t_args("recovery-left", &[("n", "1")]),
            "1 unused recovery code."
        );
    }
}
