//! CM's status codes (0-4) and the standard error codes of the spec's Errors table (5-37), with
//! the texts status reports carry.

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
pub const EXPIRED_ERROR: u16 = 8;
/// Error code 5, used when a channel gives no more detail.
pub const NOT_DELIVERED_ERROR: u16 = 5;

/// The short description of a standard error code from the spec's Errors table.
pub fn error_description(code: u16) -> Option<&'static str> {
    Some(match code {
        5 => "Message not delivered at third party",
        7 => "Message not delivered at operator because recipient has insufficient credit",
        8 => "Message expired at third party",
        20 => "Message not delivered because of a malformed request",
        21 => "Message expired at operator",
        22 => "Message not delivered at operator because recipient has insufficient credit",
        23 => {
            "Message not delivered because of an incorrect recipient number (invalid/blacklisted/barred)"
        }
        24 => "Message not delivered because the recipient was unreachable",
        25 => "Message not delivered at third party",
        26 => {
            "Message not delivered because of a temporary handset issue (sim card full/memory exceeded/SME busy)"
        }
        27 => "Message not delivered because of a permanent handset issue (unable to receive SMS)",
        28 => "Message not delivered because submission speed is too high (throttling errors)",
        29 => "Message not delivered because content is not permitted",
        30 => "Message not delivered because the set spend limit is reached",
        31 => "Message not delivered because the recipient was suspended from premium services",
        33 => "Message not delivered because of parental lock",
        34 => "Message not delivered because age check failure",
        35 => "Message not delivered because age check missing",
        36 => "Message not delivered because age check unavailable",
        37 => {
            "Message not delivered because recipient is in national Do-Not-Call Register (for example, the Dutch SMS DienstenFilter and Chinese DnD list)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_have_descriptions() {
        assert_eq!(
            error_description(24),
            Some("Message not delivered because the recipient was unreachable")
        );
        assert_eq!(error_description(6), None);
        assert_eq!(CmStatus::from_code(4), Some(CmStatus::Read));
        assert_eq!(CmStatus::Delivered.code(), 2);
    }
}
