//! CM `richContent` as typed values: conversation parts (text, media, location, contacts, WhatsApp
//! template) and suggestions. Parsing keeps every field optional and case-insensitive; the domain
//! decides what is required for which channel and names the offending field when it is missing.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::cm::wire::{Lenient, Text, normalize_keys};

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
    /// Whether it is an RCS rich card or carousel (`header`, `richCard` or `carousel`).
    pub has_rich_card: bool,
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
    /// Read `richContent` from its JSON object (keys in any case).
    pub fn from_json(value: &Value) -> Self {
        let wire: Lenient<RichContentWire> =
            serde_json::from_value(normalize_keys(value.clone())).unwrap_or(Lenient::Wrong);
        RichContent::from(wire.ok().unwrap_or_default())
    }
}

/// The text of a field, when present, well-typed and not blank.
fn text(field: Lenient<Text>) -> Option<String> {
    field.ok().map(|t| t.0).filter(|t| !t.trim().is_empty())
}

/// `Some(list)` when absent (empty) or an array; `None` when of another type.
fn list<W, T>(
    field: Lenient<Vec<Lenient<W>>>,
    into: fn(W) -> T,
    empty: fn() -> W,
) -> Option<Vec<T>> {
    match field {
        Lenient::Absent => Some(Vec::new()),
        Lenient::Wrong => None,
        Lenient::Present(items) => Some(
            items
                .into_iter()
                .filter(|item| item.is_present())
                .map(|item| into(item.ok().unwrap_or_else(empty)))
                .collect(),
        ),
    }
}

/// `richContent` on the wire.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = RichContent)]
pub struct RichContentWire {
    /// The conversation parts, in order.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ConversationPartWire>>)]
    pub conversation: Lenient<Vec<Lenient<ConversationPartWire>>>,
    /// At most 11 suggestions.
    #[serde(default)]
    #[schema(value_type = Option<Vec<SuggestionWire>>)]
    pub suggestions: Lenient<Vec<Lenient<SuggestionWire>>>,
}

/// One conversation part: text, media, location, contacts, a WhatsApp template or an interactive
/// message.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = ConversationPart)]
pub struct ConversationPartWire {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub text: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<MediaWire>)]
    pub media: Lenient<MediaWire>,
    #[serde(default)]
    #[schema(value_type = Option<LocationWire>)]
    pub location: Lenient<LocationWire>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ContactWire>>)]
    pub contacts: Lenient<Vec<Lenient<ContactWire>>>,
    #[serde(default)]
    #[schema(value_type = Option<TemplateWire>)]
    pub template: Lenient<TemplateWire>,
    /// A WhatsApp interactive message (forwarded as sent).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub interactive: Lenient<Map<String, Value>>,
    /// An RCS rich card's title (CM's SDK: a part with `header`, `text` and `media`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub header: Lenient<Text>,
    /// An RCS rich card as one object (`header`, `text`, `media`, `suggestions`).
    #[serde(default, rename = "richCard", alias = "richcard")]
    #[schema(value_type = Option<Object>)]
    pub rich_card: Lenient<Map<String, Value>>,
    /// An RCS carousel: `cards` (rich cards) and `cardWidth`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub carousel: Lenient<Map<String, Value>>,
}

/// `media`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Media)]
pub struct MediaWire {
    /// Caption.
    #[serde(default, rename = "mediaName", alias = "medianame")]
    #[schema(value_type = Option<String>)]
    pub media_name: Lenient<Text>,
    #[serde(default, rename = "mediaUri", alias = "mediauri")]
    #[schema(value_type = Option<String>)]
    pub media_uri: Lenient<Text>,
    /// One of the spec's types, e.g. image/jpeg, video/mp4, audio/ogg, document/pdf.
    #[serde(default, rename = "mimeType", alias = "mimetype")]
    #[schema(value_type = Option<String>)]
    pub mime_type: Lenient<Text>,
}

/// `location` / `viewLocation`: a search query, or latitude and longitude.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Location)]
pub struct LocationWire {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub latitude: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub longitude: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub label: Lenient<Text>,
    #[serde(default, rename = "searchQuery", alias = "searchquery")]
    #[schema(value_type = Option<String>)]
    pub search_query: Lenient<Text>,
}

/// A contact card (WhatsApp's fields; only `name.formatted_name` is required).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Contact)]
pub struct ContactWire {
    #[serde(default)]
    #[schema(value_type = Option<ContactNameWire>)]
    pub name: Lenient<ContactNameWire>,
}

/// `contacts[].name`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = ContactName)]
pub struct ContactNameWire {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub formatted_name: Lenient<Text>,
}

/// `template`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Template)]
pub struct TemplateWire {
    #[serde(default)]
    #[schema(value_type = Option<WhatsAppTemplateWire>)]
    pub whatsapp: Lenient<WhatsAppTemplateWire>,
}

/// `template.whatsapp`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = WhatsAppTemplate)]
pub struct WhatsAppTemplateWire {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub namespace: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub element_name: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<LanguageWire>)]
    pub language: Lenient<LanguageWire>,
    /// Template parameters (forwarded as sent).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub localizable_params: Lenient<Vec<Value>>,
    /// Template components (forwarded as sent).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub components: Lenient<Vec<Value>>,
}

