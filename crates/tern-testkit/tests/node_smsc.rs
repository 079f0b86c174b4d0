//! The independent SMSC (`tern_testkit::node_smsc`, on the `smpp` npm package) driven by a client
//! not written in this project either: rusmpp's tokio codec. Binding (a bad password refused),
//! submitting a GSM message, the submit_sm_resp id in the configured base, the delivery receipt
//! (read with Tern's own receipt parser and matched to the submit), MO messages and a dropped
//! connection. Loopback only; every wait has a timeout that fails the test.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tern_proto::smpp::{
    self as tern_smpp, MessageState, ReceiptErr, ReceiptIdFormat, ReceiptState,
    canonical_receipt_id, canonical_submit_id,
};
use tern_testkit::node_smsc::{IdFormat, NodeSmsc, ReceiptRule, SmscOptions};
use tokio::net::TcpStream;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Encoder, Framed};

/// How long any one response, PDU or SMSC event may take.
const WAIT: Duration = Duration::from_secs(10);

/// The target directory (this test binary is in `target/<profile>/deps`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn c_octets<const MIN: usize, const MAX: usize>(text: &str) -> COctetString<MIN, MAX> {
    COctetString::from_str(text).unwrap()
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Copy)]
enum Mode {
    Transmitter,
    Receiver,
    Transceiver,
}

struct Client {
    framed: Framed<TcpStream, CommandCodec>,
    sequence: u32,
}

impl Client {
    async fn connect(smsc: &NodeSmsc) -> Client {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(smsc.addr()))
            .await
            .expect("connect timed out")
            .unwrap();
        Client {
            framed: Framed::new(stream, CommandCodec::new()),
            sequence: 0,
        }
    }

    /// Binds as `mode`; returns the response's command_status.
    async fn bind(&mut self, mode: Mode, system_id: &str, password: &str) -> CommandStatus {
        let (system_id, password) = (c_octets(system_id), c_octets(password));
        let resp = match mode {
            Mode::Transmitter => {
                self.request(
                    BindTransmitter::builder()
                        .system_id(system_id)
                        .password(password)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
            }
            Mode::Receiver => {
                self.request(
                    BindReceiver::builder()
                        .system_id(system_id)
                        .password(password)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
            }
            Mode::Transceiver => {
                self.request(
                    BindTransceiver::builder()
                        .system_id(system_id)
                        .password(password)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
            }
        };
        let expected = match mode {
            Mode::Transmitter => CommandId::BindTransmitterResp,
            Mode::Receiver => CommandId::BindReceiverResp,
            Mode::Transceiver => CommandId::BindTransceiverResp,
        };
        assert_eq!(resp.id(), expected, "{resp:?}");
        resp.status()
    }

    async fn send(&mut self, command: Command) {
        tokio::time::timeout(WAIT, self.framed.send(command))
            .await
            .expect("send timed out")
            .unwrap();
    }

    /// The next PDU from the SMSC; fails the test after `WAIT`, on a close or a decode error.
    async fn next(&mut self) -> Command {
        tokio::time::timeout(WAIT, self.framed.next())
            .await
            .expect("no PDU from the SMSC in time")
            .expect("the SMSC closed the connection")
            .unwrap()
    }

    async fn request(&mut self, pdu: impl Into<Pdu>) -> Command {
        self.sequence += 1;
        self.send(Command::new(CommandStatus::EsmeRok, self.sequence, pdu))
            .await;
        let resp = self.next().await;
        assert_eq!(resp.sequence_number(), self.sequence, "{resp:?}");
        resp
    }

    /// submit_sm of GSM 7-bit octets (one septet an octet) from "Tern" to `destination`, asking
    /// for a final receipt; returns the submit_sm_resp id.
    async fn submit(&mut self, destination: &str, short_message: &[u8]) -> String {
        let submit = SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c_octets("Tern"))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_octets(destination))
            .esm_class(EsmClass::from(0))
            .registered_delivery(RegisteredDelivery::from(1))
            .data_coding(DataCoding::McSpecific)
            .short_message(OctetString::from_slice(short_message).unwrap())
            .build();
        let resp = self.request(submit).await;
        assert_eq!(resp.id(), CommandId::SubmitSmResp, "{resp:?}");
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        let Some(Pdu::SubmitSmResp(body)) = resp.pdu() else {
            panic!("not a submit_sm_resp body: {resp:?}");
        };
        body.message_id().to_string()
    }

    /// The next deliver_sm, answered with deliver_sm_resp, as Tern's codec decodes it (rusmpp
    /// re-encodes what it read; Tern's decoder reads those octets).
    async fn deliver_sm(&mut self) -> tern_smpp::DeliverSm {
        let command = self.next().await;
        assert_eq!(command.id(), CommandId::DeliverSm, "{command:?}");
        let sequence_number = command.sequence_number();
        let mut octets = BytesMut::new();
        CommandCodec::new()
            .encode(command.clone(), &mut octets)
            .unwrap();
        let decoded = tern_smpp::decode(&octets).unwrap();
        let tern_smpp::Pdu::DeliverSm(deliver_sm) = decoded.pdu else {
            panic!("not a deliver_sm: {command:?}");
        };
        let resp = DeliverSmResp::builder().build();
        self.send(Command::new(CommandStatus::EsmeRok, sequence_number, resp))
            .await;
        *deliver_sm
    }
}

