//! The [`InboundStore`] role on PostgreSQL: parts of inbound (MO) messages kept until their
//! message is complete (or its time runs out), the messages assembled from them, owned and
//! queued for their accounts' inbound URLs, all as `tern_core::inbound` and `tern_core::outbox`
//! decide; and the message log's inbound messages.
//!
//! The parts of one message may reach several nodes at once (one per SMPP bind): the
//! transactions that keep or flush parts of a key take a transaction-scoped advisory lock on it
//! first (all of a call's keys, in one order), so that exactly one of them sees the key complete
//! and assembles it, and a flush never assembles what an acceptance just did.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use tern_core::account::AccountId;
use tern_core::blocklist::{self, OptOut, OptOutChange, OptOutKeywords};
use tern_core::inbound::{
    self, Concat, InboundExtras, InboundMessage, InboundPart, PartKey, ProviderInbound,
};
use tern_core::message::{MessageFilter, MessageId};
use tern_core::outbox::{self, Destination, FactRef, NewEntry};
use tern_core::ports::{InboundStore, StoreError, WorkSignal};

use super::blocklist::{block_number, unblock_number};
use super::rows::{bad, channels};
use super::{PgStore, backend_error, millis, timestamp, within_background};

/// The log's target for inbound messages nobody owns.
const LOG_TARGET: &str = "tern_store::inbound";

/// The first key of the advisory locks on part keys (two-key locks, a space of their own apart
/// from the schema's one-key migration lock): "mo" in ASCII.
const PART_KEY_LOCKS: i32 = 0x6d6f;

/// The columns of an inbound message row, read by [`inbound_from_row`]; select them `FROM
/// inbound_messages`.
pub(super) const INBOUND_COLUMNS: &str =
    "id, account_id, connector, channel, sender, recipient, body, parts, received_at, extras";

/// An inbound message from the columns of [`INBOUND_COLUMNS`] (the fact of an inbound outbox
/// entry, and an entry of the log).
pub(super) fn inbound_from_row(row: &PgRow) -> sqlx::Result<InboundMessage> {
    let channel = channels(row, 3)?
        .first()
        .copied()
        .ok_or_else(|| bad(3, "channel"))?;
    let parts: i32 = row.try_get(7)?;
    Ok(InboundMessage {
        id: MessageId(row.try_get(0)?),
        account: row.try_get(1)?,
        connector: Arc::from(row.try_get::<String, _>(2)?),
        channel,
        from: row.try_get(4)?,
        to: row.try_get(5)?,
        text: row.try_get(6)?,
        parts: u32::try_from(parts).map_err(|_| bad(7, "part count"))?,
        received_at: timestamp(row.try_get(8)?),
        extras: match row.try_get::<Option<String>, _>(9)? {
            Some(json) => serde_json::from_str(&json).map_err(|_| bad(9, "extras"))?,
            None => InboundExtras::default(),
        },
    })
}

/// The message log's inbound messages ([`tern_core::ports::MessageLogStore::inbound_messages`]):
/// those of `account` that `filter`'s `recipient`, `since`, `until` and `after` take, in id order, at most
/// its `limit`.
pub(super) async fn inbound_messages(
    store: &PgStore,
    account: AccountId,
    filter: MessageFilter,
) -> Result<Vec<InboundMessage>, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound_messages
         WHERE account_id = $1
           AND ($2::text IS NULL OR recipient = $2)
           AND ($3::bigint IS NULL OR received_at >= $3)
           AND ($4::uuid IS NULL OR id > $4)
           AND ($6::bigint IS NULL OR received_at < $6)
         ORDER BY id LIMIT $5"
    )))
    .bind(account)
    .bind(filter.recipient)
    .bind(filter.since.map(millis))
    .bind(filter.after.map(|after| after.0))
    .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
    .bind(filter.until.map(millis))
    .try_map(|row| inbound_from_row(&row))
    .fetch_all(store.pool())
    .await
    .map_err(backend_error)
}

/// The columns of a kept part, read by [`part_from_row`].
const PART_COLUMNS: &str = "connector, sender, recipient, reference, total, seq, channel, \
    data_coding, payload, received_at";

