//! An account's SMPP credentials and options: what an SMPP client binds with (a system_id and a
//! password) and how the account's SMPP sessions behave (binds, rate, receipts). It exists apart
//! from the SMPP server so that the CLI, the store and the server agree on one set of rules: which
//! system ids and passwords are accepted, how a password is kept, and how a bind's password is
//! checked against it.
//!
//! The password is kept as an Argon2id hash in PHC string form (`$argon2id$v=19$…`), with a random
//! salt. Argon2 (the `argon2` crate of RustCrypto) because it is the winner of the Password
//! Hashing Competition and what OWASP recommends first, the crate is pure Rust and maintained, its
//! PHC strings carry their own parameters (so a later change of cost still verifies the hashes
//! stored before), and its verification compares in constant time. SMPP passwords are at most 8
//! characters: a fast hash of them (SHA-256, as for product tokens, which are 122 random bits)
//! would be cheap to brute-force from a leaked database; a memory-hard one is not.
//!
//! Verifying costs milliseconds of CPU (that is the point): a server calls [`SmppSettings::verify`]
//! once per bind, off its async threads.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

/// The most characters of a system_id (SMPP 3.4 §5.2.1: a C-Octet String of 16 octets with its
/// terminating NUL).
pub const MAX_SYSTEM_ID_LEN: usize = 15;

/// The most characters of a password (SMPP 3.4: 9 octets with the NUL).
pub const MAX_PASSWORD_LEN: usize = 8;

/// An account's SMPP credentials and session options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppSettings {
    /// What a bind names the account by: 1 to 15 printable ASCII characters without spaces,
    /// compared exactly (case-sensitive); unique across accounts.
    pub system_id: String,
    /// The password's hash.
    pub password: SmppPasswordHash,
    /// Most sessions bound at once.
    pub max_binds: NonZeroU32,
    /// Submitted parts per second; `None`: unlimited.
    pub rate: Option<NonZeroU32>,
    pub receipt_format: ReceiptFormat,
    pub receipt_pdu: ReceiptPdu,
}

impl SmppSettings {
    /// Binds allowed at once unless the account says otherwise.
    pub const DEFAULT_MAX_BINDS: NonZeroU32 = NonZeroU32::new(8).unwrap();

    /// Settings for `system_id` and `password` (both checked, the password hashed with a fresh
    /// salt), with the default options: 8 binds, no rate limit, CM receipts in `deliver_sm`.
    pub fn new(system_id: &str, password: &str) -> Result<SmppSettings, SmppSettingsError> {
        check_system_id(system_id)?;
        Ok(SmppSettings {
            system_id: system_id.to_owned(),
            password: SmppPasswordHash::hash(password)?,
            max_binds: Self::DEFAULT_MAX_BINDS,
            rate: None,
            receipt_format: ReceiptFormat::default(),
            receipt_pdu: ReceiptPdu::default(),
        })
    }

    /// Whether `password` is the account's SMPP password (in constant time).
    pub fn verify(&self, password: &str) -> bool {
        self.password.verify(password)
    }

    /// Whether a session bound with `bound` (these settings as they were at its bind) may stay
    /// bound now that the account `current` has (`None`: it is disabled, or nobody has its system
    /// id any more): only while the account still has these very credentials. Disabling the
    /// account, taking its SMPP settings away, changing its system id or setting its password
    /// anew (even to the same one: a new salt) ends its sessions.
    pub fn still_admits(bound: &SmppSettings, current: Option<&SmppSettings>) -> bool {
        current.is_some_and(|current| {
            current.system_id == bound.system_id && current.password == bound.password
        })
    }
}

/// Why a system_id or a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmppSettingsError {
    #[error("the SMPP system id must not be empty")]
    EmptySystemId,
    #[error("the SMPP system id has {0} characters; SMPP 3.4 allows at most {MAX_SYSTEM_ID_LEN}")]
    SystemIdTooLong(usize),
    #[error(
        "the SMPP system id may hold only printable ASCII characters without spaces (found {0:?})"
    )]
    SystemIdCharacter(char),
    #[error("the SMPP password must not be empty")]
    EmptyPassword,
    #[error("the SMPP password has {0} characters; SMPP 3.4 allows at most {MAX_PASSWORD_LEN}")]
    PasswordTooLong(usize),
    #[error("the SMPP password may hold only printable ASCII characters (found {0:?})")]
    PasswordCharacter(char),
    #[error("the SMPP password could not be hashed: {0}")]
    Hash(String),
}

