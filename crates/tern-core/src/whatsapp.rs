//! What Tern decides for the WhatsApp channel, between CM's API and Meta's Cloud API: which
//! requests a message's content becomes ([`requests_for`]), what an error code means for the
//! message ([`classify_error`], from one table, [`ERROR_TABLE`]), and which CM status a status
//! webhook reports ([`status_event`]). The wire shapes are tern-proto's `whatsapp` module; the
//! connector and the webhook endpoint that use these decisions live at the edges.
//!
//! **One request per conversation part.** Meta's API sends one message per request, and a CM
//! `richContent.conversation` is a list of parts a handset shows as separate messages: each part
//! becomes one request, in order (the connector sends them in that order and keeps one wamid per
//! part). Without a conversation, the body's text is the one part. Every request carries Tern's
//! message id, the attempt and its place among the message's requests as
//! `biz_opaque_callback_data` ([`CallbackRef`]), so every status names the message and the send
//! it is about without a look-up.
//!
//! **Statuses of a message of several requests** ([`status_event`]): a `failed` of any request
//! fails the message; `sent`, `delivered` and `read` are reported from the last request (a
//! handset shows the parts in order, so the last one delivered stands for all). A `failed`
//! whose code is throttling or transient sends the message again on WhatsApp later rather than
//! fall back.
//!
//! **Suggestions** go with the last text part (or, with no text part, the body's text, sent
//! last): reply suggestions make it an interactive message with up to 3 reply buttons, or a list
//! of up to 10 rows under an "Options" button; a single OpenUrl suggestion makes it a `cta_url`
//! message; other OpenUrl, Dial and CreateCalendarEvent suggestions become lines of its text
//! ("label: url"); a ViewLocation suggestion becomes a `location` message after it.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tern_proto::whatsapp::send::{
    Body, Interactive, InteractiveAction, InteractiveText, Location, Media, ReplyButton, Row,
    Section, Template, TemplateComponent, TemplateLanguage, TemplateParameter, Text, limits,
};
use tern_proto::whatsapp::webhook::{Status, StatusKind};
use tern_proto::whatsapp::{GraphError, Request};

use crate::dispatch::Event;
use crate::error_code::DeliveryError;
use crate::inbound::{InboundExtras, InboundFile};
use crate::message::{Content, MessageId};
/// Shared by every provider's decisions; re-exported here, where they were first defined.
pub use crate::provider::{ErrorClass, StatusUpdate};
use crate::provider::{RichParts, rich_parts, text_of};
use crate::status::{CmStatus, NOT_DELIVERED_ERROR};

/// The text of a list message's button when suggestions become a list.
pub const LIST_BUTTON_TEXT: &str = "Options";

/// Why a message's content cannot be sent on WhatsApp (it falls back to its next channel).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsAppContentError {
    #[error("recipient '{0}' is not an international number")]
    InvalidRecipient(String),
    #[error("nothing to send: no body text and no richContent conversation")]
    NoContent,
    #[error("richContent is not a JSON object")]
    InvalidRichContent,
    #[error("richContent.conversation[{part}] has nothing WhatsApp can carry")]
    UnsupportedPart { part: usize },
    #[error("richContent.conversation[{part}].{field} is required")]
    Missing { part: usize, field: &'static str },
    #[error("richContent.conversation[{part}].location has invalid coordinates")]
    InvalidCoordinates { part: usize },
    #[error("richContent.conversation[{part}].interactive cannot be sent: {reason}")]
    InvalidInteractive { part: usize, reason: String },
    #[error("a text of {length} characters is longer than WhatsApp's {limit}")]
    TextTooLong { length: usize, limit: usize },
    #[error(
        "richContent.suggestions[{index}].label '{label}' is longer than WhatsApp's {limit} characters"
    )]
    LabelTooLong {
        index: usize,
        label: String,
        limit: usize,
    },
    #[error(
        "richContent.suggestions[{index}].label '{label}' is the label of an earlier reply too"
    )]
    DuplicateLabel { index: usize, label: String },
    #[error(
        "richContent.suggestions[{index}].postbackdata of {length} characters is longer than WhatsApp's {limit}"
    )]
    PostbackTooLong {
        index: usize,
        length: usize,
        limit: usize,
    },
    #[error("richContent.suggestions has {count} replies; WhatsApp takes at most {limit}")]
    TooManyReplies { count: usize, limit: usize },
    #[error("richContent.suggestions need a text to go with")]
    SuggestionsWithoutText,
}

