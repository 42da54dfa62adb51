//! `"ifExists": "adopt"`: when a create may have gone through without its answer reaching
//! the step (the name is taken, the 202's body broke off, no answer came after sending), the
//! step looks the name up, and if it finds an instance with the same spec, adopts it: it mints
//! a new token for it and ends as a fresh create would. A durable engine runs a step at least
//! once, so the retry of a create that went through is routine, not a corner case.
//!
//! Every request here goes to the definition's own origin with its own credentials and
//! timeouts, within what the call's deadline has left; nothing is ever created twice in one
//! call (adopt only reads and mints).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

use crate::json::json_text;
use crate::operation::{Adoption, Operation};
use crate::outcome::{Effect, FailureKind, Verdict};
use crate::response::{BODY_JSON_LIMITS, BODY_LIMIT};
use crate::secrets::SecretSet;
use crate::transport::{
    BodyEnd, Delivery, Transport, TransportError, WireRequest, WireResponse, human_duration,
};
use crate::url::TargetUrl;

/// What the definition says to do when the name may already exist (`ifExists`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IfExists {
    /// Fail as the API answered (the default).
    #[default]
    Fail,
    /// Look the name up and adopt an instance with the same spec.
    Adopt,
}

/// Below this much time left of the deadline, no lookup starts: the next attempt adopts.
pub const MIN_TIME_FOR_LOOKUP: Duration = Duration::from_secs(1);

/// Why the step looks the name up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The API refused the create: the name is taken.
    NameTaken,
    /// A 2xx arrived and its body broke off: the instance exists, its token is lost.
    BodyBrokeOff,
    /// No answer after the request may have arrived.
    NoAnswer,
}

/// Why a call looks the name up: the trigger, and the create's fate in a sentence for a
/// person, with what the host said ("No answer came after the create was sent: no answer
/// within 10 s (readTimeoutSeconds)").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub trigger: Trigger,
    pub why: String,
}

/// Whether (and why) a create's result calls for a lookup.
pub fn trigger(verdict: &Verdict, sent: &Result<WireResponse, TransportError>) -> Option<Lookup> {
    let (trigger, why) = match (verdict.effect, sent) {
        (Effect::NameTaken, _) => (Trigger::NameTaken, "The name is taken".to_string()),
        (Effect::Done, Ok(response)) => match &response.body_end {
            BodyEnd::Failed(error) => (
                Trigger::BodyBrokeOff,
                format!(
                    "The create was accepted ({}) but its answer broke off: {}",
                    response.status, error.detail
                ),
            ),
            _ => return None,
        },
        (Effect::Maybe, Err(error)) if error.delivery == Delivery::MaybeDelivered => (
            Trigger::NoAnswer,
            format!("No answer came after the create was sent: {}", error.detail),
        ),
        _ => return None,
    };
    Some(Lookup { trigger, why })
}

/// One request the adoption made and what came of it, in order (the editor shows them).
#[derive(Debug)]
pub struct Exchange {
    pub request: WireRequest,
    pub answer: Result<WireResponse, TransportError>,
}

/// How an adoption ended.
#[derive(Debug)]
pub enum Ended {
    /// Adopted: the step output's answer (a 202 of the fresh-create shape, built from the
    /// instance and the minted token), and why the token is missing when the mint failed.
    Adopted {
        id: String,
        answer: WireResponse,
        token_missing: Option<String>,
    },
    /// In the editor on a real API: found, matching, but nothing minted without a
    /// confirmation.
    WouldAdopt { id: String },
    /// Ends the step: not retryable.
    Final { kind: FailureKind, message: String },
    /// The next attempt may do better (and will adopt).
    Retry { kind: FailureKind, message: String },
}

/// The clock and transport of one call: every exchange gets what its deadline has left, and
/// is kept, in order.
pub struct Call<'t> {
    pub transport: &'t mut dyn Transport,
    /// When the call began, on the transport's clock.
    pub started: Duration,
    /// The call's whole budget (`deadlineSeconds`).
    pub deadline: Duration,
    /// The wall clock, for the minted token's name.
    pub now: SystemTime,
    pub exchanges: Vec<Exchange>,
}

impl Call<'_> {
    fn left(&mut self) -> Duration {
        let spent = self.transport.now().saturating_sub(self.started);
        self.deadline.saturating_sub(spent)
    }
}

