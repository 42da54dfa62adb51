//! The official JSONata test suite (fixtures/jsonata-suite/suite.jsonl, vendored by
//! tools/vendor_jsonata_suite.py) run through an `Engine`: natively by tests/jsonata_suite.rs,
//! inside wasm by the `suite` binary (tests/e2e/test_suites_in_wasm.py), and against
//! another crate by bench/jsonata-candidates. One runner, so the figures compare.

use serde_json::{Map, Value};

use crate::jsonata::{self, Clock, DEFAULT_LIMITS, JValue, Limits};

/// What an engine answered for one case.
#[derive(Debug)]
pub enum Answer {
    Value(Value),
    Undefined,
    Error {
        code: Option<String>,
        message: String,
    },
}

/// A JSONata implementation under test.
pub trait Engine {
    /// Evaluates `expression` against `input` (None: no input) with `bindings`, stopping at
    /// `limits` when the engine has them.
    fn answer(
        &self,
        expression: &str,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
        limits: Limits,
    ) -> Answer;
}

/// The component's own path: `jsonata::evaluate`, then `jsonata::to_json`.
pub struct Component;

impl Engine for Component {
    fn answer(
        &self,
        expression: &str,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
        limits: Limits,
    ) -> Answer {
        let input = input.map_or(JValue::Undefined, |v| JValue::from(v.clone()));
        let bindings: Vec<(String, JValue)> = bindings
            .iter()
            .map(|(k, v)| (k.clone(), JValue::from(v.clone())))
            .collect();
        match jsonata::evaluate(expression, &input, &bindings, &Clock::new(limits)) {
            Err(problem) => Answer::Error {
                code: problem.code,
                message: problem.message,
            },
            Ok(value) => match jsonata::to_json(&value, crate::template::MAX_NESTING) {
                Ok(Some(value)) => Answer::Value(value),
                Ok(None) => Answer::Undefined,
                Err(problem) => Answer::Error {
                    code: None,
                    message: problem,
                },
            },
        }
    }
}

/// One case's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub group: String,
    pub name: String,
    /// None: passed; otherwise why not.
    pub failure: Option<String>,
}

/// The suite's first line: where it came from and its datasets.
pub struct Suite {
    datasets: Map<String, Value>,
}

impl Suite {
    /// Reads the header line of suite.jsonl.
    pub fn from_header(line: &str) -> Result<Self, String> {
        let header: Value = serde_json::from_str(line).map_err(|e| format!("header: {e}"))?;
        let datasets = header
            .get("datasets")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("header: no datasets")?;
        Ok(Suite { datasets })
    }

    /// Runs one case line through `engine`. A line that is not JSON Rust can hold (the
    /// suite's two lone surrogates) fails with that reason, naming the case from its text.
    pub fn run(&self, line: &str, engine: &dyn Engine) -> Verdict {
        let case: Map<String, Value> = match serde_json::from_str(line) {
            Ok(case) => case,
            Err(e) => {
                let field = |key: &str| {
                    line.split(&format!("\"{key}\":\""))
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .unwrap_or("?")
                        .to_owned()
                };
                return Verdict {
                    group: field("group"),
                    name: field("name"),
                    failure: Some(format!("not representable in Rust strings: {e}")),
                };
            }
        };
        let text = |key: &str| {
            case.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let failure = self.judge(&case, engine);
        Verdict {
            group: text("group"),
            name: text("name"),
            failure,
        }
    }

    fn judge(&self, case: &Map<String, Value>, engine: &dyn Engine) -> Option<String> {
        let expression = case.get("expr").and_then(Value::as_str)?;
        let input = match (case.get("data"), case.get("dataset")) {
            (Some(data), _) => Some(data),
            (None, Some(Value::String(name))) => self.datasets.get(name),
            _ => None,
        };
        let empty = Map::new();
        let bindings = case
            .get("bindings")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let limit = |key: &str| case.get(key).and_then(Value::as_u64);
        // A case's own limits apply within the component's, never beyond them.
        let limits = Limits {
            time: limit("timelimit")
                .map(std::time::Duration::from_millis)
                .map_or(DEFAULT_LIMITS.time, |t| t.min(DEFAULT_LIMITS.time)),
            max_stack_depth: limit("depth")
                .and_then(|d| usize::try_from(d).ok())
                .map_or(DEFAULT_LIMITS.max_stack_depth, |d| {
                    d.min(DEFAULT_LIMITS.max_stack_depth)
                }),
            ..DEFAULT_LIMITS
        };
        let answer = engine.answer(expression, input, bindings, limits);
        let expected_code = case.get("code").and_then(Value::as_str);
        match (answer, expected_code) {
            (Answer::Error { code, .. }, Some(expected)) if code.as_deref() == Some(expected) => {
                None
            }
            // U1001 is the suite harness's own error for its `depth` limit; the crate's error
            // for the same limit (max_stack_depth) is D1011.
            (Answer::Error { code, .. }, Some("U1001")) if code.as_deref() == Some("D1011") => None,
            (Answer::Error { message, .. }, Some(expected)) => {
                Some(format!("expected {expected}, got the error {message}"))
            }
            (other, Some(expected)) => Some(format!("expected {expected}, got {other:?}")),
            (Answer::Undefined, None) if case.contains_key("undefinedResult") => None,
            (Answer::Value(value), None) => match case.get("result") {
                Some(expected) if same(expected, &value, case.contains_key("unordered")) => None,
                Some(expected) => Some(format!("expected {expected}, got {value}")),
                None => Some(format!("expected undefined, got {value}")),
            },
            (Answer::Undefined, None) => Some("expected a result, got undefined".into()),
            (Answer::Error { message, .. }, None) => Some(format!("error {message}")),
        }
    }
}

/// JSON equality with numbers equal within 1e-9 (relative), arrays in any order when
/// `unordered`.
fn same(expected: &Value, got: &Value, unordered: bool) -> bool {
    match (expected, got) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
        }
        (Value::Array(a), Value::Array(b)) if unordered => {
            let mut left: Vec<&Value> = b.iter().collect();
            a.len() == b.len()
                && a.iter().all(|x| {
                    left.iter()
                        .position(|y| same(x, y, false))
                        .map(|i| left.swap_remove(i))
                        .is_some()
                })
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, false))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same(x, y, false)))
        }
        _ => expected == got,
    }
}

/// Runs every case of `suite` (the text of suite.jsonl) through `engine`.
pub fn run_all(suite: &str, engine: &dyn Engine) -> Result<Vec<Verdict>, String> {
    let mut lines = suite.lines();
    let header = Suite::from_header(lines.next().ok_or("empty suite")?)?;
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| header.run(line, engine))
        .collect())
}

/// One verdict as a JSON line: what the runners print and the tests compare.
pub fn verdict_line(verdict: &Verdict) -> String {
    serde_json::json!({
        "group": verdict.group,
        "name": verdict.name,
        "failure": verdict.failure,
    })
    .to_string()
}
