//! [`ClusterStore`]: nodes say they are alive; the leases of a node that stopped saying so are
//! taken over by another, whose claim then finds its work. The embedded store has one node.

use jiff::SignedDuration;
use tern_core::ports::NodeId;

use crate::harness::*;

/// The lease of the cluster's tests (`[cluster] lease_secs`).
const NODE_LEASE: SignedDuration = SignedDuration::from_secs(30);

#[tokio::test]
async fn the_embedded_store_is_one_node_alive_alone() {
    if kind() != Kind::Sqlite {
        return;
    }
    let backend = Backend::new();
    let store = backend.open();
    let at = now();
    store.heartbeat(at).await.expect("heartbeat");
    assert_eq!(
        store.live_nodes(at, NODE_LEASE).await.expect("live nodes"),
        vec![NodeId::new(NodeId::EMBEDDED)]
    );
    let later = at + SignedDuration::from_hours(1);
    assert_eq!(
        store
            .take_over_dead_nodes(later, NODE_LEASE)
            .await
            .expect("take over"),
        Vec::new()
    );
    store.leave().await.expect("leave");
}

#[tokio::test]
async fn a_silent_node_is_dead_after_its_lease_and_another_node_takes_its_claims_over() {
    if kind() == Kind::Sqlite {
        return;
    }
    let backend = Backend::new();
    let a = backend.open_as("node-a");
    let b = backend.open_as("node-b");
    let start = now();
    a.heartbeat(start).await.expect("a beats");
    b.heartbeat(start).await.expect("b beats");
    assert_eq!(
        b.live_nodes(start, NODE_LEASE).await.expect("live nodes"),
        vec![NodeId::new("node-a"), NodeId::new("node-b")]
    );
    // Node a claims a message under a long lease, then goes silent.
    let account = account(&*a, None).await;
    let id = accept_one(&*a, account.id, start).await;
    let claimed = a
        .claim_due(start, 10, SignedDuration::from_hours(1))
        .await
        .expect("a claims");
    assert_eq!(ids(&claimed, |d| d.id), vec![id]);
    // Within the lease nobody takes anything over, and b finds nothing to claim.
    let within = start + NODE_LEASE;
    b.heartbeat(within).await.expect("b beats");
    assert_eq!(
        b.take_over_dead_nodes(within, NODE_LEASE)
            .await
            .expect("take over"),
        Vec::new()
    );
    assert!(
        b.claim_due(within, 10, LEASE)
            .await
            .expect("b claims")
            .is_empty()
    );
    // Past it, a is dead: b takes its one lease over and claims the message.
    let past = within + SignedDuration::from_secs(1);
    b.heartbeat(past).await.expect("b beats");
    assert_eq!(
        b.live_nodes(past, NODE_LEASE).await.expect("live nodes"),
        vec![NodeId::new("node-b")]
    );
    assert_eq!(
        b.take_over_dead_nodes(past, NODE_LEASE)
            .await
            .expect("take over"),
        vec![(NodeId::new("node-a"), 1)]
    );
    let reclaimed = b.claim_due(past, 10, LEASE).await.expect("b claims");
    assert_eq!(ids(&reclaimed, |d| d.id), vec![id]);
    // A node is taken over once; b itself is never taken over by itself.
    let much_later = past + SignedDuration::from_hours(1);
    assert_eq!(
        b.take_over_dead_nodes(much_later, NODE_LEASE)
            .await
            .expect("take over"),
        Vec::new()
    );
    // A node that leaves is no longer alive.
    b.leave().await.expect("leave");
    assert_eq!(
        b.live_nodes(past, NODE_LEASE).await.expect("live nodes"),
        Vec::<NodeId>::new()
    );
}
