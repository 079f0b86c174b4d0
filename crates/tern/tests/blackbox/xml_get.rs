//! `/gateway.ashx`: every XML example of the spec, every row of the XML and GET error tables,
//! atomicity, hostile XML, and status reports for messages that came in this way.

use std::time::Duration;

use crate::{Setup, setup};

/// POST an XML body; status and text.
async fn post_xml(setup: &Setup, body: &str) -> (u16, String) {
    let response = setup
        .client
        .post(setup.gateway.url("/gateway.ashx"))
        .header("content-type", "application/xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// GET with a raw query string.
async fn get(setup: &Setup, query: &str) -> (u16, String) {
    let response = setup
        .client
        .get(setup.gateway.url(&format!("/gateway.ashx?{query}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn logged(setup: &Setup) -> usize {
    setup.log("?limit=1000").await["messages"]
        .as_array()
        .unwrap()
        .len()
}

const PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>";

/// The spec's XML examples, verbatim but for the token (the APPKEY placeholder stays).
const SPEC_EXAMPLES: &[(&str, &str, usize)] = &[
    (
        "single",
        r#"<?xml version="1.0" encoding="utf-8"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <BODY>Test message</BODY>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "batch",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <TO>00447911123457</TO>
    <BODY>Test message</BODY>
  </MSG>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>OtherSender</FROM>
    <TO>00447911123458</TO>
    <TO>00447911123459</TO>
    <BODY>Other Test message</BODY>
  </MSG>
</MESSAGES>"#,
        4,
    ),
    (
        "reference",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <BODY>Test message</BODY>
    <REFERENCE>your_reference</REFERENCE>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "unicode",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <DCS>8</DCS>
    <BODY>Κείμενο διαθέσιμο σε όλες τις γλώσσες</BODY>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "auto-detection",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <MINIMUMNUMBEROFMESSAGEPARTS>1</MINIMUMNUMBEROFMESSAGEPARTS>
    <MAXIMUMNUMBEROFMESSAGEPARTS>8</MAXIMUMNUMBEROFMESSAGEPARTS>
    <BODY TYPE="AUTO">Κείμενο διαθέσιμο σε όλες τις γλώσσες</BODY>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "multipart",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <MINIMUMNUMBEROFMESSAGEPARTS>1</MINIMUMNUMBEROFMESSAGEPARTS>
    <MAXIMUMNUMBEROFMESSAGEPARTS>8</MAXIMUMNUMBEROFMESSAGEPARTS>
    <BODY>Using these settings we can send SMS messages that contain more than 160 characters as if it is one message. Please do note that this limits the length of one message to 153 characters.</BODY>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "custom grouping",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <BODY>This message uses custom groupings</BODY>
    <CUSTOMGROUPING>Campaign ABC</CUSTOMGROUPING>
    <CUSTOMGROUPING2>Department XYZ</CUSTOMGROUPING2>
    <CUSTOMGROUPING3>Source 123</CUSTOMGROUPING3>
  </MSG>
</MESSAGES>"#,
        1,
    ),
    (
        "hybrid",
        r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>Push</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <APPKEY>00000000-0000-0000-0000-000000000000</APPKEY>
    <BODY>This message will be delivered as a push message.</BODY>
  </MSG>
</MESSAGES>"#,
        1,
    ),
];

/// The spec's Push example has a stray second `</MSG>`: not well-formed as written.
const SPEC_PUSH_AS_WRITTEN: &str = r#"<?xml version="1.0"?>
<MESSAGES>
  <AUTHENTICATION>
    <PRODUCTTOKEN>00000000-0000-0000-0000-000000000000</PRODUCTTOKEN>
  </AUTHENTICATION>
  <MSG>
    <CHANNEL>SMS</CHANNEL>
    <FROM>SenderName</FROM>
    <TO>00447911123456</TO>
    <BODY>This message defines allowed channels</BODY>
    <ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS>  
    <APPKEY>00000000-0000-0000-0000-000000000000</APPKEY>  
  </MSG>
  </MSG>
</MESSAGES>"#;

#[tokio::test]
async fn every_xml_example_of_the_spec_is_accepted() {
    let setup = setup(None, &[], false).await;
    let mut expected_total = 0;
    for (name, example, recipients) in SPEC_EXAMPLES {
        let body = example.replacen(PLACEHOLDER, &format!("{}</PRODUCTTOKEN>", setup.token), 1);
        assert_eq!(
            post_xml(&setup, &body).await,
            (200, String::new()),
            "{name}"
        );
        expected_total += recipients;
        assert_eq!(logged(&setup).await, expected_total, "{name}");
    }
    let push =
        SPEC_PUSH_AS_WRITTEN.replacen(PLACEHOLDER, &format!("{}</PRODUCTTOKEN>", setup.token), 1);
    let (status, text) = post_xml(&setup, &push).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("Error: ERROR Invalid XML: "), "{text}");
    // Without the stray end tag it is accepted and routed to Push.
    let fixed = push.replacen("</MSG>\n  </MSG>", "</MSG>", 1);
    assert_eq!(post_xml(&setup, &fixed).await, (200, String::new()));
    let log = setup.log("?limit=1000").await;
    let last = log["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["allowedChannels"], serde_json::json!(["Push"]));
    // Custom groupings and the reference were kept.
    let grouped = setup.log("?reference=your_reference").await;
    assert_eq!(grouped["messages"].as_array().unwrap().len(), 1);
}

fn xml(token: &str, msgs: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{token}</PRODUCTTOKEN></AUTHENTICATION>{msgs}</MESSAGES>"
    )
}

const GOOD: &str = "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY></MSG>";

#[tokio::test]
async fn every_row_of_the_xml_error_table() {
    let setup = setup(
        Some("price_per_part = \"1\"\n"),
        &["--channels", "SMS", "--balance", "1"],
        false,
    )
    .await;
    let token = setup.token.clone();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no account",
            xml("0a1b2c3d-0000-4000-8000-000000000001", GOOD),
            "Error: ERROR No account found for the given authentication",
        ),
        (
            "invalid token",
            xml("nope", GOOD),
            "Error: ERROR Invalid product token.",
        ),
        (
            "no token",
            "<MESSAGES><MSG/></MESSAGES>".into(),
            "Error: ERROR Invalid product token.",
        ),
        (
            "no FROM",
            xml(&token, "<MSG><TO>0031612345678</TO><BODY>hi</BODY></MSG>"),
            "Error: ERROR No FROM field found in a MSG node.",
        ),
        (
            "no MSG",
            xml(&token, ""),
            "Error: ERROR A MESSAGES node requires at least one MSG node",
        ),
        (
            "no TO",
            xml(&token, "<MSG><FROM>S</FROM><BODY>hi</BODY></MSG>"),
            "Error: ERROR No phone numbers found. Message will not be sent.",
        ),
        (
            "bad number",
            xml(
                &token,
                "<MSG><FROM>S</FROM><TO>0044791112345a</TO><BODY>hi</BODY></MSG>",
            ),
            "Error: ERROR Rejected: Gsm '0044791112345a' is not a number.",
        ),
        (
            "unrouteable",
            xml(
                &token,
                "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY><ALLOWEDCHANNELS>Viber</ALLOWEDCHANNELS></MSG>",
            ),
            "Error: ERROR Message is unrouteable.",
        ),
        (
            "empty body",
            xml(
                &token,
                "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY></BODY></MSG>",
            ),
            "Error: ERROR A body without content was found",
        ),
        (
            "no body",
            xml(&token, "<MSG><FROM>S</FROM><TO>0031612345678</TO></MSG>"),
            "Error: ERROR No body field was found",
        ),
    ];
    for (name, body, expected) in &cases {
        assert_eq!(
            post_xml(&setup, body).await,
            (200, expected.to_string()),
            "{name}"
        );
    }
    assert_eq!(logged(&setup).await, 0, "no error created a message");
    // Balance 1, price 1 per part: the first part is paid for, the next request is not.
    assert_eq!(
        post_xml(&setup, &xml(&token, GOOD)).await,
        (200, String::new())
    );
    assert_eq!(
        post_xml(&setup, &xml(&token, GOOD)).await,
        (200, "Error: ERROR Insufficient balance.".to_string())
    );
    // Neither GET nor POST: 400 with no body.
    let response = setup
        .client
        .put(setup.gateway.url("/gateway.ashx"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn one_bad_part_rejects_the_whole_xml_request() {
    let setup = setup(None, &[], false).await;
    let bad_second = format!(
        "{GOOD}<MSG><FROM>S</FROM><TO>0031612345678</TO><TO>12ab</TO><BODY>hi</BODY></MSG>"
    );
    assert_eq!(
        post_xml(&setup, &xml(&setup.token, &bad_second)).await,
        (
            200,
            "Error: ERROR Rejected: Gsm '12ab' is not a number.".to_string()
        )
    );
    assert_eq!(logged(&setup).await, 0);
}

#[tokio::test]
async fn hostile_xml_is_refused() {
    let setup = setup(None, &[], false).await;
    let cases = [
        (
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE M [<!ENTITY x SYSTEM "file:///etc/passwd">]><MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{}</PRODUCTTOKEN></AUTHENTICATION><MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>&x;</BODY></MSG></MESSAGES>"#,
                setup.token
            ),
            "Error: ERROR Invalid XML: DTDs are not accepted",
        ),
        (
            xml(
                &setup.token,
                "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>&lol;</BODY></MSG>",
            ),
            "Error: ERROR Invalid XML: unknown entity '&lol;'",
        ),
        (
            "<a>".repeat(40) + &"</a>".repeat(40),
            "Error: ERROR Invalid XML: the XML is nested deeper than 16 levels",
        ),
        (
            "{\"messages\":{}}".into(),
            "Error: ERROR Invalid XML: the body is not well-formed XML",
        ),
    ];
    for (body, expected) in &cases {
        let (status, text) = post_xml(&setup, body).await;
        assert_eq!(status, 200);
        assert!(text.starts_with(expected), "{expected}: {text}");
    }
    assert_eq!(logged(&setup).await, 0);
}

#[tokio::test]
async fn get_interface_example_and_error_rows() {
    let setup = setup(None, &["--channels", "SMS"], false).await;
    let token = setup.token.clone();
    // The spec's example URL.
    let example = format!(
        "producttoken={token}&body=Example+message+text&to=00447911123456&from=SenderName&reference=your_reference"
    );
    assert_eq!(get(&setup, &example).await, (200, String::new()));
    let log = setup.log("?reference=your_reference").await;
    assert_eq!(log["messages"][0]["to"], "00447911123456");
    assert_eq!(log["messages"][0]["from"], "SenderName");
    // Names without case.
    assert_eq!(
        get(
            &setup,
            &format!("PRODUCTTOKEN={token}&Body=x&TO=00447911123456&From=S")
        )
        .await,
        (200, String::new())
    );
    let long = "a".repeat(161);
    let cases: Vec<(&str, String, String)> = vec![
        ("no account", "producttoken=0a1b2c3d-0000-4000-8000-000000000001&body=x&to=0031612345678&from=S".into(), "Error: ERROR No account found for the given authentication".into()),
        ("invalid token", "producttoken=abc&body=x&to=0031612345678&from=S".into(), "Error: ERROR Parameter 'producttoken' contains an invalid value: 'abc'".into()),
        ("no from", format!("producttoken={token}&body=x&to=0031612345678"), "Error: ERROR No sender name provided".into()),
        ("empty from", format!("producttoken={token}&body=x&to=0031612345678&from="), "Error: ERROR No sender name provided".into()),
        ("bad to", format!("producttoken={token}&body=x&to=12ab&from=S"), "Error: ERROR Parameter 'to' contains an invalid value: '12ab'".into()),
        ("two numbers", format!("producttoken={token}&body=x&to=0031612345678&to=0031612345679&from=S"), "Error: ERROR Parameter 'to' contains an invalid value: '0031612345678,0031612345679'".into()),
        ("no body", format!("producttoken={token}&to=0031612345678&from=S"), "Error: ERROR Parameter 'body' is required".into()),
        ("161 characters", format!("producttoken={token}&body={long}&to=0031612345678&from=S"), "Error: ERROR Parameter 'body' contains an invalid value: it is longer than 160 characters".into()),
        ("appkey is carried", format!("producttoken={token}&body=x&to=0031612345678&from=S&appkey=k"), String::new()),
    ];
    for (name, query, expected) in &cases {
        assert_eq!(get(&setup, query).await, (200, expected.clone()), "{name}");
    }
    // 160 characters is fine.
    let exact = "a".repeat(160);
    assert_eq!(
        get(
            &setup,
            &format!("producttoken={token}&body={exact}&to=0031612345678&from=S")
        )
        .await,
        (200, String::new())
    );
    assert_eq!(logged(&setup).await, 4);
}

#[tokio::test]
async fn xml_and_get_messages_are_reported_like_json_ones() {
    let config = "[simulator]\ndefault_delay_ms = 10\n";
    let setup = setup(Some(config), &[], true).await;
    let body = xml(
        &setup.token,
        "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY><REFERENCE>viaxml</REFERENCE><CUSTOMGROUPING>g</CUSTOMGROUPING></MSG>",
    );
    assert_eq!(post_xml(&setup, &body).await, (200, String::new()));
    let query = format!(
        "producttoken={}&body=hi&to=0031612345679&from=S&reference=viaget",
        setup.token
    );
    assert_eq!(get(&setup, &query).await, (200, String::new()));
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(2, Duration::from_secs(10))
        .await;
    let mut seen: Vec<(String, String, String)> = received
        .iter()
        .map(|r| {
            let msg = &r.json()["messages"]["msg"];
            (
                msg["reference"].as_str().unwrap().to_owned(),
                msg["status"]["code"].as_str().unwrap().to_owned(),
                msg["customGrouping"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("viaget".into(), "2".into(), String::new()),
            ("viaxml".into(), "2".into(), "g".into()),
        ]
    );
}
