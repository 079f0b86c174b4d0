//! Part reports: the parts of a message of several parts are reported one by one, and the
//! message gets one status change per change of what its parts come to
//! (`part_reports::combine`), kept across a reopen of the store.

use tern_core::channel::Channel;
use tern_core::dispatch::Event;
use tern_core::error_code::DeliveryError;
use tern_core::money::Money;
use tern_core::status::CmStatus;

use crate::harness::*;

fn part(attempt: u32, part_index: u32, status: CmStatus, error: Option<u16>) -> Event {
    Event::PartReport {
        attempt,
        part_index,
        status,
        error_code: error.map(|code| DeliveryError::from_code(code).unwrap()),
        operator: Some("20416".into()),
    }
}

async fn three_parts_sent(
    store: &dyn tern_core::ports::Store,
) -> (tern_core::account::Account, tern_core::message::MessageId) {
    let account = account(store, None).await;
    let now = now();
    let mut msg = message(account.id, &[Channel::Sms], Money(0), now);
    msg.parts = 3;
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 1);
    store.apply(id, sent(1), now).await.unwrap();
    (account, id)
}

fn statuses(record: &tern_core::message::MessageRecord) -> Vec<(CmStatus, Option<u16>)> {
    record
        .history
        .iter()
        .map(|change| (change.status, change.error_code))
        .collect()
}

#[tokio::test]
async fn a_message_is_delivered_once_every_part_is_and_reported_once_per_change() {
    let backend = Backend::new();
    let store = backend.open();
    let (account, id) = three_parts_sent(&*store).await;
    let now = now();
    store
        .apply_batch(
            vec![
                (id, part(1, 2, CmStatus::Delivered, None)),
                (id, part(1, 2, CmStatus::Delivered, None)),
                (id, part(1, 0, CmStatus::Accepted, None)),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        statuses(&logged(&*store, account.id, id).await),
        vec![(CmStatus::Accepted, None)]
    );
    // What the parts said survives a reopen.
    let store = backend.reopen(store);
    store
        .apply(id, part(1, 0, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(statuses(&logged(&*store, account.id, id).await).len(), 1);
    // A late intermediate receipt changes nothing; the last part delivers the message.
    store
        .apply(id, part(1, 2, CmStatus::Accepted, None), now)
        .await
        .unwrap();
    store
        .apply(id, part(1, 1, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    let record = logged(&*store, account.id, id).await;
    assert_eq!(
        statuses(&record),
        vec![(CmStatus::Accepted, None), (CmStatus::Delivered, None)]
    );
    assert_eq!(record.history[1].operator.as_deref(), Some("20416"));
    // A duplicate receipt after that reports nothing more.
    store
        .apply(id, part(1, 1, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(statuses(&logged(&*store, account.id, id).await).len(), 2);
}

#[tokio::test]
async fn one_failed_part_fails_the_message_and_stale_attempts_count_for_nothing() {
    let backend = Backend::new();
    let store = backend.open();
    let (account, id) = three_parts_sent(&*store).await;
    let now = now();
    // A receipt of another attempt's part is stale.
    store
        .apply(id, part(7, 0, CmStatus::Failed, Some(24)), now)
        .await
        .unwrap();
    assert!(logged(&*store, account.id, id).await.history.is_empty());
    store
        .apply(id, part(1, 0, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    store
        .apply(id, part(1, 1, CmStatus::Failed, Some(24)), now)
        .await
        .unwrap();
    store
        .apply(id, part(1, 2, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(
        statuses(&logged(&*store, account.id, id).await),
        vec![(CmStatus::Failed, Some(24))]
    );
}

#[tokio::test]
async fn a_message_of_one_part_is_its_part() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    store.apply(id, sent(1), now).await.unwrap();
    store
        .apply(id, part(1, 0, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(
        statuses(&logged(&*store, account.id, id).await),
        vec![(CmStatus::Delivered, None)]
    );
}

#[tokio::test]
async fn the_log_shows_each_send_with_its_connector_and_the_ids_as_the_channel_wrote_them() {
    use std::sync::Arc;
    use tern_core::dispatch::ExternalIds;
    use tern_core::message::SendRecord;
    let backend = Backend::new();
    let store = backend.open();
    let (account, id) = three_parts_sent(&*store).await;
    let now = now();
    // The first attempt (sent above) named no parts; a second one is taken after its lease.
    store.claim_due(now + LEASE, 10, LEASE).await.unwrap();
    let sent = Event::Sent {
        attempt: 2,
        external_ids: ExternalIds {
            connector: Arc::from("op-a"),
            part_ids: vec!["ab".into(), "ac".into(), "ad".into()],
            given_ids: vec!["00AB".into(), "00AC".into(), "00AD".into()],
        },
    };
    store.apply(id, sent, now + LEASE).await.unwrap();
    assert_eq!(
        logged(&*store, account.id, id).await.sends,
        vec![SendRecord {
            attempt: 2,
            connector: "op-a".into(),
            external_ids: vec!["00AB".into(), "00AC".into(), "00AD".into()],
        }]
    );
    // Receipts name the parts by the normalised ids.
    let part = store.sent_part("op-a", "ac").await.unwrap().unwrap();
    assert_eq!((part.message_id, part.attempt, part.part_index), (id, 2, 1));
}
