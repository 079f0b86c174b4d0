//! Reading delivery receipts an SMSC sends (the reverse of [`receipt`](super::receipt)): whether
//! a deliver_sm or data_sm is a receipt at all, and what it says — the message id, the state,
//! the error, the dates — from its TLVs and its text, whichever form the SMSC uses.
//!
//! Tern's SMPP client connector needs this to turn operators' receipts into CM statuses; how a
//! state and error become a CM status is the domain's decision (tern-core's
//! `operator_receipt`), and which submit a receipt is about is [`receipt_id`](super::receipt_id)'s.
//!
//! The text is read leniently, because SMSCs differ: CM's form (`id:… submit date:yyyyMMddHHmmss
//! done date:yyyyMMddHHmmss stat:DELIVRD err:000`), SMPP 3.4 Appendix B (`id:… sub:001
//! dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:… err:… text:…`), keys in any case,
//! fields in any order, unknown fields skipped, fields missing, and `text:` (always the last
//! field) holding anything, including what looks like other fields. The text is read from
//! `short_message`, or from `message_payload` when `short_message` is empty. When TLVs and text
//! both say something, the TLVs win: `receipted_message_id` over `id:`, `message_state` over
//! `stat:`. Nothing here panics, whatever the octets (fuzz target `smpp_receipt`).

use thiserror::Error;

use super::pdu::{DataSm, DeliverSm, Tlvs};
use super::receipt::{MessageState, ReceiptTime};

/// esm_class bits 5-2, the message type (SMPP 3.4 §5.2.12).
const MESSAGE_TYPE_MASK: u8 = 0x3C;
/// Message type: SMSC delivery receipt.
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// Message type: intermediate delivery notification.
pub const ESM_CLASS_INTERMEDIATE_NOTIFICATION: u8 = 0x20;
/// data_coding of UCS2 (big-endian UTF-16) text.
const DATA_CODING_UCS2: u8 = 0x08;

/// The state a receipt reports: one SMPP defines, or what the SMSC sent when it is none of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// A `message_state` value or `stat` Tern knows ([`MessageState::from_value`],
    /// [`MessageState::from_stat`]).
    Known(MessageState),
    /// A `message_state` TLV value SMPP 3.4 does not define (0, 9 and above).
    UnknownValue(u8),
    /// A `stat:` text that names no state, as sent (trimmed).
    UnknownStat(String),
}

/// A receipt's `err:`: a number (up to 65,535, leading zeros dropped), or the text as sent
/// (hex, letters, too large).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceiptErr {
    /// Decimal digits: `err:000` is `Code(0)`, `err:024` is `Code(24)`.
    Code(u16),
    /// Anything else, trimmed.
    Raw(String),
}

/// What one receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReceipt {
    /// The id of the message it is about, as sent (`receipted_message_id`, else `id:`), trimmed;
    /// never empty. Which submit it names is [`canonical_receipt_id`](super::canonical_receipt_id)'s
    /// question.
    pub id: String,
    /// The state (`message_state`, else `stat:`).
    pub state: ReceiptState,
    /// The text's `err:`, if it has one.
    pub err: Option<ReceiptErr>,
    /// The text's `submit date:`, when it is a valid `YYMMDDhhmm`, `YYMMDDhhmmss` or
    /// `yyyyMMddHHmmss` (two-digit years are 20YY; missing seconds are 0).
    pub submitted: Option<ReceiptTime>,
    /// The text's `done date:`, read as `submitted` is.
    pub done: Option<ReceiptTime>,
    /// TLV 0x0423: network type and the network's error code (big-endian).
    pub network_error_code: Option<[u8; 3]>,
    /// CM's TLV 0x1401: the operator's MCC+MNC, as sent.
    pub operator_mcc_mnc: Option<String>,
    /// Whether esm_class says intermediate notification (0x20) rather than delivery receipt.
    pub intermediate: bool,
}

impl ParsedReceipt {
    /// The error code of the `network_error_code` TLV (its last two octets), if present.
    pub fn network_error(&self) -> Option<u16> {
        self.network_error_code
            .map(|[_, high, low]| u16::from_be_bytes([high, low]))
    }
}