/// The requests that send `content` to `recipient` (CM's `00…` or `+…` form), in order; never
/// empty (see the module docs).
pub fn requests_for(
    content: &Content,
    recipient: &str,
    tern_message_id: MessageId,
    attempt: u32,
) -> Result<Vec<Request>, WhatsAppContentError> {
    let to = whatsapp_number(recipient)
        .ok_or_else(|| WhatsAppContentError::InvalidRecipient(recipient.to_owned()))?;
    let RichParts {
        conversation,
        suggestions,
    } = rich_parts(content).map_err(|_| WhatsAppContentError::InvalidRichContent)?;
    let mut bodies = Vec::new();
    for (part, value) in conversation.into_iter().enumerate() {
        bodies.extend(part_bodies(part, value)?);
    }
    let body_text = Some(content.body.as_str()).filter(|t| !t.trim().is_empty());
    if bodies.is_empty() {
        let text = body_text.ok_or(WhatsAppContentError::NoContent)?;
        bodies.push(text_body(text.to_owned())?);
    }
    if !suggestions.is_empty() {
        let last_text = bodies
            .iter()
            .rposition(|body| matches!(body, Body::Text { .. }));
        let (index, text) = match last_text {
            Some(index) => match bodies.remove(index) {
                Body::Text { text } => (index, text.body),
                _ => unreachable!("the position of a text body"),
            },
            None => (
                bodies.len(),
                body_text
                    .ok_or(WhatsAppContentError::SuggestionsWithoutText)?
                    .to_owned(),
            ),
        };
        let with_suggestions = with_suggestions(text, &suggestions)?;
        bodies.splice(index..index, with_suggestions);
    }
    let parts = bodies.len() as u32;
    Ok(bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| {
            let mut request = Request::new(to.clone(), body);
            let place = CallbackRef {
                message_id: tern_message_id,
                attempt,
                part_index: index as u32,
                parts,
            };
            request.biz_opaque_callback_data = Some(place.render());
            request
        })
        .collect())
}

/// What Tern puts in a request's `biz_opaque_callback_data`, which Meta echoes in its statuses:
/// the message, the send (attempt) and the request's place among the message's requests,
/// written `{message id}:{attempt}:{part index}/{parts}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackRef {
    pub message_id: MessageId,
    pub attempt: u32,
    /// From 0.
    pub part_index: u32,
    pub parts: u32,
}

impl CallbackRef {
    /// Its text.
    pub fn render(&self) -> String {
        format!(
            "{}:{}:{}/{}",
            self.message_id, self.attempt, self.part_index, self.parts
        )
    }

    /// Read a `biz_opaque_callback_data`; `None` when Tern did not write it (or wrote it
    /// otherwise).
    pub fn parse(data: &str) -> Option<CallbackRef> {
        let (message_id, rest) = data.split_once(':')?;
        let (attempt, place) = rest.split_once(':')?;
        let (part_index, parts) = place.split_once('/')?;
        let number = |text: &str| -> Option<u32> {
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        };
        let place = CallbackRef {
            message_id: MessageId::parse(message_id)?,
            attempt: number(attempt)?,
            part_index: number(part_index)?,
            parts: number(parts)?,
        };
        (place.part_index < place.parts).then_some(place)
    }

    /// Whether it is the message's last request.
    pub fn is_last(&self) -> bool {
        self.part_index + 1 == self.parts
    }
}

