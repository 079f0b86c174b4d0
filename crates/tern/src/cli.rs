//! The command line. Command and flag names are a contract with users' scripts: add, never rename.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Tern: a self-hostable, CM.com-compatible business messaging gateway.
#[derive(Debug, Parser)]
#[command(name = "tern", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage push apps (CM app keys that devices register under).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage blocklists: numbers an account (or every account) does not send to.
    #[command(subcommand)]
    Blocklist(BlocklistCommand),
    /// Bring a PostgreSQL database's schema to this version of Tern (`tern serve` does it too,
    /// at start); prints the schema version.
    Migrate(MigrateArgs),
    /// Print the OpenAPI 3.1 document of the JSON endpoints.
    Openapi,
    /// Run a standalone SMSC simulator (SMPP server with receipts, MO injection and an HTTP
    /// control API) for tests, benchmarks and trying a setup.
    SmscSim(crate::smsc_sim::SmscSimArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "TERN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where data is kept (default ./tern-data).
    #[arg(long, env = "TERN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address (default 127.0.0.1:8080).
    #[arg(long, env = "TERN_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// SMPP listen address, or `off` (default 127.0.0.1:2775).
    #[arg(long, env = "TERN_SMPP_ADDR", value_name = "ADDR")]
    pub smpp_addr: Option<crate::config::SmppAddr>,
    /// PostgreSQL database (`postgres://…`) shared by the gateway's nodes: when set, the store
    /// is PostgreSQL and --data-dir holds no messages. Without it, SQLite in --data-dir.
    #[arg(long, env = "TERN_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

/// Where a command finds the store: a PostgreSQL database when given, else the data directory.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Data directory of the gateway (default ./tern-data).
    #[arg(long, env = "TERN_DATA_DIR", default_value = "./tern-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL database (`postgres://…`) of the gateway: when set, used instead of
    /// --data-dir.
    #[arg(long, env = "TERN_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database (`postgres://…`).
    #[arg(long, env = "TERN_DATABASE_URL", value_name = "URL")]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its webhook secret, then its product token as the last line.
    Create(Box<AccountCreateArgs>),
    /// List accounts.
    List(AccountListArgs),
    /// Change an account: only what the options name changes. A running gateway sees the
    /// change within a second.
    Update(Box<AccountUpdateArgs>),
    /// Show an account (everything but its secrets).
    Show(AccountShowArgs),
    /// Give an account a new product token, printed as the last line; the old one stops
    /// working (on a running gateway within a second).
    RotateToken(AccountNameArgs),
    /// Give an account a new webhook secret, printed as the last line; the old one signs too
    /// for `[webhooks] rotation_overlap_hours`.
    RotateSecret(AccountNameArgs),
}

/// The SMPP options of `account create` and `account update`.
#[derive(Debug, Args)]
pub struct SmppArgs {
    /// SMPP system id clients bind with: 1-15 printable ASCII characters, no spaces, unique.
    #[arg(long, value_name = "ID")]
    pub smpp_system_id: Option<String>,
    /// SMPP password: 1-8 printable ASCII characters; required with --smpp-system-id when the
    /// account has no SMPP login yet. Stored hashed (Argon2id).
    #[arg(long, value_name = "PW")]
    pub smpp_password: Option<String>,
    /// Most SMPP sessions bound at once (at least 1) [default: 8].
    #[arg(long, value_name = "N")]
    pub smpp_max_binds: Option<String>,
    /// Submitted SMS parts per second over SMPP (at least 1) [default: unlimited].
    #[arg(long, value_name = "N")]
    pub smpp_rate: Option<String>,
    /// SMPP delivery receipt text: cm or appendix-b [default: cm].
    #[arg(long, value_name = "FORMAT")]
    pub smpp_receipt_format: Option<String>,
    /// SMPP PDU receipts are sent in: deliver_sm or data_sm [default: deliver_sm].
    #[arg(long, value_name = "PDU")]
    pub smpp_receipt_pdu: Option<String>,
}

