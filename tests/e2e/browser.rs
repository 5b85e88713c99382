//! Real browser: headless Chromium over the DevTools protocol, with the
//! WebAuthn domain's virtual authenticator. Screenshots go to
//! `tests/artifacts/` (gitignored).
//!
//! The issuer is `http://localhost:<port>`: WebAuthn needs a secure context
//! (loopback http is one) and an RP id that is a domain, not an IP address.

use crate::authenticators::id_claims;
use crate::cdp::{self, Browser};
use tollgate::{Db, PASSWORD, TestServer, param};
use tollgate_authz::login::totp;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn artifact(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/artifacts")
        .join(name)
}

/// A server whose issuer is `localhost`, with client `rp` redirecting to
/// the issuer's own `/healthz` (a page the browser can load).
pub(crate) async fn server() -> Option<(TestServer, String)> {
    let srv = TestServer::start(Db::Sqlite, |c| {
        c.issuer = c.issuer.replace("127.0.0.1", "localhost");
    })
    .await?;
    let web = srv.app.config.issuer.clone();
    let cb = format!("{web}/healthz");
    srv.add_client("rp", |c| c.redirect_uris = vec![cb.clone()])
        .await;
    srv.add_user("alice", &[]).await;
    Some((srv, web))
}

pub(crate) fn authorize(web: &str, extra: &str) -> String {
    format!(
        "{web}/authorize?client_id=rp&redirect_uri={}&response_type=code&scope=openid&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        url::form_urlencoded::byte_serialize(format!("{web}/healthz").as_bytes())
            .collect::<String>()
    )
}

pub(crate) async fn password_signin(b: &mut Browser) {
    b.wait_for("document.getElementById('password')").await;
    b.eval(&format!(
        "(() => {{ const u = document.getElementById('username'); if (u && u.type !== 'hidden') u.value = 'alice'; \
           const p = document.getElementById('password'); p.value = {PASSWORD:?}; p.form.submit(); }})()"
    ))
    .await;
}

async fn sign_out(b: &mut Browser, web: &str) {
    b.goto(&format!("{web}/end_session")).await;
    b.eval("document.querySelector('form').submit()").await;
    b.wait_for("document.readyState === 'complete' && !document.querySelector('form[action=\"/end_session\"]')")
        .await;
}

#[tokio::test]
async fn browser_registers_a_passkey_and_signs_in_with_it() {
    let Some(mut b) = cdp::launch().await else {
        return;
    };
    let Some((srv, web)) = server().await else {
        return;
    };
    b.virtual_authenticator().await;

    // Account page: sign in with the password, add a passkey.
    b.goto(&format!("{web}/account")).await;
    b.wait_for("document.getElementById('passkey-signin')")
        .await;
    b.screenshot(&artifact("signin.png")).await;
    password_signin(&mut b).await;
    b.wait_for("document.getElementById('passkey-register')")
        .await;
    b.eval("document.getElementById('passkey-name').value = 'Virtual key'; document.getElementById('passkey-register').click()")
        .await;
    b.wait_for("location.search.includes('done=passkey') && document.body.innerText.includes('Virtual key')")
        .await;
    b.screenshot(&artifact("account.png")).await;

    // Sign out, then sign in to the relying party with the passkey only.
    sign_out(&mut b, &web).await;
    b.goto(&authorize(&web, "")).await;
    b.wait_for("document.getElementById('passkey-signin')")
        .await;
    b.eval("document.getElementById('passkey-signin').click()")
        .await;
    b.wait_for("location.pathname === '/healthz'").await;
    let back = b.url().await;
    assert_eq!(param(&back, "state").as_deref(), Some("st"), "{back}");
    let claims = id_claims(
        &reqwest::Client::new(),
        &srv.base,
        &back,
        &format!("{web}/healthz"),
    )
    .await;
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(amr.iter().any(|a| a == "hwk" || a == "swk"), "{amr:?}");
    assert!(amr.iter().any(|a| a == "user"), "{amr:?}");
    assert!(
        !amr.iter().any(|a| a == "pwd"),
        "the passkey alone signed in: {amr:?}"
    );
    // Both sign-ins (the password form, then the passkey's JSON) carried
    // the browser's signals to the risk score: the page script's time
    // zone, its language and the client hints Chromium sends (issue 11).
    let events: Vec<serde_json::Value> = crate::policy::login_decision_records(&srv)
        .await
        .into_iter()
        .map(|d| d["event"].clone())
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    // As text: an offset of 0 would come back as CDP's unserialisable -0.
    let browser_tz = b.eval("String(-new Date().getTimezoneOffset())").await;
    let browser_tz: i64 = browser_tz.as_str().unwrap().parse().unwrap();
    for e in &events {
        assert_eq!(e["tz_offset_min"], browser_tz, "{e}");
        assert!(
            e["accept_language"].as_str().is_some_and(|l| !l.is_empty()),
            "{e}"
        );
        let hints = &e["client_hints"];
        assert!(
            hints["Sec-CH-UA"]
                .as_str()
                .is_some_and(|b| b.contains("Chromium")),
            "{e}"
        );
        assert_eq!(hints["Sec-CH-UA-Platform"], "\"Linux\"", "{e}");
    }
    b.close().await;
}

