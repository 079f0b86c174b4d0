//! The [`InboundStore`] role on SQLite: parts of inbound (MO) messages kept until their message
//! is complete (or its time runs out), the messages assembled from them, owned and queued for
//! their accounts' inbound URLs, all as `tern_core::inbound` and `tern_core::outbox` decide.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};
use tern_core::blocklist::{self, OptOut, OptOutChange, OptOutKeywords};
use tern_core::channel::Channel;
use tern_core::inbound::{self, Concat, InboundMessage, InboundPart, PartKey, ProviderInbound};
use tern_core::message::MessageId;
use tern_core::outbox;
use tern_core::ports::{InboundStore, StoreError};

use super::blocklist::{block_number, unblock_number};
use super::outbox::{INSERT_ENTRY, insert_entry};
use super::rows::{message_id, millis, timestamp};
use super::{SqliteStore, backend_error};

/// The log's target for inbound messages nobody owns.
const LOG_TARGET: &str = "tern_store::inbound";

/// The columns of a kept part, read by [`part_from_row`].
const PART_COLUMNS: &str = "connector, sender, recipient, reference, total, seq, channel, data_coding, payload, received_at";

fn part_from_row(row: &rusqlite::Row) -> rusqlite::Result<InboundPart> {
    let channel: String = row.get(6)?;
    Ok(InboundPart {
        connector: Arc::from(row.get::<_, String>(0)?),
        channel: Channel::parse_list(&channel)
            .ok()
            .and_then(|channels| channels.first().copied())
            .unwrap_or(Channel::Sms),
        from: row.get(1)?,
        to: row.get(2)?,
        data_coding: row.get(7)?,
        payload: row.get(8)?,
        concat: Some(Concat {
            reference: row.get(3)?,
            total: row.get(4)?,
            seq: row.get(5)?,
        }),
        received_at: timestamp(row.get(9)?),
    })
}

/// An inbound message recorded for nobody (logged once it is committed).
struct Unowned {
    to: String,
    connector: Arc<str>,
    id: MessageId,
}

/// Record what an opt-out keyword (or `START`) changes on its account's list, in the
/// transaction that records its message.
fn record_opt_out(
    connection: &Connection,
    change: &OptOutChange,
    at: Timestamp,
) -> rusqlite::Result<()> {
    match change.action {
        OptOut::Stop => block_number(connection, change.scope, &change.number, at)?,
        OptOut::Start => unblock_number(connection, change.scope, &change.number)?,
    };
    Ok(())
}

/// Records parts and messages in the writer's transaction.
struct Recorder<'c> {
    connection: &'c Connection,
    keywords: Arc<OptOutKeywords>,
    keep_part: CachedStatement<'c>,
    parts_of: CachedStatement<'c>,
    forget_parts: CachedStatement<'c>,
    owner: CachedStatement<'c>,
    insert_message: CachedStatement<'c>,
    entry: CachedStatement<'c>,
    unowned: Vec<Unowned>,
}

