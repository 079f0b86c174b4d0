//! The submission service (`tern_core::submitter`) over the real SQLite store: what it answers
//! each surface, what it stores (and does not), and when it wakes the dispatcher. Time and ids
//! are fixed, so every outcome is asserted exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use jiff::Timestamp;
use tern_core::account::{Account, NewAccount, ProductToken, ReportFormat};
use tern_core::blocklist::BlockScope;
use tern_core::channel::Channel;
use tern_core::error_code::{Rejection, RequestError, SmppStatus, Surface};
use tern_core::message::{MessageFilter, MessageId, MessageRecord};
use tern_core::money::Money;
use tern_core::ports::{AccountStore, BlocklistStore, IntakeStore, Store};
use tern_core::short_message::{ShortMessage, SmsBodyError};
use tern_core::submission::{RecipientResult, RequestLimits, SubmissionPolicy};
use tern_core::submitter::{Clock, MessageIds, Submission, Submitted, Submitter, Wake};
use tern_proto::cm::json::parse_submit;
use tern_store::SqliteStore;

const TOKEN: &str = "8a1e7b4c-2f4d-4b8e-9c1a-3d5e6f708192";
const UNKNOWN_TOKEN: &str = "00000000-0000-0000-0000-000000000000";

fn now() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        now()
    }
}

/// Counts the wake-ups.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn accepted(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Ids 1, 2, 3, … in the order they are asked for.
#[derive(Default)]
struct SequentialIds(AtomicU64);

impl MessageIds for SequentialIds {
    fn next_id(&self) -> MessageId {
        id(self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

fn id(n: u64) -> MessageId {
    MessageId(uuid::Uuid::from_u128(u128::from(n)))
}

struct Gateway {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    wakes: Arc<Wakes>,
    submitter: Submitter,
    account: Account,
}

async fn gateway(balance: Option<Money>, limits: RequestLimits) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let token: ProductToken = TOKEN.parse().unwrap();
    let account = store
        .create_account(NewAccount {
            name: "acme".into(),
            token_hash: token.hash(),
            balance,
            status_url: None,
            status_format: ReportFormat::Json,
            inbound_url: None,
            inbound_numbers: Vec::new(),
            channels: Channel::ALL.to_vec(),
            smpp: None,
            webhook_secret: None,
        })
        .await
        .unwrap();
    let wakes = Arc::new(Wakes::default());
    let submitter = Submitter::new(
        Arc::clone(&store) as Arc<dyn AccountStore>,
        Arc::clone(&store) as Arc<dyn IntakeStore>,
        Arc::new(FixedClock),
        Arc::clone(&wakes) as Arc<dyn Wake>,
        Arc::new(SequentialIds::default()),
        SubmissionPolicy {
            price_per_part: "0.01".parse().unwrap(),
            limits,
        },
    )
    .with_blocklist(Arc::clone(&store) as Arc<dyn BlocklistStore>);
    Gateway {
        _dir: dir,
        store,
        wakes,
        submitter,
        account,
    }
}

impl Gateway {
    async fn submit(&self, msgs: &str, surface: Surface) -> Result<Submitted, RequestError> {
        self.submit_as(TOKEN, msgs, surface).await
    }

    async fn submit_as(
        &self,
        token: &str,
        msgs: &str,
        surface: Surface,
    ) -> Result<Submitted, RequestError> {
        let body = format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{msgs}]}}}}"#
        );
        let request = parse_submit(body.as_bytes()).unwrap();
        self.submitter
            .submit(Submission::Cm(request), surface)
            .await
    }

    async fn stored(&self) -> Vec<MessageRecord> {
        self.store
            .messages(
                self.account.id,
                MessageFilter {
                    limit: 100,
                    ..MessageFilter::default()
                },
            )
            .await
            .unwrap()
    }

    fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }
}

const GOOD: &str =
    r#"{"from":"Tern","to":[{"number":"0031612345678"}],"body":{"content":"Hi"},"reference":"r1"}"#;
const EMPTY_BODY: &str =
    r#"{"from":"Tern","to":[{"number":"0031612345679"}],"body":{"content":""}}"#;

