//! Feature extraction: one login + the user's history + counters → the
//! calibrator's input vector.
//!
//! [`prepare`] does the per-event work that needs no state (geo lookup, UA
//! parse, hashing); [`extract`] combines it with state. Both are pure.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::event::LoginEvent;
use crate::geo::{Geo, GeoInfo, NetworkLists};
use crate::global::GlobalFrequencies;
use crate::hashing::{Level, hash};
use crate::history::{LastLogin, LevelKeys, UserHistory};
use crate::model::{Model, backoff_llr};
use crate::thresholds::Thresholds;
use crate::travel::{Fix, Travel, travel};
use crate::ua::{DeviceType, UserAgent};
use crate::velocity::{VelocityKeys, VelocitySnapshot};

pub use crate::schema::{FEATURES, NUM_FEATURES, idx};

const NET_LEVELS: [Level; 4] = [Level::Ip, Level::Prefix, Level::Asn, Level::Country];
const UA_LEVELS: [Level; 5] = [
    Level::UserAgent,
    Level::BrowserVersion,
    Level::Browser,
    Level::Os,
    Level::DeviceType,
];

/// The stateless part of an event, computed once.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<'g> {
    /// Unix seconds of the event.
    pub at: i64,
    /// Client address.
    pub ip: IpAddr,
    /// What the geo databases say.
    pub geo: GeoInfo<'g>,
    /// Parsed user agent.
    pub ua: UserAgent,
    /// Hashes for the history levels.
    pub keys: LevelKeys,
    /// Hashes for the velocity counters.
    pub vkeys: VelocityKeys,
    /// Hosting / anonymising network.
    pub hosting: bool,
    /// A listed VPN, proxy or Tor network (a subset of `hosting`).
    pub anonymizer: bool,
    /// One of the organisation's egress networks.
    pub corporate: bool,
    /// Primary factor succeeded.
    pub success: bool,
    /// A device id was presented.
    pub has_device: bool,
    /// A device id *could* have been presented. False where no device
    /// cookie ever arrives (gateway requests without a bound session):
    /// its absence is then no evidence at all.
    pub device_observable: bool,
    /// For a gateway request to a sensitive route: the user's burst
    /// counter before it ([`crate::sensitive`]); `None` otherwise.
    pub burst: Option<crate::sensitive::Burst>,
    /// The browser signals in words, for `device_mismatch`'s text (empty
    /// when the event carried none).
    pub signals: crate::signals::Note,
}

/// The /24 (IPv4) or /48 (IPv6) of an address, as bytes with a family tag.
fn prefix_bytes(ip: IpAddr) -> ([u8; 7], usize) {
    let mut out = [0u8; 7];
    match ip {
        IpAddr::V4(v4) => {
            out[0] = 4;
            out[1..4].copy_from_slice(&v4.octets()[..3]);
            (out, 4)
        }
        IpAddr::V6(v6) => {
            out[0] = 6;
            out[1..7].copy_from_slice(&v6.octets()[..6]);
            (out, 7)
        }
    }
}

/// "203.0.113.0/24" or "2001:db8:1::/48".
pub fn prefix_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Hour of week (Monday 00:00 UTC = 0).
pub fn hour_of_week(at: OffsetDateTime) -> u8 {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.weekday().number_days_from_monday() * 24 + at.hour()
}

