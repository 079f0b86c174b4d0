//! A local stand-in of Firebase Cloud Messaging's HTTP v1 API, so that black-box tests can point
//! a Tern push connector (`base_url`) at a real HTTP server on loopback that checks requests as
//! FCM does and answers as FCM does (reference: `shared/reference/channel-providers.md`,
//! section 4a), and then act as the device that received the push (section 4c).
//!
//! [`FcmStandIn`] listens on 127.0.0.1 (a port the system picks) and answers
//! `POST /v1/projects/{project}/messages:send`:
//! - the `Authorization` header is judged by the check given at start ([`TokenCheck`]; the
//!   OAuth2 token stand-in provides one, [`bearer`] accepts one fixed token): a refused one gets
//!   `401 UNAUTHENTICATED`; another project than the stand-in's gets `403 PERMISSION_DENIED`;
//! - the body is checked as FCM checks it: JSON with a `message` object, exactly one of
//!   `token`, `topic` and `condition`, `data` values that are strings, no reserved `data` key
//!   (`from`, `gcm`, `message_type`, `notification`, `google…`), a payload of at most 4096
//!   bytes; a bad one gets `400 INVALID_ARGUMENT` with Google's `BadRequest` detail;
//! - a message to a token follows that token's script ([`FcmAnswer`], set with
//!   [`FcmStandIn::script`]): accepted (`200 {"name":…}`, the default), or one of FCM's errors
//!   (`UNREGISTERED` 404, `SENDER_ID_MISMATCH` 403, `INVALID_ARGUMENT` 400, `QUOTA_EXCEEDED` 429
//!   with `Retry-After`, `UNAVAILABLE` 503, `INTERNAL` 500, `THIRD_PARTY_AUTH_ERROR` 401);
//! - every request is logged ([`FcmRequest`]) and every accepted message kept with its decoded
//!   `cm` payload ([`AcceptedPush`]), so that a test can play the device: [`confirm`] posts the
//!   delivery confirmation CM's SDK posts, [`register`] registers a device as the SDK does.
//!
//! The checks are written here from the reference, not with Tern's own FCM types, so that a
//! mistake in those is not repeated here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The most bytes of `data` (keys and values) and notification text FCM takes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// The detail type of FCM's own error code.
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// The detail type that names the bad fields of a request.
const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";

/// Judges the `Authorization` header of a request (`None` when it has none): whether FCM would
/// take the OAuth2 access token in it.
pub type TokenCheck = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// A [`TokenCheck`] that accepts exactly `Bearer {token}`.
pub fn bearer(token: &str) -> TokenCheck {
    let expected = format!("Bearer {token}");
    Arc::new(move |header: Option<&str>| header == Some(expected.as_str()))
}

/// How the stand-in answers a message to a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcmAnswer {
    /// 200 with a fresh message name.
    Accept,
    /// 404 NOT_FOUND, `UNREGISTERED`: the app was uninstalled or the token expired.
    Unregistered,
    /// 403 PERMISSION_DENIED, `SENDER_ID_MISMATCH`: the token is another project's.
    SenderIdMismatch,
    /// 400 INVALID_ARGUMENT, `INVALID_ARGUMENT`: "The registration token is not a valid FCM
    /// registration token".
    InvalidToken,
    /// 429 RESOURCE_EXHAUSTED, `QUOTA_EXCEEDED`, with `Retry-After: {0}`.
    QuotaExceeded(u64),
    /// 503 UNAVAILABLE, `UNAVAILABLE`.
    Unavailable,
    /// 500 INTERNAL, `INTERNAL`.
    Internal,
    /// 401 UNAUTHENTICATED, `THIRD_PARTY_AUTH_ERROR`: the APNs credentials in Firebase are bad.
    ThirdPartyAuthError,
}

