//! The [`IntakeStore`] role on SQLite: accepted messages and the balance debit in one
//! transaction of the writer's group commit.
//!
//! Submissions waiting for the writer are written together: each `accept` queues its request
//! ([`Pending`]) and sends the writer a job, and the first of those jobs to run writes every
//! request queued by then (up to [`MERGED_MESSAGES`] messages) with one balance read per account
//! and multi-row `INSERT`s. Sixty-four single-message requests cost the writer about what one
//! request of sixty-four messages does, instead of sixty-four rounds of statements.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use tern_core::account::AccountId;
use tern_core::dispatch::{self, Next, Position, Progress, Record};
use tern_core::idempotency::{IdempotencyKey, KeyRecord, Reply, RequestHash};
use tern_core::message::{Content, DeliveryState, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, Dispatch, FreshMessages, IntakeStore, NodeId, StoreError};
use tokio::sync::oneshot;

use super::rows::{millis, timestamp};
use super::writer::Completion;
use super::{SqliteStore, backend_error};

/// Rows inserted by one statement: a statement run per row cost more than the row itself
/// (docs/benchmarks.md).
const ROWS_PER_INSERT: usize = 32;

/// `OR ROLLBACK`: a statement of many rows that may fail half-way needs a journal to undo its
/// rows alone; intake has none to undo alone (see `accept`), so a conflict (an id stored twice:
/// message ids are random, content ids follow the largest one in the writer's own transaction)
/// ends the whole transaction instead.
const MESSAGE_INSERT: &str = "INSERT OR ROLLBACK INTO messages (id, account_id, recipient,
    content_id, parts, reference, channels, accepted_at, valid_until, price_micros, state,
    channel_index, attempt, due_at, events, has_groupings, source, smpp_registered_delivery,
    segment_ref, segment_total, segment_seq) VALUES ";
const MESSAGE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?, 0, ?, ?, ?, ?, ?, ?)";
/// The values of one row of [`MESSAGE_ROW`].
const MESSAGE_VALUES: usize = 17;
/// The same insert for a message without SMPP receipts or a segment (every HTTP message, most
/// SMPP ones): those four columns keep their defaults (0 and NULL), four values fewer to bind a
/// row (docs/benchmarks.md, 2026-12-01).
const PLAIN_MESSAGE_INSERT: &str = "INSERT OR ROLLBACK INTO messages (id, account_id, recipient,
    content_id, parts, reference, channels, accepted_at, valid_until, price_micros, state,
    channel_index, attempt, due_at, events, has_groupings, source) VALUES ";
const PLAIN_MESSAGE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?, 0, ?, ?)";
/// The values of one row of [`PLAIN_MESSAGE_ROW`].
const PLAIN_MESSAGE_VALUES: usize = 13;

/// The same insert for a message handed to the dispatcher as it is written
/// ([`IntakeStore::hand_fresh_messages`]): written as the claim it skips would leave it (its
/// progress and lease as [`dispatch::claim`] decides them, leased to this node).
const HANDED_MESSAGE_INSERT: &str = "INSERT OR ROLLBACK INTO messages (id, account_id, recipient,
    content_id, parts, reference, channels, accepted_at, valid_until, price_micros, state,
    channel_index, attempt, due_at, events, has_groupings, source, smpp_registered_delivery,
    segment_ref, segment_total, segment_seq, leased_by) VALUES ";
const HANDED_MESSAGE_ROW: &str =
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, NULL, NULL, NULL, ?)";
/// The values of one row of [`HANDED_MESSAGE_ROW`].
const HANDED_MESSAGE_VALUES: usize = 18;

const CONTENT_INSERT: &str = "INSERT OR ROLLBACK INTO contents (id, sender, body, body_type, dcs,
    app_key, rich_content, custom_grouping1, custom_grouping2, custom_grouping3, udh) VALUES ";
const CONTENT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The values of one row of [`CONTENT_ROW`].
const CONTENT_VALUES: usize = 11;

