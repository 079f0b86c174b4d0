//! The [`IntakeStore`] role on SQLite: accepted messages and the balance debit in one
//! transaction of the writer's group commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tern_core::account::AccountId;
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError};

use super::rows::millis;
use super::{SqliteStore, backend_error};

/// Messages inserted by one statement: a statement run per row cost more than the row itself
/// (docs/benchmarks.md).
const ROWS_PER_INSERT: usize = 32;

/// The columns of a `messages` row as intake writes it, and the values of one row.
/// `OR ROLLBACK`: a statement of many rows that may fail half-way needs a journal to undo its
/// rows alone; intake has none to undo alone (see `accept`), so a conflict (an id stored twice,
/// which the ids' randomness rules out) ends the whole transaction instead.
const MESSAGE_INSERT: &str =
    "INSERT OR ROLLBACK INTO messages (id, account_id, recipient, content_id, parts,
    reference, channels, accepted_at, valid_until, price_micros, state, channel_index, attempt,
    due_at, events, has_groupings) VALUES ";
const MESSAGE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?, 0, ?)";
/// The values of one row of [`MESSAGE_ROW`].
const MESSAGE_VALUES: usize = 12;

/// The statements intake inserts messages with, built once: [`ROWS_PER_INSERT`] rows, and one.
static MESSAGE_INSERTS: LazyLock<[String; 2]> =
    LazyLock::new(|| [message_insert(ROWS_PER_INSERT), message_insert(1)]);

/// The statement that inserts `rows` messages.
fn message_insert(rows: usize) -> String {
    let mut sql = String::with_capacity(MESSAGE_INSERT.len() + rows * (MESSAGE_ROW.len() + 2));
    sql.push_str(MESSAGE_INSERT);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(MESSAGE_ROW);
    }
    sql
}

/// Insert accepted messages, queued and due at once. Messages that share one [`Content`] in
/// memory (the recipients of one `msg`) share one `contents` row.
fn insert_messages(connection: &Connection, messages: &[NewMessage]) -> rusqlite::Result<()> {
    let mut insert_content = connection.prepare_cached(
        "INSERT INTO contents (sender, body, body_type, dcs, app_key, rich_content,
            custom_grouping1, custom_grouping2, custom_grouping3, udh)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut stored: HashMap<*const Content, i64> = HashMap::new();
    let mut content_ids = Vec::with_capacity(messages.len());
    for message in messages {
        let key = Arc::as_ptr(&message.content);
        let content_id = match stored.get(&key) {
            Some(id) => *id,
            None => {
                let content = &message.content;
                let [g1, g2, g3] = &content.custom_groupings;
                insert_content.execute(params![
                    content.from,
                    content.body,
                    content.body_type,
                    content.dcs,
                    content.app_key,
                    content.rich_content,
                    g1,
                    g2,
                    g3,
                    content.udh,
                ])?;
                let id = connection.last_insert_rowid();
                stored.insert(key, id);
                id
            }
        };
        content_ids.push(content_id);
    }
    // Full statements of ROWS_PER_INSERT rows, then one row at a time: two statements to keep
    // prepared, whatever the request's size.
    let full = messages.len() / ROWS_PER_INSERT * ROWS_PER_INSERT;
    let rows = messages.iter().zip(&content_ids);
    let (mut many, mut one) = (None, None);
    for (index, (message, content_id)) in rows.enumerate() {
        let (statement, size) = if index < full {
            (&mut many, ROWS_PER_INSERT)
        } else {
            (&mut one, 1)
        };
        let insert = match statement {
            Some(insert) => insert,
            None => {
                let sql = &MESSAGE_INSERTS[usize::from(size == 1)];
                statement.insert(connection.prepare_cached(sql)?)
            }
        };
        let channels = tern_core::channel::Channel::join(&message.channels);
        let accepted_at = millis(message.accepted_at);
        let values: [&dyn rusqlite::ToSql; MESSAGE_VALUES] = [
            &message.id.0.as_bytes().as_slice(),
            &message.account_id,
            &message.recipient,
            content_id,
            &message.parts,
            &message.reference,
            &channels,
            &accepted_at,
            &millis(message.valid_until),
            &message.price.micros(),
            // Due at once.
            &accepted_at,
            &message.content.custom_groupings.iter().any(Option::is_some),
        ];
        let first = (index % size) * MESSAGE_VALUES + 1;
        for (offset, value) in values.into_iter().enumerate() {
            insert.raw_bind_parameter(first + offset, value)?;
        }
        if (index + 1).is_multiple_of(size) {
            insert.raw_execute()?;
        }
    }
    Ok(())
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
                    insert_messages(connection, &messages).map_err(backend_error)
                },
            )
            .await
    }
}
