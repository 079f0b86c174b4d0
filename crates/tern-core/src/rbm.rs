//! What Tern decides for the RCS channel, between CM's API and Google's RCS Business Messaging
//! API: which agent messages a message's content becomes ([`agent_messages_for`]), what an
//! error answer means for the message ([`classify`], from one table, [`ERROR_TABLE`]), and
//! which CM status an agent event reports ([`status_event`], for the message
//! [`status_target`] names), and what a user message becomes in CM's inbound format
//! ([`inbound_of`]). The wire shapes are tern-proto's `rbm` module; the connector and
//! the webhook endpoint that use these decisions live at the edges.
//!
//! **Conversation parts.** Each part of CM's `richContent.conversation` becomes one agent
//! message, in order: a text part a `text` message; a media part a `contentInfo{fileUrl}`
//! message; a rich card (CM's SDK shape: a part with a `header`, or with `media` **and** `text`;
//! or the `richCard{header|title, text|description, media, suggestions}` object) a standalone
//! card (title = header, description = text, medium-height media); a `carousel{cards,
//! cardWidth}` part a carousel (one card alone is a standalone card). Consecutive rich-card
//! parts are sent as one carousel (2 to 10 cards; more are split into carousels of 10, and a
//! single card left over is standalone). RBM has no location or contact message: a location
//! part becomes a text (label, search query, or the coordinates) with a "View location" chip,
//! and contacts a text of names and numbers. WhatsApp interactive parts become a text with
//! reply chips (buttons and list rows) or an open-URL chip (`cta_url`); WhatsApp templates
//! cannot be sent on RCS (the message falls back). Without a conversation, the body's text is
//! the one message.
//!
//! **Suggestions.** A part's own `suggestions` go on its message (at most 4 on a card, 11 on a
//! message); `richContent.suggestions` go on the last message, after its own (at most 11 in
//! all). CM's actions (case-insensitive) map as: `reply` → `reply{text, postbackData}`,
//! `openUrl` → `openUrlAction`, `Dial` → `dialAction` (a `00…` number becomes `+…`),
//! `viewLocation` → `viewLocationAction` (`latLong` and `label`, or the `query`),
//! `CreateCalendarEvent` → `createCalendarEventAction` (title defaults to the label). A label
//! longer than RBM's 25 characters is **shortened** to 24 and `…` rather than refused (the tap's
//! postback data is unchanged, so replies still match); a missing label takes a default.
//! `postbackData` is CM's `postbackdata`, or the label when there is none.
//!
//! **Message ids.** RBM names each agent message by the `messageId` Tern gives it, and its
//! events name that id. The **last** agent message of a CM message (the one sent last, which
//! carries the message-level suggestions) is sent with the Tern message id itself; the ones
//! before it with `{id}-1`, `{id}-2`, … in order ([`message_id_for`]). Only the last one's
//! events report a status ([`status_target`]); the others' are ignored. The ids are the same
//! each time a message is sent again, so a resend after a crash or a retry finds the parts
//! already sent answered `409 ALREADY_EXISTS`, which counts as accepted.

use jiff::Timestamp;
use serde_json::{Map, Value};
use tern_proto::rbm::send::{
    AgentMessage, CardContent, CardWidth, ContentInfo, ContentMessage, CreateCalendarEventAction,
    DialAction, LatLng, Media, MediaHeight, OpenUrlAction, RichCard, SuggestedAction, Suggestion,
    ViewLocationAction, limits,
};
use tern_proto::rbm::{Event, ServerEventType, UserContent, UserEventType, UserMessage};

use crate::error_code::DeliveryError;
use crate::inbound::{InboundExtras, InboundFile};
use crate::message::{Content, MessageId};
pub use crate::provider::{ErrorClass, StatusUpdate};
use crate::provider::{RichParts, array, rich_parts, text_of};
use crate::status::{CmStatus, NOT_DELIVERED_ERROR};

/// The text of the chip added to a location part.
pub const VIEW_LOCATION_LABEL: &str = "View location";

