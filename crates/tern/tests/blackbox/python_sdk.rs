//! The official Python SDK (`cm-text-sdk-python` 2.0.4 from PyPI), unchanged, pointed at Tern:
//! an SMS and a WhatsApp template are both Accepted; a rich media message with SMS fallback goes
//! out on WhatsApp, or on SMS when WhatsApp fails; WhatsApp interactive messages built with the
//! SDK's `MessageBuilder` (list and reply buttons, text and media headers) are Accepted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Setup, setup};

const SCRIPT: &str = r#"
import json, sys
from cm_text import TextClient, WhatsappTemplate
token, gateway = sys.argv[1], sys.argv[2]
client = TextClient(apikey=token, gateway=gateway)
client.AddMessage(message="Hello from the Python SDK", from_="TestSender", to=["0031612345678"], reference="pysms")
sms = client.send()
client = TextClient(apikey=token, gateway=gateway)
template = WhatsappTemplate(namespace="the-namespace", element_name="welcome", language_code="en_US", language_policy="deterministic")
client.AddWhatsappTemplateMessage(template=template, from_="TestSender", to=["0031612345679"], reference="pywa")
wa = client.send()
print(json.dumps({"sms": [sms.status_code, json.loads(sms.text)], "wa": [wa.status_code, json.loads(wa.text)]}))
"#;

