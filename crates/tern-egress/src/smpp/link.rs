//! One SMPP session from Tern to an SMSC, the client side: connect (TCP or TLS), bind, then a
//! reader task that routes responses to the requests waiting for them (by sequence number) and
//! hands the SMSC's own requests (deliver_sm, data_sm) to the connector, and a writer task that
//! every PDU goes through, batching what is ready into one write. Requests are futures
//! ([`Link::request`]) bounded by the session's window; a response that does not come within
//! the response timeout closes the session, which fails every request still waiting (the
//! connector resends them on another session). An enquire_link goes out after
//! `enquire_link_secs` of silence from the SMSC.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tern_proto::smpp::{self, Bind, BindKind, Command, CommandStatus, Frame, Pdu, command_id};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

/// Largest PDU accepted from an SMSC (a deliver_sm with a long message_payload fits).
const MAX_PDU_BYTES: u32 = 65_536;
/// Octets the writer gathers into one write.
const WRITE_BATCH: usize = 64 * 1024;
/// Frames queued for the writer.
const WRITER_QUEUE: usize = 4096;
/// deliver_sm / data_sm from the SMSC being handled at once; the reader waits beyond (an SMSC
/// that does not wait for its responses cannot make the gateway take on unbounded work).
const DELIVERIES_IN_FLIGHT: usize = 4096;

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The session closed before the SMSC answered (or before the request was sent).
    #[error("the session closed before the SMSC answered")]
    Closed,
    /// The SMSC did not answer within the response timeout (the session is then closed).
    #[error("the SMSC did not answer in time")]
    Timeout,
}

/// Run by the reader on a request's response before anything read after it is handled (so a
/// receipt that follows a submit_sm_resp finds what the resp told).
pub type OnAnswer = Box<dyn FnOnce(&Command) + Send>;

/// A request waiting for its response: who waits, and what runs on the response first.
type Waiting = (oneshot::Sender<Command>, Option<OnAnswer>);

/// What the connector does with the SMSC's own requests (deliver_sm, data_sm): the status to
/// answer with, once it is decided.
pub trait Deliveries: Send + Sync + 'static {
    fn deliver(
        &self,
        link: Arc<Link>,
        command: Command,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = CommandStatus> + Send>>;
}

/// A bound session.
pub struct Link {
    pub kind: BindKind,
    /// Which of the connector's sessions it is (for the logs).
    pub label: String,
    out: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u32, Waiting>>,
    window: Semaphore,
    next_sequence: AtomicU32,
    response_timeout: Duration,
    closed: AtomicBool,
    /// Notified once when the session closes.
    pub closed_notify: Notify,
    /// Why it closed, for the logs.
    reason: Mutex<Option<String>>,
    /// Permits for the SMSC's requests being handled.
    deliveries: Arc<Semaphore>,
}

impl Link {
    fn new(
        kind: BindKind,
        label: String,
        out: mpsc::Sender<Vec<u8>>,
        window: u32,
        response_timeout: Duration,
    ) -> Link {
        Link {
            kind,
            label,
            out,
            pending: Mutex::new(HashMap::new()),
            window: Semaphore::new(window.max(1) as usize),
            next_sequence: AtomicU32::new(1),
            response_timeout,
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            reason: Mutex::new(None),
            deliveries: Arc::new(Semaphore::new(DELIVERIES_IN_FLIGHT)),
        }
    }

    /// Whether it may be handed submits (transmitter or transceiver, not closed).
    pub fn transmits(&self) -> bool {
        self.kind != BindKind::Receiver && !self.is_closed()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Why it closed (or "open").
    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .expect("reason lock")
            .clone()
            .unwrap_or_else(|| "open".into())
    }

