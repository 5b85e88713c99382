//! Pages in Chinese and English in a real browser (issue 15): the
//! sign-in, step-up and account pages under `Accept-Language: zh-CN`,
//! OIDC `ui_locales` over the header, and the language switch over both.
//! With `TOLLGATE_SCREENSHOTS=1` the zh-CN pages are saved to
//! `docs/screenshots/` (committed; CI needs `fonts-noto-cjk`).

use crate::browser::{authorize, password_signin};
use crate::cdp::{self, Browser};
use serde_json::json;
use tollgate::{Db, TestServer};
use tollgate_authz::login::totp;

async fn shot(b: &mut Browser, name: &str) {
    if std::env::var("TOLLGATE_SCREENSHOTS").as_deref() == Ok("1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/screenshots")
            .join(name);
        b.screenshot(&path).await;
    }
}

async fn lang(b: &mut Browser) -> String {
    b.eval("document.documentElement.lang")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn text(b: &mut Browser) -> String {
    b.eval("document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The browser sends `Accept-Language: zh-CN,zh;q=0.9` from now on.
async fn prefer_chinese(b: &mut Browser) {
    let ua = b.eval("navigator.userAgent").await;
    b.cmd(
        "Emulation.setUserAgentOverride",
        json!({"userAgent": ua, "acceptLanguage": "zh-CN,zh;q=0.9"}),
    )
    .await;
}

#[tokio::test]
async fn browser_pages_speak_chinese_and_english_as_negotiated() {
    let Some(mut b) = cdp::launch().await else {
        return;
    };
    let Some(srv) = TestServer::start(Db::Sqlite, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
    })
    .await
    else {
        return;
    };
    let web = srv.app.config.issuer.clone();
    let cb = format!("{web}/healthz");
    srv.add_client("rp", |c| {
        c.redirect_uris = vec![cb.clone()];
        c.name = Some("vCenter".into());
    })
    .await;
    srv.add_user("alice", &[]).await;
    prefer_chinese(&mut b).await;

    // Sign-in page: Chinese, with the client's display name.
    b.goto(&authorize(&web, "")).await;
    b.wait_for("document.getElementById('password')").await;
    assert_eq!(lang(&mut b).await, "zh-CN");
    let page = text(&mut b).await;
    assert!(page.contains("登录到 vCenter"), "{page}");
    assert!(page.contains("使用通行密钥登录"), "{page}");
    assert!(!page.contains("rp"), "the client id is not shown: {page}");
    shot(&mut b, "zh-CN-sign-in.png").await;

    // Account page, after a password sign-in, and its TOTP enrollment.
    b.goto(&format!("{web}/account")).await;
    password_signin(&mut b).await;
    b.wait_for("document.getElementById('totp-enroll')").await;
    assert_eq!(lang(&mut b).await, "zh-CN");
    let page = text(&mut b).await;
    assert!(page.contains("alice 的登录方式"), "{page}");
    assert!(page.contains("设置身份验证器应用"), "{page}");
    shot(&mut b, "zh-CN-account.png").await;
    b.eval("document.getElementById('totp-enroll').click()")
        .await;
    b.wait_for("document.getElementById('totp-qr').complete")
        .await;
    let key = b
        .eval("document.getElementById('totp-secret').textContent")
        .await;
    let secret = totp::base32_decode(key.as_str().unwrap()).unwrap();
    let p = totp::Params::default();
    let code = totp::code_at_step(p, &secret, srv.app.now() / 30);
    b.eval(&format!(
        "document.getElementById('code').value = '{code}'; document.getElementById('code').form.submit()"
    ))
    .await;
    b.wait_for("document.getElementById('recovery-codes')")
        .await;
    assert!(text(&mut b).await.contains("您的恢复码"));

    // Step-up page: the level in plain words, not `aal2`.
    b.goto(&authorize(&web, "&acr_values=aal2")).await;
    b.wait_for("document.getElementById('code')").await;
    assert_eq!(lang(&mut b).await, "zh-CN");
    let page = text(&mut b).await;
    assert!(page.contains("此操作需要更强的登录验证"), "{page}");
    assert!(page.contains("（第二重验证）"), "{page}");
    assert!(!page.contains("aal2"), "no raw level code: {page}");
    shot(&mut b, "zh-CN-step-up.png").await;

    // ui_locales=en beats Accept-Language: zh-CN, for the whole sign-in.
    b.goto(&authorize(&web, "&prompt=login&ui_locales=en"))
        .await;
    b.wait_for("document.getElementById('password')").await;
    assert_eq!(lang(&mut b).await, "en");
    let page = text(&mut b).await;
    assert!(page.contains("vCenter"), "{page}");
    assert!(!page.contains("登录到"), "{page}");

    // The switch beats both, and is remembered.
    b.eval("document.getElementById('lang-zh-CN').click()")
        .await;
    b.wait_for("document.documentElement.lang === 'zh-CN'")
        .await;
    b.goto(&authorize(&web, "&prompt=login&ui_locales=en"))
        .await;
    b.wait_for("document.getElementById('password')").await;
    assert_eq!(lang(&mut b).await, "zh-CN", "the user's choice wins");
    b.eval("document.getElementById('lang-en').click()").await;
    b.wait_for("document.documentElement.lang === 'en'").await;
    b.goto(&format!("{web}/account")).await;
    b.wait_for("document.getElementById('sign-out')").await;
    assert_eq!(
        lang(&mut b).await,
        "en",
        "English chosen over Accept-Language"
    );
    assert!(text(&mut b).await.contains("Sign-in methods for alice"));
    b.close().await;
}

/// Without a browser: the negotiation on any page, the switch's cookie,
/// translated error pages, and hints that cannot break a page.
#[tokio::test]
async fn pages_negotiate_their_language_and_ignore_bad_hints() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let get = |path: &str, al: &str| {
        let mut r = http.get(format!("{}{path}", srv.base));
        if !al.is_empty() {
            r = r.header("accept-language", al);
        }
        r.send()
    };
    let r = get("/", "fr-FR, zh;q=0.8, en;q=0.5").await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    assert!(html.contains("您的账户"), "{html}");

    let r = get("/?lang=en", "zh-CN").await.unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tg_lang="))
        .map(str::to_string)
        .expect("the switch sets its cookie");
    assert!(cookie.starts_with("tg_lang=en;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(r.text().await.unwrap().contains("<html lang=\"en\">"));
    let r = http
        .get(format!("{}/", srv.base))
        .header("accept-language", "zh-CN")
        .header("cookie", "tg_lang=en")
        .send()
        .await
        .unwrap();
    assert!(
        r.text().await.unwrap().contains("<html lang=\"en\">"),
        "the choice wins"
    );

    // A handler's English message, in Chinese.
    let r = get("/login/no-such-interaction", "zh-CN").await.unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("此次登录已过期"), "{html}");
    assert!(html.contains("请返回应用重新开始。"), "{html}");

    // Bad hints: ignored, never an error.
    for (path, al) in [
        ("/?lang=%3Cscript%3E", ";;;,q=abc"),
        ("/?lang=", "xx-YY;q=2, *;q=-1"),
        ("/?lang=zh-CN&lang=en", "zh;q=0"),
    ] {
        let r = get(path, al).await.unwrap();
        assert_eq!(r.status(), 200, "{path} {al}");
        let set: Vec<_> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let html = r.text().await.unwrap();
        assert!(!html.contains("<script"), "{path}: {html}");
        if path.contains("lang=zh-CN") {
            assert!(html.contains("<html lang=\"zh-CN\">"), "{path}: {html}");
            assert!(
                set.iter().any(|c| c.starts_with("tg_lang=zh-CN;")),
                "{set:?}"
            );
        } else {
            assert!(html.contains("<html lang=\"en\">"), "{path} {al}: {html}");
            assert!(!set.iter().any(|c| c.starts_with("tg_lang=")), "{set:?}");
        }
    }
}

