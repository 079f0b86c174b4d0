//! One HTTP POST of a webhook, shared by the senders of webhook kinds: the `[webhooks]` target
//! policy checked first (the client's resolver checks names at connect time), the stable report
//! id in a header, the signature of the account's secrets (`tern_core::webhook_signature`) in
//! `X-Tern-Timestamp` and `X-Tern-Signature`, a timeout, no redirects followed (a 3xx is a
//! failed attempt).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderName;
use tern_core::message::MessageId;
use tern_core::outbox::EntryId;
use tern_core::webhook_signature::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecrets, signature_header,
};

use super::Delivery;
use crate::notifier::LOG_TARGET;
use crate::webhook_target::{TargetPolicy, TargetRefused, refusal_in};

/// The header carrying the report id (the body's `reportId` / `REPORTID`) on every POST.
pub const REPORT_ID_HEADER: &str = "x-tern-report-id";

/// The headers every POST carries, named once (a name given as a string is parsed and checked
/// on every request).
static CONTENT_TYPE: HeaderName = reqwest::header::CONTENT_TYPE;
static REPORT_ID: HeaderName = HeaderName::from_static(REPORT_ID_HEADER);
static TIMESTAMP: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// Most distinct URLs kept parsed.
const URL_CACHE_SIZE: usize = 1024;

/// POSTs webhook bodies.
pub struct WebhookPoster {
    client: reqwest::Client,
    /// The `[webhooks]` rules checked before each POST.
    targets: TargetPolicy,
    timeout: Duration,
    /// How long a replaced secret signs too (`[webhooks] rotation_overlap_hours`).
    rotation_overlap: SignedDuration,
    /// URLs already parsed: an account's webhooks all go to one URL, and parsing it (with IDNA
    /// host processing) for every POST cost more than building the request.
    urls: Mutex<HashMap<String, reqwest::Url>>,
}

/// One webhook to POST.
pub struct Webhook<'a> {
    /// The entry it delivers, and the message it is about (for the log).
    pub entry: EntryId,
    pub message_id: MessageId,
    pub url: &'a str,
    pub content_type: &'a str,
    /// Its stable id, the same on every attempt (also in its body).
    pub report_id: &'a str,
    pub body: Vec<u8>,
    /// The account's secrets, signing the POST; `None` (a webhook rendered by an earlier Tern,
    /// whose account is not known): unsigned.
    pub secrets: Option<&'a WebhookSecrets>,
}

/// Why a POST was not answered 2xx, short of an HTTP answer.
enum Failure {
    /// `[webhooks]` refuses the target: give up.
    Refused(TargetRefused),
    /// Anything else (bad URL, connection, timeout): retry.
    Other(String),
}

impl WebhookPoster {
    pub fn new(client: reqwest::Client, targets: TargetPolicy, timeout: Duration) -> WebhookPoster {
        WebhookPoster {
            client,
            rotation_overlap: targets.rotation_overlap(),
            targets,
            timeout,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// `url` parsed, from the cache when it was seen before.
    fn parsed_url(&self, url: &str) -> Result<reqwest::Url, String> {
        let mut urls = self.urls.lock().expect("url cache");
        if let Some(parsed) = urls.get(url) {
            return Ok(parsed.clone());
        }
        let parsed = reqwest::Url::parse(url).map_err(|error| format!("bad URL {url}: {error}"))?;
        if urls.len() >= URL_CACHE_SIZE {
            urls.clear();
        }
        urls.insert(url.to_owned(), parsed.clone());
        Ok(parsed)
    }

    /// `request` with the signature headers of `body` under the secrets that sign now (each
    /// attempt is signed anew, at its own time).
    fn sign(
        &self,
        request: reqwest::RequestBuilder,
        secrets: Option<&WebhookSecrets>,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        let Some(secrets) = secrets else {
            return request;
        };
        let now = Timestamp::now();
        let timestamp = now.as_second();
        match signature_header(
            &secrets.signing(now, self.rotation_overlap),
            timestamp,
            body,
        ) {
            Some(signature) => request
                .header(&TIMESTAMP, timestamp)
                .header(&SIGNATURE, signature),
            None => request,
        }
    }

    /// POST `webhook` once. A target `[webhooks]` refuses is given up at once with an error log:
    /// retrying cannot make a refused host or address allowed.
    pub async fn post(&self, webhook: Webhook<'_>) -> Delivery {
        let response = match self.parsed_url(webhook.url) {
            // An unparsable URL fails like an unreachable receiver: retried, then given up.
            Err(error) => Err(Failure::Other(error)),
            Ok(url) => match self.targets.check(&url) {
                Err(refused) => Err(Failure::Refused(refused)),
                Ok(()) => self
                    .sign(
                        self.client
                            .post(url)
                            .header(&CONTENT_TYPE, webhook.content_type)
                            // The same on every attempt, so a receiver can drop a webhook it
                            // already took (delivery is at-least-once).
                            .header(&REPORT_ID, webhook.report_id),
                        webhook.secrets,
                        &webhook.body,
                    )
                    .timeout(self.timeout)
                    .body(webhook.body)
                    .send()
                    .await
                    .map_err(|error| match refusal_in(&error) {
                        // The resolver refused every address of the host.
                        Some(refused) => Failure::Refused(refused.clone()),
                        None => Failure::Other(error.to_string()),
                    }),
            },
        };
        match response {
            Ok(response) if response.status().is_success() => Delivery::Delivered,
            Ok(response) => {
                Delivery::Failed(format!("HTTP {} from {}", response.status(), webhook.url))
            }
            Err(Failure::Refused(refused)) => {
                tracing::error!(target: LOG_TARGET, id = webhook.entry, message_id = %webhook.message_id, url = %webhook.url, reason = %refused, "status report target refused by [webhooks]; report given up");
                Delivery::Abandoned
            }
            Err(Failure::Other(why)) => Delivery::Failed(format!("{why} ({})", webhook.url)),
        }
    }
}
