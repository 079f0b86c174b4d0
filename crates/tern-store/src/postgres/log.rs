//! The [`MessageLogStore`] role on PostgreSQL: the message log (what an account sent and what
//! became of it) and conversions recorded on it, read as SQLite's log reads them. A message is
//! waiting (its `due_at` is set, on SQLite) while it is in the `queue` table. Each call reads
//! one snapshot (a repeatable-read transaction), however many statements it takes; the status
//! histories, conversions and sends of a page are read with one statement each.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use tern_core::account::AccountId;
use tern_core::funnel::{Funnel, Journey};
use tern_core::inbound::InboundMessage;
use tern_core::message::{
    DeliveryState, MessageFilter, MessageId, MessageRecord, SendRecord, StatusEvent,
};
use tern_core::ports::{MessageLogStore, StoreError};
use tern_core::segments::group_record;
use tern_core::status::CmStatus;

use super::messages::{
    Contents, MESSAGE_COLUMNS, MESSAGE_TABLES, StoredMessage, small, small_opt,
    stored_message_from_row,
};
use super::rows::{bad, channels};
use super::{PgStore, backend_error, millis, timestamp, within};

/// Whether a message row is an entry of the log: a message that is no segment; the segment a
/// group handed on together is named by (its first-stored); a segment finished while waiting
/// (cancelled: out of the queue), alone; or the first-stored of the segments of one key still
/// waiting. The segments that are no entry are shown in their group's.
const LOG_ENTRY: &str = "(m.segment_ref IS NULL OR m.segment_group = m.id
    OR (m.segment_group IS NULL AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = m.id))
    OR (m.segment_group IS NULL AND NOT EXISTS (SELECT 1 FROM messages w
        JOIN contents wc ON wc.id = w.content_id JOIN queue wq ON wq.message_id = w.id
        WHERE w.account_id = m.account_id AND w.recipient = m.recipient
            AND w.segment_ref = m.segment_ref AND w.segment_total = m.segment_total
            AND w.segment_group IS NULL AND wc.sender = c.sender
            AND w.id < m.id)))";

/// A status change as the log shows it (`message_id, at, channel, status, error_code,
/// operator` of `status_events`), with its message's id.
fn status_event_from_row(row: &PgRow) -> sqlx::Result<(MessageId, StatusEvent)> {
    let channel: String = row.try_get(2)?;
    let status: u8 = small(row, 3, "status")?;
    Ok((
        MessageId(row.try_get(0)?),
        StatusEvent {
            at: timestamp(row.try_get(1)?),
            channel: channel.parse().map_err(|_| bad(2, "channel"))?,
            status: CmStatus::from_code(status).ok_or_else(|| bad(3, "status"))?,
            error_code: small_opt(row, 4, "error code")?,
            operator: row.try_get(5)?,
        },
    ))
}

/// The messages `query` (selecting [`MESSAGE_COLUMNS`], its parameters bound) finds, in
/// its order, each with its status history, conversions and sends.
async fn records<'q>(
    connection: &mut PgConnection,
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> sqlx::Result<Vec<MessageRecord>> {
    let mut contents = Contents::new();
    let rows = query.fetch_all(&mut *connection).await?;
    let logged: Vec<StoredMessage> = rows
        .iter()
        .map(|row| stored_message_from_row(row, &mut contents))
        .collect::<sqlx::Result<_>>()?;
    if logged.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = logged.iter().map(|logged| logged.message.id.0).collect();

    let mut histories: HashMap<MessageId, Vec<StatusEvent>> = HashMap::new();
    for (id, event) in sqlx::query(
        "SELECT message_id, at, channel, status, error_code, operator FROM status_events
         WHERE message_id = ANY($1::uuid[]) ORDER BY message_id, seq",
    )
    .bind(&ids)
    .try_map(|row: PgRow| status_event_from_row(&row))
    .fetch_all(&mut *connection)
    .await?
    {
        histories.entry(id).or_default().push(event);
    }

    let mut conversions: HashMap<MessageId, Vec<Timestamp>> = HashMap::new();
    for (id, converted_at) in sqlx::query(
        "SELECT message_id, converted_at FROM conversions WHERE message_id = ANY($1::uuid[])
         ORDER BY message_id, converted_at",
    )
    .bind(&ids)
    .try_map(|row: PgRow| Ok((MessageId(row.try_get(0)?), timestamp(row.try_get(1)?))))
    .fetch_all(&mut *connection)
    .await?
    {
        conversions.entry(id).or_default().push(converted_at);
    }

    let mut sends: HashMap<MessageId, Vec<SendRecord>> = HashMap::new();
    for (id, attempt, connector, external_id) in sqlx::query(
        "SELECT message_id, attempt, connector, COALESCE(given_id, external_id) FROM external_ids
         WHERE message_id = ANY($1::uuid[]) ORDER BY message_id, attempt, part_index",
    )
    .bind(&ids)
    .try_map(|row: PgRow| {
        Ok((
            MessageId(row.try_get(0)?),
            small::<u32>(&row, 1, "attempt")?,
            row.try_get::<String, _>(2)?,
            row.try_get::<String, _>(3)?,
        ))
    })
    .fetch_all(&mut *connection)
    .await?
    {
        let sent = sends.entry(id).or_default();
        match sent.last_mut() {
            Some(send) if send.attempt == attempt && send.connector == connector => {
                send.external_ids.push(external_id);
            }
            _ => sent.push(SendRecord {
                attempt,
                connector,
                external_ids: vec![external_id],
            }),
        }
    }

    Ok(logged
        .into_iter()
        .map(|logged| {
            let id = logged.message.id;
            MessageRecord {
                state: logged.progress.state,
                channel: Some(logged.progress.channel()),
                history: histories.remove(&id).unwrap_or_default(),
                conversions: conversions.remove(&id).unwrap_or_default(),
                segments: None,
                sends: sends.remove(&id).unwrap_or_default(),
                message: logged.message,
            }
        })
        .collect())
}

