//! What Tern decides for the Push channel, between CM's API, CM's app SDK and Firebase Cloud
//! Messaging (HTTP v1): the push apps and device installations Tern keeps ([`PushApp`],
//! [`Installation`]), which FCM message a message's content becomes for each installation
//! ([`payload_for`], [`fcm_message`], [`messages_for`]), what an FCM error means for the message
//! and for the installation ([`classify`], from one table, [`ERROR_TABLE`]), and what comes of
//! the sends to a recipient's several installations ([`overall`]). The wire shapes are
//! tern-proto's `fcm` and `push_sdk` modules; the connector, the store and the registration
//! endpoints that use these decisions live at the edges.
//!
//! **CM's model.** A push app (its key, a GUID, is the `appKey` of a message) belongs to an
//! account and sends through one FCM connector. Devices register with CM's app SDK under the
//! app key and get an installation id; a message to a number goes to every installation of that
//! number under the message's app key, as an FCM *data* message whose key `cm` holds the JSON
//! the SDK reads ([`CmPayload`]). No `notification` block is sent: on Android it would be shown
//! by the system without waking the SDK, which then could not confirm delivery. iOS gets an
//! `apns` alert with `mutable-content`, which CM's notification service extension handles.
//! FCM's 200 only means accepted; the device's `Delivered` confirmation is the delivery report
//! (status 2), and a push not confirmed within the connector's `confirm_secs` fails and falls
//! back ([`UNCONFIRMED_ERROR`]).
//!
//! **Content.** Text parts make the body (joined by blank lines; without one, the message
//! body), the first media part the media, a `richCard` its title (`header` or `title`), text,
//! media and suggestions. Location, contacts, template and interactive parts have no push form
//! (channel-providers.md's table): a message with one cannot go by push and falls back.
//! Suggestions: `Reply` → `Reply` with `postbackData`, `OpenUrl` → `OpenUrl` with `url`,
//! `ViewLocation` → `OpenUrl` to a map; `Dial` and `CreateCalendarEvent` have no push action and
//! become lines of the body ("label: detail"), as on WhatsApp.
//!
//! **Size.** FCM refuses a payload over 4096 bytes. Tern counts the `cm` key and value and the
//! APNs alert's title and body; a message over the limit is not sent: it fails with CM error 20
//! (malformed request) and falls back to its next channel ([`PushContentError::TooLarge`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tern_proto::fcm::{
    AndroidConfig, ApnsConfig, DATA_KEY, FcmErrorCode, GoogleError, MAX_PAYLOAD_BYTES, Message,
    SendRequest,
};
pub use tern_proto::push_sdk::Registration;
use tern_proto::push_sdk::{CmPayload, PayloadMedia, PayloadSuggestion};

use crate::account::AccountId;
use crate::dispatch::Event;
use crate::error_code::DeliveryError;
use crate::message::{Content, MessageId};
use crate::provider::{RichParts, array, rich_parts, text_of};
use crate::status::{CmStatus, NOT_DELIVERED_ERROR};
pub use crate::whatsapp::ErrorClass;

/// A GUID as CM writes it: canonical lower-case hyphenated; parsed from the forms .NET's
/// `Guid.Parse` accepts (hyphenated, braced, or 32 plain hex digits).
fn parse_guid(text: &str) -> Option<uuid::Uuid> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(trimmed);
    if inner.len() != 36 && inner.len() != 32 {
        return None;
    }
    uuid::Uuid::parse_str(inner).ok()
}

/// Text that is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a GUID such as 00000000-0000-0000-0000-000000000000")]
pub struct NotAGuid(pub String);

macro_rules! guid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh random one.
            pub fn generate() -> $name {
                $name(uuid::Uuid::new_v4())
            }
        }

        impl FromStr for $name {
            type Err = NotAGuid;
            fn from_str(text: &str) -> Result<$name, NotAGuid> {
                parse_guid(text).map($name).ok_or_else(|| NotAGuid(text.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0.as_hyphenated())
            }
        }
    };
}

guid_type!(
    /// A push app's key: the `appKey` messages name and devices register under.
    AppKey
);
guid_type!(
    /// An installation's id: what registration answers and the device names afterwards.
    InstallationId
);

/// The push app a message names: its `appKey` as a GUID (`None` when it has none, or one that
/// is not a GUID: no app can have it, and the message fails as having no installation).
pub fn app_key_of(content: &Content) -> Option<AppKey> {
    content.app_key.as_deref()?.parse().ok()
}

/// A recipient as installations are found by: its number in the `00` form (`+…` and `00…`
/// accepted), `None` for anything else.
pub fn recipient_msisdn(recipient: &str) -> Option<String> {
    tern_proto::push_sdk::normalise_msisdn(recipient)
}

