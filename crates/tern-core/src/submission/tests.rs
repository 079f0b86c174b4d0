use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::account::{ReportFormat, TokenHash};
use tern_proto::cm::json::parse_submit;

/// Ids 1, 2, 3, … in the order they are asked for.
#[derive(Default)]
struct SequentialIds(AtomicU64);

impl MessageIds for SequentialIds {
    fn next_id(&self) -> MessageId {
        let next = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        MessageId(uuid::Uuid::from_u128(u128::from(next)))
    }
}

fn account(channels: &[Channel]) -> Account {
    Account {
        id: 1,
        name: "test".into(),
        token_hash: TokenHash([0; 32]),
        balance: None,
        status_url: None,
        status_format: ReportFormat::Json,
        inbound_url: None,
        inbound_numbers: Vec::new(),
        channels: channels.to_vec(),
        smpp: None,
        created_at: Timestamp::UNIX_EPOCH,
        disabled: false,
        webhook_secrets: Default::default(),
    }
}

fn judge(body: &str, channels: &[Channel]) -> Vec<RecipientOutcome> {
    let request = parse_submit(body.as_bytes()).unwrap();
    let msgs = messages(&request, &RequestLimits::default()).unwrap();
    validate(
        msgs,
        &account(channels),
        "2026-01-01T00:00:00Z".parse().unwrap(),
        &SubmissionPolicy::default(),
        &SequentialIds::default(),
        Surface::Json,
    )
}

fn rejection(outcome: &RecipientOutcome) -> (u32, String) {
    match outcome {
        RecipientOutcome::Rejected { rejection, .. } => (rejection.code(), rejection.details()),
        RecipientOutcome::Accepted(_) => panic!("accepted: {outcome:?}"),
    }
}

fn msg(fields: &str) -> String {
    format!(r#"{{"messages":{{"msg":[{{{fields}}}]}}}}"#)
}

#[test]
fn accepted_message_carries_parts_and_route() {
    let outcomes = judge(
        &msg(
            r#""from":"Tern","to":[{"number":"0031612345678"},{"number":"+31612345679"}],"body":{"content":"Hello"},"allowedChannels":["Whatsapp","SMS"]"#,
        ),
        &Channel::ALL,
    );
    assert_eq!(outcomes.len(), 2);
    let RecipientOutcome::Accepted(message) = &outcomes[1] else {
        panic!()
    };
    assert_eq!(message.recipient, "+31612345679");
    assert_eq!(message.channels, vec![Channel::WhatsApp, Channel::Sms]);
    assert_eq!(message.parts, 1);
    assert_eq!(
        message.valid_until,
        "2026-01-02T00:00:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn per_message_rules() {
    let all = &Channel::ALL;
    let cases: &[(&str, (u32, &str))] = &[
        (
            r#""to":[{"number":"0031612345678"}],"body":{"content":"x"}"#,
            (301, "No FROM field found in a MSG object."),
        ),
        (
            r#""from":"a","to":{"number":"0031612345678"},"body":{"content":"x"}"#,
            (302, "to object is an invalid type, must be an array"),
        ),
        (
            r#""from":"a","to":[{"number":""}],"body":{"content":"x"}"#,
            (302, "Empty mobilenumber field, MT ignored"),
        ),
        (
            r#""from":"a","to":[{"number":"0044791112345a"}],"body":{"content":"x"}"#,
            (303, "Gsm '0044791112345a' is not a number."),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}]"#,
            (304, "No body field was found"),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":""}"#,
            (304, "A body without content was found"),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"reference":"has space"#,
            (
                305,
                "reference must be 1 to 32 characters: letters, digits, '-' or '_'",
            ),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"allowedChannels":["Push"]"#,
            (305, "appKey is required for the Push channel"),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"allowedChannels":["Voice"]"#,
            (305, "Message is unroutable."),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"validity":"soon""#,
            (
                305,
                "validity 'soon' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'",
            ),
        ),
        (
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"dcs":300"#,
            (305, "dcs must be between 0 and 255"),
        ),
    ];
    for (fields, (code, text)) in cases {
        let body = msg(fields).replace("\"has space", "\"has space\"");
        let outcomes = judge(&body, all);
        assert_eq!(
            rejection(&outcomes[0]),
            (*code, text.to_string()),
            "{fields}"
        );
    }
}

#[test]
fn a_channel_the_account_lacks_is_unroutable() {
    let outcomes = judge(
        &msg(
            r#""from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"},"allowedChannels":["WhatsApp"]"#,
        ),
        &[Channel::Sms],
    );
    assert_eq!(
        rejection(&outcomes[0]),
        (305, "Message is unroutable.".into())
    );
}

