//! `GET /metrics`: the Prometheus exporter's recorder, installed before the gateway counts
//! anything, rendered by our own router (on the HTTP API's address, or on `[metrics] addr`), and
//! the sampler that keeps the gauges read from elsewhere (the store's depths, the connectors'
//! health) current. What is counted, and under which names, is `tern_core::metrics`'s.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tern_core::ports::{Connector, ConnectorHealth, StoreDepths};
use tokio::sync::watch;

use crate::config::MetricsConfig;

/// How often the sampled gauges are read (and the exporter's histograms tidied up).
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The content type of Prometheus's text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Install the Prometheus recorder (the histograms of `tern_core::metrics::HISTOGRAMS` with their
/// buckets), unless `[metrics] enabled = false`: then nothing is counted and no route serves
/// `/metrics`.
pub fn install(config: &MetricsConfig) -> anyhow::Result<Option<PrometheusHandle>> {
    if !config.enabled {
        return Ok(None);
    }
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in tern_core::metrics::HISTOGRAMS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .with_context(|| format!("invalid buckets for {name}"))?;
    }
    let handle = builder
        .install_recorder()
        .context("cannot install the metrics recorder")?;
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

fn render(handle: &PrometheusHandle) -> Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
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
