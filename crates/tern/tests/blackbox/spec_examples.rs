//! Every JSON example of the Business Messaging API text (`business-messaging-api.txt`), sent as
//! written with the test account's product token in place of the placeholder, and the responses
//! the spec documents for them; plus the request shapes of the Python and Node SDKs
//! (`compat-notes.md` section 1).
//!
//! The custom groupings example carries a trailing comma in the spec text, so as written it is not
//! JSON: it is answered `Invalid JSON`, and its corrected form is Accepted. (The Viber rich content
//! example looks similar but is valid JSON as printed, and is Accepted as written.)

use serde_json::{Value, json};

use crate::{Setup, setup, without_ids};

/// The token placeholders the examples use.
const PLACEHOLDERS: [&str; 2] = ["your product token", "00000000-0000-0000-0000-000000000000"];

/// The example with the account's token in place of its placeholder. Only the first placeholder is
/// replaced: it is always the one in `authentication` (the Push examples reuse the all-zero GUID
/// as `appKey`, which must stay).
fn with_token(example: &str, token: &str) -> String {
    let (position, placeholder) = PLACEHOLDERS
        .iter()
        .filter_map(|p| example.find(p).map(|at| (at, *p)))
        .min()
        .expect("the example has a token placeholder");
    let mut text = example.to_owned();
    text.replace_range(position..position + placeholder.len(), token);
    assert!(
        text[..position]
            .to_ascii_lowercase()
            .contains("producttoken"),
        "the replaced placeholder is the product token"
    );
    text
}

/// A per-recipient `Accepted` entry (without `messageId`).
fn accepted(to: &str, reference: Option<&str>, parts: u32) -> Value {
    json!({
        "to": to,
        "status": "Accepted",
        "reference": reference,
        "parts": parts,
        "messageDetails": null,
        "messageErrorCode": 0,
    })
}

/// The response of a fully accepted request.
fn all_accepted(messages: Vec<Value>) -> Value {
    json!({
        "details": format!("Created {} message(s)", messages.len()),
        "errorCode": 0,
        "messages": messages,
    })
}

/// Send `example` (with the token substituted) and assert 200 and the exact body.
async fn assert_accepted(setup: &Setup, name: &str, example: &str, expected: Vec<Value>) {
    let (status, body) = setup.post_json(&with_token(example, &setup.token)).await;
    assert_eq!(status, 200, "{name}: status (body {body})");
    assert_eq!(without_ids(body), all_accepted(expected), "{name}: body");
}

/// Send `example` (with the token substituted) and assert it is refused as `Invalid JSON`.
async fn assert_invalid_json(setup: &Setup, name: &str, example: &str) {
    let text = with_token(example, &setup.token);
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "{name}: the example as written is not JSON"
    );
    let (status, body) = setup.post_json(&text).await;
    assert_eq!(status, 400, "{name}: status (body {body})");
    assert_eq!(
        body,
        json!({"details": "Invalid JSON", "errorCode": 202, "messages": []}),
        "{name}: body"
    );
}

/// A full WhatsApp message around a `richContent` snippet of the spec.
fn whatsapp_with(snippet: &str) -> String {
    let rich: Value = serde_json::from_str(snippet).expect("the snippet is JSON");
    json!({
        "messages": {
            "authentication": {"producttoken": "00000000-0000-0000-0000-000000000000"},
            "msg": [{
                "from": "TestSender",
                "to": [{"number": "00316012345678"}],
                "body": {"content": "Fallback text"},
                "allowedChannels": ["WhatsApp"],
                "richContent": rich,
            }]
        }
    })
    .to_string()
}

/// A full RCS message whose `richContent.suggestions` holds the spec's suggestion snippet(s).
fn rcs_with(suggestions: Value) -> String {
    json!({
        "messages": {
            "authentication": {"producttoken": "00000000-0000-0000-0000-000000000000"},
            "msg": [{
                "from": "TestSender",
                "to": [{"number": "00316012345678"}],
                "body": {"content": "RCS message text"},
                "allowedChannels": ["RCS"],
                "richContent": {
                    "conversation": [{"text": "RCS message text"}],
                    "suggestions": suggestions,
                },
            }]
        }
    })
    .to_string()
}

// ---- Shared features ----------------------------------------------------------------------

const VIBER_SAMPLE: &str = r#"{
    "messages": {
        "authentication": {
            "productToken": "your product token"
        },
        "msg": [{
            "body": {
                "content": "Message Text"
            },
            "to": [{
                "number": "00316012345678"
            }],
            "from": "TestSender",
            "allowedChannels": ["Viber"]
        }]
    }
}"#;

