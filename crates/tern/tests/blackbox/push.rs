//! The Push connector, black-box: a gateway whose Push route is a `[[connector]]` of kind `fcm`
//! pointed at tern-testkit's stand-ins of FCM HTTP v1 and of Google's token endpoint (all on
//! loopback); a push app made with `tern app create --config`, devices registered as CM's app
//! SDK registers them, and the test playing the device that confirms delivery. Status reports
//! go to a local receiver and are counted exactly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tern_testkit::fcm::{
    FcmAnswer, FcmStandIn, TokenCheck, confirm, device_registration, register,
};
use tern_testkit::google::{FCM_SCOPE, GoogleTokenStandIn, TokenOptions};
use tern_testkit::{Gateway, WebhookReceiver, create_account, http_client};

use crate::{Setup, TERN};

/// How long anything awaited may take.
const WAIT: Duration = Duration::from_secs(20);

/// The Firebase project of the connector and the stand-in.
const PROJECT: &str = "acme-app";

/// The push app's key.
const APP_KEY: &str = "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d";

/// The recipient with devices.
const NUMBER: &str = "0031612345678";

/// A connector `push` of kind fcm to `fcm` with `confirm_secs`, and the route that sends every
/// Push message over it.
fn push_config(fcm: &FcmStandIn, confirm_secs: u64) -> String {
    format!(
        "[[connector]]\nname = \"push\"\nkind = \"fcm\"\nbase_url = \"{}\"\nproject_id = \"{PROJECT}\"\n\
         service_account_file = \"fcm-sa.json\"\nconfirm_secs = {confirm_secs}\n\n\
         [[route]]\nchannel = \"Push\"\nconnector = \"push\"\n",
        fcm.base_url()
    )
}

/// The FCM stand-in's bearer check: tokens the token stand-in issued for FCM's scope.
fn fcm_check(tokens: &GoogleTokenStandIn) -> TokenCheck {
    let check = tokens.check();
    Arc::new(move |header: Option<&str>| check.check_scope(header, FCM_SCOPE))
}

struct Push {
    setup: Setup,
    fcm: FcmStandIn,
    tokens: GoogleTokenStandIn,
    config_file: PathBuf,
}

/// `tern app ARGS --data-dir DIR`: success, stdout, stderr.
fn tern_app(args: &[&str], data_dir: &Path) -> (bool, String, String) {
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

/// Token and FCM stand-ins (tokens living `token_life`), an account `acme` with reports to a
/// receiver, the push app [`APP_KEY`] made with `tern app create --config` on connector `push`,
/// and a gateway with it.
async fn setup(confirm_secs: u64, token_life: Duration) -> Push {
    let tokens = GoogleTokenStandIn::start(TokenOptions {
        expires_in: token_life,
        ..TokenOptions::default()
    })
    .await;
    let fcm = FcmStandIn::start(PROJECT, fcm_check(&tokens)).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    tokens.write_service_account(dir.path(), "fcm-sa.json");
    let receiver = WebhookReceiver::start().await;
    let token = create_account(
        TERN,
        &data_dir,
        &["--name", "acme", "--status-url", receiver.url.as_str()],
    );
    // Where the gateway's config is written: the service-account file is beside it.
    let config_file = data_dir.with_extension("toml");
    let config = push_config(&fcm, confirm_secs);
    std::fs::write(&config_file, &config).unwrap();
    let config_arg = config_file.to_str().unwrap();
    let (ok, stdout, stderr) = tern_app(
        &[
            "create",
            "--account",
            "acme",
            "--name",
            "shop",
            "--connector",
            "push",
            "--key",
            APP_KEY,
            "--config",
            config_arg,
        ],
        &data_dir,
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().last(), Some(APP_KEY), "{stdout}");
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    let setup = Setup {
        gateway,
        token,
        receiver: Some(receiver),
        client: http_client(),
        _dir: dir,
    };
    Push {
        setup,
        fcm,
        tokens,
        config_file,
    }
}

/// Register a device with `push_token` for `msisdn`; its installation id.
async fn device(setup: &Setup, push_token: &str, msisdn: &str) -> String {
    let (status, answer) = register(
        &setup.gateway.base_url,
        APP_KEY,
        &device_registration(push_token, Some(msisdn)),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer["installationId"].as_str().unwrap().to_owned()
}

/// Submit a Push-then-SMS message to `to` under the app; the response must be 200.
async fn submit(setup: &Setup, to: &str, reference: &str) {
    let msgs = json!([{"from": "Tern", "to": [{"number": to}],
        "body": {"content": "Your order shipped", "type": "AUTO"},
        "reference": reference, "allowedChannels": ["Push", "SMS"], "appKey": APP_KEY}]);
    let (status, response) = setup.post_json(&setup.request(&msgs.to_string())).await;
    assert_eq!(status, 200, "{response}");
}

type Report = (String, String, String, String);

/// Every report received: (reference, channel, status code, error code), in arrival order.
fn reports(setup: &Setup) -> Vec<Report> {
    setup
        .receiver
        .as_ref()
        .unwrap()
        .received()
        .iter()
        .map(|request| {
            let msg = &request.json()["messages"]["msg"];
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&msg["reference"]),
                text(&msg["channel"]),
                text(&msg["status"]["code"]),
                text(&msg["status"]["errorCode"]),
            )
        })
        .collect()
}

