//! The gateway's connectors by name: what the routing table's names ([`tern_core::routing`])
//! stand for. Built once at start; a name given twice, or a route naming a connector that is not
//! here, is refused then rather than found out at the first send. Each connector's capacity
//! ([`Connector::max_in_flight`]) is a semaphore here: a send holds a permit while the connector
//! has it, and draining takes every permit back before the connector's own drain.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::join_all;
use tern_core::ports::{Connector, ConnectorHealth};
use tern_core::routing::{ConnectorName, RoutingTable};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Why a set of connectors cannot serve a routing table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorRegistryError {
    /// Two connectors have one name (their external ids would be confused).
    #[error("two connectors are named '{0}'")]
    DuplicateName(ConnectorName),
    /// A route names a connector that does not exist.
    #[error("a route names connector '{0}', which does not exist")]
    UnknownConnector(ConnectorName),
}

/// A connector is draining: it takes no more sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connector is draining")]
pub struct Draining;

/// A connector and the sends it may still take.
pub struct Registered {
    pub connector: Arc<dyn Connector>,
    /// One permit per send it may take now; closed once it drains.
    in_flight: Semaphore,
    /// Its capacity: every permit of `in_flight`.
    max_in_flight: u32,
}

impl Registered {
    fn new(connector: Arc<dyn Connector>) -> Registered {
        let max_in_flight = connector
            .max_in_flight()
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize))
            as u32;
        Registered {
            connector,
            in_flight: Semaphore::new(max_in_flight as usize),
            max_in_flight,
        }
    }

    /// Wait until the connector may take one more send; hold the permit while it has it.
    pub async fn room(&self) -> Result<SemaphorePermit<'_>, Draining> {
        self.in_flight.acquire().await.map_err(|_| Draining)
    }

    /// Wait for the sends in flight, refuse new ones, then drain the connector itself.
    async fn drain(&self) {
        // The semaphore is fair: sends that ask after this wait behind it, and fail on close.
        if let Ok(every_permit) = self.in_flight.acquire_many(self.max_in_flight).await {
            every_permit.forget();
        }
        self.in_flight.close();
        self.connector.drain().await;
    }
}

/// The connectors, each under its [`Connector::name`].
#[derive(Default)]
pub struct ConnectorRegistry {
    by_name: HashMap<ConnectorName, Registered>,
}

impl ConnectorRegistry {
    /// The registry of `connectors`, whose names must differ.
    pub fn new(
        connectors: impl IntoIterator<Item = Arc<dyn Connector>>,
    ) -> Result<ConnectorRegistry, ConnectorRegistryError> {
        let mut by_name = HashMap::new();
        for connector in connectors {
            let name = connector.name();
            if by_name.contains_key(&name) {
                return Err(ConnectorRegistryError::DuplicateName(name));
            }
            by_name.insert(name, Registered::new(connector));
        }
        Ok(ConnectorRegistry { by_name })
    }

    /// Whether every connector `routes` names is here.
    pub fn serves(&self, routes: &RoutingTable) -> Result<(), ConnectorRegistryError> {
        match routes
            .connector_names()
            .find(|name| !self.by_name.contains_key(*name))
        {
            Some(name) => Err(ConnectorRegistryError::UnknownConnector(Arc::clone(name))),
            None => Ok(()),
        }
    }

    /// The connector named `name`.
    pub fn get(&self, name: &str) -> Option<&Registered> {
        self.by_name.get(name)
    }

    /// Start every connector (at once); log those that are not up yet.
    pub async fn start(&self) {
        join_all(
            self.by_name
                .values()
                .map(|registered| registered.connector.start()),
        )
        .await;
        for (name, health) in self.health() {
            if health != ConnectorHealth::Up {
                tracing::warn!(connector = %name, ?health, "connector started but is not up");
            }
        }
    }

    /// Drain every connector (at once): no new sends, those in flight finished.
    pub async fn drain(&self) {
        join_all(self.by_name.values().map(Registered::drain)).await;
    }

