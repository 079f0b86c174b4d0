//! The PHP 3.0.1, .NET 2.12.0 and Java 3.0.0 SDKs cannot run here, so their requests are
//! replayed byte for byte as each one serialises them, and each response is read the way that
//! SDK reads it.
//!
//! The bodies are modelled on the SDKs' own serialisation code (GitHub, the tagged releases):
//! - PHP `cmdotcom/text-sdk-php` 3.0.1: `src/CMText/TextClient.php` (`json_encode` with default
//!   flags, so `/` is written `\/` and non-ASCII as `\uXXXX`), `TextClientRequest.php`,
//!   `Message.php` (`jsonSerialize`: body, from, to, lower-case `customgrouping3`, always
//!   `minimumNumberOfMessageParts:1` and `maximumNumberOfMessageParts:8`, then allowedChannels,
//!   appKey, richContent, reference), `MessageBody.php`, `RichContent/**` (public properties, so
//!   `"context":null` on every conversation part; `postbackdata` on reply suggestions);
//!   responses: `TextClientResult.php` (`json_decode($body, false, 5)`).
//! - .NET `cmdotcom/text-sdk-dotnet` 2.12.0: `CM.Text/BusinessMessaging/BusinessMessagingApi.cs`
//!   (System.Text.Json defaults: explicit `null`s unless `WhenWritingDefault`, `"$type"` first on
//!   `IRichMessage` parts, `"action"` as the discriminator of suggestions, derived properties
//!   before base ones, `+` and `&` escaped as `\u002B` / `\u0026`), `Model/Message.cs`
//!   (`customGrouping3` = `text-sdk-dotnet-2.12.0.0`, `appKey`, `validity`),
//!   `Model/MultiChannel/*.cs` (`WhatsappTemplate.Components` has no JSON name: `"Components"`);
//!   responses: `GetTextApiResult` into `Model/HttpResponseBody.cs` and
//!   `ResponseMessageDetail.cs` (case-sensitive names, `int` fields), ignoring the status code.
//! - Java `cmdotcom/text-sdk-java` 3.0.0: `src/main/java/com/cm/text/MessagingClient.java` (Gson
//!   defaults: nulls left out, subclass fields before superclass ones, `=` `&` escaped as
//!   `\u003d` / `\u0026`), `models/Message.java` (`customGrouping` = `text-sdk-java`, always
//!   `"dcs":0`), `models/multichannel/ReplySuggestion.java` (`postbackData`); responses:
//!   `utils/HttpHelper.java` (any 4xx/5xx is an exception) and `models/Response.java` (Gson;
//!   `messageErrorCode` read as a String).

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::{Setup, setup};

/// POST `body` as given; returns the status and the raw response text.
async fn post_raw(setup: &Setup, content_type: &str, body: String) -> (u16, String) {
    let response = setup
        .client
        .post(setup.gateway.url("/v1.0/message"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The logged message with this reference (exactly one).
async fn logged(setup: &Setup, reference: &str) -> Value {
    let log = setup.log(&format!("?reference={reference}")).await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{reference}: {log}");
    messages[0].clone()
}

/// (reference, the channel it was delivered on) of each logged message, once the simulator has
/// settled all `count` of them; fails if there are other messages or one was not delivered.
async fn channels_after_delivery(setup: &Setup, count: usize) -> Vec<(String, String)> {
    let log = setup.wait_final(count, Duration::from_secs(10)).await;
    let messages = log["messages"].as_array().unwrap();
    assert_eq!(messages.len(), count, "{log}");
    let mut channels: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "delivered", "{m}");
            (
                m["reference"].as_str().unwrap_or_default().to_owned(),
                crate::delivered_on(m),
            )
        })
        .collect();
    channels.sort();
    channels
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

// ---------------------------------------------------------------------------------------------
// PHP 3.0.1

/// What `TextClientResult::processResponse` makes of a body.
#[derive(Debug)]
struct PhpResult {
    status_message: Value,
    status_code: Value,
    details: Vec<Value>,
}

/// Nesting depth as PHP's `json_decode` counts it (each array or object is one level).
fn json_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn php_parse(body: &str) -> PhpResult {
    // json_decode returns null (and the SDK reports 999 "An error occurred") on invalid JSON or
    // on nesting deeper than 5.
    let json: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("PHP: not JSON: {body}"));
    assert!(
        json_depth(&json) <= 5,
        "PHP: json_decode depth 5 exceeded: {body}"
    );
    let field = |name: &str| json.get(name).filter(|v| !v.is_null()).cloned();
    PhpResult {
        status_message: field("details").unwrap_or(json!("An error occurred")),
        status_code: field("errorCode").unwrap_or(json!(999)),
        details: field("messages")
            .map(|m| m.as_array().expect("PHP: messages is an array").clone())
            .unwrap_or_default(),
    }
}

