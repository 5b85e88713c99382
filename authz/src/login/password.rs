//! Password hashing (argon2id, OWASP parameters) on a blocking thread, so a
//! burst of logins never stalls the async runtime.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1: OWASP's recommended argon2id minimum.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash(password: &Secret) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::secret::random_bytes(16)).map_err(|e| e.to_string())?;
    hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A valid hash of a random password, verified against when the user does
/// not exist so that timing does not reveal which logins exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::secret::random_token(16)).unwrap_or_default())
}

/// The verifier is saturated: the caller answers 503 with `Retry-After`
/// instead of queueing the check without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password checks are saturated; retry shortly")]
pub struct Busy;

/// Seconds a saturated caller is told to wait (`Retry-After`).
pub const RETRY_AFTER: u64 = 1;

/// MiB one argon2id check holds while it runs (`m` of [`hasher`]).
const MIB_PER_CHECK: u64 = 19;

/// How many argon2 checks may run at once: one per core, and no more than
/// an eighth of the available memory holds. At least one.
///
/// A check is pure CPU and memory bandwidth: more checks than cores only
/// share the cores, and each one's 19 MiB evicts the others' from the
/// cache while they wait. Measured on the 2-core machine
/// (docs/operations.md, "Checkpoints off the writer's path; password
/// checks one per core"): 4 checks at once verify 8–10 % fewer passwords
/// a second than 2.
pub fn concurrency(cores: usize, mem_available_mib: Option<u64>) -> usize {
    let by_cpu = cores.max(1);
    let by_mem = mem_available_mib.map_or(usize::MAX, |m| {
        usize::try_from(m / 8 / MIB_PER_CHECK).unwrap_or(usize::MAX)
    });
    by_cpu.min(by_mem).max(1)
}

/// `MemAvailable` of `/proc/meminfo`, in MiB (Linux; `None` elsewhere).
fn mem_available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// The process-wide bound on argon2 work: memory is the process's, so
/// every server in it (tests start several) shares one semaphore. At most
/// [`QUEUED_PER_PERMIT`]` × permits` callers wait, each at most
/// [`MAX_WAIT`]; the rest are [`Busy`] at once.
struct Bound {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    size: usize,
    waiting: std::sync::atomic::AtomicUsize,
}

const MAX_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Callers that may wait per permit. A check takes about 16 ms of a core
/// (m = 19 MiB, t = 2 on a 2026 server core), so 16 waiting per permit
/// is about a quarter of a second of queue: every one of them is served
/// well within [`MAX_WAIT`], and a burst of sign-ins (16 browsers at once
/// on 2 cores) waits its turn instead of being told to retry.
const QUEUED_PER_PERMIT: usize = 16;

fn bound() -> &'static Bound {
    static BOUND: std::sync::OnceLock<Bound> = std::sync::OnceLock::new();
    BOUND.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = concurrency(cores, mem_available_mib());
        Bound {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size)),
            size,
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    })
}

/// Runs `f` on a blocking thread once a permit is free, or fails [`Busy`].
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    use std::sync::atomic::Ordering;
    let b = bound();
    let permit = match b.permits.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            if b.waiting.fetch_add(1, Ordering::SeqCst) >= QUEUED_PER_PERMIT * b.size {
                b.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(Busy);
            }
            let got = tokio::time::timeout(MAX_WAIT, b.permits.clone().acquire_owned()).await;
            b.waiting.fetch_sub(1, Ordering::SeqCst);
            match got {
                Ok(Ok(p)) => p,
                _ => return Err(Busy),
            }
        }
    };
    tokio::task::spawn_blocking(move || {
        let out = f();
        drop(permit);
        out
    })
    .await
    .map_err(|_| Busy)
}

/// Verifies `password` against `stored` (or against a dummy hash when there is
/// no stored hash), on a blocking thread, within the process-wide bound.
pub async fn verify(password: Secret, stored: Option<Secret>) -> Result<bool, Busy> {
    bounded(move || {
        let (phc, real) = match &stored {
            Some(s) => (s.expose().to_string(), true),
            None => (dummy_hash().to_string(), false),
        };
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        verify_pooled(password.expose().as_bytes(), &parsed) && real
    })
    .await
}

