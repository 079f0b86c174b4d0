//! The Meta stand-in driven as a WhatsApp connector would drive Meta: over HTTP with reqwest,
//! its webhooks received by a local axum receiver whose signatures are recomputed here.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tern_testkit::WebhookReceiver;
use tern_testkit::meta::{
    Inbound, InboundContent, MetaError, MetaEvent, MetaGraphStandIn, MetaOptions, RecipientRule,
    Script, StatusStep, WebhookKind, verify_webhook,
};

const WAIT: Duration = Duration::from_secs(10);

/// POSTs `body` to the stand-in's `/messages` with its token; returns status and JSON.
async fn send(meta: &MetaGraphStandIn, body: &Value) -> (u16, Value) {
    send_as(
        meta,
        &meta.messages_url(),
        Some(&meta.options().access_token),
        body,
    )
    .await
}

async fn send_as(
    meta: &MetaGraphStandIn,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let _ = meta;
    let mut request = tern_testkit::http_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("POST to the stand-in");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("its body");
    (
        status,
        serde_json::from_slice(&bytes).expect("a JSON answer"),
    )
}

fn message(to: &str, kind: &str, object: Value) -> Value {
    let mut body = json!({"messaging_product": "whatsapp", "to": to, "type": kind});
    body[kind] = object;
    body
}

/// The error JSON without its `fbtrace_id` (checked to be a non-empty string).
fn without_trace(mut answer: Value) -> Value {
    let trace = answer["error"]
        .as_object_mut()
        .and_then(|error| error.remove("fbtrace_id"));
    assert!(
        trace
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty()),
        "fbtrace_id in {answer}"
    );
    answer
}

fn invalid_parameter(details: &str) -> Value {
    json!({"error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {"messaging_product": "whatsapp", "details": details},
    }})
}

/// Recomputes `sha256=<hex HMAC-SHA256(secret, body)>` with the hmac crate directly.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn assert_signed(received: &tern_testkit::webhook::Received, secret: &str) {
    assert_eq!(
        received.header_values("x-hub-signature-256"),
        vec![expected_signature(secret, &received.body).as_str()],
        "signature of {}",
        received.text()
    );
    assert_eq!(received.content_type, "application/json");
}

#[tokio::test]
async fn valid_messages_of_every_type_are_accepted_with_a_fresh_wamid() {
    let meta = MetaGraphStandIn::start(MetaOptions::default()).await;
    let bodies = [
        message(
            "31612345678",
            "text",
            json!({"body": "Hi", "preview_url": false}),
        ),
        message(
            "+31 6 12345678",
            "image",
            json!({"link": "https://x/y.jpg", "caption": "c"}),
        ),
        message("31612345678", "image", json!({"id": "1234567890"})),
        message(
            "31612345678",
            "video",
            json!({"link": "https://x/v.mp4", "caption": "c"}),
        ),
        message("31612345678", "audio", json!({"link": "https://x/a.ogg"})),
        message(
            "31612345678",
            "document",
            json!({"link": "https://x/f.pdf", "caption": "c", "filename": "f.pdf"}),
        ),
        message(
            "31612345678",
            "sticker",
            json!({"link": "https://x/s.webp"}),
        ),
        message(
            "31612345678",
            "location",
            json!({"latitude": 51.6, "longitude": 4.77, "name": "CM HQ", "address": "Konijnenberg 30"}),
        ),
        message(
            "31612345678",
            "contacts",
            json!([{"name": {"formatted_name": "Ann B", "first_name": "Ann"},
                    "phones": [{"phone": "+31612345678", "type": "CELL", "wa_id": "31612345678"}]}]),
        ),
        message(
            "31612345678",
            "template",
            json!({"name": "order_update", "language": {"policy": "deterministic", "code": "en_US"},
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/h.jpg"}}]},
                    {"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                        {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1000}}]},
                    {"type": "button", "sub_type": "quick_reply", "index": "0",
                        "parameters": [{"type": "payload", "payload": "YES"}]},
                    {"type": "button", "sub_type": "url", "index": "1",
                        "parameters": [{"type": "text", "text": "order/123"}]}]}),
        ),
        message(
            "31612345678",
            "interactive",
            json!({"type": "button", "header": {"type": "text", "text": "Hdr"}, "body": {"text": "Pick"},
                "footer": {"text": "ftr"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}),
        ),
        message(
            "31612345678",
            "interactive",
            json!({"type": "list", "body": {"text": "Pick"}, "action": {"button": "Options",
                "sections": [{"title": "S1", "rows": [{"id": "r1", "title": "Row 1", "description": "d"}]}]}}),
        ),
        message(
            "31612345678",
            "interactive",
            json!({"type": "cta_url", "body": {"text": "Visit"},
                "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://cm.com"}}}),
        ),
        message(
            "31612345678",
            "interactive",
            json!({"type": "location_request_message", "body": {"text": "Share location"},
                "action": {"name": "send_location"}}),
        ),
        message(
            "31612345678",
            "reaction",
            json!({"message_id": "wamid.X", "emoji": "👍"}),
        ),
    ];
    let mut wamids = std::collections::HashSet::new();
    for body in &bodies {
        let (status, answer) = send(&meta, body).await;
        assert_eq!(status, 200, "{body} -> {answer}");
        let to = body["to"].as_str().unwrap();
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
        assert!(wamid.starts_with("wamid."), "{answer}");
        assert_eq!(
            answer,
            json!({"messaging_product": "whatsapp",
                   "contacts": [{"input": to, "wa_id": digits}],
                   "messages": [{"id": wamid}]})
        );
        assert!(wamids.insert(wamid), "wamids are unique");
    }
    // Mark as read.
    let (status, answer) = send(
        &meta,
        &json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.Y"}),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));

    let counts = meta.counts();
    assert_eq!(counts.requests, bodies.len() as u64 + 1);
    assert_eq!(counts.accepted, bodies.len() as u64 + 1);
    assert_eq!(counts.refused, 0);
    let requests = meta.requests();
    assert_eq!(requests.len(), bodies.len() + 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/v25.0/1122334455/messages");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer meta-test-token")
    );
    assert_eq!(requests[0].body.as_ref(), Some(&bodies[0]));
    assert_eq!(requests[0].answered, 200);
    assert!(requests[0].wamid().is_some());
}

