//! The [`AccountStore`] role on SQLite: accounts, their product tokens (stored as hashes) and
//! their inbound numbers.

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use tern_core::account::{Account, NewAccount, TokenHash};
use tern_core::ports::{AccountStore, StoreError};

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
                connection
                    .execute(
                        "INSERT INTO accounts (name, token_hash, balance_micros, status_url, status_format, inbound_url, channels, created_at,
                             smpp_system_id, smpp_password_hash, smpp_max_binds, smpp_rate, smpp_receipt_format, smpp_receipt_pdu)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                        ],
                    )
                    .map_err(backend_error)?;
                let id = connection.last_insert_rowid();
                // A number another account has is a conflict: the job's savepoint takes the
                // account back with it.
                let mut number = connection
                    .prepare_cached(
                        "INSERT INTO inbound_numbers (number, account_id) VALUES (?1, ?2)",
                    )
                    .map_err(backend_error)?;
                for inbound_number in &account.inbound_numbers {
                    number
                        .execute(params![inbound_number, id])
                        .map_err(backend_error)?;
                }
                Ok::<_, StoreError>(id)
            })
            .await?;
        self.read(move |connection| {
            connection.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                params![id],
                account_from_row,
            )
        })
        .await
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
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = ?1"
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
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE smpp_system_id = ?1"
                ))?
                .query_row(params![system_id], account_from_row)
                .optional()
        })
        .await
    }
}
