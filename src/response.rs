//! Reading an answer: its body as text and JSON, the API's error shape, the created resource,
//! the value returned only once, and the two ways it is shown (editor view, step output).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::json::json_text;
use crate::operation::Operation;
use crate::secrets::SecretSet;
use crate::transport::{BodyEnd, WireResponse};

/// At most this much of a body is read: no answer of this API is that large.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// At most this much of a body is shown in the editor.
pub const DISPLAY_LIMIT: usize = 1024 * 1024;

/// The API's error body: `{"id": "unauthorized", "message": "...", "request_id": "..."}`.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiError<'a> {
    pub id: Option<&'a str>,
    pub message: &'a str,
    pub request_id: Option<&'a str>,
}

/// The resource a success body describes.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub status: Option<&'a str>,
}

#[derive(Debug)]
pub struct Reply<'r> {
    pub response: &'r WireResponse,
    /// The body as text; invalid UTF-8 replaced with U+FFFD.
    pub text: Cow<'r, str>,
    /// The body as JSON, when it is complete and parses.
    pub json: Option<Value>,
}

impl<'r> Reply<'r> {
    pub fn new(response: &'r WireResponse) -> Self {
        let text = String::from_utf8_lossy(&response.body);
        let json = (response.body_end == BodyEnd::Complete)
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        Reply {
            response,
            text,
            json,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.response.body_end == BodyEnd::Complete
    }

    pub fn api_error(&self) -> Option<ApiError<'_>> {
        let body = self.json.as_ref()?;
        Some(ApiError {
            id: body.get("id").and_then(Value::as_str),
            message: body.get("message").and_then(Value::as_str)?,
            request_id: body.get("request_id").and_then(Value::as_str),
        })
    }

    pub fn resource(&self, operation: &Operation) -> Option<Resource<'_>> {
        let member = self.json.as_ref()?.get(operation.resource_member)?;
        let text = |key: &str| member.get(key).and_then(Value::as_str);
        Some(Resource {
            id: text("id"),
            name: text("name"),
            status: text("status"),
        })
    }

    /// The value the API returns only once (`token.value`), when present.
    pub fn one_time_secret(&self, operation: &Operation) -> Option<&str> {
        let path = operation.one_time_secret?;
        path.split('.')
            .try_fold(self.json.as_ref()?, |value, key| value.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Adds what this body carries that must be masked. A body that did not parse (cut,
    /// malformed) is scanned for the one-time secret's key instead, so that a token in a
    /// broken body is still masked.
    pub fn collect_secrets(&self, operation: &Operation, secrets: &mut SecretSet) {
        if let Some(secret) = self.one_time_secret(operation) {
            secrets.add(secret);
        } else if self.json.is_none()
            && let Some(key) = operation.one_time_secret.and_then(|p| p.rsplit('.').next())
        {
            for value in string_values_of_key(&self.text, key) {
                secrets.add(value);
                // The value itself too, not only as the answer spelled it (escaped).
                if let Some(decoded) = json_unescape(value) {
                    secrets.add(&decoded);
                }
            }
        }
    }

    /// The step output object: `{"statusCode", "headers", "body"}`; `body` is the JSON when
    /// the answer is JSON, else its text, and null when the body is incomplete.
    pub fn step_output(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.response.headers {
            match headers.get_mut(name) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        let body = match (&self.json, self.is_complete()) {
            (Some(json), _) => json.clone(),
            (None, true) => Value::String(self.text.clone().into_owned()),
            (None, false) => Value::Null,
        };
        // Built field by field: `json!` would run `to_value` on `headers` and `body`, a
        // second deep copy of a body that may be megabytes.
        let mut output = Map::new();
        output.insert("statusCode".into(), self.response.status.into());
        output.insert("headers".into(), Value::Object(headers));
        output.insert("body".into(), body);
        Value::Object(output)
    }

    /// The body's text with every secret masked, in whatever spelling the server chose.
    fn masked_text(&self, secrets: &SecretSet) -> Cow<'_, str> {
        match (&self.response.body_end, &self.json) {
            (BodyEnd::OverLimit, _) => secrets.mask_cut_str(&self.text),
            // A server may spell any character of a string as an escape (`\u0061`, `\/`);
            // masking text cannot know every spelling, so a JSON body with escapes is shown as
            // written again from its masked values (and masked as text again: a secret such as
            // `":"` may be spelled by the JSON syntax itself).
            (_, Some(json)) if !secrets.is_empty() && self.text.contains('\\') => {
                let mut json = json.clone();
                secrets.mask_json(&mut json);
                Cow::Owned(secrets.mask_str(&json_text(&json)).into_owned())
            }
            _ => secrets.mask_str(&self.text),
        }
    }

    /// The editor's view: masked, at most `DISPLAY_LIMIT` of body, nothing of a body that
    /// broke off (it may end inside a secret).
    pub fn view(&self, secrets: &SecretSet) -> ResponseView {
        let headers = self
            .response
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), secrets.mask_str(v).into_owned()))
            .collect();
        let (body, truncated) = match self.response.body_end {
            BodyEnd::Failed(_) => (String::new(), false),
            BodyEnd::Complete | BodyEnd::OverLimit => {
                let masked = self.masked_text(secrets);
                let shown = cut_at_char_boundary(&masked, DISPLAY_LIMIT);
                let truncated =
                    shown.len() < masked.len() || self.response.body_end == BodyEnd::OverLimit;
                (shown.to_owned(), truncated)
            }
        };
        ResponseView {
            status: self.response.status,
            headers,
            body,
            truncated,
        }
    }
}

