//! What an operator's delivery receipt means in Tern's domain: the CM status, the CM error code
//! and the operator a receipt from an SMSC (read by `tern_proto::smpp::parse_deliver_sm_receipt`)
//! stands for. The SMPP client connector asks this for every receipt it matches to a submit;
//! the reverse direction — the receipts Tern's own SMPP server sends — is [`smpp_receipt`]'s.
//!
//! States: DELIVRD is Delivered; ACCEPTD and ENROUTE are Accepted (not final); REJECTD is
//! Rejected; UNDELIV, EXPIRED, DELETED and UNKNOWN are Failed. A state SMPP does not define is
//! not guessed at: [`UnrecognisedState`].
//!
//! Errors (Failed and Rejected only; Delivered and Accepted carry none): the receipt's `err:`
//! when it is one of CM's standard codes (5-37, [`DeliveryError`]), else the error code of the
//! `network_error_code` TLV when that is one (as Tern's own receipts carry it), else for EXPIRED
//! [`EXPIRED_ERROR`] (8: the validity ended before delivery), else the connector's configured
//! `default_error_code`. `err:000` and codes outside CM's table count as none.
//!
//! [`smpp_receipt`]: crate::smpp_receipt

use tern_proto::smpp::{MessageState, ParsedReceipt, ReceiptErr, ReceiptState};
use thiserror::Error;

use crate::error_code::DeliveryError;
use crate::status::{CmStatus, EXPIRED_ERROR};

/// What an operator's receipt reports, in CM's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorStatus {
    /// The CM status.
    pub status: CmStatus,
    /// CM's error code, for Failed and Rejected only.
    pub error: Option<DeliveryError>,
    /// The operator's MCC+MNC (5 or 6 digits) from CM's TLV 0x1401, when the receipt carries one.
    pub operator: Option<String>,
}

/// A receipt whose state SMPP 3.4 does not define (a `message_state` of 0 or above 8, or a
/// `stat:` no SMSC convention names): the connector logs it and keeps waiting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("receipt state {0:?} is not an SMPP message state")]
pub struct UnrecognisedState(pub ReceiptState);

/// The CM status of an SMPP message state.
pub fn cm_status(state: MessageState) -> CmStatus {
    match state {
        MessageState::Delivered => CmStatus::Delivered,
        MessageState::Accepted | MessageState::Enroute => CmStatus::Accepted,
        MessageState::Rejected => CmStatus::Rejected,
        MessageState::Undeliverable
        | MessageState::Expired
        | MessageState::Deleted
        | MessageState::Unknown => CmStatus::Failed,
    }
}

/// The CM status and error of a receipt in `state` with `err` (the text's) and
/// `network_error` (the TLV's code), as the module documentation says.
pub fn status_and_error(
    state: MessageState,
    err: Option<&ReceiptErr>,
    network_error: Option<u16>,
    default_error: DeliveryError,
) -> (CmStatus, Option<DeliveryError>) {
    let status = cm_status(state);
    if !matches!(status, CmStatus::Failed | CmStatus::Rejected) {
        return (status, None);
    }
    let text_error = match err {
        Some(ReceiptErr::Code(code)) => DeliveryError::from_code(*code),
        _ => None,
    };
    let error = text_error
        .or_else(|| network_error.and_then(DeliveryError::from_code))
        .unwrap_or(if state == MessageState::Expired {
            EXPIRED_ERROR
        } else {
            default_error
        });
    (status, Some(error))
}