#[tokio::test]
async fn malformed_bodies_get_metas_invalid_parameter_error() {
    let meta = MetaGraphStandIn::start(MetaOptions::default()).await;
    let long_text = "x".repeat(4097);
    let four_buttons: Vec<Value> = (0..4)
        .map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("B{i}")}}))
        .collect();
    let cases = [
        (
            json!({"to": "31612345678", "type": "text", "text": {"body": "Hi"}}),
            "The parameter messaging_product is required.",
        ),
        (
            json!({"messaging_product": "sms", "to": "31612345678", "type": "text", "text": {"body": "Hi"}}),
            "Param messaging_product must be one of {WHATSAPP} - got \"sms\".",
        ),
        (
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "Hi"}}),
            "The parameter to is required.",
        ),
        (
            message("31612345678", "fax", json!({})),
            "Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, \
             REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got \"fax\".",
        ),
        (
            json!({"messaging_product": "whatsapp", "to": "31612345678", "type": "text"}),
            "The parameter text is required.",
        ),
        (
            message("31612345678", "text", json!({"body": ""})),
            "Param text['body'] must be a non-empty string.",
        ),
        (
            message("31612345678", "text", json!({"body": long_text})),
            "Param text['body'] must be at most 4096 characters long.",
        ),
        (
            message("31612345678", "image", json!({"caption": "no media"})),
            "Param image must contain either a link or an id.",
        ),
        (
            message(
                "31612345678",
                "audio",
                json!({"link": "https://x/a.ogg", "caption": "c"}),
            ),
            "Param audio['caption'] is not supported for audio.",
        ),
        (
            message(
                "31612345678",
                "template",
                json!({"name": "order_update", "language": {}}),
            ),
            "The parameter template['language']['code'] is required.",
        ),
        (
            message(
                "31612345678",
                "template",
                json!({"language": {"code": "en_US"}}),
            ),
            "The parameter template['name'] is required.",
        ),
        (
            message(
                "31612345678",
                "interactive",
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": four_buttons}}),
            ),
            "Param interactive['action']['buttons'] must have between 1 and 3 elements - got 4.",
        ),
        (
            message(
                "31612345678",
                "interactive",
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "a", "title": "A title longer than twenty"}}]}}),
            ),
            "Param interactive['action']['buttons'][0]['reply']['title'] must be at most 20 \
             characters long.",
        ),
        (
            message(
                "31612345678",
                "interactive",
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": " a", "title": "A"}}]}}),
            ),
            "Param interactive['action']['buttons'][0]['reply']['id'] must not have leading or \
             trailing spaces.",
        ),
        (
            message("31612345678", "location", json!({"latitude": 51.6})),
            "The parameter location['longitude'] is required.",
        ),
        (
            message(
                "31612345678",
                "location",
                json!({"latitude": 95, "longitude": 4.7}),
            ),
            "Param location['latitude'] must be a number between -90 and 90.",
        ),
    ];
    for (body, details) in cases {
        let (status, answer) = send(&meta, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(without_trace(answer), invalid_parameter(details), "{body}");
    }
    assert_eq!(meta.counts().refused, 16);
    assert_eq!(meta.counts().accepted, 0);

    // Not JSON at all, and not declared as JSON.
    let response = tern_testkit::http_client()
        .post(meta.messages_url())
        .header("authorization", "Bearer meta-test-token")
        .header("content-type", "text/plain")
        .body("to=31612345678")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        without_trace(answer),
        invalid_parameter("Content-Type must be application/json.")
    );
}

