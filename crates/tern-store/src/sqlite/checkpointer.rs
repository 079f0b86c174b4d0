//! Copies the write-ahead log back into the database file on a thread of its own. SQLite's
//! automatic checkpoint runs inside the commit that crosses its threshold, so the writer thread
//! (and every submission waiting on it) would stop for the copy and the fsync of the database
//! file; here a second connection does it beside the writer (a PASSIVE checkpoint never blocks
//! writes). The writer keeps a far higher automatic threshold only as a bound on the log's size.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is copied back.
const INTERVAL: Duration = Duration::from_millis(200);

/// The writer's own automatic checkpoint threshold, in pages (64 MiB of 4 KiB pages): reached
/// only when this thread cannot keep up.
pub const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// The checkpoint thread; it stops when this is dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Start checkpointing the database at `path` (already open in WAL mode).
    pub fn start(path: PathBuf) -> rusqlite::Result<Checkpointer> {
        let connection = Connection::open(&path)?;
        connection.busy_timeout(Duration::from_secs(1))?;
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("tern-sqlite-ckpt".into())
            .spawn(move || run(connection, stopped))
            .expect("spawn checkpoint thread");
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(connection: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "sqlite checkpoint failed; retrying");
        }
    }
}
