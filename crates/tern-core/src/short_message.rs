//! A short message as a surface that speaks in octets submits it (an SMPP `submit_sm` or
//! `submit_multi`, once the session has parsed the PDU): the user data as octets with their
//! `data_coding`, the user data header apart, destinations and an absolute validity. Judged here
//! by the rules that belong to such a message, not squeezed through CM's JSON-shaped strings, and
//! turned into the same [`NewMessage`]s a CM request becomes, so that storage, billing, dispatch
//! and reports are one path whatever the surface.
//!
//! How the octets become the stored [`Content`] (connectors encode it again for the channel):
//!
//! | `data_coding` | Read as | Stored as |
//! | --- | --- | --- |
//! | 0, 0xC0-0xDF, 0xF0-0xFF without bit 2 | GSM 03.38, one septet per octet (unpacked) | text, `dcs` kept (GSM) |
//! | 8, 0xE0-0xEF | UCS2 (UTF-16BE) | text, `dcs` kept (UCS2) |
//! | 2, 4, 0xF0-0xFF with bit 2 | 8-bit data | hex, `BINARY` |
//! | 1 (IA5), 3 (Latin-1) | ASCII, ISO-8859-1 | text, `AUTO` (GSM when it fits, else UCS2) |
//! | anything else | | rejected: [`SmsBodyError::UnsupportedDataCoding`] |
//!
//! A message with a user data header (a part its client concatenates itself, a port header) is
//! sent as it came: it must fit one part with its header, and it stays on SMS. One without is
//! split by the gateway like a CM text.
//!
//! A header's concatenation element (IEI 0x00, 8-bit reference; 0x08, 16-bit) makes the message
//! a [`Segment`] of a concatenated message: still one message of one part with its own id, price
//! and receipts, linked to the other segments of its key for dispatch and the log (see
//! `segments`). Its number must be in `1..=total`; a header that says "1 of 1" is no
//! concatenation, and the message is sent as a plain one-part message with its header. A header
//! whose elements do not parse is not read for one either: it is sent as it came, unlinked.

use std::sync::Arc;

use jiff::Timestamp;
use tern_proto::sms::{self, BodyType, SmsEncoding};

use crate::account::Account;
use crate::channel::Channel;
use crate::error_code::{Rejection, Surface};
use crate::message::{Content, NewMessage, Segment};
use crate::submission::{self, RecipientOutcome, SubmissionPolicy};
use crate::submitter::MessageIds;
use crate::validity::{DEFAULT_VALIDITY, MAX_VALIDITY};

/// Octets of user data in one SMS part (TP-UD), header included.
pub const PART_OCTETS: usize = 140;

/// A short message to one or more destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortMessage {
    /// The sender (SMPP `source_addr`) as the surface read it.
    pub from: String,
    /// Destination numbers in CM's form (`00` + country code, or `+`): the surface turns its own
    /// forms (an SMPP TON/NPI) into these.
    pub to: Vec<String>,
    /// The `data_coding` of `user_data`.
    pub data_coding: u8,
    /// The user data without its header (SMPP `short_message` or `message_payload`); GSM text as
    /// one septet per octet.
    pub user_data: Vec<u8>,
    /// The user data header, length octet included, when the client sent one (SMPP: `esm_class`
    /// UDHI set, the header cut from the front of the user data).
    pub udh: Option<Vec<u8>>,
    /// The client's reference for the message, echoed in its reports.
    pub reference: Option<String>,
    /// When the message stops being deliverable; the default validity when absent.
    pub valid_until: Option<Timestamp>,
    /// The SMPP `registered_delivery`: which receipts the client wants (kept with each message).
    pub registered_delivery: u8,
}

