//! [`QueueStore`]: due messages are claimed earliest first under a lease, events are recorded as
//! `dispatch::apply` decides them, and the queue says what is due next and what waits on a
//! channel.

use std::time::Duration;

use jiff::SignedDuration;
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ExternalIds, Next};
use tern_core::message::{DeliveryState, MessageId, MessageRecord};
use tern_core::money::Money;
use tern_core::ports::{Dispatch, SentPart, Store};
use tern_core::status::CmStatus;

use crate::harness::*;

/// A message's status history as (channel, status, error code).
fn history(record: &MessageRecord) -> Vec<(Channel, CmStatus, Option<u16>)> {
    record
        .history
        .iter()
        .map(|event| (event.channel, event.status, event.error_code))
        .collect()
}

#[tokio::test]
async fn due_messages_are_claimed_earliest_first_up_to_the_limit() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let second = SignedDuration::from_secs(1);
    // Accepted (and so due) at different times, stored in another order.
    let late = accept_one(&*store, account.id, now - second).await;
    let earliest = accept_one(&*store, account.id, now - second * 3).await;
    let middle = accept_one(&*store, account.id, now - second * 2).await;
    let future = accept_one(&*store, account.id, now + second).await;

    let first = store.claim_due(now, 2, LEASE).await.unwrap();
    assert_eq!(ids(&first, |d| d.id), vec![earliest, middle]);
    let rest = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&rest, |d| d.id), vec![late]);
    // Not due yet.
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
    let then = store.claim_due(now + second, 10, LEASE).await.unwrap();
    assert_eq!(ids(&then, |d| d.id), vec![future]);
    assert!(
        [first, rest, then]
            .iter()
            .flatten()
            .all(|d| (d.attempt, d.channel) == (1, Channel::Sms))
    );
}

#[tokio::test]
async fn a_lease_that_runs_out_is_claimed_again_as_a_new_attempt() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 1);
    assert_eq!(store.next_due().await.unwrap(), Some(now + LEASE));
    let just_before = now + LEASE - SignedDuration::from_millis(1);
    assert!(
        store
            .claim_due(just_before, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due(now + LEASE, 10, LEASE).await.unwrap();
    assert_eq!(ids(&again, |d| d.id), vec![id]);
    assert_eq!((again[0].attempt, again[0].channel), (2, Channel::Sms));
    // The new lease runs from the new claim.
    assert_eq!(store.next_due().await.unwrap(), Some(now + LEASE * 2));
    // A send of the attempt whose lease ran out is stale.
    assert_eq!(store.apply(id, sent(1), now).await.unwrap(), Next::Ignore);
    assert_eq!(
        logged(&*store, account.id, id).await.state,
        DeliveryState::Queued
    );
}

#[tokio::test]
async fn expired_messages_are_reported_failed_with_code_8() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let mut msg = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    msg.valid_until = now;
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Expired);
    assert_eq!(
        history(&record),
        vec![(Channel::WhatsApp, CmStatus::Failed, Some(8))]
    );
    assert_eq!(record.history[0].at, now);
    assert_eq!(store.next_due().await.unwrap(), None);
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_whose_report_never_came_expires_at_the_end_of_its_validity() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let sent_only = accept_one(&*store, account.id, now).await;
    let accepted = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    store
        .apply_batch(
            vec![
                (sent_only, sent(1)),
                (accepted, sent(1)),
                (accepted, report(1, CmStatus::Accepted, None)),
            ],
            now,
        )
        .await
        .unwrap();
    let end = now + VALIDITY;
    let just_before = end - SignedDuration::from_millis(1);
    assert!(
        store
            .claim_due(just_before, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.claim_due(end, 10, LEASE).await.unwrap().is_empty());
    for id in [sent_only, accepted] {
        let record = logged(&*store, account.id, id).await;
        assert_eq!(record.state, DeliveryState::Expired);
        let expired = record.history.last().unwrap();
        assert_eq!(
            (expired.status, expired.error_code, expired.at),
            (CmStatus::Failed, Some(8), end)
        );
    }
    assert_eq!(
        history(&logged(&*store, account.id, accepted).await),
        vec![
            (Channel::Sms, CmStatus::Accepted, None),
            (Channel::Sms, CmStatus::Failed, Some(8))
        ]
    );
    assert!(store.awaiting_report().await.unwrap().is_empty());
    assert_eq!(store.next_due().await.unwrap(), None);
}

