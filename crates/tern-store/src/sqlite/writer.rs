//! The single writer thread and its group commit. Callers send jobs; the thread runs as many as are
//! waiting inside one transaction (up to [`MAX_FOREGROUND_WORK`] of submissions), each in its own
//! savepoint (one job's failure does not undo another's), commits once, and only then answers
//! every job. An answer therefore always means "durable" (or "failed, nothing of it stored"). A
//! job that panics is undone and answered with an error, and the writer goes on; should the
//! thread itself stop, [`Writer::failure`] says why and every later write fails at once.
//!
//! Intake's jobs run without a savepoint ([`Writer::send_unguarded`]): they decide everything
//! that can refuse a request before writing, so what fails after that is the store itself (a full
//! disk, an I/O error), and such a failure rolls the whole transaction back: every job in it is
//! answered with the error, nothing of it stored.
//!
//! **Intake first.** A write of delivery ([`Writer::write_background`]: claims of due messages,
//! events applied, outbox claims and outcomes) is a *background* write; any other
//! ([`Writer::write`]: a submission, an account, the readiness probe) is a *foreground* write. Foreground writes run
//! in the next transaction, as before. Intake *presses* when a transaction finds many foreground
//! writes waiting ([`PRESSING_JOBS`], or [`PRESSING_TIME`] of work), and more foreground work than
//! the background jobs of the transaction before took (those make foreground writes wait too, and
//! are no sign of pressing intake); it goes on pressing for [`INTAKE_QUIET`] after the last such
//! transaction. Meanwhile background writes get
//! [`BACKGROUND_SHARE`] of the writer's time (on the wall clock, fsyncs included): a burst of
//! submissions is stored and answered first and delivery slows down, but it never stops. Under a
//! lighter intake, and once a burst is over, background writes run whenever they are waiting, as
//! before, so that delivery keeps up with a steady intake the machine can carry.
//!
//! **Durable before answered, without the writer waiting.** The writer's connection commits
//! without syncing (`synchronous=NORMAL`, WAL); each committed batch's answers go to a sync
//! thread, which makes everything written so far durable ([`Durability::sync`]: `fdatasync` of
//! the write-ahead log, whose frames hold every commit) and only then answers them, while the
//! writer runs the next transaction. Batches that commit while a sync runs share the next one.
//! Answers still come only once their commit is on disk; a commit is visible to the store's
//! readers before that, but nothing leaves the gateway on the strength of a write until that
//! write's own answer (a claim, an event, an outbox entry) came. A sync that fails stops the
//! store: that batch and every later one is answered with an error and [`Writer::failure`] says
//! why (whether the OS kept the pages is unknown after a failed sync).
//!
//! Writes of one class run in the order they were made. A write made after another one was
//! answered always runs after it (answers come only after the commit), so reordering writes that
//! wait at the same time changes nothing any caller can observe.

use std::collections::VecDeque;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tern_core::ports::StoreError;
use tokio::sync::oneshot;

use super::backend_error;

/// Called with the commit's result once the job's transaction has ended.
pub type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A unit of work: runs inside the batch transaction and returns its completion. A job that
/// leaves the transaction unusable (an unguarded write that failed after writing, see
/// [`Writer::write_unguarded`]) says why in `spoiled`: the transaction is then rolled back and
/// every job in it fails.
type Job = Box<dyn FnOnce(&Connection, &mut Option<StoreError>) -> Completion + Send>;

/// Most jobs in one transaction.
const MAX_BATCH: usize = 1024;

/// A transaction takes no more foreground jobs once those it ran took this long; the others wait
/// for the next one, begun as soon as it commits. One long transaction answers all its requests
/// at once, after the writer has written them all: their clients' next requests then arrive
/// together, and while they are read and parsed the writer has nothing to do. Shorter
/// transactions keep the writer busy while earlier answers go out (100-message intake +25 %,
/// docs/benchmarks.md). A transaction cut short counts as pressing intake ([`PRESSING_TIME`] is
/// no longer than this).
const MAX_FOREGROUND_WORK: Duration = Duration::from_millis(1);

/// The share of the writer's time that background writes get while intake presses. Delivery
/// during a burst also costs the CPU of the delivery threads and of the webhooks it sends; at
/// 5 % instead of 10 % single-message intake took 17 % more requests (docs/benchmarks.md), and
/// delivery catches up once the burst ends.
const BACKGROUND_SHARE: f64 = 0.05;

/// Intake presses when a transaction finds at least this many foreground writes waiting...
const PRESSING_JOBS: usize = 32;

/// ...or its foreground writes take at least this long.
const PRESSING_TIME: Duration = MAX_FOREGROUND_WORK;

/// Intake presses until this long after the last transaction that found it pressing; background
/// writes then run without limit again.
const INTAKE_QUIET: Duration = Duration::from_millis(20);

