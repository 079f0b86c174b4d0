//! The path from connectors back into the store: connectors emit events as they learn them; one
//! task applies them in batches (concurrent applies share one group commit).

use std::sync::Arc;

use jiff::Timestamp;
use tern_core::dispatch::{Event, Next};
use tern_core::message::MessageId;
use tern_core::ports::{EventSink, Store};
use tokio::sync::mpsc;

use crate::Wakeups;

/// Most events applied together.
const BATCH: usize = 1024;

/// An [`EventSink`] backed by a channel; [`EventApplier::run`] drains it.
#[derive(Clone)]
pub struct ChannelSink {
    sender: mpsc::UnboundedSender<(MessageId, Event)>,
}

impl EventSink for ChannelSink {
    fn emit(&self, id: MessageId, event: Event) {
        if self.sender.send((id, event)).is_err() {
            tracing::warn!(%id, "event dropped: the gateway is stopping (the message stays queued)");
        }
    }
}

/// Applies connector events to the store.
pub struct EventApplier {
    receiver: mpsc::UnboundedReceiver<(MessageId, Event)>,
    store: Arc<dyn Store>,
    wakeups: Arc<Wakeups>,
}

/// A sink and the applier that drains it.
pub fn event_channel(store: Arc<dyn Store>, wakeups: Arc<Wakeups>) -> (ChannelSink, EventApplier) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        ChannelSink { sender },
        EventApplier {
            receiver,
            store,
            wakeups,
        },
    )
}

impl EventApplier {
    /// Run until `shutdown`, then apply what is already queued and return.
    pub async fn run(mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = self.receiver.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        break;
                    }
                    apply_all(&*self.store, &self.wakeups, batch.drain(..)).await;
                }
                _ = shutdown.changed() => break,
            }
        }
        while let Ok(event) = self.receiver.try_recv() {
            batch.push(event);
        }
        if !batch.is_empty() {
            apply_all(&*self.store, &self.wakeups, batch.drain(..)).await;
        }
    }
}

/// Apply events in one store batch and wake whoever has new work.
pub async fn apply_all(
    store: &dyn Store,
    wakeups: &Wakeups,
    events: impl Iterator<Item = (MessageId, Event)>,
) {
    let events: Vec<(MessageId, Event)> = events.collect();
    if events.is_empty() {
        return;
    }
    let count = events.len();
    match store.apply_batch(events, Timestamp::now()).await {
        Ok(nexts) => {
            if nexts.contains(&Next::Requeue) {
                wakeups.dispatch.notify_one();
            }
        }
        Err(error) => {
            // The messages keep their leases or waits; they are looked at again when those end.
            tracing::error!(%error, count, "could not record a batch of events");
        }
    }
    wakeups.reports.notify_one();
}