/// Why a message's content cannot be sent on RCS (it falls back to its next channel).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbmContentError {
    #[error("recipient '{0}' is not an international number")]
    InvalidRecipient(String),
    #[error("nothing to send: no body text and no richContent conversation")]
    NoContent,
    #[error("richContent is not a JSON object")]
    InvalidRichContent,
    #[error("richContent.conversation[{part}] has nothing RCS can carry")]
    UnsupportedPart { part: usize },
    #[error("{path}.{field} is required")]
    Missing { path: String, field: &'static str },
    #[error("{path} has invalid coordinates")]
    InvalidCoordinates { path: String },
    #[error("{path} of {length} characters is longer than RBM's {limit}")]
    TooLong {
        path: String,
        length: usize,
        limit: usize,
    },
    #[error("{path} has {count} suggestions; RBM takes at most {limit}")]
    TooManySuggestions {
        path: String,
        count: usize,
        limit: usize,
    },
    #[error("{path}.action '{action}' is not one RCS knows")]
    UnknownAction { path: String, action: String },
    #[error("{path} has {count} cards; a carousel takes at most {limit}")]
    TooManyCards {
        path: String,
        count: usize,
        limit: usize,
    },
    #[error("{path} has no title, text or media")]
    EmptyCard { path: String },
}

/// One agent message to post, and the `messageId` to post it with.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub message_id: String,
    pub message: AgentMessage,
}

/// The agent messages that send `content` of Tern message `tern_message_id`, in order, with
/// their message ids; never empty (see the module docs). Each is posted to the recipient's
/// [`rbm_number`] (`agent_messages_path` in tern-proto). With `expire_at`, each carries it as
/// `expireTime`, so RBM revokes what it has not delivered by then (and says so with
/// `TTL_EXPIRATION_REVOKED`).
pub fn agent_messages_for(
    content: &Content,
    tern_message_id: MessageId,
    expire_at: Option<Timestamp>,
) -> Result<Vec<Outgoing>, RbmContentError> {
    let RichParts {
        conversation,
        suggestions,
    } = rich_parts(content).map_err(|_| RbmContentError::InvalidRichContent)?;
    let mut items = Vec::new();
    for (part, value) in conversation.iter().enumerate() {
        items.push(part_item(part, value)?);
    }
    let mut messages = merge_cards(items);
    if messages.is_empty() {
        let text = Some(content.body.as_str())
            .filter(|t| !t.trim().is_empty())
            .ok_or(RbmContentError::NoContent)?;
        messages.push(text_message(text.to_owned(), "body")?);
    }
    let path = "richContent.suggestions";
    let extra = suggestion_list(&suggestions, path)?;
    let last = messages.last_mut().expect("at least one message");
    last.suggestions.extend(extra);
    for message in &messages {
        if message.suggestions.len() > limits::MESSAGE_SUGGESTIONS {
            return Err(RbmContentError::TooManySuggestions {
                path: path.to_owned(),
                count: message.suggestions.len(),
                limit: limits::MESSAGE_SUGGESTIONS,
            });
        }
    }
    let count = messages.len();
    Ok(messages
        .into_iter()
        .enumerate()
        .map(|(index, content_message)| {
            let mut message = AgentMessage::new(content_message);
            message.expire_time = expire_at.map(|at| at.to_string());
            Outgoing {
                message_id: message_id_for(tern_message_id, index, count),
                message,
            }
        })
        .collect())
}

/// The `messageId` of agent message `index` of `count` (see the module docs): the Tern id for
/// the last, `{id}-{index + 1}` for the others.
pub fn message_id_for(tern_message_id: MessageId, index: usize, count: usize) -> String {
    if index + 1 >= count {
        tern_message_id.to_string()
    } else {
        format!("{tern_message_id}-{}", index + 1)
    }
}

