//! The axum router and its shared state.

mod message_log;
mod submit;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tern_core::ports::Store;
use tern_core::submission::SubmissionPolicy;
use tokio::sync::Notify;

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
        .route("/v1.0/messages", get(message_log::list))
        .route("/health", get(health))
        .with_state(state)
}

async fn health() -> Response {
    (StatusCode::OK, "ok").into_response()
}