#[tokio::test]
async fn a_failure_moves_the_message_to_its_next_channel() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    let first = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!((first[0].channel, first[0].attempt), (Channel::WhatsApp, 1));
    let failed = report(1, CmStatus::Failed, Some(24));
    assert_eq!(
        store.apply(id, failed.clone(), now).await.unwrap(),
        Next::Requeue
    );
    // Queued again at once, on the next channel.
    assert_eq!(store.next_due().await.unwrap(), Some(now));
    let second = store.claim_due(now, 10, LEASE).await.unwrap();
    // Attempt 3: a fallback skips one, so that nothing the failed attempt's channel still says
    // counts for the next channel (`dispatch::fall_back`).
    assert_eq!((second[0].channel, second[0].attempt), (Channel::Sms, 3));
    // The same report again changes nothing.
    assert_eq!(store.apply(id, failed, now).await.unwrap(), Next::Ignore);
    assert_eq!(
        store.apply(id, sent(3), now).await.unwrap(),
        Next::Wait {
            until: now + VALIDITY
        }
    );
    let delivered = Event::ChannelReport {
        attempt: 3,
        status: CmStatus::Delivered,
        error_code: None,
        operator: Some("20416".into()),
        detail: None,
    };
    assert_eq!(store.apply(id, delivered, now).await.unwrap(), Next::Done);

    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(record.channel, Some(Channel::Sms));
    assert_eq!(
        history(&record),
        vec![
            (Channel::WhatsApp, CmStatus::Failed, Some(24)),
            (Channel::Sms, CmStatus::Delivered, None)
        ]
    );
    assert_eq!(record.history[1].operator.as_deref(), Some("20416"));
    assert!(record.history.iter().all(|event| event.at == now));
    assert_eq!(store.next_due().await.unwrap(), None);
}

#[tokio::test]
async fn events_of_unknown_messages_are_ignored() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    let unknown = MessageId::generate();
    assert_eq!(
        store
            .apply(unknown, report(1, CmStatus::Delivered, None), now)
            .await
            .unwrap(),
        Next::Ignore
    );
    assert_eq!(
        store
            .apply_batch(vec![(unknown, Event::Due), (unknown, sent(1))], now)
            .await
            .unwrap(),
        vec![Next::Ignore, Next::Ignore]
    );
    // The known message is as it was.
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Queued);
    assert!(record.history.is_empty());
    assert_eq!(log(&*store, account.id).await.len(), 1);
    assert_eq!(store.next_due().await.unwrap(), Some(now));
}

#[tokio::test]
async fn an_event_of_an_earlier_attempt_is_ignored() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    // The lease ran out: the message is sent again.
    let again = store.claim_due(now + LEASE, 10, LEASE).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    let at = now + LEASE;
    let nexts = store
        .apply_batch(
            vec![
                (id, sent(1)),
                (id, report(1, CmStatus::Delivered, None)),
                (id, report(1, CmStatus::Failed, Some(24))),
            ],
            at,
        )
        .await
        .unwrap();
    assert_eq!(nexts, vec![Next::Ignore, Next::Ignore, Next::Ignore]);
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Queued);
    assert!(record.history.is_empty());
    // The current attempt counts.
    assert_eq!(
        store.apply(id, sent(2), at).await.unwrap(),
        Next::Wait {
            until: now + VALIDITY
        }
    );
    assert_eq!(
        logged(&*store, account.id, id).await.state,
        DeliveryState::Sent
    );
}

