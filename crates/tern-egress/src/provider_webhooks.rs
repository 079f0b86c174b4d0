//! The connectors' webhook halves by provider and name: what `/webhooks/{provider}/{connector}`
//! is routed to ([`tern_core::ports::ProviderWebhooks`]). Built once at start from the
//! configured connectors; a path naming no connector of that provider is answered 404.

use std::collections::HashMap;

use async_trait::async_trait;
use tern_core::ports::{DeviceEvents, ProviderWebhooks, WebhookAnswer, WebhookRequest};

use crate::fcm::FcmEvents;

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
    /// The push connectors' device-events halves, by connector name ([`DeviceEvents`]).
    push: HashMap<String, FcmEvents>,
}

impl WebhookRegistry {
    /// Serve `webhook` at `/webhooks/{provider}/{connector}`.
    pub fn add(&mut self, provider: &str, connector: &str, webhook: ConnectorWebhook) {
        self.by_path
            .insert((provider.to_owned(), connector.to_owned()), webhook);
    }

    /// Hand the device events of push apps of `connector` to `events`.
    pub fn add_push(&mut self, connector: &str, events: FcmEvents) {
        self.push.insert(connector.to_owned(), events);
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

#[async_trait]
impl DeviceEvents for WebhookRegistry {
    /// An app whose connector is not a push connector of this gateway (the configuration
    /// changed since the app was created) answers 404, as an unknown app does.
    async fn device_event(&self, connector: &str, body: &[u8]) -> WebhookAnswer {
        match self.push.get(connector) {
            Some(events) => events.receive(body).await,
            None => WebhookAnswer::unknown_connector(),
        }
    }
}