/// The Tern message whose status an event about agent message `message_id` reports: the id
/// itself when it is a Tern id (hyphenated, as [`message_id_for`] gives the last agent message);
/// `None` for the parts before it and for anything else.
pub fn status_target(message_id: &str) -> Option<MessageId> {
    (message_id.len() == 36)
        .then(|| MessageId::parse(message_id))
        .flatten()
}

/// A CM number (`0031…`, `+31…` or bare international digits) in E.164, as the path wants it
/// (`+31612345678`): WhatsApp's international digits after a `+`.
pub fn rbm_number(recipient: &str) -> Option<String> {
    crate::whatsapp::whatsapp_number(recipient).map(|digits| format!("+{digits}"))
}

/// What one conversation part becomes before consecutive cards are merged.
enum Item {
    Message(ContentMessage),
    Card(CardContent),
}

fn check_length(text: &str, limit: usize, path: impl Into<String>) -> Result<(), RbmContentError> {
    let length = text.chars().count();
    if length > limit {
        return Err(RbmContentError::TooLong {
            path: path.into(),
            length,
            limit,
        });
    }
    Ok(())
}

fn text_message(text: String, path: &str) -> Result<ContentMessage, RbmContentError> {
    check_length(&text, limits::TEXT, path)?;
    Ok(ContentMessage::text(text))
}

fn part_item(part: usize, value: &Value) -> Result<Item, RbmContentError> {
    let path = format!("richContent.conversation[{part}]");
    let Value::Object(object) = value else {
        return Err(RbmContentError::UnsupportedPart { part });
    };
    if let Some(carousel) = object.get("carousel").and_then(Value::as_object) {
        return carousel_item(carousel, &format!("{path}.carousel"));
    }
    if let Some(card) = object.get("richcard").and_then(Value::as_object) {
        return Ok(Item::Card(card_content(card, &format!("{path}.richCard"))?));
    }
    let text = text_of(object.get("text"));
    let media = object.get("media").and_then(Value::as_object);
    if text_of(object.get("header")).is_some() || (media.is_some() && text.is_some()) {
        return Ok(Item::Card(card_content(object, &path)?));
    }
    let own_suggestions = || {
        suggestion_list(
            &array(object.get("suggestions").cloned()),
            &format!("{path}.suggestions"),
        )
    };
    let mut message = if let Some(text) = text {
        text_message(text, &format!("{path}.text"))?
    } else if let Some(media) = media {
        ContentMessage::file(media_url(media, &format!("{path}.media"))?)
    } else if let Some(location) = object.get("location").and_then(Value::as_object) {
        location_message(location, &format!("{path}.location"))?
    } else if let Some(Value::Array(contacts)) = object.get("contacts") {
        contacts_message(contacts, &format!("{path}.contacts"))?
    } else if let Some(interactive) = object.get("interactive").and_then(Value::as_object) {
        interactive_message(interactive, &format!("{path}.interactive"))?
    } else {
        return Err(RbmContentError::UnsupportedPart { part });
    };
    message.suggestions.extend(own_suggestions()?);
    Ok(Item::Message(message))
}

fn media_url(media: &Map<String, Value>, path: &str) -> Result<String, RbmContentError> {
    text_of(media.get("mediauri")).ok_or_else(|| RbmContentError::Missing {
        path: path.to_owned(),
        field: "mediaUri",
    })
}

