//! Spawning `tern serve` on a loopback port chosen by the OS, and stopping it by signal.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running gateway.
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub data_dir: PathBuf,
    /// The demo account's token, when this start created it.
    pub demo_token: Option<String>,
    /// What the gateway printed on stdout up to and including its "Tern listening on" line,
    /// without the SMPP listeners' lines (those are [`smpp_addr`](Self::smpp_addr) and
    /// [`smpp_tls_addr`](Self::smpp_tls_addr)).
    pub startup: Vec<String>,
    /// Where its SMPP server listens ("Tern SMPP listening on ADDR"), unless it is off.
    pub smpp_addr: Option<SocketAddr>,
    /// Where its SMPP TLS listener listens ("Tern SMPP over TLS listening on ADDR"), if any.
    pub smpp_tls_addr: Option<SocketAddr>,
    /// Everything the gateway printed on stdout after that, line by line (filled in as it runs).
    pub stdout: mpsc::Receiver<String>,
    /// Where its log (stderr) goes, when started with [`Gateway::start_logged`].
    log_file: Option<PathBuf>,
}

impl Gateway {
    /// Start `binary serve` on `data_dir` with an optional TOML configuration.
    pub fn start(binary: &str, data_dir: &Path, config_toml: Option<&str>) -> Gateway {
        Gateway::spawn(Gateway::command(binary, data_dir, config_toml), data_dir)
    }

    /// [`start`](Self::start), with the log (stderr, level `TERN_LOG=warn` unless
    /// `DEBUG_TERN_LOG` says otherwise) written to `DATA_DIR.log` for [`log`](Self::log).
    pub fn start_logged(binary: &str, data_dir: &Path, config_toml: Option<&str>) -> Gateway {
        Gateway::start_logged_at(binary, data_dir, config_toml, None)
    }

    /// [`start_logged`](Self::start_logged) at log level `level` (`TERN_LOG`; `warn`, or
    /// `DEBUG_TERN_LOG`, when `None`).
    pub fn start_logged_at(
        binary: &str,
        data_dir: &Path,
        config_toml: Option<&str>,
        level: Option<&str>,
    ) -> Gateway {
        let mut command = Gateway::command(binary, data_dir, config_toml);
        if let Some(level) = level {
            command.env("TERN_LOG", level);
        }
        let path = data_dir.with_extension("log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("create gateway log file");
        command.stderr(file);
        let mut gateway = Gateway::spawn(command, data_dir);
        gateway.log_file = Some(path);
        gateway
    }

    /// The `tern serve` command [`start`](Self::start) runs, to adjust before [`spawn`](Self::spawn).
    pub fn command(binary: &str, data_dir: &Path, config_toml: Option<&str>) -> Command {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--http-addr")
            .arg("127.0.0.1:0")
            // Many gateways run at once in tests: never SMPP's fixed 2775.
            .arg("--smpp-addr")
            .arg("127.0.0.1:0")
            .env(
                "TERN_LOG",
                std::env::var("DEBUG_TERN_LOG").unwrap_or("warn".into()),
            )
            .stderr(Stdio::inherit());
        if let Some(toml) = config_toml {
            let path = data_dir.with_extension("toml");
            std::fs::write(&path, toml).expect("write config");
            command.arg("--config").arg(path);
        }
        command
    }

    /// Spawn a prepared `tern serve` command (its stdout is captured here) and wait for the
    /// "Tern listening on" line. `data_dir` is where the test expects the store.
    pub fn spawn(mut command: Command, data_dir: &Path) -> Gateway {
        command.stdout(Stdio::piped());
        let mut child = command.spawn().expect("spawn tern");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo_token = None;
        let mut startup: Vec<String> = Vec::new();
        let mut smpp_addr = None;
        let mut smpp_tls_addr = None;
        let base_url = loop {
            let line = receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("tern did not report its address within 30 s");
            if let Some(addr) = line.strip_prefix("Tern SMPP listening on ") {
                smpp_addr = Some(addr.trim().parse().expect("SMPP address"));
                continue;
            }
            if let Some(addr) = line.strip_prefix("Tern SMPP over TLS listening on ") {
                smpp_tls_addr = Some(addr.trim().parse().expect("SMPP TLS address"));
                continue;
            }
            if startup
                .last()
                .is_some_and(|previous| previous.starts_with("Created the demo account"))
            {
                demo_token = Some(line.trim().to_owned());
            }
            let url = line
                .strip_prefix("Tern listening on ")
                .map(|u| u.trim().to_owned());
            startup.push(line);
            if let Some(url) = url {
                break url;
            }
        };
        Gateway {
            child,
            base_url,
            data_dir: data_dir.to_owned(),
            demo_token,
            startup,
            smpp_addr,
            smpp_tls_addr,
            stdout: receiver,
            log_file: None,
        }
    }

    /// The log so far, without terminal colour codes (only for [`start_logged`](Self::start_logged)).
    pub fn log(&self) -> String {
        let path = self
            .log_file
            .as_ref()
            .expect("gateway started with start_logged");
        strip_ansi(&std::fs::read_to_string(path).expect("read gateway log"))
    }

    /// Wait until the log has a line containing every one of `needles`, and return that line.
    /// Panics (failing the test) with the log when `limit` passes first.
    pub async fn wait_for_log(&self, needles: &[&str], limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let log = self.log();
            if let Some(line) = log
                .lines()
                .find(|line| needles.iter().all(|needle| line.contains(needle)))
            {
                return line.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited {limit:?} for a log line with {needles:?}; the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM and wait (at most 30 s) for the exit.
    pub fn stop(self) -> ExitStatus {
        let limit = Duration::from_secs(30);
        self.stop_within(limit)
            .unwrap_or_else(|| panic!("tern did not exit within {limit:?}"))
    }

    /// Send SIGTERM and wait at most `limit` for the exit: `None` when it did not come (the
    /// process is killed then), so that the caller can say more (such as the gateway's log).
    pub fn stop_within(mut self, limit: Duration) -> Option<ExitStatus> {
        signal(self.child.id(), "TERM");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Run `binary account create --data-dir DIR ARGS…`; returns the token (the last line).
pub fn create_account(binary: &str, data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(binary)
        .args(["account", "create", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("TERN_LOG", "warn")
        .output()
        .expect("run tern account create");
    assert!(
        output.status.success(),
        "account create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_owned()
}
