//! The outbox: what the gateway owes someone outside it (a status webhook today; inbound
//! webhooks, SMPP receipts and SMPP MO later), kept as entries that point at facts the store
//! already holds, so that what is sent is rendered when it is sent. An entry has a *kind* (which
//! sender delivers it), a *destination* (whose settings say where it goes, looked up when it is
//! sent, so a changed status URL or format reaches entries already queued), an *ordering key*
//! (entries of one key go out one at a time, lowest first: the reports of one message arrive in
//! order) and a reference to its *fact* (for a status webhook: the message's `seq`-th status
//! change). Which status changes produce which entries is decided here ([`entries`]); a store
//! only writes them, claims them under leases and records what became of them.
//!
//! Adding a kind is a new [`OutboxKind`] variant, a new [`FactRef`] / [`Fact`] variant when it
//! needs a fact of its own, and a sender for it in `tern-egress`.

use std::fmt;

use jiff::Timestamp;

use crate::account::{Account, AccountId};
use crate::dispatch::{Record, Report};
use crate::message::MessageId;

/// What an entry is, and so which sender delivers it. Closed: every kind is named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// A status report POSTed to the account's status URL, in its format (JSON or XML), both
    /// looked up when it is sent. Its fact is a [`Fact::StatusChange`].
    StatusWebhook,
    /// A webhook rendered before Tern kept facts (a queued report of a database written by an
    /// earlier Tern that cannot be traced to its status change): POSTed as it was rendered, to
    /// the URL it was rendered for. Its fact is a [`Fact::Rendered`]; nothing creates new ones.
    RenderedWebhook,
}

impl OutboxKind {
    /// Every kind.
    pub const ALL: [OutboxKind; 2] = [OutboxKind::StatusWebhook, OutboxKind::RenderedWebhook];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::StatusWebhook => "status_webhook",
            OutboxKind::RenderedWebhook => "rendered_webhook",
        }
    }

    /// The kind of a stored name.
    pub fn parse(text: &str) -> Option<OutboxKind> {
        OutboxKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose settings say where an entry goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An account: where it wants this kind of entry (its status URL and format for a status
    /// webhook) is looked up when the entry is sent.
    Account(AccountId),
    /// A fixed URL (only [`OutboxKind::RenderedWebhook`] entries have one).
    Url(String),
}

/// Entries of one key go out one at a time, lowest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderingKey(pub String);

impl OrderingKey {
    /// The key of every entry about one message (its reports arrive in order).
    pub fn message(id: MessageId) -> OrderingKey {
        OrderingKey(id.to_string())
    }
}

/// The fact an entry says, as stored: a reference to a row the store keeps anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactRef {
    /// The `seq`-th status change of a message (its row in the status history).
    StatusChange { message_id: MessageId, seq: u32 },
}

/// An entry to write, in the transaction that records its fact.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub kind: OutboxKind,
    pub destination: Destination,
    pub ordering_key: OrderingKey,
    pub fact: FactRef,
    /// When its fact happened: the start of its retry window, and when it is first due.
    pub created_at: Timestamp,
}

/// What an account has asked to be told about its messages, when a status change is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subscriptions {
    /// It has a status URL: each status change is reported to it.
    pub status_webhook: bool,
}

impl Subscriptions {
    /// What an account with these settings has asked for.
    pub fn of(status_url: Option<&str>) -> Subscriptions {
        Subscriptions {
            status_webhook: status_url.is_some(),
        }
    }
}

/// The entries the status changes of `record` produce for message `message_id` of `account`:
/// one status webhook per change, in order, when the account has a status URL. (Whether the
/// URL is still there, and what it is, is looked up again when each is sent.)
pub fn entries(
    message_id: MessageId,
    account: AccountId,
    subscriptions: Subscriptions,
    record: &Record,
) -> Vec<NewEntry> {
    if !subscriptions.status_webhook {
        return Vec::new();
    }
    record
        .changes
        .iter()
        .map(|change| NewEntry {
            kind: OutboxKind::StatusWebhook,
            destination: Destination::Account(account),
            ordering_key: OrderingKey::message(message_id),
            fact: FactRef::StatusChange {
                message_id,
                seq: change.seq,
            },
            created_at: change.at,
        })
        .collect()
}