/// What `receipt` reports; `default_error` is the connector's `default_error_code`.
pub fn operator_status(
    receipt: &ParsedReceipt,
    default_error: DeliveryError,
) -> Result<OperatorStatus, UnrecognisedState> {
    let ReceiptState::Known(state) = receipt.state else {
        return Err(UnrecognisedState(receipt.state.clone()));
    };
    let (status, error) = status_and_error(
        state,
        receipt.err.as_ref(),
        receipt.network_error(),
        default_error,
    );
    let operator = receipt
        .operator_mcc_mnc
        .as_deref()
        .map(str::trim)
        .filter(|operator| {
            (5..=6).contains(&operator.len()) && operator.bytes().all(|b| b.is_ascii_digit())
        });
    Ok(OperatorStatus {
        status,
        error,
        operator: operator.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use tern_proto::smpp::{self, DeliverSm, Tlvs};

    use super::*;
    use crate::channel::Channel;
    use crate::dispatch::Report;
    use crate::message::MessageId;
    use crate::money::Money;
    use crate::smpp_account::ReceiptFormat;
    use crate::smpp_receipt::{ReceiptFacts, contents};

    const DEFAULT: DeliveryError = DeliveryError::NotDeliveredAtThirdParty;

    #[test]
    fn each_state_and_error_maps_to_a_cm_status_and_code() {
        use CmStatus as C;
        use DeliveryError as E;
        use MessageState as S;
        let code = |code: u16| Some(ReceiptErr::Code(code));
        // (state, err, network error, default, expected status, expected error)
        let cases = [
            (S::Delivered, code(0), None, DEFAULT, C::Delivered, None),
            (
                S::Delivered,
                code(24),
                Some(24),
                DEFAULT,
                C::Delivered,
                None,
            ),
            (S::Accepted, None, None, DEFAULT, C::Accepted, None),
            (S::Enroute, code(1), None, DEFAULT, C::Accepted, None),
            (
                S::Rejected,
                None,
                None,
                DEFAULT,
                C::Rejected,
                Some(E::NotDeliveredAtThirdParty),
            ),
            (
                S::Rejected,
                code(29),
                None,
                DEFAULT,
                C::Rejected,
                Some(E::ContentNotPermitted),
            ),
            (
                S::Undeliverable,
                code(24),
                None,
                DEFAULT,
                C::Failed,
                Some(E::RecipientUnreachable),
            ),
            (
                S::Undeliverable,
                code(0),
                None,
                DEFAULT,
                C::Failed,
                Some(E::NotDeliveredAtThirdParty),
            ),
            // 1 and 6 are no CM codes: the default.
            (
                S::Undeliverable,
                code(1),
                None,
                E::RecipientUnreachable,
                C::Failed,
                Some(E::RecipientUnreachable),
            ),
            (
                S::Undeliverable,
                code(6),
                None,
                DEFAULT,
                C::Failed,
                Some(E::NotDeliveredAtThirdParty),
            ),
            (
                S::Undeliverable,
                Some(ReceiptErr::Raw("0x18".into())),
                None,
                DEFAULT,
                C::Failed,
                Some(E::NotDeliveredAtThirdParty),
            ),
            // No err: the network error code when it is a CM code.
            (
                S::Undeliverable,
                None,
                Some(27),
                DEFAULT,
                C::Failed,
                Some(E::PermanentHandsetIssue),
            ),
            (
                S::Undeliverable,
                code(23),
                Some(27),
                DEFAULT,
                C::Failed,
                Some(E::IncorrectRecipientNumber),
            ),
            (
                S::Undeliverable,
                None,
                Some(1),
                DEFAULT,
                C::Failed,
                Some(E::NotDeliveredAtThirdParty),
            ),
            (
                S::Expired,
                None,
                None,
                DEFAULT,
                C::Failed,
                Some(E::ExpiredAtThirdParty),
            ),
            (
                S::Expired,
                code(0),
                None,
                DEFAULT,
                C::Failed,
                Some(E::ExpiredAtThirdParty),
            ),
            (
                S::Expired,
                code(21),
                None,
                DEFAULT,
                C::Failed,
                Some(E::ExpiredAtOperator),
            ),
            (
                S::Deleted,
                None,
                None,
                DEFAULT,
                C::Failed,
                Some(E::NotDeliveredAtThirdParty),
            ),
            (
                S::Unknown,
                None,
                None,
                E::Throttled,
                C::Failed,
                Some(E::Throttled),
            ),
        ];
        for (state, err, network, default, status, error) in cases {
            assert_eq!(
                status_and_error(state, err.as_ref(), network, default),
                (status, error),
                "{state:?} {err:?} {network:?}"
            );
        }
    }

    fn receipt_text(text: &str, tlvs: Tlvs) -> ParsedReceipt {
        let sm = DeliverSm {
            esm_class: smpp::ESM_CLASS_DELIVERY_RECEIPT,
            short_message: text.as_bytes().to_vec(),
            tlvs,
            ..DeliverSm::default()
        };
        smpp::parse_deliver_sm_receipt(&sm).unwrap()
    }

    #[test]
    fn foreign_receipts_in_text_form() {
        let receipt = receipt_text(
            "id:3039 sub:001 dlvrd:000 submit date:2611300905 done date:2611300906 stat:UNDELIV err:001 text:hi",
            Tlvs::default(),
        );
        assert_eq!(
            operator_status(&receipt, DEFAULT),
            Ok(OperatorStatus {
                status: CmStatus::Failed,
                error: Some(DeliveryError::NotDeliveredAtThirdParty),
                operator: None,
            })
        );
        let receipt = receipt_text("id:1 stat:DELIVERD err:000", Tlvs::default());
        assert_eq!(
            operator_status(&receipt, DEFAULT).unwrap().status,
            CmStatus::Delivered
        );
        let receipt = receipt_text("id:1 stat:LOST", Tlvs::default());
        assert_eq!(
            operator_status(&receipt, DEFAULT),
            Err(UnrecognisedState(ReceiptState::UnknownStat("LOST".into())))
        );
        let receipt = receipt_text(
            "",
            Tlvs {
                receipted_message_id: Some("1".into()),
                message_state: Some(9),
                ..Tlvs::default()
            },
        );
        assert!(operator_status(&receipt, DEFAULT).is_err());
    }

    /// Receipts exactly as Tern's SMPP server sends them (text from `smpp_receipt::contents`,
    /// TLVs as tern-egress's receipt sender sets them) read back to the report they came from.
    #[test]
    fn tern_receipts_round_trip() {
        use CmStatus as C;
        use DeliveryError as E;
        let message_id = MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap();
        let reports = [
            (C::Delivered, None, Some("20416")),
            (C::Accepted, None, None),
            (C::Failed, Some(E::ExpiredAtThirdParty), Some("310260")),
            (C::Failed, Some(E::RecipientUnreachable), None),
            (C::Failed, Some(E::ExpiredAtOperator), None),
            (C::Rejected, Some(E::ContentNotPermitted), None),
        ];
        for (status, error_code, operator) in reports {
            let report = Report {
                channel: Channel::Sms,
                status,
                error_code,
                operator: operator.map(str::to_owned),
                detail: None,
            };
            let facts = ReceiptFacts {
                message_id,
                submitted: "2026-11-30T09:05:07Z".parse().unwrap(),
                done: "2026-12-01T23:59:58Z".parse().unwrap(),
                report: &report,
                text: "stat:DELIVRD err:000 text",
                part_price: Money(75_000),
            };
            for format in [ReceiptFormat::Cm, ReceiptFormat::AppendixB] {
                let sent = contents(&facts, format);
                let with_tlvs = Tlvs {
                    receipted_message_id: Some(sent.receipted_message_id.clone()),
                    message_state: Some(sent.state.value()),
                    network_error_code: sent.error.map(|code| {
                        let [high, low] = code.to_be_bytes();
                        [3, high, low]
                    }),
                    cm_operator_mcc_mnc: sent.operator.clone(),
                    ..Tlvs::default()
                };
                let expected = OperatorStatus {
                    status,
                    error: error_code,
                    operator: operator.map(str::to_owned),
                };
                // With its TLVs, from the text alone, and from the TLVs alone.
                let text_only = Tlvs {
                    cm_operator_mcc_mnc: sent.operator.clone(),
                    ..Tlvs::default()
                };
                let tlvs_only = receipt_text("", with_tlvs.clone());
                for receipt in [
                    receipt_text(&sent.text, with_tlvs.clone()),
                    receipt_text(&sent.text, text_only),
                    tlvs_only,
                ] {
                    assert_eq!(receipt.id, "0195d3b2c4e47a1b9c3f00112233aabb");
                    assert_eq!(
                        operator_status(&receipt, DeliveryError::Throttled),
                        Ok(expected.clone()),
                        "{format:?} {}",
                        sent.text
                    );
                }
            }
        }
    }

    #[test]
    fn the_operator_is_mcc_mnc_digits_only() {
        for (tlv, expected) in [
            (Some("20416"), Some("20416")),
            (Some("310260"), Some("310260")),
            (Some("2041"), None),
            (Some("KPN NL"), None),
            (None, None),
        ] {
            let receipt = receipt_text(
                "id:1 stat:DELIVRD",
                Tlvs {
                    cm_operator_mcc_mnc: tlv.map(str::to_owned),
                    ..Tlvs::default()
                },
            );
            assert_eq!(
                operator_status(&receipt, DEFAULT)
                    .unwrap()
                    .operator
                    .as_deref(),
                expected
            );
        }
    }
}
