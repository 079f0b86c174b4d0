//! Black-box tests of the hardening of the submission core: request limits that bound what one
//! request can cost, content stored once per `msg`, and balances that cannot be spent below zero.

use serde_json::{Value, json};

use crate::xml_get::{get, logged, post_xml, xml};
use crate::{Setup, setup};

#[tokio::test]
async fn a_zero_balance_sends_nothing_even_when_messages_are_free() {
    // price_per_part is 0 by default: the account is out of balance all the same.
    let setup = setup(None, &["--balance", "0"], false).await;
    let (status, response) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"free?"}}]"#,
        ))
        .await;
    assert_eq!(
        (status, response),
        (
            400,
            json!({"details":"Insufficient balance.","errorCode":102,"messages":[]})
        )
    );
    assert_eq!(
        post_xml(
            &setup,
            &xml(
                &setup.token,
                "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY></MSG>"
            )
        )
        .await,
        (200, "Error: ERROR Insufficient balance.".to_owned())
    );
    assert_eq!(
        get(
            &setup,
            &format!(
                "producttoken={}&body=x&to=0031612345678&from=S",
                setup.token
            )
        )
        .await,
        (200, "Error: ERROR Insufficient balance.".to_owned())
    );
    assert_eq!(logged(&setup).await, 0, "nothing was stored");
}

#[tokio::test]
async fn a_balance_spent_to_exactly_zero_is_then_out_of_balance() {
    let setup = setup(Some("price_per_part = \"1\"\n"), &["--balance", "1"], false).await;
    let one = |reference: &str| {
        setup.request(&format!(
            r#"[{{"from":"Tern","to":[{{"number":"0031612345678"}}],"body":{{"content":"x"}},"reference":"{reference}"}}]"#
        ))
    };
    let (status, _) = setup.post_json(&one("paid")).await;
    assert_eq!(status, 200);
    // Zero left: a price of 0 would still be refused (see above); a price of 1 certainly is.
    let (status, response): (u16, Value) = setup.post_json(&one("unpaid")).await;
    assert_eq!((status, response["errorCode"].clone()), (400, json!(102)));
    assert_eq!(logged(&setup).await, 1);
}

