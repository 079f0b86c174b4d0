//! Reading a submit_sm or data_sm as the short message tern-core judges: the one place where
//! SMPP's fields (TON/NPI, esm_class, SAR TLVs, message_payload, validity_period) become a
//! [`ShortMessage`]. Only parsing: what may be sent, and for how much, is tern-core's to judge.
//!
//! Destination addresses become CM's international form (`00` + country code + number), as
//! compat-notes §5 and the spec's `to` ask:
//!
//! | dest_addr_ton | destination_addr | becomes |
//! | --- | --- | --- |
//! | 1 (international) | `31612345678`, `+31612345678` or `0031612345678` | `0031612345678` |
//! | 0 (unknown) | `+31612345678` | `0031612345678` |
//! | 0 (unknown) | anything else | as given (tern-core checks it is a number) |
//! | 2-6 (national, network, subscriber, alphanumeric, abbreviated) | | refused: ESME_RINVDSTTON |
//!
//! A national number cannot be made international without knowing its country, so it is refused
//! rather than guessed. dest_addr_npi is not used: E.164 (1) and unknown (0) are what clients
//! send, and the number itself decides. The source address is kept as given (a name or a
//! number); tern-core judges it as it judges CM's `from`.
//!
//! The body is short_message, or message_payload (TLV 0x0424) when sm_length is 0; both at once
//! is ESME_RINVOPTPARAMVAL. With esm_class UDHI (0x40) the user data header is cut from the front
//! of the body. SAR TLVs (0x020C/0x020E/0x020F, all three or none: ESME_RMISSINGOPTPARAM) become
//! the equivalent concatenation header: `05 00 03 ref total seq` for a reference under 256,
//! `06 08 04 ref(2) total seq` otherwise; a UDH the client sent wins over SAR TLVs.
//! schedule_delivery_time is not supported: a non-empty one is ESME_RINVSCHED, rather than
//! sending at once what the client asked to send later.

use jiff::Timestamp;
use tern_core::short_message::ShortMessage;
use tern_core::validity::smpp_valid_until;
use tern_proto::smpp::{CommandStatus, DataSm, SubmitSm, Tlvs};

/// esm_class bit: the body starts with a user data header.
const UDHI: u8 = 0x40;

/// The fields of a submit_sm or data_sm a short message is made of.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub source_addr: &'a str,
    pub dest_addr_ton: u8,
    pub destination_addr: &'a str,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    /// short_message (empty for data_sm).
    pub short_message: &'a [u8],
    /// Empty when absent (always for data_sm).
    pub schedule_delivery_time: &'a str,
    /// Empty when absent (always for data_sm).
    pub validity_period: &'a str,
    pub tlvs: &'a Tlvs,
}

impl<'a> From<&'a SubmitSm> for Incoming<'a> {
    fn from(sm: &'a SubmitSm) -> Self {
        Incoming {
            source_addr: &sm.source_addr,
            dest_addr_ton: sm.dest_addr_ton,
            destination_addr: &sm.destination_addr,
            esm_class: sm.esm_class,
            registered_delivery: sm.registered_delivery,
            data_coding: sm.data_coding,
            short_message: &sm.short_message,
            schedule_delivery_time: &sm.schedule_delivery_time,
            validity_period: &sm.validity_period,
            tlvs: &sm.tlvs,
        }
    }
}

impl<'a> From<&'a DataSm> for Incoming<'a> {
    fn from(sm: &'a DataSm) -> Self {
        Incoming {
            source_addr: &sm.source_addr,
            dest_addr_ton: sm.dest_addr_ton,
            destination_addr: &sm.destination_addr,
            esm_class: sm.esm_class,
            registered_delivery: sm.registered_delivery,
            data_coding: sm.data_coding,
            short_message: &[],
            schedule_delivery_time: "",
            validity_period: "",
            tlvs: &sm.tlvs,
        }
    }
}

/// The destination in CM's `00` form (see the module's table).
pub fn destination(ton: u8, address: &str) -> Result<String, CommandStatus> {
    let address = address.trim();
    match ton {
        1 => {
            let digits = address.strip_prefix('+').unwrap_or(address);
            let digits = digits.strip_prefix("00").unwrap_or(digits);
            Ok(format!("00{digits}"))
        }
        0 => Ok(match address.strip_prefix('+') {
            Some(digits) => format!("00{digits}"),
            None => address.to_owned(),
        }),
        _ => Err(CommandStatus::ESME_RINVDSTTON),
    }
}

