//! PostgreSQL failing under running nodes (issue 15's "Failure"): while the database is down,
//! every submission is answered — CM's 500 with its JSON error body over HTTP, ESME_RMSGQFUL over
//! SMPP — within 35 seconds, never left hanging, and `/ready` answers 503; when it is back the
//! nodes carry on by themselves, and every message answered Accepted, before, during or after
//! the outage, is reported exactly once. Each test starts a cluster of its own, since it kills it.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tern_testkit::postgres::PgCluster;
use tern_testkit::{Gateway, WebhookReceiver, http_client};

/// The spec's answer to a request whose outcome the gateway cannot tell (the store failed).
fn unknown_error() -> Value {
    json!({"details": "Unknown Error", "errorCode": 999, "messages": []})
}

/// Within this long a submission is answered whatever the database does.
const ANSWER_WITHIN: Duration = Duration::from_secs(35);

/// Nodes of one gateway: heartbeats and leases short enough for a test.
const CLUSTER_CONFIG: &str = "[simulator]\ndefault_delay_ms = 20\n[cluster]\nlease_secs = 3\nheartbeat_secs = 1\n[dispatch]\nlease_secs = 3\n[status_reports]\ninitial_backoff_ms = 100\nmax_backoff_ms = 500\n";

/// A node of a gateway on `url` with a data directory of its own (it holds no messages).
fn node(url: &str, dir: &std::path::Path, name: &str) -> Gateway {
    crate::postgres::node(url, dir, name, CLUSTER_CONFIG)
}

/// An account on `url` whose reports go to `receiver`, with SMPP credentials tern1/secret1; its
/// token.
fn account_on(url: &str, receiver: &WebhookReceiver) -> String {
    crate::postgres::account_on_with(
        url,
        receiver,
        &["--smpp-system-id", "tern1", "--smpp-password", "secret1"],
    )
}

/// One submission's answer: when it was sent, how long it took, its status (0: no answer at
/// all) and body.
#[derive(Debug, Clone)]
struct Answer {
    reference: String,
    sent: Instant,
    took: Duration,
    status: u16,
    body: Value,
}

/// Submit one message with `reference` to the JSON endpoint at `endpoint`.
async fn submit(client: &reqwest::Client, endpoint: &str, token: &str, reference: &str) -> Answer {
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}},"reference":"{reference}"}}]}}}}"#
    );
    let sent = Instant::now();
    let response = client
        .post(endpoint)
        .header("content-type", "application/json")
        .body(body)
        .timeout(ANSWER_WITHIN + Duration::from_secs(5))
        .send()
        .await;
    let (status, body) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let body = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{reference}: answer not JSON ({status}): {text}"));
            (status, body)
        }
        Err(_) => (0, Value::Null),
    };
    Answer {
        reference: reference.to_owned(),
        sent,
        took: sent.elapsed(),
        status,
        body,
    }
}