/// "Hello @ Tern {1}" in GSM 03.38, unpacked: `@` is 0x00, `{` and `}` are escapes.
const GSM_TEXT: &[u8] = b"Hello \x00 Tern \x1b\x281\x1b\x29";

#[tokio::test]
async fn binds_submits_and_sends_appendix_b_receipts() {
    let smsc = NodeSmsc::start(
        &target_dir(),
        &SmscOptions {
            first_message_id: 4242,
            receipt_delay: Duration::from_millis(50),
            rules: vec![ReceiptRule {
                prefix: "3169".into(),
                stat: "UNDELIV".into(),
                err: "001".into(),
            }],
            ..SmscOptions::default()
        },
    );

    // A bad password, then an unknown account, are refused.
    let mut refused = Client::connect(&smsc).await;
    let status = refused.bind(Mode::Transceiver, "smsc", "wrong").await;
    assert_eq!(status, CommandStatus::EsmeRinvpaswd);
    let status = refused.bind(Mode::Transceiver, "nobody", "secret").await;
    assert_eq!(status, CommandStatus::EsmeRinvsysid);
    let event = smsc.wait_for_event("bind_refused", WAIT);
    assert_eq!(event["command_status"], 0x0E);

    let mut client = Client::connect(&smsc).await;
    let status = client.bind(Mode::Transceiver, "smsc", "secret").await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let bound = smsc.wait_for_event("bound", WAIT);
    assert_eq!(bound["mode"], "transceiver");
    assert_eq!(bound["system_id"], "smsc");

    // Delivered: a decimal id, the exact octets seen, an Appendix B receipt.
    let message_id = client.submit("31612345678", GSM_TEXT).await;
    assert_eq!(message_id, "4242");
    let submit = smsc.wait_for_event("submit_sm", WAIT);
    assert_eq!(submit["destination"], "31612345678");
    assert_eq!(submit["source"], "Tern");
    assert_eq!(submit["data_coding"], 0);
    assert_eq!(submit["esm_class"], 0);
    assert_eq!(submit["registered_delivery"], 1);
    assert_eq!(submit["short_message_hex"], hex(GSM_TEXT));
    assert_eq!(submit["message_id"], "4242");

    let receipt_sm = client.deliver_sm().await;
    assert_eq!(receipt_sm.esm_class, 0x04);
    assert_eq!(receipt_sm.source_addr, "31612345678");
    assert_eq!(receipt_sm.destination_addr, "Tern");
    assert_eq!(receipt_sm.data_coding, 0);
    let text = String::from_utf8(receipt_sm.short_message.clone()).unwrap();
    assert!(
        text.starts_with("id:4242 sub:001 dlvrd:001 submit date:"),
        "{text}"
    );
    assert!(
        text.ends_with(" stat:DELIVRD err:000 text:Hello @ Tern {1}"),
        "{text}"
    );
    let receipt = tern_smpp::parse_deliver_sm_receipt(&receipt_sm).unwrap();
    assert_eq!(receipt.id, "4242");
    assert_eq!(receipt.state, ReceiptState::Known(MessageState::Delivered));
    assert_eq!(receipt.err, Some(ReceiptErr::Code(0)));
    assert!(receipt.submitted.is_some() && receipt.done.is_some());
    let acked = smsc.wait_for("receipt deliver_sm_resp", WAIT, |event| {
        event["event"] == "deliver_sm_resp" && event["of"] == "receipt"
    });
    assert_eq!(acked["command_status"], 0);

    // Undeliverable by the prefix rule.
    let message_id = client.submit("31698765432", b"second").await;
    assert_eq!(message_id, "4243");
    let receipt = tern_smpp::parse_deliver_sm_receipt(&client.deliver_sm().await).unwrap();
    assert_eq!(
        (receipt.id.as_str(), receipt.state, receipt.err),
        (
            "4243",
            ReceiptState::Known(MessageState::Undeliverable),
            Some(ReceiptErr::Code(1))
        )
    );

    // An MO message on command.
    smsc.send_mo("31611112222", "1234", "Hi @ there");
    let mo = client.deliver_sm().await;
    assert_eq!(
        (
            mo.esm_class,
            mo.source_addr.as_str(),
            mo.destination_addr.as_str()
        ),
        (0, "31611112222", "1234")
    );
    assert_eq!(mo.short_message, b"Hi \x00 there");
    assert!(matches!(
        tern_smpp::parse_deliver_sm_receipt(&mo),
        Err(tern_smpp::ReceiptParseError::NotAReceipt)
    ));

    // Dropped by the SMSC: the client sees the connection end.
    smsc.disconnect();
    smsc.wait_for_event("disconnected", WAIT);
    let end = tokio::time::timeout(WAIT, client.framed.next())
        .await
        .expect("the connection did not end in time");
    assert!(
        end.as_ref().is_none_or(|result| result.is_err()),
        "a PDU after disconnect: {end:?}"
    );
}

