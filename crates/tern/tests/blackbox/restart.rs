//! Restarts: a crash (SIGKILL) with messages awaiting reports and status reports not yet
//! delivered loses nothing and generates no report twice; SIGTERM exits 0. (Delivery itself is
//! at-least-once: a report in flight at a crash is sent again, see
//! `hardening_webhooks::a_report_taken_by_the_receiver_is_sent_again_after_a_crash_with_the_same_id`.
//! These tests refuse every report until the crash, so none is in flight with a 2xx then.)

use std::collections::HashMap;
use std::time::Duration;

use tern_testkit::Gateway;

use crate::{TERN, setup};

#[tokio::test]
async fn a_crash_loses_no_message_and_no_report_and_generates_none_twice() {
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

    let setup = crash_and_restart(setup, config).await;
    let (client, token) = (setup.client.clone(), setup.token.clone());
    let receiver = setup.receiver.as_ref().unwrap();
    let restarted = &setup.gateway;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let accepted = accepted_reports(receiver);
        if accepted.len() >= 30 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = accepted_reports(receiver);
    assert_eq!(accepted.len(), 30, "every message reported: {accepted:?}");
    assert!(
        accepted.values().all(|count| *count == 1),
        "no report generated twice (none was answered 200 before the crash): {accepted:?}"
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
    assert!(setup.gateway.stop().success());
}

use crate::Setup;

/// SIGKILL the gateway, let the receiver take in what it had written, stop refusing reports (the
/// receiver accepts from now on), and start the gateway again on the same data directory.
async fn crash_and_restart(setup: Setup, config: &str) -> Setup {
    let data_dir = setup.gateway.data_dir.clone();
    setup.gateway.kill();
    let receiver = setup.receiver.as_ref().expect("a status receiver");
    settle(receiver).await;
    receiver.clear_script();
    Setup {
        gateway: Gateway::start(TERN, &data_dir, Some(config)),
        ..setup
    }
}

/// Wait until the receiver has taken in every request a killed gateway wrote before it died
/// (nothing new for 200 ms): otherwise one still in the socket could be answered 200 after the
/// script is cleared, to a gateway that never saw the answer and rightly sends it again.
async fn settle(receiver: &tern_testkit::WebhookReceiver) {
    let mut count = receiver.received().len();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = receiver.received().len();
        if now == count {
            return;
        }
        count = now;
    }
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
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--smpp-addr",
            "off",
            "--data-dir",
        ])
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

#[tokio::test]
async fn a_client_that_never_finishes_its_request_does_not_hold_the_stop_open() {
    use tokio::io::AsyncWriteExt;
    let Setup { gateway, .. } = setup(None, &[], false).await;
    let address = gateway.base_url.trim_start_matches("http://").to_owned();
    let mut quiet = tokio::net::TcpStream::connect(address).await.unwrap();
    // Half a request's head, then nothing: the connection is neither idle nor answerable.
    quiet
        .write_all(b"POST /v1.0/message HTTP/1.1\r\nHost: tern\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The HTTP drain's grace period (10 s), then the rest of the stop.
    let status = gateway.stop_within(Duration::from_secs(25));
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "{status:?}"
    );
    drop(quiet);
}

