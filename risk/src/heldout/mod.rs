//! The held-out generator: a second synthetic trace, built independently
//! of [`crate::simulate`] so that a model trained and calibrated on one is
//! judged on traffic it never saw (`tollgate risk simulate --generator
//! heldout`).
//!
//! What differs from the first generator, on purpose:
//!
//! - the world ([`atlas`]): other places, other autonomous systems, its
//!   own address plan (/20s from 36.0.0.0, IPv6 from 2a0c::), carriers
//!   whose CGNAT pools sit in hub places, offices behind shared NATs, and
//!   its own GeoLite2-City/ASN databases written with
//!   [`crate::geo::mmdb_writer`];
//! - the people ([`people`]): home and work places, several browsers per
//!   person on up to three machines, trips by air at realistic speeds with
//!   logins before and after the flights, 10–30 % cookie churn for a fifth
//!   of them, private windows, typos and forgotten passwords;
//! - the browsers ([`browsers`]): another catalogue, other spellings;
//! - the attackers ([`attacks`]): cookie theft with impossible travel,
//!   brute force from rotating residential addresses, password spraying,
//!   targeted attackers with the victim's user agent and operator, and
//!   credential stuffing from a botnet.
//!
//! Events are what the issuer sees: failed first factors (which only feed
//! the counters) and successful ones (which are scored). Deterministic for
//! a [`HeldoutConfig`]; no clock.

pub mod atlas;
pub mod attacks;
pub mod browsers;
pub mod people;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use time::OffsetDateTime;

use crate::error::Result;
use crate::event::{Label, LoginEvent};
use crate::simulate::Simulation;
use atlas::{Atlas, HOME_PLACES, Role};
use attacks::Attempt;
use people::{Company, Person, cookie};

/// The attack kinds this generator writes, as in `attack_kind`.
pub const KINDS: [&str; 5] = [
    "cookie_theft",
    "brute_force",
    "spraying",
    "targeted",
    "stuffing",
];

/// Parameters of the held-out generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldoutConfig {
    /// People.
    pub users: usize,
    /// Days.
    pub days: u32,
    /// RNG seed.
    pub seed: u64,
    /// Midnight UTC of day 0.
    pub start: OffsetDateTime,
    /// Successful attacks wanted per kind (about; the runs of spraying and
    /// stuffing succeed by chance).
    pub attacks_per_kind: usize,
}

impl HeldoutConfig {
    /// Defaults: start 2026-02-02, 2,200 successful attacks per kind.
    pub fn new(users: usize, days: u32, seed: u64) -> Self {
        HeldoutConfig {
            users,
            days,
            seed,
            start: time::macros::datetime!(2026-02-02 00:00 UTC),
            attacks_per_kind: 2200,
        }
    }
}

const DAY: i64 = 86_400;
/// Attacks start once people have this many days of history.
const WARM_UP_DAYS: u32 = 10;
/// Chance that an account has the sprayed password.
const SPRAY_HIT: f64 = 0.02;
/// Share of leaked pairs still valid.
const STUFFING_VALID: f64 = 0.06;

fn labelled(a: Attempt) -> LoginEvent {
    LoginEvent {
        ts: OffsetDateTime::from_unix_timestamp(a.t).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        user: a.user,
        ip: a.ip,
        user_agent: a.ua,
        device_id: a.device,
        success: a.success,
        label: Some(Label::Attack),
        attack_kind: Some(a.kind.to_owned()),
        client: None,
        rtt_ms: None,
        signals: Default::default(),
    }
}

/// A whole number of events with mean `x`.
fn count(x: f64, rng: &mut impl Rng) -> usize {
    x.floor() as usize + usize::from(rng.gen_bool(x.fract().clamp(0.0, 1.0)))
}

/// Local second of the day of a login: office hours and evenings on
/// working days, anywhere from 9 to 23 at weekends.
fn local_second(weekday: bool, rng: &mut impl Rng) -> i64 {
    if weekday && rng.gen_bool(0.7) {
        rng.gen_range(8 * 3600 + 1800..18 * 3600 + 1800)
    } else {
        rng.gen_range(9 * 3600..23 * 3600 + 1800)
    }
}

