//! The submission service: the one use case every surface that takes messages in calls
//! (authenticate → surface rules → request limits → validate → routes → blocklists → store →
//! wake the dispatcher), so
//! that HTTP handlers (and later an SMPP session) only parse and render. It works over ports: the
//! store's [`AccountStore`] and [`IntakeStore`], a [`Clock`], a [`Wake`] for the dispatcher and
//! the [`MessageIds`] that name accepted messages, which keeps [`submission::validate`]
//! deterministic given its inputs.

use std::sync::Arc;

use jiff::Timestamp;
use tern_proto::cm::submission::SubmitRequest;

use crate::account::Account;
use crate::blocklist;
use crate::error_code::{Rejection, RequestError, Surface};
use crate::idempotency::{IdempotencyKey, KeyRecord, KeysInFlight, Reply, RequestHash};
use crate::message::{MessageId, NewMessage};
use crate::metrics::{self, AcceptedCounts};
use crate::ports::{AcceptError, AccountStore, BlocklistStore, IntakeStore, StoreError};
use crate::routing::RoutingTable;
use crate::short_message::{self, ShortMessage};
use crate::submission::{self, RecipientOutcome, RecipientResult, SubmissionPolicy};

/// The time, as the service sees it (the system clock in the gateway, a fixed one in tests).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Told when messages were handed to the store, to wake the dispatcher.
pub trait Wake: Send + Sync + 'static {
    /// Messages were stored (or their write was handed to the store): new work may be due.
    fn accepted(&self);
}

/// Where the ids of accepted messages come from.
pub trait MessageIds: Send + Sync + 'static {
    /// A new id, never handed out before.
    fn next_id(&self) -> MessageId;
}

/// The gateway's ids: UUIDv7, time-ordered so inserts stay append-only.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeOrderedIds;

impl MessageIds for TimeOrderedIds {
    fn next_id(&self) -> MessageId {
        MessageId::generate()
    }
}

/// A request to send messages, as a surface hands it to the [`Submitter`].
///
/// Each surface brings its messages in its own form, judged by the rules that belong to it:
///
/// - [`Submission::Cm`]: a request of CM's JSON, XML or GET interface as its client wrote it
///   (every field with the wire type it came in), judged by CM's field rules with CM's codes.
///   The product token it carries is authenticated per request.
/// - [`Submission::Sms`]: a short message as octets with their `data_coding`, a user data header
///   apart, and destinations (an SMPP `submit_sm` or `submit_multi`), judged by
///   [`short_message`]'s rules. It carries no credentials: its session authenticated the account
///   at bind time, so it is submitted with [`Submitter::submit_as`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Submission {
    Cm(SubmitRequest),
    Sms(ShortMessage),
}

/// What became of a submission, for its surface to render. The surface decides the form: JSON
/// answers per recipient; XML and GET are all-or-nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Per recipient, in request order; the accepted ones are stored (JSON).
    PerRecipient(Vec<RecipientResult>),
    /// Every recipient was accepted and stored (all-or-nothing surfaces).
    AllStored,
    /// The first rejection in request order; nothing was stored (all-or-nothing surfaces).
    Refused(Rejection),
}

/// Whether a surface takes a request all-or-nothing: one rejection sinks it, nothing is stored.
fn all_or_nothing(surface: Surface) -> bool {
    matches!(surface, Surface::Xml | Surface::Get)
}

/// The submission service. One per gateway, shared by every surface.
pub struct Submitter {
    accounts: Arc<dyn AccountStore>,
    intake: Arc<dyn IntakeStore>,
    clock: Arc<dyn Clock>,
    wake: Arc<dyn Wake>,
    ids: Arc<dyn MessageIds>,
    policy: SubmissionPolicy,
    /// Which channels carry which messages; `None`: every channel carries every message.
    routes: Option<Arc<RoutingTable>>,
    /// The numbers accounts may not send to; `None`: no number is blocked.
    blocklist: Option<Arc<dyn BlocklistStore>>,
    /// Idempotency keys whose requests are being handled (see [`Submitter::submit_once`]).
    keys: KeysInFlight,
}

