//! A `[[connector]]` of kind `whatsapp-cloud`: the Meta phone number Tern sends from, the
//! credentials of its Graph API and webhooks, and how hard Tern may push it. Names and defaults
//! are the configuration contract.

use serde::Deserialize;

/// The settings of a WhatsApp Cloud API connector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConnectorConfig {
    /// The Graph API's root, without the version (tests point it at a local stand-in).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The Graph API version, a path segment (`v21.0`).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The sending number's id at Meta.
    pub phone_number_id: String,
    /// A system-user (or app) access token, sent as `Authorization: Bearer`.
    pub access_token: String,
    /// The app secret that signs webhooks (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// What Meta's subscription GET must present as `hub.verify_token`.
    pub verify_token: String,
    /// The account (its name) that receives this number's inbound messages; none: inbound
    /// messages are acknowledged and dropped, with a warning.
    #[serde(default)]
    pub inbound_account: Option<String>,
    /// Requests per second to Meta for this number (Meta's default throughput is 80).
    #[serde(default = "default_rate")]
    pub max_sends_per_sec: u32,
    /// Requests to Meta in flight at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long a request to Meta may take before it counts as failed (temporarily).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://graph.facebook.com".to_owned()
}
fn default_api_version() -> String {
    "v21.0".to_owned()
}
fn default_rate() -> u32 {
    80
}
fn default_max_in_flight() -> usize {
    128
}
fn default_timeout_ms() -> u64 {
    15_000
}

impl WhatsAppConnectorConfig {
    /// Check what serde cannot: an error says which key and why.
    pub fn validate(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|error| format!("base_url {:?} is not a URL: {error}", self.base_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("base_url {:?} is not http(s)", self.base_url));
        }
        for (key, value) in [
            ("api_version", &self.api_version),
            ("phone_number_id", &self.phone_number_id),
        ] {
            if value.is_empty()
                || value.contains(['/', '?', '#'])
                || value.contains(char::is_whitespace)
            {
                return Err(format!("{key} {value:?} must be one path segment"));
            }
        }
        for (key, value) in [
            ("access_token", &self.access_token),
            ("app_secret", &self.app_secret),
            ("verify_token", &self.verify_token),
        ] {
            if value.is_empty() {
                return Err(format!("{key} must not be empty"));
            }
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

    /// Where messages are posted: `{base_url}/{api_version}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/{}/{}/messages",
            self.base_url.trim_end_matches('/'),
            self.api_version,
            self.phone_number_id
        )
    }
}
