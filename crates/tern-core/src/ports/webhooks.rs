//! The provider-webhook port: how the HTTP surface hands a channel provider's webhook request
//! (Meta's statuses and inbound messages, Google RBM's events) to the connector it is for,
//! without knowing what any provider sends. The surface routes `/webhooks/{provider}/{connector}`
//! here with the request's method, query, headers and raw body (signatures are computed over
//! the raw bytes), and answers with what comes back.

use async_trait::async_trait;

/// A webhook request as the surface received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// `GET` (a subscription handshake) or anything else (a delivery).
    pub method: WebhookMethod,
    /// The query string, undecoded (without `?`); empty when there is none.
    pub query: String,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The first header named `name` (lower case), when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }
}

/// The request's method, as far as a webhook cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMethod {
    Get,
    Post,
}

/// The answer to a webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebhookAnswer {
    /// 200 with a plain-text body.
    pub fn ok(body: impl Into<String>) -> WebhookAnswer {
        WebhookAnswer::text(200, body)
    }

    /// `status` with a plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> WebhookAnswer {
        WebhookAnswer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// 404: no connector of that provider under that name.
    pub fn unknown_connector() -> WebhookAnswer {
        WebhookAnswer::text(404, "no such connector")
    }
}

/// Where the surface hands provider webhooks: `provider` is the path's provider segment
/// (`whatsapp`, `rbm`), `connector` the connector's name.
#[async_trait]
pub trait ProviderWebhooks: Send + Sync + 'static {
    async fn receive(
        &self,
        provider: &str,
        connector: &str,
        request: WebhookRequest,
    ) -> WebhookAnswer;
}

/// Where the push surface hands what a device with CM's app SDK posts to
/// `…/accounts/{appKey}/profiles/{installationId}/events` (a delivery confirmation, an
/// interaction), once it has checked that the app and the installation exist: `connector` is the
/// push app's connector, `body` the raw body. Not reachable under `/webhooks/…`: only a known
/// installation of a known app reaches it.
#[async_trait]
pub trait DeviceEvents: Send + Sync + 'static {
    async fn device_event(&self, connector: &str, body: &[u8]) -> WebhookAnswer;
}
