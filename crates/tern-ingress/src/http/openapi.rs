//! The OpenAPI 3.1 document of the JSON endpoints, generated from the types the handlers parse
//! into and answer with. Served at `/openapi.json`, printed by `tern openapi`, and checked in as
//! docs/openapi.json (a test keeps the three equal).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::{conversion, funnel, message_log, submit};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tern",
        description = "A self-hostable gateway that speaks the CM.com Business Messaging API.",
        license(name = "Apache-2.0")
    ),
    paths(submit::submit_json, message_log::list, funnel::get, conversion::post)
)]
struct ApiDoc;

/// The document, pretty-printed JSON.
pub fn document() -> String {
    let mut api = ApiDoc::openapi();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.to_pretty_json()
        .expect("the OpenAPI document serializes")
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
