//! Parsing CM's JSON `POST /v1.0/message` body into a [`SubmitRequest`]. Keys are matched without
//! case at every level, unknown fields are ignored and `null` counts as absent, as the official
//! SDKs require (the .NET SDK sends `$type` fields and explicit nulls).

use serde_json::{Map, Value};

use crate::cm::json_ci::{get, scalar_text};
use crate::cm::rich::RichContent;
use crate::cm::submission::{Field, SubmitRequest, SubmittedBody, SubmittedMsg, WrongType};

/// The body is not JSON, or its top level is not an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid JSON")]
pub struct InvalidJson;

/// Parse a submit request. Only syntax errors and a non-object top level fail here; everything
/// else is carried in the returned fields for the domain to judge.
pub fn parse_submit(body: &[u8]) -> Result<SubmitRequest, InvalidJson> {
    // Some Windows clients start UTF-8 bodies with a byte-order mark; it is not JSON, but harmless.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let root: Value = serde_json::from_slice(body).map_err(|_| InvalidJson)?;
    let root = root.as_object().ok_or(InvalidJson)?;
    let messages = get(root, "messages").and_then(Value::as_object);
    let product_token = messages
        .and_then(|m| get(m, "authentication"))
        .and_then(|a| a.as_object())
        .and_then(|a| get(a, "producttoken"))
        .and_then(scalar_text);
    let msg_list = match messages.and_then(|m| get(m, "msg")) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.iter().map(parse_msg).collect())),
        Some(_) => Err(WrongType {
            field: "msg",
            expected: "array",
        }),
    };
    Ok(SubmitRequest {
        product_token,
        messages: msg_list,
    })
}

fn parse_msg(value: &Value) -> SubmittedMsg {
    let empty = Map::new();
    let msg = value.as_object().unwrap_or(&empty);
    let rich = get(msg, "richcontent");
    SubmittedMsg {
        from: text_field(msg, "from"),
        to: to_field(msg),
        body: body_field(msg),
        reference: text_field(msg, "reference"),
        custom_groupings: [
            text_field(msg, "customgrouping"),
            text_field(msg, "customgrouping2"),
            text_field(msg, "customgrouping3"),
        ],
        validity: text_field(msg, "validity"),
        allowed_channels: channels_field(msg),
        app_key: text_field(msg, "appkey"),
        dcs: integer_field(msg, "dcs"),
        minimum_parts: integer_field(msg, "minimumnumberofmessageparts"),
        maximum_parts: integer_field(msg, "maximumnumberofmessageparts"),
        rich_content: match rich {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(RichContent::from_json(value))),
            Some(_) => Err(WrongType {
                field: "richContent",
                expected: "object",
            }),
        },
        rich_content_json: rich.map(Value::to_string),
    }
}

/// A text field; numbers and booleans are taken as their text.
fn text_field(object: &Map<String, Value>, key: &'static str) -> Field<String> {
    match get(object, key) {
        None => Ok(None),
        Some(value) => scalar_text(value).map(Some).ok_or(WrongType {
            field: key,
            expected: "string",
        }),
    }
}

fn integer_field(object: &Map<String, Value>, key: &'static str) -> Field<i64> {
    let wrong = WrongType {
        field: key,
        expected: "integer",
    };
    match get(object, key) {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_i64().map(Some).ok_or(wrong),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => text.trim().parse().map(Some).map_err(|_| wrong),
        Some(_) => Err(wrong),
    }
}

fn to_field(msg: &Map<String, Value>) -> Field<Vec<Field<String>>> {
    match get(msg, "to") {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(recipient) => text_field(recipient, "number"),
                    Value::Null => Ok(None),
                    // A bare string or number is what a client means as the number.
                    other => scalar_text(other).map(Some).ok_or(WrongType {
                        field: "number",
                        expected: "string",
                    }),
                })
                .collect(),
        )),
        Some(_) => Err(WrongType {
            field: "to",
            expected: "array",
        }),
    }
}

fn body_field(msg: &Map<String, Value>) -> Field<SubmittedBody> {
    match get(msg, "body") {
        None => Ok(None),
        Some(Value::Object(body)) => Ok(Some(SubmittedBody {
            content: text_field(body, "content"),
            body_type: text_field(body, "type"),
        })),
        Some(_) => Err(WrongType {
            field: "body",
            expected: "object",
        }),
    }
}

fn channels_field(msg: &Map<String, Value>) -> Field<Vec<String>> {
    let wrong = WrongType {
        field: "allowedChannels",
        expected: "array",
    };
    match get(msg, "allowedchannels") {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .filter(|item| !item.is_null())
            .map(|item| item.as_str().map(str::to_owned).ok_or(wrong.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_sdk_request_parses() {
        let body = br#"{"messages":{"authentication":{"producttoken":"t"},"msg":[{"allowedChannels":["SMS"],"from":"TestSender",
         "to":[{"number":"0031612345678"}],"body":{"type":"AUTO","content":"Hello"},"reference":"ref1",
         "customGrouping3":"text-sdk-python-2.0.4"}]}}"#;
        let request = parse_submit(body).unwrap();
        assert_eq!(request.product_token.as_deref(), Some("t"));
        let msgs = request.messages.unwrap().unwrap();
        let msg = &msgs[0];
        assert_eq!(msg.from, Ok(Some("TestSender".into())));
        assert_eq!(msg.to, Ok(Some(vec![Ok(Some("0031612345678".into()))])));
        let body = msg.body.clone().unwrap().unwrap();
        assert_eq!(body.content, Ok(Some("Hello".into())));
        assert_eq!(body.body_type, Ok(Some("AUTO".into())));
        assert_eq!(
            msg.custom_groupings[2],
            Ok(Some("text-sdk-python-2.0.4".into()))
        );
        assert_eq!(msg.allowed_channels, Ok(Some(vec!["SMS".into()])));
    }

    #[test]
    fn wrong_types_are_reported_per_field() {
        let body = br#"{"Messages":{"Msg":[{"to":{"number":"1"},"body":"x","dcs":"8","allowedChannels":"SMS"}]}}"#;
        let msgs = parse_submit(body).unwrap().messages.unwrap().unwrap();
        assert_eq!(msgs[0].to.as_ref().unwrap_err().field, "to");
        assert_eq!(msgs[0].body.as_ref().unwrap_err().field, "body");
        assert_eq!(msgs[0].dcs, Ok(Some(8)));
        assert_eq!(
            msgs[0].allowed_channels.as_ref().unwrap_err().expected,
            "array"
        );
    }

    #[test]
    fn msg_must_be_an_array_and_syntax_errors_fail() {
        let request = parse_submit(br#"{"messages":{"msg":{}}}"#).unwrap();
        assert_eq!(request.messages.unwrap_err().field, "msg");
        assert_eq!(parse_submit(b"{"), Err(InvalidJson));
        assert_eq!(parse_submit(b"[]"), Err(InvalidJson));
        assert!(parse_submit(b"\xEF\xBB\xBF{}").is_ok());
        assert_eq!(parse_submit(br#"{}"#).unwrap().messages, Ok(None));
    }
}
