//! GSM 03.38 (3GPP TS 23.038) default alphabet and its extension table.
//!
//! Exists because every SMS part count, bill and SMSC submission starts from the
//! septets a text becomes, and common gateways get this wrong (`@` is septet 0
//! and gets lost as a NUL, the ten extension characters cost two septets, `ç`
//! has no code of its own). Two forms are provided:
//!
//! * **unpacked**: one septet per octet, as SMPP carries `data_coding` 0;
//! * **packed**: septets squeezed into octets LSB first, as the air interface
//!   (TP-User-Data) carries them, with fill bits after a user data header.
//!
//! [`encode`] substitutes look-alikes (see [`super::lookalike`]) for characters
//! that have no GSM form; [`encode_strict`] refuses them instead.

use super::lookalike::lookalike;

/// The escape septet that introduces a character of the extension table.
pub const ESCAPE: u8 = 0x1B;

/// The default alphabet, indexed by septet. Index 0x1B is the escape and never
/// stands for itself (decoded alone it becomes a space, as TS 23.038 says).
pub const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after [`ESCAPE`], character). Each costs two septets.
pub const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// How one character is written in GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsmChar {
    /// One septet of the default alphabet.
    Basic(u8),
    /// [`ESCAPE`] followed by this septet of the extension table.
    Extended(u8),
}

impl GsmChar {
    /// Septets this character takes (1 or 2).
    #[inline]
    pub const fn septets(self) -> u32 {
        match self {
            GsmChar::Basic(_) => 1,
            GsmChar::Extended(_) => 2,
        }
    }
}

const NONE: u8 = 0xFF;
const EXT_FLAG: u8 = 0x80;

/// ASCII character -> septet (`NONE` if absent, `EXT_FLAG | code` for the extension table).
const ASCII_MAP_C: [u8; 128] = build_ascii_map();
static ASCII_MAP: [u8; 128] = ASCII_MAP_C;

const fn build_ascii_map() -> [u8; 128] {
    let mut map = [NONE; 128];
    let mut i = 0;
    while i < 128 {
        let c = BASIC[i] as u32;
        if i != ESCAPE as usize && c < 128 && map[c as usize] == NONE {
            map[c as usize] = i as u8;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, c) = EXTENSION[j];
        let c = c as u32;
        if c < 128 {
            map[c as usize] = EXT_FLAG | code;
        }
        j += 1;
    }
    map
}

/// ASCII character -> its lossy GSM form: as `ASCII_MAP`, with the two ASCII
/// look-alikes (tab -> space, backtick -> apostrophe) and `?` for the rest
/// (control characters). Checked against the slow path in the tests.
const LOSSY_ASCII_C: [u8; 128] = build_lossy_ascii();
static LOSSY_ASCII: [u8; 128] = LOSSY_ASCII_C;

const fn build_lossy_ascii() -> [u8; 128] {
    let mut map = ASCII_MAP_C;
    let mut i = 0;
    while i < 128 {
        if map[i] == NONE {
            map[i] = match i as u8 {
                b'\t' => 0x20,
                b'`' => 0x27,
                _ => 0x3F,
            };
        }
        i += 1;
    }
    map
}

#[inline(always)]
const fn from_map(m: u8) -> GsmChar {
    if m & EXT_FLAG != 0 {
        GsmChar::Extended(m & 0x7F)
    } else {
        GsmChar::Basic(m)
    }
}

/// The GSM form of `c`, if the default alphabet or its extension table has it.
#[inline]
pub fn lookup(c: char) -> Option<GsmChar> {
    let cp = c as u32;
    if cp < 128 {
        let m = ASCII_MAP[cp as usize];
        return if m == NONE { None } else { Some(from_map(m)) };
    }
    let code = match c {
        '£' => 0x01,
        '¥' => 0x03,
        'è' => 0x04,
        'é' => 0x05,
        'ù' => 0x06,
        'ì' => 0x07,
        'ò' => 0x08,
        'Ç' => 0x09,
        'Ø' => 0x0B,
        'ø' => 0x0C,
        'Å' => 0x0E,
        'å' => 0x0F,
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        'Æ' => 0x1C,
        'æ' => 0x1D,
        'ß' => 0x1E,
        'É' => 0x1F,
        '¤' => 0x24,
        '¡' => 0x40,
        'Ä' => 0x5B,
        'Ö' => 0x5C,
        'Ñ' => 0x5D,
        'Ü' => 0x5E,
        '§' => 0x5F,
        '¿' => 0x60,
        'ä' => 0x7B,
        'ö' => 0x7C,
        'ñ' => 0x7D,
        'ü' => 0x7E,
        'à' => 0x7F,
        '€' => return Some(GsmChar::Extended(0x65)),
        _ => return None,
    };
    Some(GsmChar::Basic(code))
}

