//! The JSON response of `POST /v1.0/message`, in the exact shape the official SDKs parse: always
//! `details`, an integer `errorCode` and a `messages` array (never null), and per message `to`,
//! `status`, `reference`, `parts`, `messageDetails`, `messageErrorCode`. `messageId` is Tern's
//! addition; every SDK ignores unknown fields.

use serde::Serialize;
use utoipa::ToSchema;

/// The whole response body.
/// Always the body, on 200, 400, 405, 413 and 500 alike.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SubmitResponse {
    /// `Created N message(s)`, or the request's error.
    pub details: String,
    /// 0 ok; 101/102/103 account; 201 some messages rejected; 202 malformed; 203 msg; 999 unknown.
    #[serde(rename = "errorCode")]
    pub error_code: u32,
    pub messages: Vec<MessageResult>,
}

/// `Accepted` or `Rejected`, exactly as CM spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum MessageStatus {
    Accepted,
    Rejected,
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MessageResult {
    pub to: String,
    pub status: MessageStatus,
    pub reference: Option<String>,
    /// SMS parts created (0 when rejected).
    pub parts: u32,
    /// Why the message was rejected.
    #[serde(rename = "messageDetails")]
    pub message_details: Option<String>,
    /// 0, or 301-305.
    #[serde(rename = "messageErrorCode")]
    pub message_error_code: u32,
    /// Tern's id for the accepted message (absent when rejected).
    #[serde(rename = "messageId", skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl SubmitResponse {
    /// A request-level failure: no messages.
    pub fn failure(error_code: u32, details: impl Into<String>) -> Self {
        Self {
            details: details.into(),
            error_code,
            messages: Vec::new(),
        }
    }

    /// The body as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("response serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_cm_field_order_and_names() {
        let response = SubmitResponse {
            details: "Created 1 message(s)".into(),
            error_code: 0,
            messages: vec![MessageResult {
                to: "0031612345678".into(),
                status: MessageStatus::Accepted,
                reference: None,
                parts: 1,
                message_details: None,
                message_error_code: 0,
                message_id: None,
            }],
        };
        assert_eq!(
            String::from_utf8(response.to_json()).unwrap(),
            r#"{"details":"Created 1 message(s)","errorCode":0,"messages":[{"to":"0031612345678","status":"Accepted","reference":null,"parts":1,"messageDetails":null,"messageErrorCode":0}]}"#
        );
    }
}
