//! See Cargo.toml: the platform work of one call, with none of the product's logic.

use std::time::SystemTime;

use serde_json::Value;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

// The product's bindings, exactly: its WASI imports are the `wasip2` crate's types.
wit_bindgen::generate!({
    path: "../../wit",
    world: "http-task",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
    },
});

use exports::workflow::http_task::task::Guest;
use workflow::http_task::types as wit;

struct Floor;
export!(Floor);

/// Parses both inputs and writes one back: the JSON work every call does.
fn round_trip(input: &wit::TaskInput) -> Result<String, String> {
    let definition: Value = serde_json::from_str(&input.definition).map_err(|e| e.to_string())?;
    let parameters: Value = serde_json::from_str(&input.parameters).map_err(|e| e.to_string())?;
    serde_json::to_string(&[definition, parameters]).map_err(|e| e.to_string())
}

/// One POST through the host, its answer read whole.
fn post(body: &str) -> Result<(u16, Vec<u8>), String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Post).map_err(|()| "method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "scheme")?;
    request
        .set_authority(Some("127.0.0.1:8080"))
        .map_err(|()| "authority")?;
    let outgoing = request.body().map_err(|()| "body")?;
    let future = outgoing_handler::handle(request, None).map_err(|_| "wasi:http error")?;
    let stream = outgoing.write().map_err(|()| "stream")?;
    stream
        .blocking_write_and_flush(body.as_bytes())
        .map_err(|_| "wasi:http error")?;
    drop(stream);
    OutgoingBody::finish(outgoing, None).map_err(|_| "wasi:http error")?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        _ => return Err("no response".into()),
    };
    let incoming = response.consume().map_err(|()| "consume")?;
    let stream = incoming.stream().map_err(|()| "stream")?;
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(65536) {
        bytes.extend_from_slice(&chunk);
    }
    Ok((response.status(), bytes))
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    since.map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl Guest for Floor {
    fn describe() -> wit::OperationInfo {
        wit::OperationInfo {
            method: "POST".into(),
            server: String::new(),
            path: String::new(),
            summary: String::new(),
            description: String::new(),
            headers: vec![],
            body_fields: vec![],
            definition_fields: vec![],
            default_definition: "{}".into(),
            example_parameters: "{}".into(),
        }
    }

    fn render(input: wit::TaskInput) -> Result<wit::Rendered, Vec<wit::Diagnostic>> {
        let body = round_trip(&input).map_err(|message| {
            vec![wit::Diagnostic {
                severity: wit::Severity::Error,
                path: String::new(),
                message,
            }]
        })?;
        Ok(wit::Rendered {
            request: wit::RequestPreview {
                method: "POST".into(),
                url: String::new(),
                headers: vec![],
                body: Some(body),
            },
            warnings: vec![],
        })
    }

    fn test_request(input: wit::TaskInput) -> wit::TestResult {
        let started = now_ms();
        let answer = round_trip(&input).and_then(|body| post(&body));
        let summary = match &answer {
            Ok((status, body)) => format!("{status}: {} bytes", body.len()),
            Err(e) => e.clone(),
        };
        wit::TestResult {
            outcome: wit::Outcome::Failed,
            summary,
            request: None,
            response: None,
            diagnostics: vec![],
            elapsed_ms: now_ms() - started,
            revealed_secrets: vec![],
            exchanges: vec![],
        }
    }

    fn execute(input: wit::TaskInput) -> Result<String, wit::StepFailure> {
        round_trip(&input)
            .and_then(|body| post(&body))
            .map(|(_, body)| String::from_utf8_lossy(&body).into_owned())
            .map_err(|message| wit::StepFailure {
                kind: wit::FailureKind::Connection,
                retryable: true,
                retry_after_ms: None,
                message,
                diagnostics: vec![],
                response: None,
            })
    }
}
