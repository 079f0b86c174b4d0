//! The gateway on PostgreSQL, from the outside: `tern migrate`, and the administrative commands
//! on a database instead of a data directory. Each test takes a database of its own on one
//! throwaway cluster (tern-testkit's `postgres`).

use std::process::{Command, Output};

use tern_testkit::postgres::PgCluster;

use crate::TERN;

fn tern(args: &[&str]) -> Output {
    Command::new(TERN)
        .args(args)
        .env("TERN_LOG", "warn")
        .env_remove("TERN_DATABASE_URL")
        .output()
        .expect("run tern")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "tern failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

#[test]
fn migrate_brings_an_empty_database_up_once_even_when_two_run_at_once() {
    let url = PgCluster::shared().create_database();
    let both: Vec<std::process::Child> = (0..2)
        .map(|_| {
            Command::new(TERN)
                .args(["migrate", "--database-url", &url])
                .env("TERN_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn tern migrate")
        })
        .collect();
    for child in both {
        let output = child.wait_with_output().expect("tern migrate ends");
        assert_eq!(stdout(&output), "schema version 7\n");
    }
    // Again on a database that is up to date: nothing to do, the same answer.
    assert_eq!(
        stdout(&tern(&["migrate", "--database-url", &url])),
        "schema version 7\n"
    );
}

#[test]
fn accounts_are_created_and_listed_on_the_database() {
    let url = PgCluster::shared().create_database();
    let token = "0a1b2c3d-0000-4000-8000-0000000000a1";
    let created = stdout(&tern(&[
        "account",
        "create",
        "--database-url",
        &url,
        "--name",
        "acme",
        "--token",
        token,
        "--balance",
        "12.5",
        "--inbound-numbers",
        "3669",
    ]));
    assert_eq!(created.lines().last(), Some(token));
    // The environment variable names the database as the flag does.
    let listed = Command::new(TERN)
        .args(["account", "list"])
        .env("TERN_LOG", "warn")
        .env("TERN_DATABASE_URL", &url)
        .output()
        .expect("run tern account list");
    let listed = stdout(&listed);
    assert_eq!(
        listed.lines().nth(1),
        Some("1\tacme\tSMS,WhatsApp,RCS,Viber,Push\t12.5\t-\tjson\t-\t-\t-\t-\t-\t3669\tenabled"),
        "{listed}"
    );
    // The same token again is refused, and nothing is created.
    let again = tern(&[
        "account",
        "create",
        "--database-url",
        &url,
        "--name",
        "again",
        "--token",
        token,
    ]);
    assert!(!again.status.success());
    let listed = stdout(&tern(&["account", "list", "--database-url", &url]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

#[test]
fn a_database_that_cannot_be_reached_is_an_error_that_names_it_without_its_password() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://tern:s3cret@127.0.0.1:{port}/tern");
    let output = tern(&["account", "list", "--database-url", &url]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot open the store at postgres://tern:***@127.0.0.1:{port}/tern"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// A node of a gateway on `url`: `tern serve --database-url URL` with a data directory of its
/// own (it holds no messages) and `config`.
pub(crate) fn node(
    url: &str,
    dir: &std::path::Path,
    name: &str,
    config: &str,
) -> tern_testkit::Gateway {
    let data_dir = dir.join(name);
    std::fs::create_dir_all(&data_dir).expect("node directory");
    let config_path = dir.join(format!("{name}.toml"));
    std::fs::write(&config_path, config).expect("write config");
    let mut command = Command::new(TERN);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--http-addr", "127.0.0.1:0", "--smpp-addr", "127.0.0.1:0"])
        .args(["--database-url", url])
        .arg("--config")
        .arg(&config_path)
        .env(
            "TERN_LOG",
            std::env::var("DEBUG_TERN_LOG").unwrap_or("warn".into()),
        );
    tern_testkit::Gateway::spawn(command, &data_dir)
}

/// An account on `url` whose reports go to `receiver`; its token.
fn account_on(url: &str, receiver: &tern_testkit::WebhookReceiver) -> String {
    account_on_with(url, receiver, &[])
}

/// An account on `url` whose reports go to `receiver`, created with `extra` flags too; its token.
pub(crate) fn account_on_with(
    url: &str,
    receiver: &tern_testkit::WebhookReceiver,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "account",
        "create",
        "--database-url",
        url,
        "--name",
        "acme",
        "--status-url",
        &receiver.url,
    ];
    args.extend_from_slice(extra);
    let created = stdout(&tern(&args));
    created.lines().last().expect("a token").trim().to_owned()
}

/// Submit one message with reference `reference` to `gateway`; its HTTP status.
async fn submit(
    client: &reqwest::Client,
    gateway: &tern_testkit::Gateway,
    token: &str,
    reference: &str,
) -> u16 {
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}},"reference":"{reference}"}}]}}}}"#
    );
    match client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body)
        .timeout(std::time::Duration::from_secs(40))
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// Nodes of one gateway: heartbeats and leases short enough for a test.
const CLUSTER_CONFIG: &str = "[simulator]\ndefault_delay_ms = 20\n[cluster]\nlease_secs = 3\nheartbeat_secs = 1\n[dispatch]\nlease_secs = 3\n[status_reports]\ninitial_backoff_ms = 100\nmax_backoff_ms = 500\n";

