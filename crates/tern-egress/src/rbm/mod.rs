//! The Google RCS Business Messaging connector (`kind = "rbm"`): sends CM messages to the RBM
//! API as the agent messages tern-core decides ([`tern_core::rbm::agent_messages_for`]), one
//! after the other, at most `max_sends_per_sec` per second for the agent, with an OAuth2 token
//! of the configured service account ([`crate::google_auth::GoogleTokens`]), and turns Google's
//! answers into the connector contract's outcomes from core's one table
//! ([`tern_core::rbm::classify`]: fall back, retry on RCS later, or a configuration error that
//! fails the attempt and is logged loudly; `409 ALREADY_EXISTS` counts as taken). A 401 first
//! drops the token and tries once more with a fresh one. Its webhook half ([`webhook`]) answers
//! Google's validation handshake, verifies `X-Goog-Signature` on every event, turns agent
//! events into status events and user messages into inbound messages.

mod config;
mod webhook;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tern_core::account::AccountId;
use tern_core::error_code::DeliveryError;
use tern_core::hold::Hold;
use tern_core::message::MessageId;
use tern_core::ports::{
    Connector, ConnectorError, ConnectorHealth, Dispatch, ErrorOrigin, EventSink, InboundStore,
    QueueStore, Sent,
};
use tern_core::rbm::{ErrorClass, Outgoing, SendOutcome, agent_messages_for, classify, rbm_number};
use tern_proto::rbm::ErrorResponse;

use crate::cluster::ClusterView;
use crate::google_auth::GoogleTokens;
use crate::provider_http::{Pacer, retry_after};
use tokio::sync::watch;

pub use config::RbmConnectorConfig;
pub use webhook::RbmWebhook;

/// The provider segment of this connector's webhook path (`/webhooks/rbm/{name}`).
pub const WEBHOOK_PROVIDER: &str = "rbm";

/// The OAuth2 scope its tokens are asked for.
pub const SCOPE: &str = tern_proto::rbm::SCOPE;

/// How many recent sends are remembered (agent message id → attempt), so that an event that
/// arrives before its send is recorded still finds its attempt.
const RECENT_SENDS: usize = 65_536;

/// An RBM connector that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector {name:?}: {message}")]
pub struct RbmSetupError {
    pub name: String,
    pub message: String,
}

/// An RBM connector; [`RbmConnector::webhook`] is its webhook half.
pub struct RbmConnector {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    config: RbmConnectorConfig,
    tokens: GoogleTokens,
    client: reqwest::Client,
    pacer: Arc<Pacer>,
    /// The attempt each recently posted Tern message id was sent in.
    recent: Mutex<RecentSends>,
    sink: Arc<dyn EventSink>,
    queue: Arc<dyn QueueStore>,
    inbound: Arc<dyn InboundStore>,
    /// The account that receives the agent's inbound messages (`inbound_account`).
    inbound_account: Option<AccountId>,
    wakeups: Arc<crate::Wakeups>,
}

/// Bounded memory of recent sends: the oldest are forgotten first.
#[derive(Default)]
struct RecentSends {
    attempts: HashMap<MessageId, u32>,
    order: VecDeque<MessageId>,
}

impl RecentSends {
    fn insert(&mut self, id: MessageId, attempt: u32) {
        if self.attempts.insert(id, attempt).is_none() {
            self.order.push_back(id);
            while self.order.len() > RECENT_SENDS {
                if let Some(old) = self.order.pop_front() {
                    self.attempts.remove(&old);
                }
            }
        }
    }

    fn attempt(&self, id: MessageId) -> Option<u32> {
        self.attempts.get(&id).copied()
    }
}

