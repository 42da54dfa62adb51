//! What the native tests, the property tests, the benchmarks and the fuzz targets share: a
//! scripted transport that records what it is asked to send, a fixed clock, the fixture
//! inputs, and builders for the API's answers. Compiled for the crate's own tests and with the
//! `testkit` feature (the integration tests and `fuzz/` turn it on); never in the component.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::operation::{CREATE_DEDICATED_INFERENCE, Operation};
use crate::request::TaskInput;
use crate::response::BODY_LIMIT;
use crate::transport::{
    BodyEnd, Delivery, Transport, TransportError, TransportErrorKind, WireRequest, WireResponse,
};

/// The API token the kit's inputs carry as the `token` secret.
pub const API_TOKEN: &str = "dop_v1_a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
/// The token the kit's 202 answers return once.
pub const RETURNED_TOKEN: &str = "dit_0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The fixture's Hugging Face token (fixtures/parameters.json).
pub const HF_TOKEN: &str = "hf_standinGatedModelToken0123456789";

/// A fixed instant, so that `Retry-After` dates are judged the same way on every run.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// One scripted answer: what `send` returns.
pub type Answer = Result<WireResponse, TransportError>;

/// A transport that answers from a script and records every request it is asked to send.
pub struct ScriptedTransport {
    script: VecDeque<Answer>,
    /// Answers every request once the script is used up.
    then: Answer,
    pub sent: Vec<WireRequest>,
}

impl ScriptedTransport {
    /// Answers every request with `answer`.
    pub fn answering(answer: Answer) -> Self {
        Self::scripted(Vec::new(), answer)
    }

    /// Answers with `script` in order, then with `then`.
    pub fn scripted(script: Vec<Answer>, then: Answer) -> Self {
        ScriptedTransport {
            script: script.into(),
            then,
            sent: Vec::new(),
        }
    }
}

impl Transport for ScriptedTransport {
    fn send(&mut self, request: &WireRequest, body_limit: usize) -> Answer {
        assert_eq!(body_limit, BODY_LIMIT, "the task reads at most BODY_LIMIT");
        self.sent.push(request.clone());
        self.script.pop_front().unwrap_or_else(|| self.then.clone())
    }
}

/// A transport whose answer is computed from the request it is sent (an echoing server).
pub struct Replying<F>(pub F);

impl<F: FnMut(&WireRequest) -> Answer> Transport for Replying<F> {
    fn send(&mut self, request: &WireRequest, body_limit: usize) -> Answer {
        assert_eq!(body_limit, BODY_LIMIT, "the task reads at most BODY_LIMIT");
        (self.0)(request)
    }
}

/// A header map from (name, value) pairs.
pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| {
            (
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

/// A complete answer.
pub fn answer(status: u16, header_pairs: &[(&str, &str)], body: &[u8]) -> WireResponse {
    WireResponse {
        status,
        headers: headers(header_pairs),
        body: body.to_vec(),
        body_end: BodyEnd::Complete,
    }
}

/// The body of a 202 as the API describes it, with `token` as the one-time value.
pub fn accepted_body(token: &str) -> Value {
    json!({
        "dedicated_inference": {
            "id": "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d",
            "region": "tor1",
            "status": "provisioning",
            "spec": {"name": "support-llm", "version": 1},
        },
        "token": {"id": "tok-1", "name": "support-llm-token", "is_managed": true, "value": token}
    })
}

/// A 202 with `accepted_body(RETURNED_TOKEN)`.
pub fn accepted() -> WireResponse {
    answer(
        202,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("ratelimit-remaining", "4999"),
        ],
        accepted_body(RETURNED_TOKEN).to_string().as_bytes(),
    )
}

/// An answer in the API's error shape, `{"id", "message", "request_id"}`.
pub fn api_error(status: u16, id: &str, message: &str, extra: &[(&str, &str)]) -> WireResponse {
    let body = json!({"id": id, "message": message, "request_id": "req-1"}).to_string();
    let mut pairs = vec![("content-type", "application/json")];
    pairs.extend_from_slice(extra);
    answer(status, &pairs, body.as_bytes())
}

/// A transport failure.
pub fn failure(kind: TransportErrorKind, delivery: Delivery, detail: &str) -> Answer {
    Err(TransportError::new(kind, delivery, detail))
}

/// `response` whose body broke off after `keep` bytes.
pub fn broken(mut response: WireResponse, keep: usize, kind: TransportErrorKind) -> WireResponse {
    response.body.truncate(keep);
    response.body_end = BodyEnd::Failed(TransportError::new(
        kind,
        Delivery::MaybeDelivered,
        "the connection was reset",
    ));
    response
}

/// The fixture definition and parameters, with the kit's API token.
pub fn fixture_input() -> TaskInput {
    input_for(&CREATE_DEDICATED_INFERENCE, |_, _| {})
}

/// `operation`'s ready definition and example parameters, edited, with the kit's token.
pub fn input_for(operation: &Operation, edit: impl FnOnce(&mut Value, &mut Value)) -> TaskInput {
    let mut definition: Value = serde_json::from_str(operation.default_definition).unwrap();
    let mut parameters: Value = serde_json::from_str(operation.example_parameters).unwrap();
    edit(&mut definition, &mut parameters);
    TaskInput {
        definition: definition.to_string(),
        parameters: parameters.to_string(),
        secrets: vec![("token".into(), API_TOKEN.into())],
    }
}

/// The fixture edited.
pub fn input_with(edit: impl FnOnce(&mut Value, &mut Value)) -> TaskInput {
    input_for(&CREATE_DEDICATED_INFERENCE, edit)
}
