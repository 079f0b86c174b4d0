//! The body of `POST /v1/phones/{+E164}/agentMessages?messageId=…&agentId=…`: an
//! [`AgentMessage`] holding one [`ContentMessage`] (exactly one of `text`, `richCard`,
//! `contentInfo` or `uploadedRbmFile`, plus up to 11 suggestion chips), with an optional traffic
//! type and either a `ttl` or an `expireTime`. Serialises in Google's field names and order,
//! leaving out what is not set; deserialises too (unknown fields ignored), for tests.

use serde::{Deserialize, Serialize};

/// One agent message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentMessage {
    pub content_message: ContentMessage,
    /// `TRANSACTION`, `PROMOTION`, `AUTHENTICATION`, `SERVICEREQUEST`, … (Google's default when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_traffic_type: Option<String>,
    /// How long RBM keeps trying, as a duration in seconds (`"3600s"`); not with `expire_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// When RBM stops trying (RFC 3339); not with `ttl`. Without either, RBM tries for 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
}

impl AgentMessage {
    /// A message of `content`, nothing else set.
    pub fn new(content_message: ContentMessage) -> AgentMessage {
        AgentMessage {
            content_message,
            message_traffic_type: None,
            ttl: None,
            expire_time: None,
        }
    }

    /// The JSON text Google is sent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an agent message always serialises")
    }
}

/// `contentMessage`: set exactly one of the four contents ([`ContentMessage::contents`] counts
/// them; Google refuses zero or several), and any suggestions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentMessage {
    /// At most [`limits::TEXT`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich_card: Option<RichCard>,
    /// A file by URL (image, video, PDF, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_info: Option<ContentInfo>,
    /// A file uploaded to RBM before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_rbm_file: Option<UploadedRbmFile>,
    /// Suggestion chips under the message: at most [`limits::MESSAGE_SUGGESTIONS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
}

impl ContentMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> ContentMessage {
        ContentMessage {
            text: Some(text.into()),
            ..ContentMessage::default()
        }
    }

    /// A file by URL.
    pub fn file(file_url: impl Into<String>) -> ContentMessage {
        ContentMessage {
            content_info: Some(ContentInfo::new(file_url)),
            ..ContentMessage::default()
        }
    }

    /// A rich card (standalone or carousel).
    pub fn rich_card(card: RichCard) -> ContentMessage {
        ContentMessage {
            rich_card: Some(card),
            ..ContentMessage::default()
        }
    }

    /// How many of the four contents are set (Google wants exactly one).
    pub fn contents(&self) -> usize {
        usize::from(self.text.is_some())
            + usize::from(self.rich_card.is_some())
            + usize::from(self.content_info.is_some())
            + usize::from(self.uploaded_rbm_file.is_some())
    }
}

/// `richCard`: exactly one of a standalone card and a carousel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standalone_card: Option<StandaloneCard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carousel_card: Option<CarouselCard>,
}

impl RichCard {
    /// A vertical standalone card.
    pub fn standalone(card_content: CardContent) -> RichCard {
        RichCard {
            standalone_card: Some(StandaloneCard {
                card_orientation: CardOrientation::Vertical,
                thumbnail_image_alignment: None,
                card_content,
            }),
            carousel_card: None,
        }
    }

    /// A carousel of `cards` (Google takes [`limits::CAROUSEL_MIN`] to
    /// [`limits::CAROUSEL_MAX`]).
    pub fn carousel(card_width: CardWidth, card_contents: Vec<CardContent>) -> RichCard {
        RichCard {
            standalone_card: None,
            carousel_card: Some(CarouselCard {
                card_width,
                card_contents,
            }),
        }
    }
}

/// `standaloneCard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandaloneCard {
    pub card_orientation: CardOrientation,
    /// For horizontal cards: which side the image is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_image_alignment: Option<ThumbnailImageAlignment>,
    pub card_content: CardContent,
}

/// `cardOrientation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardOrientation {
    Vertical,
    Horizontal,
}

/// `thumbnailImageAlignment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThumbnailImageAlignment {
    Left,
    Right,
}

/// `carouselCard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarouselCard {
    pub card_width: CardWidth,
    pub card_contents: Vec<CardContent>,
}

/// `cardWidth` of a carousel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardWidth {
    Small,
    Medium,
}

/// `cardContent`: at least one of title, description and media.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardContent {
    /// At most [`limits::CARD_TITLE`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// At most [`limits::CARD_DESCRIPTION`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    /// At most [`limits::CARD_SUGGESTIONS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
}

/// A card's `media`: its height and the file (by URL, or uploaded before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub height: MediaHeight,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_info: Option<ContentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// `media.height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaHeight {
    Short,
    Medium,
    Tall,
}

/// `contentInfo`: a file by public URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentInfo {
    pub file_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Fetch the file again even if RBM has it cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_refresh: Option<bool>,
}

impl ContentInfo {
    /// The file at `file_url`, nothing else set.
    pub fn new(file_url: impl Into<String>) -> ContentInfo {
        ContentInfo {
            file_url: file_url.into(),
            thumbnail_url: None,
            force_refresh: None,
        }
    }
}

