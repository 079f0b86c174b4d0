//! The account cache, as a decorator in front of any [`AccountStore`]: every request looks its
//! product token up, and a backend should not pay a read for each. Kept outside the backends so
//! that each backend stays a plain recorder and every one is cached alike. Only lookups by token
//! are cached: an SMPP bind (by system id) is rare next to requests, costs a password hash anyway,
//! and should find a password or an account changed a moment ago, so it goes to the backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tern_core::account::{Account, AccountChange, AccountId, NewAccount, TokenHash};
use tern_core::ports::{AccountStore, StoreError};

/// Most tokens remembered; past that the cache starts over (a bound on memory whatever the
/// number of distinct tokens tried).
const MAX_ENTRIES: usize = 10_000;

/// An [`AccountStore`] that serves an account found by its token from memory for `ttl`, counted
/// from the moment the lookup that found it started: a change made by another process (`tern
/// account update`, `rotate-token`, `--disable`, another node) reaches requests within `ttl` of
/// its commit, a token rotated away or an account disabled is refused from then on, and a change
/// made through this cache reaches its requests at once. Unknown tokens are not remembered: each is
/// looked up again, so that an account created a moment ago is found at once. Lookups of one
/// token take turns: when its entry is missing or has run out, the requests that want it at the
/// same moment cost the backend one lookup, not one each. When that lookup fails, the requests
/// that waited for it fail with it instead of each trying in turn: with the database down, each
/// try takes as long as the backend gives itself, and a queue of them would keep the last
/// request waiting for all of them.
pub struct CachedAccounts {
    inner: Arc<dyn AccountStore>,
    ttl: Duration,
    by_token: Mutex<HashMap<[u8; 32], (Account, Instant)>>,
    /// The turn of each token being looked up now, with the error its last lookup ended in.
    lookups: Mutex<HashMap<[u8; 32], Turn>>,
}

impl CachedAccounts {
    /// How long the gateway serves an account from memory: the most a change made outside the
    /// process (a `tern account` command) takes to reach its requests.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

    pub fn new(inner: Arc<dyn AccountStore>, ttl: Duration) -> CachedAccounts {
        CachedAccounts {
            inner,
            ttl,
            by_token: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
        }
    }

    /// The account of `hash` if memory has it and it has not run out.
    fn fresh(&self, hash: &TokenHash) -> Option<Account> {
        let cache = self.by_token.lock().expect("cache");
        let (account, at) = cache.get(&hash.0)?;
        (at.elapsed() < self.ttl && account.token_hash.matches(hash)).then(|| account.clone())
    }
}

#[async_trait]
impl AccountStore for CachedAccounts {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        self.inner.create_account(account).await
    }

    /// Forgets what it remembers of the account (this process's requests see the change at once;
    /// other processes' within their `ttl`).
    async fn update_account(
        &self,
        id: AccountId,
        change: AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        let updated = self.inner.update_account(id, change).await;
        self.by_token
            .lock()
            .expect("cache")
            .retain(|_, (account, _)| account.id != id);
        updated
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.accounts().await
    }

    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError> {
        if let Some(account) = self.fresh(&hash) {
            return Ok(Some(account));
        }
        let turn = Arc::clone(
            self.lookups
                .lock()
                .expect("lookups")
                .entry(hash.0)
                .or_default(),
        );
        let mut turn = turn.lock().await;
        // Whoever had the turn before may have found it, or failed for all who waited.
        if let Some(account) = self.fresh(&hash) {
            return Ok(Some(account));
        }
        if let Some(error) = &*turn {
            return Err(error.clone());
        }
        // However this lookup ends (found, failed, or its request gone), later requests for the
        // token start from the cache, or take a new turn.
        let _done = TurnDone {
            lookups: &self.lookups,
            token: hash.0,
        };
        // Counted from before the read: what it finds may have changed since the read started.
        let started = Instant::now();
        let found = match self.inner.account_by_token(hash).await {
            Ok(found) => found,
            Err(error) => {
                *turn = Some(error.clone());
                return Err(error);
            }
        };
        if let Some(account) = &found {
            let mut cache = self.by_token.lock().expect("cache");
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(hash.0, (account.clone(), started));
        }
        Ok(found)
    }

    /// Not cached (see the module's comment): straight to the backend.
    async fn account_by_smpp_system_id(
        &self,
        system_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.inner.account_by_smpp_system_id(system_id).await
    }
}

/// The turns of one token's lookups: the error the last one ended in, if it failed.
type Turn = Arc<tokio::sync::Mutex<Option<StoreError>>>;

/// Ends a token's turn of lookups when dropped.
struct TurnDone<'a> {
    lookups: &'a Mutex<HashMap<[u8; 32], Turn>>,
    token: [u8; 32],
}

impl Drop for TurnDone<'_> {
    fn drop(&mut self) {
        if let Ok(mut lookups) = self.lookups.lock() {
            lookups.remove(&self.token);
        }
    }
}
