//! The direct side of [`crate::http_client`] (no proxy): HTTP/1.1 POSTs over connections of its
//! own, kept per origin and reused, each request written and its answer read in the caller's
//! task. tern-proto's `http1` writes the request's head and frames the answer; this module only
//! connects (names resolved, and with `deny_private` checked, by [`crate::webhook_target`]'s
//! rule; https through rustls), pools and moves bytes.
//!
//! Why not hyper-util's pooled client, which these POSTs went through before: see
//! `tern_proto::http1` (about twice the CPU per POST, measured in docs/benchmarks.md).
//!
//! Reuse: a connection goes back to its origin's pool only after an answer read to its end that
//! lets it go on (HTTP/1.1, no `connection: close`, nothing after the body); the newest is taken
//! first, and one idle for longer than [`IDLE_FOR_AT_MOST`] is closed. A pooled connection the
//! server has closed meanwhile is seen closed when it is taken and dropped; one whose request
//! could not even be written is dropped and the POST goes out on another. An answer that does
//! not come on a reused connection fails the POST, as with hyper: the server may have acted on
//! it, and the callers retry (webhooks and provider sends are at-least-once).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use rustls_pki_types::ServerName;
use tern_proto::http1::{self, AnswerHead, BodyDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::http_client::{Answer, AnswerBody, AnswerReader, PostError};
use crate::webhook_target::guard_addresses;

/// How long a pooled connection may wait for its next POST (hyper's default too).
const IDLE_FOR_AT_MOST: Duration = Duration::from_secs(90);

/// How often connections idle for too long are looked for under every origin.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Bytes read from a connection at a time, at least.
const READ_AT_LEAST: usize = 8 * 1024;

/// The direct client: its TLS setup, its rules for connecting, and its idle connections.
pub(crate) struct DirectClient {
    tls: TlsConnector,
    /// Connect to public addresses only (`[webhooks] deny_private`).
    guard: bool,
    connect_timeout: Option<Duration>,
    idle_per_host: usize,
    idle: Mutex<Pool>,
}

/// The idle connections, by origin.
#[derive(Default)]
struct Pool {
    connections: HashMap<Origin, Vec<Idle>>,
    /// When connections idle for too long were last closed everywhere (an origin no POST goes
    /// to any more keeps none open for long).
    swept: Option<Instant>,
}

/// Where a connection goes: scheme, host (lowercase) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

/// A connection and what was read from it but not used yet.
struct Connection {
    stream: Stream,
    buffer: Vec<u8>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why an exchange failed.
enum Failure {
    /// The request could not be written: the server never took it.
    Unsent(io::Error),
    /// Anything later: the POST fails.
    Failed(PostError),
}

impl DirectClient {
    pub(crate) fn new(
        tls: rustls::ClientConfig,
        guard: bool,
        connect_timeout: Option<Duration>,
        idle_per_host: usize,
    ) -> DirectClient {
        let mut tls = tls;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        DirectClient {
            tls: TlsConnector::from(Arc::new(tls)),
            guard,
            connect_timeout,
            idle_per_host,
            idle: Mutex::new(Pool::default()),
        }
    }

    /// POST `body` to `uri` with `headers` (names and values as the caller checked them): the
    /// answer, or why there was none.
    pub(crate) async fn post(
        &self,
        uri: &hyper::Uri,
        headers: &[(&str, &[u8])],
        body: &[u8],
        answer: AnswerBody,
    ) -> Result<Answer, PostError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(PostError::Other(format!(
                    "unsupported URL scheme {}",
                    other.unwrap_or("(none)")
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| PostError::Other("URL without a host".to_owned()))?;
        let origin = Origin {
            https,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        };
        let target = uri.path_and_query().map_or("/", |target| target.as_str());
        let mut request = Vec::with_capacity(256 + body.len());
        http1::write_post_head(
            &mut request,
            target,
            authority.as_str(),
            headers.iter().copied(),
            body.len(),
        );
        request.extend_from_slice(body);
        loop {
            let (mut connection, reused) = match self.checkout(&origin) {
                Some(connection) => (connection, true),
                None => (self.connect(&origin).await?, false),
            };
            match exchange(&mut connection, &request, answer).await {
                Ok((answer, reusable)) => {
                    if reusable {
                        self.checkin(origin, connection);
                    }
                    return Ok(answer);
                }
                // Closed by the server while pooled: the next one (or a new one) takes it.
                Err(Failure::Unsent(_)) if reused => continue,
                Err(Failure::Unsent(error)) => {
                    return Err(PostError::Other(format!("sending the request: {error}")));
                }
                Err(Failure::Failed(error)) => return Err(error),
            }
        }
    }

    /// The newest idle connection to `origin` that is still open.
    fn checkout(&self, origin: &Origin) -> Option<Connection> {
        let mut pool = self.idle.lock().expect("idle connections lock");
        let connections = pool.connections.get_mut(origin)?;
        while let Some(Idle {
            mut connection,
            since,
        }) = connections.pop()
        {
            if since.elapsed() <= IDLE_FOR_AT_MOST && connection.stream.still_open() {
                return Some(connection);
            }
        }
        None
    }

    fn checkin(&self, origin: Origin, connection: Connection) {
        let now = Instant::now();
        let mut pool = self.idle.lock().expect("idle connections lock");
        if pool
            .swept
            .is_none_or(|swept| now.duration_since(swept) >= SWEEP_EVERY)
        {
            pool.swept = Some(now);
            pool.connections.retain(|_, connections| {
                connections.retain(|idle| now.duration_since(idle.since) <= IDLE_FOR_AT_MOST);
                !connections.is_empty()
            });
        }
        let connections = pool.connections.entry(origin).or_default();
        if connections.len() >= self.idle_per_host {
            // The oldest makes room.
            connections.remove(0);
        }
        connections.push(Idle {
            connection,
            since: now,
        });
    }

    /// A new connection to `origin`: its addresses tried in turn (only public ones with the
    /// guard), then TLS for https.
    async fn connect(&self, origin: &Origin) -> Result<Connection, PostError> {
        let connecting = self.connect_unbounded(origin);
        let stream = match self.connect_timeout {
            Some(timeout) => tokio::time::timeout(timeout, connecting)
                .await
                .unwrap_or_else(|_| {
                    Err(PostError::Other(format!(
                        "no connection within {} ms",
                        timeout.as_millis()
                    )))
                })?,
            None => connecting.await?,
        };
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(READ_AT_LEAST),
        })
    }

    async fn connect_unbounded(&self, origin: &Origin) -> Result<Stream, PostError> {
        // An IPv6 literal comes in brackets.
        let host = origin
            .host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(&origin.host);
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, origin.port))
            .await
            .map_err(|error| PostError::Other(format!("cannot resolve {host}: {error}")))?
            .collect();
        let addresses = if self.guard {
            guard_addresses(host, resolved).map_err(PostError::Refused)?
        } else {
            resolved
        };
        let mut last_error = None;
        let mut tcp = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(error) => last_error = Some((address, error)),
            }
        }
        let tcp = match (tcp, last_error) {
            (Some(tcp), _) => tcp,
            (None, Some((address, error))) => {
                return Err(PostError::Other(format!(
                    "cannot connect to {address}: {error}"
                )));
            }
            (None, None) => {
                return Err(PostError::Other(format!("{host} resolved to no address")));
            }
        };
        tcp.set_nodelay(true)
            .map_err(|error| PostError::Other(format!("cannot set TCP_NODELAY: {error}")))?;
        if !origin.https {
            return Ok(Stream::Plain(tcp));
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|error| PostError::Other(format!("bad TLS server name {host}: {error}")))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|error| PostError::Other(format!("TLS handshake with {host}: {error}")))?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// Writes `request` on `connection` and reads its answer: the answer, and whether the
/// connection may carry the next request.
async fn exchange(
    connection: &mut Connection,
    request: &[u8],
    answer: AnswerBody,
) -> Result<(Answer, bool), Failure> {
    let written = async {
        connection.stream.write_all(request).await?;
        connection.stream.flush().await
    };
    written.await.map_err(Failure::Unsent)?;
    connection.buffer.clear();
    let head = loop {
        match http1::parse_answer_head(&connection.buffer) {
            Ok(Some((head, len))) => {
                connection.buffer.drain(..len);
                // 100 Continue and the like: the final answer follows.
                if head.is_interim() {
                    continue;
                }
                break head;
            }
            Ok(None) => {}
            Err(error) => return Err(failed(error)),
        }
        match connection.read_more().await {
            Ok(0) if connection.buffer.is_empty() => {
                return Err(failed("connection closed before an answer"));
            }
            Ok(0) => return Err(failed("the answer's head was cut short")),
            Ok(_) => {}
            Err(error) => return Err(failed(format!("reading the answer: {error}"))),
        }
    };
    let mut decoder = BodyDecoder::new(head.framing);
    let mut reader = AnswerReader::new(answer);
    // False once a drain has read all it reads: the rest is left, and the connection with it.
    let mut reading = true;
    let mut refused: Option<PostError> = None;
    loop {
        if !connection.buffer.is_empty() {
            let decoded = decoder.decode(&connection.buffer, |data| {
                if reading && refused.is_none() {
                    match reader.chunk(data) {
                        Ok(more) => reading = more,
                        Err(error) => refused = Some(error),
                    }
                }
            });
            if let Some(error) = refused {
                return Err(Failure::Failed(error));
            }
            match decoded {
                Ok(used) => {
                    connection.buffer.drain(..used);
                }
                Err(error) => {
                    reader.failed(error).map_err(Failure::Failed)?;
                    return Ok((answer_of(head, reader), false));
                }
            }
        }
        if decoder.is_done() {
            break;
        }
        if !reading {
            return Ok((answer_of(head, reader), false));
        }
        match connection.read_more().await {
            Ok(0) => {
                if let Err(error) = decoder.end_of_input() {
                    reader.failed(error).map_err(Failure::Failed)?;
                }
                return Ok((answer_of(head, reader), false));
            }
            Ok(_) => {}
            Err(error) => {
                reader.failed(error).map_err(Failure::Failed)?;
                return Ok((answer_of(head, reader), false));
            }
        }
    }
    // Anything after the body is not an answer to anything: the connection is not reused.
    let reusable = head.keep_alive && connection.buffer.is_empty();
    Ok((answer_of(head, reader), reusable))
}

