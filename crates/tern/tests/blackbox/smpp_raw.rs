//! The SMPP server over raw TCP, byte for byte. Malformed PDUs: each gets its exact generic_nack
//! or error response (or, when the stream cannot be resynchronised, a nack and a clean close),
//! and the gateway goes on serving a well-behaved client afterwards. Also data_sm, the answers
//! to query_sm / cancel_sm / replace_sm, and the unbind a stopping gateway sends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::smpp::{SmppSetup, smpp_setup};

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
    let mut body = b"tern1\0".to_vec();
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

#[test]
fn data_sm_is_submitted_and_query_cancel_replace_are_answered() {
    let setup = smpp_setup(None, &[]);
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
    // query_sm, cancel_sm and replace_sm, until the store's lookups are joined to them.
    let mut query = id.as_bytes().to_vec();
    query.extend_from_slice(&[0, 5, 0]);
    query.extend_from_slice(b"Tern\0");
    stream.write_all(&pdu(3, 22, &query)).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0003, 0x67, 22)
    );
    let mut cancel = vec![0];
    cancel.extend_from_slice(id.as_bytes());
    cancel.extend_from_slice(&[0, 5, 0]);
    cancel.extend_from_slice(b"Tern\0");
    cancel.extend_from_slice(&[1, 1]);
    cancel.extend_from_slice(b"31612345678\0");
    stream.write_all(&pdu(8, 23, &cancel)).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0008, 0x11, 23)
    );
    let mut replace = id.as_bytes().to_vec();
    replace.extend_from_slice(&[0, 5, 0]);
    replace.extend_from_slice(b"Tern\0");
    replace.extend_from_slice(&[0, 0, 0, 0, 2]);
    replace.extend_from_slice(b"hi");
    stream.write_all(&pdu(7, 24, &replace)).unwrap();
    assert_eq!(
        read_pdu(&mut stream).unwrap(),
        header(0x8000_0007, 0x13, 24)
    );
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