/// Why a deliver_sm / data_sm gives no receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReceiptParseError {
    /// Neither esm_class (0x04, 0x20) nor a `receipted_message_id` TLV says it is a receipt: an
    /// MO message, or an SME acknowledgement.
    #[error("not a delivery receipt")]
    NotAReceipt,
    /// A receipt naming no message: no `receipted_message_id` and no (non-empty) `id:`.
    #[error("delivery receipt without a message id")]
    MissingId,
    /// A receipt with no `message_state` and no `stat:`.
    #[error("delivery receipt without a state")]
    MissingState,
}

/// Whether a PDU with this esm_class and these TLVs is a receipt: its message type is an SMSC
/// delivery receipt (0x04) or an intermediate notification (0x20), or it carries
/// `receipted_message_id`.
pub fn is_receipt(esm_class: u8, tlvs: &Tlvs) -> bool {
    matches!(
        esm_class & MESSAGE_TYPE_MASK,
        ESM_CLASS_DELIVERY_RECEIPT | ESM_CLASS_INTERMEDIATE_NOTIFICATION
    ) || tlvs.receipted_message_id.is_some()
}

/// The receipt a deliver_sm carries.
pub fn parse_deliver_sm_receipt(pdu: &DeliverSm) -> Result<ParsedReceipt, ReceiptParseError> {
    parse_receipt(
        pdu.esm_class,
        pdu.data_coding,
        &pdu.short_message,
        &pdu.tlvs,
    )
}

/// The receipt a data_sm carries (its text, if any, is in `message_payload`).
pub fn parse_data_sm_receipt(pdu: &DataSm) -> Result<ParsedReceipt, ReceiptParseError> {
    parse_receipt(pdu.esm_class, pdu.data_coding, &[], &pdu.tlvs)
}

/// The receipt of a PDU with these fields: `short_message` (empty for data_sm) and the TLVs.
pub fn parse_receipt(
    esm_class: u8,
    data_coding: u8,
    short_message: &[u8],
    tlvs: &Tlvs,
) -> Result<ParsedReceipt, ReceiptParseError> {
    if !is_receipt(esm_class, tlvs) {
        return Err(ReceiptParseError::NotAReceipt);
    }
    let body = match (short_message, &tlvs.message_payload) {
        ([], Some(payload)) => payload.as_slice(),
        _ => short_message,
    };
    let text = ReceiptText::parse(&decode_text(data_coding, body));
    let id = tlvs
        .receipted_message_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .or(text.id)
        .ok_or(ReceiptParseError::MissingId)?;
    let state = match tlvs.message_state {
        Some(value) => MessageState::from_value(value)
            .map_or(ReceiptState::UnknownValue(value), ReceiptState::Known),
        None => text.state.ok_or(ReceiptParseError::MissingState)?,
    };
    Ok(ParsedReceipt {
        id,
        state,
        err: text.err,
        submitted: text.submitted,
        done: text.done,
        network_error_code: tlvs.network_error_code,
        operator_mcc_mnc: tlvs.cm_operator_mcc_mnc.clone(),
        intermediate: esm_class & MESSAGE_TYPE_MASK == ESM_CLASS_INTERMEDIATE_NOTIFICATION,
    })
}

/// The body as text: UCS2 (data_coding 8) as big-endian UTF-16, anything else one character
/// per octet (receipts are ASCII; other octets only matter inside `text:`, which is not kept).
fn decode_text(data_coding: u8, body: &[u8]) -> String {
    if data_coding == DATA_CODING_UCS2 && body.len().is_multiple_of(2) {
        let units = body
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    } else {
        body.iter().map(|&octet| char::from(octet)).collect()
    }
}

/// The fields of a receipt's text alone (no TLVs), each absent when the text lacks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptText {
    /// `id:`, trimmed, when not empty.
    pub id: Option<String>,
    /// `stat:`.
    pub state: Option<ReceiptState>,
    /// `err:`.
    pub err: Option<ReceiptErr>,
    /// `submit date:` (also `submit_date:`, `submitdate:`).
    pub submitted: Option<ReceiptTime>,
    /// `done date:` (also `done_date:`, `donedate:`).
    pub done: Option<ReceiptTime>,
}

/// The keys of a receipt's text Tern reads; others are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    /// Always the last field: its value runs to the end.
    Text,
    /// `sub:`, `dlvrd:` and anything unknown.
    Other,
}