/// `$detail->status === 'Accepted'`: a string, exactly.
fn php_accepted(detail: &Value) -> bool {
    detail["status"].as_str() == Some("Accepted")
}

/// `(new TextClient($token, $url))->send([$sms, $rich, $template])` where `$sms = new
/// Message('Café from PHP', 'TestSender', ['0031612345678'], 'phpsms')`, `$rich` is the
/// README's rich message (`WithChannels([Channels::WHATSAPP])`, `WithHybridAppKey`, a
/// `MediaMessage`, two `ReplySuggestion`s) and `$template` a `TemplateMessage` with a
/// `WhatsappTemplate`, `Language('en')` and a `ComponentBody([ComponentParameterText])`.
const PHP_THREE_MESSAGES: &str = concat!(
    r#"{"messages":{"authentication":{"producttoken":"TOKEN"},"msg":["#,
    r#"{"body":{"content":"Caf\u00e9 from PHP","type":"AUTO"},"from":"TestSender","to":[{"number":"0031612345678"}],"customgrouping3":"text-sdk-php-3.0.1","minimumNumberOfMessageParts":1,"maximumNumberOfMessageParts":8,"reference":"phpsms"},"#,
    r#"{"body":{"content":"Message Text","type":"AUTO"},"from":"TestSender","to":[{"number":"0031612345679"}],"customgrouping3":"text-sdk-php-3.0.1","minimumNumberOfMessageParts":1,"maximumNumberOfMessageParts":8,"allowedChannels":["WhatsApp"],"appKey":"0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d","richContent":{"conversation":[{"media":{"mediaName":"cm.com","mediaUri":"https:\/\/avatars3.githubusercontent.com\/u\/8234794?s=200&v=4","mimeType":"image\/png"},"context":null}],"suggestions":[{"action":"Reply","label":"Opt In","postbackdata":"OK"},{"action":"Reply","label":"Opt Out","postbackdata":"STOP"}]},"reference":"phprich"},"#,
    r#"{"body":{"content":"","type":"AUTO"},"from":"TestSender","to":[{"number":"0031612345670"}],"customgrouping3":"text-sdk-php-3.0.1","minimumNumberOfMessageParts":1,"maximumNumberOfMessageParts":8,"allowedChannels":["WhatsApp"],"richContent":{"conversation":[{"template":{"whatsapp":{"namespace":"the-namespace","element_name":"welcome","language":{"code":"en","policy":"deterministic"},"components":[{"type":"body","parameters":[{"type":"text","text":"Tern"}]}]}},"context":null}]},"reference":"phptemplate"}"#,
    r#"]}}"#
);

#[tokio::test]
async fn php_sdk_requests_are_accepted() {
    let setup = setup(None, &[], false).await;
    let body = PHP_THREE_MESSAGES.replace("TOKEN", &setup.token);
    let (status, text) = post_raw(&setup, "application/json; charset=utf-8", body).await;
    assert_eq!(status, 200, "{text}");
    let result = php_parse(&text);
    assert_eq!(result.status_code, json!(0), "{text}");
    assert_eq!(result.status_message, json!("Created 3 message(s)"));
    assert_eq!(result.details.len(), 3, "{text}");
    for (detail, (to, reference)) in result.details.iter().zip([
        ("0031612345678", "phpsms"),
        ("0031612345679", "phprich"),
        ("0031612345670", "phptemplate"),
    ]) {
        assert!(php_accepted(detail), "status === 'Accepted': {detail}");
        assert_eq!(detail["to"], to);
        assert_eq!(detail["reference"], reference);
        assert_eq!(detail["parts"], 1);
        assert_eq!(detail["messageDetails"], Value::Null);
    }

    for (reference, channels) in [
        ("phpsms", json!(["SMS"])),
        ("phprich", json!(["WhatsApp"])),
        ("phptemplate", json!(["WhatsApp"])),
    ] {
        let message = logged(&setup, reference).await;
        assert_eq!(message["allowedChannels"], channels, "{message}");
        assert_eq!(
            message["customGrouping3"], "text-sdk-php-3.0.1",
            "{message}"
        );
    }
    assert_eq!(
        channels_after_delivery(&setup, 3).await,
        pairs(&[
            ("phpsms", "SMS"),
            ("phprich", "WhatsApp"),
            ("phptemplate", "WhatsApp")
        ])
    );
}