#[tokio::test]
async fn json_is_answered_per_recipient_and_stores_the_accepted_ones() {
    let gateway = gateway(None, RequestLimits::default()).await;
    let submitted = gateway
        .submit(&format!("{GOOD},{EMPTY_BODY}"), Surface::Json)
        .await;
    assert_eq!(
        submitted,
        Ok(Submitted::PerRecipient(vec![
            RecipientResult::Accepted {
                id: id(1),
                to: "0031612345678".into(),
                reference: Some("r1".into()),
                parts: 1,
            },
            RecipientResult::Rejected {
                to: "0031612345679".into(),
                reference: None,
                rejection: Rejection::EmptyBody,
            },
        ]))
    );
    let stored = gateway.stored().await;
    assert_eq!(stored.len(), 1);
    let message = &stored[0].message;
    assert_eq!(message.id, id(1));
    assert_eq!(message.account_id, gateway.account.id);
    assert_eq!(message.recipient, "0031612345678");
    assert_eq!(message.content.body, "Hi");
    assert_eq!(message.accepted_at, now());
    assert_eq!(message.price, "0.01".parse().unwrap());
    assert_eq!(gateway.wakes(), 1);
}

#[tokio::test]
async fn json_with_every_recipient_rejected_stores_nothing_and_wakes_no_one() {
    let gateway = gateway(None, RequestLimits::default()).await;
    let submitted = gateway.submit(EMPTY_BODY, Surface::Json).await;
    assert_eq!(
        submitted,
        Ok(Submitted::PerRecipient(vec![RecipientResult::Rejected {
            to: "0031612345679".into(),
            reference: None,
            rejection: Rejection::EmptyBody,
        }]))
    );
    assert!(gateway.stored().await.is_empty());
    assert_eq!(gateway.wakes(), 0);
}

#[tokio::test]
async fn xml_and_get_are_all_or_nothing() {
    for surface in [Surface::Xml, Surface::Get] {
        let gateway = gateway(None, RequestLimits::default()).await;
        let submitted = gateway
            .submit(&format!("{GOOD},{EMPTY_BODY}"), surface)
            .await;
        assert_eq!(
            submitted,
            Ok(Submitted::Refused(Rejection::EmptyBody)),
            "{surface:?}"
        );
        assert!(gateway.stored().await.is_empty(), "{surface:?}");
        assert_eq!(gateway.wakes(), 0, "{surface:?}");

        assert_eq!(
            gateway.submit(GOOD, surface).await,
            Ok(Submitted::AllStored),
            "{surface:?}"
        );
        let stored = gateway.stored().await;
        assert_eq!(
            stored.iter().map(|r| r.message.id).collect::<Vec<_>>(),
            // Id 1 went to the accepted recipient of the refused request, which was not stored.
            vec![id(2)],
            "{surface:?}"
        );
        assert_eq!(gateway.wakes(), 1, "{surface:?}");
    }
}

#[tokio::test]
async fn a_blocked_recipient_is_rejected_with_402_before_it_is_stored_or_billed() {
    let gateway = gateway(Some("1".parse().unwrap()), RequestLimits::default()).await;
    gateway
        .store
        .block(
            BlockScope::Account(gateway.account.id),
            vec!["0031612345678".into()],
            now(),
        )
        .await
        .unwrap();
    gateway
        .store
        .block(BlockScope::Global, vec!["0031600000009".into()], now())
        .await
        .unwrap();
    let free = r#"{"from":"Tern","to":[{"number":"+31612345679"}],"body":{"content":"Hi"}}"#;
    let global = r#"{"from":"Tern","to":[{"number":"+31600000009"}],"body":{"content":"Hi"}}"#;
    // The number in another form is the same number.
    let blocked = r#"{"from":"Tern","to":[{"number":"+31612345678"}],"body":{"content":"Hi"},"reference":"r2"}"#;
    assert_eq!(
        gateway
            .submit(&format!("{blocked},{free},{global}"), Surface::Json)
            .await,
        Ok(Submitted::PerRecipient(vec![
            RecipientResult::Rejected {
                to: "+31612345678".into(),
                reference: Some("r2".into()),
                rejection: Rejection::Blacklisted,
            },
            RecipientResult::Accepted {
                id: id(2),
                to: "+31612345679".into(),
                reference: None,
                parts: 1,
            },
            RecipientResult::Rejected {
                to: "+31600000009".into(),
                reference: None,
                rejection: Rejection::Blacklisted,
            },
        ]))
    );
    let stored = gateway.stored().await;
    assert_eq!(
        stored.iter().map(|r| r.message.id).collect::<Vec<_>>(),
        vec![id(2)]
    );
    // Only the accepted part was billed.
    let account = gateway
        .store
        .account_by_token(gateway.account.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.balance, Some("0.99".parse().unwrap()));
    // All or nothing: the blocked recipient sinks the request.
    for surface in [Surface::Xml, Surface::Get] {
        assert_eq!(
            gateway.submit(blocked, surface).await,
            Ok(Submitted::Refused(Rejection::Blacklisted)),
            "{surface:?}"
        );
    }
    assert_eq!(gateway.stored().await.len(), 1);
}

