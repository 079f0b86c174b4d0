//! Meta's WhatsApp Business Cloud API (the Graph API) on the wire, so that Tern can carry CM's
//! WhatsApp channel itself: the send request Tern posts to `/{phone-number-id}/messages`
//! ([`send`]), the success and error answers it reads back ([`response`]), the webhook payloads
//! Meta posts with statuses and inbound messages ([`webhook`]), and the checks on those webhooks
//! (the `X-Hub-Signature-256` HMAC and the GET subscription handshake, [`signature`]).
//!
//! Field names are Meta's, exactly. Everything here is pure: the connector, the webhook endpoint
//! and the local stand-in of Meta's API share these types, and tern-core decides what CM content
//! becomes which request and what an error code or a status means for a message.

pub mod response;
pub mod send;
pub mod signature;
pub mod webhook;

pub use response::{ErrorData, ErrorResponse, GraphError, SendResponse};
pub use send::{Body, Request};
pub use signature::{Subscription, sign, verify_signature, verify_subscription};
pub use webhook::{
    InboundContent, InboundMessage, Notification, Status, StatusKind, WebhookBodyError,
};

/// The value of `messaging_product` in every request and payload.
pub const MESSAGING_PRODUCT: &str = "whatsapp";
