//! Compiled rule conditions: matching a [`DecisionInput`] and deciding
//! whether one condition set implies another (for shadowing checks).

use std::collections::HashMap;

use time::{OffsetDateTime, UtcOffset};

use super::decide::DecisionInput;
use super::file::{Action, AsnItem, Conditions, DeviceState, TimeWindow};
use crate::cidr::Cidr;
use crate::sensitive::path_matches;

/// Named lists after loading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lists {
    /// CIDR lists.
    pub networks: HashMap<String, Vec<Cidr>>,
    /// ASN lists.
    pub asns: HashMap<String, Vec<u32>>,
    /// Country lists (upper case).
    pub countries: HashMap<String, Vec<String>>,
}

/// A compiled time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Bit `n` = weekday `n` (Monday 0).
    pub days: u8,
    /// `[from, to)` hours; `from > to` wraps midnight.
    pub hours: (u8, u8),
    /// The offset days and hours are in.
    pub offset: UtcOffset,
}

impl Window {
    fn contains(&self, now: OffsetDateTime) -> bool {
        let local = now.to_offset(self.offset);
        let day = local.weekday().number_days_from_monday();
        let h = local.hour();
        let (from, to) = self.hours;
        let in_hours = if from <= to {
            h >= from && h < to
        } else {
            h >= from || h < to
        };
        self.days & (1 << day) != 0 && in_hours
    }
}

/// Compiled conditions; empty vectors mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cond {
    /// `login` or `request`.
    pub action: Option<Action>,
    /// Client ids.
    pub clients: Vec<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Attribute key → allowed values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Networks the address must be in.
    pub networks: Vec<Cidr>,
    /// Networks the address must not be in.
    pub not_networks: Vec<Cidr>,
    /// Country codes.
    pub countries: Vec<String>,
    /// Country codes the address must not be in.
    pub not_countries: Vec<String>,
    /// AS numbers.
    pub asns: Vec<u32>,
    /// Time window.
    pub time: Option<Window>,
    /// Device known (`Some(true)`) or unknown.
    pub device_known: Option<bool>,
    /// The user has a second factor (`Some(true)`) or only a password.
    pub second_factor: Option<bool>,
    /// Risk reason codes.
    pub reasons: Vec<String>,
    /// Least severity of a detection that must hold.
    pub min_severity: Option<crate::reasons::Severity>,
    /// Score range, inclusive.
    pub score: (u8, u8),
    /// Requested acr values.
    pub acr_values: Vec<String>,
    /// Hosts (`*.` prefix = subdomains).
    pub hosts: Vec<String>,
    /// Paths (`*` suffix = prefix).
    pub paths: Vec<String>,
}

/// A compile error: the offending key, the value, and the message.
pub type CondError = (&'static str, String, String);

fn list_ref(s: &str) -> Option<&str> {
    s.strip_prefix('@')
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    if matches!(s, "UTC" | "Z" | "utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

fn window(w: &TimeWindow) -> Result<Window, CondError> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut days = 0u8;
    for d in &w.days {
        let i = DAYS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(d))
            .ok_or_else(|| ("days", d.clone(), format!("unknown day {d:?} (mon … sun)")))?;
        days |= 1 << i;
    }
    if w.days.is_empty() {
        days = 0x7f;
    }
    let hours = match w.hours {
        Some([a, b]) if a <= 24 && b <= 24 && a != b => (a, b),
        Some([a, b]) => {
            return Err((
                "hours",
                format!("[{a}, {b}]"),
                "hours must be [from, to) with 0 ≤ from, to ≤ 24 and from ≠ to".into(),
            ));
        }
        None => (0, 24),
    };
    let offset = parse_offset(&w.utc_offset).ok_or_else(|| {
        (
            "utc_offset",
            w.utc_offset.clone(),
            format!("bad utc_offset {:?}: use UTC or ±HH:MM", w.utc_offset),
        )
    })?;
    Ok(Window {
        days,
        hours,
        offset,
    })
}

/// What a country entry must look like, with the entry's own letters in
/// capitals as the example when it has two.
pub fn country_form(entry: &str) -> String {
    let like = if entry.len() == 2 && entry.bytes().all(|b| b.is_ascii_alphabetic()) {
        entry.to_ascii_uppercase()
    } else {
        "DE".to_owned()
    };
    format!("expected an ISO 3166-1 alpha-2 code in capitals, like {like:?}")
}

/// What a network entry must look like.
pub const NETWORK_FORM: &str = "expected a CIDR block, like \"10.0.0.0/8\" or \"2001:db8::/32\"";

/// What an ASN entry must look like.
pub const ASN_FORM: &str = "expected an AS number, like 64500 or \"AS64500\"";

fn country_codes(
    items: &[String],
    lists: &Lists,
    key: &'static str,
    errs: &mut Vec<CondError>,
) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        if let Some(name) = list_ref(item) {
            match lists.countries.get(name) {
                Some(l) => out.extend(l.iter().cloned()),
                None => errs.push((
                    key,
                    item.clone(),
                    unknown_list("country", item, lists.countries.keys()),
                )),
            }
        } else if is_country(item) {
            out.push(item.clone());
        } else {
            errs.push((
                key,
                item.clone(),
                format!(
                    "bad {key} entry {item:?}: {} or \"@list\"",
                    country_form(item)
                ),
            ));
        }
    }
    out
}

