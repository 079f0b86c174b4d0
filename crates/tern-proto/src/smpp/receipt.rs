//! The text of an SMPP delivery receipt, in CM's format and in SMPP 3.4's Appendix B form, and
//! the `message_state` values (§5.2.28) a receipt carries. Pure formatting: which state a
//! message's status becomes is the domain's decision (tern-core), not the wire's.

use std::fmt::Write;

/// SMPP 3.4 `message_state` (§5.2.28), as the TLV 0x0427 carries it and, as its 7-character
/// `stat`, the receipt text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageState {
    /// 1: on its way (intermediate receipts only).
    Enroute = 1,
    /// 2: delivered to the handset.
    Delivered = 2,
    /// 3: its validity ended before delivery.
    Expired = 3,
    /// 4: deleted.
    Deleted = 4,
    /// 5: will not be delivered.
    Undeliverable = 5,
    /// 6: buffered at the operator (intermediate receipts only).
    Accepted = 6,
    /// 7: in an invalid state.
    Unknown = 7,
    /// 8: refused.
    Rejected = 8,
}

impl MessageState {
    /// The value of the `message_state` TLV.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// The state of a `message_state` TLV value; `None` for values SMPP 3.4 does not define.
    pub const fn from_value(value: u8) -> Option<MessageState> {
        Some(match value {
            1 => MessageState::Enroute,
            2 => MessageState::Delivered,
            3 => MessageState::Expired,
            4 => MessageState::Deleted,
            5 => MessageState::Undeliverable,
            6 => MessageState::Accepted,
            7 => MessageState::Unknown,
            8 => MessageState::Rejected,
            _ => return None,
        })
    }

    /// The state a receipt text's `stat` names, in any case: the 7-character SMPP forms, the
    /// spec text's typo `DELIVERD`, and the spelled-out words some SMSCs send (`DELIVERED`,
    /// `UNDELIVERABLE`, `ACCEPTED`, `REJECTED`). `None` for anything else.
    pub fn from_stat(stat: &str) -> Option<MessageState> {
        const NAMES: [(&str, MessageState); 13] = [
            ("ENROUTE", MessageState::Enroute),
            ("DELIVRD", MessageState::Delivered),
            ("DELIVERD", MessageState::Delivered),
            ("DELIVERED", MessageState::Delivered),
            ("EXPIRED", MessageState::Expired),
            ("DELETED", MessageState::Deleted),
            ("UNDELIV", MessageState::Undeliverable),
            ("UNDELIVERABLE", MessageState::Undeliverable),
            ("ACCEPTD", MessageState::Accepted),
            ("ACCEPTED", MessageState::Accepted),
            ("UNKNOWN", MessageState::Unknown),
            ("REJECTD", MessageState::Rejected),
            ("REJECTED", MessageState::Rejected),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(stat))
            .map(|&(_, state)| state)
    }

    /// The 7-character `stat` of the receipt text (`DELIVRD`: CM's text spells it `DELIVERD`,
    /// a typo; SMPP and every ESME parser use `DELIVRD`).
    pub const fn stat(self) -> &'static str {
        match self {
            MessageState::Enroute => "ENROUTE",
            MessageState::Delivered => "DELIVRD",
            MessageState::Expired => "EXPIRED",
            MessageState::Deleted => "DELETED",
            MessageState::Undeliverable => "UNDELIV",
            MessageState::Accepted => "ACCEPTD",
            MessageState::Unknown => "UNKNOWN",
            MessageState::Rejected => "REJECTD",
        }
    }
}

/// A UTC date and time as a receipt shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptTime {
    /// Four digits.
    pub year: u16,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 0-59.
    pub second: u8,
}

impl ReceiptTime {
    /// CM's form: `yyyyMMddHHmmss`.
    fn write_cm(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year % 10_000,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second
        );
    }

    /// Appendix B's form: `YYMMDDhhmm`.
    fn write_appendix_b(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:02}{:02}{:02}{:02}{:02}",
            self.year % 100,
            self.month,
            self.day,
            self.hour,
            self.minute
        );
    }
}

/// Characters of the message's text an Appendix B receipt repeats.
pub const APPENDIX_B_TEXT_CHARS: usize = 20;

/// What a receipt's text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// The message id the submit_sm_resp gave (32 lowercase hex digits).
    pub id: &'a str,
    /// When the message was submitted.
    pub submitted: ReceiptTime,
    /// When it reached the state reported.
    pub done: ReceiptTime,
    /// The state reported.
    pub state: MessageState,
    /// CM's error code (5-37), 0 for none; shown as three digits.
    pub error: u16,
    /// The message's text, of which Appendix B repeats the start.
    pub text: &'a str,
}