impl<'c> Recorder<'c> {
    fn new(
        connection: &'c Connection,
        keywords: Arc<OptOutKeywords>,
    ) -> rusqlite::Result<Recorder<'c>> {
        Ok(Recorder {
            connection,
            keywords,
            // A number of a key kept already: the part is a duplicate, ignored.
            keep_part: connection.prepare_cached(
                "INSERT INTO inbound_parts (connector, sender, recipient, reference, total, seq,
                     channel, data_coding, payload, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (connector, sender, recipient, reference, total, seq) DO NOTHING",
            )?,
            parts_of: connection.prepare_cached(&format!(
                "SELECT {PART_COLUMNS} FROM inbound_parts
                 WHERE connector = ?1 AND sender = ?2 AND recipient = ?3 AND reference = ?4
                     AND total = ?5
                 ORDER BY seq"
            ))?,
            forget_parts: connection.prepare_cached(
                "DELETE FROM inbound_parts
                 WHERE connector = ?1 AND sender = ?2 AND recipient = ?3 AND reference = ?4
                     AND total = ?5",
            )?,
            owner: connection.prepare_cached(
                "SELECT n.account_id, a.inbound_url, a.smpp_system_id IS NOT NULL FROM inbound_numbers n
                 JOIN accounts a ON a.id = n.account_id WHERE n.number = ?1",
            )?,
            insert_message: connection.prepare_cached(
                "INSERT INTO inbound_messages (id, account_id, connector, channel, sender,
                     recipient, body, parts, received_at, extras)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?,
            entry: connection.prepare_cached(INSERT_ENTRY)?,
            unowned: Vec::new(),
        })
    }

    /// Keep a part of a concatenated message (a duplicate is ignored).
    fn keep(&mut self, part: &InboundPart, concat: Concat) -> rusqlite::Result<()> {
        self.keep_part.execute(params![
            &*part.connector,
            part.from,
            part.to,
            concat.reference,
            concat.total,
            concat.seq,
            part.channel.as_str(),
            part.data_coding,
            part.payload,
            millis(part.received_at),
        ])?;
        Ok(())
    }

    /// The parts kept of `key`, in sequence order.
    fn parts_of(&mut self, key: &PartKey) -> rusqlite::Result<Vec<InboundPart>> {
        self.parts_of
            .query_map(
                params![&*key.connector, key.from, key.to, key.reference, key.total],
                part_from_row,
            )?
            .collect()
    }

    fn forget(&mut self, key: &PartKey) -> rusqlite::Result<()> {
        self.forget_parts.execute(params![
            &*key.connector,
            key.from,
            key.to,
            key.reference,
            key.total
        ])?;
        Ok(())
    }

    /// Record the message `parts` make, for the account whose inbound number it was sent to,
    /// with its outbox entry.
    fn message(&mut self, parts: &[InboundPart]) -> rusqlite::Result<()> {
        let to = &parts[0].to;
        let owner: Option<(i64, Option<String>, bool)> = self
            .owner
            .query_row(params![inbound::owner_key(to)], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        let account = owner.as_ref().map(|owner| owner.0);
        let inbound_url = owner.as_ref().and_then(|owner| owner.1.clone());
        let smpp = owner.as_ref().is_some_and(|owner| owner.2);
        let mut message = inbound::assemble(MessageId::generate(), account, parts);
        let opt_out =
            blocklist::opt_out_change(&self.keywords, account, &message.from, &message.text);
        if let Some(change) = &opt_out {
            record_opt_out(self.connection, change, message.received_at)?;
            message.extras.opt_out = change.action == OptOut::Stop;
        }
        let extras_json = (!message.extras.is_empty())
            .then(|| serde_json::to_string(&message.extras).expect("extras serialize"));
        self.insert_message.execute(params![
            message.id.0.as_bytes().as_slice(),
            message.account,
            &*message.connector,
            message.channel.as_str(),
            message.from,
            message.to,
            message.text,
            message.parts,
            millis(message.received_at),
            extras_json,
        ])?;
        for entry in outbox::inbound_entries(&message, inbound_url.as_deref(), smpp) {
            insert_entry(&mut self.entry, &entry)?;
        }
        if message.account.is_none() {
            self.unowned.push(Unowned {
                to: message.to,
                connector: message.connector,
                id: message.id,
            });
        }
        Ok(())
    }
}

/// Log the messages recorded for nobody, once each, when they are committed.
fn log_unowned(unowned: Vec<Unowned>) {
    for message in unowned {
        tracing::warn!(
            target: LOG_TARGET,
            number = %message.to,
            connector = %message.connector,
            message_id = %message.id,
            "inbound message to a number no account has: kept for 7 days, then deleted"
        );
    }
}

#[async_trait]
impl InboundStore for SqliteStore {
    async fn accept_inbound(&self, parts: Vec<InboundPart>) -> Result<(), StoreError> {
        if parts.is_empty() {
            return Ok(());
        }
        let keywords = self.opt_out_keywords();
        let unowned = self
            .writer
            .write(move |connection: &Connection| {
                let accept = || -> rusqlite::Result<Vec<Unowned>> {
                    let mut recorder = Recorder::new(connection, keywords)?;
                    for part in parts {
                        let (Some(key), Some(concat)) = (part.key(), part.concatenation()) else {
                            recorder.message(std::slice::from_ref(&part))?;
                            continue;
                        };
                        recorder.keep(&part, concat)?;
                        let kept = recorder.parts_of(&key)?;
                        let seqs = kept
                            .iter()
                            .filter_map(|part| part.concat.map(|concat| concat.seq));
                        if inbound::complete(key.total, seqs) {
                            recorder.message(&kept)?;
                            recorder.forget(&key)?;
                        }
                    }
                    Ok(recorder.unowned)
                };
                accept().map_err(backend_error)
            })
            .await?;
        log_unowned(unowned);
        Ok(())
    }

