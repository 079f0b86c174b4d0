//! The SMPP client connector: real SMS out to an operator's or aggregator's SMSC, receipts and
//! MO messages back. It keeps `binds` sessions bound (reconnecting with a doubling backoff
//! between `reconnect_min_ms` and `reconnect_max_ms`, logging each state change), pipelines
//! submit_sm within each session's `window`, holds `max_submits_per_sec` parts per second
//! over all of them, and on ESME_RTHROTTLED or ESME_RMSGQFUL slows down and sends the part
//! again. A part whose submit_sm_resp never came (the session dropped, or went silent) is sent
//! again on another session, or on the same one once it is back: at least once toward the SMSC;
//! a receipt for the lost copy names an id Tern never stored and changes nothing. Receipts are
//! matched to the parts by the ids submit_sm_resp gave (per `receipt_id_format`) and recorded
//! as part reports ([`tern_core::part_reports`]) before they are acknowledged.
//!
//! On a gateway of several nodes (a shared store), `binds` and `max_submits_per_sec` hold for
//! the gateway as a whole: each node keeps only its share of the sessions and of the rate
//! ([`crate::cluster::ClusterView::share`]), following the live nodes as they come and go
//! (a share given up at once, a larger one taken up only once the other nodes have had time to
//! give theirs up). A node whose share is nothing (more nodes than binds) keeps no session and
//! takes none of the connector's messages: it says they are carried elsewhere
//! (`ConnectorHealth::Elsewhere`), so the dispatcher gives them back to the shared queue, due
//! again a moment later for whichever node claims them, and never to a route's failover. A
//! receipt may come on any node's session: the part it names is found in the shared store.

mod config;
mod link;
mod receipts;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tern_core::channel::Channel;
use tern_core::dispatch::Event;
use tern_core::error_code::DeliveryError;
use tern_core::hold::Hold;
use tern_core::metrics::{self, InboundOutcome};
use tern_core::outgoing_sms::outgoing_parts;
use tern_core::ports::{
    Connector, ConnectorError, ConnectorHealth, Dispatch, ErrorOrigin, EventSink, InboundStore,
    QueueStore, Sent, SentPart,
};
use tern_core::rate::TokenBucket;
use tern_core::status::CmStatus;
use tern_proto::smpp::{Bind, BindKind, Command, CommandStatus, Pdu, SubmitSm};
use tern_proto::sms::ConcatReferences;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

pub use config::{BindMode, SmppConnectorConfig};

use crate::cluster::{ClusterView, ELSEWHERE_RETRY, Share, ShareHolder, follow_shares};
use link::{Deliveries, Link, LinkSettings};
use receipts::Delivered;
use tern_proto::smpp::{canonical_receipt_id, canonical_submit_id};

/// How long one send may keep trying (throttled, waiting for a session) before it gives the
/// message back as a temporary failure; well within the dispatcher's lease.
const SEND_BUDGET: Duration = Duration::from_secs(20);
/// The first pause after ESME_RTHROTTLED / ESME_RMSGQFUL; doubled on each one in a row.
const THROTTLE_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause after throttling.
const MAX_THROTTLE_PAUSE: Duration = Duration::from_secs(5);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Recently sent parts kept in memory, for receipts that come before the send is recorded.
const RECENT_PARTS: usize = 262_144;
/// The pauses before a receipt whose id is not found yet is looked up again (its send may not
/// be recorded yet), about 5 s in all: an id Tern never gave (a lost copy's, another system's)
/// costs a handful of look-ups, not a stream of them.
const RECEIPT_LOOKUP_PAUSES: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1500),
    Duration::from_secs(3),
];
/// Why an SMPP connector cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SmppSetupError {
    #[error("[[connector]] {name:?}: {message}")]
    Invalid { name: String, message: String },
}

/// Parts sent lately, by their canonical id.
#[derive(Default)]
struct RecentParts {
    by_id: HashMap<String, SentPart>,
    order: VecDeque<String>,
}