/// True when `c` has a GSM form (default alphabet or extension table).
#[inline]
pub fn is_gsm(c: char) -> bool {
    lookup(c).is_some()
}

/// True when every character of `text` has a GSM form (what `body.type` AUTO tests).
pub fn is_gsm_text(text: &str) -> bool {
    for_each_strict(text, |_| {})
}

/// Calls `f` with the GSM form of each character of `text` while they all have
/// one; returns false at the first that has none.
#[inline]
pub(crate) fn for_each_strict(text: &str, mut f: impl FnMut(GsmChar)) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let m = ASCII_MAP[usize::from(b)];
            if m == NONE {
                return false;
            }
            f(from_map(m));
            i += 1;
        } else {
            let c = next_char(text, i);
            i += c.len_utf8();
            match lookup(c) {
                Some(g) => f(g),
                None => return false,
            }
        }
    }
    true
}

/// The character starting at byte `i` of `text` (a character boundary).
#[inline(always)]
fn next_char(text: &str, i: usize) -> char {
    text[i..]
        .chars()
        .next()
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Calls `f` with the GSM form of each character `text` is sent as under the
/// default (lossy) rules: the character itself, else its look-alike, else `?`.
#[inline]
pub(crate) fn for_each_lossy(text: &str, mut f: impl FnMut(GsmChar)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            f(from_map(LOSSY_ASCII[usize::from(b)]));
            i += 1;
            continue;
        }
        let c = next_char(text, i);
        i += c.len_utf8();
        match lookup(c) {
            Some(g) => f(g),
            None => match lookalike(c) {
                Some(replacement) => {
                    for r in replacement.chars() {
                        // The look-alike table holds GSM characters only (unit-tested).
                        f(lookup(r).unwrap_or(GsmChar::Basic(0x3F)));
                    }
                }
                None => f(GsmChar::Basic(0x3F)),
            },
        }
    }
}

/// Septets each ASCII character costs: lossy (every ASCII character is sent as
/// something) and strict (0 = no GSM form).
static ASCII_COST_LOSSY: [u8; 128] = build_cost(&LOSSY_ASCII_C);
static ASCII_COST_STRICT: [u8; 128] = build_cost(&ASCII_MAP_C);

const fn build_cost(map: &[u8; 128]) -> [u8; 128] {
    let mut cost = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        cost[i] = match map[i] {
            NONE => 0,
            m if m & EXT_FLAG != 0 => 2,
            _ => 1,
        };
        i += 1;
    }
    cost
}

/// Septets an all-ASCII `text` takes and whether any character costs two,
/// or `None` (strict only) when a character has no GSM form.
#[inline]
pub(crate) fn ascii_septets(text: &[u8], strict: bool) -> Option<(usize, bool)> {
    let table = if strict {
        &ASCII_COST_STRICT
    } else {
        &ASCII_COST_LOSSY
    };
    let mut units = 0usize;
    let mut any_zero = false;
    for &b in text {
        let c = table[usize::from(b & 0x7F)];
        units += usize::from(c);
        any_zero |= c == 0;
    }
    if any_zero {
        return None;
    }
    Some((units, units != text.len()))
}

/// Septets each ASCII character costs under the lossy rules (for the splitter's fast path).
#[inline(always)]
pub(crate) fn ascii_cost_lossy(b: u8) -> usize {
    usize::from(ASCII_COST_LOSSY[usize::from(b & 0x7F)])
}

/// Septets `text` takes after look-alike substitution (what [`encode`] returns the length of).
pub fn septet_count(text: &str) -> usize {
    let mut n = 0usize;
    for_each_lossy(text, |g| n += g.septets() as usize);
    n
}

/// Encodes `text` as unpacked septets (one per octet), replacing characters with
/// no GSM form by their look-alike or `?`. Never fails.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    encode_into(text, &mut out);
    out
}

/// [`encode`], appending to `out`.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    if text.is_ascii() {
        // Fast path: size the output exactly, then map octet by octet.
        let bytes = text.as_bytes();
        let extended = bytes
            .iter()
            .filter(|&&b| ASCII_COST_LOSSY[usize::from(b & 0x7F)] == 2)
            .count();
        let start = out.len();
        out.resize(start + bytes.len() + extended, 0);
        let dst = &mut out[start..];
        if extended == 0 {
            for (d, &b) in dst.iter_mut().zip(bytes) {
                *d = LOSSY_ASCII[usize::from(b & 0x7F)];
            }
        } else {
            let mut j = 0;
            for &b in bytes {
                let m = LOSSY_ASCII[usize::from(b & 0x7F)];
                if m & EXT_FLAG != 0 {
                    dst[j] = ESCAPE;
                    dst[j + 1] = m & 0x7F;
                    j += 2;
                } else {
                    dst[j] = m;
                    j += 1;
                }
            }
        }
        return;
    }
    for_each_lossy(text, |g| match g {
        GsmChar::Basic(s) => out.push(s),
        GsmChar::Extended(s) => {
            out.push(ESCAPE);
            out.push(s);
        }
    });
}

