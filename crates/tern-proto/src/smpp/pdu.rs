//! Tern's SMPP 3.4 PDUs and their exact wire form: decoding what an ESME sends to the server
//! and encoding what the server sends back (every response, deliver_sm and data_sm receipts).
//!
//! Exists as Tern's own types so no codec crate's types reach tern-core, and so every decode
//! failure names the `command_status` to answer with. The reader is strict: each C-octet string
//! must end inside its maximum length, fixed fields must be present, TLV lengths must fit the
//! PDU and the TLV's type, and a PDU without TLVs must end where its last field ends.
//! Unknown TLVs are skipped. Message bodies (`short_message`, `message_payload`) are kept as raw
//! octets: GSM 0x00 (`@`), UCS2 byte order and UDH headers are never touched here.
//!
//! The reader is Tern's own rather than the `rusmpp` crate's because rusmpp 0.4 cannot give
//! these statuses: it reads a fixed-size TLV by its type, not its length field (a 1-octet
//! sar_msg_ref_num swallows the next octet and still decodes), accepts octets after a
//! bodyless command, and names the failing field only with its `verbose` feature. rusmpp
//! stays the independent check: `tests/smpp_rusmpp.rs` reads everything Tern writes with it.

use thiserror::Error;

use super::frame::HEADER_LEN;
use super::status::{CommandStatus, command_id};

/// One PDU: header fields the session needs plus the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command_status: 0 in requests, the outcome in responses.
    pub command_status: CommandStatus,
    /// Correlates a response with its request; responses echo it.
    pub sequence_number: u32,
    /// The body; its variant fixes the command_id.
    pub pdu: Pdu,
}

/// The bind request's fields (bind_transmitter, bind_receiver and bind_transceiver share them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bind {
    /// The ESME's account name (at most 15 characters).
    pub system_id: String,
    /// At most 8 characters.
    pub password: String,
    /// The ESME's type, free text (at most 12 characters).
    pub system_type: String,
    /// 0x34 for SMPP 3.4.
    pub interface_version: u8,
    /// TON of `address_range`.
    pub addr_ton: u8,
    /// NPI of `address_range`.
    pub addr_npi: u8,
    /// The addresses served by a receiver, a regular expression or empty.
    pub address_range: String,
}

/// The TLVs Tern reads or writes on submit_sm, deliver_sm and data_sm. Others are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tlvs {
    /// 0x0424: the message body when `short_message` is empty (sm_length 0).
    pub message_payload: Option<Vec<u8>>,
    /// 0x020C: reference shared by a SAR-concatenated message's segments.
    pub sar_msg_ref_num: Option<u16>,
    /// 0x020E: number of segments.
    pub sar_total_segments: Option<u8>,
    /// 0x020F: this segment's number, from 1.
    pub sar_segment_seqnum: Option<u8>,
    /// 0x0204: the ESME's own reference for the message.
    pub user_message_reference: Option<u16>,
    /// 0x001E: the message a receipt is about.
    pub receipted_message_id: Option<String>,
    /// 0x0427: the message's state in a receipt (SMPP 3.4 §5.2.28: 2 delivered, 5
    /// undeliverable, ...).
    pub message_state: Option<u8>,
    /// 0x0423: network type (1 octet) and error code (2 octets, big-endian).
    pub network_error_code: Option<[u8; 3]>,
    /// 0x1401, CM's vendor TLV: the operator as MCC+MNC decimal digits, a C-octet string.
    pub cm_operator_mcc_mnc: Option<String>,
    /// 0x140A, CM's vendor TLV: the part's tariff in cents, a C-octet string of decimal digits
    /// (1-6 octets with its NUL, so at most 99,999 cents), as CM's SMPP chapter defines it.
    pub cm_tariff_cents: Option<u32>,
}

/// submit_sm's body (§4.4.1). deliver_sm (§4.6.1) has the same layout: [`DeliverSm`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitSm {
    /// Service type, at most 5 characters.
    pub service_type: String,
    /// TON of the source address.
    pub source_addr_ton: u8,
    /// NPI of the source address.
    pub source_addr_npi: u8,
    /// Sender, at most 20 characters.
    pub source_addr: String,
    /// TON of the destination address.
    pub dest_addr_ton: u8,
    /// NPI of the destination address.
    pub dest_addr_npi: u8,
    /// Recipient, at most 20 characters.
    pub destination_addr: String,
    /// Message mode and type; 0x40 = UDH in short_message, 0x04 = delivery receipt.
    pub esm_class: u8,
    /// GSM TP-PID.
    pub protocol_id: u8,
    /// Priority, 0-3.
    pub priority_flag: u8,
    /// Empty or a 16-character SMPP time.
    pub schedule_delivery_time: String,
    /// Empty or a 16-character SMPP time.
    pub validity_period: String,
    /// Which receipts are wanted (bits 0-1, 4).
    pub registered_delivery: u8,
    /// Replace an earlier message with the same source and destination.
    pub replace_if_present_flag: u8,
    /// Encoding of short_message / message_payload.
    pub data_coding: u8,
    /// Index of a canned message.
    pub sm_default_msg_id: u8,
    /// The body as raw octets, UDH included, at most 254.
    pub short_message: Vec<u8>,
    /// The TLVs Tern knows.
    pub tlvs: Tlvs,
}

/// deliver_sm's body: the same fields as submit_sm (§4.6.1); Tern sends receipts with it.
pub type DeliverSm = SubmitSm;

