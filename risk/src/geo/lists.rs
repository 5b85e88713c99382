//! Hosting and anonymising network lists.
//!
//! Logins from data centres and VPN exits are more common for attackers
//! than for employees at home, but many legitimate users use VPNs, so this
//! is one feature among many, never a verdict. ASNs come from list files
//! (one ASN per line, optional `AS` prefix, `#` comments) and, so that the
//! feature works with any ASN database out of the box, from keywords in the
//! AS organisation name.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Result, RiskError};

/// Organisation-name keywords that mark hosting/VPN providers by default.
pub const DEFAULT_HOSTING_KEYWORDS: &[&str] = &[
    "hosting",
    "cloud",
    "datacenter",
    "data center",
    "server",
    "vps",
    "vpn",
    "colo",
    "amazon",
    "digitalocean",
    "ovh",
    "hetzner",
    "linode",
    "akamai",
    "vultr",
    "choopa",
    "m247",
    "leaseweb",
    "contabo",
    "alibaba",
    "tencent",
    "proxy",
];

/// Known hosting and anonymising networks.
#[derive(Debug, Clone)]
pub struct NetworkLists {
    /// ASNs of hosting / cloud providers.
    pub hosting: HashSet<u32>,
    /// ASNs of VPN, proxy and Tor exit providers.
    pub anonymizing: HashSet<u32>,
    /// Lower-case keywords matched against the AS organisation name.
    pub keywords: Vec<String>,
    /// The organisation's own egress networks (`risk.corporate_egress`):
    /// a login from one of them is never impossible travel.
    pub corporate: Vec<crate::cidr::Cidr>,
}

impl Default for NetworkLists {
    fn default() -> Self {
        NetworkLists {
            hosting: HashSet::new(),
            anonymizing: HashSet::new(),
            keywords: DEFAULT_HOSTING_KEYWORDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            corporate: Vec::new(),
        }
    }
}

impl NetworkLists {
    /// Parses a list file's text; `origin` names the file in errors.
    pub fn parse_asns(text: &str, origin: &str) -> Result<HashSet<u32>> {
        let mut out = HashSet::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let digits = line
                .strip_prefix("AS")
                .or_else(|| line.strip_prefix("as"))
                .unwrap_or(line);
            let asn = digits.parse::<u32>().map_err(|_| {
                RiskError::Policy(format!("{origin}:{}: not an ASN: {line:?}", i + 1))
            })?;
            out.insert(asn);
        }
        Ok(out)
    }

    /// Adds the ASNs of a hosting list file.
    pub fn load_hosting_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RiskError::Policy(format!("{}: {e}", path.display())))?;
        self.hosting
            .extend(Self::parse_asns(&text, &path.display().to_string())?);
        Ok(())
    }

    /// Adds the ASNs of an anonymising-network list file.
    pub fn load_anonymizing_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RiskError::Policy(format!("{}: {e}", path.display())))?;
        self.anonymizing
            .extend(Self::parse_asns(&text, &path.display().to_string())?);
        Ok(())
    }

    /// Whether the network is a listed VPN, proxy or Tor provider.
    pub fn is_anonymizing(&self, asn: Option<u32>, org: Option<&str>) -> bool {
        asn.is_some_and(|a| self.anonymizing.contains(&a))
            || org.is_some_and(|o| {
                let lower = o.to_ascii_lowercase();
                ["vpn", "proxy", "tor exit"]
                    .iter()
                    .any(|k| lower.contains(k))
            })
    }

    /// Whether the address is in the organisation's egress networks.
    pub fn is_corporate(&self, ip: std::net::IpAddr) -> bool {
        self.corporate.iter().any(|c| c.contains(ip))
    }

    /// Whether the network is a known hosting or anonymising provider.
    pub fn is_hosting(&self, asn: Option<u32>, org: Option<&str>) -> bool {
        if let Some(a) = asn
            && (self.hosting.contains(&a) || self.anonymizing.contains(&a))
        {
            return true;
        }
        match org {
            Some(o) => {
                let lower = o.to_ascii_lowercase();
                self.keywords.iter().any(|k| lower.contains(k.as_str()))
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(asn: Option<u32>, org: Option<&str>, expected: bool) {
        let lists = NetworkLists {
            hosting: NetworkLists::parse_asns("AS16509 # amazon\n\n14061\n", "t").unwrap(),
            ..NetworkLists::default()
        };
        assert_eq!(lists.is_hosting(asn, org), expected, "{asn:?} {org:?}");
    }

    #[test]
    fn hosting_by_list_or_keyword() {
        check(Some(16509), None, true);
        check(Some(14061), Some("x"), true);
        check(Some(4134), Some("CHINANET-BACKBONE"), false);
        check(Some(1), Some("Example VPN Services"), true);
        check(Some(2), Some("Hetzner Online GmbH"), true);
        check(None, None, false);
        assert!(
            NetworkLists::parse_asns("AS12x", "f")
                .unwrap_err()
                .to_string()
                .contains("f:1")
        );
    }
}