    /// Every connector's health, by name.
    pub fn health(&self) -> Vec<(ConnectorName, ConnectorHealth)> {
        self.by_name
            .iter()
            .map(|(name, registered)| (Arc::clone(name), registered.connector.health()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use tern_core::channel::Channel;
    use tern_core::ports::{ConnectorError, Dispatch, Sent};
    use tern_core::routing::RouteRule;

    use super::*;

    struct Named(&'static str);

    #[async_trait]
    impl Connector for Named {
        fn name(&self) -> Arc<str> {
            self.0.into()
        }
        async fn send(&self, _message: &Dispatch) -> Result<Sent, ConnectorError> {
            Ok(Sent::default())
        }
    }

    /// A connector that takes `max_in_flight` sends at once, each for a while, and records the
    /// most it ever had at once and whether it was drained.
    #[derive(Default)]
    struct Slow {
        max_in_flight: usize,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        drained: AtomicUsize,
    }

    #[async_trait]
    impl Connector for Slow {
        fn name(&self) -> Arc<str> {
            "slow".into()
        }
        async fn send(&self, _message: &Dispatch) -> Result<Sent, ConnectorError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(Sent::default())
        }
        async fn drain(&self) {
            assert_eq!(self.in_flight.load(Ordering::SeqCst), 0, "drained mid-send");
            self.drained.fetch_add(1, Ordering::SeqCst);
        }
        fn max_in_flight(&self) -> usize {
            self.max_in_flight
        }
    }

    async fn send_through(registered: &Registered, message: &Dispatch) -> bool {
        match registered.room().await {
            Ok(_permit) => registered.connector.send(message).await.is_ok(),
            Err(Draining) => false,
        }
    }

    fn message() -> Dispatch {
        crate::test_support::dispatch(1)
    }

    #[tokio::test]
    async fn a_connector_never_has_more_sends_than_its_capacity() {
        let slow = Arc::new(Slow {
            max_in_flight: 3,
            ..Slow::default()
        });
        let registry = ConnectorRegistry::new([Arc::clone(&slow) as Arc<dyn Connector>]).unwrap();
        let registered = registry.get("slow").unwrap();
        let message = message();
        let sends = (0..10).map(|_| send_through(registered, &message));
        assert!(join_all(sends).await.into_iter().all(|took| took));
        assert_eq!(slow.most_in_flight.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn draining_finishes_the_sends_in_flight_and_refuses_new_ones() {
        let slow = Arc::new(Slow {
            max_in_flight: 2,
            ..Slow::default()
        });
        let registry = ConnectorRegistry::new([Arc::clone(&slow) as Arc<dyn Connector>]).unwrap();
        let registered = registry.get("slow").unwrap();
        let message = message();
        let (first, second, drained) = tokio::join!(
            send_through(registered, &message),
            send_through(registered, &message),
            registry.drain()
        );
        assert!(first && second, "sends in flight are finished");
        assert_eq!(slow.drained.load(Ordering::SeqCst), 1);
        let () = drained;
        assert!(!send_through(registered, &message).await);
        assert_eq!(slow.most_in_flight.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_capacity_of_zero_is_one() {
        let slow = Arc::new(Slow::default());
        let registry = ConnectorRegistry::new([slow as Arc<dyn Connector>]).unwrap();
        assert_eq!(registry.get("slow").unwrap().max_in_flight, 1);
    }

    fn registry(names: &[&'static str]) -> Result<ConnectorRegistry, ConnectorRegistryError> {
        ConnectorRegistry::new(
            names
                .iter()
                .map(|name| Arc::new(Named(name)) as Arc<dyn Connector>),
        )
    }

    #[test]
    fn names_are_unique() {
        assert_eq!(
            registry(&["a", "b", "a"]).err(),
            Some(ConnectorRegistryError::DuplicateName("a".into()))
        );
    }

    #[test]
    fn every_connector_a_route_names_must_exist() {
        let routes = RoutingTable::new(vec![RouteRule::new(
            Channel::Sms,
            vec!["a".into(), "b".into()],
        )])
        .unwrap();
        assert_eq!(registry(&["a", "b"]).unwrap().serves(&routes), Ok(()));
        assert_eq!(
            registry(&["a"]).unwrap().serves(&routes),
            Err(ConnectorRegistryError::UnknownConnector("b".into()))
        );
    }
}
