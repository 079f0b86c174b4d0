//! The `Idempotency-Key` header on `POST /v1.0/message` and `POST /gateway.ashx`: reading it,
//! and answering what the submission service decided (`tern_core::idempotency` holds the rules).
//! Its own errors (a malformed key, a key reused with another body) are JSON on both routes.

use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::error_code::RequestError;
use tern_core::idempotency::{IdempotencyKey, Reply};
use tern_proto::cm::response::SubmitResponse;

use super::AppState;

/// The header's name.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The request's key, if it has one; a malformed one (or more than one) is
/// [`RequestError::InvalidIdempotencyKey`].
pub fn key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, RequestError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(RequestError::InvalidIdempotencyKey);
    }
    IdempotencyKey::parse(value.as_bytes()).map(Some)
}

/// A response as the submission service keeps it.
pub fn reply(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

/// What an idempotent submission answers once the submission service is done with it (its
/// messages and key committed, or the first response replayed): [`reply`], after the test fault
/// point [`AppState::crash_after_keyed_commit`].
pub fn answer(state: &AppState, answered: Reply) -> Response {
    if state.crash_after_keyed_commit {
        tracing::error!(
            "TERN_TEST_CRASH_AFTER_KEYED_COMMIT: aborting between the commit and the answer"
        );
        std::process::abort();
    }
    reply(answered)
}

/// An error of the key itself as CM's JSON error body, on either route.
pub fn json_error(error: &RequestError) -> Response {
    reply(Reply {
        status: error.http_status(),
        content_type: super::submit::JSON_CONTENT_TYPE.to_owned(),
        body: SubmitResponse::failure(error.code(), error.details()).to_json(),
    })
}

/// Whether `error` is one of the key's own (answered with [`json_error`] on every route).
pub fn is_key_error(error: &RequestError) -> bool {
    matches!(
        error,
        RequestError::InvalidIdempotencyKey | RequestError::IdempotencyKeyReused
    )
}
