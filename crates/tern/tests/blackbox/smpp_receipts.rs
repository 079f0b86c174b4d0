//! SMPP delivery receipts, received by `smpplib` 2.2.3 (a client not written in this project):
//! CM's text and Appendix B's, in deliver_sm and in data_sm, with their TLVs; which
//! registered_delivery asks for which; receipts waiting for a client that went away, for room in
//! a bind's window, across a kill -9 of the gateway, and after a client refused one.
//!
//! The driver below carries out steps on one or more connections. It reads every PDU itself
//! (the octets as they came, then smpplib's parse of them) and prints each deliver_sm / data_sm
//! it received field by field, its TLVs as hex, so the tests assert exactly what was on the wire.
//! It answers the server's enquire_link itself, and each receipt with the status a step names,
//! or not at all. A bind, submit or unbind the server refuses fails the driver: receipts are what
//! these tests are about.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tern_testkit::{Gateway, http_client};

use super::smpp::{SmppSetup, smpp_setup, spawn_driver};
use crate::TERN;

const DRIVER: &str = r#"
import json, logging, socket, struct, sys, time
import smpplib.client, smpplib.smpp, smpplib.exceptions
# smpplib warns of each TLV it has no name for (CM's 0x1401, 0x140A).
logging.disable(logging.WARNING)
spec = json.load(sys.stdin)
T0 = time.monotonic()
conns = {}
out = {}

def text(value):
    return value.decode("latin-1") if isinstance(value, bytes) else value

class Conn:
    def __init__(self, client):
        self.c = client
        self.backlog = []     # receipts read while waiting for a response, not yet answered
        self.unanswered = []  # receipts a step chose not to answer

def read_raw(conn, deadline):
    """The next PDU's octets, or None when `deadline` passes first; raises when closed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    conn.c._socket.settimeout(remaining)
    try:
        head = conn.c._recv_exact(4)
    except socket.timeout:
        return None
    conn.c._socket.settimeout(10)
    length = struct.unpack(">L", head)[0]
    return head + conn.c._recv_exact(length - 4)

def cstring(body, pos):
    end = body.index(b"\0", pos)
    return text(body[pos:end]), end + 1

DELIVER_SM = [("service_type", "c"), ("source_addr_ton", 1), ("source_addr_npi", 1),
    ("source_addr", "c"), ("dest_addr_ton", 1), ("dest_addr_npi", 1), ("destination_addr", "c"),
    ("esm_class", 1), ("protocol_id", 1), ("priority_flag", 1), ("schedule_delivery_time", "c"),
    ("validity_period", "c"), ("registered_delivery", 1), ("replace_if_present_flag", 1),
    ("data_coding", 1), ("sm_default_msg_id", 1), ("sm_length", 1)]
DATA_SM = [("service_type", "c"), ("source_addr_ton", 1), ("source_addr_npi", 1),
    ("source_addr", "c"), ("dest_addr_ton", 1), ("dest_addr_npi", 1), ("destination_addr", "c"),
    ("esm_class", 1), ("registered_delivery", 1), ("data_coding", 1)]

def record(conn, raw, command):
    """A deliver_sm / data_sm, field by field as its octets say, and as smpplib reads it."""
    r = {"command": command, "status": struct.unpack(">L", raw[8:12])[0],
         "sequence": struct.unpack(">L", raw[12:16])[0],
         "at_ms": int((time.monotonic() - T0) * 1000)}
    body = raw[16:]
    pos = 0
    for name, kind in (DELIVER_SM if command == "deliver_sm" else DATA_SM):
        if kind == "c":
            r[name], pos = cstring(body, pos)
        else:
            r[name] = body[pos]
            pos += 1
    if command == "deliver_sm":
        r["text"] = text(body[pos:pos + r["sm_length"]])
        pos += r["sm_length"]
    tlvs = {}
    while pos < len(body):
        tag, length = struct.unpack(">HH", body[pos:pos + 4])
        key = "%04x" % tag
        if key in tlvs:
            raise Exception("TLV %s twice" % key)
        tlvs[key] = body[pos + 4:pos + 4 + length].hex()
        pos += 4 + length
    r["tlvs"] = tlvs
    if command == "data_sm":
        r["text"] = text(bytes.fromhex(tlvs.get("0424", "")))
    parsed = smpplib.smpp.parse_pdu(raw, client=conn.c, allow_unknown_opt_params=True)
    if parsed.command != command:
        raise Exception("smpplib reads %s as %s" % (command, parsed.command))
    r["smpplib"] = {"receipted_message_id": text(parsed.receipted_message_id),
                    "message_state": parsed.message_state}
    return r

def incoming(conn, raw):
    """Handles a request of the server's: a receipt is returned, enquire_link answered."""
    code = struct.unpack(">L", raw[4:8])[0]
    sequence = struct.unpack(">L", raw[12:16])[0]
    if code == 0x00000015:  # enquire_link
        resp = smpplib.smpp.make_pdu("enquire_link_resp", client=conn.c, sequence=sequence)
        resp.sequence = sequence
        conn.c._socket.sendall(resp.generate())
        return None
    if code == 0x00000005:
        return record(conn, raw, "deliver_sm")
    if code == 0x00000103:
        return record(conn, raw, "data_sm")
    raise Exception("unexpected request 0x%08x" % code)

