//! Whether a claimed message is still this node's to send. A claim leases a message for
//! `[dispatch] lease_secs`; on a shared store every lease of a node also ends once the node has
//! not said it is alive for `[cluster] lease_secs`. Past either, another claim may take the
//! message and send it (another node, or a cancel_sm that finds it no longer leased). A node that
//! was held up meanwhile (stopped, starved of CPU, cut off from the database, or simply waiting
//! behind a slow connector's rate) must then not send it as well: a message is handed to the
//! wire only while its [`Hold`] holds, asked by the dispatcher before each connector and by a
//! connector after its own waits (a rate, a window), right before it writes.
//!
//! A send must also be recorded before the lease ends, or the next claim sends the message again:
//! so a send begins only in the first two thirds of a lease ([`usable`]), which leaves the last
//! third for the channel's answer, for recording it, and for the clocks of the nodes to differ.
//! A node's leases ([`Tenure`]) run from one recorded heartbeat to the next; when a heartbeat is
//! recorded only after the leases could have been taken (the node was silent for a lease), a new
//! term begins and nothing claimed in the old one is held any more, even though the node is
//! alive again.
//!
//! What is left is the time between the last check and the bytes on the wire (microseconds,
//! unless the process stops exactly there), and a send whose outcome cannot be recorded because
//! the database went away right after it: the node that takes the message over sends it again.
//! No gateway can close that last one without the channel's help.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ports::{ConnectorError, ErrorOrigin};

/// The part of a lease in which a send may begin: the first two thirds.
pub fn usable(lease: Duration) -> Duration {
    lease - lease / 3
}

/// This node's leases on a shared store: they hold from the heartbeat that recorded them until
/// a lease after it, renewed by each heartbeat recorded in time.
#[derive(Debug)]
pub struct Tenure {
    lease: Duration,
    term: Mutex<Term>,
}

#[derive(Debug, Clone, Copy)]
struct Term {
    /// Counts the terms: a claim is held only within the term it was made in.
    number: u64,
    /// When the other nodes may take this node's leases: a lease after the start of the last
    /// heartbeat recorded. `None` before the first.
    ends: Option<Instant>,
}

impl Tenure {
    /// Leases of `lease` (`[cluster] lease_secs`); none held before the first heartbeat.
    pub fn new(lease: Duration) -> Tenure {
        Tenure {
            lease,
            term: Mutex::new(Term {
                number: 0,
                ends: None,
            }),
        }
    }

    /// A heartbeat begun at `started` was recorded. Begun while the leases still held with the
    /// other nodes' clocks a third of a lease ahead, it extends the term; begun later, a new
    /// term begins: the other nodes may have taken what was claimed before.
    pub fn recorded(&self, started: Instant) {
        let mut term = self.term.lock().expect("tenure lock");
        let in_time = term
            .ends
            .is_some_and(|ends| started + (self.lease - usable(self.lease)) < ends);
        if !in_time {
            term.number += 1;
        }
        term.ends = Some(started + self.lease);
    }

    /// The term claims made now belong to.
    pub fn term(&self) -> u64 {
        self.term.lock().expect("tenure lock").number
    }

    /// Whether a send claimed in term `number` may begin now.
    fn holds(&self, number: u64, now: Instant) -> bool {
        let term = *self.term.lock().expect("tenure lock");
        let margin = self.lease - usable(self.lease);
        term.number == number && term.ends.is_some_and(|ends| now + margin < ends)
    }
}

/// How long a claimed message is this node's to send. [`Hold::ALWAYS`] for one that no lease
/// limits (a test's, or a message handed over outside a claim).
#[derive(Debug, Clone, Default)]
pub struct Hold {
    /// The end of the part of the claim's lease in which a send may begin.
    until: Option<Instant>,
    /// The node's leases and the term of the claim, on a shared store.
    tenure: Option<(Arc<Tenure>, u64)>,
}

impl Hold {
    /// Held whatever the time.
    pub const ALWAYS: Hold = Hold {
        until: None,
        tenure: None,
    };

    /// A message claimed at `claimed` (just before the claim was asked for) for `lease`, by a
    /// node whose leases are `tenure` (on a shared store).
    pub fn claimed(claimed: Instant, lease: Duration, tenure: Option<&Arc<Tenure>>) -> Hold {
        Hold {
            until: Some(claimed + usable(lease)),
            tenure: tenure.map(|tenure| (Arc::clone(tenure), tenure.term())),
        }
    }

