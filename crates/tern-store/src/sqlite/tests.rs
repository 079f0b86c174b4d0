//! What only the SQLite backend does, on a real SQLite file: its durability settings, its writer
//! thread and checkpoint thread, its intake counter, its schema migrations and how it stores a
//! content once. What every backend does is the conformance suite's
//! (`crates/tern-store/tests/conformance`, run against SQLite by default); the tests here that
//! claim reports stay until the outbox's own tests take them over.

use super::rows::timestamp;
use super::*;
use jiff::SignedDuration;
use tern_core::account::{AccountId, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ExternalIds, Next};
use tern_core::message::{Content, DeliveryState, MessageFilter, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::ports::*;
use tern_core::status::CmStatus;

fn new_account(token: &ProductToken, balance: Option<Money>) -> NewAccount {
    NewAccount {
        name: "acme".into(),
        token_hash: token.hash(),
        balance,
        status_url: Some("http://127.0.0.1:9/status".into()),
        status_format: ReportFormat::Json,
        inbound_url: None,
        channels: Channel::ALL.to_vec(),
    }
}

fn message(account: AccountId, channels: &[Channel], price: Money, now: Timestamp) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        account_id: account,
        recipient: "0031612345678".into(),
        content: Content {
            from: "Tern".into(),
            body: "Hello".into(),
            body_type: None,
            dcs: None,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
        }
        .into(),
        parts: 1,
        reference: Some("ref1".into()),
        channels: channels.to_vec(),
        accepted_at: now,
        valid_until: now + SignedDuration::from_hours(24),
        price,
    }
}

const LEASE: SignedDuration = SignedDuration::from_secs(30);

#[tokio::test]
async fn fallback_reports_go_out_in_order_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let token = ProductToken::generate();
    let account = store
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    let now = Timestamp::now();
    let msg = message(
        account.id,
        &[Channel::WhatsApp, Channel::Sms],
        Money(0),
        now,
    );
    let id = msg.id;
    store.accept(account.id, None, vec![msg]).await.unwrap();

    let first = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(first[0].channel, Channel::WhatsApp);
    let failed = Event::ChannelReport {
        attempt: 1,
        status: CmStatus::Failed,
        error_code: Some(tern_core::error_code::DeliveryError::RecipientUnreachable),
        operator: None,
    };
    assert_eq!(
        store.apply(id, failed.clone(), now).await.unwrap(),
        Next::Requeue
    );
    // The same report again changes nothing.
    let second = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!((second[0].channel, second[0].attempt), (Channel::Sms, 2));
    assert_eq!(store.apply(id, failed, now).await.unwrap(), Next::Ignore);
    store
        .apply(
            id,
            Event::Sent {
                attempt: 2,
                external_ids: ExternalIds::default(),
            },
            now,
        )
        .await
        .unwrap();
    let delivered = Event::ChannelReport {
        attempt: 2,
        status: CmStatus::Delivered,
        error_code: None,
        operator: Some("20416".into()),
    };
    assert_eq!(store.apply(id, delivered, now).await.unwrap(), Next::Done);

    let records = store
        .messages(
            account.id,
            MessageFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(records[0].state, DeliveryState::Delivered);
    let history: Vec<_> = records[0]
        .history
        .iter()
        .map(|e| (e.channel, e.status, e.error_code))
        .collect();
    assert_eq!(
        history,
        vec![
            (Channel::WhatsApp, CmStatus::Failed, Some(24)),
            (Channel::Sms, CmStatus::Delivered, None)
        ]
    );

    // Two reports queued; only the first is handed out until it is finished.
    let batch = store.claim_reports(now, 10, LEASE).await.unwrap();
    assert_eq!(batch.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&batch[0].body).unwrap();
    assert_eq!(body["messages"]["msg"]["status"]["code"], "3");
    assert_eq!(body["messages"]["msg"]["channel"], "WhatsApp");
    // Each status change has its own report id, in the body and beside it.
    assert_eq!(batch[0].report_id, format!("{id}-1"));
    assert_eq!(body["messages"]["msg"]["reportId"], format!("{id}-1"));
    assert!(
        store
            .claim_reports(now, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .finish_report(batch[0].id, ReportOutcome::Delivered)
        .await
        .unwrap();
    let batch = store.claim_reports(now, 10, LEASE).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&batch[0].body).unwrap();
    assert_eq!(body["messages"]["msg"]["status"]["code"], "2");
    assert_eq!(batch[0].report_id, format!("{id}-2"));
    assert_eq!(body["messages"]["msg"]["reportId"], format!("{id}-2"));
    assert_eq!(batch[0].attempts, 0);
    // A failed delivery is retried later, not dropped.
    let later = now + SignedDuration::from_secs(5);
    store
        .finish_report(batch[0].id, ReportOutcome::RetryAt(later))
        .await
        .unwrap();
    assert!(
        store
            .claim_reports(now, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_reports(later, 10, LEASE).await.unwrap();
    assert_eq!((retried[0].id, retried[0].attempts), (batch[0].id, 1));
    // A retry is the same report: same id, same body.
    assert_eq!(retried[0].report_id, batch[0].report_id);
    assert_eq!(retried[0].body, batch[0].body);
}

#[tokio::test]
async fn a_restart_releases_leases_but_keeps_scheduled_retries() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let token = ProductToken::generate();
    let account = store
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    let now = Timestamp::now();
    let first = message(account.id, &[Channel::Sms], Money(0), now);
    let second = message(account.id, &[Channel::Sms], Money(0), now);
    let (first_id, second_id) = (first.id, second.id);
    store
        .accept(account.id, None, vec![first, second])
        .await
        .unwrap();
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 2);
    for (id, status) in [
        (first_id, CmStatus::Delivered),
        (second_id, CmStatus::Failed),
    ] {
        let event = Event::ChannelReport {
            attempt: 1,
            status,
            error_code: None,
            operator: None,
        };
        store.apply(id, event, now).await.unwrap();
    }
    let reports = store.claim_reports(now, 10, LEASE).await.unwrap();
    assert_eq!(reports.len(), 2);
    let later = now + SignedDuration::from_hours(1);
    store
        .finish_report(reports[1].id, ReportOutcome::RetryAt(later))
        .await
        .unwrap();
    // A message claimed but never settled (the process died mid-send).
    let third = message(account.id, &[Channel::Sms], Money(0), now);
    store.accept(account.id, None, vec![third]).await.unwrap();
    assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap().len(), 1);

    store.release_leases(now).await.unwrap();
    let again = store.claim_reports(now, 10, LEASE).await.unwrap();
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![reports[0].id]
    );
    let resent = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!((resent.len(), resent[0].attempt), (1, 2));
}

