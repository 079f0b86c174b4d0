//! The store conformance suite (`tests/conformance/`) on PostgreSQL: the same test files, run on
//! a throwaway cluster this binary starts (`tern_testkit::postgres`), each test on a database of
//! its own. Every role of the port joins here as the PostgreSQL backend gains it.

/// The backend this binary tests (see `harness::kind`).
const BACKEND: harness::Kind = harness::Kind::Postgres;

#[path = "../conformance/harness.rs"]
mod harness;

#[path = "../conformance/accounts.rs"]
mod accounts;

#[path = "../conformance/cache.rs"]
mod cache;

#[path = "../conformance/health.rs"]
mod health;

#[path = "../conformance/cancel.rs"]
mod cancel;

#[path = "../conformance/intake.rs"]
mod intake;

#[path = "../conformance/parts.rs"]
mod parts;

#[path = "../conformance/queue.rs"]
mod queue;

#[path = "../conformance/replace.rs"]
mod replace;

#[path = "../conformance/segments.rs"]
mod segments;

#[path = "../conformance/push.rs"]
mod push;

#[path = "../conformance/inbound.rs"]
mod inbound;
