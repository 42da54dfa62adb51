//! The Restate workflow `HttpTask` (handler `run`): one HTTP Task step, durable. Each attempt
//! is one named `ctx.run` journaling the component's classified answer; the definition's
//! `retry` block drives the loop with durable sleeps; whatever ends the workflow for good ends
//! it with a `TerminalError` carrying masked text only.

use crate::attempts::{Answer, RetryPolicy};
use crate::credentials::{Credential, Credentials, url_host};
use crate::runner;
use crate::seal::{parse_recipient, seal_returned_token};
use age::x25519::Recipient;
use restate_sdk::prelude::*;
use rust_host::{StepFailure, TaskInput, TaskRunner};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

const MASK: &str = "••••••••";

/// What every invocation shares: the component (compiled on first need, or at start-up in the
/// background) and the credentials.
pub struct Shared {
    pub wasm: PathBuf,
    pub cache_dir: PathBuf,
    pub credentials: Credentials,
    runner: OnceCell<Arc<TaskRunner>>,
}

impl Shared {
    pub fn new(wasm: PathBuf, cache_dir: PathBuf, credentials: Credentials) -> Self {
        Self { wasm, cache_dir, credentials, runner: OnceCell::new() }
    }

    /// The loaded component; concurrent callers wait for the same load.
    pub async fn runner(&self) -> Result<Arc<TaskRunner>, String> {
        let runner = self
            .runner
            .get_or_try_init(|| async {
                let (wasm, cache_dir) = (self.wasm.clone(), self.cache_dir.clone());
                let started = std::time::Instant::now();
                let (runner, cached) = tokio::task::spawn_blocking(move || {
                    runner::load(&wasm, &cache_dir)
                })
                .await
                .map_err(|error| format!("loading the component did not finish: {error}"))??;
                let how = if cached { "deserialized the precompiled copy" } else { "compiled" };
                eprintln!(
                    "http-task-restate: component ready ({how} in {} ms)",
                    started.elapsed().as_millis()
                );
                Ok::<_, String>(Arc::new(runner))
            })
            .await?;
        Ok(runner.clone())
    }
}

pub struct HttpTask(pub Arc<Shared>);

#[restate_sdk::workflow]
impl HttpTask {
    /// Input `{"definition", "parameters", "tokenRecipient"?}`; output the step output object.
    #[handler]
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        input: Json<Value>,
    ) -> Result<Json<Value>, HandlerError> {
        Ok(Json(run_step(&self.0, &ctx, input.into_inner()).await?))
    }
}

/// The invocation's input, checked.
struct StepInput {
    definition: Value,
    task_input: TaskInput,
    recipient: Option<Recipient>,
}

/// An object or its JSON text, as both: the text the component takes and the parsed value.
fn object_field(input: &Value, field: &str) -> Result<(Value, String), String> {
    match input.get(field) {
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok((value, text.clone())),
            _ => Err(format!("{field}: expected a JSON object or its JSON text")),
        },
        Some(value @ Value::Object(_)) => Ok((value.clone(), value.to_string())),
        Some(_) => Err(format!("{field}: expected a JSON object or its JSON text")),
        None => Err(format!(
            "{field}: missing (the input is {{\"definition\", \"parameters\", \"tokenRecipient\"?}})"
        )),
    }
}

fn step_input(
    input: &Value,
    credential: impl FnOnce(&Value) -> Result<Credential, String>,
) -> Result<(StepInput, Credential), String> {
    let Value::Object(fields) = input else { return Err("input: expected a JSON object".into()) };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["definition", "parameters", "tokenRecipient"].contains(&key.as_str()))
    {
        return Err(format!(
            "{unknown}: unknown input field (definition, parameters, tokenRecipient)"
        ));
    }
    let (definition, definition_text) = object_field(input, "definition")?;
    let (_, parameters) = object_field(input, "parameters")?;
    let recipient = match input.get("tokenRecipient") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_recipient(text)?),
        Some(_) => return Err("tokenRecipient: expected a string (age1…)".into()),
    };
    let credential = credential(&definition)?;
    let task_input =
        TaskInput { definition: definition_text, parameters, secrets: credential.secrets.clone() };
    Ok((StepInput { definition, task_input, recipient }, credential))
}