/// Most background time saved up, in nanoseconds: how long delivery may run at once, after a
/// pause, before intake is served again.
const MAX_CREDIT_NANOS: f64 = 2_000_000.0;

/// Who a write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Someone waits for the answer (a submission): served first.
    Foreground,
    /// Delivery: served in what foreground writes leave, and at least its share.
    Background,
}

/// Makes the writer's commits durable.
pub trait Durability: Send + 'static {
    /// Return once everything committed before the call is on disk.
    fn sync(&mut self) -> std::io::Result<()>;
}

/// Commits that are durable when they return (an in-memory database, or a connection at
/// `synchronous=FULL`): nothing more to do.
#[cfg(test)]
pub struct DurableCommits;

#[cfg(test)]
impl Durability for DurableCommits {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `fdatasync` of the write-ahead log (the database's `-wal` file), where WAL mode appends
/// every commit's pages: after it, every commit made before is on disk. (The log is checkpointed
/// into the database by SQLite, which syncs both around each checkpoint.) The standard library's
/// `sync_data` is the platform's full sync (`F_FULLFSYNC` on macOS).
pub struct WalSync {
    path: PathBuf,
    file: Option<File>,
}

impl WalSync {
    /// The log of the database at `database`.
    pub fn of(database: &std::path::Path) -> WalSync {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        WalSync {
            path: PathBuf::from(path),
            file: None,
        }
    }
}

impl Durability for WalSync {
    fn sync(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            // The log exists once the writer committed (WAL mode keeps it while the store's
            // connections are open).
            self.file = Some(File::options().read(true).write(true).open(&self.path)?);
        }
        self.file.as_ref().expect("opened above").sync_data()
    }
}

/// What the writer thread is sent.
enum Command {
    Job(Job, Class),
    /// Stop the thread as an unexpected fault would (tests of what follows such a fault).
    #[cfg_attr(not(test), allow(dead_code))]
    Crash,
}

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Command>,
    /// Why the thread stopped, once it has stopped other than by being dropped.
    failure: Arc<Mutex<Option<String>>>,
    /// The last transaction that could not begin or commit: when, and why.
    last_failed_commit: LastFailure,
    /// When intake last pressed (see [`Pacing`]).
    pressure: Arc<Pressure>,
}

/// When and why a transaction last failed to begin or commit.
type LastFailure = Arc<Mutex<Option<(Instant, String)>>>;

fn record_failure(last: &LastFailure, error: &dyn std::fmt::Display) {
    if let Ok(mut last) = last.lock() {
        *last = Some((Instant::now(), error.to_string()));
    }
}

/// Records why the writer thread ended, if it ended by unwinding.
struct FailureGuard(Arc<Mutex<Option<String>>>);

impl Drop for FailureGuard {
    fn drop(&mut self) {
        if thread::panicking() {
            let why = "the store's writer thread panicked; no write can be stored".to_owned();
            tracing::error!("{why}");
            if let Ok(mut failure) = self.0.lock() {
                *failure = Some(why);
            }
        }
    }
}

impl Writer {
    /// Start the writer on `connection`, whose commits are durable when they return.
    #[cfg(test)]
    pub fn start(connection: Connection) -> Writer {
        Writer::start_with(connection, Box::new(DurableCommits))
    }

