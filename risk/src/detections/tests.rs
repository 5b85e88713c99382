//! Detections as data: crafted event sequences through the real
//! [`Engine`] (model, features, counters, history), each expecting the
//! severity of one detection on the last event (or its absence), and the
//! decision it leads to. Then policy rules naming detections, fired by the
//! same real scores rather than by reasons injected by hand.

use std::path::Path;

use time::OffsetDateTime;

use crate::geo::mmdb_writer::{MmdbValue, MmdbWriter};
use crate::policy::{DecisionInput, Outcome, Policy, decide};
use crate::reasons::Severity;
use crate::signals::BrowserSignals;
use crate::{Assessment, Decision, Engine, Geo, LoginEvent, MemoryHistory, MemoryVelocity};
use crate::{Model, Scorer, Thresholds};

/// (network /24, country, city, ASN, organisation, lat, lon, accuracy km).
type Net = (
    &'static str,
    &'static str,
    &'static str,
    u32,
    &'static str,
    f64,
    f64,
    u16,
);

const NETS: [Net; 9] = [
    (
        "203.0.113.0",
        "CN",
        "Beijing",
        64501,
        "Example Backbone",
        39.90,
        116.40,
        20,
    ),
    (
        "198.51.100.0",
        "DE",
        "Frankfurt",
        64500,
        "Example Telekom",
        50.11,
        8.68,
        20,
    ),
    (
        "192.0.2.0",
        "DE",
        "Berlin",
        64502,
        "Example Cable",
        52.52,
        13.40,
        20,
    ),
    (
        "100.64.0.0",
        "US",
        "Ashburn",
        64510,
        "Example Cloud Hosting",
        39.04,
        -77.49,
        20,
    ),
    (
        "100.64.1.0",
        "NL",
        "Amsterdam",
        64511,
        "Example VPN",
        52.37,
        4.90,
        20,
    ),
    // One national broadband operator, precisely located lines 3,000 km apart.
    (
        "10.1.0.0",
        "CN",
        "Harbin",
        64520,
        "Example National Broadband",
        45.80,
        126.53,
        10,
    ),
    (
        "10.1.1.0",
        "CN",
        "Kunming",
        64520,
        "Example National Broadband",
        24.88,
        102.83,
        10,
    ),
    // One carrier's CGNAT pools, registered in two hubs, coarsely located.
    (
        "10.2.0.0",
        "CN",
        "Beijing",
        64530,
        "Example Mobile",
        39.90,
        116.40,
        500,
    ),
    (
        "10.2.1.0",
        "CN",
        "Shanghai",
        64530,
        "Example Mobile",
        31.23,
        121.47,
        500,
    ),
];

const CN: &str = "203.0.113.9";
const FRA: &str = "198.51.100.7";
const BER: &str = "192.0.2.";
const HOSTING: &str = "100.64.0.7";
const HARBIN: &str = "10.1.0.9";
const KUNMING: &str = "10.1.1.9";
const MOBILE_BJ: &str = "10.2.0.";
const MOBILE_SH: &str = "10.2.1.";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const CHROME_NEXT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0 Safari/537.36";
const FIREFOX_WIN: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";

/// Monday 2026-03-02 08:00 UTC.
const T0: i64 = 1_772_438_400;

fn geo() -> Geo {
    let mut city = MmdbWriter::new("GeoLite2-City", "detections test");
    let mut asn = MmdbWriter::new("GeoLite2-ASN", "detections test");
    for (net, cc, name, number, org, lat, lon, accuracy) in NETS {
        let ip = net.parse().unwrap();
        let rec = MmdbValue::map([
            (
                "country",
                MmdbValue::map([("iso_code", MmdbValue::Str(cc.into()))]),
            ),
            (
                "city",
                MmdbValue::map([(
                    "names",
                    MmdbValue::map([("en", MmdbValue::Str(name.into()))]),
                )]),
            ),
            (
                "location",
                MmdbValue::map([
                    ("accuracy_radius", MmdbValue::U16(accuracy)),
                    ("latitude", MmdbValue::F64(lat)),
                    ("longitude", MmdbValue::F64(lon)),
                ]),
            ),
        ]);
        city.insert(ip, 24, &rec).unwrap();
        let rec = MmdbValue::map([
            ("autonomous_system_number", MmdbValue::U32(number)),
            ("autonomous_system_organization", MmdbValue::Str(org.into())),
        ]);
        asn.insert(ip, 24, &rec).unwrap();
    }
    Geo::from_sources(
        Path::new("city"),
        city.to_bytes(0),
        Path::new("asn"),
        asn.to_bytes(0),
    )
    .unwrap()
}

