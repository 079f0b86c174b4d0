//! This node's membership of the gateway's cluster (a shared PostgreSQL store): it says it is
//! alive every `heartbeat_secs`, and on each beat takes over the leases of nodes that have not
//! said so for `lease_secs` (see [`ClusterStore`]), logging each node it takes over. On the
//! embedded store both are no-ops. A node taken over may have handed messages to its
//! connectors whose reports it alone was waiting for: this node's connectors take them up
//! (`Wakeups::resume_awaiting`). When the node stops it leaves: the others need not wait for
//! its heartbeat to run out (its leases are released by the caller, after the work that holds
//! them has stopped).
//!
//! It also publishes which nodes are alive ([`ClusterView`], read on each beat): work that is
//! limited for the gateway as a whole (an SMPP connector's `binds` and `max_submits_per_sec`)
//! is divided between the live nodes by [`ClusterView::share`], and [`follow_shares`] keeps a
//! connector's part of it in step with the live nodes (an SMPP connector's sessions and submit
//! rate, a provider connector's request rate).
//!
//! Each heartbeat recorded renews this node's [`Tenure`]: what it claimed is its to send only
//! while that holds, so that a node held up for longer than a lease sends nothing the others
//! took over meanwhile ([`tern_core::hold`]).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tern_core::hold::Tenure;
use tern_core::ports::{ClusterStore, NodeId};
use tokio::sync::watch;

/// The log target of cluster events.
const LOG_TARGET: &str = "tern_egress::cluster";

/// When a message left on a node with no share of its connector is due again: soon, since
/// another node sends it.
pub const ELSEWHERE_RETRY: Duration = Duration::from_millis(250);

/// Heartbeats and takeovers.
pub struct ClusterMember {
    pub store: Arc<dyn ClusterStore>,
    /// Woken to take up the messages a node taken over had handed to its connectors.
    pub wakeups: Arc<crate::Wakeups>,
    /// How often this node says it is alive.
    pub heartbeat: Duration,
    /// How long a node may stay silent before it is dead.
    pub lease: Duration,
    /// This node's name, as the store records its heartbeats.
    pub node: NodeId,
    /// The live nodes as last read (`None` until the first read), for the connectors that share
    /// limits with the other nodes.
    pub view: watch::Sender<Option<ClusterView>>,
    /// This node's leases, renewed by each heartbeat recorded (`None` on the embedded store):
    /// what the dispatcher asks before a claimed message is sent ([`tern_core::hold`]).
    pub tenure: Option<Arc<Tenure>>,
}

/// The nodes alive at the last heartbeat, as this node saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// This node.
    pub this: NodeId,
    /// Every live node (this one included), sorted by name: every node sorts them alike.
    pub live: Vec<NodeId>,
    /// How long a node waits before it takes up more of a shared limit than it had: long enough
    /// for every other node to have read the same live set and given its part up (a heartbeat
    /// and a half), so that the cluster as a whole never holds more than the limit while nodes
    /// come and go. Parts given up are given up at once.
    pub settle: Duration,
}

/// This node's part of limits shared by the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Sessions (binds) this node keeps.
    pub binds: u32,
    /// Parts per second this node may send.
    pub rate: u32,
}

impl ClusterView {
    /// The view of `this` node among `live` (this node counts as live whatever the store said:
    /// it is running).
    pub fn new(this: NodeId, mut live: Vec<NodeId>, settle: Duration) -> ClusterView {
        if !live.contains(&this) {
            live.push(this.clone());
        }
        live.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        live.dedup();
        ClusterView { this, live, settle }
    }

    /// The view of `this` node once it has not been able to say it is alive for a lease: the
    /// other nodes take it for dead and share the limits without it, so it holds nothing.
    pub fn cut_off(this: NodeId, settle: Duration) -> ClusterView {
        ClusterView {
            this,
            live: Vec::new(),
            settle,
        }
    }

