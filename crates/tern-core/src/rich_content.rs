//! Rules for `richContent`: what each conversation part and suggestion needs, the media types the
//! spec lists, and Viber's allowed combinations. A violation names the field by its path and the
//! rule by a [`RichRule`]; its text is in the error table.

use std::fmt;

use tern_proto::cm::rich::{ConversationPart, Location, RichContent, Suggestion};

use crate::channel::Channel;
use crate::error_code::{Coordinate, RichContentError, RichRule};

/// At most this many suggestions per message.
pub const MAX_SUGGESTIONS: usize = 11;

/// The mime types the spec lists (compared without case); `audio/aac` and `application/pdf`
/// are accepted too, as the spec's `audio/acc` is a typo and PDFs are commonly sent that way.
const MEDIA_TYPES: &[&str] = &[
    "image/jpg",
    "image/jpeg",
    "image/png",
    "video/mp4",
    "audio/acc",
    "audio/aac",
    "audio/m4a",
    "audio/amr",
    "audio/mp3",
    "audio/mpeg",
    "audio/ogg",
    "audio/opus",
    "document/pdf",
    "document/doc",
    "document/docx",
    "document/ppt",
    "document/pptx",
    "document/xls",
    "document/xlsx",
    "application/pdf",
];

/// Where in `richContent` a rule is broken, as clients spell it:
/// `richContent.conversation[2].media.mimeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RichPath(String);

impl RichPath {
    /// `richContent` itself.
    pub fn root() -> RichPath {
        RichPath("richContent".to_owned())
    }

    /// The member `name` of this element.
    pub fn member(&self, name: &str) -> RichPath {
        let mut path = self.0.clone();
        path.push('.');
        path.push_str(name);
        RichPath(path)
    }