/// A CM number (`0031…`, `+31…` or bare digits) as WhatsApp's `to`: its international digits.
pub fn whatsapp_number(recipient: &str) -> Option<String> {
    let recipient = recipient.trim();
    let digits = recipient
        .strip_prefix('+')
        .or_else(|| recipient.strip_prefix("00"))
        .unwrap_or(recipient);
    (!digits.is_empty()
        && digits.len() <= 15
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then(|| digits.to_owned())
}

fn text_body(body: String) -> Result<Body, WhatsAppContentError> {
    check_length(&body, limits::TEXT_BODY)?;
    Ok(Body::Text {
        text: Text {
            body,
            preview_url: false,
        },
    })
}

fn check_length(text: &str, limit: usize) -> Result<(), WhatsAppContentError> {
    let length = text.chars().count();
    if length > limit {
        return Err(WhatsAppContentError::TextTooLong { length, limit });
    }
    Ok(())
}

/// The bodies of one conversation part: one per kind it holds (CM's parts hold one).
fn part_bodies(part: usize, value: Value) -> Result<Vec<Body>, WhatsAppContentError> {
    let Value::Object(part_object) = value else {
        return Err(WhatsAppContentError::UnsupportedPart { part });
    };
    let mut bodies = Vec::new();
    if let Some(text) = text_of(part_object.get("text")) {
        bodies.push(text_body(text)?);
    }
    if let Some(media) = part_object.get("media").and_then(Value::as_object) {
        bodies.push(media_body(part, media)?);
    }
    if let Some(location) = part_object.get("location").and_then(Value::as_object) {
        bodies.push(location_body(part, location)?);
    }
    if let Some(Value::Array(contacts)) = part_object.get("contacts") {
        if contacts.is_empty() {
            return Err(WhatsAppContentError::Missing {
                part,
                field: "contacts",
            });
        }
        bodies.push(Body::Contacts {
            contacts: contacts.clone(),
        });
    }
    if let Some(template) = part_object.get("template") {
        bodies.push(template_body(part, template)?);
    }
    if let Some(Value::Object(interactive)) = part_object.get("interactive") {
        bodies.push(interactive_body(part, interactive.clone())?);
    }
    if bodies.is_empty() {
        return Err(WhatsAppContentError::UnsupportedPart { part });
    }
    Ok(bodies)
}

/// Which of WhatsApp's media objects a mime type goes in: image/*, video/*, audio/*, else
/// document.
pub fn media_kind(mime_type: &str) -> &'static str {
    let mime_type = mime_type.trim().to_ascii_lowercase();
    ["image", "video", "audio"]
        .into_iter()
        .find(|kind| {
            mime_type
                .strip_prefix(kind)
                .is_some_and(|rest| rest.starts_with('/'))
        })
        .unwrap_or("document")
}

fn media_body(part: usize, media: &Map<String, Value>) -> Result<Body, WhatsAppContentError> {
    let link = text_of(media.get("mediauri")).ok_or(WhatsAppContentError::Missing {
        part,
        field: "media.mediaUri",
    })?;
    let mime_type = text_of(media.get("mimetype")).unwrap_or_default();
    let kind = media_kind(&mime_type);
    let object = Media {
        link: Some(link),
        filename: (kind == "document")
            .then(|| text_of(media.get("medianame")))
            .flatten(),
        ..Media::default()
    };
    Ok(match kind {
        "image" => Body::Image { image: object },
        "video" => Body::Video { video: object },
        "audio" => Body::Audio { audio: object },
        _ => Body::Document { document: object },
    })
}

/// Latitude and longitude, when both are there; an error when either is not a coordinate.
fn coordinates(
    part: usize,
    location: &Map<String, Value>,
) -> Result<Option<(f64, f64)>, WhatsAppContentError> {
    crate::provider::coordinates(location)
        .map_err(|_| WhatsAppContentError::InvalidCoordinates { part })
}

/// `location{latitude,longitude,name=label,address=searchQuery}`; with only a search query, a
/// text of the label and the query.
fn location_body(part: usize, location: &Map<String, Value>) -> Result<Body, WhatsAppContentError> {
    let label = text_of(location.get("label"));
    let search_query = text_of(location.get("searchquery"));
    match coordinates(part, location)? {
        Some((latitude, longitude)) => Ok(Body::Location {
            location: Location {
                latitude,
                longitude,
                name: label,
                address: search_query,
            },
        }),
        None => {
            let query = search_query.ok_or(WhatsAppContentError::Missing {
                part,
                field: "location.searchQuery",
            })?;
            text_body(match label {
                Some(label) => format!("{label}\n{query}"),
                None => query,
            })
        }
    }
}

