use super::*;
use serde_json::json;

const ID: &str = "0195d3b2-c4e4-7a1b-9c3f-00112233aabb";

fn id() -> MessageId {
    MessageId::parse(ID).unwrap()
}

fn content(body: &str, rich: Option<Value>) -> Content {
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

/// `(messageId, JSON body)` of each agent message for `rich` (with body `body`).
fn rendered(body: &str, rich: Option<Value>) -> Vec<(String, String)> {
    agent_messages_for(&content(body, rich), id(), None)
        .unwrap()
        .into_iter()
        .map(|outgoing| (outgoing.message_id, outgoing.message.to_json()))
        .collect()
}

/// The JSON bodies only.
fn bodies(body: &str, rich: Value) -> Vec<String> {
    rendered(body, Some(rich))
        .into_iter()
        .map(|(_, json)| json)
        .collect()
}

fn error(body: &str, rich: Value) -> RbmContentError {
    agent_messages_for(&content(body, Some(rich)), id(), None).unwrap_err()
}

#[test]
fn a_plain_body_is_one_text_message_under_the_tern_id() {
    assert_eq!(
        rendered("Hello", None),
        [(
            ID.to_owned(),
            r#"{"contentMessage":{"text":"Hello"}}"#.to_owned()
        )]
    );
    let expire = "2026-12-01T10:00:00Z".parse::<Timestamp>().unwrap();
    let with_expiry = agent_messages_for(&content("Hi", None), id(), Some(expire)).unwrap();
    assert_eq!(
        with_expiry[0].message.to_json(),
        r#"{"contentMessage":{"text":"Hi"},"expireTime":"2026-12-01T10:00:00Z"}"#
    );
    assert_eq!(
        agent_messages_for(&content("  ", None), id(), None),
        Err(RbmContentError::NoContent)
    );
    assert_eq!(
        agent_messages_for(&content("x", Some(json!([1]))), id(), None),
        Err(RbmContentError::InvalidRichContent)
    );
}

#[test]
fn numbers_become_e164_with_a_plus() {
    assert_eq!(rbm_number("0031612345678").as_deref(), Some("+31612345678"));
    assert_eq!(rbm_number("+31612345678").as_deref(), Some("+31612345678"));
    assert_eq!(rbm_number(" 31612345678 ").as_deref(), Some("+31612345678"));
    for bad in [
        "",
        "+",
        "00",
        "0612345678",
        "+31 6 1234",
        "1234567890123456",
        "abc",
    ] {
        assert_eq!(rbm_number(bad), None, "{bad}");
    }
}

#[test]
fn parts_become_messages_in_order_and_the_last_carries_the_tern_id() {
    let messages = rendered(
        "ignored when there is a conversation",
        Some(json!({"Conversation":[
            {"Text":"Your order"},
            {"media":{"mediaName":"invoice.pdf","mediaUri":"https://x/invoice.pdf","mimeType":"application/pdf"}},
            {"location":{"latitude":"51.6","longitude":4.77,"label":"CM HQ","searchQuery":"Konijnenberg 30, Breda"}},
        ]})),
    );
    assert_eq!(
        messages,
        [
            (
                format!("{ID}-1"),
                r#"{"contentMessage":{"text":"Your order"}}"#.to_owned()
            ),
            (
                format!("{ID}-2"),
                r#"{"contentMessage":{"contentInfo":{"fileUrl":"https://x/invoice.pdf"}}}"#
                    .to_owned()
            ),
            (
                ID.to_owned(),
                concat!(
                    r#"{"contentMessage":{"text":"CM HQ\nKonijnenberg 30, Breda","suggestions":[{"action":{"text":"View location","#,
                    r#""postbackData":"view_location","viewLocationAction":{"latLong":{"latitude":51.6,"longitude":4.77},"label":"CM HQ"}}}]}}"#
                )
                .to_owned()
            ),
        ]
    );
    assert_eq!(status_target(ID), Some(id()));
    assert_eq!(status_target(&format!("{ID}-1")), None);
    assert_eq!(status_target("0195d3b2c4e47a1b9c3f00112233aabb"), None);
    assert_eq!(status_target("x"), None);
    assert_eq!(message_id_for(id(), 0, 1), ID);
    assert_eq!(message_id_for(id(), 1, 3), format!("{ID}-2"));
}

#[test]
fn a_location_without_coordinates_is_a_query() {
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"location":{"searchQuery":"CM Breda"}}]})
        ),
        [concat!(
            r#"{"contentMessage":{"text":"CM Breda","suggestions":[{"action":{"text":"View location","#,
            r#""postbackData":"view_location","viewLocationAction":{"query":"CM Breda"}}}]}}"#
        )]
    );
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"location":{"latitude":1.5,"longitude":-2}}]})
        )[0],
        concat!(
            r#"{"contentMessage":{"text":"1.5, -2","suggestions":[{"action":{"text":"View location","#,
            r#""postbackData":"view_location","viewLocationAction":{"latLong":{"latitude":1.5,"longitude":-2.0}}}}]}}"#
        )
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"location":{"latitude":91,"longitude":0}}]})
        ),
        RbmContentError::InvalidCoordinates {
            path: "richContent.conversation[0].location".into()
        }
    );
    assert_eq!(
        error("", json!({"conversation":[{"location":{"label":"x"}}]})),
        RbmContentError::Missing {
            path: "richContent.conversation[0].location".into(),
            field: "searchQuery"
        }
    );
}

