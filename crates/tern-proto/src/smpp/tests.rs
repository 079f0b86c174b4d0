//! Byte-exact vectors (laid out as in SMPP 3.4 §4), malformed inputs with the status each one
//! gets, the session's state table, and a property test over arbitrary bytes.

use proptest::prelude::*;

use super::pdu::read_tlv;
use super::*;

/// A request PDU built by hand: header with the given id and sequence, then `body`.
fn request(command_id: u32, sequence_number: u32, body: &[u8]) -> Vec<u8> {
    let mut pdu = Vec::new();
    pdu.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    pdu.extend_from_slice(&command_id.to_be_bytes());
    pdu.extend_from_slice(&0u32.to_be_bytes());
    pdu.extend_from_slice(&sequence_number.to_be_bytes());
    pdu.extend_from_slice(body);
    pdu
}

fn encoded(command_status: CommandStatus, sequence_number: u32, pdu: Pdu) -> Vec<u8> {
    Command {
        command_status,
        sequence_number,
        pdu,
    }
    .encode()
    .unwrap()
}

/// submit_sm mandatory fields up to (not including) sm_length: source "Tern" (5/0),
/// destination "31612345678" (1/1), given esm_class and data_coding, registered_delivery 1.
fn submit_head(esm_class: u8, data_coding: u8) -> Vec<u8> {
    let mut body = vec![0x00]; // service_type ""
    body.extend_from_slice(&[0x05, 0x00]);
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[0x01, 0x01]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[esm_class, 0x00, 0x00]); // esm_class, protocol_id, priority_flag
    body.extend_from_slice(&[0x00, 0x00]); // schedule_delivery_time "", validity_period ""
    body.extend_from_slice(&[0x01, 0x00, data_coding, 0x00]); // registered, replace, dcs, dflt
    body
}

fn submit_sm_of(frame: &[u8]) -> SubmitSm {
    match decode(frame).unwrap().pdu {
        Pdu::SubmitSm(submit) => *submit,
        other => panic!("not a submit_sm: {other:?}"),
    }
}

fn decode_error(frame: &[u8]) -> DecodeError {
    decode(frame).expect_err("decoded a malformed PDU")
}

// ---------------------------------------------------------------- encoding, byte-exact

#[test]
fn bind_resp_is_encoded_byte_exact_and_header_only_on_error() {
    assert_eq!(
        encoded(
            CommandStatus::ESME_ROK,
            1,
            Pdu::BindResp(BindKind::Transmitter, "tern".into())
        ),
        [
            0x00, 0x00, 0x00, 0x15, 0x80, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x01, b't', b'e', b'r', b'n', 0x00
        ]
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_ROK,
            2,
            Pdu::BindResp(BindKind::Receiver, "tern".into())
        )[4..8],
        [0x80, 0x00, 0x00, 0x01]
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_ROK,
            2,
            Pdu::BindResp(BindKind::Transceiver, "tern".into())
        )[4..8],
        [0x80, 0x00, 0x00, 0x09]
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_RINVPASWD,
            2,
            Pdu::BindResp(BindKind::Receiver, String::new())
        ),
        [
            0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0E, 0x00, 0x00,
            0x00, 0x02
        ]
    );
}

#[test]
fn submit_and_data_sm_resp_carry_the_message_id() {
    let id = "0123456789abcdef0123456789abcdef";
    let mut expected = vec![
        0x00, 0x00, 0x00, 0x31, 0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x07,
    ];
    expected.extend_from_slice(id.as_bytes());
    expected.push(0x00);
    assert_eq!(
        encoded(CommandStatus::ESME_ROK, 7, Pdu::SubmitSmResp(id.into())),
        expected
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_RTHROTTLED,
            8,
            Pdu::SubmitSmResp(String::new())
        ),
        [
            0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x58, 0x00, 0x00,
            0x00, 0x08
        ]
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_ROK,
            0x0102_0304,
            Pdu::DataSmResp("ab".into())
        ),
        [
            0x00, 0x00, 0x00, 0x13, 0x80, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,
            0x03, 0x04, b'a', b'b', 0x00
        ]
    );
}

#[test]
fn query_sm_resp_is_encoded_byte_exact() {
    let resp = QuerySmResp {
        message_id: "abc".into(),
        final_date: "250101120000000+".into(),
        message_state: 2,
        error_code: 0,
    };
    let mut expected = vec![
        0x00, 0x00, 0x00, 0x27, 0x80, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x03, b'a', b'b', b'c', 0x00,
    ];
    expected.extend_from_slice(b"250101120000000+\0");
    expected.extend_from_slice(&[0x02, 0x00]);
    assert_eq!(
        encoded(CommandStatus::ESME_ROK, 3, Pdu::QuerySmResp(resp)),
        expected
    );
    assert_eq!(
        encoded(
            CommandStatus::ESME_RQUERYFAIL,
            3,
            Pdu::QuerySmResp(QuerySmResp::default())
        ),
        [
            0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x67, 0x00, 0x00,
            0x00, 0x03
        ]
    );
}

