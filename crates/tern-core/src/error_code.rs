//! The one table of errors: every error a client can get, one row (match arm) per variant, with
//! its CM code, HTTP status, JSON text, XML text, GET text and SMPP 3.4 command_status; the
//! conversion and message-log errors with their HTTP statuses and texts; and the delivery error
//! codes 5-37 reports carry. Every surface answers from here; no error text is built at a call
//! site (as Meilisearch keeps its error codes in one place).

use std::fmt;

use tern_proto::sms::{BodyError, PartLimitError};

use crate::channel::Channel;
use crate::rich_content::RichPath;
use crate::short_message::SmsBodyError;
use crate::validity::InvalidValidity;

/// The interface a request came in on. JSON answers per message; XML and GET are all-or-nothing
/// and answer one plain-text line, `Error: ERROR <text>`, with texts of their own tables; SMPP
/// answers per destination with a `command_status` ([`SmppStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Json,
    Xml,
    Get,
    Smpp,
}

impl Surface {
    /// Every surface.
    pub const ALL: [Surface; 4] = [Surface::Json, Surface::Xml, Surface::Get, Surface::Smpp];

    /// Its name in the message log (`source`) and in stored rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Json => "json",
            Surface::Xml => "xml",
            Surface::Get => "get",
            Surface::Smpp => "smpp",
        }
    }

    /// The surface of a name [`Surface::as_str`] gave.
    pub fn parse(text: &str) -> Option<Surface> {
        Surface::ALL
            .into_iter()
            .find(|surface| surface.as_str() == text)
    }
}

/// The plain-text answer of the XML and GET interfaces.
fn error_line(text: &str) -> String {
    format!("Error: ERROR {text}")
}

/// An SMPP 3.4 `command_status` (section 5.1.3) an SMPP session answers an error with.
///
/// How the table chooses: a sender problem is `ESME_RINVSRCADR`, a recipient problem (a
/// malformed number, or one no route carries: `Message is unroutable.`) `ESME_RINVDSTADR`, a body length or part-count problem `ESME_RINVMSGLEN`, a validity problem
/// `ESME_RINVEXPIRY`, bad credentials `ESME_RINVPASWD` (malformed) or `ESME_RBINDFAIL` (no such
/// account: the answer does not tell whether the system_id exists). A rule a client breaks that
/// SMPP has no status for is `ESME_RSUBMITFAIL` (permanent: resending the same message fails
/// again), and so is a balance that cannot pay (the SMPP issue's contract; the session logs why);
/// the store failing or refusing work is `ESME_RMSGQFUL` (the ESME should resend later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SmppStatus {
    /// 0x01: message length is invalid.
    InvalidMessageLength = 0x01,
    /// 0x02: command length is invalid.
    InvalidCommandLength = 0x02,
    /// 0x08: system error.
    SystemError = 0x08,
    /// 0x14: message queue full.
    MessageQueueFull = 0x14,
    /// 0x0A: invalid source address.
    InvalidSourceAddress = 0x0A,
    /// 0x0B: invalid destination address.
    InvalidDestinationAddress = 0x0B,
    /// 0x0D: bind failed.
    BindFailed = 0x0D,
    /// 0x0E: invalid password.
    InvalidPassword = 0x0E,
    /// 0x33: invalid number of destinations.
    InvalidNumberOfDestinations = 0x33,
    /// 0x45: submit_sm or submit_multi failed.
    SubmitFailed = 0x45,
    /// 0x58: throttling error (the ESME exceeded its allowed message limits).
    Throttled = 0x58,
    /// 0x62: invalid message validity period (expiry time).
    InvalidExpiry = 0x62,
}

impl SmppStatus {
    /// The `command_status` value.
    pub fn value(self) -> u32 {
        self as u32
    }

    /// The `command_status` the SMPP codec writes.
    pub fn command_status(self) -> tern_proto::smpp::CommandStatus {
        tern_proto::smpp::CommandStatus(self.value())
    }

    /// The specification's name.
    pub fn name(self) -> &'static str {
        match self {
            SmppStatus::InvalidMessageLength => "ESME_RINVMSGLEN",
            SmppStatus::InvalidCommandLength => "ESME_RINVCMDLEN",
            SmppStatus::SystemError => "ESME_RSYSERR",
            SmppStatus::MessageQueueFull => "ESME_RMSGQFUL",
            SmppStatus::InvalidSourceAddress => "ESME_RINVSRCADR",
            SmppStatus::InvalidDestinationAddress => "ESME_RINVDSTADR",
            SmppStatus::BindFailed => "ESME_RBINDFAIL",
            SmppStatus::InvalidPassword => "ESME_RINVPASWD",
            SmppStatus::InvalidNumberOfDestinations => "ESME_RINVNUMDESTS",
            SmppStatus::SubmitFailed => "ESME_RSUBMITFAIL",
            SmppStatus::Throttled => "ESME_RTHROTTLED",
            SmppStatus::InvalidExpiry => "ESME_RINVEXPIRY",
        }
    }
}

