//! The blocklist cache, as a decorator in front of any [`BlocklistStore`]: every submission and
//! every dispatch asks whether its recipients are blocked, and a backend should not pay a read
//! for each. It keeps every list in memory, read again from the backend when a lookup finds it
//! older than its `ttl`, so that a change made by any process (the `tern blocklist` command, an
//! opt-out recorded on another node) reaches lookups within that time. With no number blocked
//! a lookup costs a check of an empty map.

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

/// A [`BlocklistStore`] whose lookups ([`BlocklistStore::blocked_among`]) are served from a copy
/// of every list at most `ttl` old. Everything else goes to the backend (a write through it is
/// seen by its own lookups at once).
pub struct CachedBlocklist {
    inner: Arc<dyn BlocklistStore>,
    ttl: Duration,
    lists: Mutex<Option<(Arc<Lists>, Instant)>>,
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
        let lists = self.lists.lock().expect("blocklist cache");
        lists
            .as_ref()
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(lists, _)| Arc::clone(lists))
    }

    fn forget(&self) {
        *self.lists.lock().expect("blocklist cache") = None;
    }

    /// The lists, read again when they are older than the ttl.
    async fn lists(&self) -> Result<Arc<Lists>, StoreError> {
        if let Some(lists) = self.fresh() {
            return Ok(lists);
        }
        let _reload = self.reload.lock().await;
        if let Some(lists) = self.fresh() {
            return Ok(lists);
        }
        let read_at = Instant::now();
        let mut lists = Lists::new();
        for blocked in self.inner.blocked_numbers(None).await? {
            lists
                .entry(blocked.number)
                .or_default()
                .push(blocked.scope.key());
        }
        let lists = Arc::new(lists);
        *self.lists.lock().expect("blocklist cache") = Some((Arc::clone(&lists), read_at));
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

    fn set_opt_out_keywords(&self, keywords: OptOutKeywords) {
        self.inner.set_opt_out_keywords(keywords);
    }
}
