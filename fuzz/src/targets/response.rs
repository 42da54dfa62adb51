//! Any answer (status, headers, body bytes, how the body ended, or no answer at all) through a
//! scripted transport into both `task::test_request` and `task::execute`, with the fixture's
//! request, `ifExists: fail` (one exchange).
//!
//! Invariants: exactly one send per call; `execute` is Ok exactly for a complete 2xx; no secret
//! (the API token, the Hugging Face token, the `token.value` the API returns) shows in the
//! editor's result (summary, diagnostics, request and response views) or in a step failure.
//! The returned token may only be in `revealed_secrets` and in `execute`'s Ok output.

use arbitrary::{Arbitrary, Unstructured};
use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::testkit::{ScriptedTransport, now};
use do_dedicated_inference_task::transport::{
    BodyEnd, Delivery, TransportError, TransportErrorKind, WireResponse,
};
use serde_json::{Value, json};

use crate::{
    API_TOKEN, FIXTURE_DEFINITION, FIXTURE_PARAMETERS, FuzzValue, assert_diagnostics_hidden,
    assert_hidden, assert_preview_hidden, leaves, parse_output,
};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    status: u16,
    headers: Vec<(&'a [u8], &'a [u8])>,
    end: End,
    /// For a body that did not end normally: how many of its bytes arrived.
    cut: u32,
    body: Body<'a>,
}

#[derive(Arbitrary, Debug)]
enum End {
    Complete,
    OverLimit,
    Failed(Kind),
    /// No answer: the transport failed before any status.
    NoAnswer(Kind),
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Kind {
    Timeout,
    Connection,
    Protocol,
    NotSent,
}

#[derive(Arbitrary, Debug)]
enum Body<'a> {
    /// Any bytes, invalid UTF-8 included.
    Raw(&'a [u8]),
    /// The API's success shape around a fuzzed token and resource.
    Created {
        token: String,
        resource: FuzzValue,
        extra: FuzzValue,
    },
    /// The API's error shape, its message echoing the request's secrets.
    Error { id: String, message: String },
    /// A token under `depth` levels of arrays (deeper than the JSON parser's limit, too).
    Nested { depth: u8, token: String },
}

impl Body<'_> {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Raw(bytes) => bytes.to_vec(),
            Body::Created {
                token,
                resource,
                extra,
            } => json!({
                "dedicated_inference": resource.to_json(),
                "token": {"id": "tok-1", "value": token},
                "links": extra.to_json(),
            })
            .to_string()
            .into_bytes(),
            Body::Error { id, message } => json!({
                "id": id,
                "message": format!("{message} {API_TOKEN} {}", hugging_face_token()),
                "request_id": "req-1",
            })
            .to_string()
            .into_bytes(),
            Body::Nested { depth, token } => {
                let depth = usize::from(*depth);
                let token = json!({"token": {"value": token}});
                format!("{}{token}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
            }
        }
    }
}

impl Kind {
    fn error(self) -> TransportError {
        let kind = match self {
            Kind::Timeout => TransportErrorKind::Timeout,
            Kind::Connection => TransportErrorKind::Connection,
            Kind::Protocol => TransportErrorKind::Protocol,
            Kind::NotSent => TransportErrorKind::NotSent,
        };
        TransportError::new(kind, Delivery::MaybeDelivered, "it broke")
    }
}

fn hugging_face_token() -> String {
    let parameters: Value = serde_json::from_str(FIXTURE_PARAMETERS).unwrap();
    parameters["huggingFaceToken"].as_str().unwrap().to_string()
}

/// The target: one input. Returns whether it was checked (false: the bytes make no `Input`).
/// The bytes become an `Input` as libfuzzer-sys's `fuzz_target!(|input: Input| ...)` makes
/// them: too few for `Input`'s size hint, or an `Arbitrary` error, is no input.
pub fn run(data: &[u8]) -> bool {
    if data.len() < Input::size_hint(0).0 {
        return false;
    }
    match Input::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(input) => {
            check(input);
            true
        }
        Err(_) => false,
    }
}

