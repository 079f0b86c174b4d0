//! [`RateStore`]: an account's rate is one bucket, refilled at the rate, never more than a
//! second's worth; on a shared store every node takes from the same bucket.

use std::num::NonZeroU32;

use jiff::SignedDuration;

use crate::harness::*;

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a rate")
}

#[tokio::test]
async fn a_bucket_holds_a_second_s_worth_and_refills_at_the_rate() {
    let backend = Backend::new();
    let store = backend.open();
    let account = account(&*store, None).await;
    let other = crate::harness::account(&*store, None).await;
    let at = now();
    let take = |parts: u32, when| {
        let store = store.clone();
        async move {
            store
                .take_rate(account.id, rate(10), parts, when)
                .await
                .expect("take")
        }
    };
    assert!(take(6, at).await);
    assert!(take(4, at).await);
    assert!(!take(1, at).await, "empty");
    // A refused take costs nothing; a tenth of a second refills one part.
    let later = at + SignedDuration::from_millis(100);
    assert!(take(1, later).await);
    assert!(!take(1, later).await);
    // Never more than a second's worth.
    let much_later = at + SignedDuration::from_secs(60);
    assert!(!take(11, much_later).await);
    assert!(take(10, much_later).await);
    // Another account has a bucket of its own.
    assert!(
        store
            .take_rate(other.id, rate(10), 10, at)
            .await
            .expect("take")
    );
}

#[tokio::test]
async fn nodes_of_a_shared_store_take_from_one_bucket() {
    if kind() == Kind::Sqlite {
        // One node: the data directory's lock keeps a second one out.
        return;
    }
    let backend = Backend::new();
    let a = backend.open_as("node-a");
    let b = backend.open_as("node-b");
    let account = account(&*a, None).await;
    let at = now();
    // 40 takes of one part at the same moment, from both nodes at once: exactly the rate fits.
    let takes = (0..40).map(|n| {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move {
            store
                .take_rate(account.id, rate(25), 1, at)
                .await
                .expect("take")
        })
    });
    let mut taken = 0;
    for take in takes.collect::<Vec<_>>() {
        if take.await.expect("joined") {
            taken += 1;
        }
    }
    assert_eq!(taken, 25);
}
