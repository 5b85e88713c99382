//! In-memory caches on the hot paths (token, introspection), each bounded
//! and each with a stated staleness.

use crate::store::{ClientRow, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// How long a client definition may be served from memory. A client removed
/// with the CLI stops working within this many seconds on every replica.
pub const CLIENT_TTL: i64 = 5;
const CLIENT_CAP: usize = 10_000;

/// Clients by id. Guarded by a std `RwLock`: reads vastly outnumber writes,
/// and no lock is held across an `.await`.
#[derive(Default)]
pub struct ClientCache {
    map: RwLock<HashMap<String, (Arc<ClientRow>, i64)>>,
}

impl ClientCache {
    /// The client, from memory if fresh, else from the store.
    pub async fn get(
        &self,
        store: &Store,
        id: &str,
        now: i64,
    ) -> Result<Option<Arc<ClientRow>>, StoreError> {
        if let Ok(map) = self.map.read()
            && let Some((c, at)) = map.get(id)
            && now - at < CLIENT_TTL
        {
            return Ok(Some(c.clone()));
        }
        let Some(row) = store.client(id).await? else {
            if let Ok(mut map) = self.map.write() {
                map.remove(id);
            }
            return Ok(None);
        };
        let row = Arc::new(row);
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CLIENT_CAP {
                map.clear();
            }
            map.insert(id.to_string(), (row.clone(), now));
        }
        Ok(Some(row))
    }
}

/// Revoked grants and access-token ids whose tokens may still be unexpired.
/// Updated at once by this process and polled from the store every second,
/// so a revocation on another replica takes effect within about a second.
#[derive(Default)]
pub struct RevocationCache {
    set: RwLock<HashSet<String>>,
}

impl RevocationCache {
    /// Whether an access token with this `jti` (`<grant>.<random>` or a bare id) is revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        let Ok(set) = self.set.read() else {
            return true;
        };
        set.contains(jti)
            || jti
                .split_once('.')
                .is_some_and(|(grant, _)| set.contains(grant))
    }

    /// Marks a grant id or jti revoked in this process.
    pub fn insert(&self, id: &str) {
        if let Ok(mut set) = self.set.write() {
            set.insert(id.to_string());
        }
    }

    /// Reloads from the store: grants revoked within the access-token
    /// lifetime (older ones have no live access tokens) and revoked jtis.
    pub async fn reload(&self, store: &Store, now: i64, access_ttl: i64) -> Result<(), StoreError> {
        let mut fresh: HashSet<String> = store
            .grants_revoked_since(now - access_ttl - 60)
            .await?
            .into_iter()
            .collect();
        fresh.extend(store.revoked_jtis(now).await?);
        if let Ok(mut set) = self.set.write() {
            *set = fresh;
        }
        Ok(())
    }
}

/// Introspection results for our own signed tokens, keyed by the token's
/// SHA-256: a hit skips the signature check (the token is byte-identical to
/// one already verified). Expiry and revocation are still checked per call.
/// Bounded: cleared when full.
#[derive(Default)]
pub struct VerifiedTokens {
    map: RwLock<HashMap<[u8; 32], Arc<serde_json::Value>>>,
}

const VERIFIED_CAP: usize = 20_000;

impl VerifiedTokens {
    pub fn get(&self, key: &[u8; 32]) -> Option<Arc<serde_json::Value>> {
        self.map.read().ok()?.get(key).cloned()
    }

    pub fn put(&self, key: [u8; 32], claims: Arc<serde_json::Value>) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= VERIFIED_CAP {
                map.clear();
            }
            map.insert(key, claims);
        }
    }
}
