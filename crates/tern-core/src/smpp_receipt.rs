//! Which SMPP delivery receipts a status change produces, and what they report: the SMPP
//! `message_state` of a CM status and error, whether a client's `registered_delivery` asked
//! for it, and what one receipt says ([`contents`]: its text in the account's format, the state,
//! error, operator and tariff its TLVs carry). The text's wire form is
//! `tern_proto::smpp::Receipt`'s; which PDU carries it is the SMPP surface's. Also what a
//! query_sm answers about a stored message ([`query_answer`]: its state, final date and error).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tern_proto::smpp::{MessageState, Receipt, ReceiptTime, SmppTime};

use crate::dispatch::Report;
use crate::error_code::DeliveryError;
use crate::message::{DeliveryState, MessageId, MessageRecord};
use crate::money::Money;
use crate::smpp_account::ReceiptFormat;
use crate::status::{CmStatus, EXPIRED_ERROR};

/// The state a receipt reports for a message with `status` and `error`: delivered (and read)
/// is DELIVRD; failed is UNDELIV, or EXPIRED when its validity ended (error 8); rejected is
/// REJECTD; accepted by the operator is ACCEPTD, an intermediate state.
pub fn message_state(status: CmStatus, error: Option<DeliveryError>) -> MessageState {
    match status {
        CmStatus::Delivered | CmStatus::Read => MessageState::Delivered,
        CmStatus::Failed if error == Some(EXPIRED_ERROR) => MessageState::Expired,
        CmStatus::Failed => MessageState::Undeliverable,
        CmStatus::Rejected => MessageState::Rejected,
        CmStatus::Accepted => MessageState::Accepted,
    }
}

/// The state a receipt of a status change reports, if the change gets one: a read message was
/// delivered first, and its DELIVRD receipt already said so (SMPP has no read state), so a read
/// report gets none.
pub fn receipted_state(status: CmStatus, error: Option<DeliveryError>) -> Option<MessageState> {
    (status != CmStatus::Read).then(|| message_state(status, error))
}

/// Whether a state is the message's last.
pub fn is_final(state: MessageState) -> bool {
    !matches!(state, MessageState::Enroute | MessageState::Accepted)
}

/// Whether a client that submitted with `registered_delivery` asked for a receipt of `state`
/// (SMPP 3.4 §5.2.17): bits 0-1 ask for final states, 1 for every one and 2 for failures only
/// (3, reserved, is taken as 1: a receipt too many rather than one missing); bit 4 asks for
/// intermediate ones.
pub fn wanted(registered_delivery: u8, state: MessageState) -> bool {
    if !is_final(state) {
        return registered_delivery & 0x10 != 0;
    }
    match registered_delivery & 0x03 {
        0 => false,
        2 => state != MessageState::Delivered,
        _ => true,
    }
}

/// The state query_sm reports for a message in `state` whose last status change had `error`
/// (CM's code): queued or handed to a channel is ENROUTE, accepted by the operator ACCEPTD,
/// delivered (and read) DELIVRD, failed UNDELIV (EXPIRED when its validity ended, error 8),
/// expired EXPIRED, rejected REJECTD, cancelled by its client DELETED.
pub fn query_state(state: DeliveryState, error: Option<u16>) -> MessageState {
    match state {
        DeliveryState::Queued | DeliveryState::Sent => MessageState::Enroute,
        DeliveryState::Accepted => MessageState::Accepted,
        DeliveryState::Delivered | DeliveryState::Read => MessageState::Delivered,
        DeliveryState::Failed if error == Some(EXPIRED_ERROR.code()) => MessageState::Expired,
        DeliveryState::Failed => MessageState::Undeliverable,
        DeliveryState::Expired => MessageState::Expired,
        DeliveryState::Rejected => MessageState::Rejected,
        DeliveryState::Cancelled => MessageState::Deleted,
    }
}

/// What a query_sm_resp says about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// `message_state` ([`query_state`]).
    pub state: MessageState,
    /// `final_date`: when a message in a final state reached it (its last status change, in
    /// UTC); `None` (an empty field) while it is not final, and for a cancelled message (the
    /// store keeps no time of a cancellation: it records no status change).
    pub final_date: Option<SmppTime>,
    /// `error_code`: CM's error code of the last status change of a message in a final state,
    /// when it fits the field's octet; 0 otherwise.
    pub error_code: u8,
}

/// The calendar fields of `at` in UTC, to the second: year, month, day, hour, minute, second.
fn utc_fields(at: Timestamp) -> (u16, u8, u8, u8, u8, u8) {
    let utc = TimeZone::UTC.to_datetime(at);
    (
        utc.year().max(0) as u16,
        utc.month() as u8,
        utc.day() as u8,
        utc.hour() as u8,
        utc.minute() as u8,
        utc.second() as u8,
    )
}

