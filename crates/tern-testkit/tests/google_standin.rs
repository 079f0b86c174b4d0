//! The Google stand-ins driven as Tern's connectors drive Google: tokens asked for with
//! tern-proto's assertions (whose signatures the token stand-in verifies independently), agent
//! messages posted over HTTP with reqwest, and the webhooks received by a local receiver and read
//! with tern-proto's RBM webhook parser and signature check. The stand-ins must refuse what
//! Google refuses and accept what it accepts.

use std::time::Duration;

use serde_json::{Value, json};
use tern_proto::google_auth::{ServiceAccount, token_request_body};
use tern_proto::rbm::send::{
    AgentMessage, CardContent, CardWidth, ContentInfo, ContentMessage, Media, MediaHeight,
    RichCard, Suggestion,
};
use tern_proto::rbm::{Event, UserContent, WebhookBody, verify_signature};
use tern_testkit::WebhookReceiver;
use tern_testkit::google::{
    AgentEvent, FCM_SCOPE, GoogleTokenStandIn, RBM_SCOPE, RbmError, RbmOptions, RbmRule, RbmScript,
    RbmStandIn, RbmWebhookKind, TokenOptions, UserMessageContent, service_account_json,
};

const WAIT: Duration = Duration::from_secs(10);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The test service account, its `token_uri` being `token_uri`.
fn account(token_uri: &str) -> ServiceAccount {
    ServiceAccount::parse(service_account_json(token_uri).as_bytes()).unwrap()
}

