//! What the native tests, the property tests, the benchmarks and the fuzz targets share: a
//! scripted transport that records what it is asked to send, a fixed clock, the fixture
//! inputs, and builders for the API's answers. Compiled for the crate's own tests and with the
//! `testkit` feature (the integration tests and `fuzz/` turn it on); never in the component.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

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

/// What goes wrong with the next create a `FakeApi` receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateFault {
    /// Refused: nothing reached the API.
    Refused,
    /// No status within the timeout; the API never saw the request.
    TimeoutBeforeReceiving,
    /// No status within the timeout; the API created the instance (a slow create that
    /// finished after the client gave up).
    TimeoutAfterCreating,
    /// Reset after the request went out; the API created the instance.
    ResetAfterCreating,
    /// The 202 arrived, its body broke off.
    ResetInThe202Body,
    /// 429, nothing created.
    RateLimited,
    /// 500, nothing created.
    ServerError,
    /// Another client created the same name (same spec) just before this create arrived.
    ConcurrentCreator,
    /// No status within the timeout, and the API finishes creating only later: after this
    /// call's lookups, before the next request of the next call.
    SlowCreate,
}

/// One request the fake received and how it answered: its own record, for the tests to judge
/// the component by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRecord {
    pub method: String,
    pub path: String,
    /// The status sent, or None when no status went out.
    pub status: Option<u16>,
    /// The instance this request created, if it did.
    pub created: Option<String>,
    /// The deadline the request was sent with, and the fake's clock when it arrived.
    pub deadline: Duration,
    pub at: Duration,
}

/// An instance the fake API keeps.
#[derive(Clone, Debug)]
pub struct FakeInstance {
    pub id: String,
    pub name: String,
    pub spec: Value,
    pub status: String,
}

/// A fake of the API's create, list, get and token routes, with the documented shapes: names
/// unique within the team (unless `unique_names` is off), listings that leave the spec out
/// (as the stand-in's do), tokens minted with `POST /{id}/tokens`. Each exchange advances its
/// clock by `step`, a timeout by the read timeout.
pub struct FakeApi {
    pub instances: Vec<FakeInstance>,
    pub unique_names: bool,
    pub list_has_spec: bool,
    /// Faults of the coming creates, in order (None: a plain create).
    pub create_faults: VecDeque<Option<CreateFault>>,
    /// Answered to every lookup (GET) instead of the listing, e.g. 403.
    pub lookup_status: Option<u16>,
    /// Answered to every mint instead of a token, e.g. 403.
    pub mint_status: Option<u16>,
    /// Items per page the fake returns at most, whatever is asked (to test paging).
    pub page_size: usize,
    /// A `links.pages.next` that points elsewhere, instead of the fake's own.
    pub foreign_next: bool,
    pub tokens: Vec<String>,
    /// Slow creates not finished yet: (name, spec), made at the next create request.
    pub pending: Vec<(String, Value)>,
    pub log: Vec<FakeRecord>,
    pub clock: Duration,
    pub step: Duration,
}

impl Default for FakeApi {
    fn default() -> Self {
        FakeApi {
            instances: vec![],
            unique_names: true,
            list_has_spec: false,
            create_faults: VecDeque::new(),
            lookup_status: None,
            mint_status: None,
            page_size: 200,
            foreign_next: false,
            tokens: vec![],
            pending: vec![],
            log: vec![],
            clock: Duration::ZERO,
            step: Duration::from_millis(20),
        }
    }
}

impl FakeApi {
    /// Creates on its own, as another client would: returns the id.
    pub fn create_directly(&mut self, name: &str, spec: Value) -> String {
        let id = format!("00000000-0000-4000-8000-{:012}", self.instances.len() + 1);
        self.instances.push(FakeInstance {
            id: id.clone(),
            name: name.into(),
            spec,
            status: "provisioning".into(),
        });
        id
    }

    /// How many instances hold `name`.
    pub fn count(&self, name: &str) -> usize {
        self.instances.iter().filter(|i| i.name == name).count()
    }

