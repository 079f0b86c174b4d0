//! Routing: which connectors a message is handed to, in order. A [`RoutingTable`] holds rules
//! (a channel, optionally a destination prefix and an account, and the names of the connectors
//! to try: the first is the primary, the others its failovers); [`route`] picks the rule for a
//! message. Pure: the connectors themselves, and what is done when one fails, live in the
//! dispatcher.
//!
//! The most specific matching rule wins, whatever the order of the rules: a rule for the
//! message's account comes before a rule for any account, and among those, the longest matching
//! destination prefix (no prefix is the shortest); the earlier rule wins a tie. So a rule for
//! one account or one country never has to be listed before the general ones to take effect.
//!
//! Routes are per channel ([`RoutingTable::configured`]): a channel no configured rule names is
//! carried by the default connector (the built-in simulator), so with no rules at all nothing is
//! restricted; on a channel that has rules, a destination and account none of them matches has no
//! route. [`routable_channels`] keeps the channels of a message that have a route for it: the
//! submission service refuses a message left with none (`Message is unroutable.`).
//!
//! Prefixes are in `00`-international form; a destination written with a leading `+` matches
//! them as its `00` form (`+3161…` matches `0031`).

use std::sync::Arc;

use crate::account::AccountId;
use crate::channel::Channel;

/// The name of a connector, as [`crate::ports::Connector::name`] gives it.
pub type ConnectorName = Arc<str>;

/// One rule of a [`RoutingTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// The channel the message is sent on.
    pub channel: Channel,
    /// Only destination numbers that start with this (as stored: `00` and the country code);
    /// any number when absent.
    pub destination_prefix: Option<String>,
    /// Only messages of this account; any account when absent.
    pub account: Option<AccountId>,
    /// The connectors to try, in order: the primary first, then its failovers. Never empty.
    pub connectors: Vec<ConnectorName>,
}

impl RouteRule {
    /// A rule for every message on `channel`, handed to `connectors` in order.
    pub fn new(channel: Channel, connectors: Vec<ConnectorName>) -> RouteRule {
        RouteRule {
            channel,
            destination_prefix: None,
            account: None,
            connectors,
        }
    }

    /// Only for destination numbers that start with `prefix`.
    pub fn for_destination_prefix(mut self, prefix: impl Into<String>) -> RouteRule {
        self.destination_prefix = Some(prefix.into());
        self
    }

    /// Only for messages of `account`.
    pub fn for_account(mut self, account: AccountId) -> RouteRule {
        self.account = Some(account);
        self
    }

    fn matches(&self, channel: Channel, destination: &str, account: AccountId) -> bool {
        self.channel == channel
            && self
                .destination_prefix
                .as_deref()
                .is_none_or(|prefix| starts_with_prefix(destination, prefix))
            && self.account.is_none_or(|only| only == account)
    }

    /// Greater is more specific: an account first, then the length of the prefix.
    fn specificity(&self) -> (bool, usize) {
        (
            self.account.is_some(),
            self.destination_prefix.as_deref().map_or(0, str::len),
        )
    }
}

/// Whether `destination` starts with `prefix` (`00`-international), reading a leading `+` of the
/// destination as `00`.
fn starts_with_prefix(destination: &str, prefix: &str) -> bool {
    match destination.strip_prefix('+') {
        None => destination.starts_with(prefix),
        Some(rest) => match prefix.strip_prefix("00") {
            Some(country) => rest.starts_with(country),
            // `""` and `"0"` are the start of every `00` form.
            None => "00".starts_with(prefix),
        },
    }
}

/// Why a routing table cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingTableError {
    /// A rule names no connector to hand its messages to.
    #[error("route rule {rule_index} (channel {channel}) names no connector")]
    NoConnectors { rule_index: usize, channel: Channel },
}

/// Why no connector can take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// No rule matches the message's channel, destination and account.
    #[error("no route for channel {channel} to {destination} of account {account}")]
    NoRoute {
        channel: Channel,
        destination: String,
        account: AccountId,
    },
}

/// The rules that say which connectors take which messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    rules: Vec<RouteRule>,
}

