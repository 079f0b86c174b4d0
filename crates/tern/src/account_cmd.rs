//! `tern account create`, `list`, `update`, `show`, `rotate-token` and `rotate-secret`. They
//! open the data directory (or the database) directly, so they work whether or not a gateway is
//! running on it (SQLite serialises the writers); a running gateway sees a change within its
//! account cache's lifetime (`tern_store::CachedAccounts::DEFAULT_TTL`, one second). Each flag is
//! checked in one place, whichever command takes it.

use std::num::NonZeroU32;

use jiff::Timestamp;
use tern_core::account::{Account, AccountChange, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::inbound;
use tern_core::money::Money;
use tern_core::ports::{Store, StoreError};
use tern_core::smpp_account::{ReceiptFormat, ReceiptPdu, SmppSettings, check_system_id};
use tern_core::webhook_signature::WebhookSecret;

use crate::cli::{
    AccountCreateArgs, AccountListArgs, AccountNameArgs, AccountShowArgs, AccountUpdateArgs,
    SmppArgs,
};

pub async fn create(args: AccountCreateArgs) -> anyhow::Result<()> {
    let token = match &args.token {
        Some(text) => text
            .parse::<ProductToken>()
            .map_err(|e| anyhow::anyhow!("--token: {e}"))?,
        None => ProductToken::generate(),
    };
    let secret = match &args.webhook_secret {
        Some(text) => text
            .parse::<WebhookSecret>()
            .map_err(|e| anyhow::anyhow!("--webhook-secret: {e}"))?,
        None => WebhookSecret::generate(),
    };
    let balance = args
        .balance
        .as_deref()
        .map(str::parse::<Money>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--balance: {e}"))?;
    let status_format = status_format(&args.status_format)?;
    let channels = channels(&args.channels)?;
    check_url("--status-url", args.status_url.as_deref())?;
    check_url("--inbound-url", args.inbound_url.as_deref())?;
    let inbound_numbers = match &args.inbound_numbers {
        Some(list) => inbound_numbers(list)?,
        None => Vec::new(),
    };
    let name = args.name.trim().to_owned();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let smpp = smpp_settings(&args.smpp, None)?;
    let system_id = smpp.as_ref().map(|smpp| smpp.system_id.clone());
    let store = crate::store::open_for_command(&args.store)?;
    let account = store
        .create_account(NewAccount {
            name,
            token_hash: token.hash(),
            balance,
            status_url: args.status_url,
            status_format,
            inbound_url: args.inbound_url,
            inbound_numbers: inbound_numbers.clone(),
            channels,
            smpp,
            webhook_secret: Some(secret.clone()),
        })
        .await;
    let account = match account {
        Ok(account) => account,
        Err(StoreError::Conflict(_)) => {
            explain_conflict(&*store, None, system_id.as_deref(), &inbound_numbers).await?;
            anyhow::bail!("an account with this token exists already");
        }
        Err(other) => return Err(other.into()),
    };
    println!(
        "Created account {} ({}), channels {}",
        account.id,
        account.name,
        Channel::join(&account.channels)
    );
    println!("webhook secret: {secret}");
    println!("{token}");
    Ok(())
}

pub async fn update(args: AccountUpdateArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let account = find_account(&*store, &args.name).await?;
    let mut change = AccountChange {
        status_format: args
            .status_format
            .as_deref()
            .map(status_format)
            .transpose()?,
        channels: args.channels.as_deref().map(channels).transpose()?,
        ..AccountChange::default()
    };
    // An empty URL removes it.
    for (flag, given, field) in [
        ("--status-url", &args.status_url, &mut change.status_url),
        ("--inbound-url", &args.inbound_url, &mut change.inbound_url),
    ] {
        if let Some(url) = given {
            let url = Some(url.trim()).filter(|url| !url.is_empty());
            check_url(flag, url)?;
            *field = Some(url.map(str::to_owned));
        }
    }
    if let Some(list) = &args.inbound_numbers {
        change.inbound_numbers = Some(if list.trim().is_empty() {
            Vec::new()
        } else {
            inbound_numbers(list)?
        });
    }
    if let Some(text) = &args.add_balance {
        let amount = text
            .parse::<Money>()
            .map_err(|e| anyhow::anyhow!("--add-balance: {e}"))?;
        let Some(balance) = account.balance else {
            anyhow::bail!(
                "--add-balance: account {} ({}) has an unlimited balance; whether an account has a balance is fixed when it is created",
                account.id,
                account.name
            );
        };
        anyhow::ensure!(
            balance.micros().checked_add(amount.micros()).is_some(),
            "--add-balance: {amount} is too large"
        );
        change.add_balance = Some(amount);
    }
    if args.disable || args.enable {
        change.disabled = Some(args.disable);
    }
    if args.smpp.any() {
        change.smpp = Some(smpp_settings(&args.smpp, account.smpp.as_deref())?);
    }
    anyhow::ensure!(
        change != AccountChange::default(),
        "nothing to change: name an option (see `tern account update --help`)"
    );
    let system_id = change
        .smpp
        .as_ref()
        .and_then(|smpp| smpp.as_ref().map(|smpp| smpp.system_id.clone()));
    let numbers = change.inbound_numbers.clone().unwrap_or_default();
    let updated = match store.update_account(account.id, change).await {
        Ok(Some(updated)) => updated,
        Ok(None) => anyhow::bail!("account {} ({}) is gone", account.id, account.name),
        Err(StoreError::Conflict(error)) => {
            explain_conflict(&*store, Some(&account), system_id.as_deref(), &numbers).await?;
            anyhow::bail!("conflict: {error}");
        }
        Err(other) => return Err(other.into()),
    };
    println!(
        "Updated account {} ({}), {}",
        updated.id,
        updated.name,
        state(&updated)
    );
    Ok(())
}

pub async fn rotate_token(args: AccountNameArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let account = find_account(&*store, &args.name).await?;
    let token = ProductToken::generate();
    let change = AccountChange {
        token_hash: Some(token.hash()),
        ..AccountChange::default()
    };
    store
        .update_account(account.id, change)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {} ({}) is gone", account.id, account.name))?;
    println!(
        "New product token of account {} ({}); the old one no longer works:",
        account.id, account.name
    );
    println!("{token}");
    Ok(())
}

pub async fn rotate_secret(args: AccountNameArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let account = find_account(&*store, &args.name).await?;
    let secret = WebhookSecret::generate();
    let change = AccountChange {
        webhook_secrets: Some(
            account
                .webhook_secrets
                .rotated(secret.clone(), Timestamp::now()),
        ),
        ..AccountChange::default()
    };
    store
        .update_account(account.id, change)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {} ({}) is gone", account.id, account.name))?;
    println!(
        "New webhook secret of account {} ({}); the old one signs too for [webhooks] rotation_overlap_hours:",
        account.id, account.name
    );
    println!("{secret}");
    Ok(())
}

pub async fn show(args: AccountShowArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let account = find_account(&*store, &args.name).await?;
    let fields = shown(&account);
    if args.json {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        println!("{}", serde_json::to_string_pretty(&object)?);
    } else {
        for (key, value) in fields {
            let text = match value {
                serde_json::Value::Null => "-".to_owned(),
                serde_json::Value::String(text) => text,
                serde_json::Value::Array(items) if items.is_empty() => "-".to_owned(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| item.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            println!("{key}: {text}");
        }
    }
    Ok(())
}

/// What `account show` shows of `account`, in order: everything but its secrets (its token's
/// hash, its SMPP password's hash, its webhook secrets): of those, when the webhook secret was
/// last replaced.
fn shown(account: &Account) -> Vec<(&'static str, serde_json::Value)> {
    let smpp = account.smpp.as_deref();
    let mut fields = Vec::new();
    let mut field = |key: &'static str, value: serde_json::Value| fields.push((key, value));
    field("id", account.id.into());
    field("name", account.name.clone().into());
    field("state", state(account).into());
    field(
        "channels",
        account
            .channels
            .iter()
            .map(|channel| channel.as_str())
            .collect::<Vec<_>>()
            .into(),
    );
    field(
        "balance",
        account
            .balance
            .map(|b| b.to_string())
            .unwrap_or_else(|| "unlimited".into())
            .into(),
    );
    field("status_url", account.status_url.clone().into());
    field("status_format", account.status_format.as_str().into());
    field("inbound_url", account.inbound_url.clone().into());
    field("inbound_numbers", account.inbound_numbers.clone().into());
    field("smpp_system_id", smpp.map(|s| s.system_id.clone()).into());
    field("smpp_max_binds", smpp.map(|s| s.max_binds.get()).into());
    field(
        "smpp_rate",
        smpp.map(|s| {
            s.rate
                .map(|rate| rate.to_string())
                .unwrap_or_else(|| "unlimited".into())
        })
        .into(),
    );
    field(
        "smpp_receipt_format",
        smpp.map(|s| s.receipt_format.as_str()).into(),
    );
    field(
        "smpp_receipt_pdu",
        smpp.map(|s| s.receipt_pdu.as_str()).into(),
    );
    field(
        "webhook_secret_rotated_at",
        account
            .webhook_secrets
            .previous
            .as_ref()
            .map(|(_, at)| at.to_string())
            .into(),
    );
    field("created_at", account.created_at.to_string().into());
    fields
}

/// `enabled` or `disabled`.
fn state(account: &Account) -> &'static str {
    if account.disabled {
        "disabled"
    } else {
        "enabled"
    }
}

/// The account `wanted` names: by name (which must name one account), or by id.
async fn find_account(store: &dyn Store, wanted: &str) -> anyhow::Result<Account> {
    crate::app_cmd::find_account(store.accounts().await?, "NAME", wanted)
}

/// A status format flag's value.
fn status_format(text: &str) -> anyhow::Result<ReportFormat> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("--status-format: {e}"))
}

/// A `--channels` list: at least one channel Tern carries.
fn channels(text: &str) -> anyhow::Result<Vec<Channel>> {
    let channels = Channel::parse_list(text)
        .map_err(|e| anyhow::anyhow!("--channels: {e}; use SMS, WhatsApp, RCS, Viber and Push"))?;
    anyhow::ensure!(
        !channels.is_empty(),
        "--channels: name at least one channel"
    );
    Ok(channels)
}

/// An `--inbound-numbers` list, normalised.
fn inbound_numbers(list: &str) -> anyhow::Result<Vec<String>> {
    inbound::parse_numbers(list).map_err(|e| anyhow::anyhow!("--inbound-numbers: {e}"))
}

/// A webhook URL flag's value, when given.
fn check_url(flag: &str, url: Option<&str>) -> anyhow::Result<()> {
    if let Some(url) = url {
        check_webhook_url(url).map_err(|why| {
            anyhow::anyhow!(
                "{flag}: '{url}' is not an absolute http:// or https:// URL ({why}), e.g. https://example.com/status"
            )
        })?;
    }
    Ok(())
}

/// Which uniqueness rule a create or an update of `account` (`None`: a new one) broke, as an
/// error: the system id's, if another account has it, else an inbound number's; `Ok` when
/// neither (the caller names the rule left).
async fn explain_conflict(
    store: &dyn Store,
    account: Option<&Account>,
    system_id: Option<&str>,
    numbers: &[String],
) -> anyhow::Result<()> {
    let others: Vec<Account> = store
        .accounts()
        .await?
        .into_iter()
        .filter(|holder| account.is_none_or(|account| account.id != holder.id))
        .collect();
    if let Some(system_id) = system_id
        && let Some(holder) = others.iter().find(|holder| {
            holder
                .smpp
                .as_ref()
                .is_some_and(|s| s.system_id == system_id)
        })
    {
        anyhow::bail!(
            "--smpp-system-id: account {} ({}) has SMPP system id '{system_id}' already; system ids are unique",
            holder.id,
            holder.name
        );
    }
    for holder in &others {
        if let Some(number) = numbers
            .iter()
            .find(|number| holder.inbound_numbers.contains(number))
        {
            anyhow::bail!(
                "--inbound-numbers: account {} ({}) has inbound number {number} already; inbound numbers are unique",
                holder.id,
                holder.name
            );
        }
    }
    Ok(())
}

impl SmppArgs {
    /// Whether any SMPP option is given.
    fn any(&self) -> bool {
        [
            &self.smpp_system_id,
            &self.smpp_password,
            &self.smpp_max_binds,
            &self.smpp_rate,
            &self.smpp_receipt_format,
            &self.smpp_receipt_pdu,
        ]
        .iter()
        .any(|value| value.is_some())
    }
}

/// The SMPP settings the flags ask for, on top of the account's `current` ones (`None`: a new
/// account, or one without SMPP). Without SMPP settings so far: none without `--smpp-system-id`
/// (and then no other `--smpp-*` flag may be given: it would have no effect), else the id and
/// password checked, the password hashed, and the options given or their defaults. With them:
/// what is given replaces what the account has, the rest is kept.
fn smpp_settings(
    args: &SmppArgs,
    current: Option<&SmppSettings>,
) -> anyhow::Result<Option<SmppSettings>> {
    let hashed = |system_id: &str, password: &str| {
        SmppSettings::new(system_id, password).map_err(|e| anyhow::anyhow!("--smpp-password: {e}"))
    };
    let mut settings = match (&args.smpp_system_id, current) {
        (None, None) => {
            anyhow::ensure!(
                args.smpp_password.is_none(),
                "--smpp-password needs --smpp-system-id: a password alone names no SMPP login"
            );
            let options = [
                ("--smpp-max-binds", &args.smpp_max_binds),
                ("--smpp-rate", &args.smpp_rate),
                ("--smpp-receipt-format", &args.smpp_receipt_format),
                ("--smpp-receipt-pdu", &args.smpp_receipt_pdu),
            ];
            if let Some((flag, _)) = options.iter().find(|(_, value)| value.is_some()) {
                anyhow::bail!(
                    "{flag} needs --smpp-system-id: SMPP options apply only to an account SMPP clients can bind to"
                );
            }
            return Ok(None);
        }
        (Some(system_id), None) => {
            check_system_id(system_id).map_err(|e| anyhow::anyhow!("--smpp-system-id: {e}"))?;
            let password = args.smpp_password.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "--smpp-system-id needs --smpp-password: SMPP clients bind with both"
                )
            })?;
            hashed(system_id, password)?
        }
        (system_id, Some(current)) => {
            let system_id = system_id.as_deref().unwrap_or(&current.system_id);
            check_system_id(system_id).map_err(|e| anyhow::anyhow!("--smpp-system-id: {e}"))?;
            let password = match &args.smpp_password {
                Some(password) => hashed(system_id, password)?.password,
                None => current.password.clone(),
            };
            SmppSettings {
                system_id: system_id.to_owned(),
                password,
                ..current.clone()
            }
        }
    };
    if let Some(text) = &args.smpp_max_binds {
        settings.max_binds = at_least_one("--smpp-max-binds", text)?;
    }
    if let Some(text) = &args.smpp_rate {
        settings.rate = Some(at_least_one("--smpp-rate", text)?);
    }
    if let Some(text) = &args.smpp_receipt_format {
        settings.receipt_format = text
            .parse::<ReceiptFormat>()
            .map_err(|e| anyhow::anyhow!("--smpp-receipt-format: {e}"))?;
    }
    if let Some(text) = &args.smpp_receipt_pdu {
        settings.receipt_pdu = text
            .parse::<ReceiptPdu>()
            .map_err(|e| anyhow::anyhow!("--smpp-receipt-pdu: {e}"))?;
    }
    Ok(Some(settings))
}

