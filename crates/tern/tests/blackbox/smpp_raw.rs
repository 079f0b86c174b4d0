//! The SMPP server over raw TCP, byte for byte. Malformed PDUs: each gets its exact generic_nack
//! or error response (or, when the stream cannot be resynchronised, a nack and a clean close),
//! and the gateway goes on serving a well-behaved client afterwards. Also data_sm, query_sm /
//! cancel_sm / replace_sm (their exact responses, and what the message log then shows), and the
//! unbind a stopping gateway sends.
//!
//! A message that stays queued (never handed to a channel, so it may still be cancelled or
//! replaced) is a lone segment of a concatenated message: it waits up to 10 minutes for the rest
//! of its group.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use tern_testkit::{Gateway, create_account};

use crate::TERN;
use crate::smpp::{SmppSetup, logged, smpp_setup};

/// A PDU with this header and body (command_length computed).
fn pdu(command_id: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A header-only response.
fn header(command_id: u32, status: u32, sequence: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&16u32.to_be_bytes());
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out
}

fn bind_body(password: &str) -> Vec<u8> {
    bind_body_as("tern1", password)
}

fn bind_body_as(system_id: &str, password: &str) -> Vec<u8> {
    let mut body = system_id.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(password.as_bytes());
    body.extend_from_slice(&[0, 0, 0x34, 0, 0, 0]);
    body
}

/// A submit_sm body to +31612345678 with `short_message` and raw `tlvs`.
fn submit_body(short_message: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 5, 0];
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0]);
    body.push(short_message.len() as u8);
    body.extend_from_slice(short_message);
    body.extend_from_slice(tlvs);
    body
}

fn connect(setup: &SmppSetup) -> TcpStream {
    let stream = TcpStream::connect(setup.gateway.smpp_addr.unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// The next PDU, or `None` at a clean close. A read timeout fails the test.
fn read_pdu(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return None,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return None,
        Err(error) => panic!("reading a PDU: {error}"),
    }
    let mut rest = vec![0u8; u32::from_be_bytes(length) as usize - 4];
    stream.read_exact(&mut rest).unwrap();
    let mut whole = length.to_vec();
    whole.extend(rest);
    Some(whole)
}

/// Binds a transmitter on a new connection.
fn bound(setup: &SmppSetup) -> TcpStream {
    let mut stream = connect(setup);
    stream.write_all(&pdu(2, 1, &bind_body("secret1"))).unwrap();
    let mut expected = vec![0, 0, 0, 21, 0x80, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
    expected.extend_from_slice(b"Tern\0");
    assert_eq!(read_pdu(&mut stream).unwrap(), expected);
    stream
}

/// Binds `system_id` as a transmitter on a new connection.
fn bound_as(setup: &SmppSetup, system_id: &str, password: &str) -> TcpStream {
    let mut stream = connect(setup);
    stream
        .write_all(&pdu(2, 1, &bind_body_as(system_id, password)))
        .unwrap();
    let mut expected = vec![0, 0, 0, 21, 0x80, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
    expected.extend_from_slice(b"Tern\0");
    assert_eq!(read_pdu(&mut stream).unwrap(), expected);
    stream
}

/// A submit_sm body from "Tern" to `destination` (international) with these fields.
fn submit_to(destination: &str, esm_class: u8, data_coding: u8, short_message: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 5, 0];
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(destination.as_bytes());
    body.push(0);
    body.extend_from_slice(&[esm_class, 0, 0, 0, 0, 0, 0, data_coding, 0]);
    body.push(short_message.len() as u8);
    body.extend_from_slice(short_message);
    body
}

/// Submits `body` as submit_sm `sequence`; returns the id its response gives.
fn submitted(stream: &mut TcpStream, sequence: u32, body: &[u8]) -> String {
    stream.write_all(&pdu(4, sequence, body)).unwrap();
    let resp = read_pdu(stream).unwrap();
    assert_eq!(resp.len(), 16 + 33, "{resp:?}");
    assert_eq!(resp[4..12], [0x80, 0, 0, 4, 0, 0, 0, 0], "{resp:?}");
    assert_eq!(resp[12..16], sequence.to_be_bytes());
    std::str::from_utf8(&resp[16..48]).unwrap().to_owned()
}

/// A lone segment (1 of 2, 8-bit reference 0x2A) of GSM `text` to +31612345678: it stays queued.
fn lone_segment(text: &[u8]) -> Vec<u8> {
    let mut octets = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
    octets.extend_from_slice(text);
    submit_to("31612345678", 0x40, 0, &octets)
}

fn query_body(id: &str) -> Vec<u8> {
    let mut body = id.as_bytes().to_vec();
    body.extend_from_slice(&[0, 5, 0]);
    body.extend_from_slice(b"Tern\0");
    body
}

fn cancel_body(id: &str) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(&[0, 5, 0]);
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"31612345678\0");
    body
}

