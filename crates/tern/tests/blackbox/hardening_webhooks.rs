//! Hardening of webhook delivery (issue 10): which targets status reports may be POSTed to
//! (`[webhooks] deny_private`, `[webhooks] allow`, no redirects), which status URLs an account
//! may be created with, the report id that lets receivers deduplicate an at-least-once delivery,
//! and the benchmark's refusal to measure fsync on tmpfs.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::TERN;

/// Delivered after 10 ms; failed attempts retried after 100 ms.
const FAST: &str = r#"
[simulator]
default_delay_ms = 10
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;

/// A one-message JSON request for `token`.
fn one_message(token: &str, number: &str) -> String {
    format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"{number}"}}],"body":{{"content":"Hi"}}}}]}}}}"#
    )
}

/// POST one message for `token`; returns its message id.
async fn send_one(client: &reqwest::Client, gateway: &Gateway, token: &str) -> String {
    let response = client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(one_message(token, "0031612345678"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["messages"][0]["status"], "Accepted", "{body}");
    body["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `receiver.url` with its host replaced (same port and path).
fn with_host(receiver: &WebhookReceiver, host: &str) -> String {
    receiver.url.replace("127.0.0.1", host)
}

/// Wait until the message of `token` with `id` is delivered (fails the test after 10 s).
async fn wait_delivered(client: &reqwest::Client, gateway: &Gateway, token: &str, id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = client
            .get(gateway.url("/v1.0/messages"))
            .header("X-CM-PRODUCTTOKEN", token)
            .send()
            .await
            .unwrap();
        let log: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let message = log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["messageId"] == id)
            .cloned();
        if message.as_ref().is_some_and(|m| m["status"] == "delivered") {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} not delivered within 10 s; the log shows {message:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deny_private_refuses_loopback_receivers_by_address_and_by_resolved_name() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    // The same loopback receiver as an IPv4 literal, as a name that resolves to loopback (checked
    // by the resolver at connect time), and as an IPv6 literal.
    let by_address = create_account(
        TERN,
        &data_dir,
        &["--name", "a", "--status-url", &receiver.url],
    );
    let by_name = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "b",
            "--status-url",
            &with_host(&receiver, "localhost"),
        ],
    );
    let by_v6 = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "c",
            "--status-url",
            &with_host(&receiver, "[::1]"),
        ],
    );
    let config = format!("{FAST}[webhooks]\ndeny_private = true\n");
    let gateway = Gateway::start_logged(TERN, &data_dir, Some(&config));
    let client = http_client();
    for token in [&by_address, &by_name, &by_v6] {
        let id = send_one(&client, &gateway, token).await;
        wait_delivered(&client, &gateway, token, &id).await;
    }
    let limit = Duration::from_secs(10);
    let refused =
        "ERROR tern_egress::notifier: status report target refused by [webhooks]; report given up";
    let line = gateway
        .wait_for_log(
            &[
                refused,
                &format!("url={}", receiver.url),
                "reason=address 127.0.0.1 of 127.0.0.1 is private and [webhooks] deny_private is set",
            ],
            limit,
        )
        .await;
    assert!(line.contains(" message_id="), "{line}");
    gateway
        .wait_for_log(
            &[
                refused,
                &format!("url={}", with_host(&receiver, "localhost")),
                "reason=localhost resolves only to private addresses (",
                "127.0.0.1",
                ") and [webhooks] deny_private is set",
            ],
            limit,
        )
        .await;
    gateway
        .wait_for_log(
            &[
                refused,
                &format!("url={}", with_host(&receiver, "[::1]")),
                "reason=address ::1 of ::1 is private and [webhooks] deny_private is set",
            ],
            limit,
        )
        .await;
    // Each report was refused once and given up: no POST, no retry.
    assert_eq!(receiver.received().len(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 0);
    assert_eq!(
        gateway.log().matches(refused).count(),
        3,
        "{}",
        gateway.log()
    );
    assert!(gateway.stop().success());
}

