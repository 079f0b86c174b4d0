//! The sender of [`OutboxKind::StatusWebhook`] entries: the report of a status change, rendered
//! when it is sent from the recorded change (its `received` is when the change was recorded, its
//! id `{messageId}-{seq}`), in the format of the account as it is now, POSTed to the account's
//! status URL as it is now. An account that no longer has a status URL gets nothing: the entry
//! is dropped.

use std::sync::Arc;

use async_trait::async_trait;
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Resolved};
use tern_core::report;

use super::webhook::{Webhook, WebhookPoster};
use super::{Delivery, OutboxSender};
use crate::notifier::LOG_TARGET;

/// POSTs status reports to accounts' status URLs.
pub struct StatusWebhookSender {
    poster: Arc<WebhookPoster>,
}

impl StatusWebhookSender {
    pub fn new(poster: Arc<WebhookPoster>) -> StatusWebhookSender {
        StatusWebhookSender { poster }
    }
}

#[async_trait]
impl OutboxSender for StatusWebhookSender {
    fn kind(&self) -> OutboxKind {
        OutboxKind::StatusWebhook
    }

    async fn send(&self, entry: ClaimedEntry) -> Delivery {
        let Some(Fact::StatusChange(fact)) = &entry.fact else {
            tracing::error!(target: LOG_TARGET, id = entry.id, "status report given up: its status change is not recorded");
            return Delivery::Abandoned;
        };
        let Some(Resolved::Account(account)) = &entry.destination else {
            tracing::error!(target: LOG_TARGET, id = entry.id, message_id = %fact.message_id, "status report given up: its account does not exist");
            return Delivery::Abandoned;
        };
        let Some(url) = &account.status_url else {
            tracing::debug!(target: LOG_TARGET, id = entry.id, message_id = %fact.message_id, account = account.id, "status report dropped: the account has no status URL now");
            return Delivery::Abandoned;
        };
        let fields = report::status_report(fact);
        let rendered = report::render(&fields, account.status_format);
        self.poster
            .post(Webhook {
                entry: entry.id,
                message_id: fact.message_id,
                url,
                content_type: rendered.content_type,
                report_id: &fields.report_id,
                body: rendered.body,
                secrets: Some(&account.webhook_secrets),
            })
            .await
    }
}
