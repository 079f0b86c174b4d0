//! `tern-bench`: starts a release `tern serve` with the simulator (delay 0) and an in-process
//! status receiver, drives it over loopback and prints accepted messages/s (single-message and
//! 100-message requests), end-to-end messages/s (accepted to status report received), request
//! latency at full and half load, peak RSS and where the CPU went. Run it with `bench/run.sh`.

mod connector;
mod gateway;
mod kannel;
mod load;
mod postgres;
mod receiver;
mod smpp;
mod whatsapp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;

use gateway::{CpuSample, Gateway, cpu_delta, cpu_sample};
use load::{LoadResult, closed_loop, histogram, open_loop, record, submit_body};
use receiver::StatusReceiver;

/// mimalloc rather than glibc's malloc: the bench's servers (status receiver, Meta stand-in)
/// allocate and free per request, and every cycle they spend is taken from the gateway measured.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmark a Tern gateway: throughput, end-to-end rate, latency and memory.
#[derive(Parser, Debug)]
#[command(name = "tern-bench", version)]
struct Args {
    /// The `tern` binary to run (build it with --release).
    #[arg(long, default_value = "target/release/tern")]
    tern: PathBuf,
    /// Length of each measured phase, seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Connections for single-message requests (full and half load).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Connections for 100-message requests (batched and end-to-end phases).
    #[arg(long, default_value_t = 16)]
    batch_connections: usize,
    /// Messages per request in the batched and end-to-end phases.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Most messages in the end-to-end phase.
    #[arg(long, default_value_t = 200_000)]
    e2e_max_messages: u64,
    /// Request rate of the half-load phase; default: half the single-message phase's throughput.
    #[arg(long)]
    half_rate: Option<f64>,
    /// Longest wait for outstanding status reports, seconds (the run fails past it).
    #[arg(long, default_value_t = 900)]
    report_timeout_secs: u64,
    /// A smoke run: 2-second phases, at most 20,000 end-to-end messages.
    #[arg(long)]
    quick: bool,
    /// Phases to run, in this order: single, half, batched, e2e, smpp, connector, kannel,
    /// whatsapp, postgres (for experiments; the figures of record come from the eight defaults;
    /// kannel is asked for by name).
    #[arg(long, value_delimiter = ',', default_values_t = [PhaseName::Single, PhaseName::Half, PhaseName::Batched, PhaseName::E2e, PhaseName::Smpp, PhaseName::Connector, PhaseName::Whatsapp, PhaseName::Postgres])]
    phases: Vec<PhaseName>,
    /// Messages in the WhatsApp phase (HTTP through a whatsapp-cloud connector to the Meta
    /// stand-in; a smoke run: at most 20,000).
    #[arg(long, default_value_t = 100_000)]
    whatsapp_messages: u64,
    /// Messages in the connector phase (HTTP through an SMPP connector to `tern smsc-sim`; a
    /// smoke run: at most 20,000).
    #[arg(long, default_value_t = 200_000)]
    connector_messages: u64,
    /// `smsc-sink` from ../shared/bench (`bench/run.sh` builds it): the SMPP phase's client, and
    /// its reference server.
    #[arg(long, default_value = "target/shared-bench/release/smsc-sink")]
    smsc_sink: PathBuf,
    /// Messages submitted in the SMPP phase (a smoke run: at most 20,000).
    #[arg(long, default_value_t = 200_000)]
    smpp_messages: u64,
    /// The Kannel phase's script (`../shared/bench/kannel/run.sh`): Kannel 1.4.5 on the connector
    /// phase's cycle, the same run. Its tools (smsc-sink, httpload, dlr-recv) are built beside
    /// `--smsc-sink`.
    #[arg(long, default_value = "../shared/bench/kannel/run.sh")]
    kannel_script: PathBuf,
    /// Messages of the Kannel phase.
    #[arg(long, default_value_t = 20_000)]
    kannel_messages: u64,
    /// Node counts of the PostgreSQL phase, in order (for experiments: `1` measures one node
    /// only; the figures of record come from both).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 3])]
    postgres_nodes: Vec<usize>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PhaseName {
    Single,
    Half,
    Batched,
    E2e,
    Smpp,
    Connector,
    /// Kannel 1.4.5 on the connector phase's cycle, for a reference of the same run (not among
    /// the defaults: it installs Debian's kannel package when missing).
    Kannel,
    Whatsapp,
    /// Single, batched and end-to-end on PostgreSQL, one node then three.
    Postgres,
}

impl std::fmt::Display for PhaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhaseName::Single => "single",
            PhaseName::Half => "half",
            PhaseName::Batched => "batched",
            PhaseName::E2e => "e2e",
            PhaseName::Smpp => "smpp",
            PhaseName::Connector => "connector",
            PhaseName::Kannel => "kannel",
            PhaseName::Whatsapp => "whatsapp",
            PhaseName::Postgres => "postgres",
        })
    }
}

