//! A local stand-in of Meta's WhatsApp Cloud API (the Graph API's `/messages` edge), so that
//! black-box tests and benchmarks can point a Tern WhatsApp connector (`base_url`) at a real
//! HTTP server on loopback that checks requests as Meta does and answers as Meta does
//! (reference: `shared/reference/channel-providers.md`, section 1).
//!
//! [`MetaGraphStandIn`] listens on 127.0.0.1 (a port the system picks) and:
//! - answers `POST /{version}/{phone-number-id}/messages`: the Bearer token, version, phone
//!   number id, `Content-Type` and body are checked; a bad request gets Meta's error JSON
//!   (190 / 401 for the token, 100 / 400 "Invalid parameter" with `error_data.details` for the
//!   body), a good one 200 with a fresh `wamid.`;
//! - follows a script per recipient prefix ([`RecipientRule`]): refuse with a given error
//!   ([`MetaError`]), or accept and later post a chosen sequence of statuses ([`StatusStep`]),
//!   duplicated or out of order as the test likes;
//! - posts status webhooks (and, on command, inbound message webhooks) to the configured URL,
//!   signed with `X-Hub-Signature-256` over the raw body, through one pooled client with
//!   bounded concurrency, several statuses per POST when [`MetaOptions::statuses_per_post`]
//!   allows, and records what the receiver answered;
//! - serves inbound media registered with [`MetaGraphStandIn::add_media`] (`GET /{version}/
//!   {media-id}`, then the URL it gives);
//! - logs every request and webhook ([`MetaEvent`]) unless [`MetaOptions::record`] is off (a
//!   benchmark then keeps only [`MetaCounts`]).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// Where Meta's error codes are documented (the `href` of a failed status's errors).
const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// Statuses waiting for the webhook poster; senders wait when it is full.
const STATUS_QUEUE: usize = 65_536;

/// The message types `/messages` accepts (Meta's list in its "must be one of" detail).
const MESSAGE_TYPES: &[&str] = &[
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
];

/// An error as Meta's Graph API reports it: synchronously (the answer to `/messages`) or in a
/// `failed` status's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    /// The HTTP status of a synchronous answer (Meta: 400 for almost everything, 401 for 190).
    pub http_status: u16,
    /// `error.code`.
    pub code: i64,
    /// `error.error_subcode`, when set.
    pub subcode: Option<i64>,
    /// The title: `error.message` is "(#code) title"; a status error's `title` and `message`.
    pub title: String,
    /// `error.error_data.details`.
    pub details: String,
    /// `error.type`.
    pub error_type: String,
}

impl MetaError {
    /// An error with HTTP status 400 and type `OAuthException`.
    pub fn new(code: i64, title: &str, details: &str) -> MetaError {
        MetaError {
            http_status: 400,
            code,
            subcode: None,
            title: title.to_owned(),
            details: details.to_owned(),
            error_type: "OAuthException".to_owned(),
        }
    }

    /// The same error, answered with `status`.
    pub fn with_http_status(mut self, status: u16) -> MetaError {
        self.http_status = status;
        self
    }

    /// The same error, with `error_subcode`.
    pub fn with_subcode(mut self, subcode: i64) -> MetaError {
        self.subcode = Some(subcode);
        self
    }

    /// The same error, with `error.type` (`OAuthException` unless set).
    pub fn with_error_type(mut self, error_type: &str) -> MetaError {
        self.error_type = error_type.to_owned();
        self
    }

    /// 100 "Invalid parameter" (400), with `details` saying what.
    pub fn invalid_parameter(details: &str) -> MetaError {
        MetaError::new(100, "Invalid parameter", details)
    }

    /// 190, an invalid or expired access token (401).
    pub fn invalid_token() -> MetaError {
        MetaError::new(
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "Invalid OAuth access token",
        )
        .with_http_status(401)
    }

    /// 131026, message undeliverable (not a WhatsApp user, old app, terms not accepted).
    pub fn undeliverable() -> MetaError {
        MetaError::new(131026, "Message undeliverable", "Message Undeliverable.")
    }

    /// 130429, the number's throughput was reached; answered with 429 (as third parties
    /// report; [`with_http_status`](Self::with_http_status)(400) gives Meta's own table).
    pub fn rate_limited() -> MetaError {
        MetaError::new(
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
        .with_http_status(429)
    }

    /// 131047, outside the 24-hour customer-service window (subcode 2494010).
    pub fn re_engagement() -> MetaError {
        MetaError::new(
            131047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer \
             last replied to this number.",
        )
        .with_subcode(2494010)
    }

    /// 131056, the same sender sent to the same recipient too fast.
    pub fn pair_rate_limited() -> MetaError {
        MetaError::new(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages sent from the sender phone number to the same recipient phone \
             number in a short period of time.",
        )
    }

    /// The synchronous answer's JSON: `{"error":{message,type,code,error_data,error_subcode?,
    /// fbtrace_id}}`.
    pub fn to_json(&self, fbtrace_id: &str) -> Value {
        let mut error = json!({
            "message": format!("(#{}) {}", self.code, self.title),
            "type": self.error_type,
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        error["fbtrace_id"] = json!(fbtrace_id);
        json!({ "error": error })
    }

    /// One entry of a failed status's `errors`.
    pub fn to_status_error(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details},
            "href": ERROR_CODES_HREF,
        })
    }
}

/// One status webhook to post for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusStep {
    Sent,
    Delivered,
    Read,
    /// `failed`, with the error in `errors[]`.
    Failed(MetaError),
}

impl StatusStep {
    /// The `status` field.
    pub fn name(&self) -> &'static str {
        match self {
            StatusStep::Sent => "sent",
            StatusStep::Delivered => "delivered",
            StatusStep::Read => "read",
            StatusStep::Failed(_) => "failed",
        }
    }
}

/// What the stand-in does with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Answer with this error (no message id, no status).
    Refuse(MetaError),
    /// Accept; after `delay` post `statuses` in this order (repeat a step for a duplicate,
    /// reorder for out-of-order delivery), `interval` apart.
    Accept {
        statuses: Vec<StatusStep>,
        delay: Duration,
        interval: Duration,
    },
}

impl Script {
    /// Accept, then post `statuses` after `delay`, back to back.
    pub fn accept(statuses: Vec<StatusStep>, delay: Duration) -> Script {
        Script::Accept {
            statuses,
            delay,
            interval: Duration::ZERO,
        }
    }
}

