//! The delivery funnel: how far an account's messages got on each channel (accepted → sent →
//! delivered → read, and the failed and rejected ones), as the message-log web page charts it
//! (`GET /v1.0/messages/funnel`). The counting rule lives here, once: [`stages`] reads one
//! message's status history, and a store folds every message of a time range into a [`Funnel`]
//! with [`Funnel::add`] (it makes no decision of its own).
//!
//! A message reaches a channel when it is queued on it or a status of it names it: a WhatsApp
//! attempt that failed and then an SMS attempt is counted on both channels. On a channel it
//! reached, a message is
//! - `accepted`: always (Tern took it for that channel);
//! - `sent`: the channel took it: a status on that channel other than rejected (accepted by the
//!   operator, delivered, read, failed), or it is on that channel now in the `sent` state or later;
//! - `delivered`: a delivered or read status on that channel (read implies delivered);
//! - `read`: a read status on that channel;
//! - `failed`: a failed status on that channel and no delivered or read one (an expiry is
//!   reported as failed);
//! - `rejected`: a rejected status on that channel and no delivered or read one.

use crate::channel::Channel;
use crate::message::DeliveryState;
use crate::status::CmStatus;

/// What the funnel reads of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    /// The channel it is on now, or finished on.
    pub channel: Channel,
    pub state: DeliveryState,
    /// Its status history's channel and status, in order.
    pub history: Vec<(Channel, CmStatus)>,
}

/// The stages one message reached on one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reached {
    pub accepted: bool,
    pub sent: bool,
    pub delivered: bool,
    pub read: bool,
    pub failed: bool,
    pub rejected: bool,
}

/// The channels `journey` reached, in the order it reached them, each with the stages it got to
/// there (the rule is the module's documentation).
pub fn stages(journey: &Journey) -> Vec<(Channel, Reached)> {
    let mut reached: Vec<(Channel, Reached)> = Vec::new();
    for &(channel, status) in &journey.history {
        let index = reach(&mut reached, channel);
        let stage = &mut reached[index].1;
        match status {
            CmStatus::Accepted => stage.sent = true,
            CmStatus::Delivered => {
                stage.sent = true;
                stage.delivered = true;
            }
            CmStatus::Read => {
                stage.sent = true;
                stage.delivered = true;
                stage.read = true;
            }
            CmStatus::Failed => {
                stage.sent = true;
                stage.failed = true;
            }
            CmStatus::Rejected => stage.rejected = true,
        }
    }
    let current = reach(&mut reached, journey.channel);
    if matches!(
        journey.state,
        DeliveryState::Sent
            | DeliveryState::Accepted
            | DeliveryState::Delivered
            | DeliveryState::Read
    ) {
        reached[current].1.sent = true;
    }
    for (_, stage) in &mut reached {
        if stage.delivered {
            stage.failed = false;
            stage.rejected = false;
        }
    }
    reached
}

/// The index of `channel` in `reached`, added (accepted) when the message had not reached it.
fn reach(reached: &mut Vec<(Channel, Reached)>, channel: Channel) -> usize {
    match reached.iter().position(|(c, _)| *c == channel) {
        Some(index) => index,
        None => {
            reached.push((
                channel,
                Reached {
                    accepted: true,
                    ..Reached::default()
                },
            ));
            reached.len() - 1
        }
    }
}

/// The counts of one channel's funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFunnel {
    pub channel: Channel,
    pub accepted: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub rejected: u64,
}

impl ChannelFunnel {
    fn new(channel: Channel) -> Self {
        ChannelFunnel {
            channel,
            accepted: 0,
            sent: 0,
            delivered: 0,
            read: 0,
            failed: 0,
            rejected: 0,
        }
    }
}

/// The funnel of a set of messages: one [`ChannelFunnel`] per channel some message reached, in
/// [`Channel::ALL`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    channels: Vec<ChannelFunnel>,
    messages: u64,
}