/// Bytes of the gateway's database files (the database and its write-ahead log).
fn stored_bytes(setup: &Setup) -> u64 {
    ["tern.db", "tern.db-wal"]
        .iter()
        .map(|name| {
            std::fs::metadata(setup.gateway.data_dir.join(name))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// One `msg` to `recipients` numbers on `channels` with `body`.
fn fan_out(setup: &Setup, body: &str, recipients: usize, channels: &str) -> String {
    let to: Vec<String> = (0..recipients)
        .map(|index| format!(r#"{{"number":"0031{:09}"}}"#, 600_000_000 + index))
        .collect();
    setup.request(&format!(
        r#"[{{"from":"Tern","to":[{}],"body":{{"content":"{body}"}},"allowedChannels":{channels}}}]"#,
        to.join(",")
    ))
}

#[tokio::test]
async fn a_fan_out_over_the_channel_limit_is_refused_and_stores_nothing() {
    // The request of the report: one WhatsApp-only msg, a 50,000-character body, 2,000
    // recipients (about 100 KB). It once grew the data directory by 193 MB.
    let setup = setup(None, &[], false).await;
    let before = stored_bytes(&setup);
    let request = fan_out(&setup, &"a".repeat(50_000), 2_000, r#"["WhatsApp"]"#);
    let (status, response) = setup.post_json(&request).await;
    assert_eq!(status, 400);
    assert_eq!(response["errorCode"], 201);
    let messages = response["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2_000);
    for message in messages {
        assert_eq!(message["status"], "Rejected");
        assert_eq!(message["messageErrorCode"], 304);
        assert_eq!(
            message["messageDetails"],
            "The text is longer than the 4096 characters the WhatsApp channel carries"
        );
    }
    assert_eq!(logged(&setup).await, 0);
    let grown = stored_bytes(&setup) - before;
    eprintln!(
        "refused fan-out: request {} bytes, data grew {grown} bytes",
        request.len()
    );
    assert!(grown < 256 * 1024, "the data grew by {grown} bytes");
}

#[tokio::test]
async fn a_fan_out_stores_its_content_once() {
    // 2,000 recipients of one 4,096-character WhatsApp text: 8 MB if the text were stored per
    // recipient, about a kilobyte of row per recipient now.
    let setup = setup(None, &[], false).await;
    let before = stored_bytes(&setup);
    let request = fan_out(&setup, &"a".repeat(4_096), 2_000, r#"["WhatsApp"]"#);
    let (status, response) = setup.post_json(&request).await;
    assert_eq!((status, response["errorCode"].clone()), (200, json!(0)));
    assert_eq!(response["messages"].as_array().unwrap().len(), 2_000);
    let grown = stored_bytes(&setup) - before;
    eprintln!(
        "stored fan-out: request {} bytes, data grew {grown} bytes",
        request.len()
    );
    assert!(
        grown < 2 * 1024 * 1024,
        "a {} byte request grew the data by {grown} bytes",
        request.len()
    );
    let path = setup.gateway.data_dir.join("tern.db");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let (messages, contents): (i64, i64) = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM contents)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((messages, contents), (2_000, 1));
}

#[tokio::test]
async fn more_msg_elements_than_the_spec_allows_refuse_the_request() {
    let setup = setup(None, &[], false).await;
    let one = r#"{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"x"}}"#;
    let at_limit = setup.request(&format!("[{}]", vec![one; 1000].join(",")));
    let (status, _) = setup.post_json(&at_limit).await;
    assert_eq!(status, 200, "1000 msg elements are allowed");
    let over = setup.request(&format!("[{}]", vec![one; 1001].join(",")));
    assert_eq!(
        setup.post_json(&over).await,
        (
            400,
            json!({"details":"Too many msg objects: one request can carry up to 1000","errorCode":203,"messages":[]})
        )
    );
    let msg = "<MSG><FROM>S</FROM><TO>0031612345678</TO><BODY>hi</BODY></MSG>";
    assert_eq!(
        post_xml(&setup, &xml(&setup.token, &msg.repeat(1001))).await,
        (
            200,
            "Error: ERROR Too many MSG nodes: one request can carry up to 1000".to_owned()
        )
    );
    assert_eq!(
        logged(&setup).await,
        1000,
        "nothing of the refused requests"
    );
}

#[tokio::test]
async fn the_limits_are_configurable() {
    let config = "[limits]\nmax_recipients_per_request = 3\nviber_text_chars = 5\nmax_msgs_per_request = 2\n";
    let setup = setup(Some(config), &[], false).await;
    assert_eq!(
        setup
            .post_json(&fan_out(&setup, "x", 4, r#"["SMS"]"#))
            .await,
        (
            400,
            json!({"details":"Too many recipients: one request can carry up to 3","errorCode":203,"messages":[]})
        )
    );
    let to = "<TO>0031612345678</TO><TO>0031612345679</TO>";
    assert_eq!(
        post_xml(&setup, &xml(
                &setup.token,
                &format!("<MSG><FROM>S</FROM>{to}<BODY>a</BODY></MSG><MSG><FROM>S</FROM>{to}<BODY>b</BODY></MSG>")
            )
        )
        .await,
        (
            200,
            "Error: ERROR Too many recipients: one request can carry up to 3".to_owned()
        )
    );
    let (status, response) = setup
        .post_json(&fan_out(&setup, "123456", 1, r#"["Viber"]"#))
        .await;
    assert_eq!(status, 400);
    assert_eq!(response["messages"][0]["messageErrorCode"], 304);
    assert_eq!(
        response["messages"][0]["messageDetails"],
        "The text is longer than the 5 characters the Viber channel carries"
    );
    let (status, _) = setup
        .post_json(&fan_out(&setup, "12345", 3, r#"["Viber"]"#))
        .await;
    assert_eq!(status, 200, "at the limits");
    assert_eq!(logged(&setup).await, 3);
}