def answer(conn, r, status):
    resp = smpplib.smpp.make_pdu(r["command"] + "_resp", client=conn.c, sequence=r["sequence"], status=status)
    # make_pdu keeps the client's own sequence number whatever it is given.
    resp.sequence = r["sequence"]
    conn.c._socket.sendall(resp.generate())

def response(conn, sent):
    """The response to one of the requests `sent` (sequence numbers); receipts read meanwhile
    wait in the backlog."""
    deadline = time.monotonic() + 10
    while True:
        raw = read_raw(conn, deadline)
        if raw is None:
            raise Exception("no response within 10 s")
        code = struct.unpack(">L", raw[4:8])[0]
        if not code & 0x80000000:
            r = incoming(conn, raw)
            if r is not None:
                conn.backlog.append(r)
            continue
        pdu = smpplib.smpp.parse_pdu(raw, client=conn.c, allow_unknown_opt_params=True)
        if pdu.sequence not in sent:
            raise Exception("%s echoes no request's sequence number: %d" % (pdu.command, pdu.sequence))
        sent.remove(pdu.sequence)
        if int(pdu.status) != 0:
            raise Exception("%s status 0x%x" % (pdu.command, int(pdu.status)))
        return pdu

def request(conn, pdu, times=1):
    sent = []
    for _ in range(times):
        conn.c._socket.sendall(pdu.generate())
        sent.append(pdu.sequence)
        pdu.sequence = conn.c.next_sequence()
    return [response(conn, sent) for _ in range(times)]

for step in spec["steps"]:
    op = step["op"]
    conn = conns.get(step.get("conn", "a"))
    result = None
    if op == "connect":
        c = smpplib.client.Client(spec["host"], spec["port"], timeout=10, allow_unknown_opt_params=True)
        c.connect()
        conns[step.get("conn", "a")] = Conn(c)
    elif op == "bind":
        pdu = smpplib.smpp.make_pdu("bind_" + step["kind"], client=conn.c, system_id=step["system_id"], password=step["password"])
        request(conn, pdu)
    elif op == "submit":
        f = dict(step["fields"])
        f["short_message"] = bytes.fromhex(step["short_message_hex"])
        pdu = smpplib.smpp.make_pdu("submit_sm", client=conn.c, **f)
        result = [text(r.message_id) for r in request(conn, pdu, step.get("times", 1))]
    elif op == "receive":
        # Up to `count` receipts (any number without one) within `within_ms`, each answered with
        # `answer` or left unanswered (null); a closed connection ends the step with "closed".
        count = step.get("count")
        status = step.get("answer")
        deadline = time.monotonic() + step["within_ms"] / 1000
        result = []
        while count is None or len(result) < count:
            if conn.backlog:
                r = conn.backlog.pop(0)
            else:
                try:
                    raw = read_raw(conn, deadline)
                except (smpplib.exceptions.ConnectionError, OSError):
                    result.append("closed")
                    break
                if raw is None:
                    break
                if struct.unpack(">L", raw[4:8])[0] & 0x80000000:
                    raise Exception("unexpected response 0x%08x" % struct.unpack(">L", raw[4:8])[0])
                r = incoming(conn, raw)
                if r is None:
                    continue
            result.append(r)
            if status is None:
                conn.unanswered.append(r)
            else:
                answer(conn, r, status)
    elif op == "answer_unanswered":
        for r in conn.unanswered:
            answer(conn, r, step["answer"])
        conn.unanswered = []
    elif op == "close":
        conn.c._socket.close()
    elif op == "unbind":
        request(conn, smpplib.smpp.make_pdu("unbind", client=conn.c))
        conn.c._socket.close()
    else:
        raise Exception("unknown op " + op)
    if "as" in step:
        out[step["as"]] = result
        print(json.dumps({"done": step["as"]}), flush=True)
