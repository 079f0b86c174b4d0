//! The store port, split by role so that each consumer takes only what it uses: the submission
//! service the [`AccountStore`] and the [`IntakeStore`], the dispatcher and the event applier the
//! [`QueueStore`], the outbox runners (the notifier, the SMPP receipt runner) the
//! [`OutboxStore`], the message log the [`MessageLogStore`], connectors that receive inbound
//! (MO) messages the [`InboundStore`], push registration and the push connector the
//! [`PushStore`], the readiness probe the [`StoreHealth`], the metrics' sampler the
//! [`StoreDepths`], idle nodes of a shared store the
//! [`StoreSignals`], the nodes' liveness and leases the [`ClusterStore`], the SMPP server's per-account
//! rates the [`RateStore`], the blocklists (opt-outs) the [`BlocklistStore`]. A backend implements every role; [`Store`] names them
//! together. A backend records the decisions of `tern-core` (what an event does to a message, what
//! a debit leaves, which status changes produce which outbox entries): it makes none of its own, so that a second
//! backend behaves as the first by construction. What each method guarantees is written here and
//! checked for every backend by the one conformance suite in `crates/tern-store/tests/`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::account::{Account, AccountChange, AccountId, NewAccount, TokenHash};
use crate::blocklist::{BlockScope, BlockedNumber, OptOutKeywords};
use crate::channel::Channel;
use crate::dispatch::{CancelOutcome, Event, Next, Progress, ReplaceOutcome, Replacement};
use crate::funnel::Funnel;
use crate::hold::Hold;
use crate::idempotency::{IdempotencyKey, KeyRecord};
use crate::inbound::{InboundMessage, InboundPart};
use crate::message::{
    Content, MessageFilter, MessageId, MessageRecord, NewMessage, Segment, SegmentKey,
};
use crate::money::Money;
use crate::outbox::{ClaimedEntry, EntryFilter, EntryId, OutboxKind, Outcome};
use crate::push::{AppKey, Installation, InstallationId, NewPushApp, PushApp, PushAppListing};
use tern_proto::push_sdk::Registration;

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
    /// The idempotency key is stored already for the account (another request committed it
    /// first): nothing was stored; that request's response is the answer.
    #[error("idempotency key already stored")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The node that holds a lease: claims are made in its name, and [`QueueStore::release_leases`]
/// releases only its own. The embedded store has one node (guarded by a lock on its data
/// directory); several nodes on one database each have their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// The node of the embedded store: one per data directory, the same across restarts, so a
    /// restart finds the leases it held before.
    pub const EMBEDDED: &str = "embedded";

    pub fn new(name: impl Into<Arc<str>>) -> NodeId {
        NodeId(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
    /// Where it belongs when it is a segment of a concatenated message: a claim hands the
    /// segments of one group on together, one after the other in order, and the dispatcher
    /// sends them so (see `segments`).
    pub segment: Option<Segment>,
    /// How long it is this node's to send: the dispatcher sets it from the claim's lease
    /// ([`crate::hold`]); a store hands it out held always.
    pub hold: Hold,
}

impl Dispatch {
    /// What a connector needs of `message` in `progress`: on its current channel and attempt.
    pub fn of(message: NewMessage, progress: &Progress) -> Dispatch {
        Dispatch {
            id: message.id,
            account_id: message.account_id,
            attempt: progress.attempt,
            channel: progress.channel(),
            recipient: message.recipient,
            content: message.content,
            parts: message.parts,
            reference: message.reference,
            segment: message.segment,
            hold: Hold::ALWAYS,
        }
    }

    /// The key of the concatenated message it is a segment of, when it is one.
    pub fn segment_key(&self) -> Option<SegmentKey> {
        self.segment
            .map(|segment| SegmentKey::of(segment, self.account_id, &self.content, &self.recipient))
    }
}

/// A message whose report is awaited (see [`QueueStore::awaiting_report`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AwaitingReport {
    /// The message, on the channel and attempt that took it.
    pub message: Dispatch,
    /// The connector that took that attempt; `None` when no send of it was recorded with one
    /// (a message sent by a Tern that did not keep it).
    pub connector: Option<Arc<str>>,
}

/// A part a channel named, found by the id the channel gave it (see [`QueueStore::sent_part`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPart {
    pub message_id: MessageId,
    /// The send that handed it over (a receipt of an earlier attempt is stale).
    pub attempt: u32,
    /// Its position in the message, from 0.
    pub part_index: u32,
}

