//! One SMPP connection: a reader that frames and decodes PDUs and feeds them to the session
//! state machine, and a writer task that every answer goes through. A submission runs as its
//! own task while the reader goes on (a client pipelines a window of submits), and its response
//! is written when it completes, so responses may leave in another order than their requests
//! (each echoes its sequence number). The writer batches whatever is ready into one write.
//!
//! Timers: an enquire_link after `enquire_link_secs` without a PDU from the client (no response
//! within `response_timeout_secs` closes the session), an unbind after `inactivity_secs` of
//! silence; on shutdown, and when the account is disabled or its SMPP credentials change (the
//! server checks each second: `unbind_revoked`), an unbind, and the session closes at its
//! unbind_resp or after a brief wait.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tern_core::account::Account;
use tern_core::error_code::{RequestError, Surface};
use tern_core::metrics::RequestTimer;
use tern_core::short_message::parts;
use tern_core::submission::RecipientResult;
use tern_core::submitter::{Submission, Submitted};
use tern_proto::smpp::{
    self, Action, BindKind, Command, CommandStatus, Frame, Pdu, Session, SessionState,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, watch};

use super::binds::{BindGuard, SessionHandle};
use super::message::{self, Incoming};
use super::{Shared, UNBIND_WAIT};

/// Submissions of one session in flight at once; the reader waits beyond (a client's window is
/// usually 10-100).
const MAX_IN_FLIGHT: u32 = 1024;

/// Octets the writer gathers into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// Frames queued for the writer.
const WRITER_QUEUE: usize = 4096;

/// How often the timers are looked at.
const TICK: Duration = Duration::from_millis(200);

/// The bound account of a session.
struct Bound {
    account: Arc<Account>,
    system_id: String,
    kind: BindKind,
    /// Held while bound; released as soon as the session closes.
    guard: Option<BindGuard>,
}

/// Runs the connection until it closes.
pub(crate) async fn run<S>(
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
    tls: bool,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let (out, frames) = mpsc::channel(WRITER_QUEUE);
    let handle = Arc::new(SessionHandle::new(
        peer,
        out,
        shared.timings.window,
        shared.timings.response_timeout,
    ));
    let mut writer_task = tokio::spawn(write_frames(writer, frames, Arc::clone(&handle)));
    let mut connection = Connection {
        shared,
        handle: Arc::clone(&handle),
        session: Session::new(),
        bound: None,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize)),
        tls,
        closing: None,
        end: None,
    };
    connection.read_loop(reader, stop).await;
    // Answers of submissions still running go out before the writer finishes.
    let _ = tokio::time::timeout(
        connection.shared.timings.response_timeout,
        connection.in_flight.acquire_many(MAX_IN_FLIGHT),
    )
    .await;
    handle.close();
    handle.finish_writer().await;
    if tokio::time::timeout(Duration::from_secs(5), &mut writer_task)
        .await
        .is_err()
    {
        // A peer that reads nothing: the connection is dropped with what is left unwritten.
        writer_task.abort();
    }
    if let Some(bound) = connection.bound.take() {
        tracing::info!(
            system_id = %bound.system_id,
            %peer,
            bind = ?bound.kind,
            tls,
            reason = connection.end.unwrap_or("closed"),
            "SMPP unbind"
        );
    }
}