/// `template.whatsapp.language`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = TemplateLanguage)]
pub struct LanguageWire {
    /// `fallback` or `deterministic`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub policy: Lenient<Text>,
    /// `en` or `en_US` form.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub code: Lenient<Text>,
}

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Suggestion)]
pub struct SuggestionWire {
    /// OpenUrl, CreateCalendarEvent, Dial, ViewLocation or Reply (any case).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub action: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub label: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub url: Lenient<Text>,
    #[serde(default, rename = "postbackData", alias = "postbackdata")]
    #[schema(value_type = Option<String>)]
    pub postback_data: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<CalendarWire>)]
    pub calendar: Lenient<CalendarWire>,
    #[serde(default)]
    #[schema(value_type = Option<DialWire>)]
    pub dial: Lenient<DialWire>,
    #[serde(default, rename = "viewLocation", alias = "viewlocation")]
    #[schema(value_type = Option<LocationWire>)]
    pub view_location: Lenient<LocationWire>,
}

/// `calendar`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Calendar)]
pub struct CalendarWire {
    #[serde(default, rename = "startTime", alias = "starttime")]
    #[schema(value_type = Option<String>)]
    pub start_time: Lenient<Text>,
    #[serde(default, rename = "endTime", alias = "endtime")]
    #[schema(value_type = Option<String>)]
    pub end_time: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Lenient<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Lenient<Text>,
}

/// `dial`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
#[schema(as = Dial)]
pub struct DialWire {
    #[serde(default, rename = "phoneNumber", alias = "phonenumber")]
    #[schema(value_type = Option<String>)]
    pub phone_number: Lenient<Text>,
}

impl From<RichContentWire> for RichContent {
    fn from(wire: RichContentWire) -> Self {
        RichContent {
            conversation: list(wire.conversation, ConversationPart::from, Default::default),
            suggestions: list(wire.suggestions, Suggestion::from, Default::default),
        }
    }
}

impl From<ConversationPartWire> for ConversationPart {
    fn from(wire: ConversationPartWire) -> Self {
        let has_interactive = matches!(wire.interactive, Lenient::Present(_));
        let has_rich_card = text(wire.header).is_some()
            || matches!(wire.rich_card, Lenient::Present(_))
            || matches!(wire.carousel, Lenient::Present(_));
        let contacts = match wire.contacts {
            Lenient::Absent => None,
            other => Some(list(other, Contact::from, Default::default).unwrap_or_default()),
        };
        let template = match wire.template {
            Lenient::Absent => None,
            other => Some(WhatsAppTemplate::from(other.ok().unwrap_or_default())),
        };
        let part = ConversationPart {
            text: wire.text.ok().map(|t| t.0),
            media: wire
                .media
                .is_present()
                .then(|| Media::from(wire.media.ok().unwrap_or_default())),
            location: wire
                .location
                .is_present()
                .then(|| Location::from(wire.location.ok().unwrap_or_default())),
            contacts,
            template,
            has_interactive,
            has_rich_card,
            is_empty: false,
        };
        let is_empty = part.text.is_none()
            && part.media.is_none()
            && part.location.is_none()
            && part.contacts.is_none()
            && part.template.is_none()
            && !part.has_interactive
            && !part.has_rich_card;
        ConversationPart { is_empty, ..part }
    }
}

impl From<MediaWire> for Media {
    fn from(wire: MediaWire) -> Self {
        Media {
            media_name: text(wire.media_name),
            media_uri: text(wire.media_uri),
            mime_type: text(wire.mime_type),
        }
    }
}

impl From<LocationWire> for Location {
    fn from(wire: LocationWire) -> Self {
        Location {
            latitude: text(wire.latitude),
            longitude: text(wire.longitude),
            label: text(wire.label),
            search_query: text(wire.search_query),
        }
    }
}

impl From<ContactWire> for Contact {
    fn from(wire: ContactWire) -> Self {
        Contact {
            formatted_name: wire.name.ok().and_then(|name| text(name.formatted_name)),
        }
    }
}

impl From<TemplateWire> for WhatsAppTemplate {
    fn from(wire: TemplateWire) -> Self {
        let has_whatsapp = wire.whatsapp.is_present();
        let whatsapp = wire.whatsapp.ok().unwrap_or_default();
        let language = whatsapp.language.ok().unwrap_or_default();
        WhatsAppTemplate {
            namespace: text(whatsapp.namespace),
            element_name: text(whatsapp.element_name),
            language_policy: text(language.policy),
            language_code: text(language.code),
            has_whatsapp,
        }
    }
}

impl From<SuggestionWire> for Suggestion {
    fn from(wire: SuggestionWire) -> Self {
        let has_dial = wire.dial.is_present();
        Suggestion {
            action: text(wire.action),
            label: text(wire.label),
            url: text(wire.url),
            calendar: wire.calendar.is_present().then(|| {
                let calendar = wire.calendar.ok().unwrap_or_default();
                Calendar {
                    start_time: text(calendar.start_time),
                    end_time: text(calendar.end_time),
                    title: text(calendar.title),
                    description: text(calendar.description),
                }
            }),
            dial_phone_number: wire.dial.ok().and_then(|dial| text(dial.phone_number)),
            has_dial,
            view_location: wire
                .view_location
                .is_present()
                .then(|| Location::from(wire.view_location.ok().unwrap_or_default())),
            postback_data: text(wire.postback_data),
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
        // RCS cards and carousels are parts too.
        let cards = RichContent::from_json(&json!({"conversation": [{"header": "Hat"},
            {"RichCard": {"title": "t"}}, {"carousel": {"cards": []}}, {"header": " "}]}));
        let cards = cards.conversation.unwrap();
        assert!(
            cards[..3]
                .iter()
                .all(|part| part.has_rich_card && !part.is_empty)
        );
        assert!(cards[3].is_empty);
    }
}
