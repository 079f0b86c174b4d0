//! The parts of a long SMS are reported one by one: an SMSC sends a receipt per `submit_sm`, in
//! any order, sometimes twice, sometimes an intermediate one (ACCEPTD, ENROUTE) after the final
//! one. The customer is owed one status report per status change of the *message*, so the
//! part reports are kept and combined here: a message is delivered when every part is, failed
//! when any part failed, accepted while some part is accepted and none failed. A store records
//! each part's status ([`merge`]) and turns the combination into the one
//! [`Event::ChannelReport`] the state machine decides on ([`combine`]); the state machine
//! itself reports each status once, so a repeat of the combination reports nothing.

use crate::dispatch::Event;
use crate::error_code::DeliveryError;
use crate::status::CmStatus;

/// What the channel last said about one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartStatus {
    pub status: CmStatus,
    pub error_code: Option<DeliveryError>,
    /// The operator (MCC+MNC) the receipt named, if any.
    pub operator: Option<String>,
}

impl PartStatus {
    fn is_final(&self) -> bool {
        self.status != CmStatus::Accepted
    }
}

/// The part an [`Event::PartReport`] is about: its attempt, its index and what it says; `None`
/// for every other event.
pub fn part_of(event: &Event) -> Option<(u32, u32, PartStatus)> {
    match event {
        Event::PartReport {
            attempt,
            part_index,
            status,
            error_code,
            operator,
        } => Some((
            *attempt,
            *part_index,
            PartStatus {
                status: *status,
                error_code: *error_code,
                operator: operator.clone(),
            },
        )),
        _ => None,
    }
}

/// The status a part has after `new` was reported on it: the new one, except that an
/// intermediate report (accepted) never replaces a final one (a late ENROUTE after DELIVRD).
pub fn merge(previous: Option<&PartStatus>, new: PartStatus) -> PartStatus {
    match previous {
        Some(previous) if previous.is_final() && !new.is_final() => previous.clone(),
        _ => new,
    }
}

/// The report, about the whole message of `parts` parts sent in `attempt`, that the statuses of
/// its parts known so far (`(part_index, status)`, any order, indexes from 0) come to; `None`
/// while they say nothing about the message yet. Any failed or rejected part fails the message
/// with that part's status and error (the lowest such part); every part delivered (or read)
/// delivers it; else a part the operator reported accepted (buffered, en route) makes it
/// accepted. Some parts delivered and the others not reported yet says nothing new.
pub fn combine(parts: u32, attempt: u32, known: &[(u32, PartStatus)]) -> Option<Event> {
    let report = |status: &PartStatus, status_code: CmStatus| Event::ChannelReport {
        attempt,
        status: status_code,
        error_code: status.error_code,
        operator: status.operator.clone(),
        detail: None,
    };
    let in_range = || known.iter().filter(|(index, _)| *index < parts.max(1));
    if let Some((_, failed)) = in_range()
        .filter(|(_, part)| matches!(part.status, CmStatus::Failed | CmStatus::Rejected))
        .min_by_key(|(index, _)| *index)
    {
        return Some(report(failed, failed.status));
    }
    let mut delivered: Vec<u32> = in_range()
        .filter(|(_, part)| matches!(part.status, CmStatus::Delivered | CmStatus::Read))
        .map(|(index, _)| *index)
        .collect();
    delivered.sort_unstable();
    delivered.dedup();
    let last = in_range().max_by_key(|(index, _)| *index)?;
    if delivered.len() as u32 >= parts.max(1) {
        let with_operator = in_range()
            .find(|(_, part)| part.operator.is_some())
            .unwrap_or(last);
        return Some(Event::ChannelReport {
            attempt,
            status: CmStatus::Delivered,
            error_code: None,
            operator: with_operator.1.operator.clone(),
            detail: None,
        });
    }
    let accepted = in_range().find(|(_, part)| part.status == CmStatus::Accepted)?;
    Some(Event::ChannelReport {
        attempt,
        status: CmStatus::Accepted,
        error_code: None,
        operator: accepted.1.operator.clone(),
        detail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(status: CmStatus) -> PartStatus {
        PartStatus {
            status,
            error_code: None,
            operator: None,
        }
    }

    fn status_of(event: Option<Event>) -> Option<(CmStatus, Option<DeliveryError>)> {
        match event? {
            Event::ChannelReport {
                status, error_code, ..
            } => Some((status, error_code)),
            other => panic!("not a report: {other:?}"),
        }
    }

    #[test]
    fn delivered_only_when_every_part_is() {
        let one = [(1, part(CmStatus::Delivered))];
        assert_eq!(status_of(combine(3, 1, &one)), None);
        let buffered = [
            (1, part(CmStatus::Delivered)),
            (0, part(CmStatus::Accepted)),
        ];
        assert_eq!(
            status_of(combine(3, 1, &buffered)),
            Some((CmStatus::Accepted, None))
        );
        let all = [
            (2, part(CmStatus::Delivered)),
            (0, part(CmStatus::Delivered)),
            (1, part(CmStatus::Delivered)),
        ];
        assert_eq!(
            status_of(combine(3, 1, &all)),
            Some((CmStatus::Delivered, None))
        );
        // A part reported twice does not stand for another part.
        let twice = [
            (0, part(CmStatus::Delivered)),
            (0, part(CmStatus::Delivered)),
        ];
        assert_eq!(status_of(combine(2, 1, &twice)), None);
    }

    #[test]
    fn any_failed_part_fails_the_message_with_its_error() {
        let failed = PartStatus {
            status: CmStatus::Failed,
            error_code: Some(DeliveryError::RecipientUnreachable),
            operator: Some("20416".into()),
        };
        let known = [(0, part(CmStatus::Delivered)), (1, failed)];
        assert_eq!(
            combine(2, 4, &known),
            Some(Event::ChannelReport {
                attempt: 4,
                status: CmStatus::Failed,
                error_code: Some(DeliveryError::RecipientUnreachable),
                operator: Some("20416".into()),
                detail: None,
            })
        );
        let rejected = [(1, part(CmStatus::Rejected))];
        assert_eq!(
            status_of(combine(2, 1, &rejected)),
            Some((CmStatus::Rejected, None))
        );
    }

    #[test]
    fn nothing_known_says_nothing_and_parts_beyond_the_message_are_ignored() {
        assert_eq!(combine(2, 1, &[]), None);
        assert_eq!(combine(2, 1, &[(5, part(CmStatus::Failed))]), None);
        // A message of one part is its part.
        assert_eq!(
            status_of(combine(1, 1, &[(0, part(CmStatus::Delivered))])),
            Some((CmStatus::Delivered, None))
        );
    }

    #[test]
    fn a_late_intermediate_receipt_does_not_undo_a_final_one() {
        let delivered = part(CmStatus::Delivered);
        assert_eq!(merge(Some(&delivered), part(CmStatus::Accepted)), delivered);
        assert_eq!(
            merge(Some(&part(CmStatus::Accepted)), delivered.clone()),
            delivered
        );
        assert_eq!(
            merge(Some(&delivered), part(CmStatus::Failed)),
            part(CmStatus::Failed)
        );
        assert_eq!(
            merge(None, part(CmStatus::Accepted)),
            part(CmStatus::Accepted)
        );
    }
}
