//! From a task definition and parameters to the exact request that goes on the wire:
//! read the definition, render URL, headers and body within their limits, add the operation's
//! default headers, validate.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, header};
use serde_json::{Map, Value};

use crate::adopt::IfExists;
use crate::diagnostic::{Diagnostics, join_key};
use crate::json::{JsonLimits, json_text, parse_bounded};
use crate::operation::Operation;
use crate::secrets::SecretSet;
use crate::template::{
    JsonBudget, MissingSecret, Nondeterminism, Parameters, abbreviate, json_kind, render_json,
    render_text,
};
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

/// What `execute`'s output carries of the value the API returns once (`returnedToken`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReturnedSecret {
    /// The workflow stores it from the step output (the default).
    #[default]
    Include,
    /// Engines keep step outputs in their run history: leave its value out.
    Omit,
}

/// The result of rendering: the request when it could be built (even with validation errors,
/// so that the editor can show it), every diagnostic, and every secret to mask.
#[derive(Debug)]
pub struct Rendering {
    pub request: Option<WireRequest>,
    pub diagnostics: Diagnostics,
    pub secrets: SecretSet,
    pub returned_secret: ReturnedSecret,
    /// What to do when the name may already exist (`ifExists`).
    pub if_exists: IfExists,
    /// `confirmAdopt`: the id the editor's user confirmed adopting (test-request only).
    pub confirmed_adoption: Option<String>,
}

impl Rendering {
    /// Ready to send: built, and no error diagnostics.
    pub fn sendable(&self) -> Option<&WireRequest> {
        self.request
            .as_ref()
            .filter(|_| !self.diagnostics.has_errors())
    }
}

/// One top-level field of a task definition, for validation and for `describe`'s table.
#[derive(Clone, Copy, Debug)]
pub struct DefinitionField {
    pub name: &'static str,
    pub type_name: &'static str,
    pub required: bool,
    pub description: &'static str,
    pub allowed_values: &'static [&'static str],
}

const fn definition_field(
    name: &'static str,
    type_name: &'static str,
    required: bool,
    description: &'static str,
    allowed_values: &'static [&'static str],
) -> DefinitionField {
    DefinitionField {
        name,
        type_name,
        required,
        description,
        allowed_values,
    }
}

