//! The body of `POST /v1/projects/{project}/messages:send`: `{"message":{…},"validate_only"?}`
//! ([`SendRequest`]). A message names exactly one target (`token`, `topic` or `condition`), and
//! carries `data` (string values only), an optional `notification`, and the per-platform
//! `android` and `apns` blocks. Serialises in Google's field order; deserialises too, for the
//! stand-in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One send request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    pub message: Message,
    /// Check the message without sending it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validate_only: bool,
}

impl SendRequest {
    /// A request that sends `message`.
    pub fn new(message: Message) -> SendRequest {
        SendRequest {
            message,
            validate_only: false,
        }
    }

    /// The JSON text FCM is sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a request always serialises")
    }
}

/// `message`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    /// A device's registration token (the only target Tern uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Key and value, both strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<AndroidConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apns: Option<ApnsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcm_options: Option<Value>,
}

impl Message {
    /// A message to the device with registration token `token`.
    pub fn to_token(token: impl Into<String>) -> Message {
        Message {
            token: Some(token.into()),
            ..Message::default()
        }
    }

    /// How many bytes of the payload limit ([`super::MAX_PAYLOAD_BYTES`]) the message takes:
    /// its `data` keys and values and its notification's title, body and image, in UTF-8.
    pub fn payload_bytes(&self) -> usize {
        let data: usize = self.data.iter().map(|(k, v)| k.len() + v.len()).sum();
        let notification = self.notification.as_ref().map_or(0, |n| {
            [&n.title, &n.body, &n.image]
                .iter()
                .map(|field| field.as_ref().map_or(0, String::len))
                .sum()
        });
        data + notification
    }
}

/// `notification`: what the system shows when the app is not running.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `android`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AndroidConfig {
    /// `NORMAL` or `HIGH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// A duration such as `3600s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collapse_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Value>,
}

/// `apns`: APNs headers (strings) and the APNs payload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApnsConfig {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_message_serialises_as_google_documents_it() {
        let mut message = Message::to_token("tok");
        message
            .data
            .insert("cm".into(), r#"{"messageId":"m","body":"B"}"#.into());
        message.android = Some(AndroidConfig {
            priority: Some("HIGH".into()),
            ttl: Some("3600s".into()),
            ..AndroidConfig::default()
        });
        let mut apns = ApnsConfig::default();
        apns.headers.insert("apns-priority".into(), "10".into());
        message.apns = Some(apns);
        let json = SendRequest::new(message.clone()).to_json();
        assert_eq!(
            json,
            r#"{"message":{"token":"tok","data":{"cm":"{\"messageId\":\"m\",\"body\":\"B\"}"},"android":{"priority":"HIGH","ttl":"3600s"},"apns":{"headers":{"apns-priority":"10"}}}}"#
        );
        let back: SendRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.message, message);
        assert!(!back.validate_only);
        assert_eq!(message.payload_bytes(), 2 + 28);
    }

    #[test]
    fn payload_bytes_count_notification_text_in_utf8() {
        let message = Message {
            notification: Some(Notification {
                title: Some("é".into()),
                body: Some("ab".into()),
                image: None,
            }),
            ..Message::default()
        };
        assert_eq!(message.payload_bytes(), 4);
    }
}
