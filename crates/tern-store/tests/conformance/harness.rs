//! The backend under test, chosen by `TERN_TEST_STORE`, and the data the tests share.

#![allow(dead_code)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tern_core::account::{Account, AccountId, NewAccount, ProductToken, ReportFormat};
use tern_core::channel::Channel;
use tern_core::message::{Content, MessageId, NewMessage};
use tern_core::money::Money;
use tern_core::ports::{NodeId, Store};
use tern_store::StoreConfig;

/// A lease long enough not to run out during a test unless the test moves time past it.
pub const LEASE: SignedDuration = SignedDuration::from_secs(30);

/// A fresh, empty database of the backend under test. Dropping it removes the database.
pub struct Backend {
    config: StoreConfig,
    /// Keeps an embedded database's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    /// A fresh database of the backend `TERN_TEST_STORE` names.
    pub fn new() -> Backend {
        match std::env::var("TERN_TEST_STORE").as_deref() {
            Ok("sqlite") | Err(_) => {
                let dir = tempfile::tempdir().expect("temporary directory");
                Backend {
                    config: StoreConfig::Sqlite {
                        data_dir: dir.path().to_owned(),
                    },
                    _dir: Some(dir),
                }
            }
            Ok(other) => panic!("TERN_TEST_STORE={other}: no such store backend (sqlite)"),
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
        channels: Channel::ALL.to_vec(),
    }
}

/// A fresh account with a new token.
pub async fn account(store: &dyn Store, balance: Option<Money>) -> Account {
    store
        .create_account(new_account(&ProductToken::generate(), balance))
        .await
        .expect("create account")
}

/// A message of one part to `0031612345678` with reference `ref1`, valid for 24 hours.
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
        }
        .into(),
        parts: 1,
        reference: Some("ref1".into()),
        channels: channels.to_vec(),
        accepted_at: now,
        valid_until: now + SignedDuration::from_hours(24),
        price,
    }
}
