//! The POST bodies of Meta's `messages` webhook: `entry[].changes[].value` carries `statuses[]`
//! (what became of a message Tern sent) and `messages[]` (what a user sent). Reading never fails
//! on one bad element: [`Notification::parse`] refuses only a body that is not a JSON object;
//! a status it cannot read is counted in [`Value::unreadable`] and left out, and a message of a
//! type Tern does not know, or whose object it cannot read, is kept with its id and sender as
//! [`InboundContent::Unsupported`]. Unknown fields are ignored everywhere (Meta adds some often).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::response::ErrorData;

/// The whole POST body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Notification {
    /// `whatsapp_business_account`.
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// `entry[]`: one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The WABA id.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// `changes[]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Change {
    /// `messages` for statuses and inbound messages.
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// `changes[].value`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Value {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The senders of `messages`, with their profile names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<SenderContact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<Status>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<InboundMessage>,
    /// Out-of-band errors, not tied to one message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WebhookError>,
    /// Statuses and messages that could not be read at all (not on the wire).
    #[serde(skip)]
    pub unreadable: usize,
}

/// `value.metadata`: the business number the change is for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub phone_number_id: String,
}

/// `value.contacts[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SenderContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub wa_id: String,
}

/// `contacts[].profile`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

/// `statuses[]`: one status of one sent message. Order is not guaranteed and duplicates come;
/// `(id, status)` identifies one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The wamid the send answered with.
    pub id: String,
    pub status: StatusKind,
    /// Epoch seconds, as a string (a number is taken as its text).
    #[serde(default, deserialize_with = "text_or_number")]
    pub timestamp: String,
    #[serde(default, deserialize_with = "text_or_number")]
    pub recipient_id: String,
    /// What the request carried (Tern's message id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<WebhookError>,
}

impl Status {
    /// `timestamp` as epoch seconds, when it is one.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

/// `statuses[].status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    /// A voice message was played.
    Played,
    /// Older versions only.
    Deleted,
    /// Older versions only.
    Warning,
    /// Any other value.
    #[serde(other)]
    Other,
}

/// An error in a status (`statuses[].errors[]`) or out of band (`value.errors[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookError {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// `messages[]`: one message a user sent, in Meta's shape: `type` names the object that holds
/// it. [`InboundMessage::content`] reads it as one [`InboundContent`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The sender's WhatsApp id (their number's digits).
    pub from: String,
    /// Its wamid.
    pub id: String,
    /// Epoch seconds, as a string (a number is taken as its text).
    #[serde(default, deserialize_with = "text_or_number")]
    pub timestamp: String,
    #[serde(rename = "type", default)]
    pub message_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<InboundText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<InboundMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<InboundMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<InboundMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<InboundMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<InboundMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<InboundLocation>,
    /// Contact cards in WhatsApp's shape (CM forwards them verbatim in `custom.contacts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<InboundInteractive>,
    /// A template's quick-reply button tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<InboundButton>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<MessageContext>,
}

/// `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundText {
    pub body: String,
}

/// `image`, `video`, `audio`, `document`, `sticker`: a media id to fetch with
/// `GET /{vNN}/{media-id}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InboundMedia {
    pub id: String,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundLocation {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `interactive`: `button_reply` or `list_reply`, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InboundInteractive {
    #[serde(rename = "type", default)]
    pub interactive_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<ButtonReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<ListReply>,
}

/// `interactive.button_reply`: the tapped reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

/// `interactive.list_reply`: the chosen list row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `button`: a template's quick-reply tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundButton {
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub text: String,
}

/// `context`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageContext {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub id: String,
}

