//! The `minimumNumberOfMessageParts` / `maximumNumberOfMessageParts` rule.
//!
//! Exists because a message longer than its client allows must be rejected
//! (CM code 305) with a reason, never silently truncated, and the HTTP and
//! SMPP paths must apply the same rule.

/// Maximum parts when the client gives no `maximumNumberOfMessageParts` (CM's advice: 8).
pub const DEFAULT_MAX_PARTS: u32 = 8;

/// Why a message's part limits reject it (CM error code 305).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PartLimitError {
    /// `minimumNumberOfMessageParts` outside 1..=255.
    #[error("minimumNumberOfMessageParts must be between 1 and 255, got {0}")]
    MinimumOutOfRange(i64),
    /// `maximumNumberOfMessageParts` outside 1..=255.
    #[error("maximumNumberOfMessageParts must be between 1 and 255, got {0}")]
    MaximumOutOfRange(i64),
    /// The maximum (given) is below the minimum.
    #[error(
        "maximumNumberOfMessageParts ({maximum}) is less than minimumNumberOfMessageParts ({minimum})"
    )]
    MaximumBelowMinimum {
        /// The minimum sent.
        minimum: i64,
        /// The maximum sent.
        maximum: i64,
    },
    /// Only a minimum was given, and it is above the default maximum.
    #[error(
        "minimumNumberOfMessageParts ({minimum}) is more than the default maximumNumberOfMessageParts ({DEFAULT_MAX_PARTS}); send maximumNumberOfMessageParts too"
    )]
    MinimumAboveDefaultMaximum {
        /// The minimum sent.
        minimum: i64,
    },
    /// The message needs more parts than its maximum allows.
    #[error("Message needs {needed} parts but maximumNumberOfMessageParts is {maximum}")]
    TooManyParts {
        /// Parts the message needs.
        needed: u32,
        /// The maximum in force (sent, or [`DEFAULT_MAX_PARTS`]).
        maximum: u32,
    },
}

/// Checks the client's part limits against the parts a message needs.
///
/// `min`/`max` are the raw values sent (`None` when absent). Rules: each given
/// value must be in 1..=255; `min <= max`; the maximum in force is `max` or
/// [`DEFAULT_MAX_PARTS`]; `needed` must not exceed it. A message needing fewer
/// parts than `min` is accepted (the minimum only bounds the maximum).
pub fn check_part_limits(
    min: Option<i64>,
    max: Option<i64>,
    needed: u32,
) -> Result<(), PartLimitError> {
    let in_range = |v: i64| (1..=255).contains(&v);
    if let Some(m) = min.filter(|&m| !in_range(m)) {
        return Err(PartLimitError::MinimumOutOfRange(m));
    }
    if let Some(m) = max.filter(|&m| !in_range(m)) {
        return Err(PartLimitError::MaximumOutOfRange(m));
    }
    let maximum = match (min, max) {
        (Some(minimum), Some(maximum)) if maximum < minimum => {
            return Err(PartLimitError::MaximumBelowMinimum { minimum, maximum });
        }
        (_, Some(maximum)) => maximum as u32,
        (Some(minimum), None) if minimum > i64::from(DEFAULT_MAX_PARTS) => {
            return Err(PartLimitError::MinimumAboveDefaultMaximum { minimum });
        }
        (_, None) => DEFAULT_MAX_PARTS,
    };
    if needed > maximum {
        return Err(PartLimitError::TooManyParts { needed, maximum });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        assert_eq!(check_part_limits(None, None, 1), Ok(()));
        assert_eq!(check_part_limits(None, None, 8), Ok(()));
        assert_eq!(check_part_limits(Some(1), Some(8), 8), Ok(()));
        assert_eq!(check_part_limits(Some(3), Some(3), 1), Ok(()));
        assert_eq!(check_part_limits(Some(1), Some(255), 255), Ok(()));
        assert_eq!(check_part_limits(Some(8), None, 2), Ok(()));
        assert_eq!(check_part_limits(None, Some(20), 20), Ok(()));
    }

    #[test]
    fn rejected_with_reasons() {
        let msg = |min, max, needed| check_part_limits(min, max, needed).unwrap_err().to_string();
        assert_eq!(
            msg(Some(0), Some(8), 1),
            "minimumNumberOfMessageParts must be between 1 and 255, got 0"
        );
        assert_eq!(
            msg(Some(1), Some(256), 1),
            "maximumNumberOfMessageParts must be between 1 and 255, got 256"
        );
        assert_eq!(
            msg(None, Some(-3), 1),
            "maximumNumberOfMessageParts must be between 1 and 255, got -3"
        );
        assert_eq!(
            msg(Some(5), Some(3), 1),
            "maximumNumberOfMessageParts (3) is less than minimumNumberOfMessageParts (5)"
        );
        assert_eq!(
            msg(None, None, 9),
            "Message needs 9 parts but maximumNumberOfMessageParts is 8"
        );
        assert_eq!(
            msg(Some(1), Some(2), 3),
            "Message needs 3 parts but maximumNumberOfMessageParts is 2"
        );
        assert_eq!(
            check_part_limits(Some(9), None, 1),
            Err(PartLimitError::MinimumAboveDefaultMaximum { minimum: 9 })
        );
        assert_eq!(
            check_part_limits(Some(i64::MIN), None, 1),
            Err(PartLimitError::MinimumOutOfRange(i64::MIN))
        );
    }
}
