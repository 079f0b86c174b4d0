//! The dispatcher: claims due messages under a lease, hands each to the connector its route names
//! ([`tern_core::routing::route`]: by channel, destination and account), and records whether the
//! channel took it; when it did not, the error's kind alone says what follows. A temporary error
//! tries the route's next connector (its failover) at once if there is one, else retries the
//! message on the same channel later; a permanent one falls back to the next channel at once
//! (never to a failover: the channel refused the message, not the link). A crash mid-send leaves
//! the lease to expire, and the message is claimed again (a new attempt, so late events of the
//! old one are ignored). A message whose number was blocked after it was queued is not sent: it
//! fails with error 37 ([`tern_core::blocklist::blocked_at_dispatch`]). The segments of a concatenated message that a claim hands on together
//! are sent one after the other, in the claim's order ([`runs`]); everything else side by side.
//! A claimed message is handed to a connector only while its claim still holds
//! ([`tern_core::hold`]: its lease, and on a shared store the node's); one that waited too long
//! (for a connector's room, or inside the connector) is left to the next claim, never sent by a
//! node that may have lost it to another. Messages intake hands over as it writes them
//! ([`tern_core::ports::IntakeStore::hand_fresh_messages`], [`crate::handoff`]), claimed
//! already, are sent before anything is claimed; while they come, claims run every
//! [`CLAIM_EVERY`] for the rest (retries, fallbacks, what was written while there was no room).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use jiff::{SignedDuration, Timestamp};
use tern_core::account::AccountId;
use tern_core::blocklist;
use tern_core::dispatch::{Event, ExternalIds};
use tern_core::hold::{Hold, Tenure};
use tern_core::message::MessageId;
use tern_core::metrics::{DispatchOutcome, DispatchTally};
use tern_core::ports::{
    AwaitingReport, BlocklistStore, ConnectorError, ConnectorHealth, Dispatch, ErrorKind,
    ErrorOrigin, EventSink, FreshMessages, IntakeStore, Store,
};
use tern_core::routing::{ConnectorName, RoutingTable, route};
use tokio::sync::watch;

use crate::Wakeups;
use crate::connectors::{ConnectorRegistry, Registered};
use crate::events::ChannelSink;
use crate::handoff::{CLAIM_EVERY, Handoff};

/// While many submitted messages wait on the store, egress batches are this many times smaller.
pub const INTAKE_SHARE: usize = 8;

/// An egress batch of `normal` items, or an [`INTAKE_SHARE`]th of it while at least half as many
/// submitted messages wait on the store: a burst of submissions is then taken in first, and
/// delivery goes on, slower. (A trickle of submissions does not shrink the batches: many small
/// batches cost more per message.)
pub fn egress_batch(intake: &dyn IntakeStore, normal: usize) -> usize {
    if intake.intake_waiting() >= normal / 2 {
        (normal / INTAKE_SHARE).max(1)
    } else {
        normal
    }
}

/// The dispatcher's room for messages intake hands it ([`IntakeStore::hand_fresh_messages`])
/// while its batches are `limit` messages: one batch being sent and one waiting. During a burst
/// of submissions the batches shrink ([`egress_batch`]) and so does the room: what intake writes
/// beyond it waits in the store, as every message did before, and intake keeps the writer.
fn handed_room(limit: usize) -> usize {
    limit.saturating_mul(2)
}

/// Messages intake hands the dispatcher, claimed already: held from when their lease began.
impl FreshMessages for Handoff<Dispatch> {
    fn lease(&self) -> SignedDuration {
        Handoff::lease(self)
    }

    fn reserve(&self) -> bool {
        Handoff::reserve(self)
    }

    fn unreserve(&self, count: usize) {
        self.release(count);
    }

    fn hand(&self, messages: Vec<Dispatch>, leased_from: Instant) {
        self.push(messages, leased_from);
    }
}