/// `template.whatsapp` → `template{name=element_name,language{policy,code},components}`; the
/// namespace is dropped, the policy is always `deterministic` (the only one Meta accepts), a
/// `media` parameter becomes `{type:image|video|document, <type>:{link}}`, and CM's older
/// `localizable_params` (`[{"default":…}]`) become a body component of text parameters.
fn template_body(part: usize, template: &Value) -> Result<Body, WhatsAppContentError> {
    let missing = |field| WhatsAppContentError::Missing { part, field };
    let whatsapp = template
        .get("whatsapp")
        .and_then(Value::as_object)
        .ok_or(missing("template.whatsapp"))?;
    let name =
        text_of(whatsapp.get("element_name")).ok_or(missing("template.whatsapp.element_name"))?;
    let code = text_of(whatsapp.get("language").and_then(|l| l.get("code")))
        .ok_or(missing("template.whatsapp.language.code"))?;
    let mut components: Vec<TemplateComponent> = whatsapp
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|component| TemplateComponent {
            component_type: text_of(component.get("type")).unwrap_or_else(|| "body".to_owned()),
            sub_type: text_of(component.get("sub_type")),
            index: text_of(component.get("index")),
            parameters: component
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(template_parameter)
                .collect(),
        })
        .collect();
    if components.is_empty() {
        let parameters: Vec<TemplateParameter> = whatsapp
            .get("localizable_params")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|param| text_of(param.get("default")))
            .map(|text| TemplateParameter::new("text", Value::String(text)))
            .collect();
        if !parameters.is_empty() {
            components.push(TemplateComponent {
                component_type: "body".to_owned(),
                sub_type: None,
                index: None,
                parameters,
            });
        }
    }
    Ok(Body::Template {
        template: Template {
            name,
            language: TemplateLanguage {
                policy: Some("deterministic".to_owned()),
                code,
            },
            components,
        },
    })
}

/// A CM template parameter as Meta's: `media` becomes the object its type (or mime type)
/// names; other parameters pass as given. `None` for one that is not an object.
fn template_parameter(parameter: &Value) -> Option<TemplateParameter> {
    let Some(media) = parameter.get("media").and_then(Value::as_object) else {
        let mut fields = parameter.as_object()?.clone();
        let parameter_type = text_of(fields.remove("type").as_ref()).unwrap_or_default();
        return Some(TemplateParameter {
            parameter_type,
            fields,
        });
    };
    let declared = text_of(parameter.get("type")).map(|t| t.to_ascii_lowercase());
    let kind = match declared.as_deref() {
        Some(kind @ ("image" | "video" | "document")) => kind,
        _ => media_kind(&text_of(media.get("mimetype")).unwrap_or_default()),
    };
    let mut object = Map::new();
    if let Some(link) = text_of(media.get("mediauri")) {
        object.insert("link".to_owned(), Value::String(link));
    }
    if kind == "document"
        && let Some(filename) = text_of(media.get("medianame"))
    {
        object.insert("filename".to_owned(), Value::String(filename));
    }
    Some(TemplateParameter::new(kind, Value::Object(object)))
}

/// CM's `interactive` nearly verbatim (its keys are WhatsApp's); a header's `media` becomes the
/// object its type names.
fn interactive_body(
    part: usize,
    mut interactive: Map<String, Value>,
) -> Result<Body, WhatsAppContentError> {
    if let Some(Value::Object(header)) = interactive.get_mut("header")
        && let Some(Value::Object(media)) = header.remove("media")
    {
        let declared = text_of(header.get("type")).map(|t| t.to_ascii_lowercase());
        let kind = match declared.as_deref() {
            Some(kind @ ("image" | "video" | "document")) => kind,
            _ => media_kind(&text_of(media.get("mimetype")).unwrap_or_default()),
        };
        let mut object = Map::new();
        if let Some(link) = text_of(media.get("mediauri")) {
            object.insert("link".to_owned(), Value::String(link));
        }
        header.insert("type".to_owned(), Value::String(kind.to_owned()));
        header.insert(kind.to_owned(), Value::Object(object));
    }
    let interactive: Interactive =
        serde_json::from_value(Value::Object(interactive)).map_err(|error| {
            WhatsAppContentError::InvalidInteractive {
                part,
                reason: error.to_string(),
            }
        })?;
    Ok(Body::Interactive {
        interactive: Box::new(interactive),
    })
}

/// A suggestion as CM gives it, read.
struct SuggestionFields {
    action: String,
    label: Option<String>,
    postback: Option<String>,
    url: Option<String>,
    phone_number: Option<String>,
    view_location: Option<Map<String, Value>>,
    calendar: Option<Map<String, Value>>,
}