impl RbmConnector {
    /// The connector `name` with `config`; its tokens come from `tokens` (the service account's,
    /// for [`SCOPE`]); `client` is the HTTP client it posts with. Events go to `sink`; `queue`
    /// finds a message's attempt by its agent message id; inbound messages go to `inbound`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        config: RbmConnectorConfig,
        tokens: GoogleTokens,
        client: reqwest::Client,
        sink: Arc<dyn EventSink>,
        queue: Arc<dyn QueueStore>,
        inbound: Arc<dyn InboundStore>,
        wakeups: Arc<crate::Wakeups>,
    ) -> Result<RbmConnector, RbmSetupError> {
        config.validate().map_err(|message| RbmSetupError {
            name: name.to_owned(),
            message,
        })?;
        Ok(RbmConnector {
            inner: Arc::new(Inner {
                name: name.into(),
                pacer: Arc::new(Pacer::new(config.max_sends_per_sec)),
                config,
                tokens,
                client,
                recent: Mutex::new(RecentSends::default()),
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
    pub fn sharing_with(mut self, views: watch::Receiver<Option<ClusterView>>) -> RbmConnector {
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
    pub fn with_inbound_account(mut self, account: Option<AccountId>) -> RbmConnector {
        Arc::get_mut(&mut self.inner)
            .expect("set before the webhook half is taken")
            .inbound_account = account;
        self
    }

    /// Its webhook half, to register under [`WEBHOOK_PROVIDER`] and its name.
    pub fn webhook(&self) -> RbmWebhook {
        RbmWebhook::new(Arc::clone(&self.inner))
    }
}

/// One answer of the API to a post.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Inner {
    /// A token, or the connector error that not having one is (a refusal is logged loudly).
    async fn bearer(&self) -> Result<Arc<str>, ConnectorError> {
        self.tokens.bearer().await.map_err(|error| {
            if error.is_temporary() {
                tracing::warn!(connector = %self.name, %error, "no Google token for now; RCS sends retry");
            } else {
                tracing::error!(
                    connector = %self.name,
                    %error,
                    "Google refuses Tern's service account: RCS messages fall back until it is fixed"
                );
            }
            error.connector_error()
        })
    }

    /// One POST with `token`, once `hold` lets it go.
    async fn post_once(
        &self,
        url: &str,
        body: &str,
        token: &str,
        hold: &Hold,
    ) -> Result<Answer, ConnectorError> {
        self.pacer.pace(hold).await?;
        let response = self
            .client
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(Duration::from_millis(self.config.timeout_ms))
            .body(body.to_owned())
            .send()
            .await
            .map_err(|error| {
                ConnectorError::temporary(
                    ErrorOrigin::Network,
                    None,
                    format!("RBM: {}", error.without_url()),
                )
            })?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(|error| {
            ConnectorError::temporary(
                ErrorOrigin::Network,
                None,
                format!("RBM: reading the answer: {}", error.without_url()),
            )
        })?;
        Ok(Answer {
            status,
            retry_after,
            body: body.to_vec(),
        })
    }

    /// Post one agent message to `phone`; `Ok` when RBM took it (now or before), else what its
    /// refusal means.
    async fn post(
        &self,
        phone: &str,
        outgoing: &Outgoing,
        hold: &Hold,
    ) -> Result<(), ConnectorError> {
        let url = self.config.send_url(phone, &outgoing.message_id);
        let body = outgoing.message.to_json();
        let token = self.bearer().await?;
        let mut answer = self.post_once(&url, &body, &token, hold).await?;
        if answer.status == 401 {
            // The token may have been revoked or expired early: once more with a fresh one.
            self.tokens.invalidate_token(&token);
            let token = self.bearer().await?;
            answer = self.post_once(&url, &body, &token, hold).await?;
        }
        let status = answer.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let error = ErrorResponse::parse(&answer.body).map(|response| response.error);
        let google_status = error.as_ref().map_or("", |error| error.status.as_str());
        let text = match &error {
            Some(error) => format!(
                "RBM {status} {}: {}",
                if error.status.is_empty() {
                    "error"
                } else {
                    error.status.as_str()
                },
                error.message
            ),
            None => format!("RBM answered HTTP {status} without an error body"),
        };
        let class = match classify(status, google_status) {
            SendOutcome::AlreadyAccepted => {
                tracing::debug!(connector = %self.name, message_id = %outgoing.message_id, "RBM already has this agent message; taken");
                return Ok(());
            }
            // Google's wait, when it gave one, rather than the default backoff.
            SendOutcome::Error(ErrorClass::Retry { after: None }) => ErrorClass::Retry {
                after: answer.retry_after,
            },
            SendOutcome::Error(other) => other,
        };
        match class {
            ErrorClass::Configuration => tracing::error!(
                connector = %self.name,
                error = %text,
                "RBM refused Tern's credentials or agent: RCS messages fall back until it is fixed"
            ),
            ErrorClass::Retry { .. } => {
                tracing::debug!(connector = %self.name, error = %text, "RBM asks to retry later")
            }
            ErrorClass::FallBack { .. } => {
                tracing::debug!(connector = %self.name, error = %text, "RBM refused a message")
            }
        }
        Err(class.connector_error(text))
    }

    /// Remember that `id` was sent in `attempt`.
    fn remember(&self, id: MessageId, attempt: u32) {
        self.recent
            .lock()
            .expect("recent sends lock")
            .insert(id, attempt);
    }

    /// The attempt `id` was last sent in, if remembered.
    fn remembered(&self, id: MessageId) -> Option<u32> {
        self.recent.lock().expect("recent sends lock").attempt(id)
    }
}

#[async_trait]
impl Connector for RbmConnector {
    fn name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name)
    }

    /// Send the message's agent messages in order. A refusal of a later one after earlier ones
    /// were taken ends the send with that refusal; a retry sends them all again with the same
    /// message ids, and RBM answers `409` for those it has (taken, not sent twice). The
    /// message has no end of validity here (`Dispatch` carries none), so no `expireTime` is
    /// set: RBM keeps an undelivered message for its own default time.
    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
        let phone = rbm_number(&message.recipient).ok_or_else(|| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(DeliveryError::MalformedRequest),
                format!(
                    "RBM: recipient '{}' is not an international number",
                    message.recipient
                ),
            )
        })?;
        let outgoing = agent_messages_for(&message.content, message.id, None).map_err(|error| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(DeliveryError::MalformedRequest),
                format!("RBM: {error}"),
            )
        })?;
        // Before the post: its events may arrive before the send is recorded.
        self.inner.remember(message.id, message.attempt);
        for (index, agent_message) in outgoing.iter().enumerate() {
            // The message's lease holds its first post back; the rest follow it.
            let hold = if index == 0 {
                &message.hold
            } else {
                &Hold::ALWAYS
            };
            self.inner.post(&phone, agent_message, hold).await?;
        }
        Ok(Sent {
            external_ids: outgoing.into_iter().map(|o| o.message_id).collect(),
            given_ids: Vec::new(),
        })
    }

    /// After a restart the events of `message` find its attempt without the store.
    fn resume(&self, message: &Dispatch) {
        self.inner.remember(message.id, message.attempt);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_sends_forget_the_oldest_first() {
        let mut recent = RecentSends::default();
        let first = MessageId::generate();
        recent.insert(first, 1);
        recent.insert(first, 2);
        assert_eq!(recent.attempt(first), Some(2));
        for _ in 0..RECENT_SENDS {
            recent.insert(MessageId::generate(), 1);
        }
        assert_eq!(recent.attempt(first), None);
        assert_eq!(recent.order.len(), RECENT_SENDS);
        assert_eq!(recent.attempts.len(), RECENT_SENDS);
    }
}
