//! The ports the edges implement: the [`Store`] (SQLite embedded, PostgreSQL for several nodes).
//! The domain decides; the store records decisions atomically and hands out due work under leases.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::account::{Account, AccountId, NewAccount, TokenHash};
use crate::channel::Channel;
use crate::dispatch::{Event, Next};
use crate::message::{Content, MessageFilter, MessageId, MessageRecord, NewMessage};

/// A store failure. `retryable` says whether trying again may help (as Pingora's errors do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption, SQL).
    #[error("store backend error: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
    /// The database is busy or locked; try again.
    #[error("store busy: {0}")]
    Busy(String),
    /// A uniqueness rule was broken (e.g. a token that already exists).
    #[error("conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether a retry can help.
    pub fn retryable(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

/// Why a submission could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    #[error("insufficient balance")]
    InsufficientBalance,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message handed to the dispatcher to send now.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub id: MessageId,
    pub account_id: AccountId,
    pub attempt: u32,
    pub channel: Channel,
    pub recipient: String,
    /// Shared with the other recipients of its `msg` (and other messages of one claim).
    pub content: Arc<Content>,
    pub parts: u32,
    pub reference: Option<String>,
}

/// A status report waiting to be POSTed.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingReport {
    pub id: i64,
    pub message_id: MessageId,
    /// The report's stable id (see [`crate::report::report_id`]), also in its body.
    pub report_id: String,
    pub url: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Deliveries tried so far.
    pub attempts: u32,
    pub created_at: Timestamp,
}

/// What became of one delivery of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The receiver answered 2xx: remove it.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Too old to retry: drop it (logged by the caller).
    GiveUp,
}

/// Durable state of the gateway.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create an account; a token that exists already is a [`StoreError::Conflict`].
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError>;
    /// Every account, oldest first.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// The account whose token hashes to `hash`.
    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError>;
    /// Store and queue `messages` and debit `account` their price, all or nothing, durably
    /// (fsynced) before returning.
    async fn accept(
        &self,
        account: AccountId,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError>;
    /// Claim up to `limit` due messages under a lease of `lease`, applying [`Event::Due`] to each:
    /// the ones to send now are returned; expired ones are finished and reported.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError>;
    /// Apply `event` to a message, recording the decision and its reports in one transaction.
    async fn apply(&self, id: MessageId, event: Event, now: Timestamp) -> Result<Next, StoreError> {
        let mut next = self.apply_batch(vec![(id, event)], now).await?;
        Ok(next.pop().unwrap_or(Next::Ignore))
    }
    /// Apply each event in order, all in one transaction (a batch costs the store about what one
    /// event does); returns what comes next for each, in the same order. Events of one message
    /// see the effects of the ones before them.
    async fn apply_batch(
        &self,
        events: Vec<(MessageId, Event)>,
        now: Timestamp,
    ) -> Result<Vec<Next>, StoreError>;
    /// Release every lease this node held before it stopped (messages and reports it had claimed),
    /// so a restart resumes at once instead of waiting for leases to run out. Only for a node's own
    /// leases: the embedded store has one node, guarded by a lock on its data directory.
    async fn release_leases(&self, now: Timestamp) -> Result<(), StoreError>;
    /// The part that `connector` named `external_id` when it took it (recorded with
    /// [`Event::Sent`]), for a receipt or webhook that names only the channel's id.
    async fn sent_part(
        &self,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<SentPart>, StoreError>;
    /// Messages handed to a channel whose report is still awaited (for connectors to resume).
    async fn awaiting_report(&self) -> Result<Vec<Dispatch>, StoreError>;
    /// The earliest time a message becomes due, if any.
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Claim up to `limit` due reports under a lease, at most one per message (reports of one
    /// message go out in order).
    async fn claim_reports(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<PendingReport>, StoreError>;
    /// Record what became of a claimed report.
    async fn finish_report(&self, id: i64, outcome: ReportOutcome) -> Result<(), StoreError> {
        self.finish_reports(vec![(id, outcome)]).await
    }
    /// Record what became of several claimed reports, in one transaction.
    async fn finish_reports(&self, outcomes: Vec<(i64, ReportOutcome)>) -> Result<(), StoreError>;
    /// The earliest time a report becomes due, if any.
    async fn next_report_due(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Record a conversion on every message of `account` to one of `recipients` (forms of one
    /// number) with `reference`; returns how many messages it was recorded on.
    async fn record_conversion(
        &self,
        account: AccountId,
        recipients: Vec<String>,
        reference: String,
        converted_at: Timestamp,
    ) -> Result<usize, StoreError>;
    /// How many submitted messages are waiting on the store right now. Delivery takes smaller
    /// batches while many are, so that a burst of submissions is taken in first; delivery never
    /// stops.
    fn intake_waiting(&self) -> usize {
        0
    }
    /// Whether the store accepts writes now (for `/ready`): `Ok` only when a write went through
    /// a moment ago. Cheap to call often (a result may be reused for about a second).
    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Why the store can never write again, if that is so (the process should stop and be
    /// restarted rather than go on answering).
    fn fatal(&self) -> Option<String> {
        None
    }
    /// The account's messages, newest filters applied, oldest first after the cursor.
    async fn messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError>;
}

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
    pub error_code: Option<u16>,
    /// For the logs only; never decides anything.
    pub message: String,
}

impl ConnectorError {
    /// A refusal no retry can change.
    pub fn permanent(
        origin: ErrorOrigin,
        error_code: Option<u16>,
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
    /// provider's message id); empty when it hands back none.
    pub external_ids: Vec<String>,
}

/// A part a channel named, found by the id the channel gave it (see [`Store::sent_part`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPart {
    pub message_id: MessageId,
    /// The send that handed it over (a receipt of an earlier attempt is stale).
    pub attempt: u32,
    /// Its position in the message, from 0.
    pub part_index: u32,
}

/// Where connectors deliver the statuses they learn later (delivery reports).
pub trait EventSink: Send + Sync + 'static {
    /// Record `event` for message `id` (asynchronously; the sink owns durability).
    fn emit(&self, id: MessageId, event: Event);
}

/// How a connector is doing: what an operator (and later `/ready`) is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorHealth {
    /// Taking sends.
    Up,
    /// Cannot take sends now (not connected or bound yet, link lost): why, for the logs.
    Down { reason: String },
    /// Stopping: finishing the sends in flight, taking no new ones.
    Draining,
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
        let refused = ConnectorError::permanent(ErrorOrigin::Provider, Some(24), "try again later");
        assert_eq!(
            refused.event(4),
            Event::SendFailed {
                attempt: 4,
                error_code: Some(24)
            }
        );
    }
}
