//! Placeholders, by kind, with the same rules for all: `${<JSONPath>}` (RFC 9535) and
//! `${jsonata: <JSONata>}` (src/jsonata.rs), evaluated against the task's parameters, and
//! `${secret:NAME}`, filled from the secrets the host resolved (never from the parameters,
//! which engines store in their history).
//!
//! Rendering is single-pass: text inserted from the parameters is never scanned again, so a
//! parameter value that looks like `${...}` stays literal text.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};

use serde_json::Value;

use crate::diagnostic::{Diagnostics, join_index, join_key};
use crate::json::json_len_within;
use crate::jsonata::{self, JValue};
use crate::jsonpath;

/// Longest JSONPath accepted inside one placeholder: parsing and evaluating stay cheap whatever
/// the input (the parser bounds its nesting itself, see `jsonpath::MAX_DEPTH`).
pub const MAX_EXPRESSION_LEN: usize = 1024;

/// Node visits that all placeholders of one render may cost together, by
/// `jsonpath::worst_case_visits`. A query over parameters that came from another system must not
/// hold the step for minutes: the costliest render this allows takes ~0.1 s in wasm
/// (tests/e2e/test_hostile.py reports it, "JSONPath near the budget").
pub const MAX_RENDER_VISITS: u64 = 8_000_000;

/// How deeply rendered JSON may nest. The definition and the parameters each stop at 128
/// levels (serde_json's limit), but a placeholder deep in the body can insert a deep parameter
/// value: the rendered body is held to the same 128 levels, which JSON parsers (the API's, the
/// engine's) accept.
pub const MAX_NESTING: usize = 128;

/// The task's parameters, with what keeps evaluating their placeholders bounded: the
/// document's shape (measured once, on the first query that needs it) and the visits left for
/// JSONPath, the time left for JSONata; what a render does with JSONata whose result differs
/// from one run to the next; and the named secrets that `${secret:NAME}` inserts.
pub struct Parameters<'p> {
    value: &'p Value,
    #[cfg_attr(feature = "serde-json-path-parser", allow(dead_code))]
    shape: OnceCell<jsonpath::Shape>,
    #[cfg_attr(feature = "serde-json-path-parser", allow(dead_code))]
    visits_left: Cell<u64>,
    /// The parameters as JSONata's input, converted once, on the first JSONata placeholder.
    jsonata_input: OnceCell<JValue>,
    jsonata_clock: jsonata::Clock,
    nondeterminism: Nondeterminism,
    secrets: &'p [(String, String)],
    missing_secret: MissingSecret,
    /// The stand-ins inserted for missing secrets (`MissingSecret::StandIn`), for the caller to
    /// mask like the secrets they stand for.
    stand_ins: RefCell<Vec<String>>,
}

/// What a placeholder calling a non-deterministic function (`jsonata::NONDETERMINISTIC`) earns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nondeterminism {
    /// A warning: the preview differs from what is sent, a retried step from its first attempt.
    Warn,
    /// An error (`ifExists: adopt`): a retried create would not recognise the instance its
    /// first attempt made, and a second, billed one would follow.
    Refuse,
}

/// What a `${secret:NAME}` whose secret the host did not resolve becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingSecret {
    /// An error at the field path: nothing is sent (test-request, execute).
    Refuse,
    /// A stand-in value, masked in the preview like a secret, without a diagnostic: the
    /// editor's live render has no secrets, and must still show the request.
    StandIn,
}

/// The prefix of a placeholder that inserts a resolved secret.
pub const SECRET_PREFIX: &str = "secret:";
/// Longest secret name in `${secret:NAME}`.
pub const MAX_SECRET_NAME_LEN: usize = 128;

impl<'p> Parameters<'p> {
    /// Parameters without secrets: a `${secret:NAME}` is refused.
    pub fn new(value: &'p Value) -> Self {
        Self::with_secrets(value, &[], MissingSecret::Refuse)
    }

    pub fn with_secrets(
        value: &'p Value,
        secrets: &'p [(String, String)],
        missing_secret: MissingSecret,
    ) -> Self {
        Parameters {
            value,
            shape: OnceCell::new(),
            visits_left: Cell::new(MAX_RENDER_VISITS),
            jsonata_input: OnceCell::new(),
            jsonata_clock: jsonata::Clock::new(jsonata::DEFAULT_LIMITS),
            nondeterminism: Nondeterminism::Warn,
            secrets,
            missing_secret,
            stand_ins: RefCell::new(Vec::new()),
        }
    }

    /// The stand-ins inserted so far for missing secrets.
    pub fn stand_ins(&self) -> Vec<String> {
        self.stand_ins.borrow().clone()
    }

    /// The value of `${secret:NAME}`.
    fn secret(&self, name: &str) -> Result<Value, String> {
        let placeholder = || Placeholder::Secret(name).quoted();
        if name.is_empty()
            || name.len() > MAX_SECRET_NAME_LEN
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(format!(
                "placeholder {} must name a secret in at most {MAX_SECRET_NAME_LEN} letters, \
                 digits, `_`, `-` or `.`, e.g. `${{{SECRET_PREFIX}hugging_face_token}}`",
                placeholder()
            ));
        }
        if let Some((_, value)) = self.secrets.iter().find(|(n, _)| n == name) {
            return Ok(Value::String(value.clone()));
        }
        match self.missing_secret {
            MissingSecret::Refuse => Err(format!(
                "placeholder {} names no secret the host resolved from the definition's \
                 `credentials`; secrets come from credentials, never from the parameters",
                placeholder()
            )),
            MissingSecret::StandIn => {
                let stand_in = format!("unresolved-secret-{name}");
                self.stand_ins.borrow_mut().push(stand_in.clone());
                Ok(Value::String(stand_in))
            }
        }
    }

    /// The same parameters, with non-deterministic JSONata treated as `nondeterminism` says.
    pub fn with_nondeterminism(mut self, nondeterminism: Nondeterminism) -> Self {
        self.nondeterminism = nondeterminism;
        self
    }
}

