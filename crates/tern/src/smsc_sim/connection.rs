//! One simulated SMSC connection: frames and decodes PDUs with tern-proto, lets the pure
//! [`Session`] state machine decide the SMPP 3.4 rules (bind states, enquire_link, unbind,
//! generic_nack), answers submissions at once (no window limit: pipelined requests are
//! answered as they come) and writes the deliver_sm (receipts, MOs) other tasks queue for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tern_proto::smpp::{
    self, Action, Command, CommandStatus, DataSm, Frame, MessageState, Pdu, QuerySmResp, Receipt,
    ReceiptTime, Session, SubmitSm, Tlvs,
};
use tern_proto::sms::{self, SmsEncoding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::config::ReceiptFormat;
use super::{Peer, SERVER_SYSTEM_ID, Sim};

/// How long a session unbound at shutdown waits for its unbind_resp.
pub(super) const UNBIND_WAIT: Duration = Duration::from_secs(1);

/// Largest PDU accepted.
const MAX_PDU_BYTES: u32 = 65_536;

/// Accepts connections until `stop`.
pub(super) async fn accept(sim: Arc<Sim>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let id = sim.next_connection.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve(Arc::clone(&sim), stream, id));
                }
                Err(error) => tracing::warn!(%error, "smsc-sim accept failed"),
            },
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// What a connection knows about itself.
struct Conn {
    sim: Arc<Sim>,
    id: u64,
    session: Session,
    system_id: String,
    outbox: mpsc::UnboundedSender<Pdu>,
    out: Vec<u8>,
}

/// Serves one connection until it closes, the peer unbinds, or every session is dropped.
async fn serve(sim: Arc<Sim>, stream: TcpStream, id: u64) {
    sim.open.fetch_add(1, Ordering::Relaxed);
    serve_until_closed(&sim, stream, id).await;
    sim.peers().remove(&id);
    sim.open.fetch_sub(1, Ordering::Relaxed);
}

async fn serve_until_closed(sim: &Arc<Sim>, stream: TcpStream, id: u64) {
    let mut disconnect = sim.disconnect.subscribe();
    let mut stopping = sim.stopping.subscribe();
    let unbind_deadline = tokio::time::sleep(Duration::MAX);
    tokio::pin!(unbind_deadline);
    let mut unbinding = false;
    let (mut reader, mut writer) = stream.into_split();
    let (outbox, mut queued) = mpsc::unbounded_channel::<Pdu>();
    let mut conn = Conn {
        sim: Arc::clone(sim),
        id,
        session: Session::new(),
        system_id: String::new(),
        outbox,
        out: Vec::new(),
    };
    let mut received = Vec::with_capacity(4096);
    let mut next_sequence = 0u32;
    'connection: loop {
        // Every whole PDU received so far, removed at once afterwards (not one by one: that
        // would move the rest of the buffer once per PDU).
        let mut close = false;
        let mut start = 0;
        loop {
            let rest = &received[start..];
            match smpp::next_frame(rest, MAX_PDU_BYTES) {
                Ok(Frame::Complete { len }) => {
                    let actions = conn.session.receive(smpp::decode(&rest[..len]));
                    start += len;
                    if conn.act(actions) {
                        close = true;
                        break;
                    }
                }
                Ok(Frame::Incomplete { .. }) => break,
                Err(error) => {
                    let actions = conn
                        .session
                        .frame_error(error, smpp::sequence_number_of(rest));
                    conn.act(actions);
                    close = true;
                    break;
                }
            }
        }
        received.drain(..start);
        if !conn.out.is_empty() {
            if writer.write_all(&conn.out).await.is_err() {
                break;
            }
            conn.out.clear();
        }
        if close {
            break;
        }
        tokio::select! {
            read = reader.read_buf(&mut received) => match read {
                Ok(0) | Err(_) => break 'connection,
                Ok(_) => {}
            },
            Some(pdu) = queued.recv() => {
                next_sequence = next_sequence.wrapping_add(1).max(1);
                match conn.session.message_to_send(next_sequence, pdu) {
                    Ok(command) => conn.write(&command),
                    Err(refused) => tracing::debug!(%refused, "smsc-sim message not sent"),
                }
            }
            _ = disconnect.changed() => break 'connection,
            _ = async { drop(stopping.wait_for(|stopping| *stopping).await) }, if !unbinding => {
                unbinding = true;
                unbind_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + UNBIND_WAIT);
                next_sequence = next_sequence.wrapping_add(1).max(1);
                let actions = conn.session.start_unbind(next_sequence);
                if conn.act(actions) {
                    let _ = writer.write_all(&conn.out).await;
                    break 'connection;
                }
            }
            _ = &mut unbind_deadline, if unbinding => break 'connection,
        }
    }
    let _ = writer.shutdown().await;
}