/// One attempt: minutes after T0, user, address, user agent, device id,
/// first factor succeeded.
#[derive(Clone, Copy)]
struct Ev(
    i64,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
);

fn event(e: &Ev, ip: String) -> LoginEvent {
    LoginEvent {
        ts: OffsetDateTime::from_unix_timestamp(T0 + e.0 * 60).unwrap(),
        user: e.1.to_owned(),
        ip: ip.parse().unwrap(),
        user_agent: e.3.to_owned(),
        device_id: e.4.map(str::to_owned),
        success: e.5,
        label: None,
        attack_kind: None,
        client: None,
        rtt_ms: None,
        signals: Default::default(),
    }
}

/// Expands an address ending in `.` with a per-event host number, so one
/// row stands for attempts from many addresses of a network.
fn addr(base: &str, k: usize) -> String {
    if base.ends_with('.') {
        format!("{base}{}", 10 + k)
    } else {
        base.to_owned()
    }
}

/// Replays `events` (every success admitted: the histories of real users)
/// and returns the assessment of the last one.
fn replay(events: &[Ev], t: Thresholds) -> Assessment {
    let lists = t.network_lists(Path::new(".")).unwrap();
    let scorer = Scorer::new(Model::builtin(), t, lists, geo()).unwrap();
    let mut engine = Engine::new(scorer, MemoryHistory::default(), MemoryVelocity::default());
    let mut last = None;
    for (k, e) in events.iter().enumerate() {
        let ev = event(e, addr(e.2, k));
        last = Some(engine.step(&ev, ev.ts, |_| true));
    }
    last.unwrap()
}

/// `n` copies of `e`, a day apart (habits).
fn days(n: i64, e: Ev) -> Vec<Ev> {
    (0..n).map(|d| moved(e, e.0 - (n - d) * 1440)).collect()
}

/// `e` at `minutes` after T0.
fn moved(e: Ev, minutes: i64) -> Ev {
    Ev(minutes, e.1, e.2, e.3, e.4, e.5)
}

fn severity_of(a: &Assessment, code: &str) -> Option<Severity> {
    a.reasons
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.severity.unwrap_or(Severity::Low))
}

