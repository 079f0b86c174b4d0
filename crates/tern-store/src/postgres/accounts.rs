//! The [`AccountStore`] role on PostgreSQL: accounts, their product tokens (stored as hashes),
//! their inbound numbers and their webhook secrets (stored as they are: the gateway signs with
//! them).

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::{AssertSqlSafe, PgConnection};
use tern_core::account::{Account, AccountChange, AccountId, NewAccount, TokenHash};
use tern_core::channel::Channel;
use tern_core::ports::{AccountStore, StoreError};
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};

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
                 smpp_max_binds, smpp_rate, smpp_receipt_format, smpp_receipt_pdu, webhook_secret)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
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
        .bind(
            account
                .webhook_secret
                .clone()
                .unwrap_or_else(WebhookSecret::generate)
                .as_str(),
        )
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend_error)?;
        // A number another account has is a conflict: the transaction takes the account back
        // with it.
        insert_numbers(&mut transaction, id, &account.inbound_numbers).await?;
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

    async fn update_account(
        &self,
        id: AccountId,
        change: AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        let mut transaction = self.pool().begin().await.map_err(backend_error)?;
        // Locked, so that changes to one account take turns.
        let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(backend_error)?
            .is_some();
        if !exists {
            return Ok(None);
        }
        // Any failure (a conflict) and the transaction takes every change back.
        apply_change(&mut transaction, id, &change).await?;
        let updated = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
        )))
        .bind(id)
        .try_map(|row| account_from_row(&row))
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend_error)?;
        transaction.commit().await.map_err(backend_error)?;
        Ok(Some(updated))
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
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = $1 AND NOT disabled"
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
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE smpp_system_id = $1 AND NOT disabled"
        )))
        .bind(system_id)
        .try_map(|row| account_from_row(&row))
        .fetch_optional(self.pool())
        .await
        .map_err(backend_error)
    }
}

/// Give account `id` the inbound `numbers` (one another account has is a conflict).
async fn insert_numbers(
    connection: &mut PgConnection,
    id: AccountId,
    numbers: &[String],
) -> Result<(), StoreError> {
    for number in numbers {
        sqlx::query("INSERT INTO inbound_numbers (number, account_id) VALUES ($1, $2)")
            .bind(number)
            .bind(id)
            .execute(&mut *connection)
            .await
            .map_err(backend_error)?;
    }
    Ok(())
}

/// Record `change` on account `id`, one statement per field it sets.
async fn apply_change(
    connection: &mut PgConnection,
    id: AccountId,
    change: &AccountChange,
) -> Result<(), StoreError> {
    async fn run(
        connection: &mut PgConnection,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<(), StoreError> {
        query
            .execute(&mut *connection)
            .await
            .map(drop)
            .map_err(backend_error)
    }
    if let Some(hash) = &change.token_hash {
        let query = sqlx::query("UPDATE accounts SET token_hash = $1 WHERE id = $2")
            .bind(hash.to_hex())
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(url) = &change.status_url {
        let query = sqlx::query("UPDATE accounts SET status_url = $1 WHERE id = $2")
            .bind(url)
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(format) = change.status_format {
        let query = sqlx::query("UPDATE accounts SET status_format = $1 WHERE id = $2")
            .bind(format.as_str())
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(url) = &change.inbound_url {
        let query = sqlx::query("UPDATE accounts SET inbound_url = $1 WHERE id = $2")
            .bind(url)
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(channels) = &change.channels {
        let query = sqlx::query("UPDATE accounts SET channels = $1 WHERE id = $2")
            .bind(Channel::join(channels))
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(amount) = change.add_balance {
        let query =
            sqlx::query("UPDATE accounts SET balance_micros = balance_micros + $1 WHERE id = $2")
                .bind(amount.micros())
                .bind(id);
        run(connection, query).await?;
    }
    if let Some(disabled) = change.disabled {
        let query = sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id);
        run(connection, query).await?;
    }
    if let Some(smpp) = &change.smpp {
        let smpp = smpp.as_ref();
        let query = sqlx::query(
            "UPDATE accounts SET smpp_system_id = $1, smpp_password_hash = $2, smpp_max_binds = $3,
                 smpp_rate = $4, smpp_receipt_format = $5, smpp_receipt_pdu = $6
             WHERE id = $7",
        )
        .bind(smpp.map(|s| s.system_id.as_str()))
        .bind(smpp.map(|s| s.password.as_phc()))
        .bind(smpp.map(|s| s.max_binds.get() as i32))
        .bind(
            smpp.and_then(|s| s.rate)
                .map(|rate| NonZeroU32::get(rate) as i32),
        )
        .bind(smpp.map(|s| s.receipt_format.as_str()))
        .bind(smpp.map(|s| s.receipt_pdu.as_str()))
        .bind(id);
        run(connection, query).await?;
    }
    if let Some(secrets) = &change.webhook_secrets {
        let WebhookSecrets { current, previous } = secrets;
        let query = sqlx::query(
            "UPDATE accounts SET webhook_secret = $1, webhook_secret_previous = $2,
                 webhook_secret_rotated_at = $3
             WHERE id = $4",
        )
        .bind(current.as_ref().map(WebhookSecret::as_str))
        .bind(previous.as_ref().map(|(secret, _)| secret.as_str()))
        .bind(previous.as_ref().map(|(_, at)| millis(*at)))
        .bind(id);
        run(connection, query).await?;
    }
    if let Some(numbers) = &change.inbound_numbers {
        let query = sqlx::query("DELETE FROM inbound_numbers WHERE account_id = $1").bind(id);
        run(connection, query).await?;
        insert_numbers(connection, id, numbers).await?;
    }
    Ok(())
}
