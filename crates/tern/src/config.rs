//! Configuration: defaults, then the TOML file, then `TERN_*` environment variables (nested keys
//! with `__`, e.g. `TERN_STATUS_REPORTS__TIMEOUT_MS`), then command-line flags. `TERN_*` variables
//! that name no configuration key are warned about and ignored; unknown keys in the file are
//! errors.
//!
//! `[[connector]]` and `[[route]]` are checked here as far as the file alone can say (known
//! kinds, unique names, routes naming configured connectors and known channels); the accounts a
//! route names are resolved by [`route_rules`] once the store is open.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tern_core::account::{Account, AccountId};
use tern_core::channel::{Channel, ChannelName};
use tern_core::routing::RouteRule;
use tern_core::submission::RequestLimits;
use tern_egress::fcm::FcmConnectorConfig;
use tern_egress::inbound::InboundConfig;
use tern_egress::notifier::NotifierConfig;
use tern_egress::rbm::RbmConnectorConfig;
use tern_egress::simulator::{SIMULATOR_NAME, SimulatorConfig};
use tern_egress::smpp::SmppConnectorConfig;
use tern_egress::webhook_target::WebhookTargets;
use tern_egress::whatsapp::WhatsAppConnectorConfig;
use tern_ingress::smpp::SmppConfig;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `database_url`: the PostgreSQL database (`postgres://…`) the gateway's nodes share; the
    /// store is SQLite in `data_dir` without it.
    #[serde(default)]
    pub database_url: Option<String>,
    /// `[cluster]`: this node's name and the timing of its leases (PostgreSQL).
    #[serde(default)]
    pub cluster: ClusterConfig,
    pub http_addr: SocketAddr,
    /// Where the SMPP server listens, or `off`.
    pub smpp_addr: SmppAddr,
    /// `[smpp]`: the SMPP server's TLS listener and session settings.
    #[serde(default)]
    pub smpp: SmppConfig,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest time an HTTP request's head may take to arrive, and the whole request (head,
    /// body and answer) to be served; also how long an idle keep-alive connection is kept.
    pub request_timeout_secs: u64,
    /// Price debited per accepted message part (decimal, account currency).
    pub price_per_part: String,
    #[serde(default)]
    pub simulator: SimulatorConfig,
    #[serde(default)]
    pub status_reports: NotifierConfig,
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// `[inbound]`: inbound (MO) webhooks' retries and the wait for missing parts.
    #[serde(default)]
    pub inbound: InboundConfig,
    /// `[optout]`: the inbound keywords that put their sender on the account's blocklist.
    #[serde(default)]
    pub optout: OptOutConfig,
    /// `[limits]`: what one request may ask for.
    #[serde(default)]
    pub limits: RequestLimits,
    /// `[webhooks]`: which targets webhooks may be POSTed to.
    #[serde(default)]
    pub webhooks: WebhookTargets,
    /// `[[connector]]`: connectors besides the built-in simulator.
    #[serde(default, rename = "connector")]
    pub connectors: Vec<ConnectorConfig>,
    /// `[[route]]`: which connectors carry which messages.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// `[metrics]`: `GET /metrics` (Prometheus), on or off, and on which address.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[log]`: the log's format. `crate::logging` reads it from the file before the rest (the
    /// log is set up first); here it is only checked, so that a wrong value stops the start.
    #[serde(default)]
    #[allow(dead_code)]
    pub log: LogConfig,
    /// The configuration file's directory (empty without a file): the base of the relative
    /// paths the file gives.
    #[serde(skip)]
    pub config_dir: PathBuf,
}

/// `[optout]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptOutConfig {
    /// An inbound message that is exactly one of these (case-insensitive, trimmed) puts its
    /// sender on its account's blocklist; `START` takes it off. Empty: no opt-out keywords.
    pub keywords: Vec<String>,
}

impl Default for OptOutConfig {
    fn default() -> Self {
        OptOutConfig {
            keywords: tern_core::blocklist::DEFAULT_KEYWORDS
                .iter()
                .map(|keyword| (*keyword).to_owned())
                .collect(),
        }
    }
}

impl OptOutConfig {
    /// The keywords, as the store judges inbound messages by them.
    pub fn keywords(&self) -> tern_core::blocklist::OptOutKeywords {
        tern_core::blocklist::OptOutKeywords::new(&self.keywords)
    }
}

/// The connector kinds this version builds.
pub const CONNECTOR_KINDS: [&str; 5] = ["simulator", "smpp", "whatsapp-cloud", "rbm", "fcm"];

