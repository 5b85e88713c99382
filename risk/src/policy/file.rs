//! The policy file format: what a security team writes, as serde types.
//!
//! Every struct denies unknown keys, so a typo is an error with its
//! `file:line:col` instead of a silently ignored setting. Every section is
//! optional: a file that only has `rules_after:` runs on the default ladder
//! and bands. The JSON Schema for editors is generated from these types
//! ([`super::schema`]). Semantics live in [`super::compile`] and
//! [`super::decide`]; this module only describes the shape.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::thresholds::Thresholds;

use crate::duration::Duration;

/// One Tollgate policy file (docs/policy.md). Several files load as one
/// policy set, in order: levels, bands and risk may each appear in one
/// file only; rules are concatenated.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// `default` (also when absent): the set keeps the shipped
    /// `policies/default.yaml`, loaded first, its `levels`, `bands` and
    /// `risk` replaced by the set's own. `none`: the set is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<super::extends::Extends>,
    /// The assurance-level ladder, weakest first. Default: `aal1`, `aal2`,
    /// `phr`, `phrh` (see docs/policy.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<LevelSpec>>,
    /// Risk bands, by increasing `up_to`; the last must reach 100. Default:
    /// 0–30 allow, 31–70 require `aal2`, above 70 deny with revocation and
    /// an alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<BandSpec>>,
    /// Risk-scorer parameters (travel speed, hosting lists); the same
    /// section `tollgate risk score --policy` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub risk: Option<Thresholds>,
    /// Named lists that conditions refer to as `"@name"`.
    #[serde(default)]
    pub lists: ListsSpec,
    /// Rules evaluated before the risk bands; the first match is final and
    /// replaces the band outcome (the only way to loosen a band).
    #[serde(default)]
    pub rules_before: Vec<RuleSpec>,
    /// Rules evaluated after the bands; the first match is combined with
    /// the band outcome and the stronger wins (they can only tighten).
    #[serde(default)]
    pub rules_after: Vec<RuleSpec>,
}

/// Kinds of proven factor the ladder is written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A password (memorised secret).
    Pwd,
    /// A one-time password (TOTP, GM/T 0021). Never phishing-resistant.
    Otp,
    /// A synced (backup-eligible) passkey with user verification.
    PasskeySynced,
    /// A device-bound passkey (not backup-eligible) with user verification.
    PasskeyBound,
    /// The endpoint agent's key in software.
    DeviceSw,
    /// The endpoint agent's key held in a TPM 2.0.
    DeviceHw,
}

impl FactorKind {
    /// Every kind, in declaration order.
    pub const ALL: [FactorKind; 6] = [
        FactorKind::Pwd,
        FactorKind::Otp,
        FactorKind::PasskeySynced,
        FactorKind::PasskeyBound,
        FactorKind::DeviceSw,
        FactorKind::DeviceHw,
    ];

    /// The bit of this kind in a [`super::FactorSet`].
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Pwd => "pwd",
            FactorKind::Otp => "otp",
            FactorKind::PasskeySynced => "passkey_synced",
            FactorKind::PasskeyBound => "passkey_bound",
            FactorKind::DeviceSw => "device_sw",
            FactorKind::DeviceHw => "device_hw",
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// The name rules use (`require: phr`).
    pub name: String,
    /// The `acr` value in tokens and in `acr_values`; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Combinations of proven factor kinds that reach this level; any one
    /// combination suffices, and a combination needs all its kinds.
    pub factors: Vec<Vec<FactorKind>>,
    /// How long after `auth_time` a session still counts at this level
    /// (`15m`, `12h`, `30d` or seconds).
    pub max_age: Duration,
}

/// The shared verdict fields of a band or a rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictSpec {
    /// Let the request through with what the session has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
    /// Refuse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny: bool,
    /// Require at least this level (by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<String>,
    /// With `require`: the session's `auth_time` must be at most this old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// With `deny`: revoke the user's sessions and refresh-token families.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
    /// With `deny`: raise a security alert.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert: bool,
    /// Notification channels to tell (names the issuer maps to targets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

/// One risk band: scores up to `up_to` (inclusive) get this verdict.
///
/// The verdict fields are repeated here and in [`RuleSpec`] rather than
/// `#[serde(flatten)]`ed from [`VerdictSpec`]: serde cannot combine
/// `flatten` with `deny_unknown_fields`, and unknown keys must be errors.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BandSpec {
    /// Highest score in the band, 0–100.
    pub up_to: u8,
    /// Let the request through.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
    /// Refuse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny: bool,
    /// Require at least this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<String>,
    /// With `require`: maximum age of the authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// With `deny`: revoke the user's sessions and refresh tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
    /// With `deny`: raise a security alert.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert: bool,
    /// Notification channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

