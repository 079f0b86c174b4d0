//! The outbox renders a report when it sends it (issue 11, point 4): a report queued while the
//! account's receiver was down goes to the status URL (and in the format) the account has when
//! it is sent, not the one it had when the status changed; an account whose status URL is gone
//! by then gets nothing. There is no command to change an account yet, so the test changes the
//! account's row in the gateway's database while it runs, as such a command will.

use std::time::Duration;

use rusqlite::Connection;
use serde_json::Value;
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::TERN;

/// Delivered, then read, 10 ms apart: two status changes, two reports per message; failed
/// deliveries retried after 100-200 ms.
const CONFIG: &str = r#"
[[simulator.rule]]
outcome = "read"
delay_ms = 10
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;

/// A URL on loopback where nothing listens (connections are refused): a receiver that is down.
fn down_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}

/// The gateway's database, opened beside it.
fn database(data_dir: &std::path::Path) -> Connection {
    let connection = Connection::open(data_dir.join("tern.db")).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection
}

/// POST one message for `token`; returns its message id.
async fn send_one(client: &reqwest::Client, gateway: &Gateway, token: &str) -> String {
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"reference":"moved","body":{{"content":"Hi"}}}}]}}}}"#
    );
    let response = client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    body["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Wait until both reports of each of `ids` are queued and each message's first was tried (and
/// refused) at least once.
async fn wait_queued_and_tried(connection: &Connection, ids: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ready = ids.iter().all(|id| {
            let (count, tried): (i64, i64) = connection
                .query_row(
                    "SELECT COUNT(*), COALESCE(MAX(attempts), 0) FROM outbox WHERE ordering_key = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap();
            count == 2 && tried >= 1
        });
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reports of {ids:?} not queued and tried within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_report_queued_while_the_receiver_was_down_goes_to_the_account_s_new_status_url() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let xml_receiver = WebhookReceiver::start().await;
    let json_token = create_account(
        TERN,
        &data_dir,
        &["--name", "j", "--status-url", &down_url()],
    );
    let xml_token = create_account(
        TERN,
        &data_dir,
        &["--name", "x", "--status-url", &down_url()],
    );
    let quiet_token = create_account(
        TERN,
        &data_dir,
        &["--name", "q", "--status-url", &down_url()],
    );
    let gateway = Gateway::start(TERN, &data_dir, Some(CONFIG));
    let client = http_client();
    let json_id = send_one(&client, &gateway, &json_token).await;
    let xml_id = send_one(&client, &gateway, &xml_token).await;
    let quiet_id = send_one(&client, &gateway, &quiet_token).await;
    let connection = database(&data_dir);
    wait_queued_and_tried(&connection, &[&json_id, &xml_id, &quiet_id]).await;

    // The accounts move their receivers (one to XML too); one stops wanting reports.
    let change = |name: &str, url: Option<&str>, format: &str| {
        connection
            .execute(
                "UPDATE accounts SET status_url = ?2, status_format = ?3 WHERE name = ?1",
                rusqlite::params![name, url, format],
            )
            .unwrap()
    };
    assert_eq!(change("j", Some(&receiver.url), "json"), 1);
    assert_eq!(change("x", Some(&xml_receiver.url), "xml"), 1);
    assert_eq!(change("q", None, "json"), 1);

    // Both reports of each message arrive at the new URL, in order, rendered as before.
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    let msgs: Vec<Value> = received
        .iter()
        .map(|r| r.json()["messages"]["msg"].clone())
        .collect();
    for (msg, (code, seq)) in msgs.iter().zip([("2", 1), ("4", 2)]) {
        assert_eq!(msg["messageId"], json_id.as_str());
        assert_eq!(msg["reference"], "moved");
        assert_eq!(msg["status"]["code"], code, "{msg}");
        assert_eq!(msg["reportId"], format!("{json_id}-{seq}"));
    }
    for r in &received {
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.header_values("x-tern-report-id"),
            vec![r.json()["messages"]["msg"]["reportId"].as_str().unwrap()]
        );
    }

    let received = xml_receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    for (r, seq) in received.iter().zip([1, 2]) {
        assert_eq!(r.content_type, "application/xml");
        let text = r.text();
        assert!(
            text.contains(&format!("REPORTID=\"{xml_id}-{seq}\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("<MESSAGEID>{xml_id}</MESSAGEID>")),
            "{text}"
        );
    }

    // The account without a status URL: its reports leave the outbox undelivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE ordering_key = ?1",
                [&quiet_id],
                |row| row.get(0),
            )
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} report(s) of an account without a status URL still queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(xml_receiver.received().len(), 2);
    drop(connection);
    assert!(gateway.stop().success());
}
