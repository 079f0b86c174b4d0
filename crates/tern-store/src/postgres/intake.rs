//! The [`IntakeStore`] role on PostgreSQL, with group commit: a commit (a flush of the server's
//! log to disk) costs far more than the rows of one request, so concurrent `accept` calls share
//! transactions. Each call hands its request to the store's committer ([`Intake`]) and waits for
//! its answer; the committer takes every request waiting (up to [`BATCH_MESSAGES`] messages) and
//! writes them in one transaction: their accounts' rows read, those to be debited locked
//! (`FOR NO KEY UPDATE`, in id order, so that nodes taking the same accounts never deadlock;
//! requests without a charge, which only refer to the account, go on), each request's debit
//! decided in turn by [`debit`] (a refused request is answered
//! [`AcceptError::InsufficientBalance`] and writes nothing; the others go on), then the
//! balances and every accepted request's contents, messages and queue rows written with one
//! statement (`UNNEST` of arrays). A batch with nothing to decide (no request charged, none with
//! an idempotency key) is that one statement alone, committed on its own: one round trip. Each
//! request is answered once the transaction committed: durable before answered.
//!
//! Several such transactions run at once: while one waits for its flush, the next gathers the
//! requests arriving meanwhile, and the server flushes concurrent commits together. How many
//! depends on their size ([`SLOTS`], [`BIG_BATCH`]): small batches (single-message requests)
//! mostly wait for the disk, and more of them at once only split the same requests over more
//! transactions (measured: 4 at once took 10 requests each and accepted 9,800-10,600 msg/s;
//! 6 or 8 at once took 5-7 each and accepted 6,900-8,200); big ones mostly wait for the
//! server's CPU, which more of them at once keep busy (100-message requests: 37,000 msg/s with
//! 4 at once, 48,000-50,000 with 6-8).
//!
//! A failed transaction fails every request in it; when a statement failed (a database error,
//! say an id stored twice) rather than the connection, each of its requests is tried again in a
//! transaction of its own, so that one bad request never fails the others.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::PgPool;
use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::idempotency::{IdempotencyKey, KeyRecord, Reply, RequestHash};
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError, WorkSignal};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::pacing::Pacing;
use super::signals::Signals;
use super::{PgStore, backend_error, millis, timestamp, within};

/// Most messages one transaction takes (at least one request, whatever its size).
const BATCH_MESSAGES: usize = 4096;
/// Slots of intake transactions of one store: a small batch holds two while it runs, a big one
/// ([`BIG_BATCH`] messages or more) one; so at most 4 small ones run at once, and up to 8 big.
const SLOTS: u32 = 8;
/// A batch of at least this many messages is big ([`SLOTS`]).
const BIG_BATCH: usize = 64;

/// A request waiting for the committer.
struct Pending {
    account: AccountId,
    charge: Option<Money>,
    messages: Vec<NewMessage>,
    /// The idempotency key to store with the messages, if any.
    key: Option<KeyRecord>,
    answer: oneshot::Sender<Result<(), AcceptError>>,
}

/// The store's committer: where `accept` hands its requests (see the module's comment).
pub(super) struct Intake {
    requests: mpsc::UnboundedSender<Pending>,
    /// Messages handed to the committer and not yet taken into a transaction.
    waiting: Arc<AtomicUsize>,
}

impl Intake {
    /// Start the committer of a store on `pool`, on the current Tokio runtime; it stops when
    /// the [`Intake`] is dropped (with its store) and no request is left.
    pub(super) fn spawn(pool: PgPool, signals: Arc<Signals>, pacing: Arc<Pacing>) -> Intake {
        let (requests, receiver) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        tokio::spawn(committer(
            pool,
            signals,
            pacing,
            receiver,
            Arc::clone(&waiting),
        ));
        Intake { requests, waiting }
    }
}