/// A push app to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPushApp {
    pub key: AppKey,
    pub account_id: AccountId,
    pub name: String,
    /// The `[[connector]]` (kind `fcm`) its messages go through.
    pub connector: String,
}

/// A push app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushApp {
    pub key: AppKey,
    pub account_id: AccountId,
    pub name: String,
    pub connector: String,
    pub created_at: Timestamp,
}

/// A push app with how many installations it has (for `tern app list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAppListing {
    pub app: PushApp,
    pub installations: u64,
}

/// A device registered under a push app: what CM's SDK told at its latest registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: InstallationId,
    pub app_key: AppKey,
    /// Push token, device, app and library, permission, languages, and the number in the `00`
    /// form when the app gave one.
    pub device: Registration,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Installation {
    /// Whether the device is an Apple one (by `deviceOs`).
    pub fn is_ios(&self) -> bool {
        let os = self.device.device_os.to_ascii_lowercase();
        os.starts_with("ios") || os.starts_with("ipados")
    }
}

/// The CM error of a message to a number with no installation under its app key (it fails at
/// once and falls back), and of one whose installations all turned out gone.
pub const NO_INSTALLATION_ERROR: DeliveryError = DeliveryError::IncorrectRecipientNumber;

/// The CM error of a push no device confirmed within the connector's `confirm_secs`.
pub const UNCONFIRMED_ERROR: DeliveryError = DeliveryError::RecipientUnreachable;

/// The CM error of content that cannot go by push (too large, or a part push cannot show).
pub const CONTENT_ERROR: DeliveryError = DeliveryError::MalformedRequest;

/// When a push sent at `sent_at` fails unless confirmed.
pub fn confirm_deadline(sent_at: Timestamp, confirm_secs: u64) -> Timestamp {
    sent_at + Duration::from_secs(confirm_secs)
}

/// What the `cm` payload's `messageId` holds for the send of attempt `attempt` of message
/// `message_id`: `{message_id}:{attempt}`. CM's SDK echoes it, opaque, in its `Delivered`
/// confirmation, which so names the message and the send it confirms (a confirmation of an
/// earlier send, after a fallback, is stale and changes nothing), as WhatsApp's callback data
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfirmationRef {
    pub message_id: MessageId,
    pub attempt: u32,
}

impl ConfirmationRef {
    /// Its text.
    pub fn render(&self) -> String {
        format!("{}:{}", self.message_id, self.attempt)
    }

    /// Read a confirmed `messageId`; `None` when Tern did not write it.
    pub fn parse(text: &str) -> Option<ConfirmationRef> {
        let (message_id, attempt) = text.trim().split_once(':')?;
        if attempt.is_empty() || !attempt.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ConfirmationRef {
            message_id: MessageId::parse(message_id)?,
            attempt: attempt.parse().ok()?,
        })
    }

    /// The report of the device's `Delivered` confirmation: status 2.
    pub fn delivered(&self) -> Event {
        Event::ChannelReport {
            attempt: self.attempt,
            status: CmStatus::Delivered,
            error_code: None,
            operator: None,
            detail: None,
        }
    }

    /// The report of a push no device confirmed within `confirm_secs`: failed with
    /// [`UNCONFIRMED_ERROR`] (the message falls back).
    pub fn unconfirmed(&self, confirm_secs: u64) -> Event {
        Event::ChannelReport {
            attempt: self.attempt,
            status: CmStatus::Failed,
            error_code: Some(UNCONFIRMED_ERROR),
            operator: None,
            detail: Some(format!(
                "no device confirmed delivery of the push within {confirm_secs} s"
            )),
        }
    }
}

/// Why a message's content cannot be sent by push (it falls back with [`CONTENT_ERROR`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushContentError {
    #[error("nothing to send: no body text and no richContent conversation")]
    NoContent,
    #[error("richContent is not a JSON object")]
    InvalidRichContent,
    #[error("richContent.conversation[{part}] has nothing a push message can carry")]
    UnsupportedPart { part: usize },
    #[error("the push payload takes {bytes} bytes; FCM takes at most {limit}")]
    TooLarge { bytes: usize, limit: usize },
}

impl PushContentError {
    /// The CM error the message falls back with.
    pub fn delivery_error(&self) -> DeliveryError {
        CONTENT_ERROR
    }
}

fn media_of(media: &Map<String, Value>) -> Option<PayloadMedia> {
    let uri = text_of(media.get("mediauri"))?;
    Some(PayloadMedia {
        media_name: text_of(media.get("medianame")).unwrap_or_default(),
        media_uri: uri,
        mime_type: text_of(media.get("mimetype")).unwrap_or_default(),
    })
}

