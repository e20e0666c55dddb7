//! Bearer API keys per agent, with scopes. Keys look like
//! `ork_<id>_<secret>`; only the SHA-256 of the whole key is stored. Checked
//! keys are cached briefly so each request costs a hash and a map lookup.
//!
//! Revocation: a key revoked through this process's store (any clone of
//! it) is refused from the next request on — the cache is dropped when the
//! store's revocation count changes. A key revoked by another process
//! (`orkhub key revoke`, or another hub on the same PostgreSQL) is refused
//! within [`CACHE_TTL`] (5 s), when its cache entry is looked up again.

use super::AppState;
use super::error::ApiError;
use crate::store::{KeyRecord, Store, StoreError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub const SCOPES: &[&str] = &[
    "messages:write",
    "notifications:write",
    "notifications:read",
    "costs:write",
    "heartbeat:write",
    "decisions:write",
    "decisions:read",
    "decisions:resolve",
    "questions:write",
    "questions:read",
    "tasks:read",
    "tasks:write",
    "events:read",
    "brief:read",
    "webhooks:admin",
];

/// A new key: (id, the full key to show once, its hash to store).
pub fn generate_key() -> (String, String, String) {
    let id = hex::encode(rand::random::<[u8; 4]>());
    let secret = hex::encode(rand::random::<[u8; 24]>());
    let key = format!("ork_{id}_{secret}");
    let hash = hash_key(&key);
    (id, key, hash)
}

pub fn hash_key(key: &str) -> String {
    hex::encode(key_digest(key))
}

/// The SHA-256 of `key`, the cache's key: `hash_key` is its hex, which the
/// store keeps. A request that finds its key cached prints no hex.
fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The caller of an API request: an agent and the scopes its key carries.
#[derive(Debug, Clone)]
pub struct Caller {
    pub agent_id: String,
    /// Shared with the key cache's entry: a request copies no scope.
    pub scopes: Arc<[String]>,
}

impl Caller {
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this key lacks the {scope:?} scope (it has: {})",
                self.scopes.join(", ")
            )))
        }
    }
}

/// How long a checked key is trusted without reading it again: the bound on
/// a revocation made by another process. One indexed read per key per
/// period is all it costs.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// A cached key: the record (shared by the requests that find it), when
/// it was read, the store's revocation count then.
type Entry = (Arc<KeyRecord>, Instant, u64);

/// Recently checked keys by their SHA-256: the record, when it was read and
/// the store's revocation count then; and when each key's use was last
/// recorded. The digests are uniformly random, so a fast hasher spreads
/// them as well as SipHash would.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<foldhash::HashMap<[u8; 32], Entry>>,
    touched: RwLock<HashMap<String, Instant>>,
}

impl KeyCache {
    async fn lookup(
        &self,
        store: &Store,
        digest: [u8; 32],
    ) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // Read before the lookup: a revocation committed after this read
        // makes the entry stale for the next request.
        let revoked = store.keys_revoked();
        if let Ok(map) = self.entries.read()
            && let Some((rec, at, seen)) = map.get(&digest)
            && at.elapsed() < CACHE_TTL
            && *seen == revoked
        {
            return Ok(Some(rec.clone()));
        }
        let Some(rec) = store.key_by_hash(&hex::encode(digest)).await? else {
            return Ok(None);
        };
        let rec = Arc::new(rec);
        if let Ok(mut map) = self.entries.write() {
            map.insert(digest, (rec.clone(), Instant::now(), revoked));
        }
        Ok(Some(rec))
    }

    /// Whether last_used_at is due an update (at most once a minute per key).
    /// Every request asks, so the common answer (no) takes only a read lock.
    fn due_touch(&self, id: &str) -> bool {
        let recent = |at: &Instant| at.elapsed() < Duration::from_secs(60);
        if let Ok(t) = self.touched.read()
            && t.get(id).is_some_and(recent)
        {
            return false;
        }
        let Ok(mut t) = self.touched.write() else {
            return false;
        };
        // Another request may have touched it between the two locks.
        if t.get(id).is_some_and(recent) {
            return false;
        }
        t.insert(id.to_string(), Instant::now());
        true
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <api key>"))?;
        let key = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be: Bearer <api key>"))?;
        let rec = state
            .keys
            .lookup(&state.store, key_digest(key))
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
        if rec.revoked {
            return Err(ApiError::unauthorized("this API key has been revoked"));
        }
        if rec.agent_disabled {
            return Err(ApiError::unauthorized(format!(
                "this API key's agent {:?} is disabled: it is no longer in the hub's config",
                rec.agent_id
            )));
        }
        let now = crate::store::now_ms();
        if rec.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::unauthorized("this API key has expired"));
        }
        if state.keys.due_touch(&rec.id) {
            let store = state.store.clone();
            let id = rec.id.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_key(&id, now).await {
                    tracing::warn!(error = %e, "could not record key use");
                }
            });
        }
        Ok(Caller {
            agent_id: rec.agent_id.clone(),
            scopes: rec.scopes.clone(),
        })
    }
}
