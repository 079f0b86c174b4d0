//! The PostgreSQL phases (issue 15's benchmark): single-message, batched and end-to-end load
//! against one `tern serve` on a throwaway PostgreSQL cluster on this machine (fsync on,
//! `synchronous_commit = on`), then against three nodes sharing one database (the load split
//! over the three), each figure with its node count and with what PostgreSQL itself counted over
//! the phase (rows inserted, updated and deleted per second in `messages`, `queue` and
//! `outbox`, from `pg_stat_user_tables`). Skipped, saying why, when no PostgreSQL binaries exist.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use tern_testkit::postgres::{PgCluster, PgOptions, USER};

use crate::gateway::Gateway;
use crate::load::{LoadResult, closed_loop, histogram, submit_body};
use crate::receiver::StatusReceiver;
use crate::{Cpu, CpuMeter, EndToEnd, Phase, drain, latency_summary, phase_line, thousands};

/// The tables whose counters are reported.
const TABLES: [&str; 3] = ["messages", "queue", "outbox"];

/// What the run is given.
pub struct Settings<'a> {
    pub tern: &'a Path,
    pub scratch: &'a Path,
    pub receiver: &'a StatusReceiver,
    pub duration: Duration,
    pub connections: usize,
    pub batch_connections: usize,
    pub batch_size: usize,
    pub e2e_max: u64,
    pub report_limit: Duration,
    pub ticks: f64,
    /// The node counts measured, in this order.
    pub node_counts: &'a [usize],
}

/// Rows per second PostgreSQL counted in one table over a phase.
pub struct TableRates {
    pub table: &'static str,
    pub inserted: f64,
    pub updated: f64,
    pub deleted: f64,
}

/// PostgreSQL's own figures over one phase: per table, and the server's CPU, in cores.
pub struct DbRates(pub Vec<TableRates>, pub f64);