/// A row: name, events, the detection's expected severity, the decision
/// (`None`: not a deny).
type Row = (&'static str, Vec<Ev>, Option<Severity>, Option<Decision>);

/// A row with its own thresholds.
type TRow = (
    &'static str,
    Vec<Ev>,
    Thresholds,
    Option<Severity>,
    Option<Decision>,
);

/// `decision`: exactly this one, or `None` for "not a deny" (the
/// calibrator chooses between allow and step-up).
fn check(
    name: &str,
    events: Vec<Ev>,
    t: Thresholds,
    code: &str,
    want: Option<Severity>,
    decision: Option<Decision>,
) {
    let a = replay(&events, t);
    let codes: Vec<String> = a
        .reasons
        .iter()
        .map(|r| format!("{}={:?}: {}", r.code, r.severity, r.detail))
        .collect();
    assert_eq!(severity_of(&a, code), want, "{name}: {code} in {codes:#?}");
    match decision {
        Some(d) => assert_eq!(a.decision, d, "{name}: score {} {codes:#?}", a.score),
        None => assert_ne!(a.decision, Decision::Deny, "{name}: {codes:#?}"),
    }
}

fn with(mut v: Vec<Ev>, more: &[Ev]) -> Vec<Ev> {
    v.extend_from_slice(more);
    v
}

fn corporate() -> Thresholds {
    Thresholds {
        corporate_egress: vec!["198.51.100.0/24".into()],
        ..Thresholds::default()
    }
}

#[test]
fn impossible_travel_with_and_without_the_users_device() {
    use Decision::*;
    use Severity::*;
    let d1 = Some("d1");
    let cn = |m, dev| Ev(m, "alice", CN, CHROME, dev, true);
    let fra = |m, dev| Ev(m, "alice", FRA, CHROME, dev, true);
    let cases: Vec<TRow> = vec![
        (
            "Beijing, then Frankfurt 30 min later with the same cookie",
            with(days(5, cn(0, d1)), &[cn(0, d1), fra(30, d1)]),
            Thresholds::default(),
            Some(High),
            Some(StepUp),
        ),
        (
            "the same without a cookie",
            with(days(5, cn(0, None)), &[cn(0, None), fra(30, None)]),
            Thresholds::default(),
            Some(Medium),
            Some(StepUp),
        ),
        (
            "a new cookie from Frankfurt",
            with(days(5, cn(0, d1)), &[cn(0, d1), fra(30, Some("d9"))]),
            Thresholds::default(),
            Some(Medium),
            Some(StepUp),
        ),
        (
            "a day later is a trip, not impossible",
            with(days(5, cn(0, d1)), &[cn(0, d1), fra(24 * 60, d1)]),
            Thresholds::default(),
            None,
            Some(StepUp), // still a new country
        ),
        (
            "back on a network the user already uses (VPN off)",
            with(
                with(days(5, fra(0, d1)), &days(3, cn(0, d1))),
                &[cn(0, d1), fra(30, d1)],
            ),
            Thresholds::default(),
            None,
            None,
        ),
        (
            "the same national operator, a line 3,000 km away 30 min later with the same cookie",
            with(
                days(5, Ev(0, "alice", HARBIN, CHROME, d1, true)),
                &[
                    Ev(0, "alice", HARBIN, CHROME, d1, true),
                    Ev(30, "alice", KUNMING, CHROME, d1, true),
                ],
            ),
            Thresholds::default(),
            Some(High),
            Some(StepUp),
        ),
        (
            "a roaming phone: the user's carrier, another coarsely located pool",
            with(
                with(
                    days(5, Ev(0, "alice", MOBILE_BJ, PHONE, d1, true)),
                    &days(2, Ev(0, "alice", FRA, PHONE, d1, true)),
                ),
                &[
                    Ev(0, "alice", FRA, PHONE, d1, true),
                    Ev(30, "alice", MOBILE_SH, PHONE, d1, true),
                ],
            ),
            Thresholds::default(),
            None,
            None,
        ),
        (
            "a desktop's cookie on the user's carrier, a pool far from where it just logged in",
            with(
                with(
                    days(5, Ev(0, "alice", MOBILE_BJ, PHONE, Some("p1"), true)),
                    &days(2, fra(0, d1)),
                ),
                &[fra(0, d1), Ev(30, "alice", MOBILE_SH, CHROME, d1, true)],
            ),
            Thresholds::default(),
            Some(High),
            Some(StepUp),
        ),
        (
            "the organisation's egress is never travel",
            with(days(5, cn(0, d1)), &[cn(0, d1), fra(30, d1)]),
            corporate(),
            None,
            None,
        ),
        (
            "a higher policy limit",
            with(days(5, cn(0, d1)), &[cn(0, d1), fra(24 * 60, d1)]),
            Thresholds {
                impossible_travel_kmh: 100.0,
                ..Thresholds::default()
            },
            Some(High),
            Some(StepUp),
        ),
    ];
    for (name, events, t, want, decision) in cases {
        check(name, events, t, "impossible_travel", want, decision);
    }
}

#[test]
fn device_mismatch_is_judged_per_device() {
    use Decision::*;
    use Severity::*;
    let at = |m, ua, dev| Ev(m, "bob", FRA, ua, Some(dev), true);
    // Bob has two browsers with their own cookies: Chrome on Linux (d1)
    // and Firefox on Windows (d2).
    let habits = with(
        days(6, at(0, CHROME, "d1")),
        &days(6, at(1, FIREFOX_WIN, "d2")),
    );
    let cases: Vec<Row> = vec![
        (
            "d1's cookie replayed from bob's other browser",
            with(habits.clone(), &[at(5, FIREFOX_WIN, "d1")]),
            Some(High),
            Some(StepUp),
        ),
        (
            "d1 after a browser update",
            with(habits.clone(), &[at(5, CHROME_NEXT, "d1")]),
            None,
            None,
        ),
        (
            "d2 as always",
            with(habits.clone(), &[at(5, FIREFOX_WIN, "d2")]),
            None,
            None,
        ),
        (
            "a stolen d1 used from Beijing in another browser: two families, deny",
            with(
                habits.clone(),
                &[Ev(5, "bob", CN, FIREFOX_WIN, Some("d1"), true)],
            ),
            Some(High),
            Some(Deny),
        ),
    ];
    for (name, events, want, decision) in cases {
        check(
            name,
            events,
            Thresholds::default(),
            "device_mismatch",
            want,
            decision,
        );
    }
}

/// Like [`replay`], with browser signals on each event.
fn replay_signed(events: &[(Ev, BrowserSignals)]) -> Assessment {
    let t = Thresholds::default();
    let lists = t.network_lists(Path::new(".")).unwrap();
    let scorer = Scorer::new(Model::builtin(), t, lists, geo()).unwrap();
    let mut engine = Engine::new(scorer, MemoryHistory::default(), MemoryVelocity::default());
    let mut last = None;
    for (k, (e, sig)) in events.iter().enumerate() {
        let mut ev = event(e, addr(e.2, k));
        ev.signals = sig.clone();
        last = Some(engine.step(&ev, ev.ts, |_| true));
    }
    last.unwrap()
}

fn signals(brands: Option<&str>, platform: &str, lang: &str, tz: i16) -> BrowserSignals {
    BrowserSignals {
        client_hints: brands.map(|b| {
            std::collections::BTreeMap::from([
                ("Sec-CH-UA".to_owned(), b.into()),
                (
                    "Sec-CH-UA-Platform".to_owned(),
                    format!("\"{platform}\"").into(),
                ),
                ("Sec-CH-UA-Mobile".to_owned(), "?0".into()),
            ])
        }),
        accept_language: Some(lang.to_owned()),
        tz_offset_min: Some(tz),
    }
}

#[test]
fn device_mismatch_compares_the_browser_signals_of_the_device() {
    use Severity::*;
    const C131: &str = r#""Chromium";v="131", "Not_A Brand";v="24""#;
    const C132: &str = r#""Not A(Brand";v="8", "Chromium";v="132""#;
    let home = signals(Some(C131), "Linux", "zh-CN,zh;q=0.9", 480);
    let at = |m| Ev(m, "bob", FRA, CHROME, Some("d1"), true);
    // Bob signs in with one Chromium (cookie d1) every day.
    let habits = |sig: &BrowserSignals| -> Vec<(Ev, BrowserSignals)> {
        days(6, at(0))
            .into_iter()
            .map(|e| (e, sig.clone()))
            .collect()
    };
    let then = |mut v: Vec<(Ev, BrowserSignals)>, sig: BrowserSignals| {
        v.push((at(5), sig));
        v
    };
    type Case = (&'static str, Vec<(Ev, BrowserSignals)>, Option<Severity>);
    let cases: Vec<Case> = vec![
        ("as always", then(habits(&home), home.clone()), None),
        (
            "after a browser update (new versions, new GREASE brand)",
            then(habits(&home), signals(Some(C132), "Linux", "zh-CN,zh", 480)),
            None,
        ),
        (
            "on a trip: another time zone",
            then(habits(&home), signals(Some(C131), "Linux", "zh-CN,zh", 60)),
            None,
        ),
        (
            "d1 and the exact UA replayed from a browser set to German",
            then(habits(&home), signals(Some(C131), "Linux", "de-DE,de", 60)),
            Some(High),
        ),
        (
            "d1 and the exact UA replayed by a script without client hints",
            then(habits(&home), signals(None, "", "zh-CN,zh;q=0.9", 480)),
            Some(High),
        ),
        (
            "d1 replayed without any Accept-Language",
            then(habits(&home), signals(Some(C131), "Linux", "", 480)),
            Some(High),
        ),
        (
            "an event without signals (a trace that never had them)",
            then(habits(&home), BrowserSignals::default()),
            None,
        ),
        (
            "a device from before signals were recorded",
            then(habits(&BrowserSignals::default()), home.clone()),
            None,
        ),
    ];
    for (name, events, want) in cases {
        let a = replay_signed(&events);
        let found = a.reasons.iter().find(|r| r.code == "device_mismatch");
        assert_eq!(
            found.map(|r| r.severity.unwrap_or(Low)),
            want,
            "{name}: {:#?}",
            a.reasons
        );
        if let Some(r) = found {
            // The text names what the device sent now.
            let now = &events.last().unwrap().1;
            let lang = now.accept_language.as_deref().unwrap_or("");
            let lang = lang.split(',').next().unwrap().to_ascii_lowercase();
            assert!(
                r.detail.contains(&lang) || r.detail.contains("no Accept-Language"),
                "{name}: {}",
                r.detail
            );
            assert_ne!(a.decision, Decision::Allow, "{name}");
        }
    }
}

#[test]
fn account_attack_counts_failures_from_rotating_addresses() {
    use Decision::*;
    use Severity::*;
    let habits = days(8, Ev(0, "carol", FRA, CHROME, Some("d1"), true));
    let fails = |n: usize, ip: &'static str| -> Vec<Ev> {
        (0..n)
            .map(|k| Ev(k as i64, "carol", ip, FIREFOX_WIN, None, false))
            .collect()
    };
    let success = Ev(40, "carol", "192.0.2.200", FIREFOX_WIN, None, true);
    let cases: Vec<Row> = vec![
        (
            "8 failures from 8 addresses, then a success",
            with(with(habits.clone(), &fails(8, BER)), &[success]),
            Some(High),
            Some(StepUp),
        ),
        (
            "25 failures from rotating addresses: critical",
            with(with(habits.clone(), &fails(25, BER)), &[success]),
            Some(Critical),
            Some(Deny),
        ),
        (
            "the user mistyping 6 times at home",
            with(
                with(habits.clone(), &fails(6, FRA)),
                &[Ev(40, "carol", FRA, CHROME, Some("d1"), true)],
            ),
            None,
            None,
        ),
        (
            "failures over an hour ago",
            with(with(habits.clone(), &fails(8, BER)), &[moved(success, 200)]),
            None,
            None,
        ),
    ];
    for (name, events, want, decision) in cases {
        check(
            name,
            events,
            Thresholds::default(),
            "account_attack",
            want,
            decision,
        );
    }
}

#[test]
fn network_detections() {
    use Decision::*;
    use Severity::*;
    let home = days(8, Ev(0, "dave", FRA, CHROME, Some("d1"), true));
    let stuffing: Vec<Ev> = ["u1", "u2", "u3", "u4", "u5", "u6"]
        .iter()
        .enumerate()
        .map(|(k, u)| Ev(k as i64, u, HOSTING, CHROME, None, false))
        .collect();
    type Row = (
        &'static str,
        Vec<Ev>,
        &'static str,
        Option<Severity>,
        Option<Decision>,
    );
    let cases: Vec<Row> = vec![
        (
            "a success from an address that failed for 6 accounts",
            with(
                with(home.clone(), &stuffing),
                &[Ev(10, "dave", HOSTING, CHROME, Some("d1"), true)],
            ),
            "stuffing_source",
            Some(High),
            Some(Deny), // and a hosting network in a new country: two families
        ),
        (
            "first login from China",
            with(
                home.clone(),
                &[Ev(10, "dave", "203.0.113.50", CHROME, Some("d1"), true)],
            ),
            "new_country",
            Some(Medium),
            Some(StepUp),
        ),
        (
            "a hosting network in a new country is never cancelled by the device",
            with(
                home.clone(),
                &[Ev(10, "dave", HOSTING, CHROME, Some("d1"), true)],
            ),
            "hosting_network",
            Some(Medium),
            Some(StepUp),
        ),
        (
            "a VPN in a new country",
            with(
                home.clone(),
                &[Ev(10, "dave", "100.64.1.9", CHROME, Some("d1"), true)],
            ),
            "anonymizer",
            Some(Medium),
            Some(StepUp),
        ),
        (
            "another network at home",
            with(
                home.clone(),
                &[Ev(10, "dave", "192.0.2.77", CHROME, Some("d1"), true)],
            ),
            "new_asn",
            Some(Low),
            None,
        ),
        (
            "a new device on the usual network: never a deny",
            with(
                home.clone(),
                &[Ev(10, "dave", FRA, FIREFOX_WIN, Some("d7"), true)],
            ),
            "new_device",
            Some(Low),
            None,
        ),
        (
            "the usual login",
            with(
                home.clone(),
                &[Ev(10, "dave", FRA, CHROME, Some("d1"), true)],
            ),
            "new_device",
            None,
            None,
        ),
    ];
    for (name, events, code, want, decision) in cases {
        check(name, events, Thresholds::default(), code, want, decision);
    }
}

#[test]
fn severities_map_into_the_bands() {
    use super::{Family, Verdict};
    use crate::reasons::Reason;
    let r = |s| Reason {
        code: "x",
        detail: String::new(),
        value: 0.0,
        weight: 0.0,
        severity: Some(s),
    };
    let t = Thresholds::default();
    use Family::*;
    use Severity::*;
    // (detections, calibrator score, expected score)
    type Case = (Vec<(Family, Reason)>, u8, u8);
    let cases: Vec<Case> = vec![
        (vec![], 5, 5),
        (vec![], 95, 70), // no detection of deny grade: at most step-up
        (vec![(Device, r(Low))], 95, 70),
        (vec![(Location, r(Medium))], 5, 50),
        (vec![(Location, r(High))], 5, 70),
        (vec![(Location, r(High)), (Location, r(Medium))], 5, 70),
        (vec![(Location, r(Medium)), (Device, r(Medium))], 5, 71),
        (vec![(Account, r(Critical))], 5, 71),
        (vec![(Account, r(Critical))], 99, 99),
    ];
    for (found, score, want) in cases {
        let v = Verdict::of(&found);
        assert_eq!(v.apply(score, &t), want, "{found:?} at {score}");
    }
}

/// The policy's decision on a real assessment, for a user with a second
/// factor on a known device.
fn decided(
    policy: &Policy,
    a: &Assessment,
    subject: &str,
    action: crate::policy::Action,
    path: Option<&str>,
    at: OffsetDateTime,
) -> crate::policy::Decision {
    let input = DecisionInput {
        subject,
        client: None,
        groups: &[],
        attributes: &[],
        action,
        host: None,
        path,
        ip: None,
        country: None,
        asn: None,
        device_known: true,
        second_factor: Some(true),
        score: a.score,
        reasons: &a.reasons,
        acr_values: &[],
        max_age: None,
        session: None,
    };
    decide(policy, &input, at)
}

/// `allow`, `deny`, `deny+revoke` or `step_up:<acr>`.
fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Allow => "allow".to_owned(),
        Outcome::Deny { revoke: true, .. } => "deny+revoke".to_owned(),
        Outcome::Deny { .. } => "deny".to_owned(),
        Outcome::StepUp { required_acr, .. } => format!("step_up:{required_acr}"),
    }
}

