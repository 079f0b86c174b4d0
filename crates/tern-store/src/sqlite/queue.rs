//! The [`QueueStore`] role on SQLite: claims of due messages, events applied to them, and the
//! ids channels gave the parts they took.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use tern_core::account::AccountId;
use tern_core::dispatch::{
    CancelOutcome, Event, ExternalIds, Next, Position, Record, ReplaceOutcome, Replacement, apply,
    cancel, claim, still_queued,
};
use tern_core::error_code::DeliveryError;
use tern_core::message::MessageId;
use tern_core::money::{Money, credit, reprice};
use tern_core::outbox::{FactRef, Subscriptions, entries};
use tern_core::part_reports::{PartStatus, combine, merge, part_of};
use tern_core::ports::{
    AwaitingReport, Dispatch, FreshBatch, FreshEntries, NodeId, QueueStore, SentPart, StoreError,
    events_by_message,
};
use tern_core::segments::{GroupDue, Waiting, group_due, send_order};
use tern_core::status::CmStatus;

use super::outbox::{Handing, INSERT_ENTRY, insert_entry};
use super::rows::{
    self, Contents, EVENT_COLUMNS, EVENT_TABLES, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS,
    MESSAGE_TABLES, StoredMessage, millis, stored_message_from_row, timestamp,
};
use super::{SqliteStore, backend_error};

/// Load what an event needs of one message: its progress and the fields a status report
/// carries. The content (body, rich content, app key) is left empty: no event uses it, and
/// reading it for every event would cost the writer thread for nothing.
fn load_for_event(
    statement: &mut rusqlite::CachedStatement,
    id: MessageId,
    contents: &mut Contents,
) -> rusqlite::Result<Option<StoredMessage>> {
    statement
        .query_row(params![id.0.as_bytes()], |row| {
            stored_message_from_row(row, contents)
        })
        .optional()
}

/// The statement [`load_for_event`] runs.
fn prepare_load_for_event(
    connection: &Connection,
) -> rusqlite::Result<rusqlite::CachedStatement<'_>> {
    connection.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_TABLES} WHERE m.id = ?1"
    ))
}

/// What a connector needs of a stored message, on its current channel and attempt.
fn dispatch_of(stored: StoredMessage) -> Dispatch {
    Dispatch::of(stored.message, &stored.progress)
}

/// Records decisions: new progress, queue position, status history and the outbox entries its
/// status changes produce. Its statements are looked up once per job, not once per message.
struct Recorder<'c> {
    update: rusqlite::CachedStatement<'c>,
    event: rusqlite::CachedStatement<'c>,
    entry: rusqlite::CachedStatement<'c>,
    external_id: rusqlite::CachedStatement<'c>,
    part_reports: rusqlite::CachedStatement<'c>,
    part_report: rusqlite::CachedStatement<'c>,
    /// Hands the entries it writes to the outbox's runner, when one takes them
    /// ([`Recorder::handing`]).
    handing: Option<Handing<'c>>,
}

