//! The sender of [`OutboxKind::SmppMo`] entries: an inbound (MO) message handed to one of its
//! account's SMPP receiver or transceiver binds as a deliver_sm with esm_class 0 (a short
//! message, not a receipt), from the sender's number to the inbound number, its text in GSM 7-bit
//! (data_coding 0) when every character has a GSM form, else UCS2 (8); a text longer than
//! short_message holds goes in message_payload. Delivered only when the client answers with
//! status 0; as receipts, one no session took is tried again a moment later.

use std::sync::Arc;

use async_trait::async_trait;
use tern_core::inbound::{InboundMessage, webhook_number};
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Resolved};
use tern_core::ports::SmppReceivers;
use tern_proto::smpp::{DeliverSm, MAX_SHORT_MESSAGE_OCTETS, Pdu, Tlvs};
use tern_proto::sms::{self, EncodedText, SmsEncoding};

use super::smpp_receipt::{address, delivery};
use super::{Delivery, OutboxSender};
use crate::notifier::LOG_TARGET;

/// Hands MO messages to the SMPP sessions bound on this node.
pub struct SmppMoSender {
    receivers: Arc<dyn SmppReceivers>,
}

impl SmppMoSender {
    pub fn new(receivers: Arc<dyn SmppReceivers>) -> SmppMoSender {
        SmppMoSender { receivers }
    }
}

#[async_trait]
impl OutboxSender for SmppMoSender {
    fn kind(&self) -> OutboxKind {
        OutboxKind::SmppMo
    }

    async fn send(&self, entry: ClaimedEntry) -> Delivery {
        let Some(Fact::Inbound(message)) = &entry.fact else {
            tracing::error!(target: LOG_TARGET, id = entry.id, "SMPP MO given up: its message is not recorded");
            return Delivery::Abandoned;
        };
        let Some(Resolved::Account(account)) = &entry.destination else {
            tracing::error!(target: LOG_TARGET, id = entry.id, message_id = %message.id, "SMPP MO given up: its account does not exist");
            return Delivery::Abandoned;
        };
        if account.smpp.is_none() {
            tracing::warn!(target: LOG_TARGET, id = entry.id, message_id = %message.id, account = account.id, "SMPP MO dropped: the account has no SMPP settings now");
            return Delivery::Abandoned;
        }
        let answer = self.receivers.deliver(account.id, mo_pdu(message)).await;
        delivery(answer, || {
            format!(
                "SMPP MO {} of inbound message {} given up",
                entry.id, message.id
            )
        })
    }
}

/// The deliver_sm of `message`.
fn mo_pdu(message: &InboundMessage) -> Pdu {
    // Numbers in the form the webhook shows them: an international number is one (TON 1).
    let (source_addr_ton, source_addr_npi, source_addr) = address(&webhook_number(&message.from));
    let (dest_addr_ton, dest_addr_npi, destination_addr) = address(&webhook_number(&message.to));
    let encoding = if sms::gsm7::is_gsm_text(&message.text) {
        SmsEncoding::Gsm7
    } else {
        SmsEncoding::Ucs2
    };
    let octets = EncodedText::encode(&message.text, encoding)
        .map(EncodedText::into_bytes)
        .unwrap_or_default();
    let (short_message, message_payload) = if octets.len() <= MAX_SHORT_MESSAGE_OCTETS {
        (octets, None)
    } else {
        (Vec::new(), Some(octets))
    };
    Pdu::DeliverSm(Box::new(DeliverSm {
        source_addr_ton,
        source_addr_npi,
        source_addr,
        dest_addr_ton,
        dest_addr_npi,
        destination_addr,
        esm_class: 0,
        data_coding: encoding.data_coding(),
        short_message,
        tlvs: Tlvs {
            message_payload,
            ..Tlvs::default()
        },
        ..DeliverSm::default()
    }))
}

#[cfg(test)]
mod tests {
    use tern_core::channel::Channel;
    use tern_core::message::MessageId;

    use super::*;

    fn message(text: &str) -> InboundMessage {
        InboundMessage {
            id: MessageId::generate(),
            account: Some(1),
            connector: "op-a".into(),
            channel: Channel::Sms,
            from: "31612345678".into(),
            to: "3669".into(),
            text: text.into(),
            parts: 1,
            received_at: jiff::Timestamp::UNIX_EPOCH,
            extras: Default::default(),
        }
    }

    #[test]
    fn an_mo_is_a_plain_deliver_sm_in_gsm_or_ucs2_long_ones_in_message_payload() {
        let Pdu::DeliverSm(gsm) = mo_pdu(&message("Stop @")) else {
            panic!()
        };
        assert_eq!(
            (
                gsm.source_addr_ton,
                gsm.source_addr.as_str(),
                gsm.destination_addr.as_str()
            ),
            (1, "31612345678", "3669")
        );
        assert_eq!((gsm.esm_class, gsm.data_coding), (0, 0));
        assert_eq!(gsm.short_message, vec![0x53, 0x74, 0x6F, 0x70, 0x20, 0x00]);
        let Pdu::DeliverSm(ucs2) = mo_pdu(&message("Привет")) else {
            panic!()
        };
        assert_eq!(ucs2.data_coding, 8);
        assert_eq!(ucs2.short_message.len(), 12);
        let Pdu::DeliverSm(long) = mo_pdu(&message(&"a".repeat(300))) else {
            panic!()
        };
        assert!(long.short_message.is_empty());
        assert_eq!(long.tlvs.message_payload.as_ref().map(Vec::len), Some(300));
    }
}