    /// The `index`-th item of this array.
    pub fn item(&self, index: usize) -> RichPath {
        let mut path = self.0.clone();
        path.push('[');
        path.push_str(&index.to_string());
        path.push(']');
        RichPath(path)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn broken(self, rule: RichRule) -> RichContentError {
        RichContentError { path: self, rule }
    }
}

impl fmt::Display for RichPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Check `rich` for a message that may travel on `channels`.
pub fn validate(rich: &RichContent, channels: &[Channel]) -> Result<(), RichContentError> {
    let root = RichPath::root();
    let conversation_path = root.member("conversation");
    let suggestions_path = root.member("suggestions");
    let conversation = rich
        .conversation
        .as_ref()
        .ok_or_else(|| conversation_path.clone().broken(RichRule::NotAnArray))?;
    let suggestions = rich
        .suggestions
        .as_ref()
        .ok_or_else(|| suggestions_path.clone().broken(RichRule::NotAnArray))?;
    for (index, part) in conversation.iter().enumerate() {
        validate_part(part, &conversation_path.item(index))?;
    }
    if suggestions.len() > MAX_SUGGESTIONS {
        return Err(suggestions_path.broken(RichRule::TooManySuggestions {
            count: suggestions.len(),
            limit: MAX_SUGGESTIONS,
        }));
    }
    for (index, suggestion) in suggestions.iter().enumerate() {
        validate_suggestion(suggestion, &suggestions_path.item(index))?;
    }
    if channels.contains(&Channel::Viber) && !fits_viber(conversation, suggestions) {
        return Err(root.broken(RichRule::NotAViberCombination));
    }
    Ok(())
}

fn validate_part(part: &ConversationPart, path: &RichPath) -> Result<(), RichContentError> {
    if part.is_empty {
        return Err(path.clone().broken(RichRule::EmptyPart));
    }
    if let Some(media) = &part.media {
        let media_path = path.member("media");
        if media.media_uri.is_none() {
            return Err(media_path.member("mediaUri").broken(RichRule::Required));
        }
        let mime_path = media_path.member("mimeType");
        let mime = media
            .mime_type
            .as_deref()
            .ok_or_else(|| mime_path.clone().broken(RichRule::Required))?;
        if !MEDIA_TYPES.iter().any(|t| t.eq_ignore_ascii_case(mime)) {
            return Err(mime_path.broken(RichRule::UnsupportedMediaType(mime.to_owned())));
        }
    }
    if let Some(location) = &part.location {
        validate_location(location, &path.member("location"))?;
    }
    if let Some(contacts) = &part.contacts {
        let contacts_path = path.member("contacts");
        if contacts.is_empty() {
            return Err(contacts_path.broken(RichRule::NoContacts));
        }
        for (index, contact) in contacts.iter().enumerate() {
            if contact.formatted_name.is_none() {
                return Err(contacts_path
                    .item(index)
                    .member("name")
                    .member("formatted_name")
                    .broken(RichRule::Required));
            }
        }
    }
    if let Some(template) = &part.template {
        let base = path.member("template").member("whatsapp");
        if !template.has_whatsapp {
            return Err(base.broken(RichRule::Required));
        }
        if template.namespace.is_none() {
            return Err(base.member("namespace").broken(RichRule::Required));
        }
        if template.element_name.is_none() {
            return Err(base.member("element_name").broken(RichRule::Required));
        }
        let language = base.member("language");
        match template.language_policy.as_deref() {
            None => return Err(language.member("policy").broken(RichRule::Required)),
            Some(policy)
                if !policy.eq_ignore_ascii_case("fallback")
                    && !policy.eq_ignore_ascii_case("deterministic") =>
            {
                return Err(language
                    .member("policy")
                    .broken(RichRule::InvalidLanguagePolicy(policy.to_owned())));
            }
            Some(_) => {}
        }
        if template.language_code.is_none() {
            return Err(language.member("code").broken(RichRule::Required));
        }
    }
    Ok(())
}

fn validate_location(location: &Location, path: &RichPath) -> Result<(), RichContentError> {
    let has_coordinates = location.latitude.is_some() && location.longitude.is_some();
    if location.search_query.is_none() && !has_coordinates {
        return Err(path.clone().broken(RichRule::NoPlace));
    }
    for (coordinate, value) in [
        (Coordinate::Latitude, &location.latitude),
        (Coordinate::Longitude, &location.longitude),
    ] {
        if let Some(value) = value {
            let limit = match coordinate {
                Coordinate::Latitude => 90.0,
                Coordinate::Longitude => 180.0,
            };
            match value.trim().parse::<f64>() {
                Ok(degrees) if degrees.is_finite() && degrees.abs() <= limit => {}
                _ => {
                    return Err(path.member(coordinate.name()).broken(
                        RichRule::InvalidCoordinate {
                            coordinate,
                            value: value.clone(),
                        },
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_suggestion(suggestion: &Suggestion, path: &RichPath) -> Result<(), RichContentError> {
    let action_path = path.member("action");
    let action = suggestion
        .action
        .as_deref()
        .ok_or_else(|| action_path.clone().broken(RichRule::Required))?;
    match action.to_ascii_lowercase().as_str() {
        "openurl" => {
            if suggestion.url.is_none() {
                return Err(path
                    .member("url")
                    .broken(RichRule::RequiredForAction("OpenUrl")));
            }
        }
        "createcalendarevent" => {
            let calendar_path = path.member("calendar");
            let calendar = suggestion.calendar.as_ref().ok_or_else(|| {
                calendar_path
                    .clone()
                    .broken(RichRule::RequiredForAction("CreateCalendarEvent"))
            })?;
            if calendar.start_time.is_none() || calendar.end_time.is_none() {
                return Err(calendar_path.broken(RichRule::CalendarNeedsTimes));
            }
        }
        "dial" => {
            if suggestion.dial_phone_number.is_none() {
                return Err(path
                    .member("dial")
                    .member("phoneNumber")
                    .broken(RichRule::RequiredForAction("Dial")));
            }
        }
        "viewlocation" => {
            let location_path = path.member("viewLocation");
            let location = suggestion.view_location.as_ref().ok_or_else(|| {
                location_path
                    .clone()
                    .broken(RichRule::RequiredForAction("ViewLocation"))
            })?;
            validate_location(location, &location_path)?;
        }
        "reply" => {}
        _ => {
            return Err(action_path.broken(RichRule::UnknownAction(action.to_owned())));
        }
    }
    if suggestion.label.is_none() {
        return Err(path.member("label").broken(RichRule::Required));
    }
    Ok(())
}

/// Viber takes: text; image; text and button; text, image and button.
fn fits_viber(conversation: &[ConversationPart], suggestions: &[Suggestion]) -> bool {
    let texts = conversation.iter().filter(|p| p.text.is_some()).count();
    let images = conversation
        .iter()
        .filter_map(|p| p.media.as_ref())
        .filter(|m| {
            m.mime_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("image/"))
        })
        .count();
    let other_media = conversation.iter().filter(|p| p.media.is_some()).count() - images;
    let other_parts = conversation
        .iter()
        .filter(|p| {
            p.location.is_some()
                || p.contacts.is_some()
                || p.template.is_some()
                || p.has_interactive
        })
        .count();
    let buttons = suggestions.len();
    other_media == 0
        && other_parts == 0
        && texts <= 1
        && images <= 1
        && buttons <= 1
        && suggestions.iter().all(|s| {
            s.action
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("openurl"))
        })
        && matches!(
            (texts, images, buttons),
            (1, 0, 0) | (0, 1, 0) | (1, 0, 1) | (1, 1, 1) | (0, 0, 0)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: serde_json::Value, channels: &[Channel]) -> Result<(), String> {
        validate(&RichContent::from_json(&value), channels)
            .map_err(|error| crate::error_code::Rejection::RichContent(error).details())
    }

    #[test]
    fn rules_name_the_field() {
        let wa = [Channel::WhatsApp];
        assert_eq!(
            check(json!({"conversation":[{"media":{"mediaUri":"u","mimeType":"image/gif"}}]}), &wa),
            Err("richContent.conversation[0].media.mimeType 'image/gif' is not a supported media type".into())
        );
        assert_eq!(
            check(json!({"conversation":[{"location":{"label":"x"}}]}), &wa),
            Err("richContent.conversation[0].location needs a searchQuery or both latitude and longitude".into())
        );
        assert_eq!(
            check(json!({"conversation":[{"contacts":[{"name":{}}]}]}), &wa),
            Err("richContent.conversation[0].contacts[0].name.formatted_name is required".into())
        );
        assert_eq!(
            check(
                json!({"conversation":[{"template":{"whatsapp":{"namespace":"n","element_name":"e","language":{"code":"en"}}}}]}),
                &wa
            ),
            Err("richContent.conversation[0].template.whatsapp.language.policy is required".into())
        );
        assert_eq!(
            check(
                json!({"suggestions":[{"action":"Dial","label":"Call"}]}),
                &wa
            ),
            Err("richContent.suggestions[0].dial.phoneNumber is required for action Dial".into())
        );
        let twelve: Vec<_> = (0..12)
            .map(|_| json!({"action":"Reply","label":"x"}))
            .collect();
        assert_eq!(
            check(json!({"suggestions": twelve}), &wa),
            Err("richContent.suggestions has 12 suggestions; at most 11 are allowed".into())
        );
    }

    #[test]
    fn viber_combinations() {
        let viber = [Channel::Viber];
        let text = json!({"text":"hi"});
        let image = json!({"media":{"mediaUri":"u","mimeType":"image/PNG"}});
        let button = json!({"action":"Openurl","label":"Visit","url":"https://x"});
        assert!(
            check(
                json!({"conversation":[text, image], "suggestions":[button]}),
                &viber
            )
            .is_ok()
        );
        assert!(
            check(
                json!({"conversation":[text], "suggestions":[button]}),
                &viber
            )
            .is_ok()
        );
        assert!(check(json!({"conversation":[image]}), &viber).is_ok());
        assert!(check(json!({"conversation":[text, image]}), &viber).is_err());
        assert!(
            check(
                json!({"conversation":[image], "suggestions":[button]}),
                &viber
            )
            .is_err()
        );
        // The same content is fine for WhatsApp.
        assert!(check(json!({"conversation":[text, image]}), &[Channel::WhatsApp]).is_ok());
    }
}
