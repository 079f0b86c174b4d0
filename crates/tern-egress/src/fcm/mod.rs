//! The Push connector (`kind = "fcm"`): sends a CM message with an `appKey` to every device
//! installation of the recipient's number registered under that app (CM's app SDK registers
//! them, see the push registration endpoints), each as an FCM HTTP v1 data message whose key
//! `cm` holds the JSON the SDK reads (tern-core's [`tern_core::push`] decides it). FCM's 200 only
//! means taken: the message is then `Sent` and waits for the device's `Delivered`
//! confirmation ([`events`]), which is its delivery report (status 2); a push no device
//! confirms within `confirm_secs` fails with error 24 and falls back.
//!
//! What the sends come to is [`tern_core::push::overall`]: taken by at least one installation
//! is taken; none at all (no app, no installation) fails at once with error 23 and falls back.
//! An installation whose token FCM says is gone (`UNREGISTERED`, `SENDER_ID_MISMATCH`, a token
//! `INVALID_ARGUMENT`) is forgotten. Access tokens come from the service account
//! ([`GoogleTokens`]); a 401 drops the token and the send is tried once more with a new one.
//!
//! **The confirmation timer.** Each taken push arms a timer of `confirm_secs` keyed by the
//! message and attempt ([`ConfirmationRef`], also the payload's `messageId`); the confirmation
//! disarms it. After a restart the timers are gone: [`Connector::resume`] re-arms one for each
//! message still awaiting its report, with a full `confirm_secs` from the restart (when the push
//! was sent is not kept, and a device that was offline may still confirm; a restart only ever
//! lengthens the wait). A confirmation that comes after the timer fired changes nothing: the
//! message has fallen back, and the state machine ignores a report of an earlier attempt.

mod config;
mod events;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tern_core::ports::{
    Connector, ConnectorError, Dispatch, ErrorOrigin, EventSink, PushStore, Sent,
};
use tern_core::push::{
    AppKey, ConfirmationRef, ErrorClass, Installation, NO_INSTALLATION_ERROR, SendOutcome,
    app_key_of, classify, classify_status, fcm_message, overall, payload_for, recipient_msisdn,
};
use tern_proto::fcm::{ErrorResponse, FcmErrorCode, SendRequest, SendResponse};

use crate::google_auth::GoogleTokens;
use crate::provider_http::retry_after;

pub use config::FcmConnectorConfig;
pub use events::FcmEvents;

/// A Push connector that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector {name:?}: {message}")]
pub struct FcmSetupError {
    pub name: String,
    pub message: String,
}

/// A Push (FCM HTTP v1) connector; [`FcmConnector::events`] is its device-events half.
pub struct FcmConnector {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    config: FcmConnectorConfig,
    send_url: String,
    tokens: GoogleTokens,
    client: reqwest::Client,
    sink: Arc<dyn EventSink>,
    push: Arc<dyn PushStore>,
    /// The confirmation timers of the pushes taken and not confirmed yet.
    awaiting: Mutex<HashMap<ConfirmationRef, tokio::task::AbortHandle>>,
}

