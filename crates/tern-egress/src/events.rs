//! The path from connectors back into the store: connectors emit events as they learn them; one
//! task applies them in batches (concurrent applies share one group commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use tern_core::dispatch::{Event, Next};
use tern_core::message::MessageId;
use tern_core::ports::{EventSink, QueueStore, Recorded, Store};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::Wakeups;
use crate::dispatcher::egress_batch;

/// Most events applied together.
const BATCH: usize = 1024;

/// Events emitted and not yet applied.
#[derive(Debug, Default)]
struct Backlog {
    events: AtomicUsize,
    applied: Notify,
}

/// An event on its way to the store, and who waits for it to be recorded.
type Emitted = (MessageId, Event, Option<oneshot::Sender<bool>>);

/// An [`EventSink`] backed by a channel; [`EventApplier::run`] drains it.
#[derive(Clone)]
pub struct ChannelSink {
    sender: mpsc::UnboundedSender<Emitted>,
    backlog: Arc<Backlog>,
}

impl ChannelSink {
    fn send(&self, emitted: Emitted) -> bool {
        let id = emitted.0;
        self.backlog.events.fetch_add(1, Ordering::AcqRel);
        if self.sender.send(emitted).is_err() {
            self.backlog.events.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(%id, "event dropped: the gateway is stopping (the message keeps its lease and is looked at again when it ends)");
            return false;
        }
        true
    }
}

impl EventSink for ChannelSink {
    fn emit(&self, id: MessageId, event: Event) {
        self.send((id, event, None));
    }

    fn emit_recorded(&self, id: MessageId, event: Event) -> Recorded {
        let (recorded, outcome) = oneshot::channel();
        let sent = self.send((id, event, Some(recorded)));
        Box::pin(async move { sent && outcome.await.unwrap_or(false) })
    }
}

impl ChannelSink {
    /// Wait until at most `limit` emitted events are still to be applied. The dispatcher waits
    /// here before it claims more, so that what it sent is recorded well within the lease.
    pub async fn wait_below(&self, limit: usize) {
        loop {
            let applied = self.backlog.applied.notified();
            tokio::pin!(applied);
            applied.as_mut().enable();
            if self.backlog.events.load(Ordering::Acquire) <= limit {
                return;
            }
            applied.await;
        }
    }
}

/// Applies connector events to the store.
pub struct EventApplier {
    receiver: mpsc::UnboundedReceiver<Emitted>,
    store: Arc<dyn Store>,
    wakeups: Arc<Wakeups>,
    backlog: Arc<Backlog>,
}

/// A sink and the applier that drains it.
pub fn event_channel(store: Arc<dyn Store>, wakeups: Arc<Wakeups>) -> (ChannelSink, EventApplier) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let backlog = Arc::new(Backlog::default());
    (
        ChannelSink {
            sender,
            backlog: Arc::clone(&backlog),
        },
        EventApplier {
            receiver,
            store,
            wakeups,
            backlog,
        },
    )
}

/// The wait before a batch the store could not record is tried again; doubled each time...
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
/// ...up to this.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

impl EventApplier {
    /// Run until `shutdown`, then apply what is already queued and return. Stop it only after
    /// the dispatcher has stopped: the dispatcher records what it sent through this applier.
    pub async fn run(mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = self.receiver.recv_many(&mut batch, egress_batch(&*self.store, BATCH)) => {
                    if received == 0 {
                        break;
                    }
                    self.apply(&mut batch, &shutdown).await;
                }
                _ = shutdown.changed() => break,
            }
        }
        while let Ok(event) = self.receiver.try_recv() {
            batch.push(event);
        }
        if !batch.is_empty() {
            self.apply(&mut batch, &shutdown).await;
        }
    }

    /// Apply `batch`; a batch the store could not record (the database is unreachable) is tried
    /// again, a moment later each time, until it is recorded: an event lost here would leave its
    /// message waiting for a report that already came, until its validity ends. Once the gateway
    /// is stopping, a few tries only (the events of messages still leased are sent again when
    /// their lease ends).
    async fn apply(&self, batch: &mut Vec<Emitted>, shutdown: &tokio::sync::watch::Receiver<bool>) {
        let count = batch.len();
        let mut waiting = Vec::new();
        let events = batch.drain(..).map(|(id, event, recorded)| {
            if let Some(recorded) = recorded {
                waiting.push(recorded);
            }
            (id, event)
        });
        let events: Vec<(MessageId, Event)> = events.collect();
        let mut wait = RETRY_FIRST;
        let mut tries_left_when_stopping = 3u32;
        let recorded = loop {
            if apply_all(&*self.store, &self.wakeups, events.iter().cloned()).await {
                break true;
            }
            if *shutdown.borrow() {
                tries_left_when_stopping -= 1;
                if tries_left_when_stopping == 0 {
                    break false;
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_MAX);
        };
        for waiter in waiting {
            let _ = waiter.send(recorded);
        }
        self.backlog.events.fetch_sub(count, Ordering::AcqRel);
        self.backlog.applied.notify_waiters();
    }
}

/// Apply events in one store batch and wake whoever has new work; whether they were recorded.
pub async fn apply_all(
    store: &dyn QueueStore,
    wakeups: &Wakeups,
    events: impl Iterator<Item = (MessageId, Event)>,
) -> bool {
    let events: Vec<(MessageId, Event)> = events.collect();
    if events.is_empty() {
        return true;
    }
    let count = events.len();
    match store.apply_batch(events, Timestamp::now()).await {
        Ok(nexts) => {
            if nexts.contains(&Next::Requeue) {
                wakeups.dispatch.notify_one();
            }
            wakeups.outbox_written();
            true
        }
        Err(error) => {
            // The caller tries again (`EventApplier::apply`).
            tracing::error!(%error, count, "could not record a batch of events");
            wakeups.outbox_written();
            false
        }
    }
}