/// Policy rules that name detections, decided on the real scores of
/// crafted sequences (no reason injected by hand).
#[test]
fn policy_rules_fire_on_real_detections() {
    let rules = r#"
levels:
  - {name: aal1, factors: [[pwd]], max_age: 30d}
  - {name: aal2, factors: [[pwd, otp], [passkey_synced]], max_age: 24h}
  - {name: phr, factors: [[passkey_synced]], max_age: 12h}
bands:
  - {up_to: 30, allow: true}
  - {up_to: 70, require: aal2}
  - {up_to: 100, deny: true}
rules_before:
  - name: travel-denied
    when: {action: login, reasons: [impossible_travel]}
    deny: true
  - name: attacked-accounts-need-a-passkey
    when: {action: login, min_severity: high}
    require: phr
"#;
    let policy = Policy::from_yaml("rules.yaml", rules).unwrap();
    let d1 = Some("d1");
    let travel = with(
        days(5, Ev(0, "alice", CN, CHROME, d1, true)),
        &[
            Ev(0, "alice", CN, CHROME, d1, true),
            Ev(30, "alice", FRA, CHROME, d1, true),
        ],
    );
    let attack = with(
        with(
            days(8, Ev(0, "carol", FRA, CHROME, d1, true)),
            &(0..8)
                .map(|k| Ev(k, "carol", BER, FIREFOX_WIN, None, false))
                .collect::<Vec<_>>(),
        ),
        &[Ev(40, "carol", "192.0.2.200", FIREFOX_WIN, None, true)],
    );
    let usual = days(5, Ev(0, "erin", FRA, CHROME, d1, true));
    let usual = with(usual, &[Ev(30, "erin", FRA, CHROME, d1, true)]);
    let cases = [
        (travel, "deny", "travel-denied"),
        (attack, "step_up:phr", "attacked-accounts-need-a-passkey"),
        (usual, "allow", "band"),
    ];
    for (events, want, rule) in cases {
        let a = replay(&events, policy.thresholds().clone());
        let at = OffsetDateTime::from_unix_timestamp(T0).unwrap();
        let d = decided(
            &policy,
            &a,
            events[0].1,
            crate::policy::Action::Login,
            None,
            at,
        );
        let got = outcome(&d.outcome);
        assert_eq!(got, want, "{rule}: {d:#?}");
        if rule != "band" {
            assert_eq!(d.rules_fired, [rule], "{d:#?}");
        } else {
            assert!(d.rules_fired.is_empty(), "{d:#?}");
        }
    }
}

