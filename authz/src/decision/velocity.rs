//! Where the velocity counters live: this process (the embedded default)
//! or Redis, shared by every replica (`[state] redis`), so a credential
//! stuffing run spread over replicas by a load balancer is counted once,
//! and a restart forgets nothing.
//!
//! Both give the same [`VelocitySnapshot`] for the same attempts: Redis
//! keeps, per key (user, IP, prefix, ASN), the same six buckets per window
//! as `tollgate_risk::MemoryVelocity` (one counter per bucket, expiring
//! with its window) and the same set of the 16 most recent partners (a
//! sorted set by last-seen time). One script call per sign-in reads the
//! snapshot and records the attempt, so scoring itself does no I/O and
//! concurrent replicas never interleave a read with another's write.
//!
//! When Redis cannot be reached within [`REDIS_TIMEOUT`], the caller gets
//! [`Unavailable`] and the policy's `risk.state_unavailable` decides; the
//! connection is re-established by itself on a later call (at most one
//! attempt per [`RECONNECT_EVERY`] seconds, so a dead Redis costs no
//! connect timeout per request).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tollgate_risk::velocity::{VelocityKeys, VelocitySnapshot};
use tollgate_risk::{MemoryVelocity, VelocityStore};

/// How long one Redis round trip may take before the decision goes on
/// without it.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(300);
/// Seconds between reconnection attempts while Redis is away.
pub const RECONNECT_EVERY: i64 = 1;

/// The counters could not be read or written (Redis away).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// The velocity store of one replica.
pub enum Velocity {
    Memory(Mutex<MemoryVelocity>),
    Redis(Box<RedisVelocity>),
}

impl Velocity {
    /// The in-process store (one replica, the embedded default).
    pub fn memory() -> Velocity {
        Velocity::Memory(Mutex::new(MemoryVelocity::new(1 << 18)))
    }

    /// Counts for `keys` before this attempt and, when `record` holds,
    /// counts the attempt (`success`: its first factor succeeded).
    pub async fn observe(
        &self,
        keys: &VelocityKeys,
        record: Option<bool>,
        now: i64,
    ) -> Result<VelocitySnapshot, Unavailable> {
        match self {
            Velocity::Memory(m) => {
                let mut v = m.lock().unwrap_or_else(|e| e.into_inner());
                let snap = v.snapshot(keys, now);
                if let Some(success) = record {
                    v.record(keys, success, now);
                }
                Ok(snap)
            }
            Velocity::Redis(r) => r.observe(keys, record, now).await,
        }
    }

    /// The store `[state]` configures: Redis when `redis` is set (the
    /// password from `password_env`), else memory. Does not connect.
    pub fn from_config(
        cfg: &crate::config::StateConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Velocity, String> {
        let Some(url) = &cfg.redis else {
            return Ok(Velocity::memory());
        };
        let mut parsed =
            url::Url::parse(url).map_err(|e| format!("state.redis: {url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(format!(
                "state.redis: {url:?}: expected redis:// or rediss:// (TLS)"
            ));
        }
        if parsed.password().is_some() {
            return Err(
                "state.redis: the URL carries a password; put it in the variable password_env names"
                    .into(),
            );
        }
        if let Some(var) = &cfg.password_env {
            let password =
                env(var).ok_or_else(|| format!("state.password_env: {var} is not set"))?;
            parsed
                .set_password(Some(&password))
                .map_err(|()| format!("state.redis: {url:?} cannot carry a password"))?;
        }
        RedisVelocity::new(parsed.as_str(), &cfg.key_prefix).map(|r| Velocity::Redis(Box::new(r)))
    }

    /// Where the counters live, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Velocity::Memory(_) => "memory",
            Velocity::Redis(_) => "redis",
        }
    }
}

/// Reads the snapshot and records the attempt atomically (a Lua script
/// runs alone on the Redis server). ARGV: prefix, now, record (0/1),
/// success (0/1), then the user, IP, prefix and ASN keys (ASN empty when
/// unknown), the user's partner (the IP) and the networks' partner (the
/// user, only on failure, else empty), then the user's own partner id
/// (left out of the IP's distinct failed users). Returns the ten snapshot
/// fields in `VelocitySnapshot` order.
const SCRIPT: &str = r#"
local p, now = ARGV[1], tonumber(ARGV[2])
local rec, ok = ARGV[3] == '1', ARGV[4] == '1'
local user, ip, prefix, asn = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local user_partner, net_partner, me = ARGV[9], ARGV[10], ARGV[11]
local windows = {60, 600, 3600}
local keep = 3600 + 600

