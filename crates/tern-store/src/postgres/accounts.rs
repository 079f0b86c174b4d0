//! The [`AccountStore`] role on PostgreSQL: accounts, their product tokens (stored as hashes),
//! their inbound numbers and their webhook secrets (stored as they are: the gateway signs with
//! them).

use std::num::NonZeroU32;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder};
use tern_core::account::{Account, AccountChange, AccountId, NewAccount, TokenHash};
use tern_core::channel::Channel;
use tern_core::ports::{AccountStore, StoreError};
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};

use super::rows::{ACCOUNT_COLUMNS, account_from_row};
use super::{PgStore, backend_error, millis, within};

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: NewAccount) -> Result<Account, StoreError> {
        within(async {
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
            let created = read_account(&mut transaction, id).await?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(created)
        })
        .await
    }

    async fn update_account(
        &self,
        id: AccountId,
        change: AccountChange,
    ) -> Result<Option<Account>, StoreError> {
        within(async {
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
            let updated = read_account(&mut transaction, id).await?;
            transaction.commit().await.map_err(backend_error)?;
            Ok(Some(updated))
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
            )))
            .try_map(|row| account_from_row(&row))
            .fetch_all(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
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
        within(async {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE smpp_system_id = $1 AND NOT disabled"
            )))
            .bind(system_id)
            .try_map(|row| account_from_row(&row))
            .fetch_optional(self.pool())
            .await
            .map_err(backend_error)
        })
        .await
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

/// Record `change` on account `id`: the fields it sets in one UPDATE, then its inbound numbers.
async fn apply_change(
    connection: &mut PgConnection,
    id: AccountId,
    change: &AccountChange,
) -> Result<(), StoreError> {
    let mut update = QueryBuilder::<Postgres>::new("UPDATE accounts SET ");
    let mut assignments = update.separated(", ");
    let mut assigned = 0;
    // One `column = value` assignment of the UPDATE.
    macro_rules! set {
        ($column:literal, $value:expr $(,)?) => {{
            assigned += 1;
            assignments.push($column);
            assignments.push_bind_unseparated($value);
        }};
    }
    if let Some(hash) = &change.token_hash {
        set!("token_hash = ", hash.to_hex());
    }
    if let Some(url) = &change.status_url {
        set!("status_url = ", url.clone());
    }
    if let Some(format) = change.status_format {
        set!("status_format = ", format.as_str());
    }
    if let Some(url) = &change.inbound_url {
        set!("inbound_url = ", url.clone());
    }
    if let Some(channels) = &change.channels {
        set!("channels = ", Channel::join(channels));
    }
    if let Some(amount) = change.add_balance {
        set!("balance_micros = balance_micros + ", amount.micros());
    }
    if let Some(disabled) = change.disabled {
        set!("disabled = ", disabled);
    }
    if let Some(smpp) = &change.smpp {
        let smpp = smpp.as_ref();
        set!("smpp_system_id = ", smpp.map(|s| s.system_id.clone()));
        set!(
            "smpp_password_hash = ",
            smpp.map(|s| s.password.as_phc().to_owned())
        );
        set!("smpp_max_binds = ", smpp.map(|s| s.max_binds.get() as i32));
        set!(
            "smpp_rate = ",
            smpp.and_then(|s| s.rate)
                .map(|rate| NonZeroU32::get(rate) as i32),
        );
        set!(
            "smpp_receipt_format = ",
            smpp.map(|s| s.receipt_format.as_str())
        );
        set!("smpp_receipt_pdu = ", smpp.map(|s| s.receipt_pdu.as_str()));
    }
    if let Some(WebhookSecrets { current, previous }) = &change.webhook_secrets {
        set!(
            "webhook_secret = ",
            current.as_ref().map(|s| s.as_str().to_owned())
        );
        set!(
            "webhook_secret_previous = ",
            previous
                .as_ref()
                .map(|(secret, _)| secret.as_str().to_owned()),
        );
        set!(
            "webhook_secret_rotated_at = ",
            previous.as_ref().map(|(_, at)| millis(*at))
        );
    }
    // Nothing to set but the inbound numbers: no UPDATE.
    if assigned > 0 {
        update.push(" WHERE id = ").push_bind(id);
        update
            .build()
            .execute(&mut *connection)
            .await
            .map_err(backend_error)?;
    }
    if let Some(numbers) = &change.inbound_numbers {
        sqlx::query("DELETE FROM inbound_numbers WHERE account_id = $1")
            .bind(id)
            .execute(&mut *connection)
            .await
            .map_err(backend_error)?;
        insert_numbers(connection, id, numbers).await?;
    }
    Ok(())
}

/// Account `id` as `connection` sees it (inside the transaction that just wrote it).
async fn read_account(connection: &mut PgConnection, id: AccountId) -> Result<Account, StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
    )))
    .bind(id)
    .try_map(|row| account_from_row(&row))
    .fetch_one(connection)
    .await
    .map_err(backend_error)
}
