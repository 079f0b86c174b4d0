//! Black-box tests of the hardening of the submission core: request limits that bound what one
//! request can cost, content stored once per `msg`, and balances that cannot be spent below zero.

use serde_json::{Value, json};

use crate::{Setup, setup};

async fn post_xml(setup: &Setup, body: String) -> (u16, String) {
    let response = setup
        .client
        .post(setup.gateway.url("/gateway.ashx"))
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get(setup: &Setup, query: &str) -> (u16, String) {
    let response = setup
        .client
        .get(setup.gateway.url(&format!("/gateway.ashx?{query}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn xml(token: &str, msgs: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><MESSAGES><AUTHENTICATION><PRODUCTTOKEN>{token}</PRODUCTTOKEN></AUTHENTICATION>{msgs}</MESSAGES>"
    )
}

async fn logged(setup: &Setup) -> usize {
    setup.log("?limit=1000").await["messages"]
        .as_array()
        .unwrap()
        .len()
}

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
            xml(
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
