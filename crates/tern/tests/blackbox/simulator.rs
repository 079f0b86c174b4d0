//! Every simulator outcome end to end: the exact status reports the account's webhook receives
//! and the message's final state and history in the message log.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::delivery::stable;
use crate::{Setup, setup};

const CONFIG: &str = r#"
[simulator]
default_delay_ms = 10
[[simulator.rule]]
to_prefix = "0031610000"
outcome = "accepted"
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031620000"
outcome = "silent"
[[simulator.rule]]
channel = "WhatsApp"
to_prefix = "0031630000"
outcome = "rejected"
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031640000"
outcome = "expired"
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031650000"
outcome = "read"
delay_ms = 10
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;

/// An absolute validity (`yyyy-MM-dd HH:mm:ss GMT`) about `seconds` from now (whole seconds, so
/// between `seconds - 1` and `seconds`).
fn validity_in(seconds: i64) -> String {
    (Timestamp::now() + SignedDuration::from_secs(seconds))
        .strftime("%Y-%m-%d %H:%M:%S GMT")
        .to_string()
}

/// A report as [`stable`] gives it, built from its parts.
fn report(
    to: &str,
    code: u8,
    error: Option<u16>,
    description: &str,
    operator: &str,
    channel: &str,
) -> Value {
    json!({"to": to, "reference": "",
           "status": {"code": code.to_string(),
                      "errorCode": error.map(|e| e.to_string()).unwrap_or_default(),
                      "errorDescription": description},
           "operator": operator, "channel": channel,
           "customGrouping": "", "customGrouping2": "", "customGrouping3": ""})
}

/// One history entry of the message log, without its times (checked for form and order here).
fn history(message: &Value) -> Vec<Value> {
    let mut previous = Timestamp::MIN;
    message["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            let object = entry.as_object_mut().unwrap();
            let at: Timestamp = object
                .remove("at")
                .unwrap()
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(at >= previous, "history in order: {message}");
            previous = at;
            let time = object.remove("time").unwrap();
            assert_eq!(time.as_str().unwrap().len(), 19, "{time}");
            entry
        })
        .collect()
}

/// Send one message to `to` (a JSON `msg` with extra `fields`); returns its id.
async fn send(setup: &Setup, to: &str, fields: &str) -> String {
    let (status, body) = setup
        .post_json(&setup.request(&format!(
            r#"[{{"from":"Tern","to":[{{"number":"{to}"}}],"body":{{"content":"Hi"}}{fields}}}]"#
        )))
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The reports received so far, each checked to be about `id`, made stable.
fn reports(setup: &Setup, id: &str) -> Vec<Value> {
    setup
        .receiver
        .as_ref()
        .unwrap()
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(body["messages"]["msg"]["messageId"], id);
            stable(&body)
        })
        .collect()
}

async fn wait_reports(setup: &Setup, id: &str, count: usize) -> Vec<Value> {
    setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(count, Duration::from_secs(10))
        .await;
    reports(setup, id)
}

/// The one logged message, once it is final.
async fn final_entry(setup: &Setup) -> Value {
    let log = setup.wait_final(1, Duration::from_secs(10)).await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{log}");
    messages[0].clone()
}

fn expired_history(channel: &str) -> Value {
    json!({"channel": channel, "status": 3, "statusDescription": "Failed",
           "errorCode": 8, "operator": null})
}

