//! The backend under test, and the data the tests share. The test binary names its backend
//! (`crate::BACKEND`: `conformance` runs SQLite, `conformance_postgres` PostgreSQL, on a
//! throwaway cluster of its own); `TERN_TEST_STORE` (`sqlite` or `postgres`) overrides it.

#![allow(dead_code)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tern_core::account::{Account, AccountId, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::dispatch::{Event, ExternalIds};
use tern_core::error_code::DeliveryError;
use tern_core::error_code::Surface;
use tern_core::message::{Content, MessageFilter, MessageId, MessageRecord, NewMessage};
use tern_core::money::Money;
use tern_core::ports::{NodeId, Store};
use tern_core::status::CmStatus;
use tern_store::StoreConfig;

/// A lease long enough not to run out during a test unless the test moves time past it.
pub const LEASE: SignedDuration = SignedDuration::from_secs(30);

/// How long the messages of [`message`] are valid.
pub const VALIDITY: SignedDuration = SignedDuration::from_hours(24);

/// A backend of the store port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of the backend under test. Dropping it removes an embedded
/// database; a PostgreSQL one goes with its throwaway cluster.
pub struct Backend {
    config: StoreConfig,
    /// Keeps an embedded database's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
}

/// The backend under test: the test binary's, unless `TERN_TEST_STORE` names another.
pub fn kind() -> Kind {
    match std::env::var("TERN_TEST_STORE").as_deref() {
        Err(_) => crate::BACKEND,
        Ok("sqlite") => Kind::Sqlite,
        Ok("postgres") => Kind::Postgres,
        Ok(other) => panic!("TERN_TEST_STORE={other}: no such store backend (sqlite, postgres)"),
    }
}

impl Backend {
    /// A fresh database of the backend under test.
    pub fn new() -> Backend {
        match kind() {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                Backend {
                    config: StoreConfig::Sqlite {
                        data_dir: dir.path().to_owned(),
                    },
                    _dir: Some(dir),
                }
            }
            Kind::Postgres => Backend {
                config: StoreConfig::Postgres {
                    url: tern_testkit::postgres::PgCluster::shared().create_database(),
                },
                _dir: None,
            },
        }
    }

    /// The store, as the embedded node.
    pub fn open(&self) -> Arc<dyn Store> {
        self.open_as(NodeId::EMBEDDED)
    }

    /// The store, holding leases in the name of `node` (several handles on one database are
    /// several nodes).
    pub fn open_as(&self, node: &str) -> Arc<dyn Store> {
        tern_store::open(&self.config, NodeId::new(node)).expect("open the store under test")
    }

    /// A restart: `store` (the last handle on it) is closed, and the database opened again as
    /// the embedded node.
    pub fn reopen(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        assert_eq!(
            Arc::strong_count(&store),
            1,
            "a restart closes every handle of the store first"
        );
        drop(store);
        self.open()
    }
}

/// Now, to the millisecond (what every backend stores exactly), so that times read back can be
/// compared with `==`.
pub fn now() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond()).expect("a time")
}

impl Backend {
    /// Change `account`'s status URL and format behind the store, as an operator's tool does
    /// (the port has no way to change an account yet), on the backend's own terms.
    pub fn set_status_webhook(&self, account: AccountId, url: Option<&str>, format: ReportFormat) {
        match &self.config {
            StoreConfig::Sqlite { data_dir } => {
                let connection = rusqlite::Connection::open(data_dir.join("tern.db"))
                    .expect("open the database beside the store");
                connection
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .expect("busy timeout");
                let changed = connection
                    .execute(
                        "UPDATE accounts SET status_url = ?2, status_format = ?3 WHERE id = ?1",
                        rusqlite::params![account, url, format.as_str()],
                    )
                    .expect("change the account");
                assert_eq!(changed, 1, "account {account} exists");
            }
            StoreConfig::Postgres { url: database_url } => {
                let database = database_url.rsplit('/').next().expect("a database name");
                let url = match url {
                    Some(url) => format!("'{}'", url.replace('\'', "''")),
                    None => "NULL".to_owned(),
                };
                tern_testkit::postgres::PgCluster::shared().psql_on(
                    database,
                    &format!(
                        "DO $$ BEGIN UPDATE accounts SET status_url = {url}, status_format = '{format}' \
                         WHERE id = {account}; IF NOT FOUND THEN RAISE 'no account {account}'; END IF; END $$",
                        format = format.as_str()
                    ),
                );
            }
        }
    }
}

/// An account with `balance` (`None`: unlimited) and a status webhook.
pub fn new_account(token: &ProductToken, balance: Option<Money>) -> NewAccount {
    NewAccount {
        name: "acme".into(),
        token_hash: token.hash(),
        balance,
        status_url: Some("http://127.0.0.1:9/status".into()),
        status_format: ReportFormat::Json,
        inbound_url: None,
        inbound_numbers: Vec::new(),
        channels: Channel::ALL.to_vec(),
        smpp: None,
        webhook_secret: None,
    }
}