/// One piece of a template string.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Placeholder(Placeholder<'a>),
}

/// A placeholder, by kind, with its expression (between `${` and `}`, the kind's prefix left
/// out, trimmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placeholder<'a> {
    /// `${$.name}`: RFC 9535 JSONPath.
    JsonPath(&'a str),
    /// `${jsonata: $lowercase(team)}`.
    Jsonata(&'a str),
    /// `${secret:NAME}`: the name.
    Secret(&'a str),
}

impl Placeholder<'_> {
    /// The placeholder as written (abbreviated), in backquotes, for messages.
    fn quoted(&self) -> String {
        match self {
            Placeholder::JsonPath(expression) => format!("`${{{}}}`", abbreviate(expression, 80)),
            Placeholder::Jsonata(expression) => {
                format!("`${{{} {}}}`", jsonata::PREFIX, abbreviate(expression, 80))
            }
            Placeholder::Secret(name) => format!("`${{{SECRET_PREFIX}{}}}`", abbreviate(name, 40)),
        }
    }
}

/// A template string split into literal text and placeholders.
#[derive(Debug)]
pub struct Template<'a> {
    segments: Vec<Segment<'a>>,
}

impl<'a> Template<'a> {
    /// Splits `text` at its placeholders; `$${` is the escape for a literal `${`.
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            if at > 0 && rest.as_bytes().get(at - 1) == Some(&b'$') {
                // `$${`: the text up to the first `$`, then a literal `${`.
                push_literal(&mut segments, &rest[..at - 1]);
                push_literal(&mut segments, &rest[at..at + 2]);
                rest = &rest[at + 2..];
                continue;
            }
            push_literal(&mut segments, &rest[..at]);
            let after = &rest[at + 2..];
            let not_closed = || {
                format!(
                    "placeholder `{}` is not closed with `}}`",
                    abbreviate(&rest[at..], 40)
                )
            };
            // Where a JSONata placeholder ends is JSONata's syntax: braces of its object
            // constructors and `}` in its strings, regexes and comments do not end it.
            let (placeholder, end) = match after.trim_start().strip_prefix(jsonata::PREFIX) {
                Some(expression) => {
                    let end = jsonata::closing_brace(expression).ok_or_else(not_closed)?;
                    let start = after.len() - expression.len();
                    (Placeholder::Jsonata(expression[..end].trim()), start + end)
                }
                None => {
                    let end = closing_brace(after).ok_or_else(not_closed)?;
                    let expression = after[..end].trim();
                    let placeholder = match expression.strip_prefix(SECRET_PREFIX) {
                        Some(name) => Placeholder::Secret(name.trim()),
                        None => Placeholder::JsonPath(expression),
                    };
                    (placeholder, end)
                }
            };
            segments.push(Segment::Placeholder(placeholder));
            rest = &after[end + 1..];
        }
        push_literal(&mut segments, rest);
        Ok(Template { segments })
    }

    pub fn has_placeholders(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Placeholder(_)))
    }

    /// The placeholder when the whole string is exactly one.
    fn sole_placeholder(&self) -> Option<Placeholder<'a>> {
        match self.segments.as_slice() {
            [Segment::Placeholder(placeholder)] => Some(*placeholder),
            _ => None,
        }
    }

    /// A diagnostic at `path` for each JSONata placeholder that calls a non-deterministic
    /// function: a warning, or an error when `parameters` refuse them.
    fn check_determinism(
        &self,
        parameters: &Parameters,
        path: &str,
        diagnostics: &mut Diagnostics,
    ) {
        for segment in &self.segments {
            let Segment::Placeholder(placeholder @ Placeholder::Jsonata(expression)) = segment
            else {
                continue;
            };
            let called = jsonata::nondeterministic_functions(expression);
            if called.is_empty() {
                continue;
            }
            let names = called
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let calls = format!(
                "placeholder {} calls {names}, whose result differs from one run to the next",
                placeholder.quoted()
            );
            match parameters.nondeterminism {
                Nondeterminism::Warn => diagnostics.warning(
                    path,
                    format!(
                        "{calls}: the preview differs from the request sent, and a retried step \
                         from its first attempt"
                    ),
                ),
                Nondeterminism::Refuse => diagnostics.error(
                    path,
                    format!(
                        "{calls}: with `ifExists: adopt` a retried step would not recognise the \
                         instance its first attempt made, and a second, billed one would \
                         follow; compute the value before the step and pass it as a parameter"
                    ),
                ),
            }
        }
    }

    /// Renders as text: literal text as is, inserted values through `insert` (which may
    /// percent-encode). Returns every problem found, one message each. The text may grow to
    /// `max_len` bytes: past that, rendering stops with one problem, before a large insert is
    /// copied (an insert never shrinks through `insert`).
    pub fn render_text(
        &self,
        parameters: &Parameters,
        max_len: usize,
        insert: impl Fn(&str, &mut String),
    ) -> Result<String, Vec<String>> {
        let mut out = String::new();
        let mut problems = Vec::new();
        let too_long =
            || format!("renders to more than {max_len} bytes; at most {max_len} are sent");
        for segment in &self.segments {
            let fits = |out: &String, more: usize| out.len().saturating_add(more) <= max_len;
            match segment {
                Segment::Literal(text) if fits(&out, text.len()) => out.push_str(text),
                Segment::Literal(_) => return Err(vec![too_long()]),
                Segment::Placeholder(placeholder) => {
                    match select(*placeholder, parameters)
                        .and_then(|v| value_as_text(*placeholder, &v).map(Cow::into_owned))
                    {
                        Ok(text) if fits(&out, text.len()) => {
                            insert(&text, &mut out);
                            if out.len() > max_len {
                                return Err(vec![too_long()]);
                            }
                        }
                        Ok(_) => return Err(vec![too_long()]),
                        Err(problem) => problems.push(problem),
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

fn push_literal<'a>(segments: &mut Vec<Segment<'a>>, text: &'a str) {
    if !text.is_empty() {
        segments.push(Segment::Literal(text));
    }
}

/// The index of the `}` that closes a placeholder, skipping quoted JSONPath string literals
/// (`$['a}b']`) so that a brace inside a member name does not end it.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'}' => return Some(i),
                _ => {}
            },
        }
    }
    None
}

