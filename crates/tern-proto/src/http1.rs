//! HTTP/1.1 as the hot paths' client speaks it (tern-egress's `http_client`: every status
//! report's webhook POST and every message posted to a provider's API), without I/O: the head of
//! a POST, and the head and body framing of its answer (RFC 9112: sections 6.3 and 7.1).
//!
//! Why not hyper's client, which the gateway used before: each POST through it passes between
//! the caller's task and the connection's own task (a channel and a oneshot each way, a pool
//! checkout, a header map and extensions built per request), about twice the CPU of writing the
//! request and parsing the answer in the caller's task (docs/benchmarks.md, 2026-12-03, sixth
//! session); a message costs one or two such POSTs. hyper does not expose its HTTP/1 codec, so
//! this is the little of it a client that only POSTs needs; httparse (hyper's own head parser)
//! reads the answer's head.

use std::fmt;
use std::io::Write as _;

/// Headers an answer may carry (more is refused, as hyper's default is 100).
pub const MAX_HEADERS: usize = 100;
/// The longest answer head read; a longer one is refused.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The longest chunk-size line (with any extension) or trailer section of a chunked body.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 64 * 1024;

/// Why an answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("unreadable answer head: {0}")]
    Head(String),
    #[error("answer head longer than {MAX_HEAD_BYTES} bytes")]
    HeadTooLong,
    #[error("the answer switches protocols (101)")]
    SwitchingProtocols,
    #[error("bad content-length in the answer")]
    BadContentLength,
    #[error("bad chunked body in the answer: {0}")]
    BadChunk(&'static str),
    #[error("the answer ended before its body did")]
    Truncated,
}

/// Writes the head of a POST of `content_length` bytes to `target` (path and query) on `host`
/// (as the `Host` header carries it: the name, and the port when it is not the scheme's) with
/// `headers`, which must not repeat `host` or `content-length`. Header values are taken as they
/// are: the caller's type (http's `HeaderValue`) admits no CR or LF.
pub fn write_post_head<'a>(
    out: &mut Vec<u8>,
    target: &str,
    host: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    content_length: usize,
) {
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // Writing to a Vec cannot fail.
    let _ = write!(out, "content-length: {content_length}\r\n\r\n");
}

/// How an answer's body is delimited (RFC 9112, 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    /// `content-length` bytes.
    Length(u64),
    /// `transfer-encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// An answer's head.
#[derive(Clone, PartialEq, Eq)]
pub struct AnswerHead {
    pub status: u16,
    /// Names as sent (any case), values as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
    /// Whether the connection may carry another request once the body is read: HTTP/1.1
    /// without `connection: close`, and a body that ends by itself.
    pub keep_alive: bool,
}

impl fmt::Debug for AnswerHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerHead")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("framing", &self.framing)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

