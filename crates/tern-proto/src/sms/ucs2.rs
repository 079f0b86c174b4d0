//! UCS2 as SMS carries it: UTF-16, big-endian, no byte-order mark.
//!
//! Exists because `data_coding` 8 is where other gateways lose text (wrong byte
//! order, characters outside the BMP dropped or split). Characters outside the
//! BMP are sent as surrogate pairs (what handsets do); decoding is lossy and
//! never panics: an odd trailing octet or a lone surrogate becomes U+FFFD.

/// UTF-16 code units `text` takes (a character outside the BMP takes two).
#[inline]
pub fn unit_count(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Encodes `text` as UTF-16 big-endian octets.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, &mut out);
    out
}

/// [`encode`], appending to `out`.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Decodes UTF-16 big-endian octets. Lone surrogates and an odd trailing octet
/// become U+FFFD; a byte-order mark is kept as the character U+FEFF.
pub fn decode(octets: &[u8]) -> String {
    let units = octets
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if !octets.len().is_multiple_of(2) {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// True for a UTF-16 high (leading) surrogate.
#[inline]
pub const fn is_high_surrogate(unit: u16) -> bool {
    matches!(unit, 0xD800..=0xDBFF)
}

/// True for a UTF-16 low (trailing) surrogate.
#[inline]
pub const fn is_low_surrogate(unit: u16) -> bool {
    matches!(unit, 0xDC00..=0xDFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_byte_order() {
        assert_eq!(encode("A€"), [0x00, 0x41, 0x20, 0xAC]);
        assert_eq!(decode(&[0x04, 0x16]), "Ж");
        assert_ne!(decode(&[0x16, 0x04]), "Ж");
    }

    #[test]
    fn surrogate_pairs() {
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]), "😀");
        assert_eq!(unit_count("a😀"), 3);
    }

    #[test]
    fn malformed_input_is_lossy_not_fatal() {
        assert_eq!(decode(&[0x00, 0x41, 0x00]), "A\u{FFFD}");
        assert_eq!(decode(&[0xD8, 0x3D]), "\u{FFFD}");
        assert_eq!(decode(&[0xDE, 0x00, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0xD8, 0x3D, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[]), "");
        assert_eq!(decode(&[0x41]), "\u{FFFD}");
    }
}