/// Evaluates one placeholder; it must give exactly one value.
fn select<'p>(
    placeholder: Placeholder,
    parameters: &Parameters<'p>,
) -> Result<Cow<'p, Value>, String> {
    match placeholder {
        Placeholder::JsonPath(expression) => {
            select_jsonpath(expression, parameters).map(Cow::Borrowed)
        }
        Placeholder::Jsonata(expression) => select_jsonata(expression, parameters).map(Cow::Owned),
        Placeholder::Secret(name) => parameters.secret(name).map(Cow::Owned),
    }
}

/// Evaluates a JSONata placeholder against the parameters (`$` and `$$`).
fn select_jsonata(expression: &str, parameters: &Parameters) -> Result<Value, String> {
    let quoted = Placeholder::Jsonata(expression).quoted();
    if expression.is_empty() {
        return Err(format!(
            "empty placeholder {quoted}: write a JSONata expression such as `${{jsonata: name}}`"
        ));
    }
    let input = parameters
        .jsonata_input
        .get_or_init(|| JValue::from(parameters.value.clone()));
    let value = jsonata::evaluate(expression, input, &[], &parameters.jsonata_clock)
        .map_err(|problem| jsonata::Problem {
            message: without_parameter_text(&problem.message, parameters.value),
            ..problem
        })
        .map_err(|problem| match problem.code {
            Some(code) if code.starts_with('S') => {
                format!(
                    "placeholder {quoted} is not valid JSONata: {}",
                    problem.message
                )
            }
            _ => format!("placeholder {quoted} failed: {}", problem.message),
        })?;
    match jsonata::to_json(&value, MAX_NESTING) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(format!(
            "placeholder {quoted} selects nothing: the expression has no result for these \
             parameters"
        )),
        Err(problem) => Err(format!(
            "placeholder {quoted} cannot be inserted: {problem}"
        )),
    }
}

/// `message` with every string of the parameters it quotes (8 characters or more) masked.
/// JSONata's messages quote the values they failed on (`$number(token)`: "Unable to cast value
/// to a number: hf_…"), and a value that failed to render is not yet known as a secret.
fn without_parameter_text(message: &str, parameters: &Value) -> String {
    let mut out = message.to_owned();
    let mut pending = vec![parameters];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.len() >= 8 && out.contains(text.as_str()) => {
                out = out.replace(text.as_str(), "••••••••");
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => pending.extend(members.values()),
            _ => {}
        }
    }
    out
}

/// Evaluates one placeholder's JSONPath; it must select exactly one value.
fn select_jsonpath<'p>(expression: &str, parameters: &Parameters<'p>) -> Result<&'p Value, String> {
    let placeholder = || format!("`${{{}}}`", abbreviate(expression, 80));
    if expression.is_empty() {
        return Err("empty placeholder `${}`: write a JSONPath such as `${$.name}`".into());
    }
    if expression.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "placeholder {} is longer than {MAX_EXPRESSION_LEN} characters",
            placeholder()
        ));
    }
    if !expression.starts_with('$') {
        return Err(format!(
            "placeholder {} must be a JSONPath starting with `$` (the parameters), e.g. \
             `${{$.{}}}`, or JSONata written `${{jsonata: {}}}`",
            placeholder(),
            abbreviate(expression, 40),
            abbreviate(expression, 40)
        ));
    }
    let nodes = jsonpath_nodes(expression, &placeholder(), parameters)?;
    match nodes.as_slice() {
        [value] => Ok(*value),
        [] => Err(format!(
            "placeholder {} selects nothing: {} is not in the parameters",
            placeholder(),
            parameter_path(expression).map_or("the value".into(), |p| format!("`{p}`"))
        )),
        values => Err(format!(
            "placeholder {} selects {} values; it must select exactly one",
            placeholder(),
            values.len()
        )),
    }
}

