//! Reading an answer: its body as text and JSON, the API's error shape, the resource it
//! describes, the value returned only once, and the two ways it is shown (editor view, step
//! output).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::{JsonLimits, json_text, parse_bounded};
use crate::operation::Operation;
use crate::request::ReturnedSecret;
use crate::secrets::SecretSet;
use crate::transport::{BodyEnd, WireResponse};

/// At most this much of a body is read: no answer of this API is that large.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// At most this much of a body is shown in the editor.
pub const DISPLAY_LIMIT: usize = 1024 * 1024;
/// A body is read as JSON within these bounds (a tree of 4 MiB of tiny values would not fit
/// the guest's memory); past them it is text.
pub const BODY_JSON_LIMITS: JsonLimits = JsonLimits {
    max_bytes: BODY_LIMIT,
    max_values: 200_000,
};

/// The API's error body: `{"id": "unauthorized", "message": "...", "request_id": "..."}`.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
    pub message: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub request_id: Option<String>,
}

/// The resource a success body describes (the member named by `Answer::resource_member`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct ResourceFields {
    #[serde(default, deserialize_with = "lenient_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    status: Option<String>,
}

/// A text field read leniently: a server that writes `"id": 5` or `null` yields None rather
/// than making the whole shape unreadable.
fn lenient_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// What became of the value the API returns only once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneTime {
    /// Not in this answer (or the operation has none).
    Absent,
    Read(String),
    /// A success answer that may carry it, but it could not be read (and so is not shown):
    /// the reason, for a person.
    Unreadable(String),
}

#[derive(Debug)]
pub struct Reply<'r> {
    pub response: &'r WireResponse,
    /// The body as text; invalid UTF-8 replaced with U+FFFD.
    pub text: Cow<'r, str>,
    /// The body as JSON, when it is complete, not encoded, and parses within bounds.
    pub json: Option<Value>,
    pub one_time: OneTime,
    /// The body may hold a secret that could not be registered: it is not shown.
    hidden: bool,
}

impl<'r> Reply<'r> {
    /// Reads `response` and registers in `secrets` what it carries that must be masked: the
    /// one-time value, and, when the body did not parse (cut, malformed), every string under
    /// that value's key, so that a token in a broken body is still masked.
    pub fn new(operation: &Operation, response: &'r WireResponse, secrets: &mut SecretSet) -> Self {
        let text = String::from_utf8_lossy(&response.body);
        let encoded = response
            .header("content-encoding")
            .filter(|e| !e.trim().eq_ignore_ascii_case("identity") && !e.trim().is_empty());
        let parsed = match (&response.body_end, &encoded) {
            (BodyEnd::Complete, None) => {
                // A byte-order mark is not JSON, but a proxy may add one: read past it.
                Some(parse_bounded(
                    text.strip_prefix('\u{feff}').unwrap_or(&text),
                    BODY_JSON_LIMITS,
                ))
            }
            _ => None,
        };
        let (json, problem) = match parsed {
            Some(Ok(json)) => (Some(json), None),
            Some(Err(problem)) => (None, Some(format!("the body {problem}"))),
            None => (None, None),
        };
        let mut reply = Reply {
            response,
            text,
            json,
            one_time: OneTime::Absent,
            hidden: false,
        };
        let Some(secret) = operation.answer.one_time_secret else {
            return reply;
        };
        let found = reply.json.as_ref().and_then(|json| {
            secret
                .path
                .split('.')
                .try_fold(json, |value, key| value.get(key))
        });
        reply.one_time = match found {
            Some(Value::String(value)) if !value.is_empty() => match secrets.add(value) {
                Ok(()) => OneTime::Read(value.clone()),
                Err(refused) => {
                    reply.hidden = true;
                    OneTime::Unreadable(format!("`{}` {refused}", secret.path))
                }
            },
            Some(Value::Null) | None if reply.json.is_some() => OneTime::Absent,
            Some(other) => {
                // Whatever it is, its parts are masked; it is not revealed.
                if secrets.add_leaves(other).is_err() {
                    reply.hidden = true;
                }
                OneTime::Unreadable(format!(
                    "`{}` is {}, not a string",
                    secret.path,
                    crate::template::json_kind(other)
                ))
            }
            None => {
                let key = secret.path.rsplit('.').next().unwrap_or(secret.path);
                for raw in string_values_of_key(&reply.text, key) {
                    let value = json_unescape(raw).unwrap_or_else(|| raw.to_owned());
                    if secrets.add(&value).is_err() {
                        reply.hidden = true;
                    }
                }
                let why = match (&response.body_end, encoded, problem) {
                    (BodyEnd::Failed(_), ..) => "the body broke off".to_owned(),
                    (BodyEnd::OverLimit, ..) => {
                        format!("the body is larger than {} MiB", BODY_LIMIT / (1024 * 1024))
                    }
                    (_, Some(encoding), _) => format!(
                        "the body is `{}`-encoded, which this task does not decode",
                        crate::template::abbreviate(&encoding, 40)
                    ),
                    (_, None, Some(problem)) => problem,
                    (_, None, None) => "the body is not JSON".to_owned(),
                };
                OneTime::Unreadable(why)
            }
        };
        if response.status != secret.status {
            // Only the answer that returns the value carries it; elsewhere it is text to mask.
            reply.one_time = OneTime::Absent;
        }
        // A body that may hold the value unread is not shown: it cannot be masked.
        if matches!(reply.one_time, OneTime::Unreadable(_)) && reply.json.is_none() {
            reply.hidden = true;
        }
        reply
    }

