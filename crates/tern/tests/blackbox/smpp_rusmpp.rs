//! query_sm, cancel_sm and replace_sm with an SMPP client not written in this project: the
//! `rusmpp` crate's tokio codec (`CommandCodec` over `tokio_util::codec::Framed`). Every request
//! is built and encoded by rusmpp, every response decoded by it; the tests assert the exact
//! command id, command_status, sequence number and (decoded) body of each, and what the message
//! log then holds. smpplib (`smpp`) has neither cancel_sm nor replace_sm; `smpp_raw` tests the
//! same commands byte for byte with Tern's own framing.
//!
//! A message that stays queued (so it may still be cancelled or replaced) is a lone segment of a
//! concatenated message: it waits up to 10 minutes for the rest of its group.

use std::str::FromStr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rusmpp::pdus::{BindTransmitter, CancelSm, QuerySm, QuerySmResp, ReplaceSm, SubmitSm};
use rusmpp::tokio_codec::{CommandCodec, DecodeError, EncodeError};
use rusmpp::types::{COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, MessageState, Npi, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::net::TcpStream;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::smpp::{SmppSetup, logged, smpp_setup};

/// How long any one response may take.
const WAIT: Duration = Duration::from_secs(10);

/// Well-formed (32 hex digits) but no message's.
const UNKNOWN_ID: &str = "0195d3b2c4e47a1b9c3f00112233aabb";

/// rusmpp's `CommandCodec`, unchanged, except that a PDU rusmpp cannot decode fails with the
/// bytes it was given (in hex), so a rejection can be reported as what Tern sent.
struct Codec(CommandCodec);

impl Decoder for Codec {
    type Item = Command;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, std::io::Error> {
        let before = src.clone();
        self.0.decode(src).map_err(|error: DecodeError| {
            std::io::Error::other(format!("rusmpp cannot decode {}: {error}", hex(&before)))
        })
    }
}

impl Encoder<Command> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, command: Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        self.0
            .encode(command, dst)
            .map_err(|error: EncodeError| std::io::Error::other(error.to_string()))
    }
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

/// A rusmpp client on one connection.
struct Client {
    framed: Framed<TcpStream, Codec>,
    sequence: u32,
}

impl Client {
    /// Connects to the gateway's SMPP listener (loopback) and binds `tern1` as a transmitter.
    async fn bound(setup: &SmppSetup) -> Client {
        let address = setup.gateway.smpp_addr.expect("SMPP is on");
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(address))
            .await
            .expect("connect timed out")
            .unwrap();
        let mut client = Client {
            framed: Framed::new(stream, Codec(CommandCodec::new())),
            sequence: 0,
        };
        let bind = BindTransmitter::builder()
            .system_id(c_octets("tern1"))
            .password(c_octets("secret1"))
            .system_type(COctetString::empty())
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        let resp = client.request(bind).await;
        assert_eq!(resp.id(), CommandId::BindTransmitterResp, "{resp:?}");
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        let Some(Pdu::BindTransmitterResp(body)) = resp.pdu() else {
            panic!("not a bind_transmitter_resp body: {resp:?}");
        };
        assert_eq!(body.system_id.as_str(), "Tern", "{resp:?}");
        client
    }

    /// Sends `pdu` as the next request; returns the response, which must echo its sequence
    /// number. A response that does not come within `WAIT`, a close, or a PDU rusmpp cannot
    /// decode fails the test.
    async fn request(&mut self, pdu: impl Into<Pdu>) -> Command {
        self.sequence += 1;
        let command = Command::new(CommandStatus::EsmeRok, self.sequence, pdu);
        tokio::time::timeout(WAIT, self.framed.send(command))
            .await
            .expect("send timed out")
            .unwrap();
        let resp = tokio::time::timeout(WAIT, self.framed.next())
            .await
            .unwrap_or_else(|_| panic!("no response to request {} in {WAIT:?}", self.sequence))
            .expect("the gateway closed the connection")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            resp.sequence_number(),
            self.sequence,
            "the sequence number is echoed: {resp:?}"
        );
        resp
    }

    /// submit_sm of `short_message` (GSM 7-bit) from "Tern" to +31 6 12345678 with this
    /// esm_class; returns the id its submit_sm_resp gives (status 0, 32 hex digits, no TLVs).
    async fn submit(&mut self, esm_class: u8, short_message: &[u8]) -> String {
        let submit = SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c_octets("Tern"))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_octets("31612345678"))
            .esm_class(EsmClass::from(esm_class))
            .data_coding(DataCoding::McSpecific)
            .short_message(OctetString::from_slice(short_message).unwrap())
            .build();
        let resp = self.request(submit).await;
        assert_eq!(resp.id(), CommandId::SubmitSmResp, "{resp:?}");
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        let Some(Pdu::SubmitSmResp(body)) = resp.pdu() else {
            panic!("not a submit_sm_resp body: {resp:?}");
        };
        assert!(body.tlvs().is_empty(), "{resp:?}");
        let id = body.message_id().as_str().to_owned();
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "a 32-hex-digit id: {resp:?}"
        );
        id
    }

    async fn query(&mut self, id: &str) -> Command {
        let query = QuerySm::builder()
            .message_id(c_octets(id))
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c_octets("Tern"))
            .build();
        self.request(query).await
    }

    async fn cancel(&mut self, id: &str) -> Command {
        let cancel = CancelSm::builder()
            .message_id(c_octets(id))
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c_octets("Tern"))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_octets("31612345678"))
            .build();
        self.request(cancel).await
    }

    /// replace_sm of `id`'s text (no schedule, no new validity).
    async fn replace(&mut self, id: &str, short_message: &[u8]) -> Command {
        let replace = ReplaceSm::builder()
            .message_id(c_octets(id))
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c_octets("Tern"))
            .schedule_delivery_time(EmptyOrFullCOctetString::empty())
            .validity_period(EmptyOrFullCOctetString::empty())
            .short_message(OctetString::from_slice(short_message).unwrap())
            .build();
        self.request(replace).await
    }
}

