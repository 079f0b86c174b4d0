//! What a channel provider's answers mean for a message, in the terms every provider's decisions
//! share (WhatsApp, RBM, FCM): the class of a send error ([`ErrorClass`]: fall back, retry, or a
//! configuration fault), which becomes the connector error the state machine acts on, and the CM
//! status a provider's status webhook reports ([`StatusUpdate`]). Each provider's own module
//! (`whatsapp`, `rbm`, `push`) maps its codes and events onto these from one table. Also how
//! every provider reads CM's richContent before mapping it ([`rich_parts`], [`text_of`],
//! [`coordinates`]).

use std::time::Duration;

use serde_json::{Map, Value};
use tern_proto::cm::wire::normalize_keys;

use crate::error_code::DeliveryError;
use crate::message::Content;
use crate::ports::{ConnectorError, ErrorOrigin};
use crate::status::{CmStatus, NOT_DELIVERED_ERROR};

/// What a provider's error means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The channel will not deliver it: fall back to the next channel at once, reporting
    /// `error` if it was the last.
    FallBack { error: DeliveryError },
    /// Throttling or a transient failure: send again on the same channel after `after` (or the
    /// default backoff); never a reason to fall back.
    Retry { after: Option<Duration> },
    /// Tern's setup for the provider is wrong (token, permissions, account): this attempt
    /// fails and the message falls back, and the connector says so loudly in its logs.
    Configuration,
}

impl ErrorClass {
    /// The connector error this class is, with `message` for the logs.
    pub fn connector_error(self, message: impl Into<String>) -> ConnectorError {
        match self {
            ErrorClass::FallBack { error } => {
                ConnectorError::permanent(ErrorOrigin::Provider, Some(error), message)
            }
            ErrorClass::Retry { after } => {
                ConnectorError::temporary(ErrorOrigin::Provider, after, message)
            }
            ErrorClass::Configuration => {
                ConnectorError::permanent(ErrorOrigin::Tern, Some(NOT_DELIVERED_ERROR), message)
            }
        }
    }
}

/// What a provider's status webhook reports for the message (not to be confused with a
/// message's history entry, `message::StatusEvent`). A `Failed` status makes the state machine
/// fall back to the next channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub status: CmStatus,
    /// For a failure: the CM error it falls back with (5 when the provider gives none).
    pub error: Option<DeliveryError>,
    /// The report's status description; for a failure, the provider's code or event and title.
    pub description: String,
    /// For a failure: the provider's numeric error code, when it gives one (WhatsApp's, for
    /// `whatsapp::classify_error`).
    pub provider_code: Option<i64>,
}

/// CM's `richContent` of a message read once for every provider: its conversation parts and its
/// suggestions, key names normalised (`tern_proto::cm::wire::normalize_keys`); both empty without
/// richContent. Each provider's module maps the parts onto its own requests.
pub fn rich_parts(content: &Content) -> Result<RichParts, InvalidRichContent> {
    let Some(json) = content.rich_content.as_deref() else {
        return Ok(RichParts::default());
    };
    let rich = serde_json::from_str::<Value>(json)
        .map(normalize_keys)
        .map_err(|_| InvalidRichContent)?;
    let Value::Object(mut rich) = rich else {
        return Err(InvalidRichContent);
    };
    Ok(RichParts {
        conversation: array(rich.remove("conversation")),
        suggestions: array(rich.remove("suggestions")),
    })
}

/// A message's `richContent.conversation` and `richContent.suggestions` ([`rich_parts`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RichParts {
    pub conversation: Vec<Value>,
    pub suggestions: Vec<Value>,
}

/// `richContent` that is not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidRichContent;

/// The items of a JSON array; none for anything else.
pub fn array(value: Option<Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A non-blank text, or a number as its text (CM writes coordinates either way).
pub fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A CM location's `latitude` and `longitude` (texts or numbers): `None` when either is missing,
/// `Err` when they are not degrees (latitude within ±90, longitude within ±180).
pub fn coordinates(
    location: &Map<String, Value>,
) -> Result<Option<(f64, f64)>, InvalidCoordinates> {
    let (Some(latitude), Some(longitude)) = (
        text_of(location.get("latitude")),
        text_of(location.get("longitude")),
    ) else {
        return Ok(None);
    };
    let degrees = |text: &str, limit: f64| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && d.abs() <= limit)
    };
    match (degrees(&latitude, 90.0), degrees(&longitude, 180.0)) {
        (Some(latitude), Some(longitude)) => Ok(Some((latitude, longitude))),
        _ => Err(InvalidCoordinates),
    }
}

/// Coordinates that are not degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCoordinates;
