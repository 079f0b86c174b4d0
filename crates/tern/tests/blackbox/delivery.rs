//! Status reports on the account's webhook: delivered, failed-then-fallback, expired, read, the
//! XML format, and retries of a receiver that refuses.

use std::time::Duration;

use serde_json::{Value, json};

use crate::setup;

const CONFIG: &str = r#"
[simulator]
default_delay_ms = 10
[[simulator.rule]]
channel = "WhatsApp"
to_prefix = "0031600000"
outcome = "failed"
error_code = 24
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031611111"
outcome = "read"
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031622222"
outcome = "silent"
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;

/// The report without the fields that vary (time, message id, report id); the report id is
/// checked to be the message id and a status sequence number.
pub(crate) fn stable(report: &Value) -> Value {
    let mut msg = report["messages"]["msg"].clone();
    let received = msg["received"].as_str().unwrap().to_owned();
    assert_eq!(
        received.len(),
        19,
        "received is yyyy-MM-ddTHH:mm:ss: {received}"
    );
    let message_id = msg["messageId"].as_str().unwrap().to_owned();
    assert_eq!(message_id.len(), 36);
    let report_id = msg["reportId"].as_str().unwrap();
    let seq = report_id
        .strip_prefix(&format!("{message_id}-"))
        .unwrap_or_else(|| panic!("reportId {report_id} is not {message_id}-N"));
    assert!(seq.parse::<u32>().is_ok_and(|n| n >= 1), "{report_id}");
    let object = msg.as_object_mut().unwrap();
    object.remove("received");
    object.remove("messageId");
    object.remove("reportId");
    msg
}

#[tokio::test]
async fn delivered_sms_gets_one_report_with_reference_and_groupings() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let (status, _) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Hi"},
                "reference":"ref1","customGrouping":"a","customGrouping3":"c"}]"#,
        ))
        .await;
    assert_eq!(status, 200);
    let receiver = setup.receiver.as_ref().unwrap();
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].content_type, "application/json");
    assert_eq!(
        stable(&received[0].json()),
        json!({"to":"0031612345678","reference":"ref1",
               "status":{"code":"2","errorCode":"","errorDescription":"Delivered"},
               "operator":"20416","channel":"SMS",
               "customGrouping":"a","customGrouping2":"","customGrouping3":"c"})
    );
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    let log = setup.log("?reference=ref1").await;
    assert_eq!(log["messages"][0]["status"], "delivered");
    assert_eq!(log["messages"][0]["history"][0]["status"], 2);
}

#[tokio::test]
async fn failed_whatsapp_falls_back_to_sms_and_both_are_reported_in_order() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let (status, body) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031600000001"}],"body":{"content":"Hi"},
                "allowedChannels":["WhatsApp","SMS"],"reference":"fb"}]"#,
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(2, Duration::from_secs(10))
        .await;
    let reports: Vec<Value> = received.iter().map(|r| stable(&r.json())).collect();
    assert_eq!(
        reports,
        vec![
            json!({"to":"0031600000001","reference":"fb",
                   "status":{"code":"3","errorCode":"24","errorDescription":"Message not delivered because the recipient was unreachable"},
                   "operator":"","channel":"WhatsApp","customGrouping":"","customGrouping2":"","customGrouping3":""}),
            json!({"to":"0031600000001","reference":"fb",
                   "status":{"code":"2","errorCode":"","errorDescription":"Delivered"},
                   "operator":"20416","channel":"SMS","customGrouping":"","customGrouping2":"","customGrouping3":""}),
        ]
    );
    let log = setup.log("?to=0031600000001").await;
    assert_eq!(log["messages"][0]["channel"], "SMS");
    assert_eq!(log["messages"][0]["status"], "delivered");
}

#[tokio::test]
async fn failure_on_the_last_channel_is_final() {
    let setup = setup(Some(CONFIG), &[], true).await;
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031600000002"}],"body":{"content":"Hi"},"allowedChannels":["WhatsApp"]}]"#,
        ))
        .await;
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(1, Duration::from_secs(10))
        .await;
    assert_eq!(stable(&received[0].json())["status"]["code"], "3");
    let log = setup.wait_final(1, Duration::from_secs(5)).await;
    assert_eq!(log["messages"][0]["status"], "failed");
}

#[tokio::test]
async fn a_message_past_its_validity_fails_as_expired() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let (status, _) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031622222001"}],"body":{"content":"Hi"},"validity":"2017-04-20 11:50 GMT"}]"#,
        ))
        .await;
    assert_eq!(status, 200);
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(1, Duration::from_secs(10))
        .await;
    assert_eq!(
        stable(&received[0].json())["status"],
        json!({"code":"3","errorCode":"8","errorDescription":"Message expired at third party"})
    );
    let log = setup.wait_final(1, Duration::from_secs(5)).await;
    assert_eq!(log["messages"][0]["status"], "expired");
}

