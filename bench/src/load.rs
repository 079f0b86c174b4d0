//! The load generator: one HTTP/1.1 keep-alive connection per task (hyper's low-level client, so
//! the client costs as little CPU as possible on the machine it shares with the gateway), closed
//! loops for throughput and an open loop at a fixed rate for latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest a single request may take before the run fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The submit body with `count` messages, one recipient each.
pub fn submit_body(token: &str, count: usize) -> Bytes {
    let one = r#"{"from":"Bench","to":[{"number":"0031612345678"}],"body":{"content":"benchmark message"}}"#;
    let messages = vec![one; count].join(",");
    Bytes::from(format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{messages}]}}}}"#
    ))
}

/// One keep-alive connection to the gateway.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake failed")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: addr.to_string(),
        })
    }

    /// POST `body` to /v1.0/message; returns the response body after checking it is a 200 in
    /// which every one of `expected` messages is `Accepted`.
    pub async fn submit(&mut self, body: Bytes, expected: usize) -> anyhow::Result<Bytes> {
        let exchange = async {
            self.sender
                .ready()
                .await
                .context("the gateway closed the connection")?;
            let request = Request::post("/v1.0/message")
                .header(HOST, &self.host)
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .context("request failed")?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .context("reading the response failed")?
                .to_bytes();
            anyhow::Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("no response within {REQUEST_TIMEOUT:?}"))??;
        if status != StatusCode::OK {
            bail!(
                "the gateway answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let accepted = count(&body, br#""status":"Accepted""#);
        ensure!(
            accepted == expected,
            "{accepted} of {expected} messages Accepted: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(body)
    }
}

/// Occurrences of `needle` in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// The `messageId`s of a submit response, in order.
pub fn message_ids(body: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\"messageId\":\"";
    let mut ids = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[at + KEY.len()..];
        let Some(len) = rest.iter().position(|b| *b == b'"') else {
            break;
        };
        ids.push(String::from_utf8_lossy(&rest[..len]).into_owned());
        rest = &rest[len..];
    }
    ids
}

/// Latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    histogram.saturating_record(latency.as_micros().clamp(1, u64::MAX as u128) as u64);
}

/// What a load phase measured.
pub struct LoadResult {
    pub requests: u64,
    pub accepted: u64,
    pub elapsed: Duration,
    /// From sending a request to reading its whole response.
    pub latency: Histogram<u64>,
    /// Open loop only: from when the request was due to be sent (so a stall also delays the
    /// requests queued behind it: no coordinated omission).
    pub latency_from_schedule: Option<Histogram<u64>>,
}

impl LoadResult {
    pub fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

async fn open_all(addr: SocketAddr, connections: usize) -> anyhow::Result<Vec<Connection>> {
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(addr).await?);
    }
    Ok(opened)
}

/// Closed loop: `connections` tasks each send `body` (holding `per_request` messages) back to back
/// until `duration` has passed.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    body: Bytes,
    per_request: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let opened = open_all(addr, connections).await?;
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for mut connection in opened {
        let body = body.clone();
        tasks.spawn(async move {
            let mut latency = histogram();
            let mut requests = 0u64;
            while Instant::now() < end {
                let sent = Instant::now();
                connection.submit(body.clone(), per_request).await?;
                record(&mut latency, sent.elapsed());
                requests += 1;
            }
            anyhow::Ok((requests, latency))
        });
    }
    let mut result = LoadResult {
        requests: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
        latency_from_schedule: None,
    };
    while let Some(joined) = tasks.join_next().await {
        let (requests, latency) = joined.context("load task panicked")??;
        result.requests += requests;
        result.latency.add(&latency).expect("same histogram bounds");
    }
    result.elapsed = start.elapsed();
    result.accepted = result.requests * per_request as u64;
    Ok(result)
}

/// Open loop: single-message requests at `rate` per second in total, spread evenly over
/// `connections` connections, each request at its scheduled time (or at once when its connection
/// is still busy with the previous one).
pub async fn open_loop(
    addr: SocketAddr,
    connections: usize,
    body: Bytes,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    ensure!(rate > 0.0, "open loop needs a positive rate");
    let opened = open_all(addr, connections).await?;
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut connection) in opened.into_iter().enumerate() {
        let body = body.clone();
        let offset = interval.mul_f64(index as f64 / connections as f64);
        tasks.spawn(async move {
            let mut latency = histogram();
            let mut from_schedule = histogram();
            let mut requests = 0u64;
            loop {
                let due = start + offset + interval * requests as u32;
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let sent = Instant::now();
                connection.submit(body.clone(), 1).await?;
                let done = Instant::now();
                record(&mut latency, done - sent);
                record(&mut from_schedule, done.saturating_duration_since(due));
                requests += 1;
            }
            anyhow::Ok((requests, latency, from_schedule))
        });
    }
    let mut result = LoadResult {
        requests: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
        latency_from_schedule: Some(histogram()),
    };
    while let Some(joined) = tasks.join_next().await {
        let (requests, latency, from_schedule) = joined.context("load task panicked")??;
        result.requests += requests;
        result.latency.add(&latency).expect("same histogram bounds");
        if let Some(all) = result.latency_from_schedule.as_mut() {
            all.add(&from_schedule).expect("same histogram bounds");
        }
    }
    result.elapsed = start.elapsed();
    result.accepted = result.requests;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_ids() {
        let body = submit_body("t", 3);
        assert_eq!(count(&body, b"\"from\":\"Bench\""), 3);
        let response = br#"{"messages":[{"status":"Accepted","messageId":"a"},{"status":"Accepted","messageId":"b"}]}"#;
        assert_eq!(message_ids(response), vec!["a", "b"]);
        assert_eq!(count(response, br#""status":"Accepted""#), 2);
    }
}
