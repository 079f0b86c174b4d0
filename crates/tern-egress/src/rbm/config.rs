//! A `[[connector]]` of kind `rbm`: the Google RCS Business Messaging agent Tern sends as, the
//! service account whose tokens the API wants, the client token that signs Google's webhooks,
//! and how hard Tern may push the API. Names and defaults are the configuration contract.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The settings of an RBM connector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbmConnectorConfig {
    /// The API's root (tests point it at a local stand-in; a regional host, such as
    /// `https://europe-rcsbusinessmessaging.googleapis.com`, also works).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The agent's id (`agentId` of every send).
    pub agent_id: String,
    /// The Google service-account key file (JSON); a relative path is relative to the
    /// configuration file's directory. Its `token_uri` is where tokens are fetched.
    pub service_account_file: PathBuf,
    /// The agent's client token: the validation handshake must present it, and it signs every
    /// event (`X-Goog-Signature`).
    pub client_token: String,
    /// The account (its name) that receives the agent's inbound messages; none: inbound
    /// messages are acknowledged and dropped, with a warning.
    #[serde(default)]
    pub inbound_account: Option<String>,
    /// Requests per second to the API for this agent.
    #[serde(default = "default_rate")]
    pub max_sends_per_sec: u32,
    /// Requests to the API in flight at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long a request to the API may take before it counts as failed (temporarily).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    tern_proto::rbm::BASE_URL.to_owned()
}
fn default_rate() -> u32 {
    // RBM's default quota per agent is far higher; this is a polite start.
    100
}
fn default_max_in_flight() -> usize {
    128
}
fn default_timeout_ms() -> u64 {
    15_000
}

impl RbmConnectorConfig {
    /// Check what serde cannot: an error says which key and why.
    pub fn validate(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|error| format!("base_url {:?} is not a URL: {error}", self.base_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("base_url {:?} is not http(s)", self.base_url));
        }
        if self.agent_id.is_empty() || self.agent_id.contains(char::is_whitespace) {
            return Err(format!(
                "agent_id {:?} must be a non-empty id without spaces",
                self.agent_id
            ));
        }
        if self.client_token.is_empty() {
            return Err("client_token must not be empty".into());
        }
        if self.service_account_file.as_os_str().is_empty() {
            return Err("service_account_file must not be empty".into());
        }
        if self.max_sends_per_sec == 0 {
            return Err("max_sends_per_sec must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("max_in_flight must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        Ok(())
    }

    /// The key file's path, a relative one resolved against `config_dir`.
    pub fn service_account_path(&self, config_dir: &Path) -> PathBuf {
        if self.service_account_file.is_absolute() {
            self.service_account_file.clone()
        } else {
            config_dir.join(&self.service_account_file)
        }
    }

    /// The URL agent message `message_id` to `phone_e164` is posted to.
    pub fn send_url(&self, phone_e164: &str, message_id: &str) -> String {
        format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            tern_proto::rbm::agent_messages_path(phone_e164, message_id, &self.agent_id)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RbmConnectorConfig {
        serde_json::from_value(serde_json::json!({
            "agent_id": "acme_agent",
            "service_account_file": "rbm-sa.json",
            "client_token": "secret-token",
        }))
        .unwrap()
    }

    #[test]
    fn defaults_and_paths() {
        let config = config();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.base_url,
            "https://rcsbusinessmessaging.googleapis.com"
        );
        assert_eq!(
            config.service_account_path(Path::new("/etc/tern")),
            PathBuf::from("/etc/tern/rbm-sa.json")
        );
        assert_eq!(
            config.send_url("+31612345678", "0195-ab"),
            "https://rcsbusinessmessaging.googleapis.com/v1/phones/+31612345678/agentMessages?messageId=0195-ab&agentId=acme_agent"
        );
    }

    #[test]
    fn empty_secrets_and_zero_limits_are_refused() {
        let mut bad = config();
        bad.client_token.clear();
        assert!(bad.validate().unwrap_err().contains("client_token"));
        let mut bad = config();
        bad.max_in_flight = 0;
        assert!(bad.validate().unwrap_err().contains("max_in_flight"));
        let mut bad = config();
        bad.base_url = "ftp://x".into();
        assert!(bad.validate().unwrap_err().contains("base_url"));
    }
}
