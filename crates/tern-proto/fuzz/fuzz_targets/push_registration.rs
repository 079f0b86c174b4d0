//! Reading what CM's app SDK posts from arbitrary bytes: the registration body, the events body,
//! the `cm` payload and the number normalisation never panic; a parsed registration renders back
//! to JSON that parses to the same registration, and a normalised number normalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::push_sdk::{CmPayload, DeviceEvent, Registration, normalise_msisdn};

fuzz_target!(|data: &[u8]| {
    if let Ok(registration) = Registration::parse(data) {
        let again = Registration::parse(registration.to_json().as_bytes())
            .expect("its own rendering parses");
        assert_eq!(again, registration);
    }
    if let Ok(event) = DeviceEvent::parse(data) {
        let _ = event.delivered();
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(payload) = CmPayload::parse(&text) {
        assert_eq!(CmPayload::parse(&payload.to_json()).as_ref(), Ok(&payload));
    }
    if let Some(number) = normalise_msisdn(&text) {
        assert_eq!(normalise_msisdn(&number).as_deref(), Some(number.as_str()));
    }
});
