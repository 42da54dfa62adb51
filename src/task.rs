//! The task's four calls as plain Rust: `describe`, `render`, `test_request`, `execute`.
//! `lib.rs` maps them to the WIT; native tests drive them with a fake transport.

use std::time::{Duration, Instant, SystemTime};

use crate::diagnostic::{Diagnostic, Severity};
use crate::operation::Operation;
use crate::outcome::{
    Effect, FailureKind, INVALID, Outcome, Verdict, classify_answer, classify_transport,
    retry_after,
};
use crate::request::{Rendering, TaskInput, render_request};
use crate::response::{BODY_LIMIT, Reply, ResponseView};
use crate::secrets::SecretSet;
use crate::summary;
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
        default_definition: operation.default_definition.into(),
        example_parameters: operation.example_parameters.into(),
    }
}

/// Render and validate without sending. Warnings ride along with errors only: a request
/// that renders cleanly is the Ok value.
pub fn render(operation: &Operation, input: &TaskInput) -> Result<RequestPreview, Vec<Diagnostic>> {
    let rendering = render_request(operation, input);
    match rendering.sendable() {
        Some(request) => Ok(preview(request, &rendering.secrets)),
        None => Err(masked_diagnostics(
            rendering.diagnostics.to_vec(),
            &rendering.secrets,
        )),
    }
}

/// One call's journey: the rendering, and what sending it (once) brought back.
struct Run {
    rendering: Rendering,
    sent: Option<Result<WireResponse, TransportError>>,
}

fn run(operation: &Operation, input: &TaskInput, transport: &mut dyn Transport) -> Run {
    let rendering = render_request(operation, input);
    // The one and only send: a create must not happen twice, so nothing here retries.
    let sent = rendering
        .sendable()
        .map(|request| transport.send(request, BODY_LIMIT));
    Run { rendering, sent }
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

/// The editor's "Test request": render, validate, send once, report.
pub fn test_request(
    operation: &Operation,
    input: &TaskInput,
    transport: &mut dyn Transport,
    now: SystemTime,
) -> TestResult {
    let started = Instant::now();
    let run = run(operation, input, transport);
    let judged = judge(operation, &run, now);
    let secrets = &judged.secrets;
    let revealed_secrets = match (operation.answer.one_time_secret, &judged.reply) {
        (Some(secret), Some(reply)) if judged.verdict.effect == Effect::Done => reply
            .one_time_secret()
            .map(|value| (secret.path.to_string(), value.to_string()))
            .into_iter()
            .collect(),
        _ => vec![],
    };
    TestResult {
        outcome: judged.verdict.outcome,
        summary: secrets.mask_str(&judged.summary).into_owned(),
        request: run.rendering.request.as_ref().map(|r| preview(r, secrets)),
        response: judged.reply.as_ref().map(|r| r.view(secrets)),
        diagnostics: masked_diagnostics(run.diagnostics(), secrets),
        elapsed_ms: millis(started.elapsed()),
        revealed_secrets,
    }
}

/// One run as a workflow step. Ok is the step output object with every secret masked but the
/// token the API returns once, at `body.token.value`, which the workflow must be able to store
/// (unless `returnedToken: omit` leaves it out).
pub fn execute(
    operation: &Operation,
    input: &TaskInput,
    transport: &mut dyn Transport,
    now: SystemTime,
) -> Result<String, StepFailure> {
    let run = run(operation, input, transport);
    let judged = judge(operation, &run, now);
    let secrets = &judged.secrets;
    let Some(failure) = judged.verdict.failure else {
        // Only a complete 2xx has no failure, and it always has a reply.
        return Ok(judged
            .reply
            .as_ref()
            .map(|r| r.step_output(operation, run.rendering.returned_secret, secrets))
            .unwrap_or_default());
    };
    Err(StepFailure {
        kind: failure.kind,
        retryable: failure.retryable,
        retry_after_ms: judged.retry_after.map(millis),
        message: secrets.mask_str(&judged.summary).into_owned(),
        diagnostics: masked_diagnostics(run.diagnostics(), secrets),
        response: judged.reply.as_ref().map(|r| r.masked_step_output(secrets)),
    })
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
