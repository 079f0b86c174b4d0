//! The dispatcher: claims due messages under a lease, hands each to the connector of its channel,
//! and records whether the channel took it; when it did not, the error's kind alone says whether
//! the message is retried on the same channel later (temporary) or falls back (permanent). A
//! crash mid-send leaves the lease to expire, and the message is claimed again (a new attempt,
//! so late events of the old one are ignored).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use jiff::{SignedDuration, Timestamp};
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ExternalIds};
use tern_core::ports::{Connector, ConnectorError, ErrorOrigin, EventSink, Store};
use tokio::sync::watch;

use crate::Wakeups;
use crate::events::ChannelSink;

/// While many submitted messages wait on the store, egress batches are this many times smaller.
pub const INTAKE_SHARE: usize = 8;

/// An egress batch of `normal` items, or an [`INTAKE_SHARE`]th of it while at least half as many
/// submitted messages wait on the store: a burst of submissions is then taken in first, and
/// delivery goes on, slower. (A trickle of submissions does not shrink the batches: many small
/// batches cost more per message.)
pub fn egress_batch(store: &dyn Store, normal: usize) -> usize {
    if store.intake_waiting() >= normal / 2 {
        (normal / INTAKE_SHARE).max(1)
    } else {
        normal
    }
}

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Most messages claimed at once.
    pub batch_size: usize,
    /// How long a claim holds a message before another claim may take it.
    pub lease: SignedDuration,
    /// Longest sleep when idle (another node or process may add work).
    pub idle_poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            batch_size: 512,
            lease: SignedDuration::from_secs(60),
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// Claims and sends.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub connectors: HashMap<Channel, Arc<dyn Connector>>,
    pub wakeups: Arc<Wakeups>,
    pub settings: DispatchSettings,
    /// Where the outcome of each send goes (the event applier, which records it).
    pub events: ChannelSink,
}

impl Dispatcher {
    /// Re-arm connectors for messages whose reports were awaited when the gateway stopped.
    pub async fn resume(&self) {
        match self.store.awaiting_report().await {
            Ok(awaiting) => {
                for message in &awaiting {
                    if let Some(connector) = self.connectors.get(&message.channel) {
                        connector.resume(message);
                    }
                }
                if !awaiting.is_empty() {
                    tracing::info!(count = awaiting.len(), "resumed messages awaiting reports");
                }
            }
            Err(error) => tracing::error!(%error, "cannot list messages awaiting reports"),
        }
    }

    /// Run until `shutdown` turns true; a batch in progress is finished and recorded first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.resume().await;
        while !*shutdown.borrow() {
            let limit = egress_batch(&*self.store, self.settings.batch_size);
            let claimed = match self
                .store
                .claim_due(Timestamp::now(), limit, self.settings.lease)
                .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "claiming due messages failed");
                    Vec::new()
                }
            };
            // Claiming may have expired messages, which makes reports.
            self.wakeups.reports.notify_one();
            let full = claimed.len() == limit;
            if !claimed.is_empty() {
                let connectors = &self.connectors;
                let sends = claimed.iter().map(|message| async move {
                    let result = match connectors.get(&message.channel) {
                        Some(connector) => connector.send(message).await.map(|sent| ExternalIds {
                            connector: connector.name(),
                            part_ids: sent.external_ids,
                        }),
                        None => Err(ConnectorError::permanent(
                            ErrorOrigin::Tern,
                            None,
                            format!("no connector for channel {}", message.channel),
                        )),
                    };
                    let event = match result {
                        Ok(external_ids) => Event::Sent {
                            attempt: message.attempt,
                            external_ids,
                        },
                        Err(error) => {
                            let event = error.event(message.attempt);
                            match event {
                                Event::Deferred { .. } => tracing::info!(id = %message.id, channel = %message.channel, %error, "send failed for now; retrying on the same channel later"),
                                _ => tracing::warn!(id = %message.id, channel = %message.channel, %error, "send failed; falling back"),
                            }
                            event
                        }
                    };
                    (message.id, event)
                });
                for (id, event) in join_all(sends).await {
                    self.events.emit(id, event);
                }
                // Claim more only once what was sent is (nearly all) recorded: the claims hold
                // leases, and a send must be recorded before its lease ends.
                self.events.wait_below(limit).await;
            }
            if full {
                continue;
            }
            let sleep = self.idle_sleep().await;
            tokio::select! {
                _ = self.wakeups.dispatch.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::debug!("dispatcher stopped");
    }

    async fn idle_sleep(&self) -> Duration {
        match self.store.next_due().await {
            Ok(Some(due)) => {
                let wait = due.duration_since(Timestamp::now());
                Duration::try_from(wait)
                    .unwrap_or(Duration::ZERO)
                    .min(self.settings.idle_poll)
            }
            _ => self.settings.idle_poll,
        }
    }
}
