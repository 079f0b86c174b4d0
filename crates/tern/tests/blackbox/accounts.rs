//! Account management against a running gateway (`tern account update|show|rotate-token|
//! rotate-secret`): a change is seen by the gateway within a second, a disabled account and a
//! rotated-away token are answered exactly as an unknown token is; and signed webhooks, checked by
//! the verification snippets of README.md (extracted from it and run with python3 and node)
//! against webhooks the gateway POSTed, through a secret rotation and its overlap.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tern_testkit::{Gateway, WebhookReceiver, http_client};

use crate::TERN;

/// How long a change may take to reach the running gateway (its cache serves an account for at
/// most a second), with room for a slow machine.
const SEEN_WITHIN: Duration = Duration::from_millis(1500);

/// Run `tern account ARGS… --data-dir DIR`; its stdout, or its stderr as the error.
fn account(data_dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(TERN)
        .arg("account")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TERN_LOG", "warn")
        .output()
        .expect("run tern account");
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).expect("utf-8"))
    } else {
        Err(String::from_utf8(output.stderr).expect("utf-8"))
    }
}

fn last_line(text: &str) -> String {
    text.lines().last().expect("a line").trim().to_owned()
}

/// What the gateway answers a JSON submission, a GET submission and a message-log request with
/// `token`: status and body of each.
async fn answers(gateway: &Gateway, token: &str) -> Vec<(u16, String)> {
    let client = http_client();
    let mut answers = Vec::new();
    let json = client
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}},"reference":"acc"}}]}}}}"#
        ))
        .send()
        .await
        .unwrap();
    let get = client
        .get(gateway.url(&format!(
            "/gateway.ashx?producttoken={token}&body=hi&to=0031612345678&from=Tern&reference=acc"
        )))
        .send()
        .await
        .unwrap();
    let log = client
        .get(gateway.url("/v1.0/messages?reference=nothing-here"))
        .header("X-CM-PRODUCTTOKEN", token)
        .send()
        .await
        .unwrap();
    for response in [json, get, log] {
        let status = response.status().as_u16();
        answers.push((status, response.text().await.unwrap()));
    }
    answers
}

