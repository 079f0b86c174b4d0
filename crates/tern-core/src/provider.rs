//! What a channel provider's answers mean for a message, in the terms every provider's decisions
//! share (WhatsApp, RBM, FCM): the class of a send error ([`ErrorClass`]: fall back, retry, or a
//! configuration fault), which becomes the connector error the state machine acts on, and the CM
//! status a provider's status webhook reports ([`StatusUpdate`]). Each provider's own module
//! (`whatsapp`, `rbm`) maps its codes and events onto these from one table.

use std::time::Duration;

use crate::error_code::DeliveryError;
use crate::ports::{ConnectorError, ErrorOrigin};
use crate::status::{CmStatus, NOT_DELIVERED_ERROR};

/// What a provider's error means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The channel will not deliver it: fall back to the next channel at once, reporting
    /// `error` if it was the last.
    FallBack { error: DeliveryError },
    /// Throttling or a transient failure: send again on the same channel after `after` (or the
    /// default backoff); never a reason to fall back.
    Retry { after: Option<Duration> },
    /// Tern's setup for the provider is wrong (token, permissions, account): this attempt
    /// fails and the message falls back, and the connector says so loudly in its logs.
    Configuration,
}

impl ErrorClass {
    /// The connector error this class is, with `message` for the logs.
    pub fn connector_error(self, message: impl Into<String>) -> ConnectorError {
        match self {
            ErrorClass::FallBack { error } => {
                ConnectorError::permanent(ErrorOrigin::Provider, Some(error), message)
            }
            ErrorClass::Retry { after } => {
                ConnectorError::temporary(ErrorOrigin::Provider, after, message)
            }
            ErrorClass::Configuration => {
                ConnectorError::permanent(ErrorOrigin::Tern, Some(NOT_DELIVERED_ERROR), message)
            }
        }
    }
}

/// What a provider's status webhook reports for the message (not to be confused with a
/// message's history entry, `message::StatusEvent`). A `Failed` status makes the state machine
/// fall back to the next channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub status: CmStatus,
    /// For a failure: the CM error it falls back with (5 when the provider gives none).
    pub error: Option<DeliveryError>,
    /// The report's status description; for a failure, the provider's code or event and title.
    pub description: String,
    /// For a failure: the provider's numeric error code, when it gives one (WhatsApp's, for
    /// `whatsapp::classify_error`).
    pub provider_code: Option<i64>,
}
