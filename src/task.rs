//! The task's four calls as plain Rust: `describe`, `render`, `test_request`, `execute`.
//! `lib.rs` maps them to the WIT; native tests drive them with a fake transport.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::adopt::{self, Ended, Exchange, IfExists};
use crate::diagnostic::{Diagnostic, Severity};
use crate::operation::Operation;
use crate::outcome::{
    Effect, Failure, FailureKind, INVALID, Outcome, Verdict, classify_answer, classify_transport,
    retry_after,
};
use crate::request::{DEFINITION_FIELDS, Rendering, TaskInput, render_request, render_request_as};
use crate::response::{BODY_LIMIT, Reply, ResponseView};
use crate::secrets::SecretSet;
use crate::summary;
use crate::template::MissingSecret;
use crate::transport::{
    Transport, TransportError, TransportErrorKind, WireRequest, WireResponse, millis,
};

/// A request as it goes on the wire, every secret masked (the WIT `request-preview`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPreview {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub outcome: Outcome,
    pub summary: String,
    pub request: Option<RequestPreview>,
    pub response: Option<ResponseView>,
    pub diagnostics: Vec<Diagnostic>,
    pub elapsed_ms: u64,
    pub revealed_secrets: Vec<(String, String)>,
    /// Every exchange the call made, in order (the create, then adopt's lookups and mint),
    /// masked.
    pub exchanges: Vec<ExchangeView>,
}

/// One exchange as the editor shows it: the masked request, and the masked answer or why
/// none came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeView {
    pub request: RequestPreview,
    pub response: Option<ResponseView>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    pub kind: FailureKind,
    pub retryable: bool,
    pub retry_after_ms: Option<u64>,
    pub message: String,
    pub diagnostics: Vec<Diagnostic>,
    /// The masked step output object, when the API answered.
    pub response: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    pub path: String,
    pub type_name: String,
    pub required: bool,
    pub description: String,
    pub allowed_values: Vec<String>,
    pub default_value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationInfo {
    pub method: String,
    pub server: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub headers: Vec<FieldInfo>,
    pub body_fields: Vec<FieldInfo>,
    /// The definition's own top-level fields (`ifExists`, the timeouts, ...).
    pub definition_fields: Vec<FieldInfo>,
    pub default_definition: String,
    pub example_parameters: String,
}

pub fn describe(operation: &Operation) -> OperationInfo {
    let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
    OperationInfo {
        method: operation.method.to_string(),
        server: operation.server.into(),
        path: operation.path.into(),
        summary: operation.summary.into(),
        description: operation.description.into(),
        headers: operation
            .headers
            .iter()
            .map(|h| FieldInfo {
                path: h.name.into(),
                type_name: "string".into(),
                required: h.required,
                description: h.description.into(),
                allowed_values: vec![],
                default_value: h.default_value.map(Into::into),
            })
            .collect(),
        body_fields: operation
            .body_fields
            .iter()
            .map(|f| FieldInfo {
                path: f.path.into(),
                type_name: f.field_type.name().into(),
                required: f.required,
                description: f.description.into(),
                allowed_values: strings(f.allowed_values),
                default_value: None,
            })
            .collect(),
        definition_fields: DEFINITION_FIELDS
            .iter()
            .map(|f| FieldInfo {
                path: f.name.into(),
                type_name: f.type_name.into(),
                required: f.required,
                description: f.description.into(),
                allowed_values: strings(f.allowed_values),
                default_value: definition_default(operation, f.name),
            })
            .collect(),
        default_definition: operation.default_definition.into(),
        example_parameters: operation.example_parameters.into(),
    }
}

/// What a definition that leaves `field` out gets.
fn definition_default(operation: &Operation, field: &str) -> Option<String> {
    match field {
        "connectionTimeoutSeconds" => Some(operation.default_connect_timeout_s.to_string()),
        "readTimeoutSeconds" => Some(operation.default_read_timeout_s.to_string()),
        "deadlineSeconds" => Some(operation.default_deadline_s.to_string()),
        "returnedToken" => Some("include".into()),
        "ifExists" => Some("fail".into()),
        _ => None,
    }
}

