//! Property tests for the SMS encoding module: round trips, part sizes, and the
//! agreement of counting (`plan_parts`) with splitting (`split`).

use proptest::prelude::*;
use proptest::sample::select;
use tern_proto::sms::{
    self, BodyType, EncodedText, Reassembler, Reassembly, SmsEncoding, gsm7, lookalike, ucs2,
};

/// Every character with a GSM form (137 of them).
fn gsm_chars() -> Vec<char> {
    let mut v: Vec<char> = gsm7::BASIC
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != usize::from(gsm7::ESCAPE))
        .map(|(_, &c)| c)
        .collect();
    v.extend(gsm7::EXTENSION.iter().map(|&(_, c)| c));
    v
}

fn gsm_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(select(gsm_chars()), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A character drawn from the classes that matter: plain ASCII, extension
/// characters, look-alike keys, other BMP scripts, characters outside the BMP.
fn mixed_char() -> impl Strategy<Value = char> {
    let ext: Vec<char> = gsm7::EXTENSION.iter().map(|&(_, c)| c).collect();
    let look: Vec<char> = lookalike::LOOKALIKES.iter().map(|&(c, _)| c).collect();
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => select(ext),
        2 => select(look),
        1 => select(gsm_chars()),
        1 => proptest::char::range('\u{0391}', '\u{044F}'),
        1 => proptest::char::range('\u{1F300}', '\u{1F64F}'),
        1 => any::<char>(),
    ]
}

