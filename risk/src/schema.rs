//! The feature schema: the calibrator's inputs by name and index. Kept
//! below both `features.rs` (which computes them) and `model.rs` (whose
//! files name them), so neither imports the other for it.

/// Names of the calibrator's inputs, in order. Changing this list is a
/// model-format change: model files name their features and are rejected
/// when they do not match.
pub const FEATURES: [&str; NUM_FEATURES] = [
    "net_llr",
    "ua_llr",
    "device_llr",
    "hour_llr",
    "impossible_travel",
    "travel_excess",
    "hosting_network",
    "unknown_location",
    "fingerprint_drift",
    "user_failures_1h",
    "user_distinct_ips_1h",
    "ip_distinct_users_1h",
    "ip_failures_1h",
    "prefix_failures_1h",
    "failed_attempt",
    "device_llr_known_ip",
    "net_llr_unknown_device",
];

/// Number of calibrator inputs.
pub const NUM_FEATURES: usize = 17;

/// Index of a feature in [`FEATURES`].
#[allow(missing_docs)]
pub mod idx {
    pub const NET: usize = 0;
    pub const UA: usize = 1;
    pub const DEVICE: usize = 2;
    pub const HOUR: usize = 3;
    pub const TRAVEL: usize = 4;
    pub const TRAVEL_EXCESS: usize = 5;
    pub const HOSTING: usize = 6;
    pub const UNKNOWN_LOCATION: usize = 7;
    pub const DRIFT: usize = 8;
    pub const USER_FAILURES: usize = 9;
    pub const USER_IPS: usize = 10;
    pub const IP_USERS: usize = 11;
    pub const IP_FAILURES: usize = 12;
    pub const PREFIX_FAILURES: usize = 13;
    pub const FAILED: usize = 14;
    pub const DEVICE_KNOWN_IP: usize = 15;
    pub const NET_UNKNOWN_DEVICE: usize = 16;
}
