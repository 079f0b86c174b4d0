//! The [`BlocklistStore`] role on SQLite: one row per number on a list (`blocklist`, keyed by
//! the list's scope key, `tern_core::blocklist::BlockScope::key`, and the number).

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use tern_core::account::AccountId;
use tern_core::blocklist::{BlockScope, BlockedNumber, OptOutKeywords};
use tern_core::ports::{BlocklistStore, StoreError};

use super::rows::{millis, timestamp};
use super::{SqliteStore, backend_error};

/// Put `number` on `scope`'s list at `at` (a number already on it keeps its time); whether it
/// was not on it before. Also used by inbound opt-outs, in their transaction.
pub(super) fn block_number(
    connection: &Connection,
    scope: BlockScope,
    number: &str,
    at: Timestamp,
) -> rusqlite::Result<bool> {
    let added = connection
        .prepare_cached(
            "INSERT INTO blocklist (scope, number, blocked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (scope, number) DO NOTHING",
        )?
        .execute(params![scope.key(), number, millis(at)])?;
    Ok(added > 0)
}

/// Take `number` off `scope`'s list; whether it was on it.
pub(super) fn unblock_number(
    connection: &Connection,
    scope: BlockScope,
    number: &str,
) -> rusqlite::Result<bool> {
    let removed = connection
        .prepare_cached("DELETE FROM blocklist WHERE scope = ?1 AND number = ?2")?
        .execute(params![scope.key(), number])?;
    Ok(removed > 0)
}

impl SqliteStore {
    /// The opt-out keywords inbound messages are judged by now.
    pub(super) fn opt_out_keywords(&self) -> Arc<OptOutKeywords> {
        Arc::clone(&self.opt_out.read().expect("opt-out keywords"))
    }
}

#[async_trait]
impl BlocklistStore for SqliteStore {
    async fn block(
        &self,
        scope: BlockScope,
        numbers: Vec<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let mut added = 0;
                for number in &numbers {
                    if block_number(connection, scope, number, now).map_err(backend_error)? {
                        added += 1;
                    }
                }
                Ok::<_, StoreError>(added)
            })
            .await
    }

    async fn unblock(&self, scope: BlockScope, numbers: Vec<String>) -> Result<u64, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let mut removed = 0;
                for number in &numbers {
                    if unblock_number(connection, scope, number).map_err(backend_error)? {
                        removed += 1;
                    }
                }
                Ok::<_, StoreError>(removed)
            })
            .await
    }

    async fn blocked_numbers(
        &self,
        scope: Option<BlockScope>,
    ) -> Result<Vec<BlockedNumber>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT scope, number, blocked_at FROM blocklist
                 WHERE ?1 IS NULL OR scope = ?1 ORDER BY scope, number",
            )?;
            statement
                .query_map(params![scope.map(BlockScope::key)], |row| {
                    Ok(BlockedNumber {
                        scope: BlockScope::from_key(row.get(0)?),
                        number: row.get(1)?,
                        blocked_at: timestamp(row.get(2)?),
                    })
                })?
                .collect()
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
        let numbers = serde_json::to_string(&numbers).expect("numbers serialize");
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT DISTINCT number FROM blocklist
                 WHERE scope IN (0, ?1) AND number IN (SELECT value FROM json_each(?2))",
            )?;
            statement
                .query_map(params![account, numbers], |row| row.get(0))?
                .collect()
        })
        .await
    }

    async fn blocklist_version(&self) -> Result<i64, StoreError> {
        self.read(|connection| {
            connection
                .prepare_cached("SELECT version FROM blocklist_version WHERE id = 1")?
                .query_row([], |row| row.get(0))
        })
        .await
    }

    fn set_opt_out_keywords(&self, keywords: OptOutKeywords) {
        *self.opt_out.write().expect("opt-out keywords") = Arc::new(keywords);
    }
}
