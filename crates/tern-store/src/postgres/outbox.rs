//! The [`OutboxStore`] role on PostgreSQL: outbox entries (see `tern_core::outbox`) claimed under
//! leases in the name of this node, one per ordering key at a time, and handed out with their
//! fact and their destination read at claim time, as on SQLite. Several nodes claim from one
//! table: a claim locks the heads it takes (`FOR UPDATE SKIP LOCKED`), so two nodes never take
//! the same entry, and a head another node is taking is passed over rather than waited for.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use tern_core::account::{Account, AccountId};
use tern_core::dispatch::Report;
use tern_core::error_code::DeliveryError;
use tern_core::inbound::InboundMessage;
use tern_core::message::MessageId;
use tern_core::money::{Money, per_part};
use tern_core::outbox::{
    ClaimedEntry, EntryFilter, EntryId, Fact, OrderingKey, OutboxKind, Outcome, RenderedWebhook,
    Resolved, StatusFact,
};
use tern_core::ports::{OutboxStore, StoreError};
use tern_core::status::CmStatus;

use super::inbound::{INBOUND_COLUMNS, inbound_from_row};
use super::rows::{ACCOUNT_COLUMNS, account_from_row, bad};
use super::{PgStore, backend_error, millis, timestamp, within_background};

/// An entry row as claimed, before its fact and destination are read.
struct Head {
    id: EntryId,
    kind: OutboxKind,
    account: Option<AccountId>,
    url: Option<String>,
    ordering_key: String,
    message_id: Option<MessageId>,
    seq: Option<u32>,
    rendered_id: Option<i64>,
    attempts: u32,
    created_at: Timestamp,
}

/// The columns of an entry as claimed, read by [`head_from_row`].
const HEAD_COLUMNS: &str = "o.id, o.kind, o.account_id, o.url, o.ordering_key, o.message_id, \
    o.seq, o.rendered_id, o.attempts, o.created_at";

fn head_from_row(row: &PgRow) -> sqlx::Result<Head> {
    let kind: String = row.try_get(1)?;
    Ok(Head {
        id: row.try_get(0)?,
        kind: OutboxKind::parse(&kind).ok_or_else(|| bad(1, "outbox kind"))?,
        account: row.try_get(2)?,
        url: row.try_get(3)?,
        ordering_key: row.try_get(4)?,
        message_id: row.try_get::<Option<uuid::Uuid>, _>(5)?.map(MessageId),
        seq: row
            .try_get::<Option<i32>, _>(6)?
            .map(|seq| u32::try_from(seq).map_err(|_| bad(6, "status change number")))
            .transpose()?,
        rendered_id: row.try_get(7)?,
        attempts: u32::try_from(row.try_get::<i32, _>(8)?).map_err(|_| bad(8, "attempt count"))?,
        created_at: timestamp(row.try_get(9)?),
    })
}

/// The statement that takes the due heads (the lowest entry of their key) `filter` takes,
/// earliest due first, at most `$2`, and locks them, passing over those another transaction
/// holds: `$1` now, `$3` the accounts (when `filter` names them). Candidates are found one kind
/// at a time, each a range of one index read in order (`outbox_kind_due`, or
/// `outbox_receipts_due` for the receipts of accounts: the kind is written into the statement,
/// one of [`OutboxKind`]'s names, so that the planner sees which index serves it), then locked
/// together. A head stays a head while it is locked (only it leaves its key before the entries
/// after it), and one that another node claimed meanwhile is due no more when it is read
/// again after its lock, so it is not taken twice.
fn claim_heads_sql(filter: &EntryFilter) -> String {
    let destination = if filter.accounts.is_some() {
        "AND o.account_id = ANY($3::bigint[])"
    } else {
        ""
    };
    let mut kinds: Vec<&'static str> = filter.kinds.iter().map(|kind| kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let candidates: Vec<String> = kinds
        .iter()
        .map(|kind| {
            format!(
                "(SELECT o.id FROM outbox o
                  WHERE o.kind = '{kind}' {destination} AND o.due_at <= $1
                    AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.ordering_key = o.ordering_key)
                  ORDER BY o.due_at LIMIT $2)"
            )
        })
        .collect();
    format!(
        "SELECT {HEAD_COLUMNS} FROM outbox o
         WHERE o.id IN ({candidates}) AND o.due_at <= $1
         ORDER BY o.due_at, o.id LIMIT $2
         FOR UPDATE OF o SKIP LOCKED",
        candidates = candidates.join(" UNION ALL ")
    )
}

