//! [`BlocklistStore`]: numbers are put on and taken off an account's list or the global one
//! (each once, keeping the time it was first blocked), listed by list and number, and looked up
//! for an account on its own list and the global one only. Inbound opt-outs: a message to an
//! account's number that is exactly an opt-out keyword blocks its sender on that account's list
//! with the message (recorded with `opt_out`), `START` unblocks it; the keywords are the ones
//! the store was given. The lists' version changes with every change and only then.
//! [`CachedBlocklist`] serves lookups from memory for its time to live, and reads the lists again
//! only when their version changed.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tern_core::account::{Account, ProductToken};
use tern_core::blocklist::{BlockScope, BlockedNumber, OptOutKeywords};
use tern_core::channel::Channel;
use tern_core::inbound::{InboundExtras, InboundPart, ProviderInbound};
use tern_core::message::MessageFilter;
use tern_core::outbox::{EntryFilter, Fact, OutboxKind};
use tern_core::ports::{BlocklistStore, Store};
use tern_store::CachedBlocklist;

use crate::harness::*;

fn numbers(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

async fn sorted_among(store: &dyn Store, account: i64, list: &[&str]) -> Vec<String> {
    let mut blocked = store.blocked_among(account, numbers(list)).await.unwrap();
    blocked.sort();
    blocked
}

#[tokio::test]
async fn numbers_are_blocked_per_account_and_globally_and_unblocked() {
    let backend = Backend::new();
    let store = backend.open();
    let first = account(&*store, None).await;
    let second = account(&*store, None).await;
    let at = now();
    assert_eq!(
        store
            .block(
                BlockScope::Account(first.id),
                numbers(&["0031600000001", "0031600000002"]),
                at
            )
            .await
            .unwrap(),
        2
    );
    // Blocked again, and a new one: only the new one counts; the first keeps its time.
    let later = at + jiff::SignedDuration::from_secs(5);
    assert_eq!(
        store
            .block(
                BlockScope::Account(first.id),
                numbers(&["0031600000001", "0031600000003"]),
                later
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .block(BlockScope::Global, numbers(&["0031600000009"]), at)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .block(
                BlockScope::Account(second.id),
                numbers(&["0031600000002"]),
                at
            )
            .await
            .unwrap(),
        1
    );
    let blocked = |scope, number: &str, blocked_at| BlockedNumber {
        scope,
        number: number.to_owned(),
        blocked_at,
    };
    assert_eq!(
        store.blocked_numbers(None).await.unwrap(),
        vec![
            blocked(BlockScope::Global, "0031600000009", at),
            blocked(BlockScope::Account(first.id), "0031600000001", at),
            blocked(BlockScope::Account(first.id), "0031600000002", at),
            blocked(BlockScope::Account(first.id), "0031600000003", later),
            blocked(BlockScope::Account(second.id), "0031600000002", at),
        ]
    );
    assert_eq!(
        store
            .blocked_numbers(Some(BlockScope::Global))
            .await
            .unwrap(),
        vec![blocked(BlockScope::Global, "0031600000009", at)]
    );
    assert_eq!(
        store
            .blocked_numbers(Some(BlockScope::Account(second.id)))
            .await
            .unwrap(),
        vec![blocked(BlockScope::Account(second.id), "0031600000002", at)]
    );
    // An account sees its own list and the global one, not another account's.
    let asked = [
        "0031600000001",
        "0031600000003",
        "0031600000009",
        "0031600000002",
        "0031600000004",
    ];
    assert_eq!(
        sorted_among(&*store, first.id, &asked).await,
        numbers(&[
            "0031600000001",
            "0031600000002",
            "0031600000003",
            "0031600000009"
        ])
    );
    assert_eq!(
        sorted_among(&*store, second.id, &asked).await,
        numbers(&["0031600000002", "0031600000009"])
    );
    assert_eq!(
        sorted_among(&*store, first.id, &["0031600000009", "0031600000009"]).await,
        numbers(&["0031600000009"])
    );
    assert!(sorted_among(&*store, first.id, &[]).await.is_empty());

    // Unblocked: only what was on that list counts.
    assert_eq!(
        store
            .unblock(
                BlockScope::Account(first.id),
                numbers(&["0031600000001", "0031600000009", "0031600000008"])
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .unblock(BlockScope::Global, numbers(&["0031600000009"]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        sorted_among(&*store, first.id, &asked).await,
        numbers(&["0031600000002", "0031600000003"])
    );
    // Durable: a restart keeps the lists.
    let store = backend.reopen(store);
    assert_eq!(
        sorted_among(&*store, first.id, &asked).await,
        numbers(&["0031600000002", "0031600000003"])
    );
}

/// An account with inbound number 3669 and an inbound URL.
async fn receiving(store: &dyn Store) -> Account {
    let mut account = new_account(&ProductToken::generate(), None);
    account.inbound_numbers = vec!["3669".into()];
    account.inbound_url = Some("http://127.0.0.1:9/mo".into());
    store.create_account(account).await.unwrap()
}

fn mo(from: &str, to: &str, text: &str, at: Timestamp) -> InboundPart {
    InboundPart {
        connector: Arc::from("smsc1"),
        channel: Channel::Sms,
        from: from.into(),
        to: to.into(),
        data_coding: 0,
        payload: tern_proto::sms::gsm7::encode(text),
        concat: None,
        received_at: at,
    }
}

/// The opt-out flags of the account's inbound messages, oldest first, with their texts.
async fn opt_outs(store: &dyn Store, account: &Account) -> Vec<(String, bool)> {
    store
        .inbound_messages(
            account.id,
            MessageFilter {
                limit: 100,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|message| (message.text, message.extras.opt_out))
        .collect()
}

#[tokio::test]
async fn an_opt_out_keyword_blocks_its_sender_for_the_account_and_start_unblocks_it() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving(&*store).await;
    let other = account_with_no_numbers(&*store).await;
    let at = now();
    store
        .accept_inbound(vec![mo("31612345678", "3669", " Stop ", at)])
        .await
        .unwrap();
    assert_eq!(
        store.blocked_numbers(None).await.unwrap(),
        vec![BlockedNumber {
            scope: BlockScope::Account(account.id),
            number: "0031612345678".into(),
            blocked_at: at,
        }]
    );
    assert!(
        sorted_among(&*store, other.id, &["0031612345678"])
            .await
            .is_empty()
    );
    // The webhook's fact says it was an opt-out.
    let claimed = store
        .claim_entries(
            at,
            10,
            LEASE,
            &EntryFilter::kinds([OutboxKind::InboundWebhook]),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let Some(Fact::Inbound(message)) = &claimed[0].fact else {
        panic!("an inbound fact: {:?}", claimed[0].fact);
    };
    assert!(message.extras.opt_out);
    assert_eq!(message.text, " Stop ");

    // A message that only contains the keyword, one to a number nobody has, and one from an
    // alphanumeric sender change nothing.
    store
        .accept_inbound(vec![
            mo("31699999999", "3669", "please stop", at),
            mo("31699999998", "4000", "STOP", at),
            mo("Acme", "3669", "STOP", at),
        ])
        .await
        .unwrap();
    assert_eq!(store.blocked_numbers(None).await.unwrap().len(), 1);

    // START takes the sender off again.
    store
        .accept_inbound(vec![mo("+31612345678", "3669", "start", at)])
        .await
        .unwrap();
    assert!(store.blocked_numbers(None).await.unwrap().is_empty());
    assert_eq!(
        opt_outs(&*store, &account).await,
        vec![
            (" Stop ".to_owned(), true),
            ("please stop".to_owned(), false),
            ("STOP".to_owned(), false),
            ("start".to_owned(), false),
        ]
    );

    // The keywords are the ones the store was given.
    store.set_opt_out_keywords(OptOutKeywords::new(["halt"]));
    store
        .accept_inbound(vec![
            mo("31612345678", "3669", "STOP", at),
            mo("31612345679", "3669", "HALT", at),
        ])
        .await
        .unwrap();
    assert_eq!(
        store
            .blocked_numbers(None)
            .await
            .unwrap()
            .into_iter()
            .map(|blocked| blocked.number)
            .collect::<Vec<_>>(),
        numbers(&["0031612345679"])
    );
}

async fn account_with_no_numbers(store: &dyn Store) -> Account {
    account(store, None).await
}

/// A WhatsApp message from +31612345678 that `account`'s connector `wa` received now.
fn whatsapp_inbound(account: &Account, id: &str, text: &str) -> ProviderInbound {
    ProviderInbound {
        connector: Arc::from("wa"),
        channel: Channel::WhatsApp,
        provider_id: id.into(),
        account: Some(account.id),
        from: "+31612345678".into(),
        to: "+15550001111".into(),
        text: text.into(),
        extras: InboundExtras::default(),
        answers: None,
        received_at: now(),
    }
}

#[tokio::test]
async fn a_providers_opt_out_blocks_its_sender_once() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving(&*store).await;
    let message = |id: &str, text: &str| whatsapp_inbound(&account, id, text);
    store
        .accept_provider_inbound(vec![message("wamid.1", "UNSUBSCRIBE")])
        .await
        .unwrap();
    assert_eq!(
        sorted_among(&*store, account.id, &["0031612345678"]).await,
        numbers(&["0031612345678"])
    );
    store
        .accept_provider_inbound(vec![message("wamid.2", "START")])
        .await
        .unwrap();
    assert!(
        sorted_among(&*store, account.id, &["0031612345678"])
            .await
            .is_empty()
    );
    // The opt-out delivered again (a provider's retry) is not recorded again: nothing changes.
    let again = store
        .accept_provider_inbound(vec![message("wamid.1", "UNSUBSCRIBE")])
        .await
        .unwrap();
    assert!(again.is_empty());
    assert!(
        sorted_among(&*store, account.id, &["0031612345678"])
            .await
            .is_empty()
    );
    assert_eq!(
        opt_outs(&*store, &account).await,
        vec![
            ("UNSUBSCRIBE".to_owned(), true),
            ("START".to_owned(), false)
        ]
    );
}

#[tokio::test]
async fn the_cache_serves_the_lists_from_memory_within_its_ttl() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let ttl = Duration::from_millis(500);
    let cached = CachedBlocklist::new(Arc::clone(&store) as Arc<dyn BlocklistStore>, ttl);
    let asked = || numbers(&["0031600000001", "0031600000002"]);
    // Empty as far as it knows only once it has read the lists and found none.
    assert!(!cached.known_empty());
    assert!(
        cached
            .blocked_among(account.id, asked())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cached.known_empty());
    // A write through the cache is seen at once.
    cached
        .block(
            BlockScope::Account(account.id),
            numbers(&["0031600000001"]),
            now(),
        )
        .await
        .unwrap();
    assert!(!cached.known_empty());
    assert_eq!(
        cached.blocked_among(account.id, asked()).await.unwrap(),
        numbers(&["0031600000001"])
    );
    // One made elsewhere (another process) is seen once the ttl is over.
    let started = std::time::Instant::now();
    store
        .block(BlockScope::Global, numbers(&["0031600000002"]), now())
        .await
        .unwrap();
    let served = cached.blocked_among(account.id, asked()).await.unwrap();
    if started.elapsed() < ttl {
        assert_eq!(served, numbers(&["0031600000001"]));
    }
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(
        cached.blocked_among(account.id, asked()).await.unwrap(),
        numbers(&["0031600000001", "0031600000002"])
    );
    // Another account sees the global list only.
    let other = account_with_no_numbers(&*store).await;
    assert_eq!(
        cached.blocked_among(other.id, asked()).await.unwrap(),
        numbers(&["0031600000002"])
    );
}

#[tokio::test]
async fn the_lists_version_changes_with_every_change_and_only_then() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving(&*store).await;
    let scope = BlockScope::Account(account.id);
    let mut seen = vec![store.blocklist_version().await.unwrap()];
    // Whether the version moved since the last look (and it never comes back to an old one).
    let mut moved = async || {
        let version = store.blocklist_version().await.unwrap();
        let moved = version != *seen.last().unwrap();
        if moved {
            assert!(!seen.contains(&version), "{version} again after {seen:?}");
            seen.push(version);
        }
        moved
    };
    store
        .block(scope, numbers(&["0031600000001", "0031600000002"]), now())
        .await
        .unwrap();
    assert!(moved().await, "numbers blocked");
    store
        .block(scope, numbers(&["0031600000001"]), now())
        .await
        .unwrap();
    assert!(!moved().await, "blocked again: nothing changed");
    assert!(!moved().await, "read again");
    store
        .unblock(scope, numbers(&["0031600000009"]))
        .await
        .unwrap();
    assert!(!moved().await, "a number on no list unblocked");
    store
        .unblock(BlockScope::Global, numbers(&["0031600000001"]))
        .await
        .unwrap();
    assert!(!moved().await, "a number unblocked on a list it is not on");
    store
        .unblock(scope, numbers(&["0031600000001"]))
        .await
        .unwrap();
    assert!(moved().await, "a number unblocked");
    store
        .block(BlockScope::Global, numbers(&["0031600000001"]), now())
        .await
        .unwrap();
    assert!(moved().await, "a number blocked globally");
    // An opt-out recorded with its inbound message, and its START.
    let message = |id: &str, text: &str| whatsapp_inbound(&account, id, text);
    store
        .accept_provider_inbound(vec![message("wamid.1", "hello")])
        .await
        .unwrap();
    assert!(!moved().await, "an inbound message that is no keyword");
    store
        .accept_provider_inbound(vec![message("wamid.2", "STOP")])
        .await
        .unwrap();
    assert!(moved().await, "an opt-out");
    store
        .accept_provider_inbound(vec![message("wamid.3", "START")])
        .await
        .unwrap();
    assert!(moved().await, "a START");
}

#[tokio::test]
async fn the_cache_reads_the_lists_again_only_when_their_version_changed() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account_with_no_numbers(&*store).await;
    let counted = Arc::new(CountedReads {
        inner: Arc::clone(&store) as Arc<dyn BlocklistStore>,
        reads: std::sync::atomic::AtomicUsize::new(0),
    });
    let ttl = Duration::from_millis(100);
    let cached = CachedBlocklist::new(Arc::clone(&counted) as Arc<dyn BlocklistStore>, ttl);
    let asked = || numbers(&["0031600000001"]);
    store
        .block(BlockScope::Global, numbers(&["0031600000001"]), now())
        .await
        .unwrap();
    let reads = || counted.reads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        cached.blocked_among(account.id, asked()).await.unwrap(),
        asked()
    );
    assert_eq!(reads(), 1);
    // Past the ttl, nothing changed: the version is checked, the lists are not read.
    for _ in 0..3 {
        tokio::time::sleep(ttl + Duration::from_millis(20)).await;
        assert_eq!(
            cached.blocked_among(account.id, asked()).await.unwrap(),
            asked()
        );
    }
    assert_eq!(reads(), 1);
    // A change made elsewhere: read again once the ttl is over.
    store
        .unblock(BlockScope::Global, numbers(&["0031600000001"]))
        .await
        .unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(20)).await;
    assert!(
        cached
            .blocked_among(account.id, asked())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(reads(), 2);
}

/// A [`BlocklistStore`] counting the reads of whole lists.
struct CountedReads {
    inner: Arc<dyn BlocklistStore>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl BlocklistStore for CountedReads {
    async fn block(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
        now: Timestamp,
    ) -> Result<u64, tern_core::ports::StoreError> {
        self.inner.block(scope, numbers, now).await
    }

    async fn unblock(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
    ) -> Result<u64, tern_core::ports::StoreError> {
        self.inner.unblock(scope, numbers).await
    }

    async fn blocked_numbers(
        &self,
        scope: Option<BlockScope>,
    ) -> Result<Vec<BlockedNumber>, tern_core::ports::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.blocked_numbers(scope).await
    }

    async fn blocked_among(
        &self,
        account: tern_core::account::AccountId,
        numbers: Vec<String>,
    ) -> Result<Vec<String>, tern_core::ports::StoreError> {
        self.inner.blocked_among(account, numbers).await
    }

    async fn blocklist_version(&self) -> Result<i64, tern_core::ports::StoreError> {
        self.inner.blocklist_version().await
    }

    fn set_opt_out_keywords(&self, keywords: OptOutKeywords) {
        self.inner.set_opt_out_keywords(keywords);
    }
}