/// One `[[connector]]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorConfig {
    /// What routes name it by; never `simulator`, the built-in one's.
    pub name: String,
    /// One of [`CONNECTOR_KINDS`]: `simulator` (another simulator, with the `[simulator]`
    /// settings, under this name).
    pub kind: String,
    /// Every other key, kept so that a kind's settings are judged by that kind: the simulator
    /// kind has none, so any is an error.
    #[serde(flatten)]
    pub settings: BTreeMap<String, figment::value::Value>,
}

impl ConnectorConfig {
    /// The settings of a connector of kind `smpp`, checked.
    pub fn smpp(&self) -> anyhow::Result<SmppConnectorConfig> {
        let config: SmppConnectorConfig = self.settings()?;
        config.validate().map_err(|error| self.invalid(error))?;
        Ok(config)
    }

    /// The settings of a connector of kind `whatsapp-cloud`, checked.
    pub fn whatsapp(&self) -> anyhow::Result<WhatsAppConnectorConfig> {
        let config: WhatsAppConnectorConfig = self.settings()?;
        config.validate().map_err(|error| self.invalid(error))?;
        Ok(config)
    }

    /// The settings of a connector of kind `fcm`, checked (the service-account file is read
    /// when the gateway starts).
    pub fn fcm(&self) -> anyhow::Result<FcmConnectorConfig> {
        let config: FcmConnectorConfig = self.settings()?;
        config.validate().map_err(|error| self.invalid(error))?;
        Ok(config)
    }

    /// The settings of a connector of kind `rbm`, checked (the service-account file is read
    /// when the gateway starts).
    pub fn rbm(&self) -> anyhow::Result<RbmConnectorConfig> {
        let config: RbmConnectorConfig = self.settings()?;
        config.validate().map_err(|error| self.invalid(error))?;
        Ok(config)
    }

    /// Its settings read as a kind's settings type.
    fn settings<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        let settings = serde_json::to_value(&self.settings)
            .with_context(|| format!("invalid configuration: [[connector]] {:?}", self.name))?;
        serde_json::from_value(settings).map_err(|error| self.invalid(error))
    }

    fn invalid(&self, error: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!(
            "invalid configuration: [[connector]] {:?}: {error}",
            self.name
        )
    }
}

/// One `[[route]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The channel's name, as in `allowedChannels`; SMS when absent.
    #[serde(default = "default_route_channel")]
    pub channel: String,
    /// A destination prefix in `00`-international form (digits); any destination when absent.
    pub prefix: Option<String>,
    /// The name (`tern account create --name`) of the only account this route is for.
    pub account: Option<String>,
    /// The connector that carries the route's messages.
    pub connector: String,
    /// Connectors tried in order after `connector`.
    #[serde(default)]
    pub failover: Vec<String>,
}

fn default_route_channel() -> String {
    "SMS".into()
}

impl RouteConfig {
    fn channel(&self) -> Result<Channel, String> {
        match Channel::parse_name(&self.channel) {
            Ok(ChannelName::Routable(channel)) => Ok(channel),
            _ => Err(format!(
                "channel {:?} is not one Tern carries",
                self.channel
            )),
        }
    }
}

