//! Property tests: four promises the task keeps whatever its input.
//!
//! 1. Rendering never panics, whatever the definition and parameters (text or structure).
//! 2. A string that is exactly one placeholder becomes the selected value, JSON type kept.
//! 3. No masked output ever carries a secret, in any spelling a reader could decode.
//! 4. Parameters never change the URL's scheme, host or port (nor the shape of its path).
//!
//! Failures are not persisted (no `proptest-regressions/` files). Every property prints its
//! seed (shown with the failure): rerun with `PROPTEST_RNG_SEED=<seed>`, and set
//! `PROPTEST_CASES=<n>` to run more cases than the defaults tuned for `cargo test`.

use std::time::{SystemTime, UNIX_EPOCH};

use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::{TaskInput, render_request};
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::testkit::{Replying, now};
use do_dedicated_inference_task::transport::{
    BodyEnd, Delivery, TransportError, TransportErrorKind, WireRequest, WireResponse,
};
use do_dedicated_inference_task::url::Scheme;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Set-up

fn config(cases: u32) -> Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("PROPTEST_RNG_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let cases = env("PROPTEST_CASES").map_or(cases, |n| n as u32);
    eprintln!("proptest: {cases} cases, seed {seed} (rerun with PROPTEST_RNG_SEED={seed})");
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

fn fixture_definition() -> Value {
    serde_json::from_str(OP.default_definition).unwrap()
}

fn fixture_parameters() -> Value {
    serde_json::from_str(OP.example_parameters).unwrap()
}

fn input(definition: &Value, parameters: &Value, secrets: &[(&str, &str)]) -> TaskInput {
    TaskInput {
        definition: definition.to_string(),
        parameters: parameters.to_string(),
        secrets: secrets
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

/// An answer; header pairs that are not valid HTTP fields are left out, as a host would.
fn answer(
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    end: BodyEnd,
) -> WireResponse {
    let headers: HeaderMap = headers
        .into_iter()
        .filter_map(|(n, v)| {
            Some((
                HeaderName::from_bytes(n.as_bytes()).ok()?,
                HeaderValue::from_bytes(v.as_bytes()).ok()?,
            ))
        })
        .collect();
    WireResponse {
        status,
        headers,
        body,
        body_end: end,
    }
}

fn transport_error(kind: TransportErrorKind, detail: impl Into<String>) -> TransportError {
    TransportError::new(kind, Delivery::MaybeDelivered, detail)
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Text pieces that matter to the code under test: placeholder, JSON, JSONPath and URL syntax,
/// escapes, the mask characters, non-ASCII, invisible and control characters.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "${", "$${", "}", "$", "$.", "{", "[", "]", "'", "\"", "\\", "/", "//", "@", ":", "#", "?",
    "&", "=", "%", "%2e", "%zz", "..", ".", "-", "_", "~", " ", "\n", "\r", "\t", "\u{0}",
    "\u{1f}", "\u{7f}", "é", "ß", "☃", "𝄞", "\u{200b}", "\u{feff}", "\u{2028}", "•", "*", "a",
    "Z", "0", "9", "name", "token", "Bearer", "null", "true", "1e3", "-0",
];

/// Short text: either built from `PIECES` or made of any characters at all.
fn text(max_pieces: usize) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        vec(select(PIECES), 0..max_pieces).prop_map(|p| p.concat()),
        vec(any::<char>(), 0..max_pieces).prop_map(String::from_iter),
    ]
}

/// A float that survives serde_json's text round trip (serde_json's default parser is not
/// always correctly rounded; the task is not the place to test that).
fn float() -> impl Strategy<Value = Value> {
    any::<f64>().prop_filter_map("finite, and survives a round trip", |f| {
        let value = Value::Number(serde_json::Number::from_f64(f)?);
        (serde_json::from_str::<Value>(&value.to_string()).ok()? == value).then_some(value)
    })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        float(),
        text(8).prop_map(Value::String),
    ]
}

/// Any JSON value, nested up to a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((text(4), inner), 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[rustfmt::skip]
const PATH_PIECES: &[&str] = &[
    "$", "@", ".", "..", "*", "[", "]", "[*]", "[0]", "[-1]", "[1:]", "[::-1]", "[?", "?", "(",
    ")", "==", "!=", "<", ">=", "&&", "||", "!", "'", "\"", "'a}b'", "\\", "name", "model",
    "slug", "scale", "x", "odd key", " ", "length(", "count(", "value(", "match(", "1", "-1",
    "1.5", "1e400", "true", "null", ",", ":", "}", "{", "é", "\u{0}",
];

const GOOD_PATHS: &[&str] = &[
    "$",
    "$.name",
    "$.model.scale",
    "$.model.gpu",
    "$['odd key']",
    "$[\"name\"]",
    "$.model[*]",
    "$..slug",
    "$.list[0]",
    "$.list[-1]",
    "$.list[?@ > 1]",
    "$.model[?length(@) > 3]",
    "$.nope",
    "$.huggingFaceToken",
];

/// The text between `${` and `}`: a valid JSONPath, or JSONPath-ish noise.
fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        select(GOOD_PATHS).prop_map(String::from),
        vec(select(PATH_PIECES), 0..12).prop_map(|p| p.concat()),
        vec(select(PATH_PIECES), 0..12).prop_map(|p| format!("${}", p.concat())),
    ]
}

/// A template string: literal text, placeholders, `$${` escapes and unclosed `${`.
fn template() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            3 => text(4),
            3 => expression().prop_map(|e| format!("${{{e}}}")),
            1 => expression().prop_map(|e| format!("$${{{e}}}")),
            1 => Just("${".to_string()),
        ],
        0..4,
    )
    .prop_map(|p| p.concat())
}

