//! The [`PushStore`] role on SQLite: push apps and the installations devices registered under
//! them (`push_apps`, `push_installations`). Keys and ids are kept as their canonical GUID text;
//! an installation's preferred languages as a JSON array.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tern_core::ports::{PushStore, StoreError};
use tern_core::push::{
    AppKey, Installation, InstallationId, NewPushApp, PushApp, PushAppListing, Registration,
};

use super::rows::{millis, timestamp};
use super::{SqliteStore, backend_error};

const APP_COLUMNS: &str = "app_key, account_id, name, connector, created_at";

const INSTALLATION_COLUMNS: &str = "id, app_key, push_token, device_os, device_os_version, \
    device_model, app_id, app_version, lib_id, lib_version, push_authorization, \
    preferred_languages, msisdn, created_at, updated_at";

/// A stored GUID; a row that holds anything else is corrupt.
fn guid(row: &Row, index: usize) -> rusqlite::Result<uuid::Uuid> {
    let text: String = row.get(index)?;
    uuid::Uuid::parse_str(&text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

fn app_from_row(row: &Row) -> rusqlite::Result<PushApp> {
    Ok(PushApp {
        key: AppKey(guid(row, 0)?),
        account_id: row.get(1)?,
        name: row.get(2)?,
        connector: row.get(3)?,
        created_at: timestamp(row.get(4)?),
    })
}

fn installation_from_row(row: &Row) -> rusqlite::Result<Installation> {
    let languages: String = row.get(11)?;
    Ok(Installation {
        id: InstallationId(guid(row, 0)?),
        app_key: AppKey(guid(row, 1)?),
        device: Registration {
            push_token: row.get(2)?,
            device_os: row.get(3)?,
            device_os_version: row.get(4)?,
            device_model: row.get(5)?,
            app_id: row.get(6)?,
            app_version: row.get(7)?,
            lib_id: row.get(8)?,
            lib_version: row.get(9)?,
            push_authorization: row.get(10)?,
            preferred_languages: serde_json::from_str(&languages).unwrap_or_default(),
            msisdn: row.get(12)?,
        },
        created_at: timestamp(row.get(13)?),
        updated_at: timestamp(row.get(14)?),
    })
}

fn languages_json(device: &Registration) -> String {
    serde_json::to_string(&device.preferred_languages).expect("texts serialise")
}

/// Forget the other installations of `app_key` with `push_token` than `keep`.
fn forget_token(
    connection: &Connection,
    app_key: &str,
    push_token: &str,
    keep: &str,
) -> rusqlite::Result<usize> {
    connection
        .prepare_cached(
            "DELETE FROM push_installations WHERE app_key = ?1 AND push_token = ?2 AND id <> ?3",
        )?
        .execute(params![app_key, push_token, keep])
}

#[async_trait]
impl PushStore for SqliteStore {
    async fn create_app(&self, app: NewPushApp) -> Result<PushApp, StoreError> {
        let created = PushApp {
            key: app.key,
            account_id: app.account_id,
            name: app.name,
            connector: app.connector,
            created_at: Timestamp::now(),
        };
        let row = created.clone();
        self.writer
            .write(move |connection: &Connection| {
                connection
                    .execute(
                        "INSERT INTO push_apps (app_key, account_id, name, connector, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            row.key.to_string(),
                            row.account_id,
                            row.name,
                            row.connector,
                            millis(row.created_at),
                        ],
                    )
                    .map(|_| ())
                    .map_err(backend_error)
            })
            .await?;
        // Stored to the millisecond.
        Ok(PushApp {
            created_at: timestamp(millis(created.created_at)),
            ..created
        })
    }

    async fn apps(&self) -> Result<Vec<PushAppListing>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT a.app_key, a.account_id, a.name, a.connector, a.created_at,
                     (SELECT COUNT(*) FROM push_installations i WHERE i.app_key = a.app_key)
                 FROM push_apps a ORDER BY a.rowid",
            )?;
            statement
                .query_map([], |row| {
                    Ok(PushAppListing {
                        app: app_from_row(row)?,
                        installations: row.get::<_, i64>(5)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn app_by_key(&self, key: AppKey) -> Result<Option<PushApp>, StoreError> {
        self.read(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {APP_COLUMNS} FROM push_apps WHERE app_key = ?1"
                ))?
                .query_row(params![key.to_string()], app_from_row)
                .optional()
        })
        .await
    }

    async fn register_installation(&self, installation: Installation) -> Result<(), StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                let id = installation.id.to_string();
                let app_key = installation.app_key.to_string();
                let device = &installation.device;
                let insert = || -> rusqlite::Result<()> {
                    forget_token(connection, &app_key, &device.push_token, &id)?;
                    connection
                        .prepare_cached(&format!(
                            "INSERT INTO push_installations ({INSTALLATION_COLUMNS})
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                        ))?
                        .execute(params![
                            id,
                            app_key,
                            device.push_token,
                            device.device_os,
                            device.device_os_version,
                            device.device_model,
                            device.app_id,
                            device.app_version,
                            device.lib_id,
                            device.lib_version,
                            device.push_authorization,
                            languages_json(device),
                            device.msisdn,
                            millis(installation.created_at),
                            millis(installation.updated_at),
                        ])?;
                    Ok(())
                };
                insert().map_err(backend_error)
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
        let updated = self
            .writer
            .write(move |connection: &Connection| {
                let id = id.to_string();
                let app_key = app_key.to_string();
                let update = || -> rusqlite::Result<usize> {
                    let exists = connection
                        .prepare_cached(
                            "SELECT 1 FROM push_installations WHERE id = ?1 AND app_key = ?2",
                        )?
                        .query_row(params![id, app_key], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if !exists {
                        return Ok(0);
                    }
                    forget_token(connection, &app_key, &device.push_token, &id)?;
                    connection
                        .prepare_cached(
                            "UPDATE push_installations SET push_token = ?3, device_os = ?4,
                                 device_os_version = ?5, device_model = ?6, app_id = ?7,
                                 app_version = ?8, lib_id = ?9, lib_version = ?10,
                                 push_authorization = ?11, preferred_languages = ?12, msisdn = ?13,
                                 updated_at = ?14
                             WHERE id = ?1 AND app_key = ?2",
                        )?
                        .execute(params![
                            id,
                            app_key,
                            device.push_token,
                            device.device_os,
                            device.device_os_version,
                            device.device_model,
                            device.app_id,
                            device.app_version,
                            device.lib_id,
                            device.lib_version,
                            device.push_authorization,
                            languages_json(&device),
                            device.msisdn,
                            millis(now),
                        ])
                };
                update().map_err(backend_error)
            })
            .await?;
        if updated == 0 {
            return Ok(None);
        }
        self.installation(app_key, id).await
    }

    async fn remove_installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |connection: &Connection| {
                connection
                    .prepare_cached("DELETE FROM push_installations WHERE id = ?1 AND app_key = ?2")
                    .and_then(|mut s| s.execute(params![id.to_string(), app_key.to_string()]))
                    .map(|deleted| deleted > 0)
                    .map_err(backend_error)
            })
            .await
    }

    async fn installation(
        &self,
        app_key: AppKey,
        id: InstallationId,
    ) -> Result<Option<Installation>, StoreError> {
        self.read(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {INSTALLATION_COLUMNS} FROM push_installations
                     WHERE id = ?1 AND app_key = ?2"
                ))?
                .query_row(
                    params![id.to_string(), app_key.to_string()],
                    installation_from_row,
                )
                .optional()
        })
        .await
    }

    async fn installations_for(
        &self,
        app_key: AppKey,
        msisdn: &str,
    ) -> Result<Vec<Installation>, StoreError> {
        let msisdn = msisdn.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {INSTALLATION_COLUMNS} FROM push_installations
                     WHERE app_key = ?1 AND msisdn = ?2 ORDER BY created_at, id"
                ))?
                .query_map(params![app_key.to_string(), msisdn], installation_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn remove_installation_by_token(
        &self,
        app_key: AppKey,
        push_token: &str,
    ) -> Result<u64, StoreError> {
        let push_token = push_token.to_owned();
        self.writer
            .write(move |connection: &Connection| {
                connection
                    .prepare_cached(
                        "DELETE FROM push_installations WHERE app_key = ?1 AND push_token = ?2",
                    )
                    .and_then(|mut s| s.execute(params![app_key.to_string(), push_token]))
                    .map(|deleted| deleted as u64)
                    .map_err(backend_error)
            })
            .await
    }
}
