//! The [`OutboxStore`] role on SQLite: outbox entries (see `tern_core::outbox`) written with the
//! facts they point at, claimed under leases in the name of this node, one per ordering key at a
//! time, and handed out with their fact and their destination read at claim time.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};
use std::sync::Arc;

use tern_core::account::{Account, AccountId};
use tern_core::dispatch::StatusChange;
use tern_core::money::per_part;
use tern_core::outbox::{
    ClaimedEntry, Destination, EntryFilter, EntryId, Fact, FactRef, NewEntry, OutboxKind, Outcome,
    Resolved, StatusFact,
};
use tern_core::ports::{FreshBatch, FreshEntries, NodeId, OutboxStore, StoreError};

use super::rows::{
    self, ACCOUNT_COLUMNS, StoredMessage, account_from_row, millis, rendered_webhook_from_row,
    status_fact_from_row, timestamp,
};
use super::{SqliteStore, backend_error};

/// Writes one entry, with [`insert_entry`].
pub const INSERT_ENTRY: &str =
    "INSERT INTO outbox (kind, account_id, url, ordering_key, message_id, seq, created_at, due_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";

/// Writes one entry leased to node `?9` until `?8`, its attempt counted as a claim counts it: an
/// entry handed to a runner as it is written ([`Handing`]).
const INSERT_LEASED_ENTRY: &str = "INSERT INTO outbox (kind, account_id, url, ordering_key, message_id, seq, created_at, due_at, attempts, leased_by)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)";

/// The columns `?1`-`?7` of [`INSERT_ENTRY`] and [`INSERT_LEASED_ENTRY`] for `entry`.
type EntryColumns<'e> = (
    &'static str,
    Option<AccountId>,
    Option<&'e str>,
    &'e str,
    &'e [u8],
    Option<u32>,
    i64,
);

fn entry_columns(entry: &NewEntry) -> EntryColumns<'_> {
    let (account, url) = match &entry.destination {
        Destination::Account(account) => (Some(*account), None),
        Destination::Url(url) => (None, Some(url.as_str())),
    };
    let (message_id, seq) = match &entry.fact {
        FactRef::StatusChange { message_id, seq } => (message_id, Some(*seq)),
        FactRef::Inbound { message_id } => (message_id, None),
    };
    (
        entry.kind.as_str(),
        account,
        url,
        entry.ordering_key.0.as_str(),
        message_id.0.as_bytes().as_slice(),
        seq,
        millis(entry.created_at),
    )
}

/// Write `entry` with the statement [`INSERT_ENTRY`] prepared; it is due when it was created.
pub fn insert_entry(statement: &mut CachedStatement, entry: &NewEntry) -> rusqlite::Result<()> {
    let (kind, account, url, key, message_id, seq, created_at) = entry_columns(entry);
    statement.execute(params![
        kind, account, url, key, message_id, seq, created_at
    ])?;
    Ok(())
}

/// What a status report says of its message's content, read once per content per job.
struct ReportContent {
    from: String,
    body: String,
    body_binary: bool,
    custom_groupings: [Option<String>; 3],
}

/// Hands fresh entries to a [`FreshEntries`] runner as one writer job writes them (see
/// [`OutboxStore::hand_fresh_entries`]): an entry its runner takes is written leased to this
/// node when the runner has room and no other entry of its ordering key is in the outbox (the
/// job sees its own writes: a second entry of a key in one job is not handed), with its fact
/// built from what the job holds (the status change just decided, its message, the message's
/// content read once per job) instead of read back at a claim.
pub(super) struct Handing<'c> {
    connection: &'c Connection,
    batch: FreshBatch,
    node: NodeId,
    /// The end of the lease, in milliseconds.
    lease_until: i64,
    key_taken: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    content: CachedStatement<'c>,
    contents: HashMap<i64, Option<ReportContent>>,
    resolver: Resolver<'c>,
}

