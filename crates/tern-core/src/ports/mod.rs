//! The ports the edges implement. The store, split by role ([`store`]): accounts, intake, the
//! queue, the outbox, the message log, inbound (MO) messages and the store's health, each a
//! narrow trait a consumer takes alone, and [`Store`], every role of one backend (SQLite embedded, PostgreSQL for several
//! nodes). The connector ([`connector`]): a route to operators or a channel provider. The SMPP
//! sessions receipts go out on ([`receivers`]). Where providers' webhooks go ([`webhooks`]). The domain decides; a store records decisions
//! atomically and hands out due work under leases.

mod connector;
mod receivers;
mod store;
mod webhooks;

pub use connector::*;
pub use receivers::*;
pub use store::*;
pub use webhooks::*;