/// Accounts: who may submit, what they may spend, where their reports go.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Create an account; a token, an SMPP system id, or an inbound number (as given: normalised
    /// by the caller) that exists already is a [`StoreError::Conflict`] (nothing is created).
    /// Accounts without SMPP settings never conflict over them.
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError>;
    /// Every account, oldest first.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Change account `id` as `change` says, all or nothing, and return it as it is then;
    /// `None` when there is no such account. A token, an SMPP system id or an inbound number
    /// another account has is a [`StoreError::Conflict`] (nothing is changed). The balance is
    /// added to in the store (a change racing with debits loses none of them).
    async fn update_account(
        &self,
        id: AccountId,
        change: AccountChange,
    ) -> Result<Option<Account>, StoreError>;
    /// The account whose token hashes to `hash`; a disabled account is not found (this and
    /// [`AccountStore::account_by_smpp_system_id`] are how every surface finds an account, so a
    /// disabled one is answered as an unknown token is, everywhere).
    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError>;
    /// The account whose SMPP system id is exactly `system_id` (case-sensitive), what a bind
    /// names; its password is checked by the caller ([`crate::smpp_account::SmppSettings::verify`]).
    /// A disabled account is not found.
    async fn account_by_smpp_system_id(
        &self,
        system_id: &str,
    ) -> Result<Option<Account>, StoreError>;
}

/// Intake: accepted messages into the queue.
#[async_trait]
pub trait IntakeStore: Send + Sync + 'static {
    /// Store and queue `messages` of `account`, each due at once (from its `accepted_at`), all or
    /// nothing, durably (fsynced) before returning: when any of them cannot be stored, none is
    /// and nothing is debited. With a `charge`, the account's balance is read and debited by it
    /// in the same transaction, as [`crate::money::debit`] decides
    /// ([`AcceptError::InsufficientBalance`] and nothing stored when it says no), so that
    /// requests racing on one balance (on one node or several) never overdraw it; an account
    /// stored without a balance is not debited. Without a `charge` (an account with no balance)
    /// nothing is debited, whatever the stored balance. Messages that share one [`Content`] in
    /// memory (the recipients of one `msg`) share it in the store too: a content is written
    /// once. An account that does not exist is a [`StoreError::Conflict`], with a charge or
    /// without.
    async fn accept(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError>;
    /// [`IntakeStore::accept`], with the idempotency `key` stored in the same transaction as
    /// the messages (a key is never stored without its messages, nor they without it). Keys are
    /// unique per account: when the account has `key.key` stored at or after
    /// [`KeyRecord::replaces_before`] (by an earlier request, or by one in the same commit, or
    /// on another node), nothing is stored or debited and the answer is
    /// [`AcceptError::KeyTaken`]; an older one is replaced.
    async fn accept_once(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
        key: KeyRecord,
    ) -> Result<(), AcceptError>;
    /// The record of `key` of `account` stored at or after `since`, if any.
    async fn key_record(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        since: Timestamp,
    ) -> Result<Option<KeyRecord>, StoreError>;
    /// Delete up to `limit` keys stored before `before` (the messages stay); how many went.
    async fn forget_keys(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError>;
    /// How many submitted messages are waiting on the store right now. Delivery takes smaller
    /// batches while many are, so that a burst of submissions is taken in first; delivery never
    /// stops.
    fn intake_waiting(&self) -> usize {
        0
    }
    /// From now on, hand the messages `runner` has room for straight to it as they are accepted,
    /// instead of leaving them for a claim ([`QueueStore::claim_due`]): a message due at once
    /// that [`crate::dispatch::claim`] would send is written already claimed (its attempt
    /// counted, leased to this node for the runner's lease) and handed to
    /// [`FreshMessages::hand`] once its transaction is durable. Only while the runner has room
    /// ([`FreshMessages::reserve`]), and never a segment of a concatenated message (a claim
    /// decides its group); a store may also write everything due while submissions press it,
    /// so that delivery does not take intake's time during a burst. A message not handed is written due, as ever. A handed message is
    /// recorded as a claimed one is ([`QueueStore::apply_batch`]); one never sent (the process
    /// died, the runner dropped it) is claimed again when its lease ends, or after
    /// [`QueueStore::release_leases`]. A runner asking replaces the one before. Returns whether
    /// this store hands messages (`false`: it writes every message due).
    fn hand_fresh_messages(&self, runner: Arc<dyn FreshMessages>) -> bool {
        let _ = runner;
        false
    }
}

/// A dispatcher that takes fresh messages straight from intake (see
/// [`IntakeStore::hand_fresh_messages`]).
pub trait FreshMessages: Send + Sync + 'static {
    /// The lease it sends under (as it claims).
    fn lease(&self) -> SignedDuration;
    /// Room for one more message now: reserve it (`false`: none, or the runner stopped; write
    /// the message due). Each reservation ends with the message handed, or with
    /// [`FreshMessages::unreserve`].
    fn reserve(&self) -> bool;
    /// `count` reservations whose messages were not written after all (their transaction
    /// failed).
    fn unreserve(&self, count: usize);
    /// Messages written claimed by this node, durably, each on a reservation, leased from no
    /// earlier than `leased_from`: send them and record what became of them.
    fn hand(&self, messages: Vec<Dispatch>, leased_from: std::time::Instant);
}

