//! Legitimate people of the held-out generator. Unlike the first
//! generator's users (one laptop and one phone, trips on whole days with no
//! logins), a person here has
//!
//! - a home place and a work place (15 % commute between two places of the
//!   same country), an employer whose office egress is a NAT shared by
//!   every colleague, or no employer and a home office;
//! - several browsers on up to three machines (work laptop, home computer,
//!   phone), each with its own device cookie, updating on its own cadence;
//! - a phone on a carrier whose CGNAT pools are registered in hub places,
//!   so its address jumps between cities;
//! - trips by air: logins until 90 minutes before departure and again an
//!   hour after landing (flights at 800 km/h plus taxiing), hotel Wi-Fi
//!   and roaming on the home carrier while away;
//! - for a fifth of the people, cookie churn: 10–30 % of logins arrive
//!   without the cookie (cleared by a browser setting), and a new one is
//!   issued; everyone opens a private window now and then.

use std::net::IpAddr;

use rand::Rng;
use rand::seq::SliceRandom;

use super::atlas::{Atlas, HOME_PLACES, OPERATORS, PLACES, Role, km};
use super::browsers::{Installed, Machine};

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A company: its office place and its NAT egress (allocation, two hosts).
#[derive(Debug, Clone, Copy)]
pub struct Company {
    /// Place of the office.
    pub place: usize,
    /// Enterprise allocation.
    pub alloc: usize,
    /// The two egress host numbers.
    pub egress: [u32; 2],
}

/// One installed browser with its device cookie.
#[derive(Debug, Clone)]
pub struct Browser {
    /// Build and version.
    pub installed: Installed,
    /// The machine it runs on.
    pub machine: Machine,
    /// Device cookie; `None` until the first login sets one.
    pub cookie: Option<String>,
    /// Day of the next automatic update.
    pub next_update: u32,
    /// How often it is the one used on its machine.
    pub weight: u32,
}

/// A trip: out and back flights and the hotel network.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    /// Destination place.
    pub dest: usize,
    /// Departure and arrival of the outbound flight (unix seconds).
    pub out: (i64, i64),
    /// Departure and arrival of the return flight.
    pub back: (i64, i64),
    /// Hotel broadband allocation and host.
    pub hotel: (usize, u32),
}

/// A person and their state.
#[derive(Debug, Clone)]
pub struct Person {
    /// Login name.
    pub name: String,
    /// Home place.
    pub home: usize,
    /// Work place.
    pub work: usize,
    /// Employer index, if any (else works from home).
    pub company: Option<usize>,
    /// Home broadband allocation and host number.
    pub broadband: (usize, u32),
    /// Home IPv6 site, when the line has IPv6.
    pub v6_site: Option<u16>,
    /// Mobile carrier (index into OPERATORS).
    pub carrier: Option<usize>,
    /// Browsers.
    pub browsers: Vec<Browser>,
    /// Share of logins whose cookie was cleared since the last one.
    pub churn: f64,
    /// Mean logins per working day.
    pub daily: f64,
    /// A VPN exit (allocation, host) and the share of computer logins through it.
    pub vpn: Option<(usize, u32, f64)>,
    /// The current or next trip.
    pub trip: Option<Trip>,
}

/// Where a login comes from and with what.
#[derive(Debug, Clone)]
pub struct Context {
    /// Address.
    pub ip: IpAddr,
    /// Index into [`Person::browsers`].
    pub browser: usize,
    /// The place the person is really at.
    pub at: usize,
}