local function bucket(w) return math.floor(now / (w / 6)) end
local function count(k, kind, w)
  local b = bucket(w)
  local names = {}
  for i = b - 5, b do names[#names + 1] = p .. k .. ':' .. kind .. w .. ':' .. i end
  local total = 0
  for _, v in ipairs(redis.call('MGET', unpack(names))) do
    if v then total = total + tonumber(v) end
  end
  return total
end
local function distinct(k, w)
  return redis.call('ZCOUNT', p .. k .. ':partners', '(' .. (now - w), now)
end
local function distinct_others(k, w)
  local n = distinct(k, w)
  local mine = tonumber(redis.call('ZSCORE', p .. k .. ':partners', me))
  if mine and mine > now - w and mine <= now then n = n - 1 end
  return n
end

local snap = {
  count(user, 'f', 3600), count(user, 'a', 600), distinct(user, 3600),
  count(ip, 'a', 600), count(ip, 'f', 3600), distinct_others(ip, 3600),
  count(prefix, 'f', 3600), count(ip, 'a', 3600), count(prefix, 'a', 3600),
  0,
}
if asn ~= '' then snap[10] = count(asn, 'f', 60) end

local function record(k, partner)
  for _, w in ipairs(windows) do
    local b = bucket(w)
    local a = p .. k .. ':a' .. w .. ':' .. b
    redis.call('INCR', a)
    redis.call('EXPIRE', a, w + w / 6)
    if not ok then
      local f = p .. k .. ':f' .. w .. ':' .. b
      redis.call('INCR', f)
      redis.call('EXPIRE', f, w + w / 6)
    end
  end
  if partner ~= '' then
    local z = p .. k .. ':partners'
    redis.call('ZADD', z, 'GT', now, partner)
    redis.call('ZREMRANGEBYRANK', z, 0, -17)
    redis.call('EXPIRE', z, keep)
  end
end
if rec then
  record(user, user_partner)
  record(ip, net_partner)
  record(prefix, net_partner)
  if asn ~= '' then record(asn, net_partner) end
end
return snap
"#;

/// Velocity counters in Redis.
pub struct RedisVelocity {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    script: redis::Script,
    pub(super) prefix: String,
    /// Unix seconds of the last failed connection attempt.
    failed_at: AtomicI64,
    /// Round trips that failed (exported as a metric).
    pub failures: AtomicU64,
    /// How long each answered round trip took, in seconds: the metrics'
    /// `state_round_trip_seconds` once the server shares it
    /// ([`crate::decision::DecisionPoint::share_round_trips`]).
    pub round_trips: prometheus_client::metrics::histogram::Histogram,
}

impl RedisVelocity {
    /// A store on `url` (`redis://`, `rediss://` for TLS, with a password
    /// as `redis://:PASSWORD@host`); keys start with `prefix`. Does not
    /// connect yet: a replica starts while Redis is away.
    pub fn new(url: &str, prefix: &str) -> Result<RedisVelocity, String> {
        // The URL may now hold the password: errors never repeat it.
        let client = redis::Client::open(url)
            .map_err(|e| format!("state.redis: not a usable Redis URL ({:?})", e.kind()))?;
        Ok(RedisVelocity {
            client,
            conn: tokio::sync::Mutex::new(None),
            script: redis::Script::new(SCRIPT),
            prefix: prefix.to_owned(),
            failed_at: AtomicI64::new(i64::MIN),
            failures: AtomicU64::new(0),
            round_trips: crate::metrics::round_trip_histogram(),
        })
    }

    pub(super) async fn connection(
        &self,
        now: i64,
    ) -> Result<redis::aio::MultiplexedConnection, Unavailable> {
        let mut held = self.conn.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        if now.saturating_sub(self.failed_at.load(Ordering::Relaxed)) < RECONNECT_EVERY {
            return Err(Unavailable("redis: not connected (retrying)".into()));
        }
        let connecting = self.client.get_multiplexed_async_connection();
        match tokio::time::timeout(REDIS_TIMEOUT, connecting).await {
            Ok(Ok(c)) => {
                *held = Some(c.clone());
                Ok(c)
            }
            Ok(Err(e)) => {
                self.failed_at.store(now, Ordering::Relaxed);
                Err(Unavailable(format!("redis: {e}")))
            }
            Err(_) => {
                self.failed_at.store(now, Ordering::Relaxed);
                Err(Unavailable("redis: connection timed out".into()))
            }
        }
    }

    /// [`Velocity::observe`] on Redis: one script call.
    pub async fn observe(
        &self,
        keys: &VelocityKeys,
        record: Option<bool>,
        now: i64,
    ) -> Result<VelocitySnapshot, Unavailable> {
        let started = std::time::Instant::now();
        let result = self.round_trip(keys, record, now).await;
        match &result {
            Ok(_) => self.round_trips.observe(started.elapsed().as_secs_f64()),
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    async fn round_trip(
        &self,
        keys: &VelocityKeys,
        record: Option<bool>,
        now: i64,
    ) -> Result<VelocitySnapshot, Unavailable> {
        let mut conn = self.connection(now).await?;
        let success = record.unwrap_or(true);
        let hex = |k: u64| format!("{k:016x}");
        let mut inv = self.script.prepare_invoke();
        inv.arg(&self.prefix)
            .arg(now)
            .arg(u8::from(record.is_some()))
            .arg(u8::from(success))
            .arg(hex(keys.user))
            .arg(hex(keys.ip))
            .arg(hex(keys.prefix))
            .arg(keys.asn.map(hex).unwrap_or_default())
            .arg(format!("{:08x}", keys.ip as u32))
            .arg(if success {
                String::new()
            } else {
                format!("{:08x}", keys.user as u32)
            })
            .arg(format!("{:08x}", keys.user as u32));
        let fields: Vec<u32> = self.invoke(&inv, &mut conn).await?;
        let &[a, b, c, d, e, f, g, h, i, j] = &fields[..] else {
            return Err(Unavailable(format!(
                "redis: the velocity script answered {} fields, not 10",
                fields.len()
            )));
        };
        // In the script's order, which is `VelocitySnapshot`'s.
        Ok(VelocitySnapshot {
            user_failures_1h: a,
            user_attempts_10m: b,
            user_distinct_ips_1h: c,
            ip_attempts_10m: d,
            ip_failures_1h: e,
            ip_distinct_users_1h: f,
            prefix_failures_1h: g,
            ip_attempts_1h: h,
            prefix_attempts_1h: i,
            asn_failures_1m: j,
        })
    }

    /// Runs a prepared script within [`REDIS_TIMEOUT`]; on an error or a
    /// timeout the connection is dropped (the next call reconnects).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> Result<T, Unavailable> {
        match tokio::time::timeout(REDIS_TIMEOUT, inv.invoke_async::<T>(conn)).await {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => {
                self.drop_connection().await;
                Err(Unavailable(format!("redis: {e}")))
            }
            Err(_) => {
                self.drop_connection().await;
                Err(Unavailable("redis: round trip timed out".into()))
            }
        }
    }

    async fn drop_connection(&self) {
        *self.conn.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StateConfig;

    fn cfg(redis: Option<&str>, password_env: Option<&str>) -> StateConfig {
        StateConfig {
            redis: redis.map(str::to_owned),
            password_env: password_env.map(str::to_owned),
            ..StateConfig::default()
        }
    }

    #[test]
    fn state_config_is_checked_without_connecting() {
        let env = |k: &str| (k == "REDIS_PW").then(|| "s3cret".to_owned());
        // (redis, password_env, Ok(kind) or a word of the error)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (None, None, Ok("memory")),
            (Some("redis://127.0.0.1:1"), None, Ok("redis")),
            (
                Some("rediss://cache.example:6380/2"),
                Some("REDIS_PW"),
                Ok("redis"),
            ),
            (
                Some("redis://:pw@127.0.0.1:6379"),
                None,
                Err("carries a password"),
            ),
            (
                Some("redis://127.0.0.1:6379"),
                Some("UNSET"),
                Err("UNSET is not set"),
            ),
            (
                Some("http://127.0.0.1:6379"),
                None,
                Err("expected redis://"),
            ),
            (Some("not a url"), None, Err("is not a URL")),
        ];
        for (redis, pw, want) in cases {
            let got = Velocity::from_config(&cfg(*redis, *pw), &env);
            match (want, got) {
                (Ok(kind), Ok(v)) => assert_eq!(v.kind(), *kind, "{redis:?}"),
                (Err(word), Err(e)) => {
                    assert!(e.contains(word), "{redis:?}: {e}");
                    assert!(!e.contains("s3cret") && !e.contains(":pw@"), "{e}");
                }
                (want, got) => panic!("{redis:?}: want {want:?}, got {:?}", got.map(|v| v.kind())),
            }
        }
    }
}
