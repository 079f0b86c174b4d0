//! An SMPP connector on a gateway of several nodes (one PostgreSQL database), from the outside:
//! the connector's `binds` hold for the gateway as a whole (the SMSC, `tern smsc-sim`, counts
//! every bind it ever accepted), submissions over HTTP and over SMPP spread over the nodes are
//! each reported once (a status report webhook, or an SMPP receipt on the node where the
//! submitting client is bound), and the binds follow the live nodes when one is killed and
//! when it comes back; a node stalled for longer than its lease sends nothing that the others
//! took over meanwhile.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command as Pdus, CommandId, CommandStatus, Pdu};
use tern_testkit::postgres::PgCluster;
use tern_testkit::{Gateway, WebhookReceiver};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::TERN;
use crate::smsc_sim::SmscSim;

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(30);

/// Nodes of one gateway (heartbeats and leases short enough for a test) whose every SMS goes
/// over connector `op-a` (2 binds) to the SMSC on `port`. The node lease is six heartbeats: on a
/// machine as loaded as CI's (every black-box test at once on 2 cores), a live node's heartbeat
/// can be recorded seconds late, and a node taken for dead while alive has its sessions doubled
/// by another and its receipts in flight sent again (at least once, as promised), which this
/// test counts.
fn node_config(name: &str, port: u16) -> String {
    format!(
        "[cluster]\nnode_id = \"{name}\"\nlease_secs = 6\nheartbeat_secs = 1\n\
         [dispatch]\nlease_secs = 10\n\
         [status_reports]\ninitial_backoff_ms = 100\nmax_backoff_ms = 500\n\
         [[connector]]\nname = \"op-a\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         system_id = \"acme\"\npassword = \"secret\"\nbinds = 2\nmax_submits_per_sec = 1000\n\
         reconnect_min_ms = 100\nreconnect_max_ms = 300\n\
         [[route]]\nconnector = \"op-a\"\n"
    )
}

/// A node logging the connector's and the cluster's events to a file of its own; the node and
/// its log file.
fn node(url: &str, dir: &Path, name: &str, port: u16) -> (Gateway, PathBuf) {
    node_with(url, dir, name, &node_config(name, port))
}

/// [`node`] with the configuration `config`.
fn node_with(url: &str, dir: &Path, name: &str, config: &str) -> (Gateway, PathBuf) {
    let data_dir = dir.join(name);
    std::fs::create_dir_all(&data_dir).expect("node directory");
    let config_path = dir.join(format!("{name}.toml"));
    std::fs::write(&config_path, config).expect("write config");
    let log = dir.join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log).expect("log file");
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
            "warn,tern::serve=info,tern_egress::smpp=info,tern_egress::cluster=info",
        )
        .env("NO_COLOR", "1")
        .stderr(Stdio::from(log_file));
    (Gateway::spawn(command, &data_dir), log)
}

/// Wait until `log` has a line with every one of `needles`; fails with the log past `WAIT`.
async fn wait_for_line(log: &Path, needles: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text
            .lines()
            .any(|line| needles.iter().all(|needle| line.contains(needle)))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for {needles:?} in {}:\n{text}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stop `node` (SIGTERM): it exits with success within [`WAIT`], or the test fails with its
/// log, which says how far its stop went.
fn stop(node: Gateway, log: &Path) {
    let status = node.stop_within(WAIT);
    assert!(
        status.is_some_and(|status| status.success()),
        "the node stopped with {status:?} (None: not within {WAIT:?}); its log {}:\n{}",
        log.display(),
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The last line of `log` that says this node's share of the connector.
fn last_share(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rfind(|line| line.contains("connector's share of the cluster's sessions"))
        .unwrap_or_default()
        .to_owned()
}

/// Wait until the last share `log` shows has every one of `needles`.
async fn wait_for_share(log: &Path, needles: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let share = last_share(log);
        if needles.iter().all(|needle| share.contains(needle)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for a share with {needles:?} in {}:\n{}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Output of a `tern` administrative command that must succeed.
fn tern(args: &[&str]) -> String {
    let output = Command::new(TERN)
        .args(args)
        .env("TERN_LOG", "warn")
        .env_remove("TERN_DATABASE_URL")
        .output()
        .expect("run tern");
    assert!(
        output.status.success(),
        "tern {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Submit one message with `reference` to `gateway` over HTTP; it must be accepted.
async fn submit_http(client: &reqwest::Client, gateway: &Gateway, token: &str, reference: &str) {
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}},"reference":"{reference}"}}]}}}}"#
    );
    let response = client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body)
        .timeout(WAIT)
        .send()
        .await
        .expect("the node answers");
    assert_eq!(response.status().as_u16(), 200, "{reference}");
}