/// A card from CM's rich card fields: `header` (or `title`), `text` (or `description`),
/// `media`, `suggestions`.
fn card_content(card: &Map<String, Value>, path: &str) -> Result<CardContent, RbmContentError> {
    let title = text_of(card.get("header")).or_else(|| text_of(card.get("title")));
    let description = text_of(card.get("text")).or_else(|| text_of(card.get("description")));
    if let Some(title) = &title {
        check_length(title, limits::CARD_TITLE, format!("{path}.header"))?;
    }
    if let Some(description) = &description {
        check_length(
            description,
            limits::CARD_DESCRIPTION,
            format!("{path}.text"),
        )?;
    }
    let media = match card.get("media").and_then(Value::as_object) {
        Some(media) => Some(Media {
            height: MediaHeight::Medium,
            content_info: Some(ContentInfo::new(media_url(
                media,
                &format!("{path}.media"),
            )?)),
            file_name: None,
        }),
        None => None,
    };
    if title.is_none() && description.is_none() && media.is_none() {
        return Err(RbmContentError::EmptyCard {
            path: path.to_owned(),
        });
    }
    let suggestions_path = format!("{path}.suggestions");
    let suggestions = suggestion_list(&array(card.get("suggestions").cloned()), &suggestions_path)?;
    if suggestions.len() > limits::CARD_SUGGESTIONS {
        return Err(RbmContentError::TooManySuggestions {
            path: suggestions_path,
            count: suggestions.len(),
            limit: limits::CARD_SUGGESTIONS,
        });
    }
    Ok(CardContent {
        title,
        description,
        media,
        suggestions,
    })
}

/// `carousel{cards[], cardWidth}`: one card alone is a standalone card.
fn carousel_item(carousel: &Map<String, Value>, path: &str) -> Result<Item, RbmContentError> {
    let cards = array(carousel.get("cards").cloned());
    if cards.is_empty() {
        return Err(RbmContentError::Missing {
            path: path.to_owned(),
            field: "cards",
        });
    }
    if cards.len() > limits::CAROUSEL_MAX {
        return Err(RbmContentError::TooManyCards {
            path: path.to_owned(),
            count: cards.len(),
            limit: limits::CAROUSEL_MAX,
        });
    }
    let mut contents = Vec::with_capacity(cards.len());
    for (index, card) in cards.iter().enumerate() {
        let card_path = format!("{path}.cards[{index}]");
        let card = card.as_object().ok_or_else(|| RbmContentError::EmptyCard {
            path: card_path.clone(),
        })?;
        contents.push(card_content(card, &card_path)?);
    }
    if contents.len() == 1 {
        return Ok(Item::Card(contents.remove(0)));
    }
    let width = match text_of(carousel.get("cardwidth")) {
        Some(width) if width.eq_ignore_ascii_case("small") => CardWidth::Small,
        _ => CardWidth::Medium,
    };
    Ok(Item::Message(ContentMessage::rich_card(
        RichCard::carousel(width, contents),
    )))
}

/// The messages of `items`, consecutive cards merged into carousels (see the module docs).
fn merge_cards(items: Vec<Item>) -> Vec<ContentMessage> {
    let mut messages = Vec::with_capacity(items.len());
    let mut run: Vec<CardContent> = Vec::new();
    let flush = |run: &mut Vec<CardContent>, messages: &mut Vec<ContentMessage>| {
        let cards = std::mem::take(run);
        let mut cards = cards.into_iter().peekable();
        while cards.peek().is_some() {
            let mut chunk: Vec<CardContent> = cards.by_ref().take(limits::CAROUSEL_MAX).collect();
            messages.push(ContentMessage::rich_card(if chunk.len() == 1 {
                RichCard::standalone(chunk.remove(0))
            } else {
                RichCard::carousel(CardWidth::Medium, chunk)
            }));
        }
    };
    for item in items {
        match item {
            Item::Card(card) => run.push(card),
            Item::Message(message) => {
                flush(&mut run, &mut messages);
                messages.push(message);
            }
        }
    }
    flush(&mut run, &mut messages);
    messages
}

/// Latitude and longitude, when both are there; an error when either is not a coordinate.
fn coordinates(
    location: &Map<String, Value>,
    path: &str,
) -> Result<Option<LatLng>, RbmContentError> {
    let coordinates = crate::provider::coordinates(location).map_err(|_| {
        RbmContentError::InvalidCoordinates {
            path: path.to_owned(),
        }
    })?;
    Ok(coordinates.map(|(latitude, longitude)| LatLng {
        latitude,
        longitude,
    }))
}