print(json.dumps(out), flush=True)
"#;

/// A running driver: it prints `{"done": LABEL}` after each labelled step and, last, every
/// labelled step's result.
struct Driver {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Driver {
    /// The driver, started on `steps` against `gateway`.
    fn start(gateway: &Gateway, steps: Value) -> Driver {
        let spec = json!({
            "host": "127.0.0.1",
            "port": gateway.smpp_addr.expect("SMPP is on").port(),
            "steps": steps,
        });
        let mut child = spawn_driver(DRIVER, &spec);
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Driver { child, stdout }
    }

    /// Waits until the driver has done the step labelled `label` (its own timeouts bound this).
    fn wait_done(&mut self, label: &str) {
        let done = json!({ "done": label });
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line).unwrap() == 0 {
                let mut stderr = String::new();
                let _ =
                    std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr);
                panic!("the driver ended before {label}: {stderr}");
            }
            if serde_json::from_str::<Value>(&line).ok().as_ref() == Some(&done) {
                return;
            }
        }
    }

    /// Waits for the driver's end; its labelled steps' results.
    fn finish(mut self) -> Value {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        let output = self.child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "driver failed: {}{rest}",
            String::from_utf8_lossy(&output.stderr)
        );
        let last = rest.lines().last().expect("the driver's results");
        serde_json::from_str(last).unwrap()
    }
}

/// Runs the driver's `steps` against `gateway` to their end.
fn run(gateway: &Gateway, steps: Value) -> Value {
    Driver::start(gateway, steps).finish()
}

fn connect(conn: &str) -> Value {
    json!({"op": "connect", "conn": conn})
}

fn bind(conn: &str, kind: &str) -> Value {
    json!({"op": "bind", "conn": conn, "kind": kind, "system_id": "tern1", "password": "secret1"})
}

/// A submit_sm from "Tern" to international `to` with `text` and `registered_delivery`; its id
/// is the step's result (a list of one), under `label`.
fn submit(conn: &str, label: &str, to: &str, text: &str, registered_delivery: u8) -> Value {
    json!({
        "op": "submit", "conn": conn, "as": label,
        "fields": {
            "source_addr_ton": 5, "source_addr": "Tern",
            "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": to,
            "data_coding": 0, "esm_class": 0, "registered_delivery": registered_delivery,
        },
        "short_message_hex": hex(text.as_bytes()),
    })
}

/// Reads up to `count` receipts (any number: `None`) on `conn` within `within_ms`, each
/// answered with `answer` (none: `None`); the receipts are the step's result, under `label`.
fn receive(
    conn: &str,
    label: &str,
    count: Option<usize>,
    within_ms: u64,
    answer: Option<u32>,
) -> Value {
    json!({
        "op": "receive", "conn": conn, "as": label,
        "count": count, "within_ms": within_ms, "answer": answer,
    })
}

fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02x}")).collect()
}

/// A C-octet string TLV value as hex.
fn c_hex(text: &str) -> String {
    hex(format!("{text}\0").as_bytes())
}

/// The one id of a submit step.
fn id_of(results: &Value, label: &str) -> String {
    let ids = results[label].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{results}");
    let id = ids[0].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    id
}

/// The receipts a receive step got.
fn receipts<'r>(results: &'r Value, label: &str) -> &'r [Value] {
    results[label].as_array().unwrap()
}

/// The receipt ids (receipted_message_id as smpplib reads it) of received receipts, in order.
fn receipt_ids(received: &[Value]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            r["smpplib"]["receipted_message_id"]
                .as_str()
                .unwrap_or_else(|| panic!("not a receipt: {r}"))
                .to_owned()
        })
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A receipt without what differs on every delivery (its sequence number, when it came).
fn fields(receipt: &Value) -> Value {
    let mut receipt = receipt.clone();
    let object = receipt.as_object_mut().unwrap();
    object.remove("sequence");
    object.remove("at_ms");
    receipt
}

/// A time as the receipt text says it (UTC, `%Y%m%d%H%M%S` for CM's, `%y%m%d%H%M` for
/// Appendix B's).
fn receipt_time(at: Timestamp, format: &str) -> String {
    at.strftime(format).to_string()
}