/// A failure of the whole request: nothing in it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The product token is well-formed but belongs to no account.
    NoAccount,
    /// The product token is missing or not a GUID.
    InvalidProductToken,
    /// The account cannot pay for the accepted parts.
    InsufficientBalance,
    /// No message of the request can be routed.
    Unroutable,
    /// `messages.msg` is absent or empty.
    NoMsg,
    /// `messages.msg` is present but not an array.
    MsgNotArray,
    /// More `msg` elements than one request may carry.
    TooManyMsgs { limit: usize },
    /// More recipients, over all `msg` elements, than one request may carry.
    TooManyRecipients { limit: usize },
    /// The body is not valid JSON.
    InvalidJson,
    /// The body is not acceptable XML: why, as the XML reader says it (its own error, rendered
    /// by this table).
    InvalidXml(tern_proto::cm::xml_tree::XmlError),
    /// The XML body is not UTF-8.
    XmlNotUtf8,
    /// The body exceeds the configured limit (bytes).
    BodyTooLarge { limit_bytes: usize },
    /// The `Idempotency-Key` header is not 1 to 255 printable ASCII characters
    /// (`crate::idempotency`).
    InvalidIdempotencyKey,
    /// The `Idempotency-Key` was given, within its lifetime, to a request with another body.
    /// Tern's own code 204 (CM has no idempotency keys), HTTP 409, on every surface as JSON.
    IdempotencyKeyReused,
    /// Anything unexpected; the cause is logged, never shown.
    Unknown,
}

impl RequestError {
    /// CM's `errorCode`.
    pub fn code(&self) -> u32 {
        match self {
            RequestError::NoAccount => 101,
            RequestError::InsufficientBalance => 102,
            RequestError::InvalidProductToken => 103,
            RequestError::InvalidJson
            | RequestError::InvalidXml(_)
            | RequestError::XmlNotUtf8
            | RequestError::BodyTooLarge { .. }
            | RequestError::InvalidIdempotencyKey => 202,
            RequestError::IdempotencyKeyReused => 204,
            RequestError::Unroutable
            | RequestError::NoMsg
            | RequestError::MsgNotArray
            | RequestError::TooManyMsgs { .. }
            | RequestError::TooManyRecipients { .. } => 203,
            RequestError::Unknown => 999,
        }
    }

