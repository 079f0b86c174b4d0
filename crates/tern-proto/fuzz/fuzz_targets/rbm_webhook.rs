//! Reading Google's RBM webhooks from arbitrary bytes: the body parser (validation request or
//! Pub/Sub envelope), the base64 decoding of `data`, the event parser and the reading of a user
//! message's content, the `X-Goog-Signature` check and the validation answer never panic; a
//! signature made with `sign` always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::rbm::{
    Event, WebhookBody, sign, validation_answer, verify_signature,
};

fuzz_target!(|data: &[u8]| {
    match WebhookBody::parse(data) {
        Ok(WebhookBody::Validation(request)) => {
            let _ = validation_answer(&request, "token");
            assert_eq!(
                validation_answer(&request, &request.client_token).is_some(),
                !request.client_token.is_empty()
            );
        }
        Ok(WebhookBody::Push(envelope)) => {
            if let Ok(decoded) = envelope.decoded_data() {
                read_event(&decoded);
            }
        }
        Err(_) => {}
    }
    read_event(data);
    // The first octet splits the rest into a token and the signed data; the header is
    // arbitrary text.
    let split = data.first().map_or(0, |&n| usize::from(n).min(data.len()));
    let (token, signed) = data.split_at(split);
    let header = String::from_utf8_lossy(signed);
    let _ = verify_signature(token, signed, &header);
    assert_eq!(
        verify_signature(token, signed, &sign(token, signed)),
        !token.is_empty()
    );
});

fn read_event(data: &[u8]) {
    if let Ok(event) = Event::parse(data) {
        let _ = event.message_id();
        if let Event::Message(message) = &event {
            let _ = message.content();
        }
    }
}