impl ReceiptText {
    /// Reads the fields of a receipt text. A field starts at the text's start or after
    /// whitespace with a key (letters, digits, `_`; or `submit date` / `done date`) and a colon;
    /// its value is the first word before the next field (`text:` runs to the end). The first
    /// of a repeated field counts.
    pub fn parse(text: &str) -> ReceiptText {
        let mut fields = ReceiptText::default();
        let mut current: Option<(Key, usize)> = None;
        let mut offset = 0;
        // Walk field starts; the value of the previous field is what lies between.
        loop {
            let next = next_field(text, offset);
            let value_end = next.map_or(text.len(), |(start, _, _)| start);
            if let Some((key, value_start)) = current {
                fields.record(key, text[value_start..value_end].trim());
            }
            match next {
                None => break,
                // `text:` runs to the end and is not kept.
                Some((_, Key::Text, _)) => break,
                Some((_, key, value_start)) => {
                    current = Some((key, value_start));
                    offset = value_start;
                }
            }
        }
        fields
    }

    fn record(&mut self, key: Key, value: &str) {
        // Ids, states, errors and dates hold no whitespace: what follows the first word (an
        // unkeyed extra) is not part of them.
        let value = value.split_whitespace().next().unwrap_or_default();
        match key {
            Key::Id if self.id.is_none() && !value.is_empty() => {
                self.id = Some(value.to_owned());
            }
            Key::Stat if self.state.is_none() && !value.is_empty() => {
                self.state = Some(MessageState::from_stat(value).map_or_else(
                    || ReceiptState::UnknownStat(value.to_owned()),
                    ReceiptState::Known,
                ));
            }
            Key::Err if self.err.is_none() && !value.is_empty() => {
                let code = (value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.trim_start_matches('0'))
                    .and_then(|digits| {
                        if digits.is_empty() {
                            Some(0)
                        } else {
                            digits.parse::<u16>().ok()
                        }
                    });
                self.err =
                    Some(code.map_or_else(|| ReceiptErr::Raw(value.to_owned()), ReceiptErr::Code));
            }
            Key::SubmitDate if self.submitted.is_none() => self.submitted = parse_date(value),
            Key::DoneDate if self.done.is_none() => self.done = parse_date(value),
            _ => {}
        }
    }
}

/// The next field start at or after `from` (a char boundary): (where its key starts, the key,
/// where its value starts).
fn next_field(text: &str, from: usize) -> Option<(usize, Key, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        let at_token_start = at == 0 || bytes[at - 1].is_ascii_whitespace();
        if at_token_start && let Some((key, value_start)) = key_at(&bytes[at..]) {
            return Some((at, key, at + value_start));
        }
        at += 1;
    }
    None
}

/// The key at the start of `octets` and where its value starts (after the colon), if a key is
/// there. All octets examined are ASCII, so the returned offset is a char boundary.
fn key_at(octets: &[u8]) -> Option<(Key, usize)> {
    let word_len = octets
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if word_len == 0 || word_len > 16 {
        return None;
    }
    let word = &octets[..word_len];
    let after_word = &octets[word_len..];
    if after_word.first() == Some(&b':') {
        return Some((word_key(word), word_len + 1));
    }
    // Two-word keys: `submit date`, `done date`.
    let two_word = word.eq_ignore_ascii_case(b"submit") || word.eq_ignore_ascii_case(b"done");
    if two_word
        && after_word.len() >= 6
        && after_word[0] == b' '
        && after_word[1..5].eq_ignore_ascii_case(b"date")
        && after_word[5] == b':'
    {
        let key = if word.eq_ignore_ascii_case(b"done") {
            Key::DoneDate
        } else {
            Key::SubmitDate
        };
        return Some((key, word_len + 6));
    }
    None
}

fn word_key(word: &[u8]) -> Key {
    const KEYS: [(&[u8], Key); 8] = [
        (b"id", Key::Id),
        (b"stat", Key::Stat),
        (b"err", Key::Err),
        (b"text", Key::Text),
        (b"submit_date", Key::SubmitDate),
        (b"submitdate", Key::SubmitDate),
        (b"done_date", Key::DoneDate),
        (b"donedate", Key::DoneDate),
    ];
    KEYS.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map_or(Key::Other, |&(_, key)| key)
}