fn c<const MIN: usize, const MAX: usize>(text: &str) -> COctetString<MIN, MAX> {
    COctetString::from_str(text).unwrap()
}

/// An SMPP client (rusmpp's codec) bound as a transceiver to one node.
struct SmppClient {
    framed: Framed<TcpStream, CommandCodec>,
    sequence: u32,
    /// The receipts read (and answered) so far: the id each names, with its `stat:`.
    receipts: Vec<(String, String)>,
}

impl SmppClient {
    async fn bound(gateway: &Gateway, system_id: &str, password: &str) -> SmppClient {
        let address = gateway.smpp_addr.expect("SMPP is on");
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(address))
            .await
            .expect("connect timed out")
            .unwrap();
        let mut client = SmppClient {
            framed: Framed::new(stream, CommandCodec::new()),
            sequence: 0,
            receipts: Vec::new(),
        };
        let bind = BindTransceiver::builder()
            .system_id(c(system_id))
            .password(c(password))
            .system_type(COctetString::empty())
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        let resp = client.request(bind).await;
        assert_eq!(resp.id(), CommandId::BindTransceiverResp, "{resp:?}");
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        client
    }

    /// The next PDU that is not a receipt (receipts read meanwhile are answered and kept).
    async fn next_response(&mut self) -> Pdus {
        loop {
            let command = self.next().await;
            if !self.receipt(&command).await {
                return command;
            }
        }
    }

    async fn next(&mut self) -> Pdus {
        tokio::time::timeout(WAIT, self.framed.next())
            .await
            .expect("nothing received in time")
            .expect("the node closed the connection")
            .unwrap()
    }

    /// When `command` is a deliver_sm: answer it, keep what it says, and `true`.
    async fn receipt(&mut self, command: &Pdus) -> bool {
        let Some(Pdu::DeliverSm(body)) = command.pdu() else {
            return false;
        };
        let text = String::from_utf8(body.short_message().as_ref().to_vec()).unwrap();
        let field = |name: &str| {
            text.split(' ')
                .find_map(|word| word.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in the receipt {text:?}"))
                .to_owned()
        };
        self.receipts.push((field("id:"), field("stat:")));
        let resp = DeliverSmResp::builder()
            .message_id(COctetString::empty())
            .build();
        let answer = Pdus::new(CommandStatus::EsmeRok, command.sequence_number(), resp);
        tokio::time::timeout(WAIT, self.framed.send(answer))
            .await
            .expect("send timed out")
            .unwrap();
        true
    }

    async fn request(&mut self, pdu: impl Into<Pdu>) -> Pdus {
        self.sequence += 1;
        let command = Pdus::new(CommandStatus::EsmeRok, self.sequence, pdu);
        tokio::time::timeout(WAIT, self.framed.send(command))
            .await
            .expect("send timed out")
            .unwrap();
        let resp = self.next_response().await;
        assert_eq!(resp.sequence_number(), self.sequence, "{resp:?}");
        resp
    }

    /// submit_sm asking for a receipt; the id it was given.
    async fn submit(&mut self, text: &str) -> String {
        let submit = SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr_npi(Npi::Unknown)
            .source_addr(c("Acme"))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c("31612345678"))
            .esm_class(EsmClass::from(0))
            .registered_delivery(RegisteredDelivery::from(1))
            .data_coding(DataCoding::McSpecific)
            .short_message(OctetString::from_slice(text.as_bytes()).unwrap())
            .build();
        let resp = self.request(submit).await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        let Some(Pdu::SubmitSmResp(body)) = resp.pdu() else {
            panic!("not a submit_sm_resp: {resp:?}");
        };
        body.message_id().as_str().to_owned()
    }

    /// Read receipts until `count` came, then a moment more (none other may come).
    async fn receipts(&mut self, count: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + WAIT;
        while self.receipts.len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} receipts in {WAIT:?}",
                self.receipts.len()
            );
            let command = self.next().await;
            if !self.receipt(&command).await && command.id() == CommandId::EnquireLink {
                let resp = Pdus::new(
                    CommandStatus::EsmeRok,
                    command.sequence_number(),
                    Pdu::EnquireLinkResp,
                );
                self.framed.send(resp).await.unwrap();
            }
        }
        if let Ok(Some(Ok(command))) =
            tokio::time::timeout(Duration::from_millis(1500), self.framed.next()).await
        {
            assert!(!self.receipt(&command).await, "one receipt too many");
        }
        self.receipts.clone()
    }
}

