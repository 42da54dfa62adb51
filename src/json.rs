//! Reading and writing JSON text with bounds.
//!
//! A `serde_json::Value` takes ~48 bytes per value in wasm32 (more per object member), so 4 MiB
//! of `[0,0,0,…]` would need ~100 MB of guest memory: inputs are measured (bytes, values) in
//! one linear pass before a tree is built, and refused past their limits with a plain message.

use serde_json::Value;

/// Limits for one JSON text.
#[derive(Clone, Copy, Debug)]
pub struct JsonLimits {
    pub max_bytes: usize,
    pub max_values: usize,
}

/// Why a text was not read as JSON.
#[derive(Debug)]
pub enum JsonProblem {
    TooLarge {
        bytes: usize,
        max: usize,
    },
    TooManyValues {
        max: usize,
    },
    /// serde_json's 128 levels.
    TooDeep {
        line: usize,
        column: usize,
    },
    Syntax(serde_json::Error),
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonProblem::TooLarge { bytes, max } => {
                write!(f, "is {bytes} bytes; at most {max} are accepted")
            }
            JsonProblem::TooManyValues { max } => {
                write!(
                    f,
                    "holds more than {max} JSON values; at most {max} are accepted"
                )
            }
            JsonProblem::TooDeep { line, column } => write!(
                f,
                "nests deeper than 128 levels (line {line}, column {column})"
            ),
            JsonProblem::Syntax(e) => write!(f, "is not valid JSON: {e}"),
        }
    }
}

/// Parses `text` within `limits`.
pub fn parse_bounded(text: &str, limits: JsonLimits) -> Result<Value, JsonProblem> {
    if text.len() > limits.max_bytes {
        return Err(JsonProblem::TooLarge {
            bytes: text.len(),
            max: limits.max_bytes,
        });
    }
    if counted_values(text, limits.max_values) > limits.max_values {
        return Err(JsonProblem::TooManyValues {
            max: limits.max_values,
        });
    }
    serde_json::from_str(text).map_err(|e| {
        // serde_json stops at 128 levels; say so plainly rather than "recursion limit".
        if e.to_string().starts_with("recursion limit exceeded") {
            JsonProblem::TooDeep {
                line: e.line(),
                column: e.column(),
            }
        } else {
            JsonProblem::Syntax(e)
        }
    })
}

/// An upper bound of the values in `text` read as JSON, counted up to `max + 1`: every value
/// but the first follows a `,`, a `[` or a `:` outside strings (object keys count too).
fn counted_values(text: &str, max: usize) -> usize {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b'[' | b':' => {
                count += 1;
                if count > max {
                    return count;
                }
            }
            _ => {}
        }
    }
    count
}

/// The compact JSON text of `value`.
pub fn json_text(value: &Value) -> String {
    // Serializing a `Value` into memory cannot fail (its map keys are strings).
    serde_json::to_string(value).unwrap_or_default()
}

/// The length of `value`'s compact JSON text, if it is at most `max` bytes: serialization
/// stops as soon as it passes `max`, so the cost is bounded by `max`, not by the value.
pub fn json_len_within(value: &Value, max: usize) -> Option<usize> {
    struct Counter {
        written: usize,
        max: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written += buf.len();
            if self.written > self.max {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { written: 0, max };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: JsonLimits = JsonLimits {
        max_bytes: 1000,
        max_values: 10,
    };

    #[test]
    fn compact_and_round_trips() {
        let value = json!({"b": [1, 2.5, "x\"y"], "a": null});
        let text = json_text(&value);
        assert_eq!(text, r#"{"b":[1,2.5,"x\"y"],"a":null}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(json_len_within(&value, 100), Some(text.len()));
        assert_eq!(json_len_within(&value, text.len() - 1), None);
    }

    #[test]
    fn bounds_are_checked_before_parsing() {
        assert!(parse_bounded("[1,2,3,4,5,6,7,8,9]", LIMITS).is_ok());
        assert!(matches!(
            parse_bounded("[1,2,3,4,5,6,7,8,9,10]", LIMITS),
            Err(JsonProblem::TooManyValues { max: 10 })
        ));
        // Commas and brackets inside strings are text, not values.
        assert!(parse_bounded(r#"["a,b,c,[,[,:,:,:,:,:,:,:,\",,,"]"#, LIMITS).is_ok());
        assert!(matches!(
            parse_bounded(&" ".repeat(1001), LIMITS),
            Err(JsonProblem::TooLarge { bytes: 1001, .. })
        ));
        let deep = "[".repeat(200) + &"]".repeat(200);
        let limits = JsonLimits {
            max_bytes: 1000,
            max_values: 1000,
        };
        assert!(matches!(
            parse_bounded(&deep, limits),
            Err(JsonProblem::TooDeep { line: 1, .. })
        ));
    }

    #[test]
    fn the_count_is_an_upper_bound() {
        for text in [
            r#"{"a":1,"b":[true,null,{"c":"d"}],"e":{}}"#,
            "[]",
            "[[[]]]",
            r#"{"k":"v"}"#,
            "1",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let (mut values, mut keys, mut arrays) = (0, 0, 0);
            let mut pending = vec![&value];
            while let Some(v) = pending.pop() {
                values += 1;
                match v {
                    Value::Array(items) => {
                        arrays += 1;
                        pending.extend(items);
                    }
                    Value::Object(members) => {
                        keys += members.len();
                        pending.extend(members.values());
                    }
                    _ => {}
                }
            }
            let counted = counted_values(text, usize::MAX - 1);
            // Exact but for keys and one per array (an empty one counts a value it lacks).
            assert!(
                values <= counted && counted <= values + keys + arrays,
                "{text}: {counted}"
            );
        }
    }
}
