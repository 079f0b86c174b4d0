//! The [`IntakeStore`] role on PostgreSQL: accepted messages into the queue.

use async_trait::async_trait;
use tern_core::account::AccountId;
use tern_core::message::NewMessage;
use tern_core::money::Money;
use tern_core::ports::{AcceptError, IntakeStore};

use super::{PgStore, not_yet};

#[async_trait]
impl IntakeStore for PgStore {
    async fn accept(
        &self,
        _account: AccountId,
        _charge: Option<Money>,
        _messages: Vec<NewMessage>,
    ) -> Result<(), AcceptError> {
        Err(not_yet("accept").into())
    }
}