    /// Start the writer on `connection`, whose commits `durability` makes durable.
    pub fn start_with(connection: Connection, durability: Box<dyn Durability>) -> Writer {
        let (jobs, receiver) = mpsc::channel::<Command>();
        let failure = Arc::new(Mutex::new(None));
        let guard = FailureGuard(Arc::clone(&failure));
        let last_failed_commit: LastFailure = Arc::new(Mutex::new(None));
        let last = Arc::clone(&last_failed_commit);
        let (committed, to_sync) = mpsc::channel::<Vec<Completion>>();
        let pressure = Arc::new(Pressure::new());
        let shared = Arc::clone(&pressure);
        {
            let (failure, last) = (Arc::clone(&failure), Arc::clone(&last_failed_commit));
            thread::Builder::new()
                .name("tern-sqlite-sync".into())
                .spawn(move || run_sync(to_sync, durability, failure, last))
                .expect("spawn sync thread");
        }
        thread::Builder::new()
            .name("tern-sqlite-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(connection, receiver, last, committed, shared)
            })
            .expect("spawn writer thread");
        Writer {
            jobs,
            failure,
            last_failed_commit,
            pressure,
        }
    }

    /// Why a transaction failed to begin or commit within the last `within`, if one did.
    pub fn failed_commit_within(&self, within: Duration) -> Option<String> {
        let last = self.last_failed_commit.lock().ok()?;
        let (at, why) = last.as_ref()?;
        (at.elapsed() < within).then(|| why.clone())
    }

    /// When intake last pressed the writer: [`Pressure::now`] says whether it presses now
    /// (writes of delivery are then paced, see [`BACKGROUND_SHARE`]).
    pub fn pressure(&self) -> Arc<Pressure> {
        Arc::clone(&self.pressure)
    }

    /// Why the writer thread stopped, if it did: nothing can be written any more.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|failure| failure.clone())
    }

    /// Stop the thread as a fault inside it would.
    #[cfg(test)]
    pub fn crash(&self) {
        let _ = self.jobs.send(Command::Crash);
    }

    /// Run `work` in the next group commit, as a foreground write (someone waits for it: a
    /// submission); the result is returned after the commit is durable.
    pub async fn write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.send(work, Class::Foreground).await
    }

    /// [`Writer::write`] for delivery's own work: served after the foreground writes waiting
    /// while intake presses, and at least its share of the writer's time.
    pub async fn write_background<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.send(work, Class::Background).await
    }

    /// A foreground write without a savepoint of its own, for intake, where a savepoint per
    /// request cost a tenth of the writer's time (the undo copies of every page it touched;
    /// docs/benchmarks.md). `check` only reads and decides: its error is the job's answer and
    /// leaves the transaction as it was (a `check` that wrote anything is treated as a failed
    /// `write`). `write` writes what `check` decided; should it fail, or either panic, nothing of
    /// the transaction can be kept: it is rolled back and every job in it is answered with the
    /// error. `write` therefore fails only when the store does (a full disk, an I/O error), when
    /// the other jobs would fail too.
    #[cfg(test)]
    pub async fn write_unguarded<C, T, E>(
        &self,
        check: impl FnOnce(&Connection) -> Result<C, E> + Send + 'static,
        write: impl FnOnce(&Connection, C) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        self.send_unguarded(move |connection: &Connection| {
            let before = connection.total_changes();
            let checked = check(connection);
            let result = if connection.total_changes() != before {
                Err(StoreError::Backend(
                    "an unguarded write's check wrote to the store".into(),
                ))
            } else {
                match checked {
                    Ok(checked) => write(connection, checked).map(Ok),
                    // Refused by the check: nothing was written.
                    Err(refused) => Ok(Err(refused)),
                }
            };
            let (result, spoiled) = match result {
                Ok(result) => (result, None),
                Err(failed) => (Err(E::from(failed.clone())), Some(failed)),
            };
            let completion: Completion = Box::new(move |committed: Result<(), StoreError>| {
                let _ = answer.send(match committed {
                    Ok(()) => result,
                    Err(error) => Err(error.into()),
                });
            });
            (completion, spoiled)
        })
        .map_err(E::from)?;
        answered.await.map_err(|_| E::from(self.lost()))?
    }

    /// Send a foreground job that runs without a savepoint of its own (see
    /// [`Writer::write_unguarded`]) and answers through the completion it returns: `run` returns
    /// it with, when it failed after writing, why. Such a failure, or a panic in `run` (which
    /// drops what `run` held: its answers are never sent), rolls the whole transaction back, and
    /// every job in it is answered with the error.
    pub fn send_unguarded(
        &self,
        run: impl FnOnce(&Connection) -> (Completion, Option<StoreError>) + Send + 'static,
    ) -> Result<(), StoreError> {
        let job: Job = Box::new(move |connection: &Connection, spoiled| {
            match catch_unwind(AssertUnwindSafe(|| run(connection))) {
                Ok((completion, failed)) => {
                    if failed.is_some() {
                        *spoiled = failed;
                    }
                    completion
                }
                Err(panic) => {
                    let why = StoreError::Backend(format!(
                        "a store write panicked ({}); its transaction was rolled back",
                        panic_cause(panic.as_ref())
                    ));
                    tracing::error!("{why}");
                    *spoiled = Some(why);
                    Box::new(|_| {})
                }
            }
        });
        self.jobs
            .send(Command::Job(job, Class::Foreground))
            .map_err(|_| self.closed())
    }

    async fn send<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        class: Class,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(
            move |connection: &Connection, _: &mut Option<StoreError>| {
                in_savepoint(connection, work)
            },
            class,
        )
        .await
    }

    /// Send `run` to the writer and wait for its answer, given once its transaction ended.
    async fn submit<T, E>(
        &self,
        run: impl FnOnce(&Connection, &mut Option<StoreError>) -> Result<T, E> + Send + 'static,
        class: Class,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |connection: &Connection, spoiled| {
            let result = run(connection, spoiled);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = answer.send(match committed {
                    Ok(()) => result,
                    Err(error) => Err(error.into()),
                });
            })
        });
        self.jobs
            .send(Command::Job(job, class))
            .map_err(|_| E::from(self.closed()))?;
        answered.await.map_err(|_| E::from(self.lost()))?
    }

    /// Why an answer was dropped unsent: the job panicked (and was undone) or the thread
    /// stopped.
    pub fn lost(&self) -> StoreError {
        match self.failure() {
            Some(why) => StoreError::Backend(why),
            None => StoreError::Backend("the write failed inside the store (see the log)".into()),
        }
    }

    fn closed(&self) -> StoreError {
        match self.failure() {
            Some(why) => StoreError::Backend(why),
            None => StoreError::Closed,
        }
    }
}