/// Take the requests waiting, up to [`BATCH_MESSAGES`] messages, whenever a transaction may
/// start, and write each such batch in a task of its own.
async fn committer(
    pool: PgPool,
    signals: Arc<Signals>,
    pacing: Arc<Pacing>,
    mut requests: mpsc::UnboundedReceiver<Pending>,
    waiting: Arc<AtomicUsize>,
) {
    let slots = Arc::new(Semaphore::new(SLOTS as usize));
    loop {
        // Two slots first (a small batch's): while too few are free, requests gather for the
        // next batch.
        let Ok(mut slot) = Arc::clone(&slots).acquire_many_owned(2).await else {
            return;
        };
        let Some(first) = requests.recv().await else {
            return;
        };
        let mut messages = first.messages.len();
        let mut batch = vec![first];
        while messages < BATCH_MESSAGES
            && let Ok(more) = requests.try_recv()
        {
            messages += more.messages.len();
            batch.push(more);
        }
        if messages >= BIG_BATCH {
            // A big batch holds one slot only.
            drop(slot.split(1));
        }
        waiting.fetch_sub(messages, Ordering::Relaxed);
        pacing.intake_ran(batch.len(), messages);
        let pool = pool.clone();
        let signals = Arc::clone(&signals);
        tokio::spawn(async move {
            commit(&pool, &signals, batch).await;
            drop(slot);
        });
    }
}

/// Write `batch` in one transaction and answer each request (see the module's comment).
async fn commit(pool: &PgPool, signals: &Signals, batch: Vec<Pending>) {
    let started = std::time::Instant::now();
    match write(pool, &batch).await {
        Ok(outcomes) => {
            tern_core::metrics::store_commit(started.elapsed(), batch.len());
            if outcomes.iter().any(Result::is_ok) {
                signals.wrote(WorkSignal::Dispatch);
            }
            for (pending, outcome) in batch.into_iter().zip(outcomes) {
                // A caller that went away is not waiting for its answer.
                let _ = pending.answer.send(outcome);
            }
        }
        Err(sqlx::Error::Database(_)) if batch.len() > 1 => {
            for pending in batch {
                let outcome = match write(pool, std::slice::from_ref(&pending)).await {
                    Ok(mut outcomes) => outcomes.pop().unwrap_or(Ok(())),
                    Err(error) => Err(backend_error(error).into()),
                };
                if outcome.is_ok() {
                    signals.wrote(WorkSignal::Dispatch);
                }
                let _ = pending.answer.send(outcome);
            }
        }
        Err(error) => {
            let error = backend_error(error);
            for pending in batch {
                let _ = pending.answer.send(Err(error.clone().into()));
            }
        }
    }
}

/// Write `batch` in one transaction: what each request comes to, in order, once committed.
async fn write(pool: &PgPool, batch: &[Pending]) -> sqlx::Result<Vec<Result<(), AcceptError>>> {
    // Nothing to decide when no request is charged or keyed: one statement, committed on its
    // own (one round trip to the server). The messages' foreign key on their account is the
    // only check; when it fails (an account gone), nothing was written and the transaction
    // below says which request it was.
    if batch
        .iter()
        .all(|pending| pending.charge.is_none() && pending.key.is_none())
    {
        let messages: Vec<&NewMessage> = batch
            .iter()
            .flat_map(|pending| pending.messages.iter())
            .collect();
        let mut connection = pool.acquire().await?;
        match insert_messages(&mut connection, &messages, &[]).await {
            Ok(()) => return Ok(batch.iter().map(|_| Ok(())).collect()),
            Err(sqlx::Error::Database(_)) => {}
            Err(error) => return Err(error),
        }
    }
    let mut transaction = pool.begin().await?;
    // The accounts to debit, locked in id order; the others only read.
    let charged: BTreeSet<AccountId> = batch
        .iter()
        .filter(|pending| pending.charge.is_some())
        .map(|pending| pending.account)
        .collect();
    let read: BTreeSet<AccountId> = batch
        .iter()
        .map(|pending| pending.account)
        .filter(|account| !charged.contains(account))
        .collect();
    let mut balances: HashMap<AccountId, Option<i64>> = HashMap::new();
    if !charged.is_empty() {
        let rows: Vec<(AccountId, Option<i64>)> = sqlx::query_as(
            "SELECT id, balance_micros FROM accounts WHERE id = ANY($1) ORDER BY id
             FOR NO KEY UPDATE",
        )
        .bind(charged.iter().copied().collect::<Vec<_>>())
        .fetch_all(&mut *transaction)
        .await?;
        balances.extend(rows);
    }
    if !read.is_empty() {
        let rows: Vec<(AccountId, Option<i64>)> =
            sqlx::query_as("SELECT id, balance_micros FROM accounts WHERE id = ANY($1)")
                .bind(read.iter().copied().collect::<Vec<_>>())
                .fetch_all(&mut *transaction)
                .await?;
        balances.extend(rows);
    }

    // The idempotency keys, claimed before anything is decided: a key another request holds
    // (committed, or in a transaction this one waits for) refuses its request.
    let claimed = claim_keys(&mut transaction, batch, &balances).await?;
    let mut unclaim: Vec<(AccountId, &str)> = Vec::new();

    // Each request's debit, in turn, on what the ones before it left.
    let mut debited: HashMap<AccountId, i64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut accepted: Vec<&NewMessage> = Vec::new();
    for (index, pending) in batch.iter().enumerate() {
        let Some(stored) = balances.get_mut(&pending.account) else {
            outcomes.push(Err(StoreError::Conflict(format!(
                "no account {}",
                pending.account
            ))
            .into()));
            continue;
        };
        if pending.key.is_some() && !claimed.contains(&index) {
            outcomes.push(Err(AcceptError::KeyTaken));
            continue;
        }
        if let (Some(price), Some(balance)) = (pending.charge, stored.as_mut()) {
            let Some(left) = debit(Money(*balance), price) else {
                if let Some(key) = &pending.key {
                    unclaim.push((pending.account, key.key.as_str()));
                }
                outcomes.push(Err(AcceptError::InsufficientBalance));
                continue;
            };
            if left != Money(*balance) {
                *balance = left.micros();
                debited.insert(pending.account, left.micros());
            }
        }
        accepted.extend(pending.messages.iter());
        outcomes.push(Ok(()));
    }
    if accepted.is_empty() {
        // Nothing to write: ended now, not when the connection is next used (it holds locks).
        transaction.rollback().await?;
        return Ok(outcomes);
    }
    if !unclaim.is_empty() {
        let (accounts, keys): (Vec<AccountId>, Vec<&str>) = unclaim.into_iter().unzip();
        sqlx::query(
            "DELETE FROM idempotency_keys USING UNNEST($1::bigint[], $2::text[]) AS k(id, key)
             WHERE idempotency_keys.account_id = k.id AND idempotency_keys.key = k.key",
        )
        .bind(accounts)
        .bind(keys)
        .execute(&mut *transaction)
        .await?;
    }
    let debited: Vec<(AccountId, i64)> = debited.into_iter().collect();
    insert_messages(&mut transaction, &accepted, &debited).await?;
    transaction.commit().await?;
    Ok(outcomes)
}

