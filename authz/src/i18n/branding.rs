//! What the pages show of the operator's own product (`[branding]`,
//! issue 15), changed without a rebuild: the product name, the default
//! language, any message of the catalogs (override files per locale), a
//! stylesheet, a logo, and any page's HTML (template files replacing the
//! built-in ones, `http/templates.rs`).
//!
//! Loaded once at start ([`Branding::load`], every problem at once, each
//! naming its file and line) and carried per request in the locale scope,
//! so two servers in one process (the tests) keep their own.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::path::{Path, PathBuf};

/// `[branding]` in the config file. Paths are relative to the working
/// directory, like the policy files.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandingConfig {
    /// Shown in every page's heading and title instead of "Tollgate".
    pub product_name: Option<String>,
    /// The language of a page when neither the user's choice, the relying
    /// party's `ui_locales` nor `Accept-Language` names a supported one:
    /// `en` (the default) or `zh-CN`.
    pub default_language: Option<String>,
    /// A directory of Fluent files named by locale (`en.ftl`,
    /// `zh-CN.ftl`) whose messages replace the built-in ones of the same
    /// id (`authz/locales/<locale>/main.ftl` lists them).
    pub messages_dir: Option<PathBuf>,
    /// A stylesheet served at `/branding/style.css`, after the built-in one
    /// (colours, fonts, the logo's size).
    pub stylesheet: Option<PathBuf>,
    /// A PNG, SVG or JPEG served at `/branding/logo` and shown before the
    /// product name.
    pub logo: Option<PathBuf>,
    /// A directory of templates named like the built-in ones
    /// (`login.html`, `base.html`, …) that replace them; the others stay
    /// built-in. Checked at start: a name that is not a template's, a
    /// syntax error or a failing sample render is a start-up problem.
    pub templates_dir: Option<PathBuf>,
}

/// The loaded branding; [`Branding::default`] is the built-in look.
pub struct Branding {
    /// Override bundles by locale.
    overrides: Vec<(&'static str, FluentBundle<FluentResource>)>,
    /// `/branding/style.css`: the logo rule, then the operator's file.
    pub css: String,
    /// `/branding/logo`: content type and bytes.
    pub logo: Option<(&'static str, Vec<u8>)>,
    /// `default_language`, already checked.
    pub default_language: &'static str,
    /// The pages' templates: built-in, or with `templates_dir`'s in place.
    pub templates: crate::http::templates::Templates,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            overrides: Vec::new(),
            css: String::new(),
            logo: None,
            default_language: super::SUPPORTED[0],
            templates: Default::default(),
        }
    }
}

impl std::fmt::Debug for Branding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branding")
            .field("overrides", &self.overrides.len())
            .field("logo", &self.logo.as_ref().map(|(t, b)| (t, b.len())))
            .field("templates", &self.templates)
            .finish_non_exhaustive()
    }
}

