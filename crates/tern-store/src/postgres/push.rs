//! The [`PushStore`] role on PostgreSQL: push apps and the installations devices registered
//! under them (`push_apps`, `push_installations`). Keys and ids are kept as their canonical GUID
//! text, an installation's preferred languages as a JSON array, as on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use tern_core::ports::{PushStore, StoreError};
use tern_core::push::{
    AppKey, Installation, InstallationId, NewPushApp, PushApp, PushAppListing, Registration,
};

use super::rows::bad;
use super::{PgStore, backend_error, millis, timestamp, within};

/// The columns of an app, read by [`app_from_row`]; select them `FROM push_apps`.
const APP_COLUMNS: &str = "app_key, account_id, name, connector, created_at";

/// The columns of an installation, read by [`installation_from_row`].
const INSTALLATION_COLUMNS: &str = "id, app_key, push_token, device_os, device_os_version, \
    device_model, app_id, app_version, lib_id, lib_version, push_authorization, \
    preferred_languages, msisdn, created_at, updated_at";

/// A stored GUID; a row that holds anything else is corrupt.
fn guid(row: &PgRow, index: usize) -> sqlx::Result<uuid::Uuid> {
    let text: String = row.try_get(index)?;
    uuid::Uuid::parse_str(&text).map_err(|_| bad(index, "GUID"))
}

/// An app from the columns of [`APP_COLUMNS`].
fn app_from_row(row: &PgRow) -> sqlx::Result<PushApp> {
    Ok(PushApp {
        key: AppKey(guid(row, 0)?),
        account_id: row.try_get(1)?,
        name: row.try_get(2)?,
        connector: row.try_get(3)?,
        created_at: timestamp(row.try_get(4)?),
    })
}

/// An installation from the columns of [`INSTALLATION_COLUMNS`].
fn installation_from_row(row: &PgRow) -> sqlx::Result<Installation> {
    let languages: String = row.try_get(11)?;
    Ok(Installation {
        id: InstallationId(guid(row, 0)?),
        app_key: AppKey(guid(row, 1)?),
        device: Registration {
            push_token: row.try_get(2)?,
            device_os: row.try_get(3)?,
            device_os_version: row.try_get(4)?,
            device_model: row.try_get(5)?,
            app_id: row.try_get(6)?,
            app_version: row.try_get(7)?,
            lib_id: row.try_get(8)?,
            lib_version: row.try_get(9)?,
            push_authorization: row.try_get(10)?,
            preferred_languages: serde_json::from_str(&languages)
                .map_err(|_| bad(11, "list of preferred languages"))?,
            msisdn: row.try_get(12)?,
        },
        created_at: timestamp(row.try_get(13)?),
        updated_at: timestamp(row.try_get(14)?),
    })
}

/// `query` with what a device registered bound next, in the column order both the insert and
/// the update of an installation list them: push token to msisdn.
fn bind_registration<'q>(
    query: PgQuery<'q>,
    device: &'q Registration,
) -> Result<PgQuery<'q>, StoreError> {
    Ok(query
        .bind(&device.push_token)
        .bind(&device.device_os)
        .bind(&device.device_os_version)
        .bind(&device.device_model)
        .bind(&device.app_id)
        .bind(&device.app_version)
        .bind(&device.lib_id)
        .bind(&device.lib_version)
        .bind(&device.push_authorization)
        .bind(languages_json(device)?)
        .bind(&device.msisdn))
}

/// A statement being bound.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A device's preferred languages as stored.
fn languages_json(device: &Registration) -> Result<String, StoreError> {
    serde_json::to_string(&device.preferred_languages).map_err(|error| {
        StoreError::Backend(format!("preferred languages do not serialise: {error}"))
    })
}

/// Forget the other installations of `app_key` with `push_token` than `keep`.
async fn forget_token(
    connection: &mut PgConnection,
    app_key: &str,
    push_token: &str,
    keep: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM push_installations WHERE app_key = $1 AND push_token = $2 AND id <> $3",
    )
    .bind(app_key)
    .bind(push_token)
    .bind(keep)
    .execute(connection)
    .await
    .map_err(backend_error)?;
    Ok(())
}

