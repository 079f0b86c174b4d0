//! [`StoreSignals`] on PostgreSQL: LISTEN/NOTIFY on one channel, so that an idle node wakes when
//! another node writes work. After a write commits, its method marks what kind of work it wrote
//! ([`Signals::wrote`]); a task of the store sends the marks as one `NOTIFY` at most every
//! [`COALESCE`], so that a busy node sends a few notifications a second however many
//! transactions it commits (a `NOTIFY` also serialises the commits of the transactions that send
//! it: it is never sent inside intake's). Each node listens on a connection of its own; when it
//! is lost, [`WorkSignal::Missed`] tells the node to look for every kind of work while the
//! connection is restored (and the node's own polling goes on regardless).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tern_core::ports::{StoreSignals, WorkSignal};
use tokio::sync::{Mutex, Notify};

use super::PgStore;

/// The channel every node listens on.
pub const CHANNEL: &str = "tern_work";
/// At most one notification per this long from one node.
const COALESCE: Duration = Duration::from_millis(20);
/// The wait before listening again after the connection was lost and could not be restored.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// What this node wrote since its last notification, and its listening connection.
#[derive(Default)]
pub struct Signals {
    dispatch: AtomicBool,
    outbox: AtomicBool,
    written: Notify,
    listener: Mutex<Option<PgListener>>,
}

impl Signals {
    /// A write of `signal`'s kind of work committed: tell the other nodes (soon).
    pub fn wrote(&self, signal: WorkSignal) {
        match signal {
            WorkSignal::Dispatch => self.dispatch.store(true, Ordering::Release),
            WorkSignal::Outbox => self.outbox.store(true, Ordering::Release),
            WorkSignal::Missed => {
                self.dispatch.store(true, Ordering::Release);
                self.outbox.store(true, Ordering::Release);
            }
        }
        self.written.notify_one();
    }

    /// Send what was written as notifications until the store is dropped (the task holds the
    /// signals weakly).
    pub fn spawn_sender(signals: &Arc<Signals>, pool: PgPool) {
        let signals = Arc::downgrade(signals);
        tokio::spawn(async move {
            loop {
                let Some(current) = signals.upgrade() else {
                    return;
                };
                let payloads: Vec<&str> = [
                    (current.dispatch.swap(false, Ordering::AcqRel), "dispatch"),
                    (current.outbox.swap(false, Ordering::AcqRel), "outbox"),
                ]
                .into_iter()
                .filter_map(|(set, payload)| set.then_some(payload))
                .collect();
                for payload in payloads {
                    // A lost notification costs an idle node one poll interval, nothing more.
                    if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(payload)
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(%error, "could not notify the other nodes");
                    }
                }
                tokio::time::sleep(COALESCE).await;
                if pool.is_closed() {
                    return;
                }
                // Wait for the next write (a write meanwhile left a permit: no wait), but look
                // again now and then in case the store was dropped meanwhile.
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), current.written.notified()).await;
            }
        });
    }
}

#[async_trait]
impl StoreSignals for PgStore {
    async fn next_signal(&self) -> Option<WorkSignal> {
        let mut listener = self.signals.listener.lock().await;
        loop {
            let current = match listener.as_mut() {
                Some(current) => current,
                None => match PgListener::connect_with(self.pool()).await {
                    Ok(mut connected) => match connected.listen(CHANNEL).await {
                        Ok(()) => {
                            *listener = Some(connected);
                            // What was written while nobody listened is looked for now.
                            return Some(WorkSignal::Missed);
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot listen for other nodes' work; polling");
                            tokio::time::sleep(RELISTEN_AFTER).await;
                            continue;
                        }
                    },
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for other nodes' work; polling");
                        tokio::time::sleep(RELISTEN_AFTER).await;
                        continue;
                    }
                },
            };
            match current.try_recv().await {
                Ok(Some(notification)) => {
                    return Some(match notification.payload() {
                        "dispatch" => WorkSignal::Dispatch,
                        "outbox" => WorkSignal::Outbox,
                        _ => WorkSignal::Missed,
                    });
                }
                // The connection was lost: the next call connects again.
                Ok(None) => {
                    *listener = None;
                    return Some(WorkSignal::Missed);
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the connection that listens for other nodes' work");
                    *listener = None;
                    tokio::time::sleep(RELISTEN_AFTER).await;
                    return Some(WorkSignal::Missed);
                }
            }
        }
    }
}
