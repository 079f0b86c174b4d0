//! Accounts and their product tokens. Tokens are GUIDs; only their SHA-256 is stored, and the
//! stored hash is compared in constant time.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::channel::Channel;
use crate::money::Money;
use crate::smpp_account::SmppSettings;
use crate::webhook_signature::{WebhookSecret, WebhookSecrets};

/// A product token: a GUID, held in its canonical lower-case hyphenated form.
#[derive(Clone, PartialEq, Eq)]
pub struct ProductToken(uuid::Uuid);

/// Text that is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a product token is a GUID such as 00000000-0000-0000-0000-000000000000")]
pub struct InvalidToken;

impl ProductToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        ProductToken(uuid::Uuid::new_v4())
    }

    /// The hash that is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_hyphenated().to_string().as_bytes()).into())
    }
}

impl FromStr for ProductToken {
    type Err = InvalidToken;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        // Accept the forms .NET's Guid.Parse accepts: hyphenated, braced, or plain 32 hex digits.
        let inner = trimmed
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(trimmed);
        if inner.len() != 36 && inner.len() != 32 {
            return Err(InvalidToken);
        }
        uuid::Uuid::parse_str(inner)
            .map(ProductToken)
            .map_err(|_| InvalidToken)
    }
}

impl fmt::Display for ProductToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_hyphenated())
    }
}

impl fmt::Debug for ProductToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProductToken(…)")
    }
}

/// SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Constant-time comparison.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From stored hex.
    pub fn from_hex(hex: &str) -> Option<TokenHash> {
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(TokenHash(bytes))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", &self.to_hex()[..8])
    }
}

/// The format status reports are POSTed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    #[default]
    Json,
    Xml,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Xml => "xml",
        }
    }
}

impl FromStr for ReportFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(ReportFormat::Json),
            "xml" => Ok(ReportFormat::Xml),
            other => Err(format!("unknown status format '{other}': use json or xml")),
        }
    }
}

/// Store-assigned account id.
pub type AccountId = i64;

/// An account as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub token_hash: TokenHash,
    /// `None`: unlimited. Whether an account has a balance is fixed when it is created (the
    /// amount changes, its presence does not): stores may rely on it.
    pub balance: Option<Money>,
    pub status_url: Option<String>,
    pub status_format: ReportFormat,
    pub inbound_url: Option<String>,
    /// The numbers whose inbound (MO) messages are the account's, normalised
    /// ([`crate::inbound::normalise_number`]), in the order given; each belongs to one account.
    pub inbound_numbers: Vec<String>,
    pub channels: Vec<Channel>,
    /// What SMPP clients bind with, and how its sessions behave; `None`: no SMPP. Shared, so
    /// that cloning an account (the cache hands out a clone per request) copies no strings.
    pub smpp: Option<Arc<SmppSettings>>,
    pub created_at: jiff::Timestamp,
    /// A disabled account is not found by its token or its SMPP system id (its requests are
    /// answered as an unknown token's); it is still listed, and its queued messages and their
    /// reports go on.
    pub disabled: bool,
    /// What its webhooks are signed with ([`crate::webhook_signature`]).
    pub webhook_secrets: WebhookSecrets,
}

/// An account to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub name: String,
    pub token_hash: TokenHash,
    pub balance: Option<Money>,
    pub status_url: Option<String>,
    pub status_format: ReportFormat,
    pub inbound_url: Option<String>,
    /// Its inbound numbers, normalised ([`crate::inbound::normalise_number`]); a number another
    /// account has already is a conflict.
    pub inbound_numbers: Vec<String>,
    pub channels: Vec<Channel>,
    /// SMPP credentials and options; `None`: no SMPP. A system id unique across accounts.
    pub smpp: Option<SmppSettings>,
    /// The secret its webhooks are signed with; `None`: the store generates one.
    pub webhook_secret: Option<WebhookSecret>,
}

/// A change to an account ([`crate::ports::AccountStore::update_account`]): each field that is
/// `Some` is set, the others are left as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountChange {
    /// A new product token (the old one is not found from then on).
    pub token_hash: Option<TokenHash>,
    /// `Some(None)` removes the status URL.
    pub status_url: Option<Option<String>>,
    pub status_format: Option<ReportFormat>,
    /// `Some(None)` removes the inbound URL.
    pub inbound_url: Option<Option<String>>,
    /// The numbers in place of the account's (normalised; another account's is a conflict).
    pub inbound_numbers: Option<Vec<String>>,
    pub channels: Option<Vec<Channel>>,
    /// Added to the balance, in the store, whatever it is by then (an account without a balance
    /// has none after: whether it has one is fixed when it is created).
    pub add_balance: Option<Money>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes the SMPP settings; another account's system id is a conflict.
    pub smpp: Option<Option<SmppSettings>>,
    /// The secrets in place of the account's (see [`WebhookSecrets::rotated`]).
    pub webhook_secrets: Option<WebhookSecrets>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_as_guids_and_hash_stably() {
        let token: ProductToken = "0A1B2C3D-0000-4000-8000-000000000001".parse().unwrap();
        assert_eq!(token.to_string(), "0a1b2c3d-0000-4000-8000-000000000001");
        let braced: ProductToken = "{0a1b2c3d-0000-4000-8000-000000000001}".parse().unwrap();
        assert!(token.hash().matches(&braced.hash()));
        assert!("not-a-token".parse::<ProductToken>().is_err());
        assert!("".parse::<ProductToken>().is_err());
        let hash = token.hash();
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
    }
}
