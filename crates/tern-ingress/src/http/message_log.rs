//! `GET /v1.0/messages`: the account's message log (product token in `X-CM-PRODUCTTOKEN`), with
//! filters `reference`, `to`, `status`, `since`, paged by `limit` and the `after` cursor.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tern_core::error_code::RequestError;
use tern_core::message::{DeliveryState, MessageFilter, MessageId, MessageRecord};
use tern_core::report::cm_local_time;
use tern_core::submission;

use super::AppState;

/// Most messages in one page.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    reference: Option<String>,
    to: Option<String>,
    status: Option<String>,
    since: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

fn error(status: StatusCode, code: u32, details: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"details": details.into(), "errorCode": code, "messages": []})),
    )
        .into_response()
}

fn auth_error(error: RequestError) -> Response {
    error_from(StatusCode::UNAUTHORIZED, error)
}

fn error_from(status: StatusCode, request_error: RequestError) -> Response {
    error(status, request_error.code(), request_error.details())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LogQuery>,
) -> Response {
    let token = headers
        .get("x-cm-producttoken")
        .and_then(|value| value.to_str().ok());
    let token = match submission::product_token(token) {
        Ok(token) => token,
        Err(error) => return auth_error(error),
    };
    let account = match state.store.account_by_token(token.hash()).await {
        Ok(Some(account)) => account,
        Ok(None) => return auth_error(RequestError::NoAccount),
        Err(store_error) => {
            tracing::error!(%store_error, "account lookup failed");
            return error_from(StatusCode::INTERNAL_SERVER_ERROR, RequestError::Unknown);
        }
    };
    let filter = match filter_of(query) {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, 202, why),
    };
    let limit = filter.limit;
    match state.store.messages(account.id, filter).await {
        Ok(records) => {
            let next = (records.len() == limit)
                .then(|| records.last().map(|r| r.message.id.to_string()))
                .flatten();
            let messages: Vec<Value> = records.iter().map(record_json).collect();
            Json(json!({"messages": messages, "next": next})).into_response()
        }
        Err(store_error) => {
            tracing::error!(%store_error, "message log query failed");
            error_from(StatusCode::INTERNAL_SERVER_ERROR, RequestError::Unknown)
        }
    }
}

fn filter_of(query: LogQuery) -> Result<MessageFilter, String> {
    let state = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(DeliveryState::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
            format!("status '{text}' must be one of queued, sent, delivered, read, failed, rejected, expired")
        })?),
    };
    let since = match query.since.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<Timestamp>().map_err(|_| {
            format!("since '{text}' must be an RFC 3339 time such as 2026-11-25T10:00:00Z")
        })?),
    };
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            MessageId::parse(text).ok_or_else(|| format!("after '{text}' is not a message id"))?,
        ),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!("limit must be between 1 and {MAX_LIMIT}"));
    }
    Ok(MessageFilter {
        reference: query.reference.filter(|r| !r.is_empty()),
        recipient: query.to.filter(|t| !t.is_empty()),
        state,
        since,
        after,
        limit,
    })
}

fn record_json(record: &MessageRecord) -> Value {
    let message = &record.message;
    let history: Vec<Value> = record
        .history
        .iter()
        .map(|event| {
            json!({
                "at": event.at.to_string(),
                "time": cm_local_time(event.at),
                "channel": event.channel.as_str(),
                "status": event.status.code(),
                "statusDescription": event.status.description(),
                "errorCode": event.error_code,
                "operator": event.operator,
            })
        })
        .collect();
    json!({
        "messageId": message.id.to_string(),
        "to": message.recipient,
        "from": message.content.from,
        "reference": message.reference,
        "customGrouping": message.custom_groupings[0],
        "customGrouping2": message.custom_groupings[1],
        "customGrouping3": message.custom_groupings[2],
        "allowedChannels": message.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "channel": record.channel.map(|c| c.as_str()),
        "parts": message.parts,
        "status": record.state.as_str(),
        "acceptedAt": message.accepted_at.to_string(),
        "validUntil": message.valid_until.to_string(),
        "history": history,
        "conversions": record.conversions.iter().map(|at| at.to_string()).collect::<Vec<_>>(),
    })
}
