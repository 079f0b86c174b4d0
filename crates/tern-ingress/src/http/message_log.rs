//! `GET /v1.0/messages`: the account's message log (product token in `X-CM-PRODUCTTOKEN`), with
//! filters `reference`, `to`, `status`, `since`, `until`, paged by `limit` and the `after` cursor. Every
//! error is CM's JSON error body: the query string is read here rather than by axum's `Query`
//! extractor, whose rejections are plain text.
//!
//! The segments of a message its SMPP client concatenated itself are one entry: its `parts` the
//! segments stored, its `body` theirs joined in order, its `status` the group's (the `status`
//! filter matches that), and a `segments` array with each segment's own `messageId` (the id its
//! receipts and query_sm name), `seq` and `status`. Any other message has no `segments` key.
//!
//! The log holds both directions, in id order (ids are time-ordered): what the account sent
//! (`"direction":"mt"`) and the inbound (MO) messages sent to its inbound numbers
//! (`"direction":"mo"`, with `from`, `to`, `text`, `channel`, `parts` and `receivedAt`). The `to`
//! filter matches an inbound message's `to`, `since` its arrival; a `reference` or `status`
//! filter shows outbound messages only (`inbound::log_takes_inbound`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use tern_core::account::Account;
use tern_core::error_code::MessageLogError;
use tern_core::inbound::{self, InboundMessage, LogEntry};
use tern_core::message::{DeliveryState, MessageFilter, MessageId, MessageRecord};
use tern_core::report::cm_local_time;
use tern_proto::cm::response::SubmitResponse;
use utoipa::{IntoParams, ToSchema};

use super::AppState;

/// Most messages in one page.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only messages with this reference.
    reference: Option<String>,
    /// Only messages to this number (as sent).
    to: Option<String>,
    /// queued, sent, accepted, delivered, read, failed, rejected, expired or cancelled.
    status: Option<String>,
    /// Only messages accepted at or after this RFC 3339 time.
    since: Option<String>,
    /// Only messages accepted before this RFC 3339 time.
    until: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
    /// 1-1000, default 100.
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
}

impl LogQuery {
    /// Read the query string. Unknown parameters are ignored; a parameter given twice is an
    /// error, since which one was meant cannot be known.
    fn parse(query: Option<&str>) -> Result<LogQuery, MessageLogError> {
        let mut log_query = LogQuery::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "reference" => &mut log_query.reference,
                "to" => &mut log_query.to,
                "status" => &mut log_query.status,
                "since" => &mut log_query.since,
                "until" => &mut log_query.until,
                "after" => &mut log_query.after,
                "limit" => &mut log_query.limit,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(MessageLogError::RepeatedParameter(name.into_owned()));
            }
        }
        Ok(log_query)
    }
}

pub(super) fn error(error: MessageLogError) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(SubmitResponse::failure(error.code(), error.details())),
    )
        .into_response()
}

/// Any method but GET.
pub async fn method_not_allowed() -> Response {
    let mut response = error(MessageLogError::MethodNotAllowed);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    response
}

/// The account's messages with their status history.
#[utoipa::path(
    get,
    path = "/v1.0/messages",
    params(
        ("X-CM-PRODUCTTOKEN" = String, Header, description = "The account's product token"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "A page of messages, oldest first", body = MessageLog),
        (status = 400, description = "A filter is malformed", body = SubmitResponse),
        (status = 401, description = "Missing, malformed or unknown product token", body = SubmitResponse),
        (status = 405, description = "Not a GET", body = SubmitResponse),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let account = match authenticated(&state, &headers).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let filter = match LogQuery::parse(query.as_deref()).and_then(filter_of) {
        Ok(filter) => filter,
        Err(why) => return error(why),
    };
    let limit = filter.limit;
    let outbound = state.log.messages(account.id, filter.clone());
    let inbound = async {
        if inbound::log_takes_inbound(&filter) {
            state.log.inbound_messages(account.id, filter.clone()).await
        } else {
            Ok(Vec::new())
        }
    };
    match tokio::try_join!(outbound, inbound) {
        Ok((records, inbound_messages)) => {
            let entries = inbound::log_page(records, inbound_messages, limit);
            let next = (entries.len() == limit)
                .then(|| entries.last().map(|entry| entry.id().to_string()))
                .flatten();
            Json(MessageLog {
                messages: entries.iter().map(logged_entry).collect(),
                next,
            })
            .into_response()
        }
        Err(store_error) => {
            tracing::error!(%store_error, "message log query failed");
            error(MessageLogError::Unknown)
        }
    }
}