fn in_savepoint<T, E: From<StoreError>>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    run_cached(connection, "SAVEPOINT job").map_err(|e| E::from(backend_error(e)))?;
    let result = work(connection);
    if result.is_ok() {
        run_cached(connection, "RELEASE job")
    } else {
        connection.execute_batch("ROLLBACK TO job; RELEASE job")
    }
    .map_err(|e| E::from(backend_error(e)))?;
    result
}

/// Run a statement that is run for every job or batch from the statement cache, instead of
/// parsing it anew each time.
fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// What a panic carried, for the log.
fn panic_cause(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown")
}

/// Run one job; a job that panics is undone (its savepoint rolled back) and answered by the
/// dropping of its answer, and the batch goes on. A job that spoils the transaction says so in
/// `spoiled`.
fn run_job(
    connection: &Connection,
    job: Job,
    completions: &mut Vec<Completion>,
    spoiled: &mut Option<StoreError>,
) {
    match catch_unwind(AssertUnwindSafe(|| job(connection, spoiled))) {
        Ok(completion) => completions.push(completion),
        Err(panic) => {
            let cause = panic_cause(panic.as_ref());
            tracing::error!(%cause, "a store write job panicked; it was undone");
            // The job may have panicked inside its savepoint.
            let _ = connection.execute_batch("ROLLBACK TO job; RELEASE job");
        }
    }
}

/// When background writes may run: the allowance of writer time they get while intake presses,
/// in nanoseconds (it grows with the wall clock at [`BACKGROUND_SHARE`], up to
/// [`MAX_CREDIT_NANOS`], and each background write run meanwhile spends its duration), and when
/// intake last pressed.
struct Pacing {
    nanos: f64,
    updated: Instant,
    pressed: Option<Instant>,
    /// When intake last pressed, for the store's other threads ([`Writer::intake_presses`]).
    shared: Arc<Pressure>,
}

/// When intake last pressed the writer, readable from any thread: nanoseconds after `base`, 0
/// for never.
#[derive(Debug)]
pub struct Pressure {
    base: Instant,
    pressed_at: std::sync::atomic::AtomicU64,
}

