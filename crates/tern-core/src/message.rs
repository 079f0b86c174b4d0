//! Messages: one accepted recipient of one `msg` becomes one [`NewMessage`]; the store keeps it
//! with its delivery progress and status history. What a `msg` says once for all its recipients
//! (the [`Content`]) is shared, never copied per recipient: a request's cost stays proportional
//! to its size however many recipients one `msg` names.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;

use crate::account::AccountId;
use crate::channel::Channel;
use crate::error_code::Surface;
use crate::money::Money;
use crate::status::CmStatus;

/// Tern's id for a message: a UUIDv7, time-ordered so inserts stay append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub uuid::Uuid);

impl MessageId {
    /// A new time-ordered id.
    pub fn generate() -> Self {
        MessageId(uuid::Uuid::now_v7())
    }

    /// Parse the hyphenated form.
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text).ok().map(MessageId)
    }

    /// The id as SMPP carries it (submit_sm_resp, receipts): the same UUID as 32 lowercase hex
    /// digits, no hyphens.
    pub fn smpp_id(&self) -> String {
        self.0.simple().to_string()
    }

    /// An id as an SMPP client sends it back (query_sm, cancel_sm, replace_sm): 32 hex digits,
    /// in either case; anything else names no message.
    pub fn from_smpp_id(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        uuid::Uuid::try_parse(text).ok().map(MessageId)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_hyphenated())
    }
}

/// What one `msg` says for all its recipients: the content a connector sends, and the custom
/// groupings its reports carry. Its recipients share one (an [`Arc`]); the store keeps it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub from: String,
    pub body: String,
    /// `AUTO` / `TEXT` / `BINARY` as normalised upper case, when given.
    pub body_type: Option<String>,
    pub dcs: Option<u8>,
    pub app_key: Option<String>,
    /// `richContent` JSON as the client sent it.
    pub rich_content: Option<String>,
    /// `customGrouping`, `customGrouping2`, `customGrouping3` (echoed in status reports).
    pub custom_groupings: [Option<String>; 3],
    /// The user data header to send before the body, as the client gave it (SMS only: an SMPP
    /// client that splits a long text itself sends each part with its concatenation header, and
    /// each part is then a message of one part that keeps it).
    pub udh: Option<Vec<u8>>,
}

/// An accepted recipient, ready to be stored and queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub account_id: AccountId,
    /// The number as the client sent it (echoed in responses and reports).
    pub recipient: String,
    /// Shared by every recipient of the same `msg`.
    pub content: Arc<Content>,
    /// SMS parts (1 for other channels).
    pub parts: u32,
    pub reference: Option<String>,
    /// Allowed channels that the account has, in the client's order.
    pub channels: Vec<Channel>,
    pub accepted_at: Timestamp,
    pub valid_until: Timestamp,
    /// What the account is debited for this message.
    pub price: Money,
    /// The surface it was submitted on (the message log's `source`).
    pub source: Surface,
    /// The SMPP `registered_delivery` it was submitted with: which receipts its client asked for
    /// (see `smpp_receipt::wanted`). 0 (none) for the HTTP surfaces.
    pub smpp_registered_delivery: u8,
    /// Where it belongs when it is one segment of a message its client concatenated itself (its
    /// header's concatenation element); `None` for every other message.
    pub segment: Option<Segment>,
}

impl NewMessage {
    /// The key of the concatenated message it is a segment of, when it is one.
    pub fn segment_key(&self) -> Option<SegmentKey> {
        self.segment
            .map(|segment| SegmentKey::of(segment, self.account_id, &self.content, &self.recipient))
    }
}

/// A segment of a concatenated message, as its concatenation element (IEI 0x00 or 0x08) says:
/// the reference (an 8-bit one widened), the number of segments and this one's number. Judged
/// by `short_message::judge`: `1 <= seq <= total`, `total >= 2`. The rest of what identifies its
/// concatenated message (the account, the sender, the recipient) is the message's own: see
/// [`NewMessage::segment_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// What identifies one concatenated message, as a handset joins its segments: the account that
/// submitted it, the sender, the recipient, the reference and the total. Segments with one key
/// that wait together are one group (`segments::group_due`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentKey {
    pub account_id: AccountId,
    pub sender: String,
    pub recipient: String,
    pub reference: u16,
    pub total: u8,
}

