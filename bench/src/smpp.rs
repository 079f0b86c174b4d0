//! The SMPP phase: a pipelined SMPP client (`smsc-sink --bench-client` from `../shared/bench`,
//! not written in this project) binds 4 transceivers with a window of 100 each, submits a fixed
//! number of messages with `registered_delivery` 1 and acknowledges every receipt. It runs twice
//! in the same run: against `smsc-sink` itself as the server (which stores nothing and answers at
//! once: the ceiling of SMPP on this machine) and against a fresh Tern gateway (every submit
//! durably committed before its resp, every receipt from the store's outbox), so that Tern's rate
//! is read against a reference measured beside it.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::gateway::{self, Gateway};

/// The load: binds, window per bind.
pub const BINDS: u32 = 4;
pub const WINDOW: u32 = 100;
/// The system id and password of the benchmark's account (a password has at most 8 characters).
const SYSTEM_ID: &str = "bench";
const PASSWORD: &str = "benchpw";
/// How the reference is named in the figures.
pub const REFERENCE: &str = "smsc-sink (the reference: stores nothing)";

/// What the client measured (its `[bench] RESULT` line).
#[derive(Debug, Clone, PartialEq)]
pub struct SmppRun {
    pub acknowledged: u64,
    pub errors: u64,
    pub submit_per_sec: f64,
    pub submit_secs: f64,
    pub receipts: u64,
    pub receipts_matched: u64,
    pub receipts_duplicated: u64,
    pub receipt_per_sec: f64,
    pub receipt_secs: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl SmppRun {
    /// Read the client's `[bench] RESULT key=value ...` line.
    fn parse(line: &str) -> anyhow::Result<SmppRun> {
        let fields: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .collect();
        let number = |key: &str| -> anyhow::Result<f64> {
            fields
                .get(key)
                .with_context(|| format!("no {key} in {line:?}"))?
                .parse::<f64>()
                .with_context(|| format!("{key} is not a number in {line:?}"))
        };
        Ok(SmppRun {
            acknowledged: number("submitted_acked")? as u64,
            errors: number("errors")? as u64,
            submit_per_sec: number("rate_submit_per_s")?,
            submit_secs: number("elapsed_s")?,
            receipts: number("receipts_distinct")? as u64,
            receipts_matched: number("receipts_matched")? as u64,
            receipts_duplicated: number("receipts_dup")? as u64,
            receipt_per_sec: number("rate_receipt_per_s")?,
            receipt_secs: number("receipt_elapsed_s")?,
            p50_ms: number("p50_ms")?,
            p99_ms: number("p99_ms")?,
            max_ms: number("max_ms")?,
        })
    }

    pub fn line(&self, server: &str) -> String {
        format!(
            "SMPP against {server}: {} submit_sm acknowledged in {:.2} s = {} submit_sm/s \
             ({} errors); resp latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} receipts \
             ({} matched, {} duplicated) in {:.2} s = {} receipts/s",
            crate::thousands(self.acknowledged as f64),
            self.submit_secs,
            crate::thousands(self.submit_per_sec),
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            crate::thousands(self.receipts as f64),
            crate::thousands(self.receipts_matched as f64),
            self.receipts_duplicated,
            self.receipt_secs,
            crate::thousands(self.receipt_per_sec),
        )
    }
}

/// A loopback port free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Wait until something listens on `port` (at most 30 s).
fn wait_listening(port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        ensure!(
            Instant::now() < deadline,
            "nothing listens on {addr} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Run the client against `port` for `messages`, with the benchmark's credentials when given.
fn client(
    sink: &Path,
    port: u16,
    messages: u64,
    credentials: Option<(&str, &str)>,
    timeout: Duration,
) -> anyhow::Result<SmppRun> {
    let mut command = Command::new(sink);
    command
        .args(["--bench-client", "--port", &port.to_string()])
        .args(["-n", &messages.to_string()])
        .args(["--window", &WINDOW.to_string()])
        .args(["--conns", &BINDS.to_string()])
        .args(["--registered-delivery", "1"])
        .args(["--timeout", &timeout.as_secs().to_string()])
        .stdin(Stdio::null());
    if let Some((system_id, password)) = credentials {
        command.args(["--system-id", system_id, "--password", password]);
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", sink.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find(|line| line.starts_with("[bench] RESULT"))
        .with_context(|| {
            format!(
                "the SMPP client printed no result ({}): {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let run = SmppRun::parse(result)?;
    ensure!(
        output.status.success(),
        "the SMPP client failed ({}): {}{}",
        output.status,
        result,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(run)
}

/// Kills the child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reference: the client against `smsc-sink` as the server (receipts at once).
pub fn reference(sink: &Path, messages: u64, timeout: Duration) -> anyhow::Result<SmppRun> {
    let port = free_port()?;
    let server = Killed(
        Command::new(sink)
            .args([
                "--port",
                &port.to_string(),
                "--dlr-delay-ms",
                "0",
                "--quiet",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", sink.display()))?,
    );
    wait_listening(port)?;
    let run = client(sink, port, messages, None, timeout);
    drop(server);
    run
}

/// What the Tern run measured: the client's figures and the gateway's peak RSS.
pub struct TernRun {
    pub run: SmppRun,
    pub peak_rss: u64,
}

/// The client against a fresh Tern gateway (its own data directory, simulator delay 0, an account
/// with SMPP credentials and no status URL: the receipts are the only reports).
pub fn tern(
    tern: &Path,
    sink: &Path,
    scratch: &Path,
    messages: u64,
    timeout: Duration,
) -> anyhow::Result<TernRun> {
    let data_dir = scratch.join("smpp-data");
    let config = scratch.join("smpp.toml");
    std::fs::write(&config, "[simulator]\ndefault_delay_ms = 0\n")?;
    let output = Command::new(tern)
        .args(["account", "create", "--data-dir"])
        .arg(&data_dir)
        .args(["--name", "smpp-bench"])
        .args(["--smpp-system-id", SYSTEM_ID, "--smpp-password", PASSWORD])
        .env("TERN_LOG", "warn")
        .output()
        .with_context(|| format!("cannot run {}", tern.display()))?;
    ensure!(
        output.status.success(),
        "`tern account create` with SMPP credentials failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port()?;
    let gateway = Gateway::start_with(
        tern,
        &data_dir,
        &config,
        &["--smpp-addr", &format!("127.0.0.1:{port}")],
    )?;
    wait_listening(port)?;
    let pid = gateway.pid();
    let run = client(sink, port, messages, Some((SYSTEM_ID, PASSWORD)), timeout)?;
    let peak_rss = gateway::status_kb(pid, "VmHWM").unwrap_or(0);
    let (status, _) = gateway.stop(Duration::from_secs(60))?;
    if !status.success() {
        bail!("tern exited with {status} after SIGTERM (expected 0)");
    }
    Ok(TernRun { run, peak_rss })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_result_line_is_read_field_by_field() {
        let line = "[bench] RESULT submitted_acked=200000 errors=0 dlrs_received=200000 \
                    elapsed_s=3.500 rate_submit_per_s=57143 receipts_distinct=200000 \
                    receipts_matched=199999 receipts_dup=1 receipt_elapsed_s=4.000 \
                    rate_receipt_per_s=50000 p50_ms=6.500 p99_ms=20.250 max_ms=31.000";
        assert_eq!(
            SmppRun::parse(line).unwrap(),
            SmppRun {
                acknowledged: 200_000,
                errors: 0,
                submit_per_sec: 57_143.0,
                submit_secs: 3.5,
                receipts: 200_000,
                receipts_matched: 199_999,
                receipts_duplicated: 1,
                receipt_per_sec: 50_000.0,
                receipt_secs: 4.0,
                p50_ms: 6.5,
                p99_ms: 20.25,
                max_ms: 31.0,
            }
        );
        assert!(SmppRun::parse("[bench] RESULT errors=0").is_err());
    }
}
