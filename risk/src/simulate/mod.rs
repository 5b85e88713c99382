//! The synthetic trace generator behind `tollgate risk simulate`.
//!
//! Deterministic for a given [`SimConfig`] (ChaCha8 seeded from `seed`; no
//! clock: the start date is part of the config). It produces
//!
//! - legitimate users ([`users`]) with a home city (70 % in China), an
//!   office (10 % commute to another city), a laptop or desktop (Windows,
//!   macOS, Kylin, UOS) and usually a phone; per day: 1/45 chance to start
//!   a 2–7 day trip (30 % abroad, no logins on travel days), 1/20 home IP
//!   change, 1/300 new device; 15 % of users use a VPN exit for 10–50 % of
//!   logins; per login 0.3 % cookie loss, 1 % private window (no device
//!   id), 4 % a failed attempt first; browsers upgrade on their release
//!   cadence;
//! - attackers of the three kinds of Wiefling et al. (ACM TOPS 2022), each
//!   with the correct password: `naive` (random city, network and user
//!   agent), `vpn` (the user's country, random user agent), `targeted`
//!   (the user's city, often the user's ISP, the user's exact user agent,
//!   a new or no device id), starting after a week of history;
//! - `stuffing`: weekly credential-stuffing bursts from a handful of
//!   proxies against 100–300 accounts (20 % non-existent), mostly failing;
//! - the GeoLite2-City- and GeoLite2-ASN-schema databases of its world.

pub mod agents;
pub mod users;
pub mod world;

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::OffsetDateTime;

use crate::error::{Result, RiskError};
use crate::event::{Label, LoginEvent};
use agents::{Agent, DESKTOP, PHONE};
use users::{User, device_id};
use world::{CITIES, NetKind, World};

/// Simulation parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Legitimate users.
    pub users: usize,
    /// Days simulated.
    pub days: u32,
    /// RNG seed.
    pub seed: u64,
    /// Midnight UTC of day 0.
    pub start: OffsetDateTime,
    /// Attacks of each single-login kind per user per day.
    pub attack_rate: f64,
}

impl SimConfig {
    /// Defaults: start 2026-01-05 (a Monday), 0.01 attacks per kind per user-day.
    pub fn new(users: usize, days: u32, seed: u64) -> Self {
        SimConfig {
            users,
            days,
            seed,
            start: time::macros::datetime!(2026-01-05 00:00 UTC),
            attack_rate: 0.01,
        }
    }
}

/// A generated trace and its databases.
#[derive(Debug)]
pub struct Simulation {
    /// Events in time order.
    pub events: Vec<LoginEvent>,
    /// GeoLite2-City-schema database.
    pub city_db: Vec<u8>,
    /// GeoLite2-ASN-schema database.
    pub asn_db: Vec<u8>,
}

#[allow(clippy::too_many_arguments)] // one flat constructor reads better than a builder here
fn event(
    cfg: &SimConfig,
    secs: i64,
    user: &str,
    ip: std::net::IpAddr,
    ua: String,
    dev: Option<String>,
    success: bool,
    kind: Option<&str>,
) -> LoginEvent {
    LoginEvent {
        ts: cfg.start + time::Duration::seconds(secs),
        user: user.to_owned(),
        ip,
        user_agent: ua,
        device_id: dev,
        success,
        label: Some(if kind.is_some() {
            Label::Attack
        } else {
            Label::Legit
        }),
        attack_kind: kind.map(str::to_owned),
        client: None,
        rtt_ms: None,
        signals: Default::default(),
    }
}

/// Generates a trace.
pub fn simulate(cfg: &SimConfig) -> Result<Simulation> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let world = World::new();
    let mut users: Vec<User> = (0..cfg.users)
        .map(|i| User::new(i, &world, &mut rng))
        .collect();
    let mut events = Vec::new();
    const DAY: i64 = 86_400;
    for day in 0..cfg.days {
        let weekday = day % 7 < 5;
        for u in users.iter_mut() {
            if u.new_day(day, &world, &mut rng) {
                continue;
            }
            let mean = if weekday { u.rate } else { u.rate * 0.3 };
            let count = (0..6)
                .filter(|_| rng.gen_bool((mean / 6.0).min(1.0)))
                .count();
            let mut times: Vec<i64> = (0..count)
                .map(|_| rng.gen_range(7 * 3600..23 * 3600))
                .collect();
            times.sort_unstable();
            for local in times {
                let working = weekday && (9 * 3600..18 * 3600).contains(&local);
                let (ip, dev, id, offset) = u.context(working, &world, &mut rng);
                let t = i64::from(day) * DAY + local - offset * 3600;
                let ua = u.devices[dev].agent.render();
                if rng.gen_bool(0.04) {
                    events.push(event(
                        cfg,
                        t - rng.gen_range(5..60),
                        &u.name,
                        ip,
                        ua.clone(),
                        id.clone(),
                        false,
                        None,
                    ));
                }
                events.push(event(cfg, t, &u.name, ip, ua, id, true, None));
            }
        }
        if day >= 7 {
            attacks(cfg, day, &users, &world, &mut rng, &mut events);
        }
    }
    events.sort_by_key(|e| e.ts);
    let epoch = cfg.start.unix_timestamp().max(0) as u64;
    Ok(Simulation {
        events,
        city_db: world.city_db(epoch)?,
        asn_db: world.asn_db(epoch)?,
    })
}

