//! IPv4/IPv6 CIDR blocks, parsed once and matched with integer masks.

use std::net::IpAddr;

/// One CIDR block. An IPv4-mapped IPv6 address matches IPv4 blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    /// IPv4 network and prefix length.
    V4(u32, u8),
    /// IPv6 network and prefix length.
    V6(u128, u8),
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or
    /// /128). Host bits are masked off.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
            None => (s.trim(), None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let len = len.unwrap_or(32);
                (len <= 32).then(|| Cidr::V4(u32::from(a) & mask32(len), len))
            }
            IpAddr::V6(a) => {
                let len = len.unwrap_or(128);
                (len <= 128).then(|| Cidr::V6(u128::from(a) & mask128(len), len))
            }
        }
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (*self, ip) {
            (Cidr::V4(net, len), IpAddr::V4(a)) => u32::from(a) & mask32(len) == net,
            (Cidr::V6(net, len), IpAddr::V6(a)) => u128::from(a) & mask128(len) == net,
            _ => false,
        }
    }

    /// Whether every address of `other` is inside `self`.
    pub fn covers(&self, other: &Cidr) -> bool {
        match (*self, *other) {
            (Cidr::V4(n, l), Cidr::V4(m, k)) => l <= k && m & mask32(l) == n,
            (Cidr::V6(n, l), Cidr::V6(m, k)) => l <= k && m & mask128(l) == n,
            _ => false,
        }
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_v4_v6_and_mapped_addresses() {
        let cases = [
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("0.0.0.0/0", "203.0.113.7", true),
            ("192.0.2.1", "192.0.2.1", true),
            ("192.0.2.1", "192.0.2.2", false),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
            ("10.0.0.0/8", "2001:db8::1", false),
        ];
        for (cidr, ip, want) in cases {
            let c = Cidr::parse(cidr).unwrap();
            assert_eq!(c.contains(ip.parse().unwrap()), want, "{cidr} ∋ {ip}");
        }
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "corp", "10.0.0.0/x"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        let big = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(big.covers(&Cidr::parse("10.1.0.0/16").unwrap()));
        assert!(!Cidr::parse("10.1.0.0/16").unwrap().covers(&big));
    }
}
