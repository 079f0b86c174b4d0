//! The status-report notifier: claims due reports from the durable outbox (at most one per
//! message, so a message's reports arrive in order), POSTs them, and records the outcome. A
//! receiver that answers non-2xx or times out is retried with exponential backoff until the
//! report is older than the retry window (7 days by default); nothing is dropped early. Delivery
//! is at-least-once: every POST of a report carries its stable id (`X-Tern-Report-Id`, and
//! `reportId`/`REPORTID` in the body) so a receiver can drop one it already took. A 3xx
//! answer is a failed attempt (redirects are not followed). A target refused by `[webhooks]`
//! (see [`crate::webhook_target`]) is given up at once with an error log: retrying cannot make a
//! refused host or address allowed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use tern_core::ports::{OutboxStore, PendingReport, ReportOutcome};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Wakeups;
use crate::webhook_target::{TargetPolicy, TargetRefused, refusal_in};

/// `[status_reports]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    /// Time allowed for one POST.
    pub timeout_ms: u64,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff_ms: u64,
    /// Longest wait between retries.
    pub max_backoff_ms: u64,
    /// Reports older than this are given up.
    pub max_age_hours: u64,
    /// POSTs in flight at once.
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
    /// When to try again after `attempts` failed deliveries, or `None` to give up.
    pub fn retry_after(&self, report: &PendingReport, now: Timestamp) -> Option<Timestamp> {
        let exponent = report.attempts.saturating_sub(1).min(30);
        let backoff = self
            .initial_backoff_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_backoff_ms);
        let next = now + SignedDuration::from_millis(backoff as i64);
        let deadline = report.created_at + SignedDuration::from_hours(self.max_age_hours as i64);
        (next <= deadline).then_some(next)
    }
}

/// POSTs status reports.
pub struct Notifier {
    store: Arc<dyn OutboxStore>,
    client: reqwest::Client,
    wakeups: Arc<Wakeups>,
    config: NotifierConfig,
    /// The `[webhooks]` rules checked before each POST (the client's resolver checks names).
    targets: TargetPolicy,
    /// Status URLs already parsed: an account's reports all go to one URL, and parsing it (with
    /// IDNA host processing) for every report cost more than building the request.
    urls: Mutex<HashMap<String, reqwest::Url>>,
}

/// The header carrying the report id (the body's `reportId` / `REPORTID`) on every POST.
pub const REPORT_ID_HEADER: &str = "x-tern-report-id";

/// Most distinct URLs kept parsed.
const URL_CACHE_SIZE: usize = 1024;

