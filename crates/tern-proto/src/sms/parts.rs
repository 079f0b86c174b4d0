//! Part counting and splitting.
//!
//! Exists because the `parts` CM reports, what billing charges and what the
//! SMSC receives must be the same number. Counting ([`plan_parts`]) works on the
//! text without allocating; splitting ([`split`]) works on the encoded octets;
//! both use the same greedy rule, and a property test holds them equal:
//!
//! | encoding | one part holds | each part of a multipart message holds      |
//! |----------|----------------|---------------------------------------------|
//! | GSM 7-bit| 160 septets    | 153 septets (+ `05 00 03` UDH = 140 octets) |
//! | UCS2     | 70 UTF-16 units| 66 units (+ `06 08 04` UDH = 139 octets)    |
//! | 8-bit    | 140 octets     | 134 octets (+ `05 00 03` UDH = 140 octets)  |
//!
//! An escape pair (GSM extension character) or a surrogate pair (UCS2 character
//! outside the BMP) is never split: when one would straddle a boundary it moves
//! whole to the next part, which leaves that part one unit short. The count is
//! then one more than `ceil(units / per_part)` in the rare cases where those
//! lost units spill into an extra part; the count always equals the number of
//! parts actually sent.

use super::binary;
use super::concat::{UDH_8BIT_LEN, UDH_16BIT_LEN, concat_udh_8bit, concat_udh_16bit};
use super::encoding::{BodyType, SmsEncoding, choose_encoding};
use super::gsm7;
use super::ucs2;

/// Most parts a concatenated message can have (the UDH/SAR total is one octet).
pub const MAX_PARTS: u32 = 255;

impl SmsEncoding {
    /// Units (septets, UTF-16 units, octets) one unsplit message can hold: 160, 70, 140.
    pub const fn single_part_units(self) -> u32 {
        match self {
            SmsEncoding::Gsm7 => 160,
            SmsEncoding::Ucs2 => 70,
            SmsEncoding::Binary8 => 140,
        }
    }

    /// Units each part of a multipart message can hold: 153, 66, 134.
    pub const fn multipart_units(self) -> u32 {
        match self {
            SmsEncoding::Gsm7 => 153,
            SmsEncoding::Ucs2 => 66,
            SmsEncoding::Binary8 => 134,
        }
    }

    /// Octets one unit takes in [`EncodedText`] (GSM is unpacked: one septet per octet).
    const fn octets_per_unit(self) -> usize {
        match self {
            SmsEncoding::Ucs2 => 2,
            SmsEncoding::Gsm7 | SmsEncoding::Binary8 => 1,
        }
    }
}

/// A body that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// `body.type` BINARY (or a `dcs` selecting 8-bit data) with content that is not hex.
    #[error(
        "BINARY content must be hexadecimal: an even number of the digits 0-9, A-F (e.g. \"48656C6C6F\")"
    )]
    InvalidBinary,
}

/// What sending a body costs: its encoding, part count and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartPlan {
    /// The encoding the body is sent in.
    pub encoding: SmsEncoding,
    /// Parts it is sent as (at least 1; may exceed 255, which no limit allows).
    pub parts: u32,
    /// Septets (GSM, after look-alike substitution), UTF-16 units (UCS2) or octets (8-bit).
    pub units: u32,
}

/// Greedy packing of indivisible units into parts; the one rule both counting and splitting use.
#[derive(Debug, Clone, Copy)]
struct Packer {
    units: usize,
    parts: usize,
    in_part: usize,
    per_part: usize,
}

impl Packer {
    #[inline]
    const fn new(per_part: usize) -> Self {
        Packer {
            units: 0,
            parts: 1,
            in_part: 0,
            per_part,
        }
    }

    /// Adds an indivisible run of `n` units; true when it starts a new part.
    #[inline]
    fn push(&mut self, n: usize) -> bool {
        self.units += n;
        if self.in_part + n > self.per_part && self.in_part > 0 {
            self.parts += 1;
            self.in_part = n;
            true
        } else {
            self.in_part += n;
            false
        }
    }

    #[inline]
    fn parts(&self, single: usize) -> usize {
        if self.units <= single { 1 } else { self.parts }
    }
}