/// `viewLocationAction` for CM's `{latitude, longitude, label, searchQuery}`: coordinates with
/// the label, or else the search query.
fn view_location(
    location: &Map<String, Value>,
    label: Option<String>,
    path: &str,
) -> Result<ViewLocationAction, RbmContentError> {
    let label = text_of(location.get("label")).or(label);
    if let Some(lat_long) = coordinates(location, path)? {
        return Ok(ViewLocationAction {
            lat_long: Some(lat_long),
            label,
            query: None,
        });
    }
    let query = text_of(location.get("searchquery")).ok_or_else(|| RbmContentError::Missing {
        path: path.to_owned(),
        field: "searchQuery",
    })?;
    Ok(ViewLocationAction {
        lat_long: None,
        label: None,
        query: Some(query),
    })
}

/// A location part: a text naming the place, with a "View location" chip.
fn location_message(
    location: &Map<String, Value>,
    path: &str,
) -> Result<ContentMessage, RbmContentError> {
    let action = view_location(location, None, path)?;
    let label = text_of(location.get("label"));
    let query = text_of(location.get("searchquery"));
    let text = match (label, query, action.lat_long) {
        (Some(label), Some(query), _) => format!("{label}\n{query}"),
        (Some(label), None, _) => label,
        (None, Some(query), _) => query,
        (None, None, Some(at)) => format!("{}, {}", at.latitude, at.longitude),
        (None, None, None) => unreachable!("view_location needs coordinates or a query"),
    };
    let mut message = text_message(text, path)?;
    message
        .suggestions
        .push(Suggestion::action(SuggestedAction {
            text: VIEW_LOCATION_LABEL.to_owned(),
            postback_data: "view_location".to_owned(),
            view_location_action: Some(action),
            ..SuggestedAction::default()
        }));
    Ok(message)
}

/// Contacts (WhatsApp's shape): a text, one line per contact, its name and numbers.
fn contacts_message(contacts: &[Value], path: &str) -> Result<ContentMessage, RbmContentError> {
    let lines: Vec<String> = contacts
        .iter()
        .filter_map(|contact| {
            let name = text_of(contact.get("name").and_then(|n| n.get("formatted_name")));
            let phones: Vec<String> = contact
                .get("phones")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|phone| text_of(phone.get("phone")))
                .collect();
            match (name, phones.is_empty()) {
                (Some(name), true) => Some(name),
                (Some(name), false) => Some(format!("{name}: {}", phones.join(", "))),
                (None, false) => Some(phones.join(", ")),
                (None, true) => None,
            }
        })
        .collect();
    if lines.is_empty() {
        return Err(RbmContentError::Missing {
            path: path.to_owned(),
            field: "name.formatted_name",
        });
    }
    text_message(lines.join("\n"), path)
}

