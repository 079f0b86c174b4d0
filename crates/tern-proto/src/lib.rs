//! Wire formats and pure algorithms for Tern, with no I/O: the CM Business Messaging request and
//! response types (case-insensitive keys), SMS encoding, the SMPP 3.4 codec and session state
//! machine, and Meta's WhatsApp Cloud API (requests, answers, webhooks, signatures). Everything
//! here is deterministic and testable without a runtime, so the edges (HTTP, SMPP) and the domain
//! share one parser.

pub mod cm;
pub mod fcm;
pub mod google_auth;
pub mod http1;
pub mod push_sdk;
pub mod rbm;
pub mod smpp;
pub mod sms;
pub mod whatsapp;
