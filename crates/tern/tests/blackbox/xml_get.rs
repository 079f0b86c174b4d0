//! `/gateway.ashx`: every XML example of the spec, every row of the XML and GET error tables,
//! atomicity, hostile XML, and status reports for messages that came in this way.

use std::time::Duration;

use crate::{Setup, setup};

/// POST an XML body; status and text.
pub(crate) async fn post_xml(setup: &Setup, body: &str) -> (u16, String) {
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
pub(crate) async fn get(setup: &Setup, query: &str) -> (u16, String) {
    let response = setup
        .client
        .get(setup.gateway.url(&format!("/gateway.ashx?{query}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub(crate) async fn logged(setup: &Setup) -> usize {
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

pub(crate) fn xml(token: &str, msgs: &str) -> String {
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

/// One column of the stored message with this reference, read from the gateway's SQLite file
/// (for what the message log does not show).
fn stored<T: rusqlite::types::FromSql>(setup: &Setup, column: &str, reference: &str) -> Option<T> {
    let path = setup.gateway.data_dir.join("tern.db");
    let db = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    db.query_row(
        &format!(
            "SELECT {column} FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.reference = ?1"
        ),
        [reference],
        |row| row.get(0),
    )
    .unwrap()
}

/// The one logged message with this reference.
async fn logged_one(setup: &Setup, reference: &str) -> serde_json::Value {
    let log = setup.log(&format!("?reference={reference}")).await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{reference}: {log}");
    messages[0].clone()
}

#[tokio::test]
async fn get_row_insufficient_balance() {
    let setup = setup(
        Some("price_per_part = \"1\"\n"),
        &["--channels", "SMS", "--balance", "1"],
        false,
    )
    .await;
    let query = |reference: &str| {
        format!(
            "producttoken={}&body=x&to=0031612345678&from=S&reference={reference}",
            setup.token
        )
    };
    // Balance 1, price 1 per part: the first message is paid for, the second is not.
    assert_eq!(get(&setup, &query("paid")).await, (200, String::new()));
    assert_eq!(
        get(&setup, &query("unpaid")).await,
        (200, "Error: ERROR Insufficient balance.".to_string())
    );
    let log = setup.log("?limit=1000").await;
    let references: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reference"].as_str().unwrap())
        .collect();
    assert_eq!(references, ["paid"], "only the paid message is stored");
}

#[tokio::test]
async fn get_row_unrouteable_without_the_sms_channel() {
    let setup = setup(None, &["--channels", "WhatsApp,Viber"], false).await;
    let query = format!(
        "producttoken={}&body=x&to=0031612345678&from=S&reference=nosms",
        setup.token
    );
    assert_eq!(
        get(&setup, &query).await,
        (200, "Error: ERROR Message is unrouteable.".to_string())
    );
    assert_eq!(logged(&setup).await, 0);
}

#[tokio::test]
async fn get_appkey_is_stored_and_post_only_parameters_are_ignored() {
    let setup = setup(None, &["--channels", "SMS"], false).await;
    let token = setup.token.clone();
    let key = "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d";
    assert_eq!(
        get(
            &setup,
            &format!(
                "producttoken={token}&body=x&to=0031612345678&from=S&reference=withkey&APPKEY={key}"
            )
        )
        .await,
        (200, String::new())
    );
    assert_eq!(
        stored::<String>(&setup, "app_key", "withkey").as_deref(),
        Some(key)
    );
    // The log shows it as an SMS like any other GET message (it has no appKey field).
    let logged_key = logged_one(&setup, "withkey").await;
    assert_eq!(logged_key["allowedChannels"], serde_json::json!(["SMS"]));
    assert_eq!(logged_key["parts"], 1);
    assert_eq!(
        get(
            &setup,
            &format!("producttoken={token}&body=x&to=0031612345678&from=S&reference=nokey&appkey=")
        )
        .await,
        (200, String::new())
    );
    assert_eq!(
        stored::<String>(&setup, "app_key", "nokey"),
        None,
        "empty appkey"
    );

    // DCS and the part limits are HTTP POST only: GET ignores them. 100 characters would be
    // 2 UCS2 parts with dcs 8, and minimum 5 above maximum 3 would be refused.
    let hundred = "a".repeat(100);
    assert_eq!(
        get(
            &setup,
            &format!("producttoken={token}&body={hundred}&to=0031612345678&from=S&reference=getdcs&dcs=8&minimumnumberofmessageparts=5&maximumnumberofmessageparts=3")
        )
        .await,
        (200, String::new())
    );
    let ignored = logged_one(&setup, "getdcs").await;
    assert_eq!(ignored["parts"], 1, "{ignored}");
    assert_eq!(
        stored::<i64>(&setup, "dcs", "getdcs"),
        None,
        "dcs not stored"
    );
}

/// A one-`MSG` XML request with these extra elements and this `BODY` element.
fn xml_msg(token: &str, reference: &str, body: &str, extra: &str) -> String {
    xml(
        token,
        &format!(
            "<MSG><FROM>S</FROM><TO>0031612345678</TO>{body}<REFERENCE>{reference}</REFERENCE>{extra}</MSG>"
        ),
    )
}

#[tokio::test]
async fn xml_auto_and_dcs_8_count_ucs2_parts() {
    let setup = setup(None, &[], false).await;
    let token = setup.token.clone();
    let a = |n: usize| "a".repeat(n);
    // n characters of which the first is a Greek letter (no GSM form).
    let greek = |n: usize| format!("λ{}", a(n - 1));
    let auto = |content: String| format!(r#"<BODY TYPE="AUTO">{content}</BODY>"#);
    let plain = |content: String| format!("<BODY>{content}</BODY>");
    let cases: Vec<(&str, String, &str, u32)> = vec![
        ("autogreek70", auto(greek(70)), "", 1),
        ("autogreek71", auto(greek(71)), "", 2),
        ("autogreek132", auto(greek(132)), "", 2),
        ("autogreek133", auto(greek(133)), "", 3),
        ("autolower", r#"<BODY type="auto">λ</BODY>"#.into(), "", 1),
        // AUTO keeps GSM-only text GSM, and ignores DCS.
        ("autogsm160", auto(a(160)), "", 1),
        ("autogsmdcs8", auto(a(160)), "<DCS>8</DCS>", 1),
        ("autogreekdcs0", auto(greek(71)), "<DCS>0</DCS>", 2),
        // DCS 8 without a type: UCS2 whatever the text.
        ("dcs8ascii70", plain(a(70)), "<DCS>8</DCS>", 1),
        ("dcs8ascii71", plain(a(71)), "<DCS>8</DCS>", 2),
        ("dcs8greek71", plain(greek(71)), "<DCS>8</DCS>", 2),
        // No type, no DCS: GSM with look-alikes (λ becomes '?').
        ("plaingreek71", plain(greek(71)), "", 1),
        ("plaingreek161", plain(greek(161)), "", 2),
        // TEXT means GSM 7-bit: DCS 8 does not make it UCS2.
        (
            "textdcs8",
            format!(r#"<BODY TYPE="TEXT">{}</BODY>"#, greek(71)),
            "<DCS>8</DCS>",
            1,
        ),
    ];
    for (reference, body, extra, _) in &cases {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, reference, body, extra)).await,
            (200, String::new()),
            "{reference}"
        );
    }
    for (reference, _, _, parts) in &cases {
        let message = logged_one(&setup, reference).await;
        assert_eq!(message["parts"], *parts, "{reference}: {message}");
    }
}

#[tokio::test]
async fn xml_part_limits_over_the_limit_answer_their_error_line() {
    let setup = setup(None, &[], false).await;
    let token = setup.token.clone();
    let a = |n: usize| "a".repeat(n);
    let limits = |min: &str, max: &str| {
        let mut extra = String::new();
        if !min.is_empty() {
            extra += &format!("<MINIMUMNUMBEROFMESSAGEPARTS>{min}</MINIMUMNUMBEROFMESSAGEPARTS>");
        }
        if !max.is_empty() {
            extra += &format!("<MAXIMUMNUMBEROFMESSAGEPARTS>{max}</MAXIMUMNUMBEROFMESSAGEPARTS>");
        }
        extra
    };
    let plain = |content: String| format!("<BODY>{content}</BODY>");
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "161 GSM characters, maximum 1",
            plain(a(161)),
            limits("1", "1"),
            "Error: ERROR Message needs 2 parts but maximumNumberOfMessageParts is 1",
        ),
        (
            "71 AUTO characters with a Greek letter, maximum 1",
            format!(r#"<BODY TYPE="AUTO">λ{}</BODY>"#, a(70)),
            limits("", "1"),
            "Error: ERROR Message needs 2 parts but maximumNumberOfMessageParts is 1",
        ),
        (
            "71 characters with DCS 8, maximum 1",
            plain(a(71)),
            limits("", "1") + "<DCS>8</DCS>",
            "Error: ERROR Message needs 2 parts but maximumNumberOfMessageParts is 1",
        ),
        (
            "9 parts with the default maximum of 8",
            plain(a(153 * 8 + 1)),
            String::new(),
            "Error: ERROR Message needs 9 parts but maximumNumberOfMessageParts is 8",
        ),
        (
            "maximum below minimum",
            plain(a(1)),
            limits("5", "3"),
            "Error: ERROR maximumNumberOfMessageParts (3) is less than minimumNumberOfMessageParts (5)",
        ),
        (
            "maximum 256",
            plain(a(1)),
            limits("1", "256"),
            "Error: ERROR maximumNumberOfMessageParts must be between 1 and 255, got 256",
        ),
        (
            "minimum 0",
            plain(a(1)),
            limits("0", "8"),
            "Error: ERROR minimumNumberOfMessageParts must be between 1 and 255, got 0",
        ),
        (
            "minimum above the default maximum",
            plain(a(1)),
            limits("9", ""),
            "Error: ERROR minimumNumberOfMessageParts (9) is more than the default maximumNumberOfMessageParts (8); send maximumNumberOfMessageParts too",
        ),
        (
            "maximum not a number",
            plain(a(1)),
            limits("1", "eight"),
            "Error: ERROR maximumNumberOfMessageParts must be an integer",
        ),
        (
            "DCS not a number",
            plain(a(1)),
            "<DCS>eight</DCS>".into(),
            "Error: ERROR dcs must be an integer",
        ),
    ];
    for (case, body, extra, expected) in &cases {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, "limits", body, extra)).await,
            (200, expected.to_string()),
            "{case}"
        );
    }
    assert_eq!(logged(&setup).await, 0, "no error created a message");
    // Within the limits: accepted with the parts it needs.
    assert_eq!(
        post_xml(
            &setup,
            &xml_msg(&token, "within", &plain(a(307)), &limits("1", "3"))
        )
        .await,
        (200, String::new())
    );
    assert_eq!(logged_one(&setup, "within").await["parts"], 3);
}

#[tokio::test]
async fn xml_channel_and_allowedchannels_route() {
    let setup = setup(
        Some("[simulator]\ndefault_delay_ms = 10\n"),
        &["--channels", "SMS,WhatsApp"],
        false,
    )
    .await;
    let token = setup.token.clone();
    let body = "<BODY>Hello</BODY>";
    let cases: Vec<(&str, &str, serde_json::Value)> = vec![
        ("nochannel", "", serde_json::json!(["SMS"])),
        (
            "channelwa",
            "<CHANNEL>WhatsApp</CHANNEL>",
            serde_json::json!(["WhatsApp"]),
        ),
        (
            "channellower",
            "<channel>whatsapp</channel>",
            serde_json::json!(["WhatsApp"]),
        ),
        (
            "allowedlist",
            "<ALLOWEDCHANNELS>WhatsApp, SMS</ALLOWEDCHANNELS>",
            serde_json::json!(["WhatsApp", "SMS"]),
        ),
        (
            "allowedrepeated",
            "<ALLOWEDCHANNELS>WhatsApp</ALLOWEDCHANNELS><ALLOWEDCHANNELS>SMS</ALLOWEDCHANNELS>",
            serde_json::json!(["WhatsApp", "SMS"]),
        ),
        (
            "allowedwins",
            "<CHANNEL>SMS</CHANNEL><ALLOWEDCHANNELS>WhatsApp</ALLOWEDCHANNELS>",
            serde_json::json!(["WhatsApp"]),
        ),
        (
            "accountlacks",
            "<ALLOWEDCHANNELS>Viber,SMS</ALLOWEDCHANNELS>",
            serde_json::json!(["SMS"]),
        ),
    ];
    for (reference, extra, _) in &cases {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, reference, body, extra)).await,
            (200, String::new()),
            "{reference}"
        );
    }
    for (reference, _, channels) in &cases {
        let message = logged_one(&setup, reference).await;
        assert_eq!(message["allowedChannels"], *channels, "{reference}");
    }
    // Errors: a channel the account lacks, and a name that is no channel.
    for (extra, expected) in [
        (
            "<CHANNEL>Viber</CHANNEL>",
            "Error: ERROR Message is unrouteable.",
        ),
        (
            "<ALLOWEDCHANNELS>Pigeon</ALLOWEDCHANNELS>",
            "Error: ERROR allowedChannels: unknown channel 'Pigeon'",
        ),
        (
            "<ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS>",
            "Error: ERROR Message is unrouteable.",
        ),
    ] {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, "bad", body, extra)).await,
            (200, expected.to_string()),
            "{extra}"
        );
    }
    // The WhatsApp-only message goes out on WhatsApp.
    let log = setup.wait_final(cases.len(), Duration::from_secs(10)).await;
    let sent_on = |reference: &str| {
        log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reference"] == reference)
            .map(|m| (m["status"].clone(), m["channel"].clone()))
            .unwrap()
    };
    assert_eq!(
        sent_on("channelwa"),
        (
            serde_json::json!("delivered"),
            serde_json::json!("WhatsApp")
        )
    );
    assert_eq!(
        sent_on("nochannel"),
        (serde_json::json!("delivered"), serde_json::json!("SMS"))
    );
}