/// The message log query (see SQLite's `rows::list_messages`). A concatenated message is one
/// entry (`segments::group_record`) at its first-stored segment's place; the filters other than
/// the state are those of that segment, the state filter is the group's state. Paged by entry:
/// `after` names an entry.
async fn list_messages(
    connection: &mut PgConnection,
    account: AccountId,
    filter: &MessageFilter,
) -> sqlx::Result<Vec<MessageRecord>> {
    let mut entries = Vec::with_capacity(filter.limit.min(1000));
    let mut after = filter.after;
    loop {
        let mut sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.account_id = $1 AND {LOG_ENTRY}"
        );
        let mut parameter = 1;
        let mut next = |sql: &mut String, condition: &str| {
            parameter += 1;
            sql.push_str(&condition.replace('?', &format!("${parameter}")));
        };
        if filter.reference.is_some() {
            next(&mut sql, " AND m.reference = ?");
        }
        if filter.recipient.is_some() {
            next(&mut sql, " AND m.recipient = ?");
        }
        if filter.state.is_some() {
            // A group's state is decided on all its segments, below.
            next(&mut sql, " AND (m.segment_ref IS NOT NULL OR m.state = ?)");
        }
        if filter.since.is_some() {
            next(&mut sql, " AND m.accepted_at >= ?");
        }
        if filter.until.is_some() {
            next(&mut sql, " AND m.accepted_at < ?");
        }
        if after.is_some() {
            next(&mut sql, " AND m.id > ?");
        }
        next(&mut sql, " ORDER BY m.id LIMIT ?");
        let wanted = filter.limit - entries.len();

        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(account);
        if let Some(reference) = &filter.reference {
            query = query.bind(reference.clone());
        }
        if let Some(recipient) = &filter.recipient {
            query = query.bind(recipient.clone());
        }
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(since) = filter.since {
            query = query.bind(millis(since));
        }
        if let Some(until) = filter.until {
            query = query.bind(millis(until));
        }
        if let Some(after) = after {
            query = query.bind(after.0);
        }
        query = query.bind(i64::try_from(wanted).unwrap_or(i64::MAX));

        let found = records(&mut *connection, query).await?;
        let exhausted = found.len() < wanted;
        after = found.last().map(|record| record.message.id);
        for record in found {
            if record.message.segment.is_none() {
                entries.push(record);
                continue;
            }
            let members = group_members(&mut *connection, record.message.id).await?;
            let Some(group) = group_record(members) else {
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

/// The segments shown in the log entry of segment `entry` (see [`LOG_ENTRY`]), in the order they
/// were stored: those its group was handed on with, or the waiting ones of its key, or itself.
async fn group_members(
    connection: &mut PgConnection,
    entry: MessageId,
) -> sqlx::Result<Vec<MessageRecord>> {
    let (group, waiting): (Option<uuid::Uuid>, bool) = sqlx::query_as(
        "SELECT segment_group, EXISTS (SELECT 1 FROM queue q WHERE q.message_id = messages.id)
         FROM messages WHERE id = $1",
    )
    .bind(entry.0)
    .fetch_one(&mut *connection)
    .await?;
    let (sql, value) = match (group, waiting) {
        (Some(group), _) => (
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.segment_group = $1
                 ORDER BY m.id"
            ),
            group,
        ),
        (None, true) => (
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES}
                 JOIN messages e ON e.id = $1 JOIN contents ec ON ec.id = e.content_id
                 WHERE m.account_id = e.account_id AND m.recipient = e.recipient
                    AND m.segment_ref = e.segment_ref AND m.segment_total = e.segment_total
                    AND m.segment_group IS NULL AND c.sender = ec.sender
                    AND EXISTS (SELECT 1 FROM queue q WHERE q.message_id = m.id)
                 ORDER BY m.id"
            ),
            entry.0,
        ),
        (None, false) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.id = $1"),
            entry.0,
        ),
    };
    records(connection, sqlx::query(AssertSqlSafe(sql)).bind(value)).await
}