impl Submitter {
    pub fn new(
        accounts: Arc<dyn AccountStore>,
        intake: Arc<dyn IntakeStore>,
        clock: Arc<dyn Clock>,
        wake: Arc<dyn Wake>,
        ids: Arc<dyn MessageIds>,
        policy: SubmissionPolicy,
    ) -> Self {
        Submitter {
            accounts,
            intake,
            clock,
            wake,
            ids,
            policy,
            routes: None,
            blocklist: None,
            keys: KeysInFlight::default(),
        }
    }

    /// Reject the recipients on the account's blocklist or the global one, per recipient, with
    /// `Message has been blacklisted` (402), before anything is stored or billed
    /// ([`blocklist::screen`]). Without this, no number is blocked.
    pub fn with_blocklist(mut self, blocklist: Arc<dyn BlocklistStore>) -> Self {
        self.blocklist = Some(blocklist);
        self
    }

    /// Refuse what `routes` cannot carry: an accepted message keeps only its allowed channels
    /// that have a route for it, and one left with none is `Message is unroutable.`
    /// ([`submission::keep_routable`]). Without this, every channel carries every message.
    pub fn with_routes(mut self, routes: Arc<RoutingTable>) -> Self {
        self.routes = Some(routes);
        self
    }

    /// What messages cost and the request limits (an SMPP replace_sm prices its new content by
    /// it, as a submission is).
    pub fn policy(&self) -> &SubmissionPolicy {
        &self.policy
    }

    /// The account of a product token: the one token → account lookup of the gateway.
    /// [`RequestError::InvalidProductToken`] when it is absent or not a GUID,
    /// [`RequestError::NoAccount`] when no account has it, [`RequestError::Unknown`] when the
    /// store failed (logged here).
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Account, RequestError> {
        let token = submission::product_token(token)?;
        self.accounts
            .account_by_token(token.hash())
            .await
            .map_err(|error| {
                tracing::error!(%error, "account lookup failed");
                RequestError::Unknown
            })?
            .ok_or(RequestError::NoAccount)
    }

    /// Judge a submission arriving on `surface` and store what it accepts, durably, before
    /// returning; the dispatcher is woken once the write was handed to the store, even if this
    /// future is dropped before the store answers (a client that went away).
    ///
    /// The submission is dropped once judged, and the answer is built before the accepted
    /// messages are moved (not copied) into the store: a request's memory stays a small multiple
    /// of its size.
    pub async fn submit(
        &self,
        submission: Submission,
        surface: Surface,
    ) -> Result<Submitted, RequestError> {
        let token = match &submission {
            Submission::Cm(request) => request.product_token.as_deref(),
            // Credentials are the session's, not the message's.
            Submission::Sms(_) => None,
        };
        let account = match self.authenticate(token).await {
            Ok(account) => account,
            Err(error) => {
                metrics::rejected(surface, error.code(), 1);
                return Err(error);
            }
        };
        self.submit_as(&account, submission, surface).await
    }

    /// [`Submitter::submit`] for an account already authenticated (an XML request checked
    /// before its tree was built; later, an SMPP session bound to it): the request's own
    /// credentials are not looked up again.
    ///
    /// What it answers is counted in the gateway's metrics ([`metrics`]): the messages stored,
    /// each rejected recipient, or the request refused as a whole.
    pub async fn submit_as(
        &self,
        account: &Account,
        submission: Submission,
        surface: Surface,
    ) -> Result<Submitted, RequestError> {
        let submitted = self.judge_and_store(account, submission, surface).await;
        match &submitted {
            Ok(submitted) => count(surface, submitted),
            Err(error) => metrics::rejected(surface, error.code(), 1),
        }
        submitted
    }

    /// [`Submitter::submit_as`] without the counting.
    async fn judge_and_store(
        &self,
        account: &Account,
        submission: Submission,
        surface: Surface,
    ) -> Result<Submitted, RequestError> {
        let Judged {
            submitted,
            accepted,
        } = self.judge(account, submission, surface).await?;
        self.store(account, accepted, surface, None).await?;
        Ok(submitted)
    }

