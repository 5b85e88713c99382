//! Prometheus metrics: requests by route and status, latency histograms,
//! tokens issued by grant, logins by outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Grant {
    pub grant: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `login`, `decide` or `ext_authz`.
    pub point: &'static str,
    /// `allow`, `step_up` or `deny`.
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimTarget {
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScimDelivery {
    pub target: String,
    /// `created`, `updated`, `deactivated`, `unchanged`, `skipped`,
    /// `retry`, `failed` (parked) or `target_down`.
    pub outcome: &'static str,
}

type HistogramFamily = Family<Route, Histogram, fn() -> Histogram>;

/// All metrics; registered once in `default()`.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteStatus, Counter>,
    pub latency: HistogramFamily,
    pub tokens: Family<Grant, Counter>,
    pub logins: Family<Outcome, Counter>,
    pub decisions: Family<DecisionLabels, Counter>,
    /// Policy reloads that failed (the last good policy kept serving).
    pub policy_reload_failures: Counter,
    /// 1 while the files on disk do not load (the last good policy serves), else 0.
    pub policy_stale: Gauge,
    /// Round trips to the shared velocity state (Redis) that failed; each
    /// one's decision followed `risk.state_unavailable`.
    pub state_unavailable: Gauge,
    /// How long the round trips to the shared velocity state (Redis) took.
    pub state_round_trip: Histogram,
    /// SCIM changes not yet delivered (parked failures excluded), per target.
    pub scim_pending: Family<ScimTarget, Gauge>,
    /// SCIM deliveries by target and outcome.
    pub scim_deliveries: Family<ScimDelivery, Counter>,
    /// Security-event pushes by channel and outcome.
    pub event_deliveries: Family<DeliveryLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `ssf` or `backchannel_logout`.
    pub channel: &'static str,
    /// `delivered` or `failed`.
    pub outcome: &'static str,
}

/// 50 µs .. about 110 ms in steps of 1.5×: a Redis round trip on the same
/// host is tens of microseconds, across a network a millisecond or two.
pub fn round_trip_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 1.5, 20))
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let requests = Family::<RouteStatus, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let tokens = Family::<Grant, Counter>::default();
        let logins = Family::<Outcome, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "tokens_issued",
            "Tokens issued by grant type",
            tokens.clone(),
        );
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "policy_decisions",
            "Policy decisions by decision point and outcome",
            decisions.clone(),
        );
        let policy_reload_failures = Counter::default();
        registry.register(
            "policy_reload_failures",
            "Policy reloads that failed; the last good policy kept serving",
            policy_reload_failures.clone(),
        );
        let policy_stale = Gauge::default();
        registry.register(
            "policy_stale",
            "Whether the policy files on disk fail to load and the last good policy serves (1) or not (0)",
            policy_stale.clone(),
        );
        let state_unavailable = Gauge::default();
        registry.register(
            "state_unavailable",
            "Decisions made without the shared velocity state (Redis unreachable), since start",
            state_unavailable.clone(),
        );
        let state_round_trip = round_trip_histogram();
        registry.register(
            "state_round_trip_seconds",
            "Round trips to the shared velocity state (Redis) that were answered, by duration",
            state_round_trip.clone(),
        );
        let event_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "event_deliveries",
            "Security-event pushes (SSF SETs, back-channel logout tokens) by outcome",
            event_deliveries.clone(),
        );
        let scim_pending = Family::<ScimTarget, Gauge>::default();
        registry.register(
            "scim_pending",
            "SCIM changes waiting to be delivered, per target",
            scim_pending.clone(),
        );
        let scim_deliveries = Family::<ScimDelivery, Counter>::default();
        registry.register(
            "scim_deliveries",
            "SCIM deliveries by target and outcome",
            scim_deliveries.clone(),
        );
        Metrics {
            event_deliveries,
            registry,
            scim_pending,
            scim_deliveries,
            requests,
            latency,
            tokens,
            logins,
            decisions,
            policy_reload_failures,
            policy_stale,
            state_unavailable,
            state_round_trip,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn token_issued(&self, grant: &'static str) {
        self.tokens.get_or_create(&Grant { grant }).inc();
    }

    pub fn decision(&self, point: &'static str, decision: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels { point, decision })
            .inc();
    }

    pub fn event_delivery(&self, channel: &'static str, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.event_deliveries
            .get_or_create(&DeliveryLabels { channel, outcome })
            .inc();
    }

    pub fn scim_delivery(&self, target: &str, outcome: &'static str) {
        self.scim_deliveries
            .get_or_create(&ScimDelivery {
                target: target.to_string(),
                outcome,
            })
            .inc();
    }

    pub fn set_scim_pending(&self, target: &str, n: i64) {
        self.scim_pending
            .get_or_create(&ScimTarget {
                target: target.to_string(),
            })
            .set(n);
    }

    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
    }
}
