//! An SMSC not written in this project, for black-box tests of Tern's SMPP client: a small Node
//! script (`node/smsc.js`, next to this crate's sources) on the `smpp` npm package
//! (farhadi/node-smpp, pinned at [`SMPP_PACKAGE`]), installed with npm under the target
//! directory on first use ([`npm_project`]). It binds one account, answers submit_sm with
//! ids in a configurable base, sends Appendix B delivery receipts after a delay (per destination
//! prefix rules), sends MO messages on command, and reports each event as a JSON line, which
//! [`NodeSmsc`] collects. It listens on 127.0.0.1, on a port the system picks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::npm_project;

/// The npm package (pinned) the SMSC is built on.
pub const SMPP_PACKAGE: &str = "smpp@0.5.1";

/// The script, kept in the repository; run with `NODE_PATH` at the project's `node_modules`.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/node/smsc.js");

/// How long the SMSC may take to start listening (node's start, not npm's install).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How message ids are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// Decimal digits.
    Decimal,
    /// Lowercase hex digits.
    HexLower,
    /// Uppercase hex digits.
    HexUpper,
}

impl IdFormat {
    fn name(self) -> &'static str {
        match self {
            IdFormat::Decimal => "decimal",
            IdFormat::HexLower => "hex",
            IdFormat::HexUpper => "HEX",
        }
    }
}

/// The receipt for destinations starting with `prefix` (the first matching rule counts; no
/// match: `DELIVRD`, err `000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRule {
    /// Destination prefix (as submit_sm's destination_addr has it).
    pub prefix: String,
    /// The receipt's `stat:` (`UNDELIV`, `EXPIRED`, ...).
    pub stat: String,
    /// The receipt's `err:`, as written (`001`).
    pub err: String,
}

/// How the SMSC behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmscOptions {
    /// The one account that may bind.
    pub system_id: String,
    /// Its password (another gives ESME_RINVPASWD; another system_id ESME_RINVSYSID).
    pub password: String,
    /// submit_sm_resp's ids.
    pub message_id_format: IdFormat,
    /// How receipts write the same id; `None`: the very string submit_sm_resp gave.
    pub receipt_id_format: Option<IdFormat>,
    /// Ids are left-padded with zeros to this many digits (0: none).
    pub message_id_width: usize,
    /// The number of the first message's id.
    pub first_message_id: u64,
    /// How long after submit_sm the receipt is sent.
    pub receipt_delay: Duration,
    /// Receipts also carry receipted_message_id and message_state TLVs.
    pub receipt_tlvs: bool,
    /// Receipts per destination prefix.
    pub rules: Vec<ReceiptRule>,
    /// The first this many submit_sm are never answered, and when the last of them arrives
    /// every connection is dropped: a crash with submits outstanding (0: none).
    pub drop_unanswered_submits: u32,
    /// submit_sm to a destination starting with the prefix is answered with the command_status
    /// (no message id).
    pub refuse: Vec<(String, u32)>,
}

impl Default for SmscOptions {
    fn default() -> Self {
        SmscOptions {
            system_id: "smsc".into(),
            password: "secret".into(),
            message_id_format: IdFormat::Decimal,
            receipt_id_format: None,
            message_id_width: 0,
            first_message_id: 1,
            receipt_delay: Duration::from_millis(100),
            receipt_tlvs: false,
            rules: Vec::new(),
            drop_unanswered_submits: 0,
            refuse: Vec::new(),
        }
    }
}