#[test]
fn rich_cards_are_standalone_and_consecutive_ones_a_carousel() {
    let card = json!({"header":"Shoes","text":"Red ones","media":{"mediaUri":"https://x/s.png","mimeType":"image/png"},
        "suggestions":[{"action":"Reply","label":"Buy","postbackdata":"buy-shoes"}]});
    let standalone = concat!(
        r#"{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"title":"Shoes","#,
        r#""description":"Red ones","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://x/s.png"}},"#,
        r#""suggestions":[{"reply":{"text":"Buy","postbackData":"buy-shoes"}}]}}}}}"#
    );
    assert_eq!(
        bodies("", json!({"conversation":[card.clone()]})),
        [standalone]
    );
    // The reference's richCard object, and text with media (CM's SDK), are cards too.
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"richCard":{"title":"Shoes","description":"Red ones","media":{"mediaUri":"https://x/s.png"},
                "suggestions":[{"action":"reply","label":"Buy","postbackData":"buy-shoes"}]}}]})
        ),
        [standalone]
    );
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"text":"Look","media":{"mediaUri":"https://x/a.png"}}]})
        ),
        [
            r#"{"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{"description":"Look","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://x/a.png"}}}}}}}"#
        ]
    );
    let hat = json!({"header":"Hat"});
    let messages = bodies(
        "",
        json!({"conversation":[{"text":"Pick one"}, card.clone(), hat.clone(), {"text":"or call"}, hat.clone()]}),
    );
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0], r#"{"contentMessage":{"text":"Pick one"}}"#);
    assert_eq!(
        messages[1],
        concat!(
            r#"{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[{"title":"Shoes","#,
            r#""description":"Red ones","media":{"height":"MEDIUM","contentInfo":{"fileUrl":"https://x/s.png"}},"#,
            r#""suggestions":[{"reply":{"text":"Buy","postbackData":"buy-shoes"}}]},{"title":"Hat"}]}}}}"#
        )
    );
    assert_eq!(messages[2], r#"{"contentMessage":{"text":"or call"}}"#);
    assert!(messages[3].contains("standaloneCard"));
    // Eleven cards in a row: a carousel of ten, then a standalone card.
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"header": format!("c{i}")}))
        .collect();
    let messages = bodies("", json!({"conversation": eleven}));
    assert_eq!(messages.len(), 2);
    let first: Value = serde_json::from_str(&messages[0]).unwrap();
    assert_eq!(
        first["contentMessage"]["richCard"]["carouselCard"]["cardContents"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert!(messages[1].contains(r#""standaloneCard""#) && messages[1].contains("c10"));
}

#[test]
fn a_carousel_part_keeps_its_width_and_limits() {
    let messages = bodies(
        "",
        json!({"conversation":[{"carousel":{"cardWidth":"Small","cards":[{"header":"A"},{"header":"B","text":"b"}]}}]}),
    );
    assert_eq!(
        messages,
        [
            r#"{"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"SMALL","cardContents":[{"title":"A"},{"title":"B","description":"b"}]}}}}"#
        ]
    );
    assert!(
        bodies(
            "",
            json!({"conversation":[{"carousel":{"cards":[{"header":"A"}]}}]})
        )[0]
        .contains("standaloneCard")
    );
    let cards: Vec<Value> = (0..11).map(|i| json!({"header": i.to_string()})).collect();
    assert_eq!(
        error("", json!({"conversation":[{"carousel":{"cards":cards}}]})),
        RbmContentError::TooManyCards {
            path: "richContent.conversation[0].carousel".into(),
            count: 11,
            limit: 10
        }
    );
    assert_eq!(
        error("", json!({"conversation":[{"carousel":{"cards":[]}}]})),
        RbmContentError::Missing {
            path: "richContent.conversation[0].carousel".into(),
            field: "cards"
        }
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"carousel":{"cards":[{"header":"A"},{"suggestions":[]}]}}]})
        ),
        RbmContentError::EmptyCard {
            path: "richContent.conversation[0].carousel.cards[1]".into()
        }
    );
}