impl RoutingTable {
    /// A table of `rules`; every rule must name at least one connector.
    pub fn new(rules: Vec<RouteRule>) -> Result<RoutingTable, RoutingTableError> {
        if let Some((rule_index, rule)) = rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.connectors.is_empty())
        {
            return Err(RoutingTableError::NoConnectors {
                rule_index,
                channel: rule.channel,
            });
        }
        Ok(RoutingTable { rules })
    }

    /// Every channel to one connector (the embedded default: the simulator).
    pub fn every_channel_to(connector: ConnectorName) -> RoutingTable {
        RoutingTable {
            rules: Channel::ALL
                .iter()
                .map(|channel| RouteRule::new(*channel, vec![Arc::clone(&connector)]))
                .collect(),
        }
    }

    /// The configured `rules`, and for every channel none of them names, a rule handing all its
    /// messages to `default` (the built-in simulator): routes are per channel, and a channel
    /// without any is carried as if nothing were configured.
    pub fn configured(
        rules: Vec<RouteRule>,
        default: ConnectorName,
    ) -> Result<RoutingTable, RoutingTableError> {
        let mut table = RoutingTable::new(rules)?;
        for channel in Channel::ALL {
            if !table.rules.iter().any(|rule| rule.channel == channel) {
                table
                    .rules
                    .push(RouteRule::new(channel, vec![Arc::clone(&default)]));
            }
        }
        Ok(table)
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }

    /// Every connector some rule names (possibly more than once).
    pub fn connector_names(&self) -> impl Iterator<Item = &ConnectorName> {
        self.rules.iter().flat_map(|rule| rule.connectors.iter())
    }
}

/// The connectors to try for a message on `channel` to `destination` of `account`, in order
/// (primary first, then failovers): those of the most specific matching rule (see the module's
/// comment).
pub fn route<'table>(
    table: &'table RoutingTable,
    channel: Channel,
    destination: &str,
    account: AccountId,
) -> Result<&'table [ConnectorName], RoutingError> {
    let mut chosen: Option<&RouteRule> = None;
    for rule in &table.rules {
        if rule.matches(channel, destination, account)
            && chosen.is_none_or(|best| rule.specificity() > best.specificity())
        {
            chosen = Some(rule);
        }
    }
    chosen
        .map(|rule| rule.connectors.as_slice())
        .ok_or_else(|| RoutingError::NoRoute {
            channel,
            destination: destination.to_owned(),
            account,
        })
}

