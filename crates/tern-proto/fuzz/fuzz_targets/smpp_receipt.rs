//! Reading an SMSC's delivery receipts driven by arbitrary octets: the receipt parser (text in
//! short_message or message_payload, any data_coding, with or without the TLVs) and the id
//! canonicalisation must never panic, and a parsed receipt's id is never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::smpp::{
    self, DeliverSm, ReceiptIdFormat, ReceiptText, Tlvs, canonical_receipt_id,
    canonical_submit_id,
};

fuzz_target!(|data: &[u8]| {
    let [esm_class, data_coding, flags, rest @ ..] = data else {
        return;
    };
    // The first octet after the header splits the rest into a TLV id and the body.
    let split = rest.first().map_or(0, |&n| usize::from(n).min(rest.len()));
    let (tlv_id, body) = rest.split_at(split);
    let tlv_id = String::from_utf8_lossy(tlv_id).into_owned();
    let in_payload = flags & 0x01 != 0;
    let sm = DeliverSm {
        esm_class: *esm_class,
        data_coding: *data_coding,
        short_message: if in_payload { Vec::new() } else { body.to_vec() },
        tlvs: Tlvs {
            message_payload: in_payload.then(|| body.to_vec()),
            receipted_message_id: (flags & 0x02 != 0).then(|| tlv_id.clone()),
            message_state: (flags & 0x04 != 0).then_some(flags >> 4),
            network_error_code: (flags & 0x08 != 0).then_some([3, *esm_class, *data_coding]),
            ..Tlvs::default()
        },
        ..DeliverSm::default()
    };
    if let Ok(receipt) = smpp::parse_deliver_sm_receipt(&sm) {
        assert!(!receipt.id.is_empty());
        let _ = receipt.network_error();
    }
    let _ = ReceiptText::parse(&String::from_utf8_lossy(body));
    for format in [
        ReceiptIdFormat::AsIs,
        ReceiptIdFormat::Hex,
        ReceiptIdFormat::Decimal,
    ] {
        let submit = canonical_submit_id(format, &tlv_id);
        // An id always matches itself as-is; converted forms need not.
        if let Some(receipt) = canonical_receipt_id(format, &tlv_id)
            && format == ReceiptIdFormat::AsIs
        {
            assert_eq!(receipt, submit);
        }
    }
});