/// A whole number of at least 1.
fn at_least_one(flag: &str, text: &str) -> anyhow::Result<NonZeroU32> {
    text.trim()
        .parse::<NonZeroU32>()
        .map_err(|_| anyhow::anyhow!("{flag}: '{text}' is not a whole number of at least 1"))
}

/// Why `url` cannot be a webhook URL: it must parse as an absolute URL with an http or https
/// scheme and a host (what the notifier can POST to).
fn check_webhook_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| error.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(())
}

pub async fn list(args: AccountListArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let accounts = store.accounts().await?;
    println!(
        "ID\tNAME\tCHANNELS\tBALANCE\tSTATUS_URL\tFORMAT\tSMPP_SYSTEM_ID\tSMPP_MAX_BINDS\tSMPP_RATE\tSMPP_RECEIPT_FORMAT\tSMPP_RECEIPT_PDU\tINBOUND_NUMBERS\tSTATE"
    );
    for account in accounts {
        // An account without SMPP shows `-` in each SMPP column; the password never shows.
        let smpp = match &account.smpp {
            Some(smpp) => [
                smpp.system_id.clone(),
                smpp.max_binds.to_string(),
                smpp.rate
                    .map(|rate| rate.to_string())
                    .unwrap_or_else(|| "unlimited".into()),
                smpp.receipt_format.as_str().into(),
                smpp.receipt_pdu.as_str().into(),
            ],
            None => std::array::from_fn(|_| "-".to_owned()),
        };
        // An account without inbound numbers shows `-`.
        let inbound_numbers = if account.inbound_numbers.is_empty() {
            "-".to_owned()
        } else {
            account.inbound_numbers.join(",")
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            account.id,
            account.name,
            Channel::join(&account.channels),
            account
                .balance
                .map(|b| b.to_string())
                .unwrap_or_else(|| "unlimited".into()),
            account.status_url.as_deref().unwrap_or("-"),
            account.status_format.as_str(),
            smpp.join("\t"),
            inbound_numbers,
            state(&account),
        );
    }
    Ok(())
}