    pub fn is_complete(&self) -> bool {
        self.response.body_end == BodyEnd::Complete
    }

    pub fn api_error(&self) -> Option<ApiError> {
        ApiError::deserialize(self.json.as_ref()?).ok()
    }

    pub fn resource(&self, operation: &Operation) -> Option<Resource> {
        let answer = &operation.answer;
        let member = self.json.as_ref()?.get(answer.resource_member)?;
        let fields = ResourceFields::deserialize(member).ok()?;
        let name = answer.name_paths.iter().find_map(|path| {
            path.split('.')
                .try_fold(member, |value, key| value.get(key))?
                .as_str()
                .map(str::to_owned)
        });
        Some(Resource {
            id: fields.id,
            name,
            status: fields.status,
        })
    }

    /// The value the API returned once, when it was read.
    pub fn one_time_secret(&self) -> Option<&str> {
        match &self.one_time {
            OneTime::Read(value) => Some(value),
            _ => None,
        }
    }

    /// The step output object (`execute`'s Ok): `{"statusCode", "headers", "body"}`; `body` is
    /// the JSON when the answer is JSON, else its text, and null when it is incomplete or
    /// hidden. Every secret is masked, anywhere in it, but for the one the workflow must be
    /// able to store: the one-time value, at its own place (`body.token.value`), and not even
    /// that with `ReturnedSecret::Omit`, where `omitted` says how to get a new one. Engines
    /// keep step outputs in their run history: an echo of the API token in a header or an id
    /// must not end up there.
    pub fn step_output(
        &self,
        operation: &Operation,
        returned: ReturnedSecret,
        secrets: &SecretSet,
    ) -> String {
        let one_time = operation
            .answer
            .one_time_secret
            .filter(|_| matches!(self.one_time, OneTime::Read(_)));
        let omitted = one_time
            .filter(|_| returned == ReturnedSecret::Omit)
            .map(|secret| {
                let id = self.resource(operation).and_then(|r| r.id);
                format!(
                    "body.{} is left out (returnedToken: omit); {}",
                    secret.path,
                    operation.say(secret.replace, id.as_deref())
                )
            });
        let mut output = self.output_value(omitted);
        let keep: Option<Vec<&str>> = one_time.map(|secret| {
            std::iter::once("body")
                .chain(secret.path.split('.'))
                .collect()
        });
        match (keep, returned) {
            (Some(path), ReturnedSecret::Include) => {
                mask_all_but(&mut output, &path, secrets);
            }
            (Some(path), ReturnedSecret::Omit) => {
                take_at(&mut output, &path);
                secrets.mask_json(&mut output);
            }
            (None, _) => secrets.mask_json(&mut output),
        }
        json_text(&output)
    }

    /// The step output with every secret masked (a failed step's `response`): as a JSON
    /// value, so that every string, key and number is masked (even the status, should a
    /// secret spell it).
    pub fn masked_step_output(&self, secrets: &SecretSet) -> String {
        let mut value = self.output_value(None);
        secrets.mask_json(&mut value);
        json_text(&value)
    }

