//! From a task definition and parameters to the exact request that goes on the wire:
//! read the definition, render URL, headers and body, add the default headers, validate.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostics, join_key};
use crate::http_syntax::{is_field_value, is_token};
use crate::json::json_text;
use crate::operation::{Note, Operation};
use crate::secrets::SecretSet;
use crate::template::{Parameters, abbreviate, json_kind, render_json, render_text};
use crate::transport::{Timeouts, WireRequest};
use crate::url::render_url;
use crate::validate::validate_body;

/// What the host hands to one run (the WIT `task-input`).
#[derive(Clone, Debug, Default)]
pub struct TaskInput {
    pub definition: String,
    pub parameters: String,
    pub secrets: Vec<(String, String)>,
}

/// The secret that carries the API token.
pub const TOKEN_SECRET: &str = "token";

/// The result of rendering: the request when it could be built (even with validation errors,
/// so that the editor can show it), every diagnostic, and every secret to mask.
#[derive(Debug)]
pub struct Rendering {
    pub request: Option<WireRequest>,
    pub diagnostics: Diagnostics,
    pub secrets: SecretSet,
}

impl Rendering {
    /// Ready to send: built, and no error diagnostics.
    pub fn sendable(&self) -> Option<&WireRequest> {
        self.request
            .as_ref()
            .filter(|_| !self.diagnostics.has_errors())
    }
}

const TOP_LEVEL_FIELDS: &[&str] = &[
    "type",
    "description",
    "credentials",
    "httpRequest",
    "retry",
    "connectionTimeoutSeconds",
    "readTimeoutSeconds",
];
const HTTP_REQUEST_FIELDS: &[&str] = &["url", "method", "headers", "body"];

