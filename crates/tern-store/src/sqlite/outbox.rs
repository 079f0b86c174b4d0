//! The [`OutboxStore`] role on SQLite: status reports waiting to be delivered, claimed under
//! leases, one per message at a time.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use tern_core::ports::{OutboxStore, PendingReport, ReportOutcome, StoreError};

use super::rows::{self, millis, timestamp};
use super::{SqliteStore, backend_error};

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_reports(
        &self,
        now: Timestamp,
        limit: usize,
        lease: SignedDuration,
    ) -> Result<Vec<PendingReport>, StoreError> {
        let node = self.node.clone();
        self.writer
            .write(move |connection: &Connection| {
                let reports: Vec<PendingReport> = connection
                    .prepare_cached(
                        "SELECT r.id, r.message_id, r.report_id, r.url, r.content_type, r.body, r.attempts, r.created_at
                         FROM reports r
                         WHERE r.due_at <= ?1
                           AND r.id = (SELECT MIN(p.id) FROM reports p WHERE p.message_id = r.message_id)
                         ORDER BY r.due_at LIMIT ?2",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_map(params![millis(now), limit as i64], rows::pending_report_from_row)?
                            .collect()
                    })
                    .map_err(backend_error)?;
                for report in &reports {
                    connection
                        .prepare_cached("UPDATE reports SET due_at = ?2, attempts = attempts + 1, leased_by = ?3 WHERE id = ?1")
                        .and_then(|mut s| s.execute(params![report.id, millis(now + lease), node.as_str()]))
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(reports)
            })
            .await
    }

    async fn finish_reports(&self, outcomes: Vec<(i64, ReportOutcome)>) -> Result<(), StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let mut delete = connection
                    .prepare_cached("DELETE FROM reports WHERE id = ?1")
                    .map_err(backend_error)?;
                let mut retry = connection
                    .prepare_cached(
                        "UPDATE reports SET due_at = ?2, leased_by = NULL WHERE id = ?1",
                    )
                    .map_err(backend_error)?;
                for (id, outcome) in &outcomes {
                    match outcome {
                        ReportOutcome::Delivered | ReportOutcome::GiveUp => {
                            delete.execute(params![id])
                        }
                        ReportOutcome::RetryAt(at) => retry.execute(params![id, millis(*at)]),
                    }
                    .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
    }

    async fn next_report_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(|connection| {
            connection.query_row("SELECT MIN(due_at) FROM reports", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
        })
        .await
        .map(|due| due.map(timestamp))
    }
}
