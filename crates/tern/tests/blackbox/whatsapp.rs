//! The WhatsApp Cloud API connector, black-box: a gateway whose WhatsApp route is a
//! `[[connector]]` of kind `whatsapp-cloud` pointed at tern-testkit's stand-in of Meta's Graph
//! API (both on loopback); the stand-in checks every request as Meta does and posts signed
//! status webhooks back to `/webhooks/whatsapp/wa`. Status reports go to a local receiver and
//! are counted exactly.

use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::meta::{
    Inbound, InboundContent, MetaError, MetaGraphStandIn, MetaOptions, RecipientRule, Script,
    StatusStep, hub_signature,
};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::{Setup, TERN};

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(20);

/// The verify token of the connector's webhook.
const VERIFY_TOKEN: &str = "tern-verify-token";

/// A `[[connector]]` `wa` of kind whatsapp-cloud to `meta`, with `extra` settings, and the route
/// that sends every WhatsApp message over it.
pub(crate) fn whatsapp_config(meta: &MetaGraphStandIn, extra: &str) -> String {
    let options = meta.options();
    format!(
        "[[connector]]\nname = \"wa\"\nkind = \"whatsapp-cloud\"\nbase_url = \"{}\"\n\
         api_version = \"{}\"\nphone_number_id = \"{}\"\naccess_token = \"{}\"\n\
         app_secret = \"{}\"\nverify_token = \"{VERIFY_TOKEN}\"\nmax_sends_per_sec = 1000\n{extra}\n\
         [[route]]\nchannel = \"WhatsApp\"\nconnector = \"wa\"\n",
        meta.base_url,
        options.api_version,
        options.phone_number_id,
        options.access_token,
        options.app_secret,
    )
}

/// A Meta stand-in following `rules`, and a gateway (account `acme`, reports to a receiver)
/// whose WhatsApp goes to it; the stand-in's webhooks go to the gateway.
async fn setup(rules: Vec<RecipientRule>, extra: &str) -> (Setup, MetaGraphStandIn) {
    setup_with(rules, extra, &[]).await
}