/// Looks `create`'s name up on its origin and adopts what matches. `confirmed` is false only
/// when the editor must ask before minting (a real API, no confirmation of this id yet).
pub fn adopt(
    operation: &Operation,
    adoption: &Adoption,
    create: &WireRequest,
    lookup: &Lookup,
    call: &mut Call<'_>,
    confirmed: impl Fn(&str) -> bool,
    secrets: &mut SecretSet,
) -> Ended {
    let retry = |message: String| Ended::Retry {
        kind: FailureKind::HttpStatus,
        message,
    };
    let sent: Value = serde_json::from_str(&create.body).unwrap_or(Value::Null);
    let Some(name) = sent.pointer(adoption.request_name).and_then(Value::as_str) else {
        return Ended::Final {
            kind: FailureKind::InvalidRequest,
            message: "the request has no name to look up".into(),
        };
    };
    let name = name.to_string();
    let (trigger, why) = (lookup.trigger, lookup.why.as_str());
    if call.left() < MIN_TIME_FOR_LOOKUP {
        return no_time(trigger, why, call.deadline);
    }
    let collection = collection_path(&create.url);
    let mut found = None;
    for page in 1..=adoption.max_pages {
        let url = TargetUrl {
            path_with_query: format!("{collection}?per_page={}&page={page}", adoption.per_page),
            ..create.url.clone()
        };
        let answer = match read(call, create, url, adoption, "look the name up") {
            Ok(answer) => answer,
            Err(unanswered) => return unanswered.ended(trigger, why),
        };
        let Some(listing) = json_of(&answer) else {
            return retry(format!(
                "{why}, and the listing of GET {collection} answered {} without a readable list: the next attempt will look again.",
                answer.status
            ));
        };
        let items = listing
            .get(adoption.list_member)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        found = items
            .into_iter()
            .find(|item| name_of(operation, item) == Some(name.as_str()));
        if found.is_some() {
            break;
        }
        // More pages only when the API says so, and on this origin: a body must never be
        // able to send the token elsewhere.
        let next = listing.pointer("/links/pages/next").and_then(Value::as_str);
        match next {
            Some(next) if same_origin(next, &create.url) => continue,
            _ => break,
        }
    }
    let Some(mut item) = found else {
        return retry(format!(
            "{why}, but no {} named {name:?} is listed (just deleted, or not visible to this token): a retry may create it.",
            operation.texts.resource
        ));
    };
    let Some(id) = item.get("id").and_then(Value::as_str).map(str::to_string) else {
        return retry(format!("{why}; the listing shows {name:?} without an id."));
    };
    // A listing may leave the spec out: the item itself has it.
    if item.get("spec").is_none_or(Value::is_null) {
        let url = TargetUrl {
            path_with_query: format!("{collection}/{id}"),
            ..create.url.clone()
        };
        let answer = match read(call, create, url, adoption, "read the instance") {
            Ok(answer) => answer,
            Err(unanswered) => return unanswered.ended(trigger, why),
        };
        match json_of(&answer).and_then(|j| j.get(operation.answer.resource_member).cloned()) {
            Some(full) if answer.status == 200 => item = full,
            _ => {
                return retry(format!(
                    "{why}; GET {collection}/{id} answered {}: the next attempt will look again.",
                    answer.status
                ));
            }
        }
    }
    let status = item.get("status").and_then(Value::as_str).unwrap_or("");
    if adoption.never_adopt.contains(&status) {
        return Ended::Final {
            kind: FailureKind::HttpStatus,
            message: format!(
                "{why}: {} {id} named {name:?} exists but its status is {status}, so it is not adopted. Delete it (DELETE {collection}/{id}) or choose another name.",
                operation.texts.resource
            ),
        };
    }
    let differences = differences(adoption, sent.get("spec"), item.get("spec"));
    if !differences.is_empty() {
        return Ended::Final {
            kind: FailureKind::HttpStatus,
            message: format!(
                "{why}: {} {id} named {name:?} exists with a different spec, so it is not adopted: {}.",
                operation.texts.resource,
                differences.join("; ")
            ),
        };
    }
    if !confirmed(&id) {
        return Ended::WouldAdopt { id };
    }
    let minted = mint(adoption, create, &collection, &id, &name, call);
    let (token, token_missing, headers) = match minted {
        Ok((token, headers)) => {
            if let Some(value) = token.get("value").and_then(Value::as_str) {
                // Masked everywhere but its own place.
                let _ = secrets.add(value);
            }
            (token, None, headers)
        }
        Err(reason) => (Value::Null, Some(reason), HeaderMap::new()),
    };
    let body = json!({ operation.answer.resource_member: item, adoption.mint_member: token });
    let mut headers = headers;
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ended::Adopted {
        id,
        answer: WireResponse {
            status: 202,
            headers,
            body: json_text(&body).into_bytes(),
            body_end: BodyEnd::Complete,
        },
        token_missing,
    }
}

