//! CM's inbound (MO) webhook body: what a gateway POSTs to an account's inbound URL when a
//! message arrives for it. Field names and nesting are CM's own (`from.number`, `to.number`,
//! `message.text`, `groupings`, `timeUtc`, `channel`); the media and custom objects are always
//! there, empty for a plain text. Keys are written in CM's order.

use serde::Serialize;

/// Everything one inbound webhook says.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundWebhook {
    /// The gateway's id of the inbound message (the same on every retry).
    pub reference: String,
    /// The sender's number.
    pub from: String,
    /// The number it was sent to.
    pub to: String,
    pub text: String,
    /// CM's three groupings.
    pub groupings: [String; 3],
    /// When it arrived, already formatted `yyyy-MM-ddTHH:mm:ss` (UTC).
    pub time_utc: String,
    /// CM's channel name (`SMS`).
    pub channel: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    reference: &'a str,
    from: From<'a>,
    to: To<'a>,
    message: Message<'a>,
    groupings: &'a [String; 3],
    time_utc: &'a str,
    channel: &'a str,
}

#[derive(Serialize)]
struct From<'a> {
    number: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct To<'a> {
    number: &'a str,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
    media: Media,
    custom: Custom,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Media {
    media_uri: &'static str,
    content_type: &'static str,
    title: &'static str,
}

#[derive(Serialize)]
struct Custom {}

impl InboundWebhook {
    /// The JSON body (UTF-8).
    pub fn to_json(&self) -> Vec<u8> {
        let body = Body {
            reference: &self.reference,
            from: From {
                number: &self.from,
                name: "",
            },
            to: To { number: &self.to },
            message: Message {
                text: &self.text,
                media: Media {
                    media_uri: "",
                    content_type: "",
                    title: "",
                },
                custom: Custom {},
            },
            groupings: &self.groupings,
            time_utc: &self.time_utc,
            channel: &self.channel,
        };
        serde_json::to_vec(&body).expect("an inbound webhook serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_cms_fields_in_cms_order() {
        let webhook = InboundWebhook {
            reference: "0195d3b2-c4e4-7a1b-9c3f-00112233aabb".into(),
            from: "+31612345678".into(),
            to: "3669".into(),
            text: "Hi \"there\" €".into(),
            groupings: [String::new(), String::new(), String::new()],
            time_utc: "2026-12-01T12:00:00".into(),
            channel: "SMS".into(),
        };
        assert_eq!(
            String::from_utf8(webhook.to_json()).unwrap(),
            concat!(
                r#"{"reference":"0195d3b2-c4e4-7a1b-9c3f-00112233aabb","#,
                r#""from":{"number":"+31612345678","name":""},"to":{"number":"3669"},"#,
                r#""message":{"text":"Hi \"there\" €","media":{"mediaUri":"","contentType":"","title":""},"custom":{}},"#,
                r#""groupings":["","",""],"timeUtc":"2026-12-01T12:00:00","channel":"SMS"}"#
            )
        );
    }
}