#[tokio::test]
async fn a_wrong_token_version_or_phone_number_id_is_refused() {
    let meta = MetaGraphStandIn::start(MetaOptions::default()).await;
    let body = message("31612345678", "text", json!({"body": "Hi"}));
    let oauth = json!({"error": {
        "message": "(#190) Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "error_data": {"messaging_product": "whatsapp", "details": "Invalid OAuth access token"},
    }});
    for token in [Some("wrong"), None] {
        let (status, answer) = send_as(&meta, &meta.messages_url(), token, &body).await;
        assert_eq!(status, 401);
        assert_eq!(without_trace(answer), oauth);
    }

    let url = format!("{}/v25.0/999/messages", meta.base_url);
    let (status, answer) = send_as(&meta, &url, Some("meta-test-token"), &body).await;
    assert_eq!(status, 400);
    let answer = without_trace(answer);
    assert_eq!(answer["error"]["code"], 100);
    assert_eq!(answer["error"]["error_subcode"], 33);
    assert_eq!(answer["error"]["type"], "GraphMethodException");
    assert!(
        answer["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("Object with ID '999' does not exist"),
        "{answer}"
    );

    let url = format!("{}/v17.0/1122334455/messages", meta.base_url);
    let (status, answer) = send_as(&meta, &url, Some("meta-test-token"), &body).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], 2500, "{answer}");
    assert_eq!(meta.counts().refused, 4);
}

#[tokio::test]
async fn recipients_are_refused_with_the_scripted_error() {
    let meta = MetaGraphStandIn::start(MetaOptions {
        rules: vec![
            RecipientRule::new("3161111", Script::Refuse(MetaError::undeliverable())),
            RecipientRule::new("3162222", Script::Refuse(MetaError::rate_limited())),
            RecipientRule::new("3163333", Script::Refuse(MetaError::re_engagement())),
            RecipientRule::new(
                "3164444",
                Script::Refuse(MetaError::rate_limited().with_http_status(400)),
            ),
        ],
        ..MetaOptions::default()
    })
    .await;
    let text = |to: &str| message(to, "text", json!({"body": "Hi"}));

    let (status, answer) = send(&meta, &text("31611110000")).await;
    assert_eq!(status, 400);
    assert_eq!(
        without_trace(answer),
        json!({"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException",
            "code": 131026,
            "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."}}})
    );

    let (status, answer) = send(&meta, &text("31622220000")).await;
    assert_eq!(status, 429);
    assert_eq!(
        without_trace(answer),
        json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException",
            "code": 130429,
            "error_data": {"messaging_product": "whatsapp",
                "details": "Cloud API message throughput has been reached."}}})
    );

    let (status, answer) = send(&meta, &text("31633330000")).await;
    assert_eq!(status, 400);
    let answer = without_trace(answer);
    assert_eq!(answer["error"]["code"], 131047);
    assert_eq!(answer["error"]["error_subcode"], 2494010);
    assert_eq!(
        answer["error"]["message"],
        "(#131047) Re-engagement message"
    );

    let (status, answer) = send(&meta, &text("31644440000")).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (400, json!(130429))
    );

    // Other recipients are accepted.
    let (status, _) = send(&meta, &text("31655550000")).await;
    assert_eq!(status, 200);
    assert_eq!(meta.counts().refused, 4);
    assert_eq!(meta.counts().accepted, 1);
}