/// Poll until `token`'s answers equal `expected` (`true`) or differ from it (`false`), within
/// [`SEEN_WITHIN`] of `since`; fails the test otherwise.
async fn wait_answers(
    gateway: &Gateway,
    token: &str,
    expected: &[(u16, String)],
    equal: bool,
    since: Instant,
    what: &str,
) {
    loop {
        let got = answers(gateway, token).await;
        // Submissions accepted are not equal to refusals; compare the refusals' shapes only.
        if (got == expected) == equal {
            return;
        }
        assert!(
            since.elapsed() < SEEN_WITHIN,
            "{what}: not seen within {SEEN_WITHIN:?}: answers {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn accounts_change_disable_and_rotate_while_the_gateway_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let created = account(
        &data_dir,
        &[
            "create",
            "--name",
            "acme",
            "--balance",
            "1.50",
            "--channels",
            "SMS",
        ],
    )
    .unwrap();
    let token = last_line(&created);
    let secret_line = created
        .lines()
        .find(|line| line.starts_with("webhook secret: "))
        .expect("the secret is printed once");
    let secret = secret_line.trim_start_matches("webhook secret: ").trim();
    assert_eq!(secret.len(), 64, "{created}");
    let gateway = Gateway::start(TERN, &data_dir, None);
    let unknown_token = "00000000-0000-4000-8000-00000000dead";
    let unknown = answers(&gateway, unknown_token).await;
    assert_eq!(
        unknown[0],
        (
            400,
            r#"{"details":"No account found for the given authentication","errorCode":101,"messages":[]}"#
                .to_owned()
        )
    );
    assert_eq!(unknown[2].0, 401, "{unknown:?}");
    let working = answers(&gateway, &token).await;
    assert_eq!(working[0].0, 200, "{working:?}");
    assert_eq!(working[2].0, 200, "{working:?}");

    // show: everything but the secrets.
    let shown: Value =
        serde_json::from_str(&account(&data_dir, &["show", "acme", "--json"]).unwrap()).unwrap();
    assert_eq!(shown["name"], "acme");
    assert_eq!(shown["state"], "enabled");
    assert_eq!(shown["channels"], json!(["SMS"]));
    assert_eq!(shown["status_url"], Value::Null);
    assert_eq!(shown["webhook_secret_rotated_at"], Value::Null);
    let text = account(&data_dir, &["show", "acme"]).unwrap();
    assert!(text.contains("state: enabled\n"), "{text}");
    assert!(text.contains("channels: SMS\n"), "{text}");
    for output in [text.as_str(), &shown.to_string()] {
        assert!(!output.contains(secret), "no secret shown: {output}");
        assert!(!output.contains(&token), "no token shown: {output}");
    }

    // update: what it names changes, the rest stays; checked as create checks.
    let balance_before = shown["balance"].as_str().unwrap().to_owned();
    account(
        &data_dir,
        &[
            "update",
            "acme",
            "--add-balance",
            "2.25",
            "--status-format",
            "xml",
            "--channels",
            "SMS,WhatsApp",
            "--inbound-numbers",
            "+31687654321",
        ],
    )
    .unwrap();
    let shown: Value =
        serde_json::from_str(&account(&data_dir, &["show", "acme", "--json"]).unwrap()).unwrap();
    let balance = |value: &Value| -> f64 { value.as_str().unwrap().parse().unwrap() };
    assert!(
        (balance(&shown["balance"]) - (balance_before.parse::<f64>().unwrap() + 2.25)).abs() < 1e-9,
        "2.25 added to {balance_before}: {shown}"
    );
    assert_eq!(shown["status_format"], "xml");
    assert_eq!(shown["channels"], json!(["SMS", "WhatsApp"]));
    assert_eq!(shown["inbound_numbers"], json!(["0031687654321"]));
    let refused = account(&data_dir, &["update", "acme", "--status-url", "ftp://x"]).unwrap_err();
    assert!(
        refused.contains("--status-url: 'ftp://x' is not an absolute http:// or https:// URL"),
        "{refused}"
    );
    let refused = account(&data_dir, &["update", "acme", "--channels", "Pigeon"]).unwrap_err();
    assert!(refused.contains("--channels: "), "{refused}");
    let refused = account(&data_dir, &["update", "nobody", "--enable"]).unwrap_err();
    assert!(
        refused.contains("no account is named 'nobody'"),
        "{refused}"
    );
    account(
        &data_dir,
        &["create", "--name", "other", "--channels", "SMS"],
    )
    .unwrap();
    let refused = account(&data_dir, &["update", "other", "--add-balance", "1"]).unwrap_err();
    assert!(refused.contains("--add-balance: "), "{refused}");
    assert!(refused.contains("unlimited"), "{refused}");
    let refused = account(
        &data_dir,
        &["update", "other", "--inbound-numbers", "0031687654321"],
    )
    .unwrap_err();
    assert!(
        refused.contains("(acme) has inbound number 0031687654321 already"),
        "{refused}"
    );

    // disable: answered as an unknown token, everywhere, within a second; listed as disabled.
    account(&data_dir, &["update", "acme", "--disable"]).unwrap();
    let since = Instant::now();
    let expected: Vec<(u16, String)> = answers(&gateway, unknown_token).await;
    wait_answers(&gateway, &token, &expected, true, since, "disabled").await;
    let list = account(&data_dir, &["list"]).unwrap();
    let header = list.lines().next().unwrap();
    assert!(header.ends_with("\tSTATE"), "{list}");
    let acme = list
        .lines()
        .find(|line| line.split('\t').nth(1) == Some("acme"))
        .unwrap();
    assert!(acme.ends_with("\tdisabled"), "{list}");
    let other = list
        .lines()
        .find(|line| line.split('\t').nth(1) == Some("other"))
        .unwrap();
    assert!(other.ends_with("\tenabled"), "{list}");

    // enable: accepted again within a second.
    account(&data_dir, &["update", "acme", "--enable"]).unwrap();
    let since = Instant::now();
    wait_answers(&gateway, &token, &expected, false, since, "enabled").await;
    assert_eq!(answers(&gateway, &token).await[0].0, 200);

    // rotate-token: the new one works at once, the old one is refused within a second.
    let rotated = account(&data_dir, &["rotate-token", "acme"]).unwrap();
    let since = Instant::now();
    let new_token = last_line(&rotated);
    assert_ne!(new_token, token);
    assert_eq!(new_token.len(), 36, "{rotated}");
    assert_eq!(answers(&gateway, &new_token).await[0].0, 200);
    wait_answers(&gateway, &token, &expected, true, since, "old token").await;
    gateway.stop();
}

/// The fenced block of `language` in README.md's "Verifying webhook signatures" section.
fn readme_snippet(language: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Verifying webhook signatures\n")
        .nth(1)
        .expect("the section")
        .split("\n## ")
        .next()
        .unwrap();
    let fence = format!("```{language}\n");
    let start = section.find(&fence).expect("the snippet") + fence.len();
    let end = start + section[start..].find("```").expect("its end");
    section[start..end].to_owned()
}

/// One webhook to verify with one secret: its headers (lower case) and raw body.
pub(crate) fn case(secret: &str, headers: &[(String, String)], body: &[u8]) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::from(value.clone())))
        .collect();
    json!({"secret": secret, "headers": headers, "body": body.iter().map(|b| *b as u64).collect::<Vec<_>>()})
}