    /// This node's share of `binds` sessions and `rate` parts per second held by the cluster as
    /// a whole. The nodes that take part are the first `k` of the sorted live set, `k` the
    /// smallest of the node count, `binds` and `rate` (so that each of them has at least one
    /// session and one part per second); each takes `binds / k` sessions and `rate / k` parts
    /// per second, the first ones one more while a remainder lasts. Every other node gets
    /// nothing: it keeps no session, and leaves that connector's messages to the nodes that
    /// do. A node alone gets everything; a node cut off ([`ClusterView::cut_off`]) nothing.
    pub fn share(&self, binds: u32, rate: u32) -> Share {
        let nodes = u32::try_from(self.live.len()).unwrap_or(u32::MAX).max(1);
        let nothing = Share { binds: 0, rate: 0 };
        let Some(index) = self.live.iter().position(|node| *node == self.this) else {
            return nothing;
        };
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let taking = nodes.min(binds).min(rate);
        if taking == 0 || index >= taking {
            return nothing;
        }
        let part = |total: u32| total / taking + u32::from(index < total % taking);
        Share {
            binds: part(binds),
            rate: part(rate),
        }
    }
}

/// What holds a connector's part of a limit shared by the cluster, as [`follow_shares`] gives
/// it out.
pub trait ShareHolder: Send + Sync {
    /// Hold `share` from now on (`nodes` live nodes share the limit). The share held already,
    /// among another number of nodes, is held again: what it allows must carry on unchanged.
    fn hold(&self, share: Share, nodes: usize) -> impl Future<Output = ()> + Send;
    /// No share is held yet: the first one is taken up after `settle`.
    fn waiting(&self, settle: Duration);
}