/// Whether `system_id` can name an account: 1 to [`MAX_SYSTEM_ID_LEN`] characters, each printable
/// ASCII other than a space (`!` to `~`), which every ESME can type and send as a C-Octet String.
pub fn check_system_id(system_id: &str) -> Result<(), SmppSettingsError> {
    if system_id.is_empty() {
        return Err(SmppSettingsError::EmptySystemId);
    }
    if let Some(bad) = system_id.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(SmppSettingsError::SystemIdCharacter(bad));
    }
    if system_id.len() > MAX_SYSTEM_ID_LEN {
        return Err(SmppSettingsError::SystemIdTooLong(system_id.len()));
    }
    Ok(())
}

/// Whether `password` can be an SMPP password: 1 to [`MAX_PASSWORD_LEN`] characters, each
/// printable ASCII (a space included).
pub fn check_password(password: &str) -> Result<(), SmppSettingsError> {
    if password.is_empty() {
        return Err(SmppSettingsError::EmptyPassword);
    }
    if let Some(bad) = password
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' '))
    {
        return Err(SmppSettingsError::PasswordCharacter(bad));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(SmppSettingsError::PasswordTooLong(password.len()));
    }
    Ok(())
}

/// An SMPP password's Argon2 hash, in PHC string form (salt and parameters included).
#[derive(Clone, PartialEq, Eq)]
pub struct SmppPasswordHash(String);

impl SmppPasswordHash {
    /// Hash `password` (checked with [`check_password`]) with Argon2id, its default parameters
    /// and a random salt.
    pub fn hash(password: &str) -> Result<SmppPasswordHash, SmppSettingsError> {
        check_password(password)?;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| SmppPasswordHash(hash.to_string()))
            .map_err(|error| SmppSettingsError::Hash(error.to_string()))
    }

    /// A stored hash; `None` if it is not a PHC string.
    pub fn from_phc(phc: &str) -> Option<SmppPasswordHash> {
        argon2::PasswordHash::new(phc).ok()?;
        Some(SmppPasswordHash(phc.to_owned()))
    }

    /// The PHC string, as stored.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether `password` hashes to this (the crate compares the hashes in constant time).
    pub fn verify(&self, password: &str) -> bool {
        match argon2::PasswordHash::new(&self.0) {
            Ok(hash) => Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// Spend the time checking a password takes, for a bind whose system_id names no account (or one
/// without SMPP), so that how long a refusal takes does not tell whether the id exists. Always
/// `false`.
pub fn verify_unknown(password: &str) -> bool {
    static UNKNOWN: std::sync::OnceLock<Option<SmppPasswordHash>> = std::sync::OnceLock::new();
    if let Some(hash) = UNKNOWN.get_or_init(|| SmppPasswordHash::hash("unknown").ok()) {
        hash.verify(password);
    }
    false
}

impl fmt::Debug for SmppPasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmppPasswordHash(…)")
    }
}

/// The text of a delivery receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptFormat {
    /// CM's: `id:<32> submit date:yyyyMMddHHmmss done date:yyyyMMddHHmmss stat:… err:…`.
    #[default]
    Cm,
    /// SMPP 3.4 Appendix B's: `id:… sub:… dlvrd:… submit date:YYMMDDhhmm … text:…`.
    AppendixB,
}

/// Text that names no receipt format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SMPP receipt format '{0}': use cm or appendix-b")]
pub struct UnknownReceiptFormat(pub String);

impl ReceiptFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptFormat::Cm => "cm",
            ReceiptFormat::AppendixB => "appendix-b",
        }
    }
}

impl FromStr for ReceiptFormat {
    type Err = UnknownReceiptFormat;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "cm" => Ok(ReceiptFormat::Cm),
            "appendix-b" => Ok(ReceiptFormat::AppendixB),
            other => Err(UnknownReceiptFormat(other.to_owned())),
        }
    }
}

/// The PDU a delivery receipt is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptPdu {
    /// `deliver_sm` with esm_class 0x04, the text in short_message.
    #[default]
    DeliverSm,
    /// `data_sm`, the text in message_payload.
    DataSm,
}

/// Text that names no receipt PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SMPP receipt PDU '{0}': use deliver_sm or data_sm")]
pub struct UnknownReceiptPdu(pub String);

impl ReceiptPdu {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptPdu::DeliverSm => "deliver_sm",
            ReceiptPdu::DataSm => "data_sm",
        }
    }
}

