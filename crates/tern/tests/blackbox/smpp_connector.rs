//! The SMPP client connector, black-box: a gateway whose SMS route is a `[[connector]]` of kind
//! `smpp` bound to `tern smsc-sim` (both spawned on loopback), submissions over HTTP, status
//! reports on a local webhook. Reports are counted exactly: one per status change of a message,
//! none twice, whatever the SMSC does to the sessions.

use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::smsc_sim::SmscSim;
use crate::{Setup, TERN};

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(20);

/// The simulator's configuration: one account, receipts at once (or after `delay_ms`).
pub(crate) fn sim_config(delay_ms: u64, extra: &str) -> String {
    format!("system_id = \"acme\"\npassword = \"secret\"\nreceipt_delay_ms = {delay_ms}\n{extra}")
}

/// A `[[connector]]` of kind smpp named `name` to `port`, with `extra` settings.
pub(crate) fn connector(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[[connector]]\nname = \"{name}\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         system_id = \"acme\"\npassword = \"secret\"\nreconnect_min_ms = 100\nreconnect_max_ms = 400\n{extra}\n"
    )
}

/// A gateway logging at info (connector state changes) with `config`, and one account whose
/// status reports go to a local receiver.
async fn setup(config: Option<&str>, account_args: &[&str], _receiver: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let mut args: Vec<&str> = vec!["--name", "acme", "--status-url", receiver.url.as_str()];
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start_logged_at(TERN, &data_dir, config, Some("info"));
    Setup {
        gateway,
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    }
}

/// A gateway whose every SMS goes over connector `op-a` (with `extra` settings) to `sim`, once
/// the connector is bound.
async fn routed_to(sim: &SmscSim, extra: &str) -> Setup {
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n",
        connector("op-a", sim.smpp.port(), extra)
    );
    let setup = setup(Some(&config), &[], true).await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "op-a"], WAIT)
        .await;
    setup
}

/// Submit JSON `msgs` for the setup's account; the response must be 200.
async fn submit(setup: &Setup, msgs: Value) -> Value {
    let (status, response) = setup.post_json(&setup.request(&msgs.to_string())).await;
    assert_eq!(status, 200, "{response}");
    response
}

pub(crate) fn sms(to: &str, body: &str, reference: &str) -> Value {
    json!({"from": "Tern", "to": [{"number": to}], "body": {"content": body, "type": "AUTO"},
           "reference": reference})
}