#[tokio::test]
async fn allow_lists_the_only_hosts_reports_are_posted_to() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let refused_receiver = WebhookReceiver::start().await;
    let allowed_receiver = WebhookReceiver::start().await;
    let refused_token = create_account(
        TERN,
        &data_dir,
        &["--name", "a", "--status-url", &refused_receiver.url],
    );
    let allowed_url = with_host(&allowed_receiver, "LocalHost");
    let allowed_token = create_account(
        TERN,
        &data_dir,
        &["--name", "b", "--status-url", &allowed_url],
    );
    let config = format!("{FAST}[webhooks]\nallow = [\"localhost\"]\n");
    let gateway = Gateway::start_logged(TERN, &data_dir, Some(&config));
    let client = http_client();

    let refused_id = send_one(&client, &gateway, &refused_token).await;
    let allowed_id = send_one(&client, &gateway, &allowed_token).await;
    let line = gateway
        .wait_for_log(
            &[
                "ERROR tern_egress::notifier: status report target refused by [webhooks]; report given up",
                &format!("message_id={refused_id}"),
                &format!("url={}", refused_receiver.url),
                "reason=host 127.0.0.1 is not in [webhooks] allow",
            ],
            Duration::from_secs(10),
        )
        .await;
    assert!(!line.contains(&allowed_id), "{line}");
    let received = allowed_receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].content_type, "application/json");
    let msg = &received[0].json()["messages"]["msg"];
    assert_eq!(msg["messageId"], allowed_id.as_str());
    assert_eq!(msg["status"]["code"], "2");
    wait_delivered(&client, &gateway, &refused_token, &refused_id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(refused_receiver.received().len(), 0);
    assert_eq!(allowed_receiver.received().len(), 1);
    assert!(gateway.stop().success());
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let redirecting = WebhookReceiver::start().await;
    let elsewhere = WebhookReceiver::start().await;
    redirecting.answer_next(&[302, 307]);
    redirecting.redirect_to(&elsewhere.url);
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "a", "--status-url", &redirecting.url],
    );
    let gateway = Gateway::start_logged(TERN, &data_dir, Some(FAST));
    let client = http_client();
    let id = send_one(&client, &gateway, &token).await;
    // 302, 307, then 200: the report is retried like after any non-2xx answer.
    let received = redirecting.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![302, 307, 200]
    );
    assert!(
        received
            .iter()
            .all(|r| r.method == "POST" && r.body == received[0].body)
    );
    assert_eq!(
        received[0].json()["messages"]["msg"]["messageId"],
        id.as_str()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(redirecting.received().len(), 3);
    assert_eq!(elsewhere.received().len(), 0, "the redirect was followed");
    assert!(gateway.stop().success());
}

/// A proxy the environment names carries the reports (the gateway posts them directly
/// otherwise), except with `deny_private`, where the address checked must be the receiver's.
#[tokio::test]
async fn a_proxy_the_environment_names_carries_reports_unless_deny_private() {
    for deny_private in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        // The proxy: an HTTP proxy takes a request for an http:// URL in absolute form, which
        // the receiver answers like any other.
        let proxy = WebhookReceiver::start().await;
        let proxy_base = proxy.url.trim_end_matches("/hook").to_owned();
        // A name that resolves nowhere: only a proxy can reach it.
        let token = create_account(
            TERN,
            &data_dir,
            &["--name", "a", "--status-url", "http://reports.invalid/hook"],
        );
        let config = format!("{FAST}[webhooks]\ndeny_private = {deny_private}\n");
        let mut command = Gateway::command(TERN, &data_dir, Some(&config));
        command.env("HTTP_PROXY", &proxy_base);
        let gateway = Gateway::spawn(command, &data_dir);
        let client = http_client();
        let id = send_one(&client, &gateway, &token).await;
        if deny_private {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(proxy.received().len(), 0, "a report went through the proxy");
        } else {
            let received = proxy.wait_for(1, Duration::from_secs(10)).await;
            assert_eq!(received[0].method, "POST");
            assert!(
                received[0]
                    .headers
                    .iter()
                    .any(|(name, value)| name == "host" && value == "reports.invalid"),
                "{:?}",
                received[0].headers
            );
            assert_eq!(
                received[0].json()["messages"]["msg"]["messageId"],
                id.as_str()
            );
        }
        assert!(gateway.stop().success());
    }
}