fn suggestion_fields(value: &Value) -> SuggestionFields {
    let nested = |key: &str| value.get(key).and_then(Value::as_object).cloned();
    SuggestionFields {
        action: text_of(value.get("action"))
            .unwrap_or_default()
            .to_ascii_lowercase(),
        label: text_of(value.get("label")),
        postback: text_of(value.get("postbackdata")),
        url: text_of(value.get("url")),
        phone_number: text_of(value.get("dial").and_then(|d| d.get("phonenumber"))),
        view_location: nested("viewlocation"),
        calendar: nested("calendar"),
    }
}

/// `text` with `suggestions` (see the module docs): the bodies that replace it.
fn with_suggestions(
    text: String,
    suggestions: &[Value],
) -> Result<Vec<Body>, WhatsAppContentError> {
    let suggestions: Vec<SuggestionFields> = suggestions.iter().map(suggestion_fields).collect();
    if let [only] = suggestions.as_slice()
        && only.action == "openurl"
        && let (Some(label), Some(url)) = (&only.label, &only.url)
    {
        check_length(&text, limits::INTERACTIVE_BODY)?;
        return Ok(vec![Body::Interactive {
            interactive: Box::new(Interactive {
                interactive_type: "cta_url".to_owned(),
                header: None,
                body: Some(InteractiveText { text }),
                footer: None,
                action: InteractiveAction {
                    name: Some("cta_url".to_owned()),
                    parameters: Some(json!({"display_text": label, "url": url})),
                    ..InteractiveAction::default()
                },
            }),
        }]);
    }
    let mut lines = Vec::new();
    let mut replies = Vec::new();
    let mut after = Vec::new();
    for (index, suggestion) in suggestions.iter().enumerate() {
        let label = suggestion.label.clone().unwrap_or_default();
        let line = |detail: Option<String>| {
            detail.map(|detail| {
                if label.is_empty() {
                    detail
                } else {
                    format!("{label}: {detail}")
                }
            })
        };
        match suggestion.action.as_str() {
            "reply" => replies.push((index, label.clone(), suggestion.postback.clone())),
            "openurl" => lines.extend(line(suggestion.url.clone())),
            "dial" => lines.extend(line(suggestion.phone_number.clone())),
            "createcalendarevent" => {
                let calendar = suggestion.calendar.clone().unwrap_or_default();
                let start = text_of(calendar.get("starttime"));
                let end = text_of(calendar.get("endtime"));
                let title = text_of(calendar.get("title"));
                let detail = match (title, start, end) {
                    (Some(title), Some(start), Some(end)) => {
                        Some(format!("{title}, {start} - {end}"))
                    }
                    (None, Some(start), Some(end)) => Some(format!("{start} - {end}")),
                    _ => None,
                };
                lines.extend(line(detail));
            }
            "viewlocation" => {
                let Some(mut location) = suggestion.view_location.clone() else {
                    continue;
                };
                if !location.contains_key("label") && !label.is_empty() {
                    location.insert("label".to_owned(), Value::String(label.clone()));
                }
                match location_body(index, &location) {
                    Ok(body @ Body::Location { .. }) => after.push(body),
                    Ok(_) => lines.extend(line(text_of(location.get("searchquery")))),
                    Err(_) => {}
                }
            }
            _ => {}
        }
    }
    let text = if lines.is_empty() {
        text
    } else {
        format!("{text}\n\n{}", lines.join("\n"))
    };
    let mut bodies = Vec::with_capacity(1 + after.len());
    if replies.is_empty() {
        bodies.push(text_body(text)?);
    } else {
        check_length(&text, limits::INTERACTIVE_BODY)?;
        bodies.push(reply_body(text, replies)?);
    }
    bodies.extend(after);
    Ok(bodies)
}

