//! `GET`/`POST /webhooks/{provider}/{connector}`: channel providers' webhooks (Meta's WhatsApp
//! statuses and inbound messages, Google RBM's events). This surface only reads the request
//! (method, query, headers, the raw body within the size limit) and writes the answer; which
//! connector it is for, its signature and what it means are the connector's business, behind
//! the [`ProviderWebhooks`] port.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::error_code::RequestError;
use tern_core::ports::{WebhookAnswer, WebhookMethod, WebhookRequest};

use super::AppState;
use super::submit::read_body;

/// Hand the request to the connector it names; answer what it says.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path((provider, connector)): Path<(String, String)>,
    request: Request,
) -> Response {
    let method = match *request.method() {
        Method::GET => WebhookMethod::Get,
        Method::POST => WebhookMethod::Post,
        _ => return answer(WebhookAnswer::text(405, "use GET or POST")),
    };
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let body = match read_body(request.into_body(), state.max_body_bytes).await {
        Ok(body) => body.to_vec(),
        Err(RequestError::BodyTooLarge { limit_bytes }) => {
            return answer(WebhookAnswer::text(
                413,
                format!("the body is larger than {limit_bytes} bytes"),
            ));
        }
        Err(_) => return answer(WebhookAnswer::text(400, "the body could not be read")),
    };
    let request = WebhookRequest {
        method,
        query,
        headers,
        body,
    };
    answer(state.webhooks.receive(&provider, &connector, request).await)
}

fn answer(answer: WebhookAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    response
}