/// The channels of `channels` on which a message to `destination` of `account` has a route, in
/// their order: a message whose allowed channels this leaves empty is unroutable.
pub fn routable_channels(
    table: &RoutingTable,
    channels: &[Channel],
    destination: &str,
    account: AccountId,
) -> Vec<Channel> {
    channels
        .iter()
        .copied()
        .filter(|&channel| route(table, channel, destination, account).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(connectors: &[&str]) -> Vec<ConnectorName> {
        connectors.iter().map(|name| Arc::from(*name)).collect()
    }

    fn routed<'t>(
        table: &'t RoutingTable,
        channel: Channel,
        destination: &str,
        account: AccountId,
    ) -> Vec<&'t str> {
        route(table, channel, destination, account)
            .unwrap()
            .iter()
            .map(|name| &**name)
            .collect()
    }

    #[test]
    fn the_longest_matching_prefix_wins_whatever_the_order() {
        let table = RoutingTable::new(vec![
            RouteRule::new(Channel::Sms, names(&["world"])),
            RouteRule::new(Channel::Sms, names(&["nl"])).for_destination_prefix("0031"),
            RouteRule::new(Channel::Sms, names(&["nl-mobile"])).for_destination_prefix("00316"),
            RouteRule::new(Channel::Sms, names(&["nl-too"])).for_destination_prefix("0031"),
        ])
        .unwrap();
        assert_eq!(
            routed(&table, Channel::Sms, "0031612345678", 1),
            ["nl-mobile"]
        );
        // Of two rules as specific, the earlier.
        assert_eq!(routed(&table, Channel::Sms, "0031201234567", 1), ["nl"]);
        assert_eq!(routed(&table, Channel::Sms, "0044771234567", 1), ["world"]);
    }

    #[test]
    fn an_account_rule_comes_before_general_ones() {
        let table = RoutingTable::new(vec![
            RouteRule::new(Channel::Sms, names(&["nl"])).for_destination_prefix("00316"),
            RouteRule::new(Channel::Sms, names(&["dedicated"])).for_account(7),
            RouteRule::new(Channel::Sms, names(&["dedicated-nl"]))
                .for_account(7)
                .for_destination_prefix("0031"),
        ])
        .unwrap();
        // The account's rule wins over a longer general prefix; among the account's rules, the
        // longest prefix.
        assert_eq!(
            routed(&table, Channel::Sms, "0031612345678", 7),
            ["dedicated-nl"]
        );
        assert_eq!(
            routed(&table, Channel::Sms, "0044771234567", 7),
            ["dedicated"]
        );
        assert_eq!(routed(&table, Channel::Sms, "0031612345678", 8), ["nl"]);
    }

    #[test]
    fn the_connectors_come_in_failover_order_for_their_channel_only() {
        let table = RoutingTable::new(vec![
            RouteRule::new(Channel::Sms, names(&["smsc-a", "smsc-b", "smsc-c"])),
            RouteRule::new(Channel::WhatsApp, names(&["whatsapp-cloud"])),
        ])
        .unwrap();
        assert_eq!(
            routed(&table, Channel::Sms, "0031612345678", 1),
            ["smsc-a", "smsc-b", "smsc-c"]
        );
        assert_eq!(
            routed(&table, Channel::WhatsApp, "0031612345678", 1),
            ["whatsapp-cloud"]
        );
    }

    #[test]
    fn no_matching_rule_is_an_error() {
        let table = RoutingTable::new(vec![
            RouteRule::new(Channel::Sms, names(&["nl"])).for_destination_prefix("0031"),
            RouteRule::new(Channel::Sms, names(&["dedicated"])).for_account(7),
        ])
        .unwrap();
        assert_eq!(
            route(&table, Channel::Sms, "0044771234567", 8),
            Err(RoutingError::NoRoute {
                channel: Channel::Sms,
                destination: "0044771234567".into(),
                account: 8
            })
        );
        assert!(route(&table, Channel::Push, "0031612345678", 7).is_err());
        assert!(
            route(
                &RoutingTable::new(Vec::new()).unwrap(),
                Channel::Sms,
                "0031",
                1
            )
            .is_err()
        );
    }

    #[test]
    fn a_rule_without_connectors_is_refused() {
        assert_eq!(
            RoutingTable::new(vec![
                RouteRule::new(Channel::Sms, names(&["a"])),
                RouteRule::new(Channel::Viber, Vec::new()),
            ]),
            Err(RoutingTableError::NoConnectors {
                rule_index: 1,
                channel: Channel::Viber
            })
        );
    }

    #[test]
    fn the_default_table_sends_every_channel_to_one_connector() {
        let table = RoutingTable::every_channel_to("simulator".into());
        for channel in Channel::ALL {
            assert_eq!(routed(&table, channel, "0031612345678", 1), ["simulator"]);
        }
    }

    #[test]
    fn a_channel_without_configured_rules_goes_to_the_default() {
        let table = RoutingTable::configured(
            vec![RouteRule::new(Channel::Sms, names(&["op-a"])).for_destination_prefix("0031")],
            "simulator".into(),
        )
        .unwrap();
        assert_eq!(routed(&table, Channel::Sms, "0031612345678", 1), ["op-a"]);
        // SMS has a rule, so a destination it does not match has no route on SMS...
        assert!(route(&table, Channel::Sms, "0032471234567", 1).is_err());
        // ...while every other channel, which has none, goes to the simulator.
        for channel in Channel::ALL.into_iter().filter(|c| *c != Channel::Sms) {
            assert_eq!(routed(&table, channel, "0032471234567", 1), ["simulator"]);
        }
        // No rules at all: everything to the default, as before routes were configured.
        assert_eq!(
            RoutingTable::configured(Vec::new(), "simulator".into()).unwrap(),
            RoutingTable::every_channel_to("simulator".into())
        );
    }

    #[test]
    fn routable_channels_keeps_those_with_a_route_in_order() {
        let table = RoutingTable::configured(
            vec![
                RouteRule::new(Channel::Sms, names(&["op-a"])).for_destination_prefix("0031"),
                RouteRule::new(Channel::WhatsApp, names(&["wa"])).for_account(7),
            ],
            "simulator".into(),
        )
        .unwrap();
        let allowed = [Channel::WhatsApp, Channel::Viber, Channel::Sms];
        assert_eq!(
            routable_channels(&table, &allowed, "0031612345678", 7),
            [Channel::WhatsApp, Channel::Viber, Channel::Sms]
        );
        assert_eq!(
            routable_channels(&table, &allowed, "0032471234567", 8),
            [Channel::Viber]
        );
        assert_eq!(
            routable_channels(
                &table,
                &[Channel::Sms, Channel::WhatsApp],
                "0032471234567",
                8
            ),
            []
        );
    }

    #[test]
    fn a_plus_destination_matches_its_00_form() {
        let table = RoutingTable::new(vec![
            RouteRule::new(Channel::Sms, names(&["nl"])).for_destination_prefix("0031"),
        ])
        .unwrap();
        assert_eq!(routed(&table, Channel::Sms, "+31612345678", 1), ["nl"]);
        assert!(route(&table, Channel::Sms, "+32471234567", 1).is_err());
        assert!(route(&table, Channel::Sms, "32471234567", 1).is_err());
        assert!(starts_with_prefix("+31", "0"));
        assert!(starts_with_prefix("+31", "00"));
        assert!(!starts_with_prefix("+31", "1"));
    }
}
