//! The axum router and its shared state.

mod conversion;
mod gateway_ashx;
mod message_log;
pub mod openapi;
mod submit;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tern_core::error_code::RequestError;
use tern_core::ports::Store;
use tern_core::submission::SubmissionPolicy;
use tern_proto::cm::response::SubmitResponse;
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub policy: SubmissionPolicy,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Woken when messages are accepted.
    pub dispatch_wakeup: Arc<Notify>,
}

/// The HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1.0/message",
            post(submit::submit_json).fallback(submit::method_not_allowed),
        )
        .route(
            "/gateway.ashx",
            get(gateway_ashx::get_query)
                .post(gateway_ashx::post_xml)
                .fallback(gateway_ashx::other_method),
        )
        .route("/v1.0/conversion", post(conversion::post))
        .route(
            "/v1.0/messages",
            get(message_log::list).fallback(message_log::method_not_allowed),
        )
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::serve))
        .with_state(state)
        .layer(middleware::from_fn(detached))
        .layer(CatchPanicLayer::custom(unknown_error))
}

/// Handlers still running (see [`detached`]).
static HANDLERS: Handlers = Handlers {
    running: AtomicUsize::new(0),
    idle: Notify::const_new(),
};

struct Handlers {
    running: AtomicUsize,
    idle: Notify,
}

/// Counts one running handler until dropped.
struct Running;

impl Running {
    fn start() -> Running {
        HANDLERS.running.fetch_add(1, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if HANDLERS.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            HANDLERS.idle.notify_waiters();
        }
    }
}

/// Run each request's handler in its own task and await it there. The HTTP server drops the
/// future of a request whose connection closes; a handler running inside that future would stop
/// at its next await, possibly between storing messages and waking the dispatcher, or after the
/// commit with nobody told. In its own task a handler that has started always finishes, and
/// answers if the connection is still there to take the answer.
async fn detached(request: Request, next: Next) -> Response {
    let running = Running::start();
    let handler = tokio::spawn(async move {
        let _running = running;
        next.run(request).await
    });
    match handler.await {
        Ok(response) => response,
        // Re-raised here so that the panic layer answers it as for any handler.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => unknown_error(Box::new("handler task cancelled")),
    }
}

/// Wait until every handler started so far has finished (also those whose client went away):
/// the last step of a graceful stop of the HTTP server, before the store's users are stopped.
pub async fn handlers_finished() {
    loop {
        let idle = HANDLERS.idle.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if HANDLERS.running.load(Ordering::SeqCst) == 0 {
            return;
        }
        idle.await;
    }
}

/// A handler that panicked answers CM's `500 Unknown Error` body instead of dropping the
/// connection; the cause is logged, never shown.
fn unknown_error(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let cause = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(%cause, "request handler panicked");
    let error = RequestError::Unknown;
    (
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )],
        SubmitResponse::failure(error.code(), error.details()).to_json(),
    )
        .into_response()
}

async fn health() -> Response {
    (StatusCode::OK, "ok").into_response()
}
