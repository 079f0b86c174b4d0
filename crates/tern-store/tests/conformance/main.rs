//! The store conformance suite: what every backend of the store port must do, as test functions
//! written once against the port (`tern_core::ports`). This binary runs them on SQLite;
//! `conformance_postgres` runs the same files on PostgreSQL (a throwaway cluster it starts).
//! A behaviour one backend has and another lacks is a failing test here, not a note. What only one backend has (SQLite's writer thread, its file, its checkpoints)
//! is tested beside that backend instead.
//!
//! One module per role of the port (the outbox's tests are their own, and so are inbound
//! messages'), and the account cache that decorates any backend.

/// The backend this binary tests (see `harness::kind`).
const BACKEND: harness::Kind = harness::Kind::Sqlite;

mod account_changes;
mod accounts;
mod blocklist;
mod cache;
mod cancel;
mod cluster;
mod depths;
mod fresh;
mod fresh_messages;
mod harness;
mod health;
mod idempotency;
mod inbound;
mod intake;
mod log;
mod outbox;
mod parts;
mod push;
mod queue;
mod rates;
mod receipts;
mod replace;
mod segments;
mod signals;