/// A server with `[branding]` as `tweak` sets it and client `rp`, and a
/// browser-like client (cookies, no redirects followed).
async fn branded(
    tweak: impl FnOnce(&mut tollgate_authz::i18n::branding::BrandingConfig),
) -> Option<(TestServer, reqwest::Client)> {
    let srv = TestServer::start(Db::Sqlite, |c| tweak(&mut c.branding)).await?;
    srv.add_client("rp", |_| {}).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    Some((srv, http))
}

/// `[branding]` without a rebuild (issue 15): the product name in every
/// heading and title, Chinese as the default language, an operator's
/// text for one message, a stylesheet and a logo served to the pages.
#[tokio::test]
async fn branding_changes_name_language_texts_and_look_without_a_rebuild() {
    let dir = tollgate::temp_dir();
    let messages = dir.0.join("messages");
    std::fs::create_dir_all(&messages).unwrap();
    std::fs::write(messages.join("zh-CN.ftl"), "login-submit = 进入系统\n").unwrap();
    std::fs::write(dir.0.join("brand.css"), "h1 { color: #c8102e; }\n").unwrap();
    let svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'/>";
    std::fs::write(dir.0.join("logo.svg"), svg).unwrap();
    let Some((srv, http)) = branded(|b| {
        b.product_name = Some("Acme 统一认证".into());
        b.default_language = Some("zh-CN".into());
        b.messages_dir = Some(messages.clone());
        b.stylesheet = Some(dir.0.join("brand.css"));
        b.logo = Some(dir.0.join("logo.svg"));
    })
    .await
    else {
        return;
    };
    // No Accept-Language: the configured default, not English.
    let home = http.get(format!("{}/", srv.base)).send().await.unwrap();
    let html = home.text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    assert!(html.contains("<h1>Acme 统一认证</h1>"), "{html}");
    assert!(html.contains("<title>Acme 统一认证</title>"), "{html}");
    assert!(html.contains(r#"href="/branding/style.css""#), "{html}");
    assert!(html.contains("这是 Acme 统一认证 登录服务"), "{html}");
    // The sign-in page: the operator's text in Chinese, the built-in one
    // in English (the override is for zh-CN only); the title names the
    // product too.
    let (path, zh) = crate::authenticators::open_login(
        &http,
        &srv.base,
        &crate::authenticators::authorize_url(&srv.base, ""),
    )
    .await;
    assert!(zh.contains(">进入系统</button>"), "{zh}");
    assert!(zh.contains("· Acme 统一认证</title>"), "{zh}");
    let en = tollgate::get_text(&http, &format!("{}{path}?lang=en", srv.base)).await;
    assert!(
        en.contains("<html lang=\"en\">") && en.contains("<h1>Acme 统一认证</h1>"),
        "{en}"
    );
    assert!(!en.contains("进入系统"), "{en}");
    // The look: the logo rule and the operator's stylesheet, and the logo.
    let css = http
        .get(format!("{}/branding/style.css", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let css = css.text().await.unwrap();
    assert!(
        css.contains("url(/branding/logo)") && css.contains("#c8102e"),
        "{css}"
    );
    let logo = http
        .get(format!("{}/branding/logo", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert_eq!(logo.text().await.unwrap(), svg);
}

/// Without `[branding]` the stylesheet is empty and there is no logo.
#[tokio::test]
async fn no_branding_means_the_built_in_look() {
    let Some(srv) = TestServer::start(Db::Sqlite, |_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let html = http.get(format!("{}/", srv.base)).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(
        html.contains("<h1>Tollgate</h1>") && html.contains("<html lang=\"en\">"),
        "{html}"
    );
    let css = http
        .get(format!("{}/branding/style.css", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (css.status().as_u16(), css.text().await.unwrap()),
        (200, String::new())
    );
    let logo = http
        .get(format!("{}/branding/logo", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 404);
}

/// `[branding] templates_dir` (issue 15): an operator's `login.html`
/// replaces the sign-in page's HTML without a rebuild — also when the
/// page is shown again with an error, escaped like the built-in one —
/// while every other page stays built-in; a broken override stops both
/// `check-config` and `serve` with `file:line`, every problem at once.
#[tokio::test]
async fn templates_dir_replaces_a_page_and_a_broken_one_stops_the_start() {
    let dir = tollgate::temp_dir();
    let good = dir.0.join("templates");
    std::fs::create_dir_all(&good).unwrap();
    let built_in = include_str!("../../authz/templates/login.html");
    let banner = "{% block content %}\n<p id=\"corp-banner\">Acme staff only</p>";
    assert!(built_in.contains("{% block content %}"));
    std::fs::write(
        good.join("login.html"),
        built_in.replace("{% block content %}", banner),
    )
    .unwrap();
    let Some((srv, http)) = branded(|b| b.templates_dir = Some(good.clone())).await else {
        return;
    };
    let (path, html) = crate::authenticators::open_login(
        &http,
        &srv.base,
        &crate::authenticators::authorize_url(&srv.base, ""),
    )
    .await;
    assert!(
        html.contains("<p id=\"corp-banner\">Acme staff only</p>"),
        "{html}"
    );
    assert!(html.contains("id=\"passkey-signin\"") && html.contains("<h1>Tollgate</h1>"));
    let csrf = crate::authenticators::data_csrf(&html);
    let again = crate::authenticators::post_form(
        &http,
        &format!("{}{path}", srv.base),
        &[
            ("csrf", csrf.as_str()),
            ("username", "<script>x</script>"),
            ("password", "wrong"),
        ],
    )
    .await;
    let again = again.text().await.unwrap();
    assert!(
        again.contains("id=\"corp-banner\"") && again.contains("id=\"form-error\""),
        "{again}"
    );
    assert!(
        again.contains("value=\"&lt;script&gt;x&lt;/script&gt;\""),
        "{again}"
    );
    assert!(!again.contains("<script>x"), "{again}");
    let home = tollgate::get_text(&http, &format!("{}/", srv.base)).await;
    assert!(
        home.contains("<h1>Tollgate</h1>") && !home.contains("corp-banner"),
        "{home}"
    );

    // Broken, every problem reported at once: an unknown filter at line
    // 3, a base that does not parse at line 2, a typo'd file name.
    let broken = dir.0.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("login.html"),
        "{% extends \"base.html\" %}\n{% block content %}\n<p>{{ username|shout }}</p>\n{% endblock %}\n",
    )
    .unwrap();
    std::fs::write(
        broken.join("base.html"),
        "<!doctype html>\n<title>{{ }}</title>\n{% block content %}{% endblock %}\n",
    )
    .unwrap();
    std::fs::write(broken.join("logn.html"), "<p>typo</p>\n").unwrap();
    std::fs::write(
        dir.0.join("tollgate.toml"),
        "version = 1\nissuer = \"https://id.example\"\n\n[branding]\ntemplates_dir = \"broken\"\n",
    )
    .unwrap();
    for args in [
        &["check-config", "tollgate.toml"][..],
        &["serve", "--config", "tollgate.toml"][..],
    ] {
        let out = crate::cli_truth::tollgate_in(&dir.0, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        for want in [
            "broken/base.html:2: syntax error",
            "broken/login.html:3: unknown filter: filter shout is unknown",
            "broken/logn.html: not a template name",
        ] {
            assert!(
                err.lines().any(|l| l.contains(want)),
                "{args:?} {want}: {err}"
            );
        }
    }
}
