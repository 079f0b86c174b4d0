//! Reading Meta's WhatsApp webhooks from arbitrary bytes: the notification parser, the reading of
//! each message's content, the signature check and the subscription handshake never panic; a
//! parsed notification renders back to JSON that parses to as many statuses and messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::whatsapp::{Notification, sign, verify_signature, verify_subscription};

fuzz_target!(|data: &[u8]| {
    if let Ok(notification) = Notification::parse(data) {
        for message in notification.messages() {
            let _ = message.content();
            let _ = message.timestamp_seconds();
        }
        for status in notification.statuses() {
            let _ = status.timestamp_seconds();
        }
        let json = serde_json::to_vec(&notification).expect("a notification serialises");
        let again = Notification::parse(&json).expect("its own rendering parses");
        assert_eq!(again.statuses().count(), notification.statuses().count());
        assert_eq!(again.messages().count(), notification.messages().count());
    }
    // The first octet splits the rest into a secret and a body; the header is arbitrary text.
    let split = data.first().map_or(0, |&n| usize::from(n).min(data.len()));
    let (secret, body) = data.split_at(split);
    let header = String::from_utf8_lossy(body);
    let _ = verify_signature(secret, body, &header);
    assert!(verify_signature(secret, body, &sign(secret, body)));
    let text = String::from_utf8_lossy(data);
    let mut words = text.split('&').filter_map(|pair| pair.split_once('='));
    let _ = verify_subscription(&mut words, "token");
});
