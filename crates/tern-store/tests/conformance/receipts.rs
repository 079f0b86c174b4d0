//! SMPP receipts in the outbox: the status changes a message's `registered_delivery` asked for
//! are each one `smpp_receipt` entry to its account, written with the change, on a key of their
//! own (so webhooks and receipts of one message go out side by side), carrying what a receipt
//! shows; runners claim by kind and account, and receipts nobody bound for are expired.

use jiff::{SignedDuration, Timestamp};
use tern_core::account::Account;
use tern_core::channel::Channel;
use tern_core::dispatch::Event;
use tern_core::error_code::{DeliveryError, Surface};
use tern_core::message::{Content, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::outbox::{
    ClaimedEntry, EntryFilter, Fact, OrderingKey, OutboxKind, Outcome, Resolved, StatusFact,
};
use tern_core::ports::Store;
use tern_core::status::CmStatus;

use crate::harness::{Backend, LEASE, account, message, now, sent, webhooks};

fn receipts() -> EntryFilter {
    EntryFilter::kinds([OutboxKind::SmppReceipt])
}

/// A message of 3 parts costing 0.225 submitted over SMPP with `registered_delivery`, claimed,
/// taken by the channel, accepted by the operator, then finished with `status` and `error`,
/// all at `at`. Its id.
async fn finished(
    store: &dyn Store,
    account: &Account,
    registered_delivery: u8,
    status: CmStatus,
    error: Option<DeliveryError>,
    at: Timestamp,
) -> MessageId {
    let msg = NewMessage {
        content: Content {
            from: "Tern".into(),
            body: "Hello from SMPP, a bit longer than 20".into(),
            body_type: None,
            dcs: None,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }
        .into(),
        parts: 3,
        source: Surface::Smpp,
        smpp_registered_delivery: registered_delivery,
        ..message(account.id, &[Channel::Sms], Money(225_000), at)
    };
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    let claimed = store.claim_due(at, 100, LEASE).await.unwrap();
    assert!(claimed.iter().any(|d| d.id == id));
    let report = |status, error_code| Event::ChannelReport {
        attempt: 1,
        status,
        error_code,
        operator: Some("20416".into()),
        detail: None,
    };
    store
        .apply_batch(
            vec![
                (id, sent(1)),
                (id, report(CmStatus::Accepted, None)),
                (id, report(status, error)),
            ],
            at,
        )
        .await
        .unwrap();
    id
}

fn fact(entry: &ClaimedEntry) -> &StatusFact {
    match &entry.fact {
        Some(Fact::StatusChange(fact)) => fact,
        other => panic!("entry {} has no status change: {other:?}", entry.id),
    }
}

async fn claim(store: &dyn Store, at: Timestamp, filter: &EntryFilter) -> Vec<ClaimedEntry> {
    store.claim_entries(at, 100, LEASE, filter).await.unwrap()
}

#[tokio::test]
async fn a_delivered_message_with_registered_delivery_1_yields_one_receipt_with_its_fact() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let at = now();
    let id = finished(&*store, &account, 1, CmStatus::Delivered, None, at).await;

    let claimed = claim(&*store, at, &receipts()).await;
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let receipt = &claimed[0];
    assert_eq!(receipt.kind, OutboxKind::SmppReceipt);
    assert_eq!(receipt.ordering_key, OrderingKey::smpp_receipt(id));
    assert_eq!((receipt.attempts, receipt.created_at), (0, at));
    match &receipt.destination {
        Some(Resolved::Account(to)) => assert_eq!(to.id, account.id),
        other => panic!("a receipt goes to its account: {other:?}"),
    }
    let fact = fact(receipt);
    assert_eq!((fact.message_id, fact.seq, fact.at), (id, 2, at));
    assert_eq!(
        (fact.report.status, fact.report.error_code),
        (CmStatus::Delivered, None)
    );
    assert_eq!(fact.report.operator.as_deref(), Some("20416"));
    assert_eq!(fact.recipient, "0031612345678");
    assert_eq!(fact.accepted_at, at);
    assert_eq!(fact.from, "Tern");
    assert_eq!(fact.body, "Hello from SMPP, a bit longer than 20");
    assert!(!fact.body_binary);
    assert_eq!((fact.part_price, fact.parts), (Money(75_000), 3));
    // Nothing more for receipts: the accepted change was not asked for.
    store
        .finish_entry(receipt.id, Outcome::Delivered)
        .await
        .unwrap();
    assert!(claim(&*store, at, &receipts()).await.is_empty());
    assert_eq!(store.next_entry_due(&receipts()).await.unwrap(), None);
}

#[tokio::test]
async fn registered_delivery_0_yields_no_receipt_and_2_one_only_on_failure() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let at = now();
    let expired = Some(DeliveryError::ExpiredAtThirdParty);
    finished(&*store, &account, 0, CmStatus::Delivered, None, at).await;
    finished(&*store, &account, 0, CmStatus::Failed, expired, at).await;
    finished(&*store, &account, 2, CmStatus::Delivered, None, at).await;
    assert!(claim(&*store, at, &receipts()).await.is_empty());
    assert_eq!(store.next_entry_due(&receipts()).await.unwrap(), None);

    let failed = finished(&*store, &account, 2, CmStatus::Failed, expired, at).await;
    let claimed = claim(&*store, at, &receipts()).await;
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let fact = fact(&claimed[0]);
    assert_eq!((fact.message_id, fact.seq), (failed, 2));
    assert_eq!(
        (fact.report.status, fact.report.error_code),
        (CmStatus::Failed, expired)
    );
}

