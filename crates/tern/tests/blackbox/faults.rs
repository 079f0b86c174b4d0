//! The spec's `500 "Unknown Error"` row (errorCode 999), caused for real: the gateway runs under a
//! file-size limit (`ulimit -f`, with SIGXFSZ ignored so that the write fails instead of killing
//! the process), so once its store files reach the limit a commit fails inside SQLite. The request
//! whose commit failed is answered 500 with CM's JSON error body, the gateway keeps answering, and
//! every message answered Accepted before the fault is still in the message log.

use std::process::{Command, Stdio};

use serde_json::json;
use tern_testkit::{Gateway, create_account, http_client};

use crate::TERN;

#[tokio::test]
async fn a_store_that_cannot_write_answers_500_unknown_error() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = create_account(TERN, &data_dir, &["--name", "full"]);
    // bash counts `ulimit -f` in KiB: 3 MiB per file, far below what the requests below write.
    let script = format!(
        "trap '' XFSZ; ulimit -f 3072; exec '{TERN}' serve --data-dir '{}' --http-addr 127.0.0.1:0 --smpp-addr off",
        data_dir.display()
    );
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(script)
        .env("TERN_LOG", "off")
        .stderr(Stdio::null());
    let gateway = Gateway::spawn(command, &data_dir);
    let client = http_client();
    let ready = client.get(gateway.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    let msg = r#"{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"a message long enough to fill the store with its rows, its indexes and its log quickly"}}"#;
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{}]}}}}"#,
        vec![msg; 100].join(",")
    );
    let mut accepted = 0;
    let mut failure = None;
    for _ in 0..500 {
        let response = client
            .post(gateway.url("/v1.0/message"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).expect("every answer is JSON");
        if status == 200 {
            assert_eq!(answer["errorCode"], 0);
            accepted += 100;
        } else {
            failure = Some((status, answer));
            break;
        }
    }
    let (status, answer) = failure.expect("the store never failed: was the file-size limit set?");
    assert_eq!(status, 500);
    assert_eq!(
        answer,
        json!({"details": "Unknown Error", "errorCode": 999, "messages": []})
    );
    assert!(accepted > 0, "the store failed before any request");
    eprintln!("store failed after {accepted} accepted messages");

    // Alive (/health), but not ready: a store that cannot write must not be sent traffic.
    let health = client.get(gateway.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = client.get(gateway.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let why = ready.text().await.unwrap();
    assert!(
        why.starts_with("not ready: the store does not accept writes: "),
        "{why}"
    );
    // Still answering, and nothing answered Accepted is lost: the log holds every one of them.
    let mut listed = 0;
    let mut after = String::new();
    loop {
        let response = client
            .get(gateway.url(&format!("/v1.0/messages?limit=1000{after}")))
            .header("X-CM-PRODUCTTOKEN", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        listed += page["messages"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(listed, accepted);
    gateway.kill();
}