/// The statements intake inserts rows with, built once: [`ROWS_PER_INSERT`] rows, and one.
static MESSAGE_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| multi_row_inserts(MESSAGE_INSERT, MESSAGE_ROW));
static PLAIN_MESSAGE_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| multi_row_inserts(PLAIN_MESSAGE_INSERT, PLAIN_MESSAGE_ROW));
static HANDED_MESSAGE_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| multi_row_inserts(HANDED_MESSAGE_INSERT, HANDED_MESSAGE_ROW));
static CONTENT_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| multi_row_inserts(CONTENT_INSERT, CONTENT_ROW));

/// `insert` followed by [`ROWS_PER_INSERT`] times `row`, and by `row` once.
fn multi_row_inserts(insert: &str, row: &str) -> [String; 2] {
    let statement = |rows: usize| {
        let mut sql = String::with_capacity(insert.len() + rows * (row.len() + 2));
        sql.push_str(insert);
        for index in 0..rows {
            if index > 0 {
                sql.push_str(", ");
            }
            sql.push_str(row);
        }
        sql
    };
    [statement(ROWS_PER_INSERT), statement(1)]
}

/// Insert `rows` with `statements` (from [`multi_row_inserts`]): full statements of
/// [`ROWS_PER_INSERT`] rows, then one row at a time, so that two statements stay prepared
/// whatever the request's size.
fn insert_rows<'a, const VALUES: usize>(
    connection: &Connection,
    statements: &[String; 2],
    rows: impl ExactSizeIterator<Item = [&'a dyn ToSql; VALUES]>,
) -> rusqlite::Result<()> {
    let full = rows.len() / ROWS_PER_INSERT * ROWS_PER_INSERT;
    let (mut many, mut one) = (None, None);
    for (index, values) in rows.enumerate() {
        let (statement, size) = if index < full {
            (&mut many, ROWS_PER_INSERT)
        } else {
            (&mut one, 1)
        };
        let insert = match statement {
            Some(insert) => insert,
            None => {
                statement.insert(connection.prepare_cached(&statements[usize::from(size == 1)])?)
            }
        };
        let first = (index % size) * VALUES + 1;
        for (offset, value) in values.into_iter().enumerate() {
            insert.raw_bind_parameter(first + offset, value)?;
        }
        if (index + 1).is_multiple_of(size) {
            insert.raw_execute()?;
        }
    }
    Ok(())
}

/// The values of a `messages` row that intake derives from a [`NewMessage`].
struct Derived {
    channels: String,
    accepted_at: i64,
    valid_until: i64,
    price_micros: i64,
    has_groupings: bool,
    source: &'static str,
    /// A segment's reference, total and number (NULL for any other message).
    segment: [Option<u16>; 3],
}

impl Derived {
    fn of(message: &NewMessage) -> Derived {
        Derived {
            channels: tern_core::channel::Channel::join(&message.channels),
            accepted_at: millis(message.accepted_at),
            valid_until: millis(message.valid_until),
            price_micros: message.price.micros(),
            has_groupings: message.content.custom_groupings.iter().any(Option::is_some),
            source: message.source.as_str(),
            segment: match message.segment {
                Some(segment) => [
                    Some(segment.reference),
                    Some(u16::from(segment.total)),
                    Some(u16::from(segment.seq)),
                ],
                None => [None; 3],
            },
        }
    }
}