fn check(input: Input) {
    let full_body = input.body.bytes();
    let answer = answer(&input, full_body.clone());
    let complete = matches!(&answer, Ok(r) if r.body_end == BodyEnd::Complete);
    let complete_2xx = complete && matches!(&answer, Ok(r) if (200..300).contains(&r.status));
    let status = answer.as_ref().map_or(0, |r| r.status);

    let mut secrets = vec![API_TOKEN.to_string(), hugging_face_token()];
    let returned = answer
        .as_ref()
        .ok()
        .and_then(|r| returned_token(r, &full_body));
    secrets.extend(returned.iter().cloned());

    // One exchange: `ifExists: fail` (adopt's follow-up requests are tests/adopt.rs's).
    let mut definition: Value =
        serde_json::from_str(FIXTURE_DEFINITION).expect("the fixture is JSON");
    definition["ifExists"] = json!("fail");
    let task_input = TaskInput {
        definition: definition.to_string(),
        parameters: FIXTURE_PARAMETERS.into(),
        secrets: vec![("token".into(), API_TOKEN.into())],
    };
    let mut transport = ScriptedTransport::answering(answer);

    let result = task::test_request(&OP, &task_input, &mut transport, now());
    assert_eq!(transport.sent.len(), 1, "test_request sends exactly once");
    assert_hidden(&secrets, "the summary", &result.summary);
    assert_diagnostics_hidden(&secrets, &result.diagnostics);
    if let Some(preview) = &result.request {
        assert_preview_hidden(&secrets, preview);
    }
    if let Some(view) = &result.response {
        for (name, value) in &view.headers {
            assert_hidden(&secrets, "a response header name", name);
            assert_hidden(&secrets, &format!("the response header {name}"), value);
        }
        assert_hidden(&secrets, "the response body", &view.body);
        // A JSON body may spell a secret with escapes (`\u0061`, `\/`): its decoded strings
        // must not hold one either.
        if let Ok(shown) = serde_json::from_str::<Value>(&view.body) {
            let mut texts = Vec::new();
            leaves(&shown, &mut texts);
            for text in &texts {
                assert_hidden(&secrets, "the response body's JSON strings", text);
            }
        }
    }
    for (_, value) in &result.revealed_secrets {
        assert!(complete, "revealed a secret from an incomplete body");
        assert_eq!(Some(value), returned.as_ref(), "revealed something else");
    }

    let outcome = task::execute(&OP, &task_input, &mut transport, now());
    assert_eq!(transport.sent.len(), 2, "execute sends exactly once");
    // Ok only for a complete 2xx; every complete 2xx but a 202 (whose one-time token may be
    // unreadable, which fails the step: see outcome.rs) is Ok.
    assert!(outcome.is_err() || complete_2xx, "{outcome:?}");
    if complete_2xx && status != 202 {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    if let Ok(output) = &outcome {
        let output = parse_output(output);
        // The status is a number at `statusCode`, unless a secret spells part of it or of
        // its key: the step output is masked like everything else, in every form a secret is
        // masked in (a one-character returned token "2" masks 202, "s" the key).
        let spelled = secrets.iter().any(|secret| {
            let t = secret.trim();
            let forms = [t.to_string(), t.to_ascii_lowercase()];
            !t.is_empty()
                && forms.iter().any(|f| {
                    status.to_string().contains(f.as_str()) || "statusCode".contains(f.as_str())
                })
        });
        assert!(
            output["statusCode"].is_u64() || spelled,
            "an output without its status: {output}"
        );
    }
    if let Err(failure) = outcome {
        assert_hidden(&secrets, "the failure message", &failure.message);
        assert_diagnostics_hidden(&secrets, &failure.diagnostics);
        if let Some(response) = &failure.response {
            // The step output object: check what it says, not how JSON spells its structure
            // (a secret `{` or `null` is in any such text).
            let output = parse_output(response);
            assert_output_hidden(&secrets, &output);
        }
    }
}

/// The scripted answer: the body cut at `cut` unless it ended normally.
fn answer(input: &Input, mut body: Vec<u8>) -> Result<WireResponse, TransportError> {
    let body_end = match input.end {
        End::Complete => BodyEnd::Complete,
        End::OverLimit => BodyEnd::OverLimit,
        End::Failed(kind) => BodyEnd::Failed(kind.error()),
        End::NoAnswer(kind) => return Err(kind.error()),
    };
    if body_end != BodyEnd::Complete {
        body.truncate(input.cut as usize);
    }
    Ok(WireResponse {
        status: input.status,
        // The transport's contract: valid header fields (a host hands over no others).
        headers: input
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    http::HeaderName::from_bytes(name).ok()?,
                    http::HeaderValue::from_bytes(value).ok()?,
                ))
            })
            .collect(),
        body,
        body_end,
    })
}

/// The `token.value` that the answer delivered, if any. A complete body delivers it when it is
/// JSON (read as the task reads it: lossy UTF-8). A body that broke off or went over the bound
/// is not JSON any more: it delivered the whole body's token when the text that arrived holds
/// it whole after a `"value":` key, as the API writes it (the task scans for that key); a
/// token cut short, or never reached, was not delivered (and a string that merely equals it
/// elsewhere in the text is not a secret).
fn returned_token(response: &WireResponse, full_body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_str(&String::from_utf8_lossy(full_body)).ok()?;
    let token = json
        .pointer("/token/value")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    if response.body_end == BodyEnd::Complete {
        return Some(token.to_owned());
    }
    let spelled = format!("\"value\":{}", Value::from(token));
    String::from_utf8_lossy(&response.body)
        .contains(&spelled)
        .then(|| token.to_owned())
}

/// Every key, string and number of the step output.
fn assert_output_hidden(secrets: &[String], output: &Value) {
    let mut texts = Vec::new();
    leaves(output, &mut texts);
    collect_keys(output, &mut texts);
    for text in &texts {
        assert_hidden(secrets, "the failure's response", text);
    }
}

fn collect_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        Value::Object(members) => {
            for (key, v) in members {
                out.push(key.clone());
                collect_keys(v, out);
            }
        }
        _ => {}
    }
}
