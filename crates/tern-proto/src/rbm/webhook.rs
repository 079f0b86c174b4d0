//! What Google posts to an RBM agent's webhook. A body is one of two things ([`WebhookBody`]):
//! the validation request `{"clientToken","secret"}` sent once when the webhook is configured, or
//! a Pub/Sub push envelope `{"message":{"data":"<base64>","messageId","publishTime"},
//! "subscription"}` whose decoded `data` (the bytes `X-Goog-Signature` signs) is one JSON event
//! ([`Event`]), told apart by its fields as Google's docs and samples do:
//! - a **user event** has `eventType` and `senderPhoneNumber` (`DELIVERED`, `READ`,
//!   `IS_TYPING`, about a message the agent sent: its `messageId` is the agent's);
//! - a **server event** has `eventType` and `phoneNumber` (`TTL_EXPIRATION_REVOKED`,
//!   `TTL_EXPIRATION_REVOKE_FAILED`);
//! - a **user message** has `senderPhoneNumber` and no `eventType`, and one of `text`,
//!   `suggestionResponse`, `location` or `userFile` ([`UserMessage::content`]).
//!
//! Reading is lenient: unknown fields are ignored, a field of the wrong type reads as absent, and
//! only a body that is not what it claims to be is refused with a [`WebhookError`]; nothing here
//! panics on any input.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value};

pub use super::send::LatLng;

/// Why a webhook body or event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook body is not JSON: {0}")]
    NotJson(String),
    #[error("the webhook body is not a JSON object")]
    NotAnObject,
    #[error(
        "the webhook body is neither a validation request nor a push envelope with message.data"
    )]
    NotAnEnvelope,
    #[error("message.data is not base64")]
    BadBase64,
    #[error("the event is neither a user event, a user message nor a server event")]
    UnknownEvent,
}

/// A whole POST body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookBody {
    /// The configuration handshake: answer 200 with the secret when the token is ours.
    Validation(ValidationRequest),
    /// An event, in its envelope.
    Push(PushEnvelope),
}

impl WebhookBody {
    /// Read a POST body (see the module docs).
    pub fn parse(body: &[u8]) -> Result<WebhookBody, WebhookError> {
        let root = object(body)?;
        if let Some(validation) = ValidationRequest::from_object(&root) {
            return Ok(WebhookBody::Validation(validation));
        }
        let message = root
            .get("message")
            .and_then(Value::as_object)
            .ok_or(WebhookError::NotAnEnvelope)?;
        let data = match message.get("data") {
            Some(Value::String(data)) => data.clone(),
            _ => return Err(WebhookError::NotAnEnvelope),
        };
        Ok(WebhookBody::Push(PushEnvelope {
            data,
            message_id: text(message.get("messageId").or(message.get("message_id"))),
            publish_time: text(message.get("publishTime").or(message.get("publish_time"))),
            subscription: text(root.get("subscription")),
        }))
    }
}

/// `{"clientToken","secret"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRequest {
    pub client_token: String,
    pub secret: String,
}

impl ValidationRequest {
    /// Both fields, as strings (a numeric secret is taken as its text).
    fn from_object(object: &Map<String, Value>) -> Option<ValidationRequest> {
        let client_token = match object.get("clientToken") {
            Some(Value::String(token)) => token.clone(),
            _ => return None,
        };
        let secret = match object.get("secret") {
            Some(Value::String(secret)) => secret.clone(),
            Some(Value::Number(secret)) => secret.to_string(),
            _ => return None,
        };
        Some(ValidationRequest {
            client_token,
            secret,
        })
    }
}

/// The Pub/Sub push envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEnvelope {
    /// `message.data`: base64 of the event JSON.
    pub data: String,
    /// `message.messageId` (Pub/Sub's, not the agent message's).
    pub message_id: String,
    /// `message.publishTime`.
    pub publish_time: String,
    pub subscription: String,
}