#[tokio::test]
async fn a_batch_of_events_applies_in_order_and_reports_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let account = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    // Stored to the millisecond.
    let now = Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap();
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
    let report = |status, error_code| Event::ChannelReport {
        attempt: 1,
        status,
        error_code,
        operator: None,
    };
    let nexts = store
        .apply_batch(
            vec![
                (
                    first_id,
                    Event::Sent {
                        attempt: 1,
                        external_ids: ExternalIds::default(),
                    },
                ),
                (
                    second_id,
                    Event::Sent {
                        attempt: 1,
                        external_ids: ExternalIds::default(),
                    },
                ),
                // Sees the `Sent` above: delivered, then a duplicate that changes nothing.
                (second_id, report(CmStatus::Delivered, None)),
                (second_id, report(CmStatus::Delivered, None)),
                (
                    first_id,
                    report(
                        CmStatus::Failed,
                        Some(tern_core::error_code::DeliveryError::RecipientUnreachable),
                    ),
                ),
                (
                    MessageId::generate(),
                    Event::Sent {
                        attempt: 1,
                        external_ids: ExternalIds::default(),
                    },
                ),
            ],
            now,
        )
        .await
        .unwrap();
    let wait = Next::Wait {
        until: now + SignedDuration::from_hours(24),
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
    // One report each; the fallback left the first message queued on SMS.
    let reports = store.claim_reports(now, 10, LEASE).await.unwrap();
    let mut reported: Vec<MessageId> = reports.iter().map(|r| r.message_id).collect();
    reported.sort_by_key(|id| id.0);
    let mut expected = vec![first_id, second_id];
    expected.sort_by_key(|id| id.0);
    assert_eq!(reported, expected);
    let requeued = store.claim_due(now, 10, LEASE).await.unwrap();
    assert_eq!(
        (requeued.len(), requeued[0].channel, requeued[0].attempt),
        (1, Channel::Sms, 2)
    );
    // The content a connector needs is intact after events that did not load it.
    assert_eq!(requeued[0].content.body, "Hello");

    // Outcomes recorded in one batch: a delivered report leaves, a retried one waits.
    let later = now + SignedDuration::from_hours(1);
    let (delivered, retried) = (reports[0].id, reports[1].id);
    store
        .finish_reports(vec![
            (delivered, ReportOutcome::Delivered),
            (retried, ReportOutcome::RetryAt(later)),
        ])
        .await
        .unwrap();
    assert!(
        store
            .claim_reports(now, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_reports(later, 10, LEASE).await.unwrap();
    assert_eq!(
        again.iter().map(|r| (r.id, r.attempts)).collect::<Vec<_>>(),
        vec![(retried, 1)]
    );
}

#[tokio::test]
async fn the_log_is_copied_back_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let account = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    let now = Timestamp::now();
    let schema_only = std::fs::metadata(dir.path().join("tern.db")).unwrap().len();
    assert!(schema_only < 100_000, "{schema_only}");
    for _ in 0..20 {
        let batch = (0..50)
            .map(|_| message(account.id, &[Channel::Sms], Money(0), now))
            .collect();
        store.accept(account.id, None, batch).await.unwrap();
    }
    // Far below the writer's own threshold, so only the checkpoint thread copies the log back
    // into the database file, which otherwise would still hold only the schema.
    let database = dir.path().join("tern.db");
    let mut size = 0;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        size = std::fs::metadata(&database).unwrap().len();
        if size > 200_000 {
            break;
        }
    }
    assert!(size > 200_000, "database file still {size} bytes");
    let writer_threshold: i64 = store
        .writer
        .write(|connection: &Connection| {
            connection
                .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
                .map_err(backend_error)
        })
        .await
        .unwrap();
    assert_eq!(writer_threshold, checkpointer::WRITER_AUTOCHECKPOINT_PAGES);
}

