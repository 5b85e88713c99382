//! The OpenAPI 3.1 description at `/.well-known/openapi.json` is kept
//! true here (issue 13): every operation it describes is routed by the
//! server, it validates against the OpenAPI 3.1 meta-schema, and
//! schemathesis (PyPI, pinned in `.ci/test`, installed into
//! `target/schemathesis-venv`) fuzzes every operation against a real
//! server, with credentials for the protected ones, and finds no 5xx and
//! no status, content type or body the description does not allow.
//!
//! Outside CI a missing schemathesis skips loudly; under `CI=true` it fails.

use crate::authenticators::server;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use tollgate::{Db, SECRET, TestServer, browser, have_tool, temp_dir};

/// The pinned version (`.ci/test` installs exactly this one).
const VERSION: &str = "4.32.5";

/// What every response must pass: no 5xx; status, content type, headers
/// and body as described; input the description forbids is refused
/// (4xx), not quietly accepted.
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
];

/// The second pass, over every path but ext_authz (which answers any
/// method by design): a method the description does not list is a 405
/// with a truthful `Allow`.
const METHOD_CHECKS: &str = "unsupported_method,allow_header_conformance";

/// The seed of the schemathesis run: the same cases on every machine.
const SEED: &str = "13";

/// Test cases per operation in the fuzzing phase (the coverage phase adds
/// its own deterministic boundary cases); with 37 operations the run takes
/// well under a minute on two idle cores.
const MAX_EXAMPLES: &str = "40";

/// The venv `.ci/test` makes under the target directory, or
/// `TOLLGATE_SCHEMATHESIS_VENV`.
fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("TOLLGATE_SCHEMATHESIS_VENV") {
        return PathBuf::from(v);
    }
    std::env::current_exe()
        .ok()
        // target/<profile>/deps/e2e-HASH
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("schemathesis-venv")))
        .filter(|v| v.is_dir())
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv")
        })
}

/// A server with everything the description covers switched on: ext_authz
/// (`[gateway] audiences` naming `rp`'s tokens), and a service client
/// `svc` that may ask `/v1/decide`. Returns it with alice's access token
/// from `rp` (good at `/userinfo` and ext_authz).
async fn described_server() -> Option<(TestServer, String)> {
    let srv = server(Db::Sqlite, |c| c.gateway.audiences = vec!["rp".into()]).await?;
    crate::callers::service_client(&srv, "svc", &["decide"]).await;
    let at = crate::policy::password_token(&browser(), &srv.base, "alice").await;
    Some((srv, at))
}

