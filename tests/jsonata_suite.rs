//! The official JSONata suite, natively, through the component's own evaluation path
//! (`jsonata::evaluate` and `jsonata::to_json` under `DEFAULT_LIMITS`). Every verdict goes to
//! target/jsonata-suite/native.jsonl, which tests/e2e/test_suites_in_wasm.py compares with
//! the same run inside wasm and tools/jsonata_report.py turns into docs/jsonata.md.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use do_dedicated_inference_task::jsonata_suite::{Component, Suite, Verdict, verdict_line};

const SUITE: &str = include_str!("../fixtures/jsonata-suite/suite.jsonl");
/// The cases known to fail, one `group/name` a line after its reason in a comment: a new
/// failure, or a listed case that now passes, fails this test until the list says so.
const KNOWN_FAILURES: &str = include_str!("../fixtures/jsonata-suite/known-failures.txt");

#[test]
fn the_official_suite_passes_as_documented() {
    let mut lines = SUITE.lines();
    let suite = Suite::from_header(lines.next().unwrap()).unwrap();
    let verdicts: Vec<Verdict> = lines
        .map(|line| {
            catch_unwind(AssertUnwindSafe(|| suite.run(line, &Component))).unwrap_or_else(|_| {
                panic!("a panic evaluating {line}");
            })
        })
        .collect();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../jsonata-suite");
    std::fs::create_dir_all(&out).unwrap();
    let text: String = verdicts.iter().map(|v| verdict_line(v) + "\n").collect();
    std::fs::write(out.join("native.jsonl"), text).unwrap();

    let failing: BTreeMap<String, &str> = verdicts
        .iter()
        .filter_map(|v| Some((format!("{}/{}", v.group, v.name), v.failure.as_deref()?)))
        .collect();
    let known: Vec<&str> = KNOWN_FAILURES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let new: Vec<String> = failing
        .iter()
        .filter(|(name, _)| !known.contains(&name.as_str()))
        .map(|(name, why)| format!("{name}: {why}"))
        .collect();
    let fixed: Vec<&&str> = known
        .iter()
        .filter(|k| !failing.contains_key(**k))
        .collect();
    assert!(
        new.is_empty(),
        "{} new failures:\n{}",
        new.len(),
        new.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these pass now, drop them from known-failures.txt: {fixed:?}"
    );
    let passed = verdicts.len() - failing.len();
    assert_eq!(verdicts.len(), 1686);
    assert!(
        passed * 100 >= verdicts.len() * 95,
        "{passed}/{}",
        verdicts.len()
    );
}