/// Store the idempotency keys of `batch` (of requests whose account exists), in (account, key)
/// order so that transactions on several nodes never wait for each other in a cycle: the
/// positions in `batch` of the requests whose key was stored. A key stored already and still
/// remembered is not (the unique key decides between transactions: one that another running
/// transaction inserted waits for it to end); one forgotten is replaced. A key given twice in
/// `batch` is claimed by its first request.
async fn claim_keys(
    transaction: &mut sqlx::PgConnection,
    batch: &[Pending],
    accounts: &HashMap<AccountId, Option<i64>>,
) -> sqlx::Result<HashSet<usize>> {
    let mut keyed: Vec<(AccountId, &KeyRecord, usize)> = Vec::new();
    let mut seen: HashSet<(AccountId, &str)> = HashSet::new();
    for (index, pending) in batch.iter().enumerate() {
        if let Some(key) = &pending.key
            && accounts.contains_key(&pending.account)
            && seen.insert((pending.account, key.key.as_str()))
        {
            keyed.push((pending.account, key, index));
        }
    }
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    keyed.sort_by(|a, b| (a.0, a.1.key.as_str()).cmp(&(b.0, b.1.key.as_str())));
    let lifetime =
        keyed[0].1.created_at.as_millisecond() - keyed[0].1.replaces_before().as_millisecond();
    let stored: Vec<(AccountId, String)> = sqlx::query_as(
        "INSERT INTO idempotency_keys (account_id, key, request_hash, status, content_type, body,
             created_at)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::integer[], $5::text[],
             $6::bytea[], $7::bigint[])
         ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash,
             status = excluded.status, content_type = excluded.content_type,
             body = excluded.body, created_at = excluded.created_at
             WHERE idempotency_keys.created_at < excluded.created_at - $8
         RETURNING account_id, key",
    )
    .bind(keyed.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keyed.iter().map(|k| k.1.key.as_str()).collect::<Vec<_>>())
    .bind(
        keyed
            .iter()
            .map(|k| k.1.request_hash.0.to_vec())
            .collect::<Vec<_>>(),
    )
    .bind(
        keyed
            .iter()
            .map(|k| i32::from(k.1.reply.status))
            .collect::<Vec<_>>(),
    )
    .bind(
        keyed
            .iter()
            .map(|k| k.1.reply.content_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        keyed
            .iter()
            .map(|k| k.1.reply.body.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        keyed
            .iter()
            .map(|k| millis(k.1.created_at))
            .collect::<Vec<_>>(),
    )
    .bind(lifetime)
    .fetch_all(&mut *transaction)
    .await?;
    let stored: HashSet<(AccountId, &str)> = stored
        .iter()
        .map(|(account, key)| (*account, key.as_str()))
        .collect();
    Ok(keyed
        .iter()
        .filter(|(account, key, _)| stored.contains(&(*account, key.key.as_str())))
        .map(|(_, _, index)| *index)
        .collect())
}

#[async_trait]
impl IntakeStore for PgStore {
    async fn accept(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        self.queue_intake(account, charge, messages, None).await
    }

    async fn accept_once(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
        key: KeyRecord,
    ) -> Result<(), AcceptError> {
        self.queue_intake(account, charge, messages, Some(key))
            .await
    }

    async fn key_record(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        since: Timestamp,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let row: Option<(Vec<u8>, i32, String, Vec<u8>, i64)> = within(async {
            sqlx::query_as(
                "SELECT request_hash, status, content_type, body, created_at
                 FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND created_at >= $3",
            )
            .bind(account)
            .bind(key.as_str())
            .bind(millis(since))
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await?;
        Ok(
            row.map(|(hash, status, content_type, body, created_at)| KeyRecord {
                key: key.clone(),
                request_hash: RequestHash(hash.try_into().unwrap_or([0; 32])),
                reply: Reply {
                    status: u16::try_from(status).unwrap_or(500),
                    content_type,
                    body,
                },
                created_at: timestamp(created_at),
            }),
        )
    }

    async fn forget_keys(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM idempotency_keys WHERE ctid IN (
                 SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
        )
        .bind(millis(before))
        .bind(limit as i64)
        .execute(self.pool())
        .await
        .map_err(backend_error)?
        .rows_affected();
        Ok(deleted as usize)
    }

    fn intake_waiting(&self) -> usize {
        self.intake().waiting.load(Ordering::Relaxed)
    }
}

impl PgStore {
    /// Hand a request to the committer (see the module's comment) and wait for its answer.
    async fn queue_intake(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
        key: Option<KeyRecord>,
    ) -> Result<(), AcceptError> {
        let intake = self.intake();
        let count = messages.len();
        let (answer, answered) = oneshot::channel();
        intake.waiting.fetch_add(count, Ordering::Relaxed);
        let pending = Pending {
            account,
            charge,
            messages,
            key,
            answer,
        };
        if intake.requests.send(pending).is_err() {
            intake.waiting.fetch_sub(count, Ordering::Relaxed);
            return Err(StoreError::Backend("the intake committer stopped".into()).into());
        }
        // Bounded: a submission is answered within 35 seconds whatever the database does (a
        // transaction still running past the bound may yet commit: answered 500, reported once).
        within(async {
            answered.await.unwrap_or_else(|_| {
                Err(
                    StoreError::Backend("the intake committer stopped mid-transaction".into())
                        .into(),
                )
            })
        })
        .await
    }
}

/// Insert accepted messages, queued and due at once, with one statement (one round trip to the
/// server): the contents, the messages and their queue rows, and the balances their debits
/// left (account, micros; none for accounts without a balance). Messages that share one [`Content`]
/// in memory (the recipients of one `msg`) share one `contents` row; each new row's id is taken
/// from the table's sequence, and each message finds its content's by the content's position in
/// the request.
const INSERT_MESSAGES: &str = "WITH content_ids AS (
        SELECT position, nextval(pg_get_serial_sequence('contents', 'id')) AS id
        FROM generate_series(1, cardinality($1::text[])) AS position
    ), new_contents AS (
        INSERT INTO contents (id, sender, body, body_type, dcs, app_key, rich_content,
            custom_grouping1, custom_grouping2, custom_grouping3, udh)
        SELECT i.id, c.sender, c.body, c.body_type, c.dcs, c.app_key, c.rich_content, c.g1, c.g2,
            c.g3, c.udh
        FROM UNNEST($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::bytea[]) WITH ORDINALITY
            AS c(sender, body, body_type, dcs, app_key, rich_content, g1, g2, g3, udh, position)
        JOIN content_ids i ON i.position = c.position
    ), new_messages AS (
        INSERT INTO messages (id, account_id, recipient, content_id, parts, reference, channels,
            accepted_at, valid_until, price_micros, source, smpp_registered_delivery, segment_ref,
            segment_total, segment_seq, state, channel_index, attempt, events)
        SELECT m.id, m.account_id, m.recipient, i.id, m.parts, m.reference, m.channels,
            m.accepted_at, m.valid_until, m.price_micros, m.source, m.registered_delivery,
            m.segment_ref, m.segment_total, m.segment_seq, 'queued', 0, 0, 0
        FROM UNNEST($11::uuid[], $12::bigint[], $13::text[], $14::bigint[], $15::integer[],
            $16::text[], $17::text[], $18::bigint[], $19::bigint[], $20::bigint[], $21::text[],
            $22::integer[], $23::integer[], $24::integer[], $25::integer[])
            AS m(id, account_id, recipient, content, parts, reference, channels, accepted_at,
                valid_until, price_micros, source, registered_delivery, segment_ref, segment_total,
                segment_seq)
        JOIN content_ids i ON i.position = m.content
    ), debits AS (
        UPDATE accounts SET balance_micros = d.left_micros
        FROM UNNEST($26::bigint[], $27::bigint[]) AS d(id, left_micros)
        WHERE accounts.id = d.id
    )
    INSERT INTO queue (message_id, due_at) SELECT * FROM UNNEST($11::uuid[], $18::bigint[])";

/// Write accepted messages with [`INSERT_MESSAGES`].
async fn insert_messages(
    connection: &mut sqlx::PgConnection,
    messages: &[&NewMessage],
    debited: &[(AccountId, i64)],
) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Each distinct content, in the order first met, and each message's (its position, from 1).
    // By address: a raw pointer would make the future not `Send`.
    let mut index_of: HashMap<usize, i64> = HashMap::with_capacity(messages.len());
    let mut new_contents: Vec<&Content> = Vec::new();
    let content_of: Vec<i64> = messages
        .iter()
        .map(|message| {
            *index_of
                .entry(Arc::as_ptr(&message.content) as usize)
                .or_insert_with(|| {
                    new_contents.push(&message.content);
                    new_contents.len() as i64
                })
        })
        .collect();
    let column = |get: fn(&Content) -> Option<String>| -> Vec<Option<String>> {
        new_contents.iter().map(|content| get(content)).collect()
    };
    let senders: Vec<&str> = new_contents
        .iter()
        .map(|content| content.from.as_str())
        .collect();
    let bodies: Vec<&str> = new_contents
        .iter()
        .map(|content| content.body.as_str())
        .collect();
    let dcs: Vec<Option<i32>> = new_contents
        .iter()
        .map(|content| content.dcs.map(i32::from))
        .collect();
    let udh: Vec<Option<Vec<u8>>> = new_contents
        .iter()
        .map(|content| content.udh.clone())
        .collect();

    let count = messages.len();
    let mut ids = Vec::with_capacity(count);
    let mut accounts = Vec::with_capacity(count);
    let mut recipients = Vec::with_capacity(count);
    let mut parts = Vec::with_capacity(count);
    let mut references = Vec::with_capacity(count);
    let mut channels = Vec::with_capacity(count);
    let mut accepted_at = Vec::with_capacity(count);
    let mut valid_until = Vec::with_capacity(count);
    let mut prices = Vec::with_capacity(count);
    let mut sources = Vec::with_capacity(count);
    let mut registered_delivery = Vec::with_capacity(count);
    let mut segment_refs = Vec::with_capacity(count);
    let mut segment_totals = Vec::with_capacity(count);
    let mut segment_seqs = Vec::with_capacity(count);
    for message in messages {
        ids.push(message.id.0);
        accounts.push(message.account_id);
        recipients.push(message.recipient.as_str());
        parts.push(message.parts as i32);
        references.push(message.reference.as_deref());
        channels.push(Channel::join(&message.channels));
        // Due at once: from its acceptance.
        accepted_at.push(millis(message.accepted_at));
        valid_until.push(millis(message.valid_until));
        prices.push(message.price.micros());
        sources.push(message.source.as_str());
        registered_delivery.push(i32::from(message.smpp_registered_delivery));
        segment_refs.push(message.segment.map(|s| i32::from(s.reference)));
        segment_totals.push(message.segment.map(|s| i32::from(s.total)));
        segment_seqs.push(message.segment.map(|s| i32::from(s.seq)));
    }
    sqlx::query(INSERT_MESSAGES)
        .bind(senders)
        .bind(bodies)
        .bind(column(|c| c.body_type.clone()))
        .bind(dcs)
        .bind(column(|c| c.app_key.clone()))
        .bind(column(|c| c.rich_content.clone()))
        .bind(column(|c| c.custom_groupings[0].clone()))
        .bind(column(|c| c.custom_groupings[1].clone()))
        .bind(column(|c| c.custom_groupings[2].clone()))
        .bind(udh)
        .bind(ids)
        .bind(accounts)
        .bind(recipients)
        .bind(content_of)
        .bind(parts)
        .bind(references)
        .bind(channels)
        .bind(accepted_at)
        .bind(valid_until)
        .bind(prices)
        .bind(sources)
        .bind(registered_delivery)
        .bind(segment_refs)
        .bind(segment_totals)
        .bind(segment_seqs)
        .bind(
            debited
                .iter()
                .map(|(account, _)| *account)
                .collect::<Vec<_>>(),
        )
        .bind(debited.iter().map(|(_, left)| *left).collect::<Vec<_>>())
        .execute(connection)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What group commit adds to the conformance suite's guarantees: requests written together
    //! still succeed or fail alone.

    use std::sync::Arc;

    use jiff::{SignedDuration, Timestamp};
    use tern_core::account::{NewAccount, ProductToken, ReportFormat};
    use tern_core::error_code::Surface;
    use tern_core::message::MessageId;
    use tern_core::ports::{AccountStore, NodeId};
    use tern_testkit::postgres::PgCluster;

    use super::*;

    fn message(account: AccountId, now: Timestamp) -> NewMessage {
        NewMessage {
            id: MessageId::generate(),
            account_id: account,
            recipient: "0031612345678".into(),
            content: Content {
                from: "Tern".into(),
                body: "Hello".into(),
                body_type: None,
                dcs: None,
                app_key: None,
                rich_content: None,
                custom_groupings: [None, None, None],
                udh: None,
            }
            .into(),
            parts: 1,
            reference: None,
            channels: vec![Channel::Sms],
            accepted_at: now,
            valid_until: now + SignedDuration::from_hours(24),
            price: Money(10),
            source: Surface::Json,
            smpp_registered_delivery: 0,
            segment: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_fails_in_a_shared_transaction_fails_alone() {
        let url = PgCluster::shared().create_database();
        let store = Arc::new(PgStore::open(&url, NodeId::new("a")).unwrap());
        let account = store
            .create_account(NewAccount {
                name: "acme".into(),
                token_hash: ProductToken::generate().hash(),
                balance: Some(Money(1_000)),
                status_url: None,
                status_format: ReportFormat::Json,
                inbound_url: None,
                inbound_numbers: Vec::new(),
                channels: Channel::ALL.to_vec(),
                smpp: None,
                webhook_secret: None,
            })
            .await
            .unwrap()
            .id;
        let now = Timestamp::now();
        let stored = message(account, now);
        store
            .accept(account, Some(Money(10)), vec![stored.clone()])
            .await
            .unwrap();
        // Many requests at once (taken together, mostly), one of them with an id already taken.
        let mut requests = Vec::new();
        for n in 0..40 {
            let store = Arc::clone(&store);
            let messages = if n == 20 {
                vec![message(account, now), stored.clone()]
            } else {
                vec![message(account, now)]
            };
            let charge = Money(10 * messages.len() as i64);
            requests.push(tokio::spawn(async move {
                (n, store.accept(account, Some(charge), messages).await)
            }));
        }
        for request in requests {
            match request.await.unwrap() {
                (20, answer) => assert!(
                    matches!(answer, Err(AcceptError::Store(StoreError::Conflict(_)))),
                    "{answer:?}"
                ),
                (n, answer) => assert_eq!(answer, Ok(()), "request {n}"),
            }
        }
        assert_eq!(store.intake_waiting(), 0);
        // The 39 that succeeded are stored and paid for; the failed one neither.
        let (messages, queued, balance): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM queue),
                (SELECT balance_micros FROM accounts WHERE id = $1)",
        )
        .bind(account)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!((messages, queued, balance), (40, 40, Some(1_000 - 400)));
    }
}
