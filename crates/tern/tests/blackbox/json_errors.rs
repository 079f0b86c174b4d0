//! `POST /v1.0/message`, one test per row family of the spec's "JSON POST responses" and "JSON POST
//! Error codes" tables, plus the tolerance rules real clients rely on (case-insensitive keys,
//! unknown fields, explicit nulls, `+`/`00` numbers), part counting, the size limits, and what the
//! message log holds after a partially rejected request.
//!
//! Rows not tested here:
//! - `500 "Unknown Error"` (errorCode 999): answered only when the store itself fails (account
//!   lookup or commit) or a handler panics; no request causes that, so `faults.rs` makes the
//!   store's writes fail under a file-size limit and tests the row there.
//! - `400 "Message is unroutable."` as a *request* error: Tern reports unroutable messages per
//!   message (305, `Message is unroutable.`), and a request whose messages are all unroutable is
//!   `400` / `201` like any other fully rejected request (see `code_305_unroutable_channels`).
//! - 401-403 (spam filtered, blacklisted, rejected) are delivery outcomes, not submission errors.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::{Setup, setup, without_ids};

/// The default recipient.
const TO: &str = "0031612345678";
/// Marks a field `msg` removes from the base message.
const ABSENT: &str = "<absent>";

/// A valid SMS `msg` object.
fn base() -> Value {
    json!({"from": "Tern", "to": [{"number": TO}], "body": {"content": "Hello"}})
}

/// [`base`] with `fields` set over it; a field set to [`ABSENT`] is removed.
fn msg(fields: Value) -> Value {
    let mut message = base();
    let object = message.as_object_mut().unwrap();
    for (key, value) in fields.as_object().expect("fields are an object") {
        if value == ABSENT {
            object.remove(key);
        } else {
            object.insert(key.clone(), value.clone());
        }
    }
    message
}

/// A per-recipient `Accepted` entry (without `messageId`).
fn accepted(to: &str, reference: Option<&str>, parts: u32) -> Value {
    json!({
        "to": to,
        "status": "Accepted",
        "reference": reference,
        "parts": parts,
        "messageDetails": null,
        "messageErrorCode": 0,
    })
}

/// A per-recipient `Rejected` entry.
fn rejected(to: &str, reference: Option<&str>, code: u32, details: &str) -> Value {
    json!({
        "to": to,
        "status": "Rejected",
        "reference": reference,
        "parts": 0,
        "messageDetails": details,
        "messageErrorCode": code,
    })
}

/// A request-level error body.
fn request_error(code: u32, details: &str) -> Value {
    json!({"details": details, "errorCode": code, "messages": []})
}

/// POST these `msg` objects with the account's token.
async fn send(setup: &Setup, msgs: &[Value]) -> (u16, Value) {
    setup
        .post_json(&setup.request(&Value::Array(msgs.to_vec()).to_string()))
        .await
}

/// One `msg` that must be accepted for its one recipient `TO`.
async fn assert_accepted(setup: &Setup, case: &str, message: Value, parts: u32) {
    let reference = message["reference"].as_str().map(str::to_owned);
    let to = message["to"][0]["number"].as_str().unwrap_or(TO).to_owned();
    let (status, body) = send(setup, &[message]).await;
    assert_eq!(status, 200, "{case}: status (body {body})");
    assert_eq!(
        without_ids(body),
        json!({
            "details": "Created 1 message(s)",
            "errorCode": 0,
            "messages": [accepted(&to, reference.as_deref(), parts)],
        }),
        "{case}"
    );
}

/// One `msg` whose recipients are all rejected with these entries.
async fn assert_rejected(setup: &Setup, case: &str, message: Value, expected: Vec<Value>) {
    let (status, body) = send(setup, &[message]).await;
    assert_eq!(status, 400, "{case}: status (body {body})");
    assert_eq!(
        body,
        json!({"details": "Created 0 message(s)", "errorCode": 201, "messages": expected}),
        "{case}"
    );
}

/// One `msg` for recipient `TO` rejected with `code` and `details` (its reference echoed).
async fn assert_rejected_one(setup: &Setup, case: &str, message: Value, code: u32, details: &str) {
    let reference = message["reference"].as_str().map(str::to_owned);
    assert_rejected(
        setup,
        case,
        message,
        vec![rejected(TO, reference.as_deref(), code, details)],
    )
    .await;
}

/// Any method and body to `/v1.0/message`; status, headers and parsed JSON body.
async fn send_raw(
    setup: &Setup,
    method: Method,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut request = setup
        .client
        .request(method, setup.gateway.url("/v1.0/message"))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("response is not JSON ({status}): {text}"));
    (status, headers, value)
}

fn assert_json_content_type(headers: &HeaderMap, case: &str) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{case}: content-type is {content_type:?}"
    );
}

/// The logged messages, by reference.
async fn log_by_reference(setup: &Setup) -> HashMap<String, Value> {
    let log = setup.log("?limit=1000").await;
    log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| Some((m["reference"].as_str()?.to_owned(), m.clone())))
        .collect()
}

fn timestamp(value: &Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a time: {value}: {e}"))
}

/// POST `body` to `/v1.0/message` over a plain TCP connection with `Transfer-Encoding: chunked`
/// (no `Content-Length`, as streaming clients send it), in chunks of `chunk` bytes; the status
/// and the parsed JSON body.
async fn post_chunked(setup: &Setup, body: &[u8], chunk: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = setup.gateway.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!(
        "POST /v1.0/message HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for piece in body.chunks(chunk) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response));
    read.await
        .expect("the gateway answers within 20 s")
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text}"));
    let (head, payload) = text.split_once("\r\n\r\n").unwrap();
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    let value = serde_json::from_str(&payload)
        .unwrap_or_else(|_| panic!("response is not JSON ({status}): {payload}"));
    (status, value)
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = text.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
}

// ---- 0 ----------------------------------------------------------------------------------

#[tokio::test]
async fn code_0_full_success_creates_every_recipient() {
    let setup = setup(None, &[], false).await;
    let body = setup.request(
        &json!([
            msg(json!({"to": [{"number": TO}, {"number": "0031612345679"}], "reference": "r1"})),
            msg(json!({"to": [{"number": "0031612345680"}], "allowedChannels": ["WhatsApp"]})),
        ])
        .to_string(),
    );
    let (status, headers, response) = send_raw(
        &setup,
        Method::POST,
        body.into_bytes(),
        Some("application/json"),
    )
    .await;
    assert_eq!(status, 200, "body {response}");
    assert_json_content_type(&headers, "full success");
    let ids: HashSet<String> = response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "every accepted message has its own id");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 3 message(s)",
            "errorCode": 0,
            "messages": [
                accepted(TO, Some("r1"), 1),
                accepted("0031612345679", Some("r1"), 1),
                accepted("0031612345680", None, 1),
            ],
        })
    );
}

// ---- 101 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_101_guid_without_an_account() {
    let setup = setup(None, &[], false).await;
    let valid_msgs = json!([base()]).to_string();
    for (case, token, msgs) in [
        (
            "all-zero GUID",
            "00000000-0000-0000-0000-000000000000",
            valid_msgs.as_str(),
        ),
        (
            "random GUID",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            &valid_msgs,
        ),
        (
            "braced GUID",
            "{6F9619FF-8B86-D011-B42D-00C04FC964FF}",
            &valid_msgs,
        ),
        (
            "32 hex digits",
            "6f9619ff8b86d011b42d00c04fc964ff",
            &valid_msgs,
        ),
        // Authentication is judged before the msg list.
        (
            "unknown GUID and msg not an array",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "{}",
        ),
    ] {
        let body = format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":{msgs}}}}}"#
        );
        let (status, response) = setup.post_json(&body).await;
        assert_eq!(status, 400, "{case}: body {response}");
        assert_eq!(
            response,
            request_error(101, "No account found for the given authentication"),
            "{case}"
        );
    }
}

