//! The RBM connector, black-box: a gateway whose RCS route is a `[[connector]]` of kind `rbm`
//! pointed at tern-testkit's stand-ins of Google's RBM API and OAuth2 token endpoint (all on
//! loopback; the service-account key file sits next to the gateway's configuration file). The
//! RBM stand-in checks every request as Google does (a valid token of the RBM scope, the agent,
//! the message id, the agent message's shape) and posts signed events back to
//! `/webhooks/rbm/rbm`. Status reports and inbound messages go to local receivers and are
//! counted exactly.

use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::google::{
    AgentEvent, GoogleTokenStandIn, RbmError, RbmOptions, RbmRule, RbmScript, RbmStandIn,
    TokenOptions, UserMessageContent,
};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::{Setup, TERN};

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(20);

/// The stand-ins a test drives.
struct Google {
    rbm: RbmStandIn,
    tokens: GoogleTokenStandIn,
}

/// A `[[connector]]` `rbm` of kind rbm to `rbm`, with `extra` settings, and the route that
/// sends every RCS message over it.
fn rbm_config(rbm: &RbmStandIn, extra: &str) -> String {
    let options = rbm.options();
    format!(
        "[[connector]]\nname = \"rbm\"\nkind = \"rbm\"\nbase_url = \"{}\"\n\
         agent_id = \"{}\"\nservice_account_file = \"rbm-sa.json\"\nclient_token = \"{}\"\n\
         max_sends_per_sec = 1000\n{extra}\n\
         [[route]]\nchannel = \"RCS\"\nconnector = \"rbm\"\n",
        rbm.base_url, options.agent_id, options.client_token,
    )
}

/// The stand-ins (RBM following `rules`, tokens living `token_life`), and a gateway (account
/// `acme` with `account_args`, reports to a receiver) whose RCS goes to RBM; RBM's webhooks go
/// to the gateway.
async fn setup_with(
    rules: Vec<RbmRule>,
    token_life: Duration,
    extra: &str,
    account_args: &[&str],
) -> (Setup, Google) {
    let tokens = GoogleTokenStandIn::start(TokenOptions {
        expires_in: token_life,
        ..TokenOptions::default()
    })
    .await;
    let rbm = RbmStandIn::start(RbmOptions {
        rules,
        webhook_concurrency: 1,
        ..RbmOptions::new(tokens.check())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // The gateway's configuration is DATA_DIR.toml: the key file goes next to it.
    tokens.write_service_account(dir.path(), "rbm-sa.json");
    let receiver = WebhookReceiver::start().await;
    let mut args = vec!["--name", "acme", "--status-url", receiver.url.as_str()];
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start_logged_at(
        TERN,
        &data_dir,
        Some(&rbm_config(&rbm, extra)),
        Some("info"),
    );
    rbm.set_webhook_url(&gateway.url("/webhooks/rbm/rbm"));
    let setup = Setup {
        gateway,
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    };
    (setup, Google { rbm, tokens })
}

async fn setup(rules: Vec<RbmRule>) -> (Setup, Google) {
    setup_with(rules, Duration::from_secs(3600), "", &[]).await
}

/// Submit JSON `msgs`; the response must be 200.
async fn submit(setup: &Setup, msgs: Value) -> Value {
    let (status, response) = setup.post_json(&setup.request(&msgs.to_string())).await;
    assert_eq!(status, 200, "{response}");
    response
}

fn message(to: &str, reference: &str, channels: &[&str], extra: Value) -> Value {
    let mut message = json!({"from": "Tern", "to": [{"number": to}],
        "body": {"content": "Your order shipped", "type": "AUTO"},
        "reference": reference, "allowedChannels": channels});
    if let (Value::Object(message), Value::Object(extra)) = (&mut message, extra) {
        message.extend(extra);
    }
    message
}

type Report = (String, String, String, String, String);

/// Every report received: (reference, channel, status code, error code, description), in
/// arrival order.
fn reports(receiver: &WebhookReceiver) -> Vec<Report> {
    receiver
        .received()
        .iter()
        .map(|request| {
            let msg = &request.json()["messages"]["msg"];
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&msg["reference"]),
                text(&msg["channel"]),
                text(&msg["status"]["code"]),
                text(&msg["status"]["errorCode"]),
                text(&msg["status"]["errorDescription"]),
            )
        })
        .collect()
}

