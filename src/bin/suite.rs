//! The conformance suites inside wasm: `suite jsonata` runs the official JSONata suite
//! (suite.jsonl on stdin) through the component's evaluation path, `suite jsonpath` the JSONPath
//! Compliance Test Suite (cts.json on stdin) through its JSONPath parser and evaluation. One
//! verdict a line on stdout (`jsonata_suite::verdict_line`). Built for wasm32-wasip2 with the
//! component's profile and crates (scripts/build), run by tests/e2e/test_suites_in_wasm.py: a
//! case that passes natively and not here is the project's defect.

use std::io::{Read, Write};
use std::process::ExitCode;

use do_dedicated_inference_task::{jsonata_suite, jsonpath_cts};

fn main() -> ExitCode {
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("suite: reading stdin: {e}");
        return ExitCode::from(2);
    }
    let verdicts = match which.as_str() {
        "jsonata" => jsonata_suite::run_all(&input, &jsonata_suite::Component),
        "jsonpath" => jsonpath_cts::run_all(&input),
        other => Err(format!(
            "usage: suite jsonata|jsonpath < SUITE (not {other:?})"
        )),
    };
    match verdicts {
        Ok(verdicts) => {
            let mut out = std::io::stdout().lock();
            for verdict in &verdicts {
                if writeln!(out, "{}", jsonata_suite::verdict_line(verdict)).is_err() {
                    return ExitCode::from(2);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("suite: {e}");
            ExitCode::from(2)
        }
    }
}
