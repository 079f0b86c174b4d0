//! `POST /v1.0/message`: CM's JSON interface. The request is read within the body limit, parsed,
//! authenticated and judged by `tern_core::submission`; accepted messages are committed durably
//! before the response is written.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jiff::Timestamp;
use tern_core::account::Account;
use tern_core::error_code::{RequestError, Surface};
use tern_core::ports::AcceptError;
use tern_core::submission::{self, RecipientOutcome};
use tern_proto::cm::json::parse_submit;
use tern_proto::cm::response::SubmitResponse;
use tern_proto::cm::submission::SubmitRequest;
#[allow(unused_imports)] // named in the OpenAPI attribute
use tern_proto::cm::wire::MessageRequest;

use super::AppState;

fn json_response(status: u16, body: &SubmitResponse) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_json(),
    )
        .into_response()
}

fn request_error(error: RequestError) -> Response {
    json_response(
        error.http_status(),
        &SubmitResponse::failure(error.code(), error.details()),
    )
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
    request_body(content = MessageRequest, content_type = "application/json",
        description = "Keys are case-insensitive at every level; unknown fields are ignored."),
    responses(
        (status = 200, description = "Some or all messages accepted (errorCode 0 or 201)", body = SubmitResponse),
        (status = 400, description = "Nothing accepted: authentication (101/103), balance (102), malformed (202/203) or every message rejected (201)", body = SubmitResponse),
        (status = 405, description = "Not a POST", body = SubmitResponse),
        (status = 413, description = "Body over the configured limit (202)", body = SubmitResponse),
        (status = 500, description = "Unknown Error (999)", body = SubmitResponse),
    )
)]
pub async fn submit_json(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match submit(&state, request.into_body()).await {
        Ok(response) => response,
        Err(error) => request_error(error),
    }
}

async fn submit(state: &AppState, body: Body) -> Result<Response, RequestError> {
    let bytes = read_body(body, state.max_body_bytes).await?;
    let request = parse_submit(&bytes).map_err(|_| RequestError::InvalidJson)?;
    drop(bytes);
    let (account, outcomes) = judge(state, &request, Surface::Json).await?;
    drop(request);
    // The answer is built first so that the accepted messages can be moved into the store, not
    // copied: a request's memory stays a small multiple of its size.
    let (status, response) = submission::respond(&outcomes);
    commit(state, &account, outcomes).await?;
    Ok(json_response(status, &response))
}

/// Authenticate and judge a parsed request: the one submission path of every surface.
pub async fn judge(
    state: &AppState,
    request: &SubmitRequest,
    surface: Surface,
) -> Result<(Account, Vec<RecipientOutcome>), RequestError> {
    let token = submission::product_token(request.product_token.as_deref())?;
    let account = state
        .store
        .account_by_token(token.hash())
        .await
        .map_err(|error| {
            tracing::error!(%error, "account lookup failed");
            RequestError::Unknown
        })?
        .ok_or(RequestError::NoAccount)?;
    let msgs = submission::messages(request, &state.policy.limits)?;
    if surface == Surface::Get
        && let Err(rejection) = submission::check_get_rules(msgs)
    {
        let to = String::new();
        return Ok((
            account,
            vec![RecipientOutcome::Rejected {
                to,
                reference: None,
                rejection,
            }],
        ));
    }
    let outcomes = submission::validate(msgs, &account, Timestamp::now(), &state.policy);
    Ok((account, outcomes))
}

/// Wakes the dispatcher when dropped.
struct WakeOnDrop<'a>(&'a tokio::sync::Notify);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Store the accepted outcomes durably (and debit the account), then wake the dispatcher.
pub async fn commit(
    state: &AppState,
    account: &Account,
    outcomes: Vec<RecipientOutcome>,
) -> Result<(), RequestError> {
    let accepted: Vec<_> = outcomes
        .into_iter()
        .filter_map(|outcome| match outcome {
            RecipientOutcome::Accepted(message) => Some(*message),
            RecipientOutcome::Rejected { .. } => None,
        })
        .collect();
    if accepted.is_empty() {
        return Ok(());
    }
    // Once handed to the store the write commits whether or not this future is still awaited
    // (a client that disconnects drops it): the dispatcher is woken in either case.
    let _wake = WakeOnDrop(&state.dispatch_wakeup);
    match state.store.accept(account.id, accepted).await {
        Ok(()) => Ok(()),
        Err(AcceptError::InsufficientBalance) => Err(RequestError::InsufficientBalance),
        Err(AcceptError::Store(error)) => {
            tracing::error!(%error, "storing accepted messages failed");
            Err(RequestError::Unknown)
        }
    }
}
