//! [`ClusterStore`] on PostgreSQL: the `nodes` table holds each node's last heartbeat; a node
//! whose heartbeat is older than a lease is dead, and the first live node to notice releases
//! what it held (its rows of `queue` and `outbox`) in one transaction, so its work is claimed
//! again by whichever node comes first.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tern_core::ports::{ClusterStore, NodeId, StoreError, WorkSignal};

use super::{PgStore, backend_error, millis};

#[async_trait]
impl ClusterStore for PgStore {
    async fn heartbeat(&self, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(self.node().as_str())
        .bind(millis(now))
        .execute(self.pool())
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn live_nodes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Vec<NodeId>, StoreError> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT id FROM nodes WHERE heartbeat_at >= $1 ORDER BY id")
                .bind(millis(now - lease))
                .fetch_all(self.pool())
                .await
                .map_err(backend_error)?;
        Ok(names.into_iter().map(NodeId::new).collect())
    }

    async fn take_over_dead_nodes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Vec<(NodeId, u64)>, StoreError> {
        let mut transaction = self.pool().begin().await.map_err(backend_error)?;
        // Locked, and skipped when another node is taking them over at this moment.
        let dead: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM nodes WHERE heartbeat_at < $1 AND id <> $2
             ORDER BY id FOR UPDATE SKIP LOCKED",
        )
        .bind(millis(now - lease))
        .bind(self.node().as_str())
        .fetch_all(&mut *transaction)
        .await
        .map_err(backend_error)?;
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let mut taken = Vec::with_capacity(dead.len());
        for node in dead {
            let mut released = 0u64;
            for table in ["queue", "outbox"] {
                released += sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET due_at = $1, leased_by = NULL WHERE leased_by = $2"
                )))
                .bind(millis(now))
                .bind(&node)
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?
                .rows_affected();
            }
            sqlx::query("DELETE FROM nodes WHERE id = $1")
                .bind(&node)
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
            taken.push((NodeId::new(node), released));
        }
        transaction.commit().await.map_err(backend_error)?;
        if taken.iter().any(|(_, released)| *released > 0) {
            self.wrote(WorkSignal::Missed);
        }
        Ok(taken)
    }

    async fn leave(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(self.node().as_str())
            .execute(self.pool())
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