#[tokio::test]
async fn a_batch_of_events_applies_in_order_and_reports_once() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let first = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    let second = message(account.id, &[Channel::Sms], Money(0), now);
    let (first_id, second_id) = (first.id, second.id);
    store
        .accept(account.id, None, vec![first, second])
        .await
        .unwrap();
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 2);
    let nexts = store
        .apply_batch(
            vec![
                (first_id, sent(1)),
                (second_id, sent(1)),
                // Sees the `Sent` above: delivered, then a duplicate that changes nothing.
                (second_id, report(1, CmStatus::Delivered, None)),
                (second_id, report(1, CmStatus::Delivered, None)),
                (first_id, report(1, CmStatus::Failed, Some(24))),
                (MessageId::generate(), sent(1)),
            ],
            now,
        )
        .await
        .unwrap();
    let wait = Next::Wait {
        until: now + VALIDITY,
    };
    assert_eq!(
        nexts,
        vec![
            wait.clone(),
            wait,
            Next::Done,
            Next::Ignore,
            Next::Requeue,
            Next::Ignore
        ]
    );
    // One status change each, numbered from the first.
    let done = logged(&*store, account.id, second_id).await;
    assert_eq!(done.state, DeliveryState::Delivered);
    assert_eq!(
        history(&done),
        vec![(Channel::Sms, CmStatus::Delivered, None)]
    );
    let fell_back = logged(&*store, account.id, first_id).await;
    assert_eq!(fell_back.state, DeliveryState::Queued);
    assert_eq!(fell_back.channel, Some(Channel::Sms));
    assert_eq!(
        history(&fell_back),
        vec![(Channel::WhatsApp, CmStatus::Failed, Some(24))]
    );
    // The fallback left the first message queued on SMS.
    let requeued = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(
        (
            requeued.len(),
            requeued[0].id,
            requeued[0].channel,
            requeued[0].attempt
        ),
        (1, first_id, Channel::Sms, 3)
    );
    // The content a connector needs is intact after events that did not load it.
    assert_eq!(requeued[0].content.body, "Hello");
    assert_eq!(requeued[0].content.from, "Tern");
}

#[tokio::test]
async fn events_of_one_message_in_one_batch_see_each_other() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    let nexts = store
        .apply_batch(
            vec![
                (id, sent(1)),
                (id, report(1, CmStatus::Accepted, None)),
                // Reported once.
                (id, report(1, CmStatus::Accepted, None)),
                (id, report(1, CmStatus::Delivered, None)),
                (id, report(1, CmStatus::Read, None)),
                // Too late: the message is finished.
                (id, report(1, CmStatus::Failed, Some(24))),
            ],
            now,
        )
        .await
        .unwrap();
    let wait = Next::Wait {
        until: now + VALIDITY,
    };
    assert_eq!(
        nexts,
        vec![
            wait.clone(),
            wait,
            Next::Ignore,
            Next::Done,
            Next::Done,
            Next::Ignore
        ]
    );
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Read);
    assert_eq!(
        history(&record),
        vec![
            (Channel::Sms, CmStatus::Accepted, None),
            (Channel::Sms, CmStatus::Delivered, None),
            (Channel::Sms, CmStatus::Read, None)
        ]
    );
    assert_eq!(store.next_due().await.unwrap(), None);
    // A later batch goes on from what was recorded.
    assert_eq!(
        store
            .apply(id, report(1, CmStatus::Read, None), now)
            .await
            .unwrap(),
        Next::Ignore
    );
    assert_eq!(logged(&*store, account.id, id).await.history.len(), 3);
}

#[tokio::test]
async fn a_restart_releases_leases_but_keeps_scheduled_retries() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let delivered = accept_one(&*store, account.id, now).await;
    let deferred = accept_one(&*store, account.id, now).await;
    let waiting = accept_one(&*store, account.id, now).await;
    let unsettled = accept_one(&*store, account.id, now).await;
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 4);
    let hour = SignedDuration::from_hours(1);
    let nexts = store
        .apply_batch(
            vec![
                (delivered, sent(1)),
                (delivered, report(1, CmStatus::Delivered, None)),
                (
                    deferred,
                    Event::Deferred {
                        attempt: 1,
                        retry_after: Some(Duration::from_secs(3600)),
                    },
                ),
                (waiting, sent(1)),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(nexts[2], Next::Retry { at: now + hour });
    // `unsettled` was claimed but never settled: the process died mid-send.

    let store = backend.reopen(store);
    store.release_leases(now).await.unwrap();
    let resent = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&resent, |d| d.id), vec![unsettled]);
    assert_eq!(resent[0].attempt, 2);
    // The retry keeps its time; the message waiting for its report keeps waiting.
    assert_eq!(store.next_due().await.unwrap(), Some(now + LEASE));
    let at_retry = store
        .claim_due(now + hour - SignedDuration::from_millis(1), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(ids(&at_retry, |d| d.id), vec![unsettled]);
    let retried = store.claim_due(now + hour, 10, LEASE).await.unwrap();
    assert_eq!(ids(&retried, |d| d.id), vec![deferred]);
    assert_eq!(retried[0].attempt, 2);
    assert_eq!(
        logged(&*store, account.id, waiting).await.state,
        DeliveryState::Sent
    );
    assert_eq!(
        logged(&*store, account.id, delivered).await.state,
        DeliveryState::Delivered
    );
}

