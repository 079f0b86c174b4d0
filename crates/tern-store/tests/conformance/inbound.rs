//! [`InboundStore`] and the inbound side of the others: an account's inbound numbers are kept
//! (each unique across accounts); an MO part alone is a message at once, the parts of a
//! concatenated one wait for each other in any order (a duplicate ignored) or for their time to
//! run out; a message belongs to the account whose number it was sent to, shows in its log, and
//! is queued for its inbound URL when it has one; a message nobody owns is kept until purged.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tern_core::account::{Account, ProductToken};
use tern_core::channel::Channel;
use tern_core::inbound::{
    Concat, InboundExtras, InboundFile, InboundMessage, InboundPart, ProviderInbound,
};
use tern_core::message::MessageFilter;
use tern_core::outbox::{ClaimedEntry, EntryFilter, Fact, OrderingKey, OutboxKind, Resolved};
use tern_core::ports::{Store, StoreError};

use crate::harness::*;

/// An account with `numbers` and, when given, an inbound URL.
async fn receiving_account(
    store: &dyn Store,
    numbers: &[&str],
    inbound_url: Option<&str>,
) -> Result<Account, StoreError> {
    let mut account = new_account(&ProductToken::generate(), None);
    account.inbound_numbers = numbers.iter().map(|n| (*n).to_owned()).collect();
    account.inbound_url = inbound_url.map(str::to_owned);
    store.create_account(account).await
}

/// A GSM part from `31612345678` to `to` on connector `smsc1`.
fn part(to: &str, text: &str, concat: Option<(u16, u8, u8)>, at: Timestamp) -> InboundPart {
    InboundPart {
        connector: Arc::from("smsc1"),
        channel: Channel::Sms,
        from: "31612345678".into(),
        to: to.into(),
        data_coding: 0,
        payload: tern_proto::sms::gsm7::encode(text),
        concat: concat.map(|(reference, total, seq)| Concat {
            reference,
            total,
            seq,
        }),
        received_at: at,
    }
}