/// Why the user data of a short message cannot be sent. Rendered by the error table
/// ([`Rejection::SmsBody`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SmsBodyError {
    #[error(
        "data_coding {0} is not supported: use 0 (GSM), 1 (IA5), 3 (Latin-1), 2 or 4 (8-bit), 8 (UCS2), or 0xC0-0xFF"
    )]
    UnsupportedDataCoding(u8),
    #[error("UCS2 user data must be an even number of octets, got {0}")]
    OddUcs2Length(usize),
    #[error("the user data header's length octet does not match its length")]
    InvalidUdh,
    #[error(
        "a message with a user data header must fit one part: at most {PART_OCTETS} octets with its header"
    )]
    NotOnePart,
    #[error(
        "the concatenation header says segment {sequence} of {total}: the number must be 1 to the total"
    )]
    InvalidConcatenation { sequence: u8, total: u8 },
}

/// The segment a user data header (length octet included) makes its message, read from its
/// concatenation element with `tern_proto::sms::parse_udh`: `None` without one (or for "1 of 1",
/// or a header that does not parse), an error for a number outside `1..=total`.
pub fn segment_of(udh: &[u8]) -> Result<Option<Segment>, SmsBodyError> {
    let Some(concat) = sms::parse_udh(udh).ok().and_then(|header| header.concat) else {
        return Ok(None);
    };
    if concat.sequence == 0 || concat.sequence > concat.total {
        return Err(SmsBodyError::InvalidConcatenation {
            sequence: concat.sequence,
            total: concat.total,
        });
    }
    Ok((concat.total >= 2).then_some(Segment {
        reference: concat.reference,
        total: concat.total,
        seq: concat.sequence,
    }))
}

/// What the user data of a short message is stored as: its body, body type and `dcs`.
fn content_of(
    data_coding: u8,
    user_data: &[u8],
) -> Result<(String, Option<BodyType>, Option<u8>), SmsBodyError> {
    match data_coding {
        1 => Ok((
            user_data
                .iter()
                .map(|&b| {
                    if b < 0x80 {
                        char::from(b)
                    } else {
                        char::REPLACEMENT_CHARACTER
                    }
                })
                .collect(),
            Some(BodyType::Auto),
            None,
        )),
        3 => Ok((
            user_data.iter().map(|&b| char::from(b)).collect(),
            Some(BodyType::Auto),
            None,
        )),
        _ => match SmsEncoding::from_smpp_data_coding(data_coding) {
            Some(SmsEncoding::Gsm7) => Ok((
                sms::decode_payload(SmsEncoding::Gsm7, user_data),
                None,
                Some(data_coding),
            )),
            Some(SmsEncoding::Ucs2) => {
                if !user_data.len().is_multiple_of(2) {
                    return Err(SmsBodyError::OddUcs2Length(user_data.len()));
                }
                Ok((
                    sms::decode_payload(SmsEncoding::Ucs2, user_data),
                    None,
                    Some(data_coding),
                ))
            }
            // SMPP's 2 is 8-bit data, which TS 23.038 (what `dcs` means) calls 4.
            Some(SmsEncoding::Binary8) => Ok((
                sms::encode_hex(user_data),
                Some(BodyType::Binary),
                Some(if data_coding == 2 { 4 } else { data_coding }),
            )),
            None => Err(SmsBodyError::UnsupportedDataCoding(data_coding)),
        },
    }
}

/// Whether `udh` and a body of `plan` fit one part together.
fn fits_one_part(udh: &[u8], plan: &sms::PartPlan) -> bool {
    let bits = match plan.encoding {
        SmsEncoding::Gsm7 => plan.units as usize * 7,
        SmsEncoding::Ucs2 => plan.units as usize * 16,
        SmsEncoding::Binary8 => plan.units as usize * 8,
    };
    // GSM text after a header starts on a septet boundary: the header's bits are rounded up.
    let header_bits = (udh.len() * 8).div_ceil(7) * 7;
    let header_bits = if plan.encoding == SmsEncoding::Gsm7 {
        header_bits
    } else {
        udh.len() * 8
    };
    header_bits + bits <= PART_OCTETS * 8
}

/// The message-level facts every destination shares, or the rejection of them all.
struct Judged {
    content: Arc<Content>,
    parts: u32,
    segment: Option<Segment>,
    channels: Vec<Channel>,
    valid_until: Timestamp,
}

