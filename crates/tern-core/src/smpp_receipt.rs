//! Which SMPP delivery receipts a status change produces, and what they report: the SMPP
//! `message_state` of a CM status and error, and whether a client's `registered_delivery` asked
//! for it. The receipt's text is rendered by `tern_proto::smpp::Receipt`; this is the rule
//! behind its `stat`, kept with the other status rules in the domain.

use tern_proto::smpp::MessageState;

use crate::error_code::DeliveryError;
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

#[cfg(test)]
mod tests {
    use super::*;

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