impl PushEnvelope {
    /// `data` decoded: the event JSON, and the bytes `X-Goog-Signature` signs. Standard base64
    /// (padded or not), or the URL-safe alphabet; whitespace around it is ignored.
    pub fn decoded_data(&self) -> Result<Vec<u8>, WebhookError> {
        decode_base64(&self.data).ok_or(WebhookError::BadBase64)
    }
}

/// `text` as base64 in either alphabet, padded or not.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let padded = {
        let mut padded = text.to_owned();
        while !padded.len().is_multiple_of(4) {
            padded.push('=');
        }
        padded
    };
    STANDARD
        .decode(&padded)
        .or_else(|_| URL_SAFE.decode(&padded))
        .ok()
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    User(UserEvent),
    /// Boxed: by far the largest.
    Message(Box<UserMessage>),
    Server(ServerEvent),
    /// The validation request, when it comes as an event.
    Validation(ValidationRequest),
}

impl Event {
    /// Read decoded `data` (see the module docs).
    pub fn parse(data: &[u8]) -> Result<Event, WebhookError> {
        let event = object(data)?;
        if let Some(validation) = ValidationRequest::from_object(&event) {
            return Ok(Event::Validation(validation));
        }
        let sender = event.get("senderPhoneNumber").and_then(Value::as_str);
        // An `eventType` of any type makes it an event (never a user message); not a string,
        // it reads as an empty name.
        let event_type = event
            .get("eventType")
            .map(|value| value.as_str().unwrap_or_default());
        let field = |name: &str| text(event.get(name));
        match (event_type, sender) {
            (Some(event_type), Some(sender)) => Ok(Event::User(UserEvent {
                sender_phone_number: sender.to_owned(),
                event_type: UserEventType::from_name(event_type),
                event_id: field("eventId"),
                message_id: field("messageId"),
                send_time: field("sendTime"),
                agent_id: field("agentId"),
            })),
            (Some(event_type), None)
                if event.contains_key("phoneNumber") || event_type.starts_with("TTL_") =>
            {
                Ok(Event::Server(ServerEvent {
                    phone_number: field("phoneNumber"),
                    event_type: ServerEventType::from_name(event_type),
                    event_id: field("eventId"),
                    message_id: field("messageId"),
                    send_time: field("sendTime"),
                    agent_id: field("agentId"),
                }))
            }
            (None, Some(sender)) => Ok(Event::Message(Box::new(UserMessage {
                sender_phone_number: sender.to_owned(),
                message_id: field("messageId"),
                send_time: field("sendTime"),
                agent_id: field("agentId"),
                text: event.get("text").and_then(Value::as_str).map(str::to_owned),
                suggestion_response: event
                    .get("suggestionResponse")
                    .and_then(Value::as_object)
                    .map(|response| SuggestionResponse {
                        postback_data: text(response.get("postbackData")),
                        text: text(response.get("text")),
                        response_type: text(response.get("type")),
                    }),
                location: event
                    .get("location")
                    .and_then(Value::as_object)
                    .and_then(|location| {
                        Some(LatLng {
                            latitude: number(location.get("latitude"))?,
                            longitude: number(location.get("longitude"))?,
                        })
                    }),
                user_file: event
                    .get("userFile")
                    .and_then(Value::as_object)
                    .map(|file| UserFile {
                        thumbnail: file.get("thumbnail").and_then(FileInfo::from_value),
                        payload: file.get("payload").and_then(FileInfo::from_value),
                    }),
            }))),
            _ => Err(WebhookError::UnknownEvent),
        }
    }

    /// The agent message it is about (user and server events), or the user message's own id.
    pub fn message_id(&self) -> Option<&str> {
        let id = match self {
            Event::User(event) => &event.message_id,
            Event::Server(event) => &event.message_id,
            Event::Message(message) => &message.message_id,
            Event::Validation(_) => return None,
        };
        Some(id.as_str()).filter(|id| !id.is_empty())
    }
}