/// The account whose product token `X-CM-PRODUCTTOKEN` carries, or the error response the log's
/// endpoints answer (the message log's and the funnel's authentication, in one place).
pub(super) async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Account, Response> {
    let token = headers
        .get("x-cm-producttoken")
        .and_then(|value| value.to_str().ok());
    state
        .submitter
        .authenticate(token)
        .await
        .map_err(|request_error| error(MessageLogError::Unauthenticated(request_error)))
}

fn filter_of(query: LogQuery) -> Result<MessageFilter, MessageLogError> {
    let state = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            DeliveryState::parse(&text.to_ascii_lowercase())
                .ok_or_else(|| MessageLogError::InvalidStatus(text.to_owned()))?,
        ),
    };
    let since = time(query.since.as_deref(), MessageLogError::InvalidSince)?;
    let until = time(query.until.as_deref(), MessageLogError::InvalidUntil)?;
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            MessageId::parse(text).ok_or_else(|| MessageLogError::InvalidAfter(text.to_owned()))?,
        ),
    };
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or(MessageLogError::InvalidLimit { max: MAX_LIMIT })?,
    };
    Ok(MessageFilter {
        reference: query.reference.filter(|r| !r.is_empty()),
        recipient: query.to.filter(|t| !t.is_empty()),
        state,
        since,
        until,
        after,
        limit,
    })
}

/// An optional RFC 3339 time parameter (empty is absent); `invalid` names a malformed one.
pub(super) fn time(
    text: Option<&str>,
    invalid: fn(String) -> MessageLogError,
) -> Result<Option<Timestamp>, MessageLogError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| invalid(text.to_owned())),
    }
}

/// A page of the message log.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageLog {
    /// Sent (`"direction":"mt"`) and inbound (`"direction":"mo"`) messages, oldest first.
    pub messages: Vec<LoggedEntry>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
}

/// One entry of the log: a message the account sent, or one it received.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoggedEntry {
    Outbound(Box<LoggedMessage>),
    Inbound(LoggedInbound),
}

/// One message the account sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedMessage {
    pub message_id: String,
    /// `mt`: a message the account sent.
    pub direction: String,
    pub to: String,
    pub from: String,
    pub reference: Option<String>,
    pub custom_grouping: Option<String>,
    pub custom_grouping2: Option<String>,
    pub custom_grouping3: Option<String>,
    /// The allowed channels the account has, in fallback order.
    pub allowed_channels: Vec<String>,
    /// The channel it is on now, or finished on.
    pub channel: Option<String>,
    /// The surface it was submitted on: json, xml, get or smpp.
    pub source: String,
    /// Its text as stored (UTF-8 whatever the surface and data coding it came in with); a binary
    /// body as hex digits.
    pub body: String,
    /// How `body` is written: `text`, or `hex` for a binary body.
    pub body_encoding: String,
    pub parts: u32,
    /// queued, sent, accepted, delivered, read, failed, rejected, expired or cancelled.
    pub status: String,
    /// RFC 3339, UTC.
    pub accepted_at: String,
    pub valid_until: String,
    pub history: Vec<LoggedStatus>,
    /// Conversions reported through the Conversion API (RFC 3339, UTC).
    pub conversions: Vec<String>,
    /// Only for a message its SMPP client concatenated itself (absent for any other): each of
    /// its segments, in order. The entry's `messageId` is the segment stored first, its `parts`
    /// the segments stored, its `body` their bodies joined in order, its `status` the least
    /// advanced segment's (delivered only once every one is; a failure state once all are final
    /// and one is not delivered), its `history` every segment's status changes in time order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub segments: Option<Vec<LoggedSegment>>,
    /// Each time a channel took the message, in order: the attempt, the connector that carried
    /// it (`simulator` or a `[[connector]]`'s name) and the ids the channel gave its parts (an
    /// SMSC's submit_sm_resp message ids). A fallback or a resend after a lost lease is a new
    /// attempt.
    pub sends: Vec<LoggedSend>,
}

