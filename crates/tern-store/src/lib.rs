//! Tern's Store port on its backends. The embedded backend is SQLite: WAL with
//! `synchronous=FULL`, one writer thread that commits many requests per transaction (group
//! commit), so every `accept` is fsynced before it returns without paying one fsync per message.

pub mod sqlite;

pub use sqlite::SqliteStore;
