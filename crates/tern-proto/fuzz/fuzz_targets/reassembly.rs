//! Reassembly driven by arbitrary part sequences (UDH user data and SAR values):
//! must never panic, must stay within its memory limits, must never report more
//! parts received than expected, and must release everything on expiry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::sms::{ConcatInfo, Reassembler, Reassembly, ReassemblyLimits};

const LIMITS: ReassemblyLimits = ReassemblyLimits {
    max_messages: 8,
    max_bytes: 4096,
    max_part_bytes: 300,
};

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::new(LIMITS);
    let mut input = data;
    let mut now = 0u64;
    while let [op, source, rest @ ..] = input {
        let source = ["a", "b", "c"][usize::from(*source % 3)];
        now += u64::from(*op >> 4);
        let outcome = if op & 1 == 0 {
            // UDH form: a length octet, then that many octets of user data.
            let Some((&len, rest)) = rest.split_first() else {
                break;
            };
            let len = usize::from(len).min(rest.len());
            let (user_data, tail) = rest.split_at(len);
            input = tail;
            r.push_user_data(source, user_data, now)
        } else {
            // SAR form: reference (1 octet, small range to collide), total, sequence, length.
            let [reference, total, sequence, len, rest @ ..] = rest else {
                break;
            };
            let len = usize::from(*len).min(rest.len());
            let (payload, tail) = rest.split_at(len);
            input = tail;
            let concat = ConcatInfo {
                reference: u16::from(reference % 4),
                total: total % 6,
                sequence: sequence % 7,
            };
            r.push(source, concat, payload, now)
        };
        if let Ok(Reassembly::Pending { received, total }) = outcome {
            assert!(received < total);
        }
        assert!(r.pending_messages() <= LIMITS.max_messages);
        assert!(r.pending_bytes() <= LIMITS.max_bytes);
        if op & 0x0E == 0x0E {
            r.expire(now.saturating_sub(3));
        }
    }
    r.expire(u64::MAX);
    assert_eq!(r.pending_messages(), 0);
    assert_eq!(r.pending_bytes(), 0);
});