impl Funnel {
    /// Count one message.
    pub fn add(&mut self, journey: &Journey) {
        self.messages += 1;
        for (channel, reached) in stages(journey) {
            let index = match self.channels.iter().position(|c| c.channel == channel) {
                Some(index) => index,
                None => {
                    let at = self
                        .channels
                        .iter()
                        .position(|c| c.channel > channel)
                        .unwrap_or(self.channels.len());
                    self.channels.insert(at, ChannelFunnel::new(channel));
                    at
                }
            };
            let counts = &mut self.channels[index];
            counts.accepted += u64::from(reached.accepted);
            counts.sent += u64::from(reached.sent);
            counts.delivered += u64::from(reached.delivered);
            counts.read += u64::from(reached.read);
            counts.failed += u64::from(reached.failed);
            counts.rejected += u64::from(reached.rejected);
        }
    }

    /// Each channel some message reached, in [`Channel::ALL`] order.
    pub fn channels(&self) -> &[ChannelFunnel] {
        &self.channels
    }

    /// How many messages were counted.
    pub fn messages(&self) -> u64 {
        self.messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journey(channel: Channel, state: DeliveryState, history: &[(Channel, CmStatus)]) -> Journey {
        Journey {
            channel,
            state,
            history: history.to_vec(),
        }
    }

    fn reached(flags: &str) -> Reached {
        Reached {
            accepted: flags.contains('A'),
            sent: flags.contains('S'),
            delivered: flags.contains('D'),
            read: flags.contains('R'),
            failed: flags.contains('F'),
            rejected: flags.contains('X'),
        }
    }

    #[test]
    fn each_state_of_one_channel_reaches_its_stages() {
        use Channel::Sms;
        use CmStatus::*;
        let cases = [
            (DeliveryState::Queued, vec![], "A"),
            (DeliveryState::Cancelled, vec![], "A"),
            (DeliveryState::Sent, vec![], "AS"),
            (DeliveryState::Accepted, vec![(Sms, Accepted)], "AS"),
            (
                DeliveryState::Delivered,
                vec![(Sms, Accepted), (Sms, Delivered)],
                "ASD",
            ),
            (
                DeliveryState::Read,
                vec![(Sms, Delivered), (Sms, Read)],
                "ASDR",
            ),
            (DeliveryState::Failed, vec![(Sms, Failed)], "ASF"),
            (DeliveryState::Expired, vec![(Sms, Failed)], "ASF"),
            (DeliveryState::Rejected, vec![(Sms, Rejected)], "AX"),
        ];
        for (state, history, flags) in cases {
            assert_eq!(
                stages(&journey(Sms, state, &history)),
                vec![(Sms, reached(flags))],
                "{state:?} {history:?}"
            );
        }
    }

    #[test]
    fn a_fallback_counts_on_both_channels_in_the_order_tried() {
        use Channel::{Sms, WhatsApp};
        let delivered = journey(
            Sms,
            DeliveryState::Delivered,
            &[(WhatsApp, CmStatus::Failed), (Sms, CmStatus::Delivered)],
        );
        assert_eq!(
            stages(&delivered),
            vec![(WhatsApp, reached("ASF")), (Sms, reached("ASD"))]
        );
        // Queued on SMS after WhatsApp failed: reached SMS, not yet sent there.
        let waiting = journey(Sms, DeliveryState::Queued, &[(WhatsApp, CmStatus::Failed)]);
        assert_eq!(
            stages(&waiting),
            vec![(WhatsApp, reached("ASF")), (Sms, reached("A"))]
        );
    }

    #[test]
    fn the_funnel_counts_per_channel_in_channel_order() {
        use Channel::{Sms, WhatsApp};
        let mut funnel = Funnel::default();
        funnel.add(&journey(
            Sms,
            DeliveryState::Delivered,
            &[(WhatsApp, CmStatus::Failed), (Sms, CmStatus::Delivered)],
        ));
        funnel.add(&journey(
            WhatsApp,
            DeliveryState::Read,
            &[(WhatsApp, CmStatus::Delivered), (WhatsApp, CmStatus::Read)],
        ));
        funnel.add(&journey(Sms, DeliveryState::Queued, &[]));
        assert_eq!(funnel.messages(), 3);
        assert_eq!(
            funnel.channels(),
            &[
                ChannelFunnel {
                    channel: Sms,
                    accepted: 2,
                    sent: 1,
                    delivered: 1,
                    read: 0,
                    failed: 0,
                    rejected: 0,
                },
                ChannelFunnel {
                    channel: WhatsApp,
                    accepted: 2,
                    sent: 2,
                    delivered: 1,
                    read: 1,
                    failed: 1,
                    rejected: 0,
                },
            ]
        );
    }
}