#[test]
fn header_only_responses_are_encoded_byte_exact() {
    let cases: [(Pdu, CommandStatus, [u8; 4]); 6] = [
        (
            Pdu::CancelSmResp,
            CommandStatus::ESME_ROK,
            [0x80, 0, 0, 0x08],
        ),
        (
            Pdu::ReplaceSmResp,
            CommandStatus::ESME_RREPLACEFAIL,
            [0x80, 0, 0, 0x07],
        ),
        (
            Pdu::EnquireLinkResp,
            CommandStatus::ESME_ROK,
            [0x80, 0, 0, 0x15],
        ),
        (Pdu::UnbindResp, CommandStatus::ESME_ROK, [0x80, 0, 0, 0x06]),
        (
            Pdu::GenericNack,
            CommandStatus::ESME_RINVCMDID,
            [0x80, 0, 0, 0x00],
        ),
        (
            Pdu::EnquireLink,
            CommandStatus::ESME_ROK,
            [0x00, 0, 0, 0x15],
        ),
    ];
    for (pdu, status, id) in cases {
        let mut expected = vec![0x00, 0x00, 0x00, 0x10];
        expected.extend_from_slice(&id);
        expected.extend_from_slice(&status.0.to_be_bytes());
        expected.extend_from_slice(&[0x00, 0x00, 0x00, 0x2A]);
        assert_eq!(encoded(status, 42, pdu.clone()), expected, "{pdu:?}");
    }
    assert_eq!(
        encoded(
            CommandStatus::ESME_ROK,
            5,
            Pdu::DeliverSmResp(String::new())
        ),
        [
            0x00, 0x00, 0x00, 0x11, 0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x05, 0x00
        ]
    );
}

fn receipt_tlvs() -> Tlvs {
    Tlvs {
        receipted_message_id: Some("1".into()),
        network_error_code: Some([0x03, 0x00, 0x00]),
        message_state: Some(2),
        cm_operator_mcc_mnc: Some("20408".into()),
        cm_tariff_cents: Some(7),
        ..Tlvs::default()
    }
}

#[test]
fn receipt_deliver_sm_is_encoded_byte_exact() {
    let receipt = DeliverSm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: "31612345678".into(),
        destination_addr: "CM".into(),
        esm_class: 0x04,
        short_message: b"id:1 stat:DELIVRD".to_vec(),
        tlvs: receipt_tlvs(),
        ..DeliverSm::default()
    };
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x00, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09][..],
        &[0x00],                                  // service_type
        &[0x01, 0x01], b"31612345678\0",          // source ton, npi, addr
        &[0x00, 0x00], b"CM\0",                   // dest ton, npi, addr
        &[0x04, 0x00, 0x00],                      // esm_class (receipt), protocol_id, priority
        &[0x00, 0x00],                            // schedule_delivery_time, validity_period
        &[0x00, 0x00, 0x00, 0x00],                // registered, replace, data_coding, default id
        &[0x11], b"id:1 stat:DELIVRD",            // sm_length 17, short_message
        &[0x00, 0x1E, 0x00, 0x02, b'1', 0x00],    // receipted_message_id
        &[0x04, 0x23, 0x00, 0x03, 0x03, 0x00, 0x00], // network_error_code
        &[0x04, 0x27, 0x00, 0x01, 0x02],          // message_state DELIVERED
        &[0x14, 0x01, 0x00, 0x06], b"20408\0",    // CM operator
        &[0x14, 0x0A, 0x00, 0x02, b'7', 0x00],    // CM tariff in cents, decimal C-octet string
    ]
    .concat();
    let bytes = encoded(
        CommandStatus::ESME_ROK,
        9,
        Pdu::DeliverSm(Box::new(receipt.clone())),
    );
    assert_eq!(bytes.len(), 0x61);
    assert_eq!(bytes, expected);
    assert_eq!(
        decode(&bytes).unwrap().pdu,
        Pdu::DeliverSm(Box::new(receipt))
    );
}

#[test]
fn receipt_data_sm_is_encoded_byte_exact() {
    let receipt = DataSm {
        source_addr: "316".into(),
        destination_addr: "CM".into(),
        esm_class: 0x04,
        tlvs: Tlvs {
            message_payload: Some(b"stat:DELIVRD".to_vec()),
            message_state: Some(2),
            ..Tlvs::default()
        },
        ..DataSm::default()
    };
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02][..],
        &[0x00, 0x00, 0x00], b"316\0", &[0x00, 0x00], b"CM\0",
        &[0x04, 0x00, 0x00], // esm_class, registered_delivery, data_coding
        &[0x04, 0x24, 0x00, 0x0C], b"stat:DELIVRD",
        &[0x04, 0x27, 0x00, 0x01, 0x02],
    ]
    .concat();
    assert_eq!(
        encoded(CommandStatus::ESME_ROK, 2, Pdu::DataSm(Box::new(receipt))),
        expected
    );
}

#[test]
fn values_a_field_cannot_hold_are_refused_not_truncated() {
    let too_long = Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number: 1,
        pdu: Pdu::BindResp(BindKind::Receiver, "sixteen_chars_xx".into()),
    };
    assert!(matches!(
        too_long.encode(),
        Err(EncodeError::CString {
            field: "system_id",
            ..
        })
    ));
    let body = Command {
        pdu: Pdu::DeliverSm(Box::new(DeliverSm {
            short_message: vec![0; 255],
            ..DeliverSm::default()
        })),
        ..too_long
    };
    assert_eq!(
        body.encode(),
        Err(EncodeError::ShortMessage { octets: 255 })
    );
}

// ---------------------------------------------------------------- decoding