/// One send a channel took.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedSend {
    /// The attempt (from 1); its status changes are those that follow it in `history`.
    pub attempt: u32,
    pub connector: String,
    /// The channel's id of each part, in part order.
    pub external_ids: Vec<String>,
}

/// One inbound (MO) message sent to one of the account's inbound numbers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedInbound {
    /// Its id: the `reference` of its inbound webhook.
    pub message_id: String,
    /// `mo`: a message the account received.
    pub direction: String,
    /// The sender's number, as the channel gave it.
    pub from: String,
    /// The account's number it was sent to, as the channel gave it.
    pub to: String,
    /// Its text (its parts joined, UTF-8 whatever data coding it came in; 8-bit data as hex
    /// digits).
    pub text: String,
    pub channel: String,
    /// The parts it was assembled from.
    pub parts: u32,
    /// When its first part arrived (RFC 3339, UTC).
    pub received_at: String,
}

/// One segment of a concatenated message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedSegment {
    /// The segment's own id (its receipts and SMPP query_sm name it).
    pub message_id: String,
    /// Its number in the concatenated message, from 1.
    pub seq: u8,
    /// queued, sent, accepted, delivered, read, failed, rejected, expired or cancelled.
    pub status: String,
}

/// One status change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedStatus {
    /// RFC 3339, UTC.
    pub at: String,
    /// `yyyy-MM-ddTHH:mm:ss` in CE(S)T, as status reports carry it.
    pub time: String,
    pub channel: String,
    /// CM status code: 0 accepted by operator, 1 rejected, 2 delivered, 3 failed, 4 read.
    pub status: u8,
    pub status_description: String,
    pub error_code: Option<u16>,
    pub operator: Option<String>,
}

fn logged_entry(entry: &LogEntry) -> LoggedEntry {
    match entry {
        LogEntry::Outbound(record) => LoggedEntry::Outbound(Box::new(logged(record))),
        LogEntry::Inbound(message) => LoggedEntry::Inbound(logged_inbound(message)),
    }
}

fn logged_inbound(message: &InboundMessage) -> LoggedInbound {
    LoggedInbound {
        message_id: message.id.to_string(),
        direction: "mo".to_owned(),
        from: message.from.clone(),
        to: message.to.clone(),
        text: message.text.clone(),
        channel: message.channel.as_str().to_owned(),
        parts: message.parts,
        received_at: message.received_at.to_string(),
    }
}

fn logged(record: &MessageRecord) -> LoggedMessage {
    let message = &record.message;
    LoggedMessage {
        message_id: message.id.to_string(),
        direction: "mt".to_owned(),
        to: message.recipient.clone(),
        from: message.content.from.clone(),
        reference: message.reference.clone(),
        custom_grouping: message.content.custom_groupings[0].clone(),
        custom_grouping2: message.content.custom_groupings[1].clone(),
        custom_grouping3: message.content.custom_groupings[2].clone(),
        allowed_channels: message
            .channels
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        channel: record.channel.map(|c| c.as_str().to_owned()),
        source: message.source.as_str().to_owned(),
        body: message.content.body.clone(),
        body_encoding: body_encoding(message.content.body_type.as_deref()).to_owned(),
        parts: message.parts,
        status: record.state.as_str().to_owned(),
        accepted_at: message.accepted_at.to_string(),
        valid_until: message.valid_until.to_string(),
        history: record
            .history
            .iter()
            .map(|event| LoggedStatus {
                at: event.at.to_string(),
                time: cm_local_time(event.at),
                channel: event.channel.as_str().to_owned(),
                status: event.status.code(),
                status_description: event.status.description().to_owned(),
                error_code: event.error_code,
                operator: event.operator.clone(),
            })
            .collect(),
        conversions: record.conversions.iter().map(|at| at.to_string()).collect(),
        sends: record
            .sends
            .iter()
            .map(|send| LoggedSend {
                attempt: send.attempt,
                connector: send.connector.clone(),
                external_ids: send.external_ids.clone(),
            })
            .collect(),
        segments: record.segments.as_ref().map(|segments| {
            segments
                .iter()
                .map(|segment| LoggedSegment {
                    message_id: segment.id.to_string(),
                    seq: segment.seq,
                    status: segment.state.as_str().to_owned(),
                })
                .collect()
        }),
    }
}