/// Every inbound message of `account` the log shows.
async fn inbound_log(store: &dyn Store, account: &Account) -> Vec<InboundMessage> {
    store
        .inbound_messages(
            account.id,
            MessageFilter {
                limit: 1000,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap()
}

/// The inbound webhooks due at `at`, claimed.
async fn claim_inbound(store: &dyn Store, at: Timestamp) -> Vec<ClaimedEntry> {
    store
        .claim_entries(
            at,
            100,
            LEASE,
            &EntryFilter::kinds([OutboxKind::InboundWebhook]),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn an_accounts_inbound_numbers_are_kept_normalised_as_given_and_each_is_one_accounts() {
    let backend = Backend::new();
    let store = backend.open();
    let first = receiving_account(&*store, &["3669", "0031612345678"], None)
        .await
        .unwrap();
    assert_eq!(first.inbound_numbers, vec!["3669", "0031612345678"]);
    assert_eq!(store.accounts().await.unwrap(), vec![first.clone()]);
    // A number another account has: nothing is created, the other numbers stay free.
    let conflict = receiving_account(&*store, &["1234", "0031612345678"], None).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(_))),
        "{conflict:?}"
    );
    assert_eq!(store.accounts().await.unwrap(), vec![first.clone()]);
    let second = receiving_account(&*store, &["1234"], None).await.unwrap();
    assert_eq!(second.inbound_numbers, vec!["1234"]);
    let bare = receiving_account(&*store, &[], None).await.unwrap();
    assert_eq!(bare.inbound_numbers, Vec::<String>::new());
}

#[tokio::test]
async fn a_part_alone_is_a_message_of_the_account_with_its_number_and_queued_for_its_inbound_url() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["0031612345670"], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    // The number in another form; "1 of 1" is no concatenation.
    store
        .accept_inbound(vec![part(
            "+31612345670",
            "Hello @ you",
            Some((5, 1, 1)),
            at,
        )])
        .await
        .unwrap();
    let logged = inbound_log(&*store, &account).await;
    assert_eq!(logged.len(), 1);
    let message = &logged[0];
    assert_eq!(
        message,
        &InboundMessage {
            id: message.id,
            account: Some(account.id),
            connector: Arc::from("smsc1"),
            channel: Channel::Sms,
            from: "31612345678".into(),
            to: "+31612345670".into(),
            text: "Hello @ you".into(),
            parts: 1,
            received_at: at,
            extras: Default::default(),
        }
    );
    let claimed = claim_inbound(&*store, at).await;
    assert_eq!(claimed.len(), 1);
    let entry = &claimed[0];
    assert_eq!(entry.kind, OutboxKind::InboundWebhook);
    assert_eq!(entry.ordering_key, OrderingKey::inbound(message.id));
    assert_eq!(entry.created_at, at);
    assert_eq!(entry.fact, Some(Fact::Inbound(message.clone())));
    assert_eq!(
        entry.destination,
        Some(Resolved::Account(std::sync::Arc::new(account.clone())))
    );
    // The status webhook runner does not take it.
    assert_eq!(
        store
            .claim_entries(at, 100, LEASE, &webhooks())
            .await
            .unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn parts_in_any_order_make_one_message_once_all_are_there_and_a_duplicate_is_ignored() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["3669"], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    let later = at + SignedDuration::from_secs(1);
    store
        .accept_inbound(vec![part("3669", "three", Some((300, 3, 3)), at)])
        .await
        .unwrap();
    // The same part again, and the first: still waiting for the second.
    store
        .accept_inbound(vec![
            part("3669", "THREE", Some((300, 3, 3)), later),
            part("3669", "one ", Some((300, 3, 1)), later),
        ])
        .await
        .unwrap();
    assert_eq!(inbound_log(&*store, &account).await, vec![]);
    assert_eq!(claim_inbound(&*store, later).await, vec![]);
    // A part of another key (another reference) does not complete it.
    store
        .accept_inbound(vec![part("3669", "other ", Some((301, 2, 1)), later)])
        .await
        .unwrap();
    assert_eq!(inbound_log(&*store, &account).await, vec![]);
    store
        .accept_inbound(vec![part("3669", "two ", Some((300, 3, 2)), later)])
        .await
        .unwrap();
    let logged = inbound_log(&*store, &account).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].text, "one two three");
    assert_eq!(logged[0].parts, 3);
    assert_eq!(logged[0].received_at, at);
    assert_eq!(claim_inbound(&*store, later).await.len(), 1);
    // Its parts are gone: only the other key's part is left to flush.
    assert_eq!(
        store
            .flush_inbound_parts(later + SignedDuration::from_secs(1))
            .await
            .unwrap(),
        1
    );
    let texts: Vec<String> = inbound_log(&*store, &account)
        .await
        .into_iter()
        .map(|message| message.text)
        .collect();
    assert_eq!(texts, vec!["one two three", "other "]);
}

#[tokio::test]
async fn a_batch_is_taken_in_order_in_one_call() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["3669"], None).await.unwrap();
    let at = now();
    store
        .accept_inbound(vec![
            part("3669", "b", Some((1, 2, 2)), at),
            part("3669", "alone", None, at),
            part("3669", "a", Some((1, 2, 1)), at),
        ])
        .await
        .unwrap();
    let texts: Vec<String> = inbound_log(&*store, &account)
        .await
        .into_iter()
        .map(|message| message.text)
        .collect();
    assert_eq!(texts, vec!["alone", "ab"]);
    store.accept_inbound(Vec::new()).await.unwrap();
}

