//! What only the SQLite backend does, on a real SQLite file: its durability settings, its writer
//! thread and checkpoint thread, its intake counter, its schema migrations and how it stores a
//! content once. What every backend does is the conformance suite's
//! (`crates/tern-store/tests/conformance`, run against SQLite by default).

use super::rows::timestamp;
use super::*;
use jiff::SignedDuration;
use tern_core::account::{AccountId, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ExternalIds};
use tern_core::error_code::Surface;
use tern_core::message::{Content, MessageFilter, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::outbox::{
    Fact, OrderingKey, OutboxKind, Outcome, RenderedWebhook, Resolved, StatusFact,
};
use tern_core::ports::*;
use tern_core::report;
use tern_core::status::CmStatus;

fn new_account(token: &ProductToken, balance: Option<Money>) -> NewAccount {
    NewAccount {
        name: "acme".into(),
        token_hash: token.hash(),
        balance,
        status_url: Some("http://127.0.0.1:9/status".into()),
        status_format: ReportFormat::Json,
        inbound_url: None,
        inbound_numbers: Vec::new(),
        channels: Channel::ALL.to_vec(),
        smpp: None,
        webhook_secret: None,
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
            udh: None,
        }
        .into(),
        parts: 1,
        reference: Some("ref1".into()),
        channels: channels.to_vec(),
        accepted_at: now,
        valid_until: now + SignedDuration::from_hours(24),
        price,
        source: Surface::Json,
        smpp_registered_delivery: 0,
        segment: None,
    }
}

const LEASE: SignedDuration = SignedDuration::from_secs(30);

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

/// A database of the first schema (as a Tern before schema versions wrote it, user_version 0)
/// in `dir`, with account 1 (JSON reports to an unreachable URL).
fn first_schema_with_an_account(dir: &Path) -> Connection {
    let old = Connection::open(dir.join("tern.db")).unwrap();
    old.execute_batch(schema::BASE).unwrap();
    old.execute(
        "INSERT INTO accounts (id, name, token_hash, balance_micros, status_url, status_format, channels, created_at)
         VALUES (1, 'old', ?1, NULL, 'http://127.0.0.1:9/s', 'json', 'SMS', 0)",
        [ProductToken::generate().hash().to_hex()],
    )
    .unwrap();
    old
}

/// A report of `message_id` that a Tern of the first schema rendered and queued (body `{}`).
fn rendered_report(old: &Connection, message_id: MessageId) {
    old.execute(
        "INSERT INTO reports (message_id, url, content_type, body, created_at, due_at)
         VALUES (?1, 'http://127.0.0.1:9/s', 'application/json', x'7b7d', 0, 0)",
        [message_id.0.as_bytes().as_slice()],
    )
    .unwrap();
}

#[tokio::test]
async fn a_database_of_the_first_schema_is_migrated_with_everything_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let message_id = MessageId::generate();
    {
        // The schema and rows as a Tern before schema versions wrote them (user_version 0).
        let old = first_schema_with_an_account(dir.path());
        old.execute(
            "INSERT INTO messages (id, account_id, recipient, sender, body, body_type, dcs, app_key, rich_content,
                parts, reference, custom_grouping1, custom_grouping2, custom_grouping3, channels, accepted_at,
                valid_until, price_micros, state, channel_index, attempt, due_at)
             VALUES (?1, 1, '0031612345678', 'Tern', 'Old body', NULL, NULL, NULL, NULL, 1, 'oldref',
                'g1', NULL, 'g3', 'SMS', 0, 9999999999999, 0, 'queued', 0, 0, 0)",
            [message_id.0.as_bytes().as_slice()],
        )
        .unwrap();
        rendered_report(&old, message_id);
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
    // The report an earlier Tern rendered before reports had ids cannot be traced to its status
    // change: it goes out as it was rendered, to the URL it was rendered for, with the id step 2
    // gave it.
    let entries = store
        .claim_entries(Timestamp::now(), 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, OutboxKind::RenderedWebhook);
    assert_eq!(
        entries[0].destination,
        Some(Resolved::Url("http://127.0.0.1:9/s".into()))
    );
    assert_eq!(
        entries[0].fact,
        Some(Fact::Rendered(RenderedWebhook {
            message_id,
            report_id: format!("{}-r1", hex(message_id.0.as_bytes())),
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
        }))
    );
    store
        .finish_entry(entries[0].id, Outcome::Delivered)
        .await
        .unwrap();
    assert_eq!(
        count(dir.path(), "rendered_webhooks"),
        0,
        "gone with its entry"
    );
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
        detail: None,
    };
    store.apply(message_id, delivered, now).await.unwrap();
    let entries = store
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    let Some(Fact::StatusChange(fact)) = &entries[0].fact else {
        panic!("{entries:?}")
    };
    let fields = report::status_report(fact);
    assert_eq!(fields.report_id, format!("{message_id}-2"));
    let body: serde_json::Value =
        serde_json::from_slice(&report::render(&fields, ReportFormat::Json).body).unwrap();
    assert_eq!(body["messages"]["msg"]["customGrouping"], "g1");
    assert_eq!(body["messages"]["msg"]["customGrouping3"], "g3");
    // Opening again changes nothing.
    drop(store);
    SqliteStore::open(dir.path()).unwrap();
    assert_eq!(count(dir.path(), "contents"), 1);
}

