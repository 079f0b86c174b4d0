//! [`PgStore`]: the store on PostgreSQL, for several Tern nodes on one database. Every role of
//! the port runs on a pool of connections (sqlx, queries built at run time, no compile-time
//! macros); each write is one transaction, committed (with `synchronous_commit = on`: flushed to
//! the server's disk) before its method returns. Decisions are the core's, as on SQLite: this
//! module only reads rows, hands them to `tern_core`, and writes what it decided.
//!
//! Leases are held in the name of this handle's node; several handles on one database (several
//! processes, or one test) are several nodes.

mod accounts;
mod blocklist;
mod cluster;
mod depths;
mod inbound;
mod intake;
mod log;
mod messages;
mod outbox;
mod pacing;
mod push;
mod queue;
mod rates;
mod rows;
mod schema;
mod signals;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tern_core::ports::{NodeId, StoreError, StoreHealth, WorkSignal};

pub use schema::VERSION as SCHEMA_VERSION;

/// Connections each handle keeps at most: up to 8 intake transactions at once (see `intake`),
/// and delivery's claims, outcomes and reports beside them.
const MAX_CONNECTIONS: u32 = 24;
/// How long a caller waits for a connection of the pool (or for a new one) before its call
/// fails. While the server is down, connecting is refused at once and tried again with a
/// growing pause (sqlx's backoff) until this passes: the caller then gets an error, never a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call of the store made for a request (a submission, an SMPP bind, the message
/// log, a push registration, an account command) or for the cluster's membership ([`within`])
/// may take, the wait for a
/// connection included: a connection whose server vanished without closing it (a host gone, a
/// network cut) would otherwise leave a query waiting for minutes, until the kernel gives the
/// connection up. A submission looks its account up and then stores its messages: two calls,
/// answered within 30 seconds at worst, inside the 35 seconds the gateway promises.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one of delivery's calls ([`within_background`]) may take: longer than a
/// submission's, since a claim or a batch of outcomes may be large and the server busy, but
/// bounded, so that a connection cut without a word does not stop a node's delivery until the
/// kernel gives the connection up.
#[cfg(not(test))]
const BACKGROUND_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Short in this crate's unit tests, which wait for it (`cluster.rs`).
#[cfg(test)]
const BACKGROUND_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a statement waits for a lock another session holds before it fails (PostgreSQL's
/// `lock_timeout`, set on each connection of the pool): a node that hangs or loses its
/// connection while it holds an account's row cannot hold the others' submissions for longer.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session may sit inside a transaction without sending anything before the server
/// ends it (`idle_in_transaction_session_timeout`), releasing its locks: a node cut off from the
/// database mid-transaction does not keep rows locked until the server's TCP keepalive notices.
const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a readiness probe may take before `/ready` says the store does not accept writes.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the outcome of a readiness probe write is reused.
const READY_PROBE_TTL: Duration = Duration::from_secs(1);

/// The store on one PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
    /// The node whose name this handle holds leases in.
    node: NodeId,
    /// The last readiness probe: when, and what came of it.
    last_probe: Mutex<Option<(Instant, Result<(), StoreError>)>>,
    /// What this node tells the others it wrote, and how it hears of theirs.
    signals: Arc<signals::Signals>,
    /// Where `accept` hands its requests: intake's group commit.
    intake: intake::Intake,
    /// This node's claims behind its intake while submissions press.
    pacing: Arc<pacing::Pacing>,
    /// The opt-out keywords inbound messages are judged by
    /// ([`tern_core::ports::BlocklistStore::set_opt_out_keywords`]).
    opt_out: std::sync::RwLock<Arc<tern_core::blocklist::OptOutKeywords>>,
}

/// A store error from an sqlx one: a broken uniqueness rule is a conflict; a serialization
/// failure, a deadlock or a pool that had no connection to give are worth trying again.
pub(crate) fn backend_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) => match database.code().as_deref() {
            Some("23505") => StoreError::Conflict(database.message().to_owned()),
            Some("40001" | "40P01" | "55P03") => StoreError::Busy(database.message().to_owned()),
            _ => StoreError::Backend(error.to_string()),
        },
        sqlx::Error::PoolTimedOut => StoreError::Busy(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

/// `call` (a method of the store, or part of one), failing with [`StoreError::Backend`] when it
/// has not ended within [`CALL_TIMEOUT`]. A write cut short may still have committed (the
/// server may have received its `COMMIT`): its caller answers that the outcome is unknown, as
/// for any other error of the store.
pub(crate) async fn within<T, E: From<StoreError>>(
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    within_for(CALL_TIMEOUT, call).await
}

/// [`within`] for delivery's calls (claims, outcomes, the outbox, inbound messages), bounded by
/// [`BACKGROUND_CALL_TIMEOUT`]: a call cut short fails like a lost connection, and its caller
/// tries again (what it wrote is idempotent, or leased and released by the lease's end).
pub(crate) async fn within_background<T, E: From<StoreError>>(
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    within_for(BACKGROUND_CALL_TIMEOUT, call).await
}

async fn within_for<T, E: From<StoreError>>(
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(StoreError::Backend(format!(
            "PostgreSQL did not answer within {} s",
            limit.as_secs()
        ))
        .into())
    })
}

