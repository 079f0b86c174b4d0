//! The status receiver: an in-process HTTP server on 127.0.0.1 that answers every report 200,
//! counts them, and, while recording, hands each report's message id and arrival time on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::mpsc;

/// One report that arrived while recording.
pub struct Arrival {
    pub message_id: String,
    pub at: Instant,
}

struct Inner {
    count: AtomicU64,
    recording: AtomicBool,
    arrivals: Mutex<Option<mpsc::UnboundedSender<Arrival>>>,
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
        && let Some(sender) = inner.arrivals.lock().expect("arrivals").as_ref()
    {
        let _ = sender.send(Arrival { message_id, at });
    }
    StatusCode::OK
}

impl StatusReceiver {
    /// Listen on 127.0.0.1 with an OS-chosen port; reports go to `/hook`.
    pub async fn start() -> anyhow::Result<StatusReceiver> {
        let inner = Arc::new(Inner {
            count: AtomicU64::new(0),
            recording: AtomicBool::new(false),
            arrivals: Mutex::new(None),
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

    /// From now on, send every report's message id and arrival time to the returned channel.
    pub fn record(&self) -> mpsc::UnboundedReceiver<Arrival> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.inner.arrivals.lock().expect("arrivals") = Some(sender);
        self.inner.recording.store(true, Ordering::Relaxed);
        receiver
    }

    /// Stop recording.
    pub fn stop_recording(&self) {
        self.inner.recording.store(false, Ordering::Relaxed);
        *self.inner.arrivals.lock().expect("arrivals") = None;
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