/// Reports an earlier Tern rendered (schema step 8 keeps their bodies in `rendered_webhooks`)
/// that are never sent are expired with their bodies; one being sent is left to its runner, and
/// its body goes when it is delivered.
#[tokio::test]
async fn rendered_webhooks_expired_or_delivered_take_their_bodies_with_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let old = first_schema_with_an_account(dir.path());
        for _ in 0..3 {
            let message_id = MessageId::generate();
            old.execute(
                "INSERT INTO messages (id, account_id, recipient, sender, body, parts, channels, accepted_at,
                    valid_until, price_micros, state, channel_index, attempt)
                 VALUES (?1, 1, '0031612345678', 'Tern', 'Old body', 1, 'SMS', 0, 0, 0, 'failed', 0, 1)",
                [message_id.0.as_bytes().as_slice()],
            )
            .unwrap();
            rendered_report(&old, message_id);
        }
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(count(dir.path(), "rendered_webhooks"), 3);
    let now = Timestamp::now();
    let claimed = store
        .claim_entries(now, 1, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, OutboxKind::RenderedWebhook);
    assert_eq!(
        store
            .expire_entries(OutboxKind::RenderedWebhook, now)
            .await
            .unwrap(),
        2,
        "the two not being sent"
    );
    assert_eq!(
        (
            count(dir.path(), "outbox"),
            count(dir.path(), "rendered_webhooks")
        ),
        (1, 1)
    );
    store
        .finish_entry(claimed[0].id, Outcome::Delivered)
        .await
        .unwrap();
    assert_eq!(
        (
            count(dir.path(), "outbox"),
            count(dir.path(), "rendered_webhooks")
        ),
        (0, 0)
    );
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
    // The writer commits at NORMAL (1): its sync thread syncs the log before any answer
    // (`writer::WalSync`, tested in writer.rs).
    let writer = store
        .writer
        .write(|connection: &Connection| durability(connection).map_err(backend_error))
        .await
        .unwrap();
    assert_eq!(writer, ("wal".to_owned(), 1, 1, 1), "writer");
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

/// Lower-case hex, as SQLite's `lower(hex(…))` writes it.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The body of a report as a Tern of schema 7 rendered and stored it when it recorded the
/// status change.
fn rendered_at_decision(
    id: MessageId,
    seq: u32,
    at: Timestamp,
    report: &tern_core::dispatch::Report,
    groupings: [Option<String>; 3],
    format: ReportFormat,
) -> report::RenderedReport {
    let fields = report::status_report(&StatusFact {
        message_id: id,
        seq,
        at,
        report: report.clone(),
        recipient: "0031612345678".into(),
        reference: Some("ref7".into()),
        custom_groupings: groupings,
        // A report does not show these.
        accepted_at: at,
        from: String::new(),
        body: String::new(),
        body_binary: false,
        part_price: Money(0),
        parts: 1,
    });
    report::render(&fields, format)
}

