//! Writing JSON text. Every `Value` the crate turns into text goes through `json_text`:
//! `Value`'s `Display` and `serde_json::to_string` are two separate serializer
//! instantiations, and keeping only one saved 5.8 KB of component.

use serde_json::Value;

/// The compact JSON text of `value`.
pub fn json_text(value: &Value) -> String {
    // Serializing a `Value` into memory cannot fail (its map keys are strings).
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_and_round_trips() {
        let value = json!({"b": [1, 2.5, "x\"y"], "a": null});
        let text = json_text(&value);
        assert_eq!(text, r#"{"b":[1,2.5,"x\"y"],"a":null}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }
}