impl Conn {
    fn write(&mut self, command: &Command) {
        match command.encode() {
            Ok(bytes) => self.out.extend_from_slice(&bytes),
            Err(error) => tracing::warn!(%error, "smsc-sim cannot encode {command:?}"),
        }
    }

    fn answer(&mut self, sequence_number: u32, command_status: CommandStatus, pdu: Pdu) {
        self.write(&Command {
            command_status,
            sequence_number,
            pdu,
        });
    }

    /// Carries out the session's actions; true when the connection is to close.
    fn act(&mut self, actions: Vec<Action>) -> bool {
        for action in actions {
            match action {
                Action::Send(command) => self.write(&command),
                Action::Authenticate { kind, bind } => {
                    let outcome = if self.sim.config.admits(&bind.system_id, &bind.password) {
                        self.system_id = bind.system_id;
                        self.sim.bound(
                            self.id,
                            Peer {
                                system_id: self.system_id.clone(),
                                kind,
                                outbox: self.outbox.clone(),
                            },
                        );
                        self.sim.stats.binds.fetch_add(1, Ordering::Relaxed);
                        Ok(SERVER_SYSTEM_ID.to_owned())
                    } else {
                        Err(CommandStatus::ESME_RINVPASWD)
                    };
                    let answers = self.session.bind_outcome(outcome);
                    if self.act(answers) {
                        return true;
                    }
                }
                Action::Submit {
                    sequence_number,
                    submit,
                } => {
                    let status = self.accept(Submitted::from_submit(&submit));
                    let (status, id) = status;
                    self.answer(sequence_number, status, Pdu::SubmitSmResp(id));
                }
                Action::Data {
                    sequence_number,
                    data,
                } => {
                    let (status, id) = self.accept(Submitted::from_data(&data));
                    self.answer(sequence_number, status, Pdu::DataSmResp(id));
                }
                Action::Query {
                    sequence_number, ..
                } => self.answer(
                    sequence_number,
                    CommandStatus::ESME_RQUERYFAIL,
                    Pdu::QuerySmResp(QuerySmResp::default()),
                ),
                Action::Cancel {
                    sequence_number, ..
                } => self.answer(
                    sequence_number,
                    CommandStatus::ESME_RCANCELFAIL,
                    Pdu::CancelSmResp,
                ),
                Action::Replace {
                    sequence_number, ..
                } => self.answer(
                    sequence_number,
                    CommandStatus::ESME_RREPLACEFAIL,
                    Pdu::ReplaceSmResp,
                ),
                Action::PeerResponse(_) => {}
                Action::Close => return true,
            }
        }
        false
    }

    /// Accepts a submission (or refuses it while throttled) and schedules its receipt.
    fn accept(&mut self, submitted: Submitted) -> (CommandStatus, String) {
        let sim = &self.sim;
        if sim.throttled() {
            return (CommandStatus::ESME_RTHROTTLED, String::new());
        }
        sim.stats.submits.fetch_add(1, Ordering::Relaxed);
        let id = sim.new_message_id();
        let decision = sim.config.decide(&submitted.destination);
        let wanted = match submitted.registered_delivery & 0x03 {
            1 => true,
            2 => !matches!(
                decision.state,
                Some(MessageState::Delivered | MessageState::Accepted)
            ),
            _ => false,
        };
        if let (true, Some(state)) = (wanted, decision.state) {
            let sim = Arc::clone(sim);
            let submitter = self.id;
            let system_id = self.system_id.clone();
            let message_id = id.clone();
            let submitted_at = receipt_time_now();
            tokio::spawn(async move {
                // A zero delay must not wait for the timer's next tick.
                if !decision.delay.is_zero() {
                    tokio::time::sleep(decision.delay).await;
                }
                let pdu = receipt_pdu(
                    &submitted,
                    &message_id,
                    submitted_at,
                    state,
                    decision.error,
                    sim.config.receipt_format,
                );
                if !sim.send_receipt(submitter, &system_id, pdu) {
                    tracing::info!(message_id, "smsc-sim: receipt held until a receiver binds");
                }
            });
        }
        (CommandStatus::ESME_ROK, id)
    }
}

