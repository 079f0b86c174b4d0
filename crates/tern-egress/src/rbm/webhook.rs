//! The RBM connector's webhook: Google's validation handshake (a POST of
//! `{"clientToken","secret"}`, answered with the secret when the token is the agent's, 403
//! otherwise) and its events (Pub/Sub push envelopes whose decoded `data` is signed with the
//! client token in `X-Goog-Signature`; a missing or wrong signature is answered 401 and changes
//! nothing). An event is answered 200 only once what it says is durably recorded (a status as
//! an event of its message, a user message in the inbound pipeline), else 503, so that Google
//! posts it again; an event posted twice, or out of order, changes nothing twice (the state
//! machine reports each status of a message once and never goes back from read to delivered;
//! a user message is recorded once per message id).

use std::sync::Arc;
use std::time::Duration;

use tern_core::channel::Channel;
use tern_core::inbound::ProviderInbound;
use tern_core::message::MessageId;
use tern_core::metrics::{self, InboundOutcome};
use tern_core::ports::{WebhookAnswer, WebhookMethod, WebhookRequest};
use tern_core::rbm::{inbound_of, status_event, status_target};
use tern_core::status::CmStatus;
use tern_proto::rbm::{
    Event, PushEnvelope, UserMessage, WebhookBody, WebhookError, validation_answer,
    verify_signature,
};

use super::Inner;

/// The header Google signs events with.
const SIGNATURE_HEADER: &str = "x-goog-signature";

/// How long to wait, in turn, for a send to be recorded when an event names a message whose
/// attempt is neither remembered nor stored yet.
const LOOKUP_PAUSES: [Duration; 5] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

/// The webhook half of a [`super::RbmConnector`].
#[derive(Clone)]
pub struct RbmWebhook {
    inner: Arc<Inner>,
}

impl RbmWebhook {
    pub(super) fn new(inner: Arc<Inner>) -> RbmWebhook {
        RbmWebhook { inner }
    }

    /// Answer one request to `/webhooks/rbm/{name}`.
    pub async fn receive(&self, request: WebhookRequest) -> WebhookAnswer {
        if request.method == WebhookMethod::Get {
            return WebhookAnswer::text(405, "RBM webhooks are POSTed");
        }
        match WebhookBody::parse(&request.body) {
            Ok(WebhookBody::Validation(validation)) => self.validate(&validation),
            Ok(WebhookBody::Push(envelope)) => self.deliver(&request, &envelope).await,
            Err(error) => {
                tracing::warn!(connector = %self.inner.name, %error, "RBM webhook body that cannot be read");
                WebhookAnswer::text(400, format!("unreadable body: {error}"))
            }
        }
    }

    /// The validation handshake: the secret when the client token is the agent's, else 403.
    fn validate(&self, validation: &tern_proto::rbm::ValidationRequest) -> WebhookAnswer {
        match validation_answer(validation, &self.inner.config.client_token) {
            Some(secret) => WebhookAnswer::ok(secret),
            None => {
                tracing::warn!(connector = %self.inner.name, "RBM validation request with a wrong client token refused");
                WebhookAnswer::text(403, "wrong client token")
            }
        }
    }

    /// An event in its envelope.
    async fn deliver(&self, request: &WebhookRequest, envelope: &PushEnvelope) -> WebhookAnswer {
        let inner = &self.inner;
        let data = envelope.decoded_data().ok();
        let signed = data.as_deref().is_some_and(|data| {
            request.header(SIGNATURE_HEADER).is_some_and(|header| {
                verify_signature(inner.config.client_token.as_bytes(), data, header)
            })
        });
        let Some(data) = data.filter(|_| signed) else {
            tracing::warn!(connector = %inner.name, "RBM webhook with a missing or wrong signature refused");
            return WebhookAnswer::text(401, "invalid signature");
        };
        let event = match Event::parse(&data) {
            Ok(event) => event,
            Err(WebhookError::UnknownEvent) => {
                // Signed, but of a kind Tern does not know: nothing to record, and posting it
                // again would not help.
                tracing::info!(connector = %inner.name, "RBM event of an unknown kind ignored");
                return WebhookAnswer::ok("");
            }
            Err(error) => {
                tracing::warn!(connector = %inner.name, %error, "RBM event that cannot be read");
                return WebhookAnswer::text(400, format!("unreadable event: {error}"));
            }
        };
        if !self.ours(&event) {
            tracing::warn!(connector = %inner.name, "RBM event for another agent ignored");
            return WebhookAnswer::ok("");
        }
        let recorded = match &event {
            Event::Validation(validation) => return self.validate(validation),
            Event::Message(message) => self.inbound(message, envelope).await,
            Event::User(_) | Event::Server(_) => self.status(&event).await,
        };
        if recorded {
            WebhookAnswer::ok("")
        } else {
            // Not recorded: Google posts it again.
            WebhookAnswer::text(503, "not recorded; retry")
        }
    }

