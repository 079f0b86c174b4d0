//! CM's submission rules: a parsed request (from JSON, XML or GET) and the authenticated account
//! become accepted messages and rejections with CM's exact codes and texts, and the per-recipient
//! results become the response CM clients parse. The submission service
//! ([`crate::submitter::Submitter`]) applies them for every surface.

use std::str::FromStr;
use std::sync::Arc;

use jiff::Timestamp;
use tern_proto::cm::response::{MessageResult, MessageStatus, SubmitResponse};
use tern_proto::cm::submission::{Field, SubmitRequest, SubmittedMsg};
use tern_proto::sms::{self, BodyType};

use crate::account::{Account, ProductToken};
use crate::channel::{Channel, ChannelName};
use crate::error_code::{Field as ErrorField, Rejection, RequestError, Surface};
use crate::message::{Content, MessageId, NewMessage};
use crate::money::Money;
use crate::routing::{self, RoutingTable};
use crate::submitter::MessageIds;
use crate::{rich_content, validity};

/// Settings of the submission rules.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SubmissionPolicy {
    /// Debited per accepted part.
    pub price_per_part: Money,
    /// What one request may ask for.
    pub limits: RequestLimits,
}

/// What one request may ask for, so that its cost stays a small multiple of its size. The
/// per-channel limits are the providers' own; SMS keeps its 255-part rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestLimits {
    /// `msg` elements per request (the spec: "up to 1000 msg elements").
    pub max_msgs_per_request: usize,
    /// Recipients (`to` entries) of all `msg` elements of a request together.
    pub max_recipients_per_request: usize,
    /// Characters of a WhatsApp text (Meta's Cloud API: 4096).
    pub whatsapp_text_chars: usize,
    /// Characters of an RCS text (Google RBM: 3072).
    pub rcs_text_chars: usize,
    /// Characters of a Viber text (1000).
    pub viber_text_chars: usize,
    /// Bytes of a Push payload: body and rich content as sent (FCM: 4096).
    pub push_payload_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_msgs_per_request: 1000,
            max_recipients_per_request: 100_000,
            whatsapp_text_chars: 4096,
            rcs_text_chars: 3072,
            viber_text_chars: 1000,
            push_payload_bytes: 4096,
        }
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq)]
pub enum RecipientOutcome {
    Accepted(Box<NewMessage>),
    Rejected {
        to: String,
        reference: Option<String>,
        rejection: Rejection,
    },
}

/// The product token of a request, or the request error to answer.
pub fn product_token(text: Option<&str>) -> Result<ProductToken, RequestError> {
    text.ok_or(RequestError::InvalidProductToken)?
        .parse()
        .map_err(|_| RequestError::InvalidProductToken)
}

/// The `msg` list of a request within `limits`, or the request error to answer.
pub fn messages<'r>(
    request: &'r SubmitRequest,
    limits: &RequestLimits,
) -> Result<&'r [SubmittedMsg], RequestError> {
    let msgs = match &request.messages {
        Err(_) => return Err(RequestError::MsgNotArray),
        Ok(None) => return Err(RequestError::NoMsg),
        Ok(Some(list)) if list.is_empty() => return Err(RequestError::NoMsg),
        Ok(Some(list)) => list,
    };
    if msgs.len() > limits.max_msgs_per_request {
        return Err(RequestError::TooManyMsgs {
            limit: limits.max_msgs_per_request,
        });
    }
    let recipients: usize = msgs
        .iter()
        .map(|msg| match &msg.to {
            Ok(Some(numbers)) => numbers.len(),
            _ => 0,
        })
        .sum();
    if recipients > limits.max_recipients_per_request {
        return Err(RequestError::TooManyRecipients {
            limit: limits.max_recipients_per_request,
        });
    }
    Ok(msgs)
}

/// Judge every recipient of every `msg`, in request order. Deterministic given its inputs: the
/// time is `now` and each accepted recipient's id is the next one of `ids`.
pub fn validate(
    msgs: &[SubmittedMsg],
    account: &Account,
    now: Timestamp,
    policy: &SubmissionPolicy,
    ids: &dyn MessageIds,
    surface: Surface,
) -> Vec<RecipientOutcome> {
    let mut outcomes = Vec::new();
    for msg in msgs {
        validate_msg(msg, account, now, policy, ids, surface, &mut outcomes);
    }
    outcomes
}

