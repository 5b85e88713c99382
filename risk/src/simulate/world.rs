//! The simulated world: cities, networks, address blocks and the two
//! MaxMind-format databases that describe them.
//!
//! Every (network, city) pair owns one IPv4 /16 (and residential and mobile
//! networks also an IPv6 /32), so any address the simulator hands out
//! resolves to exactly one city and AS. One block per world is left out of
//! both databases to exercise "unknown" locations.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::Rng;

use crate::error::Result;
use crate::geo::mmdb_writer::{MmdbValue, MmdbWriter};

/// A city: name, ISO country, ISO subdivision, latitude, longitude, UTC offset (h).
#[derive(Debug, Clone, Copy)]
pub struct City {
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
    /// Local time offset from UTC, hours.
    pub utc_offset: i64,
}

const fn c(
    name: &'static str,
    country: &'static str,
    region: &'static str,
    lat: f64,
    lon: f64,
    utc_offset: i64,
) -> City {
    City {
        name,
        country,
        region,
        lat,
        lon,
        utc_offset,
    }
}

/// The cities of the world; the first [`CN_CITIES`] are in China.
pub const CITIES: &[City] = &[
    c("Beijing", "CN", "BJ", 39.9042, 116.4074, 8),
    c("Shanghai", "CN", "SH", 31.2304, 121.4737, 8),
    c("Shenzhen", "CN", "GD", 22.5431, 114.0579, 8),
    c("Guangzhou", "CN", "GD", 23.1291, 113.2644, 8),
    c("Chengdu", "CN", "SC", 30.5728, 104.0668, 8),
    c("Hangzhou", "CN", "ZJ", 30.2741, 120.1551, 8),
    c("Wuhan", "CN", "HB", 30.5928, 114.3055, 8),
    c("Xi'an", "CN", "SN", 34.3416, 108.9398, 8),
    c("Nanjing", "CN", "JS", 32.0603, 118.7969, 8),
    c("Tianjin", "CN", "TJ", 39.3434, 117.3616, 8),
    c("Hong Kong", "HK", "HCW", 22.3193, 114.1694, 8),
    c("Tokyo", "JP", "13", 35.6762, 139.6503, 9),
    c("Seoul", "KR", "11", 37.5665, 126.9780, 9),
    c("Singapore", "SG", "01", 1.3521, 103.8198, 8),
    c("Sydney", "AU", "NSW", -33.8688, 151.2093, 10),
    c("Frankfurt", "DE", "HE", 50.1109, 8.6821, 1),
    c("Berlin", "DE", "BE", 52.5200, 13.4050, 1),
    c("London", "GB", "ENG", 51.5072, -0.1276, 0),
    c("Paris", "FR", "IDF", 48.8566, 2.3522, 1),
    c("Amsterdam", "NL", "NH", 52.3676, 4.9041, 1),
    c("Moscow", "RU", "MOW", 55.7558, 37.6173, 3),
    c("New York", "US", "NY", 40.7128, -74.0060, -5),
    c("San Francisco", "US", "CA", 37.7749, -122.4194, -8),
    c("Chicago", "US", "IL", 41.8781, -87.6298, -6),
    c("Toronto", "CA", "ON", 43.6532, -79.3832, -5),
    c("Sao Paulo", "BR", "SP", -23.5558, -46.6396, -3),
    c("Mumbai", "IN", "MH", 19.0760, 72.8777, 5),
    c("Dubai", "AE", "DU", 25.2048, 55.2708, 4),
    c("Johannesburg", "ZA", "GT", -26.2041, 28.0473, 2),
    c("Lagos", "NG", "LA", 6.5244, 3.3792, 1),
];

/// Number of Chinese cities at the start of [`CITIES`].
pub const CN_CITIES: usize = 10;

/// What a network is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// Home broadband.
    Residential,
    /// Mobile carrier (CGNAT, coarse location).
    Mobile,
    /// Company network.
    Business,
    /// Data centre / VPN exit.
    Hosting,
}

/// An autonomous system present in some countries.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// AS number.
    pub asn: u32,
    /// AS organisation, as in GeoLite2-ASN.
    pub org: &'static str,
    /// Kind.
    pub kind: NetKind,
    /// Countries where it has blocks (empty = everywhere).
    pub countries: &'static [&'static str],
}

const fn n(
    asn: u32,
    org: &'static str,
    kind: NetKind,
    countries: &'static [&'static str],
) -> Network {
    Network {
        asn,
        org,
        kind,
        countries,
    }
}

use NetKind::*;

