//! Inbound (MO) messages: what a connector hands over of a message sent *to* one of the gateway's
//! numbers, and the rules that turn its parts into one message for one account. A connector (the
//! SMPP client's deliver_sm and data_sm that are not receipts) gives each part as an
//! [`InboundPart`] to the store ([`crate::ports::InboundStore::accept_inbound`]); the store keeps
//! the parts of a concatenated message until they are all there (or until their time runs out)
//! and records what is decided here:
//!
//! - which parts make one message ([`InboundPart::key`]: the same connector, sender, recipient,
//!   concatenation reference and total) and when it is complete ([`complete`]);
//! - how the parts become its text ([`assemble`]: in sequence order, a number given twice taken
//!   once, the octets of consecutive parts of one data coding joined before they are decoded, so
//!   that a UCS2 surrogate pair or a GSM escape split over two parts survives; [`decode`]);
//! - whose it is ([`owner_key`]: the number it was sent to, in the form an account's inbound
//!   numbers are stored in, [`normalise_number`]);
//! - what its account's inbound URL gets ([`webhook`], CM's inbound JSON), and how long a message
//!   nobody owns is kept ([`UNOWNED_RETENTION`]).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tern_proto::cm::inbound::InboundWebhook;
use tern_proto::sms::{self, SmsEncoding};

use crate::account::AccountId;
use crate::channel::Channel;
use crate::message::{MessageFilter, MessageId};

/// How long an inbound message to a number no account has is kept (then purged).
pub const UNOWNED_RETENTION: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Where a part belongs in a concatenated message, as its header's concatenation element (IEI
/// 0x00 or 0x08) or the SAR TLVs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    /// Its number, from 1.
    pub seq: u8,
}

/// One part of an inbound message, as a connector received it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundPart {
    /// The connector it came in on.
    pub connector: Arc<str>,
    pub channel: Channel,
    /// The sender's number as the channel gave it (SMPP's `source_addr`).
    pub from: String,
    /// The number it was sent to as the channel gave it (SMPP's `destination_addr`).
    pub to: String,
    /// SMPP's `data_coding` of `payload`: 0 GSM (unpacked septets, as SMPP carries them), 1 IA5,
    /// 3 Latin-1, 8 UCS2; others as [`decode`] says.
    pub data_coding: u8,
    /// The user data, without its header.
    pub payload: Vec<u8>,
    /// Its place in a concatenated message, when its header or TLVs give one.
    pub concat: Option<Concat>,
    pub received_at: Timestamp,
}

/// What identifies the concatenated message a part belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartKey {
    pub connector: Arc<str>,
    pub from: String,
    pub to: String,
    pub reference: u16,
    pub total: u8,
}

impl InboundPart {
    /// Its place in a concatenated message of two parts or more; `None` for a message of one
    /// part: no concatenation, "1 of 1", or a number outside `1..=total` (a header that makes no
    /// sense is not waited on: the part is a message of its own).
    pub fn concatenation(&self) -> Option<Concat> {
        self.concat
            .filter(|concat| concat.total >= 2 && (1..=concat.total).contains(&concat.seq))
    }

    /// The key of the concatenated message it is a part of; `None` when it is a message alone.
    pub fn key(&self) -> Option<PartKey> {
        self.concatenation().map(|concat| PartKey {
            connector: Arc::clone(&self.connector),
            from: self.from.clone(),
            to: self.to.clone(),
            reference: concat.reference,
            total: concat.total,
        })
    }
}

/// Whether the parts numbered `seqs` (of one key, duplicates allowed) make a complete message
/// of `total` parts: every number of `1..=total` is there.
pub fn complete(total: u8, seqs: impl IntoIterator<Item = u8>) -> bool {
    let mut seen = [false; 256];
    for seq in seqs {
        seen[usize::from(seq)] = true;
    }
    (1..=usize::from(total)).all(|seq| seen[seq])
}