/// A validity a client asked for, at `now`: in the future, at most [`MAX_VALIDITY`] away.
fn valid_until(until: Timestamp, now: Timestamp) -> Result<Timestamp, Rejection> {
    if until <= now {
        return Err(Rejection::InvalidValidity(until.to_string()));
    }
    Ok(until.min(now + MAX_VALIDITY))
}

/// User data as it is stored, with the parts it takes.
struct JudgedBody {
    body: String,
    body_type: Option<BodyType>,
    dcs: Option<u8>,
    parts: u32,
}

/// Judge user data in `data_coding`, with its header if any: not empty, a data coding of the
/// module's table, one part with a header (the client concatenates), within the part limits
/// without one.
fn judge_body(
    data_coding: u8,
    user_data: &[u8],
    udh: Option<&[u8]>,
) -> Result<JudgedBody, Rejection> {
    if user_data.is_empty() {
        return Err(Rejection::EmptyBody);
    }
    let (body, body_type, dcs) = content_of(data_coding, user_data).map_err(Rejection::SmsBody)?;
    let plan = sms::plan_parts(&body, body_type, dcs).map_err(Rejection::BodyEncoding)?;
    let parts = match udh {
        Some(udh) => {
            if udh.is_empty() || usize::from(udh[0]) + 1 != udh.len() {
                return Err(Rejection::SmsBody(SmsBodyError::InvalidUdh));
            }
            if !fits_one_part(udh, &plan) {
                return Err(Rejection::SmsBody(SmsBodyError::NotOnePart));
            }
            1
        }
        None => {
            let needed = plan.parts.max(1);
            sms::check_part_limits(None, None, needed).map_err(Rejection::PartLimit)?;
            needed
        }
    };
    Ok(JudgedBody {
        body,
        body_type,
        dcs,
        parts,
    })
}

fn judge_message(
    message: &ShortMessage,
    account: &Account,
    now: Timestamp,
) -> Result<Judged, Rejection> {
    if message.from.trim().is_empty() {
        return Err(Rejection::NoFrom);
    }
    submission::check_sender(&message.from)?;
    if let Some(reference) = &message.reference {
        submission::check_reference(reference)?;
    }
    if !account.channels.contains(&Channel::Sms) {
        return Err(Rejection::Unroutable);
    }
    let valid_until = match message.valid_until {
        None => now + DEFAULT_VALIDITY,
        Some(until) => valid_until(until, now)?,
    };
    let JudgedBody {
        body,
        body_type,
        dcs,
        parts,
    } = judge_body(
        message.data_coding,
        &message.user_data,
        message.udh.as_deref(),
    )?;
    let segment = match &message.udh {
        Some(udh) => segment_of(udh).map_err(Rejection::SmsBody)?,
        None => None,
    };
    Ok(Judged {
        segment,
        content: Arc::new(Content {
            from: message.from.clone(),
            body,
            body_type: body_type.map(|t| t.to_string()),
            dcs,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: message.udh.clone(),
        }),
        parts,
        channels: vec![Channel::Sms],
        valid_until,
    })
}

/// Judge `message` for `account` at `now`: one outcome per destination, in order. Its content is
/// judged once for all; a rejection of it rejects every destination.
pub fn judge(
    message: &ShortMessage,
    account: &Account,
    now: Timestamp,
    policy: &SubmissionPolicy,
    ids: &dyn MessageIds,
) -> Vec<RecipientOutcome> {
    let reject = |to: &str, rejection: Rejection| RecipientOutcome::Rejected {
        to: to.to_owned(),
        reference: message.reference.clone(),
        rejection,
    };
    if message.to.is_empty() {
        return vec![reject("", Rejection::EmptyNumber)];
    }
    let judged = match judge_message(message, account, now) {
        Ok(judged) => judged,
        Err(rejection) => {
            return message
                .to
                .iter()
                .map(|to| reject(to, rejection.clone()))
                .collect();
        }
    };
    message
        .to
        .iter()
        .map(|to| match submission::check_number(to) {
            Err(rejection) => reject(to, rejection),
            Ok(()) => RecipientOutcome::Accepted(Box::new(NewMessage {
                id: ids.next_id(),
                account_id: account.id,
                recipient: to.clone(),
                content: Arc::clone(&judged.content),
                parts: judged.parts,
                reference: message.reference.clone(),
                channels: judged.channels.clone(),
                accepted_at: now,
                valid_until: judged.valid_until,
                price: policy.price_per_part.times(u64::from(judged.parts)),
                source: Surface::Smpp,
                smpp_registered_delivery: message.registered_delivery,
                segment: judged.segment,
            })),
        })
        .collect()
}