impl RecentParts {
    fn insert(&mut self, id: String, part: SentPart) {
        if self.by_id.insert(id.clone(), part).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > RECENT_PARTS {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }
}

/// The sessions this node keeps, as far as the cluster lets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Every configured session (one node: no cluster view is followed).
    Whole,
    /// Following the live nodes, none read yet (or a first share waiting for the others to give
    /// theirs up): the next look is after this long.
    Waiting(Duration),
    /// This node's share among `nodes` live nodes.
    Part { share: Share, nodes: usize },
}

/// One of this node's sessions (a bind, or a bind pair) and what stops it.
struct Slot {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Inner {
    name: Arc<str>,
    config: SmppConnectorConfig,
    sink: Arc<dyn EventSink>,
    store: Arc<dyn QueueStore>,
    inbound: Arc<dyn InboundStore>,
    wakeups: Arc<crate::Wakeups>,
    tls: Option<tokio_rustls::TlsConnector>,
    /// Bound sessions that take submits.
    links: Mutex<Vec<Arc<Link>>>,
    next_link: AtomicUsize,
    link_up: Notify,
    bucket: Mutex<TokenBucket>,
    /// While set and in the future, no submit goes out (the SMSC said it is throttling).
    paused_until: Mutex<Option<Instant>>,
    /// Why it is down and when its next reconnect is.
    down: Mutex<(String, Instant)>,
    draining: std::sync::atomic::AtomicBool,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The sessions kept, the first one first.
    slots: tokio::sync::Mutex<Vec<Slot>>,
    /// The live nodes to share `binds` and `max_submits_per_sec` with (several nodes).
    cluster: Option<watch::Receiver<Option<ClusterView>>>,
    held: Mutex<Held>,
    recent: Arc<Mutex<RecentParts>>,
    references: Mutex<ConcatReferences>,
}

/// The connector's sessions and submit rate follow this node's share of the cluster's.
impl ShareHolder for Arc<Inner> {
    /// Hold `share` of the connector among `nodes` live nodes.
    async fn hold(&self, share: Share, nodes: usize) {
        tracing::info!(connector = %self.name, binds = share.binds, max_submits_per_sec = share.rate, nodes, "connector's share of the cluster's sessions");
        {
            let mut held = self.held.lock().expect("held lock");
            // The same rate among another number of nodes: the bucket carries on.
            let same_rate =
                matches!(*held, Held::Part { share: before, .. } if before.rate == share.rate);
            if share.rate > 0 && !same_rate {
                // Empty at first: the rate given up by another node may have been used this
                // second.
                *self.bucket.lock().expect("bucket lock") =
                    TokenBucket::empty(share.rate, Instant::now());
            }
            *held = Held::Part { share, nodes };
        }
        // Sends waiting for a session look again (none may come now).
        self.link_up.notify_waiters();
        self.set_binds(share.binds).await;
    }