/// `uploadedRbmFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadedRbmFile {
    pub file_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_name: Option<String>,
}

/// A suggestion chip: exactly one of a suggested reply and a suggested action.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<SuggestedReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<SuggestedAction>,
}

impl Suggestion {
    /// A suggested reply: the user's tap sends back `text` and `postback_data`.
    pub fn reply(text: impl Into<String>, postback_data: impl Into<String>) -> Suggestion {
        Suggestion {
            reply: Some(SuggestedReply {
                text: text.into(),
                postback_data: postback_data.into(),
            }),
            action: None,
        }
    }

    /// A suggested action.
    pub fn action(action: SuggestedAction) -> Suggestion {
        Suggestion {
            reply: None,
            action: Some(action),
        }
    }

    /// The chip's text (of its reply or its action).
    pub fn text(&self) -> Option<&str> {
        self.reply
            .as_ref()
            .map(|reply| reply.text.as_str())
            .or_else(|| self.action.as_ref().map(|action| action.text.as_str()))
    }
}

/// `reply`: text at most [`limits::SUGGESTION_TEXT`] characters, postback data at most
/// [`limits::POSTBACK_DATA`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedReply {
    pub text: String,
    pub postback_data: String,
}

/// `action`: its text and postback data, and exactly one of the actions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedAction {
    pub text: String,
    pub postback_data: String,
    /// Opened on devices that cannot do the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_url_action: Option<OpenUrlAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_action: Option<DialAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_location_action: Option<ViewLocationAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_calendar_event_action: Option<CreateCalendarEventAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_location_action: Option<ShareLocationAction>,
}

impl SuggestedAction {
    /// How many of the actions are set (Google wants exactly one).
    pub fn actions(&self) -> usize {
        usize::from(self.open_url_action.is_some())
            + usize::from(self.dial_action.is_some())
            + usize::from(self.view_location_action.is_some())
            + usize::from(self.create_calendar_event_action.is_some())
            + usize::from(self.share_location_action.is_some())
    }
}

/// `openUrlAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenUrlAction {
    pub url: String,
}

/// `dialAction`: an E.164 number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DialAction {
    pub phone_number: String,
}

/// `viewLocationAction`: coordinates (`latLong`, with an optional `label`) or a `query`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewLocationAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat_long: Option<LatLng>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `latLong` (and a user message's `location`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    pub latitude: f64,
    pub longitude: f64,
}

/// `createCalendarEventAction`: times in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCalendarEventAction {
    pub start_time: String,
    pub end_time: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `shareLocationAction`: an empty object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShareLocationAction {}

/// RBM's limits (channel-providers.md §3).
pub mod limits {
    /// `contentMessage.text`.
    pub const TEXT: usize = 3072;
    /// Suggestions on a message.
    pub const MESSAGE_SUGGESTIONS: usize = 11;
    /// Suggestions on a card.
    pub const CARD_SUGGESTIONS: usize = 4;
    /// A suggestion's text.
    pub const SUGGESTION_TEXT: usize = 25;
    /// A suggestion's postback data.
    pub const POSTBACK_DATA: usize = 2048;
    /// A card's title.
    pub const CARD_TITLE: usize = 200;
    /// A card's description.
    pub const CARD_DESCRIPTION: usize = 2000;
    /// Cards in a carousel, at least.
    pub const CAROUSEL_MIN: usize = 2;
    /// Cards in a carousel, at most.
    pub const CAROUSEL_MAX: usize = 10;
}

/// The path and query of the send request: `/v1/phones/{phone}/agentMessages?messageId=…&agentId=…`,
/// with `phone` in E.164 (`+31612345678`, the `+` kept as it is) and both query values
/// percent-encoded.
pub fn agent_messages_path(phone_e164: &str, message_id: &str, agent_id: &str) -> String {
    format!(
        "/v1/phones/{}/agentMessages?messageId={}&agentId={}",
        encode_path_segment(phone_e164),
        percent_encode(message_id),
        percent_encode(agent_id)
    )
}

/// A path segment: everything but unreserved characters and `+` percent-encoded.
fn encode_path_segment(text: &str) -> String {
    encode(text, |byte| byte == b'+')
}