/// The script for recipients (`to`, as sent) starting with `prefix`; the first matching rule
/// counts, [`MetaOptions::default_script`] when none does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRule {
    pub prefix: String,
    pub script: Script,
}

impl RecipientRule {
    pub fn new(prefix: &str, script: Script) -> RecipientRule {
        RecipientRule {
            prefix: prefix.to_owned(),
            script,
        }
    }
}

/// How the stand-in is configured.
#[derive(Debug, Clone)]
pub struct MetaOptions {
    /// The one API version served, a path segment (`v25.0`).
    pub api_version: String,
    /// The one phone number id that may send.
    pub phone_number_id: String,
    /// `metadata.display_phone_number` of webhooks.
    pub display_phone_number: String,
    /// The WhatsApp Business Account id (`entry[].id` of webhooks).
    pub waba_id: String,
    /// The Bearer token accepted.
    pub access_token: String,
    /// The app secret webhooks are signed with.
    pub app_secret: String,
    /// Where webhooks go (Tern's WhatsApp webhook); `None`: accepted messages get no statuses.
    pub webhook_url: Option<String>,
    /// Per recipient prefix, in order.
    pub rules: Vec<RecipientRule>,
    /// For recipients no rule matches: accept, `sent` then `delivered` after 50 ms.
    pub default_script: Script,
    /// Up to this many statuses (of any messages then due) go in one POST (at least 1).
    pub statuses_per_post: usize,
    /// Webhook POSTs in flight at once (at least 1); 1 keeps the script's order on the wire.
    pub webhook_concurrency: usize,
    /// Keep every request and webhook in the event log; off, only [`MetaCounts`] (benchmarks).
    pub record: bool,
    /// A status POST answered other than 2xx (or failed) is posted again, the same body, up
    /// to this many times (Meta retries for days; 0: never).
    pub webhook_retries: u32,
    /// The wait before the first retry, doubled for each next one.
    pub webhook_retry_delay: Duration,
}

impl Default for MetaOptions {
    fn default() -> Self {
        MetaOptions {
            api_version: "v25.0".into(),
            phone_number_id: "1122334455".into(),
            display_phone_number: "15550001111".into(),
            waba_id: "102290129340398".into(),
            access_token: "meta-test-token".into(),
            app_secret: "meta-test-app-secret".into(),
            webhook_url: None,
            rules: Vec::new(),
            default_script: Script::accept(
                vec![StatusStep::Sent, StatusStep::Delivered],
                Duration::from_millis(50),
            ),
            statuses_per_post: 1,
            webhook_concurrency: 16,
            record: true,
            webhook_retries: 0,
            webhook_retry_delay: Duration::from_millis(100),
        }
    }
}

/// A request the stand-in received, and its answer.
#[derive(Debug, Clone)]
pub struct MetaRequest {
    pub method: String,
    /// The path (no query).
    pub path: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it is JSON.
    pub body: Option<Value>,
    /// The HTTP status answered.
    pub answered: u16,
    /// The JSON answered (null for a media download).
    pub answer: Value,
}

