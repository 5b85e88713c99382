//! HTTP: thin axum handlers over the protocol logic in `oauth/` and `login/`.

mod account;
mod account_devices;
mod account_guard;
mod account_passkeys;
mod account_password;
mod account_totp;
mod agent;
mod authorize;
mod branding;
mod ceremony;
mod cookies;
mod demo;
pub use demo::CLIENT_ID as DEMO_CLIENT;
mod discovery;
mod error;
mod factor_page;
mod gateway;
mod gateway_answer;
mod home;
mod interaction;
mod locale;
mod login;
mod login_device;
mod login_passkey;
mod login_password;
mod login_step;
mod login_totp;
mod logout;
mod observe;
pub use observe::RequestId;
mod ops;
pub mod page_samples;
mod pages;
mod password_reset;
mod respond;
mod session;
mod signals;
pub mod templates;
#[cfg(test)]
mod templates_tests;
mod token;
mod totp_seal;
mod userinfo;

use crate::state::App;
use axum::Router;
use axum::routing::{any, get, post};

/// The whole application's routes with their middleware.
/// The `[metrics] listen` router: metrics and health, nothing else.
pub fn ops_router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .with_state(app)
}

pub fn router(app: App) -> Router {
    let demo = app.config.demo;
    let mut r = Router::new()
        .route("/", get(home::show))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/ssf-configuration",
            get(discovery::ssf_configuration),
        )
        .route("/.well-known/openapi.json", get(discovery::openapi))
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/login/{id}", get(login::show).post(login_password::submit))
        .route("/token", post(token::token))
        .route("/introspect", post(token::introspect))
        .route("/revoke", post(token::revoke))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/end_session", get(logout::get).post(logout::post))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics_main))
        .route("/static/style.css", get(ops::stylesheet))
        .route("/branding/style.css", get(branding::stylesheet))
        .route("/branding/logo", get(branding::logo))
        .route("/static/passkey.js", get(respond::passkey_js))
        .route("/login/{id}/totp", post(login_totp::totp_submit))
        .route(
            "/login/{id}/passkey/options",
            post(login_passkey::passkey_options),
        )
        .route("/login/{id}/passkey", post(login_passkey::passkey_finish))
        .route(
            "/password/reset/{token}",
            get(password_reset::show).post(password_reset::submit),
        )
        .route("/account", get(account::show))
        .route("/account/reauth", get(account::reauth))
        .route(
            "/account/passkeys/options",
            post(account_passkeys::passkey_options),
        )
        .route(
            "/account/passkeys",
            post(account_passkeys::passkey_register),
        )
        .route(
            "/account/passkeys/{cred}/rename",
            post(account_passkeys::passkey_rename),
        )
        .route(
            "/account/passkeys/{cred}/remove",
            post(account_passkeys::passkey_remove),
        )
        .route(
            "/account/totp",
            get(account_totp::start).post(account_totp::activate),
        )
        .route("/account/totp/new", post(account_totp::new_secret))
        .route("/account/totp/remove", post(account_totp::remove))
        .route("/account/recovery", post(account_totp::recovery_regenerate))
        .route("/account/password", post(account_password::change))
        .route("/v1/agent/enroll/begin", post(agent::enroll_begin))
        .route("/v1/agent/enroll/attest", post(agent::enroll_attest))
        .route("/v1/agent/enroll/finish", post(agent::enroll_finish))
        .route("/v1/agent/challenges/pending", post(agent::pending))
        .route("/v1/agent/challenges/{id}/answer", post(agent::answer))
        .route("/v1/agent/grant", post(agent::grant))
        .route("/v1/agent/receipts", post(agent::receipts))
        .route("/v1/agent/grant-key", get(agent::grant_key))
        .route("/account/devices", get(account_devices::my_devices))
        .route(
            "/account/devices/enroll-code",
            post(account_devices::enroll_code),
        )
        .route(
            "/account/devices/{id}/revoke",
            post(account_devices::revoke_mine),
        )
        .route("/login/{id}/device", post(login_device::submit))
        .route("/v1/decide", post(gateway::decide))
        .route("/ext_authz", any(gateway::ext_authz))
        .route("/ext_authz/{*rest}", any(gateway::ext_authz));
    if demo {
        r = r
            .route("/demo", get(demo::start))
            .route("/demo/callback", get(demo::callback));
    }
    r.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        locale::locale,
    ))
    .layer(axum::middleware::from_fn_with_state(
        app.clone(),
        observe::observe,
    ))
    .with_state(app)
}