#[test]
fn response_status_follows_the_spec() {
    let mixed = judge(
        r#"{"messages":{"msg":[{"from":"a","to":[{"number":"0031612345678"}],"body":{"content":"x"}},
            {"from":"a","to":[{"number":"0031612345679"}],"body":{"content":""}}]}}"#,
        &Channel::ALL,
    );
    let (results, accepted) = results_and_accepted(mixed);
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        results,
        vec![
            RecipientResult::Accepted {
                id: MessageId(uuid::Uuid::from_u128(1)),
                to: "0031612345678".into(),
                reference: None,
                parts: 1,
            },
            RecipientResult::Rejected {
                to: "0031612345679".into(),
                reference: None,
                rejection: Rejection::EmptyBody,
            },
        ]
    );
    let (status, response) = respond(results.clone());
    assert_eq!(
        (status, response.error_code, response.details.as_str()),
        (200, 201, "Created 1 message(s)")
    );
    assert_eq!(
        response.messages[0].message_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    let (status, response) = respond(results[1..].to_vec());
    assert_eq!(
        (status, response.error_code, response.details.as_str()),
        (400, 201, "Created 0 message(s)")
    );
    let (status, response) = respond(results[..1].to_vec());
    assert_eq!((status, response.error_code), (200, 0));
}

