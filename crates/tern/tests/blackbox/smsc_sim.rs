//! `tern smsc-sim`, black-box: the binary is spawned on loopback (ports 0) and driven by an SMPP
//! client not written in this project, rusmpp's tokio codec (every request built and encoded by
//! rusmpp, every PDU from the simulator decoded by it), and over its HTTP control API. Each PDU
//! is also kept as the raw octets received, so receipts and MOs are checked byte for byte.

use std::net::SocketAddr;
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use tokio::net::TcpStream;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, Framed};

use crate::TERN;

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(10);

/// A running `tern smsc-sim` (also the SMSC of the SMPP connector's tests).
pub(crate) struct SmscSim {
    child: std::process::Child,
    pub(crate) smpp: SocketAddr,
    pub(crate) control: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for SmscSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmscSim {
    /// Starts the simulator with this configuration file and reads its two address lines.
    pub(crate) async fn start(config_toml: &str) -> SmscSim {
        SmscSim::start_at(config_toml, "127.0.0.1:0").await
    }

    /// Starts the simulator listening for SMPP on `addr`.
    pub(crate) async fn start_at(config_toml: &str, addr: &str) -> SmscSim {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("smsc-sim.toml");
        std::fs::write(&config, config_toml).unwrap();
        let mut child = std::process::Command::new(TERN)
            .args(["smsc-sim", "--addr", addr, "--control-addr", "127.0.0.1:0"])
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        // Reads every line, so the process never blocks on its stdout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let next_line = || {
            lines
                .recv_timeout(WAIT)
                .expect("smsc-sim printed nothing in time")
        };
        let smpp = next_line();
        let control = next_line();
        let smpp = smpp
            .strip_prefix("smsc-sim listening on ")
            .unwrap_or_else(|| panic!("first line: {smpp}"))
            .parse()
            .unwrap();
        let control = control
            .strip_prefix("smsc-sim control on ")
            .unwrap_or_else(|| panic!("second line: {control}"))
            .parse()
            .unwrap();
        SmscSim {
            child,
            smpp,
            control,
            http: tern_testkit::http_client(),
            _dir: dir,
        }
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = tokio::time::timeout(
            WAIT,
            self.http
                .post(format!("http://{}{path}", self.control))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send(),
        )
        .await
        .expect("control API timed out")
        .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
        )
    }

    pub(crate) async fn stats(&self) -> Value {
        let resp = tokio::time::timeout(
            WAIT,
            self.http
                .get(format!("http://{}/stats", self.control))
                .send(),
        )
        .await
        .expect("control API timed out")
        .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }
}

/// rusmpp's codec, also returning the octets each PDU came in.
struct RawCodec(CommandCodec);

impl Decoder for RawCodec {
    type Item = (Vec<u8>, Command);
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, std::io::Error> {
        let before = src.clone();
        match self.0.decode(src) {
            Ok(Some(command)) => {
                let used = before.len() - src.len();
                Ok(Some((before[..used].to_vec(), command)))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(std::io::Error::other(format!(
                "rusmpp cannot decode {before:02x?}: {error}"
            ))),
        }
    }
}

impl Encoder<Command> for RawCodec {
    type Error = std::io::Error;

    fn encode(&mut self, command: Command, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        self.0
            .encode(command, dst)
            .map_err(|error| std::io::Error::other(error.to_string()))
    }
}

fn c<const MIN: usize, const MAX: usize>(text: &str) -> COctetString<MIN, MAX> {
    COctetString::from_str(text).unwrap()
}

#[derive(Clone, Copy)]
enum Kind {
    Transmitter,
    Receiver,
    Transceiver,
}

struct Client {
    framed: Framed<TcpStream, RawCodec>,
    sequence: u32,
}

impl Client {
    async fn connect(sim: &SmscSim) -> Client {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(sim.smpp))
            .await
            .expect("connect timed out")
            .unwrap();
        Client {
            framed: Framed::new(stream, RawCodec(CommandCodec::new())),
            sequence: 0,
        }
    }