/// data_sm's body (§4.7.1); the message, if any, is in `tlvs.message_payload`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSm {
    /// Service type, at most 5 characters.
    pub service_type: String,
    /// TON of the source address.
    pub source_addr_ton: u8,
    /// NPI of the source address.
    pub source_addr_npi: u8,
    /// Sender, at most 64 characters.
    pub source_addr: String,
    /// TON of the destination address.
    pub dest_addr_ton: u8,
    /// NPI of the destination address.
    pub dest_addr_npi: u8,
    /// Recipient, at most 64 characters.
    pub destination_addr: String,
    /// Message mode and type.
    pub esm_class: u8,
    /// Which receipts are wanted.
    pub registered_delivery: u8,
    /// Encoding of message_payload.
    pub data_coding: u8,
    /// The TLVs Tern knows.
    pub tlvs: Tlvs,
}

/// query_sm's body (§4.8.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySm {
    /// The id submit_sm_resp returned.
    pub message_id: String,
    /// TON of the original source address.
    pub source_addr_ton: u8,
    /// NPI of the original source address.
    pub source_addr_npi: u8,
    /// The original source address.
    pub source_addr: String,
}

/// query_sm_resp's body (§4.8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    /// The message queried.
    pub message_id: String,
    /// Empty, or the 16-character time the message reached its final state.
    pub final_date: String,
    /// The message state (§5.2.28).
    pub message_state: u8,
    /// Network error code, 0 if none.
    pub error_code: u8,
}

/// cancel_sm's body (§4.9.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelSm {
    /// Service type, at most 5 characters.
    pub service_type: String,
    /// The message to cancel (empty: all matching source and destination).
    pub message_id: String,
    /// TON of the original source address.
    pub source_addr_ton: u8,
    /// NPI of the original source address.
    pub source_addr_npi: u8,
    /// The original source address.
    pub source_addr: String,
    /// TON of the destination address.
    pub dest_addr_ton: u8,
    /// NPI of the destination address.
    pub dest_addr_npi: u8,
    /// The destination address.
    pub destination_addr: String,
}

/// replace_sm's body (§4.10.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    /// The message to replace.
    pub message_id: String,
    /// TON of the original source address.
    pub source_addr_ton: u8,
    /// NPI of the original source address.
    pub source_addr_npi: u8,
    /// The original source address.
    pub source_addr: String,
    /// Empty or a 16-character SMPP time.
    pub schedule_delivery_time: String,
    /// Empty or a 16-character SMPP time.
    pub validity_period: String,
    /// Which receipts are wanted.
    pub registered_delivery: u8,
    /// Index of a canned message.
    pub sm_default_msg_id: u8,
    /// The new body, raw octets, at most 254.
    pub short_message: Vec<u8>,
}

/// The kind of bind, which fixes what a session may send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// Submits only.
    Transmitter,
    /// Receives deliver_sm / data_sm only.
    Receiver,
    /// Both.
    Transceiver,
}

/// Every PDU Tern reads or writes. Responses that carry a body only on success
/// (bind_resp, submit_sm_resp, data_sm_resp, query_sm_resp) are encoded header-only when their
/// command_status is not 0, as SMPP 3.4 says; an empty body decodes to the default value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// bind_transmitter / bind_receiver / bind_transceiver.
    Bind(BindKind, Bind),
    /// bind_*_resp with the server's system_id.
    BindResp(BindKind, String),
    /// submit_sm.
    SubmitSm(Box<SubmitSm>),
    /// submit_sm_resp with the message id.
    SubmitSmResp(String),
    /// deliver_sm (a receipt or an MO message).
    DeliverSm(Box<DeliverSm>),
    /// deliver_sm_resp (its message_id is unused, normally empty).
    DeliverSmResp(String),
    /// data_sm.
    DataSm(Box<DataSm>),
    /// data_sm_resp with the message id (TLVs ignored).
    DataSmResp(String),
    /// query_sm.
    QuerySm(QuerySm),
    /// query_sm_resp.
    QuerySmResp(QuerySmResp),
    /// cancel_sm.
    CancelSm(CancelSm),
    /// cancel_sm_resp.
    CancelSmResp,
    /// replace_sm.
    ReplaceSm(Box<ReplaceSm>),
    /// replace_sm_resp.
    ReplaceSmResp,
    /// submit_multi: only recognised (its body is not read), so that it can be answered.
    SubmitMulti,
    /// enquire_link.
    EnquireLink,
    /// enquire_link_resp.
    EnquireLinkResp,
    /// unbind.
    Unbind,
    /// unbind_resp.
    UnbindResp,
    /// generic_nack.
    GenericNack,
}

impl Pdu {
    /// The command_id this body is sent with.
    pub fn command_id(&self) -> u32 {
        use command_id as id;
        match self {
            Pdu::Bind(kind, _) => bind_id(*kind),
            Pdu::BindResp(kind, _) => bind_id(*kind) | id::RESPONSE_BIT,
            Pdu::SubmitSm(_) => id::SUBMIT_SM,
            Pdu::SubmitSmResp(_) => id::SUBMIT_SM_RESP,
            Pdu::DeliverSm(_) => id::DELIVER_SM,
            Pdu::DeliverSmResp(_) => id::DELIVER_SM_RESP,
            Pdu::DataSm(_) => id::DATA_SM,
            Pdu::DataSmResp(_) => id::DATA_SM_RESP,
            Pdu::QuerySm(_) => id::QUERY_SM,
            Pdu::QuerySmResp(_) => id::QUERY_SM_RESP,
            Pdu::CancelSm(_) => id::CANCEL_SM,
            Pdu::CancelSmResp => id::CANCEL_SM_RESP,
            Pdu::ReplaceSm(_) => id::REPLACE_SM,
            Pdu::ReplaceSmResp => id::REPLACE_SM_RESP,
            Pdu::SubmitMulti => id::SUBMIT_MULTI,
            Pdu::EnquireLink => id::ENQUIRE_LINK,
            Pdu::EnquireLinkResp => id::ENQUIRE_LINK_RESP,
            Pdu::Unbind => id::UNBIND,
            Pdu::UnbindResp => id::UNBIND_RESP,
            Pdu::GenericNack => id::GENERIC_NACK,
        }
    }

