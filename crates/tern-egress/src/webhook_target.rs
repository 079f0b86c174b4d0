//! Which addresses webhooks may be POSTed to. A status URL is whatever an account was created
//! with, so without a guard the gateway can be made to POST into its own network (loopback, the
//! cloud metadata service, private ranges). `[webhooks] allow` limits the hosts by name;
//! `[webhooks] deny_private` refuses private addresses. The address check runs on the address
//! actually connected to: names go through [`guard_addresses`] at connect time (so a name that
//! resolves to a public address when checked and a private one when used is still refused), and
//! IP-literal hosts, which never reach a resolver, are checked by [`TargetPolicy::check`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use jiff::SignedDuration;
use serde::Deserialize;

/// `[webhooks]` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookTargets {
    /// Refuse loopback, private, link-local, unique-local, CGNAT, metadata, unspecified,
    /// broadcast and multicast addresses.
    pub deny_private: bool,
    /// When set, the only hosts webhooks are POSTed to (exact names or IP literals, any case).
    pub allow: Option<Vec<String>>,
    /// For how long after `tern account rotate-secret` the replaced secret signs too, in hours
    /// (a number: fractions allowed; 0: the new secret alone at once).
    pub rotation_overlap_hours: f64,
}

impl Default for WebhookTargets {
    fn default() -> Self {
        WebhookTargets {
            deny_private: false,
            allow: None,
            rotation_overlap_hours: 24.0,
        }
    }
}

impl WebhookTargets {
    /// `rotation_overlap_hours` as a duration; an error names what is wrong with it.
    pub fn rotation_overlap(&self) -> Result<SignedDuration, String> {
        let hours = self.rotation_overlap_hours;
        if !hours.is_finite() || hours < 0.0 {
            return Err(format!(
                "[webhooks] rotation_overlap_hours = {hours}: a number of hours of at least 0"
            ));
        }
        SignedDuration::try_from_secs_f64(hours * 3600.0)
            .map_err(|_| format!("[webhooks] rotation_overlap_hours = {hours}: too large"))
    }
}

/// Why a webhook target is refused. A refusal does not go away on a retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("the URL has no host")]
    NoHost,
    #[error("host {host} is not in [webhooks] allow")]
    NotAllowed { host: String },
    #[error("address {address} of {host} is private and [webhooks] deny_private is set")]
    PrivateAddress { host: String, address: IpAddr },
    #[error(
        "{host} resolves only to private addresses ({addresses}) and [webhooks] deny_private is set"
    )]
    OnlyPrivateAddresses { host: String, addresses: String },
}

/// The `[webhooks]` rules that can be checked on a URL before connecting.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    deny_private: bool,
    /// Normalised allowed hosts (lower case, no brackets, no trailing dot).
    allow: Option<Vec<String>>,
    /// How long a replaced webhook secret signs too (`rotation_overlap_hours`; a value the
    /// configuration check refuses counts as 0).
    rotation_overlap: SignedDuration,
}

impl TargetPolicy {
    pub fn new(config: &WebhookTargets) -> TargetPolicy {
        TargetPolicy {
            deny_private: config.deny_private,
            allow: config
                .allow
                .as_ref()
                .map(|hosts| hosts.iter().map(|host| normalise_host(host)).collect()),
            rotation_overlap: config.rotation_overlap().unwrap_or(SignedDuration::ZERO),
        }
    }

    /// How long a replaced webhook secret signs too.
    pub fn rotation_overlap(&self) -> SignedDuration {
        self.rotation_overlap
    }

    /// Whether addresses must be checked at connect time ([`guard_addresses`]).
    pub fn deny_private(&self) -> bool {
        self.deny_private
    }

    /// Check `url`'s host against `allow`, and an IP-literal host against `deny_private`.
    /// Hosts given by name are checked by [`guard_addresses`] when connecting.
    pub fn check(&self, url: &reqwest::Url) -> Result<(), TargetRefused> {
        let name = normalise_host(url.host_str().ok_or(TargetRefused::NoHost)?);
        if let Some(allow) = &self.allow
            && !allow.contains(&name)
        {
            return Err(TargetRefused::NotAllowed { host: name });
        }
        if self.deny_private {
            // The URL parser has normalised numeric forms (`2130706433`, `0x7f.1`) already.
            if let Ok(address) = name.parse::<IpAddr>()
                && is_private(address)
            {
                return Err(TargetRefused::PrivateAddress {
                    host: name,
                    address,
                });
            }
        }
        Ok(())
    }
}

