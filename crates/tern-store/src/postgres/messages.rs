//! Message rows on PostgreSQL: the columns a query selects to read a message back (with its
//! content and its account's status URL), the function that reads them into the core's types,
//! and the [`Recorder`] that writes what the core decided about messages (progress, queue
//! position, status history, outbox entries, the ids channels gave parts) in one statement.
//! The queue's; any role that reads message rows back may use the columns and decoding, so that
//! a message row is read one way.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use tern_core::dispatch::{Event, ExternalIds, Position, Progress, Record, StatusChange};
use tern_core::error_code::{DeliveryError, Surface};
use tern_core::message::{Content, DeliveryState, MessageId, NewMessage, Segment};
use tern_core::money::Money;
use tern_core::outbox::{Destination, FactRef, NewEntry, Subscriptions, entries};
use tern_core::part_reports::{PartStatus, combine, merge};
use tern_core::ports::{Dispatch, NodeId};
use tern_core::status::CmStatus;

use super::rows::{bad, channels};
use super::{millis, timestamp};

/// The columns of a message row with its content and its account's status URL, read by
/// [`stored_message_from_row`]; select them `FROM` [`MESSAGE_TABLES`].
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.account_id, m.recipient, m.content_id, c.sender, c.body, \
    c.body_type, c.dcs, c.app_key, c.rich_content, c.custom_grouping1, c.custom_grouping2, \
    c.custom_grouping3, m.parts, m.reference, m.channels, m.accepted_at, m.valid_until, \
    m.price_micros, m.state, m.channel_index, m.attempt, a.status_url, m.events, m.deferrals, \
    c.udh, m.source, m.smpp_registered_delivery, m.segment_ref, m.segment_total, m.segment_seq";

/// How many columns [`MESSAGE_COLUMNS`] (and [`EVENT_COLUMNS`]) have: a query may select more
/// after them.
pub(super) const MESSAGE_COLUMN_COUNT: usize = 31;

/// The tables [`MESSAGE_COLUMNS`] come from (`m`, `c`, `a`).
pub(super) const MESSAGE_TABLES: &str =
    "messages m JOIN contents c ON c.id = m.content_id JOIN accounts a ON a.id = m.account_id";

/// [`MESSAGE_COLUMNS`] without the content (sender, body and groupings empty) nor the segment,
/// for the decisions that do not look at them (events, cancel, replace); select them `FROM`
/// [`EVENT_TABLES`].
pub(super) const EVENT_COLUMNS: &str = "m.id, m.account_id, m.recipient, m.content_id, '', '', \
    NULL::text, NULL::integer, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, m.parts, \
    m.reference, m.channels, m.accepted_at, m.valid_until, m.price_micros, m.state, \
    m.channel_index, m.attempt, a.status_url, m.events, m.deferrals, NULL::bytea, m.source, \
    m.smpp_registered_delivery, NULL::integer, NULL::integer, NULL::integer";

/// The tables [`EVENT_COLUMNS`] come from (`m`, `a`).
pub(super) const EVENT_TABLES: &str = "messages m JOIN accounts a ON a.id = m.account_id";

/// The contents already read by one query, by id: the rows of recipients of one `msg` share
/// one [`Content`] in memory, as they share one row in the database. Only for rows of one
/// column list.
pub(super) type Contents = HashMap<i64, Arc<Content>>;

/// A message row with its account's status URL.
pub(super) struct StoredMessage {
    pub message: NewMessage,
    /// Status changes recorded so far (the next one is number `events + 1`).
    pub events: u32,
    pub progress: Progress,
    /// Its account's status URL (whether its status changes are reported).
    pub status_url: Option<String>,
}

/// A message id from a `uuid` column.
pub(super) fn message_id(row: &PgRow, index: usize) -> sqlx::Result<MessageId> {
    Ok(MessageId(row.try_get::<uuid::Uuid, _>(index)?))
}

/// An `integer` column that holds a count or a small code, as the type it is in the core.
pub(super) fn small<T: TryFrom<i32>>(row: &PgRow, index: usize, what: &str) -> sqlx::Result<T> {
    let value: i32 = row.try_get(index)?;
    T::try_from(value).map_err(|_| bad(index, what))
}