/// Logins (each admitted), then one gateway request to a sensitive route
/// at `request` from the session's context, with `earlier` sensitive
/// requests (seconds after T0) already in the user's counter.
fn sensitive_request(logins: &[Ev], request: Ev, earlier: &[i64], t: Thresholds) -> Assessment {
    use crate::HistoryStore;
    use crate::VelocityStore;
    let lists = t.network_lists(Path::new(".")).unwrap();
    let scorer = Scorer::new(Model::builtin(), t, lists, geo()).unwrap();
    let mut engine = Engine::new(scorer, MemoryHistory::default(), MemoryVelocity::default());
    for (k, e) in logins.iter().enumerate() {
        let ev = event(e, addr(e.2, k));
        engine.step(&ev, ev.ts, |_| true);
    }
    let mut counter = crate::sensitive::BurstCounter::default();
    for &s in earlier {
        counter.record(T0 + s);
    }
    let ev = event(&request, request.2.to_owned());
    let mut p = engine.scorer.prepare(&ev);
    p.burst = Some(counter.snapshot(ev.unix()));
    let snap = engine.velocity.snapshot(&p.vkeys, ev.unix());
    let h = engine.history.load(&ev.user);
    engine
        .scorer
        .assess(&p, h.as_ref(), &snap, &engine.globals, ev.ts)
}

