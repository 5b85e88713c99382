//! Where the `sensitive_burst` counters live: beside the velocity
//! counters, so one replica (memory) or every replica (Redis, `[state]
//! redis`) counts a user's requests to sensitive routes. Without Redis a
//! bulk export spread by a round-robin load balancer over three replicas
//! is counted a third as fast on each, and a restart forgets it.
//!
//! The Redis script is the memory counter
//! ([`tollgate_risk::sensitive::BurstCounter`]) written in Lua: the same
//! one-hour window of six buckets, the same fold of each finished active
//! hour into the usual rate (`ALPHA`, in doubles on both sides), the same
//! `MIN_HOURS`. `replicas::redis_bursts_count_exactly_as_memory` compares
//! them snapshot by snapshot. One round trip per sensitive request reads
//! the snapshot and records the request; nothing else pays for it.

use std::sync::atomic::Ordering;
use std::sync::{LazyLock, Mutex};

use tollgate_risk::sensitive::{ALPHA, Burst, HOUR, MIN_HOURS, MemoryBursts};

use super::velocity::{RedisVelocity, Unavailable, Velocity};

/// Seconds a user's Redis counter outlives their last sensitive request:
/// the usual rate is a habit over weeks, not a cache.
const KEEP_USUAL: i64 = 35 * 86_400;

/// ARGV: prefix, user key, now, ALPHA, MIN_HOURS, HOUR, keep. Returns the
/// snapshot before this request: `{recent, usual}` (`usual` a string with
/// every digit of the double, empty before `MIN_HOURS` active hours), and
/// records the request.
const SCRIPT: &str = r#"
local p, user, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local alpha, min_hours = tonumber(ARGV[4]), tonumber(ARGV[5])
local HOUR, keep = tonumber(ARGV[6]), tonumber(ARGV[7])
local bucket = HOUR / 6
local k = p .. 'burst:' .. user
local st = redis.call('HMGET', k, 'h', 'n', 'u', 'k', 'l')
local hour, in_hour = tonumber(st[1]) or 0, tonumber(st[2]) or 0
local usual, hours, last = tonumber(st[3]) or 0, tonumber(st[4]) or 0, tonumber(st[5]) or 0
local h = math.floor(now / HOUR)
if h > hour then
  if in_hour > 0 then
    if hours == 0 then usual = in_hour else usual = (1.0 - alpha) * usual + alpha * in_hour end
    hours = math.min(hours + 1, 65535)
  end
  hour, in_hour = h, 0
end
local idx = math.floor(now / bucket)
local names = {}
for i = idx - 5, idx do names[#names + 1] = k .. ':' .. i end
local recent = 0
for _, v in ipairs(redis.call('MGET', unpack(names))) do
  if v then recent = recent + tonumber(v) end
end
local shown = ''
if hours >= min_hours then shown = string.format('%.17g', usual) end
local b = k .. ':' .. idx
redis.call('INCR', b)
redis.call('EXPIRE', b, HOUR + bucket)
if now > last then last = now end
redis.call('HSET', k, 'h', string.format('%d', hour), 'n', string.format('%d', in_hour + 1),
  'u', string.format('%.17g', usual), 'k', string.format('%d', hours), 'l', string.format('%d', last))
redis.call('EXPIRE', k, keep)
return {recent, shown}
"#;

/// The script, hashed once (`EVALSHA`, loaded on first use).
static BURST_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SCRIPT));

/// The burst counters of one replica.
pub enum Bursts {
    /// This process's memory (no `[state] redis`).
    Memory(Mutex<MemoryBursts>),
    /// In the Redis of the velocity counters.
    Shared,
}

impl Bursts {
    /// Where `velocity` keeps its counters, the bursts are kept too.
    pub fn beside(velocity: &Velocity) -> Bursts {
        match velocity {
            Velocity::Memory(_) => Bursts::Memory(Mutex::new(MemoryBursts::default())),
            Velocity::Redis(_) => Bursts::Shared,
        }
    }

    /// The user's counter before this sensitive request, which it counts.
    pub async fn observe(
        &self,
        velocity: &Velocity,
        user: u64,
        now: i64,
    ) -> Result<Burst, Unavailable> {
        match (self, velocity) {
            (Bursts::Memory(m), _) => {
                let mut b = m.lock().unwrap_or_else(|e| e.into_inner());
                let snap = b.snapshot(user, now);
                b.record(user, now);
                Ok(snap)
            }
            (Bursts::Shared, Velocity::Redis(r)) => r.burst(user, now).await,
            (Bursts::Shared, Velocity::Memory(_)) => Err(Unavailable(
                "burst counters configured for Redis beside in-memory velocity".into(),
            )),
        }
    }
}

impl RedisVelocity {
    /// [`Bursts::observe`] on Redis: one script call.
    pub async fn burst(&self, user: u64, now: i64) -> Result<Burst, Unavailable> {
        let result = self.burst_round_trip(user, now).await;
        if result.is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn burst_round_trip(&self, user: u64, now: i64) -> Result<Burst, Unavailable> {
        let mut conn = self.connection(now).await?;
        let mut inv = BURST_SCRIPT.prepare_invoke();
        inv.arg(&self.prefix)
            .arg(format!("{user:016x}"))
            .arg(now)
            .arg(format!("{ALPHA:?}"))
            .arg(MIN_HOURS)
            .arg(HOUR)
            .arg(KEEP_USUAL);
        let (recent, usual): (u32, String) = self.invoke(&inv, &mut conn).await?;
        let usual = match usual.as_str() {
            "" => None,
            s => Some(s.parse::<f64>().map_err(|_| {
                Unavailable(format!("redis: the burst script answered {s:?} as a rate"))
            })? as f32),
        };
        Ok(Burst { recent, usual })
    }
}
