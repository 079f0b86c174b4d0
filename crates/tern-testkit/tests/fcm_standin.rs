//! The FCM stand-in driven as a push connector would drive FCM: over HTTP with reqwest, with a
//! Bearer token, checking each answer's status, JSON and headers.

use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::fcm::{FcmAnswer, FcmStandIn, bearer};

const TOKEN: &str = "ya29.test-access-token";
const WAIT: Duration = Duration::from_secs(10);

async fn standin() -> FcmStandIn {
    FcmStandIn::start("acme-app", bearer(TOKEN)).await
}

/// POSTs `body` to `url` with `authorization`; returns status, Retry-After and JSON.
async fn post(url: &str, authorization: Option<&str>, body: &str) -> (u16, Option<String>, Value) {
    let mut request = tern_testkit::http_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.expect("POST to the stand-in");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).expect("a JSON answer"),
    )
}

async fn send(fcm: &FcmStandIn, body: &Value) -> (u16, Option<String>, Value) {
    post(
        &fcm.send_url(),
        Some(&format!("Bearer {TOKEN}")),
        &body.to_string(),
    )
    .await
}

fn data_message(token: &str, cm: &Value) -> Value {
    json!({"message": {"token": token, "data": {"cm": cm.to_string()}, "android": {"priority": "HIGH"}}})
}

fn fcm_error(code: u16, status: &str, message: &str, error_code: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status, "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
    ]}})
}

fn bad_request(field: &str, message: &str) -> Value {
    json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": field, "description": message}]},
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}
    ]}})
}

#[tokio::test]
async fn an_accepted_message_is_named_and_kept_with_its_cm_payload() {
    let fcm = standin().await;
    let cm = json!({"messageId": "m-1", "body": "Hello", "suggestions": []});
    let (status, _, answer) = send(&fcm, &data_message("device-1", &cm)).await;
    assert_eq!(status, 200);
    let name = answer["name"].as_str().unwrap();
    assert!(name.starts_with("projects/acme-app/messages/0:"), "{name}");
    let second = send(&fcm, &data_message("device-1", &cm)).await.2;
    assert_ne!(second["name"], answer["name"]);
    let accepted = fcm.wait_for_accepted(2, WAIT).await;
    assert_eq!(accepted[0].token, "device-1");
    assert_eq!(accepted[0].name, name);
    assert_eq!(accepted[0].cm.as_ref(), Some(&cm));
    assert_eq!(accepted[0].message_id(), Some("m-1"));
    assert_eq!(accepted[0].message["android"], json!({"priority": "HIGH"}));
    // validate_only answers Google's fake name and sends nothing.
    let mut check = data_message("device-1", &cm);
    check["validate_only"] = json!(true);
    assert_eq!(
        send(&fcm, &check).await.2,
        json!({"name": "projects/acme-app/messages/fake_message_id"})
    );
    assert_eq!(fcm.accepted().len(), 2);
    assert_eq!(fcm.requests().len(), 3);
}