#[tokio::test]
async fn get_rules_apply_to_get_only() {
    let two_numbers = r#"{"from":"Tern","to":[{"number":"0031612345678"},{"number":"0031612345679"}],"body":{"content":"Hi"}}"#;
    let gateway = gateway(None, RequestLimits::default()).await;
    assert_eq!(
        gateway.submit(two_numbers, Surface::Get).await,
        Ok(Submitted::Refused(Rejection::NotANumber(
            "0031612345678,0031612345679".into()
        )))
    );
    assert!(gateway.stored().await.is_empty());
    assert_eq!(
        gateway.submit(two_numbers, Surface::Xml).await,
        Ok(Submitted::AllStored)
    );
    assert_eq!(gateway.stored().await.len(), 2);
}

#[tokio::test]
async fn authentication_is_one_lookup_with_typed_failures() {
    let gateway = gateway(None, RequestLimits::default()).await;
    let account = gateway.submitter.authenticate(Some(TOKEN)).await.unwrap();
    assert_eq!(account.id, gateway.account.id);
    assert_eq!(
        gateway.submitter.authenticate(None).await.unwrap_err(),
        RequestError::InvalidProductToken
    );
    assert_eq!(
        gateway
            .submitter
            .authenticate(Some("abc"))
            .await
            .unwrap_err(),
        RequestError::InvalidProductToken
    );
    assert_eq!(
        gateway
            .submitter
            .authenticate(Some(UNKNOWN_TOKEN))
            .await
            .unwrap_err(),
        RequestError::NoAccount
    );
    assert_eq!(
        gateway.submit_as(UNKNOWN_TOKEN, GOOD, Surface::Json).await,
        Err(RequestError::NoAccount)
    );
    assert!(gateway.stored().await.is_empty());
    assert_eq!(gateway.wakes(), 0);
}

#[tokio::test]
async fn request_limits_refuse_the_whole_request() {
    let limits = RequestLimits {
        max_msgs_per_request: 1,
        ..RequestLimits::default()
    };
    let gateway = gateway(None, limits).await;
    assert_eq!(
        gateway
            .submit(&format!("{GOOD},{GOOD}"), Surface::Json)
            .await,
        Err(RequestError::TooManyMsgs { limit: 1 })
    );
    assert!(gateway.stored().await.is_empty());
}

#[tokio::test]
async fn a_balance_that_cannot_pay_stores_nothing() {
    let gateway = gateway(Some("0".parse().unwrap()), RequestLimits::default()).await;
    assert_eq!(
        gateway.submit(GOOD, Surface::Json).await,
        Err(RequestError::InsufficientBalance)
    );
    assert!(gateway.stored().await.is_empty());
    // The write was handed to the store: the dispatcher is woken whatever its answer.
    assert_eq!(gateway.wakes(), 1);
}

#[tokio::test]
async fn a_submission_for_an_authenticated_account_does_not_look_its_token_up_again() {
    let gateway = gateway(None, RequestLimits::default()).await;
    // The request's own token names no account: it is not looked at.
    let body = format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"00000000-0000-0000-0000-000000000000"}},"msg":[{GOOD}]}}}}"#
    );
    let request = parse_submit(body.as_bytes()).unwrap();
    assert_eq!(
        gateway
            .submitter
            .submit_as(&gateway.account, Submission::Cm(request), Surface::Xml)
            .await,
        Ok(Submitted::AllStored)
    );
    let stored = gateway.stored().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message.account_id, gateway.account.id);
    assert_eq!(gateway.wakes(), 1);
}

