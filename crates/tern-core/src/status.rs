//! CM's status codes (0-4) with the texts status reports carry. The error codes (5-37) are
//! [`DeliveryError`], a row of the error table; the two constants here are their codes as
//! connectors and the dispatcher still pass them (a bare `u16`, converted where reports are
//! rendered).

use crate::error_code::DeliveryError;

/// The status a report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmStatus {
    /// 0: accepted by the operator.
    Accepted = 0,
    /// 1: rejected by Tern or the operator.
    Rejected = 1,
    /// 2: delivered.
    Delivered = 2,
    /// 3: failed (will not be delivered).
    Failed = 3,
    /// 4: read (not for SMS).
    Read = 4,
}

impl CmStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status description a report carries when there is no error.
    pub fn description(self) -> &'static str {
        match self {
            CmStatus::Accepted => "Accepted by operator",
            CmStatus::Rejected => "Rejected",
            CmStatus::Delivered => "Delivered",
            CmStatus::Failed => "Failed",
            CmStatus::Read => "Read",
        }
    }

    /// From the numeric code.
    pub fn from_code(code: u8) -> Option<CmStatus> {
        Some(match code {
            0 => CmStatus::Accepted,
            1 => CmStatus::Rejected,
            2 => CmStatus::Delivered,
            3 => CmStatus::Failed,
            4 => CmStatus::Read,
            _ => return None,
        })
    }
}

/// Error code 8, used when a message's validity ends before it was delivered.
pub const EXPIRED_ERROR: DeliveryError = DeliveryError::ExpiredAtThirdParty;
/// Error code 5, used when a channel gives no more detail.
pub const NOT_DELIVERED_ERROR: DeliveryError = DeliveryError::NotDeliveredAtThirdParty;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(EXPIRED_ERROR.code(), 8);
        assert_eq!(NOT_DELIVERED_ERROR.code(), 5);
        assert_eq!(CmStatus::from_code(4), Some(CmStatus::Read));
        assert_eq!(CmStatus::Delivered.code(), 2);
    }
}
