//! The outbox: what the gateway owes someone outside it (status webhooks, SMPP delivery
//! receipts and inbound webhooks today; SMPP MO later), kept as entries that point at facts the store
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
use std::sync::Arc;

use jiff::Timestamp;

use crate::account::{Account, AccountId};
use crate::dispatch::{Record, Report};
use crate::inbound::InboundMessage;
use crate::message::MessageId;
use crate::money::Money;
use crate::smpp_receipt;

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
    /// An SMPP delivery receipt (deliver_sm or data_sm) sent to a receiver or transceiver bind of
    /// the account, in the receipt format and PDU its SMPP settings name when it is sent. Its fact
    /// is a [`Fact::StatusChange`]; it waits while the account has no such bind.
    SmppReceipt,
    /// An inbound (MO) message POSTed to the account's inbound URL in CM's inbound JSON, the URL
    /// looked up when it is sent. Its fact is a [`Fact::Inbound`].
    InboundWebhook,
    /// An inbound (MO) message sent as a deliver_sm (esm_class 0) to a receiver or transceiver
    /// bind of the account, which has SMPP settings. Its fact is a [`Fact::Inbound`]; it waits
    /// while the account has no such bind, as receipts do.
    SmppMo,
}

impl OutboxKind {
    /// Every kind.
    pub const ALL: [OutboxKind; 5] = [
        OutboxKind::StatusWebhook,
        OutboxKind::RenderedWebhook,
        OutboxKind::SmppReceipt,
        OutboxKind::InboundWebhook,
        OutboxKind::SmppMo,
    ];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::StatusWebhook => "status_webhook",
            OutboxKind::RenderedWebhook => "rendered_webhook",
            OutboxKind::SmppReceipt => "smpp_receipt",
            OutboxKind::InboundWebhook => "inbound_webhook",
            OutboxKind::SmppMo => "smpp_mo",
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
    /// The key of every webhook about one message (its reports arrive in order).
    pub fn message(id: MessageId) -> OrderingKey {
        OrderingKey(id.to_string())
    }

    /// The key of the SMPP receipts of one message (`smpp:` and its id): its receipts arrive in
    /// order, and one waiting for a bind never holds back the message's webhooks.
    pub fn smpp_receipt(id: MessageId) -> OrderingKey {
        OrderingKey(format!("smpp:{id}"))
    }

    /// The key of the webhook of one inbound message (`mo:` and its id): inbound messages do not
    /// wait for each other, nor for any status webhook.
    pub fn inbound(id: MessageId) -> OrderingKey {
        OrderingKey(format!("mo:{id}"))
    }

    /// The key of the deliver_sm of one inbound message to its account's SMPP binds
    /// (`smpp-mo:` and its id): it never holds back the message's webhook, nor another MO.
    pub fn smpp_mo(id: MessageId) -> OrderingKey {
        OrderingKey(format!("smpp-mo:{id}"))
    }
}

/// The fact an entry says, as stored: a reference to a row the store keeps anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactRef {
    /// The `seq`-th status change of a message (its row in the status history).
    StatusChange { message_id: MessageId, seq: u32 },
    /// An inbound message (its row among the inbound messages).
    Inbound { message_id: MessageId },
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

/// What an account, and the client that submitted a message, have asked to be told about it,
/// when a status change is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subscriptions {
    /// It has a status URL: each status change is reported to it.
    pub status_webhook: bool,
    /// The SMPP `registered_delivery` the message was submitted with (0 for the HTTP surfaces):
    /// which status changes become SMPP receipts ([`smpp_receipt::wanted`]).
    pub smpp_registered_delivery: u8,
}

impl Subscriptions {
    /// What an account with this status URL asked for, for a message submitted with this
    /// `registered_delivery`.
    pub fn of(status_url: Option<&str>, smpp_registered_delivery: u8) -> Subscriptions {
        Subscriptions {
            status_webhook: status_url.is_some(),
            smpp_registered_delivery,
        }
    }
}

