//! The held-out generator's own world: places, operators, its own address
//! plan and the two MaxMind-format databases that describe it.
//!
//! Nothing here is shared with [`crate::simulate::world`]: other places,
//! other autonomous systems, another allocation. Broadband and enterprise
//! operators own two IPv4 /20s per (operator, place); a mobile carrier owns
//! pools registered in a few *hub* places of its country with a coarse
//! accuracy radius, and hands any subscriber in the country an address from
//! any hub (carrier-grade NAT), so a phone's address jumps between cities
//! while the phone does not move.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::Rng;
use rand::seq::SliceRandom;

use crate::error::Result;
use crate::geo::mmdb_writer::{MmdbValue, MmdbWriter};

/// A place: English name, ISO country, subdivision, coordinates and the
/// local offset from UTC in minutes.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// English name.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    /// Subdivision code.
    pub region: &'static str,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Local offset from UTC, minutes.
    pub tz_min: i64,
}

const fn p(
    name: &'static str,
    country: &'static str,
    region: &'static str,
    lat: f64,
    lon: f64,
    tz_min: i64,
) -> Place {
    Place {
        name,
        country,
        region,
        lat,
        lon,
        tz_min,
    }
}

/// The places. Users live in the first [`HOME_PLACES`].
pub const PLACES: &[Place] = &[
    p("Suzhou", "CN", "JS", 31.2990, 120.5853, 480),
    p("Chongqing", "CN", "CQ", 29.5630, 106.5516, 480),
    p("Qingdao", "CN", "SD", 36.0671, 120.3826, 480),
    p("Xiamen", "CN", "FJ", 24.4798, 118.0894, 480),
    p("Harbin", "CN", "HL", 45.8038, 126.5349, 480),
    p("Kunming", "CN", "YN", 24.8801, 102.8329, 480),
    p("Beijing", "CN", "BJ", 39.9042, 116.4074, 480),
    p("Shanghai", "CN", "SH", 31.2304, 121.4737, 480),
    p("Urumqi", "CN", "XJ", 43.8256, 87.6168, 480),
    p("Taipei", "TW", "TPE", 25.0330, 121.5654, 480),
    p("Osaka", "JP", "27", 34.6937, 135.5023, 540),
    p("Bangkok", "TH", "10", 13.7563, 100.5018, 420),
    p("Kuala Lumpur", "MY", "14", 3.1390, 101.6869, 480),
    p("Munich", "DE", "BY", 48.1351, 11.5820, 60),
    p("Hamburg", "DE", "HH", 53.5511, 9.9937, 60),
    p("Madrid", "ES", "MD", 40.4168, -3.7038, 60),
    p("Stockholm", "SE", "AB", 59.3293, 18.0686, 60),
    p("Seattle", "US", "WA", 47.6062, -122.3321, -480),
    p("Dallas", "US", "TX", 32.7767, -96.7970, -360),
    p("Boston", "US", "MA", 42.3601, -71.0589, -300),
    // Places nobody lives in: trips, attackers, hubs.
    p("Jakarta", "ID", "JK", -6.2088, 106.8456, 420),
    p("Melbourne", "AU", "VIC", -37.8136, 144.9631, 600),
    p("Warsaw", "PL", "14", 52.2297, 21.0122, 60),
    p("Istanbul", "TR", "34", 41.0082, 28.9784, 180),
    p("Cairo", "EG", "C", 30.0444, 31.2357, 120),
    p("Nairobi", "KE", "30", -1.2921, 36.8219, 180),
    p("Mexico City", "MX", "CMX", 19.4326, -99.1332, -360),
    p("Buenos Aires", "AR", "C", -34.6037, -58.3816, -180),
    p("Vancouver", "CA", "BC", 49.2827, -123.1207, -480),
    p("Delhi", "IN", "DL", 28.7041, 77.1025, 330),
    p("Riyadh", "SA", "01", 24.7136, 46.6753, 180),
    p("Hanoi", "VN", "HN", 21.0278, 105.8342, 420),
];

/// Users live in the first this-many places (9 of them in China).
pub const HOME_PLACES: usize = 20;