/// Targets from the issue, for a 2-core machine.
const TARGET_SINGLE: f64 = 20_000.0;
const TARGET_BATCHED: f64 = 150_000.0;
const TARGET_E2E: f64 = 20_000.0;
const TARGET_HALF_P99_MS: f64 = 20.0;
/// The SMPP server issue's target: submit_sm/s, every submit committed before its resp.
const TARGET_SMPP: f64 = 50_000.0;
/// The SMPP connector issue's target: HTTP submit to status report through an SMPP connector.
const TARGET_CONNECTOR: f64 = 20_000.0;
/// The provider connectors issue's target: HTTP submit to status report through a WhatsApp
/// connector, Meta's statuses posted back signed.
const TARGET_WHATSAPP: f64 = 15_000.0;
/// Issue 15's targets: one node on PostgreSQL on this machine, fsynced.
const TARGET_PG_SINGLE: f64 = 10_000.0;
const TARGET_PG_BATCHED: f64 = 50_000.0;

/// CPU use over one phase.
struct Cpu {
    gateway: f64,
    bench: f64,
    /// Everything else on the machine (other processes, kernel threads).
    others: f64,
    threads: Vec<gateway::ThreadCpu>,
    /// Run-queue wait of the bench's own threads, in cores.
    bench_waiting: f64,
}

struct CpuMeter {
    pid: u32,
    ticks: f64,
    gateway: CpuSample,
    bench: CpuSample,
    machine: u64,
    at: Instant,
}

impl CpuMeter {
    fn start(pid: u32, ticks: f64) -> CpuMeter {
        CpuMeter {
            pid,
            ticks,
            gateway: cpu_sample(pid),
            bench: cpu_sample(std::process::id()),
            machine: gateway::machine_ticks().0,
            at: Instant::now(),
        }
    }

    fn stop(self) -> Cpu {
        let wall = self.at.elapsed();
        let (gateway, threads) = cpu_delta(&self.gateway, &cpu_sample(self.pid), wall, self.ticks);
        let (bench, bench_threads) = cpu_delta(
            &self.bench,
            &cpu_sample(std::process::id()),
            wall,
            self.ticks,
        );
        let machine = gateway::machine_ticks().0.saturating_sub(self.machine) as f64
            / self.ticks
            / wall.as_secs_f64().max(1e-9);
        Cpu {
            gateway,
            bench,
            others: (machine - gateway - bench).max(0.0),
            threads,
            bench_waiting: bench_threads.iter().map(|t| t.waiting).sum(),
        }
    }
}

/// Everything the run measured, for the final tables.
struct Phase {
    name: &'static str,
    what: String,
    cpu: Cpu,
}

struct Drain {
    reports: u64,
    took: Duration,
}

impl Drain {
    fn per_sec(&self) -> f64 {
        self.reports as f64 / self.took.as_secs_f64().max(1e-9)
    }

    fn line(&self, after: &str) -> String {
        format!(
            "report backlog after {after}: {} reports in {:.2} s = {} reports/s",
            thousands(self.reports as f64),
            self.took.as_secs_f64(),
            thousands(self.per_sec())
        )
    }
}