/// The (reference, status code) of every report received, in order.
fn reports(receiver: &WebhookReceiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|request| {
            let msg = &request.json()["messages"]["msg"];
            (
                msg["reference"].as_str().unwrap_or_default().to_owned(),
                msg["status"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// Wait until `count` reports arrived; then a moment more to see that no other comes.
pub(crate) async fn wait_reports(
    receiver: &WebhookReceiver,
    count: usize,
) -> Vec<(String, String)> {
    receiver.wait_for(count, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got = reports(receiver);
    got.sort();
    got
}

#[tokio::test]
async fn gsm_ucs2_and_multipart_go_through_the_smsc_with_one_report_each() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let setup = routed_to(&sim, "").await;
    let long = "a".repeat(200);
    let response = submit(
        &setup,
        json!([
            sms("0031612345678", "hello @ there", "gsm"),
            sms("0031612345679", "Привет, мир", "ucs2"),
            sms("0031612345670", &long, "long"),
        ]),
    )
    .await;
    assert_eq!(response["messages"][2]["parts"], 2, "{response}");
    let receiver = setup.receiver.as_ref().unwrap();
    assert_eq!(
        wait_reports(receiver, 3).await,
        vec![
            ("gsm".into(), "2".into()),
            ("long".into(), "2".into()),
            ("ucs2".into(), "2".into()),
        ]
    );
    let stats = sim.stats().await;
    assert_eq!(
        (&stats["submits"], &stats["receipts"]),
        (&json!(4), &json!(4)),
        "{stats}"
    );
    // The log names the connector that carried each message and the SMSC's id of each part
    // (the simulator's ids: 16 hex digits).
    let log = setup.log("?limit=10").await;
    for message in log["messages"].as_array().unwrap() {
        assert_eq!(message["status"], "delivered", "{message}");
        let sends = message["sends"].as_array().unwrap();
        assert_eq!(sends.len(), 1, "{message}");
        assert_eq!(
            (&sends[0]["attempt"], &sends[0]["connector"]),
            (&json!(1), &json!("op-a"))
        );
        let ids = sends[0]["externalIds"].as_array().unwrap();
        assert_eq!(
            ids.len() as u64,
            message["parts"].as_u64().unwrap(),
            "{message}"
        );
        assert!(
            ids.iter().all(|id| id.as_str().unwrap().len() == 16),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_throttling_smsc_slows_the_connector_down_and_loses_nothing() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let setup = routed_to(&sim, "").await;
    let (status, _) = sim.post("/throttle", json!({"seconds": 1})).await;
    assert_eq!(status, 200);
    let msgs: Vec<Value> = (0..5)
        .map(|index| sms(&format!("003161234560{index}"), "hi", &format!("r{index}")))
        .collect();
    submit(&setup, Value::Array(msgs)).await;
    let receiver = setup.receiver.as_ref().unwrap();
    let got = wait_reports(receiver, 5).await;
    assert_eq!(
        got,
        (0..5)
            .map(|index| (format!("r{index}"), "2".to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(sim.stats().await["receipts"], 5);
    setup
        .gateway
        .wait_for_log(&["SMSC throttling; slowing down"], WAIT)
        .await;
}

#[tokio::test]
async fn an_smsc_that_drops_its_sessions_with_submits_outstanding_loses_nothing() {
    // Receipts come late, so the drop finds every message sent and awaiting them.
    let sim = SmscSim::start(&sim_config(1500, "")).await;
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n",
        connector("op-a", sim.smpp.port(), "binds = 2")
    );
    let setup = setup(Some(&config), &[], true).await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "trx2"], WAIT)
        .await;
    let msgs: Vec<Value> = (0..20)
        .map(|index| {
            sms(
                &format!("00316123456{index:02}"),
                "hi",
                &format!("r{index:02}"),
            )
        })
        .collect();
    submit(&setup, Value::Array(msgs)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = sim.post("/disconnect", json!({})).await;
    assert_eq!(status, 200);
    setup
        .gateway
        .wait_for_log(&["connector lost", "connection closed by the SMSC"], WAIT)
        .await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "trx1"], WAIT)
        .await;
    let receiver = setup.receiver.as_ref().unwrap();
    let got = wait_reports(receiver, 20).await;
    assert_eq!(
        got,
        (0..20)
            .map(|index| (format!("r{index:02}"), "2".to_owned()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn failover_carries_the_messages_while_the_first_connector_is_down() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    // Nothing listens on the first connector's port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = format!(
        "{}{}[[route]]\nconnector = \"op-a\"\nfailover = [\"op-b\"]\n",
        connector("op-a", closed_port, ""),
        connector("op-b", sim.smpp.port(), "")
    );
    let setup = setup(Some(&config), &[], true).await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "op-b"], WAIT)
        .await;
    submit(&setup, json!([sms("0031612345678", "hi", "r1")])).await;
    let receiver = setup.receiver.as_ref().unwrap();
    assert_eq!(
        wait_reports(receiver, 1).await,
        vec![("r1".into(), "2".into())]
    );
    let log = setup.gateway.log();
    assert!(
        log.contains("connector reconnecting") && log.contains("op-a"),
        "{log}"
    );
}

#[tokio::test]
async fn an_undeliverable_receipt_fails_the_message_with_its_error_code() {
    let rules = "[[rule]]\nto_prefix = \"3161\"\noutcome = \"failed\"\nerror_code = 24\n";
    let sim = SmscSim::start(&sim_config(0, rules)).await;
    let setup = routed_to(&sim, "").await;
    submit(&setup, json!([sms("0031612345678", "hi", "r1")])).await;
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.wait_for(1, WAIT).await;
    let report = &receiver.received()[0].json()["messages"]["msg"];
    assert_eq!(report["status"]["code"], "3", "{report}");
    assert_eq!(report["status"]["errorCode"], "24", "{report}");
}

#[tokio::test]
async fn a_gateway_killed_with_messages_in_flight_to_the_smsc_loses_none_and_reports_each_once() {
    // Receipts come a while after the submits, so the kill finds messages sent, awaiting them.
    let sim = SmscSim::start(&sim_config(800, "")).await;
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n",
        connector(
            "op-a",
            sim.smpp.port(),
            "window = 4\nmax_submits_per_sec = 200"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    gateway
        .wait_for_log(&["connector bound", "op-a"], WAIT)
        .await;
    let msgs: Vec<Value> = (0..60)
        .map(|index| {
            sms(
                &format!("00316123456{index:02}"),
                "hi",
                &format!("r{index:02}"),
            )
        })
        .collect();
    let body = json!({"messages": {"authentication": {"producttoken": token}, "msg": msgs}});
    let response = http_client()
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Killed once some (not all) were submitted: at 200 parts/s the 60 take 300 ms.
    let deadline = std::time::Instant::now() + WAIT;
    while sim.stats().await["submits"].as_u64().unwrap() < 10 {
        assert!(std::time::Instant::now() < deadline, "nothing submitted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.kill();
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    gateway
        .wait_for_log(&["connector bound", "op-a"], WAIT)
        .await;
    receiver.wait_for(60, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut got = reports(&receiver);
    got.sort();
    assert_eq!(
        got,
        (0..60)
            .map(|index| (format!("r{index:02}"), "2".to_owned()))
            .collect::<Vec<_>>()
    );
    drop(gateway);
}

#[tokio::test]
async fn a_transmitter_receiver_pair_submits_on_one_session_and_takes_receipts_on_the_other() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n",
        connector("op-a", sim.smpp.port(), "bind = \"transmitter-receiver\"")
    );
    let setup = setup(Some(&config), &[], true).await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "rx1", "Receiver"], WAIT)
        .await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "tx1", "Transmitter"], WAIT)
        .await;
    submit(&setup, json!([sms("0031612345678", "hi", "r1")])).await;
    let receiver = setup.receiver.as_ref().unwrap();
    assert_eq!(
        wait_reports(receiver, 1).await,
        vec![("r1".into(), "2".into())]
    );
    assert_eq!(sim.stats().await["binds"], 2);
}

#[tokio::test]
async fn a_connector_over_tls_to_another_tern_gets_its_receipts_as_reports() {
    // The upstream: a Tern whose SMPP server listens over TLS (a self-signed certificate for
    // localhost), its messages delivered by its simulator, receipts in CM's format.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let upstream_config = format!(
        "[smpp]\ntls_addr = \"127.0.0.1:0\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let upstream = crate::smpp::smpp_setup(Some(&upstream_config), &[]);
    let tls_port = upstream.gateway.smpp_tls_addr.unwrap().port();
    // Tern's connector to it: the CA file is given relative to the configuration file, which
    // the test setup writes beside the data directory (the temporary directory's root).
    let config = format!(
        "[[connector]]\nname = \"upstream\"\nkind = \"smpp\"\nhost = \"localhost\"\nport = {tls_port}\n\
         tls = true\ntls_ca_file = \"ca.pem\"\nsystem_id = \"tern1\"\npassword = \"secret1\"\n\n\
         [[route]]\nconnector = \"upstream\"\n"
    );
    let setup_dir = tempfile::tempdir().unwrap();
    std::fs::write(setup_dir.path().join("ca.pem"), certified.cert.pem()).unwrap();
    let data_dir = setup_dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    gateway
        .wait_for_log(&["connector bound", "upstream"], WAIT)
        .await;
    let body = json!({"messages": {"authentication": {"producttoken": token},
        "msg": [sms("0031612345678", "over TLS", "r1")]}});
    let response = http_client()
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        wait_reports(&receiver, 1).await,
        vec![("r1".into(), "2".into())]
    );
    // The upstream took it over SMPP, as its log shows.
    let log: Value = serde_json::from_str(
        &http_client()
            .get(upstream.gateway.url("/v1.0/messages"))
            .header("X-CM-PRODUCTTOKEN", &upstream.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(log["messages"][0]["source"], "smpp", "{log}");
    assert_eq!(log["messages"][0]["body"], "over TLS", "{log}");
}

/// A gateway routed to `sim` whose account `acme` owns inbound number 3669 and posts its MOs to
/// the returned receiver, inbound webhooks retried every second.
pub(crate) async fn inbound_setup(sim: &SmscSim) -> (Setup, WebhookReceiver) {
    inbound_setup_with(sim, &[]).await
}

/// [`inbound_setup`] with more `tern account create` arguments.
pub(crate) async fn inbound_setup_with(
    sim: &SmscSim,
    account_args: &[&str],
) -> (Setup, WebhookReceiver) {
    inbound_setup_on(sim.smpp.port(), account_args).await
}

/// [`inbound_setup_with`] for an SMSC listening on `port` of 127.0.0.1.
async fn inbound_setup_on(port: u16, account_args: &[&str]) -> (Setup, WebhookReceiver) {
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n\n[inbound]\nretry_interval_secs = 1\n",
        connector("op-a", port, "")
    );
    let inbound = WebhookReceiver::start().await;
    let setup = setup(
        Some(&config),
        &[
            &[
                "--inbound-numbers",
                "3669",
                "--inbound-url",
                inbound.url.as_str(),
            ],
            account_args,
        ]
        .concat(),
        true,
    )
    .await;
    setup
        .gateway
        .wait_for_log(&["connector bound", "op-a"], WAIT)
        .await;
    (setup, inbound)
}

/// The inbound webhook body without its reference and time (checked apart).
pub(crate) fn inbound_body(received: &tern_testkit::webhook::Received) -> Value {
    let mut body = received.json();
    let reference = body["reference"].take();
    assert_eq!(reference.as_str().map(str::len), Some(36), "{body}");
    let time = body["timeUtc"].take();
    assert_eq!(time.as_str().map(str::len), Some(19), "{body}");
    body
}

pub(crate) fn expected_inbound(from: &str, text: &str) -> Value {
    json!({"reference": null, "from": {"number": from, "name": ""}, "to": {"number": "3669"},
           "message": {"text": text, "media": {"mediaUri": "", "contentType": "", "title": ""},
                       "custom": {}},
           "groupings": ["", "", ""], "timeUtc": null, "channel": "SMS"})
}

#[tokio::test]
async fn mo_messages_single_and_concatenated_out_of_order_reach_the_inbound_webhook() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let (setup, inbound) = inbound_setup(&sim).await;
    // The receiver is down for the first attempt: the MO is posted again a second later.
    inbound.answer_next(&[503]);
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": "Stop @ once"}),
        )
        .await;
    assert_eq!(status, 200);
    let got = inbound.wait_for(2, WAIT).await;
    assert_eq!(
        inbound_body(&got[0]),
        expected_inbound("+31612345678", "Stop @ once")
    );
    assert_eq!(got[1].json(), got[0].json(), "the retry is the same report");
    // A long UCS2 text in UDH parts, last part first; then one in SAR TLVs.
    let long = "Привет! ".repeat(20);
    let (status, parts) = sim
        .post(
            "/mo",
            json!({"from": "31612345679", "to": "3669", "text": long, "reverse": true}),
        )
        .await;
    assert_eq!((status, &parts["parts"]), (200, &json!(3)));
    let sar_text = "a".repeat(300);
    let (status, parts) = sim
        .post(
            "/mo",
            json!({"from": "31612345670", "to": "3669", "text": sar_text, "sar": true}),
        )
        .await;
    assert_eq!((status, &parts["parts"]), (200, &json!(2)));
    let got = inbound.wait_for(4, WAIT).await;
    let mut bodies: Vec<Value> = got[2..].iter().map(inbound_body).collect();
    bodies.sort_by_key(|body| body["from"]["number"].as_str().unwrap().to_owned());
    assert_eq!(
        bodies,
        vec![
            expected_inbound("+31612345670", &sar_text),
            expected_inbound("+31612345679", &long),
        ]
    );
    // The account's log shows them as MOs.
    let log = setup.log("?limit=10").await;
    let mos: Vec<&Value> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["direction"] == "mo")
        .collect();
    assert_eq!(mos.len(), 3, "{log}");
    // The two long ones may complete in the same millisecond: found by sender, not by place.
    let parts_from = |sender: &str| {
        mos.iter()
            .find(|entry| entry["from"] == sender)
            .map(|entry| entry["parts"].clone())
    };
    assert_eq!(parts_from("31612345679"), Some(json!(3)), "{log}");
    assert_eq!(parts_from("31612345670"), Some(json!(2)), "{log}");
    assert_eq!(parts_from("31612345678"), Some(json!(1)), "{log}");
    // Counted as the SMSC delivered them, part by part (1 + 3 + 2); the connector is up.
    crate::metrics::wait_for_metrics(
        &setup,
        &[
            (
                "tern_inbound_total",
                &[("channel", "SMS"), ("outcome", "accepted")],
                6.0,
            ),
            ("tern_connector_up", &[("connector", "op-a")], 1.0),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_mo_to_a_number_no_account_has_is_logged_not_posted() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let (setup, inbound) = inbound_setup(&sim).await;
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "4000", "text": "anyone?"}),
        )
        .await;
    assert_eq!(status, 200);
    setup.gateway.wait_for_log(&["4000", "op-a"], WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbound.received().is_empty());
    let log = setup.log("?limit=10").await;
    assert_eq!(log["messages"], json!([]), "{log}");
}

