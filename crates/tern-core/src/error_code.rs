//! The one table of CM error codes, HTTP statuses and texts. Every surface answers from here; no
//! error text is built at a call site (as Meilisearch keeps its error codes in one place).

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
    /// The body is not valid JSON.
    InvalidJson,
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
            RequestError::NoMsg | RequestError::MsgNotArray => 203,
            RequestError::InvalidJson | RequestError::BodyTooLarge { .. } => 202,
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
            RequestError::InvalidJson => "Invalid JSON".into(),
            RequestError::BodyTooLarge { limit_bytes } => {
                format!("Request body too large: the limit is {limit_bytes} bytes")
            }
            RequestError::Unknown => "Unknown Error".into(),
        }
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
            Rejection::NoBody | Rejection::EmptyBody | Rejection::InvalidBody(_) => 304,
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
            Rejection::Unroutable => "Message is unroutable.".into(),
            Rejection::InvalidField(why) => why.clone(),
        }
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
    }
}
