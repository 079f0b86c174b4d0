//! The outbox runner: claims due entries from the durable outbox (at most one per ordering key,
//! so a message's reports arrive in order), hands each to the sender of its kind (see
//! [`crate::senders`]), and records the outcomes in batches. An entry its sender could not
//! deliver (a receiver that answers non-2xx, 3xx included, or times out) is retried with
//! exponential backoff until it is older than the retry window (7 days by default); nothing is
//! dropped early. Inbound webhooks have a schedule of their own (`[inbound]`: every 5 minutes,
//! for up to 30 days by default). An entry its sender abandons (a target refused by
//! `[webhooks]`, see [`crate::webhook_target`]; an account without a status URL any more) is
//! removed at once.
//! The webhook runner also takes *fresh* entries straight from the store as events write them
//! ([`OutboxStore::hand_fresh_entries`], [`Handoff`]): written already leased to this node and
//! handed over once durable, they cost no claim (no query for due heads, no lease written, no
//! fact read back), while claims still find everything else (retries, entries written while the
//! runner had no room, entries behind another of their key, leases that ran out).
//! Delivery is at-least-once: every delivery of an entry carries the same stable id
//! (`X-Tern-Report-Id`, and `reportId`/`REPORTID` in a report's body) so a receiver can drop one
//! it already took.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use tern_core::metrics::{self, ReportOutcome};
use tern_core::outbox::{ClaimedEntry, EntryFilter, EntryId, OutboxKind, Outcome};
use tern_core::ports::{FreshEntries, OutboxStore, SmppReceivers};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Wakeups;
use crate::handoff::{CLAIM_EVERY, Handoff};
use crate::http_client::HttpClient;
use crate::inbound::InboundConfig;
use crate::senders::{
    Delivery, InboundWebhookSender, OutboxSender, RenderedWebhookSender, SmppMoSender,
    SmppReceiptSender, StatusWebhookSender, WebhookPoster,
};
use crate::webhook_target::TargetPolicy;

pub use crate::senders::REPORT_ID_HEADER;

/// The target of the outbox's logs (the senders' too): the name operators filter on.
pub(crate) const LOG_TARGET: &str = "tern_egress::notifier";

/// `[status_reports]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    /// Time allowed for one delivery (one POST).
    pub timeout_ms: u64,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff_ms: u64,
    /// Longest wait between retries.
    pub max_backoff_ms: u64,
    /// Entries older than this are given up.
    pub max_age_hours: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            timeout_ms: 10_000,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 3_600_000,
            max_age_hours: 7 * 24,
            concurrency: 128,
        }
    }
}

impl NotifierConfig {
    /// When to try again an entry created at `created_at` after its `failures`-th failed
    /// delivery (1 for the first), or `None` to give up: the initial backoff after the first,
    /// doubled after each further one, at most the cap.
    pub fn retry_after(
        &self,
        failures: u32,
        created_at: Timestamp,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let exponent = failures.saturating_sub(1).min(30);
        let backoff = self
            .initial_backoff_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_backoff_ms);
        let next = now + SignedDuration::from_millis(backoff as i64);
        let deadline = created_at + SignedDuration::from_hours(self.max_age_hours as i64);
        (next <= deadline).then_some(next)
    }
}

/// Runs the outbox: claims due entries and hands each to the sender of its kind.
pub struct Notifier {
    store: Arc<dyn OutboxStore>,
    wakeups: Arc<Wakeups>,
    config: NotifierConfig,
    senders: HashMap<OutboxKind, Arc<dyn OutboxSender>>,
    /// The webhook POSTer of the webhook runner (`None` for the receipts').
    poster: Option<Arc<WebhookPoster>>,
    /// Inbound webhooks' own schedule (a fixed interval, a window of their own), when this
    /// runner delivers them.
    inbound: Option<InboundConfig>,
    role: Role,
}

/// Which entries a runner claims.
enum Role {
    /// Every entry of its senders' kinds (the webhooks), woken by `Wakeups::reports`.
    Webhooks,
    /// SMPP receipts, only those of accounts with a receiver bound on this node, woken by
    /// `Wakeups::receipts` and by a bind; those nobody bound for within the retry window are
    /// expired (they are never claimed, so never given up otherwise).
    Receipts(Arc<dyn SmppReceivers>),
}

