//! The body of `POST /{vNN.0}/{phone-number-id}/messages`: `messaging_product`, `to`, `type` and
//! the object named by `type` ([`Body`]), with the optional `recipient_type`, `context` and
//! `biz_opaque_callback_data` (echoed back in status webhooks). Serialises in Meta's field order;
//! deserialises too, for the stand-in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MESSAGING_PRODUCT;

/// One send request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Always [`MESSAGING_PRODUCT`].
    pub messaging_product: String,
    /// `individual` (or `group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<String>,
    /// The recipient: international digits without `+` or `00`.
    pub to: String,
    /// A quoted reply: the wamid of the message replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// `type` and the object it names.
    #[serde(flatten)]
    pub body: Body,
    /// Echoed back in every status webhook of this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
}

impl Request {
    /// A request to an individual `to` with `body`.
    pub fn new(to: impl Into<String>, body: Body) -> Request {
        Request {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            recipient_type: Some("individual".to_owned()),
            to: to.into(),
            context: None,
            body,
            biz_opaque_callback_data: None,
        }
    }

    /// The JSON text Meta is sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a request always serialises")
    }
}

/// `context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub message_id: String,
}

/// `type` and its object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    Text {
        text: Text,
    },
    Image {
        image: Media,
    },
    Video {
        video: Media,
    },
    Audio {
        audio: Media,
    },
    Document {
        document: Media,
    },
    Sticker {
        sticker: Media,
    },
    Location {
        location: Location,
    },
    /// Contact cards in WhatsApp's own shape (`name`, `phones`, `emails`, `addresses`, `org`,
    /// `urls`, `birthday`), forwarded as given.
    Contacts {
        contacts: Vec<Value>,
    },
    Template {
        template: Template,
    },
    /// Boxed: by far the largest body.
    Interactive {
        interactive: Box<Interactive>,
    },
}

impl Body {
    /// The value of `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::Text { .. } => "text",
            Body::Image { .. } => "image",
            Body::Video { .. } => "video",
            Body::Audio { .. } => "audio",
            Body::Document { .. } => "document",
            Body::Sticker { .. } => "sticker",
            Body::Location { .. } => "location",
            Body::Contacts { .. } => "contacts",
            Body::Template { .. } => "template",
            Body::Interactive { .. } => "interactive",
        }
    }
}

/// `text`: at most 4096 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
    #[serde(default)]
    pub preview_url: bool,
}

/// `image`, `video`, `audio`, `document`, `sticker`: by `link` (or an uploaded media `id`).
/// Audio and stickers take no caption; only documents take a filename.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `template`: an approved template by name and language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: TemplateLanguage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent>,
}

/// `template.language`: `policy` accepts only `deterministic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLanguage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub code: String,
}

/// One of `template.components`: `header`, `body` or `button` (with `sub_type` `url`,
/// `quick_reply`, `copy_code`, `flow`, `catalog` or `mpm`, and `index`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateComponent {
    #[serde(rename = "type")]
    pub component_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// A button's position, as a string of digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default)]
    pub parameters: Vec<TemplateParameter>,
}

/// A template parameter, `{"type":t, t:…}`: `text`, `currency`, `date_time`, `image`,
/// `document`, `video`, `location` or `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateParameter {
    #[serde(rename = "type")]
    pub parameter_type: String,
    /// The object (or text) the type names, and anything else given, as given.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, Value>,
}

impl TemplateParameter {
    /// `{"type":parameter_type, parameter_type: value}`.
    pub fn new(parameter_type: &str, value: Value) -> TemplateParameter {
        let mut fields = serde_json::Map::new();
        fields.insert(parameter_type.to_owned(), value);
        TemplateParameter {
            parameter_type: parameter_type.to_owned(),
            fields,
        }
    }
}

/// `interactive`: reply buttons, a list, or a call-to-action URL button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    /// `button`, `list`, `cta_url`, `location_request_message`, …
    #[serde(rename = "type")]
    pub interactive_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<InteractiveHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<InteractiveText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<InteractiveText>,
    pub action: InteractiveAction,
}

