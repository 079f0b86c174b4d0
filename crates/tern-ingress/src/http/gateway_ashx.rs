//! `/gateway.ashx`: CM's XML interface (POST) and HTTP GET interface. Both are all-or-nothing:
//! one invalid part rejects the whole request and creates nothing; success is 200 with an empty
//! body, every error 200 with one plain-text line from the spec's tables; other methods get 400.

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::error_code::{RequestError, Surface};
use tern_core::submission;
use tern_proto::cm::submission::SubmitRequest;
use tern_proto::cm::{get, xml};

use super::AppState;
use super::submit::{commit, judge, read_body};

fn plain(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Judge and commit an all-or-nothing request; the plain-text answer.
async fn submit_atomic(state: &AppState, request: SubmitRequest, surface: Surface) -> Response {
    let token = request.product_token.clone();
    let result = async {
        let (account, outcomes) = judge(state, &request, surface).await?;
        if let Some(rejection) = submission::first_rejection(&outcomes) {
            return Ok(Some(rejection.plain_text(surface)));
        }
        commit(state, &account, &outcomes).await?;
        Ok::<_, RequestError>(None)
    }
    .await;
    match result {
        Ok(None) => plain(String::new()),
        Ok(Some(line)) => plain(line),
        Err(error) => plain(error.plain_text(surface, token.as_deref())),
    }
}

/// `POST /gateway.ashx` with an XML body.
pub async fn post_xml(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let bytes = match read_body(request.into_body(), state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return plain(error.plain_text(Surface::Xml, None)),
    };
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| RequestError::InvalidXml("the body is not UTF-8".into()))
        .and_then(|text| {
            xml::parse_submit(text).map_err(|e| RequestError::InvalidXml(e.to_string()))
        });
    match parsed {
        Ok(request) => submit_atomic(&state, request, Surface::Xml).await,
        Err(error) => plain(error.plain_text(Surface::Xml, None)),
    }
}

/// `GET /gateway.ashx?producttoken=…&body=…&to=…&from=…`.
pub async fn get_query(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    submit_atomic(&state, get::parse_submit(&pairs), Surface::Get).await
}

/// Neither GET nor POST: 400 with no body, as the spec's tables say.
pub async fn other_method() -> Response {
    StatusCode::BAD_REQUEST.into_response()
}
