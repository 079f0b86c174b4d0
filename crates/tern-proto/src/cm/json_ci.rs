//! Case-insensitive access to JSON objects, for the few places that read a JSON tree directly
//! (the typed wire structs in [`crate::cm::wire`] do the rest). CM treats keys as
//! case-insensitive at every level, and the official SDKs rely on it.

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_without_case_and_null_is_absent() {
        let value = json!({"ProductToken": "x", "gone": null, "n": 12});
        assert_eq!(get_in(&value, "producttoken"), Some(&json!("x")));
        assert_eq!(get_in(&value, "GONE"), None);
        assert_eq!(get_in(&value, "N"), Some(&json!(12)));
        assert_eq!(get_in(&value, "missing"), None);
    }
}
