//! Which encoding a message body is sent in.
//!
//! Exists because CM decides the encoding from three inputs (`body.type`, `dcs`
//! and the text itself) and the HTTP API, billing and both SMPP sides must agree
//! on the outcome. The rules (also in `docs/sms-encoding.md`):
//!
//! | `body.type` | `dcs`                    | encoding                                        |
//! |-------------|--------------------------|-------------------------------------------------|
//! | `AUTO`      | ignored                  | GSM 7-bit if every character is GSM, else UCS2   |
//! | `BINARY`    | ignored                  | 8-bit data (content is hex)                      |
//! | `TEXT`      | ignored                  | GSM 7-bit, look-alikes substituted               |
//! | absent      | absent or 0              | GSM 7-bit, look-alikes substituted               |
//! | absent      | 8                        | UCS2                                            |
//! | absent      | other                    | by TS 23.038 DCS group, see [`encoding_for_dcs`] |

use std::fmt;
use std::str::FromStr;

use super::gsm7;

/// CM's `body.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `AUTO`: GSM 7-bit when every character fits, else UCS2; `dcs` is ignored.
    Auto,
    /// `TEXT`: GSM 7-bit text (look-alikes substituted); `dcs` is ignored.
    Text,
    /// `BINARY`: the content is hex and is sent as 8-bit data.
    Binary,
}

/// The error for a `body.type` that is none of AUTO, TEXT, BINARY.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown body type {0:?}: expected AUTO, TEXT or BINARY")]
pub struct UnknownBodyType(pub String);

impl FromStr for BodyType {
    type Err = UnknownBodyType;

    /// Case-insensitive: `AUTO`, `auto`, `Text`, `BINARY`, ...
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            Ok(BodyType::Auto)
        } else if s.eq_ignore_ascii_case("text") {
            Ok(BodyType::Text)
        } else if s.eq_ignore_ascii_case("binary") {
            Ok(BodyType::Binary)
        } else {
            Err(UnknownBodyType(s.to_owned()))
        }
    }
}

impl fmt::Display for BodyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyType::Auto => "AUTO",
            BodyType::Text => "TEXT",
            BodyType::Binary => "BINARY",
        })
    }
}

/// The three encodings Tern sends SMS in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsEncoding {
    /// GSM 03.38 default alphabet (+ extension table), 7-bit.
    Gsm7,
    /// UCS2 / UTF-16BE.
    Ucs2,
    /// 8-bit data.
    Binary8,
}

impl SmsEncoding {
    /// The SMPP `data_coding` / TS 23.038 DCS for this encoding: 0, 8 or 4.
    pub const fn data_coding(self) -> u8 {
        match self {
            SmsEncoding::Gsm7 => 0,
            SmsEncoding::Ucs2 => 8,
            SmsEncoding::Binary8 => 4,
        }
    }

    /// How an SMPP `data_coding` received from a peer is read (SMPP 3.4 §5.2.19,
    /// whose values 1-14 differ from TS 23.038): 0 -> GSM, 8 -> UCS2, 2 and 4 ->
    /// 8-bit, 0xC0-0xDF -> GSM, 0xE0-0xEF -> UCS2, 0xF0-0xFF by bit 2. Other
    /// values (1 IA5, 3 Latin-1, 5-7, 9-14, 0x10-0xBF) are character sets Tern
    /// does not carry: `None`, the caller decides.
    pub const fn from_smpp_data_coding(data_coding: u8) -> Option<SmsEncoding> {
        match data_coding {
            0x00 => Some(SmsEncoding::Gsm7),
            0x02 | 0x04 => Some(SmsEncoding::Binary8),
            0x08 => Some(SmsEncoding::Ucs2),
            0xC0..=0xDF => Some(SmsEncoding::Gsm7),
            0xE0..=0xEF => Some(SmsEncoding::Ucs2),
            0xF0..=0xFF => Some(if data_coding & 0x04 != 0 {
                SmsEncoding::Binary8
            } else {
                SmsEncoding::Gsm7
            }),
            _ => None,
        }
    }
}

