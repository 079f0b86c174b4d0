//! The simulator: the default route for every channel in the embedded setup. It takes every
//! message and, after a configured delay, reports the outcome the first matching rule names, so
//! tests and demos get deterministic delivered / failed / read / expired / silent flows.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tern_core::channel::Channel;
use tern_core::dispatch::Event;
use tern_core::error_code::DeliveryError;
use tern_core::ports::{Connector, ConnectorError, Dispatch, EventSink, Sent};
use tern_core::status::{CmStatus, EXPIRED_ERROR, NOT_DELIVERED_ERROR};

/// What the simulated channel does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Accepted by the operator (status 0), then nothing: the message later expires.
    Accepted,
    /// Delivered (status 2).
    Delivered,
    /// Delivered, then read (status 2, then 4).
    Read,
    /// Failed (status 3); falls back to the next channel.
    Failed,
    /// Rejected (status 1); falls back to the next channel.
    Rejected,
    /// Expired at the operator (status 3, error 8 unless `error_code` says otherwise).
    Expired,
    /// No report at all: the message expires at the end of its validity.
    Silent,
}

/// One rule; the first that matches a message decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorRule {
    /// Only messages on this channel (any case); any channel when absent.
    #[serde(default)]
    pub channel: Option<String>,
    /// Only recipients starting with this; any number when absent.
    #[serde(default)]
    pub to_prefix: Option<String>,
    pub outcome: Outcome,
    /// Standard error code to report (failed, rejected, expired).
    #[serde(default)]
    pub error_code: Option<DeliveryError>,
    /// Delay before the report; `default_delay_ms` when absent.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// `[simulator]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Delay before a message with no matching rule is delivered.
    #[serde(default = "default_delay")]
    pub default_delay_ms: u64,
    #[serde(default)]
    pub rule: Vec<SimulatorRule>,
}

fn default_delay() -> u64 {
    100
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            default_delay_ms: default_delay(),
            rule: Vec::new(),
        }
    }
}

impl SimulatorConfig {
    /// Check rule fields that serde cannot (channel names).
    pub fn validate(&self) -> Result<(), String> {
        for (index, rule) in self.rule.iter().enumerate() {
            if let Some(channel) = &rule.channel {
                channel
                    .parse::<Channel>()
                    .map_err(|e| format!("simulator.rule[{index}].channel: {e}"))?;
            }
        }
        Ok(())
    }

    /// The outcome, error code and delay for a message.
    pub fn decide(
        &self,
        channel: Channel,
        recipient: &str,
    ) -> (Outcome, Option<DeliveryError>, Duration) {
        let rule = self.rule.iter().find(|rule| {
            rule.channel
                .as_deref()
                .is_none_or(|c| c.parse::<Channel>() == Ok(channel))
                && rule
                    .to_prefix
                    .as_deref()
                    .is_none_or(|prefix| recipient.starts_with(prefix))
        });
        match rule {
            Some(rule) => (
                rule.outcome,
                rule.error_code,
                Duration::from_millis(rule.delay_ms.unwrap_or(self.default_delay_ms)),
            ),
            None => (
                Outcome::Delivered,
                None,
                Duration::from_millis(self.default_delay_ms),
            ),
        }
    }
}

/// The simulated connector for one or more channels.
pub struct Simulator {
    config: Arc<SimulatorConfig>,
    sink: Arc<dyn EventSink>,
    name: Arc<str>,
}

/// Sends in flight to the simulator: far more than a claim holds.
pub const SIMULATOR_MAX_IN_FLIGHT: usize = 1 << 16;

/// The name the simulator's external ids are stored under.
pub const SIMULATOR_NAME: &str = "simulator";

impl Simulator {
    pub fn new(config: SimulatorConfig, sink: Arc<dyn EventSink>) -> Simulator {
        Simulator {
            config: Arc::new(config),
            sink,
            name: SIMULATOR_NAME.into(),
        }
    }

    /// The same simulator under another name (a `[[connector]]` of kind `simulator`).
    pub fn with_name(mut self, name: impl Into<Arc<str>>) -> Simulator {
        self.name = name.into();
        self
    }

    fn schedule(&self, message: &Dispatch) {
        let (outcome, error_code, delay) = self.config.decide(message.channel, &message.recipient);
        let operator = (message.channel == Channel::Sms).then(|| "20416".to_owned());
        let report = |status: CmStatus, error_code: Option<DeliveryError>| Event::ChannelReport {
            attempt: message.attempt,
            status,
            error_code,
            operator: operator.clone(),
            detail: None,
        };
        let events: Vec<Event> = match outcome {
            Outcome::Accepted => vec![report(CmStatus::Accepted, None)],
            Outcome::Delivered => vec![report(CmStatus::Delivered, None)],
            Outcome::Read => vec![
                report(CmStatus::Delivered, None),
                report(CmStatus::Read, None),
            ],
            Outcome::Failed => vec![report(
                CmStatus::Failed,
                Some(error_code.unwrap_or(NOT_DELIVERED_ERROR)),
            )],
            Outcome::Rejected => vec![report(
                CmStatus::Rejected,
                Some(error_code.unwrap_or(NOT_DELIVERED_ERROR)),
            )],
            Outcome::Expired => vec![report(
                CmStatus::Failed,
                Some(error_code.unwrap_or(EXPIRED_ERROR)),
            )],
            Outcome::Silent => Vec::new(),
        };
        if events.is_empty() {
            return;
        }
        let sink = Arc::clone(&self.sink);
        let id = message.id;
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            for event in events {
                sink.emit(id, event);
            }
        });
    }
}

#[async_trait]
impl Connector for Simulator {
    fn name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// Takes every message and names each part as an SMSC would: an id of its own, unrelated
    /// to Tern's message id.
    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
        self.schedule(message);
        Ok(Sent {
            external_ids: (0..message.parts.max(1))
                .map(|_| uuid::Uuid::now_v7().simple().to_string())
                .collect(),
            given_ids: Vec::new(),
        })
    }

    fn resume(&self, message: &Dispatch) {
        self.schedule(message);
    }

    /// It takes a message at once, so a bound would only slow the dispatcher down.
    fn max_in_flight(&self) -> usize {
        SIMULATOR_MAX_IN_FLIGHT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let config: SimulatorConfig = serde_json::from_value(serde_json::json!({
            "default_delay_ms": 7,
            "rule": [
                {"channel": "whatsapp", "to_prefix": "003160000", "outcome": "failed", "error_code": 24, "delay_ms": 50},
                {"to_prefix": "0031600", "outcome": "read"}
            ]
        }))
        .unwrap();
        assert_eq!(
            config.decide(Channel::WhatsApp, "0031600001234"),
            (
                Outcome::Failed,
                Some(DeliveryError::RecipientUnreachable),
                Duration::from_millis(50)
            )
        );
        assert_eq!(
            config.decide(Channel::Sms, "0031600001234"),
            (Outcome::Read, None, Duration::from_millis(7))
        );
        assert_eq!(
            config.decide(Channel::Sms, "0044"),
            (Outcome::Delivered, None, Duration::from_millis(7))
        );
    }

    #[test]
    fn an_error_code_outside_the_spec_table_is_refused() {
        let error = serde_json::from_value::<SimulatorConfig>(serde_json::json!({
            "rule": [{"outcome": "failed", "error_code": 6}]
        }))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("error code 6 is not one of the spec's standard error codes"),
            "{error}"
        );
    }
}
