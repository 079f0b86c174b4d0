//! What providers and clients send back that the other targets do not cover, from arbitrary
//! bytes: the answers of Meta's Graph API, Google's RBM and FCM APIs and Google's token endpoint
//! (success and error bodies, FCM's error codes), a Google service-account file, the conversion
//! endpoint's JSON and XML bodies and the GET interface's pairs, SMPP time fields, user data
//! headers and hex bodies. None may panic; an SMPP time read renders to a field that reads back
//! to the same time, and hex read renders back to the same octets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::{cm, fcm, google_auth, rbm, smpp, sms, whatsapp};

fuzz_target!(|data: &[u8]| {
    let _ = whatsapp::SendResponse::parse(data);
    let _ = whatsapp::ErrorResponse::parse(data);
    let _ = rbm::SendResponse::parse(data);
    let _ = rbm::ErrorResponse::parse(data);
    let _ = fcm::SendResponse::parse(data);
    let _ = fcm::ErrorResponse::parse(data);
    let _ = fcm::response::describe(data);
    let _ = google_auth::TokenResponse::parse(data);
    let _ = google_auth::OAuthError::parse(data);
    let _ = google_auth::ServiceAccount::parse(data);
    let _ = cm::conversion::parse_json(data);
    let _ = sms::parse_udh(data);
    let text = String::from_utf8_lossy(data);
    let _ = fcm::FcmErrorCode::parse(&text);
    let _ = cm::conversion::parse_xml(&text);
    let pairs: Vec<(String, String)> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let _ = cm::get::parse_submit(&pairs);
    if let Ok(Some(time)) = smpp::parse_time(&text) {
        let field = time.to_field();
        assert_eq!(
            smpp::parse_time(&field),
            Ok(Some(time)),
            "{text:?} read as {time:?}, rendered {field:?}"
        );
    }
    if let Some(octets) = sms::decode_hex(&text) {
        let again = sms::decode_hex(&sms::encode_hex(&octets));
        assert_eq!(again.as_deref(), Some(octets.as_slice()));
    }
});
