//! [`ClusterStore`] on PostgreSQL: the `nodes` table holds each node's last heartbeat; a node
//! whose heartbeat is older than a lease is dead, and the first live node to notice releases
//! what it held (its rows of `queue` and `outbox`) in one transaction, so its work is claimed
//! again by whichever node comes first.
//!
//! Every call is bounded ([`within`]): a node whose connection to the database was cut without
//! a word (a network cut, a host gone) learns that its heartbeat failed within the bound, not
//! when the kernel gives the connection up minutes later, so that it gives up its share of the
//! cluster's limits while the others take its work over (`tern_egress::cluster`).

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tern_core::ports::{ClusterStore, NodeId, StoreError, WorkSignal};

use super::{PgStore, backend_error, millis, within};

#[async_trait]
impl ClusterStore for PgStore {
    async fn heartbeat(&self, now: Timestamp) -> Result<(), StoreError> {
        within(async {
            sqlx::query(
                "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            )
            .bind(self.node().as_str())
            .bind(millis(now))
            .execute(self.pool())
            .await
            .map_err(backend_error)?;
            Ok(())
        })
        .await
    }

    async fn live_nodes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Vec<NodeId>, StoreError> {
        within(async {
            let names: Vec<String> =
                sqlx::query_scalar("SELECT id FROM nodes WHERE heartbeat_at >= $1 ORDER BY id")
                    .bind(millis(now - lease))
                    .fetch_all(self.pool())
                    .await
                    .map_err(backend_error)?;
            Ok(names.into_iter().map(NodeId::new).collect())
        })
        .await
    }

    async fn take_over_dead_nodes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Vec<(NodeId, u64)>, StoreError> {
        within(async {
            let mut transaction = self.pool().begin().await.map_err(backend_error)?;
            // Locked, and skipped when another node is taking them over at this moment.
            let dead: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM nodes WHERE heartbeat_at < $1 AND id <> $2
                 ORDER BY id FOR UPDATE SKIP LOCKED",
            )
            .bind(millis(now - lease))
            .bind(self.node().as_str())
            .fetch_all(&mut *transaction)
            .await
            .map_err(backend_error)?;
            if dead.is_empty() {
                return Ok(Vec::new());
            }
            let mut taken = Vec::with_capacity(dead.len());
            for node in dead {
                let mut released = 0u64;
                for table in ["queue", "outbox"] {
                    released += sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET due_at = $1, leased_by = NULL WHERE leased_by = $2"
                    )))
                    .bind(millis(now))
                    .bind(&node)
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend_error)?
                    .rows_affected();
                }
                sqlx::query("DELETE FROM nodes WHERE id = $1")
                    .bind(&node)
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend_error)?;
                taken.push((NodeId::new(node), released));
            }
            transaction.commit().await.map_err(backend_error)?;
            if taken.iter().any(|(_, released)| *released > 0) {
                self.wrote(WorkSignal::Missed);
            }
            Ok(taken)
        })
        .await
    }

    async fn leave(&self) -> Result<(), StoreError> {
        within(async {
            sqlx::query("DELETE FROM nodes WHERE id = $1")
                .bind(self.node().as_str())
                .execute(self.pool())
                .await
                .map_err(backend_error)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    //! What the conformance suite cannot show: a connection cut without a word.

    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use tern_testkit::postgres::PgCluster;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Whether the client's octets run a statement: PostgreSQL's Bind message (`B`), which
    /// every execution of a prepared statement begins with (a pool's liveness check is only a
    /// Sync).
    fn runs_a_statement(octets: &[u8]) -> bool {
        octets.first() == Some(&b'B')
    }

    /// A TCP relay on loopback to `upstream` that, once armed (`armed` set) and the client
    /// runs a statement, forwards nothing more either way and keeps every connection open: what
    /// a network cut in the middle of a query looks like to both ends.
    async fn relay(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicBool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let flags = (Arc::clone(&armed), cut);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let (armed, cut) = (Arc::clone(&flags.0), Arc::clone(&flags.1));
                tokio::spawn(pump(
                    client_read,
                    server_write,
                    Some(armed),
                    Arc::clone(&cut),
                ));
                tokio::spawn(pump(server_read, client_write, None, cut));
            }
        });
        (address, armed)
    }

    /// Copy `from` to `to` until `cut` is set; the client's side sets it once `armed`, on the
    /// first statement.
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        armed: Option<Arc<AtomicBool>>,
        cut: Arc<AtomicBool>,
    ) {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let Ok(read) = from.read(&mut buffer).await else {
                return;
            };
            if read == 0 {
                return;
            }
            if let Some(armed) = &armed
                && armed.load(Ordering::SeqCst)
                && runs_a_statement(&buffer[..read])
            {
                cut.store(true, Ordering::SeqCst);
            }
            if cut.load(Ordering::SeqCst) {
                // Silence: the octets are dropped, the connection stays open.
                std::future::pending::<()>().await;
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    /// A store of node `a` on a new database, its connections through a [`relay`]; the relay's
    /// switch.
    async fn store_through_a_relay() -> (PgStore, Arc<AtomicBool>) {
        let cluster = PgCluster::shared();
        let url = cluster.create_database();
        let direct = format!("127.0.0.1:{}", cluster.port());
        let (address, armed) = relay(direct.parse().unwrap()).await;
        let relayed = url.replace(&direct, &address.to_string());
        assert_ne!(relayed, url, "the URL goes through the relay");
        (PgStore::open(&relayed, NodeId::new("a")).unwrap(), armed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_heartbeat_over_a_cut_connection_fails_within_the_bound_instead_of_hanging() {
        let (store, armed) = store_through_a_relay().await;
        store.heartbeat(Timestamp::now()).await.unwrap();
        assert_eq!(
            store
                .live_nodes(Timestamp::now(), SignedDuration::from_secs(30))
                .await
                .unwrap(),
            vec![NodeId::new("a")]
        );
        // The connection is taken from the pool (and checked) as usual; the heartbeat's own
        // statement is what meets the cut.
        armed.store(true, Ordering::SeqCst);
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_secs(60), store.heartbeat(Timestamp::now()))
                .await
                .expect("the heartbeat hung past a minute");
        let took = started.elapsed();
        assert!(
            outcome.is_err(),
            "a heartbeat over a cut connection succeeded"
        );
        assert!(
            took >= Duration::from_secs(14) && took < Duration::from_secs(30),
            "the heartbeat failed after {took:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_over_a_cut_connection_fails_within_the_bound_instead_of_hanging() {
        use tern_core::ports::QueueStore;

        let (store, armed) = store_through_a_relay().await;
        let lease = SignedDuration::from_secs(30);
        assert!(
            store
                .claim_due(Timestamp::now(), 10, lease)
                .await
                .unwrap()
                .is_empty()
        );
        armed.store(true, Ordering::SeqCst);
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(60),
            store.claim_due(Timestamp::now(), 10, lease),
        )
        .await
        .expect("the claim hung past a minute");
        let took = started.elapsed();
        assert!(outcome.is_err(), "a claim over a cut connection succeeded");
        // This crate's tests bound delivery's calls at 5 seconds (60 in the gateway).
        assert!(
            took >= Duration::from_millis(4500) && took < Duration::from_secs(20),
            "the claim failed after {took:?}"
        );
    }
}
