//! Reassembly of received concatenated parts (MO messages, SMPP submissions).
//!
//! Exists because parts arrive out of order, twice (a retried PDU), or never,
//! and a peer can open any number of partial messages: the reassembler joins
//! parts keyed by (source, reference, total), tolerates order and duplicates,
//! and keeps memory bounded by evicting the oldest partial messages. It has no
//! clock: the caller passes its own time (any monotonic unit) and calls
//! [`Reassembler::expire`] now and then.

use std::collections::{BTreeMap, HashMap};

use super::concat::{ConcatInfo, UdhError, parse_udh};

/// Bounds on what a [`Reassembler`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Partial messages held at once; the oldest is evicted past this.
    pub max_messages: usize,
    /// Octets held at once (payloads plus bookkeeping); the oldest partial
    /// messages are evicted past this.
    pub max_bytes: usize,
    /// Largest payload accepted for one part.
    pub max_part_bytes: usize,
}

impl Default for ReassemblyLimits {
    /// 4096 messages, 8 MiB, 64 KiB per part (an SMPP `message_payload`).
    fn default() -> Self {
        ReassemblyLimits {
            max_messages: 4096,
            max_bytes: 8 << 20,
            max_part_bytes: 65_535,
        }
    }
}

/// What pushing one part produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembly {
    /// The message is complete: its parts' payloads joined in sequence order.
    Complete(Vec<u8>),
    /// More parts are awaited.
    Pending {
        /// Distinct parts held so far.
        received: u8,
        /// Parts expected.
        total: u8,
    },
    /// This part was already held (the first copy is kept); nothing changed.
    Duplicate,
}

/// A part that cannot be reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// Total of 0 parts.
    #[error("concatenated part says the message has 0 parts")]
    ZeroTotal,
    /// Sequence number 0 or above the total.
    #[error("concatenated part number {sequence} is outside 1..={total}")]
    SequenceOutOfRange {
        /// The part number.
        sequence: u8,
        /// The total.
        total: u8,
    },
    /// Payload larger than [`ReassemblyLimits::max_part_bytes`].
    #[error("concatenated part of {len} octets exceeds the limit of {max}")]
    PartTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message alone exceeds [`ReassemblyLimits::max_bytes`]; it was dropped.
    #[error("partial message exceeds the reassembly memory limit and was dropped")]
    MessageTooLarge,
    /// The user data header did not parse.
    #[error(transparent)]
    Udh(#[from] UdhError),
}

type Key = (Box<str>, u16, u8);

#[derive(Debug)]
struct Partial {
    parts: Vec<Option<Box<[u8]>>>,
    received: u8,
    /// Octets charged to this message (payloads + bookkeeping).
    charged: usize,
    first_seen: u64,
    order: u64,
}

/// Joins concatenated parts. See the module documentation.
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    partials: HashMap<Key, Partial>,
    /// Arrival order of the first part of each partial message -> its key.
    by_age: BTreeMap<u64, Key>,
    next_order: u64,
    bytes: usize,
    evicted: u64,
}

/// Bookkeeping octets charged for a partial message besides its payloads.
fn overhead(source: &str, total: u8) -> usize {
    128 + source.len() * 2 + usize::from(total) * std::mem::size_of::<Option<Box<[u8]>>>()
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(ReassemblyLimits::default())
    }
}