#[async_trait]
impl PushStore for PgStore {
    async fn create_app(&self, app: NewPushApp) -> Result<PushApp, StoreError> {
        within(async {
            let created = PushApp {
                key: app.key,
                account_id: app.account_id,
                name: app.name,
                connector: app.connector,
                // Stored to the millisecond.
                created_at: timestamp(millis(Timestamp::now())),
            };
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // A key that exists already breaks the primary key: a conflict.
            sqlx::query(
                "INSERT INTO push_apps (app_key, account_id, name, connector, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(created.key.to_string())
            .bind(created.account_id)
            .bind(&created.name)
            .bind(&created.connector)
            .bind(millis(created.created_at))
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(created)
        })
        .await
    }

    async fn apps(&self) -> Result<Vec<PushAppListing>, StoreError> {
        within(async {
            // `id` is the order they were created in (creation times may share a millisecond).
            sqlx::query(
                "SELECT a.app_key, a.account_id, a.name, a.connector, a.created_at,
                     (SELECT COUNT(*) FROM push_installations i WHERE i.app_key = a.app_key)
                 FROM push_apps a ORDER BY a.id",
            )
            .try_map(|row: PgRow| {
                let installations: i64 = row.try_get(5)?;
                Ok(PushAppListing {
                    app: app_from_row(&row)?,
                    installations: u64::try_from(installations)
                        .map_err(|_| bad(5, "installation count"))?,
                })
            })
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn app_by_key(&self, key: AppKey) -> Result<Option<PushApp>, StoreError> {
        within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {APP_COLUMNS} FROM push_apps WHERE app_key = $1"
            )))
            .bind(key.to_string())
            .try_map(|row| app_from_row(&row))
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn register_installation(&self, installation: Installation) -> Result<(), StoreError> {
        within(async {
            let id = installation.id.to_string();
            let app_key = installation.app_key.to_string();
            let device = &installation.device;
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            forget_token(&mut transaction, &app_key, &device.push_token, &id).await?;
            // Another node may register the same token at the same time: the one that comes second
            // replaces the first's installation, as if it had come after it.
            let insert = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO push_installations ({INSTALLATION_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                 ON CONFLICT (app_key, push_token) DO UPDATE SET id = excluded.id,
                     device_os = excluded.device_os, device_os_version = excluded.device_os_version,
                     device_model = excluded.device_model, app_id = excluded.app_id,
                     app_version = excluded.app_version, lib_id = excluded.lib_id,
                     lib_version = excluded.lib_version,
                     push_authorization = excluded.push_authorization,
                     preferred_languages = excluded.preferred_languages, msisdn = excluded.msisdn,
                     created_at = excluded.created_at, updated_at = excluded.updated_at"
            )));
            bind_registration(insert.bind(&id).bind(&app_key), device)?
                .bind(millis(installation.created_at))
                .bind(millis(installation.updated_at))
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)
        })
        .await
    }

    async fn update_installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
        device: Registration,
        now: Timestamp,
    ) -> Result<Option<Installation>, StoreError> {
        within(async {
            let id = id.to_string();
            let app_key = app_key.to_string();
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let exists = sqlx::query(
                "SELECT 1 FROM push_installations WHERE id = $1 AND app_key = $2 FOR UPDATE",
            )
            .bind(&id)
            .bind(&app_key)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(backend_error)?
            .is_some();
            if !exists {
                return Ok(None);
            }
            forget_token(&mut transaction, &app_key, &device.push_token, &id).await?;
            let update = sqlx::query(AssertSqlSafe(format!(
                "UPDATE push_installations SET push_token = $3, device_os = $4,
                     device_os_version = $5, device_model = $6, app_id = $7, app_version = $8,
                     lib_id = $9, lib_version = $10, push_authorization = $11,
                     preferred_languages = $12, msisdn = $13, updated_at = $14
                 WHERE id = $1 AND app_key = $2
                 RETURNING {INSTALLATION_COLUMNS}"
            )));
            let updated = bind_registration(update.bind(&id).bind(&app_key), &device)?
                .bind(millis(now))
                .try_map(|row| installation_from_row(&row))
                .fetch_optional(&mut *transaction)
                .await
                .map_err(backend_error)?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(updated)
        })
        .await
    }

    async fn remove_installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<bool, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let deleted =
                sqlx::query("DELETE FROM push_installations WHERE id = $1 AND app_key = $2")
                    .bind(id.to_string())
                    .bind(app_key.to_string())
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
            transaction.commit().await.map_err(backend_error)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<Option<Installation>, StoreError> {
        within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {INSTALLATION_COLUMNS} FROM push_installations WHERE id = $1 AND app_key = $2"
            )))
            .bind(id.to_string())
            .bind(app_key.to_string())
            .try_map(|row| installation_from_row(&row))
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn installations_for(
        &self,
        app_key: AppKey,
        msisdn: &str,
    ) -> Result<Vec<Installation>, StoreError> {
        within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {INSTALLATION_COLUMNS} FROM push_installations
                 WHERE app_key = $1 AND msisdn = $2 ORDER BY created_at, id"
            )))
            .bind(app_key.to_string())
            .bind(msisdn)
            .try_map(|row| installation_from_row(&row))
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
    }

    async fn remove_installation_by_token(
        &self,
        app_key: AppKey,
        push_token: &str,
    ) -> Result<u64, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            let deleted = sqlx::query(
                "DELETE FROM push_installations WHERE app_key = $1 AND push_token = $2",
            )
            .bind(app_key.to_string())
            .bind(push_token)
            .execute(&mut *transaction)
            .await
            .map_err(backend_error)?
            .rows_affected();
            transaction.commit().await.map_err(backend_error)?;
            Ok(deleted)
        })
        .await
    }
}