    /// The empty response to a request `command_id`, for answering it with an error status;
    /// `None` when the id is not a request Tern knows.
    pub fn error_response_to(request_command_id: u32) -> Option<Pdu> {
        use command_id as id;
        Some(match request_command_id {
            id::BIND_TRANSMITTER => Pdu::BindResp(BindKind::Transmitter, String::new()),
            id::BIND_RECEIVER => Pdu::BindResp(BindKind::Receiver, String::new()),
            id::BIND_TRANSCEIVER => Pdu::BindResp(BindKind::Transceiver, String::new()),
            id::SUBMIT_SM => Pdu::SubmitSmResp(String::new()),
            id::DELIVER_SM => Pdu::DeliverSmResp(String::new()),
            id::DATA_SM => Pdu::DataSmResp(String::new()),
            id::QUERY_SM => Pdu::QuerySmResp(QuerySmResp::default()),
            id::CANCEL_SM => Pdu::CancelSmResp,
            id::REPLACE_SM => Pdu::ReplaceSmResp,
            id::ENQUIRE_LINK => Pdu::EnquireLinkResp,
            id::UNBIND => Pdu::UnbindResp,
            _ => return None,
        })
    }
}

fn bind_id(kind: BindKind) -> u32 {
    match kind {
        BindKind::Transmitter => command_id::BIND_TRANSMITTER,
        BindKind::Receiver => command_id::BIND_RECEIVER,
        BindKind::Transceiver => command_id::BIND_TRANSCEIVER,
    }
}

/// A mandatory C-octet string: its name, its maximum size including the NUL, and the
/// command_status that says it is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CStringField {
    /// The field's name in SMPP 3.4.
    pub name: &'static str,
    /// Maximum octets including the terminating NUL.
    pub max_octets: usize,
    /// The status answering a bad value.
    pub status: CommandStatus,
}

const fn field(name: &'static str, max_octets: usize, status: CommandStatus) -> CStringField {
    CStringField {
        name,
        max_octets,
        status,
    }
}

const SYSTEM_ID: CStringField = field("system_id", 16, CommandStatus::ESME_RINVSYSID);
const PASSWORD: CStringField = field("password", 9, CommandStatus::ESME_RINVPASWD);
const SYSTEM_TYPE: CStringField = field("system_type", 13, CommandStatus::ESME_RINVSYSTYP);
const ADDRESS_RANGE: CStringField = field("address_range", 41, CommandStatus::ESME_RBINDFAIL);
const SERVICE_TYPE: CStringField = field("service_type", 6, CommandStatus::ESME_RINVSERTYP);
const SOURCE_ADDR: CStringField = field("source_addr", 21, CommandStatus::ESME_RINVSRCADR);
const DESTINATION_ADDR: CStringField =
    field("destination_addr", 21, CommandStatus::ESME_RINVDSTADR);
const DATA_SM_SOURCE_ADDR: CStringField = field("source_addr", 65, CommandStatus::ESME_RINVSRCADR);
const DATA_SM_DESTINATION_ADDR: CStringField =
    field("destination_addr", 65, CommandStatus::ESME_RINVDSTADR);
const SCHEDULE_DELIVERY_TIME: CStringField =
    field("schedule_delivery_time", 17, CommandStatus::ESME_RINVSCHED);
const VALIDITY_PERIOD: CStringField = field("validity_period", 17, CommandStatus::ESME_RINVEXPIRY);
const MESSAGE_ID: CStringField = field("message_id", 65, CommandStatus::ESME_RINVMSGID);
const FINAL_DATE: CStringField = field("final_date", 17, CommandStatus::ESME_RQUERYFAIL);

/// Longest short_message SMPP 3.4 allows.
pub const MAX_SHORT_MESSAGE_OCTETS: usize = 254;

/// TLV tags Tern reads or writes.
pub mod tlv_tag {
    /// receipted_message_id, C-octet string (at most 65 octets).
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// user_message_reference, 2 octets.
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    /// sar_msg_ref_num, 2 octets.
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    /// sar_total_segments, 1 octet.
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    /// sar_segment_seqnum, 1 octet.
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    /// network_error_code, 3 octets.
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    /// message_payload, any octets.
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// message_state, 1 octet.
    pub const MESSAGE_STATE: u16 = 0x0427;
    /// CM: operator MCC+MNC, C-octet string.
    pub const CM_OPERATOR_MCC_MNC: u16 = 0x1401;
    /// CM: tariff in cents, C-octet string of decimal digits.
    pub const CM_TARIFF_CENTS: u16 = 0x140A;
}

/// Longest C-octet string TLV value Tern accepts (receipted_message_id's 65; CM's operator
/// TLV is far shorter).
const MAX_TLV_CSTRING_OCTETS: usize = 65;