/// A response as the editor shows it (the WIT `response-view`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseView {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub truncated: bool,
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn cut_at_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The raw (still JSON-escaped) contents of every `"key": "..."` string in a text that may not
/// be valid JSON; an unterminated string runs to the end of the text.
fn string_values_of_key<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    let quoted_key = format!("\"{key}\"");
    let mut values = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&quoted_key) {
        rest = &rest[at + quoted_key.len()..];
        let Some(after_colon) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(contents) = after_colon.trim_start().strip_prefix('"') else {
            continue;
        };
        let mut escaped = false;
        let end = contents
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map_or(contents.len(), |(i, _)| i);
        values.push(&contents[..end]);
        rest = &contents[end..];
    }
    values
}

/// The JSON string contents `raw` decoded, or what decodes of it when it is cut off inside an
/// escape (`\u00`); None when nothing of it decodes.
fn json_unescape(raw: &str) -> Option<String> {
    // The longest escape is a surrogate pair, `\ud83d\ude00`: 12 bytes.
    let cuts = raw.char_indices().rev().take(12).map(|(i, _)| i);
    std::iter::once(raw.len()).chain(cuts).find_map(|end| {
        match serde_json::from_str(&format!("\"{}\"", &raw[..end])) {
            Ok(Value::String(decoded)) => Some(decoded),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use crate::transport::{TransportError, TransportErrorKind};

    fn response(status: u16, body: &[u8], body_end: BodyEnd) -> WireResponse {
        WireResponse {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: body.to_vec(),
            body_end,
        }
    }

    const ACCEPTED: &str = r#"{"dedicated_inference":{"id":"di-1","name":"llm","status":"provisioning"},
        "token":{"id":"t1","value":"dit_secret_value"}}"#;

    #[test]
    fn reads_a_created_resource_and_its_one_time_token() {
        let r = response(202, ACCEPTED.as_bytes(), BodyEnd::Complete);
        let reply = Reply::new(&r);
        assert_eq!(
            reply.resource(&OP),
            Some(Resource {
                id: Some("di-1"),
                name: Some("llm"),
                status: Some("provisioning")
            })
        );
        assert_eq!(reply.one_time_secret(&OP), Some("dit_secret_value"));
        let mut secrets = SecretSet::new();
        reply.collect_secrets(&OP, &mut secrets);
        let view = reply.view(&secrets);
        assert!(!view.body.contains("dit_secret_value") && view.body.contains("••••••••"));
        let output = reply.step_output();
        assert_eq!(output["statusCode"], 202);
        assert_eq!(output["headers"]["set-cookie"], "a=1, b=2");
        assert_eq!(output["body"]["token"]["value"], "dit_secret_value");
    }

    #[test]
    fn reads_the_api_error_shape() {
        let r = response(
            401,
            br#"{"id":"unauthorized","message":"Unable to authenticate you","request_id":"r-1"}"#,
            BodyEnd::Complete,
        );
        let reply = Reply::new(&r);
        assert_eq!(
            reply.api_error(),
            Some(ApiError {
                id: Some("unauthorized"),
                message: "Unable to authenticate you",
                request_id: Some("r-1")
            })
        );
    }

    #[test]
    fn text_bodies_stay_text() {
        let r = response(502, b"<html>Bad gateway</html>", BodyEnd::Complete);
        let reply = Reply::new(&r);
        assert!(reply.json.is_none() && reply.api_error().is_none());
        assert_eq!(reply.step_output()["body"], "<html>Bad gateway</html>");
    }

    #[test]
    fn a_token_spelled_with_escapes_is_still_masked() {
        // Every character of a string may be an escape; the fuzzer wrote the token this way.
        let escaped = ACCEPTED.replace("dit_secret_value", r"\u0064it_secret\/value");
        let r = response(202, escaped.as_bytes(), BodyEnd::Complete);
        let reply = Reply::new(&r);
        assert_eq!(reply.one_time_secret(&OP), Some("dit_secret/value"));
        let mut secrets = SecretSet::new();
        reply.collect_secrets(&OP, &mut secrets);
        let view = reply.view(&secrets);
        assert!(!view.body.contains("it_secret"), "{}", view.body);
        // Shown as written again from the masked values, the rest intact.
        let shown: Value = serde_json::from_str(&view.body).unwrap();
        assert_eq!(shown["token"]["value"], "••••••••");
        assert_eq!(shown["dedicated_inference"]["id"], "di-1");
        // Without escapes the body is shown as the server wrote it.
        let plain = response(202, ACCEPTED.as_bytes(), BodyEnd::Complete);
        let view = Reply::new(&plain).view(&secrets);
        assert!(view.body.contains("\n        \"token\""), "{}", view.body);
    }

    #[test]
    fn a_token_in_a_broken_body_is_still_masked() {
        // Invalid UTF-8 elsewhere in the body: the lossy text still parses.
        let mut body = ACCEPTED.as_bytes().to_vec();
        body.splice(30..30, [0xff, 0xfe]);
        let r = response(202, &body, BodyEnd::Complete);
        let reply = Reply::new(&r);
        let mut secrets = SecretSet::new();
        reply.collect_secrets(&OP, &mut secrets);
        assert!(!reply.view(&secrets).body.contains("dit_secret"));

        // Cut inside the token, not JSON at all.
        let cut = &ACCEPTED.as_bytes()[..ACCEPTED.find("_value").unwrap()];
        let r = response(202, cut, BodyEnd::OverLimit);
        let reply = Reply::new(&r);
        let mut secrets = SecretSet::new();
        reply.collect_secrets(&OP, &mut secrets);
        let view = reply.view(&secrets);
        assert!(
            view.truncated && !view.body.contains("dit_secret"),
            "{}",
            view.body
        );
    }

    #[test]
    fn a_body_that_broke_off_is_not_shown() {
        let failed = BodyEnd::Failed(TransportError::new(TransportErrorKind::Connection, "reset"));
        let r = response(202, &ACCEPTED.as_bytes()[..20], failed);
        let reply = Reply::new(&r);
        assert_eq!(reply.view(&SecretSet::new()).body, "");
        assert_eq!(reply.step_output()["body"], Value::Null);
    }

    #[test]
    fn display_limit_cuts_on_a_character_boundary() {
        let big = "é".repeat(DISPLAY_LIMIT);
        let r = response(200, big.as_bytes(), BodyEnd::Complete);
        let view = Reply::new(&r).view(&SecretSet::new());
        assert!(
            view.truncated
                && view.body.len() <= DISPLAY_LIMIT
                && view.body.len() >= DISPLAY_LIMIT - 1
        );
        assert_eq!(cut_at_char_boundary("abc", 10), "abc");
    }

    #[test]
    fn a_token_in_a_broken_body_is_masked_decoded_too() {
        // Found by tests/properties.rs: the scan registered only the escaped spelling.
        for body in [
            r#"{"token":{"value":"a\"b\u00e9"},"x":"#,
            r#"{"token":{"value":"a\"b\u00e9\u00"#,
        ] {
            let r = response(202, body.as_bytes(), BodyEnd::OverLimit);
            let mut secrets = SecretSet::new();
            Reply::new(&r).collect_secrets(&OP, &mut secrets);
            let masked = secrets.mask_str("a\"bé");
            assert!(!masked.contains("a\"b"), "{masked}");
        }
        assert_eq!(
            json_unescape(r"\ud83d\ude00x\ud83d").as_deref(),
            Some("😀x")
        );
        assert_eq!(json_unescape(r"a\").as_deref(), Some("a"));
    }

    #[test]
    fn a_body_cut_inside_an_echoed_secret_hides_its_start() {
        let r = response(
            400,
            br#"{"message":"bad token dop_v1_abc"#,
            BodyEnd::OverLimit,
        );
        let mut secrets = SecretSet::new();
        secrets.add("dop_v1_abcdef");
        let view = Reply::new(&r).view(&secrets);
        assert_eq!(view.body, r#"{"message":"bad token ••••••••"#);
    }

    #[test]
    fn scans_key_values_in_text() {
        let text = r#"x "value" : "a\"b" y "value":"tail"#;
        assert_eq!(string_values_of_key(text, "value"), vec![r#"a\"b"#, "tail"]);
        assert_eq!(
            string_values_of_key(r#""value": 5"#, "value"),
            Vec::<&str>::new()
        );
    }
}