#[tokio::test]
async fn queued_reports_of_a_version_7_database_become_entries_and_are_all_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tern.db");
    // Stored to the millisecond; the statuses were recorded a minute ago.
    let at = timestamp(millis(Timestamp::now()) - 60_000);
    let traced = MessageId::generate();
    let untraced = MessageId::generate();
    let (delivered, read) = (
        tern_core::dispatch::Report {
            channel: Channel::Sms,
            status: CmStatus::Delivered,
            error_code: None,
            operator: Some("20416".into()),
            detail: None,
        },
        tern_core::dispatch::Report {
            channel: Channel::Sms,
            status: CmStatus::Read,
            error_code: None,
            operator: None,
            detail: None,
        },
    );
    let groupings = [Some("g1".into()), None, Some("g<3>".into())];
    let first_body;
    {
        // A database as Tern wrote it at schema version 7: an XML account with two messages.
        // `traced` has two status changes, both reports queued (the first claimed by the node
        // and tried twice); `untraced` has one queued report from before reports had ids.
        let old = Connection::open(&path).unwrap();
        schema::migrate_to(&old, 7).unwrap();
        old.execute(
            "INSERT INTO accounts (id, name, token_hash, status_url, status_format, channels, created_at)
             VALUES (1, 'old', ?1, 'http://127.0.0.1:9/old', 'xml', 'SMS', 0)",
            [ProductToken::generate().hash().to_hex()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO contents (id, sender, body, custom_grouping1, custom_grouping2, custom_grouping3)
             VALUES (1, 'Tern', 'Hello', ?1, ?2, ?3)",
            rusqlite::params![groupings[0], groupings[1], groupings[2]],
        )
        .unwrap();
        for id in [traced, untraced] {
            old.execute(
                "INSERT INTO messages (id, account_id, recipient, content_id, parts, reference, channels,
                    accepted_at, valid_until, price_micros, state, channel_index, attempt, due_at,
                    events, has_groupings)
                 VALUES (?1, 1, '0031612345678', 1, 1, 'ref7', 'SMS', 0, 9999999999999, 0, 'read', 0, 1,
                    NULL, 2, 1)",
                [id.0.as_bytes().as_slice()],
            )
            .unwrap();
        }
        let mut bodies = Vec::new();
        for (seq, report) in [(1, &delivered), (2, &read)] {
            old.execute(
                "INSERT INTO status_events (message_id, seq, at, channel, status, error_code, operator)
                 VALUES (?1, ?2, ?3, 'SMS', ?4, NULL, ?5)",
                rusqlite::params![
                    traced.0.as_bytes().as_slice(),
                    seq,
                    millis(at),
                    report.status.code(),
                    report.operator
                ],
            )
            .unwrap();
            let rendered = rendered_at_decision(
                traced,
                seq,
                at,
                report,
                groupings.clone(),
                ReportFormat::Xml,
            );
            old.execute(
                "INSERT INTO reports (message_id, report_id, url, content_type, body, created_at, due_at)
                 VALUES (?1, ?2, 'http://127.0.0.1:9/old', ?3, ?4, ?5, ?5)",
                rusqlite::params![
                    traced.0.as_bytes().as_slice(),
                    format!("{traced}-{seq}"),
                    rendered.content_type,
                    rendered.body,
                    millis(at)
                ],
            )
            .unwrap();
            bodies.push(rendered.body);
        }
        first_body = bodies.remove(0);
        // The first was claimed twice by the embedded node (leased now).
        old.execute(
            "UPDATE reports SET attempts = 2, leased_by = 'embedded', due_at = ?1 WHERE report_id = ?2",
            rusqlite::params![millis(at) + 3_600_000, format!("{traced}-1")],
        )
        .unwrap();
        old.execute(
            "INSERT INTO reports (message_id, report_id, url, content_type, body, created_at, due_at)
             VALUES (?1, ?2, 'http://127.0.0.1:9/older', 'application/json', x'7b7d', ?3, ?3)",
            rusqlite::params![
                untraced.0.as_bytes().as_slice(),
                format!("{}-r7", hex(untraced.0.as_bytes())),
                millis(at)
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    // The lease carried over: the restart releases it, as it did before.
    let now = Timestamp::now();
    assert_eq!(
        store
            .claim_entries(now, 10, LEASE, &webhooks())
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.kind)
            .collect::<Vec<_>>(),
        vec![OutboxKind::RenderedWebhook]
    );
    store.release_leases(now).await.unwrap();
    let mut claimed = store
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    claimed.sort_by_key(|entry| entry.kind.as_str());
    assert_eq!(
        claimed.iter().map(|entry| entry.kind).collect::<Vec<_>>(),
        vec![OutboxKind::RenderedWebhook, OutboxKind::StatusWebhook]
    );
    let first = &claimed[1];
    assert_eq!((first.attempts, first.created_at), (2, at));
    assert_eq!(first.ordering_key, OrderingKey::message(traced));
    let Some(Fact::StatusChange(fact)) = &first.fact else {
        panic!("{first:?}")
    };
    assert_eq!(fact.seq, 1);
    let Some(Resolved::Account(account)) = &first.destination else {
        panic!("{first:?}")
    };
    assert_eq!(
        account.status_url.as_deref(),
        Some("http://127.0.0.1:9/old")
    );
    // Rendered now from the fact, it is byte for byte what Tern 7 had stored.
    let rendered = report::render(&report::status_report(fact), account.status_format);
    assert_eq!(rendered.content_type, "application/xml");
    assert_eq!(rendered.body, first_body);

    // In order: the second status change of `traced` only after the first.
    assert!(
        store
            .claim_entries(now, 10, LEASE, &webhooks())
            .await
            .unwrap()
            .is_empty()
    );
    store
        .finish_entries(
            claimed
                .iter()
                .map(|entry| (entry.id, Outcome::Delivered))
                .collect(),
        )
        .await
        .unwrap();
    let rest = store
        .claim_entries(now, 10, LEASE, &webhooks())
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let Some(Fact::StatusChange(fact)) = &rest[0].fact else {
        panic!("{rest:?}")
    };
    assert_eq!((fact.seq, fact.report.status), (2, CmStatus::Read));
    store
        .finish_entry(rest[0].id, Outcome::Delivered)
        .await
        .unwrap();
    assert_eq!(store.next_entry_due(&webhooks()).await.unwrap(), None);
    drop(store);
    assert_eq!(count(dir.path(), "outbox"), 0);
    assert_eq!(count(dir.path(), "rendered_webhooks"), 0);
}

#[test]
fn the_message_column_count_is_the_number_of_message_columns() {
    assert_eq!(
        rows::MESSAGE_COLUMNS.split(',').count(),
        rows::MESSAGE_COLUMN_COUNT
    );
    assert_eq!(
        rows::EVENT_COLUMNS.split(',').count(),
        rows::MESSAGE_COLUMN_COUNT
    );
}

#[tokio::test]
async fn accounts_of_a_version_10_database_have_no_smpp_settings_and_can_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = ProductToken::generate();
    {
        // A database as Tern wrote it at schema version 10, before accounts had SMPP settings.
        let old = Connection::open(dir.path().join("tern.db")).unwrap();
        schema::migrate_to(&old, 10).unwrap();
        old.execute(
            "INSERT INTO accounts (id, name, token_hash, status_format, channels, created_at)
             VALUES (1, 'old', ?1, 'json', 'SMS', 0)",
            [token.hash().to_hex()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let old = store.account_by_token(token.hash()).await.unwrap().unwrap();
    assert_eq!((old.name.as_str(), old.smpp), ("old", None));
    // Every SMPP column is NULL, and the old account is found by no system id.
    let nulls: i64 = Connection::open(dir.path().join("tern.db"))
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM accounts WHERE smpp_system_id IS NULL AND smpp_password_hash IS NULL
                AND smpp_max_binds IS NULL AND smpp_rate IS NULL AND smpp_receipt_format IS NULL
                AND smpp_receipt_pdu IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(nulls, 1);
    assert_eq!(store.account_by_smpp_system_id("old").await.unwrap(), None);
    // A new account beside it gets SMPP settings; system ids are unique from now on.
    let smpp = tern_core::smpp_account::SmppSettings::new("newer", "pw").unwrap();
    let newer = store
        .create_account(NewAccount {
            smpp: Some(smpp.clone()),
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    assert_eq!(newer.smpp.as_deref(), Some(&smpp));
    let again = store
        .create_account(NewAccount {
            smpp: Some(smpp),
            ..new_account(&ProductToken::generate(), None)
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.accounts().await.unwrap().len(), 2);
}

#[tokio::test]
async fn messages_of_a_version_11_database_came_in_over_json_and_asked_for_no_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let token = ProductToken::generate();
    let id = MessageId::generate();
    {
        // A database as Tern wrote it at schema version 11, before messages kept their surface.
        let old = Connection::open(dir.path().join("tern.db")).unwrap();
        schema::migrate_to(&old, 11).unwrap();
        old.execute_batch(&format!(
            "INSERT INTO accounts (id, name, token_hash, status_format, channels, created_at)
                VALUES (1, 'old', '{}', 'json', 'SMS', 0);
             INSERT INTO contents (id, sender, body) VALUES (1, 'Tern', 'Hello');
             INSERT INTO messages (id, account_id, recipient, content_id, parts, channels,
                accepted_at, valid_until, price_micros, state, channel_index, attempt, due_at,
                events, has_groupings)
                VALUES (x'{}', 1, '0031612345678', 1, 1, 'SMS', 0, 86400000, 0, 'queued', 0, 0, 0,
                0, 0);",
            token.hash().to_hex(),
            id.smpp_id()
        ))
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let logged = store
        .messages(
            1,
            MessageFilter {
                limit: 10,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].message.id, id);
    assert_eq!(logged[0].message.source, Surface::Json);
    assert_eq!(logged[0].message.smpp_registered_delivery, 0);
}

#[tokio::test]
async fn accounts_of_a_version_13_database_have_no_inbound_numbers_and_can_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = ProductToken::generate();
    {
        // A database as Tern wrote it at schema version 13, before inbound messages.
        let old = Connection::open(dir.path().join("tern.db")).unwrap();
        schema::migrate_to(&old, 13).unwrap();
        old.execute(
            "INSERT INTO accounts (id, name, token_hash, status_format, channels, created_at)
             VALUES (1, 'old', ?1, 'json', 'SMS', 0)",
            [token.hash().to_hex()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    let old = store.account_by_token(token.hash()).await.unwrap().unwrap();
    assert_eq!(old.inbound_numbers, Vec::<String>::new());
    let newer = store
        .create_account(NewAccount {
            inbound_numbers: vec!["3669".into(), "0031612345678".into()],
            ..new_account(&ProductToken::generate(), None)
        })
        .await
        .unwrap();
    assert_eq!(newer.inbound_numbers, vec!["3669", "0031612345678"]);
    assert_eq!(
        store.accounts().await.unwrap(),
        vec![
            store.account_by_token(token.hash()).await.unwrap().unwrap(),
            newer
        ]
    );
}

#[test]
fn claims_of_entries_read_one_index_in_due_order_for_a_kind_and_for_an_accounts_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let connection = Connection::open(dir.path().join("tern.db")).unwrap();
    schema::migrate(&connection).unwrap();
    let plan = |sql: &str| -> String {
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let details: Vec<String> = statement
            .query_map([0i64, 0, 0], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        details.join("\n")
    };
    let webhooks = plan(&super::outbox::due_heads_sql(
        OutboxKind::StatusWebhook,
        false,
    ));
    assert!(
        webhooks.starts_with("SEARCH o USING INDEX outbox_kind_due (kind=? AND due_at<?)"),
        "{webhooks}"
    );
    let receipts = plan(&super::outbox::due_heads_sql(OutboxKind::SmppReceipt, true));
    assert!(
        receipts
            .starts_with("SEARCH o USING INDEX outbox_receipts_due (account_id=? AND due_at<?)"),
        "{receipts}"
    );
    for plan in [webhooks, receipts] {
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
        assert!(!plan.contains("SCAN"), "no scan: {plan}");
    }
}

/// The entries the webhook runner claims.
fn webhooks() -> tern_core::outbox::EntryFilter {
    tern_core::outbox::EntryFilter::kinds([OutboxKind::StatusWebhook, OutboxKind::RenderedWebhook])
}

/// A cached statement whose `LIMIT ?` (or range bound) is bound again with another value runs
/// as prepared, on every kind of connection: SQLite re-prepares such a statement on each reuse
/// unless the query planner's stability guarantee is on (see `open_connection`), which cost up
/// to 7 % of the gateway's work per message.
#[test]
fn a_cached_statement_bound_to_new_values_is_not_prepared_again() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let path = dir.path().join("tern.db");
    let sql = super::outbox::due_heads_sql(OutboxKind::StatusWebhook, false);
    for role in [Role::Writer, Role::Reader, Role::Checkpointer] {
        let connection = open_connection(&path, role).unwrap();
        for limit in [10_i64, 20, 30] {
            let mut statement = connection.prepare_cached(&sql).unwrap();
            let rows = statement
                .query_map(params![limit * 1000, limit, None::<i64>], |_| Ok(()))
                .unwrap()
                .count();
            assert_eq!(rows, 0);
        }
        let statement = connection.prepare_cached(&sql).unwrap();
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "{role:?}"
        );
    }
}