/// Follow the live nodes of `views` until `stop` is set (or the views end), giving `holder`
/// this node's share of `binds` sessions and `rate` per second: what this node no longer may
/// hold is given up at once, more is taken up only once the view has stood for its `settle`
/// time (the other nodes have read it too and given their part up), so that the cluster as a
/// whole never holds more than the limit while nodes come and go.
pub async fn follow_shares(
    holder: &impl ShareHolder,
    mut views: watch::Receiver<Option<ClusterView>>,
    mut stop: watch::Receiver<bool>,
    binds: u32,
    rate: u32,
) {
    let mut held: Option<Share> = None;
    // Among how many live nodes the share held was given.
    let mut held_among = 0;
    loop {
        let view = views.borrow_and_update().clone();
        if let Some(view) = view {
            let target = view.share(binds, rate);
            let nodes = view.live.len();
            let nothing = Share { binds: 0, rate: 0 };
            // What may be kept at once: less than held, or nothing when nothing is due.
            let kept = match held {
                None if target == nothing => Some(nothing),
                None => None,
                Some(held) => Some(Share {
                    binds: held.binds.min(target.binds),
                    rate: held.rate.min(target.rate),
                }),
            };
            // The same share among another number of nodes (the nodes changed while the last
            // one was taken up) is held again: the holder knows (and says) how many share it.
            if let Some(share) = kept
                && (kept != held || nodes != held_among)
            {
                holder.hold(share, nodes).await;
                held = kept;
                held_among = nodes;
            }
            if held != Some(target) {
                if held.is_none() {
                    holder.waiting(view.settle);
                }
                let settled = tokio::select! {
                    _ = tokio::time::sleep(view.settle) => true,
                    changed = views.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        false
                    }
                    _ = stop.wait_for(|stop| *stop) => return,
                };
                if settled {
                    holder.hold(target, nodes).await;
                    held = Some(target);
                    held_among = nodes;
                }
                continue;
            }
        }
        tokio::select! {
            changed = views.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

impl ClusterMember {
    /// Say this node is alive now: before its work starts, so that no other node takes it for
    /// dead meanwhile.
    pub async fn join(&self) -> Result<(), tern_core::ports::StoreError> {
        let now = Timestamp::now();
        let started = tokio::time::Instant::now();
        self.store.heartbeat(now).await?;
        self.recorded(started);
        self.read_live_nodes(now).await;
        Ok(())
    }

    /// A heartbeat begun at `started` was recorded: this node's leases run a lease from then.
    fn recorded(&self, started: tokio::time::Instant) {
        if let Some(tenure) = &self.tenure {
            tenure.recorded(started.into_std());
        }
    }

    /// How long a node waits before it takes up more of a shared limit
    /// ([`ClusterView::settle`]): a heartbeat and a half.
    fn settle(&self) -> Duration {
        self.heartbeat + self.heartbeat / 2
    }

    /// Read the live nodes and publish them when they changed; on an error the last view
    /// stands (logged).
    async fn read_live_nodes(&self, now: Timestamp) {
        let lease = SignedDuration::try_from(self.lease).unwrap_or(SignedDuration::MAX);
        match self.store.live_nodes(now, lease).await {
            Ok(live) => {
                let view = ClusterView::new(self.node.clone(), live, self.settle());
                self.view.send_if_modified(|current| {
                    if current.as_ref() == Some(&view) {
                        return false;
                    }
                    tracing::info!(
                        target: LOG_TARGET,
                        live = %view.live.iter().map(NodeId::as_str).collect::<Vec<_>>().join(","),
                        "live nodes"
                    );
                    *current = Some(view);
                    true
                });
            }
            Err(error) => {
                tracing::warn!(target: LOG_TARGET, %error, "cannot read the live nodes; the last ones read stand")
            }
        }
    }

    /// Beat until `shutdown`, then leave.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let lease = SignedDuration::try_from(self.lease).unwrap_or(SignedDuration::MAX);
        let mut failing_since: Option<tokio::time::Instant> = None;
        // When this node's heartbeat was last recorded (`join` did, just before).
        let mut recorded = tokio::time::Instant::now();
        // No takeovers before this: after heartbeats could not be recorded (the database was
        // unreachable, for every node alike), the others' heartbeats are as stale as this one's
        // was; they get a lease's length to record theirs again before they count as dead.
        let mut takeovers_from = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.heartbeat) => {}
                _ = shutdown.changed() => break,
            }
            let now = Timestamp::now();
            let started = tokio::time::Instant::now();
            match self.store.heartbeat(now).await {
                Ok(()) => {
                    self.recorded(started);
                    recorded = started;
                    if failing_since.take().is_some() {
                        takeovers_from = recorded + self.lease;
                        tracing::info!(target: LOG_TARGET, "heartbeats recorded again");
                    }
                }
                Err(error) => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    if recorded.elapsed() >= self.lease {
                        // The others take this node for dead: it gives up its part of the
                        // shared limits as they take it over (they take it up only a settle
                        // time after they noticed).
                        let cut_off = ClusterView::cut_off(self.node.clone(), self.settle());
                        self.view.send_if_modified(|current| {
                            if current.as_ref() == Some(&cut_off) {
                                return false;
                            }
                            tracing::warn!(target: LOG_TARGET, "this node is taken for dead by the others; it holds no part of the shared limits until its heartbeat is recorded again");
                            *current = Some(cut_off);
                            true
                        });
                    }
                    tracing::warn!(
                        target: LOG_TARGET,
                        %error,
                        failing_for_secs = since.elapsed().as_secs(),
                        "cannot record this node's heartbeat; past the lease the other nodes take its work over"
                    );
                    continue;
                }
            }
            self.read_live_nodes(now).await;
            if tokio::time::Instant::now() < takeovers_from {
                continue;
            }
            match self.store.take_over_dead_nodes(now, lease).await {
                Ok(taken) => {
                    if !taken.is_empty() {
                        self.wakeups.resume_awaiting();
                    }
                    for (node, leases) in taken {
                        tracing::warn!(
                            target: LOG_TARGET,
                            node = %node,
                            leases,
                            "node stopped heartbeating; its work was taken over"
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(target: LOG_TARGET, %error, "cannot take over dead nodes")
                }
            }
        }
        if let Err(error) = self.store.leave().await {
            tracing::warn!(target: LOG_TARGET, %error, "could not leave the cluster; the other nodes will notice when its heartbeat runs out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(this: &str, live: &[&str]) -> ClusterView {
        ClusterView::new(
            NodeId::new(this),
            live.iter().map(|name| NodeId::new(*name)).collect(),
            Duration::from_secs(1),
        )
    }

    fn shares(live: &[&str], binds: u32, rate: u32) -> Vec<(u32, u32)> {
        live.iter()
            .map(|this| {
                let share = view(this, live).share(binds, rate);
                (share.binds, share.rate)
            })
            .collect()
    }

    #[test]
    fn the_live_nodes_divide_binds_and_rate_and_their_sums_are_the_configured_ones() {
        // The same division whatever order the store lists them in: by name.
        assert_eq!(
            shares(&["c", "a", "b"], 2, 100),
            vec![(0, 0), (1, 50), (1, 50)]
        );
        assert_eq!(
            shares(&["a", "b", "c"], 5, 10),
            vec![(2, 4), (2, 3), (1, 3)]
        );
        assert_eq!(shares(&["a", "b", "c"], 3, 1), vec![(3, 1), (0, 0), (0, 0)]);
        assert_eq!(shares(&["a"], 4, 100), vec![(4, 100)]);
        for nodes in 1..=6usize {
            let names: Vec<String> = (0..nodes).map(|n| format!("node-{n}")).collect();
            let live: Vec<&str> = names.iter().map(String::as_str).collect();
            for binds in 1..=7 {
                for rate in [1, 2, 3, 7, 100] {
                    let all = shares(&live, binds, rate);
                    assert_eq!(all.iter().map(|s| s.0).sum::<u32>(), binds);
                    assert_eq!(all.iter().map(|s| s.1).sum::<u32>(), rate);
                    // A node with a session may send, and one that may send has a session.
                    assert!(all.iter().all(|s| (s.0 == 0) == (s.1 == 0)), "{all:?}");
                }
            }
        }
    }

    /// A holder that records what it is given.
    #[derive(Default)]
    struct Recorded(std::sync::Mutex<Vec<(Share, usize)>>);

    impl ShareHolder for Recorded {
        async fn hold(&self, share: Share, nodes: usize) {
            self.0.lock().unwrap().push((share, nodes));
        }

        fn waiting(&self, _settle: Duration) {}
    }

    impl Recorded {
        /// Wait (at most 5 s) until `count` shares were held; what was held.
        async fn held(&self, count: usize) -> Vec<(Share, usize)> {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let held = self.0.lock().unwrap().clone();
                if held.len() >= count {
                    return held;
                }
                assert!(tokio::time::Instant::now() < deadline, "held only {held:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    fn settling(this: &str, live: &[&str]) -> Option<ClusterView> {
        Some(ClusterView::new(
            NodeId::new(this),
            live.iter().map(|name| NodeId::new(*name)).collect(),
            Duration::from_millis(50),
        ))
    }

    #[tokio::test]
    async fn the_same_share_among_more_nodes_is_held_again_with_their_number() {
        // a shares 2 binds with c, then b comes: a's share stays one bind, among 3 nodes now.
        let (views, viewed) = watch::channel(settling("a", &["a", "c"]));
        let (stop, stopping) = watch::channel(false);
        let holder = Recorded::default();
        let half = Share { binds: 1, rate: 50 };
        let follow = follow_shares(&holder, viewed, stopping, 2, 100);
        let drive = async {
            assert_eq!(holder.held(1).await, vec![(half, 2)]);
            views.send_replace(settling("a", &["a", "b", "c"]));
            assert_eq!(holder.held(2).await, vec![(half, 2), (half, 3)]);
            // c is replaced by d: a's share and the count are unchanged, nothing is held.
            views.send_replace(settling("a", &["a", "b", "d"]));
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(holder.held(2).await.len(), 2);
            let _ = stop.send(true);
        };
        tokio::join!(follow, drive);
    }

    #[test]
    fn a_node_the_store_does_not_list_yet_counts_itself() {
        let alone = view("a", &[]);
        assert_eq!(alone.live, vec![NodeId::new("a")]);
        assert_eq!(alone.share(2, 10), Share { binds: 2, rate: 10 });
        let new = view("b", &["a"]);
        assert_eq!(new.share(2, 10), Share { binds: 1, rate: 5 });
        let cut_off = ClusterView::cut_off(NodeId::new("a"), Duration::from_secs(1));
        assert_eq!(cut_off.share(2, 10), Share { binds: 0, rate: 0 });
    }
}
