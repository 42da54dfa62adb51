//! The JSONPath Compliance Test Suite (`fixtures/jsonpath-cts/cts.json`, vendored) against
//! `jsonpath::parse` and evaluation: natively by tests/jsonpath.rs, and inside wasm by the
//! `suite` command (src/bin/suite.rs, tests/e2e/test_suites_in_wasm.py), so that a case lost
//! in wasm, and not natively, shows. One function judges both.

use serde_json::{Value, json};
use serde_json_path_core::spec::query::Queryable;

use crate::jsonata_suite::Verdict;
use crate::jsonpath;

/// The outcome the compliance test suite expects of one case, checked on `jsonpath::parse`:
/// an invalid selector is rejected; a valid one is accepted and selects `result` (or one of
/// `results`, where the RFC leaves the order open) from the case's `document`.
pub fn meets_expectation(test: &Value) -> Result<(), String> {
    let query = test
        .get("selector")
        .and_then(Value::as_str)
        .ok_or("the case's selector is not a string")?;
    let parsed = jsonpath::parse(query);
    if test.get("invalid_selector") == Some(&json!(true)) {
        return match parsed {
            Err(_) => Ok(()),
            Ok(ast) => Err(format!(
                "{query:?}: accepted ({ast}), but the selector is invalid"
            )),
        };
    }
    let ast =
        parsed.map_err(|e| format!("{query:?}: rejected ({e}), but the selector is valid"))?;
    let document = test
        .get("document")
        .ok_or(format!("{query:?}: a valid case without a document"))?;
    let got: Vec<Value> = ast.query(document, document).into_iter().cloned().collect();
    let allowed: Vec<&Value> = match (test.get("result"), test.get("results")) {
        (Some(result), _) => vec![result],
        (None, Some(Value::Array(results))) => results.iter().collect(),
        _ => {
            return Err(format!(
                "{query:?}: the case has neither result nor results"
            ));
        }
    };
    if allowed
        .iter()
        .any(|expected| **expected == Value::Array(got.clone()))
    {
        Ok(())
    } else {
        let allowed: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        Err(format!(
            "{query:?}: selected {} where the suite expects {}",
            Value::Array(got),
            allowed.join(" or ")
        ))
    }
}

/// Every case of `cts` (the text of cts.json), judged by `meets_expectation`.
pub fn run_all(cts: &str) -> Result<Vec<Verdict>, String> {
    let suite: Value = serde_json::from_str(cts).map_err(|e| format!("cts.json: {e}"))?;
    let tests = suite
        .get("tests")
        .and_then(Value::as_array)
        .ok_or("cts.json has no `tests`")?;
    Ok(tests
        .iter()
        .map(|test| Verdict {
            group: "jsonpath-cts".into(),
            name: test
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            failure: meets_expectation(test).err(),
        })
        .collect())
}