/// The entries the status changes of `record` produce for message `message_id` of `account`,
/// change by change in order: a status webhook when the account has a status URL (whether the
/// URL is still there, and what it is, is looked up again when each is sent), and an SMPP
/// receipt to the account when the message's `registered_delivery` asked for the state the
/// change reports ([`smpp_receipt::wanted`] of [`smpp_receipt::message_state`]).
pub fn entries(
    message_id: MessageId,
    account: AccountId,
    subscriptions: Subscriptions,
    record: &Record,
) -> Vec<NewEntry> {
    let mut entries = Vec::new();
    for change in &record.changes {
        let entry = |kind, ordering_key| NewEntry {
            kind,
            destination: Destination::Account(account),
            ordering_key,
            fact: FactRef::StatusChange {
                message_id,
                seq: change.seq,
            },
            created_at: change.at,
        };
        if subscriptions.status_webhook {
            entries.push(entry(
                OutboxKind::StatusWebhook,
                OrderingKey::message(message_id),
            ));
        }
        let state = smpp_receipt::receipted_state(change.report.status, change.report.error_code);
        if state.is_some_and(|state| {
            smpp_receipt::wanted(subscriptions.smpp_registered_delivery, state)
        }) {
            entries.push(entry(
                OutboxKind::SmppReceipt,
                OrderingKey::smpp_receipt(message_id),
            ));
        }
    }
    entries
}

/// The entry an inbound message produces when it is recorded: a webhook to its account when it
/// has one and the account has an inbound URL (whether the URL is still there, and what it is,
/// is looked up again when it is sent); none for a message nobody owns. Its retry window starts
/// when the message arrived.
pub fn inbound_entry(message: &InboundMessage, inbound_url: Option<&str>) -> Option<NewEntry> {
    inbound_url?;
    owned_entry(
        message,
        OutboxKind::InboundWebhook,
        OrderingKey::inbound(message.id),
    )
}

/// The entries an inbound message produces: [`inbound_entry`]'s webhook, and a deliver_sm to the
/// account's SMPP binds when it has SMPP settings (`smpp`), sent whenever one is bound.
pub fn inbound_entries(
    message: &InboundMessage,
    inbound_url: Option<&str>,
    smpp: bool,
) -> Vec<NewEntry> {
    let webhook = inbound_entry(message, inbound_url);
    // SMPP's deliver_sm carries an SMS; a provider's message (WhatsApp, RCS) goes to the
    // inbound URL only.
    let deliver_sm = (smpp && message.channel == crate::channel::Channel::Sms)
        .then(|| {
            owned_entry(
                message,
                OutboxKind::SmppMo,
                OrderingKey::smpp_mo(message.id),
            )
        })
        .flatten();
    webhook.into_iter().chain(deliver_sm).collect()
}

fn owned_entry(message: &InboundMessage, kind: OutboxKind, key: OrderingKey) -> Option<NewEntry> {
    Some(NewEntry {
        kind,
        destination: Destination::Account(message.account?),
        ordering_key: key,
        fact: FactRef::Inbound {
            message_id: message.id,
        },
        created_at: message.received_at,
    })
}

/// Which entries a runner claims: those of `kinds` and, when `accounts` is given, only those
/// whose destination is one of these accounts (the SMPP receipt runner claims the receipts of
/// the accounts that have a receiving bind on this node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFilter {
    pub kinds: Vec<OutboxKind>,
    pub accounts: Option<Vec<AccountId>>,
}

impl EntryFilter {
    /// Entries of `kinds`, whatever their destination.
    pub fn kinds(kinds: impl IntoIterator<Item = OutboxKind>) -> EntryFilter {
        EntryFilter {
            kinds: kinds.into_iter().collect(),
            accounts: None,
        }
    }
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
    /// When the message was accepted (an SMPP receipt's submit date).
    pub accepted_at: Timestamp,
    /// Its sender.
    pub from: String,
    /// Its content's body as stored (hex digits when `body_binary`): an Appendix B receipt's
    /// `text:` is its first 20 characters.
    pub body: String,
    /// Whether the body is binary (body type `BINARY`).
    pub body_binary: bool,
    /// What one of its parts cost ([`crate::money::per_part`]): CM's tariff TLV.
    pub part_price: Money,
    /// Its SMS parts.
    pub parts: u32,
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
    Inbound(InboundMessage),
}

