//! The checks on Meta's webhooks: a POST carries `X-Hub-Signature-256: sha256=<hex>`, the
//! HMAC-SHA256 of the raw body under the app secret ([`verify_signature`], compared in constant
//! time); a GET subscribes the endpoint with `hub.mode=subscribe`, `hub.verify_token` and
//! `hub.challenge` ([`verify_subscription`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The header's prefix before the hex digest.
const SIGNATURE_PREFIX: &str = "sha256=";

/// Whether `header` (the value of `X-Hub-Signature-256`) is `sha256=` and the hex HMAC-SHA256
/// of `body` under `app_secret`. Hex digits of either case are accepted; anything else, a
/// missing prefix or a digest of the wrong length is `false`.
pub fn verify_signature(app_secret: &[u8], body: &[u8], header: &str) -> bool {
    let header = header.trim();
    let Some(hex) = header
        .get(..SIGNATURE_PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(SIGNATURE_PREFIX))
        .map(|_| &header[SIGNATURE_PREFIX.len()..])
    else {
        return false;
    };
    let Some(digest) = decode_hex(hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

/// The `X-Hub-Signature-256` value Meta would send with `body` (for the stand-in and tests).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut header = String::with_capacity(SIGNATURE_PREFIX.len() + 64);
    header.push_str(SIGNATURE_PREFIX);
    for byte in digest {
        header.push_str(&format!("{byte:02x}"));
    }
    header
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// The answer to a subscription GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// Respond 200 with `challenge` as the raw body.
    Accept { challenge: String },
    /// Respond 403.
    Refuse,
}

/// Decide a subscription GET from its query parameters (already percent-decoded, in any order;
/// the first of a repeated name counts): accepted when `hub.mode` is `subscribe`,
/// `hub.verify_token` equals `verify_token` (compared in constant time) and `hub.challenge` is
/// present.
pub fn verify_subscription<'a>(
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    verify_token: &str,
) -> Subscription {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (name, value) in query {
        let slot = match name {
            "hub.mode" => &mut mode,
            "hub.verify_token" => &mut token,
            "hub.challenge" => &mut challenge,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    match (mode, token, challenge) {
        (Some("subscribe"), Some(token), Some(challenge))
            if !verify_token.is_empty()
                && bool::from(token.as_bytes().ct_eq(verify_token.as_bytes())) =>
        {
            Subscription::Accept {
                challenge: challenge.to_owned(),
            }
        }
        _ => Subscription::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_a_known_hmac() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") (RFC 4231 style vector).
        let body = b"The quick brown fox jumps over the lazy dog";
        let expected = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(sign(b"key", body), expected);
        assert!(verify_signature(b"key", body, expected));
        assert!(verify_signature(b"key", body, &expected.to_uppercase()));
        assert!(verify_signature(b"key", body, &format!(" {expected} ")));
        assert!(!verify_signature(b"other", body, expected));
        assert!(!verify_signature(b"key", b"the quick", expected));
        assert!(!verify_signature(b"key", body, &expected[7..]));
        assert!(!verify_signature(b"key", body, &expected[..70]));
        assert!(!verify_signature(b"key", body, "sha1=f7bc"));
        assert!(!verify_signature(b"key", body, ""));
        assert!(!verify_signature(b"key", body, "sha256=é"));
    }

    #[test]
    fn subscriptions_need_mode_token_and_challenge() {
        let query = [
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "secret"),
            ("hub.challenge", "1158201444"),
        ];
        assert_eq!(
            verify_subscription(query, "secret"),
            Subscription::Accept {
                challenge: "1158201444".into()
            }
        );
        assert_eq!(verify_subscription(query, "other"), Subscription::Refuse);
        assert_eq!(verify_subscription(query, ""), Subscription::Refuse);
        assert_eq!(
            verify_subscription([("hub.mode", "unsubscribe"), query[1], query[2]], "secret"),
            Subscription::Refuse
        );
        assert_eq!(
            verify_subscription([query[0], query[1]], "secret"),
            Subscription::Refuse
        );
    }
}
