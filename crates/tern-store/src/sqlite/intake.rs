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

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use tern_core::account::AccountId;
use tern_core::idempotency::{IdempotencyKey, KeyRecord, Reply, RequestHash};
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError};
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

/// Insert accepted messages, queued and due at once. Messages that share one [`Content`] in
/// memory (the recipients of one `msg`) share one `contents` row, whose id intake gives: the
/// ids after the largest stored (the writer is the one connection that inserts contents).
fn insert_messages(connection: &Connection, messages: &[&NewMessage]) -> rusqlite::Result<()> {
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
    let (plain, other): (Vec<usize>, Vec<usize>) = (0..messages.len()).partition(|&index| {
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
    )
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
    /// answer, to be freed off the writer's and the sync thread's time.
    answer: oneshot::Sender<(Result<(), AcceptError>, Vec<NewMessage>)>,
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
) -> (Completion, Option<StoreError>) {
    let batch = take_pending(queue);
    if batch.is_empty() {
        // An earlier job wrote this one's request.
        return (Box::new(|_| {}), None);
    }
    let (decisions, failed) = match decide(connection, &batch) {
        Ok(Decisions {
            answers: decisions,
            debits,
        }) => {
            let accepted: Vec<&NewMessage> = batch
                .iter()
                .zip(&decisions)
                .filter(|(_, decision)| decision.is_ok())
                .flat_map(|(pending, _)| &pending.messages)
                .collect();
            let keys: Vec<(AccountId, &KeyRecord)> = batch
                .iter()
                .zip(&decisions)
                .filter(|(_, decision)| decision.is_ok())
                .filter_map(|(pending, _)| Some((pending.account, pending.key.as_ref()?)))
                .collect();
            let written = debit_accounts(connection, &debits)
                .and_then(|()| insert_messages(connection, &accepted))
                .and_then(|()| insert_keys(connection, &keys))
                .map_err(backend_error);
            (Ok(decisions), written.err())
        }
        // Nothing was written: the whole batch fails with the error.
        Err(error) => (Err(error), None),
    };
    let completion: Completion = Box::new(move |ended: Result<(), StoreError>| {
        for (index, pending) in batch.into_iter().enumerate() {
            let answer = match (&ended, &decisions) {
                (Err(error), _) | (Ok(()), Err(error)) => Err(AcceptError::from(error.clone())),
                (Ok(()), Ok(decisions)) => decisions[index].clone(),
            };
            let _ = pending.answer.send((answer, pending.messages));
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
        self.writer
            .send_unguarded(move |connection: &Connection| write_pending(connection, &queue))?;
        // Dropped unanswered: its transaction panicked, or the writer stopped.
        let (answer, messages) = answered.await.map_err(|_| self.writer.lost())?;
        drop(messages);
        answer
    }
}
