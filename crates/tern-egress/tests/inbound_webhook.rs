//! Inbound (MO) messages from the store to the account's receiver: parts handed to a real SQLite
//! store, the outbox runner POSTing CM's inbound JSON to a real HTTP receiver on loopback, a
//! refused delivery retried at `[inbound] retry_interval_secs`, and the sweeper delivering a
//! message whose missing part never came.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tern_core::account::{Account, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::inbound::{Concat, InboundMessage, InboundPart};
use tern_core::message::MessageFilter;
use tern_core::outbox::{EntryFilter, OutboxKind};
use tern_core::ports::{NodeId, Store};
use tern_egress::Wakeups;
use tern_egress::http_client::HttpClient;
use tern_egress::inbound::{InboundConfig, InboundSweeper};
use tern_egress::notifier::{Notifier, NotifierConfig, REPORT_ID_HEADER};
use tern_egress::webhook_target::TargetPolicy;
use tern_store::StoreConfig;
use tern_testkit::webhook::WebhookReceiver;
use tokio::sync::watch;

/// How long a test waits for what it expects before it fails.
const WAIT: Duration = Duration::from_secs(15);

struct Setup {
    store: Arc<dyn Store>,
    account: Account,
    receiver: WebhookReceiver,
    wakeups: Arc<Wakeups>,
    config: InboundConfig,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A store with an account that owns `3669` and has the receiver as its inbound URL, and the
/// outbox runner delivering inbound webhooks with a retry interval of one second.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = tern_store::open(
        &StoreConfig::Sqlite {
            data_dir: dir.path().to_owned(),
        },
        NodeId::new(NodeId::EMBEDDED),
    )
    .unwrap();
    let receiver = WebhookReceiver::start().await;
    let account = store
        .create_account(NewAccount {
            name: "receiver".into(),
            token_hash: ProductToken::generate().hash(),
            balance: None,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: Some(receiver.url.clone()),
            inbound_numbers: vec!["3669".into()],
            channels: vec![Channel::Sms],
            smpp: None,
            webhook_secret: None,
        })
        .await
        .unwrap();
    let config = InboundConfig {
        retry_interval_secs: 1,
        max_age_hours: 1,
        part_timeout_secs: 1,
    };
    let wakeups = Arc::new(Wakeups::default());
    let notifier = Notifier::new(
        Arc::clone(&store) as _,
        HttpClient::direct(false).expect("webhook client"),
        Arc::clone(&wakeups),
        NotifierConfig::default(),
        TargetPolicy::default(),
    )
    .with_inbound_webhooks(config.clone());
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(notifier.run(stopping));
    Setup {
        store,
        account,
        receiver,
        wakeups,
        config,
        stop,
        _dir: dir,
    }
}

/// A UCS2 part from `31612345678` to `3669`.
fn part(text_utf16be: &[u8], concat: Option<(u16, u8, u8)>, at: Timestamp) -> InboundPart {
    InboundPart {
        connector: Arc::from("smsc1"),
        channel: Channel::Sms,
        from: "31612345678".into(),
        to: "3669".into(),
        data_coding: 8,
        payload: text_utf16be.to_vec(),
        concat: concat.map(|(reference, total, seq)| Concat {
            reference,
            total,
            seq,
        }),
        received_at: at,
    }
}

/// The one inbound message of the account.
async fn the_message(setup: &Setup) -> InboundMessage {
    let mut messages = setup
        .store
        .inbound_messages(
            setup.account.id,
            MessageFilter {
                limit: 10,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.remove(0)
}

/// CM's inbound JSON of message `id` with `text`, arrived at `at`, byte for byte.
fn expected_body(id: &str, text: &str, at: &str) -> String {
    format!(
        concat!(
            r#"{{"reference":"{id}","from":{{"number":"+31612345678","name":""}},"#,
            r#""to":{{"number":"3669"}},"#,
            r#""message":{{"text":"{text}","media":{{"mediaUri":"","contentType":"","title":""}},"custom":{{}}}},"#,
            r#""groupings":["","",""],"timeUtc":"{at}","channel":"SMS"}}"#
        ),
        id = id,
        text = text,
        at = at
    )
}

/// `at` as CM's `timeUtc` writes it: `yyyy-MM-ddTHH:mm:ss`, UTC.
fn utc_seconds(at: Timestamp) -> String {
    let civil = jiff::tz::TimeZone::UTC.to_datetime(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        civil.year(),
        civil.month(),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    )
}

/// Wait until the inbound webhooks are all delivered (the outbox has none left).
async fn outbox_emptied(setup: &Setup) {
    let filter = EntryFilter::kinds([OutboxKind::InboundWebhook]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while setup.store.next_entry_due(&filter).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the inbound webhook is still in the outbox after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_mo_is_posted_in_cms_inbound_json_and_a_refused_post_is_retried_at_the_interval() {
    let setup = setup().await;
    setup.receiver.answer_next(&[500]);
    let started = tokio::time::Instant::now();
    // Ten minutes ago (within the hour of the retry window), to the millisecond.
    let at = Timestamp::from_millisecond(
        (Timestamp::now() - SignedDuration::from_mins(10)).as_millisecond(),
    )
    .unwrap();
    // "Hé 😀" in UCS2, its surrogate pair split over the two parts, the second part first.
    setup
        .store
        .accept_inbound(vec![
            part(
                &[0xDE, 0x00],
                Some((77, 2, 2)),
                at + SignedDuration::from_millis(5),
            ),
            part(
                &[0x00, 0x48, 0x00, 0xE9, 0x00, 0x20, 0xD8, 0x3D],
                Some((77, 2, 1)),
                at,
            ),
        ])
        .await
        .unwrap();
    setup.wakeups.reports.notify_one();
    let message = the_message(&setup).await;
    assert_eq!(message.text, "Hé 😀");
    let received = setup.receiver.wait_for(2, WAIT).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after the one-second interval, not sooner: {:?}",
        started.elapsed()
    );
    let id = message.id.to_string();
    let body = expected_body(&id, "Hé 😀", &utc_seconds(at));
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 200]
    );
    for post in &received {
        assert_eq!(post.method, "POST");
        assert_eq!(post.content_type, "application/json");
        assert_eq!(post.header_values(REPORT_ID_HEADER), vec![id.as_str()]);
        assert_eq!(post.text(), body);
    }
    outbox_emptied(&setup).await;
    // Taken once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(setup.receiver.received().len(), 2);
    let _ = setup.stop.send(true);
}

#[tokio::test]
async fn the_sweeper_delivers_a_message_whose_part_never_came_once_its_time_ran_out() {
    let setup = setup().await;
    let at = Timestamp::now() - SignedDuration::from_secs(2);
    setup
        .store
        .accept_inbound(vec![part(&[0x00, 0x41], Some((5, 3, 1)), at)])
        .await
        .unwrap();
    let sweeper = InboundSweeper {
        store: Arc::clone(&setup.store) as _,
        config: setup.config.clone(),
        wakeups: Arc::clone(&setup.wakeups),
    };
    // Its first part came two seconds ago; the part timeout is one.
    sweeper.sweep(Timestamp::now()).await;
    let message = the_message(&setup).await;
    assert_eq!((message.text.as_str(), message.parts), ("A", 1));
    let received = setup.receiver.wait_for(1, WAIT).await;
    assert_eq!(
        received[0].text(),
        expected_body(&message.id.to_string(), "A", &utc_seconds(at))
    );
    outbox_emptied(&setup).await;
    let _ = setup.stop.send(true);
}