/// The nodes `expression` selects, once its worst-case cost fits what is left of the render's
/// budget.
#[cfg(not(feature = "serde-json-path-parser"))]
fn jsonpath_nodes<'p>(
    expression: &str,
    placeholder: &str,
    parameters: &Parameters<'p>,
) -> Result<Vec<&'p Value>, String> {
    use serde_json_path_core::spec::query::Queryable;
    let query = jsonpath::parse(expression)
        .map_err(|e| format!("placeholder {placeholder} is not a valid JSONPath: {e}"))?;
    let visits = jsonpath::worst_case_visits(&query, || {
        *parameters
            .shape
            .get_or_init(|| jsonpath::Shape::of(parameters.value))
    });
    let left = parameters.visits_left.get();
    if visits > left {
        return Err(format!(
            "placeholder {placeholder} could visit {} nodes of the parameters, more than the {} \
             left of this render's budget of {}: use fewer `..` segments, wildcards, filters or \
             unions",
            count_text(visits),
            count_text(left),
            count_text(MAX_RENDER_VISITS)
        ));
    }
    parameters.visits_left.set(left - visits);
    let document = parameters.value;
    Ok(query.query(document, document))
}

/// For measurement only (bench/jsonpath-parser, docs/performance.md): serde_json_path's own
/// parser and evaluation instead of src/jsonpath.rs. Its query type keeps its AST private, so
/// nothing costs a query before it runs: the render budget does not apply.
#[cfg(feature = "serde-json-path-parser")]
fn jsonpath_nodes<'p>(
    expression: &str,
    placeholder: &str,
    parameters: &Parameters<'p>,
) -> Result<Vec<&'p Value>, String> {
    let path = serde_json_path::JsonPath::parse(expression)
        .map_err(|e| format!("placeholder {placeholder} is not a valid JSONPath: {e}"))?;
    Ok(path.query(parameters.value).all())
}

