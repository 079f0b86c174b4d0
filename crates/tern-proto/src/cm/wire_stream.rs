//! Reading a `POST /v1.0/message` body straight into the wire structs of [`crate::cm::wire`] in
//! one pass over the text, with no intermediate JSON tree. This is the hot path of the JSON API:
//! going through `serde_json::Value`, a lower-cased copy of it, and a tree per lenient field cost
//! about as much CPU as storing the message.
//!
//! Written by hand, not derived, because serde's derive can neither match keys without case nor
//! keep a field of the wrong type as [`Lenient::Wrong`] while reading the rest of the object. The
//! result is exactly what [`crate::cm::wire::normalize_keys`] followed by the derived
//! deserializers give for the same text (tested against them in `tests`), including their corner
//! cases:
//! - keys match ASCII-case-insensitively; where several spellings of one key appear, the
//!   spelling that sorts first wins (the tree was a sorted map), and a repeated identical key
//!   keeps its last value;
//! - a struct may also be given as an array of its field values in declaration order, as serde's
//!   derive allows; a longer array is of the wrong type;
//! - `null` is absent; a value of the wrong type is `Wrong`, never an error. Only malformed JSON
//!   fails.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::cm::rich::RichContentWire;
use crate::cm::wire::{
    Authentication, Body, Integer, Lenient, MessageRequest, Messages, Msg, Recipient,
    RecipientEntry, Text, normalize_keys,
};

/// The body is not JSON (or not UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A submit body read into its wire structs, with each msg's `richContent` as sent (compact JSON
/// text; `None` when absent or `null`), by position in `msg`.
#[derive(Debug)]
pub struct ParsedSubmit {
    pub request: MessageRequest,
    pub rich_originals: Vec<Option<String>>,
}

/// Read a submit body; its top level must be an object.
pub fn parse_message_request(body: &[u8]) -> Result<ParsedSubmit, Malformed> {
    // Validate UTF-8 once, up front: a tree parser rejects invalid UTF-8 anywhere in a string,
    // while skipping an ignored string does not look at it.
    let text = std::str::from_utf8(body).map_err(|_| Malformed)?;
    // A struct may be read from an array too (see above), but not at the top.
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Err(Malformed);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut rich_originals = Vec::new();
    let request = LenientSeed::<MessageRequest>::new(&mut rich_originals)
        .deserialize(&mut deserializer)
        .map_err(|_| Malformed)?;
    deserializer.end().map_err(|_| Malformed)?;
    Ok(ParsedSubmit {
        request: request.ok().unwrap_or_default(),
        rich_originals,
    })
}

/// Side output of the pass: the original `richContent` text of each msg.
type Originals<'a> = &'a mut Vec<Option<String>>;

/// How a JSON value of each shape becomes a `Self`. `None` (the default for every shape) means
/// the shape is wrong for this type; the value is then skipped and the field is `Wrong`.
trait Shape<'de>: Sized {
    /// Whether each item of a list of these gets a slot in the side output (msgs do).
    const KEEPS_ORIGINAL: bool = false;
    fn from_text(_: &str) -> Option<Self> {
        None
    }
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    fn from_i64(_: i64) -> Option<Self> {
        None
    }
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_map<A: MapAccess<'de>>(map: A, _: Originals) -> Result<Option<Self>, A::Error> {
        skip_map(map).map(|_| None)
    }
    fn from_seq<A: SeqAccess<'de>>(seq: A, _: Originals) -> Result<Option<Self>, A::Error> {
        skip_seq(seq).map(|_| None)
    }
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// A value read and dropped. Unlike serde's `IgnoredAny` it is read as a tree reader reads it
/// (numbers parsed, so one out of range fails; nesting counted against the depth limit): a body
/// that a tree parser refuses is refused here too, wherever the fault is (found by fuzzing).
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        skip_map(map).map(|_| Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        skip_seq(seq).map(|_| Skip)
    }
}

/// Reads one value as a [`Lenient<T>`].
struct LenientSeed<'a, T> {
    originals: Originals<'a>,
    target: PhantomData<T>,
}

