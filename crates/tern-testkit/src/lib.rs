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

/// An HTTP client for tests (rustls with ring, as the gateway uses).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("http client")
}