/// The store's id of an entry.
pub type EntryId = i64;

/// A status change of a message, with what its report says of the message.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusFact {
    pub message_id: MessageId,
    /// Its number among the message's status changes, from 1.
    pub seq: u32,
    /// When it was recorded (the report's `received`).
    pub at: Timestamp,
    pub report: Report,
    pub recipient: String,
    pub reference: Option<String>,
    /// Its content's custom groupings.
    pub custom_groupings: [Option<String>; 3],
}

/// A webhook rendered by an earlier Tern (see [`OutboxKind::RenderedWebhook`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedWebhook {
    /// The message it reports on.
    pub message_id: MessageId,
    /// The report id it was rendered with (also in its body).
    pub report_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What an entry says, read when it is claimed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    StatusChange(StatusFact),
    Rendered(RenderedWebhook),
}

impl Fact {
    /// The message it is about.
    pub fn message_id(&self) -> MessageId {
        match self {
            Fact::StatusChange(fact) => fact.message_id,
            Fact::Rendered(rendered) => rendered.message_id,
        }
    }
}

/// Where a claimed entry goes, as its destination stands when it is claimed.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// The account as it is now (its status URL may have changed, or be gone).
    Account(Account),
    Url(String),
}

/// An entry handed to its sender, with its fact and its destination read at claim time.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEntry {
    pub id: EntryId,
    pub kind: OutboxKind,
    pub ordering_key: OrderingKey,
    /// Deliveries tried before this one.
    pub attempts: u32,
    pub created_at: Timestamp,
    /// `None`: the destination no longer exists (the entry cannot be delivered).
    pub destination: Option<Resolved>,
    /// `None`: the fact is no longer there (the entry cannot be rendered).
    pub fact: Option<Fact>,
}

/// What became of one delivery of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered: remove it.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Not to be delivered (too old, refused, or its destination asks for none any more): remove
    /// it (logged by the caller).
    GiveUp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::dispatch::{Position, Progress, StatusChange};
    use crate::message::DeliveryState;
    use crate::status::CmStatus;

    fn record(seqs: &[u32]) -> Record {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        Record {
            progress: Progress {
                state: DeliveryState::Delivered,
                channels: vec![Channel::Sms],
                channel_index: 0,
                attempt: 1,
                deferrals: 0,
                valid_until: at,
            },
            position: Position::Finished,
            sent_by: None,
            changes: seqs
                .iter()
                .map(|&seq| StatusChange {
                    seq,
                    at: at + jiff::SignedDuration::from_secs(seq.into()),
                    report: Report {
                        channel: Channel::Sms,
                        status: CmStatus::Delivered,
                        error_code: None,
                        operator: None,
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn each_status_change_of_an_account_with_a_status_url_is_one_status_webhook() {
        let id = MessageId::generate();
        let record = record(&[3, 4]);
        let subscribed = Subscriptions {
            status_webhook: true,
        };
        let entries = entries(id, 7, subscribed, &record);
        assert_eq!(entries.len(), 2);
        for (entry, change) in entries.iter().zip(&record.changes) {
            assert_eq!(entry.kind, OutboxKind::StatusWebhook);
            assert_eq!(entry.destination, Destination::Account(7));
            assert_eq!(entry.ordering_key, OrderingKey::message(id));
            assert_eq!(
                entry.fact,
                FactRef::StatusChange {
                    message_id: id,
                    seq: change.seq
                }
            );
            assert_eq!(entry.created_at, change.at);
        }
    }

    #[test]
    fn an_account_without_a_status_url_gets_no_entries() {
        let entries = entries(
            MessageId::generate(),
            7,
            Subscriptions::default(),
            &record(&[1]),
        );
        assert!(entries.is_empty());
    }

    #[test]
    fn kinds_round_trip_their_stored_names() {
        for kind in OutboxKind::ALL {
            assert_eq!(OutboxKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OutboxKind::parse("smpp_receipt"), None);
    }
}
