//! The per-account rate of `--smpp-rate`: submitted parts per second, across all of an account's
//! binds. A token bucket per account holding at most one second's worth of parts, refilled
//! continuously; a submission whose parts do not fit is refused (ESME_RTHROTTLED) and costs
//! nothing. The parts are taken before the submission is judged, so a submission tern-core then
//! refuses still counts (the rate bounds what a client asks for, not only what is sent). Kept
//! apart from the connection so that every bind of an account draws on one bucket.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Instant;

use tern_core::account::AccountId;
use tern_core::rate::TokenBucket;

/// The buckets of the accounts that have a rate.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<AccountId, TokenBucket>>,
}

impl Throttle {
    /// Takes `parts` from `account`'s bucket of `rate` parts per second at `now`; `false`
    /// (nothing taken) when they do not fit.
    pub fn try_take(&self, account: AccountId, rate: NonZeroU32, parts: u32, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("throttle lock");
        buckets
            .entry(account)
            .or_insert_with(|| TokenBucket::new(rate.get(), now))
            .try_take(parts, now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_second_s_worth_then_the_refill() {
        let throttle = Throttle::default();
        let rate = NonZeroU32::new(3).unwrap();
        let start = Instant::now();
        assert!(throttle.try_take(1, rate, 2, start));
        assert!(throttle.try_take(1, rate, 1, start));
        assert!(!throttle.try_take(1, rate, 1, start));
        // Another account has its own bucket.
        assert!(throttle.try_take(2, rate, 3, start));
        // A third of a second refills one part.
        let later = start + Duration::from_millis(340);
        assert!(throttle.try_take(1, rate, 1, later));
        assert!(!throttle.try_take(1, rate, 1, later));
        // Never more than a second's worth.
        let much_later = start + Duration::from_secs(60);
        assert!(!throttle.try_take(1, rate, 4, much_later));
        assert!(throttle.try_take(1, rate, 3, much_later));
    }
}