#[tokio::test]
async fn accepted_messages_get_signed_status_webhooks() {
    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        webhook_url: Some(receiver.url.clone()),
        ..MetaOptions::default()
    })
    .await;
    let mut body = message("31612345678", "text", json!({"body": "Hi"}));
    body["biz_opaque_callback_data"] = json!("cm-ref-1");
    let (status, answer) = send(&meta, &body).await;
    assert_eq!(status, 200);
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();

    let received = receiver.wait_for(2, WAIT).await;
    let mut seen = Vec::new();
    for post in &received {
        assert_signed(post, "meta-test-app-secret");
        let json = post.json();
        assert_eq!(json["object"], "whatsapp_business_account");
        assert_eq!(json["entry"][0]["id"], "102290129340398");
        let change = &json["entry"][0]["changes"][0];
        assert_eq!(change["field"], "messages");
        assert_eq!(change["value"]["messaging_product"], "whatsapp");
        assert_eq!(
            change["value"]["metadata"],
            json!({"display_phone_number": "15550001111", "phone_number_id": "1122334455"})
        );
        let statuses = change["value"]["statuses"].as_array().unwrap();
        assert_eq!(statuses.len(), 1);
        let status = &statuses[0];
        assert_eq!(status["id"], wamid.as_str());
        assert_eq!(status["recipient_id"], "31612345678");
        assert_eq!(status["biz_opaque_callback_data"], "cm-ref-1");
        let timestamp = status["timestamp"].as_str().expect("a string timestamp");
        assert!(timestamp.parse::<u64>().unwrap() > 1_700_000_000);
        assert!(status.get("errors").is_none());
        seen.push(status["status"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["delivered", "sent"]);

    let posts = meta.wait_for_status_posts(2, WAIT).await;
    assert!(posts.iter().all(|post| post.answered == Some(200)));
    assert!(posts.iter().all(|post| post.kind == WebhookKind::Status));
    let counts = meta
        .wait_for_counts("2 statuses counted", WAIT, |counts| {
            counts.statuses_posted == 2
        })
        .await;
    assert_eq!(counts.webhook_posts_ok, 2);
}

#[tokio::test]
async fn scripted_statuses_arrive_duplicated_out_of_order_and_failed_and_answers_are_recorded() {
    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        webhook_url: Some(receiver.url.clone()),
        webhook_concurrency: 1,
        rules: vec![
            RecipientRule::new(
                "3161",
                Script::Accept {
                    statuses: vec![
                        StatusStep::Read,
                        StatusStep::Sent,
                        StatusStep::Delivered,
                        StatusStep::Delivered,
                    ],
                    delay: Duration::from_millis(20),
                    interval: Duration::from_millis(20),
                },
            ),
            RecipientRule::new(
                "3162",
                Script::accept(
                    vec![
                        StatusStep::Sent,
                        StatusStep::Failed(MetaError::undeliverable()),
                    ],
                    Duration::from_millis(20),
                ),
            ),
        ],
        ..MetaOptions::default()
    })
    .await;
    // The receiver answers the first status with 500: recorded, not retried.
    receiver.answer_next(&[500]);

    let (_, answer) = send(&meta, &message("31610000000", "text", json!({"body": "a"}))).await;
    let first = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    let received = receiver.wait_for(4, WAIT).await;
    let order: Vec<(String, String)> = received
        .iter()
        .flat_map(|post| tern_testkit::meta::statuses_of(&post.json()))
        .collect();
    let expected: Vec<(String, String)> = ["read", "sent", "delivered", "delivered"]
        .iter()
        .map(|status| (first.clone(), status.to_string()))
        .collect();
    assert_eq!(order, expected);
    received
        .iter()
        .for_each(|post| assert_signed(post, "meta-test-app-secret"));

    let (_, answer) = send(&meta, &message("31620000000", "text", json!({"body": "b"}))).await;
    let second = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    let received = receiver.wait_for(6, WAIT).await;
    let failed = received[5].json();
    let status = &failed["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["id"], second.as_str());
    assert_eq!(status["status"], "failed");
    assert_eq!(
        status["errors"],
        json!([{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}])
    );
    assert_eq!(
        tern_testkit::meta::statuses_of(&received[4].json()),
        [(second.clone(), "sent".to_owned())]
    );

    let posts = meta.wait_for_status_posts(6, WAIT).await;
    let answers: Vec<Option<u16>> = posts.iter().map(|post| post.answered).collect();
    assert_eq!(
        answers,
        [
            Some(500),
            Some(200),
            Some(200),
            Some(200),
            Some(200),
            Some(200)
        ]
    );
    let counts = meta
        .wait_for_counts("6 statuses counted", WAIT, |counts| {
            counts.statuses_posted == 6
        })
        .await;
    assert_eq!(
        (counts.webhook_posts_ok, counts.webhook_posts_failed),
        (5, 1)
    );
    let event = meta
        .wait_for("the failed status", WAIT, |event| {
            event
                .as_webhook()
                .is_some_and(|post| post.statuses().iter().any(|(_, s)| s == "failed"))
        })
        .await;
    assert!(matches!(event, MetaEvent::Webhook(_)));
}

