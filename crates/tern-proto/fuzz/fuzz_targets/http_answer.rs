//! Reading an HTTP server's answer as the hot paths' client does (`tern_proto::http1`), driven by
//! arbitrary octets cut into arbitrary pieces: the head parser and the body decoder must never
//! panic, the decoder must take only what it is given and hand on no more body than it took,
//! and the same answer fed whole or in pieces must give the same head, body and leftover.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::http1::{self, BodyDecoder};

/// Head, body and how many octets were left after it, or the error, for `input` fed `step`
/// octets at a time (the whole input ending the connection).
fn read(input: &[u8], step: usize) -> Result<(u16, Vec<u8>, usize), String> {
    let mut end = 0;
    let (head, len) = loop {
        end = (end + step).min(input.len());
        match http1::parse_answer_head(&input[..end]).map_err(|e| e.to_string())? {
            Some(found) => break found,
            None if end == input.len() => return Err("incomplete head".to_owned()),
            None => {}
        }
    };
    assert!(len <= end);
    let mut decoder = BodyDecoder::new(head.framing);
    let mut body = Vec::new();
    let mut at = len;
    while at < input.len() && !decoder.is_done() {
        let piece = &input[at..(at + step).min(input.len())];
        let mut handed = 0;
        let used = decoder
            .decode(piece, |data| {
                handed += data.len();
                body.extend_from_slice(data);
            })
            .map_err(|e| e.to_string())?;
        assert!(used <= piece.len());
        assert!(handed <= used);
        at += used;
        if used < piece.len() {
            assert!(decoder.is_done());
            break;
        }
    }
    if !decoder.is_done() {
        decoder.end_of_input().map_err(|e| e.to_string())?;
    }
    Ok((head.status, body, input.len() - at))
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let whole = read(input, input.len().max(1));
    let pieces = read(input, usize::from(step).max(1));
    // A head split anywhere is the same head; only where the input ends may differ (a partial
    // head is an error either way).
    if let (Ok(whole), Ok(pieces)) = (&whole, &pieces) {
        assert_eq!(whole, pieces);
    }
});
