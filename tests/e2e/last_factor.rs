//! "The last factor cannot be removed": a passwordless user whose only
//! factor is one passkey signs in to `/account` with it and tries to remove
//! it. The account page refuses with a clear message, and the passkey still
//! signs in afterwards.

use crate::authenticators::{loc, open_login, passkey_login, passkey_sign_in, post_form, server};
use tollgate::{Db, browser, csrf_of, get_text};
use tollgate_authz::login::attestation::AttestationPolicy;
use tollgate_authz::login::passkey;
use tollgate_authz::login::soft_passkey::SoftPasskey;
use tollgate_authz::store::NewUser;

#[tokio::test]
async fn the_last_factor_cannot_be_removed() {
    let Some(srv) = server(Db::Sqlite, |_| {}).await else {
        return;
    };
    let (base, web) = (srv.base.clone(), srv.app.config.issuer.clone());
    let now = srv.app.now();
    // Carol has no password: an administrator provisioned her passkey
    // (registered through the real ceremony functions, stored by the store).
    let uid = srv
        .app
        .store
        .insert_users(
            &[NewUser {
                login: "carol".into(),
                display_name: "Carol".into(),
                email: None,
                upn: None,
                groups: vec![],
                password_hash: None,
            }],
            now,
        )
        .await
        .unwrap()
        .remove(0);
    let rp = passkey::relying_party(&web, "Tollgate").unwrap();
    let (opts, state) =
        passkey::start_registration(&rp, &uid, "carol", "Carol", &[], false).unwrap();
    let (mut pk, resp) = SoftPasskey::register(&opts, &web, false).unwrap();
    let row = passkey::finish_registration(
        &rp,
        &state,
        &resp,
        &uid,
        "Only key",
        &AttestationPolicy::default(),
        now,
    )
    .unwrap();
    srv.app.store.insert_passkey(&row).await.unwrap();

    // Sign in to the account page with the passkey alone.
    let http = browser();
    let (path, html) = open_login(&http, &base, &format!("{base}/account")).await;
    let (s, ok) = passkey_login(&http, &base, &path, &csrf_of(&html), &mut pk, &base).await;
    assert_eq!(
        (s, ok["redirect"].as_str()),
        (200, Some("/account")),
        "{ok}"
    );
    let page = get_text(&http, &format!("{base}/account")).await;
    assert!(page.contains("Only key"), "{page}");

    let r = post_form(
        &http,
        &format!("{base}/account/passkeys/{}/remove", row.cred_id),
        &[("csrf", &csrf_of(&page))],
    )
    .await;
    assert_eq!(
        r.status(),
        400,
        "the account page with an error, not {}",
        loc(&r)
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains("You cannot remove your last way to sign in."),
        "{body}"
    );
    assert_eq!(srv.app.store.passkeys(&uid).await.unwrap().len(), 1);

    // The passkey still signs carol in to a relying party.
    let claims = passkey_sign_in(&base, &mut pk, "").await.unwrap();
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["acr"], "phr");
}