/// The ids of the messages a `/v1.0/message` response accepted.
fn accepted_ids(response: &serde_json::Value) -> Vec<String> {
    response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "Accepted", "{m}");
            m["messageId"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The whole message log of `token`, page by page (`after` cursor).
async fn whole_log(
    client: &reqwest::Client,
    gateway: &Gateway,
    token: &str,
) -> Vec<serde_json::Value> {
    let mut messages = Vec::new();
    let mut after = String::new();
    loop {
        let response = client
            .get(gateway.url(&format!("/v1.0/messages?limit=1000&after={after}")))
            .header("X-CM-PRODUCTTOKEN", token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        messages.extend(page["messages"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => return messages,
        }
    }
}

#[tokio::test]
async fn an_accepted_message_is_not_reported_accepted_again_after_a_restart() {
    // Accepted by the operator (status 0) after 200 ms, then nothing until the validity ends; a
    // restarted gateway resumes the simulator for it, which reports status 0 again.
    let config = r#"
[[simulator.rule]]
outcome = "accepted"
delay_ms = 200
"#;
    let setup = setup(Some(config), &[], true).await;
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"a"}}]"#,
        ))
        .await;
    assert_eq!(status, 200, "{response}");
    let id = accepted_ids(&response).remove(0);
    let Setup {
        gateway,
        token,
        client,
        _dir,
        receiver,
        ..
    } = setup;
    let receiver = receiver.unwrap();
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let report = received[0].json();
    assert_eq!(report["messages"]["msg"]["messageId"], id.as_str());
    assert_eq!(report["messages"]["msg"]["status"]["code"], "0");
    let data_dir = gateway.data_dir.clone();

    // SIGTERM, then a crash: after each restart the resumed simulator has acted (200 ms) well
    // before the check, and the message is still accepted, with its one report.
    let mut gateway = Some(gateway);
    for crash in [false, true] {
        let running = gateway.take().unwrap();
        if crash {
            running.kill();
        } else {
            assert!(running.stop().success());
        }
        let restarted = Gateway::start(TERN, &data_dir, Some(config));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let received = receiver.received();
        assert_eq!(
            received.len(),
            1,
            "no second report (crash: {crash}): {:?}",
            received.iter().map(|r| r.text()).collect::<Vec<_>>()
        );
        let log = whole_log(&client, &restarted, &token).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["status"], "accepted", "crash: {crash}");
        assert_eq!(log[0]["history"].as_array().unwrap().len(), 1, "{}", log[0]);
        gateway = Some(restarted);
    }
    assert!(gateway.unwrap().stop().success());
    drop(_dir);
}

#[tokio::test]
async fn a_crash_with_messages_still_queued_loses_none_and_generates_one_report_each() {
    // A small dispatch batch keeps most messages queued when the gateway is killed right after
    // accepting them. The receiver refuses reports until the crash, so every report answered
    // 200 comes from the restarted gateway or was never answered 200 before.
    let config = r#"
[dispatch]
batch_size = 4
[simulator]
default_delay_ms = 0
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;
    let setup = setup(Some(config), &[], true).await;
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.answer_next(&[500; 100_000]);
    let mut ids = Vec::new();
    for request in 0..20 {
        let numbers: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"number":"003161{request:03}{i:04}"}}"#))
            .collect();
        let (status, response) = setup
            .post_json(&setup.request(&format!(
                r#"[{{"from":"Tern","to":[{}],"body":{{"content":"q"}}}}]"#,
                numbers.join(",")
            )))
            .await;
        assert_eq!(status, 200, "{response}");
        ids.extend(accepted_ids(&response));
    }
    assert_eq!(ids.len(), 2000);
    let queued = setup.log("?status=queued&limit=1000").await;
    assert!(
        !queued["messages"].as_array().unwrap().is_empty(),
        "some messages are still queued at the crash"
    );

    let setup = crash_and_restart(setup, config).await;
    let (client, token) = (setup.client.clone(), setup.token.clone());
    let receiver = setup.receiver.as_ref().unwrap();
    let restarted = &setup.gateway;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while accepted_reports(receiver).len() < ids.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = accepted_reports(receiver);
    let mut reported: Vec<&String> = accepted.keys().collect();
    reported.sort();
    let mut expected: Vec<&String> = ids.iter().collect();
    expected.sort();
    assert!(
        reported == expected,
        "{} of {} messages reported",
        reported.len(),
        ids.len()
    );
    assert!(
        accepted.values().all(|count| *count == 1),
        "no report generated twice (none was answered 200 before the crash): {:?}",
        accepted
            .iter()
            .filter(|(_, count)| **count > 1)
            .collect::<Vec<_>>()
    );
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.json()["messages"]["msg"]["status"]["code"] == "2"),
        "only delivery reports"
    );

    let log = whole_log(&client, restarted, &token).await;
    assert_eq!(log.len(), ids.len());
    let mut logged: Vec<&str> = log
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    logged.sort();
    assert!(logged == expected.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    for message in &log {
        assert_eq!(message["status"], "delivered", "{message}");
        assert_eq!(message["history"].as_array().unwrap().len(), 1, "{message}");
    }
    assert!(setup.gateway.stop().success());
}