/// The text of `payload` in SMPP's `data_coding`: 0 (and 0xC0-0xDF, 0xF0-0xFF without bit 2)
/// GSM 03.38 from unpacked septets; 8 (and 0xE0-0xEF) UCS2, UTF-16BE; 1 IA5 (ASCII, anything
/// above 0x7F a replacement character); 3 Latin-1; anything else binary, written as upper-case
/// hex digits.
pub fn decode(data_coding: u8, payload: &[u8]) -> String {
    match data_coding {
        1 => payload
            .iter()
            .map(|&octet| {
                if octet < 0x80 {
                    char::from(octet)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })
            .collect(),
        3 => payload.iter().map(|&octet| char::from(octet)).collect(),
        _ => sms::decode_payload(
            SmsEncoding::from_smpp_data_coding(data_coding).unwrap_or(SmsEncoding::Binary8),
            payload,
        ),
    }
}

/// An inbound message, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Its id (UUIDv7): CM's `reference` in its webhook.
    pub id: MessageId,
    /// The account whose inbound number it was sent to; `None`: nobody's (kept for
    /// [`UNOWNED_RETENTION`], then purged).
    pub account: Option<AccountId>,
    /// The connector its (first) part came in on.
    pub connector: Arc<str>,
    pub channel: Channel,
    pub from: String,
    pub to: String,
    pub text: String,
    /// How many parts it was assembled from.
    pub parts: u32,
    /// When its first part arrived.
    pub received_at: Timestamp,
    /// What a provider's message carries besides its text (none for an SMS).
    pub extras: InboundExtras,
}

/// What an inbound message from a channel provider (WhatsApp, RCS) carries besides its text:
/// CM's inbound webhook writes it as `from.name`, `message.media`, `message.custom` and
/// `messageContext`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InboundExtras {
    /// The sender's name (a WhatsApp profile name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// A file the sender sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<InboundFile>,
    /// CM's `message.custom`: a JSON object (location, contacts, a tapped reply), as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<String>,
    /// CM's `messageContext`: the message this one answers (the MT's reference, or its id when
    /// it has none), when the channel says which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_context: Option<String>,
    /// CM's `event` (a JSON object, as text): a tap on an RCS suggestion chip
    /// (`{"type":"SuggestionClick","custom":{"postbackdata","label"}}`), which CM's inbound
    /// webhook carries instead of `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The message was an opt-out keyword ([`crate::blocklist::OptOutKeywords`]) and its sender
    /// was put on its account's blocklist with it: the webhook says `"optOut": true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub opt_out: bool,
}

impl InboundExtras {
    /// Whether it says nothing (an SMS).
    pub fn is_empty(&self) -> bool {
        *self == InboundExtras::default()
    }
}

/// A file an inbound message carries: where to fetch it, its type and its caption.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InboundFile {
    pub uri: String,
    pub content_type: String,
    pub title: String,
}

/// An inbound message a channel provider delivered whole (a WhatsApp or RCS message): no parts
/// to assemble, an id of the provider's that a redelivery repeats, and the account it is for
/// (the connector's `inbound_account`) rather than a number's owner.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderInbound {
    pub connector: Arc<str>,
    pub channel: Channel,
    /// The provider's id of it (a wamid): the same message delivered again is recorded once.
    pub provider_id: String,
    pub account: Option<AccountId>,
    pub from: String,
    pub to: String,
    pub text: String,
    pub extras: InboundExtras,
    /// The provider's id of the message of Tern's it answers (a wamid), when it says which:
    /// the store resolves it to that message's reference for `messageContext`.
    pub answers: Option<String>,
    pub received_at: Timestamp,
}

/// The message `parts` make (one part alone, or the parts of one key, in any order), named `id`,
/// for `account`: the parts in sequence order (a number given twice taken once, the first
/// given), the payloads of consecutive parts with one data coding joined and then decoded
/// ([`decode`]), so that a character split over two parts survives. Its sender, recipient,
/// channel and connector are its first part's, its arrival the earliest. A message whose parts
/// are missing some numbers (its time ran out) is assembled from what is there.
///
/// # Panics
/// When `parts` is empty.
pub fn assemble(
    id: MessageId,
    account: Option<AccountId>,
    parts: &[InboundPart],
) -> InboundMessage {
    let mut ordered: Vec<&InboundPart> = parts.iter().collect();
    ordered.sort_by_key(|part| part.concatenation().map_or(0, |concat| concat.seq));
    ordered.dedup_by_key(|part| part.concatenation().map(|concat| concat.seq));
    let first = ordered.first().expect("a message has a part");
    let mut text = String::new();
    let mut run: Vec<u8> = Vec::new();
    let mut run_coding = first.data_coding;
    for part in &ordered {
        if part.data_coding != run_coding {
            text.push_str(&decode(run_coding, &run));
            run.clear();
            run_coding = part.data_coding;
        }
        run.extend_from_slice(&part.payload);
    }
    text.push_str(&decode(run_coding, &run));
    InboundMessage {
        id,
        account,
        connector: Arc::clone(&first.connector),
        channel: first.channel,
        from: first.from.clone(),
        to: first.to.clone(),
        text,
        parts: ordered.len() as u32,
        received_at: parts
            .iter()
            .map(|part| part.received_at)
            .min()
            .expect("a message has a part"),
        extras: InboundExtras::default(),
    }
}

