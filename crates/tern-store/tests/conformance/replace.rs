//! `QueueStore::replace` (SMPP's replace_sm): a message still queued gets the judged new content,
//! validity and receipts, its price difference debited or credited at once; any other is too
//! late, another account's is not found, and a balance that cannot pay changes nothing.

use std::sync::Arc;

use jiff::SignedDuration;
use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ReplaceOutcome, Replacement};
use tern_core::message::{Content, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::outbox::{EntryFilter, OutboxKind};
use tern_core::ports::Store;
use tern_core::status::CmStatus;

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

/// Two messages of `account` sharing one content (the recipients of one `msg`), 0.075 each,
/// charged; their ids.
async fn accept_two(
    store: &dyn Store,
    account: AccountId,
    now: jiff::Timestamp,
) -> (MessageId, MessageId) {
    let first = message(account, &[Channel::Sms], Money(75_000), now);
    let second = NewMessage {
        id: MessageId::generate(),
        recipient: "0031698765432".into(),
        content: Arc::clone(&first.content),
        ..first.clone()
    };
    let ids = (first.id, second.id);
    store
        .accept(account, Some(Money(150_000)), vec![first, second])
        .await
        .unwrap();
    ids
}

/// Two parts of GSM text costing 0.15, valid for an hour from `now`, asking for final receipts.
fn replacement(now: jiff::Timestamp) -> Replacement {
    Replacement {
        body: "@".repeat(161),
        body_type: None,
        dcs: Some(0),
        udh: None,
        parts: 2,
        price: Money(150_000),
        valid_until: Some(now + SignedDuration::from_hours(1)),
        smpp_registered_delivery: Some(1),
    }
}

#[tokio::test]
async fn a_queued_message_gets_its_new_content_and_pays_the_difference() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(1_000_000))).await;
    let now = now();
    let (id, sibling) = accept_two(&*store, account.id, now).await;
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(850_000)));

    assert_eq!(
        store
            .replace(account.id, id, replacement(now), now)
            .await
            .unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(775_000)));
    let replaced = store.message(account.id, id).await.unwrap().unwrap();
    let message = &replaced.message;
    assert_eq!(
        *message.content,
        Content {
            from: "Tern".into(),
            body: "@".repeat(161),
            body_type: None,
            dcs: Some(0),
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }
    );
    assert_eq!((message.parts, message.price), (2, Money(150_000)));
    assert_eq!(message.valid_until, now + SignedDuration::from_hours(1));
    assert_eq!(message.smpp_registered_delivery, 1);
    assert_eq!(
        (message.recipient.as_str(), message.accepted_at),
        ("0031612345678", now)
    );
    // The other recipient of its `msg` keeps the content they shared.
    let other = store.message(account.id, sibling).await.unwrap().unwrap();
    assert_eq!(other.message.content.body, "Hello");
    assert_eq!(
        (other.message.parts, other.message.price),
        (1, Money(75_000))
    );

    // It is sent as replaced, and reports as its new registered_delivery asks.
    let claimed = store.claim_due(now, 10, LEASE).await.unwrap();
    let sent_one = claimed.iter().find(|d| d.id == id).unwrap();
    assert_eq!(
        (sent_one.content.body.as_str(), sent_one.parts),
        ("@".repeat(161).as_str(), 2)
    );
    store
        .apply_batch(
            vec![
                (id, sent(1)),
                (
                    id,
                    Event::ChannelReport {
                        attempt: 1,
                        status: CmStatus::Delivered,
                        error_code: None,
                        operator: None,
                        detail: None,
                    },
                ),
            ],
            now,
        )
        .await
        .unwrap();
    let receipts = store
        .claim_entries(
            now,
            10,
            LEASE,
            &EntryFilter::kinds([OutboxKind::SmppReceipt]),
        )
        .await
        .unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].fact.as_ref().unwrap().message_id(), id);

    // The other was claimed with it: too late for it now.
    assert_eq!(
        store
            .replace(
                account.id,
                sibling,
                Replacement {
                    body: "hi".into(),
                    parts: 1,
                    price: Money(50_000),
                    valid_until: None,
                    smpp_registered_delivery: None,
                    ..replacement(now)
                },
                now
            )
            .await
            .unwrap(),
        ReplaceOutcome::TooLate,
        "claimed with the other"
    );
}

#[tokio::test]
async fn a_cheaper_content_is_credited_and_what_is_not_given_is_kept() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(1_000_000))).await;
    let now = now();
    let (id, _) = accept_two(&*store, account.id, now).await;
    let cheaper = Replacement {
        body: "hi".into(),
        parts: 1,
        price: Money(50_000),
        valid_until: None,
        smpp_registered_delivery: None,
        ..replacement(now)
    };
    assert_eq!(
        store.replace(account.id, id, cheaper, now).await.unwrap(),
        ReplaceOutcome::Replaced
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(875_000)));
    let message = store
        .message(account.id, id)
        .await
        .unwrap()
        .unwrap()
        .message;
    assert_eq!(message.content.body, "hi");
    assert_eq!(message.price, Money(50_000));
    assert_eq!(message.valid_until, now + VALIDITY);
    assert_eq!(message.smpp_registered_delivery, 0);
}

#[tokio::test]
async fn a_balance_that_cannot_pay_the_difference_changes_nothing() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(200_000))).await;
    let now = now();
    let (id, _) = accept_two(&*store, account.id, now).await;
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(50_000)));
    let before = store.message(account.id, id).await.unwrap().unwrap();
    // 0.075 more than it paid, with 0.05 left.
    assert_eq!(
        store
            .replace(account.id, id, replacement(now), now)
            .await
            .unwrap(),
        ReplaceOutcome::InsufficientBalance
    );
    assert_eq!(balance_of(&*store, account.id).await, Some(Money(50_000)));
    assert_eq!(
        store.message(account.id, id).await.unwrap().unwrap(),
        before
    );
}

#[tokio::test]
async fn a_claimed_message_is_too_late_and_another_accounts_is_not_found() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    assert_eq!(
        store
            .replace(other.id, id, replacement(now), now)
            .await
            .unwrap(),
        ReplaceOutcome::NotFound
    );
    store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(
        store
            .replace(account.id, id, replacement(now), now)
            .await
            .unwrap(),
        ReplaceOutcome::TooLate
    );
    let message = store
        .message(account.id, id)
        .await
        .unwrap()
        .unwrap()
        .message;
    assert_eq!(message.content.body, "Hello");
}