fn replace_body(id: &str, schedule: &str, validity: &str, short_message: &[u8]) -> Vec<u8> {
    let mut body = id.as_bytes().to_vec();
    body.extend_from_slice(&[0, 5, 0]);
    body.extend_from_slice(b"Tern\0");
    for field in [schedule, validity] {
        body.extend_from_slice(field.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(&[1, 0, short_message.len() as u8]);
    body.extend_from_slice(short_message);
    body
}

/// The query_sm_resp `sequence` answers with when all is well.
fn query_resp(sequence: u32, id: &str, final_date: &str, state: u8, error: u8) -> Vec<u8> {
    let mut body = id.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(final_date.as_bytes());
    body.push(0);
    body.extend_from_slice(&[state, error]);
    let mut out = header(0x8000_0003, 0, sequence);
    out[..4].copy_from_slice(&(16 + body.len() as u32).to_be_bytes());
    out.extend(body);
    out
}

/// Sends query_sm `sequence` for `id`; its response.
fn query(stream: &mut TcpStream, sequence: u32, id: &str) -> Vec<u8> {
    stream
        .write_all(&pdu(3, sequence, &query_body(id)))
        .unwrap();
    read_pdu(stream).unwrap()
}

/// Queries `id` until its message_state is `state` (10 s at most); the response.
fn query_until(stream: &mut TcpStream, id: &str, state: u8) -> Vec<u8> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for sequence in 1000.. {
        let resp = query(stream, sequence, id);
        if resp.len() > 18 && resp[resp.len() - 2] == state {
            return resp;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} never reached state {state}: {resp:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unreachable!()
}

/// `YYMMDDhhmmss000+` of a log entry's last status change.
fn final_date_of(entry: &Value) -> String {
    let history = entry["history"].as_array().unwrap();
    let at: jiff::Timestamp = history.last().unwrap()["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    format!("{}000+", at.strftime("%y%m%d%H%M%S"))
}

/// A gateway with two SMPP accounts, `tern1` / `secret1` (whose token the setup holds) and
/// `tern2` / `secret2`.
fn two_accounts(config: Option<&str>) -> SmppSetup {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "one",
            "--smpp-system-id",
            "tern1",
            "--smpp-password",
            "secret1",
        ],
    );
    create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "two",
            "--smpp-system-id",
            "tern2",
            "--smpp-password",
            "secret2",
        ],
    );
    let gateway = Gateway::start(TERN, &data_dir, config);
    SmppSetup {
        gateway,
        token,
        _dir: dir,
    }
}