    /// The HTTP status of the JSON API.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::Unknown => 500,
            RequestError::BodyTooLarge { .. } => 413,
            RequestError::IdempotencyKeyReused => 409,
            _ => 400,
        }
    }

    /// The SMPP `command_status`. Several rows cannot arise on SMPP (a PDU carries one message,
    /// not JSON or XML) but have a value, so that no error is left without one.
    pub fn smpp_status(&self) -> SmppStatus {
        match self {
            // Unknown credentials: a bind failure that does not tell whether the id exists.
            RequestError::NoAccount => SmppStatus::BindFailed,
            RequestError::InvalidProductToken => SmppStatus::InvalidPassword,
            // As the SMPP issue asks; the session logs that the balance refused it.
            RequestError::InsufficientBalance => SmppStatus::SubmitFailed,
            RequestError::Unroutable => SmppStatus::SubmitFailed,
            RequestError::NoMsg | RequestError::MsgNotArray => SmppStatus::SubmitFailed,
            RequestError::TooManyMsgs { .. } | RequestError::TooManyRecipients { .. } => {
                SmppStatus::InvalidNumberOfDestinations
            }
            RequestError::InvalidJson | RequestError::InvalidXml(_) | RequestError::XmlNotUtf8 => {
                SmppStatus::SubmitFailed
            }
            RequestError::BodyTooLarge { .. } => SmppStatus::InvalidCommandLength,
            // HTTP headers: never on SMPP.
            RequestError::InvalidIdempotencyKey | RequestError::IdempotencyKeyReused => {
                SmppStatus::SubmitFailed
            }
            // On a submission, the store failing or refusing work: resend later.
            RequestError::Unknown => SmppStatus::MessageQueueFull,
        }
    }

    /// The JSON API's `details` text.
    pub fn details(&self) -> String {
        match self {
            RequestError::NoAccount => "No account found for the given authentication".into(),
            RequestError::InvalidProductToken => "Invalid product token.".into(),
            RequestError::InsufficientBalance => "Insufficient balance.".into(),
            RequestError::Unroutable => "Message is unroutable.".into(),
            RequestError::NoMsg => "A MESSAGES object requires at least one MSG object".into(),
            RequestError::MsgNotArray => "msg object is an invalid type, must be an array".into(),
            RequestError::TooManyMsgs { limit } => {
                format!("Too many msg objects: one request can carry up to {limit}")
            }
            RequestError::TooManyRecipients { limit } => {
                format!("Too many recipients: one request can carry up to {limit}")
            }
            RequestError::InvalidJson => "Invalid JSON".into(),
            RequestError::InvalidXml(error) => format!("Invalid XML: {error}"),
            RequestError::XmlNotUtf8 => "Invalid XML: the body is not UTF-8".into(),
            RequestError::BodyTooLarge { limit_bytes } => {
                format!("Request body too large: the limit is {limit_bytes} bytes")
            }
            RequestError::InvalidIdempotencyKey => {
                "Invalid Idempotency-Key header: use 1 to 255 printable ASCII characters".into()
            }
            RequestError::IdempotencyKeyReused => {
                "Idempotency-Key already used for a different request body".into()
            }
            RequestError::Unknown => "Unknown Error".into(),
        }
    }

    /// The XML and GET interfaces' answer (HTTP 200, plain text). `token` is the product token
    /// as sent, which the GET interface quotes back.
    pub fn plain_text(&self, surface: Surface, token: Option<&str>) -> String {
        let text = match (self, surface) {
            (RequestError::InvalidProductToken, Surface::Get) => format!(
                "Parameter 'producttoken' contains an invalid value: '{}'",
                token.unwrap_or_default()
            ),
            (RequestError::Unroutable, _) => "Message is unrouteable.".into(),
            (RequestError::NoMsg | RequestError::MsgNotArray, _) => {
                "A MESSAGES node requires at least one MSG node".into()
            }
            (RequestError::TooManyMsgs { limit }, _) => {
                format!("Too many MSG nodes: one request can carry up to {limit}")
            }
            (RequestError::Unknown, _) => "Unknown error".into(),
            (other, _) => other.details(),
        };
        error_line(&text)
    }
}

/// A field of a `msg` a rule names, as clients spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ToNumber,
    BodyContent,
    BodyType,
    Reference,
    CustomGrouping,
    CustomGrouping2,
    CustomGrouping3,
    Validity,
    AppKey,
    Dcs,
    MinimumParts,
    MaximumParts,
}

impl Field {
    /// The three custom groupings, in order.
    pub const CUSTOM_GROUPINGS: [Field; 3] = [
        Field::CustomGrouping,
        Field::CustomGrouping2,
        Field::CustomGrouping3,
    ];

    /// The name as clients write it.
    pub fn name(self) -> &'static str {
        match self {
            Field::ToNumber => "to.number",
            Field::BodyContent => "body.content",
            Field::BodyType => "body.type",
            Field::Reference => "reference",
            Field::CustomGrouping => "customGrouping",
            Field::CustomGrouping2 => "customGrouping2",
            Field::CustomGrouping3 => "customGrouping3",
            Field::Validity => "validity",
            Field::AppKey => "appKey",
            Field::Dcs => "dcs",
            Field::MinimumParts => "minimumNumberOfMessageParts",
            Field::MaximumParts => "maximumNumberOfMessageParts",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which rule of `richContent` a part breaks; the path says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RichRule {
    /// The element must be an array.
    NotAnArray,
    /// A conversation part with nothing in it.
    EmptyPart,
    /// A required element is absent.
    Required,
    /// A `mimeType` the spec does not list (as sent).
    UnsupportedMediaType(String),
    /// A location with neither a search query nor both coordinates.
    NoPlace,
    /// A latitude or longitude that is not a number in range (as sent).
    InvalidCoordinate {
        coordinate: Coordinate,
        value: String,
    },
    /// A contacts list with no contact.
    NoContacts,
    /// A template language policy other than `fallback` or `deterministic` (as sent).
    InvalidLanguagePolicy(String),
    /// More suggestions than a message may carry.
    TooManySuggestions { count: usize, limit: usize },
    /// An element a suggestion's action needs is absent (the action).
    RequiredForAction(&'static str),
    /// A calendar without its start and end.
    CalendarNeedsTimes,
    /// A suggestion action that is none of the spec's (as sent).
    UnknownAction(String),
    /// Conversation parts and suggestions Viber cannot carry together.
    NotAViberCombination,
}

/// Which coordinate of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coordinate {
    Latitude,
    Longitude,
}

impl Coordinate {
    /// The field's name, which is also the rule's word.
    pub fn name(self) -> &'static str {
        match self {
            Coordinate::Latitude => "latitude",
            Coordinate::Longitude => "longitude",
        }
    }
}

/// A `richContent` rule broken at a path such as `richContent.conversation[2].media.mimeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RichContentError {
    pub path: RichPath,
    pub rule: RichRule,
}