/// Encodes `text` as unpacked septets, or returns the first character with no GSM form.
pub fn encode_strict(text: &str) -> Result<Vec<u8>, char> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for c in text.chars() {
        match lookup(c).ok_or(c)? {
            GsmChar::Basic(s) => out.push(s),
            GsmChar::Extended(s) => {
                out.push(ESCAPE);
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// The extension-table character for septet `code`, if any.
#[inline]
fn extension_char(code: u8) -> Option<char> {
    EXTENSION
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, ch)| *ch)
}

/// Decodes unpacked septets (one per octet). Never panics:
/// * an octet above 0x7F is not a septet and becomes U+FFFD;
/// * an escape followed by a septet the extension table lacks decodes as that
///   septet's default-alphabet character (TS 23.038 §6.2.1.1);
/// * an escape followed by another escape, or at the very end, becomes a space.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let s = septets[i];
        i += 1;
        if s > 0x7F {
            out.push(char::REPLACEMENT_CHARACTER);
            continue;
        }
        if s != ESCAPE {
            out.push(BASIC[s as usize]);
            continue;
        }
        match septets.get(i) {
            None => out.push(' '),
            Some(&next) => {
                i += 1;
                if next > 0x7F {
                    out.push(' ');
                    out.push(char::REPLACEMENT_CHARACTER);
                } else if let Some(c) = extension_char(next) {
                    out.push(c);
                } else {
                    // ESC ESC is reserved for a further table: a space; otherwise the
                    // default-alphabet character (BASIC[0x1B] is a space as well).
                    out.push(BASIC[next as usize]);
                }
            }
        }
    }
    out
}

/// Fill bits needed after a user data header of `udh_len` octets (UDHL octet
/// included) so that the first septet starts on a septet boundary.
/// `6` (a `05 00 03 ..` header) gives 1; `7` gives 0.
pub const fn fill_bits_after_udh(udh_len: usize) -> u8 {
    ((7 - (udh_len * 8) % 7) % 7) as u8
}

/// Octets `septets` septets take when packed after `fill_bits` fill bits.
pub const fn packed_len(septets: usize, fill_bits: u8) -> usize {
    (septets * 7 + fill_bits as usize).div_ceil(8)
}

/// Packs septets (only their low 7 bits are used) into octets, LSB first, after
/// `fill_bits` zero bits (0..=6; see [`fill_bits_after_udh`]). No `<CR>` padding is
/// added: the receiver needs the septet count (TP-UDL), as [`unpack`] does.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(septets.len(), fill_bits));
    pack_into(septets, fill_bits, &mut out);
    out
}

/// [`pack`], appending to `out`.
pub fn pack_into(septets: &[u8], fill_bits: u8, out: &mut Vec<u8>) {
    let mut acc: u32 = 0;
    let mut bits: u32 = u32::from(fill_bits % 8);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Unpacks up to `septet_count` septets from `octets`, skipping `fill_bits` leading
/// bits. Stops early (never panics) when `octets` holds fewer septets.
pub fn unpack(octets: &[u8], fill_bits: u8, septet_count: usize) -> Vec<u8> {
    let fill = usize::from(fill_bits % 8);
    let available = (octets.len() * 8).saturating_sub(fill) / 7;
    let count = septet_count.min(available);
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let bit = fill + n * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let mut v = u16::from(octets[byte]) >> shift;
        if shift > 1 {
            v |= u16::from(octets[byte + 1]) << (8 - shift);
        }
        out.push((v & 0x7F) as u8);
    }
    out
}