/// Apply the routes to judged `outcomes`: an accepted message keeps only the allowed channels
/// on which `routes` carries it (in order), and one left with none is rejected as
/// [`Rejection::Unroutable`]. A message that loses SMS travels as one part, priced so.
pub fn keep_routable(
    outcomes: Vec<RecipientOutcome>,
    routes: &RoutingTable,
    policy: &SubmissionPolicy,
) -> Vec<RecipientOutcome> {
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            RecipientOutcome::Accepted(mut message) => {
                let channels = routing::routable_channels(
                    routes,
                    &message.channels,
                    &message.recipient,
                    message.account_id,
                );
                if channels.is_empty() {
                    return RecipientOutcome::Rejected {
                        to: message.recipient,
                        reference: message.reference,
                        rejection: Rejection::Unroutable,
                    };
                }
                if message.channels.contains(&Channel::Sms) && !channels.contains(&Channel::Sms) {
                    message.parts = 1;
                    message.price = policy.price_per_part.times(1);
                }
                message.channels = channels;
                RecipientOutcome::Accepted(message)
            }
            rejected => rejected,
        })
        .collect()
}

/// The GET interface carries one number and at most this many characters (it has no multipart).
pub const GET_BODY_LIMIT: usize = 160;

/// The longest `customGrouping`, `customGrouping2` or `customGrouping3`, in characters.
pub const CUSTOM_GROUPING_CHARS: usize = 100;

/// The GET interface's extra rules, applied before [`validate`]: a single number and a body of at
/// most [`GET_BODY_LIMIT`] characters. The rejection sinks the request.
pub fn check_get_rules(msgs: &[SubmittedMsg]) -> Result<(), Rejection> {
    for msg in msgs {
        if let Ok(Some(numbers)) = &msg.to
            && numbers.len() > 1
        {
            let joined: Vec<String> = numbers
                .iter()
                .map(|n| n.clone().ok().flatten().unwrap_or_default())
                .collect();
            return Err(Rejection::NotANumber(joined.join(",")));
        }
        if let Ok(Some(body)) = &msg.body
            && let Ok(Some(content)) = &body.content
            && content.chars().count() > GET_BODY_LIMIT
        {
            return Err(Rejection::BodyTooLong {
                limit: GET_BODY_LIMIT,
            });
        }
    }
    Ok(())
}

/// For the all-or-nothing interfaces (XML, GET): the first rejection, in request order.
pub fn first_rejection(outcomes: &[RecipientOutcome]) -> Option<&Rejection> {
    outcomes.iter().find_map(|outcome| match outcome {
        RecipientOutcome::Rejected { rejection, .. } => Some(rejection),
        RecipientOutcome::Accepted(_) => None,
    })
}

/// What `messages` cost together (saturating: no sum of prices wraps into a credit).
pub fn total_price(messages: &[NewMessage]) -> Money {
    Money(
        messages
            .iter()
            .map(|message| message.price.micros())
            .fold(0i64, i64::saturating_add),
    )
}

/// What the client is told about one recipient: an accepted one with the id it was stored
/// under, or the rejection. Holds no message content, so the accepted messages themselves can be
/// moved into the store.
#[derive(Debug, Clone, PartialEq)]
pub enum RecipientResult {
    Accepted {
        id: MessageId,
        to: String,
        reference: Option<String>,
        parts: u32,
    },
    Rejected {
        to: String,
        reference: Option<String>,
        rejection: Rejection,
    },
}

/// Split judged outcomes into what the client is told (in request order) and the accepted
/// messages to store; rejections are moved, not copied.
pub fn results_and_accepted(
    outcomes: Vec<RecipientOutcome>,
) -> (Vec<RecipientResult>, Vec<NewMessage>) {
    let mut results = Vec::with_capacity(outcomes.len());
    let mut accepted = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            RecipientOutcome::Accepted(message) => {
                results.push(RecipientResult::Accepted {
                    id: message.id,
                    to: message.recipient.clone(),
                    reference: message.reference.clone(),
                    parts: message.parts,
                });
                accepted.push(*message);
            }
            RecipientOutcome::Rejected {
                to,
                reference,
                rejection,
            } => results.push(RecipientResult::Rejected {
                to,
                reference,
                rejection,
            }),
        }
    }
    (results, accepted)
}