/// Headers the host's HTTP layer owns; wasi:http hosts refuse them.
const TRANSPORT_HEADERS: &[&str] = &[
    "connection",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Input bounds: a real definition is a few KB with a dozen placeholders; these keep a
/// hostile or runaway input to bounded time and memory, with a clear diagnostic.
pub const MAX_DEFINITION_BYTES: usize = 1024 * 1024;
pub const MAX_PARAMETERS_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_PLACEHOLDERS: usize = 1000;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Timeouts above an hour are refused: a step that waits longer is stuck, not slow.
const MAX_TIMEOUT_SECONDS: u64 = 3600;
const DEFINITION: &str = "definition";
const PARAMETERS: &str = "parameters";
const URL_PATH: &str = "httpRequest.url";
const METHOD_PATH: &str = "httpRequest.method";
const HEADERS_PATH: &str = "httpRequest.headers";
const BODY_PATH: &str = "httpRequest.body";

/// Renders and validates the request that `input` describes, for `operation`.
pub fn render_request(operation: &Operation, input: &TaskInput) -> Rendering {
    let mut diagnostics = Diagnostics::new();
    let mut secrets = SecretSet::new();
    for (_, value) in &input.secrets {
        secrets.add(value);
    }
    let definition = parse_json(
        &input.definition,
        DEFINITION,
        "{...} task definition",
        MAX_DEFINITION_BYTES,
        &mut diagnostics,
    )
    .filter(|_| check_placeholder_count(&input.definition, &mut diagnostics));
    let parameters = if input.parameters.trim().is_empty() {
        Some(Value::Object(Map::new()))
    } else {
        parse_json(
            &input.parameters,
            PARAMETERS,
            "{...} object of parameters",
            MAX_PARAMETERS_BYTES,
            &mut diagnostics,
        )
    };
    let (Some(definition), Some(parameters)) = (definition, parameters) else {
        return Rendering {
            request: None,
            diagnostics,
            secrets,
        };
    };
    let request = build_request(
        operation,
        input,
        &definition,
        &Parameters::new(&parameters),
        &mut diagnostics,
        &mut secrets,
    );
    Rendering {
        request,
        diagnostics,
        secrets,
    }
}

/// Parses `text` as a JSON object; otherwise an error at `path`.
fn parse_json(
    text: &str,
    path: &str,
    expected: &str,
    max_bytes: usize,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    if text.len() > max_bytes {
        diagnostics.error(
            path,
            format!(
                "is {} bytes; at most {} are accepted",
                text.len(),
                max_bytes
            ),
        );
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Some(value),
        Ok(other) => {
            diagnostics.error(
                path,
                format!("expected a JSON {expected}, found {}", json_kind(&other)),
            );
            None
        }
        // serde_json stops at 128 levels; say so plainly rather than "recursion limit".
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            diagnostics.error(
                path,
                format!(
                    "nests deeper than 128 levels (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            );
            None
        }
        Err(e) => {
            diagnostics.error(path, format!("is not valid JSON: {e}"));
            None
        }
    }
}

fn build_request(
    operation: &Operation,
    input: &TaskInput,
    definition: &Value,
    parameters: &Parameters,
    diagnostics: &mut Diagnostics,
    secrets: &mut SecretSet,
) -> Option<WireRequest> {
    warn_unknown_fields(definition, "", TOP_LEVEL_FIELDS, diagnostics);
    if let Some(kind) = definition.get("type").and_then(Value::as_str)
        && !kind.eq_ignore_ascii_case("http")
    {
        diagnostics.warning(
            "type",
            format!(
                "this is an HTTP task, but the definition says type `{}`",
                abbreviate(kind, 40)
            ),
        );
    }
    let timeouts = read_timeouts(operation, definition, diagnostics);
    let Some(http_request) = definition.get("httpRequest").filter(|v| v.is_object()) else {
        diagnostics.error(
            "httpRequest",
            "`httpRequest` is required: an object with url, method, headers and body",
        );
        return None;
    };
    warn_unknown_fields(
        http_request,
        "httpRequest",
        HTTP_REQUEST_FIELDS,
        diagnostics,
    );
    let method = read_method(operation, http_request, diagnostics);

    let url = match http_request.get("url") {
        Some(Value::String(template)) => {
            render_url(template, parameters, URL_PATH, operation.host, diagnostics)
        }
        Some(other) => {
            diagnostics.error(
                URL_PATH,
                format!("expected a string, found {}", json_kind(other)),
            );
            None
        }
        None => {
            diagnostics.error(
                URL_PATH,
                format!("`url` is required, e.g. `{}`", operation.url()),
            );
            None
        }
    };

    let body = match http_request.get("body") {
        Some(template) => render_json(template, parameters, BODY_PATH, diagnostics),
        None => {
            diagnostics.error(
                BODY_PATH,
                "`body` is required for a POST: the JSON object to send",
            );
            None
        }
    };
    if let Some(body) = &body {
        collect_body_secrets(operation, body, secrets);
        validate_body(operation, body, BODY_PATH, diagnostics);
    }

    let headers = render_headers(http_request, parameters, input, diagnostics, secrets)?;
    let (url, body) = (url?, body?);
    let body = json_text(&body);
    if body.len() > MAX_BODY_BYTES {
        diagnostics.error(
            BODY_PATH,
            format!(
                "renders to {} bytes; at most {MAX_BODY_BYTES} are sent",
                body.len()
            ),
        );
        return None;
    }
    let mut headers = headers;
    headers.push(("Content-Length".to_string(), body.len().to_string()));
    Some(WireRequest {
        method,
        url,
        headers,
        body,
        timeouts,
    })
}

/// Counts `${` that are not the `$${` escape; more than `MAX_PLACEHOLDERS` is an error.
fn check_placeholder_count(definition: &str, diagnostics: &mut Diagnostics) -> bool {
    let count = definition
        .match_indices("${")
        .filter(|(at, _)| *at == 0 || definition.as_bytes()[at - 1] != b'$')
        .count();
    if count > MAX_PLACEHOLDERS {
        diagnostics.error(
            DEFINITION,
            format!("has {count} placeholders; at most {MAX_PLACEHOLDERS} are accepted"),
        );
    }
    count <= MAX_PLACEHOLDERS
}

/// Unknown fields warn (a typo such as `readTimeoutSecond` must be visible), with the likely
/// intended name when one is close.
fn warn_unknown_fields(object: &Value, path: &str, known: &[&str], diagnostics: &mut Diagnostics) {
    let Some(members) = object.as_object() else {
        return;
    };
    for key in members.keys().filter(|k| !known.contains(&k.as_str())) {
        let hint = known
            .iter()
            .find(|k| edit_distance(k, key) <= 2)
            .map_or(String::new(), |k| format!("; did you mean `{k}`?"));
        diagnostics.warning(
            join_key(path, key),
            format!("unknown field `{}` is ignored{hint}", abbreviate(key, 60)),
        );
    }
}

fn read_method(
    operation: &Operation,
    http_request: &Value,
    diagnostics: &mut Diagnostics,
) -> String {
    match http_request.get("method") {
        Some(Value::String(m)) if m.eq_ignore_ascii_case(operation.method) => {
            operation.method.to_string()
        }
        Some(Value::String(m)) => {
            diagnostics.error(
                METHOD_PATH,
                format!(
                    "this task performs {}, not `{}`",
                    operation.method,
                    abbreviate(m, 20)
                ),
            );
            m.to_ascii_uppercase()
        }
        Some(other) => {
            diagnostics.error(
                METHOD_PATH,
                format!("expected a string, found {}", json_kind(other)),
            );
            operation.method.to_string()
        }
        None => {
            diagnostics.error(
                METHOD_PATH,
                format!("`method` is required: {}", operation.method),
            );
            operation.method.to_string()
        }
    }
}

fn read_timeouts(
    operation: &Operation,
    definition: &Value,
    diagnostics: &mut Diagnostics,
) -> Timeouts {
    let mut seconds = |name: &str, default: u64| -> u64 {
        match definition.get(name) {
            None | Some(Value::Null) => default,
            Some(value) => match value.as_u64() {
                Some(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => s,
                _ => {
                    diagnostics.error(
                        name,
                        format!(
                            "expected an integer number of seconds from 1 to {MAX_TIMEOUT_SECONDS}, found {}",
                            abbreviate(&json_text(value), 40)
                        ),
                    );
                    default
                }
            },
        }
    };
    let connect = seconds(
        "connectionTimeoutSeconds",
        operation.default_connect_timeout_s,
    );
    let read = seconds("readTimeoutSeconds", operation.default_read_timeout_s);
    Timeouts {
        connect: Duration::from_secs(connect),
        first_byte: Duration::from_secs(read),
        between_bytes: Duration::from_secs(read),
    }
}

/// The definition's headers rendered and checked, then `Content-Type` and `Authorization`
/// added when the definition does not set them. None when any header failed to render.
fn render_headers(
    http_request: &Value,
    parameters: &Parameters,
    input: &TaskInput,
    diagnostics: &mut Diagnostics,
    secrets: &mut SecretSet,
) -> Option<Vec<(String, String)>> {
    let empty = Map::new();
    let templates = match http_request.get("headers") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(members)) => members,
        Some(other) => {
            diagnostics.error(
                HEADERS_PATH,
                format!(
                    "expected an object of name → value, found {}",
                    json_kind(other)
                ),
            );
            &empty
        }
    };
    let mut headers = Vec::with_capacity(templates.len() + 3);
    let mut ok = true;
    for (name, template) in templates {
        let path = join_key(HEADERS_PATH, name);
        let lower = name.to_ascii_lowercase();
        if !is_token(name) {
            diagnostics.error(
                &path,
                format!(
                    "`{}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                    abbreviate(name, 60)
                ),
            );
            ok = false;
            continue;
        }
        if TRANSPORT_HEADERS.contains(&lower.as_str()) {
            diagnostics.error(
                &path,
                format!("`{name}` is managed by the host's HTTP layer; remove it"),
            );
            ok = false;
            continue;
        }
        if lower == "content-length" {
            diagnostics.warning(
                &path,
                "`Content-Length` is computed from the rendered body; this value is ignored",
            );
            continue;
        }
        let Value::String(template) = template else {
            diagnostics.error(
                &path,
                format!("expected a string, found {}", json_kind(template)),
            );
            ok = false;
            continue;
        };
        match render_text(template, parameters, &path, diagnostics) {
            Some(value) if check_header_value(&value, &path, diagnostics) => {
                if lower == "authorization" {
                    mask_credential(&value, secrets);
                }
                if lower == "content-type" {
                    check_content_type(&value, &path, diagnostics);
                }
                headers.push((name.clone(), value));
            }
            _ => ok = false,
        }
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has(&headers, "content-type")
        && !templates
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    if !templates
        .keys()
        .any(|k| k.eq_ignore_ascii_case("authorization"))
    {
        let token = input
            .secrets
            .iter()
            .find(|(name, _)| name == TOKEN_SECRET)
            .map(|(_, v)| v.trim());
        match token {
            Some(token) if !token.is_empty() => {
                let value = format!("Bearer {token}");
                let path = join_key("secrets", TOKEN_SECRET);
                if check_header_value(&value, &path, diagnostics) {
                    headers.push(("Authorization".into(), value));
                } else {
                    ok = false;
                }
            }
            _ => diagnostics.warning(
                join_key(HEADERS_PATH, "Authorization"),
                "no `token` secret and no Authorization header: sending without credentials \
                 (fine if the host adds them; otherwise the API answers 401)",
            ),
        }
    }
    ok.then_some(headers)
}

/// Header values must not break the header block: CR/LF would inject headers.
fn check_header_value(value: &str, path: &str, diagnostics: &mut Diagnostics) -> bool {
    if value.contains(['\r', '\n']) {
        diagnostics.error(
            path,
            "the value contains a line break (CR or LF), which is not allowed in a header",
        );
        false
    } else if !is_field_value(value) {
        diagnostics.error(
            path,
            "the value contains control characters, which are not allowed in a header",
        );
        false
    } else {
        true
    }
}

/// The credential in an `Authorization` value the definition wrote itself is a secret too.
fn mask_credential(value: &str, secrets: &mut SecretSet) {
    let credential = value.split_once(' ').map_or(value, |(_, rest)| rest).trim();
    secrets.add(credential);
}

fn check_content_type(value: &str, path: &str, diagnostics: &mut Diagnostics) {
    let media_type = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" && !media_type.ends_with("+json") {
        diagnostics.warning(
            path,
            format!(
                "the body is JSON, but Content-Type is `{}`; the API will likely answer 415",
                abbreviate(value, 60)
            ),
        );
    }
}

/// Every value under a secret field of the body (`access_tokens`, `secrets`).
fn collect_body_secrets(operation: &Operation, body: &Value, secrets: &mut SecretSet) {
    for field in operation.body_fields {
        if matches!(field.note, Note::Secret | Note::SecretAlias { .. })
            && !field.path.contains('.')
            && let Some(value) = body.get(field.path)
        {
            secrets.add_leaves(value);
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Diagnostic, Severity};
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use serde_json::json;

    const TOKEN: &str = "dop_v1_0123456789abcdef";

    fn fixture() -> (Value, Value) {
        (
            serde_json::from_str(OP.default_definition).unwrap(),
            serde_json::from_str(OP.example_parameters).unwrap(),
        )
    }

    fn input(definition: &Value, parameters: &Value) -> TaskInput {
        TaskInput {
            definition: definition.to_string(),
            parameters: parameters.to_string(),
            secrets: vec![(TOKEN_SECRET.into(), TOKEN.into())],
        }
    }

    fn render(
        definition: &Value,
        parameters: &Value,
    ) -> (Option<WireRequest>, Vec<Diagnostic>, SecretSet) {
        let r = render_request(&OP, &input(definition, parameters));
        (r.request, r.diagnostics.to_vec(), r.secrets)
    }

    fn header<'a>(request: &'a WireRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_fixture_renders_cleanly() {
        let (d, p) = fixture();
        let (request, diagnostics, secrets) = render(&d, &p);
        assert_eq!(diagnostics, vec![]);
        let request = request.unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.url.to_string(),
            "https://api.digitalocean.com/v2/dedicated-inferences"
        );
        assert_eq!(
            header(&request, "authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            header(&request, "content-length"),
            Some(request.body.len().to_string().as_str())
        );
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body["spec"]["model_deployments"][0]["accelerators"][0]["scale"],
            json!(1)
        );
        assert_eq!(body["spec"]["enable_public_endpoint"], json!(true));
        assert_eq!(request.timeouts.connect, Duration::from_secs(5));
        assert_eq!(request.timeouts.between_bytes, Duration::from_secs(10));
        let masked = secrets.mask_str(&request.body);
        assert!(!masked.contains("hf_standin"), "{masked}");
    }

    #[test]
    fn malformed_json_inputs_are_diagnostics() {
        let r = render_request(
            &OP,
            &TaskInput {
                definition: "{".into(),
                parameters: "[1".into(),
                secrets: vec![],
            },
        );
        assert!(r.request.is_none());
        let d = r.diagnostics.to_vec();
        assert_eq!(
            d.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
            ["definition", "parameters"]
        );
        assert!(d[0].message.starts_with("is not valid JSON"));
        let r = render_request(
            &OP,
            &TaskInput {
                definition: "[]".into(),
                parameters: "".into(),
                secrets: vec![],
            },
        );
        assert!(r.diagnostics.to_vec()[0].message.contains("found an array"));
    }

    #[test]
    fn unknown_fields_warn_with_a_hint() {
        let (mut d, p) = fixture();
        d["readTimeoutSecond"] = json!(3);
        d["httpRequest"]["header"] = json!({});
        let (request, diagnostics, _) = render(&d, &p);
        assert!(request.is_some());
        assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
        assert!(diagnostics.iter().all(|d| d.severity == Severity::Warning));
        assert!(
            diagnostics.iter().any(
                |d| d.path == "readTimeoutSecond" && d.message.contains("`readTimeoutSeconds`")
            )
        );
        assert!(
            diagnostics
                .iter()
                .any(|d| d.path == "httpRequest.header" && d.message.contains("`headers`"))
        );
    }

    #[test]
    fn method_and_timeouts_are_checked() {
        let (mut d, p) = fixture();
        d["httpRequest"]["method"] = json!("GET");
        d["connectionTimeoutSeconds"] = json!(0);
        d["readTimeoutSeconds"] = json!("10");
        let (_, diagnostics, _) = render(&d, &p);
        let paths: Vec<_> = diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "connectionTimeoutSeconds",
                "readTimeoutSeconds",
                "httpRequest.method"
            ]
        );
        d["httpRequest"]["method"] = json!("post");
        d["connectionTimeoutSeconds"] = json!(2);
        d["readTimeoutSeconds"] = json!(3);
        let (request, diagnostics, _) = render(&d, &p);
        assert!(diagnostics.is_empty());
        let request = request.unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.timeouts,
            Timeouts {
                connect: Duration::from_secs(2),
                first_byte: Duration::from_secs(3),
                between_bytes: Duration::from_secs(3),
            }
        );
    }

    #[test]
    fn header_rules() {
        let (mut d, mut p) = fixture();
        p["evil"] = json!("x\r\nX-Injected: 1");
        d["httpRequest"]["headers"] = json!({
            "X-Trace": "${$.evil}", "Bad Name": "v", "Host": "evil", "Content-Length": "1",
            "X-Num": 5, "X-Ok": "id-${$.name}"
        });
        let (request, diagnostics, _) = render(&d, &p);
        assert!(request.is_none());
        let find = |path: &str| {
            diagnostics
                .iter()
                .find(|d| d.path == path)
                .unwrap_or_else(|| panic!("{path}: {diagnostics:#?}"))
        };
        assert!(
            find("httpRequest.headers.X-Trace")
                .message
                .contains("line break")
        );
        assert!(
            find("httpRequest.headers.Bad Name")
                .message
                .contains("not a valid header name")
        );
        assert!(
            find("httpRequest.headers.Host")
                .message
                .contains("managed by the host")
        );
        assert_eq!(
            find("httpRequest.headers.Content-Length").severity,
            Severity::Warning
        );
        assert!(
            find("httpRequest.headers.X-Num")
                .message
                .contains("expected a string")
        );
        assert!(
            !diagnostics
                .iter()
                .any(|d| d.path == "httpRequest.headers.X-Ok")
        );
    }

    #[test]
    fn authorization_from_the_definition_wins_and_is_masked() {
        let (mut d, p) = fixture();
        d["httpRequest"]["headers"] = json!({"authorization": "Bearer dop_v1_literal", "content-type": "application/json; charset=utf-8"});
        let (request, diagnostics, secrets) = render(&d, &p);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        let request = request.unwrap();
        assert_eq!(
            request
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .count(),
            1
        );
        assert_eq!(
            request
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .count(),
            1
        );
        assert_eq!(secrets.mask_str("Bearer dop_v1_literal"), "Bearer ••••••••");
    }

    #[test]
    fn no_token_warns_and_a_bad_token_is_an_error() {
        let (d, p) = fixture();
        let mut i = input(&d, &p);
        i.secrets.clear();
        let r = render_request(&OP, &i);
        assert!(r.sendable().is_some());
        let diagnostics = r.diagnostics.to_vec();
        assert_eq!(diagnostics[0].path, "httpRequest.headers.Authorization");
        assert_eq!(diagnostics[0].severity, Severity::Warning);
        i.secrets = vec![("token".into(), "dop\nx".into())];
        let r = render_request(&OP, &i);
        assert!(r.sendable().is_none());
        assert_eq!(r.diagnostics.to_vec()[0].path, "secrets.token");
    }

    #[test]
    fn content_type_other_than_json_warns() {
        let (mut d, p) = fixture();
        d["httpRequest"]["headers"] = json!({"Content-Type": "text/plain"});
        let (request, diagnostics, _) = render(&d, &p);
        assert!(request.is_some());
        assert!(diagnostics[0].message.contains("415"));
    }

    #[test]
    fn validation_errors_keep_the_preview_but_block_sending() {
        let (d, mut p) = fixture();
        p["model"]["scale"] = json!(0);
        let r = render_request(&OP, &input(&d, &p));
        assert!(r.request.is_some() && r.sendable().is_none());
        assert_eq!(
            r.diagnostics.to_vec()[0].path,
            "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"
        );
    }

    #[test]
    fn go_client_secrets_are_masked_too() {
        let (mut d, p) = fixture();
        d["httpRequest"]["body"]["secrets"] = json!({"hugging_face_token": "hf_go_spelling"});
        let (_, _, secrets) = render(&d, &p);
        assert_eq!(secrets.mask_str("hf_go_spelling"), "••••••••");
    }

    #[test]
    fn oversized_and_overnested_inputs_are_refused_plainly() {
        let (d, p) = fixture();
        let big = TaskInput {
            parameters: format!("{{\"x\": \"{}\"}}", "a".repeat(MAX_PARAMETERS_BYTES)),
            ..input(&d, &p)
        };
        let diagnostics = render_request(&OP, &big).diagnostics.to_vec();
        assert_eq!(diagnostics[0].path, "parameters");
        assert!(
            diagnostics[0].message.contains("at most 4194304"),
            "{}",
            diagnostics[0].message
        );

        let deep = TaskInput {
            definition: "[".repeat(1000) + &"]".repeat(1000),
            ..input(&d, &p)
        };
        let diagnostics = render_request(&OP, &deep).diagnostics.to_vec();
        assert!(
            diagnostics[0]
                .message
                .starts_with("nests deeper than 128 levels"),
            "{}",
            diagnostics[0].message
        );

        let mut many = d.clone();
        many["httpRequest"]["body"]["spec"]["model_deployments"] =
            json!(vec!["${$.name}"; MAX_PLACEHOLDERS + 1]);
        let diagnostics = render_request(&OP, &input(&many, &p)).diagnostics.to_vec();
        assert_eq!(diagnostics[0].path, "definition");
        assert!(
            diagnostics[0]
                .message
                .contains("placeholders; at most 1000")
        );

        let (mut wide, mut padded) = (d.clone(), p.clone());
        wide["httpRequest"]["body"]["spec"]["padding"] = json!("${$.pad}");
        padded["pad"] = json!("x".repeat(MAX_BODY_BYTES));
        let r = render_request(&OP, &input(&wide, &padded));
        assert!(r.request.is_none());
        assert!(
            r.diagnostics
                .to_vec()
                .iter()
                .any(|d| d.path == "httpRequest.body" && d.message.contains("renders to"))
        );

        // Parameters nest at most 127 levels below their own object; inserted under three
        // objects (body, spec, {"a": ...}), 126 of them make 129.
        let deep_value = |levels| (0..levels).fold(json!(1), |inner, _| json!([inner]));
        let (mut deep_body, mut deep_parameters) = (d.clone(), p.clone());
        deep_body["httpRequest"]["body"]["spec"]["workload_config"] = json!({"a": "${$.deep}"});
        for (levels, refused) in [(125, false), (126, true)] {
            deep_parameters["deep"] = deep_value(levels);
            let r = render_request(&OP, &input(&deep_body, &deep_parameters));
            let found = r.diagnostics.to_vec().into_iter().find(|d| {
                d.path == "httpRequest.body.spec.workload_config.a"
                    && d.message.contains("nested 129 levels deep")
            });
            assert_eq!(
                found.is_some(),
                refused,
                "{levels}: {:?}",
                r.diagnostics.to_vec()
            );
            assert_eq!(r.request.is_none(), refused, "{levels}");
        }
    }

    #[test]
    fn escapes_do_not_count_as_placeholders() {
        let mut d = Diagnostics::new();
        assert!(check_placeholder_count(
            &"$${x}".repeat(MAX_PLACEHOLDERS + 1),
            &mut d
        ));
        assert!(!check_placeholder_count(
            &"${x}".repeat(MAX_PLACEHOLDERS + 1),
            &mut d
        ));
    }

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("readTimeoutSeconds", "readTimeoutSecond"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
