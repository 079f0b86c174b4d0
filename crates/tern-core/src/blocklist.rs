//! Opt-outs and blocklists: numbers an account (or every account) must not send to. The rules
//! live here, apart from the store that keeps the lists and the surfaces that render the
//! rejection:
//!
//! - numbers are kept in one form ([`normalise`], as inbound numbers are: CM's `00` form for an
//!   international number), so that `+31612345678` and `0031612345678` are one number;
//! - a submission's accepted recipients on a list are rejected before they are stored or billed
//!   ([`screen`], [`Rejection::Blacklisted`]: CM's 402 `Message has been blacklisted`);
//! - a message queued before its number was blocked fails when it is due instead of being sent
//!   ([`blocked_at_dispatch`]: the spec's error 37);
//! - an inbound message that is exactly an opt-out keyword blocks its sender for the account it
//!   was sent to, and `START` unblocks it ([`OptOutKeywords::judge`]).

use std::collections::HashSet;

use jiff::Timestamp;

use crate::account::AccountId;
use crate::dispatch::Event;
use crate::error_code::{DeliveryError, Rejection};
use crate::inbound::{self, InvalidInboundNumber};
use crate::status::CmStatus;
use crate::submission::RecipientOutcome;

/// Whose list a number is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockScope {
    /// Every account's.
    Global,
    /// One account's.
    Account(AccountId),
}

impl BlockScope {
    /// How the store keeps it: 0 for the global list, an account's id otherwise (ids start at
    /// 1).
    pub fn key(self) -> i64 {
        match self {
            BlockScope::Global => 0,
            BlockScope::Account(id) => id,
        }
    }

    /// The scope of a stored [`BlockScope::key`].
    pub fn from_key(key: i64) -> BlockScope {
        if key == 0 {
            BlockScope::Global
        } else {
            BlockScope::Account(key)
        }
    }

    /// Whether a number on this list is blocked for `account`.
    pub fn covers(self, account: AccountId) -> bool {
        match self {
            BlockScope::Global => true,
            BlockScope::Account(id) => id == account,
        }
    }
}

/// A number on a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedNumber {
    pub scope: BlockScope,
    /// In [`normalise`]'s form.
    pub number: String,
    /// When it was put on the list.
    pub blocked_at: Timestamp,
}

/// The form a number is kept and compared in: [`inbound::normalise_number`]'s (digits, 3-20 of
/// them, optionally after a `+`; an international number in CM's `00` form).
pub fn normalise(number: &str) -> Result<String, InvalidInboundNumber> {
    inbound::normalise_number(number)
}

/// The form of a recipient as a submission gave it, to look it up on the lists; `None` when it
/// is no number (which no list can hold).
pub fn recipient_key(recipient: &str) -> Option<String> {
    normalise(recipient).ok()
}

/// The accepted recipients of `outcomes` to look up, in [`recipient_key`]'s form, each once.
pub fn recipients(outcomes: &[RecipientOutcome]) -> Vec<String> {
    let mut seen = HashSet::new();
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            RecipientOutcome::Accepted(message) => recipient_key(&message.recipient),
            RecipientOutcome::Rejected { .. } => None,
        })
        .filter(|key| seen.insert(key.clone()))
        .collect()
}

/// `outcomes` with every accepted recipient whose number is in `blocked` (numbers in
/// [`recipient_key`]'s form) rejected as [`Rejection::Blacklisted`], in place, in order.
pub fn screen(outcomes: Vec<RecipientOutcome>, blocked: &HashSet<String>) -> Vec<RecipientOutcome> {
    if blocked.is_empty() {
        return outcomes;
    }
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            RecipientOutcome::Accepted(message)
                if recipient_key(&message.recipient).is_some_and(|key| blocked.contains(&key)) =>
            {
                RecipientOutcome::Rejected {
                    to: message.recipient,
                    reference: message.reference,
                    rejection: Rejection::Blacklisted,
                }
            }
            other => other,
        })
        .collect()
}

/// What a due message whose number is blocked comes to instead of being sent: its attempt
/// fails (status 3, `Failed`) with the spec's error 37 (the number is on a do-not-contact
/// list), which its status report says; as any failure, it then falls back to its next channel,
/// where the same rule holds.
pub fn blocked_at_dispatch(attempt: u32) -> Event {
    Event::ChannelReport {
        attempt,
        status: CmStatus::Failed,
        error_code: Some(DeliveryError::DoNotCallRegister),
        operator: None,
        detail: None,
    }
}