#[inline]
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Encoding, part count and size of a CM message body; no heap allocation.
///
/// Errors only for 8-bit content that is not hex.
pub fn plan_parts(
    content: &str,
    body_type: Option<BodyType>,
    dcs: Option<u8>,
) -> Result<PartPlan, BodyError> {
    if body_type == Some(BodyType::Auto) {
        if content.is_ascii() {
            return Ok(match gsm7::ascii_septets(content.as_bytes(), true) {
                Some(counted) => plan_ascii_gsm(content.as_bytes(), counted),
                None => plan_from(SmsEncoding::Ucs2, content.len()),
            });
        }
        // One pass: count GSM septets while checking every character is GSM.
        let mut packer = Packer::new(SmsEncoding::Gsm7.multipart_units() as usize);
        if gsm7::for_each_strict(content, |g| {
            packer.push(g.septets() as usize);
        }) {
            return Ok(PartPlan {
                encoding: SmsEncoding::Gsm7,
                parts: to_u32(packer.parts(SmsEncoding::Gsm7.single_part_units() as usize)),
                units: to_u32(packer.units),
            });
        }
        return plan_encoded(content, SmsEncoding::Ucs2);
    }
    plan_encoded(content, choose_encoding(content, body_type, dcs))
}

/// The plan for `units` units that contain no indivisible pairs.
fn plan_from(encoding: SmsEncoding, units: usize) -> PartPlan {
    let parts = if units <= encoding.single_part_units() as usize {
        1
    } else {
        units.div_ceil(encoding.multipart_units() as usize)
    };
    PartPlan {
        encoding,
        parts: to_u32(parts),
        units: to_u32(units),
    }
}

/// GSM plan of all-ASCII text whose septets were counted by `gsm7::ascii_septets`.
fn plan_ascii_gsm(bytes: &[u8], (units, has_pairs): (usize, bool)) -> PartPlan {
    let single = SmsEncoding::Gsm7.single_part_units() as usize;
    if units <= single || !has_pairs {
        return plan_from(SmsEncoding::Gsm7, units);
    }
    let mut packer = Packer::new(SmsEncoding::Gsm7.multipart_units() as usize);
    for &b in bytes {
        packer.push(gsm7::ascii_cost_lossy(b));
    }
    PartPlan {
        encoding: SmsEncoding::Gsm7,
        parts: to_u32(packer.parts(single)),
        units: to_u32(units),
    }
}

/// [`plan_parts`] for an encoding already chosen.
pub fn plan_encoded(content: &str, encoding: SmsEncoding) -> Result<PartPlan, BodyError> {
    if content.is_ascii() && encoding != SmsEncoding::Binary8 {
        return Ok(match encoding {
            SmsEncoding::Gsm7 => {
                let counted = gsm7::ascii_septets(content.as_bytes(), false)
                    .expect("every ASCII character has a lossy GSM form");
                plan_ascii_gsm(content.as_bytes(), counted)
            }
            _ => plan_from(SmsEncoding::Ucs2, content.len()),
        });
    }
    let single = encoding.single_part_units() as usize;
    let mut packer = Packer::new(encoding.multipart_units() as usize);
    match encoding {
        SmsEncoding::Gsm7 => gsm7::for_each_lossy(content, |g| {
            packer.push(g.septets() as usize);
        }),
        SmsEncoding::Ucs2 => {
            for c in content.chars() {
                packer.push(c.len_utf16());
            }
        }
        SmsEncoding::Binary8 => {
            let octets = binary::hex_len(content).ok_or(BodyError::InvalidBinary)?;
            // Octets are independent: no need to walk them.
            packer.units = octets;
            packer.parts = octets.div_ceil(packer.per_part).max(1);
        }
    }
    Ok(PartPlan {
        encoding,
        parts: to_u32(packer.parts(single)),
        units: to_u32(packer.units),
    })
}

/// An encoded body: GSM as unpacked septets (look-alikes substituted), UCS2 as
/// UTF-16BE octets, 8-bit as the octets the hex stood for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodedText {
    encoding: SmsEncoding,
    bytes: Vec<u8>,
}

/// A message that would need more than 255 parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message needs {needed} parts; a concatenated message has at most 255")]
pub struct TooManyParts {
    /// Parts the message would need.
    pub needed: u32,
}