impl FcmConnector {
    /// The connector `name` with `config`, authenticating with `tokens` (the service account's,
    /// scope `firebase.messaging`); `client` is the HTTP client it posts with. Installations
    /// come from `push`; confirmations and unconfirmed pushes go to `sink`.
    pub fn new(
        name: &str,
        config: FcmConnectorConfig,
        tokens: GoogleTokens,
        client: reqwest::Client,
        sink: Arc<dyn EventSink>,
        push: Arc<dyn PushStore>,
    ) -> Result<FcmConnector, FcmSetupError> {
        config.validate().map_err(|message| FcmSetupError {
            name: name.to_owned(),
            message,
        })?;
        Ok(FcmConnector {
            inner: Arc::new(Inner {
                name: name.into(),
                send_url: config.send_url(),
                config,
                tokens,
                client,
                sink,
                push,
                awaiting: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Its device-events half: what the push surface hands a device's events to.
    pub fn events(&self) -> FcmEvents {
        FcmEvents::new(Arc::clone(&self.inner))
    }
}

/// What one request to FCM came to.
enum Posted {
    Accepted,
    Refused {
        class: ErrorClass,
        remove_installation: bool,
        text: String,
    },
}

impl Inner {
    /// Arm the confirmation timer of `place`: unless disarmed within `confirm_secs`, the push
    /// fails with error 24.
    fn arm(self: &Arc<Self>, place: ConfirmationRef) {
        let inner = Arc::clone(self);
        let confirm_secs = self.config.confirm_secs;
        let mut awaiting = self.awaiting.lock().expect("timers lock");
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(confirm_secs)).await;
            inner.awaiting.lock().expect("timers lock").remove(&place);
            tracing::info!(connector = %inner.name, message = %place.message_id, attempt = place.attempt, confirm_secs, "no device confirmed the push in time: it fails and falls back");
            inner
                .sink
                .emit(place.message_id, place.unconfirmed(confirm_secs));
        });
        if let Some(old) = awaiting.insert(place, task.abort_handle()) {
            old.abort();
        }
    }

    /// Disarm the confirmation timer of `place` (its push was confirmed).
    fn disarm(&self, place: &ConfirmationRef) {
        if let Some(timer) = self.awaiting.lock().expect("timers lock").remove(place) {
            timer.abort();
        }
    }

    /// Post `request` to FCM: a 401 without FCM's own error code (Tern's access token was
    /// refused) drops the token and posts once more with a new one. `Err` only when no access
    /// token can be had.
    async fn post(&self, request: &SendRequest) -> Result<Posted, ConnectorError> {
        let body = request.to_json();
        let mut retried = false;
        loop {
            let bearer = self
                .tokens
                .bearer()
                .await
                .map_err(|error| error.connector_error())?;
            let response = match self
                .client
                .post(&self.send_url)
                .bearer_auth(&*bearer)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .timeout(Duration::from_millis(self.config.timeout_ms))
                .body(body.clone())
                .send()
                .await
            {
                Ok(response) => response,
                Err(error) => {
                    return Ok(Posted::Refused {
                        class: ErrorClass::Retry { after: None },
                        remove_installation: false,
                        text: format!("FCM: {}", error.without_url()),
                    });
                }
            };
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(error) => {
                    return Ok(Posted::Refused {
                        class: ErrorClass::Retry { after: None },
                        remove_installation: false,
                        text: format!("FCM: reading the answer: {}", error.without_url()),
                    });
                }
            };
            if status == 200 {
                if SendResponse::parse(&bytes).is_none() {
                    tracing::warn!(connector = %self.name, "FCM took a message but named none");
                }
                return Ok(Posted::Accepted);
            }
            let error = ErrorResponse::parse(&bytes).map(|response| response.error);
            let fcm_code = error.as_ref().and_then(|error| error.fcm_error_code());
            if status == 401 && fcm_code.is_none() && !retried {
                // Tern's access token was refused (revoked, or expired early): a new one.
                tracing::info!(connector = %self.name, "FCM refused the access token; fetching a new one");
                self.tokens.invalidate_token(&bearer);
                retried = true;
                continue;
            }
            return Ok(match error {
                Some(error) => {
                    let class = classify(&error, status, retry_after);
                    let code = fcm_code
                        .as_ref()
                        .map(FcmErrorCode::as_str)
                        .unwrap_or(error.status.as_str())
                        .to_owned();
                    Posted::Refused {
                        class: class.class,
                        remove_installation: class.remove_installation,
                        text: format!("FCM {code} (HTTP {status}): {}", error.message),
                    }
                }
                None => Posted::Refused {
                    class: match classify_status(status) {
                        ErrorClass::Retry { .. } => ErrorClass::Retry { after: retry_after },
                        other => other,
                    },
                    remove_installation: false,
                    text: format!("FCM answered HTTP {status} without an error body"),
                },
            });
        }
    }

    /// Send `request` to `installation` of app `app_key`; what it came to. A gone token's
    /// installation is forgotten.
    async fn send_to(
        &self,
        app_key: AppKey,
        installation: &Installation,
        request: &SendRequest,
    ) -> Result<(SendOutcome, Option<String>), ConnectorError> {
        match self.post(request).await? {
            Posted::Accepted => Ok((SendOutcome::Accepted, None)),
            Posted::Refused {
                class,
                remove_installation,
                text,
            } => {
                if remove_installation {
                    match self
                        .push
                        .remove_installation_by_token(app_key, &installation.device.push_token)
                        .await
                    {
                        Ok(_) => tracing::info!(
                            connector = %self.name,
                            app = %app_key,
                            installation = %installation.id,
                            error = %text,
                            "FCM says the installation's token is gone: the installation is removed"
                        ),
                        Err(failure) => tracing::error!(
                            connector = %self.name,
                            installation = %installation.id,
                            error = %failure,
                            "cannot remove an installation whose token is gone"
                        ),
                    }
                }
                match class {
                    ErrorClass::Configuration => tracing::error!(
                        connector = %self.name,
                        error = %text,
                        "FCM refused Tern's credentials or setup: pushes fall back until it is fixed"
                    ),
                    _ => {
                        tracing::debug!(connector = %self.name, error = %text, "FCM refused a push")
                    }
                }
                Ok((SendOutcome::Failed(class), Some(text)))
            }
        }
    }

    /// The installations `message` goes to, or the error that ends its send.
    async fn installations(
        &self,
        message: &Dispatch,
    ) -> Result<(AppKey, Vec<Installation>), ConnectorError> {
        let no_installation = |why: String| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(NO_INSTALLATION_ERROR),
                format!("Push: {why}"),
            )
        };
        let store_failed = |failure: &dyn std::fmt::Display| {
            ConnectorError::temporary(
                ErrorOrigin::Tern,
                None,
                format!("Push: the store cannot say: {failure}"),
            )
        };
        let Some(key) = app_key_of(&message.content) else {
            return Err(no_installation(
                "the message names no appKey (a GUID)".into(),
            ));
        };
        match self.push.app_by_key(key).await {
            Ok(Some(app)) if *app.connector == *self.name => {}
            Ok(Some(app)) => {
                // Its devices' tokens belong to the other connector's Firebase project: sent
                // from this one they would be refused, and the installations lost.
                tracing::warn!(connector = %self.name, app = %key, app_connector = %app.connector, "a push for an app of another connector was routed here; it fails");
                return Err(no_installation(format!(
                    "app {key} sends through connector '{}'",
                    app.connector
                )));
            }
            Ok(None) => return Err(no_installation(format!("no push app has key {key}"))),
            Err(failure) => return Err(store_failed(&failure)),
        }
        let Some(msisdn) = recipient_msisdn(&message.recipient) else {
            return Err(no_installation(format!(
                "{} is not an international number",
                message.recipient
            )));
        };
        match self.push.installations_for(key, &msisdn).await {
            Ok(found) if found.is_empty() => Err(no_installation(format!(
                "no installation of {msisdn} under app {key}"
            ))),
            Ok(found) => Ok((key, found)),
            Err(failure) => Err(store_failed(&failure)),
        }
    }
}

