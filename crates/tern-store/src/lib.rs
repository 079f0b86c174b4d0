//! Tern's store port on its backends, and what sits in front of any backend. The embedded backend
//! is SQLite ([`sqlite`]): WAL with `synchronous=FULL`, one writer thread that commits many
//! requests per transaction (group commit), so every `accept` is fsynced before it returns
//! without paying one fsync per message. Several nodes share one PostgreSQL database
//! ([`postgres`]). [`open`] chooses the backend from configuration; [`CachedAccounts`] is the
//! account cache in front of whichever backend it is, [`CachedBlocklist`] the blocklists'.

mod blocklist_cache;
mod cache;
mod factory;
pub mod postgres;
pub mod sqlite;

pub use blocklist_cache::CachedBlocklist;
pub use cache::CachedAccounts;
pub use factory::{StoreConfig, open};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
