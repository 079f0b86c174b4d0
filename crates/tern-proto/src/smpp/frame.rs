//! Finding one PDU in a byte stream: SMPP frames each PDU by its first four octets,
//! `command_length`, which counts itself. Exists apart from decoding so the server can refuse an
//! absurd length from the first four octets alone, before it reads (or buffers) the body.

use thiserror::Error;

use super::status::CommandStatus;

/// Octets in every PDU's header: command_length, command_id, command_status, sequence_number.
pub const HEADER_LEN: usize = 16;

/// A `command_length` no PDU may have. After one, the stream cannot be resynchronised: the
/// caller answers generic_nack with [`FrameError::command_status`] and closes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Shorter than the 16-octet header it must contain.
    #[error("command_length {command_length} is shorter than the 16-octet header")]
    TooShort {
        /// The command_length received.
        command_length: u32,
    },
    /// Longer than the server accepts.
    #[error("command_length {command_length} exceeds the maximum of {max_pdu_bytes} octets")]
    TooLong {
        /// The command_length received.
        command_length: u32,
        /// The caller's limit.
        max_pdu_bytes: u32,
    },
}

impl FrameError {
    /// The generic_nack status that answers this error: ESME_RINVCMDLEN.
    pub const fn command_status(&self) -> CommandStatus {
        CommandStatus::ESME_RINVCMDLEN
    }
}

/// What the bytes received so far hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not a whole PDU yet; `needed` is the total number of octets to wait for (4 while the
    /// length itself is incomplete, then the command_length).
    Incomplete {
        /// Octets needed from the start of the buffer.
        needed: usize,
    },
    /// `buffer[..len]` is one whole PDU, header included.
    Complete {
        /// The PDU's command_length.
        len: usize,
    },
}

/// Says whether `received` starts with a whole PDU. The length is checked against 16 and
/// `max_pdu_bytes` as soon as its four octets are there, before any of the body is needed.
pub fn next_frame(received: &[u8], max_pdu_bytes: u32) -> Result<Frame, FrameError> {
    let Some(length_octets) = received.first_chunk::<4>() else {
        return Ok(Frame::Incomplete { needed: 4 });
    };
    let command_length = u32::from_be_bytes(*length_octets);
    if (command_length as usize) < HEADER_LEN {
        return Err(FrameError::TooShort { command_length });
    }
    if command_length > max_pdu_bytes {
        return Err(FrameError::TooLong {
            command_length,
            max_pdu_bytes,
        });
    }
    let len = command_length as usize;
    if received.len() < len {
        Ok(Frame::Incomplete { needed: len })
    } else {
        Ok(Frame::Complete { len })
    }
}

/// The sequence_number of a PDU whose header has arrived, for echoing it in a generic_nack
/// even when the rest cannot be used.
pub fn sequence_number_of(received: &[u8]) -> Option<u32> {
    let header = received.first_chunk::<HEADER_LEN>()?;
    Some(u32::from_be_bytes([
        header[12], header[13], header[14], header[15],
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_judged_from_the_first_four_octets() {
        assert_eq!(next_frame(&[], 100), Ok(Frame::Incomplete { needed: 4 }));
        assert_eq!(
            next_frame(&[0, 0, 0], 100),
            Ok(Frame::Incomplete { needed: 4 })
        );
        assert_eq!(
            next_frame(&[0, 0, 0, 15], 100),
            Err(FrameError::TooShort { command_length: 15 })
        );
        assert_eq!(
            next_frame(&[0, 0, 0, 0], 100),
            Err(FrameError::TooShort { command_length: 0 })
        );
        // Refused with only the length received: the body is never needed.
        assert_eq!(
            next_frame(&[0, 0, 0, 101], 100),
            Err(FrameError::TooLong {
                command_length: 101,
                max_pdu_bytes: 100
            })
        );
        assert_eq!(
            next_frame(&[0xFF, 0xFF, 0xFF, 0xFF], 65536),
            Err(FrameError::TooLong {
                command_length: u32::MAX,
                max_pdu_bytes: 65536
            })
        );
        assert_eq!(
            FrameError::TooShort { command_length: 1 }.command_status(),
            CommandStatus::ESME_RINVCMDLEN
        );
    }

    #[test]
    fn a_frame_is_complete_when_command_length_octets_are_there() {
        let mut pdu = vec![0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];
        assert_eq!(
            next_frame(&pdu[..10], 100),
            Ok(Frame::Incomplete { needed: 16 })
        );
        assert_eq!(next_frame(&pdu, 16), Ok(Frame::Complete { len: 16 }));
        pdu.extend_from_slice(&[0, 0]);
        assert_eq!(next_frame(&pdu, 100), Ok(Frame::Complete { len: 16 }));
        assert_eq!(sequence_number_of(&pdu), Some(7));
        assert_eq!(sequence_number_of(&pdu[..15]), None);
    }
}
