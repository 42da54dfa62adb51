//! `${jsonata: <expression>}` placeholders: JSONata, the engine's second documented expression
//! language, evaluated by the `jsonata-core` crate (chosen by measurement, docs/jsonata.md)
//! against the task's parameters (`$` and `$$`).
//!
//! This module owns what the crate does not: where a placeholder ends (JSONata's lexical
//! syntax), what is refused before evaluation (length, nesting, calls that would differ from
//! one run to the next), the limits every evaluation runs under, and turning a JSONata value
//! into JSON (f64 numbers that are whole become integers).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use jsonata_core::evaluator::{CancelToken, Context, Evaluator, EvaluatorError, EvaluatorOptions};
pub use jsonata_core::value::JValue;
use serde_json::Value;

/// What a placeholder's text starts with, after `${` and optional spaces, to be JSONata.
pub const PREFIX: &str = "jsonata:";

/// Longest JSONata expression accepted in one placeholder: parsing stays cheap, and the
/// examples of the engine's documentation are a few hundred characters.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// How deeply brackets (`(`, `[`, `{`) may nest in an expression. The crate's parser recurses
/// once per level (and grows its stack with `stacker`, which a wasm host's own stack cannot
/// follow): this bound keeps parsing far inside every host's stack.
pub const MAX_BRACKET_DEPTH: usize = 64;

/// How many operators and separators an expression may hold. The crate's parser and its
/// post-processing recurse once per prefix operator and right-associative chain link, and a
/// 1,000-link chain exhausts wasmtime's stack before the crate's own nesting error (U1002):
/// this keeps every expression's syntax tree far inside `max_stack_depth`.
pub const MAX_OPERATORS: usize = 256;

/// The widest `$pad` accepted: the crate allocates the padding at once (up to 2^31
/// characters), which no memory limit could stop in time.
pub const MAX_PAD_WIDTH: f64 = 1_048_576.0;

/// The limits every evaluation runs under: the crate's own guardrails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time all JSONata placeholders of one render may take together (D1012).
    pub time: Duration,
    /// Evaluation depth (D1011). The crate's default, 30,000, overflows the wasm stacks of
    /// wasmtime and V8 before its own error fires; see `DEFAULT_LIMITS`.
    pub max_stack_depth: usize,
    /// Longest sequence a step, range or function may build (D2015).
    pub max_sequence_length: usize,
    /// Heap bytes an evaluation may hold beyond what was live when it started: past it,
    /// `Guard` cancels it. Enforced where the allocator is `GuardedAllocator` (the component;
    /// tests/jsonata_limits.rs).
    pub max_memory: usize,
}

/// The component's limits. `max_stack_depth` is calibrated in docs/jsonata.md ("Stack"): the
/// costliest level measured (a call through `$reduce`, ~2.8 KiB of wasmtime's stack) exhausted
/// wasmtime's 512 KiB at 184 levels; 100 leaves it almost half. `max_sequence_length` is the
/// body's own value budget; `max_memory` keeps an evaluation far inside the 64 MiB the tests
/// cap guest memory at (test_limits.py).
#[cfg(not(jsonata_calibration))]
pub const DEFAULT_LIMITS: Limits = Limits {
    time: Duration::from_millis(1000),
    max_stack_depth: 100,
    max_sequence_length: 100_000,
    max_memory: 16 << 20,
};

/// tools/jsonata_stack.py's build (`--cfg jsonata_calibration`): the crate's own depth limit,
/// to find where each host's stack runs out.
#[cfg(jsonata_calibration)]
pub const DEFAULT_LIMITS: Limits = Limits {
    time: Duration::from_millis(5000),
    max_stack_depth: 30_000,
    max_sequence_length: 100_000,
    max_memory: 16 << 20,
};

/// The most values a JSONata result may hold to be turned into JSON: twice the body's budget
/// (the body's own check then says by how much it is over).
pub const MAX_RESULT_VALUES: usize = 200_000;

/// Functions whose result differs from one evaluation to the next: a preview would differ from
/// the request sent, and a retried step from its first attempt. `$eval` can call any of them.
pub const NONDETERMINISTIC: [&str; 6] =
    ["$now", "$millis", "$random", "$shuffle", "$uuid", "$eval"];

/// Why an expression did not give a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSONata's error code (`S0202`, `T2002`, `D1011`...), when it has one.
    pub code: Option<String>,
    /// The message, as JSONata words it (code included).
    pub message: String,
}

