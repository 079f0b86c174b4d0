//! [`RateStore`] on PostgreSQL: one row per account in `rate_buckets`, read and written under
//! its row lock in one transaction, so that takes from several nodes are counted one after the
//! other; what a take leaves is `tern_core::rate::take_stored`'s decision.

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::Row;
use tern_core::account::AccountId;
use tern_core::ports::{RateStore, StoreError};
use tern_core::rate::{StoredBucket, take_stored};

use super::{PgStore, backend_error, millis, within};

#[async_trait]
impl RateStore for PgStore {
    async fn take_rate(
        &self,
        account: AccountId,
        rate: NonZeroU32,
        parts: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // The row exists (and is locked) from here on, whoever made it first.
            sqlx::query(
                "INSERT INTO rate_buckets (account_id, tokens, at) VALUES ($1, $2, $3)
                 ON CONFLICT (account_id) DO NOTHING",
            )
            .bind(account)
            .bind(f64::from(rate.get()))
            .bind(millis(now))
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?;
            let row =
                sqlx::query("SELECT tokens, at FROM rate_buckets WHERE account_id = $1 FOR UPDATE")
                    .bind(account)
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(backend_error)?;
            let stored = StoredBucket {
                tokens: row.try_get(0).map_err(backend_error)?,
                at_ms: row.try_get(1).map_err(backend_error)?,
            };
            let (taken, bucket) = take_stored(Some(stored), rate.get(), parts, millis(now));
            sqlx::query("UPDATE rate_buckets SET tokens = $2, at = $3 WHERE account_id = $1")
                .bind(account)
                .bind(bucket.tokens)
                .bind(bucket.at_ms)
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(taken)
        })
        .await
    }
}