/// Wait for `count` reports, then a moment more to see that no other comes.
async fn wait_reports(setup: &Setup, count: usize) -> Vec<Report> {
    setup.receiver.as_ref().unwrap().wait_for(count, WAIT).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    reports(setup)
}

fn report(reference: &str, channel: &str, code: &str, error: &str) -> Report {
    (reference.into(), channel.into(), code.into(), error.into())
}

/// `tern app list`'s installation count of the app.
fn installations(push: &Push) -> String {
    let (ok, stdout, stderr) = tern_app(&["list"], &push.setup.gateway.data_dir);
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .find(|line| line.starts_with(APP_KEY))
        .and_then(|line| line.rsplit('\t').next())
        .unwrap_or_default()
        .to_owned()
}

/// Whether `text` is `{uuid}:{attempt}`.
fn names_message_and_attempt(text: &str, attempt: &str) -> bool {
    text.split_once(':').is_some_and(|(id, tail)| {
        id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4 && tail == attempt
    })
}

#[tokio::test]
async fn a_push_reaches_every_installation_and_the_devices_confirmation_is_the_delivery_report() {
    let push = setup(60, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    let base = setup.gateway.base_url.clone();
    let first = device(setup, "token-a", "+31612345678").await;
    let second = device(setup, "token-b", NUMBER).await;
    device(setup, "token-other", "0031699999999").await;

    submit(setup, "+31612345678", "p1").await;
    let accepted = push.fcm.wait_for_accepted(2, WAIT).await;
    let mut tokens: Vec<&str> = accepted.iter().map(|a| a.token.as_str()).collect();
    tokens.sort();
    assert_eq!(tokens, ["token-a", "token-b"]);
    let message_id = accepted[0].message_id().unwrap().to_owned();
    assert!(names_message_and_attempt(&message_id, "1"), "{message_id}");
    for push in &accepted {
        // A data message only (the SDK shows it and confirms it), `cm` as the SDK reads it.
        assert_eq!(
            push.cm,
            Some(json!({"messageId": message_id, "body": "Your order shipped", "suggestions": []}))
        );
        assert_eq!(push.message["data"].as_object().unwrap().len(), 1);
        assert!(
            push.message.get("notification").is_none(),
            "{}",
            push.message
        );
        assert_eq!(push.message["android"]["priority"], "HIGH");
        assert_eq!(push.message["android"]["ttl"], "60s");
    }
    // Every FCM request carried a token from the service account, for FCM's scope.
    let requests = push.fcm.requests();
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    assert_eq!(push.tokens.tokens_issued(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(reports(setup).is_empty(), "{:?}", reports(setup));

    // The events endpoint knows only the app's installations.
    let other_app = "11111111-2222-3333-4444-555555555555";
    assert_eq!(confirm(&base, other_app, &first, &message_id).await.0, 404);
    assert_eq!(
        confirm(
            &base,
            APP_KEY,
            "11111111-2222-3333-4444-555555555555",
            &message_id
        )
        .await
        .0,
        404
    );
    // An interaction is taken and changes nothing.
    let opened = http_client()
        .post(format!(
            "{base}/channelswebhook/push/v2/accounts/{APP_KEY}/profiles/{first}/events"
        ))
        .header("content-type", "application/json")
        .body(json!({"event": {"type": "MessageOpened", "reference": message_id}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status().as_u16(), 204);
    // A body the SDK would not send.
    let bad = http_client()
        .post(format!(
            "{base}/channelswebhook/push/v2/accounts/{APP_KEY}/profiles/{first}/events"
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    // The first device confirms: delivered (2), once, however many devices confirm.
    let (status, answer) = confirm(&base, APP_KEY, &first, &message_id).await;
    assert_eq!((status, answer), (204, Value::Null));
    assert_eq!(confirm(&base, APP_KEY, &second, &message_id).await.0, 204);
    let got = wait_reports(setup, 1).await;
    assert_eq!(got, [report("p1", "Push", "2", "")]);
    let log = setup.log("?reference=p1").await;
    assert_eq!(log["messages"][0]["status"], "delivered", "{log}");
    // The confirmation disarmed the timer: nothing more comes (confirm_secs is long here, so
    // this only shows nothing else is reported).
    assert_eq!(reports(setup).len(), 1);
}

#[tokio::test]
async fn no_installation_fails_at_once_with_23_and_falls_back_to_sms() {
    let push = setup(60, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    device(setup, "token-a", "0031699999999").await;
    submit(setup, NUMBER, "none").await;
    let got = wait_reports(setup, 2).await;
    assert_eq!(
        got,
        [
            report("none", "Push", "1", "23"),
            report("none", "SMS", "2", "")
        ]
    );
    assert!(push.fcm.requests().is_empty());
}

#[tokio::test]
async fn a_gone_token_removes_the_installation_and_the_message_falls_back() {
    let push = setup(60, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    device(setup, "token-gone", NUMBER).await;
    push.fcm.script("token-gone", vec![FcmAnswer::Unregistered]);
    assert_eq!(installations(&push), "1");
    submit(setup, NUMBER, "gone-1").await;
    let got = wait_reports(setup, 2).await;
    assert_eq!(
        got,
        [
            report("gone-1", "Push", "1", "23"),
            report("gone-1", "SMS", "2", "")
        ]
    );
    assert_eq!(installations(&push), "0");
    assert_eq!(push.fcm.requests().len(), 1);
    // A second message finds no installation: FCM is not asked again.
    submit(setup, NUMBER, "gone-2").await;
    let got = wait_reports(setup, 4).await;
    assert_eq!(
        got[2..],
        [
            report("gone-2", "Push", "1", "23"),
            report("gone-2", "SMS", "2", "")
        ]
    );
    assert_eq!(push.fcm.requests().len(), 1);
}

#[tokio::test]
async fn one_gone_token_among_several_only_removes_that_installation() {
    let push = setup(60, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    let alive = device(setup, "token-alive", NUMBER).await;
    device(setup, "token-mismatch", NUMBER).await;
    push.fcm
        .script("token-mismatch", vec![FcmAnswer::SenderIdMismatch]);
    submit(setup, NUMBER, "mixed").await;
    let accepted = push.fcm.wait_for_accepted(1, WAIT).await;
    assert_eq!(accepted[0].token, "token-alive");
    push.fcm.wait_for_requests(2, WAIT).await;
    assert_eq!(installations(&push), "1");
    let message_id = accepted[0].message_id().unwrap().to_owned();
    let base = setup.gateway.base_url.clone();
    assert_eq!(confirm(&base, APP_KEY, &alive, &message_id).await.0, 204);
    assert_eq!(
        wait_reports(setup, 1).await,
        [report("mixed", "Push", "2", "")]
    );
}

#[tokio::test]
async fn an_unconfirmed_push_fails_with_24_and_falls_back_and_a_late_confirmation_changes_nothing()
{
    let push = setup(1, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    let installation = device(setup, "token-a", NUMBER).await;
    submit(setup, NUMBER, "late").await;
    let accepted = push.fcm.wait_for_accepted(1, WAIT).await;
    let message_id = accepted[0].message_id().unwrap().to_owned();
    assert_eq!(accepted[0].message["android"]["ttl"], "1s");
    let got = wait_reports(setup, 2).await;
    assert_eq!(
        got,
        [
            report("late", "Push", "3", "24"),
            report("late", "SMS", "2", "")
        ]
    );
    // The device confirms after all: taken, and nothing changes.
    let base = setup.gateway.base_url.clone();
    assert_eq!(
        confirm(&base, APP_KEY, &installation, &message_id).await.0,
        204
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(reports(setup), got);
    let log = setup.log("?reference=late").await;
    assert_eq!(log["messages"][0]["status"], "delivered", "{log}");
    assert_eq!(log["messages"][0]["channel"], "SMS", "{log}");
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_and_after_fcm_refuses_one() {
    // Tokens live 2 s: Tern fetches a new one at half that.
    let push = setup(60, Duration::from_secs(2)).await;
    let setup = &push.setup;
    device(setup, "token-a", NUMBER).await;
    submit(setup, NUMBER, "t1").await;
    push.fcm.wait_for_accepted(1, WAIT).await;
    assert_eq!(push.tokens.tokens_issued(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    submit(setup, NUMBER, "t2").await;
    push.fcm.wait_for_accepted(2, WAIT).await;
    assert_eq!(push.tokens.tokens_issued(), 2);
    // Every token revoked: FCM answers 401 once, Tern takes a new token and sends again.
    push.tokens.set_expires_in(Duration::from_secs(3600));
    push.tokens.revoke_all();
    submit(setup, NUMBER, "t3").await;
    push.fcm.wait_for_accepted(3, WAIT).await;
    let statuses: Vec<u16> = push.fcm.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 401, 200]);
    assert_eq!(push.tokens.tokens_issued(), 3);
    assert!(reports(setup).is_empty());
}

#[tokio::test]
async fn a_restart_rearms_the_confirmation_wait() {
    let push = setup(3, Duration::from_secs(3600)).await;
    let installation = device(&push.setup, "token-a", NUMBER).await;
    submit(&push.setup, NUMBER, "r1").await;
    submit(&push.setup, NUMBER, "r2").await;
    let accepted = push.fcm.wait_for_accepted(2, WAIT).await;
    // Kill only once both sends are recorded: a send whose outcome the store has not recorded
    // yet is sent again after a restart (at-least-once), which this test is not about.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let log = push.setup.log("?status=sent").await;
        if log["messages"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both pushes not recorded as sent: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Push {
        setup,
        fcm,
        tokens: _tokens,
        config_file,
    } = push;
    let Setup {
        gateway,
        token,
        receiver,
        client,
        _dir,
    } = setup;
    let data_dir = gateway.data_dir.clone();
    gateway.kill();
    let config = std::fs::read_to_string(&config_file).unwrap();
    let gateway = Gateway::start_logged_at(TERN, &data_dir, Some(&config), Some("info"));
    let setup = Setup {
        gateway,
        token,
        receiver,
        client,
        _dir,
    };
    // One push is confirmed after the restart; the other times out after it.
    let base = setup.gateway.base_url.clone();
    let log = setup_log_ids(&setup).await;
    let r1 = &log
        .iter()
        .find(|(reference, _)| reference == "r1")
        .unwrap()
        .1;
    let id = accepted
        .iter()
        .filter_map(|a| a.message_id())
        .find(|m| m.starts_with(r1.as_str()))
        .unwrap()
        .to_owned();
    assert_eq!(confirm(&base, APP_KEY, &installation, &id).await.0, 204);
    let mut got = wait_reports(&setup, 3).await;
    got.sort();
    assert_eq!(
        got,
        [
            report("r1", "Push", "2", ""),
            report("r2", "Push", "3", "24"),
            report("r2", "SMS", "2", ""),
        ]
    );
    assert_eq!(fcm.accepted().len(), 2);
}

/// (reference, message id) of every message in the log.
async fn setup_log_ids(setup: &Setup) -> Vec<(String, String)> {
    let log = setup.log("?limit=100").await;
    log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["reference"].as_str().unwrap_or_default().to_owned(),
                m["messageId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_missing_or_bad_service_account_file_stops_the_start_saying_why() {
    let config = "[[connector]]\nname = \"push\"\nkind = \"fcm\"\nproject_id = \"acme-app\"\n\
                  service_account_file = \"missing.json\"\n";
    let (ok, stderr) = crate::routes::serve_to_exit(config);
    assert!(!ok);
    assert!(
        stderr.contains("invalid configuration: [[connector]] \"push\": service_account_file")
            && stderr.contains("missing.json"),
        "{stderr}"
    );
    let config = "[[connector]]\nname = \"push\"\nkind = \"fcm\"\nproject_id = \"acme-app\"\n\
                  service_account_file = \"sa.json\"\nconfirm_secs = 0\n";
    let (ok, stderr) = crate::routes::serve_to_exit(config);
    assert!(!ok);
    assert!(
        stderr.contains(
            "invalid configuration: [[connector]] \"push\": confirm_secs must be at least 1"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn fcm_throttling_retries_on_push_after_its_retry_after() {
    let push = setup(60, Duration::from_secs(3600)).await;
    let setup = &push.setup;
    let installation = device(setup, "token-a", NUMBER).await;
    push.fcm.script(
        "token-a",
        vec![FcmAnswer::QuotaExceeded(1), FcmAnswer::Accept],
    );
    submit(setup, NUMBER, "busy").await;
    let accepted = push.fcm.wait_for_accepted(1, WAIT).await;
    let statuses: Vec<u16> = push.fcm.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(installations(&push), "1");
    // The retry is the message's second send: the confirmation names it.
    let message_id = accepted[0].message_id().unwrap().to_owned();
    assert!(names_message_and_attempt(&message_id, "2"), "{message_id}");
    let base = setup.gateway.base_url.clone();
    assert_eq!(
        confirm(&base, APP_KEY, &installation, &message_id).await.0,
        204
    );
    assert_eq!(
        wait_reports(setup, 1).await,
        [report("busy", "Push", "2", "")]
    );
}