/// Up to 3 replies as reply buttons, up to 10 as a list; each id is the postback data, or the
/// label when there is none. Labels must be distinct and short enough (20 characters for a
/// button, 24 for a row), ids too (256 and 200).
fn reply_body(
    text: String,
    replies: Vec<(usize, String, Option<String>)>,
) -> Result<Body, WhatsAppContentError> {
    let as_buttons = replies.len() <= limits::REPLY_BUTTONS;
    if replies.len() > limits::LIST_ROWS {
        return Err(WhatsAppContentError::TooManyReplies {
            count: replies.len(),
            limit: limits::LIST_ROWS,
        });
    }
    let limit = if as_buttons {
        limits::BUTTON_TITLE
    } else {
        limits::ROW_TITLE
    };
    let id_limit = if as_buttons {
        limits::BUTTON_ID
    } else {
        limits::ROW_ID
    };
    let mut action = InteractiveAction::default();
    let mut rows = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (index, label, postback) in replies {
        if label.chars().count() > limit {
            return Err(WhatsAppContentError::LabelTooLong {
                index,
                label,
                limit,
            });
        }
        if labels.contains(&label) {
            return Err(WhatsAppContentError::DuplicateLabel { index, label });
        }
        labels.push(label.clone());
        let id = postback.unwrap_or_else(|| label.clone());
        let id_length = id.chars().count();
        if id_length > id_limit {
            return Err(WhatsAppContentError::PostbackTooLong {
                index,
                length: id_length,
                limit: id_limit,
            });
        }
        if as_buttons {
            action.buttons.push(ReplyButton::reply(id, label));
        } else {
            rows.push(Row {
                id,
                title: label,
                description: None,
            });
        }
    }
    if !as_buttons {
        action.button = Some(LIST_BUTTON_TEXT.to_owned());
        action.sections = vec![Section { title: None, rows }];
    }
    Ok(Body::Interactive {
        interactive: Box::new(Interactive {
            interactive_type: if as_buttons { "button" } else { "list" }.to_owned(),
            header: None,
            body: Some(InteractiveText { text }),
            footer: None,
            action,
        }),
    })
}

/// One row of [`ERROR_TABLE`]: the codes from `first` to `last`, what they mean, their class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow {
    pub first: i64,
    pub last: i64,
    pub meaning: &'static str,
    pub class: ErrorClass,
}

const fn row(first: i64, last: i64, meaning: &'static str, class: ErrorClass) -> ErrorRow {
    ErrorRow {
        first,
        last,
        meaning,
        class,
    }
}

const fn fall_back(error: DeliveryError) -> ErrorClass {
    ErrorClass::FallBack { error }
}

const RETRY: ErrorClass = ErrorClass::Retry { after: None };

/// How long the pair rate limit (131056) asks to wait: about one message per 6 s to one user.
pub const PAIR_RATE_LIMIT_WAIT: Duration = Duration::from_secs(6);