/// HTTP reports received by reference: every report id of each; each must say delivered.
fn reports_by_reference(receiver: &WebhookReceiver) -> HashMap<String, BTreeSet<String>> {
    let mut by_reference: HashMap<String, BTreeSet<String>> = HashMap::new();
    for request in receiver.received() {
        let msg = &request.json()["messages"]["msg"];
        assert_eq!(msg["status"]["code"], "2", "{msg}");
        by_reference
            .entry(msg["reference"].as_str().unwrap().to_owned())
            .or_default()
            .insert(msg["reportId"].as_str().unwrap().to_owned());
    }
    by_reference
}

/// Wait until the HTTP reports of `count` messages came, then a moment more; each message has
/// one report (a redelivery with the same report id counts once).
async fn assert_reported_once(receiver: &WebhookReceiver, count: usize) {
    let deadline = Instant::now() + WAIT;
    while reports_by_reference(receiver).len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages reported in {WAIT:?}",
            reports_by_reference(receiver).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let reports = reports_by_reference(receiver);
    assert_eq!(reports.len(), count);
    for (reference, ids) in &reports {
        assert_eq!(ids.len(), 1, "{reference}: {ids:?}");
    }
}

/// A fresh database with account `acme` reporting to a receiver; a directory for the nodes; the
/// receiver; acme's product token.
async fn gateway_database() -> (String, tempfile::TempDir, WebhookReceiver, String) {
    let url = PgCluster::shared().create_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let created = tern(&[
        "account",
        "create",
        "--database-url",
        &url,
        "--name",
        "acme",
        "--status-url",
        &receiver.url,
    ]);
    let token = created.lines().last().expect("a token").trim().to_owned();
    (url, dir, receiver, token)
}

