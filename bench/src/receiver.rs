//! The status receiver: an in-process HTTP server on 127.0.0.1 that answers every report 200,
//! counts them, and, while recording, keeps each report's message id and arrival time for the
//! run to take in batches. It shares the machine with the gateway it measures, so it must cost
//! little: handing each report on through a channel woke the run's thread once per report (at
//! 12,000 reports/s about a seventh of the bench process's CPU); a list taken every few
//! milliseconds wakes nobody.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

/// One report that arrived while recording.
pub struct Arrival {
    pub message_id: String,
    pub at: Instant,
}

struct Inner {
    count: AtomicU64,
    recording: AtomicBool,
    /// What arrived while recording and was not taken yet.
    arrivals: Mutex<Vec<Arrival>>,
}

/// A running receiver.
#[derive(Clone)]
pub struct StatusReceiver {
    pub url: String,
    inner: Arc<Inner>,
}

/// `messages.msg.messageId` of a JSON status report, found without a full parse (the gateway
/// writes compact JSON).
fn message_id(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"messageId\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[start..].iter().position(|b| *b == b'"')?;
    String::from_utf8(body[start..start + len].to_vec()).ok()
}

async fn receive(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    inner.count.fetch_add(1, Ordering::Relaxed);
    if inner.recording.load(Ordering::Relaxed)
        && let Some(message_id) = message_id(&body)
    {
        inner
            .arrivals
            .lock()
            .expect("arrivals")
            .push(Arrival { message_id, at });
    }
    StatusCode::OK
}

impl StatusReceiver {
    /// Listen on 127.0.0.1 with an OS-chosen port; reports go to `/hook`.
    pub async fn start() -> anyhow::Result<StatusReceiver> {
        let inner = Arc::new(Inner {
            count: AtomicU64::new(0),
            recording: AtomicBool::new(false),
            arrivals: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("status receiver failed: {error}");
            }
        });
        Ok(StatusReceiver {
            url: format!("http://{address}/hook"),
            inner,
        })
    }

    /// Reports received so far (all of them, recorded or not).
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// From now on, keep every report's message id and arrival time for [`Self::take_arrivals`].
    pub fn record(&self) {
        self.inner.arrivals.lock().expect("arrivals").clear();
        self.inner.recording.store(true, Ordering::Relaxed);
    }

    /// What arrived while recording since the last call, oldest first.
    pub fn take_arrivals(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.inner.arrivals.lock().expect("arrivals"))
    }

    /// Stop recording (and drop what was not taken).
    pub fn stop_recording(&self) {
        self.inner.recording.store(false, Ordering::Relaxed);
        self.inner.arrivals.lock().expect("arrivals").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::message_id;

    #[test]
    fn finds_the_message_id() {
        let body = br#"{"messages":{"msg":{"received":"2026-11-25T10:00:00","to":"0031612345678","status":{"code":"2"},"messageId":"0193-abc"}}}"#;
        assert_eq!(message_id(body).as_deref(), Some("0193-abc"));
        assert_eq!(message_id(b"{}"), None);
    }
}
