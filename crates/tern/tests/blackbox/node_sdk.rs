//! The official Node SDK (`@cmdotcom/text-sdk` 2.0.0 from npm), unchanged, pointed at Tern as
//! compat-notes §1 says: an SMS through `client.createMessage()` with `msg.api.basePath`, a
//! WhatsApp template through `new CMTypes.MessagesApi(BASE).messagesSendMessage(msg)`, and a
//! rejected number, which the SDK (axios) turns into a rejection carrying the JSON body.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::setup;

/// Uses only the SDK's public API (see node_modules/@cmdotcom/text-sdk/dist/lib/
/// MessageApiClient.js and dist/typescript-node-client/api.js). Each result carries the axios
/// response's status and parsed `data`, and `config.data`: the request body the SDK sent.
const SCRIPT: &str = r#"
const { MessageApiClient, CMTypes } = require("@cmdotcom/text-sdk");
const token = process.env.TERN_TOKEN, base = process.env.TERN_BASE;
const client = new MessageApiClient(token);
const result = r => ({ status: r.status, data: r.data, sent: JSON.parse(r.config.data) });
(async () => {
  const out = {};

  const sms = client.createMessage()
    .setMessage(["0031612345678"], "TestSender", "Hello from the Node SDK", "nodesms")
    .setAllowedChannels(["SMS"]);
  sms.api.basePath = base;
  out.sms = result(await sms.send());

  const template = new CMTypes.Template();
  template.whatsapp = new CMTypes.WhatsappTemplate();
  template.whatsapp.namespace = "the-namespace";
  template.whatsapp.elementName = "welcome";
  template.whatsapp.language = new CMTypes.Language();
  template.whatsapp.language.code = "en_US";
  template.whatsapp.language.policy = "deterministic";
  const wa = client.createMessage()
    .setMessage(["0031612345679"], "TestSender", "", "nodewa")
    .setAllowedChannels(["WhatsApp"])
    .setTemplate(template);
  out.wa = result(await new CMTypes.MessagesApi(base).messagesSendMessage(wa));

  const bad = client.createMessage()
    .setMessage(["not-a-number"], "TestSender", "Hello", "nodebad")
    .setAllowedChannels(["SMS"]);
  bad.api.basePath = base;
  try {
    await bad.send();
    out.bad = { resolved: true };
  } catch (error) {
    out.bad = error.response ? result(error.response) : { error: String(error) };
  }

  console.log(JSON.stringify(out));
})().catch(error => { console.error(error); process.exit(1); });
"#;

#[tokio::test]
async fn node_sdk_sends_sms_and_whatsapp_template() {
    let target = Path::new(env!("CARGO_BIN_EXE_tern"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let project = tern_testkit::node::sdk_project(target);
    let setup = setup(None, &[], false).await;
    let output = Command::new("node")
        .current_dir(&project)
        .arg("-e")
        .arg(SCRIPT)
        .env("TERN_TOKEN", &setup.token)
        .env("TERN_BASE", &setup.gateway.base_url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "SDK script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stdout)));

    // What the SDK put on the wire is what compat-notes §1 records for Node.
    let sent = &result["sms"]["sent"];
    assert_eq!(
        sent,
        &json!({"messages":{"authentication":{"productToken":setup.token},"msg":[{
            "from":"TestSender","body":{"content":"Hello from the Node SDK","type":"AUTO"},
            "reference":"nodesms","to":[{"number":"0031612345678"}],
            "customGrouping3":"text-sdk-javascript","allowedChannels":["SMS"]}]}}),
        "{result}"
    );
    assert_eq!(
        result["wa"]["sent"]["messages"]["msg"][0]["richContent"],
        json!({"conversation":[{"template":{"whatsapp":{"namespace":"the-namespace",
            "element_name":"welcome","language":{"code":"en_US","policy":"deterministic"}}}}]})
    );

    // What the SDK hands back: axios resolved with 200 and the exact body.
    for (name, to, reference) in [
        ("sms", "0031612345678", "nodesms"),
        ("wa", "0031612345679", "nodewa"),
    ] {
        assert_eq!(result[name]["status"], 200, "{name}: {result}");
        assert_eq!(
            crate::without_ids(result[name]["data"].clone()),
            json!({"details":"Created 1 message(s)","errorCode":0,"messages":[
                {"to":to,"status":"Accepted","reference":reference,"parts":1,
                 "messageDetails":null,"messageErrorCode":0}]}),
            "{name}"
        );
    }

    // HTTP >= 400: axios rejects, and the error's response still carries the JSON body.
    assert_eq!(result["bad"]["status"], 400, "{result}");
    assert_eq!(
        result["bad"]["data"],
        json!({"details":"Created 0 message(s)","errorCode":201,"messages":[
            {"to":"not-a-number","status":"Rejected","reference":"nodebad","parts":0,
             "messageDetails":"Gsm 'not-a-number' is not a number.","messageErrorCode":303}]})
    );

    // The message log has both, on the right channels, with the SDK's custom grouping.
    for (reference, channel) in [("nodesms", "SMS"), ("nodewa", "WhatsApp")] {
        let log = setup.log(&format!("?reference={reference}")).await;
        let messages = log["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{log}");
        let message = &messages[0];
        assert_eq!(message["allowedChannels"], json!([channel]), "{log}");
        assert_eq!(message["customGrouping3"], "text-sdk-javascript");
        assert_eq!(message["from"], "TestSender");
        assert_eq!(
            message["messageId"],
            result[if channel == "SMS" { "sms" } else { "wa" }]["data"]["messages"][0]["messageId"]
        );
    }
    let log = setup
        .wait_final(2, std::time::Duration::from_secs(10))
        .await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{log}");
    for message in messages {
        let expected = if message["reference"] == "nodesms" {
            "SMS"
        } else {
            "WhatsApp"
        };
        assert_eq!(message["status"], "delivered", "{log}");
        assert_eq!(message["channel"], expected, "{log}");
        assert_eq!(crate::delivered_on(message), expected, "{log}");
    }
    assert!(
        setup.log("?reference=nodebad").await["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