/// A good client still binds and submits.
fn still_serves(setup: &SmppSetup) {
    let mut stream = bound(setup);
    stream
        .write_all(&pdu(4, 2, &submit_body(b"still here", &[])))
        .unwrap();
    let resp = read_pdu(&mut stream).unwrap();
    assert_eq!(resp.len(), 16 + 33, "{resp:?}");
    assert_eq!(resp[4..16], [0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert!(
        resp[16..48]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert_eq!(resp[48], 0);
}

#[test]
fn length_errors_get_generic_nack_and_a_close() {
    let setup = smpp_setup(None, &[]);
    // command_length over max_pdu_bytes (1 MiB > 65536): refused from the header alone.
    let mut stream = connect(&setup);
    stream
        .write_all(&[0, 0x10, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7])
        .unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0000, 0x02, 7),
        "generic_nack ESME_RINVCMDLEN"
    );
    assert_eq!(read_pdu(&mut stream), None, "then closed");
    // command_length under the header's 16.
    let mut stream = connect(&setup);
    stream
        .write_all(&[0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 3])
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0000, 0x02, 3));
    assert_eq!(read_pdu(&mut stream), None);
    // A PDU cut short by the client's close: nothing to answer, the session just ends.
    let mut stream = connect(&setup);
    stream
        .write_all(&pdu(2, 1, &bind_body("secret1"))[..10])
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_pdu(&mut stream), None);
    still_serves(&setup);
}

#[test]
fn broken_bodies_get_their_exact_status_and_the_session_goes_on() {
    let setup = smpp_setup(None, &[]);
    // A bind body of garbage: system_id has no NUL → ESME_RINVSYSID, header-only.
    let mut stream = connect(&setup);
    stream.write_all(&pdu(2, 5, &[0xFF, 0xFF, 0xFF])).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0002, 0x0F, 5));
    // A C-string without its terminator inside its 16 octets.
    stream.write_all(&pdu(2, 6, &[b'x'; 20])).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0002, 0x0F, 6));
    // Still open and unbound: a good bind works on the same session.
    stream.write_all(&pdu(2, 7, &bind_body("secret1"))).unwrap();
    let mut expected = vec![0, 0, 0, 21, 0x80, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7];
    expected.extend_from_slice(b"Tern\0");
    assert_eq!(read_pdu(&mut stream).unwrap(), expected);
    drop(stream);

    let mut stream = bound(&setup);
    // An unknown command_id: generic_nack ESME_RINVCMDID, echoing the sequence number.
    stream.write_all(&pdu(0x99, 11, &[])).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0000, 0x03, 11)
    );
    // A body cut inside its fixed fields (command_length matches what was sent).
    stream.write_all(&pdu(4, 12, &[0, 5])).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0000, 0x02, 12),
        "generic_nack ESME_RINVCMDLEN"
    );
    // sar_total_segments (1 octet) sent with length 2: ESME_RINVPARLEN.
    let bad_length = [0x02, 0x0E, 0, 2, 0, 3];
    stream
        .write_all(&pdu(4, 13, &submit_body(b"hi", &bad_length)))
        .unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0004, 0xC2, 13)
    );
    // A TLV running past the end of the PDU: ESME_RINVOPTPARSTREAM.
    let past_end = [0x04, 0x24, 0, 50, b'x'];
    stream
        .write_all(&pdu(4, 14, &submit_body(b"", &past_end)))
        .unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0004, 0xC0, 14)
    );
    // submit_multi is not implemented: generic_nack ESME_RINVCMDID.
    stream.write_all(&pdu(0x21, 15, &[0; 8])).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0000, 0x03, 15)
    );
    // The session still works.
    stream.write_all(&pdu(0x15, 16, &[])).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0015, 0, 16));
    still_serves(&setup);
}

#[tokio::test]
async fn data_sm_is_submitted_and_query_cancel_replace_are_answered() {
    // The simulator takes the message and reports nothing: it stays sent (ENROUTE).
    let setup = smpp_setup(Some("[[simulator.rule]]\noutcome = \"silent\"\n"), &[]);
    let mut stream = bound(&setup);
    // data_sm with the text in message_payload.
    let mut body = vec![0, 5, 0];
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[0, 0, 0]);
    body.extend_from_slice(&[0x04, 0x24, 0, 7]);
    body.extend_from_slice(b"payload");
    stream.write_all(&pdu(0x103, 21, &body)).unwrap();
    let resp = read_pdu(&mut stream).unwrap();
    assert_eq!(resp.len(), 16 + 33, "{resp:?}");
    assert_eq!(resp[4..16], [0x80, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 21]);
    let id = std::str::from_utf8(&resp[16..48]).unwrap().to_owned();
    assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    // Handed to the channel: the log says sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while logged(&setup, &id).await["status"] != "sent" {
        assert!(std::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // query_sm: ENROUTE (1), no final date, no error; the id echoed.
    assert_eq!(query(&mut stream, 22, &id), query_resp(22, &id, "", 1, 0));
    // Too late to cancel or replace a message a channel has: ESME_RCANCELFAIL,
    // ESME_RREPLACEFAIL, and it goes on unchanged.
    stream.write_all(&pdu(8, 23, &cancel_body(&id))).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0008, 0x11, 23)
    );
    stream
        .write_all(&pdu(7, 24, &replace_body(&id, "", "", b"hi")))
        .unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0007, 0x13, 24)
    );
    let entry = logged(&setup, &id).await;
    assert_eq!(entry["status"], "sent", "{entry}");
    assert_eq!(entry["body"], "payload", "{entry}");
}

