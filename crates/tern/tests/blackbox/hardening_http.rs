//! Hardening of the HTTP edge (issue 10, items 3, 4, 8 and 12): XML bodies bounded before they
//! cost memory, foreign `TERN_*` environment variables, JSON errors from the message log, and
//! clients that half-close their connection after sending a request.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::{Gateway, http_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{TERN, setup, without_ids};

/// Longest wait for one raw exchange.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// An HTTP answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

/// Send `request` on a fresh loopback connection, shut the write side down (`SHUT_WR`), and read
/// the answer until the server closes. Fails the test after [`EXCHANGE_LIMIT`].
async fn half_closed(base_url: &str, request: Vec<u8>) -> RawAnswer {
    let address = base_url.strip_prefix("http://").expect("http base url");
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(&request).await.expect("write the request");
        stream.shutdown().await.expect("shut the write side down");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answer
    };
    let answer = tokio::time::timeout(EXCHANGE_LIMIT, exchange)
        .await
        .expect("no answer within the limit");
    let text = String::from_utf8(answer).expect("utf-8 answer");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    RawAnswer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// A POST request with a body, as raw bytes.
fn post(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

// ---------------------------------------------------------------------------------------------
// Item 12: half-closed connections.

#[tokio::test]
async fn half_closed_clients_get_their_answer_and_only_answered_messages_are_stored() {
    let setup = setup(None, &[], false).await;
    let mut clients = tokio::task::JoinSet::new();
    for index in 0..40 {
        let body = setup.request(&format!(
            r#"[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"half"}},"reference":"hc{index}"}}]"#
        ));
        let request = post("/v1.0/message", "application/json", body.as_bytes());
        let base_url = setup.gateway.base_url.clone();
        clients.spawn(async move { (index, half_closed(&base_url, request).await) });
    }
    let mut answered = Vec::new();
    while let Some(joined) = clients.join_next().await {
        let (index, answer) = joined.expect("client task");
        assert_eq!(answer.status, 200, "request {index}: {answer:?}");
        let body: Value = serde_json::from_str(&answer.body).expect("JSON answer");
        assert_eq!(
            without_ids(body),
            json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [{
                "to": "0031612345678", "status": "Accepted", "reference": format!("hc{index}"),
                "parts": 1, "messageDetails": null, "messageErrorCode": 0}]}),
            "request {index}"
        );
        answered.push(format!("hc{index}"));
    }
    answered.sort();
    let log = setup.log("?limit=1000").await;
    let mut stored: Vec<String> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reference"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    assert_eq!(
        stored, answered,
        "the log holds exactly the answered messages"
    );

    // The XML and GET interfaces answer a half-closed client too.
    let xml = format!(
        "<MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{}</PRODUCTTOKEN></AUTHENTICATION><MSG><FROM>Tern</FROM><TO>0031612345678</TO><BODY>half xml</BODY><REFERENCE>hcxml</REFERENCE></MSG></MESSAGES>",
        setup.token
    );
    let answer = half_closed(
        &setup.gateway.base_url,
        post("/gateway.ashx", "text/xml", xml.as_bytes()),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, ""),
        "{answer:?}"
    );
    let get = format!(
        "GET /gateway.ashx?producttoken={}&body=half+get&to=0031612345678&from=Tern&reference=hcget HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        setup.token
    );
    let answer = half_closed(&setup.gateway.base_url, get.into_bytes()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, ""),
        "{answer:?}"
    );
    for reference in ["hcxml", "hcget"] {
        let log = setup.log(&format!("?reference={reference}")).await;
        assert_eq!(log["messages"].as_array().unwrap().len(), 1, "{reference}");
    }
}