/// `render`'s Ok value with its warnings (the WIT `rendered`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub request: RequestPreview,
    pub warnings: Vec<Diagnostic>,
}

/// Render and validate without sending: the masked request and its warnings, or every
/// diagnostic (errors first) when it cannot be sent.
pub fn render_with_warnings(
    operation: &Operation,
    input: &TaskInput,
) -> Result<Rendered, Vec<Diagnostic>> {
    let rendering = render_request_as(operation, input, MissingSecret::StandIn);
    match rendering.sendable() {
        Some(request) => Ok(Rendered {
            request: preview(request, &rendering.secrets),
            warnings: masked_diagnostics(rendering.diagnostics.to_vec(), &rendering.secrets),
        }),
        None => Err(masked_diagnostics(
            rendering.diagnostics.to_vec(),
            &rendering.secrets,
        )),
    }
}

/// `render_with_warnings` without the warnings.
pub fn render(operation: &Operation, input: &TaskInput) -> Result<RequestPreview, Vec<Diagnostic>> {
    render_with_warnings(operation, input).map(|rendered| rendered.request)
}

/// One call's journey: the rendering, and what sending it (once) brought back.
struct Run {
    rendering: Rendering,
    sent: Option<Result<WireResponse, TransportError>>,
    /// When the call began, on the transport's clock (the deadline counts from here).
    started: Duration,
}

fn run(operation: &Operation, input: &TaskInput, transport: &mut dyn Transport) -> Run {
    let started = transport.now();
    let rendering = render_request(operation, input);
    // The one and only create: it must not happen twice, so nothing here retries it.
    let sent = rendering
        .sendable()
        .map(|request| transport.send(request, BODY_LIMIT));
    Run {
        rendering,
        sent,
        started,
    }
}

/// With `ifExists: adopt`, when the create's result calls for it: how adopt's lookups (and
/// mint) ended, and the exchanges they made. `confirmed` says whether minting for an id may
/// go ahead.
fn adoption(
    operation: &Operation,
    run: &Run,
    verdict: &Verdict,
    transport: &mut dyn Transport,
    confirmed: impl Fn(&str) -> bool,
    secrets: &mut SecretSet,
    now: SystemTime,
) -> (Option<Ended>, Vec<Exchange>) {
    let (Some(adoption), Some(request), Some(sent)) = (
        operation.adoption.as_ref(),
        run.rendering.sendable(),
        run.sent.as_ref(),
    ) else {
        return (None, vec![]);
    };
    let trigger = adopt::trigger(verdict, sent);
    let (IfExists::Adopt, Some(lookup)) = (run.rendering.if_exists, trigger) else {
        return (None, vec![]);
    };
    let mut call = adopt::Call {
        transport,
        started: run.started,
        deadline: request.timeouts.deadline,
        now,
        exchanges: vec![],
    };
    let ended = adopt::adopt(
        operation, adoption, request, &lookup, &mut call, confirmed, secrets,
    );
    (Some(ended), call.exchanges)
}

impl Run {
    /// The rendering's diagnostics, and the host's refusal when it refused the request.
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostics = self.rendering.diagnostics.to_vec();
        if let Some(Err(error)) = &self.sent
            && error.kind == TransportErrorKind::NotSent
        {
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                path: "httpRequest".into(),
                message: format!("the host refused the request: {}", error.detail),
            });
        }
        diagnostics
    }
}

/// Where a run ended, for both the editor and the engine.
struct Judged<'r> {
    verdict: Verdict,
    retry_after: Option<Duration>,
    /// Unmasked: callers mask it with `secrets`.
    summary: String,
    /// The answer, when the API gave one.
    reply: Option<Reply<'r>>,
    /// Secrets of the request and of the answer (the one-time token).
    secrets: SecretSet,
}

