//! The [`IntakeStore`] role on PostgreSQL: accepted messages into the queue, and the balance
//! debit, in one transaction per request. The account's row is locked while its balance is read
//! (`FOR NO KEY UPDATE`: requests without a charge, which only refer to the account, go on), so
//! requests racing on one balance, on one node or several, are decided one after the other. Rows
//! go in with one statement per table (`UNNEST` of arrays), whatever the request's size.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tern_core::account::AccountId;
use tern_core::channel::Channel;
use tern_core::message::{Content, NewMessage};
use tern_core::money::{Money, debit};
use tern_core::ports::{AcceptError, IntakeStore, StoreError};

use super::{PgStore, backend_error, millis};

#[async_trait]
impl IntakeStore for PgStore {
    async fn accept(
        &self,
        account: AccountId,
        charge: Option<Money>,
        messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        let mut transaction = self.pool().begin().await.map_err(backend_error)?;
        // Locked only when it is to be debited: without a charge, the balance is not read.
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
            return Err(StoreError::Conflict(format!("no account {account}")).into());
        };
        if let (Some(price), Some(balance)) = (charge, balance) {
            let left = debit(Money(balance), price).ok_or(AcceptError::InsufficientBalance)?;
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
        Ok(())
    }
}

/// Insert accepted messages, queued and due at once. Messages that share one [`Content`] in
/// memory (the recipients of one `msg`) share one `contents` row, whose ids are taken from the
/// table's sequence first.
async fn insert_messages(
    connection: &mut sqlx::PgConnection,
    messages: &[NewMessage],
) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Each distinct content, in the order first met.
    // By address: a raw pointer would make the future not `Send`.
    let mut index_of: HashMap<usize, usize> = HashMap::with_capacity(messages.len());
    let mut new_contents: Vec<&Content> = Vec::new();
    let content_index: Vec<usize> = messages
        .iter()
        .map(|message| {
            *index_of
                .entry(Arc::as_ptr(&message.content) as usize)
                .or_insert_with(|| {
                    new_contents.push(&message.content);
                    new_contents.len() - 1
                })
        })
        .collect();
    let content_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('contents', 'id')) FROM generate_series(1, $1)",
    )
    .bind(new_contents.len() as i64)
    .fetch_all(&mut *connection)
    .await?;
    if content_ids.len() != new_contents.len() {
        return Err(sqlx::Error::Protocol(
            "the contents sequence gave fewer ids than asked".into(),
        ));
    }
    let column = |get: fn(&Content) -> Option<String>| -> Vec<Option<String>> {
        new_contents.iter().map(|content| get(content)).collect()
    };
    sqlx::query(
        "INSERT INTO contents (id, sender, body, body_type, dcs, app_key, rich_content,
             custom_grouping1, custom_grouping2, custom_grouping3, udh)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[],
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[])",
    )
    .bind(&content_ids)
    .bind(column(|c| Some(c.from.clone())))
    .bind(column(|c| Some(c.body.clone())))
    .bind(column(|c| c.body_type.clone()))
    .bind(
        new_contents
            .iter()
            .map(|content| content.dcs.map(i32::from))
            .collect::<Vec<_>>(),
    )
    .bind(column(|c| c.app_key.clone()))
    .bind(column(|c| c.rich_content.clone()))
    .bind(column(|c| c.custom_groupings[0].clone()))
    .bind(column(|c| c.custom_groupings[1].clone()))
    .bind(column(|c| c.custom_groupings[2].clone()))
    .bind(
        new_contents
            .iter()
            .map(|content| content.udh.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *connection)
    .await?;

    let count = messages.len();
    let mut ids = Vec::with_capacity(count);
    let mut accounts = Vec::with_capacity(count);
    let mut recipients = Vec::with_capacity(count);
    let mut contents = Vec::with_capacity(count);
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
    for (message, &content) in messages.iter().zip(&content_index) {
        ids.push(message.id.0);
        accounts.push(message.account_id);
        recipients.push(message.recipient.as_str());
        contents.push(content_ids[content]);
        parts.push(message.parts as i32);
        references.push(message.reference.as_deref());
        channels.push(Channel::join(&message.channels));
        accepted_at.push(millis(message.accepted_at));
        valid_until.push(millis(message.valid_until));
        prices.push(message.price.micros());
        sources.push(message.source.as_str());
        registered_delivery.push(i32::from(message.smpp_registered_delivery));
        segment_refs.push(message.segment.map(|s| i32::from(s.reference)));
        segment_totals.push(message.segment.map(|s| i32::from(s.total)));
        segment_seqs.push(message.segment.map(|s| i32::from(s.seq)));
    }
    sqlx::query(
        "INSERT INTO messages (id, account_id, recipient, content_id, parts, reference, channels,
             accepted_at, valid_until, price_micros, source, smpp_registered_delivery,
             segment_ref, segment_total, segment_seq, state, channel_index, attempt, events)
         SELECT *, 'queued', 0, 0, 0 FROM UNNEST($1::uuid[], $2::bigint[], $3::text[],
             $4::bigint[], $5::integer[], $6::text[], $7::text[], $8::bigint[], $9::bigint[],
             $10::bigint[], $11::text[], $12::integer[], $13::integer[], $14::integer[],
             $15::integer[])",
    )
    .bind(&ids)
    .bind(accounts)
    .bind(recipients)
    .bind(contents)
    .bind(parts)
    .bind(references)
    .bind(channels)
    .bind(&accepted_at)
    .bind(valid_until)
    .bind(prices)
    .bind(sources)
    .bind(registered_delivery)
    .bind(segment_refs)
    .bind(segment_totals)
    .bind(segment_seqs)
    .execute(&mut *connection)
    .await?;
    // Due at once: from its acceptance.
    sqlx::query(
        "INSERT INTO queue (message_id, due_at)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[])",
    )
    .bind(ids)
    .bind(accepted_at)
    .execute(connection)
    .await?;
    Ok(())
}