/// A kept part from the columns of [`PART_COLUMNS`].
fn part_from_row(row: &PgRow) -> sqlx::Result<InboundPart> {
    let small = |index: usize, what: &str| -> sqlx::Result<u8> {
        u8::try_from(row.try_get::<i32, _>(index)?).map_err(|_| bad(index, what))
    };
    let reference: i32 = row.try_get(3)?;
    Ok(InboundPart {
        connector: Arc::from(row.try_get::<String, _>(0)?),
        channel: channels(row, 6)?
            .first()
            .copied()
            .ok_or_else(|| bad(6, "channel"))?,
        from: row.try_get(1)?,
        to: row.try_get(2)?,
        data_coding: small(7, "data coding")?,
        payload: row.try_get(8)?,
        concat: Some(Concat {
            reference: u16::try_from(reference).map_err(|_| bad(3, "concatenation reference"))?,
            total: small(4, "part total")?,
            seq: small(5, "part number")?,
        }),
        received_at: timestamp(row.try_get(9)?),
    })
}

/// The name of a part key its advisory lock is taken on.
fn key_name(key: &PartKey) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        key.connector, key.from, key.to, key.reference, key.total
    )
}

/// Take the advisory locks of `keys` for the rest of the transaction, in the order of their
/// lock ids (every transaction takes them in that order: none waits for another in a circle).
async fn lock_keys<'k>(
    connection: &mut PgConnection,
    keys: impl IntoIterator<Item = &'k PartKey>,
) -> sqlx::Result<()> {
    let names: Vec<String> = keys
        .into_iter()
        .map(key_name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, id)
         FROM (SELECT DISTINCT hashtext(name) AS id FROM UNNEST($2::text[]) AS name ORDER BY id)
             AS ids",
    )
    .bind(PART_KEY_LOCKS)
    .bind(&names)
    .execute(connection)
    .await?;
    Ok(())
}

/// Keep a part of a concatenated message (a number of its key kept already is a duplicate,
/// ignored).
async fn keep(
    connection: &mut PgConnection,
    part: &InboundPart,
    concat: Concat,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO inbound_parts (connector, sender, recipient, reference, total, seq, channel,
             data_coding, payload, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (connector, sender, recipient, reference, total, seq) DO NOTHING",
    )
    .bind(&*part.connector)
    .bind(&part.from)
    .bind(&part.to)
    .bind(i32::from(concat.reference))
    .bind(i32::from(concat.total))
    .bind(i32::from(concat.seq))
    .bind(part.channel.as_str())
    .bind(i32::from(part.data_coding))
    .bind(&part.payload)
    .bind(millis(part.received_at))
    .execute(connection)
    .await?;
    Ok(())
}

/// The parts kept of `key`, in number order.
async fn parts_of(connection: &mut PgConnection, key: &PartKey) -> sqlx::Result<Vec<InboundPart>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {PART_COLUMNS} FROM inbound_parts
         WHERE connector = $1 AND sender = $2 AND recipient = $3 AND reference = $4 AND total = $5
         ORDER BY seq"
    )))
    .bind(&*key.connector)
    .bind(&key.from)
    .bind(&key.to)
    .bind(i32::from(key.reference))
    .bind(i32::from(key.total))
    .try_map(|row| part_from_row(&row))
    .fetch_all(connection)
    .await
}

/// Forget the parts kept of `key` (their message is recorded).
async fn forget(connection: &mut PgConnection, key: &PartKey) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM inbound_parts
         WHERE connector = $1 AND sender = $2 AND recipient = $3 AND reference = $4 AND total = $5",
    )
    .bind(&*key.connector)
    .bind(&key.from)
    .bind(&key.to)
    .bind(i32::from(key.reference))
    .bind(i32::from(key.total))
    .execute(connection)
    .await?;
    Ok(())
}

/// An inbound message recorded for nobody (logged once it is committed).
struct Unowned {
    to: String,
    connector: Arc<str>,
    id: MessageId,
}

/// What an account that owns inbound messages wants of them: its inbound URL, and whether it
/// has SMPP binds to deliver them to.
struct Owner {
    account: AccountId,
    inbound_url: Option<String>,
    smpp: bool,
}

/// Record what opt-out keywords (or `START`) change on their accounts' lists, in order, in the
/// transaction that records their messages.
async fn record_opt_outs(
    connection: &mut PgConnection,
    changes: &[(OptOutChange, Timestamp)],
) -> Result<(), StoreError> {
    for (change, at) in changes {
        match change.action {
            OptOut::Stop => block_number(connection, change.scope, &change.number, *at).await,
            OptOut::Start => unblock_number(connection, change.scope, &change.number).await,
        }
        .map_err(backend_error)?;
    }
    Ok(())
}

