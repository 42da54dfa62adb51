//! JSONata expressions and parameters, through the component's own path
//! (`jsonata::evaluate` and `jsonata::to_json`, then a whole render of a body holding the
//! expression as a placeholder).
//!
//! The oracle is `catch_unwind`: with `panic = "abort"` a panic in the component is a trap, so
//! whatever the crate panics on must be refused before it is evaluated (`jsonata.rs`,
//! `refuse_costly`). The input's first byte picks the parameters (one of the fixtures'
//! documents); the rest is the expression.
//!
//! Invariants: no panic; an evaluation ends within its time limit plus a margin; and a
//! rendered placeholder either gives a value or a diagnostic at its field path.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use do_dedicated_inference_task::diagnostic::Diagnostics;
use do_dedicated_inference_task::jsonata::{self, Clock, DEFAULT_LIMITS, JValue, Limits};
use do_dedicated_inference_task::template::{JsonBudget, Parameters, render_json};
use serde_json::{Value, json};

/// Shorter than the component's second, so that the fuzzer spends its time on many inputs.
const TIME: Duration = Duration::from_millis(50);

fn documents() -> [Value; 3] {
    [
        json!({}),
        serde_json::from_str(include_str!("../../../fixtures/parameters.json"))
            .expect("the fixture is JSON"),
        json!({"n": 1, "s": "a}b", "list": [1, 2.5, "x", null, true, {"k": [{}]}],
               "deep": {"a": {"b": {"c": [[[1]]]}}}, "team": "Ops", "models": [{"slug": "m", "gpu": "g"}]}),
    ]
}

pub fn run(data: &[u8]) -> bool {
    let Some((&pick, expression)) = data.split_first() else {
        return false;
    };
    let Ok(expression) = std::str::from_utf8(expression) else {
        return false;
    };
    let documents = documents();
    let parameters = &documents[usize::from(pick) % documents.len()];
    let limits = Limits {
        time: TIME,
        ..DEFAULT_LIMITS
    };
    let started = Instant::now();
    let evaluated = catch_unwind(AssertUnwindSafe(|| {
        let input = JValue::from(parameters.clone());
        jsonata::evaluate(expression, &input, &[], &Clock::new(limits))
            .map(|value| jsonata::to_json(&value, 128))
    }));
    if evaluated.is_err() {
        panic!("jsonata-core panicked on {expression:?}: refuse it before evaluating");
    }
    let took = started.elapsed();
    // The crate checks its clock between steps; a single step is short.
    assert!(
        took < TIME * 20 + Duration::from_secs(1),
        "{expression:?} took {took:?}, past its {TIME:?}"
    );

    // The same expression as a placeholder, whole and inside text: a value or a diagnostic
    // at its field, never a panic.
    let template = json!({
        "whole": format!("${{jsonata: {expression}}}"),
        "text": format!("a-${{jsonata: {expression}}}-b"),
    });
    let mut diagnostics = Diagnostics::new();
    let rendered = catch_unwind(AssertUnwindSafe(|| {
        render_json(
            &template,
            &Parameters::new(parameters),
            JsonBudget {
                bytes: 1 << 20,
                values: 100_000,
            },
            "httpRequest.body",
            &mut diagnostics,
        )
    }));
    let Ok(rendered) = rendered else {
        panic!("rendering {expression:?} panicked");
    };
    if rendered.is_none() {
        assert!(
            diagnostics
                .to_vec()
                .iter()
                .any(|d| d.path.starts_with("httpRequest.body")),
            "{expression:?}: no value and no diagnostic at the body"
        );
    }
    true
}
