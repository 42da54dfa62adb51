//! `task::render` (render + validate) on any definition and parameters.
//!
//! Input: the first byte picks the form, the rest is either
//! - raw: definition, parameters and secret values as text parts joined by 0xFF bytes, or
//! - structured: the fixture definition and parameters with fuzzed parameter values, the
//!   Hugging Face token optionally also echoed into the URL's query and a header.
//!
//! Invariants: `render` is Ok exactly when the rendering is sendable; when it is, the URL's
//! scheme, host and port are the definition's (parameters fill only the path and query) and no
//! secret (the input's, or a value under a secret body field) shows in the preview; when it is
//! not, the diagnostics are not empty and show no secret either.

use std::borrow::Cow;

use arbitrary::{Arbitrary, Unstructured};
use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::{TaskInput, render_request};
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::url::{Scheme, TargetUrl};
use serde_json::{Value, json};

use crate::{
    API_TOKEN, FIXTURE_DEFINITION, FIXTURE_PARAMETERS, FuzzValue, assert_diagnostics_hidden,
    assert_preview_hidden, assert_url_decoded_hidden, body_secrets, parse_output, split_parts,
};

/// The target: one input. Returns whether it was checked (false: empty, or a structured form
/// whose bytes make no `FixtureEdit`).
pub fn run(data: &[u8]) -> bool {
    let Some((&form, rest)) = data.split_first() else {
        return false;
    };
    if form % 2 == 0 {
        check(&raw_input(rest), false);
    } else if let Ok(edit) = FixtureEdit::arbitrary_take_rest(Unstructured::new(rest)) {
        check(&edit.input(), true);
    } else {
        return false;
    }
    true
}

/// `definition 0xFF parameters 0xFF token 0xFF other secret ...`
fn raw_input(data: &[u8]) -> TaskInput {
    let mut parts = split_parts(data).into_iter().map(Cow::into_owned);
    let definition = parts.next().unwrap_or_default();
    let parameters = parts.next().unwrap_or_default();
    let secrets = parts
        .enumerate()
        .map(|(i, value)| {
            let name = if i == 0 {
                "token".to_string()
            } else {
                format!("secret{i}")
            };
            (name, value)
        })
        .collect();
    TaskInput {
        definition,
        parameters,
        secrets,
    }
}

/// The fixture's parameters, as JSON pointers, that a structured input may replace.
const PARAMETERS: &[&str] = &[
    "/name",
    "/region",
    "/vpcUuid",
    "/publicEndpoint",
    "/model/slug",
    "/model/scale",
    "/model/gpu",
    "/huggingFaceToken",
];

#[derive(Arbitrary, Debug)]
struct FixtureEdit {
    api_token: Option<String>,
    hugging_face_token: String,
    /// Also send the Hugging Face token as `?tag=` and `X-Tag` (a definition may well do so).
    token_in_url: bool,
    token_in_header: bool,
    /// A parameter inserted as a URL path segment right after the host.
    path_segment: Option<String>,
    /// Replacements for `PARAMETERS` (index modulo its length).
    values: Vec<(u8, FuzzValue)>,
}

impl FixtureEdit {
    fn input(&self) -> TaskInput {
        let mut definition: Value = serde_json::from_str(FIXTURE_DEFINITION).unwrap();
        let mut parameters: Value = serde_json::from_str(FIXTURE_PARAMETERS).unwrap();
        let request = &mut definition["httpRequest"];
        let mut url = request["url"].as_str().unwrap().to_string();
        if let Some(segment) = &self.path_segment {
            url = url.replacen(".com/", ".com/${$.segment}/", 1);
            parameters["segment"] = json!(segment);
        }
        if self.token_in_url {
            url.push_str("?tag=${$.huggingFaceToken}");
        }
        request["url"] = json!(url);
        if self.token_in_header {
            request["headers"]["X-Tag"] = json!("${$.huggingFaceToken}");
        }
        parameters["huggingFaceToken"] = json!(self.hugging_face_token);
        for (index, value) in &self.values {
            let pointer = PARAMETERS[usize::from(*index) % PARAMETERS.len()];
            if let Some(slot) = parameters.pointer_mut(pointer) {
                *slot = value.to_json();
            }
        }
        TaskInput {
            definition: definition.to_string(),
            parameters: parameters.to_string(),
            secrets: vec![(
                "token".into(),
                self.api_token.clone().unwrap_or_else(|| API_TOKEN.into()),
            )],
        }
    }
}

/// `structured`: the definition's URL is the fixture's, whose literal text has no `%` escapes.
fn check(input: &TaskInput, structured: bool) {
    let rendering = render_request(&OP, input);
    let result = task::render(&OP, input);
    assert_eq!(result.is_ok(), rendering.sendable().is_some());

    let mut secrets: Vec<String> = input.secrets.iter().map(|(_, v)| v.clone()).collect();
    if let Some(request) = &rendering.request {
        let body = parse_output(&request.body);
        secrets.extend(body_secrets(&OP, &body));
    }
    match result {
        Ok(preview) => {
            let request = rendering.request.as_ref().expect("sendable");
            assert_target_is_the_definitions(&input.definition, &request.url);
            assert_preview_hidden(&secrets, &preview);
            if structured {
                assert_url_decoded_hidden(&secrets, &preview);
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "an Err without a diagnostic");
            assert_diagnostics_hidden(&secrets, &diagnostics);
        }
    }
}

/// The scheme, host and port come from the definition's `httpRequest.url` text alone.
fn assert_target_is_the_definitions(definition: &str, url: &TargetUrl) {
    let definition: Value = serde_json::from_str(definition).expect("a rendered definition");
    let template = definition["httpRequest"]["url"]
        .as_str()
        .expect("a rendered URL is a string")
        .trim();
    let (scheme, rest) = template.split_once("://").expect("an absolute URL");
    let expected_scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => panic!("rendered a URL with scheme {other:?}"),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // `[v6]:port` or `host:port`; the port is optional.
    let (host, port) = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => {
            (&authority[..colon], Some(&authority[colon + 1..]))
        }
        _ => (authority, None),
    };
    assert_eq!(url.scheme, expected_scheme, "scheme of {template:?}");
    assert!(
        url.host.eq_ignore_ascii_case(host),
        "host {:?} rendered from {template:?}",
        url.host
    );
    assert_eq!(
        url.port,
        port.map(|p| p.parse::<u16>().expect("a rendered port is a number")),
        "port of {template:?}"
    );
}
