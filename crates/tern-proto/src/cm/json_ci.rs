//! Case-insensitive access to JSON objects. CM treats keys as case-insensitive at every level
//! (`producttoken`/`productToken`, `Msg`, `RichContent`), and the official SDKs rely on it.

use serde_json::{Map, Value};

/// The value under `key`, compared ASCII-case-insensitively; `null` counts as absent.
pub fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// The value under `key` of `value` when `value` is an object.
pub fn get_in<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_object().and_then(|object| get(object, key))
}

/// A scalar as text: strings as they are, numbers and booleans in their JSON form.
/// Clients send numbers (`"number": 31612345678`) where strings are documented.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Text of `key` in `object`: `None` when absent or not a scalar.
pub fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    get(object, key).and_then(scalar_text)
}

/// Text of `key` in `value` when `value` is an object.
pub fn text_in(value: &Value, key: &str) -> Option<String> {
    value.as_object().and_then(|object| text(object, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_without_case_and_null_is_absent() {
        let value = json!({"ProductToken": "x", "gone": null, "n": 12});
        let object = value.as_object().unwrap();
        assert_eq!(text(object, "producttoken").as_deref(), Some("x"));
        assert_eq!(get(object, "GONE"), None);
        assert_eq!(text(object, "N").as_deref(), Some("12"));
        assert_eq!(text(object, "missing"), None);
    }
}
