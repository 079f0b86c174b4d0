//! The delivery state machine: given where a message is and what just happened, decide the new
//! state, the status reports to send and what the dispatcher does next. Pure: a store calls
//! [`apply`] inside the transaction that records the outcome, so decisions and reports commit
//! together, and writes the [`Record`] it returns as it is: where the message stands in the queue,
//! whether that is a lease, how its status changes are numbered are all decided here.
//!
//! Rules (the spec's Channel fallback): a message is sent on its first allowed channel; a failure
//! or rejection moves it at once to the next channel; a message not finally delivered before its
//! validity ends fails as expired (error 8). Events from an earlier attempt (e.g. one cut off by
//! a crash) are ignored, so no report is ever sent twice.
//!
//! A *temporary* send error (the channel is throttling, its provider answered 5xx, the
//! connection dropped) is not a failure of the channel: the message is [`Event::Deferred`], stays
//! on its channel, reports nothing and is sent again after a delay ([`retry_delay`] unless the
//! channel said how long), never later than the end of its validity (then it expires as above).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::channel::Channel;
use crate::error_code::DeliveryError;
use crate::message::DeliveryState;
use crate::money::Money;
use crate::status::{CmStatus, EXPIRED_ERROR, NOT_DELIVERED_ERROR};

/// The part of a message the decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub state: DeliveryState,
    pub channels: Vec<Channel>,
    /// Index into `channels` of the channel in use.
    pub channel_index: usize,
    /// How many sends have been started; events carry the attempt they belong to.
    pub attempt: u32,
    /// Temporary send errors in a row on the channel in use (they set the next retry's delay);
    /// back to 0 once the channel takes the message or the message moves to another channel.
    pub deferrals: u32,
    pub valid_until: Timestamp,
}

impl Progress {
    /// The channel in use.
    pub fn channel(&self) -> Channel {
        self.channels[self.channel_index.min(self.channels.len() - 1)]
    }
}

/// What a channel handed back when it took a message: its own id of each part (one per part, in
/// order), unique within the connector that sent it. Recorded with the send, so that a receipt
/// or webhook naming one of them finds its message, attempt and part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExternalIds {
    /// The connector that sent it (its ids are unique only within it).
    pub connector: Arc<str>,
    /// One per part, in part order; empty when the channel hands back none. In the form
    /// receipts are matched in (an SMSC's id normalised, see the SMPP connector's
    /// `receipt_id_format`).
    pub part_ids: Vec<String>,
    /// The ids exactly as the channel wrote them, one per part, when that differs from
    /// `part_ids` (what the message log shows); empty when they are the same.
    pub given_ids: Vec<String>,
}

/// Something that happened to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The queue says the message is due (to send, or its validity has ended).
    Due,
    /// The channel took the message for delivery, and named its parts `external_ids`.
    Sent {
        attempt: u32,
        external_ids: ExternalIds,
    },
    /// The channel could not take the message now but may later (a temporary send error):
    /// send it again on the same channel after `retry_after`, or after [`retry_delay`] when the
    /// channel did not say.
    Deferred {
        attempt: u32,
        retry_after: Option<Duration>,
    },
    /// The channel refused the message outright (a permanent send error).
    SendFailed {
        attempt: u32,
        error_code: Option<DeliveryError>,
    },
    /// The channel reported the status of one part (`part_index`, from 0) of a message: a store
    /// keeps it and turns what the parts come to into a [`Event::ChannelReport`]
    /// ([`crate::part_reports`]) before deciding; [`decide`] itself ignores it.
    PartReport {
        attempt: u32,
        part_index: u32,
        status: CmStatus,
        error_code: Option<DeliveryError>,
        operator: Option<String>,
    },
    /// The channel reported a status.
    ChannelReport {
        attempt: u32,
        status: CmStatus,
        error_code: Option<DeliveryError>,
        operator: Option<String>,
        /// What the channel said of it, for the report's error description (a provider's own
        /// error code and title); `None`: the status's or error code's standard description.
        detail: Option<String>,
    },
}

/// A status report to send to the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub channel: Channel,
    pub status: CmStatus,
    pub error_code: Option<DeliveryError>,
    pub operator: Option<String>,
    /// The report's error description when the channel gave one (see [`Event::ChannelReport`]).
    pub detail: Option<String>,
}

/// What the dispatcher does next with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Send it now on `channel`, as attempt `attempt`.
    Send { channel: Channel, attempt: u32 },
    /// Queue it to be sent as soon as possible (after a fallback).
    Requeue,
    /// Queue it to be sent again on the same channel at `at` (after a temporary error).
    Retry { at: Timestamp },
    /// Wait for the channel's report; look again at `until` (the end of validity).
    Wait { until: Timestamp },
    /// Nothing more to do.
    Done,
    /// The event changed nothing (stale or duplicate).
    Ignore,
}

/// The outcome of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub progress: Progress,
    pub reports: Vec<Report>,
    pub next: Next,
}

/// What a store writes for one message after its events: everything it records is decided here.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub progress: Progress,
    /// Where it stands in the queue now.
    pub position: Position,
    /// Its status changes, in order, numbered after the ones recorded before.
    pub changes: Vec<StatusChange>,
    /// The connector that took its current attempt, when an event of this record says so (a
    /// send the channel took); `None` leaves what was recorded before. After a restart the
    /// message's report is awaited from that connector.
    pub sent_by: Option<Arc<str>>,
}