#[tokio::test]
async fn a_submission_waiting_on_the_writer_is_visible_to_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let account = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    assert_eq!(store.intake_waiting(), 0);
    // Keep the writer busy, so that the submission below has to wait for it.
    let busy = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .writer
                .write(|_: &Connection| {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, StoreError>(())
                })
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let submission = {
        let store = Arc::clone(&store);
        let now = Timestamp::now();
        let msgs = (0..3)
            .map(|_| message(account.id, &[Channel::Sms], Money(0), now))
            .collect();
        tokio::spawn(async move { store.accept(account.id, None, msgs).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(store.intake_waiting(), 3, "a submission of 3 is waiting");
    busy.await.unwrap().unwrap();
    submission.await.unwrap().unwrap();
    assert_eq!(store.intake_waiting(), 0, "committed: nothing waits");
}

/// Rows in `table`, read beside the store.
fn count(dir: &Path, table: &str) -> i64 {
    Connection::open(dir.join("tern.db"))
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn the_recipients_of_one_msg_share_one_stored_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let account = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    let now = Timestamp::now();
    let first = message(account.id, &[Channel::Sms], Money(0), now);
    let mut recipients: Vec<NewMessage> = (0..50)
        .map(|index| NewMessage {
            id: MessageId::generate(),
            recipient: format!("00316{index:08}"),
            ..first.clone()
        })
        .collect();
    // Another msg of the same request, with content of its own.
    let other = message(account.id, &[Channel::Sms], Money(0), now);
    let other_content = Content {
        body: "Other".into(),
        custom_groupings: [Some("g".into()), None, None],
        ..(*other.content).clone()
    };
    recipients.push(NewMessage {
        content: Arc::new(other_content),
        ..other
    });
    store.accept(account.id, None, recipients).await.unwrap();
    // One row per message, one per content (that claims share it in memory too is the
    // conformance suite's).
    assert_eq!(count(dir.path(), "messages"), 51);
    assert_eq!(count(dir.path(), "contents"), 2);
}

#[tokio::test]
async fn a_database_of_the_first_schema_is_migrated_with_everything_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let message_id = MessageId::generate();
    {
        // The schema and rows as a Tern before schema versions wrote them (user_version 0).
        let old = Connection::open(dir.path().join("tern.db")).unwrap();
        old.execute_batch(schema::BASE).unwrap();
        old.execute(
            "INSERT INTO accounts (id, name, token_hash, balance_micros, status_url, status_format, channels, created_at)
             VALUES (1, 'old', ?1, NULL, 'http://127.0.0.1:9/s', 'json', 'SMS', 0)",
            [ProductToken::generate().hash().to_hex()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO messages (id, account_id, recipient, sender, body, body_type, dcs, app_key, rich_content,
                parts, reference, custom_grouping1, custom_grouping2, custom_grouping3, channels, accepted_at,
                valid_until, price_micros, state, channel_index, attempt, due_at)
             VALUES (?1, 1, '0031612345678', 'Tern', 'Old body', NULL, NULL, NULL, NULL, 1, 'oldref',
                'g1', NULL, 'g3', 'SMS', 0, 9999999999999, 0, 'queued', 0, 0, 0)",
            [message_id.0.as_bytes().as_slice()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO reports (message_id, url, content_type, body, created_at, due_at)
             VALUES (?1, 'http://127.0.0.1:9/s', 'application/json', x'7b7d', 0, 0)",
            [message_id.0.as_bytes().as_slice()],
        )
        .unwrap();
        // Its first status change was recorded (the report above).
        old.execute(
            "INSERT INTO status_events (message_id, seq, at, channel, status) VALUES (?1, 1, 0, 'SMS', 3)",
            [message_id.0.as_bytes().as_slice()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let version: i64 = Connection::open(dir.path().join("tern.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    let claimed = store.claim_due(Timestamp::now(), 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, message_id);
    assert_eq!(claimed[0].content.body, "Old body");
    assert_eq!(
        claimed[0].content.custom_groupings,
        [Some("g1".into()), None, Some("g3".into())]
    );
    let reports = store
        .claim_reports(Timestamp::now(), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].report_id.is_empty());
    store
        .finish_report(reports[0].id, ReportOutcome::Delivered)
        .await
        .unwrap();
    // The next status change is number 2, and its report carries the migrated groupings.
    let now = Timestamp::now();
    store
        .apply(
            message_id,
            Event::Sent {
                attempt: 1,
                external_ids: ExternalIds::default(),
            },
            now,
        )
        .await
        .unwrap();
    let delivered = Event::ChannelReport {
        attempt: 1,
        status: CmStatus::Delivered,
        error_code: None,
        operator: None,
    };
    store.apply(message_id, delivered, now).await.unwrap();
    let reports = store.claim_reports(now, 10, LEASE).await.unwrap();
    assert_eq!(reports[0].report_id, format!("{message_id}-2"));
    let body: serde_json::Value = serde_json::from_slice(&reports[0].body).unwrap();
    assert_eq!(body["messages"]["msg"]["customGrouping"], "g1");
    assert_eq!(body["messages"]["msg"]["customGrouping3"], "g3");
    // Opening again changes nothing.
    drop(store);
    SqliteStore::open(dir.path()).unwrap();
    assert_eq!(count(dir.path(), "contents"), 1);
}

/// `journal_mode`, `synchronous`, `fullfsync` and `checkpoint_fullfsync` of a connection.
fn durability(connection: &Connection) -> rusqlite::Result<(String, i64, i64, i64)> {
    let get = |name: &str| connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0));
    Ok((
        connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?,
        get("synchronous")?,
        get("fullfsync")?,
        get("checkpoint_fullfsync")?,
    ))
}

#[tokio::test]
async fn every_connection_runs_with_wal_and_synchronous_full() {
    // synchronous FULL is 2; fullfsync and checkpoint_fullfsync on are 1.
    let expected = ("wal".to_owned(), 2, 1, 1);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let writer = store
        .writer
        .write(|connection: &Connection| durability(connection).map_err(backend_error))
        .await
        .unwrap();
    assert_eq!(writer, expected, "writer");
    // Every pooled reader, and one opened beyond the pool: hold them all at once.
    let read = || {
        store.read(|connection| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            durability(connection)
        })
    };
    assert_eq!(READERS, 4);
    let (a, b, c, d, e) = tokio::join!(read(), read(), read(), read(), read());
    for reader in [a, b, c, d, e] {
        assert_eq!(reader.unwrap(), expected, "reader");
    }
    let checkpointer = open_connection(&dir.path().join("tern.db"), Role::Checkpointer).unwrap();
    assert_eq!(durability(&checkpointer).unwrap(), expected, "checkpointer");
}

#[tokio::test]
async fn a_write_job_that_panics_is_undone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let panicked = store
        .writer
        .write(|connection: &Connection| -> Result<(), StoreError> {
            connection
                .execute("INSERT INTO readiness (id, probed_at) VALUES (1, 42)", [])
                .map_err(backend_error)?;
            panic!("a bug in a write job");
        })
        .await;
    assert!(
        matches!(panicked, Err(StoreError::Backend(_))),
        "{panicked:?}"
    );
    // Undone: the row it wrote is not there.
    assert_eq!(count(dir.path(), "readiness"), 0);
    // Later writes are stored; the store is ready and not failed.
    let account = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await
        .unwrap();
    assert_eq!(account.name, "acme");
    assert_eq!(store.ready().await, Ok(()));
    assert_eq!(store.fatal(), None);
}

#[tokio::test]
async fn a_writer_that_stopped_is_not_ready_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.ready().await, Ok(()));
    store.writer.crash();
    // The thread stops; from then on nothing is written and the store says so.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.fatal().is_none() {
        assert!(
            Instant::now() < deadline,
            "the writer never reported its failure"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let written = store
        .create_account(new_account(&ProductToken::generate(), None))
        .await;
    assert!(
        matches!(written, Err(StoreError::Backend(_))),
        "{written:?}"
    );
    // The probe that succeeded a moment ago is not reused once the writer has failed.
    assert!(store.ready().await.is_err());
}

#[tokio::test]
async fn a_deferred_message_waits_on_its_channel_and_keeps_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let token = ProductToken::generate();
    let account = store
        .create_account(new_account(&token, None))
        .await
        .unwrap();
    // Stored to the millisecond.
    let now = timestamp(millis(Timestamp::now()));
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
    let records = store
        .messages(
            account.id,
            MessageFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(records[0].state, DeliveryState::Queued);
    assert!(records[0].history.is_empty(), "no status report");
    assert!(
        store
            .claim_reports(retry_at, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}
