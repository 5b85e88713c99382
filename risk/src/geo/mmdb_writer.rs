//! A small writer for the MaxMind DB binary format (version 2.0).
//!
//! Written from the published "MaxMind DB File Format Specification" so the
//! simulator and the tests can produce GeoLite2-City and GeoLite2-ASN schema
//! files that the `maxminddb` crate reads back. It supports what those
//! schemas need: an IPv6 tree (IPv4 networks live under `::/96`), 32-bit
//! records, and the map/array/string/double/unsigned/boolean data types.
//! It is not a general-purpose tool: no pointers, no data de-duplication
//! across equal maps other than by identical insertion value.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::error::{Result, RiskError};

/// A value in the MMDB data section.
#[derive(Debug, Clone, PartialEq)]
pub enum MmdbValue {
    /// UTF-8 string (type 2).
    Str(String),
    /// IEEE-754 double (type 3).
    F64(f64),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Map with string keys (type 7), written in the given order.
    Map(Vec<(String, MmdbValue)>),
    /// Array (type 11).
    Array(Vec<MmdbValue>),
    /// Boolean (type 14).
    Bool(bool),
}

impl MmdbValue {
    /// Convenience constructor for maps from `&str` keys.
    pub fn map<const N: usize>(entries: [(&str, MmdbValue); N]) -> Self {
        MmdbValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Record {
    Empty,
    Node(u32),
    Data(u32),
}

/// Builds one database in memory; [`MmdbWriter::to_bytes`] serialises it.
#[derive(Debug)]
pub struct MmdbWriter {
    database_type: String,
    description: String,
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl MmdbWriter {
    /// A new, empty IPv6 database of the given `database_type`
    /// (e.g. `GeoLite2-City`, `GeoLite2-ASN`).
    pub fn new(database_type: &str, description: &str) -> Self {
        MmdbWriter {
            database_type: database_type.to_owned(),
            description: description.to_owned(),
            nodes: vec![[Record::Empty, Record::Empty]],
            data: Vec::new(),
            offsets: HashMap::new(),
        }
    }

    /// Maps `network/prefix_len` to `value`. IPv4 networks are stored under
    /// `::/96` as the format requires for IPv6 databases. Later inserts of a
    /// more specific network override the covered part of an earlier one.
    pub fn insert(&mut self, network: IpAddr, prefix_len: u8, value: &MmdbValue) -> Result<()> {
        let (bits, len) = match network {
            IpAddr::V4(v4) if prefix_len <= 32 => (u128::from(u32::from(v4)), 96 + prefix_len),
            IpAddr::V6(v6) if prefix_len <= 128 => (u128::from(v6), prefix_len),
            _ => {
                return Err(RiskError::Io(std::io::Error::other(format!(
                    "invalid prefix length /{prefix_len} for {network}"
                ))));
            }
        };
        if len == 0 {
            return Err(RiskError::Io(std::io::Error::other("cannot insert ::/0")));
        }
        let offset = self.data_offset(value);
        let mut node = 0usize;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth + 1 == len {
                self.nodes[node][bit] = Record::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Record::Node(next) => next as usize,
                other => {
                    let next = self.nodes.len();
                    // Splitting a data record keeps it on both halves.
                    let fill = if matches!(other, Record::Data(_)) {
                        other
                    } else {
                        Record::Empty
                    };
                    self.nodes.push([fill, fill]);
                    self.nodes[node][bit] = Record::Node(next as u32);
                    next
                }
            };
        }
        Ok(())
    }

    fn data_offset(&mut self, value: &MmdbValue) -> u32 {
        let key = format!("{value:?}");
        if let Some(&off) = self.offsets.get(&key) {
            return off;
        }
        let off = self.data.len() as u32;
        encode(&mut self.data, value);
        self.offsets.insert(key, off);
        off
    }

    /// The complete file: search tree, 16-byte separator, data section,
    /// metadata marker and metadata. `build_epoch` is passed in (no clock).
    pub fn to_bytes(&self, build_epoch: u64) -> Vec<u8> {
        let node_count = self.nodes.len() as u32;
        let mut out = Vec::with_capacity(self.nodes.len() * 8 + self.data.len() + 512);
        for pair in &self.nodes {
            for rec in pair {
                let v = match *rec {
                    Record::Empty => node_count,
                    Record::Node(i) => i,
                    Record::Data(off) => node_count + 16 + off,
                };
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let meta = MmdbValue::map([
            ("binary_format_major_version", MmdbValue::U16(2)),
            ("binary_format_minor_version", MmdbValue::U16(0)),
            ("build_epoch", MmdbValue::U64(build_epoch)),
            ("database_type", MmdbValue::Str(self.database_type.clone())),
            (
                "description",
                MmdbValue::map([("en", MmdbValue::Str(self.description.clone()))]),
            ),
            ("ip_version", MmdbValue::U16(6)),
            (
                "languages",
                MmdbValue::Array(vec![MmdbValue::Str("en".into())]),
            ),
            ("node_count", MmdbValue::U32(node_count)),
            ("record_size", MmdbValue::U16(32)),
        ]);
        encode(&mut out, &meta);
        out
    }
}

/// Control byte(s): type in the top three bits (or an extended type byte),
/// payload size in the low five bits with 1–3 extension bytes.
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) {
    let (bits, ext): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 285 {
        (29, vec![(size - 29) as u8])
    } else if size < 65_821 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    };
    if type_num <= 7 {
        out.push((type_num << 5) | bits);
    } else {
        out.push(bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&ext);
}

fn unsigned(out: &mut Vec<u8>, type_num: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, type_num, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, value: &MmdbValue) {
    match value {
        MmdbValue::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        MmdbValue::F64(f) => {
            control(out, 3, 8);
            out.extend_from_slice(&f.to_be_bytes());
        }
        MmdbValue::U16(v) => unsigned(out, 5, u64::from(*v)),
        MmdbValue::U32(v) => unsigned(out, 6, u64::from(*v)),
        MmdbValue::U64(v) => unsigned(out, 9, *v),
        MmdbValue::Map(entries) => {
            control(out, 7, entries.len());
            for (k, v) in entries {
                encode(out, &MmdbValue::Str(k.clone()));
                encode(out, v);
            }
        }
        MmdbValue::Array(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
        MmdbValue::Bool(b) => control(out, 14, usize::from(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: MmdbValue, expected: &[u8]) {
        let mut out = Vec::new();
        encode(&mut out, &value);
        assert_eq!(out, expected, "{value:?}");
    }

    #[test]
    fn encodes_values_as_the_spec_examples_do() {
        check(MmdbValue::U16(0), &[0xa0]);
        check(MmdbValue::U16(500), &[0xa2, 0x01, 0xf4]);
        check(MmdbValue::U32(1), &[0xc1, 0x01]);
        check(MmdbValue::U64(1), &[0x01, 0x02, 0x01]);
        check(MmdbValue::Bool(true), &[0x01, 0x07]);
        check(MmdbValue::Str("en".into()), &[0x42, b'e', b'n']);
        check(MmdbValue::Array(vec![]), &[0x00, 0x04]);
        check(
            MmdbValue::Str("a".repeat(29)),
            &[[0x5d, 0x00].as_slice(), "a".repeat(29).as_bytes()].concat(),
        );
        check(MmdbValue::F64(1.0), &[0x68, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        check(
            MmdbValue::map([("a", MmdbValue::U16(1))]),
            &[0xe1, 0x41, b'a', 0xa1, 0x01],
        );
    }

    #[test]
    fn written_database_reads_back_with_maxminddb() {
        let mut w = MmdbWriter::new("Test-ASN", "test");
        let v4 = MmdbValue::map([("autonomous_system_number", MmdbValue::U32(64500))]);
        let v6 = MmdbValue::map([("autonomous_system_number", MmdbValue::U32(64501))]);
        w.insert("11.0.0.0".parse().unwrap(), 16, &v4).unwrap();
        w.insert("2001:db8::".parse().unwrap(), 32, &v6).unwrap();
        let reader = maxminddb::Reader::from_source(w.to_bytes(1_700_000_000)).unwrap();
        let cases = [
            ("11.0.200.3", Some(64500)),
            ("11.1.0.1", None),
            ("2001:db8::9", Some(64501)),
            ("::1", None),
        ];
        for (ip, want) in cases {
            let got: Option<maxminddb::geoip2::Asn> = reader
                .lookup(ip.parse().unwrap())
                .unwrap()
                .decode()
                .unwrap();
            assert_eq!(got.and_then(|a| a.autonomous_system_number), want, "{ip}");
        }
        assert_eq!(reader.metadata().database_type, "Test-ASN");
    }
}
