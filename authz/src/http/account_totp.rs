//! `/account/totp` and `/account/recovery`: TOTP enrollment (a pending
//! secret made by `POST /account/totp/new`, sealed with the master key
//! under `totp:<user_id>`, active only after one valid code) and recovery
//! codes (ten, shown once, stored hashed).

use super::account::render;
use super::account_guard::{factor_count, field, form_change};
use super::error::PageError;
use super::pages;
use super::respond::see_other;
use super::session::{CLIENT, csrf_of, current_session};
use super::totp_seal::open_secret;
use crate::login::totp;
use crate::state::App;
use crate::store::UserRow;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

#[derive(serde::Serialize)]
pub struct TotpEnrollPage<'a> {
    pub csrf: &'a str,
    pub uri: &'a str,
    pub secret: &'a str,
    pub qr: &'a str,
    pub error: Option<&'a str>,
}

impl pages::Page for TotpEnrollPage<'_> {
    const TEMPLATE: &'static str = "totp_enroll.html";
    fn samples() -> Vec<Self> {
        [true, false]
            .map(|f| TotpEnrollPage {
                csrf: "csrf-sample",
                uri: "otpauth://totp/Tollgate:alice?secret=ABCD&issuer=Tollgate",
                secret: "ABCD",
                qr: "data:image/svg+xml;base64,PHN2Zy8+",
                error: pages::opt(
                    f,
                    "That code is not correct. Enter the current code from your app.",
                ),
            })
            .into()
    }
}

#[derive(serde::Serialize)]
pub struct RecoveryPage {
    pub codes: Vec<String>,
}

impl pages::Page for RecoveryPage {
    const TEMPLATE: &'static str = "recovery.html";
    fn samples() -> Vec<Self> {
        vec![RecoveryPage {
            codes: vec!["abcd-efgh".into(), "ijkl-mnop".into()],
        }]
    }
}

/// A QR code as an SVG data URI (server-side, no script; CSP allows `data:` images).
fn qr_svg(text: &str) -> String {
    use base64::Engine;
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let (n, border) = (qr.size(), 4);
    let mut path = String::new();
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = n + 2 * border;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[derive(serde::Serialize)]
pub struct TotpStartPage<'a> {
    pub csrf: &'a str,
}

impl pages::Page for TotpStartPage<'_> {
    const TEMPLATE: &'static str = "totp_start.html";
    fn samples() -> Vec<Self> {
        vec![TotpStartPage {
            csrf: "csrf-sample",
        }]
    }
}

/// `GET /account/totp`: the button that asks for a key. A GET changes
/// nothing (an `<img>` on another site must not replace a pending secret
/// the user is halfway through scanning); the key is made by the POST.
pub async fn start(State(app): State<App>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(s) = current_session(&app, &headers).await? else {
        return Err(PageError::SignIn { to: "/account" });
    };
    if !super::account_guard::fresh_for_changes(&app, &s).await {
        return Err(PageError::SignIn {
            to: "/account/reauth",
        });
    }
    let csrf = csrf_of(&app, &headers).unwrap_or_default();
    Ok(pages::render(
        StatusCode::OK,
        &TotpStartPage { csrf: &csrf },
    ))
}

/// `POST /account/totp/new` (form `csrf`): a new pending secret, its URI
/// and QR code.
pub async fn new_secret(State(app): State<App>, req: Request) -> Result<Response, PageError> {
    let (headers, _, s, user) = form_change(&app, req, "totp.start").await?;
    if app.store.totp(&user.id).await?.is_some_and(|t| t.active) {
        return render(
            &app,
            &headers,
            &s,
            None,
            Some("TOTP is already set up. Remove it first."),
        )
        .await;
    }
    let secret = totp::new_secret();
    let sealed = app.master.seal(&format!("totp:{}", user.id), &secret);
    let sealed = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sealed)
    };
    app.store
        .put_pending_totp(&user.id, &sealed, app.now())
        .await?;
    Ok(totp_page(
        &app,
        &headers,
        &user,
        &secret,
        StatusCode::OK,
        None,
    ))
}

