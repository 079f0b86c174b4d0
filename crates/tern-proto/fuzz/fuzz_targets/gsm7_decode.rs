//! GSM 7-bit decoding of arbitrary octets: unpacked and packed, with any fill.
//! Must never panic; whatever decodes must re-encode to the same septets; raw
//! septets split losslessly into parts of at most 140 octets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::sms::{EncodedText, SmsEncoding, decode_payload, gsm7, parse_udh, split};

fuzz_target!(|data: &[u8]| {
    let text = gsm7::decode(data);
    // Decoded text is GSM except for U+FFFD (octets above 0x7F).
    if data.iter().all(|&b| b < 0x80) {
        assert!(gsm7::is_gsm_text(&text), "{text:?}");
        let again = gsm7::encode(&text);
        assert_eq!(gsm7::decode(&again), text);
        assert_eq!(gsm7::encode_strict(&text).as_deref(), Ok(&again[..]));
    }
    let _ = decode_payload(SmsEncoding::Gsm7, data);

    // Splitting raw septets received from a peer: lossless, within 140 octets.
    let encoded = EncodedText::from_encoded(SmsEncoding::Gsm7, data.to_vec());
    if encoded.parts() <= 255 {
        let parts = split(&encoded, 7);
        assert_eq!(parts.len() as u32, encoded.parts());
        let joined: Vec<u8> = parts
            .iter()
            .flat_map(|p| p.payload.iter().copied())
            .collect();
        assert_eq!(joined, data);
        for p in &parts {
            assert!(p.tp_user_data_len(SmsEncoding::Gsm7) <= 140);
        }
    }

    // Packed: the first octet picks the fill bits and a septet count.
    if let Some((&first, rest)) = data.split_first() {
        let fill = first % 7;
        let count = usize::from(first) * 2;
        let septets = gsm7::unpack(rest, fill, count);
        assert!(septets.len() <= count);
        assert!(septets.iter().all(|&s| s < 0x80));
        let repacked = gsm7::pack(&septets, fill);
        assert_eq!(gsm7::unpack(&repacked, fill, septets.len()), septets);
        let _ = gsm7::decode(&septets);
        // As TP-User-Data with a header.
        if let Ok(udh) = parse_udh(rest) {
            let body = &rest[udh.len..];
            let _ = gsm7::decode(&gsm7::unpack(body, gsm7::fill_bits_after_udh(udh.len), 160));
        }
    }
});