/// Response ids in decimal, receipts in uppercase hex with leading zeros, to a separate
/// receiver session: matched with `receipt_id_format = "hex"`; with TLVs, which win.
#[tokio::test]
async fn receipts_in_hex_reach_a_receiver_and_match_their_submit() {
    let smsc = NodeSmsc::start(
        &target_dir(),
        &SmscOptions {
            first_message_id: 255,
            receipt_id_format: Some(IdFormat::HexUpper),
            message_id_width: 8,
            receipt_tlvs: true,
            rules: vec![ReceiptRule {
                prefix: "44".into(),
                stat: "EXPIRED".into(),
                err: "008".into(),
            }],
            ..SmscOptions::default()
        },
    );
    let mut transmitter = Client::connect(&smsc).await;
    assert_eq!(
        transmitter.bind(Mode::Transmitter, "smsc", "secret").await,
        CommandStatus::EsmeRok
    );
    let mut receiver = Client::connect(&smsc).await;
    assert_eq!(
        receiver.bind(Mode::Receiver, "smsc", "secret").await,
        CommandStatus::EsmeRok
    );
    // A receiver may not submit.
    let refused = receiver
        .request(
            SubmitSm::builder()
                .destination_addr(c_octets("447700900000"))
                .short_message(OctetString::from_slice(b"x").unwrap())
                .build(),
        )
        .await;
    assert_eq!(refused.status(), CommandStatus::EsmeRinvbndsts);

    let message_id = transmitter.submit("447700900123", b"expiring").await;
    assert_eq!(message_id, "00000255");
    let receipt_sm = receiver.deliver_sm().await;
    let text = String::from_utf8(receipt_sm.short_message.clone()).unwrap();
    assert!(text.starts_with("id:000000FF sub:001 dlvrd:000 "), "{text}");
    assert_eq!(
        receipt_sm.tlvs.receipted_message_id.as_deref(),
        Some("000000FF")
    );
    assert_eq!(
        receipt_sm.tlvs.message_state,
        Some(MessageState::Expired.value())
    );
    let receipt = tern_smpp::parse_deliver_sm_receipt(&receipt_sm).unwrap();
    assert_eq!(receipt.state, ReceiptState::Known(MessageState::Expired));
    assert_eq!(receipt.err, Some(ReceiptErr::Code(8)));
    assert_eq!(
        canonical_receipt_id(ReceiptIdFormat::Hex, &receipt.id),
        Some(canonical_submit_id(ReceiptIdFormat::Hex, &message_id))
    );
    // As-is they would not match: that is what `hex` is for.
    assert_ne!(
        canonical_receipt_id(ReceiptIdFormat::AsIs, &receipt.id),
        Some(canonical_submit_id(ReceiptIdFormat::AsIs, &message_id))
    );
    smsc.wait_for("receipt deliver_sm_resp", WAIT, |event| {
        event["event"] == "deliver_sm_resp" && event["of"] == "receipt"
    });

    // A second bind on a bound session is refused; enquire_link and unbind are answered.
    assert_eq!(
        transmitter.bind(Mode::Transceiver, "smsc", "secret").await,
        CommandStatus::EsmeRalybnd
    );
    let resp = transmitter.request(Pdu::EnquireLink).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::EnquireLinkResp, CommandStatus::EsmeRok)
    );
    let resp = transmitter.request(Pdu::Unbind).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::UnbindResp, CommandStatus::EsmeRok)
    );
    smsc.wait_for_event("unbind", WAIT);
    // The SMSC ends the connection after unbind_resp; closed once the client's side closes too.
    let end = tokio::time::timeout(WAIT, transmitter.framed.next())
        .await
        .expect("the connection did not end in time");
    assert!(end.is_none(), "a PDU after unbind_resp: {end:?}");
    drop(transmitter);
    smsc.wait_for_event("closed", WAIT);
}
