//! Rules for `richContent`: what each conversation part and suggestion needs, the media types the
//! spec lists, and Viber's allowed combinations. A violation names the field.

use tern_proto::cm::rich::{ConversationPart, Location, RichContent, Suggestion};

use crate::channel::Channel;

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

/// Check `rich` for a message that may travel on `channels`. The error is the `messageDetails`.
pub fn validate(rich: &RichContent, channels: &[Channel]) -> Result<(), String> {
    let conversation = rich
        .conversation
        .as_ref()
        .ok_or("richContent.conversation must be an array")?;
    let suggestions = rich
        .suggestions
        .as_ref()
        .ok_or("richContent.suggestions must be an array")?;
    for (index, part) in conversation.iter().enumerate() {
        validate_part(part, &format!("richContent.conversation[{index}]"))?;
    }
    if suggestions.len() > MAX_SUGGESTIONS {
        return Err(format!(
            "richContent.suggestions has {} suggestions; at most {MAX_SUGGESTIONS} are allowed",
            suggestions.len()
        ));
    }
    for (index, suggestion) in suggestions.iter().enumerate() {
        validate_suggestion(suggestion, &format!("richContent.suggestions[{index}]"))?;
    }
    if channels.contains(&Channel::Viber) {
        validate_viber(conversation, suggestions)?;
    }
    Ok(())
}

fn validate_part(part: &ConversationPart, path: &str) -> Result<(), String> {
    if part.is_empty {
        return Err(format!(
            "{path} must contain text, media, location, contacts, template or interactive"
        ));
    }
    if let Some(media) = &part.media {
        if media.media_uri.is_none() {
            return Err(format!("{path}.media.mediaUri is required"));
        }
        let mime = media
            .mime_type
            .as_deref()
            .ok_or_else(|| format!("{path}.media.mimeType is required"))?;
        if !MEDIA_TYPES.iter().any(|t| t.eq_ignore_ascii_case(mime)) {
            return Err(format!(
                "{path}.media.mimeType '{mime}' is not a supported media type"
            ));
        }
    }
    if let Some(location) = &part.location {
        validate_location(location, &format!("{path}.location"))?;
    }
    if let Some(contacts) = &part.contacts {
        if contacts.is_empty() {
            return Err(format!("{path}.contacts must hold at least one contact"));
        }
        for (index, contact) in contacts.iter().enumerate() {
            if contact.formatted_name.is_none() {
                return Err(format!(
                    "{path}.contacts[{index}].name.formatted_name is required"
                ));
            }
        }
    }
    if let Some(template) = &part.template {
        let base = format!("{path}.template.whatsapp");
        if !template.has_whatsapp {
            return Err(format!("{base} is required"));
        }
        if template.namespace.is_none() {
            return Err(format!("{base}.namespace is required"));
        }
        if template.element_name.is_none() {
            return Err(format!("{base}.element_name is required"));
        }
        match template.language_policy.as_deref() {
            None => return Err(format!("{base}.language.policy is required")),
            Some(policy)
                if !policy.eq_ignore_ascii_case("fallback")
                    && !policy.eq_ignore_ascii_case("deterministic") =>
            {
                return Err(format!(
                    "{base}.language.policy '{policy}' must be 'fallback' or 'deterministic'"
                ));
            }
            Some(_) => {}
        }
        if template.language_code.is_none() {
            return Err(format!("{base}.language.code is required"));
        }
    }
    Ok(())
}

fn validate_location(location: &Location, path: &str) -> Result<(), String> {
    let has_coordinates = location.latitude.is_some() && location.longitude.is_some();
    if location.search_query.is_none() && !has_coordinates {
        return Err(format!(
            "{path} needs a searchQuery or both latitude and longitude"
        ));
    }
    for (name, value) in [
        ("latitude", &location.latitude),
        ("longitude", &location.longitude),
    ] {
        if let Some(value) = value {
            let limit = if name == "latitude" { 90.0 } else { 180.0 };
            match value.trim().parse::<f64>() {
                Ok(degrees) if degrees.is_finite() && degrees.abs() <= limit => {}
                _ => return Err(format!("{path}.{name} '{value}' is not a valid {name}")),
            }
        }
    }
    Ok(())
}

fn validate_suggestion(suggestion: &Suggestion, path: &str) -> Result<(), String> {
    let action = suggestion
        .action
        .as_deref()
        .ok_or_else(|| format!("{path}.action is required"))?;
    match action.to_ascii_lowercase().as_str() {
        "openurl" => {
            if suggestion.url.is_none() {
                return Err(format!("{path}.url is required for action OpenUrl"));
            }
        }
        "createcalendarevent" => {
            let calendar = suggestion.calendar.as_ref().ok_or_else(|| {
                format!("{path}.calendar is required for action CreateCalendarEvent")
            })?;
            if calendar.start_time.is_none() || calendar.end_time.is_none() {
                return Err(format!("{path}.calendar needs startTime and endTime"));
            }
        }
        "dial" => {
            if suggestion.dial_phone_number.is_none() {
                return Err(format!(
                    "{path}.dial.phoneNumber is required for action Dial"
                ));
            }
        }
        "viewlocation" => {
            let location = suggestion.view_location.as_ref().ok_or_else(|| {
                format!("{path}.viewLocation is required for action ViewLocation")
            })?;
            validate_location(location, &format!("{path}.viewLocation"))?;
        }
        "reply" => {}
        _ => {
            return Err(format!(
                "{path}.action '{action}' must be OpenUrl, CreateCalendarEvent, Dial, ViewLocation or Reply"
            ));
        }
    }
    if suggestion.label.is_none() {
        return Err(format!("{path}.label is required"));
    }
    Ok(())
}

/// Viber takes: text; image; text and button; text, image and button.
fn validate_viber(
    conversation: &[ConversationPart],
    suggestions: &[Suggestion],
) -> Result<(), String> {
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
    let fits = other_media == 0
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
        );
    if fits {
        Ok(())
    } else {
        Err("richContent is not a combination Viber supports: text; image; text and button; or text, image and button (one OpenUrl suggestion)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: serde_json::Value, channels: &[Channel]) -> Result<(), String> {
        validate(&RichContent::from_json(&value), channels)
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