impl FcmAnswer {
    /// The HTTP status, Google's status, message and FCM error code of an error answer.
    fn error(&self) -> Option<(u16, &'static str, &'static str, &'static str)> {
        Some(match self {
            FcmAnswer::Accept => return None,
            FcmAnswer::Unregistered => (
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                "UNREGISTERED",
            ),
            FcmAnswer::SenderIdMismatch => (
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                "SENDER_ID_MISMATCH",
            ),
            FcmAnswer::InvalidToken => (
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            ),
            FcmAnswer::QuotaExceeded(_) => (
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Send requests'",
                "QUOTA_EXCEEDED",
            ),
            FcmAnswer::Unavailable => (
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                "UNAVAILABLE",
            ),
            FcmAnswer::Internal => (500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
            FcmAnswer::ThirdPartyAuthError => (
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                "THIRD_PARTY_AUTH_ERROR",
            ),
        })
    }
}

/// One request the stand-in answered.
#[derive(Debug, Clone, PartialEq)]
pub struct FcmRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    pub status: u16,
    pub answer: Value,
}

/// A message the stand-in accepted (what a device would have received).
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedPush {
    /// `message.token`.
    pub token: String,
    /// The `name` answered.
    pub name: String,
    /// `data.cm`, decoded from its JSON text (`None` when absent or not JSON).
    pub cm: Option<Value>,
    /// The whole `message`.
    pub message: Value,
}

impl AcceptedPush {
    /// `cm.messageId`: the id the device confirms.
    pub fn message_id(&self) -> Option<&str> {
        self.cm.as_ref()?.get("messageId")?.as_str()
    }
}

struct Shared {
    project_id: String,
    send_path: String,
    token_check: TokenCheck,
    /// Per token: the answers still to give in order; the last one stays.
    scripts: Mutex<HashMap<String, Vec<FcmAnswer>>>,
    requests: Mutex<Vec<FcmRequest>>,
    accepted: Mutex<Vec<AcceptedPush>>,
    next_id: AtomicU64,
}

/// The stand-in (see the module docs); stops when dropped.
pub struct FcmStandIn {
    base_url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FcmStandIn {
    /// Start on 127.0.0.1 for project `project_id`, judging access tokens with `token_check`.
    pub async fn start(project_id: &str, token_check: TokenCheck) -> FcmStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the FCM stand-in on loopback");
        let address = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            project_id: project_id.to_owned(),
            send_path: format!("/v1/projects/{project_id}/messages:send"),
            token_check,
            scripts: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FcmStandIn {
            base_url: format!("http://{address}"),
            shared,
            task,
        }
    }

    /// `http://127.0.0.1:{port}`: a connector's `base_url`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The project's send URL.
    pub fn send_url(&self) -> String {
        format!("{}{}", self.base_url, self.shared.send_path)
    }

    pub fn project_id(&self) -> &str {
        &self.shared.project_id
    }

    /// Answer messages to `push_token` with `answers` in order, the last one from then on
    /// (an empty list: accept again).
    pub fn script(&self, push_token: &str, answers: Vec<FcmAnswer>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .insert(push_token.to_owned(), answers);
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<FcmRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Every message accepted so far, in order.
    pub fn accepted(&self) -> Vec<AcceptedPush> {
        self.shared.accepted.lock().unwrap().clone()
    }

    /// Waits until at least `count` messages were accepted (panics, showing the requests, when
    /// they do not come within `timeout`); returns every accepted one.
    pub async fn wait_for_accepted(&self, count: usize, timeout: Duration) -> Vec<AcceptedPush> {
        self.wait_until(&format!("{count} accepted push(es)"), timeout, |s| {
            s.accepted().len() >= count
        })
        .await;
        self.accepted()
    }

    /// Waits until at least `count` requests were answered; returns them all.
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<FcmRequest> {
        self.wait_until(&format!("{count} request(s)"), timeout, |s| {
            s.requests().len() >= count
        })
        .await;
        self.requests()
    }

    async fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&FcmStandIn) -> bool) {
        crate::poll::until(
            timeout,
            || done(self).then_some(()),
            || {
                panic!(
                    "the FCM stand-in did not see {what} within {timeout:?}; requests: {:#?}",
                    self.requests()
                )
            },
        )
        .await
    }
}

impl Drop for FcmStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Google's error JSON.
fn google_error(code: u16, status: &str, message: &str, details: Vec<Value>) -> Value {
    let mut error = json!({"code": code, "message": message, "status": status});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    json!({ "error": error })
}

/// 400 INVALID_ARGUMENT naming the bad `field`.
fn invalid(field: &str, message: &str) -> (u16, Value) {
    (
        400,
        google_error(
            400,
            "INVALID_ARGUMENT",
            message,
            vec![
                json!({"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": message}]}),
                json!({"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"}),
            ],
        ),
    )
}

