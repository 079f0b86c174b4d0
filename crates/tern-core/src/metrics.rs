//! The gateway's metrics, in one place: their names, their label values and the one function per
//! measurement that the recording points (the submission service, the dispatcher, the outbox
//! runner, the stores, the SMPP server, the inbound paths) call. They record through the
//! `metrics` facade: without a recorder installed (`[metrics] enabled = false`, unit tests) every
//! call does nothing; the binary installs the Prometheus exporter and renders `GET /metrics`.
//!
//! Counting stays off the hot path's costs: the series of the busiest counters (per surface,
//! per channel) are registered once and kept (no lookup, no allocation per use), and callers
//! count per request or per batch (`increment(n)`), not per loop iteration. Label values are
//! static strings where the set is fixed; connector and account names are the only ones built
//! at run time (once per batch, once per bind).
//!
//! The three histograms are not the exporter's: its histograms keep every sample until the next
//! scrape or upkeep (a lock-free list of blocks under epoch-based reclamation), which cost the
//! single-message intake measurably at tens of thousands of requests a second, on the SQLite
//! writer's thread too (docs/benchmarks.md). Ours ([`FixedHistogram`]) are fixed buckets in
//! atomic counters: a sample is three relaxed additions, nothing allocated, nothing to drain.
//! The binary renders them beside the exporter's text ([`histograms`]), and switches them on
//! with the exporter ([`record_histograms`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use metrics::{Counter, Gauge, counter, gauge};

use crate::channel::Channel;
use crate::error_code::Surface;
use crate::message::NewMessage;

/// Messages accepted (stored), by `surface` and `channel` (the first channel the message tries).
pub const MESSAGES_ACCEPTED: &str = "tern_messages_accepted_total";
/// Messages or requests rejected, by `surface` and `code` (the CM code answered). A rejection
/// of one recipient counts one; a request refused as a whole (an unknown token, malformed
/// input, an all-or-nothing XML or GET request with an invalid message) counts once.
pub const MESSAGES_REJECTED: &str = "tern_messages_rejected_total";
/// Sends handed to connectors, by `channel`, `connector` and `outcome` ([`DispatchOutcome`]).
pub const DISPATCH: &str = "tern_dispatch_total";
/// Status reports (webhooks and SMPP receipts) out of the outbox, by `outcome`
/// ([`ReportOutcome`]).
pub const STATUS_REPORTS: &str = "tern_status_reports_total";
/// Messages due to be sent now (sampled from the store).
pub const QUEUE_DEPTH: &str = "tern_queue_depth";
/// Outbox entries (status reports, receipts, inbound webhooks) waiting to go out (sampled from
/// the store).
pub const OUTBOX_DEPTH: &str = "tern_outbox_depth";
/// Time to answer a submission, by `surface` (histogram, seconds).
pub const REQUEST_DURATION: &str = "tern_request_duration_seconds";
/// Time one store commit (a group of writes in one transaction) takes (histogram, seconds).
pub const STORE_COMMIT_DURATION: &str = "tern_store_commit_duration_seconds";
/// Writes (jobs, requests) in one store commit (histogram).
pub const STORE_COMMIT_BATCH_SIZE: &str = "tern_store_commit_batch_size";
/// SMPP sessions bound now, by `account` (its name) and `bind_type`.
pub const SMPP_BINDS: &str = "tern_smpp_binds";
/// Whether a connector takes sends (1) or not (0), by `connector` (sampled).
pub const CONNECTOR_UP: &str = "tern_connector_up";
/// Inbound (MO) messages or parts handed to the store, by `channel` and `outcome`
/// ([`InboundOutcome`]).
pub const INBOUND: &str = "tern_inbound_total";

/// Buckets of [`REQUEST_DURATION`] and [`STORE_COMMIT_DURATION`], in seconds: from half a
/// millisecond (a commit of a few rows) to ten seconds (a request stuck behind a slow disk).
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of [`STORE_COMMIT_BATCH_SIZE`]: powers of two up to the largest groups.
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// A Prometheus histogram with fixed buckets, kept in atomic counters (see the module's
/// comment): one series, `name` with `labels`.
#[derive(Debug)]
pub struct FixedHistogram {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    bounds: &'static [f64],
    /// Samples per bucket, not cumulative: `counts[i]` holds those above `bounds[i - 1]` up to
    /// `bounds[i]`; the last one those above every bound.
    counts: Box<[AtomicU64]>,
    /// The sum of the samples, an `f64`'s bits.
    sum: AtomicU64,
}

