//! The SMSC's deliver_sm and data_sm, sorted: a delivery receipt (its id matched to the part
//! it is about, its state mapped to a CM status) or an MO message.

use serde::Deserialize;
use tern_core::error_code::DeliveryError;
use tern_core::status::CmStatus;
use tern_proto::smpp::{DataSm, DeliverSm, Pdu, Tlvs};

/// How receipts carry the id submit_sm_resp gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptIdFormat {
    /// The same string; case and leading zeros ignored.
    #[default]
    AsIs,
    /// The resp id is decimal, receipts give it in hex.
    Hex,
    /// The resp id is hex, receipts give it in decimal.
    Decimal,
}

/// The form a submit_sm_resp id is stored under, so that a receipt's id in `format` finds it.
pub fn canonical_submit_id(_format: ReceiptIdFormat, resp_id: &str) -> String {
    as_is(resp_id)
}

/// The stored form of the submit a receipt names with `receipt_id`; `None` when the id cannot
/// be read in `format`.
pub fn canonical_receipt_id(format: ReceiptIdFormat, receipt_id: &str) -> Option<String> {
    let id = receipt_id.trim();
    match format {
        ReceiptIdFormat::AsIs => Some(as_is(id)),
        ReceiptIdFormat::Hex => u128::from_str_radix(id, 16).ok().map(|n| n.to_string()),
        ReceiptIdFormat::Decimal => id.parse::<u128>().ok().map(|n| format!("{n:x}")),
    }
}

fn as_is(id: &str) -> String {
    let trimmed = id.trim().trim_start_matches('0');
    if trimmed.is_empty() && !id.trim().is_empty() {
        "0".into()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

/// A receipt as the connector uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorReceipt {
    pub id: String,
    pub status: CmStatus,
    pub error_code: Option<DeliveryError>,
    pub operator: Option<String>,
}

/// The receipt `pdu` is, if it is one (esm_class receipt bits or a receipted_message_id).
pub fn receipt_of(pdu: &Pdu, default_error: DeliveryError) -> Option<OperatorReceipt> {
    let (esm_class, text, tlvs): (u8, &[u8], &Tlvs) = match pdu {
        Pdu::DeliverSm(deliver) => {
            let DeliverSm {
                esm_class,
                short_message,
                tlvs,
                ..
            } = &**deliver;
            let text = if short_message.is_empty() {
                tlvs.message_payload.as_deref().unwrap_or(&[])
            } else {
                short_message
            };
            (*esm_class, text, tlvs)
        }
        Pdu::DataSm(data) => {
            let DataSm {
                esm_class, tlvs, ..
            } = &**data;
            (
                *esm_class,
                tlvs.message_payload.as_deref().unwrap_or(&[]),
                tlvs,
            )
        }
        _ => return None,
    };
    let is_receipt = esm_class & 0x3C != 0 || tlvs.receipted_message_id.is_some();
    if !is_receipt {
        return None;
    }
    let text = String::from_utf8_lossy(text);
    let field = |name: &str| -> Option<String> {
        let lower = text.to_ascii_lowercase();
        let at = lower.find(&format!("{name}:"))?;
        let rest = &text[at + name.len() + 1..];
        Some(rest.split_whitespace().next().unwrap_or("").to_owned())
    };
    let id = tlvs.receipted_message_id.clone().or_else(|| field("id"))?;
    let stat = field("stat").map(|stat| stat.to_ascii_uppercase());
    let state = tlvs.message_state;
    let status = match (state, stat.as_deref()) {
        (Some(2), _) => CmStatus::Delivered,
        (Some(1 | 6), _) => CmStatus::Accepted,
        (Some(8), _) => CmStatus::Rejected,
        (Some(3 | 4 | 5 | 7), _) => CmStatus::Failed,
        (_, Some("DELIVRD" | "DELIVERD")) => CmStatus::Delivered,
        (_, Some("ACCEPTD" | "ENROUTE")) => CmStatus::Accepted,
        (_, Some("REJECTD")) => CmStatus::Rejected,
        (_, Some(_)) => CmStatus::Failed,
        (_, None) => return None,
    };
    let expired = state == Some(3) || stat.as_deref() == Some("EXPIRED");
    let error_code = match status {
        CmStatus::Delivered | CmStatus::Accepted | CmStatus::Read => None,
        _ => Some(
            field("err")
                .and_then(|err| err.parse::<u16>().ok())
                .and_then(DeliveryError::from_code)
                .unwrap_or(if expired {
                    DeliveryError::ExpiredAtThirdParty
                } else {
                    default_error
                }),
        ),
    };
    Some(OperatorReceipt {
        id,
        status,
        error_code,
        operator: tlvs.cm_operator_mcc_mnc.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_across_case_leading_zeros_and_bases() {
        let stored = canonical_submit_id(ReceiptIdFormat::AsIs, "00AB12");
        assert_eq!(
            canonical_receipt_id(ReceiptIdFormat::AsIs, "ab12").as_deref(),
            Some(&*stored)
        );
        let decimal = canonical_submit_id(ReceiptIdFormat::Hex, "4096");
        assert_eq!(
            canonical_receipt_id(ReceiptIdFormat::Hex, "1000").as_deref(),
            Some(&*decimal)
        );
        let hex = canonical_submit_id(ReceiptIdFormat::Decimal, "0FF");
        assert_eq!(
            canonical_receipt_id(ReceiptIdFormat::Decimal, "255").as_deref(),
            Some(&*hex)
        );
        assert_eq!(canonical_receipt_id(ReceiptIdFormat::Hex, "xyz"), None);
    }
}
