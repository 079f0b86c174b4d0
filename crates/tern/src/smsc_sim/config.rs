//! `tern smsc-sim --config FILE`: what the simulated SMSC accepts, the message ids it gives,
//! the receipts it sends and the outcome rules by destination prefix.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
pub use tern_egress::simulator::Outcome;
use tern_proto::smpp::MessageState;

/// How submit_sm_resp / data_sm_resp ids (and the receipts that name them) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdFormat {
    /// 16 lowercase hex digits.
    #[default]
    Hex,
    /// Decimal digits, no leading zeros.
    Decimal,
    /// A random UUID, hyphenated, lowercase.
    Uuid,
}

/// The text of a receipt's short_message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptFormat {
    /// SMPP 3.4 Appendix B (`id:… sub:001 dlvrd:… … text:…`).
    #[default]
    AppendixB,
    /// CM's (`id:… submit date:yyyyMMddHHmmss done date:… stat:… err:…`).
    Cm,
}

/// One outcome rule; the first whose prefix the destination starts with decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Destinations starting with this (as the submit_sm carries them); any when absent.
    #[serde(default)]
    pub to_prefix: Option<String>,
    /// The `[simulator]` outcome names.
    pub outcome: Outcome,
    /// The receipt's `err` (and network_error_code); per outcome when absent.
    #[serde(default)]
    pub error_code: Option<u16>,
    /// Delay before this rule's receipt; `receipt_delay_ms` when absent.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// The whole configuration file; every key optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Only this system_id may bind (any when absent).
    #[serde(default)]
    pub system_id: Option<String>,
    /// The password that goes with `system_id` (any when absent).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub id_format: IdFormat,
    #[serde(default)]
    pub receipt_format: ReceiptFormat,
    /// Delay before a receipt is sent.
    #[serde(default)]
    pub receipt_delay_ms: u64,
    #[serde(default)]
    pub rule: Vec<Rule>,
}

/// What the receipt of one message says, and when it is sent; `None` state: no receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub state: Option<MessageState>,
    pub error: u16,
    pub delay: Duration,
}

impl SimConfig {
    /// Reads `path` (TOML).
    pub fn load(path: &Path) -> anyhow::Result<SimConfig> {
        if !path.is_file() {
            anyhow::bail!("configuration file {} not found", path.display());
        }
        Figment::from(Toml::file(path))
            .extract()
            .with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// Whether a bind with these credentials is accepted.
    pub fn admits(&self, system_id: &str, password: &str) -> bool {
        self.system_id.as_deref().is_none_or(|id| id == system_id)
            && self.password.as_deref().is_none_or(|pw| pw == password)
    }

    /// The receipt for a message to `destination`.
    pub fn decide(&self, destination: &str) -> Decision {
        let rule = self.rule.iter().find(|rule| {
            rule.to_prefix
                .as_deref()
                .is_none_or(|prefix| destination.starts_with(prefix))
        });
        let (outcome, error_code, delay_ms) = match rule {
            Some(rule) => (rule.outcome, rule.error_code, rule.delay_ms),
            None => (Outcome::Delivered, None, None),
        };
        let (state, default_error) = match outcome {
            Outcome::Delivered | Outcome::Read => (Some(MessageState::Delivered), 0),
            Outcome::Accepted => (Some(MessageState::Accepted), 0),
            Outcome::Failed => (Some(MessageState::Undeliverable), 5),
            Outcome::Rejected => (Some(MessageState::Rejected), 5),
            Outcome::Expired => (Some(MessageState::Expired), 8),
            Outcome::Silent => (None, 0),
        };
        Decision {
            state,
            error: error_code.unwrap_or(default_error),
            delay: Duration::from_millis(delay_ms.unwrap_or(self.receipt_delay_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_decide_by_prefix_with_defaults_per_outcome() {
        let config: SimConfig = Figment::from(Toml::string(
            r#"
            receipt_delay_ms = 7
            receipt_format = "cm"
            id_format = "decimal"
            [[rule]]
            to_prefix = "3161"
            outcome = "failed"
            [[rule]]
            to_prefix = "3162"
            outcome = "expired"
            error_code = 21
            delay_ms = 1
            [[rule]]
            to_prefix = "3163"
            outcome = "silent"
            "#,
        ))
        .extract()
        .unwrap();
        assert_eq!(config.id_format, IdFormat::Decimal);
        assert_eq!(config.receipt_format, ReceiptFormat::Cm);
        let ms = Duration::from_millis;
        assert_eq!(
            config.decide("31612345678"),
            Decision {
                state: Some(MessageState::Undeliverable),
                error: 5,
                delay: ms(7)
            }
        );
        assert_eq!(
            config.decide("31623456789"),
            Decision {
                state: Some(MessageState::Expired),
                error: 21,
                delay: ms(1)
            }
        );
        assert_eq!(config.decide("3163").state, None);
        assert_eq!(
            config.decide("447700900000"),
            Decision {
                state: Some(MessageState::Delivered),
                error: 0,
                delay: ms(7)
            }
        );
    }

    #[test]
    fn credentials_are_checked_only_when_configured() {
        let open = SimConfig::default();
        assert!(open.admits("anyone", "x"));
        let closed = SimConfig {
            system_id: Some("acme".into()),
            password: Some("secret".into()),
            ..SimConfig::default()
        };
        assert!(closed.admits("acme", "secret"));
        assert!(!closed.admits("acme", "wrong"));
        assert!(!closed.admits("other", "secret"));
    }
}