/// A nullable `integer` column, as [`small`] reads it.
pub(super) fn small_opt<T: TryFrom<i32>>(
    row: &PgRow,
    index: usize,
    what: &str,
) -> sqlx::Result<Option<T>> {
    row.try_get::<Option<i32>, _>(index)?
        .map(|value| T::try_from(value).map_err(|_| bad(index, what)))
        .transpose()
}

/// A message from the columns of [`MESSAGE_COLUMNS`] (or [`EVENT_COLUMNS`]); its content is
/// taken from `contents` when a row before it had the same one, and kept there for the rows
/// after it.
pub(super) fn stored_message_from_row(
    row: &PgRow,
    contents: &mut Contents,
) -> sqlx::Result<StoredMessage> {
    let content_id: i64 = row.try_get(3)?;
    let content = match contents.get(&content_id) {
        Some(content) => Arc::clone(content),
        None => {
            let content = Arc::new(Content {
                from: row.try_get(4)?,
                body: row.try_get(5)?,
                body_type: row.try_get(6)?,
                dcs: small_opt(row, 7, "dcs")?,
                app_key: row.try_get(8)?,
                rich_content: row.try_get(9)?,
                custom_groupings: [row.try_get(10)?, row.try_get(11)?, row.try_get(12)?],
                udh: row.try_get(25)?,
            });
            contents.insert(content_id, Arc::clone(&content));
            content
        }
    };
    let channels = channels(row, 15)?;
    let valid_until = timestamp(row.try_get(17)?);
    let state: String = row.try_get(19)?;
    let source: String = row.try_get(26)?;
    let message = NewMessage {
        id: message_id(row, 0)?,
        account_id: row.try_get(1)?,
        recipient: row.try_get(2)?,
        content,
        parts: small(row, 13, "number of parts")?,
        reference: row.try_get(14)?,
        channels: channels.clone(),
        accepted_at: timestamp(row.try_get(16)?),
        valid_until,
        price: Money(row.try_get(18)?),
        source: Surface::parse(&source).ok_or_else(|| bad(26, "source"))?,
        smpp_registered_delivery: small(row, 27, "registered_delivery")?,
        segment: segment(row, 28)?,
    };
    Ok(StoredMessage {
        events: small(row, 23, "number of events")?,
        progress: Progress {
            state: DeliveryState::parse(&state).ok_or_else(|| bad(19, "state"))?,
            channels,
            channel_index: small(row, 20, "channel index")?,
            attempt: small(row, 21, "attempt")?,
            deferrals: small(row, 24, "number of deferrals")?,
            valid_until,
        },
        message,
        status_url: row.try_get(22)?,
    })
}

/// A segment from the `segment_ref, segment_total, segment_seq` columns starting at `first`:
/// `None` when they are NULL (a message that is no segment).
fn segment(row: &PgRow, first: usize) -> sqlx::Result<Option<Segment>> {
    let Some(reference) = small_opt(row, first, "segment reference")? else {
        return Ok(None);
    };
    Ok(Some(Segment {
        reference,
        total: small(row, first + 1, "segment total")?,
        seq: small(row, first + 2, "segment number")?,
    }))
}

/// What a connector needs of a stored message, on its current channel and attempt.
pub(super) fn dispatch_of(stored: StoredMessage) -> Dispatch {
    Dispatch::of(stored.message, &stored.progress)
}

/// Outbox entries as the columns of the outbox rows [`RECORD`] writes.
#[derive(Default)]
struct EntryColumns {
    kinds: Vec<&'static str>,
    accounts: Vec<Option<i64>>,
    urls: Vec<Option<String>>,
    keys: Vec<String>,
    message_ids: Vec<uuid::Uuid>,
    seqs: Vec<Option<i32>>,
    created: Vec<i64>,
}

impl EntryColumns {
    fn of(entries: &[NewEntry]) -> EntryColumns {
        let mut columns = EntryColumns::default();
        for entry in entries {
            let (account, url) = match &entry.destination {
                Destination::Account(account) => (Some(*account), None),
                Destination::Url(url) => (None, Some(url.clone())),
            };
            let (message_id, seq) = match &entry.fact {
                FactRef::StatusChange { message_id, seq } => (message_id, Some(*seq as i32)),
                FactRef::Inbound { message_id } => (message_id, None),
            };
            columns.kinds.push(entry.kind.as_str());
            columns.accounts.push(account);
            columns.urls.push(url);
            columns.keys.push(entry.ordering_key.0.clone());
            columns.message_ids.push(message_id.0);
            columns.seqs.push(seq);
            columns.created.push(millis(entry.created_at));
        }
        columns
    }