/// Insert accepted messages, queued and due at once, except those handed to the dispatcher
/// (`claims`, by position: the record of the claim each skips), written as claimed by `node`.
/// Messages that share one [`Content`] in memory (the recipients of one `msg`) share one
/// `contents` row, whose id intake gives: the ids after the largest stored (the writer is the
/// one connection that inserts contents).
fn insert_messages(
    connection: &Connection,
    messages: &[&NewMessage],
    claims: &[Option<HandedRow>],
    node: &NodeId,
) -> rusqlite::Result<()> {
    let mut next_id: i64 = connection
        .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM contents")?
        .query_row([], |row| row.get(0))?;
    let mut stored: HashMap<*const Content, i64> = HashMap::with_capacity(messages.len());
    let mut new_contents: Vec<(i64, &Content)> = Vec::with_capacity(messages.len());
    let content_ids: Vec<i64> = messages
        .iter()
        .map(|message| {
            *stored
                .entry(Arc::as_ptr(&message.content))
                .or_insert_with(|| {
                    let id = next_id;
                    next_id += 1;
                    new_contents.push((id, &message.content));
                    id
                })
        })
        .collect();
    insert_rows::<CONTENT_VALUES>(
        connection,
        &CONTENT_INSERTS,
        new_contents.iter().map(|(id, content)| {
            let [g1, g2, g3] = &content.custom_groupings;
            [
                id as &dyn ToSql,
                &content.from,
                &content.body,
                &content.body_type,
                &content.dcs,
                &content.app_key,
                &content.rich_content,
                g1,
                g2,
                g3,
                &content.udh,
            ]
        }),
    )?;
    // The values a message row holds that are not fields of the message.
    let derived: Vec<Derived> = messages
        .iter()
        .map(|message| Derived::of(message))
        .collect();
    let mut handed: Vec<(usize, &HandedRow)> = Vec::new();
    let mut queued: Vec<usize> = Vec::with_capacity(messages.len());
    for index in 0..messages.len() {
        match claims.get(index).and_then(Option::as_ref) {
            Some(row) => handed.push((index, row)),
            None => queued.push(index),
        }
    }
    let (plain, other): (Vec<usize>, Vec<usize>) = queued.into_iter().partition(|&index| {
        messages[index].smpp_registered_delivery == 0 && messages[index].segment.is_none()
    });
    // The two row arrays are written out in full: building the longer from the shorter (a
    // closure and `array::from_fn`) was slower in 4 of 5 interleaved rounds of `bench/ceiling.sh`
    // (batched, 2.4 points of the ceiling on average), on this, the hottest loop of intake.
    insert_rows::<PLAIN_MESSAGE_VALUES>(
        connection,
        &PLAIN_MESSAGE_INSERTS,
        plain.iter().map(|&index| {
            let (message, derived) = (messages[index], &derived[index]);
            [
                message.id.0.as_bytes() as &dyn ToSql,
                &message.account_id,
                &message.recipient,
                &content_ids[index],
                &message.parts,
                &message.reference,
                &derived.channels,
                &derived.accepted_at,
                &derived.valid_until,
                &derived.price_micros,
                // Due at once.
                &derived.accepted_at,
                &derived.has_groupings,
                &derived.source,
            ]
        }),
    )?;
    insert_rows::<MESSAGE_VALUES>(
        connection,
        &MESSAGE_INSERTS,
        other.iter().map(|&index| {
            let (message, derived) = (messages[index], &derived[index]);
            [
                message.id.0.as_bytes() as &dyn ToSql,
                &message.account_id,
                &message.recipient,
                &content_ids[index],
                &message.parts,
                &message.reference,
                &derived.channels,
                &derived.accepted_at,
                &derived.valid_until,
                &derived.price_micros,
                // Due at once.
                &derived.accepted_at,
                &derived.has_groupings,
                &derived.source,
                &message.smpp_registered_delivery,
                &derived.segment[0],
                &derived.segment[1],
                &derived.segment[2],
            ]
        }),
    )?;
    // Never a segment: their columns stay NULL.
    let node_name = node.as_str();
    insert_rows::<HANDED_MESSAGE_VALUES>(
        connection,
        &HANDED_MESSAGE_INSERTS,
        handed.iter().map(|&(index, claim)| {
            let (message, derived) = (messages[index], &derived[index]);
            [
                message.id.0.as_bytes() as &dyn ToSql,
                &message.account_id,
                &message.recipient,
                &content_ids[index],
                &message.parts,
                &message.reference,
                &derived.channels,
                &derived.accepted_at,
                &derived.valid_until,
                &derived.price_micros,
                &claim.state,
                &claim.channel_index,
                &claim.attempt,
                &claim.due_at,
                &derived.has_groupings,
                &derived.source,
                &message.smpp_registered_delivery,
                &node_name,
            ]
        }),
    )
}

/// The values of a handed message's row that its claim decided.
struct HandedRow {
    state: &'static str,
    channel_index: i64,
    attempt: u32,
    due_at: i64,
}