/// Begin a transaction that reads one snapshot and writes nothing.
async fn read_snapshot(
    store: &PgStore,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    let mut transaction = store.pool().begin().await.map_err(backend_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *transaction)
        .await
        .map_err(backend_error)?;
    Ok(transaction)
}

#[async_trait]
impl MessageLogStore for PgStore {
    async fn record_conversion(
        &self,
        account: AccountId,
        mut recipients: Vec<String>,
        reference: String,
        converted_at: Timestamp,
    ) -> Result<usize, StoreError> {
        within(async {
            // A form named twice names the same messages: each is counted and recorded once (a
            // message has one recipient, so no message is found by two forms).
            recipients.sort_unstable();
            recipients.dedup();
            if recipients.is_empty() {
                return Ok(0);
            }
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let recorded = sqlx::query(
                "INSERT INTO conversions (message_id, converted_at, recorded_at)
                 SELECT id, $4, $5 FROM messages
                 WHERE account_id = $1 AND reference = $2 AND recipient = ANY($3::text[])",
            )
            .bind(account)
            .bind(&reference)
            .bind(&recipients)
            .bind(millis(converted_at))
            .bind(millis(Timestamp::now()))
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?
            .rows_affected();
            transaction.commit().await.map_err(backend_error)?;
            Ok(usize::try_from(recorded).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        within(async {
            if filter.limit == 0 {
                return Ok(Vec::new());
            }
            let mut transaction = read_snapshot(self).await?;
            let entries = list_messages(&mut transaction, account, &filter)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(entries)
        })
        .await
    }

    async fn message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        within(async {
            let mut transaction = read_snapshot(self).await?;
            let found = records(
                &mut transaction,
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES} WHERE m.id = $1 AND m.account_id = $2"
                )))
                .bind(id.0)
                .bind(account),
            )
            .await
            .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn inbound_messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        within(async { super::inbound::inbound_messages(self, account, filter).await }).await
    }

    async fn funnel(
        &self,
        account: AccountId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Funnel, StoreError> {
        within(async {
            let mut transaction = read_snapshot(self).await?;
            let funnel = funnel(&mut transaction, account, since, until)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(funnel)
        })
        .await
    }
}

/// The delivery funnel of `account`'s messages accepted in `since..until` (see SQLite's
/// `rows::funnel`): one pass, streamed, over the messages joined with their status events, each
/// message folded into the funnel as its rows end.
async fn funnel(
    connection: &mut PgConnection,
    account: AccountId,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> sqlx::Result<Funnel> {
    let mut rows = sqlx::query(
        "SELECT m.id, m.state, m.channels, m.channel_index, s.channel, s.status
         FROM messages m LEFT JOIN status_events s ON s.message_id = m.id
         WHERE m.account_id = $1 AND ($2::bigint IS NULL OR m.accepted_at >= $2)
            AND ($3::bigint IS NULL OR m.accepted_at < $3)
         ORDER BY m.id, s.seq",
    )
    .bind(account)
    .bind(since.map(millis))
    .bind(until.map(millis))
    .fetch(&mut *connection);
    let mut funnel = Funnel::default();
    let mut current: Option<(uuid::Uuid, Journey)> = None;
    while let Some(row) = rows.try_next().await? {
        let id: uuid::Uuid = row.try_get(0)?;
        if current.as_ref().is_none_or(|(seen, _)| *seen != id) {
            if let Some((_, journey)) = current.take() {
                funnel.add(&journey);
            }
            let state: String = row.try_get(1)?;
            let index: usize = small(&row, 3, "channel index")?;
            let channels = channels(&row, 2)?;
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
            (row.try_get::<Option<String>, _>(4)?, &mut current)
        {
            let status: u8 = small(&row, 5, "status")?;
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