impl Problem {
    fn ours(message: String) -> Self {
        Problem {
            code: None,
            message,
        }
    }
}

/// The time all JSONata placeholders of one render share, started at the first evaluation.
#[derive(Debug)]
pub struct Clock {
    limits: Limits,
    started: std::cell::Cell<Option<Instant>>,
}

impl Clock {
    pub fn new(limits: Limits) -> Self {
        Clock {
            limits,
            started: std::cell::Cell::new(None),
        }
    }

    /// The options of the next evaluation: what is left of the time, the other limits.
    fn options(&self) -> Result<EvaluatorOptions, Problem> {
        let started = *self.started.get().get_or_insert_with(Instant::now);
        self.started.set(Some(started));
        let left = self.limits.time.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(Problem::ours(format!(
                "the JSONata placeholders of this request took more than {} ms together, the \
                 most one render may take",
                self.limits.time.as_millis()
            )));
        }
        Ok(EvaluatorOptions {
            // At least 1 ms: 0 would mean no limit.
            timeout_ms: Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1)),
            cancel: Some(CancelToken::new()),
            max_stack_depth: Some(self.limits.max_stack_depth),
            max_sequence_length: Some(self.limits.max_sequence_length),
        })
    }
}

/// Compiles and evaluates `expression` against `input`, with `bindings` as variables (the
/// component has none; the official suite's cases do), under what is left of `clock`.
/// `Ok(JValue::Undefined)` is JSONata's "no result".
pub fn evaluate(
    expression: &str,
    input: &JValue,
    bindings: &[(String, JValue)],
    clock: &Clock,
) -> Result<JValue, Problem> {
    refuse_costly(expression)?;
    let options = clock.options()?;
    let limits = clock.limits;
    let ast = jsonata_core::parser::parse(expression).map_err(|e| {
        // The crate's "Parse error: " says what the code already says (S0...).
        let message = e.display_message();
        let message = message.strip_prefix("Parse error: ").unwrap_or(&message);
        Problem {
            code: code_of(message),
            message: message.to_owned(),
        }
    })?;
    // The tree-walking evaluator (the crate's bytecode VM takes no host functions), with
    // `$pad` bounded: same semantics, the official suite says so (docs/jsonata.md).
    let mut context = Context::new();
    for (name, value) in bindings {
        context.bind(name.clone(), value.clone());
    }
    let cancel = options.cancel.clone();
    let mut evaluator = Evaluator::with_options(context, options);
    evaluator
        .register_fn_override("pad", bounded_pad)
        .map_err(|e| Problem::ours(e.message().to_owned()))?;
    let guard = Guard::arm(cancel, limits);
    let evaluated = evaluator.evaluate(&ast, input);
    let overrun = guard.disarm();
    match (evaluated, overrun) {
        (_, Some(overrun)) => Err(Problem::ours(overrun.message(limits))),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(Problem {
            code: code_of(e.message()),
            message: e.message().to_owned(),
        }),
    }
}

/// `$pad` as the crate implements it (jsonata-core 2.2.13, builtins.rs, MIT), refusing a
/// width over `MAX_PAD_WIDTH` before anything is allocated.
fn bounded_pad(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let type_error = |m: &str| Err(EvaluatorError::TypeError(m.to_owned()));
    if args.is_empty() || args.len() > 3 {
        return Err(EvaluatorError::EvaluationError(
            "pad() requires 2 or 3 arguments".into(),
        ));
    }
    let string = match args.first() {
        Some(JValue::String(s)) => s.clone(),
        Some(JValue::Null) => return Ok(JValue::Null),
        Some(JValue::Undefined) | None => return Ok(JValue::Undefined),
        _ => return type_error("pad() first argument must be a string"),
    };
    let width = match args.get(1) {
        Some(JValue::Number(n)) if n.abs() > MAX_PAD_WIDTH => {
            return Err(EvaluatorError::EvaluationError(format!(
                "D3141: $pad's width {n} is over the {MAX_PAD_WIDTH} characters this task accepts"
            )));
        }
        // Within ±2^20: exact, as the crate's `as i32`.
        #[allow(clippy::cast_possible_truncation)]
        Some(JValue::Number(n)) => *n as i32,
        Some(JValue::Undefined) | None => return Ok(JValue::String(string)),
        _ => return type_error("pad() second argument must be a number"),
    };
    let pad: Vec<char> = match args.get(2) {
        Some(JValue::String(s)) if !s.is_empty() => s.chars().collect(),
        _ => vec![' '],
    };
    let needed = (width.unsigned_abs() as usize).saturating_sub(string.chars().count());
    let padding: String = pad.iter().cycle().take(needed).collect();
    Ok(JValue::string(if width < 0 {
        format!("{padding}{string}")
    } else {
        format!("{string}{padding}")
    }))
}

