//! The sender of [`OutboxKind::InboundWebhook`] entries: an inbound (MO) message POSTed to its
//! account's inbound URL as it is now, in CM's inbound JSON ([`inbound::webhook`]), with the
//! message's id as its stable report id. An account that no longer has an inbound URL gets
//! nothing: the entry is dropped. Retries (every `[inbound] retry_interval_secs` until
//! `max_age_hours` after the message arrived) are the runner's.

use std::sync::Arc;

use async_trait::async_trait;
use tern_core::inbound;
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Resolved};

use super::webhook::{Webhook, WebhookPoster};
use super::{Delivery, OutboxSender};
use crate::notifier::LOG_TARGET;

/// POSTs inbound messages to accounts' inbound URLs.
pub struct InboundWebhookSender {
    poster: Arc<WebhookPoster>,
}

impl InboundWebhookSender {
    pub fn new(poster: Arc<WebhookPoster>) -> InboundWebhookSender {
        InboundWebhookSender { poster }
    }
}

#[async_trait]
impl OutboxSender for InboundWebhookSender {
    fn kind(&self) -> OutboxKind {
        OutboxKind::InboundWebhook
    }

    async fn send(&self, entry: ClaimedEntry) -> Delivery {
        let Some(Fact::Inbound(message)) = &entry.fact else {
            tracing::error!(target: LOG_TARGET, id = entry.id, "inbound webhook given up: its inbound message is not recorded");
            return Delivery::Abandoned;
        };
        let Some(Resolved::Account(account)) = &entry.destination else {
            tracing::error!(target: LOG_TARGET, id = entry.id, message_id = %message.id, "inbound webhook given up: its account does not exist");
            return Delivery::Abandoned;
        };
        let Some(url) = &account.inbound_url else {
            tracing::debug!(target: LOG_TARGET, id = entry.id, message_id = %message.id, account = account.id, "inbound webhook dropped: the account has no inbound URL now");
            return Delivery::Abandoned;
        };
        let report_id = message.id.to_string();
        self.poster
            .post(Webhook {
                entry: entry.id,
                message_id: message.id,
                url,
                content_type: "application/json",
                report_id: &report_id,
                body: inbound::webhook(message).to_json(),
                secrets: Some(&account.webhook_secrets),
            })
            .await
    }
}
