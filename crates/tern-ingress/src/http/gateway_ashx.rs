//! `/gateway.ashx`: CM's XML interface (POST) and HTTP GET interface. Both are all-or-nothing:
//! one invalid part rejects the whole request and creates nothing; success is 200 with an empty
//! body, every error 200 with one plain-text line from the spec's tables; other methods get 400.
//!
//! An XML body is read in two passes off the async workers: the first checks it against the
//! bounds of `tern_proto::cm::xml_tree` and reads only the product token, which is authenticated
//! before the second pass builds the element tree. A client without a valid token never makes
//! the gateway build one.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::account::Account;
use tern_core::error_code::{RequestError, Surface};
use tern_core::idempotency::{Reply, RequestHash};
use tern_core::metrics::RequestTimer;
use tern_core::submitter::{Submission, Submitted};
use tern_proto::cm::submission::SubmitRequest;
use tern_proto::cm::xml_tree::XmlError;
use tern_proto::cm::{get, xml};

use super::submit::{read_body, refused};
use super::{AppState, idempotency};

/// The content type of every answer of these interfaces.
const PLAIN_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

fn plain(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, PLAIN_CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// The answer to a judged all-or-nothing request.
fn render(submitted: Submitted, surface: Surface) -> String {
    match submitted {
        Submitted::AllStored => String::new(),
        Submitted::Refused(rejection) => rejection.plain_text(surface),
        // XML and GET are all-or-nothing, never answered per recipient.
        Submitted::PerRecipient(_) => RequestError::Unknown.plain_text(surface, None),
    }
}

/// Submit an all-or-nothing request; the plain-text answer.
/// `account`: already authenticated by the caller, if it was.
async fn submit_atomic(
    state: &AppState,
    request: SubmitRequest,
    surface: Surface,
    account: Option<&Account>,
) -> Response {
    let token = request.product_token.clone();
    let submission = Submission::Cm(request);
    let submitted = match account {
        Some(account) => {
            state
                .submitter
                .submit_as(account, submission, surface)
                .await
        }
        None => state.submitter.submit(submission, surface).await,
    };
    match submitted {
        Ok(submitted) => plain(render(submitted, surface)),
        Err(error) => plain(error.plain_text(surface, token.as_deref())),
    }
}

/// Run `read` on the body as text on a blocking thread: reading a large document takes long
/// enough to stall the other requests of an async worker.
pub(super) async fn read_xml<T: Send + 'static>(
    bytes: Bytes,
    read: fn(&str) -> Result<T, XmlError>,
) -> Result<T, RequestError> {
    let task = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&bytes).map_err(|_| RequestError::XmlNotUtf8)?;
        read(text).map_err(RequestError::InvalidXml)
    });
    match task.await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(RequestError::Unknown),
    }
}

/// `POST /gateway.ashx` with an XML body.
pub async fn post_xml(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let _timer = RequestTimer::start(Surface::Xml);
    answer_xml(state, request).await
}

async fn answer_xml(state: Arc<AppState>, request: Request) -> Response {
    // Refusals before the submission service are counted here; it counts the rest.
    let refuse = |error: RequestError, token: Option<&str>| {
        refused(Surface::Xml, &error);
        plain(error.plain_text(Surface::Xml, token))
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return refuse(error, None),
    };
    // Judged once the body is read (see `submit::submit`).
    let key = match idempotency::key(&parts.headers) {
        Ok(key) => key,
        Err(error) => {
            refused(Surface::Xml, &error);
            return idempotency::json_error(&error);
        }
    };
    let token = match read_xml(bytes.clone(), xml::product_token).await {
        Ok(token) => token,
        Err(error) => return refuse(error, None),
    };
    let account = match state.submitter.authenticate(token.as_deref()).await {
        Ok(account) => account,
        Err(error) => return refuse(error, token.as_deref()),
    };
    let hash = key.as_ref().map(|_| RequestHash::of(&bytes));
    let request = match read_xml(bytes, xml::parse_submit).await {
        Ok(request) => request,
        Err(error) => return refuse(error, None),
    };
    match key.zip(hash) {
        None => submit_atomic(&state, request, Surface::Xml, Some(&account)).await,
        Some((key, hash)) => {
            // Boxed: the rare path's state would otherwise widen every request's future.
            let submitted = Box::pin(state.submitter.submit_once(
                &account,
                Submission::Cm(request),
                Surface::Xml,
                key,
                hash,
                |submitted| Reply {
                    status: 200,
                    content_type: PLAIN_CONTENT_TYPE.to_owned(),
                    body: render(submitted, Surface::Xml).into_bytes(),
                },
            ))
            .await;
            match submitted {
                Ok(reply) => idempotency::answer(&state, reply),
                Err(error) if idempotency::is_key_error(&error) => idempotency::json_error(&error),
                Err(error) => plain(error.plain_text(Surface::Xml, None)),
            }
        }
    }
}

/// `GET /gateway.ashx?producttoken=…&body=…&to=…&from=…`.
pub async fn get_query(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let _timer = RequestTimer::start(Surface::Get);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    submit_atomic(&state, get::parse_submit(&pairs), Surface::Get, None).await
}

/// Neither GET nor POST: 400 with no body, as the spec's tables say.
pub async fn other_method() -> Response {
    StatusCode::BAD_REQUEST.into_response()
}