    /// The step output object, unmasked.
    fn output_value(&self, omitted: Option<String>) -> Value {
        let output = StepOutput {
            status_code: self.response.status,
            headers: self.output_headers(),
            body: &self.output_body(),
            omitted,
        };
        serde_json::to_value(&output).unwrap_or_default()
    }

    fn output_headers(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        for (name, value) in &self.response.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            match headers.get_mut(name.as_str()) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                _ => {
                    headers.insert(name.to_string(), Value::String(value.into_owned()));
                }
            }
        }
        headers
    }

    fn output_body(&self) -> Cow<'_, Value> {
        match &self.json {
            _ if self.hidden => Cow::Owned(Value::Null),
            Some(json) => Cow::Borrowed(json),
            None if self.is_complete() => Cow::Owned(Value::String(self.text.clone().into_owned())),
            None => Cow::Owned(Value::Null),
        }
    }

    /// The editor's view: masked, at most `DISPLAY_LIMIT` of body, nothing of a body that
    /// broke off (it may end inside a secret) or that may hold a secret unread.
    pub fn view(&self, secrets: &SecretSet) -> ResponseView {
        let headers = self
            .response
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    secrets.mask_str(n.as_str()).into_owned(),
                    secrets
                        .mask_str(&String::from_utf8_lossy(v.as_bytes()))
                        .into_owned(),
                )
            })
            .collect();
        let over = self.response.body_end == BodyEnd::OverLimit;
        let (body, truncated) = match (&self.response.body_end, self.hidden) {
            (BodyEnd::Failed(_), _) | (_, true) => (String::new(), over),
            (BodyEnd::Complete, false) => shown(&secrets.mask_str(&self.text), false),
            (BodyEnd::OverLimit, false) => shown(&secrets.mask_cut_str(&self.text), true),
        };
        ResponseView {
            status: self.response.status,
            headers,
            body,
            truncated,
        }
    }

    /// The body's text is not shown (see `view`).
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }
}

/// At most `DISPLAY_LIMIT` of a masked body, and whether anything was left out.
fn shown(masked: &str, cut: bool) -> (String, bool) {
    let shown = cut_at_char_boundary(masked, DISPLAY_LIMIT);
    (shown.to_owned(), cut || shown.len() < masked.len())
}

#[derive(Serialize)]
struct StepOutput<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    headers: Map<String, Value>,
    body: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted: Option<String>,
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
    text.get(..end).unwrap_or_default()
}

/// Takes the value at `path` (object keys) out of `value`, if it is there.
fn take_at(value: &mut Value, path: &[&str]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let holder = parents
        .iter()
        .try_fold(value, |value, key| value.get_mut(*key))?;
    holder.as_object_mut()?.remove(*last)
}

/// Masks every secret in `value` but the value at `path`, which stays as it is, where it is.
/// Should a secret spell one of the keys on the way, that key is masked like every other, and
/// the value stays under the masked key: nothing of a secret is kept but the value itself.
pub fn mask_all_but(value: &mut Value, path: &[&str], secrets: &SecretSet) {
    // Null is never masked: it holds the place while the rest is.
    let kept = at_mut(value, path).map(std::mem::take);
    secrets.mask_json(value);
    let Some(kept) = kept else {
        return;
    };
    let masked: Vec<String> = path
        .iter()
        .map(|k| secrets.mask_str(k).into_owned())
        .collect();
    let masked: Vec<&str> = masked.iter().map(String::as_str).collect();
    if let Some(place) = at_mut(value, &masked) {
        *place = kept;
    }
}

/// The value at `path` (object keys) inside `value`.
fn at_mut<'v>(value: &'v mut Value, path: &[&str]) -> Option<&'v mut Value> {
    path.iter()
        .try_fold(value, |value, key| value.get_mut(*key))
}

/// The raw (still JSON-escaped) contents of every `"key": "..."` string in a text that may not
/// be valid JSON; an unterminated string runs to the end of the text.
fn string_values_of_key<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    let quoted_key = format!("\"{key}\"");
    let mut values = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&quoted_key) {
        rest = rest.get(at + quoted_key.len()..).unwrap_or_default();
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
        values.push(contents.get(..end).unwrap_or_default());
        rest = contents.get(end..).unwrap_or_default();
    }
    values
}