#[test]
fn every_suggestion_action_maps_case_insensitively() {
    let messages = bodies(
        "Your order shipped",
        json!({"suggestions":[
            {"action":"reply","label":"Track","postbackdata":"track_123"},
            {"action":"OPENURL","label":"Open site","url":"https://cm.com","postbackdata":"open"},
            {"action":"Dial","label":"Call us","dial":{"phoneNumber":"0031765727000"}},
            {"action":"viewLocation","label":"Find us","viewLocation":{"latitude":"51.6","longitude":"4.77"}},
            {"action":"CreateCalendarEvent","label":"Save date","calendar":{"startTime":"2026-01-01T10:00:00Z",
                "endTime":"2026-01-01T11:00:00Z","title":"Demo","description":"d"}},
        ]}),
    );
    assert_eq!(
        messages,
        [concat!(
            r#"{"contentMessage":{"text":"Your order shipped","suggestions":["#,
            r#"{"reply":{"text":"Track","postbackData":"track_123"}},"#,
            r#"{"action":{"text":"Open site","postbackData":"open","openUrlAction":{"url":"https://cm.com"}}},"#,
            r#"{"action":{"text":"Call us","postbackData":"Call us","dialAction":{"phoneNumber":"+31765727000"}}},"#,
            r#"{"action":{"text":"Find us","postbackData":"Find us","viewLocationAction":{"latLong":{"latitude":51.6,"longitude":4.77},"label":"Find us"}}},"#,
            r#"{"action":{"text":"Save date","postbackData":"Save date","createCalendarEventAction":{"startTime":"2026-01-01T10:00:00Z","endTime":"2026-01-01T11:00:00Z","title":"Demo","description":"d"}}}]}}"#
        )]
    );
}

#[test]
fn message_suggestions_go_on_the_last_message_after_its_own() {
    let messages = bodies(
        "",
        json!({"conversation":[{"text":"a"},{"text":"b","suggestions":[{"action":"reply","label":"Own"}]}],
               "suggestions":[{"action":"reply","label":"Top","postbackdata":"top"}]}),
    );
    assert_eq!(messages[0], r#"{"contentMessage":{"text":"a"}}"#);
    assert_eq!(
        messages[1],
        r#"{"contentMessage":{"text":"b","suggestions":[{"reply":{"text":"Own","postbackData":"Own"}},{"reply":{"text":"Top","postbackData":"top"}}]}}"#
    );
    // On a media message too.
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"media":{"mediaUri":"https://x/v.mp4"}}],"suggestions":[{"action":"reply","label":"Ok"}]})
        ),
        [
            r#"{"contentMessage":{"contentInfo":{"fileUrl":"https://x/v.mp4"},"suggestions":[{"reply":{"text":"Ok","postbackData":"Ok"}}]}}"#
        ]
    );
}