/// A receipt date: `YYMMDDhhmm` (Appendix B), `YYMMDDhhmmss`, or `yyyyMMddHHmmss` (CM), with
/// its fields in range; `None` otherwise.
fn parse_date(value: &str) -> Option<ReceiptTime> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> u16 {
        value.as_bytes()[range]
            .iter()
            .fold(0, |acc, b| acc * 10 + u16::from(b - b'0'))
    };
    let (year, rest) = match value.len() {
        10 | 12 => (2000 + number(0..2), 2),
        14 => (number(0..4), 4),
        _ => return None,
    };
    let field = |index: usize| number(rest + index * 2..rest + index * 2 + 2) as u8;
    let time = ReceiptTime {
        year,
        month: field(0),
        day: field(1),
        hour: field(2),
        minute: field(3),
        second: if value.len() - rest == 10 {
            field(4)
        } else {
            0
        },
    };
    let valid = (1..=12).contains(&time.month)
        && (1..=31).contains(&time.day)
        && time.hour <= 23
        && time.minute <= 59
        && time.second <= 59;
    valid.then_some(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn time(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> ReceiptTime {
        ReceiptTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    fn receipt_sm(text: &str) -> DeliverSm {
        DeliverSm {
            esm_class: ESM_CLASS_DELIVERY_RECEIPT,
            short_message: text.as_bytes().to_vec(),
            ..DeliverSm::default()
        }
    }

    fn parsed(text: &str) -> ParsedReceipt {
        parse_deliver_sm_receipt(&receipt_sm(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn cm_format() {
        let receipt = parsed(
            "id:0195d3b2c4e47a1b9c3f00112233aabb submit date:20261130090507 done date:20261201235958 stat:DELIVRD err:000",
        );
        assert_eq!(
            receipt,
            ParsedReceipt {
                id: "0195d3b2c4e47a1b9c3f00112233aabb".into(),
                state: ReceiptState::Known(MessageState::Delivered),
                err: Some(ReceiptErr::Code(0)),
                submitted: Some(time(2026, 11, 30, 9, 5, 7)),
                done: Some(time(2026, 12, 1, 23, 59, 58)),
                network_error_code: None,
                operator_mcc_mnc: None,
                intermediate: false,
            }
        );
    }

    #[test]
    fn appendix_b_form_with_a_text_that_looks_like_fields() {
        let receipt = parsed(
            "id:1234567890 sub:001 dlvrd:000 submit date:2611300905 done date:2612012359 stat:UNDELIV err:024 text:stat:DELIVRD id:9 err:0",
        );
        assert_eq!(receipt.id, "1234567890");
        assert_eq!(
            receipt.state,
            ReceiptState::Known(MessageState::Undeliverable)
        );
        assert_eq!(receipt.err, Some(ReceiptErr::Code(24)));
        assert_eq!(receipt.submitted, Some(time(2026, 11, 30, 9, 5, 0)));
        assert_eq!(receipt.done, Some(time(2026, 12, 1, 23, 59, 0)));
    }

    #[test]
    fn keys_in_any_case_and_order_with_extra_and_missing_fields() {
        let cases: [(&str, &str, ReceiptState, Option<ReceiptErr>); 8] = [
            (
                "STAT:deliverd ID:ABC Err:5",
                "ABC",
                ReceiptState::Known(MessageState::Delivered),
                Some(ReceiptErr::Code(5)),
            ),
            (
                "id:42 stat:DELIVRD (final) err:000 trailing",
                "42",
                ReceiptState::Known(MessageState::Delivered),
                Some(ReceiptErr::Code(0)),
            ),
            (
                "Id:7f  Foo:bar baz  stat:EXPIRED",
                "7f",
                ReceiptState::Known(MessageState::Expired),
                None,
            ),
            (
                "id:42 stat:SOMETHNG err:0x1A",
                "42",
                ReceiptState::UnknownStat("SOMETHNG".into()),
                Some(ReceiptErr::Raw("0x1A".into())),
            ),
            (
                "id:42 stat:REJECTD err:99999",
                "42",
                ReceiptState::Known(MessageState::Rejected),
                Some(ReceiptErr::Raw("99999".into())),
            ),
            (
                "  id:00042\tsubmit_date:2611300905 stat:acceptd err: text:",
                "00042",
                ReceiptState::Known(MessageState::Accepted),
                None,
            ),
            (
                "id:x stat:ENROUTE stat:DELIVRD id:y",
                "x",
                ReceiptState::Known(MessageState::Enroute),
                None,
            ),
            (
                "id:9 submit date:9999999999 done date:2613320000 stat:DELETED",
                "9",
                ReceiptState::Known(MessageState::Deleted),
                None,
            ),
        ];
        for (text, id, state, err) in cases {
            let receipt = parsed(text);
            assert_eq!(
                (receipt.id.as_str(), &receipt.state, &receipt.err),
                (id, &state, &err),
                "{text:?}"
            );
        }
        // Invalid dates are no dates.
        let receipt = parsed("id:9 submit date:9999999999 done date:2613320000 stat:DELETED");
        assert_eq!((receipt.submitted, receipt.done), (None, None));
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let mut sm = receipt_sm("id:text-id stat:UNDELIV err:001");
        sm.tlvs.receipted_message_id = Some("tlv-id".into());
        sm.tlvs.message_state = Some(MessageState::Delivered.value());
        sm.tlvs.network_error_code = Some([3, 0, 5]);
        sm.tlvs.cm_operator_mcc_mnc = Some("20416".into());
        let receipt = parse_deliver_sm_receipt(&sm).unwrap();
        assert_eq!(receipt.id, "tlv-id");
        assert_eq!(receipt.state, ReceiptState::Known(MessageState::Delivered));
        assert_eq!(receipt.err, Some(ReceiptErr::Code(1)));
        assert_eq!(receipt.network_error(), Some(5));
        assert_eq!(receipt.operator_mcc_mnc.as_deref(), Some("20416"));
        // An empty TLV id gives way to the text's.
        sm.tlvs.receipted_message_id = Some(String::new());
        assert_eq!(parse_deliver_sm_receipt(&sm).unwrap().id, "text-id");
        sm.tlvs.message_state = Some(0);
        assert_eq!(
            parse_deliver_sm_receipt(&sm).unwrap().state,
            ReceiptState::UnknownValue(0)
        );
    }

    #[test]
    fn tlvs_only() {
        let sm = DeliverSm {
            esm_class: 0,
            tlvs: Tlvs {
                receipted_message_id: Some("ABC123".into()),
                message_state: Some(5),
                ..Tlvs::default()
            },
            ..DeliverSm::default()
        };
        let receipt = parse_deliver_sm_receipt(&sm).unwrap();
        assert_eq!(
            (receipt.id.as_str(), receipt.state, receipt.err),
            (
                "ABC123",
                ReceiptState::Known(MessageState::Undeliverable),
                None
            )
        );
    }

    #[test]
    fn text_in_message_payload_and_data_sm_and_ucs2() {
        let mut sm = receipt_sm("");
        sm.tlvs.message_payload = Some(b"id:77 stat:DELIVRD".to_vec());
        assert_eq!(parse_deliver_sm_receipt(&sm).unwrap().id, "77");
        let data_sm = DataSm {
            esm_class: ESM_CLASS_INTERMEDIATE_NOTIFICATION,
            tlvs: Tlvs {
                message_payload: Some(b"id:78 stat:ENROUTE".to_vec()),
                ..Tlvs::default()
            },
            ..DataSm::default()
        };
        let receipt = parse_data_sm_receipt(&data_sm).unwrap();
        assert_eq!((receipt.id.as_str(), receipt.intermediate), ("78", true));
        let ucs2: Vec<u8> = "id:79 stat:DELIVRD"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let sm = DeliverSm {
            data_coding: 8,
            ..receipt_sm("")
        };
        let sm = DeliverSm {
            short_message: ucs2,
            ..sm
        };
        assert_eq!(parse_deliver_sm_receipt(&sm).unwrap().id, "79");
    }

    #[test]
    fn what_is_not_a_receipt() {
        // An MO message (esm_class 0), an SME acknowledgement (0x08), a UDH MO (0x40).
        for esm_class in [0x00, 0x08, 0x10, 0x40] {
            let sm = DeliverSm {
                esm_class,
                ..receipt_sm("id:1 stat:DELIVRD")
            };
            assert_eq!(
                parse_deliver_sm_receipt(&sm),
                Err(ReceiptParseError::NotAReceipt)
            );
        }
        // A receipt with UDH indicator and store-and-forward mode bits still is one.
        let sm = DeliverSm {
            esm_class: 0x44 | 0x03,
            ..receipt_sm("id:1 stat:DELIVRD")
        };
        assert!(parse_deliver_sm_receipt(&sm).is_ok());
        assert_eq!(
            parse_deliver_sm_receipt(&receipt_sm("stat:DELIVRD")),
            Err(ReceiptParseError::MissingId)
        );
        assert_eq!(
            parse_deliver_sm_receipt(&receipt_sm("id: stat:DELIVRD")),
            Err(ReceiptParseError::MissingId)
        );
        assert_eq!(
            parse_deliver_sm_receipt(&receipt_sm("id:5 err:0")),
            Err(ReceiptParseError::MissingState)
        );
    }

    #[test]
    fn tern_renders_what_it_reads() {
        use crate::smpp::Receipt;
        let rendered = Receipt {
            id: "0195d3b2c4e47a1b9c3f00112233aabb",
            submitted: time(2026, 11, 30, 9, 5, 7),
            done: time(2026, 12, 1, 23, 59, 58),
            state: MessageState::Expired,
            error: 8,
            text: "stat:DELIVRD err:000 id:1",
        };
        for (text, seconds) in [(rendered.cm(), true), (rendered.appendix_b(), false)] {
            let receipt = parsed(&text);
            assert_eq!(receipt.id, rendered.id);
            assert_eq!(receipt.state, ReceiptState::Known(MessageState::Expired));
            assert_eq!(receipt.err, Some(ReceiptErr::Code(8)));
            let cut = |t: ReceiptTime| ReceiptTime {
                second: if seconds { t.second } else { 0 },
                ..t
            };
            assert_eq!(receipt.submitted, Some(cut(rendered.submitted)));
            assert_eq!(receipt.done, Some(cut(rendered.done)));
        }
    }

    #[test]
    fn arbitrary_octets_do_not_panic() {
        let samples: [&[u8]; 8] = [
            b"",
            b":",
            b"id:",
            b"submit date:",
            b"done",
            b"id:\xff\xfe stat:\x00 err:\xc3",
            b" \t\n\r",
            b"text:",
        ];
        for sample in samples {
            let sm = DeliverSm {
                esm_class: ESM_CLASS_DELIVERY_RECEIPT,
                short_message: sample.to_vec(),
                ..DeliverSm::default()
            };
            let _ = parse_deliver_sm_receipt(&sm);
            let _ = ReceiptText::parse(&String::from_utf8_lossy(sample));
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const STATES: [MessageState; 8] = [
            MessageState::Enroute,
            MessageState::Delivered,
            MessageState::Expired,
            MessageState::Deleted,
            MessageState::Undeliverable,
            MessageState::Accepted,
            MessageState::Unknown,
            MessageState::Rejected,
        ];

        /// `key` in a case chosen by `mask` (bit i: uppercase character i).
        fn cased(key: &str, mask: u32) -> String {
            key.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 32) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        }

        proptest! {
            #[test]
            fn arbitrary_octets_never_panic(
                esm_class in any::<u8>(),
                data_coding in any::<u8>(),
                body in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let sm = DeliverSm { esm_class, data_coding, short_message: body, ..DeliverSm::default() };
                if let Ok(receipt) = parse_deliver_sm_receipt(&sm) {
                    prop_assert!(!receipt.id.is_empty());
                }
            }

            #[test]
            fn fields_in_any_order_and_case_are_read(
                id in "[A-Za-z0-9]{1,32}",
                state in 0..8usize,
                err in 0..1000u16,
                order in Just(vec![0usize, 1, 2, 3, 4, 5]).prop_shuffle(),
                mask in any::<u32>(),
                text in ".{0,40}",
            ) {
                let state = STATES[state];
                let fields = [
                    format!("{}:{id}", cased("id", mask)),
                    format!("{}:001", cased("sub", mask)),
                    format!("{}:{err:03}", cased("err", mask)),
                    format!("{}:{}", cased("stat", mask), cased(&state.stat().to_lowercase(), mask)),
                    format!("{}:2611300905", cased("submit date", mask)),
                    format!("{}:20261201235958", cased("done date", mask)),
                ];
                let mut receipt_text: Vec<&str> = order.iter().map(|&i| fields[i].as_str()).collect();
                let text = format!("{}:{text}", cased("text", mask));
                receipt_text.push(&text);
                let receipt = parsed(&receipt_text.join(" "));
                prop_assert_eq!(receipt.id, id);
                prop_assert_eq!(receipt.state, ReceiptState::Known(state));
                prop_assert_eq!(receipt.err, Some(ReceiptErr::Code(err)));
                prop_assert_eq!(receipt.submitted, Some(time(2026, 11, 30, 9, 5, 0)));
                prop_assert_eq!(receipt.done, Some(time(2026, 12, 1, 23, 59, 58)));
            }
        }
    }
}
