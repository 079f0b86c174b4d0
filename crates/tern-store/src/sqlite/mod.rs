//! [`SqliteStore`]: the embedded backend. Writes go through the group-commit [`writer`]; reads use
//! a small pool of read-only connections on blocking threads (WAL lets them run beside the writer).

mod checkpointer;
mod rows;
mod schema;
mod writer;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tern_core::account::{Account, AccountId, NewAccount, TokenHash};
use tern_core::dispatch::{Decision, Event, ExternalIds, Next, decide};
use tern_core::message::{Content, MessageFilter, MessageId, MessageRecord, NewMessage};
use tern_core::money::{Money, can_pay};
use tern_core::ports::{
    AcceptError, Dispatch, PendingReport, ReportOutcome, SentPart, Store, StoreError,
};
use tern_core::report;

use checkpointer::Checkpointer;
use rows::{
    ACCOUNT_COLUMNS, Contents, EVENT_COLUMNS, EVENT_TABLES, MESSAGE_COLUMNS, MESSAGE_TABLES,
    StoredMessage, account_from_row, millis, stored_message_from_row, timestamp,
};
use writer::Writer;

/// Read connections kept open.
const READERS: usize = 4;
/// How long an account looked up by token is served from memory.
const ACCOUNT_CACHE_TTL: Duration = Duration::from_secs(2);
/// How long the outcome of a readiness probe write is reused.
const READY_PROBE_TTL: Duration = Duration::from_secs(1);
/// How long a transaction that failed to commit keeps the store not ready: a small probe write
/// may still fit where the requests' writes do not (a full disk), so a failed commit of real
/// work counts as well as the probe.
const FAILED_COMMIT_NOT_READY: Duration = Duration::from_secs(10);

/// The embedded store in one SQLite file.
pub struct SqliteStore {
    writer: Writer,
    /// Submitted messages waiting for their commit (see [`Store::intake_waiting`]).
    intake: Arc<AtomicUsize>,
    _checkpointer: Checkpointer,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    account_cache: Mutex<HashMap<[u8; 32], (Account, Instant)>>,
    /// Accounts known to be unlimited (no balance), whose submissions need no balance read. An
    /// account is created unlimited or with a balance and stays so (a balance changes, its
    /// presence does not), so what is learned here stays true.
    unlimited: Arc<Mutex<HashSet<AccountId>>>,
    /// The last readiness probe: when, and what came of it.
    last_probe: Mutex<Option<(Instant, Result<(), StoreError>)>>,
}

pub(crate) fn backend_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Busy(error.to_string())
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(error.to_string())
        }
        _ => StoreError::Backend(error.to_string()),
    }
}

/// What a connection of the store does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The one connection that writes (the writer thread).
    Writer,
    /// A read-only connection of the pool.
    Reader,
    /// The connection that copies the log back (the checkpoint thread).
    Checkpointer,
}

/// Open a connection to the database at `path` for `role`. Every connection of the store is
/// opened here, so every one runs with the durability settings behind `Accepted`, set explicitly
/// rather than left to SQLite's defaults: WAL, `synchronous=FULL` (a committed transaction
/// survives power loss), and `fullfsync` (on macOS a plain fsync does not reach the disk).
fn open_connection(path: &Path, role: Role) -> rusqlite::Result<Connection> {
    let connection = match role {
        Role::Reader => Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?,
        Role::Writer | Role::Checkpointer => Connection::open(path)?,
    };
    connection.busy_timeout(match role {
        Role::Checkpointer => Duration::from_secs(1),
        Role::Writer | Role::Reader => Duration::from_secs(10),
    })?;
    // A read-only connection cannot change the journal mode; the writer made it WAL first, and
    // WAL is kept in the file. Asking for the mode it already has is allowed.
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, not WAL"
        )));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "fullfsync", "ON")?;
    connection.pragma_update(None, "checkpoint_fullfsync", "ON")?;
    if role == Role::Writer {
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // Every writer job runs in a savepoint, whose undo copies of pages go to a statement
        // journal: keep it in memory rather than in a temporary file written for each job.
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        // 32 MiB of page cache (the default is 2 MiB), so updates to recent messages find their
        // pages in memory instead of reading them back from the file.
        connection.pragma_update(None, "cache_size", -32_768)?;
        // Room for every statement the writer runs (rusqlite keeps 16 by default; past that,
        // the least recently used one is parsed again on its next use).
        connection.set_prepared_statement_cache_capacity(64);
    }
    Ok(connection)
}

