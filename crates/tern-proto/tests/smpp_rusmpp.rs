//! Cross-checks Tern's SMPP codec against an independent implementation, the `rusmpp` crate:
//! every PDU Tern encodes must decode in rusmpp, consume exactly its bytes and re-encode to the
//! same octets, with the same command_id, status, sequence number and key fields; and the
//! hand-built requests Tern's unit tests use must read the same way in both.

use bytes::BytesMut;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::{Encode, Length};
use rusmpp::tlvs::{TlvTag, TlvValue};
use tern_proto::smpp::{
    self, BindKind, Command, CommandStatus, DataSm, DeliverSm, Pdu, QuerySmResp, Tlvs,
};

/// Decodes `bytes` (one whole PDU) with rusmpp, checking it reads every octet and writes the
/// same octets back.
fn through_rusmpp(bytes: &[u8]) -> rusmpp::Command {
    let body_len = bytes.len() - 4;
    let mut buf = BytesMut::from(&bytes[4..]);
    let (command, size) = rusmpp::Command::decode(&mut buf, body_len).expect("rusmpp decodes it");
    assert_eq!(size, body_len, "rusmpp read a different length");
    let mut again = vec![0; command.length()];
    command.encode(&mut again);
    assert_eq!(again, bytes[4..], "rusmpp re-encodes different octets");
    command
}

/// rusmpp's C-octet strings keep their NUL; Tern's hold only the text.
fn without_nul(c_octets: &[u8]) -> &[u8] {
    c_octets
        .strip_suffix(b"\0")
        .expect("a C-octet string ends in NUL")
}

fn tern(status: CommandStatus, sequence_number: u32, pdu: Pdu) -> Vec<u8> {
    Command {
        command_status: status,
        sequence_number,
        pdu,
    }
    .encode()
    .unwrap()
}

#[test]
fn every_response_tern_sends_reads_the_same_in_rusmpp() {
    let cases = [
        Pdu::BindResp(BindKind::Transmitter, "tern".into()),
        Pdu::BindResp(BindKind::Receiver, "tern".into()),
        Pdu::BindResp(BindKind::Transceiver, "tern".into()),
        Pdu::SubmitSmResp("0123456789abcdef0123456789abcdef".into()),
        Pdu::DataSmResp("0123456789abcdef0123456789abcdef".into()),
        Pdu::QuerySmResp(QuerySmResp {
            message_id: "abc".into(),
            final_date: "250101120000000+".into(),
            message_state: 2,
            error_code: 0,
        }),
        Pdu::CancelSmResp,
        Pdu::ReplaceSmResp,
        Pdu::EnquireLink,
        Pdu::EnquireLinkResp,
        Pdu::Unbind,
        Pdu::UnbindResp,
        Pdu::GenericNack,
    ];
    for pdu in cases {
        let bytes = tern(CommandStatus::ESME_ROK, 0x0102_0304, pdu.clone());
        let theirs = through_rusmpp(&bytes);
        assert_eq!(u32::from(theirs.id()), pdu.command_id(), "{pdu:?}");
        assert_eq!(theirs.sequence_number(), 0x0102_0304);
        assert_eq!(u32::from(theirs.status()), 0);
        if let Pdu::SubmitSmResp(id) = &pdu {
            let Some(rusmpp::Pdu::SubmitSmResp(resp)) = theirs.pdu() else {
                panic!("{theirs:?}")
            };
            assert_eq!(without_nul(resp.message_id().as_ref()), id.as_bytes());
        }
    }
    // Error responses are header-only.
    let theirs = through_rusmpp(&tern(
        CommandStatus::ESME_RTHROTTLED,
        9,
        Pdu::SubmitSmResp(String::new()),
    ));
    assert_eq!(u32::from(theirs.status()), 0x58);
}

fn tlv_value(tlvs: &[rusmpp::tlvs::Tlv], tag: TlvTag) -> Option<&TlvValue> {
    tlvs.iter()
        .find(|tlv| tlv.tag() == tag)
        .and_then(|tlv| tlv.value())
}

fn receipt_tlvs() -> Tlvs {
    Tlvs {
        receipted_message_id: Some("0123456789abcdef0123456789abcdef".into()),
        message_state: Some(2),
        network_error_code: Some([0x03, 0x00, 0x00]),
        cm_operator_mcc_mnc: Some("20408".into()),
        cm_tariff_cents: Some(7),
        ..Tlvs::default()
    }
}