/// The `cm` payload of `content` for the message `tern_message_id` (see the module docs).
pub fn payload_for(
    content: &Content,
    tern_message_id: MessageId,
) -> Result<CmPayload, PushContentError> {
    let RichParts {
        conversation,
        mut suggestions,
    } = rich_parts(content).map_err(|_| PushContentError::InvalidRichContent)?;
    let mut texts = Vec::new();
    let mut title = None;
    let mut media = None;
    for (part, value) in conversation.into_iter().enumerate() {
        let Value::Object(mut object) = value else {
            return Err(PushContentError::UnsupportedPart { part });
        };
        let mut carried = false;
        if let Some(text) = text_of(object.get("text")) {
            texts.push(text);
            carried = true;
        }
        if let Some(found) = object
            .get("media")
            .and_then(Value::as_object)
            .and_then(media_of)
        {
            media.get_or_insert(found);
            carried = true;
        }
        if let Some(Value::Object(mut card)) = object.remove("richcard") {
            if let Some(header) = text_of(card.get("header")).or_else(|| text_of(card.get("title")))
            {
                title.get_or_insert(header);
            }
            if let Some(text) =
                text_of(card.get("text")).or_else(|| text_of(card.get("description")))
            {
                texts.push(text);
            }
            if let Some(found) = card
                .get("media")
                .and_then(Value::as_object)
                .and_then(media_of)
            {
                media.get_or_insert(found);
            }
            suggestions.extend(array(card.remove("suggestions")));
            carried = true;
        }
        let other = ["location", "contacts", "template", "interactive"]
            .iter()
            .any(|key| object.get(*key).is_some_and(|v| !v.is_null()));
        if other || !carried {
            return Err(PushContentError::UnsupportedPart { part });
        }
    }
    let mut body = if texts.is_empty() {
        content.body.trim().to_owned()
    } else {
        texts.join("\n\n")
    };
    let (suggestions, lines) = push_suggestions(&suggestions);
    if !lines.is_empty() {
        body = if body.is_empty() {
            lines.join("\n")
        } else {
            format!("{body}\n\n{}", lines.join("\n"))
        };
    }
    if body.is_empty() && media.is_none() && title.is_none() {
        return Err(PushContentError::NoContent);
    }
    Ok(CmPayload {
        message_id: tern_message_id.to_string(),
        title,
        body,
        media,
        suggestions,
        default_action: None,
    })
}