/// The events of a batch for [`QueueStore::apply_batch`] by message: each message once, in the
/// order it first appears, with the positions of its events in order. A backend loads and
/// writes each message once, deciding its events one after the other.
pub fn events_by_message(events: &[(MessageId, Event)]) -> Vec<(MessageId, Vec<usize>)> {
    let mut positions: std::collections::HashMap<MessageId, usize> =
        std::collections::HashMap::new();
    let mut grouped: Vec<(MessageId, Vec<usize>)> = Vec::new();
    for (index, (id, _)) in events.iter().enumerate() {
        let at = *positions.entry(*id).or_insert_with(|| {
            grouped.push((*id, Vec::new()));
            grouped.len() - 1
        });
        grouped[at].1.push(index);
    }
    grouped
}

/// The dispatch queue: due messages claimed under leases, events applied to them.
#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Claim up to `limit` due messages, earliest due first (and returned in that order), under a
    /// lease of `lease` held in this node's name (each is due again when it ends, unless an event
    /// settles it first), applying [`Event::Due`] to each: the ones to send now are returned;
    /// expired ones (also those waiting on a channel's report past their validity) are finished
    /// and reported. A due segment of a concatenated message still waiting for its group is
    /// decided with its group (`segments::group_due`, on every waiting segment of its key, in the
    /// order they were stored): kept waiting, each is due again when the group's hold ends;
    /// handed on, every segment of the group is claimed in this claim, whatever the limit, and
    /// returned one after the other in the order decided. The claim is returned in
    /// `segments::send_order` (segments of one key claimed again together, in order).
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError>;
    /// Apply `event` to a message, recording what [`crate::dispatch::apply`] decides (its status
    /// changes and their outbox entries included) in one transaction.
    async fn apply(&self, id: MessageId, event: Event, now: Timestamp) -> Result<Next, StoreError> {
        let mut next = self.apply_batch(vec![(id, event)], now).await?;
        Ok(next.pop().unwrap_or(Next::Ignore))
    }
    /// Apply each event in order, all in one transaction (a batch costs the store about what one
    /// event does); returns what comes next for each, in the same order. Events of one message
    /// see the effects of the ones before them. Events of unknown messages are ignored.
    async fn apply_batch(
        &self,
        events: Vec<(MessageId, Event)>,
        now: Timestamp,
    ) -> Result<Vec<Next>, StoreError>;
    /// Release every lease this node held before it stopped (messages and outbox entries it had claimed),
    /// so a restart resumes at once instead of waiting for leases to run out. Only for a node's own
    /// leases: the embedded store has one node, guarded by a lock on its data directory.
    async fn release_leases(&self, now: Timestamp) -> Result<(), StoreError>;
    /// The part that `connector` named `external_id` when it took it (recorded with
    /// [`Event::Sent`], also when the send itself changed nothing), for a receipt or webhook that
    /// names only the channel's id; `None` when that connector gave no part that id. Ids are
    /// scoped by connector; a connector that gives an id again (after wrapping around) names its
    /// latest part with it.
    async fn sent_part(
        &self,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<SentPart>, StoreError>;
    /// Messages handed to a channel whose report is still awaited (sent or accepted, not yet
    /// final), on the channel and attempt that took them, with the connector that took that
    /// attempt, in no particular order (for connectors to resume).
    async fn awaiting_report(&self) -> Result<Vec<AwaitingReport>, StoreError>;
    /// The earliest time a message becomes due, if any (a claimed message's is the end of its
    /// lease; a message handed to a channel's, the end of its validity).
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Cancel message `id` of `account` (SMPP's cancel_sm) at `now`, as
    /// [`crate::dispatch::cancel`] decides, in one transaction: a message still queued and never
    /// handed to a channel becomes [`crate::message::DeliveryState::Cancelled`], leaves the
    /// queue (never claimed again), gets no status change (no report, no receipt), and its
    /// account, when it has a balance, is credited its price ([`crate::money::credit`]).
    /// [`CancelOutcome::NotFound`] when the account has no such message (another account's
    /// included); [`CancelOutcome::TooLate`] for any other (also one cancelled before: a second
    /// cancel changes nothing).
    async fn cancel(
        &self,
        account: AccountId,
        id: MessageId,
        now: Timestamp,
    ) -> Result<CancelOutcome, StoreError>;
    /// Replace the content of message `id` of `account` (SMPP's replace_sm) at `now` with
    /// `replacement` ([`crate::short_message::judge_replacement`]'s), in one transaction, when
    /// it is [`crate::dispatch::still_queued`]: its body, body type, `dcs`, header, parts and
    /// price become the replacement's (sender, groupings and the rest of its content stay), and
    /// its validity and `registered_delivery` too when the replacement gives them; an account
    /// with a balance is debited or credited the difference in price as
    /// [`crate::money::reprice`] decides ([`ReplaceOutcome::InsufficientBalance`] and nothing
    /// changed when it cannot pay it). [`ReplaceOutcome::NotFound`] when the account has no
    /// such message; [`ReplaceOutcome::TooLate`] when it is no longer only queued.
    async fn replace(
        &self,
        account: AccountId,
        id: MessageId,
        replacement: Replacement,
        now: Timestamp,
    ) -> Result<ReplaceOutcome, StoreError>;
}

/// The outbox: entries waiting to be delivered (see [`crate::outbox`]), claimed under leases in
/// the name of the store's node. Entries are written by [`QueueStore`] with the status changes
/// they report, as [`crate::outbox::entries`] decides.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claim up to `limit` due entries that `filter` takes (of its kinds and, when it names
    /// accounts, going to one of them), earliest due first, leased to this node for `lease`
    /// (their attempts counted), each with its fact and its destination as they are now. At most
    /// one entry per ordering key is out at a time, and it is the key's lowest: while an entry
    /// is leased or waiting for a retry, the entries after it on its key are not handed out.
    async fn claim_entries(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
        filter: &EntryFilter,
    ) -> Result<Vec<ClaimedEntry>, StoreError>;
    /// Record what became of a claimed entry.
    async fn finish_entry(&self, id: EntryId, outcome: Outcome) -> Result<(), StoreError> {
        self.finish_entries(vec![(id, outcome)]).await
    }
    /// Record what became of several claimed entries, in one transaction: a delivered or given
    /// up entry is removed, a retried one is due again at its time (and no longer leased).
    async fn finish_entries(&self, outcomes: Vec<(EntryId, Outcome)>) -> Result<(), StoreError>;
    /// The earliest time an entry that `filter` takes becomes due, if any (a runner sleeps until
    /// then; entries it never claims do not wake it).
    async fn next_entry_due(&self, filter: &EntryFilter) -> Result<Option<Timestamp>, StoreError>;
    /// Remove the entries of `kind` created before `created_before` that are not leased (SMPP
    /// receipts that waited for a bind past the account's retention); returns how many.
    async fn expire_entries(
        &self,
        kind: OutboxKind,
        created_before: Timestamp,
    ) -> Result<u64, StoreError>;
    /// From now on, hand the entries `runner` takes straight to it as they are written (the
    /// *fresh* entries of events applied, [`QueueStore::apply_batch`]), instead of leaving them
    /// for a claim: an entry is written already leased to this node for the runner's lease (its
    /// attempt counted, as a claim counts it), and handed to [`FreshEntries::hand`] with its
    /// fact and destination once its transaction is durable. Only while the runner has room
    /// ([`FreshEntries::reserve`]) and only an entry that would be the lowest of its ordering
    /// key (no other entry of its key in the outbox): the one-at-a-time, in-order rule of
    /// [`OutboxStore::claim_entries`] holds for handed entries too. An entry not handed is
    /// written due, as ever. A handed entry is finished as a claimed one is
    /// ([`OutboxStore::finish_entries`]); one never finished (the process died, the runner
    /// dropped it) is claimed again when its lease ends, or after [`QueueStore::release_leases`].
    /// A runner asking replaces the one before. Returns whether this store hands entries
    /// (`false`: it writes every entry due).
    fn hand_fresh_entries(&self, runner: Arc<dyn FreshEntries>) -> bool {
        let _ = runner;
        false
    }
}

