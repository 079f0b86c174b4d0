//! What `agentMessages` answers: on HTTP 200 the message echoed back with its resource `name`
//! (`phones/+316…/agentMessages/{messageId}`) and `sendTime` ([`SendResponse`]), which only means
//! queued (RBM delivers later and tells by webhook); otherwise Google's standard error body
//! `{"error":{"code","message","status","details"?}}` ([`ErrorResponse`]), on which a client
//! branches by `status` (`NOT_FOUND`, `RESOURCE_EXHAUSTED`, …) and the HTTP code. Other Google
//! APIs (FCM HTTP v1) answer errors in the same shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The HTTP 200 body (the echoed message is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResponse {
    /// `phones/{+E164}/agentMessages/{messageId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_time: Option<String>,
}

impl SendResponse {
    /// Read a 200 body; `None` when it is not a JSON object of this shape.
    pub fn parse(body: &[u8]) -> Option<SendResponse> {
        serde_json::from_slice(body).ok()
    }

    /// The message id at the end of `name`, when there is one.
    pub fn message_id(&self) -> Option<&str> {
        self.name
            .as_deref()
            .and_then(|name| name.rsplit_once("/agentMessages/"))
            .map(|(_, id)| id)
            .filter(|id| !id.is_empty())
    }
}

/// A non-200 body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: GoogleError,
}

impl ErrorResponse {
    /// Read an error body; `None` when it is not one (a proxy's HTML page, say).
    pub fn parse(body: &[u8]) -> Option<ErrorResponse> {
        serde_json::from_slice(body).ok()
    }

    /// An error body of `code`, `status` and `message`.
    pub fn new(code: u16, status: &str, message: &str) -> ErrorResponse {
        ErrorResponse {
            error: GoogleError {
                code: i64::from(code),
                message: message.to_owned(),
                status: status.to_owned(),
                details: Vec::new(),
            },
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an error body always serialises")
    }
}

/// `error`: the HTTP code again, a text, the canonical status name and typed details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoogleError {
    /// The HTTP status code.
    pub code: i64,
    #[serde(default)]
    pub message: String,
    /// `NOT_FOUND`, `INVALID_ARGUMENT`, `PERMISSION_DENIED`, `RESOURCE_EXHAUSTED`, …
    #[serde(default)]
    pub status: String,
    /// Objects with an `@type` (e.g. FCM's `errorCode`), as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_names_the_message() {
        let body = br#"{"name":"phones/+31612345678/agentMessages/0190-ab","sendTime":"2026-12-01T10:00:00.123Z",
            "contentMessage":{"text":"hi"}}"#;
        let response = SendResponse::parse(body).unwrap();
        assert_eq!(response.message_id(), Some("0190-ab"));
        assert_eq!(
            response.send_time.as_deref(),
            Some("2026-12-01T10:00:00.123Z")
        );
        assert_eq!(SendResponse::parse(b"{}").unwrap().message_id(), None);
        assert_eq!(SendResponse::parse(b"<html>"), None);
    }

    #[test]
    fn errors_parse_with_and_without_details() {
        let body = br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#;
        let error = ErrorResponse::parse(body).unwrap();
        assert_eq!(
            error,
            ErrorResponse::new(404, "NOT_FOUND", "Requested entity was not found.")
        );
        assert_eq!(error.to_json().as_bytes(), &body[..]);
        let fcm = br#"{"error":{"code":404,"message":"m","status":"NOT_FOUND","details":[
            {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        let error = ErrorResponse::parse(fcm).unwrap().error;
        assert_eq!(error.details[0]["errorCode"], "UNREGISTERED");
        let bare = ErrorResponse::parse(br#"{"error":{"code":500}}"#).unwrap();
        assert_eq!((bare.error.code, bare.error.status.as_str()), (500, ""));
        assert_eq!(ErrorResponse::parse(br#"{"error":{}}"#), None);
        assert_eq!(ErrorResponse::parse(b"Bad Gateway"), None);
    }
}