/// An event about a message the agent sent, from the user's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// E.164, with `+`.
    pub sender_phone_number: String,
    pub event_type: UserEventType,
    /// Unique per event: a redelivered event has the same.
    pub event_id: String,
    /// The agent message's id (the `messageId` it was sent with); empty for `IS_TYPING`.
    pub message_id: String,
    /// RFC 3339.
    pub send_time: String,
    pub agent_id: String,
}

/// `eventType` of a user event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEventType {
    Delivered,
    Read,
    IsTyping,
    /// Any other value, as given.
    Other(String),
}

impl UserEventType {
    fn from_name(name: &str) -> UserEventType {
        match name {
            "DELIVERED" => UserEventType::Delivered,
            "READ" => UserEventType::Read,
            "IS_TYPING" => UserEventType::IsTyping,
            other => UserEventType::Other(other.to_owned()),
        }
    }

    /// The wire name.
    pub fn name(&self) -> &str {
        match self {
            UserEventType::Delivered => "DELIVERED",
            UserEventType::Read => "READ",
            UserEventType::IsTyping => "IS_TYPING",
            UserEventType::Other(other) => other,
        }
    }
}

/// An event from RBM itself about a message the agent sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    /// E.164, with `+`.
    pub phone_number: String,
    pub event_type: ServerEventType,
    pub event_id: String,
    pub message_id: String,
    pub send_time: String,
    pub agent_id: String,
}

/// `eventType` of a server event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEventType {
    /// The message's TTL ran out before delivery and RBM revoked it: it will never arrive.
    TtlExpirationRevoked,
    /// The TTL ran out but revoking failed: whether it arrives is unknown.
    TtlExpirationRevokeFailed,
    /// Any other value, as given.
    Other(String),
}

impl ServerEventType {
    fn from_name(name: &str) -> ServerEventType {
        match name {
            "TTL_EXPIRATION_REVOKED" => ServerEventType::TtlExpirationRevoked,
            "TTL_EXPIRATION_REVOKE_FAILED" => ServerEventType::TtlExpirationRevokeFailed,
            other => ServerEventType::Other(other.to_owned()),
        }
    }

    /// The wire name.
    pub fn name(&self) -> &str {
        match self {
            ServerEventType::TtlExpirationRevoked => "TTL_EXPIRATION_REVOKED",
            ServerEventType::TtlExpirationRevokeFailed => "TTL_EXPIRATION_REVOKE_FAILED",
            ServerEventType::Other(other) => other,
        }
    }
}

/// A message the user sent to the agent. `(message_id, sender_phone_number)` identifies it
/// (Google redelivers with the same).
#[derive(Debug, Clone, PartialEq)]
pub struct UserMessage {
    pub sender_phone_number: String,
    pub message_id: String,
    pub send_time: String,
    pub agent_id: String,
    pub text: Option<String>,
    pub suggestion_response: Option<SuggestionResponse>,
    pub location: Option<LatLng>,
    pub user_file: Option<UserFile>,
}

/// `suggestionResponse`: a tap on a suggestion chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionResponse {
    pub postback_data: String,
    /// The chip's text.
    pub text: String,
    /// `REPLY` or `ACTION` (empty when absent).
    pub response_type: String,
}

/// `userFile`: a file the user sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    pub thumbnail: Option<FileInfo>,
    pub payload: Option<FileInfo>,
}

/// `userFile.payload` / `userFile.thumbnail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub mime_type: String,
    /// A number or its text on the wire (proto3 int64).
    pub file_size_bytes: Option<u64>,
    /// Where to download it.
    pub file_uri: String,
    pub file_name: String,
}

impl FileInfo {
    fn from_value(value: &Value) -> Option<FileInfo> {
        let file = value.as_object()?;
        Some(FileInfo {
            mime_type: text(file.get("mimeType")),
            file_size_bytes: match file.get("fileSizeBytes") {
                Some(Value::Number(size)) => size.as_u64(),
                Some(Value::String(size)) => size.trim().parse().ok(),
                _ => None,
            },
            file_uri: text(file.get("fileUri")),
            file_name: text(file.get("fileName")),
        })
    }
}

