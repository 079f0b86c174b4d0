//! Idempotent submits: the `Idempotency-Key` header on `POST /v1.0/message` and
//! `POST /gateway.ashx`. A repeat gets the first response byte for byte and creates nothing;
//! another body under the same key is a 409; a malformed key a 400 (JSON on both routes);
//! concurrent repeats create one set of messages; a gateway killed between its commit and its
//! answer answers the retry with the original response.

use std::time::Duration;

use serde_json::Value;
use tern_testkit::{Gateway, create_account, http_client};

use crate::xml_get::logged;
use crate::{Setup, TERN, setup};

/// A response as received: status, content type, body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    key: Option<&[u8]>,
    body: &str,
) -> Answer {
    let mut request = client
        .post(url)
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(key).unwrap(),
        );
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        content_type: response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn post_json(setup: &Setup, key: Option<&str>, body: &str) -> Answer {
    post(
        &setup.client,
        &setup.gateway.url("/v1.0/message"),
        "application/json",
        key.map(str::as_bytes),
        body,
    )
    .await
}

async fn post_xml(setup: &Setup, key: Option<&str>, body: &str) -> Answer {
    post(
        &setup.client,
        &setup.gateway.url("/gateway.ashx"),
        "application/xml",
        key.map(str::as_bytes),
        body,
    )
    .await
}

/// Two messages to two recipients each.
fn two_msgs(setup: &Setup, text: &str) -> String {
    setup.request(&format!(
        r#"[{{"from":"Tern","to":[{{"number":"0031612345678"}},{{"number":"0031612345679"}}],"body":{{"content":"{text}"}},"reference":"r1"}},
            {{"from":"Tern","to":[{{"number":"0031612345670"}},{{"number":"0031612345671"}}],"body":{{"content":"{text}"}},"reference":"r2"}}]"#
    ))
}

fn xml(token: &str, text: &str) -> String {
    format!(
        "<MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{token}</PRODUCTTOKEN></AUTHENTICATION>\
         <MSG><FROM>Tern</FROM><TO>0031612345678</TO><BODY>{text}</BODY></MSG></MESSAGES>"
    )
}

const JSON: &str = "application/json; charset=utf-8";

fn json_error(status: u16, body: &str) -> Answer {
    Answer {
        status,
        content_type: JSON.into(),
        body: body.as_bytes().to_vec(),
    }
}

const REUSED: &str = r#"{"details":"Idempotency-Key already used for a different request body","errorCode":204,"messages":[]}"#;
const INVALID: &str = r#"{"details":"Invalid Idempotency-Key header: use 1 to 255 printable ASCII characters","errorCode":202,"messages":[]}"#;

