//! The HTTP client of the hot paths: every status report's webhook POST and every message a
//! provider connector posts (WhatsApp's Graph API). It is an HTTP/1.1 client of our own
//! ([`crate::direct_http`]: pooled connections, each POST written and its answer read in the
//! caller's task; names resolved, and with `[webhooks] deny_private` checked, by
//! [`crate::webhook_target`]'s rule at connect time; https through rustls with the platform's
//! verifier, as reqwest does).
//!
//! Why not reqwest, which the other requests use (tokens, media, FCM, RBM): on these paths each
//! message costs one or two POSTs, and reqwest re-parses each request's URL twice (for its
//! redirect policy, which runs even when it follows none, and for its response), wraps the
//! request in retry and redirect layers and converts between its types and hyper's: about 30,000
//! instructions a POST more than hyper-util's client alone, measured under callgrind
//! (docs/benchmarks.md, 2026-12-03), against some 350,000 for everything a message costs the
//! gateway. Why not hyper-util's client either (these POSTs went through it until the sixth
//! session of 2026-12-03): see `tern_proto::http1`.
//!
//! Proxies: when the environment names one (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, in either
//! case), POSTs go out through reqwest, which honours them (and `NO_PROXY`), as they always did;
//! except webhooks with `deny_private`, which never use a proxy (the address checked would be
//! the proxy's).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderMap;
use reqwest::header::{HeaderName, HeaderValue};

use crate::direct_http::DirectClient;
use crate::webhook_target::{TargetPolicy, TargetRefused};

/// Most of a webhook receiver's answer read (and dropped) so that its connection can carry the
/// next POST.
pub const DRAINED_AT_MOST: usize = 64 * 1024;

/// The longest answer a provider's API may give (Meta's are a few hundred bytes).
pub const PROVIDER_ANSWER_AT_MOST: usize = 1024 * 1024;

/// The environment variables a proxy is named in (reqwest reads the same).
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot build the HTTP client: {0}")]
    Reqwest(#[from] reqwest::Error),
}

/// Why a POST got no HTTP answer.
#[derive(Debug)]
pub enum PostError {
    /// `[webhooks]` refuses every address the host resolved to.
    Refused(TargetRefused),
    /// Anything else (connection, TLS, timeout, an answer too long): worth retrying.
    Other(String),
}

/// One POST to send.
pub struct Post<'a> {
    pub url: &'a reqwest::Url,
    /// The same URL as hyper takes it (see [`request_uri`]).
    pub uri: &'a hyper::Uri,
    /// Headers besides `content-type`, `content-length` and `host`.
    pub headers: Vec<(&'static HeaderName, HeaderValue)>,
    pub content_type: &'a str,
    pub body: Vec<u8>,
    /// For the whole POST: connecting, sending, the answer and reading its body.
    pub timeout: Duration,
    /// What to do with the answer's body.
    pub answer: AnswerBody,
}

/// What a POST does with its answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerBody {
    /// Read up to [`DRAINED_AT_MOST`] bytes and drop them: a connection whose answer was not
    /// read to its end cannot carry another request, and the client would open a new
    /// connection (and, over TLS, a new handshake) for every POST to a receiver that answers
    /// with a body. A longer body only costs its connection.
    Drain,
    /// Keep it, up to this many bytes; a longer one fails the POST.
    Keep(usize),
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Empty unless the POST asked to keep it ([`AnswerBody::Keep`]).
    pub body: Bytes,
}

/// How connections are made.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// Connect to public addresses only (`[webhooks] deny_private`).
    guard: bool,
    /// Give up a connection attempt after this long (the POST's own timeout bounds it anyway).
    connect_timeout: Option<Duration>,
    idle_per_host: usize,
}

/// The client the hot paths POST with.
#[derive(Clone)]
pub struct HttpClient {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Direct(Arc<DirectClient>),
    /// Through the proxies the environment names.
    Proxied(reqwest::Client),
}

