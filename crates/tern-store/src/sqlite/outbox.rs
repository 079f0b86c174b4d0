//! The [`OutboxStore`] role on SQLite: outbox entries (see `tern_core::outbox`) written with the
//! facts they point at, claimed under leases in the name of this node, one per ordering key at a
//! time, and handed out with their fact and their destination read at claim time.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};
use tern_core::account::{Account, AccountId};
use tern_core::outbox::{
    ClaimedEntry, Destination, EntryId, Fact, FactRef, NewEntry, OutboxKind, Outcome, Resolved,
};
use tern_core::ports::{OutboxStore, StoreError};

use super::rows::{
    self, ACCOUNT_COLUMNS, account_from_row, millis, rendered_webhook_from_row,
    status_fact_from_row, timestamp,
};
use super::{SqliteStore, backend_error};

/// Writes one entry, with [`insert_entry`].
pub const INSERT_ENTRY: &str =
    "INSERT INTO outbox (kind, account_id, url, ordering_key, message_id, seq, created_at, due_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";

/// Write `entry` with the statement [`INSERT_ENTRY`] prepared; it is due when it was created.
pub fn insert_entry(statement: &mut CachedStatement, entry: &NewEntry) -> rusqlite::Result<()> {
    let (account, url) = match &entry.destination {
        Destination::Account(account) => (Some(*account), None),
        Destination::Url(url) => (None, Some(url.as_str())),
    };
    let FactRef::StatusChange { message_id, seq } = &entry.fact;
    statement.execute(params![
        entry.kind.as_str(),
        account,
        url,
        entry.ordering_key.0,
        message_id.0.as_bytes().as_slice(),
        seq,
        millis(entry.created_at),
    ])?;
    Ok(())
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
    accounts: HashMap<AccountId, Option<Account>>,
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
        if !self.accounts.contains_key(&id) {
            let account = self
                .account
                .query_row(params![id], account_from_row)
                .optional()?;
            self.accounts.insert(id, account);
        }
        Ok(self.accounts[&id].clone().map(Resolved::Account))
    }

    fn fact(&mut self, head: &Head) -> rusqlite::Result<Option<Fact>> {
        if let (Some(message_id), Some(seq)) = (&head.message_id, head.seq) {
            return self
                .status_fact
                .query_row(params![message_id, seq], status_fact_from_row)
                .optional()
                .map(|fact| fact.map(Fact::StatusChange));
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

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_entries(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<ClaimedEntry>, StoreError> {
        let node = self.node.clone();
        self.writer
            .write_background(move |connection: &Connection| {
                let claim = || -> rusqlite::Result<Vec<ClaimedEntry>> {
                    // The lowest entry of each key only: one in flight per key, in order.
                    let heads: Vec<Head> = connection
                        .prepare_cached(
                            "SELECT o.id, o.kind, o.account_id, o.url, o.ordering_key, o.message_id,
                                o.seq, o.rendered_id, o.attempts, o.created_at
                             FROM outbox o
                             WHERE o.due_at <= ?1
                               AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.ordering_key = o.ordering_key)
                             ORDER BY o.due_at LIMIT ?2",
                        )?
                        .query_map(params![millis(now), limit as i64], head_from_row)?
                        .collect::<rusqlite::Result<_>>()?;
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
                    let mut delete = connection
                        .prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING rendered_id")?;
                    let mut delete_rendered =
                        connection.prepare_cached("DELETE FROM rendered_webhooks WHERE id = ?1")?;
                    let mut retry = connection.prepare_cached(
                        "UPDATE outbox SET due_at = ?2, leased_by = NULL WHERE id = ?1",
                    )?;
                    for (id, outcome) in &outcomes {
                        match outcome {
                            Outcome::Delivered | Outcome::GiveUp => {
                                // A rendered webhook's fact is its own: it goes with it.
                                let rendered: Option<Option<i64>> =
                                    delete.query_row(params![id], |row| row.get(0)).optional()?;
                                if let Some(Some(rendered)) = rendered {
                                    delete_rendered.execute(params![rendered])?;
                                }
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

    async fn next_entry_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|connection| {
            connection.query_row("SELECT MIN(due_at) FROM outbox", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
        })
        .await
        .map(|due| due.map(timestamp))
    }
}