impl MetaRequest {
    /// The message id answered (`messages[0].id`), if the request was accepted.
    pub fn wamid(&self) -> Option<&str> {
        self.answer["messages"][0]["id"].as_str()
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What a webhook POST carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// `statuses[]`.
    Status,
    /// `messages[]` (an inbound message), correctly signed.
    Inbound,
    /// Anything posted with [`MetaGraphStandIn::post_webhook`] (a bad signature, say).
    Raw,
}

/// A webhook the stand-in posted, and what came of it.
#[derive(Debug, Clone)]
pub struct WebhookPost {
    pub kind: WebhookKind,
    pub url: String,
    /// The raw body sent.
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` sent, if any.
    pub signature: Option<String>,
    /// The HTTP status the receiver answered; `None` when the POST failed (see `error`).
    pub answered: Option<u16>,
    pub error: Option<String>,
    /// 1 for the first POST of this body, 2 for its first retry, ...
    pub attempt: u32,
}

impl WebhookPost {
    /// Answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.answered
            .is_some_and(|status| (200..300).contains(&status))
    }

    /// The body as JSON (the stand-in only posts JSON it wrote).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `(id, status)` of every status in the body.
    pub fn statuses(&self) -> Vec<(String, String)> {
        statuses_of(&self.json())
    }
}

/// `(id, status)` of every `entry[].changes[].value.statuses[]` in a webhook body.
pub fn statuses_of(body: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in body["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            for status in change["value"]["statuses"].as_array().into_iter().flatten() {
                found.push((
                    status["id"].as_str().unwrap_or_default().to_owned(),
                    status["status"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    found
}

/// One entry of the event log, in order of occurrence.
#[derive(Debug, Clone)]
pub enum MetaEvent {
    Request(MetaRequest),
    Webhook(WebhookPost),
}

impl MetaEvent {
    pub fn as_request(&self) -> Option<&MetaRequest> {
        match self {
            MetaEvent::Request(request) => Some(request),
            MetaEvent::Webhook(_) => None,
        }
    }

    pub fn as_webhook(&self) -> Option<&WebhookPost> {
        match self {
            MetaEvent::Webhook(post) => Some(post),
            MetaEvent::Request(_) => None,
        }
    }
}

/// Counters, kept whether or not events are recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaCounts {
    /// Requests received (any path).
    pub requests: u64,
    /// Requests answered 200: messages accepted (with a wamid), marks as read, media looked up
    /// (downloads are not counted here).
    pub accepted: u64,
    /// Requests answered with an error.
    pub refused: u64,
    /// Statuses posted (in any number of POSTs) and done with: answered 2xx, or out of retries.
    /// Retries do not count again.
    pub statuses_posted: u64,
    /// Webhook POSTs made (statuses, inbound and raw).
    pub webhook_posts: u64,
    /// Webhook POSTs answered 2xx.
    pub webhook_posts_ok: u64,
    /// Webhook POSTs answered otherwise, or that failed.
    pub webhook_posts_failed: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    statuses_posted: AtomicU64,
    webhook_posts: AtomicU64,
    webhook_posts_ok: AtomicU64,
    webhook_posts_failed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> MetaCounts {
        MetaCounts {
            requests: self.requests.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            statuses_posted: self.statuses_posted.load(Ordering::Relaxed),
            webhook_posts: self.webhook_posts.load(Ordering::Relaxed),
            webhook_posts_ok: self.webhook_posts_ok.load(Ordering::Relaxed),
            webhook_posts_failed: self.webhook_posts_failed.load(Ordering::Relaxed),
        }
    }
}

/// State shared by the server, the status poster and the handle.
struct Shared {
    options: MetaOptions,
    /// `/{version}/{phone_number_id}/messages`.
    messages_path: String,
    /// `Bearer {token}`.
    authorization: String,
    counters: Counters,
    events: Mutex<Vec<MetaEvent>>,
    /// Ids and fbtrace ids: this instance's nonce and a counter.
    nonce: u64,
    next_id: AtomicU64,
    client: reqwest::Client,
    statuses: mpsc::Sender<Value>,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    /// Media a connector may download, by media id.
    media: Mutex<HashMap<String, Media>>,
    /// Where webhooks go now: [`MetaOptions::webhook_url`], or what
    /// [`MetaGraphStandIn::set_webhook_url`] set later.
    webhook_url: Mutex<Option<String>>,
}

impl Shared {
    fn webhook_url(&self) -> Option<String> {
        self.webhook_url.lock().expect("webhook url lock").clone()
    }
}

/// A file behind `GET /{version}/{media-id}` and its download URL.
struct Media {
    mime_type: String,
    sha256: String,
    bytes: Bytes,
}

impl Shared {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn fbtrace_id(&self) -> String {
        format!("A{:08x}{:06x}", self.nonce as u32, self.next_id())
    }

    fn record(&self, event: MetaEvent) {
        if self.options.record {
            self.events.lock().unwrap().push(event);
        }
    }

    /// `entry[].changes[].value` around `fields` (statuses or contacts and messages).
    fn envelope(&self, fields: Value) -> Value {
        let mut value = json!({
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": self.options.display_phone_number,
                "phone_number_id": self.options.phone_number_id,
            },
        });
        if let (Some(value), Value::Object(fields)) = (value.as_object_mut(), fields) {
            value.extend(fields);
        }
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": self.options.waba_id,
                "changes": [{"field": "messages", "value": value}],
            }],
        })
    }

    /// POSTs `body` to `url` with `signature`, counts and records it.
    async fn post(
        &self,
        kind: WebhookKind,
        url: &str,
        body: Bytes,
        signature: Option<String>,
        attempt: u32,
    ) -> WebhookPost {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let (answered, error) = match request.send().await {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(error) => (None, Some(error.to_string())),
        };
        self.counters.webhook_posts.fetch_add(1, Ordering::Relaxed);
        if answered.is_some_and(|status| (200..300).contains(&status)) {
            self.counters
                .webhook_posts_ok
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters
                .webhook_posts_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        let post = WebhookPost {
            kind,
            url: url.to_owned(),
            body: if self.options.record {
                body.to_vec()
            } else {
                Vec::new()
            },
            signature,
            answered,
            error,
            attempt,
        };
        self.record(MetaEvent::Webhook(post.clone()));
        post
    }
}

/// `sha256=<hex HMAC-SHA256(app_secret, body)>`, Meta's `X-Hub-Signature-256`.
pub fn hub_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let mut signature = String::with_capacity(7 + 64);
    signature.push_str("sha256=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(signature, "{byte:02x}");
    }
    signature
}

/// Epoch seconds, as the string webhooks carry.
fn timestamp_now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string()
}

/// A running stand-in; its server and poster stop when it is dropped.
pub struct MetaGraphStandIn {
    /// `http://127.0.0.1:PORT`: a connector's base URL (the version is a path segment after it).
    pub base_url: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl MetaGraphStandIn {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(options: MetaOptions) -> MetaGraphStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Meta stand-in on loopback");
        let address = listener.local_addr().expect("its address");
        let (statuses, status_queue) = mpsc::channel(STATUS_QUEUE);
        let shared = Arc::new(Shared {
            messages_path: format!(
                "/{}/{}/messages",
                options.api_version, options.phone_number_id
            ),
            authorization: format!("Bearer {}", options.access_token),
            counters: Counters::default(),
            events: Mutex::new(Vec::new()),
            nonce: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos() as u64
                ^ u64::from(address.port()) << 32,
            next_id: AtomicU64::new(1),
            client: crate::http_client(),
            statuses,
            base_url: format!("http://{address}"),
            media: Mutex::new(HashMap::new()),
            webhook_url: Mutex::new(options.webhook_url.clone()),
            options,
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let poster = tokio::spawn(post_statuses(Arc::clone(&shared), status_queue));
        MetaGraphStandIn {
            base_url: format!("http://{address}"),
            shared,
            tasks: vec![server, poster],
        }
    }

    /// Post webhooks to `url` from now on (a gateway started after the stand-in, whose
    /// configuration names the stand-in, is only known then).
    pub fn set_webhook_url(&self, url: &str) {
        *self.shared.webhook_url.lock().expect("webhook url lock") = Some(url.to_owned());
    }

    /// `{base_url}/{version}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        format!("{}{}", self.base_url, self.shared.messages_path)
    }

    pub fn options(&self) -> &MetaOptions {
        &self.shared.options
    }

    /// Makes `bytes` downloadable as media `media_id` (inbound media, as a connector fetches
    /// it): `GET /{version}/{media_id}` answers `{messaging_product, url, mime_type, sha256,
    /// file_size, id}` and `GET url` (same Bearer token) the bytes with `mime_type`. Returns
    /// the `sha256` given (hex of SHA-256 of the bytes).
    pub fn add_media(&self, media_id: &str, mime_type: &str, bytes: &[u8]) -> String {
        use sha2::Digest as _;
        let mut sha256 = String::with_capacity(64);
        for byte in Sha256::digest(bytes) {
            let _ = write!(sha256, "{byte:02x}");
        }
        self.shared.media.lock().unwrap().insert(
            media_id.to_owned(),
            Media {
                mime_type: mime_type.to_owned(),
                sha256: sha256.clone(),
                bytes: Bytes::copy_from_slice(bytes),
            },
        );
        sha256
    }

    /// The counters so far.
    pub fn counts(&self) -> MetaCounts {
        self.shared.counters.snapshot()
    }

    /// Every event so far, in order (empty when recording is off).
    pub fn events(&self) -> Vec<MetaEvent> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<MetaRequest> {
        self.events()
            .iter()
            .filter_map(MetaEvent::as_request)
            .cloned()
            .collect()
    }

    /// Every webhook posted so far (answered or failed).
    pub fn webhooks(&self) -> Vec<WebhookPost> {
        self.events()
            .iter()
            .filter_map(MetaEvent::as_webhook)
            .cloned()
            .collect()
    }

    /// The first event (so far or within `timeout`) for which `matches` holds. Panics, naming
    /// `what` and showing the log, when none comes in time.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&MetaEvent) -> bool,
    ) -> MetaEvent {
        crate::poll::until(
            timeout,
            || {
                let events = self.shared.events.lock().unwrap();
                events.iter().find(|e| matches(e)).cloned()
            },
            || self.fail(what, timeout),
        )
        .await
    }

