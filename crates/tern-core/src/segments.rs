//! Segments of one concatenated message: an SMPP client that splits a long text itself submits
//! each segment as its own message with a concatenation header. Each stays a message of its own
//! (its id, its one part's price, its receipts), but a handset joins them only if it gets them
//! all, so the gateway hands them to the channel together and in order, and its log shows them
//! as the one message they are. The rules of that, pure, for any store to record:
//!
//! - **A group** is the segments of one [`SegmentKey`] (account, sender, recipient, reference,
//!   total) still waiting: stored, never claimed. A segment that arrives after its group was
//!   handed on starts a new group (a client reuses an 8-bit reference after 256 messages).
//! - **When it is due** ([`group_due`]): once every number `1..=total` is among its segments,
//!   or, for a group that stays incomplete, once its hold ends: [`SEGMENT_HOLD`] after its first
//!   segment was accepted, or earlier when a segment's validity ends earlier (a segment is never
//!   held past its validity). Then the segments present are sent anyway, in order: a handset
//!   shows what it gets, and holding them longer would only let them all expire.
//! - **In order**: by sequence number; a number submitted twice (the client asked twice) is
//!   stored, billed and sent twice, the earlier-stored first.
//! - **Claimed again together**: segments of a group handed on earlier that one claim takes again
//!   (their lease ran out, or their node restarted) are sent together in order too
//!   ([`send_order`]).
//! - **In the log** ([`group_record`]): one entry at its first-stored segment's place, its bodies
//!   joined in order, its parts the segments stored, its state [`group_state`].

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::message::{Content, DeliveryState, MessageRecord, SegmentKey, SegmentState};
use crate::ports::Dispatch;

/// How long the segments of an incomplete group wait for the rest, from the first one's
/// acceptance.
pub const SEGMENT_HOLD: SignedDuration = SignedDuration::from_mins(10);

/// What [`group_due`] needs of a waiting segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub seq: u8,
    pub accepted_at: Timestamp,
    pub valid_until: Timestamp,
}

/// What the queue does with a group when one of its segments comes due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDue {
    /// Keep every segment of the group waiting, due again at `until` (the end of its hold).
    Wait { until: Timestamp },
    /// Claim them all now, in this order (indexes into the segments given), in one claim.
    Send { order: Vec<usize> },
}

/// What the queue does at `now` with the waiting segments `waiting` (in the order they were
/// stored) of a group of `total`. See the module's rules.
pub fn group_due(total: u8, waiting: &[Waiting], now: Timestamp) -> GroupDue {
    let complete = (1..=total).all(|seq| waiting.iter().any(|segment| segment.seq == seq));
    let first = waiting.iter().map(|segment| segment.accepted_at).min();
    let validity = waiting.iter().map(|segment| segment.valid_until).min();
    let hold_ends = match (first, validity) {
        (Some(first), Some(validity)) => (first + SEGMENT_HOLD).min(validity),
        _ => now,
    };
    if complete || now >= hold_ends {
        let mut order: Vec<usize> = (0..waiting.len()).collect();
        // Stable: a number given twice goes in the order it was stored.
        order.sort_by_key(|&index| waiting[index].seq);
        GroupDue::Send { order }
    } else {
        GroupDue::Wait { until: hold_ends }
    }
}

/// A claim's messages in the order the dispatcher is handed them: as claimed, except that the
/// segments of one key are brought together at the place of the first of them, in sequence
/// order (a number claimed twice in the order it was claimed), so that they are sent one after
/// the other. A group [`group_due`] handed on is so already; segments claimed again after their
/// lease ran out come in due order, which is not theirs.
pub fn send_order(claimed: Vec<Dispatch>) -> Vec<Dispatch> {
    let mut groups: HashMap<SegmentKey, Vec<usize>> = HashMap::new();
    let keys: Vec<Option<SegmentKey>> = claimed.iter().map(Dispatch::segment_key).collect();
    for (index, key) in keys.iter().enumerate() {
        if let Some(key) = key {
            groups.entry(key.clone()).or_default().push(index);
        }
    }
    let seq = |dispatch: &Option<Dispatch>| {
        dispatch
            .as_ref()
            .and_then(|dispatch| dispatch.segment)
            .map_or(0, |segment| segment.seq)
    };
    let mut slots: Vec<Option<Dispatch>> = claimed.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    for (index, key) in keys.into_iter().enumerate() {
        match key.and_then(|key| groups.remove(&key)) {
            Some(mut members) => {
                members.sort_by_key(|&member| seq(&slots[member]));
                ordered.extend(
                    members
                        .into_iter()
                        .filter_map(|member| slots[member].take()),
                );
            }
            None => ordered.extend(slots[index].take()),
        }
    }
    ordered
}

