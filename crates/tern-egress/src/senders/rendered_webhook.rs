//! The sender of [`OutboxKind::RenderedWebhook`] entries: reports an earlier Tern rendered and
//! queued, found in a database it wrote and not traceable to their status change (see schema
//! step 8), POSTed as they were rendered to the URL they were rendered for.

use std::sync::Arc;

use async_trait::async_trait;
use tern_core::outbox::{ClaimedEntry, Fact, OutboxKind, Resolved};

use super::webhook::{Webhook, WebhookPoster};
use super::{Delivery, OutboxSender};
use crate::notifier::LOG_TARGET;

/// POSTs webhooks rendered before Tern kept facts.
pub struct RenderedWebhookSender {
    poster: Arc<WebhookPoster>,
}

impl RenderedWebhookSender {
    pub fn new(poster: Arc<WebhookPoster>) -> RenderedWebhookSender {
        RenderedWebhookSender { poster }
    }
}

#[async_trait]
impl OutboxSender for RenderedWebhookSender {
    fn kind(&self) -> OutboxKind {
        OutboxKind::RenderedWebhook
    }

    async fn send(&self, entry: ClaimedEntry) -> Delivery {
        let (Some(Fact::Rendered(rendered)), Some(Resolved::Url(url))) =
            (entry.fact, entry.destination)
        else {
            tracing::error!(target: LOG_TARGET, id = entry.id, "rendered status report given up: its body or URL is missing");
            return Delivery::Abandoned;
        };
        self.poster
            .post(Webhook {
                entry: entry.id,
                message_id: rendered.message_id,
                url: &url,
                content_type: &rendered.content_type,
                report_id: &rendered.report_id,
                body: rendered.body,
                // Rendered and queued by a Tern before signed webhooks: its account is not
                // known here, so it goes as it was rendered, unsigned.
                secrets: None,
            })
            .await
    }
}
