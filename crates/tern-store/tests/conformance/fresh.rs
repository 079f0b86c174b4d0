//! Fresh entries (`OutboxStore::hand_fresh_entries`): a store that hands the entries events write
//! straight to a runner writes them leased to its node and hands them, with the fact and the
//! destination a claim would read, once durable; only while the runner has room, and only an
//! entry that is the lowest of its ordering key. Whatever a backend does, every entry goes out
//! exactly one way: handed, or claimed, never both while its lease holds. A backend that hands
//! nothing (it answers `false`) writes every entry due, and these tests check that instead.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tern_core::account::Account;
use tern_core::channel::Channel;
use tern_core::dispatch::Event;
use tern_core::message::MessageId;
use tern_core::money::Money;
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Outcome, Resolved};
use tern_core::ports::{FreshEntries, Store};
use tern_core::status::CmStatus;

use crate::harness::{
    Backend, LEASE, Runner, account, after_the_lease, message, now, report, sent, webhooks,
};

/// The webhook runner's side: the entries it was handed.
type EntryRunner = Runner<ClaimedEntry>;

impl FreshEntries for EntryRunner {
    fn takes(&self, kind: OutboxKind) -> bool {
        kind == OutboxKind::StatusWebhook
    }

    fn lease(&self) -> SignedDuration {
        LEASE
    }

    fn reserve(&self) -> bool {
        Runner::reserve(self)
    }

    fn unreserve(&self, count: usize) {
        Runner::unreserve(self, count);
    }

    fn hand(&self, entries: Vec<ClaimedEntry>) {
        self.keep(entries);
    }
}

/// Accept one SMS for `account`, claim it, and apply `events` (after its send) in one batch.
async fn sent_with(store: &dyn Store, account: &Account, events: &[Event]) -> MessageId {
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(0), now);
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    store.claim_due(now, 100, LEASE).await.unwrap();
    let mut batch = vec![(id, sent(1))];
    batch.extend(events.iter().map(|event| (id, event.clone())));
    store.apply_batch(batch, now).await.unwrap();
    id
}

async fn claim(store: &dyn Store, at: Timestamp) -> Vec<ClaimedEntry> {
    store
        .claim_entries(at, 10, LEASE, &webhooks())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_fresh_entry_is_handed_leased_with_what_a_claim_would_read() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = EntryRunner::with_room(8);
    let hands = store.hand_fresh_entries(Arc::clone(&runner) as Arc<dyn FreshEntries>);
    let id = sent_with(&*store, &account, &[report(1, CmStatus::Delivered, None)]).await;
    let handed = runner.handed();
    if !hands {
        assert!(
            handed.is_empty(),
            "a store that hands nothing handed {handed:?}"
        );
        assert_eq!(claim(&*store, now()).await.len(), 1);
        return;
    }
    assert_eq!(handed.len(), 1, "{handed:?}");
    let entry = &handed[0];
    assert_eq!(entry.kind, OutboxKind::StatusWebhook);
    assert_eq!(entry.attempts, 0);
    let Some(Fact::StatusChange(fact)) = &entry.fact else {
        panic!("a handed status webhook carries its status change: {entry:?}");
    };
    assert_eq!((fact.message_id, fact.seq), (id, 1));
    assert_eq!(fact.report.status, CmStatus::Delivered);
    let Some(Resolved::Account(to)) = &entry.destination else {
        panic!("a handed status webhook goes to its account: {entry:?}");
    };
    assert_eq!((to.id, &to.status_url), (account.id, &account.status_url));
    assert_eq!(runner.taken(), 1, "its reservation is the entry's");

    // Leased to this node: no claim takes it while the lease holds.
    assert!(claim(&*store, now()).await.is_empty());
    // Never finished (its runner died): a claim takes it when the lease ends, and reads what
    // it was handed with; its handing counted as an attempt.
    let again = claim(&*store, after_the_lease()).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (entry.id, 1));
    assert_eq!(again[0].kind, entry.kind);
    assert_eq!(again[0].ordering_key, entry.ordering_key);
    assert_eq!(again[0].created_at, entry.created_at);
    assert_eq!(again[0].fact, entry.fact);
    assert_eq!(again[0].destination, entry.destination);
    store
        .finish_entry(entry.id, Outcome::Delivered)
        .await
        .unwrap();
    assert!(claim(&*store, after_the_lease() + LEASE).await.is_empty());
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), None);
}