impl<'a, T> LenientSeed<'a, T> {
    fn new(originals: Originals<'a>) -> Self {
        LenientSeed {
            originals,
            target: PhantomData,
        }
    }
}

fn judged<T>(value: Option<T>) -> Lenient<T> {
    match value {
        Some(value) => Lenient::Present(value),
        None => Lenient::Wrong,
    }
}

impl<'de, T: Shape<'de>> DeserializeSeed<'de> for LenientSeed<'_, T> {
    type Value = Lenient<T>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Shape<'de>> Visitor<'de> for LenientSeed<'_, T> {
    type Value = Lenient<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient::Absent)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient::Absent)
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(judged(T::from_text(text)))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(judged(T::from_u64(number)))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(judged(T::from_i64(number)))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(judged(T::from_f64(number)))
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(judged(T::from_bool(flag)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map, self.originals).map(judged)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq, self.originals).map(judged)
    }
}

/// The text form of a JSON float, as `serde_json::Value` prints it.
fn float_text(number: f64) -> String {
    serde_json::Number::from_f64(number)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

impl Shape<'_> for Text {
    fn from_text(text: &str) -> Option<Self> {
        Some(Text(text.to_owned()))
    }
    fn from_u64(number: u64) -> Option<Self> {
        Some(Text(number.to_string()))
    }
    fn from_i64(number: i64) -> Option<Self> {
        Some(Text(number.to_string()))
    }
    fn from_f64(number: f64) -> Option<Self> {
        Some(Text(float_text(number)))
    }
    fn from_bool(flag: bool) -> Option<Self> {
        Some(Text(flag.to_string()))
    }
}

impl Shape<'_> for Integer {
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Some(Integer(None));
        }
        text.parse().ok().map(|n| Integer(Some(n)))
    }
    fn from_u64(number: u64) -> Option<Self> {
        i64::try_from(number).ok().map(|n| Integer(Some(n)))
    }
    fn from_i64(number: i64) -> Option<Self> {
        Some(Integer(Some(number)))
    }
}

/// A list whose items are each lenient: an array, read item by item.
impl<'de, T: Shape<'de>> Shape<'de> for Vec<Lenient<T>> {
    fn from_seq<A: SeqAccess<'de>>(
        mut seq: A,
        originals: Originals,
    ) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            if T::KEEPS_ORIGINAL {
                originals.push(None);
            }
            match seq.next_element_seed(LenientSeed::<T>::new(originals))? {
                Some(item) => items.push(item),
                None => {
                    if T::KEEPS_ORIGINAL {
                        originals.pop();
                    }
                    break;
                }
            }
        }
        Ok(Some(items))
    }
}

/// One item of a list of optional strings (`allowedChannels`).
enum OptionalText {
    Text(String),
    Null,
    Other,
}