/// CM suggestions as the SDK's, and the lines of body text for those it has no action for.
fn push_suggestions(suggestions: &[Value]) -> (Vec<PayloadSuggestion>, Vec<String>) {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for suggestion in suggestions {
        let action = text_of(suggestion.get("action"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let label = text_of(suggestion.get("label")).unwrap_or_default();
        let postback = text_of(suggestion.get("postbackdata"));
        let line = |detail: Option<String>| {
            detail.map(|detail| {
                if label.is_empty() {
                    detail
                } else {
                    format!("{label}: {detail}")
                }
            })
        };
        let nested = |key: &str| suggestion.get(key).and_then(Value::as_object);
        match action.as_str() {
            "reply" => out.push(PayloadSuggestion {
                action: "Reply".to_owned(),
                postback_data: postback.or_else(|| Some(label.clone())),
                label,
                url: None,
                page: None,
            }),
            "openurl" => {
                if let Some(url) = text_of(suggestion.get("url")) {
                    out.push(PayloadSuggestion {
                        action: "OpenUrl".to_owned(),
                        label,
                        url: Some(url),
                        page: None,
                        postback_data: postback,
                    });
                }
            }
            "openapppage" => {
                if let Some(page) = text_of(suggestion.get("page")) {
                    out.push(PayloadSuggestion {
                        action: "OpenAppPage".to_owned(),
                        label,
                        url: None,
                        page: Some(page),
                        postback_data: postback,
                    });
                }
            }
            "viewlocation" => {
                let Some(location) = nested("viewlocation") else {
                    continue;
                };
                let coordinates = (
                    text_of(location.get("latitude")),
                    text_of(location.get("longitude")),
                );
                let url = match coordinates {
                    (Some(lat), Some(lon)) => {
                        Some(format!("https://maps.google.com/?q={lat},{lon}"))
                    }
                    _ => text_of(location.get("searchquery")).map(|query| {
                        format!("https://maps.google.com/?q={}", query_escape(&query))
                    }),
                };
                if let Some(url) = url {
                    out.push(PayloadSuggestion {
                        action: "OpenUrl".to_owned(),
                        label: if label.is_empty() {
                            text_of(location.get("label")).unwrap_or_default()
                        } else {
                            label.clone()
                        },
                        url: Some(url),
                        page: None,
                        postback_data: postback,
                    });
                }
            }
            "dial" => lines.extend(line(
                nested("dial").and_then(|d| text_of(d.get("phonenumber"))),
            )),
            "createcalendarevent" => {
                let calendar = nested("calendar");
                let field = |key: &str| calendar.and_then(|c| text_of(c.get(key)));
                let detail = match (field("title"), field("starttime"), field("endtime")) {
                    (Some(title), Some(start), Some(end)) => {
                        Some(format!("{title}, {start} - {end}"))
                    }
                    (None, Some(start), Some(end)) => Some(format!("{start} - {end}")),
                    _ => None,
                };
                lines.extend(line(detail));
            }
            _ => {}
        }
    }
    (out, lines)
}

/// `text` percent-encoded for a URL query (unreserved characters kept).
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The bytes of the payload limit a message with `payload` takes (see the module docs).
pub fn payload_bytes(payload: &CmPayload, cm_json: &str) -> usize {
    DATA_KEY.len()
        + cm_json.len()
        + payload.title.as_ref().map_or(0, String::len)
        + payload.body.len()
}

/// The FCM message that pushes `payload` to the device with `token`: `data.cm` the payload's
/// JSON, Android priority `HIGH` (with `ttl` when given: the message's remaining validity,
/// whole seconds), an APNs alert with `mutable-content`; refused when over the size limit.
pub fn fcm_message(
    payload: &CmPayload,
    token: &str,
    ttl: Option<Duration>,
) -> Result<SendRequest, PushContentError> {
    let cm_json = payload.to_json();
    let bytes = payload_bytes(payload, &cm_json);
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(PushContentError::TooLarge {
            bytes,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    let mut message = Message::to_token(token);
    message.data = BTreeMap::from([(DATA_KEY.to_owned(), cm_json)]);
    message.android = Some(AndroidConfig {
        priority: Some("HIGH".to_owned()),
        ttl: ttl.map(|ttl| format!("{}s", ttl.as_secs())),
        ..AndroidConfig::default()
    });
    let mut alert = Map::new();
    if let Some(title) = &payload.title {
        alert.insert("title".to_owned(), Value::String(title.clone()));
    }
    alert.insert("body".to_owned(), Value::String(payload.body.clone()));
    message.apns = Some(ApnsConfig {
        headers: BTreeMap::from([
            ("apns-priority".to_owned(), "10".to_owned()),
            ("apns-push-type".to_owned(), "alert".to_owned()),
        ]),
        payload: Some(json!({"aps": {"alert": alert, "mutable-content": 1, "sound": "default"}})),
    });
    Ok(SendRequest::new(message))
}

/// One FCM request per installation (in the order given), each to its push token.
pub fn messages_for(
    content: &Content,
    tern_message_id: MessageId,
    installations: &[Installation],
    ttl: Option<Duration>,
) -> Result<Vec<(InstallationId, SendRequest)>, PushContentError> {
    let payload = payload_for(content, tern_message_id)?;
    installations
        .iter()
        .map(|installation| {
            fcm_message(&payload, &installation.device.push_token, ttl)
                .map(|request| (installation.id, request))
        })
        .collect()
}

/// What an FCM error means: for the message ([`ErrorClass`]) and for the installation it was
/// sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushErrorClass {
    pub class: ErrorClass,
    /// The token is gone or not this project's: forget the installation.
    pub remove_installation: bool,
}

/// One row of [`ERROR_TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow {
    /// FCM's `errorCode`.
    pub code: &'static str,
    /// The HTTP status FCM answers it with.
    pub http_status: u16,
    pub meaning: &'static str,
    pub class: ErrorClass,
    pub remove_installation: bool,
}

const fn row(
    code: &'static str,
    http_status: u16,
    meaning: &'static str,
    class: ErrorClass,
    remove_installation: bool,
) -> ErrorRow {
    ErrorRow {
        code,
        http_status,
        meaning,
        class,
        remove_installation,
    }
}

const RETRY: ErrorClass = ErrorClass::Retry { after: None };
const GONE: ErrorClass = ErrorClass::FallBack {
    error: NO_INSTALLATION_ERROR,
};

/// FCM's error codes and what Tern does with each (channel-providers.md §4a). `INVALID_ARGUMENT`
/// is in twice: about the token (the installation is removed) or about something else (Tern's
/// request; the message falls back). A `Retry-After` answer retries after that long.
pub const ERROR_TABLE: &[ErrorRow] = &[
    row(
        "UNREGISTERED",
        404,
        "the token is no longer valid",
        GONE,
        true,
    ),
    row(
        "SENDER_ID_MISMATCH",
        403,
        "the token belongs to another Firebase project",
        GONE,
        true,
    ),
    row(
        "INVALID_ARGUMENT",
        400,
        "the registration token is not a valid FCM token",
        GONE,
        true,
    ),
    row(
        "INVALID_ARGUMENT",
        400,
        "the request is invalid",
        ErrorClass::FallBack {
            error: DeliveryError::MalformedRequest,
        },
        false,
    ),
    row(
        "QUOTA_EXCEEDED",
        429,
        "sending limit exceeded",
        RETRY,
        false,
    ),
    row("UNAVAILABLE", 503, "FCM is overloaded", RETRY, false),
    row("INTERNAL", 500, "FCM internal error", RETRY, false),
    row(
        "THIRD_PARTY_AUTH_ERROR",
        401,
        "the APNs certificate or key in Firebase is invalid",
        ErrorClass::Configuration,
        false,
    ),
    row(
        "UNSPECIFIED_ERROR",
        500,
        "no more is known about the error",
        ErrorClass::FallBack {
            error: NOT_DELIVERED_ERROR,
        },
        false,
    ),
];

/// The row of [`ERROR_TABLE`] for `code` (with `about_token` telling the two `INVALID_ARGUMENT`
/// rows apart).
pub fn error_row(code: &FcmErrorCode, about_token: bool) -> Option<&'static ErrorRow> {
    let text = code.as_str();
    ERROR_TABLE.iter().find(|row| {
        row.code == text && (text != "INVALID_ARGUMENT" || row.remove_installation == about_token)
    })
}

/// What an FCM error answer (`error`, with `http_status` and the `Retry-After` it came with)
/// means: its row of [`ERROR_TABLE`]; an error without an FCM code (or with an unknown one) by
/// its HTTP status: 401 and 403 (Tern's OAuth token or project) and 404 (no such project) are
/// configuration, 429 and 5xx retry, anything else falls back (400 as a malformed request).
pub fn classify(
    error: &GoogleError,
    http_status: u16,
    retry_after: Option<Duration>,
) -> PushErrorClass {
    let row = error
        .fcm_error_code()
        .and_then(|code| error_row(&code, error.names_token()));
    let (class, remove_installation) = match row {
        Some(row) => (row.class, row.remove_installation),
        None => (classify_status(http_status), false),
    };
    let class = match class {
        ErrorClass::Retry { .. } => ErrorClass::Retry { after: retry_after },
        other => other,
    };
    PushErrorClass {
        class,
        remove_installation,
    }
}

/// [`classify`] for an answer that is not Google's error JSON (a proxy's page, say).
pub fn classify_status(http_status: u16) -> ErrorClass {
    match http_status {
        401 | 403 | 404 => ErrorClass::Configuration,
        429 | 500..=599 => RETRY,
        400 => ErrorClass::FallBack {
            error: DeliveryError::MalformedRequest,
        },
        _ => ErrorClass::FallBack {
            error: NOT_DELIVERED_ERROR,
        },
    }
}

/// What came of the send to one installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// FCM took it (200); delivery waits for the device's confirmation.
    Accepted,
    Failed(ErrorClass),
}

/// What the sends to a recipient's installations come to for the message: accepted (awaiting
/// a confirmation) when any installation's was; else a retry when any was a retry (after the
/// longest wait asked); else configuration when any was; else the first fall-back's error; no
/// installation at all falls back with [`NO_INSTALLATION_ERROR`].
pub fn overall(outcomes: &[SendOutcome]) -> SendOutcome {
    if outcomes.contains(&SendOutcome::Accepted) {
        return SendOutcome::Accepted;
    }
    let classes = || {
        outcomes.iter().filter_map(|outcome| match outcome {
            SendOutcome::Failed(class) => Some(*class),
            SendOutcome::Accepted => None,
        })
    };
    let retries: Vec<Option<Duration>> = classes()
        .filter_map(|class| match class {
            ErrorClass::Retry { after } => Some(after),
            _ => None,
        })
        .collect();
    if !retries.is_empty() {
        return SendOutcome::Failed(ErrorClass::Retry {
            after: retries.into_iter().flatten().max(),
        });
    }
    if classes().any(|class| class == ErrorClass::Configuration) {
        return SendOutcome::Failed(ErrorClass::Configuration);
    }
    SendOutcome::Failed(classes().next().unwrap_or(GONE))
}

#[cfg(test)]
mod tests;
