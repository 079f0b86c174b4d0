use super::*;
use serde_json::json;
use tern_proto::fcm::ErrorResponse;

const ID: &str = "0195d3b2-c4e4-7a1b-9c3f-00112233aabb";

fn content(body: &str, rich: Option<Value>) -> Content {
    Content {
        from: "Tern".into(),
        body: body.into(),
        body_type: None,
        dcs: None,
        app_key: Some("0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d".into()),
        rich_content: rich.map(|rich| rich.to_string()),
        custom_groupings: [None, None, None],
        udh: None,
    }
}

fn id() -> MessageId {
    MessageId::parse(ID).unwrap()
}

fn payload(body: &str, rich: Option<Value>) -> Value {
    serde_json::from_str(&payload_for(&content(body, rich), id()).unwrap().to_json()).unwrap()
}

fn installation(token: &str, os: &str) -> Installation {
    Installation {
        id: InstallationId::generate(),
        app_key: AppKey::generate(),
        device: Registration {
            push_token: token.into(),
            device_os: os.into(),
            msisdn: Some("0031612345678".into()),
            ..Registration::default()
        },
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

#[test]
fn guids_parse_in_dotnets_forms_and_print_canonically() {
    let key: AppKey = "{0A9D1C3E-5B7F-4E2A-8C6D-1F3B5A7C9E0D}".parse().unwrap();
    assert_eq!(key.to_string(), "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d");
    assert_eq!(
        "0a9d1c3e5b7f4e2a8c6d1f3b5a7c9e0d"
            .parse::<InstallationId>()
            .unwrap()
            .to_string(),
        "0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d"
    );
    assert_eq!("nope".parse::<AppKey>(), Err(NotAGuid("nope".into())));
    assert_ne!(AppKey::generate(), AppKey::generate());
}

#[test]
fn a_plain_body_is_the_payloads_body() {
    assert_eq!(
        payload("Hello", None),
        json!({"messageId": ID, "body": "Hello", "suggestions": []})
    );
    assert_eq!(
        payload_for(&content("  ", None), id()),
        Err(PushContentError::NoContent)
    );
}

#[test]
fn conversation_parts_make_title_body_media_and_suggestions() {
    let rich = json!({
        "conversation": [
            {"text": "First"},
            {"media": {"mediaName": "cm.com", "mediaUri": "https://x/i.png", "mimeType": "image/png"}},
            {"text": "Second"},
            {"media": {"mediaUri": "https://x/ignored.png"}},
        ],
        "suggestions": [
            {"action": "Reply", "label": "Yes", "postbackdata": "yes"},
            {"action": "reply", "label": "No"},
            {"action": "openUrl", "label": "Site", "url": "https://cm.com"},
            {"action": "ViewLocation", "label": "HQ", "viewLocation": {"latitude": "51.6", "longitude": "4.77"}},
            {"action": "Dial", "label": "Call", "dial": {"phoneNumber": "+31612345678"}},
            {"action": "CreateCalendarEvent", "label": "Meet", "calendar": {"title": "Demo", "startTime": "2026-12-01T10:00:00Z", "endTime": "2026-12-01T11:00:00Z"}},
        ]
    });
    assert_eq!(
        payload("ignored", Some(rich)),
        json!({
            "messageId": ID,
            "body": "First\n\nSecond\n\nCall: +31612345678\nMeet: Demo, 2026-12-01T10:00:00Z - 2026-12-01T11:00:00Z",
            "media": {"mediaName": "cm.com", "mediaUri": "https://x/i.png", "mimeType": "image/png"},
            "suggestions": [
                {"action": "Reply", "label": "Yes", "postbackData": "yes"},
                {"action": "Reply", "label": "No", "postbackData": "No"},
                {"action": "OpenUrl", "label": "Site", "url": "https://cm.com"},
                {"action": "OpenUrl", "label": "HQ", "url": "https://maps.google.com/?q=51.6,4.77"},
            ]
        })
    );
}

#[test]
fn a_rich_card_gives_title_text_media_and_its_suggestions() {
    let rich = json!({"conversation": [{"richCard": {
        "header": "Sale", "text": "50% off",
        "media": {"mediaName": "p", "mediaUri": "https://x/p.jpg", "mimeType": "image/jpeg"},
        "suggestions": [{"action": "OpenUrl", "label": "Shop", "url": "https://shop"}]
    }}]});
    assert_eq!(
        payload("fallback text", Some(rich)),
        json!({
            "messageId": ID, "title": "Sale", "body": "50% off",
            "media": {"mediaName": "p", "mediaUri": "https://x/p.jpg", "mimeType": "image/jpeg"},
            "suggestions": [{"action": "OpenUrl", "label": "Shop", "url": "https://shop"}]
        })
    );
}

#[test]
fn parts_push_cannot_show_make_the_message_fall_back() {
    for part in [
        json!({"location": {"latitude": 1, "longitude": 2}}),
        json!({"contacts": [{"name": {"formatted_name": "A"}}]}),
        json!({"template": {"whatsapp": {}}}),
        json!({"interactive": {"type": "button"}}),
        json!({"text": "hi", "location": {"latitude": 1, "longitude": 2}}),
        json!("text"),
        json!({}),
    ] {
        let rich = json!({"conversation": [{"text": "ok"}, part]});
        assert_eq!(
            payload_for(&content("b", Some(rich)), id()),
            Err(PushContentError::UnsupportedPart { part: 1 }),
        );
    }
    assert_eq!(
        payload_for(&content("b", Some(json!([1]))), id()),
        Err(PushContentError::InvalidRichContent)
    );
    assert_eq!(PushContentError::NoContent.delivery_error().code(), 20);
}

#[test]
fn each_installation_gets_a_data_message_to_its_token() {
    let installations = [
        installation("tok-a", "Android"),
        installation("tok-i", "iOS"),
    ];
    let requests = messages_for(
        &content("Hello", None),
        id(),
        &installations,
        Some(Duration::from_secs(3600)),
    )
    .unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].0, installations[0].id);
    assert_eq!(requests[1].0, installations[1].id);
    assert!(installations[1].is_ios() && !installations[0].is_ios());
    let cm = format!(r#"{{"messageId":"{ID}","body":"Hello","suggestions":[]}}"#);
    assert_eq!(
        serde_json::from_str::<Value>(&requests[0].1.to_json()).unwrap(),
        json!({"message": {
            "token": "tok-a",
            "data": {"cm": cm},
            "android": {"priority": "HIGH", "ttl": "3600s"},
            "apns": {
                "headers": {"apns-priority": "10", "apns-push-type": "alert"},
                "payload": {"aps": {"alert": {"body": "Hello"}, "mutable-content": 1, "sound": "default"}}
            }
        }})
    );
    assert_eq!(requests[1].1.message.token.as_deref(), Some("tok-i"));
    assert!(requests[0].1.message.notification.is_none());
}

#[test]
fn a_payload_over_4096_bytes_is_refused() {
    // The `cm` key and value plus the alert's body (the body counts twice): the longest body
    // that fits, and one byte more.
    let fits = |n: usize| {
        let payload = payload_for(&content(&"x".repeat(n), None), id()).unwrap();
        fcm_message(&payload, "t", None)
    };
    let base = {
        let payload = payload_for(&content("x", None), id()).unwrap();
        payload_bytes(&payload, &payload.to_json()) - 2
    };
    let longest = (MAX_PAYLOAD_BYTES - base) / 2;
    assert!(fits(longest).is_ok());
    assert_eq!(
        fits(longest + 1),
        Err(PushContentError::TooLarge {
            bytes: base + 2 * (longest + 1),
            limit: 4096
        })
    );
}

fn error(body: &str) -> GoogleError {
    ErrorResponse::parse(body.as_bytes()).unwrap().error
}

fn fcm_error(http: u16, status: &str, message: &str, code: &str) -> GoogleError {
    GoogleError::fcm(http, status, message, code)
}

#[test]
fn fcm_errors_are_classed_by_the_table() {
    let gone = PushErrorClass {
        class: ErrorClass::FallBack {
            error: DeliveryError::IncorrectRecipientNumber,
        },
        remove_installation: true,
    };
    let cases = [
        (
            fcm_error(
                404,
                "NOT_FOUND",
                "Requested entity was not found.",
                "UNREGISTERED",
            ),
            404,
            gone,
        ),
        (
            fcm_error(
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                "SENDER_ID_MISMATCH",
            ),
            403,
            gone,
        ),
        (
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            ),
            400,
            gone,
        ),
        (
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                "INVALID_ARGUMENT",
            ),
            400,
            PushErrorClass {
                class: ErrorClass::FallBack {
                    error: DeliveryError::MalformedRequest,
                },
                remove_installation: false,
            },
        ),
        (
            fcm_error(
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                "THIRD_PARTY_AUTH_ERROR",
            ),
            401,
            PushErrorClass {
                class: ErrorClass::Configuration,
                remove_installation: false,
            },
        ),
        (
            error(
                r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
            ),
            401,
            PushErrorClass {
                class: ErrorClass::Configuration,
                remove_installation: false,
            },
        ),
        (
            error(
                r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#,
            ),
            404,
            PushErrorClass {
                class: ErrorClass::Configuration,
                remove_installation: false,
            },
        ),
    ];
    for (error, http, expected) in cases {
        assert_eq!(classify(&error, http, None), expected, "{error:?}");
    }
}