#[test]
fn limits_on_suggestions_labels_and_texts() {
    let replies = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"action":"reply","label": format!("r{i}")}))
            .collect()
    };
    assert_eq!(
        rendered("x", Some(json!({"suggestions": replies(11)}))).len(),
        1
    );
    assert_eq!(
        error("x", json!({"suggestions": replies(12)})),
        RbmContentError::TooManySuggestions {
            path: "richContent.suggestions".into(),
            count: 12,
            limit: 11
        }
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"text":"t","suggestions":replies(6)}],"suggestions":replies(6)})
        ),
        RbmContentError::TooManySuggestions {
            path: "richContent.suggestions".into(),
            count: 12,
            limit: 11
        }
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"header":"h","suggestions":replies(5)}]})
        ),
        RbmContentError::TooManySuggestions {
            path: "richContent.conversation[0].suggestions".into(),
            count: 5,
            limit: 4
        }
    );
    // A long label is shortened to 25 characters; its postback data stays whole.
    let long = "Confirm your appointment now";
    assert_eq!(chip_text(long), "Confirm your appointment…");
    assert_eq!(chip_text(long).chars().count(), 25);
    assert_eq!(
        chip_text("exactly twenty-five chars"),
        "exactly twenty-five chars"
    );
    assert_eq!(
        bodies(
            "x",
            json!({"suggestions":[{"action":"reply","label":long}]})
        ),
        [format!(
            r#"{{"contentMessage":{{"text":"x","suggestions":[{{"reply":{{"text":"Confirm your appointment…","postbackData":"{long}"}}}}]}}}}"#
        )]
    );
    assert_eq!(
        error("", json!({"conversation":[{"text":"é".repeat(3073)}]})),
        RbmContentError::TooLong {
            path: "richContent.conversation[0].text".into(),
            length: 3073,
            limit: 3072
        }
    );
    assert!(rendered(&"é".repeat(3072), None).len() == 1);
    assert_eq!(
        error(
            "x",
            json!({"suggestions":[{"action":"reply","label":"l","postbackdata":"p".repeat(2049)}]})
        ),
        RbmContentError::TooLong {
            path: "richContent.suggestions[0].postbackdata".into(),
            length: 2049,
            limit: 2048
        }
    );
    assert_eq!(
        error("", json!({"conversation":[{"header":"h".repeat(201)}]})),
        RbmContentError::TooLong {
            path: "richContent.conversation[0].header".into(),
            length: 201,
            limit: 200
        }
    );
}

#[test]
fn bad_suggestions_are_refused_with_their_path() {
    assert_eq!(
        error(
            "x",
            json!({"suggestions":[{"action":"Reply","label":"a"},{"action":"Teleport","label":"b"}]})
        ),
        RbmContentError::UnknownAction {
            path: "richContent.suggestions[1]".into(),
            action: "Teleport".into()
        }
    );
    assert_eq!(
        error(
            "x",
            json!({"suggestions":[{"action":"openUrl","label":"Go"}]})
        ),
        RbmContentError::Missing {
            path: "richContent.suggestions[0]".into(),
            field: "url"
        }
    );
    assert_eq!(
        error(
            "x",
            json!({"suggestions":[{"action":"Dial","label":"Call"}]})
        ),
        RbmContentError::Missing {
            path: "richContent.suggestions[0]".into(),
            field: "dial.phoneNumber"
        }
    );
    assert_eq!(
        error(
            "x",
            json!({"suggestions":[{"action":"CreateCalendarEvent","label":"c","calendar":{"startTime":"s"}}]})
        ),
        RbmContentError::Missing {
            path: "richContent.suggestions[0].calendar".into(),
            field: "endTime"
        }
    );
    assert_eq!(
        error("x", json!({"suggestions":[{"label":"c"}]})),
        RbmContentError::Missing {
            path: "richContent.suggestions[0]".into(),
            field: "action"
        }
    );
    // Missing labels take a default.
    assert_eq!(
        bodies(
            "x",
            json!({"suggestions":[{"action":"openurl","url":"https://x"}]})
        ),
        [
            r#"{"contentMessage":{"text":"x","suggestions":[{"action":{"text":"Open","postbackData":"Open","openUrlAction":{"url":"https://x"}}}]}}"#
        ]
    );
}