impl HandedRow {
    /// `None` for a record that is not a lease (never one [`claim_fresh`] keeps).
    fn of(record: &Record) -> Option<HandedRow> {
        let Position::Due { at, leased: true } = record.position else {
            return None;
        };
        Some(HandedRow {
            state: record.progress.state.as_str(),
            channel_index: record.progress.channel_index as i64,
            attempt: record.progress.attempt,
            due_at: millis(at),
        })
    }
}

/// The claim that handing `message` at `now` skips, as [`dispatch::claim`] decides it for a
/// message just accepted: `None` unless it is sent at once under a lease of `lease` without a
/// status change (a segment waits for its group, and a claim decides that; a message whose
/// validity already ended expires, also in a claim).
fn claim_fresh(
    message: &NewMessage,
    now: Timestamp,
    lease: jiff::SignedDuration,
) -> Option<Record> {
    if message.segment.is_some() {
        return None;
    }
    let queued = Progress {
        state: DeliveryState::Queued,
        channels: message.channels.clone(),
        channel_index: 0,
        attempt: 0,
        deferrals: 0,
        valid_until: message.valid_until,
    };
    match dispatch::claim(&queued, 0, now, lease) {
        (Some(record), Next::Send { .. })
            if record.changes.is_empty()
                && matches!(record.position, Position::Due { leased: true, .. }) =>
        {
            Some(record)
        }
        _ => None,
    }
}

/// The messages of one request written claimed for the dispatcher
/// ([`IntakeStore::hand_fresh_messages`]): handed to it once their transaction is durable
/// ([`Handed::hand`]); dropped before that (the transaction failed), their reservations are
/// given back.
struct Handed {
    runner: Arc<dyn FreshMessages>,
    /// Each message's position in its request, with the claim it skipped.
    claims: Vec<(usize, Record)>,
    /// Taken before the clock reading the leases were written from.
    leased_from: Instant,
}

impl Handed {
    /// The transaction is durable: hand the request's `messages` that were written claimed.
    fn hand(mut self, messages: Vec<NewMessage>) {
        let claims = std::mem::take(&mut self.claims);
        let mut claims = claims.into_iter().peekable();
        let mut dispatches = Vec::with_capacity(claims.len());
        for (index, message) in messages.into_iter().enumerate() {
            if let Some((_, record)) = claims.next_if(|(at, _)| *at == index) {
                dispatches.push(Dispatch::of(message, &record.progress));
            }
        }
        // Every reservation ends here: one left over (never, the positions come from these
        // messages) is given back.
        let left = claims.count();
        if left > 0 {
            self.runner.unreserve(left);
        }
        if !dispatches.is_empty() {
            self.runner.hand(dispatches, self.leased_from);
        }
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        if !self.claims.is_empty() {
            self.runner.unreserve(self.claims.len());
        }
    }
}

/// Counts a submission's messages as waiting on the writer for as long as it lives (also when
/// the request is dropped mid-way).
struct IntakeGuard<'a> {
    count: &'a AtomicUsize,
    messages: usize,
}

impl<'a> IntakeGuard<'a> {
    fn new(count: &'a AtomicUsize, messages: usize) -> Self {
        count.fetch_add(messages, Ordering::Relaxed);
        IntakeGuard { count, messages }
    }
}

impl Drop for IntakeGuard<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(self.messages, Ordering::Relaxed);
    }
}

/// Most messages one intake job writes: about a millisecond of the writer's work, so that a
/// transaction stays short (see the writer's `MAX_FOREGROUND_WORK`).
const MERGED_MESSAGES: usize = 256;

/// A submission waiting for the writer.
pub(super) struct Pending {
    account: AccountId,
    charge: Option<Money>,
    messages: Vec<NewMessage>,
    /// The idempotency key to store with the messages, if any.
    key: Option<KeyRecord>,
    /// Answered once the transaction that wrote it ended; the messages come back with the
    /// answer, to be freed (or handed to the dispatcher) off the writer's and the sync thread's
    /// time.
    answer: oneshot::Sender<Answer>,
}