/// A number that cannot be an inbound number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an inbound number: 3-20 digits, optionally after a '+' (a short code such as 3669, or an international number such as 0031612345678)"
)]
pub struct InvalidInboundNumber(pub String);

/// The longest number read as a short code: a longer one without `+` or `00` is an
/// international number without its prefix.
const SHORT_CODE_DIGITS: usize = 6;

/// The form an inbound number is stored and looked up in: a short code (at most six digits) or a
/// national number (one leading `0`) as it is; an international number in CM's `00` form, so
/// that `+31612345678`, `0031612345678` and `31612345678` are one number (as routing reads a
/// leading `+` as `00`). Digits only, 3-20 of them, optionally after a `+`.
pub fn normalise_number(number: &str) -> Result<String, InvalidInboundNumber> {
    let trimmed = number.trim();
    let (plus, digits) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidInboundNumber(number.to_owned()));
    }
    Ok(if plus {
        format!("00{digits}")
    } else if digits.starts_with('0') || digits.len() <= SHORT_CODE_DIGITS {
        digits.to_owned()
    } else {
        format!("00{digits}")
    })
}

/// A comma-separated list of inbound numbers, each normalised ([`normalise_number`]), in the
/// order given, a number given twice (in any form) kept once. Empty items are skipped.
pub fn parse_numbers(list: &str) -> Result<Vec<String>, InvalidInboundNumber> {
    let mut numbers: Vec<String> = Vec::new();
    for item in list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let number = normalise_number(item)?;
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    Ok(numbers)
}

/// What the number an inbound message was sent to is looked up by among the accounts' inbound
/// numbers: its [`normalise_number`] form, or the text as given (trimmed) when it is no number
/// (which then matches none).
pub fn owner_key(to: &str) -> String {
    normalise_number(to).unwrap_or_else(|_| to.trim().to_owned())
}

/// A number as an inbound webhook shows it: an international number with `+` (CM's example:
/// `"+316012345678"`), a short code or national number as it is; what is no number, as given.
pub fn webhook_number(number: &str) -> String {
    match normalise_number(number) {
        Ok(normalised) => match normalised.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => normalised,
        },
        Err(_) => number.trim().to_owned(),
    }
}

/// CM's `timeUtc`: `yyyy-MM-ddTHH:mm:ss` in UTC.
pub fn time_utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The webhook of `message` to its account's inbound URL: its id as `reference`, the numbers
/// as [`webhook_number`] writes them, its arrival as `timeUtc`, empty groupings.
pub fn webhook(message: &InboundMessage) -> InboundWebhook {
    let extras = &message.extras;
    InboundWebhook {
        reference: message.id.to_string(),
        from: webhook_number(&message.from),
        to: webhook_number(&message.to),
        text: message.text.clone(),
        groupings: Default::default(),
        time_utc: time_utc(message.received_at),
        channel: message.channel.as_str().to_owned(),
        from_name: extras.from_name.clone().unwrap_or_default(),
        media: extras
            .media
            .as_ref()
            .map(|file| tern_proto::cm::inbound::InboundMedia {
                media_uri: file.uri.clone(),
                content_type: file.content_type.clone(),
                title: file.title.clone(),
            })
            .unwrap_or_default(),
        custom: extras.custom.clone(),
        message_context: extras.message_context.clone(),
        event: extras.event.clone(),
        opt_out: extras.opt_out,
    }
}

/// Whether the message log's `filter` can take inbound messages: not when it asks for a
/// `reference` (an inbound message has no client reference) or a delivery `state` (it is not
/// delivered by the gateway). Its `recipient` matches an inbound message's `to`, its `since`
/// the message's arrival.
pub fn log_takes_inbound(filter: &MessageFilter) -> bool {
    filter.reference.is_none() && filter.state.is_none()
}

/// One entry of the message log: a message an account sent (MT) or one it received (MO).
#[derive(Debug, Clone, PartialEq)]
pub enum LogEntry {
    Outbound(crate::message::MessageRecord),
    Inbound(InboundMessage),
}