/// Why a PDU could not be decoded, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} in command {command_id:#010x} (sequence {sequence_number})")]
pub struct DecodeError {
    /// The PDU's command_id.
    pub command_id: u32,
    /// The PDU's sequence_number, for the answer.
    pub sequence_number: u32,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// What was wrong with a PDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    /// The frame is shorter than a header or does not match its command_length.
    #[error("frame of {frame_octets} octets does not match its command_length")]
    FrameLength {
        /// Octets given to the decoder.
        frame_octets: usize,
    },
    /// A command_id SMPP 3.4 has no server-side meaning for.
    #[error("unknown command_id")]
    UnknownCommandId,
    /// The body ended inside a fixed field.
    #[error("body ends inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A command with no body, or no TLVs, has octets after its last field.
    #[error("{extra_octets} octets after the last field")]
    TrailingOctets {
        /// How many.
        extra_octets: usize,
    },
    /// A C-octet string has no NUL within its maximum size.
    #[error("{} has no NUL terminator within {} octets", field.name, field.max_octets)]
    CStringUnterminated {
        /// The field.
        field: CStringField,
    },
    /// A C-octet string is not UTF-8 text.
    #[error("{} is not text", field.name)]
    CStringNotText {
        /// The field.
        field: CStringField,
    },
    /// sm_length over 254 or past the end of the body.
    #[error("sm_length {sm_length} exceeds 254 or the octets left ({octets_left})")]
    ShortMessageLength {
        /// The sm_length received.
        sm_length: u8,
        /// Octets left in the body after it.
        octets_left: usize,
    },
    /// Fewer than the 4 octets of a TLV's tag and length remain.
    #[error("{octets_left} stray octets where a TLV should start")]
    TlvHeaderTruncated {
        /// Octets left.
        octets_left: usize,
    },
    /// A TLV's length runs past the end of the PDU.
    #[error("TLV {tag:#06x} of length {length} runs past the end of the PDU")]
    TlvPastEnd {
        /// The tag.
        tag: u16,
        /// Its length field.
        length: u16,
    },
    /// A known TLV with a length its type does not allow.
    #[error("TLV {tag:#06x} has invalid length {length}")]
    TlvLength {
        /// The tag.
        tag: u16,
        /// Its length field.
        length: u16,
    },
    /// A known C-octet string TLV without its NUL, or not text.
    #[error("TLV {tag:#06x} has an invalid value")]
    TlvValue {
        /// The tag.
        tag: u16,
    },
}

impl DecodeErrorKind {
    /// The command_status that answers this error.
    pub fn command_status(&self) -> CommandStatus {
        match self {
            DecodeErrorKind::FrameLength { .. }
            | DecodeErrorKind::Truncated { .. }
            | DecodeErrorKind::TrailingOctets { .. } => CommandStatus::ESME_RINVCMDLEN,
            DecodeErrorKind::UnknownCommandId => CommandStatus::ESME_RINVCMDID,
            DecodeErrorKind::CStringUnterminated { field }
            | DecodeErrorKind::CStringNotText { field } => field.status,
            DecodeErrorKind::ShortMessageLength { .. } => CommandStatus::ESME_RINVMSGLEN,
            DecodeErrorKind::TlvHeaderTruncated { .. } | DecodeErrorKind::TlvPastEnd { .. } => {
                CommandStatus::ESME_RINVOPTPARSTREAM
            }
            DecodeErrorKind::TlvLength { .. } => CommandStatus::ESME_RINVPARLEN,
            DecodeErrorKind::TlvValue { .. } => CommandStatus::ESME_RINVOPTPARAMVAL,
        }
    }
}

impl DecodeError {
    /// The command_status that answers this error.
    pub fn command_status(&self) -> CommandStatus {
        self.kind.command_status()
    }

    /// The PDU that answers this error: the request's own response carrying the status when
    /// the command is a request Tern knows and its length is sound; otherwise generic_nack
    /// (unknown command_id, bad lengths, broken responses).
    pub fn answer(&self) -> Command {
        let status = self.command_status();
        let own_response = match status {
            CommandStatus::ESME_RINVCMDLEN | CommandStatus::ESME_RINVCMDID => None,
            _ => Pdu::error_response_to(self.command_id),
        };
        Command {
            command_status: status,
            sequence_number: self.sequence_number,
            pdu: own_response.unwrap_or(Pdu::GenericNack),
        }
    }
}

/// Reads fields from a PDU body, front to back.
struct BodyReader<'a> {
    body: &'a [u8],
}

impl<'a> BodyReader<'a> {
    fn octet(&mut self, name: &'static str) -> Result<u8, DecodeErrorKind> {
        let (&first, rest) = self
            .body
            .split_first()
            .ok_or(DecodeErrorKind::Truncated { field: name })?;
        self.body = rest;
        Ok(first)
    }

    fn octets(&mut self, count: usize, name: &'static str) -> Result<&'a [u8], DecodeErrorKind> {
        if self.body.len() < count {
            return Err(DecodeErrorKind::Truncated { field: name });
        }
        let (taken, rest) = self.body.split_at(count);
        self.body = rest;
        Ok(taken)
    }

    fn c_string(&mut self, field: CStringField) -> Result<String, DecodeErrorKind> {
        let window = &self.body[..self.body.len().min(field.max_octets)];
        let nul = window
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeErrorKind::CStringUnterminated { field })?;
        let text = std::str::from_utf8(&window[..nul])
            .map_err(|_| DecodeErrorKind::CStringNotText { field })?
            .to_owned();
        self.body = &self.body[nul + 1..];
        Ok(text)
    }

    fn short_message(&mut self) -> Result<Vec<u8>, DecodeErrorKind> {
        let sm_length = self.octet("sm_length")?;
        if usize::from(sm_length) > MAX_SHORT_MESSAGE_OCTETS
            || usize::from(sm_length) > self.body.len()
        {
            return Err(DecodeErrorKind::ShortMessageLength {
                sm_length,
                octets_left: self.body.len(),
            });
        }
        Ok(self
            .octets(usize::from(sm_length), "short_message")?
            .to_vec())
    }

    fn end(&self) -> Result<(), DecodeErrorKind> {
        match self.body.len() {
            0 => Ok(()),
            extra_octets => Err(DecodeErrorKind::TrailingOctets { extra_octets }),
        }
    }