/// WhatsApp's `interactive`: its header, body and footer texts as one text; reply buttons and
/// list rows as reply chips (id as postback data), a `cta_url` as an open-URL chip.
fn interactive_message(
    interactive: &Map<String, Value>,
    path: &str,
) -> Result<ContentMessage, RbmContentError> {
    let body = text_of(interactive.get("body").and_then(|b| b.get("text"))).ok_or_else(|| {
        RbmContentError::Missing {
            path: path.to_owned(),
            field: "body.text",
        }
    })?;
    let header = text_of(interactive.get("header").and_then(|h| h.get("text")));
    let footer = text_of(interactive.get("footer").and_then(|f| f.get("text")));
    let text = [header, Some(body), footer]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut message = text_message(text, path)?;
    let action = interactive.get("action");
    let buttons = action
        .and_then(|a| a.get("buttons"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|button| button.get("reply"));
    let rows = action
        .and_then(|a| a.get("sections"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|section| section.get("rows").and_then(Value::as_array))
        .flatten();
    for reply in buttons.chain(rows) {
        let (Some(id), Some(title)) = (text_of(reply.get("id")), text_of(reply.get("title")))
        else {
            continue;
        };
        check_length(&id, limits::POSTBACK_DATA, format!("{path}.action"))?;
        message
            .suggestions
            .push(Suggestion::reply(chip_text(&title), id));
    }
    if let Some(parameters) = action.and_then(|a| a.get("parameters"))
        && let Some(url) = text_of(parameters.get("url"))
    {
        let label = text_of(parameters.get("display_text")).unwrap_or_else(|| "Open".to_owned());
        message
            .suggestions
            .push(Suggestion::action(SuggestedAction {
                text: chip_text(&label),
                postback_data: label,
                open_url_action: Some(OpenUrlAction { url }),
                ..SuggestedAction::default()
            }));
    }
    if message.suggestions.len() > limits::MESSAGE_SUGGESTIONS {
        return Err(RbmContentError::TooManySuggestions {
            path: format!("{path}.action"),
            count: message.suggestions.len(),
            limit: limits::MESSAGE_SUGGESTIONS,
        });
    }
    Ok(message)
}

/// `label` as a chip's text: at most 25 characters, a longer one shortened to 24 and `…`.
pub fn chip_text(label: &str) -> String {
    let label = label.trim();
    if label.chars().count() <= limits::SUGGESTION_TEXT {
        return label.to_owned();
    }
    let mut text: String = label.chars().take(limits::SUGGESTION_TEXT - 1).collect();
    text.push('…');
    text
}

fn suggestion_list(suggestions: &[Value], path: &str) -> Result<Vec<Suggestion>, RbmContentError> {
    suggestions
        .iter()
        .enumerate()
        .map(|(index, value)| suggestion(value, &format!("{path}[{index}]")))
        .collect()
}

/// One CM suggestion as an RBM one (see the module docs).
fn suggestion(value: &Value, path: &str) -> Result<Suggestion, RbmContentError> {
    let missing = |field| RbmContentError::Missing {
        path: path.to_owned(),
        field,
    };
    let action_name = text_of(value.get("action")).ok_or(missing("action"))?;
    let action = action_name.to_ascii_lowercase();
    let label = text_of(value.get("label"));
    let postback = text_of(value.get("postbackdata"));
    let default_label = match action.as_str() {
        "reply" => None,
        "openurl" => Some("Open"),
        "dial" => Some("Call"),
        "viewlocation" => Some(VIEW_LOCATION_LABEL),
        "createcalendarevent" => Some("Add to calendar"),
        _ => {
            return Err(RbmContentError::UnknownAction {
                path: path.to_owned(),
                action: action_name,
            });
        }
    };
    // A reply without a label shows its postback data.
    let label = label
        .or_else(|| default_label.map(str::to_owned))
        .or_else(|| postback.clone())
        .ok_or(missing("label"))?;
    let postback_data = postback.unwrap_or_else(|| label.clone());
    check_length(
        &postback_data,
        limits::POSTBACK_DATA,
        format!("{path}.postbackdata"),
    )?;
    let text = chip_text(&label);
    if action == "reply" {
        return Ok(Suggestion::reply(text, postback_data));
    }
    let mut suggested = SuggestedAction {
        text,
        postback_data,
        ..SuggestedAction::default()
    };
    match action.as_str() {
        "openurl" => {
            let url = text_of(value.get("url")).ok_or(missing("url"))?;
            suggested.open_url_action = Some(OpenUrlAction { url });
        }
        "dial" => {
            let number = text_of(value.get("dial").and_then(|d| d.get("phonenumber")))
                .ok_or(missing("dial.phoneNumber"))?;
            suggested.dial_action = Some(DialAction {
                phone_number: rbm_number(&number).unwrap_or(number),
            });
        }
        "viewlocation" => {
            let location = value
                .get("viewlocation")
                .and_then(Value::as_object)
                .ok_or(missing("viewLocation"))?;
            suggested.view_location_action = Some(view_location(
                location,
                Some(label),
                &format!("{path}.viewLocation"),
            )?);
        }
        _ => {
            let calendar = value
                .get("calendar")
                .and_then(Value::as_object)
                .ok_or(missing("calendar"))?;
            let calendar_path = format!("{path}.calendar");
            let field = |name: &str, wire: &'static str| {
                text_of(calendar.get(name)).ok_or_else(|| RbmContentError::Missing {
                    path: calendar_path.clone(),
                    field: wire,
                })
            };
            suggested.create_calendar_event_action = Some(CreateCalendarEventAction {
                start_time: field("starttime", "startTime")?,
                end_time: field("endtime", "endTime")?,
                title: text_of(calendar.get("title")).unwrap_or(label),
                description: text_of(calendar.get("description")),
            });
        }
    }
    Ok(Suggestion::action(suggested))
}

/// What a send answer means: the message was taken (earlier: the same `messageId` again), or an
/// error of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// `409 ALREADY_EXISTS`: an agent message with this id was sent before (a resend after a
    /// crash, or a retry of a message some of whose parts went out): count it as accepted.
    AlreadyAccepted,
    Error(ErrorClass),
}

