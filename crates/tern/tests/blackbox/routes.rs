//! `[[route]]` and `[[connector]]`: a channel without routes goes to the simulator as before; a
//! destination or account no route of its channel matches is answered `Message is unroutable.`
//! at submission; a route naming an unknown connector or account, or a connector of a kind this
//! version does not build, stops the start with a message saying which.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tern_testkit::{Gateway, create_account, http_client};

use crate::xml_get::{get, logged, post_xml, xml};
use crate::{TERN, delivered_on, setup, without_ids};

/// POST `msgs` (JSON) with `token`; status and body.
async fn send(gateway: &Gateway, token: &str, msgs: Value) -> (u16, Value) {
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

fn sms(to: &[&str], reference: &str) -> Value {
    json!({
        "from": "Tern",
        "to": to.iter().map(|number| json!({"number": number})).collect::<Vec<_>>(),
        "body": {"content": "hello"},
        "reference": reference,
    })
}

fn accepted(to: &str, reference: &str) -> Value {
    json!({"to": to, "status": "Accepted", "reference": reference, "parts": 1,
           "messageDetails": null, "messageErrorCode": 0})
}

fn unroutable(to: &str, reference: &str) -> Value {
    json!({"to": to, "status": "Rejected", "reference": reference, "parts": 0,
           "messageDetails": "Message is unroutable.", "messageErrorCode": 305})
}

#[tokio::test]
async fn without_routes_every_destination_goes_to_the_simulator() {
    let setup = setup(None, &[], false).await;
    let (status, response) = setup
        .post_json(&setup.request(&json!([sms(&["0032471234567"], "r1")]).to_string()))
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 1 message(s)", "errorCode": 0,
               "messages": [accepted("0032471234567", "r1")]})
    );
    let log = setup.wait_final(1, Duration::from_secs(10)).await;
    assert_eq!(delivered_on(&log["messages"][0]), "SMS");
}

#[tokio::test]
async fn an_sms_route_for_one_prefix_makes_other_destinations_unroutable() {
    let config = "[[route]]\nprefix = \"0031\"\nconnector = \"simulator\"\n";
    let setup = setup(Some(config), &[], false).await;
    let (status, response) = setup
        .post_json(
            &setup.request(&json!([sms(&["0031612345678", "0032471234567"], "r1")]).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 1 message(s)", "errorCode": 201,
               "messages": [accepted("0031612345678", "r1"), unroutable("0032471234567", "r1")]})
    );
    // Only the routable one was stored, and the simulator delivered it.
    let log = setup.wait_final(1, Duration::from_secs(10)).await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{log}");
    assert_eq!(messages[0]["to"], "0031612345678");
    assert_eq!(messages[0]["status"], "delivered", "{log}");
    assert_eq!(delivered_on(&messages[0]), "SMS");

    // A message allowed on SMS and WhatsApp keeps WhatsApp, which has no routes.
    let mut both = sms(&["0032471234567"], "r2");
    both["allowedChannels"] = json!(["SMS", "WhatsApp"]);
    let (status, response) = setup
        .post_json(&setup.request(&json!([both]).to_string()))
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["messages"][0]["status"], "Accepted", "{response}");
    let log = setup.wait_final(2, Duration::from_secs(10)).await;
    let on_whatsapp = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["reference"] == "r2")
        .unwrap();
    assert_eq!(delivered_on(on_whatsapp), "WhatsApp");

    // All unroutable: a rejected request, as any fully rejected one.
    let (status, response) = setup
        .post_json(&setup.request(&json!([sms(&["0032471234567"], "r3")]).to_string()))
        .await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 0 message(s)", "errorCode": 201,
               "messages": [unroutable("0032471234567", "r3")]})
    );
}

#[tokio::test]
async fn an_account_route_serves_only_that_account() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let acme = create_account(TERN, &data_dir, &["--name", "acme"]);
    let other = create_account(TERN, &data_dir, &["--name", "other"]);
    let config = "[[route]]\nprefix = \"0031\"\nconnector = \"simulator\"\n\n\
                  [[route]]\naccount = \"acme\"\nconnector = \"simulator\"\n";
    let gateway = Gateway::start(TERN, &data_dir, Some(config));
    let msgs = json!([sms(&["0031612345678", "0032471234567"], "r1")]);
    let (status, response) = send(&gateway, &acme, msgs.clone()).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 2 message(s)", "errorCode": 0,
               "messages": [accepted("0031612345678", "r1"), accepted("0032471234567", "r1")]})
    );
    let (status, response) = send(&gateway, &other, msgs).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 1 message(s)", "errorCode": 201,
               "messages": [accepted("0031612345678", "r1"), unroutable("0032471234567", "r1")]})
    );
}

