//! The single writer thread and its group commit. Callers send jobs; the thread runs as many as are
//! waiting inside one transaction, each in its own savepoint (one job's failure does not undo
//! another's), commits once, and only then answers every job. An answer therefore always means
//! "durable" (or "failed, nothing of it stored").

use std::sync::mpsc;
use std::thread;

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

/// Handle to the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the writer on `connection`.
    pub fn start(connection: Connection) -> Writer {
        let (jobs, receiver) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("tern-sqlite-writer".into())
            .spawn(move || run(connection, receiver))
            .expect("spawn writer thread");
        Writer { jobs }
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
            .send(job)
            .map_err(|_| E::from(StoreError::Closed))?;
        answered.await.map_err(|_| E::from(StoreError::Closed))?
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

fn run(connection: Connection, receiver: mpsc::Receiver<Job>) {
    let mut completions: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        // Another process (e.g. `tern account create`) may hold the write lock for a moment;
        // busy_timeout already waited, so keep trying rather than fail work that is queued.
        while let Err(error) = run_cached(&connection, "BEGIN IMMEDIATE") {
            tracing::warn!(%error, "sqlite writer cannot begin a transaction; retrying");
            thread::sleep(std::time::Duration::from_millis(50));
        }
        completions.push(first(&connection));
        while completions.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => completions.push(job(&connection)),
                Err(_) => break,
            }
        }
        let committed = run_cached(&connection, "COMMIT").map_err(backend_error);
        if committed.is_err() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        for completion in completions.drain(..) {
            completion(committed.clone());
        }
    }
    tracing::debug!("sqlite writer stopped");
}
