//! query_sm, cancel_sm and replace_sm: what a bound client asks about a message it submitted
//! before, by the id its submit_sm_resp gave. Only reading the PDU and rendering the answer: what
//! a message's state means in SMPP is `tern_core::smpp_receipt::query_answer`'s, what may still be
//! cancelled or replaced and at what price is `tern_core::dispatch`'s and
//! `tern_core::short_message::judge_replacement`'s, recorded by the store's `QueueStore`.
//!
//! - The bound account scopes every lookup: another account's message is one it does not have
//!   (ESME_RQUERYFAIL, ESME_RCANCELFAIL, ESME_RREPLACEFAIL), so the PDUs' source_addr (and
//!   cancel_sm's destination_addr and service_type) are not checked against the message.
//! - An id that is not 32 hex digits is ESME_RINVMSGID; a store failure ESME_RSYSERR, logged.
//! - cancel_sm without a message_id (every message of a source and destination) is not
//!   supported: ESME_RCANCELFAIL.
//! - replace_sm's short_message is read in the data_coding the message was stored with
//!   (`short_message::replacement_data_coding`) and is the user data alone (replace_sm has no
//!   esm_class): the message keeps the user data header it was submitted with, if any (a segment
//!   of a concatenated message stays one, and its new text must fit one part with the header).
//!   Its registered_delivery replaces the message's;
//!   its validity_period, when given, too (read as submit_sm's); a schedule_delivery_time is
//!   refused as submit_sm refuses it (ESME_RINVSCHED); sm_default_msg_id (canned messages) is
//!   ignored. Only a message that goes out on SMS alone is replaced (ESME_RREPLACEFAIL
//!   otherwise: an HTTP submission's other channels are not octets).

use jiff::Timestamp;
use tern_core::account::Account;
use tern_core::dispatch::{CancelOutcome, ReplaceOutcome};
use tern_core::message::{Content, MessageId};
use tern_core::short_message::{
    ShortReplacement, judge_replacement, replaceable, replacement_data_coding,
};
use tern_core::smpp_receipt::query_answer;
use tern_core::validity::smpp_valid_until;
use tern_proto::smpp::{CancelSm, Command, CommandStatus, Pdu, QuerySm, QuerySmResp, ReplaceSm};

use super::Shared;

/// The replacement a replace_sm asks for, at `now`, of a message stored with `content`; or the
/// status refusing its fields.
pub fn short_replacement(
    replace: &ReplaceSm,
    content: &Content,
    now: Timestamp,
) -> Result<ShortReplacement, CommandStatus> {
    if !replace.schedule_delivery_time.is_empty() {
        return Err(CommandStatus::ESME_RINVSCHED);
    }
    let valid_until = smpp_valid_until(&replace.validity_period, now)
        .map_err(|_| CommandStatus::ESME_RINVEXPIRY)?;
    Ok(ShortReplacement {
        data_coding: replacement_data_coding(content),
        user_data: replace.short_message.clone(),
        udh: content.udh.clone(),
        valid_until,
        registered_delivery: Some(replace.registered_delivery),
    })
}

impl Shared {
    /// Answers a query_sm: the message's state, final date and error.
    pub(crate) async fn query(
        &self,
        account: &Account,
        sequence_number: u32,
        query: QuerySm,
    ) -> Command {
        let answer = |command_status, resp| Command {
            command_status,
            sequence_number,
            pdu: Pdu::QuerySmResp(resp),
        };
        let refused = |status| answer(status, QuerySmResp::default());
        let Some(id) = MessageId::from_smpp_id(&query.message_id) else {
            return refused(CommandStatus::ESME_RINVMSGID);
        };
        let record = match self.messages.message(account.id, id).await {
            Ok(Some(record)) => record,
            Ok(None) => return refused(CommandStatus::ESME_RQUERYFAIL),
            Err(error) => {
                tracing::error!(account = account.id, message = %id, %error, "SMPP query_sm: the message lookup failed");
                return refused(CommandStatus::ESME_RSYSERR);
            }
        };
        let facts = query_answer(&record);
        answer(
            CommandStatus::ESME_ROK,
            QuerySmResp {
                message_id: query.message_id,
                final_date: facts
                    .final_date
                    .map(|date| date.to_field())
                    .unwrap_or_default(),
                message_state: facts.state.value(),
                error_code: facts.error_code,
            },
        )
    }

