//! Opt-outs and blocklists through the running gateway: `tern blocklist add|remove|list` beside
//! it, a blocked number rejected with 402 `Message has been blacklisted` on every surface (JSON
//! per message, the XML and GET error line, SMPP ESME_RINVDSTADR) before anything is stored,
//! the global list against an account's, a message queued before its number was blocked failing
//! with error 37, and a STOP reply through `tern smsc-sim` blocking its sender (the inbound
//! webhook says `optOut`), START unblocking it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::smpp::{drive, smpp_setup, submit};
use crate::smpp_connector::{
    connector, expected_inbound, inbound_body, inbound_setup_with, sim_config,
};
use crate::smsc_sim::SmscSim;
use crate::xml_get::{get, post_xml};
use crate::{Setup, TERN, without_ids};

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(20);

/// Run `tern blocklist ARGS… --data-dir DIR`; its standard output (it must succeed).
fn blocklist(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(TERN)
        .arg("blocklist")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TERN_LOG", "warn")
        .output()
        .expect("run tern blocklist");
    assert!(
        output.status.success(),
        "tern blocklist {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// POST JSON `msgs` with `token` to `gateway`; status and body.
async fn post(gateway: &Gateway, token: &str, msgs: &Value) -> (u16, Value) {
    let body = json!({"messages": {"authentication": {"producttoken": token}, "msg": msgs}});
    let response = http_client()
        .post(gateway.url("/v1.0/message"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

fn sms(to: &str, reference: &str) -> Value {
    json!({"from": "Tern", "to": [{"number": to}], "body": {"content": "hi"}, "reference": reference})
}

/// The messageErrorCode the gateway answers a message to `to` from `token`'s account with,
/// once it is `code`: a change made by `tern blocklist` reaches the gateway within about a
/// second. Fails the test after [`WAIT`].
async fn wait_code(gateway: &Gateway, token: &str, to: &str, code: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, body) = post(gateway, token, &json!([sms(to, "probe")])).await;
        if body["messages"][0]["messageErrorCode"] == code {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{to} was not answered with {code} within {WAIT:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The references of the account's logged messages, in order.
async fn logged_references(gateway: &Gateway, token: &str) -> Vec<String> {
    let response = http_client()
        .get(gateway.url("/v1.0/messages?limit=1000"))
        .header("X-CM-PRODUCTTOKEN", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reference"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_blocked_number_is_rejected_with_402_on_every_surface_before_it_is_stored() {
    let setup = smpp_setup(None, &[]);
    let data_dir = setup._dir.path().join("data");
    let out = blocklist(&data_dir, &["add", "--account", "smpp", "+31612345678"]);
    assert_eq!(
        out,
        "Added 1 number(s) to the smpp blocklist (0 already on it)\n"
    );
    // The probes are rejected, never stored.
    wait_code(&setup.gateway, &setup.token, "0031612345678", 402).await;

    // JSON: per message, the other recipient accepted.
    let (status, body) = post(
        &setup.gateway,
        &setup.token,
        &json!([
            {"from": "Tern", "to": [{"number": "+31612345678"}, {"number": "0031612345679"}],
             "body": {"content": "hi"}, "reference": "json"}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        without_ids(body),
        json!({
            "details": "Created 1 message(s)",
            "errorCode": 201,
            "messages": [
                {"to": "+31612345678", "status": "Rejected", "reference": "json", "parts": 0,
                 "messageDetails": "Message has been blacklisted", "messageErrorCode": 402},
                {"to": "0031612345679", "status": "Accepted", "reference": "json", "parts": 1,
                 "messageDetails": null, "messageErrorCode": 0},
            ]
        })
    );
    // Alone, it is a 400 with the same per-message answer.
    let (status, body) = post(
        &setup.gateway,
        &setup.token,
        &json!([sms("0031612345678", "alone")]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["messages"][0]["messageErrorCode"], 402, "{body}");

    // XML and GET: their error line; nothing stored (all or nothing).
    let on_xml = Setup {
        gateway: setup.gateway,
        token: setup.token.clone(),
        receiver: None,
        client: http_client(),
        _dir: setup._dir,
    };
    let xml = format!(
        r#"<?xml version="1.0"?><MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{}</PRODUCTTOKEN></AUTHENTICATION><MSG><FROM>Tern</FROM><TO>0031612345679</TO><TO>0031612345678</TO><BODY>hi</BODY></MSG></MESSAGES>"#,
        on_xml.token
    );
    assert_eq!(
        post_xml(&on_xml, &xml).await,
        (200, "Error: ERROR Message has been blacklisted".to_owned())
    );
    assert_eq!(
        get(
            &on_xml,
            &format!(
                "producttoken={}&body=hi&to=%2B31612345678&from=Tern",
                on_xml.token
            )
        )
        .await,
        (200, "Error: ERROR Message has been blacklisted".to_owned())
    );

    // SMPP: ESME_RINVDSTADR (0x0B) for the blocked number, 0 for another.
    let results = drive(
        &on_xml.gateway,
        None,
        json!([
            {"op": "connect"},
            {"op": "bind", "kind": "transceiver", "system_id": "tern1", "password": "secret1"},
            submit(b"blocked", json!({})),
            submit(b"free", json!({"destination_addr": "31612345679"})),
            {"op": "unbind"},
        ]),
    );
    assert_eq!(results[1]["command"], "submit_sm_resp", "{results:?}");
    assert_eq!(results[1]["status"], 0x0B, "{results:?}");
    assert_eq!(results[2]["status"], 0, "{results:?}");

    // Stored: the JSON request's free recipient and the SMPP one; nothing to the blocked number.
    let response = http_client()
        .get(on_xml.gateway.url("/v1.0/messages?limit=1000"))
        .header("X-CM-PRODUCTTOKEN", &on_xml.token)
        .send()
        .await
        .unwrap();
    let log: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let stored: Vec<(&str, &str)> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["to"].as_str().unwrap(), m["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stored,
        vec![("0031612345679", "json"), ("0031612345679", "smpp")],
        "{log}"
    );
}

#[tokio::test]
async fn the_global_list_holds_for_every_account_an_accounts_for_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let acme = create_account(TERN, &data_dir, &["--name", "acme"]);
    let globex = create_account(TERN, &data_dir, &["--name", "globex"]);
    let gateway = Gateway::start(TERN, &data_dir, None);
    blocklist(
        &data_dir,
        &["add", "--global", "0031600000001", "+31600000001"],
    );
    blocklist(&data_dir, &["add", "--account", "acme", "0031600000002"]);
    let listed = blocklist(&data_dir, &["list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines[0], "LIST\tNUMBER\tBLOCKED_AT");
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[1].starts_with("global\t0031600000001\t"), "{listed}");
    assert!(lines[2].starts_with("acme\t0031600000002\t"), "{listed}");
    assert_eq!(
        blocklist(&data_dir, &["list", "--global"]).lines().count(),
        2
    );
    assert_eq!(
        blocklist(&data_dir, &["list", "--account", "globex"]),
        "LIST\tNUMBER\tBLOCKED_AT\n"
    );

    wait_code(&gateway, &acme, "0031600000002", 402).await;
    wait_code(&gateway, &acme, "0031600000001", 402).await;
    wait_code(&gateway, &globex, "0031600000001", 402).await;
    let (status, body) = post(&gateway, &globex, &json!([sms("0031600000002", "g")])).await;
    assert_eq!(
        status, 200,
        "globex may send to acme's blocked number: {body}"
    );

    // Off the global list: acme still has its own; globex sends again.
    let out = blocklist(
        &data_dir,
        &["remove", "--global", "0031600000001", "0031600000009"],
    );
    assert_eq!(
        out,
        "Removed 1 number(s) from the global blocklist (1 were not on it)\n"
    );
    wait_code(&gateway, &globex, "0031600000001", 0).await;
    wait_code(&gateway, &acme, "0031600000001", 0).await;
    let (_, body) = post(&gateway, &acme, &json!([sms("0031600000002", "a")])).await;
    assert_eq!(body["messages"][0]["messageErrorCode"], 402, "{body}");
    // Probes that were rejected are not in the log.
    assert!(
        !logged_references(&gateway, &acme)
            .await
            .iter()
            .any(|reference| reference == "a"),
    );
}

#[tokio::test]
async fn a_message_queued_before_its_number_was_blocked_fails_with_37() {
    // The only route's SMSC is not there: the message stays queued, tried again and again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "{}[[route]]\nconnector = \"op-a\"\n",
        connector("op-a", port, "")
    );
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    let gateway = Gateway::start(TERN, &data_dir, Some(&config));
    let (status, body) = post(&gateway, &token, &json!([sms("0031612345678", "queued")])).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty(), "not sent, not reported yet");

    blocklist(&data_dir, &["add", "--account", "acme", "0031612345678"]);
    let reports = receiver.wait_for(1, WAIT).await;
    let msg = &reports[0].json()["messages"]["msg"];
    assert_eq!(msg["reference"], "queued", "{msg}");
    assert_eq!(
        msg["status"],
        json!({"code": "3", "errorCode": "37",
               "errorDescription": "Message not delivered because recipient is in national Do-Not-Call Register (for example, the Dutch SMS DienstenFilter and Chinese DnD list)"}),
        "{msg}"
    );
    let response = http_client()
        .get(gateway.url("/v1.0/messages?limit=10"))
        .header("X-CM-PRODUCTTOKEN", &token)
        .send()
        .await
        .unwrap();
    let log: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(log["messages"][0]["status"], "failed", "{log}");
}

#[tokio::test]
async fn a_stop_reply_blocks_its_sender_and_says_opt_out_and_start_unblocks_it() {
    let sim = SmscSim::start(&sim_config(0, "")).await;
    let secret = "the-inbound-webhook-secret";
    let (setup, inbound) = inbound_setup_with(&sim, &["--webhook-secret", secret]).await;
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": " stop "}),
        )
        .await;
    assert_eq!(status, 200);
    let got = inbound.wait_for(1, WAIT).await;
    let mut expected = expected_inbound("+31612345678", " stop ");
    expected["optOut"] = json!(true);
    assert_eq!(inbound_body(&got[0]), expected);
    // The inbound POST is signed as status reports are: README.md's snippets verify it with the
    // account's secret, and refuse it with another secret or a changed body.
    let mut tampered = got[0].body.clone();
    tampered[0] = b' ';
    assert_eq!(
        crate::accounts::verify_with_snippets(
            setup._dir.path(),
            &[
                crate::accounts::case(secret, &got[0].headers, &got[0].body),
                crate::accounts::case("another-secret", &got[0].headers, &got[0].body),
                crate::accounts::case(secret, &got[0].headers, &tampered),
            ]
        ),
        [true, false, false]
    );
    // The sender is on the account's list: a message to it is rejected.
    wait_code(&setup.gateway, &setup.token, "0031612345678", 402).await;
    let data_dir = setup._dir.path().join("data");
    let listed = blocklist(&data_dir, &["list", "--account", "acme"]);
    assert!(
        listed
            .lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("acme\t0031612345678\t")),
        "{listed}"
    );

    // START: off the list, and its webhook says nothing of an opt-out.
    let (status, _) = sim
        .post(
            "/mo",
            json!({"from": "31612345678", "to": "3669", "text": "START"}),
        )
        .await;
    assert_eq!(status, 200);
    let got = inbound.wait_for(2, WAIT).await;
    assert_eq!(
        inbound_body(&got[1]),
        expected_inbound("+31612345678", "START")
    );
    wait_code(&setup.gateway, &setup.token, "0031612345678", 0).await;
    assert_eq!(
        blocklist(&data_dir, &["list"]),
        "LIST\tNUMBER\tBLOCKED_AT\n"
    );
}
