//! Encode + count + split throughput: the work done for every accepted recipient.
//!
//! Run: `cargo bench -p tern-proto --bench sms`. Each benchmark plans the parts
//! (choose encoding and count, no allocation), encodes, and splits with a UDH.

use divan::{Bencher, black_box};
use tern_proto::sms::{self, BodyType, EncodedText};

fn main() {
    divan::main();
}

fn gsm_160() -> String {
    // 160 septets with two extension characters: one part.
    let base = "Your code is 123456. Use it within 10 minutes {do not share}. Questions? Reply HELP or call us; we are happy to help @ any time of day, or night!!";
    let mut s = base.to_owned();
    while sms::gsm7::septet_count(&s) < 160 {
        s.push('.');
    }
    assert_eq!(sms::gsm7::septet_count(&s), 160);
    s
}

fn ucs2_70() -> String {
    let s: String = "Κείμενο διαθέσιμο σε όλες τις γλώσσες, Привет мир! "
        .chars()
        .cycle()
        .take(70)
        .collect();
    assert_eq!(sms::ucs2::unit_count(&s), 70);
    s
}

fn gsm_1000() -> String {
    "Lorem ipsum dolor sit amet, [consectetur] adipiscing elit. "
        .chars()
        .cycle()
        .take(1000)
        .collect()
}

fn run(bencher: Bencher, content: String, body_type: Option<BodyType>, expected_parts: u32) {
    let plan = sms::plan_parts(&content, body_type, None).unwrap();
    assert_eq!(plan.parts, expected_parts);
    bencher
        .counter(divan::counter::ItemsCount::new(expected_parts))
        .bench(|| {
            let content = black_box(content.as_str());
            let plan = sms::plan_parts(content, body_type, None).unwrap();
            let encoded = EncodedText::encode(content, plan.encoding).unwrap();
            let parts = sms::split(&encoded, black_box(0x1234));
            debug_assert_eq!(parts.len() as u32, plan.parts);
            parts
        });
}

/// 160-character GSM message, `body.type` AUTO: 1 part.
#[divan::bench]
fn gsm_160_chars(bencher: Bencher) {
    run(bencher, gsm_160(), Some(BodyType::Auto), 1);
}

/// 70-character UCS2 message (Greek/Cyrillic), AUTO: 1 part.
#[divan::bench]
fn ucs2_70_chars(bencher: Bencher) {
    run(bencher, ucs2_70(), Some(BodyType::Auto), 1);
}

/// 1000-character GSM message with extension characters, AUTO: multipart.
#[divan::bench]
fn gsm_1000_chars_multipart(bencher: Bencher) {
    let parts = sms::plan_parts(&gsm_1000(), Some(BodyType::Auto), None)
        .unwrap()
        .parts;
    run(bencher, gsm_1000(), Some(BodyType::Auto), parts);
}

/// 1000-character UCS2 message, AUTO: multipart.
#[divan::bench]
fn ucs2_1000_chars_multipart(bencher: Bencher) {
    let content: String = ucs2_70().chars().cycle().take(1000).collect();
    let parts = sms::plan_parts(&content, Some(BodyType::Auto), None)
        .unwrap()
        .parts;
    run(bencher, content, Some(BodyType::Auto), parts);
}

/// Counting alone (the `parts` field and billing), 160-character GSM.
#[divan::bench]
fn plan_only_gsm_160(bencher: Bencher) {
    let content = gsm_160();
    bencher.bench(|| sms::plan_parts(black_box(&content), Some(BodyType::Auto), None).unwrap());
}

/// Counting alone, default encoding (look-alike substitution path), 160 characters.
#[divan::bench]
fn plan_only_default_160(bencher: Bencher) {
    let content = gsm_160();
    bencher.bench(|| sms::plan_parts(black_box(&content), None, None).unwrap());
}

/// Encoding alone, 160-character GSM with extension characters.
#[divan::bench]
fn encode_only_gsm_160(bencher: Bencher) {
    let content = gsm_160();
    bencher.bench(|| EncodedText::encode(black_box(&content), sms::SmsEncoding::Gsm7).unwrap());
}

/// Splitting alone, 1000-character GSM (7 parts, escape pairs present).
#[divan::bench]
fn split_only_gsm_1000(bencher: Bencher) {
    let e = EncodedText::encode(&gsm_1000(), sms::SmsEncoding::Gsm7).unwrap();
    bencher.bench(|| sms::split(black_box(&e), 1));
}
