//! Configuration: defaults, then the TOML file, then `TERN_*` environment variables (nested keys
//! with `__`, e.g. `TERN_STATUS_REPORTS__TIMEOUT_MS`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tern_core::submission::RequestLimits;
use tern_egress::notifier::NotifierConfig;
use tern_egress::simulator::SimulatorConfig;
use tern_egress::webhook_target::WebhookTargets;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Price debited per accepted message part (decimal, account currency).
    pub price_per_part: String,
    #[serde(default)]
    pub simulator: SimulatorConfig,
    #[serde(default)]
    pub status_reports: NotifierConfig,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// `[limits]`: what one request may ask for.
    #[serde(default)]
    pub limits: RequestLimits,
    /// `[webhooks]`: which targets webhooks may be POSTed to.
    #[serde(default)]
    pub webhooks: WebhookTargets,
}

/// `[dispatch]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    pub batch_size: usize,
    pub lease_secs: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            batch_size: 512,
            lease_secs: 60,
        }
    }
}

#[derive(Serialize)]
struct Defaults {
    data_dir: PathBuf,
    http_addr: SocketAddr,
    max_body_bytes: usize,
    price_per_part: String,
}

/// Load the configuration.
pub fn load(
    file: Option<&Path>,
    data_dir: Option<PathBuf>,
    http_addr: Option<SocketAddr>,
) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Defaults {
        data_dir: PathBuf::from("./tern-data"),
        http_addr: "127.0.0.1:8080".parse().expect("valid default address"),
        max_body_bytes: 10 * 1024 * 1024,
        price_per_part: "0".into(),
    }));
    if let Some(file) = file {
        anyhow::ensure!(
            file.exists(),
            "configuration file {} does not exist",
            file.display()
        );
        figment = figment.merge(Toml::file(file));
    }
    figment = figment.merge(
        Env::prefixed("TERN_")
            .ignore(&["CONFIG", "LOG"])
            .split("__"),
    );
    if let Some(data_dir) = data_dir {
        figment = figment.merge(Serialized::default("data_dir", data_dir));
    }
    if let Some(http_addr) = http_addr {
        figment = figment.merge(Serialized::default("http_addr", http_addr));
    }
    let config: Config = figment.extract().context("invalid configuration")?;
    config
        .simulator
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    config
        .price_per_part
        .parse::<tern_core::money::Money>()
        .context("invalid configuration: price_per_part")?;
    Ok(config)
}