/// The JSONata code a message carries (`S0202`), after whatever the crate puts before it
/// ("Parse error: Invalid syntax: T1006: ..."). The crate words one parse error without its
/// code: an unclosed comment, S0106 in JSONata.
fn code_of(message: &str) -> Option<String> {
    if message.ends_with("Unclosed comment") {
        return Some("S0106".into());
    }
    let bytes = message.as_bytes();
    (0..bytes.len())
        .filter(|&i| i == 0 || bytes.get(i - 1) == Some(&b' '))
        .find_map(|i| jsonata_core::evaluator::error_code_prefix(&message[i..]))
        .map(str::to_owned)
}

/// What is refused before the crate sees it: too long, or nested deeper than its parser can
/// go in a wasm host's stack.
fn refuse_costly(expression: &str) -> Result<(), Problem> {
    if expression.len() > MAX_EXPRESSION_LEN {
        return Err(Problem::ours(format!(
            "the expression is longer than {MAX_EXPRESSION_LEN} characters"
        )));
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut operators = 0usize;
    for token in Tokens::new(expression) {
        match token {
            Token::Open(_) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::Close(_) => depth = depth.saturating_sub(1),
            Token::Punct | Token::Atom { operand: false } => operators += 1,
            _ => {}
        }
    }
    if operators > MAX_OPERATORS {
        return Err(Problem::ours(format!(
            "the expression holds {operators} operators and separators; at most \
             {MAX_OPERATORS} are accepted"
        )));
    }
    if deepest > MAX_BRACKET_DEPTH {
        return Err(Problem::ours(format!(
            "the expression nests brackets {deepest} levels deep; at most {MAX_BRACKET_DEPTH} \
             are accepted"
        )));
    }
    Ok(())
}

/// An evaluation `Guard` cancelled: it needed more memory than its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Overrun;

impl Overrun {
    fn message(self, limits: Limits) -> String {
        format!(
            "the evaluation needed more than {} MiB of memory, the most one may use",
            limits.max_memory >> 20
        )
    }
}

/// The evaluation being watched, as `GuardedAllocator` sees it: its cancel token and the heap
/// ceiling. One at a time (the component is single threaded; native tests watch on their own
/// thread).
struct Watch {
    cancel: CancelToken,
    heap_ceiling: usize,
    overrun: Option<Overrun>,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
    /// Heap bytes live on this thread, counted by `GuardedAllocator`.
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// Arms the watch for one evaluation; `disarm` says whether it was cancelled, and why.
struct Guard;

impl Guard {
    fn arm(cancel: Option<CancelToken>, limits: Limits) -> Self {
        if let Some(cancel) = cancel {
            let watch = Watch {
                cancel,
                heap_ceiling: LIVE.with(Cell::get).saturating_add(limits.max_memory),
                overrun: None,
            };
            WATCH.with(|w| *w.borrow_mut() = Some(watch));
        }
        Guard
    }

    fn disarm(self) -> Option<Overrun> {
        // Taken out first: dropping the token frees memory, which must not find it armed.
        let watch = WATCH.with(|w| w.borrow_mut().take());
        watch.and_then(|w| w.overrun)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let watch = WATCH.with(|w| w.try_borrow_mut().ok().and_then(|mut w| w.take()));
        drop(watch);
    }
}

/// Checks an allocation of `size` bytes against the armed watch, cancelling the evaluation
/// at the first overrun (the crate stops at its next step, U1003). The allocation itself
/// still happens: refusing it would abort, a trap.
fn check(size: usize) {
    let _ = WATCH.try_with(|w| {
        let Ok(mut watch) = w.try_borrow_mut() else {
            return;
        };
        let Some(watch) = watch.as_mut() else {
            return;
        };
        if watch.overrun.is_some() {
            return;
        }
        if LIVE.with(Cell::get).saturating_add(size) > watch.heap_ceiling {
            watch.overrun = Some(Overrun);
            watch.cancel.cancel();
        }
    });
}

/// The system allocator, counting live bytes for `Guard`: the component's global allocator
/// (src/lib.rs), so that an evaluation that builds ever larger values is cancelled before the
/// host's memory runs out.
pub struct GuardedAllocator;

// SAFETY: every call is forwarded unchanged to `System`; the counting touches only a
// thread-local `Cell` and never allocates. The one unsafe code of the crate outside
// wit-bindgen's glue: a global allocator has no safe interface.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_add(layout.size())));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        // SAFETY: `ptr` came from `alloc`/`realloc` above, that is from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = new_size.saturating_sub(layout.size());
        check(grown);
        let _ = LIVE.try_with(|l| {
            l.set(
                l.get()
                    .saturating_add(grown)
                    .saturating_sub(layout.size().saturating_sub(new_size)),
            )
        });
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The non-deterministic functions `expression` names (see `NONDETERMINISTIC`), in order,
/// once each. Found by JSONata's lexical syntax: a name inside a string or a comment does not
/// count, a function named without being called (`$f := $now`) does.
pub fn nondeterministic_functions(expression: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for token in Tokens::new(expression) {
        if let Token::Variable(name) = token
            && let Some(known) = NONDETERMINISTIC.iter().find(|n| **n == name)
            && !found.contains(known)
        {
            found.push(*known);
        }
    }
    found
}

/// The index in `text` of the `}` that ends a placeholder whose JSONata expression starts
/// `text`: the first `}` that closes no `{` of the expression, outside string literals,
/// backquoted names, regular expressions and comments. None when there is none.
pub fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut tokens = Tokens::new(text);
    while let Some(token) = tokens.next() {
        match token {
            Token::Open('{') => depth += 1,
            Token::Close('}') if depth == 0 => return Some(tokens.at - 1),
            Token::Close('}') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// JSONata's lexical tokens, as far as this module needs them.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Open(char),
    Close(char),
    /// `$name`, `$` or `$$`.
    Variable(&'a str),
    /// A name, a keyword, a number, a string, a backquoted name or a regex: anything that ends
    /// an operand when `operand` is true.
    Atom {
        operand: bool,
    },
    /// An operator or separator.
    Punct,
}

/// Splits an expression into `Token`s. Unterminated strings, names, regexes and comments run
/// to the end of the text (the parser reports them).
struct Tokens<'a> {
    text: &'a str,
    at: usize,
    /// Whether the previous token ends an operand: a `/` after one divides, otherwise it starts
    /// a regular expression (as JSONata's tokenizer decides).
    after_operand: bool,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            text,
            at: 0,
            after_operand: false,
        }
    }

    /// Moves past the quoted run that starts at `self.at` (its opening `quote` included),
    /// honouring backslash escapes when `escapes`.
    fn skip_quoted(&mut self, quote: u8, escapes: bool) {
        let bytes = self.text.as_bytes();
        let mut i = self.at + 1;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            if escapes && b == b'\\' {
                i += 1;
            } else if b == quote {
                break;
            }
        }
        self.at = i.min(bytes.len());
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let bytes = self.text.as_bytes();
        loop {
            let &b = bytes.get(self.at)?;
            let next = bytes.get(self.at + 1).copied();
            let token = match b {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    self.at += 1;
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    let end = self.text[self.at + 2..]
                        .find("*/")
                        .map_or(bytes.len(), |i| self.at + 2 + i + 2);
                    self.at = end;
                    continue;
                }
                b'"' | b'\'' => {
                    self.skip_quoted(b, true);
                    Token::Atom { operand: true }
                }
                b'`' => {
                    self.skip_quoted(b'`', false);
                    Token::Atom { operand: true }
                }
                b'/' if !self.after_operand => {
                    // A regex: up to the next unescaped `/`, then its flags.
                    self.skip_quoted(b'/', true);
                    while bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
                        self.at += 1;
                    }
                    Token::Atom { operand: true }
                }
                b'(' | b'[' | b'{' => {
                    self.at += 1;
                    Token::Open(char::from(b))
                }
                b')' | b']' | b'}' => {
                    self.at += 1;
                    Token::Close(char::from(b))
                }
                b'$' => {
                    let start = self.at;
                    self.at += 1;
                    if bytes.get(self.at) == Some(&b'$') {
                        self.at += 1;
                    } else {
                        self.at += name_len(&self.text[self.at..]);
                    }
                    Token::Variable(&self.text[start..self.at])
                }
                _ if name_len(&self.text[self.at..]) > 0 => {
                    let len = name_len(&self.text[self.at..]);
                    let word = &self.text[self.at..self.at + len];
                    self.at += len;
                    Token::Atom {
                        operand: !matches!(word, "and" | "or" | "in"),
                    }
                }
                _ => {
                    // One character, whatever its length in bytes.
                    self.at += self.text[self.at..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    Token::Punct
                }
            };
            self.after_operand = matches!(
                token,
                Token::Close(_) | Token::Variable(_) | Token::Atom { operand: true }
            );
            return Some(token);
        }
    }
}

