//! What the gateway does with inbound (MO) messages once a connector has handed their parts to
//! the store: the `[inbound]` settings (how often a webhook the account's receiver did not take
//! is tried again and for how long, how long the parts of a concatenated message wait for the
//! rest), and the sweeper, a periodic task that assembles the messages whose missing parts never
//! came and deletes those nobody owned once their retention ends. The webhooks themselves go out
//! through the outbox runner ([`crate::notifier::Notifier::with_inbound_webhooks`]).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use tern_core::inbound::UNOWNED_RETENTION;
use tern_core::ports::InboundStore;
use tokio::sync::watch;

/// The target of the sweeper's logs.
const LOG_TARGET: &str = "tern_egress::inbound";

/// `[inbound]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Wait between deliveries of an inbound webhook its receiver did not take (non-2xx).
    pub retry_interval_secs: u64,
    /// Inbound webhooks not delivered this long after their message arrived are given up.
    pub max_age_hours: u64,
    /// How long the parts of a concatenated message wait for the rest after the first arrived;
    /// then the message is delivered with the parts that came.
    pub part_timeout_secs: u64,
}

impl Default for InboundConfig {
    /// CM's: every 5 minutes for up to a month (30 days); parts wait a minute.
    fn default() -> Self {
        InboundConfig {
            retry_interval_secs: 300,
            max_age_hours: 30 * 24,
            part_timeout_secs: 60,
        }
    }
}

impl InboundConfig {
    /// Every setting must be at least 1: a zero interval would retry in a loop, a zero window or
    /// part timeout would give up at once.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("retry_interval_secs", self.retry_interval_secs),
            ("max_age_hours", self.max_age_hours),
            ("part_timeout_secs", self.part_timeout_secs),
        ] {
            if value == 0 {
                return Err(format!("[inbound] {key} must be at least 1"));
            }
        }
        Ok(())
    }

    /// When to try again an inbound webhook whose message arrived at `created_at`, after a
    /// failed delivery at `now`; `None` to give up (past `max_age_hours`).
    pub fn retry_after(&self, created_at: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let next = now + SignedDuration::from_secs(self.retry_interval_secs as i64);
        (next <= self.deadline(created_at)).then_some(next)
    }

    /// The end of the retry window of a webhook whose message arrived at `created_at`.
    pub fn deadline(&self, created_at: Timestamp) -> Timestamp {
        created_at + SignedDuration::from_hours(self.max_age_hours as i64)
    }

    /// How long parts wait for the rest of their message.
    pub fn part_timeout(&self) -> SignedDuration {
        SignedDuration::from_secs(self.part_timeout_secs as i64)
    }

    /// How often the sweeper runs: a tenth of the part timeout, between 100 ms and 10 s, so that
    /// an incomplete message goes out soon after its time ran out.
    pub fn sweep_every(&self) -> Duration {
        Duration::from_millis(self.part_timeout_secs.saturating_mul(100))
            .clamp(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// The periodic task that assembles incomplete messages whose time ran out and purges the
/// messages nobody owned past [`UNOWNED_RETENTION`].
pub struct InboundSweeper {
    pub store: Arc<dyn InboundStore>,
    pub config: InboundConfig,
    /// Woken when a flush queued webhooks (the outbox runner's `reports`).
    pub wakeups: Arc<crate::Wakeups>,
}

impl InboundSweeper {
    /// One sweep at `now`.
    pub async fn sweep(&self, now: Timestamp) {
        match self
            .store
            .flush_inbound_parts(now - self.config.part_timeout())
            .await
        {
            Ok(0) => {}
            Ok(count) => {
                tracing::info!(target: LOG_TARGET, count, "inbound messages delivered without their missing parts after part_timeout_secs");
                self.wakeups.reports.notify_one();
            }
            Err(error) => {
                tracing::error!(target: LOG_TARGET, %error, "flushing inbound parts failed")
            }
        }
        match self
            .store
            .purge_unowned_inbound(now - UNOWNED_RETENTION)
            .await
        {
            Ok(0) => {}
            Ok(count) => {
                tracing::info!(target: LOG_TARGET, count, "inbound messages to numbers no account has deleted after 7 days")
            }
            Err(error) => {
                tracing::error!(target: LOG_TARGET, %error, "purging unowned inbound messages failed")
            }
        }
    }

    /// Sweep every [`InboundConfig::sweep_every`] until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let every = self.config.sweep_every();
        while !*shutdown.borrow() {
            self.sweep(Timestamp::now()).await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::debug!(target: LOG_TARGET, "inbound sweeper stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_is_retried_at_the_interval_until_its_window_ends() {
        let config = InboundConfig {
            retry_interval_secs: 300,
            max_age_hours: 1,
            part_timeout_secs: 60,
        };
        let created: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let now = created + SignedDuration::from_mins(10);
        assert_eq!(
            config.retry_after(created, now),
            Some(now + SignedDuration::from_mins(5))
        );
        assert_eq!(
            config.retry_after(created, created + SignedDuration::from_mins(55)),
            Some(created + SignedDuration::from_hours(1))
        );
        assert_eq!(
            config.retry_after(created, created + SignedDuration::from_mins(56)),
            None
        );
    }

    #[test]
    fn the_defaults_are_cms_and_the_sweep_follows_the_part_timeout() {
        let config = InboundConfig::default();
        assert_eq!(
            (
                config.retry_interval_secs,
                config.max_age_hours,
                config.part_timeout_secs
            ),
            (300, 720, 60)
        );
        assert_eq!(config.sweep_every(), Duration::from_secs(6));
        let quick = InboundConfig {
            part_timeout_secs: 1,
            ..config
        };
        assert_eq!(quick.sweep_every(), Duration::from_millis(100));
        let slow = InboundConfig {
            part_timeout_secs: 3600,
            ..InboundConfig::default()
        };
        assert_eq!(slow.sweep_every(), Duration::from_secs(10));
    }
}