/// Why one recipient of one `msg` was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// `from` is absent or empty.
    NoFrom,
    /// `from` is too long or has characters a sender name cannot carry.
    InvalidFrom,
    /// A `to` entry without a number.
    EmptyNumber,
    /// A `to` number that is not a phone number (the text as sent).
    NotANumber(String),
    /// A field that must be an array is not (the field name).
    NotAnArray(&'static str),
    /// A field that must be a string is not.
    NotAString(Field),
    /// A field that must be an integer is not.
    NotAnInteger(Field),
    /// `body` is present but not an object.
    BodyNotAnObject,
    /// `richContent` is present but not an object.
    RichContentNotAnObject,
    /// `body` is absent.
    NoBody,
    /// `body.content` is absent or empty.
    EmptyBody,
    /// `body.type` is none of AUTO, TEXT, BINARY (as sent).
    UnknownBodyType(String),
    /// The content cannot be encoded as its type or `dcs` says (e.g. BINARY that is not hex).
    BodyEncoding(BodyError),
    /// The body is longer than the interface carries (the GET interface: 160 characters).
    BodyTooLong { limit: usize },
    /// A text (the body or a rich text part) is longer than a channel it may travel on carries.
    TextTooLong {
        channel: Channel,
        limit_chars: usize,
    },
    /// The body and rich content are larger than a channel's payload limit.
    PayloadTooLarge {
        channel: Channel,
        limit_bytes: usize,
    },
    /// `reference` is not 1 to 32 letters, digits, `-` or `_`.
    InvalidReference,
    /// A text field longer than its limit (characters).
    TooLong { field: Field, limit_chars: usize },
    /// `validity` matches none of the documented forms (as sent).
    InvalidValidity(String),
    /// The Push channel is allowed but `appKey` is absent.
    NoAppKeyForPush,
    /// `dcs` is an integer outside 0-255.
    DcsOutOfRange,
    /// The part limits reject the message.
    PartLimit(PartLimitError),
    /// An `allowedChannels` name that is no CM channel (as sent).
    UnknownChannel(String),
    /// A `richContent` rule.
    RichContent(RichContentError),
    /// No allowed channel is enabled for the account.
    Unroutable,
    /// The user data of a short message (an SMPP submission) cannot be sent as it is.
    SmsBody(SmsBodyError),
    /// The recipient is on the account's blocklist or the global one (an opt-out):
    /// CM's 402 `Message has been blacklisted` (see `crate::blocklist`).
    Blacklisted,
}

impl Rejection {
    /// CM's `messageErrorCode`: 301 sender, 302 no recipient, 303 bad number, 304 body,
    /// 305 any other field, 402 a blocked recipient.
    pub fn code(&self) -> u32 {
        match self {
            Rejection::NoFrom | Rejection::InvalidFrom => 301,
            Rejection::EmptyNumber | Rejection::NotAnArray("to") => 302,
            Rejection::NotANumber(_) => 303,
            Rejection::NoBody
            | Rejection::EmptyBody
            | Rejection::BodyNotAnObject
            | Rejection::NotAString(Field::BodyContent)
            | Rejection::BodyEncoding(_)
            | Rejection::BodyTooLong { .. }
            | Rejection::TextTooLong { .. }
            | Rejection::PayloadTooLarge { .. }
            | Rejection::SmsBody(_) => 304,
            Rejection::NotAnArray(_)
            | Rejection::NotAString(_)
            | Rejection::NotAnInteger(_)
            | Rejection::RichContentNotAnObject
            | Rejection::UnknownBodyType(_)
            | Rejection::InvalidReference
            | Rejection::TooLong { .. }
            | Rejection::InvalidValidity(_)
            | Rejection::NoAppKeyForPush
            | Rejection::DcsOutOfRange
            | Rejection::PartLimit(_)
            | Rejection::UnknownChannel(_)
            | Rejection::RichContent(_)
            | Rejection::Unroutable => 305,
            Rejection::Blacklisted => 402,
        }
    }

