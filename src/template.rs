//! `${<JSONPath>}` placeholders (RFC 9535), evaluated against the task's parameters.
//!
//! Rendering is single-pass: text inserted from the parameters is never scanned again, so a
//! parameter value that looks like `${...}` stays literal text.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use serde_json::Value;
use serde_json_path_core::spec::query::Queryable;

use crate::diagnostic::{Diagnostics, join_index, join_key};
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
/// document's shape (measured once, on the first query that needs it) and the visits left.
pub struct Parameters<'p> {
    value: &'p Value,
    shape: OnceCell<jsonpath::Shape>,
    visits_left: Cell<u64>,
}

impl<'p> Parameters<'p> {
    pub fn new(value: &'p Value) -> Self {
        Parameters {
            value,
            shape: OnceCell::new(),
            visits_left: Cell::new(MAX_RENDER_VISITS),
        }
    }
}

/// One piece of a template string.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    /// The JSONPath between `${` and `}`, trimmed.
    Placeholder(&'a str),
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
            if at > 0 && rest.as_bytes()[at - 1] == b'$' {
                // `$${`: the text up to the first `$`, then a literal `${`.
                push_literal(&mut segments, &rest[..at - 1]);
                push_literal(&mut segments, &rest[at..at + 2]);
                rest = &rest[at + 2..];
                continue;
            }
            push_literal(&mut segments, &rest[..at]);
            let after = &rest[at + 2..];
            let end = closing_brace(after).ok_or_else(|| {
                format!(
                    "placeholder `{}` is not closed with `}}`",
                    abbreviate(&rest[at..], 40)
                )
            })?;
            segments.push(Segment::Placeholder(after[..end].trim()));
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

    /// The JSONPath when the whole string is exactly one placeholder.
    fn sole_placeholder(&self) -> Option<&'a str> {
        match self.segments.as_slice() {
            [Segment::Placeholder(expression)] => Some(expression),
            _ => None,
        }
    }

    /// Renders as text: literal text as is, inserted values through `insert` (which may
    /// percent-encode). Returns every problem found, one message each.
    pub fn render_text(
        &self,
        parameters: &Parameters,
        insert: impl Fn(&str, &mut String),
    ) -> Result<String, Vec<String>> {
        let mut out = String::new();
        let mut problems = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder(expression) => {
                    match select(expression, parameters).and_then(|v| value_as_text(expression, v))
                    {
                        Ok(text) => insert(&text, &mut out),
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

/// Evaluates one placeholder's JSONPath; it must select exactly one value.
fn select<'p>(expression: &str, parameters: &Parameters<'p>) -> Result<&'p Value, String> {
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
            "placeholder {} must be a JSONPath starting with `$` (the parameters), e.g. `${{$.{}}}`",
            placeholder(),
            abbreviate(expression, 40)
        ));
    }
    let query = jsonpath::parse(expression)
        .map_err(|e| format!("placeholder {} is not a valid JSONPath: {e}", placeholder()))?;
    let visits = jsonpath::worst_case_visits(&query, || {
        *parameters
            .shape
            .get_or_init(|| jsonpath::Shape::of(parameters.value))
    });
    let left = parameters.visits_left.get();
    if visits > left {
        return Err(format!(
            "placeholder {} could visit {} nodes of the parameters, more than the {} left of \
             this render's budget of {}: use fewer `..` segments, wildcards, filters or unions",
            placeholder(),
            count_text(visits),
            count_text(left),
            count_text(MAX_RENDER_VISITS)
        ));
    }
    parameters.visits_left.set(left - visits);
    let document = parameters.value;
    match query.query(document, document).as_slice() {
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

/// A count for messages: `12,345,678`, or "over 10^15" for astronomic ones.
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
fn value_as_text<'v>(expression: &str, value: &'v Value) -> Result<Cow<'v, str>, String> {
    match value {
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Number(n) => Ok(Cow::Owned(n.to_string())),
        Value::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => Err(format!(
            "placeholder `${{{}}}` selects {}, which cannot be placed inside text; make the \
             placeholder the whole value to insert it with its type",
            abbreviate(expression, 80),
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

/// Renders a text template (a header value) where every insert is plain text.
pub fn render_text(
    template: &str,
    parameters: &Parameters,
    path: &str,
    diagnostics: &mut Diagnostics,
) -> Option<String> {
    render_text_with(template, parameters, path, diagnostics, |text, out| {
        out.push_str(text)
    })
}

/// Renders a text template, passing inserted text through `insert`; problems become error
/// diagnostics at `path`.
pub fn render_text_with(
    template: &str,
    parameters: &Parameters,
    path: &str,
    diagnostics: &mut Diagnostics,
    insert: impl Fn(&str, &mut String),
) -> Option<String> {
    let rendered = Template::parse(template)
        .map_err(|problem| vec![problem])
        .and_then(|t| t.render_text(parameters, insert));
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

/// Renders a JSON template (the body): every string, object keys included, is a template; a
/// string that is exactly one placeholder becomes the selected value with its JSON type.
/// Returns None when anything failed; every failure is a diagnostic under `path`.
pub fn render_json(
    template: &Value,
    parameters: &Parameters,
    path: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    render_value(template, parameters, path, 0, diagnostics)
}

/// `render_json` for a value inside `outer` arrays and objects.
fn render_value(
    template: &Value,
    parameters: &Parameters,
    path: &str,
    outer: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    match template {
        Value::String(text) => render_json_string(text, parameters, path, outer, diagnostics),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match render_value(
                    item,
                    parameters,
                    &join_index(path, i),
                    outer + 1,
                    diagnostics,
                ) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some(Value::Array(out))
        }
        Value::Object(members) => {
            let mut out = serde_json::Map::new();
            let mut ok = true;
            for (key, member) in members {
                let member_path = join_key(path, key);
                let key = if key.contains("${") {
                    render_text(key, parameters, &member_path, diagnostics)
                } else {
                    Some(key.clone())
                };
                let value = render_value(member, parameters, &member_path, outer + 1, diagnostics);
                match (key, value) {
                    (Some(k), Some(v)) => {
                        out.insert(k, v);
                    }
                    _ => ok = false,
                }
            }
            ok.then_some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

fn render_json_string(
    text: &str,
    parameters: &Parameters,
    path: &str,
    outer: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    if !text.contains("${") {
        return Some(Value::String(text.to_owned()));
    }
    let template = match Template::parse(text) {
        Ok(t) => t,
        Err(problem) => {
            diagnostics.error(path, problem);
            return None;
        }
    };
    if let Some(expression) = template.sole_placeholder() {
        return match select(expression, parameters) {
            Ok(value) => {
                // Only an inserted array or object can nest the result deeper than the template.
                let depth = match value {
                    Value::Array(_) | Value::Object(_) => outer + nesting(value),
                    _ => outer,
                };
                if depth > MAX_NESTING {
                    diagnostics.error(
                        path,
                        format!(
                            "placeholder `${{{}}}` inserts JSON that leaves the body nested \
                             {depth} levels deep; at most {MAX_NESTING} are sent",
                            abbreviate(expression, 80)
                        ),
                    );
                    return None;
                }
                Some(value.clone())
            }
            Err(problem) => {
                diagnostics.error(path, problem);
                None
            }
        };
    }
    match template.render_text(parameters, |text, out| out.push_str(text)) {
        Ok(s) => Some(Value::String(s)),
        Err(problems) => {
            for problem in problems {
                diagnostics.error(path, problem);
            }
            None
        }
    }
}

/// How many arrays and objects deep `value` nests (a scalar: 0), without recursion.
fn nesting(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            Value::Object(members) => {
                pending.extend(members.values().map(|child| (child, depth + 1)))
            }
            _ => continue,
        }
        deepest = deepest.max(depth + 1);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Value {
        json!({"name": "llm", "scale": 2, "on": true, "obj": {"a": 1}, "list": [1, 2],
               "nothing": null, "inj": "${$.name}", "odd key": "x", "f": 1.5})
    }

    fn render(template: Value) -> (Option<Value>, Vec<crate::diagnostic::Diagnostic>) {
        let mut d = Diagnostics::new();
        let out = render_json(
            &template,
            &Parameters::new(&params()),
            "httpRequest.body",
            &mut d,
        );
        (out, d.to_vec())
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
            render_json(&json!("${$['a}b']}"), &Parameters::new(&p), "", &mut d),
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
        assert_eq!(render_json(&template, &parameters, "body", &mut d), None);
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
            render_json(&json!(many), &Parameters::new(&p), "b", &mut d),
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
            "b",
            &mut d,
        );
        assert_eq!(one, Some(json!(7)), "{:?}", d.to_vec());
    }

    #[test]
    fn nesting_counts_arrays_and_objects() {
        assert_eq!(nesting(&json!(1)), 0);
        assert_eq!(nesting(&json!({"a": [1, {"b": {}}], "c": []})), 4);
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
