//! Replays every seed of every fuzz target as an ordinary test, on stable Rust: each file of
//! `seeds/<target>/` goes, bytes as they are, through `targets::<target>::run`, the very
//! function the `fuzz_target!` of `fuzz_targets/<target>.rs` calls (no copy of its body).
//!
//! It lives in the fuzz package because the targets do (with their dependencies: the test kit,
//! serde_json_path as the reference), and runs without libFuzzer, which needs nightly:
//!
//!     cargo test --manifest-path fuzz/Cargo.toml --no-default-features
//!
//! `scripts/test` runs exactly that. So a crash that fuzzing finds, once its input is copied
//! into `seeds/<target>/` (under a name that says what it is), is a regression test of the
//! normal test command from then on.
//!
//! Each seed is one case: it runs on a thread of its own with the stack of a main thread
//! (where libFuzzer runs the targets), a panic fails that seed only, and the test of a target
//! reports every failing seed by its file name with the panic's message. A seed that makes no
//! input of its target (`run` returns false: e.g. a structured seed too short to decode)
//! fails too, since it would prove nothing. Every directory under `seeds/` must be a target's,
//! and every target must have seeds, so none is silently left out.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::thread;

use do_dedicated_inference_task_fuzz::targets;

/// A target's function: panics when an invariant breaks, false when the bytes make no input.
type Run = fn(&[u8]) -> bool;

/// The targets, as the fuzz binaries name them, with their functions.
const TARGETS: &[(&str, Run)] = &[
    ("jsonata", targets::jsonata::run),
    ("jsonpath", targets::jsonpath::run),
    ("render", targets::render::run),
    ("response", targets::response::run),
    ("validate", targets::validate::run),
];

/// A main thread's stack on Linux, where libFuzzer runs a target.
const STACK: usize = 8 << 20;

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Runs every seed of `name` through `run`; panics naming each seed that failed.
fn replay(name: &str) {
    let run = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, run)| *run)
        .expect("a known target");
    let dir = seeds_dir().join(name);
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{} has no seeds", dir.display());

    let mut failures = Vec::new();
    for seed in &seeds {
        let file = seed.file_name().unwrap().to_string_lossy().into_owned();
        let label = format!("seeds/{name}/{file}");
        assert!(seed.is_file(), "{label} is not a file");
        let data = std::fs::read(seed).unwrap_or_else(|e| panic!("{label}: {e}"));
        let outcome = thread::Builder::new()
            .name(label.clone())
            .stack_size(STACK)
            .spawn(move || run(&data))
            .expect("a thread for the seed")
            .join();
        match outcome {
            Ok(true) => {}
            Ok(false) => failures.push(format!(
                "{label}: makes no input of the {name} target, so it checks nothing"
            )),
            Err(payload) => failures.push(format!("{label}: {}", panic_message(&*payload))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {name} seeds failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    eprintln!("{} {name} seeds replayed", seeds.len());
}

#[test]
fn jsonata_seeds() {
    replay("jsonata");
}

#[test]
fn jsonpath_seeds() {
    replay("jsonpath");
}

#[test]
fn render_seeds() {
    replay("render");
}

#[test]
fn response_seeds() {
    replay("response");
}

#[test]
fn validate_seeds() {
    replay("validate");
}

/// Every directory of `seeds/` is a target's, replayed above; nothing else lies there.
#[test]
fn every_seed_directory_is_a_target() {
    for entry in std::fs::read_dir(seeds_dir()).expect("fuzz/seeds") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            path.is_dir() && TARGETS.iter().any(|(n, _)| *n == name),
            "seeds/{name} is not the seed directory of a target in {TARGETS:?}: \
             tests/seeds.rs would not replay it",
            TARGETS = TARGETS.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        );
    }
}

/// Every fuzz binary (`fuzz_targets/<name>.rs`) is in `TARGETS`, and so has its seeds replayed.
#[test]
fn every_fuzz_target_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets");
    let mut binaries: Vec<String> = std::fs::read_dir(&dir)
        .expect("fuzz/fuzz_targets")
        .map(|entry| entry.expect("a directory entry").path())
        .filter_map(|p| Some(p.file_name()?.to_str()?.strip_suffix(".rs")?.to_string()))
        .collect();
    binaries.sort();
    let replayed: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        binaries, replayed,
        "the fuzz targets and those tests/seeds.rs replays"
    );
}