/// Wait for `count` reports, then a moment more to see that no other comes.
async fn wait_reports(setup: &Setup, count: usize) -> Vec<Report> {
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.wait_for(count, WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    reports(receiver)
}

fn report(reference: &str, channel: &str, code: &str, error: &str, description: &str) -> Report {
    (
        reference.into(),
        channel.into(),
        code.into(),
        error.into(),
        description.into(),
    )
}

/// The send requests RBM received for `phone` (E.164), in order.
fn requests_to(google: &Google, phone: &str) -> Vec<tern_testkit::google::RbmRequest> {
    google
        .rbm
        .requests()
        .into_iter()
        .filter(|request| request.path == format!("/v1/phones/{phone}/agentMessages"))
        .collect()
}

fn message_id(response: &Value, index: usize) -> String {
    response["messages"][index]["messageId"]
        .as_str()
        .expect("a message id")
        .to_owned()
}

#[tokio::test]
async fn a_text_and_a_rich_card_reach_rbm_and_their_events_become_reports() {
    let (setup, google) = setup(vec![RbmRule::new(
        "+316",
        RbmScript::Accept {
            events: vec![AgentEvent::Delivered, AgentEvent::Read],
            delay: Duration::from_millis(50),
            interval: Duration::from_millis(100),
        },
    )])
    .await;
    let card = json!({"richContent": {"conversation": [{"text": "Look"},
        {"header": "Shoes", "text": "Red ones",
        "media": {"mediaUri": "https://x/s.png", "mimeType": "image/png"},
        "suggestions": [{"action": "Reply", "label": "Buy", "postbackdata": "buy-shoes"}]}]}});
    let response = submit(
        &setup,
        json!([
            message("0031612345678", "text", &["RCS"], json!({})),
            message("0031612345679", "card", &["RCS"], card)
        ]),
    )
    .await;
    let got = wait_reports(&setup, 4).await;
    for reference in ["text", "card"] {
        let of: Vec<&Report> = got.iter().filter(|r| r.0 == reference).collect();
        assert_eq!(
            of,
            [
                &report(reference, "RCS", "2", "", "Delivered"),
                &report(reference, "RCS", "4", "", "Read"),
            ],
            "{got:?}"
        );
    }
    assert_eq!(got.len(), 4, "{got:?}");
    let text = requests_to(&google, "+31612345678");
    assert_eq!(text.len(), 1, "{text:?}");
    assert_eq!(text[0].answered, 200);
    assert_eq!(
        text[0].message_id(),
        Some(message_id(&response, 0).as_str())
    );
    assert_eq!(text[0].query_value("agentId"), Some("acme_agent"));
    let bearer = text[0].header("authorization").unwrap();
    assert!(
        google
            .tokens
            .is_valid(bearer.strip_prefix("Bearer ").unwrap())
    );
    assert_eq!(
        text[0].body,
        Some(json!({"contentMessage": {"text": "Your order shipped"}}))
    );
    // Two agent messages, in order: the last one carries Tern's message id.
    let card = requests_to(&google, "+31612345679");
    assert_eq!(card.len(), 2, "{card:?}");
    let card_id = message_id(&response, 1);
    assert_eq!(card[0].message_id(), Some(format!("{card_id}-1").as_str()));
    assert_eq!(
        card[0].body,
        Some(json!({"contentMessage": {"text": "Look"}}))
    );
    assert_eq!(card[1].message_id(), Some(card_id.as_str()));
    assert_eq!(
        card[1].body,
        Some(json!({"contentMessage": {"richCard": {"standaloneCard": {
            "cardOrientation": "VERTICAL",
            "cardContent": {"title": "Shoes", "description": "Red ones",
                "media": {"height": "MEDIUM", "contentInfo": {"fileUrl": "https://x/s.png"}},
                "suggestions": [{"reply": {"text": "Buy", "postbackData": "buy-shoes"}}]}}}}}))
    );
    // The message log names the connector and the agent message id.
    let log = setup.log("?reference=card").await;
    let entry = &log["messages"][0];
    assert_eq!(entry["status"], "read", "{entry}");
    let entry_text = entry.to_string();
    assert!(entry_text.contains("\"rbm\""), "{entry_text}");
    assert!(entry_text.contains(&format!("{card_id}-1")), "{entry_text}");
    // One token served every send.
    assert_eq!(google.tokens.tokens_issued(), 1);
}

#[tokio::test]
async fn duplicated_and_out_of_order_events_report_each_status_once_and_never_backwards() {
    let events = vec![
        AgentEvent::Read,
        AgentEvent::Delivered,
        AgentEvent::Read,
        AgentEvent::Delivered,
        AgentEvent::Delivered,
    ];
    let (setup, google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::accept(events, Duration::from_millis(10)),
    )])
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "ooo", &["RCS"], json!({}))]),
    )
    .await;
    let posts = google.rbm.wait_for_event_posts(5, WAIT).await;
    assert!(
        posts.iter().all(|post| post.answered == Some(200)),
        "{posts:?}"
    );
    let got = wait_reports(&setup, 1).await;
    assert_eq!(got, [report("ooo", "RCS", "4", "", "Read")]);
}