/// Bytes of the name (letters, digits, `_`, any non-ASCII character) that starts `text`; a
/// number's `.` and exponent are part of it so that `1.5` is one atom.
fn name_len(text: &str) -> usize {
    let mut len = 0;
    for c in text.chars() {
        if c.is_alphanumeric()
            || c == '_'
            || (c == '.' && text.as_bytes().first().is_some_and(u8::is_ascii_digit))
        {
            len += c.len_utf8();
        } else {
            break;
        }
    }
    len
}

/// A JSONata value as JSON: whole numbers within ±2^53 become integers (JSONata computes in
/// f64, the body's integer fields need integers), arrays and objects are converted at most
/// `max_depth` levels deep and `MAX_RESULT_VALUES` values in all. `Ok(None)` for undefined.
pub fn to_json(value: &JValue, max_depth: usize) -> Result<Option<Value>, String> {
    let mut values_left = MAX_RESULT_VALUES;
    match value {
        JValue::Undefined => Ok(None),
        other => convert(other, max_depth, &mut values_left).map(Some),
    }
}

fn convert(value: &JValue, depth_left: usize, values_left: &mut usize) -> Result<Value, String> {
    if *values_left == 0 {
        return Err(format!(
            "its result holds more than {MAX_RESULT_VALUES} values"
        ));
    }
    *values_left -= 1;
    let nested = |depth_left: usize| {
        depth_left
            .checked_sub(1)
            .ok_or_else(|| "its result nests deeper than the body may (128 levels)".to_owned())
    };
    Ok(match value {
        JValue::Null | JValue::Undefined => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n)?,
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let depth_left = nested(depth_left)?;
            Value::Array(
                items
                    .iter()
                    // `undefined` items vanish, as in JSONata's own JSON output.
                    .filter(|item| !item.is_undefined())
                    .map(|item| convert(item, depth_left, values_left))
                    .collect::<Result<_, _>>()?,
            )
        }
        JValue::Object(members) => {
            let depth_left = nested(depth_left)?;
            let mut out = serde_json::Map::new();
            for (key, member) in members.iter() {
                if member.is_undefined() {
                    continue;
                }
                *values_left = values_left.saturating_sub(1);
                out.insert(key.clone(), convert(member, depth_left, values_left)?);
            }
            Value::Object(out)
        }
        JValue::Lambda(_) | JValue::Builtin { .. } => {
            return Err("its result is a function, which is not JSON".into());
        }
        JValue::Regex { .. } => {
            return Err("its result is a regular expression, which is not JSON".into());
        }
    })
}