/// What an inbound message holds, read by its `type`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InboundContent<'a> {
    Text(&'a str),
    Image(&'a InboundMedia),
    Video(&'a InboundMedia),
    Audio(&'a InboundMedia),
    Document(&'a InboundMedia),
    Sticker(&'a InboundMedia),
    Location(&'a InboundLocation),
    Contacts(&'a [Json]),
    ButtonReply(&'a ButtonReply),
    ListReply(&'a ListReply),
    /// A template quick-reply tap.
    Button(&'a InboundButton),
    /// A type Tern does not carry (reaction, order, nfm_reply, `unsupported`, …), or one whose
    /// object is missing or could not be read: its `type`.
    Unsupported(&'a str),
}

impl InboundMessage {
    /// What it holds, by `type`.
    pub fn content(&self) -> InboundContent<'_> {
        let unsupported = InboundContent::Unsupported(&self.message_type);
        let content = match self.message_type.as_str() {
            "text" => self.text.as_ref().map(|t| InboundContent::Text(&t.body)),
            "image" => self.image.as_ref().map(InboundContent::Image),
            "video" => self.video.as_ref().map(InboundContent::Video),
            "audio" => self.audio.as_ref().map(InboundContent::Audio),
            "document" => self.document.as_ref().map(InboundContent::Document),
            "sticker" => self.sticker.as_ref().map(InboundContent::Sticker),
            "location" => self.location.as_ref().map(InboundContent::Location),
            "contacts" => self.contacts.as_deref().map(InboundContent::Contacts),
            "button" => self.button.as_ref().map(InboundContent::Button),
            "interactive" => {
                self.interactive
                    .as_ref()
                    .and_then(|i| match i.interactive_type.as_str() {
                        "button_reply" => i.button_reply.as_ref().map(InboundContent::ButtonReply),
                        "list_reply" => i.list_reply.as_ref().map(InboundContent::ListReply),
                        _ => None,
                    })
            }
            _ => None,
        };
        content.unwrap_or(unsupported)
    }

    /// `timestamp` as epoch seconds, when it is one.
    pub fn timestamp_seconds(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

/// A string, or a number as its text (`null` is empty).
fn text_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Json::deserialize(deserializer)? {
        Json::String(text) => Ok(text),
        Json::Number(number) => Ok(number.to_string()),
        Json::Null => Ok(String::new()),
        _ => Err(serde::de::Error::custom("expected a string or a number")),
    }
}

/// Why a webhook body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookBodyError {
    #[error("the webhook body is not JSON: {0}")]
    NotJson(String),
    #[error("the webhook body is not a JSON object")]
    NotAnObject,
}

impl Notification {
    /// Read a POST body element by element (see the module docs); never panics.
    pub fn parse(body: &[u8]) -> Result<Notification, WebhookBodyError> {
        let root: Json =
            serde_json::from_slice(body).map_err(|e| WebhookBodyError::NotJson(e.to_string()))?;
        let Json::Object(mut root) = root else {
            return Err(WebhookBodyError::NotAnObject);
        };
        let object = match root.remove("object") {
            Some(Json::String(object)) => object,
            _ => String::new(),
        };
        let entry = items(root.remove("entry"))
            .map(|entry| {
                let Json::Object(mut entry) = entry else {
                    return Entry::default();
                };
                Entry {
                    id: text(entry.remove("id")),
                    changes: items(entry.remove("changes")).map(read_change).collect(),
                }
            })
            .collect();
        Ok(Notification { object, entry })
    }

    /// Every status of every change, in order.
    pub fn statuses(&self) -> impl Iterator<Item = &Status> {
        self.values().flat_map(|value| value.statuses.iter())
    }

    /// Every inbound message of every change, in order.
    pub fn messages(&self) -> impl Iterator<Item = &InboundMessage> {
        self.values().flat_map(|value| value.messages.iter())
    }

    /// Every change's value, in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entry
            .iter()
            .flat_map(|entry| entry.changes.iter().map(|change| &change.value))
    }
}

fn items(value: Option<Json>) -> impl Iterator<Item = Json> {
    match value {
        Some(Json::Array(items)) => items.into_iter(),
        _ => Vec::new().into_iter(),
    }
}

fn text(value: Option<Json>) -> String {
    match value {
        Some(Json::String(text)) => text,
        Some(Json::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

fn read_change(change: Json) -> Change {
    let Json::Object(mut change) = change else {
        return Change::default();
    };
    let field = text(change.remove("field"));
    let Some(Json::Object(mut value)) = change.remove("value") else {
        return Change {
            field,
            value: Value::default(),
        };
    };
    let mut unreadable = 0;
    let statuses = items(value.remove("statuses"))
        .filter_map(|status| {
            let read = serde_json::from_value(status).ok();
            unreadable += usize::from(read.is_none());
            read
        })
        .collect();
    let messages = items(value.remove("messages"))
        .filter_map(|message| {
            let read = read_message(message);
            unreadable += usize::from(read.is_none());
            read
        })
        .collect();
    let metadata = parsed(value.remove("metadata"));
    let messaging_product = parsed(value.remove("messaging_product"));
    let contacts = items(value.remove("contacts"))
        .filter_map(|c| serde_json::from_value(c).ok())
        .collect();
    let errors = items(value.remove("errors"))
        .filter_map(|e| serde_json::from_value(e).ok())
        .collect();
    Change {
        field,
        value: Value {
            messaging_product,
            metadata,
            contacts,
            statuses,
            messages,
            errors,
            unreadable,
        },
    }
}

/// `value` read as a `T`, when it is one.
fn parsed<T: serde::de::DeserializeOwned>(value: Option<Json>) -> Option<T> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

/// A message as Meta sent it; when its object cannot be read, the message with only its id,
/// sender, timestamp and type (so [`InboundMessage::content`] says unsupported); `None` without
/// an id or a sender.
fn read_message(message: Json) -> Option<InboundMessage> {
    if let Ok(read) = serde_json::from_value::<InboundMessage>(message.clone()) {
        return Some(read);
    }
    let Json::Object(mut message) = message else {
        return None;
    };
    let id = text(message.remove("id"));
    let from = text(message.remove("from"));
    if id.is_empty() || from.is_empty() {
        return None;
    }
    Some(InboundMessage {
        from,
        id,
        timestamp: text(message.remove("timestamp")),
        message_type: text(message.remove("type")),
        context: parsed(message.remove("context")),
        ..InboundMessage::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_with_errors_and_callback_data() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"1122334455"},
          "statuses":[{"id":"wamid.X","status":"failed","timestamp":"1700000000","recipient_id":"31612345678",
            "biz_opaque_callback_data":"cm-ref-1",
            "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
               "error_data":{"details":"24h"},"href":"https://developers.facebook.com/"}]},
            {"id":"wamid.Y","status":"delivered","timestamp":1700000001,"recipient_id":31,"conversation":{"id":"c"}},
            {"id":"wamid.Z","status":"something_new","timestamp":"1","recipient_id":"1"},
            {"status":"sent"}, 7]}}]}]}"#;
        let notification = Notification::parse(body).unwrap();
        assert_eq!(notification.object, "whatsapp_business_account");
        let value = &notification.entry[0].changes[0].value;
        assert_eq!(value.unreadable, 2);
        assert_eq!(
            value.metadata.as_ref().unwrap().phone_number_id,
            "1122334455"
        );
        let statuses: Vec<_> = notification.statuses().collect();
        assert_eq!(statuses.len(), 3);
        assert_eq!(
            *statuses[0],
            Status {
                id: "wamid.X".into(),
                status: StatusKind::Failed,
                timestamp: "1700000000".into(),
                recipient_id: "31612345678".into(),
                biz_opaque_callback_data: Some("cm-ref-1".into()),
                errors: vec![WebhookError {
                    code: 131047,
                    title: Some("Re-engagement message".into()),
                    message: Some("Re-engagement message".into()),
                    error_data: Some(ErrorData {
                        messaging_product: None,
                        details: Some("24h".into())
                    }),
                    href: Some("https://developers.facebook.com/".into()),
                }],
            }
        );
        assert_eq!(statuses[0].timestamp_seconds(), Some(1_700_000_000));
        assert_eq!(statuses[1].status, StatusKind::Delivered);
        assert_eq!(statuses[1].timestamp_seconds(), Some(1_700_000_001));
        assert_eq!(statuses[1].recipient_id, "31");
        assert_eq!(statuses[2].status, StatusKind::Other);
    }

    #[test]
    fn inbound_messages_of_every_type_and_unknown_ones_survive() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
          "contacts":[{"profile":{"name":"Ann"},"wa_id":"31612345678"}],
          "messages":[
            {"from":"31612345678","id":"m1","timestamp":"1700000001","type":"text","text":{"body":"hello"},
             "context":{"from":"15550001111","id":"wamid.X"}},
            {"from":"3","id":"m2","timestamp":"1","type":"image","image":{"id":"media1","mime_type":"image/jpeg","sha256":"abc","caption":"c"}},
            {"from":"3","id":"m3","timestamp":"1","type":"location","location":{"latitude":51.6,"longitude":4.77,"name":"CM"}},
            {"from":"3","id":"m4","timestamp":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}}},
            {"from":"3","id":"m5","timestamp":"1","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"Row 1","description":"d"}}},
            {"from":"3","id":"m6","timestamp":"1","type":"button","button":{"payload":"YES","text":"Yes"}},
            {"from":"3","id":"m7","timestamp":"1","type":"reaction","reaction":{"message_id":"x","emoji":"+"}},
            {"from":"3","id":"m8","timestamp":"1","type":"image","image":{"mime_type":7}},
            {"from":"3","id":"m9","timestamp":"1","type":"contacts","contacts":[{"name":{"formatted_name":"Ann"}}]},
            {"id":"no-sender","type":"text","text":{"body":"x"}}]}}]}]}"#;
        let notification = Notification::parse(body).unwrap();
        let value = &notification.entry[0].changes[0].value;
        assert_eq!(value.contacts[0].profile.as_ref().unwrap().name, "Ann");
        assert_eq!(value.unreadable, 1);
        let messages: Vec<_> = notification.messages().collect();
        assert_eq!(messages.len(), 9);
        assert_eq!(messages[0].content(), InboundContent::Text("hello"));
        assert_eq!(
            messages[0].context,
            Some(MessageContext {
                from: "15550001111".into(),
                id: "wamid.X".into()
            })
        );
        assert_eq!(
            messages[1].content(),
            InboundContent::Image(&InboundMedia {
                id: "media1".into(),
                mime_type: "image/jpeg".into(),
                sha256: Some("abc".into()),
                caption: Some("c".into()),
                filename: None,
            })
        );
        let InboundContent::Location(location) = messages[2].content() else {
            panic!("{:?}", messages[2].content());
        };
        assert_eq!(
            (location.latitude, location.name.as_deref()),
            (51.6, Some("CM"))
        );
        assert_eq!(
            messages[3].content(),
            InboundContent::ButtonReply(&ButtonReply {
                id: "yes".into(),
                title: "Yes".into()
            })
        );
        assert_eq!(
            messages[4].content(),
            InboundContent::ListReply(&ListReply {
                id: "r1".into(),
                title: "Row 1".into(),
                description: Some("d".into())
            })
        );
        assert_eq!(
            messages[5].content(),
            InboundContent::Button(&InboundButton {
                payload: "YES".into(),
                text: "Yes".into()
            })
        );
        assert_eq!(
            messages[6].content(),
            InboundContent::Unsupported("reaction")
        );
        assert_eq!(messages[7].content(), InboundContent::Unsupported("image"));
        assert_eq!(messages[7].id, "m8");
        assert!(matches!(messages[8].content(), InboundContent::Contacts(c) if c.len() == 1));
    }

    #[test]
    fn only_a_body_that_is_no_json_object_is_refused() {
        assert!(matches!(
            Notification::parse(b"not json"),
            Err(WebhookBodyError::NotJson(_))
        ));
        assert_eq!(
            Notification::parse(b"[]"),
            Err(WebhookBodyError::NotAnObject)
        );
        for body in [
            &b"{}"[..],
            br#"{"entry":7}"#,
            br#"{"entry":[7,{"changes":[null,{"value":[]}]}]}"#,
            br#"{"entry":[{"changes":[{"value":{"statuses":{},"messages":[null]}}]}]}"#,
        ] {
            let notification = Notification::parse(body).unwrap();
            assert_eq!(notification.statuses().count(), 0);
            assert_eq!(notification.messages().count(), 0);
        }
    }

    #[test]
    fn a_notification_renders_back_to_what_it_parses_from() {
        let notification = Notification {
            object: "whatsapp_business_account".into(),
            entry: vec![Entry {
                id: "W".into(),
                changes: vec![Change {
                    field: "messages".into(),
                    value: Value {
                        statuses: vec![Status {
                            id: "wamid.X".into(),
                            status: StatusKind::Read,
                            timestamp: "1".into(),
                            recipient_id: "31".into(),
                            biz_opaque_callback_data: None,
                            errors: vec![],
                        }],
                        ..Value::default()
                    },
                }],
            }],
        };
        let json = serde_json::to_string(&notification).unwrap();
        assert_eq!(
            json,
            r#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.X","status":"read","timestamp":"1","recipient_id":"31"}]}}]}]}"#
        );
        assert_eq!(Notification::parse(json.as_bytes()).unwrap(), notification);
    }

    /// Every node of `value`, as a JSON pointer.
    fn pointers(value: &Json, at: String, into: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                for (key, child) in map {
                    pointers(child, format!("{at}/{key}"), into);
                }
            }
            Json::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    pointers(child, format!("{at}/{index}"), into);
                }
            }
            _ => {}
        }
        into.push(at);
    }

    #[test]
    fn any_field_of_any_type_is_read_without_failing_the_payload() {
        let sample: Json = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
              "metadata":{"display_phone_number":"1","phone_number_id":"2"},
              "contacts":[{"profile":{"name":"Ann"},"wa_id":"3"}],
              "statuses":[{"id":"wamid.X","status":"failed","timestamp":"1","recipient_id":"3",
                "errors":[{"code":131047,"title":"t","error_data":{"details":"d"}}]}],
              "messages":[{"from":"3","id":"m1","timestamp":"1","type":"interactive",
                "interactive":{"type":"list_reply","list_reply":{"id":"r","title":"t"}},"context":{"from":"1","id":"x"}},
                {"from":"3","id":"m2","timestamp":"1","type":"location","location":{"latitude":1.5,"longitude":2}}]}}]}]}"#,
        )
        .unwrap();
        let mut all = Vec::new();
        pointers(&sample, String::new(), &mut all);
        let odd = [
            Json::Null,
            Json::from(7),
            Json::from(-1.5),
            Json::from("x"),
            Json::from(true),
            Json::Array(vec![Json::Null]),
            Json::Object(serde_json::Map::new()),
        ];
        for pointer in all {
            for value in &odd {
                let mut body = sample.clone();
                match body.pointer_mut(&pointer) {
                    Some(slot) => *slot = value.clone(),
                    None => continue,
                }
                let text = body.to_string();
                let parsed = Notification::parse(text.as_bytes());
                if pointer.is_empty() {
                    continue;
                }
                let notification = parsed.unwrap_or_else(|e| panic!("{pointer} = {value}: {e}"));
                for message in notification.messages() {
                    let _ = message.content();
                }
                // The other message always survives a change to one.
                if pointer.contains("/messages/0/") {
                    assert!(notification.messages().any(|m| m.id == "m2"), "{pointer}");
                }
            }
        }
    }
}
