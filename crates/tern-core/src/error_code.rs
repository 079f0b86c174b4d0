//! The one table of CM error codes, HTTP statuses and texts. Every surface answers from here; no
//! error text is built at a call site (as Meilisearch keeps its error codes in one place).

use crate::channel::Channel;

/// The interface a request came in on. JSON answers per message; XML and GET are all-or-nothing
/// and answer one plain-text line, `Error: ERROR <text>`, with texts of their own tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Json,
    Xml,
    Get,
}

/// The plain-text answer of the XML and GET interfaces.
fn error_line(text: &str) -> String {
    format!("Error: ERROR {text}")
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
    /// The body is not acceptable XML (the reason).
    InvalidXml(String),
    /// The body exceeds the configured limit (bytes).
    BodyTooLarge { limit_bytes: usize },
    /// Anything unexpected; the cause is logged, never shown.
    Unknown,
}

impl RequestError {
    /// CM's `errorCode`.
    pub fn code(&self) -> u32 {
        match self {
            RequestError::NoAccount => 101,
            RequestError::InvalidProductToken => 103,
            RequestError::InsufficientBalance => 102,
            RequestError::Unroutable => 203,
            RequestError::NoMsg
            | RequestError::MsgNotArray
            | RequestError::TooManyMsgs { .. }
            | RequestError::TooManyRecipients { .. } => 203,
            RequestError::InvalidJson
            | RequestError::InvalidXml(_)
            | RequestError::BodyTooLarge { .. } => 202,
            RequestError::Unknown => 999,
        }
    }

    /// The HTTP status of the JSON API.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::Unknown => 500,
            RequestError::BodyTooLarge { .. } => 413,
            _ => 400,
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
            RequestError::InvalidXml(why) => format!("Invalid XML: {why}"),
            RequestError::BodyTooLarge { limit_bytes } => {
                format!("Request body too large: the limit is {limit_bytes} bytes")
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
    /// `body` is absent.
    NoBody,
    /// `body.content` is absent or empty.
    EmptyBody,
    /// `body` is present but unusable (e.g. BINARY content that is not hex).
    InvalidBody(String),
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
    /// No allowed channel is enabled for the account.
    Unroutable,
    /// Any other field that breaks a rule; the text names the field and the rule.
    InvalidField(String),
}

impl Rejection {
    /// CM's `messageErrorCode`.
    pub fn code(&self) -> u32 {
        match self {
            Rejection::NoFrom | Rejection::InvalidFrom => 301,
            Rejection::EmptyNumber | Rejection::NotAnArray("to") => 302,
            Rejection::NotANumber(_) => 303,
            Rejection::NoBody
            | Rejection::EmptyBody
            | Rejection::InvalidBody(_)
            | Rejection::BodyTooLong { .. }
            | Rejection::TextTooLong { .. }
            | Rejection::PayloadTooLarge { .. } => 304,
            Rejection::NotAnArray(_) | Rejection::Unroutable | Rejection::InvalidField(_) => 305,
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
            Rejection::NoBody => "No body field was found".into(),
            Rejection::EmptyBody => "A body without content was found".into(),
            Rejection::InvalidBody(why) => why.clone(),
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
            Rejection::Unroutable => "Message is unroutable.".into(),
            Rejection::InvalidField(why) => why.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_texts_follow_the_spec_tables() {
        assert_eq!(RequestError::NoAccount.code(), 101);
        assert_eq!(RequestError::InvalidProductToken.code(), 103);
        assert_eq!(RequestError::Unknown.http_status(), 500);
        assert_eq!(RequestError::Unknown.details(), "Unknown Error");
        assert_eq!(
            Rejection::NotANumber("0044a".into()).details(),
            "Gsm '0044a' is not a number."
        );
        assert_eq!(Rejection::NotAnArray("to").code(), 302);
        assert_eq!(
            Rejection::NotAnArray("to").details(),
            "to object is an invalid type, must be an array"
        );
        assert_eq!(Rejection::EmptyBody.code(), 304);
        assert_eq!(RequestError::TooManyMsgs { limit: 1000 }.code(), 203);
        assert_eq!(
            RequestError::TooManyRecipients { limit: 5 }.details(),
            "Too many recipients: one request can carry up to 5"
        );
        assert_eq!(
            Rejection::TextTooLong {
                channel: Channel::WhatsApp,
                limit_chars: 4096
            }
            .details(),
            "The text is longer than the 4096 characters the WhatsApp channel carries"
        );
    }

    #[test]
    fn plain_text_follows_the_xml_and_get_tables() {
        assert_eq!(
            RequestError::NoAccount.plain_text(Surface::Xml, None),
            "Error: ERROR No account found for the given authentication"
        );
        assert_eq!(
            RequestError::InvalidProductToken.plain_text(Surface::Get, Some("abc")),
            "Error: ERROR Parameter 'producttoken' contains an invalid value: 'abc'"
        );
        assert_eq!(
            RequestError::NoMsg.plain_text(Surface::Xml, None),
            "Error: ERROR A MESSAGES node requires at least one MSG node"
        );
        assert_eq!(
            Rejection::NoFrom.plain_text(Surface::Xml),
            "Error: ERROR No FROM field found in a MSG node."
        );
        assert_eq!(
            Rejection::NoFrom.plain_text(Surface::Get),
            "Error: ERROR No sender name provided"
        );
        assert_eq!(
            Rejection::NotANumber("12a".into()).plain_text(Surface::Xml),
            "Error: ERROR Rejected: Gsm '12a' is not a number."
        );
        assert_eq!(
            Rejection::NotANumber("12a".into()).plain_text(Surface::Get),
            "Error: ERROR Parameter 'to' contains an invalid value: '12a'"
        );
        assert_eq!(
            Rejection::EmptyBody.plain_text(Surface::Get),
            "Error: ERROR Parameter 'body' is required"
        );
        assert_eq!(
            Rejection::Unroutable.plain_text(Surface::Xml),
            "Error: ERROR Message is unrouteable."
        );
    }
}