#[tokio::test]
async fn browser_enrolls_totp_and_steps_up_with_a_code() {
    let Some(mut b) = cdp::launch().await else {
        return;
    };
    let Some((srv, web)) = server().await else {
        return;
    };
    b.goto(&format!("{web}/account")).await;
    password_signin(&mut b).await;
    b.wait_for("document.getElementById('totp-enroll')").await;
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
    assert_eq!(
        b.eval("document.querySelectorAll('#recovery-codes li').length")
            .await,
        10
    );

    // The session has only a password (aal1): acr_values=aal2 steps up with TOTP.
    b.goto(&authorize(&web, "&acr_values=aal2")).await;
    b.wait_for("document.body.innerText.includes('This action needs a stronger sign-in')")
        .await;
    b.screenshot(&artifact("stepup.png")).await;
    let next = totp::code_at_step(p, &secret, srv.app.now() / 30 + 1);
    b.eval(&format!(
        "document.getElementById('code').value = '{next}'; document.getElementById('code').form.submit()"
    ))
    .await;
    b.wait_for("location.pathname === '/healthz'").await;
    let back = b.url().await;
    let claims = id_claims(
        &reqwest::Client::new(),
        &srv.base,
        &back,
        &format!("{web}/healthz"),
    )
    .await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    b.close().await;
}

/// After a wrong password the sign-in page is shown again with the error;
/// it must still carry the passkey script (CSP `script-src 'self'`), so the
/// passkey button signs in from that very page.
#[tokio::test]
async fn browser_signs_in_with_a_passkey_after_a_wrong_password() {
    let Some(mut b) = cdp::launch().await else {
        return;
    };
    let Some((srv, web)) = server().await else {
        return;
    };
    b.virtual_authenticator().await;
    b.goto(&format!("{web}/account")).await;
    password_signin(&mut b).await;
    b.wait_for("document.getElementById('passkey-register')")
        .await;
    b.eval("document.getElementById('passkey-register').click()")
        .await;
    b.wait_for("location.search.includes('done=passkey')").await;
    sign_out(&mut b, &web).await;

    b.goto(&authorize(&web, "")).await;
    b.wait_for("document.getElementById('password')").await;
    b.eval(
        "(() => { document.getElementById('username').value = 'alice'; \
           const p = document.getElementById('password'); p.value = 'wrong password'; p.form.submit(); })()",
    )
    .await;
    b.wait_for("document.getElementById('form-error')").await;
    assert!(
        b.eval("document.getElementById('form-error').textContent")
            .await
            .as_str()
            .unwrap_or_default()
            .contains("incorrect"),
        "the re-shown page says the password was wrong"
    );
    b.screenshot(&artifact("wrong-password.png")).await;
    b.eval("document.getElementById('passkey-signin').click()")
        .await;
    b.wait_for("location.pathname === '/healthz'").await;
    let back = b.url().await;
    let claims = id_claims(
        &reqwest::Client::new(),
        &srv.base,
        &back,
        &format!("{web}/healthz"),
    )
    .await;
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(amr.iter().any(|a| a == "user"), "{amr:?}");
    assert!(
        !amr.iter().any(|a| a == "pwd"),
        "the passkey signed in: {amr:?}"
    );
    b.close().await;
}