fn failed(why: impl std::fmt::Display) -> Failure {
    Failure::Failed(PostError::Other(why.to_string()))
}

/// The answer of `head`, with the body `reader` kept.
fn answer_of(head: AnswerHead, reader: AnswerReader) -> Answer {
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for (name, value) in head.headers {
        // A header hyper would refuse is left out here too.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    Answer {
        status: StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers,
        body: reader.finish(),
    }
}

impl Connection {
    /// Reads what the server sent next onto the buffer: how many bytes (0: closed).
    async fn read_more(&mut self) -> io::Result<usize> {
        self.buffer.reserve(READ_AT_LEAST);
        self.stream.read_buf(&mut self.buffer).await
    }
}

impl Stream {
    /// Whether an idle connection is still open: nothing to read yet (a close, or bytes nobody
    /// asked for, mean it cannot carry a request).
    fn still_open(&mut self) -> bool {
        let mut context = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut peek = ReadBuf::new(&mut byte);
        matches!(
            Pin::new(self).poll_read(&mut context, &mut peek),
            Poll::Pending
        )
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(context, buffer),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, buffer),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(context),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::TcpListener;

    use super::*;

    /// What the scripted receiver does with one request.
    #[derive(Clone)]
    struct Reply {
        /// Written as the answer (in one write).
        bytes: Vec<u8>,
        /// Close the connection after writing it.
        close: bool,
    }