/// One series of a [`FixedHistogram`] as read now: cumulative counts per upper bound (the last
/// one `+Inf`), the sum and the count of the samples.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub name: &'static str,
    pub labels: &'static [(&'static str, &'static str)],
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl FixedHistogram {
    /// An empty series.
    pub fn new(
        name: &'static str,
        labels: &'static [(&'static str, &'static str)],
        bounds: &'static [f64],
    ) -> FixedHistogram {
        FixedHistogram {
            name,
            labels,
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Count `value` (in the first bucket whose bound is at least `value`).
    pub fn record(&self, value: f64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let mut sum = self.sum.load(Ordering::Relaxed);
        loop {
            let added = (f64::from_bits(sum) + value).to_bits();
            match self
                .sum
                .compare_exchange_weak(sum, added, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => sum = now,
            }
        }
    }

    /// What it holds now (read bucket by bucket while others may record: a scrape may be a
    /// sample behind in one bucket, never ahead).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets = Vec::with_capacity(self.counts.len());
        let mut cumulative = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let bound = self.bounds.get(index).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, cumulative));
        }
        HistogramSnapshot {
            name: self.name,
            labels: self.labels,
            buckets,
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
            count: cumulative,
        }
    }
}

/// Whether the histograms record (off until the binary installs the exporter, as the facade's
/// counters do nothing without a recorder).
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Switch the histograms on (the binary does, with the exporter).
pub fn record_histograms() {
    RECORDING.store(true, Ordering::Relaxed);
}

/// Every series of the three histograms, in a stable order: [`REQUEST_DURATION`] by surface,
/// then [`STORE_COMMIT_DURATION`] and [`STORE_COMMIT_BATCH_SIZE`].
pub fn histograms() -> Vec<HistogramSnapshot> {
    REQUEST_DURATIONS
        .iter()
        .chain([&COMMITS.0, &COMMITS.1])
        .map(FixedHistogram::snapshot)
        .collect()
}

/// The label value of a surface: `json`, `xml`, `get`, `smpp`.
pub fn surface_label(surface: Surface) -> &'static str {
    surface.as_str()
}

/// The label value of a channel, as CM spells it: `SMS`, `WhatsApp`, `RCS`, `Viber`, `Push`.
pub fn channel_label(channel: Channel) -> &'static str {
    channel.as_str()
}

fn surface_index(surface: Surface) -> usize {
    Surface::ALL
        .iter()
        .position(|each| *each == surface)
        .unwrap_or(0)
}

fn channel_index(channel: Channel) -> usize {
    Channel::ALL
        .iter()
        .position(|each| *each == channel)
        .unwrap_or(0)
}

/// [`MESSAGES_ACCEPTED`]'s series, by surface then channel, registered at first use.
static ACCEPTED: LazyLock<[[Counter; Channel::ALL.len()]; Surface::ALL.len()]> =
    LazyLock::new(|| {
        Surface::ALL.map(|surface| {
            Channel::ALL.map(|channel| {
                counter!(
                    MESSAGES_ACCEPTED,
                    "surface" => surface_label(surface),
                    "channel" => channel_label(channel)
                )
            })
        })
    });

/// The `surface` label of each surface, in [`Surface::ALL`]'s order.
const SURFACE_LABELS: [[(&str, &str); 1]; Surface::ALL.len()] = [
    [("surface", "json")],
    [("surface", "xml")],
    [("surface", "get")],
    [("surface", "smpp")],
];

/// [`REQUEST_DURATION`]'s series, by surface.
static REQUEST_DURATIONS: LazyLock<[FixedHistogram; Surface::ALL.len()]> = LazyLock::new(|| {
    std::array::from_fn(|index| {
        FixedHistogram::new(REQUEST_DURATION, &SURFACE_LABELS[index], DURATION_BUCKETS)
    })
});

/// The messages of a request by the channel each tries first, counted once they are stored
/// ([`AcceptedCounts::record`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptedCounts([u64; Channel::ALL.len()]);

impl AcceptedCounts {
    /// The counts of `messages`.
    pub fn of(messages: &[NewMessage]) -> AcceptedCounts {
        let mut counts = AcceptedCounts::default();
        for message in messages {
            if let Some(channel) = message.channels.first() {
                counts.0[channel_index(*channel)] += 1;
            }
        }
        counts
    }

    /// Count them as accepted on `surface`.
    pub fn record(self, surface: Surface) {
        let series = &ACCEPTED[surface_index(surface)];
        for (counter, count) in series.iter().zip(self.0) {
            if count > 0 {
                counter.increment(count);
            }
        }
    }
}

/// Count the rejections of one request on `surface`, one per code in `codes` (grouped: one
/// increment per distinct code).
pub fn rejections(surface: Surface, codes: impl IntoIterator<Item = u32>) {
    let mut by_code: Vec<(u32, u64)> = Vec::new();
    for code in codes {
        match by_code.iter_mut().find(|(each, _)| *each == code) {
            Some(entry) => entry.1 += 1,
            None => by_code.push((code, 1)),
        }
    }
    for (code, count) in by_code {
        rejected(surface, code, count);
    }
}

