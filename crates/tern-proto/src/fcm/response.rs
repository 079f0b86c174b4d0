//! What `messages:send` answers: on HTTP 200 the message's name ([`SendResponse`]), which only
//! means accepted by FCM; otherwise Google's error JSON ([`ErrorResponse`]), on which a client
//! branches by `details[].errorCode` ([`FcmErrorCode`]), never by the HTTP status alone.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `@type` of the detail that carries FCM's error code.
pub const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// The `@type` of the detail that names the fields of a bad request.
pub const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// The HTTP 200 body: `{"name":"projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    pub name: String,
}

impl SendResponse {
    /// Read a 200 body; `None` when it is not one (or its name is blank).
    pub fn parse(body: &[u8]) -> Option<SendResponse> {
        serde_json::from_slice::<SendResponse>(body)
            .ok()
            .filter(|response| !response.name.trim().is_empty())
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
}

/// `error`: Google's standard error (`google.rpc.Status` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoogleError {
    /// The HTTP status.
    pub code: u16,
    #[serde(default)]
    pub message: String,
    /// The canonical code: `NOT_FOUND`, `INVALID_ARGUMENT`, `UNAVAILABLE`…
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// One of `details[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "@type", default)]
    pub detail_type: String,
    /// FCM's error code (in the `FcmError` detail).
    #[serde(rename = "errorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The fields of a bad request (in the `BadRequest` detail): `{field, description}`.
    #[serde(
        rename = "fieldViolations",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub field_violations: Vec<FieldViolation>,
}

/// One of a `BadRequest` detail's `fieldViolations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub description: String,
}

/// FCM's error codes (the `errorCode` of the `FcmError` detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcmErrorCode {
    Unspecified,
    /// The token is no longer valid (the app was uninstalled, the token expired).
    Unregistered,
    /// A bad request: the token's format, or another field.
    InvalidArgument,
    /// The token belongs to another sender (Firebase project).
    SenderIdMismatch,
    /// The project's or the device's quota was exceeded.
    QuotaExceeded,
    Unavailable,
    Internal,
    /// The APNs certificate or key configured in Firebase is wrong.
    ThirdPartyAuthError,
    /// A code this version does not know.
    Other(String),
}

impl FcmErrorCode {
    /// The code of `text` (Google's spelling).
    pub fn parse(text: &str) -> FcmErrorCode {
        match text {
            "UNSPECIFIED_ERROR" => FcmErrorCode::Unspecified,
            "UNREGISTERED" => FcmErrorCode::Unregistered,
            "INVALID_ARGUMENT" => FcmErrorCode::InvalidArgument,
            "SENDER_ID_MISMATCH" => FcmErrorCode::SenderIdMismatch,
            "QUOTA_EXCEEDED" => FcmErrorCode::QuotaExceeded,
            "UNAVAILABLE" => FcmErrorCode::Unavailable,
            "INTERNAL" => FcmErrorCode::Internal,
            "THIRD_PARTY_AUTH_ERROR" => FcmErrorCode::ThirdPartyAuthError,
            other => FcmErrorCode::Other(other.to_owned()),
        }
    }

    /// Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            FcmErrorCode::Unspecified => "UNSPECIFIED_ERROR",
            FcmErrorCode::Unregistered => "UNREGISTERED",
            FcmErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            FcmErrorCode::SenderIdMismatch => "SENDER_ID_MISMATCH",
            FcmErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            FcmErrorCode::Unavailable => "UNAVAILABLE",
            FcmErrorCode::Internal => "INTERNAL",
            FcmErrorCode::ThirdPartyAuthError => "THIRD_PARTY_AUTH_ERROR",
            FcmErrorCode::Other(code) => code,
        }
    }
}

impl GoogleError {
    /// FCM's error code: the first `FcmError` detail's (any detail's `errorCode` when none is
    /// typed so), else `None` (a plain Google error, such as 401 for a bad token).
    pub fn fcm_error_code(&self) -> Option<FcmErrorCode> {
        let typed = self
            .details
            .iter()
            .find(|d| d.detail_type == FCM_ERROR_TYPE && d.error_code.is_some());
        typed
            .or_else(|| self.details.iter().find(|d| d.error_code.is_some()))
            .and_then(|d| d.error_code.as_deref())
            .map(FcmErrorCode::parse)
    }

    /// Whether the error is about the registration token: a bad-request field violation on
    /// `message.token`, or a message that speaks of the registration token (what FCM answers
    /// for a token of the wrong form: "The registration token is not a valid FCM registration
    /// token").
    pub fn names_token(&self) -> bool {
        let field = self
            .details
            .iter()
            .flat_map(|d| &d.field_violations)
            .any(|v| v.field == "message.token");
        field
            || self
                .message
                .to_ascii_lowercase()
                .contains("registration token")
    }

    /// Google's error JSON for `code` (HTTP), `status`, `message` and FCM error code.
    pub fn fcm(code: u16, status: &str, message: &str, error_code: &str) -> GoogleError {
        GoogleError {
            code,
            message: message.to_owned(),
            status: status.to_owned(),
            details: vec![ErrorDetail {
                detail_type: FCM_ERROR_TYPE.to_owned(),
                error_code: Some(error_code.to_owned()),
                field_violations: Vec::new(),
            }],
        }
    }
}

/// Render any JSON for logs (the raw body of an answer that is not Google's error).
pub fn describe(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_names_the_message() {
        let body = br#"{"name":"projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"}"#;
        assert_eq!(
            SendResponse::parse(body).unwrap().name,
            "projects/p/messages/0:1500415314455276%31bd1c9631bd1c96"
        );
        assert_eq!(SendResponse::parse(br#"{"name":" "}"#), None);
        assert_eq!(SendResponse::parse(b"<html>"), None);
    }

    #[test]
    fn the_fcm_error_code_is_read_from_details() {
        let body = br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
            "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        let error = ErrorResponse::parse(body).unwrap().error;
        assert_eq!(error.code, 404);
        assert_eq!(error.status, "NOT_FOUND");
        assert_eq!(error.fcm_error_code(), Some(FcmErrorCode::Unregistered));
        assert!(!error.names_token());
        let plain = ErrorResponse::parse(
            br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        )
        .unwrap()
        .error;
        assert_eq!(plain.fcm_error_code(), None);
        assert_eq!(ErrorResponse::parse(br#"{"error":{}}"#), None);
    }

    #[test]
    fn a_token_error_is_told_from_another_bad_argument() {
        let token = br#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
        let error = ErrorResponse::parse(token).unwrap().error;
        assert_eq!(error.fcm_error_code(), Some(FcmErrorCode::InvalidArgument));
        assert!(error.names_token());
        let field = br#"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]},
                       {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
        assert!(ErrorResponse::parse(field).unwrap().error.names_token());
        let data = br#"{"error":{"code":400,"message":"Invalid data payload key: gcm","status":"INVALID_ARGUMENT",
            "details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data","description":"reserved"}]}]}}"#;
        let error = ErrorResponse::parse(data).unwrap().error;
        assert!(!error.names_token());
        assert_eq!(error.fcm_error_code(), None);
    }

    #[test]
    fn codes_round_trip() {
        for text in [
            "UNSPECIFIED_ERROR",
            "UNREGISTERED",
            "INVALID_ARGUMENT",
            "SENDER_ID_MISMATCH",
            "QUOTA_EXCEEDED",
            "UNAVAILABLE",
            "INTERNAL",
            "THIRD_PARTY_AUTH_ERROR",
            "NEW_ONE",
        ] {
            assert_eq!(FcmErrorCode::parse(text).as_str(), text);
        }
    }
}