/// What an SMPP replace_sm asks of a message still queued: new user data (in `data_coding`,
/// with a header when `udh` is given), and a new validity and `registered_delivery` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortReplacement {
    pub data_coding: u8,
    pub user_data: Vec<u8>,
    pub udh: Option<Vec<u8>>,
    pub valid_until: Option<Timestamp>,
    pub registered_delivery: Option<u8>,
}

/// The `data_coding` a replace_sm's short_message is read in for a message stored with
/// `content`: replace_sm carries none, so the message's own, as stored: its `dcs` when it has one
/// (GSM, UCS2, 8-bit data and the message classes keep theirs); 4 (8-bit data) for a binary body
/// without one; 0 (GSM) for text stored as `AUTO` or without a type (IA5 and Latin-1 submits,
/// CM texts).
pub fn replacement_data_coding(content: &Content) -> u8 {
    match content.dcs {
        Some(dcs) => dcs,
        None if content.body_type.as_deref() == Some("BINARY") => 4,
        None => 0,
    }
}

/// Whether a message that may go out on `channels` can have its text replaced by a short message
/// (SMPP replace_sm): only one that goes out on SMS alone; another channel's content (an HTTP
/// submission's WhatsApp or RCS message) is not octets.
pub fn replaceable(channels: &[Channel]) -> bool {
    channels == [Channel::Sms]
}

/// Judge a replacement at `now` by the rules a submitted short message's content and validity
/// are judged by (the data codings of the module's table, a header's one-part rule, the part
/// limits, a validity in the future and at most [`MAX_VALIDITY`] away), priced by `policy`:
/// what the store writes in place of the message's content, or why it cannot.
pub fn judge_replacement(
    replacement: &ShortReplacement,
    now: Timestamp,
    policy: &SubmissionPolicy,
) -> Result<crate::dispatch::Replacement, Rejection> {
    let valid_until = match replacement.valid_until {
        None => None,
        Some(until) => Some(valid_until(until, now)?),
    };
    let JudgedBody {
        body,
        body_type,
        dcs,
        parts,
    } = judge_body(
        replacement.data_coding,
        &replacement.user_data,
        replacement.udh.as_deref(),
    )?;
    Ok(crate::dispatch::Replacement {
        body,
        body_type: body_type.map(|t| t.to_string()),
        dcs,
        udh: replacement.udh.clone(),
        parts,
        price: policy.price_per_part.times(u64::from(parts)),
        valid_until,
        smpp_registered_delivery: replacement.registered_delivery,
    })
}