/// A runner that takes fresh entries straight from the transactions that write them (see
/// [`OutboxStore::hand_fresh_entries`]).
pub trait FreshEntries: Send + Sync + 'static {
    /// Whether it delivers entries of `kind`.
    fn takes(&self, kind: OutboxKind) -> bool;
    /// The lease it delivers under (as it claims).
    fn lease(&self) -> SignedDuration;
    /// Room for one more entry now: reserve it (`false`: none, or the runner stopped; write the
    /// entry due). Each reservation ends with the entry handed, or with
    /// [`FreshEntries::unreserve`].
    fn reserve(&self) -> bool;
    /// `count` reservations whose entries were not written after all (their transaction
    /// failed, or nobody waited for it).
    fn unreserve(&self, count: usize);
    /// Entries written leased to this node, durably, each on a reservation: deliver them and
    /// record their outcomes ([`OutboxStore::finish_entries`]).
    fn hand(&self, entries: Vec<ClaimedEntry>);
}

/// Entries written leased for a [`FreshEntries`] runner in a transaction not yet durable: handed
/// to it once it is ([`FreshBatch::hand`]); dropped before that (the transaction failed, nobody
/// waited for it), their reservations are given back and the entries, if written after all,
/// are claimed when their lease ends.
pub struct FreshBatch {
    runner: Arc<dyn FreshEntries>,
    entries: Vec<ClaimedEntry>,
}

