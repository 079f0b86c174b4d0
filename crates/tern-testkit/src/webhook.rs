//! A webhook receiver on loopback that records every POST and answers with a status the test
//! controls (to exercise retries and redirects).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

/// One received request (a POST, unless something went wrong).
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, or whatever else arrived (a followed redirect may turn into a `GET`).
    pub method: String,
    pub content_type: String,
    /// Every request header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status the receiver answered.
    pub answered: u16,
    /// How long the receiver waited before answering (see [`WebhookReceiver::stall_next`]).
    pub stalled: Duration,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON webhook body")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The values of request header `name` (any case), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Statuses to answer next, in order; 200 when empty.
    script: VecDeque<u16>,
    /// Waits before answering the next requests, in order; none when empty.
    stalls: VecDeque<Duration>,
    /// `Location` of 3xx answers.
    location: Option<String>,
}

/// A running receiver.
pub struct WebhookReceiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (answered, stalled, location) = {
        let mut inner = inner.lock().unwrap();
        let answered = inner.script.pop_front().unwrap_or(200);
        let stalled = inner.stalls.pop_front().unwrap_or_default();
        inner.received.push(Received {
            method: method.to_string(),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            answered,
            stalled,
        });
        (answered, stalled, inner.location.clone())
    };
    if !stalled.is_zero() {
        tokio::time::sleep(stalled).await;
    }
    let status = StatusCode::from_u16(answered).unwrap();
    match location {
        Some(location) if status.is_redirection() => {
            (status, [("location", location)]).into_response()
        }
        _ => status.into_response(),
    }
}

impl WebhookReceiver {
    /// Start on 127.0.0.1 with a free port; path `/hook`, any method (recorded as received).
    pub async fn start() -> WebhookReceiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/hook", any(receive))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        WebhookReceiver {
            url: format!("http://{address}/hook"),
            inner,
        }
    }

    /// Answer the next requests with these statuses (then 200).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    /// Wait this long before answering the next requests, in order (then answer at once): a
    /// receiver that times out. A request is recorded when it arrives.
    pub fn stall_next(&self, waits: &[Duration]) {
        self.inner.lock().unwrap().stalls.extend(waits);
    }

    /// Send this `Location` with every 3xx answer scripted by [`answer_next`](Self::answer_next).
    pub fn redirect_to(&self, location: &str) {
        self.inner.lock().unwrap().location = Some(location.to_owned());
    }

    /// Forget statuses scripted with [`answer_next`](Self::answer_next): answer 200 from now on.
    pub fn clear_script(&self) {
        self.inner.lock().unwrap().script.clear();
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Wait until at least `count` POSTs have arrived, then return them all. Panics (failing the
    /// test) with what did arrive when `limit` passes first.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::Instant::now() >= deadline {
                let bodies: Vec<String> = received.iter().map(Received::text).collect();
                panic!(
                    "waited {limit:?} for {count} POST(s) to {}, got {}: {bodies:#?}",
                    self.url,
                    received.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