/// Milliseconds since the epoch, as times are stored.
pub(crate) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// A stored time.
pub(crate) fn timestamp(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl PgStore {
    /// Open the database at `url` (`postgres://…`), bringing its schema to this Tern's version
    /// first, holding leases in the name of `node`. Must be called inside a Tokio runtime (the
    /// pool's connections belong to it); the schema is brought up on a connection of its own.
    pub fn open(url: &str, node: NodeId) -> Result<PgStore, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|error| {
            StoreError::Backend(format!("not a PostgreSQL URL ({error}): {url}"))
        })?;
        migrate_blocking(&options)?;
        tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Backend("the PostgreSQL store must be opened inside a Tokio runtime".into())
        })?;
        // Set on the pool's connections only: the migration above waits for the other nodes'
        // (on an advisory lock) as long as they take.
        let options = options.options([
            ("lock_timeout", format!("{}s", LOCK_TIMEOUT.as_secs())),
            (
                "idle_in_transaction_session_timeout",
                format!("{}s", IDLE_IN_TRANSACTION_TIMEOUT.as_secs()),
            ),
        ]);
        // Connections are made when needed, so a node starts (and answers 500 and 503) while
        // the server is down, and reconnects by itself when it is back. Each idle connection is
        // checked before use (`test_before_acquire`): one the server dropped (a restart) is
        // replaced instead of failing the call it was handed to.
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_lazy_with(options);
        let signals = Arc::new(signals::Signals::default());
        signals::Signals::spawn_sender(&signals, pool.clone());
        let pacing = Arc::new(pacing::Pacing::default());
        let intake = intake::Intake::spawn(pool.clone(), Arc::clone(&signals), Arc::clone(&pacing));
        Ok(PgStore {
            pool,
            node,
            last_probe: Mutex::new(None),
            signals,
            intake,
            pacing,
            opt_out: Default::default(),
        })
    }

    /// The pool, for the roles.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write of `signal`'s kind of work committed: the other nodes hear of it (soon).
    pub(crate) fn wrote(&self, signal: WorkSignal) {
        self.signals.wrote(signal);
    }

    /// Intake's committer.
    fn intake(&self) -> &intake::Intake {
        &self.intake
    }

    /// A claim's turn behind intake ([`pacing`]).
    pub(crate) async fn claim_turn(&self) -> pacing::Turn<'_> {
        self.pacing.claim_turn().await
    }

    /// The node this handle holds leases for.
    pub(crate) fn node(&self) -> &NodeId {
        &self.node
    }
}

/// Apply pending migrations on a connection of its own, on a thread and runtime of their own,
/// whatever runtime (if any) the caller is in.
fn migrate_blocking(options: &PgConnectOptions) -> Result<(), StoreError> {
    let options = options.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| StoreError::Backend(format!("cannot migrate: {error}")))?;
                runtime.block_on(async {
                    let mut connection =
                        tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
                            .await
                            .map_err(|_| {
                                StoreError::Backend(format!(
                                    "cannot connect to PostgreSQL within {} s",
                                    ACQUIRE_TIMEOUT.as_secs()
                                ))
                            })?
                            .map_err(backend_error)?;
                    schema::migrate(&mut connection).await?;
                    connection.close().await.map_err(backend_error)
                })
            })
            .join()
            .map_err(|_| StoreError::Backend("the migration thread panicked".into()))?
    })
}

#[async_trait]
impl StoreHealth for PgStore {
    async fn ready(&self) -> Result<(), StoreError> {
        if let Some((at, outcome)) = &*self.last_probe.lock().expect("probe")
            && at.elapsed() < READY_PROBE_TTL
        {
            return outcome.clone();
        }
        // A real write, committed: what every submission needs. Bounded more tightly than a
        // call (a probe that takes longer fails the probe, as load balancers' own timeouts do).
        let probe = sqlx::query(
            "INSERT INTO readiness (id, probed_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
        )
        .bind(millis(Timestamp::now()))
        .execute(&self.pool);
        let outcome = match tokio::time::timeout(READY_TIMEOUT, probe).await {
            Ok(done) => done.map(|_| ()).map_err(backend_error),
            Err(_) => Err(StoreError::Backend(format!(
                "PostgreSQL did not answer within {} s",
                READY_TIMEOUT.as_secs()
            ))),
        };
        *self.last_probe.lock().expect("probe") = Some((Instant::now(), outcome.clone()));
        outcome
    }
}