    /// Waits until `done` holds for the whole log (so far or within `timeout`), then returns the
    /// log. Panics like [`wait_for`](Self::wait_for).
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[MetaEvent]) -> bool,
    ) -> Vec<MetaEvent> {
        crate::poll::until(
            timeout,
            || {
                let events = self.shared.events.lock().unwrap();
                done(&events).then(|| events.clone())
            },
            || self.fail(what, timeout),
        )
        .await
    }

    /// Waits until `done` holds for the counters (works with recording off).
    pub async fn wait_for_counts(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&MetaCounts) -> bool,
    ) -> MetaCounts {
        crate::poll::until(
            timeout,
            || Some(self.counts()).filter(|counts| done(counts)),
            || self.fail(what, timeout),
        )
        .await
    }

    /// Waits until at least `count` statuses have been posted and answered (or failed), then
    /// returns every status POST (needs [`MetaOptions::record`]; else see
    /// [`wait_for_counts`](Self::wait_for_counts)).
    pub async fn wait_for_status_posts(&self, count: usize, timeout: Duration) -> Vec<WebhookPost> {
        let what = format!("{count} posted status(es)");
        self.wait_until(&what, timeout, |events| {
            events
                .iter()
                .filter_map(MetaEvent::as_webhook)
                .filter(|post| post.kind == WebhookKind::Status)
                .map(|post| post.statuses().len())
                .sum::<usize>()
                >= count
        })
        .await
        .iter()
        .filter_map(MetaEvent::as_webhook)
        .filter(|post| post.kind == WebhookKind::Status)
        .cloned()
        .collect()
    }

    fn fail(&self, what: &str, timeout: Duration) -> ! {
        let log: Vec<String> = self
            .events()
            .iter()
            .map(|event| match event {
                MetaEvent::Request(request) => format!(
                    "request {} {} {} -> {} {}",
                    request.method,
                    request.path,
                    request
                        .body
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    request.answered,
                    request.answer
                ),
                MetaEvent::Webhook(post) => format!(
                    "webhook {:?} {} -> {:?} {} {}",
                    post.kind,
                    post.url,
                    post.answered,
                    post.error.as_deref().unwrap_or_default(),
                    String::from_utf8_lossy(&post.body)
                ),
            })
            .collect();
        panic!(
            "Meta stand-in: no {what} within {timeout:?}; counts {:?}; log:\n{}",
            self.counts(),
            log.join("\n")
        );
    }

    /// The inbound message webhook body for `inbound` (a fresh wamid), and that wamid.
    pub fn inbound_body(&self, inbound: &Inbound) -> (String, Vec<u8>) {
        let wamid = self.new_wamid();
        let mut message = json!({
            "from": inbound.from,
            "id": wamid,
            "timestamp": timestamp_now(),
        });
        let (kind, content) = inbound.content.to_json();
        message["type"] = json!(kind);
        message[kind] = content;
        if let Some(quoted) = &inbound.context {
            message["context"] = json!({
                "from": self.shared.options.display_phone_number,
                "id": quoted,
            });
        }
        let body = self.shared.envelope(json!({
            "contacts": [{"profile": {"name": inbound.profile_name}, "wa_id": inbound.from}],
            "messages": [message],
        }));
        (wamid, body.to_string().into_bytes())
    }

    /// Posts an inbound message webhook to the webhook URL, signed with the app secret. Returns
    /// its wamid and the post. Panics when no webhook URL is configured.
    pub async fn send_inbound(&self, inbound: &Inbound) -> (String, WebhookPost) {
        let (wamid, body) = self.inbound_body(inbound);
        let signature = hub_signature(&self.shared.options.app_secret, &body);
        let url = self.webhook_url();
        let post = self
            .shared
            .post(WebhookKind::Inbound, &url, body.into(), Some(signature), 1)
            .await;
        (wamid, post)
    }

    /// [`send_inbound`](Self::send_inbound), signed with another secret (Tern must refuse it).
    pub async fn send_inbound_badly_signed(&self, inbound: &Inbound) -> (String, WebhookPost) {
        let (wamid, body) = self.inbound_body(inbound);
        let signature = hub_signature("not-the-app-secret", &body);
        let url = self.webhook_url();
        let post = self
            .shared
            .post(WebhookKind::Raw, &url, body.into(), Some(signature), 1)
            .await;
        (wamid, post)
    }

    /// Posts `body` as it is to the webhook URL with `signature` as `X-Hub-Signature-256`
    /// (none when `None`).
    pub async fn post_webhook(&self, body: &[u8], signature: Option<&str>) -> WebhookPost {
        let url = self.webhook_url();
        self.shared
            .post(
                WebhookKind::Raw,
                &url,
                Bytes::copy_from_slice(body),
                signature.map(str::to_owned),
                1,
            )
            .await
    }

    fn webhook_url(&self) -> String {
        self.shared
            .webhook_url()
            .expect("MetaOptions::webhook_url (or set_webhook_url) is needed to post webhooks")
    }

    fn new_wamid(&self) -> String {
        new_wamid(&self.shared)
    }
}

impl Drop for MetaGraphStandIn {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Meta's GET verification of a webhook URL: `hub.mode=subscribe`, `hub.verify_token`,
/// `hub.challenge`. Returns the status and body answered (Meta expects 200 and the challenge,
/// else 403). Panics (failing the test) when no answer comes within the client's 20 s.
pub async fn verify_webhook(url: &str, verify_token: &str, challenge: &str) -> (u16, String) {
    let separator = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{separator}hub.mode=subscribe&hub.verify_token={}&hub.challenge={}",
        percent_encode(verify_token),
        percent_encode(challenge)
    );
    let response = crate::http_client()
        .get(&full)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET verification of {url}: {error}"));
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .unwrap_or_else(|error| panic!("GET verification of {url}: body: {error}"));
    (status, body)
}

