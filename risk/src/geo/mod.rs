//! Geolocation and network ownership from MaxMind-format databases.
//!
//! Two files are read, one with the GeoLite2-City schema and one with the
//! GeoLite2-ASN schema, both given by path so the same events can be scored
//! against any database. Lookups never fail for an address that the
//! database does not know: the result is simply "unknown" (empty
//! [`GeoInfo`]). A missing or corrupt file is a [`RiskError::GeoDatabase`]
//! naming the file.
//!
//! The files are read into memory rather than memory-mapped: `maxminddb`
//! exposes mapping only as an `unsafe fn` (a file truncated under the map is
//! undefined behaviour) and this crate forbids `unsafe`. A caller that wants
//! a mapping can pass any `AsRef<[u8]>` through [`Geo::from_sources`].

pub mod lists;
pub mod mmdb_writer;

use std::net::IpAddr;
use std::path::Path;

use maxminddb::Reader;
use serde::Deserialize;

use crate::error::{Result, RiskError};

pub use lists::NetworkLists;

/// Bytes of one database; lets callers hand in a memory map or a `Vec`.
pub struct GeoBytes(Box<dyn AsRef<[u8]> + Send + Sync>);

impl AsRef<[u8]> for GeoBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// What the databases say about one address; every field may be unknown.
/// Borrowed from the database, so a lookup allocates nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GeoInfo<'a> {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<&'a str>,
    /// First subdivision (region/province) ISO code.
    pub region: Option<&'a str>,
    /// English city name.
    pub city: Option<&'a str>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// MaxMind's accuracy radius in km (0 when unknown).
    pub accuracy_km: u16,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub org: Option<&'a str>,
}

impl GeoInfo<'_> {
    /// A short human label: "City, CC", "CC", or "unknown location".
    pub fn place(&self) -> String {
        match (self.city, self.country) {
            (Some(c), Some(cc)) => format!("{c}, {cc}"),
            (None, Some(cc)) => cc.to_owned(),
            (Some(c), None) => c.to_owned(),
            (None, None) => "unknown location".to_owned(),
        }
    }
}

#[derive(Deserialize, Default)]
struct NamesEn<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Named<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    names: NamesEn<'a>,
}

#[derive(Deserialize, Default)]
struct Location {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

#[derive(Deserialize, Default)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    city: Named<'a>,
    #[serde(borrow, default)]
    country: Named<'a>,
    #[serde(default)]
    location: Location,
    #[serde(borrow, default)]
    subdivisions: Vec<Named<'a>>,
}

#[derive(Deserialize, Default)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

/// The pair of databases the scorer uses.
pub struct Geo {
    city: Reader<GeoBytes>,
    asn: Reader<GeoBytes>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("city", &self.city.metadata().database_type)
            .field("asn", &self.asn.metadata().database_type)
            .finish()
    }
}

fn open_one(path: &Path) -> Result<Reader<GeoBytes>> {
    let bytes = std::fs::read(path).map_err(|e| RiskError::GeoDatabase {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    from_source(path, GeoBytes(Box::new(bytes)))
}

fn from_source(path: &Path, bytes: GeoBytes) -> Result<Reader<GeoBytes>> {
    let reader = Reader::from_source(bytes).map_err(|e| RiskError::GeoDatabase {
        path: path.to_owned(),
        message: format!("not a valid MaxMind DB file ({e})"),
    })?;
    // Walk the search tree once so a truncated file fails here, not mid-replay.
    reader.verify().map_err(|e| RiskError::GeoDatabase {
        path: path.to_owned(),
        message: format!("corrupt MaxMind DB file ({e})"),
    })?;
    Ok(reader)
}

impl Geo {
    /// Opens a GeoLite2-City-schema and a GeoLite2-ASN-schema file.
    pub fn open(city_path: &Path, asn_path: &Path) -> Result<Self> {
        Ok(Geo {
            city: open_one(city_path)?,
            asn: open_one(asn_path)?,
        })
    }

    /// Builds from bytes already in memory (or a caller-made memory map);
    /// the paths are used only in error messages.
    pub fn from_sources(
        city_path: &Path,
        city: impl AsRef<[u8]> + Send + Sync + 'static,
        asn_path: &Path,
        asn: impl AsRef<[u8]> + Send + Sync + 'static,
    ) -> Result<Self> {
        Ok(Geo {
            city: from_source(city_path, GeoBytes(Box::new(city)))?,
            asn: from_source(asn_path, GeoBytes(Box::new(asn)))?,
        })
    }

    /// Databases that know no address: every lookup is "unknown location,
    /// unknown network". For deployments without MaxMind files: the
    /// network and country signals then fall back to IP and prefix only.
    pub fn empty() -> Result<Self> {
        let city = mmdb_writer::MmdbWriter::new("GeoLite2-City", "empty").to_bytes(0);
        let asn = mmdb_writer::MmdbWriter::new("GeoLite2-ASN", "empty").to_bytes(0);
        let open = |bytes: Vec<u8>| {
            Reader::from_source(GeoBytes(Box::new(bytes))).map_err(|e| RiskError::GeoDatabase {
                path: "(empty)".into(),
                message: e.to_string(),
            })
        };
        Ok(Geo {
            city: open(city)?,
            asn: open(asn)?,
        })
    }

    /// Everything known about `ip`. Unknown or undecodable records give
    /// empty fields, never an error: an address must always be scorable.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo<'_> {
        let mut info = GeoInfo::default();
        if let Ok(res) = self.city.lookup(ip)
            && let Ok(Some(rec)) = res.decode::<CityRecord<'_>>()
        {
            info.country = rec.country.iso_code;
            info.region = rec.subdivisions.first().and_then(|s| s.iso_code);
            info.city = rec.city.names.en;
            info.lat = rec.location.latitude;
            info.lon = rec.location.longitude;
            info.accuracy_km = rec.location.accuracy_radius.unwrap_or(0);
        }
        if let Ok(res) = self.asn.lookup(ip)
            && let Ok(Some(rec)) = res.decode::<AsnRecord<'_>>()
        {
            info.asn = rec.autonomous_system_number;
            info.org = rec.autonomous_system_organization;
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_geo_knows_no_address() {
        let g = Geo::empty().unwrap();
        for ip in ["8.8.8.8", "2001:db8::1", "127.0.0.1"] {
            assert_eq!(g.lookup(ip.parse().unwrap()), GeoInfo::default(), "{ip}");
        }
    }
}
