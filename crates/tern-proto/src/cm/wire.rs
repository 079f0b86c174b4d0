//! The JSON request bodies as typed wire structs: what the handlers deserialize into and what the
//! OpenAPI document is generated from. CM's keys are case-insensitive, so a body is parsed to a
//! JSON tree, its object keys are lower-cased ([`normalize_keys`]), and each field is matched by
//! its lower-case alias while the documented spelling stays its name. Every field is [`Lenient`]:
//! a value of the wrong type is remembered, not fatal, because CM judges each message on its own.
//! In the OpenAPI document each `Lenient<T>` field is documented as the optional `T` it carries.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A field that may be absent (or `null`), present, or present with the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Lenient<T> {
    #[default]
    Absent,
    Present(T),
    Wrong,
}

impl<T> Lenient<T> {
    /// `Ok(None)` when absent, `Ok(Some)` when present, `Err(wrong)` when of the wrong type.
    pub fn or_wrong<E>(self, wrong: E) -> Result<Option<T>, E> {
        match self {
            Lenient::Absent => Ok(None),
            Lenient::Present(value) => Ok(Some(value)),
            Lenient::Wrong => Err(wrong),
        }
    }

    /// The value when present and well-typed.
    pub fn ok(self) -> Option<T> {
        match self {
            Lenient::Present(value) => Some(value),
            Lenient::Absent | Lenient::Wrong => None,
        }
    }

    /// Whether the field was there at all (well-typed or not).
    pub fn is_present(&self) -> bool {
        !matches!(self, Lenient::Absent)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Lenient::Absent);
        }
        Ok(match T::deserialize(value) {
            Ok(parsed) => Lenient::Present(parsed),
            Err(_) => Lenient::Wrong,
        })
    }
}

/// Text: a JSON string, or a number or boolean taken as its text (clients send numbers where the
/// docs say strings, e.g. `"number": 31612345678`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Text(text)),
            Value::Number(number) => Ok(Text(number.to_string())),
            Value::Bool(flag) => Ok(Text(flag.to_string())),
            _ => Err(serde::de::Error::custom("expected text")),
        }
    }
}

/// An integer, or a string holding one (an empty string counts as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub Option<i64>);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let invalid = || serde::de::Error::custom("expected an integer");
        match Value::deserialize(deserializer)? {
            Value::Number(number) => number
                .as_i64()
                .map(|n| Integer(Some(n)))
                .ok_or_else(invalid),
            Value::String(text) if text.trim().is_empty() => Ok(Integer(None)),
            Value::String(text) => text
                .trim()
                .parse()
                .map(|n| Integer(Some(n)))
                .map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

/// Lower-case every object key of a JSON tree; where two keys differ only in case, the first wins.
pub fn normalize_keys(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut normalized = Map::with_capacity(object.len());
            for (key, child) in object {
                let key = key.to_ascii_lowercase();
                if !normalized.contains_key(&key) {
                    normalized.insert(key, normalize_keys(child));
                }
            }
            Value::Object(normalized)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

/// Body of `POST /v1.0/message`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct MessageRequest {
    #[serde(default)]
    #[schema(value_type = Option<Messages>)]
    pub messages: Lenient<Messages>,
}

/// `messages`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Messages {
    #[serde(default)]
    #[schema(value_type = Option<Authentication>)]
    pub authentication: Lenient<Authentication>,
    /// The messages to send: at most 100 per request, as the SDKs send them.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Msg>>)]
    pub msg: Lenient<Vec<Lenient<Msg>>>,
}

/// `messages.authentication`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Authentication {
    /// The account's product token (a GUID).
    #[serde(default, rename = "productToken", alias = "producttoken")]
    #[schema(value_type = Option<String>)]
    pub product_token: Lenient<Text>,
}

