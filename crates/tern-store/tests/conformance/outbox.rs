//! The outbox role: every status change of a message whose account has a status URL is one
//! entry, pointing at the recorded change; a message's entries are handed out one at a time, in
//! order, leased to the node that claimed them; outcomes are recorded in batches; the account's
//! status URL and format are read when an entry is claimed, so a change reaches entries already
//! queued.

use jiff::{SignedDuration, Timestamp};
use tern_core::account::{Account, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, Next};
use tern_core::error_code::DeliveryError;
use tern_core::message::MessageId;
use tern_core::money::Money;
use tern_core::outbox::{
    ClaimedEntry, Fact, OrderingKey, OutboxKind, Outcome, Resolved, StatusFact,
};
use tern_core::ports::Store;
use tern_core::report;
use tern_core::status::CmStatus;

use crate::harness::{Backend, LEASE, account, message, new_account, now, sent, webhooks};

fn channel_report(attempt: u32, status: CmStatus, error_code: Option<u16>) -> Event {
    Event::ChannelReport {
        attempt,
        status,
        error_code: error_code
            .map(|code| DeliveryError::from_code(code).expect("a code of the spec's table")),
        operator: Some("20416".into()),
        detail: None,
    }
}

/// Accept one SMS for `account`, claim it and have the channel report `status`: one status
/// change, one entry. Its id.
async fn reported(
    store: &dyn Store,
    account: &Account,
    status: CmStatus,
    now: Timestamp,
) -> MessageId {
    let msg = message(account.id, &[Channel::Sms], Money(0), now);
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    let claimed = store.claim_due(now, 100, LEASE).await.unwrap();
    assert!(claimed.iter().any(|d| d.id == id));
    store
        .apply_batch(
            vec![(id, sent(1)), (id, channel_report(1, status, None))],
            now,
        )
        .await
        .unwrap();
    id
}

/// The status change an entry points at.
fn status_fact(entry: &ClaimedEntry) -> &StatusFact {
    match &entry.fact {
        Some(Fact::StatusChange(fact)) => fact,
        other => panic!("entry {} has no status change: {other:?}", entry.id),
    }
}

/// The account an entry goes to, as it was when the entry was claimed.
fn destination(entry: &ClaimedEntry) -> &Account {
    match &entry.destination {
        Some(Resolved::Account(account)) => account,
        other => panic!("entry {} goes to no account: {other:?}", entry.id),
    }
}

async fn claim(store: &dyn Store, now: Timestamp) -> Vec<ClaimedEntry> {
    store
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_status_change_is_one_entry_and_a_message_s_go_out_in_order_one_at_a_time() {
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
    let failed = channel_report(1, CmStatus::Failed, Some(24));
    assert_eq!(
        store.apply(id, failed.clone(), now).await.unwrap(),
        Next::Requeue
    );
    let second = store.claim_due(now, 10, LEASE).await.unwrap();
    // Attempt 3: a fallback skips one (`dispatch::fall_back`).
    assert_eq!((second[0].channel, second[0].attempt), (Channel::Sms, 3));
    // The same report again changes nothing, and makes no entry.
    assert_eq!(store.apply(id, failed, now).await.unwrap(), Next::Ignore);
    store.apply(id, sent(3), now).await.unwrap();
    let later = now + SignedDuration::from_millis(1500);
    let delivered = channel_report(3, CmStatus::Delivered, None);
    assert_eq!(store.apply(id, delivered, later).await.unwrap(), Next::Done);

    // Two entries; only the first is handed out until it is finished.
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), Some(now));
    let batch = claim(&*store, later).await;
    assert_eq!(batch.len(), 1);
    let first = &batch[0];
    assert_eq!(first.kind, OutboxKind::StatusWebhook);
    assert_eq!(first.ordering_key, OrderingKey::message(id));
    assert_eq!((first.attempts, first.created_at), (0, now));
    let fact = status_fact(first);
    assert_eq!((fact.message_id, fact.seq, fact.at), (id, 1, now));
    assert_eq!(
        (
            fact.report.channel,
            fact.report.status,
            fact.report.error_code
        ),
        (
            Channel::WhatsApp,
            CmStatus::Failed,
            Some(DeliveryError::RecipientUnreachable)
        )
    );
    assert_eq!(fact.report.operator.as_deref(), Some("20416"));
    assert_eq!(fact.recipient, "0031612345678");
    assert_eq!(fact.reference.as_deref(), Some("ref1"));
    assert_eq!(destination(first).id, account.id);
    assert_eq!(destination(first).status_url, account.status_url);
    assert!(claim(&*store, later).await.is_empty(), "one in flight");
    store
        .finish_entry(first.id, Outcome::Delivered)
        .await
        .unwrap();

    let batch = claim(&*store, later).await;
    assert_eq!(batch.len(), 1);
    let second = &batch[0];
    let fact = status_fact(second);
    assert_eq!((fact.seq, fact.at), (2, later));
    assert_eq!(
        (
            fact.report.channel,
            fact.report.status,
            fact.report.error_code
        ),
        (Channel::Sms, CmStatus::Delivered, None)
    );
    assert_eq!(second.attempts, 0);
    // Rendered from the fact: the report id names the message's second status change.
    let fields = report::status_report(fact);
    assert_eq!(fields.report_id, format!("{id}-2"));
    let body: serde_json::Value =
        serde_json::from_slice(&report::render(&fields, ReportFormat::Json).body).unwrap();
    assert_eq!(body["messages"]["msg"]["status"]["code"], "2");
    assert_eq!(body["messages"]["msg"]["reportId"], format!("{id}-2"));

    // A failed delivery is retried later, not dropped; the retry is the same entry.
    let retry_at = later + SignedDuration::from_secs(5);
    store
        .finish_entry(second.id, Outcome::RetryAt(retry_at))
        .await
        .unwrap();
    assert_eq!(
        store.next_entry_due(&webhooks()).await.unwrap(),
        Some(retry_at)
    );
    assert!(claim(&*store, later).await.is_empty());
    let retried = claim(&*store, retry_at).await;
    assert_eq!((retried[0].id, retried[0].attempts), (second.id, 1));
    assert_eq!(retried[0].fact, second.fact);
    store
        .finish_entry(retried[0].id, Outcome::Delivered)
        .await
        .unwrap();
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), None);
    assert!(claim(&*store, retry_at).await.is_empty());
}

