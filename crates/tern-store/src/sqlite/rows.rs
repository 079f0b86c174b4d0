//! Mapping between SQLite rows and domain values.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::types::Type;
use rusqlite::{Connection, Row, params_from_iter};
use tern_core::account::{Account, AccountId, TokenHash};
use tern_core::channel::Channel;
use tern_core::dispatch::{Progress, Report};
use tern_core::error_code::DeliveryError;
use tern_core::error_code::Surface;
use tern_core::funnel::{Funnel, Journey};
use tern_core::inbound::{InboundExtras, InboundMessage};
use tern_core::message::{
    Content, DeliveryState, MessageFilter, MessageId, MessageRecord, NewMessage, Segment,
    SendRecord, StatusEvent,
};
use tern_core::money::{Money, per_part};
use tern_core::outbox::{RenderedWebhook, StatusFact};
use tern_core::segments::group_record;
use tern_core::smpp_account::{SmppPasswordHash, SmppSettings};
use tern_core::status::CmStatus;
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};

pub const ACCOUNT_COLUMNS: &str = "id, name, token_hash, balance_micros, status_url, status_format, inbound_url, channels, created_at, \
    smpp_system_id, smpp_password_hash, smpp_max_binds, smpp_rate, smpp_receipt_format, smpp_receipt_pdu, \
    (SELECT group_concat(n.number, ',' ORDER BY n.id) FROM inbound_numbers n WHERE n.account_id = accounts.id), \
    disabled, webhook_secret, webhook_secret_previous, webhook_secret_rotated_at";

/// The columns of a message row with its content and its account's status URL; select
/// them `FROM` [`MESSAGE_TABLES`].
pub const MESSAGE_COLUMNS: &str = "m.id, m.account_id, m.recipient, m.content_id, c.sender, c.body, \
    c.body_type, c.dcs, c.app_key, c.rich_content, c.custom_grouping1, c.custom_grouping2, \
    c.custom_grouping3, m.parts, m.reference, m.channels, m.accepted_at, m.valid_until, \
    m.price_micros, m.state, m.channel_index, m.attempt, a.status_url, m.events, m.deferrals, \
    c.udh, m.source, m.smpp_registered_delivery, m.segment_ref, m.segment_total, m.segment_seq";

/// How many columns [`MESSAGE_COLUMNS`] has: a query may select more after them.
pub const MESSAGE_COLUMN_COUNT: usize = 31;

/// [`MESSAGE_COLUMNS`] without the content (sender, body and groupings empty), for the decisions
/// that do not look at it; select them `FROM` [`EVENT_TABLES`]. Events are the most frequent
/// load, so they do not read `contents` at all: a report reads the custom groupings when it is
/// sent (see [`STATUS_FACT_COLUMNS`]). Nor the segment (its key needs the sender): no event
/// decision looks at it.
pub const EVENT_COLUMNS: &str = "m.id, m.account_id, m.recipient, m.content_id, '', '', \
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.parts, m.reference, m.channels, m.accepted_at, \
    m.valid_until, m.price_micros, m.state, m.channel_index, m.attempt, a.status_url, m.events, \
    m.deferrals, NULL, m.source, m.smpp_registered_delivery, NULL, NULL, NULL";

/// The tables [`MESSAGE_COLUMNS`] come from.
pub const MESSAGE_TABLES: &str =
    "messages m JOIN contents c ON c.id = m.content_id JOIN accounts a ON a.id = m.account_id";

/// The tables [`EVENT_COLUMNS`] come from.
pub const EVENT_TABLES: &str = "messages m JOIN accounts a ON a.id = m.account_id";

/// The contents already read by one query, by id: the rows of recipients of one `msg` share
/// one [`Content`] in memory, as they share one row on disk. Only for rows of one column list.
pub type Contents = HashMap<i64, Arc<Content>>;

/// A message row with its account's status URL.
pub struct StoredMessage {
    pub message: NewMessage,
    /// The row of its content (shared by the recipients of one `msg`).
    pub content_id: i64,
    /// Status changes recorded so far (the next one is number `events + 1`).
    pub events: u32,
    pub progress: Progress,
    /// Its account's status URL (whether its status changes are reported).
    pub status_url: Option<String>,
}