fn totp_page(
    app: &App,
    headers: &HeaderMap,
    user: &UserRow,
    secret: &[u8],
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let p = totp::Params::from_config(&app.config.authenticators);
    let uri = totp::otpauth_uri(p, secret, &app.config.authenticators.rp_name, &user.login);
    let csrf = csrf_of(app, headers).unwrap_or_default();
    pages::render(
        status,
        &TotpEnrollPage {
            csrf: &csrf,
            uri: uri.expose(),
            secret: &totp::base32(secret),
            qr: &qr_svg(uri.expose()),
            error,
        },
    )
}

/// `POST /account/totp` (form `csrf`, `code`): activates the pending secret.
pub async fn activate(State(app): State<App>, req: Request) -> Result<Response, PageError> {
    let (headers, f, s, u) = form_change(&app, req, "totp.enroll").await?;
    let now = app.now();
    let pending = match app.store.totp(&u.id).await? {
        Some(t) if !t.active => t,
        _ => return Ok(see_other("/account/totp")),
    };
    let secret = open_secret(&app, &u.id, &pending.secret_sealed)?;
    let p = totp::Params::from_config(&app.config.authenticators);
    let step = totp::verify(p, &secret, field(&f, "code"), now);
    let won = match step {
        Some(st) => app.store.use_totp_step(&u.id, st).await?,
        None => false,
    };
    if !won {
        app.audit("totp.enroll_failed", &u.id, CLIENT, json!({"sid": s.id}))
            .await;
        return Ok(totp_page(
            &app,
            &headers,
            &u,
            &secret,
            StatusCode::BAD_REQUEST,
            Some("That code is not correct. Enter the current code from your app."),
        ));
    }
    crate::events::credential_changed(&app, &u.id, "app", "create", "user").await;
    app.audit("totp.enrolled", &u.id, CLIENT, json!({"sid": s.id}))
        .await;
    if app.store.recovery_codes_left(&u.id).await? == 0 {
        return recovery_page(&app, &u).await;
    }
    Ok(see_other("/account?done=totp"))
}

/// `POST /account/totp/remove` (form `csrf`).
pub async fn remove(State(app): State<App>, req: Request) -> Result<Response, PageError> {
    let (headers, _, s, u) = form_change(&app, req, "totp.remove").await?;
    if factor_count(&app, &u).await <= 1 {
        return render(
            &app,
            &headers,
            &s,
            None,
            Some("You cannot remove your last way to sign in."),
        )
        .await;
    }
    app.store.delete_totp(&u.id).await?;
    crate::events::credential_changed(&app, &u.id, "app", "delete", "user").await;
    app.audit("totp.removed", &u.id, CLIENT, json!({"sid": s.id}))
        .await;
    render(&app, &headers, &s, Some("TOTP removed."), None).await
}

/// `POST /account/recovery` (form `csrf`): ten new codes, shown once.
pub async fn recovery_regenerate(
    State(app): State<App>,
    req: Request,
) -> Result<Response, PageError> {
    let (_, _, _, u) = form_change(&app, req, "recovery.regenerate").await?;
    recovery_page(&app, &u).await
}

async fn recovery_page(app: &App, u: &UserRow) -> Result<Response, PageError> {
    let (codes, hashes) = totp::recovery_codes();
    app.store
        .replace_recovery_codes(&u.id, &hashes, app.now())
        .await?;
    app.audit(
        "recovery.regenerated",
        &u.id,
        CLIENT,
        json!({"count": hashes.len()}),
    )
    .await;
    Ok(pages::render(
        StatusCode::OK,
        &RecoveryPage {
            codes: codes.iter().map(|c| c.expose().to_string()).collect(),
        },
    ))
}