/// Exports in the 10:00 UTC hour on each of the four days before T0, four
/// a time: the user's habit.
fn export_habit() -> Vec<i64> {
    (1..=4)
        .rev()
        .flat_map(|d| (0..4).map(move |k| -d * 86_400 + 2 * 3600 + k * 60))
        .collect()
}

/// `n` requests a minute apart, the last one a minute before `minute`.
fn burst_before(minute: i64, n: i64) -> Vec<i64> {
    (0..n).map(|k| minute * 60 - (n - k) * 60).collect()
}

fn sensitive_thresholds() -> Thresholds {
    Thresholds {
        sensitive: crate::sensitive::SensitiveRoutes {
            paths: vec!["/api/export*".into()],
            per_hour: 100,
            office_hours: Some(crate::sensitive::OfficeHours {
                from: 8,
                to: 19,
                utc_offset_minutes: 0,
            }),
            ..crate::sensitive::SensitiveRoutes::default()
        },
        ..Thresholds::default()
    }
}

/// The white paper's pattern: high-frequency export, off-hours, a rarely
/// active account; each makes `sensitive_burst` one step stronger.
#[test]
fn sensitive_burst_against_the_users_habit_and_the_policy_limit() {
    use Decision::*;
    use Severity::*;
    let d1 = Some("d1");
    let regular = days(12, Ev(0, "erin", FRA, CHROME, d1, true));
    let rare = days(3, Ev(0, "rita", FRA, CHROME, d1, true));
    let habit = export_habit();
    // 10:30 on Monday (working hours) and 22:30 (off-hours), UTC.
    let (work, night) = (150, 870);
    let erin = |m| Ev(m, "erin", FRA, CHROME, d1, true);
    let rita = |m| Ev(m, "rita", FRA, CHROME, d1, true);
    type Case = (
        &'static str,
        Vec<Ev>,
        Ev,
        Vec<i64>,
        Option<Severity>,
        Decision,
    );
    let cases: Vec<Case> = vec![
        (
            "the usual few exports at work",
            regular.clone(),
            erin(work),
            [habit.clone(), burst_before(work, 3)].concat(),
            None,
            Allow,
        ),
        (
            "30 exports within the hour, 7.5 times the habit, at work",
            regular.clone(),
            erin(work),
            [habit.clone(), burst_before(work, 29)].concat(),
            Some(Medium),
            StepUp,
        ),
        (
            "the same burst off-hours",
            regular.clone(),
            erin(night),
            [habit.clone(), burst_before(night, 29)].concat(),
            Some(High),
            StepUp,
        ),
        (
            "the same burst off-hours from a rarely active account",
            rare.clone(),
            rita(night),
            [habit.clone(), burst_before(night, 29)].concat(),
            Some(Critical),
            Deny,
        ),
        (
            "a heavy user with no habit yet, under the policy's limit",
            regular.clone(),
            erin(work),
            burst_before(work, 50),
            None,
            Allow,
        ),
        (
            "over the policy's limit without a habit",
            regular.clone(),
            erin(work),
            burst_before(work, 120)
                .into_iter()
                .map(|s| work * 60 - (work * 60 - s) / 3)
                .collect(),
            Some(Medium),
            StepUp,
        ),
        (
            "a burst that ended over an hour ago",
            regular.clone(),
            erin(work + 120),
            [habit.clone(), burst_before(work, 29)].concat(),
            None,
            Allow,
        ),
    ];
    for (name, logins, request, earlier, want, decision) in cases {
        let a = sensitive_request(&logins, request, &earlier, sensitive_thresholds());
        let codes: Vec<String> = a
            .reasons
            .iter()
            .map(|r| format!("{}={:?}: {}", r.code, r.severity, r.detail))
            .collect();
        assert_eq!(
            severity_of(&a, "sensitive_burst"),
            want,
            "{name}: {codes:#?}"
        );
        assert_eq!(a.decision, decision, "{name}: score {} {codes:#?}", a.score);
    }
}