impl FreshBatch {
    pub fn new(runner: Arc<dyn FreshEntries>) -> FreshBatch {
        FreshBatch {
            runner,
            entries: Vec::new(),
        }
    }

    /// The runner the entries go to.
    pub fn runner(&self) -> &dyn FreshEntries {
        &*self.runner
    }

    /// Add an entry written on a reservation of the runner's.
    pub fn push(&mut self, entry: ClaimedEntry) {
        self.entries.push(entry);
    }

    /// Entries in it.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Their transaction is durable: hand them to the runner.
    pub fn hand(mut self) {
        let entries = std::mem::take(&mut self.entries);
        if !entries.is_empty() {
            self.runner.hand(entries);
        }
    }
}

impl Drop for FreshBatch {
    fn drop(&mut self) {
        if !self.entries.is_empty() {
            self.runner.unreserve(self.entries.len());
        }
    }
}

impl fmt::Debug for FreshBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshBatch")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// The message log: what an account sent and what became of it, and conversions recorded on it.
#[async_trait]
pub trait MessageLogStore: Send + Sync + 'static {
    /// Record a conversion on every message of `account` to one of `recipients` (forms of one
    /// number) with `reference`; returns how many messages it was recorded on (each once, however
    /// many of `recipients` name it).
    async fn record_conversion(
        &self,
        account: AccountId,
        recipients: Vec<String>,
        reference: String,
        converted_at: Timestamp,
    ) -> Result<usize, StoreError>;
    /// The account's messages that match every filter given (`reference`; `recipient` as the
    /// client sent it; `state`; accepted at or after `since`), in id order (ids are time-ordered:
    /// oldest first), only those with an id after the `after` cursor, at most `limit`; each with
    /// its status history in order and its conversions. The segments of a concatenated message
    /// are one entry (`segments::group_record`, with `segments` set) at the place of the segment
    /// stored first, the filters but the state read on that segment, the state filter on the
    /// group's state (`segments::group_state`); `after` and `limit` count entries.
    async fn messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError>;
    /// Message `id` of `account`, as the log shows it (SMPP's query_sm); `None` when there is
    /// no such message or it is another account's.
    async fn message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError>;
    /// The account's inbound (MO) messages that match `filter`'s `recipient` (their `to`, as
    /// the channel gave it) and `since` (arrived at or after), in id order, only those with an
    /// id after the `after` cursor, at most `limit` (its `reference` and `state` are not read:
    /// whether the log asks for inbound messages at all is
    /// [`crate::inbound::log_takes_inbound`]).
    async fn inbound_messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<InboundMessage>, StoreError>;
    /// The delivery funnel of the messages `account` sent that were accepted at or after `since`
    /// and before `until` (either bound may be absent): every such message (each segment an SMPP
    /// client concatenated itself counts as one) folded into a [`Funnel`] with [`Funnel::add`],
    /// its [`Journey`](crate::funnel::Journey) read from its current channel, state and status history in order.
    async fn funnel(
        &self,
        account: AccountId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Funnel, StoreError>;
}