// ---- 102 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_102_insufficient_balance_refuses_the_whole_request() {
    let setup = setup(
        Some("price_per_part = \"0.01\"\n"),
        &["--balance", "0.01"],
        false,
    )
    .await;
    let insufficient = request_error(102, "Insufficient balance.");
    let two_parts = "x".repeat(161);

    // Refused whole: nothing is accepted, nothing is debited.
    for (case, message) in [
        (
            "two 1-part recipients (0.02) on 0.01",
            msg(json!({"to": [{"number": TO}, {"number": "0031612345679"}]})),
        ),
        (
            "one 2-part message (0.02) on 0.01",
            msg(json!({"body": {"content": two_parts}})),
        ),
    ] {
        let (status, response) = send(&setup, &[message]).await;
        assert_eq!(status, 400, "{case}: body {response}");
        assert_eq!(response, insufficient, "{case}");
    }

    // The balance is still 0.01: one 1-part message is accepted...
    let (status, response) = send(&setup, &[msg(json!({"reference": "paid"}))]).await;
    assert_eq!(status, 200, "first 1-part message: body {response}");
    let paid_id = response["messages"][0]["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [accepted(TO, Some("paid"), 1)]}),
    );

    // ...and then the account is empty.
    let (status, response) = send(&setup, &[msg(json!({"reference": "unpaid"}))]).await;
    assert_eq!(status, 400, "second 1-part message: body {response}");
    assert_eq!(response, insufficient, "second 1-part message");

    let log = setup.log("").await;
    let logged: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(
        logged,
        [paid_id.as_str()],
        "only the paid message is logged: {log}"
    );
}

#[tokio::test]
async fn code_102_concurrent_requests_never_overdraw_the_balance() {
    let setup = setup(
        Some("price_per_part = \"0.01\"\n"),
        &["--balance", "0.05"],
        false,
    )
    .await;
    let body = setup.request(&json!([base()]).to_string());
    let url = setup.gateway.url("/v1.0/message");
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, url, body) = (setup.client.clone(), url.clone(), body.clone());
        requests.spawn(async move {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
            (status, value)
        });
    }
    let mut paid = 0;
    while let Some(result) = requests.join_next().await {
        let (status, response) = result.unwrap();
        if status == 200 {
            assert_eq!(response["errorCode"], 0, "accepted: {response}");
            paid += 1;
        } else {
            assert_eq!(
                (status, &response),
                (400, &request_error(102, "Insufficient balance.")),
                "refused"
            );
        }
    }
    assert_eq!(paid, 5, "0.05 pays for exactly five 1-part messages");
    let log = setup.log("").await;
    assert_eq!(
        log["messages"].as_array().unwrap().len(),
        5,
        "exactly the paid messages are logged: {log}"
    );
}