/// The message ids of a JSON answer, in order.
fn message_ids(answer: &Value) -> Vec<String> {
    answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_json_repeat_gets_the_first_response_and_creates_nothing() {
    let setup = setup(None, &[], false).await;
    let body = two_msgs(&setup, "Hello");
    let first = post_json(&setup, Some("order-42"), &body).await;
    assert_eq!((first.status, first.content_type.as_str()), (200, JSON));
    assert_eq!(first.json()["details"], "Created 4 message(s)");
    assert_eq!(message_ids(&first.json()).len(), 4);
    for _ in 0..2 {
        assert_eq!(post_json(&setup, Some("order-42"), &body).await, first);
    }
    assert_eq!(logged(&setup).await, 4);
    // Another key, or none, is another request.
    let other = post_json(&setup, Some("order-43"), &body).await;
    assert_eq!(other.status, 200);
    assert_ne!(message_ids(&other.json()), message_ids(&first.json()));
    assert_eq!(post_json(&setup, None, &body).await.status, 200);
    assert_eq!(logged(&setup).await, 12);
    // The same key with another body: 409, nothing created.
    let changed = post_json(&setup, Some("order-42"), &two_msgs(&setup, "Hullo")).await;
    assert_eq!(changed, json_error(409, REUSED));
    // A body that differs only in its bytes (a space) is another body.
    let spaced = post_json(&setup, Some("order-42"), &format!("{body} ")).await;
    assert_eq!(spaced, json_error(409, REUSED));
    assert_eq!(logged(&setup).await, 12);
    // The first is still answered.
    assert_eq!(post_json(&setup, Some("order-42"), &body).await, first);
}

#[tokio::test]
async fn a_partly_rejected_request_is_replayed_as_it_was_answered() {
    let setup = setup(None, &[], false).await;
    let body = setup.request(
        r#"[{"from":"Tern","to":[{"number":"0031612345678"},{"number":"not a number"}],"body":{"content":"Hi"}}]"#,
    );
    let first = post_json(&setup, Some("partial"), &body).await;
    assert_eq!(first.json()["errorCode"], 201, "{:?}", first.json());
    assert_eq!(post_json(&setup, Some("partial"), &body).await, first);
    assert_eq!(logged(&setup).await, 1);
}

#[tokio::test]
async fn a_response_that_created_nothing_is_not_remembered() {
    let setup = setup(None, &[], false).await;
    // Every message rejected: 400, nothing created, the key stays free.
    let rejected =
        setup.request(r#"[{"from":"Tern","to":[{"number":"x"}],"body":{"content":"Hi"}}]"#);
    let first = post_json(&setup, Some("k"), &rejected).await;
    assert_eq!(first.status, 400);
    // A corrected request under the same key is taken.
    let fixed = two_msgs(&setup, "Hi");
    let second = post_json(&setup, Some("k"), &fixed).await;
    assert_eq!(second.status, 200);
    assert_eq!(post_json(&setup, Some("k"), &fixed).await, second);
    assert_eq!(logged(&setup).await, 4);
}

#[tokio::test]
async fn a_malformed_key_is_a_400_on_both_routes() {
    let setup = setup(None, &[], false).await;
    let long = "k".repeat(256);
    let bad: [&[u8]; 4] = [b"", long.as_bytes(), "caf\u{e9}".as_bytes(), b"tab\there"];
    for key in bad {
        let json = post(
            &setup.client,
            &setup.gateway.url("/v1.0/message"),
            "application/json",
            Some(key),
            &two_msgs(&setup, "Hi"),
        )
        .await;
        assert_eq!(json, json_error(400, INVALID), "{key:?}");
        let xml_answer = post(
            &setup.client,
            &setup.gateway.url("/gateway.ashx"),
            "application/xml",
            Some(key),
            &xml(&setup.token, "Hi"),
        )
        .await;
        assert_eq!(xml_answer, json_error(400, INVALID), "{key:?}");
    }
    // 255 printable characters is a key.
    let longest = "~".repeat(255);
    assert_eq!(
        post_json(&setup, Some(&longest), &two_msgs(&setup, "Hi"))
            .await
            .status,
        200
    );
    assert_eq!(logged(&setup).await, 4);
}

#[tokio::test]
async fn an_xml_repeat_gets_the_first_response_and_creates_nothing() {
    let setup = setup(None, &[], false).await;
    let body = xml(&setup.token, "Hello");
    let first = post_xml(&setup, Some("xml-1"), &body).await;
    assert_eq!(
        first,
        Answer {
            status: 200,
            content_type: "text/plain; charset=utf-8".into(),
            body: Vec::new()
        }
    );
    assert_eq!(post_xml(&setup, Some("xml-1"), &body).await, first);
    assert_eq!(logged(&setup).await, 1);
    assert_eq!(
        post_xml(&setup, Some("xml-1"), &xml(&setup.token, "Other")).await,
        json_error(409, REUSED)
    );
    // A refused XML request (all-or-nothing) created nothing: not remembered.
    let refused = xml(&setup.token, "").replace("<FROM>Tern</FROM>", "");
    let answer = post_xml(&setup, Some("xml-2"), &refused).await;
    assert_eq!(answer.status, 200);
    assert!(
        String::from_utf8_lossy(&answer.body).starts_with("Error: ERROR"),
        "{answer:?}"
    );
    assert_eq!(post_xml(&setup, Some("xml-2"), &body).await, first);
    assert_eq!(logged(&setup).await, 2);
}

#[tokio::test]
async fn keys_are_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token_a = create_account(TERN, &data_dir, &["--name", "a"]);
    let token_b = create_account(TERN, &data_dir, &["--name", "b"]);
    let gateway = Gateway::start(TERN, &data_dir, None);
    let client = http_client();
    let url = gateway.url("/v1.0/message");
    let body = |token: &str| {
        format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"Hi"}}}}]}}}}"#
        )
    };
    let a = post(
        &client,
        &url,
        "application/json",
        Some(b"shared"),
        &body(&token_a),
    )
    .await;
    let b = post(
        &client,
        &url,
        "application/json",
        Some(b"shared"),
        &body(&token_b),
    )
    .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_ne!(message_ids(&a.json()), message_ids(&b.json()));
    assert_eq!(
        post(
            &client,
            &url,
            "application/json",
            Some(b"shared"),
            &body(&token_a)
        )
        .await,
        a
    );
}