    /// [`Submitter::submit_as`] under an idempotency key (see [`crate::idempotency`]): `request`
    /// is the hash of the body as received, `render` makes the response the surface answers.
    ///
    /// Repeats of `key` wait for each other. A request whose key is stored (within its lifetime)
    /// is answered the stored response when its body is the same, and
    /// [`RequestError::IdempotencyKeyReused`] when not; it creates nothing. Otherwise it is judged
    /// as any other; its response is rendered before the accepted messages are stored, and
    /// stored with them in one transaction. A response that created no messages is answered but
    /// not remembered; errors are returned as [`Submitter::submit_as`] returns them (the surface
    /// renders them; they are not remembered either).
    pub async fn submit_once(
        &self,
        account: &Account,
        submission: Submission,
        surface: Surface,
        key: IdempotencyKey,
        request: RequestHash,
        render: impl FnOnce(Submitted) -> Reply,
    ) -> Result<Reply, RequestError> {
        let _turn = self.keys.turn(account.id, &key).await;
        let now = self.clock.now();
        if let Some(record) = self.key_record(account, &key, now).await? {
            return record.replay(request);
        }
        let Judged {
            submitted,
            accepted,
        } = self
            .judge(account, submission, surface)
            .await
            .inspect_err(|error| metrics::rejected(surface, error.code(), 1))?;
        count(surface, &submitted);
        let reply = render(submitted);
        if accepted.is_empty() {
            return Ok(reply);
        }
        let record = KeyRecord {
            key,
            request_hash: request,
            reply,
            created_at: now,
        };
        let (key, reply) = (record.key.clone(), record.reply.clone());
        match self.store(account, accepted, surface, Some(record)).await {
            Ok(()) => Ok(reply),
            // Another node stored the key first: its response is the answer.
            Err(StoreFailure::KeyTaken) => match self.key_record(account, &key, now).await? {
                Some(record) => record.replay(request),
                None => {
                    tracing::error!(%key, "an idempotency key taken but not found");
                    Err(RequestError::Unknown)
                }
            },
            Err(StoreFailure::Request(error)) => {
                metrics::rejected(surface, error.code(), 1);
                Err(error)
            }
        }
    }

    /// The stored record of `key`, if it is still remembered at `now`.
    async fn key_record(
        &self,
        account: &Account,
        key: &IdempotencyKey,
        now: Timestamp,
    ) -> Result<Option<KeyRecord>, RequestError> {
        self.intake
            .key_record(account.id, key, KeyRecord::forgotten_before(now))
            .await
            .map_err(|error| {
                tracing::error!(%error, "reading an idempotency key failed");
                RequestError::Unknown
            })
    }

    /// Forget up to `limit` idempotency keys past their lifetime at the clock's now; how many
    /// went (a sweeper calls it again while it returns `limit`).
    pub async fn forget_expired_keys(&self, limit: usize) -> Result<usize, StoreError> {
        self.intake
            .forget_keys(KeyRecord::forgotten_before(self.clock.now()), limit)
            .await
    }

    /// Judge a submission: the answer for its surface, and the messages to store.
    async fn judge(
        &self,
        account: &Account,
        submission: Submission,
        surface: Surface,
    ) -> Result<Judged, RequestError> {
        let outcomes = match submission {
            Submission::Cm(request) => {
                let msgs = submission::messages(&request, &self.policy.limits)?;
                if surface == Surface::Get
                    && let Err(rejection) = submission::check_get_rules(msgs)
                {
                    return Ok(Judged::refused(rejection));
                }
                submission::validate(
                    msgs,
                    account,
                    self.clock.now(),
                    &self.policy,
                    &*self.ids,
                    surface,
                )
            }
            Submission::Sms(message) => {
                let limit = self.policy.limits.max_recipients_per_request;
                if message.to.len() > limit {
                    return Err(RequestError::TooManyRecipients { limit });
                }
                short_message::judge(
                    &message,
                    account,
                    self.clock.now(),
                    &self.policy,
                    &*self.ids,
                )
            }
        };
        let outcomes = match &self.routes {
            Some(routes) => submission::keep_routable(outcomes, routes, &self.policy),
            None => outcomes,
        };
        let outcomes = self.screen(account, outcomes).await?;
        if all_or_nothing(surface) {
            if let Some(rejection) = submission::first_rejection(&outcomes) {
                return Ok(Judged::refused(rejection.clone()));
            }
            let accepted = outcomes
                .into_iter()
                .filter_map(|outcome| match outcome {
                    RecipientOutcome::Accepted(message) => Some(*message),
                    RecipientOutcome::Rejected { .. } => None,
                })
                .collect();
            return Ok(Judged {
                submitted: Submitted::AllStored,
                accepted,
            });
        }
        let (results, accepted) = submission::results_and_accepted(outcomes);
        Ok(Judged {
            submitted: Submitted::PerRecipient(results),
            accepted,
        })
    }