/// Whether the environment names a proxy.
fn proxy_named() -> bool {
    PROXY_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

impl HttpClient {
    /// The client status and inbound webhooks are POSTed with, to the targets `targets` allows:
    /// direct, unless a proxy is named and `deny_private` is off.
    pub fn for_webhooks(targets: &TargetPolicy) -> Result<HttpClient, HttpClientError> {
        let setup = Setup {
            guard: targets.deny_private(),
            connect_timeout: None,
            idle_per_host: 256,
        };
        HttpClient::build(setup, !setup.guard && proxy_named())
    }

    /// The client connectors post messages to providers' APIs with: direct, unless a proxy is
    /// named.
    pub fn for_providers() -> Result<HttpClient, HttpClientError> {
        let setup = Setup {
            guard: false,
            connect_timeout: Some(Duration::from_secs(10)),
            idle_per_host: 512,
        };
        HttpClient::build(setup, proxy_named())
    }

    /// A client that connects to servers itself (no proxy); with `guard`, to public addresses
    /// only.
    pub fn direct(guard: bool) -> Result<HttpClient, HttpClientError> {
        let setup = Setup {
            guard,
            connect_timeout: None,
            idle_per_host: 256,
        };
        HttpClient::build(setup, false)
    }

    fn build(setup: Setup, proxied: bool) -> Result<HttpClient, HttpClientError> {
        if proxied {
            // Redirects are not followed: a 3xx is a failed POST (a redirect would carry a
            // webhook, or a bearer token, elsewhere).
            let mut builder = reqwest::Client::builder()
                .pool_max_idle_per_host(setup.idle_per_host)
                .redirect(reqwest::redirect::Policy::none());
            if let Some(timeout) = setup.connect_timeout {
                builder = builder.connect_timeout(timeout);
            }
            return Ok(HttpClient {
                inner: Inner::Proxied(builder.build()?),
            });
        }
        use rustls_platform_verifier::BuilderVerifierExt;
        let tls = rustls::ClientConfig::builder()
            .with_platform_verifier()?
            .with_no_client_auth();
        Ok(HttpClient::with_tls(setup, tls))
    }

    /// The direct client with `tls`.
    fn with_tls(setup: Setup, tls: rustls::ClientConfig) -> HttpClient {
        HttpClient {
            inner: Inner::Direct(Arc::new(DirectClient::new(
                tls,
                setup.guard,
                setup.connect_timeout,
                setup.idle_per_host,
            ))),
        }
    }

    /// POST once: the answer, or why there was none.
    pub async fn post(&self, post: Post<'_>) -> Result<Answer, PostError> {
        let timeout = post.timeout;
        match tokio::time::timeout(timeout, self.post_unbounded(post)).await {
            Ok(result) => result,
            Err(_) => Err(PostError::Other(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    async fn post_unbounded(&self, post: Post<'_>) -> Result<Answer, PostError> {
        let answer = post.answer;
        match &self.inner {
            Inner::Direct(client) => {
                let content_type = HeaderValue::from_str(post.content_type)
                    .map_err(|error| PostError::Other(format!("content type: {error}")))?;
                let authorization = basic_authorization(post.url);
                let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(3 + post.headers.len());
                headers.push(("content-type", content_type.as_bytes()));
                headers.push(("accept", b"*/*"));
                if let Some(authorization) = &authorization {
                    headers.push(("authorization", authorization.as_bytes()));
                }
                for (name, value) in &post.headers {
                    headers.push((name.as_str(), value.as_bytes()));
                }
                client.post(post.uri, &headers, &post.body, answer).await
            }
            Inner::Proxied(client) => {
                let mut request = client
                    .post(post.url.clone())
                    .header(reqwest::header::CONTENT_TYPE, post.content_type);
                for (name, value) in post.headers {
                    request = request.header(name, value);
                }
                let mut response = request.body(post.body).send().await.map_err(|error| {
                    match crate::webhook_target::refusal_in(&error) {
                        Some(refused) => PostError::Refused(refused.clone()),
                        None => PostError::Other(error.without_url().to_string()),
                    }
                })?;
                let status = response.status();
                let headers = std::mem::take(response.headers_mut());
                let mut reader = AnswerReader::new(answer);
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            if !reader.chunk(&chunk)? {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(error) => {
                            reader.failed(error.without_url())?;
                            break;
                        }
                    }
                }
                Ok(Answer {
                    status,
                    headers,
                    body: reader.finish(),
                })
            }
        }
    }
}

/// An answer's body as it is read, by either client: kept up to its limit, or drained.
pub(crate) struct AnswerReader {
    answer: AnswerBody,
    read: usize,
    kept: Vec<u8>,
}

impl AnswerReader {
    pub(crate) fn new(answer: AnswerBody) -> AnswerReader {
        AnswerReader {
            answer,
            read: 0,
            kept: Vec::new(),
        }
    }

    /// Take the next piece of the body: whether to read on. A drain stops past
    /// [`DRAINED_AT_MOST`]; a kept answer longer than its limit fails the POST.
    pub(crate) fn chunk(&mut self, data: &[u8]) -> Result<bool, PostError> {
        self.read += data.len();
        match self.answer {
            AnswerBody::Drain => Ok(self.read <= DRAINED_AT_MOST),
            AnswerBody::Keep(limit) if self.read > limit => Err(PostError::Other(format!(
                "answer longer than {limit} bytes"
            ))),
            AnswerBody::Keep(_) => {
                self.kept.extend_from_slice(data);
                Ok(true)
            }
        }
    }

    /// The body could not be read on: a drain just stops; a kept answer fails the POST.
    pub(crate) fn failed(&self, error: impl std::fmt::Display) -> Result<(), PostError> {
        match self.answer {
            AnswerBody::Drain => Ok(()),
            AnswerBody::Keep(_) => Err(PostError::Other(format!("reading the answer: {error}"))),
        }
    }

    pub(crate) fn finish(self) -> Bytes {
        Bytes::from(self.kept)
    }
}

/// `url` as hyper's client takes it: without its fragment (never sent) and its user and
/// password (sent as basic authorization, as reqwest does).
pub fn request_uri(url: &reqwest::Url) -> Result<hyper::Uri, String> {
    let mut url = url.clone();
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.as_str()
        .parse()
        .map_err(|error| format!("bad URL {url}: {error}"))
}

/// The `authorization` header of a URL that names a user (and a password).
fn basic_authorization(url: &reqwest::Url) -> Option<HeaderValue> {
    use base64::Engine;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = format!(
        "{}:{}",
        decode(url.username()),
        decode(url.password().unwrap_or(""))
    );
    let mut value = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    ))
    .ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;

    /// What a receiver was sent: method, path, the headers that matter, body.
    type Seen = (String, String, Vec<(String, String)>, Vec<u8>);

    /// An https receiver on loopback with a certificate for `localhost` (its own root, which the
    /// platform knows nothing of): answers every request 200 with a body and tells what it got.
    async fn https_receiver() -> (u16, CertificateDer<'static>, mpsc::UnboundedReceiver<Seen>) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let certificate = CertificateDer::from(key.cert.der().to_vec());
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.clone()], private)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, seen_by_test) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            async move {
                                let method = request.method().to_string();
                                let path = request.uri().to_string();
                                let headers = ["content-type", "authorization", "x-test", "host"]
                                    .iter()
                                    .filter_map(|name| {
                                        let value = request.headers().get(*name)?;
                                        Some((name.to_string(), value.to_str().unwrap().to_owned()))
                                    })
                                    .collect();
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let _ = seen.send((method, path, headers, body.to_vec()));
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from_static(b"{\"ok\":true}"),
                                )))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (port, certificate, seen_by_test)
    }

    /// [`HttpClient::direct`] with the platform's roots and `root` as well (a private CA).
    fn trusting(root: CertificateDer<'static>) -> HttpClient {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .unwrap()
            .clone();
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(vec![root], provider).unwrap();
        let tls = rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let setup = Setup {
            guard: false,
            connect_timeout: None,
            idle_per_host: 1,
        };
        HttpClient::with_tls(setup, tls)
    }

    fn post<'a>(url: &'a reqwest::Url, uri: &'a hyper::Uri) -> Post<'a> {
        static TEST: HeaderName = HeaderName::from_static("x-test");
        Post {
            url,
            uri,
            headers: vec![(&TEST, HeaderValue::from_static("yes"))],
            content_type: "application/json",
            body: b"{\"a\":1}".to_vec(),
            timeout: Duration::from_secs(10),
            answer: AnswerBody::Keep(1024),
        }
    }

    #[tokio::test]
    async fn https_receivers_are_verified_then_reached_with_the_url_s_credentials() {
        let (port, root, mut seen) = https_receiver().await;
        let url = reqwest::Url::parse(&format!(
            "https://us%20er:p%40ss@localhost:{port}/hook?x=1#part"
        ))
        .unwrap();
        let uri = request_uri(&url).unwrap();
        assert_eq!(
            uri.to_string(),
            format!("https://localhost:{port}/hook?x=1")
        );

        // No root the platform knows vouches for the receiver: no request reaches it.
        let refused = HttpClient::direct(false)
            .unwrap()
            .post(post(&url, &uri))
            .await;
        match refused {
            Err(PostError::Other(why)) => assert!(why.contains("certificate"), "{why}"),
            other => panic!("expected a certificate error, got {other:?}"),
        }
        assert!(seen.try_recv().is_err());

        // Trusted, the POST arrives whole, its user and password as basic authorization.
        let answer = trusting(root).post(post(&url, &uri)).await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(&answer.body[..], b"{\"ok\":true}");
        let (method, path, headers, body) = seen.recv().await.unwrap();
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/hook?x=1"));
        assert_eq!(
            headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                // base64("us er:p@ss")
                (
                    "authorization".to_owned(),
                    "Basic dXMgZXI6cEBzcw==".to_owned()
                ),
                ("x-test".to_owned(), "yes".to_owned()),
                ("host".to_owned(), format!("localhost:{port}")),
            ]
        );
        assert_eq!(body, b"{\"a\":1}");
    }

    #[tokio::test]
    async fn a_name_with_only_private_addresses_is_refused_when_connecting() {
        // Something listens, so the POST would succeed were the address not refused.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = reqwest::Url::parse(&format!("http://localhost:{port}/hook")).unwrap();
        let uri = request_uri(&url).unwrap();
        let refused = HttpClient::direct(true)
            .unwrap()
            .post(post(&url, &uri))
            .await;
        match refused {
            Err(PostError::Refused(TargetRefused::OnlyPrivateAddresses { host, .. })) => {
                assert_eq!(host, "localhost")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the client connected anyway");
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_fails_the_post_at_its_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
        let url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap();
        let uri = request_uri(&url).unwrap();
        let mut slow = post(&url, &uri);
        slow.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let failed = HttpClient::direct(false).unwrap().post(slow).await;
        assert!(
            matches!(&failed, Err(PostError::Other(why)) if why == "no answer within 300 ms"),
            "{failed:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        held.abort();
    }
}