#[tokio::test]
async fn query_sm_answers_each_state_with_its_final_date_and_error() {
    let config = r#"
[[simulator.rule]]
to_prefix = "0031699"
outcome = "failed"
error_code = 24
delay_ms = 10
[[simulator.rule]]
outcome = "delivered"
delay_ms = 10
"#;
    let setup = smpp_setup(Some(config), &[]);
    let mut stream = bound(&setup);
    let delivered = submitted(&mut stream, 2, &submit_to("31612345678", 0, 0, b"ok"));
    let failed = submitted(&mut stream, 3, &submit_to("31699999999", 0, 0, b"no"));
    // DELIVRD (2) with the time of its last status change, in UTC.
    let resp = query_until(&mut stream, &delivered, 2);
    let sequence = u32::from_be_bytes(resp[12..16].try_into().unwrap());
    let date = final_date_of(&logged(&setup, &delivered).await);
    assert_eq!(resp, query_resp(sequence, &delivered, &date, 2, 0));
    // UNDELIV (5) with CM's error code.
    let resp = query_until(&mut stream, &failed, 5);
    let sequence = u32::from_be_bytes(resp[12..16].try_into().unwrap());
    let date = final_date_of(&logged(&setup, &failed).await);
    assert_eq!(resp, query_resp(sequence, &failed, &date, 5, 24));
    // An id in upper case names the same message, and is echoed as sent.
    let upper = delivered.to_uppercase();
    let resp = query(&mut stream, 4, &upper);
    assert_eq!(
        resp,
        query_resp(4, &upper, &date_of(&setup, &delivered).await, 2, 0)
    );
    // No such message: ESME_RQUERYFAIL; not 32 hex digits: ESME_RINVMSGID. Header only.
    assert_eq!(
        query(&mut stream, 5, "0195d3b2c4e47a1b9c3f00112233aabb"),
        header(0x8000_0003, 0x67, 5)
    );
    assert_eq!(
        query(&mut stream, 6, "not-an-id"),
        header(0x8000_0003, 0x0C, 6)
    );
    assert_eq!(query(&mut stream, 7, ""), header(0x8000_0003, 0x0C, 7));
}

async fn date_of(setup: &SmppSetup, id: &str) -> String {
    final_date_of(&logged(setup, id).await)
}

#[tokio::test]
async fn cancel_sm_cancels_a_queued_message_once() {
    let setup = smpp_setup(None, &[]);
    let mut stream = bound(&setup);
    let id = submitted(&mut stream, 2, &lone_segment(b"cancel me"));
    assert_eq!(query(&mut stream, 3, &id), query_resp(3, &id, "", 1, 0));
    stream.write_all(&pdu(8, 4, &cancel_body(&id))).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0008, 0, 4));
    let entry = logged(&setup, &id).await;
    assert_eq!(entry["status"], "cancelled", "{entry}");
    assert_eq!(entry["history"], serde_json::json!([]), "{entry}");
    // DELETED (4); the store keeps no time of a cancellation: no final date.
    assert_eq!(query(&mut stream, 5, &id), query_resp(5, &id, "", 4, 0));
    // A second cancel changes nothing: ESME_RCANCELFAIL.
    stream.write_all(&pdu(8, 6, &cancel_body(&id))).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0008, 0x11, 6));
    // Nor can it be replaced now.
    stream
        .write_all(&pdu(7, 7, &replace_body(&id, "", "", b"too late")))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0007, 0x13, 7));
    // Without a message_id (by source and destination): not supported, ESME_RCANCELFAIL.
    stream.write_all(&pdu(8, 8, &cancel_body(""))).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0008, 0x11, 8));
    // Not 32 hex digits: ESME_RINVMSGID. No such message: ESME_RCANCELFAIL.
    stream.write_all(&pdu(8, 9, &cancel_body("12345"))).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0008, 0x0C, 9));
    stream
        .write_all(&pdu(
            8,
            10,
            &cancel_body("0195d3b2c4e47a1b9c3f00112233aabb"),
        ))
        .unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0008, 0x11, 10)
    );
}