impl DbRates {
    fn summary(&self) -> String {
        let tables = self
            .0
            .iter()
            .map(|t| {
                format!(
                    "{} {} ins/s {} upd/s {} del/s",
                    t.table,
                    thousands(t.inserted),
                    thousands(t.updated),
                    thousands(t.deleted)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        format!("{:.2} cores; {tables}", self.1)
    }

    fn of(&self, table: &str) -> Option<&TableRates> {
        self.0.iter().find(|t| t.table == table)
    }
}

/// The figures of one node count.
pub struct Figures {
    pub nodes: usize,
    pub single: (LoadResult, DbRates),
    pub batched: (LoadResult, DbRates),
    pub e2e: (EndToEnd, DbRates),
}

/// The PostgreSQL phases' figures, one entry per node count.
pub struct PgRun {
    pub runs: Vec<Figures>,
}

/// The PostgreSQL cluster's counters for `database`, read with `psql`.
struct Stats {
    psql: PathBuf,
    port: u16,
    database: String,
}

impl Stats {
    /// (inserted, updated, deleted) rows per table so far.
    fn counts(&self) -> anyhow::Result<HashMap<String, [i64; 3]>> {
        let output = Command::new(&self.psql)
            .args(["-X", "-A", "-t", "-F", ",", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", USER, "-d", &self.database, "-c"])
            .arg(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables \
                 WHERE relname IN ('messages', 'queue', 'outbox')",
            )
            .output()
            .context("cannot run psql")?;
        ensure!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut counts = HashMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let fields: Vec<&str> = line.trim().split(',').collect();
            if let [table, ins, upd, del] = fields[..] {
                counts.insert(table.to_owned(), [ins.parse()?, upd.parse()?, del.parse()?]);
            }
        }
        Ok(counts)
    }

    /// The server's main process (the parent of the checkpointer), whose children are every
    /// process of the server.
    fn postmaster(&self) -> anyhow::Result<u32> {
        let output = Command::new(&self.psql)
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", USER, "-d", &self.database, "-c"])
            .arg("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
            .output()
            .context("cannot run psql")?;
        let checkpointer: u32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("no checkpointer in pg_stat_activity")?;
        proc_stat(checkpointer)
            .map(|(parent, _)| parent)
            .context("cannot read the checkpointer's /proc stat")
    }

    /// Rates between `before` (taken at `since`) and now.
    fn rates(&self, before: &HashMap<String, [i64; 3]>, since: Instant) -> anyhow::Result<DbRates> {
        let after = self.counts()?;
        let secs = since.elapsed().as_secs_f64().max(1e-9);
        Ok(DbRates(
            TABLES
                .iter()
                .map(|&table| {
                    let was = before.get(table).copied().unwrap_or_default();
                    let now = after.get(table).copied().unwrap_or_default();
                    let rate = |i: usize| (now[i] - was[i]).max(0) as f64 / secs;
                    TableRates {
                        table,
                        inserted: rate(0),
                        updated: rate(1),
                        deleted: rate(2),
                    }
                })
                .collect(),
            0.0,
        ))
    }
}

/// Run the PostgreSQL phases; `None` (with a message) when there is no PostgreSQL here.
pub async fn run(
    settings: &Settings<'_>,
    phases: &mut Vec<Phase>,
) -> anyhow::Result<Option<PgRun>> {
    let bin = match tern_testkit::postgres::binaries() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("postgres: skipped: {why}");
            return Ok(None);
        }
    };
    let cluster = tokio::task::spawn_blocking(|| {
        PgCluster::start_with(PgOptions {
            fsync: true,
            ..PgOptions::default()
        })
    })
    .await
    .context("starting PostgreSQL panicked")?;
    eprintln!(
        "postgres: a cluster on 127.0.0.1:{} (fsync on, synchronous_commit on)",
        cluster.port()
    );
    let mut runs = Vec::new();
    for &nodes in settings.node_counts {
        runs.push(run_nodes(settings, &cluster, &bin, nodes, phases).await?);
    }
    tokio::task::spawn_blocking(move || cluster.kill())
        .await
        .context("stopping PostgreSQL panicked")?;
    Ok(Some(PgRun { runs }))
}

/// The three phases against `nodes` nodes on a database of their own.
async fn run_nodes(
    settings: &Settings<'_>,
    cluster: &PgCluster,
    bin: &Path,
    nodes: usize,
    phases: &mut Vec<Phase>,
) -> anyhow::Result<Figures> {
    let url = cluster.create_database();
    let database = url.rsplit('/').next().unwrap_or_default().to_owned();
    let stats = Stats {
        psql: bin.join("psql"),
        port: cluster.port(),
        database,
    };
    let token = create_account(settings.tern, &url, &settings.receiver.url)?;
    let dir = settings.scratch.join(format!("postgres-{nodes}"));
    let mut gateways = Vec::with_capacity(nodes);
    for n in 0..nodes {
        let data = dir.join(format!("node-{n}"));
        std::fs::create_dir_all(&data)?;
        let config = dir.join(format!("node-{n}.toml"));
        std::fs::write(
            &config,
            format!("[simulator]\ndefault_delay_ms = 0\n[cluster]\nnode_id = \"bench-{n}\"\n"),
        )?;
        gateways.push(Gateway::start_with(
            settings.tern,
            &data,
            &config,
            &["--database-url", &url, "--smpp-addr", "off"],
        )?);
    }
    let addrs: Vec<SocketAddr> = gateways.iter().map(|g| g.addr).collect();
    let pids: Vec<u32> = gateways.iter().map(Gateway::pid).collect();
    let postmaster = stats.postmaster()?;
    let label = |phase: &str| {
        format!(
            "postgres, {nodes} node{}: {phase}",
            if nodes == 1 { "" } else { "s" }
        )
    };
    eprintln!(
        "{}",
        label(&format!(
            "nodes on {}",
            addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    );
    let receiver = settings.receiver;
    let single_body = submit_body(&token, 1);
    let batch_body = submit_body(&token, settings.batch_size);
    let mut expected = receiver.count();

    // Warm-up: connections, the pools, the server's caches; not measured.
    let warm = split_closed_loop(
        &addrs,
        settings.connections,
        &single_body,
        1,
        Duration::from_secs(1),
    )
    .await?;
    expected += warm.accepted;
    drain(
        receiver,
        expected,
        settings.report_limit,
        "postgres warm-up",
    )
    .await?;

    // Single-message requests.
    let commits_before = intake_commits(&addrs);
    let before = stats.counts()?;
    let at = Instant::now();
    let meter = Meter::start(&pids, postmaster, settings.ticks);
    let single = split_closed_loop(
        &addrs,
        settings.connections,
        &single_body,
        1,
        settings.duration,
    )
    .await?;
    let (cpu, server) = meter.stop();
    let mut single_db = stats.rates(&before, at)?;
    single_db.1 = server;
    expected += single.accepted;
    let line = format!(
        "{}; PostgreSQL: {}; {}",
        phase_line(&label("single"), &single),
        single_db.summary(),
        intake_commits(&addrs).since(&commits_before)
    );
    eprintln!("{line}");
    phases.push(Phase {
        name: phase_name(nodes, "single"),
        what: line,
        cpu,
    });
    drain(receiver, expected, settings.report_limit, "postgres single").await?;

    // 100-message requests.
    let commits_before = intake_commits(&addrs);
    let before = stats.counts()?;
    let at = Instant::now();
    let meter = Meter::start(&pids, postmaster, settings.ticks);
    let batched = split_closed_loop(
        &addrs,
        settings.batch_connections,
        &batch_body,
        settings.batch_size,
        settings.duration,
    )
    .await?;
    let (cpu, server) = meter.stop();
    let mut batched_db = stats.rates(&before, at)?;
    batched_db.1 = server;
    expected += batched.accepted;
    let line = format!(
        "{}; PostgreSQL: {}; {}",
        phase_line(&label("batched"), &batched),
        batched_db.summary(),
        intake_commits(&addrs).since(&commits_before)
    );
    eprintln!("{line}");
    phases.push(Phase {
        name: phase_name(nodes, "batched"),
        what: line,
        cpu,
    });
    let drained_at = Instant::now();
    drain(
        receiver,
        expected,
        settings.report_limit,
        "postgres batched",
    )
    .await?;
    // Sizes the end-to-end phase so that it lasts about one phase, as on SQLite.
    let report_rate = batched.accepted as f64
        / (batched.elapsed + drained_at.elapsed())
            .as_secs_f64()
            .max(1e-9);

    // End to end.
    let batch = settings.batch_size as u64;
    let wanted = (report_rate * settings.duration.as_secs_f64()) as u64;
    let messages = wanted.clamp(10 * batch, settings.e2e_max.max(10 * batch)) / batch * batch;
    let before = stats.counts()?;
    let at = Instant::now();
    let meter = Meter::start(&pids, postmaster, settings.ticks);
    let e2e = crate::end_to_end_of(
        &addrs,
        batch_body.clone(),
        receiver,
        settings.batch_connections,
        settings.batch_size,
        messages,
        settings.report_limit,
    )
    .await?;
    let (cpu, server) = meter.stop();
    let mut e2e_db = stats.rates(&before, at)?;
    e2e_db.1 = server;
    expected += e2e.messages;
    let line = format!(
        "{}: {} messages, all reports in {:.2} s = {} msg/s; accept-to-report latency {}; \
         PostgreSQL: {}",
        label("end-to-end"),
        thousands(e2e.messages as f64),
        e2e.total_took.as_secs_f64(),
        thousands(e2e.per_sec()),
        latency_summary(&e2e.latency),
        e2e_db.summary()
    );
    eprintln!("{line}");
    phases.push(Phase {
        name: phase_name(nodes, "end-to-end"),
        what: line,
        cpu,
    });
    drain(
        receiver,
        expected,
        settings.report_limit,
        "postgres end-to-end",
    )
    .await?;

    for gateway in gateways {
        let (status, _) = gateway.stop(Duration::from_secs(60))?;
        ensure!(status.success(), "a PostgreSQL node exited with {status}");
    }
    Ok(Figures {
        nodes,
        single: (single, single_db),
        batched: (batched, batched_db),
        e2e: (e2e, e2e_db),
    })
}

/// What the nodes' intake committers did so far, from their `/metrics`
/// (`tern_store_commit_*`): transactions, requests in them, seconds they took.
#[derive(Default)]
struct Commits {
    transactions: f64,
    requests: f64,
    seconds: f64,
}

impl Commits {
    /// What was done since `before`, in words: transactions, requests per transaction, and
    /// the mean time from a transaction's start to its commit.
    fn since(&self, before: &Commits) -> String {
        let transactions = self.transactions - before.transactions;
        if transactions <= 0.0 {
            return "intake commits: none counted".to_owned();
        }
        format!(
            "intake commits: {} transactions, {:.1} requests each, {:.1} ms each",
            thousands(transactions),
            (self.requests - before.requests) / transactions,
            (self.seconds - before.seconds) / transactions * 1000.0
        )
    }
}

/// [`Commits`] of every node at `addrs`, summed (a node that does not answer counts nothing).
fn intake_commits(addrs: &[SocketAddr]) -> Commits {
    use std::io::{Read, Write};
    let mut commits = Commits::default();
    for addr in addrs {
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        if stream.write_all(request.as_bytes()).is_err()
            || stream.read_to_string(&mut text).is_err()
        {
            continue;
        }
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            match name {
                "tern_store_commit_batch_size_count" => commits.transactions += value,
                "tern_store_commit_batch_size_sum" => commits.requests += value,
                "tern_store_commit_duration_seconds_sum" => commits.seconds += value,
                _ => {}
            }
        }
    }
    commits
}

/// `tern account create --database-url`; the product token.
fn create_account(tern: &Path, url: &str, status_url: &str) -> anyhow::Result<String> {
    let output = Command::new(tern)
        .args(["account", "create", "--database-url", url])
        .args(["--name", "bench", "--status-url", status_url])
        .env("TERN_LOG", "warn")
        .output()
        .with_context(|| format!("cannot run {}", tern.display()))?;
    ensure!(
        output.status.success(),
        "`tern account create --database-url` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)?
        .lines()
        .last()
        .map(|line| line.trim().to_owned())
        .unwrap_or_default();
    ensure!(!token.is_empty(), "`tern account create` printed no token");
    Ok(token)
}

/// [`closed_loop`] over every node at once, `connections` split evenly over them; one result.
async fn split_closed_loop(
    addrs: &[SocketAddr],
    connections: usize,
    body: &Bytes,
    per_request: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let mut tasks = tokio::task::JoinSet::new();
    for (n, &addr) in addrs.iter().enumerate() {
        // The remainder goes to the first nodes.
        let share = connections / addrs.len() + usize::from(n < connections % addrs.len());
        tasks.spawn(closed_loop(
            addr,
            share.max(1),
            body.clone(),
            per_request,
            duration,
        ));
    }
    let mut all = LoadResult {
        requests: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
        latency_from_schedule: None,
    };
    while let Some(joined) = tasks.join_next().await {
        let result = joined.context("load task panicked")??;
        all.requests += result.requests;
        all.accepted += result.accepted;
        all.elapsed = all.elapsed.max(result.elapsed);
        all.latency
            .add(&result.latency)
            .expect("same histogram bounds");
    }
    Ok(all)
}

/// The report table's rows for the PostgreSQL phases.
pub fn report_rows(
    run: Option<&PgRun>,
    batch_size: usize,
    connections: usize,
    batch_connections: usize,
) {
    let Some(run) = run else {
        println!("| On PostgreSQL | skipped (no PostgreSQL binaries, or not asked for) | | |");
        return;
    };
    for figures in &run.runs {
        let nodes = match figures.nodes {
            1 => "1 node".to_owned(),
            n => format!("{n} nodes"),
        };
        let target = |measured: f64, target: Option<f64>| match target {
            Some(target) => format!(
                "| {} | {} | {} |",
                thousands(measured),
                thousands(target),
                crate::verdict(measured >= target)
            ),
            None => format!("| {} | | |", thousands(measured)),
        };
        // The targets are for one node.
        let one = figures.nodes == 1;
        let (single, single_db) = &figures.single;
        println!(
            "| PostgreSQL, {nodes}: accepted msg/s, 1-message requests, {connections} connections \
             (PostgreSQL: {} messages ins/s, {:.2} cores) {}",
            thousands(single_db.of("messages").map_or(0.0, |t| t.inserted)),
            single_db.1,
            target(
                single.accepted_per_sec(),
                one.then_some(crate::TARGET_PG_SINGLE)
            )
        );
        let (batched, batched_db) = &figures.batched;
        println!(
            "| PostgreSQL, {nodes}: accepted msg/s, {batch_size}-message requests, \
             {batch_connections} connections (PostgreSQL: {} messages ins/s, {:.2} cores) {}",
            thousands(batched_db.of("messages").map_or(0.0, |t| t.inserted)),
            batched_db.1,
            target(
                batched.accepted_per_sec(),
                one.then_some(crate::TARGET_PG_BATCHED)
            )
        );
        let (e2e, e2e_db) = &figures.e2e;
        println!(
            "| PostgreSQL, {nodes}: end-to-end msg/s ({} messages; PostgreSQL: queue {} upd/s \
             claimed, outbox {} ins/s, {:.2} cores) {}",
            thousands(e2e.messages as f64),
            thousands(e2e_db.of("queue").map_or(0.0, |t| t.updated)),
            thousands(e2e_db.of("outbox").map_or(0.0, |t| t.inserted)),
            e2e_db.1,
            target(e2e.per_sec(), None)
        );
    }
}

/// (parent pid, utime + stime ticks) of process `pid`.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the comm start at field 3 (state): ppid is field 4, utime and stime 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((parent, utime + stime))
}

/// CPU ticks used so far by the PostgreSQL server: its main process and every child still
/// running (a connection closed during a phase takes its ticks with it).
fn server_ticks(postmaster: u32) -> u64 {
    let own = proc_stat(postmaster).map_or(0, |(_, ticks)| ticks);
    let children: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| match proc_stat(pid) {
            Some((parent, ticks)) if parent == postmaster => Some(ticks),
            _ => None,
        })
        .sum();
    own + children
}

/// CPU over a phase: every node's (the first node's threads), the bench's, and the server's.
struct Meter {
    nodes: Vec<CpuMeter>,
    postmaster: u32,
    server: u64,
    at: Instant,
    ticks: f64,
}

impl Meter {
    fn start(pids: &[u32], postmaster: u32, ticks: f64) -> Meter {
        Meter {
            nodes: pids
                .iter()
                .map(|&pid| CpuMeter::start(pid, ticks))
                .collect(),
            postmaster,
            server: server_ticks(postmaster),
            at: Instant::now(),
            ticks,
        }
    }

    /// The phase's CPU (the gateway column: every node, their threads the first node's;
    /// "others": the rest of the machine, PostgreSQL included) and the server's cores.
    fn stop(self) -> (Cpu, f64) {
        let server = server_ticks(self.postmaster).saturating_sub(self.server) as f64
            / self.ticks
            / self.at.elapsed().as_secs_f64().max(1e-9);
        let mut nodes = self.nodes.into_iter().map(CpuMeter::stop);
        let mut cpu = nodes.next().expect("at least one node");
        for other in nodes {
            cpu.gateway += other.gateway;
            cpu.others = (cpu.others - other.gateway).max(0.0);
        }
        (cpu, server)
    }
}

/// The CPU table's name of `phase` on `nodes` nodes.
fn phase_name(nodes: usize, phase: &str) -> &'static str {
    match (nodes, phase) {
        (1, "single") => "postgres 1 node: single",
        (1, "batched") => "postgres 1 node: batched",
        (1, _) => "postgres 1 node: end-to-end",
        (_, "single") => "postgres 3 nodes: single",
        (_, "batched") => "postgres 3 nodes: batched",
        _ => "postgres 3 nodes: end-to-end",
    }
}