/// What an operator sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Home broadband (also what residential proxies rent out).
    Broadband,
    /// Mobile carrier: CGNAT pools in hub places only.
    Carrier,
    /// Leased lines of companies (office NAT egress).
    Enterprise,
    /// Clouds, VPS and VPN exits.
    Cloud,
}

/// An autonomous system.
#[derive(Debug, Clone, Copy)]
pub struct Operator {
    /// AS number.
    pub asn: u32,
    /// AS organisation, as GeoLite2-ASN would name it.
    pub org: &'static str,
    /// What it sells.
    pub role: Role,
    /// Countries it serves (empty: the cloud places of every country).
    pub countries: &'static [&'static str],
}

const fn o(
    asn: u32,
    org: &'static str,
    role: Role,
    countries: &'static [&'static str],
) -> Operator {
    Operator {
        asn,
        org,
        role,
        countries,
    }
}

use Role::*;

/// The operators.
pub const OPERATORS: &[Operator] = &[
    o(58461, "CT-HangZhou-IDC", Broadband, &["CN"]),
    o(
        17816,
        "China Unicom IP network China169 Guangdong",
        Broadband,
        &["CN"],
    ),
    o(9808, "China Mobile Guangdong", Carrier, &["CN"]),
    o(17621, "China Unicom Shanghai network", Carrier, &["CN"]),
    o(4847, "China Networks Inter-Exchange", Enterprise, &["CN"]),
    o(
        3462,
        "Data Communication Business Group",
        Broadband,
        &["TW"],
    ),
    o(17676, "SoftBank Corp.", Broadband, &["JP"]),
    o(23969, "TOT Public Company Limited", Broadband, &["TH"]),
    o(
        4788,
        "TM Net, Internet Service Provider",
        Broadband,
        &["MY"],
    ),
    o(3209, "Vodafone GmbH", Broadband, &["DE"]),
    o(6805, "Telefonica Germany", Carrier, &["DE"]),
    o(3352, "TELEFONICA DE ESPANA", Broadband, &["ES"]),
    o(1257, "Tele2 Sverige AB", Broadband, &["SE"]),
    o(701, "UUNET", Broadband, &["US"]),
    o(
        22394,
        "Cellco Partnership DBA Verizon Wireless",
        Carrier,
        &["US"],
    ),
    o(3356, "Level 3 Parent, LLC", Enterprise, &["US", "DE"]),
    o(17974, "PT Telekomunikasi Indonesia", Broadband, &["ID"]),
    o(4804, "Microplex PTY LTD", Broadband, &["AU"]),
    o(5617, "Orange Polska Spolka Akcyjna", Broadband, &["PL"]),
    o(
        9121,
        "Turk Telekomunikasyon Anonim Sirketi",
        Broadband,
        &["TR"],
    ),
    o(8452, "TE-AS", Broadband, &["EG"]),
    o(33771, "Safaricom Limited", Carrier, &["KE"]),
    o(8151, "UNINET", Broadband, &["MX"]),
    o(7303, "Telecom Argentina S.A.", Broadband, &["AR"]),
    o(6327, "Shaw Communications Inc.", Broadband, &["CA"]),
    o(9829, "National Internet Backbone", Broadband, &["IN"]),
    o(25019, "Saudi Telecom Company JSC", Broadband, &["SA"]),
    o(7552, "Viettel Group", Broadband, &["VN"]),
    o(63949, "Akamai Connected Cloud", Cloud, &[]),
    o(136907, "HUAWEI CLOUDS", Cloud, &["CN", "TH", "MY", "ID"]),
    o(51167, "Contabo GmbH", Cloud, &["DE", "US", "JP"]),
    o(60068, "Datacamp Limited", Cloud, &[]),
    o(
        212238,
        "Datacamp VPN exits",
        Cloud,
        &["JP", "TW", "US", "DE", "SE"],
    ),
];

/// One allocation: an operator's IPv4 /20 (and IPv6 /32) registered in a place.
#[derive(Debug, Clone, Copy)]
pub struct Allocation {
    /// Index into [`OPERATORS`].
    pub op: usize,
    /// Index into [`PLACES`].
    pub place: usize,
    /// Network address of the /20.
    pub v4: u32,
    /// First 32 bits of the IPv6 /32, for broadband and carriers.
    pub v6: Option<u32>,
}

