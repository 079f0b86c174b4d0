//! Property tests over arbitrary request text for every tern-core function that reads it:
//! validity, recipient numbers, senders, references, custom groupings, channel names, body types,
//! rich content, conversion timestamps and numbers. None may panic (a panic is a 500 for JSON
//! clients and a wrong body for XML and GET clients), and each answers with a rejection or a value
//! within its documented bounds.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use tern_core::account::{Account, ReportFormat, TokenHash};
use tern_core::channel::Channel;
use tern_core::conversion;
use tern_core::error_code::Surface;
use tern_core::submission::{self, RecipientOutcome, SubmissionPolicy};
use tern_core::submitter::TimeOrderedIds;
use tern_core::validity::{self, MAX_VALIDITY};
use tern_proto::cm::conversion::ConversionRequest;
use tern_proto::cm::json::parse_submit;
use tern_proto::cm::submission::{SubmittedBody, SubmittedMsg};

fn now() -> Timestamp {
    "2026-03-29T00:30:00Z".parse().unwrap()
}

fn account() -> Account {
    Account {
        id: 1,
        name: "test".into(),
        token_hash: TokenHash([0; 32]),
        balance: None,
        status_url: None,
        status_format: ReportFormat::Json,
        inbound_url: None,
        inbound_numbers: Vec::new(),
        channels: Channel::ALL.to_vec(),
        smpp: None,
        created_at: Timestamp::UNIX_EPOCH,
        disabled: false,
        webhook_secrets: Default::default(),
    }
}

/// Any text, with a bias towards the shapes the parsers look for (digits, signs, units, dates,
/// multi-byte characters at the edges).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9+ :TZ-]{0,30}[hHmMé€]?",
        "20[0-9]{2}-[0-1][0-9]-[0-3][0-9][ T][0-2][0-9]:[0-5][0-9](:[0-5][0-9])?( GMT|Z|[+-][0-9]{1,4}|[+-][0-9]{2}:[0-9]{2}|.)?",
        "[+0]{0,2}[0-9]{0,22}.?",
        "\\PC{0,40}",
    ]
}

fn judge(msg: SubmittedMsg) -> Vec<RecipientOutcome> {
    submission::validate(
        &[msg],
        &account(),
        now(),
        &SubmissionPolicy::default(),
        &TimeOrderedIds,
        Surface::Json,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn validity_never_panics_and_stays_within_72_hours(text in text()) {
        if let Ok(until) = validity::valid_until(Some(&text), now()) {
            prop_assert!(until <= now() + MAX_VALIDITY);
        }
    }

    #[test]
    fn every_text_field_of_a_msg_is_judged_without_panicking(
        from in text(),
        numbers in proptest::collection::vec(text(), 0..4),
        content in text(),
        body_type in text(),
        reference in text(),
        groupings in proptest::array::uniform3(text()),
        validity in text(),
        channels in proptest::collection::vec(
            prop_oneof![text(), Just("SMS".to_owned()), Just("WhatsApp".to_owned()), Just("Push".to_owned())], 0..3),
        app_key in text(),
    ) {
        let recipients = numbers.len().max(1);
        let msg = SubmittedMsg {
            from: Ok(Some(from)),
            to: Ok(Some(numbers.into_iter().map(|n| Ok(Some(n))).collect())),
            body: Ok(Some(SubmittedBody { content: Ok(Some(content)), body_type: Ok(Some(body_type)) })),
            reference: Ok(Some(reference)),
            custom_groupings: groupings.map(|g| Ok(Some(g))),
            validity: Ok(Some(validity)),
            allowed_channels: Ok(Some(channels)),
            app_key: Ok(Some(app_key)),
            ..SubmittedMsg::default()
        };
        let outcomes = judge(msg);
        prop_assert_eq!(outcomes.len(), recipients);
        for outcome in &outcomes {
            if let RecipientOutcome::Accepted(message) = outcome {
                prop_assert!(message.valid_until <= now() + MAX_VALIDITY);
                prop_assert!(message.valid_until >= now() - SignedDuration::from_hours(24 * 365 * 100));
                prop_assert!(message.parts >= 1);
            }
        }
    }

    #[test]
    fn rich_content_of_any_shape_is_judged_without_panicking(rich in json_value(4)) {
        let body = serde_json::json!({"messages": {"msg": [{
            "from": "Tern", "to": [{"number": "0031612345678"}], "body": {"content": "x"},
            "allowedChannels": ["WhatsApp", "RCS", "Viber", "Apple Business Chat", "Push", "SMS"],
            "appKey": "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d",
            "richContent": rich,
        }]}});
        let request = parse_submit(body.to_string().as_bytes()).unwrap();
        let msgs = submission::messages(&request, &Default::default()).unwrap();
        let outcomes = submission::validate(
            msgs,
            &account(),
            now(),
            &SubmissionPolicy::default(),
            &TimeOrderedIds,
            Surface::Json,
        );
        prop_assert_eq!(outcomes.len(), 1);
    }

    #[test]
    fn conversion_fields_never_panic(msisdn in text(), reference in text(), converted in text()) {
        let request = ConversionRequest {
            product_token: None,
            login_authentication: false,
            msisdn: Some(msisdn.clone()),
            reference: Some(reference),
            converted_timestamp: Some(converted),
        };
        let _ = conversion::validate(&request, now());
        let forms = conversion::number_forms(&msisdn);
        prop_assert!(!forms.is_empty() && forms.len() <= 2);
    }
}

/// Any JSON value up to `depth`, with the rich-content field names likely to appear as keys.
fn json_value(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        text(),
        proptest::sample::select(vec![
            "conversation",
            "suggestions",
            "$type",
            "text",
            "media",
            "mediaUri",
            "mimeType",
            "mediaName",
            "location",
            "latitude",
            "longitude",
            "label",
            "action",
            "url",
            "postbackdata",
            "calendar",
            "startTime",
            "endTime",
            "template",
            "whatsapp",
            "contacts",
            "interactive",
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(depth, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}