    /// Whether a send of the message may begin now.
    pub fn holds(&self) -> bool {
        self.holds_at(Instant::now())
    }

    fn holds_at(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now < until)
            && self
                .tenure
                .as_ref()
                .is_none_or(|(tenure, number)| tenure.holds(*number, now))
    }

    /// [`Hold::holds`] as a connector's error: what a connector answers when, after its own
    /// waits, the message is no longer its to send (the dispatcher then leaves it to the next
    /// claim, whatever the error says).
    pub fn ensure(&self) -> Result<(), ConnectorError> {
        if self.holds() {
            Ok(())
        } else {
            Err(ConnectorError::temporary(
                ErrorOrigin::Tern,
                None,
                "the message's lease ran short before it was sent",
            ))
        }
    }
}

/// Holds compare by what they allow: the same end, the same leases and term.
impl PartialEq for Hold {
    fn eq(&self, other: &Hold) -> bool {
        self.until == other.until
            && match (&self.tenure, &other.tenure) {
                (None, None) => true,
                (Some((a, m)), Some((b, n))) => Arc::ptr_eq(a, b) && m == n,
                _ => false,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_claim_holds_for_the_first_two_thirds_of_its_lease() {
        let start = Instant::now();
        let hold = Hold::claimed(start, 3 * SECOND, None);
        assert!(hold.holds_at(start));
        assert!(hold.holds_at(start + 1999 * SECOND / 1000));
        assert!(!hold.holds_at(start + 2 * SECOND));
        assert!(!hold.holds_at(start + 10 * SECOND));
        assert!(Hold::ALWAYS.holds_at(start + 1_000_000 * SECOND));
    }

    #[test]
    fn a_nodes_claims_hold_while_its_heartbeats_are_recorded_in_time() {
        let start = Instant::now();
        let tenure = Arc::new(Tenure::new(3 * SECOND));
        // Nothing is held before the first heartbeat.
        let early = Hold::claimed(start, 60 * SECOND, Some(&tenure));
        assert!(!early.holds_at(start));
        tenure.recorded(start);
        assert!(!early.holds_at(start), "claimed before the term began");
        let hold = Hold::claimed(start, 60 * SECOND, Some(&tenure));
        assert!(hold.holds_at(start + 1999 * SECOND / 1000));
        assert!(!hold.holds_at(start + 2 * SECOND), "no heartbeat since");
        // Heartbeats a second apart keep the term.
        for beat in 1..10 {
            tenure.recorded(start + beat * SECOND);
        }
        assert!(hold.holds_at(start + 10 * SECOND + SECOND / 2));
        assert!(!hold.holds_at(start + 11 * SECOND + SECOND / 2));
    }

    #[test]
    fn a_heartbeat_recorded_after_the_lease_could_be_taken_begins_a_new_term() {
        let start = Instant::now();
        let tenure = Arc::new(Tenure::new(3 * SECOND));
        tenure.recorded(start);
        let hold = Hold::claimed(start, 60 * SECOND, Some(&tenure));
        // Stalled for longer than a lease (less the clocks' margin): the others may have taken
        // the claim over, and the heartbeat that follows does not give it back.
        tenure.recorded(start + 2 * SECOND);
        assert!(!hold.holds_at(start + 2 * SECOND));
        let after = Hold::claimed(start + 2 * SECOND, 60 * SECOND, Some(&tenure));
        assert!(after.holds_at(start + 2 * SECOND));
        // Just in time: the same term.
        tenure.recorded(start + 3 * SECOND + 999 * SECOND / 1000);
        assert!(after.holds_at(start + 4 * SECOND));
    }

    #[test]
    fn a_hold_that_ran_short_is_a_temporary_error_of_tern() {
        let hold = Hold::claimed(Instant::now() - 10 * SECOND, 3 * SECOND, None);
        let error = hold.ensure().unwrap_err();
        assert_eq!(error.origin, ErrorOrigin::Tern);
        assert!(matches!(
            error.kind,
            crate::ports::ErrorKind::Temporary { retry_after: None }
        ));
        assert!(Hold::ALWAYS.ensure().is_ok());
    }
}