// ---- 103 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_103_missing_or_malformed_product_token() {
    let setup = setup(None, &[], false).await;
    let msgs = json!([base()]).to_string();
    let with_auth =
        |auth: &str| format!(r#"{{"messages":{{"authentication":{auth},"msg":{msgs}}}}}"#);
    let cases = [
        (
            "no authentication",
            format!(r#"{{"messages":{{"msg":{msgs}}}}}"#),
        ),
        ("no messages object", "{}".to_owned()),
        ("authentication without producttoken", with_auth("{}")),
        ("authentication not an object", with_auth(r#""token""#)),
        ("producttoken null", with_auth(r#"{"producttoken":null}"#)),
        ("producttoken empty", with_auth(r#"{"producttoken":""}"#)),
        (
            "spec placeholder",
            with_auth(r#"{"producttoken":"your product token"}"#),
        ),
        ("a number", with_auth(r#"{"producttoken":12345}"#)),
        ("an object", with_auth(r#"{"producttoken":{"value":"x"}}"#)),
        (
            "GUID one digit short",
            with_auth(r#"{"producttoken":"00000000-0000-0000-0000-00000000000"}"#),
        ),
        (
            "GUID with non-hex digits",
            with_auth(r#"{"producttoken":"zzzzzzzz-0000-0000-0000-000000000000"}"#),
        ),
        (
            "token missing and no msg (token is judged first)",
            r#"{"messages":{}}"#.to_owned(),
        ),
    ];
    for (case, body) in cases {
        let (status, response) = setup.post_json(&body).await;
        assert_eq!(status, 400, "{case}: body {response}");
        assert_eq!(
            response,
            request_error(103, "Invalid product token."),
            "{case}"
        );
    }
}

// ---- 201 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_201_partial_is_200_and_all_rejected_is_400() {
    let setup = setup(None, &[], false).await;
    let (status, response) = send(
        &setup,
        &[
            msg(json!({"to": [{"number": TO}, {"number": "abc"}], "reference": "mixed"})),
            msg(json!({"from": ABSENT, "to": [{"number": "0031612345679"}]})),
        ],
    )
    .await;
    assert_eq!(status, 200, "partial: body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 1 message(s)",
            "errorCode": 201,
            "messages": [
                accepted(TO, Some("mixed"), 1),
                rejected("abc", Some("mixed"), 303, "Gsm 'abc' is not a number."),
                rejected("0031612345679", None, 301, "No FROM field found in a MSG object."),
            ],
        }),
        "partial"
    );

    let (status, response) = send(
        &setup,
        &[
            msg(json!({"to": [{"number": "abc"}]})),
            msg(json!({"body": {"content": ""}})),
        ],
    )
    .await;
    assert_eq!(status, 400, "all rejected: body {response}");
    assert_eq!(
        response,
        json!({
            "details": "Created 0 message(s)",
            "errorCode": 201,
            "messages": [
                rejected("abc", None, 303, "Gsm 'abc' is not a number."),
                rejected(TO, None, 304, "A body without content was found"),
            ],
        }),
        "all rejected"
    );
}

// ---- 202 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_202_invalid_json() {
    let setup = setup(None, &[], false).await;
    let valid = setup.request(&json!([base()]).to_string());
    let truncated = valid[..valid.len() / 2].to_owned();
    let trailing_comma = valid.replacen("]}}", "],}}", 1);
    let single_quotes = valid.replace('"', "'");
    let with_comment = format!("// a comment\n{valid}");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", Vec::new()),
        ("whitespace only", b"   \n".to_vec()),
        ("lone brace", b"{".to_vec()),
        ("plain text", b"not json".to_vec()),
        ("form encoded", b"messages=hello&to=0031612345678".to_vec()),
        ("XML", b"<MESSAGES><MSG/></MESSAGES>".to_vec()),
        ("top level array", b"[]".to_vec()),
        ("top level string", br#""messages""#.to_vec()),
        ("top level null", b"null".to_vec()),
        ("top level number", b"42".to_vec()),
        ("truncated request", truncated.into_bytes()),
        ("trailing comma", trailing_comma.into_bytes()),
        ("single quotes", single_quotes.into_bytes()),
        ("comment", with_comment.into_bytes()),
        ("two documents", format!("{valid}{valid}").into_bytes()),
        ("invalid UTF-8", b"{\"messages\":\"\xff\xfe\"}".to_vec()),
    ];
    for (case, body) in cases {
        let (status, headers, response) =
            send_raw(&setup, Method::POST, body, Some("application/json")).await;
        assert_eq!(status, 400, "{case}: body {response}");
        assert_json_content_type(&headers, case);
        assert_eq!(response, request_error(202, "Invalid JSON"), "{case}");
    }
    assert!(
        setup.log("").await["messages"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn code_202_body_over_the_limit_is_413() {
    let setup = setup(Some("max_body_bytes = 1000\n"), &[], false).await;
    let valid = setup.request(&json!([base()]).to_string());
    assert!(valid.len() < 1000);
    // Whitespace after the document keeps it valid JSON.
    let padded = |size: usize| format!("{valid}{}", " ".repeat(size - valid.len()));

    let (status, response) = setup.post_json(&padded(1000)).await;
    assert_eq!(status, 200, "exactly 1000 bytes: body {response}");
    assert_eq!(response["errorCode"], 0, "exactly 1000 bytes: {response}");

    let too_large = request_error(202, "Request body too large: the limit is 1000 bytes");
    let long_content =
        setup.request(&json!([msg(json!({"body": {"content": "x".repeat(2500)}}))]).to_string());
    for (case, body) in [
        ("1001 bytes", padded(1001)),
        ("3000 bytes", padded(3000)),
        ("a long message", long_content),
        ("over the limit and not JSON", "x".repeat(2000)),
    ] {
        let (status, headers, response) = send_raw(
            &setup,
            Method::POST,
            body.into_bytes(),
            Some("application/json"),
        )
        .await;
        assert_eq!(status, 413, "{case}: body {response}");
        assert_json_content_type(&headers, case);
        assert_eq!(response, too_large, "{case}");
    }
    // Without Content-Length (chunked), the limit counts the bytes that arrive.
    let (status, response) = post_chunked(&setup, padded(1000).as_bytes(), 300).await;
    assert_eq!(status, 200, "chunked, 1000 bytes: body {response}");
    assert_eq!(response["errorCode"], 0, "chunked, 1000 bytes: {response}");
    let (status, response) = post_chunked(&setup, padded(3000).as_bytes(), 300).await;
    assert_eq!(status, 413, "chunked, 3000 bytes: body {response}");
    assert_eq!(response, too_large, "chunked, 3000 bytes");

    let log = setup.log("").await;
    assert_eq!(
        log["messages"].as_array().unwrap().len(),
        2,
        "only the two 1000-byte requests created a message: {log}"
    );
}

#[tokio::test]
async fn code_202_body_over_the_default_limit_is_413_not_a_reset() {
    // The real default limit (10 MiB), no configuration.
    let setup = setup(None, &[], false).await;
    let limit = 10 * 1024 * 1024;
    let valid = setup.request(&json!([base()]).to_string());
    let padded = |size: usize| format!("{valid}{}", " ".repeat(size - valid.len()));
    let too_large = request_error(202, "Request body too large: the limit is 10485760 bytes");

    // Just over, and well over: the client can write its whole body and read the answer.
    for (case, size) in [("limit + 1", limit + 1), ("3 × limit", 3 * limit)] {
        let (status, headers, response) = send_raw(
            &setup,
            Method::POST,
            padded(size).into_bytes(),
            Some("application/json"),
        )
        .await;
        assert_eq!(status, 413, "{case}: body {response}");
        assert_json_content_type(&headers, case);
        assert_eq!(response, too_large, "{case}");
    }
    let (status, response) = post_chunked(&setup, padded(limit + 1).as_bytes(), 64 * 1024).await;
    assert_eq!(status, 413, "chunked: body {response}");
    assert_eq!(response, too_large, "chunked");

    // Exactly the limit is accepted; only that request stored a message.
    let (status, response) = setup.post_json(&padded(limit)).await;
    assert_eq!(status, 200, "exactly the limit: {response}");
    let log = setup.log("").await;
    assert_eq!(log["messages"].as_array().unwrap().len(), 1, "{log}");
}

// ---- 203 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_203_msg_missing_empty_or_not_an_array() {
    let setup = setup(None, &[], false).await;
    let token = &setup.token;
    let auth = format!(r#""authentication":{{"producttoken":"{token}"}}"#);
    let no_msg = "A MESSAGES object requires at least one MSG object";
    let not_array = "msg object is an invalid type, must be an array";
    for (case, body, details) in [
        (
            "msg absent",
            format!(r#"{{"messages":{{{auth}}}}}"#),
            no_msg,
        ),
        (
            "msg null",
            format!(r#"{{"messages":{{{auth},"msg":null}}}}"#),
            no_msg,
        ),
        (
            "msg empty",
            format!(r#"{{"messages":{{{auth},"msg":[]}}}}"#),
            no_msg,
        ),
        (
            "MSG empty",
            format!(r#"{{"messages":{{{auth},"MSG":[]}}}}"#),
            no_msg,
        ),
        (
            "msg an object",
            format!(r#"{{"messages":{{{auth},"msg":{}}}}}"#, base()),
            not_array,
        ),
        (
            "msg a string",
            format!(r#"{{"messages":{{{auth},"msg":"hello"}}}}"#),
            not_array,
        ),
        (
            "msg a number",
            format!(r#"{{"messages":{{{auth},"msg":1}}}}"#),
            not_array,
        ),
        (
            "Msg an object",
            format!(r#"{{"messages":{{{auth},"Msg":{{}}}}}}"#),
            not_array,
        ),
    ] {
        let (status, response) = setup.post_json(&body).await;
        assert_eq!(status, 400, "{case}: body {response}");
        assert_eq!(response, request_error(203, details), "{case}");
    }
}

// ---- 301 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_301_from() {
    let setup = setup(None, &[], false).await;
    let no_from = "No FROM field found in a MSG object.";
    let invalid_from = "Invalid FROM field: use at most 11 alphanumeric characters or 16 digits.";
    for (case, from, details) in [
        ("from absent", json!(ABSENT), no_from),
        ("from null", json!(null), no_from),
        ("from empty", json!(""), no_from),
        ("from blank", json!("   "), no_from),
        ("12 characters", json!("ABCDEFGHIJKL"), invalid_from),
        ("17 digits", json!("12345678901234567"), invalid_from),
        ("an object", json!({"name": "Tern"}), invalid_from),
    ] {
        assert_rejected_one(&setup, case, msg(json!({"from": from})), 301, details).await;
    }
    // Every recipient of the msg is rejected.
    assert_rejected(
        &setup,
        "from absent, two recipients",
        msg(json!({"from": ABSENT, "to": [{"number": TO}, {"number": "0031612345679"}]})),
        vec![
            rejected(TO, None, 301, no_from),
            rejected("0031612345679", None, 301, no_from),
        ],
    )
    .await;
    for (case, from) in [
        ("11 characters", "ABCDEFGHIJK"),
        ("16 digits", "1234567890123456"),
        ("+ and 16 digits", "+1234567890123456"),
        ("spaces and punctuation", "CM.com Shop"),
    ] {
        assert_accepted(&setup, case, msg(json!({"from": from})), 1).await;
    }
}

// ---- 302 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_302_to() {
    let setup = setup(None, &[], false).await;
    let empty = "Empty mobilenumber field, MT ignored";
    let not_array = "to object is an invalid type, must be an array";
    for (case, to, details) in [
        ("number empty", json!([{"number": ""}]), empty),
        ("number null", json!([{"number": null}]), empty),
        ("recipient without number", json!([{}]), empty),
        ("to empty", json!([]), empty),
        ("to null", json!(null), empty),
        ("to absent", json!(ABSENT), empty),
        ("to an object", json!({"number": TO}), not_array),
        ("to a string", json!(TO), not_array),
    ] {
        assert_rejected(
            &setup,
            case,
            msg(json!({"to": to})),
            vec![rejected("", None, 302, details)],
        )
        .await;
    }
    // A recipient whose number is not text at all: an invalid field (305).
    assert_rejected(
        &setup,
        "number an object",
        msg(json!({"to": [{"number": {"value": TO}}]})),
        vec![rejected("", None, 305, "to.number must be a string")],
    )
    .await;
    // Only the empty recipient is rejected.
    let (status, response) = send(
        &setup,
        &[msg(json!({"to": [{"number": TO}, {"number": ""}]}))],
    )
    .await;
    assert_eq!(status, 200, "one empty of two: body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 1 message(s)",
            "errorCode": 201,
            "messages": [accepted(TO, None, 1), rejected("", None, 302, empty)],
        }),
        "one empty of two"
    );
}

// ---- 303 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_303_not_a_number() {
    let setup = setup(None, &[], false).await;
    for (case, number) in [
        ("spec example", "0044791112345a"),
        ("letters", "abc"),
        ("spaces", "0031 612345678"),
        ("dashes", "+31-612345678"),
        ("double plus", "++31612345678"),
        ("two digits", "12"),
        ("21 digits", "003161234567890123456"),
        ("parentheses", "+31(0)612345678"),
    ] {
        assert_rejected(
            &setup,
            case,
            msg(json!({"to": [{"number": number}], "reference": "r303"})),
            vec![rejected(
                number,
                Some("r303"),
                303,
                &format!("Gsm '{number}' is not a number."),
            )],
        )
        .await;
    }
}

// ---- 304 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_304_body() {
    let setup = setup(None, &[], false).await;
    for (case, body, details) in [
        ("body absent", json!(ABSENT), "No body field was found"),
        ("body null", json!(null), "No body field was found"),
        (
            "body empty object",
            json!({}),
            "A body without content was found",
        ),
        (
            "content empty",
            json!({"content": ""}),
            "A body without content was found",
        ),
        (
            "content null",
            json!({"content": null}),
            "A body without content was found",
        ),
        (
            "body a string",
            json!("Hello"),
            "body must be an object with a content field",
        ),
        (
            "content an object",
            json!({"content": {"text": "Hello"}}),
            "body.content must be a string",
        ),
        (
            "BINARY content not hex",
            json!({"type": "BINARY", "content": "not hex"}),
            "BINARY content must be hexadecimal: an even number of the digits 0-9, A-F (e.g. \"48656C6C6F\")",
        ),
        (
            "BINARY content odd length",
            json!({"type": "binary", "content": "486"}),
            "BINARY content must be hexadecimal: an even number of the digits 0-9, A-F (e.g. \"48656C6C6F\")",
        ),
    ] {
        assert_rejected_one(&setup, case, msg(json!({"body": body})), 304, details).await;
    }
    assert_rejected_one(
        &setup,
        "unknown body type (an invalid field, 305)",
        msg(json!({"body": {"type": "HTML", "content": "Hello"}})),
        305,
        "body.type 'HTML' must be AUTO, TEXT or BINARY",
    )
    .await;
}

// ---- 305 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_305_unroutable_channels() {
    let setup = setup(None, &["--channels", "SMS"], false).await;
    let unroutable = "Message is unroutable.";
    for (case, channels, details) in [
        (
            "a channel the account lacks",
            json!(["WhatsApp"]),
            unroutable.to_owned(),
        ),
        (
            "several the account lacks",
            json!(["Viber", "RCS"]),
            unroutable.to_owned(),
        ),
        (
            "Push the account lacks",
            json!(["Push"]),
            unroutable.to_owned(),
        ),
        (
            "CM's Voice channel",
            json!(["Voice"]),
            unroutable.to_owned(),
        ),
        (
            "CM's Telegram Messenger",
            json!(["Telegram Messenger"]),
            unroutable.to_owned(),
        ),
        (
            "no channel of that name",
            json!(["Carrier Pigeon"]),
            "allowedChannels: unknown channel 'Carrier Pigeon'".to_owned(),
        ),
        (
            "allowedChannels a string",
            json!("SMS"),
            "allowedChannels object is an invalid type, must be an array".to_owned(),
        ),
    ] {
        assert_rejected_one(
            &setup,
            case,
            msg(json!({"allowedChannels": channels})),
            305,
            &details,
        )
        .await;
    }
    for (case, channels, reference) in [
        ("fallback to SMS", json!(["WhatsApp", "SMS"]), "fallback"),
        ("Voice then SMS", json!(["Voice", "SMS"]), "voicesms"),
        ("empty list means SMS", json!([]), "emptylist"),
        ("absent means SMS", json!(ABSENT), "absent"),
    ] {
        assert_accepted(
            &setup,
            case,
            msg(json!({"allowedChannels": channels, "reference": reference})),
            1,
        )
        .await;
    }
    let log = log_by_reference(&setup).await;
    for reference in ["fallback", "voicesms", "emptylist", "absent"] {
        assert_eq!(
            log[reference]["allowedChannels"],
            json!(["SMS"]),
            "{reference}: only the account's channel is kept"
        );
    }
}

#[tokio::test]
async fn code_305_push_needs_an_app_key() {
    let setup = setup(None, &[], false).await;
    let details = "appKey is required for the Push channel";
    for (case, app_key) in [
        ("appKey absent", json!(ABSENT)),
        ("appKey null", json!(null)),
        ("appKey empty", json!("")),
        ("appKey blank", json!("  ")),
    ] {
        assert_rejected_one(
            &setup,
            case,
            msg(json!({"allowedChannels": ["Push"], "appKey": app_key})),
            305,
            details,
        )
        .await;
    }
    assert_accepted(
        &setup,
        "appKey given",
        msg(json!({"allowedChannels": ["Push"], "appKey": "00000000-0000-0000-0000-000000000000"})),
        1,
    )
    .await;
}

#[tokio::test]
async fn code_305_reference_rules() {
    let setup = setup(None, &[], false).await;
    let details = "reference must be 1 to 32 characters: letters, digits, '-' or '_'";
    let too_long = "a".repeat(33);
    for (case, reference) in [
        ("33 characters", too_long.as_str()),
        ("a space", "my ref"),
        ("punctuation", "ref!"),
        ("a dot", "ref.1"),
        ("non-ASCII letter", "réf"),
    ] {
        assert_rejected_one(
            &setup,
            case,
            msg(json!({"reference": reference})),
            305,
            details,
        )
        .await;
    }
    let longest = "a".repeat(32);
    for (case, reference) in [
        ("32 characters", longest.as_str()),
        ("one character", "x"),
        ("letters, digits, dash, underscore", "Ref-2024_01"),
    ] {
        assert_accepted(&setup, case, msg(json!({"reference": reference})), 1).await;
    }
}

#[tokio::test]
async fn code_305_custom_grouping_length() {
    let setup = setup(None, &[], false).await;
    let over = "g".repeat(101);
    for name in ["customGrouping", "customGrouping2", "customGrouping3"] {
        assert_rejected_one(
            &setup,
            &format!("{name} of 101 characters"),
            msg(json!({name: over})),
            305,
            &format!("{name} must be at most 100 characters"),
        )
        .await;
    }
    assert_accepted(
        &setup,
        "100 characters each (counted as characters, not bytes)",
        msg(json!({
            "customGrouping": "g".repeat(100),
            "customGrouping2": "é".repeat(100),
            "customGrouping3": "€".repeat(100),
        })),
        1,
    )
    .await;
}

#[tokio::test]
async fn code_305_validity() {
    let setup = setup(None, &[], false).await;
    for (case, validity) in [
        ("words", "tomorrow"),
        ("hours and minutes combined", "2h30m"),
        ("negative offset", "-2h"),
        ("impossible date", "2017-13-40 11:50"),
        ("seconds unit", "90s"),
        ("zone name", "2017-04-20 11:50:05 PST"),
        // A multi-byte last character once panicked (500 instead of this rejection).
        ("multi-byte unit", "2é"),
        ("multi-byte zone", "2017-04-20 11:50:05€"),
    ] {
        assert_rejected_one(
            &setup,
            case,
            msg(json!({"validity": validity})),
            305,
            &format!(
                "validity '{validity}' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'"
            ),
        )
        .await;
    }

    // Accepted forms, and the expiry each one gives (absolute times in the past are accepted).
    let absolute = [
        (
            "abs-gmt-minutes",
            "2017-04-20 11:50 GMT",
            "2017-04-20T11:50:00Z",
        ),
        ("abs-gmt", "2017-04-20 11:50:05 GMT", "2017-04-20T11:50:05Z"),
        ("abs-plus8", "2017-04-20 11:50:05+8", "2017-04-20T03:50:05Z"),
        (
            "abs-minus7",
            "2017-04-20 11:55:05-07:00",
            "2017-04-20T18:55:05Z",
        ),
        ("abs-cest", "2017-04-20 11:50:05", "2017-04-20T09:50:05Z"),
    ];
    let relative = [
        ("rel-2h", Some("2h"), SignedDuration::from_hours(2)),
        ("rel-30m", Some("30m"), SignedDuration::from_mins(30)),
        ("rel-capped", Some("100h"), SignedDuration::from_hours(72)),
        ("rel-default", None, SignedDuration::from_hours(24)),
    ];
    let mut msgs: Vec<Value> = absolute
        .iter()
        .map(|(reference, validity, _)| msg(json!({"reference": reference, "validity": validity})))
        .collect();
    msgs.extend(relative.iter().map(|(reference, validity, _)| {
        msg(json!({"reference": reference, "validity": validity.map_or(json!(ABSENT), |v| json!(v))}))
    }));
    let (status, response) = send(&setup, &msgs).await;
    assert_eq!(status, 200, "body {response}");
    assert_eq!(
        response["errorCode"], 0,
        "every validity form is accepted: {response}"
    );

    let log = log_by_reference(&setup).await;
    for (reference, validity, until) in absolute {
        assert_eq!(
            timestamp(&log[reference]["validUntil"]),
            until.parse::<Timestamp>().unwrap(),
            "validity {validity:?}"
        );
    }
    for (reference, validity, duration) in relative {
        let logged = &log[reference];
        let span =
            timestamp(&logged["validUntil"]).duration_since(timestamp(&logged["acceptedAt"]));
        assert_eq!(span, duration, "validity {validity:?}: {logged}");
    }
}

#[tokio::test]
async fn code_305_dcs() {
    let setup = setup(None, &[], false).await;
    for (case, dcs, details) in [
        ("256", json!(256), "dcs must be between 0 and 255"),
        ("-1", json!(-1), "dcs must be between 0 and 255"),
        ("text", json!("eight"), "dcs must be an integer"),
        ("fraction", json!(1.5), "dcs must be an integer"),
        ("boolean", json!(true), "dcs must be an integer"),
        ("object", json!({"value": 8}), "dcs must be an integer"),
    ] {
        assert_rejected_one(
            &setup,
            &format!("dcs {case}"),
            msg(json!({"dcs": dcs})),
            305,
            details,
        )
        .await;
    }
    for (case, dcs) in [
        ("0", json!(0)),
        ("8", json!(8)),
        ("\"8\"", json!("8")),
        ("240 (GSM, message class 0)", json!(240)),
    ] {
        assert_accepted(&setup, &format!("dcs {case}"), msg(json!({"dcs": dcs})), 1).await;
    }
    // A dcs that selects 8-bit data makes the content hex, as body.type BINARY does.
    for (case, dcs) in [("4", 4), ("245", 245)] {
        assert_rejected_one(
            &setup,
            &format!("dcs {case} with text content"),
            msg(json!({"dcs": dcs})),
            304,
            "BINARY content must be hexadecimal: an even number of the digits 0-9, A-F (e.g. \"48656C6C6F\")",
        )
        .await;
    }
    assert_accepted(
        &setup,
        "dcs 4 with hex content",
        msg(json!({"dcs": 4, "body": {"content": "48656C6C6F"}})),
        1,
    )
    .await;
    // body.type TEXT means GSM 7-bit whatever dcs says: text content is not read as hex.
    for dcs in [4, 8, 245] {
        assert_accepted(
            &setup,
            &format!("TEXT with dcs {dcs}"),
            msg(json!({"dcs": dcs, "body": {"type": "TEXT", "content": "Hello"}})),
            1,
        )
        .await;
    }
}

#[tokio::test]
async fn code_305_message_part_limits() {
    let setup = setup(None, &[], false).await;
    let gsm = |n: usize| json!({"content": "a".repeat(n)});
    for (case, fields, details) in [
        (
            "161 GSM characters, maximum 1",
            json!({"body": gsm(161), "maximumNumberOfMessageParts": 1}),
            "Message needs 2 parts but maximumNumberOfMessageParts is 1",
        ),
        (
            "307 GSM characters, minimum 1 maximum 2",
            json!({"body": gsm(307), "minimumNumberOfMessageParts": 1, "maximumNumberOfMessageParts": 2}),
            "Message needs 3 parts but maximumNumberOfMessageParts is 2",
        ),
        (
            "9 parts with the default maximum of 8",
            json!({"body": gsm(153 * 8 + 1)}),
            "Message needs 9 parts but maximumNumberOfMessageParts is 8",
        ),
        (
            "minimum above maximum",
            json!({"minimumNumberOfMessageParts": 5, "maximumNumberOfMessageParts": 3}),
            "maximumNumberOfMessageParts (3) is less than minimumNumberOfMessageParts (5)",
        ),
        (
            "maximum 256",
            json!({"maximumNumberOfMessageParts": 256}),
            "maximumNumberOfMessageParts must be between 1 and 255, got 256",
        ),
        (
            "maximum 0",
            json!({"maximumNumberOfMessageParts": 0}),
            "maximumNumberOfMessageParts must be between 1 and 255, got 0",
        ),
        (
            "minimum 0",
            json!({"minimumNumberOfMessageParts": 0}),
            "minimumNumberOfMessageParts must be between 1 and 255, got 0",
        ),
        (
            "minimum 9 without maximum",
            json!({"minimumNumberOfMessageParts": 9}),
            "minimumNumberOfMessageParts (9) is more than the default maximumNumberOfMessageParts (8); send maximumNumberOfMessageParts too",
        ),
        (
            "maximum not a number",
            json!({"maximumNumberOfMessageParts": "eight"}),
            "maximumNumberOfMessageParts must be an integer",
        ),
    ] {
        assert_rejected_one(&setup, case, msg(fields), 305, details).await;
    }
    for (case, fields, parts) in [
        (
            "161 characters, maximum 2",
            json!({"body": gsm(161), "minimumNumberOfMessageParts": 1, "maximumNumberOfMessageParts": 2}),
            2,
        ),
        ("8 parts by default", json!({"body": gsm(153 * 8)}), 8),
        (
            "minimum above the parts needed",
            json!({"minimumNumberOfMessageParts": 3, "maximumNumberOfMessageParts": 3}),
            1,
        ),
        (
            "9 parts, maximum 9 as a string",
            json!({"body": gsm(153 * 8 + 1), "maximumNumberOfMessageParts": "9"}),
            9,
        ),
        (
            "limits do not apply to WhatsApp",
            json!({"body": gsm(2000), "allowedChannels": ["WhatsApp"], "maximumNumberOfMessageParts": 1}),
            1,
        ),
    ] {
        assert_accepted(&setup, case, msg(fields), parts).await;
    }
}

#[tokio::test]
async fn code_305_rich_content_rules() {
    let setup = setup(None, &[], false).await;
    let image =
        json!({"mediaName": "a", "mediaUri": "https://example.com/a.png", "mimeType": "image/png"});
    let open_url = json!({"action": "OpenUrl", "label": "Visit", "url": "https://example.com"});
    let template =
        |whatsapp: Value| json!({"conversation": [{"template": {"whatsapp": whatsapp}}]});
    let suggestion = |s: Value| json!({"conversation": [{"text": "hi"}], "suggestions": [s]});
    let twelve: Vec<Value> = (0..12)
        .map(|i| json!({"action": "Reply", "label": format!("r{i}")}))
        .collect();
    let viber = "richContent is not a combination Viber supports: text; image; text and button; or text, image and button (one OpenUrl suggestion)";
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "media type not in the spec's list",
            "WhatsApp",
            json!({"conversation": [{"media": {"mediaUri": "https://example.com/a.gif", "mimeType": "image/gif"}}]}),
            "richContent.conversation[0].media.mimeType 'image/gif' is not a supported media type",
        ),
        (
            "media without mimeType",
            "WhatsApp",
            json!({"conversation": [{"media": {"mediaUri": "https://example.com/a.png"}}]}),
            "richContent.conversation[0].media.mimeType is required",
        ),
        (
            "media without mediaUri",
            "WhatsApp",
            json!({"conversation": [{"media": {"mimeType": "image/png"}}]}),
            "richContent.conversation[0].media.mediaUri is required",
        ),
        (
            "the second part names its index",
            "WhatsApp",
            json!({"conversation": [{"text": "ok"}, {"media": {"mediaUri": "u", "mimeType": "video/avi"}}]}),
            "richContent.conversation[1].media.mimeType 'video/avi' is not a supported media type",
        ),
        (
            "location with a label only",
            "WhatsApp",
            json!({"conversation": [{"location": {"label": "CM HQ"}}]}),
            "richContent.conversation[0].location needs a searchQuery or both latitude and longitude",
        ),
        (
            "location with latitude only",
            "WhatsApp",
            json!({"conversation": [{"location": {"latitude": "51.6"}}]}),
            "richContent.conversation[0].location needs a searchQuery or both latitude and longitude",
        ),
        (
            "location latitude out of range",
            "WhatsApp",
            json!({"conversation": [{"location": {"latitude": "91", "longitude": "4.7"}}]}),
            "richContent.conversation[0].location.latitude '91' is not a valid latitude",
        ),
        (
            "contact without formatted_name",
            "WhatsApp",
            json!({"conversation": [{"contacts": [{"name": {"first_name": "CM"}}]}]}),
            "richContent.conversation[0].contacts[0].name.formatted_name is required",
        ),
        (
            "no contacts",
            "WhatsApp",
            json!({"conversation": [{"contacts": []}]}),
            "richContent.conversation[0].contacts must hold at least one contact",
        ),
        (
            "template without whatsapp",
            "WhatsApp",
            json!({"conversation": [{"template": {}}]}),
            "richContent.conversation[0].template.whatsapp is required",
        ),
        (
            "template without namespace",
            "WhatsApp",
            template(
                json!({"element_name": "e", "language": {"policy": "fallback", "code": "en"}}),
            ),
            "richContent.conversation[0].template.whatsapp.namespace is required",
        ),
        (
            "template without element_name",
            "WhatsApp",
            template(json!({"namespace": "n", "language": {"policy": "fallback", "code": "en"}})),
            "richContent.conversation[0].template.whatsapp.element_name is required",
        ),
        (
            "template without language policy",
            "WhatsApp",
            template(json!({"namespace": "n", "element_name": "e", "language": {"code": "en"}})),
            "richContent.conversation[0].template.whatsapp.language.policy is required",
        ),
        (
            "template with an unknown language policy",
            "WhatsApp",
            template(
                json!({"namespace": "n", "element_name": "e", "language": {"policy": "sometimes", "code": "en"}}),
            ),
            "richContent.conversation[0].template.whatsapp.language.policy 'sometimes' must be 'fallback' or 'deterministic'",
        ),
        (
            "template without language code",
            "WhatsApp",
            template(
                json!({"namespace": "n", "element_name": "e", "language": {"policy": "deterministic"}}),
            ),
            "richContent.conversation[0].template.whatsapp.language.code is required",
        ),
        (
            "an empty conversation part",
            "WhatsApp",
            json!({"conversation": [{}]}),
            "richContent.conversation[0] must contain text, media, location, contacts, template or interactive",
        ),
        (
            "conversation not an array",
            "WhatsApp",
            json!({"conversation": {"text": "hi"}}),
            "richContent.conversation must be an array",
        ),
        (
            "suggestions not an array",
            "RCS",
            json!({"conversation": [{"text": "hi"}], "suggestions": {"action": "Reply"}}),
            "richContent.suggestions must be an array",
        ),
        (
            "richContent not an object",
            "WhatsApp",
            json!("rich"),
            "richContent must be an object",
        ),
        (
            "12 suggestions",
            "RCS",
            json!({"conversation": [{"text": "hi"}], "suggestions": twelve}),
            "richContent.suggestions has 12 suggestions; at most 11 are allowed",
        ),
        (
            "OpenUrl without url",
            "RCS",
            suggestion(json!({"action": "OpenUrl", "label": "Visit"})),
            "richContent.suggestions[0].url is required for action OpenUrl",
        ),
        (
            "Dial without a phone number",
            "RCS",
            suggestion(json!({"action": "Dial", "label": "Call us", "dial": {}})),
            "richContent.suggestions[0].dial.phoneNumber is required for action Dial",
        ),
        (
            "Dial without dial",
            "RCS",
            suggestion(json!({"action": "Dial", "label": "Call us"})),
            "richContent.suggestions[0].dial.phoneNumber is required for action Dial",
        ),
        (
            "CreateCalendarEvent without calendar",
            "RCS",
            suggestion(json!({"action": "CreateCalendarEvent", "label": "Add"})),
            "richContent.suggestions[0].calendar is required for action CreateCalendarEvent",
        ),
        (
            "calendar without endTime",
            "RCS",
            suggestion(
                json!({"action": "CreateCalendarEvent", "label": "Add", "calendar": {"startTime": "2018-02-05T00:00:00"}}),
            ),
            "richContent.suggestions[0].calendar needs startTime and endTime",
        ),
        (
            "ViewLocation without viewLocation",
            "RCS",
            suggestion(json!({"action": "ViewLocation", "label": "Map"})),
            "richContent.suggestions[0].viewLocation is required for action ViewLocation",
        ),
        (
            "viewLocation without a place",
            "RCS",
            suggestion(
                json!({"action": "ViewLocation", "label": "Map", "viewLocation": {"label": "CM HQ"}}),
            ),
            "richContent.suggestions[0].viewLocation needs a searchQuery or both latitude and longitude",
        ),
        (
            "an unknown action",
            "RCS",
            suggestion(json!({"action": "Teleport", "label": "Go"})),
            "richContent.suggestions[0].action 'Teleport' must be OpenUrl, CreateCalendarEvent, Dial, ViewLocation or Reply",
        ),
        (
            "a suggestion without action",
            "RCS",
            suggestion(json!({"label": "Go"})),
            "richContent.suggestions[0].action is required",
        ),
        (
            "a suggestion without label",
            "RCS",
            suggestion(json!({"action": "Reply"})),
            "richContent.suggestions[0].label is required",
        ),
        (
            "Viber text and image without a button",
            "Viber",
            json!({"conversation": [{"text": "hi"}, {"media": image}]}),
            viber,
        ),
        (
            "Viber image and button without text",
            "Viber",
            json!({"conversation": [{"media": image}], "suggestions": [open_url]}),
            viber,
        ),
        (
            "Viber text and two buttons",
            "Viber",
            json!({"conversation": [{"text": "hi"}], "suggestions": [open_url, open_url]}),
            viber,
        ),
        (
            "Viber text and a Dial button",
            "Viber",
            json!({"conversation": [{"text": "hi"}], "suggestions": [{"action": "Dial", "label": "Call", "dial": {"phoneNumber": "+31765727000"}}]}),
            viber,
        ),
        (
            "Viber location",
            "Viber",
            json!({"conversation": [{"location": {"searchQuery": "Konijnenberg 30"}}]}),
            viber,
        ),
    ];
    for (case, channel, rich, details) in cases {
        assert_rejected_one(
            &setup,
            case,
            msg(json!({"allowedChannels": [channel], "richContent": rich})),
            305,
            details,
        )
        .await;
    }

    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"action": "Reply", "label": format!("r{i}")}))
        .collect();
    let whatsapp_template = template(
        json!({"namespace": "n", "element_name": "e", "language": {"policy": "deterministic", "code": "en"}}),
    );
    for (case, channel, rich, body) in [
        (
            "11 suggestions",
            "RCS",
            json!({"conversation": [{"text": "hi"}], "suggestions": eleven}),
            json!({"content": "hi"}),
        ),
        (
            "a template with empty body content (the Python SDK sends \"\")",
            "WhatsApp",
            whatsapp_template,
            json!({"content": ""}),
        ),
        (
            "audio/aac and application/pdf",
            "WhatsApp",
            json!({"conversation": [
                {"media": {"mediaUri": "https://example.com/a.aac", "mimeType": "audio/aac"}},
                {"media": {"mediaUri": "https://example.com/a.pdf", "mimeType": "application/pdf"}}
            ]}),
            json!({"content": "hi"}),
        ),
        (
            "Viber text only",
            "Viber",
            json!({"conversation": [{"text": "hi"}]}),
            json!({"content": "hi"}),
        ),
        (
            "Viber image only",
            "Viber",
            json!({"conversation": [{"media": image}]}),
            json!({"content": "hi"}),
        ),
        (
            "Viber text and button",
            "Viber",
            json!({"conversation": [{"text": "hi"}], "suggestions": [open_url]}),
            json!({"content": "hi"}),
        ),
    ] {
        assert_accepted(
            &setup,
            case,
            msg(json!({"allowedChannels": [channel], "richContent": rich, "body": body})),
            1,
        )
        .await;
    }
}

// ---- 405 --------------------------------------------------------------------------------

#[tokio::test]
async fn code_405_methods_other_than_post() {
    let setup = setup(None, &[], false).await;
    let body = setup.request(&json!([base()]).to_string());
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        let case = method.to_string();
        let (status, headers, response) = send_raw(
            &setup,
            method,
            body.clone().into_bytes(),
            Some("application/json"),
        )
        .await;
        assert_eq!(status, 405, "{case}: body {response}");
        assert_eq!(
            headers.get("allow").and_then(|v| v.to_str().ok()),
            Some("POST"),
            "{case}: Allow header"
        );
        assert_json_content_type(&headers, &case);
        assert_eq!(
            response,
            request_error(202, "Use HTTP POST to send messages"),
            "{case}"
        );
    }
    assert!(
        setup.log("").await["messages"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}

// ---- Tolerance ------------------------------------------------------------------------------

#[tokio::test]
async fn keys_and_channel_names_are_case_insensitive() {
    let setup = setup(None, &[], false).await;
    let token = &setup.token;
    let greek_71 = "λ".repeat(71);
    let ascii_71 = "a".repeat(71);
    let gsm_161 = "a".repeat(161);
    let body = format!(
        r#"{{"Messages":{{"Authentication":{{"ProductToken":"{token}"}},"MSG":[
        {{"FROM":"Tern","TO":[{{"NUMBER":"0031612345678"}}],"BODY":{{"CONTENT":"Hello"}},"REFERENCE":"ci-sms",
          "AllowedChannels":["sms"],"CustomGrouping":"g1","customgrouping2":"g2","CUSTOMGROUPING3":"g3","Validity":"2H"}},
        {{"From":"Tern","To":[{{"Number":"0031612345679"}}],"Body":{{"TYPE":"auto","Content":"{greek_71}"}},"Reference":"ci-auto"}},
        {{"from":"Tern","to":[{{"number":"0031612345680"}}],"body":{{"content":"{ascii_71}"}},"DCS":8,"reference":"ci-dcs"}},
        {{"from":"Tern","to":[{{"number":"0031612345681"}}],"body":{{"content":"{gsm_161}"}},"reference":"ci-max",
          "MAXIMUMNUMBEROFMESSAGEPARTS":1,"minimumnumberofmessageparts":1}},
        {{"from":"Tern","to":[{{"number":"0031612345682"}}],"body":{{"content":"Hi"}},"reference":"ci-wa","allowedChannels":["Whatsapp"],
          "RichContent":{{"Conversation":[{{"Text":"Hi"}},{{"Media":{{"MediaName":"x","MEDIAURI":"https://example.com/x.png","MimeType":"IMAGE/PNG"}}}}],
            "Suggestions":[{{"Action":"openurl","Label":"Visit","URL":"https://example.com","PostbackData":"p"}}]}}}},
        {{"from":"Tern","to":[{{"number":"0031612345683"}}],"body":{{"content":"Push"}},"reference":"ci-push",
          "ALLOWEDCHANNELS":["PUSH","Sms"],"APPKEY":"00000000-0000-0000-0000-000000000000"}},
        {{"from":"Tern","to":[{{"number":"0031612345684"}}],"body":{{"content":"v"}},"reference":"ci-viber","allowedchannels":["VIBER"]}},
        {{"from":"Tern","to":[{{"number":"0031612345685"}}],"body":{{"content":"r"}},"reference":"ci-rcs","allowedChannels":["rcs"],
          "richcontent":{{"suggestions":[{{"ACTION":"DIAL","label":"Call","Dial":{{"phonenumber":"+31765727000"}}}}]}}}}
        ]}}}}"#
    );
    let (status, response) = setup.post_json(&body).await;
    assert_eq!(status, 200, "body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 7 message(s)",
            "errorCode": 201,
            "messages": [
                accepted("0031612345678", Some("ci-sms"), 1),
                accepted("0031612345679", Some("ci-auto"), 2),
                accepted("0031612345680", Some("ci-dcs"), 2),
                rejected("0031612345681", Some("ci-max"), 305, "Message needs 2 parts but maximumNumberOfMessageParts is 1"),
                accepted("0031612345682", Some("ci-wa"), 1),
                accepted("0031612345683", Some("ci-push"), 1),
                accepted("0031612345684", Some("ci-viber"), 1),
                accepted("0031612345685", Some("ci-rcs"), 1),
            ],
        }),
        "TYPE, DCS and MAXIMUMNUMBEROFMESSAGEPARTS are read whatever their case"
    );

    let log = log_by_reference(&setup).await;
    let sms = &log["ci-sms"];
    assert_eq!(
        (
            &sms["customGrouping"],
            &sms["customGrouping2"],
            &sms["customGrouping3"]
        ),
        (&json!("g1"), &json!("g2"), &json!("g3")),
        "custom groupings: {sms}"
    );
    assert_eq!(
        timestamp(&sms["validUntil"]).duration_since(timestamp(&sms["acceptedAt"])),
        SignedDuration::from_hours(2),
        "Validity 2H: {sms}"
    );
    for (reference, channels) in [
        ("ci-sms", json!(["SMS"])),
        ("ci-wa", json!(["WhatsApp"])),
        ("ci-push", json!(["Push", "SMS"])),
        ("ci-viber", json!(["Viber"])),
        ("ci-rcs", json!(["RCS"])),
    ] {
        assert_eq!(
            log[reference]["allowedChannels"], channels,
            "{reference}: channel names in any case"
        );
    }
}

#[tokio::test]
async fn unknown_fields_and_explicit_nulls_are_tolerated() {
    let setup = setup(None, &[], false).await;
    let token = &setup.token;
    // The .NET SDK's shape: `$type` fields and explicit nulls for every optional field.
    let body = format!(
        r#"{{"$type":"Request","messages":{{"$type":"Messages","authentication":{{"$type":"Auth","producttoken":"{token}","extra":null}},
        "msg":[
          {{"$type":"TextMessage","from":"Tern","to":[{{"$type":"Recipient","number":"0031612345678","name":null}}],
            "body":{{"$type":"Body","content":"Hello","type":null}},"reference":null,"customGrouping":null,"customGrouping2":null,
            "customGrouping3":null,"validity":null,"allowedChannels":null,"appKey":null,"dcs":null,
            "minimumNumberOfMessageParts":null,"maximumNumberOfMessageParts":null,"richContent":null,
            "unknownNested":{{"a":[1,2,{{"b":null}}]}},"someFlag":true,"priority":7}},
          {{"from":"Tern","to":[{{"number":"0031612345679"}}],"body":{{"content":"Hi"}},"reference":"wa-nulls",
            "allowedChannels":["WhatsApp",null],
            "richContent":{{"$type":"Rich","conversation":[{{"text":"Hi","media":null,"location":null,"contacts":null,"template":null}},null],
              "suggestions":null}}}}
        ],"extraTopLevel":{{"x":1}}}}}}"#
    );
    let (status, response) = setup.post_json(&body).await;
    assert_eq!(status, 200, "body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 2 message(s)",
            "errorCode": 0,
            "messages": [
                accepted("0031612345678", None, 1),
                accepted("0031612345679", Some("wa-nulls"), 1),
            ],
        })
    );
    let log = setup.log("?to=0031612345678").await;
    let logged = &log["messages"][0];
    assert_eq!(
        logged["allowedChannels"],
        json!(["SMS"]),
        "null allowedChannels means SMS: {log}"
    );
    assert_eq!(logged["customGrouping"], Value::Null, "{log}");
    assert_eq!(
        timestamp(&logged["validUntil"]).duration_since(timestamp(&logged["acceptedAt"])),
        SignedDuration::from_hours(24),
        "null validity means the default: {log}"
    );
}