/// The columns of a status change with what its report says of the message; select them `FROM`
/// [`STATUS_FACT_TABLES`] (read by [`status_fact_from_row`]).
const STATUS_FACT_COLUMNS: &str = "s.message_id, s.seq, s.at, s.channel, s.status, s.error_code, \
    s.operator, m.recipient, m.reference, c.custom_grouping1, c.custom_grouping2, c.custom_grouping3, \
    m.accepted_at, c.sender, c.body, c.body_type, m.price_micros, m.parts, s.detail";

/// The tables [`STATUS_FACT_COLUMNS`] come from.
const STATUS_FACT_TABLES: &str = "status_events s JOIN messages m ON m.id = s.message_id \
    JOIN contents c ON c.id = m.content_id";

/// A status change and its message's report fields (see [`STATUS_FACT_COLUMNS`]).
fn status_fact_from_row(row: &PgRow) -> sqlx::Result<StatusFact> {
    let channel: String = row.try_get(3)?;
    let status = u8::try_from(row.try_get::<i32, _>(4)?).map_err(|_| bad(4, "status"))?;
    let parts = u32::try_from(row.try_get::<i32, _>(17)?).map_err(|_| bad(17, "parts"))?;
    Ok(StatusFact {
        message_id: MessageId(row.try_get(0)?),
        seq: u32::try_from(row.try_get::<i32, _>(1)?).map_err(|_| bad(1, "seq"))?,
        at: timestamp(row.try_get(2)?),
        report: Report {
            channel: channel.parse().map_err(|_| bad(3, "channel"))?,
            status: CmStatus::from_code(status).ok_or_else(|| bad(4, "status"))?,
            // A code outside the spec's table is reported without a standard error, as on
            // SQLite.
            error_code: row
                .try_get::<Option<i32>, _>(5)?
                .and_then(|code| u16::try_from(code).ok())
                .and_then(DeliveryError::from_code),
            operator: row.try_get(6)?,
            detail: row.try_get(18)?,
        },
        recipient: row.try_get(7)?,
        reference: row.try_get(8)?,
        custom_groupings: [row.try_get(9)?, row.try_get(10)?, row.try_get(11)?],
        accepted_at: timestamp(row.try_get(12)?),
        from: row.try_get(13)?,
        body: row.try_get(14)?,
        body_binary: row.try_get::<Option<String>, _>(15)?.as_deref() == Some("BINARY"),
        part_price: per_part(Money(row.try_get(16)?), parts),
        parts,
    })
}

/// A webhook an earlier Tern rendered (`id, message_id, report_id, content_type, body` of
/// `rendered_webhooks`), with its id.
fn rendered_webhook_from_row(row: &PgRow) -> sqlx::Result<(i64, RenderedWebhook)> {
    Ok((
        row.try_get(0)?,
        RenderedWebhook {
            message_id: MessageId(row.try_get(1)?),
            report_id: row.try_get(2)?,
            content_type: row.try_get(3)?,
            body: row.try_get(4)?,
        },
    ))
}

/// The facts and destinations of claimed entries, read as SQLite's `Resolver` reads them (a URL
/// before an account; a status change, else an inbound message for the inbound kinds, else a
/// rendered webhook), each kind of row with one statement for the whole claim.
#[derive(Default)]
struct Resolver {
    accounts: HashMap<AccountId, Arc<Account>>,
    status_facts: HashMap<(MessageId, u32), StatusFact>,
    inbound: HashMap<MessageId, InboundMessage>,
    rendered: HashMap<i64, RenderedWebhook>,
}

/// Whether `head`'s fact is an inbound message (rather than a status change or a rendered
/// webhook).
fn inbound_fact(head: &Head) -> bool {
    head.seq.is_none() && matches!(head.kind, OutboxKind::InboundWebhook | OutboxKind::SmppMo)
}