    /// The SMPP `command_status` (see [`SmppStatus`] for how it is chosen).
    pub fn smpp_status(&self) -> SmppStatus {
        match self {
            Rejection::NoFrom | Rejection::InvalidFrom => SmppStatus::InvalidSourceAddress,
            Rejection::EmptyNumber
            | Rejection::NotANumber(_)
            | Rejection::NotAnArray("to")
            | Rejection::NotAString(Field::ToNumber) => SmppStatus::InvalidDestinationAddress,
            Rejection::NoBody
            | Rejection::EmptyBody
            | Rejection::BodyTooLong { .. }
            | Rejection::TextTooLong { .. }
            | Rejection::PayloadTooLarge { .. }
            | Rejection::PartLimit(_)
            | Rejection::SmsBody(
                SmsBodyError::OddUcs2Length(_)
                | SmsBodyError::InvalidUdh
                | SmsBodyError::NotOnePart,
            ) => SmppStatus::InvalidMessageLength,
            Rejection::InvalidValidity(_) | Rejection::NotAString(Field::Validity) => {
                SmppStatus::InvalidExpiry
            }
            Rejection::NotAnArray(_)
            | Rejection::NotAString(_)
            | Rejection::NotAnInteger(_)
            | Rejection::BodyNotAnObject
            | Rejection::RichContentNotAnObject
            | Rejection::UnknownBodyType(_)
            | Rejection::BodyEncoding(_)
            | Rejection::InvalidReference
            | Rejection::TooLong { .. }
            | Rejection::NoAppKeyForPush
            | Rejection::DcsOutOfRange
            | Rejection::UnknownChannel(_)
            | Rejection::RichContent(_)
            | Rejection::SmsBody(
                SmsBodyError::UnsupportedDataCoding(_) | SmsBodyError::InvalidConcatenation { .. },
            ) => SmppStatus::SubmitFailed,
            // No route to the destination (or SMS is not the account's): the address is what
            // cannot be served.
            Rejection::Unroutable => SmppStatus::InvalidDestinationAddress,
            // The destination is one the account may not send to.
            Rejection::Blacklisted => SmppStatus::InvalidDestinationAddress,
        }
    }

    /// CM's `messageDetails` text.
    pub fn details(&self) -> String {
        match self {
            Rejection::NoFrom => "No FROM field found in a MSG object.".into(),
            Rejection::InvalidFrom => {
                "Invalid FROM field: use at most 11 alphanumeric characters or 16 digits.".into()
            }
            Rejection::EmptyNumber => "Empty mobilenumber field, MT ignored".into(),
            Rejection::NotANumber(number) => format!("Gsm '{number}' is not a number."),
            Rejection::NotAnArray(field) => {
                format!("{field} object is an invalid type, must be an array")
            }
            Rejection::NotAString(field) => format!("{field} must be a string"),
            Rejection::NotAnInteger(field) => format!("{field} must be an integer"),
            Rejection::BodyNotAnObject => "body must be an object with a content field".into(),
            Rejection::RichContentNotAnObject => "richContent must be an object".into(),
            Rejection::NoBody => "No body field was found".into(),
            Rejection::EmptyBody => "A body without content was found".into(),
            Rejection::UnknownBodyType(text) => {
                format!("body.type '{text}' must be AUTO, TEXT or BINARY")
            }
            // The text stands once, beside the rule in tern-proto.
            Rejection::BodyEncoding(error) => error.to_string(),
            Rejection::BodyTooLong { limit } => {
                format!("The body is longer than {limit} characters")
            }
            Rejection::TextTooLong {
                channel,
                limit_chars,
            } => format!(
                "The text is longer than the {limit_chars} characters the {} channel carries",
                channel.as_str()
            ),
            Rejection::PayloadTooLarge {
                channel,
                limit_bytes,
            } => format!(
                "The body and rich content are larger than the {limit_bytes} bytes the {} channel carries",
                channel.as_str()
            ),
            Rejection::InvalidReference => {
                "reference must be 1 to 32 characters: letters, digits, '-' or '_'".into()
            }
            Rejection::TooLong { field, limit_chars } => {
                format!("{field} must be at most {limit_chars} characters")
            }
            // The text stands once, beside the rule in `validity`.
            Rejection::InvalidValidity(text) => InvalidValidity(text.clone()).to_string(),
            Rejection::NoAppKeyForPush => "appKey is required for the Push channel".into(),
            Rejection::DcsOutOfRange => "dcs must be between 0 and 255".into(),
            // The texts stand once, beside the rules in tern-proto.
            Rejection::PartLimit(limit) => limit.to_string(),
            Rejection::UnknownChannel(name) => {
                format!("allowedChannels: unknown channel '{name}'")
            }
            Rejection::RichContent(error) => rich_content_text(error),
            Rejection::Unroutable => "Message is unroutable.".into(),
            // The texts stand once, beside the rules in `short_message`.
            Rejection::SmsBody(error) => error.to_string(),
            // The spec's own text for 402.
            Rejection::Blacklisted => "Message has been blacklisted".into(),
        }
    }