#[test]
fn bind_transmitter_from_the_spec_example_decodes() {
    // SMPP 3.4 §3.2 example.
    let frame = [
        0x00, 0x00, 0x00, 0x2F, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x53, 0x4D, 0x50, 0x50, 0x33, 0x54, 0x45, 0x53, 0x54, 0x00, 0x73, 0x65, 0x63, 0x72,
        0x65, 0x74, 0x30, 0x38, 0x00, 0x53, 0x55, 0x42, 0x4D, 0x49, 0x54, 0x31, 0x00, 0x50, 0x01,
        0x01, 0x00,
    ];
    assert_eq!(
        decode(&frame).unwrap(),
        Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 1,
            pdu: Pdu::Bind(
                BindKind::Transmitter,
                Bind {
                    system_id: "SMPP3TEST".into(),
                    password: "secret08".into(),
                    system_type: "SUBMIT1".into(),
                    interface_version: 0x50,
                    addr_ton: 1,
                    addr_npi: 1,
                    address_range: String::new(),
                }
            ),
        }
    );
    let mut receiver = frame;
    receiver[7] = 0x01;
    assert!(matches!(
        decode(&receiver).unwrap().pdu,
        Pdu::Bind(BindKind::Receiver, _)
    ));
    receiver[7] = 0x09;
    assert!(matches!(
        decode(&receiver).unwrap().pdu,
        Pdu::Bind(BindKind::Transceiver, _)
    ));
}

#[test]
fn submit_sm_keeps_every_mandatory_field_and_gsm_at_signs() {
    let mut body = b"CMT\0".to_vec();
    body.extend_from_slice(&[0x05, 0x00]);
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[0x01, 0x01]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[0x00, 0x7F, 0x01]);
    body.extend_from_slice(b"250101120000000+\0");
    body.extend_from_slice(b"000001000000000R\0");
    body.extend_from_slice(&[0x11, 0x01, 0x00, 0x05]);
    // "@H@" in unpacked GSM 03.38: 0x00 is '@' and must survive.
    body.extend_from_slice(&[0x03, 0x00, 0x48, 0x00]);
    body.extend_from_slice(&[0x02, 0x04, 0x00, 0x02, 0x12, 0x34]); // user_message_reference
    let submit = submit_sm_of(&request(command_id::SUBMIT_SM, 77, &body));
    assert_eq!(
        submit,
        SubmitSm {
            service_type: "CMT".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: "Tern".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "31612345678".into(),
            esm_class: 0x00,
            protocol_id: 0x7F,
            priority_flag: 1,
            schedule_delivery_time: "250101120000000+".into(),
            validity_period: "000001000000000R".into(),
            registered_delivery: 0x11,
            replace_if_present_flag: 1,
            data_coding: 0,
            sm_default_msg_id: 5,
            short_message: vec![0x00, 0x48, 0x00],
            tlvs: Tlvs {
                user_message_reference: Some(0x1234),
                ..Tlvs::default()
            },
        }
    );
    assert_eq!(
        decode(&request(command_id::SUBMIT_SM, 77, &body))
            .unwrap()
            .sequence_number,
        77
    );
}

#[test]
fn ucs2_octets_survive_in_their_byte_order() {
    let mut body = submit_head(0x00, 0x08);
    body.extend_from_slice(&[0x04, 0x00, 0x48, 0x20, 0xAC]); // "H€" UTF-16BE
    let submit = submit_sm_of(&request(command_id::SUBMIT_SM, 1, &body));
    assert_eq!(submit.data_coding, 8);
    assert_eq!(submit.short_message, [0x00, 0x48, 0x20, 0xAC]);
}

#[test]
fn message_payload_with_sm_length_zero_and_unknown_tlvs_skipped() {
    let payload: Vec<u8> = (0..300u16).map(|i| (i % 251) as u8).collect();
    let mut body = submit_head(0x00, 0x04);
    body.push(0x00); // sm_length 0
    body.extend_from_slice(&[0x13, 0x80, 0x00, 0x02, 0xAA, 0xBB]); // unknown vendor TLV
    body.extend_from_slice(&[0x04, 0x24, 0x01, 0x2C]);
    body.extend_from_slice(&payload);
    body.extend_from_slice(&[0x00, 0x19, 0x00, 0x01, 0x01]); // payload_type, not kept
    let submit = submit_sm_of(&request(command_id::SUBMIT_SM, 1, &body));
    assert!(submit.short_message.is_empty());
    assert_eq!(
        submit.tlvs,
        Tlvs {
            message_payload: Some(payload),
            ..Tlvs::default()
        }
    );
}

#[test]
fn sar_tlvs_are_read() {
    let mut body = submit_head(0x00, 0x00);
    body.extend_from_slice(&[0x02, b'h', b'i']);
    body.extend_from_slice(&[0x02, 0x0C, 0x00, 0x02, 0xAB, 0xCD]);
    body.extend_from_slice(&[0x02, 0x0E, 0x00, 0x01, 0x03]);
    body.extend_from_slice(&[0x02, 0x0F, 0x00, 0x01, 0x02]);
    let submit = submit_sm_of(&request(command_id::SUBMIT_SM, 1, &body));
    assert_eq!(submit.tlvs.sar_msg_ref_num, Some(0xABCD));
    assert_eq!(submit.tlvs.sar_total_segments, Some(3));
    assert_eq!(submit.tlvs.sar_segment_seqnum, Some(2));
}

#[test]
fn udh_in_short_message_stays_raw() {
    let mut body = submit_head(0x40, 0x00);
    let user_data = [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, b'h', b'i'];
    body.push(user_data.len() as u8);
    body.extend_from_slice(&user_data);
    let submit = submit_sm_of(&request(command_id::SUBMIT_SM, 1, &body));
    assert_eq!(submit.esm_class, 0x40);
    assert_eq!(submit.short_message, user_data);
    // Even a UDH that does not parse is the domain's business, not the codec's.
    let mut body = submit_head(0x40, 0x00);
    body.extend_from_slice(&[0x02, 0x09, 0xFF]);
    assert_eq!(
        submit_sm_of(&request(command_id::SUBMIT_SM, 1, &body)).short_message,
        [0x09, 0xFF]
    );
}