    fn waiting(&self, settle: Duration) {
        *self.held.lock().expect("held lock") = Held::Waiting(settle);
    }
}

/// An SMPP client connector.
pub struct SmppConnector {
    inner: Arc<Inner>,
}

impl SmppConnector {
    /// A connector named `name` with `config`, whose files are relative to `base_dir`;
    /// statuses go to `sink`, receipts are matched through `store`, MO messages are stored in
    /// `inbound` (and `wakeups` told of their webhooks).
    pub fn new(
        name: &str,
        config: SmppConnectorConfig,
        base_dir: &Path,
        sink: Arc<dyn EventSink>,
        store: Arc<dyn QueueStore>,
        inbound: Arc<dyn InboundStore>,
        wakeups: Arc<crate::Wakeups>,
    ) -> Result<SmppConnector, SmppSetupError> {
        let invalid = |message: String| SmppSetupError::Invalid {
            name: name.to_owned(),
            message,
        };
        config.validate().map_err(invalid)?;
        let tls = if config.tls {
            Some(
                tls_connector(
                    config
                        .tls_ca_file
                        .as_deref()
                        .map(|file| base_dir.join(file)),
                )
                .map_err(invalid)?,
            )
        } else {
            None
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let (stop, _) = watch::channel(false);
        Ok(SmppConnector {
            inner: Arc::new(Inner {
                name: name.into(),
                bucket: Mutex::new(TokenBucket::new(config.max_submits_per_sec, Instant::now())),
                config,
                sink,
                store,
                inbound,
                wakeups,
                tls,
                links: Mutex::new(Vec::new()),
                next_link: AtomicUsize::new(0),
                link_up: Notify::new(),
                paused_until: Mutex::new(None),
                down: Mutex::new(("not bound yet".into(), Instant::now())),
                draining: std::sync::atomic::AtomicBool::new(false),
                stop,
                tasks: Mutex::new(Vec::new()),
                slots: tokio::sync::Mutex::new(Vec::new()),
                cluster: None,
                held: Mutex::new(Held::Whole),
                recent: Arc::new(Mutex::new(RecentParts::default())),
                references: Mutex::new(ConcatReferences::with_seed(seed)),
            }),
        })
    }
}

impl SmppConnector {
    /// Share `binds` and `max_submits_per_sec` with the other live nodes of `views` (a gateway
    /// of several nodes on one store) instead of keeping them all.
    pub fn sharing_with(mut self, views: watch::Receiver<Option<ClusterView>>) -> SmppConnector {
        let inner = Arc::get_mut(&mut self.inner).expect("not started yet");
        inner.cluster = Some(views);
        inner.held = Mutex::new(Held::Waiting(Duration::from_millis(100)));
        self
    }
}

/// The TLS client of `ca_file`'s certificates, or of the system's roots.
fn tls_connector(
    ca_file: Option<std::path::PathBuf>,
) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let certificates = CertificateDer::pem_file_iter(&file)
                .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                .map_err(|error| format!("cannot read tls_ca_file {}: {error}", file.display()))?;
            if certificates.is_empty() {
                return Err(format!(
                    "tls_ca_file {} holds no certificate",
                    file.display()
                ));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| format!("tls_ca_file {}: {error}", file.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for certificate in found.certs {
                let _ = roots.add(certificate);
            }
        }
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| error.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client)))
}

impl Inner {
    fn bind(&self) -> Bind {
        Bind {
            system_id: self.config.system_id.clone(),
            password: self.config.password.clone(),
            system_type: self.config.system_type.clone(),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        }
    }

