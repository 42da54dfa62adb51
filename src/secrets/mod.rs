//! Secret values and their masking.
//!
//! A secret is masked wherever it appears, in every spelling an output may carry it in: as
//! it is, trimmed of surrounding whitespace and ASCII-lower-cased (HTTP header names arrive
//! lower-cased), and inside text that spells characters with JSON string escapes (up to three
//! levels deep: `\u0064`, `\\u0064`, `\/`) or percent-encoding (`%64`, also inside JSON
//! escapes); see `spellings.rs`. Time is
//! linear in the text whatever the secrets are (`matcher.rs`). The mask is made of a character
//! that no secret contains, so a masked text can never contain a secret, not even across a
//! mask's edges.

mod matcher;
mod spellings;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::VecDeque;

use serde_json::Value;

use matcher::Matcher;
use spellings::{JsonUnescape, PercentDecode, Unit, plain};

/// The preferred mask, and the characters tried when a secret itself contains `•`. (No `%` or
/// `\`: a mask must not start an escape that the text after it would complete.)
const MASK_LEN: usize = 8;
const MASK_CHARACTERS: &[char] = &['•', '*', '#', '~', '^', '_', '='];

/// A secret longer than this is no credential: inputs refuse it, and a returned one makes the
/// answer unreadable. It bounds the masking automaton's memory with `MAX_SECRET_BYTES_IN_ALL`.
pub const MAX_SECRET_BYTES: usize = 4096;
/// All secrets of one call together.
pub const MAX_SECRET_BYTES_IN_ALL: usize = 64 * 1024;

/// Why a value could not be registered as a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretRefused {
    /// Longer than `MAX_SECRET_BYTES`.
    TooLong { bytes: usize },
    /// The call's secrets would pass `MAX_SECRET_BYTES_IN_ALL`.
    TooMany,
}

impl std::fmt::Display for SecretRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRefused::TooLong { bytes } => write!(
                f,
                "is a secret of {bytes} bytes; secrets longer than {MAX_SECRET_BYTES} bytes are \
                 refused (no credential is that long)"
            ),
            SecretRefused::TooMany => write!(
                f,
                "makes the call's secrets longer than {MAX_SECRET_BYTES_IN_ALL} bytes in all"
            ),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct SecretSet {
    /// Every secret value as given, without duplicates or empty strings.
    values: Vec<String>,
    /// The automaton over every spelling of `values`, built when first needed.
    compiled: OnceCell<Compiled>,
    /// A value was refused: it cannot be masked, so nothing holding it may be shown.
    refused: bool,
}

#[derive(Clone, Debug)]
struct Compiled {
    matcher: Matcher,
    mask: String,
}