/// What README.md's Python and Node snippets say of each case (both must agree).
pub(crate) fn verify_with_snippets(dir: &Path, cases: &[Value]) -> Vec<bool> {
    let cases_file = dir.join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(cases).unwrap()).unwrap();
    let python = dir.join("verify.py");
    std::fs::write(
        &python,
        readme_snippet("python")
            + "\nimport json, sys\ncases = json.load(open(sys.argv[1]))\n\
               print(json.dumps([verify(c['secret'], c['headers'], bytes(c['body'])) for c in cases]))\n",
    )
    .unwrap();
    let node = dir.join("verify.js");
    std::fs::write(
        &node,
        readme_snippet("js")
            + "\nconst cases = JSON.parse(require('node:fs').readFileSync(process.argv[2]));\n\
               console.log(JSON.stringify(cases.map((c) => verify(c.secret, c.headers, Buffer.from(c.body)))));\n",
    )
    .unwrap();
    let mut results = Vec::new();
    for (program, script) in [("python3", &python), ("node", &node)] {
        let output = Command::new(program)
            .arg(script)
            .arg(&cases_file)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let said: Vec<bool> = serde_json::from_slice(&output.stdout).unwrap();
        results.push(said);
    }
    assert_eq!(results[0], results[1], "python and node disagree");
    results.remove(0)
}

/// Submit one SMS and wait for its next status report; returns its headers and body.
async fn next_report(
    gateway: &Gateway,
    token: &str,
    receiver: &WebhookReceiver,
    reference: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    let before = receiver.received().len();
    let response = http_client()
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"hi"}},"reference":"{reference}"}}]}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let received = receiver.received();
        if let Some(report) = received[before.min(received.len())..]
            .iter()
            .find(|report| report.text().contains(&format!("\"{reference}\"")))
        {
            return (report.headers.clone(), report.body.clone());
        }
        assert!(
            Instant::now() < deadline,
            "no report of {reference} within 10 s: {received:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn readme_snippets_verify_signed_webhooks_through_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let old_secret = "old-secret-for-the-readme-test";
    let created = account(
        &data_dir,
        &[
            "create",
            "--name",
            "signed",
            "--channels",
            "SMS",
            "--status-url",
            &receiver.url,
            "--webhook-secret",
            old_secret,
        ],
    )
    .unwrap();
    assert!(
        created.contains(&format!("\nwebhook secret: {old_secret}\n")),
        "{created}"
    );
    let token = last_line(&created);
    // An overlap of 3.6 seconds: long enough for one report, short enough to wait out.
    let overlap = Duration::from_millis(3600);
    let gateway = Gateway::start(
        TERN,
        &data_dir,
        Some("[webhooks]\nrotation_overlap_hours = 0.001\n"),
    );

    // One secret: it verifies, a tampered body or another secret does not.
    let (headers, body) = next_report(&gateway, &token, &receiver, "first").await;
    let signature = headers
        .iter()
        .find(|(name, _)| name == "x-tern-signature")
        .unwrap()
        .1
        .clone();
    assert_eq!(signature.matches("v1=").count(), 1, "{signature}");
    let timestamp: i64 = headers
        .iter()
        .find(|(name, _)| name == "x-tern-timestamp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!((jiff::Timestamp::now().as_second() - timestamp).abs() < 30);
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    // A well-signed webhook of ten minutes ago is refused.
    let stale_at = jiff::Timestamp::now().as_second() - 600;
    let stale_headers = vec![
        ("x-tern-timestamp".to_owned(), stale_at.to_string()),
        (
            "x-tern-signature".to_owned(),
            format!(
                "v1={}",
                tern_core::webhook_signature::sign(&old_secret.parse().unwrap(), stale_at, &body)
            ),
        ),
    ];
    assert_eq!(
        verify_with_snippets(
            dir.path(),
            &[
                case(old_secret, &headers, &body),
                case(old_secret, &headers, &tampered),
                case("another-secret-entirely", &headers, &body),
                case(old_secret, &stale_headers, &body),
            ]
        ),
        [true, false, false, false]
    );

    // Rotated: both sign during the overlap.
    let rotated = account(&data_dir, &["rotate-secret", "signed"]).unwrap();
    let rotated_at = Instant::now();
    let new_secret = last_line(&rotated);
    assert_eq!(new_secret.len(), 64, "{rotated}");
    let (headers, body) = next_report(&gateway, &token, &receiver, "during").await;
    assert!(
        rotated_at.elapsed() < overlap,
        "the report came after the overlap"
    );
    let signature = headers
        .iter()
        .find(|(name, _)| name == "x-tern-signature")
        .unwrap()
        .1
        .clone();
    assert_eq!(signature.matches("v1=").count(), 2, "{signature}");
    assert_eq!(
        verify_with_snippets(
            dir.path(),
            &[
                case(&new_secret, &headers, &body),
                case(old_secret, &headers, &body),
                case("another-secret-entirely", &headers, &body),
            ]
        ),
        [true, true, false]
    );

    // After the overlap: the new secret alone.
    tokio::time::sleep(overlap.saturating_sub(rotated_at.elapsed()) + Duration::from_millis(200))
        .await;
    let (headers, body) = next_report(&gateway, &token, &receiver, "after").await;
    let signature = headers
        .iter()
        .find(|(name, _)| name == "x-tern-signature")
        .unwrap()
        .1
        .clone();
    assert_eq!(signature.matches("v1=").count(), 1, "{signature}");
    assert_eq!(
        verify_with_snippets(
            dir.path(),
            &[
                case(&new_secret, &headers, &body),
                case(old_secret, &headers, &body)
            ]
        ),
        [true, false]
    );
    gateway.stop();
}
