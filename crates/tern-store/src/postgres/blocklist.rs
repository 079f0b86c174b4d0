//! The [`BlocklistStore`] role on PostgreSQL: one row per number on a list (`blocklist`, keyed
//! by the list's scope key, `tern_core::blocklist::BlockScope::key`, and the number).

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::{PgConnection, Row};
use tern_core::account::AccountId;
use tern_core::blocklist::{BlockScope, BlockedNumber, OptOutKeywords};
use tern_core::ports::{BlocklistStore, StoreError};

use super::{PgStore, backend_error, millis, timestamp, within};

/// Put `number` on `scope`'s list at `at` (a number already on it keeps its time); whether it
/// was not on it before. Also used by inbound opt-outs, in their transaction.
pub(super) async fn block_number(
    connection: &mut PgConnection,
    scope: BlockScope,
    number: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO blocklist (scope, number, blocked_at) VALUES ($1, $2, $3)
         ON CONFLICT (scope, number) DO NOTHING",
    )
    .bind(scope.key())
    .bind(number)
    .bind(millis(at))
    .execute(&mut *connection)
    .await?;
    Ok(added.rows_affected() > 0)
}

/// Take `number` off `scope`'s list; whether it was on it.
pub(super) async fn unblock_number(
    connection: &mut PgConnection,
    scope: BlockScope,
    number: &str,
) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM blocklist WHERE scope = $1 AND number = $2")
        .bind(scope.key())
        .bind(number)
        .execute(&mut *connection)
        .await?;
    Ok(removed.rows_affected() > 0)
}

impl PgStore {
    /// The opt-out keywords inbound messages are judged by now.
    pub(super) fn opt_out_keywords(&self) -> Arc<OptOutKeywords> {
        Arc::clone(&self.opt_out.read().expect("opt-out keywords"))
    }
}

#[async_trait]
impl BlocklistStore for PgStore {
    async fn block(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let mut added = 0;
            for number in &numbers {
                if block_number(&mut transaction, scope, number, now)
                    .await
                    .map_err(backend_error)?
                {
                    added += 1;
                }
            }
            transaction.commit().await.map_err(backend_error)?;
            Ok(added)
        })
        .await
    }

    async fn unblock(&self, scope: BlockScope, numbers: Vec<String>) -> Result<u64, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let mut removed = 0;
            for number in &numbers {
                if unblock_number(&mut transaction, scope, number)
                    .await
                    .map_err(backend_error)?
                {
                    removed += 1;
                }
            }
            transaction.commit().await.map_err(backend_error)?;
            Ok(removed)
        })
        .await
    }

    async fn blocked_numbers(
        &self,
        scope: Option<BlockScope>,
    ) -> Result<Vec<BlockedNumber>, StoreError> {
        within(async {
            sqlx::query(
                "SELECT scope, number, blocked_at FROM blocklist
                 WHERE $1::BIGINT IS NULL OR scope = $1 ORDER BY scope, number",
            )
            .bind(scope.map(BlockScope::key))
            .try_map(|row: sqlx::postgres::PgRow| {
                Ok(BlockedNumber {
                    scope: BlockScope::from_key(row.try_get(0)?),
                    number: row.try_get(1)?,
                    blocked_at: timestamp(row.try_get(2)?),
                })
            })
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn blocked_among(
        &self,
        account: AccountId,
        numbers: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        within(async {
            sqlx::query_scalar(
                "SELECT DISTINCT number FROM blocklist
                 WHERE scope IN (0, $1) AND number = ANY($2)",
            )
            .bind(account)
            .bind(&numbers)
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn blocklist_version(&self) -> Result<i64, StoreError> {
        within(async {
            sqlx::query_scalar("SELECT version FROM blocklist_version WHERE id = 1")
                .fetch_one(self.pool())
                .await
                .map_err(backend_error)
        })
        .await
    }

    fn set_opt_out_keywords(&self, keywords: OptOutKeywords) {
        *self.opt_out.write().expect("opt-out keywords") = Arc::new(keywords);
    }
}