/// An unknown `@list` reference, naming the lists of that kind there are.
fn unknown_list<'a>(kind: &str, item: &str, known: impl Iterator<Item = &'a String>) -> String {
    let mut known: Vec<String> = known.map(|k| format!("@{k}")).collect();
    known.sort();
    if known.is_empty() {
        format!("unknown {kind} list {item:?}: no {kind} lists are defined under `lists:`")
    } else {
        format!(
            "unknown {kind} list {item:?}: expected one of {}",
            known.join(", ")
        )
    }
}

fn networks(
    items: &[String],
    lists: &Lists,
    key: &'static str,
    errs: &mut Vec<CondError>,
) -> Vec<Cidr> {
    let mut out = Vec::new();
    for item in items {
        if let Some(name) = list_ref(item) {
            match lists.networks.get(name) {
                Some(l) => out.extend_from_slice(l),
                None => errs.push((
                    key,
                    item.clone(),
                    unknown_list("network", item, lists.networks.keys()),
                )),
            }
        } else {
            match Cidr::parse(item) {
                Some(c) => out.push(c),
                None => errs.push((
                    key,
                    item.clone(),
                    format!("bad {key} entry {item:?}: {NETWORK_FORM} or \"@list\""),
                )),
            }
        }
    }
    out
}

/// Parses an ASN entry: `64500` or `AS64500`.
pub fn parse_asn(s: &str) -> Option<u32> {
    let s = s.trim();
    s.strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s)
        .parse()
        .ok()
}