impl SecretSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether a value was refused (`add`): it is not masked, so what holds it is not shown.
    pub fn has_refused(&self) -> bool {
        self.refused
    }

    /// Registers `secret` (ignoring empty and known ones), or says why it cannot be masked.
    pub fn add(&mut self, secret: &str) -> Result<(), SecretRefused> {
        if secret.is_empty() || self.values.iter().any(|v| v == secret) {
            return Ok(());
        }
        if secret.len() > MAX_SECRET_BYTES {
            self.refused = true;
            return Err(SecretRefused::TooLong {
                bytes: secret.len(),
            });
        }
        let total: usize = self.values.iter().map(String::len).sum();
        if total + secret.len() > MAX_SECRET_BYTES_IN_ALL {
            self.refused = true;
            return Err(SecretRefused::TooMany);
        }
        self.values.push(secret.to_owned());
        self.compiled = OnceCell::new();
        Ok(())
    }

    /// Registers every string (and number, as text) found anywhere inside `value`.
    pub fn add_leaves(&mut self, value: &Value) -> Result<(), SecretRefused> {
        let mut pending = vec![value];
        while let Some(value) = pending.pop() {
            match value {
                Value::String(s) => self.add(s)?,
                Value::Number(n) => self.add(&n.to_string())?,
                Value::Array(items) => pending.extend(items),
                Value::Object(members) => pending.extend(members.values()),
                Value::Null | Value::Bool(_) => {}
            }
        }
        Ok(())
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            let mut spellings: Vec<String> = self
                .values
                .iter()
                .flat_map(|v| {
                    let lower = v.to_ascii_lowercase();
                    let trimmed = v.trim().to_owned();
                    let trimmed_lower = lower.trim().to_owned();
                    [v.clone(), lower, trimmed, trimmed_lower]
                })
                .collect();
            // Most secrets are their own lower-cased, trimmed spelling: one needle for all.
            spellings.sort_unstable();
            spellings.dedup();
            let in_some_secret = |c: &char| spellings.iter().any(|s| s.contains(*c));
            let c = MASK_CHARACTERS
                .iter()
                .copied()
                .chain(('A'..='Z').chain('a'..='z').chain('0'..='9'))
                .find(|c| !in_some_secret(c))
                // Unreachable in practice: secrets holding every candidate character.
                .unwrap_or('\u{2588}');
            Compiled {
                matcher: Matcher::new(spellings.iter().map(|s| s.as_bytes())),
                mask: std::iter::repeat_n(c, MASK_LEN).collect(),
            }
        })
    }

    /// `text` with every occurrence of every secret, in every spelling, replaced by the mask.
    /// Overlapping occurrences merge into one masked run, so no part of a secret survives.
    pub fn mask_str<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.mask_occurrences(text, false)
    }

    /// `mask_str` for a text cut off at its end (a body over the read bound): a tail that is
    /// the start of a secret is masked too, since nothing could recognize it afterwards.
    pub fn mask_cut_str<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.mask_occurrences(text, true)
    }

    fn mask_occurrences<'t>(&self, text: &'t str, cut: bool) -> Cow<'t, str> {
        if self.values.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        let Compiled { matcher, mask } = self.compiled();
        // Each view only where the text can hold its escapes: a text without `\` or `%`
        // (the common case) is read once.
        let json = |levels| {
            let mut units: Box<dyn Iterator<Item = Unit>> = Box::new(plain(text));
            for _ in 0..levels {
                units = Box::new(JsonUnescape::new(units));
            }
            units
        };
        let backslashes = text.contains('\\');
        let mut covered = Coverage::new(text.len());
        covered.scan(matcher, plain(text), cut);
        for levels in 1..=3 {
            // Each level of escaping doubles the backslashes before an escape.
            if text.contains(&"\\".repeat(1 << (levels - 1))) {
                covered.scan(matcher, json(levels), cut);
            }
        }
        if text.contains('%') {
            covered.scan(matcher, PercentDecode::new(plain(text)), cut);
            if backslashes {
                covered.scan(matcher, PercentDecode::new(json(1)), cut);
            }
        }
        covered.apply(text, mask)
    }

    pub fn mask_string(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask_str(text) {
            *text = masked;
        }
    }

    /// Masks every string and object key inside `value` (a number that spells a secret
    /// becomes the masked string).
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

/// The bytes of a text that fall inside an occurrence of a secret, in any view of the text.
struct Coverage {
    /// One bit per byte of the text, allocated at the first occurrence.
    bits: Vec<u64>,
    len: usize,
}

impl Coverage {
    fn new(len: usize) -> Self {
        Coverage {
            bits: Vec::new(),
            len,
        }
    }

