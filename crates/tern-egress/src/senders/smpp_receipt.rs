//! The sender of [`OutboxKind::SmppReceipt`] entries: the delivery receipt of a status change,
//! rendered when it is sent from the recorded change in the format the account wants now (CM's
//! text or Appendix B's, in a `deliver_sm` with esm_class 0x04 or in a `data_sm`'s
//! message_payload), with the TLVs receipted_message_id, message_state, network_error_code (a
//! GSM error carrying CM's error code), CM's operator (0x1401) and tariff (0x140A), and handed to
//! one of the account's bound receivers ([`SmppReceivers`]). It counts as delivered only when the
//! client answers with status 0; a receipt no session took (none bound any more, the session
//! closed, no response in time) is tried again a moment later, one the client refused after the
//! usual backoff.

use std::sync::Arc;

use async_trait::async_trait;
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Resolved, StatusFact};
use tern_core::ports::{ReceiverError, SmppReceivers};
use tern_core::smpp_account::ReceiptPdu;
use tern_core::smpp_receipt::{self, ReceiptContents, ReceiptFacts};
use tern_proto::smpp::{CommandStatus, DataSm, DeliverSm, Pdu, Tlvs};

use super::{Delivery, OutboxSender};
use crate::notifier::LOG_TARGET;

/// esm_class of a delivery receipt (SMPP 3.4 §5.2.12: message type "SMSC delivery receipt").
const RECEIPT_ESM_CLASS: u8 = 0x04;
/// network_error_code's network type for a GSM error (SMPP 3.4 §5.3.2.31).
const GSM_NETWORK: u8 = 3;
/// Longest address deliver_sm carries (21 octets with the NUL).
const MAX_ADDRESS_CHARS: usize = 20;

/// Hands receipts to the SMPP sessions bound on this node.
pub struct SmppReceiptSender {
    receivers: Arc<dyn SmppReceivers>,
}

impl SmppReceiptSender {
    pub fn new(receivers: Arc<dyn SmppReceivers>) -> SmppReceiptSender {
        SmppReceiptSender { receivers }
    }
}

#[async_trait]
impl OutboxSender for SmppReceiptSender {
    fn kind(&self) -> OutboxKind {
        OutboxKind::SmppReceipt
    }

    async fn send(&self, entry: ClaimedEntry) -> Delivery {
        let Some(Fact::StatusChange(fact)) = &entry.fact else {
            tracing::error!(target: LOG_TARGET, id = entry.id, "SMPP receipt given up: its status change is not recorded");
            return Delivery::Abandoned;
        };
        let Some(Resolved::Account(account)) = &entry.destination else {
            tracing::error!(target: LOG_TARGET, id = entry.id, message_id = %fact.message_id, "SMPP receipt given up: its account does not exist");
            return Delivery::Abandoned;
        };
        let Some(settings) = &account.smpp else {
            tracing::warn!(target: LOG_TARGET, id = entry.id, message_id = %fact.message_id, account = account.id, "SMPP receipt dropped: the account has no SMPP settings now");
            return Delivery::Abandoned;
        };
        let contents = smpp_receipt::contents(&ReceiptFacts::from(fact), settings.receipt_format);
        let pdu = receipt_pdu(fact, contents, settings.receipt_pdu);
        let answer = self.receivers.deliver(account.id, pdu).await;
        delivery(answer, || {
            format!(
                "SMPP receipt {} of message {} given up",
                entry.id, fact.message_id
            )
        })
    }
}

/// What a bound client's answer to a PDU the server sent it (a receipt, an MO) makes of its
/// entry: status 0 delivers it; another status is a refusal (retried with the backoff); no
/// session, or no answer, is retried a moment later; a PDU that cannot be sent is given up
/// (logged with `what`).
pub(super) fn delivery(
    answer: Result<CommandStatus, ReceiverError>,
    what: impl FnOnce() -> String,
) -> Delivery {
    match answer {
        Ok(CommandStatus::ESME_ROK) => Delivery::Delivered,
        Ok(status) => Delivery::Failed(format!("the client answered {status:?}")),
        Err(error @ (ReceiverError::NoBind | ReceiverError::NoResponse(_))) => {
            Delivery::Unreachable(error.to_string())
        }
        Err(error @ ReceiverError::Unsendable(_)) => {
            tracing::error!(target: LOG_TARGET, %error, "{}", what());
            Delivery::Abandoned
        }
    }
}

/// An address as a receipt carries it, with its TON and NPI: a number in CM's `00` form (or with
/// `+`) is international (TON 1, NPI 1, without the prefix); other digits are unknown-type
/// numbers (TON 0, NPI 1); anything else is alphanumeric (TON 5, NPI 0). Cut to what deliver_sm
/// carries.
pub(super) fn address(text: &str) -> (u8, u8, String) {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (ton, npi, address) = match text.strip_prefix("00").or_else(|| text.strip_prefix('+')) {
        Some(rest) if digits(rest) => (1, 1, rest),
        _ if digits(text) => (0, 1, text),
        _ => (5, 0, text),
    };
    (ton, npi, address.chars().take(MAX_ADDRESS_CHARS).collect())
}

