use super::*;
use crate::ports::ErrorOrigin;
use tern_proto::whatsapp::Notification;

const ID: &str = "0195d3b2-c4e4-7a1b-9c3f-00112233aabb";

fn content(body: &str, rich: Option<serde_json::Value>) -> Content {
    Content {
        from: "Tern".into(),
        body: body.into(),
        body_type: None,
        dcs: None,
        app_key: None,
        rich_content: rich.map(|rich| rich.to_string()),
        custom_groupings: [None, None, None],
        udh: None,
    }
}

/// The JSON of each request for `rich` (with body `body`) to `+31612345678`.
/// (Each request's `biz_opaque_callback_data` is the message id alone here; what it really
/// holds is [`every_request_names_its_message_attempt_and_place`]'s business.)
fn rendered(body: &str, rich: Option<serde_json::Value>) -> Vec<String> {
    requests_for(
        &content(body, rich),
        "+31612345678",
        MessageId::parse(ID).unwrap(),
        1,
    )
    .unwrap()
    .into_iter()
    .map(|mut request| {
        request.biz_opaque_callback_data = Some(ID.to_owned());
        request.to_json()
    })
    .collect()
}

fn error(body: &str, rich: serde_json::Value) -> WhatsAppContentError {
    requests_for(
        &content(body, Some(rich)),
        "0031612345678",
        MessageId::parse(ID).unwrap(),
        1,
    )
    .unwrap_err()
}

const HEAD: &str =
    r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"31612345678","#;
const TAIL: &str = r#","biz_opaque_callback_data":"0195d3b2-c4e4-7a1b-9c3f-00112233aabb"}"#;

fn request(middle: &str) -> String {
    format!("{HEAD}{middle}{TAIL}")
}

#[test]
fn a_plain_body_is_one_text_message() {
    assert_eq!(
        rendered("Hello", None),
        [request(
            r#""type":"text","text":{"body":"Hello","preview_url":false}"#
        )]
    );
}

#[test]
fn numbers_lose_their_plus_or_double_zero() {
    assert_eq!(
        whatsapp_number("0031612345678").as_deref(),
        Some("31612345678")
    );
    assert_eq!(
        whatsapp_number("+31612345678").as_deref(),
        Some("31612345678")
    );
    assert_eq!(
        whatsapp_number(" 31612345678 ").as_deref(),
        Some("31612345678")
    );
    for bad in [
        "",
        "+",
        "00",
        "0612345678",
        "+31 6123",
        "31-612",
        "1234567890123456",
    ] {
        assert_eq!(whatsapp_number(bad), None, "{bad}");
    }
    assert_eq!(
        requests_for(&content("x", None), "abc", MessageId::parse(ID).unwrap(), 1),
        Err(WhatsAppContentError::InvalidRecipient("abc".into()))
    );
}