impl Fact {
    /// The message it is about.
    pub fn message_id(&self) -> MessageId {
        match self {
            Fact::StatusChange(fact) => fact.message_id,
            Fact::Rendered(rendered) => rendered.message_id,
            Fact::Inbound(message) => message.id,
        }
    }
}

/// Where a claimed entry goes, as its destination stands when it is claimed.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// The account as it is now (its status URL may have changed, or be gone). Shared: the
    /// entries of one claim or one write that go to one account hold one copy (a copy each cost
    /// the writer's thread about 1 % of its time in allocations through an SMPP connector).
    Account(Arc<Account>),
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
    use crate::error_code::DeliveryError;
    use crate::message::DeliveryState;
    use crate::status::CmStatus;

    fn record(seqs: &[u32]) -> Record {
        let changes: Vec<(u32, CmStatus, Option<DeliveryError>)> = seqs
            .iter()
            .map(|&seq| (seq, CmStatus::Delivered, None))
            .collect();
        record_of(&changes)
    }

    /// A record of changes `(seq, status, error)`.
    fn record_of(changes: &[(u32, CmStatus, Option<DeliveryError>)]) -> Record {
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
            changes: changes
                .iter()
                .map(|&(seq, status, error_code)| StatusChange {
                    seq,
                    at: at + jiff::SignedDuration::from_secs(seq.into()),
                    report: Report {
                        channel: Channel::Sms,
                        status,
                        error_code,
                        operator: None,
                        detail: None,
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn each_status_change_of_an_account_with_a_status_url_is_one_status_webhook() {
        let id = MessageId::generate();
        let record = record(&[3, 4]);
        let subscribed = Subscriptions::of(Some("http://example.com/status"), 0);
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
        assert_eq!(
            OutboxKind::parse("smpp_receipt"),
            Some(OutboxKind::SmppReceipt)
        );
        assert_eq!(OutboxKind::parse("smpp"), None);
    }

    #[test]
    fn a_receipts_ordering_key_is_its_messages_id_behind_smpp() {
        let id = MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap();
        assert_eq!(
            OrderingKey::smpp_receipt(id),
            OrderingKey("smpp:0195d3b2-c4e4-7a1b-9c3f-00112233aabb".into())
        );
        assert_ne!(OrderingKey::smpp_receipt(id), OrderingKey::message(id));
    }

    /// The kinds and seqs of the entries `registered_delivery` gives for `changes`, for an
    /// account with a status URL or without.
    fn kinds(
        status_url: bool,
        registered_delivery: u8,
        changes: &[(u32, CmStatus, Option<DeliveryError>)],
    ) -> Vec<(OutboxKind, u32)> {
        let id = MessageId::generate();
        let url = status_url.then_some("http://example.com/status");
        entries(
            id,
            7,
            Subscriptions::of(url, registered_delivery),
            &record_of(changes),
        )
        .into_iter()
        .map(|entry| {
            let FactRef::StatusChange { message_id, seq } = entry.fact else {
                panic!("a status change's entry points at it: {entry:?}");
            };
            assert_eq!(message_id, id);
            assert_eq!(entry.destination, Destination::Account(7));
            let key = match entry.kind {
                OutboxKind::SmppReceipt => OrderingKey::smpp_receipt(id),
                _ => OrderingKey::message(id),
            };
            assert_eq!(entry.ordering_key, key);
            (entry.kind, seq)
        })
        .collect()
    }

    #[test]
    fn registered_delivery_chooses_which_status_changes_become_smpp_receipts() {
        use OutboxKind::{SmppReceipt as Receipt, StatusWebhook as Webhook};
        let accepted = (1, CmStatus::Accepted, None);
        let delivered = (2, CmStatus::Delivered, None);
        let failed = (
            2,
            CmStatus::Failed,
            Some(DeliveryError::NotDeliveredAtThirdParty),
        );
        let expired = (
            2,
            CmStatus::Failed,
            Some(DeliveryError::ExpiredAtThirdParty),
        );
        let rejected = (1, CmStatus::Rejected, None);
        // Without a status URL, only receipts.
        assert_eq!(kinds(false, 0, &[accepted, delivered]), []);
        assert_eq!(kinds(false, 1, &[accepted, delivered]), [(Receipt, 2)]);
        assert_eq!(kinds(false, 1, &[accepted, failed]), [(Receipt, 2)]);
        assert_eq!(kinds(false, 1, &[rejected]), [(Receipt, 1)]);
        assert_eq!(kinds(false, 2, &[accepted, delivered]), []);
        assert_eq!(kinds(false, 2, &[accepted, failed]), [(Receipt, 2)]);
        assert_eq!(kinds(false, 2, &[accepted, expired]), [(Receipt, 2)]);
        assert_eq!(kinds(false, 2, &[rejected]), [(Receipt, 1)]);
        assert_eq!(kinds(false, 0x10, &[accepted, delivered]), [(Receipt, 1)]);
        assert_eq!(
            kinds(false, 0x11, &[accepted, delivered]),
            [(Receipt, 1), (Receipt, 2)]
        );
        // With one, a webhook for every change besides, change by change.
        assert_eq!(
            kinds(true, 1, &[accepted, delivered]),
            [(Webhook, 1), (Webhook, 2), (Receipt, 2)]
        );
        assert_eq!(
            kinds(true, 0, &[accepted, failed]),
            [(Webhook, 1), (Webhook, 2)]
        );
        // Read after delivered: its webhook, but no second DELIVRD receipt.
        let read = (3, CmStatus::Read, None);
        assert_eq!(
            kinds(false, 0x11, &[accepted, delivered, read]),
            [(Receipt, 1), (Receipt, 2)]
        );
        assert_eq!(
            kinds(true, 1, &[delivered, read]),
            [(Webhook, 2), (Receipt, 2), (Webhook, 3)]
        );
    }

    #[test]
    fn an_inbound_message_is_one_webhook_for_an_owner_with_an_inbound_url() {
        let message = InboundMessage {
            id: MessageId::generate(),
            account: Some(7),
            connector: "smsc1".into(),
            channel: Channel::Sms,
            from: "0031612345678".into(),
            to: "3669".into(),
            text: "Hi".into(),
            parts: 1,
            received_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            extras: Default::default(),
        };
        assert_eq!(
            inbound_entry(&message, Some("http://example.com/mo")),
            Some(NewEntry {
                kind: OutboxKind::InboundWebhook,
                destination: Destination::Account(7),
                ordering_key: OrderingKey(format!("mo:{}", message.id)),
                fact: FactRef::Inbound {
                    message_id: message.id
                },
                created_at: message.received_at,
            })
        );
        assert_eq!(inbound_entry(&message, None), None);
        let unowned = InboundMessage {
            account: None,
            ..message.clone()
        };
        assert_eq!(inbound_entry(&unowned, Some("http://example.com/mo")), None);
        // An account with SMPP gets the deliver_sm too, with or without a URL; nobody's gets none.
        let kinds = |entries: Vec<NewEntry>| -> Vec<(OutboxKind, String)> {
            entries
                .into_iter()
                .map(|entry| (entry.kind, entry.ordering_key.0))
                .collect()
        };
        assert_eq!(
            kinds(inbound_entries(
                &message,
                Some("http://example.com/mo"),
                true
            )),
            vec![
                (OutboxKind::InboundWebhook, format!("mo:{}", message.id)),
                (OutboxKind::SmppMo, format!("smpp-mo:{}", message.id)),
            ]
        );
        assert_eq!(
            kinds(inbound_entries(&message, None, true)),
            vec![(OutboxKind::SmppMo, format!("smpp-mo:{}", message.id))]
        );
        assert!(inbound_entries(&unowned, Some("http://example.com/mo"), true).is_empty());
    }

    #[test]
    fn the_entry_filter_of_kinds_takes_every_destination() {
        assert_eq!(
            EntryFilter::kinds([OutboxKind::StatusWebhook]),
            EntryFilter {
                kinds: vec![OutboxKind::StatusWebhook],
                accounts: None
            }
        );
    }
}