/// The address plan.
#[derive(Debug, Clone)]
pub struct Atlas {
    /// Every allocation.
    pub allocs: Vec<Allocation>,
}

/// Carrier hubs: the places of a country where its carriers register pools.
fn is_hub(place: usize) -> bool {
    // Two hubs per large country, one elsewhere.
    matches!(
        PLACES[place].name,
        "Beijing" | "Shanghai" | "Hamburg" | "Dallas" | "Seattle" | "Nairobi"
    )
}

fn is_cloud_place(place: usize) -> bool {
    matches!(
        PLACES[place].name,
        "Shanghai"
            | "Osaka"
            | "Taipei"
            | "Kuala Lumpur"
            | "Munich"
            | "Stockholm"
            | "Dallas"
            | "Seattle"
            | "Warsaw"
            | "Bangkok"
            | "Jakarta"
    )
}

impl Atlas {
    /// The deterministic plan: 36.0.0.0 onwards in /20 steps, skipping
    /// every 7th /20 so the plan is not one contiguous run.
    pub fn new() -> Self {
        let mut allocs = Vec::new();
        let mut next: u32 = u32::from(Ipv4Addr::new(36, 0, 0, 0));
        let mut next6: u32 = 0x2a0c_0000;
        let mut k = 0u32;
        for (oi, op) in OPERATORS.iter().enumerate() {
            for (pi, place) in PLACES.iter().enumerate() {
                let serves = if op.countries.is_empty() {
                    is_cloud_place(pi)
                } else {
                    op.countries.contains(&place.country)
                        && match op.role {
                            Carrier => {
                                is_hub(pi)
                                    || !PLACES
                                        .iter()
                                        .enumerate()
                                        .any(|(h, q)| q.country == place.country && is_hub(h))
                            }
                            Cloud => is_cloud_place(pi),
                            _ => true,
                        }
                };
                if !serves {
                    continue;
                }
                let blocks = if matches!(op.role, Broadband | Carrier) {
                    2
                } else {
                    1
                };
                for _ in 0..blocks {
                    k += 1;
                    if k.is_multiple_of(7) {
                        next += 1 << 12;
                    }
                    let v6 = matches!(op.role, Broadband | Carrier).then(|| {
                        next6 += 3;
                        next6
                    });
                    allocs.push(Allocation {
                        op: oi,
                        place: pi,
                        v4: next,
                        v6,
                    });
                    next += 1 << 12;
                }
            }
        }
        Atlas { allocs }
    }

    /// Allocations of operators with `role` registered in `place`.
    pub fn in_place(&self, place: usize, role: Role) -> Vec<usize> {
        (0..self.allocs.len())
            .filter(|&a| self.allocs[a].place == place && OPERATORS[self.allocs[a].op].role == role)
            .collect()
    }

    /// Allocations of operators with `role` anywhere in `country`.
    pub fn in_country(&self, country: &str, role: Role) -> Vec<usize> {
        (0..self.allocs.len())
            .filter(|&a| {
                PLACES[self.allocs[a].place].country == country
                    && OPERATORS[self.allocs[a].op].role == role
            })
            .collect()
    }

    /// The allocations of one operator (its pools, for a carrier).
    pub fn of_operator(&self, op: usize) -> Vec<usize> {
        (0..self.allocs.len())
            .filter(|&a| self.allocs[a].op == op)
            .collect()
    }

    /// Allocations of `role` anywhere.
    pub fn of_role(&self, role: Role) -> Vec<usize> {
        (0..self.allocs.len())
            .filter(|&a| OPERATORS[self.allocs[a].op].role == role)
            .collect()
    }

    /// A random allocation of `role` in `place`, else in its country.
    pub fn pick(&self, place: usize, role: Role, rng: &mut impl Rng) -> Option<usize> {
        self.in_place(place, role).choose(rng).copied().or_else(|| {
            self.in_country(PLACES[place].country, role)
                .choose(rng)
                .copied()
        })
    }