/// `/ready` of `gateway`: status and body.
async fn ready(client: &reqwest::Client, gateway: &Gateway) -> (u16, String) {
    let response = client
        .get(gateway.url("/ready"))
        .timeout(ANSWER_WITHIN)
        .send()
        .await
        .expect("/ready answers");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// Submitters, one per endpoint, each sending one message after the other (a short pause
/// between) until stopped; every answer recorded.
struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(endpoints: Vec<String>, token: &str) -> Load {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = endpoints
            .into_iter()
            .enumerate()
            .map(|(index, endpoint)| {
                let (answers, stop, token) = (answers.clone(), stop.clone(), token.to_owned());
                tokio::spawn(async move {
                    let client = http_client();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let answer =
                            submit(&client, &endpoint, &token, &format!("n{index}-{n}")).await;
                        answers.lock().unwrap().push(answer);
                        n += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            })
            .collect();
        Load {
            answers,
            stop,
            tasks,
        }
    }

    fn answers(&self) -> Vec<Answer> {
        self.answers.lock().unwrap().clone()
    }

    /// Wait until `enough` holds for the answers so far, at most `limit` (else fail, saying
    /// `what`).
    async fn wait(&self, what: &str, limit: Duration, enough: impl Fn(&[Answer]) -> bool) {
        let deadline = Instant::now() + limit;
        while !enough(&self.answers()) {
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}; answers: {:#?}",
                self.answers()
                    .iter()
                    .rev()
                    .take(10)
                    .map(|a| (&a.reference, a.status, a.took))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a submitter panicked");
        }
        self.answers.lock().unwrap().clone()
    }
}

/// How many of `answers` of submitter `index` (references `n{index}-…`) were sent after `since`
/// and answered `status`.
fn count(answers: &[Answer], index: usize, since: Instant, status: u16) -> usize {
    answers
        .iter()
        .filter(|a| a.reference.starts_with(&format!("n{index}-")))
        .filter(|a| a.sent >= since && a.status == status)
        .count()
}

/// Run a blocking operation on the cluster (pg_ctl) without stalling the submitters.
async fn on_cluster(cluster: &Arc<PgCluster>, operation: fn(&PgCluster)) {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || operation(&cluster))
        .await
        .expect("cluster operation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_the_nodes_answer_500_then_recover_losing_nothing() {
    let cluster = Arc::new(PgCluster::start());
    let url = cluster.create_database();
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let token = account_on(&url, &receiver);
    let nodes = [node(&url, dir.path(), "a"), node(&url, dir.path(), "b")];
    let client = http_client();
    let load = Load::start(
        nodes.iter().map(|n| n.url("/v1.0/message")).collect(),
        &token,
    );
    let started = Instant::now();
    load.wait(
        "accepted submissions on both nodes",
        Duration::from_secs(30),
        |a| (0..2).all(|i| count(a, i, started, 200) >= 20),
    )
    .await;

    // The database goes away (as a crash: no shutdown). Requests in flight fail from the moment
    // it starts.
    let killed = Instant::now();
    on_cluster(&cluster, PgCluster::kill).await;
    // /ready says so on both nodes (a probe's outcome is reused for a second).
    for gateway in &nodes {
        loop {
            let (status, body) = ready(&client, gateway).await;
            if status == 503 {
                assert!(
                    body.starts_with("not ready: the store does not accept writes: "),
                    "{body}"
                );
                break;
            }
            assert_eq!(status, 200, "{body}");
            assert!(
                killed.elapsed() < Duration::from_secs(5),
                "/ready still 200 {:?} after the kill",
                killed.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let not_ready_after = killed.elapsed();
    // Submissions sent while it is down are refused, on both nodes, two in a row on each.
    load.wait(
        "refused submissions on both nodes",
        Duration::from_secs(90),
        |a| (0..2).all(|i| count(a, i, killed, 500) >= 2),
    )
    .await;
    let (status, body) = ready(&client, &nodes[0]).await;
    assert_eq!(status, 503, "{body}");
    // The GET surface answers as the spec does for an unknown error (a message it does not
    // report: `get-` references are outside the submitters').
    let sent = Instant::now();
    let response = http_client()
        .get(nodes[1].url(&format!(
            "/gateway.ashx?producttoken={token}&body=x&to=0031612345678&from=Tern&reference=get-1"
        )))
        .timeout(ANSWER_WITHIN)
        .send()
        .await
        .expect("GET answered within 35 s");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "Error: ERROR Unknown error");
    let get_took = sent.elapsed();
    // Many requests of one account at once (their account lookups take turns) are each answered
    // within the bound too, not one bound after the other.
    let at_once: Vec<_> = (0..8)
        .map(|n| {
            let (endpoint, token) = (nodes[0].url("/v1.0/message"), token.clone());
            tokio::spawn(async move {
                submit(&http_client(), &endpoint, &token, &format!("once-{n}")).await
            })
        })
        .collect();
    let mut at_once_took = Vec::new();
    for task in at_once {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(answer.body, unknown_error());
        assert!(answer.took < ANSWER_WITHIN, "{answer:?}");
        at_once_took.push(answer.took);
    }

    // The database comes back; nobody touches the nodes.
    on_cluster(&cluster, PgCluster::restart).await;
    on_cluster(&cluster, |cluster| {
        cluster.wait_ready(Duration::from_secs(30))
    })
    .await;
    let restarted = Instant::now();
    load.wait(
        "accepted submissions on both nodes after the restart",
        Duration::from_secs(60),
        |a| (0..2).all(|i| count(a, i, restarted, 200) >= 20),
    )
    .await;
    let answers = load.stop().await;

    // What the submitters saw: Accepted, or the spec's 500 while the database was down, each
    // answered within 35 seconds.
    let mut accepted = HashSet::new();
    let mut refused = HashSet::new();
    for answer in &answers {
        assert!(
            answer.took < ANSWER_WITHIN,
            "{} answered after {:?}",
            answer.reference,
            answer.took
        );
        match answer.status {
            200 => {
                assert_eq!(answer.body["errorCode"], 0, "{:?}", answer);
                assert_eq!(answer.body["messages"][0]["status"], "Accepted");
                accepted.insert(answer.reference.clone());
            }
            500 => {
                assert_eq!(answer.body, unknown_error(), "{}", answer.reference);
                assert!(
                    answer.sent + answer.took >= killed && answer.sent < restarted,
                    "{} refused outside the outage: sent {:?} after the kill, answered after {:?}, \
                     the restart {:?} after the kill",
                    answer.reference,
                    answer.sent.saturating_duration_since(killed),
                    answer.took,
                    restarted - killed
                );
                refused.insert(answer.reference.clone());
            }
            status => panic!("{} answered {status}: {}", answer.reference, answer.body),
        }
    }
    let refused_took: Vec<Duration> = answers
        .iter()
        .filter(|a| a.status == 500)
        .map(|a| a.took)
        .collect();
    let first_accepted_after: Vec<Duration> = (0..2)
        .map(|i| {
            answers
                .iter()
                .filter(|a| a.reference.starts_with(&format!("n{i}-")))
                .filter(|a| a.status == 200 && a.sent + a.took >= restarted)
                .map(|a| a.sent + a.took - restarted)
                .min()
                .unwrap()
        })
        .collect();
    eprintln!(
        "accepted {}, refused {} (answered after {refused_took:?}, GET after {get_took:?}, 8 at once after {at_once_took:?}); \
         /ready 503 {not_ready_after:?} after the kill; first accepted {first_accepted_after:?} \
         after PostgreSQL accepted connections again",
        accepted.len(),
        refused.len()
    );

    // Every message answered Accepted is reported exactly once (one report id each). A message
    // answered 500 may still have been committed (the server died between its commit and the
    // answer): it is reported once too, or not at all.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reported: HashSet<String> = receiver
            .received()
            .iter()
            .map(|r| {
                r.json()["messages"]["msg"]["reference"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        if accepted.is_subset(&reported) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reported: {:?}",
            accepted.difference(&reported).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reported: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["messages"]["msg"]["reference"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let unexpected: Vec<&String> = reported
        .iter()
        .filter(|r| !accepted.contains(*r) && !refused.contains(*r))
        .collect();
    assert!(
        unexpected.is_empty(),
        "reported, never submitted: {unexpected:?}"
    );
    let committed_though_refused = reported.len() - accepted.len();
    eprintln!("answered 500 but committed (reported once): {committed_though_refused}");
    crate::assert_each_reported_once(&receiver, reported.len(), "2").await;

    // Every node's log shows every accepted message once, delivered.
    for gateway in &nodes {
        let response = client
            .get(gateway.url("/v1.0/messages?limit=1000"))
            .header("X-CM-PRODUCTTOKEN", &token)
            .send()
            .await
            .unwrap();
        let log: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert!(log["next"].is_null(), "more than one page");
        let mut logged: HashMap<String, String> = HashMap::new();
        for message in log["messages"].as_array().unwrap() {
            let reference = message["reference"].as_str().unwrap().to_owned();
            let status = message["status"].as_str().unwrap().to_owned();
            assert!(
                logged.insert(reference.clone(), status).is_none(),
                "{reference} twice"
            );
        }
        assert_eq!(
            logged.keys().cloned().collect::<HashSet<_>>(),
            reported,
            "the log holds what was reported"
        );
        assert!(logged.values().all(|s| s == "delivered"), "{logged:?}");
        let (status, body) = ready(&client, gateway).await;
        assert_eq!((status, body.as_str()), (200, "ready"));
    }
    for gateway in nodes {
        assert!(gateway.stop().success());
    }
}

/// A PDU with this header and body (command_length computed).
fn pdu(command_id: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The next PDU (a read timeout, or a closed connection, fails the test).
fn read_pdu(stream: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).expect("a PDU");
    let mut rest = vec![0u8; u32::from_be_bytes(length) as usize - 4];
    stream.read_exact(&mut rest).expect("the rest of a PDU");
    let mut whole = length.to_vec();
    whole.extend(rest);
    whole
}

/// A submit_sm to +31612345678 with a short text.
fn submit_sm_body() -> Vec<u8> {
    let mut body = vec![0, 5, 0];
    body.extend_from_slice(b"Tern\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"31612345678\0");
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0]);
    body.push(2);
    body.extend_from_slice(b"hi");
    body
}

/// submit_sm `sequence` on `stream`: its command_status and how long it took.
fn submit_sm(stream: &mut TcpStream, sequence: u32) -> (u32, Duration) {
    let sent = Instant::now();
    stream
        .write_all(&pdu(4, sequence, &submit_sm_body()))
        .unwrap();
    let resp = read_pdu(stream);
    assert_eq!(resp[4..8], [0x80, 0, 0, 4], "{resp:?}");
    assert_eq!(resp[12..16], sequence.to_be_bytes());
    (
        u32::from_be_bytes(resp[8..12].try_into().unwrap()),
        sent.elapsed(),
    )
}

#[test]
fn submit_sm_while_postgres_is_down_is_esme_rmsgqful_and_the_session_carries_on() {
    let cluster = PgCluster::start();
    let url = cluster.create_database();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(WebhookReceiver::start());
    let token = account_on(&url, &receiver);
    let gateway = node(&url, dir.path(), "a");
    let mut stream = TcpStream::connect(gateway.smpp_addr.unwrap()).unwrap();
    stream
        .set_read_timeout(Some(ANSWER_WITHIN + Duration::from_secs(5)))
        .unwrap();
    // bind_transmitter tern1/secret1.
    let mut bind = b"tern1\0secret1\0".to_vec();
    bind.extend_from_slice(&[0, 0x34, 0, 0, 0]);
    stream.write_all(&pdu(2, 1, &bind)).unwrap();
    let resp = read_pdu(&mut stream);
    assert_eq!(resp[4..12], [0x80, 0, 0, 2, 0, 0, 0, 0], "{resp:?}");
    assert_eq!(submit_sm(&mut stream, 2).0, 0, "ESME_ROK before the outage");

    cluster.kill();
    let (status, took) = submit_sm(&mut stream, 3);
    assert_eq!(status, 0x14, "ESME_RMSGQFUL while PostgreSQL is down");
    assert!(took < ANSWER_WITHIN, "answered after {took:?}");
    let (status, again) = submit_sm(&mut stream, 4);
    assert_eq!(status, 0x14, "ESME_RMSGQFUL while PostgreSQL is down");
    assert!(again < ANSWER_WITHIN, "answered after {again:?}");
    // The session still answers.
    stream.write_all(&pdu(0x15, 5, &[])).unwrap();
    let resp = read_pdu(&mut stream);
    assert_eq!(
        resp,
        [0, 0, 0, 16, 0x80, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 5]
    );

    cluster.restart();
    cluster.wait_ready(Duration::from_secs(30));
    let restarted = Instant::now();
    let mut sequence = 6;
    loop {
        let (status, _) = submit_sm(&mut stream, sequence);
        if status == 0 {
            break;
        }
        assert_eq!(status, 0x14);
        assert!(
            restarted.elapsed() < Duration::from_secs(60),
            "still refused {:?} after the restart",
            restarted.elapsed()
        );
        sequence += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "ESME_RMSGQFUL after {took:?} and {again:?}; ESME_ROK again {:?} after PostgreSQL accepted \
         connections",
        restarted.elapsed()
    );
    // The two messages acknowledged are stored, and nothing else.
    let log: Value = runtime.block_on(async {
        let response = http_client()
            .get(gateway.url("/v1.0/messages?limit=1000"))
            .header("X-CM-PRODUCTTOKEN", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    });
    assert_eq!(log["messages"].as_array().unwrap().len(), 2, "{log}");
    gateway.kill();
}
