//! The checks on RBM's webhooks: every event carries `X-Goog-Signature`, the base64 of the
//! HMAC-SHA512 of the envelope's **decoded** `data` under the agent's client token
//! ([`verify_signature`], compared in constant time; [`sign`] makes one, for the stand-in and
//! tests); the validation request is answered with its secret when its client token is ours
//! ([`validation_answer`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use subtle::ConstantTimeEq;

use super::webhook::{ValidationRequest, decode_base64};

type HmacSha512 = Hmac<Sha512>;

/// Whether `header` (the value of `X-Goog-Signature`) is the base64 HMAC-SHA512 of `data` (the
/// decoded event bytes) under `client_token`. Padded or unpadded base64 in either alphabet is
/// accepted; anything else, or a digest of the wrong length, is `false`. An empty token never
/// verifies.
pub fn verify_signature(client_token: &[u8], data: &[u8], header: &str) -> bool {
    if client_token.is_empty() {
        return false;
    }
    let Some(digest) = decode_base64(header) else {
        return false;
    };
    let mut mac = HmacSha512::new_from_slice(client_token).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.verify_slice(&digest).is_ok()
}

/// The `X-Goog-Signature` RBM would send with `data` (standard base64, padded).
pub fn sign(client_token: &[u8], data: &[u8]) -> String {
    let mut mac = HmacSha512::new_from_slice(client_token).expect("HMAC takes a key of any length");
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The body to answer a validation request with (status 200, the secret as plain text) when its
/// client token equals `client_token` (compared in constant time); `None` (answer 401 or 403)
/// otherwise, and always for an empty configured token.
pub fn validation_answer<'a>(
    request: &'a ValidationRequest,
    client_token: &str,
) -> Option<&'a str> {
    (!client_token.is_empty()
        && bool::from(
            request
                .client_token
                .as_bytes()
                .ct_eq(client_token.as_bytes()),
        ))
    .then_some(request.secret.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

    #[test]
    fn signatures_match_a_known_hmac_sha512() {
        // RFC 4231 test case 2: HMAC-SHA512(key "Jefe", "what do ya want for nothing?").
        let data = b"what do ya want for nothing?";
        let hex = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
        let digest: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let expected = STANDARD.encode(&digest);
        assert_eq!(sign(b"Jefe", data), expected);
        assert!(verify_signature(b"Jefe", data, &expected));
        assert!(verify_signature(b"Jefe", data, &format!(" {expected}\n")));
        assert!(verify_signature(
            b"Jefe",
            data,
            &STANDARD_NO_PAD.encode(&digest)
        ));
        assert!(verify_signature(
            b"Jefe",
            data,
            &URL_SAFE_NO_PAD.encode(&digest)
        ));
        assert!(!verify_signature(b"jefe", data, &expected));
        assert!(!verify_signature(b"Jefe", b"what do ya want", &expected));
        assert!(!verify_signature(b"Jefe", data, &expected[..40]));
        assert!(!verify_signature(b"Jefe", data, ""));
        assert!(!verify_signature(b"Jefe", data, "not base64 !"));
        assert!(!verify_signature(b"", data, &sign(b"", data)));
    }

    #[test]
    fn the_validation_request_is_answered_only_for_our_token() {
        let request = ValidationRequest {
            client_token: "SJENCPGJESMGUFPY".into(),
            secret: "1234567890".into(),
        };
        assert_eq!(
            validation_answer(&request, "SJENCPGJESMGUFPY"),
            Some("1234567890")
        );
        assert_eq!(validation_answer(&request, "SJENCPGJESMGUFPZ"), None);
        assert_eq!(validation_answer(&request, ""), None);
        let empty = ValidationRequest {
            client_token: String::new(),
            secret: "s".into(),
        };
        assert_eq!(validation_answer(&empty, ""), None);
    }
}
