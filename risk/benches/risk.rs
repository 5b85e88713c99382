//! Criterion benches for issue 4:
//! - `score_warm_1m_users`: one score against a history store of 1,000,000
//!   warm users (target ≤ 10 µs median);
//! - `replay_1m_events`: replaying a simulated trace of about 1,000,000
//!   events on one core (target ≤ 10 s);
//! - `score_and_decide_warm_1m_users`: the same score plus a policy
//!   decision under `default.yaml` + `vcenter-admins.yaml` +
//!   `corporate-network.yaml` (issue 5 target ≤ 20 µs median);
//! - memory per user state, measured from the process's resident set while
//!   the 1,000,000 histories are built, printed before the benches run.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;
use tollgate_risk::history::{HistoryStore, MemoryHistory, UserHistory};
use tollgate_risk::policy::{DecisionInput, Policy, SessionState, decide};
use tollgate_risk::replay::{HistoryRule, replay};
use tollgate_risk::simulate::{SimConfig, simulate};
use tollgate_risk::{Engine, Geo, MemoryVelocity, Model, NetworkLists, Scorer, Thresholds};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn scorer(city: &[u8], asn: &[u8]) -> Scorer {
    let geo = Geo::from_sources(
        Path::new("city.mmdb"),
        city.to_vec(),
        Path::new("asn.mmdb"),
        asn.to_vec(),
    )
    .unwrap();
    Scorer::new(
        Model::builtin(),
        Thresholds::default(),
        NetworkLists::default(),
        geo,
    )
    .unwrap()
}

fn score_warm(c: &mut Criterion) {
    // Realistic histories from a 2,000-user, 30-day trace, copied to 1M users.
    let sim = simulate(&SimConfig::new(2000, 30, 42)).unwrap();
    let mut engine = Engine::new(
        scorer(&sim.city_db, &sim.asn_db),
        MemoryHistory::default(),
        MemoryVelocity::default(),
    );
    for e in &sim.events {
        engine.step(e, e.ts, |a| HistoryRule::Decisions.admits(e, a));
    }
    let seeds: Vec<UserHistory> = (0..2000)
        .filter_map(|i| engine.history.load(&format!("user{i:05}")))
        .collect();
    let before = rss_bytes();
    let mut big = MemoryHistory::default();
    for i in 0..1_000_000usize {
        big.store(&format!("user{i:07}"), seeds[i % seeds.len()]);
    }
    let after = rss_bytes();
    println!(
        "memory per user state: UserHistory = {} bytes; measured {} bytes per user in MemoryHistory (incl. name and hash-map overhead) for {} users",
        UserHistory::SIZE,
        (after - before) / 1_000_000,
        big.len()
    );
    let probes: Vec<_> = sim
        .events
        .iter()
        .rev()
        .take(1000)
        .cloned()
        .map(|mut e| {
            let n: usize = e
                .user
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap_or(0);
            e.user = format!("user{:07}", n * 500 % 1_000_000);
            e
        })
        .collect();
    let warm = Engine {
        scorer: engine.scorer,
        history: big,
        velocity: engine.velocity,
        globals: engine.globals,
    };
    let now = OffsetDateTime::from_unix_timestamp(1_770_000_000).unwrap();
    let mut i = 0;
    c.bench_function("score_warm_1m_users", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(warm.score(&probes[i], now))
        })
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let policy = Policy::load(&[
        dir.join("default.yaml"),
        dir.join("vcenter-admins.yaml"),
        dir.join("corporate-network.yaml"),
    ])
    .unwrap();
    let groups = vec!["staff".to_owned(), "vcenter-admins".to_owned()];
    c.bench_function("score_and_decide_warm_1m_users", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            let e = &probes[i];
            let a = warm.score(e, now);
            let g = warm.scorer.geo().lookup(e.ip);
            let input = DecisionInput {
                subject: &e.user,
                client: Some("vcenter"),
                groups: &groups,
                ip: Some(e.ip),
                country: g.country,
                asn: g.asn,
                device_known: a.features.device_known,
                score: a.score,
                reasons: &a.reasons,
                session: Some(SessionState {
                    acr: "aal2",
                    auth_time: now.unix_timestamp() - 60,
                }),
                ..DecisionInput::default()
            };
            black_box(decide(&policy, &input, now))
        })
    });
}

fn replay_million(c: &mut Criterion) {
    let sim = simulate(&SimConfig::new(11_000, 60, 43)).unwrap();
    let events: Vec<_> = sim
        .events
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, e)| (i + 1, e))
        .collect();
    println!("replay trace: {} events", events.len());
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.bench_function("replay_1m_events", |b| {
        b.iter(|| {
            black_box(
                replay(
                    scorer(&sim.city_db, &sim.asn_db),
                    &events,
                    HistoryRule::Decisions,
                )
                .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, score_warm, replay_million);
criterion_main!(benches);