    /// Address number `host` (0..4096) of allocation `a`, or a random one.
    pub fn v4(&self, a: usize, host: Option<u32>, rng: &mut impl Rng) -> IpAddr {
        let h = host.unwrap_or_else(|| rng.gen_range(0..4096));
        // Avoid .0 and .255 in the last octet.
        let h = (h & !0xff) | ((h & 0xff) % 253 + 1);
        IpAddr::V4(Ipv4Addr::from(self.allocs[a].v4 | (h & 0xfff)))
    }

    /// An IPv6 address of allocation `a` in its /48 number `site`, when it has IPv6.
    pub fn v6(&self, a: usize, site: u16, rng: &mut impl Rng) -> Option<IpAddr> {
        let p = self.allocs[a].v6?;
        let hi = (u128::from(p) << 96) | (u128::from(site) << 80);
        Some(IpAddr::V6(Ipv6Addr::from(
            hi | u128::from(rng.r#gen::<u64>()),
        )))
    }

    /// The place an address of allocation `a` is registered in.
    pub fn place_of(&self, a: usize) -> &'static Place {
        &PLACES[self.allocs[a].place]
    }

    /// The GeoLite2-City-schema database.
    pub fn city_db(&self, build_epoch: u64) -> Result<Vec<u8>> {
        let mut w = MmdbWriter::new(
            "GeoLite2-City",
            "Tollgate held-out generator GeoLite2-City-schema database",
        );
        for a in &self.allocs {
            let place = PLACES[a.place];
            let accuracy = match OPERATORS[a.op].role {
                Broadband => 10,
                Enterprise => 5,
                Carrier => 500,
                Cloud => 50,
            };
            let rec = MmdbValue::map([
                (
                    "city",
                    MmdbValue::map([
                        ("geoname_id", MmdbValue::U32(7000 + a.place as u32)),
                        (
                            "names",
                            MmdbValue::map([("en", MmdbValue::Str(place.name.into()))]),
                        ),
                    ]),
                ),
                (
                    "country",
                    MmdbValue::map([
                        ("iso_code", MmdbValue::Str(place.country.into())),
                        (
                            "names",
                            MmdbValue::map([("en", MmdbValue::Str(place.country.into()))]),
                        ),
                    ]),
                ),
                (
                    "location",
                    MmdbValue::map([
                        ("accuracy_radius", MmdbValue::U16(accuracy)),
                        ("latitude", MmdbValue::F64(place.lat)),
                        ("longitude", MmdbValue::F64(place.lon)),
                    ]),
                ),
                (
                    "subdivisions",
                    MmdbValue::Array(vec![MmdbValue::map([(
                        "iso_code",
                        MmdbValue::Str(place.region.into()),
                    )])]),
                ),
            ]);
            self.insert(&mut w, a, &rec)?;
        }
        Ok(w.to_bytes(build_epoch))
    }

    /// The GeoLite2-ASN-schema database.
    pub fn asn_db(&self, build_epoch: u64) -> Result<Vec<u8>> {
        let mut w = MmdbWriter::new(
            "GeoLite2-ASN",
            "Tollgate held-out generator GeoLite2-ASN-schema database",
        );
        for a in &self.allocs {
            let op = OPERATORS[a.op];
            let rec = MmdbValue::map([
                ("autonomous_system_number", MmdbValue::U32(op.asn)),
                (
                    "autonomous_system_organization",
                    MmdbValue::Str(op.org.into()),
                ),
            ]);
            self.insert(&mut w, a, &rec)?;
        }
        Ok(w.to_bytes(build_epoch))
    }

    fn insert(&self, w: &mut MmdbWriter, a: &Allocation, rec: &MmdbValue) -> Result<()> {
        w.insert(IpAddr::V4(Ipv4Addr::from(a.v4)), 20, rec)?;
        if let Some(p) = a.v6 {
            w.insert(IpAddr::V6(Ipv6Addr::from(u128::from(p) << 96)), 32, rec)?;
        }
        Ok(())
    }
}

impl Default for Atlas {
    fn default() -> Self {
        Atlas::new()
    }
}

/// Great-circle distance in km between two places.
pub fn km(a: &Place, b: &Place) -> f64 {
    crate::travel::haversine_km((a.lat, a.lon), (b.lat, b.lon))
}
