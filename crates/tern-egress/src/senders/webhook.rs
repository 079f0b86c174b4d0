//! One HTTP POST of a webhook, shared by the senders of webhook kinds: the `[webhooks]` target
//! policy checked first (the client's resolver checks names at connect time), the stable report
//! id in a header, the signature of the account's secrets (`tern_core::webhook_signature`) in
//! `X-Tern-Timestamp` and `X-Tern-Signature`, a timeout, no redirects followed (a 3xx is a
//! failed attempt).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::{HeaderName, HeaderValue};
use tern_core::message::MessageId;
use tern_core::outbox::EntryId;
use tern_core::webhook_signature::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecrets, signature_header,
};

use super::Delivery;
use crate::http_client::{AnswerBody, HttpClient, Post, PostError, request_uri};
use crate::notifier::LOG_TARGET;
use crate::webhook_target::TargetPolicy;

/// The header carrying the report id (the body's `reportId` / `REPORTID`) on every POST.
pub const REPORT_ID_HEADER: &str = "x-tern-report-id";

/// The headers every POST carries, named once (a name given as a string is parsed and checked
/// on every request).
static REPORT_ID: HeaderName = HeaderName::from_static(REPORT_ID_HEADER);
static TIMESTAMP: HeaderName = HeaderName::from_static(TIMESTAMP_HEADER);
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// Most distinct URLs kept parsed.
const URL_CACHE_SIZE: usize = 1024;

/// POSTs webhook bodies.
pub struct WebhookPoster {
    client: HttpClient,
    /// The `[webhooks]` rules checked before each POST.
    targets: TargetPolicy,
    timeout: Duration,
    /// How long a replaced secret signs too (`[webhooks] rotation_overlap_hours`).
    rotation_overlap: SignedDuration,
    /// URLs already parsed (and as hyper takes them): an account's webhooks all go to one URL,
    /// and parsing it (with IDNA host processing) for every POST cost more than building the
    /// request.
    urls: Mutex<HashMap<String, Parsed>>,
}

/// A webhook URL parsed, and as the client sends to it.
#[derive(Clone)]
struct Parsed {
    url: reqwest::Url,
    uri: hyper::Uri,
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

impl WebhookPoster {
    pub fn new(client: HttpClient, targets: TargetPolicy, timeout: Duration) -> WebhookPoster {
        WebhookPoster {
            client,
            rotation_overlap: targets.rotation_overlap(),
            targets,
            timeout,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// `url` parsed, from the cache when it was seen before.
    fn parsed_url(&self, url: &str) -> Result<Parsed, String> {
        let mut urls = self.urls.lock().expect("url cache");
        if let Some(parsed) = urls.get(url) {
            return Ok(parsed.clone());
        }
        let parsed_url =
            reqwest::Url::parse(url).map_err(|error| format!("bad URL {url}: {error}"))?;
        let parsed = Parsed {
            uri: request_uri(&parsed_url)?,
            url: parsed_url,
        };
        if urls.len() >= URL_CACHE_SIZE {
            urls.clear();
        }
        urls.insert(url.to_owned(), parsed.clone());
        Ok(parsed)
    }

    /// The signature headers of `body` under the secrets that sign now (each attempt is signed
    /// anew, at its own time); none without secrets.
    fn sign(
        &self,
        secrets: Option<&WebhookSecrets>,
        body: &[u8],
        headers: &mut Vec<(&'static HeaderName, HeaderValue)>,
    ) {
        let Some(secrets) = secrets else {
            return;
        };
        let now = Timestamp::now();
        let timestamp = now.as_second();
        if let Some(signature) = signature_header(
            &secrets.signing(now, self.rotation_overlap),
            timestamp,
            body,
        ) && let Ok(signature) = HeaderValue::from_str(&signature)
        {
            headers.push((&TIMESTAMP, HeaderValue::from(timestamp)));
            headers.push((&SIGNATURE, signature));
        }
    }

    /// POST `webhook` once. A target `[webhooks]` refuses is given up at once with an error log:
    /// retrying cannot make a refused host or address allowed.
    pub async fn post(&self, webhook: Webhook<'_>) -> Delivery {
        let answer = match self.parsed_url(webhook.url) {
            // An unparsable URL fails like an unreachable receiver: retried, then given up.
            Err(error) => Err(PostError::Other(error)),
            Ok(parsed) => match self.targets.check(&parsed.url) {
                Err(refused) => Err(PostError::Refused(refused)),
                Ok(()) => {
                    let mut headers = Vec::with_capacity(3);
                    // The same on every attempt, so a receiver can drop a webhook it already
                    // took (delivery is at-least-once).
                    match HeaderValue::from_str(webhook.report_id) {
                        Ok(report_id) => headers.push((&REPORT_ID, report_id)),
                        Err(error) => {
                            tracing::warn!(target: LOG_TARGET, id = webhook.entry, %error, "report id that cannot be a header; POSTed without it");
                        }
                    }
                    self.sign(webhook.secrets, &webhook.body, &mut headers);
                    self.client
                        .post(Post {
                            url: &parsed.url,
                            uri: &parsed.uri,
                            headers,
                            content_type: webhook.content_type,
                            body: webhook.body,
                            timeout: self.timeout,
                            answer: AnswerBody::Drain,
                        })
                        .await
                }
            },
        };
        match answer {
            Ok(answer) if answer.status.is_success() => Delivery::Delivered,
            Ok(answer) => Delivery::Failed(format!("HTTP {} from {}", answer.status, webhook.url)),
            Err(PostError::Refused(refused)) => {
                tracing::error!(target: LOG_TARGET, id = webhook.entry, message_id = %webhook.message_id, url = %webhook.url, reason = %refused, "status report target refused by [webhooks]; report given up");
                Delivery::Abandoned
            }
            Err(PostError::Other(why)) => Delivery::Failed(format!("{why} ({})", webhook.url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::webhook_target::WebhookTargets;

    /// A receiver on loopback that answers every POST `200` with a body, and counts the
    /// connections it accepted.
    async fn receiver() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/status", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(value) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = value.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        stream.read_exact(&mut body).await.unwrap();
                        // The head first, the body a moment later (as a receiver that
                        // streams its answer does): the client has the response before its
                        // body.
                        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n";
                        stream.get_mut().write_all(head).await.unwrap();
                        stream.get_mut().flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        stream
                            .get_mut()
                            .write_all(b"{\"status\":\"ok\"}")
                            .await
                            .unwrap();
                    }
                });
            }
        });
        (url, connections)
    }

    #[tokio::test]
    async fn webhooks_answered_with_a_body_share_one_connection() {
        let (url, connections) = receiver().await;
        // As the binary does at its start (any provider: the receiver is plain HTTP).
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let poster = WebhookPoster::new(
            HttpClient::direct(false).unwrap(),
            TargetPolicy::new(&WebhookTargets {
                deny_private: false,
                ..Default::default()
            }),
            Duration::from_secs(10),
        );
        for entry in 0..5 {
            let delivery = poster
                .post(Webhook {
                    entry,
                    message_id: MessageId::generate(),
                    url: &url,
                    content_type: "application/json",
                    report_id: "r",
                    body: b"{}".to_vec(),
                    secrets: None,
                })
                .await;
            assert!(matches!(delivery, Delivery::Delivered), "{delivery:?}");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }
}