impl Receipt<'_> {
    /// CM's format: `id:… submit date:yyyyMMddHHmmss done date:yyyyMMddHHmmss stat:SSSSSSS
    /// err:EEE` (one line, single spaces).
    pub fn cm(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("id:");
        out.push_str(self.id);
        out.push_str(" submit date:");
        self.submitted.write_cm(&mut out);
        out.push_str(" done date:");
        self.done.write_cm(&mut out);
        let _ = write!(
            out,
            " stat:{} err:{:03}",
            self.state.stat(),
            self.error % 1000
        );
        out
    }

    /// SMPP 3.4 Appendix B: `id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done
    /// date:YYMMDDhhmm stat:… err:… text:…` (`dlvrd` is 001 only for a delivered message; the
    /// text is the message's first [`APPENDIX_B_TEXT_CHARS`] characters).
    pub fn appendix_b(&self) -> String {
        let mut out = String::with_capacity(128);
        let delivered = u8::from(self.state == MessageState::Delivered);
        let _ = write!(
            out,
            "id:{} sub:001 dlvrd:{delivered:03} submit date:",
            self.id
        );
        self.submitted.write_appendix_b(&mut out);
        out.push_str(" done date:");
        self.done.write_appendix_b(&mut out);
        let _ = write!(
            out,
            " stat:{} err:{:03} text:",
            self.state.stat(),
            self.error % 1000
        );
        out.extend(self.text.chars().take(APPENDIX_B_TEXT_CHARS));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBMITTED: ReceiptTime = ReceiptTime {
        year: 2026,
        month: 11,
        day: 30,
        hour: 9,
        minute: 5,
        second: 7,
    };
    const DONE: ReceiptTime = ReceiptTime {
        year: 2026,
        month: 12,
        day: 1,
        hour: 23,
        minute: 59,
        second: 58,
    };
    const ID: &str = "0195d3b2c4e47a1b9c3f00112233aabb";

    fn receipt(state: MessageState, error: u16, text: &str) -> Receipt<'_> {
        Receipt {
            id: ID,
            submitted: SUBMITTED,
            done: DONE,
            state,
            error,
            text,
        }
    }

    #[test]
    fn cm_format_is_exact() {
        assert_eq!(
            receipt(MessageState::Delivered, 0, "hello").cm(),
            "id:0195d3b2c4e47a1b9c3f00112233aabb submit date:20261130090507 done date:20261201235958 stat:DELIVRD err:000"
        );
        assert_eq!(
            receipt(MessageState::Expired, 8, "").cm(),
            "id:0195d3b2c4e47a1b9c3f00112233aabb submit date:20261130090507 done date:20261201235958 stat:EXPIRED err:008"
        );
    }

    #[test]
    fn appendix_b_form_is_exact() {
        assert_eq!(
            receipt(
                MessageState::Delivered,
                0,
                "Your code is 123456, valid 5 minutes"
            )
            .appendix_b(),
            "id:0195d3b2c4e47a1b9c3f00112233aabb sub:001 dlvrd:001 submit date:2611300905 done date:2612012359 stat:DELIVRD err:000 text:Your code is 123456,"
        );
        // Not delivered: dlvrd 000; the text cut by characters, not octets.
        assert_eq!(
            receipt(
                MessageState::Undeliverable,
                24,
                "Grüße aus Köln, schöne Grüße"
            )
            .appendix_b(),
            "id:0195d3b2c4e47a1b9c3f00112233aabb sub:001 dlvrd:000 submit date:2611300905 done date:2612012359 stat:UNDELIV err:024 text:Grüße aus Köln, schö"
        );
    }

    #[test]
    fn states_have_smpp_values_and_seven_character_stats() {
        let all = [
            (MessageState::Enroute, 1, "ENROUTE"),
            (MessageState::Delivered, 2, "DELIVRD"),
            (MessageState::Expired, 3, "EXPIRED"),
            (MessageState::Deleted, 4, "DELETED"),
            (MessageState::Undeliverable, 5, "UNDELIV"),
            (MessageState::Accepted, 6, "ACCEPTD"),
            (MessageState::Unknown, 7, "UNKNOWN"),
            (MessageState::Rejected, 8, "REJECTD"),
        ];
        for (state, value, stat) in all {
            assert_eq!((state.value(), state.stat()), (value, stat));
            assert_eq!(MessageState::from_value(value), Some(state));
            assert_eq!(MessageState::from_stat(stat), Some(state));
            assert_eq!(MessageState::from_stat(&stat.to_lowercase()), Some(state));
            assert_eq!(stat.len(), 7);
        }
    }

    #[test]
    fn other_values_and_stats_are_no_state() {
        assert_eq!(MessageState::from_value(0), None);
        assert_eq!(MessageState::from_value(9), None);
        assert_eq!(
            MessageState::from_stat("DeliverD"),
            Some(MessageState::Delivered)
        );
        assert_eq!(MessageState::from_stat("DELIV"), None);
        assert_eq!(MessageState::from_stat(""), None);
    }

    #[test]
    fn receipts_stay_within_255_characters() {
        let long = "x".repeat(1000);
        let receipt = receipt(MessageState::Rejected, 37, &long);
        assert!(receipt.cm().len() <= 255);
        assert!(receipt.appendix_b().chars().count() <= 255);
    }
}
