//! Inbound (MO) messages through the running gateway: parts handed to the store of its data
//! directory (what the SMPP connector does when a deliver_sm arrives), the gateway's webhook
//! runner POSTing them to the account's inbound URL with `[inbound]`'s retry interval, its
//! sweeper flushing a message whose part never came, and the message log showing them beside
//! the messages the account sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tern_core::channel::Channel;
use tern_core::inbound::{Concat, InboundPart};
use tern_core::ports::NodeId;
use tern_store::StoreConfig;
use tern_testkit::WebhookReceiver;

use crate::setup;

const CONFIG: &str = r#"
[simulator]
default_delay_ms = 0
[inbound]
retry_interval_secs = 1
part_timeout_secs = 1
"#;

/// A GSM part from `0031612345678` to `3669`.
fn part(text: &str, concat: (u16, u8, u8)) -> InboundPart {
    let (reference, total, seq) = concat;
    InboundPart {
        connector: Arc::from("smsc1"),
        channel: Channel::Sms,
        from: "0031612345678".into(),
        to: "3669".into(),
        data_coding: 0,
        payload: tern_proto::sms::gsm7::encode(text),
        concat: Some(Concat {
            reference,
            total,
            seq,
        }),
        received_at: Timestamp::now(),
    }
}

#[tokio::test]
async fn mos_are_posted_to_the_inbound_url_retried_flushed_and_logged_beside_sent_messages() {
    let inbound = WebhookReceiver::start().await;
    let setup = setup(
        Some(CONFIG),
        &[
            "--inbound-url",
            inbound.url.as_str(),
            "--inbound-numbers",
            "3669",
        ],
        false,
    )
    .await;
    let (status, body) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"out"}}]"#,
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    setup.wait_final(1, Duration::from_secs(10)).await;

    // The connector's side: the gateway's own store, opened beside it.
    let store = tern_store::open(
        &StoreConfig::Sqlite {
            data_dir: setup._dir.path().join("data"),
        },
        NodeId::new(NodeId::EMBEDDED),
    )
    .unwrap();
    inbound.answer_next(&[500]);
    // A complete message, its parts out of order; then one part of two that never gets its
    // other, delivered as it is after part_timeout_secs.
    store
        .accept_inbound(vec![part("world", (1, 2, 2)), part("Hello ", (1, 2, 1))])
        .await
        .unwrap();
    store
        .accept_inbound(vec![part("alone", (2, 2, 1))])
        .await
        .unwrap();

    let received = inbound.wait_for(3, Duration::from_secs(15)).await;
    let mut by_text: BTreeMap<String, Vec<(u16, Value)>> = BTreeMap::new();
    for post in &received {
        assert_eq!(post.content_type, "application/json");
        let body = post.json();
        by_text
            .entry(body["message"]["text"].as_str().unwrap().to_owned())
            .or_default()
            .push((post.answered, body));
    }
    assert_eq!(
        by_text
            .iter()
            .map(|(text, posts)| (
                text.as_str(),
                posts.iter().map(|(answered, _)| *answered).collect()
            ))
            .collect::<Vec<(&str, Vec<u16>)>>(),
        vec![("Hello world", vec![500, 200]), ("alone", vec![200])]
    );

    let log = setup.log("?limit=10").await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{log}");
    assert_eq!(messages[0]["direction"], "mt");
    assert_eq!(messages[0]["body"], "out");
    for (logged, text) in messages[1..].iter().zip(["Hello world", "alone"]) {
        let posts = &by_text[text];
        // The webhook's body, whole, on every attempt.
        for (_, body) in posts {
            assert_eq!(
                body,
                &json!({
                    "reference": logged["messageId"],
                    "from": {"number": "+31612345678", "name": ""},
                    "to": {"number": "3669"},
                    "message": {
                        "text": text,
                        "media": {"mediaUri": "", "contentType": "", "title": ""},
                        "custom": {}
                    },
                    "groupings": ["", "", ""],
                    "timeUtc": body["timeUtc"],
                    "channel": "SMS"
                })
            );
            let received_at: Timestamp = logged["receivedAt"].as_str().unwrap().parse().unwrap();
            assert_eq!(
                body["timeUtc"],
                received_at.strftime("%Y-%m-%dT%H:%M:%S").to_string()
            );
        }
        assert_eq!(logged["direction"], "mo", "{logged}");
        assert_eq!(logged["from"], "0031612345678");
        assert_eq!(logged["to"], "3669");
        assert_eq!(logged["text"], text);
        assert_eq!(logged["channel"], "SMS");
    }
    assert_eq!(messages[1]["parts"], 2);
    assert_eq!(messages[2]["parts"], 1);
    // A status filter shows sent messages only; `to` filters both directions.
    let delivered = setup.log("?status=delivered").await;
    assert_eq!(delivered["messages"].as_array().unwrap().len(), 1);
    let to_short_code = setup.log("?to=3669").await;
    assert_eq!(
        to_short_code["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["direction"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["mo", "mo"]
    );
}