#[tokio::test]
async fn three_nodes_share_one_gateway_each_message_dispatched_and_reported_once() {
    let url = PgCluster::shared().create_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = tern_testkit::WebhookReceiver::start().await;
    let token = account_on(&url, &receiver);
    let nodes: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| node(&url, dir.path(), name, CLUSTER_CONFIG))
        .collect();
    let client = tern_testkit::http_client();
    // Submissions spread over all three nodes.
    for n in 0..60 {
        let status = submit(&client, &nodes[n % 3], &token, &format!("r{n}")).await;
        assert_eq!(status, 200, "message {n}");
    }
    crate::assert_each_reported_once(&receiver, 60, "2").await;
    // Every node's log shows every message, delivered.
    for gateway in &nodes {
        let response = client
            .get(gateway.url("/v1.0/messages?limit=1000"))
            .header("X-CM-PRODUCTTOKEN", &token)
            .send()
            .await
            .unwrap();
        let log: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let messages = log["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 60);
        assert!(
            messages.iter().all(|m| m["status"] == "delivered"),
            "{messages:?}"
        );
    }
    for gateway in nodes {
        assert!(gateway.stop().success());
    }
}

#[tokio::test]
async fn an_account_created_while_the_nodes_run_works_on_every_node_at_once() {
    let url = PgCluster::shared().create_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = tern_testkit::WebhookReceiver::start().await;
    // Two nodes started at once on an empty database both come up.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| node(&url, dir.path(), "a", CLUSTER_CONFIG));
        let b = scope.spawn(|| node(&url, dir.path(), "b", CLUSTER_CONFIG));
        (a.join().unwrap(), b.join().unwrap())
    });
    let token = account_on(&url, &receiver);
    let client = tern_testkit::http_client();
    assert_eq!(submit(&client, &a, &token, "on-a").await, 200);
    assert_eq!(submit(&client, &b, &token, "on-b").await, 200);
    crate::assert_each_reported_once(&receiver, 2, "2").await;
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[tokio::test]
async fn a_node_killed_under_load_loses_nothing_and_the_others_finish_its_work() {
    let url = PgCluster::shared().create_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = tern_testkit::WebhookReceiver::start().await;
    let token = account_on(&url, &receiver);
    // Node a's messages wait 2 s for their report: the kill finds them claimed and sent.
    let slow = "[simulator]\ndefault_delay_ms = 2000\n[cluster]\nlease_secs = 3\nheartbeat_secs = 1\n[dispatch]\nlease_secs = 3\n";
    let a = node(&url, dir.path(), "a", slow);
    let b = node(&url, dir.path(), "b", CLUSTER_CONFIG);
    let client = tern_testkit::http_client();
    for n in 0..40 {
        assert_eq!(submit(&client, &a, &token, &format!("r{n}")).await, 200);
    }
    a.kill();
    // Node b takes node a's work over once a's heartbeat is older than lease_secs.
    for n in 40..50 {
        assert_eq!(submit(&client, &b, &token, &format!("r{n}")).await, 200);
    }
    crate::assert_each_reported_once(&receiver, 50, "2").await;
    assert!(b.stop().success());
}