/// What an inbound message asks of its sender's place on its account's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOut {
    /// An opt-out keyword: block the sender.
    Stop,
    /// `START`: unblock the sender.
    Start,
}

/// The keywords that block the sender of an inbound message (config `[optout] keywords`), and
/// the one that unblocks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutKeywords {
    /// Lower-cased, trimmed.
    stop: Vec<String>,
}

/// The default opt-out keywords.
pub const DEFAULT_KEYWORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];

/// The keyword that takes a sender off its account's list.
pub const START_KEYWORD: &str = "START";

impl Default for OptOutKeywords {
    fn default() -> Self {
        OptOutKeywords::new(DEFAULT_KEYWORDS)
    }
}

impl OptOutKeywords {
    /// The opt-out keywords `keywords` (compared case-insensitively and trimmed; empty ones
    /// are left out).
    pub fn new<S: AsRef<str>>(keywords: impl IntoIterator<Item = S>) -> OptOutKeywords {
        OptOutKeywords {
            stop: keywords
                .into_iter()
                .map(|keyword| keyword.as_ref().trim().to_lowercase())
                .filter(|keyword| !keyword.is_empty())
                .collect(),
        }
    }

    /// What an inbound message's `text` asks: [`OptOut::Stop`] when it is exactly one of the
    /// keywords, [`OptOut::Start`] when it is exactly `START` (case-insensitive, trimmed; a
    /// keyword list that names `START` makes it an opt-out), else nothing.
    pub fn judge(&self, text: &str) -> Option<OptOut> {
        let text = text.trim().to_lowercase();
        if self.stop.contains(&text) {
            Some(OptOut::Stop)
        } else if text == START_KEYWORD.to_lowercase() {
            Some(OptOut::Start)
        } else {
            None
        }
    }
}

/// What an inbound message from `from` with `text`, owned by `account`, does to the lists: the
/// change to record with it, when there is one. A message nobody owns, or from a sender that is
/// no number (an alphanumeric sender), changes nothing.
pub fn opt_out_change(
    keywords: &OptOutKeywords,
    account: Option<AccountId>,
    from: &str,
    text: &str,
) -> Option<OptOutChange> {
    let account = account?;
    let action = keywords.judge(text)?;
    let number = normalise(from).ok()?;
    Some(OptOutChange {
        action,
        scope: BlockScope::Account(account),
        number,
    })
}