/// Where a message stands in the queue after a [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The queue hands it out at `at`. `leased`: `at` is the end of a lease of the node that
    /// claimed it to send it now (a restart of that node releases it at once; another node
    /// waits for it to run out).
    Due { at: Timestamp, leased: bool },
    /// Finished: out of the queue.
    Finished,
    /// Where it was: the record only adds what its events told (the connector that took it).
    Unchanged,
}

/// One status change of a message, as recorded in its history and reported.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// Its number among the message's status changes, from 1 (the report id's suffix).
    pub seq: u32,
    pub at: Timestamp,
    pub report: Report,
}

/// What the queue's [`Event::Due`] does to a message a claim took at `now`: the record to write
/// (`None` when it changed nothing) and what comes next. A send decided here is leased for
/// `lease` to the node that claimed it.
pub fn claim(
    progress: &Progress,
    changes_before: u32,
    now: Timestamp,
    lease: SignedDuration,
) -> (Option<Record>, Next) {
    let (record, mut nexts) = fold(progress, changes_before, [&Event::Due], now, lease);
    (record, nexts.pop().unwrap_or(Next::Ignore))
}

/// What `events` do, one after the other, to a message in `progress` that has had
/// `changes_before` status changes: the record to write (`None` when every event changed nothing)
/// and what comes next after each event, in order. [`Event::Due`] is the queue's own, given only
/// by a [`claim`] (which leases what it sends): here it changes nothing.
pub fn apply<'e>(
    progress: &Progress,
    changes_before: u32,
    events: impl IntoIterator<Item = &'e Event>,
    now: Timestamp,
) -> (Option<Record>, Vec<Next>) {
    let mut ignored = Vec::new();
    let events = events.into_iter().enumerate().filter(|(index, event)| {
        let due = matches!(event, Event::Due);
        if due {
            ignored.push(*index);
        }
        !due
    });
    let events: Vec<&Event> = events.map(|(_, event)| event).collect();
    let (record, mut nexts) = fold(progress, changes_before, events, now, SignedDuration::ZERO);
    for index in ignored {
        nexts.insert(index, Next::Ignore);
    }
    (record, nexts)
}

/// Decide `events` in order on one message and fold the decisions into one record.
fn fold<'e>(
    progress: &Progress,
    changes_before: u32,
    events: impl IntoIterator<Item = &'e Event>,
    now: Timestamp,
    lease: SignedDuration,
) -> (Option<Record>, Vec<Next>) {
    let mut current = progress.clone();
    let mut reports = Vec::new();
    let mut last = Next::Ignore;
    let mut nexts = Vec::new();
    let mut sent_by = None;
    for event in events {
        // Which connector took the current attempt is a fact whatever the state (its report
        // may have come first); an earlier attempt's send is not.
        if let Event::Sent {
            attempt,
            external_ids,
        } = event
            && *attempt == current.attempt
        {
            sent_by = Some(Arc::clone(&external_ids.connector));
        }
        let decision = decide(&current, event, now);
        current = decision.progress;
        reports.extend(decision.reports);
        if decision.next != Next::Ignore {
            last = decision.next.clone();
        }
        nexts.push(decision.next);
    }
    let position = match last {
        Next::Ignore if sent_by.is_none() => return (None, nexts),
        Next::Ignore => Position::Unchanged,
        Next::Send { .. } => Position::Due {
            at: now + lease,
            leased: true,
        },
        Next::Requeue => Position::Due {
            at: now,
            leased: false,
        },
        Next::Retry { at } => Position::Due { at, leased: false },
        Next::Wait { until } => Position::Due {
            at: until,
            leased: false,
        },
        Next::Done => Position::Finished,
    };
    let changes = reports
        .into_iter()
        .zip(changes_before + 1..)
        .map(|(report, seq)| StatusChange {
            seq,
            at: now,
            report,
        })
        .collect();
    let record = Record {
        progress: current,
        position,
        changes,
        sent_by,
    };
    (Some(record), nexts)
}

/// The delay before the first retry after a temporary error the channel gave no delay for.
pub const FIRST_RETRY_DELAY: SignedDuration = SignedDuration::from_secs(1);
/// The longest delay between retries on one channel.
pub const MAX_RETRY_DELAY: SignedDuration = SignedDuration::from_secs(5 * 60);

/// The default delay before sending again after `deferrals_before` temporary errors in a row on
/// the channel (this one not counted): 1 s, doubled after every further one, at most 5 min
/// (1, 2, 4, ... 256, 300, 300 s).
pub fn retry_delay(deferrals_before: u32) -> SignedDuration {
    let doublings = deferrals_before.min(16);
    let delay = FIRST_RETRY_DELAY.as_secs() << doublings;
    SignedDuration::from_secs(delay).min(MAX_RETRY_DELAY)
}