/// What a receipt repeats of a submission.
struct Submitted {
    source_ton: u8,
    source_npi: u8,
    source: String,
    dest_ton: u8,
    dest_npi: u8,
    destination: String,
    registered_delivery: u8,
    text: String,
}

/// The message's text (UDH skipped), for Appendix B's `text:` field.
fn text_of(esm_class: u8, data_coding: u8, short_message: &[u8]) -> String {
    let body = if esm_class & 0x40 != 0 {
        let udhl = short_message.first().map_or(0, |&l| usize::from(l) + 1);
        short_message.get(udhl..).unwrap_or_default()
    } else {
        short_message
    };
    match SmsEncoding::from_smpp_data_coding(data_coding) {
        Some(encoding) => sms::decode_payload(encoding, body),
        // Latin-1 and the rest: one character per octet.
        None => body.iter().map(|&b| char::from(b)).collect(),
    }
}

impl Submitted {
    fn from_submit(submit: &SubmitSm) -> Submitted {
        let short_message = match &submit.tlvs.message_payload {
            Some(payload) if submit.short_message.is_empty() => payload.as_slice(),
            _ => submit.short_message.as_slice(),
        };
        Submitted {
            source_ton: submit.source_addr_ton,
            source_npi: submit.source_addr_npi,
            source: submit.source_addr.clone(),
            dest_ton: submit.dest_addr_ton,
            dest_npi: submit.dest_addr_npi,
            destination: submit.destination_addr.clone(),
            registered_delivery: submit.registered_delivery,
            text: text_of(submit.esm_class, submit.data_coding, short_message),
        }
    }

    fn from_data(data: &DataSm) -> Submitted {
        Submitted {
            source_ton: data.source_addr_ton,
            source_npi: data.source_addr_npi,
            source: data.source_addr.clone(),
            dest_ton: data.dest_addr_ton,
            dest_npi: data.dest_addr_npi,
            destination: data.destination_addr.clone(),
            registered_delivery: data.registered_delivery,
            text: text_of(
                data.esm_class,
                data.data_coding,
                data.tlvs.message_payload.as_deref().unwrap_or_default(),
            ),
        }
    }
}

fn receipt_time_now() -> ReceiptTime {
    tern_core::smpp_receipt::receipt_time(jiff::Timestamp::now())
}

/// The receipt deliver_sm: from the recipient to the sender, esm_class 0x04, the text in the
/// configured format, receipted_message_id and message_state TLVs, and network_error_code
/// (GSM, the error code) when there is an error.
fn receipt_pdu(
    submitted: &Submitted,
    message_id: &str,
    submitted_at: ReceiptTime,
    state: MessageState,
    error: u16,
    format: ReceiptFormat,
) -> Pdu {
    let receipt = Receipt {
        id: message_id,
        submitted: submitted_at,
        done: receipt_time_now(),
        state,
        error,
        text: &submitted.text,
    };
    let text = match format {
        ReceiptFormat::AppendixB => receipt.appendix_b(),
        ReceiptFormat::Cm => receipt.cm(),
    };
    // data_coding 0: the text in GSM septets, so a GSM message's own octets come back as
    // they went (`_` stays 0x5F); other characters get their GSM look-alikes.
    let short_message = sms::gsm7::encode(&text);
    Pdu::DeliverSm(Box::new(SubmitSm {
        source_addr_ton: submitted.dest_ton,
        source_addr_npi: submitted.dest_npi,
        source_addr: submitted.destination.clone(),
        dest_addr_ton: submitted.source_ton,
        dest_addr_npi: submitted.source_npi,
        destination_addr: submitted.source.clone(),
        esm_class: 0x04,
        short_message,
        tlvs: Tlvs {
            receipted_message_id: Some(message_id.to_owned()),
            message_state: Some(state.value()),
            network_error_code: (error != 0).then(|| {
                let [high, low] = error.to_be_bytes();
                [3, high, low]
            }),
            ..Tlvs::default()
        },
        ..SubmitSm::default()
    }))
}
