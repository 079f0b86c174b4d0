//! `POST /v1.0/conversion`: JSON and XML conversions recorded against the account's message and
//! shown in the message log; authentication and input errors.

use crate::{Setup, setup};

async fn convert(setup: &Setup, content_type: &str, body: &str) -> (u16, String) {
    let response = setup
        .client
        .post(setup.gateway.url("/v1.0/conversion"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn conversions_are_recorded_and_shown_in_the_log() {
    let setup = setup(None, &[], false).await;
    let (status, _) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Buy"},"reference":"conv1"}]"#,
        ))
        .await;
    assert_eq!(status, 200);
    let json = format!(
        r#"{{"ProductToken":"{}","Msisdn":"0031612345678","Reference":"conv1","ConvertedTimestamp":"2026-11-25T10:00:00"}}"#,
        setup.token
    );
    assert_eq!(
        convert(&setup, "application/json", &json).await,
        (200, String::new())
    );
    // XML, with the number in + form.
    let xml = format!(
        "<Conversion><ProductToken>{}</ProductToken><Msisdn>+31612345678</Msisdn><Reference>conv1</Reference><ConvertedTimestamp>2026-11-25T11:00:00Z</ConvertedTimestamp></Conversion>",
        setup.token
    );
    assert_eq!(
        convert(&setup, "application/xml", &xml).await,
        (200, String::new())
    );
    let log = setup.log("?reference=conv1").await;
    assert_eq!(
        log["messages"][0]["conversions"],
        serde_json::json!(["2026-11-25T09:00:00Z", "2026-11-25T11:00:00Z"])
    );
}

#[tokio::test]
async fn conversion_errors() {
    let setup = setup(None, &[], false).await;
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Buy"},"reference":"conv2"}]"#,
        ))
        .await;
    let token = setup.token.clone();
    let cases: Vec<(&str, &str, String, (u16, &str))> = vec![
        ("no token", "application/json", r#"{"Msisdn":"0031612345678","Reference":"conv2"}"#.into(), (401, "a product token is required")),
        ("bad token", "application/json", r#"{"ProductToken":"x","Msisdn":"0031612345678","Reference":"conv2"}"#.into(), (403, "Invalid product token.")),
        ("unknown account", "application/json", r#"{"ProductToken":"0a1b2c3d-0000-4000-8000-000000000001","Msisdn":"0031612345678","Reference":"conv2"}"#.into(), (403, "No account found for the given authentication")),
        ("login", "application/xml", "<Conversion><Customer>1</Customer><Login>a</Login><Password>b</Password><Msisdn>0031612345678</Msisdn><Reference>conv2</Reference></Conversion>".into(), (403, "Customer/Login/Password authentication is not available in Tern: use a product token")),
        ("invalid json", "application/json", "{".into(), (400, "Invalid JSON")),
        ("no msisdn", "application/json", format!(r#"{{"ProductToken":"{token}","Reference":"conv2"}}"#), (400, "Msisdn is required")),
        ("no reference", "application/json", format!(r#"{{"ProductToken":"{token}","Msisdn":"0031612345678"}}"#), (400, "Reference is required")),
        ("bad time", "application/json", format!(r#"{{"ProductToken":"{token}","Msisdn":"0031612345678","Reference":"conv2","ConvertedTimestamp":"yesterday"}}"#), (400, "ConvertedTimestamp 'yesterday' is not a time such as 2026-11-25T10:00:00 or 2026-11-25T09:00:00Z")),
        ("no such message", "application/json", format!(r#"{{"ProductToken":"{token}","Msisdn":"0031600000000","Reference":"conv2"}}"#), (404, "no message with reference 'conv2' was sent to 0031600000000")),
    ];
    for (name, content_type, body, expected) in &cases {
        let (status, text) = convert(&setup, content_type, body).await;
        assert_eq!((status, text.as_str()), *expected, "{name}");
    }
    let log = setup.log("?reference=conv2").await;
    assert_eq!(log["messages"][0]["conversions"], serde_json::json!([]));
}

#[tokio::test]
async fn conversion_malformed_xml_is_400_with_the_reason() {
    let setup = setup(None, &[], false).await;
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Buy"},"reference":"conv3"}]"#,
        ))
        .await;
    let token = setup.token.clone();
    let fields = format!(
        "<ProductToken>{token}</ProductToken><Msisdn>0031612345678</Msisdn><Reference>conv3</Reference>"
    );
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "unclosed root",
            "application/xml",
            format!("<Conversion>{fields}"),
            "Invalid XML: the body is not well-formed XML: the document ends inside an element",
        ),
        (
            "text after the root",
            "text/xml",
            format!("<Conversion>{fields}</Conversion>trailing"),
            "Invalid XML: the body is not well-formed XML: text outside the root element",
        ),
        (
            "a second root",
            "application/xml",
            format!("<Conversion>{fields}</Conversion><Conversion/>"),
            "Invalid XML: the body is not well-formed XML: content after the root element",
        ),
        (
            "a DTD",
            "application/xml",
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><Conversion>{fields}<ConvertedTimestamp>&x;</ConvertedTimestamp></Conversion>"#
            ),
            "Invalid XML: DTDs are not accepted",
        ),
        (
            "an unknown entity",
            "application/xml",
            format!("<Conversion>{fields}<Reference>&ref;</Reference></Conversion>"),
            "Invalid XML: unknown entity '&ref;'",
        ),
        (
            "nested too deep",
            "application/xml",
            "<a>".repeat(17) + &"</a>".repeat(17),
            "Invalid XML: the XML is nested deeper than 16 levels",
        ),
        (
            "empty body",
            "application/xml",
            String::new(),
            "Invalid XML: the XML has no root element",
        ),
        (
            "no content type, starts with '<'",
            "",
            format!("<Conversion>{fields}"),
            "Invalid XML: the body is not well-formed XML: the document ends inside an element",
        ),
    ];
    for (name, content_type, body, expected) in &cases {
        let mut request = setup
            .client
            .post(setup.gateway.url("/v1.0/conversion"))
            .body(body.clone());
        if !content_type.is_empty() {
            request = request.header("content-type", *content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!((status, text.as_str()), (400, *expected), "{name}");
    }
    // Bytes that are not UTF-8.
    let mut latin1 = format!("<Conversion>{fields}<Reference>").into_bytes();
    latin1.push(0xE9);
    latin1.extend_from_slice(b"</Reference></Conversion>");
    let response = setup
        .client
        .post(setup.gateway.url("/v1.0/conversion"))
        .header("content-type", "application/xml")
        .body(latin1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "Invalid XML: the body is not UTF-8"
    );
    let log = setup.log("?reference=conv3").await;
    assert_eq!(log["messages"][0]["conversions"], serde_json::json!([]));
}

#[tokio::test]
async fn conversion_times_without_a_zone_are_amsterdam_time() {
    let setup = setup(None, &[], false).await;
    setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Buy"},"reference":"conv4"}]"#,
        ))
        .await;
    let token = setup.token.clone();
    for at in [
        // Winter: CET, UTC+1.
        "2026-01-15T10:00:00",
        // Summer: CEST, UTC+2.
        "2026-07-15T10:00:00",
        // An explicit zone is taken as given.
        "2026-07-15T10:00:00Z",
        "2026-07-15T10:00:00+05:00",
    ] {
        let json = format!(
            r#"{{"ProductToken":"{token}","Msisdn":"0031612345678","Reference":"conv4","ConvertedTimestamp":"{at}"}}"#
        );
        assert_eq!(
            convert(&setup, "application/json", &json).await,
            (200, String::new()),
            "{at}"
        );
    }
    // XML without a zone: the same rule.
    let xml = format!(
        "<Conversion><ProductToken>{token}</ProductToken><Msisdn>0031612345678</Msisdn><Reference>conv4</Reference><ConvertedTimestamp>2026-07-15T12:30:00</ConvertedTimestamp></Conversion>"
    );
    assert_eq!(
        convert(&setup, "application/xml", &xml).await,
        (200, String::new())
    );
    let log = setup.log("?reference=conv4").await;
    assert_eq!(
        log["messages"][0]["conversions"],
        serde_json::json!([
            "2026-01-15T09:00:00Z",
            "2026-07-15T05:00:00Z",
            "2026-07-15T08:00:00Z",
            "2026-07-15T10:00:00Z",
            "2026-07-15T10:30:00Z"
        ]),
        "shown in time order"
    );
}