impl<'c> Recorder<'c> {
    fn new(connection: &'c Connection) -> rusqlite::Result<Recorder<'c>> {
        Ok(Recorder {
            update: connection.prepare_cached(
                "UPDATE messages SET state = ?2, channel_index = ?3, attempt = ?4,
                    due_at = CASE WHEN ?9 THEN due_at ELSE ?5 END, events = events + ?6,
                    deferrals = ?7, leased_by = CASE WHEN ?9 THEN leased_by ELSE ?8 END,
                    connector = COALESCE(?10, connector)
                 WHERE id = ?1",
            )?,
            event: connection.prepare_cached(
                "INSERT INTO status_events (message_id, seq, at, channel, status, error_code, operator, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            entry: connection.prepare_cached(INSERT_ENTRY)?,
            // A channel that reuses an id (after wrapping around) names its newest part.
            external_id: connection.prepare_cached(
                "INSERT OR REPLACE INTO external_ids (connector, external_id, message_id, attempt, part_index, given_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            part_reports: connection.prepare_cached(
                "SELECT part_index, status, error_code, operator FROM part_reports
                 WHERE message_id = ?1 AND attempt = ?2",
            )?,
            part_report: connection.prepare_cached(
                "INSERT OR REPLACE INTO part_reports (message_id, attempt, part_index, status, error_code, operator)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            handing: None,
        })
    }

    /// A recorder that hands the entries `fresh` takes to it as it writes them, leased to `node`
    /// from `now` ([`Handing`]); without a runner, one that writes every entry due.
    fn handing(
        connection: &'c Connection,
        fresh: Option<Arc<dyn FreshEntries>>,
        node: &NodeId,
        now: Timestamp,
    ) -> rusqlite::Result<Recorder<'c>> {
        let mut recorder = Recorder::new(connection)?;
        if let Some(runner) = fresh {
            recorder.handing = Some(Handing::new(connection, runner, node.clone(), now)?);
        }
        Ok(recorder)
    }

    /// The entries handed so far, to hand to their runner once the job's transaction is durable.
    fn into_fresh(self) -> Option<FreshBatch> {
        self.handing
            .map(Handing::into_batch)
            .filter(|batch| !batch.is_empty())
    }

    /// Record the ids a channel gave the parts of message `id` it took in `attempt`.
    fn external_ids(
        &mut self,
        id: MessageId,
        attempt: u32,
        external_ids: &ExternalIds,
    ) -> rusqlite::Result<()> {
        for (part_index, external_id) in external_ids.part_ids.iter().enumerate() {
            self.external_id.execute(params![
                &*external_ids.connector,
                external_id,
                id.0.as_bytes().as_slice(),
                attempt,
                part_index as i64,
                external_ids.given_ids.get(part_index),
            ])?;
        }
        Ok(())
    }

    /// Record what a channel said of part `part_index` of message `id` (of `parts` parts) sent in
    /// `attempt`; the report its parts come to now ([`combine`]). A message of one part is its
    /// part: nothing is kept for it.
    fn part_report(
        &mut self,
        id: MessageId,
        parts: u32,
        attempt: u32,
        part_index: u32,
        status: PartStatus,
    ) -> rusqlite::Result<Option<Event>> {
        if parts <= 1 {
            return Ok(combine(1, attempt, &[(0, status)]));
        }
        let key = id.0.as_bytes().as_slice();
        let mut known: Vec<(u32, PartStatus)> = self
            .part_reports
            .query_map(params![key, attempt], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    PartStatus {
                        status: CmStatus::from_code(row.get(1)?).unwrap_or(CmStatus::Accepted),
                        error_code: row
                            .get::<_, Option<u16>>(2)?
                            .and_then(DeliveryError::from_code),
                        operator: row.get(3)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let previous = known.iter().position(|(index, _)| *index == part_index);
        let merged = merge(previous.map(|at| &known[at].1), status);
        self.part_report.execute(params![
            key,
            attempt,
            part_index,
            merged.status.code(),
            merged.error_code.map(DeliveryError::code),
            merged.operator,
        ])?;
        match previous {
            Some(at) => known[at].1 = merged,
            None => known.push((part_index, merged)),
        }
        Ok(combine(parts, attempt, &known))
    }

    /// Write `record` about `stored`, leasing it to `node` when the record says so.
    fn record(
        &mut self,
        stored: &StoredMessage,
        record: &Record,
        node: &NodeId,
    ) -> rusqlite::Result<()> {
        let id = stored.message.id.0.as_bytes().as_slice();
        let (due_at, leased) = match record.position {
            Position::Due { at, leased } => (Some(millis(at)), leased),
            Position::Finished | Position::Unchanged => (None, false),
        };
        self.update.execute(params![
            id,
            record.progress.state.as_str(),
            record.progress.channel_index as i64,
            record.progress.attempt,
            due_at,
            record.changes.len() as i64,
            record.progress.deferrals,
            leased.then_some(node.as_str()),
            record.position == Position::Unchanged,
            record.sent_by.as_deref(),
        ])?;
        for change in &record.changes {
            let report = &change.report;
            self.event.execute(params![
                id,
                change.seq,
                millis(change.at),
                report.channel.as_str(),
                report.status.code(),
                report.error_code.map(DeliveryError::code),
                report.operator,
                report.detail,
            ])?;
        }
        // Which entries its changes produce is decided in core; they are written as they are.
        let subscriptions = Subscriptions::of(
            stored.status_url.as_deref(),
            stored.message.smpp_registered_delivery,
        );
        let account = stored.message.account_id;
        for entry in entries(stored.message.id, account, subscriptions, record) {
            if let (Some(handing), FactRef::StatusChange { seq, .. }) =
                (&mut self.handing, &entry.fact)
                && let Some(change) = record.changes.iter().find(|change| change.seq == *seq)
                && handing.hand(&entry, stored, change)?
            {
                continue;
            }
            insert_entry(&mut self.entry, &entry)?;
        }
        Ok(())
    }
}

/// Message `id` of `account` for cancel_sm or replace_sm, with whether a claim holds it.
fn load_own(
    connection: &Connection,
    account: AccountId,
    id: MessageId,
) -> rusqlite::Result<Option<(StoredMessage, bool)>> {
    let mut contents = Contents::new();
    connection
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, m.leased_by IS NOT NULL FROM {EVENT_TABLES}
             WHERE m.id = ?1 AND m.account_id = ?2"
        ))?
        .query_row(params![id.0.as_bytes(), account], |row| {
            let stored = stored_message_from_row(row, &mut contents)?;
            Ok((stored, row.get::<_, bool>(MESSAGE_COLUMN_COUNT)?))
        })
        .optional()
}

/// Write `replacement` in place of message `id`'s content: a content row of its own (the old one
/// may be shared with the other recipients of its `msg`), with the old one's sender, app key,
/// rich content and groupings.
fn write_replacement(
    connection: &Connection,
    id: MessageId,
    replacement: &Replacement,
) -> rusqlite::Result<()> {
    let id = id.0.as_bytes().as_slice();
    connection
        .prepare_cached(
            "INSERT INTO contents (sender, body, body_type, dcs, app_key, rich_content,
                custom_grouping1, custom_grouping2, custom_grouping3, udh)
             SELECT c.sender, ?2, ?3, ?4, c.app_key, c.rich_content, c.custom_grouping1,
                c.custom_grouping2, c.custom_grouping3, ?5
             FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.id = ?1",
        )?
        .execute(params![
            id,
            replacement.body,
            replacement.body_type,
            replacement.dcs,
            replacement.udh,
        ])?;
    connection
        .prepare_cached(
            "UPDATE messages SET content_id = last_insert_rowid(), parts = ?2, price_micros = ?3,
                valid_until = COALESCE(?4, valid_until),
                smpp_registered_delivery = COALESCE(?5, smpp_registered_delivery)
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            replacement.parts,
            replacement.price.micros(),
            replacement.valid_until.map(millis),
            replacement.smpp_registered_delivery,
        ])?;
    Ok(())
}