/// The networks of the world.
pub const NETWORKS: &[Network] = &[
    n(4134, "CHINANET-BACKBONE", Residential, &["CN"]),
    n(4837, "CHINA UNICOM China169 Backbone", Residential, &["CN"]),
    n(
        56046,
        "China Mobile Communications Group Co., Ltd.",
        Mobile,
        &["CN"],
    ),
    n(
        4538,
        "China Education and Research Network Center",
        Business,
        &["CN"],
    ),
    n(4812, "China Telecom (Group)", Business, &["CN"]),
    n(4760, "HKT Limited", Residential, &["HK"]),
    n(2516, "KDDI CORPORATION", Residential, &["JP"]),
    n(4766, "Korea Telecom", Residential, &["KR"]),
    n(9506, "Singtel Fibre Broadband", Residential, &["SG"]),
    n(1221, "Telstra Limited", Residential, &["AU"]),
    n(3320, "Deutsche Telekom AG", Residential, &["DE"]),
    n(2856, "British Telecommunications PLC", Residential, &["GB"]),
    n(3215, "Orange", Residential, &["FR"]),
    n(1136, "KPN B.V.", Residential, &["NL"]),
    n(12389, "PJSC Rostelecom", Residential, &["RU"]),
    n(7922, "COMCAST-7922", Residential, &["US"]),
    n(21928, "T-MOBILE-AS21928", Mobile, &["US"]),
    n(812, "ROGERS-COMMUNICATIONS", Residential, &["CA"]),
    n(
        28573,
        "Claro NXT Telecomunicacoes Ltda",
        Residential,
        &["BR"],
    ),
    n(55836, "Reliance Jio Infocomm Limited", Mobile, &["IN"]),
    n(
        5384,
        "Emirates Telecommunications Group Company (etisalat group) PJSC",
        Residential,
        &["AE"],
    ),
    n(3741, "Internet Solutions", Residential, &["ZA"]),
    n(29465, "MTN NIGERIA Communication limited", Mobile, &["NG"]),
    n(16509, "AMAZON-02", Hosting, &[]),
    n(14061, "DIGITALOCEAN-ASN", Hosting, &[]),
    n(24940, "Hetzner Online GmbH", Hosting, &["DE"]),
    n(
        16276,
        "OVH SAS",
        Hosting,
        &["FR", "DE", "GB", "CA", "SG", "AU"],
    ),
    n(
        45102,
        "Alibaba US Technology Co., Ltd.",
        Hosting,
        &["CN", "HK", "SG", "US", "DE", "JP"],
    ),
    n(
        132203,
        "Tencent Building, Kejizhongyi Avenue",
        Hosting,
        &["CN", "HK", "SG"],
    ),
    n(
        9009,
        "M247 Europe SRL",
        Hosting,
        &["GB", "NL", "DE", "FR", "US", "HK", "JP", "SG", "AE", "BR"],
    ),
    n(
        20473,
        "AS-CHOOPA",
        Hosting,
        &["US", "JP", "SG", "NL", "GB", "AU"],
    ),
];

/// One address block: a (network, city) pair.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// Index into [`NETWORKS`].
    pub net: usize,
    /// Index into [`CITIES`].
    pub city: usize,
    /// First two octets of the IPv4 /16.
    pub v4: [u8; 2],
    /// IPv6 /32 as its first 32 bits, when the network has one.
    pub v6: Option<u32>,
}

/// All blocks, plus the unknown block.
#[derive(Debug, Clone)]
pub struct World {
    /// Located blocks.
    pub blocks: Vec<Block>,
    /// A /16 that is in neither database.
    pub unknown_v4: [u8; 2],
}

impl World {
    /// Builds the deterministic world.
    pub fn new() -> Self {
        let mut blocks = Vec::new();
        let mut next: u16 = 11 * 256; // 11.0.0.0/16 onwards, one /16 each
        let mut next6: u32 = 0x2400_0000;
        for (ni, net) in NETWORKS.iter().enumerate() {
            for (ci, city) in CITIES.iter().enumerate() {
                if !net.countries.is_empty() && !net.countries.contains(&city.country) {
                    continue;
                }
                if net.countries.is_empty() && ci % 3 != 0 && ci >= CN_CITIES {
                    continue; // global clouds are in some cities only
                }
                let v6 = matches!(net.kind, Residential | Mobile).then(|| {
                    next6 += 1;
                    next6
                });
                blocks.push(Block {
                    net: ni,
                    city: ci,
                    v4: next.to_be_bytes(),
                    v6,
                });
                next += 1;
            }
        }
        World {
            blocks,
            unknown_v4: next.to_be_bytes(),
        }
    }