#[tokio::test]
async fn a_messages_webhooks_and_receipts_are_claimed_side_by_side_each_by_its_runner() {
    let backend = Backend::new();
    let store = backend.open();
    // The harness's account has a status URL: each change is also a webhook.
    let account = account(&*store, None).await;
    let at = now();
    let id = finished(&*store, &account, 1, CmStatus::Delivered, None, at).await;

    // The webhook runner never sees the receipt, the receipt runner never the webhooks.
    let hooks = claim(&*store, at, &webhooks()).await;
    assert_eq!(hooks.len(), 1, "one webhook of the message at a time");
    assert_eq!(hooks[0].kind, OutboxKind::StatusWebhook);
    assert_eq!(fact(&hooks[0]).seq, 1);
    // The receipt is not held back by the leased webhook: its key is its own.
    let receipt = claim(&*store, at, &receipts()).await;
    assert_eq!(receipt.len(), 1);
    assert_eq!(
        (
            receipt[0].kind,
            fact(&receipt[0]).message_id,
            fact(&receipt[0]).seq
        ),
        (OutboxKind::SmppReceipt, id, 2)
    );
    // Nor does a receipt waiting for a bind hold back the webhooks.
    store
        .finish_entry(
            receipt[0].id,
            Outcome::RetryAt(at + SignedDuration::from_secs(60)),
        )
        .await
        .unwrap();
    store
        .finish_entry(hooks[0].id, Outcome::Delivered)
        .await
        .unwrap();
    let hooks = claim(&*store, at, &webhooks()).await;
    assert_eq!(
        hooks
            .iter()
            .map(|e| (e.kind, fact(e).seq))
            .collect::<Vec<_>>(),
        [(OutboxKind::StatusWebhook, 2)]
    );
    // One filter of both kinds takes both keys' heads.
    store
        .finish_entry(hooks[0].id, Outcome::RetryAt(at))
        .await
        .unwrap();
    let both = EntryFilter::kinds([OutboxKind::StatusWebhook, OutboxKind::SmppReceipt]);
    let later = at + SignedDuration::from_secs(60);
    let mut claimed: Vec<OutboxKind> = claim(&*store, later, &both)
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    claimed.sort_by_key(|kind| kind.as_str());
    assert_eq!(
        claimed,
        [OutboxKind::SmppReceipt, OutboxKind::StatusWebhook]
    );
}

#[tokio::test]
async fn a_filter_of_accounts_claims_only_the_entries_going_to_them() {
    let backend = Backend::new();
    let store = backend.open();
    let bound = account(&*store, None).await;
    let unbound = crate::harness::account(&*store, None).await;
    let at = now();
    let mine = finished(&*store, &bound, 1, CmStatus::Delivered, None, at).await;
    let theirs = finished(&*store, &unbound, 1, CmStatus::Delivered, None, at).await;
    let of = |accounts: Vec<i64>| EntryFilter {
        kinds: vec![OutboxKind::SmppReceipt],
        accounts: Some(accounts),
    };

    assert!(claim(&*store, at, &of(vec![])).await.is_empty());
    assert_eq!(store.next_entry_due(&of(vec![])).await.unwrap(), None);
    assert_eq!(
        store.next_entry_due(&of(vec![bound.id])).await.unwrap(),
        Some(at)
    );
    let claimed = claim(&*store, at, &of(vec![bound.id])).await;
    assert_eq!(
        claimed
            .iter()
            .map(|e| fact(e).message_id)
            .collect::<Vec<_>>(),
        [mine]
    );
    assert!(claim(&*store, at, &of(vec![bound.id])).await.is_empty());
    // Another kind for the same account: none.
    let webhooks_of_bound = EntryFilter {
        kinds: vec![OutboxKind::RenderedWebhook],
        accounts: Some(vec![bound.id]),
    };
    assert!(claim(&*store, at, &webhooks_of_bound).await.is_empty());
    // Without accounts, every account's.
    let rest = claim(&*store, at, &receipts()).await;
    assert_eq!(
        rest.iter().map(|e| fact(e).message_id).collect::<Vec<_>>(),
        [theirs]
    );
}

#[tokio::test]
async fn expiring_removes_the_unleased_entries_of_a_kind_created_before_a_time() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let at = now();
    let leased = finished(&*store, &account, 1, CmStatus::Delivered, None, at).await;
    let claimed = claim(&*store, at, &receipts()).await;
    assert_eq!(fact(&claimed[0]).message_id, leased);
    let waiting = finished(&*store, &account, 1, CmStatus::Delivered, None, at).await;
    let later = at + SignedDuration::from_secs(10);
    let young = finished(&*store, &account, 1, CmStatus::Delivered, None, later).await;

    // Created at `at` is not before `at`.
    assert_eq!(
        store
            .expire_entries(OutboxKind::SmppReceipt, at)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .expire_entries(OutboxKind::SmppReceipt, later)
            .await
            .unwrap(),
        1
    );
    // The leased one and the young one are left; so are the webhooks.
    let left = claim(&*store, later + LEASE, &receipts()).await;
    let mut left: Vec<MessageId> = left.iter().map(|e| fact(e).message_id).collect();
    left.sort();
    let mut expected = vec![leased, young];
    expected.sort();
    assert_eq!(left, expected);
    assert!(!left.contains(&waiting));
    let hooks = claim(&*store, later, &webhooks()).await;
    assert_eq!(hooks.len(), 3, "each message's first webhook");
}