/// Wait until the receiver has counted `expected` reports.
async fn drain(
    receiver: &StatusReceiver,
    expected: u64,
    limit: Duration,
    after: &str,
) -> anyhow::Result<Drain> {
    let started = Instant::now();
    let before = receiver.count();
    while receiver.count() < expected {
        if started.elapsed() > limit {
            bail!(
                "status reports did not catch up after the {after} phase: {} of {expected} received \
                 after {limit:?}",
                receiver.count()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(Drain {
        reports: receiver.count().saturating_sub(before),
        took: started.elapsed(),
    })
}

/// What the end-to-end phase measured.
/// The connector phase's figures.
/// The WhatsApp phase's figures.
struct WhatsAppRun {
    result: EndToEnd,
    /// Statuses Meta's stand-in posted to the gateway, and per second over the phase.
    statuses: u64,
    status_rate: f64,
    /// Webhook POSTs the gateway did not answer 2xx.
    webhook_failures: u64,
    peak_rss: u64,
}

struct ConnectorRun {
    result: EndToEnd,
    /// submit_sm/s the SMSC saw.
    submit_rate: f64,
    submitted: u64,
    peak_rss: u64,
    /// The gateway's CPU per message over the phase, milliseconds.
    cpu_ms_per_message: f64,
}

struct EndToEnd {
    messages: u64,
    submit_took: Duration,
    total_took: Duration,
    drain_took: Duration,
    latency: Histogram<u64>,
}

impl EndToEnd {
    fn per_sec(&self) -> f64 {
        self.messages as f64 / self.total_took.as_secs_f64().max(1e-9)
    }
}

/// Submit `messages` in `batch`-message requests over `connections` connections and wait for a
/// status report for every one of them.
async fn end_to_end(
    addr: SocketAddr,
    token: &str,
    receiver: &StatusReceiver,
    connections: usize,
    batch: usize,
    messages: u64,
    limit: Duration,
) -> anyhow::Result<EndToEnd> {
    let body = submit_body(token, batch);
    end_to_end_of(&[addr], body, receiver, connections, batch, messages, limit).await
}

/// [`end_to_end`] with `body` as every request (of `batch` messages), the connections spread over
/// `addrs` (the nodes of a gateway) in turn.
/// How often the end-to-end run takes the receiver's arrivals.
const ARRIVALS_EVERY: Duration = Duration::from_millis(5);

async fn end_to_end_of(
    addrs: &[SocketAddr],
    body: Bytes,
    receiver: &StatusReceiver,
    connections: usize,
    batch: usize,
    messages: u64,
    limit: Duration,
) -> anyhow::Result<EndToEnd> {
    receiver.record();
    let requests = Arc::new(AtomicU64::new(messages / batch as u64));
    let mut opened = Vec::with_capacity(connections);
    for n in 0..connections.max(addrs.len()) {
        opened.push(load::Connection::open(addrs[n % addrs.len()]).await?);
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut connection in opened {
        let body = body.clone();
        let requests = Arc::clone(&requests);
        tasks.spawn(async move {
            let mut accepted: Vec<(Vec<String>, Instant)> = Vec::new();
            while requests
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let response = connection.submit(body.clone(), batch).await?;
                accepted.push((load::message_ids(&response), Instant::now()));
            }
            anyhow::Ok(accepted)
        });
    }
    let mut pending: HashMap<String, Instant> = HashMap::with_capacity(messages as usize);
    let mut last_accept = start;
    while let Some(joined) = tasks.join_next().await {
        for (ids, at) in joined.context("end-to-end task panicked")?? {
            ensure!(
                ids.len() == batch,
                "a response carried {} message ids for {batch} messages",
                ids.len()
            );
            last_accept = last_accept.max(at);
            for id in ids {
                pending.insert(id, at);
            }
        }
    }
    let submit_took = last_accept - start;
    let expected = pending.len() as u64;
    let mut latency = histogram();
    let mut last_report = last_accept;
    // Arrivals are taken in batches (see the receiver): each carries its own time, so the
    // figures do not depend on when they are taken.
    loop {
        for arrival in receiver.take_arrivals() {
            if let Some(accepted) = pending.remove(&arrival.message_id) {
                record(&mut latency, arrival.at.saturating_duration_since(accepted));
                last_report = last_report.max(arrival.at);
            }
        }
        if pending.is_empty() {
            break;
        }
        ensure!(
            start.elapsed() < limit,
            "end-to-end: only {} of {expected} status reports arrived within {limit:?} of the \
             first submit",
            expected - pending.len() as u64
        );
        tokio::time::sleep(ARRIVALS_EVERY).await;
    }
    receiver.stop_recording();
    Ok(EndToEnd {
        messages: expected,
        submit_took,
        total_took: last_report - start,
        drain_took: last_report.saturating_duration_since(last_accept),
        latency,
    })
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn latency_summary(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(histogram, 0.50),
        ms(histogram, 0.99),
        histogram.max() as f64 / 1000.0
    )
}

/// 12345.6 -> "12,346".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn phase_line(name: &str, result: &LoadResult) -> String {
    format!(
        "{name}: {} requests, {} accepted messages in {:.2} s = {} msg/s; latency {}",
        thousands(result.requests as f64),
        thousands(result.accepted as f64),
        result.elapsed.as_secs_f64(),
        thousands(result.accepted_per_sec()),
        latency_summary(&result.latency)
    )
}

#[tokio::main]
async fn main() {
    if let Err(error) = run(Args::parse()).await {
        eprintln!("tern-bench failed: {error:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let duration = Duration::from_secs(if args.quick {
        2
    } else {
        args.duration_secs.max(1)
    });
    let e2e_max = if args.quick {
        args.e2e_max_messages.min(20_000)
    } else {
        args.e2e_max_messages
    };
    let report_limit = Duration::from_secs(args.report_timeout_secs);
    ensure!(
        args.connections > 0 && args.batch_connections > 0,
        "connections must be > 0"
    );
    ensure!(args.batch_size > 0, "batch size must be > 0");
    let tern = std::fs::canonicalize(&args.tern).with_context(|| {
        format!(
            "no tern binary at {} (build it: cargo build --release -p tern)",
            args.tern.display()
        )
    })?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let ticks = gateway::clock_ticks();
    // The client shares the machine with the gateway; anything else running skews the figures.
    let idle_before = gateway::machine_ticks().0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy_before = gateway::machine_ticks().0.saturating_sub(idle_before) as f64 / ticks;
    if busy_before > 0.2 {
        eprintln!(
            "tern-bench: warning: the machine was already {busy_before:.2} cores busy before the \
             run; other processes will skew the figures"
        );
    }

    let scratch = tempfile::Builder::new().prefix("tern-bench-").tempdir()?;
    let data_dir = scratch.path().join("data");
    let config = scratch.path().join("tern.toml");
    std::fs::write(&config, "[simulator]\ndefault_delay_ms = 0\n")?;

    let receiver = StatusReceiver::start().await?;
    let token = gateway::create_account(&tern, &data_dir, &receiver.url)?;
    let gateway = Gateway::start(&tern, &data_dir, &config)?;
    let addr = gateway.addr;
    let pid = gateway.pid();
    eprintln!(
        "tern-bench: gateway pid {pid} on http://{addr}, data in {}, reports to {}; {cpus} CPUs, \
         phases of {} s",
        data_dir.display(),
        receiver.url,
        duration.as_secs()
    );

    let single_body = submit_body(&token, 1);
    let batch_body = submit_body(&token, args.batch_size);
    let wants = |phase: PhaseName| args.phases.contains(&phase);
    let mut accepted_total = 0u64;
    let mut phases: Vec<Phase> = Vec::new();

    // Warm-up: connections, the SQLite page cache, the receiver's pool; not measured.
    let warm = closed_loop(
        addr,
        args.connections,
        single_body.clone(),
        1,
        Duration::from_secs(1),
    )
    .await?;
    accepted_total += warm.accepted;
    drain(&receiver, accepted_total, report_limit, "warm-up").await?;
    eprintln!("warm-up: {}", phase_line("warm-up", &warm));

    // 1. Single-message requests, closed loop.
    let mut single = None;
    if wants(PhaseName::Single) {
        let meter = CpuMeter::start(pid, ticks);
        let result = closed_loop(addr, args.connections, single_body.clone(), 1, duration).await?;
        let cpu = meter.stop();
        accepted_total += result.accepted;
        let line = phase_line("single", &result);
        eprintln!("{line}");
        phases.push(Phase {
            name: "single",
            what: line,
            cpu,
        });
        let meter = CpuMeter::start(pid, ticks);
        let backlog = drain(&receiver, accepted_total, report_limit, "single").await?;
        phases.push(Phase {
            name: "single: report backlog",
            what: backlog.line("single"),
            cpu: meter.stop(),
        });
        single = Some(result);
    }

    // 2. Half load: single-message requests at half the measured rate, open loop.
    let mut half = None;
    if wants(PhaseName::Half) {
        let rate = match (args.half_rate, &single) {
            (Some(rate), _) => rate,
            (None, Some(single)) => single.accepted_per_sec() / 2.0,
            (None, None) => bail!("the half-load phase needs the single phase or --half-rate"),
        }
        .max(1.0);
        let meter = CpuMeter::start(pid, ticks);
        let result = open_loop(addr, args.connections, single_body.clone(), rate, duration).await?;
        let cpu = meter.stop();
        accepted_total += result.accepted;
        let from_schedule = result
            .latency_from_schedule
            .as_ref()
            .expect("open loop measures from the schedule");
        let line = format!(
            "{} (target rate {} req/s); from the scheduled send time: {}",
            phase_line("half load", &result),
            thousands(rate),
            latency_summary(from_schedule)
        );
        eprintln!("{line}");
        phases.push(Phase {
            name: "half load",
            what: line,
            cpu,
        });
        drain(&receiver, accepted_total, report_limit, "half-load").await?;
        half = Some((result, rate));
    }

    // 3. 100-message requests, closed loop.
    let mut batched = None;
    let mut report_rate = None;
    if wants(PhaseName::Batched) {
        let reports_before = receiver.count();
        let meter = CpuMeter::start(pid, ticks);
        let result = closed_loop(
            addr,
            args.batch_connections,
            batch_body.clone(),
            args.batch_size,
            duration,
        )
        .await?;
        let cpu = meter.stop();
        accepted_total += result.accepted;
        let line = phase_line("batched", &result);
        eprintln!("{line}");
        phases.push(Phase {
            name: "batched",
            what: line,
            cpu,
        });
        let meter = CpuMeter::start(pid, ticks);
        let backlog = drain(&receiver, accepted_total, report_limit, "batched").await?;
        phases.push(Phase {
            name: "batched: report backlog",
            what: backlog.line("batched"),
            cpu: meter.stop(),
        });
        // The rate at which reports came out over the batched phase and its backlog: sizes the
        // end-to-end phase so that it lasts about one phase.
        report_rate = Some(
            (receiver.count() - reports_before) as f64
                / (result.elapsed + backlog.took).as_secs_f64(),
        );
        batched = Some(result);
    }

    // 4. End to end: a fixed number of messages, first submit to the last status report.
    let mut e2e = None;
    if wants(PhaseName::E2e) {
        let batch = args.batch_size as u64;
        let wanted = match report_rate {
            Some(rate) => (rate * duration.as_secs_f64()) as u64,
            None => e2e_max,
        };
        let messages = wanted.clamp(10 * batch, e2e_max.max(10 * batch)) / batch * batch;
        eprintln!(
            "end-to-end: {} messages in {}-message requests over {} connections",
            thousands(messages as f64),
            batch,
            args.batch_connections
        );
        let meter = CpuMeter::start(pid, ticks);
        let result = end_to_end(
            addr,
            &token,
            &receiver,
            args.batch_connections,
            args.batch_size,
            messages,
            report_limit,
        )
        .await?;
        let cpu = meter.stop();
        accepted_total += result.messages;
        let line = format!(
            "end-to-end: {} messages accepted in {:.2} s ({} msg/s), all reports in {:.2} s = {} \
             msg/s; backlog drained {:.2} s after the last accept; accept-to-report latency {}",
            thousands(result.messages as f64),
            result.submit_took.as_secs_f64(),
            thousands(result.messages as f64 / result.submit_took.as_secs_f64().max(1e-9)),
            result.total_took.as_secs_f64(),
            thousands(result.per_sec()),
            result.drain_took.as_secs_f64(),
            latency_summary(&result.latency)
        );
        eprintln!("{line}");
        phases.push(Phase {
            name: "end-to-end",
            what: line,
            cpu,
        });
        drain(&receiver, accepted_total, report_limit, "end-to-end").await?;
        e2e = Some(result);
    }

    let peak_rss = gateway::status_kb(pid, "VmHWM").unwrap_or(0);
    let rss_now = gateway::status_kb(pid, "VmRSS").unwrap_or(0);
    let db_bytes: u64 = std::fs::read_dir(&data_dir)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let (status, stop_took) = gateway.stop(Duration::from_secs(60))?;
    ensure!(
        status.success(),
        "tern exited with {status} after SIGTERM (expected 0)"
    );

    // 5. SMPP: its own gateway (the HTTP one is stopped), and the reference beside it.
    let mut smpp = None;
    if wants(PhaseName::Smpp) {
        let sink = std::fs::canonicalize(&args.smsc_sink).with_context(|| {
            format!(
                "no smsc-sink at {} (bench/run.sh builds it from ../shared/bench)",
                args.smsc_sink.display()
            )
        })?;
        let messages = if args.quick {
            args.smpp_messages.min(20_000)
        } else {
            args.smpp_messages
        };
        eprintln!(
            "SMPP: {} messages over {} binds with a window of {} each, registered_delivery 1",
            thousands(messages as f64),
            smpp::BINDS,
            smpp::WINDOW
        );
        let reference = smpp::reference(&sink, messages, report_limit)?;
        let line = reference.line(smpp::REFERENCE);
        eprintln!("{line}");
        let tern_run = smpp::tern(&tern, &sink, scratch.path(), messages, report_limit)?;
        let tern_line = tern_run.run.line("Tern");
        eprintln!("{tern_line}");
        ensure!(
            tern_run.run.receipts_matched == tern_run.run.acknowledged && tern_run.run.errors == 0,
            "SMPP: {} of {} acknowledged submits got a receipt, {} errors",
            tern_run.run.receipts_matched,
            tern_run.run.acknowledged,
            tern_run.run.errors
        );
        smpp = Some((reference, tern_run));
    }

    // 6. Through an SMPP connector: its own gateway, bound to `tern smsc-sim`.
    let mut through_connector = None;
    if wants(PhaseName::Connector) {
        let messages = if args.quick {
            args.connector_messages.min(20_000)
        } else {
            args.connector_messages
        };
        let batch = args.batch_size as u64;
        let messages = (messages.max(10 * batch) / batch) * batch;
        let dir = scratch.path().join("connector");
        std::fs::create_dir_all(&dir)?;
        let sim = Arc::new(connector::SmscSim::start(&tern, &dir)?);
        let config = dir.join("tern.toml");
        std::fs::write(&config, connector::config(sim.smpp))?;
        let data = dir.join("data");
        let token = gateway::create_account(&tern, &data, &receiver.url)?;
        let gateway = Gateway::start_with(&tern, &data, &config, &["--smpp-addr", "off"])?;
        let pid = gateway.pid();
        eprintln!(
            "connector: {} messages in {}-message requests over {} connections, through an SMPP \
             connector ({} binds, window {}) to tern smsc-sim",
            thousands(messages as f64),
            batch,
            args.batch_connections,
            connector::BINDS,
            connector::WINDOW
        );
        // Warm-up: the binds, the page cache; not measured.
        end_to_end(
            gateway.addr,
            &token,
            &receiver,
            args.batch_connections,
            args.batch_size,
            10 * batch,
            report_limit,
        )
        .await?;
        let before = sim.submits().await?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = connector::sample_submits(Arc::clone(&sim), Arc::clone(&stop));
        let meter = CpuMeter::start(pid, ticks);
        let result = end_to_end(
            gateway.addr,
            &token,
            &receiver,
            args.batch_connections,
            args.batch_size,
            messages,
            report_limit,
        )
        .await?;
        let cpu = meter.stop();
        // One more sample after the last report, then stop sampling.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.context("submit sampler panicked")?;
        let submitted = sim.submits().await? - before;
        ensure!(
            submitted >= result.messages,
            "connector: {} messages reported but the SMSC saw only {} submits",
            result.messages,
            submitted
        );
        let submit_rate = connector::submit_rate(&samples, before);
        let peak = gateway::status_kb(pid, "VmHWM").unwrap_or(0);
        let (status, _) = gateway.stop(Duration::from_secs(60))?;
        ensure!(
            status.success(),
            "the connector phase's tern exited with {status}"
        );
        let line = format!(
            "connector: {} messages, all reports in {:.2} s = {} msg/s; {} submit_sm/s on the \
             connector; accept-to-report latency {}",
            thousands(result.messages as f64),
            result.total_took.as_secs_f64(),
            thousands(result.per_sec()),
            thousands(submit_rate),
            latency_summary(&result.latency)
        );
        eprintln!("{line}");
        let gateway_ms =
            cpu.gateway * result.total_took.as_secs_f64() * 1000.0 / result.messages.max(1) as f64;
        phases.push(Phase {
            name: "connector",
            what: line,
            cpu,
        });
        through_connector = Some(ConnectorRun {
            submit_rate,
            submitted,
            peak_rss: peak,
            cpu_ms_per_message: gateway_ms,
            result,
        });
    }

    // 6b. Kannel on the same cycle, for a reference measured in the same run.
    let mut kannel_run = None;
    if wants(PhaseName::Kannel) {
        let bench_target = args
            .smsc_sink
            .parent()
            .and_then(Path::parent)
            .context("--smsc-sink has no build directory two levels up")?
            .to_owned();
        let runs = scratch.path().join("kannel");
        let (script, messages) = (args.kannel_script.clone(), args.kannel_messages);
        eprintln!(
            "kannel: {} messages over 64 connections through Kannel 1.4.5 (HTTP sendsms, SMPP to \
             smsc-sink, receipt, HTTP callback), by {}",
            thousands(messages as f64),
            script.display()
        );
        let run = tokio::task::spawn_blocking(move || {
            kannel::run(&script, &bench_target, &runs, messages)
        })
        .await
        .context("the Kannel phase panicked")??;
        eprintln!(
            "kannel: {} messages, full cycle {} msg/s; bearerbox and smsbox {:.3} ms of CPU per \
             message",
            thousands(run.messages as f64),
            thousands(run.full_cycle_rate),
            run.cpu_ms_per_message
        );
        kannel_run = Some(run);
    }

    // 7. Through a WhatsApp connector: its own gateway, sending to the Meta stand-in, which
    // posts the statuses back signed.
    let mut through_whatsapp = None;
    if wants(PhaseName::Whatsapp) {
        let messages = if args.quick {
            args.whatsapp_messages.min(20_000)
        } else {
            args.whatsapp_messages
        };
        let batch = args.batch_size as u64;
        let messages = (messages.max(10 * batch) / batch) * batch;
        let dir = scratch.path().join("whatsapp");
        std::fs::create_dir_all(&dir)?;
        let meta = whatsapp::stand_in().await;
        let config = dir.join("tern.toml");
        std::fs::write(&config, whatsapp::config(&meta))?;
        let data = dir.join("data");
        let token = gateway::create_account(&tern, &data, &receiver.url)?;
        let gateway = Gateway::start_with(&tern, &data, &config, &["--smpp-addr", "off"])?;
        meta.set_webhook_url(&format!("http://{}/webhooks/whatsapp/wa", gateway.addr));
        let pid = gateway.pid();
        eprintln!(
            "whatsapp: {} messages in {}-message requests over {} connections, through a whatsapp-cloud connector (max_in_flight {}) to the Meta stand-in ({} statuses per webhook POST, {} POSTs in flight)",
            thousands(messages as f64),
            batch,
            args.batch_connections,
            whatsapp::MAX_IN_FLIGHT,
            whatsapp::STATUSES_PER_POST,
            whatsapp::WEBHOOK_CONCURRENCY
        );
        let body = whatsapp::submit_body(&token, args.batch_size);
        // Warm-up: the connections, the page cache; not measured.
        end_to_end_of(
            &[gateway.addr],
            body.clone(),
            &receiver,
            args.batch_connections,
            args.batch_size,
            10 * batch,
            report_limit,
        )
        .await?;
        let before = meta.counts();
        let meter = CpuMeter::start(pid, ticks);
        let result = end_to_end_of(
            &[gateway.addr],
            body,
            &receiver,
            args.batch_connections,
            args.batch_size,
            messages,
            report_limit,
        )
        .await?;
        let cpu = meter.stop();
        let after = meta.counts();
        let statuses = after.statuses_posted - before.statuses_posted;
        let webhook_failures = after.webhook_posts_failed - before.webhook_posts_failed;
        let status_rate = statuses as f64 / result.total_took.as_secs_f64().max(1e-9);
        ensure!(
            after.accepted - before.accepted >= result.messages,
            "whatsapp: {} messages reported but Meta accepted only {}",
            result.messages,
            after.accepted - before.accepted
        );
        let peak = gateway::status_kb(pid, "VmHWM").unwrap_or(0);
        let (status, _) = gateway.stop(Duration::from_secs(60))?;
        ensure!(
            status.success(),
            "the whatsapp phase's tern exited with {status}"
        );
        let line = format!(
            "whatsapp: {} messages, all reports in {:.2} s = {} msg/s; {} statuses/s absorbed ({} webhook POSTs not answered 2xx); accept-to-report latency {}",
            thousands(result.messages as f64),
            result.total_took.as_secs_f64(),
            thousands(result.per_sec()),
            thousands(status_rate),
            webhook_failures,
            latency_summary(&result.latency)
        );
        eprintln!("{line}");
        phases.push(Phase {
            name: "whatsapp",
            what: line,
            cpu,
        });
        through_whatsapp = Some(WhatsAppRun {
            result,
            statuses,
            status_rate,
            webhook_failures,
            peak_rss: peak,
        });
    }

    // 8. On PostgreSQL: its own cluster and gateways (one node, then three).
    let mut on_postgres = None;
    if wants(PhaseName::Postgres) {
        let settings = postgres::Settings {
            tern: &tern,
            scratch: scratch.path(),
            receiver: &receiver,
            duration,
            connections: args.connections,
            batch_connections: args.batch_connections,
            batch_size: args.batch_size,
            e2e_max,
            report_limit,
            ticks,
            node_counts: &args.postgres_nodes,
        };
        on_postgres = postgres::run(&settings, &mut phases).await?;
    }

    print_report(&Report {
        args: &args,
        duration,
        cpus,
        busy_before,
        single: single.as_ref(),
        half: half.as_ref().map(|(result, rate)| (result, *rate)),
        batched: batched.as_ref(),
        e2e: e2e.as_ref(),
        smpp: smpp.as_ref().map(|(reference, tern)| (reference, tern)),
        connector: through_connector.as_ref(),
        kannel: kannel_run.as_ref(),
        whatsapp: through_whatsapp.as_ref(),
        postgres: on_postgres.as_ref(),
        peak_rss,
        rss_now,
        db_bytes,
        accepted_total,
        reports: receiver.count(),
        stop_took,
        phases: &phases,
    });
    Ok(())
}

struct Report<'a> {
    args: &'a Args,
    duration: Duration,
    cpus: usize,
    /// Cores busy in the second before the gateway started.
    busy_before: f64,
    single: Option<&'a LoadResult>,
    /// The result and the rate asked for.
    half: Option<(&'a LoadResult, f64)>,
    batched: Option<&'a LoadResult>,
    e2e: Option<&'a EndToEnd>,
    /// The reference's run and Tern's.
    smpp: Option<(&'a smpp::SmppRun, &'a smpp::TernRun)>,
    connector: Option<&'a ConnectorRun>,
    kannel: Option<&'a kannel::KannelRun>,
    whatsapp: Option<&'a WhatsAppRun>,
    postgres: Option<&'a postgres::PgRun>,
    peak_rss: u64,
    rss_now: u64,
    db_bytes: u64,
    accepted_total: u64,
    reports: u64,
    stop_took: Duration,
    phases: &'a [Phase],
}

const SKIPPED: &str = "| skipped | | |";

fn print_report(r: &Report) {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let rate_row = |measured: f64, target: f64| {
        format!(
            "| {} | {} | {} |",
            thousands(measured),
            thousands(target),
            verdict(measured >= target)
        )
    };
    println!();
    println!(
        "Tern benchmark: {} CPUs, {} s phases, simulator delay 0 ms, gateway and client on the \
         same machine",
        r.cpus,
        r.duration.as_secs()
    );
    println!(
        "Machine busy before the run: {:.2} cores{}",
        r.busy_before,
        if r.busy_before > 0.2 {
            " (other processes were running: the figures are skewed)"
        } else {
            ""
        }
    );
    println!();
    println!("| Figure | Measured | Target | |");
    println!("| --- | ---: | ---: | --- |");
    println!(
        "| Accepted msg/s, 1-message requests, {} connections {}",
        r.args.connections,
        r.single.map_or(SKIPPED.into(), |s| rate_row(
            s.accepted_per_sec(),
            TARGET_SINGLE
        ))
    );
    println!(
        "| Accepted msg/s, {}-message requests, {} connections {}",
        r.args.batch_size,
        r.args.batch_connections,
        r.batched.map_or(SKIPPED.into(), |b| rate_row(
            b.accepted_per_sec(),
            TARGET_BATCHED
        ))
    );
    match r.e2e {
        Some(e2e) => println!(
            "| End-to-end msg/s ({} messages, first submit to last status report) {}",
            thousands(e2e.messages as f64),
            rate_row(e2e.per_sec(), TARGET_E2E)
        ),
        None => println!("| End-to-end msg/s {SKIPPED}"),
    }
    match r.half {
        Some((half, rate)) => {
            let from_schedule = half
                .latency_from_schedule
                .as_ref()
                .expect("open loop measures from the schedule");
            let p99 = ms(from_schedule, 0.99).max(ms(&half.latency, 0.99));
            println!(
                "| Request latency p50 / p99 at half load ({} req/s asked, {} achieved) | {:.2} / \
                 {:.2} ms | p99 < {} ms | {} |",
                thousands(rate),
                thousands(half.accepted_per_sec()),
                ms(from_schedule, 0.5),
                ms(from_schedule, 0.99),
                TARGET_HALF_P99_MS,
                verdict(p99 < TARGET_HALF_P99_MS)
            );
        }
        None => println!("| Request latency p50 / p99 at half load {SKIPPED}"),
    }
    if let Some(single) = r.single {
        println!(
            "| Request latency p50 / p99 at full load, 1-message requests | {:.2} / {:.2} ms | | |",
            ms(&single.latency, 0.5),
            ms(&single.latency, 0.99)
        );
    }
    if let Some(batched) = r.batched {
        println!(
            "| Request latency p50 / p99, {}-message requests | {:.2} / {:.2} ms | | |",
            r.args.batch_size,
            ms(&batched.latency, 0.5),
            ms(&batched.latency, 0.99)
        );
    }
    if let Some(e2e) = r.e2e {
        println!(
            "| Accept-to-report latency p50 / p99 (end-to-end phase) | {:.0} / {:.0} ms | | |",
            ms(&e2e.latency, 0.5),
            ms(&e2e.latency, 0.99)
        );
        println!(
            "| Report backlog drained after the last accept (end-to-end phase) | {:.2} s | | |",
            e2e.drain_took.as_secs_f64()
        );
    }
    println!(
        "| Peak RSS of the gateway (VmHWM) | {:.1} MiB | | |",
        mib(r.peak_rss)
    );
    match r.smpp {
        Some((reference, tern)) => {
            println!(
                "| SMPP submit_sm/s ({} messages, {} binds, window {}, registered_delivery 1; \
                 reference smsc-sink {} = {:.1} %) {}",
                thousands(tern.run.acknowledged as f64),
                smpp::BINDS,
                smpp::WINDOW,
                thousands(reference.submit_per_sec),
                100.0 * tern.run.submit_per_sec / reference.submit_per_sec.max(1e-9),
                rate_row(tern.run.submit_per_sec, TARGET_SMPP)
            );
            println!(
                "| SMPP submit_sm_resp latency p50 / p99 | {:.2} / {:.2} ms | | |",
                tern.run.p50_ms, tern.run.p99_ms
            );
            println!(
                "| SMPP receipts/s (first submit to last receipt; {} of {} delivered, {} twice) | \
                 {} | | |",
                thousands(tern.run.receipts_matched as f64),
                thousands(tern.run.acknowledged as f64),
                tern.run.receipts_duplicated,
                thousands(tern.run.receipt_per_sec)
            );
            println!(
                "| Peak RSS of the SMPP gateway (VmHWM) | {:.1} MiB | | |",
                mib(tern.peak_rss)
            );
        }
        None => println!("| SMPP submit_sm/s {SKIPPED}"),
    }
    match r.connector {
        Some(run) => {
            println!(
                "| Through an SMPP connector, msg/s ({} messages: HTTP submit to status report, \
                 via tern smsc-sim; Kannel 1.4.5 on this machine: 3,000-5,900) {}",
                thousands(run.result.messages as f64),
                rate_row(run.result.per_sec(), TARGET_CONNECTOR)
            );
            println!(
                "| submit_sm/s on the connector ({} binds, window {}; {} submits) | {} | | |",
                connector::BINDS,
                connector::WINDOW,
                thousands(run.submitted as f64),
                thousands(run.submit_rate)
            );
            println!(
                "| Accept-to-report latency p50 / p99 through the connector | {:.0} / {:.0} ms | | |",
                ms(&run.result.latency, 0.5),
                ms(&run.result.latency, 0.99)
            );
            println!(
                "| Peak RSS of the connector's gateway (VmHWM) | {:.1} MiB | | |",
                mib(run.peak_rss)
            );
        }
        None => println!("| Through an SMPP connector {SKIPPED}"),
    }
    if let Some(kannel) = r.kannel {
        println!(
            "| Kannel 1.4.5 in the same run, msg/s ({} messages: HTTP sendsms to receipt callback \
             via smsc-sink; {:.3} ms of CPU per message) | {} | | |",
            thousands(kannel.messages as f64),
            kannel.cpu_ms_per_message,
            thousands(kannel.full_cycle_rate)
        );
        if let Some(run) = r.connector {
            println!(
                "| Through the SMPP connector against Kannel in the same run: rate; CPU per \
                 message (Tern's gateway {:.3} ms) | {:.1}x; {:.2}x | | |",
                run.cpu_ms_per_message,
                run.result.per_sec() / kannel.full_cycle_rate,
                run.cpu_ms_per_message / kannel.cpu_ms_per_message
            );
        }
    }
    match r.whatsapp {
        Some(run) => {
            println!(
                "| Through a WhatsApp connector, msg/s ({} messages: HTTP submit to status report, via the Meta stand-in, `delivered` posted back signed) {}",
                thousands(run.result.messages as f64),
                rate_row(run.result.per_sec(), TARGET_WHATSAPP)
            );
            println!(
                "| WhatsApp statuses absorbed per second ({} statuses, {} per webhook POST; {} POSTs not answered 2xx) | {} | | |",
                thousands(run.statuses as f64),
                whatsapp::STATUSES_PER_POST,
                run.webhook_failures,
                thousands(run.status_rate)
            );
            println!(
                "| Accept-to-report latency p50 / p99 through WhatsApp | {:.0} / {:.0} ms | | |",
                ms(&run.result.latency, 0.5),
                ms(&run.result.latency, 0.99)
            );
            println!(
                "| Peak RSS of the WhatsApp gateway (VmHWM) | {:.1} MiB | | |",
                mib(run.peak_rss)
            );
        }
        None => println!("| Through a WhatsApp connector {SKIPPED}"),
    }
    postgres::report_rows(
        r.postgres,
        r.args.batch_size,
        r.args.connections,
        r.args.batch_connections,
    );
    println!();
    println!(
        "Where the CPU went (cores busy over each phase, {} = all of them; \"waiting\": runnable \
         but no CPU free):",
        r.cpus
    );
    println!();
    println!(
        "| Phase | Gateway | Bench client | Other processes | Gateway threads: on a CPU (+ \
         runnable, waiting for one) |"
    );
    println!("| --- | ---: | ---: | ---: | --- |");
    for phase in r.phases {
        let threads: Vec<String> = phase
            .cpu
            .threads
            .iter()
            .take(4)
            .map(|t| format!("{} {:.2} (+{:.2} waiting)", t.name, t.on_cpu, t.waiting))
            .collect();
        println!(
            "| {} | {:.2} | {:.2} (+{:.2} waiting) | {:.2} | {} |",
            phase.name,
            phase.cpu.gateway,
            phase.cpu.bench,
            phase.cpu.bench_waiting,
            phase.cpu.others,
            threads.join(", ")
        );
    }
    println!();
    println!("Details:");
    for phase in r.phases {
        println!("  {}", phase.what);
    }
    if let Some((reference, tern)) = r.smpp {
        println!("  {}", reference.line(smpp::REFERENCE));
        println!("  {}", tern.run.line("Tern"));
    }
    println!(
        "  gateway: RSS now {:.1} MiB, peak {:.1} MiB; data dir {:.1} MiB; {} messages accepted, {} \
         status reports received; stopped by SIGTERM in {:.2} s, exit 0",
        mib(r.rss_now),
        mib(r.peak_rss),
        mib(r.db_bytes),
        thousands(r.accepted_total as f64),
        thousands(r.reports as f64),
        r.stop_took.as_secs_f64()
    );
}
