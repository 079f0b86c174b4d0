//! SMPP 3.4 for Tern's SMPP server (and its SMPP client connector), as pure code: framing a byte stream into PDUs
//! ([`next_frame`]), decoding and encoding the PDUs ([`decode`], [`Command::encode`]) and the
//! session's bind-state rules ([`Session`]), and delivery receipts both ways: rendering Tern's
//! own ([`Receipt`]) and reading an SMSC's ([`parse_deliver_sm_receipt`], matched to submits by
//! [`canonical_submit_id`] / [`canonical_receipt_id`]). No I/O: the server's connection task reads bytes,
//! asks these functions what they mean and what to do, and writes what they produce.
//!
//! Typical use in a connection task:
//! ```
//! use tern_proto::smpp::{self, Action, Frame, Session};
//! let received = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9]; // enquire_link, seq 9
//! let mut session = Session::new();
//! let Ok(Frame::Complete { len }) = smpp::next_frame(&received, 65536) else { panic!() };
//! let actions = session.receive(smpp::decode(&received[..len]));
//! let Action::Send(reply) = &actions[0] else { panic!() };
//! assert_eq!(
//!     reply.encode().unwrap(),
//!     [0, 0, 0, 16, 0x80, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9]
//! );
//! ```

mod frame;
mod pdu;
mod receipt;
mod receipt_id;
mod receipt_parse;
mod session;
mod status;
mod time;

#[cfg(test)]
mod tests;

pub use frame::{Frame, FrameError, HEADER_LEN, next_frame, sequence_number_of};
pub use pdu::{
    Bind, BindKind, CStringField, CancelSm, Command, DataSm, DecodeError, DecodeErrorKind,
    DeliverSm, EncodeError, MAX_SHORT_MESSAGE_OCTETS, Pdu, QuerySm, QuerySmResp, ReplaceSm,
    SubmitSm, Tlvs, decode, tlv_tag,
};
pub use receipt::{APPENDIX_B_TEXT_CHARS, MessageState, Receipt, ReceiptTime};
pub use receipt_id::{
    MAX_NUMERIC_ID_DIGITS, ReceiptIdFormat, UnknownReceiptIdFormat, canonical_receipt_id,
    canonical_submit_id,
};
pub use receipt_parse::{
    ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_INTERMEDIATE_NOTIFICATION, ParsedReceipt, ReceiptErr,
    ReceiptParseError, ReceiptState, ReceiptText, is_receipt, parse_data_sm_receipt,
    parse_deliver_sm_receipt, parse_receipt,
};
pub use session::{Action, SendRefused, Session, SessionState};
pub use status::{CommandStatus, command_id};
pub use time::{InvalidSmppTime, SmppTime, parse_time};