    /// Binds; returns the bind response.
    async fn bind(&mut self, kind: Kind, system_id: &str, password: &str) -> Command {
        macro_rules! bind {
            ($t:ident) => {
                $t::builder()
                    .system_id(c(system_id))
                    .password(c(password))
                    .system_type(COctetString::empty())
                    .interface_version(InterfaceVersion::Smpp3_4)
                    .addr_ton(Ton::Unknown)
                    .addr_npi(Npi::Unknown)
                    .address_range(COctetString::empty())
                    .build()
            };
        }
        match kind {
            Kind::Transmitter => self.request(bind!(BindTransmitter)).await,
            Kind::Receiver => self.request(bind!(BindReceiver)).await,
            Kind::Transceiver => self.request(bind!(BindTransceiver)).await,
        }
    }

    async fn bound(sim: &SmscSim, kind: Kind, system_id: &str) -> Client {
        let mut client = Client::connect(sim).await;
        let resp = client.bind(kind, system_id, "pw").await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        client
    }

    /// The next PDU from the simulator; a close or silence fails.
    async fn next(&mut self) -> (Vec<u8>, Command) {
        tokio::time::timeout(WAIT, self.framed.next())
            .await
            .expect("nothing received in time")
            .expect("the simulator closed the connection")
            .unwrap()
    }

    async fn send(&mut self, command: Command) {
        tokio::time::timeout(WAIT, self.framed.send(command))
            .await
            .expect("send timed out")
            .unwrap();
    }

    async fn request(&mut self, pdu: impl Into<Pdu>) -> Command {
        self.sequence += 1;
        self.send(Command::new(CommandStatus::EsmeRok, self.sequence, pdu))
            .await;
        let (_, resp) = self.next().await;
        assert_eq!(resp.sequence_number(), self.sequence, "{resp:?}");
        resp
    }

    /// submit_sm of GSM `text` to `to` from "Acme"; returns the response.
    async fn submit(&mut self, to: &str, text: &str, registered_delivery: u8) -> Command {
        let submit = SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c("Acme"))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c(to))
            .esm_class(EsmClass::from(0))
            .registered_delivery(RegisteredDelivery::from(registered_delivery))
            .data_coding(DataCoding::McSpecific)
            .short_message(OctetString::from_slice(text.as_bytes()).unwrap())
            .build();
        let resp = self.request(submit).await;
        assert_eq!(resp.id(), CommandId::SubmitSmResp, "{resp:?}");
        resp
    }

    /// A submit that must succeed; returns its id.
    async fn submit_ok(&mut self, to: &str, text: &str, registered_delivery: u8) -> String {
        let resp = self.submit(to, text, registered_delivery).await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        let Some(Pdu::SubmitSmResp(body)) = resp.pdu() else {
            panic!("no body: {resp:?}");
        };
        body.message_id().as_str().to_owned()
    }

    /// The next PDU, which must be a deliver_sm; answers it and returns it raw and decoded.
    async fn deliver_sm(&mut self) -> (Vec<u8>, rusmpp::pdus::DeliverSm) {
        let (raw, command) = self.next().await;
        assert_eq!(command.id(), CommandId::DeliverSm, "{command:?}");
        let sequence = command.sequence_number();
        let Some(Pdu::DeliverSm(body)) = command.pdu() else {
            panic!("no body: {command:?}");
        };
        let body = body.clone();
        let resp = DeliverSmResp::builder()
            .message_id(COctetString::empty())
            .build();
        self.send(Command::new(CommandStatus::EsmeRok, sequence, resp))
            .await;
        (raw, body)
    }
}

/// The octets of a deliver_sm body from a known position: the header is 16 octets, then
/// service_type (empty: one NUL), six address octets and the addresses, ...; this finds
/// short_message by its length octet right before it, which the caller knows.
fn after_short_message<'a>(raw: &'a [u8], short_message: &[u8]) -> &'a [u8] {
    let mut needle = vec![short_message.len() as u8];
    needle.extend_from_slice(short_message);
    let at = raw
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("short_message not in {raw:02x?}"));
    &raw[at + needle.len()..]
}

