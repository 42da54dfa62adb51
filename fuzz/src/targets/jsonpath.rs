//! `jsonpath::parse` on any text, differential against `serde_json_path` (the parser it
//! replaces, as tests/jsonpath.rs does for hand-written and generated queries).
//!
//! Invariants: parsing never panics, and a parsed query evaluates without panicking; both
//! parsers agree on acceptance, and when both accept, on the AST (`Debug` and `Display`) and on
//! the results over fixed documents.
//!
//! The known differences are left out of the comparison, not hidden: serde_json_path has no
//! nesting limit (it overflows the stack on deep input and takes time exponential in the
//! depth of nested filters), so queries nested deeper than `REFERENCE_MAX_NESTING` are only
//! parsed here (ours stops at `MAX_DEPTH` with an error); and serde_json_path panics on some
//! truncated `\u` escapes, which counts as a rejection. match() and search() are unknown to
//! both (serde_json_path is built without regex, as in the root crate's tests).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{LazyLock, Once};

use do_dedicated_inference_task::jsonpath::{self, MAX_DEPTH};
use serde_json::{Value, json};
use serde_json_path::JsonPath;
use serde_json_path_core::spec::query::Queryable;

/// Deep enough for every construct to nest in itself a few times; shallow enough that the
/// reference parses in milliseconds (filters nested 12 deep are fine in tests/jsonpath.rs).
const REFERENCE_MAX_NESTING: usize = 10;
const _: () = assert!(REFERENCE_MAX_NESTING < MAX_DEPTH);

static DOCUMENTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        // RFC 9535 §1.5.
        serde_json::from_str(include_str!(
            "../../../fixtures/jsonpath-rfc9535-example.json"
        ))
        .expect("the RFC's example is JSON"),
        // The task's own parameters, and corners of comparison and typing.
        json!({
            "name": "support-llm", "region": "tor1", "publicEndpoint": true,
            "model": { "slug": "meta-llama/Llama-3.1-8B-Instruct", "scale": 1, "gpu": "gpu-h100x1-80gb" },
            "a": [3, 5, 1, 2, 4, { "b": "j" }, { "b": {} }, [0, 1], [], "", "☺", null, true, -0.0, 1e22],
            "é": { "'": "q", "\"": "dq", "\\": "bs", "\n": "nl", "": "empty" }
        }),
    ]
});

thread_local! {
    /// Set while the reference parses: only its panics are caught.
    static IN_REFERENCE: Cell<bool> = const { Cell::new(false) };
}

/// When fuzzing, libfuzzer-sys's panic hook aborts, so `catch_unwind` alone would not survive the
/// reference's panics. This hook stays quiet for those and defers to the hook it replaces
/// (libfuzzer-sys's, or the default one in the native replay) for every other panic, ours
/// included, which remain crashes (failures).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_REFERENCE.with(Cell::get) {
                fuzzer_hook(info);
            }
        }));
    });
}

/// serde_json_path's verdict; a panic is a rejection.
fn reference(query: &str) -> Option<JsonPath> {
    IN_REFERENCE.with(|flag| flag.set(true));
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| JsonPath::parse(query).ok()));
    IN_REFERENCE.with(|flag| flag.set(false));
    parsed.ok().flatten()
}

/// How deeply brackets and parentheses nest, counting those inside string literals too (an
/// overestimate only makes the comparison skip more).
fn nesting(query: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0);
    for b in query.bytes() {
        match b {
            b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The target: one input. Returns whether it was checked (false: not UTF-8, so no query).
pub fn run(data: &[u8]) -> bool {
    install_panic_hook();
    let Ok(query) = std::str::from_utf8(data) else {
        return false;
    };
    let mine = jsonpath::parse(query);
    if let Ok(ast) = &mine {
        for doc in DOCUMENTS.iter() {
            let _ = ast.query(doc, doc);
        }
    }
    if nesting(query) > REFERENCE_MAX_NESTING {
        return true;
    }
    match (mine, reference(query)) {
        (Err(_), None) => {}
        (Ok(ast), None) => panic!("{query:?}: accepted here ({ast}), rejected by serde_json_path"),
        (Err(e), Some(path)) => {
            panic!("{query:?}: rejected here ({e}), accepted by serde_json_path ({path})")
        }
        (Ok(ast), Some(path)) => {
            assert_eq!(
                format!("JsonPath({ast:?})"),
                format!("{path:?}"),
                "{query:?}: ASTs differ"
            );
            assert_eq!(
                ast.to_string(),
                path.to_string(),
                "{query:?}: displays differ"
            );
            // serde_json_path runs a pattern as a `regex` pattern, not as an I-Regexp (`\d` is a
            // digit there, not an invalid pattern): what match() and search() select is checked
            // against the compliance test suite (tests/jsonpath.rs), not against it.
            if query.contains("match(") || query.contains("search(") {
                return true;
            }
            for doc in DOCUMENTS.iter() {
                assert_eq!(
                    ast.query(doc, doc),
                    path.query(doc).all(),
                    "{query:?}: results differ on {doc}"
                );
            }
        }
    }
    true
}