/// `text` with everything but unreserved characters percent-encoded (a query value).
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// An inbound message, as a WhatsApp user sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The user's number, digits (`from` and `wa_id`).
    pub from: String,
    /// `contacts[].profile.name`.
    pub profile_name: String,
    pub content: InboundContent,
    /// The wamid replied to (`context.id`; `context.from` is the business number).
    pub context: Option<String>,
}

impl Inbound {
    pub fn new(from: &str, content: InboundContent) -> Inbound {
        Inbound {
            from: from.to_owned(),
            profile_name: "Ann".to_owned(),
            content,
            context: None,
        }
    }

    /// The same message, as a reply to `wamid`.
    pub fn replying_to(mut self, wamid: &str) -> Inbound {
        self.context = Some(wamid.to_owned());
        self
    }
}

/// What an inbound message carries (`messages[].type` and its object).
#[derive(Debug, Clone, PartialEq)]
pub enum InboundContent {
    Text {
        body: String,
    },
    Image {
        media_id: String,
        mime_type: String,
        sha256: String,
        caption: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A tap on a reply button (`interactive.type` `button_reply`).
    ButtonReply {
        id: String,
        title: String,
    },
    /// A pick from a list (`interactive.type` `list_reply`).
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// Shared contacts (`contacts`, WhatsApp's contact objects).
    Contacts {
        contacts: Value,
    },
    /// A tap on a template's quick-reply button (`button`).
    Button {
        payload: String,
        text: String,
    },
}

impl InboundContent {
    /// `(type, object)`.
    fn to_json(&self) -> (&'static str, Value) {
        match self {
            InboundContent::Text { body } => ("text", json!({ "body": body })),
            InboundContent::Image {
                media_id,
                mime_type,
                sha256,
                caption,
            } => {
                let mut image = json!({"id": media_id, "mime_type": mime_type, "sha256": sha256});
                if let Some(caption) = caption {
                    image["caption"] = json!(caption);
                }
                ("image", image)
            }
            InboundContent::Location {
                latitude,
                longitude,
                name,
                address,
            } => {
                let mut location = json!({"latitude": latitude, "longitude": longitude});
                if let Some(name) = name {
                    location["name"] = json!(name);
                }
                if let Some(address) = address {
                    location["address"] = json!(address);
                }
                ("location", location)
            }
            InboundContent::ButtonReply { id, title } => (
                "interactive",
                json!({"type": "button_reply", "button_reply": {"id": id, "title": title}}),
            ),
            InboundContent::ListReply {
                id,
                title,
                description,
            } => {
                let mut reply = json!({"id": id, "title": title});
                if let Some(description) = description {
                    reply["description"] = json!(description);
                }
                (
                    "interactive",
                    json!({"type": "list_reply", "list_reply": reply}),
                )
            }
            InboundContent::Contacts { contacts } => ("contacts", contacts.clone()),
            InboundContent::Button { payload, text } => {
                ("button", json!({"payload": payload, "text": text}))
            }
        }
    }
}

fn new_wamid(shared: &Shared) -> String {
    format!("wamid.HBgL{:016X}{:012X}", shared.nonce, shared.next_id())
}

/// Every request: `/messages` is checked and answered, anything else is an unknown path.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(download) = download(&shared, &method, uri.path(), &headers) {
        record_request(&shared, &method, &uri, &headers, parsed, 200, Value::Null);
        return download;
    }
    let outcome = answer(&shared, &method, uri.path(), &headers, parsed.as_ref());
    let (status, answer) = match outcome {
        Ok((answer, script)) => {
            shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
            if let (Some(script), Some(wamid)) = (script, answer["messages"][0]["id"].as_str()) {
                schedule_statuses(&shared, script, wamid, parsed.as_ref());
            }
            (200, answer)
        }
        Err(error) => {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            (error.http_status, error.to_json(&shared.fbtrace_id()))
        }
    };
    if shared.options.record {
        record_request(
            &shared,
            &method,
            &uri,
            &headers,
            parsed,
            status,
            answer.clone(),
        );
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(answer)).into_response()
}

fn record_request(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<Value>,
    answered: u16,
    answer: Value,
) {
    if !shared.options.record {
        return;
    }
    shared.record(MetaEvent::Request(MetaRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        answered,
        answer,
    }));
}

/// `GET /media/{id}` with the token, for a known id: the file (the URL that
/// `GET /{version}/{media-id}` gives). `None` for anything else.
fn download(shared: &Shared, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    let id = path.strip_prefix("/media/")?;
    if method != Method::GET || !authorized(shared, headers) {
        return None;
    }
    let media = shared.media.lock().unwrap();
    let media = media.get(id)?;
    Some(
        (
            StatusCode::OK,
            [("content-type", media.mime_type.clone())],
            media.bytes.clone(),
        )
            .into_response(),
    )
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|value| value.as_bytes() == shared.authorization.as_bytes())
}

/// `GET /{version}/{media-id}`: the media's URL and facts, or Meta's unknown-object error.
fn media_info(shared: &Shared, path: &str) -> Result<Value, MetaError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [version, id] = segments.as_slice() else {
        return Err(unknown_path(shared, path));
    };
    if *version != shared.options.api_version {
        return Err(unknown_path(shared, path));
    }
    let media = shared.media.lock().unwrap();
    let Some(media) = media.get(*id) else {
        return Err(MetaError::new(
            100,
            "Unsupported get request",
            &format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded \
                 due to missing permissions, or does not support this operation."
            ),
        )
        .with_subcode(33)
        .with_error_type("GraphMethodException"));
    };
    Ok(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media/{id}", shared.base_url),
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.bytes.len(),
        "id": id,
    }))
}

/// The answer to one request: the 200 JSON and, for a message, its statuses' script; or the
/// error.
fn answer(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Result<(Value, Option<Script>), MetaError> {
    if !authorized(shared, headers) {
        return Err(MetaError::invalid_token());
    }
    if method == Method::GET && path != shared.messages_path {
        return media_info(shared, path).map(|info| (info, None));
    }
    if path != shared.messages_path {
        return Err(unknown_path(shared, path));
    }
    if method != Method::POST {
        return Err(MetaError::new(
            100,
            "Unsupported get request",
            "Only POST is supported on /messages.",
        )
        .with_subcode(33)
        .with_error_type("GraphMethodException"));
    }
    let json_content = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("application/json"));
    if !json_content {
        return Err(MetaError::invalid_parameter(
            "Content-Type must be application/json.",
        ));
    }
    let Some(body) = body.and_then(Value::as_object) else {
        return Err(MetaError::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    };
    match check_message(body).map_err(|details| MetaError::invalid_parameter(&details))? {
        Checked::MarkRead => Ok((json!({"success": true}), None)),
        Checked::Send { to } => {
            let script = shared
                .options
                .rules
                .iter()
                .find(|rule| to.starts_with(&rule.prefix))
                .map_or(&shared.options.default_script, |rule| &rule.script);
            let accepted = match script {
                Script::Refuse(error) => return Err(error.clone()),
                Script::Accept { .. } => script.clone(),
            };
            let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
            let answer = json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": new_wamid(shared)}],
            });
            Ok((answer, Some(accepted)))
        }
    }
}

