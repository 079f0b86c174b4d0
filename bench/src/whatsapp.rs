//! The WhatsApp phase: HTTP submissions (100-message requests, `allowedChannels: ["WhatsApp"]`)
//! through a `whatsapp-cloud` connector to tern-testkit's stand-in of Meta's Graph API, which
//! answers each send at once and posts a signed `delivered` status back to the gateway's
//! webhook; each status becomes a status report on the local receiver. Its own gateway and data
//! directory; the stand-in runs in this process on loopback, counting only (no event log).

use bytes::Bytes;
use tern_testkit::meta::{MetaGraphStandIn, MetaOptions, Script, StatusStep};

/// Statuses per webhook POST: Meta batches statuses of several messages in one notification
/// under load (`entry[].changes[].value.statuses[]`).
pub const STATUSES_PER_POST: usize = 10;
/// Webhook POSTs in flight from the stand-in.
pub const WEBHOOK_CONCURRENCY: usize = 32;
/// Requests to Meta in flight from the connector.
pub const MAX_IN_FLIGHT: usize = 256;

/// The stand-in: every message accepted, a `delivered` status posted for it at once.
pub async fn stand_in() -> MetaGraphStandIn {
    MetaGraphStandIn::start(MetaOptions {
        default_script: Script::accept(vec![StatusStep::Delivered], std::time::Duration::ZERO),
        statuses_per_post: STATUSES_PER_POST,
        webhook_concurrency: WEBHOOK_CONCURRENCY,
        record: false,
        // As Meta does: a status POST that failed is posted again (the run fails on a lost one).
        webhook_retries: 10,
        ..MetaOptions::default()
    })
    .await
}

/// The gateway's configuration: every WhatsApp message over one connector to `meta`.
pub fn config(meta: &MetaGraphStandIn) -> String {
    let options = meta.options();
    format!(
        "[[connector]]\nname = \"wa\"\nkind = \"whatsapp-cloud\"\nbase_url = \"{}\"\n\
         api_version = \"{}\"\nphone_number_id = \"{}\"\naccess_token = \"{}\"\n\
         app_secret = \"{}\"\nverify_token = \"bench\"\nmax_sends_per_sec = 1000000\n\
         max_in_flight = {MAX_IN_FLIGHT}\n\n[[route]]\nchannel = \"WhatsApp\"\nconnector = \"wa\"\n",
        meta.base_url,
        options.api_version,
        options.phone_number_id,
        options.access_token,
        options.app_secret,
    )
}

/// A request of `count` WhatsApp text messages for `token`.
pub fn submit_body(token: &str, count: usize) -> Bytes {
    let one = r#"{"from":"Bench","to":[{"number":"0031612345678"}],"body":{"content":"benchmark message"},"allowedChannels":["WhatsApp"]}"#;
    let messages = vec![one; count].join(",");
    Bytes::from(format!(
        r#"{{"messages":{{"authentication":{{"producttoken":"{token}"}},"msg":[{messages}]}}}}"#
    ))
}
