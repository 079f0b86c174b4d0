//! [`MessageLogStore`]: an account's messages, filtered and paged as the log's doc says, with
//! their status history and the conversions recorded on them.

use jiff::SignedDuration;
use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::funnel::ChannelFunnel;
use tern_core::message::{DeliveryState, MessageFilter, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::ports::Store;
use tern_core::status::CmStatus;

use crate::harness::*;

const NUMBER: &str = "0031612345678";
const SAME_NUMBER: &str = "+31612345678";
const OTHER_NUMBER: &str = "0031698765432";

/// A message of `account` to `recipient` with `reference`, accepted at `at`, named `id`.
fn message_to(
    account: AccountId,
    id: MessageId,
    recipient: &str,
    reference: Option<&str>,
    at: jiff::Timestamp,
) -> NewMessage {
    NewMessage {
        id,
        recipient: recipient.into(),
        reference: reference.map(str::to_owned),
        ..message(account, &[Channel::Sms], Money(0), at)
    }
}

/// `count` message ids in ascending order.
fn ascending_ids(count: usize) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = (0..count).map(|_| MessageId::generate()).collect();
    ids.sort();
    ids
}

/// The ids of the log of `account` with `filter`.
async fn logged_ids(
    store: &dyn Store,
    account: AccountId,
    filter: MessageFilter,
) -> Vec<MessageId> {
    ids(&log_of(store, account, filter).await, |r| r.message.id)
}

fn limit(limit: usize) -> MessageFilter {
    MessageFilter {
        limit,
        ..MessageFilter::default()
    }
}

#[tokio::test]
async fn the_log_filters_an_accounts_messages_and_pages_them_by_id() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let t0 = now();
    let second = SignedDuration::from_secs(1);
    let id = ascending_ids(5);
    let m1 = message_to(account.id, id[0], NUMBER, Some("a"), t0);
    let m2 = message_to(account.id, id[1], OTHER_NUMBER, Some("b"), t0 + second);
    let m3 = message_to(account.id, id[2], NUMBER, Some("b"), t0 + second * 2);
    let m4 = message_to(account.id, id[3], OTHER_NUMBER, None, t0 + second * 3);
    let foreign = message_to(other.id, id[4], NUMBER, Some("a"), t0);
    // Stored in another order than their ids'.
    store
        .accept(account.id, None, vec![m3.clone(), m1.clone()])
        .await
        .unwrap();
    store
        .accept(account.id, None, vec![m4.clone(), m2.clone()])
        .await
        .unwrap();
    store.accept(other.id, None, vec![foreign]).await.unwrap();
    // m3 delivered, the others queued.
    let now = t0 + second * 3;
    store.claim_due(now, 10, LEASE).await.unwrap();
    store.apply(m3.id, sent(1), now).await.unwrap();
    store
        .apply(m3.id, report(1, CmStatus::Delivered, None), now)
        .await
        .unwrap();

    let all = log_of(&*store, account.id, limit(100)).await;
    assert_eq!(
        ids(&all, |r| r.message.id),
        vec![m1.id, m2.id, m3.id, m4.id]
    );
    assert_eq!(all[0].message, m1);
    assert_eq!(all[3].message, m4);
    assert_eq!(all[2].state, DeliveryState::Delivered);
    assert_eq!(all[2].channel, Some(Channel::Sms));
    assert_eq!(all[2].history.len(), 1);
    assert_eq!(all[2].history[0].status, CmStatus::Delivered);
    assert_eq!(all[2].history[0].at, now);
    // Claimed but not yet sent: still queued.
    assert_eq!(all[0].state, DeliveryState::Queued);
    assert!(all[0].history.is_empty() && all[0].conversions.is_empty());

    let by = |filter: MessageFilter| logged_ids(&*store, account.id, filter);
    let reference = |r: &str| MessageFilter {
        reference: Some(r.into()),
        ..limit(100)
    };
    assert_eq!(by(reference("b")).await, vec![m2.id, m3.id]);
    assert_eq!(by(reference("none")).await, vec![]);
    let recipient = MessageFilter {
        recipient: Some(NUMBER.into()),
        ..limit(100)
    };
    assert_eq!(by(recipient.clone()).await, vec![m1.id, m3.id]);
    // The number as it was sent: another form of it is another recipient.
    let other_form = MessageFilter {
        recipient: Some(SAME_NUMBER.into()),
        ..limit(100)
    };
    assert_eq!(by(other_form).await, vec![]);
    let state = |state| MessageFilter {
        state: Some(state),
        ..limit(100)
    };
    assert_eq!(by(state(DeliveryState::Delivered)).await, vec![m3.id]);
    assert_eq!(
        by(state(DeliveryState::Queued)).await,
        vec![m1.id, m2.id, m4.id]
    );
    assert_eq!(by(state(DeliveryState::Failed)).await, vec![]);
    // Accepted at or after `since`.
    let since = MessageFilter {
        since: Some(t0 + second),
        ..limit(100)
    };
    assert_eq!(by(since).await, vec![m2.id, m3.id, m4.id]);
    // Every filter given applies.
    let both = MessageFilter {
        recipient: Some(NUMBER.into()),
        reference: Some("b".into()),
        ..limit(100)
    };
    assert_eq!(by(both).await, vec![m3.id]);

    // Pages: at most `limit`, the next one after the last id of the one before.
    assert_eq!(by(limit(2)).await, vec![m1.id, m2.id]);
    let after = |after: MessageId, filter: MessageFilter| MessageFilter {
        after: Some(after),
        ..filter
    };
    assert_eq!(by(after(m2.id, limit(2))).await, vec![m3.id, m4.id]);
    assert_eq!(by(after(m4.id, limit(2))).await, vec![]);
    assert_eq!(by(after(m1.id, limit(1))).await, vec![m2.id]);
    // The cursor pages a filtered log too.
    assert_eq!(by(after(m1.id, recipient)).await, vec![m3.id]);
    assert_eq!(by(after(m2.id, reference("b"))).await, vec![m3.id]);

    // Another account sees only its own.
    assert_eq!(logged_ids(&*store, other.id, limit(100)).await, vec![id[4]]);
}