fn normalise_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether `address` is one `deny_private` refuses: loopback, private (RFC 1918), link-local
/// (including the metadata address 169.254.169.254), CGNAT (100.64.0.0/10), unspecified (which
/// connects to the local host), broadcast, multicast, and for IPv6 unique-local (fc00::/7,
/// including the metadata address fd00:ec2::254), link-local, site-local, and IPv4 addresses
/// embedded as IPv4-mapped, IPv4-compatible or NAT64 (64:ff9b::/96) addresses.
pub fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn is_private_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
    let embedded = Ipv4Addr::new(
        (segments[6] >> 8) as u8,
        segments[6] as u8,
        (segments[7] >> 8) as u8,
        segments[7] as u8,
    );
    if segments[..6] == [0; 6] && !address.is_loopback() && !address.is_unspecified() {
        return is_private_v4(embedded);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_private_v4(embedded);
    }
    address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site local fec0::/10 (deprecated)
}

/// The addresses `host` resolved to that `deny_private` lets a webhook connect to: the public
/// ones; [`TargetRefused::OnlyPrivateAddresses`] when none is left. The webhook client's
/// resolver applies it when it connects ([`crate::http_client::HttpClient`]), so the address checked is
/// the address connected to.
pub fn guard_addresses(
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, TargetRefused> {
    let (public, private): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
        .into_iter()
        .partition(|address| !is_private(address.ip()));
    if public.is_empty() {
        let addresses = private
            .iter()
            .map(|address| address.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(TargetRefused::OnlyPrivateAddresses {
            host: host.to_owned(),
            addresses,
        });
    }
    if !private.is_empty() {
        tracing::warn!(%host, ?private, "webhook host also resolves to private addresses; not using them");
    }
    Ok(public)
}

/// The refusal somewhere in `error`'s source chain, if a refusal caused it.
pub fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a TargetRefused> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<TargetRefused>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(text: &str) -> bool {
        is_private(text.parse().unwrap())
    }

    #[test]
    fn private_ranges_are_refused_and_public_ones_are_not() {
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(private(address), "{address} must count as private");
        }
        for address in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "193.0.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(!private(address), "{address} must count as public");
        }
    }

    #[test]
    fn allow_list_matches_hosts_exactly_and_ignores_case() {
        let policy = TargetPolicy::new(&WebhookTargets {
            deny_private: false,
            allow: Some(vec!["Hooks.Example.com".into(), "[::1]".into()]),
            ..WebhookTargets::default()
        });
        let check = |url: &str| policy.check(&reqwest::Url::parse(url).unwrap());
        assert_eq!(check("https://hooks.example.com/x"), Ok(()));
        assert_eq!(check("https://HOOKS.example.com.:8443/x"), Ok(()));
        assert_eq!(check("http://[::1]:9/x"), Ok(()));
        assert_eq!(
            check("https://evil.hooks.example.com/x"),
            Err(TargetRefused::NotAllowed {
                host: "evil.hooks.example.com".into()
            })
        );
    }

    #[test]
    fn ip_literals_are_checked_without_a_resolver() {
        let policy = TargetPolicy::new(&WebhookTargets {
            deny_private: true,
            allow: None,
            ..WebhookTargets::default()
        });
        let check = |url: &str| policy.check(&reqwest::Url::parse(url).unwrap());
        assert_eq!(check("http://8.8.8.8/x"), Ok(()));
        assert_eq!(
            check("http://localhost/x"),
            Ok(()),
            "names: the resolver's job"
        );
        assert_eq!(
            check("http://[fd00:ec2::254]/x"),
            Err(TargetRefused::PrivateAddress {
                host: "fd00:ec2::254".into(),
                address: "fd00:ec2::254".parse().unwrap()
            })
        );
        // The URL parser normalises numeric forms, so they cannot slip past.
        assert_eq!(
            check("http://2130706433/x"),
            Err(TargetRefused::PrivateAddress {
                host: "127.0.0.1".into(),
                address: "127.0.0.1".parse().unwrap()
            })
        );
    }

    #[test]
    fn private_answers_are_dropped_and_a_name_with_none_left_is_refused() {
        let address = |text: &str| -> SocketAddr { text.parse().unwrap() };
        assert_eq!(
            guard_addresses(
                "mixed.example",
                vec![address("10.0.0.1:0"), address("93.184.216.34:0")]
            ),
            Ok(vec![address("93.184.216.34:0")])
        );
        assert_eq!(
            guard_addresses(
                "inside.example",
                vec![address("127.0.0.1:0"), address("[::1]:0")]
            ),
            Err(TargetRefused::OnlyPrivateAddresses {
                host: "inside.example".into(),
                addresses: "127.0.0.1, ::1".into()
            })
        );
    }
}
