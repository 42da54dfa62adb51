//! The conformance adapter (docs/conformance.md): a ready line, then one JSON request per
//! line on stdin, each run on a fresh instance, answered by one JSON line on stdout, in order.
//! A request line it cannot use gets an `error` reply; nothing in a request ends the process.

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use rust_host::{TaskRunner, json};
use serde_json::{Value, json};

pub const HOST: &str = "wasmtime 50.0.1 + wasmtime-wasi-http 50.0.1 (Rust)";

pub fn run(wasm: &Path) -> Result<(), String> {
    let runner = TaskRunner::new(wasm)
        .map_err(|error| format!("cannot load {}: {error:?}", wasm.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let ready = json!({ "ready": true, "host": HOST, "memory-limit": true });
    write_line(&mut out, &ready)?;
    let mut input = std::io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|error| format!("reading stdin: {error}"))?;
        if read == 0 {
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let reply = match std::str::from_utf8(&line) {
            Ok(text) => answer_line(&runner, text),
            Err(_) => json::reply(Value::Null, "error", "bad request line: not UTF-8".into()),
        };
        write_line(&mut out, &reply)?;
    }
}

fn write_line(out: &mut impl Write, value: &Value) -> Result<(), String> {
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(|error| format!("writing stdout: {error}"))
}

/// The reply to one request line.
pub fn answer_line(runner: &TaskRunner, line: &str) -> Value {
    let request: Value = match serde_json::from_str(line) {
        Ok(request) => request,
        Err(error) => {
            return json::reply(Value::Null, "error", format!("bad request line: {error}").into());
        }
    };
    let Value::Object(request) = request else {
        return json::reply(Value::Null, "error", "bad request line: not a JSON object".into());
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let (key, value) = match answer(runner, &request) {
        Ok(value) => ("ok", value),
        Err(Failure::Trap(message)) => ("trap", message.into()),
        Err(Failure::Error(message)) => ("error", message.into()),
    };
    json::reply(id, key, value)
}

enum Failure {
    /// The call itself failed: the component trapped, or the host failed to instantiate it.
    Trap(String),
    /// The adapter could not make the call: a bad request line.
    Error(String),
}

fn answer(runner: &TaskRunner, request: &serde_json::Map<String, Value>) -> Result<Value, Failure> {
    let call = match request.get("call") {
        Some(Value::String(call))
            if ["describe", "render", "test-request", "execute"].contains(&call.as_str()) =>
        {
            call
        }
        other => {
            return Err(Failure::Error(format!("unknown call {}", python_repr(other))));
        }
    };
    let memory_limit = memory_limit(request.get("options")).map_err(Failure::Error)?;
    let input = match call.as_str() {
        "describe" => None,
        _ => match request.get("input") {
            Some(input) => Some(json::task_input(input).map_err(Failure::Error)?),
            None => return Err(Failure::Error("`input` is missing".into())),
        },
    };
    // A fresh instance per call, as an engine runs each step. wasmtime reports traps as
    // errors; a panic in the host (none is known) is reported as a trap, not a crash.
    let outcome = catch_unwind(AssertUnwindSafe(|| -> wasmtime::Result<Value> {
        let (mut store, task) = runner.instantiate(memory_limit)?;
        let task = task.workflow_http_task_task();
        Ok(match (call.as_str(), &input) {
            ("render", Some(input)) => json::render_result(&task.call_render(&mut store, input)?),
            ("test-request", Some(input)) => {
                json::test_result(&task.call_test_request(&mut store, input)?)
            }
            ("execute", Some(input)) => {
                json::execute_result(&task.call_execute(&mut store, input)?)
            }
            _ => json::operation_info(&task.call_describe(&mut store)?),
        })
    }));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        // `{:?}`: the message with its causes and wasm backtrace, as wasmtime's C API (and so
        // wasmtime-py) reports an error.
        Ok(Err(error)) => Err(Failure::Trap(format!("{error:?}"))),
        Err(_) => Err(Failure::Trap("the host panicked during the call".into())),
    }
}

/// `options.memory-limit-bytes`: absent, null or a non-negative integer.
fn memory_limit(options: Option<&Value>) -> Result<Option<usize>, String> {
    let limit = match options {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(options)) => options.get("memory-limit-bytes"),
        Some(_) => return Err("`options` must be an object".into()),
    };
    match limit {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64().map(usize::try_from) {
            Some(Ok(bytes)) => Ok(Some(bytes)),
            _ => Err(format!(
                "`options.memory-limit-bytes` must be a non-negative integer, not {value}"
            )),
        },
    }
}

/// The value as Python's `repr` writes it, so that `unknown call ...` reads as the Python
/// adapter's does.
fn python_repr(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".into(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        Some(Value::String(text)) => {
            let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
            let mut repr = String::from(quote);
            for character in text.chars() {
                match character {
                    '\\' => repr.push_str("\\\\"),
                    '\n' => repr.push_str("\\n"),
                    '\r' => repr.push_str("\\r"),
                    '\t' => repr.push_str("\\t"),
                    c if c == quote => {
                        repr.push('\\');
                        repr.push(c);
                    }
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                        repr.push_str(&format!("\\x{:02x}", c as u32))
                    }
                    c => repr.push(c),
                }
            }
            repr.push(quote);
            repr
        }
        Some(other) => other.to_string(),
    }
}
