//! The connector port: how the dispatcher hands a message to a channel (an SMSC, a provider's
//! API, the simulator), what a channel hands back, and how its errors decide what follows.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::dispatch::Event;
use crate::error_code::DeliveryError;
use crate::message::MessageId;

use super::Dispatch;

/// Where a connector error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// Tern itself (configuration, encoding).
    Tern,
    /// The operator or channel provider answered (a refusal, throttling, its own failure).
    Provider,
    /// The network between us (connect, timeout).
    Network,
}

/// Whether a failed send can succeed later on the same channel (Pingora's retry decision): the
/// state machine retries or falls back from this, never from an error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The channel cannot take it now but may later (throttling, a provider's 5xx, a connection
    /// that dropped): the message stays on its channel and is sent again after `retry_after`
    /// (what the channel asked for, e.g. a `Retry-After`), or after the default backoff of
    /// [`crate::dispatch::retry_delay`] when it asked for nothing, until its validity ends.
    Temporary { retry_after: Option<Duration> },
    /// The channel will never take it (refused, unknown destination, no connector): the message
    /// falls back to its next allowed channel at once, as the spec says.
    Permanent,
}

/// A connector could not hand a message over: where the error came from, whether a retry can
/// help ([`ErrorKind`]), the CM error code to report if it is final, and a text for the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin:?} {kind:?} error: {message}")]
pub struct ConnectorError {
    pub origin: ErrorOrigin,
    pub kind: ErrorKind,
    /// The CM standard error code to report when the failure is final, if known.
    pub error_code: Option<DeliveryError>,
    /// For the logs only; never decides anything.
    pub message: String,
}

impl ConnectorError {
    /// A refusal no retry can change.
    pub fn permanent(
        origin: ErrorOrigin,
        error_code: Option<DeliveryError>,
        message: impl Into<String>,
    ) -> Self {
        ConnectorError {
            origin,
            kind: ErrorKind::Permanent,
            error_code,
            message: message.into(),
        }
    }

    /// A failure the same channel may get over, after `retry_after` if it said when.
    pub fn temporary(
        origin: ErrorOrigin,
        retry_after: Option<Duration>,
        message: impl Into<String>,
    ) -> Self {
        ConnectorError {
            origin,
            kind: ErrorKind::Temporary { retry_after },
            error_code: None,
            message: message.into(),
        }
    }

    /// The event this error is for the send of `attempt`, chosen by its kind alone.
    pub fn event(&self, attempt: u32) -> Event {
        match self.kind {
            ErrorKind::Temporary { retry_after } => Event::Deferred {
                attempt,
                retry_after,
            },
            ErrorKind::Permanent => Event::SendFailed {
                attempt,
                error_code: self.error_code,
            },
        }
    }
}

/// What the channel handed back when it took a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sent {
    /// The channel's id of each part, in part order (an SMSC's `message_id` per `submit_sm`, a
    /// provider's message id), as receipts will name them (normalised); empty when it hands
    /// back none.
    pub external_ids: Vec<String>,
    /// The same ids exactly as the channel wrote them, when normalising changed any; else
    /// empty.
    pub given_ids: Vec<String>,
}

/// Where connectors deliver the statuses they learn later (delivery reports).
pub trait EventSink: Send + Sync + 'static {
    /// Record `event` for message `id` (asynchronously; the sink owns durability).
    fn emit(&self, id: MessageId, event: Event);
    /// Record `event` for message `id`; the future resolves once it is durably recorded
    /// (`true`) or could not be (`false`). A connector acknowledges a channel's receipt only
    /// then, so that a crash before it makes the channel send the receipt again.
    fn emit_recorded(&self, id: MessageId, event: Event) -> Recorded;
}

/// The outcome of [`EventSink::emit_recorded`]: whether the event was durably recorded.
pub type Recorded = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'static>>;

/// How a connector is doing: what an operator (and later `/ready`) is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorHealth {
    /// Taking sends.
    Up,
    /// Cannot take sends now (not connected or bound yet, link lost): why, for the logs, and
    /// when it may be back (its next reconnect), which is when a message held back is tried again.
    Down {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Stopping: finishing the sends in flight, taking no new ones.
    Draining,
    /// Carried by other nodes of the gateway (a connector whose sessions are shared out between
    /// the live nodes, and this node's share is none): a message is left for a node that holds a
    /// share, due again after `retry_after`, never sent to a failover for this.
    Elsewhere {
        reason: String,
        retry_after: Duration,
    },
}

/// Sends in flight per connector when it says nothing else ([`Connector::max_in_flight`]).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// A route to operators or a channel provider. The dispatcher calls [`Connector::start`] once
/// before the first send, sends at most [`Connector::max_in_flight`] messages to it at a time,
/// and calls [`Connector::drain`] once when the gateway stops, after its last send.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// A stable name, unique among the gateway's connectors: the external ids it hands back are
    /// unique within it, and stored and looked up under it.
    fn name(&self) -> Arc<str>;
    /// Hand `message` over. `Ok` means the channel took it, with what it handed back; its
    /// outcome arrives on the sink.
    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError>;
    /// After a restart: `message` was handed over before and its report is still awaited.
    fn resume(&self, message: &Dispatch) {
        let _ = message;
    }
    /// Begin work (connect, bind). A channel that cannot be reached yet is no reason for the
    /// gateway not to start: the connector keeps trying on its own and says so in
    /// [`Connector::health`].
    async fn start(&self) {}
    /// Stop: no new sends come after this is called; finish what is in flight (wait for the
    /// channel's answers, unbind) and return. Statuses learnt meanwhile still go to the sink.
    async fn drain(&self) {}
    /// How it is doing now; cheap, called often.
    fn health(&self) -> ConnectorHealth {
        ConnectorHealth::Up
    }
    /// The most sends it takes at once (an SMPP window, a provider's concurrency); the
    /// dispatcher holds the others back rather than hand it a whole claim. At least 1.
    fn max_in_flight(&self) -> usize {
        DEFAULT_MAX_IN_FLIGHT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_error_becomes_an_event_by_its_kind_alone() {
        let throttled = ConnectorError::temporary(
            ErrorOrigin::Provider,
            Some(Duration::from_secs(3)),
            "permanent-sounding text: rejected",
        );
        assert_eq!(
            throttled.event(4),
            Event::Deferred {
                attempt: 4,
                retry_after: Some(Duration::from_secs(3))
            }
        );
        let refused = ConnectorError::permanent(
            ErrorOrigin::Provider,
            Some(DeliveryError::RecipientUnreachable),
            "try again later",
        );
        assert_eq!(
            refused.event(4),
            Event::SendFailed {
                attempt: 4,
                error_code: Some(DeliveryError::RecipientUnreachable)
            }
        );
    }
}