#[tokio::test]
async fn php_sdk_sees_accepted_and_rejected_exactly() {
    let setup = setup(None, &[], false).await;
    // `send([new Message('Hello', 'TestSender', ['0031612345678'], 'phpok'),
    //        new Message('Hello', 'TestSender', ['06-1234'], 'phpbad')])`
    let body = concat!(
        r#"{"messages":{"authentication":{"producttoken":"TOKEN"},"msg":["#,
        r#"{"body":{"content":"Hello","type":"AUTO"},"from":"TestSender","to":[{"number":"0031612345678"}],"customgrouping3":"text-sdk-php-3.0.1","minimumNumberOfMessageParts":1,"maximumNumberOfMessageParts":8,"reference":"phpok"},"#,
        r#"{"body":{"content":"Hello","type":"AUTO"},"from":"TestSender","to":[{"number":"06-1234"}],"customgrouping3":"text-sdk-php-3.0.1","minimumNumberOfMessageParts":1,"maximumNumberOfMessageParts":8,"reference":"phpbad"}"#,
        r#"]}}"#
    )
    .replace("TOKEN", &setup.token);
    let (status, text) = post_raw(&setup, "application/json; charset=utf-8", body).await;
    assert_eq!(status, 200, "{text}");
    let result = php_parse(&text);
    assert_eq!(result.status_code, json!(201), "{text}");
    assert_eq!(result.status_message, json!("Created 1 message(s)"));
    assert!(php_accepted(&result.details[0]), "{text}");
    assert_eq!(result.details[1]["status"].as_str(), Some("Rejected"));
    assert!(!php_accepted(&result.details[1]));
    assert_eq!(result.details[1]["to"], "06-1234");
    assert_eq!(result.details[1]["reference"], "phpbad");
    assert_eq!(
        result.details[1]["messageDetails"],
        "Gsm '06-1234' is not a number."
    );
    assert_eq!(result.details[1]["messageErrorCode"], 303);
    assert!(
        setup.log("?reference=phpbad").await["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// .NET 2.12.0

/// What `BusinessMessagingApi.GetTextApiResult` builds (`TextClientResult`).
#[derive(Debug, PartialEq)]
struct DotnetResult {
    status_message: Option<String>,
    status_code: i32,
    details: Vec<DotnetDetail>,
}

/// `TextClientMessageDetail`, plus the `messageErrorCode` the response model reads.
#[derive(Debug, PartialEq)]
struct DotnetDetail {
    reference: Option<String>,
    status: Option<String>,
    to: Option<String>,
    parts: i32,
    details: Option<String>,
    message_error_code: i32,
}

/// `JsonSerializer.Deserialize<HttpResponseBody>` then `.messages.Select(...)`: a non-JSON
/// body, a null or non-integer `int`, a number where a string belongs, or a null `messages`
/// throws. Names are matched case-sensitively (the defaults). Tern promises more than the
/// SDK's minimum: every integer field is present, not merely non-null.
fn dotnet_parse(body: &str) -> DotnetResult {
    let json: Value = serde_json::from_str(body)
        .unwrap_or_else(|_| panic!(".NET: JsonException, not JSON: {body}"));
    let object = json.as_object().expect(".NET: body is a JSON object");
    let messages = object
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!(".NET: ArgumentNullException, messages is not an array: {body}"));
    DotnetResult {
        status_message: dotnet_string(object, "details"),
        status_code: dotnet_int(object, "errorCode"),
        details: messages
            .iter()
            .map(|message| {
                let message = message.as_object().expect(".NET: message is an object");
                DotnetDetail {
                    reference: dotnet_string(message, "reference"),
                    status: dotnet_string(message, "status"),
                    to: dotnet_string(message, "to"),
                    parts: dotnet_int(message, "parts"),
                    details: dotnet_string(message, "messageDetails"),
                    message_error_code: dotnet_int(message, "messageErrorCode"),
                }
            })
            .collect(),
    }
}

fn dotnet_int(object: &Map<String, Value>, name: &str) -> i32 {
    object
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or_else(|| panic!(".NET: {name} must be a present Int32: {object:?}"))
}

fn dotnet_string(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => panic!(".NET: {name} must be a string or null, got {other}"),
    }
}

fn dotnet_detail(
    to: &str,
    status: &str,
    reference: Option<&str>,
    parts: i32,
    details: Option<&str>,
    code: i32,
) -> DotnetDetail {
    DotnetDetail {
        reference: reference.map(str::to_owned),
        status: Some(status.to_owned()),
        to: Some(to.to_owned()),
        parts,
        details: details.map(str::to_owned),
        message_error_code: code,
    }
}

/// The envelope `GetHttpPostBody` writes around one message.
fn dotnet_envelope(token: &str, msg: &str) -> String {
    format!(r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{msg}]}}}}"#)
}