#[tokio::test]
async fn xml_custom_groupings_are_stored_and_reported() {
    let config = "[simulator]\ndefault_delay_ms = 10\n";
    let setup = setup(Some(config), &[], true).await;
    let token = setup.token.clone();
    let groupings = "<CUSTOMGROUPING>Campaign ABC</CUSTOMGROUPING><CUSTOMGROUPING2>Department XYZ</CUSTOMGROUPING2><customgrouping3>Source 123</customgrouping3>";
    assert_eq!(
        post_xml(
            &setup,
            &xml_msg(&token, "grouped", "<BODY>hi</BODY>", groupings)
        )
        .await,
        (200, String::new())
    );
    // Only the second and third.
    assert_eq!(
        post_xml(
            &setup,
            &xml_msg(
                &token,
                "grouped23",
                "<BODY>hi</BODY>",
                "<CUSTOMGROUPING2>two</CUSTOMGROUPING2><CUSTOMGROUPING3>three</CUSTOMGROUPING3>"
            )
        )
        .await,
        (200, String::new())
    );
    // Over 100 characters: the error line, nothing created.
    let long = format!("<CUSTOMGROUPING3>{}</CUSTOMGROUPING3>", "g".repeat(101));
    assert_eq!(
        post_xml(
            &setup,
            &xml_msg(&token, "toolong", "<BODY>hi</BODY>", &long)
        )
        .await,
        (
            200,
            "Error: ERROR customGrouping3 must be at most 100 characters".to_string()
        )
    );
    let groups = |message: &serde_json::Value| {
        (
            message["customGrouping"].clone(),
            message["customGrouping2"].clone(),
            message["customGrouping3"].clone(),
        )
    };
    let json = |s: &str| serde_json::json!(s);
    assert_eq!(
        groups(&logged_one(&setup, "grouped").await),
        (
            json("Campaign ABC"),
            json("Department XYZ"),
            json("Source 123")
        )
    );
    assert_eq!(
        groups(&logged_one(&setup, "grouped23").await),
        (serde_json::Value::Null, json("two"), json("three"))
    );
    let received = setup
        .receiver
        .as_ref()
        .unwrap()
        .wait_for(2, Duration::from_secs(10))
        .await;
    let mut reported: Vec<_> = received
        .iter()
        .map(|r| {
            let msg = &r.json()["messages"]["msg"];
            (msg["reference"].clone(), groups(msg))
        })
        .collect();
    reported.sort_by_key(|(reference, _)| reference.to_string());
    assert_eq!(
        reported,
        vec![
            (
                json("grouped"),
                (
                    json("Campaign ABC"),
                    json("Department XYZ"),
                    json("Source 123")
                )
            ),
            (json("grouped23"), (json(""), json("two"), json("three"))),
        ]
    );
    assert_eq!(logged(&setup).await, 2);
}