#[tokio::test]
async fn replace_sm_replaces_a_queued_message_s_text() {
    let setup = smpp_setup(None, &[]);
    let mut stream = bound(&setup);
    let id = submitted(&mut stream, 2, &lone_segment(b"old text"));
    stream
        .write_all(&pdu(7, 3, &replace_body(&id, "", "", b"new @ text")))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0007, 0, 3));
    let entry = logged(&setup, &id).await;
    // Read as the message's own data_coding (GSM: '@' is 0x40 in IA5 but '¡' in GSM 03.38).
    assert_eq!(entry["body"], "new ¡ text", "{entry}");
    assert_eq!(entry["status"], "queued", "{entry}");
    assert_eq!(entry["parts"], 1, "{entry}");
    assert_eq!(query(&mut stream, 4, &id), query_resp(4, &id, "", 1, 0));
    // A UCS2 message is replaced in UCS2.
    let mut octets = vec![0x05, 0x00, 0x03, 0x2B, 0x02, 0x01];
    octets.extend("старый".encode_utf16().flat_map(u16::to_be_bytes));
    let ucs2 = submitted(&mut stream, 5, &submit_to("31612345678", 0x40, 8, &octets));
    let new: Vec<u8> = "новый ✓"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    stream
        .write_all(&pdu(
            7,
            6,
            &replace_body(&ucs2, "", "000001000000000R", &new),
        ))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0007, 0, 6));
    let entry = logged(&setup, &ucs2).await;
    assert_eq!(entry["body"], "новый ✓", "{entry}");
    // A new validity: a day from the replace.
    let accepted: jiff::Timestamp = entry["acceptedAt"].as_str().unwrap().parse().unwrap();
    let valid: jiff::Timestamp = entry["validUntil"].as_str().unwrap().parse().unwrap();
    let day = jiff::SignedDuration::from_hours(24);
    assert!(
        valid - accepted >= day && valid - accepted < day + jiff::SignedDuration::from_secs(30),
        "{entry}"
    );
    // Refused fields: a schedule (ESME_RINVSCHED), a validity that is no SMPP time
    // (ESME_RINVEXPIRY), an empty text (ESME_RINVMSGLEN, the error table's status for an empty body), a
    // malformed id (ESME_RINVMSGID), no such message (ESME_RREPLACEFAIL). Nothing changes.
    let refused = [
        (replace_body(&id, "000001000000000R", "", b"x"), 0x61),
        (replace_body(&id, "", "garbage", b"x"), 0x62),
        (replace_body(&id, "", "", b""), 0x01),
        (replace_body("xyz", "", "", b"x"), 0x0C),
        (
            replace_body("0195d3b2c4e47a1b9c3f00112233aabb", "", "", b"x"),
            0x13,
        ),
    ];
    for (sequence, (body, status)) in (10..).zip(refused) {
        stream.write_all(&pdu(7, sequence, &body)).unwrap();
        assert_eq!(
            read_pdu(&mut stream).unwrap(),
            header(0x8000_0007, status, sequence)
        );
    }
    assert_eq!(logged(&setup, &id).await["body"], "new ¡ text");
}

