//! The axum router and its shared state.

mod conversion;
mod gateway_ashx;
mod message_log;
pub mod openapi;
mod submit;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
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
        .route("/v1.0/messages", get(message_log::list))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi::serve))
        .with_state(state)
        .layer(CatchPanicLayer::custom(unknown_error))
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

/// `200 ready` only while the store accepts writes (a real write, at most about once a second);
/// else `503` with the reason, also logged. Load balancers and orchestrators route by this.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::error!(%error, "not ready: the store does not accept writes");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: the store does not accept writes: {error}"),
            )
                .into_response()
        }
    }
}