/// The step's outcome when the deadline leaves no time to look: retryable, the next attempt
/// adopts.
fn no_time(trigger: Trigger, why: &str, deadline: Duration) -> Ended {
    let kind = match trigger {
        Trigger::NameTaken => FailureKind::HttpStatus,
        _ => FailureKind::Timeout,
    };
    Ended::Retry {
        kind,
        message: format!(
            "{why}, and the deadline ({}, deadlineSeconds) leaves no time to look the name up: the next attempt will adopt.",
            human_duration(deadline)
        ),
    }
}

/// Why an exchange of the adoption brought no complete answer.
enum Unanswered {
    /// The deadline left too little time to send it.
    NoTime(Duration),
    /// The answer (of this status) was cut off.
    Cut(u16),
    NoAnswer(TransportError),
    /// An answer that ends the adoption as it is (a refusal for scope).
    Refused(Box<Ended>),
}

impl Unanswered {
    /// For a person: "the deadline (60 s, deadlineSeconds) left no time for it".
    fn reason(&self) -> String {
        match self {
            Unanswered::NoTime(deadline) => format!(
                "the deadline ({}, deadlineSeconds) left no time for it",
                human_duration(*deadline)
            ),
            Unanswered::Cut(status) => format!("its answer ({status}) was cut off"),
            Unanswered::NoAnswer(error) => format!("it got no answer ({})", error.detail),
            Unanswered::Refused(_) => "it was refused".into(),
        }
    }

    /// How the adoption ends: retryable, the next attempt adopts.
    fn ended(self, trigger: Trigger, why: &str) -> Ended {
        let reason = self.reason();
        let kind = match self {
            Unanswered::Refused(ended) => return *ended,
            Unanswered::NoTime(deadline) => return no_time(trigger, why, deadline),
            Unanswered::Cut(_) => FailureKind::Protocol,
            Unanswered::NoAnswer(error) => crate::outcome::classify_transport(&error)
                .failure
                .map_or(FailureKind::Connection, |f| f.kind),
        };
        Ended::Retry {
            kind,
            message: format!(
                "{why}, and looking the name up failed: {reason}. The next attempt will look again."
            ),
        }
    }
}

/// One request on the create's origin, with its credentials and what the deadline has left.
fn exchange(
    call: &mut Call<'_>,
    create: &WireRequest,
    method: Method,
    url: TargetUrl,
    body: Option<String>,
) -> Result<WireResponse, Unanswered> {
    let left = call.left();
    if left < MIN_TIME_FOR_LOOKUP {
        return Err(Unanswered::NoTime(call.deadline));
    }
    let request = follow_up(create, method, url, body, left);
    let answer = call.transport.send(&request, BODY_LIMIT);
    call.exchanges.push(Exchange {
        request,
        answer: answer.clone(),
    });
    match answer {
        Ok(response) if response.body_end == BodyEnd::Complete => Ok(response),
        Ok(response) => Err(Unanswered::Cut(response.status)),
        Err(error) => Err(Unanswered::NoAnswer(error)),
    }
}

/// A request of the adoption: the create's credentials and headers that still apply, none of
/// its body.
fn follow_up(
    create: &WireRequest,
    method: Method,
    url: TargetUrl,
    body: Option<String>,
    left: Duration,
) -> WireRequest {
    let body = body.unwrap_or_default();
    let mut headers: Vec<_> = create
        .headers
        .iter()
        .filter(|(name, _)| *name != CONTENT_LENGTH && (*name != CONTENT_TYPE || !body.is_empty()))
        .cloned()
        .collect();
    if !body.is_empty() {
        headers.push((CONTENT_LENGTH, HeaderValue::from(body.len())));
    }
    WireRequest {
        method,
        url,
        headers,
        body,
        timeouts: crate::transport::Timeouts {
            deadline: left,
            ..create.timeouts
        },
    }
}

/// A GET of the lookup: its complete answer, or why the adoption ends (no answer, or the read
/// refused for scope).
fn read(
    call: &mut Call<'_>,
    create: &WireRequest,
    url: TargetUrl,
    adoption: &Adoption,
    to: &'static str,
) -> Result<WireResponse, Unanswered> {
    let answer = exchange(call, create, Method::GET, url, None)?;
    match refused(&answer, adoption.read_scope, to) {
        Some(ended) => Err(Unanswered::Refused(Box::new(ended))),
        None => Ok(answer),
    }
}

/// 401 or 403: the token cannot do what adopting needs. Final, naming the scope.
fn refused(answer: &WireResponse, scope: &str, to: &str) -> Option<Ended> {
    matches!(answer.status, 401 | 403).then(|| Ended::Final {
        kind: FailureKind::HttpStatus,
        message: format!(
            "The API answered {} when asked to {to} for ifExists: adopt: the token needs the {scope} scope.",
            answer.status
        ),
    })
}