/// Meta's error codes and what Tern does with each (channel-providers.md §1); codes not listed
/// are classed by their HTTP status ([`classify_error`]).
pub const ERROR_TABLE: &[ErrorRow] = &[
    row(0, 0, "AuthException", ErrorClass::Configuration),
    row(1, 1, "API unknown", RETRY),
    row(2, 2, "API service", RETRY),
    row(3, 3, "API method", ErrorClass::Configuration),
    row(4, 4, "API too many calls", RETRY),
    row(10, 10, "permission denied", ErrorClass::Configuration),
    row(
        100,
        100,
        "invalid parameter",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(190, 190, "access token expired", ErrorClass::Configuration),
    row(200, 299, "API permission", ErrorClass::Configuration),
    row(
        368,
        368,
        "temporarily blocked for policy violations",
        ErrorClass::Configuration,
    ),
    row(80007, 80007, "WABA rate limit", RETRY),
    row(130429, 130429, "throughput reached", RETRY),
    row(
        130472,
        130472,
        "user's number is part of an experiment",
        fall_back(DeliveryError::NotDeliveredAtThirdParty),
    ),
    row(
        130497,
        130497,
        "business account restricted from this country",
        ErrorClass::Configuration,
    ),
    row(131000, 131000, "something went wrong", RETRY),
    row(
        131008,
        131009,
        "required parameter missing / parameter value invalid",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(131016, 131016, "service unavailable", RETRY),
    row(
        131021,
        131021,
        "recipient cannot be sender",
        fall_back(DeliveryError::IncorrectRecipientNumber),
    ),
    row(
        131026,
        131026,
        "message undeliverable",
        fall_back(DeliveryError::RecipientUnreachable),
    ),
    row(
        131030,
        131030,
        "recipient not in allowed list",
        ErrorClass::Configuration,
    ),
    row(131031, 131031, "account locked", ErrorClass::Configuration),
    row(
        131047,
        131047,
        "re-engagement message (outside the 24 h window)",
        fall_back(DeliveryError::NotDeliveredAtThirdParty),
    ),
    row(
        131048,
        131048,
        "spam rate limit hit",
        fall_back(DeliveryError::ContentNotPermitted),
    ),
    row(
        131049,
        131050,
        "marketing message not delivered / user stopped marketing messages",
        fall_back(DeliveryError::ContentNotPermitted),
    ),
    row(
        131051,
        131051,
        "unsupported message type",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(
        131052,
        131053,
        "media download / upload error",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(
        131056,
        131056,
        "pair rate limit hit",
        ErrorClass::Retry {
            after: Some(PAIR_RATE_LIMIT_WAIT),
        },
    ),
    row(
        132000,
        132999,
        "template error (parameters, name, language, policy, paused, disabled)",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(
        133010,
        133010,
        "phone number not registered",
        ErrorClass::Configuration,
    ),
    row(135000, 135000, "generic user error", RETRY),
];

/// The row of [`ERROR_TABLE`] for `code`, if it has one.
pub fn error_row(code: i64) -> Option<&'static ErrorRow> {
    ERROR_TABLE
        .iter()
        .find(|row| (row.first..=row.last).contains(&code))
}

/// What Meta's error `code`, answered with `http_status`, means for the message: its row of
/// [`ERROR_TABLE`]; for a code not there, 429 and 5xx retry, 401 and 403 are configuration, and
/// anything else falls back (error 5).
pub fn classify_error(code: i64, http_status: u16) -> ErrorClass {
    if let Some(row) = error_row(code) {
        return row.class;
    }
    match http_status {
        429 | 500..=599 => RETRY,
        401 | 403 => ErrorClass::Configuration,
        _ => fall_back(NOT_DELIVERED_ERROR),
    }
}

/// [`classify_error`] for a whole error answer: code 100 with subcode 33 (the phone-number id
/// does not exist or lacks permission) is configuration, and an unlisted code Meta marks
/// `is_transient` retries.
pub fn classify(error: &GraphError, http_status: u16) -> ErrorClass {
    if error.code == 100 && error.error_subcode == Some(33) {
        return ErrorClass::Configuration;
    }
    if error_row(error.code).is_none() && error.is_transient == Some(true) {
        return RETRY;
    }
    classify_error(error.code, http_status)
}

/// The event a status webhook is for the message its `biz_opaque_callback_data` names (`place`),
/// see the module docs: `None` when it reports nothing (a status Tern does not report, or a
/// `sent`, `delivered` or `read` of a request other than the message's last).
pub fn status_event_for(status: &Status, place: CallbackRef) -> Option<Event> {
    let update = status_event(status)?;
    if let Some(code) = update.provider_code
        && let ErrorClass::Retry { after } = classify_error(code, 400)
    {
        return Some(Event::Deferred {
            attempt: place.attempt,
            retry_after: after,
        });
    }
    if update.status != CmStatus::Failed && !place.is_last() {
        return None;
    }
    Some(Event::ChannelReport {
        attempt: place.attempt,
        status: update.status,
        error_code: update.error,
        operator: None,
        detail: (update.status == CmStatus::Failed).then_some(update.description),
    })
}

/// The CM status a status webhook reports: sent → 0 (accepted), delivered → 2, read → 4,
/// failed → 3 with Meta's code in the description; `None` for the others (played, deleted,
/// warning, unknown ones), which report nothing.
pub fn status_event(status: &Status) -> Option<StatusUpdate> {
    let plain = |status: CmStatus| StatusUpdate {
        status,
        error: None,
        description: status.description().to_owned(),
        provider_code: None,
    };
    Some(match status.status {
        StatusKind::Sent => plain(CmStatus::Accepted),
        StatusKind::Delivered => plain(CmStatus::Delivered),
        StatusKind::Read => plain(CmStatus::Read),
        StatusKind::Failed => {
            let Some(first) = status.errors.first() else {
                return Some(StatusUpdate {
                    status: CmStatus::Failed,
                    error: Some(NOT_DELIVERED_ERROR),
                    description: "WhatsApp: failed".to_owned(),
                    provider_code: None,
                });
            };
            let error = match classify_error(first.code, 400) {
                ErrorClass::FallBack { error } => error,
                ErrorClass::Retry { .. } | ErrorClass::Configuration => NOT_DELIVERED_ERROR,
            };
            let title = first
                .title
                .as_deref()
                .or(first.message.as_deref())
                .or_else(|| error_row(first.code).map(|row| row.meaning));
            StatusUpdate {
                status: CmStatus::Failed,
                error: Some(error),
                description: match title {
                    Some(title) => format!("WhatsApp {}: {title}", first.code),
                    None => format!("WhatsApp {}", first.code),
                },
                provider_code: Some(first.code),
            }
        }
        StatusKind::Played | StatusKind::Deleted | StatusKind::Warning | StatusKind::Other => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests;

/// What Tern records of an inbound WhatsApp message: its text, and what CM's inbound webhook
/// carries besides (see [`inbound_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOf {
    pub text: String,
    pub extras: InboundExtras,
    /// The wamid it replies to (`context.id`), when it is a reply.
    pub answers: Option<String>,
}

/// An inbound WhatsApp `message` from `sender_name` as CM's inbound webhook writes it, its
/// media (when it has some) at `media_uri` (where it can be fetched):
/// - text: `message.text`;
/// - image, video, audio, document, sticker: `message.media` (the URI, the MIME type, the caption
///   or file name as title), the caption as text, and `custom.mediaId`;
/// - location: `custom.location` `{latitude, longitude, label, searchQuery}` (CM's names for
///   Meta's name and address), the name as text;
/// - contacts: `custom.contacts`, WhatsApp's objects verbatim;
/// - a reply button or list row tapped: its title as text, `custom.interactive` verbatim and its
///   id as `custom.postbackdata`; a template's quick-reply button: its text, `custom.button`
///   verbatim and its payload as `custom.postbackdata`;
/// - anything else (reactions, orders, `unsupported`): no text, `custom.type` its type.
pub fn inbound_of(
    message: &tern_proto::whatsapp::InboundMessage,
    sender_name: Option<&str>,
    media_uri: Option<&str>,
) -> InboundOf {
    use tern_proto::whatsapp::InboundContent as C;
    let media = |media: &tern_proto::whatsapp::webhook::InboundMedia| {
        let title = media
            .caption
            .clone()
            .or_else(|| media.filename.clone())
            .unwrap_or_default();
        (
            media.caption.clone().unwrap_or_default(),
            Some(InboundFile {
                uri: media_uri.unwrap_or_default().to_owned(),
                content_type: media.mime_type.clone(),
                title,
            }),
            Some(json!({ "mediaId": media.id })),
        )
    };
    let (text, file, custom) = match message.content() {
        C::Text(body) => (body.to_owned(), None, None),
        C::Image(m) | C::Video(m) | C::Audio(m) | C::Document(m) | C::Sticker(m) => media(m),
        C::Location(location) => {
            let mut object = json!({
                "latitude": location.latitude,
                "longitude": location.longitude,
            });
            if let Some(name) = &location.name {
                object["label"] = json!(name);
            }
            if let Some(address) = &location.address {
                object["searchQuery"] = json!(address);
            }
            (
                location.name.clone().unwrap_or_default(),
                None,
                Some(json!({ "location": object })),
            )
        }
        C::Contacts(contacts) => (String::new(), None, Some(json!({ "contacts": contacts }))),
        C::ButtonReply(reply) => (
            reply.title.clone(),
            None,
            Some(json!({
                "postbackdata": reply.id,
                "interactive": {"type": "button_reply", "button_reply": reply},
            })),
        ),
        C::ListReply(reply) => (
            reply.title.clone(),
            None,
            Some(json!({
                "postbackdata": reply.id,
                "interactive": {"type": "list_reply", "list_reply": reply},
            })),
        ),
        C::Button(button) => (
            button.text.clone(),
            None,
            Some(json!({ "postbackdata": button.payload, "button": button })),
        ),
        C::Unsupported(kind) => (String::new(), None, Some(json!({ "type": kind }))),
    };
    InboundOf {
        text,
        extras: InboundExtras {
            from_name: sender_name
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
            media: file,
            custom: custom.map(|custom| custom.to_string()),
            message_context: None,
            event: None,
            opt_out: false,
        },
        answers: message
            .context
            .as_ref()
            .map(|context| context.id.clone())
            .filter(|id| !id.is_empty()),
    }
}

/// The media id of an inbound message that carries a file, whose URI is to be looked up.
pub fn inbound_media_id(message: &tern_proto::whatsapp::InboundMessage) -> Option<&str> {
    use tern_proto::whatsapp::InboundContent as C;
    match message.content() {
        C::Image(m) | C::Video(m) | C::Audio(m) | C::Document(m) | C::Sticker(m) => {
            Some(m.id.as_str()).filter(|id| !id.is_empty())
        }
        _ => None,
    }
}