impl LogEntry {
    /// Its id: the log's order and paging cursor (ids are time-ordered).
    pub fn id(&self) -> MessageId {
        match self {
            LogEntry::Outbound(record) => record.message.id,
            LogEntry::Inbound(message) => message.id,
        }
    }
}

/// A page of the log from a page of each kind read with one filter (each in id order, at most
/// `limit`): both merged in id order, at most `limit`.
pub fn log_page(
    outbound: Vec<crate::message::MessageRecord>,
    inbound: Vec<InboundMessage>,
    limit: usize,
) -> Vec<LogEntry> {
    let mut entries: Vec<LogEntry> = outbound
        .into_iter()
        .map(LogEntry::Outbound)
        .chain(inbound.into_iter().map(LogEntry::Inbound))
        .collect();
    entries.sort_by_key(LogEntry::id);
    entries.truncate(limit);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn part(data_coding: u8, payload: &[u8], concat: Option<(u16, u8, u8)>) -> InboundPart {
        InboundPart {
            connector: "smsc1".into(),
            channel: Channel::Sms,
            from: "31612345678".into(),
            to: "3669".into(),
            data_coding,
            payload: payload.to_vec(),
            concat: concat.map(|(reference, total, seq)| Concat {
                reference,
                total,
                seq,
            }),
            received_at: at(i64::from(concat.map_or(0, |c| c.2))),
        }
    }

    #[test]
    fn numbers_are_stored_in_one_form() {
        for form in [
            "+31612345678",
            "0031612345678",
            "31612345678",
            " 31612345678 ",
        ] {
            assert_eq!(normalise_number(form).unwrap(), "0031612345678", "{form}");
        }
        assert_eq!(normalise_number("3669").unwrap(), "3669");
        assert_eq!(normalise_number("123456").unwrap(), "123456");
        assert_eq!(normalise_number("1234567").unwrap(), "001234567");
        assert_eq!(normalise_number("0612345678").unwrap(), "0612345678");
        assert_eq!(normalise_number("+3669").unwrap(), "003669");
        for bad in [
            "",
            "12",
            "+",
            "36a9",
            "+-3669",
            "123456789012345678901",
            "++3669",
        ] {
            assert_eq!(
                normalise_number(bad),
                Err(InvalidInboundNumber(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_list_of_numbers_is_normalised_and_each_kept_once() {
        assert_eq!(
            parse_numbers("3669, 0031612345678,+31612345678,,").unwrap(),
            vec!["3669".to_owned(), "0031612345678".to_owned()]
        );
        assert_eq!(parse_numbers("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_numbers("3669,abc"),
            Err(InvalidInboundNumber("abc".into()))
        );
    }

    #[test]
    fn the_owner_is_looked_up_by_the_normalised_recipient() {
        assert_eq!(owner_key("+31612345678"), "0031612345678");
        assert_eq!(owner_key("31612345678"), "0031612345678");
        assert_eq!(owner_key("3669"), "3669");
        assert_eq!(owner_key("Tern"), "Tern");
    }

    #[test]
    fn webhook_numbers_are_international_with_a_plus() {
        assert_eq!(webhook_number("0031612345678"), "+31612345678");
        assert_eq!(webhook_number("31612345678"), "+31612345678");
        assert_eq!(webhook_number("3669"), "3669");
        assert_eq!(webhook_number("Sender"), "Sender");
    }

    #[test]
    fn each_data_coding_is_read_as_documented() {
        // GSM septets: '@' is 0x00, '€' is escape + 0x65.
        assert_eq!(decode(0, &[0x00, 0x48, 0x1B, 0x65]), "@H€");
        assert_eq!(decode(8, &[0x00, 0x48, 0x20, 0xAC]), "H€");
        assert_eq!(decode(1, &[0x48, 0xE9]), "H\u{FFFD}");
        assert_eq!(decode(3, &[0x48, 0xE9]), "Hé");
        assert_eq!(decode(4, &[0x01, 0xAB]), "01AB");
        assert_eq!(decode(0x20, &[0x01, 0xAB]), "01AB");
        assert_eq!(decode(0xF0, &[0x48]), "H");
    }

    #[test]
    fn a_part_without_a_sensible_concatenation_is_a_message_alone() {
        assert_eq!(part(0, b"", None).key(), None);
        assert_eq!(part(0, b"", Some((1, 1, 1))).key(), None);
        assert_eq!(part(0, b"", Some((1, 2, 0))).key(), None);
        assert_eq!(part(0, b"", Some((1, 2, 3))).key(), None);
        assert_eq!(
            part(0, b"", Some((7, 2, 2))).key(),
            Some(PartKey {
                connector: "smsc1".into(),
                from: "31612345678".into(),
                to: "3669".into(),
                reference: 7,
                total: 2
            })
        );
    }

    #[test]
    fn a_message_is_complete_when_every_number_is_there() {
        assert!(complete(3, [3, 1, 2]));
        assert!(complete(2, [2, 2, 1]));
        assert!(!complete(3, [1, 2, 2]));
        assert!(!complete(2, []));
    }

    #[test]
    fn parts_are_joined_in_order_and_decoded_once() {
        // "😀" is the surrogate pair D83D DE00, split over the two parts; given in reverse order,
        // the second one twice.
        let parts = [
            part(8, &[0xDE, 0x00, 0x00, 0x21], Some((9, 2, 2))),
            part(8, &[0x00, 0x48, 0xD8, 0x3D], Some((9, 2, 1))),
            part(8, &[0x00, 0x3F, 0x00, 0x3F], Some((9, 2, 2))),
        ];
        let id = MessageId::generate();
        let message = assemble(id, Some(4), &parts);
        assert_eq!(message.text, "H😀!");
        assert_eq!(message.parts, 2);
        assert_eq!(message.id, id);
        assert_eq!(message.account, Some(4));
        assert_eq!(message.received_at, at(1));
        assert_eq!(message.from, "31612345678");
        assert_eq!(message.to, "3669");
        assert_eq!(&*message.connector, "smsc1");
    }

    #[test]
    fn an_incomplete_message_is_what_came_and_parts_of_two_codings_are_each_decoded() {
        let parts = [
            part(0, &[0x48, 0x69], Some((1, 3, 1))),
            part(3, &[0xE9], Some((1, 3, 3))),
        ];
        assert_eq!(assemble(MessageId::generate(), None, &parts).text, "Hié");
        assert_eq!(assemble(MessageId::generate(), None, &parts).parts, 2);
    }

    #[test]
    fn the_webhook_says_what_cm_says() {
        let message = InboundMessage {
            id: MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap(),
            account: Some(1),
            connector: "smsc1".into(),
            channel: Channel::Sms,
            from: "31612345678".into(),
            to: "3669".into(),
            text: "Hi".into(),
            parts: 1,
            received_at: "2026-07-01T10:00:05.120Z".parse().unwrap(),
            extras: Default::default(),
        };
        assert_eq!(
            webhook(&message),
            InboundWebhook {
                reference: "0195d3b2-c4e4-7a1b-9c3f-00112233aabb".into(),
                from: "+31612345678".into(),
                to: "3669".into(),
                text: "Hi".into(),
                groupings: Default::default(),
                time_utc: "2026-07-01T10:00:05".into(),
                channel: "SMS".into(),
                from_name: String::new(),
                media: Default::default(),
                custom: None,
                message_context: None,
                event: None,
                opt_out: false,
            }
        );
    }

    #[test]
    fn the_log_takes_inbound_messages_unless_a_reference_or_state_is_asked_for() {
        assert!(log_takes_inbound(&MessageFilter::default()));
        assert!(log_takes_inbound(&MessageFilter {
            recipient: Some("3669".into()),
            ..MessageFilter::default()
        }));
        assert!(!log_takes_inbound(&MessageFilter {
            reference: Some("r".into()),
            ..MessageFilter::default()
        }));
        assert!(!log_takes_inbound(&MessageFilter {
            state: Some(crate::message::DeliveryState::Delivered),
            ..MessageFilter::default()
        }));
    }

    #[test]
    fn a_log_page_merges_both_kinds_in_id_order() {
        let inbound = |id: MessageId| InboundMessage {
            id,
            account: Some(1),
            connector: "c".into(),
            channel: Channel::Sms,
            from: "1".into(),
            to: "3669".into(),
            text: String::new(),
            parts: 1,
            received_at: at(0),
            extras: Default::default(),
        };
        let ids: Vec<MessageId> = (0..3).map(|_| MessageId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        let page = log_page(
            Vec::new(),
            vec![inbound(sorted[2]), inbound(sorted[0]), inbound(sorted[1])],
            2,
        );
        assert_eq!(
            page.iter().map(LogEntry::id).collect::<Vec<_>>(),
            sorted[..2].to_vec()
        );
    }
}