impl Branding {
    /// Reads everything `c` names. `Err` lists every problem, each
    /// starting with the file (and line) it is about.
    pub fn load(c: &BrandingConfig) -> Result<Branding, Vec<String>> {
        let mut problems = Vec::new();
        let mut b = Branding::default();
        if let Some(l) = &c.default_language {
            match super::SUPPORTED.iter().find(|s| s.eq_ignore_ascii_case(l)) {
                Some(s) => b.default_language = s,
                None => problems.push(format!(
                    "branding.default_language {l:?}: expected one of {}",
                    super::SUPPORTED.join(", ")
                )),
            }
        }
        let mut sources: Vec<(&'static str, String, String)> = Vec::new();
        if let Some(name) = &c.product_name {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 || name.contains(['\n', '{', '}']) {
                problems.push(
                    "branding.product_name must be 1-64 characters without braces or line breaks"
                        .into(),
                );
            } else {
                for l in super::SUPPORTED {
                    sources.push((
                        l,
                        "[branding] product_name".into(),
                        format!("product-name = {name}\n"),
                    ));
                }
            }
        }
        if let Some(dir) = &c.messages_dir {
            match std::fs::read_dir(dir) {
                Err(e) => problems.push(format!("branding.messages_dir {}: {e}", dir.display())),
                Ok(entries) => {
                    for e in entries.flatten() {
                        let path = e.path();
                        if path.extension().and_then(|x| x.to_str()) != Some("ftl") {
                            continue;
                        }
                        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                        let Some(locale) = super::SUPPORTED.iter().find(|s| **s == stem) else {
                            problems.push(format!(
                                "{}: not a supported locale (name the file {}.ftl)",
                                path.display(),
                                super::SUPPORTED.join(".ftl or ")
                            ));
                            continue;
                        };
                        match std::fs::read_to_string(&path) {
                            Ok(text) => sources.push((locale, path.display().to_string(), text)),
                            Err(e) => problems.push(format!("{}: {e}", path.display())),
                        }
                    }
                }
            }
        }
        for (locale, origin, text) in sources {
            match resource(&origin, &text) {
                // In order: a messages_dir file wins over product_name.
                Ok(res) => b.bundle_for(locale).add_resource_overriding(res),
                Err(mut p) => problems.append(&mut p),
            }
        }
        if let Some(logo) = &c.logo {
            match read_logo(logo) {
                Ok(l) => {
                    b.logo = Some(l);
                    b.css.push_str(LOGO_CSS);
                }
                Err(e) => problems.push(e),
            }
        }
        if let Some(css) = &c.stylesheet {
            match std::fs::read_to_string(css) {
                Ok(text) => b.css.push_str(&text),
                Err(e) => problems.push(format!("branding.stylesheet {}: {e}", css.display())),
            }
        }
        if let Some(dir) = &c.templates_dir {
            match crate::http::templates::Templates::load(
                dir,
                &crate::http::page_samples::samples(),
            ) {
                Ok(t) => b.templates = t,
                Err(mut p) => problems.append(&mut p),
            }
        }
        if problems.is_empty() {
            Ok(b)
        } else {
            Err(problems)
        }
    }

    fn bundle_for(&mut self, locale: &'static str) -> &mut FluentBundle<FluentResource> {
        let i = match self.overrides.iter().position(|(l, _)| *l == locale) {
            Some(i) => i,
            None => {
                let mut b = FluentBundle::new_concurrent(vec![locale.parse().unwrap_or_default()]);
                // As the built-in catalogs: the pages are escaped HTML.
                b.set_use_isolating(false);
                self.overrides.push((locale, b));
                self.overrides.len() - 1
            }
        };
        &mut self.overrides[i].1
    }

    /// The operator's text of message `id` in `locale`, if they gave one.
    pub(super) fn message(
        &self,
        locale: &str,
        id: &str,
        args: Option<&FluentArgs>,
    ) -> Option<String> {
        let (_, b) = self.overrides.iter().find(|(l, _)| *l == locale)?;
        let pattern = b.get_message(id)?.value()?;
        let mut errors = vec![];
        Some(b.format_pattern(pattern, args, &mut errors).into_owned())
    }
}

/// Shows the logo before the heading's product name.
const LOGO_CSS: &str = "h1::before { content: \"\"; display: inline-block; width: 1.6em; height: 1.6em; margin-right: .5em; vertical-align: middle; background: url(/branding/logo) center / contain no-repeat; }\n";

/// One override file, parsed; every id must be one the built-in English
/// catalog defines (a typo would otherwise silently do nothing).
fn resource(origin: &str, text: &str) -> Result<FluentResource, Vec<String>> {
    let line_of = |offset: usize| {
        let before = text.get(..offset.min(text.len())).unwrap_or(text);
        before.matches('\n').count() + 1
    };
    let res = FluentResource::try_new(text.to_string()).map_err(|(_, errors)| {
        errors
            .iter()
            .map(|e| format!("{origin}:{}: {}", line_of(e.pos.start), e.kind))
            .collect::<Vec<_>>()
    })?;
    let known = super::catalog::ids(super::catalog::SOURCES[0].1);
    let unknown: Vec<String> = super::catalog::ids(text)
        .into_iter()
        .filter(|id| !known.contains(id))
        .map(|id| {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("{id} ")) || l.starts_with(&format!("{id}=")))
                .map_or(1, |i| i + 1);
            format!("{origin}:{line}: unknown message id {id:?} (the ids are those of authz/locales/en/main.ftl)")
        })
        .collect();
    if unknown.is_empty() {
        Ok(res)
    } else {
        Err(unknown)
    }
}