/// Writes frames as they come, gathering those already queued into one write. An empty frame
/// (or the last sender gone) finishes it.
async fn write_frames<W: AsyncWrite>(
    writer: W,
    mut frames: mpsc::Receiver<Vec<u8>>,
    handle: Arc<SessionHandle>,
) {
    tokio::pin!(writer);
    let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH);
    let mut finished = false;
    while !finished {
        let Some(frame) = frames.recv().await else {
            break;
        };
        if frame.is_empty() {
            break;
        }
        batch.extend_from_slice(&frame);
        while batch.len() < WRITE_BATCH {
            match frames.try_recv() {
                Ok(frame) if frame.is_empty() => {
                    finished = true;
                    break;
                }
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        let written = async {
            writer.write_all(&batch).await?;
            writer.flush().await
        };
        if let Err(error) = written.await {
            tracing::debug!(%error, peer = %handle.peer, "SMPP write failed");
            handle.close();
            return;
        }
        batch.clear();
    }
    let _ = writer.shutdown().await;
}

struct Connection {
    shared: Arc<Shared>,
    handle: Arc<SessionHandle>,
    session: Session,
    bound: Option<Bound>,
    in_flight: Arc<Semaphore>,
    tls: bool,
    /// When a server-side unbind gives up waiting for unbind_resp.
    closing: Option<Instant>,
    /// Why the session ended, for the unbind log line.
    end: Option<&'static str>,
}

impl Connection {
    async fn read_loop<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: R,
        mut stop: watch::Receiver<bool>,
    ) {
        let timings = self.shared.timings;
        let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut last_received = Instant::now();
        let mut enquired_at: Option<Instant> = None;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = *stop.borrow();
        if stopping {
            return;
        }
        loop {
            if self.session.state() == SessionState::Closed {
                return;
            }
            let needed = match self.frames(&mut buffer).await {
                Some(needed) => needed,
                None => return,
            };
            if buffer.capacity() < needed {
                buffer.reserve(needed - buffer.len());
            }
            tokio::select! {
                read = reader.read_buf(&mut buffer) => match read {
                    Ok(0) => {
                        self.end.get_or_insert("connection closed by the client");
                        return;
                    }
                    Ok(_) => last_received = Instant::now(),
                    Err(error) => {
                        tracing::warn!(peer = %self.handle.peer, %error, "SMPP session error: read failed");
                        self.end = Some("read failed");
                        return;
                    }
                },
                () = self.handle.close_requested.notified() => {
                    self.end.get_or_insert("closed by the server");
                    return;
                }
                () = self.handle.unbind_requested.notified(), if self.closing.is_none() => {
                    self.end = Some("account disabled or its SMPP credentials changed");
                    self.unbind().await;
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    self.end = Some("gateway stopping");
                    self.unbind().await;
                }
                _ = ticks.tick() => {
                    let now = Instant::now();
                    if self.closing.is_some_and(|at| now >= at) {
                        return;
                    }
                    let silent = now.saturating_duration_since(last_received);
                    if silent >= timings.inactivity && self.closing.is_none() {
                        tracing::info!(peer = %self.handle.peer, "SMPP session inactive: unbinding");
                        self.end = Some("inactivity");
                        self.unbind().await;
                    } else if silent >= timings.enquire_link
                        && enquired_at.is_none_or(|at| at < last_received)
                        && matches!(self.session.state(), SessionState::Bound(_))
                    {
                        enquired_at = Some(now);
                        self.enquire_link();
                    }
                }
            }
        }
    }

    /// Handles every whole PDU at the front of `buffer` and removes them; returns how many
    /// octets the next PDU needs, or `None` when the session is over.
    async fn frames(&mut self, buffer: &mut Vec<u8>) -> Option<usize> {
        let max = self.shared.timings.max_pdu_bytes;
        let mut start = 0;
        let needed = loop {
            if self.session.state() == SessionState::Closed {
                return None;
            }
            let received = &buffer[start..];
            match smpp::next_frame(received, max) {
                Ok(Frame::Complete { len }) => {
                    let decoded = smpp::decode(&received[..len]);
                    start += len;
                    if let Err(error) = &decoded {
                        tracing::debug!(peer = %self.handle.peer, %error, "undecodable SMPP PDU");
                    }
                    let actions = self.session.receive(decoded);
                    if !self.carry_out(actions).await {
                        return None;
                    }
                }
                Ok(Frame::Incomplete { needed }) => break needed,
                Err(error) => {
                    tracing::warn!(peer = %self.handle.peer, %error, "SMPP session error: bad command_length");
                    self.end = Some("bad command_length");
                    let actions = self
                        .session
                        .frame_error(error, smpp::sequence_number_of(received));
                    self.carry_out(actions).await;
                    return None;
                }
            }
        };
        buffer.drain(..start);
        Some(needed)
    }

    /// Carries out the session's actions; `false` once one closes the session.
    async fn carry_out(&mut self, actions: Vec<Action>) -> bool {
        if actions.iter().any(|action| matches!(action, Action::Close)) {
            // The bind is free again before the client reads unbind_resp: it may bind anew at
            // once.
            if let Some(bound) = &mut self.bound {
                bound.guard = None;
            }
        }
        let mut pending = actions;
        while !pending.is_empty() {
            let mut next = Vec::new();
            for action in pending {
                match action {
                    Action::Send(command) => {
                        self.handle.send_command(&command).await;
                    }
                    Action::Authenticate { kind, bind } => {
                        let outcome = self.authenticate(kind, bind).await;
                        next.extend(self.session.bind_outcome(outcome));
                    }
                    Action::Submit {
                        sequence_number,
                        submit,
                    } => {
                        self.spawn(move |shared, account| async move {
                            let now = shared.clock.now();
                            let message = message::short_message(Incoming::from(&*submit), now);
                            let (status, id) = submit_message(&shared, &account, message).await;
                            Command {
                                command_status: status,
                                sequence_number,
                                pdu: Pdu::SubmitSmResp(id),
                            }
                        })
                        .await;
                    }
                    Action::Data {
                        sequence_number,
                        data,
                    } => {
                        self.spawn(move |shared, account| async move {
                            let now = shared.clock.now();
                            let message = message::short_message(Incoming::from(&*data), now);
                            let (status, id) = submit_message(&shared, &account, message).await;
                            Command {
                                command_status: status,
                                sequence_number,
                                pdu: Pdu::DataSmResp(id),
                            }
                        })
                        .await;
                    }
                    Action::Query {
                        sequence_number,
                        query,
                    } => {
                        self.spawn(move |shared, account| async move {
                            shared.query(&account, sequence_number, query).await
                        })
                        .await;
                    }
                    Action::Cancel {
                        sequence_number,
                        cancel,
                    } => {
                        self.spawn(move |shared, account| async move {
                            shared.cancel(&account, sequence_number, cancel).await
                        })
                        .await;
                    }
                    Action::Replace {
                        sequence_number,
                        replace,
                    } => {
                        self.spawn(move |shared, account| async move {
                            shared.replace(&account, sequence_number, replace).await
                        })
                        .await;
                    }
                    Action::PeerResponse(command) => {
                        self.handle
                            .answer(command.sequence_number, command.command_status);
                    }
                    Action::Close => {
                        self.end.get_or_insert("unbind");
                        return false;
                    }
                }
            }
            pending = next;
        }
        true
    }

    /// Runs `answer` for the bound account as a task of its own, and writes its response.
    async fn spawn<F, Fut>(&self, answer: F)
    where
        F: FnOnce(Arc<Shared>, Arc<Account>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Command> + Send + 'static,
    {
        let Some(bound) = &self.bound else {
            // The session state machine only asks this of a bound session.
            return;
        };
        let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let account = Arc::clone(&bound.account);
        let handle = Arc::clone(&self.handle);
        tokio::spawn(async move {
            let command = answer(shared, account).await;
            handle.send_command(&command).await;
            drop(permit);
        });
    }

    async fn authenticate(
        &mut self,
        kind: BindKind,
        bind: smpp::Bind,
    ) -> Result<String, CommandStatus> {
        let peer = self.handle.peer;
        match self
            .shared
            .authenticate(kind, &bind.system_id, bind.password, &self.handle)
            .await
        {
            Ok((account, guard)) => {
                tracing::info!(system_id = %bind.system_id, %peer, bind = ?kind, tls = self.tls, "SMPP bind");
                let mut bound_session = self.session.clone();
                // What the session will be once bind_outcome has run: the state messages are
                // framed in.
                let _ = bound_session.bind_outcome(Ok(String::new()));
                self.handle.set_bound(bound_session);
                self.bound = Some(Bound {
                    account,
                    system_id: bind.system_id,
                    kind,
                    guard: Some(guard),
                });
                Ok(self.shared.system_id.clone())
            }
            Err((status, reason)) => {
                tracing::warn!(system_id = %bind.system_id, %peer, bind = ?kind, tls = self.tls, reason, "SMPP bind refused");
                Err(status)
            }
        }
    }

    /// Starts a server-side unbind: the session closes at its unbind_resp or after a brief wait.
    async fn unbind(&mut self) {
        self.handle.stop_deliveries();
        let actions = self.session.start_unbind(self.handle.next_sequence());
        self.closing = Some(Instant::now() + UNBIND_WAIT);
        if !self.carry_out(actions).await {
            self.closing = Some(Instant::now());
        }
    }

    /// Sends an enquire_link; no response in time closes the session.
    fn enquire_link(&self) {
        let handle = Arc::clone(&self.handle);
        tokio::spawn(async move {
            let command = Command {
                command_status: CommandStatus::ESME_ROK,
                sequence_number: handle.next_sequence(),
                pdu: Pdu::EnquireLink,
            };
            if let Err(error) = handle.request(command).await {
                if !handle.is_closed() {
                    tracing::warn!(peer = %handle.peer, %error, "SMPP session error: enquire_link unanswered");
                }
                handle.close();
            }
        });
    }
}

/// Submits a short message (or answers why it cannot be), as (command_status, message id);
/// the time it took is counted as the SMPP surface's request duration.
async fn submit_message(
    shared: &Shared,
    account: &Account,
    message: Result<tern_core::short_message::ShortMessage, CommandStatus>,
) -> (CommandStatus, String) {
    let _timer = RequestTimer::start(Surface::Smpp);
    let message = match message {
        Ok(message) => message,
        Err(status) => return (status, String::new()),
    };
    // The account's rate counts what a client asks for: the parts are taken before the
    // submission is judged (one refused then still counts), and a submission whose parts do not
    // fit is refused and costs nothing.
    if let Some(rate) = account.smpp.as_ref().and_then(|smpp| smpp.rate) {
        match shared
            .rates
            .take_rate(account.id, rate, parts(&message), shared.clock.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return (CommandStatus::ESME_RTHROTTLED, String::new()),
            Err(error) => {
                tracing::warn!(account = account.id, %error, "SMPP submit refused: the account's rate cannot be counted");
                return (CommandStatus::ESME_RMSGQFUL, String::new());
            }
        }
    }
    let refused = |status: CommandStatus| (status, String::new());
    match shared
        .submitter
        .submit_as(account, Submission::Sms(message), Surface::Smpp)
        .await
    {
        Ok(Submitted::PerRecipient(results)) => match results.into_iter().next() {
            Some(RecipientResult::Accepted { id, .. }) => (CommandStatus::ESME_ROK, id.smpp_id()),
            Some(RecipientResult::Rejected { rejection, .. }) => {
                refused(rejection.smpp_status().command_status())
            }
            None => refused(CommandStatus::ESME_RSYSERR),
        },
        Ok(Submitted::Refused(rejection)) => refused(rejection.smpp_status().command_status()),
        // Not an SMPP answer (all-or-nothing surfaces): nothing tells the id.
        Ok(Submitted::AllStored) => refused(CommandStatus::ESME_RSYSERR),
        Err(error) => {
            if error == RequestError::InsufficientBalance {
                tracing::warn!(
                    account = account.id,
                    "SMPP submit refused: the account's balance cannot pay for the message"
                );
            }
            refused(error.smpp_status().command_status())
        }
    }
}
