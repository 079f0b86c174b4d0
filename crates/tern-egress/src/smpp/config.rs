//! A `[[connector]]` of kind `smpp`: the operator's SMSC, the account Tern binds with, and how
//! hard Tern may push it. Names and defaults are the configuration contract.

use std::path::PathBuf;

use serde::Deserialize;
use tern_core::error_code::DeliveryError;

use tern_proto::smpp::ReceiptIdFormat;

/// How the sessions of one bind are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    /// One bind_transceiver per bind: submits out, receipts and MOs in.
    #[default]
    Transceiver,
    /// One bind_transmitter and one bind_receiver per bind.
    TransmitterReceiver,
}

/// The settings of an SMPP connector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppConnectorConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Connect over TLS.
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the certificates that may sign the SMSC's (relative to the configuration
    /// file); the system's roots when absent.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    pub system_id: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub system_type: String,
    #[serde(default)]
    pub bind: BindMode,
    /// Parallel sessions (bind pairs for `transmitter-receiver`).
    #[serde(default = "one")]
    pub binds: u32,
    #[serde(default = "default_source_ton")]
    pub source_ton: u8,
    #[serde(default)]
    pub source_npi: u8,
    #[serde(default = "one_u8")]
    pub dest_ton: u8,
    #[serde(default = "one_u8")]
    pub dest_npi: u8,
    /// Outstanding submit_sm per session.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Parts per second over all the connector's sessions.
    #[serde(default = "default_rate")]
    pub max_submits_per_sec: u32,
    #[serde(default = "default_enquire_link")]
    pub enquire_link_secs: u64,
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
    #[serde(default)]
    pub receipt_id_format: ReceiptIdFormat,
    /// The CM error code reported when the SMSC gives none Tern knows.
    #[serde(default = "default_error_code")]
    pub default_error_code: DeliveryError,
    /// How long a request waits for the SMSC's response before the session is taken for dead.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_secs: u64,
}

fn default_port() -> u16 {
    2775
}
fn one() -> u32 {
    1
}
fn one_u8() -> u8 {
    1
}
fn default_source_ton() -> u8 {
    5
}
fn default_window() -> u32 {
    10
}
fn default_rate() -> u32 {
    100
}
fn default_enquire_link() -> u64 {
    30
}
fn default_reconnect_min() -> u64 {
    500
}
fn default_reconnect_max() -> u64 {
    30_000
}
fn default_error_code() -> DeliveryError {
    DeliveryError::NotDeliveredAtThirdParty
}
fn default_response_timeout() -> u64 {
    30
}

impl SmppConnectorConfig {
    /// What serde cannot check; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(bool, &str); 9] = [
            (!self.host.trim().is_empty(), "host must not be empty"),
            (self.port != 0, "port must not be 0"),
            (
                !self.system_id.is_empty() && self.system_id.len() <= 15,
                "system_id must be 1 to 15 characters",
            ),
            (
                self.password.len() <= 8,
                "password must be at most 8 characters",
            ),
            (
                self.system_type.len() <= 12,
                "system_type must be at most 12 characters",
            ),
            (
                (1..=64).contains(&self.binds),
                "binds must be between 1 and 64",
            ),
            (
                (1..=10_000).contains(&self.window),
                "window must be between 1 and 10000",
            ),
            (
                self.max_submits_per_sec >= 1,
                "max_submits_per_sec must be at least 1",
            ),
            (
                self.reconnect_min_ms >= 1 && self.reconnect_min_ms <= self.reconnect_max_ms,
                "reconnect_min_ms must be at least 1 and at most reconnect_max_ms",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err((*message).into()),
            None if self.enquire_link_secs == 0 => {
                Err("enquire_link_secs must be at least 1".into())
            }
            None if self.response_timeout_secs == 0 => {
                Err("response_timeout_secs must be at least 1".into())
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_names_are_the_contract() {
        let config: SmppConnectorConfig = serde_json::from_value(serde_json::json!({
            "host": "smsc.example.net", "system_id": "acme", "password": "secret",
            "bind": "transmitter-receiver", "receipt_id_format": "hex", "default_error_code": 24
        }))
        .unwrap();
        assert_eq!(config.port, 2775);
        assert_eq!(config.bind, BindMode::TransmitterReceiver);
        assert_eq!(
            (
                config.source_ton,
                config.source_npi,
                config.dest_ton,
                config.dest_npi
            ),
            (5, 0, 1, 1)
        );
        assert_eq!(
            (config.binds, config.window, config.max_submits_per_sec),
            (1, 10, 100)
        );
        assert_eq!(
            (config.reconnect_min_ms, config.reconnect_max_ms),
            (500, 30_000)
        );
        assert_eq!(config.receipt_id_format, ReceiptIdFormat::Hex);
        assert_eq!(
            config.default_error_code,
            DeliveryError::RecipientUnreachable
        );
        assert_eq!(config.validate(), Ok(()));
        let mut long = config.clone();
        long.system_id = "a-system-id-too-long".into();
        assert_eq!(
            long.validate(),
            Err("system_id must be 1 to 15 characters".into())
        );
        let unknown = serde_json::from_value::<SmppConnectorConfig>(serde_json::json!({
            "host": "h", "system_id": "s", "windw": 3
        }))
        .unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `windw`"),
            "{unknown}"
        );
    }
}