#[test]
fn other_requests_decode() {
    let mut query = b"abc\0".to_vec();
    query.extend_from_slice(&[0x05, 0x00]);
    query.extend_from_slice(b"Tern\0");
    assert_eq!(
        decode(&request(command_id::QUERY_SM, 3, &query))
            .unwrap()
            .pdu,
        Pdu::QuerySm(QuerySm {
            message_id: "abc".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: "Tern".into(),
        })
    );
    let mut cancel = b"\0abc\0".to_vec();
    cancel.extend_from_slice(&[0x05, 0x00, b'T', 0x00, 0x01, 0x01, b'3', b'1', 0x00]);
    assert_eq!(
        decode(&request(command_id::CANCEL_SM, 4, &cancel))
            .unwrap()
            .pdu,
        Pdu::CancelSm(CancelSm {
            service_type: String::new(),
            message_id: "abc".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: "T".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "31".into(),
        })
    );
    let mut replace = b"abc\0".to_vec();
    replace.extend_from_slice(&[
        0x05, 0x00, b'T', 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, b'@',
    ]);
    assert_eq!(
        decode(&request(command_id::REPLACE_SM, 5, &replace))
            .unwrap()
            .pdu,
        Pdu::ReplaceSm(Box::new(ReplaceSm {
            message_id: "abc".into(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: "T".into(),
            schedule_delivery_time: String::new(),
            validity_period: String::new(),
            registered_delivery: 1,
            sm_default_msg_id: 0,
            short_message: vec![0x00, b'@'],
        }))
    );
    let mut data = b"\0".to_vec();
    data.extend_from_slice(&[0x05, 0x00, b'T', 0x00, 0x01, 0x01, b'3', b'1', 0x00]);
    data.extend_from_slice(&[0x00, 0x01, 0x08]);
    data.extend_from_slice(&[0x04, 0x24, 0x00, 0x02, 0x20, 0xAC]);
    assert_eq!(
        decode(&request(command_id::DATA_SM, 6, &data)).unwrap().pdu,
        Pdu::DataSm(Box::new(DataSm {
            source_addr_ton: 5,
            source_addr: "T".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "31".into(),
            registered_delivery: 1,
            data_coding: 8,
            tlvs: Tlvs {
                message_payload: Some(vec![0x20, 0xAC]),
                ..Tlvs::default()
            },
            ..DataSm::default()
        }))
    );
    for (id, pdu) in [
        (command_id::ENQUIRE_LINK, Pdu::EnquireLink),
        (command_id::UNBIND, Pdu::Unbind),
        (command_id::GENERIC_NACK, Pdu::GenericNack),
        (command_id::ENQUIRE_LINK_RESP, Pdu::EnquireLinkResp),
        (command_id::UNBIND_RESP, Pdu::UnbindResp),
        (
            command_id::DELIVER_SM_RESP,
            Pdu::DeliverSmResp(String::new()),
        ),
        (command_id::DATA_SM_RESP, Pdu::DataSmResp(String::new())),
    ] {
        let decoded = decode(&request(id, 11, &[])).unwrap();
        assert_eq!((decoded.pdu, decoded.sequence_number), (pdu, 11));
    }
    assert_eq!(
        decode(&request(command_id::DELIVER_SM_RESP, 1, b"\0"))
            .unwrap()
            .pdu,
        Pdu::DeliverSmResp(String::new())
    );
    // submit_multi is recognised without reading its body, so it can be answered.
    assert_eq!(
        decode(&request(command_id::SUBMIT_MULTI, 12, &[1, 2, 3]))
            .unwrap()
            .pdu,
        Pdu::SubmitMulti
    );
}

#[test]
fn every_pdu_tern_encodes_decodes_to_itself() {
    let submit = SubmitSm {
        source_addr: "Tern".into(),
        destination_addr: "31612345678".into(),
        esm_class: 0x40,
        short_message: vec![0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00],
        tlvs: Tlvs {
            sar_msg_ref_num: Some(1),
            sar_total_segments: Some(2),
            sar_segment_seqnum: Some(1),
            user_message_reference: Some(9),
            message_payload: Some(Vec::new()),
            ..receipt_tlvs()
        },
        ..SubmitSm::default()
    };
    let pdus = [
        Pdu::Bind(
            BindKind::Transceiver,
            Bind {
                system_id: "acme".into(),
                password: "secret".into(),
                interface_version: 0x34,
                ..Bind::default()
            },
        ),
        Pdu::BindResp(BindKind::Receiver, "tern".into()),
        Pdu::SubmitSm(Box::new(submit.clone())),
        Pdu::SubmitSmResp("id".into()),
        Pdu::DeliverSm(Box::new(submit)),
        Pdu::DeliverSmResp(String::new()),
        Pdu::DataSm(Box::default()),
        Pdu::DataSmResp("id".into()),
        Pdu::QuerySm(QuerySm::default()),
        Pdu::QuerySmResp(QuerySmResp {
            message_id: "id".into(),
            message_state: 5,
            error_code: 3,
            ..QuerySmResp::default()
        }),
        Pdu::CancelSm(CancelSm::default()),
        Pdu::CancelSmResp,
        Pdu::ReplaceSm(Box::default()),
        Pdu::ReplaceSmResp,
        Pdu::SubmitMulti,
        Pdu::EnquireLink,
        Pdu::EnquireLinkResp,
        Pdu::Unbind,
        Pdu::UnbindResp,
        Pdu::GenericNack,
    ];
    for pdu in pdus {
        let command = Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: 0x7FFF_FFFF,
            pdu,
        };
        let bytes = command.encode().unwrap();
        assert_eq!(
            next_frame(&bytes, 65536),
            Ok(Frame::Complete { len: bytes.len() })
        );
        assert_eq!(decode(&bytes).unwrap(), command);
    }
}

