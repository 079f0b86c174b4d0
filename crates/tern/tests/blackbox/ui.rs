//! The message-log web page (`/ui/`) in a real headless browser: Debian's Chromium driven
//! through chromedriver (WebDriver, with `fantoccini`) against the real `tern` binary. A known
//! workload (messages with references, one that falls back from WhatsApp to SMS, one read) is
//! signed in to, searched, opened and charted, with the keyboard only and at a phone's width;
//! a wrong token is refused. Screenshots of the main views are saved under
//! `$CARGO_TARGET_TMPDIR/ui-screenshots/` and their paths printed. The page's files and the
//! funnel endpoint are also checked over plain HTTP.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{Value, json};

use crate::{Setup, setup};

const CONFIG: &str = r#"
[simulator]
default_delay_ms = 10
[[simulator.rule]]
channel = "WhatsApp"
to_prefix = "0031600000"
outcome = "failed"
error_code = 24
delay_ms = 10
[[simulator.rule]]
to_prefix = "0031611111"
outcome = "read"
delay_ms = 10
"#;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// WebDriver key codes.
const ENTER: &str = "\u{E007}";
const TAB: &str = "\u{E004}";
const ESCAPE: &str = "\u{E00C}";

/// The workload: two SMS with references, one WhatsApp message that fails and falls back to
/// SMS, one WhatsApp message that is read. Waits until all four are final.
async fn workload() -> Setup {
    let setup = setup(Some(CONFIG), &[], false).await;
    let (status, body) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345001"}],"body":{"content":"Your order shipped"},"reference":"order-1001"},
                {"from":"Tern","to":[{"number":"0031612345002"}],"body":{"content":"Your order arrived"},"reference":"order-1002"},
                {"from":"Tern","to":[{"number":"0031600000001"}],"body":{"content":"Hi"},
                 "allowedChannels":["WhatsApp","SMS"],"reference":"fallback-7"},
                {"from":"Tern","to":[{"number":"0031611111001"}],"body":{"content":"Read me"},
                 "allowedChannels":["WhatsApp"],"reference":"wa-read"}]"#,
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    // Wait for every message's last status (the read one is delivered first).
    let expected = json!([
        ["order-1001", "delivered"],
        ["order-1002", "delivered"],
        ["fallback-7", "delivered"],
        ["wa-read", "read"],
    ]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log = setup.log("").await;
        let states: Vec<Value> = log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| json!([m["reference"], m["status"]]))
            .collect();
        if Value::from(states) == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workload did not finish within 20 s: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    setup
}

/// The funnel the workload makes: every SMS delivered (the fallback's included); on WhatsApp one
/// failed (the fallback) and one read.
fn workload_funnel() -> Value {
    json!([
        {"channel": "SMS", "accepted": 3, "sent": 3, "delivered": 3, "read": 0, "failed": 0, "rejected": 0},
        {"channel": "WhatsApp", "accepted": 2, "sent": 2, "delivered": 1, "read": 1, "failed": 1, "rejected": 0},
    ])
}

