//! The fuzz targets, and what they share beyond the crate's test kit (`testkit`: the scripted
//! transport, the clock): the fixtures, fuzzed JSON values, and the masking oracle ("no secret
//! appears in this text").
//!
//! Each target is a plain function, `targets::<name>::run(&[u8]) -> bool` (true when the bytes
//! made an input that was checked), which panics when an invariant breaks. Two callers, one
//! function: the `fuzz_target!` in `fuzz_targets/<name>.rs` (libFuzzer, nightly), and
//! `tests/seeds.rs`, which replays every file of `seeds/<name>/` through it as an ordinary test
//! on stable (`cargo test --no-default-features`, run by `scripts/test`). So this library needs
//! no libFuzzer: it takes `Arbitrary` from the `arbitrary` crate (the one libfuzzer-sys
//! re-exports, unified to one version), and `libfuzzer-sys` comes only with the default
//! `libfuzzer` feature, which the fuzz binaries require.
//!
//! The oracle is a plain substring check, independent of `secrets.rs`: the product promises
//! that a masked text never contains a secret, in any of the spellings it outputs.

/// One module per fuzz target; each module's doc says what it feeds in and what it asserts.
pub mod targets {
    pub mod jsonata;
    pub mod jsonpath;
    pub mod render;
    pub mod response;
    pub mod validate;
}

use std::borrow::Cow;

use arbitrary::Arbitrary;
use do_dedicated_inference_task::diagnostic::Diagnostic;
use do_dedicated_inference_task::operation::Operation;
use do_dedicated_inference_task::task::RequestPreview;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

pub const FIXTURE_DEFINITION: &str = include_str!("../../fixtures/definition.json");
pub const FIXTURE_PARAMETERS: &str = include_str!("../../fixtures/parameters.json");

/// The API token the targets pass as the `token` secret.
pub const API_TOKEN: &str = "dop_v1_f00dfacecafe0123456789abcdef";

/// `data` cut at every 0xFF byte, each part as (lossy) UTF-8. 0xFF never occurs in UTF-8, so
/// seeds can be written as text parts joined by that byte.
pub fn split_parts(data: &[u8]) -> Vec<Cow<'_, str>> {
    data.split(|&b| b == 0xFF)
        .map(String::from_utf8_lossy)
        .collect()
}

/// Any JSON value, built by the fuzzer. NaN and infinities, which JSON cannot hold, become null.
#[derive(Arbitrary, Debug)]
pub enum FuzzValue {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    String(String),
    Array(Vec<FuzzValue>),
    Object(Vec<(String, FuzzValue)>),
}

impl FuzzValue {
    pub fn to_json(&self) -> Value {
        match self {
            FuzzValue::Null => Value::Null,
            FuzzValue::Bool(b) => Value::Bool(*b),
            FuzzValue::Int(i) => Value::from(*i),
            FuzzValue::Unsigned(u) => Value::from(*u),
            FuzzValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            FuzzValue::String(s) => Value::String(s.clone()),
            FuzzValue::Array(items) => items.iter().map(FuzzValue::to_json).collect(),
            FuzzValue::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// Reads back JSON that the task wrote (a sent body, a step output). Those may nest deeper
/// than serde_json's default limit of 128 levels, which applies to the task's inputs: a
/// parameter 100 levels deep inserted 100 levels down, an API body wrapped in the step output.
pub fn parse_output(text: &str) -> Value {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer).expect("the task wrote invalid JSON");
    deserializer
        .end()
        .expect("the task wrote trailing characters");
    value
}

/// Every string, and every number as text, inside `value`: what the product treats as secret
/// below a secret field.
pub fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(members) => members.values().for_each(|v| leaves(v, out)),
        Value::Null | Value::Bool(_) => {}
    }
}

/// The values under the operation's secret body fields (`access_tokens`, its alias, and any
/// secret field however deep: `a.b[].c` follows every item of the array `b`).
pub fn body_secrets(operation: &Operation, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in operation.body_fields.iter().filter(|f| f.is_secret()) {
        let mut found = vec![body];
        for step in field.path.split('.') {
            let (key, every_item) = match step.strip_suffix("[]") {
                Some(key) => (key, true),
                None => (step, false),
            };
            found = found
                .into_iter()
                .filter_map(|v| v.get(key))
                .flat_map(|v| match (every_item, v) {
                    (true, Value::Array(items)) => items.iter().collect(),
                    (true, _) => vec![],
                    (false, v) => vec![v],
                })
                .collect();
        }
        found.into_iter().for_each(|v| leaves(v, &mut out));
    }
    out
}

/// Panics when any (non-empty) secret occurs in `text`; `place` names the output.
pub fn assert_hidden<S: AsRef<str>>(secrets: &[S], place: &str, text: &str) {
    for secret in secrets.iter().map(AsRef::as_ref) {
        assert!(
            secret.is_empty() || !text.contains(secret),
            "secret {secret:?} leaked in {place}: {text:?}"
        );
    }
}

/// The preview's masked fields. The method and header names come from the definition's
/// fixed vocabulary (a method must equal the operation's, a name must be an HTTP token) and
/// are not masked by design, so a secret spelled like `POST` or `Content-Type` is not a leak.
pub fn assert_preview_hidden<S: AsRef<str>>(secrets: &[S], preview: &RequestPreview) {
    assert_hidden(secrets, "the preview URL", &preview.url);
    for (name, value) in &preview.headers {
        assert_hidden(secrets, &format!("the preview header {name}"), value);
    }
    if let Some(body) = &preview.body {
        assert_hidden(secrets, "the preview body", body);
    }
}

pub fn assert_diagnostics_hidden<S: AsRef<str>>(secrets: &[S], diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        assert_hidden(secrets, "a diagnostic's path", &d.path);
        assert_hidden(secrets, "a diagnostic's message", &d.message);
    }
}

/// A secret inserted into the URL's path or query is percent-encoded there, and decoding is all
/// it takes to read it. Only for URLs whose literal text has no `%` escapes of its own (or a
/// definition's `/%41` would "reveal" a secret `A`).
pub fn assert_url_decoded_hidden<S: AsRef<str>>(secrets: &[S], preview: &RequestPreview) {
    let decoded = percent_decode_str(&preview.url).decode_utf8_lossy();
    assert_hidden(secrets, "the percent-decoded preview URL", &decoded);
}
