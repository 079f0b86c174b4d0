//! The one-pass JSON submit reader (`cm::wire_stream`) against the tree path it replaced
//! (`serde_json::Value`, keys lower-cased, derived deserializers), on arbitrary bytes: never a
//! panic, and the same request, the same rich-content originals and the same failures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tern_proto::cm::json_ci::get_in;
use tern_proto::cm::wire::{Lenient, MessageRequest, normalize_keys};
use tern_proto::cm::wire_stream::parse_message_request;

fn through_a_tree(body: &[u8]) -> Option<(MessageRequest, Vec<Option<String>>)> {
    let root: Value = serde_json::from_slice(body).ok()?;
    if !root.is_object() {
        return None;
    }
    let originals = get_in(&root, "messages")
        .and_then(|messages| get_in(messages, "msg"))
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|msg| get_in(msg, "richcontent").map(Value::to_string))
                .collect()
        })
        .unwrap_or_default();
    let request = serde_json::from_value(normalize_keys(root)).ok()?;
    Some((request, originals))
}

fuzz_target!(|data: &[u8]| {
    let streamed = parse_message_request(data).ok();
    let tree = through_a_tree(data);
    match (streamed, tree) {
        (None, None) => {}
        (Some(streamed), Some((request, originals))) => {
            assert_eq!(streamed.request, request);
            let msgs = match &request.messages {
                Lenient::Present(messages) => match &messages.msg {
                    Lenient::Present(list) => list.len(),
                    _ => 0,
                },
                _ => 0,
            };
            for index in 0..msgs {
                assert_eq!(
                    streamed.rich_originals.get(index).cloned().flatten(),
                    originals.get(index).cloned().flatten()
                );
            }
        }
        (streamed, tree) => panic!("only one path read the body: {streamed:?} / {tree:?}"),
    }
});
