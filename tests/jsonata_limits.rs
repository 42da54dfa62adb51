//! JSONata's memory limit, with the component's own allocator
//! (`jsonata::GuardedAllocator`, the component's global allocator in src/lib.rs) installed in
//! this test binary, so that `Guard` sees every allocation as it does in wasm.

use std::time::Duration;

use do_dedicated_inference_task::jsonata::{
    self, Clock, DEFAULT_LIMITS, GuardedAllocator, JValue, Limits, Problem,
};

#[global_allocator]
static ALLOCATOR: GuardedAllocator = GuardedAllocator;

/// The component's limits, but time enough that a loaded machine running a debug build
/// meets the memory limit first.
fn evaluate(expression: &str) -> Result<JValue, Problem> {
    let limits = Limits {
        time: Duration::from_secs(60),
        ..DEFAULT_LIMITS
    };
    jsonata::evaluate(expression, &JValue::Null, &[], &Clock::new(limits))
}

#[test]
fn values_that_outgrow_the_memory_limit_are_stopped() {
    for expression in [
        // Doubling a string 30 times: 2 GiB.
        "($s := function($x, $n){$n = 0 ? $x : $s($x & $x, $n - 1)}; $length($s('ab', 30)))",
        // 99,999 ranges of 99,999 numbers each.
        "$count([1..99999].[1..99999])",
        "$length($join([1..99999].$string(), 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'))",
    ] {
        let problem = evaluate(expression).unwrap_err();
        assert!(
            problem.message.contains("more than 16 MiB of memory"),
            "{expression}: {problem:?}"
        );
    }
    // What fits is untouched, and the next evaluation starts afresh.
    assert_eq!(
        evaluate("$length($join([1..9999].$string(), 'x'))").unwrap(),
        JValue::Number(48_887.0)
    );
}

#[test]
fn pad_is_bounded_before_it_allocates() {
    let problem = evaluate("$pad('x', 100000000)").unwrap_err();
    assert!(
        problem.message.contains("over the 1048576 characters"),
        "{problem:?}"
    );
    // Otherwise exactly the crate's $pad (the official suite's function-pad cases pass).
    assert_eq!(
        evaluate("$pad('foo', -6, '-+')").unwrap(),
        JValue::from("-+-foo")
    );
}

#[test]
fn deep_recursion_ends_with_an_error() {
    for expression in [
        "($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(100000))",
        "($f := function($n){$n = 0 ? 0 : $reduce([1, 2], function($a, $b){$f($n - 1)})}; $f(100000))",
        "($f := function($n){$n = 0 ? 0 : $sum($map([1], function($x){$f($n - 1)}))}; $f(100000))",
    ] {
        let problem = evaluate(expression).unwrap_err();
        assert!(
            problem.code.as_deref() == Some("D1011")
                || problem.message.contains("nested too deeply"),
            "{expression}: {problem:?}"
        );
    }
}
