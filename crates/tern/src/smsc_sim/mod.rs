//! `tern smsc-sim`: a standalone SMSC simulator for tests, benchmarks and trying a setup. It
//! accepts SMPP 3.4 binds, answers submit_sm / data_sm with message ids in a configurable
//! format, sends delivery receipts (deliver_sm, esm_class 0x04) after a configurable delay with
//! outcomes chosen by destination prefix, and offers a small HTTP control API: inject an MO,
//! throttle, drop every session, read counters. Uses Tern's own SMPP codec and session state
//! machine (tern-proto); shares nothing with the gateway's SMPP server at run time.

mod config;
mod connection;
mod control;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tern_proto::smpp::{BindKind, Pdu};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use config::IdFormat;
pub use config::SimConfig;

/// The system_id the simulator answers binds with.
pub const SERVER_SYSTEM_ID: &str = "smsc-sim";

/// `tern smsc-sim` arguments.
#[derive(Debug, clap::Args)]
pub struct SmscSimArgs {
    /// SMPP listen address (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:2776")]
    pub addr: SocketAddr,
    /// HTTP control API listen address (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:2777")]
    pub control_addr: SocketAddr,
    /// TOML configuration file (credentials, id_format, receipt_format, receipt_delay_ms,
    /// [[rule]]s).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// A bound session deliver_sm can be sent to.
struct Peer {
    system_id: String,
    kind: BindKind,
    outbox: mpsc::UnboundedSender<Pdu>,
}

impl Peer {
    fn may_receive(&self) -> bool {
        matches!(self.kind, BindKind::Receiver | BindKind::Transceiver)
    }
}

/// Counters `GET /stats` shows.
#[derive(Debug, Default)]
struct Stats {
    binds: AtomicU64,
    submits: AtomicU64,
    receipts: AtomicU64,
    mo: AtomicU64,
}

/// The simulator's shared state.
pub struct Sim {
    config: SimConfig,
    /// Bound sessions by connection number.
    peers: Mutex<BTreeMap<u64, Peer>>,
    /// Receipts no session could take yet, by system_id: sent to the next receiver or
    /// transceiver that binds with it. Locked only with `peers` held.
    pending_receipts: Mutex<HashMap<String, Vec<Pdu>>>,
    next_connection: AtomicU64,
    /// Ids are `id_base + n`: unique across restarts, so a gateway never matches a receipt to a
    /// message of an earlier run.
    id_base: u64,
    next_id: AtomicU64,
    next_concat_reference: AtomicU16,
    throttled_until: Mutex<Option<Instant>>,
    /// Bumped to drop every session (`POST /disconnect`).
    disconnect: watch::Sender<u64>,
    /// Set on SIGINT/SIGTERM: every bound session is unbound, then closed.
    stopping: watch::Sender<bool>,
    /// Connections open.
    open: AtomicUsize,
    stats: Stats,
}

impl Sim {
    fn new(config: SimConfig) -> Sim {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Sim {
            config,
            peers: Mutex::new(BTreeMap::new()),
            pending_receipts: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            id_base: millis << 16,
            next_id: AtomicU64::new(0),
            next_concat_reference: AtomicU16::new(1),
            throttled_until: Mutex::new(None),
            disconnect: watch::channel(0).0,
            stopping: watch::channel(false).0,
            open: AtomicUsize::new(0),
            stats: Stats::default(),
        }
    }

    /// A new message id in the configured format.
    fn new_message_id(&self) -> String {
        let n = self.id_base + self.next_id.fetch_add(1, Ordering::Relaxed);
        match self.config.id_format {
            IdFormat::Hex => format!("{n:016x}"),
            IdFormat::Decimal => n.to_string(),
            IdFormat::Uuid => uuid::Uuid::new_v4().hyphenated().to_string(),
        }
    }

    fn throttled(&self) -> bool {
        let until = self
            .throttled_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|until| Instant::now() < until)
    }

    fn throttle_for(&self, duration: Duration) {
        *self
            .throttled_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + duration);
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Peer>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a bound session; a receiver or transceiver gets the receipts held for its
    /// system_id (queued after its bind_resp).
    fn bound(&self, id: u64, peer: Peer) {
        let mut peers = self.peers();
        if peer.may_receive() {
            let held = self
                .pending_receipts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer.system_id)
                .unwrap_or_default();
            for receipt in held {
                if peer.outbox.send(receipt).is_ok() {
                    self.stats.receipts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        peers.insert(id, peer);
    }

    /// Sends a receipt to `submitter` if it is a transceiver, else to a receiver or transceiver
    /// bound with the same system_id. False when nobody can take it: the receipt is then held
    /// for the next such bind.
    fn send_receipt(&self, submitter: u64, system_id: &str, pdu: Pdu) -> bool {
        let peers = self.peers();
        let own = peers
            .get(&submitter)
            .filter(|peer| peer.kind == BindKind::Transceiver);
        let mut candidates = own.into_iter().chain(
            peers
                .values()
                .filter(|peer| peer.may_receive() && peer.system_id == system_id),
        );
        let sent = candidates.any(|peer| peer.outbox.send(pdu.clone()).is_ok());
        if sent {
            self.stats.receipts.fetch_add(1, Ordering::Relaxed);
        } else {
            self.pending_receipts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(system_id.to_owned())
                .or_default()
                .push(pdu);
        }
        sent
    }

    /// Sends an MO's parts to one session that may receive; false when none is bound.
    fn send_mo(&self, parts: Vec<Pdu>) -> bool {
        let peers = self.peers();
        let Some(peer) = peers
            .values()
            .find(|peer| peer.may_receive() && !peer.outbox.is_closed())
        else {
            return false;
        };
        for part in parts {
            let _ = peer.outbox.send(part);
        }
        self.stats.mo.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Runs the simulator until SIGINT or SIGTERM.
pub async fn run(args: SmscSimArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => SimConfig::load(path)?,
        None => SimConfig::default(),
    };
    let shutdown = crate::serve::shutdown_signal()?;
    let smpp = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let control = TcpListener::bind(args.control_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.control_addr))?;
    let sim = Arc::new(Sim::new(config));
    println!("smsc-sim listening on {}", smpp.local_addr()?);
    println!("smsc-sim control on {}", control.local_addr()?);

    let (stop_tx, stop_rx) = watch::channel(false);
    let accept = tokio::spawn(connection::accept(Arc::clone(&sim), smpp, stop_rx.clone()));
    let mut control_stop = stop_rx;
    let control_server = axum::serve(control, control::router(Arc::clone(&sim)))
        .with_graceful_shutdown(async move {
            let _ = control_stop.wait_for(|stop| *stop).await;
        });
    let control_task = tokio::spawn(async move { control_server.await });

    shutdown.await;
    tracing::info!("smsc-sim stopping");
    let _ = stop_tx.send(true);
    let _ = accept.await;
    // Sessions unbind (each waits up to UNBIND_WAIT for its unbind_resp) and close.
    sim.stopping.send_replace(true);
    let deadline = Instant::now() + connection::UNBIND_WAIT + Duration::from_millis(500);
    while sim.open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), control_task).await;
    println!("smsc-sim stopped");
    Ok(())
}
