//! The SMPP server with a client not written in this project: `smpplib` 2.2.3 from PyPI. Each
//! test runs a small driver (below) that carries out steps on one or more connections and prints
//! what every response said; the tests assert the exact command, command_status and ids, and
//! what the message log then holds.
//!
//! The driver sends every PDU itself (`sendall`), not through smpplib's own state checks, so a
//! PDU the client library would refuse to send (submit_sm on a receiver, a second bind) reaches
//! the server as a misbehaving client would send it. smpplib has query_sm but neither cancel_sm
//! nor replace_sm: those are tested byte for byte in `smpp_raw`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::{Gateway, create_account, http_client};

use crate::TERN;

const DRIVER: &str = r#"
import json, ssl, sys, socket, time
import smpplib.client, smpplib.smpp, smpplib.exceptions
spec = json.load(sys.stdin)
host, port, tls_port, ca = spec["host"], spec["port"], spec.get("tls_port"), spec.get("ca")
clients = {}
out = []

def text(value):
    return value.decode() if isinstance(value, bytes) else value

def result(pdu):
    r = {"command": pdu.command, "status": int(pdu.status), "sequence": pdu.sequence}
    for name in ("system_id", "message_id", "final_date"):
        value = getattr(pdu, name, None)
        if value is not None:
            r[name] = text(value)
    for name in ("message_state", "error_code"):
        value = getattr(pdu, name, None)
        if value is not None:
            r[name] = int(value)
    return r

def fields(step):
    f = dict(step.get("fields", {}))
    for name in ("short_message", "message_payload"):
        if name + "_hex" in step:
            f[name] = bytes.fromhex(step[name + "_hex"])
    return f

for step in spec["steps"]:
    op = step["op"]
    name = step.get("conn", "a")
    if op == "connect":
        context = None
        target = port
        if step.get("tls"):
            context = ssl.create_default_context(cafile=ca)
            context.check_hostname = False
            target = tls_port
        c = smpplib.client.Client(host, target, timeout=10, ssl_context=context, allow_unknown_opt_params=True)
        c.connect()
        clients[name] = c
        continue
    c = clients[name]
    if op == "sleep":
        time.sleep(step["secs"])
        continue
    if op == "read":
        try:
            out.append(result(c.read_pdu()))
        except (smpplib.exceptions.ConnectionError, socket.timeout, ssl.SSLError, OSError):
            out.append({"closed": True})
        continue
    if op == "bind":
        pdu = smpplib.smpp.make_pdu("bind_" + step["kind"], client=c, system_id=step["system_id"], password=step["password"])
    elif op == "submit":
        pdu = smpplib.smpp.make_pdu("submit_sm", client=c, **fields(step))
    elif op == "query":
        # The message_id of result `of` (an earlier submit_sm_resp), or the one given.
        f = fields(step)
        if "of" in step:
            f["message_id"] = out[step["of"]]["message_id"]
        pdu = smpplib.smpp.make_pdu("query_sm", client=c, **f)
    elif op == "enquire_link":
        pdu = smpplib.smpp.make_pdu("enquire_link", client=c)
    elif op == "unbind":
        pdu = smpplib.smpp.make_pdu("unbind", client=c)
    else:
        raise Exception("unknown op " + op)
    sent = []
    for _ in range(step.get("times", 1)):
        c._socket.sendall(pdu.generate())
        sent.append(pdu.sequence)
        pdu.sequence = c.next_sequence()
    for _ in range(step.get("times", 1)):
        r = result(c.read_pdu())
        # Whether the response echoes the sequence number of a request of this step (each
        # request's once).
        sequence = r.pop("sequence")
        r["echoed"] = sequence in sent
        if sequence in sent:
            sent.remove(sequence)
        out.append(r)
print(json.dumps(out))
"#;

/// A gateway with one SMPP account (`tern1` / `secret1`), and the account's product token.
pub struct SmppSetup {
    pub gateway: Gateway,
    pub token: String,
    pub _dir: tempfile::TempDir,
}