/// When a message whose lease ran short before it was sent is due again.
const LEASE_RAN_SHORT_RETRY: Duration = Duration::from_millis(250);

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Most messages claimed at once.
    pub batch_size: usize,
    /// How long a claim holds a message before another claim may take it.
    pub lease: SignedDuration,
    /// Longest sleep when idle (another node or process may add work).
    pub idle_poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            batch_size: 512,
            lease: SignedDuration::from_secs(60),
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// Claims and sends.
pub struct Dispatcher {
    /// The queue it claims from, and the intake whose backlog slows it during a burst.
    pub store: Arc<dyn Store>,
    /// The connectors by name; every one `routes` names is here ([`ConnectorRegistry::serves`]).
    pub connectors: ConnectorRegistry,
    /// Which connectors take which messages.
    pub routes: RoutingTable,
    pub wakeups: Arc<Wakeups>,
    pub settings: DispatchSettings,
    /// Where the outcome of each send goes (the event applier, which records it).
    pub events: ChannelSink,
    /// The numbers accounts may not send to (looked up for every claim).
    pub blocklist: Arc<dyn BlocklistStore>,
    /// This node's leases on a shared store (renewed by its heartbeats); `None` on the embedded
    /// store, where only the claims' own leases end.
    pub tenure: Option<Arc<Tenure>>,
}

/// Why a claimed message is not sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Its number is blocked: it fails with error 37.
    Blocked,
    /// The blocklist could not be read: tried again later.
    Unknown,
}

impl Dispatcher {
    /// Re-arm connectors for messages whose reports were awaited when the gateway stopped.
    pub async fn resume(&self) {
        match self.store.awaiting_report().await {
            Ok(awaiting) => {
                for awaited in &awaiting {
                    if let Some(registered) = resumes_on(&self.connectors, &self.routes, awaited) {
                        registered.connector.resume(&awaited.message);
                    }
                }
                if !awaiting.is_empty() {
                    tracing::info!(count = awaiting.len(), "resumed messages awaiting reports");
                }
            }
            Err(error) => tracing::error!(%error, "cannot list messages awaiting reports"),
        }
    }

