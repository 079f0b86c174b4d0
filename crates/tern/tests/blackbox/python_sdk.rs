//! The official Python SDK (`cm-text-sdk-python` 2.0.4 from PyPI), unchanged, pointed at Tern:
//! an SMS and a WhatsApp template are both Accepted.

use std::path::Path;
use std::process::Command;

use crate::setup;

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