/// Starts a gateway whose account has SMPP credentials and `account_args`.
pub fn smpp_setup(config: Option<&str>, account_args: &[&str]) -> SmppSetup {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut args = vec![
        "--name",
        "smpp",
        "--smpp-system-id",
        "tern1",
        "--smpp-password",
        "secret1",
    ];
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start(TERN, &data_dir, config);
    SmppSetup {
        gateway,
        token,
        _dir: dir,
    }
}

/// Starts a Python `driver` script (smpplib in the test venv) reading `spec` as JSON on stdin,
/// with stdout and stderr piped.
pub fn spawn_driver(driver: &str, spec: &Value) -> std::process::Child {
    let target = Path::new(TERN).parent().unwrap().parent().unwrap();
    let python = tern_testkit::python::smpplib_python(target);
    let mut child = Command::new(python)
        .arg("-c")
        .arg(driver)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    child
}

/// The driver's input: where `gateway` listens and the `steps`.
fn driver_spec(gateway: &Gateway, ca: Option<&Path>, steps: Value) -> Value {
    let address = gateway.smpp_addr.expect("SMPP is on");
    json!({
        "host": "127.0.0.1",
        "port": address.port(),
        "tls_port": gateway.smpp_tls_addr.map(|a| a.port()),
        "ca": ca.map(|p| p.display().to_string()),
        "steps": steps,
    })
}

/// Runs the driver's `steps` against `gateway`; returns one result per response read.
pub fn drive(gateway: &Gateway, ca: Option<&Path>, steps: Value) -> Vec<Value> {
    driven(spawn_driver(DRIVER, &driver_spec(gateway, ca, steps)))
}

/// The driver running `steps` against `setup`'s gateway, started (see [`driven`]).
fn spawn_steps(setup: &SmppSetup, steps: Value) -> std::process::Child {
    spawn_driver(DRIVER, &driver_spec(&setup.gateway, None, steps))
}