#[tokio::test]
async fn read_whatsapp_reports_delivered_then_read() {
    let setup = setup(Some(CONFIG), &[], true).await;
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031611111001"}],"body":{"content":"Hi"},"allowedChannels":["WhatsApp"]}]"#,
        ))
        .await;
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(2, Duration::from_secs(10))
        .await;
    let codes: Vec<Value> = received
        .iter()
        .map(|r| stable(&r.json())["status"]["code"].clone())
        .collect();
    assert_eq!(codes, vec![json!("2"), json!("4")]);
    let log = setup.wait_final(1, Duration::from_secs(5)).await;
    assert_eq!(log["messages"][0]["status"], "read");
}

#[tokio::test]
async fn xml_reports_and_retries_until_the_receiver_accepts() {
    let setup = setup(Some(CONFIG), &["--status-format", "xml"], true).await;
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.answer_next(&[500, 503]);
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Hi"},"reference":"x1"}]"#,
        ))
        .await;
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    let answered: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(answered, vec![500, 503, 200]);
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the same report is retried"
    );
    let xml = received[2].text();
    assert_eq!(received[2].content_type, "application/xml");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><MESSAGES><MSG RECEIVED=\""),
        "{xml}"
    );
    assert!(
        xml.contains("<TO>0031612345678</TO><REFERENCE>x1</REFERENCE><STATUS><CODE>2</CODE><ERRORCODE></ERRORCODE><ERRORDESCRIPTION>Delivered</ERRORDESCRIPTION></STATUS>"),
        "{xml}"
    );
    // The report id is the message id and the status's sequence number (the first status).
    let message_id = xml
        .split("<MESSAGEID>")
        .nth(1)
        .and_then(|rest| rest.split("</MESSAGEID>").next())
        .unwrap();
    assert!(
        xml.contains(&format!("\" REPORTID=\"{message_id}-1\"><TO>")),
        "{xml}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 3, "nothing after the 200");
}

#[tokio::test]
async fn the_message_log_shows_only_the_accounts_own_messages() {
    let setup = setup(Some(CONFIG), &[], false).await;
    let other =
        tern_testkit::create_account(crate::TERN, &setup.gateway.data_dir, &["--name", "other"]);
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"mine"},"reference":"mine"}]"#,
        ))
        .await;
    let response = setup
        .client
        .get(setup.gateway.url("/v1.0/messages"))
        .header("X-CM-PRODUCTTOKEN", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body, json!({"messages": [], "next": null}));
    let mine = setup.log("?reference=mine").await;
    assert_eq!(mine["messages"].as_array().unwrap().len(), 1);
    let unauthenticated = setup
        .client
        .get(setup.gateway.url("/v1.0/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_message_log_pages_and_filters() {
    let setup = setup(Some(CONFIG), &[], false).await;
    let recipients: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"number":"003161234567{i}"}}"#))
        .collect();
    setup
        .post_json(&setup.request(&format!(
            r#"[{{"from":"Tern","to":[{}],"body":{{"content":"page"}},"reference":"pg"}}]"#,
            recipients.join(",")
        )))
        .await;
    let first = setup.log("?reference=pg&limit=3").await;
    assert_eq!(first["messages"].as_array().unwrap().len(), 3);
    let cursor = first["next"].as_str().unwrap().to_owned();
    let second = setup
        .log(&format!("?reference=pg&limit=3&after={cursor}"))
        .await;
    let numbers: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec!["0031612345673", "0031612345674"]);
    assert_eq!(second["next"], Value::Null);
    let one = setup.log("?to=0031612345672").await;
    assert_eq!(one["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_receiver_that_times_out_gets_the_report_again_until_it_answers_in_time() {
    let config = r#"
[simulator]
default_delay_ms = 10
[status_reports]
timeout_ms = 200
initial_backoff_ms = 100
max_backoff_ms = 200
"#;
    let setup = setup(Some(config), &[], true).await;
    let receiver = setup.receiver.as_ref().unwrap();
    // The first two POSTs get no answer within the gateway's 200 ms (the receiver would answer
    // 200 after 3 s, too late); the third is answered at once.
    receiver.stall_next(&[Duration::from_secs(3), Duration::from_secs(3)]);
    let (status, _) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Hi"},"reference":"slow"}]"#,
        ))
        .await;
    assert_eq!(status, 200);
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3);
    let stalls: Vec<Duration> = received.iter().map(|r| r.stalled).collect();
    assert_eq!(
        stalls,
        [
            Duration::from_secs(3),
            Duration::from_secs(3),
            Duration::ZERO
        ]
    );
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the same report is retried"
    );
    assert_eq!(
        stable(&received[2].json()),
        json!({"to":"0031612345678","reference":"slow",
               "status":{"code":"2","errorCode":"","errorDescription":"Delivered"},
               "operator":"20416","channel":"SMS",
               "customGrouping":"","customGrouping2":"","customGrouping3":""})
    );
    // Answered in time once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "nothing after the answer in time"
    );
}
