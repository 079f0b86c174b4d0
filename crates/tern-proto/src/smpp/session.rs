//! The SMPP server's session state machine: which commands a session may send in which bind
//! state, and what the server does about each one.
//!
//! Pure (no I/O, no clock, no accounts): the connection task feeds it each decoded PDU (or
//! decode error) and carries out the [`Action`]s it returns: send a PDU, authenticate a bind,
//! hand a submission to the domain, close. The task reports a bind's outcome back with
//! [`Session::bind_outcome`]. Rules from SMPP 3.4 and compat-notes §5: only bind, enquire_link
//! and generic_nack before a bind; a second bind is ESME_RALYBND; submissions need a
//! transmitter or transceiver bind (ESME_RINVBNDSTS otherwise); receipts go only to receiver
//! or transceiver binds; unknown commands and submit_multi get generic_nack ESME_RINVCMDID;
//! enquire_link is answered in every state; unbind is answered, then the session closes. The
//! bind-state rules apply to a PDU whose body does not decode as to one that does.

use thiserror::Error;

use super::frame::FrameError;
use super::pdu::{
    Bind, BindKind, CancelSm, Command, DataSm, DecodeError, Pdu, QuerySm, ReplaceSm, SubmitSm,
};
use super::status::{CommandStatus, command_id};

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Connected, not bound.
    Open,
    /// A bind is being authenticated; `sequence_number` is the bind's, for its response.
    Binding {
        /// The bind asked for.
        kind: BindKind,
        /// The bind's sequence_number.
        sequence_number: u32,
    },
    /// Bound.
    Bound(BindKind),
    /// The server sent unbind and waits for unbind_resp.
    Unbinding(BindKind),
    /// Done: the connection is to be closed; nothing more is read.
    Closed,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this PDU.
    Send(Command),
    /// Check these credentials, then call [`Session::bind_outcome`].
    Authenticate {
        /// The bind asked for.
        kind: BindKind,
        /// The bind's fields (system_id, password, ...).
        bind: Bind,
    },
    /// Accept (or refuse) a submit_sm and answer with submit_sm_resp and this sequence number.
    Submit {
        /// Echo this in submit_sm_resp.
        sequence_number: u32,
        /// The submission.
        submit: Box<SubmitSm>,
    },
    /// Accept (or refuse) a data_sm and answer with data_sm_resp.
    Data {
        /// Echo this in data_sm_resp.
        sequence_number: u32,
        /// The submission.
        data: Box<DataSm>,
    },
    /// Answer a query_sm with query_sm_resp.
    Query {
        /// Echo this in query_sm_resp.
        sequence_number: u32,
        /// The query.
        query: QuerySm,
    },
    /// Answer a cancel_sm with cancel_sm_resp.
    Cancel {
        /// Echo this in cancel_sm_resp.
        sequence_number: u32,
        /// The cancellation.
        cancel: CancelSm,
    },
    /// Answer a replace_sm with replace_sm_resp.
    Replace {
        /// Echo this in replace_sm_resp.
        sequence_number: u32,
        /// The replacement.
        replace: Box<ReplaceSm>,
    },
    /// The peer answered a request the server sent (deliver_sm_resp, data_sm_resp,
    /// enquire_link_resp, or generic_nack): match it by sequence number.
    PeerResponse(Command),
    /// Close the connection (after sending what came before).
    Close,
}

/// Why the server may not send a message on this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SendRefused {
    /// deliver_sm / data_sm go only to receiver and transceiver binds.
    #[error("the session is not bound as a receiver or transceiver")]
    NotBoundToReceive,
    /// Only deliver_sm and data_sm are sent this way.
    #[error("only deliver_sm and data_sm are sent as messages")]
    NotAMessage,
}

