//! Legitimate users: home and office, commutes, phones on mobile networks,
//! trips, VPN use, new devices, cookie loss, dynamic home IPs and browser
//! upgrades. Rates are per day unless said otherwise; see docs/risk.md.

use std::net::IpAddr;

use rand::Rng;
use rand::seq::SliceRandom;

use super::agents::{Agent, DESKTOP, PHONE};
use super::world::{CITIES, CN_CITIES, NetKind, World};

/// A device: its cookie and its browser.
#[derive(Debug, Clone)]
pub struct Device {
    /// Device-id cookie.
    pub id: String,
    /// Browser.
    pub agent: Agent,
    /// Day of the next browser upgrade.
    pub next_upgrade: u32,
}

/// A trip away from home.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    /// Destination city.
    pub city: usize,
    /// First day back home.
    pub until: u32,
    /// Hotel network block.
    pub hotel: usize,
    /// Hotel /24.
    pub subnet: u8,
}

/// One legitimate user and their current state.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Home city.
    pub home_city: usize,
    /// Office city (differs for commuters).
    pub work_city: usize,
    /// Home broadband block, /24, host.
    pub home: (usize, u8, u8),
    /// Home address is IPv6.
    pub home_v6: bool,
    /// Office block and /24.
    pub office: (usize, u8),
    /// Mobile carrier block (home city).
    pub mobile: Option<usize>,
    /// Laptop/desktop and phone.
    pub devices: Vec<Device>,
    /// VPN exit block and /24, and share of logins through it.
    pub vpn: Option<(usize, u8, f64)>,
    /// Mean logins per working day.
    pub rate: f64,
    /// Current trip.
    pub trip: Option<Trip>,
}

fn pick(v: &[usize], rng: &mut impl Rng) -> Option<usize> {
    v.choose(rng).copied()
}

