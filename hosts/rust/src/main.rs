//! `rust-host`: the HTTP Task component in wasmtime 50 + wasmtime-wasi-http, from Rust.
//!
//!     rust-host adapter COMPONENT.wasm          the conformance adapter (docs/conformance.md)
//!     rust-host bench COMPONENT.wasm URL [N]    per-call figures against the stand-in at URL
//!
//! Neither prints a secret: the adapter's replies carry only what the component returned
//! (masked, except `execute`'s Ok and `revealed-secrets`, as for every host), and its errors
//! name places in the request line, never values.

mod adapter;
mod bench;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str =
    "usage: rust-host adapter COMPONENT.wasm\n       rust-host bench COMPONENT.wasm URL [CALLS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["adapter", wasm] => adapter::run(Path::new(wasm)),
        ["bench", wasm, url] => bench::run(Path::new(wasm), url, bench::DEFAULT_CALLS),
        ["bench", wasm, url, calls] => match calls.parse() {
            Ok(calls) if calls > 0 => bench::run(Path::new(wasm), url, calls),
            _ => Err(format!("CALLS must be a positive integer, not {calls:?}")),
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rust-host: {message}");
            ExitCode::FAILURE
        }
    }
}