    /// The XML and GET interfaces' answer when this rejection sinks the request.
    pub fn plain_text(&self, surface: Surface) -> String {
        let text = match (self, surface) {
            (Rejection::NoFrom, Surface::Get) => "No sender name provided".into(),
            (Rejection::NoFrom, _) => "No FROM field found in a MSG node.".into(),
            (Rejection::EmptyNumber, Surface::Get) => {
                "Parameter 'to' contains an invalid value: ''".into()
            }
            (Rejection::NotANumber(number), Surface::Get) => {
                format!("Parameter 'to' contains an invalid value: '{number}'")
            }
            (Rejection::EmptyNumber, _) => {
                "No phone numbers found. Message will not be sent.".into()
            }
            (Rejection::NotANumber(number), _) => {
                format!("Rejected: Gsm '{number}' is not a number.")
            }
            (Rejection::NoBody | Rejection::EmptyBody, Surface::Get) => {
                "Parameter 'body' is required".into()
            }
            (Rejection::BodyTooLong { limit }, Surface::Get) => {
                format!(
                    "Parameter 'body' contains an invalid value: it is longer than {limit} characters"
                )
            }
            (Rejection::Unroutable, _) => "Message is unrouteable.".into(),
            (other, _) => other.details(),
        };
        error_line(&text)
    }
}

fn rich_content_text(error: &RichContentError) -> String {
    let path = &error.path;
    match &error.rule {
        RichRule::NotAnArray => format!("{path} must be an array"),
        RichRule::EmptyPart => {
            format!("{path} must contain text, media, location, contacts, template or interactive")
        }
        RichRule::Required => format!("{path} is required"),
        RichRule::UnsupportedMediaType(mime) => {
            format!("{path} '{mime}' is not a supported media type")
        }
        RichRule::NoPlace => {
            format!("{path} needs a searchQuery or both latitude and longitude")
        }
        RichRule::InvalidCoordinate { coordinate, value } => {
            format!("{path} '{value}' is not a valid {}", coordinate.name())
        }
        RichRule::NoContacts => format!("{path} must hold at least one contact"),
        RichRule::InvalidLanguagePolicy(policy) => {
            format!("{path} '{policy}' must be 'fallback' or 'deterministic'")
        }
        RichRule::TooManySuggestions { count, limit } => {
            format!("{path} has {count} suggestions; at most {limit} are allowed")
        }
        RichRule::RequiredForAction(action) => {
            format!("{path} is required for action {action}")
        }
        RichRule::CalendarNeedsTimes => format!("{path} needs startTime and endTime"),
        RichRule::UnknownAction(action) => format!(
            "{path} '{action}' must be OpenUrl, CreateCalendarEvent, Dial, ViewLocation or Reply"
        ),
        RichRule::NotAViberCombination => format!(
            "{path} is not a combination Viber supports: text; image; text and button; or text, image and button (one OpenUrl suggestion)"
        ),
    }
}

