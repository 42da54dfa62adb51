//! The official JSONata suite inside wasm: reads suite.jsonl on stdin, prints one verdict a
//! line (`jsonata_suite::verdict_line`) on stdout. Built for wasm32-wasip2 with the same
//! profile as the component (tests/e2e/test_jsonata_suite.py), so that a case the component's
//! evaluation path loses in wasm, and not natively, shows.

use std::io::{Read, Write};

use do_dedicated_inference_task::jsonata_suite::{Component, run_all, verdict_line};

fn main() -> std::process::ExitCode {
    let mut suite = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut suite) {
        eprintln!("jsonata-suite: reading stdin: {e}");
        return std::process::ExitCode::from(2);
    }
    match run_all(&suite, &Component) {
        Ok(verdicts) => {
            let mut out = std::io::stdout().lock();
            for verdict in &verdicts {
                if writeln!(out, "{}", verdict_line(verdict)).is_err() {
                    return std::process::ExitCode::from(2);
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jsonata-suite: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