#[tokio::test]
async fn xml_body_over_the_limit_answers_an_error_line() {
    let setup = setup(Some("max_body_bytes = 1000\n"), &[], false).await;
    let valid = xml(&setup.token, GOOD);
    assert!(valid.len() < 1000);
    // Whitespace after the root element keeps it well-formed.
    let padded = |size: usize| format!("{valid}{}", " ".repeat(size - valid.len()));
    assert_eq!(
        post_xml(&setup, &padded(1000)).await,
        (200, String::new()),
        "exactly 1000 bytes"
    );
    let too_large = "Error: ERROR Request body too large: the limit is 1000 bytes".to_string();
    let long_body = xml(
        &setup.token,
        &format!(
            "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>{}</BODY></MSG>",
            "x".repeat(2500)
        ),
    );
    for (case, body) in [
        ("1001 bytes", padded(1001)),
        ("3000 bytes", padded(3000)),
        ("a long message", long_body),
        ("over the limit and not XML", "x".repeat(2000)),
    ] {
        let response = setup
            .client
            .post(setup.gateway.url("/gateway.ashx"))
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8",
            "{case}"
        );
        assert_eq!(response.text().await.unwrap(), too_large, "{case}");
    }
    assert_eq!(logged(&setup).await, 1, "only the 1000-byte request");
}

