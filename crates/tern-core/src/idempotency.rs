//! Idempotent submits: the rules of the `Idempotency-Key` header, kept apart from the surfaces
//! (which only read the header and hash the body) and from the store (which only records).
//!
//! A client that retries a request (a timeout, a dropped connection) sends it again with the key
//! it gave the first time. The first response that created messages is stored with them, in the
//! same transaction (so a crash can never leave a key without its messages, nor messages without
//! their key), together with the SHA-256 of the request's body. A repeat within
//! [`KEY_LIFETIME`] gets that response back byte for byte and creates nothing; the same key with
//! another body is refused ([`crate::error_code::RequestError::IdempotencyKeyReused`]). A
//! response that created nothing (an error for the whole request, every message rejected) is not
//! remembered: nothing was created, so judging a retry afresh cannot create anything twice.
//!
//! Repeats arriving at the same moment are serialised here, per account and key
//! ([`KeysInFlight`]): the second waits for the first and answers its stored response. Across
//! processes (several nodes on one database), the store's unique key is the final arbiter: a
//! request whose key another committed first is answered
//! [`crate::ports::AcceptError::KeyTaken`], and then answers that other's response.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::account::AccountId;
use crate::error_code::RequestError;

/// How long a key is remembered: a repeat after this is a new request.
pub const KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

/// Longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A client's `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] printable ASCII characters (space to `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key of a header value as sent; [`RequestError::InvalidIdempotencyKey`] for anything
    /// but 1 to 255 printable ASCII characters.
    pub fn parse(value: &[u8]) -> Result<IdempotencyKey, RequestError> {
        if value.is_empty()
            || value.len() > MAX_KEY_LEN
            || !value.iter().all(|byte| (b' '..=b'~').contains(byte))
        {
            return Err(RequestError::InvalidIdempotencyKey);
        }
        // Printable ASCII is UTF-8.
        String::from_utf8(value.to_vec())
            .map(IdempotencyKey)
            .map_err(|_| RequestError::InvalidIdempotencyKey)
    }

    /// A key read back from the store (checked when it was first given).
    pub fn from_stored(key: String) -> IdempotencyKey {
        IdempotencyKey(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a request's body as received: what makes a repeat "the same request".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHash(pub [u8; 32]);

impl RequestHash {
    pub fn of(body: &[u8]) -> RequestHash {
        RequestHash(Sha256::digest(body).into())
    }
}

/// A response as the client received it: status, content type and body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A key with the request it named and the response it got, as stored with the messages that
/// request created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key: IdempotencyKey,
    pub request_hash: RequestHash,
    pub reply: Reply,
    /// When the request was accepted: the key is forgotten [`KEY_LIFETIME`] later.
    pub created_at: Timestamp,
}

impl KeyRecord {
    /// Keys stored before this are forgotten at `now`: a record of one may be replaced, and it
    /// is not looked up any more.
    pub fn forgotten_before(now: Timestamp) -> Timestamp {
        now - KEY_LIFETIME
    }

    /// Stored keys older than this may be replaced by this record (see
    /// [`KeyRecord::forgotten_before`]).
    pub fn replaces_before(&self) -> Timestamp {
        KeyRecord::forgotten_before(self.created_at)
    }

    /// What a repeat of `request` gets: the stored response when it is the same request,
    /// [`RequestError::IdempotencyKeyReused`] when it is another.
    pub fn replay(self, request: RequestHash) -> Result<Reply, RequestError> {
        if self.request_hash == request {
            Ok(self.reply)
        } else {
            Err(RequestError::IdempotencyKeyReused)
        }
    }
}

/// The keys whose requests are being handled in this process, so that concurrent repeats of
/// one key wait for each other instead of racing to the store.
#[derive(Default)]
pub struct KeysInFlight {
    turns: Mutex<HashMap<(AccountId, IdempotencyKey), Turn>>,
}

/// The lock that one key's requests take in turn.
type Turn = Arc<tokio::sync::Mutex<()>>;

impl KeysInFlight {
    /// Wait for the turn of `key` of `account`: held until the returned guard is dropped.
    pub async fn turn(&self, account: AccountId, key: &IdempotencyKey) -> KeyTurn<'_> {
        let entry = (account, key.clone());
        let lock = {
            let mut turns = self
                .turns
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            Arc::clone(turns.entry(entry.clone()).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyTurn {
            owner: self,
            entry: Some(entry),
            lock,
            guard: Some(guard),
        }
    }

    /// How many keys are held or waited for (for tests).
    pub fn len(&self) -> usize {
        self.turns
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The turn of one key (see [`KeysInFlight::turn`]); the key's entry goes when nobody holds or
/// waits for it any more.
pub struct KeyTurn<'a> {
    owner: &'a KeysInFlight,
    entry: Option<(AccountId, IdempotencyKey)>,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for KeyTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut turns = self
            .owner
            .turns
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // The map's reference and this turn's: nobody else waits.
        if Arc::strong_count(&self.lock) == 2
            && let Some(entry) = self.entry.take()
        {
            turns.remove(&entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_key_is_1_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(b" ~!order-42 / retry").is_ok());
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
        for bad in [
            b"".to_vec(),
            "k".repeat(256).into_bytes(),
            b"tab\there".to_vec(),
            b"new\nline".to_vec(),
            "caf\u{e9}".as_bytes().to_vec(),
            vec![0x7f],
        ] {
            assert_eq!(
                IdempotencyKey::parse(&bad),
                Err(RequestError::InvalidIdempotencyKey),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_repeat_replays_and_another_body_is_refused() {
        let reply = Reply {
            status: 200,
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
        };
        let record = KeyRecord {
            key: IdempotencyKey::parse(b"k").unwrap(),
            request_hash: RequestHash::of(b"one"),
            reply: reply.clone(),
            created_at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(record.clone().replay(RequestHash::of(b"one")), Ok(reply));
        assert_eq!(
            record.replay(RequestHash::of(b"two")),
            Err(RequestError::IdempotencyKeyReused)
        );
    }

    #[test]
    fn keys_are_forgotten_after_24_hours() {
        let now: Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        assert_eq!(
            KeyRecord::forgotten_before(now),
            "2026-12-01T12:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn concurrent_turns_of_one_key_wait_for_each_other() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let keys = Arc::new(KeysInFlight::default());
            let key = IdempotencyKey::parse(b"k").unwrap();
            let first = keys.turn(1, &key).await;
            // Another account's key of the same name is not held up.
            drop(keys.turn(2, &key).await);
            let waiting = {
                let (keys, key) = (Arc::clone(&keys), key.clone());
                tokio::spawn(async move {
                    let _turn = keys.turn(1, &key).await;
                })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiting.is_finished());
            drop(first);
            tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("the second turn follows the first")
                .unwrap();
            assert!(keys.is_empty());
        });
    }
}