    /// Marks every occurrence in one view. After each byte the matcher gives the longest
    /// occurrence ending there, as an original range; overlapping ranges merge into runs, and
    /// a run is marked once no later occurrence can reach back into it (they start at most
    /// `max_len` decoded bytes back), so each byte is marked once: linear time.
    fn scan(&mut self, matcher: &Matcher, units: impl Iterator<Item = Unit>, cut: bool) {
        let window = matcher.max_len().max(1);
        // The original start of each of the last `window` decoded bytes, in a ring whose size
        // is a power of two (an index is a mask, not a division: this runs for every byte).
        let ring = window.next_power_of_two();
        let slot = |i: usize| i & (ring - 1);
        let mut starts = vec![0usize; ring];
        let mut runs: VecDeque<(usize, usize)> = VecDeque::new();
        let mut state = matcher.start();
        let mut read = 0usize;
        for unit in units {
            state = matcher.step(state, unit.byte);
            if let Some(start) = starts.get_mut(slot(read)) {
                *start = unit.start;
            }
            read += 1;
            let found = matcher.longest_match(state);
            if found > 0 {
                let start = starts.get(slot(read - found)).copied().unwrap_or(0);
                push_run(&mut runs, start, unit.end);
            }
            if runs.is_empty() {
                continue;
            }
            // Later occurrences start at the decoded byte `read + 1 - window` or after.
            let earliest = if window == 1 {
                Some(unit.end)
            } else {
                (read + 1)
                    .checked_sub(window)
                    .and_then(|i| starts.get(slot(i)).copied())
            };
            if let Some(earliest) = earliest {
                while let Some(&(start, end)) = runs.front() {
                    if end >= earliest {
                        break;
                    }
                    self.mark(start, end);
                    runs.pop_front();
                }
            }
        }
        if cut {
            let tail = matcher.depth(state);
            if tail > 0 {
                let start = starts.get(slot(read - tail)).copied().unwrap_or(0);
                push_run(&mut runs, start, self.len);
            }
        }
        for (start, end) in runs {
            self.mark(start, end);
        }
    }

    fn mark(&mut self, start: usize, end: usize) {
        if self.bits.is_empty() {
            self.bits = vec![0; self.len.div_ceil(64)];
        }
        let end = end.min(self.len);
        let mut i = start;
        while i < end {
            let Some(word) = self.bits.get_mut(i / 64) else {
                return;
            };
            // Whole words at once: a long run costs a word per 64 bytes.
            if i % 64 == 0 && end - i >= 64 {
                *word = u64::MAX;
                i += 64;
            } else {
                *word |= 1 << (i % 64);
                i += 1;
            }
        }
    }

    /// The first byte at or after `from` whose mark is `marked` (the text's end when none).
    fn next(&self, from: usize, marked: bool) -> usize {
        let mut i = from;
        while i < self.len {
            let word = self.bits.get(i / 64).copied().unwrap_or(0);
            let word = if marked { word } else { !word };
            let ahead = word >> (i % 64);
            if ahead != 0 {
                return (i + ahead.trailing_zeros() as usize).min(self.len);
            }
            i = (i / 64 + 1) * 64;
        }
        self.len
    }

    /// `text` with each run of marked bytes (widened to whole characters) replaced by `mask`.
    fn apply<'t>(&self, text: &'t str, mask: &str) -> Cow<'t, str> {
        if self.bits.iter().all(|&w| w == 0) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut cursor = 0;
        loop {
            let mut start = self.next(cursor, true);
            if start >= self.len {
                break;
            }
            let mut end = self.next(start, false);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            while !text.is_char_boundary(end) {
                end += 1;
            }
            out.push_str(text.get(cursor..start.max(cursor)).unwrap_or_default());
            out.push_str(mask);
            cursor = end;
        }
        out.push_str(text.get(cursor..).unwrap_or_default());
        Cow::Owned(out)
    }
}

