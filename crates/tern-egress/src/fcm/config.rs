//! A `[[connector]]` of kind `fcm`: the Firebase project Tern pushes through, the service
//! account it authenticates as, and how long a push may wait for the device's delivery
//! confirmation. Names and defaults are the configuration contract (issue 14).

use serde::Deserialize;

/// The settings of a Push (FCM HTTP v1) connector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmConnectorConfig {
    /// FCM's root (tests point it at a local stand-in).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The Firebase project's id: `/v1/projects/{project_id}/messages:send`.
    pub project_id: String,
    /// The service-account key file (JSON), relative to the configuration file's directory.
    pub service_account_file: String,
    /// Seconds a push FCM took may wait for the device's `Delivered` confirmation; after that
    /// it fails (error 24) and the message falls back.
    #[serde(default = "default_confirm_secs")]
    pub confirm_secs: u64,
    /// Requests to FCM in flight at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long a request to FCM may take before it counts as failed (temporarily).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://fcm.googleapis.com".to_owned()
}
fn default_confirm_secs() -> u64 {
    60
}
fn default_max_in_flight() -> usize {
    128
}
fn default_timeout_ms() -> u64 {
    15_000
}

impl FcmConnectorConfig {
    /// Check what serde cannot: an error says which key and why.
    pub fn validate(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|error| format!("base_url {:?} is not a URL: {error}", self.base_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("base_url {:?} is not http(s)", self.base_url));
        }
        if self.project_id.is_empty()
            || self.project_id.contains(['/', '?', '#', ':'])
            || self.project_id.contains(char::is_whitespace)
        {
            return Err(format!(
                "project_id {:?} must be one path segment",
                self.project_id
            ));
        }
        if self.service_account_file.trim().is_empty() {
            return Err("service_account_file must not be empty".into());
        }
        if self.confirm_secs == 0 {
            return Err("confirm_secs must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("max_in_flight must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        Ok(())
    }

    /// Where messages are posted: `{base_url}/v1/projects/{project_id}/messages:send`.
    pub fn send_url(&self) -> String {
        format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            tern_proto::fcm::send_path(&self.project_id)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(extra: serde_json::Value) -> Result<FcmConnectorConfig, String> {
        let mut value = serde_json::json!({
            "project_id": "acme-app", "service_account_file": "fcm-sa.json",
        });
        if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            object.extend(extra);
        }
        let config: FcmConnectorConfig =
            serde_json::from_value(value).map_err(|e| e.to_string())?;
        config.validate().map(|()| config)
    }

    #[test]
    fn the_contract_names_and_defaults() {
        let config = read(serde_json::json!({})).unwrap();
        assert_eq!(config.base_url, "https://fcm.googleapis.com");
        assert_eq!(config.confirm_secs, 60);
        assert_eq!(
            config.send_url(),
            "https://fcm.googleapis.com/v1/projects/acme-app/messages:send"
        );
        assert!(read(serde_json::json!({"confirm_secs": 0})).is_err());
        assert!(read(serde_json::json!({"project_id": "a/b"})).is_err());
        assert!(read(serde_json::json!({"base_url": "ftp://x"})).is_err());
        assert!(read(serde_json::json!({"token": "x"})).is_err());
    }
}