#[tokio::test]
async fn three_nodes_hold_an_smpp_connectors_binds_together_and_report_each_message_once() {
    let (url, dir, receiver, token) = gateway_database().await;
    // An SMPP account for each node's client.
    let logins = [("smpp-a", "pw-a"), ("smpp-b", "pw-b"), ("smpp-c", "pw-c")];
    for (system_id, password) in logins {
        tern(&[
            "account",
            "create",
            "--database-url",
            &url,
            "--name",
            system_id,
            "--smpp-system-id",
            system_id,
            "--smpp-password",
            password,
        ]);
    }
    // The SMSC is not up while the nodes start: before they know of each other, a node alone
    // would bind every session (rightly), and the SMSC counts every bind it ever accepted.
    let port = tern_testkit::unused_port();
    let nodes: Vec<(Gateway, PathBuf)> = std::thread::scope(|scope| {
        let started: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|name| scope.spawn(|| node(&url, dir.path(), name, port)))
            .collect();
        started
            .into_iter()
            .map(|node| node.join().unwrap())
            .collect()
    });
    // Sorted by name, a and b hold a bind (and half the rate) each, c none.
    wait_for_share(
        &nodes[0].1,
        &["binds=1", "max_submits_per_sec=500", "nodes=3"],
    )
    .await;
    wait_for_share(
        &nodes[1].1,
        &["binds=1", "max_submits_per_sec=500", "nodes=3"],
    )
    .await;
    wait_for_share(&nodes[2].1, &["binds=0", "nodes=3"]).await;
    let sim = SmscSim::start_at(
        "system_id = \"acme\"\npassword = \"secret\"\nreceipt_delay_ms = 0\n",
        &format!("127.0.0.1:{port}"),
    )
    .await;
    wait_for_line(&nodes[0].1, &["connector bound", "op-a", "trx1"]).await;
    wait_for_line(&nodes[1].1, &["connector bound", "op-a", "trx1"]).await;

    // Submissions spread over the three nodes: over HTTP, and over SMPP from a client bound to
    // each node.
    let http = tern_testkit::http_client();
    for n in 0..30 {
        submit_http(&http, &nodes[n % 3].0, &token, &format!("r{n}")).await;
    }
    let mut clients = Vec::new();
    let mut submitted = Vec::new();
    for ((gateway, _), (system_id, password)) in nodes.iter().zip(logins) {
        let mut client = SmppClient::bound(gateway, system_id, password).await;
        let mut ids = BTreeSet::new();
        for n in 0..10 {
            ids.insert(client.submit(&format!("{system_id} {n}")).await);
        }
        clients.push(client);
        submitted.push(ids);
    }
    assert_reported_once(&receiver, 30).await;
    // Each client gets a receipt of each of its own messages, on the node it is bound to, once.
    for (client, ids) in clients.iter_mut().zip(&submitted) {
        let receipts = client.receipts(10).await;
        let got: BTreeSet<String> = receipts.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(&got, ids, "{receipts:?}");
        assert!(
            receipts.iter().all(|(_, stat)| stat == "DELIVRD"),
            "{receipts:?}"
        );
    }
    let stats = sim.stats().await;
    assert_eq!(
        (&stats["binds"], &stats["submits"], &stats["receipts"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(60),
            &serde_json::json!(60)
        ),
        "{stats}"
    );
    // Node c sent nothing itself: it gave its messages back to the others.
    assert!(
        !std::fs::read_to_string(&nodes[2].1)
            .unwrap()
            .contains("connector bound"),
        "node c bound a session"
    );

    // Node a is killed: once its heartbeat is older than lease_secs, b and c share the binds,
    // c binding the one a held.
    drop(clients);
    let mut nodes = nodes.into_iter();
    let (a, _) = nodes.next().unwrap();
    let (b, b_log) = nodes.next().unwrap();
    let (c, c_log) = nodes.next().unwrap();
    a.kill();
    wait_for_share(&c_log, &["binds=1", "max_submits_per_sec=500", "nodes=2"]).await;
    wait_for_line(&c_log, &["connector bound", "op-a", "trx1"]).await;
    assert!(last_share(&b_log).contains("binds=1"));
    for n in 30..40 {
        let node = if n % 2 == 0 { &b } else { &c };
        submit_http(&http, node, &token, &format!("r{n}")).await;
    }
    assert_reported_once(&receiver, 40).await;
    let stats = sim.stats().await;
    assert_eq!(
        (&stats["binds"], &stats["submits"], &stats["receipts"]),
        (
            &serde_json::json!(3),
            &serde_json::json!(70),
            &serde_json::json!(70)
        ),
        "{stats}"
    );

    // Node a comes back: c gives its bind up at once, a binds once it has waited for that.
    let (a, a_log) = node(&url, dir.path(), "a", port);
    wait_for_share(&c_log, &["binds=0", "nodes=3"]).await;
    wait_for_line(&a_log, &["connector bound", "op-a", "trx1"]).await;
    for n in 40..50 {
        let node = [&a, &b, &c][n % 3];
        submit_http(&http, node, &token, &format!("r{n}")).await;
    }
    assert_reported_once(&receiver, 50).await;
    let stats = sim.stats().await;
    assert_eq!(
        (&stats["binds"], &stats["submits"], &stats["receipts"]),
        (
            &serde_json::json!(4),
            &serde_json::json!(80),
            &serde_json::json!(80)
        ),
        "{stats}"
    );
    // Bound now: a's and b's sessions, c's is gone.
    let (status, dropped) = sim.post("/disconnect", serde_json::json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(dropped["bound_sessions"], 2, "{dropped}");
    for (node, log) in [(a, &a_log), (b, &b_log), (c, &c_log)] {
        stop(node, log);
    }
}

/// Send a signal (`STOP`, `CONT`) to `gateway`'s process.
fn signal(gateway: &Gateway, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &gateway.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name}");
}

