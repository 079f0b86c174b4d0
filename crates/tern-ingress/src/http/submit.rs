//! `POST /v1.0/message`: CM's JSON interface. The request is read within the body limit, parsed,
//! and handed to the submission service (`tern_core::submitter`), which authenticates, judges and
//! durably stores it before the per-recipient response is written.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tern_core::error_code::{RequestError, Surface};
use tern_core::idempotency::{IdempotencyKey, Reply, RequestHash};
use tern_core::metrics::RequestTimer;
use tern_core::submission;
use tern_core::submitter::{Submission, Submitted};
use tern_proto::cm::json::parse_submit;
use tern_proto::cm::response::SubmitResponse;
#[allow(unused_imports)] // named in the OpenAPI attribute
use tern_proto::cm::wire::MessageRequest;

use super::{AppState, idempotency};

/// The content type of every JSON answer.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

fn json_response(status: u16, body: &SubmitResponse) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
        body.to_json(),
    )
        .into_response()
}

/// The answer to a judged request, as bytes (what an idempotency key keeps).
fn render(submitted: Submitted) -> Reply {
    let (status, response) = match submitted {
        Submitted::PerRecipient(results) => submission::respond(results),
        // The JSON surface is answered per recipient, never all-or-nothing.
        Submitted::AllStored | Submitted::Refused(_) => {
            let error = RequestError::Unknown;
            (
                error.http_status(),
                SubmitResponse::failure(error.code(), error.details()),
            )
        }
    };
    Reply {
        status,
        content_type: JSON_CONTENT_TYPE.to_owned(),
        body: response.to_json(),
    }
}

fn request_error(error: RequestError) -> Response {
    json_response(
        error.http_status(),
        &SubmitResponse::failure(error.code(), error.details()),
    )
}

/// Count a request refused before it reached the submission service (which counts the rest).
pub(super) fn refused(surface: Surface, error: &RequestError) {
    tern_core::metrics::rejected(surface, error.code(), 1);
}

/// Any method but POST.
pub async fn method_not_allowed() -> Response {
    let mut response = json_response(
        405,
        &SubmitResponse::failure(202, "Use HTTP POST to send messages"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    response
}

/// Most bytes of an over-limit body read and thrown away before the 413 is answered.
const DISCARD_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent throwing an over-limit body away.
const DISCARD_MAX_TIME: Duration = Duration::from_secs(5);

/// Read the whole body, or the error to answer.
///
/// An over-limit body is read to its end (within [`DISCARD_MAX_BYTES`] and [`DISCARD_MAX_TIME`])
/// before the 413 is answered: a server that answers and closes while the client is still
/// writing makes the client's write fail (broken pipe, connection reset) before it reads the
/// answer, so the client never sees the JSON error.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, RequestError> {
    let mut body = body;
    match Limited::new(&mut body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => {
            discard_rest(&mut body).await;
            Err(RequestError::BodyTooLarge { limit_bytes: limit })
        }
        Err(_) => Err(RequestError::InvalidJson),
    }
}

async fn discard_rest(body: &mut Body) {
    if body.size_hint().lower() > DISCARD_MAX_BYTES {
        return;
    }
    let discard = async {
        let mut discarded: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                discarded += data.len() as u64;
                if discarded > DISCARD_MAX_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_MAX_TIME, discard).await;
}

/// Send messages: CM's JSON interface.
#[utoipa::path(
    post,
    path = "/v1.0/message",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "1-255 printable ASCII characters. A repeat with the same key and body within 24 hours gets the first response byte for byte and creates nothing; another body under the key is a 409."),
    ),
    request_body(content = MessageRequest, content_type = "application/json",
        description = "Keys are case-insensitive at every level; unknown fields are ignored."),
    responses(
        (status = 200, description = "Some or all messages accepted (errorCode 0 or 201)", body = SubmitResponse),
        (status = 400, description = "Nothing accepted: authentication (101/103), balance (102), malformed (202/203) or every message rejected (201)", body = SubmitResponse),
        (status = 405, description = "Not a POST", body = SubmitResponse),
        (status = 409, description = "The Idempotency-Key was used for another body within 24 hours (204)", body = SubmitResponse),
        (status = 413, description = "Body over the configured limit (202)", body = SubmitResponse),
        (status = 500, description = "Unknown Error (999)", body = SubmitResponse),
    )
)]
pub async fn submit_json(State(state): State<Arc<AppState>>, request: Request) -> Response {
    // The submission handlers time themselves (`tern_request_duration_seconds`) rather than
    // through a middleware around every route, which cost about half a microsecond per request.
    let _timer = RequestTimer::start(Surface::Json);
    let (parts, body) = request.into_parts();
    match submit(&state, &parts.headers, body).await {
        Ok(response) => response,
        Err(error) => request_error(error),
    }
}

/// The body is read whole before the `Idempotency-Key` is judged: a server that answers before
/// reading what the client is still writing can make the client miss the answer (see
/// [`read_body`]). Refusals before the submission service are counted here; it counts the rest.
async fn submit(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, RequestError> {
    let bytes = read_body(body, state.max_body_bytes)
        .await
        .inspect_err(|error| refused(Surface::Json, error))?;
    if let Some(key) =
        idempotency::key(headers).inspect_err(|error| refused(Surface::Json, error))?
    {
        // Boxed: the rare path's state would otherwise widen every request's future.
        return Box::pin(submit_once(state, bytes, key)).await;
    }
    let request = parse_submit(&bytes)
        .map_err(|_| RequestError::InvalidJson)
        .inspect_err(|error| refused(Surface::Json, error))?;
    drop(bytes);
    match state
        .submitter
        .submit(Submission::Cm(request), Surface::Json)
        .await?
    {
        Submitted::PerRecipient(results) => {
            let (status, response) = submission::respond(results);
            Ok(json_response(status, &response))
        }
        // The JSON surface is answered per recipient, never all-or-nothing.
        Submitted::AllStored | Submitted::Refused(_) => Err(RequestError::Unknown),
    }
}

/// [`submit`] under an `Idempotency-Key` (see `tern_core::idempotency`).
async fn submit_once(
    state: &AppState,
    bytes: Bytes,
    key: IdempotencyKey,
) -> Result<Response, RequestError> {
    let request = parse_submit(&bytes)
        .map_err(|_| RequestError::InvalidJson)
        .inspect_err(|error| refused(Surface::Json, error))?;
    let hash = RequestHash::of(&bytes);
    drop(bytes);
    let account = state
        .submitter
        .authenticate(request.product_token.as_deref())
        .await
        .inspect_err(|error| refused(Surface::Json, error))?;
    let reply = state
        .submitter
        .submit_once(
            &account,
            Submission::Cm(request),
            Surface::Json,
            key,
            hash,
            render,
        )
        .await?;
    Ok(idempotency::answer(state, reply))
}