/// `client.SendMessageAsync("Hello from .NET", "TestSender", new[] {"0031612345678"}, "netsms")`.
const DOTNET_SMS: &str = r#"{"body":{"content":"Hello from .NET","type":"AUTO"},"customGrouping3":"text-sdk-dotnet-2.12.0.0","from":"TestSender","to":[{"number":"0031612345678"}],"reference":"netsms"}"#;

/// `new MessageBuilder("Message Text", "TestSender", "+31612345679")
///     .WithAllowedChannels(Channel.WhatsApp, Channel.SMS).WithReference("netrich")
///     .WithValidityPeriod("2h").WitHybridAppKey(appKey)
///     .WithRichMessage(new TextMessage("Look at this"))
///     .WithRichMessage(new MediaMessage("cm.com", "https://…?s=200&v=4", "image/png"))
///     .WithSuggestions(new ReplySuggestion { Label = "Yes", PostbackData = "yes" })`.
const DOTNET_RICH: &str = r#"{"allowedChannels":["WhatsApp","SMS"],"body":{"content":"Message Text","type":"AUTO"},"customGrouping3":"text-sdk-dotnet-2.12.0.0","from":"TestSender","appKey":"0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d","to":[{"number":"\u002B31612345679"}],"reference":"netrich","richContent":{"conversation":[{"$type":"TextMessage","text":"Look at this","tag":null,"suggestions":null,"context":null},{"$type":"MediaMessage","media":{"mediaName":"cm.com","mediaUri":"https://avatars3.githubusercontent.com/u/8234794?s=200\u0026v=4","mimeType":"image/png"},"context":null}],"suggestions":[{"action":"reply","description":null,"media":null,"label":"Yes","postbackdata":"yes"}]},"validity":"2h"}"#;

/// `new MessageBuilder("", "TestSender", "0031612345670").WithAllowedChannels(Channel.WhatsApp)
///     .WithReference("nettemplate").WithTemplate(new TemplateMessage { Content = new
///     TemplateMessageContent { Whatsapp = new WhatsappTemplate { Namespace = "the-namespace",
///     Name = "welcome", Language = new Language { Code = "en", Policy = "deterministic" },
///     Components = new[] { new TemplateComponents { Type = "body", ComponentParameters = new[]
///     { new ComponentParameters { Type = "text", Text = "Tern" } } } } } } })`.
const DOTNET_TEMPLATE: &str = r#"{"allowedChannels":["WhatsApp"],"body":{"content":"","type":"AUTO"},"customGrouping3":"text-sdk-dotnet-2.12.0.0","from":"TestSender","to":[{"number":"0031612345670"}],"reference":"nettemplate","richContent":{"conversation":[{"$type":"TemplateMessage","template":{"whatsapp":{"namespace":"the-namespace","element_name":"welcome","language":{"code":"en","policy":"deterministic"},"Components":[{"type":"body","sub_type":null,"index":0,"parameters":[{"type":"text","text":"Tern","media":null,"default":null,"currency":null,"date_time":null,"payload":null}]}]}},"context":null}],"suggestions":null}}"#;