const BATCH: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels":  ["Viber"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                },{
                    "number": "00447911123457"
                }],
                "body": {
                    "content": "Test message"
                }
            },
            {
                "allowedChannels":  ["SMS"],
                "from": "OtherSender",
                "to": [{
                    "number": "00447911123458"
                },{
                    "number": "00447911123459"
                }],
                "body": {
                    "content": "Other Test message"
                }
            }
        ]
    }
}"#;

/// As printed in the spec: note the comma after `"customGrouping3": "Source 123"`.
const CUSTOM_GROUPINGS_AS_WRITTEN: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels":  ["SMS"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "body": {
                    "content": "Test message"
                },
                "reference": "your_reference",
                "customGrouping": "Campaign ABC",
                "customGrouping2": "Department XYZ",
                "customGrouping3": "Source 123",
            }
        ]
    }
}"#;

const VALIDITY: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels": ["SMS"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "body": {
                    "content": "Test message"
                },
                "validity": "2017-04-20 11:50 GMT"
            }
        ]
    }
}"#;

// ---- SMS --------------------------------------------------------------------------------

const AUTO_DETECT_GREEK: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels":  ["SMS"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "minimumNumberOfMessageParts": 1,
                "maximumNumberOfMessageParts": 8,
                "body": {
                    "type": "AUTO",
                    "content": "Κείμενο διαθέσιμο σε όλες τις γλώσσες"
                }
            }
        ]
    }
}"#;

const CUSTOM_DCS: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels":  ["SMS"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "dcs": 8,
                "body": {
                    "content": "Κείμενο διαθέσιμο σε όλες τις γλώσσες"
                }
            }
        ]
    }
}"#;

const MULTIPART: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels":  ["SMS"],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "minimumNumberOfMessageParts": 1,
                "maximumNumberOfMessageParts": 8,
                "body": {
                    "content": "Using these settings we can send SMS messages that contain more than 160 characters as if it is one message. Please do note that this limits the length of one message to 153 characters."
                }
            }
        ]
    }
}"#;

// ---- WhatsApp ---------------------------------------------------------------------------

const WHATSAPP_TEXT: &str = r#"{
    "messages": {
        "authentication": {
            "productToken": "your product token"
        },
        "msg": [{
            "body": {
                "content": "Message Text"
            },
            "to": [{
                "number": "00316012345678"
            }],
            "from": "TestSender",
            "allowedChannels": ["WhatsApp"]
        }]
    }
}"#;

const WHATSAPP_TEMPLATE: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "your product token"
        },
        "msg": [{
            "from": "CM.com",
            "to": [{
                    "number": "0031612345678"
                }
            ],
            "body": {
                "TYPE": "AUTO",
                "content": "This is a WhatsApp message"
            },
            "allowedChannels": ["WhatsApp"],
            "RichContent": {
                "conversation":
                [{
                    "template": {
                        "whatsapp": {
                            "namespace": "your template id here",
                            "element_name": "TEMPLATE_NAME",
                            "language": {
                                "policy": "fallback",
                                "code": "en_US"
                            },
                            "localizable_params": [{
                                    "default": "Name"
                                }, {
                                    "default": "Event"
                                }, {
                                    "default": "Saturday 6, July",
                                    "date_time": {
                                        "component": {
                                            "day_of_week": "Saturday",
                                            "day_of_month": 6,
                                            "year": 2019,
                                            "month": 7,
                                            "hour": 13,
                                            "minute": 0
                                        }
                                    }
                                }, {
                                    "default": "€10.50",
                                    "currency": {
                                        "currency_code": "EUR",
                                        "amount_1000": 10500
                                    }
                                }
                            ]
                        }
                    }
                }]
            }
        }]
    }
}"#;

const MEDIA_SNIPPET: &str = r#"{
    "conversation": [
        {
            "media": {
                "mediaName": "conversational-commerce",
                "mediaUri": "https://www.cm.com/cdn/web/nl-nl/blog/conversational-commerce.jpg",
                "mimeType": "image/jpg"
            }
        }
    ]
}"#;

const LOCATION_SNIPPET: &str = r#"{
    "conversation": [
        {
            "location": {
                "latitude": "51.603802",
                "longitude": "4.770821",
                "label": "CM HQ",
                "searchQuery": "Konijnenberg 30"
            }
        }
    ]
}"#;