/// A short message from `Tern` with `data_coding` and `user_data` to `to`.
fn short_message(to: &[&str], data_coding: u8, user_data: &[u8]) -> ShortMessage {
    ShortMessage {
        from: "Tern".into(),
        to: to.iter().map(|number| (*number).to_owned()).collect(),
        data_coding,
        user_data: user_data.to_vec(),
        udh: None,
        reference: None,
        valid_until: None,
        registered_delivery: 0,
    }
}

impl Gateway {
    async fn submit_sms(&self, message: ShortMessage) -> Result<Submitted, RequestError> {
        self.submitter
            .submit_as(&self.account, Submission::Sms(message), Surface::Smpp)
            .await
    }
}

#[tokio::test]
async fn a_short_message_is_stored_as_its_data_coding_reads() {
    let gateway = gateway(None, RequestLimits::default()).await;
    // GSM, one septet per octet: '@' is 0x00 (lost by many gateways), '€' the escape pair.
    let gsm = short_message(&["0031612345678"], 0, &[0x00, 0x1B, 0x65, 0x41]);
    // UCS2 (UTF-16BE) "Привет".
    let ucs2: Vec<u8> = "Привет".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let ucs2 = short_message(&["0031612345679"], 8, &ucs2);
    // 8-bit data (SMPP's 2), stored as hex like CM's BINARY bodies.
    let binary = short_message(&["0031612345670"], 2, &[0xCA, 0xFE, 0x00]);
    // Latin-1: sent as GSM when it fits, else UCS2 (AUTO).
    let latin1 = short_message(&["0031612345671"], 3, &[0x63, 0x61, 0x66, 0xE9]);
    for message in [gsm, ucs2, binary, latin1] {
        assert!(matches!(
            gateway.submit_sms(message).await,
            Ok(Submitted::PerRecipient(results)) if matches!(results[..], [RecipientResult::Accepted { parts: 1, .. }])
        ));
    }
    let stored = gateway.stored().await;
    let contents: Vec<(&str, Option<&str>, Option<u8>)> = stored
        .iter()
        .map(|record| {
            let content = &record.message.content;
            (
                content.body.as_str(),
                content.body_type.as_deref(),
                content.dcs,
            )
        })
        .collect();
    assert_eq!(
        contents,
        vec![
            ("@€A", None, Some(0)),
            ("Привет", None, Some(8)),
            ("CAFE00", Some("BINARY"), Some(4)),
            ("café", Some("AUTO"), None),
        ]
    );
    assert!(stored.iter().all(|record| {
        record.message.channels == [Channel::Sms] && record.message.content.from == "Tern"
    }));
    assert_eq!(gateway.wakes(), 4);
}

#[tokio::test]
async fn a_part_its_client_concatenates_keeps_its_header_and_must_fit_one_part() {
    let gateway = gateway(None, RequestLimits::default()).await;
    let udh = vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
    // 153 GSM septets fit beside a 6-octet header; 154 do not.
    let mut fits = short_message(&["0031612345678"], 0, &[0x41; 153]);
    fits.udh = Some(udh.clone());
    let mut too_long = short_message(&["0031612345679"], 0, &[0x41; 154]);
    too_long.udh = Some(udh.clone());
    let mut bad_header = short_message(&["0031612345670"], 0, b"A");
    bad_header.udh = Some(vec![0x05, 0x00, 0x03]);
    assert_eq!(
        gateway.submit_sms(fits).await,
        Ok(Submitted::PerRecipient(vec![RecipientResult::Accepted {
            id: id(1),
            to: "0031612345678".into(),
            reference: None,
            parts: 1,
        }]))
    );
    for (message, error, status) in [
        (
            too_long,
            SmsBodyError::NotOnePart,
            SmppStatus::InvalidMessageLength,
        ),
        (
            bad_header,
            SmsBodyError::InvalidUdh,
            SmppStatus::InvalidMessageLength,
        ),
    ] {
        let Ok(Submitted::PerRecipient(results)) = gateway.submit_sms(message).await else {
            panic!("answered per destination")
        };
        let [RecipientResult::Rejected { rejection, .. }] = &results[..] else {
            panic!("{results:?}")
        };
        assert_eq!(rejection, &Rejection::SmsBody(error));
        assert_eq!(rejection.smpp_status(), status);
    }
    // Segment 1 of 2: stored as itself, with its header, and linked as that segment.
    let stored = gateway
        .store
        .message(gateway.account.id, id(1))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.message.content.udh.as_deref(), Some(&udh[..]));
    assert_eq!(stored.message.parts, 1);
    assert_eq!(
        stored.message.segment,
        Some(tern_core::message::Segment {
            reference: 0x2A,
            total: 2,
            seq: 1
        })
    );
    // The log shows it as its concatenated message, of the one segment stored so far.
    let logged = gateway.stored().await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].message.parts, 1);
    assert_eq!(
        logged[0].segments.as_ref().map(|segments| segments.len()),
        Some(1)
    );
}