#[tokio::test]
async fn not_found_falls_back_to_sms_at_once_with_the_reports() {
    let (setup, google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::Refuse(RbmError::not_found()),
    )])
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "fb", &["RCS", "SMS"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got.iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()))
            .collect::<Vec<_>>(),
        [("fb", "RCS", "1", "24"), ("fb", "SMS", "2", "")],
        "{got:?}"
    );
    assert_eq!(requests_to(&google, "+31612345678").len(), 1);
    crate::metrics::wait_for_metrics(
        &setup,
        &[(
            "tern_dispatch_total",
            &[
                ("channel", "RCS"),
                ("connector", "rbm"),
                ("outcome", "failed"),
            ],
            1.0,
        )],
    )
    .await;
}

#[tokio::test]
async fn rate_limiting_is_retried_on_rcs_and_never_falls_back() {
    let (setup, google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::Refuse(RbmError::rate_limited()),
    )])
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "slow", &["RCS", "SMS"], json!({}))]),
    )
    .await;
    // Retried after 1 s, then 2 s: three requests within about 3 s, and no report at all.
    google
        .rbm
        .wait_until("three requests", WAIT, |events| {
            events
                .iter()
                .filter_map(|event| event.as_request())
                .filter(|request| request.path == "/v1/phones/+31612345678/agentMessages")
                .count()
                >= 3
        })
        .await;
    assert!(
        requests_to(&google, "+31612345678")
            .iter()
            .all(|request| request.answered == 429)
    );
    let log = setup.log("?reference=slow").await;
    assert_eq!(log["messages"][0]["status"], "queued", "{log}");
    assert!(setup.receiver.as_ref().unwrap().received().is_empty());
}