/// [`setup`], the account created with `account_args` besides its name and status URL.
async fn setup_with(
    rules: Vec<RecipientRule>,
    extra: &str,
    account_args: &[&str],
) -> (Setup, MetaGraphStandIn) {
    let meta = MetaGraphStandIn::start(MetaOptions {
        rules,
        webhook_concurrency: 1,
        ..MetaOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let mut args = vec!["--name", "acme", "--status-url", receiver.url.as_str()];
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start_logged_at(
        TERN,
        &data_dir,
        Some(&whatsapp_config(&meta, extra)),
        Some("info"),
    );
    meta.set_webhook_url(&gateway.url("/webhooks/whatsapp/wa"));
    let setup = Setup {
        gateway,
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    };
    (setup, meta)
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

/// Every report received: (reference, channel, status code, error code, description), in
/// arrival order.
fn reports(receiver: &WebhookReceiver) -> Vec<(String, String, String, String, String)> {
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
async fn wait_reports(
    setup: &Setup,
    count: usize,
) -> Vec<(String, String, String, String, String)> {
    let receiver = setup.receiver.as_ref().unwrap();
    receiver.wait_for(count, WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    reports(receiver)
}

fn report(
    reference: &str,
    channel: &str,
    code: &str,
    error: &str,
    description: &str,
) -> (String, String, String, String, String) {
    (
        reference.into(),
        channel.into(),
        code.into(),
        error.into(),
        description.into(),
    )
}

/// The requests Meta received for `to` (digits), in order.
fn requests_to(meta: &MetaGraphStandIn, to: &str) -> Vec<Value> {
    meta.requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .filter_map(|request| request.body)
        .filter(|body| body["to"] == to)
        .collect()
}

#[tokio::test]
async fn a_text_goes_to_meta_and_its_statuses_become_reports() {
    let (setup, meta) = setup(Vec::new(), "").await;
    let response = submit(
        &setup,
        json!([message("0031612345678", "wa-1", &["WhatsApp"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got,
        [
            report("wa-1", "WhatsApp", "0", "", "Accepted by operator"),
            report("wa-1", "WhatsApp", "2", "", "Delivered"),
        ]
    );
    let requests = meta.requests();
    let sent: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].answered, 200);
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer meta-test-token")
    );
    let body = sent[0].body.clone().unwrap();
    let id = response["messages"][0]["messageId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut expected = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
        "to": "31612345678", "type": "text",
        "text": {"body": "Your order shipped", "preview_url": false}});
    if !id.is_empty() {
        expected["biz_opaque_callback_data"] = json!(format!("{id}:1:0/1"));
    } else {
        expected["biz_opaque_callback_data"] = body["biz_opaque_callback_data"].clone();
        assert!(
            body["biz_opaque_callback_data"]
                .as_str()
                .unwrap()
                .ends_with(":1:0/1")
        );
    }
    assert_eq!(body, expected);
    // The message log names the connector and Meta's wamid.
    let log = setup.log("?reference=wa-1").await;
    let entry = &log["messages"][0];
    assert_eq!(entry["status"], "delivered", "{entry}");
    let text = entry.to_string();
    assert!(text.contains("\"wa\""), "{text}");
    assert!(text.contains(sent[0].wamid().unwrap()), "{text}");
}

#[tokio::test]
async fn duplicated_and_out_of_order_statuses_report_each_status_once_and_never_backwards() {
    let steps = vec![
        StatusStep::Sent,
        StatusStep::Read,
        StatusStep::Delivered,
        StatusStep::Sent,
        StatusStep::Read,
        StatusStep::Delivered,
    ];
    let (setup, meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::accept(steps, Duration::from_millis(10)),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message("0031612345678", "ooo", &["WhatsApp"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got,
        [
            report("ooo", "WhatsApp", "0", "", "Accepted by operator"),
            report("ooo", "WhatsApp", "4", "", "Read"),
        ]
    );
    let posts = meta.wait_for_status_posts(6, WAIT).await;
    assert!(
        posts.iter().all(|post| post.answered == Some(200)),
        "{posts:?}"
    );
}

#[tokio::test]
async fn undeliverable_falls_back_to_sms_at_once_with_the_reports_the_spec_describes() {
    let (setup, meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::Refuse(MetaError::undeliverable()),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "fb",
            &["WhatsApp", "SMS"],
            json!({})
        )]),
    )
    .await;
    let final_log = setup.wait_final(1, WAIT).await;
    assert_eq!(
        final_log["messages"][0]["status"], "delivered",
        "{final_log}"
    );
    let got = wait_reports(&setup, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (
            got[0].0.as_str(),
            got[0].1.as_str(),
            got[0].2.as_str(),
            got[0].3.as_str()
        ),
        ("fb", "WhatsApp", "1", "24"),
        "{got:?}"
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_str(), got[1].2.as_str()),
        ("fb", "SMS", "2"),
        "{got:?}"
    );
    assert_eq!(requests_to(&meta, "31612345678").len(), 1);
    // Counted as a failed send on WhatsApp, then a sent one on SMS.
    crate::metrics::wait_for_metrics(
        &setup,
        &[
            (
                "tern_dispatch_total",
                &[
                    ("channel", "WhatsApp"),
                    ("connector", "wa"),
                    ("outcome", "failed"),
                ],
                1.0,
            ),
            (
                "tern_dispatch_total",
                &[
                    ("channel", "SMS"),
                    ("connector", "simulator"),
                    ("outcome", "sent"),
                ],
                1.0,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_failed_status_falls_back_with_metas_code_in_the_description() {
    let steps = vec![StatusStep::Failed(MetaError::re_engagement())];
    let (setup, _meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::accept(steps, Duration::from_millis(10)),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "late",
            &["WhatsApp", "SMS"],
            json!({})
        )]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got[0],
        report(
            "late",
            "WhatsApp",
            "3",
            "5",
            "WhatsApp 131047: Re-engagement message"
        ),
        "{got:?}"
    );
    assert_eq!(
        (got[1].1.as_str(), got[1].2.as_str()),
        ("SMS", "2"),
        "{got:?}"
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[tokio::test]
async fn throttling_is_retried_on_whatsapp_and_never_falls_back() {
    let (setup, meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::Refuse(MetaError::rate_limited()),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "slow",
            &["WhatsApp", "SMS"],
            json!({})
        )]),
    )
    .await;
    // Retried after 1 s, then 2 s: three requests within about 3 s, and no report at all.
    meta.wait_until("three requests", WAIT, |events| {
        events
            .iter()
            .filter_map(|event| event.as_request())
            .filter(|request| {
                request
                    .body
                    .as_ref()
                    .is_some_and(|body| body["to"] == "31612345678")
            })
            .count()
            >= 3
    })
    .await;
    let log = setup.log("?reference=slow").await;
    assert_eq!(log["messages"][0]["status"], "queued", "{log}");
    assert!(setup.receiver.as_ref().unwrap().received().is_empty());
}

#[tokio::test]
async fn a_configuration_error_falls_back_and_is_logged_loudly() {
    let (setup, _meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::Refuse(MetaError::invalid_token()),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "cfg",
            &["WhatsApp", "SMS"],
            json!({})
        )]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(
        got.iter()
            .map(|r| (r.1.as_str(), r.2.as_str()))
            .collect::<Vec<_>>(),
        [("WhatsApp", "1"), ("SMS", "2")],
        "{got:?}"
    );
    setup
        .gateway
        .wait_for_log(
            &["ERROR", "WhatsApp refused Tern's credentials", "190"],
            WAIT,
        )
        .await;
}

#[tokio::test]
async fn the_webhook_answers_metas_handshake_and_refuses_bad_signatures() {
    let (setup, meta) = setup(Vec::new(), "").await;
    let client = http_client();
    let url = setup.gateway.url("/webhooks/whatsapp/wa");
    let get = |query: String| {
        let client = client.clone();
        let url = format!("{url}?{query}");
        async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(
        get(format!(
            "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        ))
        .await,
        (200, "1158201444".to_owned())
    );
    assert_eq!(
        get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".into())
            .await
            .0,
        403
    );
    // A delivered status for a message that was sent, signed with the wrong secret: 401, and
    // the message stays as it was.
    submit(
        &setup,
        json!([message("0031612345678", "sig", &["WhatsApp"], json!({}))]),
    )
    .await;
    let got = wait_reports(&setup, 2).await;
    assert_eq!(got.len(), 2);
    let request = requests_to(&meta, "31612345678").remove(0);
    let callback = request["biz_opaque_callback_data"].as_str().unwrap();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1122334455"},
        "statuses": [{"id": "wamid.forged", "status": "failed", "timestamp": "1700000000",
            "recipient_id": "31612345678", "biz_opaque_callback_data": callback,
            "errors": [{"code": 131026, "title": "Message undeliverable"}]}]}}]}]})
    .to_string();
    for signature in [
        Some(hub_signature("not-the-app-secret", body.as_bytes())),
        Some("sha256=zz".to_owned()),
        None,
    ] {
        let mut post = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = &signature {
            post = post.header("x-hub-signature-256", signature);
        }
        let response = post.send().await.unwrap();
        assert_eq!(response.status(), 401, "{signature:?}");
    }
    // Unknown connectors are not found.
    let response = client
        .post(setup.gateway.url("/webhooks/whatsapp/nope"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reports(setup.receiver.as_ref().unwrap()).len(), 2);
    let log = setup.log("?reference=sig").await;
    assert_eq!(log["messages"][0]["status"], "delivered", "{log}");
    // Correctly signed but unreadable: 400.
    let garbage = b"{not json";
    let response = client
        .post(&url)
        .header(
            "x-hub-signature-256",
            hub_signature("meta-test-app-secret", garbage),
        )
        .body(garbage.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn throttling_that_arrives_as_a_failed_status_is_retried_without_a_second_report() {
    let steps = vec![
        StatusStep::Sent,
        StatusStep::Failed(MetaError::rate_limited()),
    ];
    let (setup, meta) = setup(
        vec![RecipientRule::new(
            "3161",
            Script::accept(steps, Duration::from_millis(10)),
        )],
        "",
    )
    .await;
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "async",
            &["WhatsApp", "SMS"],
            json!({})
        )]),
    )
    .await;
    // Sent again after 1 s, then after 2 s more; each send is a new attempt.
    let events = meta
        .wait_until("three sends", WAIT, |events| {
            events
                .iter()
                .filter_map(|event| event.as_request())
                .filter(|request| request.method == "POST")
                .count()
                >= 3
        })
        .await;
    let callbacks: Vec<String> = events
        .iter()
        .filter_map(|event| event.as_request())
        .filter_map(|request| request.body.as_ref())
        .map(|body| {
            body["biz_opaque_callback_data"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(callbacks[0].ends_with(":1:0/1"), "{callbacks:?}");
    assert!(callbacks[1].ends_with(":2:0/1"), "{callbacks:?}");
    assert!(callbacks[2].ends_with(":3:0/1"), "{callbacks:?}");
    // Accepted once, never failed over to SMS.
    let got = reports(setup.receiver.as_ref().unwrap());
    assert_eq!(
        got,
        [report("async", "WhatsApp", "0", "", "Accepted by operator")]
    );
}

#[tokio::test]
async fn inbound_messages_of_every_kind_reach_the_inbound_account_once_in_cms_format() {
    let inbound = WebhookReceiver::start().await;
    let (setup, meta) = setup_with(
        Vec::new(),
        "inbound_account = \"acme\"",
        &["--inbound-url", inbound.url.as_str()],
    )
    .await;
    // A message of Tern's that the first inbound message answers.
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "order-7",
            &["WhatsApp"],
            json!({})
        )]),
    )
    .await;
    wait_reports(&setup, 2).await;
    let sent_wamid = meta
        .requests()
        .iter()
        .find_map(|request| request.wamid().map(str::to_owned))
        .unwrap();
    let photo = meta.add_media("media-1", "image/jpeg", b"\xff\xd8 not really a jpeg");
    let contacts = json!([{"name": {"formatted_name": "Bob B", "first_name": "Bob"},
        "phones": [{"phone": "+31687654321", "type": "CELL", "wa_id": "31687654321"}]}]);
    let kinds = vec![
        Inbound::new(
            "31612345678",
            InboundContent::Text {
                body: "where is it?".into(),
            },
        )
        .replying_to(&sent_wamid),
        Inbound::new(
            "31612345678",
            InboundContent::Image {
                media_id: "media-1".into(),
                mime_type: "image/jpeg".into(),
                sha256: photo,
                caption: Some("the box".into()),
            },
        ),
        Inbound::new(
            "31612345678",
            InboundContent::Location {
                latitude: 51.6,
                longitude: 4.77,
                name: Some("CM HQ".into()),
                address: Some("Konijnenberg 30".into()),
            },
        ),
        Inbound::new(
            "31612345678",
            InboundContent::Contacts {
                contacts: contacts.clone(),
            },
        ),
        Inbound::new(
            "31612345678",
            InboundContent::ButtonReply {
                id: "yes-1".into(),
                title: "Yes".into(),
            },
        ),
        Inbound::new(
            "31612345678",
            InboundContent::ListReply {
                id: "row-2".into(),
                title: "Tomorrow".into(),
                description: None,
            },
        ),
        Inbound::new(
            "31612345678",
            InboundContent::Button {
                payload: "STOP".into(),
                text: "Stop promotions".into(),
            },
        ),
    ];
    let mut first_body = None;
    for kind in &kinds {
        let (_, post) = meta.send_inbound(kind).await;
        assert_eq!(post.answered, Some(200), "{post:?}");
        first_body.get_or_insert(post.body.clone());
    }
    // Meta posts the first one again: it is not delivered twice.
    let again = meta
        .post_webhook(
            first_body.as_ref().unwrap(),
            Some(&hub_signature(
                "meta-test-app-secret",
                first_body.as_ref().unwrap(),
            )),
        )
        .await;
    assert_eq!(again.answered, Some(200));
    let received = inbound.wait_for(kinds.len(), WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(inbound.received().len(), kinds.len());
    let bodies: Vec<Value> = received.iter().map(|r| r.json()).collect();
    let by_text = |text: &str| {
        bodies
            .iter()
            .find(|body| body["message"]["text"] == text)
            .unwrap_or_else(|| panic!("no inbound webhook with text {text:?}: {bodies:#?}"))
            .clone()
    };
    for body in &bodies {
        assert_eq!(body["channel"], "WhatsApp", "{body}");
        assert_eq!(
            body["from"],
            json!({"number": "+31612345678", "name": "Ann"})
        );
        assert_eq!(body["to"], json!({"number": "+15550001111"}));
    }
    let reply = by_text("where is it?");
    assert_eq!(reply["messageContext"], "order-7", "{reply}");
    assert_eq!(reply["message"]["custom"], json!({}));
    let image = by_text("the box");
    assert_eq!(
        image["message"]["media"],
        json!({"mediaUri": format!("{}/media/media-1", meta.base_url),
               "contentType": "image/jpeg", "title": "the box"})
    );
    assert_eq!(image["message"]["custom"], json!({"mediaId": "media-1"}));
    assert!(image.get("messageContext").is_none(), "{image}");
    let location = by_text("CM HQ");
    assert_eq!(
        location["message"]["custom"],
        json!({"location": {"latitude": 51.6, "longitude": 4.77, "label": "CM HQ",
                            "searchQuery": "Konijnenberg 30"}})
    );
    let shared = by_text("");
    assert_eq!(shared["message"]["custom"], json!({"contacts": contacts}));
    let yes = by_text("Yes");
    assert_eq!(
        yes["message"]["custom"],
        json!({"postbackdata": "yes-1",
               "interactive": {"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes"}}})
    );
    let row = by_text("Tomorrow");
    assert_eq!(row["message"]["custom"]["postbackdata"], "row-2");
    let stop = by_text("Stop promotions");
    assert_eq!(
        stop["message"]["custom"],
        json!({"postbackdata": "STOP", "button": {"payload": "STOP", "text": "Stop promotions"}})
    );
    // The message log shows them as received on WhatsApp.
    let log = setup.log("?limit=100").await;
    let inbound_entries = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["direction"] == "mo")
        .count();
    assert_eq!(inbound_entries, kinds.len(), "{log}");
    // A badly signed inbound message is refused and recorded nowhere.
    let (_, refused) = meta
        .send_inbound_badly_signed(&Inbound::new(
            "31612345678",
            InboundContent::Text {
                body: "forged".into(),
            },
        ))
        .await;
    assert_eq!(refused.answered, Some(401));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbound.received().len(), kinds.len());
    // Each message counted once: neither the redelivery nor the forgery.
    crate::metrics::wait_for_metrics(
        &setup,
        &[(
            "tern_inbound_total",
            &[("channel", "WhatsApp"), ("outcome", "accepted")],
            kinds.len() as f64,
        )],
    )
    .await;
}

