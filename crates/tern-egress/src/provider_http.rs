//! What every connector to a provider's HTTP API (WhatsApp, RBM, FCM) needs the same way: a
//! request rate shared by all its sends ([`Pacer`]), and the wait a provider asks for in a
//! `Retry-After` header ([`retry_after`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tern_core::rate::TokenBucket;

/// At most a rate of requests per second, over every send of one connector: a send waits its
/// turn ([`Pacer::pace`]), so that callers waiting in turn are spaced at the rate.
pub struct Pacer {
    bucket: Mutex<TokenBucket>,
}

impl Pacer {
    /// `per_sec` requests a second (at least 1).
    pub fn new(per_sec: u32) -> Pacer {
        Pacer {
            bucket: Mutex::new(TokenBucket::new(per_sec, Instant::now())),
        }
    }

    /// Wait until one more request is allowed.
    pub async fn pace(&self) {
        let wait = self
            .bucket
            .lock()
            .expect("bucket lock")
            .take_or_wait(1, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A `Retry-After` in seconds, when the answer has one (an HTTP date is not honoured: the
/// default backoff applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_only() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn sends_past_the_rate_wait_their_turn() {
        let pacer = Pacer::new(20);
        let start = Instant::now();
        // A full second's worth goes at once; the next five wait about 50 ms each.
        for _ in 0..25 {
            pacer.pace().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}