// ---------------------------------------------------------------- malformed input

#[test]
fn a_truncated_frame_is_a_command_length_error() {
    let frame = request(command_id::ENQUIRE_LINK, 4, &[]);
    for cut in 0..frame.len() {
        let error = decode_error(&frame[..cut]);
        assert_eq!(error.command_status(), CommandStatus::ESME_RINVCMDLEN);
        assert_eq!(error.answer().pdu, Pdu::GenericNack);
    }
    // The body ends right after source_addr, where dest_addr_ton should be. (Ending inside a
    // C-octet string is that field's error instead: see the next tests.)
    let mut body = submit_head(0, 0);
    body.truncate(8);
    let error = decode_error(&request(command_id::SUBMIT_SM, 4, &body));
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(error.answer().sequence_number, 4);
    // A body on a command that has none.
    let error = decode_error(&request(command_id::ENQUIRE_LINK, 5, &[0]));
    assert_eq!(
        error.kind,
        DecodeErrorKind::TrailingOctets { extra_octets: 1 }
    );
    assert_eq!(error.answer().pdu, Pdu::GenericNack);
}

#[test]
fn an_unknown_command_id_gets_generic_nack_invalid_command_id() {
    let error = decode_error(&request(0x0000_0099, 31, &[1, 2]));
    assert_eq!(error.kind, DecodeErrorKind::UnknownCommandId);
    assert_eq!(
        error.answer().encode().unwrap(),
        [
            0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
            0x00, 0x1F
        ]
    );
}

#[test]
fn broken_tlvs_get_their_statuses() {
    let with_tlvs = |tlvs: &[u8]| {
        let mut body = submit_head(0, 0);
        body.push(0x00);
        body.extend_from_slice(tlvs);
        decode_error(&request(command_id::SUBMIT_SM, 6, &body))
    };
    // Length running past the end of the PDU.
    let error = with_tlvs(&[0x04, 0x24, 0x00, 0x10, 0x41]);
    assert_eq!(
        error.kind,
        DecodeErrorKind::TlvPastEnd {
            tag: 0x0424,
            length: 16
        }
    );
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    let answer = error.answer();
    assert_eq!(
        (answer.pdu, answer.command_status, answer.sequence_number),
        (
            Pdu::SubmitSmResp(String::new()),
            CommandStatus::ESME_RINVOPTPARSTREAM,
            6
        )
    );
    // Stray octets where a TLV header should be.
    assert_eq!(
        with_tlvs(&[0x02, 0x0C]).command_status(),
        CommandStatus::ESME_RINVOPTPARSTREAM
    );
    // A length the TLV's type does not allow.
    let error = with_tlvs(&[0x02, 0x0C, 0x00, 0x01, 0x07]);
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVPARLEN);
    assert_eq!(
        with_tlvs(&[0x04, 0x23, 0x00, 0x02, 0x03, 0x00]).command_status(),
        CommandStatus::ESME_RINVPARLEN
    );
    // A C-octet-string TLV without its NUL.
    assert_eq!(
        with_tlvs(&[0x00, 0x1E, 0x00, 0x02, b'a', b'b']).command_status(),
        CommandStatus::ESME_RINVOPTPARAMVAL
    );
}

#[test]
fn c_strings_without_terminator_get_the_fields_status() {
    // source_addr of 25 digits: no NUL within 21 octets.
    let mut body = vec![0x00, 0x01, 0x01];
    body.extend_from_slice(b"3161234567890123456789012\0");
    body.extend_from_slice(&[0; 20]);
    let error = decode_error(&request(command_id::SUBMIT_SM, 8, &body));
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVSRCADR);
    assert_eq!(error.answer().pdu, Pdu::SubmitSmResp(String::new()));
    // system_id running to the end of the PDU.
    let error = decode_error(&request(command_id::BIND_TRANSMITTER, 9, b"acme"));
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVSYSID);
    let answer = error.answer();
    assert_eq!(
        (answer.pdu, answer.command_status, answer.sequence_number),
        (
            Pdu::BindResp(BindKind::Transmitter, String::new()),
            CommandStatus::ESME_RINVSYSID,
            9
        )
    );
    // Password too long (9 characters).
    let error = decode_error(&request(
        command_id::BIND_RECEIVER,
        9,
        b"acme\0ninechars\0\0\x34\0\0\0",
    ));
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVPASWD);
    // sm_length past the end.
    let mut body = submit_head(0, 0);
    body.extend_from_slice(&[0x05, b'h', b'i']);
    let error = decode_error(&request(command_id::SUBMIT_SM, 10, &body));
    assert_eq!(error.command_status(), CommandStatus::ESME_RINVMSGLEN);
}