fn mixed_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(mixed_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn options() -> impl Strategy<Value = (Option<BodyType>, Option<u8>)> {
    (
        select(vec![None, Some(BodyType::Auto), Some(BodyType::Text)]),
        select(vec![
            None,
            Some(0u8),
            Some(8),
            Some(0x18),
            Some(0xF0),
            Some(0xE0),
        ]),
    )
}

/// The checks every split must pass.
fn check_split(encoded: &EncodedText, reference: u16) -> Result<(), TestCaseError> {
    let enc = encoded.encoding();
    let parts = sms::split(encoded, reference);
    prop_assert_eq!(parts.len() as u32, encoded.parts());
    let joined: Vec<u8> = parts.iter().flat_map(|p| p.payload.clone()).collect();
    prop_assert_eq!(&joined[..], encoded.as_bytes());
    let opu = if enc == SmsEncoding::Ucs2 { 2 } else { 1 };
    if parts.len() == 1 {
        prop_assert!(parts[0].udh.is_empty());
        prop_assert!(parts[0].sar.is_none());
        prop_assert!(parts[0].payload.len() <= enc.single_part_units() as usize * opu);
    }
    for (i, p) in parts.iter().enumerate() {
        // Within 140 octets of TP-User-Data, header included.
        prop_assert!(
            p.tp_user_data_len(enc) <= 140,
            "part {} is {}",
            i,
            p.tp_user_data_len(enc)
        );
        prop_assert_eq!(p.tp_user_data(enc).len(), p.tp_user_data_len(enc));
        if parts.len() > 1 {
            prop_assert!(p.payload.len() <= enc.multipart_units() as usize * opu);
            let sar = p.sar.unwrap();
            prop_assert_eq!(sar.reference, reference);
            prop_assert_eq!(usize::from(sar.total), parts.len());
            prop_assert_eq!(usize::from(sar.sequence), i + 1);
            let expected_udh = match enc {
                SmsEncoding::Ucs2 => {
                    sms::concat_udh_16bit(reference, sar.total, sar.sequence).to_vec()
                }
                _ => sms::concat_udh_8bit(reference as u8, sar.total, sar.sequence).to_vec(),
            };
            prop_assert_eq!(&p.udh, &expected_udh);
            prop_assert!(!p.payload.is_empty());
        }
        // Never split an escape pair or a surrogate pair.
        match enc {
            SmsEncoding::Gsm7 if i + 1 < parts.len() => {
                // Count trailing escapes: an odd run means a pair was cut.
                let trailing = p.payload.iter().rev().take_while(|&&b| b == 0x1B).count();
                let starts_pair = {
                    // Parse the payload from its start: every escape takes the next septet.
                    let mut j = 0;
                    let mut cut = false;
                    while j < p.payload.len() {
                        if p.payload[j] == 0x1B {
                            if j + 1 == p.payload.len() {
                                cut = true;
                            }
                            j += 2;
                        } else {
                            j += 1;
                        }
                    }
                    cut
                };
                prop_assert!(
                    !starts_pair,
                    "escape cut at end of part {} ({} trailing)",
                    i,
                    trailing
                );
            }
            SmsEncoding::Ucs2 => {
                prop_assert!(p.payload.len() % 2 == 0);
                if let [.., hi, lo] = p.payload[..] {
                    prop_assert!(!ucs2::is_high_surrogate(u16::from_be_bytes([hi, lo])));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn gsm_round_trip_for_gsm_text(s in gsm_string(400)) {
        let septets = gsm7::encode(&s);
        prop_assert_eq!(gsm7::encode_strict(&s), Ok(septets.clone()));
        prop_assert_eq!(gsm7::decode(&septets), s.clone());
        prop_assert_eq!(septets.len(), gsm7::septet_count(&s));
        prop_assert!(gsm7::is_gsm_text(&s));
        prop_assert_eq!(sms::choose_encoding(&s, Some(BodyType::Auto), Some(8)), SmsEncoding::Gsm7);
    }

    #[test]
    fn gsm_lossy_encoding_is_stable(s in mixed_string(300)) {
        let septets = gsm7::encode(&s);
        let text = gsm7::decode(&septets);
        prop_assert!(gsm7::is_gsm_text(&text));
        prop_assert_eq!(gsm7::encode(&text), septets);
    }

    #[test]
    fn gsm_packed_round_trip(septets in prop::collection::vec(0u8..0x80, 0..400), fill in 0u8..7) {
        let packed = gsm7::pack(&septets, fill);
        prop_assert_eq!(packed.len(), gsm7::packed_len(septets.len(), fill));
        prop_assert_eq!(gsm7::unpack(&packed, fill, septets.len()), septets);
    }

    #[test]
    fn ucs2_round_trip(s in any::<String>()) {
        let bytes = ucs2::encode(&s);
        prop_assert_eq!(bytes.len(), 2 * ucs2::unit_count(&s));
        prop_assert_eq!(ucs2::decode(&bytes), s);
    }

    #[test]
    fn ucs2_round_trip_mixed(s in mixed_string(300)) {
        prop_assert_eq!(ucs2::decode(&ucs2::encode(&s)), s);
    }

    #[test]
    fn binary_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..600), lower in any::<bool>()) {
        let mut hex = sms::encode_hex(&bytes);
        if lower { hex = hex.to_lowercase(); }
        let e = EncodedText::encode(&hex, SmsEncoding::Binary8).unwrap();
        prop_assert_eq!(e.as_bytes(), &bytes[..]);
        let plan = sms::plan_parts(&hex, Some(BodyType::Binary), None).unwrap();
        prop_assert_eq!(plan.units as usize, bytes.len());
        prop_assert_eq!(plan.parts, e.parts());
        check_split(&e, 0xBEEF)?;
    }

    #[test]
    fn plan_agrees_with_split(s in mixed_string(1200), (body_type, dcs) in options(), reference in any::<u16>()) {
        let plan = sms::plan_parts(&s, body_type, dcs).unwrap();
        let encoded = EncodedText::encode(&s, plan.encoding).unwrap();
        prop_assert_eq!(plan.units, encoded.units());
        prop_assert_eq!(plan.parts as usize, sms::split(&encoded, reference).len());
        prop_assert_eq!(plan, encoded.plan());
        check_split(&encoded, reference)?;
        // Never fewer parts than the naive count; one extra at most per pair straddling a boundary.
        let per = plan.encoding.multipart_units();
        let naive = if plan.units <= plan.encoding.single_part_units() { 1 } else { plan.units.div_ceil(per) };
        prop_assert!(plan.parts >= naive);
        // Every part but the last holds at least per-1 units (one lost to an unsplit pair).
        if plan.parts > 1 {
            prop_assert!((plan.parts - 1) * (per - 1) < plan.units);
        }
    }

    #[test]
    fn plan_agrees_with_split_for_ascii(
        s in prop::collection::vec(
            prop_oneof![
                4 => proptest::char::range(' ', '~'),
                3 => select(vec!['{', '}', '[', ']', '\\', '^', '~', '|', '\u{0C}']),
                1 => proptest::char::range('\0', '\u{7F}'),
            ],
            0..1500,
        ).prop_map(|v| v.into_iter().collect::<String>()),
        (body_type, dcs) in options(),
    ) {
        let plan = sms::plan_parts(&s, body_type, dcs).unwrap();
        let encoded = EncodedText::encode(&s, plan.encoding).unwrap();
        prop_assert_eq!(plan, encoded.plan());
        prop_assert_eq!(plan.units as usize, encoded.as_bytes().len() / if plan.encoding == SmsEncoding::Ucs2 { 2 } else { 1 });
        check_split(&encoded, 0x0102)?;
        if plan.encoding == SmsEncoding::Gsm7 {
            prop_assert_eq!(gsm7::septet_count(&s), plan.units as usize);
        }
    }

    #[test]
    fn auto_picks_ucs2_exactly_when_a_character_is_not_gsm(s in mixed_string(200)) {
        let enc = sms::choose_encoding(&s, Some(BodyType::Auto), None);
        let all_gsm = s.chars().all(gsm7::is_gsm);
        prop_assert_eq!(enc, if all_gsm { SmsEncoding::Gsm7 } else { SmsEncoding::Ucs2 });
        // Whatever AUTO picks carries the text unchanged.
        let e = EncodedText::encode(&s, enc).unwrap();
        prop_assert_eq!(e.decode(), s);
    }

    #[test]
    fn part_counts_follow_the_table(n in 0usize..2500) {
        // No pairs: the count is exactly the table's.
        let gsm = "a".repeat(n);
        let expect = |single: usize, per: usize| if n <= single { 1 } else { n.div_ceil(per) } as u32;
        prop_assert_eq!(sms::plan_parts(&gsm, None, None).unwrap().parts, expect(160, 153));
        let ucs = "ж".repeat(n);
        prop_assert_eq!(sms::plan_parts(&ucs, Some(BodyType::Auto), None).unwrap().parts, expect(70, 66));
        let bin = "AB".repeat(n);
        prop_assert_eq!(sms::plan_parts(&bin, Some(BodyType::Binary), None).unwrap().parts, expect(140, 134));
    }

    #[test]
    fn reassembly_restores_any_split(
        s in mixed_string(1500),
        auto in any::<bool>(),
        reference in any::<u16>(),
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let body_type = if auto { Some(BodyType::Auto) } else { None };
        let plan = sms::plan_parts(&s, body_type, None).unwrap();
        prop_assume!(plan.parts <= 255);
        let encoded = EncodedText::encode(&s, plan.encoding).unwrap();
        let parts = sms::split(&encoded, reference);
        let mut sequence: Vec<Vec<u8>> = parts.iter().map(|p| p.short_message()).collect();
        for d in &dups { sequence.push(sequence[d.index(parts.len())].clone()); }
        for (i, o) in order.iter().enumerate() {
            let len = sequence.len();
            sequence.swap(i % len, o.index(len));
        }
        let mut r = Reassembler::default();
        let mut done = Vec::new();
        for sm in &sequence {
            let outcome = if parts.len() == 1 {
                Reassembly::Complete(sm.clone())
            } else {
                r.push_user_data("0031612345678", sm, 0).unwrap()
            };
            if let Reassembly::Complete(bytes) = outcome { done.push(bytes); }
        }
        // Complete exactly once per full set; a duplicate after completion opens a new partial.
        prop_assert!(!done.is_empty());
        prop_assert_eq!(&done[0], encoded.as_bytes());
        prop_assert_eq!(sms::decode_payload(plan.encoding, &done[0]), encoded.decode());

        // The same via SAR values.
        let mut r = Reassembler::default();
        let mut out = None;
        for p in parts.iter().rev() {
            let concat = p.sar.map(Into::into).unwrap_or(sms::ConcatInfo { reference, total: 1, sequence: 1 });
            if let Reassembly::Complete(b) = r.push("src", concat, &p.payload, 0).unwrap() { out = Some(b); }
        }
        prop_assert_eq!(out.as_deref(), Some(encoded.as_bytes()));
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = gsm7::decode(&bytes);
        let _ = ucs2::decode(&bytes);
        let _ = sms::parse_udh(&bytes);
        for fill in 0..8 { let _ = gsm7::unpack(&bytes, fill, 500); }
    }
}

/// The boundaries the issue names, with exact counts.
#[test]
fn boundary_table() {
    let a = |n: usize| "a".repeat(n);
    let zh = |n: usize| "ж".repeat(n);
    let cases: Vec<(String, Option<BodyType>, SmsEncoding, u32, u32)> = vec![
        (a(159), None, SmsEncoding::Gsm7, 159, 1),
        (a(160), None, SmsEncoding::Gsm7, 160, 1),
        (a(161), None, SmsEncoding::Gsm7, 161, 2),
        (a(306), None, SmsEncoding::Gsm7, 306, 2),
        (a(307), None, SmsEncoding::Gsm7, 307, 3),
        (zh(70), Some(BodyType::Auto), SmsEncoding::Ucs2, 70, 1),
        (zh(71), Some(BodyType::Auto), SmsEncoding::Ucs2, 71, 2),
        (zh(132), Some(BodyType::Auto), SmsEncoding::Ucs2, 132, 2),
        (zh(133), Some(BodyType::Auto), SmsEncoding::Ucs2, 133, 3),
        // Escape pair at the 160 boundary: 159 + 2 septets = 161, two parts.
        (
            format!("{}€", a(159)),
            Some(BodyType::Auto),
            SmsEncoding::Gsm7,
            161,
            2,
        ),
        (
            format!("{}€", a(158)),
            Some(BodyType::Auto),
            SmsEncoding::Gsm7,
            160,
            1,
        ),
        // Escape pair straddling the 153 boundary of part 1: moves to part 2.
        (
            format!("{}{{{}", a(152), a(152)),
            None,
            SmsEncoding::Gsm7,
            306,
            3,
        ),
        (
            format!("{}{{{}", a(151), a(153)),
            None,
            SmsEncoding::Gsm7,
            306,
            2,
        ),
        // Surrogate pair at the 70 boundary and straddling the 66 boundary.
        (
            format!("{}😀", zh(68)),
            Some(BodyType::Auto),
            SmsEncoding::Ucs2,
            70,
            1,
        ),
        (
            format!("{}😀", zh(69)),
            Some(BodyType::Auto),
            SmsEncoding::Ucs2,
            71,
            2,
        ),
        (
            format!("{}😀{}", zh(65), zh(65)),
            Some(BodyType::Auto),
            SmsEncoding::Ucs2,
            132,
            3,
        ),
        (
            format!("{}😀{}", zh(64), zh(66)),
            Some(BodyType::Auto),
            SmsEncoding::Ucs2,
            132,
            2,
        ),
        // Default encoding: look-alikes count as what they become.
        (format!("{}…", a(157)), None, SmsEncoding::Gsm7, 160, 1),
        (format!("{}…", a(158)), None, SmsEncoding::Gsm7, 161, 2),
        (format!("{}ç", a(159)), None, SmsEncoding::Gsm7, 160, 1),
    ];
    for (text, body_type, encoding, units, parts) in cases {
        let plan = sms::plan_parts(&text, body_type, None).unwrap();
        assert_eq!(
            (plan.encoding, plan.units, plan.parts),
            (encoding, units, parts),
            "{} chars",
            text.chars().count()
        );
        let e = EncodedText::encode(&text, encoding).unwrap();
        assert_eq!(sms::split(&e, 1).len() as u32, parts);
    }
}