#[tokio::test]
async fn the_access_token_and_the_project_are_checked() {
    let fcm = standin().await;
    let body = data_message("device-1", &json!({"messageId": "m", "body": "b"})).to_string();
    let unauthenticated = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}});
    for authorization in [None, Some("Bearer wrong"), Some(TOKEN)] {
        assert_eq!(
            post(&fcm.send_url(), authorization, &body).await,
            (401, None, unauthenticated.clone()),
            "{authorization:?}"
        );
    }
    let other_project = format!("{}/v1/projects/other-app/messages:send", fcm.base_url());
    let (status, _, answer) = post(&other_project, Some(&format!("Bearer {TOKEN}")), &body).await;
    assert_eq!(
        (status, answer["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let elsewhere = format!("{}/v1/projects/acme-app/messages", fcm.base_url());
    assert_eq!(
        post(&elsewhere, Some(&format!("Bearer {TOKEN}")), &body)
            .await
            .0,
        404
    );
    assert!(fcm.accepted().is_empty());
    // A check given from outside decides (as the OAuth2 token stand-in's will).
    let any = FcmStandIn::start(
        "acme-app",
        std::sync::Arc::new(|h: Option<&str>| h.is_some()),
    )
    .await;
    assert_eq!(
        post(&any.send_url(), Some("Bearer anything"), &body)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn bodies_fcm_would_refuse_are_refused_as_fcm_refuses_them() {
    let fcm = standin().await;
    let (status, _, answer) = post(
        &fcm.send_url(),
        Some(&format!("Bearer {TOKEN}")),
        "{not json",
    )
    .await;
    assert_eq!(
        (status, answer["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let both = "Exactly one of message.token, message.topic or message.condition must be set.";
    let big = "x".repeat(4096 - 2 + 1);
    let cases = [
        (
            json!({}),
            bad_request(
                "message",
                "Request contains an invalid argument: message is required.",
            ),
        ),
        (
            json!({"message": {"data": {"cm": "{}"}}}),
            bad_request("message", both),
        ),
        (
            json!({"message": {"token": "t", "topic": "news"}}),
            bad_request("message", both),
        ),
        (
            json!({"message": {"token": ""}}),
            bad_request(
                "message.token",
                "The registration token is not a valid FCM registration token",
            ),
        ),
        (
            json!({"message": {"token": "t", "data": {"cm": {"messageId": "m"}}}}),
            bad_request(
                "message.data[0].value",
                r#"Invalid value at 'message.data[0].value' (TYPE_STRING), {"messageId":"m"}"#,
            ),
        ),
        (
            json!({"message": {"token": "t", "data": {"n": 1}}}),
            bad_request(
                "message.data[0].value",
                "Invalid value at 'message.data[0].value' (TYPE_STRING), 1",
            ),
        ),
        (
            json!({"message": {"token": "t", "data": {"gcm": "x"}}}),
            bad_request("message.data", "Invalid data payload key: gcm"),
        ),
        (
            json!({"message": {"token": "t", "data": {"google.c.a": "x"}}}),
            bad_request("message.data", "Invalid data payload key: google.c.a"),
        ),
        (
            json!({"message": {"token": "t", "data": {"from": "x"}}}),
            bad_request("message.data", "Invalid data payload key: from"),
        ),
        (
            json!({"message": {"token": "t", "data": {"cm": big}}}),
            bad_request("message", "Message is too big"),
        ),
        (
            json!({"message": {"token": "t", "data": {"cm": "x".repeat(4000)}, "notification": {"title": "t", "body": "b".repeat(95)}}}),
            bad_request("message", "Message is too big"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(send(&fcm, &body).await, (400, None, expected), "{body}");
    }
    // Exactly at the limit is fine.
    let fits = json!({"message": {"token": "t", "data": {"cm": "x".repeat(4094)}}});
    assert_eq!(send(&fcm, &fits).await.0, 200);
    assert_eq!(fcm.accepted().len(), 1);
}

#[tokio::test]
async fn each_token_follows_its_script() {
    let fcm = standin().await;
    let cm = json!({"messageId": "m", "body": "b"});
    let cases = [
        (
            FcmAnswer::Unregistered,
            404,
            None,
            fcm_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                "UNREGISTERED",
            ),
        ),
        (
            FcmAnswer::SenderIdMismatch,
            403,
            None,
            fcm_error(
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                "SENDER_ID_MISMATCH",
            ),
        ),
        (
            FcmAnswer::InvalidToken,
            400,
            None,
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            ),
        ),
        (
            FcmAnswer::QuotaExceeded(7),
            429,
            Some("7".to_owned()),
            fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Send requests'",
                "QUOTA_EXCEEDED",
            ),
        ),
        (
            FcmAnswer::Unavailable,
            503,
            None,
            fcm_error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                "UNAVAILABLE",
            ),
        ),
        (
            FcmAnswer::Internal,
            500,
            None,
            fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
        ),
        (
            FcmAnswer::ThirdPartyAuthError,
            401,
            None,
            fcm_error(
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                "THIRD_PARTY_AUTH_ERROR",
            ),
        ),
    ];
    for (index, (script, status, retry_after, answer)) in cases.into_iter().enumerate() {
        let token = format!("token-{index}");
        fcm.script(&token, vec![script.clone()]);
        // The last answer of a script stays.
        for _ in 0..2 {
            assert_eq!(
                send(&fcm, &data_message(&token, &cm)).await,
                (status, retry_after.clone(), answer.clone()),
                "{script:?}"
            );
        }
    }
    assert!(fcm.accepted().is_empty());
    // A script of several answers gives them in order, then keeps the last.
    fcm.script("flaky", vec![FcmAnswer::Unavailable, FcmAnswer::Accept]);
    let statuses: Vec<u16> = statuses_of(&fcm, "flaky", &cm, 3).await;
    assert_eq!(statuses, [503, 200, 200]);
    // Other tokens are accepted.
    assert_eq!(send(&fcm, &data_message("other", &cm)).await.0, 200);
    assert_eq!(fcm.accepted().len(), 3);
}

async fn statuses_of(fcm: &FcmStandIn, token: &str, cm: &Value, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        statuses.push(send(fcm, &data_message(token, cm)).await.0);
    }
    statuses
}

#[tokio::test]
async fn the_device_helpers_post_what_cms_sdk_posts() {
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{Method, Uri};
    use std::sync::{Arc, Mutex};

    // A receiver in Tern's place records what the helpers send.
    type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;
    let seen: Seen = Arc::default();
    async fn record(
        State(seen): State<Seen>,
        method: Method,
        uri: Uri,
        body: Bytes,
    ) -> (axum::http::StatusCode, String) {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        seen.lock()
            .unwrap()
            .push((method.to_string(), uri.path().to_owned(), body));
        (
            axum::http::StatusCode::CREATED,
            r#"{"installationId":"i-1"}"#.to_owned(),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(record).with_state(Arc::clone(&seen));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body = tern_testkit::fcm::device_registration("tok", Some("+31612345678"));
    assert_eq!(
        tern_testkit::fcm::register(&base, "key", &body).await,
        (201, json!({"installationId": "i-1"}))
    );
    tern_testkit::fcm::update_registration(&base, "key", "i-1", &body).await;
    tern_testkit::fcm::unregister(&base, "key", "i-1").await;
    tern_testkit::fcm::confirm(&base, "key", "i-1", "m-1").await;
    let seen = seen.lock().unwrap().clone();
    server.abort();
    let prefix = "/channelswebhook/push/v2/accounts/key";
    assert_eq!(
        seen[0],
        (
            "POST".to_owned(),
            format!("{prefix}/register"),
            body.clone()
        )
    );
    assert_eq!(body["pushToken"], "tok");
    assert_eq!(body["msisdn"], "+31612345678");
    assert_eq!(body["deviceOs"], "Android");
    assert_eq!(
        seen[1],
        (
            "PUT".to_owned(),
            format!("{prefix}/register/i-1"),
            body.clone()
        )
    );
    assert_eq!(
        seen[2],
        (
            "DELETE".to_owned(),
            format!("{prefix}/register/i-1"),
            Value::Null
        )
    );
    let (method, path, confirmation) = &seen[3];
    assert_eq!(
        (method.as_str(), path.as_str()),
        ("POST", format!("{prefix}/profiles/i-1/events").as_str())
    );
    let report = &confirmation["statusReport"];
    assert_eq!(
        (report["status"].as_str(), report["messageId"].as_str()),
        (Some("Delivered"), Some("m-1"))
    );
    let timestamp = report["timestamp"].as_str().unwrap();
    assert_eq!(
        (timestamp.len(), &timestamp[10..11], &timestamp[19..]),
        (20, "T", "Z"),
        "{timestamp}"
    );
}