impl AnswerHead {
    /// An interim answer (1xx, such as 100 Continue): the final one follows it.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

/// The answer head at the start of `input` and its length, or `None` while it is incomplete.
pub fn parse_answer_head(input: &[u8]) -> Result<Option<(AnswerHead, usize)>, AnswerError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD_BYTES => {
            return Err(AnswerError::HeadTooLong);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(AnswerError::HeadTooLong),
        Err(error) => return Err(AnswerError::Head(error.to_string())),
    };
    if len > MAX_HEAD_BYTES {
        return Err(AnswerError::HeadTooLong);
    }
    let status = response.code.unwrap_or_default();
    if status == 101 {
        return Err(AnswerError::SwitchingProtocols);
    }
    let mut close = response.version != Some(1);
    let mut chunked = false;
    let mut encoded = false;
    let mut length: Option<u64> = None;
    let mut headers = Vec::with_capacity(response.headers.len());
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            if tokens(header.value).any(|token| token.eq_ignore_ascii_case(b"close")) {
                close = true;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // Only the last coding decides whether the body is chunked.
            if let Some(last) = tokens(header.value).last() {
                chunked = last.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // Several values (or fields) are allowed only when they are all the same.
            for token in tokens(header.value) {
                let value = content_length(token).ok_or(AnswerError::BadContentLength)?;
                if length.is_some_and(|known| known != value) {
                    return Err(AnswerError::BadContentLength);
                }
                length = Some(value);
            }
        }
        headers.push((name.to_owned(), header.value.to_vec()));
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if encoded {
        // Transfer-encoding overrides content-length; a body not chunked last ends at close.
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
            None => Framing::UntilClose,
        }
    };
    let keep_alive = !close && framing != Framing::UntilClose;
    Ok(Some((
        AnswerHead {
            status,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

/// The comma-separated tokens of a header value, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|byte| *byte == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// A content-length value: decimal digits only.
fn content_length(token: &[u8]) -> Option<u64> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// Reads an answer's body as its bytes come, in whatever pieces: hands on its data and says
/// when it has ended.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// `n` bytes of plain body left (content-length).
    Plain(u64),
    /// Until the connection closes.
    UntilClose,
    /// A chunk-size line being read: its bytes so far.
    ChunkSize(Vec<u8>),
    /// `n` bytes of chunk data left.
    ChunkData(u64),
    /// The CRLF after a chunk's data: how many of its two bytes were read.
    ChunkEnd(u8),
    /// The trailer section: bytes of the current line so far, and of the section.
    Trailers {
        line: usize,
        total: usize,
    },
    Done,
}

impl BodyDecoder {
    pub fn new(framing: Framing) -> BodyDecoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(length) => State::Plain(length),
            Framing::Chunked => State::ChunkSize(Vec::new()),
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder { state }
    }

    /// Whether the body has ended (what follows belongs to the next answer).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes what it can of `input`, handing each piece of body data to `data`: how many bytes
    /// of `input` it took (all of them, unless the body ended within them).
    pub fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, AnswerError> {
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            match &mut self.state {
                State::Done => break,
                State::UntilClose => {
                    data(rest);
                    at = input.len();
                }
                State::Plain(left) => {
                    let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    data(&rest[..take]);
                    at += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Done;
                    }
                }
                State::ChunkData(left) => {
                    let take = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    data(&rest[..take]);
                    at += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::ChunkEnd(0);
                    }
                }
                State::ChunkEnd(read) => {
                    let expected = if *read == 0 { b'\r' } else { b'\n' };
                    if rest[0] != expected {
                        return Err(AnswerError::BadChunk("no CRLF after a chunk's data"));
                    }
                    at += 1;
                    if *read == 0 {
                        *read = 1;
                    } else {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::ChunkSize(line) => {
                    let Some(end) = rest.iter().position(|byte| *byte == b'\n') else {
                        line.extend_from_slice(rest);
                        at = input.len();
                        if line.len() > MAX_CHUNK_LINE {
                            return Err(AnswerError::BadChunk("chunk-size line too long"));
                        }
                        break;
                    };
                    line.extend_from_slice(&rest[..end]);
                    at += end + 1;
                    if line.len() > MAX_CHUNK_LINE {
                        return Err(AnswerError::BadChunk("chunk-size line too long"));
                    }
                    let size = chunk_size(line)?;
                    self.state = if size == 0 {
                        State::Trailers { line: 0, total: 0 }
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::Trailers { line, total } => {
                    let byte = rest[0];
                    at += 1;
                    *total += 1;
                    if *total > MAX_TRAILERS {
                        return Err(AnswerError::BadChunk("trailer section too long"));
                    }
                    match byte {
                        // An empty line (CRLF, or a bare LF) ends the section and the body.
                        b'\n' if *line == 0 => self.state = State::Done,
                        b'\n' => *line = 0,
                        b'\r' if *line == 0 => {}
                        _ => *line += 1,
                    }
                }
            }
        }
        Ok(at)
    }

    /// The connection closed: fine for a body that ends at close (it has now ended), an error
    /// for any other unfinished one.
    pub fn end_of_input(&mut self) -> Result<(), AnswerError> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(AnswerError::Truncated),
        }
    }
}

/// The size of a chunk-size line (hex digits, then an optional `;extension`, then CR).
fn chunk_size(line: &[u8]) -> Result<u64, AnswerError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits_end = line
        .iter()
        .position(|byte| !byte.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    if digits.is_empty() {
        return Err(AnswerError::BadChunk("no chunk size"));
    }
    let rest = rest.trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return Err(AnswerError::BadChunk("bad chunk size"));
    }
    let digits = &digits[digits
        .iter()
        .position(|d| *d != b'0')
        .unwrap_or(digits.len())..];
    if digits.len() > 15 {
        return Err(AnswerError::BadChunk("chunk size too large"));
    }
    let mut size = 0u64;
    for digit in digits {
        size = size * 16 + u64::from((*digit as char).to_digit(16).unwrap_or(0));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> AnswerHead {
        let (head, len) = parse_answer_head(text.as_bytes()).unwrap().unwrap();
        assert_eq!(len, text.len());
        head
    }

    /// The whole body of `input` fed in pieces of `step` bytes, and what was left over.
    fn body(framing: Framing, input: &[u8], step: usize) -> Result<(Vec<u8>, usize), AnswerError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() && !decoder.is_done() {
            let end = (at + step).min(input.len());
            let used = decoder.decode(&input[at..end], |data| out.extend_from_slice(data))?;
            let fed = end - at;
            at += used;
            if used < fed {
                break;
            }
        }
        if !decoder.is_done() {
            decoder.end_of_input()?;
        }
        Ok((out, input.len() - at))
    }

    #[test]
    fn a_post_head_names_its_host_headers_and_length() {
        let mut out = Vec::new();
        write_post_head(
            &mut out,
            "/hook?x=1",
            "localhost:8080",
            [("content-type", &b"application/json"[..]), ("x-a", b"b")],
            1234,
        );
        assert_eq!(
            out,
            b"POST /hook?x=1 HTTP/1.1\r\nhost: localhost:8080\r\ncontent-type: application/json\r\nx-a: b\r\ncontent-length: 1234\r\n\r\n"
        );
        out.clear();
        write_post_head(&mut out, "", "h", [], 0);
        assert_eq!(
            out,
            b"POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn heads_say_how_their_bodies_end_and_whether_the_connection_goes_on() {
        let plain = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n");
        assert_eq!(plain.status, 200);
        assert_eq!(
            (plain.framing, plain.keep_alive),
            (Framing::Length(12), true)
        );
        assert_eq!(plain.headers[1], ("X-A".to_owned(), b"b".to_vec()));

        let chunked = head(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 5\r\n\r\n",
        );
        assert_eq!(
            (chunked.framing, chunked.keep_alive),
            (Framing::Chunked, true)
        );
        let not_chunked_last = head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n");
        assert_eq!(not_chunked_last.framing, Framing::UntilClose);
        assert!(!not_chunked_last.keep_alive);

        let none = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            (none.framing, none.keep_alive),
            (Framing::UntilClose, false)
        );
        let closing =
            head("HTTP/1.1 500 Oops\r\nConnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            (closing.status, closing.framing, closing.keep_alive),
            (500, Framing::Empty, false)
        );
        let old = head("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n");
        assert!(!old.keep_alive);
        for status in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let text = format!("HTTP/1.1 {status}\r\ncontent-length: 9\r\n\r\n");
            assert_eq!(head(&text).framing, Framing::Empty, "{status}");
        }
        assert!(head("HTTP/1.1 100 Continue\r\n\r\n").is_interim());
        let same_twice =
            head("HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\ncontent-length: 3\r\n\r\n");
        assert_eq!(same_twice.framing, Framing::Length(3));
    }