#[test]
fn receipts_tern_sends_read_the_same_in_rusmpp() {
    let text = b"id:0123456789abcdef0123456789abcdef submit date:20250101120000 done date:20250101120005 stat:DELIVRD err:000";
    let deliver = DeliverSm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "31612345678".into(),
        destination_addr: "CM".into(),
        esm_class: 0x04,
        short_message: text.to_vec(),
        tlvs: receipt_tlvs(),
        ..DeliverSm::default()
    };
    let theirs = through_rusmpp(&tern(
        CommandStatus::ESME_ROK,
        3,
        Pdu::DeliverSm(Box::new(deliver)),
    ));
    let Some(rusmpp::Pdu::DeliverSm(sm)) = theirs.pdu() else {
        panic!("{theirs:?}")
    };
    assert_eq!(sm.short_message().as_ref(), text);
    assert_eq!(u8::from(sm.esm_class), 0x04);
    let tlvs = sm.tlvs();
    assert!(matches!(
        tlv_value(tlvs, TlvTag::ReceiptedMessageId),
        Some(TlvValue::ReceiptedMessageId(id)) if without_nul(id.as_ref()) == b"0123456789abcdef0123456789abcdef"
    ));
    assert!(matches!(
        tlv_value(tlvs, TlvTag::MessageState),
        Some(TlvValue::MessageState(state)) if u8::from(*state) == 2
    ));
    assert!(tlv_value(tlvs, TlvTag::NetworkErrorCode).is_some());
    assert!(matches!(
        tlv_value(tlvs, TlvTag::Other(0x1401)),
        Some(TlvValue::Other { value, .. }) if value.as_ref() == b"20408\0"
    ));
    assert!(matches!(
        tlv_value(tlvs, TlvTag::Other(0x140A)),
        Some(TlvValue::Other { value, .. }) if value.as_ref() == b"7\0"
    ));

    let data = DataSm {
        source_addr: "31612345678".into(),
        destination_addr: "CM".into(),
        esm_class: 0x04,
        tlvs: Tlvs {
            message_payload: Some(text.to_vec()),
            ..receipt_tlvs()
        },
        ..DataSm::default()
    };
    let theirs = through_rusmpp(&tern(
        CommandStatus::ESME_ROK,
        4,
        Pdu::DataSm(Box::new(data)),
    ));
    assert!(matches!(theirs.pdu(), Some(rusmpp::Pdu::DataSm(_))));
}

/// A submit_sm as an ESME sends it: GSM '@' (0x00) in a UDH-concatenated short_message, and
/// SAR TLVs.
fn submit_sm_bytes() -> Vec<u8> {
    let mut body = vec![0x00, 0x05, 0x00];
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[0x01, 0x01]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
    let user_data = [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x00, 0x48, 0x00];
    body.push(user_data.len() as u8);
    body.extend_from_slice(&user_data);
    body.extend_from_slice(&[0x02, 0x0C, 0x00, 0x02, 0xAB, 0xCD]);
    body.extend_from_slice(&[0x02, 0x0E, 0x00, 0x01, 0x02]);
    body.extend_from_slice(&[0x02, 0x0F, 0x00, 0x01, 0x01]);
    let mut pdu = ((16 + body.len()) as u32).to_be_bytes().to_vec();
    pdu.extend_from_slice(&[0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x2A]);
    pdu.extend_from_slice(&body);
    pdu
}

#[test]
fn a_submit_sm_reads_the_same_in_both() {
    let bytes = submit_sm_bytes();
    let theirs = through_rusmpp(&bytes);
    let Some(rusmpp::Pdu::SubmitSm(their_sm)) = theirs.pdu() else {
        panic!("{theirs:?}")
    };
    let ours = smpp::decode(&bytes).unwrap();
    assert_eq!(ours.sequence_number, theirs.sequence_number());
    let Pdu::SubmitSm(our_sm) = ours.pdu else {
        panic!("{ours:?}")
    };
    assert_eq!(our_sm.short_message, their_sm.short_message().as_ref());
    assert_eq!(
        our_sm.source_addr.as_bytes(),
        without_nul(their_sm.source_addr.as_ref())
    );
    assert!(matches!(
        tlv_value(their_sm.tlvs(), TlvTag::SarMsgRefNum),
        Some(TlvValue::SarMsgRefNum(reference)) if Some(*reference) == our_sm.tlvs.sar_msg_ref_num
    ));
}

/// Why Tern reads PDUs itself rather than through rusmpp 0.4: rusmpp reads a fixed-size TLV
/// by its type, not by its length field, so a sar_msg_ref_num declared 1 octet long swallows
/// the next octet and the PDU still decodes, with a wrong reference. Tern refuses it with
/// ESME_RINVPARLEN. (If rusmpp starts refusing it, this test says so.)
#[test]
fn rusmpp_reads_a_short_fixed_size_tlv_past_its_length() {
    let mut bytes = submit_sm_bytes();
    let tlvs_at = bytes.len() - 16;
    bytes.truncate(tlvs_at);
    bytes.extend_from_slice(&[0x02, 0x0C, 0x00, 0x01, 0x07, 0xFF]);
    bytes.extend_from_slice(&[0x02, 0x0E, 0x00, 0x01, 0x02]);
    let length = bytes.len() as u32;
    bytes[..4].copy_from_slice(&length.to_be_bytes());

    let mut buf = BytesMut::from(&bytes[4..]);
    let (theirs, _) = rusmpp::Command::decode(&mut buf, bytes.len() - 4).unwrap();
    let Some(rusmpp::Pdu::SubmitSm(sm)) = theirs.pdu() else {
        panic!("{theirs:?}")
    };
    assert!(matches!(
        tlv_value(sm.tlvs(), TlvTag::SarMsgRefNum),
        Some(TlvValue::SarMsgRefNum(0x07FF))
    ));

    let ours = smpp::decode(&bytes).unwrap_err();
    assert_eq!(ours.command_status(), CommandStatus::ESME_RINVPARLEN);
}

/// rusmpp accepts octets after a command that has no body (enquire_link), decoding it with no
/// PDU at all; Tern answers generic_nack ESME_RINVCMDLEN.
#[test]
fn rusmpp_accepts_a_body_on_enquire_link() {
    let bytes = [0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1, 0xAA];
    let mut buf = BytesMut::from(&bytes[4..]);
    let (theirs, _) = rusmpp::Command::decode(&mut buf, bytes.len() - 4).unwrap();
    assert!(theirs.pdu().is_none());
    assert_eq!(
        smpp::decode(&bytes).unwrap_err().answer().pdu,
        Pdu::GenericNack
    );
}