impl SqliteStore {
    /// Open (creating if needed) the database `tern.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join("tern.db");
        let connection = open_connection(&path, Role::Writer).map_err(backend_error)?;
        schema::migrate(&connection)?;
        connection
            .pragma_update(
                None,
                "wal_autocheckpoint",
                checkpointer::WRITER_AUTOCHECKPOINT_PAGES,
            )
            .map_err(backend_error)?;
        // The log is reused from its start after each complete checkpoint; should it ever have
        // grown past 64 MiB, it is also cut back.
        connection
            .pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(backend_error)?;
        let checkpointer =
            Checkpointer::start(open_connection(&path, Role::Checkpointer).map_err(backend_error)?);
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_connection(&path, Role::Reader).map_err(backend_error)?);
        }
        Ok(SqliteStore {
            writer: Writer::start(connection),
            intake: Arc::new(AtomicUsize::new(0)),
            _checkpointer: checkpointer,
            readers: Arc::new(Mutex::new(readers)),
            path,
            account_cache: Mutex::new(HashMap::new()),
            last_probe: Mutex::new(None),
            unlimited: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `work` on a read connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().expect("reader pool").pop();
            let connection = match pooled {
                Some(connection) => connection,
                None => open_connection(&path, Role::Reader)?,
            };
            let result = work(&connection);
            readers.lock().expect("reader pool").push(connection);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
        .map_err(backend_error)
    }
}

/// Load what an event needs of one message: its progress and the fields a status report
/// carries. The content (body, rich content, app key) is left empty: no event uses it, and
/// reading it for every event would cost the writer thread for nothing.
fn load_for_event(
    statement: &mut rusqlite::CachedStatement,
    id: MessageId,
    contents: &mut Contents,
) -> rusqlite::Result<Option<StoredMessage>> {
    statement
        .query_row(params![id.0.as_bytes()], |row| {
            stored_message_from_row(row, contents)
        })
        .optional()
}

/// The statement [`load_for_event`] runs.
fn prepare_load_for_event(
    connection: &Connection,
) -> rusqlite::Result<rusqlite::CachedStatement<'_>> {
    connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_TABLES} WHERE m.id = ?1"
    ))
}

/// What a connector needs of a stored message, on its current channel and attempt.
fn dispatch_of(stored: StoredMessage) -> Dispatch {
    let message = stored.message;
    Dispatch {
        id: message.id,
        account_id: message.account_id,
        attempt: stored.progress.attempt,
        channel: stored.progress.channel(),
        recipient: message.recipient,
        content: message.content,
        parts: message.parts,
        reference: message.reference,
    }
}

/// Records decisions: new progress, queue position, status history and webhook reports. Its
/// statements are looked up once per job, not once per message.
struct Recorder<'c> {
    update: rusqlite::CachedStatement<'c>,
    event: rusqlite::CachedStatement<'c>,
    report: rusqlite::CachedStatement<'c>,
    groupings: rusqlite::CachedStatement<'c>,
    external_id: rusqlite::CachedStatement<'c>,
    /// Custom groupings read for reports in this job, by content id.
    groupings_of: HashMap<i64, [Option<String>; 3]>,
}