#[tokio::test]
async fn statuses_are_batched_up_to_statuses_per_post_and_counts_work_without_recording() {
    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        webhook_url: Some(receiver.url.clone()),
        webhook_concurrency: 1,
        statuses_per_post: 4,
        record: false,
        default_script: Script::accept(vec![StatusStep::Delivered], Duration::ZERO),
        ..MetaOptions::default()
    })
    .await;
    // The first POST stalls, so the next statuses queue up and leave together.
    receiver.stall_next(&[Duration::from_millis(500)]);
    let mut wamids = Vec::new();
    for i in 0..9 {
        let (status, answer) = send(
            &meta,
            &message(&format!("3161000000{i}"), "text", json!({"body": "b"})),
        )
        .await;
        assert_eq!(status, 200);
        wamids.push(answer["messages"][0]["id"].as_str().unwrap().to_owned());
    }
    let counts = meta
        .wait_for_counts("9 statuses posted", WAIT, |counts| {
            counts.statuses_posted == 9
        })
        .await;
    assert_eq!(counts.accepted, 9);
    assert!(counts.webhook_posts < 9, "batched: {counts:?}");
    assert!(meta.events().is_empty(), "nothing recorded");

    let received = receiver.received();
    let mut posted: Vec<String> = Vec::new();
    for post in &received {
        assert_signed(post, "meta-test-app-secret");
        let statuses = tern_testkit::meta::statuses_of(&post.json());
        assert!((1..=4).contains(&statuses.len()), "{}", post.text());
        posted.extend(statuses.into_iter().map(|(id, _)| id));
    }
    posted.sort();
    wamids.sort();
    assert_eq!(posted, wamids);
    assert!(
        received
            .iter()
            .any(|post| tern_testkit::meta::statuses_of(&post.json()).len() > 1)
    );
}

