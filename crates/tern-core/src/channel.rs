//! Channels a message can travel on. Names are matched without case (the Python SDK sends
//! `Whatsapp`); CM's other channel names are known but never enabled in Tern.

use std::fmt;
use std::str::FromStr;

/// A channel Tern can route to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Sms,
    WhatsApp,
    Rcs,
    Viber,
    Push,
}

/// CM channel names that exist but that no Tern account can have.
const KNOWN_UNROUTABLE: &[&str] = &[
    "Voice",
    "MobilePush",
    "Telegram Messenger",
    "Telegram",
    "Apple Messages for Business",
    "Facebook Messenger",
    "Instagram",
];

/// A channel name as a client may send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelName {
    /// One Tern routes.
    Routable(Channel),
    /// A CM channel Tern has no route for.
    Unroutable,
}

/// A name that is no CM channel at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel '{0}'")]
pub struct UnknownChannel(pub String);

impl Channel {
    /// Every routable channel, in CM's documentation order.
    pub const ALL: [Channel; 5] = [
        Channel::Sms,
        Channel::WhatsApp,
        Channel::Rcs,
        Channel::Viber,
        Channel::Push,
    ];

    /// CM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::WhatsApp => "WhatsApp",
            Channel::Rcs => "RCS",
            Channel::Viber => "Viber",
            Channel::Push => "Push",
        }
    }

    /// Parse a client's channel name.
    pub fn parse_name(name: &str) -> Result<ChannelName, UnknownChannel> {
        let trimmed = name.trim();
        if let Some(channel) = Channel::ALL
            .iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(trimmed))
        {
            return Ok(ChannelName::Routable(*channel));
        }
        if KNOWN_UNROUTABLE
            .iter()
            .any(|known| known.eq_ignore_ascii_case(trimmed))
        {
            return Ok(ChannelName::Unroutable);
        }
        Err(UnknownChannel(name.to_owned()))
    }

    /// Parse a comma-separated list (`SMS,WhatsApp`), as stored and as the CLI takes it.
    pub fn parse_list(list: &str) -> Result<Vec<Channel>, UnknownChannel> {
        let mut channels = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Channel::parse_name(name)? {
                ChannelName::Routable(channel) if !channels.contains(&channel) => {
                    channels.push(channel)
                }
                ChannelName::Routable(_) => {}
                ChannelName::Unroutable => return Err(UnknownChannel(name.to_owned())),
            }
        }
        Ok(channels)
    }

    /// The comma-separated form of a list.
    pub fn join(channels: &[Channel]) -> String {
        channels
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match Channel::parse_name(name)? {
            ChannelName::Routable(channel) => Ok(channel),
            ChannelName::Unroutable => Err(UnknownChannel(name.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!("Whatsapp".parse::<Channel>(), Ok(Channel::WhatsApp));
        assert_eq!(Channel::parse_name("voice"), Ok(ChannelName::Unroutable));
        assert!(Channel::parse_name("Pigeon").is_err());
        assert_eq!(
            Channel::parse_list("sms, viber,SMS").unwrap(),
            vec![Channel::Sms, Channel::Viber]
        );
    }
}
