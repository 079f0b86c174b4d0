//! Restarts: a crash (SIGKILL) with messages awaiting reports and status reports not yet
//! delivered loses nothing and sends no report twice; SIGTERM exits 0.

use std::collections::HashMap;
use std::time::Duration;

use tern_testkit::Gateway;

use crate::{TERN, setup};

#[tokio::test]
async fn a_crash_loses_no_message_and_no_report_and_repeats_none() {
    // Reports are delivered slowly at first: the receiver refuses, so they pile up in the outbox.
    let config = r#"
[simulator]
default_delay_ms = 10
[[simulator.rule]]
to_prefix = "0031699"
outcome = "delivered"
delay_ms = 1500
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;
    let setup = setup(Some(config), &[], true).await;
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.answer_next(&[500; 10_000]);
    let numbers: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"number":"00316123456{i:02}"}}"#))
        .collect();
    let (status, _) = setup
        .post_json(&setup.request(&format!(
            r#"[{{"from":"Tern","to":[{}],"body":{{"content":"a"}}}}]"#,
            numbers.join(",")
        )))
        .await;
    assert_eq!(status, 200);
    // These wait 1.5 s for their report, so the crash finds them sent but unreported.
    let slow: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"number":"00316990000{i:02}"}}"#))
        .collect();
    let (status, _) = setup
        .post_json(&setup.request(&format!(
            r#"[{{"from":"Tern","to":[{}],"body":{{"content":"b"}}}}]"#,
            slow.join(",")
        )))
        .await;
    assert_eq!(status, 200);
    // The first 20 are delivered and their reports are being refused.
    receiver.wait_for(25, Duration::from_secs(10)).await;

    let Setup {
        gateway,
        token,
        client,
        _dir,
        receiver,
        ..
    } = setup;
    let receiver = receiver.unwrap();
    let data_dir = gateway.data_dir.clone();
    gateway.kill();
    // The receiver accepts from now on.
    receiver.answer_next(&[]);
    clear_script(&receiver);
    let restarted = Gateway::start(TERN, &data_dir, Some(config));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let accepted = accepted_reports(&receiver);
        if accepted.len() >= 30 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = accepted_reports(&receiver);
    assert_eq!(accepted.len(), 30, "every message reported: {accepted:?}");
    assert!(
        accepted.values().all(|count| *count == 1),
        "no report accepted twice: {accepted:?}"
    );

    let response = client
        .get(restarted.url("/v1.0/messages?limit=1000"))
        .header("X-CM-PRODUCTTOKEN", &token)
        .send()
        .await
        .unwrap();
    let log: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let states: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 30);
    assert!(states.iter().all(|s| *s == "delivered"), "{states:?}");
    assert!(restarted.stop().success());
    drop(_dir);
}

use crate::Setup;

/// Stop refusing: statuses already scripted are dropped.
fn clear_script(receiver: &tern_testkit::WebhookReceiver) {
    receiver.clear_script();
}

/// Message id → how many times its (single) report was answered 200.
fn accepted_reports(receiver: &tern_testkit::WebhookReceiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for received in receiver
        .received()
        .into_iter()
        .filter(|r| r.answered == 200)
    {
        let id = received.json()["messages"]["msg"]["messageId"]
            .as_str()
            .unwrap()
            .to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn sigterm_exits_zero_and_a_second_serve_on_the_same_dir_is_refused() {
    let setup = setup(None, &[], false).await;
    let output = std::process::Command::new(TERN)
        .args(["serve", "--http-addr", "127.0.0.1:0", "--data-dir"])
        .arg(&setup.gateway.data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another `tern serve` is using"), "{stderr}");
    let Setup { gateway, .. } = setup;
    let status = gateway.stop();
    assert_eq!(status.code(), Some(0));
}