    /// Blocks of a kind in a city.
    pub fn blocks_in(&self, city: usize, kind: NetKind) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&b| self.blocks[b].city == city && NETWORKS[self.blocks[b].net].kind == kind)
            .collect()
    }

    /// Blocks of a kind anywhere.
    pub fn blocks_of(&self, kind: NetKind) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&b| NETWORKS[self.blocks[b].net].kind == kind)
            .collect()
    }

    /// Blocks of a network (by index) in a city.
    pub fn block_of(&self, net: usize, city: usize) -> Option<usize> {
        (0..self.blocks.len()).find(|&b| self.blocks[b].net == net && self.blocks[b].city == city)
    }

    /// A random address in `block`'s /24 number `subnet` (or a random /24).
    pub fn address(
        &self,
        block: usize,
        subnet: Option<u8>,
        v6: bool,
        rng: &mut impl Rng,
    ) -> IpAddr {
        let b = &self.blocks[block];
        match (v6, b.v6) {
            (true, Some(p)) => {
                let s = subnet.unwrap_or_else(|| rng.r#gen());
                let hi = (u128::from(p) << 96) | (u128::from(s) << 80);
                IpAddr::V6(Ipv6Addr::from(hi | u128::from(rng.r#gen::<u64>())))
            }
            _ => {
                let s = subnet.unwrap_or_else(|| rng.r#gen());
                IpAddr::V4(Ipv4Addr::new(b.v4[0], b.v4[1], s, rng.gen_range(1..255)))
            }
        }
    }

    /// A random address nobody can locate.
    pub fn unknown_address(&self, rng: &mut impl Rng) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(
            self.unknown_v4[0],
            self.unknown_v4[1],
            rng.r#gen(),
            rng.gen_range(1..255),
        ))
    }

    /// The GeoLite2-City-schema database of this world.
    pub fn city_db(&self, build_epoch: u64) -> Result<Vec<u8>> {
        let mut w = MmdbWriter::new(
            "GeoLite2-City",
            "Tollgate simulator GeoLite2-City-schema database",
        );
        for b in &self.blocks {
            let city = CITIES[b.city];
            let accuracy = match NETWORKS[b.net].kind {
                Residential | Business => 20,
                Mobile => 200,
                Hosting => 100,
            };
            let rec = MmdbValue::map([
                (
                    "city",
                    MmdbValue::map([
                        ("geoname_id", MmdbValue::U32(1000 + b.city as u32)),
                        (
                            "names",
                            MmdbValue::map([("en", MmdbValue::Str(city.name.into()))]),
                        ),
                    ]),
                ),
                (
                    "country",
                    MmdbValue::map([
                        ("iso_code", MmdbValue::Str(city.country.into())),
                        (
                            "names",
                            MmdbValue::map([("en", MmdbValue::Str(city.country.into()))]),
                        ),
                    ]),
                ),
                (
                    "location",
                    MmdbValue::map([
                        ("accuracy_radius", MmdbValue::U16(accuracy)),
                        ("latitude", MmdbValue::F64(city.lat)),
                        ("longitude", MmdbValue::F64(city.lon)),
                    ]),
                ),
                (
                    "subdivisions",
                    MmdbValue::Array(vec![MmdbValue::map([(
                        "iso_code",
                        MmdbValue::Str(city.region.into()),
                    )])]),
                ),
            ]);
            w.insert(IpAddr::V4(Ipv4Addr::new(b.v4[0], b.v4[1], 0, 0)), 16, &rec)?;
            if let Some(p) = b.v6 {
                w.insert(IpAddr::V6(Ipv6Addr::from(u128::from(p) << 96)), 32, &rec)?;
            }
        }
        Ok(w.to_bytes(build_epoch))
    }

    /// The GeoLite2-ASN-schema database of this world.
    pub fn asn_db(&self, build_epoch: u64) -> Result<Vec<u8>> {
        let mut w = MmdbWriter::new(
            "GeoLite2-ASN",
            "Tollgate simulator GeoLite2-ASN-schema database",
        );
        for b in &self.blocks {
            let net = NETWORKS[b.net];
            let rec = MmdbValue::map([
                ("autonomous_system_number", MmdbValue::U32(net.asn)),
                (
                    "autonomous_system_organization",
                    MmdbValue::Str(net.org.into()),
                ),
            ]);
            w.insert(IpAddr::V4(Ipv4Addr::new(b.v4[0], b.v4[1], 0, 0)), 16, &rec)?;
            if let Some(p) = b.v6 {
                w.insert(IpAddr::V6(Ipv6Addr::from(u128::from(p) << 96)), 32, &rec)?;
            }
        }
        Ok(w.to_bytes(build_epoch))
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}