#[derive(Debug, Args)]
pub struct AccountUpdateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The account: its name (or its id).
    pub name: String,
    /// URL status reports are POSTed to; an empty value removes it.
    #[arg(long)]
    pub status_url: Option<String>,
    /// Status report format: json or xml.
    #[arg(long)]
    pub status_format: Option<String>,
    /// URL inbound (MO) messages are POSTed to; an empty value removes it.
    #[arg(long)]
    pub inbound_url: Option<String>,
    /// The account's inbound numbers, comma-separated, in place of the ones it has; an empty
    /// value removes them.
    #[arg(long)]
    pub inbound_numbers: Option<String>,
    /// Channels the account may use, comma-separated, in place of the ones it has.
    #[arg(long)]
    pub channels: Option<String>,
    /// Add to the prepaid balance (e.g. 10.50; negative to take off). Only for an account
    /// created with a balance.
    #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
    pub add_balance: Option<String>,
    /// Disable the account: its requests are answered as an unknown token's, its SMPP binds
    /// refused.
    #[arg(long, conflicts_with = "enable")]
    pub disable: bool,
    /// Enable a disabled account.
    #[arg(long)]
    pub enable: bool,
    #[command(flatten)]
    pub smpp: SmppArgs,
}

#[derive(Debug, Args)]
pub struct AccountShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The account: its name (or its id).
    pub name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AccountNameArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The account: its name (or its id).
    pub name: String,
}

#[derive(Debug, Args)]
pub struct AccountCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Account name.
    #[arg(long)]
    pub name: String,
    /// Product token (a GUID); generated when absent.
    #[arg(long)]
    pub token: Option<String>,
    /// Prepaid balance (e.g. 10.50); unlimited when absent.
    #[arg(long)]
    pub balance: Option<String>,
    /// URL status reports are POSTed to.
    #[arg(long)]
    pub status_url: Option<String>,
    /// Status report format: json or xml.
    #[arg(long, default_value = "json")]
    pub status_format: String,
    /// URL inbound (MO) messages are POSTed to.
    #[arg(long)]
    pub inbound_url: Option<String>,
    /// Numbers whose inbound (MO) messages are the account's, comma-separated: short codes
    /// (3669) or international numbers (0031612345678, +31612345678); each belongs to one
    /// account.
    #[arg(long)]
    pub inbound_numbers: Option<String>,
    /// Channels the account may use, comma-separated.
    #[arg(long, default_value = "SMS,WhatsApp,RCS,Viber,Push")]
    pub channels: String,
    /// Secret the account's webhooks are signed with (16-255 printable ASCII characters, no
    /// spaces); generated when absent, and printed once.
    #[arg(long, value_name = "SECRET")]
    pub webhook_secret: Option<String>,
    #[command(flatten)]
    pub smpp: SmppArgs,
}

#[derive(Debug, Args)]
pub struct AccountListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a push app; prints its app key (a GUID) as the last line.
    Create(AppCreateArgs),
    /// List push apps with their number of registered installations.
    List(AppListArgs),
}

#[derive(Debug, Args)]
pub struct AppCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The account the app belongs to: its name (or its id).
    #[arg(long)]
    pub account: String,
    /// App name.
    #[arg(long)]
    pub name: String,
    /// The `[[connector]]` (kind fcm) the app's messages go through. Recorded as given; checked
    /// against the configuration only when --config is given.
    #[arg(long)]
    pub connector: String,
    /// TOML configuration file: when given, --connector must name a connector of kind fcm in it.
    #[arg(long, env = "TERN_CONFIG")]
    pub config: Option<PathBuf>,
    /// App key (a GUID); generated when absent.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct AppListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum BlocklistCommand {
    /// Put numbers on a blocklist: messages to them are rejected (402 `Message has been
    /// blacklisted`), and queued ones fail with error 37.
    Add(BlocklistChangeArgs),
    /// Take numbers off a blocklist.
    Remove(BlocklistChangeArgs),
    /// List the numbers on a blocklist (every list when neither --account nor --global is
    /// given).
    List(BlocklistListArgs),
}

/// Which list: one account's, or the global one (every account's).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct BlocklistScopeArgs {
    /// The account whose list it is: its name (or its id).
    #[arg(long)]
    pub account: Option<String>,
    /// The global list, which holds for every account.
    #[arg(long)]
    pub global: bool,
}

#[derive(Debug, Args)]
pub struct BlocklistChangeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: BlocklistScopeArgs,
    /// The numbers, in the 00 form (0031612345678) or with a leading + (+31612345678).
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BlocklistListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: BlocklistScopeArgs,
}
