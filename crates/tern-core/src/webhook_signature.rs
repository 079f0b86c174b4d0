//! Signed webhooks: the secrets an account's webhooks are signed with, and the one signing
//! function every status report and inbound POST goes through. It exists apart from the senders
//! so that the rule (`v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`, both secrets
//! during a rotation's overlap) lives in one place, without I/O, and is tested against a fixed
//! vector that receivers can check their own code against.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

/// The header carrying the Unix time (seconds) a POST was signed at.
pub const TIMESTAMP_HEADER: &str = "x-tern-timestamp";
/// The header carrying the signatures: `v1=<hex>`, or `v1=<new>,v1=<old>` during a rotation.
pub const SIGNATURE_HEADER: &str = "x-tern-signature";

/// Shortest secret accepted from an operator.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest secret accepted from an operator.
pub const MAX_SECRET_LEN: usize = 255;

/// A webhook signing secret: 16 to 255 printable ASCII characters without spaces. Kept in the
/// store as it is (the gateway needs the secret itself to sign), never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

/// Text that cannot be a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a webhook secret is {MIN_SECRET_LEN} to {MAX_SECRET_LEN} printable ASCII characters without spaces"
)]
pub struct InvalidWebhookSecret;

impl WebhookSecret {
    /// A fresh random secret: 64 hexadecimal digits (244 random bits).
    pub fn generate() -> WebhookSecret {
        let (first, second) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        WebhookSecret(format!("{}{}", first.simple(), second.simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WebhookSecret {
    type Err = InvalidWebhookSecret;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| WebhookSecret(text.to_owned()))
            .ok_or(InvalidWebhookSecret)
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// The secrets an account's webhooks are signed with: the current one, and the one it replaced
/// with the time it was replaced (which also signs for the rotation's overlap).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookSecrets {
    /// `None` only for an account read from a store that has none (webhooks go unsigned).
    pub current: Option<WebhookSecret>,
    pub previous: Option<(WebhookSecret, Timestamp)>,
}

impl WebhookSecrets {
    /// Only `secret`.
    pub fn new(secret: WebhookSecret) -> WebhookSecrets {
        WebhookSecrets {
            current: Some(secret),
            previous: None,
        }
    }

    /// `new` in place of the current secret at `now`; the current one becomes the previous.
    pub fn rotated(&self, new: WebhookSecret, now: Timestamp) -> WebhookSecrets {
        WebhookSecrets {
            current: Some(new),
            previous: self.current.clone().map(|old| (old, now)),
        }
    }

    /// The secrets that sign at `now`: the current one, then the previous while less than
    /// `overlap` has passed since it was replaced.
    pub fn signing(&self, now: Timestamp, overlap: SignedDuration) -> Vec<&WebhookSecret> {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, replaced)| now.duration_since(*replaced) < overlap)
            .map(|(secret, _)| secret);
        self.current.iter().chain(previous).collect()
    }
}

/// The hex HMAC-SHA256 of `timestamp + "." + body` under `secret`.
pub fn sign(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    let mut signature = String::with_capacity(64);
    push_signature(&mut signature, secret, &timestamp.to_string(), body);
    signature
}

/// Append [`sign`]'s hex digits to `out` (`timestamp` in decimal). Every status report and
/// inbound POST is signed on the delivery path: one buffer, no string per byte.
fn push_signature(out: &mut String, secret: &WebhookSecret, timestamp: &str, body: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_str().as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    for byte in mac.finalize().into_bytes() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
}

/// The `X-Tern-Signature` value: `v1=<signature>` for each of `secrets`, comma-separated;
/// `None` without secrets (the webhook goes unsigned).
pub fn signature_header(secrets: &[&WebhookSecret], timestamp: i64, body: &[u8]) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let timestamp = timestamp.to_string();
    let mut header = String::with_capacity(secrets.len() * 68);
    for (index, secret) in secrets.iter().enumerate() {
        if index > 0 {
            header.push(',');
        }
        header.push_str("v1=");
        push_signature(&mut header, secret, &timestamp, body);
    }
    Some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> WebhookSecret {
        text.parse().unwrap()
    }

    #[test]
    fn signs_a_fixed_vector() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec-test-0123456789'
        assert_eq!(
            sign(
                &secret("whsec-test-0123456789"),
                1_700_000_000,
                br#"{"a":1}"#
            ),
            "ba8ec7f38c4e076a99176a1bf98ae9f2f3f4e18412b46a5913ddcf5685932c6a"
        );
    }

    #[test]
    fn a_header_carries_each_signing_secret_newest_first() {
        let new = secret("new-secret-0123456789");
        let old = secret("old-secret-0123456789");
        let header = signature_header(&[&new, &old], 42, b"body").unwrap();
        assert_eq!(
            header,
            format!(
                "v1={},v1={}",
                sign(&new, 42, b"body"),
                sign(&old, 42, b"body")
            )
        );
        assert_eq!(signature_header(&[], 42, b"body"), None);
        assert_ne!(sign(&new, 42, b"body"), sign(&new, 43, b"body"));
        assert_ne!(sign(&new, 42, b"body"), sign(&new, 42, b"bodx"));
    }

    #[test]
    fn the_previous_secret_signs_only_during_the_overlap() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let secrets = WebhookSecrets::new(secret("old-secret-0123456789"))
            .rotated(secret("new-secret-0123456789"), at);
        let overlap = SignedDuration::from_hours(24);
        let names = |now: Timestamp| -> Vec<String> {
            secrets
                .signing(now, overlap)
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect()
        };
        assert_eq!(
            names(at + SignedDuration::from_hours(23)),
            ["new-secret-0123456789", "old-secret-0123456789"]
        );
        assert_eq!(
            names(at + SignedDuration::from_hours(24)),
            ["new-secret-0123456789"]
        );
        assert!(WebhookSecrets::default().signing(at, overlap).is_empty());
    }

    #[test]
    fn secrets_are_checked_generated_and_never_shown() {
        assert!("short".parse::<WebhookSecret>().is_err());
        assert!("has a space in it, sadly".parse::<WebhookSecret>().is_err());
        assert!("x".repeat(256).parse::<WebhookSecret>().is_err());
        let generated = WebhookSecret::generate();
        assert_eq!(generated.as_str().len(), 64);
        assert!(generated.as_str().parse::<WebhookSecret>().is_ok());
        assert_ne!(generated, WebhookSecret::generate());
        assert_eq!(format!("{generated:?}"), "WebhookSecret(…)");
    }
}