/// What a driver started with [`spawn_driver`] printed once it is done: one result per response
/// read.
fn driven(child: std::process::Child) -> Vec<Value> {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn bind(kind: &str, password: &str) -> Value {
    json!({"op": "bind", "kind": kind, "system_id": "tern1", "password": password})
}

/// A submit_sm to +31 6 12345678 from "Tern" with `short_message` and extra `fields`.
pub fn submit(short_message: &[u8], fields: Value) -> Value {
    let mut all = json!({
        "source_addr_ton": 5, "source_addr": "Tern",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "31612345678",
        "data_coding": 0, "esm_class": 0,
    });
    for (key, value) in fields.as_object().unwrap() {
        all[key] = value.clone();
    }
    json!({"op": "submit", "fields": all, "short_message_hex": hex(short_message)})
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

/// A response's command and status; a response to a request must echo its sequence number.
fn answer(result: &Value) -> (String, u64) {
    if let Some(echoed) = result.get("echoed") {
        assert_eq!(echoed, true, "the sequence number is echoed: {result}");
    }
    (
        result["command"].as_str().unwrap_or("?").to_owned(),
        result["status"].as_u64().unwrap_or(u64::MAX),
    )
}

/// The SMPP id (32 lowercase hex digits) of a message log id.
fn smpp_id(log_id: &str) -> String {
    log_id.replace('-', "")
}

/// The message log entry of an SMPP message id.
pub(crate) async fn logged(setup: &SmppSetup, id: &str) -> Value {
    let response = http_client()
        .get(setup.gateway.url("/v1.0/messages?limit=100"))
        .header("X-CM-PRODUCTTOKEN", &setup.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| smpp_id(m["messageId"].as_str().unwrap()) == id)
        .unwrap_or_else(|| panic!("{id} not in the log: {page}"))
        .clone()
}

/// Asserts a log entry's recipient, sender, parts, text body and source.
fn assert_logged(entry: &Value, body: &str, parts: u64) {
    assert_eq!(entry["to"], "0031612345678", "{entry}");
    assert_eq!(entry["from"], "Tern", "{entry}");
    assert_eq!(entry["parts"], parts, "{entry}");
    assert_eq!(entry["body"], body, "{entry}");
    assert_eq!(entry["bodyEncoding"], "text", "{entry}");
    assert_eq!(entry["source"], "smpp", "{entry}");
}

fn is_smpp_id(id: &Value) -> bool {
    id.as_str().is_some_and(|id| {
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[test]
fn binds_each_way_enquire_link_and_unbind() {
    let setup = smpp_setup(None, &[]);
    let mut steps = Vec::new();
    for (conn, kind) in [
        ("t", "transmitter"),
        ("r", "receiver"),
        ("x", "transceiver"),
    ] {
        steps.push(json!({"op": "connect", "conn": conn}));
        let mut step = bind(kind, "secret1");
        step["conn"] = json!(conn);
        steps.push(step);
    }
    for conn in ["t", "r", "x"] {
        steps.push(json!({"op": "enquire_link", "conn": conn}));
        steps.push(json!({"op": "unbind", "conn": conn}));
        steps.push(json!({"op": "read", "conn": conn}));
    }
    let results = drive(&setup.gateway, None, json!(steps));
    let expected = [
        json!({"command": "bind_transmitter_resp", "status": 0, "echoed": true, "system_id": "Tern"}),
        json!({"command": "bind_receiver_resp", "status": 0, "echoed": true, "system_id": "Tern"}),
        json!({"command": "bind_transceiver_resp", "status": 0, "echoed": true, "system_id": "Tern"}),
    ];
    assert_eq!(results[..3], expected);
    for i in 0..3 {
        let at = 3 + i * 3;
        assert_eq!(
            results[at],
            json!({"command": "enquire_link_resp", "status": 0, "echoed": true})
        );
        assert_eq!(
            results[at + 1],
            json!({"command": "unbind_resp", "status": 0, "echoed": true})
        );
        // The server closes the connection after unbind_resp.
        assert_eq!(results[at + 2], json!({"closed": true}));
    }
}

#[test]
fn refused_binds_wrong_state_and_second_bind() {
    let setup = smpp_setup(None, &["--smpp-max-binds", "2"]);
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect", "conn": "p"},
            {"op": "bind", "conn": "p", "kind": "transmitter", "system_id": "tern1", "password": "wrong"},
            {"op": "bind", "conn": "p", "kind": "transmitter", "system_id": "nobody", "password": "secret1"},
            {"op": "connect", "conn": "a"},
            {"op": "bind", "conn": "a", "kind": "receiver", "system_id": "tern1", "password": "secret1"},
            // submit_sm on a receiver.
            {"op": "submit", "conn": "a", "fields": {"source_addr": "Tern", "destination_addr": "31612345678", "dest_addr_ton": 1}, "short_message_hex": "4869"},
            // A second bind on one session.
            {"op": "bind", "conn": "a", "kind": "transmitter", "system_id": "tern1", "password": "secret1"},
            {"op": "connect", "conn": "b"},
            {"op": "bind", "conn": "b", "kind": "transmitter", "system_id": "tern1", "password": "secret1"},
            // A third bind of an account allowed two.
            {"op": "connect", "conn": "c"},
            {"op": "bind", "conn": "c", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
            // Once one unbinds, there is room again.
            {"op": "unbind", "conn": "b"},
            {"op": "bind", "conn": "c", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
        ]),
    );
    let answers: Vec<(String, u64)> = results.iter().map(answer).collect();
    let expected: Vec<(String, u64)> = [
        ("bind_transmitter_resp", 0x0E), // ESME_RINVPASWD
        ("bind_transmitter_resp", 0x0F), // ESME_RINVSYSID
        ("bind_receiver_resp", 0),
        ("submit_sm_resp", 0x04),        // ESME_RINVBNDSTS
        ("bind_transmitter_resp", 0x05), // ESME_RALYBND
        ("bind_transmitter_resp", 0),
        ("bind_transceiver_resp", 0x0D), // ESME_RBINDFAIL
        ("unbind_resp", 0),
        ("bind_transceiver_resp", 0),
    ]
    .iter()
    .map(|(c, s)| (c.to_string(), *s))
    .collect();
    assert_eq!(answers, expected, "{results:?}");
    // A refused bind's response has no body: smpplib reads no system_id.
    assert!(results[0].get("system_id").is_none_or(|id| id == ""));
}

#[tokio::test]
async fn gsm_and_ucs2_submits_are_logged_with_their_ids() {
    let setup = smpp_setup(None, &[]);
    // "Hi @ 5€ [ok]" in GSM 03.38, one septet per octet: '@' is 0x00, '€' 1B 65, '[' 1B 3C,
    // ']' 1B 3E.
    let gsm = [
        b'H', b'i', b' ', 0x00, b' ', b'5', 0x1B, 0x65, b' ', 0x1B, 0x3C, b'o', b'k', 0x1B, 0x3E,
    ];
    let ucs2_text = "Привет ✓";
    let ucs2: Vec<u8> = ucs2_text
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transceiver", "secret1"),
            submit(&gsm, json!({"registered_delivery": 1})),
            submit(&ucs2, json!({"data_coding": 8})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(answer(&results[1]), ("submit_sm_resp".into(), 0));
    assert_eq!(answer(&results[2]), ("submit_sm_resp".into(), 0));
    assert!(is_smpp_id(&results[1]["message_id"]), "{results:?}");
    assert!(is_smpp_id(&results[2]["message_id"]), "{results:?}");
    let gsm_entry = logged(&setup, results[1]["message_id"].as_str().unwrap()).await;
    assert_logged(&gsm_entry, "Hi @ 5€ [ok]", 1);
    let ucs2_entry = logged(&setup, results[2]["message_id"].as_str().unwrap()).await;
    assert_logged(&ucs2_entry, ucs2_text, 1);
}

#[tokio::test]
async fn three_part_messages_by_udh_and_by_sar_get_three_ids() {
    let setup = smpp_setup(None, &[]);
    let segments = ["First part ", "second part ", "third part"];
    let mut steps = vec![json!({"op": "connect"}), bind("transmitter", "secret1")];
    for (i, text) in segments.iter().enumerate() {
        let mut octets = vec![0x05, 0x00, 0x03, 0x2A, 0x03, i as u8 + 1];
        octets.extend_from_slice(text.as_bytes());
        steps.push(submit(&octets, json!({"esm_class": 0x40})));
    }
    for (i, text) in segments.iter().enumerate() {
        steps.push(submit(
            text.as_bytes(),
            json!({"sar_msg_ref_num": 0x1234, "sar_total_segments": 3, "sar_segment_seqnum": i + 1}),
        ));
    }
    let results = drive(&setup.gateway, None, json!(steps));
    let ids: Vec<String> = results[1..7]
        .iter()
        .map(|r| {
            assert_eq!(answer(r), ("submit_sm_resp".into(), 0), "{results:?}");
            assert!(is_smpp_id(&r["message_id"]), "{r}");
            r["message_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "each segment has its own id");
    // The log shows each concatenated message as one entry, named by its first segment, of
    // three parts with the texts joined, listing each segment's own id and number.
    for group in ids.chunks(3) {
        let entry = logged(&setup, &group[0]).await;
        assert_logged(&entry, &segments.concat(), 3);
        let listed: Vec<(String, u64)> = entry["segments"]
            .as_array()
            .unwrap_or_else(|| panic!("no segments: {entry}"))
            .iter()
            .map(|segment| {
                (
                    smpp_id(segment["messageId"].as_str().unwrap()),
                    segment["seq"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (group[0].clone(), 1),
                (group[1].clone(), 2),
                (group[2].clone(), 3)
            ],
            "{entry}"
        );
    }
}

#[tokio::test]
async fn query_sm_reads_each_message_s_state_final_date_and_error() {
    let config = r#"
[[simulator.rule]]
to_prefix = "0031699"
outcome = "silent"
[[simulator.rule]]
to_prefix = "0031688"
outcome = "expired"
delay_ms = 10
[[simulator.rule]]
outcome = "delivered"
delay_ms = 10
"#;
    let setup = smpp_setup(Some(config), &[]);
    let to = |number: &str| json!({"destination_addr": number});
    let query = |of: usize| {
        json!({"op": "query", "of": of,
            "fields": {"source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Tern"}})
    };
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transmitter", "secret1"),
            submit(b"delivered", to("31612345678")),
            submit(b"silent", to("31699999999")),
            submit(b"expired", to("31688888888")),
            {"op": "sleep", "secs": 1.5},
            query(1),
            query(2),
            query(3),
            {"op": "query", "fields": {"message_id": "0195d3b2c4e47a1b9c3f00112233aabb", "source_addr": "Tern"}},
            {"op": "query", "fields": {"message_id": "not-an-id", "source_addr": "Tern"}},
        ]),
    );
    let ids: Vec<String> = results[1..4]
        .iter()
        .map(|r| {
            assert_eq!(answer(r), ("submit_sm_resp".into(), 0), "{results:?}");
            r["message_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let final_date = |entry: &Value| {
        let at: jiff::Timestamp = entry["history"].as_array().unwrap().last().unwrap()["at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        format!("{}000+", at.strftime("%y%m%d%H%M%S"))
    };
    let delivered = logged(&setup, &ids[0]).await;
    let expired = logged(&setup, &ids[2]).await;
    assert_eq!(
        results[4..7],
        [
            // DELIVRD (2), when.
            json!({"command": "query_sm_resp", "status": 0, "echoed": true, "message_id": ids[0],
                "final_date": final_date(&delivered), "message_state": 2, "error_code": 0}),
            // Handed to the channel, no report yet: ENROUTE (1), no final date.
            json!({"command": "query_sm_resp", "status": 0, "echoed": true, "message_id": ids[1],
                "final_date": "", "message_state": 1, "error_code": 0}),
            // Expired at the operator: EXPIRED (3), error 8.
            json!({"command": "query_sm_resp", "status": 0, "echoed": true, "message_id": ids[2],
                "final_date": final_date(&expired), "message_state": 3, "error_code": 8}),
        ],
        "{results:?}"
    );
    assert_eq!(answer(&results[7]), ("query_sm_resp".into(), 0x67)); // ESME_RQUERYFAIL
    assert_eq!(answer(&results[8]), ("query_sm_resp".into(), 0x0C)); // ESME_RINVMSGID
}

#[test]
fn submits_over_the_account_rate_are_throttled() {
    let setup = smpp_setup(None, &["--smpp-rate", "3"]);
    // 250 GSM characters: 2 parts.
    let long = vec![b'a'; 250];
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transmitter", "secret1"),
            submit(&long, json!({})),
            // 2 parts, more than the 1 left in this second.
            submit(&long, json!({})),
            // One part fits.
            submit(b"short", json!({})),
        ]),
    );
    let answers: Vec<(String, u64)> = results[1..].iter().map(answer).collect();
    assert_eq!(
        answers,
        [
            ("submit_sm_resp".to_owned(), 0),
            ("submit_sm_resp".to_owned(), 0x58), // ESME_RTHROTTLED
            ("submit_sm_resp".to_owned(), 0),
        ],
        "{results:?}"
    );
}

#[test]
fn a_pipelined_window_is_answered_with_every_sequence_number() {
    let setup = smpp_setup(None, &[]);
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transceiver", "secret1"),
            {
                "op": "submit", "times": 100,
                "fields": {"source_addr": "Tern", "dest_addr_ton": 1, "destination_addr": "31612345678"},
                "short_message_hex": hex(b"pipelined"),
            },
        ]),
    );
    assert_eq!(results.len(), 101);
    let mut ids = Vec::new();
    for r in &results[1..] {
        assert_eq!(answer(r), ("submit_sm_resp".into(), 0), "{r}");
        assert_eq!(
            r["echoed"], true,
            "each request's sequence number, once: {r}"
        );
        assert!(is_smpp_id(&r["message_id"]), "{r}");
        ids.push(r["message_id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}

/// Runs `tern account update smpp ARGS… --data-dir DIR`.
fn update_account(setup: &SmppSetup, args: &[&str]) {
    let output = Command::new(TERN)
        .args(["account", "update", "smpp"])
        .args(args)
        .arg("--data-dir")
        .arg(setup._dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits (at most ten seconds) until `/metrics` counts `binds` sessions of the account `smpp`
/// bound as `bind_type`.
fn wait_binds(setup: &SmppSetup, bind_type: &str, binds: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let wanted = format!("{binds}");
    loop {
        let metrics = futures_block_on(async {
            http_client()
                .get(setup.gateway.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        let counted = metrics.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series.starts_with("tern_smpp_binds{")
                && series.contains(r#"account="smpp""#)
                && series.contains(&format!(r#"bind_type="{bind_type}""#)))
            .then(|| value.to_owned())
        });
        if counted.as_deref() == Some(wanted.as_str()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{binds} {bind_type} binds not counted within 10 s: {counted:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn disabling_an_account_unbinds_its_sessions_and_refuses_its_binds() {
    // Timers far off: an unbind seen here can only be the one disabling asks for.
    let setup = smpp_setup(
        Some("[smpp]\nenquire_link_secs = 300\ninactivity_secs = 600\n"),
        &[],
    );
    let driver = spawn_steps(
        &setup,
        json!([
                {"op": "connect", "conn": "x"},
                {"op": "bind", "conn": "x", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
                // The server's unbind (or, after the driver's 10 s read timeout, "closed").
                {"op": "read", "conn": "x"},
                // The driver does not answer it: the server closes the connection.
                {"op": "read", "conn": "x"},
                // A new bind of the disabled account: refused as an unknown system_id.
                {"op": "connect", "conn": "y"},
                {"op": "bind", "conn": "y", "kind": "transmitter", "system_id": "tern1", "password": "secret1"},
        ]),
    );
    wait_binds(&setup, "transceiver", 1);
    let disabled_at = std::time::Instant::now();
    update_account(&setup, &["--disable"]);
    let results = driven(driver);
    assert_eq!(answer(&results[0]), ("bind_transceiver_resp".into(), 0));
    assert_eq!(answer(&results[1]), ("unbind".into(), 0), "{results:?}");
    assert_eq!(results[2], json!({"closed": true}), "{results:?}");
    assert_eq!(
        answer(&results[3]),
        ("bind_transmitter_resp".into(), 0x0F), // ESME_RINVSYSID
        "{results:?}"
    );
    // Unbound within the second the server's check takes, plus its unbind wait and some room.
    assert!(
        disabled_at.elapsed() < Duration::from_secs(6),
        "{:?}",
        disabled_at.elapsed()
    );
    wait_binds(&setup, "transceiver", 0);

    // Enabled again: binds are accepted at once. Options other than the credentials change
    // without ending a session; a new password ends it, and only the new one binds.
    update_account(&setup, &["--enable"]);
    let driver = spawn_steps(
        &setup,
        json!([
                {"op": "connect", "conn": "z"},
                {"op": "bind", "conn": "z", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
                {"op": "read", "conn": "z"},
                {"op": "connect", "conn": "w"},
                {"op": "bind", "conn": "w", "kind": "transmitter", "system_id": "tern1", "password": "secret1"},
                {"op": "bind", "conn": "w", "kind": "transmitter", "system_id": "tern1", "password": "secret2"},
                {"op": "unbind", "conn": "w"},
        ]),
    );
    wait_binds(&setup, "transceiver", 1);
    update_account(&setup, &["--smpp-max-binds", "4"]);
    std::thread::sleep(Duration::from_millis(1500));
    wait_binds(&setup, "transceiver", 1);
    update_account(&setup, &["--smpp-password", "secret2"]);
    let results = driven(driver);
    let answers: Vec<(String, u64)> = results.iter().map(answer).collect();
    let expected: Vec<(String, u64)> = [
        ("bind_transceiver_resp", 0),
        ("unbind", 0),
        ("bind_transmitter_resp", 0x0E), // ESME_RINVPASWD
        ("bind_transmitter_resp", 0),
        ("unbind_resp", 0),
    ]
    .iter()
    .map(|(c, s)| (c.to_string(), *s))
    .collect();
    assert_eq!(answers, expected, "{results:?}");
}

#[test]
fn the_server_sends_enquire_link_and_unbinds_a_silent_session() {
    let setup = smpp_setup(
        Some("[smpp]\nenquire_link_secs = 1\ninactivity_secs = 3\n"),
        &[],
    );
    let started = std::time::Instant::now();
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("receiver", "secret1"),
            // The client answers nothing: the server asks, then gives up on the silence.
            {"op": "read"},
            {"op": "read"},
        ]),
    );
    assert_eq!(
        answer(&results[1]),
        ("enquire_link".into(), 0),
        "{results:?}"
    );
    assert_eq!(answer(&results[2]), ("unbind".into(), 0), "{results:?}");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn a_tls_bind_behaves_like_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let config = format!(
        "[smpp]\ntls_addr = \"127.0.0.1:0\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let setup = smpp_setup(Some(&config), &[]);
    assert!(setup.gateway.smpp_tls_addr.is_some());
    let results = drive(
        &setup.gateway,
        Some(&cert),
        json!([
            {"op": "connect", "tls": true},
            bind("transceiver", "secret1"),
            submit(b"over TLS", json!({})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(
        results[0],
        json!({"command": "bind_transceiver_resp", "status": 0, "echoed": true, "system_id": "Tern"})
    );
    assert_eq!(answer(&results[1]), ("submit_sm_resp".into(), 0));
    assert!(is_smpp_id(&results[1]["message_id"]));
    assert_eq!(answer(&results[2]), ("unbind_resp".into(), 0));
}

#[test]
fn a_tls_listener_without_a_usable_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    for config in [
        "[smpp]\ntls_addr = \"127.0.0.1:0\"\n".to_owned(),
        format!(
            "[smpp]\ntls_addr = \"127.0.0.1:0\"\ntls_cert_file = \"{0}\"\ntls_key_file = \"{0}\"\n",
            cert.display()
        ),
    ] {
        let path = dir.path().join("tern.toml");
        std::fs::write(&path, &config).unwrap();
        let output = Command::new(TERN)
            .args(["serve", "--http-addr", "127.0.0.1:0", "--smpp-addr", "off"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&path)
            .env("TERN_LOG", "warn")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{config} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        assert!(stderr.contains("tls"), "{config}: {stderr}");
    }
}

#[test]
fn a_balance_that_cannot_pay_is_refused_with_the_error_table_s_status_and_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "poor",
            "--balance",
            "0.01",
            "--smpp-system-id",
            "tern1",
            "--smpp-password",
            "secret1",
        ],
    );
    let gateway = Gateway::start_logged(TERN, &data_dir, Some("price_per_part = \"0.05\"\n"));
    let results = drive(
        &gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transmitter", "secret1"),
            submit(b"too dear", json!({})),
        ]),
    );
    // The error table's row for an unpaid message: ESME_RSUBMITFAIL, as the issue asks, and a log
    // line saying why.
    assert_eq!(answer(&results[1]), ("submit_sm_resp".into(), 0x45));
    assert!(results[1].get("message_id").is_none_or(|id| id == ""));
    futures_block_on(
        gateway.wait_for_log(&["SMPP submit refused", "balance"], Duration::from_secs(10)),
    );
}

/// Runs a future to completion on a runtime of its own (the log wait is async).
fn futures_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `tern serve` on `data_dir` with `args`, the environment `env` (no other `TERN_*` variable) and
/// its log at `info` in `log`.
fn serve_with(data_dir: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Gateway {
    let mut command = Command::new(TERN);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--http-addr", "127.0.0.1:0"])
        .args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("TERN_") {
            command.env_remove(name);
        }
    }
    command
        .env("TERN_LOG", "info")
        .envs(env.iter().copied())
        .stderr(std::fs::File::create(log).unwrap());
    Gateway::spawn(command, data_dir)
}

#[test]
fn the_smpp_address_comes_from_the_flag_the_environment_or_the_file_and_off_disables_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("log");
    let off = serve_with(&data_dir, &["--smpp-addr", "off"], &[], &log);
    assert_eq!(off.smpp_addr, None);
    assert_eq!(off.smpp_tls_addr, None);
    assert!(off.stop().success());
    let from_env = serve_with(&data_dir, &[], &[("TERN_SMPP_ADDR", "127.0.0.1:0")], &log);
    let address = from_env.smpp_addr.expect("listening");
    assert!(address.ip().is_loopback() && address.port() != 0 && address.port() != 2775);
    assert!(from_env.stop().success());
    let config = dir.path().join("tern.toml");
    std::fs::write(&config, "smpp_addr = \"off\"\n").unwrap();
    let from_file = serve_with(
        &data_dir,
        &["--config", config.to_str().unwrap()],
        &[],
        &log,
    );
    assert_eq!(from_file.smpp_addr, None);
    assert!(from_file.stop().success());
}

#[test]
fn binds_unbinds_and_refusals_are_logged_with_system_id_peer_and_bind_type() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_account(
        TERN,
        &data_dir,
        &[
            "--name",
            "logged",
            "--smpp-system-id",
            "tern1",
            "--smpp-password",
            "secret1",
        ],
    );
    let log = dir.path().join("log");
    let gateway = serve_with(&data_dir, &["--smpp-addr", "127.0.0.1:0"], &[], &log);
    let results = drive(
        &gateway,
        None,
        json!([
            {"op": "connect"},
            bind("receiver", "nope"),
            bind("receiver", "secret1"),
            submit(b"not on a receiver", json!({})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(answer(&results[0]), ("bind_receiver_resp".into(), 0x0E));
    assert_eq!(answer(&results[1]), ("bind_receiver_resp".into(), 0));
    assert_eq!(answer(&results[3]), ("unbind_resp".into(), 0));
    assert!(gateway.stop().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("tern_ingress::smpp"))
        .collect();
    let with = |needles: &[&str]| {
        lines
            .iter()
            .filter(|line| needles.iter().all(|needle| line.contains(needle)))
            .count()
    };
    let common = ["tern1", "127.0.0.1:", "Receiver"];
    assert_eq!(
        with(&[&common[..], &["SMPP bind refused", "wrong password"]].concat()),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        with(&[&common[..], &["SMPP bind "]].concat()) - 1,
        1,
        "one bind besides the refused one: {lines:#?}"
    );
    assert_eq!(
        with(&[&common[..], &["SMPP unbind", "unbind"]].concat()),
        1,
        "{lines:#?}"
    );
    // Nothing per PDU at the default level: the submit_sm left no line.
    assert_eq!(lines.len(), 3, "{lines:#?}");
}

/// An SMPP message goes through the same status flow as an HTTP one: the account's status URL
/// gets its report (the message id in its UUID form); a binary body is logged as hex.
#[tokio::test]
async fn smpp_messages_produce_status_webhooks_and_a_binary_body_is_logged_as_hex() {
    let receiver = tern_testkit::WebhookReceiver::start().await;
    let setup = smpp_setup(None, &["--status-url", &receiver.url]);
    let results = drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            bind("transmitter", "secret1"),
            submit(b"webhook me", json!({"user_message_reference": 7})),
            submit(&[0xCA, 0xFE, 0x00, 0x01], json!({"data_coding": 4})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(answer(&results[1]), ("submit_sm_resp".into(), 0));
    assert_eq!(answer(&results[2]), ("submit_sm_resp".into(), 0));
    let text_id = results[1]["message_id"].as_str().unwrap().to_owned();
    let binary_id = results[2]["message_id"].as_str().unwrap().to_owned();

    // The simulator delivers both: one report each (delivered), to the account's status URL.
    let received = receiver.wait_for(2, Duration::from_secs(15)).await;
    let mut reported: Vec<(String, Value)> = received
        .iter()
        .map(|r| {
            let msg = r.json()["messages"]["msg"].clone();
            (
                smpp_id(msg["messageId"].as_str().unwrap()),
                msg["status"]["code"].clone(),
            )
        })
        .collect();
    reported.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (text_id.clone(), json!("2")),
        (binary_id.clone(), json!("2")),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(reported, expected);

    let text = logged(&setup, &text_id).await;
    assert_logged(&text, "webhook me", 1);
    assert_eq!(text["reference"], "7", "{text}");
    let binary = logged(&setup, &binary_id).await;
    assert_eq!(
        (&binary["body"], &binary["bodyEncoding"], &binary["source"]),
        (&json!("CAFE0001"), &json!("hex"), &json!("smpp")),
        "{binary}"
    );
}