/// One row of [`ERROR_TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow {
    pub http_status: u16,
    /// Google's canonical `error.status`.
    pub google_status: &'static str,
    pub meaning: &'static str,
    pub outcome: SendOutcome,
}

const fn row(
    http_status: u16,
    google_status: &'static str,
    meaning: &'static str,
    outcome: SendOutcome,
) -> ErrorRow {
    ErrorRow {
        http_status,
        google_status,
        meaning,
        outcome,
    }
}

const fn fall_back(error: DeliveryError) -> SendOutcome {
    SendOutcome::Error(ErrorClass::FallBack { error })
}

const RETRY: SendOutcome = SendOutcome::Error(ErrorClass::Retry { after: None });
const CONFIGURATION: SendOutcome = SendOutcome::Error(ErrorClass::Configuration);

/// RBM's error answers and what Tern does with each (channel-providers.md §3). A 401 is a
/// configuration error here; the connector first drops its cached token and tries once more
/// with a fresh one, and only a second 401 is classified.
pub const ERROR_TABLE: &[ErrorRow] = &[
    row(
        400,
        "INVALID_ARGUMENT",
        "a bad payload, or a feature the user's device does not support",
        fall_back(DeliveryError::MalformedRequest),
    ),
    row(
        400,
        "FAILED_PRECONDITION",
        "the agent or user cannot take this message now",
        fall_back(NOT_DELIVERED_ERROR),
    ),
    row(
        401,
        "UNAUTHENTICATED",
        "the access token is missing, expired or wrong",
        CONFIGURATION,
    ),
    row(
        403,
        "PERMISSION_DENIED",
        "the token's scope is wrong or the agent may not send",
        CONFIGURATION,
    ),
    row(
        404,
        "NOT_FOUND",
        "the user has no RCS or has it off, the carrier has not launched, or the agent is not \
         launched to this user",
        fall_back(DeliveryError::RecipientUnreachable),
    ),
    row(
        409,
        "ALREADY_EXISTS",
        "an agent message with this messageId was sent before",
        SendOutcome::AlreadyAccepted,
    ),
    row(429, "RESOURCE_EXHAUSTED", "rate limit", RETRY),
    row(499, "CANCELLED", "the request was cancelled", RETRY),
    row(500, "INTERNAL", "Google's internal error", RETRY),
    row(503, "UNAVAILABLE", "the service is unavailable", RETRY),
    row(504, "DEADLINE_EXCEEDED", "Google timed out", RETRY),
];

/// The row of [`ERROR_TABLE`] for `google_status` (or, when it is empty or unknown, the first
/// for `http_status`).
pub fn error_row(http_status: u16, google_status: &str) -> Option<&'static ErrorRow> {
    ERROR_TABLE
        .iter()
        .find(|row| !google_status.is_empty() && row.google_status == google_status)
        .or_else(|| {
            ERROR_TABLE
                .iter()
                .find(|row| row.http_status == http_status)
        })
}