/// Check `[[connector]]` and `[[route]]` as far as the file can say.
fn check_connectors_and_routes(config: &Config) -> anyhow::Result<()> {
    let mut names = BTreeSet::from([SIMULATOR_NAME.to_owned()]);
    for connector in &config.connectors {
        let name = &connector.name;
        anyhow::ensure!(
            !name.trim().is_empty(),
            "invalid configuration: a [[connector]] needs a name"
        );
        anyhow::ensure!(
            CONNECTOR_KINDS.contains(&connector.kind.as_str()),
            "invalid configuration: [[connector]] {name:?}: kind {:?} is not available in this version (available: {})",
            connector.kind,
            CONNECTOR_KINDS.join(", ")
        );
        match connector.kind.as_str() {
            "smpp" => {
                connector.smpp()?;
            }
            "whatsapp-cloud" => {
                connector.whatsapp()?;
            }
            "fcm" => {
                connector.fcm()?;
            }
            "rbm" => {
                connector.rbm()?;
            }
            _ => {
                if let Some(key) = connector.settings.keys().next() {
                    anyhow::bail!(
                        "invalid configuration: [[connector]] {name:?}: unknown key {key:?} for kind {:?}",
                        connector.kind
                    );
                }
            }
        }
        anyhow::ensure!(
            names.insert(name.clone()),
            "invalid configuration: [[connector]] {name:?}: the name is already taken{}",
            if name == SIMULATOR_NAME {
                " by the built-in simulator"
            } else {
                ""
            }
        );
    }
    for (index, route) in config.routes.iter().enumerate() {
        let number = index + 1;
        route.channel().map_err(|error| {
            anyhow::anyhow!("invalid configuration: [[route]] {number}: {error}")
        })?;
        if let Some(prefix) = &route.prefix {
            anyhow::ensure!(
                !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()),
                "invalid configuration: [[route]] {number}: prefix {prefix:?} must be digits (00 and the country code, e.g. \"0031\")"
            );
        }
        for connector in std::iter::once(&route.connector).chain(&route.failover) {
            anyhow::ensure!(
                names.contains(connector),
                "invalid configuration: [[route]] {number}: no connector named {connector:?} (configured: {})",
                names
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// The account a connector's `inbound_account` names among `accounts` (`None` when it names
/// none): exactly one account must have that name, since it alone receives the inbound messages.
pub fn inbound_account(
    connector: &str,
    name: Option<&str>,
    accounts: &[Account],
) -> anyhow::Result<Option<AccountId>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let mut named = accounts.iter().filter(|account| account.name == name);
    match (named.next(), named.next()) {
        (Some(account), None) => Ok(Some(account.id)),
        (None, _) => anyhow::bail!(
            "invalid configuration: [[connector]] {connector:?}: inbound_account {name:?} is no account's name (create it with `tern account create --name {name}`)"
        ),
        (Some(_), Some(_)) => anyhow::bail!(
            "invalid configuration: [[connector]] {connector:?}: inbound_account {name:?} is the name of several accounts; inbound messages need one"
        ),
    }
}

/// The routing rules of `routes` (checked by [`load`]), with account names resolved among
/// `accounts`: a route for a name no account has is an error; a name several accounts share
/// gives each of them the route.
pub fn route_rules(routes: &[RouteConfig], accounts: &[Account]) -> anyhow::Result<Vec<RouteRule>> {
    let mut rules = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let number = index + 1;
        let channel = route.channel().map_err(|error| {
            anyhow::anyhow!("invalid configuration: [[route]] {number}: {error}")
        })?;
        let connectors = std::iter::once(&route.connector)
            .chain(&route.failover)
            .map(|name| name.as_str().into())
            .collect();
        let mut rule = RouteRule::new(channel, connectors);
        if let Some(prefix) = &route.prefix {
            rule = rule.for_destination_prefix(prefix.clone());
        }
        match &route.account {
            None => rules.push(rule),
            Some(name) => {
                let ids: Vec<_> = accounts
                    .iter()
                    .filter(|account| &account.name == name)
                    .map(|account| account.id)
                    .collect();
                anyhow::ensure!(
                    !ids.is_empty(),
                    "invalid configuration: [[route]] {number}: no account named {name:?}"
                );
                rules.extend(ids.into_iter().map(|id| rule.clone().for_account(id)));
            }
        }
    }
    Ok(rules)
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether the gateway counts and serves `GET /metrics`.
    pub enabled: bool,
    /// Serve `/metrics` on this address (an internal interface) instead of the HTTP API's; the
    /// API's address then answers 404 there.
    pub addr: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            addr: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (human-readable, the default) or `json` (one object per line).
    pub format: crate::logging::LogFormat,
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

/// `[cluster]`: how a node of a gateway on PostgreSQL names itself and how long its leases last.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The node's name in leases, logs and metrics; the host's name and a random suffix when
    /// absent.
    pub node_id: Option<String>,
    /// A node that has not said it is alive for this long loses its leases: the other nodes
    /// take its work over.
    pub lease_secs: u64,
    /// How often a node says it is alive.
    pub heartbeat_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: None,
            lease_secs: 30,
            heartbeat_secs: 5,
        }
    }
}

impl ClusterConfig {
    fn validate(&self) -> Result<(), String> {
        if let Some(node_id) = &self.node_id
            && (node_id.trim().is_empty() || node_id.len() > 200)
        {
            return Err("[cluster] node_id must be 1-200 characters".into());
        }
        if self.heartbeat_secs == 0 || self.lease_secs == 0 {
            return Err("[cluster] lease_secs and heartbeat_secs must be at least 1".into());
        }
        if self.heartbeat_secs >= self.lease_secs {
            return Err(format!(
                "[cluster] heartbeat_secs ({}) must be less than lease_secs ({}): a live node would lose its leases",
                self.heartbeat_secs, self.lease_secs
            ));
        }
        Ok(())
    }
}