/// A query value: everything but unreserved characters percent-encoded.
pub fn percent_encode(text: &str) -> String {
    encode(text, |_| false)
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') || keep(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(b"0123456789ABCDEF"[usize::from(byte >> 4)]));
            encoded.push(char::from(b"0123456789ABCDEF"[usize::from(byte & 15)]));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_every_kind_of_suggestion_renders_in_googles_shape() {
        let mut content = ContentMessage::text("Your order shipped");
        content.suggestions = vec![
            Suggestion::reply("Track", "track_123"),
            Suggestion::action(SuggestedAction {
                text: "Open site".into(),
                postback_data: "open".into(),
                open_url_action: Some(OpenUrlAction {
                    url: "https://cm.com".into(),
                }),
                ..SuggestedAction::default()
            }),
            Suggestion::action(SuggestedAction {
                text: "Call us".into(),
                postback_data: "dial".into(),
                dial_action: Some(DialAction {
                    phone_number: "+31765727000".into(),
                }),
                ..SuggestedAction::default()
            }),
            Suggestion::action(SuggestedAction {
                text: "Find us".into(),
                postback_data: "map".into(),
                view_location_action: Some(ViewLocationAction {
                    lat_long: Some(LatLng {
                        latitude: 51.6,
                        longitude: 4.77,
                    }),
                    label: Some("CM HQ".into()),
                    query: None,
                }),
                ..SuggestedAction::default()
            }),
            Suggestion::action(SuggestedAction {
                text: "Save date".into(),
                postback_data: "cal".into(),
                create_calendar_event_action: Some(CreateCalendarEventAction {
                    start_time: "2026-01-01T10:00:00Z".into(),
                    end_time: "2026-01-01T11:00:00Z".into(),
                    title: "Demo".into(),
                    description: Some("d".into()),
                }),
                ..SuggestedAction::default()
            }),
            Suggestion::action(SuggestedAction {
                text: "Share location".into(),
                postback_data: "loc".into(),
                share_location_action: Some(ShareLocationAction {}),
                ..SuggestedAction::default()
            }),
        ];
        let mut message = AgentMessage::new(content);
        message.ttl = Some("3600s".into());
        let json = message.to_json();
        assert_eq!(
            json,
            concat!(
                r#"{"contentMessage":{"text":"Your order shipped","suggestions":["#,
                r#"{"reply":{"text":"Track","postbackData":"track_123"}},"#,
                r#"{"action":{"text":"Open site","postbackData":"open","openUrlAction":{"url":"https://cm.com"}}},"#,
                r#"{"action":{"text":"Call us","postbackData":"dial","dialAction":{"phoneNumber":"+31765727000"}}},"#,
                r#"{"action":{"text":"Find us","postbackData":"map","viewLocationAction":{"latLong":{"latitude":51.6,"longitude":4.77},"label":"CM HQ"}}},"#,
                r#"{"action":{"text":"Save date","postbackData":"cal","createCalendarEventAction":{"startTime":"2026-01-01T10:00:00Z","endTime":"2026-01-01T11:00:00Z","title":"Demo","description":"d"}}},"#,
                r#"{"action":{"text":"Share location","postbackData":"loc","shareLocationAction":{}}}]},"#,
                r#""ttl":"3600s"}"#
            )
        );
        let back: AgentMessage = serde_json::from_str(&json).unwrap();
        assert_eq!(back, message);
        assert_eq!(back.content_message.contents(), 1);
        assert_eq!(
            back.content_message.suggestions[5].text(),
            Some("Share location")
        );
        assert!(
            back.content_message.suggestions[1..].iter().all(|s| s
                .action
                .as_ref()
                .unwrap()
                .actions()
                == 1)
        );
    }

    #[test]
    fn cards_and_files_render_in_googles_shape() {
        let card = CardContent {
            title: Some("Shoes".into()),
            description: Some("Red".into()),
            media: Some(Media {
                height: MediaHeight::Medium,
                content_info: Some(ContentInfo::new("https://x/s.png")),
                file_name: None,
            }),
            suggestions: vec![Suggestion::reply("Buy", "buy")],
        };
        assert_eq!(
            AgentMessage::new(ContentMessage::rich_card(RichCard::standalone(
                card.clone()
            )))
            .to_json(),
            r#"{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"title":"Shoes","description":"Red","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://x/s.png"}},"suggestions":[{"reply":{"text":"Buy","postbackData":"buy"}}]}}}}}"#
        );
        let carousel = AgentMessage::new(ContentMessage::rich_card(RichCard::carousel(
            CardWidth::Small,
            vec![
                card,
                CardContent {
                    title: Some("Hat".into()),
                    ..CardContent::default()
                },
            ],
        )));
        assert_eq!(
            carousel.to_json(),
            r#"{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"SMALL","cardContents":[{"title":"Shoes","description":"Red","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://x/s.png"}},"suggestions":[{"reply":{"text":"Buy","postbackData":"buy"}}]},{"title":"Hat"}]}}}}"#
        );
        let mut file = AgentMessage::new(ContentMessage::file("https://x/f.pdf"));
        file.expire_time = Some("2026-12-01T10:00:00Z".into());
        assert_eq!(
            file.to_json(),
            r#"{"contentMessage":{"contentInfo":{"fileUrl":"https://x/f.pdf"}},"expireTime":"2026-12-01T10:00:00Z"}"#
        );
        let both: ContentMessage =
            serde_json::from_str(r#"{"text":"a","contentInfo":{"fileUrl":"u"},"x":1}"#).unwrap();
        assert_eq!(both.contents(), 2);
        assert_eq!(ContentMessage::default().contents(), 0);
    }

    #[test]
    fn the_path_keeps_the_plus_and_encodes_the_query() {
        assert_eq!(
            agent_messages_path("+31612345678", "0190-ab", "acme agent&x"),
            "/v1/phones/+31612345678/agentMessages?messageId=0190-ab&agentId=acme%20agent%26x"
        );
        assert_eq!(percent_encode("a+b/é"), "a%2Bb%2F%C3%A9");
    }
}