#[tokio::test]
async fn another_account_s_message_cannot_be_queried_cancelled_or_replaced() {
    let setup = two_accounts(None);
    let mut owner = bound_as(&setup, "tern1", "secret1");
    let id = submitted(&mut owner, 2, &lone_segment(b"mine"));
    let mut other = bound_as(&setup, "tern2", "secret2");
    assert_eq!(query(&mut other, 2, &id), header(0x8000_0003, 0x67, 2));
    other.write_all(&pdu(8, 3, &cancel_body(&id))).unwrap();
    assert_eq!(read_pdu(&mut other).unwrap(), header(0x8000_0008, 0x11, 3));
    other
        .write_all(&pdu(7, 4, &replace_body(&id, "", "", b"theirs")))
        .unwrap();
    assert_eq!(read_pdu(&mut other).unwrap(), header(0x8000_0007, 0x13, 4));
    // Untouched: still queued with its text, and its owner can still cancel it.
    let entry = logged(&setup, &id).await;
    assert_eq!(
        (entry["status"].as_str(), entry["body"].as_str()),
        (Some("queued"), Some("mine")),
        "{entry}"
    );
    owner.write_all(&pdu(8, 3, &cancel_body(&id))).unwrap();
    assert_eq!(read_pdu(&mut owner).unwrap(), header(0x8000_0008, 0, 3));
}

#[tokio::test]
async fn replace_sm_keeps_a_segment_s_header_and_cancel_sm_gives_the_price_back() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "paying",
            "--balance",
            "0.05",
            "--smpp-system-id",
            "tern1",
            "--smpp-password",
            "secret1",
        ],
    );
    let gateway = Gateway::start_logged(TERN, &data_dir, Some("price_per_part = \"0.05\"\n"));
    let setup = SmppSetup {
        gateway,
        token,
        _dir: dir,
    };
    let mut stream = bound(&setup);
    // One part: the whole balance.
    let id = submitted(&mut stream, 2, &lone_segment(b"one part"));
    // The segment keeps its concatenation header: a text of two parts does not fit one part
    // with it (ESME_RINVMSGLEN), and nothing changed.
    stream
        .write_all(&pdu(7, 3, &replace_body(&id, "", "", &[b'a'; 200])))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0007, 0x01, 3));
    let entry = logged(&setup, &id).await;
    assert_eq!(
        (entry["body"].as_str(), entry["parts"].as_u64()),
        (Some("one part"), Some(1))
    );
    // One part again costs nothing more.
    stream
        .write_all(&pdu(7, 4, &replace_body(&id, "", "", b"still one part")))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0007, 0, 4));
    // Nothing left for another message until the cancel gives the price back.
    stream
        .write_all(&pdu(4, 5, &submit_to("31612345678", 0, 0, b"unpaid")))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0004, 0x45, 5));
    stream.write_all(&pdu(8, 6, &cancel_body(&id))).unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0008, 0, 6));
    submitted(&mut stream, 7, &submit_to("31612345678", 0, 0, b"paid"));
}