impl SmscOptions {
    fn to_json(&self) -> Value {
        json!({
            "system_id": self.system_id,
            "password": self.password,
            "message_id_format": self.message_id_format.name(),
            "receipt_id_format": self.receipt_id_format.map_or("same", IdFormat::name),
            "message_id_width": self.message_id_width,
            "first_message_id": self.first_message_id,
            "receipt_delay_ms": self.receipt_delay.as_millis() as u64,
            "receipt_tlvs": self.receipt_tlvs,
            "drop_unanswered_submits": self.drop_unanswered_submits,
            "refuse": self.refuse.iter().map(|(prefix, status)| json!({
                "prefix": prefix,
                "command_status": status,
            })).collect::<Vec<_>>(),
            "rules": self.rules.iter().map(|rule| json!({
                "prefix": rule.prefix,
                "stat": rule.stat,
                "err": rule.err,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What the SMSC has reported so far, and whether its stdout has closed.
#[derive(Default)]
struct Events {
    seen: Mutex<(Vec<Value>, bool)>,
    changed: Condvar,
}

/// A running SMSC process; killed when dropped.
pub struct NodeSmsc {
    child: Child,
    stdin: Mutex<ChildStdin>,
    port: u16,
    events: Arc<Events>,
    stderr: Arc<Mutex<String>>,
}

impl NodeSmsc {
    /// Installs `smpp` under `target_dir` if needed, starts the SMSC and waits until it listens.
    /// Panics (with its stderr) when it does not within 30 s.
    pub fn start(target_dir: &Path, options: &SmscOptions) -> NodeSmsc {
        let project = npm_project(target_dir, "tern-test-node-smsc", &[SMPP_PACKAGE]);
        let mut child = Command::new("node")
            .arg(SCRIPT)
            .arg(options.to_json().to_string())
            .env("NODE_PATH", project.join("node_modules"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node (is node installed?)");
        let events = Arc::new(Events::default());
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| json!({ "event": "stdout", "line": line }));
                sink.seen.lock().unwrap().0.push(event);
                sink.changed.notify_all();
            }
            sink.seen.lock().unwrap().1 = true;
            sink.changed.notify_all();
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr_sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = stderr_pipe.read(&mut buffer) {
                stderr_sink
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let stdin = Mutex::new(child.stdin.take().expect("piped stdin"));
        let mut smsc = NodeSmsc {
            child,
            stdin,
            port: 0,
            events,
            stderr,
        };
        let listening = smsc.wait_for_event("listening", START_TIMEOUT);
        smsc.port = listening["port"]
            .as_u64()
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_else(|| panic!("no port in {listening}"));
        smsc
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address: 127.0.0.1 and [`port`](Self::port).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Every event reported so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.events.seen.lock().unwrap().0.clone()
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The first event (reported so far or within `timeout`) for which `matches` holds. Panics,
    /// naming `what` and showing every event and stderr, when none comes in time or the process
    /// ends first. Blocks the calling thread: from async tests, call it between awaits (the
    /// SMSC is another process; the kernel buffers what it sends meanwhile) or in
    /// `spawn_blocking`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut seen = self.events.seen.lock().unwrap();
        loop {
            if let Some(event) = seen.0.iter().find(|event| matches(event)) {
                return event.clone();
            }
            let now = Instant::now();
            if seen.1 || now >= deadline {
                let events: Vec<String> = seen.0.iter().map(Value::to_string).collect();
                drop(seen);
                panic!(
                    "SMSC: no {what} {}; events:\n{}\nstderr:\n{}",
                    if now >= deadline {
                        format!("within {timeout:?}")
                    } else {
                        "before it exited".to_owned()
                    },
                    events.join("\n"),
                    self.stderr()
                );
            }
            seen = self
                .events
                .changed
                .wait_timeout(seen, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// The first event named `event` ([`wait_for`](Self::wait_for)).
    pub fn wait_for_event(&self, event: &str, timeout: Duration) -> Value {
        self.wait_for(event, timeout, |value| value["event"] == event)
    }

    /// Sends an MO message (deliver_sm, esm_class 0, data_coding 0: node-smpp writes `text` in
    /// the GSM 03.38 default alphabet) to the first receiver or transceiver session. It reports
    /// `mo` when sent, `deliver_sm_resp` when answered, `error` when no session can take it.
    pub fn send_mo(&self, from: &str, to: &str, text: &str) {
        self.command(json!({ "cmd": "mo", "from": from, "to": to, "text": text }));
    }

    /// Drops every connection (as a crashing SMSC would); it reports `disconnected`.
    pub fn disconnect(&self) {
        self.command(json!({ "cmd": "disconnect" }));
    }

    fn command(&self, command: Value) {
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .expect("write a command to the SMSC");
    }
}

impl Drop for NodeSmsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