impl SegmentKey {
    /// The key of `segment` of a message of `account_id` with `content` to `recipient`.
    pub fn of(
        segment: Segment,
        account_id: AccountId,
        content: &Content,
        recipient: &str,
    ) -> SegmentKey {
        SegmentKey {
            account_id,
            sender: content.from.clone(),
            recipient: recipient.to_owned(),
            reference: segment.reference,
            total: segment.total,
        }
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting to be sent on `channel_index`.
    Queued,
    /// Handed to a channel; waiting for its report.
    Sent,
    /// The operator or channel reported it accepted (status 0); waiting for the final report.
    Accepted,
    Delivered,
    Read,
    Failed,
    Rejected,
    Expired,
    /// Cancelled by its client (SMPP cancel_sm) before it was handed to a channel: never sent,
    /// never reported, its price given back.
    Cancelled,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Accepted => "accepted",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
            DeliveryState::Rejected => "rejected",
            DeliveryState::Expired => "expired",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => DeliveryState::Queued,
            "sent" => DeliveryState::Sent,
            "accepted" => DeliveryState::Accepted,
            "delivered" => DeliveryState::Delivered,
            "read" => DeliveryState::Read,
            "failed" => DeliveryState::Failed,
            "rejected" => DeliveryState::Rejected,
            "expired" => DeliveryState::Expired,
            "cancelled" => DeliveryState::Cancelled,
            _ => return None,
        })
    }

    /// No further sending happens (a Read may still follow Delivered).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Accepted
        )
    }
}

/// One entry of a message's status history.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    pub at: Timestamp,
    pub channel: Channel,
    pub status: CmStatus,
    pub error_code: Option<u16>,
    pub operator: Option<String>,
}

/// A message as the message log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub message: NewMessage,
    pub state: DeliveryState,
    /// The channel it is on now (or finished on).
    pub channel: Option<Channel>,
    pub history: Vec<StatusEvent>,
    /// When the recipient converted, as reported through the Conversion API.
    pub conversions: Vec<Timestamp>,
    /// For a concatenated message the log shows as one (`segments::group_record`): each of its
    /// segments, in order; `None` for every other message (a segment read alone included).
    pub segments: Option<Vec<SegmentState>>,
    /// Each time a channel took it: the attempt, the connector that carried it and the ids the
    /// channel gave its parts (an SMSC's message ids), in attempt order.
    pub sends: Vec<SendRecord>,
}

/// One send a channel took, as the message log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    pub attempt: u32,
    pub connector: String,
    /// The channel's id of each part, in part order.
    pub external_ids: Vec<String>,
}

/// One segment of a concatenated message in the log: its own id and state (its receipts name
/// it), and its number.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentState {
    pub id: MessageId,
    pub seq: u8,
    pub state: DeliveryState,
}

/// Filters of the message log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    pub reference: Option<String>,
    pub recipient: Option<String>,
    pub state: Option<DeliveryState>,
    pub since: Option<Timestamp>,
    /// Only messages accepted (inbound ones received) before this time.
    pub until: Option<Timestamp>,
    /// Only messages with an id after this one (paging cursor).
    pub after: Option<MessageId>,
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smpp_ids_are_the_uuid_in_32_lowercase_hex_digits_and_read_back_in_any_case() {
        let id = MessageId::parse("0195D3B2-C4E4-7A1B-9C3F-00112233AABB").unwrap();
        assert_eq!(id.smpp_id(), "0195d3b2c4e47a1b9c3f00112233aabb");
        assert_eq!(id.to_string(), "0195d3b2-c4e4-7a1b-9c3f-00112233aabb");
        for text in [
            "0195d3b2c4e47a1b9c3f00112233aabb",
            "0195D3B2C4E47A1B9C3F00112233AABB",
        ] {
            assert_eq!(MessageId::from_smpp_id(text), Some(id));
        }
        for text in [
            "",
            "0195d3b2-c4e4-7a1b-9c3f-00112233aabb",
            "0195d3b2c4e47a1b9c3f00112233aab",
            "0195d3b2c4e47a1b9c3f00112233aabbc",
            "0195d3b2c4e47a1b9c3f00112233aabg",
            "{0195d3b2c4e47a1b9c3f00112233aab}",
            "1234567890",
        ] {
            assert_eq!(MessageId::from_smpp_id(text), None, "{text}");
        }
    }
}