fn attacks(
    cfg: &SimConfig,
    day: u32,
    users: &[User],
    world: &World,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<LoginEvent>,
) {
    const DAY: i64 = 86_400;
    let base = i64::from(day) * DAY;
    let expected = cfg.attack_rate * users.len() as f64;
    for kind in ["naive", "vpn", "targeted"] {
        let n = (expected.floor() as usize) + usize::from(rng.gen_bool(expected.fract()));
        for _ in 0..n {
            let Some(victim) = users.choose(rng) else {
                return;
            };
            let t = base + rng.gen_range(0..DAY);
            let fresh = |rng: &mut ChaCha8Rng| {
                if rng.gen_bool(0.5) {
                    None
                } else {
                    Some(device_id(rng))
                }
            };
            let (ip, ua, dev) = match kind {
                "naive" => {
                    let ip = if rng.gen_bool(0.02) {
                        world.unknown_address(rng)
                    } else {
                        let b = rng.gen_range(0..world.blocks.len());
                        world.address(b, None, rng.gen_bool(0.1), rng)
                    };
                    (
                        ip,
                        Agent::random(if rng.gen_bool(0.3) { PHONE } else { DESKTOP }, rng)
                            .render(),
                        fresh(rng),
                    )
                }
                "vpn" => {
                    let cc = CITIES[victim.home_city].country;
                    let blocks: Vec<usize> = (0..world.blocks.len())
                        .filter(|&b| {
                            CITIES[world.blocks[b].city].country == cc
                                && world::NETWORKS[world.blocks[b].net].kind != NetKind::Business
                        })
                        .collect();
                    let b = blocks.choose(rng).copied().unwrap_or(0);
                    (
                        world.address(b, None, false, rng),
                        Agent::random(DESKTOP, rng).render(),
                        fresh(rng),
                    )
                }
                _ => {
                    let r: f64 = rng.r#gen();
                    let b = if r < 0.4 {
                        victim.home.0
                    } else if r < 0.7 {
                        world
                            .blocks_in(victim.home_city, NetKind::Residential)
                            .choose(rng)
                            .copied()
                            .unwrap_or(victim.home.0)
                    } else {
                        victim.mobile.unwrap_or(victim.home.0)
                    };
                    let agent = victim.devices[0].agent.render();
                    (world.address(b, None, false, rng), agent, fresh(rng))
                }
            };
            if rng.gen_bool(0.2) {
                out.push(event(
                    cfg,
                    t - 20,
                    &victim.name,
                    ip,
                    ua.clone(),
                    dev.clone(),
                    false,
                    Some(kind),
                ));
            }
            out.push(event(cfg, t, &victim.name, ip, ua, dev, true, Some(kind)));
        }
    }
    if day % 7 == 3 && !users.is_empty() {
        let proxies: Vec<std::net::IpAddr> = (0..rng.gen_range(3..12))
            .map(|_| {
                let b = rng.gen_range(0..world.blocks.len());
                world.address(b, None, false, rng)
            })
            .collect();
        let ua = if rng.gen_bool(0.5) {
            "python-requests/2.32.3".to_owned()
        } else {
            Agent::random(DESKTOP, rng).render()
        };
        let targets = rng.gen_range(100..300);
        let mut t = base + rng.gen_range(0..DAY);
        for i in 0..targets {
            t += rng.gen_range(1..6);
            let (name, real) = if rng.gen_bool(0.2) {
                (format!("admin{}", rng.gen_range(0..10_000)), false)
            } else {
                (
                    users
                        .choose(rng)
                        .map(|u| u.name.clone())
                        .unwrap_or_default(),
                    true,
                )
            };
            let success = real && rng.gen_bool(0.03);
            out.push(event(
                cfg,
                t,
                &name,
                proxies[i % proxies.len()],
                ua.clone(),
                None,
                success,
                Some("stuffing"),
            ));
        }
    }
}

/// Paths of the databases written beside an events file.
pub fn db_paths(events_out: &Path) -> (PathBuf, PathBuf) {
    let dir = events_out.parent().unwrap_or(Path::new("."));
    (
        dir.join("GeoLite2-City.mmdb"),
        dir.join("GeoLite2-ASN.mmdb"),
    )
}

impl Simulation {
    /// Events as JSON Lines.
    pub fn jsonl(&self) -> String {
        let mut s = String::with_capacity(self.events.len() * 220);
        for e in &self.events {
            if let Ok(line) = serde_json::to_string(e) {
                s.push_str(&line);
                s.push('\n');
            }
        }
        s
    }

    /// Writes the events to `out` and the databases beside it
    /// (`GeoLite2-City.mmdb`, `GeoLite2-ASN.mmdb`).
    pub fn write(&self, out: &Path) -> Result<()> {
        let (city, asn) = db_paths(out);
        let w = |p: &Path, bytes: &[u8]| {
            std::fs::write(p, bytes)
                .map_err(|e| RiskError::Io(std::io::Error::other(format!("{}: {e}", p.display()))))
        };
        w(out, self.jsonl().as_bytes())?;
        w(&city, &self.city_db)?;
        w(&asn, &self.asn_db)?;
        Ok(())
    }
}