#[test]
fn bind_body_garbage_is_refused_with_a_bind_resp() {
    for garbage in [
        &[0xFF; 40][..],
        &[0x00; 3][..],
        &[0x41, 0x00, 0xC3, 0x28, 0x00][..],
    ] {
        let error = decode_error(&request(command_id::BIND_TRANSCEIVER, 3, garbage));
        let answer = error.answer();
        assert!(!answer.command_status.is_ok());
        assert!(matches!(
            answer.pdu,
            Pdu::BindResp(BindKind::Transceiver, _) | Pdu::GenericNack
        ));
        assert_eq!(answer.sequence_number, 3);
    }
}

// ---------------------------------------------------------------- session

fn command(sequence_number: u32, pdu: Pdu) -> Result<Command, DecodeError> {
    Ok(Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number,
        pdu,
    })
}

fn sent(status: CommandStatus, sequence_number: u32, pdu: Pdu) -> Action {
    Action::Send(Command {
        command_status: status,
        sequence_number,
        pdu,
    })
}

fn bound(kind: BindKind) -> Session {
    let mut session = Session::new();
    let actions = session.receive(command(1, Pdu::Bind(kind, Bind::default())));
    assert!(matches!(actions[..], [Action::Authenticate { kind: k, .. }] if k == kind));
    assert_eq!(
        session.state(),
        SessionState::Binding {
            kind,
            sequence_number: 1
        }
    );
    assert_eq!(
        session.bind_outcome(Ok("tern".into())),
        [sent(
            CommandStatus::ESME_ROK,
            1,
            Pdu::BindResp(kind, "tern".into())
        )]
    );
    assert_eq!(session.state(), SessionState::Bound(kind));
    session
}

fn submissions() -> Vec<(Pdu, Pdu)> {
    vec![
        (
            Pdu::SubmitSm(Box::default()),
            Pdu::SubmitSmResp(String::new()),
        ),
        (Pdu::DataSm(Box::default()), Pdu::DataSmResp(String::new())),
        (
            Pdu::QuerySm(QuerySm::default()),
            Pdu::QuerySmResp(QuerySmResp::default()),
        ),
        (Pdu::CancelSm(CancelSm::default()), Pdu::CancelSmResp),
        (Pdu::ReplaceSm(Box::default()), Pdu::ReplaceSmResp),
    ]
}

#[test]
fn before_bind_only_bind_enquire_link_and_generic_nack_are_accepted() {
    let mut session = Session::new();
    for (request, response) in submissions() {
        assert_eq!(
            session.receive(command(2, request)),
            [sent(CommandStatus::ESME_RINVBNDSTS, 2, response)]
        );
    }
    assert_eq!(
        session.receive(command(3, Pdu::Unbind)),
        [sent(CommandStatus::ESME_RINVBNDSTS, 3, Pdu::UnbindResp)]
    );
    assert_eq!(
        session.receive(command(4, Pdu::DeliverSmResp(String::new()))),
        [sent(CommandStatus::ESME_RINVBNDSTS, 4, Pdu::GenericNack)]
    );
    assert_eq!(
        session.receive(command(5, Pdu::EnquireLink)),
        [sent(CommandStatus::ESME_ROK, 5, Pdu::EnquireLinkResp)]
    );
    assert!(matches!(
        session.receive(command(6, Pdu::GenericNack))[..],
        [Action::PeerResponse(_)]
    ));
    assert_eq!(session.state(), SessionState::Open);
    assert!(!session.may_receive_messages());
}

#[test]
fn a_refused_bind_leaves_the_session_unbound() {
    for status in [
        CommandStatus::ESME_RINVPASWD,
        CommandStatus::ESME_RINVSYSID,
        CommandStatus::ESME_RBINDFAIL,
    ] {
        let mut session = Session::new();
        session.receive(command(7, Pdu::Bind(BindKind::Receiver, Bind::default())));
        // Pipelined requests while the bind is checked are not yet allowed.
        assert_eq!(
            session.receive(command(8, Pdu::SubmitSm(Box::default()))),
            [sent(
                CommandStatus::ESME_RINVBNDSTS,
                8,
                Pdu::SubmitSmResp(String::new())
            )]
        );
        assert_eq!(
            session.bind_outcome(Err(status)),
            [sent(
                status,
                7,
                Pdu::BindResp(BindKind::Receiver, String::new())
            )]
        );
        assert_eq!(session.state(), SessionState::Open);
        assert!(session.bind_outcome(Ok("late".into())).is_empty());
    }
}

#[test]
fn bound_sessions_hand_submissions_over_by_bind_kind() {
    for kind in [BindKind::Transmitter, BindKind::Transceiver] {
        let mut session = bound(kind);
        for (request, _) in submissions() {
            let actions = session.receive(command(9, request));
            assert!(
                matches!(
                    actions[..],
                    [Action::Submit {
                        sequence_number: 9,
                        ..
                    } | Action::Data {
                        sequence_number: 9,
                        ..
                    } | Action::Query {
                        sequence_number: 9,
                        ..
                    } | Action::Cancel {
                        sequence_number: 9,
                        ..
                    } | Action::Replace {
                        sequence_number: 9,
                        ..
                    }]
                ),
                "{actions:?}"
            );
        }
    }
    let mut receiver = bound(BindKind::Receiver);
    for (request, response) in submissions() {
        assert_eq!(
            receiver.receive(command(9, request)),
            [sent(CommandStatus::ESME_RINVBNDSTS, 9, response)]
        );
    }
}

