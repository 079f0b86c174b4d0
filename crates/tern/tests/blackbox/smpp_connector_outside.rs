//! The SMPP client connector against an SMSC not written in this project: the npm `smpp`
//! package's server (farhadi/node-smpp) behind `tern_testkit::node_smsc`, which reports every
//! submit_sm it receives with its exact octets. The bytes Tern puts on the wire, each receipt id
//! format, and an SMSC that dies with submits unanswered.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::node_smsc::{IdFormat, NodeSmsc, SmscOptions};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::TERN;
use crate::smpp_connector::{sms, wait_reports};

/// How long anything awaited may take (the first run installs the npm package).
const WAIT: Duration = Duration::from_secs(30);

fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tern"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// A gateway whose SMS go over an smpp connector to `smsc`, logging at info, with one account
/// whose reports go to the returned receiver; its token.
struct Routed {
    gateway: Gateway,
    receiver: WebhookReceiver,
    token: String,
    _dir: tempfile::TempDir,
}

async fn routed_to(smsc: &NodeSmsc, receipt_id_format: &str) -> Routed {
    routed_with(smsc, receipt_id_format, &[]).await
}

async fn routed_with(smsc: &NodeSmsc, receipt_id_format: &str, account_args: &[&str]) -> Routed {
    let config = format!(
        "[[connector]]\nname = \"node\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {}\n\
         system_id = \"smsc\"\npassword = \"secret\"\nreconnect_min_ms = 100\nreconnect_max_ms = 400\n\
         receipt_id_format = \"{receipt_id_format}\"\n\n[[route]]\nconnector = \"node\"\n",
        smsc.port()
    );
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let mut args = vec!["--name", "acme", "--status-url", receiver.url.as_str()];
    args.extend(account_args);
    let token = create_account(TERN, &data_dir, &args);
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    gateway
        .wait_for_log(&["connector bound", "node"], WAIT)
        .await;
    Routed {
        gateway,
        receiver,
        token,
        _dir: dir,
    }
}