/// Inbound (MO) messages: the parts connectors receive, assembled, owned and queued for their
/// accounts' inbound URLs as [`crate::inbound`] and [`crate::outbox::inbound_entry`] decide.
#[async_trait]
pub trait InboundStore: Send + Sync + 'static {
    /// Store MO parts durably (fsynced before returning, in one transaction; a batch costs about
    /// what one part does). A part alone (no concatenation, or one that makes no sense:
    /// [`InboundPart::concatenation`]) becomes an inbound message at once; a part of a
    /// concatenated message is kept until every part of its key ([`InboundPart::key`]) is there
    /// ([`crate::inbound::complete`]), then the message is assembled
    /// ([`crate::inbound::assemble`]) and its parts removed; a duplicate part (a number of its key
    /// already kept) is ignored. Each message gets its owner, the account with the inbound number
    /// [`crate::inbound::owner_key`] of its `to` (none when no account has it), and the outbox
    /// entry [`crate::outbox::inbound_entry`] gives for that account's inbound URL.
    async fn accept_inbound(&self, parts: Vec<InboundPart>) -> Result<(), StoreError>;
    /// Store messages a channel provider delivered whole, durably (fsynced before returning, in
    /// one transaction), each for its `account` with the entries
    /// [`crate::outbox::inbound_entries`] gives; one whose provider id the connector gave before
    /// (a provider's redelivery) is not recorded again. A message that `answers` one of Tern's
    /// (by the id the connector was given for it) gets that message's reference (its id when it
    /// has none) as its `messageContext`. Returns the ids of the messages recorded now.
    async fn accept_provider_inbound(
        &self,
        messages: Vec<crate::inbound::ProviderInbound>,
    ) -> Result<Vec<crate::message::MessageId>, StoreError>;
    /// Assemble, as they are, the concatenated messages whose earliest kept part arrived before
    /// `older_than` (a part never came), as [`InboundStore::accept_inbound`] assembles a complete
    /// one; returns how many messages.
    async fn flush_inbound_parts(&self, older_than: Timestamp) -> Result<u64, StoreError>;
    /// Delete the inbound messages that belong to no account and arrived before `older_than`
    /// (kept [`crate::inbound::UNOWNED_RETENTION`]); returns how many.
    async fn purge_unowned_inbound(&self, older_than: Timestamp) -> Result<u64, StoreError>;
}

/// Push apps and the devices registered under them with CM's app SDK ([`crate::push`]): the
/// `tern app` commands create and list apps, the registration endpoints keep installations, and
/// the push connector finds the installations of a number and forgets those FCM says are gone.
/// Every write is durable (fsynced) before it returns.
#[async_trait]
pub trait PushStore: Send + Sync + 'static {
    /// Create a push app; a key that exists already is a [`StoreError::Conflict`].
    async fn create_app(&self, app: NewPushApp) -> Result<PushApp, StoreError>;
    /// Every push app with its number of installations, oldest first.
    async fn apps(&self) -> Result<Vec<PushAppListing>, StoreError>;
    /// The app with key `key`.
    async fn app_by_key(&self, key: AppKey) -> Result<Option<PushApp>, StoreError>;
    /// Keep `installation` (under its `app_key`, which the caller checked exists). An
    /// installation of the same app with the same push token is replaced (the device registered
    /// again after losing its installation id): one device never gets a message twice.
    async fn register_installation(&self, installation: Installation) -> Result<(), StoreError>;
    /// Replace what installation `id` of app `app_key` registered with `device`, as of `now`
    /// (another installation of the app with the new push token is removed); `None` when the
    /// app has no installation `id`.
    async fn update_installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
        device: Registration,
        now: Timestamp,
    ) -> Result<Option<Installation>, StoreError>;
    /// Forget installation `id` of app `app_key`; whether there was one.
    async fn remove_installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<bool, StoreError>;
    /// Installation `id` of app `app_key`.
    async fn installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<Option<Installation>, StoreError>;
    /// The installations of app `app_key` registered with number `msisdn` (the `00` form),
    /// oldest first.
    async fn installations_for(
        &self,
        app_key: AppKey,
        msisdn: &str,
    ) -> Result<Vec<Installation>, StoreError>;
    /// Forget the installations of app `app_key` with push token `push_token` (FCM said it is
    /// gone); how many.
    async fn remove_installation_by_token(
        &self,
        app_key: AppKey,
        push_token: &str,
    ) -> Result<u64, StoreError>;
}

