//! The OpenAPI document: served at /openapi.json, printed by `tern openapi`, checked in as
//! docs/openapi.json, all three the same, and describing the JSON endpoints as they behave.

use std::path::Path;

use serde_json::Value;

use crate::{TERN, setup};

fn checked_in() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn served_printed_and_checked_in_documents_are_the_same() {
    let setup = setup(None, &[], false).await;
    let response = setup
        .client
        .get(setup.gateway.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let printed = std::process::Command::new(TERN)
        .arg("openapi")
        .output()
        .unwrap();
    assert!(printed.status.success());
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(served, printed);
    assert_eq!(
        served,
        checked_in(),
        "docs/openapi.json is stale: regenerate it with `cargo run -- openapi > docs/openapi.json`"
    );
}

#[test]
fn the_document_describes_the_json_endpoints() {
    let doc = checked_in();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        vec![
            "/v1.0/conversion",
            "/v1.0/message",
            "/v1.0/messages",
            "/v1.0/messages/funnel"
        ]
    );
    let message = &doc["paths"]["/v1.0/message"]["post"];
    assert_eq!(
        message["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/MessageRequest"
    );
    // serde_json's map is ordered by key here, so compare sorted names.
    let statuses: Vec<&str> = message["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(statuses, vec!["200", "400", "405", "409", "413", "500"]);
    let schemas = &doc["components"]["schemas"];
    let mut msg_fields: Vec<&str> = schemas["Msg"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected_msg = vec![
        "from",
        "to",
        "body",
        "reference",
        "customGrouping",
        "customGrouping2",
        "customGrouping3",
        "validity",
        "allowedChannels",
        "appKey",
        "dcs",
        "minimumNumberOfMessageParts",
        "maximumNumberOfMessageParts",
        "richContent",
    ];
    msg_fields.sort();
    expected_msg.sort();
    assert_eq!(msg_fields, expected_msg);
    let mut result_fields: Vec<&str> = schemas["MessageResult"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected_result = vec![
        "to",
        "status",
        "reference",
        "parts",
        "messageDetails",
        "messageErrorCode",
        "messageId",
    ];
    result_fields.sort();
    expected_result.sort();
    assert_eq!(result_fields, expected_result);
    assert_eq!(
        schemas["MessageStatus"]["enum"],
        serde_json::json!(["Accepted", "Rejected"])
    );
    assert_eq!(
        schemas["Authentication"]["properties"]["productToken"]["type"],
        serde_json::json!(["string", "null"])
    );
}