#[tokio::test]
async fn xml_validity_and_appkey_follow_the_json_rules() {
    let setup = setup(None, &[], false).await;
    let token = setup.token.clone();
    let body = "<BODY>hi</BODY>";
    for (reference, extra) in [
        ("valid2h", "<VALIDITY>2h</VALIDITY>"),
        ("validabs", "<VALIDITY>2030-04-20 11:50:05 GMT</VALIDITY>"),
        (
            "pushkey",
            "<ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS><APPKEY>0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d</APPKEY>",
        ),
    ] {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, reference, body, extra)).await,
            (200, String::new()),
            "{reference}"
        );
    }
    let relative = logged_one(&setup, "valid2h").await;
    let at = |field: &str| {
        relative[field]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert_eq!(
        at("validUntil").duration_since(at("acceptedAt")),
        jiff::SignedDuration::from_hours(2)
    );
    // The absolute form is capped at 72 h after acceptance, as in JSON.
    let absolute = logged_one(&setup, "validabs").await;
    let until: jiff::Timestamp = absolute["validUntil"].as_str().unwrap().parse().unwrap();
    let accepted: jiff::Timestamp = absolute["acceptedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until.duration_since(accepted),
        jiff::SignedDuration::from_hours(72)
    );
    assert_eq!(
        stored::<String>(&setup, "app_key", "pushkey").as_deref(),
        Some("0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d")
    );
    assert_eq!(
        logged_one(&setup, "pushkey").await["allowedChannels"],
        serde_json::json!(["Push"])
    );
    for (extra, expected) in [
        (
            "<VALIDITY>soon</VALIDITY>",
            "Error: ERROR validity 'soon' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'",
        ),
        (
            // A multi-byte last character once panicked (a JSON 500 instead of this line).
            "<VALIDITY>2é</VALIDITY>",
            "Error: ERROR validity '2é' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'",
        ),
        (
            "<ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS>",
            "Error: ERROR appKey is required for the Push channel",
        ),
        (
            "<ALLOWEDCHANNELS>Push</ALLOWEDCHANNELS><APPKEY> </APPKEY>",
            "Error: ERROR appKey is required for the Push channel",
        ),
    ] {
        assert_eq!(
            post_xml(&setup, &xml_msg(&token, "bad", body, extra)).await,
            (200, expected.to_string()),
            "{extra}"
        );
    }
    assert_eq!(logged(&setup).await, 3);
}