#[tokio::test]
async fn a_long_short_message_without_a_header_is_split_and_paid_per_part() {
    let gateway = gateway(Some(Money(1_000_000)), RequestLimits::default()).await;
    let answer = gateway
        .submit_sms(short_message(&["0031612345678"], 0, &[0x41; 200]))
        .await;
    assert!(matches!(
        answer,
        Ok(Submitted::PerRecipient(results)) if matches!(results[..], [RecipientResult::Accepted { parts: 2, .. }])
    ));
    let stored = gateway.stored().await;
    assert_eq!(stored[0].message.price, "0.02".parse().unwrap());
    let accounts = gateway.store.accounts().await.unwrap();
    assert_eq!(accounts[0].balance, Some(Money(1_000_000 - 20_000)));
}

#[tokio::test]
async fn short_messages_are_judged_per_destination_with_smpp_statuses() {
    let gateway = gateway(None, RequestLimits::default()).await;
    let multi = short_message(&["0031612345678", "not-a-number", "+31612345679"], 0, b"Hi");
    let Ok(Submitted::PerRecipient(results)) = gateway.submit_sms(multi).await else {
        panic!("answered per destination")
    };
    let statuses: Vec<Option<SmppStatus>> = results
        .iter()
        .map(|result| match result {
            RecipientResult::Accepted { .. } => None,
            RecipientResult::Rejected { rejection, .. } => Some(rejection.smpp_status()),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![None, Some(SmppStatus::InvalidDestinationAddress), None]
    );
    assert_eq!(gateway.stored().await.len(), 2);

    // What rejects the message rejects every destination, with the status that says why.
    let mut expired = short_message(&["0031612345678"], 0, b"Hi");
    expired.valid_until = Some(now());
    let mut no_sender = short_message(&["0031612345678"], 0, b"Hi");
    no_sender.from = " ".into();
    let cases = [
        (
            short_message(&["0031612345678"], 5, b"Hi"),
            SmppStatus::SubmitFailed,
        ),
        (
            short_message(&["0031612345678"], 8, &[0x04]),
            SmppStatus::InvalidMessageLength,
        ),
        (
            short_message(&["0031612345678"], 0, b""),
            SmppStatus::InvalidMessageLength,
        ),
        (expired, SmppStatus::InvalidExpiry),
        (no_sender, SmppStatus::InvalidSourceAddress),
    ];
    for (message, status) in cases {
        let Ok(Submitted::PerRecipient(results)) = gateway.submit_sms(message.clone()).await else {
            panic!("answered per destination")
        };
        let [RecipientResult::Rejected { rejection, .. }] = &results[..] else {
            panic!("{message:?}: {results:?}")
        };
        assert_eq!(rejection.smpp_status(), status, "{message:?}");
    }
    assert_eq!(gateway.stored().await.len(), 2, "nothing more stored");
}

#[tokio::test]
async fn a_short_message_needs_its_account_not_a_token() {
    let gateway = gateway(None, RequestLimits::default()).await;
    assert_eq!(
        gateway
            .submitter
            .submit(
                Submission::Sms(short_message(&["0031612345678"], 0, b"Hi")),
                Surface::Smpp
            )
            .await,
        Err(RequestError::InvalidProductToken)
    );
    assert!(gateway.stored().await.is_empty());
}

/// Idempotent submits (`Submitter::submit_once`): what a keyed request answers and stores.
mod idempotent {
    use tern_core::idempotency::{IdempotencyKey, KeyRecord, Reply, RequestHash};

    use super::*;

    const MSG: &str = r#"{"from":"Tern","to":[{"number":"0031612345678"},{"number":"0031612345679"}],"body":{"content":"Hi"}}"#;

    /// The reply a surface would render: the ids of the accepted recipients.
    fn render(submitted: Submitted) -> Reply {
        let body = match submitted {
            Submitted::PerRecipient(results) => results
                .iter()
                .map(|result| match result {
                    RecipientResult::Accepted { id, .. } => id.to_string(),
                    RecipientResult::Rejected { .. } => "rejected".into(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => format!("{other:?}"),
        };
        Reply {
            status: 200,
            content_type: "text/plain".into(),
            body: body.into_bytes(),
        }
    }

    async fn submit_once(gateway: &Gateway, key: &str, msgs: &str) -> Result<Reply, RequestError> {
        let body = format!(
            r#"{{"messages":{{"authentication":{{"producttoken":"{TOKEN}"}},"msg":[{msgs}]}}}}"#
        );
        let request = parse_submit(body.as_bytes()).unwrap();
        gateway
            .submitter
            .submit_once(
                &gateway.account,
                Submission::Cm(request),
                Surface::Json,
                IdempotencyKey::parse(key.as_bytes()).unwrap(),
                RequestHash::of(body.as_bytes()),
                render,
            )
            .await
    }

    #[tokio::test]
    async fn a_repeat_is_answered_from_the_store_and_creates_nothing() {
        let gateway = gateway(Some(Money(1_000_000)), RequestLimits::default()).await;
        let first = submit_once(&gateway, "k", MSG).await.unwrap();
        assert_eq!(
            String::from_utf8(first.body.clone()).unwrap(),
            format!("{},{}", id(1), id(2))
        );
        assert_eq!(submit_once(&gateway, "k", MSG).await, Ok(first.clone()));
        assert_eq!(gateway.stored().await.len(), 2);
        // Charged once.
        let balance = gateway.store.accounts().await.unwrap()[0].balance;
        assert_eq!(balance, Some(Money(1_000_000 - 2 * 10_000)));
        // Another body under the key: refused, nothing created.
        let other = MSG.replace("Hi", "Ho");
        assert_eq!(
            submit_once(&gateway, "k", &other).await,
            Err(RequestError::IdempotencyKeyReused)
        );
        assert_eq!(gateway.stored().await.len(), 2);
        // The record holds what was answered.
        let record = gateway
            .store
            .key_record(
                gateway.account.id,
                &IdempotencyKey::parse(b"k").unwrap(),
                KeyRecord::forgotten_before(now()),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!((record.reply, record.created_at), (first, now()));
    }

    #[tokio::test]
    async fn nothing_created_is_not_remembered() {
        let gateway = gateway(None, RequestLimits::default()).await;
        let rejected = r#"{"from":"Tern","to":[{"number":"x"}],"body":{"content":"Hi"}}"#;
        assert_eq!(
            submit_once(&gateway, "k", rejected).await.unwrap().body,
            b"rejected".to_vec()
        );
        assert_eq!(
            gateway
                .store
                .key_record(
                    gateway.account.id,
                    &IdempotencyKey::parse(b"k").unwrap(),
                    KeyRecord::forgotten_before(now())
                )
                .await
                .unwrap(),
            None
        );
        assert!(submit_once(&gateway, "k", MSG).await.is_ok());
        assert_eq!(gateway.stored().await.len(), 2);
    }

    #[tokio::test]
    async fn concurrent_repeats_wait_for_the_first() {
        let gateway = Arc::new(gateway(None, RequestLimits::default()).await);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let gateway = Arc::clone(&gateway);
                tokio::spawn(async move { submit_once(&gateway, "k", MSG).await })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.unwrap().unwrap());
        }
        assert!(replies.iter().all(|reply| *reply == replies[0]));
        assert_eq!(gateway.stored().await.len(), 2);
    }
}
