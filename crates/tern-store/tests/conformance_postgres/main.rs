//! The store conformance suite (`tests/conformance/`) on PostgreSQL: the same test files, run on
//! a throwaway cluster this binary starts (`tern_testkit::postgres`), each test on a database of
//! its own. Every role of the port joins here as the PostgreSQL backend gains it.

/// The backend this binary tests (see `harness::kind`).
const BACKEND: harness::Kind = harness::Kind::Postgres;

#[path = "../conformance/harness.rs"]
mod harness;

#[path = "../conformance/accounts.rs"]
mod accounts;

#[path = "../conformance/push.rs"]
mod push;