    fn document(&self, instance: &FakeInstance, with_spec: bool) -> Value {
        let mut doc = json!({"id": instance.id, "name": instance.name, "status": instance.status,
                             "region": instance.spec["region"]});
        if with_spec {
            doc["spec"] = instance.spec.clone();
        }
        doc
    }

    fn mint(&mut self, name: &str) -> Value {
        let value = format!("dit_fake_{:032}", self.tokens.len() + 1);
        self.tokens.push(value.clone());
        json!({"id": format!("tok-{}", self.tokens.len()), "name": name, "is_managed": false, "value": value})
    }

    fn json(status: u16, body: &Value) -> WireResponse {
        answer(
            status,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    fn create(&mut self, request: &WireRequest) -> (Answer, Option<String>) {
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let mut spec = body["spec"].clone();
        if let Some(deployments) = spec["model_deployments"].as_array_mut() {
            for (i, d) in deployments.iter_mut().enumerate() {
                d["model_id"] = json!(format!("model-{i}"));
            }
        }
        let name = spec["name"].as_str().unwrap_or_default().to_string();
        // What slow creates of earlier calls did meanwhile.
        for (pending_name, pending_spec) in std::mem::take(&mut self.pending) {
            if !self.unique_names || self.count(&pending_name) == 0 {
                self.create_directly(&pending_name, pending_spec);
            }
        }
        let fault = self.create_faults.pop_front().flatten();
        let timeout = |delivery| {
            failure(
                TransportErrorKind::Timeout,
                delivery,
                "no answer within 10 s (readTimeoutSeconds)",
            )
        };
        match fault {
            Some(CreateFault::Refused) => {
                return (
                    failure(
                        TransportErrorKind::Connection,
                        Delivery::NotDelivered,
                        "connection refused",
                    ),
                    None,
                );
            }
            Some(CreateFault::TimeoutBeforeReceiving) => {
                self.clock += request.timeouts.first_byte;
                return (timeout(Delivery::MaybeDelivered), None);
            }
            Some(CreateFault::RateLimited) => {
                return (
                    Ok(api_error(
                        429,
                        "too_many_requests",
                        "slow down",
                        &[("retry-after", "1")],
                    )),
                    None,
                );
            }
            Some(CreateFault::ServerError) => {
                return (Ok(api_error(500, "server_error", "oops", &[])), None);
            }
            // The other client's create obeys the same rule as any.
            Some(CreateFault::ConcurrentCreator)
                if !self.unique_names || self.count(&name) == 0 =>
            {
                self.create_directly(&name, spec.clone());
            }
            Some(CreateFault::SlowCreate) => {
                self.clock += request.timeouts.first_byte;
                self.pending.push((name, spec));
                return (timeout(Delivery::MaybeDelivered), None);
            }
            _ => {}
        }
        if self.unique_names && self.count(&name) > 0 {
            let message = format!("spec.name: '{name}' is already in use");
            return (
                Ok(api_error(422, "unprocessable_entity", &message, &[])),
                None,
            );
        }
        let id = self.create_directly(&name, spec);
        let token = self.mint(&format!("{name}-token"));
        let instance = self.instances.last().cloned().unwrap();
        let created = Self::json(
            202,
            &json!({"dedicated_inference": self.document(&instance, true), "token": token}),
        );
        let answered = match fault {
            Some(CreateFault::TimeoutAfterCreating) => {
                self.clock += request.timeouts.first_byte;
                timeout(Delivery::MaybeDelivered)
            }
            Some(CreateFault::ResetAfterCreating) => failure(
                TransportErrorKind::Connection,
                Delivery::MaybeDelivered,
                "the connection was reset",
            ),
            Some(CreateFault::ResetInThe202Body) => {
                Ok(broken(created, 40, TransportErrorKind::Connection))
            }
            _ => Ok(created),
        };
        (answered, Some(id))
    }

    fn lookup(&mut self, request: &WireRequest) -> Answer {
        if let Some(status) = self.lookup_status {
            return Ok(api_error(
                status,
                "forbidden",
                "You are not authorized to perform this operation",
                &[],
            ));
        }
        let (path, query) = request
            .url
            .path_with_query
            .split_once('?')
            .unwrap_or((&request.url.path_with_query, ""));
        let collection = "/v2/dedicated-inferences";
        if let Some(id) = path.strip_prefix(&format!("{collection}/")) {
            return match self.instances.iter().find(|i| i.id == id) {
                Some(i) => Ok(Self::json(
                    200,
                    &json!({"dedicated_inference": self.document(i, true)}),
                )),
                None => Ok(api_error(
                    404,
                    "not_found",
                    "The resource you requested could not be found.",
                    &[],
                )),
            };
        }
        let page: usize = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let start = (page - 1) * self.page_size;
        let items: Vec<Value> = self
            .instances
            .iter()
            .skip(start)
            .take(self.page_size)
            .map(|i| self.document(i, self.list_has_spec))
            .collect();
        let more = start + items.len() < self.instances.len();
        let origin = if self.foreign_next {
            "https://elsewhere.example".to_string()
        } else {
            request
                .url
                .to_string()
                .replace(&request.url.path_with_query, "")
        };
        let mut links = json!({});
        if more {
            links = json!({"pages": {"next": format!("{origin}{collection}?page={}&per_page=200", page + 1)}});
        }
        Ok(Self::json(
            200,
            &json!({"dedicated_inferences": items, "links": links,
                                    "meta": {"total": self.instances.len()}}),
        ))
    }

    fn mint_route(&mut self, request: &WireRequest, id: &str) -> Answer {
        if let Some(status) = self.mint_status {
            return Ok(api_error(
                status,
                "forbidden",
                "You are not authorized to perform this operation",
                &[],
            ));
        }
        if !self.instances.iter().any(|i| i.id == id) {
            return Ok(api_error(
                404,
                "not_found",
                "The resource you requested could not be found.",
                &[],
            ));
        }
        let name = serde_json::from_str::<Value>(&request.body)
            .ok()
            .and_then(|b| b["name"].as_str().map(String::from))
            .unwrap_or_default();
        let token = self.mint(&name);
        Ok(Self::json(202, &json!({"token": token})))
    }
}

impl Transport for FakeApi {
    fn send(&mut self, request: &WireRequest, body_limit: usize) -> Answer {
        assert_eq!(body_limit, BODY_LIMIT, "the task reads at most BODY_LIMIT");
        let at = self.clock;
        self.clock += self.step;
        let path = request.url.path_with_query.clone();
        let bare = path.split('?').next().unwrap_or_default().to_string();
        let (answered, created) = match (request.method.as_str(), bare.strip_suffix("/tokens")) {
            ("POST", Some(item)) => {
                let id = item.rsplit('/').next().unwrap_or_default().to_string();
                (self.mint_route(request, &id), None)
            }
            ("POST", None) => self.create(request),
            ("GET", _) => (self.lookup(request), None),
            _ => (Ok(api_error(405, "method_not_allowed", "no", &[])), None),
        };
        self.log.push(FakeRecord {
            method: request.method.to_string(),
            path,
            status: answered.as_ref().ok().map(|r| r.status),
            created,
            deadline: request.timeouts.deadline,
            at,
        });
        answered
    }

    fn now(&mut self) -> Duration {
        self.clock
    }
}

/// A small deterministic generator (xorshift) for the randomized schedules: seeded per
/// schedule, so that a failing one is reproduced by its number, with no dependency.
pub struct Rng(u64);

impl Rng {
    /// The generator of schedule `seed`.
    pub fn for_schedule(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Writes a reliability report, `target/reliability/<name>.md` (tools/reliability_report.py
/// assembles docs/reliability.md from them), and prints it.
pub fn write_report(name: &str, text: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.md")), text).unwrap();
    println!("{text}");
}