/// Decide what `event` does to a message in `progress` at `now`.
pub fn decide(progress: &Progress, event: &Event, now: Timestamp) -> Decision {
    let unchanged = || Decision {
        progress: progress.clone(),
        reports: Vec::new(),
        next: Next::Ignore,
    };
    let current_attempt = |attempt: &u32| *attempt == progress.attempt;
    let pending = !progress.state.is_final();
    match event {
        Event::Due => match progress.state {
            DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Accepted
                if now >= progress.valid_until =>
            {
                expire(progress)
            }
            // Queued; or taken, then deferred by the channel (see `Event::Deferred`): send
            // (again), keeping what was reported.
            DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Accepted
                if progress.state == DeliveryState::Queued || progress.deferrals > 0 =>
            {
                let mut next = progress.clone();
                next.attempt += 1;
                Decision {
                    next: Next::Send {
                        channel: next.channel(),
                        attempt: next.attempt,
                    },
                    progress: next,
                    reports: Vec::new(),
                }
            }
            DeliveryState::Sent | DeliveryState::Accepted => Decision {
                progress: progress.clone(),
                reports: Vec::new(),
                next: Next::Wait {
                    until: progress.valid_until,
                },
            },
            _ => Decision {
                next: Next::Done,
                ..unchanged()
            },
        },
        Event::Sent { attempt, .. } if current_attempt(attempt) => match progress.state {
            DeliveryState::Queued => Decision {
                progress: Progress {
                    state: DeliveryState::Sent,
                    deferrals: 0,
                    ..progress.clone()
                },
                reports: Vec::new(),
                next: Next::Wait {
                    until: progress.valid_until,
                },
            },
            // Sent again after the channel deferred it: waiting for its report again (its
            // deferrals kept, so that the next deferral waits longer; a message waited on is
            // only due again at the end of its validity).
            DeliveryState::Sent | DeliveryState::Accepted if progress.deferrals > 0 => Decision {
                progress: progress.clone(),
                reports: Vec::new(),
                next: Next::Wait {
                    until: progress.valid_until,
                },
            },
            _ => unchanged(),
        },
        // Deferred while queued: the send failed for now. Deferred once sent: the channel took
        // it, then said it could not deliver it for now (a provider's asynchronous throttling);
        // either way it is sent again on the same channel, never a reason to fall back. A taken
        // message keeps its state (what was reported stays reported, and is not reported again
        // when the new send is taken); its deferrals say that it is to be sent again when due.
        Event::Deferred {
            attempt,
            retry_after,
        } if current_attempt(attempt)
            && matches!(
                progress.state,
                DeliveryState::Queued | DeliveryState::Sent | DeliveryState::Accepted
            ) =>
        {
            let delay = match retry_after {
                Some(asked) => SignedDuration::try_from(*asked).unwrap_or(SignedDuration::MAX),
                None => retry_delay(progress.deferrals),
            };
            // At the end of validity the message is due, and expires then.
            let at = now
                .checked_add(delay)
                .unwrap_or(progress.valid_until)
                .min(progress.valid_until);
            Decision {
                progress: Progress {
                    deferrals: progress.deferrals.saturating_add(1),
                    ..progress.clone()
                },
                reports: Vec::new(),
                next: Next::Retry { at },
            }
        }
        Event::SendFailed {
            attempt,
            error_code,
        } if current_attempt(attempt) && pending => fall_back(
            progress,
            Report {
                channel: progress.channel(),
                status: CmStatus::Rejected,
                error_code: Some(error_code.unwrap_or(NOT_DELIVERED_ERROR)),
                operator: None,
                detail: None,
            },
            DeliveryState::Rejected,
        ),
        Event::ChannelReport {
            attempt,
            status,
            error_code,
            operator,
            detail,
        } if current_attempt(attempt) => {
            let report = Report {
                channel: progress.channel(),
                status: *status,
                error_code: *error_code,
                operator: operator.clone(),
                detail: detail.clone(),
            };
            let settle = |state: DeliveryState, next: Next| Decision {
                progress: Progress {
                    state,
                    ..progress.clone()
                },
                reports: vec![report.clone()],
                next,
            };
            match status {
                // Reported once: a connector that repeats it (e.g. resumed after a restart) is
                // ignored.
                CmStatus::Accepted if pending && progress.state != DeliveryState::Accepted => {
                    settle(
                        DeliveryState::Accepted,
                        Next::Wait {
                            until: progress.valid_until,
                        },
                    )
                }
                CmStatus::Delivered if pending => settle(DeliveryState::Delivered, Next::Done),
                CmStatus::Read if pending || progress.state == DeliveryState::Delivered => {
                    settle(DeliveryState::Read, Next::Done)
                }
                CmStatus::Failed if pending => {
                    fall_back(progress, report.clone(), DeliveryState::Failed)
                }
                CmStatus::Rejected if pending => {
                    fall_back(progress, report.clone(), DeliveryState::Rejected)
                }
                _ => unchanged(),
            }
        }
        _ => unchanged(),
    }
}