/// The Appendix B date fields are 10 digits; returns the text with them replaced by `D`.
fn without_dates(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("date:") {
        out.push_str(&rest[..at + 5]);
        let digits = rest[at + 5..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        out.push_str(&format!("D{digits}"));
        rest = &rest[at + 5 + digits..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn smsc_sim_ids_in_each_format_and_counts() {
    for format in ["hex", "decimal", "uuid"] {
        let sim = SmscSim::start(&format!("id_format = \"{format}\"\n")).await;
        let mut client = Client::bound(&sim, Kind::Transmitter, "acme").await;
        let first = client.submit_ok("31612345678", "one", 0).await;
        let second = client.submit_ok("31612345678", "two", 0).await;
        match format {
            "hex" => {
                for id in [&first, &second] {
                    assert!(
                        id.len() == 16
                            && id
                                .bytes()
                                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                        "{id}"
                    );
                }
                let a = u64::from_str_radix(&first, 16).unwrap();
                assert_eq!(u64::from_str_radix(&second, 16).unwrap(), a + 1);
            }
            "decimal" => {
                let a: u64 = first.parse().unwrap();
                assert_eq!(second.parse::<u64>().unwrap(), a + 1, "{first} {second}");
                assert!(!first.starts_with('0'));
            }
            _ => {
                for id in [&first, &second] {
                    let groups: Vec<usize> = id.split('-').map(str::len).collect();
                    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
                    assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");
                }
                assert_ne!(first, second);
            }
        }
        assert_eq!(
            sim.stats().await,
            json!({"binds": 1, "submits": 2, "receipts": 0, "mo": 0})
        );
    }
}

#[tokio::test]
async fn smsc_sim_refuses_wrong_credentials_and_unbinds_on_sigterm() {
    let mut sim = SmscSim::start("system_id = \"acme\"\npassword = \"secret\"\n").await;
    let mut client = Client::connect(&sim).await;
    let refused = client.bind(Kind::Transceiver, "acme", "wrong").await;
    assert_eq!(refused.id(), CommandId::BindTransceiverResp);
    assert_eq!(
        refused.status(),
        CommandStatus::EsmeRinvpaswd,
        "{refused:?}"
    );
    let refused = client.bind(Kind::Transmitter, "other", "secret").await;
    assert_eq!(
        refused.status(),
        CommandStatus::EsmeRinvpaswd,
        "{refused:?}"
    );
    let accepted = client.bind(Kind::Transceiver, "acme", "secret").await;
    assert_eq!(accepted.status(), CommandStatus::EsmeRok, "{accepted:?}");
    let Some(Pdu::BindTransceiverResp(body)) = accepted.pdu() else {
        panic!("{accepted:?}");
    };
    assert_eq!(body.system_id.as_str(), "smsc-sim");
    assert_eq!(sim.stats().await["binds"], 1);

    let pid = sim.child.id();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The session is unbound; the simulator stops once unbind_resp comes.
    let (raw, unbind) = client.next().await;
    assert_eq!(unbind.id(), CommandId::Unbind, "{unbind:?}");
    assert_eq!(raw[..12], [0, 0, 0, 16, 0, 0, 0, 6, 0, 0, 0, 0]);
    client
        .send(Command::new(
            CommandStatus::EsmeRok,
            unbind.sequence_number(),
            Pdu::UnbindResp,
        ))
        .await;
    let closed = tokio::time::timeout(WAIT, client.framed.next())
        .await
        .expect("the session was not closed");
    assert!(closed.is_none(), "{closed:?}");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = sim.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "smsc-sim did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn smsc_sim_receipts_follow_prefix_rules() {
    let sim = SmscSim::start(
        r#"
        [[rule]]
        to_prefix = "3162"
        outcome = "failed"
        error_code = 24
        [[rule]]
        to_prefix = "3163"
        outcome = "silent"
        "#,
    )
    .await;
    // A transceiver gets the receipts of its own submissions.
    let mut trx = Client::bound(&sim, Kind::Transceiver, "acme").await;
    let id = trx.submit_ok("31621111111", "Hello receipts", 1).await;
    let (raw, receipt) = trx.deliver_sm().await;
    assert_eq!(u8::from(receipt.esm_class), 0x04);
    assert_eq!(receipt.source_addr.as_str(), "31621111111");
    assert_eq!(receipt.destination_addr.as_str(), "Acme");
    let text = String::from_utf8(receipt.short_message().as_ref().to_vec()).unwrap();
    assert_eq!(
        without_dates(&text),
        format!(
            "id:{id} sub:001 dlvrd:000 submit date:D10 done date:D10 stat:UNDELIV err:024 text:Hello receipts"
        )
    );
    let mut tlvs = vec![0x00, 0x1E, 0x00, id.len() as u8 + 1];
    tlvs.extend_from_slice(id.as_bytes());
    tlvs.push(0);
    tlvs.extend_from_slice(&[0x04, 0x23, 0x00, 0x03, 0x03, 0x00, 24]);
    tlvs.extend_from_slice(&[0x04, 0x27, 0x00, 0x01, 5]);
    assert_eq!(after_short_message(&raw, text.as_bytes()), tlvs.as_slice());

    // A transmitter's receipts go to a receiver bound with the same system_id, not to others.
    // (Another system_id than the transceiver's, which would qualify too.)
    let mut tx = Client::bound(&sim, Kind::Transmitter, "acme2").await;
    let mut other = Client::bound(&sim, Kind::Receiver, "someone-else").await;
    let mut rx = Client::bound(&sim, Kind::Receiver, "acme2").await;
    // Silent: no receipt; then a delivered one, which must be the next PDU.
    tx.submit_ok("31631111111", "never reported", 1).await;
    let id = tx
        .submit_ok("31611111111", "A text longer than twenty characters", 1)
        .await;
    let (raw, receipt) = rx.deliver_sm().await;
    let text = String::from_utf8(receipt.short_message().as_ref().to_vec()).unwrap();
    assert_eq!(
        without_dates(&text),
        format!(
            "id:{id} sub:001 dlvrd:001 submit date:D10 done date:D10 stat:DELIVRD err:000 text:A text longer than t"
        )
    );
    let mut tlvs = vec![0x00, 0x1E, 0x00, id.len() as u8 + 1];
    tlvs.extend_from_slice(id.as_bytes());
    tlvs.extend_from_slice(&[0, 0x04, 0x27, 0x00, 0x01, 2]);
    assert_eq!(after_short_message(&raw, text.as_bytes()), tlvs.as_slice());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other.framed.next())
            .await
            .is_err(),
        "another system_id's receiver gets nothing"
    );
    assert_eq!(
        sim.stats().await,
        json!({"binds": 4, "submits": 3, "receipts": 2, "mo": 0})
    );
}

#[tokio::test]
async fn smsc_sim_cm_receipts_after_the_delay() {
    let sim = SmscSim::start("receipt_format = \"cm\"\nreceipt_delay_ms = 400\n").await;
    let mut trx = Client::bound(&sim, Kind::Transceiver, "acme").await;
    let sent = Instant::now();
    let id = trx.submit_ok("31611111111", "hi", 1).await;
    let (_, receipt) = trx.deliver_sm().await;
    assert!(
        sent.elapsed() >= Duration::from_millis(400),
        "{:?}",
        sent.elapsed()
    );
    let text = String::from_utf8(receipt.short_message().as_ref().to_vec()).unwrap();
    assert_eq!(
        without_dates(&text),
        format!("id:{id} submit date:D14 done date:D14 stat:DELIVRD err:000")
    );
}

#[tokio::test]
async fn smsc_sim_throttles_then_recovers() {
    let sim = SmscSim::start("").await;
    let mut client = Client::bound(&sim, Kind::Transmitter, "acme").await;
    client.submit_ok("31611111111", "before", 0).await;
    let (status, _) = sim.post("/throttle", json!({"seconds": 1})).await;
    assert_eq!(status, 200);
    let throttled_at = Instant::now();
    let resp = client.submit("31611111111", "throttled", 0).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRthrottled, "{resp:?}");
    assert_eq!(u32::from(resp.status()), 0x58);
    loop {
        let resp = client.submit("31611111111", "again", 0).await;
        if resp.status() == CommandStatus::EsmeRok {
            break;
        }
        assert_eq!(resp.status(), CommandStatus::EsmeRthrottled, "{resp:?}");
        assert!(throttled_at.elapsed() < WAIT, "still throttled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(throttled_at.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        sim.stats().await["submits"],
        2,
        "throttled submits are not counted"
    );
}

#[tokio::test]
async fn smsc_sim_injects_mo_single_long_and_ucs2() {
    let sim = SmscSim::start("").await;
    let mo = json!({"from": "31612345678", "to": "3669", "text": "Hello from the handset"});
    let (status, body) = sim.post("/mo", mo.clone()).await;
    assert_eq!(status, 409, "{body}");

    let mut rx = Client::bound(&sim, Kind::Receiver, "acme").await;
    let (status, body) = sim.post("/mo", mo).await;
    assert_eq!((status, body), (200, json!({"parts": 1})));
    let (raw, deliver) = rx.deliver_sm().await;
    assert_eq!(u8::from(deliver.esm_class), 0);
    assert_eq!(u8::from(deliver.data_coding), 0);
    assert_eq!(deliver.source_addr.as_str(), "31612345678");
    assert_eq!(deliver.destination_addr.as_str(), "3669");
    assert_eq!(deliver.short_message().as_ref(), b"Hello from the handset");
    assert!(
        after_short_message(&raw, b"Hello from the handset").is_empty(),
        "no TLVs"
    );

    // 200 GSM characters: 153 + 47, each part with `05 00 03 ref 02 n`.
    let long: String = "0123456789".repeat(20);
    let (status, body) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": long}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"parts": 2})));
    let (_, first) = rx.deliver_sm().await;
    let (_, second) = rx.deliver_sm().await;
    let first = first.short_message().as_ref().to_vec();
    let second = second.short_message().as_ref().to_vec();
    let reference = first[3];
    assert_eq!(first[..6], [0x05, 0x00, 0x03, reference, 2, 1]);
    assert_eq!(&first[6..], &long.as_bytes()[..153]);
    assert_eq!(second[..6], [0x05, 0x00, 0x03, reference, 2, 2]);
    assert_eq!(&second[6..], &long.as_bytes()[153..]);

    // UCS2: data_coding 8, UTF-16BE; forced with "encoding".
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": "Привет"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, deliver) = rx.deliver_sm().await;
    assert_eq!(u8::from(deliver.data_coding), 8);
    let utf16: Vec<u8> = "Привет".encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(deliver.short_message().as_ref(), utf16.as_slice());
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": "ok", "encoding": "ucs2"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, deliver) = rx.deliver_sm().await;
    assert_eq!(u8::from(deliver.data_coding), 8);
    assert_eq!(deliver.short_message().as_ref(), [0, b'o', 0, b'k']);
    assert_eq!(sim.stats().await["mo"], 4);
}

#[tokio::test]
async fn smsc_sim_disconnect_drops_every_session() {
    let sim = SmscSim::start("").await;
    let mut tx = Client::bound(&sim, Kind::Transmitter, "acme").await;
    let mut rx = Client::bound(&sim, Kind::Receiver, "acme").await;
    let (status, body) = sim.post("/disconnect", json!({})).await;
    assert_eq!((status, body), (200, json!({"bound_sessions": 2})));
    for client in [&mut tx, &mut rx] {
        let closed = tokio::time::timeout(WAIT, client.framed.next())
            .await
            .expect("the session was not closed");
        assert!(closed.is_none(), "{closed:?}");
    }
    // The simulator still accepts new sessions.
    let mut again = Client::bound(&sim, Kind::Transmitter, "acme").await;
    again.submit_ok("31611111111", "after", 0).await;
    assert_eq!(sim.stats().await["binds"], 3);
}

#[tokio::test]
async fn smsc_sim_holds_receipts_until_a_receiver_binds() {
    let sim = SmscSim::start("").await;
    let mut tx = Client::bound(&sim, Kind::Transmitter, "acme").await;
    let id = tx.submit_ok("31611111111", "held", 1).await;
    // Nobody can take it yet; give the receipt task time to run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sim.stats().await["receipts"], 0);
    let mut rx = Client::bound(&sim, Kind::Receiver, "acme").await;
    let (_, receipt) = rx.deliver_sm().await;
    let text = String::from_utf8(receipt.short_message().as_ref().to_vec()).unwrap();
    assert!(
        text.starts_with(&format!("id:{id} sub:001 dlvrd:001 ")),
        "{text}"
    );
    assert!(text.ends_with(" stat:DELIVRD err:000 text:held"), "{text}");
    assert_eq!(sim.stats().await["receipts"], 1);
}

#[tokio::test]
async fn smsc_sim_data_sm_enquire_link_generic_nack_and_unbind() {
    use rusmpp::pdus::DataSm;
    use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
    use rusmpp::types::AnyOctetString;
    use rusmpp::values::MessagePayload;

    let sim = SmscSim::start("id_format = \"decimal\"\n").await;
    let mut client = Client::connect(&sim).await;
    // Not bound: submit_sm is refused with ESME_RINVBNDSTS, enquire_link answered.
    let resp = client.submit("31611111111", "early", 0).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRinvbndsts, "{resp:?}");
    let resp = client.request(Pdu::EnquireLink).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::EnquireLinkResp, CommandStatus::EsmeRok)
    );
    let resp = client.bind(Kind::Transceiver, "acme", "pw").await;
    assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
    let resp = client.bind(Kind::Transceiver, "acme", "pw").await;
    assert_eq!(resp.status(), CommandStatus::EsmeRalybnd, "{resp:?}");

    // data_sm with message_payload: an id and a receipt repeating the text.
    let data = DataSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(c("Acme"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(c("31611111111"))
        .esm_class(EsmClass::from(0))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::McSpecific)
        .push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
            MessagePayload::new(AnyOctetString::from_slice(b"via data_sm")),
        ))
        .build();
    let resp = client.request(data).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::DataSmResp, CommandStatus::EsmeRok),
        "{resp:?}"
    );
    let Some(Pdu::DataSmResp(body)) = resp.pdu() else {
        panic!("{resp:?}");
    };
    let id = body.message_id().as_str().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    let (_, receipt) = client.deliver_sm().await;
    let text = String::from_utf8(receipt.short_message().as_ref().to_vec()).unwrap();
    assert!(text.starts_with(&format!("id:{id} ")), "{text}");
    assert!(text.ends_with(" text:via data_sm"), "{text}");

    // A command the simulator does not take: generic_nack ESME_RINVCMDID, same sequence.
    client.sequence += 1;
    let raw = [
        0,
        0,
        0,
        16,
        0x00,
        0x00,
        0x01,
        0x99,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        client.sequence as u8,
    ];
    tokio::io::AsyncWriteExt::write_all(client.framed.get_mut(), &raw)
        .await
        .unwrap();
    let (raw, nack) = client.next().await;
    assert_eq!(
        raw,
        [
            0,
            0,
            0,
            16,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            3,
            0,
            0,
            0,
            client.sequence as u8
        ]
    );
    assert_eq!(nack.id(), CommandId::GenericNack);

    // unbind: unbind_resp, then the simulator closes.
    let resp = client.request(Pdu::Unbind).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::UnbindResp, CommandStatus::EsmeRok)
    );
    let closed = tokio::time::timeout(WAIT, client.framed.next())
        .await
        .expect("not closed after unbind");
    assert!(closed.is_none(), "{closed:?}");
}