    async fn accept_provider_inbound(
        &self,
        messages: Vec<ProviderInbound>,
    ) -> Result<Vec<MessageId>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let keywords = self.opt_out_keywords();
        self.writer
            .write(move |connection: &Connection| {
                let accept = || -> rusqlite::Result<Vec<MessageId>> {
                    let mut insert = connection.prepare_cached(
                        "INSERT INTO inbound_messages (id, account_id, connector, channel, sender,
                             recipient, body, parts, received_at, provider_id, extras)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10)
                         ON CONFLICT (connector, provider_id) WHERE provider_id IS NOT NULL
                         DO NOTHING",
                    )?;
                    let mut account = connection.prepare_cached(
                        "SELECT inbound_url, smpp_system_id IS NOT NULL FROM accounts WHERE id = ?1",
                    )?;
                    // The reference (else the id) of the message of Tern's a reply answers.
                    let mut answered = connection.prepare_cached(
                        "SELECT m.reference, m.id FROM external_ids e
                         JOIN messages m ON m.id = e.message_id
                         WHERE e.connector = ?1 AND e.external_id = ?2",
                    )?;
                    let mut entry = connection.prepare_cached(INSERT_ENTRY)?;
                    let mut recorded = Vec::new();
                    for provider in messages {
                        let mut extras = provider.extras;
                        if let Some(answers) = &provider.answers {
                            let context: Option<(Option<String>, MessageId)> = answered
                                .query_row(params![&*provider.connector, answers], |row| {
                                    Ok((row.get(0)?, message_id(row, 1)?))
                                })
                                .optional()?;
                            extras.message_context = context
                                .map(|(reference, id)| reference.unwrap_or_else(|| id.to_string()));
                        }
                        let opt_out = blocklist::opt_out_change(
                            &keywords,
                            provider.account,
                            &provider.from,
                            &provider.text,
                        );
                        if let Some(change) = &opt_out {
                            extras.opt_out = change.action == OptOut::Stop;
                        }
                        let message = InboundMessage {
                            id: MessageId::generate(),
                            account: provider.account,
                            connector: provider.connector,
                            channel: provider.channel,
                            from: provider.from,
                            to: provider.to,
                            text: provider.text,
                            parts: 1,
                            received_at: provider.received_at,
                            extras,
                        };
                        let extras_json = (!message.extras.is_empty()).then(|| {
                            serde_json::to_string(&message.extras).expect("extras serialize")
                        });
                        let inserted = insert.execute(params![
                            message.id.0.as_bytes().as_slice(),
                            message.account,
                            &*message.connector,
                            message.channel.as_str(),
                            message.from,
                            message.to,
                            message.text,
                            millis(message.received_at),
                            provider.provider_id,
                            extras_json,
                        ])?;
                        if inserted == 0 {
                            continue;
                        }
                        if let Some(change) = &opt_out {
                            record_opt_out(connection, change, message.received_at)?;
                        }
                        let owner: Option<(Option<String>, bool)> = match message.account {
                            Some(id) => account
                                .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                                .optional()?,
                            None => None,
                        };
                        let (inbound_url, smpp) = owner.unwrap_or((None, false));
                        for new in outbox::inbound_entries(&message, inbound_url.as_deref(), smpp)
                        {
                            insert_entry(&mut entry, &new)?;
                        }
                        recorded.push(message.id);
                    }
                    Ok(recorded)
                };
                accept().map_err(backend_error)
            })
            .await
    }

    async fn flush_inbound_parts(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        let keywords = self.opt_out_keywords();
        let (count, unowned) = self
            .writer
            .write_background(move |connection: &Connection| {
                let flush = || -> rusqlite::Result<(u64, Vec<Unowned>)> {
                    let keys: Vec<PartKey> = connection
                        .prepare_cached(
                            "SELECT connector, sender, recipient, reference, total
                             FROM inbound_parts
                             GROUP BY connector, sender, recipient, reference, total
                             HAVING MIN(received_at) < ?1
                             ORDER BY MIN(received_at)",
                        )?
                        .query_map(params![millis(older_than)], |row| {
                            Ok(PartKey {
                                connector: Arc::from(row.get::<_, String>(0)?),
                                from: row.get(1)?,
                                to: row.get(2)?,
                                reference: row.get(3)?,
                                total: row.get(4)?,
                            })
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    let mut recorder = Recorder::new(connection, keywords)?;
                    for key in &keys {
                        let kept = recorder.parts_of(key)?;
                        recorder.message(&kept)?;
                        recorder.forget(key)?;
                    }
                    Ok((keys.len() as u64, recorder.unowned))
                };
                flush().map_err(backend_error)
            })
            .await?;
        log_unowned(unowned);
        Ok(count)
    }

    async fn purge_unowned_inbound(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .write_background(move |connection: &Connection| {
                connection
                    .prepare_cached(
                        "DELETE FROM inbound_messages WHERE account_id IS NULL AND received_at < ?1",
                    )
                    .and_then(|mut statement| statement.execute(params![millis(older_than)]))
                    .map(|deleted| deleted as u64)
                    .map_err(backend_error)
            })
            .await
    }
}