/// Where a message in `state` is in its life, for [`group_state`]: pending ones first, least
/// advanced first.
fn pending_rank(state: DeliveryState) -> Option<u8> {
    match state {
        DeliveryState::Queued => Some(0),
        DeliveryState::Sent => Some(1),
        DeliveryState::Accepted => Some(2),
        _ => None,
    }
}

/// The state of a concatenated message whose segments are in `states` (in sequence order): as
/// far as its least advanced segment. All in one state: that state. Any still pending (queued,
/// sent, accepted): the least advanced of those. All finished: `delivered` when each was
/// delivered or read, otherwise the first other final state (failed, rejected, expired,
/// cancelled) in sequence order. The message log's `status` filter matches this state.
pub fn group_state(states: &[DeliveryState]) -> DeliveryState {
    let Some(&first) = states.first() else {
        return DeliveryState::Queued;
    };
    if states.iter().all(|&state| state == first) {
        return first;
    }
    if let Some(pending) = states
        .iter()
        .copied()
        .filter_map(|state| pending_rank(state).map(|rank| (rank, state)))
        .min_by_key(|(rank, _)| *rank)
    {
        return pending.1;
    }
    states
        .iter()
        .copied()
        .find(|state| !matches!(state, DeliveryState::Delivered | DeliveryState::Read))
        .unwrap_or(DeliveryState::Delivered)
}