    /// Bind the columns to `query`'s next seven parameters.
    fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.kinds)
            .bind(self.accounts)
            .bind(self.urls)
            .bind(self.keys)
            .bind(self.message_ids)
            .bind(self.seqs)
            .bind(self.created)
    }
}

/// What a [`Recorder`] writes, in one statement (one round trip): the messages' progress
/// (`$1..$7`), the queue rows of finished messages removed (`$8`), those of due ones put in or
/// moved (`$9..$11`), status changes (`$12..$19`), outbox entries (`$20..$26`: the columns
/// SQLite's `INSERT_ENTRY` writes, in their order, since entries of one ordering key go out
/// lowest id first, each due when it was created) and the ids channels gave parts
/// (`$27..$32`). The sets of rows are disjoint: each message is written once, and is either
/// finished or due.
const RECORD: &str = "WITH progress AS (
            UPDATE messages m SET state = u.state, channel_index = u.channel_index,
                attempt = u.attempt, events = m.events + u.added, deferrals = u.deferrals,
                connector = COALESCE(u.connector, m.connector)
            FROM UNNEST($1::uuid[], $2::text[], $3::integer[], $4::integer[], $5::integer[],
                $6::integer[], $7::text[])
                AS u(id, state, channel_index, attempt, added, deferrals, connector)
            WHERE m.id = u.id
        ), finished AS (
            DELETE FROM queue WHERE message_id = ANY($8::uuid[])
        ), due AS (
            INSERT INTO queue (message_id, due_at, leased_by)
            SELECT * FROM UNNEST($9::uuid[], $10::bigint[], $11::text[])
            ON CONFLICT (message_id) DO UPDATE SET due_at = excluded.due_at,
                leased_by = excluded.leased_by
        ), changes AS (
            INSERT INTO status_events (message_id, seq, at, channel, status, error_code,
                operator, detail)
            SELECT * FROM UNNEST($12::uuid[], $13::integer[], $14::bigint[], $15::text[],
                $16::integer[], $17::integer[], $18::text[], $19::text[])
        ), entries AS (
            INSERT INTO outbox (kind, account_id, url, ordering_key, message_id, seq,
                created_at, due_at)
            SELECT kind, account_id, url, ordering_key, message_id, seq, created_at, created_at
            FROM UNNEST($20::text[], $21::bigint[], $22::text[], $23::text[], $24::uuid[],
                $25::integer[], $26::bigint[]) WITH ORDINALITY
                AS e(kind, account_id, url, ordering_key, message_id, seq, created_at, position)
            ORDER BY position
        )
        -- A channel that reuses an id (after wrapping around) names its newest part.
        INSERT INTO external_ids (connector, external_id, message_id, attempt, part_index,
            given_id)
        SELECT * FROM UNNEST($27::text[], $28::text[], $29::uuid[], $30::integer[],
            $31::integer[], $32::text[])
        ON CONFLICT (connector, external_id) DO UPDATE SET message_id = excluded.message_id,
            attempt = excluded.attempt, part_index = excluded.part_index,
            given_id = excluded.given_id";

/// What one message's records in a [`Recorder`] come to.
struct MessageWrite {
    id: MessageId,
    progress: Progress,
    /// Status changes added.
    added_events: u32,
    /// The connector that took its latest attempt, when a record said.
    connector: Option<Arc<str>>,
    /// Where it stands in the queue now; `Unchanged` leaves its queue row as it is.
    position: Position,
    /// Whether a lease of `position` is this node's.
    leased: bool,
}

/// The part a channel's id names, and the id as the channel wrote it when that differs.
struct NamedPart {
    id: MessageId,
    attempt: u32,
    part_index: u32,
    given_id: Option<String>,
}

/// Records decisions about messages: their progress, queue position, status history and the
/// outbox entries their status changes produce (as [`entries`] decides), and the ids channels
/// gave the parts they took. Writes are collected, then written by [`Recorder::flush`] with one
/// statement, in the transaction that decided them (flush before committing).
pub(super) struct Recorder {
    node: NodeId,
    messages: Vec<MessageWrite>,
    /// Index into `messages` by id: a second record of one message continues the first.
    by_id: HashMap<MessageId, usize>,
    /// `status_events` rows: each status change of a message.
    events: Vec<(MessageId, StatusChange)>,
    entries: Vec<NewEntry>,
    /// `external_ids` rows by (connector, external id): a channel that gives an id again names
    /// its newest part.
    external_ids: HashMap<(Arc<str>, String), NamedPart>,
    external_order: Vec<(Arc<str>, String)>,
}

