//! The WIT values as JSON, as the conformance kit writes them (docs/conformance.md): a record
//! is an object keyed by the WIT field names (kebab-case), an enum its case name, an
//! `option<T>` null or the value, a list or tuple an array, a `result<T, E>` `{"ok": T}` or
//! `{"err": E}`, and integers numbers.

use serde_json::{Map, Value, json};

use crate::{
    Diagnostic, Exchange, FailureKind, FieldInfo, Header, OperationInfo, Outcome, Rendered,
    RequestPreview, ResponseView, Severity, StepFailure, TaskInput, TestResult,
};

/// `task-input` from the JSON of a request's `input`. `definition` and `parameters` are JSON
/// texts; any other JSON value is taken as the document itself and written as text (as the
/// Python adapter does). `secrets` is a list of `[name, value]` pairs and may be left out.
pub fn task_input(input: &Value) -> Result<TaskInput, String> {
    let Value::Object(fields) = input else {
        return Err(
            "`input` must be an object with `definition`, `parameters` and `secrets`".into()
        );
    };
    let text = |name: &str| match fields.get(name) {
        None => Err(format!("`input.{name}` is missing")),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(document) => Ok(document.to_string()),
    };
    let mut secrets = Vec::new();
    match fields.get("secrets") {
        None | Some(Value::Null) => {}
        Some(Value::Array(pairs)) => {
            for (index, pair) in pairs.iter().enumerate() {
                match pair.as_array().map(Vec::as_slice) {
                    Some([Value::String(name), Value::String(value)]) => {
                        secrets.push((name.clone(), value.clone()))
                    }
                    // The values are secrets: the error names the place, never the content.
                    _ => {
                        return Err(format!(
                            "`input.secrets[{index}]` is not a [name, value] pair of strings"
                        ));
                    }
                }
            }
        }
        Some(_) => return Err("`input.secrets` must be a list of [name, value] pairs".into()),
    }
    Ok(TaskInput { definition: text("definition")?, parameters: text("parameters")?, secrets })
}

pub fn operation_info(info: &OperationInfo) -> Value {
    json!({
        "method": info.method,
        "server": info.server,
        "path": info.path,
        "summary": info.summary,
        "description": info.description,
        "headers": info.headers.iter().map(field_info).collect::<Vec<_>>(),
        "body-fields": info.body_fields.iter().map(field_info).collect::<Vec<_>>(),
        "definition-fields": info.definition_fields.iter().map(field_info).collect::<Vec<_>>(),
        "default-definition": info.default_definition,
        "example-parameters": info.example_parameters,
    })
}

fn field_info(field: &FieldInfo) -> Value {
    json!({
        "path": field.path,
        "type-name": field.type_name,
        "required": field.required,
        "description": field.description,
        "allowed-values": field.allowed_values,
        "default-value": field.default_value,
    })
}

pub fn render_result(result: &Result<Rendered, Vec<Diagnostic>>) -> Value {
    match result {
        Ok(rendered) => json!({ "ok": {
            "request": request_preview(&rendered.request),
            "warnings": diagnostic_list(&rendered.warnings),
        } }),
        Err(diagnostics) => json!({ "err": diagnostic_list(diagnostics) }),
    }
}

pub fn test_result(result: &TestResult) -> Value {
    json!({
        "outcome": outcome(result.outcome),
        "summary": result.summary,
        "request": result.request.as_ref().map(request_preview),
        "response": result.response.as_ref().map(response_view),
        "diagnostics": diagnostic_list(&result.diagnostics),
        "elapsed-ms": result.elapsed_ms,
        "revealed-secrets": pairs(&result.revealed_secrets),
        "exchanges": result.exchanges.iter().map(exchange).collect::<Vec<_>>(),
    })
}

fn exchange(exchange: &Exchange) -> Value {
    json!({
        "request": request_preview(&exchange.request),
        "response": exchange.response.as_ref().map(response_view),
        "error": exchange.error,
    })
}

pub fn execute_result(result: &Result<String, StepFailure>) -> Value {
    match result {
        Ok(output) => json!({ "ok": output }),
        Err(failure) => json!({ "err": step_failure(failure) }),
    }
}

fn step_failure(failure: &StepFailure) -> Value {
    json!({
        "kind": failure_kind(failure.kind),
        "retryable": failure.retryable,
        "retry-after-ms": failure.retry_after_ms,
        "message": failure.message,
        "diagnostics": diagnostic_list(&failure.diagnostics),
        "response": failure.response,
    })
}

fn request_preview(preview: &RequestPreview) -> Value {
    json!({
        "method": preview.method,
        "url": preview.url,
        "headers": headers(&preview.headers),
        "body": preview.body,
    })
}

fn response_view(view: &ResponseView) -> Value {
    json!({
        "status": view.status,
        "headers": headers(&view.headers),
        "body": view.body,
        "truncated": view.truncated,
    })
}

fn headers(headers: &[Header]) -> Value {
    headers.iter().map(|header| json!({ "name": header.name, "value": header.value })).collect()
}

fn diagnostic_list(diagnostics: &[Diagnostic]) -> Value {
    diagnostics
        .iter()
        .map(|diagnostic| {
            json!({
                "severity": severity(diagnostic.severity),
                "path": diagnostic.path,
                "message": diagnostic.message,
            })
        })
        .collect()
}

fn pairs(pairs: &[(String, String)]) -> Value {
    pairs.iter().map(|(name, value)| json!([name, value])).collect()
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Accepted => "accepted",
        Outcome::Rejected => "rejected",
        Outcome::Failed => "failed",
        Outcome::Unreachable => "unreachable",
        Outcome::Invalid => "invalid",
        Outcome::NeedsConfirmation => "needs-confirmation",
    }
}

/// The WIT name of a failure kind (`invalid-request`, `http-status`, ...).
pub fn failure_kind(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::InvalidRequest => "invalid-request",
        FailureKind::HttpStatus => "http-status",
        FailureKind::Timeout => "timeout",
        FailureKind::Connection => "connection",
        FailureKind::Protocol => "protocol",
    }
}

/// An object with `id` first, then one `key: value` (the reply line's shape).
pub fn reply(id: Value, key: &str, value: Value) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), id);
    object.insert(key.into(), value);
    Value::Object(object)
}
