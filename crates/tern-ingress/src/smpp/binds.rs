//! Who is bound: the gateway-wide registry of SMPP sessions per account. It enforces an
//! account's `max_binds`, and it is how the rest of the gateway reaches a bound client: the
//! receipt runner asks which accounts have a receiving bind ([`Binds::receiving_accounts`]),
//! waits for one to bind ([`Binds::bound`]) and hands a deliver_sm or data_sm to one of them
//! ([`Binds::deliver`]), round-robin over the account's receiver and transceiver binds, within
//! each bind's `window` of requests without a response.
//!
//! Each connection owns a [`SessionHandle`]: the way into its writer, its server-side sequence
//! numbers and the requests it sent that wait for their response.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tern_core::account::AccountId;
use tern_core::metrics::BoundSession;
use tern_core::ports::{ReceiverError, SmppReceivers};
use tern_core::smpp_account::SmppSettings;
use tern_proto::smpp::{BindKind, Command, CommandStatus, EncodeError, Pdu, SendRefused, Session};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

/// Why [`Binds::deliver`] could not get a response.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The account has no receiver or transceiver bound.
    #[error("no receiver or transceiver of the account is bound")]
    NoBind,
    /// The session closed before the peer answered.
    #[error("the session closed before its response")]
    Closed,
    /// No response within `response_timeout_secs`.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The session may not be sent this PDU.
    #[error(transparent)]
    Refused(#[from] SendRefused),
    /// The PDU cannot be written.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// One connection, as the rest of the server reaches it.
pub(crate) struct SessionHandle {
    pub peer: SocketAddr,
    /// Frames for the connection's writer; an empty frame asks it to finish.
    out: mpsc::Sender<Vec<u8>>,
    /// The session as it was bound (for [`Session::message_to_send`]); unset until bound.
    bound: OnceLock<Session>,
    next_sequence: AtomicU32,
    /// Requests the server sent, by sequence number, waiting for the peer's command_status.
    pending: Mutex<HashMap<u32, oneshot::Sender<CommandStatus>>>,
    /// Permits for deliver_sm / data_sm without a response.
    window: Semaphore,
    response_timeout: Duration,
    closed: AtomicBool,
    /// Set when the server unbinds the session: no new deliver_sm is sent to it.
    unbinding: AtomicBool,
    /// Notified when the session is closed from outside the reader (writer failure, a request
    /// without a response).
    pub close_requested: Notify,
    /// Notified when the session's account no longer admits it (disabled, or its SMPP
    /// credentials changed): the reader unbinds it.
    pub unbind_requested: Notify,
}

impl SessionHandle {
    pub fn new(
        peer: SocketAddr,
        out: mpsc::Sender<Vec<u8>>,
        window: u32,
        response_timeout: Duration,
    ) -> SessionHandle {
        SessionHandle {
            peer,
            out,
            bound: OnceLock::new(),
            next_sequence: AtomicU32::new(1),
            pending: Mutex::new(HashMap::new()),
            window: Semaphore::new(window.max(1) as usize),
            response_timeout,
            closed: AtomicBool::new(false),
            unbinding: AtomicBool::new(false),
            close_requested: Notify::new(),
            unbind_requested: Notify::new(),
        }
    }

    /// A sequence number for a request of the server's (1 to 0x7FFFFFFF, then around again).
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(if n >= 0x7FFF_FFFF { 1 } else { n + 1 })
            })
            .unwrap_or(1)
    }

    /// Records the session as bound, for messages sent to it.
    pub fn set_bound(&self, session: Session) {
        let _ = self.bound.set(session);
    }

    /// Hands an encoded PDU to the writer; `false` when the connection is gone. A peer that
    /// reads nothing for `response_timeout` while the writer's queue is full is taken for dead:
    /// the session is closed.
    pub async fn send(&self, frame: Vec<u8>) -> bool {
        if frame.is_empty() {
            return false;
        }
        match self.out.send_timeout(frame, self.response_timeout).await {
            Ok(()) => true,
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                tracing::warn!(peer = %self.peer, "SMPP session error: the client reads nothing");
                self.close();
                false
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
        }
    }

    /// Encodes and sends a command, logging what cannot be encoded.
    pub async fn send_command(&self, command: &Command) -> bool {
        match command.encode() {
            Ok(frame) => self.send(frame).await,
            Err(error) => {
                tracing::error!(%error, peer = %self.peer, "cannot encode an SMPP response");
                false
            }
        }
    }

    /// Asks the writer to write what it has and finish.
    pub async fn finish_writer(&self) {
        let _ = self
            .out
            .send_timeout(Vec::new(), self.response_timeout)
            .await;
    }

    /// Sends `command` (a request with `command.sequence_number` from [`Self::next_sequence`])
    /// and waits `response_timeout` for the peer's command_status.
    pub async fn request(&self, command: Command) -> Result<CommandStatus, DeliverError> {
        let frame = command.encode()?;
        let sequence = command.sequence_number;
        let (answer, answered) = oneshot::channel();
        {
            let mut pending = self.pending.lock().expect("pending lock");
            if self.closed.load(Ordering::Acquire) {
                return Err(DeliverError::Closed);
            }
            pending.insert(sequence, answer);
        }
        if !self.send(frame).await {
            self.pending.lock().expect("pending lock").remove(&sequence);
            return Err(DeliverError::Closed);
        }
        match tokio::time::timeout(self.response_timeout, answered).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err(DeliverError::Closed),
            Err(_) => {
                self.pending.lock().expect("pending lock").remove(&sequence);
                Err(DeliverError::Timeout(self.response_timeout))
            }
        }
    }

    /// The peer answered the server's request `sequence` with `status`. `false` when no request
    /// of that number waits.
    pub fn answer(&self, sequence: u32, status: CommandStatus) -> bool {
        let waiting = self.pending.lock().expect("pending lock").remove(&sequence);
        match waiting {
            Some(waiting) => {
                let _ = waiting.send(status);
                true
            }
            None => false,
        }
    }

    /// Sends a deliver_sm / data_sm once the window has room, and waits for its response.
    async fn deliver(&self, pdu: Pdu) -> Result<CommandStatus, DeliverError> {
        let session = self.bound.get().ok_or(SendRefused::NotBoundToReceive)?;
        let _room = self
            .window
            .acquire()
            .await
            .map_err(|_| DeliverError::Closed)?;
        let command = session.message_to_send(self.next_sequence(), pdu)?;
        self.request(command).await
    }

    /// The session is over: requests waiting for a response fail, no new ones are sent.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.window.close();
        self.pending.lock().expect("pending lock").clear();
        self.close_requested.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The server is unbinding the session: deliveries waiting for room fail, none start, and
    /// [`Binds::deliver`] picks the account's other binds; those already sent may still be
    /// answered.
    pub fn stop_deliveries(&self) {
        self.unbinding.store(true, Ordering::Release);
        self.window.close();
    }

    /// Whether new deliveries may be sent to it.
    fn delivers(&self) -> bool {
        !self.is_closed() && !self.unbinding.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct AccountBinds {
    receivers: Vec<(u64, Arc<SessionHandle>)>,
    next: usize,
    /// Every session with the SMPP settings it was bound with (their number counts against
    /// `max_binds`).
    sessions: Vec<(u64, Arc<SessionHandle>, Arc<SmppSettings>)>,
}

/// The bound sessions of every account. One per server.
#[derive(Default)]
pub struct Binds {
    accounts: Mutex<HashMap<AccountId, AccountBinds>>,
    next_id: AtomicU32,
    bound: Notify,
}

/// A bind held in [`Binds`]; dropping it unregisters the session.
pub(crate) struct BindGuard {
    binds: Arc<Binds>,
    account: AccountId,
    id: u64,
    /// Counts the bind in `tern_smpp_binds` while it lives.
    _counted: BoundSession,
}

impl Drop for BindGuard {
    fn drop(&mut self) {
        let mut accounts = self.binds.accounts.lock().expect("binds lock");
        if let Some(binds) = accounts.get_mut(&self.account) {
            binds.receivers.retain(|(id, _)| *id != self.id);
            binds.sessions.retain(|(id, _, _)| *id != self.id);
            if binds.sessions.is_empty() {
                accounts.remove(&self.account);
            }
        }
    }
}

impl Binds {
    pub fn new() -> Binds {
        Binds::default()
    }

    /// Registers a bind of `account` with its SMPP `settings` unless it has their `max_binds`
    /// already.
    pub(crate) fn register(
        self: &Arc<Self>,
        account: AccountId,
        account_name: &str,
        settings: &Arc<SmppSettings>,
        kind: BindKind,
        handle: &Arc<SessionHandle>,
    ) -> Option<BindGuard> {
        let max_binds = settings.max_binds.get();
        let id = u64::from(self.next_id.fetch_add(1, Ordering::Relaxed));
        let receives = matches!(kind, BindKind::Receiver | BindKind::Transceiver);
        {
            let mut accounts = self.accounts.lock().expect("binds lock");
            let binds = accounts.entry(account).or_default();
            let bound = u32::try_from(binds.sessions.len()).unwrap_or(u32::MAX);
            if bound >= max_binds {
                if bound == 0 {
                    accounts.remove(&account);
                }
                return None;
            }
            binds
                .sessions
                .push((id, Arc::clone(handle), Arc::clone(settings)));
            if receives {
                binds.receivers.push((id, Arc::clone(handle)));
            }
        }
        if receives {
            self.bound.notify_waiters();
        }
        let bind_type = match kind {
            BindKind::Transmitter => "transmitter",
            BindKind::Receiver => "receiver",
            BindKind::Transceiver => "transceiver",
        };
        Some(BindGuard {
            binds: Arc::clone(self),
            account,
            id,
            _counted: BoundSession::new(account_name, bind_type),
        })
    }

    /// How many sessions `account` has bound.
    pub fn bind_count(&self, account: AccountId) -> u32 {
        let accounts = self.accounts.lock().expect("binds lock");
        accounts.get(&account).map_or(0, |binds| {
            u32::try_from(binds.sessions.len()).unwrap_or(u32::MAX)
        })
    }

    /// Each bound account with the system ids its sessions were bound with.
    pub(crate) fn bound_system_ids(&self) -> Vec<(AccountId, String)> {
        let accounts = self.accounts.lock().expect("binds lock");
        let mut bound: Vec<(AccountId, String)> = accounts
            .iter()
            .flat_map(|(account, binds)| {
                binds
                    .sessions
                    .iter()
                    .map(|(_, _, settings)| (*account, settings.system_id.clone()))
            })
            .collect();
        bound.sort_unstable();
        bound.dedup();
        bound
    }

    /// Asks every session of `account` bound under `system_id` that `current` (the account's
    /// SMPP settings now, `None` when it is disabled or nobody has that system id) no longer
    /// admits to unbind ([`SmppSettings::still_admits`]); returns how many were asked.
    pub(crate) fn unbind_unadmitted(
        &self,
        account: AccountId,
        system_id: &str,
        current: Option<&SmppSettings>,
    ) -> usize {
        let accounts = self.accounts.lock().expect("binds lock");
        let Some(binds) = accounts.get(&account) else {
            return 0;
        };
        let mut asked = 0;
        for (_, handle, bound) in &binds.sessions {
            if bound.system_id == system_id
                && handle.delivers()
                && !SmppSettings::still_admits(bound, current)
            {
                handle.stop_deliveries();
                handle.unbind_requested.notify_one();
                asked += 1;
            }
        }
        asked
    }

    /// The accounts with at least one receiver or transceiver bound.
    pub fn receiving_accounts(&self) -> Vec<AccountId> {
        let accounts = self.accounts.lock().expect("binds lock");
        let mut receiving: Vec<AccountId> = accounts
            .iter()
            .filter(|(_, binds)| !binds.receivers.is_empty())
            .map(|(account, _)| *account)
            .collect();
        receiving.sort_unstable();
        receiving
    }

    /// Notified (`notify_waiters`) whenever a receiver or transceiver binds. Create the
    /// `notified()` future before looking at [`Binds::receiving_accounts`], so that a bind in
    /// between is not missed.
    pub fn bound(&self) -> &Notify {
        &self.bound
    }

    /// Sends `pdu` (a deliver_sm or data_sm) to one of `account`'s receiving binds, round-robin,
    /// once that bind's window has room, and resolves with the command_status of the peer's
    /// response.
    pub async fn deliver(
        &self,
        account: AccountId,
        pdu: Pdu,
    ) -> Result<CommandStatus, DeliverError> {
        let handle = {
            let mut accounts = self.accounts.lock().expect("binds lock");
            let binds = accounts.get_mut(&account).ok_or(DeliverError::NoBind)?;
            binds.receivers.retain(|(_, handle)| handle.delivers());
            if binds.receivers.is_empty() {
                return Err(DeliverError::NoBind);
            }
            let index = binds.next % binds.receivers.len();
            binds.next = binds.next.wrapping_add(1);
            Arc::clone(&binds.receivers[index].1)
        };
        handle.deliver(pdu).await
    }
}

/// The binds as the outbox's receipt sender reaches them.
#[async_trait::async_trait]
impl SmppReceivers for Binds {
    fn receiving_accounts(&self) -> Vec<AccountId> {
        Binds::receiving_accounts(self)
    }

    async fn bound(&self) {
        Binds::bound(self).notified().await
    }

    async fn deliver(&self, account: AccountId, pdu: Pdu) -> Result<CommandStatus, ReceiverError> {
        Binds::deliver(self, account, pdu)
            .await
            .map_err(|error| match error {
                DeliverError::NoBind => ReceiverError::NoBind,
                DeliverError::Closed | DeliverError::Timeout(_) => {
                    ReceiverError::NoResponse(error.to_string())
                }
                DeliverError::Refused(_) | DeliverError::Encode(_) => {
                    ReceiverError::Unsendable(error.to_string())
                }
            })
    }
}
