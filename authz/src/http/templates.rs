//! The pages' template engine (minijinja, issue 15): the built-in
//! templates of `authz/templates/` embedded in the binary, and the files of
//! `[branding] templates_dir` that replace some of them without a rebuild.
//!
//! [`Templates::load`] checks an override directory once at start, every
//! problem at once: every file must be a built-in template's name and
//! parse, and every page is rendered with its sample contexts (each
//! `Page::samples`, gathered by `page_samples.rs` and passed in, so this
//! file imports nothing of `http/`). An unknown filter, an unknown
//! variable (undefined values are strict) or a filter called wrongly is
//! so a start-up problem, `file:line: what`, not a user's 500. A branch no
//! sample takes is checked only for syntax.
//!
//! **Invariant:** every template is HTML-escaped (whatever its name), with
//! askama's escaping (`< > & " '`), so the built-in pages render as they
//! did before the move from askama; `|safe` is the only way around it.

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The built-in templates, by the name an override file must have.
pub const BUILTIN: [(&str, &str); 14] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("demo.html", include_str!("../../templates/demo.html")),
    (
        "device_approval.html",
        include_str!("../../templates/device_approval.html"),
    ),
    ("factor.html", include_str!("../../templates/factor.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    ("message.html", include_str!("../../templates/message.html")),
    (
        "password_reset.html",
        include_str!("../../templates/password_reset.html"),
    ),
    (
        "recovery.html",
        include_str!("../../templates/recovery.html"),
    ),
    (
        "totp_enroll.html",
        include_str!("../../templates/totp_enroll.html"),
    ),
    (
        "totp_start.html",
        include_str!("../../templates/totp_start.html"),
    ),
    ("unmet.html", include_str!("../../templates/unmet.html")),
];

/// The built-in pages, parsed once for every server that overrides none.
static BUILT_IN: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = environment();
    for (name, text) in BUILTIN {
        // A broken built-in is a bug `every_built_in_page_renders_its_samples`
        // catches; here it would only leave that page a logged 500.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "built-in template does not parse");
        }
    }
    env
});

/// The templates of one server: the built-in ones, or a copy with the
/// operator's overrides (`templates_dir`).
#[derive(Default)]
pub struct Templates {
    /// `None`: the built-in pages ([`BUILT_IN`]).
    overridden: Option<Overrides>,
}

struct Overrides {
    env: Environment<'static>,
    /// The override files, by template name.
    files: Vec<(&'static str, PathBuf)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .overridden
            .iter()
            .flat_map(|o| o.files.iter().map(|(n, _)| *n))
            .collect();
        f.debug_struct("Templates")
            .field("overridden", &names)
            .finish()
    }
}

impl Templates {
    /// The built-in templates with those of `dir` in their place, each
    /// page rendered with its `samples` (template name, context). `Err`
    /// lists every problem, each `file:line: what is wrong`.
    pub fn load(dir: &Path, samples: &[(&str, Value)]) -> Result<Templates, Vec<String>> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| vec![format!("branding.templates_dir {}: {e}", dir.display())])?;
        let mut problems = Vec::new();
        let mut files = Vec::new();
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some((name, _)) = BUILTIN.iter().find(|(n, _)| *n == file) else {
                problems.push(format!(
                    "{}: not a template name (expected one of {})",
                    path.display(),
                    BUILTIN.map(|(n, _)| n).join(", ")
                ));
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((*name, path, text)),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        let overrides: Vec<(&'static str, String)> =
            files.iter().map(|(n, _, t)| (*n, t.clone())).collect();
        let t = Templates::with(
            files.into_iter().map(|(n, p, _)| (n, p)).collect(),
            overrides,
            &mut problems,
        );
        t.check(samples, &mut problems);
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(problems)
        }
    }

    /// The built-in templates with `overrides` in their place, without the
    /// sample renders; parse errors are appended to `problems`.
    fn with(
        files: Vec<(&'static str, PathBuf)>,
        overrides: Vec<(&'static str, String)>,
        problems: &mut Vec<String>,
    ) -> Templates {
        let mut env = environment();
        for (name, text) in BUILTIN {
            if !overrides.iter().any(|(n, _)| *n == name) {
                let _ = env.add_template(name, text);
            }
        }
        let mut o = Overrides {
            env,
            files: files.clone(),
        };
        for (name, text) in overrides {
            if let Err(e) = o.env.add_template_owned(name, text) {
                problems.push(o.describe(&e));
                // The built-in one in its place, so the sample renders
                // still check the other overrides.
                if let Some((_, built_in)) = BUILTIN.iter().find(|(n, _)| *n == name) {
                    let _ = o.env.add_template(name, built_in);
                }
            }
        }
        Templates {
            overridden: Some(o),
        }
    }

    /// Renders every page's samples; each failure once, `file:line: what`.
    fn check(&self, samples: &[(&str, Value)], problems: &mut Vec<String>) {
        let Some(o) = &self.overridden else { return };
        for (name, ctx) in samples {
            if let Err(e) = o.env.get_template(name).and_then(|t| t.render(ctx)) {
                let p = o.describe(&e);
                if !problems.contains(&p) {
                    problems.push(p);
                }
            }
        }
    }

    /// Template `name` rendered with `ctx`.
    pub fn render(&self, name: &str, ctx: &Value) -> Result<String, Error> {
        let env = match &self.overridden {
            Some(o) => &o.env,
            None => &BUILT_IN,
        };
        env.get_template(name)?.render(ctx)
    }

    /// Template `name` of the built-in pages, whatever is overridden: the
    /// last resort of an error page.
    pub fn render_built_in(name: &str, ctx: &Value) -> Result<String, Error> {
        BUILT_IN.get_template(name)?.render(ctx)
    }

    /// A server whose `name` is `text`, unchecked: for tests of what a
    /// render error at request time does.
    #[cfg(test)]
    pub fn unchecked(name: &'static str, text: &str) -> Templates {
        let mut problems = vec![];
        let t = Templates::with(
            vec![(name, PathBuf::from(name))],
            vec![(name, text.to_string())],
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        t
    }
}

impl Overrides {
    /// `e` as `file:line: what is wrong`, the file being the override's
    /// path (or the built-in template's name when the error is in one).
    fn describe(&self, e: &Error) -> String {
        let name = e.name().unwrap_or("");
        let file = self.files.iter().find(|(n, _)| *n == name).map_or_else(
            || format!("built-in {name}"),
            |(_, p)| p.display().to_string(),
        );
        let line = e.line().unwrap_or(1);
        if e.kind() == minijinja::ErrorKind::UndefinedError {
            return format!(
                "{file}:{line}: undefined value (not a variable of this page; docs/operations.md lists them)"
            );
        }
        match e.detail() {
            Some(d) => format!("{file}:{line}: {}: {d}", e.kind()),
            None => format!("{file}:{line}: {}", e.kind()),
        }
    }
}

/// An engine with the pages' settings: HTML escaping for every name,
/// strict undefined values, the i18n filters (the trailing newline is
/// dropped, as askama did).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_formatter(escape);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    crate::i18n::filters::register(&mut env);
    env
}

/// Writes `value` HTML-escaped as askama did: `< > & " '` (minijinja's
/// own escaper also turns `/` into `&#x2f;`, which would change every URL
/// in an attribute).
fn escape(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if value.is_safe() || state.auto_escape() == AutoEscape::None {
        return minijinja::escape_formatter(out, state, value);
    }
    let owned;
    let text = match value.as_str() {
        Some(s) => s,
        None => {
            owned = value.to_string();
            &owned
        }
    };
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.write_str(&text[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&text[start..])?;
    Ok(())
}