/// Run `tern serve` with `config` in a fresh directory (one account, `acme`); it must stop on
/// its own: its exit status and stderr.
pub(crate) fn serve_to_exit(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_account(TERN, &data_dir, &["--name", "acme"]);
    let config_file = dir.path().join("tern.toml");
    std::fs::write(&config_file, config).unwrap();
    let mut child = Command::new(TERN)
        .arg("serve")
        .arg("--config")
        .arg(&config_file)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--http-addr", "127.0.0.1:0", "--smpp-addr", "127.0.0.1:0"])
        .env("TERN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            panic!("the gateway started with {config:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.success(), stderr)
}

#[test]
fn a_bad_route_or_connector_stops_the_start_saying_why() {
    let cases = [
        (
            "[[route]]\nprefix = \"0031\"\nconnector = \"op-a\"\n",
            "invalid configuration: [[route]] 1: no connector named \"op-a\" (configured: simulator)",
        ),
        (
            "[[connector]]\nname = \"vb\"\nkind = \"viber\"\n\n\
             [[route]]\nchannel = \"Viber\"\nconnector = \"vb\"\n",
            "invalid configuration: [[connector]] \"vb\": kind \"viber\" is not available in this version (available: simulator, smpp, whatsapp-cloud, rbm, fcm)",
        ),
        (
            "[[connector]]\nname = \"wa\"\nkind = \"whatsapp-cloud\"\nphone_number_id = \"1\"\n\
             app_secret = \"s\"\nverify_token = \"v\"\n",
            "invalid configuration: [[connector]] \"wa\": missing field `access_token`",
        ),
        (
            "[[connector]]\nname = \"wa\"\nkind = \"whatsapp-cloud\"\nphone_number_id = \"1\"\n\
             access_token = \"t\"\napp_secret = \"s\"\nverify_token = \"v\"\n\
             inbound_account = \"nobody\"\n",
            "invalid configuration: [[connector]] \"wa\": inbound_account \"nobody\" is no account's name",
        ),
        (
            "[[connector]]\nname = \"op-a\"\nkind = \"smpp\"\nhost = \"smsc.example.net\"\nsystem_id = \"acme\"\nwindw = 5\n",
            "invalid configuration: [[connector]] \"op-a\": unknown field `windw`",
        ),
        (
            "[[connector]]\nname = \"op-a\"\nkind = \"smpp\"\nhost = \"smsc.example.net\"\nsystem_id = \"acme\"\nbinds = 0\n",
            "invalid configuration: [[connector]] \"op-a\": binds must be between 1 and 64",
        ),
        (
            "[[route]]\naccount = \"nobody\"\nconnector = \"simulator\"\n",
            "invalid configuration: [[route]] 1: no account named \"nobody\"",
        ),
        (
            "[[connector]]\nname = \"simulator\"\nkind = \"simulator\"\n",
            "invalid configuration: [[connector]] \"simulator\": the name is already taken by the built-in simulator",
        ),
        (
            "[[connector]]\nname = \"sim-b\"\nkind = \"simulator\"\nhost = \"x\"\n",
            "invalid configuration: [[connector]] \"sim-b\": unknown key \"host\" for kind \"simulator\"",
        ),
        (
            "[[route]]\nchannel = \"Voice\"\nconnector = \"simulator\"\n",
            "invalid configuration: [[route]] 1: channel \"Voice\" is not one Tern carries",
        ),
        (
            "[[route]]\nprefix = \"+31\"\nconnector = \"simulator\"\n",
            "invalid configuration: [[route]] 1: prefix \"+31\" must be digits (00 and the country code, e.g. \"0031\")",
        ),
    ];
    for (config, expected) in cases {
        let (ok, stderr) = serve_to_exit(config);
        assert!(!ok, "{config:?} started");
        assert!(stderr.contains(expected), "{config:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_configured_simulator_connector_carries_its_route() {
    let config = "[[connector]]\nname = \"sim-b\"\nkind = \"simulator\"\n\n\
                  [[route]]\nprefix = \"0031\"\nconnector = \"sim-b\"\n";
    let setup = setup(Some(config), &[], false).await;
    let (status, response) = setup
        .post_json(&setup.request(&json!([sms(&["0031612345678"], "r1")]).to_string()))
        .await;
    assert_eq!(status, 200, "{response}");
    let log = setup.wait_final(1, Duration::from_secs(10)).await;
    assert_eq!(log["messages"][0]["status"], "delivered", "{log}");
}

#[tokio::test]
async fn xml_and_get_refuse_an_unroutable_message_whole() {
    let config = "[[route]]\nprefix = \"0031\"\nconnector = \"simulator\"\n";
    let setup = setup(Some(config), &[], false).await;
    let both = xml(
        &setup.token,
        "<MSG><FROM>S</FROM><TO>0031612345678</TO><TO>0032471234567</TO><BODY>hi</BODY></MSG>",
    );
    assert_eq!(
        post_xml(&setup, &both).await,
        (200, "Error: ERROR Message is unrouteable.".to_string())
    );
    let query = format!(
        "producttoken={}&body=x&to=0032471234567&from=S&reference=be",
        setup.token
    );
    assert_eq!(
        get(&setup, &query).await,
        (200, "Error: ERROR Message is unrouteable.".to_string())
    );
    assert_eq!(logged(&setup).await, 0);
    let routed = xml(
        &setup.token,
        "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY></MSG>",
    );
    assert_eq!(post_xml(&setup, &routed).await, (200, String::new()));
    assert_eq!(logged(&setup).await, 1);
}
