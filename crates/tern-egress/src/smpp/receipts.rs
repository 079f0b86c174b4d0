//! The SMSC's deliver_sm and data_sm, sorted: a delivery receipt (read by tern-proto, its state
//! mapped to a CM status by `tern_core::operator_receipt`) or an MO message (one part of it, as
//! the inbound pipeline takes it: its header or SAR TLVs read for its place in a concatenated
//! message).

use std::sync::Arc;

use jiff::Timestamp;
use tern_core::channel::Channel;
use tern_core::error_code::DeliveryError;
use tern_core::inbound::{Concat, InboundPart};
use tern_core::operator_receipt::{OperatorStatus, operator_status};
use tern_proto::smpp::{self, Pdu, ReceiptParseError, Tlvs};
use tern_proto::sms::parse_udh;

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

/// The MO part `pdu` (a deliver_sm or data_sm that is not a receipt) is, received on
/// `connector` at `received_at`. A header that does not parse is kept as text (the part is then a
/// message of its own).
pub fn mo_part(pdu: &Pdu, connector: &Arc<str>, received_at: Timestamp) -> Option<InboundPart> {
    let (from, to, esm_class, data_coding, user_data, tlvs): (&str, &str, u8, u8, &[u8], &Tlvs) =
        match pdu {
            Pdu::DeliverSm(deliver) => (
                &deliver.source_addr,
                &deliver.destination_addr,
                deliver.esm_class,
                deliver.data_coding,
                if deliver.short_message.is_empty() {
                    deliver.tlvs.message_payload.as_deref().unwrap_or(&[])
                } else {
                    &deliver.short_message
                },
                &deliver.tlvs,
            ),
            Pdu::DataSm(data) => (
                &data.source_addr,
                &data.destination_addr,
                data.esm_class,
                data.data_coding,
                data.tlvs.message_payload.as_deref().unwrap_or(&[]),
                &data.tlvs,
            ),
            _ => return None,
        };
    let mut payload = user_data;
    let mut concat = None;
    if esm_class & 0x40 != 0
        && let Ok(udh) = parse_udh(user_data)
    {
        payload = &user_data[udh.len.min(user_data.len())..];
        concat = udh.concat.map(|info| Concat {
            reference: info.reference,
            total: info.total,
            seq: info.sequence,
        });
    }
    if concat.is_none()
        && let (Some(reference), Some(total), Some(seq)) = (
            tlvs.sar_msg_ref_num,
            tlvs.sar_total_segments,
            tlvs.sar_segment_seqnum,
        )
    {
        concat = Some(Concat {
            reference,
            total,
            seq,
        });
    }
    Some(InboundPart {
        connector: Arc::clone(connector),
        channel: Channel::Sms,
        from: from.to_owned(),
        to: to.to_owned(),
        data_coding,
        payload: payload.to_vec(),
        concat,
        received_at,
    })
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

    #[test]
    fn an_mo_part_is_read_with_its_header_or_sar_tlvs() {
        let connector: Arc<str> = "op-a".into();
        let at = Timestamp::UNIX_EPOCH;
        let mut udh = DeliverSm {
            source_addr: "31612345678".into(),
            destination_addr: "3669".into(),
            esm_class: 0x40,
            data_coding: 8,
            short_message: vec![0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 0x04, 0x1F],
            ..DeliverSm::default()
        };
        let part = mo_part(&Pdu::DeliverSm(Box::new(udh.clone())), &connector, at).unwrap();
        assert_eq!(
            (part.from.as_str(), part.to.as_str(), part.data_coding),
            ("31612345678", "3669", 8)
        );
        assert_eq!(part.payload, vec![0x04, 0x1F]);
        assert_eq!(
            part.concat,
            Some(Concat {
                reference: 0x1234,
                total: 2,
                seq: 1
            })
        );
        udh.esm_class = 0;
        udh.short_message = b"hi".to_vec();
        udh.tlvs = Tlvs {
            sar_msg_ref_num: Some(7),
            sar_total_segments: Some(3),
            sar_segment_seqnum: Some(3),
            ..Tlvs::default()
        };
        let sar = mo_part(&Pdu::DeliverSm(Box::new(udh)), &connector, at).unwrap();
        assert_eq!(sar.payload, b"hi".to_vec());
        assert_eq!(
            sar.concat,
            Some(Concat {
                reference: 7,
                total: 3,
                seq: 3
            })
        );
    }
}