/// A policy answering bursts by name: a strong one denies and revokes the
/// session, a medium one gets the band's step-up; through the real scorer.
#[test]
fn policy_rules_answer_sensitive_bursts() {
    let rules = r#"
levels:
  - {name: aal1, factors: [[pwd]], max_age: 30d}
  - {name: aal2, factors: [[pwd, otp], [passkey_synced]], max_age: 24h}
bands:
  - {up_to: 30, allow: true}
  - {up_to: 70, require: aal2}
  - {up_to: 100, deny: true}
risk:
  sensitive:
    paths: [/api/export*]
    office_hours: {from: 8, to: 19}
rules_before:
  - name: export-burst-off-hours
    when: {action: request, reasons: [sensitive_burst], min_severity: high}
    deny: true
    revoke: true
"#;
    let policy = Policy::from_yaml("rules.yaml", rules).unwrap();
    let d1 = Some("d1");
    let logins = days(12, Ev(0, "erin", FRA, CHROME, d1, true));
    let habit = export_habit();
    let (work, night) = (150, 870);
    let cases = [
        ("burst at work", work, "step_up:aal2", None),
        (
            "burst at night",
            night,
            "deny+revoke",
            Some("export-burst-off-hours"),
        ),
    ];
    for (name, minute, want, rule) in cases {
        let earlier = [habit.clone(), burst_before(minute, 29)].concat();
        let request = Ev(minute, "erin", FRA, CHROME, d1, true);
        let a = sensitive_request(&logins, request, &earlier, policy.thresholds().clone());
        let at = OffsetDateTime::from_unix_timestamp(T0 + minute * 60).unwrap();
        let path = Some("/api/export/users.csv");
        let d = decided(
            &policy,
            &a,
            "erin",
            crate::policy::Action::Request,
            path,
            at,
        );
        let got = outcome(&d.outcome);
        assert_eq!(got, want, "{name}: {d:#?}");
        let fired: Vec<&str> = d.rules_fired.iter().map(String::as_str).collect();
        assert_eq!(
            fired,
            rule.into_iter().collect::<Vec<_>>(),
            "{name}: {d:#?}"
        );
    }
}
