//! `tern app create` and `tern app list`: push apps, CM's app keys. A push app belongs to an
//! account and sends through one FCM connector; devices with CM's app SDK register under its key
//! (`/channelswebhook/push/v2/accounts/{appKey}/register`), and messages name it as `appKey`.
//! Like `tern account`, they open the data directory directly, so they work whether or not a
//! gateway is running on it.

use tern_core::account::Account;
use tern_core::push::{AppKey, NewPushApp};

use crate::cli::{AppCreateArgs, AppListArgs};
use crate::config;

/// The connector kind a push app's connector must have.
const FCM_KIND: &str = "fcm";

/// The account `wanted` (the value of `flag`) names: by name (which must name one account), or
/// by id.
pub(crate) fn find_account(
    accounts: Vec<Account>,
    flag: &str,
    wanted: &str,
) -> anyhow::Result<Account> {
    let wanted = wanted.trim();
    let by_name: Vec<&Account> = accounts.iter().filter(|a| a.name == wanted).collect();
    match by_name.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        several => anyhow::bail!(
            "{flag}: {} accounts are named '{wanted}' (ids {}); name one by its id",
            several.len(),
            several
                .iter()
                .map(|a| a.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    if let Ok(id) = wanted.parse::<i64>()
        && let Some(account) = accounts.iter().find(|a| a.id == id)
    {
        return Ok(account.clone());
    }
    anyhow::bail!("{flag}: no account is named '{wanted}' (see `tern account list`)")
}

pub async fn create(args: AppCreateArgs) -> anyhow::Result<()> {
    let name = args.name.trim().to_owned();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let connector = args.connector.trim().to_owned();
    anyhow::ensure!(!connector.is_empty(), "--connector must not be empty");
    let key = match &args.key {
        Some(text) => text
            .parse::<AppKey>()
            .map_err(|e| anyhow::anyhow!("--key: {e}"))?,
        None => AppKey::generate(),
    };
    if let Some(file) = &args.config {
        let config = config::load(
            Some(file),
            Some(args.store.data_dir.clone()),
            None,
            None,
            None,
        )?;
        let found = config.connectors.iter().find(|c| c.name == connector);
        match found {
            Some(c) if c.kind == FCM_KIND => {}
            Some(c) => anyhow::bail!(
                "--connector: connector '{connector}' in {} has kind '{}', not '{FCM_KIND}'",
                file.display(),
                c.kind
            ),
            None => anyhow::bail!(
                "--connector: {} has no [[connector]] named '{connector}'",
                file.display()
            ),
        }
    }
    let store = crate::store::open_for_command(&args.store)?;
    let account = find_account(store.accounts().await?, "--account", &args.account)?;
    let app = store
        .create_app(NewPushApp {
            key,
            account_id: account.id,
            name,
            connector,
        })
        .await
        .map_err(|error| match error {
            tern_core::ports::StoreError::Conflict(_) => {
                anyhow::anyhow!("--key: a push app with key {key} exists already")
            }
            other => other.into(),
        })?;
    println!(
        "Created push app {} for account {} ({}), connector {}",
        app.name, account.id, account.name, app.connector
    );
    println!("{}", app.key);
    Ok(())
}

pub async fn list(args: AppListArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let accounts = store.accounts().await?;
    let apps = store.apps().await?;
    println!("KEY\tACCOUNT\tNAME\tCONNECTOR\tINSTALLATIONS");
    for listing in apps {
        let app = &listing.app;
        let account = accounts
            .iter()
            .find(|a| a.id == app.account_id)
            .map(|a| a.name.as_str())
            .unwrap_or("-");
        println!(
            "{}\t{account}\t{}\t{}\t{}",
            app.key, app.name, app.connector, listing.installations
        );
    }
    Ok(())
}