/// A fresh account with a new token.
pub async fn account(store: &dyn Store, balance: Option<Money>) -> Account {
    store
        .create_account(new_account(&ProductToken::generate(), balance))
        .await
        .expect("create account")
}

/// A message of one part to `0031612345678` with reference `ref1`, valid for [`VALIDITY`].
pub fn message(
    account: AccountId,
    channels: &[Channel],
    price: Money,
    now: Timestamp,
) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        account_id: account,
        recipient: "0031612345678".into(),
        content: Content {
            from: "Tern".into(),
            body: "Hello".into(),
            body_type: None,
            dcs: None,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }
        .into(),
        parts: 1,
        reference: Some("ref1".into()),
        channels: channels.to_vec(),
        accepted_at: now,
        valid_until: now + VALIDITY,
        price,
        source: Surface::Json,
        smpp_registered_delivery: 0,
        segment: None,
    }
}

/// Accept one free SMS for `account` (no charge), accepted at `now`; its id.
pub async fn accept_one(store: &dyn Store, account: AccountId, now: Timestamp) -> MessageId {
    let msg = message(account, &[Channel::Sms], Money(0), now);
    let id = msg.id;
    store
        .accept(account, None, vec![msg])
        .await
        .expect("accept");
    id
}

/// The channel took attempt `attempt` (and named no parts).
pub fn sent(attempt: u32) -> Event {
    Event::Sent {
        attempt,
        external_ids: ExternalIds::default(),
    }
}

/// The channel reported `status` for attempt `attempt`, with the standard error `error_code`.
pub fn report(attempt: u32, status: CmStatus, error_code: Option<u16>) -> Event {
    Event::ChannelReport {
        attempt,
        status,
        error_code: error_code
            .map(|code| DeliveryError::from_code(code).expect("a code of the spec's table")),
        operator: None,
        detail: None,
    }
}

/// The message log of `account` with `filter`.
pub async fn log_of(
    store: &dyn Store,
    account: AccountId,
    filter: MessageFilter,
) -> Vec<MessageRecord> {
    store
        .messages(account, filter)
        .await
        .expect("read the message log")
}

/// Every message of `account` (up to 1000), as the log shows them.
pub async fn log(store: &dyn Store, account: AccountId) -> Vec<MessageRecord> {
    log_of(
        store,
        account,
        MessageFilter {
            limit: 1000,
            ..MessageFilter::default()
        },
    )
    .await
}

/// The one logged message `id` of `account`.
pub async fn logged(store: &dyn Store, account: AccountId, id: MessageId) -> MessageRecord {
    let mut found: Vec<MessageRecord> = log(store, account)
        .await
        .into_iter()
        .filter(|record| record.message.id == id)
        .collect();
    assert_eq!(found.len(), 1, "message {id} is logged once");
    found.remove(0)
}

/// The ids of `items`, in their order.
pub fn ids<T>(items: &[T], id: impl Fn(&T) -> MessageId) -> Vec<MessageId> {
    items.iter().map(id).collect()
}

/// The entries the webhook runner claims: status webhooks and rendered ones, to any account.
pub fn webhooks() -> tern_core::outbox::EntryFilter {
    tern_core::outbox::EntryFilter::kinds([
        tern_core::outbox::OutboxKind::StatusWebhook,
        tern_core::outbox::OutboxKind::RenderedWebhook,
    ])
}

/// Just past the lease of anything handed or claimed now.
pub fn after_the_lease() -> Timestamp {
    now() + LEASE + SignedDuration::from_secs(1)
}

/// A runner that takes fresh work in the hand-off tests (`fresh`, `fresh_messages`): it keeps
/// what it is handed; `room` reservations at most, counted, and none once it is closed. Each
/// test file implements its port for it.
pub struct Runner<T> {
    room: usize,
    taken: std::sync::atomic::AtomicUsize,
    closed: std::sync::atomic::AtomicBool,
    handed: std::sync::Mutex<Vec<T>>,
}

impl<T> Runner<T> {
    pub fn with_room(room: usize) -> std::sync::Arc<Runner<T>> {
        std::sync::Arc::new(Runner {
            room,
            taken: Default::default(),
            closed: Default::default(),
            handed: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn reserve(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        !self.closed.load(SeqCst)
            && self
                .taken
                .fetch_update(SeqCst, SeqCst, |taken| {
                    (taken < self.room).then_some(taken + 1)
                })
                .is_ok()
    }

    pub fn unreserve(&self, count: usize) {
        self.taken
            .fetch_sub(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reservations held.
    pub fn taken(&self) -> usize {
        self.taken.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The runner stopped: it reserves nothing more.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Keep what the store hands.
    pub fn keep(&self, items: impl IntoIterator<Item = T>) {
        self.handed.lock().unwrap().extend(items);
    }

    /// What was handed since the last look.
    pub fn handed(&self) -> Vec<T> {
        std::mem::take(&mut *self.handed.lock().unwrap())
    }
}