/// How many SMS parts `message` is, for counting an SMPP account's rate in parts: 1 with a user
/// data header (the client concatenates), else as the gateway would split its body; 1 when the
/// body cannot be read (the submission then refuses it).
pub fn parts(message: &ShortMessage) -> u32 {
    if message.udh.is_some() {
        return 1;
    }
    content_of(message.data_coding, &message.user_data)
        .ok()
        .and_then(|(body, body_type, dcs)| sms::plan_parts(&body, body_type, dcs).ok())
        .map_or(1, |plan| plan.parts.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_data_coding_is_read_as_its_table_row_says() {
        // GSM: '@' is septet 0, '€' the escape 0x1B then 0x65.
        assert_eq!(
            content_of(0, &[0x00, 0x1B, 0x65, 0x41]).unwrap(),
            ("@€A".to_owned(), None, Some(0))
        );
        assert_eq!(
            content_of(8, &[0x04, 0x1F, 0x00, 0x21]).unwrap(),
            ("П!".to_owned(), None, Some(8))
        );
        assert_eq!(
            content_of(2, &[0xCA, 0xFE]).unwrap(),
            ("CAFE".to_owned(), Some(BodyType::Binary), Some(4))
        );
        assert_eq!(
            content_of(3, &[0x63, 0x61, 0x66, 0xE9]).unwrap(),
            ("café".to_owned(), Some(BodyType::Auto), None)
        );
        assert_eq!(
            content_of(1, &[0x41, 0xC1]).unwrap(),
            ("A\u{FFFD}".to_owned(), Some(BodyType::Auto), None)
        );
        assert_eq!(content_of(8, &[0x04]), Err(SmsBodyError::OddUcs2Length(1)));
        assert_eq!(
            content_of(5, b"x"),
            Err(SmsBodyError::UnsupportedDataCoding(5))
        );
    }

    #[test]
    fn a_header_and_its_body_must_fit_one_part() {
        let udh = [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        let gsm = |septets: u32| sms::PartPlan {
            encoding: SmsEncoding::Gsm7,
            parts: 1,
            units: septets,
        };
        // 6 header octets take 7 septets of the 160: 153 are left.
        assert!(fits_one_part(&udh, &gsm(153)));
        assert!(!fits_one_part(&udh, &gsm(154)));
        let octets = |encoding, units| sms::PartPlan {
            encoding,
            parts: 1,
            units,
        };
        assert!(fits_one_part(&udh, &octets(SmsEncoding::Binary8, 134)));
        assert!(!fits_one_part(&udh, &octets(SmsEncoding::Binary8, 135)));
        assert!(fits_one_part(&udh, &octets(SmsEncoding::Ucs2, 67)));
        assert!(!fits_one_part(&udh, &octets(SmsEncoding::Ucs2, 68)));
    }

    #[test]
    fn a_concatenation_element_makes_a_segment_of_its_message() {
        let segment = |reference, total, seq| {
            Ok(Some(Segment {
                reference,
                total,
                seq,
            }))
        };
        assert_eq!(
            segment_of(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02]),
            segment(0x2A, 3, 2)
        );
        assert_eq!(
            segment_of(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x03]),
            segment(0x1234, 3, 3)
        );
        // After a port element, the concatenation element still counts.
        assert_eq!(
            segment_of(&[
                0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01
            ]),
            segment(7, 2, 1)
        );
        // 1 of 1 is no concatenation; neither is a port header alone, nor a header that does
        // not parse.
        assert_eq!(segment_of(&[0x05, 0x00, 0x03, 0x2A, 0x01, 0x01]), Ok(None));
        assert_eq!(
            segment_of(&[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]),
            Ok(None)
        );
        assert_eq!(segment_of(&[0x03, 0x00, 0x03, 0x2A]), Ok(None));
        for (total, seq) in [(3, 0), (3, 4), (0, 0), (0, 1)] {
            assert_eq!(
                segment_of(&[0x05, 0x00, 0x03, 0x2A, total, seq]),
                Err(SmsBodyError::InvalidConcatenation {
                    sequence: seq,
                    total
                }),
                "{seq} of {total}"
            );
        }
    }

    #[test]
    fn every_recipient_of_a_segment_is_that_segment_of_one_part() {
        use crate::account::ProductToken;
        use crate::submitter::TimeOrderedIds;
        let account = Account {
            id: 1,
            name: "acme".into(),
            token_hash: ProductToken::generate().hash(),
            balance: None,
            status_url: None,
            status_format: crate::account::ReportFormat::Json,
            inbound_url: None,
            inbound_numbers: Vec::new(),
            channels: Channel::ALL.to_vec(),
            smpp: None,
            created_at: Timestamp::UNIX_EPOCH,
            disabled: false,
            webhook_secrets: Default::default(),
        };
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let part = |udh: Vec<u8>| ShortMessage {
            from: "Tern".into(),
            to: vec!["0031612345678".into(), "0031687654321".into()],
            data_coding: 0,
            user_data: b"hello".to_vec(),
            udh: Some(udh),
            reference: None,
            valid_until: None,
            registered_delivery: 1,
        };
        let judged = |message| {
            judge(
                &message,
                &account,
                now,
                &SubmissionPolicy::default(),
                &TimeOrderedIds,
            )
        };
        let outcomes = judged(part(vec![0x05, 0x00, 0x03, 0x2A, 0x03, 0x02]));
        assert_eq!(outcomes.len(), 2);
        for outcome in outcomes {
            let RecipientOutcome::Accepted(message) = outcome else {
                panic!("accepted: {outcome:?}");
            };
            assert_eq!(message.parts, 1);
            assert_eq!(
                message.segment,
                Some(Segment {
                    reference: 0x2A,
                    total: 3,
                    seq: 2
                })
            );
            assert_eq!(
                message.content.udh.as_deref(),
                Some(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02][..])
            );
            let key = message.segment_key().unwrap();
            assert_eq!(
                (
                    key.account_id,
                    key.sender.as_str(),
                    key.recipient.as_str(),
                    key.reference,
                    key.total
                ),
                (1, "Tern", message.recipient.as_str(), 0x2A, 3)
            );
        }
        // 1 of 1: a plain message of one part that keeps its header.
        for outcome in judged(part(vec![0x05, 0x00, 0x03, 0x2A, 0x01, 0x01])) {
            let RecipientOutcome::Accepted(message) = outcome else {
                panic!("accepted: {outcome:?}");
            };
            assert_eq!((message.parts, message.segment), (1, None));
            assert!(message.content.udh.is_some());
        }
        for outcome in judged(part(vec![0x05, 0x00, 0x03, 0x2A, 0x03, 0x04])) {
            let RecipientOutcome::Rejected { rejection, .. } = outcome else {
                panic!("rejected: {outcome:?}");
            };
            assert_eq!(
                rejection,
                Rejection::SmsBody(SmsBodyError::InvalidConcatenation {
                    sequence: 4,
                    total: 3
                })
            );
        }
    }

    mod any_input {
        use proptest::prelude::*;

        use super::*;
        use crate::account::ProductToken;
        use crate::message::MessageId;
        use crate::submitter::TimeOrderedIds;

        fn account() -> Account {
            Account {
                id: 1,
                name: "acme".into(),
                token_hash: ProductToken::generate().hash(),
                balance: None,
                status_url: None,
                status_format: crate::account::ReportFormat::Json,
                inbound_url: None,
                inbound_numbers: Vec::new(),
                channels: Channel::ALL.to_vec(),
                smpp: None,
                created_at: Timestamp::UNIX_EPOCH,
                disabled: false,
                webhook_secrets: Default::default(),
            }
        }

        proptest! {
            /// Whatever octets a client sends, judging answers every destination, never panics,
            /// and what it accepts is a message it can send: one part with a header, at most the
            /// default maximum of parts without, on SMS only.
            #[test]
            fn any_short_message_is_judged(
                data_coding in any::<u8>(),
                user_data in proptest::collection::vec(any::<u8>(), 0..600),
                udh in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
                to in proptest::collection::vec("[+0-9a-z]{0,22}", 0..4),
            ) {
                let message = ShortMessage {
                    from: "Tern".into(),
                    to,
                    data_coding,
                    user_data,
                    udh,
                    reference: None,
                    valid_until: None,
                    registered_delivery: 0,
                };
                let now = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(500_000);
                let outcomes = judge(&message, &account(), now, &SubmissionPolicy::default(), &TimeOrderedIds);
                prop_assert_eq!(outcomes.len(), message.to.len().max(1));
                for outcome in outcomes {
                    if let RecipientOutcome::Accepted(accepted) = outcome {
                        prop_assert_eq!(&accepted.channels, &vec![Channel::Sms]);
                        prop_assert_ne!(accepted.id, MessageId(uuid::Uuid::nil()));
                        if message.udh.is_some() {
                            prop_assert_eq!(accepted.parts, 1);
                        } else {
                            prop_assert!((1..=sms::DEFAULT_MAX_PARTS).contains(&accepted.parts));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_a_message_on_sms_alone_is_replaceable() {
        assert!(replaceable(&[Channel::Sms]));
        assert!(!replaceable(&[Channel::Sms, Channel::WhatsApp]));
        assert!(!replaceable(&[Channel::WhatsApp]));
        assert!(!replaceable(&[]));
    }

    #[test]
    fn a_replacement_is_judged_and_priced_as_a_submitted_content_is() {
        use crate::money::Money;
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let policy = SubmissionPolicy {
            price_per_part: Money(75_000),
            ..SubmissionPolicy::default()
        };
        let replacement = |data_coding, user_data: &[u8]| ShortReplacement {
            data_coding,
            user_data: user_data.to_vec(),
            udh: None,
            valid_until: None,
            registered_delivery: None,
        };
        // GSM, '@' included: one part, the dcs kept, validity and receipts left as they were.
        let judged = judge_replacement(&replacement(0, &[0x00, b'h', b'i']), now, &policy).unwrap();
        assert_eq!(
            judged,
            crate::dispatch::Replacement {
                body: "@hi".into(),
                body_type: None,
                dcs: Some(0),
                udh: None,
                parts: 1,
                price: Money(75_000),
                valid_until: None,
                smpp_registered_delivery: None,
            }
        );
        // 161 GSM characters are two parts, priced so.
        let long = judge_replacement(&replacement(0, &[b'a'; 161]), now, &policy).unwrap();
        assert_eq!((long.parts, long.price), (2, Money(150_000)));
        // Binary is stored as hex.
        let binary = judge_replacement(&replacement(4, &[0xCA, 0xFE]), now, &policy).unwrap();
        assert_eq!(
            (binary.body.as_str(), binary.body_type.as_deref()),
            ("CAFE", Some("BINARY"))
        );
        // A new validity and registered_delivery are kept; a validity in the past is refused.
        let later = now + jiff::SignedDuration::from_hours(1);
        let asked = ShortReplacement {
            valid_until: Some(later),
            registered_delivery: Some(1),
            ..replacement(0, b"x")
        };
        let judged = judge_replacement(&asked, now, &policy).unwrap();
        assert_eq!(
            (judged.valid_until, judged.smpp_registered_delivery),
            (Some(later), Some(1))
        );
        let past = ShortReplacement {
            valid_until: Some(now),
            ..replacement(0, b"x")
        };
        assert_eq!(
            judge_replacement(&past, now, &policy),
            Err(Rejection::InvalidValidity(now.to_string()))
        );
        assert_eq!(
            judge_replacement(&replacement(0, b""), now, &policy),
            Err(Rejection::EmptyBody)
        );
        assert_eq!(
            judge_replacement(&replacement(8, &[0x00]), now, &policy),
            Err(Rejection::SmsBody(SmsBodyError::OddUcs2Length(1)))
        );
        assert_eq!(
            judge_replacement(&replacement(0x05, b"x"), now, &policy),
            Err(Rejection::SmsBody(SmsBodyError::UnsupportedDataCoding(5)))
        );
        let bad_header = ShortReplacement {
            udh: Some(vec![0x05, 0x00]),
            ..replacement(0, b"x")
        };
        assert_eq!(
            judge_replacement(&bad_header, now, &policy),
            Err(Rejection::SmsBody(SmsBodyError::InvalidUdh))
        );
    }

    #[test]
    fn a_replacement_is_read_in_the_data_coding_its_message_was_stored_with() {
        let content = |body_type: Option<&str>, dcs: Option<u8>| Content {
            from: "Tern".into(),
            body: "hi".into(),
            body_type: body_type.map(str::to_owned),
            dcs,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        };
        assert_eq!(replacement_data_coding(&content(None, Some(8))), 8);
        assert_eq!(replacement_data_coding(&content(None, Some(0xF1))), 0xF1);
        assert_eq!(
            replacement_data_coding(&content(Some("BINARY"), Some(0xF4))),
            0xF4
        );
        assert_eq!(replacement_data_coding(&content(Some("BINARY"), None)), 4);
        assert_eq!(replacement_data_coding(&content(Some("AUTO"), None)), 0);
        assert_eq!(replacement_data_coding(&content(None, None)), 0);
    }
}