#[tokio::test]
async fn dotnet_sdk_requests_are_accepted() {
    let setup = setup(None, &[], false).await;
    for (msg, to, reference) in [
        (DOTNET_SMS, "0031612345678", "netsms"),
        (DOTNET_RICH, "+31612345679", "netrich"),
        (DOTNET_TEMPLATE, "0031612345670", "nettemplate"),
    ] {
        let body = dotnet_envelope(&setup.token, msg);
        let (_, text) = post_raw(&setup, "application/json; charset=utf-8", body).await;
        assert_eq!(
            dotnet_parse(&text),
            DotnetResult {
                status_message: Some("Created 1 message(s)".into()),
                status_code: 0,
                details: vec![dotnet_detail(to, "Accepted", Some(reference), 1, None, 0)],
            },
            "{reference}: {text}"
        );
    }

    let sms = logged(&setup, "netsms").await;
    assert_eq!(sms["allowedChannels"], json!(["SMS"]));
    let rich = logged(&setup, "netrich").await;
    assert_eq!(rich["allowedChannels"], json!(["WhatsApp", "SMS"]));
    assert_eq!(rich["to"], "+31612345679");
    assert_ne!(
        rich["validUntil"], sms["validUntil"],
        "validity 2h is applied"
    );
    let template = logged(&setup, "nettemplate").await;
    assert_eq!(template["allowedChannels"], json!(["WhatsApp"]));
    for message in [&sms, &rich, &template] {
        assert_eq!(message["customGrouping3"], "text-sdk-dotnet-2.12.0.0");
    }
    assert_eq!(
        channels_after_delivery(&setup, 3).await,
        pairs(&[
            ("netsms", "SMS"),
            ("netrich", "WhatsApp"),
            ("nettemplate", "WhatsApp")
        ])
    );
}

