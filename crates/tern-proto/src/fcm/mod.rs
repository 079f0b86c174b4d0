//! Firebase Cloud Messaging's HTTP v1 API on the wire, so that Tern can carry CM's Push channel
//! itself: the body Tern posts to `/v1/projects/{project}/messages:send` ([`send`]), and the
//! success and Google error answers it reads back ([`response`]). FCM pushes no delivery
//! callback: CM's app SDK confirms delivery to Tern instead (see [`crate::push_sdk`]).
//!
//! Field names are Google's, exactly. Everything here is pure: the connector and the local
//! stand-in of FCM share these types, and tern-core decides what CM content becomes which
//! message and what an error means for a message.

pub mod response;
pub mod send;

pub use response::{ErrorDetail, ErrorResponse, FcmErrorCode, GoogleError, SendResponse};
pub use send::{AndroidConfig, ApnsConfig, Message, Notification, SendRequest};

/// The `data` key CM's app SDK reads its payload from.
pub const DATA_KEY: &str = "cm";

/// The most bytes a message's payload may take (2048 for a topic, which Tern never uses).
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// The OAuth2 scope of the send endpoint.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// The path of the send endpoint of `project_id`.
pub fn send_path(project_id: &str) -> String {
    format!("/v1/projects/{project_id}/messages:send")
}

/// Whether `key` may not be a `data` key: `from`, `gcm`, `message_type`, `notification` and
/// anything starting with `google` (FCM refuses the message).
pub fn is_reserved_data_key(key: &str) -> bool {
    matches!(key, "from" | "gcm" | "message_type" | "notification") || key.starts_with("google")
}
