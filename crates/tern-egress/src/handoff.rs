//! A runner's side of work a store hands it straight from the transactions that write it
//! (fresh outbox entries to the webhook runner, [`tern_core::ports::OutboxStore::hand_fresh_entries`];
//! fresh messages to the dispatcher, [`tern_core::ports::IntakeStore::hand_fresh_messages`]):
//! the items handed and not yet started, in the order they came, the runner's room for them,
//! and the wake-up that says there are some. Written already leased to this node, a handed
//! item costs no claim; one that waited past the usable part of its lease
//! ([`tern_core::hold::usable`]) is not started: it stays leased in the store, and a claim takes
//! it once its lease ends, so that nothing is ever out twice at once. One type for both
//! runners, so that the rules of room and staleness live in one place.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use tokio::sync::Notify;

/// While handed items wait, a runner still claims at least this often (for retries, and for
/// what was written while it had no room).
pub const CLAIM_EVERY: Duration = Duration::from_millis(250);

/// Items handed to a runner (see the module's comment). Room is counted in items the runner
/// holds: handed and waiting, started and not yet recorded, or reserved by the store for a
/// transaction not yet durable.
pub struct Handoff<T> {
    lease: SignedDuration,
    /// How long after its lease began an item may still be started.
    usable: Duration,
    room: AtomicUsize,
    /// Items held: handed and waiting, started, or reserved.
    taken: AtomicUsize,
    handed: Mutex<VecDeque<(Instant, T)>>,
    /// Items were handed.
    pub arrived: Notify,
    /// The runner stopped: it takes nothing more.
    closed: AtomicBool,
}

impl<T> Handoff<T> {
    /// Room for `room` items leased for `lease`.
    pub fn new(lease: SignedDuration, room: usize) -> Handoff<T> {
        let lease_time = Duration::try_from(lease).unwrap_or(Duration::ZERO);
        Handoff {
            lease,
            usable: tern_core::hold::usable(lease_time),
            room: AtomicUsize::new(room),
            taken: AtomicUsize::new(0),
            handed: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// The lease handed items are written under.
    pub fn lease(&self) -> SignedDuration {
        self.lease
    }

    /// Room for `room` items from now on (what is held beyond it stays held).
    pub fn set_room(&self, room: usize) {
        self.room.store(room, Ordering::Release);
    }

    /// Items held now.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }

    /// `count` more items held (claimed ones).
    pub fn take(&self, count: usize) {
        self.taken.fetch_add(count, Ordering::AcqRel);
    }

    /// `count` items no longer held (finished and recorded, left for a claim, or reservations
    /// given back).
    pub fn release(&self, count: usize) {
        if count > 0 {
            self.taken.fetch_sub(count, Ordering::AcqRel);
        }
    }

    /// Room for one more item now: reserve it (`false`: none, or the runner stopped).
    pub fn reserve(&self) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let room = self.room.load(Ordering::Acquire);
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < room).then_some(taken + 1)
            })
            .is_ok()
    }

    /// Items written on reservations, durably, leased from no earlier than `leased_from`.
    pub fn push(&self, items: impl IntoIterator<Item = T>, leased_from: Instant) {
        self.handed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(items.into_iter().map(|item| (leased_from, item)));
        self.arrived.notify_one();
    }

    /// The next handed item that may still be started, with when its lease began at the
    /// earliest; those that waited too long are left to a claim on the way (their room given
    /// back).
    pub fn next(&self) -> Option<(Instant, T)> {
        let mut handed = self
            .handed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((leased_from, item)) = handed.pop_front() {
            if leased_from.elapsed() < self.usable {
                return Some((leased_from, item));
            }
            tracing::debug!(
                "a handed item waited past its lease's usable part; left for a claim when the lease ends"
            );
            self.release(1);
        }
        None
    }

    /// Whether handed items wait.
    pub fn waiting(&self) -> bool {
        !self
            .handed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
    }

    /// The runner stops: nothing more is reserved. Items handed from now on stay leased: claimed
    /// again when their lease ends, or after a restart releases this node's leases.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handoff_holds_its_room_and_hands_items_in_order() {
        let handoff: Handoff<u32> = Handoff::new(SignedDuration::from_secs(60), 10);
        for _ in 0..10 {
            assert!(handoff.reserve());
        }
        assert!(!handoff.reserve());
        handoff.release(1);
        assert!(handoff.reserve());
        // Claimed items count too; recorded ones give their room back.
        handoff.release(2);
        handoff.take(1);
        assert!(handoff.reserve());
        assert!(!handoff.reserve());
        // Less room: nothing more until enough is given back.
        handoff.set_room(8);
        handoff.release(2);
        assert!(!handoff.reserve());
        handoff.release(1);
        assert!(handoff.reserve());
        let now = Instant::now();
        handoff.push([1, 2], now);
        handoff.push([3], now);
        assert!(handoff.waiting());
        let items: Vec<u32> = std::iter::from_fn(|| handoff.next())
            .map(|(_, item)| item)
            .collect();
        assert_eq!(items, vec![1, 2, 3]);
        assert!(!handoff.waiting());
        handoff.close();
        handoff.release(8);
        assert_eq!(handoff.taken(), 0);
        assert!(!handoff.reserve(), "a stopped runner takes nothing");
    }

    #[test]
    fn an_item_that_waited_past_its_lease_s_usable_part_is_left_for_a_claim() {
        let handoff: Handoff<u32> = Handoff::new(SignedDuration::from_millis(300), 2);
        assert!(handoff.reserve() && handoff.reserve());
        handoff.push([1], Instant::now());
        std::thread::sleep(Duration::from_millis(250));
        let later = Instant::now();
        handoff.push([2], later);
        // The first waited 250 ms of a 300 ms lease (200 usable): not started, its room given
        // back.
        assert_eq!(handoff.next(), Some((later, 2)));
        assert_eq!(handoff.taken(), 1);
    }
}