/// An SMSC written in this test, octet by octet: it answers the connector's bind, then sends
/// 40 MO deliver_sm in one write, with the first half of a 41st, and the rest of it a moment
/// later. The connector must take each PDU of a read however many it holds, and one split
/// between reads once whole: every deliver_sm answered ESME_ROK, every MO at the webhook.
// Two threads: the SMSC below answers while the setup waits for the bind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdus_arriving_together_or_split_between_reads_are_each_taken() {
    use tern_proto::smpp::{self, Command, CommandStatus, Frame, Pdu, SubmitSm};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The next whole PDU from `stream`, reading into `buffer` as needed.
    async fn next(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Command {
        loop {
            if let Frame::Complete { len } = smpp::next_frame(buffer, 65_536).unwrap() {
                let command = smpp::decode(&buffer[..len]).unwrap();
                buffer.drain(..len);
                return command;
            }
            let read = tokio::time::timeout(WAIT, stream.read_buf(buffer))
                .await
                .expect("a PDU from the connector in time")
                .unwrap();
            assert_ne!(read, 0, "the connector closed the session");
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let smsc = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = Vec::new();
        let bind = next(&mut stream, &mut buffer).await;
        let Pdu::Bind(kind, _) = bind.pdu else {
            panic!("expected a bind, got {bind:?}");
        };
        let resp = Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: bind.sequence_number,
            pdu: Pdu::BindResp(kind, "raw".into()),
        };
        stream.write_all(&resp.encode().unwrap()).await.unwrap();
        let mut octets = Vec::new();
        for n in 1..=41u32 {
            let mo = Command {
                command_status: CommandStatus::ESME_ROK,
                sequence_number: n,
                pdu: Pdu::DeliverSm(Box::new(SubmitSm {
                    source_addr_ton: 1,
                    source_addr_npi: 1,
                    source_addr: format!("316120000{n:02}"),
                    destination_addr: "3669".into(),
                    short_message: format!("MO number {n}").into_bytes(),
                    ..SubmitSm::default()
                })),
            };
            octets.extend(mo.encode().unwrap());
        }
        let split = octets.len() - 10;
        stream.write_all(&octets[..split]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.write_all(&octets[split..]).await.unwrap();
        // Every deliver_sm answered, in whatever order; enquire_link answered meanwhile.
        let mut answered = Vec::new();
        while answered.len() < 41 {
            let command = next(&mut stream, &mut buffer).await;
            match command.pdu {
                Pdu::DeliverSmResp(_) => {
                    answered.push((command.sequence_number, command.command_status))
                }
                Pdu::EnquireLink => {
                    let resp = Command {
                        command_status: CommandStatus::ESME_ROK,
                        sequence_number: command.sequence_number,
                        pdu: Pdu::EnquireLinkResp,
                    };
                    stream.write_all(&resp.encode().unwrap()).await.unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        answered.sort();
        // Held open until the test has seen the webhooks.
        (answered, stream)
    });
    let (setup, inbound) = inbound_setup_on(port, &[]).await;
    let (answered, _stream) = tokio::time::timeout(WAIT, smsc).await.unwrap().unwrap();
    let expected: Vec<(u32, CommandStatus)> =
        (1..=41).map(|n| (n, CommandStatus::ESME_ROK)).collect();
    assert_eq!(answered, expected);
    let got = inbound.wait_for(41, WAIT).await;
    let mut texts: Vec<(String, String)> = got
        .iter()
        .map(|request| {
            let body = request.json();
            (
                body["from"]["number"].as_str().unwrap().to_owned(),
                body["message"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    texts.sort();
    let expected: Vec<(String, String)> = (1..=41)
        .map(|n| (format!("+316120000{n:02}"), format!("MO number {n}")))
        .collect();
    assert_eq!(texts, expected);
    drop(setup);
}