/// A wrong version or phone number id.
fn unknown_path(shared: &Shared, path: &str) -> MetaError {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [version, id, "messages"] if *version == shared.options.api_version => MetaError::new(
            100,
            "Unsupported post request",
            &format!(
                "Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded \
                 due to missing permissions, or does not support this operation."
            ),
        )
        .with_subcode(33)
        .with_error_type("GraphMethodException"),
        _ => MetaError::new(
            2500,
            "Unknown path components",
            &format!("Unknown path components: {path}"),
        ),
    }
}

/// A `/messages` body that passed the checks.
enum Checked {
    Send {
        to: String,
    },
    /// `{"status":"read","message_id":..}`: mark an inbound message as read.
    MarkRead,
}

fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// `object[field]` as a string, required (present, a string, not empty).
fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    name: &str,
) -> Result<&'a str, String> {
    match object.get(field) {
        None | Some(Value::Null) => Err(format!("The parameter {name} is required.")),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(format!("Param {name} must be a non-empty string."))
        }
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("Param {name} must be a string.")),
    }
}

/// An optional string of at most `max` characters.
fn optional_str(
    object: &Map<String, Value>,
    field: &str,
    name: &str,
    max: usize,
) -> Result<Option<String>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if char_count(text) > max => Err(format!(
            "Param {name} must be at most {max} characters long."
        )),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("Param {name} must be a string.")),
    }
}

fn required_object<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    name: &str,
) -> Result<&'a Map<String, Value>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Err(format!("The parameter {name} is required.")),
        Some(Value::Object(inner)) => Ok(inner),
        Some(_) => Err(format!("Param {name} must be a JSON object.")),
    }
}

fn required_array<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    name: &str,
) -> Result<&'a Vec<Value>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Err(format!("The parameter {name} is required.")),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("Param {name} must be an array.")),
    }
}

fn one_of(value: &str, allowed: &[&str], name: &str) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "Param {name} must be one of {{{}}} - got \"{value}\".",
            allowed
                .iter()
                .map(|item| item.to_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn max_len(text: &str, max: usize, name: &str) -> Result<(), String> {
    if char_count(text) > max {
        Err(format!(
            "Param {name} must be at most {max} characters long."
        ))
    } else {
        Ok(())
    }
}

fn as_object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("Param {name} must be a JSON object."))
}

/// Meta's checks of a `/messages` body.
fn check_message(body: &Map<String, Value>) -> Result<Checked, String> {
    let product = required_str(body, "messaging_product", "messaging_product")?;
    one_of(product, &["whatsapp"], "messaging_product")?;
    if body.get("status").and_then(Value::as_str) == Some("read") {
        required_str(body, "message_id", "message_id")?;
        return Ok(Checked::MarkRead);
    }
    if let Some(kind) = optional_str(body, "recipient_type", "recipient_type", 32)? {
        one_of(&kind, &["individual", "group"], "recipient_type")?;
    }
    let to = required_str(body, "to", "to")?;
    if !to.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("Param to must be a phone number - got \"{to}\"."));
    }
    if let Some(context) = body.get("context") {
        let context = as_object(context, "context")?;
        required_str(context, "message_id", "context['message_id']")?;
    }
    optional_str(
        body,
        "biz_opaque_callback_data",
        "biz_opaque_callback_data",
        512,
    )?;
    let kind = match body.get("type") {
        None | Some(Value::Null) => "text",
        Some(Value::String(kind)) => kind,
        Some(_) => return Err("Param type must be a string.".to_owned()),
    };
    one_of(kind, MESSAGE_TYPES, "type")?;
    match kind {
        "text" => {
            let text = required_object(body, "text", "text")?;
            let text_body = required_str(text, "body", "text['body']")?;
            max_len(text_body, 4096, "text['body']")?;
        }
        "image" | "video" | "audio" | "document" | "sticker" => check_media(body, kind)?,
        "location" => {
            let location = required_object(body, "location", "location")?;
            check_coordinate(location, "latitude", 90.0)?;
            check_coordinate(location, "longitude", 180.0)?;
        }
        "contacts" => {
            let contacts = required_array(body, "contacts", "contacts")?;
            if contacts.is_empty() {
                return Err("Param contacts must have at least 1 element.".to_owned());
            }
            for (index, contact) in contacts.iter().enumerate() {
                let contact = as_object(contact, &format!("contacts[{index}]"))?;
                let name_field = format!("contacts[{index}]['name']");
                let name = required_object(contact, "name", &name_field)?;
                required_str(
                    name,
                    "formatted_name",
                    &format!("{name_field}['formatted_name']"),
                )?;
            }
        }
        "template" => check_template(required_object(body, "template", "template")?)?,
        "interactive" => check_interactive(required_object(body, "interactive", "interactive")?)?,
        "reaction" => {
            let reaction = required_object(body, "reaction", "reaction")?;
            required_str(reaction, "message_id", "reaction['message_id']")?;
            if !reaction.get("emoji").is_some_and(Value::is_string) {
                return Err("The parameter reaction['emoji'] is required.".to_owned());
            }
        }
        _ => {}
    }
    Ok(Checked::Send { to: to.to_owned() })
}

fn check_media(body: &Map<String, Value>, kind: &str) -> Result<(), String> {
    let media = required_object(body, kind, kind)?;
    let link = optional_str(media, "link", &format!("{kind}['link']"), 2048)?;
    let id = optional_str(media, "id", &format!("{kind}['id']"), 256)?;
    match (link.filter(|l| !l.is_empty()), id.filter(|i| !i.is_empty())) {
        (None, None) => {
            return Err(format!("Param {kind} must contain either a link or an id."));
        }
        (Some(_), Some(_)) => {
            return Err(format!(
                "Param {kind} must contain either a link or an id, not both."
            ));
        }
        (Some(link), None) if !(link.starts_with("http://") || link.starts_with("https://")) => {
            return Err(format!("Param {kind}['link'] must be a valid URL."));
        }
        _ => {}
    }
    if matches!(kind, "audio" | "sticker") && media.contains_key("caption") {
        return Err(format!(
            "Param {kind}['caption'] is not supported for {kind}."
        ));
    }
    optional_str(media, "caption", &format!("{kind}['caption']"), 1024)?;
    if kind != "document" && media.contains_key("filename") {
        return Err(format!(
            "Param {kind}['filename'] is only supported for document."
        ));
    }
    Ok(())
}