impl<'c> Handing<'c> {
    pub(super) fn new(
        connection: &'c Connection,
        runner: Arc<dyn FreshEntries>,
        node: NodeId,
        now: Timestamp,
    ) -> rusqlite::Result<Handing<'c>> {
        Ok(Handing {
            connection,
            lease_until: millis(now + runner.lease()),
            batch: FreshBatch::new(runner),
            node,
            key_taken: connection
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE ordering_key = ?1)")?,
            insert: connection.prepare_cached(INSERT_LEASED_ENTRY)?,
            content: connection.prepare_cached(
                "SELECT sender, body, body_type, custom_grouping1, custom_grouping2, custom_grouping3
                 FROM contents WHERE id = ?1",
            )?,
            contents: HashMap::new(),
            resolver: Resolver::new(connection)?,
        })
    }

    /// Write `entry`, the entry of `change` of message `stored`, leased and handed, when its
    /// runner takes it and has room and it is the first of its key; `false`: nothing written
    /// (write it due).
    pub(super) fn hand(
        &mut self,
        entry: &NewEntry,
        stored: &StoredMessage,
        change: &StatusChange,
    ) -> rusqlite::Result<bool> {
        let Destination::Account(account) = entry.destination else {
            return Ok(false);
        };
        if !self.batch.runner().takes(entry.kind)
            || self
                .key_taken
                .query_row(params![entry.ordering_key.0], |row| row.get::<_, bool>(0))?
            || !self.batch.runner().reserve()
        {
            return Ok(false);
        }
        match self.write(entry, account, stored, change) {
            Ok(claimed) => {
                self.batch.push(claimed);
                Ok(true)
            }
            Err(error) => {
                self.batch.runner().unreserve(1);
                Err(error)
            }
        }
    }

    fn write(
        &mut self,
        entry: &NewEntry,
        account: AccountId,
        stored: &StoredMessage,
        change: &StatusChange,
    ) -> rusqlite::Result<ClaimedEntry> {
        let (kind, account_id, url, key, message_id, seq, created_at) = entry_columns(entry);
        self.insert.execute(params![
            kind,
            account_id,
            url,
            key,
            message_id,
            seq,
            created_at,
            self.lease_until,
            self.node.as_str(),
        ])?;
        let id = self.connection.last_insert_rowid();
        let content_id = stored.content_id;
        if !self.contents.contains_key(&content_id) {
            let content = self
                .content
                .query_row(params![content_id], |row| {
                    Ok(ReportContent {
                        from: row.get(0)?,
                        body: row.get(1)?,
                        body_binary: row.get::<_, Option<String>>(2)?.as_deref() == Some("BINARY"),
                        custom_groupings: [row.get(3)?, row.get(4)?, row.get(5)?],
                    })
                })
                .optional()?;
            self.contents.insert(content_id, content);
        }
        let message = &stored.message;
        let fact = self.contents[&content_id].as_ref().map(|content| {
            Fact::StatusChange(StatusFact {
                message_id: message.id,
                seq: change.seq,
                at: change.at,
                report: change.report.clone(),
                recipient: message.recipient.clone(),
                reference: message.reference.clone(),
                custom_groupings: content.custom_groupings.clone(),
                accepted_at: message.accepted_at,
                from: content.from.clone(),
                body: content.body.clone(),
                body_binary: content.body_binary,
                part_price: per_part(message.price, message.parts),
                parts: message.parts,
            })
        });
        Ok(ClaimedEntry {
            id,
            kind: entry.kind,
            ordering_key: entry.ordering_key.clone(),
            attempts: 0,
            created_at: entry.created_at,
            destination: self.resolver.account(account)?.map(Resolved::Account),
            fact,
        })
    }

    /// The entries handed so far, to be handed once the job's transaction is durable.
    pub(super) fn into_batch(self) -> FreshBatch {
        self.batch
    }
}

/// An entry row as claimed, before its fact and destination are read.
struct Head {
    id: EntryId,
    kind: OutboxKind,
    account: Option<AccountId>,
    url: Option<String>,
    ordering_key: String,
    message_id: Option<Vec<u8>>,
    seq: Option<u32>,
    rendered_id: Option<i64>,
    attempts: u32,
    created_at: Timestamp,
}

fn head_from_row(row: &rusqlite::Row) -> rusqlite::Result<Head> {
    let kind: String = row.get(1)?;
    Ok(Head {
        id: row.get(0)?,
        kind: OutboxKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown outbox kind {kind}").into(),
            )
        })?,
        account: row.get(2)?,
        url: row.get(3)?,
        ordering_key: row.get(4)?,
        message_id: row.get(5)?,
        seq: row.get(6)?,
        rendered_id: row.get(7)?,
        attempts: row.get(8)?,
        created_at: timestamp(row.get(9)?),
    })
}

/// Reads the facts and destinations of claimed entries; an account is read once per claim.
struct Resolver<'c> {
    account: CachedStatement<'c>,
    status_fact: CachedStatement<'c>,
    rendered: CachedStatement<'c>,
    inbound: CachedStatement<'c>,
    accounts: HashMap<AccountId, Option<Arc<Account>>>,
}

