//! The connector phase: HTTP submissions (100-message requests) through an SMPP connector to
//! `tern smsc-sim` (receipts at once), each receipt turned into a status report on the local
//! receiver: the whole cycle a real deployment runs. Its own gateway and data directory; the
//! SMSC simulator runs beside it on loopback and is asked for its submit count as the phase goes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sessions of the connector, and the window of each.
pub const BINDS: u32 = 4;
pub const WINDOW: u32 = 256;

/// A running `tern smsc-sim`.
pub struct SmscSim {
    child: Child,
    pub smpp: SocketAddr,
    control: SocketAddr,
}

impl Drop for SmscSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmscSim {
    /// Start it with receipts at once; wait for its two address lines.
    pub fn start(tern: &Path, dir: &Path) -> anyhow::Result<SmscSim> {
        let config = dir.join("smsc-sim.toml");
        std::fs::write(&config, "receipt_delay_ms = 0\n")?;
        let mut child = Command::new(tern)
            .args([
                "smsc-sim",
                "--addr",
                "127.0.0.1:0",
                "--control-addr",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(&config)
            .env("TERN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start tern smsc-sim")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let next = || {
            received
                .recv_timeout(Duration::from_secs(30))
                .context("tern smsc-sim printed no address within 30 s")
        };
        let smpp = next()?;
        let control = next()?;
        let address = |line: &str, prefix: &str| -> anyhow::Result<SocketAddr> {
            match line.strip_prefix(prefix) {
                Some(address) => Ok(address.trim().parse()?),
                None => bail!("unexpected smsc-sim line {line:?}"),
            }
        };
        Ok(SmscSim {
            smpp: address(&smpp, "smsc-sim listening on ")?,
            control: address(&control, "smsc-sim control on ")?,
            child,
        })
    }

    /// The submit_sm it has answered so far (`GET /stats`).
    pub async fn submits(&self) -> anyhow::Result<u64> {
        let mut stream = tokio::net::TcpStream::connect(self.control).await?;
        stream
            .write_all(b"GET /stats HTTP/1.1\r\nHost: smsc-sim\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let at = response
            .find("\"submits\":")
            .context("smsc-sim /stats has no submits")?;
        let digits: String = response[at + 10..]
            .chars()
            .skip_while(|c| c.is_whitespace())
            .take_while(char::is_ascii_digit)
            .collect();
        Ok(digits.parse()?)
    }
}

/// The gateway's configuration for the phase: every SMS over one smpp connector to `smsc`.
pub fn config(smsc: SocketAddr) -> String {
    format!(
        "[[connector]]\nname = \"smsc\"\nkind = \"smpp\"\nhost = \"{}\"\nport = {}\n\
         system_id = \"bench\"\npassword = \"bench\"\nbinds = {BINDS}\nwindow = {WINDOW}\n\
         max_submits_per_sec = 1000000\n\n[[route]]\nconnector = \"smsc\"\n",
        smsc.ip(),
        smsc.port()
    )
}

/// The submit count of `smsc` sampled every 50 ms until `stop`: (when, count) pairs.
pub fn sample_submits(
    smsc: Arc<SmscSim>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(Instant, u64)>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(count) = smsc.submits().await {
                samples.push((Instant::now(), count));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        samples
    })
}

/// submit_sm/s over the samples: from the first that saw a submit beyond `before` to the first
/// that saw the final count.
pub fn submit_rate(samples: &[(Instant, u64)], before: u64) -> f64 {
    let Some(&(_, last)) = samples.last() else {
        return 0.0;
    };
    let first = samples.iter().find(|(_, count)| *count > before);
    let done = samples.iter().find(|(_, count)| *count == last);
    match (first, done) {
        (Some(&(from, from_count)), Some(&(to, _))) if to > from => {
            (last - from_count) as f64 / (to - from).as_secs_f64()
        }
        _ => 0.0,
    }
}