/// The JSON response for the per-recipient results of a submission, with its HTTP status.
pub fn respond(results: Vec<RecipientResult>) -> (u16, SubmitResponse) {
    let total = results.len();
    let accepted = results
        .iter()
        .filter(|result| matches!(result, RecipientResult::Accepted { .. }))
        .count();
    let messages = results
        .into_iter()
        .map(|result| match result {
            RecipientResult::Accepted {
                id,
                to,
                reference,
                parts,
            } => MessageResult {
                to,
                status: MessageStatus::Accepted,
                reference,
                parts,
                message_details: None,
                message_error_code: 0,
                message_id: Some(id.to_string()),
            },
            RecipientResult::Rejected {
                to,
                reference,
                rejection,
            } => MessageResult {
                to,
                status: MessageStatus::Rejected,
                reference,
                parts: 0,
                message_details: Some(rejection.details()),
                message_error_code: rejection.code(),
                message_id: None,
            },
        })
        .collect();
    let all_accepted = accepted == total;
    let response = SubmitResponse {
        details: format!("Created {accepted} message(s)"),
        error_code: if all_accepted { 0 } else { 201 },
        messages,
    };
    (if accepted == 0 { 400 } else { 200 }, response)
}

/// The message-level facts every recipient of a `msg` shares.
struct Checked {
    content: Arc<Content>,
    parts: u32,
    reference: Option<String>,
    channels: Vec<Channel>,
    valid_until: Timestamp,
}

fn validate_msg(
    msg: &SubmittedMsg,
    account: &Account,
    now: Timestamp,
    policy: &SubmissionPolicy,
    ids: &dyn MessageIds,
    surface: Surface,
    outcomes: &mut Vec<RecipientOutcome>,
) {
    let reference = msg.reference.clone().ok().flatten();
    let reject_all = |rejection: Rejection, outcomes: &mut Vec<RecipientOutcome>| {
        let numbers: Vec<String> = match &msg.to {
            Ok(Some(list)) if !list.is_empty() => list
                .iter()
                .map(|n| n.clone().ok().flatten().unwrap_or_default())
                .collect(),
            _ => vec![String::new()],
        };
        for to in numbers {
            outcomes.push(RecipientOutcome::Rejected {
                to,
                reference: reference.clone(),
                rejection: rejection.clone(),
            });
        }
    };
    let checked = match check_msg(msg, account, now, &policy.limits) {
        Ok(checked) => checked,
        Err(rejection) => return reject_all(rejection, outcomes),
    };
    let numbers = match &msg.to {
        Err(_) => return reject_all(Rejection::NotAnArray("to"), outcomes),
        Ok(None) => return reject_all(Rejection::EmptyNumber, outcomes),
        Ok(Some(list)) if list.is_empty() => return reject_all(Rejection::EmptyNumber, outcomes),
        Ok(Some(list)) => list,
    };
    for number in numbers {
        let outcome = match number {
            Err(_) => RecipientOutcome::Rejected {
                to: String::new(),
                reference: reference.clone(),
                rejection: Rejection::NotAString(ErrorField::ToNumber),
            },
            Ok(None) => RecipientOutcome::Rejected {
                to: String::new(),
                reference: reference.clone(),
                rejection: Rejection::EmptyNumber,
            },
            Ok(Some(number)) => match check_number(number) {
                Err(rejection) => RecipientOutcome::Rejected {
                    to: number.clone(),
                    reference: reference.clone(),
                    rejection,
                },
                Ok(()) => RecipientOutcome::Accepted(Box::new(NewMessage {
                    id: ids.next_id(),
                    account_id: account.id,
                    recipient: number.clone(),
                    content: Arc::clone(&checked.content),
                    parts: checked.parts,
                    reference: checked.reference.clone(),
                    channels: checked.channels.clone(),
                    accepted_at: now,
                    valid_until: checked.valid_until,
                    price: policy.price_per_part.times(u64::from(checked.parts)),
                    source: surface,
                    smpp_registered_delivery: 0,
                    segment: None,
                })),
            },
        };
        outcomes.push(outcome);
    }
}

