//! The numeric vocabulary of SMPP 3.4: `command_status` values (§5.1.3) and `command_id`
//! values (§5.1.2). Kept here, next to the codec that reads and writes them, so the codec and
//! the session speak in numbers the wire uses; tern-core maps its own error table onto
//! [`CommandStatus`].

use std::fmt;

/// An SMPP `command_status`: 0 for success, otherwise the error the peer is told.
///
/// A newtype over the wire's u32 rather than an enum, because peers send values outside
/// SMPP 3.4's table (vendor ranges 0x400-0x4FF) and those must survive a decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandStatus(pub u32);

impl CommandStatus {
    /// No error.
    pub const ESME_ROK: Self = Self(0x0000_0000);
    /// Message length is invalid.
    pub const ESME_RINVMSGLEN: Self = Self(0x0000_0001);
    /// Command length is invalid.
    pub const ESME_RINVCMDLEN: Self = Self(0x0000_0002);
    /// Invalid command id.
    pub const ESME_RINVCMDID: Self = Self(0x0000_0003);
    /// Incorrect bind status for the given command.
    pub const ESME_RINVBNDSTS: Self = Self(0x0000_0004);
    /// ESME already in bound state.
    pub const ESME_RALYBND: Self = Self(0x0000_0005);
    /// Invalid priority flag.
    pub const ESME_RINVPRTFLG: Self = Self(0x0000_0006);
    /// Invalid registered delivery flag.
    pub const ESME_RINVREGDLVFLG: Self = Self(0x0000_0007);
    /// System error.
    pub const ESME_RSYSERR: Self = Self(0x0000_0008);
    /// Invalid source address.
    pub const ESME_RINVSRCADR: Self = Self(0x0000_000A);
    /// Invalid destination address.
    pub const ESME_RINVDSTADR: Self = Self(0x0000_000B);
    /// Message id is invalid.
    pub const ESME_RINVMSGID: Self = Self(0x0000_000C);
    /// Bind failed.
    pub const ESME_RBINDFAIL: Self = Self(0x0000_000D);
    /// Invalid password.
    pub const ESME_RINVPASWD: Self = Self(0x0000_000E);
    /// Invalid system id.
    pub const ESME_RINVSYSID: Self = Self(0x0000_000F);
    /// cancel_sm failed.
    pub const ESME_RCANCELFAIL: Self = Self(0x0000_0011);
    /// replace_sm failed.
    pub const ESME_RREPLACEFAIL: Self = Self(0x0000_0013);
    /// Message queue full.
    pub const ESME_RMSGQFUL: Self = Self(0x0000_0014);
    /// Invalid service type.
    pub const ESME_RINVSERTYP: Self = Self(0x0000_0015);
    /// Invalid esm_class.
    pub const ESME_RINVESMCLASS: Self = Self(0x0000_0043);
    /// submit_sm or submit_multi failed.
    pub const ESME_RSUBMITFAIL: Self = Self(0x0000_0045);
    /// Invalid source address TON.
    pub const ESME_RINVSRCTON: Self = Self(0x0000_0048);
    /// Invalid source address NPI.
    pub const ESME_RINVSRCNPI: Self = Self(0x0000_0049);
    /// Invalid destination address TON.
    pub const ESME_RINVDSTTON: Self = Self(0x0000_0050);
    /// Invalid destination address NPI.
    pub const ESME_RINVDSTNPI: Self = Self(0x0000_0051);
    /// Invalid system_type.
    pub const ESME_RINVSYSTYP: Self = Self(0x0000_0053);
    /// Throttling error (the ESME exceeded its allowed message limits).
    pub const ESME_RTHROTTLED: Self = Self(0x0000_0058);
    /// Invalid scheduled delivery time.
    pub const ESME_RINVSCHED: Self = Self(0x0000_0061);
    /// Invalid message validity period (expiry time).
    pub const ESME_RINVEXPIRY: Self = Self(0x0000_0062);
    /// Invalid predefined message id (sm_default_msg_id).
    pub const ESME_RINVDFTMSGID: Self = Self(0x0000_0063);
    /// query_sm failed.
    pub const ESME_RQUERYFAIL: Self = Self(0x0000_0067);
    /// 0x64: ESME receiver temporary application error (the SMSC sends the PDU again later).
    pub const ESME_RX_T_APPN: Self = Self(0x0000_0064);
    /// Error in the optional part of the PDU body.
    pub const ESME_RINVOPTPARSTREAM: Self = Self(0x0000_00C0);
    /// Optional parameter not allowed.
    pub const ESME_ROPTPARNOTALLWD: Self = Self(0x0000_00C1);
    /// Invalid parameter length.
    pub const ESME_RINVPARLEN: Self = Self(0x0000_00C2);
    /// Expected optional parameter missing.
    pub const ESME_RMISSINGOPTPARAM: Self = Self(0x0000_00C3);
    /// Invalid optional parameter value.
    pub const ESME_RINVOPTPARAMVAL: Self = Self(0x0000_00C4);
    /// Delivery failure (used for data_sm_resp).
    pub const ESME_RDELIVERYFAILURE: Self = Self(0x0000_00FE);
    /// Unknown error.
    pub const ESME_RUNKNOWNERR: Self = Self(0x0000_00FF);

    /// Whether this is ESME_ROK.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// SMPP 3.4 `command_id` values (§5.1.2). A response's id is its request's id with the top bit
/// set ([`RESPONSE_BIT`]).
pub mod command_id {
    /// Set in every response's command_id.
    pub const RESPONSE_BIT: u32 = 0x8000_0000;
    /// generic_nack.
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    /// bind_receiver.
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    /// bind_receiver_resp.
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    /// bind_transmitter.
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    /// bind_transmitter_resp.
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    /// query_sm.
    pub const QUERY_SM: u32 = 0x0000_0003;
    /// query_sm_resp.
    pub const QUERY_SM_RESP: u32 = 0x8000_0003;
    /// submit_sm.
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    /// submit_sm_resp.
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    /// deliver_sm.
    pub const DELIVER_SM: u32 = 0x0000_0005;
    /// deliver_sm_resp.
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    /// unbind.
    pub const UNBIND: u32 = 0x0000_0006;
    /// unbind_resp.
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    /// replace_sm.
    pub const REPLACE_SM: u32 = 0x0000_0007;
    /// replace_sm_resp.
    pub const REPLACE_SM_RESP: u32 = 0x8000_0007;
    /// cancel_sm.
    pub const CANCEL_SM: u32 = 0x0000_0008;
    /// cancel_sm_resp.
    pub const CANCEL_SM_RESP: u32 = 0x8000_0008;
    /// bind_transceiver.
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    /// bind_transceiver_resp.
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    /// enquire_link.
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    /// enquire_link_resp.
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    /// submit_multi.
    pub const SUBMIT_MULTI: u32 = 0x0000_0021;
    /// submit_multi_resp.
    pub const SUBMIT_MULTI_RESP: u32 = 0x8000_0021;
    /// data_sm.
    pub const DATA_SM: u32 = 0x0000_0103;
    /// data_sm_resp.
    pub const DATA_SM_RESP: u32 = 0x8000_0103;
}
