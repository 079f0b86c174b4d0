//! The axum router and its shared state.

mod conversion;
mod funnel;
mod gateway_ashx;
mod idempotency;
mod message_log;
pub mod openapi;
mod provider_webhooks;
mod push;
mod submit;
mod ui;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use futures_util::FutureExt;
use tern_core::error_code::{RequestError, Surface};
use tern_core::ports::{DeviceEvents, MessageLogStore, ProviderWebhooks, PushStore, StoreHealth};
use tern_core::submitter::{Clock, Submitter};
use tern_proto::cm::response::SubmitResponse;

/// What every handler shares.
pub struct AppState {
    /// Authenticates requests and takes submissions in (every surface's one path).
    pub submitter: Submitter,
    /// The message log and conversions recorded on it.
    pub log: Arc<dyn MessageLogStore>,
    /// Whether the store accepts writes (`/ready`).
    pub health: Arc<dyn StoreHealth>,
    /// Push apps and the devices registered under them.
    pub push: Arc<dyn PushStore>,
    pub clock: Arc<dyn Clock>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Channel providers' webhooks, by provider and connector name.
    pub webhooks: Arc<dyn ProviderWebhooks>,
    /// What devices with CM's app SDK post about pushes, by the push app's connector.
    pub device_events: Arc<dyn DeviceEvents>,
    /// A fault point for black-box tests (`TERN_TEST_CRASH_AFTER_KEYED_COMMIT` set when the
    /// gateway starts): the process aborts as soon as an idempotent submission is committed,
    /// before its answer is written, so that a test can crash it exactly there. Off otherwise.
    pub crash_after_keyed_commit: bool,
}

/// The HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    let routes = Router::new()
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
        .route(
            "/v1.0/messages/funnel",
            get(funnel::get).fallback(message_log::method_not_allowed),
        )
        .route("/ui", get(ui::redirect))
        .route("/ui/", get(ui::index))
        .route("/ui/app.js", get(ui::script))
        .route("/ui/app.css", get(ui::style))
        .route(push::REGISTER_PATH, post(push::register))
        .route(
            push::INSTALLATION_PATH,
            put(push::update).delete(push::remove),
        )
        .route(push::EVENTS_PATH, post(push::events))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/webhooks/{provider}/{connector}",
            any(provider_webhooks::receive),
        )
        .with_state(state);
    guarded(routes)
}

/// The layers every route runs under: a panic is answered as the surface answers an unknown
/// error instead of a dropped connection.
///
/// A request whose client disconnects has its handler dropped at its next await. That never
/// leaves a commit half done: the store's write is one transaction that completes (or not) once
/// handed to the writer, whether or not anyone waits for its answer, and the dispatcher is woken
/// even then (see `tern_core::submitter::Submitter::submit`). A client that only half-closes its connection still gets
/// its answer (the server keeps half-closed connections open).
fn guarded(routes: Router) -> Router {
    routes.layer(middleware::from_fn(answer_panics))
}

/// Run the handler, answering a panic in it: CM's JSON `500 Unknown Error` body, or on
/// `/gateway.ashx` the XML and GET interfaces' own plain-text line.
async fn answer_panics(request: Request, next: Next) -> Response {
    let plain_text = plain_text_surface(&request);
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => match plain_text {
            Some(surface) => {
                log_panic(&*panic);
                (
                    StatusCode::OK,
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; charset=utf-8",
                    )],
                    RequestError::Unknown.plain_text(surface, None),
                )
                    .into_response()
            }
            None => unknown_error(panic),
        },
    }
}

/// The plain-text surface a request is for: `/gateway.ashx` by GET or by POST (XML).
fn plain_text_surface(request: &Request) -> Option<Surface> {
    if !request.uri().path().eq_ignore_ascii_case("/gateway.ashx") {
        return None;
    }
    match *request.method() {
        axum::http::Method::GET => Some(Surface::Get),
        axum::http::Method::POST => Some(Surface::Xml),
        _ => None,
    }
}

fn log_panic(panic: &(dyn std::any::Any + Send)) {
    let cause = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(%cause, "request handler panicked");
}

/// A handler that panicked answers CM's `500 Unknown Error` body instead of dropping the
/// connection; the cause is logged, never shown.
fn unknown_error(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    log_panic(&*panic);
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
    match state.health.ready().await {
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::any;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn buggy() -> Response {
        panic!("a bug in a handler")
    }

    async fn answer(method: &str, path: &str) -> (StatusCode, String, String) {
        let routes = guarded(
            Router::new()
                .route("/gateway.ashx", any(buggy))
                .route("/v1.0/message", any(buggy)),
        );
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = routes.oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers()[axum::http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_panic_is_answered_in_the_surfaces_own_error_format() {
        for method in ["GET", "POST"] {
            assert_eq!(
                answer(method, "/gateway.ashx").await,
                (
                    StatusCode::OK,
                    "text/plain; charset=utf-8".to_owned(),
                    "Error: ERROR Unknown error".to_owned()
                ),
                "{method}"
            );
        }
        assert_eq!(
            answer("POST", "/v1.0/message").await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json; charset=utf-8".to_owned(),
                r#"{"details":"Unknown Error","errorCode":999,"messages":[]}"#.to_owned()
            )
        );
    }
}