/// What a request gets back from its transaction: its answer, its messages, and those of them
/// written claimed for the dispatcher, to hand to it (only when the answer is yes).
type Answer = (Result<(), AcceptError>, Vec<NewMessage>, Option<Handed>);

/// The dispatcher that takes fresh messages, with the instant and the time their leases are
/// written from (see [`IntakeStore::hand_fresh_messages`]).
struct Handing<'a> {
    runner: &'a Arc<dyn FreshMessages>,
    leased_from: Instant,
    now: Timestamp,
}

impl Handing<'_> {
    /// The claims `pending`'s messages skip, by position, as far as the dispatcher has room
    /// (a message it has none for, or one a claim must decide, is written due).
    fn claims(&self, pending: &Pending) -> Handed {
        let lease = self.runner.lease();
        let mut claims = Vec::new();
        for (index, message) in pending.messages.iter().enumerate() {
            if let Some(record) = claim_fresh(message, self.now, lease) {
                if !self.runner.reserve() {
                    break;
                }
                claims.push((index, record));
            }
        }
        Handed {
            runner: Arc::clone(self.runner),
            claims,
            leased_from: self.leased_from,
        }
    }
}

/// Submissions waiting for the writer, oldest first.
pub(super) type PendingQueue = Arc<Mutex<VecDeque<Pending>>>;

/// Take the requests waiting, oldest first, up to [`MERGED_MESSAGES`] messages (at least one
/// request, if any waits).
fn take_pending(queue: &Mutex<VecDeque<Pending>>) -> Vec<Pending> {
    let mut queue = queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut taken = Vec::new();
    let mut messages = 0;
    while messages < MERGED_MESSAGES
        && let Some(pending) = queue.pop_front()
    {
        messages += pending.messages.len();
        taken.push(pending);
    }
    taken
}

/// What intake decided for a batch of requests.
struct Decisions {
    /// Each request's answer, in the batch's order: accepted, or refused.
    answers: Vec<Result<(), AcceptError>>,
    /// The balances the accepted requests left, of the accounts they changed.
    debits: Vec<(AccountId, Money)>,
}

/// What intake decided for each request of a batch, from one read of each account. Reads only.
fn decide(connection: &Connection, batch: &[Pending]) -> Result<Decisions, StoreError> {
    // Each account's balance as stored, and as the requests before left it (`None`: stored
    // without a balance, nothing to debit). One look at the account per account and batch (the
    // schema's foreign keys are not enforced on every message row: see `open_connection`).
    let mut accounts: HashMap<AccountId, Option<(Money, Money)>> = HashMap::new();
    let mut read = connection
        .prepare_cached("SELECT balance_micros FROM accounts WHERE id = ?1")
        .map_err(backend_error)?;
    let mut answers = Vec::with_capacity(batch.len());
    // The keys this batch stores, so that one given twice in it is stored once.
    let mut keys: HashSet<(AccountId, &str)> = HashSet::new();
    for pending in batch {
        let account = pending.account;
        let balance = match accounts.get_mut(&account) {
            Some(balance) => balance,
            None => {
                let stored: Option<Option<i64>> = read
                    .query_row(params![account], |row| row.get(0))
                    .optional()
                    .map_err(backend_error)?;
                let Some(stored) = stored else {
                    answers.push(Err(AcceptError::from(StoreError::Conflict(format!(
                        "no account {account}"
                    )))));
                    continue;
                };
                accounts
                    .entry(account)
                    .or_insert(stored.map(|micros| (Money(micros), Money(micros))))
            }
        };
        if let Some(key) = &pending.key
            && (keys.contains(&(account, key.key.as_str())) || key_taken(connection, account, key)?)
        {
            answers.push(Err(AcceptError::KeyTaken));
            continue;
        }
        let answer = match (pending.charge, balance.as_mut()) {
            (Some(price), Some((_, left))) => match debit(*left, price) {
                Some(after) => {
                    *left = after;
                    Ok(())
                }
                None => Err(AcceptError::InsufficientBalance),
            },
            _ => Ok(()),
        };
        if let (Ok(()), Some(key)) = (&answer, &pending.key) {
            keys.insert((account, key.key.as_str()));
        }
        answers.push(answer);
    }
    let debits = accounts
        .into_iter()
        .filter_map(|(account, balance)| match balance {
            Some((stored, left)) if left != stored => Some((account, left)),
            _ => None,
        })
        .collect();
    Ok(Decisions { answers, debits })
}

