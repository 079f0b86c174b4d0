//! The senders of the outbox, one per [`OutboxKind`]: the runner ([`crate::notifier`]) claims
//! due entries and hands each to the sender of its kind, which renders the entry from its fact
//! and delivers it once; leases, retries and giving up are the runner's, the same for every
//! kind. A new kind brings its sender here (an SMPP receipt to a bound session, an inbound
//! webhook) and nothing else changes (but a retry schedule of its own, when it has one: see
//! [`crate::notifier::Notifier::with_inbound_webhooks`]).

use async_trait::async_trait;
use tern_core::outbox::{ClaimedEntry, OutboxKind};

mod inbound_webhook;
mod rendered_webhook;
mod smpp_mo;
mod smpp_receipt;
mod status_webhook;
mod webhook;

pub use inbound_webhook::InboundWebhookSender;
pub use rendered_webhook::RenderedWebhookSender;
pub use smpp_mo::SmppMoSender;
pub use smpp_receipt::SmppReceiptSender;
pub use status_webhook::StatusWebhookSender;
pub use webhook::{REPORT_ID_HEADER, WebhookPoster};

/// What became of one delivery of an entry, as its sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The destination took it.
    Delivered,
    /// Not taken this time (why, for the log): tried again until its retry window ends.
    Failed(String),
    /// Nobody could take it just now (why, for the log: no session bound any more, no response):
    /// tried again a moment later, without backing off, until its retry window ends.
    Unreachable(String),
    /// Never to be delivered (its target is refused, its destination asks for it no more, its
    /// fact is gone): removed now. The sender has logged why.
    Abandoned,
}

/// Delivers the entries of one kind.
#[async_trait]
pub trait OutboxSender: Send + Sync + 'static {
    /// The kind it delivers.
    fn kind(&self) -> OutboxKind;
    /// Render `entry` from its fact for its destination as it is now, and deliver it once.
    async fn send(&self, entry: ClaimedEntry) -> Delivery;
}
