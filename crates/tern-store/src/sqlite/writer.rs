//! The single writer thread and its group commit. Callers send jobs; the thread runs as many as are
//! waiting inside one transaction, each in its own savepoint (one job's failure does not undo
//! another's), commits once, and only then answers every job. An answer therefore always means
//! "durable" (or "failed, nothing of it stored"). A job that panics is undone and answered with an
//! error, and the writer goes on; should the thread itself stop, [`Writer::failure`] says why and
//! every later write fails at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tern_core::ports::StoreError;
use tokio::sync::oneshot;

use super::backend_error;

/// Called with the commit's result once the job's transaction has ended.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A unit of work: runs inside the batch transaction and returns its completion.
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// Most jobs in one transaction.
const MAX_BATCH: usize = 1024;

/// What the writer thread is sent.
enum Command {
    Job(Job),
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
    /// Start the writer on `connection`.
    pub fn start(connection: Connection) -> Writer {
        let (jobs, receiver) = mpsc::channel::<Command>();
        let failure = Arc::new(Mutex::new(None));
        let guard = FailureGuard(Arc::clone(&failure));
        let last_failed_commit: LastFailure = Arc::new(Mutex::new(None));
        let last = Arc::clone(&last_failed_commit);
        thread::Builder::new()
            .name("tern-sqlite-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(connection, receiver, last)
            })
            .expect("spawn writer thread");
        Writer {
            jobs,
            failure,
            last_failed_commit,
        }
    }

    /// Why a transaction failed to begin or commit within the last `within`, if one did.
    pub fn failed_commit_within(&self, within: Duration) -> Option<String> {
        let last = self.last_failed_commit.lock().ok()?;
        let (at, why) = last.as_ref()?;
        (at.elapsed() < within).then(|| why.clone())
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

    /// Run `work` in the next group commit; the result is returned after the commit is durable.
    pub async fn write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |connection: &Connection| {
            let result = in_savepoint(connection, work);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = answer.send(match committed {
                    Ok(()) => result,
                    Err(error) => Err(error.into()),
                });
            })
        });
        self.jobs
            .send(Command::Job(job))
            .map_err(|_| E::from(self.closed()))?;
        // An answer dropped unsent: the job panicked (and was undone) or the thread stopped.
        answered.await.map_err(|_| {
            E::from(match self.failure() {
                Some(why) => StoreError::Backend(why),
                None => {
                    StoreError::Backend("the write failed inside the store (see the log)".into())
                }
            })
        })?
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

/// Run one job; a job that panics is undone (its savepoint rolled back) and answered by the
/// dropping of its answer, and the batch goes on.
fn run_job(connection: &Connection, job: Job, completions: &mut Vec<Completion>) {
    match catch_unwind(AssertUnwindSafe(|| job(connection))) {
        Ok(completion) => completions.push(completion),
        Err(panic) => {
            let cause = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            tracing::error!(%cause, "a store write job panicked; it was undone");
            // The job may have panicked inside its savepoint.
            let _ = connection.execute_batch("ROLLBACK TO job; RELEASE job");
        }
    }
}

fn run(connection: Connection, receiver: mpsc::Receiver<Command>, last_failure: LastFailure) {
    let mut completions: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        let first = match first {
            Command::Job(job) => job,
            Command::Crash => panic!("writer crash requested by a test"),
        };
        // Another process (e.g. `tern account create`) may hold the write lock for a moment;
        // busy_timeout already waited, so keep trying rather than fail work that is queued.
        while let Err(error) = run_cached(&connection, "BEGIN IMMEDIATE") {
            tracing::warn!(%error, "sqlite writer cannot begin a transaction; retrying");
            record_failure(&last_failure, &error);
            thread::sleep(std::time::Duration::from_millis(50));
        }
        run_job(&connection, first, &mut completions);
        while completions.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(Command::Job(job)) => run_job(&connection, job, &mut completions),
                Ok(Command::Crash) => panic!("writer crash requested by a test"),
                Err(_) => break,
            }
        }
        let committed = run_cached(&connection, "COMMIT").map_err(backend_error);
        if let Err(error) = &committed {
            tracing::error!(%error, "sqlite writer cannot commit; the batch's writes failed");
            record_failure(&last_failure, error);
            let _ = connection.execute_batch("ROLLBACK");
        }
        for completion in completions.drain(..) {
            completion(committed.clone());
        }
    }
    tracing::debug!("sqlite writer stopped");
}
