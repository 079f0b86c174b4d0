//! The log: tracing's events on stderr, filtered by `TERN_LOG` (default `info`), human-readable
//! or, for log collectors, one JSON object per line (`TERN_LOG_FORMAT=json`, or `[log] format =
//! "json"` in the configuration file). The format is settled before anything else runs, so that
//! every line of a run, the configuration's own warnings included, has the same form.

use std::path::Path;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

/// The log's format.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (tracing's default format).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and each of the
    /// event's fields as keys of their own.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<LogFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => anyhow::bail!("log format {text:?} is neither `text` nor `json`"),
        }
    }
}

/// The variables that choose the format (over the configuration file), in order: the one the
/// README documents, and the configuration's own form of `[log] format`.
const FORMAT_VARIABLES: [&str; 2] = ["TERN_LOG_FORMAT", "TERN_LOG__FORMAT"];

/// The format: `TERN_LOG_FORMAT` when set, else the configuration file's `[log] format` (a file
/// that cannot be read here is reported by the configuration's loading, in the default format).
pub fn format(config_file: Option<&Path>) -> anyhow::Result<LogFormat> {
    for variable in FORMAT_VARIABLES {
        if let Ok(text) = std::env::var(variable) {
            return text.parse().with_context(|| format!("{variable}={text}"));
        }
    }
    let Some(file) = config_file.filter(|file| file.exists()) else {
        return Ok(LogFormat::default());
    };
    Ok(Figment::from(Toml::file(file))
        .extract_inner::<LogFormat>("log.format")
        .unwrap_or_default())
}

/// Install the global subscriber: stderr, `TERN_LOG`'s filter, in `format`.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