/// Whether the store can work.
#[async_trait]
pub trait StoreHealth: Send + Sync + 'static {
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
}

/// How much work waits in the store: sampled every few seconds for the gateway's metrics
/// (`tern_queue_depth`, `tern_outbox_depth`), so each is one cheap count over an index.
#[async_trait]
pub trait StoreDepths: Send + Sync + 'static {
    /// Messages due to be sent at `now`: claimable now (neither leased, nor waiting for a report
    /// or a retry that is not due yet, nor final).
    async fn due_messages(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Outbox entries (status reports, SMPP receipts and MO, inbound webhooks) not delivered yet:
    /// due, leased or scheduled for a retry.
    async fn waiting_entries(&self) -> Result<u64, StoreError>;
}

/// Per-account rates shared by every node (the SMPP server's `--smpp-rate`): the store decides,
/// not a node's memory, so the rate holds for the gateway as a whole however many nodes the
/// account's binds are on.
#[async_trait]
pub trait RateStore: Send + Sync + 'static {
    /// Take `parts` at `now` from `account`'s bucket of `rate` parts per second, as
    /// [`crate::rate::take_stored`] decides, atomically across nodes: `true` when they fit,
    /// `false` (nothing taken) when they do not.
    async fn take_rate(
        &self,
        account: AccountId,
        rate: std::num::NonZeroU32,
        parts: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// The blocklists ([`crate::blocklist`]): per account and global, numbers in
/// [`crate::blocklist::normalise`]'s form. Every write is durable (fsynced) before it returns.
/// The inbound roles record opt-outs with the messages that make them: an inbound message owned
/// by an account whose text is an opt-out keyword or `START`
/// ([`crate::blocklist::opt_out_change`], with the keywords
/// [`BlocklistStore::set_opt_out_keywords`] gave, [`OptOutKeywords::default`] until then) blocks
/// (or unblocks) its sender on that account's list in the transaction that records it, and is
/// recorded with `extras.opt_out` set when it blocked.
#[async_trait]
pub trait BlocklistStore: Send + Sync + 'static {
    /// Put `numbers` on `scope`'s list at `now` (a number already on it keeps its time); returns
    /// how many were not on it before.
    async fn block(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
    /// Take `numbers` off `scope`'s list; returns how many were on it.
    async fn unblock(&self, scope: BlockScope, numbers: Vec<String>) -> Result<u64, StoreError>;
    /// The numbers on `scope`'s list (every list when `None`), by scope (the global list first,
    /// then by account id), then by number.
    async fn blocked_numbers(
        &self,
        scope: Option<BlockScope>,
    ) -> Result<Vec<BlockedNumber>, StoreError>;
    /// Which of `numbers` are blocked for `account` (on its list or the global one), each once,
    /// in no particular order.
    async fn blocked_among(
        &self,
        account: AccountId,
        numbers: Vec<String>,
    ) -> Result<Vec<String>, StoreError>;
    /// Whether no number is on any list, as far as this handle knows without a read (a cache's
    /// fresh copy); `false` when it cannot tell. A submission skips its lookup when it is
    /// `true`.
    fn known_empty(&self) -> bool {
        false
    }
    /// A number that changes whenever a list changes (every number put on or taken off a list,
    /// by any process or node, opt-outs included) and only then, so that a cache of the lists
    /// reads them again only when they changed.
    async fn blocklist_version(&self) -> Result<i64, StoreError>;
    /// The opt-out keywords inbound messages are judged by from now on (config
    /// `[optout] keywords`).
    fn set_opt_out_keywords(&self, keywords: OptOutKeywords);
}

/// What another node wrote that may be work for this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkSignal {
    /// Messages were queued (accepted, or due again).
    Dispatch,
    /// Outbox entries were written (reports, receipts, inbound webhooks).
    Outbox,
    /// Signals may have been missed (the backend's notification channel was lost and is being
    /// restored): look for every kind of work.
    Missed,
}

/// Signals from the other nodes of a shared store, so that an idle node wakes when work arrives
/// instead of at its next poll. Signals are hints: they may come late, twice or not at all, and
/// a node still polls (the dispatcher and the outbox runners sleep at most a moment); a node's
/// own writes wake it without them.
#[async_trait]
pub trait StoreSignals: Send + Sync + 'static {
    /// The next signal; `None` when this store never signals (one node: the embedded store).
    async fn next_signal(&self) -> Option<WorkSignal> {
        None
    }
}