/// `smpp_addr` (`--smpp-addr`): an address, or `off` for no SMPP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum SmppAddr {
    Off,
    At(SocketAddr),
}

impl std::str::FromStr for SmppAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(SmppAddr::Off);
        }
        text.trim()
            .parse()
            .map(SmppAddr::At)
            .map_err(|_| format!("{text:?} is neither an address (HOST:PORT) nor `off`"))
    }
}

impl TryFrom<String> for SmppAddr {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SmppAddr> for String {
    fn from(addr: SmppAddr) -> String {
        match addr {
            SmppAddr::Off => "off".into(),
            SmppAddr::At(addr) => addr.to_string(),
        }
    }
}

#[derive(Serialize)]
struct Defaults {
    data_dir: PathBuf,
    http_addr: SocketAddr,
    smpp_addr: SmppAddr,
    max_body_bytes: usize,
    request_timeout_secs: u64,
    price_per_part: String,
}

/// `TERN_*` variables that are not configuration keys: read by `load` itself or meant for the
/// logger.
const ENV_NOT_KEYS: [&str; 3] = ["CONFIG", "LOG", "LOG_FORMAT"];

/// One `TERN_*` environment variable: its name and the configuration key it would set
/// (`TERN_STATUS_REPORTS__TIMEOUT_MS` → `status_reports.timeout_ms`).
struct EnvVariable {
    name: String,
    key: String,
}

fn env_variables() -> Vec<EnvVariable> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter_map(|name| {
            let rest = name.strip_prefix("TERN_")?;
            if rest.is_empty() || ENV_NOT_KEYS.iter().any(|k| k.eq_ignore_ascii_case(rest)) {
                return None;
            }
            let key = rest.replace("__", ".").to_ascii_lowercase();
            Some(EnvVariable { name, key })
        })
        .collect()
}

/// The `TERN_*` environment as a provider, without the keys in `ignored`.
fn env_provider(ignored: &BTreeSet<String>) -> Env {
    let ignored = ignored.clone();
    Env::prefixed("TERN_")
        .ignore(&ENV_NOT_KEYS)
        .split("__")
        .filter(move |key| !ignored.contains(&key.as_str().to_ascii_lowercase()))
}

/// Extract the configuration from `base` (defaults and file), the environment, then `flags`.
///
/// The environment of a process is shared with whatever else runs there: Kubernetes injects
/// `TERN_PORT`, `TERN_SERVICE_HOST` and the like for a Service named `tern`, and wrappers set
/// their own `TERN_*` variables. So a variable that names no configuration key is left out with
/// one warning naming every such variable, instead of stopping the start. The known keys are not
/// listed here: extraction itself says which key is unknown, and an unknown key that the file
/// (or the defaults) also holds stays an error, as every unknown key in a file does.
fn extract_ignoring_foreign_env(
    base: &Figment,
    flags: &Figment,
) -> anyhow::Result<(Config, Figment)> {
    let variables = env_variables();
    let mut ignored: BTreeSet<String> = BTreeSet::new();
    let config = loop {
        let figment = base
            .clone()
            .merge(env_provider(&ignored))
            .merge(flags.clone());
        let error = match figment.extract::<Config>() {
            Ok(config) => break (config, figment),
            Err(error) => error,
        };
        let figment::error::Kind::UnknownField(field, _) = &error.kind else {
            return Err(error).context("invalid configuration");
        };
        let mut path = error.path.clone();
        if path.last() != Some(field) {
            path.push(field.clone());
        }
        let key = path.join(".").to_ascii_lowercase();
        let foreign: Vec<&EnvVariable> = variables
            .iter()
            .filter(|variable| {
                !ignored.contains(&variable.key)
                    && (variable.key == key || variable.key.starts_with(&format!("{key}.")))
            })
            .collect();
        if foreign.is_empty() || base.contains(&key) {
            return Err(error).context("invalid configuration");
        }
        ignored.extend(foreign.into_iter().map(|variable| variable.key.clone()));
    };
    let mut names: Vec<&str> = variables
        .iter()
        .filter(|variable| ignored.contains(&variable.key))
        .map(|variable| variable.name.as_str())
        .collect();
    if !names.is_empty() {
        names.sort_unstable();
        tracing::warn!(
            "ignoring unknown environment variables: {}",
            names.join(", ")
        );
    }
    Ok(config)
}