#[test]
fn account_create_refuses_a_status_url_that_is_not_absolute_http() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let cases = [
        ("--status-url", "http://", "empty host"),
        ("--status-url", "/hook", "relative URL without a base"),
        (
            "--status-url",
            "hooks.example.com/status",
            "relative URL without a base",
        ),
        (
            "--status-url",
            "ftp://example.com/x",
            "scheme ftp is not http or https",
        ),
        ("--inbound-url", "https://", "empty host"),
    ];
    for (flag, url, why) in cases {
        let output = Command::new(TERN)
            .args(["account", "create", "--name", "x", "--data-dir"])
            .arg(&data_dir)
            .args([flag, url])
            .env("TERN_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{flag} {url}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "Error: {flag}: '{url}' is not an absolute http:// or https:// URL ({why}), e.g. https://example.com/status\n"
            )
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    }
    // Nothing was created; a good URL still is.
    create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "ok",
            "--status-url",
            "https://hooks.example.com/status",
        ],
    );
    let output = Command::new(TERN)
        .args(["account", "list", "--data-dir"])
        .arg(&data_dir)
        .env("TERN_LOG", "warn")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listing}");
    assert!(
        rows[0].ends_with("\thttps://hooks.example.com/status\tjson\t-\t-\t-\t-\t-\t-\tenabled"),
        "{listing}"
    );
}

/// Run `bench/run.sh ARGS` with `stat` answering `fs_type` for every file system and a `cargo`
/// that only says it was called (and fails, so nothing is built or benchmarked).
fn bench_script(fs_type: &str, args: &[&str], allow_env: Option<&str>) -> std::process::Output {
    let stubs = tempfile::tempdir().unwrap();
    let write_stub = |name: &str, script: &str| {
        let path = stubs.path().join(name);
        std::fs::write(&path, script).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    };
    write_stub("stat", &format!("#!/bin/sh\necho {fs_type}\n"));
    write_stub("cargo", "#!/bin/sh\necho \"stub cargo $*\"\nexit 7\n");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/run.sh");
    let path = format!(
        "{}:{}",
        stubs.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg(script)
        .args(args)
        .env("PATH", path)
        .env("TMPDIR", "/bench-scratch")
        .env_remove("BENCH_ALLOW_TMPFS");
    if let Some(value) = allow_env {
        command.env("BENCH_ALLOW_TMPFS", value);
    }
    command.output().unwrap()
}

#[test]
fn the_benchmark_refuses_a_data_directory_on_tmpfs_unless_told_otherwise() {
    let refusal = "bench/run.sh: refusing to run: the data directory would be under /bench-scratch, which is on {fs}, where fsync costs nothing and the figures would not measure durable commits. Point TMPDIR at a directory on a disk (e.g. TMPDIR=$PWD/target bench/run.sh), or pass --allow-tmpfs (or set BENCH_ALLOW_TMPFS=1) to run anyway.\n";
    for fs in ["tmpfs", "ramfs"] {
        let output = bench_script(fs, &["--quick"], None);
        assert_eq!(output.status.code(), Some(2), "{fs}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            refusal.replace("{fs}", fs)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "nothing built");
    }
    let warning = "bench/run.sh: WARNING: the data directory (/bench-scratch) is on tmpfs; fsync costs nothing there, so these figures do not measure durable commits.\n";
    // Overridden by the flag (which tern-bench never sees) or the variable: a warning, then on.
    for (args, env) in [
        (&["--allow-tmpfs", "--quick"][..], None),
        (&["--quick"][..], Some("1")),
    ] {
        let output = bench_script("tmpfs", args, env);
        assert_eq!(output.status.code(), Some(7), "the stub cargo ran");
        assert_eq!(String::from_utf8_lossy(&output.stderr), warning);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "stub cargo build --release -p tern -p tern-bench\n"
        );
    }
    // On a disk: no word about it.
    let output = bench_script("ext2/ext3", &["--quick"], None);
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

/// The report id a POST carries in its `X-Tern-Report-Id` header (exactly one such header).
fn header_id(received: &tern_testkit::webhook::Received) -> String {
    let values = received.header_values("x-tern-report-id");
    assert_eq!(
        values.len(),
        1,
        "one X-Tern-Report-Id: {:?}",
        received.headers
    );
    values[0].to_owned()
}

/// The `reportId` of a JSON report body.
fn body_id(received: &tern_testkit::webhook::Received) -> String {
    received.json()["messages"]["msg"]["reportId"]
        .as_str()
        .unwrap_or_else(|| panic!("no reportId in {}", received.text()))
        .to_owned()
}

#[tokio::test]
async fn a_report_taken_by_the_receiver_is_sent_again_after_a_crash_with_the_same_id() {
    // At-least-once, shown: the receiver takes the report and stalls its 200; the gateway is
    // killed before it sees the answer (so before it deletes the report from its outbox), and
    // the restarted gateway sends the same report again. The receiver deduplicates on the id.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    receiver.stall_next(&[Duration::from_secs(2)]);
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "a", "--status-url", &receiver.url],
    );
    let gateway = Gateway::start(TERN, &data_dir, Some(FAST));
    let client = http_client();
    let id = send_one(&client, &gateway, &token).await;
    let first = receiver.wait_for(1, Duration::from_secs(10)).await;
    gateway.kill();
    let restarted = Gateway::start(TERN, &data_dir, Some(FAST));
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    // Both were answered 200: the first after its stall, to a gateway that was gone.
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![200, 200]
    );
    assert_eq!(received[0].stalled, Duration::from_secs(2));
    assert_eq!(received[0].body, first[0].body);
    assert_eq!(received[1].body, received[0].body, "the same report");
    assert_eq!(
        received[0].json()["messages"]["msg"]["messageId"],
        id.as_str()
    );
    assert_eq!(received[0].json()["messages"]["msg"]["status"]["code"], "2");
    let report_id = body_id(&received[0]);
    assert_eq!(body_id(&received[1]), report_id);
    assert_eq!(header_id(&received[0]), report_id);
    assert_eq!(header_id(&received[1]), report_id);
    // Answered in time now: nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2);
    assert!(restarted.stop().success());
}