#[tokio::test]
async fn a_handed_entry_finishes_as_a_claimed_one_and_the_next_of_its_key_follows_by_claim() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = EntryRunner::with_room(8);
    let hands = store.hand_fresh_entries(Arc::clone(&runner) as Arc<dyn FreshEntries>);
    // Two status changes of one message in one batch: two entries of one key.
    let id = sent_with(
        &*store,
        &account,
        &[
            report(1, CmStatus::Accepted, None),
            report(1, CmStatus::Delivered, None),
        ],
    )
    .await;
    let seq = |entry: &ClaimedEntry| match &entry.fact {
        Some(Fact::StatusChange(fact)) => (fact.message_id, fact.seq),
        other => panic!("no status change: {other:?}"),
    };
    let first = if hands {
        // Only the first: the second is not the lowest of its key.
        let handed = runner.handed();
        assert_eq!(handed.iter().map(seq).collect::<Vec<_>>(), vec![(id, 1)]);
        assert!(
            claim(&*store, now()).await.is_empty(),
            "the second waits behind the first, which is out"
        );
        handed.into_iter().next().unwrap()
    } else {
        let claimed = claim(&*store, now()).await;
        assert_eq!(claimed.iter().map(seq).collect::<Vec<_>>(), vec![(id, 1)]);
        claimed.into_iter().next().unwrap()
    };
    // Retried: due again at its time, the second still behind it.
    let retry_at = now() + SignedDuration::from_secs(5);
    store
        .finish_entry(first.id, Outcome::RetryAt(retry_at))
        .await
        .unwrap();
    assert!(claim(&*store, now()).await.is_empty());
    let retried = claim(&*store, retry_at).await;
    assert_eq!(
        retried
            .iter()
            .map(|e| (e.id, e.attempts))
            .collect::<Vec<_>>(),
        vec![(first.id, 1)]
    );
    store
        .finish_entry(first.id, Outcome::Delivered)
        .await
        .unwrap();
    let second = claim(&*store, retry_at).await;
    assert_eq!(second.iter().map(seq).collect::<Vec<_>>(), vec![(id, 2)]);
    assert_eq!(second[0].attempts, 0);
}

#[tokio::test]
async fn without_room_or_once_its_runner_stopped_an_entry_is_written_due() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let full = EntryRunner::with_room(0);
    store.hand_fresh_entries(Arc::clone(&full) as Arc<dyn FreshEntries>);
    let first = sent_with(&*store, &account, &[report(1, CmStatus::Delivered, None)]).await;
    assert!(full.handed().is_empty());
    assert_eq!(full.taken(), 0);

    // A runner that stopped takes nothing either; the last runner to ask is the one handed to.
    let stopped = EntryRunner::with_room(8);
    stopped.close();
    store.hand_fresh_entries(Arc::clone(&stopped) as Arc<dyn FreshEntries>);
    let second = sent_with(&*store, &account, &[report(1, CmStatus::Delivered, None)]).await;
    assert!(stopped.handed().is_empty() && full.handed().is_empty());

    let claimed = claim(&*store, now()).await;
    let mut ids: Vec<MessageId> = claimed
        .iter()
        .map(|entry| entry.fact.as_ref().unwrap().message_id())
        .collect();
    ids.sort_by_key(|id| id.0);
    let mut expected = vec![first, second];
    expected.sort_by_key(|id| id.0);
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_restart_releases_handed_entries() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let runner = EntryRunner::with_room(8);
    let hands = store.hand_fresh_entries(Arc::clone(&runner) as Arc<dyn FreshEntries>);
    sent_with(&*store, &account, &[report(1, CmStatus::Delivered, None)]).await;
    let handed = runner.handed();
    assert_eq!(handed.len(), usize::from(hands));
    store.release_leases(now()).await.unwrap();
    let claimed = claim(&*store, now()).await;
    assert_eq!(claimed.len(), 1);
    if let Some(entry) = handed.first() {
        assert_eq!((claimed[0].id, claimed[0].attempts), (entry.id, 1));
    }
}
