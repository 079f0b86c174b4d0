//! The [`StoreDepths`] role on SQLite: counts over the due-time indexes (`messages_due`, whose
//! rows are the messages with a due time, and `outbox_due`), on a reader connection.

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::ports::{StoreDepths, StoreError};

use super::SqliteStore;
use super::rows::millis;

#[async_trait]
impl StoreDepths for SqliteStore {
    async fn due_messages(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.read(move |connection| {
            connection.query_row(
                "SELECT COUNT(*) FROM messages WHERE due_at IS NOT NULL AND due_at <= ?1",
                [millis(now)],
                |row| row.get::<_, i64>(0),
            )
        })
        .await
        .map(|count| count.max(0) as u64)
    }

    async fn waiting_entries(&self) -> Result<u64, StoreError> {
        self.read(|connection| {
            connection.query_row("SELECT COUNT(*) FROM outbox", [], |row| {
                row.get::<_, i64>(0)
            })
        })
        .await
        .map(|count| count.max(0) as u64)
    }
}