/// Give `amount` back to `account`, when it has a balance (as [`credit`] says); an account
/// without one is left as it is.
fn refund(connection: &Connection, account: AccountId, amount: Money) -> rusqlite::Result<()> {
    let balance: Option<i64> = connection
        .prepare_cached("SELECT balance_micros FROM accounts WHERE id = ?1")?
        .query_row(params![account], |row| row.get(0))?;
    if let Some(balance) = balance {
        connection
            .prepare_cached("UPDATE accounts SET balance_micros = ?2 WHERE id = ?1")?
            .execute(params![account, credit(Money(balance), amount).micros()])?;
    }
    Ok(())
}

/// The group of `due`, a segment still waiting: what `segments::group_due` decides for the
/// waiting segments of its key (in the order they were stored), recorded. Kept waiting: each is
/// due again when the hold ends. Handed on: each is claimed as any message is
/// ([`claim`]), in the order decided, its dispatch pushed after the one before, and each records
/// the group it was handed on in (its first-stored segment's id).
#[allow(clippy::too_many_arguments)]
fn claim_group(
    connection: &Connection,
    due: &StoredMessage,
    now: Timestamp,
    lease: SignedDuration,
    node: &NodeId,
    recorder: &mut Recorder,
    contents: &mut Contents,
    decided: &mut HashSet<MessageId>,
    dispatches: &mut Vec<Dispatch>,
) -> rusqlite::Result<()> {
    let (Some(segment), Some(key)) = (due.message.segment, due.message.segment_key()) else {
        return Ok(());
    };
    let members: Vec<StoredMessage> = connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_TABLES}
             WHERE m.account_id = ?1 AND m.recipient = ?2 AND m.segment_ref = ?3
                AND m.segment_total = ?4 AND m.segment_group IS NULL AND m.due_at IS NOT NULL
                AND c.sender = ?5
             ORDER BY m.id"
        ))?
        .query_map(
            params![
                key.account_id,
                key.recipient,
                segment.reference,
                segment.total,
                key.sender
            ],
            |row| stored_message_from_row(row, contents),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let waiting: Vec<Waiting> = members
        .iter()
        .map(|member| Waiting {
            seq: member.message.segment.map_or(0, |segment| segment.seq),
            accepted_at: member.message.accepted_at,
            valid_until: member.message.valid_until,
        })
        .collect();
    decided.extend(members.iter().map(|member| member.message.id));
    match group_due(segment.total, &waiting, now) {
        GroupDue::Wait { until } => {
            let mut wait =
                connection.prepare_cached("UPDATE messages SET due_at = ?2 WHERE id = ?1")?;
            for member in &members {
                wait.execute(params![member.message.id.0.as_bytes(), millis(until)])?;
            }
        }
        GroupDue::Send { order } => {
            let Some(first) = members.first().map(|member| member.message.id) else {
                return Ok(());
            };
            let mut group = connection
                .prepare_cached("UPDATE messages SET segment_group = ?2 WHERE id = ?1")?;
            let mut members: Vec<Option<StoredMessage>> = members.into_iter().map(Some).collect();
            for index in order {
                let Some(member) = members.get_mut(index).and_then(Option::take) else {
                    continue;
                };
                group.execute(params![member.message.id.0.as_bytes(), first.0.as_bytes()])?;
                let (record, next) = claim(&member.progress, member.events, now, lease);
                let Some(record) = record else { continue };
                recorder.record(&member, &record, node)?;
                if let Next::Send { .. } = next {
                    dispatches.push(dispatch_of(StoredMessage {
                        progress: record.progress,
                        ..member
                    }));
                }
            }
        }
    }
    Ok(())
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError> {
        let node = self.node.clone();
        self.writer
            .write_background(move |connection: &Connection| {
                let mut contents = Contents::new();
                // Each due message, and whether it is a segment still waiting for its group.
                let due: Vec<(StoredMessage, bool)> = connection
                    .prepare_cached(&format!(
                        "SELECT {MESSAGE_COLUMNS}, m.segment_group IS NULL
                         FROM {MESSAGE_TABLES}
                         WHERE m.due_at IS NOT NULL AND m.due_at <= ?1 ORDER BY m.due_at LIMIT ?2"
                    ))
                    .and_then(|mut statement| {
                        statement
                            .query_map(params![millis(now), limit as i64], |row| {
                                let stored = stored_message_from_row(row, &mut contents)?;
                                let waiting = stored.message.segment.is_some()
                                    && row.get::<_, bool>(MESSAGE_COLUMN_COUNT)?;
                                Ok((stored, waiting))
                            })?
                            .collect()
                    })
                    .map_err(backend_error)?;
                let mut dispatches = Vec::new();
                let mut recorder = Recorder::new(connection).map_err(backend_error)?;
                // The segments a group decision of this claim took already.
                let mut decided: HashSet<MessageId> = HashSet::new();
                for (stored, waiting) in due {
                    if decided.contains(&stored.message.id) {
                        continue;
                    }
                    if waiting {
                        claim_group(
                            connection,
                            &stored,
                            now,
                            lease,
                            &node,
                            &mut recorder,
                            &mut contents,
                            &mut decided,
                            &mut dispatches,
                        )
                        .map_err(backend_error)?;
                        continue;
                    }
                    let (record, next) = claim(&stored.progress, stored.events, now, lease);
                    let Some(record) = record else { continue };
                    recorder
                        .record(&stored, &record, &node)
                        .map_err(backend_error)?;
                    if let Next::Send { .. } = next {
                        dispatches.push(dispatch_of(StoredMessage {
                            progress: record.progress,
                            ..stored
                        }));
                    }
                }
                Ok::<_, StoreError>(send_order(dispatches))
            })
            .await
    }

    async fn apply_batch(
        &self,
        events: Vec<(MessageId, Event)>,
        now: Timestamp,
    ) -> Result<Vec<Next>, StoreError> {
        let node = self.node.clone();
        let fresh = self
            .fresh
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let (nexts, fresh) = self
            .writer
            .write_background(move |connection: &Connection| {
                // The events of one message are decided one after the other on its state in
                // memory, then recorded with one load and one write (a channel's report often
                // arrives in the same batch as the send it follows).
                let by_message = events_by_message(&events);
                let mut nexts = vec![Next::Ignore; events.len()];
                let mut recorder = Recorder::handing(connection, fresh, &node, Timestamp::now())
                    .map_err(backend_error)?;
                let mut load = prepare_load_for_event(connection).map_err(backend_error)?;
                let mut contents = Contents::new();
                for (id, indexes) in by_message {
                    let Some(stored) =
                        load_for_event(&mut load, id, &mut contents).map_err(backend_error)?
                    else {
                        continue;
                    };
                    // The ids a channel gave the parts it took are facts whatever the decision
                    // (a late send is still what a later receipt names): one row per part.
                    for &index in &indexes {
                        if let Event::Sent {
                            attempt,
                            external_ids,
                        } = &events[index].1
                        {
                            recorder
                                .external_ids(id, *attempt, external_ids)
                                .map_err(backend_error)?;
                        }
                    }
                    // A part's report counts for its message as its parts come to together.
                    let mut resolved: Vec<Event> = Vec::with_capacity(indexes.len());
                    for &index in &indexes {
                        let event = &events[index].1;
                        resolved.push(match part_of(event) {
                            Some((attempt, part_index, status)) => recorder
                                .part_report(id, stored.message.parts, attempt, part_index, status)
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
                        recorder
                            .record(&stored, &record, &node)
                            .map_err(backend_error)?;
                    }
                }
                Ok::<_, StoreError>((nexts, recorder.into_fresh()))
            })
            .await?;
        // Durable now: the entries written leased go to their runner.
        if let Some(fresh) = fresh {
            fresh.hand();
        }
        Ok(nexts)
    }

    async fn release_leases(&self, now: Timestamp) -> Result<(), StoreError> {
        let node = self.node.clone();
        self.writer
            .write(move |connection: &Connection| {
                // Only this node's claims: a message waiting for a retry keeps its time, and
                // another node's claims are its own.
                connection
                    .execute(
                        "UPDATE messages SET due_at = ?1, leased_by = NULL WHERE leased_by = ?2",
                        params![millis(now), node.as_str()],
                    )
                    .map_err(backend_error)?;
                connection
                    .execute(
                        "UPDATE outbox SET due_at = ?1, leased_by = NULL WHERE leased_by = ?2",
                        params![millis(now), node.as_str()],
                    )
                    .map_err(backend_error)?;
                Ok::<_, StoreError>(())
            })
            .await
    }

    async fn sent_part(
        &self,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<SentPart>, StoreError> {
        let (connector, external_id) = (connector.to_owned(), external_id.to_owned());
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT message_id, attempt, part_index FROM external_ids
                     WHERE connector = ?1 AND external_id = ?2",
                )?
                .query_row(params![connector, external_id], |row| {
                    Ok(SentPart {
                        message_id: rows::message_id(row, 0)?,
                        attempt: row.get(1)?,
                        part_index: row.get(2)?,
                    })
                })
                .optional()
        })
        .await
    }

    async fn awaiting_report(&self) -> Result<Vec<AwaitingReport>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS}, m.connector FROM {MESSAGE_TABLES}
                 WHERE m.state IN ('sent', 'accepted') AND m.due_at IS NOT NULL"
            ))?;
            let mut contents = Contents::new();
            statement
                .query_map([], |row| {
                    let stored = stored_message_from_row(row, &mut contents)?;
                    let connector: Option<String> = row.get(MESSAGE_COLUMN_COUNT)?;
                    Ok(AwaitingReport {
                        message: dispatch_of(stored),
                        connector: connector.map(Arc::from),
                    })
                })?
                .collect()
        })
        .await
    }

    async fn cancel(
        &self,
        account: AccountId,
        id: MessageId,
        now: Timestamp,
    ) -> Result<CancelOutcome, StoreError> {
        // The decision needs no clock: a message never claimed has not been sent, whatever
        // the time.
        let _ = now;
        let node = self.node.clone();
        self.writer
            .write(move |connection: &Connection| {
                let cancel_it = || -> rusqlite::Result<CancelOutcome> {
                    let Some((stored, leased)) = load_own(connection, account, id)? else {
                        return Ok(CancelOutcome::NotFound);
                    };
                    let Some(cancellation) = cancel(&stored.progress, leased, stored.message.price)
                    else {
                        return Ok(CancelOutcome::TooLate);
                    };
                    Recorder::new(connection)?.record(&stored, &cancellation.record, &node)?;
                    refund(connection, account, cancellation.refund)?;
                    Ok(CancelOutcome::Cancelled)
                };
                cancel_it().map_err(backend_error)
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
        // Judged at `now` already (judge_replacement): the store decides by position alone.
        let _ = now;
        self.writer
            .write(move |connection: &Connection| {
                let replace_it = || -> rusqlite::Result<ReplaceOutcome> {
                    let Some((stored, leased)) = load_own(connection, account, id)? else {
                        return Ok(ReplaceOutcome::NotFound);
                    };
                    if !still_queued(&stored.progress, leased) {
                        return Ok(ReplaceOutcome::TooLate);
                    }
                    let balance: Option<i64> = connection
                        .prepare_cached("SELECT balance_micros FROM accounts WHERE id = ?1")?
                        .query_row(params![account], |row| row.get(0))?;
                    if let Some(balance) = balance {
                        let paid = stored.message.price;
                        let Some(left) = reprice(Money(balance), paid, replacement.price) else {
                            return Ok(ReplaceOutcome::InsufficientBalance);
                        };
                        connection
                            .prepare_cached(
                                "UPDATE accounts SET balance_micros = ?2 WHERE id = ?1",
                            )?
                            .execute(params![account, left.micros()])?;
                    }
                    write_replacement(connection, id, &replacement)?;
                    Ok(ReplaceOutcome::Replaced)
                };
                replace_it().map_err(backend_error)
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|connection| {
            connection.query_row(
                "SELECT MIN(due_at) FROM messages WHERE due_at IS NOT NULL",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
        })
        .await
        .map(|due| due.map(timestamp))
    }
}