/// The moment `at` as an absolute SMPP time in UTC, to the second (`YYMMDDhhmmss000+`).
pub fn smpp_time(at: Timestamp) -> SmppTime {
    let (year, month, day, hour, minute, second) = utc_fields(at);
    SmppTime::Absolute {
        year,
        month,
        day,
        hour,
        minute,
        second,
        tenths: 0,
        offset_quarter_hours: 0,
    }
}

/// What query_sm answers about `record` (the message as the log shows it).
pub fn query_answer(record: &MessageRecord) -> QueryAnswer {
    let last = record.history.last();
    let error = last.and_then(|change| change.error_code);
    let state = query_state(record.state, error);
    let reported = record.state.is_final() && record.state != DeliveryState::Cancelled;
    QueryAnswer {
        state,
        final_date: last.filter(|_| reported).map(|change| smpp_time(change.at)),
        error_code: error
            .filter(|_| reported)
            .and_then(|code| u8::try_from(code).ok())
            .unwrap_or(0),
    }
}

/// What a receipt is about: one status change of one message.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptFacts<'a> {
    pub message_id: MessageId,
    /// When the message was accepted (the receipt's submit date).
    pub submitted: Timestamp,
    /// When the status change was recorded (its done date).
    pub done: Timestamp,
    pub report: &'a Report,
    /// The message's text (Appendix B repeats its start; a binary body is its hex).
    pub text: &'a str,
    /// The price of one of its parts.
    pub part_price: Money,
}

impl<'a> From<&'a crate::outbox::StatusFact> for ReceiptFacts<'a> {
    /// The facts of a recorded status change, as its outbox entry carries them.
    fn from(fact: &'a crate::outbox::StatusFact) -> Self {
        ReceiptFacts {
            message_id: fact.message_id,
            submitted: fact.accepted_at,
            done: fact.at,
            report: &fact.report,
            text: &fact.body,
            part_price: fact.part_price,
        }
    }
}

/// What a receipt says, for the SMPP surface to put in a `deliver_sm` or `data_sm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptContents {
    /// The text, in the account's format.
    pub text: String,
    /// `receipted_message_id` (TLV 0x001E): the id submit_sm_resp gave.
    pub receipted_message_id: String,
    /// `message_state` (TLV 0x0427).
    pub state: MessageState,
    /// CM's error code, when the channel gave one (TLV 0x0423 as a GSM network error).
    pub error: Option<u16>,
    /// The operator as MCC+MNC digits, when the channel reported one (CM's TLV 0x1401).
    pub operator: Option<String>,
    /// The part's price in whole cents, rounded half up (CM's TLV 0x140A), when it fits the
    /// TLV (at most 99,999).
    pub tariff_cents: Option<u32>,
}

/// Largest tariff CM's TLV 0x140A carries (5 digits and its NUL).
const MAX_TARIFF_CENTS: i64 = 99_999;

/// The moment `at` as a receipt's date shows it (UTC).
pub fn receipt_time(at: Timestamp) -> ReceiptTime {
    let (year, month, day, hour, minute, second) = utc_fields(at);
    ReceiptTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
}

