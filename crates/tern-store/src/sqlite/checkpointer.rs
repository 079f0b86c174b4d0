//! Copies the write-ahead log back into the database file on a thread of its own. SQLite's
//! automatic checkpoint runs inside the commit that crosses its threshold, so the writer thread
//! (and every submission waiting on it) stops for the copy and the fsync of the database file;
//! here a second connection copies the log beside the writer (a PASSIVE checkpoint never blocks
//! writes). The writer keeps SQLite's automatic checkpoint: when it runs, most frames are already
//! copied, so it is short, and because it runs between the writer's own transactions it completes
//! the copy, which lets the next transaction start the log from its beginning again. (With the
//! copying left to this thread alone, a busy writer keeps appending while it copies, the log is
//! never fully copied and grows until a long inline checkpoint: measured as 100+ ms stalls.)

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is copied back.
const INTERVAL: Duration = Duration::from_millis(20);

/// The writer's own automatic checkpoint threshold, in pages (SQLite's default: 4 MiB of log).
pub const WRITER_AUTOCHECKPOINT_PAGES: i64 = 4_000;

/// The checkpoint thread; it stops when this is dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Start checkpointing on `connection` (a database in WAL mode).
    pub fn start(connection: Connection) -> Checkpointer {
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("tern-sqlite-ckpt".into())
            .spawn(move || run(connection, stopped))
            .expect("spawn checkpoint thread");
        Checkpointer { _stop: stop }
    }
}

fn run(connection: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "sqlite checkpoint failed; retrying");
        }
    }
}