    /// Reads TLVs to the end of the body, keeping the ones [`Tlvs`] holds.
    fn tlvs(&mut self) -> Result<Tlvs, DecodeErrorKind> {
        let mut tlvs = Tlvs::default();
        while !self.body.is_empty() {
            let Some((header, rest)) = self.body.split_first_chunk::<4>() else {
                return Err(DecodeErrorKind::TlvHeaderTruncated {
                    octets_left: self.body.len(),
                });
            };
            let tag = u16::from_be_bytes([header[0], header[1]]);
            let length = u16::from_be_bytes([header[2], header[3]]);
            if rest.len() < usize::from(length) {
                return Err(DecodeErrorKind::TlvPastEnd { tag, length });
            }
            let (value, rest) = rest.split_at(usize::from(length));
            self.body = rest;
            read_tlv(&mut tlvs, tag, value)?;
        }
        Ok(tlvs)
    }
}

/// Most octets of CM's tariff TLV (0x140A) value, its NUL included.
const MAX_TARIFF_OCTETS: usize = 6;

pub(super) fn read_tlv(tlvs: &mut Tlvs, tag: u16, value: &[u8]) -> Result<(), DecodeErrorKind> {
    let bad_length = || DecodeErrorKind::TlvLength {
        tag,
        length: value.len() as u16,
    };
    let one = || -> Result<u8, DecodeErrorKind> {
        match value {
            [octet] => Ok(*octet),
            _ => Err(bad_length()),
        }
    };
    let two = || -> Result<u16, DecodeErrorKind> {
        match value {
            [high, low] => Ok(u16::from_be_bytes([*high, *low])),
            _ => Err(bad_length()),
        }
    };
    let c_string = || -> Result<String, DecodeErrorKind> {
        if value.is_empty() || value.len() > MAX_TLV_CSTRING_OCTETS {
            return Err(bad_length());
        }
        match value.split_last() {
            Some((0, text)) if !text.contains(&0) => std::str::from_utf8(text)
                .map(str::to_owned)
                .map_err(|_| DecodeErrorKind::TlvValue { tag }),
            _ => Err(DecodeErrorKind::TlvValue { tag }),
        }
    };
    match tag {
        tlv_tag::MESSAGE_PAYLOAD => tlvs.message_payload = Some(value.to_vec()),
        tlv_tag::SAR_MSG_REF_NUM => tlvs.sar_msg_ref_num = Some(two()?),
        tlv_tag::SAR_TOTAL_SEGMENTS => tlvs.sar_total_segments = Some(one()?),
        tlv_tag::SAR_SEGMENT_SEQNUM => tlvs.sar_segment_seqnum = Some(one()?),
        tlv_tag::USER_MESSAGE_REFERENCE => tlvs.user_message_reference = Some(two()?),
        tlv_tag::RECEIPTED_MESSAGE_ID => tlvs.receipted_message_id = Some(c_string()?),
        tlv_tag::MESSAGE_STATE => tlvs.message_state = Some(one()?),
        tlv_tag::NETWORK_ERROR_CODE => {
            tlvs.network_error_code = Some(<[u8; 3]>::try_from(value).map_err(|_| bad_length())?)
        }
        tlv_tag::CM_OPERATOR_MCC_MNC => tlvs.cm_operator_mcc_mnc = Some(c_string()?),
        tlv_tag::CM_TARIFF_CENTS => {
            // A C-octet string of decimal digits, 1-6 octets with its NUL (the CM spec).
            if value.len() > MAX_TARIFF_OCTETS {
                return Err(bad_length());
            }
            let digits = c_string()?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeErrorKind::TlvValue { tag });
            }
            tlvs.cm_tariff_cents = Some(
                digits
                    .parse()
                    .map_err(|_| DecodeErrorKind::TlvValue { tag })?,
            )
        }
        _ => {}
    }
    Ok(())
}

/// Decodes one whole PDU (`frame` is exactly `command_length` octets, as
/// [`super::next_frame`] delimits it).
pub fn decode(frame: &[u8]) -> Result<Command, DecodeError> {
    let frame_length_error = || DecodeError {
        command_id: 0,
        sequence_number: super::frame::sequence_number_of(frame).unwrap_or(0),
        kind: DecodeErrorKind::FrameLength {
            frame_octets: frame.len(),
        },
    };
    let Some((header, body)) = frame.split_first_chunk::<HEADER_LEN>() else {
        return Err(frame_length_error());
    };
    let word = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (command_length, command_id, status, sequence_number) =
        (word(0), word(4), word(8), word(12));
    if command_length as usize != frame.len() {
        return Err(DecodeError {
            command_id,
            ..frame_length_error()
        });
    }
    let pdu = decode_body(command_id, body).map_err(|kind| DecodeError {
        command_id,
        sequence_number,
        kind,
    })?;
    Ok(Command {
        command_status: CommandStatus(status),
        sequence_number,
        pdu,
    })
}