/// `text` with every secret the service knows masked (for texts the component did not write).
fn masked(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets.iter().fold(text.to_string(), |text, secret| text.replace(secret.as_str(), MASK))
}

/// The journaled answer of one `execute`, the returned token sealed or left out.
fn classify(
    result: Result<Result<String, StepFailure>, String>,
    recipient: Option<&Recipient>,
    secrets: &[String],
) -> Answer {
    match result {
        Ok(Ok(output)) => {
            let mut output: Value = match serde_json::from_str(&output) {
                Ok(output) => output,
                Err(error) => {
                    return Answer::Trap {
                        message: format!("the step output is not JSON: {error}"),
                    };
                }
            };
            match seal_returned_token(&mut output, recipient) {
                Ok(()) => Answer::Ok { output },
                // After a 2xx: the instance exists, so never retryable.
                Err(message) => Answer::Failed {
                    kind: "protocol".into(),
                    retryable: false,
                    retry_after_ms: None,
                    message: format!("{message}; the dedicated inference was created"),
                    diagnostics: vec![],
                },
            }
        }
        Ok(Err(failure)) => Answer::Failed {
            kind: rust_host::json::failure_kind(failure.kind).into(),
            retryable: failure.retryable,
            retry_after_ms: failure.retry_after_ms,
            message: failure.message,
            diagnostics: failure
                .diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        },
        Err(trap) => Answer::Trap { message: masked(&trap, secrets) },
    }
}

async fn run_step(
    shared: &Shared,
    ctx: &WorkflowContext<'_>,
    input: Value,
) -> Result<Value, HandlerError> {
    let resolve = |definition: &Value| {
        let name = definition.get("credentials").and_then(Value::as_str);
        shared.credentials.resolve(name)
    };
    let (step, credential) = step_input(&input, resolve).map_err(TerminalError::new)?;
    let policy = RetryPolicy::from_definition(&step.definition).map_err(TerminalError::new)?;
    let mut secrets = shared.credentials.known_values();
    secrets.extend(credential.secrets.iter().map(|(_, value)| value.clone()));
    // Not loaded: a problem of this deployment, not of the workflow; Restate retries it.
    let task =
        shared.runner().await.map_err(|error| HandlerError::from(masked(&error, &secrets)))?;

    // Before anything is sent: the request must render, and its URL's host be one the
    // credential is for (render is deterministic, so a replay decides the same).
    match runner::render(task.clone(), step.task_input.clone()).await {
        Err(trap) => {
            return Err(TerminalError::new(format!(
                "the component trapped: {}",
                masked(&trap, &secrets)
            ))
            .into());
        }
        Ok(Err(diagnostics)) => {
            let mut text = "The request is invalid; nothing was sent.".to_string();
            for diagnostic in diagnostics {
                text.push_str(&format!("\n{}: {}", diagnostic.path, diagnostic.message));
            }
            return Err(TerminalError::new(text).into());
        }
        Ok(Ok(rendered)) => {
            let host = url_host(&rendered.request.url).unwrap_or_default();
            if !credential.allows(&host) {
                let name = step
                    .definition
                    .get("credentials")
                    .and_then(Value::as_str)
                    .unwrap_or("(the default token)");
                return Err(TerminalError::new(format!(
                    "httpRequest.url: the credential `{name}` may not be sent to `{host}` (it is for {}); nothing was sent",
                    credential.allowed_hosts.join(", ")
                ))
                .into());
            }
        }
    }

    for attempt in 1..=policy.max_attempts {
        let (task, task_input, recipient, secrets_of_run) =
            (task.clone(), step.task_input.clone(), step.recipient.clone(), secrets.clone());
        let answer = ctx
            .run(|| async move {
                let result = runner::execute(task, task_input).await;
                Ok(Json(classify(result, recipient.as_ref(), &secrets_of_run)))
            })
            .name(format!("attempt {attempt}"))
            .await?
            .into_inner();
        match answer {
            Answer::Ok { output } => return Ok(output),
            Answer::Failed { retryable: true, retry_after_ms, .. }
                if attempt < policy.max_attempts =>
            {
                ctx.sleep(policy.delay_after(attempt, retry_after_ms)).await?;
            }
            answer => {
                return Err(TerminalError::new(
                    answer.terminal_message(attempt, policy.max_attempts),
                )
                .into());
            }
        }
    }
    unreachable_attempts()
}

