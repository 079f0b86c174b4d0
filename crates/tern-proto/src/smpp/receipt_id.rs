//! Which submit a delivery receipt is about: SMSCs often report the id their submit_sm_resp gave
//! in another form — hex where the response was decimal, or the reverse, in another case,
//! without leading zeros — and a gateway that compares strings loses those receipts. Both ids
//! are brought to one canonical form, per the connector's [`ReceiptIdFormat`];
//! [`canonical_submit_id`] of the response's id equals [`canonical_receipt_id`] of the
//! receipt's id exactly when the receipt names that submit.
//!
//! Canonical forms: for `as-is`, the id trimmed, in lowercase, without leading zeros (all zeros
//! is `0`); for `hex`, the number in lowercase hex without leading zeros; for `decimal`, the
//! number in decimal without leading zeros. Numbers of any length up to
//! [`MAX_NUMERIC_ID_DIGITS`] digits are converted exactly (no `u128` limit). An id that is not a
//! number in the base its side declares, or is longer than that, falls back to its `as-is`
//! form on that side, so an SMSC that reports the very string its response gave still matches.
//! A receipt id matches a fallback response id only when it is the same string (up to case and
//! leading zeros); a converted id and a fallback one of two different messages could coincide
//! only if one SMSC gave response ids in both bases, contrary to its declared format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest id (in digits) converted between bases; longer ids are compared as-is. SMPP message
/// ids are at most 64 characters.
pub const MAX_NUMERIC_ID_DIGITS: usize = 128;

/// How an SMSC's receipts carry the id its submit_sm_resp gave (configuration:
/// `receipt_id_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptIdFormat {
    /// `as-is`: the same string, ignoring case and leading zeros.
    #[default]
    AsIs,
    /// `hex`: the response's id is decimal, receipts give it in hex.
    Hex,
    /// `decimal`: the response's id is hex, receipts give it in decimal.
    Decimal,
}

impl ReceiptIdFormat {
    /// The configuration name: `as-is`, `hex` or `decimal`.
    pub const fn name(self) -> &'static str {
        match self {
            ReceiptIdFormat::AsIs => "as-is",
            ReceiptIdFormat::Hex => "hex",
            ReceiptIdFormat::Decimal => "decimal",
        }
    }
}

impl fmt::Display for ReceiptIdFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `receipt_id_format` that is none of `as-is`, `hex`, `decimal`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown receipt_id_format {0:?} (expected \"as-is\", \"hex\" or \"decimal\")")]
pub struct UnknownReceiptIdFormat(pub String);

impl FromStr for ReceiptIdFormat {
    type Err = UnknownReceiptIdFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [
            ReceiptIdFormat::AsIs,
            ReceiptIdFormat::Hex,
            ReceiptIdFormat::Decimal,
        ]
        .into_iter()
        .find(|format| format.name() == name)
        .ok_or_else(|| UnknownReceiptIdFormat(name.to_owned()))
    }
}

/// The canonical form of the id a submit_sm_resp gave, to compare with
/// [`canonical_receipt_id`]'s. An empty id gives an empty string, which no receipt's equals.
pub fn canonical_submit_id(format: ReceiptIdFormat, resp_id: &str) -> String {
    let converted = match format {
        ReceiptIdFormat::AsIs => None,
        ReceiptIdFormat::Hex => convert(resp_id, 10, 16),
        ReceiptIdFormat::Decimal => convert(resp_id, 16, 10),
    };
    converted.unwrap_or_else(|| as_is(resp_id))
}

/// The canonical form of the id a receipt gives, to compare with [`canonical_submit_id`]'s;
/// `None` for an empty (or all-whitespace) id, which names no submit.
pub fn canonical_receipt_id(format: ReceiptIdFormat, receipt_id: &str) -> Option<String> {
    if receipt_id.trim().is_empty() {
        return None;
    }
    let converted = match format {
        ReceiptIdFormat::AsIs => None,
        // Already in the canonical base: only case and leading zeros to normalise.
        ReceiptIdFormat::Hex => convert(receipt_id, 16, 16),
        ReceiptIdFormat::Decimal => convert(receipt_id, 10, 10),
    };
    Some(converted.unwrap_or_else(|| as_is(receipt_id)))
}