/// Builds TP-User-Data for a packed GSM part: the header octets, fill bits, then
/// the packed septets. An empty `udh` gives the plain packed septets.
pub fn pack_with_udh(udh: &[u8], septets: &[u8]) -> Vec<u8> {
    let fill = if udh.is_empty() {
        0
    } else {
        fill_bits_after_udh(udh.len())
    };
    let mut out = Vec::with_capacity(udh.len() + packed_len(septets.len(), fill));
    out.extend_from_slice(udh);
    pack_into(septets, fill, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_basic_septet_round_trips_through_lookup() {
        for (i, &c) in BASIC.iter().enumerate() {
            if i == ESCAPE as usize {
                continue;
            }
            assert_eq!(
                lookup(c),
                Some(GsmChar::Basic(i as u8)),
                "septet {i:#04x} {c:?}"
            );
        }
        for &(code, c) in &EXTENSION {
            assert_eq!(lookup(c), Some(GsmChar::Extended(code)), "{c:?}");
        }
    }

    #[test]
    fn lookup_rejects_characters_outside_the_alphabet() {
        for c in [
            'ç', '`', '\t', 'á', 'α', 'Ж', '😀', '\u{1B}', '\0', '\u{A0}',
        ] {
            assert_eq!(lookup(c), None, "{c:?}");
        }
        // Exactly 127 + 10 characters are encodable (0x1B has no character).
        let count = (0u32..0x11_0000)
            .filter_map(char::from_u32)
            .filter(|&c| is_gsm(c))
            .count();
        assert_eq!(count, 137);
    }

    #[test]
    fn ascii_fast_paths_agree_with_the_tables() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            let slow = match lookup(c) {
                Some(g) => vec![g],
                None => match lookalike(c) {
                    Some(r) => r.chars().map(|r| lookup(r).unwrap()).collect(),
                    None => vec![GsmChar::Basic(0x3F)],
                },
            };
            let mut fast = Vec::new();
            for_each_lossy(&c.to_string(), |g| fast.push(g));
            assert_eq!(fast, slow, "{c:?}");
            assert_eq!(is_gsm_text(&c.to_string()), lookup(c).is_some(), "{c:?}");
        }
    }

    #[test]
    fn at_sign_is_septet_zero_and_survives() {
        assert_eq!(encode("@"), vec![0x00]);
        assert_eq!(decode(&[0x00, 0x00]), "@@");
        assert_eq!(pack(&[0x00], 0), vec![0x00]);
    }

    #[test]
    fn extension_characters_take_two_septets() {
        assert_eq!(
            encode("^{}\\[~]|€\u{0C}"),
            vec![
                0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D, 0x1B, 0x3E,
                0x1B, 0x40, 0x1B, 0x65, 0x1B, 0x0A
            ]
        );
        assert_eq!(septet_count("€10 {x}"), 10);
    }

    #[test]
    fn lossy_encoding_uses_look_alikes_then_question_mark() {
        assert_eq!(decode(&encode("ça “va” – ok…")), "Ça \"va\" - ok...");
        assert_eq!(decode(&encode("Жx😀")), "?x?");
        assert_eq!(septet_count("…"), 3);
        assert_eq!(encode_strict("aç"), Err('ç'));
        assert_eq!(encode_strict("a€"), Ok(vec![0x61, 0x1B, 0x65]));
    }

    #[test]
    fn decode_handles_bad_escapes_and_high_octets() {
        assert_eq!(decode(&[0x1B]), " ");
        assert_eq!(decode(&[0x1B, 0x1B]), " ");
        assert_eq!(decode(&[0x1B, 0x41]), "A");
        assert_eq!(decode(&[0x80, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0x1B, 0xFF]), " \u{FFFD}");
    }

    #[test]
    fn packing_matches_known_pdus() {
        // TS 23.038 / common PDU examples ("hellohello", "How are you?").
        assert_eq!(
            pack(&encode("hellohello"), 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(
            pack(&encode("How are you?"), 0),
            [
                0xC8, 0xF7, 0x1D, 0x14, 0x96, 0x97, 0x41, 0xF9, 0x77, 0xFD, 0x07
            ]
        );
        assert_eq!(
            decode(&unpack(&[0xE8, 0x32, 0x9B, 0xFD, 0x06], 0, 5)),
            "hello"
        );
    }

    #[test]
    fn pack_unpack_round_trip_with_every_fill() {
        let septets: Vec<u8> = (0..=127u8).chain(0..40).collect();
        for fill in 0..7u8 {
            for n in 0..septets.len() {
                let packed = pack(&septets[..n], fill);
                assert_eq!(packed.len(), packed_len(n, fill));
                assert_eq!(unpack(&packed, fill, n), &septets[..n], "fill {fill} n {n}");
            }
        }
    }

    #[test]
    fn udh_fill_bits() {
        assert_eq!(fill_bits_after_udh(6), 1);
        assert_eq!(fill_bits_after_udh(7), 0);
        assert_eq!(fill_bits_after_udh(1), 6);
        // A full 153-septet part after a 6-octet header is exactly 140 octets.
        assert_eq!(pack_with_udh(&[5, 0, 3, 1, 2, 1], &[0x41; 153]).len(), 140);
        assert_eq!(6 + packed_len(153, 1), 140);
        assert_eq!(packed_len(160, 0), 140);
    }

    #[test]
    fn unpack_is_safe_on_short_input() {
        assert_eq!(unpack(&[], 3, 10), Vec::<u8>::new());
        assert_eq!(unpack(&[0xFF], 6, 10), Vec::<u8>::new());
        assert_eq!(unpack(&[0xFF, 0xFF], 1, 10).len(), 2);
    }
}