#[tokio::test]
async fn a_node_releases_only_its_own_leases() {
    let backend = Backend::new();
    let a = backend.open_as("a");
    let b = backend.open_as("b");
    let account = account(&*a, None).await;
    let now = now();
    let of_a = accept_one(&*a, account.id, now - SignedDuration::from_millis(1)).await;
    let of_b = accept_one(&*a, account.id, now).await;
    assert_eq!(
        ids(&a.claim_due(now, 1, LEASE).await.unwrap(), |d| d.id),
        vec![of_a]
    );
    assert_eq!(
        ids(&b.claim_due(now, 1, LEASE).await.unwrap(), |d| d.id),
        vec![of_b]
    );

    // A node that holds nothing releases nothing.
    backend.open_as("c").release_leases(now).await.unwrap();
    assert!(a.claim_due(now, 10, LEASE).await.unwrap().is_empty());
    assert_eq!(a.next_due().await.unwrap(), Some(now + LEASE));

    // b's release makes b's claim due, not a's.
    b.release_leases(now).await.unwrap();
    assert_eq!(b.next_due().await.unwrap(), Some(now));
    let released = b.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&released, |d| d.id), vec![of_b]);
    assert_eq!(released[0].attempt, 2);

    // a's own release makes a's claim due, and leaves b's new one.
    a.release_leases(now).await.unwrap();
    let released = b.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(ids(&released, |d| d.id), vec![of_a]);
    assert_eq!(released[0].attempt, 2);
    assert!(a.claim_due(now, 10, LEASE).await.unwrap().is_empty());

    // A claim taken over after its lease ran out is the new node's: the old one's release
    // leaves it.
    let later = now + LEASE;
    let taken = a.claim_due(later, 10, LEASE).await.unwrap();
    let mut taken = ids(&taken, |d| d.id);
    taken.sort();
    let mut both = vec![of_a, of_b];
    both.sort();
    assert_eq!(taken, both);
    b.release_leases(later).await.unwrap();
    assert!(b.claim_due(later, 10, LEASE).await.unwrap().is_empty());
    a.release_leases(later).await.unwrap();
    assert_eq!(b.claim_due(later, 10, LEASE).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_claiming_at_once_hand_out_each_message_once() {
    let backend = Backend::new();
    let nodes = [backend.open_as("a"), backend.open_as("b")];
    let account = account(&*nodes[0], None).await;
    let now = now();
    let messages: Vec<_> = (0..200)
        .map(|_| message(account.id, &[Channel::Sms], Money(0), now))
        .collect();
    let mut expected: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
    nodes[0].accept(account.id, None, messages).await.unwrap();
    let mut claimers = Vec::new();
    for index in 0..4 {
        let store = std::sync::Arc::clone(&nodes[index % 2]);
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let batch = store.claim_due(now, 7, LEASE).await.unwrap();
                if batch.is_empty() {
                    return claimed;
                }
                claimed.extend(batch.into_iter().map(|d| (d.id, d.attempt)));
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    assert!(claimed.iter().all(|&(_, attempt)| attempt == 1));
    let mut claimed: Vec<MessageId> = claimed.into_iter().map(|(id, _)| id).collect();
    claimed.sort();
    expected.sort();
    assert_eq!(claimed, expected, "every message claimed exactly once");
}

#[tokio::test]
async fn a_deferred_message_waits_on_its_channel_and_keeps_its_count() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    store.claim_due(now, 10, LEASE).await.unwrap();
    let throttled = |attempt| Event::Deferred {
        attempt,
        retry_after: None,
    };
    let retry_at = now + SignedDuration::from_secs(1);
    assert_eq!(
        store.apply(id, throttled(1), now).await.unwrap(),
        Next::Retry { at: retry_at }
    );
    // Not due before the retry; then on the same channel, as a new attempt.
    assert!(store.claim_due(now, 10, LEASE).await.unwrap().is_empty());
    assert_eq!(store.next_due().await.unwrap(), Some(retry_at));
    let again = store.claim_due(retry_at, 10, LEASE).await.unwrap();
    assert_eq!((again[0].channel, again[0].attempt), (Channel::WhatsApp, 2));
    // The count was stored: the second default delay is twice the first.
    assert_eq!(
        store.apply(id, throttled(2), retry_at).await.unwrap(),
        Next::Retry {
            at: retry_at + SignedDuration::from_secs(2)
        }
    );
    let record = logged(&*store, account.id, id).await;
    assert_eq!(record.state, DeliveryState::Queued);
    assert_eq!(record.channel, Some(Channel::WhatsApp));
    assert!(record.history.is_empty(), "no status change");
    // Due again after the doubled delay, still on its channel.
    let third = store
        .claim_due(retry_at + SignedDuration::from_secs(2), 10, LEASE)
        .await
        .unwrap();
    assert_eq!((third[0].channel, third[0].attempt), (Channel::WhatsApp, 3));
}

#[tokio::test]
async fn the_ids_a_channel_gave_find_their_message_attempt_and_part() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    let sent = |connector: &str, part_ids: &[&str]| Event::Sent {
        attempt: 1,
        external_ids: ExternalIds {
            connector: connector.into(),
            part_ids: part_ids.iter().map(|part| part.to_string()).collect(),
            given_ids: Vec::new(),
        },
    };
    // Recorded with the send even when the send itself changes nothing (the channel's
    // acceptance came first in the same batch).
    store
        .apply_batch(
            vec![
                (id, report(1, CmStatus::Accepted, None)),
                (id, sent("smsc-a", &["a-1", "a-2"])),
                (MessageId::generate(), sent("smsc-a", &["lost"])),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        store.sent_part("smsc-a", "a-2").await.unwrap(),
        Some(SentPart {
            message_id: id,
            attempt: 1,
            part_index: 1
        })
    );
    assert_eq!(
        store.sent_part("smsc-a", "a-1").await.unwrap(),
        Some(SentPart {
            message_id: id,
            attempt: 1,
            part_index: 0
        })
    );
    // Ids are scoped by connector; events of unknown messages record nothing; an id no channel
    // gave finds nothing.
    assert_eq!(store.sent_part("smsc-b", "a-1").await.unwrap(), None);
    assert_eq!(store.sent_part("smsc-a", "lost").await.unwrap(), None);
    assert_eq!(store.sent_part("smsc-a", "a-3").await.unwrap(), None);

    // A connector that gives an id again names its latest part with it.
    let other = accept_one(&*store, account.id, now).await;
    store.claim_due(now, 10, LEASE).await.unwrap();
    store
        .apply(other, sent("smsc-a", &["a-2"]), now)
        .await
        .unwrap();
    assert_eq!(
        store.sent_part("smsc-a", "a-2").await.unwrap(),
        Some(SentPart {
            message_id: other,
            attempt: 1,
            part_index: 0
        })
    );
    assert_eq!(
        store
            .sent_part("smsc-a", "a-1")
            .await
            .unwrap()
            .unwrap()
            .message_id,
        id
    );
}

#[tokio::test]
async fn next_due_is_the_earliest_time_a_message_becomes_due() {
    let backend = Backend::new();
    let store = backend.open();
    assert_eq!(store.next_due().await.unwrap(), None);
    let account = account(&*store, None).await;
    let now = now();
    let later = now + SignedDuration::from_secs(5);
    let first = accept_one(&*store, account.id, later).await;
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    let second = accept_one(&*store, account.id, now).await;
    assert_eq!(store.next_due().await.unwrap(), Some(now));
    // Claimed: due again when its lease ends, unless settled before.
    assert_eq!(
        ids(&store.claim_due(now, 10, LEASE).await.unwrap(), |d| d.id),
        vec![second]
    );
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    store.claim_due(later, 10, LEASE).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(now + LEASE));
    // Handed to a channel: due at the end of its validity (to expire then).
    store.apply(second, sent(1), now).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(later + LEASE));
    store.apply(first, sent(1), later).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(now + VALIDITY));
    // Finished: out of the queue.
    store
        .apply(second, report(1, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(later + VALIDITY));
    store
        .apply(first, report(1, CmStatus::Rejected, Some(20)), later)
        .await
        .unwrap();
    assert_eq!(store.next_due().await.unwrap(), None);
}

