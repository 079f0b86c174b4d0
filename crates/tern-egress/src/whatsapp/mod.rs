//! The WhatsApp Cloud API connector (`kind = "whatsapp-cloud"`): sends CM messages to Meta's
//! Graph API as the requests tern-core decides ([`tern_core::whatsapp::requests_for`]), one
//! after the other, at most `max_sends_per_sec` per second for the number, and turns Meta's
//! answers into the connector contract's outcomes (an error's class decides: fall back, retry
//! on WhatsApp later, or a configuration error that fails the attempt and is logged loudly).
//! Its webhook half ([`webhook`]) verifies and reads what Meta posts back: statuses become
//! events for the messages they name, inbound messages go to the inbound pipeline.

mod config;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::ClusterView;
use crate::http_client::{
    AnswerBody, HttpClient, PROVIDER_ANSWER_AT_MOST, Post, PostError, request_uri,
};
use crate::provider_http::{Pacer, ProviderClients, retry_after};
use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use tern_core::account::AccountId;
use tern_core::error_code::DeliveryError;
use tern_core::hold::Hold;
use tern_core::ports::{
    Connector, ConnectorError, ConnectorHealth, Dispatch, ErrorOrigin, EventSink, InboundStore,
    QueueStore, Sent,
};
use tern_core::whatsapp::{ErrorClass, classify, classify_error, requests_for};
use tern_proto::whatsapp::{ErrorResponse, Request, SendResponse};
use tokio::sync::watch;

pub use config::WhatsAppConnectorConfig;
pub use webhook::WhatsAppWebhook;

/// The provider segment of this connector's webhook path (`/webhooks/whatsapp/{name}`).
pub const WEBHOOK_PROVIDER: &str = "whatsapp";

/// A WhatsApp connector that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector {name:?}: {message}")]
pub struct WhatsAppSetupError {
    pub name: String,
    pub message: String,
}

/// A WhatsApp Cloud API connector; [`WhatsAppConnector::webhook`] is its webhook half.
pub struct WhatsAppConnector {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    config: WhatsAppConnectorConfig,
    /// Where messages are posted, parsed once (and as hyper takes it).
    messages_url: reqwest::Url,
    messages_uri: hyper::Uri,
    authorization: HeaderValue,
    /// Posts the messages (the hot path: [`HttpClient`]).
    sender: HttpClient,
    /// Everything else (inbound media look-ups).
    client: reqwest::Client,
    pacer: Arc<Pacer>,
    sink: Arc<dyn EventSink>,
    queue: Arc<dyn QueueStore>,
    inbound: Arc<dyn InboundStore>,
    /// The account that receives the number's inbound messages (`inbound_account`).
    inbound_account: Option<AccountId>,
    wakeups: Arc<crate::Wakeups>,
}

impl WhatsAppConnector {
    /// The connector `name` with `config`; it posts messages with `clients.posts` (its timeout
    /// is the config's) and looks media up with `clients.other`. Statuses go to `sink`; `queue` finds a part by its wamid when a
    /// status does not say which message it is; inbound messages go to `inbound`.
    pub fn new(
        name: &str,
        config: WhatsAppConnectorConfig,
        clients: ProviderClients,
        sink: Arc<dyn EventSink>,
        queue: Arc<dyn QueueStore>,
        inbound: Arc<dyn InboundStore>,
        wakeups: Arc<crate::Wakeups>,
    ) -> Result<WhatsAppConnector, WhatsAppSetupError> {
        let setup_error = |message: String| WhatsAppSetupError {
            name: name.to_owned(),
            message,
        };
        config.validate().map_err(setup_error)?;
        let messages_url = reqwest::Url::parse(&config.messages_url())
            .map_err(|error| setup_error(format!("base_url: {error}")))?;
        let messages_uri = request_uri(&messages_url).map_err(setup_error)?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", config.access_token))
                .map_err(|_| setup_error("access_token cannot be sent in a header".into()))?;
        authorization.set_sensitive(true);
        Ok(WhatsAppConnector {
            inner: Arc::new(Inner {
                name: name.into(),
                messages_url,
                messages_uri,
                authorization,
                sender: clients.posts,
                pacer: Arc::new(Pacer::new(config.max_sends_per_sec)),
                config,
                client: clients.other,
                sink,
                queue,
                inbound,
                inbound_account: None,
                wakeups,
            }),
        })
    }

    /// Share `max_sends_per_sec` with the other live nodes of `views` (a gateway of several
    /// nodes): it holds for the cluster as a whole.
    pub fn sharing_with(
        mut self,
        views: watch::Receiver<Option<ClusterView>>,
    ) -> WhatsAppConnector {
        let inner = Arc::get_mut(&mut self.inner).expect("set before the webhook half is taken");
        inner.pacer = Arc::new(Pacer::sharing(
            inner.config.max_sends_per_sec,
            &inner.name,
            views,
        ));
        self
    }