    /// Reject the accepted recipients the blocklists hold for `account`.
    async fn screen(
        &self,
        account: &Account,
        outcomes: Vec<RecipientOutcome>,
    ) -> Result<Vec<RecipientOutcome>, RequestError> {
        let Some(lists) = self.blocklist.as_ref().filter(|lists| !lists.known_empty()) else {
            return Ok(outcomes);
        };
        let numbers = blocklist::recipients(&outcomes);
        if numbers.is_empty() {
            return Ok(outcomes);
        }
        let blocked = lists
            .blocked_among(account.id, numbers)
            .await
            .map_err(|error| {
                tracing::error!(%error, "blocklist lookup failed");
                RequestError::Unknown
            })?;
        Ok(blocklist::screen(outcomes, &blocked.into_iter().collect()))
    }

    /// Store the accepted messages durably (with their idempotency `key`, if any) and debit the
    /// account their price (an account with a balance; one without has nothing to charge), then
    /// wake the dispatcher.
    async fn store(
        &self,
        account: &Account,
        accepted: Vec<NewMessage>,
        surface: Surface,
        key: Option<KeyRecord>,
    ) -> Result<(), StoreFailure> {
        if accepted.is_empty() {
            return Ok(());
        }
        // Once handed to the store the write commits whether or not this future is still awaited
        // (a client that disconnects drops it): the dispatcher is woken in either case.
        let _wake = WakeOnDrop(&*self.wake);
        let charge = account.balance.map(|_| submission::total_price(&accepted));
        let counts = AcceptedCounts::of(&accepted);
        let stored = match key {
            None => self.intake.accept(account.id, charge, accepted).await,
            Some(key) => {
                self.intake
                    .accept_once(account.id, charge, accepted, key)
                    .await
            }
        };
        match stored {
            Ok(()) => {
                counts.record(surface);
                Ok(())
            }
            Err(AcceptError::InsufficientBalance) => Err(RequestError::InsufficientBalance.into()),
            Err(AcceptError::KeyTaken) => Err(StoreFailure::KeyTaken),
            Err(AcceptError::Store(error)) => {
                tracing::error!(%error, "storing accepted messages failed");
                Err(RequestError::Unknown.into())
            }
        }
    }
}

/// Count in the gateway's metrics ([`metrics`]) what a submission was answered: each rejected
/// recipient, or the request refused as a whole (the messages stored are counted when stored).
fn count(surface: Surface, submitted: &Submitted) {
    match submitted {
        Submitted::PerRecipient(results) => metrics::rejections(
            surface,
            results.iter().filter_map(|result| match result {
                RecipientResult::Rejected { rejection, .. } => Some(rejection.code()),
                RecipientResult::Accepted { .. } => None,
            }),
        ),
        Submitted::AllStored => {}
        Submitted::Refused(rejection) => metrics::rejected(surface, rejection.code(), 1),
    }
}

/// A judged submission: its answer, and the messages it accepted (to be stored).
struct Judged {
    submitted: Submitted,
    accepted: Vec<NewMessage>,
}

impl Judged {
    /// An all-or-nothing request refused: nothing to store.
    fn refused(rejection: Rejection) -> Judged {
        Judged {
            submitted: Submitted::Refused(rejection),
            accepted: Vec::new(),
        }
    }
}

/// Why accepted messages were not stored.
enum StoreFailure {
    /// Another request stored the idempotency key first.
    KeyTaken,
    /// The request's answer.
    Request(RequestError),
}

impl From<RequestError> for StoreFailure {
    fn from(error: RequestError) -> Self {
        StoreFailure::Request(error)
    }
}

impl From<StoreFailure> for RequestError {
    fn from(failure: StoreFailure) -> Self {
        match failure {
            StoreFailure::Request(error) => error,
            // Only a keyed store is refused so, and `submit_once` answers it.
            StoreFailure::KeyTaken => RequestError::Unknown,
        }
    }
}

/// Wakes the dispatcher when dropped.
struct WakeOnDrop<'a>(&'a dyn Wake);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.accepted();
    }
}
