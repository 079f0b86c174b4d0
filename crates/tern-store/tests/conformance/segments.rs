//! Segments of a concatenated message (`tern_core::segments`): stored each on its own, claimed
//! together and in order once their group is complete or its hold has ended, and shown in the
//! message log as one message of N parts.

use jiff::{SignedDuration, Timestamp};
use tern_core::channel::Channel;
use tern_core::message::{
    Content, DeliveryState, MessageFilter, MessageId, MessageRecord, NewMessage, Segment,
    SegmentState,
};
use tern_core::money::Money;
use tern_core::ports::{Dispatch, Store};
use tern_core::segments::SEGMENT_HOLD;
use tern_core::status::CmStatus;

use crate::harness::*;

const NUMBER: &str = "0031612345678";

/// Segment `seq` of `total` with `reference`, from `from` to `to`, with body `body`, accepted at
/// `at`.
#[allow(clippy::too_many_arguments)]
fn segment(
    account: tern_core::account::AccountId,
    id: MessageId,
    from: &str,
    to: &str,
    reference: u16,
    total: u8,
    seq: u8,
    body: &str,
    at: Timestamp,
) -> NewMessage {
    let base = message(account, &[Channel::Sms], Money(0), at);
    NewMessage {
        id,
        recipient: to.into(),
        content: Content {
            from: from.into(),
            body: body.into(),
            udh: Some(vec![0x05, 0x00, 0x03, reference as u8, total, seq]),
            ..(*base.content).clone()
        }
        .into(),
        segment: Some(Segment {
            reference,
            total,
            seq,
        }),
        ..base
    }
}

/// `count` message ids in ascending order (the order they are stored in, as the log sees it).
fn ascending_ids(count: usize) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = (0..count).map(|_| MessageId::generate()).collect();
    ids.sort();
    ids
}

async fn store_one(store: &dyn Store, message: NewMessage) {
    store
        .accept(message.account_id, None, vec![message])
        .await
        .expect("accept");
}

/// (id, seq) of each claimed message, in the claim's order.
fn claimed(claim: &[Dispatch]) -> Vec<(MessageId, Option<u8>)> {
    claim
        .iter()
        .map(|dispatch| (dispatch.id, dispatch.segment.map(|segment| segment.seq)))
        .collect()
}

#[tokio::test]
async fn segments_wait_for_their_group_then_are_claimed_together_in_order() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(3);
    let [three, one, two] = [ids[0], ids[1], ids[2]];
    store_one(
        &*store,
        segment(account.id, three, "Tern", NUMBER, 42, 3, 3, "c", t0),
    )
    .await;
    store_one(
        &*store,
        segment(account.id, one, "Tern", NUMBER, 42, 3, 1, "a", t0),
    )
    .await;
    assert!(store.claim_due(t0, 100, LEASE).await.unwrap().is_empty());
    // Kept waiting until the group's hold ends.
    assert_eq!(store.next_due().await.unwrap(), Some(t0 + SEGMENT_HOLD));
    let t1 = t0 + SignedDuration::from_secs(1);
    store_one(
        &*store,
        segment(account.id, two, "Tern", NUMBER, 42, 3, 2, "b", t1),
    )
    .await;
    let claim = store.claim_due(t1, 100, LEASE).await.unwrap();
    assert_eq!(
        claimed(&claim),
        vec![(one, Some(1)), (two, Some(2)), (three, Some(3))]
    );
    assert!(claim.iter().all(|dispatch| dispatch.attempt == 1));
    assert!(store.claim_due(t1, 100, LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_group_claimed_again_after_its_lease_is_claimed_together_in_order() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(3);
    for (id, seq) in [(ids[0], 3), (ids[1], 1), (ids[2], 2)] {
        store_one(
            &*store,
            segment(account.id, id, "Tern", NUMBER, 11, 3, seq, "x", t0),
        )
        .await;
    }
    let order = vec![(ids[1], Some(1)), (ids[2], Some(2)), (ids[0], Some(3))];
    assert_eq!(
        claimed(&store.claim_due(t0, 100, LEASE).await.unwrap()),
        order
    );
    // A restart releases the node's leases: all three are due at once, stored 3, 1, 2.
    store.release_leases(t0).await.unwrap();
    let again = store.claim_due(t0, 100, LEASE).await.unwrap();
    assert_eq!(claimed(&again), order);
    assert!(again.iter().all(|dispatch| dispatch.attempt == 2));
}

#[tokio::test]
async fn an_incomplete_group_is_claimed_in_order_when_its_hold_ends() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(2);
    store_one(
        &*store,
        segment(account.id, ids[0], "Tern", NUMBER, 7, 3, 3, "c", t0),
    )
    .await;
    let t1 = t0 + SignedDuration::from_secs(30);
    store_one(
        &*store,
        segment(account.id, ids[1], "Tern", NUMBER, 7, 3, 1, "a", t1),
    )
    .await;
    // The hold runs from the first segment's acceptance.
    let almost = t0 + SEGMENT_HOLD - SignedDuration::from_millis(1);
    assert!(store.claim_due(t1, 100, LEASE).await.unwrap().is_empty());
    assert!(
        store
            .claim_due(almost, 100, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let claim = store
        .claim_due(t0 + SEGMENT_HOLD, 100, LEASE)
        .await
        .unwrap();
    assert_eq!(claimed(&claim), vec![(ids[1], Some(1)), (ids[0], Some(3))]);
}

#[tokio::test]
async fn a_group_is_one_recipient_reference_sender_and_total() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(6);
    // Segment 1 of 2 of reference 1 to NUMBER from Tern, and a segment 2 differing in one thing
    // each: none of them completes it.
    let first = segment(account.id, ids[0], "Tern", NUMBER, 1, 2, 1, "a", t0);
    let others = [
        segment(
            account.id,
            ids[1],
            "Tern",
            "0031600000000",
            1,
            2,
            2,
            "b",
            t0,
        ),
        segment(account.id, ids[2], "Tern", NUMBER, 2, 2, 2, "b", t0),
        segment(account.id, ids[3], "Other", NUMBER, 1, 2, 2, "b", t0),
        segment(account.id, ids[4], "Tern", NUMBER, 1, 3, 2, "b", t0),
    ];
    store_one(&*store, first).await;
    for other in others {
        store_one(&*store, other).await;
    }
    assert!(store.claim_due(t0, 100, LEASE).await.unwrap().is_empty());
    store_one(
        &*store,
        segment(account.id, ids[5], "Tern", NUMBER, 1, 2, 2, "b", t0),
    )
    .await;
    let claim = store.claim_due(t0, 100, LEASE).await.unwrap();
    assert_eq!(claimed(&claim), vec![(ids[0], Some(1)), (ids[5], Some(2))]);
}

#[tokio::test]
async fn a_number_given_twice_is_sent_twice_and_a_group_is_claimed_whole_beyond_the_limit() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(3);
    store_one(
        &*store,
        segment(account.id, ids[0], "Tern", NUMBER, 9, 2, 1, "a", t0),
    )
    .await;
    store_one(
        &*store,
        segment(account.id, ids[1], "Tern", NUMBER, 9, 2, 1, "a", t0),
    )
    .await;
    store_one(
        &*store,
        segment(account.id, ids[2], "Tern", NUMBER, 9, 2, 2, "b", t0),
    )
    .await;
    let claim = store.claim_due(t0, 1, LEASE).await.unwrap();
    assert_eq!(
        claimed(&claim),
        vec![(ids[0], Some(1)), (ids[1], Some(1)), (ids[2], Some(2))]
    );
}