fn read_logo(path: &Path) -> Result<(&'static str, Vec<u8>), String> {
    let kind = match path
        .extension()
        .and_then(|x| x.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(x) if x == "png" => "image/png",
        Some(x) if x == "svg" => "image/svg+xml",
        Some(x) if x == "jpg" || x == "jpeg" => "image/jpeg",
        _ => {
            return Err(format!(
                "branding.logo {}: expected a .png, .svg or .jpg file",
                path.display()
            ));
        }
    };
    let bytes =
        std::fs::read(path).map_err(|e| format!("branding.logo {}: {e}", path.display()))?;
    if bytes.len() > 512 * 1024 {
        return Err(format!(
            "branding.logo {}: larger than 512 KiB",
            path.display()
        ));
    }
    Ok((kind, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_file_and_line() {
        let dir = std::env::temp_dir().join(format!("tg-brand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("zh-CN.ftl"),
            "login-submit = 进入\nno-such-id = x\n",
        )
        .unwrap();
        std::fs::write(dir.join("fr.ftl"), "login-submit = Entrer\n").unwrap();
        std::fs::write(dir.join("en.ftl"), "login-submit = Enter\n!!! broken\n").unwrap();
        std::fs::write(dir.join("logo.gif"), b"GIF89a").unwrap();
        let c = BrandingConfig {
            product_name: Some("A {b}".into()),
            default_language: Some("de".into()),
            messages_dir: Some(dir.clone()),
            stylesheet: Some(dir.join("missing.css")),
            logo: Some(dir.join("logo.gif")),
            templates_dir: Some(dir.join("no-such-dir")),
        };
        let problems = Branding::load(&c).unwrap_err();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        for needle in [
            "default_language \"de\": expected one of en, zh-CN",
            "product_name must be",
            "zh-CN.ftl:2: unknown message id \"no-such-id\"",
            "fr.ftl: not a supported locale",
            "en.ftl:2:",
            "missing.css",
            "logo.gif: expected a .png, .svg or .jpg file",
            "branding.templates_dir ",
        ] {
            assert!(has(needle), "{needle} not in {problems:#?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn overrides_replace_messages_of_their_locale_only() {
        let dir = std::env::temp_dir().join(format!("tg-brand-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("zh-CN.ftl"), "login-submit = 进入系统\n").unwrap();
        std::fs::write(
            dir.join("logo.svg"),
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
        )
        .unwrap();
        let c = BrandingConfig {
            product_name: Some("Acme SSO".into()),
            default_language: Some("zh-cn".into()),
            messages_dir: Some(dir.clone()),
            logo: Some(dir.join("logo.svg")),
            ..BrandingConfig::default()
        };
        let b = Branding::load(&c).unwrap();
        assert_eq!(b.default_language, "zh-CN");
        assert_eq!(
            b.message("zh-CN", "login-submit", None).as_deref(),
            Some("进入系统")
        );
        assert_eq!(b.message("en", "login-submit", None), None);
        for l in ["en", "zh-CN"] {
            assert_eq!(
                b.message(l, "product-name", None).as_deref(),
                Some("Acme SSO")
            );
        }
        assert_eq!(b.logo.as_ref().map(|(t, _)| *t), Some("image/svg+xml"));
        assert!(b.css.contains("/branding/logo"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
