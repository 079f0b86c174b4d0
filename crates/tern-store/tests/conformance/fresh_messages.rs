//! Fresh messages (`IntakeStore::hand_fresh_messages`): a store that hands accepted messages
//! straight to the dispatcher writes them as the claim they skip would leave them (attempt 1,
//! leased to its node) and hands them once durable; only while the dispatcher has room, and
//! never a segment of a concatenated message. Whatever a backend does, every message goes out
//! exactly one way: handed, or claimed, never both while its lease holds. A backend that hands
//! nothing (it answers `false`) writes every message due, and these tests check that instead.

use std::sync::Arc;
use std::time::Instant;

use jiff::SignedDuration;
use tern_core::channel::Channel;
use tern_core::dispatch::Next;
use tern_core::message::{MessageId, NewMessage, Segment};
use tern_core::money::Money;
use tern_core::ports::{AcceptError, Dispatch, FreshMessages};

use crate::harness::{Backend, LEASE, Runner, account, after_the_lease, message, now, sent};

/// The dispatcher's side: what it was handed, with the instant each lease is held from.
type Dispatcher = Runner<(Dispatch, Instant)>;

impl FreshMessages for Dispatcher {
    fn lease(&self) -> SignedDuration {
        LEASE
    }

    fn reserve(&self) -> bool {
        Runner::reserve(self)
    }

    fn unreserve(&self, count: usize) {
        Runner::unreserve(self, count);
    }

    fn hand(&self, messages: Vec<Dispatch>, leased_from: Instant) {
        self.keep(messages.into_iter().map(|message| (message, leased_from)));
    }
}

/// `count` SMS for `account` of one request.
fn messages(account: tern_core::account::AccountId, count: usize) -> Vec<NewMessage> {
    (0..count)
        .map(|_| message(account, &[Channel::Sms, Channel::WhatsApp], Money(0), now()))
        .collect()
}

fn ids_of(dispatches: &[Dispatch]) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = dispatches.iter().map(|message| message.id).collect();
    ids.sort_by_key(|id| id.0);
    ids
}

fn sorted(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    ids.sort_by_key(|id| id.0);
    ids
}

#[tokio::test]
async fn a_fresh_message_is_handed_claimed_and_no_claim_takes_it_while_its_lease_holds() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = Dispatcher::with_room(8);
    let hands = store.hand_fresh_messages(Arc::clone(&runner) as Arc<dyn FreshMessages>);
    let before = Instant::now();
    let two = messages(account.id, 2);
    let ids: Vec<MessageId> = two.iter().map(|message| message.id).collect();
    store.accept(account.id, None, two).await.unwrap();
    let handed = runner.handed();
    if !hands {
        assert!(handed.is_empty(), "a store that hands nothing handed some");
        let claimed = store.claim_due(now(), 10, LEASE).await.unwrap();
        assert_eq!(ids_of(&claimed), sorted(ids));
        assert!(claimed.iter().all(|message| message.attempt == 1));
        return;
    }
    // Handed as a claim would hand them: first attempt, on the first allowed channel, with the
    // content; leased from no earlier than the request began.
    assert_eq!(handed.len(), 2);
    for (message, leased_from) in &handed {
        assert_eq!(message.attempt, 1);
        assert_eq!(message.channel, Channel::Sms);
        assert_eq!(message.account_id, account.id);
        assert_eq!(message.recipient, "0031612345678");
        assert_eq!(message.content.body, "Hello");
        assert_eq!(message.reference.as_deref(), Some("ref1"));
        assert!(*leased_from >= before);
    }
    let handed: Vec<Dispatch> = handed.into_iter().map(|(message, _)| message).collect();
    assert_eq!(ids_of(&handed), sorted(ids.clone()));
    // Every reservation became a handed message.
    assert_eq!(runner.taken(), 2);
    // Leased: no claim takes them while the lease holds.
    assert!(store.claim_due(now(), 10, LEASE).await.unwrap().is_empty());
    // Recorded as claimed messages are: the send of attempt 1 counts.
    let nexts = store
        .apply_batch(vec![(ids[0], sent(1))], now())
        .await
        .unwrap();
    assert!(matches!(nexts[..], [Next::Wait { .. }]), "{nexts:?}");
    // The one never sent (its dispatcher died) is claimed once its lease ends, as the next
    // attempt; the sent one waits for its report.
    let again = store.claim_due(after_the_lease(), 10, LEASE).await.unwrap();
    assert_eq!(ids_of(&again), vec![ids[1]]);
    assert_eq!(again[0].attempt, 2);
}