impl Resolver {
    /// Read the destinations and facts of `heads`.
    async fn read(connection: &mut PgConnection, heads: &[Head]) -> sqlx::Result<Resolver> {
        let mut resolved = Resolver::default();
        let mut accounts: Vec<AccountId> = heads
            .iter()
            .filter(|head| head.url.is_none())
            .filter_map(|head| head.account)
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        if !accounts.is_empty() {
            for account in sqlx::query(AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::bigint[])"
            )))
            .bind(&accounts)
            .try_map(|row: PgRow| account_from_row(&row))
            .fetch_all(&mut *connection)
            .await?
            {
                resolved.accounts.insert(account.id, Arc::new(account));
            }
        }

        let (mut fact_ids, mut fact_seqs): (Vec<uuid::Uuid>, Vec<i32>) = (Vec::new(), Vec::new());
        let mut inbound_ids: Vec<uuid::Uuid> = Vec::new();
        let mut rendered_ids: Vec<i64> = Vec::new();
        for head in heads {
            match (head.message_id, head.seq) {
                (Some(id), Some(seq)) => {
                    fact_ids.push(id.0);
                    fact_seqs.push(i32::try_from(seq).unwrap_or(i32::MAX));
                }
                (Some(id), None) if inbound_fact(head) => inbound_ids.push(id.0),
                _ => rendered_ids.extend(head.rendered_id),
            }
        }
        if !fact_ids.is_empty() {
            for fact in sqlx::query(AssertSqlSafe(format!(
                "SELECT {STATUS_FACT_COLUMNS} FROM {STATUS_FACT_TABLES}
                 JOIN UNNEST($1::uuid[], $2::integer[]) AS wanted(message_id, seq)
                   ON s.message_id = wanted.message_id AND s.seq = wanted.seq"
            )))
            .bind(&fact_ids)
            .bind(&fact_seqs)
            .try_map(|row: PgRow| status_fact_from_row(&row))
            .fetch_all(&mut *connection)
            .await?
            {
                resolved
                    .status_facts
                    .insert((fact.message_id, fact.seq), fact);
            }
        }
        if !inbound_ids.is_empty() {
            for message in sqlx::query(AssertSqlSafe(format!(
                "SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE id = ANY($1::uuid[])"
            )))
            .bind(&inbound_ids)
            .try_map(|row: PgRow| inbound_from_row(&row))
            .fetch_all(&mut *connection)
            .await?
            {
                resolved.inbound.insert(message.id, message);
            }
        }
        if !rendered_ids.is_empty() {
            for (id, rendered) in sqlx::query(
                "SELECT id, message_id, report_id, content_type, body FROM rendered_webhooks
                 WHERE id = ANY($1::bigint[])",
            )
            .bind(&rendered_ids)
            .try_map(|row: PgRow| rendered_webhook_from_row(&row))
            .fetch_all(&mut *connection)
            .await?
            {
                resolved.rendered.insert(id, rendered);
            }
        }
        Ok(resolved)
    }

    /// Where `head` goes, as it is now (`None`: its account is gone, or it names none).
    fn destination(&self, head: &Head) -> Option<Resolved> {
        if let Some(url) = &head.url {
            return Some(Resolved::Url(url.clone()));
        }
        let account = self.accounts.get(&head.account?)?;
        Some(Resolved::Account(Arc::clone(account)))
    }

    /// What `head` says (`None`: its fact is gone).
    fn fact(&self, head: &Head) -> Option<Fact> {
        match (head.message_id, head.seq) {
            (Some(id), Some(seq)) => self
                .status_facts
                .get(&(id, seq))
                .cloned()
                .map(Fact::StatusChange),
            (Some(id), None) if inbound_fact(head) => {
                self.inbound.get(&id).cloned().map(Fact::Inbound)
            }
            _ => self
                .rendered
                .get(&head.rendered_id?)
                .cloned()
                .map(Fact::Rendered),
        }
    }
}

