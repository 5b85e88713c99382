//! The held-out generator's attacker recipes. Each returns the events of
//! one attack: failures (which only feed the counters) and the successful
//! first factor the issuer scores, labelled with the kind.
//!
//! - `cookie_theft`: the victim's own device cookie and exact user agent,
//!   replayed from at least 2,500 km away 3–150 minutes after the victim's
//!   real login (a stolen session or an infostealer's cookie jar), through
//!   a residential proxy, a cloud or a carrier there;
//! - `brute_force`: 20–60 failures on one account within minutes from
//!   rotating residential addresses of the victim's country, then a
//!   success from yet another one;
//! - `spraying`: one common password against most accounts from a few
//!   cloud or proxy addresses, slowly, with a few successes;
//! - `targeted`: someone who knows the victim: their exact user agent,
//!   their broadband operator in their home place (another line), no
//!   cookie or a fresh one;
//! - `stuffing`: a leaked list of credential pairs tried once each from a
//!   botnet of residential addresses worldwide, some pairs still valid.

use std::net::IpAddr;

use rand::Rng;
use rand::seq::SliceRandom;

use super::atlas::{Atlas, PLACES, Role, km};
use super::browsers::attacker_header;
use super::people::{Person, cookie};

/// An attack event before it becomes a [`crate::LoginEvent`].
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Unix seconds.
    pub t: i64,
    /// Account tried.
    pub user: String,
    /// Source address.
    pub ip: IpAddr,
    /// `User-Agent`.
    pub ua: String,
    /// Device cookie presented.
    pub device: Option<String>,
    /// First factor succeeded.
    pub success: bool,
    /// Attack kind.
    pub kind: &'static str,
}

/// An address registered at least 2,500 km from `from`: a residential
/// proxy, a cloud or a carrier pool there.
fn far_source(from: usize, atlas: &Atlas, rng: &mut impl Rng) -> Option<IpAddr> {
    let role = match rng.gen_range(0..20) {
        0..=9 => Role::Broadband,
        10..=16 => Role::Cloud,
        _ => Role::Carrier,
    };
    let far: Vec<usize> = atlas
        .of_role(role)
        .into_iter()
        .filter(|&a| km(&PLACES[from], atlas.place_of(a)) >= 2500.0)
        .collect();
    let a = *far.choose(rng)?;
    Some(atlas.v4(a, None, rng))
}

/// A stolen device cookie replayed from far away shortly after the
/// victim's real login at `t` from `at` with `ua` and `device`.
pub fn cookie_theft(
    victim: &Person,
    t: i64,
    at: usize,
    ua: &str,
    device: &str,
    atlas: &Atlas,
    rng: &mut impl Rng,
) -> Vec<Attempt> {
    let Some(ip) = far_source(at, atlas, rng) else {
        return Vec::new();
    };
    vec![Attempt {
        t: t + rng.gen_range(3 * 60..150 * 60),
        user: victim.name.clone(),
        ip,
        ua: ua.to_owned(),
        device: Some(device.to_owned()),
        success: true,
        kind: "cookie_theft",
    }]
}

fn residential_in(country: &str, atlas: &Atlas, rng: &mut impl Rng) -> Option<IpAddr> {
    let a = *atlas.in_country(country, Role::Broadband).choose(rng)?;
    Some(atlas.v4(a, None, rng))
}

/// Dozens of failures from rotating residential addresses in the victim's
/// country, then a success.
pub fn brute_force(victim: &Person, t: i64, atlas: &Atlas, rng: &mut impl Rng) -> Vec<Attempt> {
    let country = PLACES[victim.home].country;
    let ua = attacker_header(rng);
    let failures = rng.gen_range(20..=60);
    let mut at = t;
    let mut out = Vec::with_capacity(failures + 1);
    for k in 0..=failures {
        let Some(ip) = residential_in(country, atlas, rng) else {
            return Vec::new();
        };
        at += rng.gen_range(5..45);
        out.push(Attempt {
            t: at,
            user: victim.name.clone(),
            ip,
            ua: ua.clone(),
            device: None,
            success: k == failures,
            kind: "brute_force",
        });
    }
    if rng.gen_bool(0.4)
        && let Some(last) = out.last_mut()
    {
        last.device = Some(cookie(rng));
    }
    out
}