/// Milliseconds since the epoch, as stored.
pub fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// A stored millisecond value as a timestamp.
pub fn timestamp(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The columns of an inbound message row, read by [`inbound_from_row`].
pub const INBOUND_COLUMNS: &str =
    "id, account_id, connector, channel, sender, recipient, body, parts, received_at, extras";

/// An inbound message from the columns of [`INBOUND_COLUMNS`].
pub fn inbound_from_row(row: &Row) -> rusqlite::Result<InboundMessage> {
    let channel = channels(row, 3)?
        .first()
        .copied()
        .ok_or_else(|| bad(3, "channel"))?;
    Ok(InboundMessage {
        id: message_id(row, 0)?,
        account: row.get(1)?,
        connector: Arc::from(row.get::<_, String>(2)?),
        channel,
        from: row.get(4)?,
        to: row.get(5)?,
        text: row.get(6)?,
        parts: row.get(7)?,
        received_at: timestamp(row.get(8)?),
        extras: match row.get::<_, Option<String>>(9)? {
            Some(json) => serde_json::from_str(&json).map_err(|_| bad(9, "extras"))?,
            None => InboundExtras::default(),
        },
    })
}

fn bad(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, what.to_owned().into())
}

/// Column `index` as text, read in place: the columns that are parsed (a state, a channel list)
/// are not copied into a `String` of their own first (they are read for every message a claim or
/// an event loads).
fn text<'r>(row: &'r Row, index: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(index)?
        .as_str()
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, error.into()))
}

pub fn message_id(row: &Row, index: usize) -> rusqlite::Result<MessageId> {
    let bytes = row.get_ref(index)?.as_blob().map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Blob, error.into())
    })?;
    uuid::Uuid::from_slice(bytes)
        .map(MessageId)
        .map_err(|_| bad(index, "message id"))
}

fn channels(row: &Row, index: usize) -> rusqlite::Result<Vec<Channel>> {
    Channel::parse_list(text(row, index)?).map_err(|_| bad(index, "channel list"))
}

pub fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
    let hash: String = row.get(2)?;
    let format: String = row.get(5)?;
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        token_hash: TokenHash::from_hex(&hash).ok_or_else(|| bad(2, "token hash"))?,
        balance: row.get::<_, Option<i64>>(3)?.map(Money),
        status_url: row.get(4)?,
        status_format: format.parse().map_err(|_| bad(5, "status format"))?,
        inbound_url: row.get(6)?,
        inbound_numbers: row
            .get::<_, Option<String>>(15)?
            .map(|numbers| numbers.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        channels: channels(row, 7)?,
        smpp: smpp_settings(row, 9)?.map(Arc::new),
        created_at: timestamp(row.get(8)?),
        disabled: row.get(16)?,
        webhook_secrets: webhook_secrets(row, 17)?,
    })
}

/// An account's webhook secrets from the three `webhook_secret*` columns starting at `first`.
fn webhook_secrets(row: &Row, first: usize) -> rusqlite::Result<WebhookSecrets> {
    let secret = |index: usize| -> rusqlite::Result<Option<WebhookSecret>> {
        row.get::<_, Option<String>>(index)?
            .map(|text| text.parse().map_err(|_| bad(index, "webhook secret")))
            .transpose()
    };
    let previous = match (secret(first + 1)?, row.get::<_, Option<i64>>(first + 2)?) {
        (Some(secret), Some(at)) => Some((secret, timestamp(at))),
        _ => None,
    };
    Ok(WebhookSecrets {
        current: secret(first)?,
        previous,
    })
}

