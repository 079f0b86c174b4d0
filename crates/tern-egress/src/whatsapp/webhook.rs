//! The WhatsApp connector's webhook: Meta's subscription handshake (GET) and its deliveries
//! (POST), signed with the app secret over the raw body. A delivery is answered 200 only once
//! everything in it is durably recorded, so that a crash before that makes Meta post it again;
//! a status posted twice, or out of order, changes nothing twice (the state machine reports each
//! status of a message once, and never goes back from read to delivered).

use std::sync::Arc;

use futures_util::future::join_all;
use tern_core::channel::Channel;
use tern_core::inbound::ProviderInbound;
use tern_core::metrics::{self, InboundOutcome};
use tern_core::ports::{WebhookAnswer, WebhookMethod, WebhookRequest};
use tern_core::whatsapp::{CallbackRef, inbound_media_id, inbound_of, status_event_for};
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
        let mut recorded = Vec::new();
        for value in notification.values() {
            if !self.ours(value) {
                tracing::warn!(connector = %self.inner.name, "WhatsApp webhook for another phone number ignored");
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

    /// Hand the notification's inbound messages (those for this number) to the inbound
    /// pipeline for the connector's `inbound_account`; `false` when they could not be stored
    /// (or a file's URI could not be looked up), so that Meta posts them again.
    async fn inbound(&self, notification: &Notification) -> bool {
        let inner = &self.inner;
        let mut messages = Vec::new();
        for value in notification.values() {
            if value.messages.is_empty() || !self.ours(value) {
                continue;
            }
            let to = value
                .metadata
                .as_ref()
                .map(|metadata| plus(&metadata.display_phone_number))
                .unwrap_or_default();
            for message in &value.messages {
                let name = value
                    .contacts
                    .iter()
                    .find(|contact| contact.wa_id == message.from)
                    .and_then(|contact| contact.profile.as_ref())
                    .map(|profile| profile.name.as_str());
                let media_uri = match inbound_media_id(message) {
                    Some(id) => match self.media_uri(id).await {
                        Ok(uri) => Some(uri),
                        Err(error) => {
                            tracing::warn!(connector = %inner.name, media = %id, %error, "cannot look up an inbound file's URI; Meta will post the message again");
                            return false;
                        }
                    },
                    None => None,
                };
                let of = inbound_of(message, name, media_uri.as_deref());
                messages.push(ProviderInbound {
                    connector: Arc::clone(&inner.name),
                    channel: Channel::WhatsApp,
                    provider_id: message.id.clone(),
                    account: inner.inbound_account,
                    from: plus(&message.from),
                    to: to.clone(),
                    text: of.text,
                    extras: of.extras,
                    answers: of.answers,
                    received_at: message
                        .timestamp_seconds()
                        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
                        .unwrap_or_else(jiff::Timestamp::now),
                });
            }
        }
        if messages.is_empty() {
            return true;
        }
        if inner.inbound_account.is_none() {
            tracing::warn!(connector = %inner.name, count = messages.len(), "WhatsApp inbound messages dropped: the connector has no inbound_account");
            return true;
        }
        let count = messages.len() as u64;
        match inner.inbound.accept_provider_inbound(messages).await {
            Ok(recorded) => {
                // A message Meta posted again is recorded once, and counted once.
                metrics::inbound(
                    Channel::WhatsApp,
                    InboundOutcome::Accepted,
                    recorded.len() as u64,
                );
                if !recorded.is_empty() {
                    inner.wakeups.outbox_written();
                }
                true
            }
            Err(error) => {
                metrics::inbound(Channel::WhatsApp, InboundOutcome::Failed, count);
                tracing::error!(connector = %inner.name, %error, "cannot store WhatsApp inbound messages; Meta will post them again");
                false
            }
        }
    }

    /// Whether a change is for this connector's number (a change that names none is).
    fn ours(&self, value: &tern_proto::whatsapp::webhook::Value) -> bool {
        value.metadata.as_ref().is_none_or(|metadata| {
            metadata.phone_number_id.is_empty()
                || metadata.phone_number_id == self.inner.config.phone_number_id
        })
    }

    /// Where an inbound file can be fetched: the URL Meta's media endpoint gives for its id
    /// (fetched with the connector's access token).
    async fn media_uri(&self, media_id: &str) -> Result<String, String> {
        let inner = &self.inner;
        let url = format!(
            "{}/{}/{}",
            inner.config.base_url.trim_end_matches('/'),
            inner.config.api_version,
            media_id
        );
        let response = inner
            .client
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, &inner.authorization)
            .timeout(std::time::Duration::from_millis(inner.config.timeout_ms))
            .send()
            .await
            .map_err(|error| error.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Meta answered HTTP {}", status.as_u16()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| error.without_url().to_string())?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| error.to_string())?;
        body.get("url")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "Meta's answer has no url".to_owned())
    }
}

/// A WhatsApp number (digits) as CM's inbound webhook writes numbers: `+` and the digits.
fn plus(number: &str) -> String {
    let digits = number.trim().trim_start_matches('+');
    if digits.is_empty() {
        String::new()
    } else {
        format!("+{digits}")
    }
}