/// The PDU of a receipt: from the message's recipient to its sender (the way a receipt travels),
/// the text in the SMSC's default alphabet (a character outside ASCII, which only an Appendix B
/// `text:` can hold, is sent as `?`).
fn receipt_pdu(fact: &StatusFact, contents: ReceiptContents, kind: ReceiptPdu) -> Pdu {
    let (source_addr_ton, source_addr_npi, source_addr) = address(&fact.recipient);
    let (dest_addr_ton, dest_addr_npi, destination_addr) = address(&fact.from);
    let text: Vec<u8> = contents
        .text
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .collect();
    let tlvs = Tlvs {
        receipted_message_id: Some(contents.receipted_message_id),
        message_state: Some(contents.state.value()),
        network_error_code: contents.error.map(|code| {
            let [high, low] = code.to_be_bytes();
            [GSM_NETWORK, high, low]
        }),
        cm_operator_mcc_mnc: contents.operator,
        cm_tariff_cents: contents.tariff_cents,
        ..Tlvs::default()
    };
    match kind {
        ReceiptPdu::DeliverSm => Pdu::DeliverSm(Box::new(DeliverSm {
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class: RECEIPT_ESM_CLASS,
            short_message: text,
            tlvs,
            ..DeliverSm::default()
        })),
        ReceiptPdu::DataSm => Pdu::DataSm(Box::new(DataSm {
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class: RECEIPT_ESM_CLASS,
            tlvs: Tlvs {
                message_payload: Some(text),
                ..tlvs
            },
            ..DataSm::default()
        })),
    }
}

#[cfg(test)]
mod tests {
    use tern_core::channel::Channel;
    use tern_core::dispatch::Report;
    use tern_core::error_code::DeliveryError;
    use tern_core::message::MessageId;
    use tern_core::money::Money;
    use tern_core::smpp_account::ReceiptFormat;
    use tern_core::status::CmStatus;
    use tern_proto::smpp::{Command, MessageState};

    use super::*;

    fn fact() -> StatusFact {
        StatusFact {
            message_id: MessageId::parse("0195d3b2-c4e4-7a1b-9c3f-00112233aabb").unwrap(),
            seq: 2,
            at: "2026-12-01T23:59:58Z".parse().unwrap(),
            report: Report {
                channel: Channel::Sms,
                status: CmStatus::Failed,
                error_code: Some(DeliveryError::NotDeliveredAtThirdParty),
                operator: Some("20416".into()),
                detail: None,
            },
            recipient: "0031612345678".into(),
            reference: None,
            custom_groupings: [None, None, None],
            accepted_at: "2026-11-30T09:05:07Z".parse().unwrap(),
            from: "Tern".into(),
            body: "Привет, world".into(),
            body_binary: false,
            part_price: Money(50_000),
            parts: 1,
        }
    }

    fn contents(format: ReceiptFormat) -> ReceiptContents {
        let fact = fact();
        smpp_receipt::contents(&ReceiptFacts::from(&fact), format)
    }

    /// The exact octets of a receipt in deliver_sm: header, mandatory fields, TLVs.
    #[test]
    fn a_deliver_sm_receipt_goes_from_the_recipient_to_the_sender_with_its_tlvs() {
        let pdu = receipt_pdu(&fact(), contents(ReceiptFormat::Cm), ReceiptPdu::DeliverSm);
        let Pdu::DeliverSm(deliver) = &pdu else {
            panic!("{pdu:?}")
        };
        assert_eq!(
            (
                deliver.source_addr_ton,
                deliver.source_addr_npi,
                deliver.source_addr.as_str()
            ),
            (1, 1, "31612345678")
        );
        assert_eq!(
            (
                deliver.dest_addr_ton,
                deliver.dest_addr_npi,
                deliver.destination_addr.as_str()
            ),
            (5, 0, "Tern")
        );
        assert_eq!(deliver.esm_class, 0x04);
        assert_eq!(deliver.data_coding, 0);
        assert_eq!(
            deliver.short_message,
            b"id:0195d3b2c4e47a1b9c3f00112233aabb submit date:20261130090507 done date:20261201235958 stat:UNDELIV err:005"
        );
        assert_eq!(
            deliver.tlvs,
            Tlvs {
                receipted_message_id: Some("0195d3b2c4e47a1b9c3f00112233aabb".into()),
                message_state: Some(MessageState::Undeliverable.value()),
                network_error_code: Some([3, 0, 5]),
                cm_operator_mcc_mnc: Some("20416".into()),
                cm_tariff_cents: Some(5),
                ..Tlvs::default()
            }
        );
        // It encodes (every field within its size) and decodes back to itself.
        let command = Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 7,
            pdu,
        };
        let octets = command.encode().unwrap();
        assert_eq!(tern_proto::smpp::decode(&octets).unwrap(), command);
    }

    #[test]
    fn a_data_sm_receipt_carries_the_appendix_b_text_in_message_payload() {
        let pdu = receipt_pdu(
            &fact(),
            contents(ReceiptFormat::AppendixB),
            ReceiptPdu::DataSm,
        );
        let Pdu::DataSm(data) = &pdu else {
            panic!("{pdu:?}")
        };
        assert_eq!(data.esm_class, 0x04);
        // The text's Cyrillic letters are outside the default alphabet's ASCII: `?`.
        assert_eq!(
            data.tlvs.message_payload.as_deref(),
            Some(&b"id:0195d3b2c4e47a1b9c3f00112233aabb sub:001 dlvrd:000 submit date:2611300905 done date:2612012359 stat:UNDELIV err:005 text:??????, world"[..])
        );
        assert_eq!(
            data.tlvs.receipted_message_id.as_deref(),
            Some("0195d3b2c4e47a1b9c3f00112233aabb")
        );
        Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 1,
            pdu,
        }
        .encode()
        .unwrap();
    }

    #[test]
    fn addresses_take_their_ton_and_npi_from_their_form() {
        assert_eq!(address("0031612345678"), (1, 1, "31612345678".into()));
        assert_eq!(address("+31612345678"), (1, 1, "31612345678".into()));
        assert_eq!(address("612345678"), (0, 1, "612345678".into()));
        assert_eq!(address("Tern"), (5, 0, "Tern".into()));
        assert_eq!(address("00"), (0, 1, "00".into()));
        assert_eq!(address(&"9".repeat(30)).2.len(), 20);
    }
}
