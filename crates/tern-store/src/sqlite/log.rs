//! The [`MessageLogStore`] role on SQLite: the message log (what an account sent, and the
//! inbound messages it received) and conversions recorded on it.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use tern_core::account::AccountId;
use tern_core::funnel::Funnel;
use tern_core::inbound::InboundMessage;
use tern_core::message::{MessageFilter, MessageId, MessageRecord};
use tern_core::ports::{MessageLogStore, StoreError};

use super::rows::{self, millis};
use super::{SqliteStore, backend_error};

#[async_trait]
impl MessageLogStore for SqliteStore {
    async fn record_conversion(
        &self,
        account: AccountId,
        mut recipients: Vec<String>,
        reference: String,
        converted_at: Timestamp,
    ) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        // A form named twice names the same messages: each is counted and recorded once.
        recipients.sort_unstable();
        recipients.dedup();
        self.writer
            .write(move |connection: &Connection| {
                let mut recorded = 0;
                for recipient in &recipients {
                    recorded += connection
                        .prepare_cached(
                            "INSERT INTO conversions (message_id, converted_at, recorded_at)
                             SELECT id, ?4, ?5 FROM messages
                             WHERE account_id = ?1 AND reference = ?2 AND recipient = ?3",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                account,
                                reference,
                                recipient,
                                millis(converted_at),
                                millis(now)
                            ])
                        })
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(recorded)
            })
            .await
    }

    async fn messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.read(move |connection| rows::list_messages(connection, account, &filter))
            .await
    }

    async fn message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.read(move |connection| rows::message_record(connection, account, id))
            .await
    }

    async fn inbound_messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        self.read(move |connection| rows::list_inbound(connection, account, &filter))
            .await
    }

    async fn funnel(
        &self,
        account: AccountId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Funnel, StoreError> {
        self.read(move |connection| rows::funnel(connection, account, since, until))
            .await
    }
}