#[tokio::test]
async fn a_restart_releases_handed_messages_at_once() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = Dispatcher::with_room(8);
    let hands = store.hand_fresh_messages(Arc::clone(&runner) as Arc<dyn FreshMessages>);
    let one = messages(account.id, 1);
    let id = one[0].id;
    store.accept(account.id, None, one).await.unwrap();
    assert_eq!(runner.handed().len(), usize::from(hands));
    store.release_leases(now()).await.unwrap();
    let claimed = store.claim_due(now(), 10, LEASE).await.unwrap();
    assert_eq!(ids_of(&claimed), vec![id]);
    assert_eq!(claimed[0].attempt, if hands { 2 } else { 1 });
}

#[tokio::test]
async fn without_room_messages_are_written_due() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = Dispatcher::with_room(1);
    let hands = store.hand_fresh_messages(Arc::clone(&runner) as Arc<dyn FreshMessages>);
    let three = messages(account.id, 3);
    let ids: Vec<MessageId> = three.iter().map(|message| message.id).collect();
    store.accept(account.id, None, three).await.unwrap();
    let handed: Vec<Dispatch> = runner
        .handed()
        .into_iter()
        .map(|(message, _)| message)
        .collect();
    let claimed = store.claim_due(now(), 10, LEASE).await.unwrap();
    assert_eq!(handed.len(), usize::from(hands));
    assert_eq!(claimed.len(), 3 - handed.len());
    assert!(claimed.iter().all(|message| message.attempt == 1));
    // Each message exactly one way.
    let mut all = handed;
    all.extend(claimed);
    assert_eq!(ids_of(&all), sorted(ids));
    assert_eq!(runner.taken(), usize::from(hands));

    // A dispatcher that stopped takes nothing: everything is written due.
    runner.close();
    runner.unreserve(runner.taken());
    let two = messages(account.id, 2);
    store.accept(account.id, None, two).await.unwrap();
    assert!(runner.handed().is_empty());
    assert_eq!(store.claim_due(now(), 10, LEASE).await.unwrap().len(), 2);
}

#[tokio::test]
async fn refused_requests_and_segments_are_never_handed() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, Some(Money(100))).await;
    let runner = Dispatcher::with_room(8);
    let hands = store.hand_fresh_messages(Arc::clone(&runner) as Arc<dyn FreshMessages>);
    // Refused: nothing stored, nothing handed, nothing reserved.
    let mut two = messages(account.id, 2);
    for message in &mut two {
        message.price = Money(60);
    }
    assert_eq!(
        store.accept(account.id, Some(Money(120)), two).await,
        Err(AcceptError::InsufficientBalance)
    );
    assert!(runner.handed().is_empty());
    assert_eq!(runner.taken(), 0);
    assert!(store.claim_due(now(), 10, LEASE).await.unwrap().is_empty());

    // A segment waits for its group: a claim decides it, never a hand-off. The message beside
    // it in the same request is handed.
    let mut pair = messages(account.id, 2);
    pair[0].segment = Some(Segment {
        reference: 7,
        total: 2,
        seq: 1,
    });
    let (segment, plain) = (pair[0].id, pair[1].id);
    store.accept(account.id, None, pair).await.unwrap();
    let handed = runner.handed();
    if hands {
        assert_eq!(
            handed
                .iter()
                .map(|(message, _)| message.id)
                .collect::<Vec<_>>(),
            vec![plain]
        );
    } else {
        assert!(handed.is_empty());
    }
    // The segment waits in the store for its group (not due before its hold ends), unhanded.
    let stored = store.claim_due(after_the_lease(), 10, LEASE).await.unwrap();
    let stored_ids: Vec<MessageId> = stored.iter().map(|message| message.id).collect();
    assert!(
        !handed.iter().any(|(message, _)| message.id == segment),
        "a segment was handed"
    );
    if hands {
        // The handed one comes back only as a new attempt once its lease ran out.
        assert!(stored_ids.contains(&plain));
        let again = stored.iter().find(|message| message.id == plain).unwrap();
        assert_eq!(again.attempt, 2);
    }
}
