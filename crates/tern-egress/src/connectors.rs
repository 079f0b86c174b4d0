//! The gateway's connectors by name: what the routing table's names ([`tern_core::routing`])
//! stand for. Built once at start; a name given twice, or a route naming a connector that is not
//! here, is refused then rather than found out at the first send.

use std::collections::HashMap;
use std::sync::Arc;

use tern_core::ports::Connector;
use tern_core::routing::{ConnectorName, RoutingTable};

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

/// The connectors, each under its [`Connector::name`].
#[derive(Clone, Default)]
pub struct ConnectorRegistry {
    by_name: HashMap<ConnectorName, Arc<dyn Connector>>,
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
            by_name.insert(name, connector);
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
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Connector>> {
        self.by_name.get(name)
    }

    /// Every connector, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Connector>> {
        self.by_name.values()
    }
}

#[cfg(test)]
mod tests {
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
