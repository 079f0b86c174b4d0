//! SMS encoding and segmentation: GSM 03.38 and UCS2 codecs, the choice of
//! encoding from CM's `body.type`/`dcs`, part counting, splitting with UDH/SAR
//! concatenation, and reassembly of received parts.
//!
//! Exists as pure code (no I/O, no async) because the HTTP API's `parts`,
//! billing, the SMPP server and the SMPP client connector must all agree on the
//! same encoding and the same parts. CM's figures are used throughout: GSM 160
//! single / 153 per part, UCS2 70 / 66, 8-bit 140 / 134. See
//! `docs/sms-encoding.md` for the rules and tables.
//!
//! Typical use:
//! ```
//! use tern_proto::sms::{self, BodyType, EncodedText};
//! let content = "Hello {world}";
//! let plan = sms::plan_parts(content, Some(BodyType::Auto), None).unwrap();
//! sms::check_part_limits(Some(1), Some(8), plan.parts).unwrap();
//! let encoded = EncodedText::encode(content, plan.encoding).unwrap();
//! let mut refs = sms::ConcatReferences::with_seed(1);
//! let parts = sms::split(&encoded, refs.next("0031612345678"));
//! assert_eq!(parts.len() as u32, plan.parts);
//! ```

mod binary;
mod concat;
mod encoding;
pub mod gsm7;
mod limits;
pub mod lookalike;
mod parts;
mod reassembly;
pub mod ucs2;

pub use binary::{decode_hex, encode_hex};
pub use concat::{
    ConcatInfo, ConcatReferences, UDH_8BIT_LEN, UDH_16BIT_LEN, Udh, UdhError, concat_udh_8bit,
    concat_udh_16bit, parse_udh,
};
pub use encoding::{BodyType, SmsEncoding, UnknownBodyType, choose_encoding, encoding_for_dcs};
pub use limits::{DEFAULT_MAX_PARTS, PartLimitError, check_part_limits};
pub use parts::{
    BodyError, EncodedText, MAX_PARTS, PartPlan, Sar, SmsPart, TooManyParts, plan_encoded,
    plan_parts, split, try_split,
};
pub use reassembly::{Reassembler, Reassembly, ReassemblyError, ReassemblyLimits};

/// Decodes a received payload to text: GSM from unpacked septets, UCS2 from
/// UTF-16BE (lossy), 8-bit as upper-case hex. Never panics.
pub fn decode_payload(encoding: SmsEncoding, bytes: &[u8]) -> String {
    match encoding {
        SmsEncoding::Gsm7 => gsm7::decode(bytes),
        SmsEncoding::Ucs2 => ucs2::decode(bytes),
        SmsEncoding::Binary8 => encode_hex(bytes),
    }
}