/// An account's SMPP settings from the six `smpp_*` columns starting at `first`: `None` when its
/// system id is NULL (an account without SMPP, or one created before schema version 11).
fn smpp_settings(row: &Row, first: usize) -> rusqlite::Result<Option<SmppSettings>> {
    let Some(system_id) = row.get::<_, Option<String>>(first)? else {
        return Ok(None);
    };
    let hash: String = row.get(first + 1)?;
    let count = |index: usize, what: &str| -> rusqlite::Result<Option<NonZeroU32>> {
        row.get::<_, Option<i64>>(index)?
            .map(|n| {
                u32::try_from(n)
                    .ok()
                    .and_then(NonZeroU32::new)
                    .ok_or_else(|| bad(index, what))
            })
            .transpose()
    };
    let format: String = row.get(first + 4)?;
    let pdu: String = row.get(first + 5)?;
    Ok(Some(SmppSettings {
        system_id,
        password: SmppPasswordHash::from_phc(&hash)
            .ok_or_else(|| bad(first + 1, "SMPP password hash"))?,
        max_binds: count(first + 2, "SMPP max binds")?
            .ok_or_else(|| bad(first + 2, "SMPP max binds"))?,
        rate: count(first + 3, "SMPP rate")?,
        receipt_format: format
            .parse()
            .map_err(|_| bad(first + 4, "SMPP receipt format"))?,
        receipt_pdu: pdu
            .parse()
            .map_err(|_| bad(first + 5, "SMPP receipt PDU"))?,
    }))
}

pub fn stored_message_from_row(
    row: &Row,
    contents: &mut Contents,
) -> rusqlite::Result<StoredMessage> {
    let content_id: i64 = row.get(3)?;
    let content = match contents.get(&content_id) {
        Some(content) => Arc::clone(content),
        None => {
            let content = Arc::new(Content {
                from: row.get(4)?,
                body: row.get(5)?,
                body_type: row.get(6)?,
                dcs: row.get(7)?,
                app_key: row.get(8)?,
                rich_content: row.get(9)?,
                custom_groupings: [row.get(10)?, row.get(11)?, row.get(12)?],
                udh: row.get(25)?,
            });
            contents.insert(content_id, Arc::clone(&content));
            content
        }
    };
    let channels = channels(row, 15)?;
    let valid_until = timestamp(row.get(17)?);
    let state = text(row, 19)?;
    let message = NewMessage {
        id: message_id(row, 0)?,
        account_id: row.get(1)?,
        recipient: row.get(2)?,
        content,
        parts: row.get(13)?,
        reference: row.get(14)?,
        channels: channels.clone(),
        accepted_at: timestamp(row.get(16)?),
        valid_until,
        price: Money(row.get(18)?),
        source: Surface::parse(text(row, 26)?).ok_or_else(|| bad(26, "source"))?,
        smpp_registered_delivery: row.get(27)?,
        segment: segment(row, 28)?,
    };
    Ok(StoredMessage {
        content_id,
        events: row.get(23)?,
        progress: Progress {
            state: DeliveryState::parse(state).ok_or_else(|| bad(19, "state"))?,
            channels,
            channel_index: row.get::<_, i64>(20)? as usize,
            attempt: row.get(21)?,
            deferrals: row.get(24)?,
            valid_until,
        },
        message,
        status_url: row.get(22)?,
    })
}

/// A segment from the `segment_ref, segment_total, segment_seq` columns starting at `first`:
/// `None` when they are NULL (a message that is no segment).
fn segment(row: &Row, first: usize) -> rusqlite::Result<Option<Segment>> {
    let Some(reference) = row.get::<_, Option<u16>>(first)? else {
        return Ok(None);
    };
    Ok(Some(Segment {
        reference,
        total: row.get(first + 1)?,
        seq: row.get(first + 2)?,
    }))
}

/// The columns of a status change with what its report says of the message; select them `FROM`
/// [`STATUS_FACT_TABLES`] (read by [`status_fact_from_row`]).
pub const STATUS_FACT_COLUMNS: &str = "s.message_id, s.seq, s.at, s.channel, s.status, s.error_code, \
    s.operator, m.recipient, m.reference, c.custom_grouping1, c.custom_grouping2, c.custom_grouping3, \
    m.accepted_at, c.sender, c.body, c.body_type, m.price_micros, m.parts, s.detail";

/// The tables [`STATUS_FACT_COLUMNS`] come from.
pub const STATUS_FACT_TABLES: &str = "status_events s JOIN messages m ON m.id = s.message_id \
    JOIN contents c ON c.id = m.content_id";

