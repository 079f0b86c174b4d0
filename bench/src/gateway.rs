//! The gateway under test: `tern account create`, `tern serve` on a loopback port, SIGTERM, and
//! what /proc says about the process (peak RSS, CPU per thread).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// Run `tern account create`; returns the product token (its last stdout line).
pub fn create_account(tern: &Path, data_dir: &Path, status_url: &str) -> anyhow::Result<String> {
    let output = Command::new(tern)
        .args(["account", "create", "--data-dir"])
        .arg(data_dir)
        .args(["--name", "bench", "--status-url", status_url])
        .env("TERN_LOG", "warn")
        .output()
        .with_context(|| format!("cannot run {}", tern.display()))?;
    ensure!(
        output.status.success(),
        "`tern account create` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).context("account create printed non-UTF-8")?;
    let token = stdout
        .lines()
        .last()
        .context("`tern account create` printed no token")?
        .trim()
        .to_owned();
    ensure!(
        !token.is_empty(),
        "`tern account create` printed an empty token"
    );
    Ok(token)
}

/// A running `tern serve`.
pub struct Gateway {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl Gateway {
    /// Start `tern serve` on 127.0.0.1 with an OS-chosen port and wait for its address.
    pub fn start(tern: &Path, data_dir: &Path, config: &Path) -> anyhow::Result<Gateway> {
        Gateway::start_with(tern, data_dir, config, &[])
    }

    /// [`Gateway::start`] with more arguments to `tern serve`.
    pub fn start_with(
        tern: &Path,
        data_dir: &Path,
        config: &Path,
        more: &[&str],
    ) -> anyhow::Result<Gateway> {
        let mut child = Command::new(tern)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-addr", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(more)
            .env("TERN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {} serve", tern.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (lines, receiver) = mpsc::channel();
        // Keep reading for the whole run, so the gateway never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut gateway = Gateway {
            child: Some(child),
            addr: "127.0.0.1:0".parse()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match receiver.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => bail!("tern serve did not print `Tern listening on …` within 30 s"),
            };
            if let Some(url) = line.strip_prefix("Tern listening on http://") {
                gateway.addr = url
                    .trim()
                    .parse()
                    .with_context(|| format!("unexpected address line {line:?}"))?;
                return Ok(gateway);
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGTERM, then wait (at most `limit`) for the exit.
    pub fn stop(mut self, limit: Duration) -> anyhow::Result<(ExitStatus, Duration)> {
        let mut child = self.child.take().context("gateway already stopped")?;
        let started = Instant::now();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .context("cannot run kill")?;
        ensure!(status.success(), "kill -TERM {} failed", child.id());
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                bail!("tern did not exit within {limit:?} of SIGTERM (killed)");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Only reached on an error path: do not leave a gateway behind.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `kB` field of /proc/PID/status, in bytes.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Clock ticks per second for /proc CPU times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (comm, utime + stime ticks) of a /proc stat file.
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    // Fields after the comm start at field 3 (state); utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU used so far by a process: the total in clock ticks (exited threads included), and per
/// thread name (digits stripped, so the tokio workers add up under one name) the nanoseconds on a
/// CPU and waiting in a run queue for one, from /proc/PID/task/TID/schedstat.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    pub total: u64,
    pub threads: BTreeMap<String, (u64, u64)>,
}

pub fn cpu_sample(pid: u32) -> CpuSample {
    let mut sample = CpuSample {
        total: stat_ticks(&PathBuf::from(format!("/proc/{pid}/stat")))
            .map(|(_, ticks)| ticks)
            .unwrap_or(0),
        threads: BTreeMap::new(),
    };
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
                continue;
            };
            let Ok(schedstat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            let mut fields = schedstat
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap_or(0));
            let (on_cpu, waiting) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
            let name = comm
                .trim()
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
            let entry = sample.threads.entry(name.to_owned()).or_default();
            entry.0 += on_cpu;
            entry.1 += waiting;
        }
    }
    sample
}

/// CPU use of one thread name over an interval, in cores (CPU seconds per wall second).
#[derive(Debug, Clone)]
pub struct ThreadCpu {
    pub name: String,
    pub on_cpu: f64,
    /// Time spent runnable but waiting for a CPU.
    pub waiting: f64,
}

/// CPU used between two samples, in cores, in total and per thread name (busiest first).
pub fn cpu_delta(
    before: &CpuSample,
    after: &CpuSample,
    wall: Duration,
    ticks: f64,
) -> (f64, Vec<ThreadCpu>) {
    let secs = wall.as_secs_f64().max(1e-9);
    let total = after.total.saturating_sub(before.total) as f64 / ticks / secs;
    let mut threads: Vec<ThreadCpu> = after
        .threads
        .iter()
        .map(|(name, (on_cpu, waiting))| {
            let (was_on, was_waiting) = before.threads.get(name).copied().unwrap_or_default();
            ThreadCpu {
                name: name.clone(),
                on_cpu: on_cpu.saturating_sub(was_on) as f64 / 1e9 / secs,
                waiting: waiting.saturating_sub(was_waiting) as f64 / 1e9 / secs,
            }
        })
        .filter(|t| t.on_cpu >= 0.005)
        .collect();
    threads.sort_by(|a, b| b.on_cpu.total_cmp(&a.on_cpu));
    (total, threads)
}

/// Machine-wide CPU ticks from /proc/stat: (busy, iowait). Busy is user + nice + system + irq +
/// softirq + steal.
pub fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    (busy, field(4))
}