#[tokio::test]
async fn a_message_whose_part_never_came_is_flushed_as_it_is_once_its_time_runs_out() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["3669"], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    store
        .accept_inbound(vec![
            part("3669", "first ", Some((9, 3, 1)), at),
            part(
                "3669",
                "third",
                Some((9, 3, 3)),
                at + SignedDuration::from_secs(5),
            ),
        ])
        .await
        .unwrap();
    // Its first part arrived at `at`, not before.
    assert_eq!(store.flush_inbound_parts(at).await.unwrap(), 0);
    assert_eq!(inbound_log(&*store, &account).await, vec![]);
    assert_eq!(
        store
            .flush_inbound_parts(at + SignedDuration::from_millis(1))
            .await
            .unwrap(),
        1
    );
    let logged = inbound_log(&*store, &account).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].text, "first third");
    assert_eq!(logged[0].parts, 2);
    assert_eq!(logged[0].received_at, at);
    assert_eq!(claim_inbound(&*store, at).await.len(), 1);
    // Nothing is left to flush.
    assert_eq!(
        store
            .flush_inbound_parts(at + SignedDuration::from_hours(1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_message_nobody_owns_is_kept_without_an_entry_until_it_is_purged() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["3669"], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    store
        .accept_inbound(vec![part("4000", "to nobody", None, at)])
        .await
        .unwrap();
    assert_eq!(inbound_log(&*store, &account).await, vec![]);
    assert_eq!(claim_inbound(&*store, at).await, vec![]);
    // Kept: not purged before it arrived, purged after.
    assert_eq!(store.purge_unowned_inbound(at).await.unwrap(), 0);
    // An owned message is never purged.
    store
        .accept_inbound(vec![part("3669", "mine", None, at)])
        .await
        .unwrap();
    let later = at + SignedDuration::from_millis(1);
    assert_eq!(store.purge_unowned_inbound(later).await.unwrap(), 1);
    assert_eq!(store.purge_unowned_inbound(later).await.unwrap(), 0);
    assert_eq!(inbound_log(&*store, &account).await.len(), 1);
}

#[tokio::test]
async fn only_an_owner_with_an_inbound_url_gets_an_entry() {
    let backend = Backend::new();
    let store = backend.open();
    let without = receiving_account(&*store, &["3669"], None).await.unwrap();
    let with = receiving_account(&*store, &["3670"], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    store
        .accept_inbound(vec![
            part("3669", "to without", None, at),
            part("3670", "to with", None, at),
        ])
        .await
        .unwrap();
    assert_eq!(inbound_log(&*store, &without).await.len(), 1);
    let logged_with = inbound_log(&*store, &with).await;
    assert_eq!(logged_with.len(), 1);
    let claimed = claim_inbound(&*store, at).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].fact, Some(Fact::Inbound(logged_with[0].clone())));
}

#[tokio::test]
async fn the_log_of_inbound_messages_is_filtered_and_paged() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &["3669", "3670"], None)
        .await
        .unwrap();
    let at = now();
    for (to, text, seconds) in [("3669", "a", 0), ("3670", "b", 1), ("3669", "c", 2)] {
        store
            .accept_inbound(vec![part(
                to,
                text,
                None,
                at + SignedDuration::from_secs(seconds),
            )])
            .await
            .unwrap();
    }
    let texts = |messages: Vec<InboundMessage>| -> Vec<String> {
        messages.into_iter().map(|message| message.text).collect()
    };
    let all = inbound_log(&*store, &account).await;
    assert_eq!(texts(all.clone()), vec!["a", "b", "c"]);
    let page = |filter: MessageFilter| store.inbound_messages(account.id, filter);
    assert_eq!(
        texts(
            page(MessageFilter {
                recipient: Some("3669".into()),
                limit: 10,
                ..MessageFilter::default()
            })
            .await
            .unwrap()
        ),
        vec!["a", "c"]
    );
    assert_eq!(
        texts(
            page(MessageFilter {
                since: Some(at + SignedDuration::from_secs(1)),
                limit: 10,
                ..MessageFilter::default()
            })
            .await
            .unwrap()
        ),
        vec!["b", "c"]
    );
    assert_eq!(
        texts(
            page(MessageFilter {
                after: Some(all[0].id),
                limit: 1,
                ..MessageFilter::default()
            })
            .await
            .unwrap()
        ),
        vec!["b"]
    );
    // Another account sees none of them.
    let other = receiving_account(&*store, &[], None).await.unwrap();
    assert_eq!(inbound_log(&*store, &other).await, vec![]);
}