/// Mints a new token for the adopted instance: `Ok((token, headers))`, or why not.
fn mint(
    adoption: &Adoption,
    create: &WireRequest,
    collection: &str,
    id: &str,
    name: &str,
    call: &mut Call<'_>,
) -> Result<(Value, HeaderMap), String> {
    let stamp = call
        .now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Named for the step that made it, so that a person can tell where it came from.
    let token_name = format!("{name}-adopted-{stamp}");
    let url = TargetUrl {
        path_with_query: format!("{collection}/{id}{}", adoption.mint_suffix),
        ..create.url.clone()
    };
    let body = json_text(&json!({ "name": token_name }));
    let answer = match exchange(call, create, Method::POST, url, Some(body)) {
        Ok(answer) => answer,
        Err(unanswered) => {
            return Err(format!("the token request failed: {}", unanswered.reason()));
        }
    };
    if matches!(answer.status, 401 | 403) {
        return Err(format!(
            "the API answered {} to the token request: the token needs the {} scope",
            answer.status, adoption.mint_scope
        ));
    }
    let token = json_of(&answer).and_then(|j| j.get(adoption.mint_member).cloned());
    match token {
        Some(token)
            if (200..300).contains(&answer.status)
                && token.get("value").is_some_and(Value::is_string) =>
        {
            Ok((token, answer.headers))
        }
        _ => Err(format!(
            "the token request answered {} without a token",
            answer.status
        )),
    }
}

/// An answer's body as JSON, within the bounds every answer is read with.
fn json_of(response: &WireResponse) -> Option<Value> {
    let text = std::str::from_utf8(&response.body).ok()?;
    crate::json::parse_bounded(text, BODY_JSON_LIMITS).ok()
}

/// The resource's name in a listed item: `spec.name`, else a top-level `name`.
fn name_of<'v>(operation: &Operation, item: &'v Value) -> Option<&'v str> {
    operation.answer.name_paths.iter().find_map(|path| {
        path.split('.')
            .try_fold(item, |v, key| v.get(key))
            .and_then(Value::as_str)
    })
}

/// The create's path without its query: the collection the instance is listed in.
fn collection_path(url: &TargetUrl) -> String {
    let path = url.path_with_query.split('?').next().unwrap_or("");
    path.trim_end_matches('/').to_string()
}

/// Whether `link` is an absolute URL on `origin`'s scheme, host and port.
fn same_origin(link: &str, origin: &TargetUrl) -> bool {
    let prefix = origin.to_string();
    let base = prefix
        .strip_suffix(&origin.path_with_query)
        .unwrap_or(&prefix);
    link.strip_prefix(base)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Each compared field whose value the instance has and the request set, and which differs:
/// "spec.region: tor1 requested, nyc2 found". A field either side lacks is unknown, not
/// different; fields the API fills in are not compared.
pub fn differences(
    adoption: &Adoption,
    wanted: Option<&Value>,
    found: Option<&Value>,
) -> Vec<String> {
    let mut out = vec![];
    if let (Some(wanted), Some(found)) = (wanted, found) {
        for path in adoption.compared {
            compare(path, wanted, found, String::from("spec"), &mut out);
        }
    }
    out
}

fn compare(path: &str, wanted: &Value, found: &Value, at: String, out: &mut Vec<String>) {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let (key, each) = match head.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (head, false),
    };
    let (Some(w), Some(f)) = (wanted.get(key), found.get(key)) else {
        return;
    };
    let at = format!("{at}.{key}");
    if each {
        let (Some(ws), Some(fs)) = (w.as_array(), f.as_array()) else {
            return;
        };
        if ws.len() != fs.len() {
            out.push(format!("{at}: {} requested, {} found", ws.len(), fs.len()));
            return;
        }
        for (index, (w, f)) in ws.iter().zip(fs).enumerate() {
            compare(rest, w, f, format!("{at}[{index}]"), out);
        }
    } else if !rest.is_empty() {
        compare(rest, w, f, at, out);
    } else if w != f {
        out.push(format!(
            "{at}: {} requested, {} found",
            json_text(w),
            json_text(f)
        ));
    }
}

/// The fields a person reads about the token of an adopted instance, for the step output.
pub fn adopted_fields(token_missing: Option<&str>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("adopted".into(), Value::Bool(true));
    if let Some(reason) = token_missing {
        fields.insert("tokenNotMinted".into(), Value::String(reason.to_string()));
    }
    fields
}