#[async_trait]
impl Connector for FcmConnector {
    fn name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name)
    }

    /// Push the message to every installation of its recipient under its app, one after the
    /// other; taken by any is taken (and its confirmation timer armed). The data message lives
    /// `confirm_secs` at FCM (Android `ttl`): a push delivered later would come after Tern has
    /// given up on it.
    async fn send(&self, message: &Dispatch) -> Result<Sent, ConnectorError> {
        let (app_key, installations) = self.inner.installations(message).await?;
        let content_error = |error: tern_core::push::PushContentError| {
            ConnectorError::permanent(
                ErrorOrigin::Tern,
                Some(error.delivery_error()),
                format!("Push: {error}"),
            )
        };
        let place = ConfirmationRef {
            message_id: message.id,
            attempt: message.attempt,
        };
        let mut payload = payload_for(&message.content, message.id).map_err(content_error)?;
        payload.message_id = place.render();
        let ttl = Some(Duration::from_secs(self.inner.config.confirm_secs));
        let mut outcomes = Vec::with_capacity(installations.len());
        let mut refusals = Vec::new();
        for installation in &installations {
            let request = fcm_message(&payload, &installation.device.push_token, ttl)
                .map_err(content_error)?;
            let (outcome, refusal) = self.inner.send_to(app_key, installation, &request).await?;
            outcomes.push(outcome);
            refusals.extend(refusal);
        }
        match overall(&outcomes) {
            SendOutcome::Accepted => {
                self.inner.arm(place);
                Ok(Sent::default())
            }
            SendOutcome::Failed(class) => Err(class.connector_error(format!(
                "Push: no installation took the message: {}",
                refusals.join("; ")
            ))),
        }
    }

    /// Re-arm the confirmation timer of a push taken before the restart, with a full
    /// `confirm_secs` from now (see the module docs).
    fn resume(&self, message: &Dispatch) {
        self.inner.arm(ConfirmationRef {
            message_id: message.id,
            attempt: message.attempt,
        });
    }

    fn max_in_flight(&self) -> usize {
        self.inner.config.max_in_flight
    }
}
