//! Tern's edges that deliver: the dispatcher (claim due messages, send on the right channel,
//! record the outcome), the connectors by name (the simulator, SMPP, WhatsApp) and their
//! webhook halves, the outbox runner (the notifier: a durable outbox, each kind delivered by its
//! sender, with retries and backoff) and the inbound (MO) sweeper.

pub mod cluster;
pub mod connectors;
mod direct_http;
pub mod dispatcher;
pub mod events;
pub mod fcm;
pub mod google_auth;
pub mod handoff;
pub mod http_client;
pub mod inbound;
pub mod notifier;
pub mod provider_http;
pub mod provider_webhooks;
pub mod rbm;
pub mod senders;
pub mod simulator;
pub mod smpp;
pub mod webhook_target;
pub mod whatsapp;

#[cfg(test)]
mod test_support;

/// Wake-ups shared by the pieces: new work for the dispatcher, new outbox entries for the
/// notifier (`reports`) and for the SMPP receipt runner (`receipts`), and messages awaiting
/// reports that this node's connectors should take up again (`resume`).
#[derive(Debug, Default)]
pub struct Wakeups {
    pub dispatch: tokio::sync::Notify,
    pub reports: tokio::sync::Notify,
    pub receipts: tokio::sync::Notify,
    resume: std::sync::atomic::AtomicBool,
}

impl Wakeups {
    /// Another node stopped (its work was taken over): the messages it had handed to its
    /// connectors await reports that only a connector of a live node can still give (a
    /// simulator's timers, an FCM confirmation's deadline), so the dispatcher re-arms its
    /// connectors for every message awaiting a report, as at its start. A message re-armed
    /// twice is reported once: a second report of a final state changes nothing.
    pub fn resume_awaiting(&self) {
        self.resume
            .store(true, std::sync::atomic::Ordering::Release);
        self.dispatch.notify_one();
    }

    /// Whether the dispatcher should re-arm its connectors now (see
    /// [`Wakeups::resume_awaiting`]); asking clears it.
    pub fn take_resume(&self) -> bool {
        self.resume.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// Status changes were recorded: the outbox may hold new entries for both runners.
    pub fn outbox_written(&self) {
        self.reports.notify_one();
        self.receipts.notify_one();
    }
}

impl Wakeups {
    /// Pass the store's signals of other nodes' work on as wake-ups, until `shutdown` or until
    /// the store says it never signals (one node).
    pub async fn forward_signals(
        self: std::sync::Arc<Self>,
        signals: std::sync::Arc<dyn tern_core::ports::StoreSignals>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        use tern_core::ports::WorkSignal;
        loop {
            let signal = tokio::select! {
                signal = signals.next_signal() => signal,
                _ = shutdown.changed() => return,
            };
            match signal {
                None => return,
                Some(WorkSignal::Dispatch) => self.dispatch.notify_one(),
                Some(WorkSignal::Outbox) => self.outbox_written(),
                Some(WorkSignal::Missed) => {
                    self.dispatch.notify_one();
                    self.outbox_written();
                }
            }
        }
    }
}

impl tern_core::submitter::Wake for Wakeups {
    /// Accepted messages are new work for the dispatcher.
    fn accepted(&self) {
        self.dispatch.notify_one();
    }
}
