//! The [`QueueStore`] role on PostgreSQL: claims of due messages, events applied to them, and the
//! ids channels gave the parts they took.
//!
//! The dispatch queue is the table `queue`: a message is in it while it is due or leased, and
//! leaves it when it is finished. A claim locks its rows (the queue row and the message row) with
//! `FOR NO KEY UPDATE ... SKIP LOCKED`, so that nodes claiming at once never take one message
//! twice and never wait for each other; events and cancellations lock the message rows they
//! change (in id order), and wait for a claim that holds one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use tern_core::account::AccountId;
use tern_core::dispatch::{
    CancelOutcome, Event, Next, ReplaceOutcome, Replacement, apply, cancel, claim, still_queued,
};
use tern_core::message::MessageId;
use tern_core::money::{Money, credit, reprice};
use tern_core::part_reports::part_of;
use tern_core::ports::{
    AwaitingReport, Dispatch, QueueStore, SentPart, StoreError, WorkSignal, events_by_message,
};
use tern_core::segments::{GroupDue, Waiting, group_due, send_order};

use super::messages::{
    Contents, EVENT_COLUMNS, EVENT_TABLES, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS, MESSAGE_TABLES,
    Recorder, StoredMessage, dispatch_of, part_report, small, stored_message_from_row,
};
use super::{PgStore, backend_error, millis, timestamp, within_background};

/// Message `id` of `account` for cancel_sm or replace_sm, its row locked, with whether a claim
/// holds it.
async fn load_own(
    connection: &mut PgConnection,
    account: AccountId,
    id: MessageId,
) -> sqlx::Result<Option<(StoredMessage, bool)>> {
    let mut contents = Contents::new();
    let Some(stored) = sqlx::query(AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_TABLES} WHERE m.id = $1 AND m.account_id = $2
         FOR NO KEY UPDATE OF m"
    )))
    .bind(id.0)
    .bind(account)
    .try_map(|row: PgRow| stored_message_from_row(&row, &mut contents))
    .fetch_optional(&mut *connection)
    .await?
    else {
        return Ok(None);
    };
    // Read after the message's lock was taken: a claim that held it has ended.
    let leased: Option<bool> =
        sqlx::query_scalar("SELECT leased_by IS NOT NULL FROM queue WHERE message_id = $1")
            .bind(id.0)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(Some((stored, leased.unwrap_or(false))))
}

/// Write `replacement` in place of message `id`'s content: a content row of its own (the old one
/// may be shared with the other recipients of its `msg`), with the old one's sender, app key,
/// rich content and groupings.
async fn write_replacement(
    connection: &mut PgConnection,
    id: MessageId,
    replacement: &Replacement,
) -> sqlx::Result<()> {
    let content_id: i64 = sqlx::query_scalar(
        "INSERT INTO contents (sender, body, body_type, dcs, app_key, rich_content,
             custom_grouping1, custom_grouping2, custom_grouping3, udh)
         SELECT c.sender, $2, $3, $4, c.app_key, c.rich_content, c.custom_grouping1,
             c.custom_grouping2, c.custom_grouping3, $5
         FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.id = $1
         RETURNING id",
    )
    .bind(id.0)
    .bind(&replacement.body)
    .bind(&replacement.body_type)
    .bind(replacement.dcs.map(i32::from))
    .bind(&replacement.udh)
    .fetch_one(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE messages SET content_id = $2, parts = $3, price_micros = $4,
             valid_until = COALESCE($5, valid_until),
             smpp_registered_delivery = COALESCE($6, smpp_registered_delivery)
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(content_id)
    .bind(replacement.parts as i32)
    .bind(replacement.price.micros())
    .bind(replacement.valid_until.map(millis))
    .bind(replacement.smpp_registered_delivery.map(i32::from))
    .execute(connection)
    .await?;
    Ok(())
}

/// Give `amount` back to `account`, when it has a balance (as [`credit`] says); an account
/// without one is left as it is.
async fn refund(
    connection: &mut PgConnection,
    account: AccountId,
    amount: Money,
) -> sqlx::Result<()> {
    let balance: Option<i64> =
        sqlx::query_scalar("SELECT balance_micros FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
            .bind(account)
            .fetch_one(&mut *connection)
            .await?;
    if let Some(balance) = balance {
        sqlx::query("UPDATE accounts SET balance_micros = $2 WHERE id = $1")
            .bind(account)
            .bind(credit(Money(balance), amount).micros())
            .execute(connection)
            .await?;
    }
    Ok(())
}

/// `outcome`, once `transaction` (which decided to change nothing) is rolled back: now, not when
/// its connection is next used, since it holds the locks it took (a claim would pass over the
/// message it locked).
async fn rolled_back<T>(
    transaction: sqlx::Transaction<'_, sqlx::Postgres>,
    outcome: T,
) -> Result<T, StoreError> {
    transaction.rollback().await.map_err(backend_error)?;
    Ok(outcome)
}

/// What a claim gathers as it goes.
struct Claim<'a> {
    now: Timestamp,
    lease: SignedDuration,
    recorder: &'a mut Recorder,
    contents: &'a mut Contents,
    /// The segments a group decision of this claim took already.
    decided: &'a mut HashSet<MessageId>,
    dispatches: &'a mut Vec<Dispatch>,
}