/// A fresh device cookie (its own format, not the first generator's).
pub fn cookie(rng: &mut impl Rng) -> String {
    format!("tgd.{:x}{:08x}", rng.r#gen::<u64>(), rng.r#gen::<u32>())
}

fn new_browser(machine: Machine, day: u32, rng: &mut impl Rng) -> Browser {
    let installed = Installed::random(machine, rng);
    Browser {
        installed,
        machine,
        cookie: None,
        next_update: day + rng.gen_range(0..installed.cadence_days()),
        weight: 1,
    }
}

impl Person {
    /// A random person. Companies are per work place.
    pub fn new(i: usize, atlas: &Atlas, companies: &[Company], rng: &mut impl Rng) -> Self {
        let home = if rng.gen_bool(0.65) {
            rng.gen_range(0..9)
        } else {
            rng.gen_range(9..HOME_PLACES)
        };
        let same_country: Vec<usize> = (0..HOME_PLACES)
            .filter(|&q| q != home && PLACES[q].country == PLACES[home].country)
            .collect();
        let work = match same_country.choose(rng) {
            Some(&q) if rng.gen_bool(0.15) => q,
            _ => home,
        };
        let employers: Vec<usize> = (0..companies.len())
            .filter(|&c| companies[c].place == work)
            .collect();
        let company = if rng.gen_bool(0.85) {
            employers.choose(rng).copied()
        } else {
            None
        };
        let broadband = atlas.pick(home, Role::Broadband, rng).unwrap_or(0);
        let carriers: Vec<usize> = (0..OPERATORS.len())
            .filter(|&o| {
                OPERATORS[o].role == Role::Carrier
                    && OPERATORS[o].countries.contains(&PLACES[home].country)
            })
            .collect();
        let mut browsers = Vec::new();
        if company.is_some() {
            browsers.push(new_browser(Machine::WorkLaptop, 0, rng));
            if rng.gen_bool(0.35) {
                browsers.push(new_browser(Machine::WorkLaptop, 0, rng));
            }
        }
        if company.is_none() || rng.gen_bool(0.6) {
            browsers.push(new_browser(Machine::HomePc, 0, rng));
        }
        if rng.gen_bool(0.85) {
            browsers.push(new_browser(Machine::Phone, 0, rng));
            if rng.gen_bool(0.3) {
                browsers.push(new_browser(Machine::Phone, 0, rng));
            }
        }
        for b in &mut browsers {
            b.weight = rng.gen_range(1..6);
        }
        let vpn = rng.gen_bool(0.08).then(|| {
            let exits = atlas.of_role(Role::Cloud);
            (
                exits.choose(rng).copied().unwrap_or(0),
                rng.gen_range(0..4096),
                rng.gen_range(0.2..0.7),
            )
        });
        Person {
            name: format!("p{:x}-{i}", 0x51 + i % 7),
            home,
            work,
            company,
            broadband: (broadband, rng.gen_range(0..4096)),
            v6_site: (atlas.allocs[broadband].v6.is_some() && rng.gen_bool(0.25))
                .then(|| rng.r#gen()),
            carrier: carriers.choose(rng).copied(),
            browsers,
            churn: if rng.gen_bool(0.2) {
                rng.gen_range(0.1..0.3)
            } else {
                0.0
            },
            daily: rng.gen_range(0.4..4.0),
            vpn,
            trip: None,
        }
    }

    /// Day-boundary changes: browser updates, a replaced browser, a new
    /// home address, planning a trip. `midnight` is the day's start (UTC).
    pub fn new_day(&mut self, day: u32, midnight: i64, atlas: &Atlas, rng: &mut impl Rng) {
        for b in &mut self.browsers {
            if day >= b.next_update {
                b.installed.major += 1;
                b.next_update = day + b.installed.cadence_days() + rng.gen_range(0..9);
            }
        }
        if rng.gen_bool(1.0 / 250.0) && !self.browsers.is_empty() {
            let k = rng.gen_range(0..self.browsers.len());
            let machine = self.browsers[k].machine;
            self.browsers[k] = new_browser(machine, day, rng);
        }
        if rng.gen_bool(1.0 / 12.0) {
            self.broadband.1 = rng.gen_range(0..4096);
            if rng.gen_bool(0.2) {
                let same: Vec<usize> = atlas
                    .in_place(self.home, Role::Broadband)
                    .into_iter()
                    .filter(|&a| atlas.allocs[a].op == atlas.allocs[self.broadband.0].op)
                    .collect();
                self.broadband.0 = same.choose(rng).copied().unwrap_or(self.broadband.0);
            }
        }
        if self.trip.is_some_and(|t| t.back.1 + DAY < midnight) {
            self.trip = None;
        }
        if self.trip.is_none() && rng.gen_bool(1.0 / 50.0) {
            self.trip = self.plan_trip(midnight + DAY, atlas, rng);
        }
    }

    fn plan_trip(&self, from_day: i64, atlas: &Atlas, rng: &mut impl Rng) -> Option<Trip> {
        let home = &PLACES[self.home];
        let domestic: Vec<usize> = (0..PLACES.len())
            .filter(|&q| q != self.home && PLACES[q].country == home.country)
            .collect();
        let dest = match domestic.choose(rng) {
            Some(&q) if rng.gen_bool(0.55) => q,
            _ => rng.gen_range(0..PLACES.len()),
        };
        if dest == self.home {
            return None;
        }
        let flight = |rng: &mut dyn rand::RngCore| {
            let d = km(home, &PLACES[dest]);
            (d / 800.0 * HOUR as f64) as i64 + 45 * MIN + rng.gen_range(0..40) * MIN
        };
        let depart = from_day + rng.gen_range(6..21) * HOUR - home.tz_min * MIN;
        let out = (depart, depart + flight(rng));
        let back_depart = out.1 + rng.gen_range(2..9) * DAY + rng.gen_range(0..10) * HOUR;
        let back = (back_depart, back_depart + flight(rng));
        let hotel = atlas
            .pick(dest, Role::Broadband, rng)
            .or_else(|| atlas.pick(dest, Role::Cloud, rng))?;
        Some(Trip {
            dest,
            out,
            back,
            hotel: (hotel, rng.gen_range(0..4096)),
        })
    }

    /// Local offset (minutes) where the person is at `t`.
    pub fn tz_at(&self, t: i64) -> i64 {
        match self.trip {
            Some(tr) if t > tr.out.1 && t < tr.back.0 => PLACES[tr.dest].tz_min,
            _ => PLACES[self.home].tz_min,
        }
    }

    fn pick_browser(&self, machines: &[Machine], rng: &mut impl Rng) -> Option<usize> {
        let cands: Vec<(usize, u32)> = (0..self.browsers.len())
            .filter(|&b| machines.contains(&self.browsers[b].machine))
            .map(|b| (b, self.browsers[b].weight))
            .collect();
        let total: u32 = cands.iter().map(|c| c.1).sum();
        if total == 0 {
            return None;
        }
        let mut r = rng.gen_range(0..total);
        for (b, w) in cands {
            if r < w {
                return Some(b);
            }
            r -= w;
        }
        None
    }

    fn carrier_ip(&self, atlas: &Atlas, rng: &mut impl Rng) -> Option<IpAddr> {
        let pools = atlas.of_operator(self.carrier?);
        let pool = *pools.choose(rng)?;
        if rng.gen_bool(0.3)
            && let Some(ip) = atlas.v6(pool, rng.r#gen(), rng)
        {
            return Some(ip);
        }
        Some(atlas.v4(pool, None, rng))
    }

    fn home_ip(&self, atlas: &Atlas, rng: &mut impl Rng) -> IpAddr {
        if let Some(site) = self.v6_site
            && let Some(ip) = atlas.v6(self.broadband.0, site, rng)
        {
            return ip;
        }
        atlas.v4(self.broadband.0, Some(self.broadband.1), rng)
    }

    /// Where and with which browser the person signs in at `t` (unix
    /// seconds), or `None` while in the air or at the airport.
    pub fn context(
        &self,
        t: i64,
        companies: &[Company],
        atlas: &Atlas,
        rng: &mut impl Rng,
    ) -> Option<Context> {
        let computers = [Machine::WorkLaptop, Machine::HomePc];
        let phone = [Machine::Phone];
        if let Some(tr) = self.trip {
            let airborne = |(d, a): (i64, i64)| t > d - 90 * MIN && t < a + HOUR;
            if airborne(tr.out) || airborne(tr.back) {
                return None;
            }
            if t > tr.out.1 && t < tr.back.0 {
                let r: f64 = rng.r#gen();
                if r < 0.25
                    && let (Some(ip), Some(b)) =
                        (self.carrier_ip(atlas, rng), self.pick_browser(&phone, rng))
                {
                    return Some(Context {
                        ip,
                        browser: b,
                        at: tr.dest,
                    });
                }
                let machines: &[Machine] = if r < 0.4 { &phone } else { &computers };
                let b = self
                    .pick_browser(machines, rng)
                    .or_else(|| self.pick_browser(&phone, rng))?;
                let ip = atlas.v4(tr.hotel.0, Some(tr.hotel.1), rng);
                return Some(Context {
                    ip,
                    browser: b,
                    at: tr.dest,
                });
            }
        }
        let local = t + PLACES[self.home].tz_min * MIN;
        let hour = local.rem_euclid(DAY) / HOUR;
        // 1970-01-01 was a Thursday: day 0 → weekday index 3.
        let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7) < 5;
        let at_office = weekday && (9..18).contains(&hour) && self.company.is_some();
        let commuting = weekday && self.work != self.home && (hour == 8 || hour == 18);
        let r: f64 = rng.r#gen();
        // On the carrier: while commuting, and for 15 % of other logins.
        if (commuting || r < 0.15)
            && let (Some(ip), Some(b)) =
                (self.carrier_ip(atlas, rng), self.pick_browser(&phone, rng))
        {
            let at = if at_office { self.work } else { self.home };
            return Some(Context { ip, browser: b, at });
        }
        if at_office {
            let c = companies[self.company?];
            let b = self
                .pick_browser(&[Machine::WorkLaptop], rng)
                .or_else(|| self.pick_browser(&phone, rng))?;
            let ip = atlas.v4(c.alloc, Some(c.egress[rng.gen_range(0..2)]), rng);
            return Some(Context {
                ip,
                browser: b,
                at: self.work,
            });
        }
        let b = if rng.gen_bool(0.35) {
            self.pick_browser(&phone, rng)
        } else {
            None
        }
        .or_else(|| self.pick_browser(&computers, rng))
        .or_else(|| self.pick_browser(&phone, rng))?;
        let on_computer = self.browsers[b].machine != Machine::Phone;
        let ip = match self.vpn {
            Some((a, h, share)) if on_computer && rng.gen_bool(share) => atlas.v4(a, Some(h), rng),
            _ => self.home_ip(atlas, rng),
        };
        Some(Context {
            ip,
            browser: b,
            at: self.home,
        })
    }
}
