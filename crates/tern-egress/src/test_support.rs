//! What the crate's unit tests share: a message to hand to connectors.

use std::sync::Arc;

use tern_core::channel::Channel;
use tern_core::hold::Hold;
use tern_core::message::{Content, MessageId};
use tern_core::ports::Dispatch;

/// An SMS to one number, on its `attempt`-th send.
pub fn dispatch(attempt: u32) -> Dispatch {
    Dispatch {
        id: MessageId::generate(),
        account_id: 1,
        attempt,
        channel: Channel::Sms,
        recipient: "0031612345678".into(),
        content: Arc::new(Content {
            from: "Tern".into(),
            body: "hello".into(),
            body_type: None,
            dcs: None,
            app_key: None,
            rich_content: None,
            custom_groupings: [None, None, None],
            udh: None,
        }),
        parts: 1,
        reference: None,
        segment: None,
        hold: Hold::ALWAYS,
    }
}