/// The JSON string contents `raw` decoded, or what decodes of it when it is cut off inside an
/// escape (`\u00`); None when nothing of it decodes.
fn json_unescape(raw: &str) -> Option<String> {
    // The longest escape is a surrogate pair, `\ud83d\ude00`: 12 bytes.
    let cuts = raw.char_indices().rev().take(12).map(|(i, _)| i);
    std::iter::once(raw.len()).chain(cuts).find_map(|end| {
        match serde_json::from_str(&format!("\"{}\"", raw.get(..end)?)) {
            Ok(Value::String(decoded)) => Some(decoded),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use crate::testkit::{RETURNED_TOKEN, accepted, accepted_body, answer, broken, headers};
    use crate::transport::TransportErrorKind;

    fn read(response: &WireResponse) -> (Reply<'_>, SecretSet) {
        let mut secrets = SecretSet::new();
        let reply = Reply::new(&OP, response, &mut secrets);
        (reply, secrets)
    }

    #[test]
    fn reads_a_created_resource_and_its_one_time_token() {
        let mut r = accepted();
        r.headers.append("set-cookie", "a=1".parse().unwrap());
        r.headers.append("set-cookie", "b=2".parse().unwrap());
        let (reply, secrets) = read(&r);
        assert_eq!(
            reply.resource(&OP),
            Some(Resource {
                id: Some("6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d".into()),
                // From spec.name: the API's model has no top-level name.
                name: Some("support-llm".into()),
                status: Some("provisioning".into())
            })
        );
        assert_eq!(reply.one_time_secret(), Some(RETURNED_TOKEN));
        let view = reply.view(&secrets);
        assert!(!view.body.contains(RETURNED_TOKEN) && view.body.contains("••••••••"));
        let output: Value =
            serde_json::from_str(&reply.step_output(&OP, ReturnedSecret::Include, &secrets))
                .unwrap();
        assert_eq!(output["statusCode"], 202);
        assert_eq!(output["headers"]["set-cookie"], "a=1, b=2");
        assert_eq!(output["body"]["token"]["value"], RETURNED_TOKEN);
    }

    #[test]
    fn the_step_output_masks_every_echoed_secret_but_the_returned_token_in_its_place() {
        // An API (or a proxy) that echoes the request's secrets into a 202: in an id, another
        // field, a header value and a header name, and the returned token a second time.
        let api_token = "dop_v1_echoedapitoken0123456789";
        let hf_token = "hf_echoedGatedModelToken";
        let mut body = accepted_body(RETURNED_TOKEN);
        body["dedicated_inference"]["id"] = format!("id-{api_token}").into();
        body["dedicated_inference"]["note"] = format!("{hf_token} and {RETURNED_TOKEN}").into();
        let text = body.to_string();
        let echo_name = format!("x-{}", &hf_token.to_ascii_lowercase());
        let r = answer(
            202,
            &[
                ("x-echo", &format!("Bearer {api_token}")),
                (&echo_name, "1"),
            ],
            text.as_bytes(),
        );
        let mut secrets = SecretSet::new();
        secrets.add(api_token).unwrap();
        secrets.add(hf_token).unwrap();
        let reply = Reply::new(&OP, &r, &mut secrets);
        for returned in [ReturnedSecret::Include, ReturnedSecret::Omit] {
            let output = reply.step_output(&OP, returned, &secrets);
            let parsed: Value = serde_json::from_str(&output).unwrap();
            let expected_token = match returned {
                ReturnedSecret::Include => Value::from(RETURNED_TOKEN),
                ReturnedSecret::Omit => Value::Null,
            };
            assert_eq!(parsed["body"]["token"]["value"], expected_token);
            assert!(
                !output.contains(api_token) && !output.contains(hf_token),
                "{output}"
            );
            let without_kept = output.replacen(RETURNED_TOKEN, "", 1);
            assert!(!without_kept.contains(RETURNED_TOKEN), "{output}");
            assert_eq!(parsed["headers"]["x-echo"], "Bearer ••••••••");
            assert_eq!(parsed["body"]["dedicated_inference"]["id"], "id-••••••••");
            assert_eq!(parsed["statusCode"], 202);
        }
    }

    #[test]
    fn the_kept_value_stays_in_its_place_even_when_a_secret_spells_a_key() {
        let mut secrets = SecretSet::new();
        secrets.add("token").unwrap();
        let mut value = serde_json::json!({"body": {"token": {"value": "dit_x", "id": "token-1"}}});
        mask_all_but(&mut value, &["body", "token", "value"], &secrets);
        assert_eq!(
            value,
            serde_json::json!({"body": {"••••••••": {"value": "dit_x", "id": "••••••••-1"}}})
        );
    }

    #[test]
    fn the_top_level_name_is_a_fallback() {
        let body = serde_json::json!({"dedicated_inference": {"id": "i", "name": "top"}});
        let r = answer(202, &[], body.to_string().as_bytes());
        let (reply, _) = read(&r);
        assert_eq!(reply.resource(&OP).unwrap().name.as_deref(), Some("top"));
    }

    #[test]
    fn omit_leaves_the_token_value_out_and_says_where_to_mint_one() {
        let r = accepted();
        let (reply, secrets) = read(&r);
        let output: Value =
            serde_json::from_str(&reply.step_output(&OP, ReturnedSecret::Omit, &secrets)).unwrap();
        assert!(output["body"]["token"].get("value").is_none(), "{output}");
        assert_eq!(output["body"]["token"]["id"], "tok-1");
        let omitted = output["omitted"].as_str().unwrap();
        assert!(
            omitted.contains(
                "POST /v2/dedicated-inferences/6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d/tokens"
            ),
            "{omitted}"
        );
        assert!(!output.to_string().contains(RETURNED_TOKEN));
    }

    #[test]
    fn reads_the_api_error_shape() {
        let r = answer(
            401,
            &[],
            br#"{"id":"unauthorized","message":"Unable to authenticate you","request_id":"r-1"}"#,
        );
        let (reply, _) = read(&r);
        assert_eq!(
            reply.api_error(),
            Some(ApiError {
                id: Some("unauthorized".into()),
                message: "Unable to authenticate you".into(),
                request_id: Some("r-1".into())
            })
        );
        // Odd types in optional fields do not make the message unreadable.
        let odd = answer(500, &[], br#"{"id":5,"message":"boom","request_id":null}"#);
        assert_eq!(read(&odd).0.api_error().unwrap().message, "boom");
    }

    #[test]
    fn text_bodies_stay_text() {
        let r = answer(502, &[], b"<html>Bad gateway</html>");
        let (reply, secrets) = read(&r);
        assert!(reply.json.is_none() && reply.api_error().is_none());
        let output: Value =
            serde_json::from_str(&reply.step_output(&OP, ReturnedSecret::Include, &secrets))
                .unwrap();
        assert_eq!(output["body"], "<html>Bad gateway</html>");
    }

    #[test]
    fn a_byte_order_mark_does_not_lose_the_token() {
        let mut body = "\u{feff}".as_bytes().to_vec();
        body.extend(accepted_body(RETURNED_TOKEN).to_string().as_bytes());
        let r = answer(202, &[], &body);
        let (reply, secrets) = read(&r);
        assert_eq!(reply.one_time_secret(), Some(RETURNED_TOKEN));
        assert!(!reply.view(&secrets).body.contains(RETURNED_TOKEN));
    }

    #[test]
    fn a_token_that_cannot_be_read_is_said_so_and_never_shown() {
        // Not a string: its parts are masked, nothing is revealed.
        let mut body = accepted_body("x");
        body["token"]["value"] = serde_json::json!({"secret": "dit_in_an_object"});
        let r = answer(202, &[], body.to_string().as_bytes());
        let (reply, secrets) = read(&r);
        assert!(matches!(&reply.one_time, OneTime::Unreadable(why) if why.contains("an object")));
        assert!(!reply.view(&secrets).body.contains("dit_in_an_object"));
        // gzip: the body may hold the token, unreadable: not shown at all.
        let gzip = answer(
            202,
            &[("content-encoding", "gzip")],
            b"\x1f\x8b dit_compressed",
        );
        let (reply, secrets) = read(&gzip);
        assert!(matches!(&reply.one_time, OneTime::Unreadable(why) if why.contains("gzip")));
        assert_eq!(reply.view(&secrets).body, "");
        assert!(
            !reply
                .masked_step_output(&secrets)
                .contains("dit_compressed")
        );
        // Longer than any token: not registered, so not shown either.
        let long = accepted_body(&"t".repeat(10_000));
        let r = answer(202, &[], long.to_string().as_bytes());
        let (reply, secrets) = read(&r);
        assert!(matches!(&reply.one_time, OneTime::Unreadable(_)));
        assert_eq!(reply.view(&secrets).body, "");
        assert!(!reply.masked_step_output(&secrets).contains("tttt"));
    }

    #[test]
    fn a_token_spelled_with_escapes_is_still_masked() {
        // Every character of a string may be an escape; the fuzzer wrote the token this way.
        let escaped = accepted_body("dit_secret/value")
            .to_string()
            .replace("dit_secret/value", r"\u0064it_secret\/value");
        let r = answer(202, &[], escaped.as_bytes());
        let (reply, secrets) = read(&r);
        assert_eq!(reply.one_time_secret(), Some("dit_secret/value"));
        let view = reply.view(&secrets);
        // Masked where it is, spelled as it was; the rest byte for byte.
        assert!(!view.body.contains("it_secret"), "{}", view.body);
        assert_eq!(
            view.body,
            escaped.replace(r"\u0064it_secret\/value", "••••••••")
        );
    }

    #[test]
    fn a_token_in_a_broken_body_is_still_masked() {
        // Invalid UTF-8 elsewhere in the body: the lossy text still parses.
        let mut body = accepted_body("dit_secret_value").to_string().into_bytes();
        body.splice(30..30, [0xff, 0xfe]);
        let r = answer(202, &[], &body);
        let (reply, secrets) = read(&r);
        assert!(!reply.view(&secrets).body.contains("dit_secret"));

        // Cut inside the token, not JSON at all: the token cannot be read, so the body is
        // not shown, but what the scan found is masked everywhere else.
        let text = accepted_body("dit_secret_value").to_string();
        let mut r = answer(202, &[], &text.as_bytes()[..text.find("_value").unwrap()]);
        r.body_end = BodyEnd::OverLimit;
        let (reply, secrets) = read(&r);
        let view = reply.view(&secrets);
        assert!(view.truncated && view.body.is_empty(), "{}", view.body);
        assert!(matches!(reply.one_time, OneTime::Unreadable(_)));
        assert_eq!(secrets.mask_str("dit_secret"), "••••••••");
    }

    #[test]
    fn a_body_that_broke_off_is_not_shown() {
        let r = broken(accepted(), 20, TransportErrorKind::Connection);
        let (reply, secrets) = read(&r);
        assert_eq!(reply.view(&secrets).body, "");
        let output: Value = serde_json::from_str(&reply.masked_step_output(&secrets)).unwrap();
        assert_eq!(output["body"], Value::Null);
    }

    #[test]
    fn display_limit_cuts_on_a_character_boundary() {
        let big = "é".repeat(DISPLAY_LIMIT);
        let r = answer(200, &[], big.as_bytes());
        let (reply, secrets) = read(&r);
        let view = reply.view(&secrets);
        assert!(
            view.truncated
                && view.body.len() <= DISPLAY_LIMIT
                && view.body.len() >= DISPLAY_LIMIT - 1
        );
        assert_eq!(cut_at_char_boundary("abc", 10), "abc");
    }

    #[test]
    fn header_names_and_values_are_masked() {
        let mut r = answer(401, &[], b"");
        r.headers = headers(&[("x-dop_v1_echoed", "dop_v1_echoed")]);
        let mut secrets = SecretSet::new();
        // A secret with capitals: header names arrive lower-cased.
        secrets.add("DOP_V1_ECHOED").unwrap();
        let reply = Reply::new(&OP, &r, &mut secrets);
        let view = reply.view(&secrets);
        assert_eq!(view.headers, vec![("x-••••••••".into(), "••••••••".into())]);
    }

    #[test]
    fn a_token_in_a_broken_body_is_masked_decoded_too() {
        // Found by tests/properties.rs: the scan registered only the escaped spelling.
        for body in [
            r#"{"token":{"value":"a\"b\u00e9"},"x":"#,
            r#"{"token":{"value":"a\"b\u00e9\u00"#,
        ] {
            let mut r = answer(202, &[], body.as_bytes());
            r.body_end = BodyEnd::OverLimit;
            let (_, secrets) = read(&r);
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
        let mut r = answer(400, &[], br#"{"message":"bad token dop_v1_abc"#);
        r.body_end = BodyEnd::OverLimit;
        let mut secrets = SecretSet::new();
        secrets.add("dop_v1_abcdef").unwrap();
        let reply = Reply::new(&OP, &r, &mut secrets);
        assert_eq!(
            reply.view(&secrets).body,
            r#"{"message":"bad token ••••••••"#
        );
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
