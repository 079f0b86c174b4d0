//! Push apps and device registration: `tern app create` / `tern app list` on the data directory
//! of a running gateway, and devices registering, updating and unregistering over HTTP as CM's
//! app SDK does (`/channelswebhook/push/v2/accounts/{appKey}/register…`).

use std::process::Command;

use serde_json::{Value, json};
use tern_testkit::fcm::{device_registration, register, unregister, update_registration};

use crate::{TERN, setup};

/// `tern app ARGS --data-dir DIR`: success, stdout, stderr.
fn tern_app(args: &[&str], data_dir: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(TERN)
        .arg("app")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TERN_LOG", "warn")
        .env_remove("TERN_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether `text` is a GUID in its canonical lower-case hyphenated form.
fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

const LIST_HEADER: &str = "KEY\tACCOUNT\tNAME\tCONNECTOR\tINSTALLATIONS";

#[tokio::test]
async fn push_apps_are_created_and_devices_register_update_and_unregister() {
    let setup = setup(None, &[], false).await;
    let data_dir = setup.gateway.data_dir.clone();
    let base = setup.gateway.base_url.clone();

    // `tern app create` prints the key last; `tern app list` shows the app.
    let (ok, stdout, stderr) = tern_app(
        &[
            "create",
            "--account",
            "test",
            "--name",
            "shop",
            "--connector",
            "push",
        ],
        &data_dir,
    );
    assert!(ok, "{stderr}");
    let key = stdout.lines().last().unwrap().to_owned();
    assert!(is_guid(&key), "{stdout}");
    let list = |count: u32| format!("{LIST_HEADER}\n{key}\ttest\tshop\tpush\t{count}\n");
    let (ok, stdout, _) = tern_app(&["list"], &data_dir);
    assert!(ok);
    assert_eq!(stdout, list(0));

    // A device registers: 201 with a fresh installation id.
    let device = device_registration("fcm-token-1", Some("+31612345678"));
    let (status, answer) = register(&base, &key, &device).await;
    assert_eq!(status, 201, "{answer}");
    let installation = answer["installationId"].as_str().unwrap().to_owned();
    assert!(is_guid(&installation), "{answer}");
    assert_eq!(answer, json!({"installationId": installation}));
    assert_eq!(tern_app(&["list"], &data_dir).1, list(1));
    // The key is read in .NET's other forms too.
    let upper = key.to_uppercase();
    let (status, second) = register(&base, &upper, &device_registration("fcm-token-2", None)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(tern_app(&["list"], &data_dir).1, list(2));
    // The same token registered again replaces its installation.
    let (status, again) = register(
        &base,
        &key,
        &device_registration("fcm-token-2", Some("0031612345679")),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(again["installationId"], second["installationId"]);
    assert_eq!(tern_app(&["list"], &data_dir).1, list(2));

    // PUT replaces what the device registered: 204, as the SDK expects.
    let moved = device_registration("fcm-token-3", Some("0032470000000"));
    assert_eq!(
        update_registration(&base, &key, &installation, &moved).await,
        (204, Value::Null)
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    let (status, answer) = update_registration(&base, &key, unknown, &moved).await;
    assert_eq!(status, 404);
    assert_eq!(
        answer,
        json!({"message": format!("no installation '{unknown}' under this app")})
    );
    let (status, answer) =
        update_registration(&base, &key, &installation, &json!({"deviceOs": "Android"})).await;
    assert_eq!(
        (status, answer),
        (400, json!({"message": "pushToken is required"}))
    );

    // DELETE forgets it: 204, then 404.
    assert_eq!(
        unregister(&base, &key, &installation).await,
        (204, Value::Null)
    );
    assert_eq!(unregister(&base, &key, &installation).await.0, 404);
    assert_eq!(
        update_registration(&base, &key, &installation, &moved)
            .await
            .0,
        404
    );
    assert_eq!(tern_app(&["list"], &data_dir).1, list(1));
}

#[tokio::test]
async fn unknown_app_keys_and_bad_bodies_are_refused() {
    let setup = setup(None, &[], false).await;
    let data_dir = setup.gateway.data_dir.clone();
    let base = setup.gateway.base_url.clone();
    let (ok, stdout, stderr) = tern_app(
        &[
            "create",
            "--account",
            "test",
            "--name",
            "shop",
            "--connector",
            "push",
        ],
        &data_dir,
    );
    assert!(ok, "{stderr}");
    let key = stdout.lines().last().unwrap().to_owned();
    let device = device_registration("fcm-token-1", Some("0031612345678"));

    for unknown in ["00000000-0000-4000-8000-000000000000", "not-a-key"] {
        let (status, answer) = register(&base, unknown, &device).await;
        assert_eq!(status, 404, "{unknown}");
        assert_eq!(
            answer,
            json!({"message": format!("no push app has key '{unknown}'")})
        );
        let (status, _) = unregister(&base, unknown, "00000000-0000-4000-8000-000000000001").await;
        assert_eq!(status, 404);
    }
    let cases = [
        (
            "no pushToken",
            json!({"deviceOs": "Android"}).to_string(),
            "pushToken is required",
        ),
        (
            "no deviceOs",
            json!({"pushToken": "t"}).to_string(),
            "deviceOs is required",
        ),
        (
            "a national number",
            json!({"pushToken": "t", "deviceOs": "iOS", "msisdn": "0612345678"}).to_string(),
            "msisdn '0612345678' is not an international number (00… or +…)",
        ),
        ("not JSON", "{pushToken".to_owned(), "the body is not JSON"),
        ("an array", "[]".to_owned(), "the body is not a JSON object"),
    ];
    for (what, body, message) in cases {
        let response = tern_testkit::http_client()
            .post(format!(
                "{base}/channelswebhook/push/v2/accounts/{key}/register"
            ))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{what}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json; charset=utf-8"
        );
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(answer, json!({"message": message}), "{what}");
    }
    // Nothing was registered.
    assert_eq!(
        tern_app(&["list"], &data_dir).1,
        format!("{LIST_HEADER}\n{key}\ttest\tshop\tpush\t0\n")
    );
}

#[tokio::test]
async fn app_create_refuses_what_it_cannot_record() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    tern_testkit::create_account(TERN, &data_dir, &["--name", "acme"]);
    let config = dir.path().join("tern.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--account",
                "nobody",
                "--name",
                "shop",
                "--connector",
                "push",
            ],
            "--account: no account is named 'nobody'",
        ),
        (
            &["--account", "acme", "--name", " ", "--connector", "push"],
            "--name must not be empty",
        ),
        (
            &[
                "--account",
                "acme",
                "--name",
                "shop",
                "--connector",
                "push",
                "--key",
                "nope",
            ],
            "--key: 'nope' is not a GUID",
        ),
        (
            &[
                "--account",
                "acme",
                "--name",
                "shop",
                "--connector",
                "push",
                "--config",
                config,
            ],
            "has no [[connector]] named 'push'",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let (ok, _, stderr) = tern_app(&all, &data_dir);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert_eq!(tern_app(&["list"], &data_dir).1, format!("{LIST_HEADER}\n"));
    // A key given is kept (and by id as well as by name); the same key twice is refused.
    let key = "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d";
    let create = [
        "create",
        "--account",
        "1",
        "--name",
        "shop",
        "--connector",
        "push",
        "--key",
        key,
    ];
    let (ok, stdout, stderr) = tern_app(&create, &data_dir);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().last(), Some(key));
    let (ok, _, stderr) = tern_app(&create, &data_dir);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("--key: a push app with key {key} exists already")),
        "{stderr}"
    );
    assert_eq!(
        tern_app(&["list"], &data_dir).1,
        format!("{LIST_HEADER}\n{key}\tacme\tshop\tpush\t0\n")
    );
}