#[tokio::test]
async fn smsc_sim_answers_pipelined_submits_as_they_come() {
    let sim = SmscSim::start("id_format = \"decimal\"\n").await;
    let mut client = Client::bound(&sim, Kind::Transceiver, "acme").await;
    let first_sequence = client.sequence + 1;
    for n in 0..50 {
        client.sequence += 1;
        let submit = SubmitSm::builder()
            .source_addr(c("Acme"))
            .destination_addr(c("31611111111"))
            .short_message(OctetString::from_slice(format!("m{n}").as_bytes()).unwrap())
            .build();
        client
            .send(Command::new(
                CommandStatus::EsmeRok,
                client.sequence,
                submit,
            ))
            .await;
    }
    let mut ids = Vec::new();
    for sequence in first_sequence..first_sequence + 50 {
        let (_, resp) = client.next().await;
        assert_eq!(
            (resp.id(), resp.status(), resp.sequence_number()),
            (CommandId::SubmitSmResp, CommandStatus::EsmeRok, sequence)
        );
        let Some(Pdu::SubmitSmResp(body)) = resp.pdu() else {
            panic!("{resp:?}");
        };
        ids.push(body.message_id().as_str().parse::<u64>().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(sim.stats().await["submits"], 50);
}

#[test]
fn smsc_sim_refuses_a_missing_or_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let invalid = dir.path().join("invalid.toml");
    std::fs::write(&invalid, "id_format = \"octal\"\n").unwrap();
    for (config, says) in [(&missing, "not found"), (&invalid, "id_format")] {
        let output = std::process::Command::new(TERN)
            .args([
                "smsc-sim",
                "--addr",
                "127.0.0.1:0",
                "--control-addr",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(config)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing listens");
    }
}
