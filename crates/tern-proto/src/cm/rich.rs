//! CM `richContent` as typed values: conversation parts (text, media, location, contacts, WhatsApp
//! template) and suggestions. Parsing keeps every field optional and case-insensitive; the domain
//! decides what is required for which channel and names the offending field when it is missing.

use serde_json::Value;

use crate::cm::json_ci::{get_in, scalar_text, text_in};

/// `richContent`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RichContent {
    /// `conversation`, in order; `None` when present but not an array.
    pub conversation: Option<Vec<ConversationPart>>,
    /// `suggestions`; `None` when present but not an array.
    pub suggestions: Option<Vec<Suggestion>>,
}

/// One element of `conversation`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationPart {
    pub text: Option<String>,
    pub media: Option<Media>,
    pub location: Option<Location>,
    /// `contacts`; each contact's `name.formatted_name` when present.
    pub contacts: Option<Vec<Contact>>,
    /// `template.whatsapp`, or `Some(default)` when `template` lacks `whatsapp`.
    pub template: Option<WhatsAppTemplate>,
    /// Whether an `interactive` object (WhatsApp interactive message) was present.
    pub has_interactive: bool,
    /// Whether the element carried anything at all (an empty object is an error).
    pub is_empty: bool,
}

/// `media`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Media {
    pub media_name: Option<String>,
    pub media_uri: Option<String>,
    pub mime_type: Option<String>,
}

/// `location` or `viewLocation`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub label: Option<String>,
    pub search_query: Option<String>,
}

/// A contact card; only `name.formatted_name` is required.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contact {
    pub formatted_name: Option<String>,
}

/// `template.whatsapp`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WhatsAppTemplate {
    pub namespace: Option<String>,
    pub element_name: Option<String>,
    pub language_policy: Option<String>,
    pub language_code: Option<String>,
    /// Whether the `whatsapp` object was there at all.
    pub has_whatsapp: bool,
}

/// One element of `suggestions`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suggestion {
    pub action: Option<String>,
    pub label: Option<String>,
    pub url: Option<String>,
    /// `calendar`: start and end time when present.
    pub calendar: Option<Calendar>,
    /// `dial.phoneNumber`.
    pub dial_phone_number: Option<String>,
    /// Whether a `dial` object was present.
    pub has_dial: bool,
    pub view_location: Option<Location>,
    pub postback_data: Option<String>,
}

/// `calendar` of a CreateCalendarEvent suggestion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calendar {
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

impl RichContent {
    /// Read `richContent` from its JSON object.
    pub fn from_json(value: &Value) -> Self {
        RichContent {
            conversation: list(value, "conversation", ConversationPart::from_json),
            suggestions: list(value, "suggestions", Suggestion::from_json),
        }
    }
}

/// `Some(empty)` when absent, `None` when present but not an array.
fn list<T>(value: &Value, key: &str, parse: fn(&Value) -> T) -> Option<Vec<T>> {
    match get_in(value, key) {
        None => Some(Vec::new()),
        Some(Value::Array(items)) => {
            Some(items.iter().filter(|v| !v.is_null()).map(parse).collect())
        }
        Some(_) => None,
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

impl ConversationPart {
    fn from_json(value: &Value) -> Self {
        let template = get_in(value, "template").map(|template| {
            let whatsapp = get_in(template, "whatsapp");
            let language = whatsapp.and_then(|w| get_in(w, "language"));
            WhatsAppTemplate {
                namespace: whatsapp.and_then(|w| non_empty(text_in(w, "namespace"))),
                element_name: whatsapp.and_then(|w| non_empty(text_in(w, "element_name"))),
                language_policy: language.and_then(|l| non_empty(text_in(l, "policy"))),
                language_code: language.and_then(|l| non_empty(text_in(l, "code"))),
                has_whatsapp: whatsapp.is_some(),
            }
        });
        let contacts = get_in(value, "contacts").map(|contacts| {
            contacts
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|contact| Contact {
                            formatted_name: get_in(contact, "name")
                                .and_then(|name| non_empty(text_in(name, "formatted_name"))),
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        let part = ConversationPart {
            text: get_in(value, "text").and_then(scalar_text),
            media: get_in(value, "media").map(Media::from_json),
            location: get_in(value, "location").map(Location::from_json),
            contacts,
            template,
            has_interactive: get_in(value, "interactive").is_some_and(|v| v.is_object()),
            is_empty: false,
        };
        let is_empty = part.text.is_none()
            && part.media.is_none()
            && part.location.is_none()
            && part.contacts.is_none()
            && part.template.is_none()
            && !part.has_interactive;
        ConversationPart { is_empty, ..part }
    }
}

impl Media {
    fn from_json(value: &Value) -> Self {
        Media {
            media_name: non_empty(text_in(value, "mediaName")),
            media_uri: non_empty(text_in(value, "mediaUri")),
            mime_type: non_empty(text_in(value, "mimeType")),
        }
    }
}

impl Location {
    fn from_json(value: &Value) -> Self {
        Location {
            latitude: non_empty(text_in(value, "latitude")),
            longitude: non_empty(text_in(value, "longitude")),
            label: non_empty(text_in(value, "label")),
            search_query: non_empty(text_in(value, "searchQuery")),
        }
    }
}

impl Suggestion {
    fn from_json(value: &Value) -> Self {
        let dial = get_in(value, "dial");
        Suggestion {
            action: non_empty(text_in(value, "action")),
            label: non_empty(text_in(value, "label")),
            url: non_empty(text_in(value, "url")),
            calendar: get_in(value, "calendar").map(|calendar| Calendar {
                start_time: non_empty(text_in(calendar, "startTime")),
                end_time: non_empty(text_in(calendar, "endTime")),
                title: non_empty(text_in(calendar, "title")),
                description: non_empty(text_in(calendar, "description")),
            }),
            dial_phone_number: dial.and_then(|d| non_empty(text_in(d, "phoneNumber"))),
            has_dial: dial.is_some(),
            view_location: get_in(value, "viewLocation").map(Location::from_json),
            postback_data: non_empty(text_in(value, "postbackData")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_and_suggestions_parse_case_insensitively() {
        let value = json!({
            "Conversation": [{"template": {"whatsapp": {"namespace": "ns", "element_name": "t",
                "language": {"policy": "fallback", "code": "en_US"}}}},
                {"media": {"mediaUri": "https://x/y.png", "MimeType": "image/PNG"}}],
            "suggestions": [{"action": "Dial", "label": "Call", "dial": {"PhoneNumber": "+3161"}}]
        });
        let rich = RichContent::from_json(&value);
        let conversation = rich.conversation.unwrap();
        let template = conversation[0].template.clone().unwrap();
        assert_eq!(template.language_code.as_deref(), Some("en_US"));
        assert_eq!(
            conversation[1].media.clone().unwrap().mime_type.as_deref(),
            Some("image/PNG")
        );
        let suggestions = rich.suggestions.unwrap();
        assert_eq!(suggestions[0].dial_phone_number.as_deref(), Some("+3161"));
        assert!(!conversation[0].is_empty);
        let empty = RichContent::from_json(&json!({"conversation": [{}]}));
        assert!(empty.conversation.unwrap()[0].is_empty);
    }
}