#[tokio::test]
async fn entries_of_different_messages_go_out_together_and_finish_in_one_batch() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let first = reported(&*store, &account, CmStatus::Delivered, now).await;
    let second = reported(&*store, &account, CmStatus::Failed, now).await;
    let claimed = claim(&*store, now).await;
    let mut reported: Vec<MessageId> = claimed.iter().map(|e| status_fact(e).message_id).collect();
    reported.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(reported, expected);

    // A delivered entry leaves, a retried one waits; both recorded in one call.
    let later = now + SignedDuration::from_hours(1);
    let (delivered, retried) = (claimed[0].id, claimed[1].id);
    store
        .finish_entries(vec![
            (delivered, Outcome::Delivered),
            (retried, Outcome::RetryAt(later)),
        ])
        .await
        .unwrap();
    assert!(claim(&*store, now).await.is_empty());
    let again = claim(&*store, later).await;
    assert_eq!(
        again.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
        vec![(retried, 1)]
    );
}

#[tokio::test]
async fn an_entry_given_up_leaves_and_the_next_of_its_message_follows() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let msg = message(account.id, &[Channel::Sms], Money(0), now);
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    store.claim_due(now, 10, LEASE).await.unwrap();
    store
        .apply_batch(
            vec![
                (id, sent(1)),
                (id, channel_report(1, CmStatus::Delivered, None)),
                (id, channel_report(1, CmStatus::Read, None)),
            ],
            now,
        )
        .await
        .unwrap();
    let first = claim(&*store, now).await;
    assert_eq!(status_fact(&first[0]).seq, 1);
    store
        .finish_entry(first[0].id, Outcome::GiveUp)
        .await
        .unwrap();
    let next = claim(&*store, now).await;
    assert_eq!(next.len(), 1);
    assert_eq!(status_fact(&next[0]).seq, 2);
    assert_eq!(status_fact(&next[0]).report.status, CmStatus::Read);
    store
        .finish_entry(next[0].id, Outcome::GiveUp)
        .await
        .unwrap();
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), None);
}

#[tokio::test]
async fn a_lease_that_runs_out_hands_the_entry_out_again() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    reported(&*store, &account, CmStatus::Delivered, now).await;
    let first = claim(&*store, now).await;
    assert_eq!(first.len(), 1);
    assert!(
        claim(&*store, now + LEASE - SignedDuration::from_millis(1))
            .await
            .is_empty()
    );
    let again = claim(&*store, now + LEASE).await;
    assert_eq!((again[0].id, again[0].attempts), (first[0].id, 1));
}

#[tokio::test]
async fn a_restart_releases_the_outbox_s_leases_but_keeps_scheduled_retries() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    reported(&*store, &account, CmStatus::Delivered, now).await;
    reported(&*store, &account, CmStatus::Failed, now).await;
    let claimed = claim(&*store, now).await;
    assert_eq!(claimed.len(), 2);
    let later = now + SignedDuration::from_hours(1);
    store
        .finish_entry(claimed[1].id, Outcome::RetryAt(later))
        .await
        .unwrap();

    store.release_leases(now).await.unwrap();
    let again = claim(&*store, now).await;
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![claimed[0].id]
    );
}