/// The intake job: write the requests waiting (see the module's comment), and answer each once
/// the transaction ended. A failure to write spoils the transaction (the writer's
/// `send_unguarded`): nothing is refused after anything was written.
fn write_pending(
    connection: &Connection,
    queue: &Mutex<VecDeque<Pending>>,
    runner: Option<&Arc<dyn FreshMessages>>,
    node: &NodeId,
) -> (Completion, Option<StoreError>) {
    let batch = take_pending(queue);
    if batch.is_empty() {
        // An earlier job wrote this one's request.
        return (Box::new(|_| {}), None);
    }
    // Each request's messages written claimed, when a dispatcher takes them.
    let mut handed: Vec<Option<Handed>> = Vec::new();
    let (decisions, failed) = match decide(connection, &batch) {
        Ok(Decisions {
            answers: decisions,
            debits,
        }) => {
            if let Some(runner) = runner {
                let handing = Handing {
                    runner,
                    leased_from: Instant::now(),
                    now: Timestamp::now(),
                };
                handed = batch
                    .iter()
                    .zip(&decisions)
                    .map(|(pending, decision)| decision.is_ok().then(|| handing.claims(pending)))
                    .collect();
            }
            let accepted: Vec<&NewMessage> = batch
                .iter()
                .zip(&decisions)
                .filter(|(_, decision)| decision.is_ok())
                .flat_map(|(pending, _)| &pending.messages)
                .collect();
            // The rows of the claims skipped, by position in `accepted`.
            let mut claims: Vec<Option<HandedRow>> = Vec::new();
            if !handed.is_empty() {
                claims = Vec::with_capacity(accepted.len());
                for (pending, handed) in batch.iter().zip(&handed) {
                    let Some(handed) = handed else { continue };
                    let first = claims.len();
                    claims.resize_with(first + pending.messages.len(), || None);
                    for (index, record) in &handed.claims {
                        claims[first + index] = HandedRow::of(record);
                    }
                }
            }
            let keys: Vec<(AccountId, &KeyRecord)> = batch
                .iter()
                .zip(&decisions)
                .filter(|(_, decision)| decision.is_ok())
                .filter_map(|(pending, _)| Some((pending.account, pending.key.as_ref()?)))
                .collect();
            let written = debit_accounts(connection, &debits)
                .and_then(|()| insert_messages(connection, &accepted, &claims, node))
                .and_then(|()| insert_keys(connection, &keys))
                .map_err(backend_error);
            (Ok(decisions), written.err())
        }
        // Nothing was written: the whole batch fails with the error.
        Err(error) => (Err(error), None),
    };
    let completion: Completion = Box::new(move |ended: Result<(), StoreError>| {
        let mut handed = handed.into_iter();
        for (index, pending) in batch.into_iter().enumerate() {
            let answer = match (&ended, &decisions) {
                (Err(error), _) | (Ok(()), Err(error)) => Err(AcceptError::from(error.clone())),
                (Ok(()), Ok(decisions)) => decisions[index].clone(),
            };
            // Not written after all: the reservations go back (dropped).
            let handed = handed.next().flatten().filter(|_| answer.is_ok());
            if let Err((_, messages, Some(handed))) =
                pending.answer.send((answer, pending.messages, handed))
            {
                // Nobody waits for the answer (the request was dropped): the messages are
                // stored claimed all the same.
                handed.hand(messages);
            }
        }
    });
    (completion, failed)
}

/// Whether `key` is stored for `account` and still remembered (see
/// [`KeyRecord::replaces_before`]).
fn key_taken(
    connection: &Connection,
    account: AccountId,
    key: &KeyRecord,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached(
            "SELECT 1 FROM idempotency_keys WHERE account_id = ?1 AND key = ?2 AND created_at >= ?3",
        )
        .and_then(|mut statement| {
            statement.exists(params![
                account,
                key.key.as_str(),
                millis(key.replaces_before())
            ])
        })
        .map_err(backend_error)
}