/// A JSON template: every string and key may hold placeholders.
fn template_json() -> impl Strategy<Value = Value> {
    prop_oneof![3 => template().prop_map(Value::String), 1 => json_leaf()].prop_recursive(
        4,
        40,
        5,
        |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(Value::Array),
                vec((template(), inner), 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        },
    )
}

const BODY_POINTERS: &[&str] = &[
    "/httpRequest/body",
    "/httpRequest/body/spec",
    "/httpRequest/body/spec/name",
    "/httpRequest/body/spec/version",
    "/httpRequest/body/spec/region",
    "/httpRequest/body/spec/vpc",
    "/httpRequest/body/spec/model_deployments",
    "/httpRequest/body/spec/model_deployments/0",
    "/httpRequest/body/spec/model_deployments/0/accelerators/0/scale",
    "/httpRequest/body/access_tokens",
    "/httpRequest/body/access_tokens/hugging_face_token",
    "/httpRequest/url",
    "/httpRequest/method",
    "/httpRequest/headers",
    "/httpRequest/headers/Content-Type",
    "/httpRequest",
    "/type",
    "/connectionTimeoutSeconds",
    "/readTimeoutSeconds",
];

const HEADER_NAMES: &[&str] = &[
    "Authorization",
    "authorization",
    "Content-Type",
    "Content-Length",
    "Host",
    "Transfer-Encoding",
    "X-Trace",
    "Bad Name",
    "",
    "é",
];

/// The fixture definition with a few parts replaced by arbitrary templates or values.
fn definition() -> impl Strategy<Value = Value> {
    let edit = (
        select(BODY_POINTERS),
        prop_oneof![template_json(), json_value()],
    );
    let url = prop_oneof![
        template().prop_map(|t| format!("https://api.digitalocean.com/{t}")),
        template().prop_map(|t| format!("http://127.0.0.1:8080{t}")),
        template(),
    ];
    let headers = vec(
        (
            prop_oneof![select(HEADER_NAMES).prop_map(String::from), text(3)],
            prop_oneof![3 => template().prop_map(Value::String), 1 => json_leaf()],
        ),
        0..4,
    );
    (
        vec(edit, 0..4),
        prop::option::of(url),
        prop::option::of(headers),
        prop::option::of((text(3), json_value())),
    )
        .prop_map(|(edits, url, headers, extra)| {
            let mut d = fixture_definition();
            for (pointer, value) in edits {
                if let Some(slot) = d.pointer_mut(pointer) {
                    *slot = value;
                }
            }
            if let (Some(url), Some(http)) = (url, d.get_mut("httpRequest"))
                && http.is_object()
            {
                http["url"] = Value::String(url);
            }
            if let (Some(headers), Some(http)) = (headers, d.get_mut("httpRequest"))
                && http.is_object()
            {
                http["headers"] = Value::Object(headers.into_iter().collect());
            }
            if let Some((key, value)) = extra {
                d[key] = value;
            }
            d
        })
}

const PARAMETER_KEYS: &[&str] = &[
    "name",
    "region",
    "model",
    "list",
    "x",
    "odd key",
    "huggingFaceToken",
    "publicEndpoint",
];

/// The fixture parameters with some members replaced, or any JSON value at all.
fn parameters() -> impl Strategy<Value = Value> {
    let member = (
        prop_oneof![select(PARAMETER_KEYS).prop_map(String::from), text(3)],
        json_value(),
    );
    prop_oneof![
        4 => vec(member, 0..5).prop_map(|members| {
            let mut p = fixture_parameters();
            for (k, v) in members {
                p[k] = v;
            }
            p
        }),
        1 => json_value(),
    ]
}