fn judge<'r>(operation: &Operation, run: &'r Run, now: SystemTime) -> Judged<'r> {
    let mut secrets = run.rendering.secrets.clone();
    let (Some(request), Some(sent)) = (run.rendering.request.as_ref(), run.sent.as_ref()) else {
        return Judged {
            verdict: INVALID,
            retry_after: None,
            summary: summary::invalid(operation, &run.rendering.diagnostics),
            reply: None,
            secrets,
        };
    };
    match sent {
        Err(error) => {
            let verdict = classify_transport(error);
            Judged {
                verdict,
                retry_after: None,
                summary: summary::no_answer(operation, &request.url, error, verdict.effect),
                reply: None,
                secrets,
            }
        }
        Ok(response) => {
            let reply = Reply::new(operation, response, &mut secrets);
            let verdict = classify_answer(operation, &reply);
            let retryable = verdict.failure.is_some_and(|f| f.retryable);
            let retry_after = retryable.then(|| retry_after(response, now)).flatten();
            let summary = summary::answer(
                operation,
                &request.url,
                &reply,
                &verdict,
                retry_after,
                &secrets,
            );
            Judged {
                verdict,
                retry_after,
                summary,
                reply: Some(reply),
                secrets,
            }
        }
    }
}

/// The editor's "Test request": render, validate, send once, report. With `ifExists: adopt`
/// it may look the name up and mint a token; on a host other than loopback it mints only for
/// the id the definition's `confirmAdopt` names (the editor asks the person first).
pub fn test_request(
    operation: &Operation,
    input: &TaskInput,
    transport: &mut dyn Transport,
    now: SystemTime,
) -> TestResult {
    let started = Instant::now();
    let run = run(operation, input, transport);
    let mut judged = judge(operation, &run, now);
    let loopback = run
        .rendering
        .request
        .as_ref()
        .is_some_and(|r| r.url.is_loopback());
    let confirmed = |id: &str| loopback || run.rendering.confirmed_adoption.as_deref() == Some(id);
    let (ended, exchanges) = adoption(
        operation,
        &run,
        &judged.verdict,
        transport,
        confirmed,
        &mut judged.secrets,
        now,
    );
    let one_time = |reply: &Reply<'_>| -> Vec<(String, String)> {
        match operation.answer.one_time_secret {
            Some(secret) => reply
                .one_time_secret()
                .map(|value| (secret.path.to_string(), value.to_string()))
                .into_iter()
                .collect(),
            None => vec![],
        }
    };
    let (outcome, summary, revealed_secrets) = match &ended {
        None => {
            let revealed = match &judged.reply {
                Some(reply) if judged.verdict.effect == Effect::Done => one_time(reply),
                _ => vec![],
            };
            (judged.verdict.outcome, judged.summary.clone(), revealed)
        }
        Some(Ended::Adopted {
            id,
            answer,
            token_missing,
        }) => {
            let reply = Reply::new(operation, answer, &mut judged.secrets);
            let summary = summary::adopted(operation, id, token_missing.as_deref());
            (Outcome::Accepted, summary, one_time(&reply))
        }
        Some(Ended::WouldAdopt { id }) => (
            Outcome::NeedsConfirmation,
            summary::would_adopt(operation, id),
            vec![],
        ),
        Some(Ended::Final { message, .. } | Ended::Retry { message, .. }) => {
            (judged.verdict.outcome, message.clone(), vec![])
        }
    };
    let secrets = &judged.secrets;
    let mut views = vec![];
    if let (Some(request), Some(sent)) = (run.rendering.sendable(), run.sent.as_ref()) {
        views.push(exchange_view(operation, request, sent, secrets));
    }
    views.extend(
        exchanges
            .iter()
            .map(|e| exchange_view(operation, &e.request, &e.answer, secrets)),
    );
    TestResult {
        outcome,
        summary: secrets.mask_str(&summary).into_owned(),
        request: run.rendering.request.as_ref().map(|r| preview(r, secrets)),
        response: judged.reply.as_ref().map(|r| r.view(secrets)),
        diagnostics: masked_diagnostics(run.diagnostics(), secrets),
        elapsed_ms: millis(started.elapsed()),
        revealed_secrets,
        exchanges: views,
    }
}

