//! [`CachedAccounts`] in front of the backend under test: an account found by its token is served
//! from memory for the cache's time to live; an unknown token is asked again every time.

use std::sync::Arc;
use std::time::Duration;

use tern_core::account::ProductToken;
use tern_core::channel::Channel;
use tern_core::money::Money;
use tern_core::ports::AccountStore;
use tern_store::CachedAccounts;

use crate::harness::*;

#[tokio::test]
async fn a_found_account_is_served_from_memory_within_the_ttl() {
    let backend = Backend::new();
    let store = backend.open();
    // The gateway's (long enough for the store's writes below on a slow disk).
    let ttl = CachedAccounts::DEFAULT_TTL;
    let started = std::time::Instant::now();
    let cached = CachedAccounts::new(Arc::clone(&store) as Arc<dyn AccountStore>, ttl);
    let token = ProductToken::generate();
    let account = cached
        .create_account(new_account(&token, Some(Money(100))))
        .await
        .unwrap();
    let found = cached.account_by_token(token.hash()).await.unwrap();
    assert_eq!(found, Some(account.clone()));
    // The balance changes in the store...
    let now = now();
    store
        .accept(
            account.id,
            Some(Money(30)),
            vec![message(account.id, &[Channel::Sms], Money(30), now)],
        )
        .await
        .unwrap();
    let stored = store.account_by_token(token.hash()).await.unwrap().unwrap();
    assert_eq!(stored.balance, Some(Money(70)));
    // ...the cache still serves what it read, until its time to live is over.
    let served = cached
        .account_by_token(token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        served.balance,
        Some(Money(100)),
        "served from memory {:?} after it was read",
        started.elapsed()
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let fresh = cached
        .account_by_token(token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh, stored);
    // Listing is not cached.
    assert_eq!(cached.accounts().await.unwrap(), vec![stored]);
}

#[tokio::test]
async fn an_unknown_token_is_not_cached() {
    let backend = Backend::new();
    let store = backend.open();
    let cached = CachedAccounts::new(
        Arc::clone(&store) as Arc<dyn AccountStore>,
        Duration::from_secs(3600),
    );
    let token = ProductToken::generate();
    assert_eq!(cached.account_by_token(token.hash()).await.unwrap(), None);
    // Created a moment later, behind the cache's back: found at once.
    let account = store
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    assert_eq!(
        cached.account_by_token(token.hash()).await.unwrap(),
        Some(account)
    );
    // Another token does not find it.
    assert_eq!(
        cached
            .account_by_token(ProductToken::generate().hash())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_duplicate_token_is_a_conflict_through_the_cache() {
    let backend = Backend::new();
    let store = backend.open();
    let cached = CachedAccounts::new(
        Arc::clone(&store) as Arc<dyn AccountStore>,
        CachedAccounts::DEFAULT_TTL,
    );
    let token = ProductToken::generate();
    cached
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    let again = cached.create_account(new_account(&token, None)).await;
    assert!(
        matches!(again, Err(tern_core::ports::StoreError::Conflict(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn lookups_by_smpp_system_id_go_to_the_backend_every_time() {
    let backend = Backend::new();
    let store = backend.open();
    let counted = Arc::new(Counted {
        inner: Arc::clone(&store) as Arc<dyn AccountStore>,
        lookups: Default::default(),
    });
    let cached = CachedAccounts::new(
        Arc::clone(&counted) as Arc<dyn AccountStore>,
        CachedAccounts::DEFAULT_TTL,
    );
    assert_eq!(
        cached.account_by_smpp_system_id("acme").await.unwrap(),
        None
    );
    // Created a moment after a lookup missed, it is found at once.
    let account = cached
        .create_account(tern_core::account::NewAccount {
            smpp: Some(tern_core::smpp_account::SmppSettings::new("acme", "pw").unwrap()),
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            cached.account_by_smpp_system_id("acme").await.unwrap(),
            Some(account.clone())
        );
    }
    assert_eq!(
        counted.lookups.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "every lookup by system id reaches the backend"
    );
}

/// The backend under test, counting the lookups (by token or system id) it is asked for.
struct Counted {
    inner: Arc<dyn AccountStore>,
    lookups: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl AccountStore for Counted {
    async fn create_account(
        &self,
        account: tern_core::account::NewAccount,
    ) -> Result<tern_core::account::Account, tern_core::ports::StoreError> {
        self.inner.create_account(account).await
    }
    async fn accounts(
        &self,
    ) -> Result<Vec<tern_core::account::Account>, tern_core::ports::StoreError> {
        self.inner.accounts().await
    }
    async fn update_account(
        &self,
        id: tern_core::account::AccountId,
        change: tern_core::account::AccountChange,
    ) -> Result<Option<tern_core::account::Account>, tern_core::ports::StoreError> {
        self.inner.update_account(id, change).await
    }
    async fn account_by_token(
        &self,
        hash: tern_core::account::TokenHash,
    ) -> Result<Option<tern_core::account::Account>, tern_core::ports::StoreError> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.account_by_token(hash).await
    }
    async fn account_by_smpp_system_id(
        &self,
        system_id: &str,
    ) -> Result<Option<tern_core::account::Account>, tern_core::ports::StoreError> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.account_by_smpp_system_id(system_id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_one_token_at_the_same_moment_cost_one_lookup() {
    let backend = Backend::new();
    let store = backend.open();
    let counted = Arc::new(Counted {
        inner: Arc::clone(&store) as Arc<dyn AccountStore>,
        lookups: Default::default(),
    });
    let cached = Arc::new(CachedAccounts::new(
        Arc::clone(&counted) as Arc<dyn AccountStore>,
        CachedAccounts::DEFAULT_TTL,
    ));
    let token = ProductToken::generate();
    let account = cached
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    let requests: Vec<_> = (0..64)
        .map(|_| {
            let cached = Arc::clone(&cached);
            let hash = token.hash();
            tokio::spawn(async move { cached.account_by_token(hash).await })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), Some(account.clone()));
    }
    assert_eq!(counted.lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
}