impl Claim<'_> {
    /// Claim `stored` as any due message is ([`claim`]): recorded, and handed on when it is to
    /// be sent now.
    fn take(&mut self, stored: StoredMessage) {
        let (record, next) = claim(&stored.progress, stored.events, self.now, self.lease);
        let Some(record) = record else { return };
        self.recorder.record(&stored, &record);
        if let Next::Send { .. } = next {
            self.dispatches.push(dispatch_of(StoredMessage {
                progress: record.progress,
                ..stored
            }));
        }
    }

    /// The group of `due`, a segment still waiting: what `segments::group_due` decides for the
    /// waiting segments of its key (in the order they were stored), recorded. Kept waiting: each
    /// is due again when the hold ends. Handed on: each is claimed as any message is, in the order
    /// decided, and records the group it was handed on in (its first-stored segment's id). When
    /// another transaction holds a segment of the group (another node's claim deciding it), the
    /// group is left as it is for now: it is decided whole or not at all.
    async fn group(
        &mut self,
        connection: &mut PgConnection,
        due: &StoredMessage,
    ) -> sqlx::Result<()> {
        let (Some(segment), Some(key)) = (due.message.segment, due.message.segment_key()) else {
            return Ok(());
        };
        let members_of = "FROM queue q JOIN messages m ON m.id = q.message_id
             JOIN contents c ON c.id = m.content_id JOIN accounts a ON a.id = m.account_id
             WHERE m.account_id = $1 AND m.recipient = $2 AND m.segment_ref = $3
                 AND m.segment_total = $4 AND m.segment_group IS NULL AND c.sender = $5";
        let contents = &mut *self.contents;
        let members: Vec<StoredMessage> = sqlx::query(AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} {members_of} ORDER BY m.id FOR NO KEY UPDATE OF q, m SKIP LOCKED"
        )))
        .bind(key.account_id)
        .bind(&key.recipient)
        .bind(i32::from(segment.reference))
        .bind(i32::from(segment.total))
        .bind(&key.sender)
        .try_map(|row: PgRow| stored_message_from_row(&row, contents))
        .fetch_all(&mut *connection)
        .await?;
        let all: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) {members_of}")))
            .bind(key.account_id)
            .bind(&key.recipient)
            .bind(i32::from(segment.reference))
            .bind(i32::from(segment.total))
            .bind(&key.sender)
            .fetch_one(&mut *connection)
            .await?;
        self.decided
            .extend(members.iter().map(|member| member.message.id));
        if (members.len() as i64) < all {
            return Ok(());
        }
        let waiting: Vec<Waiting> = members
            .iter()
            .map(|member| Waiting {
                seq: member.message.segment.map_or(0, |segment| segment.seq),
                accepted_at: member.message.accepted_at,
                valid_until: member.message.valid_until,
            })
            .collect();
        match group_due(segment.total, &waiting, self.now) {
            GroupDue::Wait { until } => {
                let ids: Vec<uuid::Uuid> =
                    members.iter().map(|member| member.message.id.0).collect();
                sqlx::query("UPDATE queue SET due_at = $2 WHERE message_id = ANY($1::uuid[])")
                    .bind(ids)
                    .bind(millis(until))
                    .execute(&mut *connection)
                    .await?;
            }
            GroupDue::Send { order } => {
                let Some(first) = members.first().map(|member| member.message.id) else {
                    return Ok(());
                };
                // Each segment handed on records its group.
                let ids: Vec<uuid::Uuid> = order
                    .iter()
                    .filter_map(|&index| members.get(index))
                    .map(|member| member.message.id.0)
                    .collect();
                sqlx::query("UPDATE messages SET segment_group = $2 WHERE id = ANY($1::uuid[])")
                    .bind(ids)
                    .bind(first.0)
                    .execute(&mut *connection)
                    .await?;
                let mut members: Vec<Option<StoredMessage>> =
                    members.into_iter().map(Some).collect();
                for index in order {
                    if let Some(member) = members.get_mut(index).and_then(Option::take) {
                        self.take(member);
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl QueueStore for PgStore {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError> {
        // The turn is pacing's wait (intake first), not the database's: outside the bound.
        let _turn = self.claim_turn().await;
        within_background(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let mut contents = Contents::new();
            // Each due message, and whether it is a segment still waiting for its group.
            let due: Vec<(StoredMessage, bool)> = sqlx::query(AssertSqlSafe(format!(
                "SELECT {MESSAGE_COLUMNS}, m.segment_group IS NULL
                 FROM queue q JOIN {MESSAGE_TABLES} ON m.id = q.message_id
                 WHERE q.due_at <= $1 ORDER BY q.due_at, q.message_id LIMIT $2
                 FOR NO KEY UPDATE OF q, m SKIP LOCKED"
            )))
            .bind(millis(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .try_map(|row: PgRow| {
                let stored = stored_message_from_row(&row, &mut contents)?;
                let waiting = stored.message.segment.is_some()
                    && row.try_get::<bool, _>(MESSAGE_COLUMN_COUNT)?;
                Ok((stored, waiting))
            })
            .fetch_all(&mut *transaction)
            .await
            .map_err(backend_error)?;
            let mut recorder = Recorder::new(self.node());
            let mut decided: HashSet<MessageId> = HashSet::new();
            let mut dispatches = Vec::new();
            let mut claim = Claim {
                now,
                lease,
                recorder: &mut recorder,
                contents: &mut contents,
                decided: &mut decided,
                dispatches: &mut dispatches,
            };
            for (stored, waiting) in due {
                if claim.decided.contains(&stored.message.id) {
                    continue;
                }
                if waiting {
                    claim
                        .group(&mut transaction, &stored)
                        .await
                        .map_err(backend_error)?;
                    continue;
                }
                claim.take(stored);
            }
            recorder
                .flush(&mut transaction)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            // Expired messages were reported.
            self.wrote(WorkSignal::Outbox);
            Ok(send_order(dispatches))
        })
        .await
    }

    async fn apply_batch(
        &self,
        events: Vec<(MessageId, Event)>,
        now: Timestamp,
    ) -> Result<Vec<Next>, StoreError> {
        within_background(async {
            // The events of one message are decided one after the other on its state in memory,
            // then recorded with one load and one write (a channel's report often arrives in the
            // same batch as the send it follows).
            let by_message = events_by_message(&events);
            let mut nexts = vec![Next::Ignore; events.len()];
            if by_message.is_empty() {
                return Ok(nexts);
            }
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // Every message of the batch, locked in id order (batches that share messages take
            // their locks in one order).
            let mut contents = Contents::new();
            let ids: Vec<uuid::Uuid> = by_message.iter().map(|(id, _)| id.0).collect();
            let mut loaded: HashMap<MessageId, StoredMessage> =
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM {EVENT_TABLES} WHERE m.id = ANY($1::uuid[])
                 ORDER BY m.id FOR NO KEY UPDATE OF m"
                )))
                .bind(ids)
                .try_map(|row: PgRow| stored_message_from_row(&row, &mut contents))
                .fetch_all(&mut *transaction)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(|stored| (stored.message.id, stored))
                .collect();
            let mut recorder = Recorder::new(self.node());
            for (id, indexes) in &by_message {
                let id = *id;
                let Some(stored) = loaded.remove(&id) else {
                    continue;
                };
                // The ids a channel gave the parts it took are facts whatever the decision (a late
                // send is still what a later receipt names): one row per part.
                for &index in indexes {
                    if let Event::Sent {
                        attempt,
                        external_ids,
                    } = &events[index].1
                    {
                        recorder.external_ids(id, *attempt, external_ids);
                    }
                }
                // A part's report counts for its message as its parts come to together.
                let mut resolved: Vec<Event> = Vec::with_capacity(indexes.len());
                for &index in indexes {
                    let event = &events[index].1;
                    resolved.push(match part_of(event) {
                        Some((attempt, part_index, status)) => part_report(
                            &mut transaction,
                            id,
                            stored.message.parts,
                            attempt,
                            part_index,
                            status,
                        )
                        .await
                        .map_err(backend_error)?
                        // Nothing new for the message: `apply` ignores `Due`.
                        .unwrap_or(Event::Due),
                        None => event.clone(),
                    });
                }
                let (record, decided) = apply(&stored.progress, stored.events, &resolved, now);
                for (&index, next) in indexes.iter().zip(decided) {
                    nexts[index] = next;
                }
                if let Some(record) = record {
                    recorder.record(&stored, &record);
                }
            }
            recorder
                .flush(&mut transaction)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            // Status changes were reported; messages may be due again (a fallback, a retry).
            self.wrote(WorkSignal::Missed);
            Ok(nexts)
        })
        .await
    }

    async fn release_leases(&self, now: Timestamp) -> Result<(), StoreError> {
        within_background(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // Only this node's claims: a message waiting for a retry keeps its time, and another
            // node's claims are its own.
            for table in ["queue", "outbox"] {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {table} SET due_at = $1, leased_by = NULL WHERE leased_by = $2"
                )))
                .bind(millis(now))
                .bind(self.node().as_str())
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
            }
            transaction.commit().await.map_err(backend_error)?;
            self.wrote(WorkSignal::Missed);
            Ok(())
        })
        .await
    }

    async fn sent_part(
        &self,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<SentPart>, StoreError> {
        within_background(async {
            sqlx::query(
                "SELECT message_id, attempt, part_index FROM external_ids
                 WHERE connector = $1 AND external_id = $2",
            )
            .bind(connector)
            .bind(external_id)
            .try_map(|row: PgRow| {
                Ok(SentPart {
                    message_id: super::messages::message_id(&row, 0)?,
                    attempt: small(&row, 1, "attempt")?,
                    part_index: small(&row, 2, "part index")?,
                })
            })
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn awaiting_report(&self) -> Result<Vec<AwaitingReport>, StoreError> {
        within_background(async {
            let mut contents = Contents::new();
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {MESSAGE_COLUMNS}, m.connector
                 FROM queue q JOIN {MESSAGE_TABLES} ON m.id = q.message_id
                 WHERE m.state IN ('sent', 'accepted')"
            )))
            .try_map(|row: PgRow| {
                let stored = stored_message_from_row(&row, &mut contents)?;
                let connector: Option<String> = row.try_get(MESSAGE_COLUMN_COUNT)?;
                Ok(AwaitingReport {
                    message: dispatch_of(stored),
                    connector: connector.map(Arc::from),
                })
            })
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        within_background(async {
            let due: Option<i64> = sqlx::query_scalar("SELECT min(due_at) FROM queue")
                .fetch_one(self.pool())
                .await
                .map_err(backend_error)?;
            Ok(due.map(timestamp))
        })
        .await
    }

    async fn cancel(
        &self,
        account: AccountId,
        id: MessageId,
        now: Timestamp,
    ) -> Result<CancelOutcome, StoreError> {
        within_background(async {
            // The decision needs no clock: a message never claimed has not been sent, whatever the
            // time.
            let _ = now;
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let Some((stored, leased)) = load_own(&mut transaction, account, id)
                .await
                .map_err(backend_error)?
            else {
                return rolled_back(transaction, CancelOutcome::NotFound).await;
            };
            let Some(cancellation) = cancel(&stored.progress, leased, stored.message.price) else {
                return rolled_back(transaction, CancelOutcome::TooLate).await;
            };
            let mut recorder = Recorder::new(self.node());
            recorder.record(&stored, &cancellation.record);
            recorder
                .flush(&mut transaction)
                .await
                .map_err(backend_error)?;
            refund(&mut transaction, account, cancellation.refund)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(CancelOutcome::Cancelled)
        })
        .await
    }

    async fn replace(
        &self,
        account: AccountId,
        id: MessageId,
        replacement: Replacement,
        now: Timestamp,
    ) -> Result<ReplaceOutcome, StoreError> {
        within_background(async {
            // Judged at `now` already (judge_replacement): the store decides by position alone.
            let _ = now;
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let Some((stored, leased)) = load_own(&mut transaction, account, id)
                .await
                .map_err(backend_error)?
            else {
                return rolled_back(transaction, ReplaceOutcome::NotFound).await;
            };
            if !still_queued(&stored.progress, leased) {
                return rolled_back(transaction, ReplaceOutcome::TooLate).await;
            }
            let balance: Option<i64> = sqlx::query_scalar(
                "SELECT balance_micros FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
            )
            .bind(account)
            .fetch_one(&mut *transaction)
            .await
            .map_err(backend_error)?;
            if let Some(balance) = balance {
                let paid = stored.message.price;
                let Some(left) = reprice(Money(balance), paid, replacement.price) else {
                    return rolled_back(transaction, ReplaceOutcome::InsufficientBalance).await;
                };
                sqlx::query("UPDATE accounts SET balance_micros = $2 WHERE id = $1")
                    .bind(account)
                    .bind(left.micros())
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend_error)?;
            }
            write_replacement(&mut transaction, id, &replacement)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(ReplaceOutcome::Replaced)
        })
        .await
    }
}
