//! The account cache, as a decorator in front of any [`AccountStore`]: every request looks its
//! product token up, and a backend should not pay a read for each. Kept outside the backends so
//! that each backend stays a plain recorder and every one is cached alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tern_core::account::{Account, NewAccount, TokenHash};
use tern_core::ports::{AccountStore, StoreError};

/// Most tokens remembered; past that the cache starts over (a bound on memory whatever the
/// number of distinct tokens tried).
const MAX_ENTRIES: usize = 10_000;

/// An [`AccountStore`] that serves an account found by its token from memory for `ttl` (a change
/// to an account reaches requests within that time). Unknown tokens are not remembered: each is
/// looked up again, so that an account created a moment ago is found at once.
pub struct CachedAccounts {
    inner: Arc<dyn AccountStore>,
    ttl: Duration,
    by_token: Mutex<HashMap<[u8; 32], (Account, Instant)>>,
}

impl CachedAccounts {
    /// How long the gateway serves an account from memory.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(2);

    pub fn new(inner: Arc<dyn AccountStore>, ttl: Duration) -> CachedAccounts {
        CachedAccounts {
            inner,
            ttl,
            by_token: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl AccountStore for CachedAccounts {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        self.inner.create_account(account).await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.accounts().await
    }

    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError> {
        if let Some((account, at)) = self.by_token.lock().expect("cache").get(&hash.0)
            && at.elapsed() < self.ttl
            && account.token_hash.matches(&hash)
        {
            return Ok(Some(account.clone()));
        }
        let found = self.inner.account_by_token(hash).await?;
        if let Some(account) = &found {
            let mut cache = self.by_token.lock().expect("cache");
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(hash.0, (account.clone(), Instant::now()));
        }
        Ok(found)
    }
}
