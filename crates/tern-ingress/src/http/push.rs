//! Device registration for push, as CM's app SDK (CMPush) does it against CM, under the same
//! paths, so that an app built with CM's SDK can point at Tern:
//! - `POST /channelswebhook/push/v2/accounts/{appKey}/register` with the device's details
//!   (`pushToken`, `deviceOs`, `msisdn`…: `tern_proto::push_sdk::Registration`) answers
//!   `201 {"installationId":"<GUID>"}`;
//! - `PUT …/register/{installationId}` replaces them and answers `204` (what the SDK checks);
//! - `DELETE …/register/{installationId}` forgets the installation and answers `204`.
//!
//! - `POST …/profiles/{installationId}/events` (a delivery confirmation or an interaction) is
//!   handed, raw, to the push app's connector behind the [`tern_core::ports::DeviceEvents`]
//!   port, which reads it, records a confirmation durably and says what to answer (`204`).
//!
//! An unknown app key or installation answers `404`, a body the SDK would not send `400`, each
//! with `{"message":"…"}`. The app key is the only credential, as with CM.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tern_core::push::{AppKey, Installation, InstallationId, PushApp};
use tern_proto::push_sdk::{Registered, Registration};

use super::AppState;
use super::submit::read_body;

/// The path devices register at, under an app key.
pub const REGISTER_PATH: &str = "/channelswebhook/push/v2/accounts/{app_key}/register";
/// The path a device posts its events to (delivery confirmations, interactions).
pub const EVENTS_PATH: &str =
    "/channelswebhook/push/v2/accounts/{app_key}/profiles/{installation_id}/events";
/// The path of one installation.
pub const INSTALLATION_PATH: &str =
    "/channelswebhook/push/v2/accounts/{app_key}/register/{installation_id}";

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        serde_json::json!({ "message": message }).to_string(),
    )
}

fn store_failed(what: &str, failure: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %failure, "{what} failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn unknown_app(app_key: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no push app has key '{app_key}'"),
    )
}

fn unknown_installation(installation_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no installation '{installation_id}' under this app"),
    )
}

/// The app named by `app_key` if it exists, else the 404 (or 500) to answer.
async fn app(state: &AppState, app_key: &str) -> Result<AppKey, Response> {
    push_app(state, app_key).await.map(|app| app.key)
}

/// [`app`], whole.
async fn push_app(state: &AppState, app_key: &str) -> Result<PushApp, Response> {
    let Ok(key) = app_key.parse::<AppKey>() else {
        return Err(unknown_app(app_key));
    };
    match state.push.app_by_key(key).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err(unknown_app(app_key)),
        Err(failure) => Err(store_failed("looking a push app up", &failure)),
    }
}

/// The registration in `body`, or the 400 (or 413) to answer.
async fn registration(state: &AppState, body: Body) -> Result<Registration, Response> {
    let bytes = read_body(body, state.max_body_bytes).await.map_err(|e| {
        error(
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            &e.details(),
        )
    })?;
    Registration::parse(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))
}

/// `POST …/register`: a new installation.
pub async fn register(
    State(state): State<Arc<AppState>>,
    Path(app_key): Path<String>,
    request: Request,
) -> Response {
    let key = match app(&state, &app_key).await {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    let device = match registration(&state, request.into_body()).await {
        Ok(device) => device,
        Err(answer) => return answer,
    };
    let now = state.clock.now();
    let installation = Installation {
        id: InstallationId::generate(),
        app_key: key,
        device,
        created_at: now,
        updated_at: now,
    };
    let id = installation.id;
    match state.push.register_installation(installation).await {
        Ok(()) => json(
            StatusCode::CREATED,
            Registered {
                installation_id: id.to_string(),
            }
            .to_json(),
        ),
        Err(failure) => store_failed("registering an installation", &failure),
    }
}

/// `PUT …/register/{installationId}`: what the device registered, replaced.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path((app_key, installation_id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let key = match app(&state, &app_key).await {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    let Ok(id) = installation_id.parse::<InstallationId>() else {
        return unknown_installation(&installation_id);
    };
    let device = match registration(&state, request.into_body()).await {
        Ok(device) => device,
        Err(answer) => return answer,
    };
    match state
        .push
        .update_installation(key, id, device, state.clock.now())
        .await
    {
        Ok(Some(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(None) => unknown_installation(&installation_id),
        Err(failure) => store_failed("updating an installation", &failure),
    }
}

/// `DELETE …/register/{installationId}`: the installation forgotten.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path((app_key, installation_id)): Path<(String, String)>,
) -> Response {
    let key = match app(&state, &app_key).await {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    let Ok(id) = installation_id.parse::<InstallationId>() else {
        return unknown_installation(&installation_id);
    };
    match state.push.remove_installation(key, id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => unknown_installation(&installation_id),
        Err(failure) => store_failed("removing an installation", &failure),
    }
}

/// `POST …/profiles/{installationId}/events`: a device's event, for the app's connector.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Path((app_key, installation_id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let app = match push_app(&state, &app_key).await {
        Ok(app) => app,
        Err(answer) => return answer,
    };
    let Ok(id) = installation_id.parse::<InstallationId>() else {
        return unknown_installation(&installation_id);
    };
    match state.push.installation(app.key, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return unknown_installation(&installation_id),
        Err(failure) => return store_failed("looking an installation up", &failure),
    }
    let body = match read_body(request.into_body(), state.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                &e.details(),
            );
        }
    };
    let answer = state
        .device_events
        .device_event(&app.connector, &body)
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let mut response = (status, answer.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    response
}