#[tokio::test]
async fn a_retry_carries_the_same_report_id_and_another_status_a_different_one() {
    let config = r#"
[[simulator.rule]]
outcome = "read"
delay_ms = 10
[status_reports]
initial_backoff_ms = 100
max_backoff_ms = 200
"#;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let json_receiver = WebhookReceiver::start().await;
    let xml_receiver = WebhookReceiver::start().await;
    json_receiver.answer_next(&[500]);
    xml_receiver.answer_next(&[503]);
    let json_token = create_account(
        TERN,
        &data_dir,
        &["--name", "j", "--status-url", &json_receiver.url],
    );
    let xml_token = create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "x",
            "--status-url",
            &xml_receiver.url,
            "--status-format",
            "xml",
        ],
    );
    let gateway = Gateway::start(TERN, &data_dir, Some(config));
    let client = http_client();
    let json_id = send_one(&client, &gateway, &json_token).await;
    let xml_id = send_one(&client, &gateway, &xml_token).await;

    // JSON: delivered (refused with 500, then taken), then read.
    let received = json_receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 200, 200]
    );
    let codes: Vec<Value> = received
        .iter()
        .map(|r| r.json()["messages"]["msg"]["status"]["code"].clone())
        .collect();
    assert_eq!(codes, vec!["2", "2", "4"]);
    assert!(
        received
            .iter()
            .all(|r| r.json()["messages"]["msg"]["messageId"] == json_id.as_str())
    );
    let ids: Vec<String> = received.iter().map(body_id).collect();
    for (r, id) in received.iter().zip(&ids) {
        assert_eq!(&header_id(r), id, "header and body agree");
    }
    assert_eq!(
        received[1].body, received[0].body,
        "the retry is the same report"
    );
    assert_eq!(ids[0], ids[1], "a retry carries the same id");
    assert_ne!(ids[2], ids[0], "another status change has another id");

    // XML: the same, with the id in the REPORTID attribute of <MSG>.
    let received = xml_receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![503, 200, 200]
    );
    let ids: Vec<String> = received
        .iter()
        .map(|r| {
            let text = r.text();
            assert!(
                text.contains(&format!("<MESSAGEID>{xml_id}</MESSAGEID>")),
                "{text}"
            );
            let id = text
                .split(" REPORTID=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no REPORTID in {text}"))
                .to_owned();
            assert_eq!(header_id(r), id, "header and attribute agree");
            id
        })
        .collect();
    assert!(received[0].text().contains("<CODE>2</CODE>"));
    assert!(received[2].text().contains("<CODE>4</CODE>"));
    assert_eq!(received[1].body, received[0].body);
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[2], ids[0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(json_receiver.received().len(), 3);
    assert_eq!(xml_receiver.received().len(), 3);
    assert!(gateway.stop().success());
}