#[test]
fn a_second_bind_is_already_bound() {
    for kind in [
        BindKind::Transmitter,
        BindKind::Receiver,
        BindKind::Transceiver,
    ] {
        let mut session = bound(kind);
        assert_eq!(
            session.receive(command(2, Pdu::Bind(BindKind::Receiver, Bind::default()))),
            [sent(
                CommandStatus::ESME_RALYBND,
                2,
                Pdu::BindResp(BindKind::Receiver, String::new())
            )]
        );
        assert_eq!(session.state(), SessionState::Bound(kind));
    }
    let mut binding = Session::new();
    binding.receive(command(1, Pdu::Bind(BindKind::Receiver, Bind::default())));
    assert_eq!(
        binding.receive(command(
            2,
            Pdu::Bind(BindKind::Transmitter, Bind::default())
        )),
        [sent(
            CommandStatus::ESME_RALYBND,
            2,
            Pdu::BindResp(BindKind::Transmitter, String::new())
        )]
    );
}

#[test]
fn receipts_go_only_to_receiver_and_transceiver_binds() {
    let receipt = || Pdu::DeliverSm(Box::default());
    assert_eq!(
        Session::new().message_to_send(1, receipt()),
        Err(SendRefused::NotBoundToReceive)
    );
    assert_eq!(
        bound(BindKind::Transmitter).message_to_send(1, receipt()),
        Err(SendRefused::NotBoundToReceive)
    );
    for kind in [BindKind::Receiver, BindKind::Transceiver] {
        let session = bound(kind);
        assert!(session.may_receive_messages());
        assert_eq!(
            session
                .message_to_send(5, receipt())
                .unwrap()
                .sequence_number,
            5
        );
        assert!(
            session
                .message_to_send(5, Pdu::DataSm(Box::default()))
                .is_ok()
        );
        assert_eq!(
            session.message_to_send(5, Pdu::EnquireLink),
            Err(SendRefused::NotAMessage)
        );
    }
    let mut session = bound(BindKind::Receiver);
    let resp = Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number: 5,
        pdu: Pdu::DeliverSmResp(String::new()),
    };
    assert_eq!(
        session.receive(Ok(resp.clone())),
        [Action::PeerResponse(resp)]
    );
}

#[test]
fn unknown_and_unimplemented_commands_get_invalid_command_id() {
    let mut session = bound(BindKind::Transceiver);
    for pdu in [
        Pdu::SubmitMulti,
        Pdu::DeliverSm(Box::default()),
        Pdu::SubmitSmResp(String::new()),
        Pdu::BindResp(BindKind::Receiver, String::new()),
    ] {
        assert_eq!(
            session.receive(command(4, pdu)),
            [sent(CommandStatus::ESME_RINVCMDID, 4, Pdu::GenericNack)]
        );
    }
    let unknown = decode(&request(0x0000_0102, 5, &[]));
    assert_eq!(
        session.receive(unknown),
        [sent(CommandStatus::ESME_RINVCMDID, 5, Pdu::GenericNack)]
    );
    assert_eq!(session.state(), SessionState::Bound(BindKind::Transceiver));
}

#[test]
fn unbind_is_answered_then_the_session_closes() {
    let mut session = bound(BindKind::Transmitter);
    assert_eq!(
        session.receive(command(6, Pdu::Unbind)),
        [
            sent(CommandStatus::ESME_ROK, 6, Pdu::UnbindResp),
            Action::Close
        ]
    );
    assert_eq!(session.state(), SessionState::Closed);
    assert!(session.receive(command(7, Pdu::EnquireLink)).is_empty());
}

#[test]
fn a_server_unbind_closes_after_unbind_resp() {
    let mut session = bound(BindKind::Receiver);
    assert_eq!(
        session.start_unbind(40),
        [sent(CommandStatus::ESME_ROK, 40, Pdu::Unbind)]
    );
    assert_eq!(session.state(), SessionState::Unbinding(BindKind::Receiver));
    assert!(!session.may_receive_messages());
    assert_eq!(
        session.receive(command(41, Pdu::EnquireLink)),
        [sent(CommandStatus::ESME_ROK, 41, Pdu::EnquireLinkResp)]
    );
    assert_eq!(
        session.receive(command(42, Pdu::SubmitSm(Box::default()))),
        [sent(
            CommandStatus::ESME_RINVBNDSTS,
            42,
            Pdu::SubmitSmResp(String::new())
        )]
    );
    assert_eq!(
        session.receive(command(40, Pdu::UnbindResp)),
        [Action::Close]
    );
    assert_eq!(Session::new().start_unbind(1), [Action::Close]);
}

#[test]
fn a_frame_error_nacks_and_closes() {
    let mut session = bound(BindKind::Transceiver);
    assert_eq!(
        session.frame_error(FrameError::TooShort { command_length: 3 }, None),
        [
            sent(CommandStatus::ESME_RINVCMDLEN, 0, Pdu::GenericNack),
            Action::Close
        ]
    );
    assert_eq!(session.state(), SessionState::Closed);
}