/// JSON shaped like the API's answers (the keys the task reads), values arbitrary.
fn api_json() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "id",
        "message",
        "request_id",
        "dedicated_inference",
        "token",
        "value",
        "name",
        "status",
    ];
    json_leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            vec((select(KEYS).prop_map(String::from), inner), 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Any answer a transport may give.
fn transport_answer() -> impl Strategy<Value = Result<WireResponse, TransportError>> {
    let kind = select(
        &[
            TransportErrorKind::Timeout,
            TransportErrorKind::Connection,
            TransportErrorKind::Protocol,
            TransportErrorKind::NotSent,
        ][..],
    );
    let error = (kind, text(6)).prop_map(|(k, d)| transport_error(k, d));
    let status = prop_oneof![
        select(
            &[
                200u16, 201, 202, 204, 301, 302, 400, 401, 403, 404, 408, 415, 422, 429, 500, 503
            ][..]
        ),
        any::<u16>(),
    ];
    let header = (
        prop_oneof![
            select(
                &[
                    "content-type",
                    "retry-after",
                    "location",
                    "ratelimit-remaining"
                ][..]
            )
            .prop_map(String::from),
            text(3),
        ],
        prop_oneof![
            select(
                &[
                    "application/json",
                    "5",
                    "-1",
                    "99999999999999999999999",
                    "Wed, 21 Oct 2015 07:28:00 GMT",
                    "Thu, 01 Jan 2099 00:00:00 GMT",
                ][..]
            )
            .prop_map(String::from),
            text(6),
        ],
    );
    let body = prop_oneof![
        api_json().prop_map(|v| v.to_string().into_bytes()),
        vec(any::<u8>(), 0..64),
    ];
    let end = prop_oneof![
        3 => Just(BodyEnd::Complete),
        1 => Just(BodyEnd::OverLimit),
        1 => error.clone().prop_map(BodyEnd::Failed),
    ];
    prop_oneof![
        4 => (status, vec(header, 0..4), body, end)
            .prop_map(|(s, h, b, e)| Ok(answer(s, h, b, e))),
        1 => error.prop_map(Err),
    ]
}

/// Runs every entry point on `input`; each must return normally.
fn run_everything(input: &TaskInput, reply: &Result<WireResponse, TransportError>) {
    let rendering = render_request(&OP, input);
    if let Some(request) = &rendering.request {
        // What a rendered request promises the transport.
        assert!(request.url.path_with_query.starts_with('/'));
        let length = request
            .headers
            .iter()
            .find(|(n, _)| n == http::header::CONTENT_LENGTH);
        assert_eq!(
            length.and_then(|(_, v)| v.to_str().ok()),
            Some(request.body.len().to_string().as_str())
        );
    }
    let _ = task::render(&OP, input);
    let mut transport = Replying(|_: &WireRequest| reply.clone());
    let _ = task::test_request(&OP, input, &mut transport, now());
    let _ = task::execute(&OP, input, &mut transport, now());
}

// ---------------------------------------------------------------------------------------------
// 1. Rendering never panics

/// A byte offset in `text`, moved back to a character boundary.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text at all as definition and parameters: diagnostics, never a panic.
    #[test]
    fn any_text_renders_without_panicking(
        definition in prop_oneof![text(24), select(PIECES).prop_map(String::from)],
        parameters in text(24),
        token in text(4),
    ) {
        let input = TaskInput { definition, parameters, secrets: vec![("token".into(), token)] };
        run_everything(&input, &Err(transport_error(TransportErrorKind::Connection, "no")));
    }

    /// The fixture's text with random pieces spliced in or cut away: mostly broken JSON near
    /// valid JSON.
    #[test]
    fn spliced_fixture_text_renders_without_panicking(
        splices in vec((any::<usize>(), text(4)), 1..4),
        cut in prop::option::of(any::<usize>()),
        in_parameters in any::<bool>(),
    ) {
        let mut target = if in_parameters { OP.example_parameters } else { OP.default_definition }
            .to_string();
        for (at, piece) in splices {
            let at = boundary(&target, at);
            target.insert_str(at, &piece);
        }
        if let Some(cut) = cut {
            target.truncate(boundary(&target, cut));
        }
        let mut input = TaskInput {
            definition: OP.default_definition.into(),
            parameters: OP.example_parameters.into(),
            secrets: vec![("token".into(), "dop_v1_x".into())],
        };
        if in_parameters { input.parameters = target } else { input.definition = target }
        run_everything(&input, &Err(transport_error(TransportErrorKind::Timeout, "slow")));
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Structured inputs: arbitrary templates, placeholders and values anywhere in the
    /// definition, arbitrary parameters, arbitrary secrets, and any answer from the transport.
    #[test]
    fn structured_inputs_render_and_run_without_panicking(
        definition in definition(),
        parameters in parameters(),
        secrets in vec((select(&["token", "other"][..]), text(4)), 0..3),
        reply in transport_answer(),
    ) {
        let secrets: Vec<(&str, &str)> = secrets.iter().map(|(n, v)| (*n, v.as_str())).collect();
        run_everything(&input(&definition, &parameters, &secrets), &reply);
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Deep nesting on both sides of the 128-level parser limit, in the definition, the
    /// parameters and the JSONPath expressions.
    #[test]
    fn deep_nesting_renders_without_panicking(
        body_depth in 0usize..200,
        parameter_depth in 0usize..200,
        path_depth in 0usize..400,
        path_piece in select(&[".x", "[0]", "[", "[?@", "[?(@", "[?@.x[?@", "..", "!", "(", "['x']"][..]),
        arrays in any::<bool>(),
    ) {
        let (open, close) = if arrays { ("[", "]") } else { ("{\"x\":", "}") };
        let expression = format!("$.x{}", path_piece.repeat(path_depth));
        let placeholder = serde_json::to_string(&format!("${{{expression}}}")).unwrap();
        let definition = OP.default_definition.replacen(
            "\"version\": 1",
            &format!("\"version\": {}{placeholder}{}", open.repeat(body_depth), close.repeat(body_depth)),
            1,
        );
        prop_assert_ne!(&definition, OP.default_definition);
        let parameters = format!(
            "{{\"x\": {}\"leaf\"{}}}",
            open.repeat(parameter_depth),
            close.repeat(parameter_depth)
        );
        let input = TaskInput { definition, parameters, secrets: vec![] };
        run_everything(&input, &Err(transport_error(TransportErrorKind::Protocol, "?")));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. A whole-value placeholder keeps the JSON type

proptest! {
    #![proptest_config(config(1024))]

    /// `"${$.x}"` (in any spelling of the same JSONPath) renders to exactly the parameter `x`.
    /// Checked on the rendered request, which exists even when validation then objects (an
    /// array where the API wants an object, an unknown `spec.extra` field): the placeholder
    /// rule is about rendering, validation is a separate, later step.
    #[test]
    fn whole_value_placeholder_keeps_the_json_type(
        v in json_value(),
        spelling in select(&["${$.x}", "${ $.x }", "${$['x']}", "${$[\"x\"]}"][..]),
        whole_body in any::<bool>(),
    ) {
        let mut d = fixture_definition();
        if whole_body {
            d["httpRequest"]["body"] = json!(spelling);
        } else {
            d["httpRequest"]["body"]["spec"]["extra"] = json!(spelling);
        }
        let mut p = fixture_parameters();
        p["x"] = v.clone();
        let rendering = render_request(&OP, &input(&d, &p, &[("token", "dop_v1_x")]));
        let diagnostics = rendering.diagnostics.to_vec();
        let request = rendering.request.ok_or_else(|| {
            TestCaseError::fail(format!("no request: {diagnostics:?}"))
        })?;
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let rendered = if whole_body { &body } else { &body["spec"]["extra"] };
        prop_assert_eq!(rendered, &v);
        if !whole_body {
            // Nothing else moved: the rest of the body is the fixture's, rendered.
            let mut rest = body.clone();
            rest["spec"].as_object_mut().unwrap().remove("extra");
            let mut p = fixture_parameters();
            p["x"] = json!(null);
            let plain = render_request(&OP, &input(&fixture_definition(), &p, &[]));
            let plain: Value = serde_json::from_str(&plain.request.unwrap().body).unwrap();
            prop_assert_eq!(rest, plain);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Masking never leaks

/// Characters for tiny secrets: letters and digits that occur everywhere in the outputs,
/// regex, JSON, URL and placeholder syntax, the mask characters, non-ASCII and controls.
#[rustfmt::skip]
const SECRET_CHARS: &[char] = &[
    'a', 'e', 'Z', '0', '1', '4', '-', '.', '_', '~', ' ', '"', '\\', '/', '\'', '$', '{', '}',
    '[', ']', '(', ')', '*', '+', '?', '^', '|', '%', '&', '=', '#', '@', ':', ',', '<', 'é',
    '•', '\u{2588}', '𝄞', '\n', '\t', '\u{1}', '\u{7f}', '\u{2028}',
];

/// Words that also occur in the requests, answers and messages.
const COMMON_WORDS: &[&str] = &[
    "support-llm",
    "tor1",
    "llm",
    "POST",
    "Bearer",
    "Bearer ",
    "application/json",
    "token",
    "value",
    "id",
    "dedicated",
    "v2",
    "https",
    "api.digitalocean.com",
    "hugging_face_token",
    "gpu-h100x1-80gb",
    "202",
    "422",
    "null",
    "true",
    "\":\"",
    "\\\"",
    "\\u00e9",
    "%2F",
    "••••••••",
    "Nothing was sent",
];

/// Long, high-entropy secrets start with this; their 12-character prefix is checked too.
const LONG: &str = "LONG";

fn secret() -> impl Strategy<Value = String> {
    let core = prop_oneof![
        3 => vec(select(SECRET_CHARS), 1..=3).prop_map(String::from_iter),
        2 => select(COMMON_WORDS).prop_map(String::from),
        2 => vec(select(SECRET_CHARS), 4..16).prop_map(String::from_iter),
        2 => "[A-Za-z0-9]{20,40}".prop_map(|s| format!("{LONG}{s}")),
        1 => vec(any::<char>(), 1..8).prop_map(String::from_iter),
        // Periodic: the worst case of a naive overlapping search, and of masking's merging.
        1 => ("[a-b]{1,3}", 2usize..40).prop_map(|(unit, n)| format!("{LONG}{}", unit.repeat(n))),
    ];
    // Padded with whitespace, as a token read from a file keeps its newline.
    (
        core,
        select(&["", "", "", "\n", " ", "\t", "\r\n"][..]),
        any::<bool>(),
    )
        .prop_map(|(secret, pad, before)| {
            if before {
                format!("{pad}{secret}")
            } else {
                format!("{secret}{pad}")
            }
        })
}

/// The API token, the access token and the returned token, sometimes each other's substrings.
fn three_secrets() -> impl Strategy<Value = (String, String, String)> {
    let wrap = (text(2), text(2));
    prop_oneof![
        3 => (secret(), secret(), secret()),
        // The access token contains the API token, or the other way round.
        1 => (secret(), wrap.clone(), secret())
            .prop_map(|(t, (a, b), r)| (t.clone(), format!("{a}{t}{b}"), r)),
        1 => (secret(), wrap.clone(), secret())
            .prop_map(|(h, (a, b), r)| (format!("{a}{h}{b}"), h, r)),
        // The returned token contains, or is, one of the others.
        1 => (secret(), secret(), wrap, any::<bool>()).prop_map(|(t, h, (a, b), same)| {
            let r = if same { h.clone() } else { format!("{a}{t}{b}") };
            (t, h, r)
        }),
    ]
    .prop_filter("secrets are not blank", |(t, h, r)| {
        !t.trim().is_empty() && !h.trim().is_empty() && !r.trim().is_empty()
    })
}

#[derive(Clone, Copy, Debug)]
enum Echo {
    /// 422 whose message quotes the token, the Authorization header and the whole body.
    Rejected,
    /// 202 carrying the returned token, with the other secrets in its id, other fields and a
    /// header.
    Accepted,
    /// 200 echoing the secrets in its body, a header value and header names.
    Succeeded,
    /// The 202 cut off at some byte by the body bound.
    AcceptedOverLimit,
    /// The 202 broken off at some byte by the connection.
    AcceptedBroken,
    /// A redirect to a URL holding the token.
    Redirect,
    /// 404: the summary quotes the URL.
    NotFound,
    /// 500 with a text body quoting the request.
    TextError,
    /// 401 with a body that is not JSON (a syntax error) quoting the token `\u`-escaped.
    EscapedTextError,
    /// 401 whose header names carry the secrets (as a host hands them over: lower-cased).
    HeaderNames,
    /// No answer: the transport's message quotes the secrets.
    NoAnswer,
}

const ECHOES: &[Echo] = &[
    Echo::Rejected,
    Echo::Accepted,
    Echo::Succeeded,
    Echo::AcceptedOverLimit,
    Echo::AcceptedBroken,
    Echo::Redirect,
    Echo::NotFound,
    Echo::TextError,
    Echo::EscapedTextError,
    Echo::HeaderNames,
    Echo::NoAnswer,
];

/// How the echoing server writes JSON: as serde_json does, with every non-ASCII character as
/// `\uXXXX` (Python's `json.dumps`), with `/` as `\/` (PHP), or with the letters of its
/// strings as `\u0061` (legal, and what a fuzzer tries).
#[derive(Clone, Copy, Debug)]
enum JsonStyle {
    Plain,
    AsciiOnly,
    SlashEscaped,
    LettersEscaped,
}

fn write_json(value: &Value, style: JsonStyle) -> String {
    let plain = value.to_string();
    match style {
        JsonStyle::Plain => plain,
        JsonStyle::SlashEscaped => plain.replace('/', "\\/"),
        JsonStyle::LettersEscaped => {
            let mut out = String::with_capacity(plain.len() * 2);
            let (mut in_string, mut escaped, mut hex_left) = (false, false, 0);
            for c in plain.chars() {
                if hex_left > 0 {
                    hex_left -= 1;
                } else if escaped {
                    escaped = false;
                    hex_left = if c == 'u' { 4 } else { 0 };
                } else if in_string && c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = !in_string;
                } else if in_string && c.is_ascii_alphabetic() {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                    continue;
                }
                out.push(c);
            }
            out
        }
        JsonStyle::AsciiOnly => {
            let mut out = String::with_capacity(plain.len());
            for c in plain.chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            out
        }
    }
}

#[test]
fn every_json_style_writes_the_same_json() {
    let value = json!({"a/b": ["é😀", "line\nbreak \"quoted\" \\u0041", true, null, 1.5]});
    for style in [
        JsonStyle::Plain,
        JsonStyle::AsciiOnly,
        JsonStyle::SlashEscaped,
        JsonStyle::LettersEscaped,
    ] {
        let text = write_json(&value, style);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            value,
            "{style:?}: {text}"
        );
    }
}

#[derive(Clone, Debug)]
struct Leak {
    token: String,
    hf: String,
    returned: String,
    /// The API token comes from a literal `Authorization` template, not the `token` secret.
    token_in_header: bool,
    /// The access token is also put in the URL's query.
    hf_in_url: bool,
    /// `secrets` (the Go client's spelling) instead of `access_tokens`.
    go_spelling: bool,
    echo: Echo,
    style: JsonStyle,
    /// Padding before the echoed secrets (moves them across abbreviation limits), and where
    /// a cut body ends.
    pad: usize,
}

fn leak_case() -> impl Strategy<Value = Leak> {
    (
        three_secrets(),
        any::<(bool, bool, bool)>(),
        select(ECHOES),
        select(
            &[
                JsonStyle::Plain,
                JsonStyle::AsciiOnly,
                JsonStyle::SlashEscaped,
                JsonStyle::LettersEscaped,
            ][..],
        ),
        prop_oneof![0usize..40, 180usize..310],
    )
        .prop_map(
            |(
                (token, hf, returned),
                (token_in_header, hf_in_url, go_spelling),
                echo,
                style,
                pad,
            )| {
                Leak {
                    token,
                    hf,
                    returned,
                    token_in_header,
                    hf_in_url,
                    go_spelling,
                    echo,
                    style,
                    pad,
                }
            },
        )
}

/// `text` with every character written as a JSON `\u` escape.
fn all_escaped(text: &str) -> String {
    text.encode_utf16()
        .map(|unit| format!("\\u{unit:04x}"))
        .collect()
}

impl Leak {
    fn input(&self) -> TaskInput {
        let mut d = fixture_definition();
        let mut p = fixture_parameters();
        p["huggingFaceToken"] = json!(self.hf);
        let http = &mut d["httpRequest"];
        if self.go_spelling {
            let tokens = http["body"]
                .as_object_mut()
                .unwrap()
                .remove("access_tokens");
            http["body"]["secrets"] = tokens.unwrap();
        }
        if self.hf_in_url {
            http["url"] = json!(format!(
                "{}?hf=${{$.huggingFaceToken}}&n=${{$.name}}",
                http["url"].as_str().unwrap()
            ));
        }
        let mut secrets = vec![];
        if self.token_in_header {
            p["apiKey"] = json!(self.token);
            http["headers"]["Authorization"] = json!("Bearer ${$.apiKey}");
        } else {
            secrets.push(("token", self.token.as_str()));
        }
        input(&d, &p, &secrets)
    }

    /// The echoing API's answer to `request`.
    fn reply(&self, request: &WireRequest) -> Result<WireResponse, TransportError> {
        let auth = request
            .headers
            .iter()
            .find(|(n, _)| n == http::header::AUTHORIZATION)
            .map_or(String::new(), |(_, v)| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
        let pad = "x".repeat(self.pad);
        let quoted = format!(
            "{pad}token {} in {auth} for {} with {} ({})",
            self.token, request.url, request.body, self.hf
        );
        let json_headers = || vec![("content-type".to_string(), "application/json".to_string())];
        let echo_headers = || {
            let mut h = json_headers();
            h.push((
                "x-echo".into(),
                format!("{} {} {auth}", self.token, self.hf),
            ));
            h
        };
        let accepted = || {
            write_json(
                &json!({
                    "dedicated_inference": {"id": format!("di-{}", self.token), "spec": {"name": self.hf}, "status": "provisioning"},
                    "token": {"id": "t-1", "name": self.token, "value": self.returned},
                    "request_id": quoted,
                }),
                self.style,
            )
            .into_bytes()
        };
        let cut = |mut body: Vec<u8>| {
            body.truncate(self.pad * 3 % (body.len() + 1));
            body
        };
        Ok(match self.echo {
            Echo::Rejected => answer(
                422,
                echo_headers(),
                write_json(
                    &json!({"id": "unprocessable_entity", "message": quoted, "request_id": self.hf}),
                    self.style,
                )
                .into_bytes(),
                BodyEnd::Complete,
            ),
            Echo::Accepted => answer(202, echo_headers(), accepted(), BodyEnd::Complete),
            Echo::Succeeded => answer(
                200,
                {
                    let mut h = echo_headers();
                    h.push((format!("x-{}", self.token.trim()), "1".into()));
                    h.push((format!("x-{}", self.hf.trim()), "2".into()));
                    h
                },
                write_json(&json!({"ok": quoted, "id": self.hf}), self.style).into_bytes(),
                BodyEnd::Complete,
            ),
            Echo::AcceptedOverLimit => {
                answer(202, json_headers(), cut(accepted()), BodyEnd::OverLimit)
            }
            Echo::AcceptedBroken => answer(
                202,
                json_headers(),
                cut(accepted()),
                BodyEnd::Failed(transport_error(
                    TransportErrorKind::Connection,
                    format!("reset after {quoted}"),
                )),
            ),
            Echo::Redirect => answer(
                302,
                vec![(
                    "location".into(),
                    format!("https://elsewhere.example/{pad}?t={}&h={}", self.token, self.hf),
                )],
                vec![],
                BodyEnd::Complete,
            ),
            Echo::NotFound => answer(
                404,
                json_headers(),
                write_json(&json!({"id": "not_found", "message": quoted}), self.style)
                    .into_bytes(),
                BodyEnd::Complete,
            ),
            Echo::TextError => answer(
                500,
                vec![("content-type".into(), "text/plain".into())],
                quoted.into_bytes(),
                BodyEnd::Complete,
            ),
            Echo::EscapedTextError => answer(
                401,
                json_headers(),
                format!(
                    "{{\"message\": \"{pad}bad token {} / {}\", oops",
                    all_escaped(&self.token),
                    all_escaped(&self.hf)
                )
                .into_bytes(),
                BodyEnd::Complete,
            ),
            Echo::HeaderNames => answer(
                401,
                vec![
                    (format!("x-{}", self.token.trim()), "1".into()),
                    (format!("x-{}", self.hf.trim()), "2".into()),
                    (self.token.trim().to_ascii_lowercase(), "3".into()),
                ],
                vec![],
                BodyEnd::Complete,
            ),
            Echo::NoAnswer => {
                return Err(transport_error(
                    TransportErrorKind::Timeout,
                    format!("timed out: {quoted}"),
                ));
            }
        })
    }
}

/// The views of `text` the product promises to mask (README, Security): its JSON escapes
/// decoded up to `levels` times, and percent-encoding decoded in the first `percent` of those.
/// Written here independently of src/secrets/spellings.rs.
fn views(text: &str, levels: usize, percent: usize) -> Vec<String> {
    let mut decoded = vec![text.to_string()];
    for _ in 0..levels {
        let next = json_unescaped(decoded.last().unwrap());
        decoded.push(next);
    }
    let percents: Vec<String> = decoded
        .iter()
        .take(percent)
        .map(|v| percent_decoded(v))
        .collect();
    decoded.extend(percents);
    decoded
}

/// What a plain text output promises: three levels of JSON escapes, percent-encoding in the
/// text and inside one level of escapes. A JSON output's decoded strings are one level in.
const TEXT_VIEWS: (usize, usize) = (3, 2);
const DECODED_VIEWS: (usize, usize) = (2, 1);

/// JSON string escapes decoded wherever they are; anything else kept.
fn json_unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let hex = |s: &str| {
        s.get(..4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .filter(|_| s.len() >= 4 && s.is_char_boundary(4))
    };
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let simple = match after.chars().next() {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('/') => Some('/'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            rest = &after[1..];
            continue;
        }
        let unit = after.strip_prefix('u').and_then(hex);
        let decoded = unit.and_then(|high| {
            if (0xD800..0xDC00).contains(&high) {
                let low = after.get(5..)?.strip_prefix("\\u").and_then(hex)?;
                let c =
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?))?;
                Some((c, 11))
            } else {
                Some((char::from_u32(high)?, 5))
            }
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds a secret in any view of `text`, in every form it is used in (as given, trimmed,
/// ASCII-lower-cased), or (for a long secret) a 12-character prefix, which is what an
/// abbreviation cut leaves of it.
fn find_leak(text: &str, secrets: &[&str], (levels, percent): (usize, usize)) -> Option<String> {
    let views = views(text, levels, percent);
    for secret in secrets {
        let mut forms = vec![secret.to_string(), secret.trim().to_string()];
        forms.extend(forms.clone().iter().map(|f| f.to_ascii_lowercase()));
        let trimmed = secret.trim();
        if trimmed.starts_with(LONG) {
            forms.push(trimmed.chars().take(12).collect());
        }
        for form in forms.iter().filter(|f| !f.is_empty()) {
            if let Some(view) = views.iter().position(|v| v.contains(form.as_str())) {
                return Some(format!("{form:?} (of secret {secret:?}) in view {view}"));
            }
        }
    }
    None
}

/// Every string in a JSON text, keys and numbers included, as a reader decodes them.
fn json_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(members) => {
            for (k, v) in members {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

fn check_text(what: &str, text: &str, secrets: &[&str]) -> Result<(), TestCaseError> {
    check_views(what, text, secrets, TEXT_VIEWS)
}

fn check_views(
    what: &str,
    text: &str,
    secrets: &[&str],
    views: (usize, usize),
) -> Result<(), TestCaseError> {
    match find_leak(text, secrets, views) {
        Some(leak) => Err(TestCaseError::fail(format!("{what} leaks {leak}:\n{text}"))),
        None => Ok(()),
    }
}

/// A JSON output: its decoded strings. (The JSON text itself necessarily holds `"`, `{`, `:`
/// and escapes such as `\n`, which a one-character secret may equal; what a reader gets from
/// it is the decoded strings.)
fn check_json(what: &str, text: &str, secrets: &[&str]) -> Result<(), TestCaseError> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let mut strings = vec![];
        json_strings(&value, &mut strings);
        for s in strings {
            check_views(&format!("{what} (decoded)"), &s, secrets, DECODED_VIEWS)?;
        }
    }
    Ok(())
}

/// Takes out of a step output every string at depth three (`body.<key>.<key>`, the depth of
/// `body.token.value`) that is exactly the returned token, and returns the paths it sat at.
/// Found by value, not by key, so that the check does not lean on how the component masks
/// keys.
fn take_kept_token(output: &mut Value, returned: &str) -> Vec<Vec<String>> {
    let mut paths = vec![];
    let Some(outer) = output.as_object_mut() else {
        return paths;
    };
    for (first, middle) in outer.iter_mut() {
        let Some(middle) = middle.as_object_mut() else {
            continue;
        };
        for (second, inner) in middle.iter_mut() {
            let Some(inner) = inner.as_object_mut() else {
                continue;
            };
            let found: Vec<String> = inner
                .iter()
                .filter(|(_, v)| v.as_str() == Some(returned))
                .map(|(k, _)| k.clone())
                .collect();
            for third in found {
                inner.remove(&third);
                paths.push(vec![first.clone(), second.clone(), third]);
            }
        }
    }
    paths
}

proptest! {
    #![proptest_config(config(1024))]

    /// Every masked output of `test_request` and of a failed `execute` is free of the API
    /// token, the access token and the returned token, in every view a reader may decode and
    /// every form a secret is used in. SecretSet masks every secret, however short (a
    /// one-character secret masks that character everywhere); the mask is made of a character
    /// no secret contains. `execute`'s Ok output is checked too, with one allowance: the
    /// returned token at `body.token.value`, which the workflow must be able to store; and
    /// `revealed_secrets` is the one place test-request shows it.
    #[test]
    fn masked_outputs_never_contain_a_secret(case in leak_case()) {
        let input = case.input();
        // The returned token is a secret once the answer carries it as `token.value` (in full,
        // or, for a long one, at least the 12 characters `find_leak` looks for): before that,
        // nothing tells it apart from any other text, e.g. "Bearer" in a request header.
        let carried = render_request(&OP, &input).sendable().map(|request| {
            let body = match case.reply(request) {
                Ok(response) => String::from_utf8_lossy(&response.body).into_owned(),
                Err(_) => String::new(),
            };
            let quoted = write_json(&json!(case.returned), case.style);
            let prefix: String = case.returned.chars().take(12).collect();
            body.contains(&format!("\"value\":{quoted}"))
                || (case.returned.starts_with(LONG) && body.contains(&format!("\"value\":\"{prefix}")))
        });
        let mut secrets = vec![case.token.as_str(), case.hf.as_str()];
        if carried == Some(true) {
            secrets.push(case.returned.as_str());
        }

        let mut api = Replying(|r: &WireRequest| case.reply(r));
        let result = task::test_request(&OP, &input, &mut api, now());
        check_text("summary", &result.summary, &secrets)?;
        if let Some(request) = &result.request {
            check_text("preview url", &request.url, &secrets)?;
            for (name, value) in &request.headers {
                check_text(&format!("preview header {name}"), value, &secrets)?;
            }
            check_text("preview body", request.body.as_deref().unwrap_or(""), &secrets)?;
        }
        if let Some(response) = &result.response {
            for (name, value) in &response.headers {
                check_text("response header name", name, &secrets)?;
                check_text(&format!("response header {name}"), value, &secrets)?;
            }
            check_text("response body", &response.body, &secrets)?;
            check_json("response body", &response.body, &secrets)?;
        }
        for d in &result.diagnostics {
            check_text("diagnostic path", &d.path, &secrets)?;
            check_text("diagnostic", &d.message, &secrets)?;
        }

        match task::execute(&OP, &input, &mut api, now()) {
            // The step output keeps the returned token at `body.token.value`, and nothing
            // else of any secret: engines store it in their run history.
            Ok(output) => {
                let mut value: Value = serde_json::from_str(&output).unwrap();
                let kept = take_kept_token(&mut value, &case.returned);
                if carried == Some(true) {
                    prop_assert!(kept.len() == 1, "the returned token kept {} times: {}", kept.len(), output);
                    // The place is `body.token.value`, each key as it is or masked (when some
                    // secret, or a part of a credential, spells part of it).
                    let place = ["body", "token", "value"];
                    let masked = |key: &str| ['•', '*', '#', '~', '^', '_', '='].iter().any(|m| key.contains(&m.to_string().repeat(8)));
                    let at_place = kept[0].iter().zip(place).all(|(key, expected)| key == expected || masked(key));
                    prop_assert!(at_place, "the returned token kept at {:?}: {}", kept[0], output);
                }
                check_json("step output", &value.to_string(), &secrets)?;
            }
            Err(failure) => {
                check_text("step failure message", &failure.message, &secrets)?;
                for d in &failure.diagnostics {
                    check_text("step failure diagnostic path", &d.path, &secrets)?;
                    check_text("step failure diagnostic", &d.message, &secrets)?;
                }
                if let Some(response) = &failure.response {
                    prop_assert!(serde_json::from_str::<Value>(response).is_ok(), "{}", response);
                    check_json("step failure response", response, &secrets)?;
                }
            }
        }

        // Same for `render`'s outputs: no answer, so no returned token.
        let secrets = &secrets[..2];
        match task::render(&OP, &input) {
            Ok(preview) => {
                check_text("render url", &preview.url, secrets)?;
                for (name, value) in &preview.headers {
                    check_text(&format!("render header {name}"), value, secrets)?;
                }
                check_text("render body", preview.body.as_deref().unwrap_or(""), secrets)?;
            }
            Err(diagnostics) => {
                for d in &diagnostics {
                    check_text("render diagnostic path", &d.path, secrets)?;
                    check_text("render diagnostic", &d.message, secrets)?;
                }
            }
        }
    }
}

#[test]
fn the_oracle_decodes_what_a_reader_decodes() {
    assert_eq!(
        json_unescaped(r"a\u0062\\u0063 \ud83d\ude00 \x"),
        r"ab\u0063 😀 \x"
    );
    assert_eq!(percent_decoded("%64op%2"), "dop%2");
    assert!(find_leak(r"\\u0064op", &["dop"], TEXT_VIEWS).is_some());
    assert!(find_leak(r"%5\u0042", &["["], TEXT_VIEWS).is_some());
    assert!(find_leak("x-dop_v1_abc", &["DOP_V1_ABC"], TEXT_VIEWS).is_some());
    assert!(find_leak("dop", &["dop\n"], TEXT_VIEWS).is_some());
}

// ---------------------------------------------------------------------------------------------
// 4. Parameters never change the URL's scheme, host or port

/// (URL prefix in the definition, scheme, host, port), as the renderer must keep them.
const BASES: &[(&str, &str, &str, Option<u16>)] = &[
    (
        "https://api.digitalocean.com",
        "https",
        "api.digitalocean.com",
        None,
    ),
    (
        "HTTPS://API.DigitalOcean.com:8443",
        "https",
        "api.digitalocean.com",
        Some(8443),
    ),
    (
        "https://proxy.example.com:443",
        "https",
        "proxy.example.com",
        Some(443),
    ),
    ("http://127.0.0.1:8080", "http", "127.0.0.1", Some(8080)),
    ("http://localhost", "http", "localhost", None),
    ("http://[::1]:9", "http", "[::1]", Some(9)),
];

/// What a parameter may try: userinfo, authority and scheme markers, separators, escapes.
#[rustfmt::skip]
const URL_PIECES: &[&str] = &[
    "@", "//", "/", "\\", ":", "#", "?", "&", "=", "+", ";", "%", "%2e", "%2E", "%2F", "%40", "..",
    ".", "evil.example", "user:pass@", "[::1]", "https://evil.example", ":8080", "é", "☃", "𝄞",
    "\u{0}", "\u{7f}", " ", "\t", "\n", "a", "Z", "0", "${$.b}", "$${",
];

fn url_parameter() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => vec(select(URL_PIECES), 0..8).prop_map(|p| Value::String(p.concat())),
        2 => vec(any::<char>(), 0..8).prop_map(|c| Value::String(String::from_iter(c))),
        1 => any::<i64>().prop_map(Value::from),
        1 => float(),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

/// The definition's own path and query text: literal pieces and the placeholders a, b, c.
/// (`#` is left out: a literal fragment is the definition's own doing, and is dropped.)
#[rustfmt::skip]
const PATH_PIECES_LITERAL: &[&str] = &[
    "/", "v2", "dedicated-inferences", "?", "&", "=", "q", "a b", "%41", "é", "-", "@", ":",
    "${$.a}", "${$.b}", "${$.c}", "$${x}",
];

/// The characters of `text` that give a path and query their shape.
fn shape(text: &str) -> String {
    text.chars().filter(|c| "/?&=@:".contains(*c)).collect()
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn parameters_never_change_scheme_host_or_port(
        base in select(BASES),
        path in vec(select(PATH_PIECES_LITERAL), 0..8),
        a in url_parameter(),
        b in url_parameter(),
        c in url_parameter(),
    ) {
        let (prefix, scheme, host, port) = base;
        let authority = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let scheme_enum = if scheme == "https" { Scheme::Https } else { Scheme::Http };
        let path = path.concat();
        let mut d = fixture_definition();
        d["httpRequest"]["url"] = json!(format!("{prefix}/{path}"));
        let mut p = fixture_parameters();
        p["a"] = a;
        p["b"] = b;
        p["c"] = c;
        let rendering = render_request(&OP, &input(&d, &p, &[("token", "dop_v1_x")]));
        let Some(request) = rendering.request else {
            return Ok(());
        };
        // The renderer's own view...
        prop_assert_eq!(request.url.scheme, scheme_enum);
        prop_assert_eq!(&request.url.host, host);
        prop_assert_eq!(request.url.port, port);
        // ...and the URL as text, read independently: the authority ends at the first of
        // `/`, `\` (WHATWG parsers read it as `/`), `?` and `#`.
        let url = request.url.to_string();
        let (rendered_scheme, rest) = url.split_once("://").unwrap();
        prop_assert_eq!(rendered_scheme, scheme);
        let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
        prop_assert_eq!(&rest[..end], authority.as_str(), "{}", url);
        let target = &rest[end..];
        prop_assert!(target.starts_with('/'), "{}", url);
        // Only URL characters, no fragment, no backslash, every `%` an escape.
        let bytes = target.as_bytes();
        for (i, &byte) in bytes.iter().enumerate() {
            let ok = byte.is_ascii_alphanumeric()
                || b"-._~!$&'()*+,;=:@/?".contains(&byte)
                || (byte == b'%'
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
            prop_assert!(ok, "byte {:?} in {}", byte as char, url);
        }
        // No segment climbs the path.
        let route = target.split('?').next().unwrap();
        for segment in route.split('/') {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            prop_assert!(decoded != "." && decoded != "..", "{}", url);
        }
        // Parameters add no `/`, `?`, `&`, `=`, `@` or `:`: the path keeps the definition's shape.
        let literal = path.replace("$${", "").replace("${$.a}", "").replace("${$.b}", "")
            .replace("${$.c}", "");
        prop_assert_eq!(shape(target), shape(&format!("/{literal}")), "{}", url);
    }
}