/// Report the failure; then the next channel, or the end. The failed attempt is over at once:
/// the next channel's send will be a later attempt, and what still comes for the failed one (its
/// channel's late word that it took the message, a repeated failure) names an attempt that is no
/// longer current, and is ignored. Left current, a late `Sent` would mark the message, queued for
/// the next channel, as sent there and leave it waiting for a report that never comes.
fn fall_back(progress: &Progress, report: Report, final_state: DeliveryState) -> Decision {
    if progress.channel_index + 1 < progress.channels.len() {
        Decision {
            progress: Progress {
                state: DeliveryState::Queued,
                channel_index: progress.channel_index + 1,
                attempt: progress.attempt + 1,
                deferrals: 0,
                ..progress.clone()
            },
            reports: vec![report],
            next: Next::Requeue,
        }
    } else {
        Decision {
            progress: Progress {
                state: final_state,
                ..progress.clone()
            },
            reports: vec![report],
            next: Next::Done,
        }
    }
}

/// What a client's cancel_sm of one of its messages came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was cancelled: it will never be sent, and its price was given back.
    Cancelled,
    /// The account has no message with that id.
    NotFound,
    /// It was handed to a channel (or is being, or has finished, or was cancelled already):
    /// it goes on as it would have.
    TooLate,
}

/// A cancellation to record: the message's new progress and queue position, and what its
/// account gets back.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancellation {
    /// Finished as [`DeliveryState::Cancelled`], out of the queue, with no status change (so
    /// no report or receipt).
    pub record: Record,
    /// The price to credit back to an account that has a balance ([`crate::money::credit`]).
    pub refund: Money,
}

/// Whether a message in `progress` is still only queued: waiting for its first send, never
/// handed to a channel (no claim ever took it, so no channel can have it) and not `leased` by a
/// claim now. Only such a message may still be cancelled or replaced.
pub fn still_queued(progress: &Progress, leased: bool) -> bool {
    progress.state == DeliveryState::Queued && progress.attempt == 0 && !leased
}

/// What cancel_sm does to a message in `progress` that cost `price` (`leased`: a claim holds
/// it): its cancellation when it is [`still_queued`], `None` when it is too late
/// ([`CancelOutcome::TooLate`]; also for a message cancelled before).
pub fn cancel(progress: &Progress, leased: bool, price: Money) -> Option<Cancellation> {
    still_queued(progress, leased).then(|| Cancellation {
        record: Record {
            progress: Progress {
                state: DeliveryState::Cancelled,
                ..progress.clone()
            },
            position: Position::Finished,
            changes: Vec::new(),
            sent_by: None,
        },
        refund: price,
    })
}

/// What a client's replace_sm of one of its messages came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// Its content (and validity and receipts, when given) were replaced, and the difference
    /// in price debited or credited.
    Replaced,
    /// The account has no message with that id.
    NotFound,
    /// It is no longer only queued ([`still_queued`]): it goes on as it was.
    TooLate,
    /// The account's balance does not cover what the new content costs more
    /// ([`crate::money::reprice`]): nothing changed.
    InsufficientBalance,
}

/// A message's new content as [`crate::short_message::judge_replacement`] judged it: what a
/// store writes in place of the old when the message is [`still_queued`]. The sender, the
/// recipient, the reference and the channels stay.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The body as stored (hex digits for a binary one), its type and `dcs`, and its header.
    pub body: String,
    pub body_type: Option<String>,
    pub dcs: Option<u8>,
    pub udh: Option<Vec<u8>>,
    pub parts: u32,
    /// What the message costs now.
    pub price: Money,
    /// A new end of validity; `None` keeps the old.
    pub valid_until: Option<Timestamp>,
    /// A new SMPP `registered_delivery`; `None` keeps the old.
    pub smpp_registered_delivery: Option<u8>,
}

