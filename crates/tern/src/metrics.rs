//! `GET /metrics`: the Prometheus exporter's recorder, installed before the gateway counts
//! anything, rendered by our own router (on the HTTP API's address, or on `[metrics] addr`)
//! with `tern_core::metrics`'s fixed-bucket histograms after the exporter's text, and
//! the sampler that keeps the gauges read from elsewhere (the store's depths, the connectors'
//! health) current. What is counted, and under which names, is `tern_core::metrics`'s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tern_core::metrics::HistogramSnapshot;
use tern_core::ports::{Connector, ConnectorHealth, StoreDepths};
use tokio::sync::watch;

use crate::config::MetricsConfig;

/// How often the sampled gauges are read (and the exporter's histograms tidied up).
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The content type of Prometheus's text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Install the Prometheus recorder and switch `tern_core::metrics`'s own histograms on, unless
/// `[metrics] enabled = false`: then nothing is counted and no route serves `/metrics`.
pub fn install(config: &MetricsConfig) -> anyhow::Result<Option<PrometheusHandle>> {
    if !config.enabled {
        return Ok(None);
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    tern_core::metrics::record_histograms();
    Ok(Some(handle))
}

/// The router of `GET /metrics` (no authentication: serve it on an internal address with
/// `[metrics] addr` where that matters).
pub fn router(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { render(&handle) }
        }),
    )
}

/// The exporter's text (counters and gauges), then the histograms.
fn render(handle: &PrometheusHandle) -> Response {
    let mut text = handle.render();
    render_histograms(&mut text, &tern_core::metrics::histograms());
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
}

/// Append `histograms` in Prometheus's text format: each family's `# TYPE` line once, then per
/// series its cumulative `_bucket` lines (`le` last among the labels, `+Inf` for the last),
/// `_sum` and `_count`.
fn render_histograms(text: &mut String, histograms: &[HistogramSnapshot]) {
    use std::fmt::Write;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut family = "";
    for histogram in histograms {
        if histogram.name != family {
            family = histogram.name;
            if !text.is_empty() && !text.ends_with("\n\n") {
                text.push('\n');
            }
            let _ = writeln!(text, "# TYPE {family} histogram");
        }
        let labels: String = histogram
            .labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{value}\","))
            .collect();
        for (bound, count) in &histogram.buckets {
            let le = if bound.is_infinite() {
                "+Inf".to_owned()
            } else {
                bound.to_string()
            };
            let _ = writeln!(text, "{family}_bucket{{{labels}le=\"{le}\"}} {count}");
        }
        let labels = labels.trim_end_matches(',');
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(text, "{family}_sum{labels} {}", histogram.sum);
        let _ = writeln!(text, "{family}_count{labels} {}", histogram.count);
    }
}

/// Every [`SAMPLE_EVERY`] until `stopping`: the store's depths, whether each connector is up, and
/// the exporter's upkeep.
pub async fn sample(
    store: Arc<dyn StoreDepths>,
    connectors: Vec<Arc<dyn Connector>>,
    handle: PrometheusHandle,
    mut stopping: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stopping.borrow() {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopping.changed() => continue,
        }
        let now = jiff::Timestamp::now();
        match (store.due_messages(now).await, store.waiting_entries().await) {
            (Ok(due), Ok(waiting)) => tern_core::metrics::depths(due, waiting),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot sample the queue and outbox depths");
            }
        }
        for connector in &connectors {
            tern_core::metrics::connector_up(
                &connector.name(),
                connector.health() == ConnectorHealth::Up,
            );
        }
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_rendered_as_prometheus_histograms() {
        let snapshot = |name, labels, buckets: Vec<(f64, u64)>, sum| HistogramSnapshot {
            name,
            labels,
            count: buckets.last().map_or(0, |(_, count)| *count),
            buckets,
            sum,
        };
        let mut text = "# TYPE c counter\nc 1\n".to_owned();
        render_histograms(
            &mut text,
            &[
                snapshot(
                    "d",
                    &[("surface", "json")],
                    vec![(0.5, 1), (f64::INFINITY, 2)],
                    3.25,
                ),
                snapshot(
                    "d",
                    &[("surface", "xml")],
                    vec![(0.5, 0), (f64::INFINITY, 0)],
                    0.0,
                ),
                snapshot("b", &[], vec![(1.0, 4), (f64::INFINITY, 5)], 9.0),
            ],
        );
        assert_eq!(
            text,
            "# TYPE c counter\nc 1\n\n\
             # TYPE d histogram\n\
             d_bucket{surface=\"json\",le=\"0.5\"} 1\n\
             d_bucket{surface=\"json\",le=\"+Inf\"} 2\n\
             d_sum{surface=\"json\"} 3.25\n\
             d_count{surface=\"json\"} 2\n\
             d_bucket{surface=\"xml\",le=\"0.5\"} 0\n\
             d_bucket{surface=\"xml\",le=\"+Inf\"} 0\n\
             d_sum{surface=\"xml\"} 0\n\
             d_count{surface=\"xml\"} 0\n\n\
             # TYPE b histogram\n\
             b_bucket{le=\"1\"} 4\n\
             b_bucket{le=\"+Inf\"} 5\n\
             b_sum 9\n\
             b_count 5\n"
        );
    }
}
