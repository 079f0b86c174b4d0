//! `tern blocklist add|remove|list`: the numbers an account (or, `--global`, every account) does
//! not send to. Like `tern account`, they open the store directly, so they work whether or not a
//! gateway is running on it; a running gateway sees a change within a second
//! (`tern_store::CachedBlocklist`).

use tern_core::account::Account;
use tern_core::blocklist::{self, BlockScope};

use crate::app_cmd::find_account;
use crate::cli::{BlocklistChangeArgs, BlocklistListArgs, BlocklistScopeArgs};

/// The list `args` names, with the account it belongs to; `None` when it names none.
fn scope(
    args: &BlocklistScopeArgs,
    accounts: &[Account],
) -> anyhow::Result<Option<(BlockScope, Option<Account>)>> {
    if args.global {
        return Ok(Some((BlockScope::Global, None)));
    }
    match &args.account {
        Some(name) => {
            let account = find_account(accounts.to_vec(), "--account", name)?;
            Ok(Some((BlockScope::Account(account.id), Some(account))))
        }
        None => Ok(None),
    }
}

/// How a list is named in output.
fn list_name(scope: BlockScope, accounts: &[Account]) -> String {
    match scope {
        BlockScope::Global => "global".to_owned(),
        BlockScope::Account(id) => accounts
            .iter()
            .find(|account| account.id == id)
            .map_or_else(|| format!("account {id}"), |account| account.name.clone()),
    }
}

/// The numbers of `args`, normalised, each once, in the order given.
fn numbers(args: &BlocklistChangeArgs) -> anyhow::Result<Vec<String>> {
    let mut numbers: Vec<String> = Vec::new();
    for given in &args.numbers {
        let number = blocklist::normalise(given).map_err(|e| anyhow::anyhow!("{e}"))?;
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    Ok(numbers)
}

async fn change(args: BlocklistChangeArgs, add: bool) -> anyhow::Result<()> {
    let numbers = numbers(&args)?;
    let store = crate::store::open_for_command(&args.store)?;
    let accounts = store.accounts().await?;
    let Some((scope, _)) = scope(&args.scope, &accounts)? else {
        anyhow::bail!("name the list: --account NAME, or --global for every account");
    };
    let name = list_name(scope, &accounts);
    let count = numbers.len();
    if add {
        let added = store
            .block(scope, numbers.clone(), jiff::Timestamp::now())
            .await?;
        println!(
            "Added {added} number(s) to the {name} blocklist ({} already on it)",
            count as u64 - added
        );
    } else {
        let removed = store.unblock(scope, numbers.clone()).await?;
        println!(
            "Removed {removed} number(s) from the {name} blocklist ({} were not on it)",
            count as u64 - removed
        );
    }
    Ok(())
}

pub async fn add(args: BlocklistChangeArgs) -> anyhow::Result<()> {
    change(args, true).await
}

pub async fn remove(args: BlocklistChangeArgs) -> anyhow::Result<()> {
    change(args, false).await
}

pub async fn list(args: BlocklistListArgs) -> anyhow::Result<()> {
    let store = crate::store::open_for_command(&args.store)?;
    let accounts = store.accounts().await?;
    let scope = scope(&args.scope, &accounts)?.map(|(scope, _)| scope);
    println!("LIST\tNUMBER\tBLOCKED_AT");
    for blocked in store.blocked_numbers(scope).await? {
        println!(
            "{}\t{}\t{}",
            list_name(blocked.scope, &accounts),
            blocked.number,
            blocked
                .blocked_at
                .round(jiff::Unit::Second)
                .unwrap_or(blocked.blocked_at)
        );
    }
    Ok(())
}