impl EncodedText {
    /// Encodes `content` in `encoding` (8-bit: `content` is hex).
    pub fn encode(content: &str, encoding: SmsEncoding) -> Result<EncodedText, BodyError> {
        let bytes = match encoding {
            SmsEncoding::Gsm7 => gsm7::encode(content),
            SmsEncoding::Ucs2 => ucs2::encode(content),
            SmsEncoding::Binary8 => binary::decode_hex(content).ok_or(BodyError::InvalidBinary)?,
        };
        Ok(EncodedText { encoding, bytes })
    }

    /// Wraps octets already in `encoding` (e.g. an SMPP `short_message`: GSM unpacked).
    pub fn from_encoded(encoding: SmsEncoding, bytes: Vec<u8>) -> EncodedText {
        EncodedText { encoding, bytes }
    }

    /// The encoding.
    pub fn encoding(&self) -> SmsEncoding {
        self.encoding
    }

    /// The encoded octets (GSM: one septet per octet).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded octets, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Septets, UTF-16 units (an odd trailing octet counts as one) or octets.
    pub fn units(&self) -> u32 {
        to_u32(self.bytes.len().div_ceil(self.encoding.octets_per_unit()))
    }

    /// Decodes back to text (8-bit: upper-case hex).
    pub fn decode(&self) -> String {
        super::decode_payload(self.encoding, &self.bytes)
    }

    /// Octets of the indivisible run starting at `i`: an escape pair, a surrogate pair, or one unit.
    #[cfg(test)]
    fn run_len(&self, i: usize) -> usize {
        let b = &self.bytes;
        match self.encoding {
            SmsEncoding::Gsm7 => {
                if b[i] == gsm7::ESCAPE && i + 1 < b.len() {
                    2
                } else {
                    1
                }
            }
            SmsEncoding::Ucs2 => {
                if i + 1 >= b.len() {
                    return 1;
                }
                let unit = u16::from_be_bytes([b[i], b[i + 1]]);
                if ucs2::is_high_surrogate(unit)
                    && i + 3 < b.len()
                    && ucs2::is_low_surrogate(u16::from_be_bytes([b[i + 2], b[i + 3]]))
                {
                    4
                } else {
                    2
                }
            }
            SmsEncoding::Binary8 => 1,
        }
    }

    /// Octet offsets where each part after the first starts (empty: one part).
    ///
    /// Jumps a full part at a time and only looks at the octets around each cut:
    /// the same cuts as walking the runs greedily (`boundaries_greedy`, tested).
    fn boundaries(&self) -> Vec<usize> {
        let b = &self.bytes;
        let opu = self.encoding.octets_per_unit();
        let single = self.encoding.single_part_units() as usize * opu;
        let mut cuts = Vec::new();
        if b.len() <= single {
            return cuts;
        }
        let per_part = self.encoding.multipart_units() as usize * opu;
        let mut start = 0;
        loop {
            let mut end = start + per_part;
            if end >= b.len() {
                return cuts;
            }
            match self.encoding {
                SmsEncoding::Gsm7 if b[end - 1] == gsm7::ESCAPE => {
                    // Runs start at `start`; within a stretch of escapes, pairs start at
                    // every other one. Does the escape at end-1 start a pair?
                    let run_start = b[start..end]
                        .iter()
                        .rposition(|&x| x != gsm7::ESCAPE)
                        .map_or(start, |p| start + p + 1);
                    if (end - 1 - run_start).is_multiple_of(2) {
                        end -= 1;
                    }
                }
                SmsEncoding::Ucs2 => {
                    // A high surrogate just before the cut followed by a low one after it.
                    let unit = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
                    if end + 1 < b.len()
                        && ucs2::is_high_surrogate(unit(end - 2))
                        && ucs2::is_low_surrogate(unit(end))
                    {
                        end -= 2;
                    }
                }
                _ => {}
            }
            cuts.push(end);
            start = end;
        }
    }

