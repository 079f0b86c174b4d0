//! Tern's edges that accept work: the CM HTTP API (`POST /v1.0/message`, the message log, health)
//! and the SMPP 3.4 server.
//! Handlers only translate between HTTP and the domain's one submission path in `tern-core`.

pub mod http;
pub mod smpp;