#[tokio::test]
async fn numbers_and_product_tokens_in_every_accepted_form() {
    let setup = setup(None, &[], false).await;
    let (status, response) = send(
        &setup,
        &[msg(json!({"to": [
            {"number": "0031612345678"},
            {"number": "+31612345678"},
            {"number": "0044791112345"},
            {"number": "+447911123456"},
        ]}))],
    )
    .await;
    assert_eq!(status, 200, "body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 4 message(s)",
            "errorCode": 0,
            "messages": [
                accepted("0031612345678", None, 1),
                accepted("+31612345678", None, 1),
                accepted("0044791112345", None, 1),
                accepted("+447911123456", None, 1),
            ],
        })
    );

    // The forms .NET's Guid.Parse accepts, in any case.
    let token = setup.token.clone();
    let msgs = json!([base()]).to_string();
    for (case, form) in [
        ("upper case", token.to_ascii_uppercase()),
        ("braced", format!("{{{token}}}")),
        ("32 hex digits", token.replace('-', "")),
        ("surrounding spaces", format!(" {token} ")),
    ] {
        let body = format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{form}"}},"msg":{msgs}}}}}"#
        );
        let (status, response) = setup.post_json(&body).await;
        assert_eq!(status, 200, "token {case}: body {response}");
        assert_eq!(response["errorCode"], 0, "token {case}: {response}");
    }
}

