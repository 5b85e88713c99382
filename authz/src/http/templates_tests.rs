//! The pages' engine: overrides, escaping, the start-up check, a failing
//! render at request time.

use super::page_samples::samples;
use super::pages::{self, LoginPage, Page, UnmetPage};
use super::templates::{BUILTIN, Templates};
use crate::i18n::branding::Branding;
use axum::http::StatusCode;
use minijinja::value::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// A fresh directory holding `files`.
fn dir_with(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tg-tpl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn html<P: Page>(t: &Templates, page: &P) -> String {
    t.render(P::TEMPLATE, &Value::from_serialize(page)).unwrap()
}

fn login(username: &str) -> LoginPage<'_> {
    LoginPage {
        id: "ix1",
        csrf: "c",
        client_name: "App",
        username,
        error: None,
    }
}

const BANNER_LOGIN: &str = "{% extends \"base.html\" %}\n{% block content %}\n<p id=\"corp-banner\">Acme staff only</p>\n<input id=\"username\" value=\"{{ username }}\">\n{% endblock %}\n";

#[test]
fn every_built_in_page_renders_its_samples() {
    let samples = samples();
    for (name, _) in BUILTIN.iter().filter(|(n, _)| *n != "base.html") {
        assert!(
            samples.iter().any(|(n, _)| n == name),
            "{name} has no Page with samples"
        );
    }
    for (name, ctx) in samples {
        let out = Templates::default().render(name, &ctx);
        let out = out.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(
            out.starts_with("<!doctype html>") && out.ends_with("</html>"),
            "{name}"
        );
    }
}

#[test]
fn an_override_replaces_its_page_only_and_is_escaped() {
    let dir = dir_with("ok", &[("login.html", BANNER_LOGIN)]);
    let t = Templates::load(&dir, &samples()).unwrap();
    let page = html(&t, &login("<script>alert(1)</script>"));
    assert!(
        page.contains("<p id=\"corp-banner\">Acme staff only</p>"),
        "{page}"
    );
    assert!(
        page.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    // The built-in base around it, and the other pages untouched.
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/branding/style.css\">"));
    let unmet = UnmetPage {
        client_name: "App",
        missing: "a passkey",
        add_on_account: true,
        back: "https://rp.example/cb?a=1&b=2",
    };
    assert_eq!(html(&t, &unmet), html(&Templates::default(), &unmet));
    assert!(!html(&Templates::default(), &login("bob")).contains("corp-banner"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn values_are_escaped_as_askama_did() {
    let unmet = UnmetPage {
        client_name: "App",
        missing: "Tom's <key>",
        add_on_account: false,
        back: "https://rp.example/cb?a=1&b=\"2\"",
    };
    let page = html(&Templates::default(), &unmet);
    assert!(
        page.contains("<p id=\"unmet-missing\">Tom&#x27;s &lt;key&gt;</p>"),
        "{page}"
    );
    assert!(
        page.contains("href=\"https://rp.example/cb?a=1&amp;b=&quot;2&quot;\""),
        "{page}"
    );
}

/// `files` in a templates_dir give exactly these problems (each a
/// needle of one problem, in order).
fn check(tag: &str, files: &[(&str, &str)], expected: &[&str]) {
    let dir = dir_with(tag, files);
    let problems = match Templates::load(&dir, &samples()) {
        Ok(_) => vec![],
        Err(p) => p,
    };
    let d = dir.display();
    let expected: Vec<String> = expected.iter().map(|e| format!("{d}/{e}")).collect();
    assert_eq!(problems.len(), expected.len(), "{tag}: {problems:#?}");
    for (p, e) in problems.iter().zip(&expected) {
        assert!(
            p.starts_with(e.as_str()),
            "{tag}: {p:?} does not start with {e:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_overrides_are_refused_with_file_and_line() {
    let ext = "{% extends \"base.html\" %}\n{% block content %}\n";
    let syntax = format!("{ext}<p>\n{{{{ username | }}}}\n{{% endblock %}}\n");
    let filter = format!("{ext}<p>{{{{ username|shout }}}}</p>\n{{% endblock %}}\n");
    let variable = format!("{ext}\n\n<p>{{{{ usernme }}}}</p>\n{{% endblock %}}\n");
    let arity = format!("{ext}<p>{{{{ \"login-heading\"|t1 }}}}</p>\n{{% endblock %}}\n");
    let base = "<!doctype html>\n<title>{{ \"product-name\"|tt }}</title>\n{% block content %}{% endblock %}\n";
    check("good", &[("login.html", BANNER_LOGIN)], &[]);
    check(
        "syntax",
        &[("login.html", &syntax)],
        &["login.html:4: syntax error"],
    );
    check(
        "filter",
        &[("login.html", &filter)],
        &["login.html:3: unknown filter"],
    );
    check(
        "variable",
        &[("login.html", &variable)],
        &["login.html:5: undefined value"],
    );
    check(
        "arity",
        &[("login.html", &arity)],
        &["login.html:3: missing argument"],
    );
    check(
        "base",
        &[("base.html", base)],
        &["base.html:2: unknown filter"],
    );
    check(
        "all-at-once",
        &[("login.html", &syntax), ("factor.html", &filter)],
        &[
            "login.html:4: syntax error",
            "factor.html:3: unknown filter",
        ],
    );
    check(
        "names",
        &[
            ("logn.html", "x"),
            ("login.html", BANNER_LOGIN),
            ("style.css", ""),
        ],
        &[
            "logn.html: not a template name",
            "style.css: not a template name",
        ],
    );
}

#[tokio::test]
async fn a_template_failing_at_request_time_is_a_500_page_not_a_panic() {
    let mut b = Branding::default();
    b.templates = Templates::unchecked("login.html", "{{ no_such_variable }}");
    let resp = crate::i18n::scope("en", false, Arc::new(b), async {
        pages::render(StatusCode::OK, &login("alice"))
    })
    .await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("<h2>Something went wrong</h2>"), "{body}");
}

/// The variables of each page in docs/operations.md's table are exactly
/// those its context has (nested fields, in parentheses, aside).
#[test]
fn the_docs_list_each_pages_variables() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"),
    )
    .unwrap();
    let mut rows = 0;
    for (name, ctx) in samples() {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("{name} not in the docs' table"));
        let vars = row.rsplit('|').nth(1).unwrap();
        let mut depth = 0;
        let top: String = vars
            .chars()
            .filter(|c| {
                depth += (*c == '(') as i32 - (*c == ')') as i32;
                depth == 0 && *c != ')'
            })
            .collect();
        let mut documented: Vec<&str> = top.split('`').skip(1).step_by(2).collect();
        let mut actual: Vec<String> = ctx.try_iter().unwrap().map(|k| k.to_string()).collect();
        documented.sort();
        actual.sort();
        assert_eq!(documented, actual, "{name}");
        rows += 1;
    }
    assert!(rows >= 13);
}