fn decode_body(id: u32, body: &[u8]) -> Result<Pdu, DecodeErrorKind> {
    use command_id as cid;
    let mut reader = BodyReader { body };
    let r = &mut reader;
    let pdu = match id {
        cid::BIND_TRANSMITTER => Pdu::Bind(BindKind::Transmitter, read_bind(r)?),
        cid::BIND_RECEIVER => Pdu::Bind(BindKind::Receiver, read_bind(r)?),
        cid::BIND_TRANSCEIVER => Pdu::Bind(BindKind::Transceiver, read_bind(r)?),
        cid::BIND_TRANSMITTER_RESP | cid::BIND_RECEIVER_RESP | cid::BIND_TRANSCEIVER_RESP => {
            let kind = match id & !cid::RESPONSE_BIT {
                cid::BIND_TRANSMITTER => BindKind::Transmitter,
                cid::BIND_RECEIVER => BindKind::Receiver,
                _ => BindKind::Transceiver,
            };
            let system_id = read_optional_message_id(r, SYSTEM_ID)?;
            // sc_interface_version may follow; TLVs are checked and skipped.
            r.tlvs()?;
            return Ok(Pdu::BindResp(kind, system_id));
        }
        cid::SUBMIT_SM => Pdu::SubmitSm(Box::new(read_submit_sm(r)?)),
        cid::DELIVER_SM => Pdu::DeliverSm(Box::new(read_submit_sm(r)?)),
        cid::DATA_SM => Pdu::DataSm(Box::new(read_data_sm(r)?)),
        cid::SUBMIT_SM_RESP => Pdu::SubmitSmResp(read_optional_message_id(r, MESSAGE_ID)?),
        cid::DELIVER_SM_RESP => Pdu::DeliverSmResp(read_optional_message_id(r, MESSAGE_ID)?),
        cid::DATA_SM_RESP => {
            let message_id = read_optional_message_id(r, MESSAGE_ID)?;
            r.tlvs()?;
            return Ok(Pdu::DataSmResp(message_id));
        }
        cid::QUERY_SM => Pdu::QuerySm(QuerySm {
            message_id: r.c_string(MESSAGE_ID)?,
            source_addr_ton: r.octet("source_addr_ton")?,
            source_addr_npi: r.octet("source_addr_npi")?,
            source_addr: r.c_string(SOURCE_ADDR)?,
        }),
        cid::QUERY_SM_RESP if r.body.is_empty() => Pdu::QuerySmResp(QuerySmResp::default()),
        cid::QUERY_SM_RESP => Pdu::QuerySmResp(QuerySmResp {
            message_id: r.c_string(MESSAGE_ID)?,
            final_date: r.c_string(FINAL_DATE)?,
            message_state: r.octet("message_state")?,
            error_code: r.octet("error_code")?,
        }),
        cid::CANCEL_SM => Pdu::CancelSm(CancelSm {
            service_type: r.c_string(SERVICE_TYPE)?,
            message_id: r.c_string(MESSAGE_ID)?,
            source_addr_ton: r.octet("source_addr_ton")?,
            source_addr_npi: r.octet("source_addr_npi")?,
            source_addr: r.c_string(SOURCE_ADDR)?,
            dest_addr_ton: r.octet("dest_addr_ton")?,
            dest_addr_npi: r.octet("dest_addr_npi")?,
            destination_addr: r.c_string(DESTINATION_ADDR)?,
        }),
        cid::REPLACE_SM => Pdu::ReplaceSm(Box::new(ReplaceSm {
            message_id: r.c_string(MESSAGE_ID)?,
            source_addr_ton: r.octet("source_addr_ton")?,
            source_addr_npi: r.octet("source_addr_npi")?,
            source_addr: r.c_string(SOURCE_ADDR)?,
            schedule_delivery_time: r.c_string(SCHEDULE_DELIVERY_TIME)?,
            validity_period: r.c_string(VALIDITY_PERIOD)?,
            registered_delivery: r.octet("registered_delivery")?,
            sm_default_msg_id: r.octet("sm_default_msg_id")?,
            short_message: r.short_message()?,
        })),
        cid::CANCEL_SM_RESP => Pdu::CancelSmResp,
        cid::REPLACE_SM_RESP => Pdu::ReplaceSmResp,
        cid::SUBMIT_MULTI => {
            // Recognised only to be answered; its body is not read.
            return Ok(Pdu::SubmitMulti);
        }
        cid::ENQUIRE_LINK => Pdu::EnquireLink,
        cid::ENQUIRE_LINK_RESP => Pdu::EnquireLinkResp,
        cid::UNBIND => Pdu::Unbind,
        cid::UNBIND_RESP => Pdu::UnbindResp,
        cid::GENERIC_NACK => Pdu::GenericNack,
        _ => return Err(DecodeErrorKind::UnknownCommandId),
    };
    reader.end()?;
    Ok(pdu)
}

fn read_bind(r: &mut BodyReader<'_>) -> Result<Bind, DecodeErrorKind> {
    Ok(Bind {
        system_id: r.c_string(SYSTEM_ID)?,
        password: r.c_string(PASSWORD)?,
        system_type: r.c_string(SYSTEM_TYPE)?,
        interface_version: r.octet("interface_version")?,
        addr_ton: r.octet("addr_ton")?,
        addr_npi: r.octet("addr_npi")?,
        address_range: r.c_string(ADDRESS_RANGE)?,
    })
}

/// A response's leading C-octet string, absent (empty body) when the status is an error.
fn read_optional_message_id(
    r: &mut BodyReader<'_>,
    field: CStringField,
) -> Result<String, DecodeErrorKind> {
    if r.body.is_empty() {
        Ok(String::new())
    } else {
        r.c_string(field)
    }
}

