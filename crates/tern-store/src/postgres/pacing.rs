//! Intake before delivery on one database: while submissions press (intake's group commit keeps
//! finding many requests waiting), this node's claims of new work (due messages, outbox entries)
//! run one at a time and only within a small share of the wall clock, as the SQLite writer's
//! pacing does for its background writes. Intake and delivery share one PostgreSQL server; a
//! burst of submissions is then taken in first, and delivery, slower meanwhile, catches up once
//! the burst ends. Only claims wait: what a claim took is recorded (outcomes, reports, finished
//! entries) as soon as it is known, so that a node that stops loses no more than without pacing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The share of the wall clock this node's claims get while intake presses.
const CLAIM_SHARE: f64 = 0.05;

/// Intake presses when one of its transactions takes at least this many requests...
const PRESSING_REQUESTS: usize = 8;

/// ...or at least this many messages.
const PRESSING_MESSAGES: usize = 64;

/// Intake presses until this long after the last transaction that found it pressing; claims
/// then run without limit again.
const INTAKE_QUIET: Duration = Duration::from_millis(50);

/// Most claim time saved up, in nanoseconds: how long claims may run at once, after a pause,
/// before intake is served again.
const MAX_CREDIT_NANOS: f64 = 5_000_000.0;

/// The allowance of claim time (it grows with the wall clock at [`CLAIM_SHARE`] while intake
/// presses, up to [`MAX_CREDIT_NANOS`]; each claim run meanwhile spends its duration), and when
/// intake last pressed.
struct State {
    nanos: f64,
    updated: Instant,
    pressed: Option<Instant>,
}

impl State {
    /// Whether intake pressed within [`INTAKE_QUIET`] of `now`.
    fn pressing(&self, now: Instant) -> bool {
        self.pressed
            .is_some_and(|at| now.duration_since(at) < INTAKE_QUIET)
    }

    /// How long until a claim may run: zero when it may now.
    fn wait(&mut self, now: Instant) -> Duration {
        let Some(at) = self.pressed else {
            return Duration::ZERO;
        };
        let quiet_in = INTAKE_QUIET.saturating_sub(now.duration_since(at));
        if quiet_in.is_zero() {
            return Duration::ZERO;
        }
        let earned = now.duration_since(self.updated).as_nanos() as f64 * CLAIM_SHARE;
        self.nanos = (self.nanos + earned).min(MAX_CREDIT_NANOS);
        self.updated = now;
        if self.nanos > 0.0 {
            return Duration::ZERO;
        }
        let earned_in = Duration::from_nanos((-self.nanos / CLAIM_SHARE) as u64 + 1);
        quiet_in.min(earned_in)
    }
}

/// One node's pacing of claims behind intake (see the module's comment).
pub(super) struct Pacing {
    state: Mutex<State>,
    /// Held by the claim running while intake presses: one at a time then.
    turn: tokio::sync::Mutex<()>,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            state: Mutex::new(State {
                nanos: 0.0,
                updated: Instant::now(),
                pressed: None,
            }),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

/// A claim's turn: while it is held the claim runs; dropped, its duration is charged to the
/// allowance if intake pressed meanwhile.
pub(crate) struct Turn<'a> {
    pacing: &'a Pacing,
    started: Instant,
    _one: Option<tokio::sync::MutexGuard<'a, ()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = self.pacing.state.lock().expect("pacing");
        if state.pressing(now) {
            state.nanos -= now.duration_since(self.started).as_nanos() as f64;
        }
    }
}

impl Pacing {
    /// An intake transaction took `requests` requests, `messages` messages in all.
    pub(super) fn intake_ran(&self, requests: usize, messages: usize) {
        if requests >= PRESSING_REQUESTS || messages >= PRESSING_MESSAGES {
            self.state.lock().expect("pacing").pressed = Some(Instant::now());
        }
    }

    /// Wait until a claim may run (at once unless intake presses), and hold the turn while it
    /// runs.
    pub(super) async fn claim_turn(&self) -> Turn<'_> {
        if !self.state.lock().expect("pacing").pressing(Instant::now()) {
            return Turn {
                pacing: self,
                started: Instant::now(),
                _one: None,
            };
        }
        let one = self.turn.lock().await;
        loop {
            let wait = self.state.lock().expect("pacing").wait(Instant::now());
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        Turn {
            pacing: self,
            started: Instant::now(),
            _one: Some(one),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_run_at_once_unless_intake_presses() {
        let pacing = Pacing::default();
        pacing.intake_ran(1, 1);
        let started = Instant::now();
        for _ in 0..10 {
            drop(pacing.claim_turn().await);
        }
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn while_intake_presses_claims_wait_for_their_share() {
        let pacing = Pacing::default();
        pacing.intake_ran(PRESSING_REQUESTS, PRESSING_REQUESTS);
        // A claim that took 2 ms leaves the next one waiting for about 2 / CLAIM_SHARE ms, or
        // until intake has been quiet for INTAKE_QUIET.
        {
            let _turn = pacing.claim_turn().await;
            std::thread::sleep(Duration::from_millis(2));
        }
        let started = Instant::now();
        drop(pacing.claim_turn().await);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        assert!(
            waited <= INTAKE_QUIET + Duration::from_millis(30),
            "{waited:?}"
        );
    }
}
