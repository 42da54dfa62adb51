//! Native render + validate (`task::render`) of the fixture and of the 50- and
//! 100-deployment definitions in bench/fixtures/ (made by bench/gen_fixtures.py; the
//! wasm side of bench/bench.py renders the same files).
//!
//! Run through `scripts/bench`, which reads the medians criterion writes to
//! `target/criterion/render/<case>/new/estimates.json` (`median.point_estimate`, ns). On its
//! own: `cargo bench --bench render -- --measurement-time 3`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OPERATION;
use do_dedicated_inference_task::request::{TaskInput, render_request};
use do_dedicated_inference_task::task;

/// A token the stand-in would accept: with it the request gets its `Authorization` header
/// and renders without the "no token" warning, as a real step does.
const TOKEN: &str = "dop_v1_bench0000000000000000000000000000000000000000000000000000000000";

/// (criterion id under `render/`, definition file, parameters file), relative to the crate.
const CASES: &[(&str, &str, &str)] = &[
    (
        "fixture",
        "fixtures/definition.json",
        "fixtures/parameters.json",
    ),
    (
        "deployments-50",
        "bench/fixtures/definition-50.json",
        "bench/fixtures/parameters-50.json",
    ),
    (
        "deployments-100",
        "bench/fixtures/definition-100.json",
        "bench/fixtures/parameters-100.json",
    ),
];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run bench/gen_fixtures.py)", path.display()))
}

/// The case's input, checked to render with no diagnostic at all: a definition that failed
/// validation early would time less than the whole work.
fn input(id: &str, definition: &str, parameters: &str) -> TaskInput {
    let input = TaskInput {
        definition: read(definition),
        parameters: read(parameters),
        secrets: vec![("token".into(), TOKEN.into())],
    };
    let diagnostics = render_request(&OPERATION, &input).diagnostics.to_vec();
    assert!(
        diagnostics.is_empty(),
        "{id}: the benchmark input must render cleanly: {diagnostics:#?}"
    );
    input
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    for &(id, definition, parameters) in CASES {
        let input = input(id, definition, parameters);
        group.bench_function(id, |b| {
            b.iter(|| task::render(&OPERATION, black_box(&input)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