/// Geo lookup, UA parse and hashing for one event.
pub fn prepare<'g>(ev: &LoginEvent, geo: &'g Geo, lists: &NetworkLists) -> Prepared<'g> {
    let info = geo.lookup(ev.ip);
    let ua = UserAgent::parse(&ev.user_agent);
    let (pfx, plen) = prefix_bytes(ev.ip);
    let ipb = ip_bytes(ev.ip);
    let asn_key = match info.asn {
        Some(a) => hash(Level::Asn, &a.to_be_bytes()),
        None => hash(Level::Asn, b"?"),
    };
    let country_key = hash(Level::Country, info.country.unwrap_or("??").as_bytes());
    let dev = ua.device.as_str();
    let bv = format!("{}|{}|{}|{}", ua.browser, ua.browser_major, ua.os, dev);
    let b = format!("{}|{}|{}", ua.browser, ua.os, dev);
    let o = format!("{}|{}", ua.os, dev);
    let keys = LevelKeys {
        net: [
            hash(Level::Ip, &ipb),
            hash(Level::Prefix, &pfx[..plen]),
            asn_key,
            country_key,
        ],
        ua: [
            hash(Level::UserAgent, ev.user_agent.as_bytes()),
            hash(Level::BrowserVersion, bv.as_bytes()),
            hash(Level::Browser, b.as_bytes()),
            hash(Level::Os, o.as_bytes()),
            hash(Level::DeviceType, dev.as_bytes()),
        ],
        device: hash(
            Level::Device,
            ev.device_id.as_deref().unwrap_or("\0none").as_bytes(),
        ),
        hour: hour_of_week(ev.ts),
        has_device: ev.device_id.is_some(),
        signals: ev.signals.fingerprint(),
    };
    let vkeys = VelocityKeys {
        user: hash(Level::User, ev.user.as_bytes()),
        ip: keys.net[0],
        prefix: keys.net[1],
        asn: info.asn.map(|_| asn_key),
    };
    Prepared {
        at: ev.unix(),
        ip: ev.ip,
        geo: info,
        ua,
        keys,
        vkeys,
        hosting: lists.is_hosting(info.asn, info.org),
        anonymizer: lists.is_anonymizing(info.asn, info.org),
        corporate: lists.is_corporate(ev.ip),
        success: ev.success,
        has_device: ev.device_id.is_some(),
        device_observable: true,
        burst: None,
        signals: crate::signals::Note::of(&ev.signals),
    }
}

/// The feature vector plus what the reasons need to explain it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// Calibrator inputs, in [`FEATURES`] order.
    pub values: [f64; NUM_FEATURES],
    /// Finest network level the user has seen (0 = this IP, 3 = country),
    /// `None` when none.
    pub net_known: Option<usize>,
    /// Finest user-agent level the user has seen, `None` when none.
    pub ua_known: Option<usize>,
    /// The device id (or its absence) has been seen for this user.
    pub device_known: bool,
    /// The user usually presents a device id.
    pub usually_has_device: bool,
    /// The country has never been used by this user (who has a history).
    pub new_country: bool,
    /// Travel from the last admitted login, when both ends are located.
    pub travel: Option<Travel>,
    /// The counters at scoring time.
    pub velocity: VelocitySnapshot,
    /// Decayed number of admitted logins in the history.
    pub history_n: f64,
    /// Address of the last admitted login (to name it in reasons).
    pub previous_ip: Option<IpAddr>,
}

/// Below this accuracy radius an address's location is precise (home
/// broadband, offices, data centres); at or above it the address is a
/// carrier-grade NAT or a roaming pool whose registered city says little
/// about where the phone is.
pub const COARSE_KM: u16 = 100;

/// Whether a jump to this network is habit rather than travel: the user
/// already uses this IP or /24 (VPN on/off), or this AS while the address
/// is only coarsely located *and the browser is a phone's or a tablet's*
/// (a roaming phone, or a phone between its carrier's CGNAT pools, which
/// geolocate at the carrier's hub rather than where the phone is). A
/// familiar AS with a precise location is *not* enough: a national
/// broadband operator spans the whole country, and a stolen cookie
/// replayed from its line in another city 3,000 km away is exactly what
/// `impossible_travel` is for. Nor is a coarse pool for a desktop browser:
/// desktops do not roam between a carrier's pools, so a desktop's cookie
/// (its user agent is the device's own, or `device_mismatch` shows) turning
/// up on a carrier pool far from where it just logged in is travel. A
/// laptop tethered to a phone pays a step-up for it.
pub fn habitual_jump(net_known: Option<usize>, accuracy_km: u16, device: DeviceType) -> bool {
    match net_known {
        Some(0 | 1) => true,
        Some(2) => {
            accuracy_km >= COARSE_KM && matches!(device, DeviceType::Mobile | DeviceType::Tablet)
        }
        _ => false,
    }
}