    /// Connect and bind one session of `kind`.
    async fn open(self: &Arc<Self>, kind: BindKind, label: String) -> Result<Arc<Link>, String> {
        let address = (self.config.host.as_str(), self.config.port);
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| {
                format!(
                    "connect to {}:{} timed out",
                    self.config.host, self.config.port
                )
            })?
            .map_err(|error| {
                format!(
                    "connect to {}:{}: {error}",
                    self.config.host, self.config.port
                )
            })?;
        let _ = stream.set_nodelay(true);
        let settings = LinkSettings {
            kind,
            label,
            bind: self.bind(),
            window: self.config.window,
            response_timeout: Duration::from_secs(self.config.response_timeout_secs),
            enquire_link: Duration::from_secs(self.config.enquire_link_secs),
        };
        let deliveries: Arc<dyn Deliveries> = Arc::new(Receiving(Arc::clone(self)));
        let opened = match &self.tls {
            None => link::open(stream, settings, deliveries).await,
            Some(tls) => {
                let server = rustls_pki_types::ServerName::try_from(self.config.host.clone())
                    .map_err(|error| {
                        format!(
                            "host {:?} cannot be checked by TLS: {error}",
                            self.config.host
                        )
                    })?;
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(server, stream))
                    .await
                    .map_err(|_| "TLS handshake timed out".to_owned())?
                    .map_err(|error| format!("TLS handshake: {error}"))?;
                link::open(stream, settings, deliveries).await
            }
        };
        opened.map_err(|error| error.to_string())
    }

    /// Keep one session of `kind` bound until the connector stops.
    async fn keep_bound(
        self: Arc<Self>,
        kind: BindKind,
        label: String,
        mut stop: watch::Receiver<bool>,
    ) {
        let min = Duration::from_millis(self.config.reconnect_min_ms);
        let max = Duration::from_millis(self.config.reconnect_max_ms);
        let mut backoff = min;
        loop {
            let stopping = *stop.borrow();
            if stopping {
                return;
            }
            let opened = tokio::select! {
                opened = self.open(kind, label.clone()) => opened,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            let reason = match opened {
                Ok(link) => {
                    backoff = min;
                    tracing::info!(connector = %self.name, session = %label, bind = ?kind, host = %self.config.host, port = self.config.port, "connector bound");
                    if link.transmits() {
                        self.links
                            .lock()
                            .expect("links lock")
                            .push(Arc::clone(&link));
                        self.link_up.notify_waiters();
                    }
                    // Registered before the check, so a close in between is not missed.
                    let stopped = loop {
                        let closed = link.closed_notify.notified();
                        tokio::pin!(closed);
                        closed.as_mut().enable();
                        if link.is_closed() {
                            break false;
                        }
                        tokio::select! {
                            _ = closed => {}
                            _ = stop.wait_for(|stop| *stop) => break true,
                        }
                    };
                    if stopped {
                        self.forget(&link);
                        link.unbind().await;
                        return;
                    }
                    self.forget(&link);
                    let reason = link.reason();
                    tracing::warn!(connector = %self.name, session = %label, %reason, "connector lost");
                    reason
                }
                Err(reason) => reason,
            };
            let next = Instant::now() + backoff;
            *self.down.lock().expect("down lock") = (reason.clone(), next);
            tracing::warn!(connector = %self.name, session = %label, %reason, retry_in_ms = backoff.as_millis() as u64, "connector reconnecting");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(max);
        }
    }

    /// Keep `wanted` sessions (bind pairs): the last ones stop (unbound, their submits sent
    /// again on the others), or new ones start.
    async fn set_binds(self: &Arc<Self>, wanted: u32) {
        let kinds: Vec<(BindKind, &str)> = match self.config.bind {
            BindMode::Transceiver => vec![(BindKind::Transceiver, "trx")],
            BindMode::TransmitterReceiver => {
                vec![(BindKind::Transmitter, "tx"), (BindKind::Receiver, "rx")]
            }
        };
        let wanted = wanted as usize;
        let mut slots = self.slots.lock().await;
        // Stopped side by side: each unbinds.
        let kept = wanted.min(slots.len());
        let stopped = slots.split_off(kept);
        for slot in &stopped {
            let _ = slot.stop.send(true);
        }
        for task in stopped.into_iter().flat_map(|slot| slot.tasks) {
            let _ = task.await;
        }
        while slots.len() < wanted {
            let number = slots.len() + 1;
            let (stop, stopping) = watch::channel(false);
            let tasks = kinds
                .iter()
                .map(|(kind, short)| {
                    tokio::spawn(Arc::clone(self).keep_bound(
                        *kind,
                        format!("{short}{number}"),
                        stopping.clone(),
                    ))
                })
                .collect();
            slots.push(Slot { stop, tasks });
        }
    }

    /// Whether this node holds no session of the connector by the cluster's division (the
    /// other nodes send its messages).
    fn has_no_share(&self) -> Option<usize> {
        match *self.held.lock().expect("held lock") {
            Held::Part { share, nodes } if share.binds == 0 => Some(nodes),
            _ => None,
        }
    }

    /// The temporary error of a send on a node with no share among `nodes`.
    fn elsewhere(&self, nodes: usize) -> ConnectorError {
        ConnectorError::temporary(
            ErrorOrigin::Tern,
            Some(ELSEWHERE_RETRY),
            format!(
                "this node holds none of the connector's {} binds (shared by {nodes} live nodes); another node sends it",
                self.config.binds
            ),
        )
    }

    fn forget(&self, link: &Arc<Link>) {
        self.links
            .lock()
            .expect("links lock")
            .retain(|other| !Arc::ptr_eq(other, link));
    }

    /// A bound session that takes submits, round-robin.
    fn pick(&self) -> Option<Arc<Link>> {
        let links = self.links.lock().expect("links lock");
        let open = links.iter().filter(|link| link.transmits()).count();
        if open == 0 {
            return None;
        }
        let next = self.next_link.fetch_add(1, Ordering::Relaxed) % open;
        links
            .iter()
            .filter(|link| link.transmits())
            .nth(next)
            .map(Arc::clone)
    }

    /// Wait until the rate and any throttling pause let one more part go.
    async fn pace(&self) {
        let paused = *self.paused_until.lock().expect("pause lock");
        if let Some(until) = paused {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
        let wait = self
            .bucket
            .lock()
            .expect("bucket lock")
            .take_or_wait(1, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Submit one part (`part` of its message) until the SMSC takes it (its id) or the budget
    /// runs out. The part is known under its id from the moment the resp is read, before any
    /// receipt that follows it. Each submit_sm is written only while `hold` holds (the message's
    /// lease, for its first part: once one part is out, the rest follow it).
    async fn submit(
        &self,
        submit: SubmitSm,
        part: SentPart,
        deadline: Instant,
        hold: &Hold,
    ) -> Result<String, ConnectorError> {
        let mut pause = THROTTLE_PAUSE;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ConnectorError::temporary(
                    ErrorOrigin::Provider,
                    Some(pause),
                    "the SMSC did not take the part in time (throttled or unreachable)",
                ));
            }
            if let Some(nodes) = self.has_no_share() {
                return Err(self.elsewhere(nodes));
            }
            self.pace().await;
            let link = match self.pick() {
                Some(link) => link,
                None => {
                    let up = self.link_up.notified();
                    tokio::pin!(up);
                    up.as_mut().enable();
                    if self.pick().is_none() {
                        let _ = tokio::time::timeout(deadline - Instant::now(), up).await;
                    }
                    continue;
                }
            };
            hold.ensure()?;
            let recent = Arc::clone(&self.recent);
            let format = self.config.receipt_id_format;
            let known = part.clone();
            let on_answer: link::OnAnswer = Box::new(move |answer: &Command| {
                if let (CommandStatus::ESME_ROK, Pdu::SubmitSmResp(id)) =
                    (answer.command_status, &answer.pdu)
                {
                    let id = canonical_submit_id(format, id);
                    recent.lock().expect("recent lock").insert(id, known);
                }
            });
            let answer = link
                .request(Pdu::SubmitSm(Box::new(submit.clone())), Some(on_answer))
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                // Sent again on another session, or once one is back.
                Err(_) => continue,
            };
            let status = answer.command_status;
            match (status, answer.pdu) {
                (CommandStatus::ESME_ROK, Pdu::SubmitSmResp(id)) if !id.is_empty() => {
                    return Ok(id);
                }
                (CommandStatus::ESME_ROK, _) => {
                    return Err(ConnectorError::temporary(
                        ErrorOrigin::Provider,
                        None,
                        "submit_sm_resp without a message id",
                    ));
                }
                (CommandStatus::ESME_RTHROTTLED | CommandStatus::ESME_RMSGQFUL, _) => {
                    let until = Instant::now() + pause;
                    {
                        let mut paused = self.paused_until.lock().expect("pause lock");
                        if paused.is_none_or(|at| at < until) {
                            *paused = Some(until);
                        }
                    }
                    tracing::info!(connector = %self.name, %status, pause_ms = pause.as_millis() as u64, "SMSC throttling; slowing down");
                    pause = (pause * 2).min(MAX_THROTTLE_PAUSE);
                }
                (CommandStatus::ESME_RSYSERR, _) => {
                    return Err(ConnectorError::temporary(
                        ErrorOrigin::Provider,
                        None,
                        format!("submit_sm refused for now: {status}"),
                    ));
                }
                (status, _) => {
                    return Err(ConnectorError::permanent(
                        ErrorOrigin::Provider,
                        Some(self.config.default_error_code),
                        format!("submit_sm refused: {status}"),
                    ));
                }
            }
        }
    }

    /// The submit_sm of one part to `recipient`.
    fn submit_sm(
        &self,
        message: &Dispatch,
        part: tern_core::outgoing_sms::OutgoingPart,
    ) -> SubmitSm {
        SubmitSm {
            source_addr_ton: self.config.source_ton,
            source_addr_npi: self.config.source_npi,
            source_addr: address(self.config.source_ton, &message.content.from),
            dest_addr_ton: self.config.dest_ton,
            dest_addr_npi: self.config.dest_npi,
            destination_addr: address(self.config.dest_ton, &message.recipient),
            esm_class: if part.udhi { 0x40 } else { 0 },
            registered_delivery: 1,
            data_coding: part.data_coding,
            short_message: part.short_message,
            ..SubmitSm::default()
        }
    }

    /// The part a receipt names, by its canonical id: from memory, else from the store
    /// (looked up again for a while: its send may not be recorded yet).
    async fn sent_part(&self, id: &str) -> Option<SentPart> {
        let mut pauses = RECEIPT_LOOKUP_PAUSES.iter();
        loop {
            if let Some(part) = self.recent.lock().expect("recent lock").by_id.get(id) {
                return Some(part.clone());
            }
            match self.store.sent_part(&self.name, id).await {
                Ok(Some(part)) => return Some(part),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(connector = %self.name, %error, "cannot look up a receipt's message");
                }
            }
            tokio::time::sleep(*pauses.next()?).await;
        }
    }

    /// An MO part: stored durably before it is acknowledged.
    async fn mo(&self, pdu: &Pdu) -> CommandStatus {
        let Some(part) = receipts::mo_part(pdu, &self.name, jiff::Timestamp::now()) else {
            return CommandStatus::ESME_ROK;
        };
        match self.inbound.accept_inbound(vec![part]).await {
            Ok(()) => {
                metrics::inbound(Channel::Sms, InboundOutcome::Accepted, 1);
                self.wakeups.outbox_written();
                CommandStatus::ESME_ROK
            }
            Err(error) => {
                metrics::inbound(Channel::Sms, InboundOutcome::Failed, 1);
                // Not stored: the SMSC sends it again.
                tracing::error!(connector = %self.name, %error, "cannot store an MO message");
                CommandStatus::ESME_RX_T_APPN
            }
        }
    }

    /// A receipt or MO from the SMSC: the status to answer with.
    async fn delivered(&self, command: Command) -> CommandStatus {
        let (receipt_id, status) = match receipts::sort(
            &command.pdu,
            self.config.default_error_code,
        ) {
            Delivered::Receipt { id, status } => (id, status),
            Delivered::UnreadableReceipt(why) => {
                // Answered: sent again, it would say the same.
                tracing::warn!(connector = %self.name, %why, "receipt that cannot be used; ignored");
                return CommandStatus::ESME_ROK;
            }
            Delivered::Mo => return self.mo(&command.pdu).await,
        };
        let Some(id) = canonical_receipt_id(self.config.receipt_id_format, &receipt_id) else {
            tracing::warn!(connector = %self.name, id = %receipt_id, "receipt with an empty id; ignored");
            return CommandStatus::ESME_ROK;
        };
        let Some(part) = self.sent_part(&id).await else {
            tracing::warn!(connector = %self.name, id = %receipt_id, "receipt for a message id Tern did not send (or no longer knows); ignored");
            return CommandStatus::ESME_ROK;
        };
        let event = Event::PartReport {
            attempt: part.attempt,
            part_index: part.part_index,
            status: status.status,
            error_code: status.error,
            operator: status.operator,
        };
        if self.sink.emit_recorded(part.message_id, event).await {
            if status.status != CmStatus::Accepted {
                self.recent.lock().expect("recent lock").by_id.remove(&id);
            }
            CommandStatus::ESME_ROK
        } else {
            // Not recorded: the SMSC sends it again.
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

/// An address in the form its TON asks for: international numbers without `+` or `00`.
fn address(ton: u8, number: &str) -> String {
    if ton == 1 {
        let digits = number.trim_start_matches('+');
        digits.strip_prefix("00").unwrap_or(digits).to_owned()
    } else {
        number.to_owned()
    }
}

/// The connector as the sessions' readers reach it.
struct Receiving(Arc<Inner>);

impl Deliveries for Receiving {
    fn deliver(
        &self,
        _link: Arc<Link>,
        command: Command,
    ) -> Pin<Box<dyn std::future::Future<Output = CommandStatus> + Send>> {
        let inner = Arc::clone(&self.0);
        Box::pin(async move { inner.delivered(command).await })
    }
}

#[async_trait]
impl Connector for SmppConnector {
    fn name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name)
    }

    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
        let inner = &self.inner;
        let reference = inner
            .references
            .lock()
            .expect("references lock")
            .next(&message.recipient);
        let parts = outgoing_parts(&message.content, reference).map_err(|error| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(DeliveryError::MalformedRequest),
                error.to_string(),
            )
        })?;
        let deadline = Instant::now() + SEND_BUDGET;
        let mut external_ids = Vec::with_capacity(parts.len());
        let mut given_ids = Vec::with_capacity(parts.len());
        for (index, part) in parts.into_iter().enumerate() {
            let submit = inner.submit_sm(message, part);
            let sent_part = SentPart {
                message_id: message.id,
                attempt: message.attempt,
                part_index: index as u32,
            };
            let hold = if index == 0 {
                &message.hold
            } else {
                &Hold::ALWAYS
            };
            let given = inner.submit(submit, sent_part, deadline, hold).await?;
            external_ids.push(canonical_submit_id(inner.config.receipt_id_format, &given));
            given_ids.push(given);
        }
        // The ids as the SMSC wrote them are kept only when normalising changed one.
        if given_ids == external_ids {
            given_ids.clear();
        }
        Ok(Sent {
            external_ids,
            given_ids,
        })
    }

    async fn start(&self) {
        let inner = &self.inner;
        if let Some(views) = &inner.cluster {
            // Sessions come with this node's share, once the live nodes are known.
            let (holder, views) = (Arc::clone(inner), views.clone());
            let follow = tokio::spawn(async move {
                let stop = holder.stop.subscribe();
                let (binds, rate) = (holder.config.binds, holder.config.max_submits_per_sec);
                follow_shares(&holder, views, stop, binds, rate).await;
            });
            inner.tasks.lock().expect("tasks lock").push(follow);
            return;
        }
        // Listen before the sessions start, so that the first bind is not missed.
        let up = inner.link_up.notified();
        inner.set_binds(inner.config.binds).await;
        // Give the first binds a moment, so that a gateway that starts with a reachable SMSC
        // starts up.
        let _ = tokio::time::timeout(Duration::from_secs(2), up).await;
    }

    async fn drain(&self) {
        let inner = &self.inner;
        inner.draining.store(true, Ordering::Release);
        let _ = inner.stop.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *inner.tasks.lock().expect("tasks lock"));
        for task in tasks {
            let _ = task.await;
        }
        inner.set_binds(0).await;
    }

    fn health(&self) -> ConnectorHealth {
        let inner = &self.inner;
        if inner.draining.load(Ordering::Acquire) {
            return ConnectorHealth::Draining;
        }
        if inner
            .links
            .lock()
            .expect("links lock")
            .iter()
            .any(|link| link.transmits())
        {
            return ConnectorHealth::Up;
        }
        match *inner.held.lock().expect("held lock") {
            Held::Part { share, nodes } if share.binds == 0 => {
                return ConnectorHealth::Elsewhere {
                    reason: inner.elsewhere(nodes).message,
                    retry_after: ELSEWHERE_RETRY,
                };
            }
            Held::Waiting(next) => {
                return ConnectorHealth::Down {
                    reason: "waiting for this node's share of the cluster's sessions".into(),
                    retry_after: Some(next),
                };
            }
            _ => {}
        }
        let (reason, next) = inner.down.lock().expect("down lock").clone();
        ConnectorHealth::Down {
            reason,
            retry_after: Some(
                next.saturating_duration_since(Instant::now()) + Duration::from_millis(100),
            ),
        }
    }

    fn max_in_flight(&self) -> usize {
        let inner = &self.inner;
        let sessions = inner.config.binds as usize;
        (sessions * inner.config.window as usize).max(1)
    }
}
