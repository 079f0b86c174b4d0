//! UCS2 (UTF-16BE) decoding of arbitrary octets: odd lengths and lone
//! surrogates must decode lossily, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::sms::{EncodedText, SmsEncoding, split, ucs2};

fuzz_target!(|data: &[u8]| {
    let text = ucs2::decode(data);
    // Well-formed input round-trips exactly.
    if data.len() % 2 == 0 && !text.contains('\u{FFFD}') {
        assert_eq!(ucs2::encode(&text), data);
    }
    // Re-encoding whatever was decoded is stable.
    let again = ucs2::encode(&text);
    assert_eq!(ucs2::decode(&again), text);

    // Splitting raw octets received from a peer never panics nor splits a pair.
    let encoded = EncodedText::from_encoded(SmsEncoding::Ucs2, data.to_vec());
    if encoded.parts() <= 255 {
        let parts = split(&encoded, 1);
        assert_eq!(parts.len() as u32, encoded.parts());
        let joined: Vec<u8> = parts
            .iter()
            .flat_map(|p| p.payload.iter().copied())
            .collect();
        assert_eq!(joined, data);
        for p in &parts {
            assert!(p.tp_user_data_len(SmsEncoding::Ucs2) <= 140);
        }
    }
});
