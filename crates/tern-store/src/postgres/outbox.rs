//! The [`OutboxStore`] role on PostgreSQL: outbox entries claimed under leases in the name of
//! this node, one per ordering key at a time.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tern_core::outbox::{ClaimedEntry, EntryFilter, EntryId, OutboxKind, Outcome};
use tern_core::ports::{OutboxStore, StoreError};

use super::{PgStore, not_yet};

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_entries(
        &self,
        _now: Timestamp,
        _limit: usize,
        _lease: SignedDuration,
        _filter: &EntryFilter,
    ) -> Result<Vec<ClaimedEntry>, StoreError> {
        Err(not_yet("claim_entries"))
    }

    async fn finish_entries(&self, _outcomes: Vec<(EntryId, Outcome)>) -> Result<(), StoreError> {
        Err(not_yet("finish_entries"))
    }

    async fn next_entry_due(&self, _filter: &EntryFilter) -> Result<Option<Timestamp>, StoreError> {
        Err(not_yet("next_entry_due"))
    }

    async fn expire_entries(
        &self,
        _kind: OutboxKind,
        _created_before: Timestamp,
    ) -> Result<u64, StoreError> {
        Err(not_yet("expire_entries"))
    }
}