/// Generates a trace and its databases.
pub fn generate(cfg: &HeldoutConfig) -> Result<Simulation> {
    let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed ^ 0x4845_4c44);
    let atlas = Atlas::new();
    let companies: Vec<Company> = (0..(cfg.users / 40).max(HOME_PLACES))
        .filter_map(|k| {
            let place = k % HOME_PLACES;
            let alloc = atlas.pick(place, Role::Enterprise, &mut rng)?;
            Some(Company {
                place,
                alloc,
                egress: [rng.gen_range(0..4096), rng.gen_range(0..4096)],
            })
        })
        .collect();
    let mut people: Vec<Person> = (0..cfg.users)
        .map(|i| Person::new(i, &atlas, &companies, &mut rng))
        .collect();
    let start = cfg.start.unix_timestamp();
    let attack_days = cfg.days.saturating_sub(WARM_UP_DAYS).max(1);
    let per_person_day =
        cfg.attacks_per_kind as f64 / (cfg.users.max(1) as f64 * f64::from(attack_days));
    let mut events: Vec<LoginEvent> = Vec::new();
    let mut attempts: Vec<Attempt> = Vec::new();
    for day in 0..cfg.days {
        let midnight = start + i64::from(day) * DAY;
        let attacking = day >= WARM_UP_DAYS;
        for person in people.iter_mut() {
            person.new_day(day, midnight, &atlas, &mut rng);
            let tz = person.tz_at(midnight + DAY / 2) * 60;
            let weekday = (day % 7) < 5;
            let mean = person.daily * if weekday { 1.0 } else { 0.35 };
            let n = count(mean, &mut rng);
            let mut times: Vec<i64> = (0..n)
                .map(|_| midnight + local_second(weekday, &mut rng) - tz)
                .collect();
            times.sort_unstable();
            let mut last_with_cookie = None;
            for t in times {
                let Some(ctx) = person.context(t, &companies, &atlas, &mut rng) else {
                    continue;
                };
                let churned = rng.gen_bool(person.churn);
                let private = rng.gen_bool(0.015);
                let b = &mut person.browsers[ctx.browser];
                let ua = b.installed.header();
                let presented = if churned || private {
                    None
                } else {
                    b.cookie.clone()
                };
                if presented.is_none() && !private {
                    b.cookie = Some(cookie(&mut rng));
                }
                let typos = match rng.gen_range(0..1000) {
                    0..=3 => rng.gen_range(3..7), // forgotten password, one place
                    4..=49 => 1,
                    50..=59 => 2,
                    _ => 0,
                };
                for k in 0..typos {
                    events.push(legit(
                        &person.name,
                        t - 20 * (typos - k) as i64,
                        &ctx,
                        &ua,
                        &presented,
                        false,
                    ));
                }
                events.push(legit(&person.name, t, &ctx, &ua, &presented, true));
                if let Some(dev) = &presented {
                    last_with_cookie = Some((t, ctx.at, ua.clone(), dev.clone()));
                }
            }
            if !attacking {
                continue;
            }
            if rng.gen_bool(per_person_day.min(1.0))
                && let Some((t, at, ua, dev)) = &last_with_cookie
            {
                attempts.extend(attacks::cookie_theft(
                    person, *t, *at, ua, dev, &atlas, &mut rng,
                ));
            }
            if rng.gen_bool(per_person_day.min(1.0)) {
                let t = midnight + rng.gen_range(0..DAY);
                attempts.extend(attacks::brute_force(person, t, &atlas, &mut rng));
            }
            if rng.gen_bool(per_person_day.min(1.0)) {
                let t = midnight + local_second(weekday, &mut rng) - tz;
                attempts.extend(attacks::targeted(person, t, &atlas, &mut rng));
            }
        }
    }
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    let runs =
        |hits_per_run: f64| (cfg.attacks_per_kind as f64 / hits_per_run.max(1e-9)).ceil() as u32;
    let span = i64::from(attack_days) * DAY;
    let first = start + i64::from(WARM_UP_DAYS) * DAY;
    let n_users = names.len() as f64;
    for _ in 0..runs(0.75 * n_users * SPRAY_HIT) {
        let t = first + rng.gen_range(0..span);
        attempts.extend(attacks::spraying(&names, t, SPRAY_HIT, &atlas, &mut rng));
    }
    for _ in 0..runs(0.45 * n_users * STUFFING_VALID) {
        let t = first + rng.gen_range(0..span);
        attempts.extend(attacks::stuffing(
            &names,
            t,
            STUFFING_VALID,
            &atlas,
            &mut rng,
        ));
    }
    let end = start + i64::from(cfg.days) * DAY;
    events.extend(attempts.into_iter().filter(|a| a.t < end).map(labelled));
    events.sort_by_key(|e| e.ts);
    let epoch = start.max(0) as u64;
    Ok(Simulation {
        events,
        city_db: atlas.city_db(epoch)?,
        asn_db: atlas.asn_db(epoch)?,
    })
}

fn legit(
    user: &str,
    t: i64,
    ctx: &people::Context,
    ua: &str,
    device: &Option<String>,
    success: bool,
) -> LoginEvent {
    LoginEvent {
        ts: OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        user: user.to_owned(),
        ip: ctx.ip,
        user_agent: ua.to_owned(),
        device_id: device.clone(),
        success,
        label: Some(Label::Legit),
        attack_kind: None,
        client: None,
        rtt_ms: None,
        signals: Default::default(),
    }
}