impl Pressure {
    fn new() -> Pressure {
        Pressure {
            base: Instant::now(),
            pressed_at: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn mark(&self, at: Instant) {
        let nanos = at.duration_since(self.base).as_nanos().max(1);
        self.pressed_at.store(
            u64::try_from(nanos).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Whether intake pressed within the last [`INTAKE_QUIET`].
    pub fn now(&self) -> bool {
        match self.pressed_at.load(std::sync::atomic::Ordering::Relaxed) {
            0 => false,
            nanos => {
                self.base
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(nanos))
                    < INTAKE_QUIET
            }
        }
    }
}

impl Pacing {
    fn new(shared: Arc<Pressure>) -> Self {
        Pacing {
            nanos: 0.0,
            updated: Instant::now(),
            pressed: None,
            shared,
        }
    }

    /// A transaction found `jobs` foreground jobs waiting, which took `took` to run, after one
    /// whose background jobs took `background`.
    fn foreground_ran(&mut self, jobs: usize, took: Duration, background: Duration) {
        // Foreground jobs that waited behind background ones are no sign of pressing intake
        // unless they are more work than what made them wait.
        if (jobs >= PRESSING_JOBS || took >= PRESSING_TIME) && took >= background {
            let now = Instant::now();
            self.pressed = Some(now);
            self.shared.mark(now);
        }
    }

    /// How long until a background write may run: zero when it may now.
    fn background_wait(&mut self) -> Duration {
        let now = Instant::now();
        let quiet_in = match self.pressed {
            Some(at) => INTAKE_QUIET.saturating_sub(now.duration_since(at)),
            None => return Duration::ZERO,
        };
        if quiet_in.is_zero() {
            return Duration::ZERO;
        }
        let earned = now.duration_since(self.updated).as_nanos() as f64 * BACKGROUND_SHARE;
        self.nanos = (self.nanos + earned).min(MAX_CREDIT_NANOS);
        self.updated = now;
        if self.nanos > 0.0 {
            return Duration::ZERO;
        }
        let earned_in = Duration::from_nanos((-self.nanos / BACKGROUND_SHARE) as u64 + 1);
        quiet_in.min(earned_in)
    }

    /// A background write ran for `spent`: charged to the allowance while intake presses.
    fn background_ran(&mut self, spent: Duration) {
        if self.pressed.is_some_and(|at| at.elapsed() < INTAKE_QUIET) {
            self.nanos -= spent.as_nanos() as f64;
        }
    }
}

fn begin(connection: &Connection, last_failure: &LastFailure) {
    // Another process (e.g. `tern account create`) may hold the write lock for a moment;
    // busy_timeout already waited, so keep trying rather than fail work that is queued.
    while let Err(error) = run_cached(connection, "BEGIN IMMEDIATE") {
        tracing::warn!(%error, "sqlite writer cannot begin a transaction; retrying");
        record_failure(last_failure, &error);
        thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Run one background job and charge it.
fn run_background(
    connection: &Connection,
    job: Job,
    completions: &mut Vec<Completion>,
    pacing: &mut Pacing,
    spoiled: &mut Option<StoreError>,
) -> Duration {
    let started = Instant::now();
    run_job(connection, job, completions, spoiled);
    let took = started.elapsed();
    pacing.background_ran(took);
    took
}

/// Answer committed batches once [`Durability::sync`] made them durable, in commit order; every
/// batch that waits when a sync starts is answered by it.
fn run_sync(
    batches: mpsc::Receiver<Vec<Completion>>,
    mut durability: Box<dyn Durability>,
    failure: Arc<Mutex<Option<String>>>,
    last_failure: LastFailure,
) {
    let mut failed: Option<String> = None;
    while let Ok(first) = batches.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = batches.try_recv() {
            waiting.push(more);
        }
        if failed.is_none()
            && let Err(error) = durability.sync()
        {
            let why = format!(
                "the store cannot make its writes durable (sync of the write-ahead log failed: {error}); no write is answered as stored any more"
            );
            tracing::error!("{why}");
            record_failure(&last_failure, &why);
            if let Ok(mut failure) = failure.lock() {
                *failure = Some(why.clone());
            }
            failed = Some(why);
        }
        let outcome = match &failed {
            None => Ok(()),
            Some(why) => Err(StoreError::Backend(why.clone())),
        };
        for completion in waiting.into_iter().flatten() {
            completion(outcome.clone());
        }
    }
}

fn run(
    connection: Connection,
    receiver: mpsc::Receiver<Command>,
    last_failure: LastFailure,
    to_sync: mpsc::Sender<Vec<Completion>>,
    pressure: Arc<Pressure>,
) {
    let mut completions: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    // Background jobs received and not run yet, oldest first.
    let mut deferred: VecDeque<Job> = VecDeque::new();
    let mut pacing = Pacing::new(pressure);
    // Every handle is gone: what is deferred runs at once, then the thread ends.
    let mut disconnected = false;
    // How long the background jobs of the last transaction took.
    let mut previous_background = Duration::ZERO;
    loop {
        // Wait for a job that may run: any foreground one, or a deferred background one once it
        // may.
        let first = if deferred.is_empty() {
            match receiver.recv() {
                Ok(command) => Some(command),
                Err(_) => break,
            }
        } else if disconnected {
            None
        } else {
            match pacing.background_wait() {
                wait if wait.is_zero() => None,
                wait => match receiver.recv_timeout(wait) {
                    Ok(command) => Some(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        disconnected = true;
                        None
                    }
                },
            }
        };
        let started = Instant::now();
        begin(&connection, &last_failure);
        // Foreground jobs run in this transaction before its first background job, and how long
        // they took.
        let mut foreground = (0usize, Duration::ZERO);
        let mut background = Duration::ZERO;
        // Why this transaction cannot be committed, once a job spoiled it: no job runs in it
        // after that.
        let mut spoiled: Option<StoreError> = None;
        let take = |command: Command,
                    completions: &mut Vec<Completion>,
                    deferred: &mut VecDeque<Job>,
                    foreground: &mut (usize, Duration),
                    spoiled: &mut Option<StoreError>| match command {
            Command::Job(job, Class::Foreground) => {
                let started = Instant::now();
                run_job(&connection, job, completions, spoiled);
                foreground.0 += 1;
                foreground.1 += started.elapsed();
            }
            Command::Job(job, Class::Background) => deferred.push_back(job),
            Command::Crash => panic!("writer crash requested by a test"),
        };
        if let Some(first) = first {
            take(
                first,
                &mut completions,
                &mut deferred,
                &mut foreground,
                &mut spoiled,
            );
        }
        while spoiled.is_none() {
            // Every foreground job waiting now, and any background job received meanwhile.
            while completions.len() < MAX_BATCH
                && spoiled.is_none()
                && foreground.1 < MAX_FOREGROUND_WORK
            {
                match receiver.try_recv() {
                    Ok(command) => take(
                        command,
                        &mut completions,
                        &mut deferred,
                        &mut foreground,
                        &mut spoiled,
                    ),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            if background.is_zero() {
                // What waited for this transaction (not what came while it ran background jobs).
                pacing.foreground_ran(foreground.0, foreground.1, previous_background);
            }
            if completions.len() >= MAX_BATCH || deferred.is_empty() || spoiled.is_some() {
                break;
            }
            // One background job if it may run, then look for foreground ones again.
            if !disconnected && !pacing.background_wait().is_zero() {
                break;
            }
            let job = deferred.pop_front().expect("not empty");
            background += run_background(
                &connection,
                job,
                &mut completions,
                &mut pacing,
                &mut spoiled,
            );
        }
        previous_background = background;
        let ended = match spoiled {
            // SQLite may have rolled back already (a conflict of an `INSERT OR ROLLBACK`).
            Some(why) => Err(why),
            None => run_cached(&connection, "COMMIT").map_err(backend_error),
        };
        match ended {
            // Answered once durable, by the sync thread (which outlives every batch sent).
            Ok(()) => {
                tern_core::metrics::store_commit(started.elapsed(), completions.len());
                let batch = std::mem::replace(&mut completions, Vec::with_capacity(MAX_BATCH));
                if let Err(mpsc::SendError(batch)) = to_sync.send(batch) {
                    let stopped = StoreError::Backend("the store's sync thread stopped".into());
                    for completion in batch {
                        completion(Err(stopped.clone()));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "sqlite writer did not commit; the batch's writes failed");
                record_failure(&last_failure, &error);
                let _ = connection.execute_batch("ROLLBACK");
                for completion in completions.drain(..) {
                    completion(Err(error.clone()));
                }
            }
        }
        if disconnected && deferred.is_empty() {
            break;
        }
    }
    tracing::debug!("sqlite writer stopped");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    fn writer() -> Arc<Writer> {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE log (seq INTEGER PRIMARY KEY, who TEXT NOT NULL)")
            .unwrap();
        Arc::new(Writer::start(connection))
    }

    #[test]
    fn pressing_intake_is_seen_from_other_threads_until_it_has_been_quiet_a_while() {
        let shared = Arc::new(Pressure::new());
        let mut pacing = Pacing::new(Arc::clone(&shared));
        assert!(!shared.now(), "never pressed");
        // A few jobs that ran quickly: no pressure.
        pacing.foreground_ran(2, Duration::from_micros(50), Duration::ZERO);
        assert!(!shared.now());
        pacing.foreground_ran(PRESSING_JOBS, Duration::from_micros(50), Duration::ZERO);
        assert!(shared.now());
        std::thread::sleep(INTAKE_QUIET + Duration::from_millis(5));
        assert!(!shared.now(), "quiet again");
        pacing.foreground_ran(1, PRESSING_TIME, Duration::ZERO);
        assert!(shared.now());
    }

    /// Write `who` into the log: a background write when `who` is "background".
    async fn log(writer: &Writer, who: &'static str) {
        let work = move |connection: &Connection| {
            connection
                .execute("INSERT INTO log (who) VALUES (?1)", [who])
                .map_err(backend_error)
        };
        if who == "background" {
            writer.write_background(work).await.unwrap();
        } else {
            writer.write(work).await.unwrap();
        }
    }

    /// Hold the writer with a job of `class` until the returned sender sends (or is dropped), so
    /// that what is sent meanwhile is all waiting when it is free again; and that job's answer.
    fn hold(
        writer: &Arc<Writer>,
        class: Class,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (held, release) = std::sync::mpsc::channel::<()>();
        let writer = Arc::clone(writer);
        let holding = tokio::spawn(async move {
            let work = move |_: &Connection| {
                let _ = release.recv();
                Ok::<_, StoreError>(())
            };
            match class {
                Class::Foreground => writer.write(work).await,
                Class::Background => writer.write_background(work).await,
            }
        });
        (held, holding)
    }

    /// The `who` of every row of the log, in order.
    async fn logged(writer: &Writer) -> Vec<String> {
        writer
            .write(|connection| {
                let mut statement = connection
                    .prepare("SELECT who FROM log ORDER BY seq")
                    .map_err(backend_error)?;
                let rows = statement
                    .query_map([], |row| row.get(0))
                    .map_err(backend_error)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(backend_error)
            })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_foreground_writes_run_before_a_background_write_sent_earlier() {
        let writer = writer();
        // Hold the writer, so that what follows is all waiting when it is free again.
        let (held, holding) = hold(&writer, Class::Foreground);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let background = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move { log(&writer, "background").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let foreground: Vec<_> = (0..4)
            .map(|_| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move { log(&writer, "foreground").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.send(()).unwrap();
        holding.await.unwrap().unwrap();
        for task in foreground {
            task.await.unwrap();
        }
        background.await.unwrap();
        let order = logged(&writer).await;
        assert_eq!(
            order,
            [
                "foreground",
                "foreground",
                "foreground",
                "foreground",
                "background"
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_writes_go_on_while_intake_presses() {
        let writer = writer();
        let stop = Arc::new(AtomicBool::new(false));
        // Intake that presses: many foreground writes waiting at every transaction.
        let intake: Vec<_> = (0..4 * PRESSING_JOBS)
            .map(|_| {
                let (writer, stop) = (Arc::clone(&writer), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut written = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        log(&writer, "foreground").await;
                        written += 1;
                    }
                    written
                })
            })
            .collect();
        let delivered = Arc::new(AtomicUsize::new(0));
        let delivery = {
            let (writer, stop, delivered) = (
                Arc::clone(&writer),
                Arc::clone(&stop),
                Arc::clone(&delivered),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    log(&writer, "background").await;
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = delivered.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let mut taken = 0;
        for task in intake {
            taken += task.await.unwrap();
        }
        delivery.await.unwrap();
        assert!(taken > 0, "intake wrote nothing");
        assert!(during > 0, "delivery stopped while intake pressed");
    }

    /// A sync that waits until the test lets it finish, and fails when told to.
    struct HeldSync {
        go: std::sync::mpsc::Receiver<std::io::Result<()>>,
        syncs: Arc<AtomicUsize>,
    }

    impl Durability for HeldSync {
        fn sync(&mut self) -> std::io::Result<()> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            self.go.recv().unwrap_or(Ok(()))
        }
    }

    fn held_writer() -> (
        Arc<Writer>,
        std::sync::mpsc::Sender<std::io::Result<()>>,
        Arc<AtomicUsize>,
    ) {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE log (seq INTEGER PRIMARY KEY, who TEXT NOT NULL)")
            .unwrap();
        let (go, held) = std::sync::mpsc::channel();
        let syncs = Arc::new(AtomicUsize::new(0));
        let durability = HeldSync {
            go: held,
            syncs: Arc::clone(&syncs),
        };
        (
            Arc::new(Writer::start_with(connection, Box::new(durability))),
            go,
            syncs,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_answered_only_after_the_sync_that_covers_it() {
        let (writer, go, syncs) = held_writer();
        let first = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move { log(&writer, "first").await })
        };
        // Committed, and its sync started: not answered while the sync runs.
        while syncs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The writer goes on meanwhile: a second write commits while the first one's sync runs.
        let second = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move { log(&writer, "second").await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!first.is_finished(), "answered before its sync finished");
        assert!(!second.is_finished());
        go.send(Ok(())).unwrap();
        first.await.unwrap();
        // The second write's commit came after the first sync began: it waits for one more.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !second.is_finished(),
            "answered by a sync that began before its commit"
        );
        go.send(Ok(())).unwrap();
        second.await.unwrap();
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sync_fails_its_writes_and_every_later_one() {
        let (writer, go, _syncs) = held_writer();
        go.send(Err(std::io::Error::other("disk gone"))).unwrap();
        let work = |connection: &Connection| {
            connection
                .execute("INSERT INTO log (who) VALUES ('x')", [])
                .map_err(backend_error)
        };
        let failed = writer.write(work).await;
        assert!(
            matches!(&failed, Err(StoreError::Backend(why)) if why.contains("disk gone")),
            "{failed:?}"
        );
        assert!(
            writer
                .failure()
                .is_some_and(|why| why.contains("disk gone"))
        );
        // No later write is answered as stored, whatever the next sync would say.
        go.send(Ok(())).unwrap();
        assert!(writer.write(work).await.is_err());
    }
    /// How unguarded writes end, each sent while the writer runs a guarded background write that
    /// holds it (background, so that its time is not foreground work that would end the
    /// transaction), so that all of them run in its transaction after it and another guarded
    /// write.
    #[derive(Debug, Clone, Copy)]
    enum Unguarded {
        Written,
        Refused,
        FailsWriting,
        PanicsWriting,
        WritesInCheck,
    }

    async fn unguarded(writer: &Writer, how: Unguarded) -> Result<i64, StoreError> {
        writer
            .write_unguarded(
                move |connection: &Connection| match how {
                    Unguarded::Refused => Err(StoreError::Conflict("refused".into())),
                    Unguarded::WritesInCheck => {
                        connection
                            .execute("INSERT INTO log (who) VALUES ('check')", [])
                            .map_err(backend_error)?;
                        Ok(())
                    }
                    _ => Ok(()),
                },
                move |connection: &Connection, ()| {
                    connection
                        .execute("INSERT INTO log (who) VALUES ('unguarded')", [])
                        .map_err(backend_error)?;
                    match how {
                        Unguarded::FailsWriting => connection
                            .execute("INSERT INTO log (seq, who) VALUES (1, 'twice')", [])
                            .map(|_| ())
                            .map_err(backend_error)?,
                        Unguarded::PanicsWriting => panic!("a write that panics"),
                        _ => {}
                    }
                    Ok(connection.last_insert_rowid())
                },
            )
            .await
    }

    /// Runs `hows` as unguarded writes in one transaction after two guarded writes (one that
    /// holds the writer, one that logs "guarded"); returns the guarded writes' answers, each
    /// unguarded one's, and what the log holds afterwards.
    async fn in_one_transaction(
        hows: &[Unguarded],
    ) -> (
        [Result<(), StoreError>; 2],
        Vec<Result<i64, StoreError>>,
        Vec<String>,
    ) {
        let writer = writer();
        // Row 1 exists, so that `FailsWriting` conflicts.
        log(&writer, "first").await;
        let (held, holding) = hold(&writer, Class::Background);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let guarded = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                writer
                    .write(|connection: &Connection| {
                        connection
                            .execute("INSERT INTO log (who) VALUES ('guarded')", [])
                            .map(|_| ())
                            .map_err(backend_error)
                    })
                    .await
            })
        };
        let mut tasks = Vec::new();
        for &how in hows {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let writer = Arc::clone(&writer);
            tasks.push(tokio::spawn(async move { unguarded(&writer, how).await }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.send(()).unwrap();
        let guarded = [holding.await.unwrap(), guarded.await.unwrap()];
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let stored = logged(&writer).await;
        (guarded, answers, stored)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unguarded_write_refused_by_its_check_changes_nothing_and_others_commit() {
        let (guarded, answers, stored) =
            in_one_transaction(&[Unguarded::Written, Unguarded::Refused, Unguarded::Written]).await;
        for answer in guarded {
            answer.unwrap();
        }
        assert_eq!(answers[0].as_ref().unwrap(), &3);
        assert!(
            matches!(&answers[1], Err(StoreError::Conflict(why)) if why == "refused"),
            "{:?}",
            answers[1]
        );
        assert_eq!(answers[2].as_ref().unwrap(), &4);
        assert_eq!(stored, ["first", "guarded", "unguarded", "unguarded"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unguarded_write_that_fails_rolls_its_whole_transaction_back() {
        for spoiler in [
            Unguarded::FailsWriting,
            Unguarded::PanicsWriting,
            Unguarded::WritesInCheck,
        ] {
            let (guarded, answers, stored) =
                in_one_transaction(&[Unguarded::Written, spoiler, Unguarded::Written]).await;
            // Every job of the transaction fails, with the same error, and nothing of it is
            // stored; the writer goes on (the log was read by a later write).
            let expected = match spoiler {
                Unguarded::FailsWriting => "UNIQUE constraint failed",
                Unguarded::PanicsWriting => "a write that panics",
                _ => "check wrote",
            };
            let mut answers = answers.into_iter();
            let (written, spoiler_answer) = (answers.next().unwrap(), answers.next().unwrap());
            // A panicking job's own answer is dropped with it: "failed inside the store".
            assert!(spoiler_answer.is_err(), "{spoiler:?}");
            let guarded = guarded.into_iter().map(|answer| answer.map(|()| 0));
            for answer in guarded.chain([written]) {
                assert!(
                    matches!(&answer, Err(error) if format!("{error:?}").contains(expected)),
                    "{spoiler:?}: {answer:?}"
                );
            }
            assert_eq!(stored[0], "first", "{spoiler:?}");
            assert!(
                !stored.iter().any(|who| who == "guarded" || who == "check"),
                "{spoiler:?}: {stored:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_takes_foreground_jobs_for_at_most_its_share_of_work() {
        let connection = Connection::open_in_memory().unwrap();
        let commits = Arc::new(AtomicUsize::new(0));
        {
            let commits = Arc::clone(&commits);
            connection.commit_hook(Some(move || {
                commits.fetch_add(1, Ordering::SeqCst);
                false
            }));
        }
        let writer = Arc::new(Writer::start(connection));
        let (held, holding) = hold(&writer, Class::Foreground);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Jobs of 0.4 of the share each, all waiting when the writer is free again.
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    writer
                        .write(|_| {
                            thread::sleep(MAX_FOREGROUND_WORK * 2 / 5);
                            Ok::<_, StoreError>(())
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.send(()).unwrap();
        holding.await.unwrap().unwrap();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        // The holding job filled its transaction; the six others took three (two or three
        // each) or more, never one.
        let commits = commits.load(Ordering::SeqCst);
        assert!((3..=7).contains(&commits), "{commits} commits");
    }
}