#[tokio::test]
async fn ttl_expiration_revoked_falls_back_to_sms() {
    let (setup, _google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::accept(
            vec![AgentEvent::TtlExpirationRevoked],
            Duration::from_millis(10),
        ),
    )])
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "ttl", &["RCS", "SMS"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got.iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()))
            .collect::<Vec<_>>(),
        [("ttl", "RCS", "3", "8"), ("ttl", "SMS", "2", "")],
        "{got:?}"
    );
    assert!(got[0].4.contains("TTL_EXPIRATION_REVOKED"), "{got:?}");
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_changes_nothing_and_validation_answers_the_secret() {
    // Accepted, but no events of RBM's own: the test posts them.
    let (setup, google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::accept(Vec::new(), Duration::ZERO),
    )])
    .await;
    let response = submit(
        &setup,
        json!([message("0031612345678", "sig", &["RCS"], json!({}))]),
    )
    .await;
    let id = message_id(&response, 0);
    google
        .rbm
        .wait_until("the send", WAIT, |events| {
            events.iter().filter_map(|e| e.as_request()).count() >= 1
        })
        .await;
    let delivered = json!({"eventType": "DELIVERED", "eventId": "ev-1", "messageId": id,
        "senderPhoneNumber": "+31612345678", "sendTime": "2026-12-01T10:00:00Z",
        "agentId": "acme_agent"});
    let forged = google.rbm.send_event_badly_signed(&delivered).await;
    assert_eq!(forged.answered, Some(401), "{forged:?}");
    let unsigned = google.rbm.post_webhook(&forged.body, None).await;
    assert_eq!(unsigned.answered, Some(401), "{unsigned:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(setup.receiver.as_ref().unwrap().received().is_empty());
    let log = setup.log("?reference=sig").await;
    assert_ne!(log["messages"][0]["status"], "delivered", "{log}");
    // Signed, the same event counts.
    let signed = google.rbm.send_event(&delivered).await;
    assert_eq!(signed.answered, Some(200), "{signed:?}");
    assert_eq!(
        wait_reports(&setup, 1).await,
        [report("sig", "RCS", "2", "", "Delivered")]
    );
    // An event of an agent message before the last of a message (`{id}-1`) reports nothing.
    let mut early_part = delivered.clone();
    early_part["eventType"] = json!("READ");
    early_part["eventId"] = json!("ev-2");
    early_part["messageId"] = json!(format!("{id}-1"));
    let ignored = google.rbm.send_event(&early_part).await;
    assert_eq!(ignored.answered, Some(200), "{ignored:?}");
    assert_eq!(wait_reports(&setup, 1).await.len(), 1);
    // The validation handshake: the secret, as plain text, only for the agent's client token.
    let validation = google.rbm.send_validation("s3cr3t-42").await;
    assert_eq!(validation.answered, Some(200), "{validation:?}");
    assert_eq!(validation.answer_body, "s3cr3t-42");
    let wrong = google
        .rbm
        .send_validation_with("someone-elses-token", "s3cr3t-42")
        .await;
    assert_eq!(wrong.answered, Some(403), "{wrong:?}");
    assert_ne!(wrong.answer_body, "s3cr3t-42");
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_and_a_rejected_one_is_replaced() {
    // Tokens live 4 s: refreshed at half their life.
    let (setup, google) = setup_with(
        vec![RbmRule::new(
            "+3161",
            RbmScript::accept(vec![AgentEvent::Delivered], Duration::from_millis(10)),
        )],
        Duration::from_secs(4),
        "",
        &[],
    )
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "t1", &["RCS"], json!({}))]),
    )
    .await;
    wait_reports(&setup, 1).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    submit(
        &setup,
        json!([message("0031612345678", "t2", &["RCS"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got,
        [
            report("t1", "RCS", "2", "", "Delivered"),
            report("t2", "RCS", "2", "", "Delivered"),
        ]
    );
    let sent = requests_to(&google, "+31612345678");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|request| request.answered == 200));
    assert_ne!(
        sent[0].header("authorization"),
        sent[1].header("authorization")
    );
    assert_eq!(google.tokens.tokens_issued(), 2);
    // Google stops taking the token in hand: one 401, a fresh token, and the send goes on.
    google.tokens.revoke_all();
    submit(
        &setup,
        json!([message("0031612345678", "t3", &["RCS", "SMS"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 3).await;
    assert_eq!(got[2], report("t3", "RCS", "2", "", "Delivered"), "{got:?}");
    let sent = requests_to(&google, "+31612345678");
    assert_eq!(
        sent.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [200, 200, 401, 200]
    );
    assert_eq!(google.tokens.tokens_issued(), 3);
}

#[tokio::test]
async fn a_missing_service_account_file_stops_the_start_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_account(TERN, &data_dir, &["--name", "acme"]);
    let config = "[[connector]]\nname = \"rbm\"\nkind = \"rbm\"\nagent_id = \"a\"\n\
                  service_account_file = \"nowhere.json\"\nclient_token = \"t\"\n";
    let config_path = data_dir.with_extension("toml");
    std::fs::write(&config_path, config).unwrap();
    let output = std::process::Command::new(TERN)
        .args(["serve", "--data-dir"])
        .arg(&data_dir)
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--smpp-addr",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[[connector]] \"rbm\": service_account_file")
            && stderr.contains("nowhere.json"),
        "{stderr}"
    );
}

#[tokio::test]
async fn inbound_messages_of_every_kind_reach_the_inbound_account_once_in_cms_format() {
    let inbound = WebhookReceiver::start().await;
    let (setup, google) = setup_with(
        Vec::new(),
        Duration::from_secs(3600),
        "inbound_account = \"acme\"",
        &["--inbound-url", inbound.url.as_str()],
    )
    .await;
    let from = "+31612345678";
    let kinds = [
        UserMessageContent::Text("where is it?".into()),
        UserMessageContent::Location {
            latitude: 51.6,
            longitude: 4.77,
        },
        UserMessageContent::UserFile {
            mime_type: "image/jpeg".into(),
            file_uri: "https://rcs.example/files/cat.jpg".into(),
            file_name: "cat.jpg".into(),
            file_size_bytes: 1234,
        },
        UserMessageContent::SuggestionResponse {
            postback_data: "yes-1".into(),
            text: "Yes".into(),
            response_type: "REPLY".into(),
        },
    ];
    let mut first = None;
    for kind in &kinds {
        let (event, post) = google.rbm.send_user_message(from, kind).await;
        assert_eq!(post.answered, Some(200), "{post:?}");
        first.get_or_insert(event);
    }
    // Google posts the first one again: it is not delivered twice.
    let again = google.rbm.send_event(first.as_ref().unwrap()).await;
    assert_eq!(again.answered, Some(200), "{again:?}");
    let received = inbound.wait_for(kinds.len(), WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(inbound.received().len(), kinds.len());
    // Each message counted once, the redelivery not.
    crate::metrics::wait_for_metrics(
        &setup,
        &[(
            "tern_inbound_total",
            &[("channel", "RCS"), ("outcome", "accepted")],
            kinds.len() as f64,
        )],
    )
    .await;
    let mut bodies: Vec<Value> = received.iter().map(|r| r.json()).collect();
    for body in &mut bodies {
        // Tern's id and the arrival time vary; the rest is exact.
        assert!(
            body["reference"].as_str().is_some_and(|r| r.len() == 36),
            "{body}"
        );
        assert!(
            body["timeUtc"].as_str().is_some_and(|t| t.len() == 19),
            "{body}"
        );
        body["reference"] = json!("R");
        body["timeUtc"] = json!("T");
    }
    let envelope = |content: (&str, Value)| {
        let mut body = json!({"reference": "R", "from": {"number": from, "name": ""},
            "to": {"number": "acme_agent"}, "groupings": ["", "", ""], "timeUtc": "T",
            "channel": "RCS"});
        body[content.0] = content.1;
        body
    };
    let message = |text: &str, media: Value, custom: Value| {
        envelope((
            "message",
            json!({"text": text, "media": media, "custom": custom}),
        ))
    };
    let no_media = json!({"mediaUri": "", "contentType": "", "title": ""});
    let expected = vec![
        message("where is it?", no_media.clone(), json!({})),
        message(
            "",
            no_media.clone(),
            json!({"location": {"latitude": 51.6, "longitude": 4.77}}),
        ),
        message(
            "",
            json!({"mediaUri": "https://rcs.example/files/cat.jpg", "contentType": "image/jpeg",
                "title": "cat.jpg"}),
            json!({}),
        ),
        envelope((
            "event",
            json!({"type": "SuggestionClick", "custom": {"postbackdata": "yes-1", "label": "Yes"}}),
        )),
    ];
    for body in &expected {
        assert!(bodies.contains(body), "{body} not in {bodies:#?}");
    }
    // The tap's bytes keep CM's key order.
    let tap = received
        .iter()
        .find(|r| r.json().get("event").is_some())
        .unwrap();
    let tap_text = String::from_utf8_lossy(&tap.body).into_owned();
    assert!(
        tap_text.contains(
            r#""event":{"type":"SuggestionClick","custom":{"postbackdata":"yes-1","label":"Yes"}}"#
        ),
        "{tap_text}"
    );
    // A badly signed user message is refused and recorded nowhere.
    let forged = google
        .rbm
        .user_message_event(from, &UserMessageContent::Text("forged".into()));
    let refused = google.rbm.send_event_badly_signed(&forged).await;
    assert_eq!(refused.answered, Some(401));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbound.received().len(), kinds.len());
}

#[tokio::test]
async fn configuration_errors_fall_back_at_once() {
    let (setup, google) = setup(vec![RbmRule::new(
        "+3161",
        RbmScript::Refuse(RbmError::unauthenticated()),
    )])
    .await;
    // RBM refuses every token: a fresh one is tried once, then the message falls back.
    submit(
        &setup,
        json!([message("0031612345678", "auth", &["RCS", "SMS"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got.iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()))
            .collect::<Vec<_>>(),
        [("auth", "RCS", "1"), ("auth", "SMS", "2")],
        "{got:?}"
    );
    assert_eq!(
        requests_to(&google, "+31612345678")
            .iter()
            .map(|r| r.answered)
            .collect::<Vec<_>>(),
        [401, 401]
    );
    assert_eq!(google.tokens.tokens_issued(), 2);
    // Google's token endpoint refuses the service account: no send at all, the message falls
    // back.
    google.tokens.revoke_all();
    google
        .tokens
        .refuse_with(Some((400, "invalid_grant", "Invalid JWT Signature.")));
    submit(
        &setup,
        json!([message(
            "0031622345678",
            "grant",
            &["RCS", "SMS"],
            json!({})
        )]),
    )
    .await;
    let got = wait_reports(&setup, 4).await;
    assert_eq!(
        got[2..]
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()))
            .collect::<Vec<_>>(),
        [("grant", "RCS", "1"), ("grant", "SMS", "2")],
        "{got:?}"
    );
    // One send with the revoked token; none after the refusal.
    assert_eq!(
        requests_to(&google, "+31622345678")
            .iter()
            .map(|r| r.answered)
            .collect::<Vec<_>>(),
        [401]
    );
}

#[tokio::test]
async fn kill_9_with_messages_in_flight_to_rbm_loses_nothing_and_reports_each_status_once() {
    const MESSAGES: usize = 40;
    let tokens = GoogleTokenStandIn::start(TokenOptions::default()).await;
    let rbm = RbmStandIn::start(RbmOptions {
        // Events come late, and Google retries an event the gateway did not take (it is down).
        default_script: RbmScript::accept(vec![AgentEvent::Delivered], Duration::from_millis(300)),
        webhook_retries: 12,
        webhook_retry_delay: Duration::from_millis(200),
        webhook_concurrency: 8,
        ..RbmOptions::new(tokens.check())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    tokens.write_service_account(dir.path(), "rbm-sa.json");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    // Slow sends keep messages in flight when the gateway is killed.
    let config = rbm_config(&rbm, "").replace("max_sends_per_sec = 1000", "max_sends_per_sec = 40");
    let gateway = Gateway::start_logged(TERN, &data_dir, Some(&config));
    rbm.set_webhook_url(&gateway.url("/webhooks/rbm/rbm"));
    let setup = Setup {
        gateway,
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    };
    let msgs: Vec<Value> = (0..MESSAGES)
        .map(|i| {
            message(
                &format!("00316{:08}", 20_000_000 + i),
                &format!("k{i}"),
                &["RCS"],
                json!({}),
            )
        })
        .collect();
    submit(&setup, Value::Array(msgs)).await;
    rbm.wait_until("some sends", WAIT, |events| {
        events.iter().filter_map(|event| event.as_request()).count() >= 10
    })
    .await;
    let Setup {
        gateway,
        token,
        receiver,
        client,
        _dir,
    } = setup;
    gateway.kill();
    let gateway = Gateway::start_logged(TERN, &_dir.path().join("data"), Some(&config));
    rbm.set_webhook_url(&gateway.url("/webhooks/rbm/rbm"));
    let setup = Setup {
        gateway,
        token,
        receiver,
        client,
        _dir,
    };
    let log = setup.wait_final(MESSAGES, Duration::from_secs(60)).await;
    let statuses: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "delivered"), "{statuses:?}");
    let receiver = setup.receiver.as_ref().unwrap();
    crate::assert_each_reported_once(receiver, MESSAGES, "2").await;
}
