//! The SMPP sessions that receipts (and later MO messages) go out on: the SMPP server's
//! receivers and transceivers bound on this node, as the outbox's receipt sender reaches them. A
//! port, so that the sender (`tern-egress`) and the server (`tern-ingress`) need not know each
//! other; the binary joins them.

use async_trait::async_trait;
use tern_proto::smpp::{CommandStatus, Pdu};

use crate::account::AccountId;

/// Why a PDU handed to [`SmppReceivers::deliver`] got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiverError {
    /// The account has no receiver or transceiver bound (any more).
    #[error("no receiver or transceiver of the account is bound")]
    NoBind,
    /// The session closed, or did not answer in time: the PDU may or may not have reached it.
    #[error("no response: {0}")]
    NoResponse(String),
    /// The PDU cannot be sent on a session (too long a field, the wrong kind of PDU).
    #[error("cannot be sent: {0}")]
    Unsendable(String),
}

/// The bound sessions of this node that take deliver_sm and data_sm.
#[async_trait]
pub trait SmppReceivers: Send + Sync + 'static {
    /// The accounts with at least one receiver or transceiver bound now.
    fn receiving_accounts(&self) -> Vec<AccountId>;
    /// Resolves when a receiver or transceiver binds (the caller looks at
    /// [`SmppReceivers::receiving_accounts`] again; it may also poll).
    async fn bound(&self);
    /// Hand `pdu` (a deliver_sm or data_sm) to one of `account`'s receiving binds and resolve
    /// with the command_status of the client's response.
    async fn deliver(&self, account: AccountId, pdu: Pdu) -> Result<CommandStatus, ReceiverError>;
}
