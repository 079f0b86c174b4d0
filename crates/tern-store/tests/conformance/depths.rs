//! [`StoreDepths`]: the counts the metrics sample. Messages are due from their due time until
//! claimed (a lease hides them) or final; outbox entries wait until their outcome is recorded,
//! leased or not.
//!
//! [`StoreDepths`]: tern_core::ports::StoreDepths

use jiff::SignedDuration;
use tern_core::outbox::Outcome;
use tern_core::status::CmStatus;

use crate::harness::*;

#[tokio::test]
async fn the_depths_count_the_messages_due_and_the_entries_waiting() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let second = SignedDuration::from_secs(1);
    assert_eq!(store.due_messages(now).await.unwrap(), 0);
    assert_eq!(store.waiting_entries().await.unwrap(), 0);

    let first = accept_one(&*store, account.id, now - second).await;
    accept_one(&*store, account.id, now).await;
    accept_one(&*store, account.id, now + second).await;
    assert_eq!(store.due_messages(now).await.unwrap(), 2);
    assert_eq!(store.due_messages(now + second).await.unwrap(), 3);
    // Accepting makes no report.
    assert_eq!(store.waiting_entries().await.unwrap(), 0);

    // A claimed message is leased: not due until its lease runs out.
    let claimed = store.claim_due(now, 1, LEASE).await.unwrap();
    assert_eq!(ids(&claimed, |d| d.id), vec![first]);
    assert_eq!(store.due_messages(now).await.unwrap(), 1);
    assert_eq!(store.due_messages(now + second).await.unwrap(), 2);

    // Delivered: final, never due again; its status change is one report waiting.
    store
        .apply_batch(
            vec![
                (first, sent(1)),
                (first, report(1, CmStatus::Delivered, None)),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(store.due_messages(now + LEASE * 2).await.unwrap(), 2);
    assert_eq!(store.waiting_entries().await.unwrap(), 1);
    // Leased to a runner, it still waits; once delivered it is gone.
    let entries = store
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(store.waiting_entries().await.unwrap(), 1);
    store
        .finish_entries(vec![(entries[0].id, Outcome::Delivered)])
        .await
        .unwrap();
    assert_eq!(store.waiting_entries().await.unwrap(), 0);
}