/// The nodes of a gateway on one store, for the leases they hold: each node says it is alive
/// every few seconds ([`ClusterStore::heartbeat`]); a node that has not for a lease's length is
/// dead, and any other node releases what it held ([`ClusterStore::take_over_dead_nodes`]): its
/// claimed messages and its outbox entries are due again at once, for whichever node claims them
/// first. The embedded store has one node: it is always alive, alone.
#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Record that this node is alive at `now`.
    async fn heartbeat(&self, _now: Timestamp) -> Result<(), StoreError> {
        Ok(())
    }
    /// The nodes alive at `now` (a heartbeat within `lease`), this one included, by name.
    async fn live_nodes(
        &self,
        _now: Timestamp,
        _lease: SignedDuration,
    ) -> Result<Vec<NodeId>, StoreError>;
    /// Release the leases of every other node whose last heartbeat is older than `lease` at
    /// `now` (its messages and outbox entries due at `now`, leased by nobody) and forget those
    /// nodes; returns each node taken over with how many leases it held.
    async fn take_over_dead_nodes(
        &self,
        _now: Timestamp,
        _lease: SignedDuration,
    ) -> Result<Vec<(NodeId, u64)>, StoreError> {
        Ok(Vec::new())
    }
    /// This node stops: forget it (its leases are released by
    /// [`QueueStore::release_leases`]).
    async fn leave(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Every role of one backend: what a store factory hands the binary, which gives each consumer
/// the role it needs.
pub trait Store:
    AccountStore
    + IntakeStore
    + QueueStore
    + OutboxStore
    + MessageLogStore
    + InboundStore
    + PushStore
    + StoreHealth
    + StoreDepths
    + StoreSignals
    + ClusterStore
    + RateStore
    + BlocklistStore
{
}

impl<T> Store for T where
    T: AccountStore
        + IntakeStore
        + QueueStore
        + OutboxStore
        + MessageLogStore
        + InboundStore
        + PushStore
        + StoreHealth
        + StoreDepths
        + StoreSignals
        + ClusterStore
        + RateStore
        + BlocklistStore
{
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::outbox::OrderingKey;

    #[derive(Default)]
    struct Counting {
        reserved: Mutex<usize>,
        handed: Mutex<Vec<crate::outbox::EntryId>>,
    }

    impl FreshEntries for Counting {
        fn takes(&self, _: OutboxKind) -> bool {
            true
        }
        fn lease(&self) -> SignedDuration {
            SignedDuration::from_secs(1)
        }
        fn reserve(&self) -> bool {
            *self.reserved.lock().unwrap() += 1;
            true
        }
        fn unreserve(&self, count: usize) {
            *self.reserved.lock().unwrap() -= count;
        }
        fn hand(&self, entries: Vec<ClaimedEntry>) {
            let mut handed = self.handed.lock().unwrap();
            handed.extend(entries.iter().map(|entry| entry.id));
        }
    }

    fn entry(id: crate::outbox::EntryId) -> ClaimedEntry {
        ClaimedEntry {
            id,
            kind: OutboxKind::StatusWebhook,
            ordering_key: OrderingKey(id.to_string()),
            attempts: 0,
            created_at: Timestamp::UNIX_EPOCH,
            destination: None,
            fact: None,
        }
    }

    #[test]
    fn a_fresh_batch_is_handed_once_durable_and_gives_its_reservations_back_otherwise() {
        let runner = Arc::new(Counting::default());
        let mut batch = FreshBatch::new(Arc::clone(&runner) as Arc<dyn FreshEntries>);
        for id in [1, 2] {
            assert!(batch.runner().reserve());
            batch.push(entry(id));
        }
        batch.hand();
        assert_eq!(*runner.handed.lock().unwrap(), vec![1, 2]);
        assert_eq!(
            *runner.reserved.lock().unwrap(),
            2,
            "handed: still the runner's"
        );

        // Its transaction failed: dropped, its reservations given back, nothing handed.
        let mut failed = FreshBatch::new(Arc::clone(&runner) as Arc<dyn FreshEntries>);
        assert!(failed.runner().reserve());
        failed.push(entry(3));
        assert_eq!(failed.len(), 1);
        drop(failed);
        assert_eq!(*runner.reserved.lock().unwrap(), 2);
        assert_eq!(*runner.handed.lock().unwrap(), vec![1, 2]);
    }
}