#[tokio::test]
async fn kill_9_with_messages_in_flight_to_meta_loses_nothing_and_reports_each_status_once() {
    const MESSAGES: usize = 60;
    let meta = MetaGraphStandIn::start(MetaOptions {
        // Statuses come late, and Meta retries a status POST that failed (the gateway is down).
        default_script: Script::accept(vec![StatusStep::Delivered], Duration::from_millis(300)),
        webhook_retries: 12,
        webhook_retry_delay: Duration::from_millis(200),
        webhook_concurrency: 8,
        ..MetaOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    // Slow sends (a low rate) keep messages in flight when the gateway is killed.
    let config =
        whatsapp_config(&meta, "").replace("max_sends_per_sec = 1000", "max_sends_per_sec = 40");
    let gateway = Gateway::start_logged(TERN, &data_dir, Some(&config));
    meta.set_webhook_url(&gateway.url("/webhooks/whatsapp/wa"));
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
                &format!("00316{:08}", 10_000_000 + i),
                &format!("k{i}"),
                &["WhatsApp"],
                json!({}),
            )
        })
        .collect();
    submit(&setup, Value::Array(msgs)).await;
    // Some sent, most not yet: kill -9.
    meta.wait_until("some sends", WAIT, |events| {
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
    meta.set_webhook_url(&gateway.url("/webhooks/whatsapp/wa"));
    let setup = Setup {
        gateway,
        token,
        receiver,
        client,
        _dir,
    };
    // Every message delivered, each reported delivered once (a report may be posted twice
    // across the crash: delivery is at-least-once, with the same report id).
    let receiver = setup.receiver.as_ref().unwrap();
    let log = setup.wait_final(MESSAGES, Duration::from_secs(60)).await;
    let statuses: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "delivered"), "{statuses:?}");
    crate::assert_each_reported_once(receiver, MESSAGES, "2").await;
}

