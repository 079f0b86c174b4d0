//! [`SqliteStore`]: the embedded backend. Writes go through the group-commit [`writer`]; reads use
//! a small pool of read-only connections on blocking threads (WAL lets them run beside the writer).

mod accounts;
mod blocklist;
mod checkpointer;
mod depths;
mod inbound;
mod intake;
mod log;
mod memory;
mod outbox;
mod push;
mod queue;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, params};
use tern_core::ports::{ClusterStore, NodeId, RateStore, StoreError, StoreHealth, StoreSignals};
use tern_core::rate::{StoredBucket, take_stored};

use checkpointer::Checkpointer;
pub use memory::use_mimalloc;
use rows::millis;
use writer::Writer;

/// Read connections kept open.
const READERS: usize = 4;
/// How long the outcome of a readiness probe write is reused.
const READY_PROBE_TTL: Duration = Duration::from_secs(1);
/// How long a transaction that failed to commit keeps the store not ready: a small probe write
/// may still fit where the requests' writes do not (a full disk), so a failed commit of real
/// work counts as well as the probe.
const FAILED_COMMIT_NOT_READY: Duration = Duration::from_secs(10);

/// The embedded store in one SQLite file.
pub struct SqliteStore {
    writer: Writer,
    /// Submitted messages waiting for their commit (see
    /// [`tern_core::ports::IntakeStore::intake_waiting`]).
    intake: Arc<AtomicUsize>,
    /// Submissions waiting for the writer, written together (see `intake`).
    pending: intake::PendingQueue,
    _checkpointer: Checkpointer,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    /// The node whose name this handle holds leases in.
    node: NodeId,
    /// The last readiness probe: when, and what came of it.
    last_probe: Mutex<Option<(Instant, Result<(), StoreError>)>>,
    /// Per-account rate buckets ([`RateStore`]): in memory, since this store has one node.
    rates: Mutex<std::collections::HashMap<tern_core::account::AccountId, StoredBucket>>,
    /// The opt-out keywords inbound messages are judged by
    /// ([`tern_core::ports::BlocklistStore::set_opt_out_keywords`]).
    opt_out: std::sync::RwLock<Arc<tern_core::blocklist::OptOutKeywords>>,
    /// The runner that takes fresh outbox entries as they are written
    /// ([`tern_core::ports::OutboxStore::hand_fresh_entries`]): the last one that asked.
    fresh: std::sync::RwLock<Option<Arc<dyn tern_core::ports::FreshEntries>>>,
    /// The dispatcher that takes fresh messages as intake writes them
    /// ([`tern_core::ports::IntakeStore::hand_fresh_messages`]): the last one that asked.
    fresh_messages: std::sync::RwLock<Option<Arc<dyn tern_core::ports::FreshMessages>>>,
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
    // The query planner's stability guarantee: a statement's plan never depends on the values
    // bound to it. Without it, SQLite (built with STAT4, as rusqlite bundles it) marks a
    // statement whose `LIMIT ?` or range bound could change its plan, and rebinding that
    // parameter, which every reuse of a cached statement does, re-prepares the statement,
    // re-reading the schema: about 140,000 instructions each time, up to 7 % of all the
    // gateway's work per message (the dispatcher's claims and the outbox's heads, each call;
    // docs/benchmarks.md, 2026-12-02). The plans are those SQLite makes without the values,
    // which is what the first preparation of each statement made anyway.
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
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
    // The writer's commits are made durable by its sync thread before they are answered
    // (`writer::WalSync`), so that the writer need not wait for the disk between transactions;
    // every other connection syncs what it writes itself (the checkpointer's checkpoints).
    let synchronous = match role {
        Role::Writer => "NORMAL",
        Role::Reader | Role::Checkpointer => "FULL",
    };
    connection.pragma_update(None, "synchronous", synchronous)?;
    connection.pragma_update(None, "fullfsync", "ON")?;
    connection.pragma_update(None, "checkpoint_fullfsync", "ON")?;
    if role == Role::Writer {
        // Foreign keys are not enforced: checking every message row's account and content cost
        // about a fifth of batched intake (docs/benchmarks.md, 2026-11-30), and what they
        // guard holds by construction: intake looks its account up once per request, writes
        // each content in the transaction of the messages that refer to it, and no row is
        // ever deleted from `accounts` or `contents`.
        connection.pragma_update(None, "foreign_keys", "OFF")?;
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
    /// Open (creating if needed) the database `tern.db` in `data_dir`, as the embedded node.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_as(data_dir, NodeId::new(NodeId::EMBEDDED))
    }

    /// [`SqliteStore::open`], holding leases in the name of `node`.
    pub fn open_as(data_dir: &Path, node: NodeId) -> Result<SqliteStore, StoreError> {
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
            writer: Writer::start_with(connection, Box::new(writer::WalSync::of(&path))),
            intake: Arc::new(AtomicUsize::new(0)),
            pending: Default::default(),
            _checkpointer: checkpointer,
            readers: Arc::new(Mutex::new(readers)),
            path,
            node,
            last_probe: Mutex::new(None),
            rates: Mutex::new(std::collections::HashMap::new()),
            opt_out: Default::default(),
            fresh: Default::default(),
            fresh_messages: Default::default(),
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
            // Kept for the next read unless the pool is full (a burst of reads opened more).
            let mut pool = readers.lock().expect("reader pool");
            if pool.len() < READERS {
                pool.push(connection);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
        .map_err(backend_error)
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
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
}

/// One node: its own writes wake it (see `tern_egress::Wakeups`); there is nobody else.
impl StoreSignals for SqliteStore {}

/// One node (the data directory's lock keeps a second one out): its memory is exact, and a
/// bucket starts full again after a restart, as a rate allows.
#[async_trait]
impl RateStore for SqliteStore {
    async fn take_rate(
        &self,
        account: tern_core::account::AccountId,
        rate: std::num::NonZeroU32,
        parts: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut buckets = self.rates.lock().expect("rate buckets");
        let stored = buckets.get(&account).copied();
        let (taken, bucket) = take_stored(stored, rate.get(), parts, millis(now));
        buckets.insert(account, bucket);
        Ok(taken)
    }
}

/// One node (the data directory's lock keeps a second one out): always alive, alone.
#[async_trait]
impl ClusterStore for SqliteStore {
    async fn live_nodes(
        &self,
        _now: Timestamp,
        _lease: jiff::SignedDuration,
    ) -> Result<Vec<NodeId>, StoreError> {
        Ok(vec![self.node.clone()])
    }
}

#[cfg(test)]
mod tests;