#[test]
fn each_conversation_part_is_one_request_in_order() {
    let rich = json!({"conversation":[
        {"text":"Look"},
        {"media":{"mediaName":"photo","mediaUri":"https://x/y.jpg","mimeType":"image/jpeg"}},
        {"media":{"mediaName":"clip","mediaUri":"https://x/v.mp4","mimeType":"video/mp4"}},
        {"Media":{"MediaUri":"https://x/a.ogg","MimeType":"audio/ogg"}},
        {"media":{"mediaName":"f.pdf","mediaUri":"https://x/f.pdf","mimeType":"application/pdf"}},
        {"media":{"mediaName":"f.docx","mediaUri":"https://x/f.docx","mimeType":"document/docx"}},
        {"location":{"latitude":"51.6","longitude":4.77,"label":"CM HQ","searchQuery":"Konijnenberg 30"}},
        {"location":{"label":"CM","searchQuery":"Breda"}},
        {"contacts":[{"name":{"formatted_name":"Ann B","first_name":"Ann"},
            "phones":[{"phone":"+31612345678","type":"CELL","wa_id":"31612345678"}]}]}
    ]});
    assert_eq!(
        rendered("SMS text, not sent", Some(rich)),
        [
            request(r#""type":"text","text":{"body":"Look","preview_url":false}"#),
            request(r#""type":"image","image":{"link":"https://x/y.jpg"}"#),
            request(r#""type":"video","video":{"link":"https://x/v.mp4"}"#),
            request(r#""type":"audio","audio":{"link":"https://x/a.ogg"}"#),
            request(
                r#""type":"document","document":{"link":"https://x/f.pdf","filename":"f.pdf"}"#
            ),
            request(
                r#""type":"document","document":{"link":"https://x/f.docx","filename":"f.docx"}"#
            ),
            request(
                r#""type":"location","location":{"latitude":51.6,"longitude":4.77,"name":"CM HQ","address":"Konijnenberg 30"}"#
            ),
            request(r#""type":"text","text":{"body":"CM\nBreda","preview_url":false}"#),
            request(
                r#""type":"contacts","contacts":[{"name":{"first_name":"Ann","formatted_name":"Ann B"},"phones":[{"phone":"+31612345678","type":"CELL","wa_id":"31612345678"}]}]"#
            ),
        ]
    );
}

#[test]
fn media_kinds_follow_the_mime_type() {
    for (mime, kind) in [
        ("image/png", "image"),
        ("IMAGE/JPEG", "image"),
        ("video/mp4", "video"),
        ("audio/mpeg", "audio"),
        ("application/pdf", "document"),
        ("document/xlsx", "document"),
        ("imagery/x", "document"),
        ("", "document"),
    ] {
        assert_eq!(media_kind(mime), kind, "{mime}");
    }
}

#[test]
fn templates_drop_the_namespace_and_convert_media_parameters() {
    let rich = json!({"conversation":[{"template":{"whatsapp":{
    "namespace":"ns-1","element_name":"order_update",
    "language":{"policy":"fallback","code":"en_US"},
    "components":[
        {"type":"header","parameters":[{"type":"image","media":{"mediaName":"h","mediaUri":"https://x/h.jpg","mimeType":"image/jpeg"}}]},
        {"type":"body","parameters":[{"type":"text","text":"Ann"},
            {"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1000}}]},
        {"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload","payload":"YES"}]}
    ]}}}]});
    assert_eq!(
        rendered("", Some(rich)),
        [request(
            r#""type":"template","template":{"name":"order_update","language":{"policy":"deterministic","code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://x/h.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"currency","currency":{"amount_1000":1000,"code":"USD","fallback_value":"$1"}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"YES"}]}]}"#
        )]
    );
}

#[test]
fn old_localizable_params_become_body_text_parameters() {
    let rich = json!({"conversation":[{"template":{"whatsapp":{
        "namespace":"ns","element_name":"hello","language":{"policy":"deterministic","code":"nl"},
        "localizable_params":[{"default":"Ann"},{"default":42}]}}}]});
    assert_eq!(
        rendered("", Some(rich)),
        [request(
            r#""type":"template","template":{"name":"hello","language":{"policy":"deterministic","code":"nl"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"text","text":"42"}]}]}"#
        )]
    );
}

#[test]
fn interactive_parts_pass_nearly_verbatim() {
    let rich = json!({"conversation":[{"interactive":{"type":"button",
        "header":{"type":"image","media":{"mediaUri":"https://x/h.png","mimeType":"image/png"}},
        "body":{"text":"Pick"},"footer":{"text":"ftr"},
        "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}}]});
    assert_eq!(
        rendered("", Some(rich)),
        [request(
            r#""type":"interactive","interactive":{"type":"button","header":{"type":"image","image":{"link":"https://x/h.png"}},"body":{"text":"Pick"},"footer":{"text":"ftr"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}"#
        )]
    );
    let list = json!({"conversation":[{"interactive":{"type":"list","body":{"text":"Pick"},
        "action":{"button":"Options","sections":[{"title":"S1","rows":[{"id":"r1","title":"Row 1","description":"d"}]}]}}}]});
    assert_eq!(
        rendered("", Some(list)),
        [request(
            r#""type":"interactive","interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"Options","sections":[{"title":"S1","rows":[{"id":"r1","title":"Row 1","description":"d"}]}]}}"#
        )]
    );
    assert!(matches!(
        error(
            "",
            json!({"conversation":[{"interactive":{"type":"button"}}]})
        ),
        WhatsAppContentError::InvalidInteractive { part: 0, .. }
    ));
}

#[test]
fn up_to_three_replies_are_reply_buttons_on_the_last_text() {
    let rich = json!({"conversation":[{"text":"First"},{"text":"Coming?"}],
        "suggestions":[{"action":"Reply","label":"Yes","postbackdata":"yes"},
                       {"action":"reply","label":"No"}]});
    assert_eq!(
        rendered("", Some(rich)),
        [
            request(r#""type":"text","text":{"body":"First","preview_url":false}"#),
            request(
                r#""type":"interactive","interactive":{"type":"button","body":{"text":"Coming?"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"No","title":"No"}}]}}"#
            ),
        ]
    );
}

#[test]
fn four_to_ten_replies_are_a_list() {
    let replies: Vec<_> = (1..=4)
        .map(|n| json!({"action":"Reply","label":format!("Option {n}"),"postbackData":format!("o{n}")}))
        .collect();
    assert_eq!(
        rendered("Choose", Some(json!({"suggestions": replies}))),
        [request(
            r#""type":"interactive","interactive":{"type":"list","body":{"text":"Choose"},"action":{"button":"Options","sections":[{"rows":[{"id":"o1","title":"Option 1"},{"id":"o2","title":"Option 2"},{"id":"o3","title":"Option 3"},{"id":"o4","title":"Option 4"}]}]}}"#
        )]
    );
    let eleven: Vec<_> = (0..11)
        .map(|_| json!({"action":"Reply","label":"x"}))
        .collect();
    assert_eq!(
        error("Choose", json!({"suggestions": eleven})),
        WhatsAppContentError::TooManyReplies {
            count: 11,
            limit: 10
        }
    );
    assert_eq!(
        error(
            "Choose",
            json!({"suggestions":[{"action":"Reply","label":"A label far longer than twenty"}]})
        ),
        WhatsAppContentError::LabelTooLong {
            index: 0,
            label: "A label far longer than twenty".into(),
            limit: 20
        }
    );
}

#[test]
fn reply_labels_are_distinct_and_ids_short_enough() {
    assert_eq!(
        error(
            "Choose",
            json!({"suggestions":[{"action":"Reply","label":"Yes"},{"action":"Reply","label":"Yes","postbackdata":"y2"}]})
        ),
        WhatsAppContentError::DuplicateLabel {
            index: 1,
            label: "Yes".into()
        }
    );
    assert_eq!(
        error(
            "Choose",
            json!({"suggestions":[{"action":"Reply","label":"Yes","postbackdata":"p".repeat(257)}]})
        ),
        WhatsAppContentError::PostbackTooLong {
            index: 0,
            length: 257,
            limit: 256
        }
    );
    let rows: Vec<_> = (0..4)
        .map(
            |n| json!({"action":"Reply","label":format!("Row {n}"),"postbackdata":"p".repeat(201)}),
        )
        .collect();
    assert_eq!(
        error("Choose", json!({"suggestions": rows})),
        WhatsAppContentError::PostbackTooLong {
            index: 0,
            length: 201,
            limit: 200
        }
    );
}

#[test]
fn a_single_open_url_is_a_cta_url_message() {
    let rich = json!({"suggestions":[{"action":"OpenUrl","label":"Open","url":"https://cm.com"}]});
    assert_eq!(
        rendered("Visit", Some(rich)),
        [request(
            r#""type":"interactive","interactive":{"type":"cta_url","body":{"text":"Visit"},"action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://cm.com"}}}"#
        )]
    );
}

#[test]
fn other_suggestions_become_text_lines_and_locations() {
    let rich = json!({"conversation":[{"text":"Hi"}],"suggestions":[
        {"action":"openUrl","label":"Site","url":"https://cm.com"},
        {"action":"Dial","label":"Call","dial":{"phoneNumber":"+31761234567"}},
        {"action":"CreateCalendarEvent","label":"Save","calendar":{"startTime":"2026-12-01T10:00:00","endTime":"2026-12-01T11:00:00","title":"Demo"}},
        {"action":"ViewLocation","label":"HQ","viewLocation":{"latitude":"51.6","longitude":"4.77"}},
        {"action":"Reply","label":"OK"}]});
    assert_eq!(
        rendered("", Some(rich)),
        [
            request(
                r#""type":"interactive","interactive":{"type":"button","body":{"text":"Hi\n\nSite: https://cm.com\nCall: +31761234567\nSave: Demo, 2026-12-01T10:00:00 - 2026-12-01T11:00:00"},"action":{"buttons":[{"type":"reply","reply":{"id":"OK","title":"OK"}}]}}"#
            ),
            request(
                r#""type":"location","location":{"latitude":51.6,"longitude":4.77,"name":"HQ"}"#
            ),
        ]
    );
}

#[test]
fn suggestions_without_a_text_part_go_with_the_body_after_the_parts() {
    let rich = json!({"conversation":[{"media":{"mediaUri":"https://x/y.png","mimeType":"image/png"}}],
        "suggestions":[{"action":"Reply","label":"Yes"}]});
    assert_eq!(
        rendered("Like it?", Some(rich.clone())),
        [
            request(r#""type":"image","image":{"link":"https://x/y.png"}"#),
            request(
                r#""type":"interactive","interactive":{"type":"button","body":{"text":"Like it?"},"action":{"buttons":[{"type":"reply","reply":{"id":"Yes","title":"Yes"}}]}}"#
            ),
        ]
    );
    assert_eq!(
        error("", rich),
        WhatsAppContentError::SuggestionsWithoutText
    );
}

#[test]
fn content_errors_name_the_part() {
    assert_eq!(
        requests_for(
            &content(" ", None),
            "+31612345678",
            MessageId::parse(ID).unwrap(),
            1
        ),
        Err(WhatsAppContentError::NoContent)
    );
    assert_eq!(
        error("x", json!([1])),
        WhatsAppContentError::InvalidRichContent
    );
    assert_eq!(
        requests_for(
            &content("x", None).with_rich("{not json"),
            "+31612345678",
            MessageId::parse(ID).unwrap(),
            1
        ),
        Err(WhatsAppContentError::InvalidRichContent)
    );
    assert_eq!(
        error("x", json!({"conversation":[{"text":"a"},{}]})),
        WhatsAppContentError::UnsupportedPart { part: 1 }
    );
    assert_eq!(
        error(
            "x",
            json!({"conversation":[{"media":{"mimeType":"image/png"}}]})
        ),
        WhatsAppContentError::Missing {
            part: 0,
            field: "media.mediaUri"
        }
    );
    assert_eq!(
        error(
            "x",
            json!({"conversation":[{"location":{"latitude":"91","longitude":"4"}}]})
        ),
        WhatsAppContentError::InvalidCoordinates { part: 0 }
    );
    assert_eq!(
        error("x", json!({"conversation":[{"location":{"label":"x"}}]})),
        WhatsAppContentError::Missing {
            part: 0,
            field: "location.searchQuery"
        }
    );
    assert_eq!(
        error("x", json!({"conversation":[{"contacts":[]}]})),
        WhatsAppContentError::Missing {
            part: 0,
            field: "contacts"
        }
    );
    assert_eq!(
        error(
            "x",
            json!({"conversation":[{"template":{"whatsapp":{"language":{"code":"en"}}}}]})
        ),
        WhatsAppContentError::Missing {
            part: 0,
            field: "template.whatsapp.element_name"
        }
    );
    assert_eq!(
        error("x", json!({"conversation":[{"template":{}}]})),
        WhatsAppContentError::Missing {
            part: 0,
            field: "template.whatsapp"
        }
    );
    assert_eq!(
        error("x", json!({"conversation":[{"text":"a".repeat(4097)}]})),
        WhatsAppContentError::TextTooLong {
            length: 4097,
            limit: 4096
        }
    );
}

impl Content {
    fn with_rich(mut self, rich: &str) -> Content {
        self.rich_content = Some(rich.to_owned());
        self
    }
}

#[test]
fn every_error_row_classifies_as_the_table_says() {
    use DeliveryError::*;
    let retry = ErrorClass::Retry { after: None };
    let config = ErrorClass::Configuration;
    let fall = |error| ErrorClass::FallBack { error };
    let expected = [
        (0, config),
        (1, retry),
        (2, retry),
        (3, config),
        (4, retry),
        (10, config),
        (100, fall(MalformedRequest)),
        (190, config),
        (200, config),
        (250, config),
        (299, config),
        (368, config),
        (80007, retry),
        (130429, retry),
        (130472, fall(NotDeliveredAtThirdParty)),
        (130497, config),
        (131000, retry),
        (131008, fall(MalformedRequest)),
        (131009, fall(MalformedRequest)),
        (131016, retry),
        (131021, fall(IncorrectRecipientNumber)),
        (131026, fall(RecipientUnreachable)),
        (131030, config),
        (131031, config),
        (131047, fall(NotDeliveredAtThirdParty)),
        (131048, fall(ContentNotPermitted)),
        (131049, fall(ContentNotPermitted)),
        (131050, fall(ContentNotPermitted)),
        (131051, fall(MalformedRequest)),
        (131052, fall(MalformedRequest)),
        (131053, fall(MalformedRequest)),
        (
            131056,
            ErrorClass::Retry {
                after: Some(Duration::from_secs(6)),
            },
        ),
        (132000, fall(MalformedRequest)),
        (132001, fall(MalformedRequest)),
        (132005, fall(MalformedRequest)),
        (132007, fall(MalformedRequest)),
        (132008, fall(MalformedRequest)),
        (132012, fall(MalformedRequest)),
        (132015, fall(MalformedRequest)),
        (132016, fall(MalformedRequest)),
        (132999, fall(MalformedRequest)),
        (133010, config),
        (135000, retry),
    ];
    for (code, class) in expected {
        // The HTTP status does not matter for a listed code.
        for http_status in [400, 401, 429, 500] {
            assert_eq!(
                classify_error(code, http_status),
                class,
                "{code} {http_status}"
            );
        }
    }
    // Every row is covered above.
    for row in ERROR_TABLE {
        assert!(
            expected.iter().any(|(code, _)| *code == row.first)
                && expected.iter().any(|(code, _)| *code == row.last),
            "{row:?}"
        );
    }
}

#[test]
fn unlisted_codes_are_classed_by_http_status() {
    let retry = ErrorClass::Retry { after: None };
    assert_eq!(classify_error(999_999, 429), retry);
    assert_eq!(classify_error(999_999, 500), retry);
    assert_eq!(classify_error(999_999, 503), retry);
    assert_eq!(classify_error(999_999, 401), ErrorClass::Configuration);
    assert_eq!(classify_error(999_999, 403), ErrorClass::Configuration);
    assert_eq!(
        classify_error(999_999, 400),
        ErrorClass::FallBack {
            error: DeliveryError::NotDeliveredAtThirdParty
        }
    );
}

#[test]
fn subcodes_and_transience_refine_a_whole_error() {
    let error = |code, subcode, transient| GraphError {
        message: String::new(),
        error_type: "OAuthException".into(),
        code,
        error_subcode: subcode,
        error_data: None,
        fbtrace_id: None,
        is_transient: transient,
        error_user_title: None,
        error_user_msg: None,
    };
    assert_eq!(
        classify(&error(100, Some(33), None), 400),
        ErrorClass::Configuration
    );
    assert_eq!(
        classify(&error(100, Some(2494010), None), 400),
        ErrorClass::FallBack {
            error: DeliveryError::MalformedRequest
        }
    );
    assert_eq!(
        classify(&error(777, None, Some(true)), 400),
        ErrorClass::Retry { after: None }
    );
    // A listed code keeps its row whatever `is_transient` says.
    assert_eq!(
        classify(&error(131026, None, Some(true)), 400),
        ErrorClass::FallBack {
            error: DeliveryError::RecipientUnreachable
        }
    );
}

#[test]
fn classes_become_connector_errors() {
    use crate::ports::ErrorKind;
    let fall = ErrorClass::FallBack {
        error: DeliveryError::RecipientUnreachable,
    }
    .connector_error("131026");
    assert_eq!(
        (fall.origin, fall.kind, fall.error_code),
        (
            ErrorOrigin::Provider,
            ErrorKind::Permanent,
            Some(DeliveryError::RecipientUnreachable)
        )
    );
    let retry = ErrorClass::Retry {
        after: Some(PAIR_RATE_LIMIT_WAIT),
    }
    .connector_error("131056");
    assert_eq!(
        retry.kind,
        ErrorKind::Temporary {
            retry_after: Some(Duration::from_secs(6))
        }
    );
    let config = ErrorClass::Configuration.connector_error("190");
    assert_eq!(
        (config.origin, config.kind, config.error_code),
        (
            ErrorOrigin::Tern,
            ErrorKind::Permanent,
            Some(DeliveryError::NotDeliveredAtThirdParty)
        )
    );
}

fn status(kind: &str, errors: &str) -> Status {
    let body = format!(
        r#"{{"entry":[{{"changes":[{{"field":"messages","value":{{"statuses":[{{"id":"wamid.X","status":"{kind}","timestamp":"1700000000","recipient_id":"31612345678","biz_opaque_callback_data":"{ID}"{errors}}}]}}}}]}}]}}"#
    );
    Notification::parse(body.as_bytes())
        .unwrap()
        .statuses()
        .next()
        .unwrap()
        .clone()
}

#[test]
fn statuses_map_to_cm_statuses() {
    let plain = |status: CmStatus, description: &str| {
        Some(StatusUpdate {
            status,
            error: None,
            description: description.into(),
            provider_code: None,
        })
    };
    assert_eq!(
        status_event(&status("sent", "")),
        plain(CmStatus::Accepted, "Accepted by operator")
    );
    assert_eq!(
        status_event(&status("delivered", "")),
        plain(CmStatus::Delivered, "Delivered")
    );
    assert_eq!(
        status_event(&status("read", "")),
        plain(CmStatus::Read, "Read")
    );
    for other in ["played", "deleted", "warning", "new_thing"] {
        assert_eq!(status_event(&status(other, "")), None, "{other}");
    }
}

#[test]
fn failed_statuses_carry_the_providers_code() {
    assert_eq!(
        status_event(&status(
            "failed",
            r#","errors":[{"code":131047,"title":"Re-engagement message"}]"#
        )),
        Some(StatusUpdate {
            status: CmStatus::Failed,
            error: Some(DeliveryError::NotDeliveredAtThirdParty),
            description: "WhatsApp 131047: Re-engagement message".into(),
            provider_code: Some(131047),
        })
    );
    assert_eq!(
        status_event(&status("failed", r#","errors":[{"code":131026}]"#)),
        Some(StatusUpdate {
            status: CmStatus::Failed,
            error: Some(DeliveryError::RecipientUnreachable),
            description: "WhatsApp 131026: message undeliverable".into(),
            provider_code: Some(131026),
        })
    );
    assert_eq!(
        status_event(&status(
            "failed",
            r#","errors":[{"code":424242,"message":"odd"}]"#
        )),
        Some(StatusUpdate {
            status: CmStatus::Failed,
            error: Some(DeliveryError::NotDeliveredAtThirdParty),
            description: "WhatsApp 424242: odd".into(),
            provider_code: Some(424242),
        })
    );
    assert_eq!(
        status_event(&status("failed", r#","errors":[{"code":130429}]"#)).map(|e| e.error),
        Some(Some(DeliveryError::NotDeliveredAtThirdParty))
    );
    assert_eq!(
        status_event(&status("failed", "")),
        Some(StatusUpdate {
            status: CmStatus::Failed,
            error: Some(DeliveryError::NotDeliveredAtThirdParty),
            description: "WhatsApp: failed".into(),
            provider_code: None,
        })
    );
}

#[test]
fn every_request_names_its_message_attempt_and_place() {
    let rich = json!({"conversation": [{"text": "one"}, {"text": "two"}]});
    let requests = requests_for(
        &content("", Some(rich)),
        "+31612345678",
        MessageId::parse(ID).unwrap(),
        3,
    )
    .unwrap();
    let callbacks: Vec<_> = requests
        .iter()
        .map(|request| request.biz_opaque_callback_data.clone().unwrap())
        .collect();
    assert_eq!(callbacks, [format!("{ID}:3:0/2"), format!("{ID}:3:1/2")]);
    let last = CallbackRef::parse(&callbacks[1]).unwrap();
    assert_eq!(
        last,
        CallbackRef {
            message_id: MessageId::parse(ID).unwrap(),
            attempt: 3,
            part_index: 1,
            parts: 2
        }
    );
    assert!(last.is_last());
    assert!(!CallbackRef::parse(&callbacks[0]).unwrap().is_last());
    for foreign in [
        "cm-ref-1",
        ID,
        &format!("{ID}:3"),
        &format!("{ID}:3:2/2"),
        &format!("{ID}:-1:0/1"),
        &format!("{ID}:+1:0/1"),
        &format!("{ID}:1:0/"),
        &format!("{ID}:99999999999:0/1"),
        "x:1:0/1",
    ] {
        assert_eq!(CallbackRef::parse(foreign), None, "{foreign}");
    }
}

#[test]
fn a_status_becomes_the_event_of_its_send() {
    let id = MessageId::parse(ID).unwrap();
    let only = CallbackRef {
        message_id: id,
        attempt: 2,
        part_index: 0,
        parts: 1,
    };
    let first_of_two = CallbackRef { parts: 2, ..only };
    let report = |status: CmStatus, error_code: Option<DeliveryError>, detail: Option<&str>| {
        Some(Event::ChannelReport {
            attempt: 2,
            status,
            error_code,
            operator: None,
            detail: detail.map(str::to_owned),
        })
    };
    assert_eq!(
        status_event_for(&status("delivered", ""), only),
        report(CmStatus::Delivered, None, None)
    );
    assert_eq!(
        status_event_for(&status("read", ""), only),
        report(CmStatus::Read, None, None)
    );
    assert_eq!(
        status_event_for(&status("sent", ""), only),
        report(CmStatus::Accepted, None, None)
    );
    // Only the last request's progress counts; any request's failure does.
    assert_eq!(
        status_event_for(&status("delivered", ""), first_of_two),
        None
    );
    let undeliverable = r#","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable"}]"#;
    assert_eq!(
        status_event_for(&status("failed", undeliverable), first_of_two),
        report(
            CmStatus::Failed,
            Some(DeliveryError::RecipientUnreachable),
            Some("WhatsApp 131026: Message undeliverable")
        )
    );
    // Throttling that arrives as a failed status sends again later, on WhatsApp.
    let pair_limit = r#","errors":[{"code":131056,"title":"Pair rate limit hit"}]"#;
    assert_eq!(
        status_event_for(&status("failed", pair_limit), only),
        Some(Event::Deferred {
            attempt: 2,
            retry_after: Some(PAIR_RATE_LIMIT_WAIT)
        })
    );
    assert_eq!(status_event_for(&status("played", ""), only), None);
}