impl Notifier {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        client: reqwest::Client,
        wakeups: Arc<Wakeups>,
        config: NotifierConfig,
        targets: TargetPolicy,
    ) -> Notifier {
        Notifier {
            store,
            client,
            wakeups,
            config,
            targets,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// `url` parsed, from the cache when it was seen before.
    fn parsed_url(&self, url: &str) -> Result<reqwest::Url, String> {
        let mut urls = self.urls.lock().expect("url cache");
        if let Some(parsed) = urls.get(url) {
            return Ok(parsed.clone());
        }
        let parsed = reqwest::Url::parse(url).map_err(|error| format!("bad URL {url}: {error}"))?;
        if urls.len() >= URL_CACHE_SIZE {
            urls.clear();
        }
        urls.insert(url.to_owned(), parsed.clone());
        Ok(parsed)
    }

    /// Run until `shutdown`; POSTs in flight finish and are recorded first. Outcomes are
    /// recorded in batches: whatever finished since the last turn, in one store transaction.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let lease = SignedDuration::from_millis(this.config.timeout_ms as i64 + 30_000);
        let mut tasks: JoinSet<(i64, ReportOutcome)> = JoinSet::new();
        let mut finished: Vec<(i64, ReportOutcome)> = Vec::new();
        while !*shutdown.borrow() {
            while let Some(joined) = tasks.try_join_next() {
                finished.extend(joined.ok());
            }
            let free = this.config.concurrency.saturating_sub(tasks.len());
            // Record outcomes and claim more side by side: both land in one group commit. A
            // report freed by a finish here is claimed on the next turn.
            let record = this.record(std::mem::take(&mut finished));
            let claim = async {
                if free == 0 {
                    return Vec::new();
                }
                this.store
                    .claim_reports(Timestamp::now(), free, lease)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "claiming status reports failed");
                        Vec::new()
                    })
            };
            let (recorded, claimed) = tokio::join!(record, claim);
            let count = claimed.len();
            for report in claimed {
                let this = Arc::clone(&this);
                tasks.spawn(async move {
                    let id = report.id;
                    (id, this.deliver(report).await)
                });
            }
            if (count > 0 && count == free) || recorded > 0 {
                continue;
            }
            let sleep = this.idle_sleep(count == 0 && tasks.is_empty()).await;
            tokio::select! {
                _ = this.wakeups.reports.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => finished.extend(joined.ok()),
            }
        }
        while let Some(joined) = tasks.join_next().await {
            finished.extend(joined.ok());
        }
        this.record(finished).await;
        tracing::debug!("notifier stopped");
    }

    /// Record delivery outcomes; returns how many. A failure leaves the reports leased: when the
    /// lease ends they are delivered again. So is a report whose 2xx was received but not yet
    /// recorded when the process died: delivery is at-least-once (never lost), and receivers
    /// deduplicate on the report id.
    async fn record(&self, finished: Vec<(i64, ReportOutcome)>) -> usize {
        let count = finished.len();
        if count == 0 {
            return 0;
        }
        if let Err(error) = self.store.finish_reports(finished).await {
            tracing::error!(%error, count, "could not record status report outcomes");
        }
        count
    }

    async fn idle_sleep(&self, idle: bool) -> Duration {
        let poll = Duration::from_millis(500);
        if !idle {
            return Duration::from_millis(20);
        }
        match self.store.next_report_due().await {
            Ok(Some(due)) => Duration::try_from(due.duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO)
                .min(poll),
            _ => poll,
        }
    }

    async fn deliver(&self, mut report: PendingReport) -> ReportOutcome {
        let body = std::mem::take(&mut report.body);
        let response = match self.parsed_url(&report.url) {
            // An unparsable URL fails like an unreachable receiver: retried, then given up.
            Err(error) => Err(Failure::Other(error)),
            Ok(url) => match self.targets.check(&url) {
                Err(refused) => Err(Failure::Refused(refused)),
                Ok(()) => self
                    .client
                    .post(url)
                    .header("content-type", &report.content_type)
                    // The report's stable id (also in its body): the same on every attempt, so
                    // a receiver can drop a report it already took (delivery is at-least-once).
                    .header(REPORT_ID_HEADER, &report.report_id)
                    .timeout(Duration::from_millis(self.config.timeout_ms))
                    .body(body)
                    .send()
                    .await
                    .map_err(|error| match refusal_in(&error) {
                        // The resolver refused every address of the host.
                        Some(refused) => Failure::Refused(refused.clone()),
                        None => Failure::Other(error.to_string()),
                    }),
            },
        };
        let now = Timestamp::now();
        match response {
            Ok(response) if response.status().is_success() => ReportOutcome::Delivered,
            Err(Failure::Refused(refused)) => {
                tracing::error!(id = report.id, message_id = %report.message_id, url = %report.url, reason = %refused, "status report target refused by [webhooks]; report given up");
                ReportOutcome::GiveUp
            }
            Ok(response) => {
                self.retry_or_give_up(&report, now, format!("HTTP {}", response.status()))
            }
            Err(Failure::Other(why)) => self.retry_or_give_up(&report, now, why),
        }
    }

    /// After a failed attempt: when to try again, or give up past the retry window.
    fn retry_or_give_up(
        &self,
        report: &PendingReport,
        now: Timestamp,
        why: String,
    ) -> ReportOutcome {
        match self.config.retry_after(report, now) {
            Some(at) => {
                tracing::debug!(id = report.id, url = %report.url, %why, "status report not accepted; will retry");
                ReportOutcome::RetryAt(at)
            }
            None => {
                tracing::warn!(id = report.id, message_id = %report.message_id, url = %report.url, %why, "status report given up after its retry window");
                ReportOutcome::GiveUp
            }
        }
    }
}

/// Why a POST was not answered 2xx, short of an HTTP answer.
enum Failure {
    /// `[webhooks]` refuses the target: give up.
    Refused(TargetRefused),
    /// Anything else (bad URL, connection, timeout): retry.
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_core::message::MessageId;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_at_the_window() {
        let config = NotifierConfig {
            initial_backoff_ms: 1000,
            max_backoff_ms: 4000,
            max_age_hours: 1,
            ..Default::default()
        };
        let created: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut report = PendingReport {
            id: 1,
            message_id: MessageId::generate(),
            report_id: String::new(),
            url: String::new(),
            content_type: String::new(),
            body: Vec::new(),
            attempts: 1,
            created_at: created,
        };
        let now = created;
        let waits: Vec<i64> = (1..=4)
            .map(|attempts| {
                report.attempts = attempts;
                config
                    .retry_after(&report, now)
                    .unwrap()
                    .duration_since(now)
                    .as_millis() as i64
            })
            .collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 4000]);
        let late = created + SignedDuration::from_mins(59) + SignedDuration::from_secs(59);
        assert_eq!(config.retry_after(&report, late), None);
    }
}