fn text_of(field: &Field<String>, name: ErrorField) -> Result<Option<String>, Rejection> {
    field.clone().map_err(|_| Rejection::NotAString(name))
}

fn check_msg(
    msg: &SubmittedMsg,
    account: &Account,
    now: Timestamp,
    limits: &RequestLimits,
) -> Result<Checked, Rejection> {
    let from = msg
        .from
        .clone()
        .map_err(|_| Rejection::InvalidFrom)?
        .filter(|f| !f.trim().is_empty())
        .ok_or(Rejection::NoFrom)?;
    check_sender(&from)?;
    if let Err(wrong) = &msg.to {
        return Err(Rejection::NotAnArray(wrong.field));
    }

    let body = msg
        .body
        .clone()
        .map_err(|_| Rejection::BodyNotAnObject)?
        .ok_or(Rejection::NoBody)?;
    let content = body
        .content
        .clone()
        .map_err(|_| Rejection::NotAString(ErrorField::BodyContent))?
        .unwrap_or_default();
    let body_type = match text_of(&body.body_type, ErrorField::BodyType)? {
        None => None,
        Some(text) => Some(
            BodyType::from_str(text.trim())
                .map_err(|_| Rejection::UnknownBodyType(text.clone()))?,
        ),
    };

    let rich = msg
        .rich_content
        .clone()
        .map_err(|_| Rejection::RichContentNotAnObject)?;
    let has_conversation = rich
        .as_ref()
        .and_then(|r| r.conversation.as_ref())
        .is_some_and(|c| !c.is_empty());
    if content.is_empty() && !has_conversation {
        return Err(Rejection::EmptyBody);
    }

    let reference = text_of(&msg.reference, ErrorField::Reference)?;
    if let Some(reference) = &reference {
        check_reference(reference)?;
    }
    let mut custom_groupings: [Option<String>; 3] = Default::default();
    for (index, field) in msg.custom_groupings.iter().enumerate() {
        let name = ErrorField::CUSTOM_GROUPINGS[index];
        let value = text_of(field, name)?;
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > CUSTOM_GROUPING_CHARS)
        {
            return Err(Rejection::TooLong {
                field: name,
                limit_chars: CUSTOM_GROUPING_CHARS,
            });
        }
        custom_groupings[index] = value;
    }

    let validity_text = text_of(&msg.validity, ErrorField::Validity)?;
    let valid_until = validity::valid_until(validity_text.as_deref(), now)
        .map_err(|invalid| Rejection::InvalidValidity(invalid.0))?;

    let channels = route(msg, account)?;
    let app_key = text_of(&msg.app_key, ErrorField::AppKey)?.filter(|k| !k.trim().is_empty());
    if channels.contains(&Channel::Push) && app_key.is_none() {
        return Err(Rejection::NoAppKeyForPush);
    }

    let dcs = match msg
        .dcs
        .clone()
        .map_err(|_| Rejection::NotAnInteger(ErrorField::Dcs))?
    {
        None => None,
        Some(value) => Some(u8::try_from(value).map_err(|_| Rejection::DcsOutOfRange)?),
    };
    if let Some(rich) = &rich {
        rich_content::validate(rich, &channels).map_err(Rejection::RichContent)?;
    }
    check_channel_limits(
        &content,
        rich.as_ref(),
        msg.rich_content_json.as_deref(),
        &channels,
        limits,
    )?;

    let minimum = msg
        .minimum_parts
        .clone()
        .map_err(|_| Rejection::NotAnInteger(ErrorField::MinimumParts))?;
    let maximum = msg
        .maximum_parts
        .clone()
        .map_err(|_| Rejection::NotAnInteger(ErrorField::MaximumParts))?;
    let parts = if channels.contains(&Channel::Sms) {
        let plan = sms::plan_parts(&content, body_type, dcs).map_err(Rejection::BodyEncoding)?;
        let needed = plan.parts.max(1);
        sms::check_part_limits(minimum, maximum, needed).map_err(Rejection::PartLimit)?;
        needed
    } else {
        1
    };

    Ok(Checked {
        content: Arc::new(Content {
            from,
            body: content,
            body_type: body_type.map(|t| t.to_string()),
            dcs,
            app_key,
            rich_content: msg.rich_content_json.clone(),
            custom_groupings,
            udh: None,
        }),
        parts,
        reference,
        channels,
        valid_until,
    })
}

