//! Hex text for `body.type` BINARY: CM clients send 8-bit data as a hex string.
//!
//! Exists so that counting (no allocation) and encoding (bytes) read the same
//! hex the same way.

/// Octets the hex string `content` stands for, or `None` when it is not hex
/// (odd length or a character outside `0-9a-fA-F`). Empty is valid (0 octets).
pub fn hex_len(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    if !bytes.len().is_multiple_of(2) || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(bytes.len() / 2)
}

#[inline]
fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a hex string (either case), or `None` when it is not hex.
pub fn decode_hex(content: &str) -> Option<Vec<u8>> {
    let bytes = content.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Encodes octets as upper-case hex (how binary MO content is handed on).
pub fn encode_hex(octets: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(octets.len() * 2);
    for &b in octets {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0F)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(decode_hex("48656C6c6F"), Some(b"Hello".to_vec()));
        assert_eq!(hex_len("48656C6c6F"), Some(5));
        assert_eq!(decode_hex(""), Some(vec![]));
        assert_eq!(decode_hex("4"), None);
        assert_eq!(decode_hex("4G"), None);
        assert_eq!(hex_len("4G"), None);
        assert_eq!(hex_len("48 65"), None);
        assert_eq!(decode_hex("+1"), None);
        assert_eq!(encode_hex(&[0x00, 0xAB, 0xFF]), "00ABFF");
    }
}
