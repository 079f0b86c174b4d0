//! Google's RCS Business Messaging (RBM) API on the wire, so that Tern can carry CM's RCS channel
//! itself: the `AgentMessage` Tern posts to `/v1/phones/{+E164}/agentMessages` ([`send`]), the
//! success and error answers it reads back ([`response`]), the webhook Google posts (a Pub/Sub
//! push envelope whose base64 `data` is a user event, a user message or a server event, and the
//! validation request, [`webhook`]), and the `X-Goog-Signature` check on it ([`signature`]).
//!
//! Field names are Google's (camelCase), exactly. Everything here is pure: the connector, the
//! webhook endpoint and the local stand-in of the API share these types, and tern-core decides
//! what CM content becomes which agent messages and what an error or an event means for a
//! message. The OAuth2 token the API wants is [`crate::google_auth`]'s.

pub mod response;
pub mod send;
pub mod signature;
pub mod webhook;

pub use response::{ErrorResponse, GoogleError, SendResponse};
pub use send::{AgentMessage, ContentMessage, Suggestion, agent_messages_path};
pub use signature::{sign, validation_answer, verify_signature};
pub use webhook::{
    Event, PushEnvelope, ServerEvent, ServerEventType, UserContent, UserEvent, UserEventType,
    UserMessage, ValidationRequest, WebhookBody, WebhookError,
};

/// The OAuth2 scope of the RBM API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/rcsbusinessmessaging";

/// The API's production host (regional ones have `us-`, `europe-` or `asia-` before it).
pub const BASE_URL: &str = "https://rcsbusinessmessaging.googleapis.com";