#[tokio::test]
async fn concurrent_repeats_create_one_set_of_messages() {
    let setup = setup(None, &[], false).await;
    let body = two_msgs(&setup, "At once");
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, body) = (
                setup.client.clone(),
                setup.gateway.url("/v1.0/message"),
                body.clone(),
            );
            tokio::spawn(async move {
                post(&client, &url, "application/json", Some(b"burst"), &body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(
            tokio::time::timeout(Duration::from_secs(30), request)
                .await
                .expect("answered")
                .unwrap(),
        );
    }
    assert_eq!(answers[0].status, 200, "{:?}", answers[0]);
    assert!(answers.iter().all(|answer| *answer == answers[0]));
    assert_eq!(logged(&setup).await, 4);
}

/// The messages of `token`'s account in the message log, by id.
async fn logged_ids(client: &reqwest::Client, gateway: &Gateway, token: &str) -> Vec<String> {
    let log: Value = client
        .get(gateway.url("/v1.0/messages?limit=1000"))
        .header("X-CM-PRODUCTTOKEN", token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap();
    let mut ids: Vec<String> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_retry_after_a_crash_between_commit_and_answer_gets_the_original_response() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = create_account(TERN, &data_dir, &["--name", "crash"]);
    // The fault point: the gateway aborts right after the request's commit, before it answers.
    let mut command = Gateway::command(TERN, &data_dir, None);
    command.env("TERN_TEST_CRASH_AFTER_KEYED_COMMIT", "1");
    let gateway = Gateway::spawn(command, &data_dir);
    let client = http_client();
    let msg = r#"{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Once"}}"#;
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{}]}}}}"#,
        vec![msg; 50].join(",")
    );
    let first = client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .header("Idempotency-Key", "crash-1")
        .body(body.clone())
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    assert!(
        first.as_ref().is_err_and(|error| !error.is_timeout()),
        "the connection ends without an answer: {first:?}"
    );
    gateway.kill();

    // Restarted (without the fault): the key and its messages were committed together.
    let gateway = Gateway::start(TERN, &data_dir, None);
    let created = logged_ids(&client, &gateway, &token).await;
    assert_eq!(created.len(), 50, "one transaction: all 50");
    let url = gateway.url("/v1.0/message");
    let retry_once = || post(&client, &url, "application/json", Some(b"crash-1"), &body);
    let retry = retry_once().await;
    assert_eq!((retry.status, retry.content_type.as_str()), (200, JSON));
    let mut replayed = message_ids(&retry.json());
    replayed.sort();
    assert_eq!(
        replayed, created,
        "the retry names the messages first created"
    );
    assert!(
        retry.json()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "Accepted"),
        "{:?}",
        retry.json()
    );
    // Nothing more was created, and a second retry is answered byte for byte alike.
    assert_eq!(logged_ids(&client, &gateway, &token).await, created);
    assert_eq!(retry_once().await, retry);
}
