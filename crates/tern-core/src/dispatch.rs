//! The delivery state machine: given where a message is and what just happened, decide the new
//! state, the status reports to send and what the dispatcher does next. Pure: the store runs it
//! inside the transaction that records the outcome, so decisions and reports commit together.
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

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::channel::Channel;
use crate::message::DeliveryState;
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

/// Something that happened to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The queue says the message is due (to send, or its validity has ended).
    Due,
    /// The channel took the message for delivery.
    Sent { attempt: u32 },
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
        error_code: Option<u16>,
    },
    /// The channel reported a status.
    ChannelReport {
        attempt: u32,
        status: CmStatus,
        error_code: Option<u16>,
        operator: Option<String>,
    },
}

/// A status report to send to the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub channel: Channel,
    pub status: CmStatus,
    pub error_code: Option<u16>,
    pub operator: Option<String>,
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
            DeliveryState::Queued => {
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
        Event::Sent { attempt } if current_attempt(attempt) => match progress.state {
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
            _ => unchanged(),
        },
        Event::Deferred {
            attempt,
            retry_after,
        } if current_attempt(attempt) && progress.state == DeliveryState::Queued => {
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
            },
            DeliveryState::Rejected,
        ),
        Event::ChannelReport {
            attempt,
            status,
            error_code,
            operator,
        } if current_attempt(attempt) => {
            let report = Report {
                channel: progress.channel(),
                status: *status,
                error_code: *error_code,
                operator: operator.clone(),
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

/// Report the failure; then the next channel, or the end.
fn fall_back(progress: &Progress, report: Report, final_state: DeliveryState) -> Decision {
    if progress.channel_index + 1 < progress.channels.len() {
        Decision {
            progress: Progress {
                state: DeliveryState::Queued,
                channel_index: progress.channel_index + 1,
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
        Event::ChannelReport {
            attempt,
            status,
            error_code,
            operator: None,
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
        let sent = decide(&due.progress, &Event::Sent { attempt: 1 }, at(NOW));
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
        assert_eq!(failed.reports[0].error_code, Some(24));
        assert_eq!(failed.reports[0].channel, Channel::WhatsApp);
        let due = decide(&failed.progress, &Event::Due, at(NOW));
        assert_eq!(
            due.next,
            Next::Send {
                channel: Channel::Sms,
                attempt: 2
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
                attempt: 2,
                error_code: None,
            },
            at(NOW),
        );
        assert_eq!(refused.next, Next::Done);
        assert_eq!(refused.progress.state, DeliveryState::Rejected);
        assert_eq!(refused.reports[0].status, CmStatus::Rejected);
        assert_eq!(refused.reports[0].error_code, Some(5));
    }

    #[test]
    fn operator_acceptance_is_reported_once() {
        let start = queued(&[Channel::Sms]);
        let due = decide(&start, &Event::Due, at(NOW));
        let accepted = decide(&due.progress, &report(1, CmStatus::Accepted, None), at(NOW));
        assert_eq!(accepted.progress.state, DeliveryState::Accepted);
        assert_eq!(accepted.reports.len(), 1);
        // The send is recorded after the acceptance (both came in one batch): nothing changes.
        let sent = decide(&accepted.progress, &Event::Sent { attempt: 1 }, at(NOW));
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
        assert_eq!(expired.reports[0].error_code, Some(8));
    }

    #[test]
    fn validity_end_expires_queued_and_sent_messages() {
        let start = queued(&[Channel::Sms]);
        let late = at("2026-01-02T00:00:00Z");
        let expired = decide(&start, &Event::Due, late);
        assert_eq!(expired.progress.state, DeliveryState::Expired);
        assert_eq!(expired.reports[0].status, CmStatus::Failed);
        assert_eq!(expired.reports[0].error_code, Some(8));
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
        let sent = decide(&due.progress, &Event::Sent { attempt: 4 }, at(NOW));
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
                error_code: Some(24),
            },
            at(NOW),
        );
        assert_eq!(refused.next, Next::Requeue);
        assert_eq!(refused.progress.channel(), Channel::Sms);
        assert_eq!(refused.progress.deferrals, 0);
        assert_eq!(refused.reports[0].error_code, Some(24));
    }
}
