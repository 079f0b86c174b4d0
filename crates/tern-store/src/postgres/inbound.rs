//! The [`InboundStore`] role on PostgreSQL: inbound (MO) messages assembled, owned and queued
//! for their accounts' inbound URLs.

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::account::AccountId;
use tern_core::inbound::{InboundMessage, InboundPart, ProviderInbound};
use tern_core::message::{MessageFilter, MessageId};
use tern_core::ports::{InboundStore, StoreError};

use super::{PgStore, not_yet};

/// The message log's inbound messages ([`tern_core::ports::MessageLogStore::inbound_messages`]).
pub(super) async fn inbound_messages(
    _store: &PgStore,
    _account: AccountId,
    _filter: MessageFilter,
) -> Result<Vec<InboundMessage>, StoreError> {
    Err(not_yet("inbound_messages"))
}

#[async_trait]
impl InboundStore for PgStore {
    async fn accept_inbound(&self, _parts: Vec<InboundPart>) -> Result<(), StoreError> {
        Err(not_yet("accept_inbound"))
    }

    async fn accept_provider_inbound(
        &self,
        _messages: Vec<ProviderInbound>,
    ) -> Result<Vec<MessageId>, StoreError> {
        Err(not_yet("accept_provider_inbound"))
    }

    async fn flush_inbound_parts(&self, _older_than: Timestamp) -> Result<u64, StoreError> {
        Err(not_yet("flush_inbound_parts"))
    }

    async fn purge_unowned_inbound(&self, _older_than: Timestamp) -> Result<u64, StoreError> {
        Err(not_yet("purge_unowned_inbound"))
    }
}