fn c_octets<const MIN: usize, const MAX: usize>(text: &str) -> COctetString<MIN, MAX> {
    COctetString::from_str(text).unwrap()
}

/// A lone segment (1 of 2, 8-bit reference 0x02) of GSM `text`: it stays queued.
fn lone_segment(text: &[u8]) -> Vec<u8> {
    let mut octets = vec![0x05, 0x00, 0x03, 0x02, 0x02, 0x01];
    octets.extend_from_slice(text);
    octets
}

/// Asserts a response's command id and status, and that it has no body (rusmpp decodes a
/// header-only query_sm_resp as no PDU, and a cancel_sm_resp / replace_sm_resp as their empty
/// variants).
fn assert_header_only(resp: &Command, id: CommandId, status: CommandStatus) {
    assert_eq!((resp.id(), resp.status()), (id, status), "{resp:?}");
    let expected = match id {
        CommandId::CancelSmResp => Some(Pdu::CancelSmResp),
        CommandId::ReplaceSmResp => Some(Pdu::ReplaceSmResp),
        _ => None,
    };
    assert_eq!(resp.pdu(), expected.as_ref(), "{resp:?}");
}

/// Asserts a query_sm_resp with status 0: the id echoed, no final date, this state, no error.
fn assert_queried(resp: &Command, id: &str, state: MessageState) {
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::QuerySmResp, CommandStatus::EsmeRok),
        "{resp:?}"
    );
    let expected = QuerySmResp::builder()
        .message_id(c_octets(id))
        .final_date(EmptyOrFullCOctetString::empty())
        .message_state(state)
        .error_code(0)
        .build();
    assert_eq!(resp.pdu(), Some(&Pdu::QuerySmResp(expected)), "{resp:?}");
}

