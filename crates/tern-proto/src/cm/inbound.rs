//! CM's inbound (MO) webhook body: what a gateway POSTs to an account's inbound URL when a
//! message arrives for it. Field names and nesting are CM's own (`from.number`, `to.number`,
//! `message.text`, `groupings`, `timeUtc`, `channel`); the media and custom objects are always
//! there, empty for a plain text. Keys are written in CM's order. A tap on an RCS suggestion
//! chip is CM's "event" webhook: the same envelope with `event` in place of `message`.

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
    /// The sender's name, when the channel gives one (a WhatsApp profile name); else empty.
    pub from_name: String,
    /// `message.media`: a file the sender sent (all three empty when none).
    pub media: InboundMedia,
    /// `message.custom`: a JSON object (a location, contacts, a tapped reply), as text; `None`
    /// writes `{}`.
    pub custom: Option<String>,
    /// `messageContext`: which message this one answers, when the channel says so; `None`
    /// leaves the field out.
    pub message_context: Option<String>,
    /// `event`: a JSON object (an RCS `SuggestionClick`), as text; when it is one, it is
    /// written in place of `message` (text, media and custom are then not written).
    pub event: Option<String>,
    /// `optOut`: the message was an opt-out keyword and its sender is now on the account's
    /// blocklist; written (as `true`) only then.
    pub opt_out: bool,
}

/// `message.media` of an inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboundMedia {
    pub media_uri: String,
    pub content_type: String,
    pub title: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_context: Option<&'a str>,
    from: From<'a>,
    to: To<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a serde_json::value::RawValue>,
    groupings: &'a [String; 3],
    time_utc: &'a str,
    channel: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    opt_out: bool,
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
    media: Media<'a>,
    custom: &'a serde_json::value::RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Media<'a> {
    media_uri: &'a str,
    content_type: &'a str,
    title: &'a str,
}

impl InboundWebhook {
    /// The JSON body (UTF-8).
    pub fn to_json(&self) -> Vec<u8> {
        let empty = serde_json::value::RawValue::from_string("{}".to_owned())
            .expect("an empty object is JSON");
        // A custom object that is not a JSON object is written as `{}` (it never is: Tern
        // writes it).
        let custom = self
            .custom
            .as_deref()
            .filter(|custom| custom.trim_start().starts_with('{'))
            .and_then(|custom| serde_json::value::RawValue::from_string(custom.to_owned()).ok())
            .unwrap_or(empty);
        let event = self
            .event
            .as_deref()
            .filter(|event| event.trim_start().starts_with('{'))
            .and_then(|event| serde_json::value::RawValue::from_string(event.to_owned()).ok());
        let body = Body {
            reference: &self.reference,
            message_context: self.message_context.as_deref(),
            from: From {
                number: &self.from,
                name: &self.from_name,
            },
            to: To { number: &self.to },
            message: event.is_none().then(|| Message {
                text: &self.text,
                media: Media {
                    media_uri: &self.media.media_uri,
                    content_type: &self.media.content_type,
                    title: &self.media.title,
                },
                custom: &custom,
            }),
            event: event.as_deref(),
            groupings: &self.groupings,
            time_utc: &self.time_utc,
            channel: &self.channel,
            opt_out: self.opt_out,
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
            from_name: String::new(),
            media: InboundMedia::default(),
            custom: None,
            message_context: None,
            event: None,
            opt_out: false,
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

    #[test]
    fn a_rich_message_has_its_sender_media_custom_object_and_context() {
        let webhook = InboundWebhook {
            reference: "r".into(),
            from: "+31612345678".into(),
            to: "+15550001111".into(),
            text: "look".into(),
            groupings: [String::new(), String::new(), String::new()],
            time_utc: "2026-12-01T12:00:00".into(),
            channel: "WhatsApp".into(),
            from_name: "Ann".into(),
            media: InboundMedia {
                media_uri: "https://x/y.jpg".into(),
                content_type: "image/jpeg".into(),
                title: "look".into(),
            },
            custom: Some(r#"{"location":{"latitude":51.6,"longitude":4.77}}"#.into()),
            message_context: Some("order-7".into()),
            event: None,
            opt_out: false,
        };
        assert_eq!(
            String::from_utf8(webhook.to_json()).unwrap(),
            concat!(
                r#"{"reference":"r","messageContext":"order-7","#,
                r#""from":{"number":"+31612345678","name":"Ann"},"to":{"number":"+15550001111"},"#,
                r#""message":{"text":"look","media":{"mediaUri":"https://x/y.jpg","contentType":"image/jpeg","title":"look"},"#,
                r#""custom":{"location":{"latitude":51.6,"longitude":4.77}}},"#,
                r#""groupings":["","",""],"timeUtc":"2026-12-01T12:00:00","channel":"WhatsApp"}"#
            )
        );
    }

    #[test]
    fn an_rcs_suggestion_tap_is_cms_event_webhook() {
        let webhook = InboundWebhook {
            reference: "r".into(),
            from: "+31612345678".into(),
            to: "acme_agent".into(),
            text: "Yes".into(),
            groupings: [String::new(), String::new(), String::new()],
            time_utc: "2026-12-01T12:00:00".into(),
            channel: "RCS".into(),
            from_name: String::new(),
            media: InboundMedia::default(),
            custom: None,
            message_context: None,
            event: Some(
                r#"{"type":"SuggestionClick","custom":{"postbackdata":"yes-1","label":"Yes"}}"#
                    .into(),
            ),
            opt_out: false,
        };
        assert_eq!(
            String::from_utf8(webhook.to_json()).unwrap(),
            concat!(
                r#"{"reference":"r","#,
                r#""from":{"number":"+31612345678","name":""},"to":{"number":"acme_agent"},"#,
                r#""event":{"type":"SuggestionClick","custom":{"postbackdata":"yes-1","label":"Yes"}},"#,
                r#""groupings":["","",""],"timeUtc":"2026-12-01T12:00:00","channel":"RCS"}"#
            )
        );
    }

    #[test]
    fn an_opt_out_says_so_last() {
        let webhook = InboundWebhook {
            reference: "r".into(),
            from: "+31612345678".into(),
            to: "3669".into(),
            text: "STOP".into(),
            groupings: [String::new(), String::new(), String::new()],
            time_utc: "2026-12-01T12:00:00".into(),
            channel: "SMS".into(),
            from_name: String::new(),
            media: InboundMedia::default(),
            custom: None,
            message_context: None,
            event: None,
            opt_out: true,
        };
        assert_eq!(
            String::from_utf8(webhook.to_json()).unwrap(),
            concat!(
                r#"{"reference":"r","#,
                r#""from":{"number":"+31612345678","name":""},"to":{"number":"3669"},"#,
                r#""message":{"text":"STOP","media":{"mediaUri":"","contentType":"","title":""},"custom":{}},"#,
                r#""groupings":["","",""],"timeUtc":"2026-12-01T12:00:00","channel":"SMS","optOut":true}"#
            )
        );
    }
}