#[test]
fn request_level_rules() {
    assert_eq!(product_token(None), Err(RequestError::InvalidProductToken));
    assert_eq!(
        product_token(Some("abc")),
        Err(RequestError::InvalidProductToken)
    );
    assert!(product_token(Some("00000000-0000-0000-0000-000000000000")).is_ok());
    let limits = RequestLimits::default();
    let empty = parse_submit(br#"{"messages":{"msg":[]}}"#).unwrap();
    assert_eq!(messages(&empty, &limits), Err(RequestError::NoMsg));
    let object = parse_submit(br#"{"messages":{"msg":{}}}"#).unwrap();
    assert_eq!(messages(&object, &limits), Err(RequestError::MsgNotArray));
}

#[test]
fn msgs_and_recipients_per_request_are_bounded() {
    let limits = RequestLimits {
        max_msgs_per_request: 2,
        max_recipients_per_request: 3,
        ..RequestLimits::default()
    };
    let request = |msgs: usize, numbers: usize| {
        let to = vec![r#"{"number":"0031612345678"}"#; numbers].join(",");
        let one = format!(r#"{{"from":"a","to":[{to}],"body":{{"content":"x"}}}}"#);
        let body = format!(
            r#"{{"messages":{{"msg":[{}]}}}}"#,
            vec![one; msgs].join(",")
        );
        parse_submit(body.as_bytes()).unwrap()
    };
    assert_eq!(messages(&request(2, 1), &limits).map(<[_]>::len), Ok(2));
    assert_eq!(
        messages(&request(3, 1), &limits),
        Err(RequestError::TooManyMsgs { limit: 2 })
    );
    assert_eq!(messages(&request(1, 3), &limits).map(<[_]>::len), Ok(1));
    assert_eq!(
        messages(&request(2, 2), &limits),
        Err(RequestError::TooManyRecipients { limit: 3 })
    );
}

#[test]
fn the_recipients_of_a_msg_share_one_content() {
    let outcomes = judge(
        &msg(
            r#""from":"a","to":[{"number":"0031612345678"},{"number":"0031612345679"}],"body":{"content":"shared"},"customGrouping":"g""#,
        ),
        &Channel::ALL,
    );
    let [
        RecipientOutcome::Accepted(first),
        RecipientOutcome::Accepted(second),
    ] = &outcomes[..]
    else {
        panic!("{outcomes:?}");
    };
    assert!(Arc::ptr_eq(&first.content, &second.content));
    assert_eq!(first.content.body, "shared");
    assert_eq!(first.content.custom_groupings[0].as_deref(), Some("g"));
}

#[test]
fn texts_are_bounded_by_every_channel_the_message_may_travel_on() {
    let limits = RequestLimits::default();
    let judge_with = |body: &str, channels: &str, rich: &str| {
        let request = format!(
            r#"{{"messages":{{"msg":[{{"from":"a","to":[{{"number":"0031612345678"}}],"body":{{"content":"{body}"}},"allowedChannels":{channels},"appKey":"k"{rich}}}]}}}}"#
        );
        let request = parse_submit(request.as_bytes()).unwrap();
        validate(
            messages(&request, &limits).unwrap(),
            &account(&Channel::ALL),
            "2026-01-01T00:00:00Z".parse().unwrap(),
            &SubmissionPolicy::default(),
            &SequentialIds::default(),
            Surface::Json,
        )
    };
    let at = |n: usize| "é".repeat(n);
    for (channel, limit) in [("WhatsApp", 4096), ("RCS", 3072), ("Viber", 1000)] {
        let channels = format!(r#"["{channel}"]"#);
        assert!(
            matches!(
                judge_with(&at(limit), &channels, "")[0],
                RecipientOutcome::Accepted(_)
            ),
            "{channel} at its limit: {:?}",
            judge_with(&at(limit), &channels, "")
        );
        let outcomes = judge_with(&at(limit + 1), &channels, "");
        let (code, text) = rejection(&outcomes[0]);
        assert_eq!(code, 304, "{channel}");
        assert!(text.contains(&limit.to_string()), "{text}");
        // A rich text part counts too.
        let rich = format!(
            r#","richContent":{{"conversation":[{{"text":"{}"}}]}}"#,
            "a".repeat(limit + 1)
        );
        let (code, text) = rejection(&judge_with("x", &channels, &rich)[0]);
        assert_eq!(
            (code, text.contains(&limit.to_string())),
            (304, true),
            "{text}"
        );
    }
    // SMS alone keeps its part rule: 5000 characters are 33 parts, accepted.
    assert!(matches!(
        judge_with(
            &"a".repeat(5000),
            r#"["SMS"]"#,
            r#","maximumNumberOfMessageParts":40"#
        )[0],
        RecipientOutcome::Accepted(_)
    ));
    // Push counts bytes of the body and the rich content.
    assert!(matches!(
        judge_with(&"a".repeat(4096), r#"["Push"]"#, "")[0],
        RecipientOutcome::Accepted(_)
    ));
    let (code, text) = rejection(&judge_with(&at(2049), r#"["Push"]"#, "")[0]);
    assert_eq!((code, text.contains("4096")), (304, true), "{text}");
}

#[test]
fn too_many_parts_is_rejected_with_the_count() {
    let long = "a".repeat(161);
    let outcomes = judge(
        &msg(&format!(
            r#""from":"a","to":[{{"number":"0031612345678"}}],"body":{{"content":"{long}"}},"maximumNumberOfMessageParts":1"#
        )),
        &Channel::ALL,
    );
    let (code, text) = rejection(&outcomes[0]);
    assert_eq!(code, 305);
    assert!(text.contains('2') && text.contains('1'), "{text}");
}

#[test]
fn routes_keep_the_routable_channels_and_refuse_a_message_with_none() {
    use crate::routing::{RouteRule, RoutingTable};
    let routes = RoutingTable::configured(
        vec![RouteRule::new(Channel::Sms, vec!["op-a".into()]).for_destination_prefix("0031")],
        "simulator".into(),
    )
    .unwrap();
    let policy = SubmissionPolicy {
        price_per_part: "0.10".parse().unwrap(),
        ..SubmissionPolicy::default()
    };
    let all = [Channel::Sms, Channel::WhatsApp];
    let long = "x".repeat(200);
    let outcomes = keep_routable(
        judge(
            &format!(
                r#"{{"messages":{{"msg":[
                {{"from":"a","to":[{{"number":"0031612345678"}},{{"number":"0032471234567"}}],"body":{{"content":"{long}"}},"reference":"r1"}},
                {{"from":"a","to":[{{"number":"0032471234567"}}],"body":{{"content":"{long}"}},"allowedChannels":["SMS","WhatsApp"]}}
            ]}}}}"#
            ),
            &all,
        ),
        &routes,
        &policy,
    );
    assert_eq!(outcomes.len(), 3);
    let RecipientOutcome::Accepted(nl) = &outcomes[0] else {
        panic!("{:?}", outcomes[0]);
    };
    assert_eq!(nl.channels, [Channel::Sms]);
    assert_eq!(nl.parts, 2);
    assert_eq!(
        outcomes[1],
        RecipientOutcome::Rejected {
            to: "0032471234567".into(),
            reference: Some("r1".into()),
            rejection: Rejection::Unroutable,
        }
    );
    assert_eq!(
        rejection(&outcomes[1]),
        (305, "Message is unroutable.".into())
    );
    // SMS has no route to 0032, WhatsApp (no routes configured) does: it keeps WhatsApp alone,
    // one part at one part's price.
    let RecipientOutcome::Accepted(be) = &outcomes[2] else {
        panic!("{:?}", outcomes[2]);
    };
    assert_eq!(be.channels, [Channel::WhatsApp]);
    assert_eq!(be.parts, 1);
    assert_eq!(be.price, "0.10".parse().unwrap());
}