fn expire(progress: &Progress) -> Decision {
    Decision {
        progress: Progress {
            state: DeliveryState::Expired,
            ..progress.clone()
        },
        reports: vec![Report {
            channel: progress.channel(),
            status: CmStatus::Failed,
            error_code: Some(EXPIRED_ERROR),
            operator: None,
            detail: None,
        }],
        next: Next::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_claim_leases_what_it_sends_and_events_never_send() {
        let now = at("2026-01-01T00:00:00Z");
        let lease = SignedDuration::from_secs(30);
        let (record, next) = claim(&queued(&[Channel::Sms]), 0, now, lease);
        let record = record.unwrap();
        assert_eq!(
            next,
            Next::Send {
                channel: Channel::Sms,
                attempt: 1
            }
        );
        assert_eq!(
            record.position,
            Position::Due {
                at: now + lease,
                leased: true
            }
        );
        // The queue's Due is not an event a connector or a batch may apply.
        let (record, nexts) = apply(&queued(&[Channel::Sms]), 0, [&Event::Due], now);
        assert_eq!((record, nexts), (None, vec![Next::Ignore]));
    }

    #[test]
    fn status_changes_are_numbered_after_the_ones_recorded_before() {
        let now = at("2026-01-01T00:00:00Z");
        let mut progress = queued(&[Channel::WhatsApp, Channel::Sms]);
        progress.attempt = 1;
        progress.state = DeliveryState::Sent;
        let events = [
            report(1, CmStatus::Failed, Some(24)),
            Event::Due,
            report(3, CmStatus::Delivered, None),
        ];
        let (record, nexts) = apply(&progress, 4, &events, now);
        let record = record.unwrap();
        assert_eq!(nexts[0], Next::Requeue);
        assert_eq!(nexts[1], Next::Ignore);
        // The SMS send (attempt 3: the fallback skipped 2) has not been made: its report is
        // stale.
        assert_eq!(nexts[2], Next::Ignore);
        assert_eq!(record.progress.attempt, 2);
        let seqs: Vec<u32> = record.changes.iter().map(|change| change.seq).collect();
        assert_eq!(seqs, vec![5]);
        assert_eq!(
            record.position,
            Position::Due {
                at: now,
                leased: false
            }
        );
        assert_eq!(record.progress.channel_index, 1);
    }

    #[test]
    fn only_a_message_never_claimed_and_not_leased_can_be_cancelled() {
        let price = Money(75_000);
        let start = queued(&[Channel::Sms]);
        let cancelled = cancel(&start, false, price).unwrap();
        assert_eq!(cancelled.refund, price);
        assert_eq!(
            cancelled.record,
            Record {
                progress: Progress {
                    state: DeliveryState::Cancelled,
                    ..start.clone()
                },
                position: Position::Finished,
                changes: Vec::new(),
                sent_by: None,
            }
        );
        assert!(cancelled.record.progress.state.is_final());
        // Leased by a claim: it is being handed over.
        assert_eq!(cancel(&start, true, price), None);
        // Claimed once (its lease ended, or it waits for a retry or a fallback): a channel may
        // have it.
        let claimed = decide(&start, &Event::Due, at(NOW)).progress;
        assert_eq!(claimed.state, DeliveryState::Queued);
        assert_eq!(cancel(&claimed, false, price), None);
        for state in [
            DeliveryState::Sent,
            DeliveryState::Accepted,
            DeliveryState::Delivered,
            DeliveryState::Failed,
            DeliveryState::Expired,
            DeliveryState::Cancelled,
        ] {
            let progress = Progress {
                state,
                ..start.clone()
            };
            assert_eq!(cancel(&progress, false, price), None, "{state:?}");
        }
    }

    fn queued(channels: &[Channel]) -> Progress {
        Progress {
            state: DeliveryState::Queued,
            channels: channels.to_vec(),
            channel_index: 0,
            attempt: 0,
            deferrals: 0,
            valid_until: at("2026-01-02T00:00:00Z"),
        }
    }

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn report(attempt: u32, status: CmStatus, error_code: Option<u16>) -> Event {
        let error_code =
            error_code.map(|code| DeliveryError::from_code(code).expect("a code of the table"));
        Event::ChannelReport {
            attempt,
            status,
            error_code,
            operator: None,
            detail: None,
        }
    }

    #[test]
    fn delivered_on_first_channel() {
        let start = queued(&[Channel::WhatsApp, Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        assert_eq!(
            due.next,
            Next::Send {
                channel: Channel::WhatsApp,
                attempt: 1
            }
        );
        let sent = decide(
            &due.progress,
            &Event::Sent {
                attempt: 1,
                external_ids: ExternalIds::default(),
            },
            at(NOW),
        );
        assert_eq!(sent.progress.state, DeliveryState::Sent);
        let delivered = decide(
            &sent.progress,
            &report(1, CmStatus::Delivered, None),
            at(NOW),
        );
        assert_eq!(delivered.progress.state, DeliveryState::Delivered);
        assert_eq!(delivered.reports[0].channel, Channel::WhatsApp);
        assert_eq!(delivered.next, Next::Done);
        let read = decide(
            &delivered.progress,
            &report(1, CmStatus::Read, None),
            at(NOW),
        );
        assert_eq!(read.progress.state, DeliveryState::Read);
        assert_eq!(read.reports.len(), 1);
        // A second delivered report changes nothing and reports nothing.
        let again = decide(
            &read.progress,
            &report(1, CmStatus::Delivered, None),
            at(NOW),
        );
        assert_eq!(again.next, Next::Ignore);
        assert!(again.reports.is_empty());
    }

    #[test]
    fn failure_falls_back_at_once_and_the_last_failure_is_final() {
        let start = queued(&[Channel::WhatsApp, Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let failed = decide(
            &due.progress,
            &report(1, CmStatus::Failed, Some(24)),
            at(NOW),
        );
        assert_eq!(failed.next, Next::Requeue);
        assert_eq!(failed.progress.channel(), Channel::Sms);
        assert_eq!(
            failed.reports[0].error_code,
            Some(DeliveryError::RecipientUnreachable)
        );
        assert_eq!(failed.reports[0].channel, Channel::WhatsApp);
        // What the first attempt's channel still says while the message waits for its next
        // send is ignored: its late word that it took the message (the report came first) and a
        // repeated failure. Neither may count for SMS.
        for late in [
            Event::Sent {
                attempt: 1,
                external_ids: ExternalIds::default(),
            },
            report(1, CmStatus::Failed, Some(24)),
        ] {
            let ignored = decide(&failed.progress, &late, at(NOW));
            assert_eq!(ignored.next, Next::Ignore, "{late:?}");
            assert_eq!(ignored.progress, failed.progress, "{late:?}");
            assert!(ignored.reports.is_empty(), "{late:?}");
        }
        let (record, _) = apply(
            &failed.progress,
            1,
            &[Event::Sent {
                attempt: 1,
                external_ids: ExternalIds::default(),
            }],
            at(NOW),
        );
        assert_eq!(record, None, "a late send changes nothing");
        // The SMS send is a later attempt (the fallback skipped one).
        let due = decide(&failed.progress, &Event::Due, at(NOW));
        assert_eq!(
            due.next,
            Next::Send {
                channel: Channel::Sms,
                attempt: 3
            }
        );
        // A late report of the first attempt is ignored.
        let stale = decide(
            &due.progress,
            &report(1, CmStatus::Delivered, None),
            at(NOW),
        );
        assert_eq!(stale.next, Next::Ignore);
        let refused = decide(
            &due.progress,
            &Event::SendFailed {
                attempt: 3,
                error_code: None,
            },
            at(NOW),
        );
        assert_eq!(refused.next, Next::Done);
        assert_eq!(refused.progress.state, DeliveryState::Rejected);
        assert_eq!(refused.reports[0].status, CmStatus::Rejected);
        assert_eq!(
            refused.reports[0].error_code,
            Some(DeliveryError::NotDeliveredAtThirdParty)
        );
    }

    #[test]
    fn operator_acceptance_is_reported_once() {
        let start = queued(&[Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let accepted = decide(&due.progress, &report(1, CmStatus::Accepted, None), at(NOW));
        assert_eq!(accepted.progress.state, DeliveryState::Accepted);
        assert_eq!(accepted.reports.len(), 1);
        // The send is recorded after the acceptance (both came in one batch): nothing changes.
        let sent = decide(
            &accepted.progress,
            &Event::Sent {
                attempt: 1,
                external_ids: ExternalIds::default(),
            },
            at(NOW),
        );
        assert_eq!((sent.next, sent.reports.len()), (Next::Ignore, 0));
        // A connector resumed after a restart repeats the acceptance: no second report.
        let again = decide(
            &accepted.progress,
            &report(1, CmStatus::Accepted, None),
            at(NOW),
        );
        assert_eq!((again.next, again.reports.len()), (Next::Ignore, 0));
        let delivered = decide(
            &accepted.progress,
            &report(1, CmStatus::Delivered, None),
            at(NOW),
        );
        assert_eq!(delivered.progress.state, DeliveryState::Delivered);
        assert_eq!(delivered.reports.len(), 1);
        // Accepted but never delivered: expires at the end of validity.
        let late = at("2026-01-02T00:00:00Z");
        let expired = decide(&accepted.progress, &Event::Due, late);
        assert_eq!(expired.progress.state, DeliveryState::Expired);
        assert_eq!(
            expired.reports[0].error_code,
            Some(DeliveryError::ExpiredAtThirdParty)
        );
    }

    #[test]
    fn validity_end_expires_queued_and_sent_messages() {
        let start = queued(&[Channel::Sms]);
        let late = at("2026-01-02T00:00:00Z");
        let expired = decide(&start, &Event::Due, late);
        assert_eq!(expired.progress.state, DeliveryState::Expired);
        assert_eq!(expired.reports[0].status, CmStatus::Failed);
        assert_eq!(
            expired.reports[0].error_code,
            Some(DeliveryError::ExpiredAtThirdParty)
        );
        let sent = Progress {
            state: DeliveryState::Sent,
            attempt: 1,
            ..start
        };
        assert_eq!(
            decide(&sent, &Event::Due, late).progress.state,
            DeliveryState::Expired
        );
        assert_eq!(
            decide(&sent, &Event::Due, at(NOW)).next,
            Next::Wait {
                until: sent.valid_until
            }
        );
    }

    fn deferred(attempt: u32, retry_after: Option<u64>) -> Event {
        Event::Deferred {
            attempt,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn retry_delay_doubles_from_one_second_up_to_five_minutes() {
        let secs: Vec<i64> = (0..11).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY);
    }

    #[test]
    fn a_taken_message_the_channel_defers_is_sent_again_without_a_second_report() {
        let start = queued(&[Channel::WhatsApp, Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let sent_event = |attempt| Event::Sent {
            attempt,
            external_ids: ExternalIds::default(),
        };
        let sent = decide(&due.progress, &sent_event(1), at(NOW));
        let accepted = decide(
            &sent.progress,
            &report(1, CmStatus::Accepted, None),
            at(NOW),
        );
        assert_eq!(accepted.reports.len(), 1);
        // The provider's asynchronous throttling: no report, no fallback, sent again later.
        let deferred_taken = decide(&accepted.progress, &deferred(1, Some(6)), at(NOW));
        assert!(deferred_taken.reports.is_empty());
        assert_eq!(
            deferred_taken.next,
            Next::Retry {
                at: at("2026-01-01T00:00:06Z")
            }
        );
        assert_eq!(deferred_taken.progress.state, DeliveryState::Accepted);
        assert_eq!(deferred_taken.progress.channel(), Channel::WhatsApp);
        let again = decide(
            &deferred_taken.progress,
            &Event::Due,
            at("2026-01-01T00:00:06Z"),
        );
        assert_eq!(
            again.next,
            Next::Send {
                channel: Channel::WhatsApp,
                attempt: 2
            }
        );
        let resent = decide(&again.progress, &sent_event(2), at("2026-01-01T00:00:06Z"));
        assert_eq!(
            resent.next,
            Next::Wait {
                until: start.valid_until
            }
        );
        assert_eq!(
            (resent.progress.state, resent.progress.deferrals),
            (DeliveryState::Accepted, 1)
        );
        // Its acceptance is not reported again; its delivery is.
        let accepted_again = decide(
            &resent.progress,
            &report(2, CmStatus::Accepted, None),
            at(NOW),
        );
        assert!(accepted_again.reports.is_empty());
        let delivered = decide(
            &resent.progress,
            &report(2, CmStatus::Delivered, None),
            at(NOW),
        );
        assert_eq!(delivered.reports.len(), 1);
        assert_eq!(delivered.progress.state, DeliveryState::Delivered);
        // Deferred again: the wait doubles.
        let deferred_again = decide(&resent.progress, &deferred(2, None), at(NOW));
        assert_eq!(
            deferred_again.next,
            Next::Retry {
                at: at("2026-01-01T00:00:02Z")
            }
        );
    }

    #[test]
    fn a_temporary_error_retries_on_the_same_channel_without_a_report() {
        let start = queued(&[Channel::WhatsApp, Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let first = decide(&due.progress, &deferred(1, None), at(NOW));
        assert_eq!(
            first.next,
            Next::Retry {
                at: at("2026-01-01T00:00:01Z")
            }
        );
        assert!(first.reports.is_empty());
        assert_eq!(first.progress.state, DeliveryState::Queued);
        assert_eq!(first.progress.channel(), Channel::WhatsApp);
        // Sent again on the same channel as a new attempt; the default delay doubles.
        let again = decide(&first.progress, &Event::Due, at("2026-01-01T00:00:01Z"));
        assert_eq!(
            again.next,
            Next::Send {
                channel: Channel::WhatsApp,
                attempt: 2
            }
        );
        let second = decide(
            &again.progress,
            &deferred(2, None),
            at("2026-01-01T00:00:01Z"),
        );
        assert_eq!(
            second.next,
            Next::Retry {
                at: at("2026-01-01T00:00:03Z")
            }
        );
        // What the channel asked for wins over the default.
        let asked = decide(&second.progress, &Event::Due, at("2026-01-01T00:00:03Z"));
        let third = decide(
            &asked.progress,
            &deferred(3, Some(30)),
            at("2026-01-01T00:00:03Z"),
        );
        assert_eq!(
            third.next,
            Next::Retry {
                at: at("2026-01-01T00:00:33Z")
            }
        );
        // Taken at last: the count starts again for the next temporary error.
        let due = decide(&third.progress, &Event::Due, at("2026-01-01T00:00:33Z"));
        let sent = decide(
            &due.progress,
            &Event::Sent {
                attempt: 4,
                external_ids: ExternalIds::default(),
            },
            at(NOW),
        );
        assert_eq!(
            (sent.progress.state, sent.progress.deferrals),
            (DeliveryState::Sent, 0)
        );
        // A late error of an earlier attempt changes nothing.
        let stale = decide(&sent.progress, &deferred(3, None), at(NOW));
        assert_eq!(stale.next, Next::Ignore);
    }

    #[test]
    fn a_retry_is_never_later_than_validity_and_expires_there() {
        let start = queued(&[Channel::Sms, Channel::WhatsApp]);
        let due = decide(&start, &Event::Due, at("2026-01-01T23:59:59Z"));
        let deferred = decide(
            &due.progress,
            &deferred(1, Some(3600)),
            at("2026-01-01T23:59:59Z"),
        );
        assert_eq!(
            deferred.next,
            Next::Retry {
                at: start.valid_until
            }
        );
        let expired = decide(&deferred.progress, &Event::Due, start.valid_until);
        assert_eq!(expired.progress.state, DeliveryState::Expired);
        assert_eq!(expired.reports.len(), 1);
        assert_eq!(expired.reports[0].channel, Channel::Sms);
        assert_eq!(expired.reports[0].error_code, Some(EXPIRED_ERROR));
    }

    #[test]
    fn a_permanent_error_after_temporary_ones_falls_back_with_a_fresh_count() {
        let start = queued(&[Channel::WhatsApp, Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let deferred = decide(&due.progress, &deferred(1, None), at(NOW));
        let due = decide(&deferred.progress, &Event::Due, at(NOW));
        let refused = decide(
            &due.progress,
            &Event::SendFailed {
                attempt: 2,
                error_code: Some(DeliveryError::RecipientUnreachable),
            },
            at(NOW),
        );
        assert_eq!(refused.next, Next::Requeue);
        assert_eq!(refused.progress.channel(), Channel::Sms);
        assert_eq!(refused.progress.deferrals, 0);
        assert_eq!(
            refused.reports[0].error_code,
            Some(DeliveryError::RecipientUnreachable)
        );
    }

    /// `decide` over arbitrary event sequences: whatever arrives, in whatever order, late or
    /// repeated, the guarantees hold.
    mod properties {
        use std::collections::HashSet;

        use proptest::prelude::*;

        use super::*;

        /// An event, with the attempt it names relative to the message's current one.
        #[derive(Debug, Clone)]
        enum Arrival {
            Due,
            Sent(i64),
            Deferred(i64, Option<u64>),
            SendFailed(i64, Option<DeliveryError>),
            Report(i64, CmStatus, Option<DeliveryError>),
        }

        fn arrival() -> impl Strategy<Value = Arrival> {
            let offset = prop_oneof![4 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)];
            let status = prop_oneof![
                Just(CmStatus::Accepted),
                Just(CmStatus::Rejected),
                Just(CmStatus::Delivered),
                Just(CmStatus::Failed),
                Just(CmStatus::Read),
            ];
            prop_oneof![
                3 => Just(Arrival::Due),
                2 => offset.clone().prop_map(Arrival::Sent),
                3 => (offset.clone(), proptest::option::of(0u64..7200))
                    .prop_map(|(o, after)| Arrival::Deferred(o, after)),
                1 => (offset.clone(), proptest::option::of(proptest::sample::select(DeliveryError::ALL.to_vec())))
                    .prop_map(|(o, code)| Arrival::SendFailed(o, code)),
                3 => (offset, status, proptest::option::of(proptest::sample::select(DeliveryError::ALL.to_vec())))
                    .prop_map(|(o, status, code)| Arrival::Report(o, status, code)),
            ]
        }

        fn event(arrival: &Arrival, current: u32) -> Event {
            let attempt = |offset: i64| (i64::from(current) + offset).max(0) as u32;
            match arrival.clone() {
                Arrival::Due => Event::Due,
                Arrival::Sent(o) => Event::Sent {
                    attempt: attempt(o),
                    external_ids: ExternalIds::default(),
                },
                Arrival::Deferred(o, after) => Event::Deferred {
                    attempt: attempt(o),
                    retry_after: after.map(Duration::from_secs),
                },
                Arrival::SendFailed(o, error_code) => Event::SendFailed {
                    attempt: attempt(o),
                    error_code,
                },
                Arrival::Report(o, status, error_code) => Event::ChannelReport {
                    attempt: attempt(o),
                    status,
                    error_code,
                    operator: None,
                    detail: None,
                },
            }
        }

        /// Order of the states a message passes through on one channel.
        fn rank(state: DeliveryState) -> u8 {
            match state {
                DeliveryState::Queued => 0,
                DeliveryState::Sent => 1,
                DeliveryState::Accepted => 2,
                DeliveryState::Delivered => 3,
                DeliveryState::Read => 4,
                DeliveryState::Failed
                | DeliveryState::Rejected
                | DeliveryState::Expired
                | DeliveryState::Cancelled => 5,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn decide_keeps_its_guarantees_over_any_sequence(
                channel_count in 1usize..4,
                arrivals in proptest::collection::vec((arrival(), 0i64..900), 0..40),
            ) {
                let start = at(NOW);
                let mut progress = Progress {
                    valid_until: start + SignedDuration::from_hours(2),
                    ..queued(&Channel::ALL[..channel_count])
                };
                let valid_until = progress.valid_until;
                let mut now = start;
                let mut reported: HashSet<(usize, u8)> = HashSet::new();
                for (arrival, step) in &arrivals {
                    now += SignedDuration::from_secs(*step);
                    let event = event(arrival, progress.attempt);
                    let decision = decide(&progress, &event, now);
                    let (before, after) = (&progress, &decision.progress);

                    // No report twice for the same status change (per channel of the message).
                    for report in &decision.reports {
                        prop_assert_eq!(report.channel, before.channel());
                        prop_assert!(
                            reported.insert((before.channel_index, report.status.code())),
                            "{:?} reported twice on channel {}", report.status, before.channel_index
                        );
                    }
                    // No backwards status: channels only move forward; on one channel states
                    // only advance; after a final state nothing but Read after Delivered.
                    prop_assert!(after.channel_index >= before.channel_index);
                    prop_assert!(after.attempt >= before.attempt);
                    if before.state.is_final() {
                        let read_after_delivered = before.state == DeliveryState::Delivered
                            && after.state == DeliveryState::Read;
                        prop_assert!(after.state == before.state || read_after_delivered);
                        prop_assert!(decision.reports.len() <= usize::from(read_after_delivered));
                    } else if after.channel_index == before.channel_index {
                        prop_assert!(rank(after.state) >= rank(before.state));
                    } else {
                        prop_assert_eq!(after.state, DeliveryState::Queued);
                    }
                    // A temporary error never falls back and never reports.
                    if let Event::Deferred { .. } = event {
                        prop_assert!(decision.reports.is_empty());
                        prop_assert_eq!(after.channel_index, before.channel_index);
                        prop_assert_eq!(after.state, before.state);
                        let retried_or_ignored =
                            matches!(decision.next, Next::Retry { .. } | Next::Ignore);
                        prop_assert!(retried_or_ignored, "{:?}", decision.next);
                    }
                    // Validity is never exceeded: nothing is sent or scheduled past it, and a
                    // pending message looked at after it expires.
                    match decision.next {
                        Next::Send { .. } => prop_assert!(now < valid_until),
                        Next::Retry { at } => {
                            prop_assert!(at <= valid_until);
                            prop_assert!(at >= now.min(valid_until));
                        }
                        Next::Wait { until } => prop_assert!(until <= valid_until),
                        _ => {}
                    }
                    if event == Event::Due && !before.state.is_final() && now >= valid_until {
                        prop_assert_eq!(after.state, DeliveryState::Expired);
                    }
                    prop_assert_eq!(after.valid_until, valid_until);
                    progress = decision.progress;
                }
            }
        }
    }
}