impl<'de> serde::Deserialize<'de> for OptionalText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = OptionalText;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_str<E>(self, text: &str) -> Result<OptionalText, E> {
                Ok(OptionalText::Text(text.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<OptionalText, E> {
                Ok(OptionalText::Null)
            }
            fn visit_none<E>(self) -> Result<OptionalText, E> {
                Ok(OptionalText::Null)
            }
            fn visit_u64<E>(self, _: u64) -> Result<OptionalText, E> {
                Ok(OptionalText::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<OptionalText, E> {
                Ok(OptionalText::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<OptionalText, E> {
                Ok(OptionalText::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<OptionalText, E> {
                Ok(OptionalText::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OptionalText, A::Error> {
                skip_map(map).map(|_| OptionalText::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OptionalText, A::Error> {
                skip_seq(seq).map(|_| OptionalText::Other)
            }
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

/// `allowedChannels`: an array of strings and nulls; any other item makes the whole list wrong.
impl<'de> Shape<'de> for Vec<Option<String>> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A, _: Originals) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::new();
        let mut wrong = false;
        while let Some(item) = seq.next_element::<OptionalText>()? {
            match item {
                OptionalText::Text(text) => items.push(Some(text)),
                OptionalText::Null => items.push(None),
                OptionalText::Other => wrong = true,
            }
        }
        Ok((!wrong).then_some(items))
    }
}

/// A recipient: an object, or a bare number or string (or, as serde's derive reads a struct, an
/// array holding at most the number).
impl<'de> Shape<'de> for RecipientEntry {
    fn from_text(text: &str) -> Option<Self> {
        Text::from_text(text).map(RecipientEntry::Bare)
    }
    fn from_u64(number: u64) -> Option<Self> {
        Text::from_u64(number).map(RecipientEntry::Bare)
    }
    fn from_i64(number: i64) -> Option<Self> {
        Text::from_i64(number).map(RecipientEntry::Bare)
    }
    fn from_f64(number: f64) -> Option<Self> {
        Text::from_f64(number).map(RecipientEntry::Bare)
    }
    fn from_bool(flag: bool) -> Option<Self> {
        Text::from_bool(flag).map(RecipientEntry::Bare)
    }
    fn from_map<A: MapAccess<'de>>(map: A, originals: Originals) -> Result<Option<Self>, A::Error> {
        Recipient::from_map(map, originals).map(|r| r.map(RecipientEntry::Object))
    }
    fn from_seq<A: SeqAccess<'de>>(seq: A, originals: Originals) -> Result<Option<Self>, A::Error> {
        Recipient::from_seq(seq, originals).map(|r| r.map(RecipientEntry::Object))
    }
}

/// `richContent`: read as a tree (it is rare, and forwarded as sent), then through the derived
/// deserializers of its wire structs. Returns the field and its original text.
fn read_rich<'de, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<(Lenient<RichContentWire>, Option<String>), A::Error> {
    let value: Value = map.next_value()?;
    let original = (!value.is_null()).then(|| value.to_string());
    let wire = serde_json::from_value(normalize_keys(value)).unwrap_or(Lenient::Wrong);
    Ok((wire, original))
}

/// The field a key names, by position in `fields` (lower case), ignoring ASCII case.
struct FieldIndex(&'static [&'static str]);

/// A key matched to a field, with its exact spelling (at most 32 bytes: field names are shorter).
struct MatchedKey {
    index: usize,
    spelling: [u8; 32],
    length: usize,
}

impl MatchedKey {
    fn spelling(&self) -> &[u8] {
        &self.spelling[..self.length]
    }
}

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = Option<MatchedKey>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldIndex {
    type Value = Option<MatchedKey>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .position(|name| name.eq_ignore_ascii_case(key))
            .map(|index| {
                let mut spelling = [0u8; 32];
                spelling[..key.len()].copy_from_slice(key.as_bytes());
                MatchedKey {
                    index,
                    spelling,
                    length: key.len(),
                }
            }))
    }
}

/// Which spelling of each field's key won so far: the first in byte order, the last of equals.
struct Winners<const N: usize>([Option<([u8; 32], usize)>; N]);

impl<const N: usize> Winners<N> {
    fn new() -> Self {
        Winners([None; N])
    }

    /// Whether the value under `key` replaces what the field holds.
    fn takes(&mut self, key: &MatchedKey) -> bool {
        let slot = &mut self.0[key.index];
        let wins = match slot {
            None => true,
            Some((spelling, length)) => key.spelling() <= &spelling[..*length],
        };
        if wins {
            *slot = Some((key.spelling, key.length));
        }
        wins
    }
}

/// `Shape` for a wire struct (`keeps_original` after the type: a list of them keeps a slot per
/// item in the side output): an object with case-insensitive keys, or an array of its fields in
/// order. Each field is `name: "lowercase key" => kind`, where kind is `lenient` (a lenient
/// value), `msgs` (the msg list: restarts the side output of original rich contents) or `rich`
/// (`richContent`: also noted in the side output, in the slot of the msg being read).
macro_rules! object_shape {
    ($ty:ty $(, $keeps_original:ident)? { $($field:ident : $key:literal => $kind:ident),* $(,)? }) => {
        impl<'de> Shape<'de> for $ty {
            $(const KEEPS_ORIGINAL: bool = object_shape!(@yes $keeps_original);)?

            fn from_map<A: MapAccess<'de>>(
                mut map: A,
                originals: Originals,
            ) -> Result<Option<Self>, A::Error> {
                const KEYS: &[&str] = &[$($key),*];
                let mut object = <$ty>::default();
                let mut winners = Winners::<{ KEYS.len() }>::new();
                while let Some(key) = map.next_key_seed(FieldIndex(KEYS))? {
                    match key {
                        Some(key) if winners.takes(&key) => {
                            let mut position = 0;
                            $(
                                if key.index == position {
                                    object_shape!(@read map, originals, object.$field, $kind);
                                }
                                position += 1;
                            )*
                            let _ = position;
                        }
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(Some(object))
            }

            fn from_seq<A: SeqAccess<'de>>(
                mut seq: A,
                originals: Originals,
            ) -> Result<Option<Self>, A::Error> {
                let mut object = <$ty>::default();
                let mut complete = false;
                'fields: {
                    $(
                        match object_shape!(@element seq, originals, $kind) {
                            Some(value) => object.$field = value,
                            None => break 'fields,
                        }
                    )*
                    complete = true;
                }
                // Extra items make the array too long for the struct: of the wrong type.
                let mut extra = false;
                if complete {
                    while seq.next_element::<Skip>()?.is_some() {
                        extra = true;
                    }
                }
                Ok((!extra).then_some(object))
            }
        }
    };
    (@yes keeps_original) => { true };
    (@read $map:ident, $originals:ident, $place:expr, lenient) => {
        $place = $map.next_value_seed(LenientSeed::new($originals))?;
    };
    (@read $map:ident, $originals:ident, $place:expr, msgs) => {
        $originals.clear();
        $place = $map.next_value_seed(LenientSeed::new($originals))?;
    };
    (@read $map:ident, $originals:ident, $place:expr, rich) => {
        let (wire, original) = read_rich(&mut $map)?;
        $place = wire;
        if let Some(slot) = $originals.last_mut() {
            *slot = original;
        }
    };
    (@element $seq:ident, $originals:ident, rich) => {
        // A msg given as an array has no original text to keep (it is not an object).
        $seq.next_element::<Value>()?.map(|value| {
            serde_json::from_value(normalize_keys(value)).unwrap_or(Lenient::Wrong)
        })
    };
    (@element $seq:ident, $originals:ident, msgs) => {{
        // Messages given as an array: its msgs are not reached through objects, so none keeps
        // its original text.
        $originals.clear();
        $seq.next_element_seed(LenientSeed::new(&mut Vec::new()))?
    }};
    (@element $seq:ident, $originals:ident, $kind:ident) => {
        $seq.next_element_seed(LenientSeed::new($originals))?
    };
}

object_shape!(MessageRequest {
    messages: "messages" => lenient,
});

object_shape!(Messages {
    authentication: "authentication" => lenient,
    msg: "msg" => msgs,
});
object_shape!(Authentication {
    product_token: "producttoken" => lenient,
});

object_shape!(Recipient {
    number: "number" => lenient,
});

object_shape!(Body {
    content: "content" => lenient,
    body_type: "type" => lenient,
});

object_shape!(Msg, keeps_original {
    from: "from" => lenient,
    to: "to" => lenient,
    body: "body" => lenient,
    reference: "reference" => lenient,
    custom_grouping: "customgrouping" => lenient,
    custom_grouping2: "customgrouping2" => lenient,
    custom_grouping3: "customgrouping3" => lenient,
    validity: "validity" => lenient,
    allowed_channels: "allowedchannels" => lenient,
    app_key: "appkey" => lenient,
    dcs: "dcs" => lenient,
    minimum_number_of_message_parts: "minimumnumberofmessageparts" => lenient,
    maximum_number_of_message_parts: "maximumnumberofmessageparts" => lenient,
    rich_content: "richcontent" => rich,
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cm::json_ci::get_in;
    use proptest::prelude::*;

    /// The reference: the whole body as a tree, keys lower-cased, then the derived deserializers
    /// (how requests were read before this module, and still how the rest of the API is read).
    fn through_a_tree(body: &[u8]) -> Result<(MessageRequest, Vec<Option<String>>), Malformed> {
        let root: Value = serde_json::from_slice(body).map_err(|_| Malformed)?;
        if !root.is_object() {
            return Err(Malformed);
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
        let request = serde_json::from_value(normalize_keys(root)).map_err(|_| Malformed)?;
        Ok((request, originals))
    }

    fn both_agree(body: &str) {
        let streamed = parse_message_request(body.as_bytes())
            .map(|parsed| (parsed.request, parsed.rich_originals));
        let tree = through_a_tree(body.as_bytes());
        match (&streamed, &tree) {
            (Ok((a, a_rich)), Ok((b, b_rich))) => {
                assert_eq!(a, b, "request differs for {body}");
                // The tree lists an original per msg; only msgs that exist matter.
                let msgs = match &a.messages {
                    Lenient::Present(messages) => match &messages.msg {
                        Lenient::Present(list) => list.len(),
                        _ => 0,
                    },
                    _ => 0,
                };
                for index in 0..msgs {
                    assert_eq!(
                        a_rich.get(index).cloned().flatten(),
                        b_rich.get(index).cloned().flatten(),
                        "rich original {index} differs for {body}"
                    );
                }
            }
            (Err(_), Err(_)) => {}
            _ => panic!("one failed, one did not, for {body}: {streamed:?} / {tree:?}"),
        }
    }

    #[test]
    fn sdk_bodies_and_corner_cases_read_as_through_a_tree() {
        for body in [
            r#"{"messages":{"authentication":{"producttoken":"t"},"msg":[{"allowedChannels":["SMS"],"from":"TestSender","to":[{"number":"0031612345678"}],"body":{"type":"AUTO","content":"Hello"},"reference":"ref1","customGrouping3":"text-sdk-python-2.0.4"}]}}"#,
            r#"{"messages":{"authentication":{"productToken":"t"},"msg":[{"from":"TestSender","body":{"content":"Hello","type":"AUTO"},"reference":"ref1","to":[{"number":"0031612345678"}],"customGrouping3":"text-sdk-javascript","allowedChannels":["SMS"]}]}}"#,
            r#"{"$type":"x","Messages":{"Authentication":{"ProductToken":"t"},"Msg":[{"$type":"TextMessage","From":"a","To":[{"Number":"1"}],"Body":{"Content":"x","Type":null},"Dcs":0,"Validity":null,"RichContent":null}]}}"#,
            r#"{"messages":{"msg":[{"richContent":{"conversation":[{"text":"hi"}],"suggestions":[{"action":"Reply","postbackData":"p"}]},"to":["0031612345678",31612345678,1.5e3,true,null,[],["1"],["1","2"],{}]}]}}"#,
            r#"{"messages":{"msg":[{"from":"a","FROM":"b","From":"c","from":"d"}]}}"#,
            r#"{"messages":{"msg":[{"dcs":"8"},{"dcs":" "},{"dcs":8.0},{"dcs":-1},{"dcs":18446744073709551615},{"dcs":"x"},{"dcs":[]}]}}"#,
            r#"{"messages":{"msg":[["a",[{"number":"1"}],["hello","AUTO"]],["a","b","c","d","e","f","g","h","i","j","k","l","m",{"x":1},"extra"]]}}"#,
            r#"{"messages":{"msg":[null,1,"x",{"richcontent":{"a":1},"RichContent":null}],"MSG":[{"richContent":{"b":2}}]}}"#,
            r#"{"messages":{"msg":[{"allowedChannels":["SMS",null,"WhatsApp"]},{"allowedChannels":["SMS",1]},{"allowedChannels":"SMS"}]}}"#,
            r#"{"messages":[{"producttoken":"t"},[{"from":"x"}]]}"#,
            r#"{"messages":{"msg":{}}}"#,
            r#"{"messages":{"msg":[{"richContent":{"conversation":[{"text":"a"}]}}]},"Messages":{"msg":[{"from":"x"},{"richContent":[1]}]}}"#,
            "[]",
            "{",
            "{} x",
            "  {\"messages\":null}  ",
            "{\"messages\":{\"msg\":[{\"from\":\"\\ud83d\\ude00\"}]}}",
            // Found by the fuzz target: a number out of f64's range in an ignored field.
            r#"{"Messages":{"Msg":[{"$type":16e66666,"RichContent":{"Suggestions":[{"Act%on":"Reply"}]}}]}}"#,
            r#"{"messages":{"unknown":[1e400]}}"#,
            r#"{"x":-1e400}"#,
        ] {
            both_agree(body);
        }
    }

    #[test]
    fn invalid_utf8_anywhere_is_malformed() {
        let body = b"{\"messages\":{\"ignored\":\"\xff\"}}";
        assert_eq!(parse_message_request(body).unwrap_err(), Malformed);
        assert!(through_a_tree(body).is_err());
    }

    /// A JSON text built by hand, so that it can hold repeated keys.
    #[derive(Debug, Clone)]
    enum Json {
        Null,
        Bool(bool),
        Int(i64),
        Big(u64),
        Float(f64),
        Text(String),
        Array(Vec<Json>),
        Object(Vec<(String, Json)>),
    }

    impl Json {
        fn render(&self, out: &mut String) {
            match self {
                Json::Null => out.push_str("null"),
                Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
                Json::Int(n) => out.push_str(&n.to_string()),
                Json::Big(n) => out.push_str(&n.to_string()),
                Json::Float(f) => {
                    out.push_str(&serde_json::Number::from_f64(*f).unwrap().to_string())
                }
                Json::Text(text) => out.push_str(&Value::String(text.clone()).to_string()),
                Json::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        item.render(out);
                    }
                    out.push(']');
                }
                Json::Object(entries) => {
                    out.push('{');
                    for (i, (key, value)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::String(key.clone()).to_string());
                        out.push(':');
                        value.render(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "messages",
        "authentication",
        "producttoken",
        "msg",
        "from",
        "to",
        "number",
        "body",
        "content",
        "type",
        "reference",
        "customgrouping",
        "customgrouping2",
        "customgrouping3",
        "validity",
        "allowedchannels",
        "appkey",
        "dcs",
        "minimumnumberofmessageparts",
        "maximumnumberofmessageparts",
        "richcontent",
        "conversation",
        "text",
        "x",
        "$type",
    ];

    fn key() -> impl Strategy<Value = String> {
        (prop::sample::select(KEYS), any::<u64>()).prop_map(|(key, cases)| {
            key.chars()
                .enumerate()
                .map(|(i, c)| {
                    if cases >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
    }

    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::Int),
            any::<u64>().prop_map(Json::Big),
            (-1e20f64..1e20).prop_map(Json::Float),
            prop_oneof![
                Just(String::new()),
                Just(" 8 ".to_owned()),
                Just("SMS".to_owned()),
                "[a-zA-Z0-9 ]{0,6}",
            ]
            .prop_map(Json::Text),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                prop::collection::vec((key(), inner), 0..6).prop_map(Json::Object),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_body_reads_as_through_a_tree(messages in json(), extra in json(), messages_key in key()) {
            let root = Json::Object(vec![(messages_key, messages), ("Other".into(), extra)]);
            let mut body = String::new();
            root.render(&mut body);
            both_agree(&body);
        }

        #[test]
        fn any_msg_list_reads_as_through_a_tree(msgs in prop::collection::vec(json(), 0..4)) {
            let root = Json::Object(vec![(
                "messages".into(),
                Json::Object(vec![("msg".into(), Json::Array(msgs))]),
            )]);
            let mut body = String::new();
            root.render(&mut body);
            both_agree(&body);
        }
    }
}