#[tokio::test]
async fn rusmpp_queries_replaces_and_cancels_a_queued_message() {
    let setup = smpp_setup(None, &[]);
    let mut client = Client::bound(&setup).await;
    // esm_class 0x40: UDHI, the text starts with a concatenation header (ref 2, 1 of 2).
    let id = client.submit(0x40, &lone_segment(b"old text")).await;
    let entry = logged(&setup, &id).await;
    assert_eq!(
        (entry["status"].as_str(), entry["body"].as_str()),
        (Some("queued"), Some("old text")),
        "{entry}"
    );
    // Waiting for its group: ENROUTE (1), no final date, no error.
    assert_queried(&client.query(&id).await, &id, MessageState::Enroute);

    // replace_sm: the new text, read as the message's own data_coding (GSM).
    let resp = client.replace(&id, b"new text").await;
    assert_header_only(&resp, CommandId::ReplaceSmResp, CommandStatus::EsmeRok);
    let entry = logged(&setup, &id).await;
    assert_eq!(entry["body"], "new text", "{entry}");
    assert_eq!(entry["status"], "queued", "{entry}");
    assert_eq!(entry["parts"], 1, "{entry}");
    assert_queried(&client.query(&id).await, &id, MessageState::Enroute);

    // cancel_sm: cancelled, once.
    let resp = client.cancel(&id).await;
    assert_header_only(&resp, CommandId::CancelSmResp, CommandStatus::EsmeRok);
    let entry = logged(&setup, &id).await;
    assert_eq!(entry["status"], "cancelled", "{entry}");
    assert_eq!(entry["body"], "new text", "{entry}");
    let resp = client.cancel(&id).await;
    assert_header_only(
        &resp,
        CommandId::CancelSmResp,
        CommandStatus::EsmeRcancelfail,
    );
    // DELETED (4); no final date (the store keeps no time of a cancellation).
    assert_queried(&client.query(&id).await, &id, MessageState::Deleted);
    // Too late to replace: ESME_RREPLACEFAIL, and the text stays.
    let resp = client.replace(&id, b"too late").await;
    assert_header_only(
        &resp,
        CommandId::ReplaceSmResp,
        CommandStatus::EsmeRreplacefail,
    );
    let entry = logged(&setup, &id).await;
    assert_eq!(
        (entry["status"].as_str(), entry["body"].as_str()),
        (Some("cancelled"), Some("new text")),
        "{entry}"
    );
}

#[tokio::test]
async fn rusmpp_gets_each_refusal_for_a_malformed_or_unknown_id() {
    let setup = smpp_setup(None, &[]);
    let mut client = Client::bound(&setup).await;
    // A queued message that none of the refused requests may touch.
    let id = client.submit(0x40, &lone_segment(b"keep me")).await;
    // Not 32 hex digits: ESME_RINVMSGID, header only, for each command.
    for malformed in ["12345", "not-an-id", "0195d3b2c4e47a1b9c3f00112233aabbcc"] {
        let resp = client.cancel(malformed).await;
        assert_header_only(&resp, CommandId::CancelSmResp, CommandStatus::EsmeRinvmsgid);
        let resp = client.replace(malformed, b"x").await;
        assert_header_only(
            &resp,
            CommandId::ReplaceSmResp,
            CommandStatus::EsmeRinvmsgid,
        );
        let resp = client.query(malformed).await;
        assert_header_only(&resp, CommandId::QuerySmResp, CommandStatus::EsmeRinvmsgid);
    }
    // Well-formed, no such message: ESME_RCANCELFAIL, ESME_RREPLACEFAIL, ESME_RQUERYFAIL.
    let resp = client.cancel(UNKNOWN_ID).await;
    assert_header_only(
        &resp,
        CommandId::CancelSmResp,
        CommandStatus::EsmeRcancelfail,
    );
    let resp = client.replace(UNKNOWN_ID, b"x").await;
    assert_header_only(
        &resp,
        CommandId::ReplaceSmResp,
        CommandStatus::EsmeRreplacefail,
    );
    let resp = client.query(UNKNOWN_ID).await;
    assert_header_only(&resp, CommandId::QuerySmResp, CommandStatus::EsmeRqueryfail);
    // Nothing changed; the session goes on, and the queued message is still the client's.
    let entry = logged(&setup, &id).await;
    assert_eq!(
        (entry["status"].as_str(), entry["body"].as_str()),
        (Some("queued"), Some("keep me")),
        "{entry}"
    );
    assert_queried(&client.query(&id).await, &id, MessageState::Enroute);
    let resp = client.cancel(&id).await;
    assert_header_only(&resp, CommandId::CancelSmResp, CommandStatus::EsmeRok);
}