/// The submit and done dates of receipt `text` (after `submit date:` and `done date:`, `width`
/// digits), checked to lie in order between `before` and `after`.
fn dates(text: &str, width: usize, before: &str, after: &str) -> (String, String) {
    let after_label = |label: &str| -> String {
        let at = text
            .find(label)
            .unwrap_or_else(|| panic!("{label} in {text}"))
            + label.len();
        text[at..at + width].to_owned()
    };
    let (submitted, done) = (after_label("submit date:"), after_label("done date:"));
    for date in [&submitted, &done] {
        assert!(date.bytes().all(|b| b.is_ascii_digit()), "{text}");
    }
    assert!(
        before <= submitted.as_str() && submitted <= done && done.as_str() <= after,
        "{before} <= {submitted} <= {done} <= {after}: {text}"
    );
    (submitted, done)
}

/// A deliver_sm receipt of a message to +31 6 12345678 from "Tern", in CM's format, as it must
/// be on the wire: `text`, message_state `state` and the TLVs besides receipted_message_id and
/// message_state.
fn deliver_sm(id: &str, text: &str, state: u8, mut tlvs: Value) -> Value {
    tlvs["001e"] = json!(c_hex(id));
    tlvs["0427"] = json!(format!("{state:02x}"));
    json!({
        "command": "deliver_sm", "status": 0,
        "service_type": "",
        "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "31612345678",
        "dest_addr_ton": 5, "dest_addr_npi": 0, "destination_addr": "Tern",
        "esm_class": 4, "protocol_id": 0, "priority_flag": 0,
        "schedule_delivery_time": "", "validity_period": "",
        "registered_delivery": 0, "replace_if_present_flag": 0,
        "data_coding": 0, "sm_default_msg_id": 0, "sm_length": text.len(),
        "text": text,
        "tlvs": tlvs,
        "smpplib": {"receipted_message_id": id, "message_state": state},
    })
}

/// The CM-format receipt of message `id`, as received: dates checked to lie between `before`
/// and now.
fn cm_text(received: &Value, id: &str, before: Timestamp, stat: &str, err: &str) -> String {
    let text = received["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{received}"));
    let format = "%Y%m%d%H%M%S";
    let (submitted, done) = dates(
        text,
        14,
        &receipt_time(before, format),
        &receipt_time(Timestamp::now(), format),
    );
    format!("id:{id} submit date:{submitted} done date:{done} stat:{stat} err:{err}")
}

/// The operator the simulator reports for SMS (CM's TLV 0x1401).
const SIMULATOR_OPERATOR: &str = "20416";

#[test]
fn a_delivered_message_gets_a_cm_receipt_in_deliver_sm_with_its_tlvs() {
    // 0.125 a part: 12.5 cents, rounded half up.
    let setup = smpp_setup(Some("price_per_part = \"0.125\"\n"), &[]);
    let before = Timestamp::now();
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            submit("x", "id", "31612345678", "Hello receipts", 1),
            receive("x", "receipt", Some(1), 10_000, Some(0)),
            // Answered 0: it is never sent again.
            receive("x", "again", None, 1_500, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let id = id_of(&results, "id");
    let received = receipts(&results, "receipt");
    assert_eq!(received.len(), 1, "{results}");
    let text = cm_text(&received[0], &id, before, "DELIVRD", "000");
    assert_eq!(
        fields(&received[0]),
        deliver_sm(
            &id,
            &text,
            2,
            json!({"1401": c_hex(SIMULATOR_OPERATOR), "140a": c_hex("13")}),
        )
    );
    assert_eq!(receipts(&results, "again"), &[] as &[Value]);
}

#[test]
fn appendix_b_receipts_in_data_sm_go_to_a_receiver_of_the_account() {
    let setup = smpp_setup(
        None,
        &[
            "--smpp-receipt-format",
            "appendix-b",
            "--smpp-receipt-pdu",
            "data_sm",
        ],
    );
    let before = Timestamp::now();
    let results = run(
        &setup.gateway,
        json!([
            connect("r"),
            bind("r", "receiver"),
            connect("t"),
            bind("t", "transmitter"),
            submit("t", "id", "31612345678", "Receipts in Appendix B form", 1),
            receive("r", "receipt", Some(1), 10_000, Some(0)),
            receive("r", "again", None, 1_000, Some(0)),
            {"op": "unbind", "conn": "t"},
            {"op": "unbind", "conn": "r"},
        ]),
    );
    let id = id_of(&results, "id");
    let received = receipts(&results, "receipt");
    assert_eq!(received.len(), 1, "{results}");
    let text = received[0]["text"].as_str().unwrap();
    let format = "%y%m%d%H%M";
    let (submitted, done) = dates(
        text,
        10,
        &receipt_time(before, format),
        &receipt_time(Timestamp::now(), format),
    );
    let expected = format!(
        "id:{id} sub:001 dlvrd:001 submit date:{submitted} done date:{done} stat:DELIVRD err:000 text:Receipts in Appendix"
    );
    assert_eq!(
        fields(&received[0]),
        json!({
            "command": "data_sm", "status": 0,
            "service_type": "",
            "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "31612345678",
            "dest_addr_ton": 5, "dest_addr_npi": 0, "destination_addr": "Tern",
            "esm_class": 4, "registered_delivery": 0, "data_coding": 0,
            "text": expected,
            "tlvs": {
                "0424": hex(expected.as_bytes()),
                "001e": c_hex(&id),
                "0427": "02",
                "1401": c_hex(SIMULATOR_OPERATOR),
                // The default price, 0 a part.
                "140a": c_hex("0"),
            },
            "smpplib": {"receipted_message_id": id, "message_state": 2},
        })
    );
    assert_eq!(receipts(&results, "again"), &[] as &[Value]);
}

/// Waits until the message log shows `count` messages, none of them queued or sent any more.
fn wait_final(setup: &SmppSetup, count: usize, limit: Duration) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wait_final_async(setup, count, limit))
}