    #[test]
    fn heads_that_cannot_be_read_are_refused_and_incomplete_ones_wait() {
        assert_eq!(
            parse_answer_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(),
            None
        );
        assert_eq!(parse_answer_head(b"").unwrap(), None);
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
        ] {
            assert_eq!(
                parse_answer_head(bad.as_bytes()),
                Err(AnswerError::BadContentLength),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_answer_head(b"SMTP/1.1 200 OK\r\n\r\n"),
            Err(AnswerError::Head(_))
        ));
        assert_eq!(
            parse_answer_head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            Err(AnswerError::SwitchingProtocols)
        );
        let many: String = (0..=MAX_HEADERS).map(|n| format!("x-{n}: v\r\n")).collect();
        assert_eq!(
            parse_answer_head(format!("HTTP/1.1 200 OK\r\n{many}\r\n").as_bytes()),
            Err(AnswerError::HeadTooLong)
        );
        let long = vec![b'a'; MAX_HEAD_BYTES + 1];
        let mut input = b"HTTP/1.1 200 OK\r\nx: ".to_vec();
        input.extend_from_slice(&long);
        assert_eq!(parse_answer_head(&input), Err(AnswerError::HeadTooLong));
    }

    #[test]
    fn bodies_are_read_in_any_pieces_and_what_follows_them_is_left() {
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                body(Framing::Length(5), b"helloNEXT", step).unwrap(),
                (b"hello".to_vec(), 4),
                "step {step}"
            );
            let chunked = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: y\r\n\r\nNEXT";
            assert_eq!(
                body(Framing::Chunked, chunked, step).unwrap(),
                (b"hello world".to_vec(), 4),
                "step {step}"
            );
            assert_eq!(
                body(Framing::Chunked, b"00A\r\n0123456789\r\n0\r\n\r\n", step).unwrap(),
                (b"0123456789".to_vec(), 0)
            );
            assert_eq!(
                body(Framing::Chunked, b"3\nabc\r\n0\n\n", step).unwrap(),
                (b"abc".to_vec(), 0),
                "bare LFs ending lines, step {step}"
            );
            assert_eq!(
                body(Framing::UntilClose, b"all of it", step).unwrap(),
                (b"all of it".to_vec(), 0)
            );
        }
        assert_eq!(body(Framing::Empty, b"NEXT", 1).unwrap(), (Vec::new(), 4));
    }

    #[test]
    fn broken_or_cut_bodies_are_errors() {
        assert_eq!(
            body(Framing::Length(5), b"hel", 10),
            Err(AnswerError::Truncated)
        );
        assert_eq!(
            body(Framing::Chunked, b"5\r\nhel", 10),
            Err(AnswerError::Truncated)
        );
        assert_eq!(
            body(Framing::Chunked, b"5\r\nhelloXX0\r\n\r\n", 10),
            Err(AnswerError::BadChunk("no CRLF after a chunk's data"))
        );
        assert_eq!(
            body(Framing::Chunked, b"zz\r\n", 10),
            Err(AnswerError::BadChunk("no chunk size"))
        );
        assert_eq!(
            body(Framing::Chunked, b"5 x\r\n", 10),
            Err(AnswerError::BadChunk("bad chunk size"))
        );
        assert_eq!(
            body(Framing::Chunked, b"1000000000000000\r\n", 10),
            Err(AnswerError::BadChunk("chunk size too large"))
        );
        let long_line = vec![b'1'; MAX_CHUNK_LINE + 2];
        assert_eq!(
            body(Framing::Chunked, &long_line, 100),
            Err(AnswerError::BadChunk("chunk-size line too long"))
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b'x', MAX_TRAILERS + 1));
        assert_eq!(
            body(Framing::Chunked, &trailers, 4096),
            Err(AnswerError::BadChunk("trailer section too long"))
        );
    }
}