fn check_coordinate(location: &Map<String, Value>, field: &str, bound: f64) -> Result<(), String> {
    let name = format!("location['{field}']");
    let value = match location.get(field) {
        None | Some(Value::Null) => return Err(format!("The parameter {name} is required.")),
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match value {
        Some(value) if value.abs() <= bound => Ok(()),
        _ => Err(format!(
            "Param {name} must be a number between -{bound} and {bound}."
        )),
    }
}

fn check_template(template: &Map<String, Value>) -> Result<(), String> {
    let name = required_str(template, "name", "template['name']")?;
    max_len(name, 512, "template['name']")?;
    let language = required_object(template, "language", "template['language']")?;
    required_str(language, "code", "template['language']['code']")?;
    if let Some(policy) = optional_str(language, "policy", "template['language']['policy']", 32)? {
        one_of(
            &policy,
            &["deterministic"],
            "template['language']['policy']",
        )?;
    }
    let Some(components) = template.get("components") else {
        return Ok(());
    };
    let components = components
        .as_array()
        .ok_or_else(|| "Param template['components'] must be an array.".to_owned())?;
    for (index, component) in components.iter().enumerate() {
        let name = format!("template['components'][{index}]");
        let component = as_object(component, &name)?;
        let kind = required_str(component, "type", &format!("{name}['type']"))?;
        one_of(
            kind,
            &["header", "body", "button", "footer"],
            &format!("{name}['type']"),
        )?;
        if kind == "button" {
            let sub_type = required_str(component, "sub_type", &format!("{name}['sub_type']"))?;
            one_of(
                sub_type,
                &["url", "quick_reply", "copy_code", "flow", "catalog", "mpm"],
                &format!("{name}['sub_type']"),
            )?;
            match component.get("index") {
                Some(Value::String(text)) if text.parse::<u32>().is_ok() => {}
                Some(Value::Number(number)) if number.as_u64().is_some() => {}
                None | Some(Value::Null) => {
                    return Err(format!("The parameter {name}['index'] is required."));
                }
                Some(_) => return Err(format!("Param {name}['index'] must be a number.")),
            }
        }
        let Some(parameters) = component.get("parameters") else {
            continue;
        };
        let parameters = parameters
            .as_array()
            .ok_or_else(|| format!("Param {name}['parameters'] must be an array."))?;
        for (position, parameter) in parameters.iter().enumerate() {
            let pname = format!("{name}['parameters'][{position}]");
            let parameter = as_object(parameter, &pname)?;
            let kind = required_str(parameter, "type", &format!("{pname}['type']"))?;
            one_of(
                kind,
                &[
                    "text",
                    "currency",
                    "date_time",
                    "image",
                    "document",
                    "video",
                    "location",
                    "payload",
                ],
                &format!("{pname}['type']"),
            )?;
            if !parameter.contains_key(kind) {
                return Err(format!("The parameter {pname}['{kind}'] is required."));
            }
        }
    }
    Ok(())
}

fn check_interactive(interactive: &Map<String, Value>) -> Result<(), String> {
    let kind = required_str(interactive, "type", "interactive['type']")?;
    one_of(
        kind,
        &["button", "list", "cta_url", "location_request_message"],
        "interactive['type']",
    )?;
    let body = required_object(interactive, "body", "interactive['body']")?;
    let text = required_str(body, "text", "interactive['body']['text']")?;
    max_len(text, 1024, "interactive['body']['text']")?;
    if let Some(header) = interactive.get("header") {
        let header = as_object(header, "interactive['header']")?;
        let header_type = required_str(header, "type", "interactive['header']['type']")?;
        one_of(
            header_type,
            &["text", "image", "video", "document"],
            "interactive['header']['type']",
        )?;
        if header_type == "text" {
            let text = required_str(header, "text", "interactive['header']['text']")?;
            max_len(text, 60, "interactive['header']['text']")?;
        }
    }
    if let Some(footer) = interactive.get("footer") {
        let footer = as_object(footer, "interactive['footer']")?;
        let text = required_str(footer, "text", "interactive['footer']['text']")?;
        max_len(text, 60, "interactive['footer']['text']")?;
    }
    let action = required_object(interactive, "action", "interactive['action']")?;
    match kind {
        "button" => {
            let buttons = required_array(action, "buttons", "interactive['action']['buttons']")?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(format!(
                    "Param interactive['action']['buttons'] must have between 1 and 3 elements - \
                     got {}.",
                    buttons.len()
                ));
            }
            let mut titles = HashSet::new();
            for (index, button) in buttons.iter().enumerate() {
                let name = format!("interactive['action']['buttons'][{index}]");
                let button = as_object(button, &name)?;
                let button_type = required_str(button, "type", &format!("{name}['type']"))?;
                one_of(button_type, &["reply"], &format!("{name}['type']"))?;
                let reply = required_object(button, "reply", &format!("{name}['reply']"))?;
                let id_name = format!("{name}['reply']['id']");
                let id = required_str(reply, "id", &id_name)?;
                max_len(id, 256, &id_name)?;
                if id.trim() != id {
                    return Err(format!(
                        "Param {id_name} must not have leading or trailing spaces."
                    ));
                }
                let title_name = format!("{name}['reply']['title']");
                let title = required_str(reply, "title", &title_name)?;
                max_len(title, 20, &title_name)?;
                if !titles.insert(title) {
                    return Err(format!(
                        "Param {title_name} must be unique - got \"{title}\" twice."
                    ));
                }
            }
        }
        "list" => {
            let button = required_str(action, "button", "interactive['action']['button']")?;
            max_len(button, 20, "interactive['action']['button']")?;
            let sections = required_array(action, "sections", "interactive['action']['sections']")?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(format!(
                    "Param interactive['action']['sections'] must have between 1 and 10 elements \
                     - got {}.",
                    sections.len()
                ));
            }
            let mut rows_total = 0;
            for (index, section) in sections.iter().enumerate() {
                let name = format!("interactive['action']['sections'][{index}]");
                let section = as_object(section, &name)?;
                optional_str(section, "title", &format!("{name}['title']"), 24)?;
                let rows = required_array(section, "rows", &format!("{name}['rows']"))?;
                rows_total += rows.len();
                for (position, row) in rows.iter().enumerate() {
                    let rname = format!("{name}['rows'][{position}]");
                    let row = as_object(row, &rname)?;
                    let id = required_str(row, "id", &format!("{rname}['id']"))?;
                    max_len(id, 200, &format!("{rname}['id']"))?;
                    let title = required_str(row, "title", &format!("{rname}['title']"))?;
                    max_len(title, 24, &format!("{rname}['title']"))?;
                    optional_str(row, "description", &format!("{rname}['description']"), 72)?;
                }
            }
            if rows_total == 0 || rows_total > 10 {
                return Err(format!(
                    "Param interactive['action']['sections'] must have between 1 and 10 rows in \
                     total - got {rows_total}."
                ));
            }
        }
        "cta_url" => {
            let name = required_str(action, "name", "interactive['action']['name']")?;
            one_of(name, &["cta_url"], "interactive['action']['name']")?;
            let parameters =
                required_object(action, "parameters", "interactive['action']['parameters']")?;
            let text = required_str(
                parameters,
                "display_text",
                "interactive['action']['parameters']['display_text']",
            )?;
            max_len(
                text,
                20,
                "interactive['action']['parameters']['display_text']",
            )?;
            required_str(
                parameters,
                "url",
                "interactive['action']['parameters']['url']",
            )?;
        }
        "location_request_message" => {
            let name = required_str(action, "name", "interactive['action']['name']")?;
            one_of(name, &["send_location"], "interactive['action']['name']")?;
        }
        _ => {}
    }
    Ok(())
}