const CONTACTS_SNIPPET: &str = r#"{
    "conversation": [
        {
            "contacts": [
                {
                    "addresses": [
                        {
                            "city": "Breda",
                            "country": "Netherlands",
                            "country_code": "NL",
                            "street": "Konijnenberg 30",
                            "type": "WORK",
                            "zip": "4825 BD"
                        }
                    ],
                    "name": {
                        "formatted_name": "CM Developer"
                    }
                }
            ]
        }
    ]
}"#;

// ---- Suggestions (Rich Content) -------------------------------------------------------------

const OPEN_URL_SNIPPET: &str = r#"{
    "suggestions": [
        {
            "action": "OpenUrl",
            "url": "market://details?id=cm.com",
            "label": "Install app"
        },
        {
            "action": "OpenUrl",
            "url": "https://docs.cmtelecom.com/bulk_sms/v1.0",
            "label": "SMS documentations"
        }
    ]
}"#;

const CALENDAR_SNIPPET: &str = r#"{
    "action": "CreateCalendarEvent",
    "label": "Add to calendar",
    "calendar":
    {
        "startTime": "2018-02-05T00:00:00",
        "endTime": "2018-02-08T00:00:00",
        "description": "Calendar demo",
        "title": "Demo"
    }
}"#;

const DIAL_SNIPPET: &str = r#"{
    "action": "Dial",
    "label": "Call us",
    "dial": {
        "PhoneNumber": "+310612345"
    }
}"#;

const VIEW_LOCATION_SNIPPET: &str = r#"{
    "action": "viewLocation",
    "viewLocation": {
        "latitude": "51.603802",
        "longitude": "4.770821",
        "label": "CM HQ"
    },
    "label": "Open in maps"
}"#;

// ---- Viber ------------------------------------------------------------------------------

/// As printed in the spec. Unlike the custom groupings example this one is valid JSON: the comma
/// after the closing brace of `richcontent` is followed by the `"to"` member (after a blank line
/// and with odd indentation), so nothing needs correcting.
const VIBER_RICH: &str = r#"{
    "messages": {
        "authentication": {
            "productToken": "your product token"
        },
        "Msg": [
            {
                "body": {
                    "content": "SMS fallback text"
                },
                "richcontent": {
                    "conversation": [
                        {
                            "text": "Viber message text"
                        },
                        {
                            "media": {
                                "mediaName": "viber-example.png",
                                "mediaUri": "https://www.cm.com/cdn/web/viber-message-festival.png",
                                "mimeType": "image/PNG"
                            }
                        }
                    ],
                    "suggestions": [
                        {
                            "action": "Openurl",
                            "label": "Visit cm.com",
                            "url": "https://www.cm.com"
                        }
                    ]
                },

            "to": [{
                "number": "00316012345678"
            }],
            "from": "TestSender",
            "allowedChannels": ["Viber"]
        }]
    }
}"#;

// ---- Push -------------------------------------------------------------------------------

const PUSH: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "body": {
                    "content": "This message defines allowed channels"
                },
                "allowedChannels": ["Push"],
                "appKey": "00000000-0000-0000-0000-000000000000"
            }
        ]
    }
}"#;

const PUSH_SMS_HYBRID: &str = r#"{
    "messages": {
        "authentication": {
            "producttoken": "00000000-0000-0000-0000-000000000000"
        },
        "msg": [ {
                "allowedChannels": [
                    "Push",
                    "SMS"
                ],
                "from": "SenderName",
                "to": [{
                    "number": "00447911123456"
                }],
                "appKey": "00000000-0000-0000-0000-000000000000",
                "body": {
                    "content": "This message will be delivered as a push message."
                }
            }
        ]
    }
}"#;

// ---- SDK request shapes (compat-notes section 1) -------------------------------------------

const PYTHON_SDK: &str = r#"{"messages":{"authentication":{"producttoken":"00000000-0000-0000-0000-000000000000"},"msg":[{"allowedChannels":["SMS"],"from":"TestSender",
         "to":[{"number":"0031612345678"}],"body":{"type":"AUTO","content":"Hello"},"reference":"ref1",
         "customGrouping3":"text-sdk-python-2.0.4"}]}}"#;

const NODE_SDK: &str = r#"{"messages":{"authentication":{"productToken":"00000000-0000-0000-0000-000000000000"},"msg":[{"from":"TestSender","body":{"content":"Hello","type":"AUTO"},
         "reference":"ref1","to":[{"number":"0031612345678"}],"customGrouping3":"text-sdk-javascript","allowedChannels":["SMS"]}]}}"#;