    /// Answers a cancel_sm of one message.
    pub(crate) async fn cancel(
        &self,
        account: &Account,
        sequence_number: u32,
        cancel: CancelSm,
    ) -> Command {
        let answer = |command_status| Command {
            command_status,
            sequence_number,
            pdu: Pdu::CancelSmResp,
        };
        if cancel.message_id.is_empty() {
            return answer(CommandStatus::ESME_RCANCELFAIL);
        }
        let Some(id) = MessageId::from_smpp_id(&cancel.message_id) else {
            return answer(CommandStatus::ESME_RINVMSGID);
        };
        match self.queue.cancel(account.id, id, self.clock.now()).await {
            Ok(CancelOutcome::Cancelled) => answer(CommandStatus::ESME_ROK),
            Ok(CancelOutcome::NotFound | CancelOutcome::TooLate) => {
                answer(CommandStatus::ESME_RCANCELFAIL)
            }
            Err(error) => {
                tracing::error!(account = account.id, message = %id, %error, "SMPP cancel_sm: the store failed");
                answer(CommandStatus::ESME_RSYSERR)
            }
        }
    }

    /// Answers a replace_sm.
    pub(crate) async fn replace(
        &self,
        account: &Account,
        sequence_number: u32,
        replace: Box<ReplaceSm>,
    ) -> Command {
        let answer = |command_status| Command {
            command_status,
            sequence_number,
            pdu: Pdu::ReplaceSmResp,
        };
        let Some(id) = MessageId::from_smpp_id(&replace.message_id) else {
            return answer(CommandStatus::ESME_RINVMSGID);
        };
        let store_failed = |error: &dyn std::fmt::Display| {
            tracing::error!(account = account.id, message = %id, %error, "SMPP replace_sm: the store failed");
            answer(CommandStatus::ESME_RSYSERR)
        };
        let record = match self.messages.message(account.id, id).await {
            Ok(Some(record)) => record,
            Ok(None) => return answer(CommandStatus::ESME_RREPLACEFAIL),
            Err(error) => return store_failed(&error),
        };
        if !replaceable(&record.message.channels) {
            return answer(CommandStatus::ESME_RREPLACEFAIL);
        }
        let now = self.clock.now();
        let short = match short_replacement(&replace, &record.message.content, now) {
            Ok(short) => short,
            Err(status) => return answer(status),
        };
        let replacement = match judge_replacement(&short, now, self.submitter.policy()) {
            Ok(replacement) => replacement,
            Err(rejection) => return answer(rejection.smpp_status().command_status()),
        };
        match self.queue.replace(account.id, id, replacement, now).await {
            Ok(ReplaceOutcome::Replaced) => answer(CommandStatus::ESME_ROK),
            Ok(ReplaceOutcome::NotFound | ReplaceOutcome::TooLate) => {
                answer(CommandStatus::ESME_RREPLACEFAIL)
            }
            Ok(ReplaceOutcome::InsufficientBalance) => {
                tracing::warn!(
                    account = account.id,
                    message = %id,
                    "SMPP replace refused: the account's balance cannot pay for the new content"
                );
                answer(CommandStatus::ESME_RREPLACEFAIL)
            }
            Err(error) => store_failed(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(body_type: Option<&str>, dcs: Option<u8>) -> Content {
        Content {
            from: "Tern".into(),
            body: "old".into(),
            body_type: body_type.map(str::to_owned),
            dcs,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }
    }

    #[test]
    fn a_replace_sm_becomes_a_replacement_in_its_message_s_data_coding() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        let mut replace = ReplaceSm {
            message_id: "0195d3b2c4e47a1b9c3f00112233aabb".into(),
            source_addr: "Tern".into(),
            registered_delivery: 1,
            short_message: vec![0, 0x41],
            ..ReplaceSm::default()
        };
        assert_eq!(
            short_replacement(&replace, &content(None, Some(8)), now),
            Ok(ShortReplacement {
                data_coding: 8,
                user_data: vec![0, 0x41],
                udh: None,
                valid_until: None,
                registered_delivery: Some(1),
            })
        );
        replace.validity_period = "000001000000000R".into();
        replace.registered_delivery = 0;
        let short = short_replacement(&replace, &content(Some("AUTO"), None), now).unwrap();
        assert_eq!(short.data_coding, 0);
        assert_eq!(
            short.valid_until,
            Some("2026-03-02T12:00:00Z".parse().unwrap())
        );
        assert_eq!(short.registered_delivery, Some(0));
        // A segment keeps its concatenation header.
        let segment = Content {
            udh: Some(vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]),
            ..content(None, Some(0))
        };
        assert_eq!(
            short_replacement(&replace, &segment, now).unwrap().udh,
            segment.udh
        );
        replace.validity_period = "garbage".into();
        assert_eq!(
            short_replacement(&replace, &content(None, Some(0)), now),
            Err(CommandStatus::ESME_RINVEXPIRY)
        );
        replace.validity_period.clear();
        replace.schedule_delivery_time = "000001000000000R".into();
        assert_eq!(
            short_replacement(&replace, &content(None, Some(0)), now),
            Err(CommandStatus::ESME_RINVSCHED)
        );
    }
}