/// Schedules an accepted message's statuses: those due at once are queued for the poster now,
/// the rest by a task that waits for them.
fn schedule_statuses(shared: &Arc<Shared>, script: Script, wamid: &str, body: Option<&Value>) {
    let Script::Accept {
        statuses,
        delay,
        interval,
    } = script
    else {
        return;
    };
    if statuses.is_empty() || shared.webhook_url().is_none() {
        return;
    }
    let recipient: String = body
        .and_then(|body| body["to"].as_str())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let target = StatusTarget {
        wamid: wamid.to_owned(),
        recipient,
        callback: body
            .and_then(|body| body.get("biz_opaque_callback_data"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    // Statuses due at once (the first, and every one when no interval separates them) go
    // straight to the poster's queue: a task per message is most of what a benchmark's stand-in
    // would spend. What must wait, or finds the queue full, gets a task of its own, which keeps
    // each message's statuses in order.
    let mut steps = statuses;
    let mut queued = 0;
    if delay.is_zero() {
        let due_now = if interval.is_zero() { steps.len() } else { 1 };
        for step in &steps[..due_now] {
            match shared.statuses.try_send(status_json(step, &target)) {
                Ok(()) => queued += 1,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(_)) => break,
            }
        }
    }
    steps.drain(..queued);
    if steps.is_empty() {
        return;
    }
    // After a status queued just now, the next waits its interval.
    spawn_statuses(shared, steps, delay, interval, queued > 0, target);
}

/// Whose statuses these are: the message's wamid, its recipient and its callback data.
struct StatusTarget {
    wamid: String,
    recipient: String,
    callback: Option<String>,
}

/// One status of `target` as Meta posts it.
fn status_json(step: &StatusStep, target: &StatusTarget) -> Value {
    let mut status = json!({
        "id": target.wamid,
        "status": step.name(),
        "timestamp": timestamp_now(),
        "recipient_id": target.recipient,
    });
    if let Some(callback) = &target.callback {
        status["biz_opaque_callback_data"] = json!(callback);
    }
    match step {
        StatusStep::Sent | StatusStep::Delivered => {
            status["pricing"] = json!({
                "billable": true,
                "pricing_model": "PMP",
                "category": "utility",
            });
        }
        StatusStep::Failed(error) => {
            status["errors"] = json!([error.to_status_error()]);
        }
        StatusStep::Read => {}
    }
    status
}

/// Queues `steps` for the poster from a task of their own: after `delay`, then each after
/// `interval` (the first too when `first_waits`).
fn spawn_statuses(
    shared: &Arc<Shared>,
    steps: Vec<StatusStep>,
    delay: Duration,
    interval: Duration,
    first_waits: bool,
    target: StatusTarget,
) {
    let queue = shared.statuses.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        for (index, step) in steps.iter().enumerate() {
            if (index > 0 || first_waits) && !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            if queue.send(status_json(step, &target)).await.is_err() {
                return;
            }
        }
    });
}

/// The status poster: takes what is queued (up to `statuses_per_post` at a time), wraps it in
/// one webhook body, signs it and posts it (again, on failure, as `webhook_retries` says), with at
/// most `webhook_concurrency` bodies in flight.
async fn post_statuses(shared: Arc<Shared>, mut queue: mpsc::Receiver<Value>) {
    let per_post = shared.options.statuses_per_post.max(1);
    let in_flight = Arc::new(Semaphore::new(shared.options.webhook_concurrency.max(1)));
    let mut batch = Vec::with_capacity(per_post);
    loop {
        // A free slot first, then whatever is queued by then: statuses that wait for a slot
        // leave together.
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        batch.clear();
        if queue.recv_many(&mut batch, per_post).await == 0 {
            return;
        }
        let count = batch.len() as u64;
        let body = Bytes::from(
            shared
                .envelope(json!({ "statuses": std::mem::take(&mut batch) }))
                .to_string(),
        );
        let signature = hub_signature(&shared.options.app_secret, &body);
        // Statuses are only queued once a URL is set (see `script`).
        if shared.webhook_url().is_none() {
            continue;
        }
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut wait = shared.options.webhook_retry_delay;
            for attempt in 1..=shared.options.webhook_retries.saturating_add(1) {
                if attempt > 1 {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                // The URL now: a receiver that restarted elsewhere gets the retries.
                let Some(url) = shared.webhook_url() else {
                    break;
                };
                let post = shared
                    .post(
                        WebhookKind::Status,
                        &url,
                        body.clone(),
                        Some(signature.clone()),
                        attempt,
                    )
                    .await;
                if post.succeeded() {
                    break;
                }
            }
            shared
                .counters
                .statuses_posted
                .fetch_add(count, Ordering::Relaxed);
            drop(permit);
        });
    }
}
