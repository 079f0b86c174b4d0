//! Black-box tests: each spawns the real `tern` binary on loopback with a fresh data directory and
//! drives it over HTTP, as a client would. One test binary for the crate.

mod accounts;
mod blocklist;
mod cli;
mod conversion;
mod delivery;
mod faults;
mod hardening_core;
mod hardening_http;
mod hardening_webhooks;
mod idempotency;
mod inbound;
mod json_errors;
mod message_log;
mod metrics;
mod node_sdk;
mod openapi;
mod outbox;
mod postgres;
mod postgres_faults;
mod postgres_smpp;
mod push;
mod push_apps;
mod python_sdk;
mod rbm;
mod restart;
mod routes;
mod sdk_replay;
mod simulator;
mod smpp;
mod smpp_connector;
mod smpp_connector_outside;
mod smpp_raw;
mod smpp_receipts;
mod smpp_rusmpp;
mod smsc_sim;
mod spec_examples;
mod ui;
mod whatsapp;
mod xml_get;
mod zero_config;

use std::time::Duration;

use serde_json::Value;
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

pub const TERN: &str = env!("CARGO_BIN_EXE_tern");

/// A started gateway with one account, its token, and (optionally) a status receiver.
pub struct Setup {
    pub gateway: Gateway,
    pub token: String,
    pub receiver: Option<WebhookReceiver>,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

/// A gateway with one account (all channels unless `account_args` says otherwise).
pub async fn setup(config: Option<&str>, account_args: &[&str], with_receiver: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = if with_receiver {
        Some(WebhookReceiver::start().await)
    } else {
        None
    };
    let mut args: Vec<&str> = vec!["--name", "test"];
    if let Some(receiver) = &receiver {
        args.extend(["--status-url", receiver.url.as_str()]);
    }
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start(TERN, &data_dir, config);
    Setup {
        gateway,
        token,
        receiver,
        client: http_client(),
        _dir: dir,
    }
}

impl Setup {
    /// POST a JSON body (text as given) to `/v1.0/message`; returns status and parsed body.
    pub async fn post_json(&self, body: &str) -> (u16, Value) {
        let response = self
            .client
            .post(self.gateway.url("/v1.0/message"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("response is not JSON ({status}): {text}"));
        (status, value)
    }

    /// A body with this account's token and `msg` list (JSON text).
    pub fn request(&self, msgs: &str) -> String {
        format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{}"}},"msg":{msgs}}}}}"#,
            self.token
        )
    }

    /// The message log.
    pub async fn log(&self, query: &str) -> Value {
        let response = self
            .client
            .get(self.gateway.url(&format!("/v1.0/messages{query}")))
            .header("X-CM-PRODUCTTOKEN", &self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// Wait until the log shows at least `count` messages in a final state (neither queued nor
    /// sent) and return it. Panics (failing the test) with what the log showed when `limit`
    /// passes first.
    pub async fn wait_final(&self, count: usize, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let log = self.log("?limit=1000").await;
            let messages = log["messages"].as_array().unwrap();
            let done = messages
                .iter()
                .filter(|m| !matches!(m["status"].as_str(), Some("queued" | "sent")))
                .count();
            if done >= count {
                return log;
            }
            if tokio::time::Instant::now() >= deadline {
                let seen: Vec<String> = messages
                    .iter()
                    .map(|m| format!("{} {} {}", m["reference"], m["to"], m["status"]))
                    .collect();
                panic!(
                    "waited {limit:?} for {count} message(s) in a final state; {done} of {} were: {seen:#?}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The channel a logged message was delivered on: the channel of its history's `delivered`
/// (status 2) entry. Panics when there is none, so a check of it cannot pass on a message that
/// was never sent (a queued message's `channel` already names the channel it will try first).
pub fn delivered_on(message: &Value) -> String {
    message["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {message}"))
        .iter()
        .find(|status| status["status"] == 2)
        .and_then(|status| status["channel"].as_str())
        .unwrap_or_else(|| panic!("not delivered: {message}"))
        .to_owned()
}

/// Remove `messageId` (random) from a response so it can be compared exactly.
pub fn without_ids(mut response: Value) -> Value {
    if let Some(messages) = response["messages"].as_array_mut() {
        for message in messages {
            if let Some(object) = message.as_object_mut() {
                let id = object.remove("messageId");
                if object["status"] == "Accepted" {
                    assert!(
                        id.and_then(|v| v.as_str().map(str::len)) == Some(36),
                        "accepted message has an id"
                    );
                }
            }
        }
    }
    response
}

/// After a crash and restart: every one of `count` messages got status reports with `code` only,
/// each under one report id (a report may be posted twice across the crash: delivery is
/// at-least-once, with the same id; a second status change would have a second id). Waits for
/// `count` reports, then a second more for any that should not come.
pub async fn assert_each_reported_once(receiver: &WebhookReceiver, count: usize, code: &str) {
    receiver.wait_for(count, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut by_reference: std::collections::HashMap<String, std::collections::HashSet<String>> =
        std::collections::HashMap::new();
    for request in receiver.received() {
        let msg = &request.json()["messages"]["msg"];
        assert_eq!(msg["status"]["code"], code, "{msg}");
        let report_id = msg["reportId"].as_str().expect("a report has a reportId");
        by_reference
            .entry(msg["reference"].as_str().unwrap().to_owned())
            .or_default()
            .insert(report_id.to_owned());
    }
    assert_eq!(by_reference.len(), count);
    for (reference, report_ids) in &by_reference {
        assert_eq!(report_ids.len(), 1, "{reference}: {report_ids:?}");
    }
}