#[tokio::test]
async fn python_sdk_sends_sms_and_whatsapp_template() {
    let target = Path::new(env!("CARGO_BIN_EXE_tern"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let python = tern_testkit::python::sdk_python(target);
    let setup = setup(None, &[], false).await;
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&setup.token)
        .arg(setup.gateway.url("/v1.0/message"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "SDK script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (name, to, reference) in [
        ("sms", "0031612345678", "pysms"),
        ("wa", "0031612345679", "pywa"),
    ] {
        assert_eq!(result[name][0], 200, "{name}: {result}");
        let body = crate::without_ids(result[name][1].clone());
        assert_eq!(
            body,
            serde_json::json!({"details":"Created 1 message(s)","errorCode":0,"messages":[
                {"to":to,"status":"Accepted","reference":reference,"parts":1,"messageDetails":null,"messageErrorCode":0}]}),
            "{name}"
        );
    }
    let log = setup.log("?reference=pywa").await;
    assert_eq!(
        log["messages"][0]["allowedChannels"],
        serde_json::json!(["WhatsApp"])
    );
}

/// Run `script` with the SDK's venv python and `token gateway-url` as arguments; returns the
/// JSON object the script prints on its last stdout line (the SDK itself prints on stdout too).
fn run_sdk_script(setup: &Setup, script: &str) -> Value {
    let target = Path::new(env!("CARGO_BIN_EXE_tern"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let python = tern_testkit::python::sdk_python(target);
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&setup.token)
        .arg(setup.gateway.url("/v1.0/message"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "SDK script failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no JSON result line: {stdout}"))
}

/// The accepted response for these (to, reference) pairs, one part each, ids removed.
fn accepted(recipients: &[(&str, &str)]) -> Value {
    let messages: Vec<Value> = recipients
        .iter()
        .map(|(to, reference)| {
            json!({"to":to,"status":"Accepted","reference":reference,"parts":1,
                   "messageDetails":null,"messageErrorCode":0})
        })
        .collect();
    json!({"details":format!("Created {} message(s)", messages.len()),"errorCode":0,
           "messages":messages})
}

const RICH_SCRIPT: &str = r#"
import json, sys
from cm_text import TextClient
token, gateway = sys.argv[1], sys.argv[2]
client = TextClient(apikey=token, gateway=gateway)
media = {"mediaName": "cm.com", "mediaUri": "https://avatars3.githubusercontent.com/u/8234794?s=200&v=4", "mimeType": "image/png"}
client.AddRichMessage(message="Look at this", media=media, from_="TestSender", to=["0031612345678"], reference="pyrich", allowedChannels=["Whatsapp", "SMS"])
client.AddRichMessage(message="Look at this", media=media, from_="TestSender", to=["0031600000001"], reference="pyfallback", allowedChannels=["Whatsapp", "SMS"])
sent = json.loads(client.encodeData(client.messages))
response = client.send()
print(json.dumps({"sent": sent, "status": response.status_code, "body": json.loads(response.text)}))
"#;

/// WhatsApp fails (error 24) for numbers starting 0031600000; everything else is delivered.
const FALLBACK_CONFIG: &str = r#"
[simulator]
default_delay_ms = 10
[[simulator.rule]]
channel = "WhatsApp"
to_prefix = "0031600000"
outcome = "failed"
error_code = 24
delay_ms = 10
"#;

#[tokio::test]
async fn python_sdk_rich_media_message_falls_back_to_sms() {
    let setup = setup(Some(FALLBACK_CONFIG), &[], false).await;
    let result = run_sdk_script(&setup, RICH_SCRIPT);

    // The SDK's wire form: its channel spelling and a text + media conversation.
    let msg = &result["sent"]["messages"]["msg"][0];
    assert_eq!(msg["allowedChannels"], json!(["Whatsapp", "SMS"]));
    assert_eq!(msg["body"], json!({"type":"AUTO","content":"Look at this"}));
    assert_eq!(
        msg["richContent"],
        json!({"conversation":[{"text":"Look at this"},{"media":{"mediaName":"cm.com",
            "mediaUri":"https://avatars3.githubusercontent.com/u/8234794?s=200&v=4",
            "mimeType":"image/png"}}]})
    );

    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(
        crate::without_ids(result["body"].clone()),
        accepted(&[("0031612345678", "pyrich"), ("0031600000001", "pyfallback")])
    );

    let log = setup.wait_final(2, Duration::from_secs(10)).await;
    let by_reference = |reference: &str| {
        log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reference"] == reference)
            .unwrap_or_else(|| panic!("{reference} not in {log}"))
            .clone()
    };
    let rich = by_reference("pyrich");
    assert_eq!(rich["allowedChannels"], json!(["WhatsApp", "SMS"]), "{log}");
    assert_eq!(rich["customGrouping3"], "text-sdk-python-2.0.4");
    assert_eq!(rich["channel"], "WhatsApp", "{log}");
    assert_eq!(rich["status"], "delivered", "{log}");
    assert_eq!(crate::delivered_on(&rich), "WhatsApp", "{log}");

    let fallback = by_reference("pyfallback");
    assert_eq!(fallback["allowedChannels"], json!(["WhatsApp", "SMS"]));
    assert_eq!(fallback["channel"], "SMS", "{log}");
    assert_eq!(fallback["status"], "delivered", "{log}");
    assert_eq!(crate::delivered_on(&fallback), "SMS", "{log}");
    let steps: Vec<(String, i64)> = fallback["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["channel"].as_str().unwrap().to_owned(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        steps.contains(&("WhatsApp".into(), 3)) && steps.last() == Some(&("SMS".into(), 2)),
        "WhatsApp failed, then SMS delivered: {steps:?}"
    );
}

const INTERACTIVE_SCRIPT: &str = r#"
import json, sys
from cm_text import TextClient
from cm_text.whatsapp_interactive.message_builder import MessageBuilder
token, gateway = sys.argv[1], sys.argv[2]
client = TextClient(apikey=token, gateway=gateway)

# A list message with a text header.
rows = [MessageBuilder.create_interactive_message_action_row(title="Row one", id="r1", description="The first row"),
        MessageBuilder.create_interactive_message_action_row(title="Row two", id="r2", description="The second row")]
section = MessageBuilder.create_interactive_message_action_section(title="Section", rows=rows)
action = MessageBuilder.create_interactive_message_action(button="Choose", buttons=[], sections=[section])
header = MessageBuilder.create_interactive_message_header(type="text", text="Pick one", media=None)
body = MessageBuilder.create_interactive_message_body(text="Which row do you want?")
footer = MessageBuilder.create_interactive_message_footer(text="Tern")
interactive = MessageBuilder.create_interactive_message(type="list", header=header, body=body, footer=footer, action=action)
client.add_whatsapp_interactive_message(interactive=interactive, body="Fallback text", from_="TestSender", to=["0031612345678"], reference="pylist")

# Reply buttons with an image header (the SDK writes "Media"), and no fallback text.
yes = MessageBuilder.create_interactive_message_action_button(type="reply", reply=MessageBuilder.create_interactive_message_action_button_reply(id="yes", title="Yes"))
no = MessageBuilder.create_interactive_message_action_button(type="reply", reply=MessageBuilder.create_interactive_message_action_button_reply(id="no", title="No"))
action = MessageBuilder.create_interactive_message_action(buttons=[yes, no], sections=[])
media = MessageBuilder.create_interactive_message_header_media(name="cm.com", uri="https://avatars3.githubusercontent.com/u/8234794?s=200&v=4", mimeType="image/png")
header = MessageBuilder.create_interactive_message_header(type="image", media=media)
body = MessageBuilder.create_interactive_message_body(text="Do you agree?")
footer = MessageBuilder.create_interactive_message_footer(text="Tern")
interactive = MessageBuilder.create_interactive_message(type="button", header=header, body=body, footer=footer, action=action)
client.add_whatsapp_interactive_message(interactive=interactive, from_="TestSender", to=["0031612345679"], reference="pybuttons")

sent = json.loads(client.encodeData(client.messages))
response = client.send()
print(json.dumps({"sent": sent, "status": response.status_code, "body": json.loads(response.text)}))
"#;

#[tokio::test]
async fn python_sdk_sends_whatsapp_interactive_messages() {
    let setup = setup(None, &[], false).await;
    let result = run_sdk_script(&setup, INTERACTIVE_SCRIPT);

    let msgs = &result["sent"]["messages"]["msg"];
    assert_eq!(
        msgs[0]["richContent"]["conversation"][0]["interactive"],
        json!({"type":"list","header":{"type":"text","text":"Pick one"},
            "body":{"text":"Which row do you want?"},"footer":{"text":"Tern"},
            "action":{"button":"Choose","sections":[{"title":"Section","rows":[
                {"id":"r1","title":"Row one","description":"The first row"},
                {"id":"r2","title":"Row two","description":"The second row"}]}]}})
    );
    assert_eq!(
        msgs[1]["richContent"]["conversation"][0]["interactive"]["header"],
        json!({"type":"image","Media":{"mediaName":"cm.com",
            "mediaUri":"https://avatars3.githubusercontent.com/u/8234794?s=200&v=4",
            "mimeType":"image/png"}})
    );
    assert_eq!(msgs[1]["body"], json!({"type":"AUTO","content":""}));

    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(
        crate::without_ids(result["body"].clone()),
        accepted(&[("0031612345678", "pylist"), ("0031612345679", "pybuttons")])
    );

    let log = setup.wait_final(2, Duration::from_secs(10)).await;
    for reference in ["pylist", "pybuttons"] {
        let message = log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reference"] == reference)
            .unwrap_or_else(|| panic!("{reference} not in {log}"));
        assert_eq!(message["allowedChannels"], json!(["WhatsApp"]), "{log}");
        assert_eq!(message["status"], "delivered", "{log}");
        assert_eq!(crate::delivered_on(message), "WhatsApp", "{log}");
        assert_eq!(message["customGrouping3"], "text-sdk-python-2.0.4");
    }
}
