//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary directory,
//! a server on a loopback port of its own (and a Unix socket in that directory), run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root). The tests
//! never touch a server they did not start. Every test takes a database of its own
//! ([`PgCluster::create_database`]), so tests of one process share one server without sharing
//! data.
//!
//! The server stops when the [`PgCluster`] is dropped, and also when the process that started it
//! ends without dropping it (a cluster kept in a `static` for a whole test binary): a small
//! watchdog started beside it stops it within a second of that process going away.
//!
//! The binaries are found in `TERN_PG_BIN` when set, else in the newest
//! `/usr/lib/postgresql/*/bin` (Debian's packages; `.ci/run` installs them when missing), else
//! on the `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser of a throwaway cluster (trusted on loopback; no password).
pub const USER: &str = "tern";

/// How to start a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    /// Whether the server fsyncs (`fsync`, `synchronous_commit` stays `on` either way). Off by
    /// default: the tests kill processes, not machines, and a crash of the server process loses
    /// nothing the operating system holds. Benchmarks turn it on.
    pub fsync: bool,
    /// `max_connections`.
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            fsync: false,
            max_connections: 200,
        }
    }
}

/// A running throwaway cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    options: PgOptions,
    /// Databases created so far (their names are numbered).
    databases: AtomicU32,
}

/// Where the server binaries are, or why none were found.
pub fn binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TERN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = Command::new("sh")
        .args(["-c", "command -v pg_ctl"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
            Some(path.parent()?.to_owned())
        });
    on_path.ok_or_else(|| {
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: install them (Debian: \
         apt-get install postgresql) or set TERN_PG_BIN to their directory"
            .to_owned()
    })
}

/// Whether this process runs as root (PostgreSQL's programs must then run as `postgres`).
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// `program` of the cluster's binaries, run as `postgres` when we are root.
fn command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgCluster {
    /// Start a cluster with the default options (panics when it cannot, saying why).
    pub fn start() -> PgCluster {
        PgCluster::start_with(PgOptions::default())
    }

    /// Start a cluster with `options`.
    pub fn start_with(options: PgOptions) -> PgCluster {
        let bin = binaries().unwrap_or_else(|why| panic!("{why}"));
        let dir = tempfile::Builder::new()
            .prefix("tern-pg-")
            .tempdir()
            .expect("a directory for the cluster");
        if is_root() {
            run(
                {
                    let mut chown = Command::new("chown");
                    chown.arg("-R").arg("postgres:").arg(dir.path());
                    chown
                },
                "chown of the cluster directory",
            );
        }
        let mut initdb = command(&bin, "initdb");
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let cluster = PgCluster {
            dir,
            bin,
            port: crate::unused_port(),
            options,
            databases: AtomicU32::new(0),
        };
        cluster.start_server();
        cluster.watch(std::process::id());
        cluster
    }

    /// One cluster for the whole test process, started on first use.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start_server(&self) {
        let settings = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {socket} -c fsync={fsync} \
             -c synchronous_commit=on -c max_connections={max} -c shared_buffers=128MB",
            port = self.port,
            socket = self.dir.path().display(),
            fsync = if self.options.fsync { "on" } else { "off" },
            max = self.options.max_connections,
        );
        // Further settings for experiments (`TERN_PG_SETTINGS="-c commit_delay=100"`), after
        // these, so that they win.
        let settings = match std::env::var("TERN_PG_SETTINGS") {
            Ok(more) if !more.trim().is_empty() => format!("{settings} {more}"),
            _ => settings,
        };
        let mut pg_ctl = command(&self.bin, "pg_ctl");
        pg_ctl
            .arg("start")
            .arg("-w")
            .args(["-t", "60"])
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .arg("-o")
            .arg(settings);
        run(pg_ctl, "pg_ctl start");
    }

    /// Stop the server as a crash would (`pg_ctl stop -m immediate`: no shutdown checkpoint;
    /// the next start recovers from the log).
    pub fn kill(&self) {
        let mut pg_ctl = command(&self.bin, "pg_ctl");
        pg_ctl
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data());
        run(pg_ctl, "pg_ctl stop");
    }

    /// Start the server again after [`PgCluster::kill`], on the same port.
    pub fn restart(&self) {
        self.start_server();
    }

    /// Stop the server when process `pid` is gone (checked every second).
    fn watch(&self, pid: u32) {
        let pg_ctl = self.bin.join("pg_ctl");
        let as_postgres = if is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {as_postgres}{pg_ctl} stop -m immediate -D {data} >/dev/null 2>&1; rm -rf {dir}",
            pg_ctl = pg_ctl.display(),
            data = self.data().display(),
            dir = self.dir.path().display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Run `sql` as the superuser on database `postgres`.
    pub fn psql(&self, sql: &str) {
        self.psql_on("postgres", sql);
    }

    /// Run `sql` as the superuser on `database`.
    pub fn psql_on(&self, database: &str, sql: &str) {
        let mut psql = Command::new(self.bin.join("psql"));
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", USER, "-d", database, "-c", sql]);
        run(psql, "psql");
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self) -> String {
        let number = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("tern_{}_{number}", std::process::id());
        self.psql(&format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Wait until the server accepts connections again (after [`PgCluster::restart`]), at most
    /// `within`.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut pg_ctl = command(&self.bin, "pg_ctl");
        let _ = pg_ctl
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_serves_databases_of_its_own_and_survives_a_crash() {
        let cluster = PgCluster::start();
        let url = cluster.create_database();
        assert!(url.starts_with(&format!("postgres://{USER}@127.0.0.1:")));
        let name = url.rsplit('/').next().unwrap().to_owned();
        cluster.psql_on(
            &name,
            "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)",
        );
        cluster.kill();
        cluster.restart();
        cluster.wait_ready(Duration::from_secs(30));
        // A committed row outlives a crash of the server (the log is replayed on start).
        cluster.psql_on(
            &name,
            "DO $$ BEGIN IF (SELECT n FROM kept) <> 7 THEN RAISE 'lost'; END IF; END $$",
        );
    }
}