    /// Inbound messages go to `account` (the one `inbound_account` names); without one they
    /// are acknowledged and dropped, with a warning.
    pub fn with_inbound_account(mut self, account: Option<AccountId>) -> WhatsAppConnector {
        Arc::get_mut(&mut self.inner)
            .expect("set before the webhook half is taken")
            .inbound_account = account;
        self
    }

    /// Its webhook half, to register under [`WEBHOOK_PROVIDER`] and its name.
    pub fn webhook(&self) -> WhatsAppWebhook {
        WhatsAppWebhook::new(Arc::clone(&self.inner))
    }
}

impl Inner {
    /// Post one request, once `hold` lets it go; Meta's wamid for it, or what its refusal means.
    async fn post(&self, request: &Request, hold: &Hold) -> Result<String, ConnectorError> {
        self.pacer.pace(hold).await?;
        static AUTHORIZATION: HeaderName = reqwest::header::AUTHORIZATION;
        let answer = self
            .sender
            .post(Post {
                url: &self.messages_url,
                uri: &self.messages_uri,
                headers: vec![(&AUTHORIZATION, self.authorization.clone())],
                content_type: "application/json",
                body: request.to_json().into_bytes(),
                timeout: Duration::from_millis(self.config.timeout_ms),
                answer: AnswerBody::Keep(PROVIDER_ANSWER_AT_MOST),
            })
            .await
            .map_err(|error| {
                let why = match error {
                    PostError::Other(why) => why,
                    PostError::Refused(refused) => refused.to_string(),
                };
                ConnectorError::temporary(ErrorOrigin::Network, None, format!("WhatsApp: {why}"))
            })?;
        let status = answer.status.as_u16();
        let retry_after = retry_after(&answer.headers);
        let body = answer.body;
        if (200..300).contains(&status) {
            return match SendResponse::parse(&body)
                .as_ref()
                .and_then(SendResponse::message_id)
            {
                Some(wamid) => Ok(wamid.to_owned()),
                None => {
                    // Taken (2xx) but unnamed: its statuses still name the message.
                    tracing::warn!(connector = %self.name, status, "Meta accepted a message but gave no message id");
                    Ok(String::new())
                }
            };
        }
        let (class, text) = match ErrorResponse::parse(&body) {
            Some(ErrorResponse { error }) => (
                classify(&error, status),
                format!("WhatsApp {} (HTTP {status}): {}", error.code, error.message),
            ),
            None => (
                classify_error(-1, status),
                format!("WhatsApp answered HTTP {status} without an error body"),
            ),
        };
        let class = match class {
            // Meta's wait, when it gave one, rather than the default backoff.
            ErrorClass::Retry { after: None } => ErrorClass::Retry { after: retry_after },
            other => other,
        };
        match class {
            ErrorClass::Configuration => tracing::error!(
                connector = %self.name,
                error = %text,
                "WhatsApp refused Tern's credentials or setup: messages fall back until it is fixed"
            ),
            ErrorClass::Retry { .. } => {
                tracing::debug!(connector = %self.name, error = %text, "WhatsApp asks to retry later")
            }
            ErrorClass::FallBack { .. } => {
                tracing::debug!(connector = %self.name, error = %text, "WhatsApp refused a message")
            }
        }
        Err(class.connector_error(text))
    }
}

#[async_trait]
impl Connector for WhatsAppConnector {
    fn name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name)
    }

    /// Send the message's requests in order. A refusal of a later request after earlier ones
    /// were taken ends the send with that refusal; a retry then sends every request again (the
    /// recipient may see the earlier ones twice), as a fallback sends the message whole on its
    /// next channel.
    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
        let requests = requests_for(
            &message.content,
            &message.recipient,
            message.id,
            message.attempt,
        )
        .map_err(|error| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(DeliveryError::MalformedRequest),
                format!("WhatsApp: {error}"),
            )
        })?;
        let mut external_ids = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            // The message's lease holds its first request back; the rest follow it.
            let hold = if index == 0 {
                &message.hold
            } else {
                &Hold::ALWAYS
            };
            let wamid = self.inner.post(request, hold).await?;
            if !wamid.is_empty() {
                external_ids.push(wamid);
            }
        }
        Ok(Sent {
            external_ids,
            given_ids: Vec::new(),
        })
    }

    async fn start(&self) {
        self.inner.pacer.start();
    }

    async fn drain(&self) {
        self.inner.pacer.stop();
    }

    fn health(&self) -> ConnectorHealth {
        self.inner.pacer.health()
    }

    fn max_in_flight(&self) -> usize {
        self.inner.config.max_in_flight
    }
}
