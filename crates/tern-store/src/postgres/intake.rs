//! The [`IntakeStore`] role on PostgreSQL: accepted messages into the queue, and the balance
//! debit, in one transaction per request. The account's row is locked while its balance is read
//! (`FOR NO KEY UPDATE`: requests without a charge, which only refer to the account, go on), so
//! requests racing on one balance, on one node or several, are decided one after the other. The
//! rows go in with one statement (`UNNEST` of arrays), whatever the request's size.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError, WorkSignal};

use super::{PgStore, backend_error, millis, within};

#[async_trait]
impl IntakeStore for PgStore {
    async fn accept(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        // Bounded: a submission is answered within 35 seconds whatever the database does.
        within(self.accept_unbounded(account, charge, messages)).await
    }
}

impl PgStore {
    async fn accept_unbounded(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        let mut transaction = self.pool().begin().await.map_err(backend_error)?;
        // Locked only when it is to be debited: without a charge, only whether it exists counts.
        let read = if charge.is_some() {
            "SELECT balance_micros FROM accounts WHERE id = $1 FOR NO KEY UPDATE"
        } else {
            "SELECT balance_micros FROM accounts WHERE id = $1"
        };
        let stored: Option<Option<i64>> = sqlx::query_scalar(read)
            .bind(account)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(backend_error)?;
        let Some(balance) = stored else {
            transaction.rollback().await.map_err(backend_error)?;
            return Err(StoreError::Conflict(format!("no account {account}")).into());
        };
        if let (Some(price), Some(balance)) = (charge, balance) {
            let Some(left) = debit(Money(balance), price) else {
                // Ended now, not when the connection is next used: it holds the account's lock.
                transaction.rollback().await.map_err(backend_error)?;
                return Err(AcceptError::InsufficientBalance);
            };
            if left != Money(balance) {
                sqlx::query("UPDATE accounts SET balance_micros = $2 WHERE id = $1")
                    .bind(account)
                    .bind(left.micros())
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend_error)?;
            }
        }
        insert_messages(&mut transaction, &messages)
            .await
            .map_err(backend_error)?;
        transaction.commit().await.map_err(backend_error)?;
        self.wrote(WorkSignal::Dispatch);
        Ok(())
    }
}

/// Insert accepted messages, queued and due at once, with one statement (one round trip to the
/// server): the contents, the messages and their queue rows. Messages that share one [`Content`]
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
    )
    INSERT INTO queue (message_id, due_at) SELECT * FROM UNNEST($11::uuid[], $18::bigint[])";

/// Write accepted messages with [`INSERT_MESSAGES`].
async fn insert_messages(
    connection: &mut sqlx::PgConnection,
    messages: &[NewMessage],
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
        .execute(connection)
        .await?;
    Ok(())
}