#[test]
fn throttling_and_outages_retry_after_what_fcm_asks() {
    let wait = Some(Duration::from_secs(30));
    for (code, http) in [
        ("QUOTA_EXCEEDED", 429),
        ("UNAVAILABLE", 503),
        ("INTERNAL", 500),
    ] {
        let class = classify(&fcm_error(http, "X", "m", code), http, wait);
        assert_eq!(
            class,
            PushErrorClass {
                class: ErrorClass::Retry { after: wait },
                remove_installation: false
            },
            "{code}"
        );
    }
    assert_eq!(classify_status(502), ErrorClass::Retry { after: None });
    assert_eq!(
        classify_status(418),
        ErrorClass::FallBack {
            error: NOT_DELIVERED_ERROR
        }
    );
    // An unknown FCM code goes by its HTTP status.
    assert_eq!(
        classify(&fcm_error(503, "X", "m", "BRAND_NEW"), 503, None).class,
        ErrorClass::Retry { after: None }
    );
}

#[test]
fn every_table_code_is_one_fcm_knows() {
    for row in ERROR_TABLE {
        assert!(
            !matches!(FcmErrorCode::parse(row.code), FcmErrorCode::Other(_)),
            "{}",
            row.code
        );
        assert_eq!(
            error_row(&FcmErrorCode::parse(row.code), row.remove_installation).map(|r| r.meaning),
            Some(row.meaning)
        );
    }
}