/// A fresh device-id cookie.
pub fn device_id(rng: &mut impl Rng) -> String {
    format!("d-{:016x}", rng.r#gen::<u64>())
}

impl User {
    /// A random user. 70 % live in China; 10 % commute between two cities.
    pub fn new(i: usize, world: &World, rng: &mut impl Rng) -> Self {
        let home_city = if rng.gen_bool(0.7) {
            rng.gen_range(0..CN_CITIES)
        } else {
            rng.gen_range(CN_CITIES..CITIES.len())
        };
        let same_country: Vec<usize> = (0..CITIES.len())
            .filter(|&c| CITIES[c].country == CITIES[home_city].country && c != home_city)
            .collect();
        let work_city = if rng.gen_bool(0.1) {
            pick(&same_country, rng).unwrap_or(home_city)
        } else {
            home_city
        };
        let home_block = pick(&world.blocks_in(home_city, NetKind::Residential), rng).unwrap_or(0);
        let office_block = pick(&world.blocks_in(work_city, NetKind::Business), rng)
            .or_else(|| pick(&world.blocks_in(work_city, NetKind::Residential), rng))
            .unwrap_or(home_block);
        let mut devices = vec![Device {
            id: device_id(rng),
            agent: Agent::random(DESKTOP, rng),
            next_upgrade: rng.gen_range(1..30),
        }];
        if rng.gen_bool(0.8) {
            devices.push(Device {
                id: device_id(rng),
                agent: Agent::random(PHONE, rng),
                next_upgrade: rng.gen_range(1..30),
            });
        }
        let vpn = rng.gen_bool(0.15).then(|| {
            let exits = world.blocks_of(NetKind::Hosting);
            (
                pick(&exits, rng).unwrap_or(0),
                rng.r#gen(),
                rng.gen_range(0.1..0.5),
            )
        });
        User {
            name: format!("user{i:05}"),
            home_city,
            work_city,
            home: (home_block, rng.r#gen(), rng.gen_range(1..255)),
            home_v6: world.blocks[home_block].v6.is_some() && rng.gen_bool(0.2),
            office: (office_block, rng.r#gen()),
            mobile: pick(&world.blocks_in(home_city, NetKind::Mobile), rng),
            devices,
            vpn,
            rate: rng.gen_range(0.5..3.0),
            trip: None,
        }
    }

    /// Day-boundary changes: upgrades, new devices, IP changes, trips.
    /// Returns true when today is a travel day (no logins).
    pub fn new_day(&mut self, day: u32, world: &World, rng: &mut impl Rng) -> bool {
        for d in &mut self.devices {
            if day >= d.next_upgrade {
                d.agent.version += 1;
                d.next_upgrade = day + d.agent.release_days() + rng.gen_range(0..10);
            }
        }
        if rng.gen_bool(1.0 / 300.0) {
            let k = rng.gen_range(0..self.devices.len());
            let builds = if self.devices[k].agent.is_phone() {
                PHONE
            } else {
                DESKTOP
            };
            self.devices[k] = Device {
                id: device_id(rng),
                agent: Agent::random(builds, rng),
                next_upgrade: day + 30,
            };
        }
        if rng.gen_bool(1.0 / 20.0) {
            self.home.1 = rng.r#gen();
            self.home.2 = rng.gen_range(1..255);
        }
        if let Some(t) = self.trip {
            if day >= t.until {
                self.trip = None;
                return true; // flying home
            }
            return false;
        }
        if rng.gen_bool(1.0 / 45.0) {
            let city = if rng.gen_bool(0.7) {
                let domestic: Vec<usize> = (0..CITIES.len())
                    .filter(|&c| {
                        CITIES[c].country == CITIES[self.home_city].country && c != self.home_city
                    })
                    .collect();
                pick(&domestic, rng).unwrap_or_else(|| rng.gen_range(0..CITIES.len()))
            } else {
                rng.gen_range(0..CITIES.len())
            };
            if city != self.home_city {
                let hotel = pick(&world.blocks_in(city, NetKind::Residential), rng)
                    .or_else(|| pick(&world.blocks_in(city, NetKind::Hosting), rng))
                    .unwrap_or(self.home.0);
                self.trip = Some(Trip {
                    city,
                    until: day + rng.gen_range(2..8),
                    hotel,
                    subnet: rng.r#gen(),
                });
                return true; // flying out
            }
        }
        false
    }

    /// Where and with what the user logs in now: (address, device index,
    /// device id presented, local UTC offset).
    pub fn context(
        &mut self,
        working_hours: bool,
        world: &World,
        rng: &mut impl Rng,
    ) -> (IpAddr, usize, Option<String>, i64) {
        let phone = self.devices.iter().position(|d| d.agent.is_phone());
        let laptop = 0;
        let mut offset = CITIES[self.home_city].utc_offset;
        let use_vpn = self.vpn.filter(|v| rng.gen_bool(v.2));
        let (ip, dev) = if let Some((b, s, _)) = use_vpn {
            (world.address(b, Some(s), false, rng), laptop)
        } else if let Some(t) = self.trip {
            offset = CITIES[t.city].utc_offset;
            match (rng.gen_range(0..10), self.mobile, phone) {
                (0..=2, Some(m), Some(p)) => (world.address(m, None, false, rng), p), // roaming: home carrier
                _ => (world.address(t.hotel, Some(t.subnet), false, rng), laptop),
            }
        } else {
            let r: f64 = rng.r#gen();
            match (working_hours, self.mobile, phone) {
                (true, _, _) if r < 0.7 => (
                    world.address(self.office.0, Some(self.office.1), false, rng),
                    laptop,
                ),
                (_, Some(m), Some(p)) if r > 0.75 => {
                    (world.address(m, None, rng.gen_bool(0.3), rng), p)
                }
                _ => {
                    let (b, s, h) = self.home;
                    let ip = world.address(b, Some(s), self.home_v6, rng);
                    let ip = match ip {
                        IpAddr::V4(v4) => IpAddr::V4(std::net::Ipv4Addr::new(
                            v4.octets()[0],
                            v4.octets()[1],
                            s,
                            h,
                        )),
                        v6 => v6,
                    };
                    let dev = match phone {
                        Some(p) if rng.gen_bool(0.3) => p,
                        _ => laptop,
                    };
                    (ip, dev)
                }
            }
        };
        // Cookie loss (new id kept from now on) and private windows.
        if rng.gen_bool(0.003) {
            self.devices[dev].id = device_id(rng);
        }
        let id = if rng.gen_bool(0.01) {
            None
        } else {
            Some(self.devices[dev].id.clone())
        };
        (ip, dev, id, offset)
    }
}
