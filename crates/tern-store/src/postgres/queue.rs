//! The [`QueueStore`] role on PostgreSQL: due messages claimed under leases, events applied.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tern_core::account::AccountId;
use tern_core::dispatch::{CancelOutcome, Event, Next, ReplaceOutcome, Replacement};
use tern_core::message::MessageId;
use tern_core::ports::{AwaitingReport, Dispatch, QueueStore, SentPart, StoreError};

use super::{PgStore, not_yet};

#[async_trait]
impl QueueStore for PgStore {
    async fn claim_due(
        &self,
        _now: Timestamp,
        _limit: usize,
        _lease: SignedDuration,
    ) -> Result<Vec<Dispatch>, StoreError> {
        Err(not_yet("claim_due"))
    }

    async fn apply_batch(
        &self,
        _events: Vec<(MessageId, Event)>,
        _now: Timestamp,
    ) -> Result<Vec<Next>, StoreError> {
        Err(not_yet("apply_batch"))
    }

    async fn release_leases(&self, _now: Timestamp) -> Result<(), StoreError> {
        Err(not_yet("release_leases"))
    }

    async fn sent_part(
        &self,
        _connector: &str,
        _external_id: &str,
    ) -> Result<Option<SentPart>, StoreError> {
        Err(not_yet("sent_part"))
    }

    async fn awaiting_report(&self) -> Result<Vec<AwaitingReport>, StoreError> {
        Err(not_yet("awaiting_report"))
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Err(not_yet("next_due"))
    }

    async fn cancel(
        &self,
        _account: AccountId,
        _id: MessageId,
        _now: Timestamp,
    ) -> Result<CancelOutcome, StoreError> {
        Err(not_yet("cancel"))
    }

    async fn replace(
        &self,
        _account: AccountId,
        _id: MessageId,
        _replacement: Replacement,
        _now: Timestamp,
    ) -> Result<ReplaceOutcome, StoreError> {
        Err(not_yet("replace"))
    }
}