impl BandSpec {
    /// The verdict part.
    pub fn verdict(&self) -> VerdictSpec {
        VerdictSpec {
            allow: self.allow,
            deny: self.deny,
            require: self.require.clone(),
            max_age: self.max_age,
            revoke: self.revoke,
            alert: self.alert,
            notify: self.notify.clone(),
        }
    }
}

/// One rule: a name, conditions, and a verdict.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name; shown in decisions as the reason.
    pub name: String,
    /// Human text shown with the decision; defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Conditions, all of which must hold; absent = always.
    #[serde(default)]
    pub when: Conditions,
    /// Let the request through with what the session has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow: bool,
    /// Refuse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny: bool,
    /// Require at least this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<String>,
    /// With `require`: maximum age of the authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// With `deny`: revoke the user's sessions and refresh tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
    /// With `deny`: raise a security alert.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert: bool,
    /// Notification channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

impl RuleSpec {
    /// The verdict part.
    pub fn verdict(&self) -> VerdictSpec {
        VerdictSpec {
            allow: self.allow,
            deny: self.deny,
            require: self.require.clone(),
            max_age: self.max_age,
            revoke: self.revoke,
            alert: self.alert,
            notify: self.notify.clone(),
        }
    }
}

/// `login` (the issuer's authorize and step-up) or `request` (the gateway).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A login at the issuer.
    #[default]
    Login,
    /// A protected request at the gateway (ext_authz, `/v1/decide`).
    Request,
}

/// `known` or `unknown` device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// The device id is in the user's history.
    Known,
    /// No device id, or one never seen for this user.
    Unknown,
}

/// A literal or a `"@list"` reference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AsnItem {
    /// An AS number.
    Number(u32),
    /// `"@name"` of an ASN list, or `"AS64500"`.
    Name(String),
}

/// Weekday/hour window in a fixed UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Days (`mon` … `sun`); absent = every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    /// `[from, to)` hours, 0–24; `from > to` wraps midnight. Absent = all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<[u8; 2]>,
    /// `UTC`, `Z` or `+08:00`-style offset the days and hours are in.
    #[serde(default = "utc")]
    pub utc_offset: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// Conditions of a rule. Every condition given must hold (AND); within one
/// condition any listed value matches (OR).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// `login` or `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// OIDC client ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client: Vec<String>,
    /// The user is in any of these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<String>,
    /// User attributes: each key's value must be one of the listed values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_attribute: BTreeMap<String, Vec<String>>,
    /// CIDRs (IPv4/IPv6) or `"@list"` network lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// CIDRs or `"@list"` the address must NOT be in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_network: Vec<String>,
    /// ISO 3166-1 alpha-2 codes or `"@list"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country: Vec<String>,
    /// Country codes or `"@list"` the address must NOT be in (an unknown
    /// country is not in any list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_country: Vec<String>,
    /// AS numbers or `"@list"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asn: Vec<AsnItem>,
    /// Weekday/hour window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
    /// Whether the device is known to the user's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceState>,
    /// Whether the user has a factor besides the password (passkey, TOTP,
    /// agent device). Known at sign-in only; elsewhere the condition does
    /// not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<bool>,
    /// Any of these risk reason codes is present (docs/risk.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// A named detection of at least this severity holds (`low`, `medium`,
    /// `high`, `critical`; docs/risk.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<crate::reasons::Severity>,
    /// Score at least this (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<u8>,
    /// Score at most this (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<u8>,
    /// The relying party requested any of these `acr_values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// Request host: exact, or `*.example.com` for subdomains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<String>,
    /// Request path: exact, or a prefix ending in `*` (`/admin/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

/// A list given inline or read from a file (one entry per line, `#`
/// comments), relative to the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ListSource {
    /// Inline entries.
    Inline(Vec<ListEntry>),
    /// `{file: lists/corp.txt}`.
    File {
        /// Path relative to the policy file.
        file: PathBuf,
    },
}

/// One inline list entry as text. A bare number is taken as its digits:
/// `asns: {hosting: [64500, AS64501]}` is what an operator writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ListEntry(pub String);

impl<'de> Deserialize<'de> for ListEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        Ok(ListEntry(match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(s) => s,
        }))
    }
}

/// Named lists by type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListsSpec {
    /// CIDR lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, ListSource>,
    /// AS-number lists (`64500` or `AS64500` per entry).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub asns: BTreeMap<String, ListSource>,
    /// Country-code lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub countries: BTreeMap<String, ListSource>,
}