#[tokio::test]
async fn inbound_webhooks_have_metas_shapes_and_signature() {
    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        webhook_url: Some(receiver.url.clone()),
        ..MetaOptions::default()
    })
    .await;
    let inbound = [
        (
            Inbound::new(
                "31612345678",
                InboundContent::Text {
                    body: "hello".into(),
                },
            )
            .replying_to("wamid.X"),
            "text",
            json!({"body": "hello"}),
        ),
        (
            Inbound::new(
                "31612345678",
                InboundContent::Image {
                    media_id: "1479537139650973".into(),
                    mime_type: "image/jpeg".into(),
                    sha256: "abc=".into(),
                    caption: Some("look".into()),
                },
            ),
            "image",
            json!({"id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "abc=", "caption": "look"}),
        ),
        (
            Inbound::new(
                "31612345678",
                InboundContent::Location {
                    latitude: 51.6,
                    longitude: 4.77,
                    name: Some("CM HQ".into()),
                    address: None,
                },
            ),
            "location",
            json!({"latitude": 51.6, "longitude": 4.77, "name": "CM HQ"}),
        ),
        (
            Inbound::new(
                "31612345678",
                InboundContent::ButtonReply {
                    id: "yes".into(),
                    title: "Yes".into(),
                },
            ),
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}),
        ),
        (
            Inbound::new(
                "31612345678",
                InboundContent::ListReply {
                    id: "r1".into(),
                    title: "Row 1".into(),
                    description: Some("d".into()),
                },
            ),
            "interactive",
            json!({"type": "list_reply", "list_reply": {"id": "r1", "title": "Row 1", "description": "d"}}),
        ),
    ];
    for (index, (inbound, kind, object)) in inbound.iter().enumerate() {
        let (wamid, post) = meta.send_inbound(inbound).await;
        assert_eq!(post.answered, Some(200));
        assert_eq!(post.kind, WebhookKind::Inbound);
        let received = receiver.wait_for(index + 1, WAIT).await;
        let received = &received[index];
        assert_signed(received, "meta-test-app-secret");
        assert_eq!(received.body, post.body);
        let json = received.json();
        let value = &json["entry"][0]["changes"][0]["value"];
        assert_eq!(json["object"], "whatsapp_business_account");
        assert_eq!(json["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(value["metadata"]["phone_number_id"], "1122334455");
        assert_eq!(
            value["contacts"],
            json!([{"profile": {"name": "Ann"}, "wa_id": "31612345678"}])
        );
        let message = &value["messages"][0];
        assert_eq!(message["from"], "31612345678");
        assert_eq!(message["id"], wamid.as_str());
        assert!(
            message["timestamp"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .is_ok()
        );
        assert_eq!(message["type"], *kind);
        assert_eq!(message[*kind], *object);
        if index == 0 {
            assert_eq!(
                message["context"],
                json!({"from": "15550001111", "id": "wamid.X"})
            );
        } else {
            assert!(message.get("context").is_none());
        }
    }

    let text = Inbound::new("31612345678", InboundContent::Text { body: "x".into() });
    let (_, post) = meta.send_inbound_badly_signed(&text).await;
    let received = receiver.wait_for(6, WAIT).await;
    let bad = &received[5];
    assert_eq!(bad.body, post.body);
    let signature = bad.header_values("x-hub-signature-256");
    assert_eq!(signature.len(), 1);
    assert!(signature[0].starts_with("sha256="));
    assert_ne!(
        signature[0],
        expected_signature("meta-test-app-secret", &bad.body)
    );

    // A raw post without a signature, and the receiver's refusal recorded.
    receiver.answer_next(&[401]);
    let post = meta.post_webhook(b"{}", None).await;
    assert_eq!(post.answered, Some(401));
    let received = receiver.wait_for(7, WAIT).await;
    assert!(received[6].header_values("x-hub-signature-256").is_empty());
}

#[tokio::test]
async fn verification_helper_performs_metas_get() {
    use axum::extract::Query;
    use std::collections::HashMap;

    async fn verify(
        Query(query): Query<HashMap<String, String>>,
    ) -> (axum::http::StatusCode, String) {
        let mode = query.get("hub.mode").map(String::as_str);
        let token = query.get("hub.verify_token").map(String::as_str);
        match (mode, token, query.get("hub.challenge")) {
            (Some("subscribe"), Some("our token & more"), Some(challenge)) => {
                (axum::http::StatusCode::OK, challenge.clone())
            }
            _ => (axum::http::StatusCode::FORBIDDEN, String::new()),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/whatsapp", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/whatsapp", axum::routing::get(verify));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    assert_eq!(
        verify_webhook(&url, "our token & more", "1158201444").await,
        (200, "1158201444".to_owned())
    );
    assert_eq!(verify_webhook(&url, "wrong", "1158201444").await.0, 403);
}

#[tokio::test]
async fn refused_status_posts_are_retried_with_the_same_signed_body() {
    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        webhook_url: Some(receiver.url.clone()),
        webhook_retries: 2,
        webhook_retry_delay: Duration::from_millis(20),
        default_script: Script::accept(vec![StatusStep::Delivered], Duration::ZERO),
        ..MetaOptions::default()
    })
    .await;
    receiver.answer_next(&[500, 503]);
    let (status, _) = send(
        &meta,
        &message("31612345678", "text", json!({"body": "Hi"})),
    )
    .await;
    assert_eq!(status, 200);
    let received = receiver.wait_for(3, WAIT).await;
    assert!(received.iter().all(|post| post.body == received[0].body));
    received
        .iter()
        .for_each(|post| assert_signed(post, "meta-test-app-secret"));
    let counts = meta
        .wait_for_counts("the status done with", WAIT, |counts| {
            counts.statuses_posted == 1
        })
        .await;
    assert_eq!((counts.webhook_posts, counts.webhook_posts_ok), (3, 1));
    let attempts: Vec<(u32, Option<u16>)> = meta
        .webhooks()
        .iter()
        .map(|post| (post.attempt, post.answered))
        .collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(503)), (3, Some(200))]);
    // No fourth POST.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn registered_media_can_be_looked_up_and_downloaded_with_the_token() {
    use sha2::Digest as _;
    let meta = MetaGraphStandIn::start(MetaOptions::default()).await;
    let bytes = b"\xff\xd8\xff\xe0 not quite a JPEG";
    let sha256 = meta.add_media("1479537139650973", "image/jpeg", bytes);
    let expected: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(sha256, expected);

    let client = tern_testkit::http_client();
    let get = |url: String, token: Option<&'static str>| {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned());
            (
                status,
                content_type,
                response.bytes().await.unwrap().to_vec(),
            )
        }
    };
    let info_url = format!("{}/v25.0/1479537139650973", meta.base_url);
    let (status, _, body) = get(info_url.clone(), Some("meta-test-token")).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_slice(&body).unwrap();
    let url = info["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&meta.base_url), "{info}");
    assert_eq!(
        info,
        json!({"messaging_product": "whatsapp", "url": url, "mime_type": "image/jpeg",
               "sha256": sha256, "file_size": bytes.len(), "id": "1479537139650973"})
    );
    let (status, content_type, body) = get(url.clone(), Some("meta-test-token")).await;
    assert_eq!(
        (status, content_type.as_deref(), body.as_slice()),
        (200, Some("image/jpeg"), &bytes[..])
    );

    // Without the token: 401 for both.
    assert_eq!(get(info_url, None).await.0, 401);
    assert_eq!(get(url, Some("wrong")).await.0, 401);
    // An unknown media id.
    let (status, _, body) = get(
        format!("{}/v25.0/42", meta.base_url),
        Some("meta-test-token"),
    )
    .await;
    assert_eq!(status, 400);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error"]["code"], 100);
    assert_eq!(answer["error"]["error_subcode"], 33);
}

