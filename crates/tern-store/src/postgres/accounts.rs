//! The [`AccountStore`] role on PostgreSQL: accounts, their product tokens (stored as hashes)
//! and their inbound numbers.

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use tern_core::account::{Account, NewAccount, TokenHash};
use tern_core::channel::Channel;
use tern_core::ports::{AccountStore, StoreError};

use super::rows::{ACCOUNT_COLUMNS, account_from_row};
use super::{PgStore, backend_error, millis, within};

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        let mut transaction = self.pool().begin().await.map_err(backend_error)?;
        let smpp = account.smpp.as_ref();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, token_hash, balance_micros, status_url, status_format,
                 inbound_url, channels, created_at, smpp_system_id, smpp_password_hash,
                 smpp_max_binds, smpp_rate, smpp_receipt_format, smpp_receipt_pdu)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING id",
        )
        .bind(&account.name)
        .bind(account.token_hash.to_hex())
        .bind(account.balance.map(|b| b.micros()))
        .bind(&account.status_url)
        .bind(account.status_format.as_str())
        .bind(&account.inbound_url)
        .bind(Channel::join(&account.channels))
        .bind(millis(Timestamp::now()))
        .bind(smpp.map(|s| s.system_id.as_str()))
        .bind(smpp.map(|s| s.password.as_phc()))
        .bind(smpp.map(|s| s.max_binds.get() as i32))
        .bind(
            smpp.and_then(|s| s.rate)
                .map(|rate| NonZeroU32::get(rate) as i32),
        )
        .bind(smpp.map(|s| s.receipt_format.as_str()))
        .bind(smpp.map(|s| s.receipt_pdu.as_str()))
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend_error)?;
        // A number another account has is a conflict: the transaction takes the account back
        // with it.
        for number in &account.inbound_numbers {
            sqlx::query("INSERT INTO inbound_numbers (number, account_id) VALUES ($1, $2)")
                .bind(number)
                .bind(id)
                .execute(&mut *transaction)
                .await
                .map_err(backend_error)?;
        }
        let created = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        )))
        .bind(id)
        .try_map(|row| account_from_row(&row))
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend_error)?;
        transaction.commit().await.map_err(backend_error)?;
        Ok(created)
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
        )))
        .try_map(|row| account_from_row(&row))
        .fetch_all(self.pool())
        .await
        .map_err(backend_error)
    }

    async fn account_by_token(&self, hash: TokenHash) -> Result<Option<Account>, StoreError> {
        // Bounded: every submission starts here, and is answered within 35 seconds.
        let found = within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = $1"
            )))
            .bind(hash.to_hex())
            .try_map(|row| account_from_row(&row))
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await?;
        Ok(found.filter(|account| account.token_hash.matches(&hash)))
    }

    async fn account_by_smpp_system_id(
        &self,
        system_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE smpp_system_id = $1"
        )))
        .bind(system_id)
        .try_map(|row| account_from_row(&row))
        .fetch_optional(self.pool())
        .await
        .map_err(backend_error)
    }
}