#[test]
fn bind_state_rules_apply_to_pdus_that_do_not_decode() {
    // A submit_sm whose source_addr has no terminator.
    let broken_submit = request(command_id::SUBMIT_SM, 3, &[0x00, 0x01, 0x01, b'3', b'1']);
    let broken_bind = request(command_id::BIND_RECEIVER, 4, b"acme");
    let submit_answer = |session: &mut Session| session.receive(decode(&broken_submit));
    assert_eq!(
        submit_answer(&mut Session::new()),
        [sent(
            CommandStatus::ESME_RINVBNDSTS,
            3,
            Pdu::SubmitSmResp(String::new())
        )]
    );
    assert_eq!(
        submit_answer(&mut bound(BindKind::Receiver)),
        [sent(
            CommandStatus::ESME_RINVBNDSTS,
            3,
            Pdu::SubmitSmResp(String::new())
        )]
    );
    assert_eq!(
        submit_answer(&mut bound(BindKind::Transmitter)),
        [sent(
            CommandStatus::ESME_RINVSRCADR,
            3,
            Pdu::SubmitSmResp(String::new())
        )]
    );
    assert_eq!(
        bound(BindKind::Transceiver).receive(decode(&broken_bind)),
        [sent(
            CommandStatus::ESME_RALYBND,
            4,
            Pdu::BindResp(BindKind::Receiver, String::new())
        )]
    );
    let mut open = Session::new();
    assert_eq!(
        open.receive(decode(&broken_bind)),
        [sent(
            CommandStatus::ESME_RINVSYSID,
            4,
            Pdu::BindResp(BindKind::Receiver, String::new())
        )]
    );
    assert_eq!(open.state(), SessionState::Open);
    // Bad lengths and unknown ids stay generic_nack whatever the state.
    assert_eq!(
        open.receive(decode(&request(command_id::ENQUIRE_LINK, 5, &[1]))),
        [sent(CommandStatus::ESME_RINVCMDLEN, 5, Pdu::GenericNack)]
    );
}

#[test]
fn enquire_link_is_answered_in_every_live_state() {
    let mut sessions = vec![Session::new(), bound(BindKind::Receiver)];
    let mut binding = Session::new();
    binding.receive(command(1, Pdu::Bind(BindKind::Receiver, Bind::default())));
    sessions.push(binding);
    for mut session in sessions {
        assert_eq!(
            session.receive(command(99, Pdu::EnquireLink)),
            [sent(CommandStatus::ESME_ROK, 99, Pdu::EnquireLinkResp)]
        );
    }
}

/// Drives one connection's bytes through framing, decoding and the session, as the server's
/// task will; checks the invariants that must hold whatever the bytes.
fn drive(bytes: &[u8], max_pdu_bytes: u32) {
    let mut session = Session::new();
    let mut rest = bytes;
    loop {
        match next_frame(rest, max_pdu_bytes) {
            Ok(Frame::Incomplete { needed }) => {
                assert!(needed > rest.len());
                break;
            }
            Ok(Frame::Complete { len }) => {
                let decoded = decode(&rest[..len]);
                if let Ok(command) = &decoded {
                    let again = command.encode().expect("a decoded PDU re-encodes");
                    let redecoded = decode(&again).expect("a re-encoded PDU decodes");
                    assert_eq!(redecoded.encode().unwrap(), again);
                }
                for action in session.receive(decoded) {
                    match action {
                        Action::Send(reply) => {
                            reply.encode().expect("replies always encode");
                        }
                        Action::Authenticate { .. } => {
                            session.bind_outcome(Ok("tern".into()));
                        }
                        _ => {}
                    }
                }
                if session.state() == SessionState::Closed {
                    break;
                }
                rest = &rest[len..];
            }
            Err(error) => {
                let actions = session.frame_error(error, sequence_number_of(rest));
                assert_eq!(actions.last(), Some(&Action::Close));
                break;
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        drive(&bytes, 256);
    }

    #[test]
    fn arbitrary_bodies_behind_valid_headers_never_panic(
        bind_first in any::<bool>(),
        frames in proptest::collection::vec(
            (
                prop::sample::select(vec![
                    1u32, 2, 3, 4, 5, 6, 7, 8, 9, 0x15, 0x21, 0x103, 0x8000_0000, 0x8000_0001,
                    0x8000_0003, 0x8000_0004, 0x8000_0005, 0x8000_0103, 0x8000_0015,
                    0x8000_0006, 0x99,
                ]),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..200),
            ),
            0..8,
        ),
    ) {
        let mut bytes = if bind_first {
            request(command_id::BIND_TRANSCEIVER, 1, b"a\0b\0\0\x34\0\0\0")
        } else {
            Vec::new()
        };
        for (id, sequence_number, body) in frames {
            bytes.extend_from_slice(&request(id, sequence_number, &body));
        }
        drive(&bytes, 65536);
    }
}

#[test]
fn cm_tariff_is_a_decimal_c_octet_string_of_at_most_six_octets() {
    let mut tlvs = Tlvs::default();
    for (value, expected) in [
        (&b"7\0"[..], Ok(7)),
        (b"99999\0", Ok(99_999)),
        (b"0\0", Ok(0)),
        (b"\0", Err(())),
        (b"12a\0", Err(())),
        (b"7", Err(())),
        (b"123456\0", Err(())),
        (&[0, 0, 0, 7], Err(())),
    ] {
        let read = read_tlv(&mut tlvs, tlv_tag::CM_TARIFF_CENTS, value)
            .map(|()| tlvs.cm_tariff_cents.take().unwrap())
            .map_err(|_| ());
        assert_eq!(read, expected, "{value:?}");
    }
    let too_many_cents = SubmitSm {
        tlvs: Tlvs {
            cm_tariff_cents: Some(100_000),
            ..Tlvs::default()
        },
        ..SubmitSm::default()
    };
    let command = Command {
        command_status: CommandStatus::ESME_ROK,
        sequence_number: 1,
        pdu: Pdu::DeliverSm(Box::new(too_many_cents)),
    };
    assert!(command.encode().is_err());
}