    /// Start the connectors, run until `shutdown` turns true (a batch in progress is finished and
    /// recorded first), then drain the connectors. What they report meanwhile goes to the sink:
    /// stop the event applier only after this returns.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.connectors.start().await;
        self.resume().await;
        let handoff = self.take_fresh_messages();
        let lease = self.settings.lease.unsigned_abs();
        let mut last_claim: Option<Instant> = None;
        while !*shutdown.borrow() {
            if self.wakeups.take_resume() {
                self.resume().await;
            }
            let limit = egress_batch(&*self.store, self.settings.batch_size);
            // Messages intake handed over as it wrote them (claimed already), up to a batch.
            let mut handed: Vec<Dispatch> = Vec::new();
            if let Some(handoff) = &handoff {
                handoff.set_room(handed_room(limit));
                while handed.len() < limit {
                    let Some((leased_from, mut message)) = handoff.next() else {
                        break;
                    };
                    message.hold = Hold::claimed(leased_from, lease, self.tenure.as_ref());
                    handed.push(message);
                }
            }
            let handed_count = handed.len();
            // While handed messages come, claims (retries, fallbacks, what intake wrote while
            // there was no room) run only every so often.
            let claim_now =
                handed.is_empty() || last_claim.is_none_or(|at| at.elapsed() >= CLAIM_EVERY);
            let mut claimed = if claim_now {
                // Taken before the claim is asked for: the store's lease begins later than this.
                let asked = Instant::now();
                last_claim = Some(asked);
                let claimed = match self
                    .store
                    .claim_due(Timestamp::now(), limit, self.settings.lease)
                    .await
                {
                    Ok(mut claimed) => {
                        let hold = Hold::claimed(asked, lease, self.tenure.as_ref());
                        for message in &mut claimed {
                            message.hold = hold.clone();
                        }
                        claimed
                    }
                    Err(error) => {
                        tracing::error!(%error, "claiming due messages failed");
                        Vec::new()
                    }
                };
                // Claiming may have expired messages, which makes reports.
                self.wakeups.outbox_written();
                claimed
            } else {
                Vec::new()
            };
            // A claim may hold a group of segments beyond the limit.
            let full = claimed.len() >= limit;
            // Never segments: each handed message is a run of its own.
            claimed.extend(handed);
            if !claimed.is_empty() {
                let dispatcher = &self;
                let held = &self.held(&claimed).await;
                // Runs are sent side by side; the segments of one run one after the other.
                let sends = runs(&claimed).into_iter().map(|run| async move {
                    let mut events = Vec::with_capacity(run.len());
                    for message in run {
                        let (event, connector) = match held.get(&message.id) {
                            Some(Held::Blocked) => {
                                tracing::info!(id = %message.id, channel = %message.channel, "number blocked since the message was queued: not sent");
                                (blocklist::blocked_at_dispatch(message.attempt), None)
                            }
                            Some(Held::Unknown) => (
                                Event::Deferred {
                                    attempt: message.attempt,
                                    retry_after: None,
                                },
                                None,
                            ),
                            None => {
                                send_via_route(&dispatcher.connectors, &dispatcher.routes, message)
                                    .await
                            }
                        };
                        events.push((message.id, message.channel, connector, event));
                    }
                    events
                });
                // Each run's outcome is recorded as soon as it is known (a receipt that follows
                // a send closely then often lands in the same batch of events as the send).
                let mut sends: FuturesUnordered<_> = sends.collect();
                let mut tally = DispatchTally::default();
                while let Some(events) = sends.next().await {
                    for (id, channel, connector, event) in events {
                        tally.add(channel, connector.as_ref(), dispatch_outcome(&event));
                        self.events.emit(id, event);
                    }
                }
                tally.flush();
                if let Some(handoff) = &handoff {
                    handoff.release(handed_count);
                }
                // Claim more only once what was sent is (nearly all) recorded: the claims hold
                // leases, and a send must be recorded before its lease ends.
                self.events.wait_below(limit).await;
            }
            if full || handed_count > 0 {
                continue;
            }
            let sleep = self.idle_sleep().await;
            let arrived = async {
                match &handoff {
                    Some(handoff) => handoff.arrived.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.wakeups.dispatch.notified() => {}
                _ = arrived => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
        if let Some(handoff) = &handoff {
            // Messages handed from now on stay claimed: claimed again when their lease ends,
            // or after a restart releases this node's leases.
            handoff.close();
        }
        self.connectors.drain().await;
        tracing::debug!("dispatcher stopped; connectors drained");
    }

    /// The dispatcher asks the store for the messages intake writes ([`Handoff`]); `None` when
    /// the store hands none.
    fn take_fresh_messages(&self) -> Option<Arc<Handoff<Dispatch>>> {
        let handoff = Arc::new(Handoff::new(
            self.settings.lease,
            handed_room(self.settings.batch_size),
        ));
        self.store
            .hand_fresh_messages(Arc::clone(&handoff) as Arc<dyn FreshMessages>)
            .then_some(handoff)
    }

    /// The claimed messages not to send now: those whose number is blocked for their account,
    /// and those of an account whose lists could not be read.
    async fn held(&self, claimed: &[Dispatch]) -> HashMap<MessageId, Held> {
        if self.blocklist.known_empty() {
            return HashMap::new();
        }
        let mut by_account: HashMap<AccountId, Vec<&Dispatch>> = HashMap::new();
        for message in claimed {
            by_account
                .entry(message.account_id)
                .or_default()
                .push(message);
        }
        let mut held = HashMap::new();
        for (account, messages) in by_account {
            let numbers: Vec<String> = messages
                .iter()
                .filter_map(|message| blocklist::recipient_key(&message.recipient))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            match self.blocklist.blocked_among(account, numbers).await {
                Ok(blocked) if blocked.is_empty() => {}
                Ok(blocked) => {
                    let blocked: HashSet<String> = blocked.into_iter().collect();
                    for message in messages {
                        if blocklist::recipient_key(&message.recipient)
                            .is_some_and(|key| blocked.contains(&key))
                        {
                            held.insert(message.id, Held::Blocked);
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(%error, account, "blocklist lookup failed; sending later");
                    for message in messages {
                        held.insert(message.id, Held::Unknown);
                    }
                }
            }
        }
        held
    }

    async fn idle_sleep(&self) -> Duration {
        match self.store.next_due().await {
            Ok(Some(due)) => {
                let wait = due.duration_since(Timestamp::now());
                Duration::try_from(wait)
                    .unwrap_or(Duration::ZERO)
                    .min(self.settings.idle_poll)
            }
            _ => self.settings.idle_poll,
        }
    }
}

/// A claim cut into what is sent side by side: each segment group the claim handed on together
/// (consecutive segments of one key, in their order) is one run, sent one after the other so
/// that the channel is handed them in order; every other message is a run of its own.
pub fn runs(claimed: &[Dispatch]) -> Vec<&[Dispatch]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for index in 1..=claimed.len() {
        let joins = index < claimed.len() && {
            let key = claimed[index].segment_key();
            key.is_some() && key == claimed[start].segment_key()
        };
        if !joins {
            runs.push(&claimed[start..index]);
            start = index;
        }
    }
    runs
}

/// The connector a message awaiting its report is resumed on: the one that took it, or, when
/// that is not known (sent by an earlier Tern) or no longer configured, its route's primary.
pub fn resumes_on<'c>(
    connectors: &'c ConnectorRegistry,
    routes: &RoutingTable,
    awaited: &AwaitingReport,
) -> Option<&'c Registered> {
    if let Some(name) = &awaited.connector {
        match connectors.get(name) {
            Some(registered) => return Some(registered),
            None => {
                tracing::warn!(id = %awaited.message.id, connector = %name, "the connector that took this message is no longer configured; its report is awaited on its route's primary")
            }
        }
    }
    let message = &awaited.message;
    route(
        routes,
        message.channel,
        &message.recipient,
        message.account_id,
    )
    .ok()
    .and_then(|names| names.first())
    .and_then(|name| connectors.get(name))
}

/// Hand `message` to the connectors of its route in turn, the next one only after a
/// temporary error of the one before; the event that records the outcome. A connector that says
/// it is down (or draining) is not handed the message: that counts as a temporary error of it, so
/// its failover is tried, and with none left the message waits on its channel.
pub async fn send_on_route(
    connectors: &ConnectorRegistry,
    routes: &RoutingTable,
    message: &Dispatch,
) -> Event {
    send_via_route(connectors, routes, message).await.0
}

/// What a send's event counts as in `tern_dispatch_total`.
fn dispatch_outcome(event: &Event) -> DispatchOutcome {
    match event {
        Event::Sent { .. } => DispatchOutcome::Sent,
        Event::Deferred { .. } => DispatchOutcome::Deferred,
        _ => DispatchOutcome::Failed,
    }
}

/// [`send_on_route`], with the name of the connector the message was last handed to (none when
/// the route named none that could be found).
async fn send_via_route(
    connectors: &ConnectorRegistry,
    routes: &RoutingTable,
    message: &Dispatch,
) -> (Event, Option<ConnectorName>) {
    let names = match route(
        routes,
        message.channel,
        &message.recipient,
        message.account_id,
    ) {
        Ok(names) => names,
        Err(error) => {
            let event = failed(
                message,
                ConnectorError::permanent(ErrorOrigin::Tern, None, error.to_string()),
            );
            return (event, None);
        }
    };
    for (index, name) in names.iter().enumerate() {
        let Some(registered) = connectors.get(name) else {
            let event = failed(
                message,
                ConnectorError::permanent(
                    ErrorOrigin::Tern,
                    None,
                    format!("no connector named {name}"),
                ),
            );
            return (event, None);
        };
        let result = match registered.connector.health() {
            // Wait for room: a slow connector gets at most its capacity of a claim at a time.
            ConnectorHealth::Up => match registered.room().await {
                Ok(_permit) if !message.hold.holds() => return (lease_ran_short(message), None),
                Ok(_permit) => registered.connector.send(message).await,
                Err(draining) => Err(ConnectorError::temporary(
                    ErrorOrigin::Tern,
                    None,
                    draining.to_string(),
                )),
            },
            ConnectorHealth::Down {
                reason,
                retry_after,
            } => Err(ConnectorError::temporary(
                ErrorOrigin::Network,
                retry_after,
                format!("connector {name} is down: {reason}"),
            )),
            ConnectorHealth::Draining => Err(ConnectorError::temporary(
                ErrorOrigin::Tern,
                None,
                format!("connector {name} is draining"),
            )),
            // Another node sends it: deferred here, not failed over.
            ConnectorHealth::Elsewhere {
                reason,
                retry_after,
            } => {
                let event = failed(
                    message,
                    ConnectorError::temporary(
                        ErrorOrigin::Tern,
                        Some(retry_after),
                        format!("connector {name} is carried by other nodes: {reason}"),
                    ),
                );
                return (event, Some(Arc::clone(name)));
            }
        };
        match result {
            Ok(sent) => {
                let event = Event::Sent {
                    attempt: message.attempt,
                    external_ids: ExternalIds {
                        connector: Arc::clone(name),
                        part_ids: sent.external_ids,
                        given_ids: sent.given_ids,
                    },
                };
                return (event, Some(Arc::clone(name)));
            }
            // The connector waited (for its rate, its window) until the message was no longer
            // this node's: the next claim sends it, on whichever connector is then first.
            Err(_) if !message.hold.holds() => {
                return (lease_ran_short(message), Some(Arc::clone(name)));
            }
            Err(error)
                if matches!(error.kind, ErrorKind::Temporary { .. }) && index + 1 < names.len() =>
            {
                tracing::info!(id = %message.id, channel = %message.channel, connector = %name, failover = %names[index + 1], %error, "send failed for now; trying the failover");
            }
            Err(error) => return (failed(message, error), Some(Arc::clone(name))),
        }
    }
    // Not reached: a route names at least one connector, and the last one's error returns.
    let event = failed(
        message,
        ConnectorError::permanent(ErrorOrigin::Tern, None, "route without connectors"),
    );
    (event, None)
}

/// The event of a send that failed with `error`, logged.
/// A claimed message not sent because its lease ran short ([`tern_core::hold`]): due again soon,
/// when it is still this attempt (no other claim took it meanwhile, which is ignored then).
fn lease_ran_short(message: &Dispatch) -> Event {
    tracing::warn!(id = %message.id, channel = %message.channel, attempt = message.attempt, "the message's lease ran short before it was sent: not sent here, left to the next claim");
    Event::Deferred {
        attempt: message.attempt,
        retry_after: Some(LEASE_RAN_SHORT_RETRY),
    }
}

fn failed(message: &Dispatch, error: ConnectorError) -> Event {
    let event = error.event(message.attempt);
    match event {
        Event::Deferred { .. } => {
            tracing::info!(id = %message.id, channel = %message.channel, %error, "send failed for now; retrying on the same channel later")
        }
        _ => {
            tracing::warn!(id = %message.id, channel = %message.channel, %error, "send failed; falling back")
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use tern_core::channel::Channel;
    use tern_core::error_code::DeliveryError;
    use tern_core::ports::{Connector, Sent};
    use tern_core::routing::RouteRule;

    use super::*;

    #[test]
    fn a_claim_runs_each_group_of_segments_together_and_every_other_message_alone() {
        use tern_core::message::Segment;
        let segment = |reference, seq| {
            let mut message = crate::test_support::dispatch(1);
            message.segment = Some(Segment {
                reference,
                total: 2,
                seq,
            });
            message
        };
        let mut other_recipient = segment(7, 1);
        other_recipient.recipient = "0031600000000".into();
        let claimed = vec![
            crate::test_support::dispatch(1),
            crate::test_support::dispatch(1),
            segment(7, 1),
            segment(7, 2),
            segment(8, 1),
            other_recipient,
            crate::test_support::dispatch(1),
        ];
        let lengths: Vec<usize> = runs(&claimed).iter().map(|run| run.len()).collect();
        assert_eq!(lengths, [1, 1, 2, 1, 1, 1]);
        assert_eq!(runs(&claimed)[2][1].id, claimed[3].id);
        assert!(runs(&[]).is_empty());
    }

    /// A connector that answers every send with one result, and counts its sends.
    struct Scripted {
        name: &'static str,
        answer: Result<Sent, ConnectorError>,
        sends: Mutex<u32>,
        health: ConnectorHealth,
    }

    #[async_trait]
    impl Connector for Scripted {
        fn name(&self) -> Arc<str> {
            self.name.into()
        }
        async fn send(&self, _message: &Dispatch) -> Result<Sent, ConnectorError> {
            *self.sends.lock().unwrap() += 1;
            self.answer.clone()
        }
        fn health(&self) -> ConnectorHealth {
            self.health.clone()
        }
    }

    fn scripted(name: &'static str, answer: Result<Sent, ConnectorError>) -> Arc<Scripted> {
        Arc::new(Scripted {
            name,
            answer,
            sends: Mutex::new(0),
            health: ConnectorHealth::Up,
        })
    }

    /// A connector that says it is down (and would take the message if it were handed it).
    fn down(name: &'static str) -> Arc<Scripted> {
        Arc::new(Scripted {
            name,
            answer: took("never"),
            sends: Mutex::new(0),
            health: ConnectorHealth::Down {
                reason: "not bound".into(),
                retry_after: None,
            },
        })
    }

    fn took(id: &str) -> Result<Sent, ConnectorError> {
        Ok(Sent {
            external_ids: vec![id.into()],
            given_ids: Vec::new(),
        })
    }

    fn throttled() -> Result<Sent, ConnectorError> {
        Err(ConnectorError::temporary(
            ErrorOrigin::Provider,
            Some(Duration::from_secs(2)),
            "throttled",
        ))
    }

    fn refused() -> Result<Sent, ConnectorError> {
        Err(ConnectorError::permanent(
            ErrorOrigin::Provider,
            Some(DeliveryError::RecipientUnreachable),
            "refused",
        ))
    }

    fn message() -> Dispatch {
        crate::test_support::dispatch(3)
    }

    /// The event of sending on a route of `connectors`, in order.
    async fn send_via(connectors: &[Arc<Scripted>]) -> Event {
        send_held(connectors, Hold::ALWAYS).await
    }

    /// [`send_via`] a message held by `hold`.
    async fn send_held(connectors: &[Arc<Scripted>], hold: Hold) -> Event {
        let registry = ConnectorRegistry::new(
            connectors
                .iter()
                .map(|connector| Arc::clone(connector) as Arc<dyn Connector>),
        )
        .unwrap();
        let routes = RoutingTable::new(vec![RouteRule::new(
            Channel::Sms,
            connectors
                .iter()
                .map(|connector| connector.name())
                .collect(),
        )])
        .unwrap();
        let message = Dispatch { hold, ..message() };
        send_on_route(&registry, &routes, &message).await
    }

    fn sent_by(connector: &str, id: &str) -> Event {
        Event::Sent {
            attempt: 3,
            external_ids: ExternalIds {
                connector: connector.into(),
                part_ids: vec![id.into()],
                given_ids: Vec::new(),
            },
        }
    }

    #[tokio::test]
    async fn the_primary_takes_it_when_it_can() {
        let (primary, failover) = (scripted("a", took("a-1")), scripted("b", took("b-1")));
        assert_eq!(
            send_via(&[primary, Arc::clone(&failover)]).await,
            sent_by("a", "a-1")
        );
        assert_eq!(*failover.sends.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_temporary_error_tries_the_failovers_in_order() {
        let connectors = [
            scripted("a", throttled()),
            scripted("b", throttled()),
            scripted("c", took("c-1")),
        ];
        assert_eq!(send_via(&connectors).await, sent_by("c", "c-1"));
    }

    #[tokio::test]
    async fn a_temporary_error_of_the_last_connector_defers() {
        let connectors = [scripted("a", throttled()), scripted("b", throttled())];
        assert_eq!(
            send_via(&connectors).await,
            Event::Deferred {
                attempt: 3,
                retry_after: Some(Duration::from_secs(2))
            }
        );
    }

    #[tokio::test]
    async fn a_permanent_error_falls_back_without_trying_the_failover() {
        let failover = scripted("b", took("b-1"));
        assert_eq!(
            send_via(&[scripted("a", refused()), Arc::clone(&failover)]).await,
            Event::SendFailed {
                attempt: 3,
                error_code: Some(DeliveryError::RecipientUnreachable)
            }
        );
        assert_eq!(*failover.sends.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_connector_that_is_down_is_passed_over_for_its_failover() {
        let primary = down("a");
        assert_eq!(
            send_via(&[Arc::clone(&primary), scripted("b", took("b-1"))]).await,
            sent_by("b", "b-1")
        );
        assert_eq!(*primary.sends.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_route_whose_connectors_are_all_down_defers_without_sending() {
        let primary = down("a");
        assert_eq!(
            send_via(&[Arc::clone(&primary)]).await,
            Event::Deferred {
                attempt: 3,
                retry_after: None
            }
        );
        assert_eq!(*primary.sends.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_connector_carried_by_other_nodes_defers_without_trying_the_failover() {
        let primary = Arc::new(Scripted {
            name: "a",
            answer: took("never"),
            sends: Mutex::new(0),
            health: ConnectorHealth::Elsewhere {
                reason: "this node holds none of its 2 binds".into(),
                retry_after: Duration::from_millis(250),
            },
        });
        let failover = scripted("b", took("b-1"));
        assert_eq!(
            send_via(&[Arc::clone(&primary), Arc::clone(&failover)]).await,
            Event::Deferred {
                attempt: 3,
                retry_after: Some(Duration::from_millis(250))
            }
        );
        assert_eq!(*primary.sends.lock().unwrap(), 0);
        assert_eq!(*failover.sends.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_message_whose_lease_ran_short_is_handed_to_no_connector() {
        let (primary, failover) = (scripted("a", took("a-1")), scripted("b", took("b-1")));
        let lapsed = Hold::claimed(
            Instant::now() - Duration::from_secs(60),
            Duration::from_secs(60),
            None,
        );
        assert_eq!(
            send_held(&[Arc::clone(&primary), Arc::clone(&failover)], lapsed).await,
            Event::Deferred {
                attempt: 3,
                retry_after: Some(LEASE_RAN_SHORT_RETRY)
            }
        );
        assert_eq!(*primary.sends.lock().unwrap(), 0);
        assert_eq!(*failover.sends.lock().unwrap(), 0);
    }

    /// A connector whose send waits (its rate, its window) before it looks at the lease.
    struct Slow;

    #[async_trait]
    impl Connector for Slow {
        fn name(&self) -> Arc<str> {
            "slow".into()
        }
        async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
            tokio::time::sleep(Duration::from_millis(100)).await;
            message.hold.ensure()?;
            took("slow-1")
        }
    }

    #[tokio::test]
    async fn a_lease_that_ran_short_in_a_connectors_wait_tries_no_failover() {
        let failover = scripted("b", took("b-1"));
        let registry = ConnectorRegistry::new([
            Arc::new(Slow) as Arc<dyn Connector>,
            Arc::clone(&failover) as Arc<dyn Connector>,
        ])
        .unwrap();
        let routes = RoutingTable::new(vec![RouteRule::new(
            Channel::Sms,
            vec!["slow".into(), "b".into()],
        )])
        .unwrap();
        // Two thirds of 75 ms may begin a send: the connector's wait outlasts it.
        let hold = Hold::claimed(Instant::now(), Duration::from_millis(75), None);
        let message = Dispatch { hold, ..message() };
        assert_eq!(
            send_on_route(&registry, &routes, &message).await,
            Event::Deferred {
                attempt: 3,
                retry_after: Some(LEASE_RAN_SHORT_RETRY)
            }
        );
        assert_eq!(*failover.sends.lock().unwrap(), 0);
        // Held long enough, the same connector takes it.
        let message = Dispatch {
            hold: Hold::claimed(Instant::now(), Duration::from_secs(60), None),
            ..message
        };
        assert_eq!(
            send_on_route(&registry, &routes, &message).await,
            sent_by("slow", "slow-1")
        );
    }

    #[test]
    fn a_message_is_resumed_on_the_connector_that_took_it() {
        let connectors = [scripted("a", took("a-1")), scripted("b", took("b-1"))];
        let registry = ConnectorRegistry::new(
            connectors
                .iter()
                .map(|connector| Arc::clone(connector) as Arc<dyn Connector>),
        )
        .unwrap();
        let routes = RoutingTable::new(vec![RouteRule::new(
            Channel::Sms,
            vec!["a".into(), "b".into()],
        )])
        .unwrap();
        let resumed = |connector: Option<&str>| {
            let awaited = AwaitingReport {
                message: message(),
                connector: connector.map(Arc::from),
            };
            resumes_on(&registry, &routes, &awaited).map(|registered| registered.connector.name())
        };
        assert_eq!(resumed(Some("b")), Some("b".into()));
        // Not known, or no longer configured: the route's primary.
        assert_eq!(resumed(None), Some("a".into()));
        assert_eq!(resumed(Some("gone")), Some("a".into()));
    }

    #[tokio::test]
    async fn no_route_falls_back() {
        let registry = ConnectorRegistry::default();
        let routes = RoutingTable::new(Vec::new()).unwrap();
        assert_eq!(
            send_on_route(&registry, &routes, &message()).await,
            Event::SendFailed {
                attempt: 3,
                error_code: None
            }
        );
    }
}