/// How the log writes a body of `body_type` (normalised upper case): a binary body is stored as
/// hex digits and shown so; any other is its text.
fn body_encoding(body_type: Option<&str>) -> &'static str {
    match body_type {
        Some("BINARY") => "hex",
        _ => "text",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tern_core::channel::Channel;
    use tern_core::error_code::Surface;
    use tern_core::message::{Content, NewMessage};
    use tern_core::money::Money;

    use super::*;

    fn record(source: Surface, body: &str, body_type: Option<&str>) -> MessageRecord {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        MessageRecord {
            message: NewMessage {
                id: MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap(),
                account_id: 1,
                recipient: "0031612345678".into(),
                content: Arc::new(Content {
                    from: "Tern".into(),
                    body: body.into(),
                    body_type: body_type.map(str::to_owned),
                    dcs: None,
                    app_key: None,
                    rich_content: None,
                    custom_groupings: [None, None, None],
                    udh: None,
                }),
                parts: 1,
                reference: None,
                channels: vec![Channel::Sms],
                accepted_at: at,
                valid_until: at,
                price: Money(0),
                source,
                smpp_registered_delivery: 1,
                segment: None,
            },
            state: DeliveryState::Queued,
            channel: Some(Channel::Sms),
            history: Vec::new(),
            conversions: Vec::new(),
            segments: None,
            sends: Vec::new(),
        }
    }

    #[test]
    fn each_message_shows_its_surface_and_its_body_as_text_or_hex() {
        let cases = [
            (Surface::Json, "Hallo @ €", None, "json", "text"),
            (Surface::Xml, "x", Some("TEXT"), "xml", "text"),
            (Surface::Get, "y", Some("AUTO"), "get", "text"),
            (Surface::Smpp, "CAFE00", Some("BINARY"), "smpp", "hex"),
        ];
        for (source, body, body_type, shown_source, encoding) in cases {
            let json = serde_json::to_value(logged(&record(source, body, body_type))).unwrap();
            assert_eq!(json["direction"], "mt");
            assert_eq!(json["source"], shown_source);
            assert_eq!(json["body"], body);
            assert_eq!(json["bodyEncoding"], encoding);
            assert!(json.get("segments").is_none());
        }
    }

    #[test]
    fn a_concatenated_message_lists_each_segment_with_its_id_number_and_status() {
        use tern_core::message::SegmentState;
        let ids = [
            "0195d3b2-c4e4-7a1b-9c3f-00112233aabb",
            "0195d3b2-c4e4-7a1b-9c3f-00112233aabc",
        ];
        let mut group = record(Surface::Smpp, "Hello, world", None);
        group.message.parts = 2;
        group.segments = Some(vec![
            SegmentState {
                id: MessageId::parse(ids[1]).unwrap(),
                seq: 1,
                state: DeliveryState::Delivered,
            },
            SegmentState {
                id: MessageId::parse(ids[0]).unwrap(),
                seq: 2,
                state: DeliveryState::Queued,
            },
        ]);
        let json = serde_json::to_value(logged(&group)).unwrap();
        assert_eq!(json["parts"], 2);
        assert_eq!(
            json["segments"],
            serde_json::json!([
                { "messageId": ids[1], "seq": 1, "status": "delivered" },
                { "messageId": ids[0], "seq": 2, "status": "queued" },
            ])
        );
    }

    #[test]
    fn an_inbound_message_shows_its_direction_numbers_text_and_arrival() {
        let message = InboundMessage {
            id: MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap(),
            account: Some(1),
            connector: "smsc1".into(),
            channel: Channel::Sms,
            from: "31612345678".into(),
            to: "3669".into(),
            text: "Hi €".into(),
            parts: 2,
            received_at: "2026-01-01T10:00:00.5Z".parse().unwrap(),
            extras: Default::default(),
        };
        assert_eq!(
            serde_json::to_value(logged_entry(&LogEntry::Inbound(message))).unwrap(),
            serde_json::json!({
                "messageId": "0195d3b2-c4e4-7a1b-9c3f-00112233aabb",
                "direction": "mo",
                "from": "31612345678",
                "to": "3669",
                "text": "Hi €",
                "channel": "SMS",
                "parts": 2,
                "receivedAt": "2026-01-01T10:00:00.5Z",
            })
        );
    }
}
