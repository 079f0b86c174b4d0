//! `POST /v1.0/conversion`: CM's Conversion API, JSON or XML (chosen by Content-Type, or by the
//! first non-blank byte). 200 with an empty body when recorded; 401/403 on authentication
//! failure; 400 with the reason for malformed input; 404 when no message matches. The XML form
//! is read within the bounds of `tern_proto::cm::xml_tree`, on a blocking thread, keeping only
//! its few fields.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::conversion::{self, ConversionError, number_forms};
use tern_core::error_code::RequestError;
use tern_proto::cm::conversion::{ConversionRequest, parse_json, parse_xml};
#[allow(unused_imports)] // named in the OpenAPI attribute
use tern_proto::cm::wire::ConversionBody;

use super::AppState;
use super::gateway_ashx::read_xml;
use super::submit::read_body;

fn answer(status: u16, text: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn refused(error: ConversionError) -> Response {
    answer(error.http_status(), error.text())
}

async fn parse(bytes: Bytes, content_type: &str) -> Result<ConversionRequest, ConversionError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let is_xml =
        content_type.contains("xml") || (first == Some(b'<') && !content_type.contains("json"));
    if is_xml {
        read_xml(bytes, parse_xml)
            .await
            .map_err(ConversionError::UnreadableXml)
    } else {
        parse_json(&bytes).map_err(|_| ConversionError::InvalidJson)
    }
}

/// Record a conversion (JSON; XML `<Conversion>` with the same elements is accepted too).
#[utoipa::path(
    post,
    path = "/v1.0/conversion",
    request_body(content = ConversionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded (empty body)"),
        (status = 400, description = "Malformed input; the reason as text", body = String, content_type = "text/plain"),
        (status = 401, description = "No credentials", body = String, content_type = "text/plain"),
        (status = 403, description = "Unknown or unsupported credentials", body = String, content_type = "text/plain"),
        (status = 404, description = "No message with that reference and number", body = String, content_type = "text/plain"),
    )
)]
pub async fn post(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match read_body(request.into_body(), state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return answer(error.http_status(), error.details()),
    };
    let parsed = match parse(bytes, &content_type).await {
        Ok(parsed) => parsed,
        Err(error) => return refused(error),
    };
    // The Conversion API's own credential rules come first; then the gateway's one lookup.
    if let Err(error) = conversion::token(&parsed) {
        return refused(error);
    }
    let account = match state
        .submitter
        .authenticate(parsed.product_token.as_deref())
        .await
    {
        Ok(account) => account,
        Err(RequestError::NoAccount) => return refused(ConversionError::NoAccount),
        Err(RequestError::InvalidProductToken) => {
            return refused(ConversionError::InvalidProductToken);
        }
        Err(_) => return refused(ConversionError::Unknown),
    };
    let valid = match conversion::validate(&parsed, state.clock.now()) {
        Ok(valid) => valid,
        Err(error) => return refused(error),
    };
    let recorded = state
        .log
        .record_conversion(
            account.id,
            number_forms(&valid.recipient),
            valid.reference.clone(),
            valid.converted_at,
        )
        .await;
    match recorded {
        Ok(0) => refused(ConversionError::NoSuchMessage {
            reference: valid.reference,
            recipient: valid.recipient,
        }),
        Ok(_) => answer(200, String::new()),
        Err(error) => {
            tracing::error!(%error, "recording a conversion failed");
            refused(ConversionError::Unknown)
        }
    }
}