    fn next_sequence(&self) -> u32 {
        self.next_sequence
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(if n >= 0x7FFF_FFFF { 1 } else { n + 1 })
            })
            .unwrap_or(1)
    }

    /// Close the session for `reason`: requests waiting fail, no new ones are sent, the writer
    /// finishes.
    pub fn close(&self, reason: impl Into<String>) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.reason.lock().expect("reason lock") = Some(reason.into());
        self.window.close();
        self.pending.lock().expect("pending lock").clear();
        let _ = self.out.try_send(Vec::new());
        self.closed_notify.notify_waiters();
        self.closed_notify.notify_one();
    }

    /// Send `pdu` as a request once the window has room, and wait for its response.
    /// `on_answer` runs on the response as soon as it is read.
    pub async fn request(
        &self,
        pdu: Pdu,
        on_answer: Option<OnAnswer>,
    ) -> Result<Command, RequestError> {
        let _room = self
            .window
            .acquire()
            .await
            .map_err(|_| RequestError::Closed)?;
        self.send_request(pdu, on_answer).await
    }

    /// Send `pdu` as a request at once (outside the window: bind, enquire_link, unbind).
    pub async fn request_now(&self, pdu: Pdu) -> Result<Command, RequestError> {
        self.send_request(pdu, None).await
    }

    async fn send_request(
        &self,
        pdu: Pdu,
        on_answer: Option<OnAnswer>,
    ) -> Result<Command, RequestError> {
        let sequence = self.next_sequence();
        let command = Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number: sequence,
            pdu,
        };
        let frame = command.encode().map_err(|error| {
            tracing::error!(%error, "cannot encode an SMPP request");
            RequestError::Closed
        })?;
        let (answer, answered) = oneshot::channel();
        {
            let mut pending = self.pending.lock().expect("pending lock");
            if self.is_closed() {
                return Err(RequestError::Closed);
            }
            pending.insert(sequence, (answer, on_answer));
        }
        if self.out.send(frame).await.is_err() {
            self.pending.lock().expect("pending lock").remove(&sequence);
            return Err(RequestError::Closed);
        }
        match tokio::time::timeout(self.response_timeout, answered).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => {
                self.close(format!(
                    "no response to a request within {:?}",
                    self.response_timeout
                ));
                Err(RequestError::Timeout)
            }
        }
    }

    /// Write a response to the SMSC's request.
    async fn respond(&self, sequence_number: u32, command_status: CommandStatus, pdu: Pdu) {
        let command = Command {
            command_status,
            sequence_number,
            pdu,
        };
        match command.encode() {
            Ok(frame) => {
                let _ = self.out.send(frame).await;
            }
            Err(error) => tracing::error!(%error, "cannot encode an SMPP response"),
        }
    }

    /// A response arrived: hand it to its request; `false` when none waits for it.
    fn answered(&self, command: Command) -> bool {
        let waiting = self
            .pending
            .lock()
            .expect("pending lock")
            .remove(&command.sequence_number);
        match waiting {
            Some((waiting, on_answer)) => {
                if let Some(on_answer) = on_answer {
                    on_answer(&command);
                }
                waiting.send(command).is_ok()
            }
            None => false,
        }
    }

    /// Unbind politely (waiting briefly for unbind_resp), then close.
    pub async fn unbind(&self) {
        if !self.is_closed() {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), self.request_now(Pdu::Unbind)).await;
        }
        self.close("unbound");
    }
}

/// What a session is opened with.
pub struct LinkSettings {
    pub kind: BindKind,
    pub label: String,
    pub bind: Bind,
    pub window: u32,
    pub response_timeout: Duration,
    pub enquire_link: Duration,
}

/// Why a session could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("bind refused by the SMSC: {0}")]
    Refused(CommandStatus),
    #[error("no answer to the bind: {0}")]
    NoAnswer(RequestError),
    #[error("unexpected answer to the bind")]
    Unexpected,
}

/// Bind over `stream` and run the session in the background; the link once bound. Its tasks
/// end when it closes.
pub async fn open<S>(
    stream: S,
    settings: LinkSettings,
    deliveries: Arc<dyn Deliveries>,
) -> Result<Arc<Link>, OpenError>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let (out, frames) = mpsc::channel(WRITER_QUEUE);
    let link = Arc::new(Link::new(
        settings.kind,
        settings.label,
        out,
        settings.window,
        settings.response_timeout,
    ));
    tokio::spawn(write_frames(writer, frames, Arc::clone(&link)));
    let last_heard = Arc::new(Mutex::new(Instant::now()));
    tokio::spawn(read_frames(
        reader,
        Arc::clone(&link),
        deliveries,
        Arc::clone(&last_heard),
    ));
    let answer = link
        .request_now(Pdu::Bind(settings.kind, settings.bind))
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            link.close(format!("no answer to the bind: {error}"));
            return Err(OpenError::NoAnswer(error));
        }
    };
    if answer.command_status != CommandStatus::ESME_ROK {
        link.close("bind refused");
        return Err(OpenError::Refused(answer.command_status));
    }
    if !matches!(answer.pdu, Pdu::BindResp(..)) {
        link.close("unexpected answer to the bind");
        return Err(OpenError::Unexpected);
    }
    tokio::spawn(keep_alive(
        Arc::clone(&link),
        settings.enquire_link,
        last_heard,
    ));
    Ok(link)
}

/// An enquire_link after `every` of silence; no answer closes the session.
async fn keep_alive(link: Arc<Link>, every: Duration, last_heard: Arc<Mutex<Instant>>) {
    let every = every.max(Duration::from_millis(100));
    loop {
        let heard = *last_heard.lock().expect("heard lock");
        let wait = (heard + every).saturating_duration_since(Instant::now());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = link.closed_notify.notified() => return,
        }
        if link.is_closed() {
            return;
        }
        let heard_since = last_heard.lock().expect("heard lock").elapsed() < every;
        if heard_since {
            continue;
        }
        if link.request_now(Pdu::EnquireLink).await.is_err() {
            link.close("no answer to enquire_link");
            return;
        }
        *last_heard.lock().expect("heard lock") = Instant::now();
    }
}