/// The providers' own limits on a message that may travel on `channels`: it must fit every one
/// of them, since fallback may take it to any. The body and every text part of the rich content
/// count as texts; a Push payload is the body and the rich content as sent, in bytes.
fn check_channel_limits(
    body: &str,
    rich: Option<&tern_proto::cm::rich::RichContent>,
    rich_json: Option<&str>,
    channels: &[Channel],
    limits: &RequestLimits,
) -> Result<(), Rejection> {
    let texts = || {
        std::iter::once(body).chain(
            rich.and_then(|r| r.conversation.as_deref())
                .unwrap_or_default()
                .iter()
                .filter_map(|part| part.text.as_deref()),
        )
    };
    for &channel in channels {
        let limit = match channel {
            Channel::WhatsApp => limits.whatsapp_text_chars,
            Channel::Rcs => limits.rcs_text_chars,
            Channel::Viber => limits.viber_text_chars,
            Channel::Push => {
                let bytes = body.len() + rich_json.map_or(0, str::len);
                if bytes > limits.push_payload_bytes {
                    return Err(Rejection::PayloadTooLarge {
                        channel,
                        limit_bytes: limits.push_payload_bytes,
                    });
                }
                continue;
            }
            Channel::Sms => continue,
        };
        // Counting stops past the limit: a long text costs no more than the limit to judge.
        if texts().any(|text| text.chars().take(limit + 1).count() > limit) {
            return Err(Rejection::TextTooLong {
                channel,
                limit_chars: limit,
            });
        }
    }
    Ok(())
}

/// A reference is 1 to 32 letters, digits, `-` or `_`.
pub(crate) fn check_reference(reference: &str) -> Result<(), Rejection> {
    let valid = (1..=32).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Rejection::InvalidReference)
    }
}

/// A sender is at most 11 characters, or at most 16 digits (an optional leading `+`).
pub(crate) fn check_sender(from: &str) -> Result<(), Rejection> {
    let digits = from.strip_prefix('+').unwrap_or(from);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let length = from.chars().count();
    if (numeric && digits.len() <= 16) || length <= 11 {
        Ok(())
    } else {
        Err(Rejection::InvalidFrom)
    }
}

/// The allowed channels the account has, in the client's order; absent means SMS.
fn route(msg: &SubmittedMsg, account: &Account) -> Result<Vec<Channel>, Rejection> {
    let names = msg
        .allowed_channels
        .clone()
        .map_err(|wrong| Rejection::NotAnArray(wrong.field))?
        .filter(|names| !names.is_empty())
        .unwrap_or_else(|| vec!["SMS".to_owned()]);
    let mut channels = Vec::new();
    for name in &names {
        match Channel::parse_name(name) {
            Ok(ChannelName::Routable(channel)) => {
                if account.channels.contains(&channel) && !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
            Ok(ChannelName::Unroutable) => {}
            Err(unknown) => return Err(Rejection::UnknownChannel(unknown.0)),
        }
    }
    if channels.is_empty() {
        return Err(Rejection::Unroutable);
    }
    Ok(channels)
}

/// A recipient number: digits, optionally after `+` (CM's canonical form starts with `00`).
pub(crate) fn check_number(number: &str) -> Result<(), Rejection> {
    let trimmed = number.trim();
    if trimmed.is_empty() {
        return Err(Rejection::EmptyNumber);
    }
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Rejection::NotANumber(number.to_owned()))
    }
}

#[cfg(test)]
mod tests;
