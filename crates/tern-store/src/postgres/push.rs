//! The [`PushStore`] role on PostgreSQL: push apps and the installations registered under them.

use async_trait::async_trait;
use jiff::Timestamp;
use tern_core::ports::{PushStore, StoreError};
use tern_core::push::{
    AppKey, Installation, InstallationId, NewPushApp, PushApp, PushAppListing, Registration,
};

use super::{PgStore, not_yet};

#[async_trait]
impl PushStore for PgStore {
    async fn create_app(&self, _app: NewPushApp) -> Result<PushApp, StoreError> {
        Err(not_yet("create_app"))
    }

    async fn apps(&self) -> Result<Vec<PushAppListing>, StoreError> {
        Err(not_yet("apps"))
    }

    async fn app_by_key(&self, _key: AppKey) -> Result<Option<PushApp>, StoreError> {
        Err(not_yet("app_by_key"))
    }

    async fn register_installation(&self, _installation: Installation) -> Result<(), StoreError> {
        Err(not_yet("register_installation"))
    }

    async fn update_installation(
        &self,
        _app_key: AppKey,
        _id: InstallationId,
        _device: Registration,
        _now: Timestamp,
    ) -> Result<Option<Installation>, StoreError> {
        Err(not_yet("update_installation"))
    }

    async fn remove_installation(
        &self,
        _app_key: AppKey,
        _id: InstallationId,
    ) -> Result<bool, StoreError> {
        Err(not_yet("remove_installation"))
    }

    async fn installation(
        &self,
        _app_key: AppKey,
        _id: InstallationId,
    ) -> Result<Option<Installation>, StoreError> {
        Err(not_yet("installation"))
    }

    async fn installations_for(
        &self,
        _app_key: AppKey,
        _msisdn: &str,
    ) -> Result<Vec<Installation>, StoreError> {
        Err(not_yet("installations_for"))
    }

    async fn remove_installation_by_token(
        &self,
        _app_key: AppKey,
        _push_token: &str,
    ) -> Result<u64, StoreError> {
        Err(not_yet("remove_installation_by_token"))
    }
}