/// Someone with the victim's exact user agent on the victim's broadband
/// operator at home, without the victim's cookie.
pub fn targeted(victim: &Person, t: i64, atlas: &Atlas, rng: &mut impl Rng) -> Vec<Attempt> {
    let Some(b) = victim.browsers.choose(rng) else {
        return Vec::new();
    };
    let op = atlas.allocs[victim.broadband.0].op;
    let lines: Vec<usize> = atlas
        .in_place(victim.home, Role::Broadband)
        .into_iter()
        .filter(|&a| atlas.allocs[a].op == op)
        .collect();
    let Some(&line) = lines.choose(rng) else {
        return Vec::new();
    };
    let ip = atlas.v4(line, None, rng);
    let ua = b.installed.header();
    let device = rng.gen_bool(0.5).then(|| cookie(rng));
    let mut out = Vec::new();
    if rng.gen_bool(0.3) {
        out.push(Attempt {
            t: t - rng.gen_range(10..120),
            user: victim.name.clone(),
            ip,
            ua: ua.clone(),
            device: device.clone(),
            success: false,
            kind: "targeted",
        });
    }
    out.push(Attempt {
        t,
        user: victim.name.clone(),
        ip,
        ua,
        device,
        success: true,
        kind: "targeted",
    });
    out
}

/// One password against most accounts from a few cloud or proxy
/// addresses; `success` is the chance an account has that password.
pub fn spraying(
    accounts: &[&str],
    t: i64,
    success: f64,
    atlas: &Atlas,
    rng: &mut impl Rng,
) -> Vec<Attempt> {
    let clouds = atlas.of_role(Role::Cloud);
    let homes = atlas.of_role(Role::Broadband);
    let sources: Vec<IpAddr> = (0..rng.gen_range(2..7))
        .filter_map(|_| {
            let pool = if rng.gen_bool(0.6) { &clouds } else { &homes };
            pool.choose(rng).map(|&a| atlas.v4(a, None, rng))
        })
        .collect();
    if sources.is_empty() {
        return Vec::new();
    }
    let ua = attacker_header(rng);
    let mut targets: Vec<&str> = accounts.to_vec();
    targets.shuffle(rng);
    targets.truncate(((0.5 + 0.5 * rng.r#gen::<f64>()) * accounts.len() as f64) as usize);
    let mut at = t;
    targets
        .into_iter()
        .enumerate()
        .map(|(k, user)| {
            at += rng.gen_range(2..12);
            Attempt {
                t: at,
                user: user.to_owned(),
                ip: sources[k % sources.len()],
                ua: ua.clone(),
                device: None,
                success: rng.gen_bool(success),
                kind: "spraying",
            }
        })
        .collect()
}

/// A leaked list tried once per pair from a worldwide botnet of
/// residential addresses (each address a handful of pairs); `valid` is the
/// share of pairs still valid, `fake` the share of names that never existed.
pub fn stuffing(
    accounts: &[&str],
    t: i64,
    valid: f64,
    atlas: &Atlas,
    rng: &mut impl Rng,
) -> Vec<Attempt> {
    let homes = atlas.of_role(Role::Broadband);
    let mut list: Vec<(String, bool)> = accounts
        .iter()
        .filter(|_| rng.gen_bool(0.45))
        .map(|u| ((*u).to_owned(), true))
        .collect();
    let fakes = list.len() / 4;
    for k in 0..fakes {
        list.push((
            format!(
                "{}{}",
                ["info", "sales", "test", "hr"][k % 4],
                rng.gen_range(0..99_999)
            ),
            false,
        ));
    }
    list.shuffle(rng);
    let mut out = Vec::with_capacity(list.len());
    let mut at = t;
    let mut ip = None;
    let mut ua = attacker_header(rng);
    for (k, (user, real)) in list.into_iter().enumerate() {
        if k % rng.gen_range(2..8) == 0 || ip.is_none() {
            ip = homes.choose(rng).map(|&a| atlas.v4(a, None, rng));
            if rng.gen_bool(0.3) {
                ua = attacker_header(rng);
            }
        }
        let Some(src) = ip else { break };
        at += rng.gen_range(1..4);
        out.push(Attempt {
            t: at,
            user,
            ip: src,
            ua: ua.clone(),
            device: None,
            success: real && rng.gen_bool(valid),
            kind: "stuffing",
        });
    }
    out
}
