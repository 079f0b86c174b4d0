//! What every connector to a provider's HTTP API (WhatsApp, RBM, FCM) needs the same way: a
//! request rate shared by all its sends, and by the gateway's nodes ([`Pacer`]), and the wait a provider asks for in a
//! `Retry-After` header ([`retry_after`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tern_core::hold::Hold;
use tern_core::ports::{ConnectorError, ConnectorHealth, ErrorOrigin};
use tern_core::rate::TokenBucket;
use tokio::sync::{Notify, watch};

use crate::cluster::{ClusterView, ELSEWHERE_RETRY, Share, ShareHolder, follow_shares};
use crate::http_client::HttpClient;

/// At most a rate of requests per second, over every send of one connector: a send waits its
/// turn ([`Pacer::pace`]), so that callers waiting in turn are spaced at the rate. On a gateway
/// of several nodes the rate is the cluster's as a whole: each node paces at its share of it
/// ([`Pacer::sharing`], [`Pacer::follow`]).
pub struct Pacer {
    /// The configured rate (the whole cluster's).
    per_sec: u32,
    /// The connector's name, for the logs.
    connector: Arc<str>,
    state: Mutex<Paced>,
    /// Told when the state changes (sends waiting for a first share look again).
    changed: Notify,
    /// The live nodes to share the rate with (several nodes).
    views: Option<watch::Receiver<Option<ClusterView>>>,
    stop: watch::Sender<bool>,
}

/// What this node may send now.
enum Paced {
    /// At this bucket's rate (the whole rate, or this node's share of it).
    Rate(TokenBucket),
    /// Following the live nodes, no share held yet: sends wait.
    Waiting,
    /// None of it: the other nodes (`nodes` are live) send the connector's messages.
    Nothing { nodes: usize },
}

impl Pacer {
    /// `per_sec` requests a second (at least 1), all of them this node's.
    pub fn new(per_sec: u32) -> Pacer {
        let bucket = TokenBucket::new(per_sec, Instant::now());
        Pacer::with(per_sec, "", Paced::Rate(bucket), None)
    }

    /// `per_sec` requests a second for `connector` on the cluster as a whole, shared with the
    /// other live nodes of `views`: this node sends nothing until [`Pacer::start`] has given it
    /// its share.
    pub fn sharing(
        per_sec: u32,
        connector: &str,
        views: watch::Receiver<Option<ClusterView>>,
    ) -> Pacer {
        Pacer::with(per_sec, connector, Paced::Waiting, Some(views))
    }

    fn with(
        per_sec: u32,
        connector: &str,
        state: Paced,
        views: Option<watch::Receiver<Option<ClusterView>>>,
    ) -> Pacer {
        Pacer {
            per_sec,
            connector: connector.into(),
            state: Mutex::new(state),
            changed: Notify::new(),
            views,
            stop: watch::channel(false).0,
        }
    }

    /// When sharing: pace at this node's share of the rate among the live nodes, following
    /// them (on the current Tokio runtime) until [`Pacer::stop`].
    pub fn start(self: &Arc<Self>) {
        if let Some(views) = self.views.clone() {
            let pacer = Arc::clone(self);
            tokio::spawn(async move {
                let stop = pacer.stop.subscribe();
                follow_shares(&*pacer, views, stop, pacer.per_sec, pacer.per_sec).await;
            });
        }
    }

    /// Stop following the live nodes.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Wait until one more request is allowed; a temporary error when this node has no share
    /// of the rate (another node sends it), or when the wait outlasted `hold` (the message is
    /// no longer this node's to send, see [`tern_core::hold`]).
    pub async fn pace(&self, hold: &Hold) -> Result<(), ConnectorError> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = match &mut *self.state.lock().expect("pacer lock") {
                Paced::Rate(bucket) => Some(bucket.take_or_wait(1, Instant::now())),
                Paced::Waiting => None,
                Paced::Nothing { nodes } => return Err(self.elsewhere(*nodes)),
            };
            match wait {
                Some(wait) => {
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    return hold.ensure();
                }
                None => changed.await,
            }
        }
    }

    /// `Elsewhere` while this node has no share of the rate, else `Up`.
    pub fn health(&self) -> ConnectorHealth {
        match *self.state.lock().expect("pacer lock") {
            Paced::Nothing { nodes } => ConnectorHealth::Elsewhere {
                reason: self.elsewhere(nodes).message,
                retry_after: ELSEWHERE_RETRY,
            },
            _ => ConnectorHealth::Up,
        }
    }

    /// The temporary error of a send on a node with no share among `nodes`.
    fn elsewhere(&self, nodes: usize) -> ConnectorError {
        ConnectorError::temporary(
            ErrorOrigin::Tern,
            Some(ELSEWHERE_RETRY),
            format!(
                "this node has none of the connector's {} sends per second (shared by {nodes} live nodes); another node sends it",
                self.per_sec
            ),
        )
    }
}

