//! `GET /metrics` after a known workload, read by Prometheus's own parser (the Python
//! `prometheus_client` library's text-format parser, not ours): counters equal to what was
//! accepted, rejected, dispatched and reported; the three histograms are histograms. Also
//! `[metrics] addr`, `[metrics] enabled = false`, and the JSON log format.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tern_testkit::Gateway;

use crate::xml_get::{get, post_xml};
use crate::{Setup, TERN, setup};

/// One sample: its name, labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, as `prometheus_client` parsed it: each family's type, and every sample.
#[derive(Debug)]
struct Scrape {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == labels)
            .map(|sample| sample.value)
    }

    /// Every sample named `name`.
    fn named(&self, name: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .collect()
    }
}

/// The target directory (for the parser's venv).
fn target_dir() -> &'static Path {
    Path::new(TERN).parent().unwrap().parent().unwrap()
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    })
print(json.dumps(families))
"#;

/// Parse Prometheus text with `prometheus_client` (a parse error fails the test).
fn parse(text: &str) -> Scrape {
    let python = tern_testkit::python::prometheus_python(target_dir());
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PARSE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client could not parse /metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for family in families {
        types.insert(
            family["name"].as_str().unwrap().to_owned(),
            family["type"].as_str().unwrap().to_owned(),
        );
        for sample in family["samples"].as_array().unwrap() {
            samples.push(Sample {
                name: sample["name"].as_str().unwrap().to_owned(),
                labels: sample["labels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect(),
                value: sample["value"].as_f64().unwrap(),
            });
        }
    }
    Scrape { types, samples }
}

/// GET `url`: status, content type and body.
async fn fetch(client: &reqwest::Client, url: &str) -> (u16, String, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn scrape(setup: &Setup) -> Scrape {
    let (status, content_type, body) = fetch(&setup.client, &setup.gateway.url("/metrics")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    parse(&body)
}

/// A sample's name, labels and value.
pub(crate) type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Wait (at most 15 s: the sampled gauges change every 5 s) until every `(name, labels, value)`
/// of `expected` is what `/metrics` shows; fails the test with the scrape otherwise.
pub(crate) async fn wait_for_metrics(setup: &Setup, expected: &[Expected<'_>]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = scrape(setup).await;
        let missing: Vec<_> = expected
            .iter()
            .filter(|(name, labels, value)| metrics.value(name, labels) != Some(*value))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/metrics never showed {missing:?}: {:#?}",
            metrics.samples
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A token no account has.
const UNKNOWN_TOKEN: &str = "11111111-2222-3333-4444-555555555555";

#[tokio::test]
async fn metrics_count_a_known_workload() {
    let setup = setup(None, &[], true).await;
    let token = setup.token.clone();

    // JSON: two SMS, one WhatsApp, one without a sender (301), one to no number (303).
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[
                {"from":"Tern","to":[{"number":"0031600000001"},{"number":"0031600000002"}],"body":{"content":"sms"},"reference":"sms"},
                {"from":"Tern","to":[{"number":"0031600000003"}],"body":{"content":"wa"},"allowedChannels":["WhatsApp"],"reference":"wa"},
                {"to":[{"number":"0031600000004"}],"body":{"content":"no sender"}},
                {"from":"Tern","to":[{"number":"not a number"}],"body":{"content":"no number"}}
            ]"#,
        ))
        .await;
    assert_eq!(status, 200, "{response}");
    let codes: Vec<u64> = response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["messageErrorCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, vec![0, 0, 0, 301, 303], "{response}");
    // An unknown token (101) and a body that is no JSON (202).
    let (status, _) = setup
        .post_json(&format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{UNKNOWN_TOKEN}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031600000009"}}],"body":{{"content":"x"}}}}]}}}}"#
        ))
        .await;
    assert_eq!(status, 400);
    let (status, response) = setup.post_json("{").await;
    assert_eq!((status, response["errorCode"].as_u64()), (400, Some(202)));

    // XML: one SMS; one request with an unknown token (101).
    let xml = |token: &str| {
        format!(
            "<MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{token}</PRODUCTTOKEN></AUTHENTICATION><MSG><FROM>Tern</FROM><TO>0031600000005</TO><BODY>xml</BODY><REFERENCE>xml</REFERENCE></MSG></MESSAGES>"
        )
    };
    assert_eq!(post_xml(&setup, &xml(&token)).await, (200, String::new()));
    let (status, text) = post_xml(&setup, &xml(UNKNOWN_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("Error"), "{text}");

    // GET: one SMS; one with an unknown token (101).
    let query = |token: &str| {
        format!("producttoken={token}&body=get&to=0031600000006&from=Tern&reference=get")
    };
    assert_eq!(get(&setup, &query(&token)).await, (200, String::new()));
    let (status, text) = get(&setup, &query(UNKNOWN_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("Error"), "{text}");

    // Five messages accepted: all delivered, every report taken by the receiver.
    setup.wait_final(5, Duration::from_secs(30)).await;
    let receiver = setup.receiver.as_ref().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let reports = receiver.received().len() as f64;
        let metrics = scrape(&setup).await;
        let delivered = metrics.value("tern_status_reports_total", &[("outcome", "delivered")]);
        let settled = reports >= 5.0
            && delivered == Some(reports)
            && metrics.value("tern_outbox_depth", &[]) == Some(0.0)
            && metrics.value("tern_queue_depth", &[]) == Some(0.0);
        if settled {
            break metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metrics did not settle: {reports} reports received; {:#?}",
            metrics.samples
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let accepted = |surface: &str, channel: &str| {
        metrics.value(
            "tern_messages_accepted_total",
            &[("surface", surface), ("channel", channel)],
        )
    };
    assert_eq!(accepted("json", "SMS"), Some(2.0));
    assert_eq!(accepted("json", "WhatsApp"), Some(1.0));
    assert_eq!(accepted("xml", "SMS"), Some(1.0));
    assert_eq!(accepted("get", "SMS"), Some(1.0));
    let accepted_total: f64 = metrics
        .named("tern_messages_accepted_total")
        .iter()
        .map(|sample| sample.value)
        .sum();
    assert_eq!(accepted_total, 5.0);
    let rejected = |surface: &str, code: &str| {
        metrics.value(
            "tern_messages_rejected_total",
            &[("surface", surface), ("code", code)],
        )
    };
    assert_eq!(rejected("json", "301"), Some(1.0));
    assert_eq!(rejected("json", "303"), Some(1.0));
    assert_eq!(rejected("json", "101"), Some(1.0));
    assert_eq!(rejected("json", "202"), Some(1.0));
    assert_eq!(rejected("xml", "101"), Some(1.0));
    assert_eq!(rejected("get", "101"), Some(1.0));
    assert_eq!(metrics.named("tern_messages_rejected_total").len(), 6);

    let dispatched = |channel: &str| {
        metrics.value(
            "tern_dispatch_total",
            &[
                ("channel", channel),
                ("connector", "simulator"),
                ("outcome", "sent"),
            ],
        )
    };
    assert_eq!(dispatched("SMS"), Some(4.0));
    assert_eq!(dispatched("WhatsApp"), Some(1.0));
    assert_eq!(metrics.named("tern_dispatch_total").len(), 2);
    // Every outcome's series exists from the first report on.
    for outcome in ["retried", "given_up"] {
        assert_eq!(
            metrics.value("tern_status_reports_total", &[("outcome", outcome)]),
            Some(0.0),
            "{outcome}"
        );
    }
    assert_eq!(
        metrics.value("tern_connector_up", &[("connector", "simulator")]),
        Some(1.0)
    );

    // The three histograms, as histograms with buckets.
    for name in [
        "tern_request_duration_seconds",
        "tern_store_commit_duration_seconds",
        "tern_store_commit_batch_size",
    ] {
        assert_eq!(
            metrics.types.get(name).map(String::as_str),
            Some("histogram"),
            "{name}"
        );
        let buckets = metrics.named(&format!("{name}_bucket"));
        assert!(buckets.len() > 2, "{name} has buckets");
        assert!(
            buckets.iter().any(|bucket| bucket.labels["le"] == "+Inf"),
            "{name}"
        );
    }
    // One duration per submission request on each surface.
    let requests = |surface: &str| {
        metrics.value(
            "tern_request_duration_seconds_count",
            &[("surface", surface)],
        )
    };
    assert_eq!(requests("json"), Some(3.0));
    assert_eq!(requests("xml"), Some(2.0));
    assert_eq!(requests("get"), Some(2.0));
    let commits = metrics
        .value("tern_store_commit_batch_size_count", &[])
        .unwrap();
    assert!(commits >= 1.0);
}

#[tokio::test]
async fn the_outbox_depth_counts_reports_waiting_for_a_failing_receiver_and_drains() {
    let setup = setup(
        Some("[status_reports]\ninitial_backoff_ms = 200\nmax_backoff_ms = 500\n"),
        &[],
        true,
    )
    .await;
    let receiver = setup.receiver.as_ref().unwrap();
    // The receiver fails every POST until told otherwise: the reports wait in the outbox.
    receiver.answer_next(&[500; 100_000]);
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031600000001"},{"number":"0031600000002"},{"number":"0031600000003"}],"body":{"content":"sms"}}]"#,
        ))
        .await;
    assert_eq!(status, 200, "{response}");
    setup.wait_final(3, Duration::from_secs(30)).await;
    // At least one report per message waits (the gauge is sampled every 5 seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = scrape(&setup).await;
        let waiting = metrics.value("tern_outbox_depth", &[]);
        if waiting.is_some_and(|waiting| waiting >= 3.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tern_outbox_depth never reached 3: {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        receiver
            .received()
            .iter()
            .all(|report| report.answered == 500),
        "nothing was taken yet"
    );
    // The receiver recovers: every report goes out, the gauge comes back to 0, and every
    // report counted delivered was received.
    receiver.clear_script();
    wait_for_metrics(&setup, &[("tern_outbox_depth", &[], 0.0)]).await;
    let taken = receiver
        .received()
        .iter()
        .filter(|report| report.answered == 200)
        .count();
    assert!(taken >= 3, "{taken}");
    wait_for_metrics(
        &setup,
        &[(
            "tern_status_reports_total",
            &[("outcome", "delivered")],
            taken as f64,
        )],
    )
    .await;
    let failed = receiver
        .received()
        .iter()
        .filter(|report| report.answered == 500)
        .count();
    let retried = scrape(&setup)
        .await
        .value("tern_status_reports_total", &[("outcome", "retried")]);
    assert_eq!(retried, Some(failed as f64));
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_when_configured() {
    let setup = setup(Some("[metrics]\naddr = \"127.0.0.1:0\"\n"), &[], false).await;
    let address = setup
        .gateway
        .startup
        .iter()
        .find_map(|line| line.strip_prefix("Tern metrics listening on "))
        .expect("the metrics address is printed")
        .trim()
        .to_owned();
    // The gauges are sampled every few seconds, the first time soon after the start: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = fetch(&setup.client, &format!("{address}/metrics")).await;
        assert_eq!(status, 200);
        let up = parse(&body).value("tern_connector_up", &[("connector", "simulator")]);
        if up.is_some() || std::time::Instant::now() > deadline {
            assert_eq!(up, Some(1.0), "{body}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Not on the API's address.
    let (status, _, _) = fetch(&setup.client, &setup.gateway.url("/metrics")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let setup = setup(Some("[metrics]\nenabled = false\n"), &[], false).await;
    let (status, _, _) = fetch(&setup.client, &setup.gateway.url("/metrics")).await;
    assert_eq!(status, 404);
    assert!(
        !setup
            .gateway
            .startup
            .iter()
            .any(|line| line.contains("metrics"))
    );
}

/// The log line of `message`, parsed; every line must be a JSON object.
fn json_line(log: &str, message: &str) -> Value {
    let mut found = None;
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(value.is_object(), "{line}");
        if value["message"] == message {
            found = Some(value);
        }
    }
    found.unwrap_or_else(|| panic!("no {message:?} line in the log:\n{log}"))
}

fn assert_serving_line(line: &Value) {
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["target"], "tern::serve", "{line}");
    assert!(
        line["timestamp"]
            .as_str()
            .is_some_and(|at| at.parse::<jiff::Timestamp>().is_ok()),
        "{line}"
    );
    // The event's fields are keys of their own.
    assert!(
        line["address"]
            .as_str()
            .is_some_and(|address| address.starts_with("127.0.0.1:")),
        "{line}"
    );
    assert!(line["data_dir"].is_string(), "{line}");
}

#[tokio::test]
async fn the_log_is_json_lines_when_the_configuration_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let gateway = Gateway::start_logged_at(
        TERN,
        &data_dir,
        Some("[log]\nformat = \"json\"\n"),
        Some("info"),
    );
    gateway
        .wait_for_log(&["tern serving"], Duration::from_secs(10))
        .await;
    assert_serving_line(&json_line(&gateway.log(), "tern serving"));
}

#[tokio::test]
async fn the_log_is_json_lines_with_tern_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let log_path = dir.path().join("tern.log");
    let mut command = Command::new(TERN);
    command
        .args(["serve", "--http-addr", "127.0.0.1:0", "--smpp-addr", "off"])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("TERN_LOG", "info")
        .env("TERN_LOG_FORMAT", "json")
        .stderr(std::fs::File::create(&log_path).unwrap());
    let gateway = Gateway::spawn(command, &data_dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if log.contains("tern serving") {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "no log:\n{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_serving_line(&json_line(&log, "tern serving"));
    // The default stays human-readable.
    drop(gateway);
    let plain = Gateway::start_logged_at(TERN, &dir.path().join("plain"), None, Some("info"));
    let line = plain
        .wait_for_log(&["tern serving"], Duration::from_secs(10))
        .await;
    assert!(serde_json::from_str::<Value>(&line).is_err(), "{line}");
    assert!(line.contains("INFO"), "{line}");
}

#[tokio::test]
async fn smpp_submits_and_binds_are_counted() {
    let setup = crate::smpp::smpp_setup(None, &[]);
    let results = crate::smpp::drive(
        &setup.gateway,
        None,
        serde_json::json!([
            {"op": "connect"},
            {"op": "bind", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
            crate::smpp::submit(b"one", serde_json::json!({})),
            crate::smpp::submit(b"two", serde_json::json!({})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(results[1]["status"], 0, "{results:?}");
    assert_eq!(results[2]["status"], 0, "{results:?}");
    let client = tern_testkit::http_client();
    let url = setup.gateway.url("/metrics");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (status, _, body) = fetch(&client, &url).await;
        assert_eq!(status, 200);
        let metrics = parse(&body);
        // Bound while it submitted; no longer once it unbound.
        let binds = metrics.value(
            "tern_smpp_binds",
            &[("account", "smpp"), ("bind_type", "transceiver")],
        );
        if binds == Some(0.0) {
            break metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "binds: {binds:?}\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        metrics.value(
            "tern_messages_accepted_total",
            &[("surface", "smpp"), ("channel", "SMS")]
        ),
        Some(2.0)
    );
    assert_eq!(
        metrics.value(
            "tern_request_duration_seconds_count",
            &[("surface", "smpp")]
        ),
        Some(2.0)
    );
}