#[tokio::test]
async fn a_segment_after_its_group_was_handed_on_starts_a_new_group() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(4);
    store_one(
        &*store,
        segment(account.id, ids[0], "Tern", NUMBER, 5, 2, 1, "a", t0),
    )
    .await;
    store_one(
        &*store,
        segment(account.id, ids[1], "Tern", NUMBER, 5, 2, 2, "b", t0),
    )
    .await;
    assert_eq!(store.claim_due(t0, 100, LEASE).await.unwrap().len(), 2);
    // The client reuses the reference: the new segment 1 waits for its own segment 2.
    store_one(
        &*store,
        segment(account.id, ids[2], "Tern", NUMBER, 5, 2, 1, "c", t0),
    )
    .await;
    assert!(store.claim_due(t0, 100, LEASE).await.unwrap().is_empty());
    store_one(
        &*store,
        segment(account.id, ids[3], "Tern", NUMBER, 5, 2, 2, "d", t0),
    )
    .await;
    let claim = store.claim_due(t0, 100, LEASE).await.unwrap();
    assert_eq!(claimed(&claim), vec![(ids[2], Some(1)), (ids[3], Some(2))]);
    // The log shows two messages of two parts.
    let entries = log(&*store, account.id).await;
    let shown: Vec<(MessageId, u32, String)> = entries
        .iter()
        .map(|entry| {
            (
                entry.message.id,
                entry.message.parts,
                entry.message.content.body.clone(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![(ids[0], 2, "ab".into()), (ids[2], 2, "cd".into())]
    );
}

fn states(record: &MessageRecord) -> Option<Vec<SegmentState>> {
    record.segments.clone()
}

#[tokio::test]
async fn the_log_shows_a_group_once_at_its_first_segments_place_with_every_segment() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(5);
    let [plain_a, two, plain_b, one, three] = [ids[0], ids[1], ids[2], ids[3], ids[4]];
    let plain = |id| NewMessage {
        id,
        ..message(account.id, &[Channel::Sms], Money(0), t0)
    };
    store_one(&*store, plain(plain_a)).await;
    store_one(
        &*store,
        segment(account.id, two, "Tern", NUMBER, 3, 3, 2, "lo, ", t0),
    )
    .await;
    store_one(&*store, plain(plain_b)).await;
    store_one(
        &*store,
        segment(account.id, one, "Tern", NUMBER, 3, 3, 1, "Hel", t0),
    )
    .await;

    // Waiting: the two segments stored are one entry of two parts.
    let entries = log(&*store, account.id).await;
    assert_eq!(ids_of(&entries), vec![plain_a, two, plain_b]);
    let group = &entries[1];
    assert_eq!(
        (group.message.parts, group.message.content.body.as_str()),
        (2, "Hello, ")
    );
    assert_eq!(group.state, DeliveryState::Queued);
    assert_eq!(
        states(group),
        Some(vec![
            SegmentState {
                id: one,
                seq: 1,
                state: DeliveryState::Queued
            },
            SegmentState {
                id: two,
                seq: 2,
                state: DeliveryState::Queued
            },
        ])
    );
    assert_eq!(states(&entries[0]), None);
    assert_eq!(states(&entries[2]), None);

    // Complete and handed on: still one entry, now of three parts, each segment its own state.
    store_one(
        &*store,
        segment(account.id, three, "Tern", NUMBER, 3, 3, 3, "world", t0),
    )
    .await;
    assert_eq!(store.claim_due(t0, 100, LEASE).await.unwrap().len(), 5);
    store
        .apply_batch(
            vec![
                (one, sent(1)),
                (one, report(1, CmStatus::Delivered, None)),
                (two, sent(1)),
                (three, sent(1)),
            ],
            t0,
        )
        .await
        .unwrap();
    let entries = log(&*store, account.id).await;
    assert_eq!(ids_of(&entries), vec![plain_a, two, plain_b]);
    let group = &entries[1];
    assert_eq!(
        (
            group.message.parts,
            group.message.content.body.as_str(),
            group.state
        ),
        (3, "Hello, world", DeliveryState::Sent)
    );
    assert_eq!(
        states(group),
        Some(vec![
            SegmentState {
                id: one,
                seq: 1,
                state: DeliveryState::Delivered
            },
            SegmentState {
                id: two,
                seq: 2,
                state: DeliveryState::Sent
            },
            SegmentState {
                id: three,
                seq: 3,
                state: DeliveryState::Sent
            },
        ])
    );
    // A segment read alone (SMPP's query_sm) is itself.
    let alone = store.message(account.id, three).await.unwrap().unwrap();
    assert_eq!(
        (alone.message.parts, alone.message.content.body.as_str()),
        (1, "world")
    );
    assert_eq!(alone.segments, None);
}

fn ids_of(entries: &[MessageRecord]) -> Vec<MessageId> {
    ids(entries, |entry| entry.message.id)
}

#[tokio::test]
async fn the_log_pages_and_filters_by_group() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(4);
    let plain = |id| NewMessage {
        id,
        ..message(account.id, &[Channel::Sms], Money(0), t0)
    };
    store_one(
        &*store,
        segment(account.id, ids[0], "Tern", NUMBER, 4, 2, 1, "a", t0),
    )
    .await;
    store_one(&*store, plain(ids[1])).await;
    store_one(
        &*store,
        segment(account.id, ids[2], "Tern", NUMBER, 4, 2, 2, "b", t0),
    )
    .await;
    store_one(&*store, plain(ids[3])).await;

    // One entry a page: the group's second segment never shows again.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = log_of(
            &*store,
            account.id,
            MessageFilter {
                after,
                limit: 1,
                ..MessageFilter::default()
            },
        )
        .await;
        let Some(last) = page.last() else { break };
        after = Some(last.message.id);
        pages.push(ids_of(&page));
    }
    assert_eq!(pages, vec![vec![ids[0]], vec![ids[1]], vec![ids[3]]]);

    // The state filter matches the group's state: queued while a segment is queued, then the
    // least advanced segment's.
    let with_state = |state| MessageFilter {
        state: Some(state),
        limit: 10,
        ..MessageFilter::default()
    };
    assert_eq!(
        ids_of(&log_of(&*store, account.id, with_state(DeliveryState::Queued)).await),
        vec![ids[0], ids[1], ids[3]]
    );
    assert_eq!(store.claim_due(t0, 100, LEASE).await.unwrap().len(), 4);
    store
        .apply_batch(
            vec![
                (ids[0], sent(1)),
                (ids[0], report(1, CmStatus::Delivered, None)),
                (ids[1], sent(1)),
                (ids[1], report(1, CmStatus::Delivered, None)),
                (ids[2], sent(1)),
            ],
            t0,
        )
        .await
        .unwrap();
    let delivered = log_of(&*store, account.id, with_state(DeliveryState::Delivered)).await;
    assert_eq!(ids_of(&delivered), vec![ids[1]]);
    let sent_ones = log_of(&*store, account.id, with_state(DeliveryState::Sent)).await;
    assert_eq!(ids_of(&sent_ones), vec![ids[0]]);
    // A page of one under a filter that skips the entries before still finds the next match.
    let one_delivered = MessageFilter {
        limit: 1,
        ..with_state(DeliveryState::Delivered)
    };
    assert_eq!(
        ids_of(&log_of(&*store, account.id, one_delivered).await),
        vec![ids[1]]
    );
    store
        .apply_batch(vec![(ids[2], report(1, CmStatus::Delivered, None))], t0)
        .await
        .unwrap();
    let delivered = log_of(&*store, account.id, with_state(DeliveryState::Delivered)).await;
    assert_eq!(ids_of(&delivered), vec![ids[0], ids[1]]);
}