    /// The greedy walk over every run that [`boundaries`](Self::boundaries) must agree with.
    #[cfg(test)]
    fn boundaries_greedy(&self) -> Vec<usize> {
        let opu = self.encoding.octets_per_unit();
        let single = self.encoding.single_part_units() as usize * opu;
        let mut cuts = Vec::new();
        if self.bytes.len() <= single {
            return cuts;
        }
        let mut packer = Packer::new(self.encoding.multipart_units() as usize * opu);
        let mut i = 0;
        while i < self.bytes.len() {
            let n = self.run_len(i);
            if packer.push(n) {
                cuts.push(i);
            }
            i += n;
        }
        cuts
    }

    /// Parts this text is sent as; always equal to `split(..).len()`.
    pub fn parts(&self) -> u32 {
        to_u32(self.boundaries().len() + 1)
    }

    /// The [`PartPlan`] of this text.
    pub fn plan(&self) -> PartPlan {
        PartPlan {
            encoding: self.encoding,
            parts: self.parts(),
            units: self.units(),
        }
    }
}

/// Concatenation values as SMPP SAR TLVs carry them: `sar_msg_ref_num` (0x020C),
/// `sar_total_segments` (0x020E), `sar_segment_seqnum` (0x020F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sar {
    /// `sar_msg_ref_num`: the same for every part of one message.
    pub reference: u16,
    /// `sar_total_segments`: number of parts (2..=255).
    pub total: u8,
    /// `sar_segment_seqnum`: this part's number, from 1.
    pub sequence: u8,
}

/// One part ready for an SMSC. Send either `udh` + `payload` (with the UDHI
/// bit, `esm_class` 0x40) or `payload` alone with the [`Sar`] TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmsPart {
    /// Concatenation user data header, UDHL octet included; empty for a single part.
    pub udh: Vec<u8>,
    /// This part's share of the encoded text (GSM: unpacked septets).
    pub payload: Vec<u8>,
    /// The same concatenation as SAR values; `None` for a single part.
    pub sar: Option<Sar>,
}

impl SmsPart {
    /// `udh` followed by `payload`: an SMPP `short_message` with UDHI set (GSM unpacked).
    pub fn short_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.udh.len() + self.payload.len());
        out.extend_from_slice(&self.udh);
        out.extend_from_slice(&self.payload);
        out
    }

    /// TP-User-Data as the air interface carries it: for GSM, the header, fill
    /// bits and packed septets; otherwise `udh` + `payload`.
    pub fn tp_user_data(&self, encoding: SmsEncoding) -> Vec<u8> {
        match encoding {
            SmsEncoding::Gsm7 => gsm7::pack_with_udh(&self.udh, &self.payload),
            _ => self.short_message(),
        }
    }

    /// Length of [`tp_user_data`](Self::tp_user_data); at most 140 for parts made by [`split`].
    pub fn tp_user_data_len(&self, encoding: SmsEncoding) -> usize {
        match encoding {
            SmsEncoding::Gsm7 => {
                let fill = if self.udh.is_empty() {
                    0
                } else {
                    gsm7::fill_bits_after_udh(self.udh.len())
                };
                self.udh.len() + gsm7::packed_len(self.payload.len(), fill)
            }
            _ => self.udh.len() + self.payload.len(),
        }
    }
}

/// Splits `encoded` into parts. A single part gets no UDH and no SAR; a
/// multipart message gets `05 00 03 RR TT SS` (GSM, 8-bit: `RR` is the low octet
/// of `reference`) or `06 08 04 RR RR TT SS` (UCS2: all 16 bits), and SAR values
/// with the full `reference`.
///
/// # Panics
/// When the text needs more than 255 parts. Call [`check_part_limits`](super::check_part_limits)
/// first (its maximum is at most 255), or use [`try_split`].
pub fn split(encoded: &EncodedText, reference: u16) -> Vec<SmsPart> {
    match try_split(encoded, reference) {
        Ok(parts) => parts,
        Err(e) => panic!("sms::split: {e}; check the part limits before splitting"),
    }
}