/// One SMPP session's state.
#[derive(Debug, Clone)]
pub struct Session {
    state: SessionState,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

fn send(sequence_number: u32, command_status: CommandStatus, pdu: Pdu) -> Action {
    Action::Send(Command {
        command_status,
        sequence_number,
        pdu,
    })
}

fn nack(sequence_number: u32, status: CommandStatus) -> Action {
    send(sequence_number, status, Pdu::GenericNack)
}

impl Session {
    /// A newly accepted connection.
    pub fn new() -> Self {
        Self {
            state: SessionState::Open,
        }
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Whether deliver_sm / data_sm may be sent (bound as receiver or transceiver).
    pub fn may_receive_messages(&self) -> bool {
        matches!(
            self.state,
            SessionState::Bound(BindKind::Receiver | BindKind::Transceiver)
        )
    }

    /// Frames a deliver_sm or data_sm (a receipt or an MO message) for this session, refusing
    /// when the bind may not receive it.
    pub fn message_to_send(&self, sequence_number: u32, pdu: Pdu) -> Result<Command, SendRefused> {
        if !matches!(pdu, Pdu::DeliverSm(_) | Pdu::DataSm(_)) {
            return Err(SendRefused::NotAMessage);
        }
        if !self.may_receive_messages() {
            return Err(SendRefused::NotBoundToReceive);
        }
        Ok(Command {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            pdu,
        })
    }

    /// Starts a server-side unbind (shutdown, inactivity): sends unbind and waits for
    /// unbind_resp. Not bound: closes at once.
    pub fn start_unbind(&mut self, sequence_number: u32) -> Vec<Action> {
        match self.state {
            SessionState::Bound(kind) => {
                self.state = SessionState::Unbinding(kind);
                vec![send(sequence_number, CommandStatus::ESME_ROK, Pdu::Unbind)]
            }
            SessionState::Unbinding(_) => Vec::new(),
            SessionState::Open | SessionState::Binding { .. } | SessionState::Closed => {
                self.state = SessionState::Closed;
                vec![Action::Close]
            }
        }
    }

    /// An unusable command_length: generic_nack ESME_RINVCMDLEN (echoing the sequence number
    /// if its header arrived, else 0), then close, since the stream cannot be resynchronised.
    pub fn frame_error(&mut self, error: FrameError, sequence_number: Option<u32>) -> Vec<Action> {
        if self.state == SessionState::Closed {
            return Vec::new();
        }
        self.state = SessionState::Closed;
        vec![
            nack(sequence_number.unwrap_or(0), error.command_status()),
            Action::Close,
        ]
    }

    /// The caller's verdict on the bind [`Action::Authenticate`] asked about: `Ok` with the
    /// server's system_id binds the session; `Err` with ESME_RINVPASWD, ESME_RINVSYSID,
    /// ESME_RBINDFAIL, ... refuses it and leaves the session unbound. Ignored unless a bind is
    /// pending.
    pub fn bind_outcome(&mut self, outcome: Result<String, CommandStatus>) -> Vec<Action> {
        let SessionState::Binding {
            kind,
            sequence_number,
        } = self.state
        else {
            return Vec::new();
        };
        match outcome {
            Ok(server_system_id) => {
                self.state = SessionState::Bound(kind);
                vec![send(
                    sequence_number,
                    CommandStatus::ESME_ROK,
                    Pdu::BindResp(kind, server_system_id),
                )]
            }
            Err(status) => {
                self.state = SessionState::Open;
                // A refusal must not read as success.
                let status = if status.is_ok() {
                    CommandStatus::ESME_RBINDFAIL
                } else {
                    status
                };
                vec![send(
                    sequence_number,
                    status,
                    Pdu::BindResp(kind, String::new()),
                )]
            }
        }
    }

    /// The answer to a PDU that did not decode. A command the session's state forbids gets the
    /// same answer it would get decoded (ESME_RALYBND, ESME_RINVBNDSTS), so the bind-state
    /// rules do not depend on the body; otherwise the decode error's own answer. Bad lengths and
    /// unknown ids are always generic_nack.
    fn answer_to_undecodable(&self, error: &DecodeError) -> Command {
        let answer = error.answer();
        if matches!(answer.pdu, Pdu::GenericNack) {
            return answer;
        }
        let bound = match self.state {
            SessionState::Bound(kind) => Some(kind),
            _ => None,
        };
        let may_submit = matches!(bound, Some(BindKind::Transmitter | BindKind::Transceiver));
        let refused_by_state = match error.command_id {
            command_id::BIND_TRANSMITTER
            | command_id::BIND_RECEIVER
            | command_id::BIND_TRANSCEIVER => {
                (self.state != SessionState::Open).then_some(CommandStatus::ESME_RALYBND)
            }
            command_id::SUBMIT_SM
            | command_id::DATA_SM
            | command_id::QUERY_SM
            | command_id::CANCEL_SM
            | command_id::REPLACE_SM => (!may_submit).then_some(CommandStatus::ESME_RINVBNDSTS),
            _ => None,
        };
        match refused_by_state {
            Some(status) => Command {
                command_status: status,
                ..answer
            },
            None => answer,
        }
    }

    /// One PDU from the peer, or why it could not be decoded.
    pub fn receive(&mut self, decoded: Result<Command, DecodeError>) -> Vec<Action> {
        if self.state == SessionState::Closed {
            return Vec::new();
        }
        let command = match decoded {
            Ok(command) => command,
            Err(error) => return vec![Action::Send(self.answer_to_undecodable(&error))],
        };
        let seq = command.sequence_number;
        let state = self.state;
        let bound = match state {
            SessionState::Bound(kind) => Some(kind),
            _ => None,
        };
        let may_submit = matches!(bound, Some(BindKind::Transmitter | BindKind::Transceiver));
        let wrong_state = |pdu: Pdu| vec![send(seq, CommandStatus::ESME_RINVBNDSTS, pdu)];
        match command.pdu {
            Pdu::EnquireLink => vec![send(seq, CommandStatus::ESME_ROK, Pdu::EnquireLinkResp)],
            Pdu::Bind(kind, bind) => {
                if state == SessionState::Open {
                    self.state = SessionState::Binding {
                        kind,
                        sequence_number: seq,
                    };
                    vec![Action::Authenticate { kind, bind }]
                } else {
                    vec![send(
                        seq,
                        CommandStatus::ESME_RALYBND,
                        Pdu::BindResp(kind, String::new()),
                    )]
                }
            }
            Pdu::Unbind => match state {
                SessionState::Open => wrong_state(Pdu::UnbindResp),
                _ => {
                    self.state = SessionState::Closed;
                    vec![
                        send(seq, CommandStatus::ESME_ROK, Pdu::UnbindResp),
                        Action::Close,
                    ]
                }
            },
            Pdu::UnbindResp if matches!(state, SessionState::Unbinding(_)) => {
                self.state = SessionState::Closed;
                vec![Action::Close]
            }
            Pdu::SubmitSm(submit) if may_submit => vec![Action::Submit {
                sequence_number: seq,
                submit,
            }],
            Pdu::SubmitSm(_) => wrong_state(Pdu::SubmitSmResp(String::new())),
            Pdu::DataSm(data) if may_submit => vec![Action::Data {
                sequence_number: seq,
                data,
            }],
            Pdu::DataSm(_) => wrong_state(Pdu::DataSmResp(String::new())),
            Pdu::QuerySm(query) if may_submit => vec![Action::Query {
                sequence_number: seq,
                query,
            }],
            Pdu::QuerySm(_) => wrong_state(Pdu::QuerySmResp(Default::default())),
            Pdu::CancelSm(cancel) if may_submit => vec![Action::Cancel {
                sequence_number: seq,
                cancel,
            }],
            Pdu::CancelSm(_) => wrong_state(Pdu::CancelSmResp),
            Pdu::ReplaceSm(replace) if may_submit => vec![Action::Replace {
                sequence_number: seq,
                replace,
            }],
            Pdu::ReplaceSm(_) => wrong_state(Pdu::ReplaceSmResp),
            // Answers to the server's own requests; generic_nack is allowed in every state.
            pdu @ Pdu::GenericNack => vec![Action::PeerResponse(Command { pdu, ..command })],
            pdu @ (Pdu::DeliverSmResp(_)
            | Pdu::DataSmResp(_)
            | Pdu::EnquireLinkResp
            | Pdu::UnbindResp) => {
                if state == SessionState::Open {
                    vec![nack(seq, CommandStatus::ESME_RINVBNDSTS)]
                } else {
                    vec![Action::PeerResponse(Command { pdu, ..command })]
                }
            }
            // Not implemented (submit_multi) or not something an ESME sends to an SMSC.
            Pdu::SubmitMulti
            | Pdu::DeliverSm(_)
            | Pdu::BindResp(..)
            | Pdu::SubmitSmResp(_)
            | Pdu::QuerySmResp(_)
            | Pdu::CancelSmResp
            | Pdu::ReplaceSmResp => vec![nack(seq, CommandStatus::ESME_RINVCMDID)],
        }
    }
}