/// The rate follows this node's share of the cluster's.
impl ShareHolder for Pacer {
    async fn hold(&self, share: Share, nodes: usize) {
        tracing::info!(connector = %self.connector, max_sends_per_sec = share.rate, nodes, "connector's share of the cluster's send rate");
        let mut state = self.state.lock().expect("pacer lock");
        match &*state {
            // The same rate among another number of nodes: the bucket carries on.
            Paced::Rate(bucket) if share.rate > 0 && bucket.refills_at(share.rate) => {}
            // Empty at first: the rate given up by another node may have been used this second.
            _ if share.rate > 0 => {
                *state = Paced::Rate(TokenBucket::empty(share.rate, Instant::now()))
            }
            _ => *state = Paced::Nothing { nodes },
        }
        drop(state);
        self.changed.notify_waiters();
    }

    fn waiting(&self, _settle: Duration) {
        *self.state.lock().expect("pacer lock") = Paced::Waiting;
    }
}

/// The HTTP clients of a provider connector: [`HttpClient`] for the messages it posts (its hot
/// path, one POST per message), reqwest for anything else (tokens, media look-ups).
#[derive(Clone)]
pub struct ProviderClients {
    pub posts: HttpClient,
    pub other: reqwest::Client,
}

/// A `Retry-After` in seconds, when the answer has one (an HTTP date is not honoured: the
/// default backoff applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_core::ports::{ErrorKind, NodeId};

    #[test]
    fn retry_after_takes_seconds_only() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn sends_past_the_rate_wait_their_turn() {
        let pacer = Pacer::new(20);
        let start = Instant::now();
        // A full second's worth goes at once; the next five wait about 50 ms each.
        for _ in 0..25 {
            pacer.pace(&Hold::ALWAYS).await.unwrap();
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    fn view(this: &str, live: &[&str], settle: Duration) -> Option<ClusterView> {
        Some(ClusterView::new(
            NodeId::new(this),
            live.iter().map(|node| NodeId::new(*node)).collect(),
            settle,
        ))
    }

    #[tokio::test]
    async fn a_shared_rate_is_this_nodes_part_once_the_others_have_given_theirs_up() {
        let settle = Duration::from_millis(300);
        let (_views, receiver) = watch::channel(view("a", &["a", "b"], settle));
        let pacer = Arc::new(Pacer::sharing(20, "wa", receiver));
        pacer.start();
        // No share before the view has stood for its settle time: sends wait.
        let early =
            tokio::time::timeout(Duration::from_millis(100), pacer.pace(&Hold::ALWAYS)).await;
        assert!(early.is_err(), "a send went before the share settled");
        assert!(matches!(pacer.health(), ConnectorHealth::Up));
        let start = Instant::now();
        pacer.pace(&Hold::ALWAYS).await.unwrap();
        // Half of 20 a second, the bucket empty at first: ten more sends take about a second.
        for _ in 0..10 {
            pacer.pace(&Hold::ALWAYS).await.unwrap();
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        pacer.stop();
    }

    #[tokio::test]
    async fn a_node_past_the_rate_has_no_share_and_says_another_node_sends() {
        let settle = Duration::from_millis(100);
        // A rate of 2 among three nodes: a and b send one a second each, c none, at once.
        let (_views, receiver) = watch::channel(view("c", &["a", "b", "c"], settle));
        let pacer = Arc::new(Pacer::sharing(2, "wa", receiver));
        pacer.start();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(pacer.health(), ConnectorHealth::Up) {
            assert!(Instant::now() < deadline, "no share given");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match pacer.health() {
            ConnectorHealth::Elsewhere {
                reason,
                retry_after,
            } => {
                assert_eq!(retry_after, ELSEWHERE_RETRY);
                assert_eq!(
                    reason,
                    "this node has none of the connector's 2 sends per second (shared by 3 live nodes); another node sends it"
                );
            }
            other => panic!("{other:?}"),
        }
        let refused = pacer.pace(&Hold::ALWAYS).await.unwrap_err();
        assert_eq!(
            refused.kind,
            ErrorKind::Temporary {
                retry_after: Some(ELSEWHERE_RETRY)
            }
        );
        pacer.stop();
    }

    #[tokio::test]
    async fn a_lone_pacer_sends_its_whole_rate_at_once() {
        let pacer = Pacer::new(5);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.pace(&Hold::ALWAYS).await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_millis(500));
        assert!(matches!(pacer.health(), ConnectorHealth::Up));
    }
}