/// `max_attempts` is at least 1, so the loop always returns; a terminal error rather than a panic.
fn unreachable_attempts() -> Result<Value, HandlerError> {
    Err(TerminalError::new("no attempt was made (retry.maxAttempts is 0)").into())
}

/// The service's options: Restate retries only what the component never answered (this
/// service killed mid-call, the component not loaded), quickly and for a bounded time, and then
/// kills the invocation rather than pausing it, so that no caller waits on a paused invocation.
/// The abort timeout outlasts the longest `deadlineSeconds` (3,600).
pub fn service_options() -> restate_sdk::endpoint::ServiceOptions {
    restate_sdk::endpoint::ServiceOptions::new()
        .retry_policy_initial_interval(Duration::from_millis(200))
        .retry_policy_exponentiation_factor(2.0)
        .retry_policy_max_interval(Duration::from_secs(2))
        .retry_policy_max_attempts(300)
        .retry_policy_kill_on_max_attempts()
        .abort_timeout(Duration::from_secs(3_700))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credential(_: &Value) -> Result<Credential, String> {
        Ok(Credential {
            secrets: vec![("token".into(), "tok".into())],
            allowed_hosts: vec!["loopback".into()],
        })
    }

    #[test]
    fn the_input_takes_objects_or_their_text_and_names_a_bad_field() {
        let (step, _) =
            step_input(&json!({"definition": {"a": 1}, "parameters": "{\"b\": 2}"}), credential)
                .unwrap();
        assert_eq!(step.task_input.parameters, "{\"b\": 2}");
        assert_eq!(step.task_input.secrets, vec![("token".to_string(), "tok".to_string())]);
        assert!(step.recipient.is_none());
        for (input, needle) in [
            (json!({"parameters": {}}), "definition: missing"),
            (json!({"definition": [], "parameters": {}}), "definition: expected a JSON object"),
            (json!({"definition": {}, "parameters": "[1]"}), "parameters: expected a JSON object"),
            (json!({"definition": {}, "parameters": {}, "tokenRecipient": "x"}), "tokenRecipient:"),
            (
                json!({"definition": {}, "parameters": {}, "token": "x"}),
                "token: unknown input field",
            ),
        ] {
            let error = step_input(&input, credential).err().unwrap();
            assert!(error.starts_with(needle), "{error}");
        }
    }

    #[test]
    fn a_trap_is_masked_and_a_failure_keeps_its_classification() {
        let trap = classify(Err("wasm trap near tok-secret".into()), None, &["tok-secret".into()]);
        assert_eq!(trap, Answer::Trap { message: format!("wasm trap near {MASK}") });
        let failure = StepFailure {
            kind: rust_host::FailureKind::HttpStatus,
            retryable: true,
            retry_after_ms: Some(3000),
            message: "429".into(),
            diagnostics: vec![],
            response: None,
        };
        let Answer::Failed { kind, retry_after_ms, .. } = classify(Ok(Err(failure)), None, &[])
        else {
            panic!()
        };
        assert_eq!((kind.as_str(), retry_after_ms), ("http-status", Some(3000)));
    }
}