impl Recorder {
    /// A recorder whose leases are `node`'s.
    pub(super) fn new(node: &NodeId) -> Recorder {
        Recorder {
            node: node.clone(),
            messages: Vec::new(),
            by_id: HashMap::new(),
            events: Vec::new(),
            entries: Vec::new(),
            external_ids: HashMap::new(),
            external_order: Vec::new(),
        }
    }

    /// Record the ids a channel gave the parts of message `id` it took in `attempt`.
    pub(super) fn external_ids(&mut self, id: MessageId, attempt: u32, external_ids: &ExternalIds) {
        for (part_index, external_id) in external_ids.part_ids.iter().enumerate() {
            let key = (Arc::clone(&external_ids.connector), external_id.clone());
            let row = NamedPart {
                id,
                attempt,
                part_index: part_index as u32,
                given_id: external_ids.given_ids.get(part_index).cloned(),
            };
            if self.external_ids.insert(key.clone(), row).is_none() {
                self.external_order.push(key);
            }
        }
    }

    /// Record `record` about `stored`, leasing it to this recorder's node when the record says
    /// so.
    pub(super) fn record(&mut self, stored: &StoredMessage, record: &Record) {
        let id = stored.message.id;
        let leased = matches!(record.position, Position::Due { leased: true, .. });
        match self.by_id.get(&id) {
            Some(&index) => {
                let write = &mut self.messages[index];
                write.progress = record.progress.clone();
                write.added_events += record.changes.len() as u32;
                if record.sent_by.is_some() {
                    write.connector = record.sent_by.clone();
                }
                if record.position != Position::Unchanged {
                    write.position = record.position;
                    write.leased = leased;
                }
            }
            None => {
                self.by_id.insert(id, self.messages.len());
                self.messages.push(MessageWrite {
                    id,
                    progress: record.progress.clone(),
                    added_events: record.changes.len() as u32,
                    connector: record.sent_by.clone(),
                    position: record.position,
                    leased,
                });
            }
        }
        self.events
            .extend(record.changes.iter().map(|change| (id, change.clone())));
        // Which entries its changes produce is decided in core; they are written as they are.
        let subscriptions = Subscriptions::of(
            stored.status_url.as_deref(),
            stored.message.smpp_registered_delivery,
        );
        self.entries.extend(entries(
            id,
            stored.message.account_id,
            subscriptions,
            record,
        ));
    }

