//! [`AccountStore::update_account`] and what account management relies on: a change sets what it
//! names and keeps the rest, all or nothing (a token, a system id or an inbound number another
//! account has is a conflict that changes nothing); the balance is added to in the store; a
//! disabled account is listed but not found by its token or its system id; a rotated token finds
//! the account and the old one does not; webhook secrets are kept as given, generated when not
//! given, and a rotation keeps the replaced secret with the time it was replaced. And the cache
//! in front: a change made through it is seen at once, one made beside it within its lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_core::account::{AccountChange, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::money::Money;
use tern_core::ports::{AccountStore, StoreError};
use tern_core::smpp_account::SmppSettings;
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};
use tern_store::CachedAccounts;

use crate::harness::*;

fn secret(text: &str) -> WebhookSecret {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_change_sets_what_it_names_and_keeps_the_rest() {
    let backend = Backend::new();
    let store = backend.open();
    let token = ProductToken::generate();
    let created = store
        .create_account(new_account(&token, Some(Money(1_000_000))))
        .await
        .unwrap();
    let smpp = SmppSettings::new("acme", "pw").unwrap();
    let changed = store
        .update_account(
            created.id,
            AccountChange {
                status_url: Some(None),
                status_format: Some(ReportFormat::Xml),
                inbound_url: Some(Some("https://example.test/in".into())),
                inbound_numbers: Some(vec!["3669".into(), "0031612345678".into()]),
                channels: Some(vec![Channel::Sms, Channel::Push]),
                add_balance: Some(Money(250_000)),
                smpp: Some(Some(smpp.clone())),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(changed.id, created.id);
    assert_eq!(changed.name, created.name);
    assert!(changed.token_hash.matches(&token.hash()));
    assert_eq!(changed.status_url, None);
    assert_eq!(changed.status_format, ReportFormat::Xml);
    assert_eq!(
        changed.inbound_url.as_deref(),
        Some("https://example.test/in")
    );
    assert_eq!(changed.inbound_numbers, vec!["3669", "0031612345678"]);
    assert_eq!(changed.channels, vec![Channel::Sms, Channel::Push]);
    assert_eq!(changed.balance, Some(Money(1_250_000)));
    assert_eq!(changed.smpp.as_deref(), Some(&smpp));
    assert!(!changed.disabled);
    assert_eq!(changed.webhook_secrets, created.webhook_secrets);
    assert_eq!(changed.created_at, created.created_at);
    // What is read back is what was returned.
    assert_eq!(
        store.account_by_token(token.hash()).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(store.accounts().await.unwrap(), vec![changed.clone()]);

    // An empty change changes nothing; numbers can be taken away, SMPP removed.
    let same = store
        .update_account(created.id, AccountChange::default())
        .await
        .unwrap();
    assert_eq!(same, Some(changed));
    let bare = store
        .update_account(
            created.id,
            AccountChange {
                inbound_numbers: Some(Vec::new()),
                smpp: Some(None),
                add_balance: Some(Money(-1_250_000)),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bare.inbound_numbers, Vec::<String>::new());
    assert_eq!(bare.smpp, None);
    assert_eq!(bare.balance, Some(Money(0)));
    assert_eq!(store.account_by_smpp_system_id("acme").await.unwrap(), None);

    // No such account: nothing.
    assert_eq!(
        store
            .update_account(created.id + 1000, AccountChange::default())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn an_unlimited_account_stays_unlimited_when_a_balance_is_added() {
    let backend = Backend::new();
    let store = backend.open();
    let created = account(&*store, None).await;
    let changed = store
        .update_account(
            created.id,
            AccountChange {
                add_balance: Some(Money(5)),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.balance, None);
}

#[tokio::test]
async fn a_disabled_account_is_listed_but_not_found() {
    let backend = Backend::new();
    let store = backend.open();
    let token = ProductToken::generate();
    let mut given = new_account(&token, None);
    given.smpp = Some(SmppSettings::new("acme", "pw").unwrap());
    let created = store.create_account(given).await.unwrap();
    let disable = |disabled: bool| AccountChange {
        disabled: Some(disabled),
        ..AccountChange::default()
    };
    let disabled = store
        .update_account(created.id, disable(true))
        .await
        .unwrap()
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.account_by_token(token.hash()).await.unwrap(), None);
    assert_eq!(store.account_by_smpp_system_id("acme").await.unwrap(), None);
    assert_eq!(store.accounts().await.unwrap(), vec![disabled]);

    let enabled = store
        .update_account(created.id, disable(false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(enabled, created);
    assert_eq!(
        store.account_by_token(token.hash()).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.account_by_smpp_system_id("acme").await.unwrap(),
        Some(created)
    );
}

#[tokio::test]
async fn a_rotated_token_finds_the_account_and_the_old_one_does_not() {
    let backend = Backend::new();
    let store = backend.open();
    let old = ProductToken::generate();
    let created = store.create_account(new_account(&old, None)).await.unwrap();
    let new = ProductToken::generate();
    let rotated = store
        .update_account(
            created.id,
            AccountChange {
                token_hash: Some(new.hash()),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.account_by_token(old.hash()).await.unwrap(), None);
    assert_eq!(
        store.account_by_token(new.hash()).await.unwrap(),
        Some(rotated)
    );
}

#[tokio::test]
async fn a_conflicting_change_changes_nothing() {
    let backend = Backend::new();
    let store = backend.open();
    let first_token = ProductToken::generate();
    let mut first = new_account(&first_token, None);
    first.inbound_numbers = vec!["3669".into()];
    first.smpp = Some(SmppSettings::new("first", "pw").unwrap());
    let first = store.create_account(first).await.unwrap();
    let second_token = ProductToken::generate();
    let mut second = new_account(&second_token, None);
    second.inbound_numbers = vec!["1234".into()];
    let second = store.create_account(second).await.unwrap();

    for change in [
        AccountChange {
            token_hash: Some(first_token.hash()),
            ..AccountChange::default()
        },
        AccountChange {
            smpp: Some(Some(SmppSettings::new("first", "other").unwrap())),
            ..AccountChange::default()
        },
        AccountChange {
            inbound_numbers: Some(vec!["5555".into(), "3669".into()]),
            ..AccountChange::default()
        },
    ] {
        // Each with changes that would succeed alone: none of them is kept.
        let change = AccountChange {
            status_format: Some(ReportFormat::Xml),
            channels: Some(vec![Channel::Sms]),
            disabled: Some(true),
            ..change
        };
        let result = store.update_account(second.id, change.clone()).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "{change:?}: {result:?}"
        );
        assert_eq!(
            store.accounts().await.unwrap(),
            vec![first.clone(), second.clone()],
            "{change:?} changed nothing"
        );
    }
    // Its own number again is no conflict.
    let kept = store
        .update_account(
            second.id,
            AccountChange {
                inbound_numbers: Some(vec!["1234".into()]),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(kept, Some(second));
}

#[tokio::test]
async fn webhook_secrets_are_kept_generated_and_rotated() {
    let backend = Backend::new();
    let store = backend.open();
    let mut given = new_account(&ProductToken::generate(), None);
    given.webhook_secret = Some(secret("given-secret-0123456789"));
    let created = store.create_account(given).await.unwrap();
    assert_eq!(
        created.webhook_secrets,
        WebhookSecrets::new(secret("given-secret-0123456789"))
    );
    let generated = account(&*store, None).await;
    let current = generated
        .webhook_secrets
        .current
        .clone()
        .expect("generated");
    assert_eq!(current.as_str().len(), 64);
    assert_ne!(current, secret("given-secret-0123456789"));
    assert_eq!(generated.webhook_secrets.previous, None);

    // Milliseconds: what the store keeps of a time.
    let at = jiff::Timestamp::from_millisecond(now().as_millisecond()).unwrap();
    let rotated = created
        .webhook_secrets
        .rotated(secret("newer-secret-0123456789"), at);
    let changed = store
        .update_account(
            created.id,
            AccountChange {
                webhook_secrets: Some(rotated.clone()),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.webhook_secrets, rotated);
    assert_eq!(
        changed.webhook_secrets.previous,
        Some((secret("given-secret-0123456789"), at))
    );
    assert_eq!(store.accounts().await.unwrap()[0].webhook_secrets, rotated);
}

#[tokio::test]
async fn the_cache_sees_its_own_changes_at_once_and_others_within_its_lifetime() {
    let backend = Backend::new();
    let store = backend.open();
    let cached = CachedAccounts::new(
        Arc::clone(&store) as Arc<dyn AccountStore>,
        CachedAccounts::DEFAULT_TTL,
    );
    assert!(CachedAccounts::DEFAULT_TTL <= Duration::from_secs(1));
    let token = ProductToken::generate();
    let created = cached
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    assert!(
        cached
            .account_by_token(token.hash())
            .await
            .unwrap()
            .is_some()
    );
    // Through the cache: at once.
    cached
        .update_account(
            created.id,
            AccountChange {
                disabled: Some(true),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cached.account_by_token(token.hash()).await.unwrap(), None);
    store
        .update_account(
            created.id,
            AccountChange {
                disabled: Some(false),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap();
    assert!(
        cached
            .account_by_token(token.hash())
            .await
            .unwrap()
            .is_some()
    );

    // Beside it (another process): within its lifetime, counted from the change.
    let new = ProductToken::generate();
    store
        .update_account(
            created.id,
            AccountChange {
                token_hash: Some(new.hash()),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap();
    let changed = Instant::now();
    assert!(cached.account_by_token(new.hash()).await.unwrap().is_some());
    let deadline = changed + CachedAccounts::DEFAULT_TTL + Duration::from_millis(20);
    loop {
        let old = cached.account_by_token(token.hash()).await.unwrap();
        if old.is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated token still served {:?} after the change",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