/// A status change and its message's report fields (see [`STATUS_FACT_COLUMNS`]).
pub fn status_fact_from_row(row: &Row) -> rusqlite::Result<StatusFact> {
    let channel: String = row.get(3)?;
    let status: u8 = row.get(4)?;
    let parts: u32 = row.get(17)?;
    Ok(StatusFact {
        message_id: message_id(row, 0)?,
        seq: row.get(1)?,
        at: timestamp(row.get(2)?),
        report: Report {
            channel: channel.parse().map_err(|_| bad(3, "channel"))?,
            status: CmStatus::from_code(status).ok_or_else(|| bad(4, "status"))?,
            // A code outside the spec's table (only an earlier Tern's simulator could record
            // one) is reported without a standard error.
            error_code: row
                .get::<_, Option<u16>>(5)?
                .and_then(DeliveryError::from_code),
            operator: row.get(6)?,
            detail: row.get(18)?,
        },
        recipient: row.get(7)?,
        reference: row.get(8)?,
        custom_groupings: [row.get(9)?, row.get(10)?, row.get(11)?],
        accepted_at: timestamp(row.get(12)?),
        from: row.get(13)?,
        body: row.get(14)?,
        body_binary: row.get::<_, Option<String>>(15)?.as_deref() == Some("BINARY"),
        part_price: per_part(Money(row.get(16)?), parts),
        parts,
    })
}

/// A webhook an earlier Tern rendered (`message_id, report_id, content_type, body` of
/// `rendered_webhooks`).
pub fn rendered_webhook_from_row(row: &Row) -> rusqlite::Result<RenderedWebhook> {
    Ok(RenderedWebhook {
        message_id: message_id(row, 0)?,
        report_id: row.get(1)?,
        content_type: row.get(2)?,
        body: row.get(3)?,
    })
}

/// Whether a message row is an entry of the log: a message that is no segment; the segment a
/// group handed on together is named by (its first-stored); a segment finished while waiting
/// (cancelled), alone; or the first-stored of the segments of one key still waiting. The
/// segments that are no entry are shown in their group's.
const LOG_ENTRY: &str = "(m.segment_ref IS NULL OR m.segment_group = m.id
    OR (m.segment_group IS NULL AND m.due_at IS NULL)
    OR (m.segment_group IS NULL AND NOT EXISTS (SELECT 1 FROM messages w
        JOIN contents wc ON wc.id = w.content_id
        WHERE w.account_id = m.account_id AND w.recipient = m.recipient
            AND w.segment_ref = m.segment_ref AND w.segment_total = m.segment_total
            AND w.segment_group IS NULL AND w.due_at IS NOT NULL AND wc.sender = c.sender
            AND w.id < m.id)))";

/// The message log query. A concatenated message is one entry (`segments::group_record`) at its
/// first-stored segment's place; the filters other than the state are those of that segment (a
/// group's segments share the recipient), the state filter is the group's state
/// (`segments::group_state`). Paged by entry: `after` names an entry.
pub fn list_messages(
    connection: &Connection,
    account: AccountId,
    filter: &MessageFilter,
) -> rusqlite::Result<Vec<MessageRecord>> {
    let mut entries = Vec::with_capacity(filter.limit);
    let mut after = filter.after;
    loop {
        let mut sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.account_id = ? AND {LOG_ENTRY}"
        );
        let mut values: Vec<rusqlite::types::Value> = vec![account.into()];
        if let Some(reference) = &filter.reference {
            sql.push_str(" AND m.reference = ?");
            values.push(reference.clone().into());
        }
        if let Some(recipient) = &filter.recipient {
            sql.push_str(" AND m.recipient = ?");
            values.push(recipient.clone().into());
        }
        if let Some(state) = filter.state {
            // A group's state is decided on all its segments, below.
            sql.push_str(" AND (m.segment_ref IS NOT NULL OR m.state = ?)");
            values.push(state.as_str().to_owned().into());
        }
        if let Some(since) = filter.since {
            sql.push_str(" AND m.accepted_at >= ?");
            values.push(millis(since).into());
        }
        if let Some(until) = filter.until {
            sql.push_str(" AND m.accepted_at < ?");
            values.push(millis(until).into());
        }
        if let Some(after) = after {
            sql.push_str(" AND m.id > ?");
            values.push(after.0.as_bytes().to_vec().into());
        }
        let wanted = filter.limit - entries.len();
        sql.push_str(" ORDER BY m.id LIMIT ?");
        values.push((wanted as i64).into());
        let found = records(connection, &sql, values)?;
        let exhausted = found.len() < wanted;
        after = found.last().map(|record| record.message.id);
        for record in found {
            if record.message.segment.is_none() {
                entries.push(record);
                continue;
            }
            let Some(group) = group_record(group_members(connection, record.message.id)?) else {
                continue;
            };
            if filter.state.is_none_or(|state| state == group.state) {
                entries.push(group);
            }
        }
        if exhausted || entries.len() >= filter.limit {
            return Ok(entries);
        }
    }
}