async fn description(srv: &TestServer) -> Value {
    let r = reqwest::get(format!("{}/.well-known/openapi.json", srv.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        ct.starts_with("application/vnd.oai.openapi+json"),
        "content type {ct}"
    );
    r.json().await.unwrap()
}

/// Every `$ref` in `v` that does not resolve inside `doc`.
fn dangling_refs(doc: &Value, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
                if target.is_none() {
                    out.push(r.clone());
                }
            }
            m.values().for_each(|x| dangling_refs(doc, x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| dangling_refs(doc, x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_described_operation_is_routed_and_every_reference_resolves() {
    let Some((srv, _)) = described_server().await else {
        return;
    };
    let doc = description(&srv).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(
        doc["servers"][0]["url"],
        srv.app.urls.issuer.trim_end_matches('/')
    );
    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, &mut dangling);
    assert!(dangling.is_empty(), "unresolved $refs: {dangling:?}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // A path item also holds `parameters` and `description`.
        let methods = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        for (method, op) in item
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| methods.contains(&k.as_str()))
        {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
            // Path parameters get a harmless value; the router only has
            // to match the shape.
            let concrete: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let r = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", srv.base),
                )
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            // The router's own 404 has no body; a handler's 404 says why.
            assert!(
                status != 405 && !(status == 404 && body.is_empty()),
                "{method} {path} is described but not routed ({status})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 37, "only {checked} operations described");
}

/// The case count schemathesis prints under `Test cases:` (`N generated,
/// N passed, …`).
fn case_line(out: &str) -> Option<&str> {
    let mut lines = out.lines().skip_while(|l| l.trim() != "Test cases:");
    lines.next()?;
    lines.next().filter(|l| l.contains("generated"))
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_response_the_description_forbids() {
    let venv = venv();
    let bin = venv.join("bin/schemathesis");
    if !have_tool(
        bin.to_str().unwrap(),
        &format!("schemathesis {VERSION} (.ci/test installs it into target/schemathesis-venv)"),
    ) {
        return;
    }
    let Some((srv, at)) = described_server().await else {
        return;
    };
    let dir = temp_dir();
    let url = format!("{}/.well-known/openapi.json", srv.base);

    // (a) The served document is OpenAPI 3.1 by the meta-schema
    // schemathesis ships (the one it loads documents with).
    let doc = dir.0.join("openapi.json");
    std::fs::write(&doc, serde_json::to_vec(&description(&srv).await).unwrap()).unwrap();
    let meta = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import json, sys, jsonschema_rs\n\
             from schemathesis.specs.openapi.definitions import OPENAPI_31\n\
             errs = [f'{e.instance_path}: {e.message}' for e in\n\
                     jsonschema_rs.validator_for(OPENAPI_31).iter_errors(json.load(open(sys.argv[1])))]\n\
             print('\\n'.join(errs)); sys.exit(1 if errs else 0)",
        ])
        .arg(&doc)
        .output()
        .expect("run the venv's python");
    assert!(
        meta.status.success(),
        "not OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&meta.stdout),
        String::from_utf8_lossy(&meta.stderr)
    );

    // (b) schemathesis against the running server. Credentials per
    // security scheme: `svc` (confidential, client_credentials, holds
    // `decide`) for client_secret_basic, alice's access token for bearer. Device-signed
    // operations (`Tollgate-SM2`) get no credentials: a signature covers
    // each exact request, so they are fuzzed as an attacker without the
    // device key sees them (their 401s are part of the description).
    // ext_authz answers every method by design (it stands for the original
    // request's); the description lists all eight OpenAPI 3.1 can name,
    // but QUERY and extension methods it cannot, so the undeclared-method
    // checks run in a second pass without those two paths.
    let config = dir.0.join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.openapi.clientBasic]\nusername = \"svc\"\npassword = \"{SECRET}\"\n\
             [auth.openapi.bearer]\nbearer = \"{at}\"\n"
        ),
    )
    .unwrap();
    let har = dir.0.join("run.har");
    let started = std::time::Instant::now();
    let schemathesis = |checks: &str, phases: &str| {
        let mut run = Command::new(&bin);
        run.arg("--no-color")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &url, "--url", &srv.base, "--checks", checks])
            .args(["--phases", phases, "--max-examples", MAX_EXAMPLES])
            .args(["--seed", SEED, "--workers", "2", "--request-timeout", "10"])
            .args(["--max-failures", "50"])
            .current_dir(&dir.0)
            .env_remove("SCHEMATHESIS_HOOKS");
        run
    };
    let mut main = schemathesis(&CHECKS.join(","), "examples,coverage,fuzzing");
    main.args(["--report", "har", "--report-har-path"])
        .arg(&har);
    let mut methods = schemathesis(METHOD_CHECKS, "coverage");
    methods.args(["--exclude-path-regex", "^/ext_authz"]);
    // Off the runtime's thread: the server answers on this one.
    let (out, methods) = tokio::task::spawn_blocking(move || (main.output(), methods.output()))
        .await
        .unwrap();
    let (out, methods) = (
        out.expect("run schemathesis"),
        methods.expect("run schemathesis"),
    );
    assert!(
        methods.status.success(),
        "schemathesis, undeclared methods (seed {SEED}):\n{}{}",
        String::from_utf8_lossy(&methods.stdout),
        String::from_utf8_lossy(&methods.stderr)
    );
    let methods_out = String::from_utf8_lossy(&methods.stdout);
    assert!(
        case_line(&methods_out).is_some(),
        "the undeclared-method pass ran no case:\n{methods_out}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The whole report (captured by the test harness unless it fails or
    // runs with --nocapture), then the line CI logs grep for.
    eprintln!("{stdout}");
    eprintln!(
        "schemathesis {VERSION}, seed {SEED}, {} (+ undeclared methods: {}) in {:.0?}",
        case_line(&stdout).unwrap_or("no case count printed").trim(),
        case_line(&methods_out).unwrap_or("").trim(),
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "schemathesis found problems (seed {SEED}):\n{stdout}\n{stderr}"
    );
    assert!(
        case_line(&stdout).is_some(),
        "schemathesis ran no case:\n{stdout}\n{stderr}"
    );
    // The credentials worked: each protected operation also answered a
    // success, so its 200 body was checked too, not only its refusals.
    let har: Value = serde_json::from_slice(&std::fs::read(&har).unwrap()).unwrap();
    let succeeded = |method: &str, path: &str| {
        har["log"]["entries"].as_array().unwrap().iter().any(|e| {
            let url = e["request"]["url"].as_str().unwrap_or("");
            e["request"]["method"] == method
                && url
                    .strip_prefix(srv.base.as_str())
                    .is_some_and(|p| p.split('?').next() == Some(path))
                && e["response"]["status"]
                    .as_u64()
                    .is_some_and(|s| s / 100 == 2)
        })
    };
    for (method, path) in [
        ("POST", "/token"),
        ("POST", "/introspect"),
        ("POST", "/revoke"),
        ("GET", "/userinfo"),
        ("POST", "/v1/decide"),
        ("GET", "/ext_authz"),
    ] {
        assert!(
            succeeded(method, path),
            "no 2xx from {method} {path}: were the credentials refused?"
        );
    }
}