#[tokio::test]
async fn a_conversion_is_recorded_on_every_message_to_the_number_with_the_reference() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let now = now();
    let id = ascending_ids(5);
    let local = message_to(account.id, id[0], NUMBER, Some("promo"), now);
    let international = message_to(account.id, id[1], SAME_NUMBER, Some("promo"), now);
    let other_reference = message_to(account.id, id[2], NUMBER, Some("other"), now);
    let other_number = message_to(account.id, id[3], OTHER_NUMBER, Some("promo"), now);
    let foreign = message_to(other.id, id[4], NUMBER, Some("promo"), now);
    store
        .accept(
            account.id,
            None,
            vec![local, international, other_reference, other_number],
        )
        .await
        .unwrap();
    store.accept(other.id, None, vec![foreign]).await.unwrap();

    let forms = || vec![NUMBER.to_owned(), SAME_NUMBER.to_owned()];
    let converted_at = now + SignedDuration::from_mins(5);
    assert_eq!(
        store
            .record_conversion(account.id, forms(), "promo".into(), converted_at)
            .await
            .unwrap(),
        2
    );
    let conversions = |records: Vec<tern_core::message::MessageRecord>| {
        records
            .into_iter()
            .map(|r| (r.message.id, r.conversions))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        conversions(log(&*store, account.id).await),
        vec![
            (id[0], vec![converted_at]),
            (id[1], vec![converted_at]),
            (id[2], vec![]),
            (id[3], vec![]),
        ]
    );
    assert_eq!(
        conversions(log(&*store, other.id).await),
        vec![(id[4], vec![])]
    );

    // A second conversion is recorded beside the first.
    let again = converted_at + SignedDuration::from_mins(1);
    assert_eq!(
        store
            .record_conversion(account.id, vec![NUMBER.to_owned()], "promo".into(), again)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        logged(&*store, account.id, id[0]).await.conversions,
        vec![converted_at, again]
    );
    // A form named twice is still one message.
    let third = again + SignedDuration::from_mins(1);
    assert_eq!(
        store
            .record_conversion(
                account.id,
                vec![OTHER_NUMBER.to_owned(), OTHER_NUMBER.to_owned()],
                "promo".into(),
                third
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        logged(&*store, account.id, id[3]).await.conversions,
        vec![third]
    );
    // Nothing to record it on.
    assert_eq!(
        store
            .record_conversion(account.id, forms(), "unknown".into(), third)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .record_conversion(account.id, vec![], "promo".into(), third)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_message_reads_back_with_the_surface_and_registered_delivery_it_came_in_with() {
    use tern_core::error_code::Surface;
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let ids = ascending_ids(Surface::ALL.len());
    let sent: Vec<NewMessage> = Surface::ALL
        .into_iter()
        .zip(&ids)
        .enumerate()
        .map(|(index, (source, &id))| NewMessage {
            source,
            smpp_registered_delivery: if source == Surface::Smpp { 0x11 } else { 0 },
            ..message_to(
                account.id,
                id,
                NUMBER,
                None,
                t0 + SignedDuration::from_secs(index as i64),
            )
        })
        .collect();
    store.accept(account.id, None, sent.clone()).await.unwrap();
    let logged = log(&*store, account.id).await;
    let read: Vec<(Surface, u8)> = logged
        .iter()
        .map(|record| {
            (
                record.message.source,
                record.message.smpp_registered_delivery,
            )
        })
        .collect();
    assert_eq!(
        read,
        vec![
            (Surface::Json, 0),
            (Surface::Xml, 0),
            (Surface::Get, 0),
            (Surface::Smpp, 0x11)
        ]
    );
    assert_eq!(
        logged.iter().map(|r| r.message.clone()).collect::<Vec<_>>(),
        sent
    );
}

#[tokio::test]
async fn one_message_is_found_by_its_id_only_by_its_own_account() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let t0 = now();
    let id = accept_one(&*store, account.id, t0).await;
    store.claim_due(t0, 10, LEASE).await.unwrap();
    store
        .apply_batch(
            vec![(id, sent(1)), (id, report(1, CmStatus::Delivered, None))],
            t0,
        )
        .await
        .unwrap();

    let found = store.message(account.id, id).await.unwrap();
    let listed = log(&*store, account.id).await;
    assert_eq!(found.as_ref(), listed.first());
    let found = found.unwrap();
    assert_eq!(
        (found.message.id, found.state),
        (id, DeliveryState::Delivered)
    );
    assert_eq!(found.history.len(), 1);
    assert_eq!(store.message(other.id, id).await.unwrap(), None);
    assert_eq!(
        store
            .message(account.id, MessageId::generate())
            .await
            .unwrap(),
        None
    );
}

/// One channel's counts of a funnel: accepted, sent, delivered, read, failed, rejected.
fn counts(channel: Channel, counts: [u64; 6]) -> ChannelFunnel {
    let [accepted, sent, delivered, read, failed, rejected] = counts;
    ChannelFunnel {
        channel,
        accepted,
        sent,
        delivered,
        read,
        failed,
        rejected,
    }
}

#[tokio::test]
async fn the_funnel_counts_the_accounts_messages_of_a_time_range_per_channel() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let t0 = now();
    let second = SignedDuration::from_secs(1);
    let at = |seconds: i32| t0 + second * seconds;
    let on =
        |channels: &[Channel], seconds: i32| message(account.id, channels, Money(0), at(seconds));
    // WhatsApp fails, then SMS delivers (t0); WhatsApp read (t0+1s); SMS still queued (t0+2s);
    // SMS rejected (t0+3s); another account's message (t0+1s).
    let fallback = on(&[Channel::WhatsApp, Channel::Sms], 0);
    let read = on(&[Channel::WhatsApp], 1);
    let queued = on(&[Channel::Sms], 2);
    let rejected = on(&[Channel::Sms], 3);
    let foreign = message(other.id, &[Channel::Sms], Money(0), at(1));
    store
        .accept(
            account.id,
            None,
            vec![fallback.clone(), read.clone(), rejected.clone()],
        )
        .await
        .unwrap();
    store.accept(other.id, None, vec![foreign]).await.unwrap();
    let now = at(3);
    store.claim_due(now, 10, LEASE).await.unwrap();
    store
        .apply(fallback.id, report(1, CmStatus::Failed, Some(24)), now)
        .await
        .unwrap();
    store.apply(read.id, sent(1), now).await.unwrap();
    store
        .apply(read.id, report(1, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    store
        .apply(read.id, report(1, CmStatus::Read, None), now)
        .await
        .unwrap();
    store.apply(rejected.id, sent(1), now).await.unwrap();
    store
        .apply(rejected.id, report(1, CmStatus::Rejected, None), now)
        .await
        .unwrap();
    // The fallback's SMS attempt (3: a fallback skips one, see `dispatch::fall_back`).
    store.claim_due(now, 10, LEASE).await.unwrap();
    store.apply(fallback.id, sent(3), now).await.unwrap();
    store
        .apply(fallback.id, report(3, CmStatus::Delivered, None), now)
        .await
        .unwrap();
    // Accepted last, never claimed: queued.
    store
        .accept(account.id, None, vec![queued.clone()])
        .await
        .unwrap();
    let logged_state = logged(&*store, account.id, queued.id).await.state;
    assert_eq!(logged_state, DeliveryState::Queued);

    let all = store.funnel(account.id, None, None).await.unwrap();
    assert_eq!(all.messages(), 4);
    assert_eq!(
        all.channels(),
        &[
            counts(Channel::Sms, [3, 1, 1, 0, 0, 1]),
            counts(Channel::WhatsApp, [2, 2, 1, 1, 1, 0]),
        ]
    );
    // Accepted at or after `since`, before `until`.
    let range = store
        .funnel(account.id, Some(at(1)), Some(at(3)))
        .await
        .unwrap();
    assert_eq!(range.messages(), 2);
    assert_eq!(
        range.channels(),
        &[
            counts(Channel::Sms, [1, 0, 0, 0, 0, 0]),
            counts(Channel::WhatsApp, [1, 1, 1, 1, 0, 0]),
        ]
    );
    let empty = store.funnel(account.id, Some(at(4)), None).await.unwrap();
    assert_eq!((empty.messages(), empty.channels()), (0, &[][..]));
    // Another account counts only its own.
    let foreign = store.funnel(other.id, None, Some(at(2))).await.unwrap();
    assert_eq!(
        foreign.channels(),
        &[counts(Channel::Sms, [1, 0, 0, 0, 0, 0])]
    );
}

#[tokio::test]
async fn the_log_takes_messages_accepted_before_until() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let t0 = now();
    let second = SignedDuration::from_secs(1);
    let id = ascending_ids(3);
    let messages: Vec<NewMessage> = (0..3)
        .map(|i| message_to(account.id, id[i], NUMBER, None, t0 + second * i as i32))
        .collect();
    store.accept(account.id, None, messages).await.unwrap();
    let by = |since, until| {
        logged_ids(
            &*store,
            account.id,
            MessageFilter {
                since,
                until,
                ..limit(100)
            },
        )
    };
    assert_eq!(by(None, Some(t0 + second * 2)).await, vec![id[0], id[1]]);
    assert_eq!(
        by(Some(t0 + second), Some(t0 + second * 2)).await,
        vec![id[1]]
    );
    assert_eq!(by(None, Some(t0)).await, vec![]);
}