#[test]
fn stopping_the_gateway_unbinds_its_sessions() {
    let setup = smpp_setup(None, &[]);
    let mut stream = connect(&setup);
    let mut receiver = b"tern1\0secret1\0\0".to_vec();
    receiver.extend_from_slice(&[0x34, 0, 0, 0]);
    stream.write_all(&pdu(1, 1, &receiver)).unwrap();
    let mut expected = vec![0, 0, 0, 21, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    expected.extend_from_slice(b"Tern\0");
    assert_eq!(read_pdu(&mut stream).unwrap(), expected);
    let SmppSetup { gateway, _dir, .. } = setup;
    let stopped = std::thread::spawn(move || gateway.stop());
    let unbind = read_pdu(&mut stream).unwrap();
    assert_eq!(unbind[..12], [0, 0, 0, 16, 0, 0, 0, 6, 0, 0, 0, 0]);
    let sequence = u32::from_be_bytes(unbind[12..16].try_into().unwrap());
    stream.write_all(&header(0x8000_0006, 0, sequence)).unwrap();
    assert_eq!(read_pdu(&mut stream), None, "closed after unbind_resp");
    assert!(stopped.join().unwrap().success());
}

#[test]
fn a_session_that_does_not_answer_enquire_link_is_closed() {
    let setup = smpp_setup(
        Some("[smpp]\nenquire_link_secs = 1\nresponse_timeout_secs = 1\n"),
        &[],
    );
    let started = std::time::Instant::now();
    let mut stream = bound(&setup);
    let enquire = read_pdu(&mut stream).unwrap();
    assert_eq!(enquire[..12], [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0]);
    // Not answered: the server closes the session once response_timeout_secs have passed.
    assert_eq!(read_pdu(&mut stream), None);
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn garbage_streams_never_stop_the_server() {
    let setup = smpp_setup(None, &[]);
    // xorshift: the same bytes every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..40 {
        let mut stream = connect(&setup);
        let mut garbage: Vec<u8> = (0..4096).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            // Plausible headers: a small command_length and a known command_id, garbage after.
            garbage[..8].copy_from_slice(&[0, 0, 0, 40, 0, 0, 0, (round % 10) as u8]);
        }
        // The server may close the connection before all of it is written.
        let _ = stream.write_all(&garbage);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Whatever it answers, it ends the session (at the end of the input at the latest).
        let mut sink = Vec::new();
        match stream.read_to_end(&mut sink) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(error) => panic!("round {round}: the session did not end: {error}"),
        }
    }
    still_serves(&setup);
}

/// A submit_sm the rules refuse gets the error table's status, header only, and nothing is stored.
#[tokio::test]
async fn refused_submissions_get_their_exact_status_and_store_nothing() {
    let setup = smpp_setup(None, &[]);
    let mut stream = bound(&setup);
    // A sender: TON 5, then an empty one.
    let no_sender = {
        let mut body = vec![0, 5, 0, 0, 1, 1];
        body.extend_from_slice(b"31612345678\0");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        body.extend_from_slice(b"hi");
        body
    };
    // A validity in the past (absolute, 2001).
    let past = {
        let mut body = vec![0, 5, 0];
        body.extend_from_slice(b"Tern\0");
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(b"31612345678\0");
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(b"010101000000000+\0");
        body.extend_from_slice(&[0, 0, 0, 0, 2]);
        body.extend_from_slice(b"hi");
        body
    };
    // National numbers (TON 2): their country is unknown.
    let mut national = submit_to("612345678", 0, 0, b"hi");
    national[8] = 2;
    // 8 parts of GSM text is the most: 9 parts in message_payload is too long.
    let mut too_long = submit_to("31612345678", 0, 0, b"");
    too_long.extend_from_slice(&[0x04, 0x24]);
    too_long.extend_from_slice(&(153u16 * 8 + 1).to_be_bytes());
    too_long.extend(std::iter::repeat_n(b'a', 153 * 8 + 1));
    let cases: [(&str, Vec<u8>, u32); 7] = [
        ("data_coding 5", submit_to("31612345678", 0, 5, b"hi"), 0x45),
        ("odd UCS2", submit_to("31612345678", 0, 8, b"abc"), 0x01),
        ("no destination digits", submit_to("abc", 0, 0, b"hi"), 0x0B),
        ("national destination", national, 0x50),
        ("no sender", no_sender, 0x0A),
        ("validity in the past", past, 0x62),
        ("nine parts", too_long, 0x01),
    ];
    for (sequence, (what, body, status)) in (10u32..).zip(cases) {
        stream.write_all(&pdu(4, sequence, &body)).unwrap();
        assert_eq!(
            read_pdu(&mut stream).unwrap(),
            header(0x8000_0004, status, sequence),
            "{what}"
        );
    }
    // Nothing of them was stored; the session goes on.
    let id = submitted(&mut stream, 20, &submit_to("31612345678", 0, 0, b"fine"));
    let response = tern_testkit::http_client()
        .get(setup.gateway.url("/v1.0/messages"))
        .header("X-CM-PRODUCTTOKEN", &setup.token)
        .send()
        .await
        .unwrap();
    let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let ids: Vec<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().replace('-', ""))
        .collect();
    assert_eq!(ids, vec![id]);
}

