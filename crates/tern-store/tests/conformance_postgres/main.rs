//! The store conformance suite (`tests/conformance/`) on PostgreSQL: the same test files as
//! `conformance` (SQLite), every one of them, run on a throwaway cluster this binary starts
//! (`tern_testkit::postgres`), each test on a database of its own. A module listed there and not
//! here would be a behaviour only one backend is held to: keep the two lists the same.

/// The backend this binary tests (see `harness::kind`).
const BACKEND: harness::Kind = harness::Kind::Postgres;

#[path = "../conformance/depths.rs"]
mod depths;

#[path = "../conformance/harness.rs"]
mod harness;

#[path = "../conformance/account_changes.rs"]
mod account_changes;
#[path = "../conformance/accounts.rs"]
mod accounts;
#[path = "../conformance/blocklist.rs"]
mod blocklist;
#[path = "../conformance/cache.rs"]
mod cache;
#[path = "../conformance/cancel.rs"]
mod cancel;
#[path = "../conformance/cluster.rs"]
mod cluster;
#[path = "../conformance/fresh.rs"]
mod fresh;
#[path = "../conformance/fresh_messages.rs"]
mod fresh_messages;
#[path = "../conformance/health.rs"]
mod health;
#[path = "../conformance/idempotency.rs"]
mod idempotency;
#[path = "../conformance/inbound.rs"]
mod inbound;
#[path = "../conformance/intake.rs"]
mod intake;
#[path = "../conformance/log.rs"]
mod log;
#[path = "../conformance/outbox.rs"]
mod outbox;
#[path = "../conformance/parts.rs"]
mod parts;
#[path = "../conformance/push.rs"]
mod push;
#[path = "../conformance/queue.rs"]
mod queue;
#[path = "../conformance/rates.rs"]
mod rates;
#[path = "../conformance/receipts.rs"]
mod receipts;
#[path = "../conformance/replace.rs"]
mod replace;
#[path = "../conformance/segments.rs"]
mod segments;
#[path = "../conformance/signals.rs"]
mod signals;