/// The receipt of `facts` in `format`: dates in UTC, `err` the CM error code (000 for none), the
/// operator only when it is MCC+MNC digits (5 or 6), the tariff in cents.
pub fn contents(facts: &ReceiptFacts<'_>, format: ReceiptFormat) -> ReceiptContents {
    let id = facts.message_id.smpp_id();
    let state = message_state(facts.report.status, facts.report.error_code);
    let error = facts.report.error_code.map(DeliveryError::code);
    let receipt = Receipt {
        id: &id,
        submitted: receipt_time(facts.submitted),
        done: receipt_time(facts.done),
        state,
        error: error.unwrap_or(0),
        text: facts.text,
    };
    let text = match format {
        ReceiptFormat::Cm => receipt.cm(),
        ReceiptFormat::AppendixB => receipt.appendix_b(),
    };
    let operator = facts.report.operator.clone().filter(|operator| {
        (5..=6).contains(&operator.len()) && operator.bytes().all(|b| b.is_ascii_digit())
    });
    let cents = (facts.part_price.micros().max(0) + 5_000) / 10_000;
    ReceiptContents {
        text,
        receipted_message_id: id,
        state,
        error,
        operator,
        tariff_cents: (cents <= MAX_TARIFF_CENTS).then_some(cents as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;

    #[test]
    fn a_receipt_says_the_state_error_operator_and_tariff_of_its_status_change() {
        let message_id = MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap();
        let report = Report {
            channel: Channel::Sms,
            status: CmStatus::Failed,
            error_code: Some(DeliveryError::ExpiredAtThirdParty),
            operator: Some("20416".into()),
            detail: None,
        };
        let facts = ReceiptFacts {
            message_id,
            submitted: "2026-11-30T09:05:07Z".parse().unwrap(),
            done: "2026-12-01T23:59:58.9Z".parse().unwrap(),
            report: &report,
            text: "Hello there, this is a long text",
            part_price: Money(75_000),
        };
        assert_eq!(
            contents(&facts, ReceiptFormat::Cm),
            ReceiptContents {
                text: "id:0195d3b2c4e47a1b9c3f00112233aabb submit date:20261130090507 done date:20261201235958 stat:EXPIRED err:008".into(),
                receipted_message_id: "0195d3b2c4e47a1b9c3f00112233aabb".into(),
                state: MessageState::Expired,
                error: Some(8),
                operator: Some("20416".into()),
                tariff_cents: Some(8),
            }
        );
        assert_eq!(
            contents(&facts, ReceiptFormat::AppendixB).text,
            "id:0195d3b2c4e47a1b9c3f00112233aabb sub:001 dlvrd:000 submit date:2611300905 done date:2612012359 stat:EXPIRED err:008 text:Hello there, this is"
        );
        let delivered = Report {
            channel: Channel::Sms,
            status: CmStatus::Delivered,
            error_code: None,
            operator: Some("KPN".into()),
            detail: None,
        };
        let facts = ReceiptFacts {
            report: &delivered,
            part_price: Money(1_000_000_000),
            ..facts
        };
        let contents = contents(&facts, ReceiptFormat::Cm);
        assert_eq!(contents.state, MessageState::Delivered);
        assert_eq!(contents.error, None);
        assert!(contents.text.ends_with(" stat:DELIVRD err:000"));
        // Not MCC+MNC digits: no operator TLV. 1,000.00 a part: beyond the tariff TLV.
        assert_eq!(contents.operator, None);
        assert_eq!(contents.tariff_cents, None);
    }

    #[test]
    fn each_status_reports_its_state() {
        use MessageState as S;
        let cases = [
            (CmStatus::Delivered, None, S::Delivered),
            (CmStatus::Read, None, S::Delivered),
            (
                CmStatus::Failed,
                Some(DeliveryError::ExpiredAtThirdParty),
                S::Expired,
            ),
            (
                CmStatus::Failed,
                Some(DeliveryError::NotDeliveredAtThirdParty),
                S::Undeliverable,
            ),
            (
                CmStatus::Failed,
                Some(DeliveryError::ExpiredAtOperator),
                S::Undeliverable,
            ),
            (CmStatus::Failed, None, S::Undeliverable),
            (CmStatus::Rejected, None, S::Rejected),
            (CmStatus::Accepted, None, S::Accepted),
        ];
        for (status, error, state) in cases {
            assert_eq!(message_state(status, error), state, "{status:?} {error:?}");
        }
    }

    #[test]
    fn each_delivery_state_answers_query_sm_with_its_state() {
        use DeliveryState as D;
        use MessageState as S;
        let cases = [
            (D::Queued, None, S::Enroute),
            (D::Sent, None, S::Enroute),
            (D::Accepted, None, S::Accepted),
            (D::Delivered, None, S::Delivered),
            (D::Read, None, S::Delivered),
            (D::Failed, Some(8), S::Expired),
            (D::Failed, Some(9), S::Undeliverable),
            (D::Failed, None, S::Undeliverable),
            (D::Expired, Some(8), S::Expired),
            (D::Rejected, Some(9), S::Rejected),
            (D::Cancelled, None, S::Deleted),
        ];
        for (state, error, expected) in cases {
            assert_eq!(query_state(state, error), expected, "{state:?} {error:?}");
        }
    }

    fn record(state: DeliveryState, history: Vec<crate::message::StatusEvent>) -> MessageRecord {
        use crate::error_code::Surface;
        use crate::message::{Content, NewMessage};
        use std::sync::Arc;
        MessageRecord {
            message: NewMessage {
                id: MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap(),
                account_id: 1,
                recipient: "0031612345678".into(),
                content: Arc::new(Content {
                    from: "Tern".into(),
                    body: "hi".into(),
                    body_type: None,
                    dcs: Some(0),
                    app_key: None,
                    rich_content: None,
                    custom_groupings: [None, None, None],
                    udh: None,
                }),
                parts: 1,
                reference: None,
                channels: vec![Channel::Sms],
                accepted_at: "2026-11-30T09:00:00Z".parse().unwrap(),
                valid_until: "2026-12-01T09:00:00Z".parse().unwrap(),
                price: Money(75_000),
                source: Surface::Smpp,
                smpp_registered_delivery: 1,
                segment: None,
            },
            state,
            channel: Some(Channel::Sms),
            history,
            conversions: Vec::new(),
            segments: None,
            sends: Vec::new(),
        }
    }

    fn change(at: &str, status: CmStatus, error_code: Option<u16>) -> crate::message::StatusEvent {
        crate::message::StatusEvent {
            at: at.parse().unwrap(),
            channel: Channel::Sms,
            status,
            error_code,
            operator: None,
        }
    }

    #[test]
    fn query_sm_gives_the_final_date_and_error_of_a_final_state_only() {
        let field = |answer: &QueryAnswer| answer.final_date.map(|date| date.to_field());
        // Queued: no status change yet.
        let queued = query_answer(&record(DeliveryState::Queued, Vec::new()));
        assert_eq!(
            queued,
            QueryAnswer {
                state: MessageState::Enroute,
                final_date: None,
                error_code: 0
            }
        );
        // Accepted by the operator, not final: no date, no error.
        let accepted = query_answer(&record(
            DeliveryState::Accepted,
            vec![change("2026-11-30T09:00:01Z", CmStatus::Accepted, None)],
        ));
        assert_eq!(
            (accepted.state, field(&accepted)),
            (MessageState::Accepted, None)
        );
        // Delivered, then read: the last change's time, in UTC, to the second.
        let read = query_answer(&record(
            DeliveryState::Read,
            vec![
                change("2026-11-30T09:00:02Z", CmStatus::Delivered, None),
                change("2026-11-30T23:59:58.9+00:00", CmStatus::Read, None),
            ],
        ));
        assert_eq!(read.state, MessageState::Delivered);
        assert_eq!(field(&read).as_deref(), Some("261130235958000+"));
        assert_eq!(read.error_code, 0);
        // Failed: UNDELIV with its error; error 8 is EXPIRED.
        let failed = query_answer(&record(
            DeliveryState::Failed,
            vec![change("2026-11-30T10:00:00Z", CmStatus::Failed, Some(9))],
        ));
        assert_eq!(
            (failed.state, field(&failed).as_deref(), failed.error_code),
            (MessageState::Undeliverable, Some("261130100000000+"), 9)
        );
        let expired = query_answer(&record(
            DeliveryState::Failed,
            vec![change("2026-11-30T10:00:00Z", CmStatus::Failed, Some(8))],
        ));
        assert_eq!(
            (expired.state, expired.error_code),
            (MessageState::Expired, 8)
        );
        // An error code beyond one octet is 0.
        let wide = query_answer(&record(
            DeliveryState::Rejected,
            vec![change(
                "2026-11-30T10:00:00Z",
                CmStatus::Rejected,
                Some(300),
            )],
        ));
        assert_eq!((wide.state, wide.error_code), (MessageState::Rejected, 0));
        // Cancelled: final, but the store keeps no time of it.
        let cancelled = query_answer(&record(DeliveryState::Cancelled, Vec::new()));
        assert_eq!(
            cancelled,
            QueryAnswer {
                state: MessageState::Deleted,
                final_date: None,
                error_code: 0
            }
        );
        // Queued again on its next channel after a failure: en route, the failure not reported.
        let again = query_answer(&record(
            DeliveryState::Queued,
            vec![change("2026-11-30T10:00:00Z", CmStatus::Failed, Some(9))],
        ));
        assert_eq!(
            again,
            QueryAnswer {
                state: MessageState::Enroute,
                final_date: None,
                error_code: 0
            }
        );
    }

    #[test]
    fn registered_delivery_chooses_the_receipts() {
        use MessageState as S;
        let states = [
            S::Accepted,
            S::Delivered,
            S::Undeliverable,
            S::Expired,
            S::Rejected,
        ];
        // (registered_delivery, which of `states` it wants)
        let cases: [(u8, [bool; 5]); 6] = [
            (0x00, [false, false, false, false, false]),
            (0x01, [false, true, true, true, true]),
            (0x02, [false, false, true, true, true]),
            (0x03, [false, true, true, true, true]),
            (0x10, [true, false, false, false, false]),
            (0x11, [true, true, true, true, true]),
        ];
        for (registered, wants) in cases {
            for (state, want) in states.iter().zip(wants) {
                assert_eq!(
                    wanted(registered, *state),
                    want,
                    "{registered:#04x} {state:?}"
                );
            }
        }
        // Bits other than 0-1 and 4 (SME acknowledgements) ask for no receipt.
        assert!(!wanted(0x0C, S::Delivered));
    }
}
