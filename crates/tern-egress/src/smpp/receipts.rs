//! The SMSC's deliver_sm and data_sm, sorted: a delivery receipt (read by tern-proto, its state
//! mapped to a CM status by `tern_core::operator_receipt`) or an MO message.

use tern_core::error_code::DeliveryError;
use tern_core::operator_receipt::{OperatorStatus, operator_status};
use tern_proto::smpp::{self, Pdu, ReceiptParseError};

/// What a deliver_sm or data_sm from the SMSC is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// A receipt about the submit whose id is `id`, reporting `status`.
    Receipt { id: String, status: OperatorStatus },
    /// A receipt Tern cannot use (no id, no state, a state SMPP does not define): why.
    UnreadableReceipt(String),
    /// Not a receipt: an MO message.
    Mo,
}

/// What `pdu` (a deliver_sm or data_sm) is; `default_error` is the connector's.
pub fn sort(pdu: &Pdu, default_error: DeliveryError) -> Delivered {
    let parsed = match pdu {
        Pdu::DeliverSm(deliver) => smpp::parse_deliver_sm_receipt(deliver),
        Pdu::DataSm(data) => smpp::parse_data_sm_receipt(data),
        _ => Err(ReceiptParseError::NotAReceipt),
    };
    match parsed {
        Ok(receipt) => match operator_status(&receipt, default_error) {
            Ok(status) => Delivered::Receipt {
                id: receipt.id,
                status,
            },
            Err(error) => Delivered::UnreadableReceipt(error.to_string()),
        },
        Err(ReceiptParseError::NotAReceipt) => Delivered::Mo,
        Err(error) => Delivered::UnreadableReceipt(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use tern_core::status::CmStatus;
    use tern_proto::smpp::{DeliverSm, Tlvs};

    use super::*;

    fn deliver(esm_class: u8, text: &str) -> Pdu {
        Pdu::DeliverSm(Box::new(DeliverSm {
            esm_class,
            short_message: text.as_bytes().to_vec(),
            tlvs: Tlvs::default(),
            ..DeliverSm::default()
        }))
    }

    #[test]
    fn receipts_mos_and_receipts_that_say_nothing_usable() {
        let default = DeliveryError::NotDeliveredAtThirdParty;
        assert_eq!(
            sort(
                &deliver(
                    0x04,
                    "id:00AB12 sub:001 dlvrd:000 submit date:2612011200 done date:2612011201 stat:UNDELIV err:024 text:hi"
                ),
                default
            ),
            Delivered::Receipt {
                id: "00AB12".into(),
                status: OperatorStatus {
                    status: CmStatus::Failed,
                    error: Some(DeliveryError::RecipientUnreachable),
                    operator: None,
                }
            }
        );
        assert_eq!(sort(&deliver(0, "hello"), default), Delivered::Mo);
        assert!(matches!(
            sort(&deliver(0x04, "id:1 stat:WHATEVER"), default),
            Delivered::UnreadableReceipt(_)
        ));
    }
}