    /// Write what was recorded (nothing when nothing was), and start again empty.
    pub(super) async fn flush(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        if self.messages.is_empty() && self.external_order.is_empty() {
            return Ok(());
        }
        let count = self.messages.len();
        let mut ids = Vec::with_capacity(count);
        let mut states = Vec::with_capacity(count);
        let mut channel_indexes = Vec::with_capacity(count);
        let mut attempts = Vec::with_capacity(count);
        let mut added = Vec::with_capacity(count);
        let mut deferrals = Vec::with_capacity(count);
        let mut connectors = Vec::with_capacity(count);
        let (mut due_ids, mut due_at, mut leased_by) = (Vec::new(), Vec::new(), Vec::new());
        let mut finished = Vec::new();
        for write in self.messages.drain(..) {
            ids.push(write.id.0);
            states.push(write.progress.state.as_str());
            channel_indexes.push(write.progress.channel_index as i32);
            attempts.push(write.progress.attempt as i32);
            added.push(write.added_events as i32);
            deferrals.push(write.progress.deferrals as i32);
            connectors.push(write.connector.as_deref().map(str::to_owned));
            match write.position {
                Position::Due { at, .. } => {
                    due_ids.push(write.id.0);
                    due_at.push(millis(at));
                    leased_by.push(write.leased.then(|| self.node.as_str().to_owned()));
                }
                Position::Finished => finished.push(write.id.0),
                Position::Unchanged => {}
            }
        }
        self.by_id.clear();

        let count = self.events.len();
        let mut event_ids = Vec::with_capacity(count);
        let mut seqs = Vec::with_capacity(count);
        let mut at = Vec::with_capacity(count);
        let mut channels = Vec::with_capacity(count);
        let mut statuses = Vec::with_capacity(count);
        let mut error_codes = Vec::with_capacity(count);
        let mut operators = Vec::with_capacity(count);
        let mut details = Vec::with_capacity(count);
        for (id, change) in self.events.drain(..) {
            let report = change.report;
            event_ids.push(id.0);
            seqs.push(change.seq as i32);
            at.push(millis(change.at));
            channels.push(report.channel.as_str());
            statuses.push(i32::from(report.status.code()));
            error_codes.push(report.error_code.map(|code| i32::from(code.code())));
            operators.push(report.operator);
            details.push(report.detail);
        }

        let entries = EntryColumns::of(&self.entries);
        self.entries.clear();

        let count = self.external_order.len();
        let mut connectors_of_ids = Vec::with_capacity(count);
        let mut external = Vec::with_capacity(count);
        let mut part_ids = Vec::with_capacity(count);
        let mut part_attempts = Vec::with_capacity(count);
        let mut part_indexes = Vec::with_capacity(count);
        let mut given = Vec::with_capacity(count);
        for key in self.external_order.drain(..) {
            let Some(part) = self.external_ids.remove(&key) else {
                continue;
            };
            connectors_of_ids.push(key.0.to_string());
            external.push(key.1);
            part_ids.push(part.id.0);
            part_attempts.push(part.attempt as i32);
            part_indexes.push(part.part_index as i32);
            given.push(part.given_id);
        }

        let query = sqlx::query(RECORD)
            .bind(ids)
            .bind(states)
            .bind(channel_indexes)
            .bind(attempts)
            .bind(added)
            .bind(deferrals)
            .bind(connectors)
            .bind(finished)
            .bind(due_ids)
            .bind(due_at)
            .bind(leased_by)
            .bind(event_ids)
            .bind(seqs)
            .bind(at)
            .bind(channels)
            .bind(statuses)
            .bind(error_codes)
            .bind(operators)
            .bind(details);
        entries
            .bind(query)
            .bind(connectors_of_ids)
            .bind(external)
            .bind(part_ids)
            .bind(part_attempts)
            .bind(part_indexes)
            .bind(given)
            .execute(connection)
            .await?;
        Ok(())
    }
}

/// Record what a channel said of part `part_index` of message `id` (of `parts` parts) sent in
/// `attempt`; the report its parts come to now ([`combine`]). A message of one part is its
/// part: nothing is kept for it. Written at once (a later part of the same batch reads it).
pub(super) async fn part_report(
    connection: &mut PgConnection,
    id: MessageId,
    parts: u32,
    attempt: u32,
    part_index: u32,
    status: PartStatus,
) -> sqlx::Result<Option<Event>> {
    if parts <= 1 {
        return Ok(combine(1, attempt, &[(0, status)]));
    }
    let mut known: Vec<(u32, PartStatus)> = sqlx::query(
        "SELECT part_index, status, error_code, operator FROM part_reports
         WHERE message_id = $1 AND attempt = $2",
    )
    .bind(id.0)
    .bind(attempt as i32)
    .try_map(|row: PgRow| {
        Ok((
            small::<u32>(&row, 0, "part index")?,
            PartStatus {
                status: small::<u8>(&row, 1, "status")
                    .ok()
                    .and_then(CmStatus::from_code)
                    .unwrap_or(CmStatus::Accepted),
                error_code: small_opt::<u16>(&row, 2, "error code")?
                    .and_then(DeliveryError::from_code),
                operator: row.try_get(3)?,
            },
        ))
    })
    .fetch_all(&mut *connection)
    .await?;
    let previous = known.iter().position(|(index, _)| *index == part_index);
    let merged = merge(previous.map(|at| &known[at].1), status);
    sqlx::query(
        "INSERT INTO part_reports (message_id, attempt, part_index, status, error_code, operator)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (message_id, attempt, part_index) DO UPDATE SET status = excluded.status,
             error_code = excluded.error_code, operator = excluded.operator",
    )
    .bind(id.0)
    .bind(attempt as i32)
    .bind(part_index as i32)
    .bind(i32::from(merged.status.code()))
    .bind(merged.error_code.map(|code| i32::from(code.code())))
    .bind(merged.operator.clone())
    .execute(&mut *connection)
    .await?;
    match previous {
        Some(at) => known[at].1 = merged,
        None => known.push((part_index, merged)),
    }
    Ok(combine(parts, attempt, &known))
}
