//! Tern's SMPP 3.4 server: the I/O around `tern_proto::smpp` (framing, codec and the pure
//! session state machine) and tern-core's submission service. ESMEs bind over TCP (or TLS),
//! submit with submit_sm / data_sm, and receive deliver_sm / data_sm through [`Binds`].
//!
//! - [`SmppConfig`]: the `[smpp]` settings.
//! - [`SmppServer`]: accepts connections on a listener and runs one task per connection
//!   (`connection`), until told to stop; then it unbinds every session and waits briefly.
//! - [`Binds`]: who is bound, per account; how receipts reach a client.
//! - `stored`: query_sm, cancel_sm and replace_sm, about messages already stored.
//!
//! Rules live elsewhere: what a session may do in which state in tern-proto's `Session`, what a
//! message may be in tern-core. This module authenticates binds, reads PDUs into those, and
//! writes their answers.

mod binds;
mod connection;
mod message;
mod stored;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tern_core::account::Account;
use tern_core::ports::{AccountStore, MessageLogStore, QueueStore, RateStore};
use tern_core::smpp_account::verify_unknown;
use tern_core::submitter::{Clock, Submitter};
use tern_proto::smpp::{BindKind, CommandStatus};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use binds::{Binds, DeliverError};
pub use message::{Incoming, destination, short_message};
pub use stored::short_replacement;

use binds::{BindGuard, SessionHandle};

/// The `[smpp]` settings (the listen address itself is `smpp_addr`, outside the table).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppConfig {
    /// Where the TLS listener listens; none when absent.
    pub tls_addr: Option<SocketAddr>,
    /// The TLS certificate chain (PEM), required with `tls_addr`.
    pub tls_cert_file: Option<PathBuf>,
    /// The TLS private key (PEM), required with `tls_addr`.
    pub tls_key_file: Option<PathBuf>,
    /// deliver_sm / data_sm sent to one bind without a response yet.
    pub window: u32,
    /// An enquire_link is sent after this long without a PDU from the client.
    pub enquire_link_secs: u64,
    /// A session the client left silent this long is unbound and closed.
    pub inactivity_secs: u64,
    /// A request of the server's without a response after this long fails.
    pub response_timeout_secs: u64,
    /// Largest command_length accepted.
    pub max_pdu_bytes: u32,
}

impl Default for SmppConfig {
    fn default() -> Self {
        SmppConfig {
            tls_addr: None,
            tls_cert_file: None,
            tls_key_file: None,
            window: 100,
            enquire_link_secs: 30,
            inactivity_secs: 300,
            response_timeout_secs: 30,
            max_pdu_bytes: 65536,
        }
    }
}

/// The session timings and limits a connection runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub window: u32,
    pub enquire_link: Duration,
    pub inactivity: Duration,
    pub response_timeout: Duration,
    pub max_pdu_bytes: u32,
}

impl From<&SmppConfig> for Timings {
    fn from(config: &SmppConfig) -> Self {
        Timings {
            window: config.window.max(1),
            enquire_link: Duration::from_secs(config.enquire_link_secs.max(1)),
            inactivity: Duration::from_secs(config.inactivity_secs.max(1)),
            response_timeout: Duration::from_secs(config.response_timeout_secs.max(1)),
            max_pdu_bytes: config.max_pdu_bytes.max(16),
        }
    }
}

/// Why the TLS listener cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("[smpp] tls_addr is set but {0} is not")]
    Missing(&'static str),
    #[error("cannot read {path}: {error}")]
    Pem {
        path: PathBuf,
        error: rustls_pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] tokio_rustls::rustls::Error),
}