fn read_submit_sm(r: &mut BodyReader<'_>) -> Result<SubmitSm, DecodeErrorKind> {
    Ok(SubmitSm {
        service_type: r.c_string(SERVICE_TYPE)?,
        source_addr_ton: r.octet("source_addr_ton")?,
        source_addr_npi: r.octet("source_addr_npi")?,
        source_addr: r.c_string(SOURCE_ADDR)?,
        dest_addr_ton: r.octet("dest_addr_ton")?,
        dest_addr_npi: r.octet("dest_addr_npi")?,
        destination_addr: r.c_string(DESTINATION_ADDR)?,
        esm_class: r.octet("esm_class")?,
        protocol_id: r.octet("protocol_id")?,
        priority_flag: r.octet("priority_flag")?,
        schedule_delivery_time: r.c_string(SCHEDULE_DELIVERY_TIME)?,
        validity_period: r.c_string(VALIDITY_PERIOD)?,
        registered_delivery: r.octet("registered_delivery")?,
        replace_if_present_flag: r.octet("replace_if_present_flag")?,
        data_coding: r.octet("data_coding")?,
        sm_default_msg_id: r.octet("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn read_data_sm(r: &mut BodyReader<'_>) -> Result<DataSm, DecodeErrorKind> {
    Ok(DataSm {
        service_type: r.c_string(SERVICE_TYPE)?,
        source_addr_ton: r.octet("source_addr_ton")?,
        source_addr_npi: r.octet("source_addr_npi")?,
        source_addr: r.c_string(DATA_SM_SOURCE_ADDR)?,
        dest_addr_ton: r.octet("dest_addr_ton")?,
        dest_addr_npi: r.octet("dest_addr_npi")?,
        destination_addr: r.c_string(DATA_SM_DESTINATION_ADDR)?,
        esm_class: r.octet("esm_class")?,
        registered_delivery: r.octet("registered_delivery")?,
        data_coding: r.octet("data_coding")?,
        tlvs: r.tlvs()?,
    })
}

/// A value Tern was asked to encode that its field cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A C-octet string longer than its field allows, or containing a NUL.
    #[error("{field} cannot hold {octets} octets or a NUL")]
    CString {
        /// The field's name.
        field: &'static str,
        /// The value's length.
        octets: usize,
    },
    /// short_message over 254 octets.
    #[error("short_message of {octets} octets exceeds 254")]
    ShortMessage {
        /// The body's length.
        octets: usize,
    },
    /// A TLV value over 65535 octets, or the whole PDU over 4 GiB.
    #[error("TLV {tag:#06x} of {octets} octets is too long")]
    TlvTooLong {
        /// The tag.
        tag: u16,
        /// The value's length.
        octets: usize,
    },
}

struct BodyWriter {
    out: Vec<u8>,
}

impl BodyWriter {
    fn octet(&mut self, value: u8) {
        self.out.push(value);
    }

    fn c_string(&mut self, value: &str, field: CStringField) -> Result<(), EncodeError> {
        let bytes = value.as_bytes();
        if bytes.len() >= field.max_octets || bytes.contains(&0) {
            return Err(EncodeError::CString {
                field: field.name,
                octets: bytes.len(),
            });
        }
        self.out.extend_from_slice(bytes);
        self.out.push(0);
        Ok(())
    }

    fn short_message(&mut self, value: &[u8]) -> Result<(), EncodeError> {
        if value.len() > MAX_SHORT_MESSAGE_OCTETS {
            return Err(EncodeError::ShortMessage {
                octets: value.len(),
            });
        }
        self.out.push(value.len() as u8);
        self.out.extend_from_slice(value);
        Ok(())
    }

    fn tlv(&mut self, tag: u16, value: &[u8]) -> Result<(), EncodeError> {
        let length = u16::try_from(value.len()).map_err(|_| EncodeError::TlvTooLong {
            tag,
            octets: value.len(),
        })?;
        self.out.extend_from_slice(&tag.to_be_bytes());
        self.out.extend_from_slice(&length.to_be_bytes());
        self.out.extend_from_slice(value);
        Ok(())
    }

    fn tlv_c_string(&mut self, tag: u16, value: &str) -> Result<(), EncodeError> {
        if value.len() >= MAX_TLV_CSTRING_OCTETS || value.as_bytes().contains(&0) {
            return Err(EncodeError::TlvTooLong {
                tag,
                octets: value.len(),
            });
        }
        let mut octets = Vec::with_capacity(value.len() + 1);
        octets.extend_from_slice(value.as_bytes());
        octets.push(0);
        self.tlv(tag, &octets)
    }

    /// Writes the TLVs present, in a fixed order (ascending tag).
    fn tlvs(&mut self, tlvs: &Tlvs) -> Result<(), EncodeError> {
        use tlv_tag as t;
        if let Some(id) = &tlvs.receipted_message_id {
            self.tlv_c_string(t::RECEIPTED_MESSAGE_ID, id)?;
        }
        if let Some(reference) = tlvs.user_message_reference {
            self.tlv(t::USER_MESSAGE_REFERENCE, &reference.to_be_bytes())?;
        }
        if let Some(reference) = tlvs.sar_msg_ref_num {
            self.tlv(t::SAR_MSG_REF_NUM, &reference.to_be_bytes())?;
        }
        if let Some(total) = tlvs.sar_total_segments {
            self.tlv(t::SAR_TOTAL_SEGMENTS, &[total])?;
        }
        if let Some(seqnum) = tlvs.sar_segment_seqnum {
            self.tlv(t::SAR_SEGMENT_SEQNUM, &[seqnum])?;
        }
        if let Some(code) = &tlvs.network_error_code {
            self.tlv(t::NETWORK_ERROR_CODE, code)?;
        }
        if let Some(payload) = &tlvs.message_payload {
            self.tlv(t::MESSAGE_PAYLOAD, payload)?;
        }
        if let Some(state) = tlvs.message_state {
            self.tlv(t::MESSAGE_STATE, &[state])?;
        }
        if let Some(operator) = &tlvs.cm_operator_mcc_mnc {
            self.tlv_c_string(t::CM_OPERATOR_MCC_MNC, operator)?;
        }
        if let Some(cents) = tlvs.cm_tariff_cents {
            let digits = cents.to_string();
            if digits.len() >= MAX_TARIFF_OCTETS {
                return Err(EncodeError::TlvTooLong {
                    tag: t::CM_TARIFF_CENTS,
                    octets: digits.len(),
                });
            }
            self.tlv_c_string(t::CM_TARIFF_CENTS, &digits)?;
        }
        Ok(())
    }

    fn submit_sm(&mut self, sm: &SubmitSm) -> Result<(), EncodeError> {
        self.c_string(&sm.service_type, SERVICE_TYPE)?;
        self.octet(sm.source_addr_ton);
        self.octet(sm.source_addr_npi);
        self.c_string(&sm.source_addr, SOURCE_ADDR)?;
        self.octet(sm.dest_addr_ton);
        self.octet(sm.dest_addr_npi);
        self.c_string(&sm.destination_addr, DESTINATION_ADDR)?;
        self.octet(sm.esm_class);
        self.octet(sm.protocol_id);
        self.octet(sm.priority_flag);
        self.c_string(&sm.schedule_delivery_time, SCHEDULE_DELIVERY_TIME)?;
        self.c_string(&sm.validity_period, VALIDITY_PERIOD)?;
        self.octet(sm.registered_delivery);
        self.octet(sm.replace_if_present_flag);
        self.octet(sm.data_coding);
        self.octet(sm.sm_default_msg_id);
        self.short_message(&sm.short_message)?;
        self.tlvs(&sm.tlvs)
    }
}

impl Command {
    /// The PDU's exact wire form, header included.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = BodyWriter {
            out: Vec::with_capacity(64),
        };
        w.out.extend_from_slice(&[0; 4]);
        w.out
            .extend_from_slice(&self.pdu.command_id().to_be_bytes());
        w.out
            .extend_from_slice(&self.command_status.0.to_be_bytes());
        w.out.extend_from_slice(&self.sequence_number.to_be_bytes());
        let ok = self.command_status.is_ok();
        match &self.pdu {
            Pdu::Bind(_, bind) => {
                w.c_string(&bind.system_id, SYSTEM_ID)?;
                w.c_string(&bind.password, PASSWORD)?;
                w.c_string(&bind.system_type, SYSTEM_TYPE)?;
                w.octet(bind.interface_version);
                w.octet(bind.addr_ton);
                w.octet(bind.addr_npi);
                w.c_string(&bind.address_range, ADDRESS_RANGE)?;
            }
            Pdu::BindResp(_, system_id) if ok => w.c_string(system_id, SYSTEM_ID)?,
            Pdu::SubmitSmResp(id) | Pdu::DataSmResp(id) if ok => w.c_string(id, MESSAGE_ID)?,
            // deliver_sm_resp's message_id is always sent (empty), whatever the status.
            Pdu::DeliverSmResp(id) => w.c_string(id, MESSAGE_ID)?,
            Pdu::SubmitSm(sm) | Pdu::DeliverSm(sm) => w.submit_sm(sm)?,
            Pdu::DataSm(sm) => {
                w.c_string(&sm.service_type, SERVICE_TYPE)?;
                w.octet(sm.source_addr_ton);
                w.octet(sm.source_addr_npi);
                w.c_string(&sm.source_addr, DATA_SM_SOURCE_ADDR)?;
                w.octet(sm.dest_addr_ton);
                w.octet(sm.dest_addr_npi);
                w.c_string(&sm.destination_addr, DATA_SM_DESTINATION_ADDR)?;
                w.octet(sm.esm_class);
                w.octet(sm.registered_delivery);
                w.octet(sm.data_coding);
                w.tlvs(&sm.tlvs)?;
            }
            Pdu::QuerySm(query) => {
                w.c_string(&query.message_id, MESSAGE_ID)?;
                w.octet(query.source_addr_ton);
                w.octet(query.source_addr_npi);
                w.c_string(&query.source_addr, SOURCE_ADDR)?;
            }
            Pdu::QuerySmResp(resp) if ok => {
                w.c_string(&resp.message_id, MESSAGE_ID)?;
                w.c_string(&resp.final_date, FINAL_DATE)?;
                w.octet(resp.message_state);
                w.octet(resp.error_code);
            }
            Pdu::CancelSm(cancel) => {
                w.c_string(&cancel.service_type, SERVICE_TYPE)?;
                w.c_string(&cancel.message_id, MESSAGE_ID)?;
                w.octet(cancel.source_addr_ton);
                w.octet(cancel.source_addr_npi);
                w.c_string(&cancel.source_addr, SOURCE_ADDR)?;
                w.octet(cancel.dest_addr_ton);
                w.octet(cancel.dest_addr_npi);
                w.c_string(&cancel.destination_addr, DESTINATION_ADDR)?;
            }
            Pdu::ReplaceSm(replace) => {
                w.c_string(&replace.message_id, MESSAGE_ID)?;
                w.octet(replace.source_addr_ton);
                w.octet(replace.source_addr_npi);
                w.c_string(&replace.source_addr, SOURCE_ADDR)?;
                w.c_string(&replace.schedule_delivery_time, SCHEDULE_DELIVERY_TIME)?;
                w.c_string(&replace.validity_period, VALIDITY_PERIOD)?;
                w.octet(replace.registered_delivery);
                w.octet(replace.sm_default_msg_id);
                w.short_message(&replace.short_message)?;
            }
            Pdu::BindResp(..)
            | Pdu::SubmitSmResp(_)
            | Pdu::DataSmResp(_)
            | Pdu::QuerySmResp(_)
            | Pdu::CancelSmResp
            | Pdu::ReplaceSmResp
            | Pdu::SubmitMulti
            | Pdu::EnquireLink
            | Pdu::EnquireLinkResp
            | Pdu::Unbind
            | Pdu::UnbindResp
            | Pdu::GenericNack => {}
        }
        let length = u32::try_from(w.out.len()).map_err(|_| EncodeError::TlvTooLong {
            tag: 0,
            octets: w.out.len(),
        })?;
        w.out[..4].copy_from_slice(&length.to_be_bytes());
        Ok(w.out)
    }
}