/// A change to a list that an inbound message makes ([`opt_out_change`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutChange {
    pub action: OptOut,
    pub scope: BlockScope,
    /// The sender, in [`normalise`]'s form.
    pub number: String,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::channel::Channel;
    use crate::error_code::{SmppStatus, Surface};
    use crate::message::{Content, MessageId, NewMessage};
    use crate::money::Money;

    fn accepted(to: &str) -> RecipientOutcome {
        RecipientOutcome::Accepted(Box::new(NewMessage {
            id: MessageId::generate(),
            account_id: 1,
            recipient: to.into(),
            content: Arc::new(Content {
                from: "Tern".into(),
                body: "hi".into(),
                body_type: None,
                dcs: None,
                app_key: None,
                rich_content: None,
                custom_groupings: Default::default(),
                udh: None,
            }),
            parts: 1,
            reference: Some("r1".into()),
            channels: vec![Channel::Sms],
            accepted_at: Timestamp::UNIX_EPOCH,
            valid_until: Timestamp::UNIX_EPOCH,
            price: Money(0),
            source: Surface::Json,
            smpp_registered_delivery: 0,
            segment: None,
        }))
    }

    #[test]
    fn numbers_are_kept_in_the_00_form() {
        assert_eq!(normalise("+31612345678").unwrap(), "0031612345678");
        assert_eq!(normalise("0031612345678").unwrap(), "0031612345678");
        assert_eq!(normalise("3669").unwrap(), "3669");
        assert!(normalise("abc").is_err());
        assert_eq!(recipient_key("Tern"), None);
    }

    #[test]
    fn scopes_are_stored_as_keys_and_cover_their_accounts() {
        assert_eq!(BlockScope::Global.key(), 0);
        assert_eq!(BlockScope::from_key(0), BlockScope::Global);
        assert_eq!(BlockScope::from_key(7), BlockScope::Account(7));
        assert!(BlockScope::Global.covers(3));
        assert!(BlockScope::Account(3).covers(3));
        assert!(!BlockScope::Account(3).covers(4));
    }

    #[test]
    fn a_blocked_recipient_is_rejected_with_402_in_its_place() {
        let outcomes = vec![
            accepted("+31612345678"),
            accepted("0031687654321"),
            RecipientOutcome::Rejected {
                to: "x".into(),
                reference: None,
                rejection: Rejection::NotANumber("x".into()),
            },
        ];
        assert_eq!(
            recipients(&outcomes),
            vec!["0031612345678".to_owned(), "0031687654321".to_owned()]
        );
        let blocked: HashSet<String> = ["0031612345678".to_owned()].into();
        let screened = screen(outcomes, &blocked);
        assert_eq!(
            screened[0],
            RecipientOutcome::Rejected {
                to: "+31612345678".into(),
                reference: Some("r1".into()),
                rejection: Rejection::Blacklisted,
            }
        );
        assert!(matches!(screened[1], RecipientOutcome::Accepted(_)));
        assert!(matches!(screened[2], RecipientOutcome::Rejected { .. }));
    }

    #[test]
    fn the_rejection_is_cms_402_on_every_surface() {
        let rejection = Rejection::Blacklisted;
        assert_eq!(rejection.code(), 402);
        assert_eq!(rejection.details(), "Message has been blacklisted");
        assert_eq!(
            rejection.plain_text(Surface::Xml),
            "Error: ERROR Message has been blacklisted"
        );
        assert_eq!(
            rejection.plain_text(Surface::Get),
            "Error: ERROR Message has been blacklisted"
        );
        assert_eq!(
            rejection.smpp_status(),
            SmppStatus::InvalidDestinationAddress
        );
    }

    #[test]
    fn a_blocked_due_message_fails_with_error_37() {
        assert_eq!(
            blocked_at_dispatch(2),
            Event::ChannelReport {
                attempt: 2,
                status: CmStatus::Failed,
                error_code: Some(DeliveryError::DoNotCallRegister),
                operator: None,
                detail: None,
            }
        );
        assert_eq!(DeliveryError::DoNotCallRegister.code(), 37);
    }

    #[test]
    fn keywords_are_whole_trimmed_and_case_insensitive() {
        let keywords = OptOutKeywords::default();
        for text in [
            "STOP",
            " stop ",
            "Unsubscribe",
            "quit\n",
            "StopAll",
            "END",
            "cancel",
        ] {
            assert_eq!(keywords.judge(text), Some(OptOut::Stop), "{text:?}");
        }
        for text in ["START", " start"] {
            assert_eq!(keywords.judge(text), Some(OptOut::Start), "{text:?}");
        }
        for text in ["STOP please", "stopp", "", "please stop", "STARTED"] {
            assert_eq!(keywords.judge(text), None, "{text:?}");
        }
        let custom = OptOutKeywords::new(["Halt", " ", "Arrêt"]);
        assert_eq!(custom.judge("HALT"), Some(OptOut::Stop));
        assert_eq!(custom.judge("ARRÊT"), Some(OptOut::Stop));
        assert_eq!(custom.judge("STOP"), None);
        assert_eq!(custom.judge("start"), Some(OptOut::Start));
        let start_is_stop = OptOutKeywords::new(["START"]);
        assert_eq!(start_is_stop.judge("start"), Some(OptOut::Stop));
    }

    #[test]
    fn an_opt_out_changes_the_owners_list_for_a_numeric_sender() {
        let keywords = OptOutKeywords::default();
        assert_eq!(
            opt_out_change(&keywords, Some(4), "31612345678", "stop"),
            Some(OptOutChange {
                action: OptOut::Stop,
                scope: BlockScope::Account(4),
                number: "0031612345678".into(),
            })
        );
        assert_eq!(
            opt_out_change(&keywords, Some(4), "+31612345678", "Start").map(|change| change.action),
            Some(OptOut::Start)
        );
        assert_eq!(opt_out_change(&keywords, None, "31612345678", "STOP"), None);
        assert_eq!(opt_out_change(&keywords, Some(4), "Sender", "STOP"), None);
        assert_eq!(
            opt_out_change(&keywords, Some(4), "31612345678", "hi"),
            None
        );
    }
}