/// `interactive.header`: `text` (at most 60 characters) or a media object named by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveHeader {
    #[serde(rename = "type")]
    pub header_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
}

/// `interactive.body` / `interactive.footer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractiveText {
    pub text: String,
}

/// `interactive.action`: `buttons` for reply buttons; `button` and `sections` for a list;
/// `name` and `parameters` for `cta_url` and similar.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InteractiveAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// `{"type":"reply","reply":{"id","title"}}`: title at most 20 characters, id at most 256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    #[serde(rename = "type")]
    pub button_type: String,
    pub reply: Reply,
}

impl ReplyButton {
    /// A reply button.
    pub fn reply(id: impl Into<String>, title: impl Into<String>) -> ReplyButton {
        ReplyButton {
            button_type: "reply".to_owned(),
            reply: Reply {
                id: id.into(),
                title: title.into(),
            },
        }
    }
}

/// `reply` of a reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: String,
    pub title: String,
}

/// A list section: at most 10 rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

/// A list row: id at most 200 characters, title 24, description 72.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Interactive limits (checked in whatsapp-api-js).
pub mod limits {
    /// `text.body`.
    pub const TEXT_BODY: usize = 4096;
    /// `interactive.body.text`, and a media caption.
    pub const INTERACTIVE_BODY: usize = 1024;
    /// Reply buttons per message.
    pub const REPLY_BUTTONS: usize = 3;
    /// A reply button's title.
    pub const BUTTON_TITLE: usize = 20;
    /// A reply button's id.
    pub const BUTTON_ID: usize = 256;
    /// A list's button text.
    pub const LIST_BUTTON: usize = 20;
    /// Rows per list (over all sections).
    pub const LIST_ROWS: usize = 10;
    /// A row's id.
    pub const ROW_ID: usize = 200;
    /// A row's title.
    pub const ROW_TITLE: usize = 24;
    /// A header's text and a footer.
    pub const HEADER_TEXT: usize = 60;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_in_metas_shape() {
        let mut request = Request::new(
            "31612345678",
            Body::Text {
                text: Text {
                    body: "Hi".into(),
                    preview_url: false,
                },
            },
        );
        request.biz_opaque_callback_data = Some("ref".into());
        assert_eq!(
            request.to_json(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"31612345678","type":"text","text":{"body":"Hi","preview_url":false},"biz_opaque_callback_data":"ref"}"#
        );
        let back: Request = serde_json::from_str(&request.to_json()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn documents_location_and_interactive_render_in_metas_shape() {
        let document = Request::new(
            "1",
            Body::Document {
                document: Media {
                    link: Some("https://x/f.pdf".into()),
                    filename: Some("f.pdf".into()),
                    ..Media::default()
                },
            },
        );
        assert_eq!(
            document.to_json(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"1","type":"document","document":{"link":"https://x/f.pdf","filename":"f.pdf"}}"#
        );
        let location = Request::new(
            "1",
            Body::Location {
                location: Location {
                    latitude: 51.6,
                    longitude: 4.77,
                    name: Some("CM HQ".into()),
                    address: None,
                },
            },
        );
        assert_eq!(
            location.to_json(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"1","type":"location","location":{"latitude":51.6,"longitude":4.77,"name":"CM HQ"}}"#
        );
        let buttons = Request::new(
            "1",
            Body::Interactive {
                interactive: Box::new(Interactive {
                    interactive_type: "button".into(),
                    header: None,
                    body: Some(InteractiveText {
                        text: "Pick".into(),
                    }),
                    footer: None,
                    action: InteractiveAction {
                        buttons: vec![ReplyButton::reply("yes", "Yes")],
                        ..InteractiveAction::default()
                    },
                }),
            },
        );
        assert_eq!(
            buttons.to_json(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}}"#
        );
    }
}