/// Record the messages the parts of `groups` make (one message a group, in their order), each
/// for the account whose inbound number it was sent to, with their outbox entries; the messages
/// recorded for nobody.
async fn record_assembled(
    connection: &mut PgConnection,
    groups: Vec<Vec<InboundPart>>,
    keywords: &OptOutKeywords,
) -> Result<Vec<Unowned>, StoreError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<String> = groups
        .iter()
        .map(|parts| inbound::owner_key(&parts[0].to))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let owners: HashMap<String, Owner> = sqlx::query(
        "SELECT n.number, n.account_id, a.inbound_url, a.smpp_system_id IS NOT NULL
         FROM inbound_numbers n JOIN accounts a ON a.id = n.account_id
         WHERE n.number = ANY($1::text[])",
    )
    .bind(&numbers)
    .try_map(|row: PgRow| {
        Ok((
            row.try_get::<String, _>(0)?,
            Owner {
                account: row.try_get(1)?,
                inbound_url: row.try_get(2)?,
                smpp: row.try_get(3)?,
            },
        ))
    })
    .fetch_all(&mut *connection)
    .await
    .map_err(backend_error)?
    .into_iter()
    .collect();
    let mut messages = Vec::with_capacity(groups.len());
    let mut entries = Vec::new();
    let mut unowned = Vec::new();
    let mut opt_outs = Vec::new();
    for parts in &groups {
        let owner = owners.get(&inbound::owner_key(&parts[0].to));
        let mut message = inbound::assemble(
            MessageId::generate(),
            owner.map(|owner| owner.account),
            parts,
        );
        if let Some(change) =
            blocklist::opt_out_change(keywords, message.account, &message.from, &message.text)
        {
            message.extras.opt_out = change.action == OptOut::Stop;
            opt_outs.push((change, message.received_at));
        }
        entries.extend(outbox::inbound_entries(
            &message,
            owner.and_then(|owner| owner.inbound_url.as_deref()),
            owner.is_some_and(|owner| owner.smpp),
        ));
        if message.account.is_none() {
            unowned.push(Unowned {
                to: message.to.clone(),
                connector: Arc::clone(&message.connector),
                id: message.id,
            });
        }
        messages.push((message, None));
    }
    insert_messages(connection, &messages).await?;
    insert_entries(connection, &entries).await?;
    record_opt_outs(connection, &opt_outs).await?;
    Ok(unowned)
}

/// Insert `messages` (each with the provider's id of it, when a provider gave one) in one
/// statement, in their order; one whose provider id its connector gave before is not inserted.
/// Returns the ids of those inserted.
async fn insert_messages(
    connection: &mut PgConnection,
    messages: &[(InboundMessage, Option<String>)],
) -> Result<HashSet<MessageId>, StoreError> {
    if messages.is_empty() {
        return Ok(HashSet::new());
    }
    let mut ids = Vec::with_capacity(messages.len());
    let mut accounts = Vec::with_capacity(messages.len());
    let mut connectors = Vec::with_capacity(messages.len());
    let mut channels = Vec::with_capacity(messages.len());
    let mut senders = Vec::with_capacity(messages.len());
    let mut recipients = Vec::with_capacity(messages.len());
    let mut bodies = Vec::with_capacity(messages.len());
    let mut part_counts = Vec::with_capacity(messages.len());
    let mut received = Vec::with_capacity(messages.len());
    let mut provider_ids = Vec::with_capacity(messages.len());
    let mut extras = Vec::with_capacity(messages.len());
    for (message, provider_id) in messages {
        ids.push(message.id.0);
        accounts.push(message.account);
        connectors.push(message.connector.to_string());
        channels.push(message.channel.as_str());
        senders.push(message.from.as_str());
        recipients.push(message.to.as_str());
        bodies.push(message.text.as_str());
        part_counts.push(i32::try_from(message.parts).map_err(|_| {
            StoreError::Backend(format!("{} parts: too many to store", message.parts))
        })?);
        received.push(millis(message.received_at));
        provider_ids.push(provider_id.as_deref());
        extras.push(if message.extras.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&message.extras).map_err(|error| {
                StoreError::Backend(format!("inbound extras do not serialise: {error}"))
            })?)
        });
    }
    let inserted: Vec<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO inbound_messages (id, account_id, connector, channel, sender, recipient,
             body, parts, received_at, provider_id, extras)
         SELECT id, account_id, connector, channel, sender, recipient, body, parts, received_at,
             provider_id, extras
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::integer[], $9::bigint[], $10::text[], $11::text[])
             WITH ORDINALITY AS m(id, account_id, connector, channel, sender, recipient, body,
                 parts, received_at, provider_id, extras, n)
         ORDER BY n
         ON CONFLICT (connector, provider_id) WHERE provider_id IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&accounts)
    .bind(&connectors)
    .bind(&channels)
    .bind(&senders)
    .bind(&recipients)
    .bind(&bodies)
    .bind(&part_counts)
    .bind(&received)
    .bind(&provider_ids)
    .bind(&extras)
    .fetch_all(connection)
    .await
    .map_err(backend_error)?;
    Ok(inserted.into_iter().map(MessageId).collect())
}

