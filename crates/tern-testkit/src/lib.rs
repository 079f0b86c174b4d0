//! Test-only helpers (publish = false). Black-box tests spawn the real `tern` binary on loopback
//! with a throwaway data directory, talk to it over HTTP, and receive its webhooks here; SMPP
//! tests run an SMSC not written in this project ([`node_smsc`]); WhatsApp tests a stand-in of
//! Meta's Cloud API ([`meta`]).

pub mod fcm;
pub mod gateway;
pub mod google;
pub mod meta;
pub mod node;
pub mod node_smsc;
mod poll;
pub mod postgres;
pub mod python;
pub mod webhook;

pub use gateway::{Gateway, create_account};
pub use meta::{MetaGraphStandIn, MetaOptions};
pub use webhook::WebhookReceiver;

/// A loopback port nothing listens on now, for a server that takes it later (a moment, or
/// seconds, later: an SMSC started after the gateways that connect to it).
///
/// It is below the kernel's ephemeral range (Linux: 32768 and up), where `bind(…:0)` and
/// outgoing connections take their ports: no connection opened in between (of this process or
/// any other, or a gateway's reconnects to the port itself, which can connect a socket to
/// itself) can hold it. Only another explicit bind can; each call starts at another port
/// (by process and call), so parallel tests rarely try the same one.
pub fn unused_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let start = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(nanos)
        .wrapping_add(CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(613));
    (0..COUNT)
        .map(|offset| (FIRST + start.wrapping_add(offset) % COUNT) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("an unused loopback port below the ephemeral range")
}

/// An HTTP client for tests (rustls with ring, as the gateway uses).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("http client")
}