    /// Whether an event is for this connector's agent (one that names none is).
    fn ours(&self, event: &Event) -> bool {
        let agent = match event {
            Event::User(event) => &event.agent_id,
            Event::Server(event) => &event.agent_id,
            Event::Message(message) => &message.agent_id,
            Event::Validation(_) => return true,
        };
        let bare = |id: &str| id.trim_end_matches("@rbm.goog").to_owned();
        agent.is_empty() || bare(agent) == bare(&self.inner.config.agent_id)
    }

    /// Record what an agent event says of its message; `false` when it could not be recorded.
    async fn status(&self, event: &Event) -> bool {
        let Some(update) = status_event(event) else {
            return true;
        };
        let Some(agent_message_id) = event.message_id() else {
            return true;
        };
        // Only the last agent message of a Tern message reports its status.
        let Some(message_id) = status_target(agent_message_id) else {
            return true;
        };
        let attempt = match self.attempt(message_id, agent_message_id).await {
            Ok(Some(attempt)) => attempt,
            Ok(None) => return true,
            Err(()) => return false,
        };
        let event = tern_core::dispatch::Event::ChannelReport {
            attempt,
            status: update.status,
            error_code: update.error,
            operator: None,
            detail: (update.status == CmStatus::Failed).then_some(update.description),
        };
        self.inner.sink.emit_recorded(message_id, event).await
    }

    /// The attempt in which `message_id` was sent as agent message `agent_message_id`: the one
    /// remembered, else the store's (looked up again for a while: its send may not be recorded
    /// yet); `None` (logged) when Tern never sent it; `Err` when the store cannot say now.
    async fn attempt(
        &self,
        message_id: MessageId,
        agent_message_id: &str,
    ) -> Result<Option<u32>, ()> {
        let inner = &self.inner;
        let mut pauses = LOOKUP_PAUSES.iter();
        loop {
            if let Some(attempt) = inner.remembered(message_id) {
                return Ok(Some(attempt));
            }
            match inner.queue.sent_part(&inner.name, agent_message_id).await {
                Ok(Some(part)) if part.message_id == message_id => return Ok(Some(part.attempt)),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(connector = %inner.name, message_id = %agent_message_id, %error, "cannot look up an RBM event's message; Google will post it again");
                    return Err(());
                }
            }
            let Some(pause) = pauses.next() else {
                tracing::warn!(connector = %inner.name, message_id = %agent_message_id, "RBM event for a message Tern did not send (or no longer knows); ignored");
                return Ok(None);
            };
            tokio::time::sleep(*pause).await;
        }
    }

    /// Hand a user message to the inbound pipeline for the connector's `inbound_account`;
    /// `false` when it could not be stored, so that Google posts it again.
    async fn inbound(&self, message: &UserMessage, envelope: &PushEnvelope) -> bool {
        let inner = &self.inner;
        if inner.inbound_account.is_none() {
            tracing::warn!(connector = %inner.name, "RBM user message dropped: the connector has no inbound_account");
            return true;
        }
        let of = inbound_of(message);
        let provider_id = if message.message_id.is_empty() {
            // Google always names it; Pub/Sub's id is the same on a redelivery too.
            envelope.message_id.clone()
        } else {
            message.message_id.clone()
        };
        let inbound = ProviderInbound {
            connector: Arc::clone(&inner.name),
            channel: Channel::Rcs,
            provider_id,
            account: inner.inbound_account,
            from: message.sender_phone_number.clone(),
            to: inner.config.agent_id.clone(),
            text: of.text,
            extras: of.extras,
            answers: None,
            received_at: message
                .send_time
                .parse::<jiff::Timestamp>()
                .unwrap_or_else(|_| jiff::Timestamp::now()),
        };
        match inner.inbound.accept_provider_inbound(vec![inbound]).await {
            Ok(recorded) => {
                // A message Google posted again is recorded once, and counted once.
                metrics::inbound(
                    Channel::Rcs,
                    InboundOutcome::Accepted,
                    recorded.len() as u64,
                );
                if !recorded.is_empty() {
                    inner.wakeups.outbox_written();
                }
                true
            }
            Err(error) => {
                metrics::inbound(Channel::Rcs, InboundOutcome::Failed, 1);
                tracing::error!(connector = %inner.name, %error, "cannot store an RBM user message; Google will post it again");
                false
            }
        }
    }
}
