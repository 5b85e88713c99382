//! vCenter as a relying party (issue 7), built from VMware's published
//! contract for third-party identity providers in vSphere 8: the redirect
//! path `/ui/login/oauth2/authcode`, a confidential client using
//! `client_secret_basic` or `client_secret_post`, no PKCE, RS256 ID tokens
//! whose `upn` (user@domain) and `groups` claims it maps to its SCIM-
//! provisioned users and groups; refresh tokens. The client is registered
//! through the real CLI (`tollgate clients add --profile vcenter`).
//! And the password grant vCenter's wizard asks for: an explicit opt-in,
//! scored like any login, refused when the policy wants more than a password.

use crate::oidc_flow::{jwt_header, jwt_payload};
use crate::policy::{browser_at, password, server_with};
use serde_json::Value;
use tollgate::{PASSWORD, TestServer, param};

const HOST: &str = "vc01.corp.example";
const REDIRECT: &str = "https://vc01.corp.example/ui/login/oauth2/authcode";

/// Registers `id` with `tollgate clients add --profile vcenter` against the
/// server's database; returns the secret the CLI printed.
fn add_vcenter_client(srv: &TestServer, dir: &std::path::Path, id: &str, extra: &[&str]) -> String {
    let cfg = dir.join(format!("{id}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "version = 1\nissuer = \"https://id.example\"\n[database]\nurl = \"{}\"\n",
            srv.config_database_url()
        ),
    )
    .unwrap();
    let text = tollgate::succeeded(
        std::process::Command::new(tollgate::tollgate_bin())
            .args([
                "clients",
                "add",
                id,
                "--profile",
                "vcenter",
                "--vcenter-host",
                HOST,
            ])
            .args(extra)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap(),
    );
    text.lines()
        .find_map(|l| l.strip_prefix("client secret (shown once, store it now): "))
        .expect("the secret is printed")
        .to_owned()
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut r = http.post(format!("{base}/token")).form(form);
    if let Some((id, secret)) = basic {
        r = r.basic_auth(id, Some(secret));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Asserts a token-endpoint error: 400, `error`, and a description containing `says`.
fn refused(resp: &(u16, Value), error: &str, says: &str) {
    let (s, e) = resp;
    assert_eq!((*s, e["error"].as_str()), (400, Some(error)), "{e}");
    assert!(
        e["error_description"].as_str().unwrap_or("").contains(says),
        "{e} should say {says:?}"
    );
}

#[tokio::test]
async fn vcenter_signs_in_refreshes_and_reads_upn_and_groups() {
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, dir)) = server_with(tollgate::Db::Sqlite, files, "").await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("alice", &["vcenter-admins", "ops"]).await;
    let secret = add_vcenter_client(&srv, &dir.0, "vcenter", &["--groups-claim", "vc_groups"]);

    // The browser comes from vCenter's login page: no PKCE, its fixed path.
    let http = browser_at(crate::policy::DE);
    let url = format!(
        "{base}/authorize?client_id=vcenter&redirect_uri={}&response_type=code&scope=openid%20offline_access&state=vc-state&nonce=vc-nonce",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let r = password(&http, &base, &url, "alice").await;
    let back = crate::authenticators::loc(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("vc-state"));
    let code = param(&back, "code").unwrap();

    // Code exchange with client_secret_post.
    let (s, t) = token(
        &http,
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "vcenter"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let id_token = t["id_token"].as_str().unwrap();
    assert_eq!(jwt_header(id_token)["alg"], "RS256");
    let claims = jwt_payload(id_token);
    assert_eq!(claims["aud"], "vcenter");
    assert_eq!(claims["nonce"], "vc-nonce");
    assert_eq!(claims["upn"], "alice@corp.example");
    assert_eq!(
        claims["vc_groups"],
        serde_json::json!(["vcenter-admins", "ops"])
    );

    // Refresh with client_secret_basic: a new ID token, same identity.
    let (s, t2) = token(
        &http,
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
        Some(("vcenter", &secret)),
    )
    .await;
    assert_eq!(s, 200, "{t2}");
    let claims = jwt_payload(t2["id_token"].as_str().unwrap());
    assert_eq!(claims["upn"], "alice@corp.example");
    assert_eq!(
        claims["vc_groups"],
        serde_json::json!(["vcenter-admins", "ops"])
    );

    // Any other redirect URI is refused on a page, never followed.
    let bad = url.replace("authcode", "authcode2");
    let r = http.get(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

const VCENTER_NEEDS_MFA: &str = r#"
rules_after:
  - name: vcenter-mfa
    description: vCenter sign-ins need two factors
    when:
      client: [vcenter-mfa]
    require: aal2
"#;

#[tokio::test]
async fn the_password_grant_is_opt_in_scored_and_locked_out() {
    let rules = format!(
        "risk:\n  lockout: {{max_failures_per_user: 3, max_failures_per_ip: 100, window: 15m, duration: 15m}}\n{VCENTER_NEEDS_MFA}"
    );
    let files = vec![tollgate::allow_all_policy()];
    let Some((srv, dir)) = server_with(tollgate::Db::Sqlite, files, &rules).await else {
        return;
    };
    let base = srv.base.clone();
    srv.add_user("alice", &["vcenter-admins"]).await;
    srv.add_user("bob", &[]).await;
    let open = add_vcenter_client(&srv, &dir.0, "vcenter", &["--password-grant"]);
    let strict = add_vcenter_client(&srv, &dir.0, "vcenter-mfa", &["--password-grant"]);
    let plain = add_vcenter_client(&srv, &dir.0, "vcenter-no-ropc", &[]);
    let http = reqwest::Client::new();
    let grant = |user: &'static str, pw: &'static str| {
        [
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("scope", "openid"),
        ]
    };

    // Not opted in: refused, whatever the password.
    let no_ropc = Some(("vcenter-no-ropc", plain.as_str()));
    refused(
        &token(&http, &base, &grant("alice", PASSWORD), no_ropc).await,
        "unauthorized_client",
        "password",
    );
    let rp = Some(("rp", tollgate::SECRET));
    refused(
        &token(&http, &base, &grant("alice", PASSWORD), rp).await,
        "unauthorized_client",
        "password",
    );

    // Opted in, a password is enough under this policy: tokens at aal1.
    let (s, t) = token(
        &http,
        &base,
        &grant("alice", PASSWORD),
        Some(("vcenter", &open)),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let claims = jwt_payload(t["id_token"].as_str().unwrap());
    assert_eq!(
        (claims["acr"].as_str(), claims["upn"].as_str()),
        (Some("aal1"), Some("alice@corp.example"))
    );
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));

    // The policy wants two factors for this client: interactive sign-in.
    let mfa = Some(("vcenter-mfa", strict.as_str()));
    let r = token(&http, &base, &grant("alice", PASSWORD), mfa).await;
    refused(&r, "invalid_grant", "interactive sign-in is required");

    // Wrong passwords lock the account, for this grant as for the login page.
    let vc = Some(("vcenter", open.as_str()));
    for _ in 0..3 {
        refused(
            &token(&http, &base, &grant("bob", "wrong"), vc).await,
            "invalid_grant",
            "incorrect",
        );
    }
    let r = token(&http, &base, &grant("bob", PASSWORD), vc).await;
    refused(&r, "invalid_grant", "too many failed attempts");
    let kinds = crate::authenticators::audit_kinds(&srv).await;
    for kind in [
        "login.failure",
        "login.locked",
        "login.interactive_required",
        "policy.decision",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
}