/// What a user message holds, in the order Google's docs list them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UserContent<'a> {
    Text(&'a str),
    SuggestionResponse(&'a SuggestionResponse),
    Location(LatLng),
    /// The file's payload (its URI, type and name).
    File(&'a FileInfo),
    /// None of them, or a file without a payload URI.
    Unsupported,
}

impl UserMessage {
    /// What it holds.
    pub fn content(&self) -> UserContent<'_> {
        if let Some(text) = &self.text {
            return UserContent::Text(text);
        }
        if let Some(response) = &self.suggestion_response {
            return UserContent::SuggestionResponse(response);
        }
        if let Some(location) = self.location {
            return UserContent::Location(location);
        }
        match self
            .user_file
            .as_ref()
            .and_then(|file| file.payload.as_ref())
        {
            Some(payload) if !payload.file_uri.is_empty() => UserContent::File(payload),
            _ => UserContent::Unsupported,
        }
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, WebhookError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(WebhookError::NotAnObject),
        Err(error) => Err(WebhookError::NotJson(error.to_string())),
    }
}

/// A string, or a number as its text; anything else is empty.
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

/// A finite number, or a string holding one.
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    fn envelope(event: &str) -> Vec<u8> {
        format!(
            r#"{{"message":{{"data":"{}","messageId":"1234","publishTime":"2026-12-01T10:00:00Z","attributes":{{}}}},"subscription":"projects/p/subscriptions/s"}}"#,
            STANDARD.encode(event)
        )
        .into_bytes()
    }

    fn event_of(body: &[u8]) -> Event {
        let WebhookBody::Push(envelope) = WebhookBody::parse(body).unwrap() else {
            panic!("not a push");
        };
        Event::parse(&envelope.decoded_data().unwrap()).unwrap()
    }

    #[test]
    fn the_validation_request_is_told_from_an_envelope() {
        assert_eq!(
            WebhookBody::parse(br#"{"clientToken":"SJENCPGJESMGUFPY","secret":"1234567890"}"#),
            Ok(WebhookBody::Validation(ValidationRequest {
                client_token: "SJENCPGJESMGUFPY".into(),
                secret: "1234567890".into()
            }))
        );
        assert_eq!(
            WebhookBody::parse(br#"{"clientToken":"t","secret":42}"#),
            Ok(WebhookBody::Validation(ValidationRequest {
                client_token: "t".into(),
                secret: "42".into()
            }))
        );
        let WebhookBody::Push(push) = WebhookBody::parse(&envelope("{}")).unwrap() else {
            panic!("not a push");
        };
        assert_eq!(
            (push.message_id.as_str(), push.publish_time.as_str()),
            ("1234", "2026-12-01T10:00:00Z")
        );
        assert_eq!(push.subscription, "projects/p/subscriptions/s");
        assert_eq!(push.decoded_data().unwrap(), b"{}");
    }

    #[test]
    fn user_events_server_events_and_user_messages_are_told_apart() {
        let delivered = event_of(&envelope(
            r#"{"senderPhoneNumber":"+31612345678","eventType":"DELIVERED","eventId":"e1",
               "messageId":"0190-ab","sendTime":"2026-12-01T10:00:01Z","agentId":"acme_agent","new":1}"#,
        ));
        assert_eq!(
            delivered,
            Event::User(UserEvent {
                sender_phone_number: "+31612345678".into(),
                event_type: UserEventType::Delivered,
                event_id: "e1".into(),
                message_id: "0190-ab".into(),
                send_time: "2026-12-01T10:00:01Z".into(),
                agent_id: "acme_agent".into(),
            })
        );
        assert_eq!(delivered.message_id(), Some("0190-ab"));
        let Event::User(typing) = event_of(&envelope(
            r#"{"senderPhoneNumber":"+3","eventType":"IS_TYPING","eventId":"e2"}"#,
        )) else {
            panic!()
        };
        assert_eq!(typing.event_type, UserEventType::IsTyping);
        assert_eq!(
            Event::User(typing.clone()).message_id(),
            None,
            "no message id"
        );
        let revoked = event_of(&envelope(
            r#"{"phoneNumber":"+31612345678","messageId":"0190-ab","agentId":"a","eventType":"TTL_EXPIRATION_REVOKED","eventId":"e3","sendTime":"t"}"#,
        ));
        let Event::Server(revoked) = revoked else {
            panic!("{revoked:?}")
        };
        assert_eq!(revoked.event_type, ServerEventType::TtlExpirationRevoked);
        assert_eq!(revoked.phone_number, "+31612345678");
        assert_eq!(revoked.event_type.name(), "TTL_EXPIRATION_REVOKED");
        let Event::Server(failed) =
            Event::parse(br#"{"eventType":"TTL_EXPIRATION_REVOKE_FAILED","messageId":"m"}"#)
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            failed.event_type,
            ServerEventType::TtlExpirationRevokeFailed
        );
        assert_eq!(
            Event::parse(br#"{"senderPhoneNumber":"+3","eventType":"NEW_THING"}"#),
            Ok(Event::User(UserEvent {
                sender_phone_number: "+3".into(),
                event_type: UserEventType::Other("NEW_THING".into()),
                event_id: String::new(),
                message_id: String::new(),
                send_time: String::new(),
                agent_id: String::new(),
            }))
        );
        assert_eq!(
            Event::parse(br#"{"eventType":"READ"}"#),
            Err(WebhookError::UnknownEvent)
        );
        let Event::User(odd) =
            Event::parse(br#"{"senderPhoneNumber":"+3","eventType":7,"messageId":"m"}"#).unwrap()
        else {
            panic!("an event with an odd type is still an event")
        };
        assert_eq!(odd.event_type, UserEventType::Other(String::new()));
        assert_eq!(Event::parse(b"{}"), Err(WebhookError::UnknownEvent));
    }

    #[test]
    fn user_messages_of_every_kind() {
        let message = |fields: &str| {
            let Event::Message(message) = Event::parse(
                format!(
                    r#"{{"senderPhoneNumber":"+31612345678","messageId":"u1","sendTime":"t","agentId":"a",{fields}}}"#
                )
                .as_bytes(),
            )
            .unwrap() else {
                panic!("{fields}")
            };
            message
        };
        let text = message(r#""text":"hello""#);
        assert_eq!(text.content(), UserContent::Text("hello"));
        assert_eq!(
            (text.message_id.as_str(), text.agent_id.as_str()),
            ("u1", "a")
        );
        let tap = message(
            r#""suggestionResponse":{"postbackData":"track_123","text":"Track","type":"REPLY"}"#,
        );
        assert_eq!(
            tap.content(),
            UserContent::SuggestionResponse(&SuggestionResponse {
                postback_data: "track_123".into(),
                text: "Track".into(),
                response_type: "REPLY".into(),
            })
        );
        let location = message(r#""location":{"latitude":51.6,"longitude":"4.77"}"#);
        assert_eq!(
            location.content(),
            UserContent::Location(LatLng {
                latitude: 51.6,
                longitude: 4.77
            })
        );
        let file = message(
            r#""userFile":{"thumbnail":{"mimeType":"image/jpeg","fileSizeBytes":100,"fileUri":"https://t","fileName":"t.jpg"},
               "payload":{"mimeType":"image/jpeg","fileSizeBytes":"12345","fileUri":"https://rcs/f","fileName":"f.jpg"}}"#,
        );
        assert_eq!(
            file.content(),
            UserContent::File(&FileInfo {
                mime_type: "image/jpeg".into(),
                file_size_bytes: Some(12345),
                file_uri: "https://rcs/f".into(),
                file_name: "f.jpg".into(),
            })
        );
        assert_eq!(
            file.user_file.unwrap().thumbnail.unwrap().file_size_bytes,
            Some(100)
        );
        assert_eq!(
            message(r#""location":{"latitude":"x"}"#).content(),
            UserContent::Unsupported
        );
        assert_eq!(
            message(r#""userFile":{"payload":{}}"#).content(),
            UserContent::Unsupported
        );
        assert_eq!(message(r#""text":7"#).content(), UserContent::Unsupported);
    }

    /// Every node of `value`, as a JSON pointer.
    fn pointers(value: &Value, at: String, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    pointers(child, format!("{at}/{key}"), into);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    pointers(child, format!("{at}/{index}"), into);
                }
            }
            _ => {}
        }
        into.push(at);
    }

    #[test]
    fn any_field_of_any_type_is_read_without_changing_what_the_event_is() {
        let samples = [
            r#"{"senderPhoneNumber":"+31612345678","eventType":"DELIVERED","eventId":"e","messageId":"m","sendTime":"t","agentId":"a"}"#,
            r#"{"phoneNumber":"+31612345678","eventType":"TTL_EXPIRATION_REVOKED","eventId":"e","messageId":"m","agentId":"a"}"#,
            r#"{"senderPhoneNumber":"+31612345678","messageId":"u","sendTime":"t","agentId":"a","text":"hi",
                "suggestionResponse":{"postbackData":"p","text":"t","type":"REPLY"},"location":{"latitude":1.5,"longitude":2},
                "userFile":{"thumbnail":{"mimeType":"image/png","fileUri":"u"},"payload":{"mimeType":"image/png","fileSizeBytes":"1","fileUri":"u","fileName":"f"}}}"#,
        ];
        let odd = [
            Value::Null,
            Value::from(7),
            Value::from(-1.5),
            Value::from("x"),
            Value::from(true),
            Value::Array(vec![Value::Null]),
            Value::Object(Map::new()),
        ];
        for sample in samples {
            let sample: Value = serde_json::from_str(sample).unwrap();
            let kind =
                std::mem::discriminant(&Event::parse(sample.to_string().as_bytes()).unwrap());
            let mut all = Vec::new();
            pointers(&sample, String::new(), &mut all);
            for pointer in all.iter().filter(|p| !p.is_empty()) {
                for value in &odd {
                    let mut event = sample.clone();
                    *event.pointer_mut(pointer).unwrap() = value.clone();
                    let parsed = Event::parse(event.to_string().as_bytes());
                    let identifying =
                        ["/senderPhoneNumber", "/phoneNumber"].contains(&pointer.as_str());
                    match parsed {
                        Ok(parsed) => {
                            let _ = parsed.message_id();
                            if let Event::Message(message) = &parsed {
                                let _ = message.content();
                            }
                            if !identifying {
                                assert_eq!(
                                    std::mem::discriminant(&parsed),
                                    kind,
                                    "{pointer} = {value}"
                                );
                            }
                        }
                        Err(error) => assert!(identifying, "{pointer} = {value}: {error}"),
                    }
                }
            }
        }
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        assert!(matches!(
            WebhookBody::parse(b"nope"),
            Err(WebhookError::NotJson(_))
        ));
        assert_eq!(WebhookBody::parse(b"[1]"), Err(WebhookError::NotAnObject));
        for body in [
            &br#"{}"#[..],
            br#"{"message":{}}"#,
            br#"{"message":{"data":7}}"#,
            br#"{"message":"x"}"#,
            br#"{"clientToken":"t"}"#,
        ] {
            assert_eq!(
                WebhookBody::parse(body),
                Err(WebhookError::NotAnEnvelope),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let WebhookBody::Push(bad) = WebhookBody::parse(br#"{"message":{"data":"@@@"}}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(bad.decoded_data(), Err(WebhookError::BadBase64));
        let WebhookBody::Push(unpadded) = WebhookBody::parse(
            format!(
                r#"{{"message":{{"data":"{}"}}}}"#,
                STANDARD_NO_PAD.encode("{}?>")
            )
            .as_bytes(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(unpadded.decoded_data().unwrap(), b"{}?>");
    }
}
