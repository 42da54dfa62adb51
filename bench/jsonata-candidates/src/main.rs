//! Runs fixtures/jsonata-suite/suite.jsonl through one candidate (`jsonata-core`, through the
//! component's own path, or `jsonata-rs`) and prints each verdict as a JSON line; a panic is
//! a failed case ("panic: ..."), as it would be a trap in the component.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

use do_dedicated_inference_task::jsonata::Limits;
use do_dedicated_inference_task::jsonata_suite::{
    Answer, Component, Engine, Suite, Verdict, verdict_line,
};
use serde_json::{Map, Value};

/// Stedi's jsonata-rs: arena-allocated, its own error codes, `evaluate_timeboxed`.
struct JsonataRs;

impl Engine for JsonataRs {
    fn answer(
        &self,
        expression: &str,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
        limits: Limits,
    ) -> Answer {
        let arena = bumpalo::Bump::new();
        let compiled = match jsonata_rs::JsonAta::new(expression, &arena) {
            Ok(compiled) => compiled,
            Err(e) => return error(e.code(), e.to_string()),
        };
        let input = input.map(Value::to_string);
        let bound: Vec<(String, Value)> = bindings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bindings: std::collections::HashMap<&str, &Value> =
            bound.iter().map(|(k, v)| (k.as_str(), v)).collect();
        // `evaluate` binds the variables, `evaluate_timeboxed` applies the limits: bind through
        // the first with no input of its own is not possible, so the limits go unused when
        // there are bindings.
        let result = if bindings.is_empty() {
            compiled.evaluate_timeboxed(
                input.as_deref(),
                Some(limits.max_stack_depth),
                usize::try_from(limits.time.as_millis()).ok(),
            )
        } else {
            compiled.evaluate(input.as_deref(), Some(&bindings))
        };
        match result {
            Err(e) => error(e.code(), e.to_string()),
            Ok(value) if value.is_undefined() => Answer::Undefined,
            Ok(value) => match serde_json::from_str(&value.serialize(false)) {
                Ok(json) => Answer::Value(json),
                Err(e) => error("", format!("unreadable result: {e}")),
            },
        }
    }
}

fn error(code: &str, message: String) -> Answer {
    Answer::Error {
        code: (!code.is_empty()).then(|| code.to_owned()),
        message,
    }
}

fn main() {
    let engine: &dyn Engine = match std::env::args().nth(1).as_deref() {
        Some("jsonata-core") => &Component,
        Some("jsonata-rs") => &JsonataRs,
        _ => {
            eprintln!("usage: jsonata-candidates jsonata-core|jsonata-rs < suite.jsonl");
            std::process::exit(2);
        }
    };
    std::panic::set_hook(Box::new(|_| {}));
    let mut suite = String::new();
    std::io::stdin().read_to_string(&mut suite).expect("stdin");
    let mut lines = suite.lines();
    let header = Suite::from_header(lines.next().expect("header")).expect("header");
    for line in lines {
        let verdict =
            catch_unwind(AssertUnwindSafe(|| header.run(line, engine))).unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let name = |key: &str| {
                    serde_json::from_str::<Value>(line)
                        .ok()
                        .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_default()
                };
                Verdict {
                    group: name("group"),
                    name: name("name"),
                    failure: Some(format!("panic: {message}")),
                }
            });
        println!("{}", verdict_line(&verdict));
    }
}