/// 2^53: every whole f64 up to it is exactly an integer.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

fn number(n: f64) -> Result<Value, String> {
    if n.fract() == 0.0 && n.abs() <= EXACT_INTEGERS {
        // Exact: `n` is whole and within i64 (`as` would saturate, it cannot here).
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::from(n as i64));
    }
    serde_json::Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| format!("its result is {n}, which is not a JSON number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expression: &str, input: Value) -> Result<Option<Value>, String> {
        let clock = Clock::new(DEFAULT_LIMITS);
        let value =
            evaluate(expression, &JValue::from(input), &[], &clock).map_err(|p| p.message)?;
        to_json(&value, 128)
    }

    #[test]
    fn placeholders_end_at_jsonata_s_own_syntax() {
        for (text, end) in [
            (" a}", 2),
            (" {\"a\": 1}}", 9),
            (" \"}\" & '}' & `}`} x", 16),
            (" $match(s, /}/i)} x", 16),
            (" a /* } */ }", 11),
            (" a / 2 }", 7),
            (" x.{\"k\": {\"n\": 1}}} rest", 18),
        ] {
            assert_eq!(closing_brace(text), Some(end), "{text:?}");
            assert_eq!(&text[end..end + 1], "}", "{text:?}");
        }
        assert_eq!(closing_brace(" {\"a\": 1}"), None);
        assert_eq!(closing_brace(" \"}"), None);
    }

    #[test]
    fn values_become_json_with_whole_numbers_as_integers() {
        let p = json!({"n": 1, "team": "Support", "models": [{"slug": "m", "gpu": "g"}]});
        assert_eq!(run("n + 1", p.clone()), Ok(Some(json!(2))));
        assert!(run("n + 1", p.clone()).unwrap().unwrap().is_i64());
        assert_eq!(run("n / 4", p.clone()), Ok(Some(json!(0.25))));
        assert_eq!(
            run("$lowercase(team) & \"-llm\"", p.clone()),
            Ok(Some(json!("support-llm")))
        );
        assert_eq!(
            run(
                "[models.{\"s\": slug, \"a\": [{\"g\": gpu, \"n\": 1}]}]",
                p.clone()
            ),
            Ok(Some(json!([{"s": "m", "a": [{"g": "g", "n": 1}]}])))
        );
        assert_eq!(run("missing", p.clone()), Ok(None));
        assert_eq!(run("$$.n = $.n", p.clone()), Ok(Some(json!(true))));
        assert!(
            run("$uppercase", p.clone())
                .unwrap_err()
                .contains("function")
        );
    }

    #[test]
    fn errors_quote_jsonata_s_code_and_message() {
        let clock = Clock::new(DEFAULT_LIMITS);
        let problem = evaluate("1 +", &JValue::Null, &[], &clock).unwrap_err();
        assert_eq!(problem.code.as_deref(), Some("S0207"), "{problem:?}");
        let problem = evaluate("\"a\" + 1", &JValue::Null, &[], &clock).unwrap_err();
        assert_eq!(problem.code.as_deref(), Some("T2001"), "{problem:?}");
    }

    #[test]
    fn nondeterministic_functions_are_found_by_syntax() {
        assert_eq!(
            nondeterministic_functions("$now() & $millis()"),
            ["$now", "$millis"]
        );
        assert_eq!(
            nondeterministic_functions("($f := $random; $f() + $random())"),
            ["$random"]
        );
        assert!(nondeterministic_functions("\"$now()\" & /* $random() */ `$uuid`").is_empty());
        assert!(nondeterministic_functions("$nowhere() & $$.now").is_empty());
        assert_eq!(nondeterministic_functions("$eval(x)"), ["$eval"]);
        // Any character, of any length, is a token (a fuzzed input once split one).
        assert!(nondeterministic_functions("~g\u{601}!\u{b}2 é $now").contains(&"$now"));
    }

    #[test]
    fn costly_expressions_are_refused_before_parsing() {
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert!(run(&deep, json!({})).unwrap_err().contains("65 levels"));
        let fine = format!("{}1{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(run(&fine, json!({})), Ok(Some(json!(1))));
        let long = "1+".repeat(MAX_EXPRESSION_LEN) + "1";
        assert!(run(&long, json!({})).unwrap_err().contains("longer than"));
    }

    #[test]
    fn the_limits_end_evaluations_with_jsonata_s_errors() {
        for (expression, code) in [
            ("($f := function($x){$f($x) + 1}; $f(1))", "D1011"),
            ("[1..100000000]", "D2014"),
            ("[1..1000000]", "D2015"),
            ("($f := function($x){$f($x)}; $f(1))", "D1012"),
        ] {
            let clock = Clock::new(Limits {
                time: Duration::from_millis(200),
                ..DEFAULT_LIMITS
            });
            let problem = evaluate(expression, &JValue::Null, &[], &clock).unwrap_err();
            assert_eq!(
                problem.code.as_deref(),
                Some(code),
                "{expression}: {problem:?}"
            );
        }
    }

    #[test]
    fn results_deeper_or_larger_than_the_body_are_refused() {
        let nested = (0..5).fold(json!(1), |inner, _| json!([inner]));
        assert!(to_json(&JValue::from(nested.clone()), 5).is_ok());
        assert!(
            to_json(&JValue::from(nested), 4)
                .unwrap_err()
                .contains("nests deeper")
        );
        let many = JValue::from(json!(vec![0; MAX_RESULT_VALUES]));
        assert!(to_json(&many, 128).unwrap_err().contains("more than"));
    }
}
