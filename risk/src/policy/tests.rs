//! Policy tests as data: fixture policies + inputs → expected decisions and
//! reasons through one `check` helper (the example files in `policies/`
//! included), and checker cases → expected `file:line:col: message`.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::reasons::Reason;

/// Monday 2026-03-02 10:00 UTC.
const NOW: OffsetDateTime = datetime!(2026-03-02 10:00 UTC);

/// An owned description of a [`DecisionInput`].
#[derive(Debug, Clone, Default)]
struct Fx {
    client: Option<&'static str>,
    groups: Vec<String>,
    attrs: Vec<(String, String)>,
    action: Action,
    host: Option<&'static str>,
    path: Option<&'static str>,
    ip: Option<&'static str>,
    country: Option<&'static str>,
    asn: Option<u32>,
    known: bool,
    score: u8,
    reasons: Vec<&'static str>,
    acr_values: Vec<String>,
    max_age: Option<u64>,
    /// Session acr and its age in seconds.
    session: Option<(&'static str, i64)>,
    second_factor: Option<bool>,
    at: Option<OffsetDateTime>,
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn fx() -> Fx {
    Fx {
        ip: Some("203.0.113.7"),
        country: Some("DE"),
        asn: Some(64500),
        known: true,
        ..Fx::default()
    }
}

/// (name, input, expected summary, rules fired, reason codes present).
type Case = (
    &'static str,
    Fx,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// `allow`, `deny`, `deny+revoke+alert`, `step_up:phr`, `step_up:phr/900`.
fn summary(d: &Decision) -> String {
    match &d.outcome {
        Outcome::Allow => "allow".into(),
        Outcome::Deny { revoke, alert } => {
            let mut s = String::from("deny");
            if *revoke {
                s.push_str("+revoke");
            }
            if *alert {
                s.push_str("+alert");
            }
            s
        }
        Outcome::StepUp {
            required_acr,
            max_age,
        } => match max_age {
            Some(m) => format!("step_up:{required_acr}/{m}"),
            None => format!("step_up:{required_acr}"),
        },
    }
}

/// Decides `f` under `p` and compares outcome, rules fired, and that every
/// expected reason code is present.
fn check(p: &Policy, name: &str, f: &Fx, want: &str, rules: &[&str], reasons: &[&str]) {
    let risk: Vec<Reason> = f
        .reasons
        .iter()
        .map(|c| Reason {
            code: c,
            detail: format!("{c} detail"),
            value: 1.0,
            weight: 1.0,
            severity: None,
        })
        .collect();
    let now = f.at.unwrap_or(NOW);
    let input = DecisionInput {
        subject: "alice",
        client: f.client,
        groups: &f.groups,
        attributes: &f.attrs,
        action: f.action,
        host: f.host,
        path: f.path,
        ip: f.ip.map(|s| s.parse().unwrap()),
        country: f.country,
        asn: f.asn,
        device_known: f.known,
        second_factor: f.second_factor,
        score: f.score,
        reasons: &risk,
        acr_values: &f.acr_values,
        max_age: f.max_age,
        session: f.session.map(|(acr, age)| SessionState {
            acr,
            auth_time: now.unix_timestamp() - age,
        }),
    };
    let d = decide(p, &input, now);
    assert_eq!(summary(&d), want, "{name}: {d:#?}");
    assert_eq!(d.rules_fired, rules, "{name}: rules fired");
    let codes: Vec<&str> = d.reasons.iter().map(|r| r.code.as_str()).collect();
    for r in reasons {
        assert!(
            codes.contains(r),
            "{name}: reason {r} missing from {codes:?}"
        );
    }
    assert_eq!(&*d.policy_version, p.version(), "{name}");
    assert!(d.policy_version.starts_with("sha256:") && d.policy_version.len() == 71);
}

const FIXTURE: &str = r#"
lists:
  networks:
    corp: [10.0.0.0/8, "2001:db8:100::/48"]
  countries:
    embargoed: [KP, IR]
rules_before:
  - name: embargo
    when: {country: ["@embargoed"]}
    deny: true
    alert: true
  - name: corp-known-device
    when: {network: ["@corp"], device: known, max_score: 70}
    require: aal1
rules_after:
  - name: travel-deny
    when: {reasons: [impossible_travel]}
    deny: true
    revoke: true
  - name: admin-paths
    when: {action: request, host: ["*.example.com"], path: ["/admin/*"]}
    require: phrh
    max_age: 5m
  - name: vcenter-admins
    when: {client: [vcenter], group: [vcenter-admins]}
    require: phr
    max_age: 15m
    notify: [secops]
  - name: contractors
    when: {user_attribute: {employment: [contractor]}}
    require: aal2
  - name: night
    when: {time: {days: [sat, sun], hours: [22, 6], utc_offset: "+08:00"}}
    require: aal2
  - name: rp-asks-phrh
    when: {acr_values: [phrh]}
    require: phrh
  - name: abroad-gateway
    when: {action: request, not_country: [DE, "@embargoed"], not_network: ["@corp"]}
    require: aal2
"#;

fn fixture() -> Policy {
    Policy::from_yaml("fixture.yaml", FIXTURE).unwrap()
}

#[test]
#[rustfmt::skip]
fn decisions_follow_bands_rules_request_and_session() {
    let p = fixture();
    let s = |acr, age| Some((acr, age));
    let cases: Vec<Case> = vec![
        ("low score, no rule: allow", Fx { session: s("aal1", 60), ..fx() }, "allow", &[], &["risk_band"]),
        ("band edge 30 allows", Fx { score: 30, ..fx() }, "allow", &[], &[]),
        ("31 steps up to aal2", Fx { score: 31, session: s("aal1", 60), ..fx() }, "step_up:aal2", &[], &["risk_band", "session_level"]),
        ("aal2 session already satisfies the band", Fx { score: 50, session: s("aal2", 3600), ..fx() }, "allow", &[], &["session_ok"]),
        ("aal2 too old for its own max age (24 h)", Fx { score: 50, session: s("aal2", 90_000), ..fx() }, "step_up:aal2", &[], &["session_age"]),
        ("a stronger session also satisfies", Fx { score: 50, session: s("phrh", 60), ..fx() }, "allow", &[], &[]),
        ("no session at all", Fx { score: 50, ..fx() }, "step_up:aal2", &[], &["no_session"]),
        ("71 denies with revocation", Fx { score: 71, ..fx() }, "deny+revoke+alert", &[], &["risk_band"]),
        ("embargoed country before the bands", Fx { country: Some("KP"), ..fx() }, "deny+alert", &["embargo"], &["embargo"]),
        ("corporate known device loosens the band", Fx { ip: Some("10.1.2.3"), score: 60, session: s("aal1", 60), ..fx() }, "allow", &["corp-known-device"], &["corp-known-device"]),
        ("corporate IPv6", Fx { ip: Some("2001:db8:100::9"), score: 60, session: s("aal1", 60), ..fx() }, "allow", &["corp-known-device"], &[]),
        ("corporate but unknown device: band", Fx { ip: Some("10.1.2.3"), known: false, score: 60, session: s("aal1", 60), ..fx() }, "step_up:aal2", &[], &[]),
        ("corporate but deny score: band denies", Fx { ip: Some("10.1.2.3"), score: 90, ..fx() }, "deny+revoke+alert", &[], &[]),
        ("risk reason rule after the band", Fx { reasons: vec!["impossible_travel"], score: 20, ..fx() }, "deny+revoke", &["travel-deny"], &["travel-deny", "impossible_travel"]),
        ("other risk reasons do not match", Fx { reasons: vec!["new_device"], score: 20, ..fx() }, "allow", &[], &["new_device"]),
        ("gateway admin path needs phrh within 5 min", Fx { action: Action::Request, host: Some("api.example.com"), path: Some("/admin/users"), session: s("phr", 60), ..fx() }, "step_up:phrh/300", &["admin-paths"], &["admin-paths"]),
        ("gateway admin path satisfied", Fx { action: Action::Request, host: Some("api.example.com"), path: Some("/admin/users"), session: s("phrh", 60), ..fx() }, "allow", &["admin-paths"], &["session_ok"]),
        ("same path at login does not match", Fx { host: Some("api.example.com"), path: Some("/admin/users"), session: s("aal1", 60), ..fx() }, "allow", &[], &[]),
        ("vCenter admin needs phr", Fx { client: Some("vcenter"), groups: strs(&["staff", "vcenter-admins"]), session: s("aal2", 60), ..fx() }, "step_up:phr/900", &["vcenter-admins"], &["vcenter-admins"]),
        ("vCenter admin with a fresh phr session", Fx { client: Some("vcenter"), groups: strs(&["vcenter-admins"]), session: s("phr", 600), ..fx() }, "allow", &["vcenter-admins"], &[]),
        ("vCenter admin with a stale phr session", Fx { client: Some("vcenter"), groups: strs(&["vcenter-admins"]), session: s("phr", 1000), ..fx() }, "step_up:phr/900", &["vcenter-admins"], &["session_age"]),
        ("vCenter non-admin", Fx { client: Some("vcenter"), groups: strs(&["staff"]), session: s("aal1", 60), ..fx() }, "allow", &[], &[]),
        ("rule after cannot loosen a deny band", Fx { client: Some("vcenter"), groups: strs(&["vcenter-admins"]), score: 80, ..fx() }, "deny+revoke+alert", &["vcenter-admins"], &[]),
        ("user attribute", Fx { attrs: vec![("employment".into(), "contractor".into())], session: s("aal1", 60), ..fx() }, "step_up:aal2", &["contractors"], &[]),
        ("time window: Sunday 23:00 +08:00", Fx { at: Some(datetime!(2026-03-01 15:00 UTC)), session: s("aal1", 60), ..fx() }, "step_up:aal2", &["night"], &[]),
        ("time window: Sunday 09:00 +08:00", Fx { at: Some(datetime!(2026-03-01 01:00 UTC)), session: s("aal1", 60), ..fx() }, "allow", &[], &[]),
        ("RP acr_values raise the requirement", Fx { acr_values: strs(&["phr"]), session: s("aal2", 60), ..fx() }, "step_up:phr", &[], &["requested_acr"]),
        ("RP acr_values: the weakest known value is acceptable", Fx { acr_values: strs(&["phr", "aal2", "urn:unknown"]), session: s("aal2", 60), ..fx() }, "allow", &[], &[]),
        ("RP max_age alone forces re-authentication", Fx { max_age: Some(0), session: s("aal1", 60), ..fx() }, "step_up:aal1/0", &[], &["requested_max_age"]),
        ("policy stronger than RP: policy wins", Fx { client: Some("vcenter"), groups: strs(&["vcenter-admins"]), acr_values: strs(&["aal2"]), max_age: Some(3600), session: s("aal2", 60), ..fx() }, "step_up:phr/900", &["vcenter-admins"], &[]),
        ("RP stronger than policy: RP wins", Fx { score: 50, acr_values: strs(&["phr"]), max_age: Some(120), session: s("aal2", 60), ..fx() }, "step_up:phr/120", &[], &["requested_acr"]),
        ("rule on acr_values", Fx { acr_values: strs(&["phrh"]), session: s("phr", 60), ..fx() }, "step_up:phrh", &["rp-asks-phrh"], &[]),
        ("not_country: abroad at the gateway", Fx { action: Action::Request, country: Some("FR"), session: s("aal1", 60), ..fx() }, "step_up:aal2", &["abroad-gateway"], &[]),
        ("not_country: at home", Fx { action: Action::Request, session: s("aal1", 60), ..fx() }, "allow", &[], &[]),
        ("not_network: abroad but on the corporate VPN", Fx { action: Action::Request, country: Some("FR"), ip: Some("10.9.9.9"), known: false, session: s("aal1", 60), ..fx() }, "allow", &[], &[]),
        ("RP cannot loosen a deny", Fx { score: 95, acr_values: strs(&["phrh"]), session: s("phrh", 1), ..fx() }, "deny+revoke+alert", &["rp-asks-phrh"], &[]),
    ];
    for (name, f, want, rules, reasons) in &cases {
        check(&p, name, f, want, rules, reasons);
    }
}

#[test]
fn notify_and_json_follow_the_brief() {
    let p = fixture();
    let groups = strs(&["vcenter-admins"]);
    let input = DecisionInput {
        subject: "alice",
        client: Some("vcenter"),
        groups: &groups,
        score: 64,
        session: Some(SessionState {
            acr: "aal2",
            auth_time: NOW.unix_timestamp() - 60,
        }),
        ..DecisionInput::default()
    };
    let d = decide(&p, &input, NOW);
    assert_eq!(d.notify, ["secops"]);
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["decision"], "step_up");
    assert_eq!(v["required_acr"], "phr");
    assert_eq!(v["max_age"], 900);
    assert_eq!(v["score"], 64);
    assert_eq!(v["policy_version"], p.version());
    assert_eq!(v["reasons"][0]["source"], "band");
    assert_eq!(v["reasons"][1]["code"], "vcenter-admins");
}

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

#[test]
#[rustfmt::skip]
fn example_policies_load_check_clean_and_decide() {
    let dir = policies_dir();
    let default = dir.join("default.yaml");
    let builtin = Policy::builtin();
    assert_eq!(builtin.sources, [PathBuf::from("policies/default.yaml")], "the embedded default loaded");
    let vc = Policy::load(&[default.clone(), dir.join("vcenter-admins.yaml")]).unwrap();
    let corp = Policy::load(&[default.clone(), dir.join("corporate-network.yaml")]).unwrap();
    let from_disk = Policy::load(std::slice::from_ref(&default)).unwrap();
    assert_eq!(from_disk.version(), builtin.version(), "version = hash of the same bytes");
    assert_ne!(vc.version(), builtin.version());
    for extra in ["vcenter-admins.yaml", "corporate-network.yaml"] {
        let files = [default.clone(), dir.join(extra)];
        assert_eq!(check::check_files(&files), [], "{files:?}");
    }
    assert_eq!(check::check_files(std::slice::from_ref(&default)), []);
    let s = |acr, age| Some((acr, age));
    let admins = strs(&["vcenter-admins"]);
    let cases: Vec<(&Policy, Case)> = vec![
        (&builtin, ("default: 0–30 allow", Fx { score: 12, session: s("aal1", 5), ..fx() }, "allow", &[], &[])),
        (&builtin, ("default: 31–70 aal2", Fx { score: 64, session: s("aal1", 5), ..fx() }, "step_up:aal2", &[], &[])),
        (&builtin, ("default: >70 deny", Fx { score: 71, ..fx() }, "deny+revoke+alert", &[], &[])),
        (&builtin, ("default: a first login passes", Fx { score: 31, reasons: vec!["no_history"], known: false, session: s("aal1", 5), ..fx() }, "allow", &["first-login"], &["no_history"])),
        (&builtin, ("default: a first login with more wrong", Fx { score: 45, reasons: vec!["no_history", "hosting_network"], known: false, session: s("aal1", 5), ..fx() }, "step_up:aal2", &[], &["risk_band"])),
        (&builtin, ("default: device enrollment binds a factor: aal2", Fx { client: Some("tollgate-devices"), action: Action::Request, score: 50, session: s("aal1", 5), second_factor: Some(true), ..fx() }, "step_up:aal2", &["device-enrollment"], &[])),
        (&builtin, ("default: device enrollment at aal2", Fx { client: Some("tollgate-devices"), action: Action::Request, score: 50, session: s("aal2", 5), second_factor: Some(true), ..fx() }, "allow", &["device-enrollment"], &[])),
        (&builtin, ("default: a first device with the password", Fx { client: Some("tollgate-devices"), action: Action::Request, score: 50, session: s("aal1", 5), second_factor: Some(false), ..fx() }, "allow", &["device-enrollment-first-factor"], &[])),
        (&builtin, ("default: device enrollment at high risk", Fx { client: Some("tollgate-devices"), action: Action::Request, score: 80, session: s("aal1", 5), ..fx() }, "deny+revoke+alert", &[], &[])),
        (&builtin, ("default: password-only users are let in below the deny band", Fx { score: 55, session: s("aal1", 5), second_factor: Some(false), ..fx() }, "allow", &["no-second-factor"], &[])),
        (&builtin, ("default: users with a second factor step up", Fx { score: 55, session: s("aal1", 5), second_factor: Some(true), ..fx() }, "step_up:aal2", &[], &["risk_band"])),
        (&builtin, ("default: password-only users are still denied above 70", Fx { score: 80, session: s("aal1", 5), second_factor: Some(false), ..fx() }, "deny+revoke+alert", &[], &[])),
        (&corp, ("a blocked ASN is denied even for a first login (deny overrides)", Fx { asn: Some(64511), score: 31, reasons: vec!["no_history"], known: false, session: s("aal1", 5), second_factor: Some(false), ..fx() }, "deny+alert", &["deny-blocked-asns"], &[])),
        (&builtin, ("default: first-login is for logins only", Fx { action: Action::Request, score: 31, reasons: vec!["no_history"], session: s("aal1", 5), ..fx() }, "step_up:aal2", &[], &[])),
        (&vc, ("vcenter admin at low risk needs phr", Fx { client: Some("vcenter"), groups: admins.clone(), score: 3, session: s("aal2", 5), ..fx() }, "step_up:phr/900", &["vcenter-admins-need-phr"], &[])),
        (&vc, ("vcenter admin with passkey login", Fx { client: Some("vcenter"), groups: admins.clone(), score: 3, session: s("phr", 5), ..fx() }, "allow", &["vcenter-admins-need-phr"], &[])),
        (&vc, ("other client", Fx { client: Some("wiki"), groups: admins.clone(), score: 3, session: s("aal1", 5), ..fx() }, "allow", &[], &[])),
        (&corp, ("blocked ASN from file", Fx { asn: Some(64496), ..fx() }, "deny+alert", &["deny-blocked-asns"], &[])),
        (&corp, ("blocked ASN 64511", Fx { asn: Some(64511), score: 0, ..fx() }, "deny+alert", &["deny-blocked-asns"], &[])),
        (&corp, ("corporate + known device at medium risk: aal1", Fx { ip: Some("10.20.30.40"), score: 55, session: s("aal1", 5), ..fx() }, "allow", &["corporate-known-device"], &[])),
        (&corp, ("corporate + unknown device: band", Fx { ip: Some("10.20.30.40"), known: false, score: 55, session: s("aal1", 5), ..fx() }, "step_up:aal2", &[], &[])),
        (&corp, ("outside: band", Fx { score: 55, session: s("aal1", 5), ..fx() }, "step_up:aal2", &[], &[])),
    ];
    for (p, (name, f, want, rules, reasons)) in &cases {
        check(p, name, f, want, rules, reasons);
    }
}

#[test]
fn the_ladder_follows_nist_and_the_brief() {
    use FactorKind::*;
    let p = Policy::builtin();
    let cases: &[(&[FactorKind], Option<&str>)] = &[
        (&[], None),
        (&[Pwd], Some("aal1")),
        (&[Otp], Some("aal1")),
        (&[Pwd, Otp], Some("aal2")),
        (&[PasskeySynced], Some("phr")),
        (&[PasskeyBound], Some("phrh")),
        (&[Pwd, PasskeySynced], Some("phr")),
        (&[DeviceHw], Some("phrh")),
        (&[DeviceSw], Some("phr")),
    ];
    for (factors, want) in cases {
        assert_eq!(p.ladder.acr_for(factors), *want, "{factors:?}");
    }
    let ages: Vec<u64> = p.ladder.levels.iter().map(|l| l.max_age).collect();
    assert_eq!(ages, [30 * 86_400, 86_400, 43_200, 43_200]);
    assert_eq!(
        (p.thresholds().allow_max, p.thresholds().step_up_max),
        (30, 70)
    );
}

#[test]
fn several_files_merge_and_conflicts_are_reported() {
    let a = (PathBuf::from("a.yaml"), "bands:\n  - {up_to: 100, allow: true}\nrules_after:\n  - {name: r1, when: {client: [x]}, deny: true}\n".to_owned());
    let b = (
        PathBuf::from("b.yaml"),
        "rules_after:\n  - {name: r2, when: {client: [y]}, deny: true}\n".to_owned(),
    );
    let c = (
        PathBuf::from("c.yaml"),
        "\nbands:\n  - {up_to: 100, deny: true}\n".to_owned(),
    );
    let none = |_: &Path| -> std::io::Result<Vec<u8>> { Ok(Vec::new()) };
    let p = Policy::from_sources(&[a.clone(), b.clone()], &none).unwrap();
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r1", "r2"]);
    let swapped = Policy::from_sources(&[b.clone(), a.clone()], &none).unwrap();
    assert_ne!(
        p.version(),
        swapped.version(),
        "load order is part of the version"
    );
    let err = Policy::from_sources(&[a, c], &none)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("c.yaml:2:1: error: `bands` is already set in a.yaml"),
        "{err}"
    );
}

#[test]
fn schema_describes_the_format() {
    let s: serde_json::Value = serde_json::from_str(&schema()).unwrap();
    let props = s["properties"].as_object().unwrap();
    for key in [
        "levels",
        "bands",
        "risk",
        "lists",
        "rules_before",
        "rules_after",
    ] {
        assert!(props.contains_key(key), "{key}");
    }
    assert_eq!(s["additionalProperties"], false);
    let text = schema();
    for word in [
        "passkey_bound",
        "device_hw",
        "acr_values",
        "utc_offset",
        "Duration",
    ] {
        assert!(text.contains(word), "{word}");
    }
}