impl Reassembler {
    /// An empty reassembler with these bounds.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            partials: HashMap::new(),
            by_age: BTreeMap::new(),
            next_order: 0,
            bytes: 0,
            evicted: 0,
        }
    }

    /// Partial messages held.
    pub fn pending_messages(&self) -> usize {
        self.partials.len()
    }

    /// Octets charged for the partial messages held (never above `max_bytes`).
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Partial messages evicted so far to stay within the limits.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds a part whose concatenation values came from a UDH or SAR TLVs.
    /// `source` identifies the sender (include the destination or the bind if
    /// references are only unique per pair); `now` is the caller's clock.
    pub fn push(
        &mut self,
        source: &str,
        concat: ConcatInfo,
        payload: &[u8],
        now: u64,
    ) -> Result<Reassembly, ReassemblyError> {
        let ConcatInfo {
            reference,
            total,
            sequence,
        } = concat;
        if total == 0 {
            return Err(ReassemblyError::ZeroTotal);
        }
        if sequence == 0 || sequence > total {
            return Err(ReassemblyError::SequenceOutOfRange { sequence, total });
        }
        if payload.len() > self.limits.max_part_bytes {
            return Err(ReassemblyError::PartTooLarge {
                len: payload.len(),
                max: self.limits.max_part_bytes,
            });
        }
        if total == 1 {
            return Ok(Reassembly::Complete(payload.to_vec()));
        }

        let key: Key = (source.into(), reference, total);
        if !self.partials.contains_key(&key) {
            let order = self.next_order;
            self.next_order += 1;
            let charged = overhead(source, total);
            self.bytes += charged;
            self.by_age.insert(order, key.clone());
            self.partials.insert(
                key.clone(),
                Partial {
                    parts: vec![None; usize::from(total)],
                    received: 0,
                    charged,
                    first_seen: now,
                    order,
                },
            );
        }
        let partial = self.partials.get_mut(&key).expect("inserted above");
        let slot = &mut partial.parts[usize::from(sequence - 1)];
        if slot.is_some() {
            return Ok(Reassembly::Duplicate);
        }
        *slot = Some(payload.into());
        partial.received += 1;
        partial.charged += payload.len();
        self.bytes += payload.len();

        if partial.received == total {
            let partial = self.remove(&key).expect("present");
            let len = partial.parts.iter().flatten().map(|p| p.len()).sum();
            let mut joined = Vec::with_capacity(len);
            for part in partial.parts.iter().flatten() {
                joined.extend_from_slice(part);
            }
            return Ok(Reassembly::Complete(joined));
        }
        let received = partial.received;
        let order = partial.order;
        self.enforce_limits(order);
        if !self.partials.contains_key(&key) {
            return Err(ReassemblyError::MessageTooLarge);
        }
        Ok(Reassembly::Pending { received, total })
    }

    /// Adds a part given as user data starting with a UDH (UDHI set). Without a
    /// concatenation element the message is complete as it stands. The payload
    /// kept is what follows the header (GSM: unpacked septets as SMPP carries them).
    pub fn push_user_data(
        &mut self,
        source: &str,
        user_data: &[u8],
        now: u64,
    ) -> Result<Reassembly, ReassemblyError> {
        let udh = parse_udh(user_data)?;
        let payload = &user_data[udh.len..];
        match udh.concat {
            Some(concat) => self.push(source, concat, payload, now),
            None => Ok(Reassembly::Complete(payload.to_vec())),
        }
    }

    /// Drops partial messages whose first part arrived before `cutoff`
    /// (e.g. `now - 24h`); returns how many.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        let stale: Vec<Key> = self
            .partials
            .iter()
            .filter(|(_, p)| p.first_seen < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &stale {
            self.remove(key);
        }
        stale.len()
    }

    fn remove(&mut self, key: &Key) -> Option<Partial> {
        let partial = self.partials.remove(key)?;
        self.by_age.remove(&partial.order);
        self.bytes -= partial.charged;
        Some(partial)
    }

    /// Evicts the oldest partial messages until within limits, sparing the one
    /// with arrival order `current` unless it alone breaks the limits.
    fn enforce_limits(&mut self, current: u64) {
        let over =
            |r: &Self| r.partials.len() > r.limits.max_messages || r.bytes > r.limits.max_bytes;
        while over(self) {
            let victim = self
                .by_age
                .iter()
                .find(|(order, _)| **order != current)
                .or_else(|| self.by_age.iter().next())
                .map(|(_, key)| key.clone());
            let Some(victim) = victim else { break };
            self.remove(&victim);
            self.evicted += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(reference: u16, total: u8, sequence: u8) -> ConcatInfo {
        ConcatInfo {
            reference,
            total,
            sequence,
        }
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::default();
        assert_eq!(
            r.push("a", ci(1, 3, 3), b"C", 0),
            Ok(Reassembly::Pending {
                received: 1,
                total: 3
            })
        );
        assert_eq!(r.push("a", ci(1, 3, 3), b"X", 0), Ok(Reassembly::Duplicate));
        assert_eq!(
            r.push("a", ci(1, 3, 1), b"A", 0),
            Ok(Reassembly::Pending {
                received: 2,
                total: 3
            })
        );
        // Same reference from another source is another message.
        assert!(matches!(
            r.push("b", ci(1, 3, 2), b"?", 0),
            Ok(Reassembly::Pending { .. })
        ));
        assert_eq!(
            r.push("a", ci(1, 3, 2), b"B", 0),
            Ok(Reassembly::Complete(b"ABC".to_vec()))
        );
        assert_eq!(r.pending_messages(), 1);
        // A duplicate after completion starts a new partial message (it cannot be told apart).
        assert!(matches!(
            r.push("a", ci(1, 3, 2), b"B", 1),
            Ok(Reassembly::Pending { .. })
        ));
        assert_eq!(r.expire(1), 1);
        assert_eq!(r.pending_messages(), 1);
        assert_eq!(r.expire(2), 1);
        assert_eq!(r.pending_messages(), 0);
        assert_eq!(r.pending_bytes(), 0);
    }

    #[test]
    fn udh_user_data() {
        let mut r = Reassembler::default();
        let p2 = [6, 8, 4, 0x12, 0x34, 2, 2, 0x00, 0x42];
        let p1 = [5, 0, 3, 0x34, 2, 1, 0x41]; // 8-bit ref 0x34: a different message
        let p1w = [6, 8, 4, 0x12, 0x34, 2, 1, 0x00, 0x41];
        assert!(matches!(
            r.push_user_data("s", &p2, 0),
            Ok(Reassembly::Pending { .. })
        ));
        assert!(matches!(
            r.push_user_data("s", &p1, 0),
            Ok(Reassembly::Pending { .. })
        ));
        assert_eq!(
            r.push_user_data("s", &p1w, 0),
            Ok(Reassembly::Complete(vec![0x00, 0x41, 0x00, 0x42]))
        );
        assert_eq!(
            r.push_user_data("s", &[0, 0x41], 0),
            Ok(Reassembly::Complete(vec![0x41]))
        );
        assert_eq!(
            r.push_user_data("s", &[5, 0, 3], 0),
            Err(ReassemblyError::Udh(UdhError::TooLong {
                udhl: 5,
                available: 2
            }))
        );
    }

    #[test]
    fn invalid_parts() {
        let mut r = Reassembler::default();
        assert_eq!(
            r.push("a", ci(1, 0, 0), b"", 0),
            Err(ReassemblyError::ZeroTotal)
        );
        assert_eq!(
            r.push("a", ci(1, 2, 3), b"", 0),
            Err(ReassemblyError::SequenceOutOfRange {
                sequence: 3,
                total: 2
            })
        );
        assert_eq!(
            r.push("a", ci(1, 2, 0), b"", 0),
            Err(ReassemblyError::SequenceOutOfRange {
                sequence: 0,
                total: 2
            })
        );
        assert_eq!(
            r.push("a", ci(1, 1, 1), b"x", 0),
            Ok(Reassembly::Complete(b"x".to_vec()))
        );
    }

    #[test]
    fn memory_is_bounded_by_evicting_the_oldest() {
        let limits = ReassemblyLimits {
            max_messages: 3,
            max_bytes: 100_000,
            max_part_bytes: 200,
        };
        let mut r = Reassembler::new(limits);
        for reference in 0..10u16 {
            r.push("a", ci(reference, 2, 1), b"x", 0).unwrap();
            assert!(r.pending_messages() <= 3);
        }
        assert_eq!(r.evicted(), 7);
        // The three newest survive.
        assert_eq!(
            r.push("a", ci(9, 2, 2), b"y", 0),
            Ok(Reassembly::Complete(b"xy".to_vec()))
        );
        assert!(matches!(
            r.push("a", ci(0, 2, 2), b"y", 0),
            Ok(Reassembly::Pending { .. })
        ));
        assert_eq!(
            r.push("a", ci(0, 2, 1), &[0; 201], 0),
            Err(ReassemblyError::PartTooLarge { len: 201, max: 200 })
        );

        let limits = ReassemblyLimits {
            max_messages: 100,
            max_bytes: 1000,
            max_part_bytes: 600,
        };
        let mut r = Reassembler::new(limits);
        r.push("a", ci(1, 3, 1), &[0; 300], 0).unwrap();
        r.push("a", ci(2, 3, 1), &[0; 300], 0).unwrap();
        assert!(r.pending_bytes() <= 1000);
        assert_eq!(r.pending_messages(), 2);
        r.push("a", ci(3, 3, 1), &[0; 300], 0).unwrap();
        assert!(r.pending_bytes() <= 1000);
        assert_eq!(r.evicted(), 1);
        // A message that alone exceeds the budget is dropped.
        r.push("a", ci(4, 3, 1), &[0; 600], 0).unwrap();
        assert_eq!(
            r.push("a", ci(4, 3, 2), &[0; 600], 0),
            Err(ReassemblyError::MessageTooLarge)
        );
        assert!(r.pending_bytes() <= 1000);
    }
}