/// Why a conversion (`POST /v1.0/conversion`) was refused. Its answers are plain text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.text())]
pub enum ConversionError {
    /// No usable credentials.
    Unauthenticated,
    /// A product token that is not a GUID.
    InvalidProductToken,
    /// A product token of no account.
    NoAccount,
    /// Customer/login/password credentials, which Tern does not offer.
    LoginAuthentication,
    /// The body is not valid JSON.
    InvalidJson,
    /// The XML body could not be read (why, as the submission API says it).
    UnreadableXml(RequestError),
    /// A required field is absent (its name as the API spells it).
    MissingField(&'static str),
    /// `ConvertedTimestamp` is not a time (as sent).
    InvalidTimestamp(String),
    /// No message of the account has that reference and number.
    NoSuchMessage {
        reference: String,
        recipient: String,
    },
    /// Anything unexpected; the cause is logged, never shown.
    Unknown,
}

impl ConversionError {
    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            ConversionError::Unauthenticated => 401,
            ConversionError::InvalidProductToken
            | ConversionError::NoAccount
            | ConversionError::LoginAuthentication => 403,
            ConversionError::InvalidJson
            | ConversionError::UnreadableXml(_)
            | ConversionError::MissingField(_)
            | ConversionError::InvalidTimestamp(_) => 400,
            ConversionError::NoSuchMessage { .. } => 404,
            ConversionError::Unknown => 500,
        }
    }

    /// The plain-text answer.
    pub fn text(&self) -> String {
        match self {
            ConversionError::Unauthenticated => "a product token is required".into(),
            ConversionError::InvalidProductToken => RequestError::InvalidProductToken.details(),
            ConversionError::NoAccount => RequestError::NoAccount.details(),
            ConversionError::LoginAuthentication => {
                "Customer/Login/Password authentication is not available in Tern: use a product token".into()
            }
            ConversionError::InvalidJson => RequestError::InvalidJson.details(),
            ConversionError::UnreadableXml(error) => error.details(),
            ConversionError::MissingField(field) => format!("{field} is required"),
            ConversionError::InvalidTimestamp(text) => format!(
                "ConvertedTimestamp '{text}' is not a time such as 2026-11-25T10:00:00 or 2026-11-25T09:00:00Z"
            ),
            ConversionError::NoSuchMessage {
                reference,
                recipient,
            } => format!("no message with reference '{reference}' was sent to {recipient}"),
            ConversionError::Unknown => "Unknown error".into(),
        }
    }
}

/// Why a message-log query (`GET /v1.0/messages`) was refused. Its answers are CM's JSON error
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageLogError {
    /// The product token is missing, malformed or of no account.
    Unauthenticated(RequestError),
    /// A query parameter given more than once (its name).
    RepeatedParameter(String),
    /// `status` is no delivery state (as sent).
    InvalidStatus(String),
    /// `since` is not an RFC 3339 time (as sent).
    InvalidSince(String),
    /// `until` is not an RFC 3339 time (as sent).
    InvalidUntil(String),
    /// `after` is not a message id (as sent).
    InvalidAfter(String),
    /// `limit` is not a number in 1..=`max`.
    InvalidLimit { max: usize },
    /// A method other than GET.
    MethodNotAllowed,
    /// Anything unexpected; the cause is logged, never shown.
    Unknown,
}

impl MessageLogError {
    /// CM's `errorCode`.
    pub fn code(&self) -> u32 {
        match self {
            MessageLogError::Unauthenticated(error) => error.code(),
            MessageLogError::Unknown => RequestError::Unknown.code(),
            _ => 202,
        }
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            MessageLogError::Unauthenticated(RequestError::Unknown) | MessageLogError::Unknown => {
                500
            }
            MessageLogError::Unauthenticated(_) => 401,
            MessageLogError::MethodNotAllowed => 405,
            _ => 400,
        }
    }

    /// The `details` text.
    pub fn details(&self) -> String {
        match self {
            MessageLogError::Unauthenticated(error) => error.details(),
            MessageLogError::RepeatedParameter(name) => format!("{name} is given more than once"),
            MessageLogError::InvalidStatus(text) => format!(
                "status '{text}' must be one of queued, sent, accepted, delivered, read, failed, rejected, expired, cancelled"
            ),
            MessageLogError::InvalidSince(text) => {
                format!("since '{text}' must be an RFC 3339 time such as 2026-11-25T10:00:00Z")
            }
            MessageLogError::InvalidUntil(text) => {
                format!("until '{text}' must be an RFC 3339 time such as 2026-11-25T11:00:00Z")
            }
            MessageLogError::InvalidAfter(text) => format!("after '{text}' is not a message id"),
            MessageLogError::InvalidLimit { max } => format!("limit must be between 1 and {max}"),
            MessageLogError::MethodNotAllowed => "Use HTTP GET to read the message log".into(),
            MessageLogError::Unknown => RequestError::Unknown.details(),
        }
    }
}

/// The standard error codes of the spec's Errors table (5-37) a status report carries, with
/// their descriptions. Codes the table skips (6, 9-19, 32) have no variant. Configuration names
/// one by its number (e.g. a simulator rule's `error_code = 24`); a number the table lacks is
/// refused there, with [`UnknownDeliveryError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "u16")]
#[repr(u16)]
pub enum DeliveryError {
    NotDeliveredAtThirdParty = 5,
    InsufficientCreditAtOperator = 7,
    ExpiredAtThirdParty = 8,
    MalformedRequest = 20,
    ExpiredAtOperator = 21,
    RecipientInsufficientCredit = 22,
    IncorrectRecipientNumber = 23,
    RecipientUnreachable = 24,
    NotDeliveredAtThirdPartyOther = 25,
    TemporaryHandsetIssue = 26,
    PermanentHandsetIssue = 27,
    Throttled = 28,
    ContentNotPermitted = 29,
    SpendLimitReached = 30,
    PremiumSuspended = 31,
    ParentalLock = 33,
    AgeCheckFailed = 34,
    AgeCheckMissing = 35,
    AgeCheckUnavailable = 36,
    DoNotCallRegister = 37,
}

