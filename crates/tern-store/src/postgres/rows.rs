//! Rows of the PostgreSQL schema read back into the core's types: the column lists a query
//! selects and the functions that read them, one place per kind of row.

use std::num::NonZeroU32;
use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::PgRow;
use tern_core::account::{Account, TokenHash};
use tern_core::channel::Channel;
use tern_core::money::Money;
use tern_core::smpp_account::{SmppPasswordHash, SmppSettings};
use tern_core::webhook_signature::{WebhookSecret, WebhookSecrets};

use super::timestamp;

/// The columns of an account, read by [`account_from_row`], its inbound numbers last (in the
/// order they were given); select them `FROM accounts`.
pub const ACCOUNT_COLUMNS: &str = "id, name, token_hash, balance_micros, status_url, status_format, \
    inbound_url, channels, created_at, smpp_system_id, smpp_password_hash, smpp_max_binds, \
    smpp_rate, smpp_receipt_format, smpp_receipt_pdu, \
    (SELECT string_agg(n.number, ',' ORDER BY n.id) FROM inbound_numbers n WHERE n.account_id = accounts.id), \
    disabled, webhook_secret, webhook_secret_previous, webhook_secret_rotated_at";

/// A column that holds what no Tern writes.
pub fn bad(index: usize, what: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: format!("not a valid {what}").into(),
    }
}

/// A list of channels as stored (`Channel::join`).
pub fn channels(row: &PgRow, index: usize) -> sqlx::Result<Vec<Channel>> {
    let text: String = row.try_get(index)?;
    Channel::parse_list(&text).map_err(|_| bad(index, "channel list"))
}

/// An account from the columns of [`ACCOUNT_COLUMNS`].
pub fn account_from_row(row: &PgRow) -> sqlx::Result<Account> {
    let hash: String = row.try_get(2)?;
    let format: String = row.try_get(5)?;
    Ok(Account {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        token_hash: TokenHash::from_hex(&hash).ok_or_else(|| bad(2, "token hash"))?,
        balance: row.try_get::<Option<i64>, _>(3)?.map(Money),
        status_url: row.try_get(4)?,
        status_format: format.parse().map_err(|_| bad(5, "status format"))?,
        inbound_url: row.try_get(6)?,
        inbound_numbers: row
            .try_get::<Option<String>, _>(15)?
            .map(|numbers| numbers.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        channels: channels(row, 7)?,
        smpp: smpp_settings(row, 9)?.map(Arc::new),
        created_at: timestamp(row.try_get(8)?),
        disabled: row.try_get(16)?,
        webhook_secrets: webhook_secrets(row, 17)?,
    })
}

/// An account's webhook secrets from the three `webhook_secret*` columns starting at `first`.
fn webhook_secrets(row: &PgRow, first: usize) -> sqlx::Result<WebhookSecrets> {
    let secret = |index: usize| -> sqlx::Result<Option<WebhookSecret>> {
        row.try_get::<Option<String>, _>(index)?
            .map(|text| text.parse().map_err(|_| bad(index, "webhook secret")))
            .transpose()
    };
    let previous = match (
        secret(first + 1)?,
        row.try_get::<Option<i64>, _>(first + 2)?,
    ) {
        (Some(secret), Some(at)) => Some((secret, timestamp(at))),
        _ => None,
    };
    Ok(WebhookSecrets {
        current: secret(first)?,
        previous,
    })
}

/// An account's SMPP settings from the six `smpp_*` columns starting at `first`: `None` when its
/// system id is NULL (an account without SMPP).
fn smpp_settings(row: &PgRow, first: usize) -> sqlx::Result<Option<SmppSettings>> {
    let Some(system_id) = row.try_get::<Option<String>, _>(first)? else {
        return Ok(None);
    };
    let hash: String = row.try_get(first + 1)?;
    let count = |index: usize, what: &str| -> sqlx::Result<Option<NonZeroU32>> {
        row.try_get::<Option<i32>, _>(index)?
            .map(|n| {
                u32::try_from(n)
                    .ok()
                    .and_then(NonZeroU32::new)
                    .ok_or_else(|| bad(index, what))
            })
            .transpose()
    };
    let format: String = row.try_get(first + 4)?;
    let pdu: String = row.try_get(first + 5)?;
    Ok(Some(SmppSettings {
        system_id,
        password: SmppPasswordHash::from_phc(&hash)
            .ok_or_else(|| bad(first + 1, "SMPP password hash"))?,
        max_binds: count(first + 2, "SMPP max binds")?
            .ok_or_else(|| bad(first + 2, "SMPP max binds"))?,
        rate: count(first + 3, "SMPP rate")?,
        receipt_format: format
            .parse()
            .map_err(|_| bad(first + 4, "SMPP receipt format"))?,
        receipt_pdu: pdu
            .parse()
            .map_err(|_| bad(first + 5, "SMPP receipt PDU"))?,
    }))
}