impl<'c> Resolver<'c> {
    fn new(connection: &'c Connection) -> rusqlite::Result<Resolver<'c>> {
        Ok(Resolver {
            account: connection.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
            ))?,
            status_fact: connection.prepare_cached(&format!(
                "SELECT {} FROM {} WHERE s.message_id = ?1 AND s.seq = ?2",
                rows::STATUS_FACT_COLUMNS,
                rows::STATUS_FACT_TABLES
            ))?,
            rendered: connection.prepare_cached(
                "SELECT message_id, report_id, content_type, body FROM rendered_webhooks WHERE id = ?1",
            )?,
            inbound: connection.prepare_cached(&format!(
                "SELECT {} FROM inbound_messages WHERE id = ?1",
                rows::INBOUND_COLUMNS
            ))?,
            accounts: HashMap::new(),
        })
    }

    fn destination(&mut self, head: &Head) -> rusqlite::Result<Option<Resolved>> {
        if let Some(url) = &head.url {
            return Ok(Some(Resolved::Url(url.clone())));
        }
        let Some(id) = head.account else {
            return Ok(None);
        };
        Ok(self.account(id)?.map(Resolved::Account))
    }

    /// Account `id` as it is now, read once per resolver and shared by its entries.
    fn account(&mut self, id: AccountId) -> rusqlite::Result<Option<Arc<Account>>> {
        if !self.accounts.contains_key(&id) {
            let account = self
                .account
                .query_row(params![id], account_from_row)
                .optional()?;
            self.accounts.insert(id, account.map(Arc::new));
        }
        Ok(self.accounts[&id].clone())
    }

    fn fact(&mut self, head: &Head) -> rusqlite::Result<Option<Fact>> {
        if let (Some(message_id), Some(seq)) = (&head.message_id, head.seq) {
            return self
                .status_fact
                .query_row(params![message_id, seq], status_fact_from_row)
                .optional()
                .map(|fact| fact.map(Fact::StatusChange));
        }
        if let (OutboxKind::InboundWebhook | OutboxKind::SmppMo, Some(message_id)) =
            (head.kind, &head.message_id)
        {
            return self
                .inbound
                .query_row(params![message_id], rows::inbound_from_row)
                .optional()
                .map(|message| message.map(Fact::Inbound));
        }
        match head.rendered_id {
            Some(id) => self
                .rendered
                .query_row(params![id], rendered_webhook_from_row)
                .optional()
                .map(|rendered| rendered.map(Fact::Rendered)),
            None => Ok(None),
        }
    }
}

/// The columns of an entry as claimed, read by [`head_from_row`] (its due time after them).
const HEAD_COLUMNS: &str = "o.id, o.kind, o.account_id, o.url, o.ordering_key, o.message_id, \
    o.seq, o.rendered_id, o.attempts, o.created_at, o.due_at";

/// The due heads (the lowest entry of their key) of `kind`, going to `account` when given,
/// earliest due first, at most `limit`, with their due times. The kind is written into the
/// statement (it is one of [`OutboxKind`]'s names), so that the planner sees which partial
/// index serves it: `outbox_kind_due` for a kind, `outbox_receipts_due` for the receipts of an
/// account. Each query is a range of one index read in order, stopped at `limit`.
fn due_heads(
    connection: &Connection,
    kind: OutboxKind,
    account: Option<AccountId>,
    now: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<(Head, i64)>> {
    connection
        .prepare_cached(&due_heads_sql(kind, account.is_some()))?
        .query_map(params![millis(now), limit as i64, account], |row| {
            Ok((head_from_row(row)?, row.get(10)?))
        })?
        .collect()
}

/// The statement of [`due_heads`]: `?1` now, `?2` the limit, `?3` the account (NULL for any).
pub(super) fn due_heads_sql(kind: OutboxKind, of_an_account: bool) -> String {
    let destination = if of_an_account {
        "AND o.account_id = ?3"
    } else {
        "AND ?3 IS NULL"
    };
    format!(
        "SELECT {HEAD_COLUMNS} FROM outbox o
         WHERE o.kind = '{kind}' {destination} AND o.due_at <= ?1
           AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.ordering_key = o.ordering_key)
         ORDER BY o.due_at LIMIT ?2",
        kind = kind.as_str()
    )
}