/// Write `entries` to the outbox in one statement, in their order, each due when it was
/// created (the columns SQLite's `INSERT_ENTRY` writes).
async fn insert_entries(
    connection: &mut PgConnection,
    entries: &[NewEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut kinds = Vec::with_capacity(entries.len());
    let mut accounts = Vec::with_capacity(entries.len());
    let mut urls = Vec::with_capacity(entries.len());
    let mut ordering_keys = Vec::with_capacity(entries.len());
    let mut message_ids = Vec::with_capacity(entries.len());
    let mut seqs = Vec::with_capacity(entries.len());
    let mut created = Vec::with_capacity(entries.len());
    for entry in entries {
        let (account, url) = match &entry.destination {
            Destination::Account(account) => (Some(*account), None),
            Destination::Url(url) => (None, Some(url.as_str())),
        };
        let (message_id, seq) = match &entry.fact {
            FactRef::StatusChange { message_id, seq } => (
                message_id,
                Some(i32::try_from(*seq).map_err(|_| {
                    StoreError::Backend(format!("status change number {seq} out of range"))
                })?),
            ),
            FactRef::Inbound { message_id } => (message_id, None),
        };
        kinds.push(entry.kind.as_str());
        accounts.push(account);
        urls.push(url);
        ordering_keys.push(entry.ordering_key.0.as_str());
        message_ids.push(message_id.0);
        seqs.push(seq);
        created.push(millis(entry.created_at));
    }
    sqlx::query(
        "INSERT INTO outbox (kind, account_id, url, ordering_key, message_id, seq, created_at,
             due_at)
         SELECT kind, account_id, url, ordering_key, message_id, seq, created_at, created_at
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::uuid[],
             $6::integer[], $7::bigint[])
             WITH ORDINALITY AS e(kind, account_id, url, ordering_key, message_id, seq,
                 created_at, n)
         ORDER BY n",
    )
    .bind(&kinds)
    .bind(&accounts)
    .bind(&urls)
    .bind(&ordering_keys)
    .bind(&message_ids)
    .bind(&seqs)
    .bind(&created)
    .execute(connection)
    .await
    .map_err(backend_error)?;
    Ok(())
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
impl InboundStore for PgStore {
    async fn accept_inbound(&self, parts: Vec<InboundPart>) -> Result<(), StoreError> {
        within_background(async {
            if parts.is_empty() {
                return Ok(());
            }
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let keys: Vec<PartKey> = parts.iter().filter_map(InboundPart::key).collect();
            lock_keys(&mut transaction, &keys)
                .await
                .map_err(backend_error)?;
            let mut groups: Vec<Vec<InboundPart>> = Vec::new();
            for part in parts {
                let (Some(key), Some(concat)) = (part.key(), part.concatenation()) else {
                    groups.push(vec![part]);
                    continue;
                };
                keep(&mut transaction, &part, concat)
                    .await
                    .map_err(backend_error)?;
                let kept = parts_of(&mut transaction, &key)
                    .await
                    .map_err(backend_error)?;
                let seqs = kept
                    .iter()
                    .filter_map(|part| part.concat.map(|concat| concat.seq));
                if inbound::complete(key.total, seqs) {
                    forget(&mut transaction, &key)
                        .await
                        .map_err(backend_error)?;
                    groups.push(kept);
                }
            }
            let unowned =
                record_assembled(&mut transaction, groups, &self.opt_out_keywords()).await?;
            transaction.commit().await.map_err(backend_error)?;
            self.wrote(WorkSignal::Outbox);
            log_unowned(unowned);
            Ok(())
        })
        .await
    }