async fn wait_final_async(setup: &SmppSetup, count: usize, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let response = http_client()
            .get(setup.gateway.url("/v1.0/messages?limit=100"))
            .header("X-CM-PRODUCTTOKEN", &setup.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let messages = page["messages"].as_array().unwrap();
        let done = messages
            .iter()
            .filter(|m| !matches!(m["status"].as_str(), Some("queued" | "sent")))
            .count();
        if messages.len() == count && done == count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?} for {count} messages in a final state: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn registered_delivery_says_which_outcomes_get_a_receipt() {
    let config = "[[simulator.rule]]\nto_prefix = \"0031600000\"\noutcome = \"failed\"\nerror_code = 24\n\
                  [[simulator.rule]]\nto_prefix = \"0031600001\"\noutcome = \"expired\"\n";
    let setup = smpp_setup(Some(config), &[]);
    let before = Timestamp::now();
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            // Failures only: a failure gets its receipt, a delivery none.
            submit("x", "failed_2", "31600000001", "fails, asked 2", 2),
            submit("x", "delivered_2", "31612345678", "delivered, asked 2", 2),
            // None asked: neither.
            submit("x", "failed_0", "31600000002", "fails, asked 0", 0),
            submit("x", "delivered_0", "31612345678", "delivered, asked 0", 0),
            // Every final outcome: an expiry gets its receipt.
            submit("x", "expired_1", "31600001001", "expires, asked 1", 1),
            receive("x", "receipts", Some(2), 10_000, Some(0)),
            receive("x", "more", None, 1_500, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let received = receipts(&results, "receipts");
    assert_eq!(received.len(), 2, "{results}");
    let failed = id_of(&results, "failed_2");
    let expired = id_of(&results, "expired_1");
    assert_eq!(
        sorted(receipt_ids(received)),
        sorted(vec![failed.clone(), expired.clone()]),
        "{results}"
    );
    for receipt in received {
        let id = receipt["smpplib"]["receipted_message_id"].as_str().unwrap();
        let (number, stat, err, state, network_error) = if id == failed {
            ("31600000001", "UNDELIV", "024", 5, "030018")
        } else {
            ("31600001001", "EXPIRED", "008", 3, "030008")
        };
        let text = cm_text(receipt, id, before, stat, err);
        let mut expected = deliver_sm(
            id,
            &text,
            state,
            json!({
                "0423": network_error,
                "1401": c_hex(SIMULATOR_OPERATOR),
                "140a": c_hex("0"),
            }),
        );
        expected["source_addr"] = json!(number);
        assert_eq!(fields(receipt), expected);
    }
    assert_eq!(receipts(&results, "more"), &[] as &[Value]);
    // Every message has its final status now, and no receipt waits for a bind.
    wait_final(&setup, 5, Duration::from_secs(10));
    let results = run(
        &setup.gateway,
        json!([
            connect("y"),
            bind("y", "receiver"),
            receive("y", "later", None, 1_500, Some(0)),
        ]),
    );
    assert_eq!(receipts(&results, "later"), &[] as &[Value]);
}

#[test]
fn a_client_that_went_away_gets_its_receipts_when_it_binds_again() {
    // Reports a second after the submit: the client has gone by then.
    let setup = smpp_setup(Some("[simulator]\ndefault_delay_ms = 1000\n"), &[]);
    let results = run(
        &setup.gateway,
        json!([
            connect("a"),
            bind("a", "transceiver"),
            submit("a", "first", "31612345678", "first", 1),
            submit("a", "second", "31612345678", "second", 1),
            {"op": "close", "conn": "a"},
        ]),
    );
    let ids = sorted(vec![id_of(&results, "first"), id_of(&results, "second")]);
    // Both delivered while nobody is bound: their receipts wait.
    wait_final(&setup, 2, Duration::from_secs(10));
    let results = run(
        &setup.gateway,
        json!([
            // A client that takes them and goes away without answering.
            connect("b"),
            bind("b", "transceiver"),
            receive("b", "unanswered", Some(2), 10_000, None),
            {"op": "close", "conn": "b"},
            // The next bind gets them again, each once.
            connect("c"),
            bind("c", "receiver"),
            receive("c", "answered", Some(2), 10_000, Some(0)),
            receive("c", "more", None, 2_000, Some(0)),
            {"op": "unbind", "conn": "c"},
        ]),
    );
    assert_eq!(
        sorted(receipt_ids(receipts(&results, "unanswered"))),
        ids,
        "{results}"
    );
    let answered = receipts(&results, "answered");
    assert_eq!(sorted(receipt_ids(answered)), ids, "{results}");
    // The same receipts as before, field by field.
    let unanswered = receipts(&results, "unanswered");
    for receipt in answered {
        let id = &receipt["smpplib"]["receipted_message_id"];
        let before = unanswered
            .iter()
            .find(|r| &r["smpplib"]["receipted_message_id"] == id)
            .unwrap();
        assert_eq!(fields(receipt), fields(before));
        assert_eq!(receipt["command"], "deliver_sm");
        assert!(
            receipt["text"]
                .as_str()
                .unwrap()
                .ends_with(" stat:DELIVRD err:000"),
            "{receipt}"
        );
    }
    assert_eq!(receipts(&results, "more"), &[] as &[Value]);
}

#[test]
fn no_more_receipts_than_the_window_wait_for_their_response() {
    let setup = smpp_setup(Some("[smpp]\nwindow = 2\n"), &[]);
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            {
                "op": "submit", "conn": "x", "as": "ids", "times": 10,
                "fields": {
                    "source_addr_ton": 5, "source_addr": "Tern",
                    "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "31612345678",
                    "registered_delivery": 1,
                },
                "short_message_hex": hex(b"windowed"),
            },
            // Unanswered: the window is full after 2.
            receive("x", "held", None, 3_000, None),
            {"op": "answer_unanswered", "conn": "x", "answer": 0},
            receive("x", "rest", Some(8), 10_000, Some(0)),
            receive("x", "more", None, 1_500, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let ids: Vec<String> = results["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sorted(ids.clone()).len(), 10);
    let held = receipts(&results, "held");
    assert_eq!(held.len(), 2, "{results}");
    let rest = receipts(&results, "rest");
    assert_eq!(rest.len(), 8, "{results}");
    assert_eq!(receipts(&results, "more"), &[] as &[Value]);
    let mut all = receipt_ids(held);
    all.extend(receipt_ids(rest));
    let mut distinct = sorted(ids);
    distinct.dedup();
    assert_eq!(sorted(all), distinct, "each id once: {results}");
}

#[test]
fn receipts_pending_when_the_gateway_is_killed_arrive_after_the_restart_once() {
    // Reports for +31 6 00000… come 3 s after the submit: the gateway is killed before.
    let config = "[[simulator.rule]]\nto_prefix = \"0031600000\"\noutcome = \"delivered\"\ndelay_ms = 3000\n";
    let SmppSetup {
        gateway, _dir: dir, ..
    } = smpp_setup(Some(config), &[]);
    let before = Timestamp::now();
    let mut driver = Driver::start(
        &gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            // A receipt taken before the kill: never sent again.
            submit("x", "taken", "31612345678", "taken before", 1),
            receive("x", "taken_receipt", Some(1), 10_000, Some(0)),
            // A receipt sent, its response not given when the gateway dies.
            submit("x", "unanswered", "31612345678", "unanswered", 1),
            receive("x", "unanswered_receipt", Some(1), 10_000, None),
            // A message whose report is still to come.
            submit("x", "pending", "31600000001", "survives a crash", 1),
            // Nothing more comes before the kill closes the connection.
            receive("x", "before_kill", None, 10_000, Some(0)),
        ]),
    );
    // Every submit_sm_resp is in, the first receipt's response recorded: kill -9.
    driver.wait_done("pending");
    std::thread::sleep(Duration::from_millis(500));
    gateway.kill();
    let results = driver.finish();
    let (taken, unanswered, pending) = (
        id_of(&results, "taken"),
        id_of(&results, "unanswered"),
        id_of(&results, "pending"),
    );
    assert_eq!(
        receipt_ids(receipts(&results, "taken_receipt")),
        vec![taken.clone()]
    );
    assert_eq!(
        receipt_ids(receipts(&results, "unanswered_receipt")),
        vec![unanswered.clone()]
    );
    assert_eq!(results["before_kill"], json!(["closed"]), "{results}");
    let gateway = Gateway::start(TERN, &dir.path().join("data"), Some(config));
    let results = run(
        &gateway,
        json!([
            connect("r"),
            bind("r", "receiver"),
            receive("r", "receipts", Some(2), 20_000, Some(0)),
            // Each once, and the one taken before not again.
            receive("r", "more", None, 3_000, Some(0)),
            {"op": "unbind", "conn": "r"},
        ]),
    );
    let received = receipts(&results, "receipts");
    assert_eq!(
        sorted(receipt_ids(received)),
        sorted(vec![unanswered.clone(), pending.clone()]),
        "{results}"
    );
    for receipt in received {
        let id = receipt["smpplib"]["receipted_message_id"].as_str().unwrap();
        let text = cm_text(receipt, id, before, "DELIVRD", "000");
        let mut expected = deliver_sm(
            id,
            &text,
            2,
            json!({"1401": c_hex(SIMULATOR_OPERATOR), "140a": c_hex("0")}),
        );
        if id == pending {
            expected["source_addr"] = json!("31600000001");
        }
        assert_eq!(fields(receipt), expected);
    }
    assert_eq!(receipts(&results, "more"), &[] as &[Value]);
}

#[test]
fn a_refused_receipt_is_sent_again_after_the_backoff_until_it_is_taken() {
    let setup = smpp_setup(
        Some("[status_reports]\ninitial_backoff_ms = 300\nmax_backoff_ms = 5000\n"),
        &[],
    );
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            submit("x", "id", "31612345678", "refused twice", 1),
            // ESME_RSYSERR, then ESME_RTHROTTLED, then taken.
            receive("x", "first", Some(1), 10_000, Some(0x08)),
            receive("x", "second", Some(1), 10_000, Some(0x58)),
            receive("x", "third", Some(1), 10_000, Some(0)),
            receive("x", "more", None, 2_000, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let id = id_of(&results, "id");
    let tries: Vec<&Value> = ["first", "second", "third"]
        .iter()
        .map(|label| {
            let received = receipts(&results, label);
            assert_eq!(received.len(), 1, "{label}: {results}");
            &received[0]
        })
        .collect();
    // The same receipt each time, under a new sequence number.
    assert_eq!(tries[0]["smpplib"]["receipted_message_id"], json!(id));
    for again in &tries[1..] {
        assert_eq!(fields(again), fields(tries[0]));
        assert_ne!(again["sequence"], tries[0]["sequence"]);
    }
    assert_ne!(tries[1]["sequence"], tries[2]["sequence"]);
    // After the backoff: 300 ms after the first refusal, doubled after the second.
    let at = |i: usize| tries[i]["at_ms"].as_i64().unwrap();
    assert!(at(1) - at(0) >= 300, "{results}");
    assert!(at(2) - at(1) >= 600, "{results}");
    assert!(at(2) - at(0) < 5_000, "{results}");
    assert_eq!(receipts(&results, "more"), &[] as &[Value]);
}

#[test]
fn receipts_go_round_robin_over_the_account_s_receiving_binds() {
    let setup = smpp_setup(None, &[]);
    let results = run(
        &setup.gateway,
        json!([
            connect("r1"),
            bind("r1", "receiver"),
            connect("r2"),
            bind("r2", "transceiver"),
            connect("t"),
            bind("t", "transmitter"),
            {
                "op": "submit", "conn": "t", "as": "ids", "times": 4,
                "fields": {
                    "source_addr_ton": 5, "source_addr": "Tern",
                    "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "31612345678",
                    "registered_delivery": 1,
                },
                "short_message_hex": hex(b"round robin"),
            },
            receive("r1", "r1", None, 3_000, Some(0)),
            receive("r2", "r2", None, 1_000, Some(0)),
            // The transmitter is sent none.
            receive("t", "t", None, 500, Some(0)),
            {"op": "unbind", "conn": "t"},
            {"op": "unbind", "conn": "r2"},
            {"op": "unbind", "conn": "r1"},
        ]),
    );
    let ids: Vec<String> = results["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(receipts(&results, "r1").len(), 2, "{results}");
    assert_eq!(receipts(&results, "r2").len(), 2, "{results}");
    assert_eq!(receipts(&results, "t"), &[] as &[Value]);
    let mut all = receipt_ids(receipts(&results, "r1"));
    all.extend(receipt_ids(receipts(&results, "r2")));
    assert_eq!(sorted(all), sorted(ids), "each id once: {results}");
}

#[test]
fn an_intermediate_receipt_only_when_bit_4_asks_for_it() {
    // The operator accepts messages to +31 6 00000…, and says no more.
    let config = "[[simulator.rule]]\nto_prefix = \"0031600000\"\noutcome = \"accepted\"\n";
    let setup = smpp_setup(Some(config), &[]);
    let before = Timestamp::now();
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            submit("x", "asked", "31600000001", "accepted, asked 0x11", 0x11),
            submit("x", "final_only", "31600000002", "accepted, asked 1", 1),
            receive("x", "receipts", None, 2_000, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let id = id_of(&results, "asked");
    let received = receipts(&results, "receipts");
    assert_eq!(receipt_ids(received), vec![id.clone()], "{results}");
    let text = cm_text(&received[0], &id, before, "ACCEPTD", "000");
    let mut expected = deliver_sm(
        &id,
        &text,
        6,
        json!({"1401": c_hex(SIMULATOR_OPERATOR), "140a": c_hex("0")}),
    );
    expected["source_addr"] = json!("31600000001");
    assert_eq!(fields(&received[0]), expected);
}

#[test]
fn a_message_delivered_then_read_gets_one_delivered_receipt() {
    // The simulator reports messages to +31 6 00000… delivered, then read.
    let config = "[[simulator.rule]]\nto_prefix = \"0031600000\"\noutcome = \"read\"\n";
    let setup = smpp_setup(Some(config), &[]);
    let before = Timestamp::now();
    let results = run(
        &setup.gateway,
        json!([
            connect("x"),
            bind("x", "transceiver"),
            submit("x", "read", "31600000001", "delivered, then read", 1),
            receive("x", "receipts", None, 2_000, Some(0)),
            {"op": "unbind", "conn": "x"},
        ]),
    );
    let id = id_of(&results, "read");
    let received = receipts(&results, "receipts");
    assert_eq!(receipt_ids(received), vec![id.clone()], "{results}");
    let text = cm_text(&received[0], &id, before, "DELIVRD", "000");
    let mut expected = deliver_sm(
        &id,
        &text,
        2,
        json!({"1401": c_hex(SIMULATOR_OPERATOR), "140a": c_hex("0")}),
    );
    expected["source_addr"] = json!("31600000001");
    assert_eq!(fields(&received[0]), expected);
}

/// An MO from an operator's SMSC (through an SMPP connector) to an inbound number of an account
/// that has SMPP goes to that account's receiver bind as a plain deliver_sm (esm_class 0), from
/// the sender to the inbound number.
#[tokio::test]
async fn an_mo_from_a_connector_goes_to_the_accounts_smpp_receiver() {
    let sim = crate::smsc_sim::SmscSim::start("receipt_delay_ms = 0\n").await;
    let config = format!(
        "[[connector]]\nname = \"op-a\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {}\n\
         system_id = \"any\"\nreconnect_min_ms = 100\n\n[[route]]\nconnector = \"op-a\"\n",
        sim.smpp.port()
    );
    let setup = smpp_setup(Some(&config), &["--inbound-numbers", "3669"]);
    let mut driver = Driver::start(
        &setup.gateway,
        json!([
            connect("r"),
            {"op": "bind", "conn": "r", "kind": "receiver", "system_id": "tern1",
             "password": "secret1", "as": "bound"},
            receive("r", "mo", Some(1), 15_000, Some(0)),
            {"op": "unbind", "conn": "r"},
        ]),
    );
    driver.wait_done("bound");
    // The connector may still be binding: the simulator answers 409 until it is.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = sim
            .post(
                "/mo",
                json!({"from": "31612345678", "to": "3669", "text": "Stop @ once"}),
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the connector never bound"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = driver.finish();
    let mo = &results["mo"][0];
    assert_eq!(mo["command"], "deliver_sm", "{results}");
    assert_eq!(
        (&mo["esm_class"], &mo["data_coding"], &mo["source_addr_ton"]),
        (&json!(0), &json!(0), &json!(1)),
        "{results}"
    );
    assert_eq!(
        (&mo["source_addr"], &mo["destination_addr"], &mo["text"]),
        (
            &json!("31612345678"),
            &json!("3669"),
            &json!("Stop \u{0} once")
        ),
        "{results}"
    );
}