#[tokio::test]
async fn a_node_stalled_past_its_lease_sends_nothing_the_others_took_over() {
    let (url, dir, receiver, token) = gateway_database().await;
    let sim =
        SmscSim::start("system_id = \"acme\"\npassword = \"secret\"\nreceipt_delay_ms = 0\n").await;
    // Claims leased for a minute: here it is the node's lease (3 s) that runs out.
    let config = |name: &str| {
        format!(
            "[cluster]\nnode_id = \"{name}\"\nlease_secs = 3\nheartbeat_secs = 1\n\
             [status_reports]\ninitial_backoff_ms = 100\nmax_backoff_ms = 500\n\
             [[connector]]\nname = \"op-a\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {}\n\
             system_id = \"acme\"\npassword = \"secret\"\nbinds = 2\nmax_submits_per_sec = 1000\n\
             reconnect_min_ms = 100\nreconnect_max_ms = 300\n\
             [[route]]\nconnector = \"op-a\"\n",
            sim.smpp.port()
        )
    };
    let (a, a_log) = node_with(&url, dir.path(), "a", &config("a"));
    wait_for_line(&a_log, &["connector bound", "op-a"]).await;

    // The SMSC throttles: node a claims the 20 messages, and its sends wait, retrying.
    let (status, _) = sim
        .post("/throttle", serde_json::json!({"seconds": 60}))
        .await;
    assert_eq!(status, 200);
    let msgs: Vec<String> = (0..20)
        .map(|n| {
            format!(
                r#"{{"from":"Tern","to":[{{"number":"00316123456{n:02}"}}],"body":{{"content":"hi"}},"reference":"r{n}"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{}]}}}}"#,
        msgs.join(",")
    );
    let submitted = Instant::now();
    let response = tern_testkit::http_client()
        .post(a.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body)
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    wait_for_line(&a_log, &["SMSC throttling"]).await;

    // Node b joins; a stalls (SIGSTOP) until b has taken its work over, then goes on.
    let (b, b_log) = node_with(&url, dir.path(), "b", &config("b"));
    wait_for_line(&b_log, &["live nodes", "a,b"]).await;
    signal(&a, "STOP");
    wait_for_line(&b_log, &["its work was taken over", "node=a"]).await;
    signal(&a, "CONT");
    // The sends a was making when it stalled are still within the connector's budget (20 s):
    // without the lease check, they would go out once the SMSC takes submits again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        submitted.elapsed() < Duration::from_secs(14),
        "too slow to show anything: {:?} since the submission",
        submitted.elapsed()
    );
    let (status, _) = sim
        .post("/throttle", serde_json::json!({"seconds": 0}))
        .await;
    assert_eq!(status, 200);

    // Every message is reported once, submitted once; a gave back what it still held.
    assert_reported_once(&receiver, 20).await;
    tokio::time::sleep(Duration::from_millis(6000)).await;
    let stats = sim.stats().await;
    assert_eq!(stats["submits"], serde_json::json!(20), "{stats}");
    assert_eq!(reports_by_reference(&receiver).len(), 20);
    wait_for_line(&a_log, &["lease ran short before it was sent"]).await;
    stop(a, &a_log);
    stop(b, &b_log);
}
