//! This node's membership of the gateway's cluster (a shared PostgreSQL store): it says it is
//! alive every `heartbeat_secs`, and on each beat takes over the leases of nodes that have not
//! said so for `lease_secs` (see [`ClusterStore`]), logging each node it takes over. On the
//! embedded store both are no-ops. A node taken over may have handed messages to its
//! connectors whose reports it alone was waiting for: this node's connectors take them up
//! (`Wakeups::resume_awaiting`). When the node stops it leaves: the others need not wait for
//! its heartbeat to run out (its leases are released by the caller, after the work that holds
//! them has stopped).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tern_core::ports::ClusterStore;
use tokio::sync::watch;

/// The log target of cluster events.
const LOG_TARGET: &str = "tern_egress::cluster";

/// Heartbeats and takeovers.
pub struct ClusterMember {
    pub store: Arc<dyn ClusterStore>,
    /// Woken to take up the messages a node taken over had handed to its connectors.
    pub wakeups: Arc<crate::Wakeups>,
    /// How often this node says it is alive.
    pub heartbeat: Duration,
    /// How long a node may stay silent before it is dead.
    pub lease: Duration,
}

impl ClusterMember {
    /// Say this node is alive now: before its work starts, so that no other node takes it for
    /// dead meanwhile.
    pub async fn join(&self) -> Result<(), tern_core::ports::StoreError> {
        self.store.heartbeat(Timestamp::now()).await
    }

    /// Beat until `shutdown`, then leave.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let lease = SignedDuration::try_from(self.lease).unwrap_or(SignedDuration::MAX);
        let mut failing_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.heartbeat) => {}
                _ = shutdown.changed() => break,
            }
            let now = Timestamp::now();
            match self.store.heartbeat(now).await {
                Ok(()) => {
                    if failing_since.take().is_some() {
                        tracing::info!(target: LOG_TARGET, "heartbeats recorded again");
                    }
                }
                Err(error) => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    tracing::warn!(
                        target: LOG_TARGET,
                        %error,
                        failing_for_secs = since.elapsed().as_secs(),
                        "cannot record this node's heartbeat; past the lease the other nodes take its work over"
                    );
                    continue;
                }
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