#[tokio::test]
async fn accepted_reports_status_0_then_expires_at_the_end_of_validity() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let to = "0031610000001";
    let id = send(&setup, to, &format!(r#","validity":"{}""#, validity_in(3))).await;
    let accepted = report(to, 0, None, "Accepted by operator", "20416", "SMS");
    assert_eq!(wait_reports(&setup, &id, 1).await, vec![accepted.clone()]);
    let log = setup.log("").await;
    assert_eq!(log["messages"][0]["status"], "accepted", "{log}");

    let reports = wait_reports(&setup, &id, 2).await;
    assert_eq!(
        reports,
        vec![
            accepted,
            report(to, 3, Some(8), "Message expired at third party", "", "SMS"),
        ]
    );
    let message = final_entry(&setup).await;
    assert_eq!(message["status"], "expired");
    assert_eq!(message["channel"], "SMS");
    let expired_at: Timestamp = message["history"][1]["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let valid_until: Timestamp = message["validUntil"].as_str().unwrap().parse().unwrap();
    assert!(
        expired_at >= valid_until,
        "expired at {expired_at}, valid until {valid_until}"
    );
    assert_eq!(
        history(&message),
        vec![
            json!({"channel": "SMS", "status": 0, "statusDescription": "Accepted by operator",
                   "errorCode": null, "operator": "20416"}),
            expired_history("SMS"),
        ]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports_count(&setup), 2, "nothing after the expiry");
}

fn reports_count(setup: &Setup) -> usize {
    setup.receiver.as_ref().unwrap().received().len()
}

#[tokio::test]
async fn silent_is_sent_without_a_report_then_expires_at_the_end_of_validity() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let to = "0031620000001";
    let id = send(&setup, to, &format!(r#","validity":"{}""#, validity_in(3))).await;
    // Sent, and nothing reported while it is valid.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reports_count(&setup), 0);
    let log = setup.log("").await;
    assert_eq!(log["messages"][0]["status"], "sent", "{log}");
    assert_eq!(log["messages"][0]["history"], json!([]), "{log}");

    let reports = wait_reports(&setup, &id, 1).await;
    assert_eq!(
        reports,
        vec![report(
            to,
            3,
            Some(8),
            "Message expired at third party",
            "",
            "SMS"
        )]
    );
    let message = final_entry(&setup).await;
    assert_eq!(message["status"], "expired");
    let expired_at: Timestamp = message["history"][0]["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let valid_until: Timestamp = message["validUntil"].as_str().unwrap().parse().unwrap();
    assert!(
        expired_at >= valid_until,
        "expired at {expired_at}, valid until {valid_until}"
    );
    assert_eq!(history(&message), vec![expired_history("SMS")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports_count(&setup), 1, "nothing after the expiry");
}

#[tokio::test]
async fn rejected_on_whatsapp_reports_status_1_then_falls_back_to_sms_delivered() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let to = "0031630000001";
    let id = send(&setup, to, r#","allowedChannels":["WhatsApp","SMS"]"#).await;
    let reports = wait_reports(&setup, &id, 2).await;
    assert_eq!(
        reports,
        vec![
            report(
                to,
                1,
                Some(5),
                "Message not delivered at third party",
                "",
                "WhatsApp"
            ),
            report(to, 2, None, "Delivered", "20416", "SMS"),
        ]
    );
    let message = final_entry(&setup).await;
    assert_eq!(message["status"], "delivered");
    assert_eq!(message["channel"], "SMS");
    assert_eq!(message["allowedChannels"], json!(["WhatsApp", "SMS"]));
    assert_eq!(
        history(&message),
        vec![
            json!({"channel": "WhatsApp", "status": 1, "statusDescription": "Rejected",
                   "errorCode": 5, "operator": null}),
            json!({"channel": "SMS", "status": 2, "statusDescription": "Delivered",
                   "errorCode": null, "operator": "20416"}),
        ]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports_count(&setup), 2, "nothing after the delivery");
}

#[tokio::test]
async fn expired_at_the_operator_reports_status_3_error_8_and_is_final_on_the_last_channel() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let to = "0031640000001";
    let id = send(&setup, to, "").await;
    let reports = wait_reports(&setup, &id, 1).await;
    assert_eq!(
        reports,
        vec![report(
            to,
            3,
            Some(8),
            "Message expired at third party",
            "20416",
            "SMS"
        )]
    );
    let message = final_entry(&setup).await;
    // The channel reported a failure (status 3): the validity itself has not ended.
    assert_eq!(message["status"], "failed");
    assert_eq!(
        history(&message),
        vec![
            json!({"channel": "SMS", "status": 3, "statusDescription": "Failed",
                    "errorCode": 8, "operator": "20416"})
        ]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports_count(&setup), 1, "nothing after the failure");
}

#[tokio::test]
async fn read_reports_delivered_then_read() {
    let setup = setup(Some(CONFIG), &[], true).await;
    let to = "0031650000001";
    let id = send(&setup, to, r#","allowedChannels":["WhatsApp"]"#).await;
    let reports = wait_reports(&setup, &id, 2).await;
    assert_eq!(
        reports,
        vec![
            report(to, 2, None, "Delivered", "", "WhatsApp"),
            report(to, 4, None, "Read", "", "WhatsApp"),
        ]
    );
    let message = final_entry(&setup).await;
    assert_eq!(message["status"], "read");
    assert_eq!(message["channel"], "WhatsApp");
    assert_eq!(
        history(&message),
        vec![
            json!({"channel": "WhatsApp", "status": 2, "statusDescription": "Delivered",
                   "errorCode": null, "operator": null}),
            json!({"channel": "WhatsApp", "status": 4, "statusDescription": "Read",
                   "errorCode": null, "operator": null}),
        ]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reports_count(&setup), 2, "nothing after the read");
}