#[tokio::test]
async fn no_or_other_content_type_is_still_json() {
    let setup = setup(None, &[], false).await;
    let body = setup.request(&json!([base()]).to_string());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let case = format!("content-type {content_type:?}");
        let (status, headers, response) = send_raw(
            &setup,
            Method::POST,
            body.clone().into_bytes(),
            content_type,
        )
        .await;
        assert_eq!(status, 200, "{case}: body {response}");
        assert_json_content_type(&headers, &case);
        assert_eq!(
            without_ids(response),
            json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [accepted(TO, None, 1)]}),
            "{case}"
        );
    }
}

// ---- Parts --------------------------------------------------------------------------------

#[tokio::test]
async fn parts_follow_gsm_and_ucs2_part_sizes() {
    let setup = setup(None, &[], false).await;
    let a = |n: usize| "a".repeat(n);
    let greek = |n: usize| "λ".repeat(n);
    let emoji = |n: usize| "😀".repeat(n);
    let text = |content: String| json!({"body": {"content": content}});
    let dcs8 = |content: String| json!({"dcs": 8, "body": {"content": content}});
    let auto = |content: String| json!({"body": {"type": "AUTO", "content": content}});
    let cases: Vec<(&str, Value, u32)> = vec![
        ("GSM 1 character", text(a(1)), 1),
        ("GSM 160", text(a(160)), 1),
        ("GSM 161", text(a(161)), 2),
        ("GSM 306", text(a(306)), 2),
        ("GSM 307", text(a(307)), 3),
        (
            "GSM 80 extension characters (160 septets)",
            text("{".repeat(80)),
            1,
        ),
        (
            "GSM 81 extension characters (162 septets)",
            text("€".repeat(81)),
            2,
        ),
        (
            "GSM escape pair not split across parts (306 septets, 3 parts)",
            text(format!("{}{{{}", a(152), a(152))),
            3,
        ),
        ("UCS2 (dcs 8) 70", dcs8(a(70)), 1),
        ("UCS2 (dcs 8) 71", dcs8(a(71)), 2),
        ("UCS2 (dcs 8) 132", dcs8(a(132)), 2),
        ("UCS2 (dcs 8) 133", dcs8(a(133)), 3),
        ("UCS2 (dcs 8) Greek 70", dcs8(greek(70)), 1),
        ("AUTO Greek 70", auto(greek(70)), 1),
        ("AUTO Greek 71", auto(greek(71)), 2),
        ("AUTO GSM-only text stays GSM: 160", auto(a(160)), 1),
        ("AUTO GSM-only text stays GSM: 161", auto(a(161)), 2),
        ("AUTO emoji 35 (70 UTF-16 units)", auto(emoji(35)), 1),
        ("AUTO emoji 36 (72 UTF-16 units)", auto(emoji(36)), 2),
        (
            "UCS2 surrogate pair not split across parts (132 units, 3 parts)",
            auto(format!("{}😀{}", greek(65), greek(65))),
            3,
        ),
        (
            "AUTO ignores dcs",
            json!({"dcs": 8, "body": {"type": "AUTO", "content": a(160)}}),
            1,
        ),
        (
            "TEXT is GSM: 160",
            json!({"body": {"type": "TEXT", "content": a(160)}}),
            1,
        ),
        (
            "TEXT is GSM even with dcs 8: 71 characters, 1 part",
            json!({"dcs": 8, "body": {"type": "TEXT", "content": a(71)}}),
            1,
        ),
        (
            "TEXT is GSM even with dcs 8: Greek becomes look-alikes, 161 is 2 parts",
            json!({"dcs": 8, "body": {"type": "text", "content": greek(161)}}),
            2,
        ),
        (
            "BINARY 140 octets",
            json!({"body": {"type": "BINARY", "content": "AB".repeat(140)}}),
            1,
        ),
        (
            "BINARY 141 octets",
            json!({"body": {"type": "BINARY", "content": "AB".repeat(141)}}),
            2,
        ),
        (
            "WhatsApp only: not an SMS, 1 part",
            json!({"allowedChannels": ["WhatsApp"], "body": {"content": a(1000)}}),
            1,
        ),
        (
            "WhatsApp with SMS fallback: SMS parts",
            json!({"allowedChannels": ["WhatsApp", "SMS"], "body": {"content": a(161)}}),
            2,
        ),
    ];
    for (case, fields, parts) in cases {
        assert_accepted(&setup, case, msg(fields), parts).await;
    }
}

