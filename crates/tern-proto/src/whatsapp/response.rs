//! What `POST /messages` answers: on HTTP 200 the message's wamid ([`SendResponse`]), which only
//! means accepted (delivery arrives later by webhook); otherwise `{"error":{…}}`
//! ([`ErrorResponse`]), on which a client branches by `error.code`, never by the HTTP status.

use serde::{Deserialize, Serialize};

/// The HTTP 200 body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub contacts: Vec<ResponseContact>,
    #[serde(default)]
    pub messages: Vec<ResponseMessage>,
}

/// `contacts[]`: the number as sent and its WhatsApp id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub wa_id: String,
}

/// `messages[]`: the wamid, and `accepted` or `held_for_quality_assessment` when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMessage {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

impl SendResponse {
    /// Read a 200 body; `None` when it is not one.
    pub fn parse(body: &[u8]) -> Option<SendResponse> {
        serde_json::from_slice(body).ok()
    }

    /// `messages[0].id`: the wamid status webhooks will name, when present and not blank.
    pub fn message_id(&self) -> Option<&str> {
        self.messages
            .first()
            .map(|m| m.id.as_str())
            .filter(|id| !id.trim().is_empty())
    }

    /// `contacts[0].wa_id`.
    pub fn wa_id(&self) -> Option<&str> {
        self.contacts.first().map(|c| c.wa_id.as_str())
    }
}

/// A non-200 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: GraphError,
}

impl ErrorResponse {
    /// Read an error body; `None` when it is not one (a proxy's HTML page, say).
    pub fn parse(body: &[u8]) -> Option<ErrorResponse> {
        serde_json::from_slice(body).ok()
    }
}

/// `error`: `message` has the form "(#code) title".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    /// Usually `OAuthException`.
    #[serde(rename = "type", default)]
    pub error_type: String,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
}

/// `error_data` (also in webhook errors).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_names_the_wamid_and_wa_id() {
        let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"31612345678","wa_id":"31612345678"}],
            "messages":[{"id":"wamid.HBgL","message_status":"accepted"}]}"#;
        let response = SendResponse::parse(body).unwrap();
        assert_eq!(response.message_id(), Some("wamid.HBgL"));
        assert_eq!(response.wa_id(), Some("31612345678"));
        assert_eq!(SendResponse::parse(b"{}").unwrap().message_id(), None);
        assert_eq!(SendResponse::parse(b"<html>"), None);
    }

    #[test]
    fn errors_parse_with_and_without_optional_fields() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
            "error_data":{"messaging_product":"whatsapp","details":"24 hours"},"error_subcode":2494010,"fbtrace_id":"AbC"}}"#;
        let error = ErrorResponse::parse(body).unwrap().error;
        assert_eq!(error.code, 131047);
        assert_eq!(error.error_subcode, Some(2494010));
        assert_eq!(error.error_type, "OAuthException");
        assert_eq!(error.message, "(#131047) Re-engagement message");
        assert_eq!(
            error.error_data.and_then(|d| d.details).as_deref(),
            Some("24 hours")
        );
        assert_eq!(error.fbtrace_id.as_deref(), Some("AbC"));
        let bare = ErrorResponse::parse(br#"{"error":{"code":190}}"#)
            .unwrap()
            .error;
        assert_eq!(
            (bare.code, bare.error_subcode, bare.error_data),
            (190, None, None)
        );
        assert_eq!(ErrorResponse::parse(br#"{"error":{}}"#), None);
    }
}