/// POSTs `form` to the token URL; returns status and JSON.
async fn token_request(url: &str, content_type: &str, form: String) -> (u16, Value) {
    let response = tern_testkit::http_client()
        .post(url)
        .header("content-type", content_type)
        .body(form)
        .send()
        .await
        .expect("POST to the token stand-in");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("its body");
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

/// A token for `scope` from `tokens`.
async fn token(tokens: &GoogleTokenStandIn, scope: &str) -> String {
    let assertion = account(&tokens.token_url)
        .signing_key()
        .unwrap()
        .assertion(scope, now());
    let (status, answer) = token_request(
        &tokens.token_url,
        "application/x-www-form-urlencoded",
        token_request_body(&assertion),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

/// POSTs `body` to `/v1/phones/{phone}/agentMessages` with `query` and a Bearer `token`.
async fn post_message(
    rbm: &RbmStandIn,
    phone: &str,
    query: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let url = format!("{}/v1/phones/{phone}/agentMessages?{query}", rbm.base_url);
    let mut request = tern_testkit::http_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("POST to the RBM stand-in");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("its body");
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

/// Both stand-ins, RBM's configured by `configure`, and a token for RBM.
async fn stand_ins(
    configure: impl FnOnce(&mut RbmOptions),
) -> (GoogleTokenStandIn, RbmStandIn, String) {
    let tokens = GoogleTokenStandIn::start(TokenOptions::default()).await;
    let mut options = RbmOptions::new(tokens.check());
    configure(&mut options);
    let rbm = RbmStandIn::start(options).await;
    let token = token(&tokens, RBM_SCOPE).await;
    (tokens, rbm, token)
}

fn text(text: &str) -> String {
    AgentMessage::new(ContentMessage::text(text)).to_json()
}

#[tokio::test]
async fn the_token_endpoint_grants_only_a_verified_assertion() {
    let tokens = GoogleTokenStandIn::start(TokenOptions::default()).await;
    let key = account(&tokens.token_url).signing_key().unwrap();
    let form = "application/x-www-form-urlencoded";
    let (status, answer) = token_request(
        &tokens.token_url,
        form,
        token_request_body(&key.assertion(&format!("{RBM_SCOPE} {FCM_SCOPE}"), now())),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3600);
    let token = answer["access_token"].as_str().unwrap();
    assert!(tokens.is_valid(token));
    assert!(!tokens.is_valid("ya29.made-up"));
    let check = tokens.check();
    assert!(check.check(Some(&format!("Bearer {token}"))));
    assert!(check.check(Some(&format!("bearer  {token} "))));
    assert!(check.check_scope(Some(&format!("Bearer {token}")), FCM_SCOPE));
    assert!(!check.check(Some(token)));
    assert!(!check.check(None));

    let refused = |status: u16, error: &str, description: &str| {
        (
            status,
            json!({"error": error, "error_description": description}),
        )
    };
    let invalid_grant = |description: &str| refused(400, "invalid_grant", description);
    let assertion = key.assertion(RBM_SCOPE, now());
    // Another grant type, a missing assertion, a body that is not a form.
    assert_eq!(
        token_request(
            &tokens.token_url,
            form,
            format!("grant_type=client_credentials&assertion={assertion}")
        )
        .await,
        refused(
            400,
            "unsupported_grant_type",
            "Invalid grant_type: client_credentials"
        )
    );
    assert_eq!(
        token_request(
            &tokens.token_url,
            form,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer".into()
        )
        .await,
        refused(
            400,
            "invalid_request",
            "Missing required parameter: assertion"
        )
    );
    assert_eq!(
        token_request(
            &tokens.token_url,
            "application/json",
            token_request_body(&assertion)
        )
        .await
        .0,
        400
    );
    // A signature that does not match.
    let mut tampered = assertion.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        token_request(&tokens.token_url, form, token_request_body(&tampered)).await,
        invalid_grant("Invalid JWT Signature.")
    );
    // Claims of another payload under the first signature.
    let parts: Vec<&str> = assertion.split('.').collect();
    let other = key.assertion(FCM_SCOPE, now());
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(
        token_request(&tokens.token_url, form, token_request_body(&spliced)).await,
        invalid_grant("Invalid JWT Signature.")
    );
    // Another audience, an hour-old assertion, a scope not allowed.
    let elsewhere = account("https://oauth2.googleapis.com/token")
        .signing_key()
        .unwrap();
    assert_eq!(
        token_request(
            &tokens.token_url,
            form,
            token_request_body(&elsewhere.assertion(RBM_SCOPE, now()))
        )
        .await,
        invalid_grant("Invalid JWT: Failed audience check. The right audience is the token URL.")
    );
    assert_eq!(
        token_request(
            &tokens.token_url,
            form,
            token_request_body(&key.assertion(RBM_SCOPE, now() - 3000))
        )
        .await
        .1["error"],
        "invalid_grant"
    );
    assert_eq!(
        token_request(
            &tokens.token_url,
            form,
            token_request_body(
                &key.assertion("https://www.googleapis.com/auth/cloud-platform", now())
            )
        )
        .await,
        refused(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided."
        )
    );
    assert_eq!(tokens.tokens_issued(), 1);
    let log = tokens.requests();
    assert_eq!(log.len(), 9);
    assert_eq!(
        log[0].claims.as_ref().unwrap()["iss"],
        tern_testkit::google::TEST_CLIENT_EMAIL
    );
    // Scripted refusals.
    tokens.refuse_with(Some((
        401,
        "invalid_client",
        "The OAuth client was not found.",
    )));
    assert_eq!(
        token_request(&tokens.token_url, form, token_request_body(&assertion)).await,
        refused(401, "invalid_client", "The OAuth client was not found.")
    );
}

#[tokio::test]
async fn tokens_expire_and_need_the_rbm_scope() {
    let tokens = GoogleTokenStandIn::start(TokenOptions {
        expires_in: Duration::from_secs(1),
        ..TokenOptions::default()
    })
    .await;
    let rbm = RbmStandIn::start(RbmOptions::new(tokens.check())).await;
    let token = token(&tokens, RBM_SCOPE).await;
    let query = "messageId=m1&agentId=acme_agent";
    assert_eq!(
        post_message(&rbm, "+31612345678", query, Some(&token), &text("hi"))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, answer) = post_message(
        &rbm,
        "+31612345678",
        "messageId=m2&agentId=acme_agent",
        Some(&token),
        &text("hi"),
    )
    .await;
    assert_eq!(
        (status, answer),
        (401, RbmError::unauthenticated().to_json())
    );
    tokens.set_expires_in(Duration::from_secs(60));
    let fcm_only = self::token(&tokens, FCM_SCOPE).await;
    assert_eq!(
        post_message(
            &rbm,
            "+31612345678",
            "messageId=m3&agentId=acme_agent",
            Some(&fcm_only),
            &text("hi")
        )
        .await
        .0,
        401
    );
    let fresh = self::token(&tokens, RBM_SCOPE).await;
    assert_eq!(
        post_message(
            &rbm,
            "+31612345678",
            "messageId=m3&agentId=acme_agent",
            Some(&fresh),
            &text("hi")
        )
        .await
        .0,
        200
    );
    tokens.revoke_all();
    assert_eq!(
        post_message(
            &rbm,
            "+31612345678",
            "messageId=m4&agentId=acme_agent",
            Some(&fresh),
            &text("hi")
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn what_rbm_accepts_is_accepted_and_answered_with_its_name() {
    let (_tokens, rbm, token) = stand_ins(|_| {}).await;
    let card = CardContent {
        title: Some("Shoes".into()),
        description: Some("Red".into()),
        media: Some(Media {
            height: MediaHeight::Tall,
            content_info: Some(ContentInfo::new("https://x/s.png")),
            file_name: None,
        }),
        suggestions: (0..4)
            .map(|i| Suggestion::reply(format!("r{i}"), "p"))
            .collect(),
    };
    let mut with_suggestions = ContentMessage::text("é".repeat(3072));
    with_suggestions.suggestions = (0..11)
        .map(|i| Suggestion::reply("x".repeat(25), format!("p{i}")))
        .collect();
    let mut ttl = AgentMessage::new(ContentMessage::file("https://x/f.pdf"));
    ttl.ttl = Some("3600s".into());
    let mut expiring = AgentMessage::new(ContentMessage::text("bye"));
    expiring.expire_time = Some("2030-01-01T00:00:00Z".into());
    expiring.message_traffic_type = Some("TRANSACTION".into());
    let bodies = [
        AgentMessage::new(with_suggestions).to_json(),
        AgentMessage::new(ContentMessage::rich_card(RichCard::standalone(card.clone()))).to_json(),
        AgentMessage::new(ContentMessage::rich_card(RichCard::carousel(
            CardWidth::Small,
            vec![card.clone(); 10],
        )))
        .to_json(),
        ttl.to_json(),
        expiring.to_json(),
        // The suggestion JSON of channel-providers.md §3, as it stands.
        json!({"contentMessage":{"text":"Your order shipped","suggestions":[
          {"reply":{"text":"Track","postbackData":"track_123"}},
          {"action":{"text":"Open site","postbackData":"open","openUrlAction":{"url":"https://cm.com"}}},
          {"action":{"text":"Call us","postbackData":"dial","dialAction":{"phoneNumber":"+31765727000"}}},
          {"action":{"text":"Find us","postbackData":"map","viewLocationAction":{"latLong":{"latitude":51.6,"longitude":4.77},"label":"CM HQ"}}},
          {"action":{"text":"Save date","postbackData":"cal","createCalendarEventAction":{"startTime":"2026-01-01T10:00:00Z",
             "endTime":"2026-01-01T11:00:00Z","title":"Demo","description":"d"}}},
          {"action":{"text":"Share location","postbackData":"loc","shareLocationAction":{}}}]}})
        .to_string(),
    ];
    for (index, body) in bodies.iter().enumerate() {
        let (status, answer) = post_message(
            &rbm,
            "+31612345678",
            &format!("messageId=msg-{index}&agentId=acme_agent"),
            Some(&token),
            body,
        )
        .await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(
            answer["name"],
            format!("phones/+31612345678/agentMessages/msg-{index}")
        );
        assert!(answer["sendTime"].as_str().unwrap().ends_with('Z'));
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(answer["contentMessage"], sent["contentMessage"]);
    }
    // The `+` percent-encoded in the path is the same number.
    assert_eq!(
        post_message(
            &rbm,
            "%2B31612345678",
            "messageId=msg-x&agentId=acme_agent",
            Some(&token),
            &text("hi")
        )
        .await
        .1["name"],
        "phones/+31612345678/agentMessages/msg-x"
    );
    let counts = rbm.counts();
    assert_eq!(
        (counts.requests, counts.accepted, counts.refused),
        (7, 7, 0)
    );
    let request = &rbm.requests()[0];
    assert_eq!(request.message_id(), Some("msg-0"));
    assert_eq!(request.query_value("agentId"), Some("acme_agent"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
}

#[tokio::test]
async fn what_rbm_refuses_is_refused_with_googles_error() {
    let (_tokens, rbm, token) = stand_ins(|_| {}).await;
    let phone = "+31612345678";
    let ok = "messageId=m&agentId=acme_agent";
    // Authentication, agent, message id, path.
    assert_eq!(
        post_message(&rbm, phone, ok, None, &text("hi")).await,
        (401, RbmError::unauthenticated().to_json())
    );
    assert_eq!(
        post_message(&rbm, phone, ok, Some("ya29.forged"), &text("hi"))
            .await
            .0,
        401
    );
    assert_eq!(
        post_message(
            &rbm,
            phone,
            "messageId=m&agentId=other",
            Some(&token),
            &text("hi")
        )
        .await,
        (403, RbmError::permission_denied().to_json())
    );
    assert_eq!(
        post_message(&rbm, phone, "agentId=acme_agent", Some(&token), &text("hi")).await,
        (
            400,
            RbmError::invalid_argument("messageId is required.").to_json()
        )
    );
    assert_eq!(
        post_message(&rbm, "31612345678", ok, Some(&token), &text("hi"))
            .await
            .1["error"]["status"],
        "INVALID_ARGUMENT"
    );
    let response = tern_testkit::http_client()
        .post(format!(
            "{}/v1/phones/{phone}/agentEvents?eventId=e&agentId=acme_agent",
            rbm.base_url
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    let refused = |body: Value| {
        let rbm = &rbm;
        let token = token.clone();
        async move {
            let (status, answer) =
                post_message(rbm, phone, ok, Some(&token), &body.to_string()).await;
            assert_eq!(status, 400, "{body} was accepted: {answer}");
            assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
            assert_eq!(answer["error"]["code"], 400);
            answer["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    let reply = |text: &str| json!({"reply":{"text":text,"postbackData":"p"}});
    let card = |suggestions: usize| json!({"title":"t","suggestions": (0..suggestions).map(|_| reply("r")).collect::<Vec<_>>()});
    assert_eq!(
        refused(json!({"contentMessage":{"text":"a","contentInfo":{"fileUrl":"https://x/f"}}}))
            .await,
        "agent_message.content_message must contain exactly one of text, richCard, contentInfo, uploadedRbmFile, not text and contentInfo."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"suggestions":[]}})).await,
        "agent_message.content_message must contain one of text, richCard, contentInfo, uploadedRbmFile."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"text":"x".repeat(3073)}})).await,
        "agent_message.content_message.text exceeds the maximum length of 3072 characters."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"text":"a","suggestions":(0..12).map(|_| reply("r")).collect::<Vec<_>>()}})).await,
        "agent_message.content_message.suggestions has 12 suggestions; at most 11 are allowed."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"text":"a","suggestions":[reply(&"x".repeat(26))]}}))
            .await,
        "agent_message.content_message.suggestions[0].reply.text exceeds the maximum length of 25 characters."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":card(5)}}}})).await,
        "rich_card.standalone_card.card_content.suggestions has 5 suggestions; at most 4 are allowed."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":[card(1)]}}}})).await,
        "rich_card.carousel_card.card_contents must have between 2 and 10 cards, not 1."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"richCard":{"carouselCard":{"cardWidth":"MEDIUM","cardContents":vec![card(1); 11]}}}})).await,
        "rich_card.carousel_card.card_contents must have between 2 and 10 cards, not 11."
    );
    assert_eq!(
        refused(json!({"contentMessage":{"text":"a"},"priority":"HIGH"})).await,
        "Invalid JSON payload received. Unknown name \"priority\" at 'agent_message': Cannot find field."
    );
    assert_eq!(
        refused(
            json!({"contentMessage":{"text":"a"},"ttl":"60s","expireTime":"2030-01-01T00:00:00Z"})
        )
        .await,
        "agent_message may set ttl or expireTime, not both."
    );
    for body in [
        json!({"contentMessage":{"text":""}}),
        json!({"contentMessage":{"text":7}}),
        json!({"contentMessage":{"contentInfo":{"fileUrl":"ftp://x"}}}),
        json!({"contentMessage":{"richCard":{"standaloneCard":{"cardContent":card(0)}}}}),
        json!({"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"DIAGONAL","cardContent":card(0)}}}}),
        json!({"contentMessage":{"richCard":{"standaloneCard":{"cardOrientation":"VERTICAL","cardContent":{}}}}}),
        json!({"contentMessage":{"text":"a","suggestions":[{"reply":{"text":"r"}}]}}),
        json!({"contentMessage":{"text":"a","suggestions":[{"action":{"text":"a","postbackData":"p"}}]}}),
        json!({"contentMessage":{"text":"a","suggestions":[{"action":{"text":"a","postbackData":"p","dialAction":{"phoneNumber":"0031612"}}}]}}),
        json!({"contentMessage":{"text":"a","suggestions":[{"action":{"text":"a","postbackData":"p","viewLocationAction":{"latLong":{"latitude":91,"longitude":0}}}}]}}),
        json!({"contentMessage":{"text":"a","suggestions":[{"action":{"text":"a","postbackData":"p",
            "createCalendarEventAction":{"startTime":"2026-01-01T11:00:00Z","endTime":"2026-01-01T10:00:00Z","title":"t"}}}]}}),
        json!({"contentMessage":{"text":"a"},"ttl":"an hour"}),
        json!({"contentMessage":{"text":"a"},"messageTrafficType":"SPAM"}),
        json!({"text":"a"}),
    ] {
        refused(body).await;
    }
    assert_eq!(rbm.counts().accepted, 0);
    // A message id is taken once.
    assert_eq!(
        post_message(&rbm, phone, ok, Some(&token), &text("hi"))
            .await
            .0,
        200
    );
    assert_eq!(
        post_message(&rbm, phone, ok, Some(&token), &text("hi again")).await,
        (409, RbmError::already_exists().to_json())
    );
}

#[tokio::test]
async fn scripts_refuse_per_recipient_prefix_and_leave_the_id_unused() {
    let (_tokens, rbm, token) = stand_ins(|options| {
        options.rules = vec![
            RbmRule::new("+3161", RbmScript::Refuse(RbmError::not_found())),
            RbmRule::new("+3162", RbmScript::Refuse(RbmError::rate_limited())),
            RbmRule::new("+3163", RbmScript::Refuse(RbmError::internal())),
            RbmRule::new("+3164", RbmScript::Refuse(RbmError::permission_denied())),
            RbmRule::new("+3165", RbmScript::Refuse(RbmError::unavailable())),
        ];
    })
    .await;
    let send = |phone: &'static str, id: &'static str| {
        let rbm = &rbm;
        let token = token.clone();
        async move {
            post_message(
                rbm,
                phone,
                &format!("messageId={id}&agentId=acme_agent"),
                Some(&token),
                &text("hi"),
            )
            .await
        }
    };
    assert_eq!(
        send("+31612345678", "a").await,
        (
            404,
            json!({"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}})
        )
    );
    assert_eq!(
        send("+31622345678", "b").await.1["error"]["status"],
        "RESOURCE_EXHAUSTED"
    );
    assert_eq!(send("+31622345678", "b").await.0, 429);
    assert_eq!(send("+31632345678", "c").await.0, 500);
    assert_eq!(send("+31642345678", "d").await.0, 403);
    assert_eq!(send("+31652345678", "e").await.0, 503);
    // The refused ids were not used: another recipient may take them.
    assert_eq!(send("+31699999999", "a").await.0, 200);
    let counts = rbm.counts();
    assert_eq!((counts.accepted, counts.refused), (1, 6));
}

/// The event in a webhook POST, read with tern-proto after checking its signature.
fn read_event(received: &tern_testkit::webhook::Received, client_token: &str) -> Event {
    let WebhookBody::Push(envelope) = WebhookBody::parse(&received.body).unwrap() else {
        panic!("not an envelope: {}", received.text());
    };
    let data = envelope.decoded_data().unwrap();
    let signature = received.header_values("x-goog-signature");
    assert_eq!(signature.len(), 1);
    assert!(verify_signature(
        client_token.as_bytes(),
        &data,
        signature[0]
    ));
    assert!(!verify_signature(b"another token", &data, signature[0]));
    assert!(
        envelope
            .subscription
            .ends_with("/subscriptions/rbm-agent-subscription")
    );
    Event::parse(&data).unwrap()
}

#[tokio::test]
async fn accepted_messages_get_their_events_signed_in_order_with_duplicates() {
    let receiver = WebhookReceiver::start().await;
    let (_tokens, rbm, token) = stand_ins(|options| {
        options.webhook_url = Some(receiver.url.clone());
        options.webhook_concurrency = 1;
        options.rules = vec![
            RbmRule::new(
                "+3161",
                RbmScript::accept(
                    vec![
                        AgentEvent::Read,
                        AgentEvent::Delivered,
                        AgentEvent::Delivered,
                    ],
                    Duration::from_millis(10),
                ),
            ),
            RbmRule::new(
                "+3162",
                RbmScript::accept(vec![AgentEvent::TtlExpirationRevoked], Duration::ZERO),
            ),
        ];
    })
    .await;
    let client_token = rbm.options().client_token.clone();
    assert_eq!(
        post_message(
            &rbm,
            "+31612345678",
            "messageId=read-first&agentId=acme_agent",
            Some(&token),
            &text("hi")
        )
        .await
        .0,
        200
    );
    let posts = rbm.wait_for_event_posts(3, WAIT).await;
    assert!(
        posts
            .iter()
            .all(|post| post.succeeded() && post.attempt == 1)
    );
    let received = receiver.wait_for(3, WAIT).await;
    let events: Vec<Event> = received
        .iter()
        .map(|r| read_event(r, &client_token))
        .collect();
    let kinds: Vec<(String, String, String)> = events
        .iter()
        .map(|event| {
            let Event::User(event) = event else {
                panic!("{event:?}")
            };
            assert_eq!(event.sender_phone_number, "+31612345678");
            assert_eq!(event.agent_id, "acme_agent");
            (
                event.event_type.name().to_owned(),
                event.message_id.clone(),
                event.event_id.clone(),
            )
        })
        .collect();
    assert_eq!(kinds[0].0, "READ");
    assert_eq!(kinds[1].0, "DELIVERED");
    assert_eq!(kinds[1], kinds[2], "a duplicate is the same event again");
    assert!(kinds.iter().all(|(_, id, _)| id == "read-first"));
    assert_ne!(kinds[0].2, kinds[1].2);

    post_message(
        &rbm,
        "+31622345678",
        "messageId=late&agentId=acme_agent",
        Some(&token),
        &text("hi"),
    )
    .await;
    let received = receiver.wait_for(4, WAIT).await;
    let Event::Server(revoked) = read_event(&received[3], &client_token) else {
        panic!("not a server event: {}", received[3].text());
    };
    assert_eq!(revoked.event_type.name(), "TTL_EXPIRATION_REVOKED");
    assert_eq!(
        (revoked.phone_number.as_str(), revoked.message_id.as_str()),
        ("+31622345678", "late")
    );
}

#[tokio::test]
async fn unacknowledged_events_are_posted_again() {
    let receiver = WebhookReceiver::start().await;
    receiver.answer_next(&[500, 503]);
    let (_tokens, rbm, token) = stand_ins(|options| {
        options.webhook_url = Some(receiver.url.clone());
        options.webhook_retries = 3;
        options.webhook_retry_delay = Duration::from_millis(20);
    })
    .await;
    post_message(
        &rbm,
        "+31612345678",
        "messageId=m&agentId=acme_agent",
        Some(&token),
        &text("hi"),
    )
    .await;
    let posts = rbm.wait_for_event_posts(1, WAIT).await;
    let answered: Vec<(Option<u16>, u32)> = posts.iter().map(|p| (p.answered, p.attempt)).collect();
    assert_eq!(answered, [(Some(500), 1), (Some(503), 2), (Some(200), 3)]);
    assert!(posts.windows(2).all(|pair| pair[0].body == pair[1].body));
    let counts = rbm.counts();
    assert_eq!(
        (
            counts.events_posted,
            counts.webhook_posts,
            counts.webhook_posts_ok,
            counts.webhook_posts_failed
        ),
        (1, 3, 1, 2)
    );
}

#[tokio::test]
async fn validation_and_user_messages_on_command() {
    let receiver = WebhookReceiver::start().await;
    let (_tokens, rbm, _token) = stand_ins(|_| {}).await;
    // The webhook URL set after the start (as when Tern's port is known only once it runs).
    rbm.set_webhook_url(&receiver.url);
    let client_token = rbm.options().client_token.clone();
    let post = rbm.send_validation("1234567890").await;
    assert_eq!(
        (post.kind, post.answered),
        (RbmWebhookKind::Validation, Some(200))
    );
    let validation = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(
        WebhookBody::parse(&validation.body).unwrap(),
        WebhookBody::Validation(tern_proto::rbm::ValidationRequest {
            client_token: client_token.clone(),
            secret: "1234567890".into()
        })
    );
    rbm.send_validation_with("wrong", "1").await;
    let contents = [
        UserMessageContent::Text("hello".into()),
        UserMessageContent::SuggestionResponse {
            postback_data: "track_123".into(),
            text: "Track".into(),
            response_type: "REPLY".into(),
        },
        UserMessageContent::Location {
            latitude: 51.6,
            longitude: 4.77,
        },
        UserMessageContent::UserFile {
            mime_type: "image/jpeg".into(),
            file_uri: "https://rcs.example/f.jpg".into(),
            file_name: "f.jpg".into(),
            file_size_bytes: 12345,
        },
    ];
    let mut ids = Vec::new();
    for content in &contents {
        let (event, post) = rbm.send_user_message("+31612345678", content).await;
        assert_eq!(post.kind, RbmWebhookKind::UserMessage);
        ids.push(event["messageId"].as_str().unwrap().to_owned());
    }
    let received = receiver.wait_for(6, WAIT).await;
    let messages: Vec<_> = received[2..]
        .iter()
        .map(|r| match read_event(r, &client_token) {
            Event::Message(message) => message,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(messages[0].content(), UserContent::Text("hello"));
    let UserContent::SuggestionResponse(tap) = messages[1].content() else {
        panic!()
    };
    assert_eq!(
        (tap.postback_data.as_str(), tap.text.as_str()),
        ("track_123", "Track")
    );
    let UserContent::Location(location) = messages[2].content() else {
        panic!()
    };
    assert_eq!((location.latitude, location.longitude), (51.6, 4.77));
    let UserContent::File(file) = messages[3].content() else {
        panic!()
    };
    assert_eq!(
        (
            file.file_uri.as_str(),
            file.mime_type.as_str(),
            file.file_size_bytes
        ),
        ("https://rcs.example/f.jpg", "image/jpeg", Some(12345))
    );
    for (message, id) in messages.iter().zip(&ids) {
        assert_eq!(&message.message_id, id);
        assert_eq!(message.sender_phone_number, "+31612345678");
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4);
    // A badly signed event does not verify.
    let event = rbm.user_message_event("+31612345678", &contents[0]);
    rbm.send_event_badly_signed(&event).await;
    let received = receiver.wait_for(7, WAIT).await;
    let WebhookBody::Push(envelope) = WebhookBody::parse(&received[6].body).unwrap() else {
        panic!()
    };
    assert!(!verify_signature(
        client_token.as_bytes(),
        &envelope.decoded_data().unwrap(),
        received[6].header_values("x-goog-signature")[0]
    ));
}

#[tokio::test]
async fn counts_only_mode_keeps_no_log() {
    let receiver = WebhookReceiver::start().await;
    let (_tokens, rbm, token) = stand_ins(|options| {
        options.webhook_url = Some(receiver.url.clone());
        options.record = false;
        options.default_script = RbmScript::accept(
            vec![AgentEvent::Delivered, AgentEvent::Read],
            Duration::ZERO,
        );
    })
    .await;
    for index in 0..20 {
        post_message(
            &rbm,
            "+31612345678",
            &format!("messageId=m{index}&agentId=acme_agent"),
            Some(&token),
            &text("hi"),
        )
        .await;
    }
    let counts = rbm
        .wait_for_counts("40 events", WAIT, |counts| counts.events_posted == 40)
        .await;
    assert_eq!(
        (counts.requests, counts.accepted, counts.webhook_posts_ok),
        (20, 20, 40)
    );
    assert!(rbm.events().is_empty());
    assert_eq!(receiver.received().len(), 40);
}

#[tokio::test]
async fn what_tern_makes_of_cm_content_rbm_accepts() {
    use tern_core::message::{Content, MessageId};
    use tern_core::rbm::{agent_messages_for, rbm_number};
    let (_tokens, rbm, token) = stand_ins(|_| {}).await;
    let card = json!({"header":"Shoes","text":"Red ones","media":{"mediaUri":"https://x/s.png","mimeType":"image/png"},
        "suggestions":[{"action":"Reply","label":"Buy these shoes right now please","postbackdata":"buy"},
                       {"action":"OpenUrl","label":"More","url":"https://cm.com/shoes"}]});
    let every_suggestion = json!([
        {"action":"reply","label":"Track","postbackdata":"track_123"},
        {"action":"openUrl","label":"Open site","url":"https://cm.com"},
        {"action":"Dial","label":"Call us","dial":{"phoneNumber":"0031765727000"}},
        {"action":"ViewLocation","label":"Find us","viewLocation":{"latitude":"51.6","longitude":"4.77"}},
        {"action":"viewlocation","viewLocation":{"searchQuery":"CM Breda"}},
        {"action":"CreateCalendarEvent","label":"Save date","calendar":{"startTime":"2026-01-01T10:00:00Z",
            "endTime":"2026-01-01T11:00:00Z","title":"Demo","description":"d"}},
    ]);
    let contents = [
        (String::from("Hello"), None),
        (
            String::new(),
            Some(json!({"conversation":[
                {"text":"Your order"},
                {"media":{"mediaName":"i.pdf","mediaUri":"https://x/i.pdf","mimeType":"application/pdf"}},
                {"location":{"latitude":51.6,"longitude":4.77,"label":"CM HQ"}},
                {"contacts":[{"name":{"formatted_name":"Ann"},"phones":[{"phone":"+31612345678"}]}]},
                {"interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[
                    {"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}},
                card.clone(),
                {"carousel":{"cardWidth":"small","cards":[card.clone(), {"header":"Hat"}]}},
                card.clone(), card.clone(), {"richCard":{"title":"Socks","media":{"mediaUri":"https://x/so.png"}}},
              ],
              "suggestions": every_suggestion})),
        ),
    ];
    let expire = "2030-01-01T00:00:00Z".parse().unwrap();
    let mut posted = 0;
    for (body, rich) in contents {
        let content = Content {
            from: "Tern".into(),
            body,
            body_type: None,
            dcs: None,
            app_key: None,
            rich_content: rich.map(|rich| rich.to_string()),
            custom_groupings: [None, None, None],
            udh: None,
        };
        let id = MessageId::generate();
        let phone = rbm_number("0031612345678").unwrap();
        for outgoing in agent_messages_for(&content, id, Some(expire)).unwrap() {
            let (status, answer) = post_message(
                &rbm,
                &phone,
                &format!("messageId={}&agentId=acme_agent", outgoing.message_id),
                Some(&token),
                &outgoing.message.to_json(),
            )
            .await;
            assert_eq!(status, 200, "{}: {answer}", outgoing.message.to_json());
            posted += 1;
        }
    }
    // The body; then text, file, location, contacts, interactive, card, carousel, and the three
    // consecutive cards as one carousel.
    assert_eq!(posted, 1 + 8);
}