/// Load the configuration.
pub fn load(
    file: Option<&Path>,
    data_dir: Option<PathBuf>,
    http_addr: Option<SocketAddr>,
    smpp_addr: Option<SmppAddr>,
    database_url: Option<String>,
) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Defaults {
        data_dir: PathBuf::from("./tern-data"),
        http_addr: "127.0.0.1:8080".parse().expect("valid default address"),
        smpp_addr: SmppAddr::At("127.0.0.1:2775".parse().expect("valid default address")),
        max_body_bytes: 10 * 1024 * 1024,
        request_timeout_secs: 60,
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
    let mut flags = Figment::new();
    if let Some(data_dir) = data_dir {
        flags = flags.merge(Serialized::default("data_dir", data_dir));
    }
    if let Some(http_addr) = http_addr {
        flags = flags.merge(Serialized::default("http_addr", http_addr));
    }
    if let Some(smpp_addr) = smpp_addr {
        flags = flags.merge(Serialized::default("smpp_addr", smpp_addr));
    }
    if let Some(database_url) = database_url {
        flags = flags.merge(Serialized::default("database_url", database_url));
    }
    let (mut config, merged) = extract_ignoring_foreign_env(&figment, &flags)?;
    // Relative paths given in the file are relative to the file's directory.
    config.config_dir = file
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let from_file = |key: &str| {
        merged
            .find_metadata(key)
            .is_some_and(|metadata| matches!(metadata.source, Some(figment::Source::File(_))))
    };
    let relative_to_file = |path: &mut PathBuf, key: &str, dir: &Path| {
        if path.is_relative() && from_file(key) {
            *path = dir.join(&*path);
        }
    };
    let dir = config.config_dir.clone();
    relative_to_file(&mut config.data_dir, "data_dir", &dir);
    if let Some(path) = config.smpp.tls_cert_file.as_mut() {
        relative_to_file(path, "smpp.tls_cert_file", &dir);
    }
    if let Some(path) = config.smpp.tls_key_file.as_mut() {
        relative_to_file(path, "smpp.tls_key_file", &dir);
    }
    config
        .simulator
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    config
        .price_per_part
        .parse::<tern_core::money::Money>()
        .context("invalid configuration: price_per_part")?;
    check_connectors_and_routes(&config)?;
    config
        .webhooks
        .rotation_overlap()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    config
        .inbound
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    config
        .cluster
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if let Some(url) = &config.database_url {
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "invalid configuration: database_url must be a PostgreSQL URL (postgres://…), not {:?}",
            crate::store::without_password(url)
        );
    }
    if config.smpp.tls_addr.is_some() {
        anyhow::ensure!(
            config.smpp.tls_cert_file.is_some() && config.smpp.tls_key_file.is_some(),
            "invalid configuration: [smpp] tls_addr needs tls_cert_file and tls_key_file"
        );
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_core::account::{ReportFormat, TokenHash};

    fn account(id: i64, name: &str) -> Account {
        Account {
            id,
            name: name.into(),
            token_hash: TokenHash([0; 32]),
            balance: None,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: None,
            inbound_numbers: Vec::new(),
            channels: Channel::ALL.to_vec(),
            smpp: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            disabled: false,
            webhook_secrets: Default::default(),
        }
    }

    fn route(account: Option<&str>) -> RouteConfig {
        RouteConfig {
            channel: "whatsapp".into(),
            prefix: Some("0031".into()),
            account: account.map(Into::into),
            connector: "sim-b".into(),
            failover: vec!["simulator".into()],
        }
    }

    #[test]
    fn route_rules_resolve_account_names() {
        let accounts = [account(1, "acme"), account(2, "other"), account(3, "acme")];
        let expected = RouteRule::new(Channel::WhatsApp, vec!["sim-b".into(), "simulator".into()])
            .for_destination_prefix("0031");
        assert_eq!(
            route_rules(&[route(None)], &accounts).unwrap(),
            std::slice::from_ref(&expected)
        );
        // A name two accounts share gives each the route.
        assert_eq!(
            route_rules(&[route(Some("acme"))], &accounts).unwrap(),
            [expected.clone().for_account(1), expected.for_account(3)]
        );
        assert_eq!(
            route_rules(&[route(None), route(Some("nobody"))], &accounts)
                .unwrap_err()
                .to_string(),
            "invalid configuration: [[route]] 2: no account named \"nobody\""
        );
    }

    #[test]
    fn relative_paths_in_the_file_are_relative_to_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tern.toml");
        std::fs::write(
            &file,
            "data_dir = \"data\"\n[smpp]\ntls_cert_file = \"certs/c.pem\"\ntls_key_file = \"/abs/k.pem\"\n",
        )
        .unwrap();
        let config = load(Some(&file), None, None, None, None).unwrap();
        assert_eq!(config.config_dir, dir.path());
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(
            config.smpp.tls_cert_file.as_deref(),
            Some(dir.path().join("certs/c.pem").as_path())
        );
        assert_eq!(
            config.smpp.tls_key_file.as_deref(),
            Some(Path::new("/abs/k.pem"))
        );
        // A flag is relative to the working directory, as any command-line path.
        let flagged = load(Some(&file), Some(PathBuf::from("here")), None, None, None).unwrap();
        assert_eq!(flagged.data_dir, PathBuf::from("here"));
    }

    #[test]
    fn the_database_url_and_the_cluster_settings_are_read_defaulted_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tern.toml");
        let load_file = |text: &str, flag: Option<&str>| {
            std::fs::write(&file, text).unwrap();
            load(Some(&file), None, None, None, flag.map(str::to_owned))
        };
        let defaults = load_file("", None).unwrap();
        assert_eq!(defaults.database_url, None);
        assert_eq!(
            defaults.cluster,
            ClusterConfig {
                node_id: None,
                lease_secs: 30,
                heartbeat_secs: 5
            }
        );
        let configured = load_file(
            "database_url = \"postgres://db/tern\"\n[cluster]\nnode_id = \"a\"\nlease_secs = 10\nheartbeat_secs = 2\n",
            None,
        )
        .unwrap();
        assert_eq!(
            configured.database_url.as_deref(),
            Some("postgres://db/tern")
        );
        assert_eq!(configured.cluster.node_id.as_deref(), Some("a"));
        assert_eq!(configured.cluster.lease_secs, 10);
        // The flag wins over the file.
        let flagged = load_file(
            "database_url = \"postgres://db/tern\"\n",
            Some("postgresql://other/tern"),
        )
        .unwrap();
        assert_eq!(
            flagged.database_url.as_deref(),
            Some("postgresql://other/tern")
        );
        let error = |text: &str| format!("{:#}", load_file(text, None).unwrap_err());
        assert_eq!(
            error("database_url = \"mysql://u:pw@db/tern\"\n"),
            "invalid configuration: database_url must be a PostgreSQL URL (postgres://…), not \"mysql://u:***@db/tern\""
        );
        assert_eq!(
            error("[cluster]\nlease_secs = 5\nheartbeat_secs = 5\n"),
            "invalid configuration: [cluster] heartbeat_secs (5) must be less than lease_secs (5): a live node would lose its leases"
        );
        assert_eq!(
            error("[cluster]\nnode_id = \" \"\n"),
            "invalid configuration: [cluster] node_id must be 1-200 characters"
        );
        assert!(error("[cluster]\nnodes = 3\n").contains("nodes"));
    }

    #[test]
    fn inbound_settings_are_read_defaulted_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tern.toml");
        let load_file = |text: &str| {
            std::fs::write(&file, text).unwrap();
            load(Some(&file), None, None, None, None)
        };
        assert_eq!(load_file("").unwrap().inbound, InboundConfig::default());
        assert_eq!(
            load_file(
                "[inbound]\nretry_interval_secs = 5\nmax_age_hours = 2\npart_timeout_secs = 30\n"
            )
            .unwrap()
            .inbound,
            InboundConfig {
                retry_interval_secs: 5,
                max_age_hours: 2,
                part_timeout_secs: 30,
            }
        );
        assert_eq!(
            format!(
                "{:#}",
                load_file("[inbound]\nretry_interval_secs = 0\n").unwrap_err()
            ),
            "invalid configuration: [inbound] retry_interval_secs must be at least 1"
        );
        assert!(load_file("[inbound]\nretry_secs = 5\n").is_err());
    }

    #[test]
    fn opt_out_keywords_are_read_and_defaulted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tern.toml");
        let load_file = |text: &str| {
            std::fs::write(&file, text).unwrap();
            load(Some(&file), None, None, None, None)
        };
        assert_eq!(
            load_file("").unwrap().optout.keywords,
            vec!["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
        );
        assert_eq!(
            load_file("[optout]\nkeywords = [\"stop\", \"Halt\"]\n")
                .unwrap()
                .optout
                .keywords,
            vec!["stop", "Halt"]
        );
        assert!(load_file("[optout]\nwords = []\n").is_err());
    }
}
