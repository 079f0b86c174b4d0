//! `GET /v1.0/messages/funnel`: how far the account's messages accepted in a time range got on
//! each channel (accepted → sent → delivered → read, failed and rejected), for the message-log
//! web page's chart. The counting rule is `tern_core::funnel`; the store folds the range's
//! messages with it; this module only reads the query and renders the counts. Authenticated and
//! answered on errors as the message log is (`X-CM-PRODUCTTOKEN`, CM's JSON error body).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tern_core::error_code::MessageLogError;
use tern_core::funnel::Funnel;
use tern_proto::cm::response::SubmitResponse;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::message_log::{authenticated, error, time};

#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// Only messages accepted at or after this RFC 3339 time.
    since: Option<String>,
    /// Only messages accepted before this RFC 3339 time.
    until: Option<String>,
}

impl FunnelQuery {
    /// Read the query string as the message log reads its own: unknown parameters are ignored,
    /// one given twice is an error.
    fn parse(query: Option<&str>) -> Result<FunnelQuery, MessageLogError> {
        let mut funnel_query = FunnelQuery::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "since" => &mut funnel_query.since,
                "until" => &mut funnel_query.until,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(MessageLogError::RepeatedParameter(name.into_owned()));
            }
        }
        Ok(funnel_query)
    }
}

/// The delivery funnel of a time range.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelCounts {
    /// The range's start as given (RFC 3339, UTC), or null.
    pub since: Option<String>,
    /// The range's end as given (RFC 3339, UTC), or null.
    pub until: Option<String>,
    /// How many messages were accepted in the range.
    pub messages: u64,
    /// One entry per channel some message of the range reached, in CM's channel order. A
    /// message that fell back is counted on each channel it reached.
    pub channels: Vec<ChannelCounts>,
}

/// How far the range's messages got on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelCounts {
    /// SMS, WhatsApp, RCS, Viber or Push.
    pub channel: String,
    /// Messages that reached the channel.
    pub accepted: u64,
    /// Those the channel took (any status but rejected on it, or sent on it now).
    pub sent: u64,
    /// Delivered (or read) on the channel.
    pub delivered: u64,
    /// Read on the channel.
    pub read: u64,
    /// Failed on the channel and not delivered there.
    pub failed: u64,
    /// Rejected on the channel and not delivered there.
    pub rejected: u64,
}

/// The delivery funnel per channel of the account's messages accepted in a time range.
#[utoipa::path(
    get,
    path = "/v1.0/messages/funnel",
    params(
        ("X-CM-PRODUCTTOKEN" = String, Header, description = "The account's product token"),
        FunnelQuery,
    ),
    responses(
        (status = 200, description = "The funnel per channel", body = FunnelCounts),
        (status = 400, description = "A time is malformed", body = SubmitResponse),
        (status = 401, description = "Missing, malformed or unknown product token", body = SubmitResponse),
        (status = 405, description = "Not a GET", body = SubmitResponse),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let account = match authenticated(&state, &headers).await {
        Ok(account) => account,
        Err(response) => return response,
    };
    let range = FunnelQuery::parse(query.as_deref()).and_then(|query| {
        Ok((
            time(query.since.as_deref(), MessageLogError::InvalidSince)?,
            time(query.until.as_deref(), MessageLogError::InvalidUntil)?,
        ))
    });
    let (since, until) = match range {
        Ok(range) => range,
        Err(why) => return error(why),
    };
    match state.log.funnel(account.id, since, until).await {
        Ok(funnel) => Json(counts(
            since.map(|at| at.to_string()),
            until.map(|at| at.to_string()),
            &funnel,
        ))
        .into_response(),
        Err(store_error) => {
            tracing::error!(%store_error, "funnel query failed");
            error(MessageLogError::Unknown)
        }
    }
}

fn counts(since: Option<String>, until: Option<String>, funnel: &Funnel) -> FunnelCounts {
    FunnelCounts {
        since,
        until,
        messages: funnel.messages(),
        channels: funnel
            .channels()
            .iter()
            .map(|channel| ChannelCounts {
                channel: channel.channel.as_str().to_owned(),
                accepted: channel.accepted,
                sent: channel.sent,
                delivered: channel.delivered,
                read: channel.read,
                failed: channel.failed,
                rejected: channel.rejected,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_or_malformed_time_is_refused_and_an_empty_one_is_absent() {
        assert!(matches!(
            FunnelQuery::parse(Some("since=a&since=b")),
            Err(MessageLogError::RepeatedParameter(name)) if name == "since"
        ));
        let query = FunnelQuery::parse(Some("until=2026-01-01T00:00:00Z&since=&x=1")).unwrap();
        assert_eq!(
            time(query.since.as_deref(), MessageLogError::InvalidSince),
            Ok(None)
        );
        assert_eq!(
            time(query.until.as_deref(), MessageLogError::InvalidUntil)
                .unwrap()
                .map(|at| at.to_string()),
            Some("2026-01-01T00:00:00Z".to_owned())
        );
        assert_eq!(
            time(Some("yesterday"), MessageLogError::InvalidUntil),
            Err(MessageLogError::InvalidUntil("yesterday".into()))
        );
    }
}