/// The location of the event as a [`LastLogin`] for the history.
pub fn last_login(p: &Prepared<'_>) -> Option<LastLogin> {
    located(&p.geo, p.ip, p.at)
}

/// A login from `ip` (located as `geo`) at `at`, as a [`LastLogin`];
/// `None` when the address has no location.
pub fn located(geo: &GeoInfo<'_>, ip: IpAddr, at: i64) -> Option<LastLogin> {
    match (geo.lat, geo.lon) {
        (Some(lat), Some(lon)) => Some(LastLogin {
            at,
            lat: lat as f32,
            lon: lon as f32,
            accuracy_km: geo.accuracy_km,
            ip: ip_bytes(ip),
        }),
        _ => None,
    }
}

fn ln1p(x: u32) -> f64 {
    f64::from(x).ln_1p()
}

/// `ln(1 + failures) · failures / attempts` (0 without failures).
pub fn failure_volume(failures: u32, attempts: u32) -> f64 {
    if failures == 0 {
        return 0.0;
    }
    ln1p(failures) * f64::from(failures) / f64::from(attempts.max(failures))
}

/// Combines the prepared event with state. `now` is the time of scoring
/// (the event's time in replays).
pub fn extract(
    p: &Prepared<'_>,
    history: Option<&UserHistory>,
    velocity: &VelocitySnapshot,
    globals: &GlobalFrequencies,
    model: &Model,
    thresholds: &Thresholds,
    now: i64,
) -> Features {
    let empty = UserHistory::default();
    let h = history.unwrap_or(&empty);
    let n = f64::from(h.n);
    let mut v = [0.0; NUM_FEATURES];
    let clip = model.llr_clip;

    let mut net = [(0.0, 0.0, 1.0); 4];
    let mut net_known = None;
    for j in (0..4).rev() {
        let (c, d) = h.net_count(j, p.keys.net[j]);
        let pg = if c > 0.0 {
            model.global(globals.probability(NET_LEVELS[j], p.keys.net[j]))
        } else {
            1.0
        };
        net[j] = (f64::from(c), f64::from(d), pg);
        if c > 0.0 {
            net_known = Some(j);
        }
    }
    v[idx::NET] = backoff_llr(&net, n, model.smoothing.network, clip);

    let mut ua = [(0.0, 0.0, 1.0); 5];
    let mut ua_known = None;
    for j in (0..5).rev() {
        let (c, d) = h.ua_count(j, p.keys.ua[j]);
        let pg = if c > 0.0 {
            model.global(globals.probability(UA_LEVELS[j], p.keys.ua[j]))
        } else {
            1.0
        };
        ua[j] = (f64::from(c), f64::from(d), pg);
        if c > 0.0 {
            ua_known = Some(j);
        }
    }
    v[idx::UA] = backoff_llr(&ua, n, model.smoothing.user_agent, clip);

    // An absent device id is never *familiar*: attackers rarely hold the
    // cookie, so private windows must not teach "none" as a habit.
    let dc = if p.has_device {
        h.device.count(p.keys.device)
    } else {
        0.0
    };
    let dp = if dc > 0.0 {
        model.global(globals.probability(Level::Device, p.keys.device))
    } else {
        1.0
    };
    let device_llr = backoff_llr(
        &[(f64::from(dc), f64::from(h.device.distinct()), dp)],
        n,
        model.smoothing.device,
        clip,
    );
    // Without an id, the evidence is that of an unseen device in proportion
    // to how habitually this user presents one: nothing for users (or
    // deployments) that never send device ids.
    let presents = if n > 0.0 && p.device_observable {
        (f64::from(h.device_ids) / n).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let device = if p.has_device {
        device_llr
    } else {
        presents * device_llr
    };
    // Cookie churn is normal: a new or absent device id from the very
    // address the user already logs in from (their home line, their
    // office NAT) is weak evidence, while one from anywhere else is what a
    // targeted attacker looks like (the user's exact user agent and
    // operator, even the user's /24, are theirs to copy; the user's own
    // address is not). So the two are features of their own and the
    // calibrator weighs them apart.
    let known_device = p.has_device && dc > 0.0;
    if device > 0.0 && net_known == Some(0) {
        v[idx::DEVICE_KNOWN_IP] = device;
    } else {
        v[idx::DEVICE] = device;
    }
    // Likewise familiarity with the network counts apart when the device
    // does not vouch for it: copying the user's network is the targeted
    // attacker's craft, presenting the user's own cookie is not.
    if !known_device {
        v[idx::NET_UNKNOWN_DEVICE] = v[idx::NET];
        v[idx::NET] = 0.0;
    }
    let usually_has_device = p.device_observable && n > 0.0 && h.device_ids > 0.5 * h.n;

    if model.hour_of_week {
        let hc = f64::from(h.hours[usize::from(p.keys.hour) % 168]);
        let total: f64 = h.hours.iter().map(|&c| f64::from(c)).sum();
        let hp = if hc > 0.0 {
            model.global(globals.probability(Level::Hour, u64::from(p.keys.hour)))
        } else {
            1.0
        };
        v[idx::HOUR] = backoff_llr(&[(hc, 0.0, hp)], total, model.smoothing.hour, clip);
    }

    let mut trip = None;
    if let (Some(last), Some(lat), Some(lon)) = (h.last, p.geo.lat, p.geo.lon) {
        let from = Fix {
            lat: f64::from(last.lat),
            lon: f64::from(last.lon),
            accuracy_km: f64::from(last.accuracy_km),
            at: last.at,
        };
        let to = Fix {
            lat,
            lon,
            accuracy_km: f64::from(p.geo.accuracy_km),
            at: now,
        };
        let t = travel(from, to, thresholds.travel_min_km);
        if t.kmh > thresholds.impossible_travel_kmh
            && !habitual_jump(net_known, p.geo.accuracy_km, p.ua.device)
        {
            v[idx::TRAVEL] = 1.0;
            v[idx::TRAVEL_EXCESS] = (t.kmh / thresholds.impossible_travel_kmh).ln();
        }
        trip = Some(t);
    }

    v[idx::HOSTING] = f64::from(u8::from(p.hosting));
    v[idx::UNKNOWN_LOCATION] = f64::from(u8::from(p.geo.country.is_none()));
    v[idx::DRIFT] = f64::from(u8::from(
        p.has_device && dc > 0.0 && (ua[2].0 <= 0.0 || ua[3].0 <= 0.0),
    ));
    v[idx::USER_FAILURES] = ln1p(velocity.user_failures_1h);
    v[idx::USER_IPS] = ln1p(velocity.user_distinct_ips_1h);
    v[idx::IP_USERS] = ln1p(velocity.ip_distinct_users_1h);
    // Failure volume discounted by the network's failure share: a stuffing
    // proxy fails almost always, a shared office NAT rarely.
    v[idx::IP_FAILURES] = failure_volume(velocity.ip_failures_1h, velocity.ip_attempts_1h);
    v[idx::PREFIX_FAILURES] =
        failure_volume(velocity.prefix_failures_1h, velocity.prefix_attempts_1h);
    v[idx::FAILED] = f64::from(u8::from(!p.success));

    Features {
        values: v,
        net_known,
        ua_known,
        device_known: dc > 0.0,
        new_country: n > 0.0 && p.geo.country.is_some() && net[3].0 <= 0.0,
        usually_has_device,
        travel: trip,
        velocity: *velocity,
        history_n: n,
        previous_ip: h.last.map(|l| {
            let v6 = std::net::Ipv6Addr::from(l.ip);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }),
    }
}

/// Counts the event in the global frequency tables (after scoring it).
pub fn count_globally(p: &Prepared<'_>, globals: &mut GlobalFrequencies) {
    for (j, level) in NET_LEVELS.iter().enumerate() {
        globals.add(*level, p.keys.net[j]);
    }
    for (j, level) in UA_LEVELS.iter().enumerate() {
        globals.add(*level, p.keys.ua[j]);
    }
    globals.add(Level::Device, p.keys.device);
    globals.add(Level::Hour, u64::from(p.keys.hour));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::velocity::VelocitySnapshot;

    fn check(history_ids: &[Option<&str>], event_id: Option<&str>, expected_llr: f64) {
        let f = device_features(history_ids, event_id, "11.0.0.1");
        let llr = f.values[idx::DEVICE] + f.values[idx::DEVICE_KNOWN_IP];
        assert!(
            (llr - expected_llr).abs() < 1e-9,
            "{history_ids:?} {event_id:?}: {llr}"
        );
    }

    /// The features of a login with `event_id` from `ip` after logins
    /// from 11.0.0.1 presenting `history_ids`.
    fn device_features(history_ids: &[Option<&str>], event_id: Option<&str>, ip: &str) -> Features {
        let geo = crate::simulate::world::World::new();
        let (city, asn) = (geo.city_db(0).unwrap(), geo.asn_db(0).unwrap());
        let geo = Geo::from_sources(
            std::path::Path::new("c"),
            city,
            std::path::Path::new("a"),
            asn,
        )
        .unwrap();
        let lists = NetworkLists::default();
        let model = Model::prior();
        let ev = |id: Option<&str>, ip: &str| {
            LoginEvent::parse(
                &format!(
                    r#"{{"ts":"2026-01-05T08:00:00Z","user":"u","ip":"{ip}","user_agent":"x","device_id":{},"success":true}}"#,
                    id.map_or("null".to_owned(), |d| format!("{d:?}"))
                ),
                1,
            )
            .unwrap()
        };
        let mut h = UserHistory::default();
        for id in history_ids {
            let p = prepare(&ev(*id, "11.0.0.1"), &geo, &lists);
            h.admit(&p.keys, last_login(&p), 1.0);
        }
        let p = prepare(&ev(event_id, ip), &geo, &lists);
        extract(
            &p,
            Some(&h),
            &VelocitySnapshot::default(),
            &GlobalFrequencies::new(8),
            &model,
            &Thresholds::default(),
            p.at,
        )
    }

    #[test]
    fn device_and_network_evidence_count_apart_by_what_vouches_for_them() {
        // (event device id, address, the device feature that holds the
        // unseen-device LLR)
        let always = [Some("d1"), Some("d1"), Some("d1")];
        let cases = [
            // A new or absent cookie from the user's own address: churn.
            (Some("d2"), "11.0.0.1", idx::DEVICE_KNOWN_IP),
            (None, "11.0.0.1", idx::DEVICE_KNOWN_IP),
            // The same from another address, even in the same /24: what a
            // targeted attacker on the user's operator looks like.
            (Some("d2"), "11.0.0.9", idx::DEVICE),
            (None, "11.0.0.9", idx::DEVICE),
        ];
        for (id, ip, holder) in cases {
            let f = device_features(&always, id, ip);
            let other = if holder == idx::DEVICE {
                idx::DEVICE_KNOWN_IP
            } else {
                idx::DEVICE
            };
            assert!(f.values[holder] > 1.0, "{id:?} {ip}: {:?}", f.values);
            assert_eq!(f.values[other], 0.0, "{id:?} {ip}: {:?}", f.values);
            // No known device: the network's familiarity is its own feature.
            assert_eq!(f.values[idx::NET], 0.0, "{id:?} {ip}");
            assert!(f.values[idx::NET_UNKNOWN_DEVICE] < 0.0, "{id:?} {ip}");
        }
        // The user's own cookie vouches for the network; its credit stays
        // in `device_llr`, wherever it comes from.
        for ip in ["11.0.0.1", "11.0.0.9"] {
            let f = device_features(&always, Some("d1"), ip);
            assert!(f.values[idx::DEVICE] < 0.0, "{ip}: {:?}", f.values);
            assert_eq!(f.values[idx::DEVICE_KNOWN_IP], 0.0, "{ip}");
            assert!(f.values[idx::NET] < 0.0, "{ip}: {:?}", f.values);
            assert_eq!(f.values[idx::NET_UNKNOWN_DEVICE], 0.0, "{ip}");
        }
    }

    #[test]
    fn habitual_jump_is_the_users_own_network_or_a_phone_on_its_carrier() {
        use DeviceType::*;
        // (finest network level the user knows, accuracy km, form factor, excused)
        let cases = [
            (Some(0), 10, Desktop, true), // the user's own address (VPN off)
            (Some(1), 10, Desktop, true), // the user's own /24
            (Some(2), 10, Mobile, false), // a national operator's precise line
            (Some(2), 500, Mobile, true), // a phone on its carrier's hub pool
            (Some(2), 500, Tablet, true),
            (Some(2), 100, Mobile, true),
            (Some(2), 99, Mobile, false),
            // A desktop browser does not roam between a carrier's pools.
            (Some(2), 500, Desktop, false),
            (Some(2), 500, Bot, false),
            (Some(3), 500, Mobile, false), // only the country
            (None, 500, Mobile, false),
        ];
        for (known, acc, dev, want) in cases {
            assert_eq!(
                habitual_jump(known, acc, dev),
                want,
                "{known:?} {acc} {dev:?}"
            );
        }
    }

    #[test]
    fn failure_volume_discounts_busy_networks() {
        let cases = [
            (0, 0, 0.0),
            (0, 50, 0.0),
            (3, 3, 4f64.ln()),
            (8, 200, 9f64.ln() * 0.04),
            (5, 2, 6f64.ln()),
        ];
        for (f, a, want) in cases {
            assert!((failure_volume(f, a) - want).abs() < 1e-12, "{f}/{a}");
        }
    }

    #[test]
    fn hour_of_week_is_utc_based() {
        use time::macros::datetime;
        let cases = [
            (datetime!(2026-01-05 00:00 UTC), 0), // a Monday
            (datetime!(2026-01-05 13:59 UTC), 13),
            (datetime!(2026-01-11 23:30 UTC), 167), // Sunday
            (datetime!(2026-01-05 07:00 +08:00), 167), // = Sunday 23:00 UTC
        ];
        for (at, want) in cases {
            assert_eq!(hour_of_week(at), want, "{at}");
        }
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_48() {
        let cases = [
            ("203.0.113.7", "203.0.113.0/24"),
            ("2001:db8:1:2::5", "2001:db8:1::/48"),
        ];
        for (ip, want) in cases {
            assert_eq!(prefix_label(ip.parse().unwrap()), want);
        }
    }

    #[test]
    fn absent_device_ids_count_by_habit() {
        // Prior device smoothing: μ = 1, κ = 0 (λ = 1); n = 3 logins, decay 1.
        // Always presents one id: unseen → ln((3 + 1) / 1).
        let always = [Some("d1"), Some("d1"), Some("d1")];
        check(&always, Some("d2"), 4f64.ln());
        check(&always, None, 4f64.ln());
        check(
            &always,
            Some("d1"),
            // (an empty sketch says 0.5, clamped to the 0.02 ceiling)
            -(((3.0 / 0.02) + 1.0) / 4.0f64).ln(),
        );
        // Never presents one: absence says nothing.
        check(&[None, None, None], None, 0.0);
        // Presents in 2 of 3 logins: two thirds of the unseen-device LLR.
        check(&[Some("d1"), None, Some("d1")], None, 2.0 / 3.0 * 4f64.ln());
    }
}
