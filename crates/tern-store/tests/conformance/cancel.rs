//! `QueueStore::cancel` (SMPP's cancel_sm): a message still queued and never handed to a channel
//! is cancelled, leaves the queue, reports nothing and gives its price back, all at once; any
//! other is too late, and another account's is not found.

use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::dispatch::CancelOutcome;
use tern_core::message::{DeliveryState, MessageFilter, MessageId};
use tern_core::money::Money;
use tern_core::outbox::{EntryFilter, OutboxKind};
use tern_core::ports::Store;

use crate::harness::*;

async fn balance_of(store: &dyn Store, account: AccountId) -> Option<Money> {
    store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == account)
        .expect("the account")
        .balance
}

/// Accept a message of `account` costing `price`, charged to it; its id.
async fn accept_priced(
    store: &dyn Store,
    account: AccountId,
    price: Money,
    now: jiff::Timestamp,
) -> MessageId {
    let msg = message(account, &[Channel::Sms], price, now);
    let id = msg.id;
    store.accept(account, Some(price), vec![msg]).await.unwrap();
    id
}

#[tokio::test]
async fn a_queued_message_is_cancelled_refunded_never_claimed_and_reports_nothing() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(1_000_000))).await;
    let now = now();
    let id = accept_priced(&*store, account.id, Money(75_000), now).await;
    let kept = accept_priced(&*store, account.id, Money(75_000), now).await;
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(850_000)));

    assert_eq!(
        store.cancel(account.id, id, now).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(925_000)));
    let record = store.message(account.id, id).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Cancelled);
    assert!(record.history.is_empty());
    // The log's status filter finds it.
    let cancelled = log_of(
        &*store,
        account.id,
        MessageFilter {
            state: Some(DeliveryState::Cancelled),
            limit: 10,
            ..MessageFilter::default()
        },
    )
    .await;
    assert_eq!(ids(&cancelled, |r| r.message.id), vec![id]);
    // Only the other is claimed, now or ever.
    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&claimed, |d| d.id), vec![kept]);
    let much_later = now + VALIDITY + VALIDITY;
    assert!(
        store
            .claim_due(much_later, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.message(account.id, id).await.unwrap().unwrap().state,
        DeliveryState::Cancelled
    );
    // No webhook, no receipt of it (the other one expired and is reported).
    let every_kind = EntryFilter::kinds(OutboxKind::ALL);
    let entries = store
        .claim_entries(much_later, 10, LEASE, &every_kind)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        entries
            .iter()
            .all(|entry| entry.fact.as_ref().map(|fact| fact.message_id()) == Some(kept))
    );

    // Twice: too late (a second cancel changes nothing, the price is not given back again).
    assert_eq!(
        store.cancel(account.id, id, now).await.unwrap(),
        CancelOutcome::TooLate
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(925_000)));
}

#[tokio::test]
async fn a_claimed_message_is_too_late_and_another_accounts_is_not_found() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(1_000_000))).await;
    let other = crate::harness::account(&*store, None).await;
    let now = now();
    let id = accept_priced(&*store, account.id, Money(75_000), now).await;

    assert_eq!(
        store.cancel(other.id, id, now).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        store
            .cancel(account.id, MessageId::generate(), now)
            .await
            .unwrap(),
        CancelOutcome::NotFound
    );
    store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(
        store.cancel(account.id, id, now).await.unwrap(),
        CancelOutcome::TooLate
    );
    // Still too late once the lease ran out and it waits to be claimed again.
    store.release_leases(now).await.unwrap();
    assert_eq!(
        store.cancel(account.id, id, now).await.unwrap(),
        CancelOutcome::TooLate
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(925_000)));
    let record = store.message(account.id, id).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Queued);
    assert_eq!(
        ids(&store.claim_due(now, 10, LEASE).await.unwrap(), |d| d.id),
        vec![id]
    );
}

#[tokio::test]
async fn an_account_without_a_balance_is_not_credited() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(75_000), now);
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    assert_eq!(
        store.cancel(account.id, id, now).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(balance_of(&*store, account.id).await, None);
}