#[tokio::test]
async fn half_closed_client_with_an_over_limit_body_gets_the_413() {
    let setup = setup(None, &[], false).await;
    let body = vec![b' '; 11 * 1024 * 1024];
    for attempt in 0..3 {
        let answer = half_closed(
            &setup.gateway.base_url,
            post("/v1.0/message", "application/json", &body),
        )
        .await;
        assert_eq!(answer.status, 413, "attempt {attempt}: {answer:?}");
        assert!(answer.head.contains("content-type: application/json"));
        assert_eq!(
            serde_json::from_str::<Value>(&answer.body).unwrap(),
            json!({"details": "Request body too large: the limit is 10485760 bytes",
                   "errorCode": 202, "messages": []}),
            "attempt {attempt}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Item 8: every error of the message log is JSON.

async fn log_get(setup: &crate::Setup, query: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut request = setup
        .client
        .get(setup.gateway.url(&format!("/v1.0/messages{query}")));
    if let Some(token) = token {
        request = request.header("X-CM-PRODUCTTOKEN", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{query}: not JSON ({status}): {text:?}"));
    (status, content_type, body)
}

#[tokio::test]
async fn message_log_errors_are_json() {
    let setup = setup(None, &[], false).await;
    let error = |details: &str| json!({"details": details, "errorCode": 202, "messages": []});
    for (query, details) in [
        ("?limit=abc", "limit must be between 1 and 1000"),
        ("?limit=-1", "limit must be between 1 and 1000"),
        (
            "?limit=99999999999999999999999",
            "limit must be between 1 and 1000",
        ),
        ("?limit=5&limit=6", "limit is given more than once"),
        ("?status=sent&status=read", "status is given more than once"),
    ] {
        let (status, content_type, body) = log_get(&setup, query, Some(&setup.token)).await;
        assert_eq!((status, body), (400, error(details)), "{query}");
        assert_eq!(content_type, "application/json", "{query}");
    }
    // An empty limit is the default, as an empty filter is no filter.
    let (status, _, body) = log_get(&setup, "?limit=", Some(&setup.token)).await;
    assert_eq!((status, body), (200, json!({"messages": [], "next": null})));
    // Authentication is judged first, as for the other filters.
    let (status, _, body) = log_get(&setup, "?limit=abc", None).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"details": "Invalid product token.", "errorCode": 103, "messages": []})
        )
    );
    // A method other than GET.
    let response = setup
        .client
        .post(setup.gateway.url("/v1.0/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(
        serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap(),
        error("Use HTTP GET to read the message log")
    );
}

// ---------------------------------------------------------------------------------------------
// Item 3: XML bounded before it costs memory.

async fn post_text(setup: &crate::Setup, path: &str, body: Vec<u8>) -> (u16, String) {
    let response = setup
        .client
        .post(setup.gateway.url(path))
        .header("content-type", "text/xml")
        .body(body)
        .timeout(EXCHANGE_LIMIT)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A 4 MB document of empty elements (about a million), with `head` after the root's start tag.
fn four_megabytes_of_elements(root: &str, head: &str) -> Vec<u8> {
    let mut xml = format!("<{root}>{head}");
    xml.push_str(&"<X/>".repeat(990_000));
    xml.push_str(&format!("</{root}>"));
    xml.into_bytes()
}

#[tokio::test]
async fn xml_over_the_interface_bounds_is_refused_with_the_error_line() {
    let setup = setup(None, &[], false).await;
    let auth = format!(
        "<AUTHENTICATION><PRODUCTTOKEN>{}</PRODUCTTOKEN></AUTHENTICATION>",
        setup.token
    );
    let msg = |body: &str| {
        format!("<MSG><FROM>Tern</FROM><TO>0031612345678</TO><BODY>{body}</BODY></MSG>")
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "4 MB of elements, authenticated",
            four_megabytes_of_elements("MESSAGES", &auth),
            "Error: ERROR Invalid XML: the XML has more than 120000 elements",
        ),
        (
            "4 MB of elements, no token",
            four_megabytes_of_elements("MESSAGES", ""),
            "Error: ERROR Invalid XML: the XML has more than 120000 elements",
        ),
        (
            "a text over 128 KiB",
            format!("<MESSAGES>{auth}{}</MESSAGES>", msg(&"a".repeat(200_000))).into_bytes(),
            "Error: ERROR Invalid XML: an element's text is longer than 131072 bytes",
        ),
        (
            "an attribute value over 1 KiB",
            format!(
                r#"<MESSAGES>{auth}<MSG><FROM>Tern</FROM><TO>0031612345678</TO><BODY TYPE="{}">x</BODY></MSG></MESSAGES>"#,
                "A".repeat(2000)
            )
            .into_bytes(),
            "Error: ERROR Invalid XML: an attribute value is longer than 1024 bytes",
        ),
        (
            "more than 4000 attributes",
            format!(
                "<MESSAGES>{auth}{}</MESSAGES>",
                r#"<X a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8"/>"#.repeat(600)
            )
            .into_bytes(),
            "Error: ERROR Invalid XML: the XML has more than 4000 attributes",
        ),
    ];
    for (case, body, line) in cases {
        // The gateway stays responsive while it reads a hostile body.
        let health = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let started = std::time::Instant::now();
            let response = http_client()
                .get(setup.gateway.url("/health"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .expect("health answers while a hostile body is read");
            assert_eq!(response.status(), 200);
            started.elapsed()
        };
        let ((status, text), _health_took) =
            tokio::join!(post_text(&setup, "/gateway.ashx", body), health);
        assert_eq!((status, text.as_str()), (200, line), "{case}");
    }
    // And still takes messages.
    let (status, text) = post_text(
        &setup,
        "/gateway.ashx",
        format!("<MESSAGES>{auth}{}</MESSAGES>", msg("still here")).into_bytes(),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, ""));
    let log = setup.log("").await;
    assert_eq!(log["messages"].as_array().unwrap().len(), 1, "{log}");

    // The Conversion API's XML form has the same bounds.
    let (status, text) = post_text(
        &setup,
        "/v1.0/conversion",
        four_megabytes_of_elements(
            "Conversion",
            &format!("<ProductToken>{}</ProductToken>", setup.token),
        ),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "Invalid XML: the XML has more than 120000 elements")
    );
}

// ---------------------------------------------------------------------------------------------
// Item 4: foreign TERN_* environment variables.

/// `tern serve` on a fresh data directory with only the given `TERN_*` variables set, stderr
/// captured in a file.
fn serve_command(
    dir: &std::path::Path,
    variables: &[(&str, &str)],
    config: Option<&str>,
) -> (Command, std::path::PathBuf) {
    let data_dir = dir.join("data");
    let stderr_path = dir.join("stderr.txt");
    let mut command = Command::new(TERN);
    command.arg("serve").arg("--data-dir").arg(&data_dir).args([
        "--http-addr",
        "127.0.0.1:0",
        "--smpp-addr",
        "off",
    ]);
    for (name, _) in std::env::vars() {
        if name.starts_with("TERN_") {
            command.env_remove(name);
        }
    }
    command.env("TERN_LOG", "warn");
    command.envs(variables.iter().copied());
    if let Some(toml) = config {
        let path = dir.join("tern.toml");
        std::fs::write(&path, toml).unwrap();
        command.arg("--config").arg(path);
    }
    command.stderr(std::fs::File::create(&stderr_path).unwrap());
    (command, stderr_path)
}

/// Run a command that must exit by itself; its exit status (fails after 30 s).
fn run_to_exit(mut command: Command) -> ExitStatus {
    let mut child = command.stdout(Stdio::null()).spawn().expect("spawn tern");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("tern did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: &std::path::Path) -> String {
    let mut text = String::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test]
async fn foreign_tern_variables_get_one_warning_and_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (command, stderr_path) = serve_command(
        dir.path(),
        &[
            // What Kubernetes injects for a Service named `tern`.
            ("TERN_PORT", "tcp://10.96.0.12:8080"),
            ("TERN_PORT_8080_TCP", "tcp://10.96.0.12:8080"),
            ("TERN_SERVICE_HOST", "10.96.0.12"),
            // An unknown key inside a known section.
            ("TERN_STATUS_REPORTS__RETRIES", "3"),
            // Known variables, flat and nested, keep working.
            ("TERN_MAX_BODY_BYTES", "2000"),
            ("TERN_STATUS_REPORTS__TIMEOUT_MS", "2500"),
        ],
        None,
    );
    let gateway = Gateway::spawn(command, &dir.path().join("data"));
    let stderr = read(&stderr_path);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("TERN_")).collect();
    assert_eq!(warnings.len(), 1, "one warning line: {stderr}");
    assert!(
        warnings[0].ends_with(
            "ignoring unknown environment variables: TERN_PORT, TERN_PORT_8080_TCP, \
             TERN_SERVICE_HOST, TERN_STATUS_REPORTS__RETRIES"
        ),
        "{stderr}"
    );
    assert!(warnings[0].contains("WARN"), "{stderr}");
    // TERN_MAX_BODY_BYTES=2000 is in force.
    let response = http_client()
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(vec![b' '; 3000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(gateway.stop().success());

    // A known nested variable is read: a bad value stops the start.
    let dir = tempfile::tempdir().unwrap();
    let (command, stderr_path) = serve_command(
        dir.path(),
        &[
            ("TERN_SERVICE_HOST", "10.96.0.12"),
            ("TERN_STATUS_REPORTS__TIMEOUT_MS", "soon"),
        ],
        None,
    );
    assert!(!run_to_exit(command).success());
    let stderr = read(&stderr_path);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(
        stderr.contains("\"STATUS_REPORTS.TIMEOUT_MS\" in `TERN_` environment"),
        "{stderr}"
    );

    // An unknown key in a configuration file stays an error.
    let dir = tempfile::tempdir().unwrap();
    let (command, stderr_path) = serve_command(
        dir.path(),
        &[("TERN_SERVICE_HOST", "10.96.0.12")],
        Some("max_body_bytes = 5000\nport = 8080\n"),
    );
    assert!(!run_to_exit(command).success());
    let stderr = read(&stderr_path);
    assert!(stderr.contains("unknown field: found `port`"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let (command, stderr_path) =
        serve_command(dir.path(), &[], Some("[status_reports]\nretries = 3\n"));
    assert!(!run_to_exit(command).success());
    let stderr = read(&stderr_path);
    assert!(
        stderr.contains("unknown field: found `retries`"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Clients that go quiet: `request_timeout_secs`.

/// What `stream` receives until the server closes it (fails the test past [`EXCHANGE_LIMIT`]),
/// and how long that took.
async fn until_closed(mut stream: TcpStream) -> (String, Duration) {
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(EXCHANGE_LIMIT, stream.read_to_end(&mut answer))
        .await
        .expect("the gateway kept the connection open")
        .expect("read");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn clients_that_go_quiet_are_let_go_after_the_request_timeout() {
    let setup = setup(Some("request_timeout_secs = 1\n"), &[], false).await;
    let address = setup.gateway.base_url.strip_prefix("http://").unwrap();
    // Half a request head, then nothing: closed without an answer.
    let mut half_head = TcpStream::connect(address).await.unwrap();
    half_head
        .write_all(b"POST /v1.0/message HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // A head and half the body it announces, then nothing: 408.
    let mut half_body = TcpStream::connect(address).await.unwrap();
    let mut request = post("/v1.0/message", "application/json", &[b'{'; 100]);
    request.truncate(request.len() - 90);
    half_body.write_all(&request).await.unwrap();
    // A request answered, then an idle keep-alive connection: closed after the timeout.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let ((head_answer, head_took), (body_answer, body_took), (idle_answer, idle_took)) = tokio::join!(
        until_closed(half_head),
        until_closed(half_body),
        until_closed(idle)
    );
    assert_eq!(head_answer, "");
    assert!(
        body_answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{body_answer}"
    );
    assert!(
        idle_answer.starts_with("HTTP/1.1 200 OK\r\n"),
        "{idle_answer}"
    );
    for took in [head_took, body_took, idle_took] {
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }
    // A request in time is served as ever.
    let (status, body) = setup
        .post_json(&format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}}}}]}}}}"#,
            setup.token
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["status"], "Accepted", "{body}");
}