/// Writes frames as they come, gathering those already queued into one write. An empty frame
/// finishes it.
async fn write_frames<W: AsyncWrite>(
    writer: W,
    mut frames: mpsc::Receiver<Vec<u8>>,
    link: Arc<Link>,
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
        // An SMSC that reads nothing for a response timeout is taken for dead.
        match tokio::time::timeout(link.response_timeout, written).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                link.close(format!("write failed: {error}"));
                return;
            }
            Err(_) => {
                link.close("the SMSC reads nothing");
                return;
            }
        }
        batch.clear();
    }
    let _ = writer.shutdown().await;
}

/// Reads PDUs until the session closes: responses go to their requests, the SMSC's requests
/// are answered.
async fn read_frames<R: AsyncRead + Unpin>(
    mut reader: R,
    link: Arc<Link>,
    deliveries: Arc<dyn Deliveries>,
    last_heard: Arc<Mutex<Instant>>,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        // Every whole PDU received so far, then what they took is removed at once: removing each
        // as it is handled would move the rest of the buffer once per PDU, a cost that grows
        // with the square of how many small PDUs one read brings.
        let mut start = 0;
        loop {
            match smpp::next_frame(&buffer[start..], MAX_PDU_BYTES) {
                Ok(Frame::Complete { len }) => {
                    let decoded = smpp::decode(&buffer[start..start + len]);
                    start += len;
                    handle(&link, &deliveries, decoded).await;
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(error) => {
                    link.close(format!("unreadable PDU from the SMSC: {error}"));
                    return;
                }
            }
        }
        buffer.drain(..start);
        tokio::select! {
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) => {
                    link.close("connection closed by the SMSC");
                    return;
                }
                Ok(_) => *last_heard.lock().expect("heard lock") = Instant::now(),
                Err(error) => {
                    link.close(format!("read failed: {error}"));
                    return;
                }
            },
            _ = link.closed_notify.notified() => return,
        }
        if link.is_closed() {
            return;
        }
    }
}

/// One PDU from the SMSC.
async fn handle(
    link: &Arc<Link>,
    deliveries: &Arc<dyn Deliveries>,
    decoded: Result<Command, smpp::DecodeError>,
) {
    let command = match decoded {
        Ok(command) => command,
        Err(error) => {
            let sequence = error.sequence_number;
            // A response we cannot read still ends its request, as a failure.
            if error.command_id & command_id::RESPONSE_BIT != 0 {
                link.answered(Command {
                    command_status: CommandStatus::ESME_RSYSERR,
                    sequence_number: sequence,
                    pdu: Pdu::GenericNack,
                });
                return;
            }
            link.respond(sequence, error.command_status(), Pdu::GenericNack)
                .await;
            return;
        }
    };
    let id = command.pdu.command_id();
    if id & command_id::RESPONSE_BIT != 0 || id == command_id::GENERIC_NACK {
        if !link.answered(command) {
            tracing::debug!(session = %link.label, "SMPP response to no request");
        }
        return;
    }
    match command.pdu {
        Pdu::EnquireLink => {
            link.respond(
                command.sequence_number,
                CommandStatus::ESME_ROK,
                Pdu::EnquireLinkResp,
            )
            .await;
        }
        Pdu::Unbind => {
            link.respond(
                command.sequence_number,
                CommandStatus::ESME_ROK,
                Pdu::UnbindResp,
            )
            .await;
            link.close("unbound by the SMSC");
        }
        Pdu::DeliverSm(_) | Pdu::DataSm(_) => {
            let sequence = command.sequence_number;
            let data_sm = matches!(command.pdu, Pdu::DataSm(_));
            let Ok(permit) = Arc::clone(&link.deliveries).acquire_owned().await else {
                return;
            };
            let link = Arc::clone(link);
            let answer = deliveries.deliver(Arc::clone(&link), command);
            tokio::spawn(async move {
                let status = answer.await;
                drop(permit);
                let pdu = if data_sm {
                    Pdu::DataSmResp(String::new())
                } else {
                    Pdu::DeliverSmResp(String::new())
                };
                link.respond(sequence, status, pdu).await;
            });
        }
        other => {
            let id = other.command_id();
            let pdu = Pdu::error_response_to(id).unwrap_or(Pdu::GenericNack);
            link.respond(command.sequence_number, CommandStatus::ESME_RINVCMDID, pdu)
                .await;
        }
    }
}