#[tokio::test]
async fn every_conversation_part_and_suggestion_reaches_meta_in_its_shape() {
    let (setup, meta) = setup(Vec::new(), "").await;
    let media = |name: &str, uri: &str, mime: &str| json!({"media": {"mediaName": name, "mediaUri": uri, "mimeType": mime}});
    let rich = json!({
        "conversation": [
            {"text": "Your order shipped"},
            media("box", "https://example.com/box.jpg", "image/jpeg"),
            media("unboxing", "https://example.com/unboxing.mp4", "video/mp4"),
            media("jingle", "https://example.com/jingle.ogg", "audio/ogg"),
            media("invoice.pdf", "https://example.com/invoice.pdf", "application/pdf"),
            {"location": {"latitude": "51.603802", "longitude": "4.770821", "label": "CM HQ",
                          "searchQuery": "Konijnenberg 30"}},
            {"contacts": [{"name": {"formatted_name": "CM Developer"},
                           "phones": [{"phone": "+31765727000", "type": "WORK"}]}]},
            {"template": {"whatsapp": {"namespace": "ns", "element_name": "order_update",
                "language": {"policy": "deterministic", "code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}]}}},
            {"interactive": {"type": "button", "body": {"text": "Rate us"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "5", "title": "Great"}}]}}}
        ],
        "suggestions": [
            {"action": "Reply", "label": "Track", "postbackdata": "track"},
            {"action": "Reply", "label": "Cancel", "postbackdata": "cancel"}
        ]
    });
    submit(
        &setup,
        json!([message(
            "0031612345678",
            "parts",
            &["WhatsApp"],
            json!({"richContent": rich})
        )]),
    )
    .await;
    wait_reports(&setup, 2).await;
    let sent: Vec<_> = meta
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .collect();
    assert!(
        sent.iter().all(|request| request.answered == 200),
        "Meta refused a request: {sent:#?}"
    );
    let bodies: Vec<Value> = sent.iter().map(|r| r.body.clone().unwrap()).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "interactive",
            "image",
            "video",
            "audio",
            "document",
            "location",
            "contacts",
            "template",
            "interactive"
        ]
    );
    assert_eq!(
        bodies[0]["interactive"],
        json!({"type": "button", "body": {"text": "Your order shipped"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "track", "title": "Track"}},
            {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}}]}})
    );
    assert_eq!(
        bodies[4]["document"],
        json!({"link": "https://example.com/invoice.pdf", "filename": "invoice.pdf"})
    );
    assert_eq!(bodies[7]["template"]["name"], "order_update");
    // Every request names the message, its send and its place; the report comes once, from the
    // last request's statuses.
    for (index, body) in bodies.iter().enumerate() {
        let callback = body["biz_opaque_callback_data"].as_str().unwrap();
        assert!(callback.ends_with(&format!(":1:{index}/9")), "{callback}");
    }
    let got = reports(setup.receiver.as_ref().unwrap());
    assert_eq!(
        got,
        [
            report("parts", "WhatsApp", "0", "", "Accepted by operator"),
            report("parts", "WhatsApp", "2", "", "Delivered"),
        ]
    );
}