fn reserved(key: &str) -> bool {
    matches!(key, "from" | "gcm" | "message_type" | "notification") || key.starts_with("google")
}

/// Check a send body as FCM does; the message when it is good, else the answer.
fn check_body(body: Option<&Value>) -> Result<&serde_json::Map<String, Value>, (u16, Value)> {
    let Some(body) = body else {
        return Err((
            400,
            google_error(
                400,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received.",
                vec![
                    json!({"@type": BAD_REQUEST, "fieldViolations": [{"description": "Invalid JSON payload received."}]}),
                ],
            ),
        ));
    };
    let Some(message) = body.get("message").and_then(Value::as_object) else {
        return Err(invalid(
            "message",
            "Request contains an invalid argument: message is required.",
        ));
    };
    let targets = ["token", "topic", "condition"]
        .iter()
        .filter(|key| message.get(**key).is_some_and(|v| !v.is_null()))
        .count();
    if targets != 1 {
        return Err(invalid(
            "message",
            "Exactly one of message.token, message.topic or message.condition must be set.",
        ));
    }
    if let Some(token) = message.get("token")
        && token.as_str().is_none_or(str::is_empty)
    {
        return Err(invalid(
            "message.token",
            "The registration token is not a valid FCM registration token",
        ));
    }
    let mut bytes = 0;
    match message.get("data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(data)) => {
            for (index, (key, value)) in data.iter().enumerate() {
                let Some(value) = value.as_str() else {
                    return Err(invalid(
                        &format!("message.data[{index}].value"),
                        &format!(
                            "Invalid value at 'message.data[{index}].value' (TYPE_STRING), {value}"
                        ),
                    ));
                };
                if reserved(key) {
                    return Err(invalid(
                        "message.data",
                        &format!("Invalid data payload key: {key}"),
                    ));
                }
                bytes += key.len() + value.len();
            }
        }
        Some(other) => {
            return Err(invalid(
                "message.data",
                &format!(
                    "Invalid value at 'message.data' (type.googleapis.com/google.firebase.fcm.v1.Message.DataEntry), {other}"
                ),
            ));
        }
    }
    if let Some(notification) = message.get("notification").and_then(Value::as_object) {
        for field in ["title", "body", "image"] {
            bytes += notification
                .get(field)
                .and_then(Value::as_str)
                .map_or(0, str::len);
        }
    }
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(invalid("message", "Message is too big"));
    }
    Ok(message)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let (status, answer, retry_after) = answer(
        &shared,
        &method,
        uri.path(),
        authorization.as_deref(),
        parsed.as_ref(),
    );
    shared.requests.lock().unwrap().push(FcmRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        authorization,
        body: parsed,
        status,
        answer: answer.clone(),
    });
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(answer),
    )
        .into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().expect("digits"));
    }
    response
}

fn answer(
    shared: &Shared,
    method: &Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value, Option<u64>) {
    let is_send = path.starts_with("/v1/projects/") && path.ends_with("/messages:send");
    if method != Method::POST || !is_send {
        return (
            404,
            google_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                Vec::new(),
            ),
            None,
        );
    }
    if !(shared.token_check)(authorization) {
        return (
            401,
            google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                Vec::new(),
            ),
            None,
        );
    }
    if path != shared.send_path {
        return (
            403,
            google_error(
                403,
                "PERMISSION_DENIED",
                "Permission 'cloudmessaging.messages.create' denied on resource (or it may not exist).",
                Vec::new(),
            ),
            None,
        );
    }
    let message = match check_body(body) {
        Ok(message) => message,
        Err((status, answer)) => return (status, answer, None),
    };
    let validate_only = body
        .and_then(|b| b.get("validate_only"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let token = message
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let scripted = token.as_ref().map_or(FcmAnswer::Accept, |token| {
        let mut scripts = shared.scripts.lock().unwrap();
        match scripts.get_mut(token) {
            Some(answers) if answers.len() > 1 => answers.remove(0),
            Some(answers) => answers.first().cloned().unwrap_or(FcmAnswer::Accept),
            None => FcmAnswer::Accept,
        }
    });
    if let Some((status, google_status, text, code)) = scripted.error() {
        let retry_after = match scripted {
            FcmAnswer::QuotaExceeded(seconds) => Some(seconds),
            _ => None,
        };
        return (
            status,
            google_error(
                status,
                google_status,
                text,
                vec![json!({"@type": FCM_ERROR, "errorCode": code})],
            ),
            retry_after,
        );
    }
    let name = if validate_only {
        format!("projects/{}/messages/fake_message_id", shared.project_id)
    } else {
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        format!(
            "projects/{}/messages/0:{id}%31bd1c9631bd1c96",
            shared.project_id
        )
    };
    if !validate_only && let Some(token) = token {
        let cm = message
            .get("data")
            .and_then(|d| d.get("cm"))
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok());
        shared.accepted.lock().unwrap().push(AcceptedPush {
            token,
            name: name.clone(),
            cm,
            message: Value::Object(message.clone()),
        });
    }
    (200, json!({ "name": name }), None)
}

