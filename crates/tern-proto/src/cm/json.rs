//! Parsing CM's JSON `POST /v1.0/message` body into a [`SubmitRequest`] through the typed wire
//! structs of [`crate::cm::wire`] (read in one pass by [`crate::cm::wire_stream`]). Keys are matched without case at every level, unknown fields
//! are ignored and `null` counts as absent, as the official SDKs require (the .NET SDK sends
//! `$type` fields and explicit nulls).

use crate::cm::rich::RichContent;
use crate::cm::submission::{Field, SubmitRequest, SubmittedBody, SubmittedMsg, WrongType};
use crate::cm::wire::{Integer, Lenient, MessageRequest, Msg, RecipientEntry, Text};
use crate::cm::wire_stream;

/// The body is not JSON, or its top level is not an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid JSON")]
pub struct InvalidJson;

/// Parse a submit request. Only syntax errors and a non-object top level fail here; everything
/// else is carried in the returned fields for the domain to judge.
pub fn parse_submit(body: &[u8]) -> Result<SubmitRequest, InvalidJson> {
    // Some Windows clients start UTF-8 bodies with a byte-order mark; it is not JSON, but harmless.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let parsed = wire_stream::parse_message_request(body).map_err(|_| InvalidJson)?;
    Ok(from_wire(parsed.request, parsed.rich_originals))
}

/// The domain's view of a request read into its wire structs.
fn from_wire(request: MessageRequest, rich_originals: Vec<Option<String>>) -> SubmitRequest {
    let messages = request.messages.ok().unwrap_or_default();
    let product_token = messages
        .authentication
        .ok()
        .and_then(|a| a.product_token.ok())
        .map(|t| t.0);
    let msg_list = match messages.msg {
        Lenient::Absent => Ok(None),
        Lenient::Wrong => Err(WrongType {
            field: "msg",
            expected: "array",
        }),
        Lenient::Present(items) => Ok(Some(
            items
                .into_iter()
                .enumerate()
                .map(|(index, msg)| {
                    let original = rich_originals.get(index).cloned().flatten();
                    submitted(msg.ok().unwrap_or_default(), original)
                })
                .collect(),
        )),
    };
    SubmitRequest {
        product_token,
        messages: msg_list,
    }
}

fn field<T>(value: Lenient<T>, name: &'static str, expected: &'static str) -> Field<T> {
    value.or_wrong(WrongType {
        field: name,
        expected,
    })
}

fn text(value: Lenient<Text>, name: &'static str) -> Field<String> {
    field(value, name, "string").map(|t| t.map(|t| t.0))
}

fn integer(value: Lenient<Integer>, name: &'static str) -> Field<i64> {
    field(value, name, "integer").map(|i| i.and_then(|i| i.0))
}

fn submitted(msg: Msg, rich_content_json: Option<String>) -> SubmittedMsg {
    SubmittedMsg {
        from: text(msg.from, "from"),
        to: field(msg.to, "to", "array").map(|list| {
            list.map(|entries| {
                entries
                    .into_iter()
                    .map(|entry| match entry {
                        Lenient::Absent => Ok(None),
                        Lenient::Wrong => Err(WrongType {
                            field: "number",
                            expected: "string",
                        }),
                        Lenient::Present(RecipientEntry::Bare(number)) => Ok(Some(number.0)),
                        Lenient::Present(RecipientEntry::Object(recipient)) => {
                            text(recipient.number, "number")
                        }
                    })
                    .collect()
            })
        }),
        body: field(msg.body, "body", "object").map(|body| {
            body.map(|body| SubmittedBody {
                content: text(body.content, "content"),
                body_type: text(body.body_type, "type"),
            })
        }),
        reference: text(msg.reference, "reference"),
        custom_groupings: [
            text(msg.custom_grouping, "customGrouping"),
            text(msg.custom_grouping2, "customGrouping2"),
            text(msg.custom_grouping3, "customGrouping3"),
        ],
        validity: text(msg.validity, "validity"),
        allowed_channels: field(msg.allowed_channels, "allowedChannels", "array")
            .map(|names| names.map(|names| names.into_iter().flatten().collect())),
        app_key: text(msg.app_key, "appKey"),
        dcs: integer(msg.dcs, "dcs"),
        minimum_parts: integer(
            msg.minimum_number_of_message_parts,
            "minimumNumberOfMessageParts",
        ),
        maximum_parts: integer(
            msg.maximum_number_of_message_parts,
            "maximumNumberOfMessageParts",
        ),
        rich_content: field(msg.rich_content, "richContent", "object")
            .map(|rich| rich.map(RichContent::from)),
        rich_content_json,
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
