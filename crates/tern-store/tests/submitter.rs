//! The submission service (`tern_core::submitter`) over the real SQLite store: what it answers
//! each surface, what it stores (and does not), and when it wakes the dispatcher. Time and ids
//! are fixed, so every outcome is asserted exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use jiff::Timestamp;
use tern_core::account::{Account, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::error_code::{Rejection, RequestError, Surface};
use tern_core::message::{MessageFilter, MessageId, MessageRecord};
use tern_core::money::Money;
use tern_core::ports::{AccountStore, IntakeStore, Store};
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
            channels: Channel::ALL.to_vec(),
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
    );
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