/// Count `count` rejections with CM code `code` on `surface`.
pub fn rejected(surface: Surface, code: u32, count: u64) {
    if count == 0 {
        return;
    }
    counter!(
        MESSAGES_REJECTED,
        "surface" => surface_label(surface),
        "code" => code.to_string()
    )
    .increment(count);
}

/// Record the time a submission on `surface` took to answer.
pub fn request_duration(surface: Surface, took: Duration) {
    if RECORDING.load(Ordering::Relaxed) {
        REQUEST_DURATIONS[surface_index(surface)].record(took.as_secs_f64());
    }
}

/// Times a submission on its surface from its creation until it is dropped (when the handler
/// that holds it returns its answer), into [`REQUEST_DURATION`]. A guard rather than a wrapper
/// around the handler's future: a wrapper moves that future (several kilobytes of state) once
/// more per request.
#[derive(Debug)]
pub struct RequestTimer {
    surface: Surface,
    started: std::time::Instant,
}

impl RequestTimer {
    /// Start timing a submission on `surface`.
    pub fn start(surface: Surface) -> RequestTimer {
        RequestTimer {
            surface,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        request_duration(self.surface, self.started.elapsed());
    }
}

/// [`STORE_COMMIT_DURATION`] and [`STORE_COMMIT_BATCH_SIZE`].
static COMMITS: LazyLock<(FixedHistogram, FixedHistogram)> = LazyLock::new(|| {
    (
        FixedHistogram::new(STORE_COMMIT_DURATION, &[], DURATION_BUCKETS),
        FixedHistogram::new(STORE_COMMIT_BATCH_SIZE, &[], BATCH_SIZE_BUCKETS),
    )
});

/// Record one store commit: how long it took and how many writes it held.
pub fn store_commit(took: Duration, writes: usize) {
    if RECORDING.load(Ordering::Relaxed) {
        COMMITS.0.record(took.as_secs_f64());
        COMMITS.1.record(writes as f64);
    }
}

/// Set the sampled depths: messages due now, outbox entries waiting.
pub fn depths(queue: u64, outbox: u64) {
    gauge!(QUEUE_DEPTH).set(queue as f64);
    gauge!(OUTBOX_DEPTH).set(outbox as f64);
}

/// Set whether the connector `name` takes sends.
pub fn connector_up(name: &str, up: bool) {
    gauge!(CONNECTOR_UP, "connector" => name.to_owned()).set(if up { 1.0 } else { 0.0 });
}

/// What became of one message handed to its route's connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// A connector took it.
    Sent,
    /// Not sent for now (a temporary error, a connector down): tried again later.
    Deferred,
    /// Refused for good on this channel (it falls back or fails).
    Failed,
}

impl DispatchOutcome {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchOutcome::Sent => "sent",
            DispatchOutcome::Deferred => "deferred",
            DispatchOutcome::Failed => "failed",
        }
    }
}

/// The dispatch outcomes of one batch, counted together when it ends ([`DispatchTally::flush`]).
#[derive(Debug, Default)]
pub struct DispatchTally {
    counts: Vec<(Channel, Option<Arc<str>>, DispatchOutcome, u64)>,
}

impl DispatchTally {
    /// One message on `channel`, last handed to `connector` (none: no connector was reached).
    pub fn add(
        &mut self,
        channel: Channel,
        connector: Option<&Arc<str>>,
        outcome: DispatchOutcome,
    ) {
        let found = self.counts.iter_mut().find(|(c, name, o, _)| {
            *c == channel && *o == outcome && name.as_deref() == connector.map(|n| &**n)
        });
        match found {
            Some(entry) => entry.3 += 1,
            None => self.counts.push((channel, connector.cloned(), outcome, 1)),
        }
    }

    /// Count what was added, and start over.
    pub fn flush(&mut self) {
        for (channel, connector, outcome, count) in self.counts.drain(..) {
            counter!(
                DISPATCH,
                "channel" => channel_label(channel),
                "connector" => connector.as_deref().unwrap_or("none").to_owned(),
                "outcome" => outcome.as_str()
            )
            .increment(count);
        }
    }
}

/// What became of one delivery of a status report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The receiver took it.
    Delivered,
    /// Not taken; tried again later.
    Retried,
    /// Not taken, and not to be tried again (too old, refused, nowhere to go).
    GivenUp,
}

impl ReportOutcome {
    /// Every outcome.
    pub const ALL: [ReportOutcome; 3] = [
        ReportOutcome::Delivered,
        ReportOutcome::Retried,
        ReportOutcome::GivenUp,
    ];

    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportOutcome::Delivered => "delivered",
            ReportOutcome::Retried => "retried",
            ReportOutcome::GivenUp => "given_up",
        }
    }
}