    fn reply(text: &str) -> Reply {
        Reply {
            bytes: text.as_bytes().to_vec(),
            close: false,
        }
    }

    /// A receiver on loopback that answers the n-th request it reads (over all connections)
    /// with `replies[n]` (the last one from then on); counts connections and keeps the requests
    /// (head and body as read).
    struct Receiver {
        port: u16,
        connections: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Receiver {
        async fn start(replies: Vec<Reply>) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let connections = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let (counted, kept) = (Arc::clone(&connections), Arc::clone(&requests));
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let (kept, replies) = (Arc::clone(&kept), replies.clone());
                    tokio::spawn(async move {
                        let mut buffer = Vec::new();
                        loop {
                            let request = loop {
                                if let Some(len) = whole_request(&buffer) {
                                    break buffer.drain(..len).collect::<Vec<u8>>();
                                }
                                let mut chunk = [0u8; 4096];
                                match stream.read(&mut chunk).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                                }
                            };
                            let index = {
                                let mut kept = kept.lock().unwrap();
                                kept.push(request);
                                kept.len() - 1
                            };
                            let reply = &replies[index.min(replies.len() - 1)];
                            if stream.write_all(&reply.bytes).await.is_err() || reply.close {
                                return;
                            }
                        }
                    });
                }
            });
            Receiver {
                port,
                connections,
                requests,
            }
        }

        fn uri(&self) -> hyper::Uri {
            format!("http://127.0.0.1:{}/hook?x=1", self.port)
                .parse()
                .unwrap()
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }
    }

    /// The length of the whole request at the start of `buffer` (head and content-length body).
    fn whole_request(buffer: &[u8]) -> Option<usize> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(head) = request.parse(buffer).ok()? else {
            return None;
        };
        let length: usize = request
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |header| {
                std::str::from_utf8(header.value).unwrap().parse().unwrap()
            });
        (buffer.len() >= head + length).then_some(head + length)
    }

    fn client() -> DirectClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        DirectClient::new(tls, false, Some(Duration::from_secs(5)), 4)
    }

    async fn post(client: &DirectClient, uri: &hyper::Uri, answer: AnswerBody) -> Answer {
        client
            .post(
                uri,
                &[("content-type", b"application/json")],
                b"{\"a\":1}",
                answer,
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_request_goes_out_whole_and_a_kept_connection_carries_the_next() {
        let receiver = Receiver::start(vec![reply(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\r\nok",
        )])
        .await;
        let client = client();
        for _ in 0..3 {
            let answer = post(&client, &receiver.uri(), AnswerBody::Keep(1024)).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(&answer.body[..], b"ok");
            assert_eq!(answer.headers["x-a"], "b");
        }
        assert_eq!(receiver.connections(), 1);
        let requests = receiver.requests.lock().unwrap().clone();
        assert_eq!(
            String::from_utf8(requests[0].clone()).unwrap(),
            format!(
                "POST /hook?x=1 HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\n\
                 content-length: 7\r\n\r\n{{\"a\":1}}",
                receiver.port
            )
        );
    }

    #[tokio::test]
    async fn chunked_answers_and_interim_ones_are_read_and_the_connection_kept() {
        let receiver = Receiver::start(vec![reply(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n\
             3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )])
        .await;
        let client = client();
        for _ in 0..2 {
            let answer = post(&client, &receiver.uri(), AnswerBody::Keep(1024)).await;
            assert_eq!(answer.status, StatusCode::CREATED);
            assert_eq!(&answer.body[..], b"{\"a\":1}");
        }
        assert_eq!(receiver.connections(), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_ends_is_not_reused() {
        // Said in the answer; an answer that ends at close; a close after a framed answer.
        for first in [
            reply("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
            Reply {
                bytes: b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec(),
                close: true,
            },
            Reply {
                bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
                close: true,
            },
        ] {
            let receiver = Receiver::start(vec![
                first,
                reply("HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"),
            ])
            .await;
            let client = client();
            let answer = post(&client, &receiver.uri(), AnswerBody::Keep(1024)).await;
            assert_eq!(answer.status, StatusCode::OK);
            // Give the close time to arrive, as it would between two webhooks.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let answer = post(&client, &receiver.uri(), AnswerBody::Keep(1024)).await;
            assert_eq!(answer.status, StatusCode::ACCEPTED);
            assert_eq!(receiver.connections(), 2);
            assert_eq!(receiver.requests.lock().unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn a_long_answer_is_drained_in_part_and_its_connection_dropped() {
        // Four times what a drain reads: it stops well before the end.
        let length = 4 * crate::http_client::DRAINED_AT_MOST;
        let mut long = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n").into_bytes();
        long.resize(long.len() + length, b'x');
        let receiver = Receiver::start(vec![Reply {
            bytes: long,
            close: false,
        }])
        .await;
        let client = client();
        for _ in 0..2 {
            let answer = post(&client, &receiver.uri(), AnswerBody::Drain).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert!(answer.body.is_empty());
        }
        assert_eq!(receiver.connections(), 2);
        // A kept answer longer than its limit fails the POST.
        let failed = client
            .post(&receiver.uri(), &[], b"", AnswerBody::Keep(100))
            .await;
        assert!(
            matches!(&failed, Err(PostError::Other(why)) if why == "answer longer than 100 bytes"),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_that_never_comes_or_cannot_be_read_fails_the_post() {
        let closing = Receiver::start(vec![Reply {
            bytes: Vec::new(),
            close: true,
        }])
        .await;
        let client = client();
        let failed = client
            .post(&closing.uri(), &[], b"", AnswerBody::Drain)
            .await;
        assert!(
            matches!(&failed, Err(PostError::Other(why)) if why == "connection closed before an answer"),
            "{failed:?}"
        );
        let garbled = Receiver::start(vec![reply("SMTP ready\r\n\r\n")]).await;
        let failed = client
            .post(&garbled.uri(), &[], b"", AnswerBody::Drain)
            .await;
        assert!(
            matches!(&failed, Err(PostError::Other(why)) if why.starts_with("unreadable answer head")),
            "{failed:?}"
        );
        let cut = Receiver::start(vec![Reply {
            bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec(),
            close: true,
        }])
        .await;
        let failed = client
            .post(&cut.uri(), &[], b"", AnswerBody::Keep(100))
            .await;
        assert!(
            matches!(&failed, Err(PostError::Other(why)) if why == "reading the answer: the answer ended before its body did"),
            "{failed:?}"
        );
        // Drained, a cut body still gives the answer (its status is what counts).
        let answer = client
            .post(&cut.uri(), &[], b"", AnswerBody::Drain)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn idle_connections_are_kept_up_to_the_limit_per_origin() {
        let receiver =
            Receiver::start(vec![reply("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")]).await;
        let client = client();
        // Six POSTs at once need six connections; four of them are kept.
        let uri = receiver.uri();
        let posts: Vec<_> = (0..6)
            .map(|_| post(&client, &uri, AnswerBody::Drain))
            .collect();
        futures_util::future::join_all(posts).await;
        assert_eq!(receiver.connections(), 6);
        let origin = Origin {
            https: false,
            host: "127.0.0.1".to_owned(),
            port: receiver.port,
        };
        assert_eq!(client.idle.lock().unwrap().connections[&origin].len(), 4);
        for _ in 0..4 {
            post(&client, &uri, AnswerBody::Drain).await;
        }
        assert_eq!(receiver.connections(), 6);
    }
}