/// The .NET SDK ignores the status code and deserialises every body: error answers must be JSON
/// with integer codes and a `messages` array too.
#[tokio::test]
async fn dotnet_sdk_parses_error_responses() {
    let setup = setup(None, &[], false).await;

    // An invalid number: 400, the message rejected with 303.
    let bad_number = DOTNET_SMS
        .replace("0031612345678", "not-a-number")
        .replace("netsms", "netbad");
    let (status, text) = post_raw(
        &setup,
        "application/json; charset=utf-8",
        dotnet_envelope(&setup.token, &bad_number),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        dotnet_parse(&text),
        DotnetResult {
            status_message: Some("Created 0 message(s)".into()),
            status_code: 201,
            details: vec![dotnet_detail(
                "not-a-number",
                "Rejected",
                Some("netbad"),
                0,
                Some("Gsm 'not-a-number' is not a number."),
                303
            )],
        }
    );

    // No sender: `new MessageBuilder("Hello", null, …)` leaves `from` out (WhenWritingDefault).
    let no_from = DOTNET_SMS
        .replace(r#""from":"TestSender","#, "")
        .replace("netsms", "netnofrom");
    let (status, text) = post_raw(
        &setup,
        "application/json; charset=utf-8",
        dotnet_envelope(&setup.token, &no_from),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let result = dotnet_parse(&text);
    assert_eq!(result.status_code, 201, "{text}");
    assert_eq!(result.details.len(), 1, "{text}");
    assert_eq!(result.details[0].status.as_deref(), Some("Rejected"));
    assert_eq!(result.details[0].message_error_code, 301, "{text}");

    // A well-formed GUID that is no account's token: 101, still a JSON body with `messages`.
    let (_, text) = post_raw(
        &setup,
        "application/json; charset=utf-8",
        dotnet_envelope("5c6b1b9e-0a4f-4d2e-9b8c-7d6e5f4a3b2c", DOTNET_SMS),
    )
    .await;
    let result = dotnet_parse(&text);
    assert_eq!(result.status_code, 101, "{text}");
    assert!(result.status_message.is_some(), "{text}");

    assert!(
        setup.log("").await["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Java 3.0.0

/// What Gson makes of a 200 body (`Response.HttpResponseBody`); any other status is an
/// exception in `HttpHelper` and the body is lost.
#[derive(Debug, PartialEq)]
struct JavaResult {
    details: String,
    error_code: i64,
    messages: Vec<JavaDetail>,
}

#[derive(Debug, PartialEq)]
struct JavaDetail {
    message_details: Option<String>,
    /// Declared `String`: Gson reads the number `0` as `"0"`.
    message_error_code: Option<String>,
    parts: i64,
    reference: Option<String>,
    status: String,
    to: String,
}

fn java_parse(status: u16, body: &str) -> JavaResult {
    assert!(
        status < 400,
        "Java: HttpURLConnection throws on {status}: {body}"
    );
    let json: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("Java: Invalid json response-body"));
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        other => panic!("Java: {other} is not a String"),
    };
    JavaResult {
        details: text(&json["details"]).expect("details"),
        error_code: json["errorCode"].as_i64().expect("errorCode is an int"),
        messages: json["messages"]
            .as_array()
            .expect("messages is an array")
            .iter()
            .map(|m| JavaDetail {
                message_details: text(&m["messageDetails"]),
                message_error_code: text(&m["messageErrorCode"]),
                parts: m["parts"].as_i64().expect("parts is an int"),
                reference: text(&m["reference"]),
                status: text(&m["status"]).expect("status"),
                to: text(&m["to"]).expect("to"),
            })
            .collect(),
    }
}

/// `client.sendTextMessage("Hello from Java", "TestSender", new String[] {"0031612345678"})`:
/// no type, no reference, no channels; `customGrouping` and `dcs` always.
const JAVA_SMS: &str = r#"{"messages":{"authentication":{"producttoken":"TOKEN"},"msg":[{"body":{"content":"Hello from Java"},"customGrouping":"text-sdk-java","from":"TestSender","to":[{"number":"0031612345678"}],"dcs":0}]}}"#;

/// `new MessageBuilder("Message Text", "auto", "TestSender", new String[] {"0031612345679"})
///     .withAllowedChannels(new Channel[] {Channel.WhatsApp}).withReference("javarich")
///     .withRichMessage(new MediaMessage("cm.com", "https://…?s=200&v=4", "image/png"))
///     .withSuggestions(new Suggestion[] {reply /* ReplySuggestion("yes"), setLabel("Yes") */,
///         new OpenUrlSuggestion("Visit", "https://www.cm.com")})`.
const JAVA_RICH: &str = r#"{"messages":{"authentication":{"producttoken":"TOKEN"},"msg":[{"allowedChannels":["WhatsApp"],"body":{"content":"Message Text","type":"auto"},"customGrouping":"text-sdk-java","from":"TestSender","to":[{"number":"0031612345679"}],"reference":"javarich","richContent":{"conversation":[{"media":{"mediaName":"cm.com","mediaUri":"https://avatars3.githubusercontent.com/u/8234794?s\u003d200\u0026v\u003d4","mimeType":"image/png"}}],"suggestions":[{"postbackData":"yes","action":"reply","label":"Yes"},{"url":"https://www.cm.com","action":"openUrl","label":"Visit"}]},"dcs":0}]}}"#;

/// The README's template: `TemplateLanguage("en", "deterministic")`, empty `localizable_params`,
/// a body component with one text parameter.
const JAVA_TEMPLATE: &str = r#"{"messages":{"authentication":{"producttoken":"TOKEN"},"msg":[{"allowedChannels":["WhatsApp"],"body":{"content":"Template Test"},"customGrouping":"text-sdk-java","from":"TestSender","to":[{"number":"0031612345670"}],"reference":"javatemplate","richContent":{"conversation":[{"template":{"whatsapp":{"namespace":"the-namespace","element_name":"welcome","language":{"code":"en","policy":"deterministic"},"localizable_params":[],"components":[{"type":"body","parameters":[{"type":"text","text":"Tern"}]}]}}}]},"dcs":0}]}}"#;

#[tokio::test]
async fn java_sdk_requests_are_accepted() {
    let setup = setup(None, &[], false).await;
    for (template, to, reference) in [
        (JAVA_SMS, "0031612345678", None),
        (JAVA_RICH, "0031612345679", Some("javarich")),
        (JAVA_TEMPLATE, "0031612345670", Some("javatemplate")),
    ] {
        // HttpHelper sets `Content-Type: application/json`, no charset.
        let body = template.replace("TOKEN", &setup.token);
        let (status, text) = post_raw(&setup, "application/json", body).await;
        assert_eq!(status, 200, "{text}");
        let result = java_parse(status, &text);
        assert_eq!(
            result,
            JavaResult {
                details: "Created 1 message(s)".into(),
                error_code: 0,
                messages: vec![JavaDetail {
                    message_details: None,
                    message_error_code: Some("0".into()),
                    parts: 1,
                    reference: reference.map(str::to_owned),
                    status: "Accepted".into(),
                    to: to.into(),
                }],
            },
            "{text}"
        );
    }

    let log = setup.log("?to=0031612345678").await;
    let sms = &log["messages"][0];
    assert_eq!(sms["allowedChannels"], json!(["SMS"]), "{log}");
    assert_eq!(sms["reference"], Value::Null);
    for message in [
        sms.clone(),
        logged(&setup, "javarich").await,
        logged(&setup, "javatemplate").await,
    ] {
        assert_eq!(message["customGrouping"], "text-sdk-java", "{message}");
        assert_eq!(message["customGrouping3"], Value::Null, "{message}");
    }
    assert_eq!(
        channels_after_delivery(&setup, 3).await,
        pairs(&[
            ("", "SMS"),
            ("javarich", "WhatsApp"),
            ("javatemplate", "WhatsApp")
        ])
    );
}