/// One `msg` object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Msg {
    /// Sender: at most 11 characters, or 16 digits.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub from: Lenient<Text>,
    /// Recipients: at most 1000.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RecipientEntry>>)]
    pub to: Lenient<Vec<Lenient<RecipientEntry>>>,
    #[serde(default)]
    #[schema(value_type = Option<Body>)]
    pub body: Lenient<Body>,
    /// 1-32 letters, digits, `-` or `_`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reference: Lenient<Text>,
    #[serde(default, rename = "customGrouping", alias = "customgrouping")]
    #[schema(value_type = Option<String>)]
    pub custom_grouping: Lenient<Text>,
    #[serde(default, rename = "customGrouping2", alias = "customgrouping2")]
    #[schema(value_type = Option<String>)]
    pub custom_grouping2: Lenient<Text>,
    #[serde(default, rename = "customGrouping3", alias = "customgrouping3")]
    #[schema(value_type = Option<String>)]
    pub custom_grouping3: Lenient<Text>,
    /// `2017-04-20 11:50:05 GMT`, `…+8`, `…-07:00`, no zone (CE(S)T), `2h`, `30m`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub validity: Lenient<Text>,
    /// Channels in fallback order: SMS, WhatsApp, RCS, Viber, Push (any case). Absent: SMS.
    #[serde(default, rename = "allowedChannels", alias = "allowedchannels")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_channels: Lenient<Vec<Option<String>>>,
    /// Required for the Push channel.
    #[serde(default, rename = "appKey", alias = "appkey")]
    #[schema(value_type = Option<String>)]
    pub app_key: Lenient<Text>,
    /// Data coding scheme: 0 GSM (default), 8 UCS2.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub dcs: Lenient<Integer>,
    #[serde(
        default,
        rename = "minimumNumberOfMessageParts",
        alias = "minimumnumberofmessageparts"
    )]
    #[schema(value_type = Option<i64>)]
    pub minimum_number_of_message_parts: Lenient<Integer>,
    #[serde(
        default,
        rename = "maximumNumberOfMessageParts",
        alias = "maximumnumberofmessageparts"
    )]
    #[schema(value_type = Option<i64>)]
    pub maximum_number_of_message_parts: Lenient<Integer>,
    #[serde(default, rename = "richContent", alias = "richcontent")]
    #[schema(value_type = Option<crate::cm::rich::RichContentWire>)]
    pub rich_content: Lenient<crate::cm::rich::RichContentWire>,
}

/// A recipient: `{"number": "0031612345678"}` (a bare string or number is taken as the number).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RecipientEntry {
    Object(Recipient),
    #[schema(value_type = String)]
    Bare(Text),
}

/// `to[]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Recipient {
    /// `00` + country code + number, or `+` + country code + number.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub number: Lenient<Text>,
}

/// `body`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct Body {
    /// The text (may be empty when richContent carries the message).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub content: Lenient<Text>,
    /// `AUTO`, `TEXT` or `BINARY` (any case).
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<String>)]
    pub body_type: Lenient<Text>,
}

/// Body of `POST /v1.0/conversion` (JSON).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, ToSchema)]
pub struct ConversionBody {
    #[serde(default, rename = "ProductToken", alias = "producttoken")]
    #[schema(value_type = Option<String>)]
    pub product_token: Lenient<Text>,
    /// The recipient's number.
    #[serde(default, rename = "Msisdn", alias = "msisdn")]
    #[schema(value_type = Option<String>)]
    pub msisdn: Lenient<Text>,
    /// The message's reference.
    #[serde(default, rename = "Reference", alias = "reference")]
    #[schema(value_type = Option<String>)]
    pub reference: Lenient<Text>,
    /// When the recipient converted: `2026-11-25T10:00:00` (CE(S)T) or with a zone.
    #[serde(default, rename = "ConvertedTimestamp", alias = "convertedtimestamp")]
    #[schema(value_type = Option<String>)]
    pub converted_timestamp: Lenient<Text>,
    /// Customer/Login/Password authentication is not offered by Tern.
    #[serde(default, rename = "Customer", alias = "customer")]
    #[schema(value_type = Option<String>)]
    pub customer: Lenient<Text>,
    #[serde(default, rename = "Login", alias = "login")]
    #[schema(value_type = Option<String>)]
    pub login: Lenient<Text>,
}
