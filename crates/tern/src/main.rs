//! The `tern` binary: command line, configuration, logging, wiring and graceful shutdown.

mod account_cmd;
mod app_cmd;
mod blocklist_cmd;
mod cli;
mod config;
mod logging;
mod metrics;
mod serve;
mod smsc_sim;
mod store;

use clap::Parser;

/// mimalloc rather than the system allocator: the gateway allocates and frees many small,
/// short-lived values per message on several threads, where glibc's malloc spends a large share of
/// the CPU (measured in docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // SAFETY: first thing in the process: no thread has been spawned, nothing has used SQLite.
    unsafe { tern_store::sqlite::use_mimalloc() };
    let cli = cli::Cli::parse();
    // reqwest is built without a bundled crypto provider; ring is the one we ship.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config_file = match &cli.command {
        cli::Command::Serve(args) => args.config.as_deref(),
        _ => None,
    };
    logging::init(logging::format(config_file)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(args).await,
            cli::Command::Account(cli::AccountCommand::Create(args)) => {
                account_cmd::create(*args).await
            }
            cli::Command::Account(cli::AccountCommand::List(args)) => account_cmd::list(args).await,
            cli::Command::Account(cli::AccountCommand::Update(args)) => {
                account_cmd::update(*args).await
            }
            cli::Command::Account(cli::AccountCommand::Show(args)) => account_cmd::show(args).await,
            cli::Command::Account(cli::AccountCommand::RotateToken(args)) => {
                account_cmd::rotate_token(args).await
            }
            cli::Command::Account(cli::AccountCommand::RotateSecret(args)) => {
                account_cmd::rotate_secret(args).await
            }
            cli::Command::App(cli::AppCommand::Create(args)) => app_cmd::create(args).await,
            cli::Command::App(cli::AppCommand::List(args)) => app_cmd::list(args).await,
            cli::Command::Blocklist(cli::BlocklistCommand::Add(args)) => {
                blocklist_cmd::add(args).await
            }
            cli::Command::Blocklist(cli::BlocklistCommand::Remove(args)) => {
                blocklist_cmd::remove(args).await
            }
            cli::Command::Blocklist(cli::BlocklistCommand::List(args)) => {
                blocklist_cmd::list(args).await
            }
            cli::Command::SmscSim(args) => smsc_sim::run(args).await,
            cli::Command::Migrate(args) => {
                // Opening the store brings its schema up to date.
                crate::store::open(
                    &tern_store::StoreConfig::Postgres {
                        url: args.database_url,
                    },
                    tern_core::ports::NodeId::new(tern_core::ports::NodeId::EMBEDDED),
                )?;
                println!("schema version {}", tern_store::postgres::SCHEMA_VERSION);
                Ok(())
            }
            cli::Command::Openapi => {
                println!("{}", tern_ingress::http::openapi::document());
                Ok(())
            }
        }
    })
}