static STATUS_REPORT_SERIES: LazyLock<[Counter; 3]> = LazyLock::new(|| {
    ReportOutcome::ALL.map(|outcome| counter!(STATUS_REPORTS, "outcome" => outcome.as_str()))
});

/// Count one delivery of a status report.
pub fn status_report(outcome: ReportOutcome) {
    let index = ReportOutcome::ALL
        .iter()
        .position(|each| *each == outcome)
        .unwrap_or(0);
    STATUS_REPORT_SERIES[index].increment(1);
}

/// What became of inbound (MO) messages a connector received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Stored: its webhook or receipt goes out.
    Accepted,
    /// The store could not take it (the provider or SMSC is told to try again).
    Failed,
}

impl InboundOutcome {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Accepted => "accepted",
            InboundOutcome::Failed => "failed",
        }
    }
}

/// Count `count` inbound messages (or parts) on `channel`.
pub fn inbound(channel: Channel, outcome: InboundOutcome, count: u64) {
    if count == 0 {
        return;
    }
    counter!(
        INBOUND,
        "channel" => channel_label(channel),
        "outcome" => outcome.as_str()
    )
    .increment(count);
}

/// One bound SMPP session in [`SMPP_BINDS`]: counted while this lives.
pub struct BoundSession(Gauge);

impl BoundSession {
    /// A session of the account `account` (its name) bound as `bind_type` (`transmitter`,
    /// `receiver`, `transceiver`).
    pub fn new(account: &str, bind_type: &'static str) -> BoundSession {
        let gauge = gauge!(SMPP_BINDS, "account" => account.to_owned(), "bind_type" => bind_type);
        gauge.increment(1.0);
        BoundSession(gauge)
    }
}

impl Drop for BoundSession {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_the_contract_s() {
        assert_eq!(
            Surface::ALL.map(surface_label),
            ["json", "xml", "get", "smpp"]
        );
        assert_eq!(
            Channel::ALL.map(channel_label),
            ["SMS", "WhatsApp", "RCS", "Viber", "Push"]
        );
        assert_eq!(
            ReportOutcome::ALL.map(ReportOutcome::as_str),
            ["delivered", "retried", "given_up"]
        );
    }

    #[test]
    fn the_surface_labels_follow_the_surfaces() {
        for (surface, labels) in Surface::ALL.iter().zip(SURFACE_LABELS) {
            assert_eq!(labels, [("surface", surface_label(*surface))]);
        }
    }

    #[test]
    fn a_fixed_histogram_counts_each_sample_in_the_first_bucket_that_holds_it() {
        let histogram = FixedHistogram::new("h", &[("a", "b")], &[1.0, 2.0, 4.0]);
        for value in [0.5, 1.0, 1.5, 4.0, 4.5, 100.0] {
            histogram.record(value);
        }
        assert_eq!(
            histogram.snapshot(),
            HistogramSnapshot {
                name: "h",
                labels: &[("a", "b")],
                buckets: vec![(1.0, 2), (2.0, 3), (4.0, 4), (f64::INFINITY, 6)],
                sum: 111.5,
                count: 6,
            }
        );
        // Side by side on many threads: nothing lost.
        let shared = Arc::new(FixedHistogram::new("h", &[], &[1.0]));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        shared.record(0.5);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let snapshot = shared.snapshot();
        assert_eq!((snapshot.count, snapshot.sum), (40_000, 20_000.0));
    }

    #[test]
    fn a_tally_counts_each_channel_connector_and_outcome_once() {
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        let mut tally = DispatchTally::default();
        tally.add(Channel::Sms, Some(&a), DispatchOutcome::Sent);
        tally.add(Channel::Sms, Some(&a), DispatchOutcome::Sent);
        tally.add(Channel::Sms, Some(&b), DispatchOutcome::Sent);
        tally.add(Channel::Sms, Some(&a), DispatchOutcome::Deferred);
        tally.add(Channel::WhatsApp, None, DispatchOutcome::Failed);
        let counts: Vec<_> = tally
            .counts
            .iter()
            .map(|(c, n, o, count)| (*c, n.as_deref().map(str::to_owned), *o, *count))
            .collect();
        assert_eq!(
            counts,
            vec![
                (Channel::Sms, Some("a".into()), DispatchOutcome::Sent, 2),
                (Channel::Sms, Some("b".into()), DispatchOutcome::Sent, 1),
                (Channel::Sms, Some("a".into()), DispatchOutcome::Deferred, 1),
                (Channel::WhatsApp, None, DispatchOutcome::Failed, 1),
            ]
        );
        tally.flush();
        assert!(tally.counts.is_empty());
    }
}