/// Store the idempotency keys of the accepted requests; one forgotten ([`key_taken`] said so)
/// is replaced.
fn insert_keys(connection: &Connection, keys: &[(AccountId, &KeyRecord)]) -> rusqlite::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut insert = connection.prepare_cached(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, status, content_type, body,
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash,
             status = excluded.status, content_type = excluded.content_type,
             body = excluded.body, created_at = excluded.created_at",
    )?;
    for (account, record) in keys {
        insert.execute(params![
            account,
            record.key.as_str(),
            record.request_hash.0.as_slice(),
            record.reply.status,
            record.reply.content_type,
            record.reply.body,
            millis(record.created_at),
        ])?;
    }
    Ok(())
}

/// Store the balances the batch left.
fn debit_accounts(connection: &Connection, debits: &[(AccountId, Money)]) -> rusqlite::Result<()> {
    let mut update =
        connection.prepare_cached("UPDATE accounts SET balance_micros = ?2 WHERE id = ?1")?;
    for (account, left) in debits {
        update.execute(params![account, left.micros()])?;
    }
    Ok(())
}

#[async_trait]
impl IntakeStore for SqliteStore {
    fn intake_waiting(&self) -> usize {
        self.intake.load(Ordering::Relaxed)
    }

    async fn accept(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        self.queue_intake(account, charge, messages, None).await
    }

    async fn accept_once(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
        key: KeyRecord,
    ) -> Result<(), AcceptError> {
        self.queue_intake(account, charge, messages, Some(key))
            .await
    }

    async fn key_record(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        since: Timestamp,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let key = key.clone();
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT request_hash, status, content_type, body, created_at
                     FROM idempotency_keys
                     WHERE account_id = ?1 AND key = ?2 AND created_at >= ?3",
                )?
                .query_row(params![account, key.as_str(), millis(since)], |row| {
                    let hash: Vec<u8> = row.get(0)?;
                    Ok(KeyRecord {
                        key: key.clone(),
                        request_hash: RequestHash(hash.try_into().unwrap_or([0; 32])),
                        reply: Reply {
                            status: row.get(1)?,
                            content_type: row.get(2)?,
                            body: row.get(3)?,
                        },
                        created_at: timestamp(row.get(4)?),
                    })
                })
                .optional()
        })
        .await
    }

    fn hand_fresh_messages(&self, runner: Arc<dyn FreshMessages>) -> bool {
        // The last runner that asked (one that stopped takes nothing more: see `reserve`).
        *self
            .fresh_messages
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(runner);
        true
    }

    async fn forget_keys(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.writer
            .write_background(move |connection: &Connection| {
                connection
                    .prepare_cached(
                        "DELETE FROM idempotency_keys WHERE rowid IN (
                             SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![millis(before), limit as i64])
                    })
                    .map_err(backend_error)
            })
            .await
    }
}

impl SqliteStore {
    /// Queue a request for the writer's next intake job (see the module's comment) and wait for
    /// its answer.
    async fn queue_intake(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
        key: Option<KeyRecord>,
    ) -> Result<(), AcceptError> {
        let _waiting = IntakeGuard::new(&self.intake, messages.len());
        let (answer, answered) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(Pending {
                account,
                charge,
                messages,
                key,
                answer,
            });
        let queue = Arc::clone(&self.pending);
        let runner = self
            .fresh_messages
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let node = self.node.clone();
        let pressure = self.writer.pressure();
        self.writer.send_unguarded(move |connection: &Connection| {
            // While intake presses, delivery waits: what would be handed is written due, and
            // claimed at the pace the writer gives delivery's writes.
            let runner = runner.as_ref().filter(|_| !pressure.now());
            write_pending(connection, &queue, runner, &node)
        })?;
        // Dropped unanswered: its transaction panicked, or the writer stopped.
        let (answer, messages, handed) = answered.await.map_err(|_| self.writer.lost())?;
        match handed {
            Some(handed) => handed.hand(messages),
            None => drop(messages),
        }
        answer
    }
}