/// What an error answer (its HTTP status and `error.status`, empty when the body was not
/// Google's error JSON) means for the message: its row of [`ERROR_TABLE`]; otherwise 408, 429
/// and 5xx retry, 401 and 403 are configuration, and anything else falls back (error 5).
pub fn classify(http_status: u16, google_status: &str) -> SendOutcome {
    if let Some(row) = error_row(http_status, google_status) {
        return row.outcome;
    }
    match http_status {
        408 | 429 | 500..=599 => RETRY,
        401 | 403 => CONFIGURATION,
        _ => fall_back(NOT_DELIVERED_ERROR),
    }
}

/// The CM status an event reports: `DELIVERED` → 2, `READ` → 4, `TTL_EXPIRATION_REVOKED` → 3
/// with error 8 (expired at the third party; the message falls back); `None` for the others
/// (`IS_TYPING`, `TTL_EXPIRATION_REVOKE_FAILED`, whose outcome is unknown, user messages).
/// Which message it is for is [`status_target`] of the event's message id.
pub fn status_event(event: &Event) -> Option<StatusUpdate> {
    let plain = |status: CmStatus| StatusUpdate {
        status,
        error: None,
        description: status.description().to_owned(),
        provider_code: None,
    };
    match event {
        Event::User(event) => match event.event_type {
            UserEventType::Delivered => Some(plain(CmStatus::Delivered)),
            UserEventType::Read => Some(plain(CmStatus::Read)),
            UserEventType::IsTyping | UserEventType::Other(_) => None,
        },
        Event::Server(event) => match event.event_type {
            ServerEventType::TtlExpirationRevoked => Some(StatusUpdate {
                status: CmStatus::Failed,
                error: Some(DeliveryError::ExpiredAtThirdParty),
                description: "RCS TTL_EXPIRATION_REVOKED: not delivered before it expired"
                    .to_owned(),
                provider_code: None,
            }),
            ServerEventType::TtlExpirationRevokeFailed | ServerEventType::Other(_) => None,
        },
        Event::Message(_) | Event::Validation(_) => None,
    }
}

/// What Tern records of a user message (see [`inbound_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOf {
    pub text: String,
    pub extras: InboundExtras,
}

/// A user message as CM's inbound webhook writes it (channel `RCS`):
/// - text: `message.text`;
/// - a suggestion tap (`suggestionResponse`): CM's event webhook, `event` =
///   `{"type":"SuggestionClick","custom":{"postbackdata","label"}}` (the chip's postback data
///   and text), and the chip's text as the recorded text;
/// - location: `custom.location{latitude,longitude}`, no text;
/// - a file (`userFile`): `message.media` (its URI, MIME type, and file name as title), no text;
/// - anything else: no text, `custom.type` `"unsupported"`.
///
/// RBM does not say which agent message a user message answers, so there is no
/// `messageContext`.
pub fn inbound_of(message: &UserMessage) -> InboundOf {
    let mut extras = InboundExtras::default();
    let text = match message.content() {
        UserContent::Text(text) => text.to_owned(),
        UserContent::SuggestionResponse(response) => {
            // Written by hand to keep CM's key order.
            let string = |text: &str| Value::String(text.to_owned()).to_string();
            extras.event = Some(format!(
                r#"{{"type":"SuggestionClick","custom":{{"postbackdata":{},"label":{}}}}}"#,
                string(&response.postback_data),
                string(&response.text)
            ));
            response.text.clone()
        }
        UserContent::Location(at) => {
            extras.custom = Some(
                serde_json::json!({"location": {"latitude": at.latitude, "longitude": at.longitude}})
                    .to_string(),
            );
            String::new()
        }
        UserContent::File(file) => {
            extras.media = Some(InboundFile {
                uri: file.file_uri.clone(),
                content_type: file.mime_type.clone(),
                title: file.file_name.clone(),
            });
            String::new()
        }
        UserContent::Unsupported => {
            extras.custom = Some(r#"{"type":"unsupported"}"#.to_owned());
            String::new()
        }
    };
    InboundOf { text, extras }
}

#[cfg(test)]
mod tests;