/// Adds `start..end` to the runs (sorted, disjoint), merging the runs it overlaps.
fn push_run(runs: &mut VecDeque<(usize, usize)>, mut start: usize, mut end: usize) {
    // The common case where occurrences overlap (a periodic secret: one at every byte): the
    // new one extends the last run in place.
    if let Some(last) = runs.back_mut()
        && last.0 <= start
        && start <= last.1
    {
        last.1 = last.1.max(end);
        return;
    }
    while let Some(&(s, e)) = runs.back() {
        if e < start {
            break;
        }
        start = start.min(s);
        end = end.max(e);
        runs.pop_back();
    }
    runs.push_back((start, end));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(secrets: &[&str]) -> SecretSet {
        let mut s = SecretSet::new();
        secrets.iter().for_each(|x| s.add(x).unwrap());
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
    fn url_inserted_and_doubly_escaped_spellings_are_masked() {
        // Found by tests/properties.rs: a parameter in the URL keeps `-._~` unencoded, and an
        // error message quoting the request body escapes the body's escapes again.
        let s = set(&["a b-c", "x\n\"y"]);
        for leaked in ["/v2?hf=a%20b-c", r#"{"message":"{\"t\":\"x\\n\\\"y\"}"}"#] {
            let masked = s.mask_str(leaked);
            assert!(
                !masked.contains("a%20b-c") && !masked.contains(r#"x\\n\\\"y"#),
                "{masked}"
            );
        }
    }

    #[test]
    fn a_cut_text_ending_inside_a_secret_masks_its_start() {
        // Found by tests/properties.rs: the short secret `e`, masked first, broke the cut token
        // into pieces that no longer looked like its start.
        let mut s = SecretSet::new();
        s.add("LONGA0AaaAaAaAeaAaAaaaaa").unwrap();
        s.add("e").unwrap();
        assert_eq!(s.mask_cut_str("x: LONGA0AaaAaAaAeaA"), "x: ••••••••");
        // Only the tail itself: the same letters earlier are no secret.
        assert_eq!(s.mask_cut_str("LONG and LONG"), "LONG and ••••••••");

        // Found by tests/properties.rs: a body cut by the read bound inside an echoed secret.
        let s = set(&["hf_secret_value"]);
        assert_eq!(s.mask_cut_str("name: hf_secr"), "name: ••••••••");
        assert_eq!(s.mask_cut_str("hf_secret_value h"), "•••••••• ••••••••");
        assert_eq!(s.mask_cut_str("no secret"), "no secret");
        assert_eq!(s.mask_cut_str(""), "");
        assert_eq!(SecretSet::new().mask_cut_str("abc"), "abc");
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
    fn trimmed_and_lower_cased_spellings_are_masked() {
        // A token read from a file keeps its newline; header names arrive lower-cased.
        let s = set(&["Dop_V1_Abc\n"]);
        assert_eq!(s.mask_str("Bearer Dop_V1_Abc x"), "Bearer •••••••• x");
        assert_eq!(s.mask_str("x-dop_v1_abc: 1"), "x-••••••••: 1");
    }

    #[test]
    fn escapes_of_any_character_are_masked_where_they_are() {
        let s = set(&["dop_v1_secret"]);
        // Any character as a \u escape, once or twice escaped, or percent-encoded.
        for text in [
            r"msg: \u0064op_v1_s\u0065cret!",
            r"msg: \\u0064op_v1_s\\u0065cret!",
            "msg: %64op_v1_%73ecret!",
        ] {
            assert_eq!(s.mask_str(text), "msg: ••••••••!", "{text}");
        }
        // Text without a secret in any spelling is left alone.
        assert!(matches!(s.mask_str(r"a \u0041 %41"), Cow::Borrowed(_)));
    }

    #[test]
    fn masking_is_linear_whatever_the_secrets_look_like() {
        // Periodic secrets over a periodic text: the quadratic case of a naive search.
        let s = set(&[&"a".repeat(4000), &"ab".repeat(1000), "a"]);
        let text = "a".repeat(1_000_000);
        let masked = s.mask_str(&text);
        assert_eq!(masked, "••••••••");
        let bs = "b".repeat(10);
        assert_eq!(s.mask_cut_str(&bs), bs);
    }

    #[test]
    fn too_long_or_too_many_secrets_are_refused() {
        let mut s = SecretSet::new();
        assert_eq!(
            s.add(&"x".repeat(MAX_SECRET_BYTES + 1)),
            Err(SecretRefused::TooLong {
                bytes: MAX_SECRET_BYTES + 1
            })
        );
        for i in 0..MAX_SECRET_BYTES_IN_ALL / 1000 {
            s.add(&format!("{i:0>1000}")).unwrap();
        }
        assert_eq!(s.add(&"y".repeat(1000)), Err(SecretRefused::TooMany));
    }

    #[test]
    fn empty_secret_is_ignored() {
        let s = set(&[""]);
        assert!(s.is_empty());
        assert_eq!(s.mask_str("abc"), "abc");
    }
}