/// One exchange, masked with every secret the call came to know.
fn exchange_view(
    operation: &Operation,
    request: &WireRequest,
    answer: &Result<WireResponse, TransportError>,
    secrets: &SecretSet,
) -> ExchangeView {
    // A copy of the set: reading the answer registers what it carries (a minted token),
    // which must be masked in this view as well.
    let mut known = secrets.clone();
    match answer {
        Ok(response) => {
            let reply = Reply::new(operation, response, &mut known);
            ExchangeView {
                request: preview(request, &known),
                response: Some(reply.view(&known)),
                error: None,
            }
        }
        Err(error) => ExchangeView {
            request: preview(request, &known),
            response: None,
            error: Some(known.mask_str(&error.detail).into_owned()),
        },
    }
}

/// One run as a workflow step. Ok is the step output object with every secret masked but the
/// token the API returns once, at `body.token.value`, which the workflow must be able to store
/// (unless `returnedToken: omit` leaves it out). With `ifExists: adopt`, an instance an
/// earlier attempt made is adopted: the same shape, with `"adopted": true` and a new token.
pub fn execute(
    operation: &Operation,
    input: &TaskInput,
    transport: &mut dyn Transport,
    now: SystemTime,
) -> Result<String, StepFailure> {
    let run = run(operation, input, transport);
    let mut judged = judge(operation, &run, now);
    let (ended, _) = adoption(
        operation,
        &run,
        &judged.verdict,
        transport,
        |_| true,
        &mut judged.secrets,
        now,
    );
    let returned = run.rendering.returned_secret;
    let (failure, message) = match ended {
        None => match judged.verdict.failure {
            // Only a complete 2xx has no failure, and it always has a reply.
            None => {
                return Ok(judged
                    .reply
                    .as_ref()
                    .map(|r| r.step_output(operation, returned, &judged.secrets))
                    .unwrap_or_default());
            }
            Some(failure) => (failure, judged.summary.clone()),
        },
        Some(Ended::Adopted {
            answer,
            token_missing,
            ..
        }) => {
            let reply = Reply::new(operation, &answer, &mut judged.secrets);
            let output = reply.step_output(operation, returned, &judged.secrets);
            return Ok(with_fields(
                &output,
                adopt::adopted_fields(token_missing.as_deref()),
                &judged.secrets,
            ));
        }
        // Never in a step: the engine's steps do not ask.
        Some(Ended::WouldAdopt { .. }) => (
            Failure {
                kind: FailureKind::Protocol,
                retryable: false,
            },
            String::from("internal: adoption waited for a confirmation in a step"),
        ),
        Some(Ended::Final { kind, message }) => (
            Failure {
                kind,
                retryable: false,
            },
            message,
        ),
        Some(Ended::Retry { kind, message }) => (
            Failure {
                kind,
                retryable: true,
            },
            message,
        ),
    };
    let secrets = &judged.secrets;
    Err(StepFailure {
        kind: failure.kind,
        retryable: failure.retryable,
        retry_after_ms: judged.retry_after.filter(|_| failure.retryable).map(millis),
        message: secrets.mask_str(&message).into_owned(),
        diagnostics: masked_diagnostics(run.diagnostics(), secrets),
        response: judged.reply.as_ref().map(|r| r.masked_step_output(secrets)),
    })
}

/// The step output with top-level `fields` added (their text masked like the rest).
fn with_fields(
    output: &str,
    fields: serde_json::Map<String, Value>,
    secrets: &SecretSet,
) -> String {
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(output) else {
        return output.to_string();
    };
    for (key, mut value) in fields {
        secrets.mask_json(&mut value);
        object.insert(key, value);
    }
    crate::json::json_text(&Value::Object(object))
}

fn preview(request: &WireRequest, secrets: &SecretSet) -> RequestPreview {
    RequestPreview {
        method: request.method.to_string(),
        url: secrets.mask_str(&request.url.to_string()).into_owned(),
        headers: request
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    secrets
                        .mask_str(&String::from_utf8_lossy(v.as_bytes()))
                        .into_owned(),
                )
            })
            .collect(),
        body: Some(secrets.mask_str(&request.body).into_owned()),
    }
}

fn masked_diagnostics(mut diagnostics: Vec<Diagnostic>, secrets: &SecretSet) -> Vec<Diagnostic> {
    for d in &mut diagnostics {
        secrets.mask_string(&mut d.path);
        secrets.mask_string(&mut d.message);
    }
    diagnostics
}
