//! The [`StoreDepths`] role on PostgreSQL: counts over the hot `queue` table (its `queue_due`
//! index; finished messages have left it) and the `outbox`.

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::ports::{StoreDepths, StoreError};

use super::{PgStore, backend_error, millis, within_background};

#[async_trait]
impl StoreDepths for PgStore {
    async fn due_messages(&self, now: Timestamp) -> Result<u64, StoreError> {
        within_background(async {
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM queue WHERE due_at <= $1")
                .bind(millis(now))
                .fetch_one(self.pool())
                .await
                .map_err(backend_error)?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    async fn waiting_entries(&self) -> Result<u64, StoreError> {
        within_background(async {
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(self.pool())
                .await
                .map_err(backend_error)?;
            Ok(count.max(0) as u64)
        })
        .await
    }
}