    async fn accept_provider_inbound(
        &self,
        messages: Vec<ProviderInbound>,
    ) -> Result<Vec<MessageId>, StoreError> {
        within_background(async {
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            let keywords = self.opt_out_keywords();
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let mut candidates = Vec::with_capacity(messages.len());
            let mut opt_outs = HashMap::new();
            for provider in messages {
                let mut extras = provider.extras;
                if let Some(answers) = &provider.answers {
                    // The reference (else the id) of the message of Tern's a reply answers.
                    let context: Option<(Option<String>, uuid::Uuid)> = sqlx::query_as(
                        "SELECT m.reference, m.id FROM external_ids e
                         JOIN messages m ON m.id = e.message_id
                         WHERE e.connector = $1 AND e.external_id = $2",
                    )
                    .bind(&*provider.connector)
                    .bind(answers)
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(backend_error)?;
                    extras.message_context = context.map(|(reference, id)| {
                        reference.unwrap_or_else(|| MessageId(id).to_string())
                    });
                }
                let message_id = MessageId::generate();
                if let Some(change) = blocklist::opt_out_change(
                    &keywords,
                    provider.account,
                    &provider.from,
                    &provider.text,
                ) {
                    extras.opt_out = change.action == OptOut::Stop;
                    opt_outs.insert(message_id, (change, provider.received_at));
                }
                let message = InboundMessage {
                    id: message_id,
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
                candidates.push((message, Some(provider.provider_id)));
            }
            let inserted = insert_messages(&mut transaction, &candidates).await?;
            let recorded: Vec<InboundMessage> = candidates
                .into_iter()
                .map(|(message, _)| message)
                .filter(|message| inserted.contains(&message.id))
                .collect();
            let accounts: Vec<AccountId> = recorded
                .iter()
                .filter_map(|message| message.account)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let owners: HashMap<AccountId, (Option<String>, bool)> = if accounts.is_empty() {
                HashMap::new()
            } else {
                sqlx::query_as::<_, (AccountId, Option<String>, bool)>(
                    "SELECT id, inbound_url, smpp_system_id IS NOT NULL FROM accounts
                     WHERE id = ANY($1::bigint[])",
                )
                .bind(&accounts)
                .fetch_all(&mut *transaction)
                .await
                .map_err(backend_error)?
                .into_iter()
                .map(|(id, inbound_url, smpp)| (id, (inbound_url, smpp)))
                .collect()
            };
            let mut entries = Vec::new();
            for message in &recorded {
                let (inbound_url, smpp) = message
                    .account
                    .and_then(|account| owners.get(&account))
                    .map_or((None, false), |(url, smpp)| (url.as_deref(), *smpp));
                entries.extend(outbox::inbound_entries(message, inbound_url, smpp));
            }
            insert_entries(&mut transaction, &entries).await?;
            // Only the messages recorded now change the lists (a redelivery changes nothing again).
            let changes: Vec<(OptOutChange, Timestamp)> = recorded
                .iter()
                .filter_map(|message| opt_outs.remove(&message.id))
                .collect();
            record_opt_outs(&mut transaction, &changes).await?;
            transaction.commit().await.map_err(backend_error)?;
            self.wrote(WorkSignal::Outbox);
            Ok(recorded.into_iter().map(|message| message.id).collect())
        })
        .await
    }

    async fn flush_inbound_parts(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        within_background(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let keys: Vec<PartKey> = sqlx::query(
                "SELECT connector, sender, recipient, reference, total
                 FROM inbound_parts
                 GROUP BY connector, sender, recipient, reference, total
                 HAVING MIN(received_at) < $1
                 ORDER BY MIN(received_at)",
            )
            .bind(millis(older_than))
            .try_map(|row: PgRow| {
                let reference: i32 = row.try_get(3)?;
                let total: i32 = row.try_get(4)?;
                Ok(PartKey {
                    connector: Arc::from(row.try_get::<String, _>(0)?),
                    from: row.try_get(1)?,
                    to: row.try_get(2)?,
                    reference: u16::try_from(reference)
                        .map_err(|_| bad(3, "concatenation reference"))?,
                    total: u8::try_from(total).map_err(|_| bad(4, "part total"))?,
                })
            })
            .fetch_all(&mut *transaction)
            .await
            .map_err(backend_error)?;
            lock_keys(&mut transaction, &keys)
                .await
                .map_err(backend_error)?;
            let mut groups = Vec::with_capacity(keys.len());
            for key in &keys {
                // Read again under the key's lock: another node may have assembled it meanwhile.
                let kept = parts_of(&mut transaction, key)
                    .await
                    .map_err(backend_error)?;
                if kept.is_empty() {
                    continue;
                }
                forget(&mut transaction, key).await.map_err(backend_error)?;
                groups.push(kept);
            }
            let count = groups.len() as u64;
            let unowned =
                record_assembled(&mut transaction, groups, &self.opt_out_keywords()).await?;
            transaction.commit().await.map_err(backend_error)?;
            self.wrote(WorkSignal::Outbox);
            log_unowned(unowned);
            Ok(count)
        })
        .await
    }

    async fn purge_unowned_inbound(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        within_background(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let deleted = sqlx::query(
                "DELETE FROM inbound_messages WHERE account_id IS NULL AND received_at < $1",
            )
            .bind(millis(older_than))
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?
            .rows_affected();
            transaction.commit().await.map_err(backend_error)?;
            Ok(deleted)
        })
        .await
    }
}