/// The TLS acceptor for `config`'s certificate and key, `None` when `tls_addr` is not set.
pub fn tls_acceptor(
    config: &SmppConfig,
) -> Result<Option<tokio_rustls::TlsAcceptor>, TlsSetupError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    if config.tls_addr.is_none() {
        return Ok(None);
    }
    let cert_file = config
        .tls_cert_file
        .as_deref()
        .ok_or(TlsSetupError::Missing("tls_cert_file"))?;
    let key_file = config
        .tls_key_file
        .as_deref()
        .ok_or(TlsSetupError::Missing("tls_key_file"))?;
    let pem_error = |path: &Path| {
        let path = path.to_owned();
        move |error| TlsSetupError::Pem { path, error }
    };
    let certificates = CertificateDer::pem_file_iter(cert_file)
        .map_err(pem_error(cert_file))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(cert_file))?;
    if certificates.is_empty() {
        return Err(TlsSetupError::NoCertificate(cert_file.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(pem_error(key_file))?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certificates, key)?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// The store's roles the server uses.
pub struct SmppStores {
    /// Binds: the account of a system_id.
    pub accounts: Arc<dyn AccountStore>,
    /// query_sm: a message as the log shows it.
    pub messages: Arc<dyn MessageLogStore>,
    /// cancel_sm and replace_sm.
    pub queue: Arc<dyn QueueStore>,
    /// Accounts' `--smpp-rate`, counted by the store (one bucket per account for the whole
    /// gateway, however many nodes its binds are on).
    pub rates: Arc<dyn RateStore>,
}

/// What every connection shares.
pub(crate) struct Shared {
    pub submitter: Arc<Submitter>,
    pub accounts: Arc<dyn AccountStore>,
    pub messages: Arc<dyn MessageLogStore>,
    pub queue: Arc<dyn QueueStore>,
    pub clock: Arc<dyn Clock>,
    pub binds: Arc<Binds>,
    pub rates: Arc<dyn RateStore>,
    pub timings: Timings,
    /// The system_id the server names itself with in bind responses.
    pub system_id: String,
}

/// The SMPP server of one gateway: its binds and what its connections share.
pub struct SmppServer {
    shared: Arc<Shared>,
}

/// How often the server checks that the accounts bound still admit their sessions.
const ACCOUNT_CHECK: Duration = Duration::from_secs(1);

/// How long a stopping server waits for its sessions' unbind_resp.
const UNBIND_WAIT: Duration = Duration::from_secs(2);

impl SmppServer {
    /// A server submitting through `submitter`, authenticating binds with `stores.accounts`,
    /// answering query_sm from `stores.messages` and cancel_sm / replace_sm through
    /// `stores.queue`.
    pub fn new(
        submitter: Arc<Submitter>,
        stores: SmppStores,
        clock: Arc<dyn Clock>,
        config: &SmppConfig,
    ) -> SmppServer {
        SmppServer {
            shared: Arc::new(Shared {
                submitter,
                accounts: stores.accounts,
                messages: stores.messages,
                queue: stores.queue,
                clock,
                binds: Arc::new(Binds::new()),
                rates: stores.rates,
                timings: Timings::from(config),
                system_id: "Tern".to_owned(),
            }),
        }
    }

    /// The server's binds, for delivering receipts.
    pub fn binds(&self) -> Arc<Binds> {
        Arc::clone(&self.shared.binds)
    }

    /// Accepts connections on `listener` (through `tls` when given) until `stop` turns true;
    /// then every session is unbound (waiting at most a couple of seconds for its unbind_resp)
    /// and closed, and this returns once all are.
    pub async fn serve(
        &self,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        stop: watch::Receiver<bool>,
    ) {
        let mut connections = JoinSet::new();
        let revoker = tokio::spawn(unbind_revoked(Arc::clone(&self.shared)));
        let stopped = stopped(stop.clone());
        tokio::pin!(stopped);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting an SMPP connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut stopped => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&self.shared);
            let stop = stop.clone();
            match &tls {
                None => {
                    connections.spawn(connection::run(shared, stream, peer, false, stop));
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let timeout = self.shared.timings.response_timeout;
                    connections.spawn(async move {
                        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                connection::run(shared, stream, peer, true, stop).await
                            }
                            Ok(Err(error)) => {
                                tracing::warn!(%peer, %error, "SMPP TLS handshake failed")
                            }
                            Err(_) => tracing::warn!(%peer, "SMPP TLS handshake timed out"),
                        }
                    });
                }
            }
        }
        drop(listener);
        revoker.abort();
        let deadline = UNBIND_WAIT + Duration::from_secs(3);
        if tokio::time::timeout(deadline, async {
            while connections.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            connections.abort_all();
        }
    }
}

/// Unbinds, within [`ACCOUNT_CHECK`], the sessions of an account disabled, or whose SMPP
/// credentials changed, since they bound (`tern account update` in any process, or on another
/// node): each second, one lookup per system id bound. A failed lookup leaves the sessions bound
/// (the store being down is no reason to drop clients).
async fn unbind_revoked(shared: Arc<Shared>) {
    let mut ticks = tokio::time::interval(ACCOUNT_CHECK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for (account, system_id) in shared.binds.bound_system_ids() {
            let current = match shared.accounts.account_by_smpp_system_id(&system_id).await {
                Ok(found) => found
                    .filter(|found| found.id == account)
                    .and_then(|found| found.smpp),
                Err(error) => {
                    tracing::warn!(%error, %system_id, "SMPP: checking a bound account failed; its sessions stay bound");
                    continue;
                }
            };
            let asked = shared
                .binds
                .unbind_unadmitted(account, &system_id, current.as_deref());
            if asked > 0 {
                tracing::info!(%system_id, sessions = asked, "SMPP account disabled or its credentials changed: unbinding its sessions");
            }
        }
    }
}

/// Completes when `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

impl Shared {
    /// Authenticates a bind: the account of `system_id`, its password (Argon2, off the async
    /// threads), room for one more bind.
    pub(crate) async fn authenticate(
        self: &Arc<Self>,
        kind: BindKind,
        system_id: &str,
        password: String,
        handle: &Arc<SessionHandle>,
    ) -> Result<(Arc<Account>, BindGuard), (CommandStatus, &'static str)> {
        // An unknown system_id is refused after as long a check as a known one's.
        let unknown = |why: &'static str| {
            let password = password.clone();
            async move {
                let _ = tokio::task::spawn_blocking(move || verify_unknown(&password)).await;
                Err((CommandStatus::ESME_RINVSYSID, why))
            }
        };
        let account = match self.accounts.account_by_smpp_system_id(system_id).await {
            Ok(Some(account)) => account,
            Ok(None) => return unknown("unknown system_id").await,
            Err(error) => {
                tracing::error!(%error, "SMPP bind: account lookup failed");
                return Err((CommandStatus::ESME_RBINDFAIL, "account lookup failed"));
            }
        };
        let Some(settings) = account.smpp.clone() else {
            return unknown("the account has no SMPP settings").await;
        };
        let verified = {
            let settings = Arc::clone(&settings);
            tokio::task::spawn_blocking(move || settings.verify(&password))
                .await
                .unwrap_or(false)
        };
        if !verified {
            return Err((CommandStatus::ESME_RINVPASWD, "wrong password"));
        }
        let guard = self
            .binds
            .register(account.id, &account.name, &settings, kind, handle)
            .ok_or((CommandStatus::ESME_RBINDFAIL, "too many binds"))?;
        Ok((Arc::new(account), guard))
    }
}