/// Whether `s` is an ISO 3166-1 alpha-2 code in upper case.
pub fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl Cond {
    /// Compiles file conditions against the loaded lists; on failure
    /// every bad entry, not just the first.
    pub fn compile(c: &Conditions, lists: &Lists) -> Result<Cond, Vec<CondError>> {
        let mut errs = Vec::new();
        let countries = country_codes(&c.country, lists, "country", &mut errs);
        let not_countries = country_codes(&c.not_country, lists, "not_country", &mut errs);
        let mut asns = Vec::new();
        for item in &c.asn {
            match item {
                AsnItem::Number(n) => asns.push(*n),
                AsnItem::Name(s) => match list_ref(s) {
                    Some(name) => match lists.asns.get(name) {
                        Some(l) => asns.extend(l),
                        None => {
                            errs.push(("asn", s.clone(), unknown_list("ASN", s, lists.asns.keys())))
                        }
                    },
                    None => match parse_asn(s) {
                        Some(a) => asns.push(a),
                        None => errs.push((
                            "asn",
                            s.clone(),
                            format!("bad asn entry {s:?}: {ASN_FORM} or \"@list\""),
                        )),
                    },
                },
            }
        }
        let score = (c.min_score.unwrap_or(0), c.max_score.unwrap_or(100));
        if score.0 > score.1 || score.1 > 100 {
            errs.push((
                "min_score",
                score.0.to_string(),
                format!(
                    "bad score range {}–{}: expected 0 ≤ min_score ≤ max_score ≤ 100",
                    score.0, score.1
                ),
            ));
        }
        let networks_in = networks(&c.network, lists, "network", &mut errs);
        let not_networks = networks(&c.not_network, lists, "not_network", &mut errs);
        let time = match c.time.as_ref().map(window).transpose() {
            Ok(t) => t,
            Err(e) => {
                errs.push(e);
                None
            }
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Cond {
            action: c.action,
            clients: c.client.clone(),
            groups: c.group.clone(),
            attributes: c
                .user_attribute
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            networks: networks_in,
            not_networks,
            countries,
            not_countries,
            asns,
            time,
            device_known: c.device.map(|d| d == DeviceState::Known),
            second_factor: c.second_factor,
            reasons: c.reasons.clone(),
            min_severity: c.min_severity,
            score,
            acr_values: c.acr_values.clone(),
            hosts: c.host.iter().map(|h| h.to_ascii_lowercase()).collect(),
            paths: c.path.clone(),
        })
    }

    /// True when the rule has no condition at all: it matches everything
    /// and makes every later rule of its stage unreachable.
    pub fn is_catch_all(&self) -> bool {
        *self
            == Cond {
                score: (0, 100),
                ..Cond::default()
            }
    }

    /// Whether the input satisfies every condition.
    pub fn matches(&self, i: &DecisionInput<'_>, now: OffsetDateTime) -> bool {
        let any_str = |want: &[String], have: Option<&str>| {
            want.is_empty() || have.is_some_and(|h| want.iter().any(|w| w == h))
        };
        self.action.is_none_or(|a| a == i.action)
            && any_str(&self.clients, i.client)
            && (self.groups.is_empty() || i.groups.iter().any(|g| self.groups.contains(g)))
            && self.attributes.iter().all(|(k, vals)| {
                i.attributes
                    .iter()
                    .any(|(ak, av)| ak == k && vals.contains(av))
            })
            && (self.networks.is_empty()
                || i.ip
                    .is_some_and(|ip| self.networks.iter().any(|n| n.contains(ip))))
            && !(i
                .ip
                .is_some_and(|ip| self.not_networks.iter().any(|n| n.contains(ip))))
            && any_str(&self.countries, i.country)
            && !i
                .country
                .is_some_and(|c| self.not_countries.iter().any(|n| n == c))
            && (self.asns.is_empty() || i.asn.is_some_and(|a| self.asns.contains(&a)))
            && self.time.is_none_or(|w| w.contains(now))
            && self.device_known.is_none_or(|k| k == i.device_known)
            && self
                .second_factor
                .is_none_or(|want| i.second_factor == Some(want))
            && (self.reasons.is_empty()
                || i.reasons
                    .iter()
                    .any(|r| self.reasons.iter().any(|c| c == r.code)))
            && self
                .min_severity
                .is_none_or(|m| i.reasons.iter().any(|r| r.severity >= Some(m)))
            && i.score >= self.score.0
            && i.score <= self.score.1
            && (self.acr_values.is_empty()
                || i.acr_values.iter().any(|a| self.acr_values.contains(a)))
            && (self.hosts.is_empty()
                || i.host
                    .is_some_and(|h| self.hosts.iter().any(|p| host_matches(p, h))))
            && (self.paths.is_empty()
                || i.path
                    .is_some_and(|p| self.paths.iter().any(|w| path_matches(w, p))))
    }

    /// Whether every input matching `self` also matches `general`
    /// (conservative: `false` when unsure). Used to find shadowed rules.
    pub fn implies(&self, general: &Cond) -> bool {
        fn subset(narrow: &[String], wide: &[String]) -> bool {
            wide.is_empty() || (!narrow.is_empty() && narrow.iter().all(|n| wide.contains(n)))
        }
        let nets = general.networks.is_empty()
            || (!self.networks.is_empty()
                && self
                    .networks
                    .iter()
                    .all(|n| general.networks.iter().any(|g| g.covers(n))));
        let not_nets = general
            .not_networks
            .iter()
            .all(|g| self.not_networks.iter().any(|n| n.covers(g)));
        let attrs = general.attributes.iter().all(|(k, wide)| {
            self.attributes
                .iter()
                .any(|(nk, narrow)| nk == k && subset(narrow, wide))
        });
        general.action.is_none_or(|a| self.action == Some(a))
            && subset(&self.clients, &general.clients)
            && subset(&self.groups, &general.groups)
            && attrs
            && nets
            && not_nets
            && subset(&self.countries, &general.countries)
            && general
                .not_countries
                .iter()
                .all(|g| self.not_countries.contains(g))
            && (general.asns.is_empty()
                || (!self.asns.is_empty() && self.asns.iter().all(|a| general.asns.contains(a))))
            && (general.time.is_none() || general.time == self.time)
            && general
                .device_known
                .is_none_or(|k| self.device_known == Some(k))
            && general
                .second_factor
                .is_none_or(|k| self.second_factor == Some(k))
            && subset(&self.reasons, &general.reasons)
            && general.min_severity <= self.min_severity
            && self.score.0 >= general.score.0
            && self.score.1 <= general.score.1
            && subset(&self.acr_values, &general.acr_values)
            && subset(&self.hosts, &general.hosts)
            && subset(&self.paths, &general.paths)
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_paths_and_offsets() {
        let hosts = [
            ("vc.example.com", "VC.example.com:443", true),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "badexample.com", false),
        ];
        for (p, h, want) in hosts {
            assert_eq!(host_matches(p, h), want, "{p} {h}");
        }
        let paths = [
            ("/admin/*", "/admin/users?x=1", true),
            ("/admin/*", "/administrator", false),
            ("/ui", "/ui", true),
            ("/ui", "/ui/x", false),
        ];
        for (p, x, want) in paths {
            assert_eq!(path_matches(p, x), want, "{p} {x}");
        }
        let offsets = [
            ("UTC", Some(0)),
            ("+08:00", Some(8 * 3600)),
            ("-05:30", Some(-(5 * 3600 + 1800))),
            ("CST", None),
        ];
        for (s, want) in offsets {
            assert_eq!(parse_offset(s).map(|o| o.whole_seconds()), want, "{s}");
        }
    }
}