/// A count for messages: `12,345,678`, or "over 10^15" for astronomic ones.
#[cfg_attr(feature = "serde-json-path-parser", allow(dead_code))]
fn count_text(n: u64) -> String {
    if n >= 1_000_000_000_000_000 {
        return "over 10^15".into();
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `$.model.gpu` → `parameters.model.gpu`, for messages; None for anything fancier.
fn parameter_path(expression: &str) -> Option<String> {
    let rest = expression.strip_prefix("$.")?;
    rest.split('.')
        .all(|k| !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
        .then(|| format!("parameters.{rest}"))
}

/// A selected value inside longer text: strings as is, numbers and booleans as JSON text.
fn value_as_text<'v>(placeholder: Placeholder, value: &'v Value) -> Result<Cow<'v, str>, String> {
    match value {
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Number(n) => Ok(Cow::Owned(n.to_string())),
        Value::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => Err(format!(
            "placeholder {} selects {}, which cannot be placed inside text; make the \
             placeholder the whole value to insert it with its type",
            placeholder.quoted(),
            json_kind(other)
        )),
    }
}

/// "a string", "an object"... for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most `max` characters of `text`, with `…` when cut; never splits a character.
pub fn abbreviate(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// Renders a text template (a header value) of at most `max_len` bytes where every insert is
/// plain text.
pub fn render_text(
    template: &str,
    parameters: &Parameters,
    max_len: usize,
    path: &str,
    diagnostics: &mut Diagnostics,
) -> Option<String> {
    render_text_with(
        template,
        parameters,
        max_len,
        path,
        diagnostics,
        |text, out| out.push_str(text),
    )
}

/// Renders a text template of at most `max_len` bytes, passing inserted text through
/// `insert`; problems become error diagnostics at `path`.
pub fn render_text_with(
    template: &str,
    parameters: &Parameters,
    max_len: usize,
    path: &str,
    diagnostics: &mut Diagnostics,
    insert: impl Fn(&str, &mut String),
) -> Option<String> {
    let rendered = Template::parse(template)
        .map_err(|problem| vec![problem])
        .and_then(|t| {
            t.check_determinism(parameters, path, diagnostics);
            t.render_text(parameters, max_len, insert)
        });
    match rendered {
        Ok(text) => Some(text),
        Err(problems) => {
            for problem in problems {
                diagnostics.error(path, problem);
            }
            None
        }
    }
}

/// How large a rendered JSON value may grow.
#[derive(Clone, Copy, Debug)]
pub struct JsonBudget {
    /// Bytes of its compact JSON text.
    pub bytes: usize,
    /// Values (object keys count as values: each costs a map entry).
    pub values: usize,
}

/// What is left of a `JsonBudget` while rendering. It is charged as the value is produced, so
/// that an insert past it is refused before it is copied: 45 placeholders each inserting a
/// 4 MB parameter must not build 180 MB first and measure afterwards.
struct Spend {
    limits: JsonBudget,
    bytes_left: usize,
    values_left: usize,
    /// Set at the first overrun: rendering stops, with one diagnostic.
    over: bool,
}

impl Spend {
    fn charge(
        &mut self,
        bytes: usize,
        values: usize,
        path: &str,
        diagnostics: &mut Diagnostics,
    ) -> bool {
        if self.over {
            return false;
        }
        if bytes <= self.bytes_left && values <= self.values_left {
            self.bytes_left -= bytes;
            self.values_left -= values;
            return true;
        }
        self.over = true;
        let (what, limit) = if bytes > self.bytes_left {
            ("bytes", self.limits.bytes)
        } else {
            ("JSON values", self.limits.values)
        };
        diagnostics.error(
            path,
            format!("the body would be larger than {limit} {what}, the most that is sent; rendering stopped here"),
        );
        false
    }
}

/// Renders a JSON template (the body): every string, object keys included, is a template; a
/// string that is exactly one placeholder becomes the selected value with its JSON type.
/// The result stays within `budget`, and nests at most `MAX_NESTING` levels. Returns None
/// when anything failed; every failure is a diagnostic under `path`.
pub fn render_json(
    template: &Value,
    parameters: &Parameters,
    budget: JsonBudget,
    path: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    let mut spend = Spend {
        limits: budget,
        bytes_left: budget.bytes,
        values_left: budget.values,
        over: false,
    };
    render_value(template, parameters, path, 0, &mut spend, diagnostics)
}

/// `render_json` for a value inside `outer` arrays and objects.
fn render_value(
    template: &Value,
    parameters: &Parameters,
    path: &str,
    outer: usize,
    spend: &mut Spend,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    match template {
        Value::String(text) => {
            render_json_string(text, parameters, path, outer, spend, diagnostics)
        }
        Value::Array(items) => {
            // `[` and `]`, and a comma between items.
            if !spend.charge(items.len().max(1) + 1, 1, path, diagnostics) {
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let item_path = join_index(path, i);
                match render_value(item, parameters, &item_path, outer + 1, spend, diagnostics) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
                if spend.over {
                    return None;
                }
            }
            ok.then_some(Value::Array(out))
        }
        Value::Object(members) => {
            if !spend.charge(members.len().max(1) + 1, 1, path, diagnostics) {
                return None;
            }
            let mut out = serde_json::Map::new();
            let mut ok = true;
            for (key, member) in members {
                let member_path = join_key(path, key);
                let key = if key.contains("${") {
                    render_text(key, parameters, spend.bytes_left, &member_path, diagnostics)
                } else {
                    Some(key.clone())
                };
                // The key, its quotes and the colon.
                let key = key
                    .filter(|k| spend.charge(json_string_len(k) + 1, 1, &member_path, diagnostics));
                let value = render_value(
                    member,
                    parameters,
                    &member_path,
                    outer + 1,
                    spend,
                    diagnostics,
                );
                if spend.over {
                    return None;
                }
                match (key, value) {
                    (Some(k), Some(v)) => {
                        out.insert(k, v);
                    }
                    _ => ok = false,
                }
            }
            ok.then_some(Value::Object(out))
        }
        other => {
            let bytes = json_len_within(other, spend.bytes_left).unwrap_or(usize::MAX);
            spend
                .charge(bytes, 1, path, diagnostics)
                .then(|| other.clone())
        }
    }
}

fn render_json_string(
    text: &str,
    parameters: &Parameters,
    path: &str,
    outer: usize,
    spend: &mut Spend,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    if !text.contains("${") {
        return spend
            .charge(json_string_len(text), 1, path, diagnostics)
            .then(|| Value::String(text.to_owned()));
    }
    let template = match Template::parse(text) {
        Ok(t) => t,
        Err(problem) => {
            diagnostics.error(path, problem);
            return None;
        }
    };
    template.check_determinism(parameters, path, diagnostics);
    if let Some(placeholder) = template.sole_placeholder() {
        let value = match select(placeholder, parameters) {
            Ok(value) => value,
            Err(problem) => {
                diagnostics.error(path, problem);
                return None;
            }
        };
        // Measured before it is copied, each walk stopping at the budget.
        let (values, depth) = measure(&value, spend.values_left.saturating_add(1));
        if outer + depth > MAX_NESTING {
            diagnostics.error(
                path,
                format!(
                    "placeholder {} inserts JSON that leaves the body nested {} levels \
                     deep; at most {MAX_NESTING} are sent",
                    placeholder.quoted(),
                    outer + depth
                ),
            );
            return None;
        }
        let bytes = json_len_within(&value, spend.bytes_left).unwrap_or(usize::MAX);
        return spend
            .charge(bytes, values, path, diagnostics)
            .then(|| value.into_owned());
    }
    let rendered =
        template.render_text(parameters, spend.bytes_left, |text, out| out.push_str(text));
    match rendered {
        Ok(s) => spend
            .charge(json_string_len(&s), 1, path, diagnostics)
            .then_some(Value::String(s)),
        Err(problems) => {
            for problem in problems {
                diagnostics.error(path, problem);
            }
            None
        }
    }
}

/// The length of `text` as a JSON string, quotes included, as serde_json writes it.
fn json_string_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// How many values `value` holds (object keys included) and how many arrays and objects deep
/// it nests (a scalar: 0), without recursion; the count stops once it passes `max_values`.
fn measure(value: &Value, max_values: usize) -> (usize, usize) {
    let mut values = 0;
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        values += 1;
        if values > max_values {
            break;
        }
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            Value::Object(members) => {
                values += members.len();
                pending.extend(members.values().map(|child| (child, depth + 1)))
            }
            _ => continue,
        }
        deepest = deepest.max(depth + 1);
    }
    (values, deepest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROOMY: JsonBudget = JsonBudget {
        bytes: 1 << 20,
        values: 100_000,
    };

    fn params() -> Value {
        json!({"name": "llm", "scale": 2, "on": true, "obj": {"a": 1}, "list": [1, 2],
               "nothing": null, "inj": "${$.name}", "odd key": "x", "f": 1.5})
    }

    fn render(template: Value) -> (Option<Value>, Vec<crate::diagnostic::Diagnostic>) {
        let mut d = Diagnostics::new();
        let out = render_json(
            &template,
            &Parameters::new(&params()),
            ROOMY,
            "httpRequest.body",
            &mut d,
        );
        (out, d.to_vec())
    }

    #[test]
    fn secret_placeholders_insert_resolved_secrets_only() {
        let p = params();
        let secrets = [("hf".to_string(), "hf_abc".to_string())];
        let render_with = |missing: MissingSecret, template: Value| {
            let parameters = Parameters::with_secrets(&p, &secrets, missing);
            let mut d = Diagnostics::new();
            let out = render_json(&template, &parameters, ROOMY, "b", &mut d);
            (out, d.to_vec(), parameters.stand_ins())
        };
        // Whole value, inside text, in a key.
        let template =
            json!({"t": "${secret:hf}", "u": "Bearer ${ secret:hf }", "${secret:hf}": 1});
        let (out, d, stand_ins) = render_with(MissingSecret::Refuse, template);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            out,
            Some(json!({"t": "hf_abc", "u": "Bearer hf_abc", "hf_abc": 1}))
        );
        assert!(stand_ins.is_empty());

        // A name the host did not resolve is refused when sending, even if the parameters
        // hold a value of that name: secrets never come from the parameters.
        let (out, d, _) = render_with(MissingSecret::Refuse, json!({"t": "${secret:name}"}));
        assert_eq!(out, None);
        assert_eq!(d[0].path, "b.t");
        assert!(
            d[0].message.contains(
                "`${secret:name}` names no secret the host resolved from the definition's \
                 `credentials`"
            ),
            "{}",
            d[0].message
        );
        // ... and stood in for in a preview, without a diagnostic.
        let (out, d, stand_ins) = render_with(MissingSecret::StandIn, json!({"t": "${secret:gh}"}));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(out, Some(json!({"t": "unresolved-secret-gh"})));
        assert_eq!(stand_ins, ["unresolved-secret-gh"]);

        for bad in ["${secret:}", "${secret:a b}", "${secret:$.x}"] {
            let (out, d, _) = render_with(MissingSecret::StandIn, json!({"t": bad}));
            assert_eq!(out, None, "{bad}");
            assert!(
                d[0].message.contains("must name a secret"),
                "{bad}: {}",
                d[0].message
            );
        }
    }

    #[test]
    fn whole_placeholder_keeps_the_json_type() {
        let (out, d) = render(json!({"a": "${$.scale}", "b": "${$.on}", "c": "${$.obj}",
                                      "d": "${ $.list }", "e": "${$.nothing}", "f": "${$.f}"}));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            out.unwrap(),
            json!({"a": 2, "b": true, "c": {"a": 1}, "d": [1, 2], "e": null, "f": 1.5})
        );
    }

    #[test]
    fn embedded_placeholder_becomes_text() {
        let (out, d) = render(json!(["n-${$.name}-${$.scale}", "${$.on}!", " ${$.name}"]));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(out.unwrap(), json!(["n-llm-2", "true!", " llm"]));
    }

    #[test]
    fn objects_arrays_and_null_cannot_go_inside_text() {
        for expr in ["$.obj", "$.list", "$.nothing"] {
            let (out, d) = render(json!({"x": format!("a ${{{expr}}}")}));
            assert!(out.is_none());
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].path, "httpRequest.body.x");
            assert!(
                d[0].message.contains("cannot be placed inside text"),
                "{}",
                d[0].message
            );
        }
    }

    #[test]
    fn escape_gives_a_literal() {
        let (out, d) = render(json!([
            "$${$.name}",
            "a$${b}c ${$.name}",
            "$$",
            "$",
            "$$${$.name}"
        ]));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            out.unwrap(),
            json!(["${$.name}", "a${b}c llm", "$$", "$", "$${$.name}"])
        );
    }

    #[test]
    fn single_pass_never_evaluates_inserted_text() {
        let (out, _) = render(json!({"a": "${$.inj}", "b": "x ${$.inj}"}));
        assert_eq!(out.unwrap(), json!({"a": "${$.name}", "b": "x ${$.name}"}));
    }

    #[test]
    fn missing_and_multiple_selections_are_errors_with_location() {
        let (out, d) = render(json!({"spec": {"name": "${$.missing}", "many": "${$.list[*]}"}}));
        assert!(out.is_none());
        assert_eq!(d.len(), 2);
        // Diagnostics come in the order the author wrote the fields.
        assert_eq!(d[0].path, "httpRequest.body.spec.name");
        assert!(
            d[0].message.contains("`${$.missing}`") && d[0].message.contains("parameters.missing")
        );
        assert_eq!(d[1].path, "httpRequest.body.spec.many");
        assert!(
            d[1].message.contains("selects 2 values"),
            "{}",
            d[1].message
        );
    }

    #[test]
    fn bad_placeholders_are_explained() {
        for (t, needle) in [
            ("${$.name", "not closed"),
            ("${}", "empty placeholder"),
            ("${name}", "starting with `$`"),
            ("${$[}", "not a valid JSONPath"),
        ] {
            let (out, d) = render(json!(t));
            assert!(out.is_none(), "{t}");
            assert!(d[0].message.contains(needle), "{t}: {}", d[0].message);
        }
    }

    #[test]
    fn hostile_expressions_are_refused() {
        let deep = format!("${{$.a{}}}", "[?@".repeat(300));
        let (_, d) = render(json!(deep));
        assert!(
            d[0].message.contains("nests too deeply"),
            "{}",
            d[0].message
        );
        let long = format!("${{$.{}}}", "a".repeat(5000));
        let (_, d) = render(json!(long));
        assert!(d[0].message.contains("longer than"), "{}", d[0].message);
    }

    #[test]
    fn braces_inside_quoted_names() {
        let (out, d) = render(json!("${$['odd key']}"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(out.unwrap(), json!("x"));
        let p = json!({"a}b": 1});
        let mut d = Diagnostics::new();
        assert_eq!(
            render_json(
                &json!("${$['a}b']}"),
                &Parameters::new(&p),
                ROOMY,
                "",
                &mut d
            ),
            Some(json!(1))
        );
    }

    #[test]
    fn keys_are_rendered_as_text() {
        let (out, d) = render(json!({"k-${$.name}": 1}));
        assert!(d.is_empty());
        assert_eq!(out.unwrap(), json!({"k-llm": 1}));
    }

    #[test]
    fn costly_queries_are_refused_before_evaluation() {
        let deep = (0..100).fold(json!(1), |inner, _| json!({ "a": inner }));
        let p = json!({ "deep": deep, "items": [{"n": "x"}, {"n": "y"}] });
        let parameters = Parameters::new(&p);
        let mut d = Diagnostics::new();
        let template = json!({
            "cheap": "${$.items[?@.n == 'y'].n}",
            "costly": "${$.deep..*..*..*..*}",
            "descendants": "${$..n}"
        });
        assert_eq!(
            render_json(&template, &parameters, ROOMY, "body", &mut d),
            None
        );
        let [costly, descendants] = d.to_vec().try_into().unwrap();
        assert_eq!(costly.path, "body.costly");
        assert!(
            costly
                .message
                .contains("could visit 132,316,202 nodes of the parameters, more than the"),
            "{}",
            costly.message
        );
        assert!(
            costly.message.contains("budget of 8,000,000"),
            "{}",
            costly.message
        );
        // `$..n` is affordable, and selects two values: only that is wrong with it.
        assert_eq!(descendants.path, "body.descendants");
        assert!(descendants.message.contains("selects 2 values"));
    }

    #[test]
    fn the_budget_is_shared_by_all_placeholders_of_a_render() {
        let p = json!({ "items": (0..1000).map(|i| json!({ "id": i })).collect::<Vec<_>>() });
        // `$..[?@.id == 7].id` may visit ~8,000 nodes per evaluation (2,002 nodes, each with a
        // 2-step predicate); 2,000 of them exceed the 8,000,000 budget together.
        let many = vec![json!("${$..[?@.id == 7].id}"); 2000];
        let mut d = Diagnostics::new();
        assert_eq!(
            render_json(&json!(many), &Parameters::new(&p), ROOMY, "b", &mut d),
            None
        );
        // ~8,000 visits each: the first 998 are evaluated, the rest refused.
        assert_eq!(d.error_count(), 2000 - 998);
        let first = &d.to_vec()[0];
        assert_eq!(first.path, "b[998]");
        assert!(
            first.message.contains("left of this render's budget"),
            "{first:?}"
        );
        // Each placeholder alone is fine.
        let mut d = Diagnostics::new();
        let one = render_json(
            &json!("${$..[?@.id == 7].id}"),
            &Parameters::new(&p),
            ROOMY,
            "b",
            &mut d,
        );
        assert_eq!(one, Some(json!(7)), "{:?}", d.to_vec());
    }

    #[test]
    fn measure_counts_values_and_nesting() {
        assert_eq!(measure(&json!(1), 100), (1, 0));
        // The object, its keys a, c and b, the arrays, 1, and the two inner objects.
        assert_eq!(measure(&json!({"a": [1, {"b": {}}], "c": []}), 100), (9, 4));
        // The walk stops once the count passes its bound.
        assert!(measure(&json!(vec![1; 1000]), 10).0 <= 12);
    }

    #[test]
    fn string_lengths_are_serde_json_s() {
        for text in ["", "plain", "q\"b\\s", "\n\t\u{1}\u{7f}é/"] {
            assert_eq!(
                json_string_len(text),
                serde_json::to_string(text).unwrap().len(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_budget_is_spent_as_the_body_is_produced() {
        // Each placeholder inserts 100 KB: 10 fit in 1 MiB, the 11th is refused before it
        // is copied, and rendering stops there with one diagnostic.
        let p = json!({"big": "x".repeat(100_000), "many": vec![0; 1000]});
        let parameters = Parameters::new(&p);
        let template = json!(vec!["${$.big}"; 50]);
        let mut d = Diagnostics::new();
        assert_eq!(
            render_json(&template, &parameters, ROOMY, "b", &mut d),
            None
        );
        let [only] = d.to_vec().try_into().unwrap();
        assert_eq!(only.path, "b[10]");
        assert!(
            only.message.contains("larger than 1048576 bytes"),
            "{}",
            only.message
        );
        // Text inserts too, inside one string.
        let mut d = Diagnostics::new();
        let joined = json!({"s": "${$.big}".repeat(20)});
        assert_eq!(render_json(&joined, &parameters, ROOMY, "b", &mut d), None);
        assert_eq!(d.to_vec()[0].path, "b.s");
        // And values: 1,000 zeros are 1,001 values.
        let mut d = Diagnostics::new();
        let few = JsonBudget {
            bytes: 1 << 20,
            values: 1000,
        };
        assert_eq!(
            render_json(&json!("${$.many}"), &parameters, few, "b", &mut d),
            None
        );
        assert!(d.to_vec()[0].message.contains("1000 JSON values"));
        // What fits is produced exactly.
        let mut d = Diagnostics::new();
        let exact = json!({"k": ["${$.big}", 1, true, null, "t ${$.many[0]}"]});
        let out = render_json(&exact, &parameters, ROOMY, "b", &mut d).unwrap();
        assert!(d.to_vec().is_empty());
        assert!(crate::json::json_text(&out).len() <= ROOMY.bytes);
    }

    #[test]
    fn jsonata_keeps_the_json_type_of_a_sole_placeholder() {
        let (out, d) = render(json!({
            "n": "${jsonata: scale + 1}", "b": "${jsonata: $count(list) > 1}",
            "o": "${jsonata: obj}", "l": "${jsonata: [list.($ * 10)]}",
            "half": "${jsonata: scale / 4}", "root": "${jsonata: $$.name = $.name}",
            "models": "${jsonata: [list.{\"v\": $, \"w\": [{\"t\": \"x\"}]}]}"
        }));
        assert!(d.is_empty(), "{d:?}");
        let out = out.unwrap();
        assert_eq!(
            out,
            json!({"n": 3, "b": true, "o": {"a": 1}, "l": [10, 20], "half": 0.5, "root": true,
                   "models": [{"v": 1, "w": [{"t": "x"}]}, {"v": 2, "w": [{"t": "x"}]}]})
        );
        // JSONata computes in f64: a whole result is an integer, as integer fields need.
        assert!(out["n"].is_i64());
    }

    #[test]
    fn jsonata_and_jsonpath_share_text_with_the_same_rules() {
        let (out, d) = render(json!([
            "${jsonata: $uppercase(name)}-${$.scale}-${jsonata: on}",
            "$${jsonata: name} ${jsonata: \"}\" & name}",
            "${jsonata: inj}"
        ]));
        assert!(d.is_empty(), "{d:?}");
        // Inserted text is never evaluated again, whichever kind inserted it.
        assert_eq!(
            out.unwrap(),
            json!(["LLM-2-true", "${jsonata: name} }llm", "${$.name}"])
        );
        let (out, d) = render(json!({"x": "a ${jsonata: obj}"}));
        assert!(out.is_none());
        assert_eq!(d[0].path, "httpRequest.body.x");
        assert!(
            d[0].message.contains(
                "`${jsonata: obj}` selects an object, which cannot be placed inside text"
            ),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn jsonata_problems_are_diagnostics_at_the_field() {
        for (template, needle) in [
            (
                "${jsonata: missing}",
                "`${jsonata: missing}` selects nothing",
            ),
            (
                "${jsonata: 1 +}",
                "is not valid JSONata: S0207: Unexpected end of expression",
            ),
            ("${jsonata: \"a\" - 1}", "failed: T2001"),
            (
                "${jsonata: $uppercase}",
                "cannot be inserted: its result is a function",
            ),
            ("${jsonata: {\"a\": 1}", "not closed with `}`"),
            ("${jsonata: }", "empty placeholder"),
            (
                "${jsonata: ($f := function($x){$f($x) + 1}; $f(1))}",
                "D1011",
            ),
            ("${jsonata: [1..1000000]}", "D2015"),
        ] {
            let (out, d) = render(json!({"spec": {"name": template}}));
            assert!(out.is_none(), "{template}");
            assert_eq!(d.len(), 1, "{template}: {d:?}");
            assert_eq!(d[0].path, "httpRequest.body.spec.name");
            assert!(
                d[0].message.contains(needle),
                "{template}: {}",
                d[0].message
            );
        }
    }

    #[test]
    fn jsonata_messages_never_quote_the_parameters_text() {
        let p = json!({"token": "hf_abcdefgh12345", "short": "ab"});
        let mut d = Diagnostics::new();
        let template =
            json!({"t": "${jsonata: $number(token)}", "s": "${jsonata: $number(short)}"});
        render_json(&template, &Parameters::new(&p), ROOMY, "b", &mut d);
        let [token, short] = d.to_vec().try_into().unwrap();
        assert!(!token.message.contains("hf_abcdefgh"), "{}", token.message);
        assert!(token.message.contains("D3030"), "{}", token.message);
        // Short values are no secrets and help more than they could leak.
        assert!(short.message.contains("D3030"), "{}", short.message);
    }

    #[test]
    fn nondeterministic_jsonata_warns_or_is_refused() {
        let p = params();
        for (nondeterminism, severity) in [
            (Nondeterminism::Warn, crate::diagnostic::Severity::Warning),
            (Nondeterminism::Refuse, crate::diagnostic::Severity::Error),
        ] {
            let parameters = Parameters::new(&p).with_nondeterminism(nondeterminism);
            let mut d = Diagnostics::new();
            let template = json!({"a": {"b": "id-${jsonata: $string($millis())}"},
                                  "c": "${jsonata: \"$now()\"}"});
            let out = render_json(&template, &parameters, ROOMY, "httpRequest.body", &mut d);
            let [only] = d.to_vec().try_into().unwrap();
            assert_eq!(only.path, "httpRequest.body.a.b");
            assert_eq!(only.severity, severity);
            assert!(only.message.contains("calls `$millis`"), "{}", only.message);
            // The value is rendered either way (the error blocks sending, not the preview).
            assert_eq!(out.unwrap()["a"]["b"].as_str().map(|t| t.len()), Some(16));
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(8_000_000), "8,000,000");
        assert_eq!(count_text(u64::MAX), "over 10^15");
    }

    #[test]
    fn abbreviate_respects_char_boundaries() {
        assert_eq!(abbreviate("ééé", 2), "éé…");
        assert_eq!(abbreviate("ab", 2), "ab");
    }
}
