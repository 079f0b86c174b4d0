//! The SMPP server's reading path driven by arbitrary bytes, as one connection would send them:
//! framing, decoding and the session state machine must never panic; every reply the session
//! asks for must encode; and a PDU that decodes must re-encode (Tern's encoder) to octets that
//! decode to the same value and encode to the same octets again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_proto::smpp::{self, Action, Frame, Session, SessionState};

/// Small enough that oversize lengths are exercised, large enough for a full submit_sm.
const MAX_PDU_BYTES: u32 = 1024;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new();
    let mut rest = data;
    loop {
        match smpp::next_frame(rest, MAX_PDU_BYTES) {
            Ok(Frame::Incomplete { needed }) => {
                assert!(needed > rest.len());
                break;
            }
            Ok(Frame::Complete { len }) => {
                let decoded = smpp::decode(&rest[..len]);
                if let Ok(command) = &decoded {
                    let encoded = command.encode().expect("a decoded PDU re-encodes");
                    let again = smpp::decode(&encoded).expect("Tern's encoding decodes");
                    // Responses without a body on error, and submit_multi (whose body is not
                    // read), may differ from their first encoding only in octets Tern drops.
                    assert_eq!(again.encode().unwrap(), encoded);
                    if encoded.len() == len || command.command_status.is_ok() {
                        assert_eq!(&again, command);
                    }
                }
                for action in session.receive(decoded) {
                    match action {
                        Action::Send(reply) => {
                            reply.encode().expect("every reply encodes");
                        }
                        Action::Authenticate { bind, .. } => {
                            // Alternate outcomes so both bound and refused sessions are explored.
                            let outcome = if bind.password.len() % 2 == 0 {
                                Ok("tern".to_owned())
                            } else {
                                Err(smpp::CommandStatus::ESME_RINVPASWD)
                            };
                            session.bind_outcome(outcome);
                        }
                        _ => {}
                    }
                }
                if session.state() == SessionState::Closed {
                    // The connection task stops reading here.
                    break;
                }
                rest = &rest[len..];
            }
            Err(error) => {
                let actions = session.frame_error(error, smpp::sequence_number_of(rest));
                assert!(actions.contains(&Action::Close));
                break;
            }
        }
    }
});
