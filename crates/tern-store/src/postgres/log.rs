//! The [`MessageLogStore`] role on PostgreSQL: what an account sent and what became of it.

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::account::AccountId;
use tern_core::inbound::InboundMessage;
use tern_core::message::{MessageFilter, MessageId, MessageRecord};
use tern_core::ports::{MessageLogStore, StoreError};

use super::{PgStore, not_yet};

#[async_trait]
impl MessageLogStore for PgStore {
    async fn record_conversion(
        &self,
        _account: AccountId,
        _recipients: Vec<String>,
        _reference: String,
        _converted_at: Timestamp,
    ) -> Result<usize, StoreError> {
        Err(not_yet("record_conversion"))
    }

    async fn messages(
        &self,
        _account: AccountId,
        _filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        Err(not_yet("messages"))
    }

    async fn message(
        &self,
        _account: AccountId,
        _id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Err(not_yet("message"))
    }

    async fn inbound_messages(
        &self,
        account: AccountId,
        filter: MessageFilter,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        super::inbound::inbound_messages(self, account, filter).await
    }
}