/// The SDK's paths under `tern_base_url` for `app_key`.
fn sdk_url(tern_base_url: &str, app_key: &str, rest: &str) -> String {
    format!(
        "{}/channelswebhook/push/v2/accounts/{app_key}/{rest}",
        tern_base_url.trim_end_matches('/')
    )
}

/// A registration body as CM's Android SDK sends it, for `push_token` and (when given) the
/// device's number.
pub fn device_registration(push_token: &str, msisdn: Option<&str>) -> Value {
    let mut body = json!({
        "pushToken": push_token,
        "deviceOs": "Android",
        "deviceOsVersion": "14 (34)",
        "deviceModel": "Pixel 8",
        "appId": "com.example.app",
        "appVersion": "1.0.0",
        "libId": "com.cm.cmpush",
        "libVersion": "2.0.0",
        "pushAuthorization": "Authorized",
        "preferredLanguages": ["en-GB"],
    });
    if let Some(msisdn) = msisdn {
        body["msisdn"] = json!(msisdn);
    }
    body
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("a request to Tern");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("its body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Register a device with `body` (see [`device_registration`]) under `app_key`, as CM's SDK
/// does: `POST …/register`; the status and JSON answered (`Null` for none).
pub async fn register(tern_base_url: &str, app_key: &str, body: &Value) -> (u16, Value) {
    send(
        crate::http_client()
            .post(sdk_url(tern_base_url, app_key, "register"))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Update installation `installation_id` with `body`, as the SDK does: `PUT …/register/{id}`.
pub async fn update_registration(
    tern_base_url: &str,
    app_key: &str,
    installation_id: &str,
    body: &Value,
) -> (u16, Value) {
    send(
        crate::http_client()
            .put(sdk_url(
                tern_base_url,
                app_key,
                &format!("register/{installation_id}"),
            ))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Remove installation `installation_id`, as the SDK does: `DELETE …/register/{id}`.
pub async fn unregister(tern_base_url: &str, app_key: &str, installation_id: &str) -> (u16, Value) {
    send(crate::http_client().delete(sdk_url(
        tern_base_url,
        app_key,
        &format!("register/{installation_id}"),
    )))
    .await
}

/// Confirm delivery of `message_id` to installation `installation_id`, as CM's SDK does when
/// a push arrives: `POST …/profiles/{installationId}/events` with
/// `{"statusReport":{"status":"Delivered","messageId":…,"timestamp":"yyyy-MM-ddTHH:mm:ssZ"}}`;
/// the status and JSON answered.
pub async fn confirm(
    tern_base_url: &str,
    app_key: &str,
    installation_id: &str,
    message_id: &str,
) -> (u16, Value) {
    let body = json!({"statusReport": {
        "status": "Delivered",
        "messageId": message_id,
        "timestamp": utc_now(),
    }});
    send(
        crate::http_client()
            .post(sdk_url(
                tern_base_url,
                app_key,
                &format!("profiles/{installation_id}/events"),
            ))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Now as `yyyy-MM-ddTHH:mm:ssZ`.
fn utc_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    utc(seconds)
}

/// `seconds` since 1970 as `yyyy-MM-ddTHH:mm:ssZ` (the civil-from-days algorithm).
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let of_day = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times_are_written_as_the_sdk_writes_them() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc(1_796_097_600 + 3_661), "2026-12-01T05:01:01Z");
    }
}
