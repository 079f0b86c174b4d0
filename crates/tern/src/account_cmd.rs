//! `tern account create` and `tern account list`. They open the data directory directly, so they
//! work whether or not a gateway is running on it (SQLite serialises the writers).

use std::sync::Arc;

use anyhow::Context;
use tern_core::account::{NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::money::Money;
use tern_core::ports::{NodeId, Store, StoreError};
use tern_store::StoreConfig;

use crate::cli::{AccountCreateArgs, AccountListArgs};

fn open(data_dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    let config = StoreConfig::Sqlite {
        data_dir: data_dir.to_owned(),
    };
    tern_store::open(&config, NodeId::new(NodeId::EMBEDDED))
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

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
    let name = args.name.trim().to_owned();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let store = open(&args.data_dir)?;
    let account = store
        .create_account(NewAccount {
            name,
            token_hash: token.hash(),
            balance,
            status_url: args.status_url,
            status_format,
            inbound_url: args.inbound_url,
            channels,
            smpp: None,
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict(_) => anyhow::anyhow!("an account with this token exists already"),
            other => anyhow::Error::new(other),
        })?;
    println!(
        "Created account {} ({}), channels {}",
        account.id,
        account.name,
        Channel::join(&account.channels)
    );
    println!("{token}");
    Ok(())
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
    let store = open(&args.data_dir)?;
    let accounts = store.accounts().await?;
    println!("ID\tNAME\tCHANNELS\tBALANCE\tSTATUS_URL\tFORMAT");
    for account in accounts {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            account.id,
            account.name,
            Channel::join(&account.channels),
            account
                .balance
                .map(|b| b.to_string())
                .unwrap_or_else(|| "unlimited".into()),
            account.status_url.as_deref().unwrap_or("-"),
            account.status_format.as_str(),
        );
    }
    Ok(())
}