/// How long a claimed SMPP receipt stays leased: it may wait for room in a bind's window, then
/// for the client's response (at most the server's response timeout), before it is recorded.
const RECEIPT_LEASE: SignedDuration = SignedDuration::from_mins(10);
/// How often receipts past their retry window are expired.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// The wait before an entry nobody could take ([`Delivery::Unreachable`]) is tried again.
const UNREACHABLE_RETRY: SignedDuration = SignedDuration::from_secs(1);
/// Receipts handed to sessions at once (each bind's window bounds those on the wire).
const RECEIPTS_IN_FLIGHT: usize = 2048;

/// The webhook runner's side of fresh entries ([`OutboxStore::hand_fresh_entries`],
/// [`crate::handoff`]): the kinds it takes, and room for its concurrency plus
/// [`HANDED_WAITING`] entries per delivery in flight: entries keep coming while every delivery
/// is taken, and one that waits in memory still costs no claim. Deliveries in flight stay at
/// the runner's concurrency.
struct EntryHandoff {
    kinds: Vec<OutboxKind>,
    entries: Handoff<ClaimedEntry>,
}

/// Entries the webhook runner keeps waiting in memory per delivery it may have in flight.
const HANDED_WAITING: usize = 4;

impl EntryHandoff {
    fn new(kinds: Vec<OutboxKind>, lease: SignedDuration, concurrency: usize) -> EntryHandoff {
        EntryHandoff {
            kinds,
            entries: Handoff::new(lease, concurrency.saturating_mul(1 + HANDED_WAITING)),
        }
    }
}

impl std::ops::Deref for EntryHandoff {
    type Target = Handoff<ClaimedEntry>;

    fn deref(&self) -> &Handoff<ClaimedEntry> {
        &self.entries
    }
}

impl FreshEntries for EntryHandoff {
    fn takes(&self, kind: OutboxKind) -> bool {
        self.kinds.contains(&kind)
    }

    fn lease(&self) -> SignedDuration {
        self.entries.lease()
    }

    fn reserve(&self) -> bool {
        self.entries.reserve()
    }

    fn unreserve(&self, count: usize) {
        self.entries.release(count);
    }

    fn hand(&self, entries: Vec<ClaimedEntry>) {
        // The lease began before the entries' transaction was durable; close enough for entries
        // (a webhook's delivery is recorded well within the lease's last third).
        self.entries.push(entries, Instant::now());
    }
}