async fn get(setup: &Setup, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = setup.client.get(setup.gateway.url(path));
    if let Some(token) = token {
        request = request.header("X-CM-PRODUCTTOKEN", token);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_its_types_and_a_strict_policy() {
    let setup = setup(None, &[], false).await;
    for (path, content_type, needle) in [
        (
            "/ui/",
            "text/html; charset=utf-8",
            "<title>Tern message log</title>",
        ),
        (
            "/ui/app.js",
            "text/javascript; charset=utf-8",
            "X-CM-PRODUCTTOKEN",
        ),
        ("/ui/app.css", "text/css; charset=utf-8", "@media"),
    ] {
        let response = get(&setup, path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path}: {body}");
        // Nothing is loaded from elsewhere.
        assert!(!body.contains("http://") || path == "/ui/app.js", "{path}");
        assert!(!body.contains("https://"), "{path}");
    }
    // `/ui` leads to the page.
    let _ = tern_testkit::http_client(); // installs rustls' crypto provider
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(setup.gateway.url("/ui"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/ui/");
}

#[tokio::test]
async fn the_funnel_endpoint_counts_the_workload_per_channel_and_the_log_takes_until() {
    let setup = workload().await;
    let funnel = json_of(get(&setup, "/v1.0/messages/funnel", Some(&setup.token)).await).await;
    assert_eq!(
        funnel,
        json!({"since": null, "until": null, "messages": 4, "channels": workload_funnel()})
    );
    // A range before the workload: nothing.
    let response = get(
        &setup,
        "/v1.0/messages/funnel?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z",
        Some(&setup.token),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_of(response).await,
        json!({"since": "2000-01-01T00:00:00Z", "until": "2001-01-01T00:00:00Z",
               "messages": 0, "channels": []})
    );
    assert_eq!(
        setup.log("?until=2001-01-01T00:00:00Z").await,
        json!({"messages": [], "next": null})
    );
    let later = setup.log("?until=2999-01-01T00:00:00Z").await;
    assert_eq!(later["messages"].as_array().unwrap().len(), 4);
    // Errors are the log's.
    let response = get(
        &setup,
        "/v1.0/messages/funnel?until=tomorrow",
        Some(&setup.token),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_of(response).await,
        json!({"details": "until 'tomorrow' must be an RFC 3339 time such as 2026-11-25T11:00:00Z",
               "errorCode": 202, "messages": []})
    );
    let response = get(
        &setup,
        "/v1.0/messages/funnel",
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(response.status(), 401);
    let response = setup
        .client
        .post(setup.gateway.url("/v1.0/messages/funnel"))
        .header("X-CM-PRODUCTTOKEN", &setup.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

/// A chromedriver on a loopback port, killed when dropped (also when the test panics).
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser test needs Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Chromedriver { child, port };
        let client = tern_testkit::http_client();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let ready = client
                .get(format!("http://127.0.0.1:{port}/status"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return driver;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not answer within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A headless Chromium session, `width` pixels wide.
    async fn session(&self, profile: &std::path::Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--lang=en-GB",
                         format!("--user-data-dir={}", profile.display())],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{}", self.port)),
        )
        .await
        .expect("chromium started within 30 s")
        .expect("a WebDriver session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `script` in the page and return what it returns.
async fn js(browser: &Client, script: &str) -> Value {
    browser
        .execute(script, Vec::new())
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

/// Wait until `script` returns something truthy (up to `limit`), and return it.
async fn wait_js(browser: &Client, script: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let value = js(browser, script).await;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            let page = js(browser, "return document.body.innerText").await;
            panic!("waited {limit:?} for `{script}`; the page shows:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Press `text`'s keys, one after the other, on the focused element.
async fn keys(browser: &Client, text: &str) {
    // Key events as a keyboard makes them (WebDriver actions), not typed into the element:
    // chromedriver types into a date field whatever it is sent, Tab included.
    let mut actions = KeyActions::new("keyboard".to_owned());
    for key in text.chars() {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    browser.perform_actions(actions).await.unwrap();
}

/// The id of the focused element.
async fn focused(browser: &Client) -> Value {
    js(
        browser,
        "return document.activeElement && document.activeElement.id",
    )
    .await
}

/// Press Tab until the focused element matches `selector` (at most 40 presses).
async fn tab_to(browser: &Client, selector: &str) {
    let check = format!(
        "return document.activeElement && document.activeElement.matches({})",
        json!(selector)
    );
    for _ in 0..40 {
        if js(browser, &check).await == json!(true) {
            return;
        }
        keys(browser, TAB).await;
    }
    panic!("Tab never reached {selector}");
}

/// Save a screenshot of the page as `name`.png and print its path.
async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

/// The references of the rows the list shows.
const ROW_REFERENCES: &str = "return Array.from(document.querySelectorAll('#message-rows tr'))
    .map(r => r.children[1].textContent)";

/// The funnel table as the API's `channels` array.
const FUNNEL_TABLE: &str =
    "return Array.from(document.querySelectorAll('#funnel-rows tr')).map(r => {
    const row = {channel: r.dataset.channel};
    r.querySelectorAll('td').forEach(td => row[td.dataset.stage] = Number(td.textContent));
    return row; })";

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn the_page_signs_in_searches_opens_a_fallback_and_charts_the_funnel() {
    let setup = workload().await;
    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let run = tokio::time::timeout(
        Duration::from_secs(180),
        AssertUnwindSafe(drive(&setup, &browser)).catch_unwind(),
    )
    .await;
    let _ = browser.close().await;
    drop(driver);
    match run {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the browser test took longer than 180 s"),
    }
}

async fn drive(setup: &Setup, browser: &Client) {
    browser.goto(&setup.gateway.url("/ui/")).await.unwrap();
    // The page opens on the sign-in form, the token field focused.
    wait_js(browser, "return document.readyState === 'complete'", WAIT).await;
    assert_eq!(focused(browser).await, "token");
    assert_eq!(
        js(browser, "return document.getElementById('log-view').hidden").await,
        true
    );
    screenshot(browser, "1-sign-in").await;

    // A wrong token is refused with the API's answer; nothing is kept.
    keys(browser, "00000000-0000-0000-0000-000000000000").await;
    keys(browser, ENTER).await;
    let refused = wait_js(
        browser,
        "const e = document.getElementById('sign-in-error'); return !e.hidden && e.textContent",
        WAIT,
    )
    .await;
    assert_eq!(
        refused,
        "The product token was refused (HTTP 401): No account found for the given authentication"
    );
    assert_eq!(
        js(browser, "return document.getElementById('log-view').hidden").await,
        true
    );
    assert_eq!(
        js(browser, "return sessionStorage.length").await,
        0,
        "a refused token is not kept"
    );
    screenshot(browser, "2-sign-in-refused").await;

    // The right token, with the keyboard: the field is focused again, its text selected.
    assert_eq!(focused(browser).await, "token");
    keys(browser, &setup.token).await;
    keys(browser, ENTER).await;
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 4",
        WAIT,
    )
    .await;
    assert_eq!(
        js(
            browser,
            "return sessionStorage.getItem('tern.productToken')"
        )
        .await,
        setup.token.as_str()
    );
    assert_eq!(
        js(browser, ROW_REFERENCES).await,
        json!(["order-1001", "order-1002", "fallback-7", "wa-read"])
    );
    assert_eq!(focused(browser).await, "f-reference");
    screenshot(browser, "3-list").await;

    // Search by reference (typed, Enter submits): exactly that message.
    keys(browser, "order-1002").await;
    keys(browser, ENTER).await;
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 1",
        WAIT,
    )
    .await;
    assert_eq!(js(browser, ROW_REFERENCES).await, json!(["order-1002"]));
    let row = js(
        browser,
        "return Array.from(document.querySelectorAll('#message-rows tr td')).map(td => td.textContent)",
    )
    .await;
    assert_eq!(row[2], "0031612345002");
    assert_eq!(row[3], "SMS");
    assert_eq!(row[4], "delivered");

    // Search by number.
    js(browser, "document.getElementById('f-reference').value = ''").await;
    let to = browser.find(Locator::Id("f-to")).await.unwrap();
    to.send_keys("0031600000001").await.unwrap();
    to.send_keys(ENTER).await.unwrap();
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 1 \
         && document.querySelector('#message-rows tr').children[1].textContent === 'fallback-7'",
        WAIT,
    )
    .await;

    // Open the fallback with the keyboard only: Tab to its Open button, Enter.
    tab_to(browser, "#message-rows button.open").await;
    let opener = focused(browser).await;
    keys(browser, ENTER).await;
    wait_js(
        browser,
        "return !document.getElementById('detail').hidden",
        WAIT,
    )
    .await;
    assert_eq!(focused(browser).await, "detail-title");
    assert_eq!(
        js(
            browser,
            "return document.getElementById('detail-title').textContent"
        )
        .await,
        "Message “fallback-7”"
    );
    // Both attempts: WhatsApp failed (error 24), then SMS delivered, with its operator.
    let attempts = js(
        browser,
        "return Array.from(document.querySelectorAll('#detail-attempts .attempt')).map(a => ({
            title: a.querySelector('h4').textContent,
            rows: Array.from(a.querySelectorAll('tbody tr')).map(r =>
                Array.from(r.children).slice(1).map(td => td.textContent)) }))",
    )
    .await;
    assert_eq!(
        attempts,
        json!([
            {"title": "Attempt 1 · WhatsApp",
             "rows": [["3 Failed", "24", ""]]},
            {"title": "Attempt 2 · SMS (fallback)", "rows": [["2 Delivered", "", "20416"]]},
        ])
    );
    let summary = js(
        browser,
        "const d = {}; document.querySelectorAll('#detail-summary dt').forEach(dt =>
            d[dt.textContent] = dt.nextElementSibling.textContent); return d",
    )
    .await;
    assert_eq!(summary["Allowed channels"], "WhatsApp → SMS");
    assert_eq!(summary["Parts"], "1");
    assert_eq!(summary["Status"], "delivered");
    assert_eq!(summary["Channel"], "SMS");
    let sends = js(
        browser,
        "return Array.from(document.querySelectorAll('#detail-sends tbody tr')).map(r =>
            [r.children[0].textContent, r.children[1].textContent])",
    )
    .await;
    // The SMS send is attempt 3: a fallback skips a number, so that nothing the failed
    // attempt's channel still says can count for the next one.
    assert_eq!(sends, json!([["1", "simulator"], ["3", "simulator"]]));
    screenshot(browser, "4-detail-fallback").await;
    // Escape closes it and gives the focus back to the button that opened it.
    keys(browser, ESCAPE).await;
    wait_js(
        browser,
        "return document.getElementById('detail').hidden",
        WAIT,
    )
    .await;
    assert_eq!(focused(browser).await, opener);

    // The funnel of the whole log matches the workload.
    let clear = browser.find(Locator::Id("clear")).await.unwrap();
    clear.click().await.unwrap();
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 4",
        WAIT,
    )
    .await;
    assert_eq!(js(browser, FUNNEL_TABLE).await, workload_funnel());
    assert_eq!(
        js(
            browser,
            "return document.querySelectorAll('#funnel-chart svg rect.bar').length"
        )
        .await,
        12,
        "six bars per channel"
    );
    js(
        browser,
        "document.getElementById('funnel').scrollIntoView()",
    )
    .await;
    screenshot(browser, "5-funnel").await;

    // A time range before the workload: no messages, an empty funnel.
    js(
        browser,
        "document.getElementById('f-since').value = '2000-01-01T00:00:00';
         document.getElementById('f-until').value = '2001-01-01T00:00:00';",
    )
    .await;
    browser
        .find(Locator::Id("search"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 0 \
         && document.querySelectorAll('#funnel-rows tr').length === 0",
        WAIT,
    )
    .await;
    assert_eq!(
        js(
            browser,
            "return document.getElementById('no-messages').hidden"
        )
        .await,
        false
    );

    // Live refresh: a message sent meanwhile shows up without searching again.
    clear.click().await.unwrap();
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 4",
        WAIT,
    )
    .await;
    browser
        .find(Locator::Id("live"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let (status, _) = setup
        .post_json(&setup.request(
            r#"[{"from":"Tern","to":[{"number":"0031612345003"}],"body":{"content":"Live"},"reference":"live-1"}]"#,
        ))
        .await;
    assert_eq!(status, 200);
    wait_js(
        browser,
        "return document.querySelectorAll('#message-rows tr').length === 5",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        js(browser, ROW_REFERENCES).await[4],
        "live-1",
        "the new message is listed"
    );
    browser
        .find(Locator::Id("live"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // A phone's width: no sideways scrolling, rows as labelled cards, the detail readable.
    browser.set_window_size(375, 812).await.unwrap();
    wait_js(browser, "return window.innerWidth <= 400", WAIT).await;
    assert_eq!(
        js(
            browser,
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        .await,
        true,
        "nothing wider than the screen"
    );
    assert_eq!(
        js(
            browser,
            "return getComputedStyle(document.querySelector('#messages thead')).display"
        )
        .await,
        "none"
    );
    screenshot(browser, "6-narrow-list").await;
    let fallback_button = js(
        browser,
        "return Array.from(document.querySelectorAll('#message-rows tr'))
            .find(r => r.children[1].textContent === 'fallback-7').querySelector('button').id",
    )
    .await;
    browser
        .find(Locator::Id(fallback_button.as_str().unwrap()))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        browser,
        "return !document.getElementById('detail').hidden \
         && document.querySelectorAll('#detail-attempts .attempt').length === 2",
        WAIT,
    )
    .await;
    assert_eq!(
        js(
            browser,
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        .await,
        true,
        "the detail fits the screen"
    );
    screenshot(browser, "7-narrow-detail").await;
    js(
        browser,
        "document.getElementById('funnel').scrollIntoView()",
    )
    .await;
    screenshot(browser, "8-narrow-funnel").await;

    // Signing out forgets the token.
    browser
        .find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        browser,
        "return !document.getElementById('sign-in-view').hidden",
        WAIT,
    )
    .await;
    assert_eq!(js(browser, "return sessionStorage.length").await, 0);
}
