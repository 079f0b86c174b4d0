//! CM's XML interface (`POST /gateway.ashx`): `MESSAGES / AUTHENTICATION / PRODUCTTOKEN` and `MSG`
//! elements, mapped into the same [`SubmitRequest`] the JSON interface produces, so one set of
//! rules judges both. Element names are matched without case.

use crate::cm::submission::{Field, SubmitRequest, SubmittedBody, SubmittedMsg, WrongType};
use crate::cm::xml_tree::{Element, XmlError, fields, parse};

/// The product token of an XML submit request, read without building the element tree: a
/// request can be authenticated before anything large is built. The same document parsed by
/// [`parse_submit`] has the same token, and the same documents are refused.
pub fn product_token(text: &str) -> Result<Option<String>, XmlError> {
    let found = fields(text, &[&["AUTHENTICATION", "PRODUCTTOKEN"]])?;
    if !found.root.eq_ignore_ascii_case("MESSAGES") {
        return Ok(None);
    }
    Ok(found
        .texts
        .into_iter()
        .next()
        .flatten()
        .map(|token| token.trim().to_owned()))
}

/// Parse an XML submit request.
pub fn parse_submit(text: &str) -> Result<SubmitRequest, XmlError> {
    let root = parse(text)?;
    if !root.name.eq_ignore_ascii_case("MESSAGES") {
        return Ok(SubmitRequest {
            product_token: None,
            messages: Ok(None),
        });
    }
    let product_token = root
        .child("AUTHENTICATION")
        .and_then(|auth| auth.child("PRODUCTTOKEN"))
        .map(|token| token.text.trim().to_owned());
    let msgs: Vec<SubmittedMsg> = root.children_named("MSG").map(parse_msg).collect();
    Ok(SubmitRequest {
        product_token,
        messages: Ok((!msgs.is_empty()).then_some(msgs)),
    })
}

fn text(msg: &Element, name: &str) -> Field<String> {
    Ok(msg
        .child(name)
        .map(|element| element.text.trim().to_owned()))
}

fn integer(msg: &Element, name: &'static str) -> Field<i64> {
    match msg.child(name).map(|element| element.text.trim()) {
        None | Some("") => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| WrongType {
            field: name,
            expected: "integer",
        }),
    }
}

fn parse_msg(msg: &Element) -> SubmittedMsg {
    let to: Vec<Field<String>> = msg
        .children_named("TO")
        .map(|to| Ok(Some(to.text.trim().to_owned())))
        .collect();
    // ALLOWEDCHANNELS (repeated or comma-separated) restricts routing; CHANNEL is used otherwise.
    let mut channels: Vec<String> = msg
        .children_named("ALLOWEDCHANNELS")
        .flat_map(|element| {
            element
                .text
                .split(',')
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    if channels.is_empty() {
        channels = msg
            .children_named("CHANNEL")
            .map(|element| element.text.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
    }
    SubmittedMsg {
        from: text(msg, "FROM"),
        to: Ok((!to.is_empty()).then_some(to)),
        body: Ok(msg.child("BODY").map(|body| SubmittedBody {
            content: Ok(Some(body.text.clone())),
            body_type: Ok(body.attribute("TYPE").map(str::to_owned)),
        })),
        reference: text(msg, "REFERENCE"),
        custom_groupings: [
            text(msg, "CUSTOMGROUPING"),
            text(msg, "CUSTOMGROUPING2"),
            text(msg, "CUSTOMGROUPING3"),
        ],
        validity: text(msg, "VALIDITY"),
        allowed_channels: Ok((!channels.is_empty()).then_some(channels)),
        app_key: text(msg, "APPKEY"),
        dcs: integer(msg, "DCS"),
        minimum_parts: integer(msg, "MINIMUMNUMBEROFMESSAGEPARTS"),
        maximum_parts: integer(msg, "MAXIMUMNUMBEROFMESSAGEPARTS"),
        rich_content: Ok(None),
        rich_content_json: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_with_repeated_to_and_body_type() {
        let request = parse_submit(
            r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION><PRODUCTTOKEN> t </PRODUCTTOKEN></AUTHENTICATION>
  <MSG><CHANNEL>SMS</CHANNEL><FROM>SenderName</FROM><TO>00447911123456</TO><TO>00447911123457</TO>
    <DCS>8</DCS><BODY TYPE="AUTO">Κείμενο</BODY><ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS></MSG>
</MESSAGES>"#,
        )
        .unwrap();
        assert_eq!(request.product_token.as_deref(), Some("t"));
        let msgs = request.messages.unwrap().unwrap();
        assert_eq!(msgs[0].from, Ok(Some("SenderName".into())));
        assert_eq!(msgs[0].to.clone().unwrap().unwrap().len(), 2);
        let body = msgs[0].body.clone().unwrap().unwrap();
        assert_eq!(body.content, Ok(Some("Κείμενο".into())));
        assert_eq!(body.body_type, Ok(Some("AUTO".into())));
        assert_eq!(msgs[0].dcs, Ok(Some(8)));
        assert_eq!(msgs[0].allowed_channels, Ok(Some(vec!["Push".into()])));
    }

    #[test]
    fn product_token_read_alone_is_the_parsed_one() {
        for document in [
            "<MESSAGES><AUTHENTICATION><PRODUCTTOKEN> t </PRODUCTTOKEN></AUTHENTICATION></MESSAGES>",
            "<messages><msg/><authentication><producttoken>a&amp;b<![CDATA[c]]></producttoken><producttoken>2</producttoken></authentication></messages>",
            "<MESSAGES><AUTHENTICATION/><AUTHENTICATION><PRODUCTTOKEN>second</PRODUCTTOKEN></AUTHENTICATION></MESSAGES>",
            "<MESSAGES><MSG><AUTHENTICATION><PRODUCTTOKEN>nested</PRODUCTTOKEN></AUTHENTICATION></MSG></MESSAGES>",
            "<MESSAGES><PRODUCTTOKEN>direct</PRODUCTTOKEN></MESSAGES>",
            "<OTHER><AUTHENTICATION><PRODUCTTOKEN>t</PRODUCTTOKEN></AUTHENTICATION></OTHER>",
            "<MESSAGES><AUTHENTICATION><PRODUCTTOKEN><X>in child</X>t</PRODUCTTOKEN></AUTHENTICATION></MESSAGES>",
        ] {
            assert_eq!(
                product_token(document).unwrap(),
                parse_submit(document).unwrap().product_token,
                "{document}"
            );
        }
        let deep = format!(
            "<MESSAGES>{}{}</MESSAGES>",
            "<a>".repeat(16),
            "</a>".repeat(16)
        );
        assert_eq!(product_token(&deep), Err(XmlError::TooDeep));
    }

    #[test]
    fn no_msg_and_bad_integers() {
        let none = parse_submit("<MESSAGES><AUTHENTICATION/></MESSAGES>").unwrap();
        assert_eq!(none.messages, Ok(None));
        let bad = parse_submit("<MESSAGES><MSG><DCS>eight</DCS></MSG></MESSAGES>").unwrap();
        assert_eq!(
            bad.messages.unwrap().unwrap()[0]
                .dcs
                .clone()
                .unwrap_err()
                .field,
            "DCS"
        );
    }
}