/// How many messages a second the stand-in takes (recording off) from 64 concurrent clients on
/// this machine, without webhooks and then with two statuses per message posted 50 to a POST.
/// A measurement, not a check: run with
/// `cargo test -p tern-testkit --release --test meta_standin -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn throughput_with_recording_off() {
    let meta = MetaGraphStandIn::start(MetaOptions {
        record: false,
        ..MetaOptions::default()
    })
    .await;
    let (rate, _) = drive(&meta).await;
    println!("no webhooks: {rate:.0} msg/s (clients and stand-in on the same cores)");

    let receiver = WebhookReceiver::start().await;
    let meta = MetaGraphStandIn::start(MetaOptions {
        record: false,
        webhook_url: Some(receiver.url.clone()),
        statuses_per_post: 50,
        default_script: Script::accept(
            vec![StatusStep::Sent, StatusStep::Delivered],
            Duration::ZERO,
        ),
        ..MetaOptions::default()
    })
    .await;
    let (rate, total) = drive(&meta).await;
    let started = std::time::Instant::now();
    let counts = meta
        .wait_for_counts("every status posted", Duration::from_secs(60), |counts| {
            counts.statuses_posted == 2 * total
        })
        .await;
    println!(
        "with statuses: {rate:.0} msg/s; the last status {:?} after the last answer; {} POSTs \
         for {} statuses",
        started.elapsed(),
        counts.webhook_posts,
        counts.statuses_posted
    );
}

/// Sends 32,000 texts from 64 concurrent clients; returns messages a second and the count.
async fn drive(meta: &MetaGraphStandIn) -> (f64, u64) {
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 500;
    let client = tern_testkit::http_client();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url) = (client.clone(), meta.messages_url());
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_CLIENT {
                let body = message(&format!("316{c:04}{i:04}"), "text", json!({"body": "Hi"}));
                let response = client
                    .post(&url)
                    .header("authorization", "Bearer meta-test-token")
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200);
                let _ = response.bytes().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (CLIENTS * PER_CLIENT) as u64;
    assert_eq!(meta.counts().accepted, total);
    (total as f64 / started.elapsed().as_secs_f64(), total)
}