impl Notifier {
    /// A runner with the senders every gateway has: status reports POSTed with `client`, to the
    /// targets `[webhooks]` allows.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        client: HttpClient,
        wakeups: Arc<Wakeups>,
        config: NotifierConfig,
        targets: TargetPolicy,
    ) -> Notifier {
        let poster = Arc::new(WebhookPoster::new(
            client,
            targets,
            Duration::from_millis(config.timeout_ms),
        ));
        Notifier {
            store,
            wakeups,
            config,
            senders: HashMap::new(),
            poster: Some(Arc::clone(&poster)),
            inbound: None,
            role: Role::Webhooks,
        }
        .with_sender(Arc::new(StatusWebhookSender::new(Arc::clone(&poster))))
        .with_sender(Arc::new(RenderedWebhookSender::new(poster)))
    }

    /// The webhook runner also delivers inbound (MO) messages to their accounts' inbound URLs
    /// ([`InboundWebhookSender`]), on their own schedule: a delivery not taken is tried again
    /// every `retry_interval_secs` until `max_age_hours` after the message arrived. The
    /// receipts' runner has no webhook client: it is returned as it is.
    pub fn with_inbound_webhooks(mut self, config: InboundConfig) -> Notifier {
        let Some(poster) = self.poster.clone() else {
            return self;
        };
        self.inbound = Some(config);
        self.with_sender(Arc::new(InboundWebhookSender::new(poster)))
    }

    /// The runner of SMPP receipts: claims the receipts of accounts with a receiver bound among
    /// `receivers` and hands each to one of them; `config`'s retry window and backoff apply.
    pub fn receipts(
        store: Arc<dyn OutboxStore>,
        receivers: Arc<dyn SmppReceivers>,
        wakeups: Arc<Wakeups>,
        config: NotifierConfig,
    ) -> Notifier {
        Notifier {
            store,
            wakeups,
            config: NotifierConfig {
                concurrency: RECEIPTS_IN_FLIGHT,
                ..config
            },
            senders: HashMap::new(),
            poster: None,
            inbound: None,
            role: Role::Receipts(Arc::clone(&receivers)),
        }
        .with_sender(Arc::new(SmppReceiptSender::new(Arc::clone(&receivers))))
        .with_sender(Arc::new(SmppMoSender::new(receivers)))
    }

    /// What to claim now: the senders' kinds; for receipts, of the accounts bound now (`None`:
    /// none is, nothing to claim).
    fn filter(&self) -> Option<EntryFilter> {
        let filter = EntryFilter::kinds(self.senders.keys().copied());
        match &self.role {
            Role::Webhooks => Some(filter),
            Role::Receipts(receivers) => {
                let accounts = receivers.receiving_accounts();
                (!accounts.is_empty()).then_some(EntryFilter {
                    accounts: Some(accounts),
                    ..filter
                })
            }
        }
    }

    /// Resolves when this runner may have new work: new entries, or (receipts) a bind.
    async fn woken(&self) {
        match &self.role {
            Role::Webhooks => self.wakeups.reports.notified().await,
            Role::Receipts(receivers) => {
                tokio::select! {
                    _ = self.wakeups.receipts.notified() => {}
                    _ = receivers.bound() => {}
                }
            }
        }
    }

    /// Receipts (and MOs for SMPP binds) only: remove those created before the retry window
    /// that nobody bound for.
    async fn expire(&self) {
        if !matches!(self.role, Role::Receipts(_)) {
            return;
        }
        let before =
            Timestamp::now() - SignedDuration::from_hours(self.config.max_age_hours as i64);
        for (kind, what) in [
            (OutboxKind::SmppReceipt, "SMPP receipts"),
            (OutboxKind::SmppMo, "MO messages for SMPP binds"),
        ] {
            match self.store.expire_entries(kind, before).await {
                Ok(0) => {}
                Ok(count) => {
                    tracing::warn!(target: LOG_TARGET, count, "{what} given up: no receiver of their account bound within the retry window")
                }
                Err(error) => {
                    tracing::error!(target: LOG_TARGET, %error, "expiring {what} failed")
                }
            }
        }
    }

    /// Deliver the entries of `sender`'s kind with it (instead of the one before, if any).
    pub fn with_sender(mut self, sender: Arc<dyn OutboxSender>) -> Notifier {
        self.senders.insert(sender.kind(), sender);
        self
    }

    /// Run until `shutdown`; deliveries in flight finish and are recorded first. Outcomes are
    /// recorded in batches: whatever finished since the last turn, in one store transaction.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let lease = match this.role {
            Role::Webhooks => SignedDuration::from_millis(this.config.timeout_ms as i64 + 30_000),
            Role::Receipts(_) => RECEIPT_LEASE,
        };
        let handoff = this.take_fresh_entries(lease);
        let mut tasks: JoinSet<(EntryId, Outcome)> = JoinSet::new();
        let mut finished: Vec<(EntryId, Outcome)> = Vec::new();
        let mut expire_at = tokio::time::Instant::now();
        let mut last_claim = tokio::time::Instant::now();
        let spawn = |tasks: &mut JoinSet<(EntryId, Outcome)>, entry: ClaimedEntry| {
            let this = Arc::clone(&this);
            tasks.spawn(async move {
                let id = entry.id;
                (id, this.deliver(entry).await)
            });
        };
        while !*shutdown.borrow() {
            while let Some(joined) = tasks.try_join_next() {
                finished.extend(joined.ok());
            }
            if tokio::time::Instant::now() >= expire_at {
                this.expire().await;
                expire_at = tokio::time::Instant::now() + EXPIRE_EVERY;
            }
            // Entries handed by the store as it wrote them (leased already, held already), as
            // far as deliveries in flight allow.
            let mut started = 0;
            if let Some(handoff) = &handoff {
                while tasks.len() < this.config.concurrency {
                    let Some((_, entry)) = handoff.next() else {
                        break;
                    };
                    spawn(&mut tasks, entry);
                    started += 1;
                }
            }
            // Only the kinds this runner has senders for (webhooks and receipts have runners of
            // their own), and for receipts only the accounts bound now. While handed entries
            // wait, claims run only every so often.
            let filter = this.filter();
            let claim_now = match &handoff {
                Some(handoff) => !handoff.waiting() || last_claim.elapsed() >= CLAIM_EVERY,
                None => true,
            };
            let free = match filter {
                Some(_) if claim_now => this.config.concurrency.saturating_sub(tasks.len()),
                _ => 0,
            };
            // Record outcomes and claim more side by side: both land in one group commit. An
            // entry freed by a finish here is claimed on the next turn.
            let outcomes = std::mem::take(&mut finished);
            let ended = outcomes.len();
            let record = this.record(outcomes);
            let claim = async {
                if free == 0 {
                    return Vec::new();
                }
                let Some(filter) = &filter else {
                    return Vec::new();
                };
                this.store
                    .claim_entries(Timestamp::now(), free, lease, filter)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "claiming outbox entries failed");
                        Vec::new()
                    })
            };
            let (recorded, claimed) = tokio::join!(record, claim);
            if free > 0 {
                last_claim = tokio::time::Instant::now();
            }
            let count = claimed.len();
            if let Some(handoff) = &handoff {
                // The deliveries recorded give their room back only now, their entries gone
                // from the outbox.
                handoff.release(ended);
                handoff.take(count);
            }
            for entry in claimed {
                spawn(&mut tasks, entry);
            }
            if (count > 0 && count == free) || recorded > 0 || started > 0 {
                continue;
            }
            let sleep = this
                .idle_sleep(count == 0 && tasks.is_empty(), filter.as_ref())
                .await;
            let arrived = async {
                match &handoff {
                    Some(handoff) => handoff.arrived.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = this.woken() => {}
                _ = arrived => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => finished.extend(joined.ok()),
            }
        }
        if let Some(handoff) = &handoff {
            // Entries handed from now on stay leased: claimed again when their lease ends, or
            // after a restart releases this node's leases.
            handoff.close();
        }
        while let Some(joined) = tasks.join_next().await {
            finished.extend(joined.ok());
        }
        this.record(finished).await;
        tracing::debug!("notifier stopped");
    }

    /// The webhook runner asks the store for fresh status webhooks ([`Handoff`]); `None` for
    /// the receipts' runner (its entries wait for binds), or when the store hands none.
    fn take_fresh_entries(&self, lease: SignedDuration) -> Option<Arc<EntryHandoff>> {
        if !matches!(self.role, Role::Webhooks) {
            return None;
        }
        let kinds: Vec<OutboxKind> = [OutboxKind::StatusWebhook]
            .into_iter()
            .filter(|kind| self.senders.contains_key(kind))
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let handoff = Arc::new(EntryHandoff::new(kinds, lease, self.config.concurrency));
        self.store
            .hand_fresh_entries(Arc::clone(&handoff) as Arc<dyn FreshEntries>)
            .then_some(handoff)
    }

    /// Record delivery outcomes; returns how many. A failure leaves the entries leased: when the
    /// lease ends they are delivered again. So is an entry whose delivery was taken but not yet
    /// recorded when the process died: delivery is at-least-once (never lost), and receivers
    /// deduplicate on the report id.
    async fn record(&self, finished: Vec<(EntryId, Outcome)>) -> usize {
        let count = finished.len();
        if count == 0 {
            return 0;
        }
        if let Err(error) = self.store.finish_entries(finished).await {
            tracing::error!(%error, count, "could not record outbox outcomes");
        }
        count
    }

    async fn idle_sleep(&self, idle: bool, filter: Option<&EntryFilter>) -> Duration {
        let poll = Duration::from_millis(500);
        if !idle {
            return Duration::from_millis(20);
        }
        let Some(filter) = filter else {
            return poll;
        };
        match self.store.next_entry_due(filter).await {
            Ok(Some(due)) => Duration::try_from(due.duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO)
                .min(poll),
            _ => poll,
        }
    }

    /// Deliver `entry` with the sender of its kind, and decide what becomes of it; a status
    /// report's outcome is counted (`tern_status_reports_total`).
    async fn deliver(&self, entry: ClaimedEntry) -> Outcome {
        let kind = entry.kind;
        let outcome = self.deliver_uncounted(entry).await;
        if matches!(
            kind,
            OutboxKind::StatusWebhook | OutboxKind::RenderedWebhook | OutboxKind::SmppReceipt
        ) {
            metrics::status_report(match outcome {
                Outcome::Delivered => ReportOutcome::Delivered,
                Outcome::RetryAt(_) => ReportOutcome::Retried,
                Outcome::GiveUp => ReportOutcome::GivenUp,
            });
        }
        outcome
    }

    async fn deliver_uncounted(&self, entry: ClaimedEntry) -> Outcome {
        let (id, kind, attempts, created_at) =
            (entry.id, entry.kind, entry.attempts, entry.created_at);
        let delivery = match self.senders.get(&kind) {
            Some(sender) => sender.send(entry).await,
            // Kept and retried: a node that has the sender may deliver it.
            None => Delivery::Failed(format!("no sender for {kind} entries on this node")),
        };
        let inbound = self
            .inbound
            .as_ref()
            .filter(|_| kind == OutboxKind::InboundWebhook);
        match delivery {
            Delivery::Delivered => Outcome::Delivered,
            Delivery::Abandoned => Outcome::GiveUp,
            Delivery::Unreachable(why) => {
                let deadline = match inbound {
                    Some(inbound) => inbound.deadline(created_at),
                    None => {
                        created_at + SignedDuration::from_hours(self.config.max_age_hours as i64)
                    }
                };
                let at = Timestamp::now() + UNREACHABLE_RETRY;
                if at <= deadline {
                    tracing::debug!(id, %kind, %why, "outbox entry not taken; will retry shortly");
                    Outcome::RetryAt(at)
                } else {
                    tracing::warn!(id, %kind, %why, "outbox entry given up after its retry window");
                    Outcome::GiveUp
                }
            }
            Delivery::Failed(why) => {
                let now = Timestamp::now();
                let retry_at = match inbound {
                    Some(inbound) => inbound.retry_after(created_at, now),
                    // `attempts` counts the deliveries before this one, which just failed.
                    None => self.config.retry_after(attempts + 1, created_at, now),
                };
                match retry_at {
                    Some(at) => {
                        tracing::debug!(id, %kind, %why, "outbox entry not delivered; will retry");
                        Outcome::RetryAt(at)
                    }
                    None => {
                        tracing::warn!(id, %kind, %why, "outbox entry given up after its retry window");
                        Outcome::GiveUp
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: EntryId) -> ClaimedEntry {
        ClaimedEntry {
            id,
            kind: OutboxKind::StatusWebhook,
            ordering_key: tern_core::outbox::OrderingKey(format!("key-{id}")),
            attempts: 0,
            created_at: Timestamp::UNIX_EPOCH,
            destination: None,
            fact: None,
        }
    }

    #[test]
    fn the_webhook_runner_takes_status_webhooks_with_four_waiting_per_delivery() {
        let handoff = EntryHandoff::new(
            vec![OutboxKind::StatusWebhook],
            SignedDuration::from_secs(60),
            2,
        );
        assert!(handoff.takes(OutboxKind::StatusWebhook));
        assert!(!handoff.takes(OutboxKind::SmppReceipt));
        assert_eq!(FreshEntries::lease(&handoff), SignedDuration::from_secs(60));
        // Room: two in flight, four waiting for each.
        for _ in 0..10 {
            assert!(FreshEntries::reserve(&handoff));
        }
        assert!(!FreshEntries::reserve(&handoff));
        handoff.unreserve(1);
        assert!(FreshEntries::reserve(&handoff));
        handoff.hand(vec![entry(1), entry(2)]);
        handoff.hand(vec![entry(3)]);
        let ids: Vec<EntryId> = std::iter::from_fn(|| handoff.next())
            .map(|(_, entry)| entry.id)
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(handoff.taken(), 10);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_at_the_window() {
        let config = NotifierConfig {
            initial_backoff_ms: 1000,
            max_backoff_ms: 4000,
            max_age_hours: 1,
            ..Default::default()
        };
        let created: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let now = created;
        let waits: Vec<i64> = (1..=4)
            .map(|attempts| {
                config
                    .retry_after(attempts, created, now)
                    .unwrap()
                    .duration_since(now)
                    .as_millis() as i64
            })
            .collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 4000]);
        let late = created + SignedDuration::from_mins(59) + SignedDuration::from_secs(59);
        assert_eq!(config.retry_after(4, created, late), None);
    }
}