/// Every top-level field a definition may have; any other warns, with a did-you-mean.
pub const DEFINITION_FIELDS: &[DefinitionField] = &[
    definition_field("type", "string", false, "`Http`; another type warns.", &[]),
    definition_field("description", "string", false, "For people.", &[]),
    definition_field(
        "credentials",
        "string",
        false,
        "The engine's reference to the secrets it resolves (the API token as `token`).",
        &[],
    ),
    definition_field(
        "httpRequest",
        "object",
        true,
        "`url`, `method`, `headers`, `body`: templates with `${...}` placeholders.",
        &[],
    ),
    definition_field(
        "retry",
        "object",
        false,
        "The engine's retry policy (`maxAttempts`, `intervalSeconds`, `backoffRate`).",
        &[],
    ),
    definition_field(
        "connectionTimeoutSeconds",
        "integer",
        false,
        "1-3600: until the connection is open.",
        &[],
    ),
    definition_field(
        "readTimeoutSeconds",
        "integer",
        false,
        "1-3600: until the first byte of the answer, and between two pieces of its body.",
        &[],
    ),
    definition_field(
        "deadlineSeconds",
        "integer",
        false,
        "1-3600: the whole call (adopt's lookups included), whatever the server does.",
        &[],
    ),
    definition_field(
        "returnedToken",
        "string",
        false,
        "Whether `execute`'s output keeps the token the API returns once (or adopt mints).",
        &["include", "omit"],
    ),
    definition_field(
        "ifExists",
        "string",
        false,
        "When the name may already exist (taken, or the create's answer lost): `fail`, or \
         `adopt` an instance with the same spec, minting it a new token (needs the scopes \
         dedicated_inference:read and dedicated_inference_tokens:create too).",
        &["fail", "adopt"],
    ),
    definition_field(
        "confirmAdopt",
        "string",
        false,
        "The editor's: the id of the instance the person confirmed adopting; test-request on \
         a real API mints only for it.",
        &[],
    ),
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

/// Headers whose value is a credential (`<scheme> <credentials>`, RFC 9110): what a definition
/// writes there is a secret.
const CREDENTIAL_HEADERS: [HeaderName; 2] = [header::AUTHORIZATION, header::PROXY_AUTHORIZATION];

/// Input bounds: a real definition is a few KB with a dozen placeholders; these keep a
/// hostile or runaway input to bounded time and memory (a 64 MiB guest handles the worst of
/// each at once), with a clear diagnostic.
pub const DEFINITION_LIMITS: JsonLimits = JsonLimits {
    max_bytes: 1024 * 1024,
    max_values: 100_000,
};
pub const PARAMETERS_LIMITS: JsonLimits = JsonLimits {
    max_bytes: 4 * 1024 * 1024,
    max_values: 200_000,
};
pub const MAX_PLACEHOLDERS: usize = 1000;
/// The rendered body, checked as it is produced.
pub const BODY_BUDGET: JsonBudget = JsonBudget {
    bytes: 1024 * 1024,
    values: 100_000,
};
/// One header value, and all headers together (names, values): what common HTTP servers and
/// front ends accept, and well within what wasi:http hosts send.
pub const MAX_HEADER_VALUE_BYTES: usize = 16 * 1024;
pub const MAX_HEADER_SECTION_BYTES: usize = 64 * 1024;

/// Timeouts above an hour are refused: a step that waits longer is stuck, not slow.
const MAX_TIMEOUT_SECONDS: u64 = 3600;
const DEFINITION: &str = "definition";
const PARAMETERS: &str = "parameters";
const URL_PATH: &str = "httpRequest.url";
const METHOD_PATH: &str = "httpRequest.method";
const HEADERS_PATH: &str = "httpRequest.headers";
const BODY_PATH: &str = "httpRequest.body";

/// Renders and validates the request that `input` describes, for `operation`, to be sent: a
/// `${secret:NAME}` whose secret `input` lacks is an error.
pub fn render_request(operation: &Operation, input: &TaskInput) -> Rendering {
    render_request_as(operation, input, MissingSecret::Refuse)
}

/// `render_request`, where a `${secret:NAME}` whose secret `input` lacks is refused or stood
/// in for, as `missing_secret` says (a preview stands in: the editor has no secrets).
pub fn render_request_as(
    operation: &Operation,
    input: &TaskInput,
    missing_secret: MissingSecret,
) -> Rendering {
    let mut diagnostics = Diagnostics::new();
    let mut secrets = SecretSet::new();
    for (name, value) in &input.secrets {
        if let Err(refused) = secrets.add(value) {
            diagnostics.error(join_key("secrets", name), refused.to_string());
        }
    }
    let definition = parse_object(
        &input.definition,
        DEFINITION,
        "{...} task definition",
        DEFINITION_LIMITS,
        &mut diagnostics,
    )
    .filter(|_| check_placeholder_count(&input.definition, &mut diagnostics));
    let parameters = if input.parameters.trim().is_empty() {
        Some(Value::Object(Map::new()))
    } else {
        parse_object(
            &input.parameters,
            PARAMETERS,
            "{...} object of parameters",
            PARAMETERS_LIMITS,
            &mut diagnostics,
        )
    };
    let mut rendering = Rendering {
        request: None,
        diagnostics,
        secrets,
        returned_secret: ReturnedSecret::Include,
        if_exists: IfExists::Fail,
        confirmed_adoption: None,
    };
    if let (Some(definition), Some(parameters)) = (definition, parameters) {
        rendering.returned_secret = read_returned_secret(&definition, &mut rendering.diagnostics);
        rendering.if_exists = read_if_exists(operation, &definition, &mut rendering.diagnostics);
        rendering.confirmed_adoption = read_confirm_adopt(&definition, &mut rendering.diagnostics);
        let parameters = Parameters::with_secrets(&parameters, &input.secrets, missing_secret)
            .with_nondeterminism(match rendering.if_exists {
                IfExists::Adopt => Nondeterminism::Refuse,
                IfExists::Fail => Nondeterminism::Warn,
            });
        rendering.request = build_request(
            operation,
            input,
            &definition,
            &parameters,
            &mut rendering.diagnostics,
            &mut rendering.secrets,
        );
        for stand_in in parameters.stand_ins() {
            if let Err(refused) = rendering.secrets.add(&stand_in) {
                rendering.diagnostics.error(
                    DEFINITION,
                    format!("the unresolved `${{secret:…}}` placeholders' stand-ins {refused}"),
                );
                break;
            }
        }
        // A secret too long to mask is in the request: no preview of it may be shown (and the
        // error that refused it blocks sending).
        if rendering.secrets.has_refused() {
            rendering.request = None;
        }
    }
    rendering
}

/// Parses `text` as a JSON object within `limits`; otherwise an error at `path`.
fn parse_object(
    text: &str,
    path: &str,
    expected: &str,
    limits: JsonLimits,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    match parse_bounded(text, limits) {
        Ok(value @ Value::Object(_)) => Some(value),
        Ok(other) => {
            diagnostics.error(
                path,
                format!("expected a JSON {expected}, found {}", json_kind(&other)),
            );
            None
        }
        Err(problem) => {
            diagnostics.error(path, problem.to_string());
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
    let known: Vec<&str> = DEFINITION_FIELDS.iter().map(|f| f.name).collect();
    warn_unknown_fields(definition, "", &known, diagnostics);
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
        Some(Value::String(template)) => render_url(
            template,
            parameters,
            URL_PATH,
            operation.host(),
            diagnostics,
        ),
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
        Some(template) => render_json(template, parameters, BODY_BUDGET, BODY_PATH, diagnostics),
        None => {
            diagnostics.error(
                BODY_PATH,
                format!(
                    "`body` is required for a {}: the JSON object to send",
                    operation.method
                ),
            );
            None
        }
    };
    if let Some(body) = &body {
        validate_body(operation, body, BODY_PATH, diagnostics, secrets);
    }

    let headers = render_headers(
        operation,
        http_request,
        parameters,
        input,
        diagnostics,
        secrets,
    )?;
    let (url, body) = (url?, body?);
    let body = json_text(&body);
    // The budget bounds the body as it is produced; this holds the exact text to it too.
    if body.len() > BODY_BUDGET.bytes {
        diagnostics.error(
            BODY_PATH,
            format!(
                "renders to {} bytes; at most {} are sent",
                body.len(),
                BODY_BUDGET.bytes
            ),
        );
        return None;
    }
    let mut headers = headers;
    headers.push((header::CONTENT_LENGTH, HeaderValue::from(body.len())));
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
        .filter(|(at, _)| *at == 0 || definition.as_bytes().get(at - 1) != Some(&b'$'))
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
) -> Method {
    let expected = &operation.method;
    match http_request.get("method") {
        Some(Value::String(m)) if m.eq_ignore_ascii_case(expected.as_str()) => expected.clone(),
        Some(Value::String(m)) => {
            diagnostics.error(
                METHOD_PATH,
                format!("this task performs {expected}, not `{}`", abbreviate(m, 20)),
            );
            expected.clone()
        }
        Some(other) => {
            diagnostics.error(
                METHOD_PATH,
                format!("expected a string, found {}", json_kind(other)),
            );
            expected.clone()
        }
        None => {
            diagnostics.error(METHOD_PATH, format!("`method` is required: {expected}"));
            expected.clone()
        }
    }
}

fn read_timeouts(
    operation: &Operation,
    definition: &Value,
    diagnostics: &mut Diagnostics,
) -> Timeouts {
    let mut seconds = |name: &str, default: u64| -> Duration {
        let seconds = match definition.get(name) {
            None | Some(Value::Null) => default,
            Some(value) => match value.as_u64() {
                Some(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => s,
                _ => {
                    diagnostics.error(
                        name,
                        format!(
                            "expected an integer number of seconds from 1 to \
                             {MAX_TIMEOUT_SECONDS}, found {}",
                            abbreviate(&json_text(value), 40)
                        ),
                    );
                    default
                }
            },
        };
        Duration::from_secs(seconds)
    };
    let connect = seconds(
        "connectionTimeoutSeconds",
        operation.default_connect_timeout_s,
    );
    let read = seconds("readTimeoutSeconds", operation.default_read_timeout_s);
    let deadline = seconds("deadlineSeconds", operation.default_deadline_s);
    Timeouts {
        connect,
        first_byte: read,
        between_bytes: read,
        deadline,
    }
}

/// A field whose value is one of `choices` (its first is what absence or null means); anything
/// else is an error at the field, naming the choices.
fn read_choice<T: Copy>(
    definition: &Value,
    field: &str,
    choices: &[(&str, T)],
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    let first = choices.first()?.1;
    match definition.get(field) {
        None | Some(Value::Null) => Some(first),
        Some(Value::String(s)) => match choices.iter().find(|(name, _)| name == s) {
            Some((_, value)) => Some(*value),
            None => refuse_choice(definition, field, choices, diagnostics, first),
        },
        Some(_) => refuse_choice(definition, field, choices, diagnostics, first),
    }
}

fn refuse_choice<T: Copy>(
    definition: &Value,
    field: &str,
    choices: &[(&str, T)],
    diagnostics: &mut Diagnostics,
    fallback: T,
) -> Option<T> {
    let names: Vec<String> = choices
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    let found = definition.get(field).map(json_text).unwrap_or_default();
    diagnostics.error(
        field,
        format!(
            "expected {}, found {}",
            names.join(" or "),
            abbreviate(&found, 40)
        ),
    );
    Some(fallback)
}

fn read_if_exists(
    operation: &Operation,
    definition: &Value,
    diagnostics: &mut Diagnostics,
) -> IfExists {
    let choices = [("fail", IfExists::Fail), ("adopt", IfExists::Adopt)];
    let chosen = read_choice(definition, "ifExists", &choices, diagnostics).unwrap_or_default();
    if chosen == IfExists::Adopt && operation.adoption.is_none() {
        diagnostics.error(
            "ifExists",
            "this operation cannot adopt an existing resource: use `fail`",
        );
        return IfExists::Fail;
    }
    chosen
}

fn read_confirm_adopt(definition: &Value, diagnostics: &mut Diagnostics) -> Option<String> {
    match definition.get("confirmAdopt") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_string()),
        Some(other) => {
            diagnostics.error(
                "confirmAdopt",
                format!(
                    "expected the id of the instance to adopt, found {}",
                    abbreviate(&json_text(other), 40)
                ),
            );
            None
        }
    }
}

fn read_returned_secret(definition: &Value, diagnostics: &mut Diagnostics) -> ReturnedSecret {
    let choices = [
        ("include", ReturnedSecret::Include),
        ("omit", ReturnedSecret::Omit),
    ];
    read_choice(definition, "returnedToken", &choices, diagnostics).unwrap_or_default()
}

/// The definition's headers rendered and checked, then the operation's default headers
/// (`Content-Type`, `Authorization` from the `token` secret) added when the definition does
/// not set them. None when any header failed.
fn render_headers(
    operation: &Operation,
    http_request: &Value,
    parameters: &Parameters,
    input: &TaskInput,
    diagnostics: &mut Diagnostics,
    secrets: &mut SecretSet,
) -> Option<Vec<(HeaderName, HeaderValue)>> {
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
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(templates.len() + 3);
    // Every name the definition sets, valid or not, so that no default replaces it.
    let mut written: Vec<(HeaderName, String)> = Vec::new();
    let mut ok = true;
    for (name, template) in templates {
        let path = join_key(HEADERS_PATH, name);
        let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
            diagnostics.error(
                &path,
                format!(
                    "`{}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                    abbreviate(name, 60)
                ),
            );
            ok = false;
            continue;
        };
        if let Some((_, first)) = written.iter().find(|(n, _)| *n == header_name) {
            diagnostics.error(
                &path,
                format!(
                    "`{name}` is already set at {first}: header names are case-insensitive, so \
                     both would be sent"
                ),
            );
            ok = false;
            continue;
        }
        written.push((header_name.clone(), path.clone()));
        if TRANSPORT_HEADERS.contains(&header_name.as_str()) {
            diagnostics.error(
                &path,
                format!("`{name}` is managed by the host's HTTP layer; remove it"),
            );
            ok = false;
            continue;
        }
        if header_name == header::CONTENT_LENGTH {
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
        let rendered = render_text(
            template,
            parameters,
            MAX_HEADER_VALUE_BYTES,
            &path,
            diagnostics,
        );
        if let Some(text) = &rendered
            && CREDENTIAL_HEADERS.contains(&header_name)
        {
            // Even when the value is refused below: it is a credential all the same.
            register_credential(text, &path, secrets, diagnostics);
        }
        match rendered.and_then(|value| header_value(&value, &path, diagnostics)) {
            Some(value) => {
                if header_name == header::CONTENT_TYPE {
                    check_content_type(&value, &path, diagnostics);
                }
                headers.push((header_name, value));
            }
            None => ok = false,
        }
    }
    for field in operation.headers {
        let Ok(name) = HeaderName::from_bytes(field.name.as_bytes()) else {
            continue;
        };
        if written.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if let Some(value) = field.default_value {
            headers.push((name, HeaderValue::from_static(value)));
        } else if let Some((secret, prefix)) = field.from_secret {
            match header_from_secret(input, secret, prefix, diagnostics) {
                Some(Some(value)) => headers.push((name, value)),
                Some(None) => diagnostics.warning(
                    join_key(HEADERS_PATH, field.name),
                    format!(
                        "no `{secret}` secret and no {} header: sending without credentials \
                         (fine if the host adds them; otherwise the API answers 401)",
                        field.name
                    ),
                ),
                None => ok = false,
            }
        }
    }
    let section: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if section > MAX_HEADER_SECTION_BYTES {
        diagnostics.error(
            HEADERS_PATH,
            format!(
                "the headers take {section} bytes; at most {MAX_HEADER_SECTION_BYTES} are sent"
            ),
        );
        ok = false;
    }
    ok.then_some(headers)
}

/// `prefix` + the trimmed value of the secret `name`: Some(None) when there is no such
/// secret, None (with an error) when it cannot be a header value. A value with surrounding
/// whitespace (a token read from a file keeps its newline) is sent trimmed, with a warning;
/// masking covers the trimmed spelling too (`SecretSet`).
fn header_from_secret(
    input: &TaskInput,
    name: &str,
    prefix: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Option<HeaderValue>> {
    let Some((_, raw)) = input.secrets.iter().find(|(n, _)| n == name) else {
        return Some(None);
    };
    let path = join_key("secrets", name);
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Some(None);
    }
    if trimmed.len() != raw.len() {
        diagnostics.warning(
            &path,
            "has whitespace around it (a token read from a file keeps its line break); it is \
             sent trimmed",
        );
    }
    header_value(&format!("{prefix}{trimmed}"), &path, diagnostics).map(Some)
}

/// `value` as a header value, or an error at `path`: CR or LF would end the header and inject
/// others, and no control character is a valid header character.
fn header_value(value: &str, path: &str, diagnostics: &mut Diagnostics) -> Option<HeaderValue> {
    if value.len() > MAX_HEADER_VALUE_BYTES {
        diagnostics.error(
            path,
            format!(
                "the value is {} bytes; at most {MAX_HEADER_VALUE_BYTES} are sent",
                value.len()
            ),
        );
        return None;
    }
    match HeaderValue::from_str(value) {
        Ok(value) => Some(value),
        Err(_) if value.contains(['\r', '\n']) => {
            diagnostics.error(
                path,
                "the value contains a line break (CR or LF), which is not allowed in a header",
            );
            None
        }
        Err(_) => {
            diagnostics.error(
                path,
                "the value contains control characters, which are not allowed in a header",
            );
            None
        }
    }
}

/// An `Authorization` (or `Proxy-Authorization`) value the definition wrote itself carries a
/// credential: everything after the scheme is secret, and so is each of its words alone
/// (`Bearer <token> x` sends `<token>`, which an echo may quote without the rest).
fn register_credential(
    value: &str,
    path: &str,
    secrets: &mut SecretSet,
    diagnostics: &mut Diagnostics,
) {
    let text = value.trim();
    let credential = text.split_once(' ').map_or(text, |(_, rest)| rest.trim());
    let parts = std::iter::once(credential).chain(credential.split_whitespace());
    for part in parts {
        if let Err(refused) = secrets.add(part) {
            diagnostics.error(path, format!("the credential {refused}"));
            return;
        }
    }
}

fn check_content_type(value: &HeaderValue, path: &str, diagnostics: &mut Diagnostics) {
    let text = String::from_utf8_lossy(value.as_bytes());
    let media_type = text
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
                abbreviate(&text, 60)
            ),
        );
    }
}