#[test]
fn contacts_interactive_and_templates() {
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"contacts":[
                {"name":{"formatted_name":"Ann Smith"},"phones":[{"phone":"+31612345678"},{"phone":"+31687654321"}]},
                {"name":{"formatted_name":"Bob"}}]}]})
        ),
        [r#"{"contentMessage":{"text":"Ann Smith: +31612345678, +31687654321\nBob"}}"#]
    );
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"interactive":{"type":"button","header":{"type":"text","text":"Hi"},
                "body":{"text":"Pick"},"footer":{"text":"f"},
                "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}}]})
        ),
        [
            r#"{"contentMessage":{"text":"Hi\n\nPick\n\nf","suggestions":[{"reply":{"text":"Yes","postbackData":"yes"}},{"reply":{"text":"No","postbackData":"no"}}]}}"#
        ]
    );
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"interactive":{"type":"list","body":{"text":"Pick"},
                "action":{"button":"Options","sections":[{"rows":[{"id":"r1","title":"Row 1"}]}]}}}]})
        ),
        [
            r#"{"contentMessage":{"text":"Pick","suggestions":[{"reply":{"text":"Row 1","postbackData":"r1"}}]}}"#
        ]
    );
    assert_eq!(
        bodies(
            "",
            json!({"conversation":[{"interactive":{"type":"cta_url","body":{"text":"See"},
                "action":{"name":"cta_url","parameters":{"display_text":"Visit","url":"https://cm.com"}}}}]})
        ),
        [
            r#"{"contentMessage":{"text":"See","suggestions":[{"action":{"text":"Visit","postbackData":"Visit","openUrlAction":{"url":"https://cm.com"}}}]}}"#
        ]
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"text":"ok"},{"template":{"whatsapp":{"element_name":"t"}}}]})
        ),
        RbmContentError::UnsupportedPart { part: 1 }
    );
    assert_eq!(
        error("", json!({"conversation":[{}]})),
        RbmContentError::UnsupportedPart { part: 0 }
    );
    assert_eq!(
        error(
            "",
            json!({"conversation":[{"media":{"mimeType":"image/png"}}]})
        ),
        RbmContentError::Missing {
            path: "richContent.conversation[0].media".into(),
            field: "mediaUri"
        }
    );
}

#[test]
fn every_row_of_the_error_table_is_found_by_its_status() {
    for row in ERROR_TABLE {
        assert_eq!(classify(row.http_status, row.google_status), row.outcome);
    }
    assert_eq!(
        classify(404, "NOT_FOUND"),
        SendOutcome::Error(ErrorClass::FallBack {
            error: DeliveryError::RecipientUnreachable
        })
    );
    assert_eq!(
        classify(409, "ALREADY_EXISTS"),
        SendOutcome::AlreadyAccepted
    );
    assert_eq!(
        classify(429, "RESOURCE_EXHAUSTED"),
        SendOutcome::Error(ErrorClass::Retry { after: None })
    );
    assert_eq!(
        classify(403, "PERMISSION_DENIED"),
        SendOutcome::Error(ErrorClass::Configuration)
    );
    // Without Google's JSON: by the HTTP status.
    assert_eq!(
        classify(404, ""),
        SendOutcome::Error(ErrorClass::FallBack {
            error: DeliveryError::RecipientUnreachable
        })
    );
    assert_eq!(
        classify(502, ""),
        SendOutcome::Error(ErrorClass::Retry { after: None })
    );
    assert_eq!(
        classify(408, ""),
        SendOutcome::Error(ErrorClass::Retry { after: None })
    );
    assert_eq!(
        classify(418, "TEAPOT"),
        SendOutcome::Error(ErrorClass::FallBack {
            error: NOT_DELIVERED_ERROR
        })
    );
    // The status counts over the HTTP code.
    assert_eq!(
        classify(400, "FAILED_PRECONDITION"),
        SendOutcome::Error(ErrorClass::FallBack {
            error: NOT_DELIVERED_ERROR
        })
    );
    let SendOutcome::Error(class) = classify(404, "NOT_FOUND") else {
        panic!()
    };
    let connector_error = class.connector_error("RBM 404 NOT_FOUND");
    assert_eq!(
        connector_error.error_code,
        Some(DeliveryError::RecipientUnreachable)
    );
}