impl FromStr for ReceiptPdu {
    type Err = UnknownReceiptPdu;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "deliver_sm" => Ok(ReceiptPdu::DeliverSm),
            "data_sm" => Ok(ReceiptPdu::DataSm),
            other => Err(UnknownReceiptPdu(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stays_bound_only_while_its_credentials_stay() {
        let bound = SmppSettings::new("acme", "s3cret!").unwrap();
        assert!(SmppSettings::still_admits(&bound, Some(&bound)));
        // Options other than the credentials may change.
        let more_binds = SmppSettings {
            max_binds: NonZeroU32::new(2).unwrap(),
            rate: NonZeroU32::new(5),
            ..bound.clone()
        };
        assert!(SmppSettings::still_admits(&bound, Some(&more_binds)));
        assert!(!SmppSettings::still_admits(&bound, None));
        let renamed = SmppSettings {
            system_id: "acme2".to_owned(),
            ..bound.clone()
        };
        assert!(!SmppSettings::still_admits(&bound, Some(&renamed)));
        let same_password_anew = SmppSettings::new("acme", "s3cret!").unwrap();
        assert!(!SmppSettings::still_admits(
            &bound,
            Some(&same_password_anew)
        ));
    }

    #[test]
    fn a_bind_of_no_account_is_refused_whatever_its_password() {
        // Even the password the stand-in hash was made from.
        for password in ["", "unknown", "secret1"] {
            assert!(!verify_unknown(password));
        }
    }

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let settings = SmppSettings::new("acme", "s3cret!").unwrap();
        assert!(settings.password.as_phc().starts_with("$argon2id$"));
        assert!(!settings.password.as_phc().contains("s3cret"));
        assert!(settings.verify("s3cret!"));
        assert!(!settings.verify("s3cret"));
        assert!(!settings.verify("S3cret!"));
        assert!(!settings.verify(""));
        // A fresh salt each time; both verify.
        let again = SmppPasswordHash::hash("s3cret!").unwrap();
        assert_ne!(again, settings.password);
        assert!(again.verify("s3cret!"));
        // A stored hash reads back; garbage does not, and never verifies.
        let stored = SmppPasswordHash::from_phc(settings.password.as_phc()).unwrap();
        assert!(stored.verify("s3cret!"));
        assert_eq!(SmppPasswordHash::from_phc("not a hash"), None);
        assert!(!SmppPasswordHash("not a hash".into()).verify(""));
        assert_eq!(format!("{:?}", settings.password), "SmppPasswordHash(…)");
    }

    #[test]
    fn system_ids_and_passwords_are_checked() {
        assert_eq!(check_system_id("a23456789012345"), Ok(()));
        assert_eq!(check_system_id("!~"), Ok(()));
        assert_eq!(
            check_system_id("a234567890123456"),
            Err(SmppSettingsError::SystemIdTooLong(16))
        );
        assert_eq!(check_system_id(""), Err(SmppSettingsError::EmptySystemId));
        assert_eq!(
            check_system_id("a b"),
            Err(SmppSettingsError::SystemIdCharacter(' '))
        );
        assert_eq!(
            check_system_id("café"),
            Err(SmppSettingsError::SystemIdCharacter('é'))
        );
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password("a b"), Ok(()));
        assert_eq!(
            check_password("123456789"),
            Err(SmppSettingsError::PasswordTooLong(9))
        );
        assert_eq!(check_password(""), Err(SmppSettingsError::EmptyPassword));
        assert_eq!(
            check_password("tab\t"),
            Err(SmppSettingsError::PasswordCharacter('\t'))
        );
        assert_eq!(
            SmppPasswordHash::hash("123456789"),
            Err(SmppSettingsError::PasswordTooLong(9))
        );
    }

    #[test]
    fn defaults_and_names() {
        let settings = SmppSettings::new("acme", "pw").unwrap();
        assert_eq!(settings.max_binds.get(), 8);
        assert_eq!(settings.rate, None);
        assert_eq!(settings.receipt_format, ReceiptFormat::Cm);
        assert_eq!(settings.receipt_pdu, ReceiptPdu::DeliverSm);
        for format in [ReceiptFormat::Cm, ReceiptFormat::AppendixB] {
            assert_eq!(format.as_str().parse(), Ok(format));
        }
        for pdu in [ReceiptPdu::DeliverSm, ReceiptPdu::DataSm] {
            assert_eq!(pdu.as_str().parse(), Ok(pdu));
        }
        assert!("CM".parse::<ReceiptFormat>().is_err());
        assert!("submit_sm".parse::<ReceiptPdu>().is_err());
    }
}