// ---- Tests ------------------------------------------------------------------------------

#[tokio::test]
async fn viber_sample_request_is_accepted() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "Viber sample",
        VIBER_SAMPLE,
        vec![accepted("00316012345678", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn batch_example_creates_one_message_per_recipient_in_order() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "batch",
        BATCH,
        vec![
            accepted("00447911123456", None, 1),
            accepted("00447911123457", None, 1),
            accepted("00447911123458", None, 1),
            accepted("00447911123459", None, 1),
        ],
    )
    .await;
}

#[tokio::test]
async fn custom_groupings_example_is_invalid_json_as_written_and_accepted_corrected() {
    let setup = setup(None, &[], false).await;
    assert_invalid_json(
        &setup,
        "custom groupings as written",
        CUSTOM_GROUPINGS_AS_WRITTEN,
    )
    .await;
    assert!(
        setup.log("").await["messages"]
            .as_array()
            .unwrap()
            .is_empty(),
        "an Invalid JSON request creates nothing"
    );

    let corrected = CUSTOM_GROUPINGS_AS_WRITTEN.replace(r#""Source 123","#, r#""Source 123""#);
    assert_ne!(corrected, CUSTOM_GROUPINGS_AS_WRITTEN);
    assert_accepted(
        &setup,
        "custom groupings corrected",
        &corrected,
        vec![accepted("00447911123456", Some("your_reference"), 1)],
    )
    .await;
    let log = setup.log("").await;
    let logged = &log["messages"][0];
    assert_eq!(log["messages"].as_array().unwrap().len(), 1, "log: {log}");
    assert_eq!(logged["reference"], "your_reference", "log: {log}");
    assert_eq!(logged["customGrouping"], "Campaign ABC", "log: {log}");
    assert_eq!(logged["customGrouping2"], "Department XYZ", "log: {log}");
    assert_eq!(logged["customGrouping3"], "Source 123", "log: {log}");
}

#[tokio::test]
async fn validity_example_in_the_past_is_still_accepted() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "validity",
        VALIDITY,
        vec![accepted("00447911123456", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn unicode_examples_auto_detect_and_dcs_8_are_one_part() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "auto-detect Greek",
        AUTO_DETECT_GREEK,
        vec![accepted("00447911123456", None, 1)],
    )
    .await;
    assert_accepted(
        &setup,
        "custom DCS 8",
        CUSTOM_DCS,
        vec![accepted("00447911123456", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn multipart_example_is_two_parts() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "multipart",
        MULTIPART,
        vec![accepted("00447911123456", None, 2)],
    )
    .await;
}

#[tokio::test]
async fn whatsapp_text_and_template_examples_are_accepted() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "WhatsApp text",
        WHATSAPP_TEXT,
        vec![accepted("00316012345678", None, 1)],
    )
    .await;
    assert_accepted(
        &setup,
        "WhatsApp template",
        WHATSAPP_TEMPLATE,
        vec![accepted("0031612345678", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn whatsapp_media_location_and_contacts_snippets_are_accepted() {
    let setup = setup(None, &[], false).await;
    for (name, snippet) in [
        ("media", MEDIA_SNIPPET),
        ("location", LOCATION_SNIPPET),
        ("contacts", CONTACTS_SNIPPET),
    ] {
        assert_accepted(
            &setup,
            &format!("WhatsApp {name} snippet"),
            &whatsapp_with(snippet),
            vec![accepted("00316012345678", None, 1)],
        )
        .await;
    }
}

#[tokio::test]
async fn suggestion_snippets_are_accepted_in_an_rcs_message() {
    let setup = setup(None, &[], false).await;
    let parse =
        |snippet: &str| -> Value { serde_json::from_str(snippet).expect("the snippet is JSON") };
    let open_url = parse(OPEN_URL_SNIPPET)["suggestions"].clone();
    let (calendar, dial, view_location) = (
        parse(CALENDAR_SNIPPET),
        parse(DIAL_SNIPPET),
        parse(VIEW_LOCATION_SNIPPET),
    );
    let mut all = open_url.as_array().unwrap().clone();
    all.extend([calendar.clone(), dial.clone(), view_location.clone()]);
    for (name, suggestions) in [
        ("OpenUrl", open_url),
        ("CreateCalendarEvent", json!([calendar])),
        ("Dial", json!([dial])),
        ("ViewLocation", json!([view_location])),
        ("all five together", Value::Array(all)),
    ] {
        assert_accepted(
            &setup,
            &format!("RCS suggestions {name}"),
            &rcs_with(suggestions),
            vec![accepted("00316012345678", None, 1)],
        )
        .await;
    }
}

#[tokio::test]
async fn viber_rich_example_is_valid_json_and_accepted_as_written() {
    let setup = setup(None, &[], false).await;
    assert!(
        serde_json::from_str::<Value>(VIBER_RICH).is_ok(),
        "the spec's Viber rich example is JSON as printed"
    );
    assert_accepted(
        &setup,
        "Viber rich (text, image and button)",
        VIBER_RICH,
        vec![accepted("00316012345678", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn push_and_push_sms_hybrid_examples_are_accepted() {
    let setup = setup(None, &[], false).await;
    assert_accepted(
        &setup,
        "Push",
        PUSH,
        vec![accepted("00447911123456", None, 1)],
    )
    .await;
    assert_accepted(
        &setup,
        "Push + SMS hybrid",
        PUSH_SMS_HYBRID,
        vec![accepted("00447911123456", None, 1)],
    )
    .await;
}

#[tokio::test]
async fn sdk_request_shapes_python_and_node_are_accepted() {
    let setup = setup(None, &[], false).await;
    for (name, shape) in [("Python SDK", PYTHON_SDK), ("Node SDK", NODE_SDK)] {
        assert_accepted(
            &setup,
            name,
            shape,
            vec![accepted("0031612345678", Some("ref1"), 1)],
        )
        .await;
    }
    let log = setup.log("").await;
    let mut groupings: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customGrouping3"].as_str().unwrap())
        .collect();
    groupings.sort_unstable();
    assert_eq!(
        groupings,
        ["text-sdk-javascript", "text-sdk-python-2.0.4"],
        "log: {log}"
    );
}

// ---- The spec's response examples ---------------------------------------------------------

#[tokio::test]
async fn response_example_entire_request_incorrect() {
    let setup = setup(None, &[], false).await;
    // The batch example as printed: its all-zero product token is well-formed but belongs to no
    // account.
    let (status, response) = setup.post_json(BATCH).await;
    assert_eq!(status, 400, "body {response}");
    assert_eq!(
        response,
        json!({
            "details": "No account found for the given authentication",
            "errorCode": 101,
            "messages": []
        })
    );
}

#[tokio::test]
async fn response_example_incorrect_msg_and_a_correct_message() {
    let setup = setup(None, &[], false).await;
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[{"from":"SenderName","to":[{"number":"00447911123456"}],"body":{"content":"Test message"},
                 "reference":"your_reference_A"},
                {"from":"SenderName","to":[{"number":"00447911123457"}],"body":{"content":""},
                 "reference":"your_reference_B"}]"#,
        ))
        .await;
    assert_eq!(status, 200, "body {response}");
    assert_eq!(
        without_ids(response),
        json!({
            "details": "Created 1 message(s)",
            "errorCode": 201,
            "messages": [
                {
                    "to": "00447911123456",
                    "status": "Accepted",
                    "reference": "your_reference_A",
                    "parts": 1,
                    "messageDetails": null,
                    "messageErrorCode": 0
                },
                {
                    "to": "00447911123457",
                    "status": "Rejected",
                    "reference": "your_reference_B",
                    "parts": 0,
                    "messageDetails": "A body without content was found",
                    "messageErrorCode": 304
                }
            ]
        })
    );
}

#[tokio::test]
async fn response_example_all_incorrect() {
    let setup = setup(None, &[], false).await;
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[{"from":"SenderName","to":[{"number":"0044791112345a"}],"body":{"content":"Test message"},
                 "reference":"your_reference_A"},
                {"from":"SenderName","to":[{"number":"00447911123456"}],"body":{"content":""}}]"#,
        ))
        .await;
    assert_eq!(status, 400, "body {response}");
    assert_eq!(
        response,
        json!({
            "details": "Created 0 message(s)",
            "errorCode": 201,
            "messages": [
                {
                    "to": "0044791112345a",
                    "status": "Rejected",
                    "reference": "your_reference_A",
                    "parts": 0,
                    "messageDetails": "Gsm '0044791112345a' is not a number.",
                    "messageErrorCode": 303
                },
                {
                    "to": "00447911123456",
                    "status": "Rejected",
                    "reference": null,
                    "parts": 0,
                    "messageDetails": "A body without content was found",
                    "messageErrorCode": 304
                }
            ]
        })
    );
    assert!(
        setup.log("").await["messages"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}