#[test]
fn events_report_delivered_read_and_revoked() {
    let event = |json: Value| Event::parse(json.to_string().as_bytes()).unwrap();
    let user = |kind: &str| {
        event(
            json!({"senderPhoneNumber":"+31612345678","eventType":kind,"eventId":"e","messageId":ID}),
        )
    };
    let delivered = status_event(&user("DELIVERED")).unwrap();
    assert_eq!(
        (delivered.status, delivered.error, delivered.provider_code),
        (CmStatus::Delivered, None, None)
    );
    assert_eq!(status_event(&user("READ")).unwrap().status, CmStatus::Read);
    assert_eq!(status_event(&user("IS_TYPING")), None);
    assert_eq!(status_event(&user("SOMETHING_NEW")), None);
    let revoked = status_event(&event(
        json!({"phoneNumber":"+31612345678","eventType":"TTL_EXPIRATION_REVOKED","messageId":ID}),
    ))
    .unwrap();
    assert_eq!(revoked.status, CmStatus::Failed);
    assert_eq!(revoked.error, Some(DeliveryError::ExpiredAtThirdParty));
    assert!(revoked.description.contains("TTL_EXPIRATION_REVOKED"));
    assert_eq!(
        status_event(&event(
            json!({"phoneNumber":"+3","eventType":"TTL_EXPIRATION_REVOKE_FAILED","messageId":ID})
        )),
        None
    );
    assert_eq!(
        status_event(&event(
            json!({"senderPhoneNumber":"+3","messageId":"m","text":"hi"})
        )),
        None
    );
    assert_eq!(
        user("READ").message_id().and_then(status_target),
        Some(id())
    );
}

fn user_message(event: Value) -> UserMessage {
    match Event::parse(event.to_string().as_bytes()).unwrap() {
        Event::Message(message) => *message,
        other => panic!("not a user message: {other:?}"),
    }
}

#[test]
fn user_messages_become_cms_inbound_of_each_kind() {
    let base = json!({"senderPhoneNumber": "+31612345678", "messageId": "MsU1",
        "sendTime": "2026-12-01T10:00:00Z", "agentId": "acme_agent"});
    let with = |field: &str, value: Value| {
        let mut event = base.clone();
        event[field] = value;
        user_message(event)
    };
    assert_eq!(
        inbound_of(&with("text", json!("Hello"))),
        InboundOf {
            text: "Hello".into(),
            extras: InboundExtras::default()
        }
    );
    let tap = inbound_of(&with(
        "suggestionResponse",
        json!({"postbackData": "yes-1", "text": "Yes", "type": "REPLY"}),
    ));
    assert_eq!(tap.text, "Yes");
    assert_eq!(
        tap.extras.event.as_deref(),
        Some(r#"{"type":"SuggestionClick","custom":{"postbackdata":"yes-1","label":"Yes"}}"#)
    );
    assert_eq!(tap.extras.custom, None);
    let location = inbound_of(&with(
        "location",
        json!({"latitude": 51.6, "longitude": 4.77}),
    ));
    assert_eq!(location.text, "");
    assert_eq!(
        location.extras.custom.as_deref(),
        Some(r#"{"location":{"latitude":51.6,"longitude":4.77}}"#)
    );
    let file = inbound_of(&with(
        "userFile",
        json!({"payload": {"mimeType": "image/jpeg", "fileSizeBytes": 1234,
            "fileUri": "https://rcs.example/f/1", "fileName": "cat.jpg"}}),
    ));
    assert_eq!(
        file.extras.media,
        Some(InboundFile {
            uri: "https://rcs.example/f/1".into(),
            content_type: "image/jpeg".into(),
            title: "cat.jpg".into(),
        })
    );
    assert_eq!(file.text, "");
    let nothing = inbound_of(&user_message(base));
    assert_eq!(
        nothing.extras.custom.as_deref(),
        Some(r#"{"type":"unsupported"}"#)
    );
}