/// A number that is not one of the spec's standard error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("error code {0} is not one of the spec's standard error codes (5, 7, 8, 20-31, 33-37)")]
pub struct UnknownDeliveryError(pub u16);

impl TryFrom<u16> for DeliveryError {
    type Error = UnknownDeliveryError;
    fn try_from(code: u16) -> Result<Self, Self::Error> {
        DeliveryError::from_code(code).ok_or(UnknownDeliveryError(code))
    }
}

impl DeliveryError {
    /// Every code of the table, in order.
    pub const ALL: [DeliveryError; 20] = [
        DeliveryError::NotDeliveredAtThirdParty,
        DeliveryError::InsufficientCreditAtOperator,
        DeliveryError::ExpiredAtThirdParty,
        DeliveryError::MalformedRequest,
        DeliveryError::ExpiredAtOperator,
        DeliveryError::RecipientInsufficientCredit,
        DeliveryError::IncorrectRecipientNumber,
        DeliveryError::RecipientUnreachable,
        DeliveryError::NotDeliveredAtThirdPartyOther,
        DeliveryError::TemporaryHandsetIssue,
        DeliveryError::PermanentHandsetIssue,
        DeliveryError::Throttled,
        DeliveryError::ContentNotPermitted,
        DeliveryError::SpendLimitReached,
        DeliveryError::PremiumSuspended,
        DeliveryError::ParentalLock,
        DeliveryError::AgeCheckFailed,
        DeliveryError::AgeCheckMissing,
        DeliveryError::AgeCheckUnavailable,
        DeliveryError::DoNotCallRegister,
    ];

    /// The numeric code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// From the numeric code (as connectors still hand it over); `None` for a code the spec's
    /// table does not have.
    pub fn from_code(code: u16) -> Option<DeliveryError> {
        DeliveryError::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The spec's short description, which a report carries.
    pub fn description(self) -> &'static str {
        match self {
            DeliveryError::NotDeliveredAtThirdParty
            | DeliveryError::NotDeliveredAtThirdPartyOther => {
                "Message not delivered at third party"
            }
            DeliveryError::InsufficientCreditAtOperator
            | DeliveryError::RecipientInsufficientCredit => {
                "Message not delivered at operator because recipient has insufficient credit"
            }
            DeliveryError::ExpiredAtThirdParty => "Message expired at third party",
            DeliveryError::MalformedRequest => {
                "Message not delivered because of a malformed request"
            }
            DeliveryError::ExpiredAtOperator => "Message expired at operator",
            DeliveryError::IncorrectRecipientNumber => {
                "Message not delivered because of an incorrect recipient number (invalid/blacklisted/barred)"
            }
            DeliveryError::RecipientUnreachable => {
                "Message not delivered because the recipient was unreachable"
            }
            DeliveryError::TemporaryHandsetIssue => {
                "Message not delivered because of a temporary handset issue (sim card full/memory exceeded/SME busy)"
            }
            DeliveryError::PermanentHandsetIssue => {
                "Message not delivered because of a permanent handset issue (unable to receive SMS)"
            }
            DeliveryError::Throttled => {
                "Message not delivered because submission speed is too high (throttling errors)"
            }
            DeliveryError::ContentNotPermitted => {
                "Message not delivered because content is not permitted"
            }
            DeliveryError::SpendLimitReached => {
                "Message not delivered because the set spend limit is reached"
            }
            DeliveryError::PremiumSuspended => {
                "Message not delivered because the recipient was suspended from premium services"
            }
            DeliveryError::ParentalLock => "Message not delivered because of parental lock",
            DeliveryError::AgeCheckFailed => "Message not delivered because age check failure",
            DeliveryError::AgeCheckMissing => "Message not delivered because age check missing",
            DeliveryError::AgeCheckUnavailable => {
                "Message not delivered because age check unavailable"
            }
            DeliveryError::DoNotCallRegister => {
                "Message not delivered because recipient is in national Do-Not-Call Register (for example, the Dutch SMS DienstenFilter and Chinese DnD list)"
            }
        }
    }
}
#[cfg(test)]
mod tests;