/// The concatenation header equivalent to SAR TLVs, `None` when there are none.
fn sar_header(tlvs: &Tlvs) -> Result<Option<Vec<u8>>, CommandStatus> {
    match (
        tlvs.sar_msg_ref_num,
        tlvs.sar_total_segments,
        tlvs.sar_segment_seqnum,
    ) {
        (None, None, None) => Ok(None),
        (Some(reference), Some(total), Some(seqnum)) => {
            if total == 0 || seqnum == 0 || seqnum > total {
                return Err(CommandStatus::ESME_RINVOPTPARAMVAL);
            }
            Ok(Some(match u8::try_from(reference) {
                Ok(reference) => vec![0x05, 0x00, 0x03, reference, total, seqnum],
                Err(_) => {
                    let [high, low] = reference.to_be_bytes();
                    vec![0x06, 0x08, 0x04, high, low, total, seqnum]
                }
            }))
        }
        _ => Err(CommandStatus::ESME_RMISSINGOPTPARAM),
    }
}

/// The short message a submit_sm or data_sm asks to send at `now`, or the status refusing it.
pub fn short_message(
    incoming: Incoming<'_>,
    now: Timestamp,
) -> Result<ShortMessage, CommandStatus> {
    let to = destination(incoming.dest_addr_ton, incoming.destination_addr)?;
    if !incoming.schedule_delivery_time.is_empty() {
        return Err(CommandStatus::ESME_RINVSCHED);
    }
    let valid_until = smpp_valid_until(incoming.validity_period, now)
        .map_err(|_| CommandStatus::ESME_RINVEXPIRY)?;
    let body: &[u8] = match &incoming.tlvs.message_payload {
        Some(_) if !incoming.short_message.is_empty() => {
            return Err(CommandStatus::ESME_RINVOPTPARAMVAL);
        }
        Some(payload) => payload,
        None => incoming.short_message,
    };
    let (udh, user_data) = if incoming.esm_class & UDHI != 0 {
        match body.first() {
            Some(&length) if usize::from(length) < body.len() => {
                let (udh, rest) = body.split_at(usize::from(length) + 1);
                (Some(udh.to_vec()), rest.to_vec())
            }
            // No room for the header it announces: tern-core refuses the empty body.
            _ => (Some(body.to_vec()), Vec::new()),
        }
    } else {
        (sar_header(incoming.tlvs)?, body.to_vec())
    };
    Ok(ShortMessage {
        from: incoming.source_addr.to_owned(),
        to: vec![to],
        data_coding: incoming.data_coding,
        user_data,
        udh,
        reference: incoming
            .tlvs
            .user_message_reference
            .map(|reference| reference.to_string()),
        valid_until,
        registered_delivery: incoming.registered_delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(destination_addr: &str, short_message: &[u8]) -> SubmitSm {
        SubmitSm {
            source_addr: "Tern".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: destination_addr.into(),
            short_message: short_message.to_vec(),
            ..SubmitSm::default()
        }
    }

    fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn destinations_become_cm_international_form() {
        assert_eq!(destination(1, "31612345678").unwrap(), "0031612345678");
        assert_eq!(destination(1, "+31612345678").unwrap(), "0031612345678");
        assert_eq!(destination(1, "0031612345678").unwrap(), "0031612345678");
        assert_eq!(destination(0, "+31612345678").unwrap(), "0031612345678");
        assert_eq!(destination(0, "0031612345678").unwrap(), "0031612345678");
        assert_eq!(
            destination(2, "0612345678"),
            Err(CommandStatus::ESME_RINVDSTTON)
        );
        assert_eq!(destination(5, "abc"), Err(CommandStatus::ESME_RINVDSTTON));
    }

    #[test]
    fn a_plain_submit_sm_keeps_its_octets() {
        let mut sm = submit("31612345678", &[0x00, 0x1B, 0x65]);
        sm.registered_delivery = 1;
        sm.tlvs.user_message_reference = Some(7);
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(
            message,
            ShortMessage {
                from: "Tern".into(),
                to: vec!["0031612345678".into()],
                data_coding: 0,
                user_data: vec![0x00, 0x1B, 0x65],
                udh: None,
                reference: Some("7".into()),
                valid_until: None,
                registered_delivery: 1,
            }
        );
    }

    #[test]
    fn a_udh_is_cut_from_the_front() {
        let mut sm = submit("31612345678", &[5, 0, 3, 0x2A, 3, 1, b'h', b'i']);
        sm.esm_class = 0x40;
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(message.udh, Some(vec![5, 0, 3, 0x2A, 3, 1]));
        assert_eq!(message.user_data, b"hi");
        // A header longer than the body leaves no user data, which tern-core refuses.
        sm.short_message = vec![9, 0, 3];
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(message.udh, Some(vec![9, 0, 3]));
        assert!(message.user_data.is_empty());
    }

    #[test]
    fn sar_tlvs_become_a_concatenation_header() {
        let mut sm = submit("31612345678", b"hi");
        sm.tlvs.sar_msg_ref_num = Some(0x2A);
        sm.tlvs.sar_total_segments = Some(3);
        sm.tlvs.sar_segment_seqnum = Some(2);
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(message.udh, Some(vec![5, 0, 3, 0x2A, 3, 2]));
        sm.tlvs.sar_msg_ref_num = Some(0x1234);
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(message.udh, Some(vec![6, 8, 4, 0x12, 0x34, 3, 2]));
        sm.tlvs.sar_segment_seqnum = Some(4);
        assert_eq!(
            short_message((&sm).into(), now()),
            Err(CommandStatus::ESME_RINVOPTPARAMVAL)
        );
        sm.tlvs.sar_segment_seqnum = None;
        assert_eq!(
            short_message((&sm).into(), now()),
            Err(CommandStatus::ESME_RMISSINGOPTPARAM)
        );
    }

    #[test]
    fn message_payload_is_the_body_when_sm_length_is_0() {
        let mut sm = submit("31612345678", b"");
        sm.tlvs.message_payload = Some(b"long".to_vec());
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(message.user_data, b"long");
        sm.short_message = b"x".to_vec();
        assert_eq!(
            short_message((&sm).into(), now()),
            Err(CommandStatus::ESME_RINVOPTPARAMVAL)
        );
        let data = DataSm {
            source_addr: "Tern".into(),
            dest_addr_ton: 1,
            destination_addr: "31612345678".into(),
            data_coding: 8,
            tlvs: Tlvs {
                message_payload: Some(vec![0, 0x41]),
                ..Tlvs::default()
            },
            ..DataSm::default()
        };
        let message = short_message((&data).into(), now()).unwrap();
        assert_eq!(message.user_data, [0, 0x41]);
        assert_eq!(message.data_coding, 8);
    }

    #[test]
    fn validity_and_schedule() {
        let mut sm = submit("31612345678", b"hi");
        sm.validity_period = "000001000000000R".into();
        let message = short_message((&sm).into(), now()).unwrap();
        assert_eq!(
            message.valid_until,
            Some("2026-03-02T12:00:00Z".parse().unwrap())
        );
        sm.validity_period = "garbage".into();
        assert_eq!(
            short_message((&sm).into(), now()),
            Err(CommandStatus::ESME_RINVEXPIRY)
        );
        sm.validity_period.clear();
        sm.schedule_delivery_time = "000001000000000R".into();
        assert_eq!(
            short_message((&sm).into(), now()),
            Err(CommandStatus::ESME_RINVSCHED)
        );
    }

    mod any_input {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever a client sends, reading it answers (a message or a status) and never
            /// panics; a UDH it announces is cut exactly.
            #[test]
            fn any_submit_sm_is_read_or_refused(
                ton in 0u8..8,
                destination in "[+0-9a-z]{0,20}",
                esm_class in any::<u8>(),
                body in proptest::collection::vec(any::<u8>(), 0..254),
                payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
                sar in proptest::option::of((any::<u16>(), any::<u8>(), any::<u8>())),
                validity in "[0-9R+-]{0,16}",
            ) {
                let mut sm = submit(&destination, &body);
                sm.dest_addr_ton = ton;
                sm.esm_class = esm_class;
                sm.validity_period = validity;
                sm.tlvs.message_payload = payload;
                if let Some((reference, total, seqnum)) = sar {
                    sm.tlvs.sar_msg_ref_num = Some(reference);
                    sm.tlvs.sar_total_segments = Some(total);
                    sm.tlvs.sar_segment_seqnum = Some(seqnum);
                }
                if let Ok(message) = short_message((&sm).into(), now()) {
                    let whole = sm.tlvs.message_payload.clone().unwrap_or(sm.short_message.clone());
                    if esm_class & 0x40 != 0 {
                        let udh = message.udh.clone().unwrap();
                        prop_assert_eq!([udh, message.user_data.clone()].concat(), whole);
                    } else {
                        prop_assert_eq!(message.user_data.clone(), whole);
                    }
                }
            }
        }
    }
}
