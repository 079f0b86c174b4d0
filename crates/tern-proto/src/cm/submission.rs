//! A submission as the client wrote it, independent of the surface it came in on (JSON, XML, GET).
//! Nothing is validated here beyond JSON types: the domain (`tern-core`) turns these into accepted
//! and rejected messages with CM's exact codes, so every surface shares one set of rules.

use crate::cm::rich::RichContent;

/// A field as found in the request: absent (or `null`), present, or present with the wrong type.
pub type Field<T> = Result<Option<T>, WrongType>;

/// A value of the wrong JSON type; `field` names it as the client spelled it in the docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// The documented field name, e.g. `to`.
    pub field: &'static str,
    /// What was expected: `array`, `object`, `string`, `integer`.
    pub expected: &'static str,
}

/// One submit request: the authentication and the `msg` list.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitRequest {
    /// `messages.authentication.productToken`, when present as text.
    pub product_token: Option<String>,
    /// `messages.msg`: absent, not an array, or its objects.
    pub messages: Field<Vec<SubmittedMsg>>,
}

/// One `msg` object.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmittedMsg {
    pub from: Field<String>,
    /// `to`: each element's `number` (an element that is not an object yields `Err`).
    pub to: Field<Vec<Field<String>>>,
    pub body: Field<SubmittedBody>,
    pub reference: Field<String>,
    /// `customGrouping`, `customGrouping2`, `customGrouping3`.
    pub custom_groupings: [Field<String>; 3],
    pub validity: Field<String>,
    /// `allowedChannels`: channel names as sent.
    pub allowed_channels: Field<Vec<String>>,
    pub app_key: Field<String>,
    /// `dcs` as an integer (a numeric string is accepted too).
    pub dcs: Field<i64>,
    pub minimum_parts: Field<i64>,
    pub maximum_parts: Field<i64>,
    pub rich_content: Field<RichContent>,
    /// The `richContent` JSON as sent, kept for connectors that forward it.
    pub rich_content_json: Option<String>,
}

/// The `body` object.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmittedBody {
    pub content: Field<String>,
    /// `type` as sent (`AUTO`, `TEXT`, `BINARY`, any case).
    pub body_type: Field<String>,
}

impl Default for SubmittedMsg {
    /// Every field absent; surfaces fill in what they carry.
    fn default() -> Self {
        SubmittedMsg {
            from: Ok(None),
            to: Ok(None),
            body: Ok(None),
            reference: Ok(None),
            custom_groupings: [Ok(None), Ok(None), Ok(None)],
            validity: Ok(None),
            allowed_channels: Ok(None),
            app_key: Ok(None),
            dcs: Ok(None),
            minimum_parts: Ok(None),
            maximum_parts: Ok(None),
            rich_content: Ok(None),
            rich_content_json: None,
        }
    }
}