impl<'c> Recorder<'c> {
    fn new(connection: &'c Connection) -> rusqlite::Result<Recorder<'c>> {
        Ok(Recorder {
            update: connection.prepare_cached(
                "UPDATE messages SET state = ?2, channel_index = ?3, attempt = ?4, due_at = ?5,
                    events = events + ?6, deferrals = ?7 WHERE id = ?1",
            )?,
            event: connection.prepare_cached(
                "INSERT INTO status_events (message_id, seq, at, channel, status, error_code, operator)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            report: connection.prepare_cached(
                "INSERT INTO reports (message_id, report_id, url, content_type, body, created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?,
            groupings: connection.prepare_cached(
                "SELECT custom_grouping1, custom_grouping2, custom_grouping3 FROM contents WHERE id = ?1",
            )?,
            // A channel that reuses an id (after wrapping around) names its newest part.
            external_id: connection.prepare_cached(
                "INSERT OR REPLACE INTO external_ids (connector, external_id, message_id, attempt, part_index)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            groupings_of: HashMap::new(),
        })
    }

    /// Record the ids a channel gave the parts of message `id` it took in `attempt`.
    fn external_ids(
        &mut self,
        id: MessageId,
        attempt: u32,
        external_ids: &ExternalIds,
    ) -> rusqlite::Result<()> {
        for (part_index, external_id) in external_ids.part_ids.iter().enumerate() {
            self.external_id.execute(params![
                &*external_ids.connector,
                external_id,
                id.0.as_bytes().as_slice(),
                attempt,
                part_index as i64,
            ])?;
        }
        Ok(())
    }

    /// The custom groupings of `stored`'s content (read once per job, and only for contents
    /// that have any).
    fn groupings(&mut self, stored: &StoredMessage) -> rusqlite::Result<&[Option<String>; 3]> {
        const NONE: &[Option<String>; 3] = &[None, None, None];
        if !stored.has_groupings {
            return Ok(NONE);
        }
        let content_id = stored.content_id;
        if !self.groupings_of.contains_key(&content_id) {
            let groupings = self.groupings.query_row(params![content_id], |row| {
                Ok([row.get(0)?, row.get(1)?, row.get(2)?])
            })?;
            self.groupings_of.insert(content_id, groupings);
        }
        Ok(&self.groupings_of[&content_id])
    }

    /// Record `decision` about `stored`.
    fn record(
        &mut self,
        stored: &StoredMessage,
        decision: &Decision,
        now: Timestamp,
        lease: SignedDuration,
    ) -> rusqlite::Result<()> {
        let due_at = match &decision.next {
            Next::Ignore => return Ok(()),
            Next::Send { .. } => Some(now + lease),
            Next::Requeue => Some(now),
            Next::Retry { at } => Some(*at),
            Next::Wait { until } => Some(*until),
            Next::Done => None,
        };
        let id = stored.message.id.0.as_bytes().as_slice();
        self.update.execute(params![
            id,
            decision.progress.state.as_str(),
            decision.progress.channel_index as i64,
            decision.progress.attempt,
            due_at.map(millis),
            decision.reports.len() as i64,
            decision.progress.deferrals,
        ])?;
        for (index, report) in decision.reports.iter().enumerate() {
            // Status changes are numbered from 1 in the order they are recorded.
            let seq = stored.events + index as u32 + 1;
            self.event.execute(params![
                id,
                seq,
                millis(now),
                report.channel.as_str(),
                report.status.code(),
                report.error_code,
                report.operator,
            ])?;
            if let Some(url) = &stored.status_url {
                let groupings = self.groupings(stored)?;
                let fields = report::status_report(
                    stored.message.id,
                    seq,
                    &stored.message,
                    groupings,
                    report,
                    now,
                );
                let rendered = report::render(&fields, stored.status_format);
                self.report.execute(params![
                    id,
                    fields.report_id,
                    url,
                    rendered.content_type,
                    rendered.body,
                    millis(now)
                ])?;
            }
        }
        Ok(())
    }
}

/// Insert accepted messages, queued and due at once. Messages that share one [`Content`] in
/// memory (the recipients of one `msg`) share one `contents` row.
fn insert_messages(connection: &Connection, messages: &[NewMessage]) -> rusqlite::Result<()> {
    let mut insert_content = connection.prepare_cached(
        "INSERT INTO contents (sender, body, body_type, dcs, app_key, rich_content,
            custom_grouping1, custom_grouping2, custom_grouping3)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut insert = connection.prepare_cached(
        "INSERT INTO messages (id, account_id, recipient, content_id, parts, reference, channels,
            accepted_at, valid_until, price_micros, state, channel_index, attempt, due_at, events,
            has_groupings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'queued', 0, 0, ?8, 0, ?11)",
    )?;
    let mut stored: HashMap<*const Content, i64> = HashMap::new();
    for message in messages {
        let key = Arc::as_ptr(&message.content);
        let content_id = match stored.get(&key) {
            Some(id) => *id,
            None => {
                let content = &message.content;
                let [g1, g2, g3] = &content.custom_groupings;
                insert_content.execute(params![
                    content.from,
                    content.body,
                    content.body_type,
                    content.dcs,
                    content.app_key,
                    content.rich_content,
                    g1,
                    g2,
                    g3,
                ])?;
                let id = connection.last_insert_rowid();
                stored.insert(key, id);
                id
            }
        };
        insert.execute(params![
            message.id.0.as_bytes().as_slice(),
            message.account_id,
            message.recipient,
            content_id,
            message.parts,
            message.reference,
            tern_core::channel::Channel::join(&message.channels),
            millis(message.accepted_at),
            millis(message.valid_until),
            message.price.micros(),
            message.content.custom_groupings.iter().any(Option::is_some),
        ])?;
    }
    Ok(())
}

/// Counts a submission's messages as waiting on the writer for as long as it lives (also when
/// the request is dropped mid-way).
struct IntakeGuard<'a> {
    count: &'a AtomicUsize,
    messages: usize,
}

impl<'a> IntakeGuard<'a> {
    fn new(count: &'a AtomicUsize, messages: usize) -> Self {
        count.fetch_add(messages, Ordering::Relaxed);
        IntakeGuard { count, messages }
    }
}

impl Drop for IntakeGuard<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(self.messages, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn intake_waiting(&self) -> usize {
        self.intake.load(Ordering::Relaxed)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        if let Some(why) = self.writer.failure() {
            return Err(StoreError::Backend(why));
        }
        if let Some(why) = self.writer.failed_commit_within(FAILED_COMMIT_NOT_READY) {
            return Err(StoreError::Backend(format!(
                "a commit failed within the last {} s: {why}",
                FAILED_COMMIT_NOT_READY.as_secs()
            )));
        }
        if let Some((at, outcome)) = &*self.last_probe.lock().expect("probe")
            && at.elapsed() < READY_PROBE_TTL
        {
            return outcome.clone();
        }
        // A real write, through the writer and its commit: what every submission needs.
        let now = millis(Timestamp::now());
        let outcome = self
            .writer
            .write(move |connection: &Connection| {
                connection
                    .prepare_cached(
                        "INSERT INTO readiness (id, probed_at) VALUES (1, ?1)
                         ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
                    )
                    .and_then(|mut s| s.execute(params![now]))
                    .map(|_| ())
                    .map_err(backend_error)
            })
            .await;
        *self.last_probe.lock().expect("probe") = Some((Instant::now(), outcome.clone()));
        outcome
    }

    fn fatal(&self) -> Option<String> {
        self.writer.failure()
    }

    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        let now = Timestamp::now();
        let id = self
            .writer
            .write(move |connection: &Connection| {
                connection
                    .execute(
                        "INSERT INTO accounts (name, token_hash, balance_micros, status_url, status_format, inbound_url, channels, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            account.name,
                            account.token_hash.to_hex(),
                            account.balance.map(|b| b.micros()),
                            account.status_url,
                            account.status_format.as_str(),
                            account.inbound_url,
                            tern_core::channel::Channel::join(&account.channels),
                            millis(now),
                        ],
                    )
                    .map_err(backend_error)?;
                Ok::<_, StoreError>(connection.last_insert_rowid())
            })
            .await?;
        self.read(move |connection| {
            connection.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                params![id],
                account_from_row,
            )
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
            ))?;
            statement
                .query_map([], account_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError> {
        if let Some((account, at)) = self.account_cache.lock().expect("cache").get(&hash.0)
            && at.elapsed() < ACCOUNT_CACHE_TTL
            && account.token_hash.matches(&hash)
        {
            return Ok(Some(account.clone()));
        }
        let found = self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = ?1"
                    ))?
                    .query_row(params![hash.to_hex()], account_from_row)
                    .optional()
            })
            .await?
            .filter(|account| account.token_hash.matches(&hash));
        if let Some(account) = &found {
            let mut cache = self.account_cache.lock().expect("cache");
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash.0, (account.clone(), Instant::now()));
        }
        Ok(found)
    }

    async fn accept(
        &self,
        account: AccountId,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        let _waiting = IntakeGuard::new(&self.intake, messages.len());
        let known_unlimited = self.unlimited.lock().expect("unlimited").contains(&account);
        let unlimited = Arc::clone(&self.unlimited);
        self.writer
            .write(move |connection: &Connection| {
                if known_unlimited {
                    insert_messages(connection, &messages).map_err(backend_error)?;
                    return Ok(());
                }
                let total = Money(messages.iter().map(|m| m.price.micros()).sum());
                let balance: Option<Money> = connection
                    .prepare_cached("SELECT balance_micros FROM accounts WHERE id = ?1")
                    .and_then(|mut s| s.query_row(params![account], |row| row.get::<_, Option<i64>>(0)))
                    .map_err(backend_error)?
                    .map(Money);
                if balance.is_none() {
                    unlimited.lock().expect("unlimited").insert(account);
                }
                if !can_pay(balance, total) {
                    return Err(AcceptError::InsufficientBalance);
                }
                if balance.is_some() && total.micros() != 0 {
                    connection
                        .prepare_cached(
                            "UPDATE accounts SET balance_micros = balance_micros - ?2 WHERE id = ?1",
                        )
                        .and_then(|mut s| s.execute(params![account, total.micros()]))
                        .map_err(backend_error)?;
                }
                insert_messages(connection, &messages).map_err(backend_error)?;
                Ok(())
            })
            .await
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let mut contents = Contents::new();
                let due: Vec<StoredMessage> = connection
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES}
                         WHERE m.due_at IS NOT NULL AND m.due_at <= ?1 ORDER BY m.due_at LIMIT ?2"
                    ))
                    .and_then(|mut statement| {
                        statement
                            .query_map(params![millis(now), limit as i64], |row| {
                                stored_message_from_row(row, &mut contents)
                            })?
                            .collect()
                    })
                    .map_err(backend_error)?;
                let mut dispatches = Vec::new();
                let mut recorder = Recorder::new(connection).map_err(backend_error)?;
                for stored in due {
                    let decision = decide(&stored.progress, &Event::Due, now);
                    recorder
                        .record(&stored, &decision, now, lease)
                        .map_err(backend_error)?;
                    if let Next::Send { .. } = decision.next {
                        dispatches.push(dispatch_of(StoredMessage {
                            progress: decision.progress,
                            ..stored
                        }));
                    }
                }
                Ok::<_, StoreError>(dispatches)
            })
            .await
    }

    async fn apply_batch(
        &self,
        events: Vec<(MessageId, Event)>,
        now: Timestamp,
    ) -> Result<Vec<Next>, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                // The events of one message are decided one after the other on its state in
                // memory, then recorded with one load and one write (a channel's report often
                // arrives in the same batch as the send it follows).
                let mut by_message: HashMap<MessageId, Vec<usize>> = HashMap::new();
                let mut order: Vec<MessageId> = Vec::new();
                for (index, (id, _)) in events.iter().enumerate() {
                    by_message
                        .entry(*id)
                        .or_insert_with(|| {
                            order.push(*id);
                            Vec::new()
                        })
                        .push(index);
                }
                let mut nexts = vec![Next::Ignore; events.len()];
                let mut recorder = Recorder::new(connection).map_err(backend_error)?;
                let mut load = prepare_load_for_event(connection).map_err(backend_error)?;
                let mut contents = Contents::new();
                for id in order {
                    let Some(stored) =
                        load_for_event(&mut load, id, &mut contents).map_err(backend_error)?
                    else {
                        continue;
                    };
                    // The ids a channel gave the parts it took are facts whatever the decision
                    // (a late send is still what a later receipt names): one row per part.
                    for &index in &by_message[&id] {
                        if let Event::Sent {
                            attempt,
                            external_ids,
                        } = &events[index].1
                        {
                            recorder
                                .external_ids(id, *attempt, external_ids)
                                .map_err(backend_error)?;
                        }
                    }
                    let mut combined = Decision {
                        progress: stored.progress.clone(),
                        reports: Vec::new(),
                        next: Next::Ignore,
                    };
                    for &index in &by_message[&id] {
                        let decision = decide(&combined.progress, &events[index].1, now);
                        nexts[index] = decision.next.clone();
                        combined.progress = decision.progress;
                        combined.reports.extend(decision.reports);
                        if decision.next != Next::Ignore {
                            combined.next = decision.next;
                        }
                    }
                    // A send lease is only needed while a claim is in flight; events never send.
                    recorder
                        .record(&stored, &combined, now, SignedDuration::ZERO)
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(nexts)
            })
            .await
    }

    async fn release_leases(&self, now: Timestamp) -> Result<(), StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                // Queued messages are due at once unless a claim leased them.
                connection
                    .execute(
                        "UPDATE messages SET due_at = ?1 WHERE state = 'queued' AND due_at > ?1",
                        params![millis(now)],
                    )
                    .map_err(backend_error)?;
                connection
                    .execute(
                        "UPDATE reports SET due_at = ?1, leased = 0 WHERE leased = 1",
                        params![millis(now)],
                    )
                    .map_err(backend_error)?;
                Ok::<_, StoreError>(())
            })
            .await
    }

    async fn sent_part(
        &self,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<SentPart>, StoreError> {
        let (connector, external_id) = (connector.to_owned(), external_id.to_owned());
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT message_id, attempt, part_index FROM external_ids
                     WHERE connector = ?1 AND external_id = ?2",
                )?
                .query_row(params![connector, external_id], |row| {
                    Ok(SentPart {
                        message_id: rows::message_id(row, 0)?,
                        attempt: row.get(1)?,
                        part_index: row.get(2)?,
                    })
                })
                .optional()
        })
        .await
    }

    async fn awaiting_report(&self) -> Result<Vec<Dispatch>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES}
                 WHERE m.state IN ('sent', 'accepted') AND m.due_at IS NOT NULL"
            ))?;
            let mut contents = Contents::new();
            let stored = statement
                .query_map([], |row| stored_message_from_row(row, &mut contents))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(stored.into_iter().map(dispatch_of).collect())
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|connection| {
            connection.query_row(
                "SELECT MIN(due_at) FROM messages WHERE due_at IS NOT NULL",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
        })
        .await
        .map(|due| due.map(timestamp))
    }

    async fn claim_reports(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<PendingReport>, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let reports: Vec<PendingReport> = connection
                    .prepare_cached(
                        "SELECT r.id, r.message_id, r.report_id, r.url, r.content_type, r.body, r.attempts, r.created_at
                         FROM reports r
                         WHERE r.due_at <= ?1
                           AND r.id = (SELECT MIN(p.id) FROM reports p WHERE p.message_id = r.message_id)
                         ORDER BY r.due_at LIMIT ?2",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_map(params![millis(now), limit as i64], rows::pending_report_from_row)?
                            .collect()
                    })
                    .map_err(backend_error)?;
                for report in &reports {
                    connection
                        .prepare_cached("UPDATE reports SET due_at = ?2, attempts = attempts + 1, leased = 1 WHERE id = ?1")
                        .and_then(|mut s| s.execute(params![report.id, millis(now + lease)]))
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(reports)
            })
            .await
    }

    async fn finish_reports(&self, outcomes: Vec<(i64, ReportOutcome)>) -> Result<(), StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let mut delete = connection
                    .prepare_cached("DELETE FROM reports WHERE id = ?1")
                    .map_err(backend_error)?;
                let mut retry = connection
                    .prepare_cached("UPDATE reports SET due_at = ?2, leased = 0 WHERE id = ?1")
                    .map_err(backend_error)?;
                for (id, outcome) in &outcomes {
                    match outcome {
                        ReportOutcome::Delivered | ReportOutcome::GiveUp => {
                            delete.execute(params![id])
                        }
                        ReportOutcome::RetryAt(at) => retry.execute(params![id, millis(*at)]),
                    }
                    .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
    }

    async fn next_report_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|connection| {
            connection.query_row("SELECT MIN(due_at) FROM reports", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
        })
        .await
        .map(|due| due.map(timestamp))
    }

    async fn record_conversion(
        &self,
        account: AccountId,
        recipients: Vec<String>,
        reference: String,
        converted_at: Timestamp,
    ) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        self.writer
            .write(move |connection: &Connection| {
                let mut recorded = 0;
                for recipient in &recipients {
                    recorded += connection
                        .prepare_cached(
                            "INSERT INTO conversions (message_id, converted_at, recorded_at)
                             SELECT id, ?4, ?5 FROM messages
                             WHERE account_id = ?1 AND reference = ?2 AND recipient = ?3",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                account,
                                reference,
                                recipient,
                                millis(converted_at),
                                millis(now)
                            ])
                        })
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(recorded)
            })
            .await
    }

    async fn messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.read(move |connection| rows::list_messages(connection, account, &filter))
            .await
    }
}

#[cfg(test)]
mod tests;