/// A store that cannot write (the gateway under a file-size limit, as in `faults.rs`) refuses
/// submit_sm with ESME_RMSGQFUL, the session goes on answering, and every id a submit_sm_resp gave
/// is in the message log.
#[tokio::test]
async fn a_store_that_cannot_write_answers_esme_rmsgqful_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "full",
            "--smpp-system-id",
            "tern1",
            "--smpp-password",
            "secret1",
        ],
    );
    let script = format!(
        "trap '' XFSZ; ulimit -f 3072; exec '{TERN}' serve --data-dir '{}' --http-addr 127.0.0.1:0 --smpp-addr 127.0.0.1:0",
        data_dir.display()
    );
    let mut command = std::process::Command::new("bash");
    command
        .arg("-c")
        .arg(script)
        .env("TERN_LOG", "off")
        .stderr(std::process::Stdio::null());
    let setup = SmppSetup {
        gateway: Gateway::spawn(command, &data_dir),
        token,
        _dir: dir,
    };
    let mut stream = bound(&setup);
    // 1,000 octets of text a message (in message_payload): the store fills in a few thousand.
    let mut body = submit_to("31612345678", 0, 0, b"");
    body.extend_from_slice(&[0x04, 0x24, 0x03, 0xE8]);
    body.extend(std::iter::repeat_n(b'x', 1000));
    let mut acknowledged = Vec::new();
    let mut refused = None;
    let mut sequence = 1u32;
    'filling: for _ in 0..400 {
        // A window of 25 at a time.
        for _ in 0..25 {
            sequence += 1;
            stream.write_all(&pdu(4, sequence, &body)).unwrap();
        }
        for _ in 0..25 {
            let resp = read_pdu(&mut stream).unwrap();
            assert_eq!(resp[4..8], [0x80, 0, 0, 4], "{resp:?}");
            match u32::from_be_bytes(resp[8..12].try_into().unwrap()) {
                0 => acknowledged.push(std::str::from_utf8(&resp[16..48]).unwrap().to_owned()),
                status => {
                    assert_eq!(resp.len(), 16, "an error resp has no body");
                    refused.get_or_insert(status);
                }
            }
        }
        if refused.is_some() {
            break 'filling;
        }
    }
    assert_eq!(
        refused,
        Some(0x14),
        "ESME_RMSGQFUL once the store cannot write"
    );
    assert!(
        !acknowledged.is_empty(),
        "the store failed before any submit"
    );
    // The session still answers.
    stream.write_all(&pdu(0x15, 9_999, &[])).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0015, 0, 9_999)
    );
    // Every acknowledged id is stored, and nothing else.
    let client = tern_testkit::http_client();
    let mut listed = std::collections::HashSet::new();
    let mut after = String::new();
    loop {
        let response = client
            .get(
                setup
                    .gateway
                    .url(&format!("/v1.0/messages?limit=1000{after}")),
            )
            .header("X-CM-PRODUCTTOKEN", &setup.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        for message in page["messages"].as_array().unwrap() {
            listed.insert(message["messageId"].as_str().unwrap().replace('-', ""));
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    for id in &acknowledged {
        assert!(
            listed.contains(id),
            "{id} was acknowledged but is not stored"
        );
    }
    assert_eq!(listed.len(), acknowledged.len());
    setup.gateway.kill();
}

#[test]
fn a_destination_no_route_carries_is_esme_rinvdstadr() {
    let setup = smpp_setup(
        Some("[[route]]\nprefix = \"0031\"\nconnector = \"simulator\"\n"),
        &[],
    );
    let mut stream = bound(&setup);
    submitted(&mut stream, 2, &submit_to("31612345678", 0, 0, b"routed"));
    stream
        .write_all(&pdu(4, 3, &submit_to("32471234567", 0, 0, b"unroutable")))
        .unwrap();
    assert_eq!(read_pdu(&mut stream).unwrap(), header(0x8000_0004, 0x0B, 3));
}