/// The inbound messages of `account` the log shows with `filter` (its `recipient`, `since`,
/// `after` and `limit`), in id order.
pub fn list_inbound(
    connection: &Connection,
    account: AccountId,
    filter: &MessageFilter,
) -> rusqlite::Result<Vec<InboundMessage>> {
    let mut sql = format!("SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE account_id = ?");
    let mut values: Vec<rusqlite::types::Value> = vec![account.into()];
    if let Some(recipient) = &filter.recipient {
        sql.push_str(" AND recipient = ?");
        values.push(recipient.clone().into());
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND received_at >= ?");
        values.push(millis(since).into());
    }
    if let Some(until) = filter.until {
        sql.push_str(" AND received_at < ?");
        values.push(millis(until).into());
    }
    if let Some(after) = filter.after {
        sql.push_str(" AND id > ?");
        values.push(after.0.as_bytes().to_vec().into());
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    values.push((filter.limit as i64).into());
    connection
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), inbound_from_row)?
        .collect()
}

/// The segments shown in the log entry of segment `entry` (see [`LOG_ENTRY`]), in the order they
/// were stored: those its group was handed on with, or the waiting ones of its key, or itself.
fn group_members(
    connection: &Connection,
    entry: MessageId,
) -> rusqlite::Result<Vec<MessageRecord>> {
    let id = entry.0.as_bytes().to_vec();
    let (group, waiting): (Option<Vec<u8>>, bool) = connection
        .prepare_cached("SELECT segment_group, due_at IS NOT NULL FROM messages WHERE id = ?1")?
        .query_row([&id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let (sql, value) = match (group, waiting) {
        (Some(group), _) => (
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.segment_group = ?
                 ORDER BY m.id"
            ),
            group,
        ),
        (None, true) => (
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES}
                 JOIN messages e ON e.id = ? JOIN contents ec ON ec.id = e.content_id
                 WHERE m.account_id = e.account_id AND m.recipient = e.recipient
                    AND m.segment_ref = e.segment_ref AND m.segment_total = e.segment_total
                    AND m.segment_group IS NULL AND m.due_at IS NOT NULL AND c.sender = ec.sender
                 ORDER BY m.id"
            ),
            id,
        ),
        (None, false) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.id = ?"),
            id,
        ),
    };
    records(connection, &sql, vec![value.into()])
}

/// Message `id` of `account` as the log shows it (`None`: none, or another account's).
pub fn message_record(
    connection: &Connection,
    account: AccountId,
    id: MessageId,
) -> rusqlite::Result<Option<MessageRecord>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.id = ? AND m.account_id = ?"
    );
    let values: Vec<rusqlite::types::Value> = vec![id.0.as_bytes().to_vec().into(), account.into()];
    Ok(records(connection, &sql, values)?.pop())
}

