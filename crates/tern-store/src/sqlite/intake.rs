//! The [`IntakeStore`] role on SQLite: accepted messages and the balance debit in one
//! transaction of the writer's group commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use tern_core::account::AccountId;
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError};

use super::rows::millis;
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
    channel_index, attempt, due_at, events, has_groupings) VALUES ";
const MESSAGE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?, 0, ?)";
/// The values of one row of [`MESSAGE_ROW`].
const MESSAGE_VALUES: usize = 12;

const CONTENT_INSERT: &str = "INSERT OR ROLLBACK INTO contents (id, sender, body, body_type, dcs,
    app_key, rich_content, custom_grouping1, custom_grouping2, custom_grouping3, udh) VALUES ";
const CONTENT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The values of one row of [`CONTENT_ROW`].
const CONTENT_VALUES: usize = 11;

/// The statements intake inserts rows with, built once: [`ROWS_PER_INSERT`] rows, and one.
static MESSAGE_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| multi_row_inserts(MESSAGE_INSERT, MESSAGE_ROW));
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
}

impl Derived {
    fn of(message: &NewMessage) -> Derived {
        Derived {
            channels: tern_core::channel::Channel::join(&message.channels),
            accepted_at: millis(message.accepted_at),
            valid_until: millis(message.valid_until),
            price_micros: message.price.micros(),
            has_groupings: message.content.custom_groupings.iter().any(Option::is_some),
        }
    }
}

/// Insert accepted messages, queued and due at once. Messages that share one [`Content`] in
/// memory (the recipients of one `msg`) share one `contents` row, whose id intake gives: the
/// ids after the largest stored (the writer is the one connection that inserts contents).
fn insert_messages(connection: &Connection, messages: &[NewMessage]) -> rusqlite::Result<()> {
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
    let derived: Vec<Derived> = messages.iter().map(Derived::of).collect();
    insert_rows::<MESSAGE_VALUES>(
        connection,
        &MESSAGE_INSERTS,
        messages
            .iter()
            .zip(&derived)
            .zip(&content_ids)
            .map(|((message, derived), content_id)| {
                [
                    message.id.0.as_bytes() as &dyn ToSql,
                    &message.account_id,
                    &message.recipient,
                    content_id,
                    &message.parts,
                    &message.reference,
                    &derived.channels,
                    &derived.accepted_at,
                    &derived.valid_until,
                    &derived.price_micros,
                    // Due at once.
                    &derived.accepted_at,
                    &derived.has_groupings,
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
        let _waiting = IntakeGuard::new(&self.intake, messages.len());
        // No savepoint per request: what can refuse a request (no account, too low a balance) is
        // decided before anything is written; the writes after it fail only when the store does.
        self.writer
            .write_unguarded(
                move |connection: &Connection| {
                    // One look at the account per request (the schema's foreign keys are not
                    // enforced on every message row: see `open_connection`).
                    let balance: Option<i64> = connection
                        .prepare_cached("SELECT balance_micros FROM accounts WHERE id = ?1")
                        .and_then(|mut s| {
                            s.query_row(params![account], |row| row.get(0)).optional()
                        })
                        .map_err(backend_error)?
                        .ok_or_else(|| StoreError::Conflict(format!("no account {account}")))?;
                    // An account stored without a balance has nothing to debit.
                    match (charge, balance.map(Money)) {
                        (Some(price), Some(balance)) => {
                            let left =
                                debit(balance, price).ok_or(AcceptError::InsufficientBalance)?;
                            Ok((left != balance).then_some(left))
                        }
                        _ => Ok(None),
                    }
                },
                move |connection: &Connection, debited: Option<Money>| {
                    if let Some(left) = debited {
                        connection
                            .prepare_cached("UPDATE accounts SET balance_micros = ?2 WHERE id = ?1")
                            .and_then(|mut s| s.execute(params![account, left.micros()]))
                            .map_err(backend_error)?;
                    }
                    insert_messages(connection, &messages).map_err(backend_error)?;
                    // Freed here, off the writer's thread.
                    Ok(messages)
                },
            )
            .await
            .map(drop)
    }
}
