//! The store conformance suite: what every backend of the store port must do, as test functions
//! written once against the port (`tern_core::ports`) and run against the backend that
//! `TERN_TEST_STORE` names (`sqlite`, the default; `postgres` once that backend exists, with
//! `TERN_TEST_DATABASE_URL`). A behaviour one backend has and another lacks is a failing test
//! here, not a note. What only one backend has (SQLite's writer thread, its file, its checkpoints)
//! is tested beside that backend instead.
//!
//! One module per role of the port (the outbox's tests are their own, and so are inbound
//! messages'), and the account cache that decorates any backend.

mod accounts;
mod cache;
mod cancel;
mod harness;
mod health;
mod inbound;
mod intake;
mod log;
mod outbox;
mod parts;
mod queue;
mod receipts;
mod replace;
mod segments;
