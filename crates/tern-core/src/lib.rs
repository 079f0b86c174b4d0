//! Tern's domain. It knows nothing of HTTP, SQL or sockets: it turns a submission into accepted
//! and rejected messages with CM's exact codes, decides what happens to a message when an event
//! arrives (send, fall back, expire, report), chooses the connectors of a message (routing), and
//! declares the ports the edges implement.

pub mod account;
pub mod blocklist;
pub mod channel;
pub mod conversion;
pub mod dispatch;
pub mod error_code;
pub mod funnel;
pub mod hold;
pub mod idempotency;
pub mod inbound;
pub mod message;
pub mod metrics;
pub mod money;
pub mod operator_receipt;
pub mod outbox;
pub mod outgoing_sms;
pub mod part_reports;
pub mod ports;
pub mod provider;
pub mod push;
pub mod rate;
pub mod rbm;
pub mod report;
pub mod rich_content;
pub mod routing;
pub mod segments;
pub mod short_message;
pub mod smpp_account;
pub mod smpp_receipt;
pub mod status;
pub mod submission;
pub mod submitter;
pub mod validity;
pub mod webhook_signature;
pub mod whatsapp;

pub use jiff::Timestamp;