#[test]
fn the_sends_to_several_installations_come_to_one_outcome() {
    let gone = SendOutcome::Failed(ErrorClass::FallBack {
        error: NO_INSTALLATION_ERROR,
    });
    let retry = |secs| {
        SendOutcome::Failed(ErrorClass::Retry {
            after: Some(Duration::from_secs(secs)),
        })
    };
    let config = SendOutcome::Failed(ErrorClass::Configuration);
    assert_eq!(
        overall(&[gone, SendOutcome::Accepted]),
        SendOutcome::Accepted
    );
    assert_eq!(overall(&[gone, retry(5), retry(30)]), retry(30));
    assert_eq!(overall(&[gone, config]), config);
    assert_eq!(overall(&[gone, gone]), gone);
    assert_eq!(overall(&[]), gone);
    assert_eq!(NO_INSTALLATION_ERROR.code(), 23);
    assert_eq!(UNCONFIRMED_ERROR.code(), 24);
    assert_eq!(
        confirm_deadline(Timestamp::UNIX_EPOCH, 60),
        Timestamp::UNIX_EPOCH + Duration::from_secs(60)
    );
}

#[test]
fn a_message_names_its_app_and_recipient_as_installations_are_kept() {
    let mut message = content("b", None);
    assert_eq!(
        app_key_of(&message).map(|key| key.to_string()).as_deref(),
        Some("0a9d1c3e-5b7f-4e2a-8c6d-1f3b5a7c9e0d")
    );
    message.app_key = Some("{0A9D1C3E-5B7F-4E2A-8C6D-1F3B5A7C9E0D}".into());
    assert!(app_key_of(&message).is_some());
    message.app_key = Some("my-app".into());
    assert_eq!(app_key_of(&message), None);
    message.app_key = None;
    assert_eq!(app_key_of(&message), None);
    assert_eq!(
        recipient_msisdn("+31612345678").as_deref(),
        Some("0031612345678")
    );
    assert_eq!(
        recipient_msisdn("0031612345678").as_deref(),
        Some("0031612345678")
    );
    assert_eq!(recipient_msisdn("0612345678"), None);
}

#[test]
fn a_confirmation_names_the_message_and_the_send_it_confirms() {
    let id = MessageId::generate();
    let place = ConfirmationRef {
        message_id: id,
        attempt: 3,
    };
    assert_eq!(place.render(), format!("{id}:3"));
    assert_eq!(ConfirmationRef::parse(&place.render()), Some(place));
    for text in [
        id.to_string(),
        format!("{id}:"),
        format!("{id}:x"),
        format!("{id}:-1"),
        "not-a-message:1".to_owned(),
        String::new(),
    ] {
        assert_eq!(ConfirmationRef::parse(&text), None, "{text}");
    }
    assert_eq!(
        place.delivered(),
        Event::ChannelReport {
            attempt: 3,
            status: CmStatus::Delivered,
            error_code: None,
            operator: None,
            detail: None,
        }
    );
    let Event::ChannelReport {
        attempt,
        status,
        error_code,
        ..
    } = place.unconfirmed(60)
    else {
        panic!("a report");
    };
    assert_eq!(
        (attempt, status, error_code.map(|e| e.code())),
        (3, CmStatus::Failed, Some(24))
    );
}