/// Two nodes on one PostgreSQL database share a WhatsApp connector's `max_sends_per_sec`: it
/// holds for the gateway as a whole. Each node logs its half; thirty messages at ten a second
/// for the cluster (each node's bucket empty when its share starts) take about three seconds
/// to reach Meta, where two nodes each at the whole rate would send twenty at once and the
/// rest within half a second.
#[tokio::test]
async fn two_nodes_on_one_database_share_the_connectors_send_rate() {
    let url = tern_testkit::postgres::PgCluster::shared().create_database();
    let meta = MetaGraphStandIn::start(MetaOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let created = std::process::Command::new(TERN)
        .args([
            "account",
            "create",
            "--database-url",
            &url,
            "--name",
            "acme",
        ])
        .args(["--status-url", &receiver.url])
        .env("TERN_LOG", "warn")
        .env_remove("TERN_DATABASE_URL")
        .output()
        .expect("run tern account create");
    assert!(created.status.success(), "{created:?}");
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .expect("a token")
        .trim()
        .to_owned();
    let config = |node: &str| {
        format!(
            "database_url = \"{url}\"\n[cluster]\nnode_id = \"{node}\"\nlease_secs = 3\n\
             heartbeat_secs = 1\n[dispatch]\nlease_secs = 3\n{}",
            whatsapp_config(&meta, "")
                .replace("max_sends_per_sec = 1000", "max_sends_per_sec = 10")
        )
    };
    let nodes: Vec<Gateway> = ["a", "b"]
        .iter()
        .map(|node| {
            let data_dir = dir.path().join(node);
            std::fs::create_dir_all(&data_dir).unwrap();
            Gateway::start_logged_at(TERN, &data_dir, Some(&config(node)), Some("info"))
        })
        .collect();
    meta.set_webhook_url(&nodes[0].url("/webhooks/whatsapp/wa"));
    for node in &nodes {
        node.wait_for_log(
            &[
                "connector's share of the cluster's send rate",
                "connector=wa",
                "max_sends_per_sec=5",
                "nodes=2",
            ],
            WAIT,
        )
        .await;
    }
    let msgs: Vec<Value> = (0..30)
        .map(|n| {
            message(
                &format!("00316{n:08}"),
                &format!("r{n}"),
                &["WhatsApp"],
                json!({}),
            )
        })
        .collect();
    let setup = Setup {
        gateway: nodes.into_iter().next().unwrap(),
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    };
    let start = std::time::Instant::now();
    submit(&setup, Value::Array(msgs)).await;
    meta.wait_for_counts("30 messages accepted", WAIT, |counts| counts.accepted >= 30)
        .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "30 messages reached Meta in {took:?}: faster than 10 a second"
    );
    // Each message reported delivered, once.
    let receiver = setup.receiver.as_ref().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let delivered = |reports: &[(String, String, String, String, String)]| {
        let mut references: Vec<&str> = reports
            .iter()
            .filter(|report| report.2 == "2")
            .map(|report| report.0.as_str())
            .collect();
        references.sort_unstable();
        references.dedup();
        references.len()
    };
    while delivered(&reports(receiver)) < 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            reports(receiver)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let all = reports(receiver);
    let delivered_reports = all.iter().filter(|report| report.2 == "2").count();
    assert_eq!(delivered_reports, 30, "{all:?}");
    assert_eq!(meta.counts().accepted, 30);
}