/// Remove the rendered webhooks `ids` names (entries that went took their own facts with them).
async fn delete_rendered(connection: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    if !ids.is_empty() {
        sqlx::query("DELETE FROM rendered_webhooks WHERE id = ANY($1::bigint[])")
            .bind(ids)
            .execute(connection)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_entries(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
        filter: &EntryFilter,
    ) -> Result<Vec<ClaimedEntry>, StoreError> {
        within_background(async {
            if limit == 0
                || filter.kinds.is_empty()
                || filter.accounts.as_ref().is_some_and(Vec::is_empty)
            {
                return Ok(Vec::new());
            }
            let _turn = self.claim_turn().await;
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // The lowest entry of each key only: one in flight per key, in order.
            let mut query = sqlx::query(AssertSqlSafe(claim_heads_sql(filter)))
                .bind(millis(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX));
            if let Some(accounts) = &filter.accounts {
                query = query.bind(accounts);
            }
            let heads: Vec<Head> = query
                .try_map(|row: PgRow| head_from_row(&row))
                .fetch_all(&mut *transaction)
                .await
                .map_err(backend_error)?;
            if heads.is_empty() {
                transaction.commit().await.map_err(backend_error)?;
                return Ok(Vec::new());
            }
            let ids: Vec<EntryId> = heads.iter().map(|head| head.id).collect();
            sqlx::query(
                "UPDATE outbox SET due_at = $2, attempts = attempts + 1, leased_by = $3
                 WHERE id = ANY($1::bigint[])",
            )
            .bind(&ids)
            .bind(millis(now + lease))
            .bind(self.node().as_str())
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?;
            let resolved = Resolver::read(&mut transaction, &heads)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(heads
                .into_iter()
                .map(|head| ClaimedEntry {
                    destination: resolved.destination(&head),
                    fact: resolved.fact(&head),
                    id: head.id,
                    kind: head.kind,
                    ordering_key: OrderingKey(head.ordering_key),
                    attempts: head.attempts,
                    created_at: head.created_at,
                })
                .collect())
        })
        .await
    }

    async fn finish_entries(&self, outcomes: Vec<(EntryId, Outcome)>) -> Result<(), StoreError> {
        within_background(async {
            // As SQLite applies them one after the other: the last retry of an entry named twice
            // sets its time, and one delivered or given up is removed whatever else it was.
            let mut retries: HashMap<EntryId, i64> = HashMap::new();
            let mut removed: HashSet<EntryId> = HashSet::new();
            for (id, outcome) in &outcomes {
                match outcome {
                    Outcome::Delivered | Outcome::GiveUp => {
                        removed.insert(*id);
                    }
                    Outcome::RetryAt(at) => {
                        retries.insert(*id, millis(*at));
                    }
                }
            }
            retries.retain(|id, _| !removed.contains(id));
            // In id order, so that two finishes of overlapping entries lock them in one order.
            let mut retries: Vec<(EntryId, i64)> = retries.into_iter().collect();
            retries.sort_unstable();
            let mut removed: Vec<EntryId> = removed.into_iter().collect();
            removed.sort_unstable();

            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            if !retries.is_empty() {
                let (ids, due): (Vec<EntryId>, Vec<i64>) = retries.into_iter().unzip();
                sqlx::query(
                    "UPDATE outbox o SET due_at = retry.due_at, leased_by = NULL
                     FROM UNNEST($1::bigint[], $2::bigint[]) AS retry(id, due_at)
                     WHERE o.id = retry.id",
                )
                .bind(&ids)
                .bind(&due)
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
            }
            if !removed.is_empty() {
                // A rendered webhook's fact is its own: it goes with it.
                let rendered: Vec<Option<i64>> = sqlx::query_scalar(
                    "DELETE FROM outbox WHERE id = ANY($1::bigint[]) RETURNING rendered_id",
                )
                .bind(&removed)
                .fetch_all(&mut *transaction)
                .await
                .map_err(backend_error)?;
                let rendered: Vec<i64> = rendered.into_iter().flatten().collect();
                delete_rendered(&mut transaction, &rendered)
                    .await
                    .map_err(backend_error)?;
            }
            transaction.commit().await.map_err(backend_error)
        })
        .await
    }

    async fn next_entry_due(&self, filter: &EntryFilter) -> Result<Option<Timestamp>, StoreError> {
        within_background(async {
            if filter.kinds.is_empty() || filter.accounts.as_ref().is_some_and(Vec::is_empty) {
                return Ok(None);
            }
            // One minimum per kind, each the first of its index range; LEAST passes over NULLs.
            let destination = if filter.accounts.is_some() {
                "AND account_id = ANY($1::bigint[])"
            } else {
                ""
            };
            let earliest: Vec<String> = filter
                .kinds
                .iter()
                .map(|kind| {
                    format!(
                        "(SELECT MIN(due_at) FROM outbox WHERE kind = '{kind}' {destination})",
                        kind = kind.as_str()
                    )
                })
                .collect();
            let mut query = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT LEAST({})",
                earliest.join(", ")
            )));
            if let Some(accounts) = &filter.accounts {
                query = query.bind(accounts);
            }
            let due: Option<i64> = query.fetch_one(self.pool()).await.map_err(backend_error)?;
            Ok(due.map(timestamp))
        })
        .await
    }

    async fn expire_entries(
        &self,
        kind: OutboxKind,
        created_before: Timestamp,
    ) -> Result<u64, StoreError> {
        within_background(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // A leased entry is being delivered: what becomes of it is its runner's.
            let rendered: Vec<Option<i64>> = sqlx::query_scalar(
                "DELETE FROM outbox WHERE kind = $1 AND created_at < $2 AND leased_by IS NULL
                 RETURNING rendered_id",
            )
            .bind(kind.as_str())
            .bind(millis(created_before))
            .fetch_all(&mut *transaction)
            .await
            .map_err(backend_error)?;
            let expired = rendered.len() as u64;
            // A rendered webhook's fact is its own: it goes with it.
            let rendered: Vec<i64> = rendered.into_iter().flatten().collect();
            delete_rendered(&mut transaction, &rendered)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(expired)
        })
        .await
    }
}
