//! The [`AccountStore`] role on SQLite: accounts, their product tokens (stored as hashes),
//! their inbound numbers and their webhook secrets (stored as they are: the gateway signs with
//! them).

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use tern_core::account::{Account, AccountChange, AccountId, NewAccount, TokenHash};
use tern_core::channel::Channel;
use tern_core::ports::{AccountStore, StoreError};
use tern_core::smpp_account::SmppSettings;
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};

use super::rows::{ACCOUNT_COLUMNS, account_from_row, millis};
use super::{SqliteStore, backend_error};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        let now = Timestamp::now();
        let id = self
            .writer
            .write(move |connection: &Connection| {
                let smpp = account.smpp.as_ref();
                let secret = account
                    .webhook_secret
                    .clone()
                    .unwrap_or_else(WebhookSecret::generate);
                connection
                    .execute(
                        "INSERT INTO accounts (name, token_hash, balance_micros, status_url, status_format, inbound_url, channels, created_at,
                             smpp_system_id, smpp_password_hash, smpp_max_binds, smpp_rate, smpp_receipt_format, smpp_receipt_pdu,
                             webhook_secret)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                        params![
                            account.name,
                            account.token_hash.to_hex(),
                            account.balance.map(|b| b.micros()),
                            account.status_url,
                            account.status_format.as_str(),
                            account.inbound_url,
                            tern_core::channel::Channel::join(&account.channels),
                            millis(now),
                            smpp.map(|s| s.system_id.as_str()),
                            smpp.map(|s| s.password.as_phc()),
                            smpp.map(|s| s.max_binds.get()),
                            smpp.and_then(|s| s.rate).map(NonZeroU32::get),
                            smpp.map(|s| s.receipt_format.as_str()),
                            smpp.map(|s| s.receipt_pdu.as_str()),
                            secret.as_str(),
                        ],
                    )
                    .map_err(backend_error)?;
                let id = connection.last_insert_rowid();
                // A number another account has is a conflict: the job's savepoint takes the
                // account back with it.
                insert_numbers(connection, id, &account.inbound_numbers)?;
                Ok::<_, StoreError>(id)
            })
            .await?;
        self.account(id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("account {id} is gone")))
    }

    async fn update_account(
        &self,
        id: AccountId,
        change: AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        let found = self
            .writer
            .write(move |connection: &Connection| {
                let exists = connection
                    .query_row("SELECT 1 FROM accounts WHERE id = ?1", params![id], |_| {
                        Ok(())
                    })
                    .optional()
                    .map_err(backend_error)?
                    .is_some();
                if exists {
                    // Any failure (a conflict) and the job's savepoint takes every change back.
                    apply_change(connection, id, &change)?;
                }
                Ok::<_, StoreError>(exists)
            })
            .await?;
        if !found {
            return Ok(None);
        }
        self.account(id).await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
            ))?;
            statement
                .query_map([], account_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError> {
        Ok(self
            .read(move |connection| {
                connection
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = ?1 AND disabled = 0"
                    ))?
                    .query_row(params![hash.to_hex()], account_from_row)
                    .optional()
            })
            .await?
            .filter(|account| account.token_hash.matches(&hash)))
    }

    async fn account_by_smpp_system_id(
        &self,
        system_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        let system_id = system_id.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE smpp_system_id = ?1 AND disabled = 0"
                ))?
                .query_row(params![system_id], account_from_row)
                .optional()
        })
        .await
    }
}

impl SqliteStore {
    /// The account `id`, disabled or not.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                    params![id],
                    account_from_row,
                )
                .optional()
        })
        .await
    }
}

/// Give account `id` the inbound `numbers` (one another account has is a conflict).
fn insert_numbers(
    connection: &Connection,
    id: AccountId,
    numbers: &[String],
) -> Result<(), StoreError> {
    let mut number = connection
        .prepare_cached("INSERT INTO inbound_numbers (number, account_id) VALUES (?1, ?2)")
        .map_err(backend_error)?;
    for inbound_number in numbers {
        number
            .execute(params![inbound_number, id])
            .map_err(backend_error)?;
    }
    Ok(())
}

/// Record `change` on account `id`, one statement per field it sets.
fn apply_change(
    connection: &Connection,
    id: AccountId,
    change: &AccountChange,
) -> Result<(), StoreError> {
    let set = |assignments: &str, values: &[&dyn ToSql]| -> Result<(), StoreError> {
        let mut all = values.to_vec();
        all.push(&id);
        let sql = format!(
            "UPDATE accounts SET {assignments} WHERE id = ?{}",
            values.len() + 1
        );
        connection
            .execute(&sql, all.as_slice())
            .map(drop)
            .map_err(backend_error)
    };
    if let Some(hash) = &change.token_hash {
        set("token_hash = ?1", &[&hash.to_hex()])?;
    }
    if let Some(url) = &change.status_url {
        set("status_url = ?1", &[url])?;
    }
    if let Some(format) = change.status_format {
        set("status_format = ?1", &[&format.as_str()])?;
    }
    if let Some(url) = &change.inbound_url {
        set("inbound_url = ?1", &[url])?;
    }
    if let Some(channels) = &change.channels {
        set("channels = ?1", &[&Channel::join(channels)])?;
    }
    if let Some(amount) = change.add_balance {
        set("balance_micros = balance_micros + ?1", &[&amount.micros()])?;
    }
    if let Some(disabled) = change.disabled {
        set("disabled = ?1", &[&disabled])?;
    }
    if let Some(smpp) = &change.smpp {
        let smpp: Option<&SmppSettings> = smpp.as_ref();
        set(
            "smpp_system_id = ?1, smpp_password_hash = ?2, smpp_max_binds = ?3, smpp_rate = ?4, \
             smpp_receipt_format = ?5, smpp_receipt_pdu = ?6",
            &[
                &smpp.map(|s| s.system_id.as_str()),
                &smpp.map(|s| s.password.as_phc()),
                &smpp.map(|s| s.max_binds.get()),
                &smpp.and_then(|s| s.rate).map(NonZeroU32::get),
                &smpp.map(|s| s.receipt_format.as_str()),
                &smpp.map(|s| s.receipt_pdu.as_str()),
            ],
        )?;
    }
    if let Some(secrets) = &change.webhook_secrets {
        let WebhookSecrets { current, previous } = secrets;
        set(
            "webhook_secret = ?1, webhook_secret_previous = ?2, webhook_secret_rotated_at = ?3",
            &[
                &current.as_ref().map(WebhookSecret::as_str),
                &previous.as_ref().map(|(secret, _)| secret.as_str()),
                &previous.as_ref().map(|(_, at)| millis(*at)),
            ],
        )?;
    }
    if let Some(numbers) = &change.inbound_numbers {
        connection
            .execute(
                "DELETE FROM inbound_numbers WHERE account_id = ?1",
                params![id],
            )
            .map_err(backend_error)?;
        insert_numbers(connection, id, numbers)?;
    }
    Ok(())
}