// ---- Limits -------------------------------------------------------------------------------

#[tokio::test]
async fn limits_100_msgs_of_1000_recipients_are_all_accepted() {
    let setup = setup(None, &[], false).await;
    let number = |m: usize, r: usize| format!("00316{:08}", m * 1000 + r);
    let msgs: Vec<Value> = (0..100)
        .map(|m| {
            let to: Vec<Value> = (0..1000).map(|r| json!({"number": number(m, r)})).collect();
            msg(json!({"to": to, "reference": format!("batch{m}")}))
        })
        .collect();
    let body = setup.request(&Value::Array(msgs).to_string());
    // The shared client gives up after 20 s; a large request may take longer on a busy machine.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let response = client
        .post(setup.gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let response: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let elapsed = started.elapsed();
    eprintln!("100 x 1000 recipients answered in {elapsed:?}");
    assert_eq!(status, 200, "details {}", response["details"]);
    assert_eq!(response["details"], "Created 100000 message(s)");
    assert_eq!(response["errorCode"], 0);
    let messages = response["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 100_000);
    let mut ids = HashSet::new();
    for (index, message) in messages.iter().enumerate() {
        let (m, r) = (index / 1000, index % 1000);
        assert_eq!(
            message["status"], "Accepted",
            "msg {m} recipient {r}: {message}"
        );
        assert_eq!(
            message["to"],
            number(m, r),
            "msg {m} recipient {r}: request order"
        );
        assert_eq!(
            message["reference"],
            format!("batch{m}"),
            "msg {m} recipient {r}"
        );
        assert_eq!(message["parts"], 1, "msg {m} recipient {r}");
        assert!(
            ids.insert(message["messageId"].as_str().unwrap().to_owned()),
            "msg {m} recipient {r}: duplicate id"
        );
    }
}

// ---- The message log ----------------------------------------------------------------------

#[tokio::test]
async fn log_holds_exactly_the_accepted_recipients_of_a_partially_rejected_request() {
    let setup = setup(None, &[], false).await;
    let (status, response) = send(
        &setup,
        &[
            msg(json!({"to": [{"number": "0031600000001"}, {"number": "0031600000002"}, {"number": "bad"}], "reference": "r1"})),
            msg(json!({"from": ABSENT, "to": [{"number": "0031600000003"}], "reference": "r2"})),
            msg(json!({"to": [{"number": "0031600000004"}], "reference": "r3"})),
            msg(json!({"to": [{"number": "0031600000005"}], "body": {"content": ""}})),
            msg(json!({"to": [{"number": "0031600000006"}], "allowedChannels": ["Voice"]})),
        ],
    )
    .await;
    assert_eq!(status, 200, "body {response}");
    let accepted_ids: HashMap<String, (String, String)> = response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "Accepted")
        .map(|m| {
            (
                m["messageId"].as_str().unwrap().to_owned(),
                (
                    m["to"].as_str().unwrap().to_owned(),
                    m["reference"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 3 message(s)",
            "errorCode": 201,
            "messages": [
                accepted("0031600000001", Some("r1"), 1),
                accepted("0031600000002", Some("r1"), 1),
                rejected("bad", Some("r1"), 303, "Gsm 'bad' is not a number."),
                rejected("0031600000003", Some("r2"), 301, "No FROM field found in a MSG object."),
                accepted("0031600000004", Some("r3"), 1),
                rejected("0031600000005", None, 304, "A body without content was found"),
                rejected("0031600000006", None, 305, "Message is unroutable."),
            ],
        })
    );

    let log = setup.log("").await;
    let logged: HashMap<String, (String, String)> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["messageId"].as_str().unwrap().to_owned(),
                (
                    m["to"].as_str().unwrap().to_owned(),
                    m["reference"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        logged, accepted_ids,
        "the log holds exactly the accepted recipients, under the ids the response gave: {log}"
    );
    for rejected_to in ["bad", "0031600000003", "0031600000005", "0031600000006"] {
        let found = setup.log(&format!("?to={rejected_to}")).await;
        assert!(
            found["messages"].as_array().unwrap().is_empty(),
            "rejected recipient {rejected_to} is not logged: {found}"
        );
    }
}
