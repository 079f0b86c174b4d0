//! A message as an operator's SMSC is handed it: the submit_sm of each part. The text is
//! encoded as the submission counted it (`sms::choose_encoding` on its body type and `dcs`:
//! GSM 7-bit as data_coding 0, UCS2 as 8, binary as 4) and split with the encoding module's
//! concatenation header (esm_class UDHI), so the parts sent are the parts billed. A message
//! whose client concatenated it itself (an SMPP segment) keeps its own header and is one part.

use tern_proto::sms::{self, BodyType, EncodedText};

use crate::message::Content;

/// One part, ready for a submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPart {
    pub data_coding: u8,
    /// Whether `short_message` starts with a user data header (esm_class 0x40).
    pub udhi: bool,
    /// The header, if any, then the encoded text (GSM: unpacked septets, one per octet).
    pub short_message: Vec<u8>,
}

/// Why a message cannot be put on the wire as SMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutgoingSmsError {
    #[error("the body cannot be encoded: {0}")]
    Body(#[from] sms::BodyError),
    #[error(transparent)]
    TooManyParts(#[from] sms::TooManyParts),
}

/// The parts of `content` in order, concatenated under `reference` when there are several.
pub fn outgoing_parts(
    content: &Content,
    reference: u16,
) -> Result<Vec<OutgoingPart>, OutgoingSmsError> {
    let body_type = content
        .body_type
        .as_deref()
        .and_then(|text| text.parse::<BodyType>().ok());
    let encoding = sms::choose_encoding(&content.body, body_type, content.dcs);
    let data_coding = match content.dcs {
        // A `dcs` that says this encoding (a message class, say) is kept as the client gave it.
        Some(dcs) if sms::encoding_for_dcs(dcs) == encoding && body_type.is_none() => dcs,
        _ => encoding.data_coding(),
    };
    let encoded = EncodedText::encode(&content.body, encoding)?;
    if let Some(udh) = &content.udh {
        let mut short_message = udh.clone();
        short_message.extend_from_slice(encoded.as_bytes());
        return Ok(vec![OutgoingPart {
            data_coding,
            udhi: true,
            short_message,
        }]);
    }
    Ok(sms::try_split(&encoded, reference)?
        .into_iter()
        .map(|part| OutgoingPart {
            data_coding,
            udhi: !part.udh.is_empty(),
            short_message: part.short_message(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(body: &str, body_type: Option<&str>, dcs: Option<u8>) -> Content {
        Content {
            from: "Tern".into(),
            body: body.into(),
            body_type: body_type.map(str::to_owned),
            dcs,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }
    }

    #[test]
    fn gsm_text_is_one_part_of_septets_with_data_coding_0() {
        let parts = outgoing_parts(&content("Hi @€", Some("AUTO"), None), 7).unwrap();
        assert_eq!(
            parts,
            vec![OutgoingPart {
                data_coding: 0,
                udhi: false,
                short_message: vec![0x48, 0x69, 0x20, 0x00, 0x1B, 0x65],
            }]
        );
    }

    #[test]
    fn long_ucs2_text_is_split_with_16_bit_reference_headers() {
        let body = "Привет ".repeat(20); // 140 UCS2 units: 3 parts of at most 66
        let parts = outgoing_parts(&content(&body, Some("AUTO"), None), 0x1234).unwrap();
        assert_eq!(parts.len(), 3);
        for (index, part) in parts.iter().enumerate() {
            assert_eq!(part.data_coding, 8);
            assert!(part.udhi);
            assert_eq!(
                &part.short_message[..7],
                &[0x06, 0x08, 0x04, 0x12, 0x34, 3, index as u8 + 1]
            );
        }
        assert_eq!(parts[0].short_message.len(), 7 + 66 * 2);
    }

    #[test]
    fn long_gsm_text_has_8_bit_reference_headers_of_153_septets() {
        let body = "a".repeat(200);
        let parts = outgoing_parts(&content(&body, None, None), 0x0142).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            &parts[0].short_message[..6],
            &[0x05, 0x00, 0x03, 0x42, 2, 1]
        );
        assert_eq!(parts[0].short_message.len(), 6 + 153);
        assert_eq!(parts[1].short_message.len(), 6 + 47);
        assert!(parts.iter().all(|part| part.data_coding == 0 && part.udhi));
    }

    #[test]
    fn a_segment_keeps_its_own_header_and_a_message_class_keeps_its_dcs() {
        let mut segment = content("Hello", None, Some(0x10));
        segment.udh = Some(vec![0x05, 0x00, 0x03, 0x09, 0x02, 0x01]);
        assert_eq!(
            outgoing_parts(&segment, 0).unwrap(),
            vec![OutgoingPart {
                data_coding: 0x10,
                udhi: true,
                short_message: vec![
                    0x05, 0x00, 0x03, 0x09, 0x02, 0x01, 0x48, 0x65, 0x6C, 0x6C, 0x6F
                ],
            }]
        );
        let binary = outgoing_parts(&content("CAFE", Some("BINARY"), None), 0).unwrap();
        assert_eq!(binary[0].data_coding, 4);
        assert_eq!(binary[0].short_message, vec![0xCA, 0xFE]);
    }
}