impl fmt::Display for SmsEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmsEncoding::Gsm7 => "GSM 7-bit",
            SmsEncoding::Ucs2 => "UCS2",
            SmsEncoding::Binary8 => "8-bit",
        })
    }
}

/// The encoding a CM `dcs` value selects for a text body (TS 23.038 §4):
///
/// * `0x00-0x7F` (general data coding, with or without the automatic-deletion
///   bit): bits 3-2 give the alphabet: `00` GSM, `01` 8-bit, `10` UCS2, `11`
///   (reserved) GSM. So 0 -> GSM, 4 -> 8-bit, 8 -> UCS2, 0x10-0x13 (with a
///   message class) -> GSM, 0x18 -> UCS2.
/// * `0x80-0xBF` (reserved groups) -> GSM, the default.
/// * `0xC0-0xDF` (message waiting, GSM) -> GSM; `0xE0-0xEF` (message waiting, UCS2) -> UCS2.
/// * `0xF0-0xFF` (data coding/message class): bit 2 set -> 8-bit, else GSM.
pub const fn encoding_for_dcs(dcs: u8) -> SmsEncoding {
    match dcs {
        0x00..=0x7F => match (dcs >> 2) & 0b11 {
            0b01 => SmsEncoding::Binary8,
            0b10 => SmsEncoding::Ucs2,
            _ => SmsEncoding::Gsm7,
        },
        0x80..=0xDF => SmsEncoding::Gsm7,
        0xE0..=0xEF => SmsEncoding::Ucs2,
        0xF0..=0xFF => {
            if dcs & 0x04 != 0 {
                SmsEncoding::Binary8
            } else {
                SmsEncoding::Gsm7
            }
        }
    }
}