/// The delivery funnel of `account`'s messages accepted in `since..until`
/// ([`tern_core::ports::MessageLogStore::funnel`]): one pass over the messages joined with their
/// status events, each message folded into the funnel as its rows end.
pub fn funnel(
    connection: &Connection,
    account: AccountId,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> rusqlite::Result<Funnel> {
    let mut statement = connection.prepare_cached(
        "SELECT m.id, m.state, m.channels, m.channel_index, s.channel, s.status
         FROM messages m LEFT JOIN status_events s ON s.message_id = m.id
         WHERE m.account_id = ?1 AND (?2 IS NULL OR m.accepted_at >= ?2)
            AND (?3 IS NULL OR m.accepted_at < ?3)
         ORDER BY m.id, s.seq",
    )?;
    let mut rows = statement.query(rusqlite::params![
        account,
        since.map(millis),
        until.map(millis)
    ])?;
    let mut funnel = Funnel::default();
    let mut current: Option<(Vec<u8>, Journey)> = None;
    while let Some(row) = rows.next()? {
        let id: Vec<u8> = row.get(0)?;
        if current.as_ref().is_none_or(|(seen, _)| *seen != id) {
            if let Some((_, journey)) = current.take() {
                funnel.add(&journey);
            }
            let state: String = row.get(1)?;
            let index = usize::try_from(row.get::<_, i64>(3)?).map_err(|_| bad(3, "index"))?;
            let channels = channels(row, 2)?;
            let channel = *channels
                .get(index.min(channels.len().saturating_sub(1)))
                .ok_or_else(|| bad(2, "channel list"))?;
            let journey = Journey {
                channel,
                state: DeliveryState::parse(&state).ok_or_else(|| bad(1, "state"))?,
                history: Vec::new(),
            };
            current = Some((id, journey));
        }
        if let (Some(channel), Some((_, journey))) =
            (row.get::<_, Option<String>>(4)?, &mut current)
        {
            let status: u8 = row.get(5)?;
            journey.history.push((
                channel.parse().map_err(|_| bad(4, "channel"))?,
                CmStatus::from_code(status).ok_or_else(|| bad(5, "status"))?,
            ));
        }
    }
    if let Some((_, journey)) = current {
        funnel.add(&journey);
    }
    Ok(funnel)
}

/// The messages `sql` (selecting [`MESSAGE_COLUMNS`]) finds with `values`, in its order, each
/// with its status history and conversions.
fn records(
    connection: &Connection,
    sql: &str,
    values: Vec<rusqlite::types::Value>,
) -> rusqlite::Result<Vec<MessageRecord>> {
    let mut contents = Contents::new();
    let stored: Vec<StoredMessage> = connection
        .prepare(sql)?
        .query_map(params_from_iter(values), |row| {
            stored_message_from_row(row, &mut contents)
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut events = connection.prepare_cached(
        "SELECT at, channel, status, error_code, operator FROM status_events WHERE message_id = ?1 ORDER BY seq",
    )?;
    let mut conversions = connection.prepare_cached(
        "SELECT converted_at FROM conversions WHERE message_id = ?1 ORDER BY converted_at",
    )?;
    let mut sent = connection.prepare_cached(
        "SELECT attempt, connector, COALESCE(given_id, external_id) FROM external_ids WHERE message_id = ?1
         ORDER BY attempt, part_index",
    )?;
    stored
        .into_iter()
        .map(|stored| {
            let converted: Vec<Timestamp> = conversions
                .query_map([stored.message.id.0.as_bytes()], |row| {
                    Ok(timestamp(row.get(0)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let history: Vec<StatusEvent> = events
                .query_map([stored.message.id.0.as_bytes()], |row| {
                    let channel: String = row.get(1)?;
                    let status: u8 = row.get(2)?;
                    Ok(StatusEvent {
                        at: timestamp(row.get(0)?),
                        channel: channel.parse().map_err(|_| bad(1, "channel"))?,
                        status: CmStatus::from_code(status).ok_or_else(|| bad(2, "status"))?,
                        error_code: row.get(3)?,
                        operator: row.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut sends: Vec<SendRecord> = Vec::new();
            let parts = sent.query_map([stored.message.id.0.as_bytes()], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?;
            for part in parts {
                let (attempt, connector, external_id) = part?;
                match sends.last_mut() {
                    Some(send) if send.attempt == attempt && send.connector == connector => {
                        send.external_ids.push(external_id);
                    }
                    _ => sends.push(SendRecord {
                        attempt,
                        connector,
                        external_ids: vec![external_id],
                    }),
                }
            }
            let channel = Some(stored.progress.channel());
            Ok(MessageRecord {
                state: stored.progress.state,
                channel,
                history,
                conversions: converted,
                segments: None,
                sends,
                message: stored.message,
            })
        })
        .collect()
}
