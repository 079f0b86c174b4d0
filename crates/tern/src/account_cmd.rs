//! `tern account create` and `tern account list`. They open the data directory directly, so they
//! work whether or not a gateway is running on it (SQLite serialises the writers).

use std::num::NonZeroU32;

use tern_core::account::{NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::inbound;
use tern_core::money::Money;
use tern_core::ports::StoreError;
use tern_core::smpp_account::{ReceiptFormat, ReceiptPdu, SmppSettings, check_system_id};

use crate::cli::{AccountCreateArgs, AccountListArgs};

pub async fn create(args: AccountCreateArgs) -> anyhow::Result<()> {
    let token = match &args.token {
        Some(text) => text
            .parse::<ProductToken>()
            .map_err(|e| anyhow::anyhow!("--token: {e}"))?,
        None => ProductToken::generate(),
    };
    let balance = args
        .balance
        .as_deref()
        .map(str::parse::<Money>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--balance: {e}"))?;
    let status_format: ReportFormat = args
        .status_format
        .parse()
        .map_err(|e| anyhow::anyhow!("--status-format: {e}"))?;
    let channels = Channel::parse_list(&args.channels)
        .map_err(|e| anyhow::anyhow!("--channels: {e}; use SMS, WhatsApp, RCS, Viber and Push"))?;
    anyhow::ensure!(
        !channels.is_empty(),
        "--channels: name at least one channel"
    );
    for (flag, url) in [
        ("--status-url", &args.status_url),
        ("--inbound-url", &args.inbound_url),
    ] {
        if let Some(url) = url {
            check_webhook_url(url).map_err(|why| {
                anyhow::anyhow!(
                    "{flag}: '{url}' is not an absolute http:// or https:// URL ({why}), e.g. https://example.com/status"
                )
            })?;
        }
    }
    let inbound_numbers = match &args.inbound_numbers {
        Some(list) => {
            inbound::parse_numbers(list).map_err(|e| anyhow::anyhow!("--inbound-numbers: {e}"))?
        }
        None => Vec::new(),
    };
    let name = args.name.trim().to_owned();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let smpp = smpp_settings(&args)?;
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
        })
        .await;
    let account = match account {
        Ok(account) => account,
        Err(StoreError::Conflict(_)) => {
            // Which rule was broken: the system id's, if an account has it, else the token's.
            if let Some(system_id) = system_id
                && let Some(holder) = store.account_by_smpp_system_id(&system_id).await?
            {
                anyhow::bail!(
                    "--smpp-system-id: account {} ({}) has SMPP system id '{system_id}' already; system ids are unique",
                    holder.id,
                    holder.name
                );
            }
            // Or an inbound number's, if an account has one of them.
            for holder in store.accounts().await? {
                if let Some(number) = inbound_numbers
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
    println!("{token}");
    Ok(())
}

/// The SMPP settings the flags ask for: none without `--smpp-system-id` (and then no other
/// `--smpp-*` flag may be given: it would have no effect), else the id and password checked, the
/// password hashed, and the options given or their defaults.
fn smpp_settings(args: &AccountCreateArgs) -> anyhow::Result<Option<SmppSettings>> {
    let Some(system_id) = &args.smpp_system_id else {
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
    };
    check_system_id(system_id).map_err(|e| anyhow::anyhow!("--smpp-system-id: {e}"))?;
    let password = args.smpp_password.as_deref().ok_or_else(|| {
        anyhow::anyhow!("--smpp-system-id needs --smpp-password: SMPP clients bind with both")
    })?;
    let mut settings = SmppSettings::new(system_id, password)
        .map_err(|e| anyhow::anyhow!("--smpp-password: {e}"))?;
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
        "ID\tNAME\tCHANNELS\tBALANCE\tSTATUS_URL\tFORMAT\tSMPP_SYSTEM_ID\tSMPP_MAX_BINDS\tSMPP_RATE\tSMPP_RECEIPT_FORMAT\tSMPP_RECEIPT_PDU\tINBOUND_NUMBERS"
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
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
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
        );
    }
    Ok(())
}