/// Levenshtein distance, for "did you mean" hints on short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let deletion = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insertion = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Diagnostic, Severity};
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use crate::testkit::API_TOKEN as TOKEN;
    use serde_json::json;

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
            secrets: vec![("token".into(), TOKEN.into())],
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
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }

    fn count(request: &WireRequest, name: &str) -> usize {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .count()
    }

    #[test]
    fn the_fixture_renders_cleanly() {
        let (d, p) = fixture();
        let (request, diagnostics, secrets) = render(&d, &p);
        assert_eq!(diagnostics, vec![]);
        let request = request.unwrap();
        assert_eq!(request.method, Method::POST);
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
        assert_eq!(request.timeouts.deadline, Duration::from_secs(60));
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
        d["deadlineSeconds"] = json!(3601);
        d["returnedToken"] = json!("hide");
        let (_, diagnostics, _) = render(&d, &p);
        let paths: Vec<_> = diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "returnedToken",
                "connectionTimeoutSeconds",
                "readTimeoutSeconds",
                "deadlineSeconds",
                "httpRequest.method"
            ]
        );
        d["httpRequest"]["method"] = json!("post");
        d["connectionTimeoutSeconds"] = json!(2);
        d["readTimeoutSeconds"] = json!(3);
        d["deadlineSeconds"] = json!(7);
        d["returnedToken"] = json!("omit");
        let r = render_request(&OP, &input(&d, &p));
        assert!(r.diagnostics.to_vec().is_empty());
        assert_eq!(r.returned_secret, ReturnedSecret::Omit);
        let request = r.request.unwrap();
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.timeouts,
            Timeouts {
                connect: Duration::from_secs(2),
                first_byte: Duration::from_secs(3),
                between_bytes: Duration::from_secs(3),
                deadline: Duration::from_secs(7),
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
        assert_eq!(count(&request, "authorization"), 1);
        assert_eq!(count(&request, "content-type"), 1);
        assert_eq!(secrets.mask_str("Bearer dop_v1_literal"), "Bearer ••••••••");
    }

    #[test]
    fn each_part_of_a_written_credential_is_masked_alone() {
        let (mut d, p) = fixture();
        d["httpRequest"]["headers"] = json!({"Authorization": "Bearer dop_v1_part x9"});
        let (_, diagnostics, secrets) = render(&d, &p);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        // What the API echoes may quote the token without the rest.
        assert_eq!(
            secrets.mask_str("bad token dop_v1_part."),
            "bad token ••••••••."
        );
        assert_eq!(secrets.mask_str("x9"), "••••••••");
        assert_eq!(secrets.mask_str("Bearer dop_v1_part x9"), "Bearer ••••••••");
        // The same for a proxy's credential (found by the Rust host's comparison).
        let (mut d, p) = fixture();
        d["httpRequest"]["headers"] = json!({"Proxy-Authorization": "Basic cHJveHk6c2VjcmV0"});
        let (_, _, secrets) = render(&d, &p);
        assert_eq!(secrets.mask_str("Basic cHJveHk6c2VjcmV0"), "Basic ••••••••");
    }

    #[test]
    fn header_names_differing_only_in_case_are_one_header() {
        let (mut d, p) = fixture();
        d["httpRequest"]["headers"] =
            json!({"Authorization": "Bearer a", "authorization": "Bearer b"});
        let (request, diagnostics, _) = render(&d, &p);
        assert!(request.is_none());
        assert_eq!(diagnostics[0].path, "httpRequest.headers.authorization");
        assert!(
            diagnostics[0]
                .message
                .contains("already set at httpRequest.headers.Authorization")
        );
    }

    #[test]
    fn a_token_with_whitespace_is_sent_trimmed_and_masked_as_sent() {
        let (d, p) = fixture();
        let mut i = input(&d, &p);
        i.secrets = vec![("token".into(), format!("{TOKEN}\n"))];
        let r = render_request(&OP, &i);
        let request = r.sendable().unwrap();
        assert_eq!(
            header(request, "authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let warning = &r.diagnostics.to_vec()[0];
        assert_eq!(
            (warning.severity, warning.path.as_str()),
            (Severity::Warning, "secrets.token")
        );
        assert_eq!(
            r.secrets.mask_str(&format!("Bearer {TOKEN}")),
            "Bearer ••••••••"
        );
    }

    #[test]
    fn secrets_too_long_to_mask_are_refused() {
        let (d, p) = fixture();
        let mut i = input(&d, &p);
        i.secrets.push(("other".into(), "s".repeat(5000)));
        let r = render_request(&OP, &i);
        assert!(r.sendable().is_none());
        assert_eq!(r.diagnostics.to_vec()[0].path, "secrets.other");
        // Nor is any preview built that would show it unmasked.
        let (mut d, mut p) = fixture();
        p["huggingFaceToken"] = json!("t".repeat(5000));
        d["httpRequest"]["headers"]["X-Echo"] = json!("${$.huggingFaceToken}");
        let r = render_request(&OP, &input(&d, &p));
        assert!(r.request.is_none());
    }

    #[test]
    fn long_urls_and_header_values_are_refused_while_rendering() {
        let (mut d, mut p) = fixture();
        p["long"] = json!("x".repeat(2 * 1024 * 1024));
        d["httpRequest"]["url"] = json!(format!("{}?q=${{$.long}}", OP.url()));
        d["httpRequest"]["headers"]["X-Long"] = json!("${$.long}");
        let (request, diagnostics, _) = render(&d, &p);
        assert!(request.is_none());
        let paths: Vec<_> = diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert!(paths.contains(&"httpRequest.url"), "{diagnostics:#?}");
        assert!(
            paths.contains(&"httpRequest.headers.X-Long"),
            "{diagnostics:#?}"
        );
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
            parameters: format!("{{\"x\": \"{}\"}}", "a".repeat(PARAMETERS_LIMITS.max_bytes)),
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
        padded["pad"] = json!("x".repeat(BODY_BUDGET.bytes));
        let r = render_request(&OP, &input(&wide, &padded));
        assert!(r.request.is_none());
        assert!(
            r.diagnostics
                .to_vec()
                .iter()
                .any(|d| d.path == "httpRequest.body.spec.padding"
                    && d.message.contains("larger than 1048576 bytes")),
            "{:#?}",
            r.diagnostics.to_vec()
        );
        let dense = TaskInput {
            parameters: format!("[{}0]", "0,".repeat(PARAMETERS_LIMITS.max_values)),
            ..input(&d, &p)
        };
        let diagnostics = render_request(&OP, &dense).diagnostics.to_vec();
        assert_eq!(diagnostics[0].path, "parameters");
        assert!(
            diagnostics[0].message.contains("JSON values"),
            "{}",
            diagnostics[0].message
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
    fn jsonata_placeholders_render_and_validate_like_jsonpath() {
        let (mut d, p) = fixture();
        let accelerator = &mut d["httpRequest"]["body"]["spec"]["model_deployments"][0];
        accelerator["accelerators"][0]["scale"] = json!("${jsonata: model.scale + 1}");
        accelerator["model_slug"] = json!("${jsonata: $lowercase(model.slug)}");
        d["httpRequest"]["headers"]["X-Team"] = json!("team-${jsonata: $uppercase(region)}");
        d["httpRequest"]["body"]["access_tokens"]["hugging_face_token"] =
            json!("${jsonata: huggingFaceToken}");
        let (request, diagnostics, secrets) = render(&d, &p);
        assert_eq!(diagnostics, vec![]);
        let request = request.unwrap();
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let deployment = &body["spec"]["model_deployments"][0];
        // A whole JSONata number validates as the integer `scale` must be.
        assert_eq!(deployment["accelerators"][0]["scale"], json!(2));
        assert_eq!(
            deployment["model_slug"],
            json!("meta-llama/llama-3.1-8b-instruct")
        );
        assert_eq!(header(&request, "x-team"), Some("team-TOR1"));
        // A secret JSONata inserted is masked like any other.
        assert!(request.body.contains("hf_standin"));
        assert!(!secrets.mask_str(&request.body).contains("hf_standin"));
        // A fraction does not.
        accelerator_scale(&mut d, "${jsonata: model.scale / 2}");
        let (_, diagnostics, _) = render(&d, &p);
        assert_eq!(
            diagnostics[0].path,
            "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"
        );
        assert!(
            diagnostics[0]
                .message
                .contains("expected an integer, found a number (0.5)")
        );
    }

    fn accelerator_scale(definition: &mut Value, template: &str) {
        definition["httpRequest"]["body"]["spec"]["model_deployments"][0]["accelerators"][0]["scale"] =
            json!(template);
    }

    #[test]
    fn nondeterministic_jsonata_is_an_error_only_with_adopt() {
        let (mut d, p) = fixture();
        d["httpRequest"]["body"]["spec"]["name"] = json!("llm-${jsonata: $string($millis())}");
        for (if_exists, severity) in [("fail", Severity::Warning), ("adopt", Severity::Error)] {
            d["ifExists"] = json!(if_exists);
            let rendering = render_request(&OP, &input(&d, &p));
            let diagnostics = rendering.diagnostics.to_vec();
            let found: Vec<_> = diagnostics
                .iter()
                .filter(|x| x.message.contains("calls `$millis`"))
                .collect();
            assert_eq!(found.len(), 1, "{diagnostics:?}");
            assert_eq!(found[0].severity, severity);
            assert_eq!(found[0].path, "httpRequest.body.spec.name");
            // The preview is kept either way; only adopt's error blocks sending.
            assert!(rendering.request.is_some());
            assert_eq!(
                rendering.sendable().is_some(),
                if_exists == "fail",
                "{diagnostics:?}"
            );
        }
    }

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("readTimeoutSeconds", "readTimeoutSecond"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