/// Which encoding a CM message body gets.
///
/// `body_type`: CM's `body.type` (`None` when absent); `dcs`: CM's `dcs` (`None`
/// when absent). AUTO ignores `dcs` (as the CM spec says) and picks GSM when every
/// character has a GSM form, else UCS2. BINARY is 8-bit. TEXT means GSM 7-bit and
/// ignores `dcs` too. Only an absent type follows `dcs` ([`encoding_for_dcs`]),
/// absent meaning 0 (GSM).
pub fn choose_encoding(content: &str, body_type: Option<BodyType>, dcs: Option<u8>) -> SmsEncoding {
    match body_type {
        Some(BodyType::Auto) => {
            if gsm7::is_gsm_text(content) {
                SmsEncoding::Gsm7
            } else {
                SmsEncoding::Ucs2
            }
        }
        Some(BodyType::Binary) => SmsEncoding::Binary8,
        Some(BodyType::Text) => SmsEncoding::Gsm7,
        None => encoding_for_dcs(dcs.unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_type_parses_case_insensitively() {
        assert_eq!("AUTO".parse::<BodyType>(), Ok(BodyType::Auto));
        assert_eq!("auto".parse::<BodyType>(), Ok(BodyType::Auto));
        assert_eq!("Text".parse::<BodyType>(), Ok(BodyType::Text));
        assert_eq!("bInArY".parse::<BodyType>(), Ok(BodyType::Binary));
        let err = "UNICODE".parse::<BodyType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown body type \"UNICODE\": expected AUTO, TEXT or BINARY"
        );
        assert!("".parse::<BodyType>().is_err());
    }

    #[test]
    fn auto_ignores_dcs() {
        let greek = "Κείμενο διαθέσιμο σε όλες τις γλώσσες";
        assert_eq!(
            choose_encoding(greek, Some(BodyType::Auto), None),
            SmsEncoding::Ucs2
        );
        assert_eq!(
            choose_encoding(greek, Some(BodyType::Auto), Some(0)),
            SmsEncoding::Ucs2
        );
        assert_eq!(
            choose_encoding("Hi {€}", Some(BodyType::Auto), Some(8)),
            SmsEncoding::Gsm7
        );
        assert_eq!(
            choose_encoding("ça", Some(BodyType::Auto), None),
            SmsEncoding::Ucs2
        );
        assert_eq!(
            choose_encoding("", Some(BodyType::Auto), Some(4)),
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn default_and_dcs() {
        assert_eq!(choose_encoding("Ж", None, None), SmsEncoding::Gsm7);
        assert_eq!(choose_encoding("Ж", None, Some(0)), SmsEncoding::Gsm7);
        assert_eq!(choose_encoding("Ж", None, Some(8)), SmsEncoding::Ucs2);
        assert_eq!(
            choose_encoding("Ж", Some(BodyType::Text), None),
            SmsEncoding::Gsm7
        );
        assert_eq!(choose_encoding("00", None, Some(4)), SmsEncoding::Binary8);
        assert_eq!(
            choose_encoding("00", Some(BodyType::Binary), Some(8)),
            SmsEncoding::Binary8
        );
    }

    #[test]
    fn text_is_always_gsm() {
        for dcs in [
            None,
            Some(0),
            Some(4),
            Some(8),
            Some(0x18),
            Some(0xE0),
            Some(0xF4),
        ] {
            assert_eq!(
                choose_encoding("Ж", Some(BodyType::Text), dcs),
                SmsEncoding::Gsm7,
                "dcs {dcs:?}"
            );
            assert_eq!(
                choose_encoding("Hello", Some(BodyType::Text), dcs),
                SmsEncoding::Gsm7,
                "dcs {dcs:?}"
            );
        }
    }

    #[test]
    fn dcs_groups() {
        let expect = [
            (0x00, SmsEncoding::Gsm7),
            (0x01, SmsEncoding::Gsm7),
            (0x04, SmsEncoding::Binary8),
            (0x08, SmsEncoding::Ucs2),
            (0x0C, SmsEncoding::Gsm7),
            (0x10, SmsEncoding::Gsm7),
            (0x11, SmsEncoding::Gsm7),
            (0x15, SmsEncoding::Binary8),
            (0x18, SmsEncoding::Ucs2),
            (0x48, SmsEncoding::Ucs2),
            (0x80, SmsEncoding::Gsm7),
            (0xC8, SmsEncoding::Gsm7),
            (0xE0, SmsEncoding::Ucs2),
            (0xF0, SmsEncoding::Gsm7),
            (0xF1, SmsEncoding::Gsm7),
            (0xF4, SmsEncoding::Binary8),
            (0xF5, SmsEncoding::Binary8),
            (0xFF, SmsEncoding::Binary8),
        ];
        for (dcs, enc) in expect {
            assert_eq!(encoding_for_dcs(dcs), enc, "dcs {dcs:#04x}");
        }
    }

    #[test]
    fn data_coding_values() {
        assert_eq!(SmsEncoding::Gsm7.data_coding(), 0);
        assert_eq!(SmsEncoding::Ucs2.data_coding(), 8);
        assert_eq!(SmsEncoding::Binary8.data_coding(), 4);
        for e in [SmsEncoding::Gsm7, SmsEncoding::Ucs2, SmsEncoding::Binary8] {
            assert_eq!(encoding_for_dcs(e.data_coding()), e);
            assert_eq!(SmsEncoding::from_smpp_data_coding(e.data_coding()), Some(e));
        }
        assert_eq!(
            SmsEncoding::from_smpp_data_coding(2),
            Some(SmsEncoding::Binary8)
        );
        assert_eq!(SmsEncoding::from_smpp_data_coding(3), None);
        assert_eq!(
            SmsEncoding::from_smpp_data_coding(0xF6),
            Some(SmsEncoding::Binary8)
        );
        assert_eq!(
            SmsEncoding::from_smpp_data_coding(0xF2),
            Some(SmsEncoding::Gsm7)
        );
    }
}
