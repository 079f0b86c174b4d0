//! `tern serve` with nothing set up: it keeps its data in ./tern-data, creates a demo account and
//! prints a token and a curl command that work as printed. `TERN_DATA_DIR`, `TERN_HTTP_ADDR` and
//! `TERN_CONFIG` take the place of the flags.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::{Gateway, http_client};

use crate::{TERN, without_ids};

/// `tern serve` with no flags, run in `dir`, with only these `TERN_*` variables set.
fn serve_in(dir: &Path, variables: &[(&str, &str)], data_dir: &Path) -> Gateway {
    let mut command = Command::new(TERN);
    command
        .arg("serve")
        .current_dir(dir)
        .stderr(Stdio::inherit());
    for (name, _) in std::env::vars() {
        if name.starts_with("TERN_") {
            command.env_remove(name);
        }
    }
    command.env("TERN_LOG", "warn");
    // Tests run at once: SMPP on a port of the OS's choosing, not the fixed 2775.
    command.env("TERN_SMPP_ADDR", "127.0.0.1:0");
    command.envs(variables.iter().copied());
    Gateway::spawn(command, data_dir)
}

/// The URL and the JSON body of the printed curl command.
fn curl_parts(line: &str) -> (String, String) {
    let rest = line
        .trim()
        .strip_prefix("curl -s -X POST ")
        .unwrap_or_else(|| panic!("not the curl command: {line}"));
    let (url, rest) = rest.split_once(' ').unwrap();
    let (headers, body) = rest.split_once(" -d '").unwrap();
    assert_eq!(headers, "-H 'Content-Type: application/json'");
    let body = body.strip_suffix('\'').unwrap();
    (url.to_owned(), body.to_owned())
}

async fn log(client: &reqwest::Client, gateway: &Gateway, token: &str) -> Value {
    let response = client
        .get(gateway.url("/v1.0/messages"))
        .header("X-CM-PRODUCTTOKEN", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn serve_with_nothing_set_up_creates_tern_data_and_a_demo_account_whose_curl_works() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("tern-data");
    // Only the address is set: port 8080 may be taken on this machine.
    let gateway = serve_in(dir.path(), &[("TERN_HTTP_ADDR", "127.0.0.1:0")], &data_dir);
    assert!(
        data_dir.join("serve.lock").exists(),
        "./tern-data holds the store"
    );

    let token = gateway.demo_token.clone().expect("a demo token is printed");
    assert_eq!(token.len(), 36, "{token}");
    let address = gateway.base_url.strip_prefix("http://").unwrap();
    let startup = &gateway.startup;
    assert_eq!(startup.len(), 5, "{startup:#?}");
    assert_eq!(
        startup[0],
        "Created the demo account. Its product token (shown only now):"
    );
    assert_eq!(startup[1], format!("  {token}"));
    assert_eq!(startup[2], "Send a message:");
    assert_eq!(startup[4], format!("Tern listening on http://{address}"));
    let (url, body) = curl_parts(&startup[3]);
    assert_eq!(url, format!("http://{address}/v1.0/message"));
    let request: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        request,
        json!({"messages": {"authentication": {"producttoken": token},
               "msg": [{"from": "Tern", "to": [{"number": "0031612345678"}],
                        "body": {"content": "Hello from Tern"}}]}})
    );

    // The printed command, sent as printed.
    let client = http_client();
    let response = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        without_ids(response),
        json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [
            {"to": "0031612345678", "status": "Accepted", "reference": null, "parts": 1,
             "messageDetails": null, "messageErrorCode": 0}]})
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let logged = loop {
        let logged = log(&client, &gateway, &token).await;
        if logged["messages"][0]["status"] == "delivered" || tokio::time::Instant::now() > deadline
        {
            break logged;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(logged["messages"].as_array().unwrap().len(), 1, "{logged}");
    assert_eq!(logged["messages"][0]["to"], "0031612345678");
    assert_eq!(logged["messages"][0]["status"], "delivered", "{logged}");

    // A second start on the same ./tern-data creates no second demo account.
    assert!(gateway.stop().success());
    let again = serve_in(dir.path(), &[("TERN_HTTP_ADDR", "127.0.0.1:0")], &data_dir);
    assert_eq!(again.demo_token, None);
    assert_eq!(
        again.startup,
        vec![format!("Tern listening on {}", again.base_url)]
    );
    let logged = log(&client, &again, &token).await;
    assert_eq!(logged["messages"].as_array().unwrap().len(), 1, "{logged}");
    assert!(again.stop().success());
}

#[tokio::test]
async fn tern_data_dir_http_addr_and_config_variables_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("elsewhere");
    let config = dir.path().join("tern.toml");
    std::fs::write(&config, "max_body_bytes = 1000\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let gateway = serve_in(
        dir.path(),
        &[
            ("TERN_DATA_DIR", data_dir.to_str().unwrap()),
            ("TERN_HTTP_ADDR", &address),
            ("TERN_CONFIG", config.to_str().unwrap()),
        ],
        &data_dir,
    );
    assert_eq!(gateway.base_url, format!("http://{address}"));
    assert!(
        data_dir.join("serve.lock").exists(),
        "the store is in TERN_DATA_DIR"
    );
    assert!(
        !dir.path().join("tern-data").exists(),
        "nothing in ./tern-data"
    );
    let token = gateway.demo_token.clone().expect("a demo token is printed");

    // The configuration file's body limit applies.
    let client = http_client();
    let request = |content: &str| {
        json!({"messages": {"authentication": {"producttoken": token},
               "msg": [{"from": "Tern", "to": [{"number": "0031612345678"}],
                        "body": {"content": content}}]}})
        .to_string()
    };
    for (content, status) in [("small", 200), (&"x".repeat(1000)[..], 413)] {
        let response = client
            .post(gateway.url("/v1.0/message"))
            .header("Content-Type", "application/json")
            .body(request(content))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        if status == 413 {
            assert_eq!(
                body,
                json!({"details": "Request body too large: the limit is 1000 bytes",
                       "errorCode": 202, "messages": []})
            );
        }
    }
    let logged = log(&client, &gateway, &token).await;
    assert_eq!(logged["messages"].as_array().unwrap().len(), 1, "{logged}");
    assert!(gateway.stop().success());
}