/// The log's entry for a concatenated message whose stored segments are `members`, in the order
/// they were stored (the first is where the entry stands, and names it: its id pages the log).
/// Its bodies joined in sequence order (a number stored twice appears twice), its parts the
/// segments stored, its price theirs together, its state [`group_state`], its history every
/// segment's status changes in time order, and `segments` each one's id, number and state in
/// sequence order. Everything else is the first-stored segment's. `None` for no members.
pub fn group_record(members: Vec<MessageRecord>) -> Option<MessageRecord> {
    let mut ordered: Vec<&MessageRecord> = members.iter().collect();
    ordered.sort_by_key(|record| record.message.segment.map_or(0, |segment| segment.seq));
    let first = members.first()?;
    let segments: Vec<SegmentState> = ordered
        .iter()
        .map(|record| SegmentState {
            id: record.message.id,
            seq: record.message.segment.map_or(0, |segment| segment.seq),
            state: record.state,
        })
        .collect();
    let states: Vec<DeliveryState> = segments.iter().map(|segment| segment.state).collect();
    let body: String = ordered
        .iter()
        .map(|record| record.message.content.body.as_str())
        .collect();
    let mut history: Vec<_> = ordered
        .iter()
        .flat_map(|record| record.history.iter().cloned())
        .collect();
    history.sort_by_key(|event| event.at);
    let mut message = first.message.clone();
    message.content = Arc::new(Content {
        body,
        udh: None,
        ..(*first.message.content).clone()
    });
    message.parts = members.len() as u32;
    message.price = crate::money::Money(
        members
            .iter()
            .map(|record| record.message.price.micros())
            .sum(),
    );
    Some(MessageRecord {
        message,
        state: group_state(&states),
        channel: ordered.first().and_then(|record| record.channel),
        history,
        conversions: first.conversions.clone(),
        segments: Some(segments),
        // Each segment is its own send of one part: every segment's, in the segments' order.
        sends: ordered
            .iter()
            .flat_map(|record| record.sends.iter().cloned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn waiting(seq: u8, accepted: &str) -> Waiting {
        Waiting {
            seq,
            accepted_at: at(accepted),
            valid_until: at("2026-01-02T00:00:00Z"),
        }
    }

    #[test]
    fn an_incomplete_group_waits_until_its_hold_ends_then_is_sent_as_it_is_in_order() {
        let group = [
            waiting(3, "2026-01-01T00:00:00Z"),
            waiting(1, "2026-01-01T00:01:00Z"),
        ];
        assert_eq!(
            group_due(3, &group, at("2026-01-01T00:05:00Z")),
            GroupDue::Wait {
                until: at("2026-01-01T00:10:00Z")
            }
        );
        assert_eq!(
            group_due(3, &group, at("2026-01-01T00:10:00Z")),
            GroupDue::Send { order: vec![1, 0] }
        );
    }

    #[test]
    fn a_complete_group_is_sent_at_once_in_order_with_a_number_given_twice_sent_twice() {
        let group = [
            waiting(2, "2026-01-01T00:00:00Z"),
            waiting(3, "2026-01-01T00:00:01Z"),
            waiting(2, "2026-01-01T00:00:02Z"),
            waiting(1, "2026-01-01T00:00:03Z"),
        ];
        assert_eq!(
            group_due(3, &group, at("2026-01-01T00:00:03Z")),
            GroupDue::Send {
                order: vec![3, 0, 2, 1]
            }
        );
    }

    #[test]
    fn the_hold_never_outlasts_a_segments_validity() {
        let mut early = waiting(1, "2026-01-01T00:00:00Z");
        early.valid_until = at("2026-01-01T00:02:00Z");
        let group = [early, waiting(2, "2026-01-01T00:00:00Z")];
        assert_eq!(
            group_due(3, &group, at("2026-01-01T00:01:00Z")),
            GroupDue::Wait {
                until: at("2026-01-01T00:02:00Z")
            }
        );
        assert_eq!(
            group_due(3, &group, at("2026-01-01T00:02:00Z")),
            GroupDue::Send { order: vec![0, 1] }
        );
    }

    #[test]
    fn a_group_is_logged_as_one_message_of_its_segments() {
        use crate::channel::Channel;
        use crate::error_code::Surface;
        use crate::message::{MessageId, NewMessage, Segment, StatusEvent};
        use crate::money::Money;
        use crate::status::CmStatus;
        let member = |id: &str, seq, body: &str, state, history: Vec<StatusEvent>| MessageRecord {
            message: NewMessage {
                id: MessageId::parse(id).unwrap(),
                account_id: 1,
                recipient: "0031612345678".into(),
                content: Arc::new(Content {
                    from: "Tern".into(),
                    body: body.into(),
                    body_type: None,
                    dcs: Some(0),
                    app_key: None,
                    rich_content: None,
                    custom_groupings: [None, None, None],
                    udh: Some(vec![0x05, 0x00, 0x03, 0x2A, 0x02, seq]),
                }),
                parts: 1,
                reference: None,
                channels: vec![Channel::Sms],
                accepted_at: at("2026-01-01T00:00:00Z"),
                valid_until: at("2026-01-02T00:00:00Z"),
                price: Money(75_000),
                source: Surface::Smpp,
                smpp_registered_delivery: 1,
                segment: Some(Segment {
                    reference: 0x2A,
                    total: 2,
                    seq,
                }),
            },
            state,
            channel: Some(Channel::Sms),
            history,
            conversions: Vec::new(),
            segments: None,
            sends: Vec::new(),
        };
        let delivered = |at_text: &str| StatusEvent {
            at: at(at_text),
            channel: Channel::Sms,
            status: CmStatus::Delivered,
            error_code: None,
            operator: None,
        };
        let ids = [
            "0195d3b2-c4e4-7a1b-9c3f-000000000001",
            "0195d3b2-c4e4-7a1b-9c3f-000000000002",
            "0195d3b2-c4e4-7a1b-9c3f-000000000003",
        ];
        // Stored 2, 1, 1 (the client sent 1 twice).
        let members = vec![
            member(
                ids[0],
                2,
                "world",
                DeliveryState::Delivered,
                vec![delivered("2026-01-01T00:00:05Z")],
            ),
            member(
                ids[1],
                1,
                "Hello, ",
                DeliveryState::Delivered,
                vec![delivered("2026-01-01T00:00:09Z")],
            ),
            member(ids[2], 1, "Hello, ", DeliveryState::Failed, Vec::new()),
        ];
        let group = group_record(members).unwrap();
        assert_eq!(group.message.id, MessageId::parse(ids[0]).unwrap());
        assert_eq!(group.message.content.body, "Hello, Hello, world");
        assert_eq!(group.message.content.udh, None);
        assert_eq!(
            (group.message.parts, group.message.price),
            (3, Money(225_000))
        );
        assert_eq!(group.state, DeliveryState::Failed);
        assert_eq!(
            group
                .history
                .iter()
                .map(|event| event.at)
                .collect::<Vec<_>>(),
            vec![at("2026-01-01T00:00:05Z"), at("2026-01-01T00:00:09Z")]
        );
        let segments: Vec<(MessageId, u8, DeliveryState)> = group
            .segments
            .unwrap()
            .into_iter()
            .map(|segment| (segment.id, segment.seq, segment.state))
            .collect();
        assert_eq!(
            segments,
            vec![
                (
                    MessageId::parse(ids[1]).unwrap(),
                    1,
                    DeliveryState::Delivered
                ),
                (MessageId::parse(ids[2]).unwrap(), 1, DeliveryState::Failed),
                (
                    MessageId::parse(ids[0]).unwrap(),
                    2,
                    DeliveryState::Delivered
                ),
            ]
        );
        assert_eq!(group_record(Vec::new()), None);
    }

    #[test]
    fn a_claims_segments_of_one_key_are_sent_together_in_order_at_the_first_ones_place() {
        use crate::channel::Channel;
        use crate::message::{MessageId, Segment};
        let dispatch = |recipient: &str, segment: Option<(u16, u8)>| Dispatch {
            id: MessageId::generate(),
            account_id: 1,
            attempt: 2,
            channel: Channel::Sms,
            recipient: recipient.into(),
            content: Arc::new(Content {
                from: "Tern".into(),
                body: "x".into(),
                body_type: None,
                dcs: None,
                app_key: None,
                rich_content: None,
                custom_groupings: [None, None, None],
                udh: None,
            }),
            parts: 1,
            reference: None,
            segment: segment.map(|(reference, seq)| Segment {
                reference,
                total: 3,
                seq,
            }),
            hold: crate::hold::Hold::ALWAYS,
        };
        let claimed = vec![
            dispatch("0031600000001", None),
            dispatch("0031600000002", Some((7, 3))),
            dispatch("0031600000003", Some((7, 1))),
            dispatch("0031600000002", Some((7, 1))),
            dispatch("0031600000001", None),
            dispatch("0031600000002", Some((7, 2))),
            dispatch("0031600000002", Some((8, 1))),
        ];
        let ids: Vec<MessageId> = claimed.iter().map(|dispatch| dispatch.id).collect();
        let ordered: Vec<MessageId> = send_order(claimed)
            .iter()
            .map(|dispatch| dispatch.id)
            .collect();
        assert_eq!(
            ordered,
            vec![ids[0], ids[3], ids[5], ids[1], ids[2], ids[4], ids[6]]
        );
    }

    #[test]
    fn a_group_is_as_far_as_its_least_advanced_segment() {
        use DeliveryState::*;
        assert_eq!(group_state(&[Delivered, Delivered]), Delivered);
        assert_eq!(group_state(&[Read, Read]), Read);
        assert_eq!(group_state(&[Read, Delivered]), Delivered);
        assert_eq!(group_state(&[Delivered, Sent, Queued]), Queued);
        assert_eq!(group_state(&[Accepted, Failed, Sent]), Sent);
        assert_eq!(group_state(&[Delivered, Expired, Failed]), Expired);
        assert_eq!(group_state(&[Failed, Delivered]), Failed);
        assert_eq!(group_state(&[]), Queued);
    }
}
