//! The Push connector's device-events half: what CM's app SDK posts to
//! `…/accounts/{appKey}/profiles/{installationId}/events`, handed here by the push surface once
//! the app and installation are known. A `Delivered` status report names the message and the
//! send it confirms (its `messageId` is a [`ConfirmationRef`]): it becomes that send's delivery
//! report (status 2), durably recorded before the device is answered `204`, and disarms the
//! send's confirmation timer. A confirmation of a send that already failed, or was confirmed,
//! changes nothing (the state machine reports each status once and ignores earlier attempts).
//! Interactions (`MessageOpened`, `MessageDismissed`…) and other status reports are accepted
//! (`204`) and ignored: CM's status reports have no status for them.

use std::sync::Arc;

use tern_core::ports::WebhookAnswer;
use tern_core::push::ConfirmationRef;
use tern_proto::push_sdk::DeviceEvent;

use super::Inner;

/// The device-events half of a [`super::FcmConnector`].
#[derive(Clone)]
pub struct FcmEvents {
    inner: Arc<Inner>,
}

/// `{"message":…}` with `status`, as the push endpoints answer errors.
fn error(status: u16, message: &str) -> WebhookAnswer {
    WebhookAnswer {
        status,
        content_type: "application/json; charset=utf-8",
        body: serde_json::json!({ "message": message }).to_string(),
    }
}

fn accepted() -> WebhookAnswer {
    WebhookAnswer::text(204, "")
}

impl FcmEvents {
    pub(super) fn new(inner: Arc<Inner>) -> FcmEvents {
        FcmEvents { inner }
    }

    /// Answer one events body.
    pub async fn receive(&self, body: &[u8]) -> WebhookAnswer {
        let event = match DeviceEvent::parse(body) {
            Ok(event) => event,
            Err(failure) => return error(400, &failure.to_string()),
        };
        let Some(message_id) = event.delivered() else {
            tracing::debug!(connector = %self.inner.name, ?event, "a device event other than a delivery confirmation; ignored");
            return accepted();
        };
        let Some(place) = ConfirmationRef::parse(message_id) else {
            tracing::info!(connector = %self.inner.name, message_id, "a delivery confirmation of a push Tern did not send; ignored");
            return accepted();
        };
        if self
            .inner
            .sink
            .emit_recorded(place.message_id, place.delivered())
            .await
        {
            self.inner.disarm(&place);
            accepted()
        } else {
            error(503, "not recorded; retry")
        }
    }
}
