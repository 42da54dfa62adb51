//! Secret values and their masking.
//!
//! A secret is masked wherever it appears, in any spelling the outputs may carry it in (as is,
//! JSON-escaped, `\u`-escaped, percent-encoded). The mask is made of a character that no secret
//! contains, so a masked text can never contain a secret, not even across a mask's edges.

use std::borrow::Cow;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// The preferred mask, and the characters tried when a secret itself contains `•`.
const MASK_LEN: usize = 8;
const MASK_CHARACTERS: &[char] = &['•', '*', '#', '~', '%', '^', '_', '='];

#[derive(Clone, Debug, Default)]
pub struct SecretSet {
    /// Every spelling of every secret, without duplicates or empty strings.
    needles: Vec<String>,
}

impl SecretSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Adds one secret value in all the spellings an output may show it in.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        self.add_needle(secret.to_owned());
        if let Ok(quoted) = serde_json::to_string(secret) {
            let escaped = &quoted[1..quoted.len() - 1];
            for spelling in [escaped.to_owned(), escaped.replace('/', "\\/")] {
                self.add_needle(ascii_json_escape(&spelling));
                self.add_needle(spelling);
            }
        }
        self.add_needle(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
    }

    /// Adds every string (and number, as text) found anywhere inside `value`.
    pub fn add_leaves(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.add(s),
            Value::Number(n) => self.add(&n.to_string()),
            Value::Array(items) => items.iter().for_each(|v| self.add_leaves(v)),
            Value::Object(members) => members.values().for_each(|v| self.add_leaves(v)),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn add_needle(&mut self, needle: String) {
        if !needle.is_empty() && !self.needles.contains(&needle) {
            self.needles.push(needle);
        }
    }

    /// The mask: eight of the first candidate character that no secret contains.
    fn mask(&self) -> String {
        let in_some_secret = |c: &char| self.needles.iter().any(|n| n.contains(*c));
        let c = MASK_CHARACTERS
            .iter()
            .copied()
            .chain(('A'..='Z').chain('a'..='z').chain('0'..='9'))
            .find(|c| !in_some_secret(c))
            // Unreachable in practice: a secret set holding every candidate character.
            .unwrap_or('\u{2588}');
        std::iter::repeat_n(c, MASK_LEN).collect()
    }

    /// `text` with every occurrence of every secret replaced by the mask. Overlapping
    /// occurrences merge into one masked run, so no part of a secret survives at an edge.
    pub fn mask_str<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // Next occurrence of each needle at or after the cursor (None: no more).
        let mut next: Vec<Option<usize>> =
            self.needles.iter().map(|n| text.find(n.as_str())).collect();
        if next.iter().all(Option::is_none) {
            return Cow::Borrowed(text);
        }
        let mask = self.mask();
        let mut out = String::with_capacity(text.len());
        let mut cursor = 0;
        while let Some(start) = next.iter().flatten().copied().min() {
            let mut end = start;
            // Grow the masked run over every occurrence that starts inside it.
            loop {
                let mut grew = false;
                for (needle, position) in self.needles.iter().zip(next.iter_mut()) {
                    while let Some(p) = *position {
                        if p > end || (p == end && p > start) {
                            break;
                        }
                        if p + needle.len() > end {
                            end = p + needle.len();
                            grew = true;
                        }
                        *position = find_after(text, needle, p);
                    }
                }
                if !grew {
                    break;
                }
            }
            out.push_str(&text[cursor..start]);
            out.push_str(&mask);
            cursor = end;
            for (needle, position) in self.needles.iter().zip(next.iter_mut()) {
                if position.is_some_and(|p| p < cursor) {
                    *position = text[cursor..].find(needle.as_str()).map(|p| p + cursor);
                }
            }
        }
        out.push_str(&text[cursor..]);
        Cow::Owned(out)
    }

    pub fn mask_string(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask_str(text) {
            *text = masked;
        }
    }

    /// Masks every string and object key inside `value`.
    pub fn mask_json(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => self.mask_string(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            Value::Object(members) => {
                let masked_keys = members
                    .keys()
                    .any(|k| matches!(self.mask_str(k), Cow::Owned(_)));
                if masked_keys {
                    let old = std::mem::take(members);
                    for (k, v) in old {
                        members.insert(self.mask_str(&k).into_owned(), v);
                    }
                }
                members.values_mut().for_each(|v| self.mask_json(v));
            }
            Value::Number(n) => {
                if let Cow::Owned(masked) = self.mask_str(&n.to_string()) {
                    *value = Value::String(masked);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }
}

/// The next occurrence of `needle` starting after the character at `position`.
fn find_after(text: &str, needle: &str, position: usize) -> Option<usize> {
    let step = text[position..].chars().next().map_or(1, char::len_utf8);
    let from = position + step;
    text.get(from..)?.find(needle).map(|p| p + from)
}

/// JSON escaping with every non-ASCII character as `\uXXXX`, as Python's `json.dumps` and
/// many servers write it.
fn ascii_json_escape(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    for c in escaped.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(secrets: &[&str]) -> SecretSet {
        let mut s = SecretSet::new();
        secrets.iter().for_each(|x| s.add(x));
        s
    }

    #[test]
    fn masks_every_occurrence() {
        let s = set(&["dop_v1_abc"]);
        assert_eq!(
            s.mask_str("Bearer dop_v1_abc and dop_v1_abc."),
            "Bearer •••••••• and ••••••••."
        );
        assert!(matches!(s.mask_str("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn overlapping_secrets_leave_no_fragment() {
        let s = set(&["abc", "cde"]);
        assert_eq!(s.mask_str("xabcdex"), "x••••••••x");
        let s = set(&["aa"]);
        assert_eq!(s.mask_str("aaaaa"), "••••••••");
    }

    #[test]
    fn other_spellings_are_masked() {
        let s = set(&["p\"é/ö"]);
        let text = r#"{"a":"p\"é/ö","b":"p\"\u00e9\/\u00f6","c":"p%22%C3%A9%2F%C3%B6"}"#;
        let masked = s.mask_str(text);
        assert!(
            !masked.contains('é') && !masked.contains("00e9") && !masked.contains("%C3"),
            "{masked}"
        );
    }

    #[test]
    fn a_secret_made_of_mask_characters_changes_the_mask() {
        let s = set(&["•", "*"]);
        let masked = s.mask_str("a•b*c");
        assert_eq!(masked, "a########b########c");
    }

    #[test]
    fn unicode_and_tiny_secrets() {
        let s = set(&["é", "x"]);
        let masked = s.mask_str("éxéaé");
        assert!(!masked.contains('é') && !masked.contains('x'));
        assert!(masked.ends_with("a••••••••"));
    }

    #[test]
    fn json_values_and_keys() {
        let s = set(&["hf_secret", "42"]);
        let mut v =
            json!({"access_tokens": {"hf_secret": "hf_secret"}, "n": 42, "t": "x hf_secret"});
        s.mask_json(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hf_secret") && !text.contains("42"),
            "{text}"
        );
        assert_eq!(v["t"], "x ••••••••");
    }

    #[test]
    fn empty_secret_is_ignored() {
        let s = set(&[""]);
        assert!(s.is_empty());
        assert_eq!(s.mask_str("abc"), "abc");
    }
}
