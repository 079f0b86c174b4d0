//! Idempotency keys ([`IntakeStore::accept_once`]): a key is stored in the transaction of the
//! messages its request created (never one without the other), once per account (also when
//! requests race, on one node or several), read back as stored, and forgotten by age.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::idempotency::{IdempotencyKey, KEY_LIFETIME, KeyRecord, Reply, RequestHash};
use tern_core::money::Money;
use tern_core::ports::{AcceptError, Store};

use crate::harness::*;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text.as_bytes()).unwrap()
}

/// A record of `key` for a request with body `body`, created at `at`.
fn record(key_text: &str, body: &str, at: Timestamp) -> KeyRecord {
    KeyRecord {
        key: key(key_text),
        request_hash: RequestHash::of(body.as_bytes()),
        reply: Reply {
            status: 200,
            content_type: "application/json; charset=utf-8".into(),
            // Bytes as sent, not only text.
            body: [body.as_bytes(), &[0, 0xff]].concat(),
        },
        created_at: at,
    }
}

/// Accept one free SMS under `record`.
async fn accept_keyed(
    store: &dyn Store,
    account: AccountId,
    record: KeyRecord,
) -> Result<(), AcceptError> {
    let now = record.created_at;
    let msg = message(account, &[Channel::Sms], Money(0), now);
    store.accept_once(account, None, vec![msg], record).await
}

/// The record of `text` for `account`, remembered at `now`.
async fn stored(
    store: &dyn Store,
    account: AccountId,
    text: &str,
    now: Timestamp,
) -> Option<KeyRecord> {
    store
        .key_record(account, &key(text), KeyRecord::forgotten_before(now))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_is_stored_with_its_messages_and_survives_reopen() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let first = record("order-1", "{\"a\":1}", now);
    accept_keyed(&*store, account.id, first.clone())
        .await
        .unwrap();

    let store = backend.reopen(store);
    assert_eq!(
        stored(&*store, account.id, "order-1", now).await,
        Some(first)
    );
    assert_eq!(log(&*store, account.id).await.len(), 1);
    assert_eq!(stored(&*store, account.id, "order-2", now).await, None);
}

#[tokio::test]
async fn a_key_is_stored_once_per_account() {
    let backend = Backend::new();
    let store = backend.open();
    let account_a = account(&*store, Some(Money(10_000))).await;
    let account_b = account(&*store, None).await;
    let now = now();
    let first = record("k", "one", now);
    let msg = message(account_a.id, &[Channel::Sms], Money(1_000), now);
    store
        .accept_once(account_a.id, Some(Money(1_000)), vec![msg], first.clone())
        .await
        .unwrap();
    // Again, with another body: refused, nothing stored or debited.
    let msg = message(account_a.id, &[Channel::Sms], Money(1_000), now);
    assert_eq!(
        store
            .accept_once(
                account_a.id,
                Some(Money(1_000)),
                vec![msg],
                record("k", "two", now)
            )
            .await,
        Err(AcceptError::KeyTaken)
    );
    assert_eq!(log(&*store, account_a.id).await.len(), 1);
    assert_eq!(
        stored(&*store, account_a.id, "k", now).await,
        Some(first.clone())
    );
    let balance = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == account_a.id)
        .unwrap()
        .balance;
    assert_eq!(balance, Some(Money(9_000)));
    // Another account's key of the same name is its own.
    let other = record("k", "three", now);
    accept_keyed(&*store, account_b.id, other.clone())
        .await
        .unwrap();
    assert_eq!(stored(&*store, account_b.id, "k", now).await, Some(other));
    assert_eq!(stored(&*store, account_a.id, "k", now).await, Some(first));
}

#[tokio::test]
async fn racing_requests_with_one_key_store_one_set_of_messages() {
    let backend = Backend::new();
    // Two nodes on a shared store; the embedded store has one.
    let first = backend.open();
    let second = match kind() {
        Kind::Postgres => backend.open_as("node-b"),
        Kind::Sqlite => Arc::clone(&first),
    };
    let stores = [first, second];
    let account = account(&*stores[0], None).await;
    let now = now();
    let tasks: Vec<_> = (0..8)
        .map(|index| {
            let store = Arc::clone(&stores[index % 2]);
            tokio::spawn(async move {
                accept_keyed(
                    &*store,
                    account.id,
                    record("same", &format!("{index}"), now),
                )
                .await
            })
        })
        .collect();
    let mut taken = 0;
    let mut stored_ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => stored_ok += 1,
            Err(AcceptError::KeyTaken) => taken += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((stored_ok, taken), (1, 7));
    assert_eq!(log(&*stores[0], account.id).await.len(), 1);
    assert!(stored(&*stores[1], account.id, "same", now).await.is_some());
}

#[tokio::test]
async fn a_refused_request_leaves_its_key_free() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(500))).await;
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(1_000), now);
    assert_eq!(
        store
            .accept_once(
                account.id,
                Some(Money(1_000)),
                vec![msg],
                record("k", "a", now)
            )
            .await,
        Err(AcceptError::InsufficientBalance)
    );
    assert_eq!(stored(&*store, account.id, "k", now).await, None);
    let msg = message(account.id, &[Channel::Sms], Money(100), now);
    store
        .accept_once(
            account.id,
            Some(Money(100)),
            vec![msg],
            record("k", "b", now),
        )
        .await
        .unwrap();
    assert_eq!(
        stored(&*store, account.id, "k", now)
            .await
            .map(|r| r.request_hash),
        Some(RequestHash::of(b"b"))
    );
}

#[tokio::test]
async fn keys_are_forgotten_after_their_lifetime() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let then = now();
    let later = then + KEY_LIFETIME + SignedDuration::from_secs(1);
    for text in ["a", "b", "c"] {
        accept_keyed(&*store, account.id, record(text, "old", then))
            .await
            .unwrap();
    }
    // Remembered until the lifetime ends, then not.
    assert!(
        stored(&*store, account.id, "a", then + KEY_LIFETIME)
            .await
            .is_some()
    );
    assert_eq!(stored(&*store, account.id, "a", later).await, None);
    // A forgotten key may be given again: the new request replaces it.
    let again = record("a", "new", later);
    accept_keyed(&*store, account.id, again.clone())
        .await
        .unwrap();
    assert_eq!(stored(&*store, account.id, "a", later).await, Some(again));
    // Swept by age, a bounded batch at a time; the messages stay.
    let before = KeyRecord::forgotten_before(later);
    assert_eq!(store.forget_keys(before, 1).await.unwrap(), 1);
    assert_eq!(store.forget_keys(before, 10).await.unwrap(), 1);
    assert_eq!(store.forget_keys(before, 10).await.unwrap(), 0);
    assert!(stored(&*store, account.id, "a", later).await.is_some());
    assert_eq!(
        store.key_record(account.id, &key("b"), then).await.unwrap(),
        None
    );
    assert_eq!(log(&*store, account.id).await.len(), 4);
}
