//! The blocklist cache, as a decorator in front of any [`BlocklistStore`]: every submission and
//! every dispatch asks whether its recipients are blocked, and a backend should not pay a read
//! for each. It keeps every list in memory and, when a lookup finds its copy older than its
//! `ttl`, asks the backend for the lists' version (one row) and reads the lists again only when
//! that changed, so that a change made by any process (the `tern blocklist` command, an opt-out
//! recorded on another node) reaches lookups within that time, and long lists that do not change
//! cost one small read a second. With no number blocked a lookup costs a check of an empty map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::account::AccountId;
use tern_core::blocklist::{BlockScope, BlockedNumber, OptOutKeywords};
use tern_core::ports::{BlocklistStore, StoreError};

/// Every list: each blocked number with the scope keys of the lists it is on.
type Lists = HashMap<String, Vec<i64>>;

struct Cached {
    lists: Arc<Lists>,
    version: i64,
    checked_at: Instant,
}

/// A [`BlocklistStore`] whose lookups ([`BlocklistStore::blocked_among`]) are served from a copy
/// of every list at most `ttl` old. Everything else goes to the backend (a write through it is
/// seen by its own lookups at once).
pub struct CachedBlocklist {
    inner: Arc<dyn BlocklistStore>,
    ttl: Duration,
    /// The lists, the version they were read at, and when that version was read.
    lists: Mutex<Option<Cached>>,
    /// Held while the lists are read again: lookups that find them stale at one moment cost the
    /// backend one read, not one each.
    reload: tokio::sync::Mutex<()>,
}

impl CachedBlocklist {
    /// How long the gateway serves the lists from memory (a change reaches it within this).
    pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

    pub fn new(inner: Arc<dyn BlocklistStore>, ttl: Duration) -> CachedBlocklist {
        CachedBlocklist {
            inner,
            ttl,
            lists: Mutex::new(None),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<Lists>> {
        let cached = self.lists.lock().expect("blocklist cache");
        cached
            .as_ref()
            .filter(|cached| cached.checked_at.elapsed() < self.ttl)
            .map(|cached| Arc::clone(&cached.lists))
    }

    fn forget(&self) {
        *self.lists.lock().expect("blocklist cache") = None;
    }

    /// The lists; when the copy is older than the ttl, read again if their version changed.
    async fn lists(&self) -> Result<Arc<Lists>, StoreError> {
        if let Some(lists) = self.fresh() {
            return Ok(lists);
        }
        let _reload = self.reload.lock().await;
        if let Some(lists) = self.fresh() {
            return Ok(lists);
        }
        // Counted from before the reads: what they find may have changed since they started.
        let checked_at = Instant::now();
        let version = self.inner.blocklist_version().await?;
        {
            let mut cached = self.lists.lock().expect("blocklist cache");
            if let Some(cached) = cached.as_mut().filter(|cached| cached.version == version) {
                cached.checked_at = checked_at;
                return Ok(Arc::clone(&cached.lists));
            }
        }
        // The version is read before the lists: a change between the two reads is in them or
        // not, and either way makes the next check read them again.
        let mut lists = Lists::new();
        for blocked in self.inner.blocked_numbers(None).await? {
            lists
                .entry(blocked.number)
                .or_default()
                .push(blocked.scope.key());
        }
        let lists = Arc::new(lists);
        *self.lists.lock().expect("blocklist cache") = Some(Cached {
            lists: Arc::clone(&lists),
            version,
            checked_at,
        });
        Ok(lists)
    }
}

#[async_trait]
impl BlocklistStore for CachedBlocklist {
    async fn block(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let added = self.inner.block(scope, numbers, now).await;
        self.forget();
        added
    }

    async fn unblock(&self, scope: BlockScope, numbers: Vec<String>) -> Result<u64, StoreError> {
        let removed = self.inner.unblock(scope, numbers).await;
        self.forget();
        removed
    }

    async fn blocked_numbers(
        &self,
        scope: Option<BlockScope>,
    ) -> Result<Vec<BlockedNumber>, StoreError> {
        self.inner.blocked_numbers(scope).await
    }

    async fn blocked_among(
        &self,
        account: AccountId,
        numbers: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let lists = self.lists().await?;
        if lists.is_empty() {
            return Ok(Vec::new());
        }
        let mut blocked: Vec<String> = numbers
            .into_iter()
            .filter(|number| {
                lists.get(number).is_some_and(|scopes| {
                    scopes
                        .iter()
                        .any(|&key| BlockScope::from_key(key).covers(account))
                })
            })
            .collect();
        blocked.sort();
        blocked.dedup();
        Ok(blocked)
    }

    /// `true` while the copy is fresh and holds no number.
    fn known_empty(&self) -> bool {
        self.fresh().is_some_and(|lists| lists.is_empty())
    }

    async fn blocklist_version(&self) -> Result<i64, StoreError> {
        self.inner.blocklist_version().await
    }

    fn set_opt_out_keywords(&self, keywords: OptOutKeywords) {
        self.inner.set_opt_out_keywords(keywords);
    }
}