/// Trimmed, lowercase, without leading zeros (all zeros: `0`).
fn as_is(id: &str) -> String {
    let id = id.trim();
    let stripped = id.trim_start_matches('0');
    if stripped.is_empty() && !id.is_empty() {
        "0".to_owned()
    } else {
        stripped.to_ascii_lowercase()
    }
}

/// `id` (trimmed) as a number in base `from`, written in base `to` in lowercase without leading
/// zeros; `None` when it is empty, not all digits of `from`, or longer than
/// [`MAX_NUMERIC_ID_DIGITS`].
fn convert(id: &str, from: u32, to: u32) -> Option<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > MAX_NUMERIC_ID_DIGITS {
        return None;
    }
    let mut digits = id
        .chars()
        .map(|c| c.to_digit(from))
        .collect::<Option<Vec<u32>>>()?;
    // Repeated division of the big-endian digit list by `to`; the remainders are the digits of
    // the result, least significant first.
    let mut out = Vec::new();
    loop {
        while digits.first() == Some(&0) {
            digits.remove(0);
        }
        if digits.is_empty() {
            break;
        }
        let mut remainder = 0;
        for digit in &mut digits {
            let value = remainder * from + *digit;
            *digit = value / to;
            remainder = value % to;
        }
        out.push(char::from_digit(remainder, to).expect("remainder below base"));
    }
    if out.is_empty() {
        out.push('0');
    }
    Some(out.into_iter().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(format: ReceiptIdFormat, resp_id: &str, receipt_id: &str) -> bool {
        canonical_receipt_id(format, receipt_id) == Some(canonical_submit_id(format, resp_id))
    }

    #[test]
    fn as_is_ignores_case_and_leading_zeros_only() {
        use ReceiptIdFormat::AsIs;
        let cases = [
            ("abc123", "abc123", true),
            ("ABC123", "abc123", true),
            ("000abc", "ABC", true),
            ("0195D3B2", "195d3b2", true),
            ("000", "0", true),
            ("0", "0000", true),
            (" 42 ", "42", true),
            ("42", "43", false),
            ("42", "2a", false),
            ("a0", "a", false),
            ("", "", false),
            ("", "0", false),
        ];
        for (resp, receipt, expected) in cases {
            assert_eq!(
                matches(AsIs, resp, receipt),
                expected,
                "{resp:?} {receipt:?}"
            );
        }
        assert_eq!(canonical_submit_id(AsIs, "000"), "0");
        assert_eq!(canonical_receipt_id(AsIs, "  "), None);
    }

    #[test]
    fn hex_reads_decimal_responses_and_hex_receipts() {
        use ReceiptIdFormat::Hex;
        let cases = [
            ("255", "ff", true),
            ("255", "FF", true),
            ("255", "00000FF", true),
            ("0255", "ff", true),
            ("255", "255", false),
            ("16", "10", true),
            ("10", "10", false),
            ("0", "0", true),
            ("0", "000", true),
            // u64::MAX + 1 and beyond u128 (2^128 = 340282366920938463463374607431768211456).
            ("18446744073709551616", "10000000000000000", true),
            (
                "340282366920938463463374607431768211456",
                "100000000000000000000000000000000",
                true,
            ),
            (
                "340282366920938463463374607431768211457",
                "100000000000000000000000000000000",
                false,
            ),
            // A response that is not decimal: the receipt must give the same string.
            ("1f", "1F", true),
            ("msg-7", "MSG-7", true),
            ("msg-7", "msg-8", false),
            // A receipt that is not hex names no converted id.
            ("255", "xff", false),
        ];
        for (resp, receipt, expected) in cases {
            assert_eq!(
                matches(Hex, resp, receipt),
                expected,
                "{resp:?} {receipt:?}"
            );
        }
    }

    #[test]
    fn decimal_reads_hex_responses_and_decimal_receipts() {
        use ReceiptIdFormat::Decimal;
        let cases = [
            ("ff", "255", true),
            ("FF", "0255", true),
            ("00ff", "255", true),
            ("ff", "ff", false),
            ("10", "16", true),
            ("10", "10", false),
            (
                "0195d3b2c4e47a1b9c3f00112233aabb",
                "2107173979681176880953882209980492475",
                true,
            ),
            ("msg-7", "MSG-7", true),
            ("abc", "abc", false),
        ];
        for (resp, receipt, expected) in cases {
            assert_eq!(
                matches(Decimal, resp, receipt),
                expected,
                "{resp:?} {receipt:?}"
            );
        }
    }

    #[test]
    fn very_long_ids_are_compared_as_is() {
        let long = "9".repeat(MAX_NUMERIC_ID_DIGITS + 1);
        for format in [ReceiptIdFormat::Hex, ReceiptIdFormat::Decimal] {
            assert!(matches(format, &long, &long));
            assert_eq!(canonical_submit_id(format, &long), long);
        }
    }

    #[test]
    fn formats_have_their_configuration_names() {
        for (format, name) in [
            (ReceiptIdFormat::AsIs, "as-is"),
            (ReceiptIdFormat::Hex, "hex"),
            (ReceiptIdFormat::Decimal, "decimal"),
        ] {
            assert_eq!(name.parse::<ReceiptIdFormat>(), Ok(format));
            assert_eq!(format.to_string(), name);
            assert_eq!(
                serde_json::to_string(&format).unwrap(),
                format!("\"{name}\"")
            );
            assert_eq!(
                serde_json::from_str::<ReceiptIdFormat>(&format!("\"{name}\"")).unwrap(),
                format
            );
        }
        assert_eq!(
            "HEX".parse::<ReceiptIdFormat>(),
            Err(UnknownReceiptIdFormat("HEX".into()))
        );
        assert_eq!(ReceiptIdFormat::default(), ReceiptIdFormat::AsIs);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn padded(id: String, zeros: usize) -> String {
            format!("{}{id}", "0".repeat(zeros))
        }

        proptest! {
            #[test]
            fn a_receipt_matches_its_submit_in_every_form(
                number in any::<u128>(),
                other in any::<u128>(),
                zeros in 0..4usize,
                upper in any::<bool>(),
            ) {
                let hex = |n: u128| if upper { format!("{n:X}") } else { format!("{n:x}") };
                // hex: responses decimal, receipts hex.
                let resp = padded(number.to_string(), zeros);
                prop_assert!(matches(ReceiptIdFormat::Hex, &resp, &padded(hex(number), zeros)));
                prop_assert_eq!(
                    matches(ReceiptIdFormat::Hex, &resp, &hex(other)),
                    number == other
                );
                // decimal: responses hex, receipts decimal.
                let resp = padded(hex(number), zeros);
                prop_assert!(matches(ReceiptIdFormat::Decimal, &resp, &padded(number.to_string(), zeros)));
                prop_assert_eq!(
                    matches(ReceiptIdFormat::Decimal, &resp, &other.to_string()),
                    number == other
                );
                // as-is: the same string, any case, any leading zeros.
                prop_assert!(matches(ReceiptIdFormat::AsIs, &hex(number), &padded(hex(number).to_uppercase(), zeros)));
            }

            #[test]
            fn any_text_is_canonicalised_without_panicking(id in ".{0,200}") {
                for format in [ReceiptIdFormat::AsIs, ReceiptIdFormat::Hex, ReceiptIdFormat::Decimal] {
                    let _ = canonical_submit_id(format, &id);
                    let _ = canonical_receipt_id(format, &id);
                }
                let itself = canonical_receipt_id(ReceiptIdFormat::AsIs, &id)
                    .is_none_or(|receipt| receipt == canonical_submit_id(ReceiptIdFormat::AsIs, &id));
                prop_assert!(itself);
            }
        }
    }
}
