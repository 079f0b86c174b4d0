//! The message log's `status` and `since` filters, its errors, and paging over many pages with
//! the `after` cursor.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::{Setup, setup};

const CONFIG: &str = r#"
[simulator]
default_delay_ms = 0
[[simulator.rule]]
to_prefix = "0031630"
outcome = "failed"
delay_ms = 0
[[simulator.rule]]
to_prefix = "0031640"
outcome = "silent"
"#;

/// Send one message to each number with this reference.
async fn send(setup: &Setup, reference: &str, numbers: &[&str]) {
    let to: Vec<String> = numbers
        .iter()
        .map(|n| format!(r#"{{"number":"{n}"}}"#))
        .collect();
    let (status, body) = setup
        .post_json(&setup.request(&format!(
            r#"[{{"from":"Tern","to":[{}],"body":{{"content":"log"}},"reference":"{reference}"}}]"#,
            to.join(",")
        )))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The numbers of a page, in order.
fn numbers(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of `query` at `limit` per page, following `next`; checks each cursor.
async fn pages(setup: &Setup, query: &str, limit: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut after = String::new();
    loop {
        let page = setup
            .log(&format!("?{query}&limit={limit}&after={after}"))
            .await;
        let messages = page["messages"].as_array().unwrap().clone();
        assert!(messages.len() <= limit, "{page}");
        pages.push(page.clone());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(messages.len(), limit, "a page with a next cursor is full");
                assert_eq!(
                    next,
                    messages.last().unwrap()["messageId"],
                    "next is the last id"
                );
                after = next.to_owned();
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "paging ends");
    }
}

async fn get_status(setup: &Setup, query: &str) -> (u16, Value) {
    let response = setup
        .client
        .get(setup.gateway.url(&format!("/v1.0/messages{query}")))
        .header("X-CM-PRODUCTTOKEN", &setup.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn the_message_log_filters_by_status_and_since_and_pages_with_after() {
    let setup = setup(Some(CONFIG), &[], false).await;
    let first_delivered = [
        "0031610000001",
        "0031610000002",
        "0031610000003",
        "0031610000004",
        "0031610000005",
        "0031610000006",
        "0031610000007",
    ];
    let mut first: Vec<&str> = first_delivered.to_vec();
    first.extend(["0031630000001", "0031630000002", "0031640000001"]);
    send(&setup, "first", &first).await;
    // Everything but the silent one is final.
    let log = setup.wait_final(9, Duration::from_secs(10)).await;
    assert_eq!(log["messages"].as_array().unwrap().len(), 10, "{log}");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = ["0031610000101", "0031630000101", "0031610000102"];
    send(&setup, "second", &second).await;
    let log = setup.wait_final(12, Duration::from_secs(10)).await;
    assert_eq!(log["messages"].as_array().unwrap().len(), 13, "{log}");

    // status
    let mut delivered: Vec<String> = first_delivered.iter().map(|n| n.to_string()).collect();
    delivered.extend(["0031610000101".to_owned(), "0031610000102".to_owned()]);
    let page = setup.log("?status=delivered").await;
    assert_eq!(numbers(&page), delivered);
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "delivered")
    );
    assert_eq!(page["next"], Value::Null);
    // Each message shows the surface it came in on and its text as stored.
    let shown = &page["messages"][0];
    assert_eq!(
        (&shown["source"], &shown["body"], &shown["bodyEncoding"]),
        (&json!("json"), &json!("log"), &json!("text")),
        "{shown}"
    );
    assert_eq!(numbers(&setup.log("?status=DELIVERED").await), delivered);
    assert_eq!(
        numbers(&setup.log("?status=failed").await),
        ["0031630000001", "0031630000002", "0031630000101"]
    );
    assert_eq!(numbers(&setup.log("?status=sent").await), ["0031640000001"]);
    for empty in ["queued", "accepted", "read", "rejected", "expired"] {
        assert_eq!(
            setup.log(&format!("?status={empty}")).await,
            json!({"messages": [], "next": null}),
            "{empty}"
        );
    }

    // since
    assert_eq!(
        numbers(&setup.log(&format!("?since={since}")).await),
        second
    );
    assert_eq!(
        numbers(&setup.log(&format!("?since={since}&status=delivered")).await),
        ["0031610000101", "0031610000102"]
    );
    assert_eq!(
        numbers(&setup.log(&format!("?since={since}&reference=first")).await),
        Vec::<String>::new()
    );
    let later = Timestamp::now() + jiff::SignedDuration::from_secs(60);
    assert_eq!(
        setup.log(&format!("?since={later}")).await,
        json!({"messages": [], "next": null})
    );
    let mut all: Vec<String> = first.iter().map(|n| n.to_string()).collect();
    all.extend(second.iter().map(|n| n.to_string()));
    assert_eq!(
        numbers(&setup.log("?since=2020-01-01T00:00:00Z").await),
        all
    );

    // Paging: 9 delivered at 2 a page is 5 pages; all 13 at 5 a page is 3; 13 at 13 is one
    // full page and an empty last one.
    let delivered_pages = pages(&setup, "status=delivered", 2).await;
    let sizes: Vec<usize> = delivered_pages.iter().map(|p| numbers(p).len()).collect();
    assert_eq!(sizes, [2, 2, 2, 2, 1]);
    let paged: Vec<String> = delivered_pages.iter().flat_map(numbers).collect();
    assert_eq!(paged, delivered);
    let all_pages = pages(&setup, "reference=", 5).await;
    let sizes: Vec<usize> = all_pages.iter().map(|p| numbers(p).len()).collect();
    assert_eq!(sizes, [5, 5, 3]);
    assert_eq!(all_pages.iter().flat_map(numbers).collect::<Vec<_>>(), all);
    let ids: Vec<&Value> = all_pages
        .iter()
        .flat_map(|p| {
            p["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| &m["messageId"])
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.as_str().unwrap().to_owned());
    unique.dedup();
    assert_eq!(unique.len(), 13, "no message on two pages");
    let exact = pages(&setup, "reference=", 13).await;
    let sizes: Vec<usize> = exact.iter().map(|p| numbers(p).len()).collect();
    assert_eq!(sizes, [13, 0]);

    // Malformed filters.
    let error = |details: &str| json!({"details": details, "errorCode": 202, "messages": []});
    for (query, details) in [
        (
            "?status=lost",
            "status 'lost' must be one of queued, sent, accepted, delivered, read, failed, rejected, expired, cancelled",
        ),
        (
            "?since=yesterday",
            "since 'yesterday' must be an RFC 3339 time such as 2026-11-25T10:00:00Z",
        ),
        ("?after=nope", "after 'nope' is not a message id"),
        ("?limit=0", "limit must be between 1 and 1000"),
        ("?limit=1001", "limit must be between 1 and 1000"),
    ] {
        assert_eq!(
            get_status(&setup, query).await,
            (400, error(details)),
            "{query}"
        );
    }
}