#[tokio::test]
async fn a_node_releases_only_its_own_outbox_leases() {
    let backend = Backend::new();
    let mine = backend.open();
    let theirs = backend.open_as("other");
    let account = account(&*mine, None).await;
    let now = now();
    let my_message = reported(&*mine, &account, CmStatus::Delivered, now).await;
    let mine_claimed = mine
        .claim_entries(now, 1, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(status_fact(&mine_claimed[0]).message_id, my_message);
    let their_message = reported(&*mine, &account, CmStatus::Delivered, now).await;
    let theirs_claimed = theirs
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(
        theirs_claimed
            .iter()
            .map(|e| status_fact(e).message_id)
            .collect::<Vec<_>>(),
        vec![their_message]
    );

    // The other node restarts: its entry is due again, mine stays leased to me.
    theirs.release_leases(now).await.unwrap();
    let again = theirs
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![theirs_claimed[0].id]
    );
    // And the other way round.
    mine.release_leases(now).await.unwrap();
    let mine_again = mine
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(
        mine_again.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![mine_claimed[0].id]
    );
}

#[tokio::test]
async fn a_changed_status_url_and_format_reach_entries_already_queued() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let id = reported(&*store, &account, CmStatus::Delivered, now).await;
    let first = claim(&*store, now).await;
    assert_eq!(destination(&first[0]).status_format, ReportFormat::Json);
    let json = report::render(
        &report::status_report(status_fact(&first[0])),
        ReportFormat::Json,
    );
    let later = now + SignedDuration::from_secs(1);
    store
        .finish_entry(first[0].id, Outcome::RetryAt(later))
        .await
        .unwrap();

    backend.set_status_webhook(
        account.id,
        Some("http://127.0.0.1:9/moved"),
        ReportFormat::Xml,
    );
    let moved = claim(&*store, later).await;
    assert_eq!(moved[0].id, first[0].id);
    let to = destination(&moved[0]);
    assert_eq!(
        (to.status_url.as_deref(), to.status_format),
        (Some("http://127.0.0.1:9/moved"), ReportFormat::Xml)
    );
    // The same fact, rendered in the new format.
    let xml = report::render(
        &report::status_report(status_fact(&moved[0])),
        to.status_format,
    );
    assert_eq!(xml.content_type, "application/xml");
    let text = String::from_utf8(xml.body).unwrap();
    assert!(text.contains(&format!("REPORTID=\"{id}-1\"")), "{text}");
    assert_ne!(json.content_type, "application/xml");

    // Without a status URL any more, the entry says so (its sender drops it).
    let latest = later + SignedDuration::from_secs(1);
    store
        .finish_entry(moved[0].id, Outcome::RetryAt(latest))
        .await
        .unwrap();
    backend.set_status_webhook(account.id, None, ReportFormat::Json);
    let unwanted = claim(&*store, latest).await;
    assert_eq!(destination(&unwanted[0]).status_url, None);
}

#[tokio::test]
async fn an_account_without_a_status_url_gets_no_entries() {
    let backend = Backend::new();
    let store = backend.open();
    let quiet = store
        .create_account(tern_core::account::NewAccount {
            status_url: None,
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    let now = now();
    reported(&*store, &quiet, CmStatus::Delivered, now).await;
    assert!(claim(&*store, now).await.is_empty());
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), None);
}

#[tokio::test]
async fn a_deferred_message_makes_no_entry() {
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
    let deferred = Event::Deferred {
        attempt: 1,
        retry_after: None,
    };
    assert!(matches!(
        store.apply(id, deferred, now).await.unwrap(),
        Next::Retry { .. }
    ));
    assert!(
        claim(&*store, now + SignedDuration::from_hours(1))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_entry_carries_its_message_s_custom_groupings() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let now = now();
    let mut msg = message(account.id, &[Channel::Sms], Money(0), now);
    let mut content = (*msg.content).clone();
    content.custom_groupings = [Some("g1".into()), None, Some("g3".into())];
    msg.content = content.into();
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();
    store.claim_due(now, 10, LEASE).await.unwrap();
    store
        .apply_batch(
            vec![
                (id, sent(1)),
                (id, channel_report(1, CmStatus::Delivered, None)),
            ],
            now,
        )
        .await
        .unwrap();
    let claimed = claim(&*store, now).await;
    assert_eq!(
        status_fact(&claimed[0]).custom_groupings,
        [Some("g1".into()), None, Some("g3".into())]
    );
}
