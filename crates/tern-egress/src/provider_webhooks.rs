//! The connectors' webhook halves by provider and name: what `/webhooks/{provider}/{connector}`
//! is routed to ([`tern_core::ports::ProviderWebhooks`]). Built once at start from the
//! configured connectors; a path naming no connector of that provider is answered 404.

use std::collections::HashMap;

use async_trait::async_trait;
use tern_core::ports::{ProviderWebhooks, WebhookAnswer, WebhookRequest};

use crate::rbm::RbmWebhook;
use crate::whatsapp::WhatsAppWebhook;

/// One connector's webhook half.
#[derive(Clone)]
pub enum ConnectorWebhook {
    WhatsApp(WhatsAppWebhook),
    Rbm(RbmWebhook),
}

impl ConnectorWebhook {
    async fn receive(&self, request: WebhookRequest) -> WebhookAnswer {
        match self {
            ConnectorWebhook::WhatsApp(webhook) => webhook.receive(request).await,
            ConnectorWebhook::Rbm(webhook) => webhook.receive(request).await,
        }
    }
}

/// Every connector's webhook half, by provider and connector name.
#[derive(Clone, Default)]
pub struct WebhookRegistry {
    by_path: HashMap<(String, String), ConnectorWebhook>,
}

impl WebhookRegistry {
    /// Serve `webhook` at `/webhooks/{provider}/{connector}`.
    pub fn add(&mut self, provider: &str, connector: &str, webhook: ConnectorWebhook) {
        self.by_path
            .insert((provider.to_owned(), connector.to_owned()), webhook);
    }
}

#[async_trait]
impl ProviderWebhooks for WebhookRegistry {
    async fn receive(
        &self,
        provider: &str,
        connector: &str,
        request: WebhookRequest,
    ) -> WebhookAnswer {
        match self
            .by_path
            .get(&(provider.to_owned(), connector.to_owned()))
        {
            Some(webhook) => webhook.receive(request).await,
            None => WebhookAnswer::unknown_connector(),
        }
    }
}