#[tokio::test]
async fn messages_handed_to_a_channel_await_their_report() {
    let backend = Backend::new();
    let store = backend.open();
    assert!(store.awaiting_report().await.unwrap().is_empty());
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    let sent_one = msg.id;
    store
        .accept(account.id, None, vec![msg.clone()])
        .await
        .unwrap();
    let accepted = accept_one(&*store, account.id, now).await;
    let claimed_only = accept_one(&*store, account.id, now).await;
    let delivered = accept_one(&*store, account.id, now).await;
    let queued = accept_one(&*store, account.id, now + SignedDuration::from_secs(1)).await;
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 4);
    store
        .apply_batch(
            vec![
                (sent_one, sent(1)),
                (accepted, sent(1)),
                (accepted, report(1, CmStatus::Accepted, None)),
                (delivered, sent(1)),
                (delivered, report(1, CmStatus::Delivered, None)),
            ],
            now,
        )
        .await
        .unwrap();
    let mut awaiting: Vec<Dispatch> = store
        .awaiting_report()
        .await
        .unwrap()
        .into_iter()
        .map(|awaited| awaited.message)
        .collect();
    awaiting.sort_by_key(|d| d.id);
    let mut expected = vec![sent_one, accepted];
    expected.sort();
    assert_eq!(ids(&awaiting, |d| d.id), expected);
    let resumed = awaiting.iter().find(|d| d.id == sent_one).unwrap();
    assert_eq!(
        (resumed.attempt, resumed.channel, resumed.account_id),
        (1, Channel::WhatsApp, account.id)
    );
    assert_eq!(resumed.recipient, msg.recipient);
    assert_eq!(*resumed.content, *msg.content);
    assert_eq!(resumed.reference, msg.reference);
    assert_eq!(resumed.parts, 1);
    let _ = (claimed_only, queued);
    // Once its report came, a message no longer waits.
    store
        .apply(sent_one, report(1, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    assert_eq!(
        ids(&store.awaiting_report().await.unwrap(), |a| a.message.id),
        vec![accepted]
    );
}

/// The send of `attempt` by `connector`.
fn sent_by(connector: &str, attempt: u32) -> Event {
    Event::Sent {
        attempt,
        external_ids: ExternalIds {
            connector: connector.into(),
            part_ids: vec![format!("{connector}-{attempt}")],
            given_ids: Vec::new(),
        },
    }
}

/// The connector each message awaiting its report is awaited from.
async fn awaited_from(store: &dyn Store) -> Vec<(MessageId, Option<String>)> {
    let mut awaiting: Vec<(MessageId, Option<String>)> = store
        .awaiting_report()
        .await
        .unwrap()
        .into_iter()
        .map(|awaited| (awaited.message.id, awaited.connector.map(|c| c.to_string())))
        .collect();
    awaiting.sort();
    awaiting
}

#[tokio::test]
async fn a_message_awaits_its_report_from_the_connector_that_took_its_current_attempt() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let first = accept_one(&*store, account.id, now).await;
    let second = accept_one(&*store, account.id, now).await;
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 2);
    store
        .apply_batch(
            vec![
                (first, sent_by("op-a", 1)),
                // Its report came before the dispatcher recorded the send: the send still says
                // which connector took it.
                (second, report(1, CmStatus::Accepted, None)),
                (second, sent_by("op-b", 1)),
            ],
            now,
        )
        .await
        .unwrap();
    let mut expected = vec![
        (first, Some("op-a".to_owned())),
        (second, Some("op-b".to_owned())),
    ];
    expected.sort();
    assert_eq!(awaited_from(&*store).await, expected);
    // A send of an earlier attempt (cut off by a crash, recorded late) changes nothing.
    store.apply(first, sent_by("op-c", 0), now).await.unwrap();
    assert_eq!(awaited_from(&*store).await, expected);
    // After a reopen too.
    let store = backend.reopen(store);
    assert_eq!(awaited_from(&*store).await, expected);
}