/// Argon2 working memory for the checks that run at once, allocated once
/// and reused: at most [`Bound`]'s permit count of buffers ever exist (one
/// per running check), so the process holds `permits × m` and no more,
/// and a check touches memory that is already mapped instead of paying
/// 19 MiB of fresh page faults. (Allocating per check let glibc keep a
/// freed 19 MiB block in every thread's arena: 500 parallel guesses
/// peaked at 552–627 MiB.)
fn memory_pool() -> &'static std::sync::Mutex<Vec<Vec<argon2::Block>>> {
    static POOL: std::sync::OnceLock<std::sync::Mutex<Vec<Vec<argon2::Block>>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// `verify_password` with working memory from [`memory_pool`]; the same
/// answer for every PHC string (anything but argon2 with an output falls
/// back to the library's own check).
fn verify_pooled(password: &[u8], parsed: &PasswordHash<'_>) -> bool {
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return hasher().verify_password(password, parsed).is_ok();
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    let lock = |p: &'static std::sync::Mutex<Vec<Vec<argon2::Block>>>| {
        p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut memory = lock(memory_pool())
        .pop()
        .filter(|m| m.len() == blocks)
        .unwrap_or_else(|| vec![argon2::Block::default(); blocks]);
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory)
        .is_ok()
        && crate::secret::ct_eq(&out, expected.as_bytes());
    lock(memory_pool()).push(memory);
    ok
}

/// Hashes on a blocking thread.
/// Hashes a new password within the same bound as verification (a reset
/// page must not be a way around it); `Err(Busy)` when saturated.
pub async fn hash_bounded(password: Secret) -> Result<Result<String, String>, Busy> {
    bounded(move || hash(&password)).await
}

pub async fn hash_async(password: Secret) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let h = hash(&Secret::new("correct horse")).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            verify(Secret::new("correct horse"), Some(Secret::new(h.clone()))).await,
            Ok(true)
        );
        assert_eq!(
            verify(Secret::new("wrong"), Some(Secret::new(h))).await,
            Ok(false)
        );
        assert_eq!(verify(Secret::new("anything"), None).await, Ok(false));
        assert_eq!(
            verify(Secret::new("x"), Some(Secret::new("not a phc string"))).await,
            Ok(false)
        );
    }

    /// The pooled check answers as the reference implementation: hashes
    /// made by the `argon2` CLI (the C reference, Debian package `argon2`)
    /// with other parameters, variants and versions, reused buffers
    /// included (each row runs twice, and rows of one size share memory).
    #[test]
    fn the_pooled_check_agrees_with_the_reference_implementation() {
        // (PHC string from `echo -n password | argon2 somesaltsomesalt …`, password, verifies)
        let rows = [
            (
                "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$H5mZn8QsFFwntPktdbjGNtqB+DDJ+nixq94uJAZoqIk",
                "password",
                true,
            ),
            (
                "$argon2id$v=19$m=4096,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$H5mZn8QsFFwntPktdbjGNtqB+DDJ+nixq94uJAZoqIk",
                "passwore",
                false,
            ),
            (
                "$argon2i$v=19$m=1024,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$q8RmimS5eHTuAXxN7l89WzVtmfhdZaBU923F8thrI+4",
                "password",
                true,
            ),
            (
                "$argon2i$v=19$m=1024,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$q8RmimS5eHTuAXxN7l89WzVtmfhdZaBU923F8thrI+4",
                "",
                false,
            ),
            (
                "$argon2id$v=16$m=2048,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Tcgu8TNQXlRWPWorYDLI8C5HACXRHmXWu9Zi0m97h9g",
                "password",
                true,
            ),
            (
                "$argon2id$v=19$m=2048,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Tcgu8TNQXlRWPWorYDLI8C5HACXRHmXWu9Zi0m97h9g",
                "password",
                false,
            ),
        ];
        for _ in 0..2 {
            for (phc, password, want) in rows {
                let parsed = PasswordHash::new(phc).unwrap();
                assert_eq!(
                    verify_pooled(password.as_bytes(), &parsed),
                    want,
                    "{phc} {password:?}"
                );
            }
        }
    }

    #[test]
    fn concurrency_follows_cores_and_memory() {
        // (cores, MemAvailable MiB, permits)
        for (cores, mem, want) in [
            (2, Some(24_000), 2),
            (16, Some(24_000), 16),
            (64, Some(2_000), 13),
            (8, Some(100), 1),
            (0, None, 1),
            (4, None, 4),
        ] {
            assert_eq!(concurrency(cores, mem), want, "{cores} cores, {mem:?} MiB");
        }
    }
}