/// The due heads `filter` takes, earliest due first (then in id order), at most `limit`.
fn filtered_heads(
    connection: &Connection,
    filter: &EntryFilter,
    now: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<Head>> {
    let mut heads: Vec<(Head, i64)> = Vec::new();
    for &kind in &filter.kinds {
        match &filter.accounts {
            None => heads.extend(due_heads(connection, kind, None, now, limit)?),
            Some(accounts) => {
                for &account in accounts {
                    heads.extend(due_heads(connection, kind, Some(account), now, limit)?);
                }
            }
        }
    }
    heads.sort_by_key(|(head, due_at)| (*due_at, head.id));
    // A kind or account named twice finds its entries twice.
    heads.dedup_by_key(|(head, _)| head.id);
    heads.truncate(limit);
    Ok(heads.into_iter().map(|(head, _)| head).collect())
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_entries(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
        filter: &EntryFilter,
    ) -> Result<Vec<ClaimedEntry>, StoreError> {
        let node = self.node.clone();
        let filter = filter.clone();
        self.writer
            .write_background(move |connection: &Connection| {
                let claim = || -> rusqlite::Result<Vec<ClaimedEntry>> {
                    // The lowest entry of each key only: one in flight per key, in order.
                    let heads = filtered_heads(connection, &filter, now, limit)?;
                    let mut lease_it = connection.prepare_cached(
                        "UPDATE outbox SET due_at = ?2, attempts = attempts + 1, leased_by = ?3 WHERE id = ?1",
                    )?;
                    let mut resolver = Resolver::new(connection)?;
                    let mut claimed = Vec::with_capacity(heads.len());
                    for head in heads {
                        lease_it.execute(params![head.id, millis(now + lease), node.as_str()])?;
                        claimed.push(ClaimedEntry {
                            destination: resolver.destination(&head)?,
                            fact: resolver.fact(&head)?,
                            id: head.id,
                            kind: head.kind,
                            ordering_key: tern_core::outbox::OrderingKey(head.ordering_key),
                            attempts: head.attempts,
                            created_at: head.created_at,
                        });
                    }
                    Ok(claimed)
                };
                claim().map_err(backend_error)
            })
            .await
    }

    async fn finish_entries(&self, outcomes: Vec<(EntryId, Outcome)>) -> Result<(), StoreError> {
        self.writer
            .write_background(move |connection: &Connection| {
                let finish = || -> rusqlite::Result<()> {
                    // A rendered webhook's body goes with its entry (schema step 23's trigger).
                    let mut delete =
                        connection.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
                    let mut retry = connection.prepare_cached(
                        "UPDATE outbox SET due_at = ?2, leased_by = NULL WHERE id = ?1",
                    )?;
                    for (id, outcome) in &outcomes {
                        match outcome {
                            Outcome::Delivered | Outcome::GiveUp => {
                                delete.execute(params![id])?;
                            }
                            Outcome::RetryAt(at) => {
                                retry.execute(params![id, millis(*at)])?;
                            }
                        }
                    }
                    Ok(())
                };
                finish().map_err(backend_error)
            })
            .await
    }

    async fn next_entry_due(&self, filter: &EntryFilter) -> Result<Option<Timestamp>, StoreError> {
        let filter = filter.clone();
        self.read(move |connection| {
            let mut earliest: Option<i64> = None;
            for &kind in &filter.kinds {
                let accounts: Vec<Option<AccountId>> = match &filter.accounts {
                    None => vec![None],
                    Some(accounts) => accounts.iter().copied().map(Some).collect(),
                };
                for account in accounts {
                    let destination = if account.is_some() {
                        "AND account_id = ?1"
                    } else {
                        "AND ?1 IS NULL"
                    };
                    let due: Option<i64> = connection
                        .prepare_cached(&format!(
                            "SELECT MIN(due_at) FROM outbox WHERE kind = '{kind}' {destination}",
                            kind = kind.as_str()
                        ))?
                        .query_row(params![account], |row| row.get(0))?;
                    earliest = match (earliest, due) {
                        (Some(earliest), Some(due)) => Some(earliest.min(due)),
                        (earliest, due) => earliest.or(due),
                    };
                }
            }
            Ok(earliest)
        })
        .await
        .map(|due| due.map(timestamp))
    }

    fn hand_fresh_entries(&self, runner: Arc<dyn FreshEntries>) -> bool {
        // The last runner that asked (one that stopped takes nothing more: see `reserve`).
        *self
            .fresh
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(runner);
        true
    }

    async fn expire_entries(
        &self,
        kind: OutboxKind,
        created_before: Timestamp,
    ) -> Result<u64, StoreError> {
        self.writer
            .write_background(move |connection: &Connection| {
                let expire = || -> rusqlite::Result<u64> {
                    // A leased entry is being delivered: what becomes of it is its runner's. A
                    // rendered webhook's body goes with its entry (schema step 23's trigger).
                    let expired = connection
                        .prepare_cached(
                            "DELETE FROM outbox WHERE kind = ?1 AND created_at < ?2 AND leased_by IS NULL",
                        )?
                        .execute(params![kind.as_str(), millis(created_before)])?;
                    Ok(expired as u64)
                };
                expire().map_err(backend_error)
            })
            .await
    }
}
