//! Body validation on any bytes: valid JSON or not, nested as deep as the input allows.
//!
//! The bytes go (1) straight to `validate::validate_body` when they parse as JSON, and (2) into
//! the fixture definition as its `httpRequest.body` text, through `render_request` and
//! `task::render`, so that the definition parser's limits are fuzzed too.
//!
//! Invariants: diagnostics stay bounded and under the body's path; a body that is not an object
//! is an error; a body without `$` (so without placeholders) is sent exactly as written; the
//! preview shows no secret.

use do_dedicated_inference_task::diagnostic::{Diagnostics, MAX_DIAGNOSTICS};
use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::{TaskInput, render_request};
use do_dedicated_inference_task::secrets::SecretSet;
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::validate::validate_body;
use serde_json::Value;

use crate::{
    API_TOKEN, FIXTURE_DEFINITION, FIXTURE_PARAMETERS, assert_diagnostics_hidden,
    assert_preview_hidden, body_secrets, parse_output,
};

const PREFIX: &str = "httpRequest.body";
/// Stands for the body in the serialized fixture definition, then replaced by the input.
const MARKER: &str = "\"<fuzzed body>\"";

/// The target: one input. Every input is checked, so it returns true.
pub fn run(data: &[u8]) -> bool {
    let parsed = serde_json::from_slice::<Value>(data).ok();
    if let Some(body) = &parsed {
        validate_directly(body);
    }
    validate_through_render(data, parsed.as_ref());
    true
}

fn validate_directly(body: &Value) {
    let mut diagnostics = Diagnostics::new();
    let mut secrets = SecretSet::new();
    validate_body(&OP, body, PREFIX, &mut diagnostics, &mut secrets);
    // Every value under a secret field, however deep, is masked: unless one was refused as
    // too long to mask, which is an error that blocks sending.
    if !diagnostics.has_errors() {
        for secret in body_secrets(&OP, body) {
            assert!(
                secret.is_empty() || !secrets.mask_str(&secret).contains(&secret),
                "the body secret {secret:?} is not masked"
            );
        }
    }
    if !body.is_object() {
        assert!(diagnostics.has_errors(), "a non-object body passed");
    }
    let list = diagnostics.to_vec();
    // The kept ones, plus one line that counts the rest.
    assert!(
        list.len() <= MAX_DIAGNOSTICS + 1,
        "{} diagnostics",
        list.len()
    );
    for d in &list {
        assert!(
            d.path.starts_with(PREFIX) || (d.path.is_empty() && d.message.contains("more")),
            "diagnostic outside the body: {d}"
        );
    }
}

fn validate_through_render(data: &[u8], parsed: Option<&Value>) {
    let mut definition: Value = serde_json::from_str(FIXTURE_DEFINITION).unwrap();
    definition["httpRequest"]["body"] = serde_json::from_str(MARKER).unwrap();
    let definition = definition
        .to_string()
        .replacen(MARKER, &String::from_utf8_lossy(data), 1);
    let input = TaskInput {
        definition,
        parameters: FIXTURE_PARAMETERS.into(),
        secrets: vec![("token".into(), API_TOKEN.into())],
    };
    let rendering = render_request(&OP, &input);
    let result = task::render(&OP, &input);
    assert_eq!(result.is_ok(), rendering.sendable().is_some());

    let mut secrets = vec![API_TOKEN.to_string()];
    let sent = rendering
        .request
        .as_ref()
        .map(|request| parse_output(&request.body));
    if let Some(sent) = &sent {
        secrets.extend(body_secrets(&OP, sent));
    }
    match result {
        Ok(preview) => {
            let sent = sent.expect("sendable");
            assert!(sent.is_object(), "sent a body that is not an object");
            if let Some(written) = parsed.filter(|_| !data.contains(&b'$')) {
                assert_eq!(&sent, written, "a body without placeholders changed");
            }
            assert_preview_hidden(&secrets, &preview);
        }
        Err(diagnostics) => assert_diagnostics_hidden(&secrets, &diagnostics),
    }
}