#[tokio::test]
async fn an_owner_with_smpp_also_gets_an_mo_for_its_smpp_binds() {
    let backend = Backend::new();
    let store = backend.open();
    let mut account = new_account(&ProductToken::generate(), None);
    account.inbound_numbers = vec!["3669".into()];
    account.smpp = Some(tern_core::smpp_account::SmppSettings::new("acme", "pw").unwrap());
    let account = store.create_account(account).await.unwrap();
    let at = now();
    store
        .accept_inbound(vec![part("3669", "hi", None, at)])
        .await
        .unwrap();
    let logged = inbound_log(&*store, &account).await;
    let filter = EntryFilter {
        kinds: vec![OutboxKind::SmppMo],
        accounts: Some(vec![account.id]),
    };
    let claimed = store
        .claim_entries(at, 10, SignedDuration::from_secs(30), &filter)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, OutboxKind::SmppMo);
    assert_eq!(claimed[0].fact, Some(Fact::Inbound(logged[0].clone())));
    assert!(matches!(
        &claimed[0].destination,
        Some(Resolved::Account(owner)) if owner.id == account.id
    ));
    // No webhook: the account has no inbound URL.
    assert!(claim_inbound(&*store, at).await.is_empty());
}

/// A WhatsApp message with provider id `wamid` for `account`, answering `answers`.
fn provider_message(
    account: &Account,
    wamid: &str,
    answers: Option<&str>,
    at: Timestamp,
) -> ProviderInbound {
    ProviderInbound {
        connector: Arc::from("wa"),
        channel: Channel::WhatsApp,
        provider_id: wamid.into(),
        account: Some(account.id),
        from: "+31612345678".into(),
        to: "+15550001111".into(),
        text: "a photo".into(),
        extras: InboundExtras {
            from_name: Some("Ann".into()),
            media: Some(InboundFile {
                uri: "https://x/y.jpg".into(),
                content_type: "image/jpeg".into(),
                title: "a photo".into(),
            }),
            custom: Some(r#"{"id":"m1"}"#.into()),
            message_context: None,
            event: None,
            opt_out: false,
        },
        answers: answers.map(str::to_owned),
        received_at: at,
    }
}

#[tokio::test]
async fn a_providers_message_is_its_connectors_accounts_once_with_what_it_carries() {
    let backend = Backend::new();
    let store = backend.open();
    let account = receiving_account(&*store, &[], Some("http://127.0.0.1:9/mo"))
        .await
        .unwrap();
    let at = now();
    let recorded = store
        .accept_provider_inbound(vec![provider_message(&account, "wamid.1", None, at)])
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    // Delivered again (a provider's retry), alone and with a new one: recorded once.
    let again = store
        .accept_provider_inbound(vec![
            provider_message(&account, "wamid.1", None, at),
            provider_message(&account, "wamid.2", Some("wamid.unknown"), at),
        ])
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    let logged = inbound_log(&*store, &account).await;
    assert_eq!(logged.len(), 2);
    let first = logged.iter().find(|m| m.id == recorded[0]).unwrap();
    assert_eq!(
        first,
        &InboundMessage {
            id: recorded[0],
            account: Some(account.id),
            connector: Arc::from("wa"),
            channel: Channel::WhatsApp,
            from: "+31612345678".into(),
            to: "+15550001111".into(),
            text: "a photo".into(),
            parts: 1,
            received_at: at,
            extras: provider_message(&account, "wamid.1", None, at).extras,
        }
    );
    // An answer to a message Tern does not know has no context.
    let second = logged.iter().find(|m| m.id == again[0]).unwrap();
    assert_eq!(second.extras.message_context, None);
    let claimed = claim_inbound(&*store, at).await;
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].fact, Some(Fact::Inbound(first.clone())));
}