/// [`split`], returning an error instead of panicking past 255 parts.
pub fn try_split(encoded: &EncodedText, reference: u16) -> Result<Vec<SmsPart>, TooManyParts> {
    let cuts = encoded.boundaries();
    if cuts.is_empty() {
        return Ok(vec![SmsPart {
            udh: Vec::new(),
            payload: encoded.bytes.clone(),
            sar: None,
        }]);
    }
    let total = cuts.len() + 1;
    let total = u8::try_from(total).map_err(|_| TooManyParts {
        needed: to_u32(total),
    })?;
    let mut parts = Vec::with_capacity(usize::from(total));
    let mut start = 0;
    for (index, end) in cuts
        .iter()
        .copied()
        .chain(std::iter::once(encoded.bytes.len()))
        .enumerate()
    {
        let sequence = (index + 1) as u8;
        let udh = match encoded.encoding {
            SmsEncoding::Ucs2 => {
                let mut v = Vec::with_capacity(UDH_16BIT_LEN);
                v.extend_from_slice(&concat_udh_16bit(reference, total, sequence));
                v
            }
            _ => {
                let mut v = Vec::with_capacity(UDH_8BIT_LEN);
                v.extend_from_slice(&concat_udh_8bit(reference as u8, total, sequence));
                v
            }
        };
        parts.push(SmsPart {
            udh,
            payload: encoded.bytes[start..end].to_vec(),
            sar: Some(Sar {
                reference,
                total,
                sequence,
            }),
        });
        start = end;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(content: &str, enc: SmsEncoding) -> (u32, u32) {
        let p = plan_encoded(content, enc).unwrap();
        let e = EncodedText::encode(content, enc).unwrap();
        let parts = split(&e, 7);
        assert_eq!(p.parts as usize, parts.len(), "plan vs split for {enc:?}");
        assert_eq!(p.units, e.units());
        (p.units, p.parts)
    }

    #[test]
    fn gsm_boundaries() {
        use SmsEncoding::Gsm7;
        assert_eq!(plan("", Gsm7), (0, 1));
        assert_eq!(plan(&"a".repeat(159), Gsm7), (159, 1));
        assert_eq!(plan(&"a".repeat(160), Gsm7), (160, 1));
        assert_eq!(plan(&"a".repeat(161), Gsm7), (161, 2));
        assert_eq!(plan(&"a".repeat(306), Gsm7), (306, 2));
        assert_eq!(plan(&"a".repeat(307), Gsm7), (307, 3));
        assert_eq!(plan(&"a".repeat(153 * 8), Gsm7), (1224, 8));
        assert_eq!(plan(&"a".repeat(153 * 8 + 1), Gsm7), (1225, 9));
        // 80 euro signs: 160 septets, still one part.
        assert_eq!(plan(&"€".repeat(80), Gsm7), (160, 1));
        assert_eq!(plan(&format!("{}a", "€".repeat(80)), Gsm7), (161, 2));
    }

    #[test]
    fn gsm_escape_pair_is_never_split() {
        // 152 'a' then '€' (septets 153-154): the pair moves to part 2.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let e = EncodedText::encode(&text, SmsEncoding::Gsm7).unwrap();
        let parts = split(&e, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].payload.len(), 152);
        assert_eq!(&parts[1].payload[..2], &[0x1B, 0x65]);
        // 306 septets need 3 parts when a pair straddles the first boundary.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(152));
        assert_eq!(gsm7::septet_count(&text), 306);
        assert_eq!(plan(&text, SmsEncoding::Gsm7), (306, 3));
        // ...and 2 when it does not.
        let text = format!("€{}", "b".repeat(304));
        assert_eq!(plan(&text, SmsEncoding::Gsm7), (306, 2));
    }

    #[test]
    fn ucs2_boundaries() {
        use SmsEncoding::Ucs2;
        assert_eq!(plan(&"ж".repeat(70), Ucs2), (70, 1));
        assert_eq!(plan(&"ж".repeat(71), Ucs2), (71, 2));
        assert_eq!(plan(&"ж".repeat(132), Ucs2), (132, 2));
        assert_eq!(plan(&"ж".repeat(133), Ucs2), (133, 3));
        assert_eq!(plan(&"😀".repeat(35), Ucs2), (70, 1));
        // 65 units then an emoji: the pair goes whole to part 2.
        let text = format!("{}😀{}", "ж".repeat(65), "ж".repeat(10));
        let e = EncodedText::encode(&text, Ucs2).unwrap();
        let parts = split(&e, 0x1234);
        assert_eq!(parts[0].payload.len(), 130);
        assert_eq!(&parts[1].payload[..4], &[0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(parts[0].udh, [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]);
        assert_eq!(
            parts[1].sar,
            Some(Sar {
                reference: 0x1234,
                total: 2,
                sequence: 2
            })
        );
    }

    #[test]
    fn binary_boundaries() {
        use SmsEncoding::Binary8;
        assert_eq!(plan(&"00".repeat(140), Binary8), (140, 1));
        assert_eq!(plan(&"00".repeat(141), Binary8), (141, 2));
        assert_eq!(plan(&"00".repeat(268), Binary8), (268, 2));
        assert_eq!(plan(&"00".repeat(269), Binary8), (269, 3));
        assert_eq!(plan_encoded("0", Binary8), Err(BodyError::InvalidBinary));
        assert_eq!(
            EncodedText::encode("zz", Binary8),
            Err(BodyError::InvalidBinary)
        );
        assert!(BodyError::InvalidBinary.to_string().contains("hexadecimal"));
    }

    #[test]
    fn gsm_udh_uses_low_byte_of_reference() {
        let e = EncodedText::encode(&"x".repeat(200), SmsEncoding::Gsm7).unwrap();
        let parts = split(&e, 0x01AB);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].udh, [0x05, 0x00, 0x03, 0xAB, 0x02, 0x01]);
        assert_eq!(parts[1].udh, [0x05, 0x00, 0x03, 0xAB, 0x02, 0x02]);
        assert_eq!(parts[0].sar.unwrap().reference, 0x01AB);
        assert_eq!(parts[0].payload.len(), 153);
        assert_eq!(parts[1].payload.len(), 47);
        assert_eq!(parts[0].tp_user_data_len(SmsEncoding::Gsm7), 140);
        assert_eq!(parts[0].tp_user_data(SmsEncoding::Gsm7).len(), 140);
        assert_eq!(parts[0].short_message().len(), 159);
    }

    #[test]
    fn single_part_has_no_header() {
        let e = EncodedText::encode("Hello @ {you}", SmsEncoding::Gsm7).unwrap();
        let parts = split(&e, 9);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].udh.is_empty());
        assert_eq!(parts[0].sar, None);
        assert_eq!(e.decode(), "Hello @ {you}");
    }

    #[test]
    fn more_than_255_parts_is_an_error_not_a_truncation() {
        let e = EncodedText::encode(&"a".repeat(153 * 255), SmsEncoding::Gsm7).unwrap();
        assert_eq!(try_split(&e, 0).unwrap().len(), 255);
        let e = EncodedText::encode(&"a".repeat(153 * 255 + 1), SmsEncoding::Gsm7).unwrap();
        assert_eq!(try_split(&e, 0), Err(TooManyParts { needed: 256 }));
        assert_eq!(e.parts(), 256);
    }

    #[test]
    #[should_panic(expected = "256 parts")]
    fn split_panics_past_255_parts() {
        let e = EncodedText::encode(&"a".repeat(153 * 255 + 1), SmsEncoding::Gsm7).unwrap();
        split(&e, 0);
    }

    proptest::proptest! {
        #[test]
        fn jumping_cuts_equal_the_greedy_walk(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    3 => proptest::sample::select(vec![0x1Bu8, 0xD8, 0xDC, 0x3D, 0x00]),
                    1 => proptest::prelude::any::<u8>(),
                ],
                0..1200,
            ),
        ) {
            for enc in [SmsEncoding::Gsm7, SmsEncoding::Ucs2, SmsEncoding::Binary8] {
                let e = EncodedText::from_encoded(enc, raw.clone());
                proptest::prop_assert_eq!(e.boundaries(), e.boundaries_greedy(), "{:?}", enc);
            }
        }
    }

    #[test]
    fn from_encoded_raw_octets() {
        // A lone trailing octet in raw UCS2 and a trailing escape in raw GSM do not panic.
        let e = EncodedText::from_encoded(SmsEncoding::Ucs2, vec![0x00; 141]);
        assert_eq!(e.units(), 71);
        let parts = split(&e, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].payload.len() + parts[1].payload.len(), 141);
        let mut raw = vec![0x41; 160];
        raw.push(0x1B);
        let e = EncodedText::from_encoded(SmsEncoding::Gsm7, raw);
        assert_eq!(split(&e, 1).len(), 2);
    }
}