impl Routed {
    async fn submit(&self, msgs: Value) -> Value {
        let body =
            json!({"messages": {"authentication": {"producttoken": self.token}, "msg": msgs}});
        let response = http_client()
            .post(self.gateway.url("/v1.0/message"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    /// Wait for `count` reports, then a moment more; (reference, status code), sorted.
    async fn reports(&self, count: usize) -> Vec<(String, String)> {
        wait_reports(&self.receiver, count).await
    }
}

/// The submit_sm events the SMSC reported for `destination`, in order.
fn submits_to(smsc: &NodeSmsc, destination: &str) -> Vec<Value> {
    smsc.events()
        .into_iter()
        .filter(|event| event["event"] == "submit_sm" && event["destination"] == destination)
        .collect()
}

#[tokio::test]
async fn gsm_ucs2_and_multipart_go_on_the_wire_as_the_encoding_module_says() {
    let smsc = NodeSmsc::start(target_dir(), &SmscOptions::default());
    let routed = routed_to(&smsc, "as-is").await;
    let long = "a".repeat(200);
    routed
        .submit(json!([
            sms("0031612345678", "hi @ {x}", "gsm"),
            sms("+31612345679", "Привет", "ucs2"),
            sms("0031612345670", &long, "long"),
        ]))
        .await;
    assert_eq!(
        routed.reports(3).await,
        vec![
            ("gsm".into(), "2".into()),
            ("long".into(), "2".into()),
            ("ucs2".into(), "2".into()),
        ]
    );
    // GSM: data_coding 0, unpacked septets ('@' is 0x00, '{' the escape 0x1B 0x28).
    let gsm = submits_to(&smsc, "31612345678");
    assert_eq!(gsm.len(), 1, "{gsm:?}");
    assert_eq!(
        (
            &gsm[0]["data_coding"],
            &gsm[0]["esm_class"],
            &gsm[0]["registered_delivery"]
        ),
        (&json!(0), &json!(0), &json!(1))
    );
    assert_eq!(
        gsm[0]["short_message_hex"],
        "6869200020 1b28781b29".replace(' ', "")
    );
    assert_eq!(gsm[0]["source"], "Tern");
    // UCS2: data_coding 8, UTF-16BE.
    let ucs2 = submits_to(&smsc, "31612345679");
    assert_eq!(ucs2.len(), 1, "{ucs2:?}");
    assert_eq!(
        (&ucs2[0]["data_coding"], &ucs2[0]["esm_class"]),
        (&json!(8), &json!(0))
    );
    assert_eq!(ucs2[0]["short_message_hex"], "041f04400438043204350442");
    // Two parts, each with the 8-bit reference header and asking for a receipt.
    let parts = submits_to(&smsc, "31612345670");
    assert_eq!(parts.len(), 2, "{parts:?}");
    let headers: Vec<String> = parts
        .iter()
        .map(|part| {
            assert_eq!(
                (&part["data_coding"], &part["esm_class"]),
                (&json!(0), &json!(64))
            );
            assert_eq!(part["registered_delivery"], 1);
            part["short_message_hex"].as_str().unwrap()[..12].to_owned()
        })
        .collect();
    let reference = &headers[0][6..8];
    assert_eq!(
        headers,
        [
            format!("050003{reference}0201"),
            format!("050003{reference}0202")
        ]
    );
    assert_eq!(
        parts[0]["short_message_hex"].as_str().unwrap().len(),
        2 * (6 + 153)
    );
    assert_eq!(
        parts[1]["short_message_hex"].as_str().unwrap().len(),
        2 * (6 + 47)
    );
}

#[tokio::test]
async fn each_receipt_id_format_matches_receipts_to_their_messages() {
    // (resp ids, receipt ids, zero-padded width, receipt_id_format)
    let cases = [
        (IdFormat::Decimal, None, 12, "as-is"),
        (IdFormat::HexUpper, Some(IdFormat::HexLower), 10, "as-is"),
        (IdFormat::Decimal, Some(IdFormat::HexUpper), 0, "hex"),
        (IdFormat::HexLower, Some(IdFormat::Decimal), 8, "decimal"),
    ];
    for (resp, receipt, width, format) in cases {
        let options = SmscOptions {
            message_id_format: resp,
            receipt_id_format: receipt,
            message_id_width: width,
            first_message_id: 4_000_000_123,
            receipt_tlvs: format == "hex",
            ..SmscOptions::default()
        };
        let smsc = NodeSmsc::start(target_dir(), &options);
        let routed = routed_to(&smsc, format).await;
        routed
            .submit(json!([
                sms("0031612345678", "hi", "r1"),
                sms("0031612345679", "yo", "r2")
            ]))
            .await;
        assert_eq!(
            routed.reports(2).await,
            vec![("r1".into(), "2".into()), ("r2".into(), "2".into())],
            "{format}: {:?}",
            smsc.events()
        );
        // The log shows each part's id as the SMSC wrote it in submit_sm_resp.
        let submitted = submits_to(&smsc, "31612345678");
        let log = http_client()
            .get(routed.gateway.url("/v1.0/messages?reference=r1"))
            .header("X-CM-PRODUCTTOKEN", &routed.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let log: Value = serde_json::from_str(&log).unwrap();
        assert_eq!(
            log["messages"][0]["sends"],
            json!([{"attempt": 1, "connector": "node", "externalIds": [submitted[0]["message_id"]]}]),
            "{format}"
        );
    }
}

#[tokio::test]
async fn an_smsc_that_dies_with_submits_unanswered_gets_them_again_and_reports_each_once() {
    let options = SmscOptions {
        drop_unanswered_submits: 3,
        ..SmscOptions::default()
    };
    let smsc = NodeSmsc::start(target_dir(), &options);
    let routed = routed_to(&smsc, "as-is").await;
    let msgs: Vec<Value> = (0..5)
        .map(|index| sms(&format!("003161234567{index}"), "hi", &format!("r{index}")))
        .collect();
    routed.submit(Value::Array(msgs)).await;
    let got = routed.reports(5).await;
    assert_eq!(
        got,
        (0..5)
            .map(|index| (format!("r{index}"), "2".to_owned()))
            .collect::<Vec<_>>()
    );
    let events = smsc.events();
    let dropped = events
        .iter()
        .filter(|event| event["event"] == "submit_dropped")
        .count();
    assert_eq!(dropped, 3, "{events:?}");
    // Every message was taken by the SMSC once it was back (a submit the SMSC answered just
    // before it dropped the session may have been taken twice: at least once toward the SMSC,
    // and the receipt of the copy whose answer was lost changed nothing above).
    for index in 0..5 {
        assert!(!submits_to(&smsc, &format!("3161234567{index}")).is_empty());
    }
    routed
        .gateway
        .wait_for_log(&["connector lost", "node"], WAIT)
        .await;
}

#[tokio::test]
async fn an_mo_from_the_outside_smsc_reaches_the_inbound_webhook() {
    let smsc = NodeSmsc::start(target_dir(), &SmscOptions::default());
    let inbound = WebhookReceiver::start().await;
    let _routed = routed_with(
        &smsc,
        "as-is",
        &[
            "--inbound-numbers",
            "3669",
            "--inbound-url",
            inbound.url.as_str(),
        ],
    )
    .await;
    smsc.send_mo("31612345678", "3669", "Hello from node");
    let got = inbound.wait_for(1, WAIT).await;
    let body = got[0].json();
    assert_eq!(
        body["from"],
        json!({"number": "+31612345678", "name": ""}),
        "{body}"
    );
    assert_eq!(body["to"], json!({"number": "3669"}), "{body}");
    assert_eq!(body["message"]["text"], "Hello from node", "{body}");
    assert_eq!(body["channel"], "SMS", "{body}");
    // The SMSC got its deliver_sm_resp with status 0 once the MO was stored.
    let resp = smsc.wait_for("the MO's deliver_sm_resp", WAIT, |event| {
        event["event"] == "deliver_sm_resp" && event["of"] == "mo"
    });
    assert_eq!(resp["command_status"], 0);
}

#[tokio::test]
async fn a_permanent_refusal_falls_back_at_once_and_a_temporary_one_is_retried() {
    // ESME_RINVDSTADR (0x0B) for 3161…; ESME_RSYSERR (0x08) for 3162….
    let options = SmscOptions {
        refuse: vec![("3161".into(), 0x0B), ("3162".into(), 0x08)],
        ..SmscOptions::default()
    };
    let smsc = NodeSmsc::start(target_dir(), &options);
    let routed = routed_to(&smsc, "as-is").await;
    let mut fallback = sms("0031612345678", "hi", "sms-only");
    fallback["allowedChannels"] = json!(["SMS"]);
    routed
        .submit(json!([fallback, sms("0031622345678", "hi", "later")]))
        .await;
    // The refused one is rejected (status 1) with the connector's default error code, at once.
    routed.receiver.wait_for(1, WAIT).await;
    let report = &routed.receiver.received()[0].json()["messages"]["msg"];
    assert_eq!(
        (
            &report["reference"],
            &report["status"]["code"],
            &report["status"]["errorCode"]
        ),
        (&json!("sms-only"), &json!("1"), &json!("5")),
        "{report}"
    );
    // The one the SMSC could not take for now is tried again, and gets no report meanwhile.
    let refusals = |destination: &str| {
        smsc.events()
            .iter()
            .filter(|e| e["event"] == "submit_refused" && e["destination"] == destination)
            .count()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while refusals("31622345678") < 2 {
        assert!(std::time::Instant::now() < deadline, "{:?}", smsc.events());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(routed.receiver.received().len(), 1);
    assert_eq!(
        refusals("31612345678"),
        1,
        "a permanent refusal is not retried"
    );
}

#[tokio::test]
async fn segments_an_smpp_client_concatenated_itself_keep_their_header_toward_the_smsc() {
    let smsc = NodeSmsc::start(target_dir(), &SmscOptions::default());
    let config = format!(
        "[[connector]]\nname = \"node\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {}\n\
         system_id = \"smsc\"\npassword = \"secret\"\n\n[[route]]\nconnector = \"node\"\n",
        smsc.port()
    );
    let setup = crate::smpp::smpp_setup(Some(&config), &[]);
    // Two segments of reference 0x2A, each with its own header (esm_class 0x40).
    let segment = |seq: u8, text: &str| {
        let mut short_message = vec![0x05, 0x00, 0x03, 0x2A, 0x02, seq];
        short_message.extend_from_slice(text.as_bytes());
        crate::smpp::submit(&short_message, json!({"esm_class": 0x40}))
    };
    let results = crate::smpp::drive(
        &setup.gateway,
        None,
        json!([
            {"op": "connect"},
            {"op": "bind", "kind": "transmitter", "system_id": "tern1", "password": "secret1"},
            segment(1, "first half "),
            segment(2, "second half"),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(results[1]["status"], 0, "{results:?}");
    assert_eq!(results[2]["status"], 0, "{results:?}");
    let deadline = std::time::Instant::now() + WAIT;
    let submitted = loop {
        let submitted = submits_to(&smsc, "31612345678");
        if submitted.len() == 2 {
            break submitted;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", smsc.events());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (index, part) in submitted.iter().enumerate() {
        assert_eq!(
            (&part["esm_class"], &part["data_coding"]),
            (&json!(64), &json!(0))
        );
        let hex = part["short_message_hex"].as_str().unwrap();
        assert_eq!(&hex[..12], format!("0500032a020{}", index + 1), "{part}");
    }
}

#[tokio::test]
async fn a_stopping_gateway_unbinds_from_the_smsc() {
    let smsc = NodeSmsc::start(target_dir(), &SmscOptions::default());
    let routed = routed_to(&smsc, "as-is").await;
    routed
        .submit(json!([sms("0031612345678", "hi", "r1")]))
        .await;
    assert_eq!(routed.reports(1).await, vec![("r1".into(), "2".into())]);
    let Routed { gateway, .. } = routed;
    assert!(gateway.stop().success());
    let unbind = smsc.wait_for_event("unbind", WAIT);
    assert_eq!(unbind["event"], "unbind", "{unbind}");
}
